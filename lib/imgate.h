/*
 * imgate.h - libimgate: protect and open SIP MESSAGE bodies end to end
 * with S/MIME keyed by MIKEY-TICKET (public API)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	A user agent (or the imgate gateway) holds one struct imgate_ctx per
 *	identity it speaks for: its URI, its KMS, its PSK with that KMS.
 *
 *	imgate_wrap() turns a body into a protected one for a set of
 *	recipients: a ticket from the context's ticket cache (keyed by the
 *	sender and the sorted recipient set; a REQUEST_INIT to the KMS only
 *	when none is cached or the cached one is near its end), a fresh
 *	TRANSFER_INIT per message (one-way profile: no TRANSFER_RESP, so it
 *	works for recipients who are offline), its TEK as the CMS
 *	key-encryption key, message/cpim inside AuthEnvelopedData, and the
 *	two as a multipart/mixed body (spec/smime-sip.md 2.3, 2.4, 6.1, 6.2).
 *	In steady state wrapping makes no KMS call.
 *
 *	imgate_unwrap() does the reverse for the recipient: the ticket is
 *	resolved at the KMS once (RESOLVE_INIT; the KMS decides whether this
 *	identity may) and its keys kept in a resolved-key cache, every
 *	TRANSFER_INIT is verified (V), checked against the modified replay
 *	cache (spec/smime-sip.md 2.6: no time window, oldest-first delivery
 *	of stored messages is accepted), and the envelope opened.  The
 *	verified sender is the ticket's initiator (IDRi), proven by the KMS;
 *	when it differs from the SIP From, the caller shows the verified one
 *	(design.md section 3, inbound step 4).
 *
 *	The library does not log and never exits.  It makes network calls
 *	only through the KMS transport: a callback the caller may set
 *	(synchronous, or asynchronous: below), or the built-in blocking
 *	HTTP/HTTPS client (POSIX sockets, OpenSSL).
 *	Keys, tickets and plaintext are wiped when freed.
 *
 *	ASYNCHRONOUS MODE.  An event-driven caller that must never block on
 *	the KMS gives the context an imgate_async_cb (imgate_ctx_set_async).
 *	Then a wrap or unwrap that needs the KMS (a ticket request, a
 *	resolve) builds its request, hands it to the callback, which only
 *	starts sending it, and returns IMGATE_ERR_PENDING at once, with
 *	imgate_pending_id() naming the exchange.  The context keeps what the
 *	answer's processing needs (the PSK-keyed request state, the ticket),
 *	nothing of the message: no key is taken and, for unwrap, the replay
 *	cache is not touched before the answer.  When the transport has the
 *	answer (or knows it failed), the caller gives it to imgate_kms_done(),
 *	which fills the ticket or resolved-key cache; the caller then calls
 *	every operation that waited for that id again (same arguments): they
 *	find the cache filled and complete without the KMS.  If
 *	imgate_kms_done() fails, they fail with its code instead.  While an
 *	exchange for a recipient set or a ticket is under way, other
 *	operations that need the same one wait for it (the same id) instead
 *	of starting another.  Everything that does not need the KMS (a
 *	cached ticket, a cached key) completes at once as in the synchronous
 *	mode, with the same results and codes.
 *
 * THREADS
 *	A context is not locked: use one context from one thread at a time
 *	(a UA with an event loop runs the library on a worker thread, or
 *	uses the asynchronous mode above: imgate_kms_done() is then called
 *	from the loop's thread like every other call).  Different contexts
 *	may be used from different threads at once.
 *
 * ERRORS
 *	Every function that can fail returns 0 or an IMGATE_ERR_* code;
 *	imgate_strerror() names it, imgate_sip_status() gives the SIP
 *	response for it (design.md section 5), imgate_last_detail() and
 *	imgate_last_cause() say what the layer below (MIKEY, S/MIME, the
 *	transport) reported, for the log.  Output parameters are written
 *	only on success.
 */
#ifndef IMGATE_H
#define IMGATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __GNUC__
#define IMGATE_WUR __attribute__((warn_unused_result))
#else
#define IMGATE_WUR
#endif

/* --------------------------------------------------------------------- */
/* Errors and the SIP answers they stand for (design.md section 5) */

