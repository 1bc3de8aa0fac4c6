/*
 * mikey/mikey_encode.c - MIKEY / MIKEY-TICKET encoder
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * Writes messages, payload chains and nested structures from the data model
 * of mikey.h into a bounded buffer (struct wbuf, sticky error).  Every Next
 * Payload field is derived from the order of the payloads, so a decoded
 * message re-encodes byte for byte (mikey_decode.c is the other half).
 */
#include <string.h>

#include "mikey/mikey-int.h"

/* --------------------------------------------------------------------- */
/* Encoding */

/* wr_bytes16 - u16 length + bytes; TOO_BIG if the length does not fit */
static void
wr_bytes16(struct wbuf *w, struct mikey_bytes b)
{
	if (b.len > 0xffff) {
		w->err = MIKEY_ERR_TOO_BIG;
		return;
	}
	wbuf_u16(w, (uint16_t)b.len);
	wbuf_mem(w, b.p, b.len);
}

static void
wr_bytes8(struct wbuf *w, struct mikey_bytes b)
{
	if (b.len > 0xff) {
		w->err = MIKEY_ERR_TOO_BIG;
		return;
	}
	wbuf_u8(w, (uint8_t)b.len);
	wbuf_mem(w, b.p, b.len);
}

static void
wr_ts(struct wbuf *w, const struct mikey_pl_ts *ts)
{
	int n = mikey_ts_len(ts->ts_type);

	wbuf_u8(w, ts->ts_type);
	if (n == 8) {
		wbuf_u32(w, (uint32_t)(ts->value >> 32));
		wbuf_u32(w, (uint32_t)ts->value);
	} else if (n == 4)
		wbuf_u32(w, (uint32_t)ts->value);
	else if (!w->err)
		w->err = MIKEY_ERR_VALUE;
}

/* wr_fixed - a byte field whose length is implied by an algorithm */
static void
wr_fixed(struct wbuf *w, struct mikey_bytes b, int want)
{
	if (want < 0 || b.len != (size_t)want) {
		if (!w->err)
			w->err = MIKEY_ERR_LENGTH;
		return;
	}
	wbuf_mem(w, b.p, b.len);
}

static void
wr_kv(struct wbuf *w, uint8_t kv, const struct mikey_keydata *k)
{
	switch (kv) {
	case MIKEY_KV_NULL:
		break;
	case MIKEY_KV_SPI:
		wr_bytes8(w, k->spi);
		break;
	case MIKEY_KV_INTERVAL:
		wr_bytes8(w, k->valid_from);
		wr_bytes8(w, k->valid_to);
		break;
	default:
		if (!w->err)
			w->err = MIKEY_ERR_VALUE;
	}
}

