/*
 * gateway/gw_conf.h - the gateway's configuration (conf/imgate.conf)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 */
#ifndef GW_CONF_H
#define GW_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/gw.h"

#define GW_MAX_LISTEN	16
#define GW_MAX_LIST	64	/* entries of a domain or user list */

/* A listener: [listen] udp/tcp/tls = host:port; host:port ... */
struct gw_listen {
	enum gw_proto	 proto;
	char		 host[64];	/* numeric IPv4 or IPv6 (no brackets) */
	int		 port;
};

/* A next hop: "udp:HOST:PORT", "tcp:[::1]:5060", "tls:host:5061". */
struct gw_hop {
	int		 set;		/* 0: none configured */
	enum gw_proto	 proto;
	char		 host[256];	/* as written, IPv6 without brackets */
	int		 port;
	struct gw_peer	 peer;		/* resolved at load time */
};

/*
 * A group URI (design.md 3, "List server").  [group URI] sections give
 * the members (patterns, as in kms.conf: sip:*@corp.example) of groups
 * whose tickets this gateway may see, so that a ticket naming the group
 * is accepted for a member only.  [list URI] sections are groups this
 * gateway serves as list server: MESSAGEs to the URI are fanned out to
 * the members (AoRs).
 */
#define GW_MAX_GROUPS	64
struct gw_group {
	char		*uri;
	int		 list;		/* 1: [list], served here */
	int		 reencrypt;	/* [list] mode = reencrypt */
	char		*members[GW_MAX_LIST];
	size_t		 nmembers;
};

struct gw_conf {
	char		*path;		/* the file loaded */
	struct gw_group	 groups[GW_MAX_GROUPS];
	size_t		 ngroups;
	/* [gateway] */
	char		*identity;	/* our URI at the KMS (act_for users) */
	char		*kms_url;
	char		*kms_id;	/* NULL: none */
	char		*kms_ca_file;	/* NULL: system CAs */
	uint8_t		 psk[64];	/* from psk_file; wiped by free */
	size_t		 psk_len;
	char		*state_dir;	/* replay cache image lives here */
	char		*sign_cert;	/* NULL: messages are not signed */
	char		*sign_key;
	char		*trust_ca;	/* NULL: signed messages refused */
	int		 log_level;	/* LOG_LEVEL_* */
	size_t		 max_message;	/* bytes of a SIP message on the wire */
	size_t		 max_body;	/* bytes of a plaintext body */
	uint32_t	 ticket_lifetime;	/* s, 0: the KMS's default */
	size_t		 replay_entries;
	int		 suite256;	/* 1: AES-256 suite */
	char		*via_host;	/* NULL: the listener's address; IPv6
					 * without brackets */
	/* [listen] */
	struct gw_listen listen[GW_MAX_LISTEN];
	size_t		 nlisten;
	char		*tls_cert;	/* PEM; needed when a tls listener or a
					 * tls next hop is configured */
	char		*tls_key;
	char		*tls_ca;	/* verify TLS peers; NULL: no check */
	/* [admin] */
	char		 admin_host[64];	/* "" : no admin port */
	int		 admin_port;
	/* [route] */
	char		*local_domains[GW_MAX_LIST];	/* "corp.example" */
	size_t		 nlocal;
	struct gw_hop	 inside;	/* registrar / PBX */
	struct gw_hop	 outside;	/* default next hop out */
	char		*protect[GW_MAX_LIST];	/* destination domains whose
					 * MESSAGEs are wrapped; "*": all */
	size_t		 nprotect;
	char		*e2e_users[GW_MAX_LIST];	/* local AoRs whose
					 * protected MESSAGEs pass untouched */
	size_t		 ne2e;
	int		 require_protection;	/* inbound plain MESSAGE from
					 * outside to a local user: 488 */
	char		*allow_types[GW_MAX_LIST];	/* inner Content-Types
					 * delivered: "text/plain", a major
					 * type "text", or "*"; others 415 */
	size_t		 nallow;
	/* [sip] */
	uint32_t	 t1_ms, t2_ms, t4_ms;	/* RFC 3261 timers: 500 4000 5000 */
	uint32_t	 kms_timeout;	/* s, one KMS exchange: 5 */
	uint32_t	 retry_after;	/* s, in a 503: 30 */
	uint32_t	 tcp_idle;	/* s, an idle connection is closed: 300 */
	size_t		 max_txn;	/* MESSAGE transactions at once: 262144
					 * (more: 503) */
	/* [store] deferred delivery (design.md 3) */
	int		 store;		/* enabled: 1 */
	char		*store_db;	/* default STATE_DIR/queue.db */
	int		 require_registration;	/* 1: a local user with no
					 * registration seen is offline (store
					 * at once); 0 (default): only a 404,
					 * 408 or 480 from inside says so */
	uint32_t	 max_age;	/* s a message may wait: 30 days */
	size_t		 max_per_rcpt;	/* stored messages per user: 1000 */
	size_t		 max_bytes_per_rcpt;	/* their bytes: 16 MiB */
	size_t		 max_total;	/* in all: 1000000 */
	uint32_t	 retry_min;	/* s, first delivery retry: 5 */
	uint32_t	 retry_max;	/* s, longest back-off: 600 */
	int		 report;	/* 1: report expiry/failure to the
					 * sender with a MESSAGE (default) */
};

/*
 * gw_conf_load - read path; *out on success (free with gw_conf_free).  On
 *	failure -1, *out untouched, and a one-line message in err that
 *	names the file, group, key, the value and what is wrong.  Unknown
 *	groups and keys are errors.  Relative paths in the file are made
 *	absolute against its directory; next hops are resolved here
 *	(getaddrinfo: may block on DNS for a host name); the PSK is read
 *	from psk_file (refused if others may access it).  Logs nothing but
 *	a warning for a group-readable psk_file.
 */
int gw_conf_load(const char *path, struct gw_conf **out, char *err,
    size_t errlen);
void gw_conf_free(struct gw_conf *c);

/* gw_domain_in - 1 if domain (case-insensitive, a trailing dot ignored,
 *	no port) is in list; "*" matches all, "*.example.com" any subdomain
 *	but not example.com itself */
int gw_domain_in(char *const *list, size_t n, const char *domain);
/* gw_uri_in - 1 if the AoR "sip:user@host" is in list (case-insensitive
 *	host, exact user; "sip:*@host" matches any user of host; the host of
 *	an entry may be a gw_domain_in pattern; sip: and sips: are the same;
 *	";params" of the AoR are ignored, a port is not) */
int gw_uri_in(char *const *list, size_t n, const char *aor);
/* gw_group_find - the [group] or [list] section of uri, or NULL */
const struct gw_group *gw_group_find(const struct gw_conf *c,
    const char *uri);

/* gw_type_allowed - 1 if the Content-Type value (params ignored) is
 *	allowed by list (entries as in allow_types; "text" matches any
 *	text/subtype).
 *	A value without type/subtype is allowed only by "*". */
int gw_type_allowed(char *const *list, size_t n, const char *ctype);

#endif /* GW_CONF_H */
