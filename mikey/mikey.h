/*
 * mikey/mikey.h - MIKEY (RFC 3830) and MIKEY-TICKET (RFC 6043) public API
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	The library has three layers, each usable on its own:
 *
 *	1. the codec (mikey_codec.c): a message is a common header plus an
 *	   array of decoded payloads.  Decoding never allocates: every byte
 *	   field of a decoded payload is an alias into the input buffer, which
 *	   the caller keeps alive for as long as it uses the message.  When a
 *	   caller builds a message the aliases point to the caller's memory.
 *	   Nested structures (the KEMAC's key data sub-payloads, SP parameters,
 *	   TP Data, Ticket Data, Initiator Data) are kept as raw byte aliases
 *	   and decoded on demand with their own functions, so one decoder
 *	   serves the top level and every nested chain.
 *
 *	2. the crypto (mikey_prf.c, mikey_crypto.c): the PRF of RFC 3830
 *	   4.1.2 and the PRF-HMAC-SHA-256 of RFC 6043 6.1, the label builders
 *	   of RFC 6043 5.1 and Appendix A.2, AES-CM/AES-KW/NULL encryption of
 *	   KEMAC data and HMAC-SHA-1/-256.
 *
 *	3. the roles (mikey_initiator.c, mikey_responder.c, mikey_kms.c,
 *	   mikey_ticket.c): the processing rules of RFC 6043 4.2 as functions
 *	   with no I/O.  Clock and RNG are injected (struct mikey_env).
 *
 *	Plus the modified replay cache (mikey_rcache.c) of design.md section
 *	3 and spec/smime-sip.md 2.6.
 *
 *	The library does not log, does not exit and owns no thread.  Every
 *	function returns 0 or a MIKEY_ERR_* code (mikey_strerror()).
 */
#ifndef MIKEY_H
#define MIKEY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __GNUC__
#define MIKEY_WUR __attribute__((warn_unused_result))
#else
#define MIKEY_WUR
#endif

/* --------------------------------------------------------------------- */
/* Errors */

enum mikey_err {
	MIKEY_OK = 0,
	MIKEY_ERR_BASE = 0x4d4b00,	/* "MK" */
	MIKEY_ERR_NOMEM = MIKEY_ERR_BASE,	/* allocation failed */
	MIKEY_ERR_TRUNCATED,	/* input ends inside a field */
	MIKEY_ERR_TRAILING,	/* bytes after the last payload */
	MIKEY_ERR_VERSION,	/* HDR version is not 1 */
	MIKEY_ERR_DATA_TYPE,	/* unknown or unexpected data type */
	MIKEY_ERR_PAYLOAD_TYPE,	/* unknown next-payload value */
	MIKEY_ERR_VALUE,	/* reserved or unknown value in a field */
	MIKEY_ERR_LENGTH,	/* a length field is inconsistent */
	MIKEY_ERR_TOO_MANY,	/* more payloads/entries than the limits */
	MIKEY_ERR_STRUCTURE,	/* payloads missing, repeated or misplaced */
	MIKEY_ERR_TOO_BIG,	/* output would exceed its maximum */
	MIKEY_ERR_INVAL,	/* caller passed an invalid argument */
	MIKEY_ERR_CRYPTO,	/* libcrypto failed */
	MIKEY_ERR_AUTH,		/* MAC (V, ticket MAC, Vr) did not verify */
	MIKEY_ERR_TS,		/* timestamp outside the allowed window */
	MIKEY_ERR_REPLAY,	/* replay cache: seen before */
	MIKEY_ERR_TOO_OLD,	/* replay cache: older than a full cache */
	MIKEY_ERR_PRF,		/* PRF not supported */
	MIKEY_ERR_ALG,		/* encryption/MAC algorithm not supported */
	MIKEY_ERR_POLICY,	/* ticket policy flags inconsistent or refused */
	MIKEY_ERR_TICKET_TYPE,	/* ticket type not supported */
	MIKEY_ERR_EXPIRED,	/* ticket outside its validity period */
	MIKEY_ERR_NOT_AUTHORISED,	/* KMS policy refused */
	MIKEY_ERR_UNKNOWN_ID,	/* no credential for this identity */
	MIKEY_ERR_KEY_VERSION,	/* ticket sealed under an unknown master key */
	MIKEY_ERR_PEER,		/* peer answered with a MIKEY Error message */
	MIKEY_ERR_MISMATCH,	/* response does not match our request */
	MIKEY_ERR_LAST
};

/* mikey_strerror - stable text for a MIKEY_ERR_* code (never NULL) */
const char *mikey_strerror(int err);

/*
 * Where a decode failed: the code, the byte offset in the buffer given to
 * the decoder, the payload type being decoded (0 for HDR) and the field.
 */
struct mikey_diag {
	int		 err;
	size_t		 offset;
	int		 payload;	/* payload type, -1 = HDR, -2 = nested */
	const char	*field;		/* static string, e.g. "TS type" */
};

/* mikey_diag_format - "what at offset N in payload P" into buf */
void mikey_diag_format(const struct mikey_diag *d, char *buf, size_t len);

/* --------------------------------------------------------------------- */
/* Constants (RFC 3830 6, RFC 6043 6; names follow the RFC tables) */

enum mikey_data_type {
	MIKEY_DT_PSK_INIT = 0, MIKEY_DT_PSK_RESP = 1, MIKEY_DT_PK_INIT = 2,
	MIKEY_DT_PK_RESP = 3, MIKEY_DT_DH_INIT = 4, MIKEY_DT_DH_RESP = 5,
	MIKEY_DT_ERROR = 6, MIKEY_DT_DHHMAC_INIT = 7, MIKEY_DT_DHHMAC_RESP = 8,
	MIKEY_DT_RSAR_INIT = 9, MIKEY_DT_RSAR_RESP = 10,
	MIKEY_DT_REQUEST_INIT_PSK = 11, MIKEY_DT_REQUEST_INIT_PK = 12,
	MIKEY_DT_REQUEST_RESP = 13, MIKEY_DT_TRANSFER_INIT = 14,
	MIKEY_DT_TRANSFER_RESP = 15, MIKEY_DT_RESOLVE_INIT_PSK = 16,
	MIKEY_DT_RESOLVE_INIT_PK = 17, MIKEY_DT_RESOLVE_RESP = 18
};

enum mikey_pt {
	MIKEY_PT_LAST = 0, MIKEY_PT_KEMAC = 1, MIKEY_PT_PKE = 2,
	MIKEY_PT_DH = 3, MIKEY_PT_SIGN = 4, MIKEY_PT_T = 5, MIKEY_PT_ID = 6,
	MIKEY_PT_CERT = 7, MIKEY_PT_CHASH = 8, MIKEY_PT_V = 9,
	MIKEY_PT_SP = 10, MIKEY_PT_RAND = 11, MIKEY_PT_ERR = 12,
	MIKEY_PT_TR = 13, MIKEY_PT_IDR = 14, MIKEY_PT_RANDR = 15,
	MIKEY_PT_TP = 16, MIKEY_PT_TICKET = 17, MIKEY_PT_KEYDATA = 20,
	MIKEY_PT_GEXT = 21, MIKEY_PT_SAKKE = 26
};

