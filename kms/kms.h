/*
 * kms/kms.h - imgate-kms internals: configuration, users, master keys,
 *	policy, metrics and the HTTP front
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	imgate-kms is one process with one event_base.  libmikey does the
 *	protocol (mikey_kms_process); this program supplies its policy
 *	(struct mikey_kms_ops, kms_policy.c), its configuration and
 *	identity patterns (kms_conf.c, kms_pattern.c), the long-term secrets
 *	(users' PSKs, kms_conf.c; master keys, kms_keys.c), the HTTP front
 *	(kms_http.c), the counters (kms_metrics.c) and the life cycle
 *	(kms_main.c).  The file formats are the contract in kms/FORMATS.md.
 *
 *	Everything the policy reads is immutable once loaded: a reload
 *	(SIGHUP, or a changed users/keys file) parses into new objects and
 *	swaps the pointers only when every part loaded; the old objects are
 *	freed right after the swap.  Requests are answered synchronously in
 *	the HTTP callback, so no request ever sees half a reload.
 *
 *	Loaders never log (except kms_keys_load's and kms_users_load's
 *	permission warnings): they return -1 with a one-line message in a
 *	caller's buffer, so tests can check the message and the daemon can
 *	decide between fatal (start) and "keep the old one" (reload).
 */
#ifndef KMS_H
#define KMS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mikey/mikey.h"

#define KMS_PSK_MIN		16	/* bytes of a user's PSK */
#define KMS_PSK_MAX		64	/* = MIKEY_MAX_KEY */
#define KMS_MASTER_LEN		32	/* bytes of a master key */
#define KMS_MAX_LISTEN		16	/* addresses per listen key */
#define KMS_URI_MAX		MIKEY_MAX_ID	/* bytes of a URI */
#define KMS_CONF_FILE_MAX	(1024 * 1024)	/* kms.conf */
#define KMS_USERS_FILE_MAX	(64 * 1024 * 1024)	/* kms-users.conf */
#define KMS_KEYS_FILE_MAX	(1024 * 1024)	/* kms-master.keys */
#define KMS_ERR_LEN		512	/* loaders' message buffers */

#define KMS_DEFAULT_CONFIG	"/etc/imgate/kms.conf"

/* ---------------------------------------------------------------------- */
/* Files (kms_keys.c) */

/* What identifies one version of a file, to notice that it changed. */
struct kms_stamp {
	int		 valid;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
	mode_t		 mode;
};

/* kms_stamp_get - stat path into st; -1 (errno set) if it cannot */
int	kms_stamp_get(const char *path, struct kms_stamp *st);
/* kms_stamp_equal - 1 if a and b describe the same file version */
int	kms_stamp_equal(const struct kms_stamp *a,
	    const struct kms_stamp *b);

/*
 * kms_file_read - read a whole regular file of at most max bytes into a
 *	new NUL-terminated buffer (*buf_out; free with kms_file_free, which
 *	wipes it) and its stamp (from fstat of the same open file).
 */
int	kms_file_read(const char *path, size_t max, char **buf_out,
	    size_t *len_out, struct kms_stamp *st, char *err, size_t errlen);
/* kms_file_free - wipe and free a buffer from kms_file_read */
void	kms_file_free(char *buf, size_t len);

/* ---------------------------------------------------------------------- */
/* Master keys (kms_keys.c; FORMATS.md section 4) */

enum kms_key_state {
	KMS_KEY_RETIRED,	/* refused (ERR 14) */
	KMS_KEY_ACTIVE,		/* resolves old tickets */
	KMS_KEY_CURRENT		/* seals new tickets; exactly one */
};

struct kms_mkey {
	uint32_t	 version;
	int		 state;		/* enum kms_key_state */
	int64_t		 created;	/* Unix seconds */
	uint8_t		 key[KMS_MASTER_LEN];
};

