/*
 * gateway/gw.h - types shared by the files of the imgate gateway
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * Files (design.md section 2, gateway/):
 *	gw.h		this: transports, peers, metrics
 *	gw_conf.[ch]	conf/imgate.conf (GKeyFile) into struct gw_conf
 *	gw_frame.c	stream and datagram framing (Content-Length, caps)
 *	gw_sip.[ch]	a SIP message: libosip2 for the headers, the body raw
 *	gw_transport.[ch] UDP, TCP and TLS listeners and connections
 *	gw_txn.c	MESSAGE transactions (server and client, RFC 3261 17)
 *	gw_core.c	routing, stateless relay, the wrap and unwrap paths
 *	gw_kms.c	the asynchronous KMS client (evhttp) for libimgate
 *	gw_admin.c	GET /metrics and /health on the admin port
 *	gw_main.c	imgate: options, signals, reload, the loop
 */
#ifndef GW_H
#define GW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum gw_proto {
	GW_UDP = 0,
	GW_TCP = 1,
	GW_TLS = 2
};
#define GW_NPROTO	3

/* gw_proto_name - "UDP", "TCP", "TLS" (as in a Via header) */
const char *gw_proto_name(enum gw_proto p);

/* A transport address: protocol and socket address. */
struct gw_peer {
	enum gw_proto	 proto;
	struct sockaddr_storage ss;
	socklen_t	 len;
};

/*
 * Counters of one gateway process, shown by GET /metrics (Prometheus
 * text, gw_admin.c).  Only the loop thread writes them.
 */
struct gw_metrics {
	uint64_t	 rx_msgs[GW_NPROTO];	/* SIP messages received */
	uint64_t	 tx_msgs[GW_NPROTO];	/* SIP messages sent */
	uint64_t	 rx_bad;		/* unparsable, answered 400 or
						 * dropped */
	uint64_t	 tx_fail;		/* sends that failed */
	uint64_t	 conns_open;		/* TCP/TLS connections now */
	uint64_t	 conns_total;		/* accepted or connected */
	uint64_t	 relayed_req;		/* non-MESSAGE requests relayed */
	uint64_t	 relayed_resp;		/* their responses relayed */
	uint64_t	 msg_in;		/* MESSAGE transactions started */
	uint64_t	 msg_retrans;		/* retransmissions absorbed */
	uint64_t	 wrapped;		/* MESSAGEs protected and sent */
	uint64_t	 unwrapped;		/* MESSAGEs opened and sent */
	uint64_t	 passed;		/* MESSAGEs forwarded as they were */
	uint64_t	 final[7];		/* final answers to MESSAGE senders
						 * by class: [2] 2xx ... [6] 6xx */
	uint64_t	 rejected[16];		/* by reason, enum gw_reject */
	uint64_t	 kms_requests;		/* KMS exchanges started */
	uint64_t	 kms_resolves;
	uint64_t	 kms_failures;		/* transport failures, 5xx */
	uint64_t	 kms_waiting;		/* transactions waiting now */
	uint64_t	 txn_server;		/* MESSAGE server transactions now */
	uint64_t	 txn_client;		/* client transactions now */
	uint64_t	 txn_timeouts;		/* client transactions timed out
						 * (408 to the sender) */
	uint64_t	 lat_bucket[12];	/* MESSAGE time to final answer,
						 * microseconds: <= 250, 500, 1000,
						 * 2000, 5000, 10000, 25000, 50000,
						 * 100000, 250000, 1000000, +Inf */
	uint64_t	 lat_sum_us;
	uint64_t	 reloads;
	uint64_t	 reload_failures;
	/* deferred delivery (gw_deliver.c) */
	uint64_t	 stored;		/* protected MESSAGEs committed
						 * (answered 202) */
	uint64_t	 store_commits;		/* grouped commits that stored
						 * them (updated each second) */
	uint64_t	 store_refused;		/* quota or store failure: 503 */
	uint64_t	 delivered_stored;	/* stored ones delivered (2xx) */
	uint64_t	 deferred;		/* delivery attempts put off */
	uint64_t	 quarantined;		/* set aside, sender told */
	uint64_t	 expired;		/* removed unread, sender told */
	uint64_t	 reports;		/* report MESSAGEs sent */
	uint64_t	 registered;		/* users seen registered now */
};

/* Why a MESSAGE was refused (index of gw_metrics.rejected). */
enum gw_reject {
	GW_REJ_MALFORMED = 0,	/* 400 */
	GW_REJ_TOO_BIG,		/* 413 */
	GW_REJ_TYPE,		/* 415 */
	GW_REJ_UNDECIPHERABLE,	/* 493 */
	GW_REJ_REPLAY,		/* 403 */
	GW_REJ_EXPIRED,		/* 403 */
	GW_REJ_NOT_AUTHORISED,	/* 403 */
	GW_REJ_POLICY,		/* 403: profile, identity, signature */
	GW_REJ_KMS,		/* 503 */
	GW_REJ_LOOP,		/* 483 Too Many Hops */
	GW_REJ_INTERNAL,	/* 500 */
	GW_REJ_UNPROTECTED,	/* 488: protection required, none */
	GW_REJ_NO_ROUTE,	/* 404/502: nowhere to send */
	GW_REJ_N
};
const char *gw_reject_name(enum gw_reject r);

#endif /* GW_H */