enum mikey_prf_func { MIKEY_PRF_MIKEY1 = 0, MIKEY_PRF_HMAC_SHA256 = 1 };
enum mikey_map_type { MIKEY_MAP_SRTP = 0, MIKEY_MAP_EMPTY = 1,
	MIKEY_MAP_GENERIC = 2 };
enum mikey_ts_type { MIKEY_TS_NTP_UTC = 0, MIKEY_TS_NTP = 1,
	MIKEY_TS_COUNTER = 2, MIKEY_TS_NTP_UTC_32 = 3 };
enum mikey_encr_alg { MIKEY_ENCR_NULL = 0, MIKEY_ENCR_AES_CM_128 = 1,
	MIKEY_ENCR_AES_KW_128 = 2, MIKEY_ENCR_AES_CM_256 = 3 };
enum mikey_mac_alg { MIKEY_MAC_NULL = 0, MIKEY_MAC_HMAC_SHA1_160 = 1,
	MIKEY_MAC_HMAC_SHA256_256 = 2 };
enum mikey_id_type { MIKEY_ID_NAI = 0, MIKEY_ID_URI = 1, MIKEY_ID_BYTES = 2 };
enum mikey_id_role { MIKEY_ROLE_I = 1, MIKEY_ROLE_R = 2, MIKEY_ROLE_KMS = 3,
	MIKEY_ROLE_PSK = 4, MIKEY_ROLE_APP = 5, MIKEY_ROLE_KMSI = 6,
	MIKEY_ROLE_KMSR = 7 };
enum mikey_rand_role { MIKEY_RAND_I = 1, MIKEY_RAND_R = 2,
	MIKEY_RAND_KMS = 3 };
enum mikey_ts_role { MIKEY_TSR_ISSUE = 1, MIKEY_TSR_START = 2,
	MIKEY_TSR_END = 3, MIKEY_TSR_REKEY = 4 };
enum mikey_cert_type { MIKEY_CERT_X509 = 0, MIKEY_CERT_X509_URL = 1,
	MIKEY_CERT_X509_SIGN = 2, MIKEY_CERT_X509_ENCR = 3 };
enum mikey_hash_func { MIKEY_HASH_SHA1 = 0, MIKEY_HASH_MD5 = 1,
	MIKEY_HASH_SHA256 = 2 };
enum mikey_key_type { MIKEY_KEY_TGK = 0, MIKEY_KEY_TGK_SALT = 1,
	MIKEY_KEY_TEK = 2, MIKEY_KEY_TEK_SALT = 3, MIKEY_KEY_GTGK = 4,
	MIKEY_KEY_GTGK_SALT = 5, MIKEY_KEY_MPK = 6 };
enum mikey_kv_type { MIKEY_KV_NULL = 0, MIKEY_KV_SPI = 1,
	MIKEY_KV_INTERVAL = 2 };
enum mikey_sign_type { MIKEY_SIGN_RSA_PKCS1 = 0, MIKEY_SIGN_RSA_PSS = 1,
	MIKEY_SIGN_ECCSI = 2 };
enum mikey_errno {	/* ERR payload Error no (RFC 3830 6.12, 6043 6.9) */
	MIKEY_EN_AUTH = 0, MIKEY_EN_TS = 1, MIKEY_EN_PRF = 2, MIKEY_EN_MAC = 3,
	MIKEY_EN_EA = 4, MIKEY_EN_HA = 5, MIKEY_EN_DH = 6, MIKEY_EN_ID = 7,
	MIKEY_EN_CERT = 8, MIKEY_EN_SP = 9, MIKEY_EN_SPPAR = 10,
	MIKEY_EN_DT = 11, MIKEY_EN_UNSPEC = 12, MIKEY_EN_MSGTYPE = 13,
	MIKEY_EN_TICKET = 14, MIKEY_EN_TPPAR = 15
};
/* SP / GENERIC-ID Prot type: 0 SRTP (RFC 3830 6.10); 241 is imgate's
 * private-use value (RFC 3830 10: 241-255) for a CMS (S/MIME) session. */
enum mikey_prot_type { MIKEY_PROT_SRTP = 0, MIKEY_PROT_IMGATE_CMS = 241 };
enum mikey_ticket_type { MIKEY_TICKET_BASE = 1, MIKEY_TICKET_3GPP = 2 };

/* Ticket policy flags as masks on the 32-bit word at offset 4 of TP/TICKET
 * (RFC 6043 6.10; spec/mikey-ticket.md 4.15). */
#define MIKEY_TPF_D	0x00010000u
#define MIKEY_TPF_E	0x00008000u
#define MIKEY_TPF_F	0x00004000u
#define MIKEY_TPF_G	0x00002000u
#define MIKEY_TPF_H	0x00001000u
#define MIKEY_TPF_I	0x00000800u
#define MIKEY_TPF_J	0x00000400u
#define MIKEY_TPF_K	0x00000200u
#define MIKEY_TPF_L	0x00000100u
#define MIKEY_TPF_M	0x00000080u
#define MIKEY_TPF_N	0x00000040u
#define MIKEY_TPF_O	0x00000020u
#define MIKEY_TPF_ALL	0x0001ffe0u

/* Limits enforced by every decoder before anything else. */
#define MIKEY_MAX_MSG		65535	/* bytes of one message */
#define MIKEY_MAX_PAYLOADS	32	/* payloads in one chain */
#define MIKEY_MAX_CS		16	/* crypto sessions in a map */
#define MIKEY_MAX_KEYS		8	/* key data sub-payloads in a KEMAC */
#define MIKEY_MAX_SPPARAMS	32	/* policy params in one SP */
#define MIKEY_MAX_KEY		64	/* bytes of any key */

/* --------------------------------------------------------------------- */
/* Codec: data model */

/* An alias to bytes owned elsewhere (the decoded buffer or the caller). */
struct mikey_bytes {
	const uint8_t	*p;
	size_t		 len;
};

/* One crypto session of the CS ID map (SRTP-ID or GENERIC-ID). */
struct mikey_cs {
	/* SRTP-ID (RFC 3830 6.1.1); cs_id is the 1-based index */
	uint8_t		 policy_no;
	uint32_t	 ssrc;
	uint32_t	 roc;
	/* GENERIC-ID (RFC 6043 6.1.1) */
	uint8_t		 cs_id;
	uint8_t		 prot_type;
	uint8_t		 s_flag;
	struct mikey_bytes ps;		/* #P policy numbers */
	struct mikey_bytes session_data;
	struct mikey_bytes spi;
};

struct mikey_hdr {
	uint8_t		 version;	/* 1 */
	uint8_t		 data_type;
	uint8_t		 v_flag;
	uint8_t		 prf_func;
	uint32_t	 csb_id;
	uint8_t		 ncs;
	uint8_t		 map_type;
	struct mikey_cs	 cs[MIKEY_MAX_CS];
};