enum imgate_err {
	IMGATE_OK = 0,
	IMGATE_ERR_BASE = 0x494700,	/* "IG" */
	/* 500: out of memory */
	IMGATE_ERR_NOMEM = IMGATE_ERR_BASE,
	/* 500: the caller passed an invalid argument (a bad URI, no
	 * recipient, a bad Content-Type, a bad option) */
	IMGATE_ERR_INVAL,
	/* 500: libcrypto or the library failed, not the input */
	IMGATE_ERR_INTERNAL,
	/* 400: malformed multipart body, MIKEY message, CMS or CPIM */
	IMGATE_ERR_MALFORMED,
	/* 400: the TRANSFER_INIT's time is in the future beyond the skew */
	IMGATE_ERR_TIMESTAMP,
	/* 413: body over the context's max_body */
	IMGATE_ERR_TOO_BIG,
	/* 415: not multipart/mixed with exactly one application/mikey and
	 * one application/pkcs7-mime part (answer with Accept:
	 * multipart/mixed, application/pkcs7-mime, application/mikey) */
	IMGATE_ERR_CONTENT_TYPE,
	/* 493: undecipherable: the TRANSFER_INIT's MAC (V), the CMS tag or
	 * key unwrap failed, the envelope names no key of this
	 * TRANSFER_INIT (keyIdentifier is not its CSB ID || CS ID), or the
	 * KMS refused to resolve with MIKEY ERR 0 (the ticket's MAC, or our
	 * credential: the KMS's unauthenticated answer does not say which;
	 * the detail does not either, the KMS log does) */
	IMGATE_ERR_UNDECIPHERABLE,
	/* 403: this TRANSFER_INIT was accepted before (replay cache) */
	IMGATE_ERR_REPLAY,
	/* 403: older than every entry of a full replay cache: it can no
	 * longer be told from a replay (deliver stored messages oldest
	 * first, spec/smime-sip.md 2.6) */
	IMGATE_ERR_TOO_OLD,
	/* 403: the ticket is outside its validity period (locally, or the
	 * KMS said so: MIKEY ERR 1, which also covers a clock that differs
	 * from the KMS's by more than its skew) */
	IMGATE_ERR_EXPIRED,
	/* 403: the KMS refused by policy (MIKEY ERR 12 with a 4xx): this
	 * identity may not resolve the ticket (not a recipient), or may not
	 * send as this From (no act_for) */
	IMGATE_ERR_NOT_AUTHORISED,
	/* 403: the ticket or the message is not imgate's one-way profile
	 * (flags F, G or I; no initiator; another crypto session), or the
	 * KMS refused the ticket (ERR 14 unknown master key version, ERR 15) */
	IMGATE_ERR_POLICY,
	/* 403: the identities disagree: CPIM From or the signer's
	 * subjectAltName URI is not the ticket's initiator
	 * (spec/smime-sip.md 1.7) */
	IMGATE_ERR_IDENTITY,
	/* 403: a signature that does not verify, an untrusted signer, or no
	 * signature where the context requires one */
	IMGATE_ERR_SIGNATURE,
	/* 500: the KMS does not accept this context's credential (MIKEY ERR
	 * 0 to a ticket request, ERR 7: unknown identity or wrong PSK):
	 * local configuration */
	IMGATE_ERR_CREDENTIAL,
	/* 503 with Retry-After: the KMS is unreachable, timed out, answered
	 * with a server error or with something that is not a MIKEY answer
	 * that verifies */
	IMGATE_ERR_KMS_UNAVAILABLE,
	/* not a failure: the operation needs a KMS exchange that the
	 * asynchronous transport has started (or that is already under way
	 * for the same ticket); call it again after imgate_kms_done().
	 * imgate_sip_status() gives 100 for it: never answer a MESSAGE
	 * with it, wait (asynchronous mode, imgate_ctx_set_async) */
	IMGATE_ERR_PENDING,
	IMGATE_ERR_LAST
};

/* imgate_strerror - stable text for an IMGATE_ERR_* code (never NULL) */
const char *imgate_strerror(int err);

/*
 * imgate_sip_status - the SIP status code to answer a MESSAGE with when
 *	an operation failed with err (the table above): 400, 403, 413, 415,
 *	493, 500 or 503; 200 for 0; 100 for IMGATE_ERR_PENDING, which is no
 *	answer (the operation is not over).  Put imgate_strerror(err) in a
 *	"Warning: 399" header; never the detail (it may name key ids).
 */
int imgate_sip_status(int err);

