/*
 * mikey/mikey_decode.c - MIKEY / MIKEY-TICKET decoder (and chain helpers)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	One decoder walks any payload chain (a message body, TP Data, Ticket
 *	Data, Initiator Data): each payload's layout is known, so its length
 *	follows from its own fields (RFC 3830 5.2: there is no generic length
 *	field, an unknown type stops the walk and is an error).  Every length
 *	is checked against the bytes that remain before it is used; every
 *	enumerated field is checked against the values the RFCs define, so a
 *	reserved or unknown value is reported with the field's name and
 *	offset.  Decoding does not allocate: byte fields alias the input.
 *
 *	The encoder (mikey_encode.c) writes from the same structures, so
 *	decode -> encode reproduces the input byte for byte.
 */
#include <string.h>

#include "mikey/mikey-int.h"

/* A read cursor over one buffer. */
struct rd {
	const uint8_t		*p;
	size_t			 len;
	size_t			 pos;
	struct mikey_diag	*diag;
	int			 pt;		/* payload being read */
};

/* fail - record where and why decoding stopped; returns err */
static int
fail(struct rd *r, int err, const char *field)
{
	if (r->diag != NULL) {
		r->diag->err = err;
		r->diag->offset = r->pos;
		r->diag->payload = r->pt;
		r->diag->field = field;
	}
	return err;
}

#define NEED(r, n, field) do {						\
	if ((r)->len - (r)->pos < (size_t)(n))				\
		return fail((r), MIKEY_ERR_TRUNCATED, (field));		\
} while (0)

/* take - alias the next n bytes (n already checked with NEED) */
static struct mikey_bytes
take(struct rd *r, size_t n)
{
	struct mikey_bytes b;

	b.p = r->p + r->pos;
	b.len = n;
	r->pos += n;
	return b;
}

static uint8_t
rd8(struct rd *r)
{
	return r->p[r->pos++];
}

static uint16_t
rd16(struct rd *r)
{
	uint16_t v = ld16(r->p + r->pos);

	r->pos += 2;
	return v;
}

static uint32_t
rd32(struct rd *r)
{
	uint32_t v = ld32(r->p + r->pos);

	r->pos += 4;
	return v;
}

/* Which values are defined (spec/mikey-ticket.md section 4). */
static int
known_prot(uint8_t prot)
{
	/* 0 SRTP (RFC 3830 6.10); 241 is imgate's private-use value for a
	 * CMS (S/MIME) crypto session, within the 241-255 private range. */
	return prot == 0 || prot == MIKEY_PROT_IMGATE_CMS;
}

int
mikey_ts_len(uint8_t ts_type)
{
	switch (ts_type) {
	case MIKEY_TS_NTP_UTC:
	case MIKEY_TS_NTP:
		return 8;
	case MIKEY_TS_COUNTER:
	case MIKEY_TS_NTP_UTC_32:
		return 4;
	}
	return -1;
}

int
mikey_mac_len(uint8_t alg)
{
	switch (alg) {
	case MIKEY_MAC_NULL:
		return 0;
	case MIKEY_MAC_HMAC_SHA1_160:
		return 20;
	case MIKEY_MAC_HMAC_SHA256_256:
		return 32;
	}
	return -1;
}

int
mikey_hash_len(uint8_t func)
{
	switch (func) {
	case MIKEY_HASH_SHA1:
		return 20;
	case MIKEY_HASH_MD5:
		return 16;
	case MIKEY_HASH_SHA256:
		return 32;
	}
	return -1;
}

int
mikey_dh_len(uint8_t group)
{
	switch (group) {
	case 0:
		return 192;
	case 1:
		return 96;
	case 2:
		return 128;
	}
	return -1;
}

/* rd_ts - TS type + value (T, TR) */
static int
rd_ts(struct rd *r, struct mikey_pl_ts *ts)
{
	int n;

	NEED(r, 1, "TS type");
	ts->ts_type = rd8(r);
	n = mikey_ts_len(ts->ts_type);
	if (n < 0) {
		r->pos--;
		return fail(r, MIKEY_ERR_VALUE, "TS type");
	}
	NEED(r, n, "TS value");
	ts->value = n == 8 ? ld64(r->p + r->pos) : ld32(r->p + r->pos);
	r->pos += (size_t)n;
	return 0;
}