struct mikey_pl_kemac {
	uint8_t		 encr_alg;
	struct mikey_bytes encr_data;	/* key data chain, maybe encrypted */
	uint8_t		 mac_alg;
	struct mikey_bytes mac;
};
struct mikey_pl_pke {
	uint8_t		 c;
	struct mikey_bytes data;
};
struct mikey_pl_dh {
	uint8_t		 group;
	struct mikey_bytes value;
	uint8_t		 kv;
	struct mikey_bytes kv_data;
};
struct mikey_pl_sign {
	uint8_t		 s_type;
	struct mikey_bytes sig;
};
struct mikey_pl_ts {		/* T (role 0) and TR */
	uint8_t		 role;
	uint8_t		 ts_type;
	uint64_t	 value;	/* 32-bit types in the low bits */
};
struct mikey_pl_id {		/* ID, IDR (role != 0) and CERT */
	uint8_t		 role;
	uint8_t		 type;	/* ID type or Cert type */
	struct mikey_bytes data;
};
struct mikey_pl_chash {
	uint8_t		 func;
	struct mikey_bytes hash;
};
struct mikey_pl_v {
	uint8_t		 alg;
	struct mikey_bytes mac;
};
struct mikey_pl_sp {
	uint8_t		 policy_no;
	uint8_t		 prot_type;
	struct mikey_bytes params;	/* TLV list, mikey_sp_params_decode */
};
struct mikey_pl_rand {		/* RAND (role 0) and RANDR */
	uint8_t		 role;
	struct mikey_bytes rand;
};
struct mikey_pl_err {
	uint8_t		 errno_;
	uint16_t	 reserved;
};
struct mikey_pl_ticket {	/* TP and TICKET */
	uint16_t	 ticket_type;
	uint8_t		 subtype;
	uint8_t		 version;
	uint8_t		 prf_func;
	uint32_t	 flags;		/* MIKEY_TPF_* */
	struct mikey_bytes tp_data;	/* first byte + payload chain */
	struct mikey_bytes ticket_data;	/* TICKET only */
	struct mikey_bytes init_data;	/* TICKET only; may be empty */
};
struct mikey_pl_gext {
	uint8_t		 type;
	struct mikey_bytes data;
};
struct mikey_pl_sakke {
	uint8_t		 params;
	uint8_t		 id_scheme;
	struct mikey_bytes data;
};

struct mikey_payload {
	uint8_t		 type;		/* MIKEY_PT_* */
	/* decode only: where the payload starts (its NP byte) and its length
	 * in the decoded buffer; for V/SIGN also where the MAC begins */
	size_t		 off;
	size_t		 len;
	size_t		 mac_off;
	union {
		struct mikey_pl_kemac	kemac;
		struct mikey_pl_pke	pke;
		struct mikey_pl_dh	dh;
		struct mikey_pl_sign	sign;
		struct mikey_pl_ts	ts;
		struct mikey_pl_id	id;
		struct mikey_pl_chash	chash;
		struct mikey_pl_v	v;
		struct mikey_pl_sp	sp;
		struct mikey_pl_rand	rand;
		struct mikey_pl_err	err;
		struct mikey_pl_ticket	ticket;
		struct mikey_pl_gext	gext;
		struct mikey_pl_sakke	sakke;
	} u;
};

/* A chain of payloads: a message body, TP Data, Ticket Data. */
struct mikey_chain {
	size_t		 n;
	struct mikey_payload pl[MIKEY_MAX_PAYLOADS];
};

/* A whole MIKEY message.  Stack-allocatable (about 6 KB). */
struct mikey_msg {
	struct mikey_hdr hdr;
	struct mikey_chain body;
	/* decode only: the decoded buffer (alias) */
	struct mikey_bytes raw;
};

/* One key data sub-payload (RFC 3830 6.13, RFC 6043 6.2.1). */
struct mikey_keydata {
	uint8_t		 type;		/* MIKEY_KEY_* */
	uint8_t		 kv;		/* MIKEY_KV_* */
	struct mikey_bytes key;
	struct mikey_bytes salt;	/* *_SALT types only */
	struct mikey_bytes spi;		/* KV SPI */
	struct mikey_bytes valid_from;	/* KV Interval */
	struct mikey_bytes valid_to;
};

/* One SP policy parameter (RFC 3830 6.10). */
struct mikey_sp_param {
	uint8_t		 type;
	struct mikey_bytes value;
};

/* --------------------------------------------------------------------- */
/* Codec: functions */

/*
 * mikey_msg_decode - decode a whole message from buf.
 *	msg receives aliases into buf: keep buf alive while msg is used.
 *	diag (may be NULL) says where a failure was.  Unknown payload types,
 *	reserved or unknown values, inconsistent lengths and trailing bytes are
 *	errors.  Never reads outside buf.
 */
MIKEY_WUR int mikey_msg_decode(const uint8_t *buf, size_t len,
    struct mikey_msg *msg, struct mikey_diag *diag);

/*
 * mikey_msg_encode - encode msg into out (capacity cap).
 *	*len_out gets the length.  MIKEY_ERR_TOO_BIG if cap is too small.
 *	Next-payload fields are computed from the payload order.
 */
MIKEY_WUR int mikey_msg_encode(const struct mikey_msg *msg, uint8_t *out,
    size_t cap, size_t *len_out);

/*
 * mikey_chain_decode - decode a payload chain whose first type is first.
 *	Used for TP Data (first = tp_data.p[0], rest of tp_data),
 *	Ticket Data, Initiator Data and KEMAC-less nested chains.
 */
MIKEY_WUR int mikey_chain_decode(uint8_t first, const uint8_t *buf,
    size_t len, struct mikey_chain *ch, struct mikey_diag *diag);

/* mikey_chain_encode - write a payload chain (no leading first byte) */
MIKEY_WUR int mikey_chain_encode(const struct mikey_chain *ch, uint8_t *out,
    size_t cap, size_t *len_out);

/* mikey_tpdata_decode - TP Data = first-payload byte + chain */
MIKEY_WUR int mikey_tpdata_decode(struct mikey_bytes tp_data,
    struct mikey_chain *ch, struct mikey_diag *diag);
/* mikey_tpdata_encode - write first-payload byte + chain */
MIKEY_WUR int mikey_tpdata_encode(const struct mikey_chain *ch, uint8_t *out,
    size_t cap, size_t *len_out);

/*
 * mikey_ticketdata_decode - Ticket Type 1 Ticket Data:
 *	THDR (NP u8, len u16, data) then a chain starting with THDR's NP.
 *	thdr_out receives the THDR data alias.
 */
MIKEY_WUR int mikey_ticketdata_decode(struct mikey_bytes td,
    struct mikey_bytes *thdr_out, struct mikey_chain *ch,
    struct mikey_diag *diag);
MIKEY_WUR int mikey_ticketdata_encode(struct mikey_bytes thdr,
    const struct mikey_chain *ch, uint8_t *out, size_t cap, size_t *len_out);

/* mikey_keydata_decode - the key data sub-payload chain of a KEMAC */
MIKEY_WUR int mikey_keydata_decode(const uint8_t *buf, size_t len,
    struct mikey_keydata *kd, size_t max, size_t *n_out,
    struct mikey_diag *diag);
MIKEY_WUR int mikey_keydata_encode(const struct mikey_keydata *kd, size_t n,
    uint8_t *out, size_t cap, size_t *len_out);

/* mikey_sp_params_decode - the TLV list of an SP payload */
MIKEY_WUR int mikey_sp_params_decode(struct mikey_bytes params,
    struct mikey_sp_param *p, size_t max, size_t *n_out,
    struct mikey_diag *diag);
MIKEY_WUR int mikey_sp_params_encode(const struct mikey_sp_param *p,
    size_t n, uint8_t *out, size_t cap, size_t *len_out);

