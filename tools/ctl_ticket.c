/*
 * tools/ctl_ticket.c - "imgatectl ticket": request, transfer, resolve tickets
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	The three exchanges of MIKEY-TICKET (RFC 6043 4.2) by hand, against
 *	a running imgate-kms (kms/FORMATS.md section 1), with the library's
 *	role functions exactly as the gateway will call them:
 *
 *	  request   REQUEST_INIT_PSK --HTTP--> KMS --> REQUEST_RESP;
 *	            the ticket and its keys go to a ticket file (FORMATS.md
 *	            section 5, mode 0600)
 *	  transfer  ticket file --> TRANSFER_INIT (one crypto session, CS ID
 *	            1, prot type 241 imgate CMS), no network
 *	  resolve   TRANSFER_INIT or ticket file --> RESOLVE_INIT_PSK
 *	            --HTTP--> KMS --> RESOLVE_RESP, which also verifies the
 *	            TRANSFER_INIT (so its sender is the ticket's IDRi)
 *
 *	transfer and resolve print the SHA-256 fingerprint of the TEK of
 *	crypto session 1, so that a test can check that both ends agree
 *	without either printing a key.  A TEK is CTL_TEK_LEN bytes: the
 *	AES-256 content key of a CMS body.
 *
 *	Acting for another identity (--for): the library puts one identity
 *	in both the message's IDRi and the desired policy, so the request
 *	carries IDRi = --for and IDRpsk = --id: the KMS takes the PSK (and
 *	the requester whose act_for it checks) from IDRpsk (FORMATS.md
 *	section 5).
 *
 *	The resolver keeps no replay cache: it is a test and diagnosis tool,
 *	and the same TRANSFER_INIT may be resolved again on purpose.
 *
 * SECURITY
 *	This process holds a user's PSK and, after a request, the ticket's
 *	keys (MPKi, TGK).  Core dumps are switched off, every buffer that
 *	held key bytes is wiped (one heap block, OPENSSL_clear_free), and
 *	keys are printed only as fingerprints unless --show-keys is given.
 *	The ticket file holds the keys in clear: it is written with mode
 *	0600.  Answers from the network are bounded (CTL_HTTP_MAX_BODY) and
 *	verified (V under the PSK) before anything in them is believed;
 *	text from an error body is escaped before it reaches the terminal.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "mikey/mikey.h"
#include "tools/ctl.h"

#define CTL_TEK_LEN	32		/* TEK for an AES-256 CMS body */
#define CTL_CS_ID	1		/* the one crypto session */
#define TICKET_FILE_MAX	(64 * 1024)	/* bytes of a ticket file */
#define DEFAULT_TIMEOUT	10		/* seconds */
#define KMS_PATH	"/mikey"	/* FORMATS.md section 1 default */
#define MIKEY_CTYPE	"application/mikey"
#define TICKET_MAGIC	"IMGATE-TICKET 1"

/* all zero: the system clock, RAND_bytes, 300 s of allowed clock skew */
static const struct mikey_env sysenv;

/* Everything that may hold keys, in one block wiped on exit. */
struct tk {
	struct mikey_request_params	 rp;
	struct mikey_i_request		 rq;
	struct mikey_ticket		 t;
	struct mikey_transfer_params	 tp;
	struct mikey_i_transfer		 it;
	struct mikey_r_transfer		 x;
	struct mikey_r_transfer		 x2;	/* the bare ticket of x */
	struct mikey_cred		 me;
	struct mikey_r_resolve		 rs;
	struct mikey_resolved		 keys;
	uint8_t				 psk[MIKEY_MAX_KEY];
	size_t				 psk_len;
	uint8_t				 msg[MIKEY_MAX_INIT];
	size_t				 msg_len;
	uint8_t				 bare[MIKEY_MAX_TICKET];
	uint8_t				 tek[CTL_TEK_LEN];
	char				 kms[1024];	/* of a ticket file */
	char				 text[TICKET_FILE_MAX + 2];
	size_t				 text_len;
};

/* Common options. */
struct opts {
	const char	*cmd;		/* "ticket request" ... */
	const char	*kms;
	const char	*kms_id;
	const char	*id;
	const char	*psk_file;
	const char	*ca_file;
	const char	*in;
	const char	*out;
	const char	*from;
	const char	*to;
	const char	*for_;
	uint64_t	 lifetime;
	int		 suite;		/* 128 or 256 */
	int		 forking;
	int		 timeout;
	int		 show_keys;
	int		 json;
};

/* Ticket policy flags (RFC 6043 6.10), for "Flags set". */
static const struct {
	char		 letter;
	uint32_t	 mask;
} tp_flags[] = {
	{ 'D', MIKEY_TPF_D }, { 'E', MIKEY_TPF_E }, { 'F', MIKEY_TPF_F },
	{ 'G', MIKEY_TPF_G }, { 'H', MIKEY_TPF_H }, { 'I', MIKEY_TPF_I },
	{ 'J', MIKEY_TPF_J }, { 'K', MIKEY_TPF_K }, { 'L', MIKEY_TPF_L },
	{ 'M', MIKEY_TPF_M }, { 'N', MIKEY_TPF_N }, { 'O', MIKEY_TPF_O },
};

/* What X-Imgate-Outcome values mean for the user (FORMATS.md 1). */
static const struct {
	const char	*outcome;
	const char	*hint;
} hints[] = {
	{ "auth", "check --id and --psk-file: the KMS knows no such user "
	    "with this PSK" },
	{ "unknown_id", "the KMS does not know --id; add it with "
	    "'imgatectl kms user add'" },
	{ "timestamp", "check that the clocks of this host and the KMS "
	    "agree (within its clock_skew)" },
	{ "replay", "the KMS has seen this message before; send a new one" },
	{ "not_authorised", "the KMS policy does not allow it (act_for, "
	    "responders, groups in kms-users.conf / kms.conf)" },
	{ "expired", "the ticket is outside its validity period; request a "
	    "new one" },
	{ "key_version", "the ticket's master key version is retired or "
	    "unknown to the KMS; request a new ticket" },
	{ "policy", "the KMS refused the ticket policy asked for" },
	{ "unsupported", "the KMS does not support this message" },
	{ "bad_message", "the KMS could not parse the message; do imgatectl "
	    "and imgate-kms come from the same version?" },
	{ "internal", "the KMS had an internal error; see its log" },
};

/* ---------------------------------------------------------------------- */
/* Small helpers */

/* uri - an IDR identity (type URI) for s; empty for NULL */
static struct mikey_id
uri(const char *s)
{
	struct mikey_id id;

	id.type = MIKEY_ID_URI;
	id.data.p = (const uint8_t *)(s != NULL ? s : "");
	id.data.len = s != NULL ? strlen(s) : 0;
	return id;
}

/* id_eq - id is the URI s */
static int
id_eq(const struct mikey_id *id, const char *s)
{
	return id->data.len == strlen(s) &&
	    memcmp(id->data.p, s, id->data.len) == 0;
}

/* flags_set - the letters of the set flags, "(none)" if none */
static void
flags_set(uint32_t flags, char *out, size_t cap)
{
	size_t i, k = 0;

	for (i = 0; i < sizeof(tp_flags) / sizeof(tp_flags[0]); i++) {
		if ((flags & tp_flags[i].mask) == 0 || k + 3 > cap)
			continue;
		if (k > 0)
			out[k++] = ' ';
		out[k++] = tp_flags[i].letter;
	}
	out[k] = '\0';
	if (k == 0)
		snprintf(out, cap, "(none)");
}

/* key_len_of - the TGK length for a suite: 16 or 32 bytes */
static uint8_t
key_len_of(int suite)
{
	return suite == 128 ? 16 : 32;
}