/* rd_kv - KV data of a key data sub-payload or a DH payload */
static int
rd_kv(struct rd *r, uint8_t kv, struct mikey_keydata *kd)
{
	uint8_t n;

	switch (kv) {
	case MIKEY_KV_NULL:
		return 0;
	case MIKEY_KV_SPI:
		NEED(r, 1, "SPI length");
		n = rd8(r);
		NEED(r, n, "SPI");
		kd->spi = take(r, n);
		return 0;
	case MIKEY_KV_INTERVAL:
		NEED(r, 1, "VF length");
		n = rd8(r);
		NEED(r, n, "Valid From");
		kd->valid_from = take(r, n);
		NEED(r, 1, "VT length");
		n = rd8(r);
		NEED(r, n, "Valid To");
		kd->valid_to = take(r, n);
		return 0;
	}
	return fail(r, MIKEY_ERR_VALUE, "KV");
}

/* rd_payload - decode one payload of type t at r->pos; *next gets its NP */
static int
rd_payload(struct rd *r, uint8_t t, struct mikey_payload *pl, uint8_t *next)
{
	size_t start = r->pos;
	uint16_t n16;
	uint8_t b;
	int n;

	memset(pl, 0, sizeof(*pl));
	pl->type = t;
	pl->off = start;
	r->pt = t;
	/* an unknown type cannot be walked (RFC 3830 5.2): say so first */
	if (t == MIKEY_PT_KEYDATA || t == MIKEY_PT_LAST ||
	    mikey_payload_name(t)[0] == '?')
		return fail(r, MIKEY_ERR_PAYLOAD_TYPE, "Next payload");
	if (t != MIKEY_PT_SIGN) {
		NEED(r, 1, "Next payload");
		*next = rd8(r);
	} else
		*next = MIKEY_PT_LAST;

	switch (t) {
	case MIKEY_PT_KEMAC:
		NEED(r, 3, "Encr alg / Encr data len");
		pl->u.kemac.encr_alg = rd8(r);
		if (pl->u.kemac.encr_alg > MIKEY_ENCR_AES_CM_256) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "Encr alg");
		}
		n16 = rd16(r);
		NEED(r, n16, "Encr data");
		pl->u.kemac.encr_data = take(r, n16);
		NEED(r, 1, "MAC alg");
		pl->u.kemac.mac_alg = rd8(r);
		n = mikey_mac_len(pl->u.kemac.mac_alg);
		if (n < 0) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "MAC alg");
		}
		NEED(r, n, "MAC");
		pl->mac_off = r->pos;
		pl->u.kemac.mac = take(r, (size_t)n);
		break;
	case MIKEY_PT_PKE:
		NEED(r, 2, "C / Data len");
		n16 = rd16(r);
		pl->u.pke.c = (uint8_t)(n16 >> 14);
		if (pl->u.pke.c > 2) {
			r->pos -= 2;
			return fail(r, MIKEY_ERR_VALUE, "C (envelope key cache)");
		}
		n16 &= 0x3fff;
		NEED(r, n16, "Data");
		pl->u.pke.data = take(r, n16);
		break;
	case MIKEY_PT_DH:
		NEED(r, 1, "DH-Group");
		pl->u.dh.group = rd8(r);
		n = mikey_dh_len(pl->u.dh.group);
		if (n < 0) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "DH-Group");
		}
		NEED(r, n, "DH-value");
		pl->u.dh.value = take(r, (size_t)n);
		NEED(r, 1, "Reserv / KV");
		b = rd8(r);
		if (b & 0xf0) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "Reserv");
		}
		pl->u.dh.kv = b & 0x0f;
		{
			struct mikey_keydata kd;
			size_t kvs = r->pos;
			int rc;

			memset(&kd, 0, sizeof(kd));
			if ((rc = rd_kv(r, pl->u.dh.kv, &kd)) != 0)
				return rc;
			pl->u.dh.kv_data.p = r->p + kvs;
			pl->u.dh.kv_data.len = r->pos - kvs;
		}
		break;
	case MIKEY_PT_SIGN:
		NEED(r, 2, "S type / Signature len");
		n16 = rd16(r);
		pl->u.sign.s_type = (uint8_t)(n16 >> 12);
		if (pl->u.sign.s_type > MIKEY_SIGN_ECCSI) {
			r->pos -= 2;
			return fail(r, MIKEY_ERR_VALUE, "S type");
		}
		n16 &= 0x0fff;
		NEED(r, n16, "Signature");
		pl->mac_off = r->pos;
		pl->u.sign.sig = take(r, n16);
		break;
	case MIKEY_PT_T: {
		int rc = rd_ts(r, &pl->u.ts);

		if (rc != 0)
			return rc;
		break;
	}
	case MIKEY_PT_TR:
		NEED(r, 1, "TS Role");
		pl->u.ts.role = rd8(r);
		if (pl->u.ts.role < MIKEY_TSR_ISSUE ||
		    pl->u.ts.role > MIKEY_TSR_REKEY) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "TS Role");
		}
		{
			int rc = rd_ts(r, &pl->u.ts);

			if (rc != 0)
				return rc;
		}
		break;
	case MIKEY_PT_ID:
	case MIKEY_PT_IDR:
	case MIKEY_PT_CERT:
		if (t == MIKEY_PT_IDR) {
			NEED(r, 1, "ID Role");
			pl->u.id.role = rd8(r);
			if (pl->u.id.role < MIKEY_ROLE_I ||
			    pl->u.id.role > MIKEY_ROLE_KMSR) {
				r->pos--;
				return fail(r, MIKEY_ERR_VALUE, "ID Role");
			}
		}
		NEED(r, 1, t == MIKEY_PT_CERT ? "Cert type" : "ID type");
		pl->u.id.type = rd8(r);
		if (pl->u.id.type > (t == MIKEY_PT_CERT ?
		    MIKEY_CERT_X509_ENCR : MIKEY_ID_BYTES)) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, t == MIKEY_PT_CERT ?
			    "Cert type" : "ID type");
		}
		NEED(r, 2, "length");
		n16 = rd16(r);
		NEED(r, n16, t == MIKEY_PT_CERT ? "Certificate" : "ID data");
		pl->u.id.data = take(r, n16);
		break;
	case MIKEY_PT_CHASH:
		NEED(r, 1, "Hash func");
		pl->u.chash.func = rd8(r);
		n = mikey_hash_len(pl->u.chash.func);
		if (n < 0) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "Hash func");
		}
		NEED(r, n, "Hash");
		pl->u.chash.hash = take(r, (size_t)n);
		break;
	case MIKEY_PT_V:
		NEED(r, 1, "Auth alg");
		pl->u.v.alg = rd8(r);
		n = mikey_mac_len(pl->u.v.alg);
		if (n < 0) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "Auth alg");
		}
		NEED(r, n, "Ver data");
		pl->mac_off = r->pos;
		pl->u.v.mac = take(r, (size_t)n);
		break;
	case MIKEY_PT_SP:
		NEED(r, 4, "Policy no / Prot type / Policy param length");
		pl->u.sp.policy_no = rd8(r);
		pl->u.sp.prot_type = rd8(r);
		if (!known_prot(pl->u.sp.prot_type)) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "Prot type");
		}
		n16 = rd16(r);
		NEED(r, n16, "Policy param");
		pl->u.sp.params = take(r, n16);
		{
			struct mikey_sp_param sp[MIKEY_MAX_SPPARAMS];
			size_t np;
			int rc = mikey_sp_params_decode(pl->u.sp.params, sp,
			    MIKEY_MAX_SPPARAMS, &np, NULL);

			if (rc != 0) {
				r->pos -= n16;
				return fail(r, rc, "Policy param");
			}
			size_t i;

			/* parameter types are checked by the name table */
			for (i = 0; i < np; i++)
				if (mikey_sp_param_name(pl->u.sp.prot_type,
				    sp[i].type)[0] == '?') {
					r->pos -= n16;
					return fail(r, MIKEY_ERR_VALUE,
					    "policy param type");
				}
		}
		break;
	case MIKEY_PT_RAND:
	case MIKEY_PT_RANDR:
		if (t == MIKEY_PT_RANDR) {
			NEED(r, 1, "RAND Role");
			pl->u.rand.role = rd8(r);
			if (pl->u.rand.role < MIKEY_RAND_I ||
			    pl->u.rand.role > MIKEY_RAND_KMS) {
				r->pos--;
				return fail(r, MIKEY_ERR_VALUE, "RAND Role");
			}
		}
		NEED(r, 1, "RAND len");
		b = rd8(r);
		if (b == 0) {
			r->pos--;
			return fail(r, MIKEY_ERR_LENGTH, "RAND len");
		}
		NEED(r, b, "RAND");
		pl->u.rand.rand = take(r, b);
		break;
	case MIKEY_PT_ERR:
		NEED(r, 3, "Error no / Reserved");
		pl->u.err.errno_ = rd8(r);
		if (pl->u.err.errno_ > MIKEY_EN_TPPAR) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "Error no");
		}
		pl->u.err.reserved = rd16(r);
		if (pl->u.err.reserved != 0) {
			r->pos -= 2;
			return fail(r, MIKEY_ERR_VALUE, "Reserved");
		}
		break;
	case MIKEY_PT_TP:
	case MIKEY_PT_TICKET: {
		struct mikey_pl_ticket *tk = &pl->u.ticket;

		NEED(r, 9, "Ticket Type .. TP Data length");
		tk->ticket_type = rd16(r);
		if (tk->ticket_type != MIKEY_TICKET_BASE &&
		    tk->ticket_type != MIKEY_TICKET_3GPP) {
			r->pos -= 2;
			return fail(r, MIKEY_ERR_VALUE, "Ticket Type");
		}
		tk->subtype = rd8(r);
		tk->version = rd8(r);
		if (tk->ticket_type == MIKEY_TICKET_BASE &&
		    (tk->subtype != 1 || tk->version != 1)) {
			r->pos -= 2;
			return fail(r, MIKEY_ERR_VALUE,
			    "Subtype/Version of the MIKEY base ticket");
		}
		b = rd8(r);
		tk->prf_func = b >> 1;
		if (tk->prf_func > MIKEY_PRF_HMAC_SHA256) {
			r->pos--;
			return fail(r, MIKEY_ERR_PRF, "PRF Func");
		}
		tk->flags = (b & 1) ? MIKEY_TPF_D : 0;
		tk->flags |= (uint32_t)rd8(r) << 8;
		b = rd8(r);
		if (b & 0x1f) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "Res");
		}
		tk->flags |= b;
		n16 = rd16(r);
		NEED(r, n16, "TP Data");
		tk->tp_data = take(r, n16);
		if (t == MIKEY_PT_TP)
			break;
		NEED(r, 2, "Ticket Data length");
		n16 = rd16(r);
		NEED(r, n16, "Ticket Data");
		tk->ticket_data = take(r, n16);
		NEED(r, 2, "Initiator Data length");
		n16 = rd16(r);
		NEED(r, n16, "Initiator Data");
		tk->init_data = take(r, n16);
		break;
	}
	case MIKEY_PT_GEXT:
		NEED(r, 3, "Type / Length");
		pl->u.gext.type = rd8(r);
		if (pl->u.gext.type != 0 && pl->u.gext.type != 1 &&
		    pl->u.gext.type != 3 && pl->u.gext.type != 5) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "General Extension type");
		}
		n16 = rd16(r);
		NEED(r, n16, "Data");
		pl->u.gext.data = take(r, n16);
		break;
	case MIKEY_PT_SAKKE:
		NEED(r, 4, "SAKKE params / ID scheme / length");
		pl->u.sakke.params = rd8(r);
		if (pl->u.sakke.params != 1) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "SAKKE params");
		}
		pl->u.sakke.id_scheme = rd8(r);
		if (pl->u.sakke.id_scheme != 1) {
			r->pos--;
			return fail(r, MIKEY_ERR_VALUE, "ID scheme");
		}
		n16 = rd16(r);
		NEED(r, n16, "SAKKE data");
		pl->u.sakke.data = take(r, n16);
		break;
	default:
		r->pos = start;
		return fail(r, MIKEY_ERR_PAYLOAD_TYPE, "Next payload");
	}
	pl->len = r->pos - start;
	return 0;
}