/* mikey_chain_find - the nth (0-based) payload of type in ch, or NULL.
 *	For IDR/RANDR/TR pass role >= 0 to match that role only. */
const struct mikey_payload *mikey_chain_find(const struct mikey_chain *ch,
    uint8_t type, int role, size_t nth);

/* mikey_chain_add - append a payload; NULL if the chain is full */
struct mikey_payload *mikey_chain_add(struct mikey_chain *ch, uint8_t type);

/* Implied lengths (RFC 3830 tables); -1 if the value is unknown. */
int mikey_ts_len(uint8_t ts_type);
int mikey_mac_len(uint8_t alg);
int mikey_hash_len(uint8_t func);
int mikey_dh_len(uint8_t group);

/* Names for dumps and logs ("?" if unknown). */
const char *mikey_data_type_name(uint8_t);
const char *mikey_payload_name(uint8_t);
const char *mikey_prf_name(uint8_t);
const char *mikey_map_type_name(uint8_t);
const char *mikey_ts_type_name(uint8_t);
const char *mikey_encr_name(uint8_t);
const char *mikey_mac_name(uint8_t);
const char *mikey_id_type_name(uint8_t);
const char *mikey_id_role_name(uint8_t);
const char *mikey_rand_role_name(uint8_t);
const char *mikey_ts_role_name(uint8_t);
const char *mikey_cert_type_name(uint8_t);
const char *mikey_hash_name(uint8_t);
const char *mikey_key_type_name(uint8_t);
const char *mikey_kv_name(uint8_t);
const char *mikey_errno_name(uint8_t);
const char *mikey_sign_type_name(uint8_t);
const char *mikey_ticket_type_name(uint16_t);
const char *mikey_sp_param_name(uint8_t prot, uint8_t type);

/* mikey_payload_decode - decode one payload of type t that fills buf
 *	(e.g. a stored TICKET payload, NP byte included).  Aliases buf. */
MIKEY_WUR int mikey_payload_decode(uint8_t t, const uint8_t *buf, size_t len,
    struct mikey_payload *pl, struct mikey_diag *diag);
/* mikey_payload_encode - encode one payload with next-payload value np */
MIKEY_WUR int mikey_payload_encode(const struct mikey_payload *pl, uint8_t np,
    uint8_t *out, size_t cap, size_t *len_out);

/* --------------------------------------------------------------------- */
/* The three roles of RFC 6043 (mikey_ticket.c, mikey_initiator.c,
 * mikey_responder.c, mikey_kms.c).  No I/O: messages in and out are byte
 * buffers; clock and randomness come from struct mikey_env. */

/* The clock: returns the current NTP-UTC 64-bit time. */
typedef uint64_t (*mikey_clock_cb)(void *arg);
struct mikey_rcache;

/* mikey_rand_cb - fill buf with len unpredictable bytes; 0 on success */
typedef int (*mikey_rand_cb)(void *arg, uint8_t *buf, size_t len);

struct mikey_env {
	mikey_clock_cb	 now;		/* NULL: system clock */
	void		*now_arg;
	mikey_rand_cb	 rand;		/* NULL: RAND_bytes */
	void		*rand_arg;
	uint32_t	 skew;		/* seconds allowed between clocks for
					 * REQUEST/RESOLVE (0: 300) */
};

/*
 * An algorithm suite: PRF, KEMAC encryption and V MAC.  RFC 6043 6.1,
 * 6.2: PRF-HMAC-SHA-256, AES-CM-256 and HMAC-SHA-256-256 go together.
 */
struct mikey_suite {
	uint8_t	prf;
	uint8_t	encr;
	uint8_t	mac;
};
extern const struct mikey_suite mikey_suite_128;	/* MIKEY-1, AES-CM-128, HMAC-SHA-1 */
extern const struct mikey_suite mikey_suite_256;	/* SHA-256 set */

#define MIKEY_MAX_ID		255	/* bytes of one identity we accept */
#define MIKEY_MAX_RESPONDERS	16	/* IDRr in one ticket policy */
#define MIKEY_MAX_TICKET	4096	/* bytes of one TICKET payload */
#define MIKEY_MAX_INIT		8192	/* bytes of an initial message kept */
#define MIKEY_RAND_LEN		32	/* bytes of every RAND we generate */

/* SPI values the KMS gives the MIKEY protection keys (base ticket). */
#define MIKEY_SPI_MPK	0xffffffffu
#define MIKEY_SPI_MPKI	0xfffffffeu
#define MIKEY_SPI_MPKR	0xfffffffdu

/* A key with its type and SPI; wiped by mikey_key_cleanup(). */
struct mikey_key {
	uint8_t	type;			/* MIKEY_KEY_* */
	uint8_t	key[MIKEY_MAX_KEY];
	size_t	key_len;
	uint8_t	salt[16];
	size_t	salt_len;
	uint8_t	spi[16];
	size_t	spi_len;
};
void mikey_key_cleanup(struct mikey_key *k);

/* An identity as carried in an IDR payload (type + data). */
struct mikey_id {
	uint8_t		 type;		/* MIKEY_ID_* */
	struct mikey_bytes data;
};

/*
 * A ticket policy, parsed from a TP or TICKET payload (aliases into it).
 * Times are NTP-UTC 64-bit values, 0 when absent (unbounded).
 */
struct mikey_policy {
	uint16_t	 ticket_type;
	uint8_t		 subtype;
	uint8_t		 version;
	uint8_t		 prf;
	uint32_t	 flags;
	int		 has_idkms, has_idi;
	struct mikey_id	 idkms;
	struct mikey_id	 idi;
	uint64_t	 start;
	uint64_t	 end;
	uint64_t	 rekey;		/* seconds, 0 absent */
	size_t		 nresp;
	struct mikey_id	 resp[MIKEY_MAX_RESPONDERS];
	size_t		 napp;
	struct mikey_id	 app[4];
	struct mikey_bytes kemac;	/* desired key data chain (TP only) */
};

/* mikey_policy_parse - fields of a TP/TICKET payload and its TP Data */
MIKEY_WUR int mikey_policy_parse(const struct mikey_payload *tp,
    struct mikey_policy *pol, struct mikey_diag *diag);
/* mikey_policy_check_flags - RFC 6043 6.10 flag dependencies
 *	(NOT D => L, G => F, NOT G => H, I => E, K => D, M => F) */
MIKEY_WUR int mikey_policy_check_flags(uint32_t flags);
/* mikey_policy_names - 1 if pol names id as a responder (exact match) */
int mikey_policy_names(const struct mikey_policy *pol,
    const struct mikey_id *id);

/* Ticket flags for the one-way profile: KMS-made (D), resolve via KMS (E),
 * no TRANSFER_RESP (F=0, G=0, H=1), reusable (J), standard (N, O).
 * spec/mikey-ticket.md 4.15. */
#define MIKEY_TPF_ONEWAY (MIKEY_TPF_D | MIKEY_TPF_E | MIKEY_TPF_H | \
	MIKEY_TPF_J | MIKEY_TPF_N | MIKEY_TPF_O)

/* ---- Ticket Type 1, the MIKEY base ticket (RFC 6043 Appendix A) ---- */