/*
 * imgate_init - initialise the libraries below (GMime) once.  Optional:
 *	every entry point does it too.  A threaded program should call it in
 *	main before it starts threads (GLib's once-initialisation is not
 *	visible to ThreadSanitizer, smime/smime.h smime_init()).
 */
void imgate_init(void);

/* --------------------------------------------------------------------- */
/* Limits */

#define IMGATE_MAX_RECIPIENTS	16	/* recipients of one wrap */
#define IMGATE_MAX_URI		255	/* bytes of an identity URI */
#define IMGATE_MAX_PSK		64	/* bytes of a PSK (16..64) */
#define IMGATE_DEFAULT_MAX_BODY	65536	/* max_body when 0 is given */
#define IMGATE_MAX_ADDRS	32	/* CPIM To and cc kept in a result */
#define IMGATE_MAX_PENDING	1024	/* KMS exchanges under way in one
					 * context (asynchronous mode) */

/* --------------------------------------------------------------------- */
/* The KMS transport */

/*
 * imgate_transport_cb - send one MIKEY message to the KMS and return its
 *	answer: an HTTP/1.1 POST of req (Content-Type: application/mikey) to
 *	url (kms/FORMATS.md section 1).  Synchronous from the library's point
 *	of view.
 *
 *	Return 0 with the answer body in *resp (malloc'd; the library frees
 *	it with free()) and its length in *resp_len when the KMS answered
 *	with a MIKEY message: status 2xx, or 4xx with Content-Type
 *	application/mikey (a MIKEY Error message: the library reads its ERR
 *	number).  Return non-zero for everything else: no connection, a
 *	timeout, a 5xx (the KMS failed or is overloaded), an answer that is
 *	not application/mikey or is larger than 64 KiB; the library then
 *	reports IMGATE_ERR_KMS_UNAVAILABLE.  The callback may call
 *	imgate_set_detail() on the context given to it as arg (if it was
 *	registered with the context as arg) to say why.
 */
typedef int (*imgate_transport_cb)(void *arg, const char *url,
    const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len);

/*
 * imgate_async_cb - start sending req (len bytes; copy it, the library
 *	frees its buffer on return) to the KMS at url, as the synchronous
 *	transport would, without blocking; when the answer (or a failure)
 *	is known, call imgate_kms_done(ctx, id, ...) from the same thread
 *	(never from inside this callback).  Return 0 if started, non-zero
 *	if it could not even start (then the operation fails with
 *	IMGATE_ERR_KMS_UNAVAILABLE at once; imgate_set_detail() may say
 *	why).  id is unique in the context, increasing, never 0.
 */
typedef int (*imgate_async_cb)(void *arg, uint64_t id, const char *url,
    const uint8_t *req, size_t len);

/* --------------------------------------------------------------------- */
/* Options */

enum imgate_suite {
	/* MIKEY with PRF-HMAC-SHA-256 and HMAC-SHA-256 (spec/smime-sip.md
	 * 6.1), a 16-byte TEK, AES-128-GCM content and id-aes128-wrap
	 * (RFC 8591 4.2): the default */
	IMGATE_SUITE_128 = 0,
	/* the same MIKEY, a 32-byte TEK, AES-256-GCM and id-aes256-wrap */
	IMGATE_SUITE_256 = 1
};

/*
 * Options of a context.  Fill with imgate_opts_init() (every field has a
 * documented default), change what you need, pass to imgate_ctx_new(),
 * which copies it (strings included).
 */
struct imgate_opts {
	enum imgate_suite suite;	/* what imgate_wrap() sends; unwrap
					 * takes what the message says */
	uint32_t	 ticket_lifetime;	/* seconds of validity asked of
					 * the KMS (it may shorten it); 0: the
					 * KMS's default.  Default 0. */
	uint32_t	 ticket_margin;	/* a cached ticket is used for new
					 * messages until its end minus this
					 * many seconds, so a message sent late
					 * can still be delivered late; 0: half
					 * of the ticket's validity.  Default 0 */
	size_t		 ticket_cache;	/* tickets kept (recipient sets);
					 * default 64 */
	size_t		 key_cache;	/* resolved tickets kept; default 256 */
	size_t		 replay_entries;	/* replay cache entries: the
					 * largest backlog of stored messages
					 * for this identity (spec/smime-sip.md
					 * 2.6); 0: from replay_bytes.  Default
					 * 10000 (about 0.5 MB) */
	size_t		 replay_bytes;	/* used when replay_entries is 0 */
	uint32_t	 skew;		/* seconds a TRANSFER_INIT or KMS
					 * answer may be ahead of our clock;
					 * default 300 */
	size_t		 max_body;	/* bytes of a plaintext body; 0:
					 * IMGATE_DEFAULT_MAX_BODY.  The
					 * protected body may be up to about
					 * 20 KiB larger. */
	int		 require_signature;	/* unwrap: refuse unsigned
					 * messages (IMGATE_ERR_SIGNATURE) */
	const char	*kms_id;	/* the KMS's identity (IDRkms) to
					 * send; NULL: none (default) */
	int		 timeout;	/* seconds for one KMS exchange with
					 * the built-in transport; default 10 */
	const char	*ca_file;	/* https: CA certificates (PEM) for the
					 * KMS; NULL: the system's (default) */
};

