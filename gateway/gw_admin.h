/*
 * gateway/gw_admin.h - the gateway's admin port: GET /metrics (Prometheus
 *	text) and GET /health over HTTP (evhttp)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 */
#ifndef GW_ADMIN_H
#define GW_ADMIN_H

#include <stddef.h>

#include "gateway/gw.h"

struct event_base;
struct gw_admin;

/*
 * gw_admin_new - serve GET /metrics and GET /health on host:port (a
 *	numeric address; port 0 binds a free port, see gw_admin_port) on
 *	base.  m is an alias: it must live as long as the server, and is
 *	read (never written) on the loop thread when /metrics is asked for.
 *	NULL with a one-line reason in err on failure.  Free with
 *	gw_admin_free.
 */
struct gw_admin *gw_admin_new(struct event_base *base, const char *host,
    int port, const struct gw_metrics *m, char *err, size_t errlen);

/* gw_admin_free - stop listening, close connections; NULL is a no-op */
void gw_admin_free(struct gw_admin *a);

/* gw_admin_port - the port bound (the real one when 0 was asked for) */
int gw_admin_port(const struct gw_admin *a);

#endif /* GW_ADMIN_H */