/* The master key file, parsed.  Versions are strictly increasing. */
struct kms_keys {
	struct kms_mkey	*v;		/* [n]; wiped on free */
	size_t		 n;
	size_t		 current;	/* index of the current key */
	struct kms_stamp st;		/* the file it came from */
};

/*
 * kms_keys_parse - parse the text of a master key file (FORMATS.md 4).
 *	On success *out is a new object (kms_keys_free).  On failure -1 and
 *	a message naming the line ("line 3: ...") in err.
 */
int	kms_keys_parse(const char *buf, size_t len, struct kms_keys **out,
	    char *err, size_t errlen);
/*
 * kms_keys_load - read and parse path; warns (log_warnx) when the file is
 *	readable by group or others.
 */
int	kms_keys_load(const char *path, struct kms_keys **out, char *err,
	    size_t errlen);
/* kms_keys_free - wipe every key and free (NULL is a no-op) */
void	kms_keys_free(struct kms_keys *k);
/* kms_keys_find - the key of version, or NULL */
const struct kms_mkey *kms_keys_find(const struct kms_keys *k,
	    uint32_t version);
/* kms_key_state_name - "current", "active", "retired" */
const char *kms_key_state_name(int state);

/* ---------------------------------------------------------------------- */
/* Identities and patterns (kms_pattern.c; FORMATS.md section 2) */

/*
 * kms_uri_norm - the canonical form of a URI for lookups: scheme and host
 *	lower-cased, user part as is.  Writes out (NUL-terminated, cap >=
 *	len + 1); returns the length, or -1 if it does not fit.
 */
int	kms_uri_norm(const char *in, size_t len, char *out, size_t cap);

/*
 * kms_pattern_check - 0 if pat is a valid identity pattern: "scheme:"
 *	then [user "@"] host, '*' only in the user part or the host, at
 *	most KMS_URI_MAX bytes, no spaces or control characters.  Else -1
 *	and why in err.  wild = 0 refuses '*' (a group's own URI).
 */
int	kms_pattern_check(const char *pat, int wild, char *err,
	    size_t errlen);

/*
 * kms_pattern_match - 1 if identity s (len bytes, not NUL-terminated)
 *	matches pattern pat: the scheme equal ignoring case, the user part
 *	case-sensitive, the host ignoring case; '*' matches any run of
 *	characters (also none) other than '@' within the user part or the
 *	host.  Pure; never reads outside its arguments.
 */
int	kms_pattern_match(const char *pat, const char *s, size_t len);

/*
 * kms_pattern_overlap - 1 if some identity matches both patterns a and
 *	b (e.g. a gateway's act_for and a group's member pattern).  Pure.
 */
int	kms_pattern_overlap(const char *a, const char *b);

/* ---------------------------------------------------------------------- */
/* Configuration (kms_conf.c; FORMATS.md section 2) */

/* A list of owned strings. */
struct kms_strv {
	char		**v;
	size_t		 n;
};

struct kms_group {
	char		*uri;		/* normalised */
	struct kms_strv	 members;	/* patterns */
	struct kms_strv	 exploders;	/* patterns */
};

struct kms_index;	/* a hash of normalised URI -> object */

/*
 * kms_hostport_split - "host:port" or "[v6]:port" into host (brackets
 *	removed, NUL-terminated) and port (0-65535).  -1 if malformed.
 *	(kms_pattern.c)
 */
int	kms_hostport_split(const char *s, char *host, size_t hostcap,
	    uint16_t *port);

struct kms_conf {
	char		*file;		/* as given (--config) */
	char		*dir;		/* its directory */
	char		*id;		/* IDRkms */
	struct kms_strv	 listen;	/* "host:port", "[v6]:port" */
	struct kms_strv	 tls_listen;
	char		*tls_cert;	/* resolved; NULL if unset */
	char		*tls_key;
	char		*path;		/* the MIKEY URL path */
	char		*master_keys;	/* resolved */
	char		*users;		/* resolved */
	uint32_t	 ticket_lifetime;
	uint32_t	 max_ticket_lifetime;
	uint32_t	 clock_skew;
	size_t		 replay_cache_entries;
	size_t		 max_body;
	size_t		 max_headers;
	int		 timeout;
	int		 metrics;
	int		 log_level;	/* LOG_LEVEL_* */
	struct kms_group *groups;	/* [ngroups], owner */
	size_t		 ngroups;
	struct kms_index *group_index;	/* aliases into groups */
	struct kms_strv	 netfn;		/* resolve_any patterns */
};