/* failed - a library step failed: what, the code, and where */
static void
failed(const struct opts *o, const char *what, int rc,
    const struct mikey_diag *diag)
{
	char buf[256];

	if (diag != NULL && diag->err != 0) {
		mikey_diag_format(diag, buf, sizeof(buf));
		ctl_errx("%s: %s: %s", o->cmd, what, buf);
	} else
		ctl_errx("%s: %s: %s", o->cmd, what, mikey_strerror(rc));
}

/* safe_line - the first line of an error body, escaped, at most 200 */
static void
safe_line(const uint8_t *p, size_t n, char *out, size_t cap)
{
	size_t i, k = 0;

	for (i = 0; i < n && p[i] != '\n' && p[i] != '\r' && k + 5 < cap &&
	    i < 200; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f)
			out[k++] = (char)p[i];
		else
			k += (size_t)snprintf(out + k, cap - k, "\\x%02x",
			    p[i]);
	}
	out[k] = '\0';
}

/* hint_for - the advice for an outcome, NULL if none */
static const char *
hint_for(const char *outcome)
{
	size_t i;

	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (strcmp(hints[i].outcome, outcome) == 0)
			return hints[i].hint;
	return NULL;
}

/* is_mikey - the Content-Type is application/mikey (parameters aside) */
static int
is_mikey(const char *ct)
{
	size_t n = strlen(MIKEY_CTYPE);

	return strncasecmp(ct, MIKEY_CTYPE, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* refused - a MIKEY Error answer: ERR number and name, HTTP, outcome */
static void
refused(const struct opts *o, const struct ctl_http_resp *r, int perr)
{
	const char *h = hint_for(r->outcome);

	ctl_errx("%s: the KMS refused: ERR %d (%s), HTTP %d%s%s, "
	    "X-Imgate-Outcome: %s%s%s", o->cmd, perr,
	    mikey_errno_name((uint8_t)perr), r->status,
	    r->reason[0] != '\0' ? " " : "", r->reason,
	    r->outcome[0] != '\0' ? r->outcome : "(none)", h != NULL ? "; " :
	    "", h != NULL ? h : "");
}

/* not_mikey - an answer that is not a MIKEY message: status and text */
static void
not_mikey(const struct opts *o, const struct ctl_http_resp *r)
{
	char line[1024];

	safe_line(r->body, r->body_len, line, sizeof(line));
	ctl_errx("%s: the KMS answered HTTP %d%s%s (%s%s%s)%s%s; %s", o->cmd,
	    r->status, r->reason[0] != '\0' ? " " : "", r->reason,
	    r->content_type[0] != '\0' ? r->content_type : "no content type",
	    r->outcome[0] != '\0' ? ", X-Imgate-Outcome: " : "", r->outcome,
	    line[0] != '\0' ? ": " : "", line,
	    r->status == 404 || r->status == 405 ? "check the path of the "
	    "--kms URL (default " KMS_PATH ")" : r->status == 413 ?
	    "the message is larger than the KMS's max_body" :
	    "see the imgate-kms log");
}

/* post - the message in tk->msg to the KMS; 0 and r on an answer */
static int
post(const struct opts *o, const char *url, struct tk *tk,
    struct ctl_http_resp *r)
{
	if (ctl_http_post(o->cmd, url, KMS_PATH, MIKEY_CTYPE, tk->msg,
	    tk->msg_len, o->timeout, o->ca_file, r) != 0)
		return -1;
	if (!is_mikey(r->content_type)) {
		not_mikey(o, r);
		ctl_http_resp_cleanup(r);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Output */

/* emit_id - an identity as a string (URI/NAI) or hex (bytes) */
static void
emit_id(struct ctl_emit *e, const char *key, const char *label,
    const struct mikey_id *id)
{
	if (id->type == MIKEY_ID_BYTES)
		ctl_emit_hex(e, key, label, id->data.p, id->data.len);
	else
		ctl_emit_str(e, key, label, id->data.p, id->data.len);
}

/* emit_time - an NTP-UTC policy time, "(not limited)" when 0 */
static void
emit_time(struct ctl_emit *e, const char *key, const char *label,
    uint64_t ntp)
{
	char date[32];

	if (ntp == 0) {
		ctl_emit_text(e, key, label, "(not limited)");
		return;
	}
	ctl_iso_date(mikey_ntp_to_unix(ntp), date, sizeof(date));
	ctl_emit_text(e, key, label, "%s", date);
}

/* emit_key - one key: type, length, SPI, fingerprint; bytes if show.
 *	key names it in JSON (NULL inside an array), label in text */
static void
emit_key(struct ctl_emit *e, const char *key, const char *label,
    const struct mikey_key *k, int show)
{
	char fp[9], spi[2 * 16 + 1];

	ctl_fingerprint(k->key, k->key_len, fp);
	ctl_hex(k->spi, k->spi_len, spi);
	if (!e->json) {
		ctl_emit_text(e, NULL, label, "%s (%u), %zu bytes, SPI %s, "
		    "SHA-256 fingerprint %s", mikey_key_type_name(k->type),
		    k->type, k->key_len, k->spi_len > 0 ? spi : "(none)", fp);
		if (show) {
			ctl_emit_hex(e, NULL, "    key", k->key, k->key_len);
			if (k->salt_len > 0)
				ctl_emit_hex(e, NULL, "    salt", k->salt,
				    k->salt_len);
		}
		return;
	}
	ctl_emit_open(e, key, NULL);
	ctl_emit_enum(e, "type", NULL, k->type, mikey_key_type_name(k->type));
	ctl_emit_uint(e, "len", NULL, k->key_len);
	ctl_emit_hex(e, "spi", NULL, k->spi, k->spi_len);
	ctl_emit_text(e, "fingerprint", NULL, "%s", fp);
	if (show) {
		ctl_emit_hex(e, "key", NULL, k->key, k->key_len);
		if (k->salt_len > 0)
			ctl_emit_hex(e, "salt", NULL, k->salt, k->salt_len);
	}
	ctl_emit_close(e);
}

/* emit_keylist - the session keys as an array */
static void
emit_keylist(struct ctl_emit *e, const struct mikey_key *keys, size_t n,
    int show)
{
	char label[32];
	size_t i;

	ctl_emit_array(e, "keys");
	for (i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "Key %zu", i + 1);
		emit_key(e, NULL, label, &keys[i], show);
	}
	ctl_emit_array_end(e);
}

/* emit_policy - what a ticket says: identities, validity, flags and the
 *	master key version from its THDR ("IMGK" || version) */
static void
emit_policy(struct ctl_emit *e, const struct mikey_policy *pol,
    const struct mikey_payload *ticket)
{
	struct mikey_chain ch;
	struct mikey_bytes thdr;
	char set[32];
	size_t i;

	if (pol->has_idi)
		emit_id(e, "idi", "Initiator (IDRi)", &pol->idi);
	ctl_emit_array(e, "responders");
	for (i = 0; i < pol->nresp; i++)
		emit_id(e, NULL, "Responder (IDRr)", &pol->resp[i]);
	ctl_emit_array_end(e);
	if (pol->has_idkms)
		emit_id(e, "idkms", "KMS (IDRkms)", &pol->idkms);
	emit_time(e, "valid_from", "Valid from", pol->start);
	emit_time(e, "valid_until", "Valid until", pol->end);
	flags_set(pol->flags, set, sizeof(set));
	ctl_emit_hexnum(e, "flags", "Flags", pol->flags, 8);
	ctl_emit_text(e, "flags_set", "Flags set", "%s", set);
	if (ticket != NULL && mikey_ticketdata_decode(
	    ticket->u.ticket.ticket_data, &thdr, &ch, NULL) == 0 &&
	    thdr.len == 8 && memcmp(thdr.p, "IMGK", 4) == 0)
		ctl_emit_uint(e, "master_key_version", "Master key version",
		    (uint32_t)thdr.p[4] << 24 | (uint32_t)thdr.p[5] << 16 |
		    (uint32_t)thdr.p[6] << 8 | thdr.p[7]);
}

/* emit_tek - the TEK of CS 1: fingerprint (bytes if show) */
static void
emit_tek(struct ctl_emit *e, const struct tk *tk, int show)
{
	char fp[9];

	ctl_fingerprint(tk->tek, CTL_TEK_LEN, fp);
	if (e->json) {
		ctl_emit_open(e, "tek", NULL);
		ctl_emit_uint(e, "cs_id", NULL, CTL_CS_ID);
		ctl_emit_uint(e, "len", NULL, CTL_TEK_LEN);
		ctl_emit_text(e, "fingerprint", NULL, "%s", fp);
		if (show)
			ctl_emit_hex(e, "key", NULL, tk->tek, CTL_TEK_LEN);
		ctl_emit_close(e);
		return;
	}
	ctl_emit_text(e, NULL, "TEK for CS 1", "%d bytes, SHA-256 fingerprint "
	    "%s", CTL_TEK_LEN, fp);
	if (show)
		ctl_emit_hex(e, NULL, "    key", tk->tek, CTL_TEK_LEN);
}

/* finish - end the output; -1 if it could not be written */
static int
finish(const struct opts *o, struct ctl_emit *e)
{
	ctl_emit_end(e);
	if (ferror(stdout) || fflush(stdout) != 0) {
		ctl_errx("%s: cannot write the output", o->cmd);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Ticket files (kms/FORMATS.md section 5) */

/* put_key - "NAME [TYPE ]SPI KEY[ SALT]\n" at buf + *len */
static int
put_key(char *buf, size_t cap, size_t *len, const char *name, int type,
    const struct mikey_key *k)
{
	char spi[2 * 16 + 1], key[2 * MIKEY_MAX_KEY + 1], salt[2 * 16 + 1],
	    ty[8];
	int n;

	ctl_hex(k->spi, k->spi_len, spi);
	ctl_hex(k->key, k->key_len, key);
	ctl_hex(k->salt, k->salt_len, salt);
	ty[0] = '\0';
	if (type >= 0)
		snprintf(ty, sizeof(ty), "%d ", type);
	n = snprintf(buf + *len, cap - *len, "%s %s%s %s%s%s\n", name, ty,
	    k->spi_len > 0 ? spi : "-", key, k->salt_len > 0 ? " " : "",
	    salt);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(salt, sizeof(salt));
	if (n < 0 || (size_t)n >= cap - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

/* ticket_write - the ticket file for t from kms, mode 0600 */
static int
ticket_write(const struct opts *o, struct tk *tk, const char *path,
    const char *kms)
{
	const size_t cap = sizeof(tk->text);
	char *buf = tk->text;
	size_t len = 0, i;
	int n, rc = -1;

	n = snprintf(buf, cap, TICKET_MAGIC "\nkms %s\nticket ", kms);
	if (n < 0 || (size_t)n >= cap)
		goto out;
	len = (size_t)n;
	if (len + 2 * tk->t.payload_len + 2 > cap)
		goto out;
	ctl_hex(tk->t.payload, tk->t.payload_len, buf + len);
	len += 2 * tk->t.payload_len;
	buf[len++] = '\n';
	if (put_key(buf, cap, &len, "mpki", -1, &tk->t.mpki) != 0 ||
	    (tk->t.has_mpkr && put_key(buf, cap, &len, "mpkr", -1,
	    &tk->t.mpkr) != 0))
		goto out;
	for (i = 0; i < tk->t.nkeys; i++)
		if (put_key(buf, cap, &len, "key", tk->t.keys[i].type,
		    &tk->t.keys[i]) != 0)
			goto out;
	rc = ctl_write_file(o->cmd, path, buf, len, 0600, 0);
out:
	if (rc != 0 && len + 1 >= cap)
		ctl_errx("%s: the ticket does not fit a ticket file", o->cmd);
	OPENSSL_cleanse(buf, cap);
	return rc;
}

/* get_hex - a hex field ("-" = empty if dash_ok) into out */
static int
get_hex(const char *f, int dash_ok, uint8_t *out, size_t cap,
    size_t *len_out)
{
	if (dash_ok && strcmp(f, "-") == 0) {
		*len_out = 0;
		return 0;
	}
	return ctl_unhex(f, strlen(f), out, cap, len_out) == 0 &&
	    *len_out > 0 ? 0 : -1;
}

/* parse_key - SPI KEY [SALT] fields into k */
static int
parse_key(char **f, size_t nf, struct mikey_key *k)
{
	if (nf != 2 && nf != 3)
		return -1;
	if (get_hex(f[0], 1, k->spi, sizeof(k->spi), &k->spi_len) != 0 ||
	    get_hex(f[1], 0, k->key, sizeof(k->key), &k->key_len) != 0)
		return -1;
	if (nf == 3 && get_hex(f[2], 0, k->salt, sizeof(k->salt),
	    &k->salt_len) != 0)
		return -1;
	return 0;
}

/*
 * ticket_parse - the ticket file in tk->text (tk->text_len bytes) into
 *	tk->t and tk->kms.  Errors name the line.
 */
static int
ticket_parse(const struct opts *o, const char *path, struct tk *tk)
{
	struct mikey_payload pl;
	struct mikey_policy pol;
	char *buf = tk->text, *line, *nl, *f[6], *p;
	size_t pos = 0, nf, l;
	unsigned ln = 0;
	uint64_t ty;
	int seen_ticket = 0, seen_mpki = 0, seen_kms = 0;

	while (pos < tk->text_len) {
		line = buf + pos;
		if ((nl = memchr(line, '\n', tk->text_len - pos)) != NULL) {
			*nl = '\0';
			pos = (size_t)(nl - buf) + 1;
		} else
			pos = tk->text_len;
		if ((l = strlen(line)) > 0 && line[l - 1] == '\r')
			line[--l] = '\0';
		ln++;
		if (ln == 1) {
			if (strcmp(line, TICKET_MAGIC) != 0) {
				ctl_errx("%s: %s: not a ticket file of this "
				    "version: the first line must be '%s'",
				    o->cmd, path, TICKET_MAGIC);
				return -1;
			}
			continue;
		}
		if (line[0] == '\0' || line[0] == '#')
			continue;
		for (nf = 0, p = line; *p != '\0' && nf < 6; nf++) {
			f[nf] = p;
			while (*p != '\0' && *p != ' ')
				p++;
			while (*p == ' ')
				*p++ = '\0';
		}
		if (strcmp(f[0], "kms") == 0 && nf == 2 && !seen_kms) {
			if (strlen(f[1]) >= sizeof(tk->kms))
				goto bad;
			snprintf(tk->kms, sizeof(tk->kms), "%s", f[1]);
			seen_kms = 1;
		} else if (strcmp(f[0], "ticket") == 0 && nf == 2 &&
		    !seen_ticket) {
			if (get_hex(f[1], 0, tk->t.payload,
			    sizeof(tk->t.payload), &tk->t.payload_len) != 0)
				goto bad;
			seen_ticket = ln;
		} else if (strcmp(f[0], "mpki") == 0 && !seen_mpki) {
			if (parse_key(f + 1, nf - 1, &tk->t.mpki) != 0)
				goto bad;
			tk->t.mpki.type = MIKEY_KEY_MPK;
			seen_mpki = 1;
		} else if (strcmp(f[0], "mpkr") == 0 && !tk->t.has_mpkr) {
			if (parse_key(f + 1, nf - 1, &tk->t.mpkr) != 0)
				goto bad;
			tk->t.mpkr.type = MIKEY_KEY_MPK;
			tk->t.has_mpkr = 1;
		} else if (strcmp(f[0], "key") == 0 && nf >= 4) {
			if (tk->t.nkeys == MIKEY_MAX_KEYS) {
				ctl_errx("%s: %s:%u: more than %d keys", o->cmd,
				    path, ln, MIKEY_MAX_KEYS);
				return -1;
			}
			if (ctl_parse_uint(f[1], 0, MIKEY_KEY_GTGK_SALT,
			    &ty) != 0 || parse_key(f + 2, nf - 2,
			    &tk->t.keys[tk->t.nkeys]) != 0)
				goto bad;
			tk->t.keys[tk->t.nkeys++].type = (uint8_t)ty;
		} else
			goto bad;
	}
	if (ln == 0) {
		ctl_errx("%s: %s is empty; write a ticket file with "
		    "'imgatectl ticket request --out FILE'", o->cmd, path);
		return -1;
	}
	if (!seen_ticket || !seen_mpki) {
		ctl_errx("%s: %s: a ticket file needs a 'ticket' and an 'mpki' "
		    "line", o->cmd, path);
		return -1;
	}
	if (tk->t.payload[0] != MIKEY_PT_LAST || mikey_payload_decode(
	    MIKEY_PT_TICKET, tk->t.payload, tk->t.payload_len, &pl,
	    NULL) != 0 || mikey_policy_parse(&pl, &pol, NULL) != 0) {
		ctl_errx("%s: %s:%d: not a TICKET payload (NP byte 0); the "
		    "file is damaged", o->cmd, path, seen_ticket);
		return -1;
	}
	if ((pol.flags & MIKEY_TPF_I) && !tk->t.has_mpkr) {
		ctl_errx("%s: %s: the ticket uses key forking but the file has "
		    "no 'mpkr' line; the file is damaged", o->cmd, path);
		return -1;
	}
	return 0;
bad:
	ctl_errx("%s: %s:%u: not a valid ticket file line; the lines are "
	    "'kms URL', 'ticket HEX', 'mpki SPI KEY', 'mpkr SPI KEY', 'key "
	    "TYPE SPI KEY [SALT]' (kms/FORMATS.md section 5), each once but "
	    "'key'", o->cmd, path, ln);
	return -1;
}

/* read_input - o->in into tk->text (bounded, NUL-terminated) */
static int
read_input(const struct opts *o, struct tk *tk)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (ctl_read_input(o->in, TICKET_FILE_MAX, &buf, &len) != 0)
		return -1;
	memcpy(tk->text, buf, len);
	tk->text[len] = '\0';
	tk->text_len = len;
	OPENSSL_clear_free(buf, TICKET_FILE_MAX + 2);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Options */

enum {
	OPT_KMS = 256, OPT_KMS_ID, OPT_ID, OPT_PSK_FILE, OPT_CA_FILE,
	OPT_IN, OPT_OUT, OPT_FROM, OPT_TO, OPT_FOR, OPT_LIFETIME, OPT_SUITE,
	OPT_FORKING, OPT_TIMEOUT, OPT_SHOW_KEYS, OPT_JSON, OPT_HELP
};

static const struct option all_opts[] = {
	{ "kms", required_argument, NULL, OPT_KMS },
	{ "kms-id", required_argument, NULL, OPT_KMS_ID },
	{ "id", required_argument, NULL, OPT_ID },
	{ "psk-file", required_argument, NULL, OPT_PSK_FILE },
	{ "ca-file", required_argument, NULL, OPT_CA_FILE },
	{ "in", required_argument, NULL, OPT_IN },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "to", required_argument, NULL, OPT_TO },
	{ "for", required_argument, NULL, OPT_FOR },
	{ "lifetime", required_argument, NULL, OPT_LIFETIME },
	{ "suite", required_argument, NULL, OPT_SUITE },
	{ "forking", no_argument, NULL, OPT_FORKING },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "show-keys", no_argument, NULL, OPT_SHOW_KEYS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

/*
 * parse_opts - the options of one ticket command; allowed lists the
 *	OPT_* values it takes (0-terminated).  0 to go on, -1 after --help,
 *	else the exit code of a usage error.
 */
static int
parse_opts(struct opts *o, const int *allowed, void (*usage)(FILE *),
    int argc, char **argv)
{
	const char *w;
	uint64_t v;
	size_t i;
	int ch;

	o->suite = 256;
	o->timeout = DEFAULT_TIMEOUT;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", all_opts, NULL)) != -1) {
		if (ch == 'h' || ch == OPT_HELP) {
			usage(stdout);
			return -1;
		}
		if (ch == ':')
			return ctl_usage_error(o->cmd, "option '%s' needs a "
			    "value", argv[optind - 1]);
		for (i = 0; allowed[i] != 0 && allowed[i] != ch; i++)
			;
		if (ch == '?' || allowed[i] == 0)
			return ctl_usage_error(o->cmd, "unknown option '%s'",
			    argv[optind - 1]);
		switch (ch) {
		case OPT_KMS:
			o->kms = optarg;
			break;
		case OPT_KMS_ID:
			o->kms_id = optarg;
			break;
		case OPT_ID:
			o->id = optarg;
			break;
		case OPT_PSK_FILE:
			o->psk_file = optarg;
			break;
		case OPT_CA_FILE:
			o->ca_file = optarg;
			break;
		case OPT_IN:
			o->in = optarg;
			break;
		case OPT_OUT:
			o->out = optarg;
			break;
		case OPT_FROM:
			o->from = optarg;
			break;
		case OPT_TO:
			o->to = optarg;
			break;
		case OPT_FOR:
			o->for_ = optarg;
			break;
		case OPT_LIFETIME:
			if (ctl_parse_uint(optarg, 1, UINT32_MAX,
			    &o->lifetime) != 0)
				return ctl_usage_error(o->cmd, "--lifetime "
				    "'%s' is not a number of seconds from 1 "
				    "to %u", optarg, UINT32_MAX);
			break;
		case OPT_SUITE:
			if (strcmp(optarg, "128") == 0)
				o->suite = 128;
			else if (strcmp(optarg, "256") == 0)
				o->suite = 256;
			else
				return ctl_usage_error(o->cmd, "--suite is "
				    "128 or 256, not '%s'", optarg);
			break;
		case OPT_FORKING:
			o->forking = 1;
			break;
		case OPT_TIMEOUT:
			if (ctl_parse_uint(optarg, 1, 3600, &v) != 0)
				return ctl_usage_error(o->cmd, "--timeout "
				    "'%s' is not a number of seconds from 1 "
				    "to 3600", optarg);
			o->timeout = (int)v;
			break;
		case OPT_SHOW_KEYS:
			o->show_keys = 1;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		}
	}
	if (optind < argc)
		return ctl_usage_error(o->cmd, "unexpected argument '%s'",
		    argv[optind]);
	/* every identity given must be one */
	{
		const char *ids[] = { o->id, o->kms_id, o->from, o->for_ };
		const char *names[] = { "--id", "--kms-id", "--from",
		    "--for" };

		for (i = 0; i < 4; i++)
			if (ids[i] != NULL &&
			    ctl_check_uri(ids[i], 0, &w) != 0)
				return ctl_usage_error(o->cmd, "%s '%s' is "
				    "not an identity URI: %s", names[i],
				    ids[i], w);
	}
	return 0;
}

/* need - a usage error unless every listed option was given */
static int
need(const struct opts *o, const char *what, int have)
{
	if (have)
		return 0;
	return ctl_usage_error(o->cmd, "%s required", what);
}

/* ---------------------------------------------------------------------- */
/* ticket request */

static void
request_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl ticket request --kms URL --id URI --psk-file F\n"
	    "           --to URI[,URI...] --out F [--for URI] [--kms-id URI]\n"
	    "           [--lifetime SECONDS] [--suite 128|256] [--forking]\n"
	    "           [--timeout SECONDS] [--ca-file F] [--show-keys] "
	    "[--json]\n"
	    "\n"
	    "Ask imgate-kms for a ticket (RFC 6043 Ticket Request: REQUEST_\n"
	    "INIT_PSK over HTTP, REQUEST_RESP back), check the answer with\n"
	    "the PSK, print what was granted and write the ticket with its\n"
	    "keys to a ticket file (kms/FORMATS.md section 5, mode 0600).\n"
	    "\n"
	    "  --kms URL           the KMS: http://HOST:PORT[/PATH] or "
	    "https://...\n"
	    "                      (PATH defaults to " KMS_PATH ")\n"
	    "  --id URI            who asks: a user of the KMS\n"
	    "  --psk-file F        that user's PSK (hex, as written by\n"
	    "                      'imgatectl kms user add --psk-out')\n"
	    "  --to URI[,URI...]   the responders the ticket is for (up to "
	    "%d)\n"
	    "  --out F             the ticket file to write (mode 0600)\n"
	    "  --for URI           the ticket's initiator (IDRi) when --id\n"
	    "                      acts for another identity (act_for); the\n"
	    "                      request then names --id as IDRpsk\n"
	    "  --kms-id URI        the KMS's identity (IDRkms); by default\n"
	    "                      none is sent\n"
	    "  --lifetime SECONDS  ask for a ticket valid that long (the KMS\n"
	    "                      may shorten it); default: the KMS's\n"
	    "  --suite 128|256     the algorithms: 256 (default) is PRF-HMAC-\n"
	    "                      SHA-256, AES-CM-256, HMAC-SHA-256 and a\n"
	    "                      32-byte TGK; 128 is the MIKEY-1 PRF,\n"
	    "                      AES-CM-128, HMAC-SHA-1, a 16-byte TGK\n"
	    "  --forking           a key-forking ticket (flags I, F: needs a\n"
	    "                      TRANSFER_RESP); default: the one-way\n"
	    "                      profile (flags D E H J N O)\n"
	    "  --timeout SECONDS   for the HTTP exchange (default %d)\n"
	    "  --ca-file F         https: the CA certificates (PEM) to verify\n"
	    "                      the KMS with (default: the system's)\n"
	    "  --show-keys         also print the key bytes (debugging only)\n"
	    "  --json              one JSON object instead of text\n"
	    "  -h, --help          this help\n"
	    "\n"
	    "Exit status: 0 ticket written, 1 failed (the KMS refused: its\n"
	    "ERR number and name, the HTTP status and X-Imgate-Outcome are\n"
	    "printed), 2 usage error.\n", MIKEY_MAX_RESPONDERS,
	    DEFAULT_TIMEOUT);
}

/* split_to - the comma-separated responders of --to into rp */
static int
split_to(const struct opts *o, char *to, struct mikey_request_params *rp)
{
	const char *w;
	char *p = to, *e;

	rp->nresp = 0;
	for (;;) {
		if ((e = strchr(p, ',')) != NULL)
			*e = '\0';
		if (ctl_check_uri(p, 0, &w) != 0)
			return ctl_usage_error(o->cmd, "--to: '%s' is not an "
			    "identity URI: %s", p, w);
		if (rp->nresp == MIKEY_MAX_RESPONDERS)
			return ctl_usage_error(o->cmd, "--to: more than %d "
			    "responders", MIKEY_MAX_RESPONDERS);
		rp->resp[rp->nresp++] = uri(p);
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}

static int
request_main(int argc, char **argv)
{
	static const int allowed[] = { OPT_KMS, OPT_KMS_ID, OPT_ID,
	    OPT_PSK_FILE, OPT_CA_FILE, OPT_OUT, OPT_TO, OPT_FOR, OPT_LIFETIME,
	    OPT_SUITE, OPT_FORKING, OPT_TIMEOUT, OPT_SHOW_KEYS, OPT_JSON, 0 };
	struct ctl_http_resp r;
	struct mikey_payload pl;
	struct mikey_policy pol;
	struct mikey_diag diag;
	struct ctl_emit e;
	struct opts o;
	struct tk *tk = NULL;
	char *to = NULL;
	uint64_t now;
	int perr = -1, rc;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	o.cmd = "ticket request";
	if ((rc = parse_opts(&o, allowed, request_usage, argc, argv)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	if ((rc = need(&o, "--kms, --id, --psk-file, --to and --out are",
	    o.kms && o.id && o.psk_file && o.to && o.out)) != 0)
		return rc;
	if ((to = strdup(o.to)) == NULL) {
		ctl_errx("%s: out of memory", o.cmd);
		return CTL_EXIT_FAIL;
	}
	ctl_no_core(o.cmd);
	rc = CTL_EXIT_FAIL;
	if ((tk = calloc(1, sizeof(*tk))) == NULL) {
		ctl_errx("%s: out of memory", o.cmd);
		goto out;
	}
	if (split_to(&o, to, &tk->rp) != 0) {
		rc = CTL_EXIT_USAGE;
		goto out;
	}
	if (ctl_read_psk(o.cmd, o.psk_file, tk->psk, &tk->psk_len) != 0)
		goto out;

	/* the desired ticket: one TGK, the profile's flags */
	tk->rp.idi = uri(o.for_ != NULL ? o.for_ : o.id);
	if (o.for_ != NULL && strcmp(o.for_, o.id) != 0)
		tk->rp.idpsk = uri(o.id);
	tk->rp.idkms = uri(o.kms_id);
	tk->rp.psk = tk->psk;
	tk->rp.psk_len = tk->psk_len;
	tk->rp.suite = o.suite == 128 ? mikey_suite_128 : mikey_suite_256;
	tk->rp.ticket_prf = tk->rp.suite.prf;
	tk->rp.flags = MIKEY_TPF_ONEWAY;
	if (o.forking)
		tk->rp.flags |= MIKEY_TPF_F | MIKEY_TPF_I;
	if (o.lifetime != 0) {
		now = mikey_ntp_from_unix((int64_t)time(NULL), 0);
		tk->rp.end = now + (o.lifetime << 32);
	}
	tk->rp.nkeys = 1;
	tk->rp.key_type[0] = MIKEY_KEY_TGK;
	tk->rp.key_len[0] = key_len_of(o.suite);
	if ((rc = mikey_i_request_init(&sysenv, &tk->rp, &tk->rq, tk->msg,
	    sizeof(tk->msg), &tk->msg_len)) != 0) {
		failed(&o, "cannot build REQUEST_INIT_PSK", rc, NULL);
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	rc = CTL_EXIT_FAIL;
	if (post(&o, o.kms, tk, &r) != 0)
		goto out;
	memset(&diag, 0, sizeof(diag));
	perr = -1;
	rc = mikey_i_request_resp(&sysenv, &tk->rq, r.body, r.body_len, &tk->t,
	    &perr, &diag);
	if (rc == MIKEY_ERR_PEER) {
		refused(&o, &r, perr);
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	if (rc != 0) {
		failed(&o, "the KMS answer does not verify (wrong --psk-file, "
		    "or not the KMS that knows --id?)", rc, &diag);
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	rc = CTL_EXIT_FAIL;
	if (mikey_payload_decode(MIKEY_PT_TICKET, tk->t.payload,
	    tk->t.payload_len, &pl, NULL) != 0 ||
	    mikey_policy_parse(&pl, &pol, NULL) != 0) {
		ctl_errx("%s: the granted ticket does not parse", o.cmd);
		goto out;
	}
	if (ticket_write(&o, tk, o.out, o.kms) != 0)
		goto out;

	ctl_emit_init(&e, stdout, o.json, NULL);
	ctl_emit_open(&e, NULL, "Ticket granted by %s (HTTP %d, outcome %s)",
	    o.kms, r.status, r.outcome[0] != '\0' ? r.outcome : "not given");
	if (o.json) {
		ctl_emit_str(&e, "kms", NULL, (const uint8_t *)o.kms,
		    strlen(o.kms));
		ctl_emit_uint(&e, "http_status", NULL, (uint64_t)r.status);
		ctl_emit_str(&e, "outcome", NULL, (const uint8_t *)r.outcome,
		    strlen(r.outcome));
	}
	emit_policy(&e, &pol, &pl);
	if (pol.flags & MIKEY_TPF_K)
		ctl_emit_text(&e, "changed", "Changed by the KMS", "yes (K): "
		    "the ticket differs from the request");
	emit_key(&e, "mpki", "MPKi", &tk->t.mpki, o.show_keys);
	if (tk->t.has_mpkr)
		emit_key(&e, "mpkr", "MPKr", &tk->t.mpkr, o.show_keys);
	emit_keylist(&e, tk->t.keys, tk->t.nkeys, o.show_keys);
	ctl_emit_uint(&e, "ticket_len", "Ticket length", tk->t.payload_len);
	ctl_emit_str(&e, "out", "Ticket file (mode 0600)",
	    (const uint8_t *)o.out, strlen(o.out));
	ctl_emit_close(&e);
	if (finish(&o, &e) != 0)
		goto out;
	rc = CTL_EXIT_OK;
out:
	ctl_http_resp_cleanup(&r);
	free(to);
	if (tk != NULL) {
		mikey_i_request_cleanup(&tk->rq);
		mikey_ticket_cleanup(&tk->t);
		OPENSSL_clear_free(tk, sizeof(*tk));
	}
	return rc;
}

/* ---------------------------------------------------------------------- */
/* ticket transfer */

static void
transfer_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl ticket transfer --in TICKETFILE --to URI --out "
	    "MSG\n"
	    "           [--from URI] [--suite 128|256] [--show-keys] "
	    "[--json]\n"
	    "\n"
	    "Build a TRANSFER_INIT (RFC 6043 Ticket Transfer) from a ticket\n"
	    "file, as a sender puts it next to a message: one crypto session\n"
	    "(CS ID 1, prot type 241 imgate CMS), MACed with the ticket's\n"
	    "MPKi.  Writes the binary message and prints the SHA-256\n"
	    "fingerprint of the TEK of CS 1 ('ticket resolve' prints the\n"
	    "same at the receiving end).  Nothing is sent.\n"
	    "\n"
	    "  --in TICKETFILE    written by 'imgatectl ticket request'\n"
	    "  --to URI           the responder (IDRr) named in the message\n"
	    "  --out MSG          where to write the TRANSFER_INIT\n"
	    "  --from URI         the initiator (IDRi); must be the ticket's\n"
	    "                     (default: the ticket's IDRi)\n"
	    "  --suite 128|256    HDR PRF and V MAC (default 256)\n"
	    "  --show-keys        also print the TEK bytes (debugging only)\n"
	    "  --json             one JSON object instead of text\n"
	    "  -h, --help         this help\n"
	    "\n"
	    "Exit status: 0 written, 1 failed (e.g. the ticket expired),\n"
	    "2 usage error.\n");
}

static int
transfer_main(int argc, char **argv)
{
	static const int allowed[] = { OPT_IN, OPT_OUT, OPT_FROM, OPT_TO,
	    OPT_SUITE, OPT_SHOW_KEYS, OPT_JSON, 0 };
	static const uint8_t no_ps[1] = { 0 };
	struct mikey_payload pl;
	struct mikey_policy pol;
	struct ctl_emit e;
	struct opts o;
	struct tk *tk = NULL;
	const char *w;
	char date[32];
	int64_t now;
	int rc, has_tek = 0;

	memset(&o, 0, sizeof(o));
	o.cmd = "ticket transfer";
	if ((rc = parse_opts(&o, allowed, transfer_usage, argc, argv)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	if ((rc = need(&o, "--in, --to and --out are", o.in && o.to &&
	    o.out)) != 0)
		return rc;
	if (ctl_check_uri(o.to, 0, &w) != 0)
		return ctl_usage_error(o.cmd, "--to '%s' is not an identity "
		    "URI: %s", o.to, w);
	ctl_no_core(o.cmd);
	rc = CTL_EXIT_FAIL;
	if ((tk = calloc(1, sizeof(*tk))) == NULL) {
		ctl_errx("%s: out of memory", o.cmd);
		goto out;
	}
	if (read_input(&o, tk) != 0 || ticket_parse(&o, o.in, tk) != 0)
		goto out;
	/* ticket_parse checked that these decode */
	if (mikey_payload_decode(MIKEY_PT_TICKET, tk->t.payload,
	    tk->t.payload_len, &pl, NULL) != 0 ||
	    mikey_policy_parse(&pl, &pol, NULL) != 0)
		goto out;
	now = (int64_t)time(NULL);
	if (pol.end != 0 && mikey_ntp_to_unix(pol.end) < now) {
		ctl_iso_date(mikey_ntp_to_unix(pol.end), date, sizeof(date));
		ctl_errx("%s: the ticket in %s expired at %s; request a new "
		    "one with 'imgatectl ticket request'", o.cmd, o.in, date);
		goto out;
	}
	if (o.from == NULL && !pol.has_idi) {
		ctl_errx("%s: the ticket names no initiator; give --from",
		    o.cmd);
		goto out;
	}
	if (o.from != NULL && pol.has_idi && !id_eq(&pol.idi, o.from)) {
		ctl_errx("%s: the ticket was issued for the initiator '%.*s', "
		    "not '%s'; a responder refuses a TRANSFER_INIT whose IDRi "
		    "differs from the ticket's: give --from '%.*s' or leave it "
		    "out", o.cmd, (int)pol.idi.data.len,
		    (const char *)pol.idi.data.p, o.from,
		    (int)pol.idi.data.len, (const char *)pol.idi.data.p);
		goto out;
	}
	tk->tp.idi = o.from != NULL ? uri(o.from) : pol.idi;
	tk->tp.idr = uri(o.to);
	tk->tp.suite = o.suite == 128 ? mikey_suite_128 : mikey_suite_256;
	tk->tp.ncs = 1;
	tk->tp.cs[0].cs_id = CTL_CS_ID;
	tk->tp.cs[0].prot_type = MIKEY_PROT_IMGATE_CMS;
	tk->tp.cs[0].ps = (struct mikey_bytes){ no_ps, 0 };
	if ((rc = mikey_i_transfer_init(&sysenv, &tk->t, &tk->tp, &tk->it,
	    tk->msg, sizeof(tk->msg), &tk->msg_len)) != 0) {
		failed(&o, "cannot build TRANSFER_INIT", rc, NULL);
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	rc = CTL_EXIT_FAIL;
	/* forking (TGK') and G = 1 (RANDRr) need the TRANSFER_RESP */
	if (!(pol.flags & (MIKEY_TPF_I | MIKEY_TPF_G))) {
		if (mikey_i_transfer_tek(&tk->t, &tk->it, CTL_CS_ID, tk->tek,
		    CTL_TEK_LEN) != 0) {
			ctl_errx("%s: cannot derive the TEK (does the ticket "
			    "hold a TGK?)", o.cmd);
			goto out;
		}
		has_tek = 1;
	}
	if (ctl_write_file(o.cmd, o.out, tk->msg, tk->msg_len, 0644, 0) != 0)
		goto out;

	ctl_emit_init(&e, stdout, o.json, NULL);
	ctl_emit_open(&e, NULL, "TRANSFER_INIT, %zu bytes, written to %s",
	    tk->msg_len, o.out);
	if (o.json) {
		ctl_emit_uint(&e, "length", NULL, tk->msg_len);
		ctl_emit_str(&e, "out", NULL, (const uint8_t *)o.out,
		    strlen(o.out));
	}
	emit_id(&e, "from", "From (IDRi)", &tk->tp.idi);
	emit_id(&e, "to", "To (IDRr)", &tk->tp.idr);
	ctl_emit_hexnum(&e, "csb_id", "CSB ID", tk->it.csb_id, 8);
	ctl_emit_text(&e, "cs", "Crypto session", "CS ID %d, prot type %d "
	    "(imgate CMS)", CTL_CS_ID, MIKEY_PROT_IMGATE_CMS);
	if (has_tek)
		emit_tek(&e, tk, o.show_keys);
	else
		ctl_emit_text(&e, "tek", "TEK for CS 1", "not derived: the "
		    "ticket's flags (%s) need the TRANSFER_RESP",
		    (pol.flags & MIKEY_TPF_I) ? "I, key forking" : "G");
	ctl_emit_close(&e);
	if (finish(&o, &e) != 0)
		goto out;
	rc = CTL_EXIT_OK;
out:
	if (tk != NULL) {
		mikey_ticket_cleanup(&tk->t);
		OPENSSL_clear_free(tk, sizeof(*tk));
	}
	return rc;
}

/* ---------------------------------------------------------------------- */
/* ticket resolve */

static void
resolve_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl ticket resolve --kms URL --id URI --psk-file F\n"
	    "           --in FILE [--kms-id URI] [--suite 128|256]\n"
	    "           [--timeout SECONDS] [--ca-file F] [--show-keys] "
	    "[--json]\n"
	    "\n"
	    "Resolve a ticket with imgate-kms as a responder does (RFC 6043\n"
	    "Ticket Resolve: RESOLVE_INIT_PSK over HTTP, RESOLVE_RESP back).\n"
	    "FILE is either a TRANSFER_INIT (binary, as written by 'ticket\n"
	    "transfer' or received) or a ticket file (first line\n"
	    "'" TICKET_MAGIC "').  For a TRANSFER_INIT the message is then\n"
	    "verified with the MPKi the KMS returned: the sender printed is\n"
	    "the ticket's IDRi, proven.  Prints the TEK fingerprint of CS 1\n"
	    "(TRANSFER_INIT) or the MPKi fingerprint (ticket file).\n"
	    "\n"
	    "  --kms URL           the KMS: http://HOST:PORT[/PATH] or "
	    "https://...\n"
	    "                      (default for a ticket file: its 'kms' "
	    "line)\n"
	    "  --id URI            who resolves: a user of the KMS\n"
	    "  --psk-file F        that user's PSK (hex)\n"
	    "  --in FILE           the TRANSFER_INIT or ticket file\n"
	    "  --kms-id URI        the KMS's identity (IDRkms); default none\n"
	    "  --suite 128|256     algorithms of RESOLVE_INIT (default 256)\n"
	    "  --timeout SECONDS   for the HTTP exchange (default %d)\n"
	    "  --ca-file F         https: the CA certificates (PEM)\n"
	    "  --show-keys         also print the key bytes (debugging only)\n"
	    "  --json              one JSON object instead of text\n"
	    "  -h, --help          this help\n"
	    "\n"
	    "Exit status: 0 resolved (and verified), 1 failed (the KMS\n"
	    "refused: ERR number and name, HTTP status, X-Imgate-Outcome;\n"
	    "or the message does not verify), 2 usage error.\n",
	    DEFAULT_TIMEOUT);
}

/* has_tgk - is there a TGK to derive a TEK from? */
static int
has_tgk(const struct mikey_resolved *k)
{
	size_t i;

	for (i = 0; i < k->nkeys; i++)
		if (k->keys[i].type == MIKEY_KEY_TGK ||
		    k->keys[i].type == MIKEY_KEY_TGK_SALT ||
		    k->keys[i].type == MIKEY_KEY_GTGK ||
		    k->keys[i].type == MIKEY_KEY_GTGK_SALT)
			return 1;
	return 0;
}

/*
 * why_unverified - RESOLVE_RESP + TRANSFER_INIT failed: resolve the
 *	bare ticket with the same answer to tell a bad KMS answer from a
 *	bad TRANSFER_INIT, and say which.
 */
static void
why_unverified(const struct opts *o, struct tk *tk,
    const struct ctl_http_resp *r, int rc0, const struct mikey_diag *diag)
{
	struct mikey_resolved *k = &tk->keys;
	int perr, rc;

	if (tk->x.msg.hdr.data_type == MIKEY_DT_TRANSFER_INIT &&
	    tk->x.ticket->len <= sizeof(tk->bare)) {
		memcpy(tk->bare, tk->x.msg.raw.p + tk->x.ticket->off,
		    tk->x.ticket->len);
		tk->bare[0] = MIKEY_PT_LAST;
		if (mikey_r_ticket_parse(&sysenv, tk->bare, tk->x.ticket->len,
		    &tk->x2, NULL) == 0 && mikey_r_resolve_resp(&sysenv,
		    &tk->rs, &tk->x2, r->body, r->body_len, k, &perr,
		    NULL) == 0) {
			rc = mikey_r_transfer_verify(&tk->x, k);
			ctl_errx("%s: the KMS resolved the ticket, but the "
			    "TRANSFER_INIT does not verify with its MPKi: %s; "
			    "the message was altered or was not made by the "
			    "holder of this ticket", o->cmd,
			    mikey_strerror(rc != 0 ? rc : rc0));
			return;
		}
	}
	failed(o, "the KMS answer does not verify (wrong --psk-file, or not "
	    "the KMS that knows --id?)", rc0, diag);
}

static int
resolve_main(int argc, char **argv)
{
	static const int allowed[] = { OPT_KMS, OPT_KMS_ID, OPT_ID,
	    OPT_PSK_FILE, OPT_CA_FILE, OPT_IN, OPT_SUITE, OPT_TIMEOUT,
	    OPT_SHOW_KEYS, OPT_JSON, 0 };
	struct ctl_http_resp r;
	struct mikey_diag diag;
	struct ctl_emit e;
	struct opts o;
	struct tk *tk = NULL;
	const char *kms;
	char date[32];
	int perr = -1, rc, is_msg;

	memset(&o, 0, sizeof(o));
	memset(&r, 0, sizeof(r));
	o.cmd = "ticket resolve";
	if ((rc = parse_opts(&o, allowed, resolve_usage, argc, argv)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	if ((rc = need(&o, "--id, --psk-file and --in are", o.id &&
	    o.psk_file && o.in)) != 0)
		return rc;
	ctl_no_core(o.cmd);
	rc = CTL_EXIT_FAIL;
	if ((tk = calloc(1, sizeof(*tk))) == NULL) {
		ctl_errx("%s: out of memory", o.cmd);
		goto out;
	}
	if (read_input(&o, tk) != 0)
		goto out;
	memset(&diag, 0, sizeof(diag));
	is_msg = tk->text_len >= 2 && (uint8_t)tk->text[0] == 0x01 &&
	    (uint8_t)tk->text[1] == MIKEY_DT_TRANSFER_INIT;
	if (is_msg) {
		rc = mikey_r_transfer_parse(&sysenv, (const uint8_t *)tk->text,
		    tk->text_len, &tk->x, &diag);
	} else if (tk->text_len >= strlen(TICKET_MAGIC) &&
	    memcmp(tk->text, TICKET_MAGIC, strlen(TICKET_MAGIC)) == 0) {
		if (ticket_parse(&o, o.in, tk) != 0)
			goto out;
		rc = mikey_r_ticket_parse(&sysenv, tk->t.payload,
		    tk->t.payload_len, &tk->x, &diag);
		/* the KMS checks a forking ticket's Initiator Data (Vi,
		 * Vr): only a TRANSFER_INIT carries it */
		if (rc == 0 && (tk->x.pol.flags & MIKEY_TPF_I)) {
			ctl_errx("%s: %s holds a key-forking ticket (flag I); "
			    "it resolves only inside a TRANSFER_INIT: make one "
			    "with 'imgatectl ticket transfer' and resolve that",
			    o.cmd, o.in);
			goto out;
		}
	} else {
		ctl_errx("%s: %s is neither a TRANSFER_INIT (binary MIKEY, "
		    "first bytes 01 0e) nor a ticket file (first line '%s')",
		    o.cmd, o.in, TICKET_MAGIC);
		goto out;
	}
	if (rc == MIKEY_ERR_EXPIRED) {
		ctl_iso_date(mikey_ntp_to_unix(tk->x.pol.end), date,
		    sizeof(date));
		ctl_errx("%s: the ticket is outside its validity period (valid "
		    "until %s); a responder refuses it without asking the KMS",
		    o.cmd, tk->x.pol.end ? date : "(not limited)");
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	if (rc != 0) {
		failed(&o, is_msg ? "not a usable TRANSFER_INIT" :
		    "not a usable ticket", rc, &diag);
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	kms = o.kms != NULL ? o.kms : tk->kms[0] != '\0' ? tk->kms : NULL;
	if (kms == NULL) {
		rc = ctl_usage_error(o.cmd, "--kms is required (a "
		    "TRANSFER_INIT does not say which KMS to ask)");
		goto out;
	}
	if (ctl_read_psk(o.cmd, o.psk_file, tk->psk, &tk->psk_len) != 0) {
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	tk->me.id = uri(o.id);
	tk->me.idkms = uri(o.kms_id);
	tk->me.psk = tk->psk;
	tk->me.psk_len = tk->psk_len;
	tk->me.suite = o.suite == 128 ? mikey_suite_128 : mikey_suite_256;
	if ((rc = mikey_r_resolve_init(&sysenv, &tk->x, &tk->me, &tk->rs,
	    tk->msg, sizeof(tk->msg), &tk->msg_len)) != 0) {
		failed(&o, "cannot build RESOLVE_INIT_PSK", rc, NULL);
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	rc = CTL_EXIT_FAIL;
	if (post(&o, kms, tk, &r) != 0)
		goto out;
	memset(&diag, 0, sizeof(diag));
	rc = mikey_r_resolve_resp(&sysenv, &tk->rs, &tk->x, r.body, r.body_len,
	    &tk->keys, &perr, &diag);
	if (rc == MIKEY_ERR_PEER) {
		refused(&o, &r, perr);
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	if (rc != 0) {
		why_unverified(&o, tk, &r, rc, &diag);
		rc = CTL_EXIT_FAIL;
		goto out;
	}
	rc = CTL_EXIT_FAIL;

	ctl_emit_init(&e, stdout, o.json, NULL);
	ctl_emit_open(&e, NULL, "Resolved by %s (HTTP %d, outcome %s)", kms,
	    r.status, r.outcome[0] != '\0' ? r.outcome : "not given");
	if (o.json) {
		ctl_emit_str(&e, "kms", NULL, (const uint8_t *)kms,
		    strlen(kms));
		ctl_emit_uint(&e, "http_status", NULL, (uint64_t)r.status);
		ctl_emit_str(&e, "outcome", NULL, (const uint8_t *)r.outcome,
		    strlen(r.outcome));
		ctl_emit_text(&e, "input", NULL, "%s", is_msg ?
		    "transfer_init" : "ticket");
	}
	if (is_msg) {
		ctl_emit_text(&e, "verified", "TRANSFER_INIT", "verified with "
		    "the ticket's MPKi");
		if (tk->x.pol.has_idi)
			emit_id(&e, "sender", "Sender (IDRi, verified)",
			    &tk->x.pol.idi);
		if (tk->x.idr.data.len > 0)
			emit_id(&e, "to", "Addressed to (IDRr of the message)",
			    &tk->x.idr);
	} else if (tk->x.pol.has_idi)
		emit_id(&e, "sender", "Initiator (IDRi of the ticket)",
		    &tk->x.pol.idi);
	if (tk->keys.idr.data.len > 0)	/* the KMS names it when forking */
		emit_id(&e, "resolved_for", "Resolved for (IDRr)",
		    &tk->keys.idr);
	ctl_emit_open(&e, "ticket", "Ticket");
	emit_policy(&e, &tk->x.pol, tk->x.ticket);
	ctl_emit_close(&e);
	emit_key(&e, "mpki", "MPKi", &tk->keys.mpki, o.show_keys);
	if (tk->keys.has_mpkr)
		emit_key(&e, "mpkr", "MPKr", &tk->keys.mpkr, o.show_keys);
	emit_keylist(&e, tk->keys.keys, tk->keys.nkeys, o.show_keys);
	if (is_msg) {
		if (tk->x.pol.flags & MIKEY_TPF_G)
			ctl_emit_text(&e, "tek", "TEK for CS 1", "not derived: "
			    "G = 1 needs the responder's RANDRr");
		else if (!has_tgk(&tk->keys) || mikey_r_transfer_tek(&tk->x,
		    &tk->keys, NULL, CTL_CS_ID, tk->tek, CTL_TEK_LEN) != 0)
			ctl_emit_text(&e, "tek", "TEK for CS 1", "not derived: "
			    "the ticket holds no TGK");
		else
			emit_tek(&e, tk, o.show_keys);
	}
	ctl_emit_close(&e);
	if (finish(&o, &e) != 0)
		goto out;
	rc = CTL_EXIT_OK;
out:
	ctl_http_resp_cleanup(&r);
	if (tk != NULL) {
		mikey_ticket_cleanup(&tk->t);
		mikey_r_resolve_cleanup(&tk->rs);
		mikey_resolved_cleanup(&tk->keys);
		OPENSSL_clear_free(tk, sizeof(*tk));
	}
	return rc;
}

/* ---------------------------------------------------------------------- */
/* The command */

static const struct ctl_cmd subs[] = {
	{ "request", "ask the KMS for a ticket, write a ticket file",
	    request_usage, request_main },
	{ "transfer", "build a TRANSFER_INIT from a ticket file",
	    transfer_usage, transfer_main },
	{ "resolve", "resolve a TRANSFER_INIT or ticket with the KMS",
	    resolve_usage, resolve_main },
};
#define NSUBS	(sizeof(subs) / sizeof(subs[0]))

void
ctl_ticket_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: imgatectl ticket SUBCOMMAND [ARGS...]\n"
	    "\n"
	    "The three MIKEY-TICKET exchanges (RFC 6043) by hand, against a\n"
	    "running imgate-kms: get a ticket, put it in a TRANSFER_INIT,\n"
	    "resolve it as the receiver.  Keys show as SHA-256 fingerprints.\n"
	    "\n");
	ctl_list_cmds(fp, subs, NSUBS);
	fprintf(fp,
	    "\n"
	    "  ticket request --kms URL --id URI --psk-file F\n"
	    "      --to URI[,URI...] --out F [--for URI] [--kms-id URI]\n"
	    "      [--lifetime S] [--suite 128|256] [--forking]\n"
	    "      [--timeout S] [--ca-file F] [--show-keys] [--json]\n"
	    "  ticket transfer --in TICKETFILE --to URI --out MSG\n"
	    "      [--from URI] [--suite 128|256] [--show-keys] [--json]\n"
	    "  ticket resolve --kms URL --id URI --psk-file F --in FILE\n"
	    "      [--kms-id URI] [--suite 128|256] [--timeout S]\n"
	    "      [--ca-file F] [--show-keys] [--json]\n"
	    "\n"
	    "Run 'imgatectl ticket SUBCOMMAND --help' for the details.\n");
}

int
ctl_ticket_main(int argc, char **argv)
{
	const struct ctl_cmd *c;

	if (argc < 2)
		return ctl_usage_error("ticket", "a subcommand is needed");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		ctl_ticket_usage(stdout);
		return CTL_EXIT_OK;
	}
	if ((c = ctl_find_cmd(subs, NSUBS, argv[1])) == NULL)
		return ctl_usage_error("ticket", "unknown subcommand '%s'",
		    argv[1]);
	return c->main(argc - 1, argv + 1);
}