/* wr_payload - one payload with next-payload value next */
static void
wr_payload(struct wbuf *w, const struct mikey_payload *pl, uint8_t next)
{
	const struct mikey_pl_ticket *tk;

	if (pl->type != MIKEY_PT_SIGN)
		wbuf_u8(w, next);
	switch (pl->type) {
	case MIKEY_PT_KEMAC:
		wbuf_u8(w, pl->u.kemac.encr_alg);
		wr_bytes16(w, pl->u.kemac.encr_data);
		wbuf_u8(w, pl->u.kemac.mac_alg);
		wr_fixed(w, pl->u.kemac.mac, mikey_mac_len(pl->u.kemac.mac_alg));
		break;
	case MIKEY_PT_PKE:
		if (pl->u.pke.data.len > 0x3fff || pl->u.pke.c > 3) {
			w->err = MIKEY_ERR_TOO_BIG;
			break;
		}
		wbuf_u16(w, (uint16_t)(pl->u.pke.c << 14 | pl->u.pke.data.len));
		wbuf_mem(w, pl->u.pke.data.p, pl->u.pke.data.len);
		break;
	case MIKEY_PT_DH:
		wbuf_u8(w, pl->u.dh.group);
		wr_fixed(w, pl->u.dh.value, mikey_dh_len(pl->u.dh.group));
		wbuf_u8(w, pl->u.dh.kv & 0x0f);
		wbuf_mem(w, pl->u.dh.kv_data.p, pl->u.dh.kv_data.len);
		break;
	case MIKEY_PT_SIGN:
		if (pl->u.sign.sig.len > 0x0fff || pl->u.sign.s_type > 15) {
			w->err = MIKEY_ERR_TOO_BIG;
			break;
		}
		wbuf_u16(w, (uint16_t)(pl->u.sign.s_type << 12 |
		    pl->u.sign.sig.len));
		wbuf_mem(w, pl->u.sign.sig.p, pl->u.sign.sig.len);
		break;
	case MIKEY_PT_T:
		wr_ts(w, &pl->u.ts);
		break;
	case MIKEY_PT_TR:
		wbuf_u8(w, pl->u.ts.role);
		wr_ts(w, &pl->u.ts);
		break;
	case MIKEY_PT_IDR:
		wbuf_u8(w, pl->u.id.role);
		FALLTHROUGH;
	case MIKEY_PT_ID:
	case MIKEY_PT_CERT:
		wbuf_u8(w, pl->u.id.type);
		wr_bytes16(w, pl->u.id.data);
		break;
	case MIKEY_PT_CHASH:
		wbuf_u8(w, pl->u.chash.func);
		wr_fixed(w, pl->u.chash.hash, mikey_hash_len(pl->u.chash.func));
		break;
	case MIKEY_PT_V:
		wbuf_u8(w, pl->u.v.alg);
		wr_fixed(w, pl->u.v.mac, mikey_mac_len(pl->u.v.alg));
		break;
	case MIKEY_PT_SP:
		wbuf_u8(w, pl->u.sp.policy_no);
		wbuf_u8(w, pl->u.sp.prot_type);
		wr_bytes16(w, pl->u.sp.params);
		break;
	case MIKEY_PT_RANDR:
		wbuf_u8(w, pl->u.rand.role);
		FALLTHROUGH;
	case MIKEY_PT_RAND:
		if (pl->u.rand.rand.len == 0 && !w->err)
			w->err = MIKEY_ERR_LENGTH;
		wr_bytes8(w, pl->u.rand.rand);
		break;
	case MIKEY_PT_ERR:
		wbuf_u8(w, pl->u.err.errno_);
		wbuf_u16(w, pl->u.err.reserved);
		break;
	case MIKEY_PT_TP:
	case MIKEY_PT_TICKET:
		tk = &pl->u.ticket;
		if (tk->prf_func > 0x7f || (tk->flags & ~MIKEY_TPF_ALL)) {
			w->err = MIKEY_ERR_VALUE;
			break;
		}
		wbuf_u16(w, tk->ticket_type);
		wbuf_u8(w, tk->subtype);
		wbuf_u8(w, tk->version);
		wbuf_u8(w, (uint8_t)(tk->prf_func << 1 |
		    (tk->flags & MIKEY_TPF_D ? 1 : 0)));
		wbuf_u8(w, (uint8_t)(tk->flags >> 8));
		wbuf_u8(w, (uint8_t)(tk->flags & 0xe0));
		wr_bytes16(w, tk->tp_data);
		if (pl->type == MIKEY_PT_TICKET) {
			wr_bytes16(w, tk->ticket_data);
			wr_bytes16(w, tk->init_data);
		}
		break;
	case MIKEY_PT_GEXT:
		wbuf_u8(w, pl->u.gext.type);
		wr_bytes16(w, pl->u.gext.data);
		break;
	case MIKEY_PT_SAKKE:
		wbuf_u8(w, pl->u.sakke.params);
		wbuf_u8(w, pl->u.sakke.id_scheme);
		wr_bytes16(w, pl->u.sakke.data);
		break;
	default:
		if (!w->err)
			w->err = MIKEY_ERR_PAYLOAD_TYPE;
	}
}

/* wr_chain - payloads with their next-payload fields */
static void
wr_chain(struct wbuf *w, const struct mikey_chain *ch)
{
	size_t i;

	if (ch->n > MIKEY_MAX_PAYLOADS) {
		w->err = MIKEY_ERR_TOO_MANY;
		return;
	}
	for (i = 0; i < ch->n; i++) {
		if (ch->pl[i].type == MIKEY_PT_SIGN && i + 1 != ch->n) {
			w->err = MIKEY_ERR_STRUCTURE;	/* SIGN is last */
			return;
		}
		wr_payload(w, &ch->pl[i], i + 1 < ch->n ?
		    ch->pl[i + 1].type : MIKEY_PT_LAST);
	}
}