/*
 * kms_conf_parse - parse the text of a kms.conf; file names the file
 *	for messages and relative paths.  *out is new (kms_conf_free).
 */
int	kms_conf_parse(const char *file, const char *buf, size_t len,
	    struct kms_conf **out, char *err, size_t errlen);
/* kms_conf_load - read and parse a kms.conf */
int	kms_conf_load(const char *file, struct kms_conf **out, char *err,
	    size_t errlen);
void	kms_conf_free(struct kms_conf *c);
/* kms_conf_group - the group whose URI is id, or NULL */
const struct kms_group *kms_conf_group(const struct kms_conf *c,
	    const char *id, size_t len);

/* ---------------------------------------------------------------------- */
/* Users (kms_conf.c; FORMATS.md section 3) */

struct kms_user {
	char		*id;		/* normalised */
	uint8_t		 psk[KMS_PSK_MAX];
	size_t		 psk_len;
	struct kms_strv	 act_for;	/* patterns */
	uint32_t	 lifetime;	/* seconds; 0 = the KMS default */
};

struct kms_users {
	struct kms_user	*v;		/* [n]; PSKs wiped on free */
	size_t		 n;
	struct kms_index *index;	/* aliases into v */
	struct kms_stamp st;
};

/* kms_users_parse - parse the text of a users file; file for messages */
int	kms_users_parse(const char *file, const char *buf, size_t len,
	    struct kms_users **out, char *err, size_t errlen);
/* kms_users_load - read and parse; warns if group/other may read it */
int	kms_users_load(const char *path, struct kms_users **out, char *err,
	    size_t errlen);
void	kms_users_free(struct kms_users *u);
/* kms_users_find - the user whose identity is id (normalised), or NULL */
const struct kms_user *kms_users_find(const struct kms_users *u,
	    const char *id, size_t len);

/* ---------------------------------------------------------------------- */
/* Policy: the struct mikey_kms_ops of this KMS (kms_policy.c) */

/* What the ops learned during one mikey_kms_process call (for the log). */
struct kms_call {
	const struct kms_user *principal;	/* whose PSK authenticated */
	int		 unknown;	/* no such user: dummy PSK */
	int		 netfn;		/* allowed as network function */
	int		 has_version;
	uint32_t	 version;	/* master key version looked up */
	const char	*why;		/* static reason for a refusal */
};

struct kms_policy {
	const struct kms_conf	*conf;
	const struct kms_users	*users;
	const struct kms_keys	*keys;
	/* answers unknown identities, so that they cost what a wrong PSK
	 * costs and look the same to the client (FORMATS.md "auth") */
	uint8_t			 dummy_psk[32];
	struct kms_call		 call;
};

extern const struct mikey_kms_ops kms_policy_ops;

/* kms_policy_begin - forget the notes of the previous call */
void	kms_policy_begin(struct kms_policy *p);

/* ---------------------------------------------------------------------- */
/* Metrics (kms_metrics.c; FORMATS.md section 1) */

enum kms_exchange { KMS_EX_REQUEST, KMS_EX_RESOLVE, KMS_EX_OTHER, KMS_EX_N };

enum kms_outcome {
	KMS_OC_OK, KMS_OC_BAD_MESSAGE, KMS_OC_AUTH, KMS_OC_UNKNOWN_ID,
	KMS_OC_TIMESTAMP, KMS_OC_REPLAY, KMS_OC_NOT_AUTHORISED,
	KMS_OC_EXPIRED, KMS_OC_KEY_VERSION, KMS_OC_POLICY,
	KMS_OC_UNSUPPORTED, KMS_OC_INTERNAL, KMS_OC_N
};