/*
 * The Ticket Protection Key.  For tickets a KMS makes, THDR Data carries
 * "IMGK" + the 32-bit master key version; for tickets an initiator makes
 * (mode 3/4), IDRpsk in the Ticket Data names the TPK.
 */
struct mikey_tpk {
	uint32_t	 version;	/* master key version (KMS tickets) */
	struct mikey_id	 idpsk;		/* or: IDRpsk (type 0 len 0 = none) */
	uint8_t		 key[MIKEY_MAX_KEY];
	size_t		 key_len;
};

/* mikey_tpk_lookup_cb - find the TPK for a ticket: by version (from THDR;
 *	has_version) or by IDRpsk (idpsk non-NULL).  Fill tpk->key. */
typedef int (*mikey_tpk_lookup_cb)(void *arg, int has_version,
    uint32_t version, const struct mikey_id *idpsk, struct mikey_tpk *tpk);

/* Keys carried in a ticket: the MPK and the session keys. */
struct mikey_ticket_keys {
	struct mikey_key mpk;
	size_t		 nkeys;
	struct mikey_key keys[MIKEY_MAX_KEYS];
	uint64_t	 issued;	/* Ticket Data T (NTP-UTC) */
	uint8_t		 rand[255];	/* Ticket Data RAND (K6, K7 input) */
	size_t		 rand_len;
	uint32_t	 version;	/* master key version, if any */
	int		 has_version;
};
void mikey_ticket_keys_cleanup(struct mikey_ticket_keys *tk);

/*
 * mikey_ticket_seal - build a TICKET payload (NP byte 0 included) holding
 *	policy tp (a TP-shaped payload: type, flags, prf, tp_data) and keys
 *	sealed under tpk (K6 keys, AES-CM and HMAC chosen by tp's PRF).
 */
MIKEY_WUR int mikey_ticket_seal(const struct mikey_env *env,
    const struct mikey_payload *tp, const struct mikey_tpk *tpk,
    const struct mikey_ticket_keys *keys, uint8_t *out, size_t cap,
    size_t *len_out);
/*
 * mikey_ticket_open - verify the ticket MAC (constant time) and decrypt
 *	its keys.  MIKEY_ERR_KEY_VERSION if lookup has no such TPK,
 *	MIKEY_ERR_AUTH if the MAC fails.  ticket is a decoded TICKET payload.
 */
MIKEY_WUR int mikey_ticket_open(const struct mikey_payload *ticket,
    mikey_tpk_lookup_cb lookup, void *arg, struct mikey_ticket_keys *out);

/* mikey_mpk_derive - MPKi or MPKr from the ticket MPK (K7, RFC 6043
 *	A.2.2) with the ticket's RAND; c = MIKEY_C_MPKI or MIKEY_C_MPKR. */
MIKEY_WUR int mikey_mpk_derive(uint8_t prf, const struct mikey_key *mpk,
    struct mikey_bytes ticket_rand, uint32_t c, struct mikey_key *out);
/* mikey_fork_derive - K4: MPKr' or TGK' for responder id and RANDRkms */
MIKEY_WUR int mikey_fork_derive(uint8_t prf, uint32_t c,
    const struct mikey_key *in, struct mikey_bytes id,
    struct mikey_bytes randrkms, struct mikey_key *out);
/* mikey_tek_derive - K3: a TEK (or salt, c = MIKEY_C_SALT_TGK) of len
 *	bytes from a TGK/GTGK for cs_id and the Ticket Transfer RANDs. */
MIKEY_WUR int mikey_tek_derive(uint8_t prf, const struct mikey_key *tgk,
    uint8_t cs_id, const struct mikey_bytes *randri,
    const struct mikey_bytes *randrr, uint32_t c, uint8_t *out, size_t len);

/* ---- Initiator ---- */

/* What an initiator asks the KMS for (REQUEST_INIT_PSK). */
struct mikey_request_params {
	struct mikey_id	 idi;		/* who asks (IDRi); may be empty */
	struct mikey_id	 idkms;		/* the KMS (IDRkms); may be empty */
	struct mikey_id	 idpsk;		/* names the PSK; may be empty */
	const uint8_t	*psk;		/* PSK(I, KMS) */
	size_t		 psk_len;
	struct mikey_suite suite;
	uint32_t	 flags;		/* desired MIKEY_TPF_* */
	uint8_t		 ticket_prf;	/* PRF of the ticket policy */
	uint64_t	 start, end;	/* desired validity (NTP), 0 = none */
	size_t		 nresp;		/* desired responders (IDRr) */
	struct mikey_id	 resp[MIKEY_MAX_RESPONDERS];
	size_t		 nkeys;		/* desired session keys: types and */
	uint8_t		 key_type[MIKEY_MAX_KEYS];	/* lengths */
	uint8_t		 key_len[MIKEY_MAX_KEYS];
};

/* State an initiator keeps between REQUEST_INIT and REQUEST_RESP. */
struct mikey_i_request {
	uint8_t		 init[MIKEY_MAX_INIT];
	size_t		 init_len;
	uint8_t		 psk[MIKEY_MAX_KEY];
	size_t		 psk_len;
	struct mikey_suite suite;
};
void mikey_i_request_cleanup(struct mikey_i_request *st);

/* A ticket as an initiator holds it, with the keys the KMS sent it. */
struct mikey_ticket {
	uint8_t		 payload[MIKEY_MAX_TICKET];	/* TICKET, NP 0 */
	size_t		 payload_len;
	struct mikey_key mpki;
	struct mikey_key mpkr;		/* key forking only */
	int		 has_mpkr;
	size_t		 nkeys;
	struct mikey_key keys[MIKEY_MAX_KEYS];
};
void mikey_ticket_cleanup(struct mikey_ticket *t);

/* mikey_i_request_init - build REQUEST_INIT_PSK (RFC 6043 4.2.1.1) */
MIKEY_WUR int mikey_i_request_init(const struct mikey_env *env,
    const struct mikey_request_params *p, struct mikey_i_request *st,
    uint8_t *out, size_t cap, size_t *len_out);
/*
 * mikey_i_request_resp - process REQUEST_RESP (4.2.1.6): verify V over
 *	RESP || INIT, decrypt the KEMAC, keep ticket and keys in *t.  An
 *	Error message gives MIKEY_ERR_PEER and its Error no in *peer_errno.
 */
MIKEY_WUR int mikey_i_request_resp(const struct mikey_env *env,
    const struct mikey_i_request *st, const uint8_t *msg, size_t len,
    struct mikey_ticket *t, int *peer_errno, struct mikey_diag *diag);

/*
 * mikey_i_ticket_make - modes 3 and 4 (RFC 6043 4.1.1): the initiator
 *	makes the ticket itself (flags without D, with L), sealed under a TPK
 *	it shares with the KMS (mode 3) or the responder (mode 4), named by
 *	tpk->idpsk.  Uses p's policy fields (idi, validity, responders,
 *	desired keys, flags, ticket_prf); no message is sent.
 */
MIKEY_WUR int mikey_i_ticket_make(const struct mikey_env *env,
    const struct mikey_request_params *p, const struct mikey_tpk *tpk,
    struct mikey_ticket *t);

