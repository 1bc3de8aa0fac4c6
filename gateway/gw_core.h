/*
 * gateway/gw_core.h - the gateway process: its state, transactions,
 *	routing and the wrap/unwrap paths (gw_core.c, gw_txn.c, gw_kms.c)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 */
#ifndef GW_CORE_H
#define GW_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <glib.h>

#include "gateway/gw.h"
#include "gateway/gw_conf.h"
#include "gateway/gw_sip.h"
#include "gateway/gw_transport.h"
#include "lib/imgate.h"

struct gw_kms;
struct gw_admin;

/* Our Via branches: "z9hG4bK" + a magic that says which kind. */
#define GW_BRANCH_MSG	"z9hG4bK-igm"	/* a MESSAGE client transaction */
#define GW_BRANCH_RELAY	"z9hG4bK-igr"	/* a statelessly relayed request */

struct gw {
	struct event_base *base;
	struct gw_conf	*conf;
	struct gw_tp	*tp;
	struct gw_admin	*admin;
	struct gw_kms	*kms;
	struct imgate_ctx *ic;		/* acts for the local users */
	struct gw_metrics m;
	size_t		 sockbuf;
	int64_t		 clock_offset;	/* tests: seconds added to the clock */
	uint8_t		 secret[16];	/* keys the relay branch hash */
	uint64_t	 seq;		/* tags, branches */
	uint64_t	 tagmask;	/* random, so tags differ per run */
	GPtrArray	*old_confs;	/* replaced by reloads; freed at exit */

	GHashTable	*stx;		/* key -> struct gw_stx (server) */
	GHashTable	*local;		/* set of local gw_stx (no sender) */
	GHashTable	*ctx;		/* branch -> struct gw_ctxn (client) */
	GHashTable	*waiting;	/* KMS exchange id -> GPtrArray of stx */

	struct gw_store	*store;		/* deferred delivery, NULL: off */
	GHashTable	*presence;	/* AoR -> int64_t: registered until
					 * (Unix s), or -1: not reachable */
	GHashTable	*busy;		/* AoR -> a delivery in flight */
	GHashTable	*reg_asked;	/* REGISTER relayed: Call-ID LF CSeq ->
					 * 1 removal, 2 binding */
	struct event	*tick_ev;	/* 1 s: due deliveries, expiry */
	uint64_t	 ticks;

	struct event	*save_ev;	/* replay cache image, 1 s when dirty */
	int		 replay_dirty;
	char		*replay_path;
};

/* A MESSAGE server transaction (RFC 3261 17.2.2), with its work. */
enum gw_stx_state { GW_STX_TRYING, GW_STX_PROCEEDING, GW_STX_COMPLETED };
enum gw_op {
	GW_OP_PASS, GW_OP_WRAP, GW_OP_UNWRAP,
	GW_OP_LIST,		/* a list's MESSAGE, re-encryption mode */
	GW_OP_REWRAP		/* a member's copy: the entity re-encrypted */
};

struct gw_stx {
	struct gw	*gw;
	char		*key;
	struct gw_msg	*req;		/* as received; NULL once Completed */
	struct gw_msg	*down;		/* the request to send on (headers) */
	enum gw_stx_state state;
	enum gw_op	 op;
	struct gw_peer	 next;		/* where the new request goes */
	char		*resp;		/* last response sent, wire form */
	struct gw_peer	 up;		/* Completed: where it goes */
	uint64_t	 up_conn;
	size_t		 resp_len;
	struct event	*timer;		/* J */
	struct gw_ctxn	*client;
	uint64_t	 pending;	/* KMS exchange waited for, 0 none */
	uint64_t	 t0_us;
	char		 tag[24];
	/* deferred delivery */
	uint8_t		*raw;		/* the protected request as received */
	size_t		 raw_len;
	struct imgate_result *hold;	/* unwrap held until delivered */
	int64_t		 q_id;		/* > 0: a delivery from the store */
	uint32_t	 q_attempts;
	int64_t		 q_arrived;
	char		*q_rcpt;
	char		*q_sender;
	int		 origin;	/* 1: our own request (a report) */
	int		 refused_here;	/* we refused it (not the next hop) */
	int		 refuse_err;	/* the IMGATE_ERR_* then */
	char		 branch[48];	/* fixed downstream branch, "" random */
	/* list fan-out: the list's transaction and its members' copies */
	struct gw_stx	*parent;	/* a copy: the list's stx */
	char		*member;	/* a copy: its member */
	size_t		 nchild, ndone, nok;
	int		 first_fail;
	GString		*failed;	/* "sip:x (480), ..." */
	const struct gw_group *list;	/* LIST / REWRAP: the list */
	char		*ent_type;	/* REWRAP: the entity to re-encrypt */
	uint8_t		*ent;
	size_t		 ent_len;
};