/* HTTP statuses counted by imgate_kms_http_errors_total. */
enum kms_hs { KMS_HS_400, KMS_HS_404, KMS_HS_405, KMS_HS_413, KMS_HS_415,
	KMS_HS_500, KMS_HS_N };

#define KMS_HIST_N	13	/* finite buckets; +Inf is the count */

struct kms_metrics {
	uint64_t	 requests[KMS_EX_N][KMS_OC_N];
	uint64_t	 hist[KMS_EX_N][KMS_HIST_N + 1];	/* per bucket */
	double		 sum[KMS_EX_N];
	uint64_t	 http_errors[KMS_HS_N];
	uint64_t	 reloads_ok;
	uint64_t	 reloads_error;
	uint32_t	 key_version;	/* gauges, set by the owner */
	size_t		 users;
	size_t		 rcache_entries;
};

const char *kms_exchange_name(int ex);
const char *kms_outcome_name(int oc);
/* kms_metrics_request - count one MIKEY request and its latency */
void	kms_metrics_request(struct kms_metrics *m, int ex, int oc,
	    double seconds);
/* kms_metrics_http_error - count an HTTP error status (others ignored) */
void	kms_metrics_http_error(struct kms_metrics *m, int status);
/* kms_metrics_format - Prometheus text format 0.0.4 into buf; returns
 *	the length (or the length needed, as snprintf does) */
size_t	kms_metrics_format(const struct kms_metrics *m, char *buf,
	    size_t cap);

/* ---------------------------------------------------------------------- */
/* The daemon (kms_main.c) and its HTTP front (kms_http.c) */

struct event_base;
struct kms_http;

/*
 * Random bytes for libmikey: RAND_bytes drawn 4 KB at a time (OpenSSL 3.0
 *	makes a getpid() syscall per RAND_bytes call to detect forks; a
 *	REQUEST needs several).  Bytes are wiped from the buffer as they are
 *	handed out.  Not fork-safe: imgate-kms never forks.
 */
struct kms_rng {
	uint8_t		 buf[4096];
	size_t		 off;		/* first unused byte */
};

struct kms_ctx {
	struct event_base	*base;
	const char		*conf_file;
	/* owners, swapped on reload */
	struct kms_conf		*conf;
	struct kms_users	*users;
	struct kms_keys		*keys;
	struct kms_policy	 pol;	/* aliases the three above */
	struct mikey_rcache	*rc;		/* owner */
	struct mikey_kms_conf	 kc;	/* aliases conf, rc, pol */
	struct mikey_env	 env;
	struct kms_rng		 rng;
	struct kms_metrics	 metrics;
	struct kms_http		*http;
	int			 draining;	/* SIGTERM seen */
	uint8_t			 out[MIKEY_MAX_MSG];	/* an answer */
};

/* kms_ctx_rebind - refresh pol, kc, env and gauges after a swap */
void	kms_ctx_rebind(struct kms_ctx *ctx);

/*
 * kms_http_new - the evhttp servers of ctx->conf: limits first, then
 *	bind every listen and tls_listen address.  NULL and a message in
 *	err on failure.
 */
struct kms_http *kms_http_new(struct kms_ctx *ctx, char *err, size_t errlen);
/* kms_http_apply - limits (and the TLS certificate) of a new conf */
int	kms_http_apply(struct kms_http *h, const struct kms_conf *c,
	    char *err, size_t errlen);
/* kms_http_describe - "listen=a,b tls_listen=c" with the bound ports */
void	kms_http_describe(const struct kms_http *h, char *buf, size_t len);
/* kms_http_stop_accepting - close the listening sockets */
void	kms_http_stop_accepting(struct kms_http *h);
/* kms_http_free - close everything (NULL is a no-op) */
void	kms_http_free(struct kms_http *h);

#endif /* KMS_H */