/* imgate_opts_init - the defaults into *o */
void imgate_opts_init(struct imgate_opts *o);

/* --------------------------------------------------------------------- */
/* Context */

struct imgate_ctx;

/*
 * imgate_ctx_new - a context for identity (the URI this party is known
 *	by at the KMS, e.g. "sip:alice@example.com"), talking to the KMS at
 *	kms_url ("http://host:port/path" or "https://..."; no path: /mikey)
 *	with the PSK psk (16..64 bytes, copied; wipe yours).  opts may be
 *	NULL for the defaults.  *ctx_out is written on success; free it with
 *	imgate_ctx_free().  IMGATE_ERR_INVAL for a malformed URI or URL, a
 *	PSK of the wrong length or an option out of range.
 */
IMGATE_WUR int imgate_ctx_new(const char *identity, const char *kms_url,
    const uint8_t *psk, size_t psk_len, const struct imgate_opts *opts,
    struct imgate_ctx **ctx_out);

/*
 * imgate_read_psk_file - a PSK file (hex digits, 32..128 of them,
 *	whitespace ignored; as 'imgatectl kms user add --psk-out' writes)
 *	into psk (room for IMGATE_MAX_PSK bytes).  The caller wipes psk.
 *	IMGATE_ERR_INVAL if the file cannot be read or is not one.
 */
IMGATE_WUR int imgate_read_psk_file(const char *path,
    uint8_t psk[IMGATE_MAX_PSK], size_t *psk_len_out);

/*
 * imgate_ctx_free - wipe every key, ticket and cache of ctx and free it.
 *	NULL is a no-op.  Save the replay cache first if it must survive.
 */
void imgate_ctx_free(struct imgate_ctx *ctx);

/*
 * imgate_ctx_set_transport - use cb (with arg) for the KMS instead of the
 *	built-in HTTP client; cb NULL restores the built-in one.
 */
void imgate_ctx_set_transport(struct imgate_ctx *ctx, imgate_transport_cb cb,
    void *arg);

/*
 * imgate_ctx_set_async - use cb (with arg) for every KMS exchange (NULL:
 *	back to the synchronous transport; exchanges under way can still be
 *	completed with imgate_kms_done()).  In this mode imgate_wrap and
 *	imgate_unwrap return IMGATE_ERR_PENDING when they need the KMS;
 *	imgate_pending_id() then says which exchange to wait for.
 */
void imgate_ctx_set_async(struct imgate_ctx *ctx, imgate_async_cb cb,
    void *arg);

/* imgate_pending_id - after IMGATE_ERR_PENDING: the exchange id */
uint64_t imgate_pending_id(const struct imgate_ctx *ctx);

/*
 * imgate_kms_done - the answer to exchange id: ok non-zero with the KMS's
 *	answer body (same rules as a transport callback returning 0: 2xx, or
 *	4xx with application/mikey), ok 0 when the transport failed (no
 *	connection, timeout, 5xx, not application/mikey; resp may be NULL;
 *	a detail set with imgate_set_detail() just before is kept).
 *	Processes it (ticket into the ticket cache / keys into the
 *	resolved-key cache) and returns 0, or the IMGATE_ERR_* the waiting
 *	operations fail with (the same codes the synchronous mode gives;
 *	imgate_last_detail() says why).  After 0, call the waiting
 *	imgate_wrap/imgate_unwrap again, soon (before the caches could
 *	evict the entry): they find the cache filled.  After a failure do
 *	not: they would start a new exchange.  resp is not kept.
 *	IMGATE_ERR_INVAL for an unknown id (e.g. given twice).
 */