/* rd_chain - decode payloads starting with type first until NP = 0 */
static int
rd_chain(struct rd *r, uint8_t first, struct mikey_chain *ch)
{
	uint8_t t = first, next;
	int rc;

	ch->n = 0;
	while (t != MIKEY_PT_LAST) {
		if (ch->n == MIKEY_MAX_PAYLOADS)
			return fail(r, MIKEY_ERR_TOO_MANY, "payload count");
		if ((rc = rd_payload(r, t, &ch->pl[ch->n], &next)) != 0)
			return rc;
		ch->n++;
		if (t == MIKEY_PT_SIGN)
			break;	/* SIGN has no NP and is always last */
		t = next;
	}
	return 0;
}

/* rd_map - the CS ID map info of the HDR */
static int
rd_map(struct rd *r, struct mikey_hdr *h)
{
	size_t i;

	if (h->ncs > MIKEY_MAX_CS)
		return fail(r, MIKEY_ERR_TOO_MANY, "#CS");
	for (i = 0; i < h->ncs; i++) {
		struct mikey_cs *cs = &h->cs[i];
		uint16_t n16;
		uint8_t b, np;

		switch (h->map_type) {
		case MIKEY_MAP_SRTP:
			NEED(r, 9, "SRTP-ID map entry");
			cs->cs_id = (uint8_t)(i + 1);
			cs->policy_no = rd8(r);
			cs->ssrc = rd32(r);
			cs->roc = rd32(r);
			break;
		case MIKEY_MAP_EMPTY:
			return 0;
		case MIKEY_MAP_GENERIC:
			NEED(r, 3, "GENERIC-ID CS ID / Prot type / #P");
			cs->cs_id = rd8(r);
			cs->prot_type = rd8(r);
			if (!known_prot(cs->prot_type)) {
				r->pos--;
				return fail(r, MIKEY_ERR_VALUE,
				    "GENERIC-ID Prot type");
			}
			b = rd8(r);
			cs->s_flag = b >> 7;
			np = b & 0x7f;
			NEED(r, np, "GENERIC-ID Ps");
			cs->ps = take(r, np);
			NEED(r, 2, "Session Data Length");
			n16 = rd16(r);
			if (cs->prot_type == 0 && n16 != 0 &&
			    n16 != (cs->s_flag ? 10 : 4)) {
				r->pos -= 2;
				return fail(r, MIKEY_ERR_LENGTH,
				    "SRTP Session Data Length");
			}
			NEED(r, n16, "Session Data");
			cs->session_data = take(r, n16);
			NEED(r, 1, "SPI Length");
			b = rd8(r);
			NEED(r, b, "SPI");
			cs->spi = take(r, b);
			break;
		}
	}
	return 0;
}