/* A client transaction for the MESSAGE we send on (RFC 3261 17.1.2). */
struct gw_ctxn {
	struct gw	*gw;
	char		 branch[48];
	char		*wire;
	size_t		 wire_len;
	struct gw_peer	 dst;
	struct event	*timer;		/* E (retransmit) */
	struct event	*timer_f;	/* F (give up) or K (linger) */
	uint32_t	 interval_ms;
	int		 proceeding;
	int		 done;
	struct gw_stx	*stx;		/* NULL once answered */
};

/* gw_core.c */
int gw_new(struct event_base *base, struct gw_conf *conf, size_t sockbuf,
    int64_t clock_offset, struct gw **out, char *err, size_t errlen);
void gw_free(struct gw *gw);
int gw_reload(struct gw *gw, struct gw_conf *conf, char *err, size_t errlen);
void gw_on_rx(void *arg, const struct gw_rx *rx);
void gw_stx_work(struct gw_stx *stx);
struct gw_stx *gw_stx_new_local(struct gw *gw, struct gw_msg *req);
void gw_stx_start(struct gw_stx *stx);
void gw_stx_fail(struct gw_stx *stx, int imgate_err);
void gw_save_replay(struct gw *gw);
uint64_t gw_now_us(void);

/* gw_txn.c */
void gw_txn_init(struct gw *gw);
void gw_txn_free_all(struct gw *gw);
struct gw_stx *gw_stx_find_or_new(struct gw *gw, struct gw_msg *req,
    int *is_new);
void gw_stx_respond(struct gw_stx *stx, int status, const char *reason,
    const char *warning, const struct gw_msg *from_resp);
/* What a response from the next hop passes on to the sender. */
struct gw_resp_info {
	int		 set;		/* from a next hop (not our own) */
	const char	*to_tag;
	const char	*warning;
	const char	*retry_after;
};
void gw_stx_respond_info(struct gw_stx *stx, int status, const char *reason,
    const char *warning, const struct gw_resp_info *ri);
void gw_ctxn_on_response_fast(struct gw *gw, const struct gw_resp_peek *pk);
int gw_ctxn_start(struct gw_stx *stx, struct gw_msg *req);
void gw_ctxn_on_response(struct gw *gw, struct gw_msg *resp);
void gw_txn_hop_failed(void *arg, const struct gw_peer *peer,
    const char *why);
void gw_send_stateless(struct gw *gw, const struct gw_msg *req, int status,
    const char *warning);

/* gw_deliver.c */
int gw_deliver_init(struct gw *gw, char *err, size_t errlen);
void gw_deliver_free(struct gw *gw);
int gw_deliver_offline(struct gw *gw, const char *aor);
void gw_deliver_store(struct gw_stx *stx, int64_t next_attempt);
int gw_deliver_intercept(struct gw_stx *stx, int status);
void gw_deliver_register(struct gw *gw, const struct gw_msg *resp);
void gw_deliver_register_req(struct gw *gw, const struct gw_msg *req);
void gw_stx_dispose(struct gw_stx *stx);
void gw_deliver_report(struct gw *gw, const char *to, const char *rcpt,
    int64_t arrived, const char *why);

/* gw_kms.c */
struct gw_kms *gw_kms_new(struct gw *gw, char *err, size_t errlen);
void gw_kms_free(struct gw_kms *k);

#endif /* GW_CORE_H */