IMGATE_WUR int imgate_kms_done(struct imgate_ctx *ctx, uint64_t id, int ok,
    const uint8_t *resp, size_t resp_len);

/* imgate_ctx_pending - exchanges started and not yet done */
size_t imgate_ctx_pending(const struct imgate_ctx *ctx);

/*
 * imgate_clock_cb - the current time as Unix time in nanoseconds.
 * imgate_ctx_set_clock - use it for every time the library reads (ticket
 *	validity, MIKEY timestamps, the replay cache, CPIM DateTime); NULL
 *	restores the system clock.  For tests.
 */
typedef int64_t (*imgate_clock_cb)(void *arg);
void imgate_ctx_set_clock(struct imgate_ctx *ctx, imgate_clock_cb cb,
    void *arg);

/*
 * imgate_rand_cb - fill buf with len unpredictable bytes; 0 on success.
 * imgate_ctx_set_rand - use it for MIKEY randomness (CSB IDs, RANDs, the
 *	KMS requests) and multipart boundaries; NULL restores RAND_bytes.
 *	For tests.  The CMS content key and GCM nonce always come from
 *	OpenSSL's RNG.
 */
typedef int (*imgate_rand_cb)(void *arg, uint8_t *buf, size_t len);
void imgate_ctx_set_rand(struct imgate_ctx *ctx, imgate_rand_cb cb,
    void *arg);

/*
 * imgate_ctx_set_signer - sign every wrapped message (SignedData, ECDSA
 *	P-256 recommended) with the certificate and key in these PEM files;
 *	the certificate's subjectAltName URI should be the From of the
 *	messages.  chain_pem (NULL: none) adds intermediates.  NULLs for
 *	cert_pem and key_pem stop signing.  IMGATE_ERR_INVAL if a file
 *	cannot be read or the key does not match the certificate.
 */
IMGATE_WUR int imgate_ctx_set_signer(struct imgate_ctx *ctx,
    const char *cert_pem, const char *key_pem, const char *chain_pem);

/*
 * imgate_ctx_set_trust - verify signed messages against the CA
 *	certificates in ca_pem (a PEM file; NULL: none, and every signed
 *	message then fails with IMGATE_ERR_SIGNATURE).
 */
IMGATE_WUR int imgate_ctx_set_trust(struct imgate_ctx *ctx,
    const char *ca_pem);

/*
 * imgate_ctx_save_replay - an image of the replay cache (versioned,
 *	self-checking) to store durably, e.g. after every imgate_unwrap()
 *	or before exit; *out is malloc'd (free()).  A restart without it
 *	reopens every replay (design.md section 3, inbound step 3).
 */
IMGATE_WUR int imgate_ctx_save_replay(const struct imgate_ctx *ctx,
    uint8_t **out, size_t *out_len);

/*
 * imgate_ctx_load_replay - replace the replay cache with an image from
 *	imgate_ctx_save_replay().  IMGATE_ERR_MALFORMED (cache unchanged) if
 *	the image is damaged or of an unknown version.
 */
IMGATE_WUR int imgate_ctx_load_replay(struct imgate_ctx *ctx,
    const uint8_t *buf, size_t len);

/*
 * imgate_last_detail - what the last failed call of ctx found, for the
 *	log: e.g. "mikey: MAC did not verify (MIKEY_ERR_AUTH)", "kms:
 *	connect to 127.0.0.1:8470: Connection refused".  Valid until the
 *	next call on ctx; "" after a success.  Never holds key bytes or
 *	plaintext.
 * imgate_last_cause - the code of the layer below: a MIKEY_ERR_* or
 *	SMIME_ERR_* value (their own bases), a MIKEY ERR payload number as
 *	0x10000 + n, or 0.
 */
const char *imgate_last_detail(const struct imgate_ctx *ctx);
int imgate_last_cause(const struct imgate_ctx *ctx);

