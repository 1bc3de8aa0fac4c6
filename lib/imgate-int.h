/*
 * lib/imgate-int.h - internals shared by the files of lib/
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * Files:
 *	imgate.c	context, caches, wrap, unwrap, errors
 *	imgate_http.c	the built-in KMS transport (HTTP/1.1 POST, TLS)
 */
#ifndef IMGATE_INT_H
#define IMGATE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "lib/imgate.h"
#include "mikey/mikey.h"

#define IMGATE_HTTP_MAX_BODY	(64 * 1024)	/* bytes of a KMS answer */
#define IMGATE_HTTP_MAX_HEAD	8192		/* bytes of its header */
#define IMGATE_DEFAULT_PATH	"/mikey"	/* kms/FORMATS.md 1 */
#define IMGATE_MAX_URL		1024

/* A cached ticket: one per (from, sorted recipient set). */
struct imgate_tent {
	char		*key;		/* from LF rcpt LF rcpt ... (sorted) */
	struct mikey_ticket t;		/* wiped when dropped */
	int64_t		 end;		/* ticket end, Unix s; 0 unlimited */
	int64_t		 use_until;	/* new messages until then */
	uint64_t	 last;		/* LRU stamp */
	int		 fresh;		/* granted, not yet used: usable once
					 * even past use_until (the wrap that
					 * asked for it, retried) */
};

/* A resolved ticket: its keys, by the digest of the TICKET payload. */
struct imgate_kent {
	uint8_t		 dg[32];
	struct mikey_resolved keys;	/* wiped when dropped */
	int64_t		 end;		/* ticket end, Unix s; 0 unlimited */
	uint64_t	 last;
	int		 fresh;		/* resolved, not yet used: the next
					 * unwrap says kms_called */
};

/*
 * A KMS exchange (ticket request or resolve): what processing its answer
 * needs, kept in the context's pending list while the asynchronous
 * transport waits for it.  The request state holds keys derived from the
 * PSK: wiped when freed.
 */
enum { IMGATE_XCHG_REQUEST = 1, IMGATE_XCHG_RESOLVE };
struct imgate_xchg {
	struct imgate_xchg *next;	/* pending list */
	uint64_t	 id;		/* 0 until sent asynchronously */
	int		 kind;		/* IMGATE_XCHG_* */
	uint8_t		*req;		/* the request, until it is sent */
	size_t		 req_len;
	/* request: the ticket cache key (from LF rcpt LF ...) and from */
	char		*key;
	char		*from;
	/* resolve: the TICKET payload (NP byte included) and its digest,
	 * the resolved-key cache key */
	uint8_t		*ticket;
	size_t		 ticket_len;
	uint8_t		 dg[32];
	union {
		struct mikey_i_request rq;
		struct mikey_r_resolve rs;
	} st;
};

/* The per-call scratch of wrap and unwrap, kept in the context (a context
 * is used by one thread at a time): large, and only tek is secret. */
struct imgate_wrap_scratch {
	struct mikey_transfer_params tp;
	struct mikey_i_transfer it;
	uint8_t		 msg[MIKEY_MAX_INIT];
	uint8_t		 tek[32];
	uint8_t		 kid[5];
	uint8_t		 spp[16];
};
struct imgate_unwrap_scratch {
	struct mikey_r_transfer x;
	uint8_t		 tek[32];
	uint8_t		 kid[5];
	size_t		 tek_len;
};

struct imgate_ctx {
	char		*identity;
	char		*kms_url;
	char		*kms_id;	/* NULL: IDRkms not sent */
	char		*ca_file;
	uint8_t		 psk[IMGATE_MAX_PSK];
	size_t		 psk_len;
	struct imgate_opts o;		/* strings point to the copies above */
	size_t		 kek_len;	/* 16 or 32: the TEK that wrap uses */

	imgate_transport_cb tcb;	/* NULL: imgate_http_post */
	void		*targ;
	imgate_async_cb	 acb;		/* non-NULL: asynchronous mode */
	void		*aarg;
	struct imgate_xchg *pend;	/* exchanges under way, newest first */
	size_t		 npend;
	uint64_t	 last_id;	/* of the last exchange sent async */
	uint64_t	 pend_id;	/* what the last IMGATE_ERR_PENDING
					 * waits for */
	imgate_clock_cb	 clk;
	void		*clk_arg;
	imgate_rand_cb	 rnd;
	void		*rnd_arg;
	struct mikey_env env;		/* adapters to the three above */
	uint8_t		 rpool[512];	/* RAND_bytes served in small pieces
					 * (env_rand); wiped as used and by
					 * imgate_ctx_free */
	size_t		 rpool_left;

	struct mikey_rcache *rc;	/* the modified replay cache */
	struct imgate_tent **tickets;	/* o.ticket_cache slots */
	size_t		 ntickets;
	struct imgate_kent **keys;	/* o.key_cache slots */
	size_t		 nkeys;
	uint64_t	 stamp;		/* LRU clock */

	/* S/MIME credentials (owned) */
	X509		*cert;
	EVP_PKEY	*pkey;
	STACK_OF(X509)	*chain;
	X509_STORE	*trust;

	SSL_CTX		*ssl;		/* built-in https, made on first use */

	struct imgate_wrap_scratch ws;
	struct imgate_unwrap_scratch us;

	/* messages opened by imgate_unwrap_hold, not yet released */
	struct imgate_hold {
		uint8_t	 dg[MIKEY_RC_DIGEST];
		uint64_t t;
		uint64_t id;
	}		*holds;
	size_t		 nholds, cap_holds;
	uint64_t	 next_hold;

	char		 detail[256];
	int		 cause;
	int		 ext_detail;	/* detail set by imgate_set_detail
					 * (a transport) since it was cleared */
	uint64_t	 n_requests;
	uint64_t	 n_resolves;
};

/* imgate_now_ns - the context's clock: Unix time in nanoseconds */
int64_t	imgate_now_ns(const struct imgate_ctx *ctx);

/*
 * imgate_url_parse - split an http:// or https:// URL.  host (capacity
 *	hcap) without IPv6 brackets, port (capacity >= 6) as digits, path
 *	(capacity pcap, "/mikey" when the URL has none).  -1 if malformed.
 */
int	imgate_url_parse(const char *url, int *tls, char *host, size_t hcap,
	    char *port, char *path, size_t pcap);

/* imgate_http_post - the built-in transport (imgate_transport_cb; arg is
 *	the context) */
int	imgate_http_post(void *arg, const char *url, const uint8_t *req,
	    size_t req_len, uint8_t **resp, size_t *resp_len);

/* imgate_http_cleanup - free what the built-in transport keeps */
void	imgate_http_cleanup(struct imgate_ctx *ctx);

#endif /* IMGATE_INT_H */