/* wr_hdr - the common header and its CS ID map */
static void
wr_hdr(struct wbuf *w, const struct mikey_hdr *h, uint8_t first)
{
	size_t i;

	if (h->ncs > MIKEY_MAX_CS || h->prf_func > 0x7f) {
		w->err = MIKEY_ERR_TOO_MANY;
		return;
	}
	wbuf_u8(w, h->version);
	wbuf_u8(w, h->data_type);
	wbuf_u8(w, first);
	wbuf_u8(w, (uint8_t)((h->v_flag ? 0x80 : 0) | h->prf_func));
	wbuf_u32(w, h->csb_id);
	wbuf_u8(w, h->ncs);
	wbuf_u8(w, h->map_type);
	for (i = 0; i < h->ncs; i++) {
		const struct mikey_cs *cs = &h->cs[i];

		switch (h->map_type) {
		case MIKEY_MAP_SRTP:
			wbuf_u8(w, cs->policy_no);
			wbuf_u32(w, cs->ssrc);
			wbuf_u32(w, cs->roc);
			break;
		case MIKEY_MAP_EMPTY:
			break;
		case MIKEY_MAP_GENERIC:
			if (cs->ps.len > 0x7f) {
				w->err = MIKEY_ERR_TOO_MANY;
				return;
			}
			wbuf_u8(w, cs->cs_id);
			wbuf_u8(w, cs->prot_type);
			wbuf_u8(w, (uint8_t)((cs->s_flag ? 0x80 : 0) |
			    cs->ps.len));
			wbuf_mem(w, cs->ps.p, cs->ps.len);
			wr_bytes16(w, cs->session_data);
			wr_bytes8(w, cs->spi);
			break;
		default:
			w->err = MIKEY_ERR_VALUE;
			return;
		}
	}
}

int
mikey_msg_encode(const struct mikey_msg *msg, uint8_t *out, size_t cap,
    size_t *len_out)
{
	struct wbuf w;

	wbuf_init(&w, out, cap > MIKEY_MAX_MSG ? MIKEY_MAX_MSG : cap);
	wr_hdr(&w, &msg->hdr, msg->body.n ? msg->body.pl[0].type :
	    MIKEY_PT_LAST);
	wr_chain(&w, &msg->body);
	return wbuf_done(&w, len_out);
}

int
mikey_chain_encode(const struct mikey_chain *ch, uint8_t *out, size_t cap,
    size_t *len_out)
{
	struct wbuf w;

	wbuf_init(&w, out, cap);
	wr_chain(&w, ch);
	return wbuf_done(&w, len_out);
}

int
mikey_tpdata_encode(const struct mikey_chain *ch, uint8_t *out, size_t cap,
    size_t *len_out)
{
	struct wbuf w;

	wbuf_init(&w, out, cap);
	wbuf_u8(&w, ch->n ? ch->pl[0].type : MIKEY_PT_LAST);
	wr_chain(&w, ch);
	return wbuf_done(&w, len_out);
}

int
mikey_ticketdata_encode(struct mikey_bytes thdr, const struct mikey_chain *ch,
    uint8_t *out, size_t cap, size_t *len_out)
{
	struct wbuf w;

	wbuf_init(&w, out, cap);
	wbuf_u8(&w, ch->n ? ch->pl[0].type : MIKEY_PT_LAST);
	wr_bytes16(&w, thdr);
	wr_chain(&w, ch);
	return wbuf_done(&w, len_out);
}

int
mikey_keydata_encode(const struct mikey_keydata *kd, size_t n, uint8_t *out,
    size_t cap, size_t *len_out)
{
	struct wbuf w;
	size_t i;

	wbuf_init(&w, out, cap);
	for (i = 0; i < n; i++) {
		const struct mikey_keydata *k = &kd[i];

		if (k->type > 15 || k->kv > 15) {
			w.err = MIKEY_ERR_VALUE;
			break;
		}
		wbuf_u8(&w, i + 1 < n ? MIKEY_PT_KEYDATA : MIKEY_PT_LAST);
		wbuf_u8(&w, (uint8_t)(k->type << 4 | k->kv));
		wr_bytes16(&w, k->key);
		if (k->type == MIKEY_KEY_TGK_SALT ||
		    k->type == MIKEY_KEY_TEK_SALT ||
		    k->type == MIKEY_KEY_GTGK_SALT)
			wr_bytes16(&w, k->salt);
		wr_kv(&w, k->kv, k);
	}
	return wbuf_done(&w, len_out);
}

int
mikey_sp_params_encode(const struct mikey_sp_param *p, size_t n, uint8_t *out,
    size_t cap, size_t *len_out)
{
	struct wbuf w;
	size_t i;

	wbuf_init(&w, out, cap);
	for (i = 0; i < n; i++) {
		wbuf_u8(&w, p[i].type);
		wr_bytes8(&w, p[i].value);
	}
	return wbuf_done(&w, len_out);
}


int
mikey_payload_encode(const struct mikey_payload *pl, uint8_t np, uint8_t *out,
    size_t cap, size_t *len_out)
{
	struct wbuf w;

	wbuf_init(&w, out, cap);
	wr_payload(&w, pl, np);
	return wbuf_done(&w, len_out);
}