/* What a TRANSFER_INIT describes. */
struct mikey_transfer_params {
	struct mikey_id	 idi;		/* IDRi, may be empty */
	struct mikey_id	 idr;		/* IDRr, may be empty */
	struct mikey_suite suite;	/* HDR PRF and V MAC */
	uint8_t		 ncs;		/* GENERIC-ID map */
	struct mikey_cs	 cs[MIKEY_MAX_CS];
	size_t		 nsp;		/* SP payloads */
	struct mikey_pl_sp sp[4];
};

/* What the initiator keeps of a Ticket Transfer. */
struct mikey_i_transfer {
	uint8_t		 init[MIKEY_MAX_INIT];	/* TRANSFER_INIT (for F=1) */
	size_t		 init_len;
	uint32_t	 csb_id;
	uint8_t		 prf;
	uint32_t	 flags;		/* the ticket's */
	uint8_t		 randri[MIKEY_RAND_LEN];
	size_t		 randri_len;
	uint8_t		 randrr[255];	/* from TRANSFER_RESP (G = 1) */
	size_t		 randrr_len;
	uint8_t		 tprf;		/* the ticket policy's PRF */
	uint8_t		 fork_id[MIKEY_MAX_ID];	/* forking modifier from */
	size_t		 fork_id_len;		/* TRANSFER_RESP (I = 1) */
	uint8_t		 randrkms[255];
	size_t		 randrkms_len;
};

/*
 * mikey_i_transfer_init - build TRANSFER_INIT (4.2.2.1) with ticket t:
 *	HDR V = F, fresh T, RANDRi, IDRi, IDRr, SP, TICKET, V (MPKi).
 */
MIKEY_WUR int mikey_i_transfer_init(const struct mikey_env *env,
    const struct mikey_ticket *t, const struct mikey_transfer_params *p,
    struct mikey_i_transfer *st, uint8_t *out, size_t cap, size_t *len_out);
/* mikey_i_transfer_resp - process TRANSFER_RESP (4.2.2.4; F = 1 only) */
MIKEY_WUR int mikey_i_transfer_resp(const struct mikey_env *env,
    const struct mikey_ticket *t, struct mikey_i_transfer *st,
    const uint8_t *msg, size_t len, struct mikey_diag *diag);
/* mikey_i_transfer_tek - the TEK for cs_id (K3, first TGK of the ticket) */
MIKEY_WUR int mikey_i_transfer_tek(const struct mikey_ticket *t,
    const struct mikey_i_transfer *st, uint8_t cs_id, uint8_t *tek,
    size_t len);

/* ---- Responder ---- */

/* A received TRANSFER_INIT (aliases into the caller's buffer). */
struct mikey_r_transfer {
	struct mikey_msg msg;
	struct mikey_policy pol;
	const struct mikey_payload *ticket;
	struct mikey_bytes randri;
	struct mikey_id	 idi;
	struct mikey_id	 idr;
	uint64_t	 t;		/* its T as NTP-UTC 64 */
};

/*
 * mikey_r_transfer_parse - decode a TRANSFER_INIT and apply the checks
 *	that need no key (4.2.2.2 early reject): structure, ticket policy
 *	flags, validity at now() (MIKEY_ERR_EXPIRED), that me (if non-NULL)
 *	is named or may act for a named responder is left to the caller.
 */
MIKEY_WUR int mikey_r_transfer_parse(const struct mikey_env *env,
    const uint8_t *msg, size_t len, struct mikey_r_transfer *x,
    struct mikey_diag *diag);
/*
 * mikey_r_ticket_parse - set x up from a bare TICKET payload (NP byte
 *	included, e.g. struct mikey_ticket's payload) instead of a
 *	TRANSFER_INIT: for parties that resolve a ticket without a message
 *	(a list server, a network function, a test tool).  The same policy
 *	checks as mikey_r_transfer_parse; x->msg.hdr.data_type is 0 and
 *	mikey_r_resolve_resp then has no TRANSFER_INIT to verify.
 */
MIKEY_WUR int mikey_r_ticket_parse(const struct mikey_env *env,
    const uint8_t *ticket, size_t len, struct mikey_r_transfer *x,
    struct mikey_diag *diag);

/* A responder's credential with its KMS. */
struct mikey_cred {
	struct mikey_id	 id;		/* IDRr (or IDRi at request time) */
	struct mikey_id	 idkms;
	struct mikey_id	 idpsk;
	const uint8_t	*psk;
	size_t		 psk_len;
	struct mikey_suite suite;
};

struct mikey_r_resolve {
	uint8_t		 init[MIKEY_MAX_INIT];	/* our RESOLVE_INIT */
	size_t		 init_len;
	uint8_t		 psk[MIKEY_MAX_KEY];
	size_t		 psk_len;
	struct mikey_suite suite;
};
void mikey_r_resolve_cleanup(struct mikey_r_resolve *st);

/* The keys a resolve gives the responder. */
struct mikey_resolved {
	struct mikey_key mpki;
	struct mikey_key mpkr;		/* forked MPKr' if forking */
	int		 has_mpkr;
	size_t		 nkeys;
	struct mikey_key keys[MIKEY_MAX_KEYS];
	struct mikey_id	 idr;		/* IDRr the KMS answered with */
	uint8_t		 idr_buf[MIKEY_MAX_ID];
	uint8_t		 randrkms[255];
	size_t		 randrkms_len;
};
void mikey_resolved_cleanup(struct mikey_resolved *r);

/* mikey_r_resolve_init - build RESOLVE_INIT_PSK (4.2.3.1) for x's ticket */
MIKEY_WUR int mikey_r_resolve_init(const struct mikey_env *env,
    const struct mikey_r_transfer *x, const struct mikey_cred *me,
    struct mikey_r_resolve *st, uint8_t *out, size_t cap, size_t *len_out);
/* mikey_r_resolve_resp - process RESOLVE_RESP (4.2.3.6): verify V, take
 *	the keys, then verify the TRANSFER_INIT with MPKi. */
MIKEY_WUR int mikey_r_resolve_resp(const struct mikey_env *env,
    const struct mikey_r_resolve *st, const struct mikey_r_transfer *x,
    const uint8_t *msg, size_t len, struct mikey_resolved *out,
    int *peer_errno, struct mikey_diag *diag);
/*
 * mikey_r_open_ticket - modes 2 and 4 (E = 0): open the ticket with the
 *	responder's own TPK instead of resolving, then verify the
 *	TRANSFER_INIT.  MIKEY_ERR_POLICY if E = 1.
 */
MIKEY_WUR int mikey_r_open_ticket(const struct mikey_r_transfer *x,
    mikey_tpk_lookup_cb lookup, void *arg, struct mikey_resolved *out);
/* mikey_r_transfer_verify - verify x's V with resolved keys (for a
 *	resolved-key cache: a new TRANSFER_INIT with a known ticket). */
MIKEY_WUR int mikey_r_transfer_verify(const struct mikey_r_transfer *x,
    const struct mikey_resolved *keys);
/* mikey_r_transfer_tek - TEK for cs_id after verification (K3) */
MIKEY_WUR int mikey_r_transfer_tek(const struct mikey_r_transfer *x,
    const struct mikey_resolved *keys, const struct mikey_bytes *randrr,
    uint8_t cs_id, uint8_t *tek, size_t len);
/* mikey_r_transfer_resp - build TRANSFER_RESP (4.2.2.3; F = 1) with a
 *	fresh RANDRr when G = 1 (copied to randrr_out, capacity 255) */