/* imgate_set_detail - for transport callbacks: set the detail text */
void imgate_set_detail(struct imgate_ctx *ctx, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* imgate_ctx_kms_calls - KMS exchanges started so far (requests, resolves;
 *	in both modes, whatever their outcome) */
void imgate_ctx_kms_calls(const struct imgate_ctx *ctx, uint64_t *requests,
    uint64_t *resolves);

/* --------------------------------------------------------------------- */
/* Wrap */

/*
 * imgate_wrap - protect a body from from (the sender's AoR: the
 *	context's identity, or one it may act for at the KMS) for the
 *	recipients rcpt[0..nrcpt) (1..IMGATE_MAX_RECIPIENTS AoRs; one SIP
 *	request per recipient still, spec/smime-sip.md 2.5).  content_type
 *	is the body's type ("text/plain; charset=utf-8").
 *
 *	On success *out_body (malloc'd, free()) holds the multipart/mixed
 *	body, *out_len its length and *out_content_type (malloc'd, free())
 *	the SIP Content-Type value, boundary included.  Errors: INVAL, TOO_BIG,
 *	the KMS's (NOT_AUTHORISED when from is not the identity and no
 *	act_for allows it, CREDENTIAL, KMS_UNAVAILABLE, ...).  Asynchronous
 *	mode: IMGATE_ERR_PENDING when no ticket is cached for the sender and
 *	recipient set (nothing is written).
 */
/*
 * imgate_wrap_cc - imgate_wrap() with a CPIM cc list (0..IMGATE_MAX_ADDRS
 *	AoRs; not recipients of the ticket): a list server re-encrypting for
 *	one member names the others (design.md 3)
 */
IMGATE_WUR int imgate_wrap_cc(struct imgate_ctx *ctx, const char *from,
    const char *const *rcpt, size_t nrcpt, const char *const *cc, size_t ncc,
    const char *content_type, const uint8_t *body, size_t len,
    uint8_t **out_body, size_t *out_len, char **out_content_type);

IMGATE_WUR int imgate_wrap(struct imgate_ctx *ctx, const char *from,
    const char *const *rcpt, size_t nrcpt, const char *content_type,
    const uint8_t *body, size_t len, uint8_t **out_body, size_t *out_len,
    char **out_content_type);

/* --------------------------------------------------------------------- */
/* Unwrap */

/*
 * What imgate_unwrap() found.  Every pointer is owned by the structure,
 * strings are NUL-terminated; read-only for the caller; freed (plaintext
 * wiped) by imgate_result_free().
 */
struct imgate_result {
	/* the user's entity */
	char		*content_type;
	uint8_t		*body;
	size_t		 body_len;
	/* who sent it, verified: the ticket's initiator (IDRi), which the
	 * KMS bound to the ticket and the TRANSFER_INIT's MAC proves */
	char		*sender;
	/* signed messages: the signer's subjectAltName URI (equal to
	 * sender, else the unwrap failed with IMGATE_ERR_IDENTITY); NULL if
	 * the message was not signed */
	char		*signer;
	/* 1 if sip_from was given and names another AoR than sender: show
	 * sender (e.g. as P-Asserted-Identity) and log the mismatch */
	int		 differs_from_sip_from;
	/* CPIM (RFC 3862) */
	char		*cpim_from;
	char		*to[IMGATE_MAX_ADDRS];
	size_t		 nto;
	char		*cc[IMGATE_MAX_ADDRS];
	size_t		 ncc;
	int64_t		 datetime;	/* CPIM DateTime, Unix seconds */
	/* MIKEY */
	char		*addressed_to;	/* IDRr of the TRANSFER_INIT, NULL if
					 * absent (several recipients) */
	int64_t		 sent;		/* its T, Unix seconds */
	int64_t		 ticket_end;	/* the ticket's end, Unix seconds; 0
					 * if unlimited: deferred delivery
					 * must happen before */
	int		 kms_called;	/* 1 if the ticket was resolved at
					 * the KMS for this unwrap (or for the
					 * first unwrap given again after
					 * IMGATE_ERR_PENDING), 0 if the key
					 * was cached */
	uint64_t	 hold_id;	/* imgate_unwrap_hold(): the hold to
					 * release; 0 otherwise */
	/* the entity the envelope held, as it was (the signed-data or
	 * message/cpim entity): what a list server re-encrypts unchanged
	 * (design.md 3, "List server"); NULL for imgate_open_inner() */
	char		*entity_type;
	uint8_t		*entity;
	size_t		 entity_len;
};

/*
 * imgate_unwrap - open a protected body (content_type: its SIP
 *	Content-Type value) received with SIP From sip_from (its AoR; may be
 *	NULL).  On success *out is a new result (imgate_result_free()).
 *	The replay cache of ctx then holds the message: a second unwrap of
 *	the same body fails with IMGATE_ERR_REPLAY.  Errors: every
 *	IMGATE_ERR_* but INVAL may come from the input; see the table.
 *	Asynchronous mode: IMGATE_ERR_PENDING when the ticket's keys are not
 *	cached (the replay cache is left as it was; the message is checked
 *	in full when it is given again).
 */
IMGATE_WUR int imgate_unwrap(struct imgate_ctx *ctx, const char *sip_from,
    const char *content_type, const uint8_t *body, size_t len,
    struct imgate_result **out);

/*
 * imgate_unwrap_hold - imgate_unwrap() for a relay that delivers the
 *	opened message onwards and learns only later whether it arrived
 *	(a gateway: design.md section 3, deferred delivery).  Every check is
 *	the same, but the message is not yet put into the replay cache: it
 *	is held (result->hold_id), and while it is held the same message
 *	fails with IMGATE_ERR_REPLAY.  Then imgate_unwrap_release():
 *	delivered non-zero puts it into the replay cache (accepted for
 *	good); 0 lets it go, so the same protected message can be opened
 *	again later (it was stored for a recipient who was offline).  At
 *	most 65536 messages are held at once (beyond: IMGATE_ERR_INTERNAL).
 *	Holds are not in imgate_ctx_save_replay() images.
 *	rcpt (NULL: none) is the user the relay opens it for: the replay
 *	cache then keeps one entry per (message, rcpt), so one message
 *	fanned out to several users of the same relay opens once for each.
 */
IMGATE_WUR int imgate_unwrap_hold(struct imgate_ctx *ctx, const char *rcpt,
    const char *sip_from, const char *content_type, const uint8_t *body,
    size_t len, struct imgate_result **out);

/* imgate_unwrap_release - end the hold of r (see above); r stays valid.
 *	IMGATE_ERR_INVAL if r holds nothing (or was released before). */
IMGATE_WUR int imgate_unwrap_release(struct imgate_ctx *ctx,
    struct imgate_result *r, int delivered);

/*
 * What imgate_inspect() reads from a protected body without any key: for
 * a store-and-forward element that must order, expire and account for
 * messages it keeps before they can be opened (design.md section 3,
 * deferred delivery).  Nothing here is verified yet: the MAC (V) is
 * checked only when the message is unwrapped.
 */
struct imgate_info {
	char		 sender[IMGATE_MAX_URI + 1];	/* IDRi, "" if absent */
	char		 addressed_to[IMGATE_MAX_URI + 1];	/* IDRr, "" if
							 * absent */
	uint64_t	 mikey_t;	/* T of the TRANSFER_INIT, NTP-UTC:
					 * the delivery order */
	int64_t		 sent;		/* the same as Unix seconds */
	int64_t		 ticket_end;	/* Unix seconds, 0 if unlimited: the
					 * message cannot be opened after */
};

/*
 * imgate_inspect - the checks of imgate_unwrap() that need no key (size,
 *	the two parts, the TRANSFER_INIT's structure, its ticket policy and
 *	validity now) and what they found into *out.  Makes no KMS call and
 *	does not touch the replay cache.  The same errors as imgate_unwrap()
 *	for those checks (MALFORMED, CONTENT_TYPE, TOO_BIG, EXPIRED, POLICY,
 *	TIMESTAMP).
 */
IMGATE_WUR int imgate_inspect(struct imgate_ctx *ctx, const char *content_type,
    const uint8_t *body, size_t len, struct imgate_info *out);

/*
 * imgate_open_inner - open an entity that is not enveloped: the content of
 *	a message a list server re-encrypted (its user entity is the
 *	original sender's signed-data or message/cpim entity, RFC 3862 6).
 *	Verifies a signature against the context's trust (unsigned allowed
 *	unless require_signature).  *out: content_type/body (the author's
 *	entity), cpim_from (the author), signer (if signed), sender (the
 *	signer, else the CPIM From: NOT proven by the KMS; the outer
 *	message's sender, the list, is), to, cc, datetime.  Errors as the
 *	CMS/CPIM part of imgate_unwrap().
 */
IMGATE_WUR int imgate_open_inner(struct imgate_ctx *ctx,
    const char *content_type, const uint8_t *body, size_t len,
    struct imgate_result **out);

/* imgate_result_free - wipe and free a result; NULL is a no-op */
void imgate_result_free(struct imgate_result *r);

#ifdef __cplusplus
}
#endif

#endif /* IMGATE_H */