/* known_data_type - data types this codec decodes */
static int
known_data_type(uint8_t dt)
{
	return dt <= MIKEY_DT_RESOLVE_RESP || dt == 26;
}

int
mikey_msg_decode(const uint8_t *buf, size_t len, struct mikey_msg *msg,
    struct mikey_diag *diag)
{
	struct rd r = { buf, len, 0, diag, -1 };
	struct mikey_hdr *h = &msg->hdr;
	uint8_t first, b;
	int rc;

	memset(h, 0, sizeof(*h));
	msg->body.n = 0;
	msg->raw.p = buf;
	msg->raw.len = len;
	if (buf == NULL && len != 0)
		return fail(&r, MIKEY_ERR_INVAL, "buffer");
	if (len > MIKEY_MAX_MSG)
		return fail(&r, MIKEY_ERR_TOO_BIG, "message length");
	NEED(&r, 10, "HDR");
	h->version = rd8(&r);
	if (h->version != 1) {
		r.pos--;
		return fail(&r, MIKEY_ERR_VERSION, "version");
	}
	h->data_type = rd8(&r);
	if (!known_data_type(h->data_type)) {
		r.pos--;
		return fail(&r, MIKEY_ERR_DATA_TYPE, "data type");
	}
	first = rd8(&r);
	b = rd8(&r);
	h->v_flag = b >> 7;
	h->prf_func = b & 0x7f;
	if (h->prf_func > MIKEY_PRF_HMAC_SHA256) {
		r.pos--;
		return fail(&r, MIKEY_ERR_PRF, "PRF func");
	}
	h->csb_id = rd32(&r);
	h->ncs = rd8(&r);
	h->map_type = rd8(&r);
	if (h->map_type > MIKEY_MAP_GENERIC) {
		r.pos--;
		return fail(&r, MIKEY_ERR_VALUE, "CS ID map type");
	}
	if ((rc = rd_map(&r, h)) != 0)
		return rc;
	if ((rc = rd_chain(&r, first, &msg->body)) != 0)
		return rc;
	if (r.pos != r.len) {
		r.pt = -1;
		return fail(&r, MIKEY_ERR_TRAILING, "after last payload");
	}
	return 0;
}