MIKEY_WUR int mikey_r_transfer_resp(const struct mikey_env *env,
    const struct mikey_r_transfer *x, const struct mikey_resolved *keys,
    uint8_t *randrr_out, size_t *randrr_len, uint8_t *out, size_t cap,
    size_t *len_out);

/* ---- KMS ---- */

/* The grant the KMS policy decides for a Ticket Request. */
struct mikey_grant {
	struct mikey_id	 idi;		/* IDRi of the ticket: the desired
					 * one, else the requester */
	uint32_t	 flags;
	uint8_t		 prf;
	uint64_t	 start, end;	/* NTP; the KMS fills defaults first */
	size_t		 nresp;
	struct mikey_id	 resp[MIKEY_MAX_RESPONDERS];
};

struct mikey_kms_ops {
	/* the PSK shared with identity id (or named by idpsk) */
	int (*psk)(void *arg, const struct mikey_id *id,
	    const struct mikey_id *idpsk, uint8_t *key, size_t *key_len);
	/* the TPK to seal new tickets with (current master key) */
	int (*current_tpk)(void *arg, struct mikey_tpk *tpk);
	/* find a TPK to open a ticket */
	mikey_tpk_lookup_cb lookup_tpk;
	/* may requester get this grant?  May narrow it (then K is set). */
	int (*authorise_request)(void *arg, const struct mikey_id *requester,
	    struct mikey_grant *g);
	/* may requester resolve a ticket with this policy? */
	int (*authorise_resolve)(void *arg, const struct mikey_id *requester,
	    const struct mikey_policy *pol);
};

struct mikey_kms_conf {
	struct mikey_id	 id;		/* IDRkms, may be empty */
	uint32_t	 lifetime;	/* seconds, when the request has no TRe */
	uint32_t	 max_lifetime;	/* seconds, 0 = lifetime */
	struct mikey_rcache *rc;	/* replay cache of initial messages */
	const struct mikey_kms_ops *ops;
	void		*arg;
};

/* What the KMS did, for its log and metrics. */
struct mikey_kms_result {
	uint8_t		 data_type;	/* of the request */
	int		 err;		/* 0 or MIKEY_ERR_* */
	int		 errno_;	/* ERR payload sent, -1 none */
	struct mikey_id	 requester;	/* alias into the request */
	uint32_t	 key_version;
};

/*
 * mikey_kms_process - answer one REQUEST_INIT_PSK or RESOLVE_INIT_PSK
 *	(4.2.1.4, 4.2.3.4): the response, or a MIKEY Error message (data type
 *	6, HDR T ERR, unauthenticated), in out.  Returns 0 whenever out holds
 *	something to send; MIKEY_ERR_* when nothing can be answered (input
 *	not even a MIKEY header).  res tells the outcome either way.
 */
MIKEY_WUR int mikey_kms_process(const struct mikey_env *env,
    const struct mikey_kms_conf *conf, const uint8_t *in, size_t len,
    uint8_t *out, size_t cap, size_t *len_out, struct mikey_kms_result *res);

/* mikey_error_msg - a MIKEY Error message answering hdr with errno_ */
MIKEY_WUR int mikey_error_msg(const struct mikey_env *env,
    const struct mikey_hdr *hdr, uint8_t errno_, uint8_t *out, size_t cap,
    size_t *len_out);
/* mikey_err_to_errno - the ERR payload Error no for a MIKEY_ERR_* code */
uint8_t mikey_err_to_errno(int err);

/* --------------------------------------------------------------------- */
/* Key derivation (mikey_prf.c): RFC 3830 4.1.2-4.1.4, RFC 6043 5.1, A.2 */

/*
 * mikey_prf - the PRF of RFC 3830 4.1.2 (prf MIKEY_PRF_MIKEY1) or
 *	RFC 6043 6.1 (MIKEY_PRF_HMAC_SHA256).  out_len in bytes.
 */
MIKEY_WUR int mikey_prf(uint8_t prf, const uint8_t *inkey, size_t inkey_len,
    const uint8_t *label, size_t label_len, uint8_t *out, size_t out_len);

/* Constants of the labels (RFC 3830 4.1.3/4.1.4, RFC 6043 5.1, A.2). */
#define MIKEY_C_TEK	0x2AD01C64u
#define MIKEY_C_AUTH_TGK 0x1B5C7973u
#define MIKEY_C_ENCR_TGK 0x15798CEFu
#define MIKEY_C_SALT_TGK 0x39A2C14Bu
#define MIKEY_C_ENCR	0x150533E1u
#define MIKEY_C_AUTH	0x2D22AC75u
#define MIKEY_C_SALT	0x29B88916u
#define MIKEY_C_MPKR_FORK 0x2B288856u
#define MIKEY_C_TGK_FORK 0x1512B54Au
#define MIKEY_C_MPKI	0x220E99A2u
#define MIKEY_C_MPKR	0x1F4D675Bu

/* The direction/usage byte after the CSB ID in RFC 6043 labels. */
enum mikey_label_kind {
	MIKEY_LBL_FORK = 0x00,	/* K4 */
	MIKEY_LBL_INIT = 0x01,	/* K1 */
	MIKEY_LBL_RESP = 0x02,	/* K2 */
	MIKEY_LBL_TGK = 0x03,	/* K3 */
	MIKEY_LBL_VR = 0x04,	/* K5 */
	MIKEY_LBL_TPK = 0x05,	/* K6 */
	MIKEY_LBL_MPK = 0x06	/* K7 */
};

/*
 * mikey_label_msg - K1/K2 label: C || 0xFF || CSB ID || kind || lenRi ||
 *	RANDRi || lenRr || RANDRr.  A NULL rand means length 0.
 *	Returns the label length, or 0 if lab_cap is too small.
 */
size_t mikey_label_msg(uint32_t c, uint32_t csb_id, uint8_t kind,
    const struct mikey_bytes *randri, const struct mikey_bytes *randrr,
    uint8_t *lab, size_t lab_cap);
/* mikey_label_tgk - K3: C || CS ID || 0xFFFFFFFF || 0x03 || Ri || Rr */
size_t mikey_label_tgk(uint32_t c, uint8_t cs_id,
    const struct mikey_bytes *randri, const struct mikey_bytes *randrr,
    uint8_t *lab, size_t lab_cap);
/* mikey_label_fork - K4: C || 0xFF || 0xFFFFFFFF || 0x00 || lenID(16) ||
 *	ID || lenRkms(8) || RANDRkms */
size_t mikey_label_fork(uint32_t c, struct mikey_bytes id,
    struct mikey_bytes randrkms, uint8_t *lab, size_t lab_cap);
/* mikey_label_fixed - K5/K6/K7: C || 0xFF || 0xFFFFFFFF || kind
 *	[|| lenRAND || RAND] (rand NULL for K5) */
size_t mikey_label_fixed(uint32_t c, uint8_t kind,
    const struct mikey_bytes *rand, uint8_t *lab, size_t lab_cap);

/*
 * Message protection keys derived from one inkey and one label family.
 *	Wiped by mikey_msgkeys_cleanup().
 */