int
mikey_chain_decode(uint8_t first, const uint8_t *buf, size_t len,
    struct mikey_chain *ch, struct mikey_diag *diag)
{
	struct rd r = { buf, len, 0, diag, -2 };
	int rc;

	ch->n = 0;
	if (buf == NULL && len != 0)
		return fail(&r, MIKEY_ERR_INVAL, "buffer");
	if ((rc = rd_chain(&r, first, ch)) != 0)
		return rc;
	if (r.pos != r.len) {
		r.pt = -2;
		return fail(&r, MIKEY_ERR_TRAILING, "after last payload");
	}
	return 0;
}

int
mikey_tpdata_decode(struct mikey_bytes tp, struct mikey_chain *ch,
    struct mikey_diag *diag)
{
	struct rd r = { tp.p, tp.len, 0, diag, -2 };
	int rc;

	ch->n = 0;
	NEED(&r, 1, "first payload");
	rc = mikey_chain_decode(tp.p[0], tp.p + 1, tp.len - 1, ch, diag);
	if (rc != 0 && diag != NULL)
		diag->offset += 1;
	/* offsets in ch are relative to tp.p + 1 */
	return rc;
}

int
mikey_ticketdata_decode(struct mikey_bytes td, struct mikey_bytes *thdr_out,
    struct mikey_chain *ch, struct mikey_diag *diag)
{
	struct rd r = { td.p, td.len, 0, diag, -2 };
	struct mikey_bytes thdr;
	uint8_t first;
	uint16_t n16;
	int rc;