struct mikey_msgkeys {
	uint8_t	encr[32];	size_t encr_len;
	uint8_t	salt[14];	size_t salt_len;
	uint8_t	auth[32];	size_t auth_len;
};
/*
 * mikey_msgkeys_derive - K1/K2 (csb_id, kind INIT/RESP, RANDs) or K6
 *	(kind TPK, rand = ticket RAND; csb_id ignored) keys for encr_alg and
 *	mac_alg (either may be NULL: that key is not derived).
 */
MIKEY_WUR int mikey_msgkeys_derive(uint8_t prf, const uint8_t *inkey,
    size_t inkey_len, uint32_t csb_id, uint8_t kind,
    const struct mikey_bytes *randri, const struct mikey_bytes *randrr,
    uint8_t encr_alg, uint8_t mac_alg, struct mikey_msgkeys *k);
void mikey_msgkeys_cleanup(struct mikey_msgkeys *k);

/* --------------------------------------------------------------------- */
/* Encryption and MAC (mikey_crypto.c): RFC 3830 4.2.3, 4.2.4; 6043 6.2 */

/*
 * mikey_kemac_crypt - AES-CM (encr 1, 3) or NULL (0) on KEMAC data:
 *	IV = (salt XOR (0x0000 || csb_id || ts64)) || 0x0000.  Same call
 *	encrypts and decrypts.  out may equal in.  AES-KW (2) is in
 *	mikey_kemac_wrap/unwrap since its output length differs.
 */
MIKEY_WUR int mikey_kemac_crypt(uint8_t encr_alg, const uint8_t *key,
    const uint8_t *salt, uint32_t csb_id, uint64_t ts64, const uint8_t *in,
    size_t len, uint8_t *out);
/* AES-KW-128 with the 64-bit salt key as RFC 3394 IV (len multiple of 8) */
MIKEY_WUR int mikey_kemac_wrap(const uint8_t *key, const uint8_t *iv8,
    const uint8_t *in, size_t len, uint8_t *out, size_t *out_len);
MIKEY_WUR int mikey_kemac_unwrap(const uint8_t *key, const uint8_t *iv8,
    const uint8_t *in, size_t len, uint8_t *out, size_t *out_len);

/* mikey_mac - HMAC of alg over the concatenation of n byte strings */
MIKEY_WUR int mikey_mac(uint8_t alg, const uint8_t *key, size_t key_len,
    const struct mikey_bytes *parts, size_t n, uint8_t *out);
/* mikey_mac_verify - constant-time check of mac against the parts */
MIKEY_WUR int mikey_mac_verify(uint8_t alg, const uint8_t *key,
    size_t key_len, const struct mikey_bytes *parts, size_t n,
    const uint8_t *mac, size_t mac_len);

/* mikey_ts64 - the 64-bit value a timestamp payload feeds the IV / PRF */
uint64_t mikey_ts64(const struct mikey_pl_ts *ts);

/* mikey_cleanse - wipe memory that held keys */
void mikey_cleanse(void *p, size_t len);


/* --------------------------------------------------------------------- */
/* Time (NTP-UTC, RFC 3830 6.6) */

/* mikey_ntp_from_unix - NTP-UTC 64-bit value for Unix seconds + nanoseconds */
uint64_t mikey_ntp_from_unix(int64_t sec, uint32_t nsec);
/* mikey_ntp_to_unix - Unix seconds for an NTP-UTC 64-bit value (era 0/1
 *	window 1968-2104 of RFC 4330, as RFC 6043 6.3 requires) */
int64_t mikey_ntp_to_unix(uint64_t ntp);

/* --------------------------------------------------------------------- */
/* The modified replay cache (mikey_rcache.c)
 *
 * design.md section 3 and spec/smime-sip.md 2.6 (seed 002): no time window
 * for old messages, a bounded number of entries instead.  An entry is a
 * digest of an authenticated message plus its timestamp.  A message is
 *	- a replay (MIKEY_ERR_REPLAY) if its digest is cached;
 *	- accepted and inserted if the cache is not full;
 *	- accepted, inserted and the oldest evicted if the cache is full and
 *	  its timestamp is newer than the oldest cached one;
 *	- rejected (MIKEY_ERR_TOO_OLD) otherwise: a full cache can no longer
 *	  prove it is not a replay;
 *	- rejected (MIKEY_ERR_TS) if its timestamp is in the future beyond the
 *	  configured skew.
 * Insert only after the message's V verified.  One cache per recipient.
 */
struct mikey_rcache;

#define MIKEY_RC_DIGEST	16	/* bytes of digest kept per entry */


/*
 * mikey_rcache_new - a cache holding at most max_entries entries.
 *	future_skew: seconds a timestamp may be ahead of now().  now may be
 *	NULL (the system clock is used).  The hash table is seeded at random.
 *	Free with mikey_rcache_free().  NULL on allocation failure.
 */
struct mikey_rcache *mikey_rcache_new(size_t max_entries,
    uint32_t future_skew, mikey_clock_cb now, void *now_arg);
/* mikey_rcache_entries_for_bytes - max_entries that fit in a byte budget */
size_t mikey_rcache_entries_for_bytes(size_t bytes);
void mikey_rcache_free(struct mikey_rcache *rc);

/* mikey_sha256 - SHA-256 of buf into out, with the implementation fetched
 *	once per process (OpenSSL 3 looks EVP_sha256() up on every use) */
MIKEY_WUR int mikey_sha256(const uint8_t *buf, size_t len, uint8_t out[32]);
/*
 * mikey_rcache_digest - the entry key for a message: a digest of its bytes
 *	(for TRANSFER_INIT: the whole authenticated message).
 */
MIKEY_WUR int mikey_rcache_digest(const uint8_t *msg, size_t len,
    uint8_t digest[MIKEY_RC_DIGEST]);

/* mikey_rcache_check - would (digest, ts) be accepted?  Changes nothing. */
MIKEY_WUR int mikey_rcache_check(const struct mikey_rcache *rc,
    const uint8_t digest[MIKEY_RC_DIGEST], uint64_t ts);
/* mikey_rcache_insert - check, then insert (evicting the oldest if full). */
MIKEY_WUR int mikey_rcache_insert(struct mikey_rcache *rc,
    const uint8_t digest[MIKEY_RC_DIGEST], uint64_t ts);

size_t mikey_rcache_count(const struct mikey_rcache *rc);
size_t mikey_rcache_max(const struct mikey_rcache *rc);
/* mikey_rcache_oldest - oldest cached timestamp; 0 if empty */
uint64_t mikey_rcache_oldest(const struct mikey_rcache *rc);

/*
 * mikey_rcache_serialise - a versioned, self-checking image of the cache
 *	(entries, order, limits) for the queue to persist.  *out is malloc'd;
 *	the caller frees it with free().
 */
MIKEY_WUR int mikey_rcache_serialise(const struct mikey_rcache *rc,
    uint8_t **out, size_t *len_out);
/*
 * mikey_rcache_load - replace rc's content with an image.  Rejects unknown
 *	versions, bad checksums and inconsistent images (rc unchanged then).
 *	If the image holds more entries than rc's maximum the oldest are
 *	dropped.
 */
MIKEY_WUR int mikey_rcache_load(struct mikey_rcache *rc, const uint8_t *buf,
    size_t len);
/* mikey_rcache_check_invariants - for tests: 0 if the structure is sound */
int mikey_rcache_check_invariants(const struct mikey_rcache *rc);

#endif /* MIKEY_H */