	ch->n = 0;
	NEED(&r, 3, "THDR");
	first = rd8(&r);
	n16 = rd16(&r);
	NEED(&r, n16, "THDR Data");
	thdr = take(&r, n16);
	rc = mikey_chain_decode(first, td.p + r.pos, td.len - r.pos, ch, diag);
	if (rc != 0) {
		if (diag != NULL)
			diag->offset += r.pos;
		return rc;
	}
	*thdr_out = thdr;
	return 0;
}

int
mikey_keydata_decode(const uint8_t *buf, size_t len, struct mikey_keydata *kd,
    size_t max, size_t *n_out, struct mikey_diag *diag)
{
	struct rd r = { buf, len, 0, diag, MIKEY_PT_KEYDATA };
	uint8_t next = len ? MIKEY_PT_KEYDATA : MIKEY_PT_LAST, b;
	size_t n = 0;
	uint16_t n16;
	int rc;

	while (next != MIKEY_PT_LAST) {
		struct mikey_keydata *k;

		if (next != MIKEY_PT_KEYDATA)
			return fail(&r, MIKEY_ERR_PAYLOAD_TYPE,
			    "Next payload in key data");
		if (n == max)
			return fail(&r, MIKEY_ERR_TOO_MANY, "key data count");
		k = &kd[n];
		memset(k, 0, sizeof(*k));
		NEED(&r, 4, "Next payload / Type / KV / Key data len");
		next = rd8(&r);
		b = rd8(&r);
		k->type = b >> 4;
		k->kv = b & 0x0f;
		if (k->type > MIKEY_KEY_MPK) {
			r.pos--;
			return fail(&r, MIKEY_ERR_VALUE, "Key data Type");
		}
		if (k->kv > MIKEY_KV_INTERVAL) {
			r.pos--;
			return fail(&r, MIKEY_ERR_VALUE, "KV");
		}
		n16 = rd16(&r);
		NEED(&r, n16, "Key data");
		k->key = take(&r, n16);
		if (k->type == MIKEY_KEY_TGK_SALT ||
		    k->type == MIKEY_KEY_TEK_SALT ||
		    k->type == MIKEY_KEY_GTGK_SALT) {
			NEED(&r, 2, "Salt len");
			n16 = rd16(&r);
			NEED(&r, n16, "Salt data");
			k->salt = take(&r, n16);
		}
		if ((rc = rd_kv(&r, k->kv, k)) != 0)
			return rc;
		n++;
	}
	if (r.pos != r.len)
		return fail(&r, MIKEY_ERR_TRAILING, "after last key data");
	*n_out = n;
	return 0;
}

int
mikey_sp_params_decode(struct mikey_bytes params, struct mikey_sp_param *p,
    size_t max, size_t *n_out, struct mikey_diag *diag)
{
	struct rd r = { params.p, params.len, 0, diag, MIKEY_PT_SP };
	size_t n = 0;
	uint8_t l;

	while (r.pos < r.len) {
		if (n == max)
			return fail(&r, MIKEY_ERR_TOO_MANY, "policy param count");
		NEED(&r, 2, "policy param Type / Length");
		p[n].type = rd8(&r);
		l = rd8(&r);
		NEED(&r, l, "policy param Value");
		p[n].value = take(&r, l);
		n++;
	}
	*n_out = n;
	return 0;
}

/* --------------------------------------------------------------------- */
/* Chain helpers */

const struct mikey_payload *
mikey_chain_find(const struct mikey_chain *ch, uint8_t type, int role,
    size_t nth)
{
	size_t i;

	for (i = 0; i < ch->n; i++) {
		const struct mikey_payload *pl = &ch->pl[i];

		if (pl->type != type)
			continue;
		if (role >= 0) {
			int r = -1;

			if (type == MIKEY_PT_IDR)
				r = pl->u.id.role;
			else if (type == MIKEY_PT_RANDR)
				r = pl->u.rand.role;
			else if (type == MIKEY_PT_TR)
				r = pl->u.ts.role;
			if (r != role)
				continue;
		}
		if (nth-- == 0)
			return pl;
	}
	return NULL;
}

struct mikey_payload *
mikey_chain_add(struct mikey_chain *ch, uint8_t type)
{
	struct mikey_payload *pl;

	if (ch->n >= MIKEY_MAX_PAYLOADS)
		return NULL;
	pl = &ch->pl[ch->n++];
	memset(pl, 0, sizeof(*pl));
	pl->type = type;
	return pl;
}

int
mikey_payload_decode(uint8_t t, const uint8_t *buf, size_t len,
    struct mikey_payload *pl, struct mikey_diag *diag)
{
	struct rd r = { buf, len, 0, diag, -2 };
	uint8_t next;
	int rc;

	if (buf == NULL)
		return fail(&r, MIKEY_ERR_INVAL, "buffer");
	if ((rc = rd_payload(&r, t, pl, &next)) != 0)
		return rc;
	if (r.pos != r.len)
		return fail(&r, MIKEY_ERR_TRAILING, "after the payload");
	return 0;
}
