/*
 * kms/kms_main.c - imgate-kms, the MIKEY-TICKET Key Management Service
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Start-up follows OpenSMTPD's process entry: limits and umask first,
 *	then the configuration, users and master keys (any error is fatal
 *	here, with the file and the reason), then one event_base, the
 *	listeners (limits set before bind), the signals, and dispatch.
 *	Leaving dispatch other than through shutdown is fatal.
 *
 *	Reload.  SIGHUP parses kms.conf, the users file and the master key
 *	file into new objects; only when all three loaded are they swapped
 *	in, and the old ones freed.  A failed reload logs why and keeps
 *	serving with what it had.  A 1 s timer also watches the users and
 *	master key files (FORMATS.md 3, 4: imgatectl rewrites them) and
 *	reloads the one that changed, the same way.  Requests are answered
 *	synchronously inside their callback, so a swap never happens in the
 *	middle of one and nothing in flight is dropped.  What cannot change
 *	without a restart (the listening addresses) is kept, with a warning;
 *	limits, TLS certificate, path, lifetimes, groups, network functions
 *	and the log level take effect at once.  The replay cache survives a
 *	reload; if its size or skew changes it is copied into a new one.
 *
 *	Shutdown.  SIGTERM or SIGINT closes the listening sockets, answers
 *	what is still arriving on open connections with "Connection:
 *	close", and leaves the loop when no connection is left or after 1 s
 *	(idle keep-alive connections are then closed); exit status 0.  A
 *	second signal leaves at once.
 *
 * SECURITY
 *	Talks to: HTTP(S) clients on the configured addresses (gateways,
 *	user agents, imgatectl), every one of them untrusted until its
 *	request's MAC verified under its PSK.  Reads kms.conf, the users
 *	file and the master key file; writes only the pid file and its log.
 *
 *	Holds: every user's PSK and every master key (the Ticket Protection
 *	Keys: whoever has them opens every ticket this KMS issued).  They
 *	are kept in structures wiped with OPENSSL_cleanse when freed; file
 *	buffers that held them are wiped too.  Core dumps are switched off
 *	(RLIMIT_CORE 0) before any secret is read, and the umask is 077.
 *	Keys, PSKs, tickets and message bodies are never logged.
 *
 *	Privilege: none needed; run it as its own unprivileged user that
 *	alone can read the users and master key files (mode 0600; a warning
 *	is logged otherwise).  Listening on a port below 1024 needs
 *	CAP_NET_BIND_SERVICE; no chroot or privilege drop is done here.
 *	XXX keys stay in this process; OpenSMTPD's ca.c split (a separate
 *	key-holding process) is future work.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/log.h"
#include "kms/kms.h"

#define DRAIN_TICK_MS	20	/* shutdown: look for connections */
#define DRAIN_MAX_MS	1000	/* then idle ones are closed */

/* The process: the context plus what only main needs. */
struct kms_main {
	struct kms_ctx	 ctx;
	int		 debug;		/* -d: always log debug */
	const char	*pidfile;
	int		 pid_written;
	struct event	*ev_hup, *ev_term, *ev_int, *ev_watch, *ev_drain;
	int		 drain_ticks;
	int		 own_events;	/* ours, left when idle */
	struct kms_stamp users_bad;	/* a version that failed to load */
	struct kms_stamp keys_bad;
};

/* ---------------------------------------------------------------------- */
/* Usage */

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: imgate-kms [-c FILE] [-n] [-p FILE] [-d] [-s] [-T LIST]\n"
"       imgate-kms -h | -V\n"
"\n"
"The imgate Key Management Service: answers MIKEY-TICKET (RFC 6043)\n"
"REQUEST_INIT_PSK and RESOLVE_INIT_PSK messages POSTed over HTTP(S)\n"
"as application/mikey, with the policy, users and master keys of its\n"
"configuration.  Runs in the foreground; logs one line per request.\n"
"The HTTP interface and the file formats are in kms/FORMATS.md.\n"
"\n"
"Options:\n"
"  -c, --config FILE   the configuration (default %s)\n"
"  -n, --check-config  load the configuration, users and master keys,\n"
"                      report what was found, and exit: 0 if all is\n"
"                      well, 1 with the file and the reason if not\n"
"  -p, --pidfile FILE  write the process id to FILE once listening;\n"
"                      removed at exit\n"
"  -d, --debug         log at level debug (overrides log_level)\n"
"  -s, --syslog        log to syslog (facility daemon), not stderr\n"
"  -T, --trace LIST    trace categories, comma-separated: http, policy,\n"
"                      reload, or all\n"
"  -V, --version       print the version and exit\n"
"      --clock-offset S  testing only: shift the KMS clock by S seconds\n"
"  -h, --help          this help\n"
"\n"
"Signals: HUP reloads the configuration, users and master keys (kept\n"
"as they were if any of them fails to load); TERM or INT stop\n"
"accepting, finish, and exit 0.  The users and master key files are\n"
"also reloaded within a second of being changed.\n"
"\n"
"Configuration (GLib key file; comments are lines starting with '#';\n"
"relative paths are relative to the configuration's directory):\n"
"\n"
"  [kms]\n"
"  id = URI                     this KMS's identity (IDRkms); required\n"
"  listen = 127.0.0.1:8470      HTTP addresses, comma-separated;\n"
"                               IPv6 as [::1]:8470; port 0 = any free\n"
"  tls_listen =                 HTTPS addresses (TLS 1.2 or later)\n"
"  tls_cert =                   PEM certificate chain for tls_listen\n"
"  tls_key =                    PEM private key for tls_listen\n"
"  path = /mikey                URL path of the MIKEY exchange\n"
"  master_keys = kms-master.keys  master key file\n"
"  users = kms-users.conf       users file\n"
"  ticket_lifetime = 2592000    seconds, when a request asks none\n"
"  max_ticket_lifetime = 7776000  longer requests are shortened\n"
"  clock_skew = 300             seconds allowed between clocks\n"
"  replay_cache_entries = 1000000  initial messages remembered\n"
"  max_body = 16384             bytes of a request body (64-65535)\n"
"  max_headers = 8192           bytes of the request headers\n"
"  timeout = 10                 seconds per connection\n"
"  metrics = true               serve GET /metrics\n"
"  log_level = info             debug, info or warn\n"
"\n"
"  [group URI]                  a group tickets may name as responder\n"
"  members = PATTERN;...        who may resolve its tickets\n"
"  exploders = PATTERN;...      list servers that may resolve them\n"
"\n"
"  [network-functions]\n"
"  resolve_any = PATTERN;...    may resolve any ticket (audited)\n"
"\n"
"  Patterns are URIs in which '*' stands for any run of characters\n"
"  within the user part or the host: sip:*@corp.example.\n"
"\n"
"Users file: [user URI] sections with psk = HEX (16 to 64 bytes),\n"
"optional act_for = PATTERN;... and lifetime = SECONDS.\n"
"Master key file: lines \"version state created key\", state current,\n"
"active or retired, key 64 hex digits; exactly one current.\n"
"\n"
"Exit status: 0 success, 1 error (configuration, files, listening),\n"
"2 usage error.\n", KMS_DEFAULT_CONFIG);
}

/* ---------------------------------------------------------------------- */
/* The context */

/* kms_rand - the mikey_rand_cb of the KMS (see struct kms_rng) */
static int
kms_rand(void *arg, uint8_t *out, size_t len)
{
	struct kms_rng *r = arg;

	if (len > sizeof(r->buf) / 4)
		return len <= INT32_MAX && RAND_bytes(out, (int)len) == 1 ?
		    0 : -1;
	if (r->off + len > sizeof(r->buf)) {
		if (RAND_bytes(r->buf, sizeof(r->buf)) != 1)
			return -1;
		r->off = 0;
	}
	memcpy(out, r->buf + r->off, len);
	OPENSSL_cleanse(r->buf + r->off, len);
	r->off += len;
	return 0;
}

/*
 * Test-only clock offset (--clock-offset): the KMS and its replay cache see
 * the system clock shifted by this many seconds, so an integration test can
 * run a second KMS "in the future" (deferred delivery after 200 days)
 * against the same key file.  0 in production.
 */
static int64_t clock_offset;

/* offset_now - the system clock plus clock_offset, NTP-UTC 64 */
static uint64_t
offset_now(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	return mikey_ntp_from_unix(ts.tv_sec + clock_offset,
	    (uint32_t)ts.tv_nsec);
}

void
kms_ctx_rebind(struct kms_ctx *ctx)
{
	ctx->pol.conf = ctx->conf;
	ctx->pol.users = ctx->users;
	ctx->pol.keys = ctx->keys;
	memset(&ctx->env, 0, sizeof(ctx->env));
	if (clock_offset != 0) {
		ctx->env.now = offset_now;
		ctx->env.now_arg = NULL;
	}
	ctx->env.rand = kms_rand;
	ctx->env.rand_arg = &ctx->rng;
	ctx->env.skew = ctx->conf->clock_skew;
	ctx->kc.id.type = MIKEY_ID_URI;
	ctx->kc.id.data.p = (const uint8_t *)ctx->conf->id;
	ctx->kc.id.data.len = strlen(ctx->conf->id);
	ctx->kc.lifetime = ctx->conf->ticket_lifetime;
	ctx->kc.max_lifetime = ctx->conf->max_ticket_lifetime;
	ctx->kc.rc = ctx->rc;
	ctx->kc.ops = &kms_policy_ops;
	ctx->kc.arg = &ctx->pol;
	ctx->metrics.key_version = ctx->keys->v[ctx->keys->current].version;
	ctx->metrics.users = ctx->users->n;
}

/* load_all - the three files of a configuration; 0 or -1 with err */
static int
load_all(const char *file, struct kms_conf **c, struct kms_users **u,
    struct kms_keys **k, char *err, size_t errlen)
{
	*c = NULL;
	*u = NULL;
	*k = NULL;
	if (kms_conf_load(file, c, err, errlen) == 0 &&
	    kms_users_load((*c)->users, u, err, errlen) == 0 &&
	    kms_keys_load((*c)->master_keys, k, err, errlen) == 0)
		return 0;
	kms_conf_free(*c);
	kms_users_free(*u);
	kms_keys_free(*k);
	*c = NULL;
	*u = NULL;
	*k = NULL;
	return -1;
}

/* rcache_carry - a cache of the new size/skew holding the old entries */
static struct mikey_rcache *
rcache_carry(struct mikey_rcache *old, size_t entries, uint32_t skew,
    char *err, size_t errlen)
{
	struct mikey_rcache *rc;
	uint8_t *img = NULL;
	size_t len = 0;
	int e;

	if ((rc = mikey_rcache_new(entries, skew, clock_offset ? offset_now :
	    NULL, NULL)) == NULL) {
		snprintf(err, errlen, "replay cache of %zu entries: out of "
		    "memory", entries);
		return NULL;
	}
	if (old == NULL || mikey_rcache_count(old) == 0)
		return rc;
	if ((e = mikey_rcache_serialise(old, &img, &len)) != 0 ||
	    (e = mikey_rcache_load(rc, img, len)) != 0) {
		snprintf(err, errlen, "cannot carry the replay cache over: %s",
		    mikey_strerror(e));
		mikey_rcache_free(rc);
		rc = NULL;
	}
	free(img);
	return rc;
}

/* strv_same - the same list */
static int
strv_same(const struct kms_strv *a, const struct kms_strv *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

/* reload_all - SIGHUP: everything, swapped only if everything loaded */
static void
reload_all(struct kms_main *km)
{
	struct kms_ctx *ctx = &km->ctx;
	struct kms_conf *c;
	struct kms_users *u;
	struct kms_keys *k;
	struct mikey_rcache *rc = NULL;
	char err[KMS_ERR_LEN];

	log_trace("reload", "kms reload start file=%s", ctx->conf_file);
	if (load_all(ctx->conf_file, &c, &u, &k, err, sizeof(err)) != 0)
		goto fail;
	if (c->replay_cache_entries != ctx->conf->replay_cache_entries ||
	    c->clock_skew != ctx->conf->clock_skew) {
		rc = rcache_carry(ctx->rc, c->replay_cache_entries,
		    c->clock_skew, err, sizeof(err));
		if (rc == NULL)
			goto fail_free;
	}
	/* the last step that can fail: it commits the TLS certificate */
	if (kms_http_apply(ctx->http, c, err, sizeof(err)) != 0)
		goto fail_free;
	if (!strv_same(&c->listen, &ctx->conf->listen) ||
	    !strv_same(&c->tls_listen, &ctx->conf->tls_listen))
		log_warnx("kms reload: listen or tls_listen changed; the old "
		    "addresses stay until imgate-kms is restarted");
	kms_conf_free(ctx->conf);
	kms_users_free(ctx->users);
	kms_keys_free(ctx->keys);
	ctx->conf = c;
	ctx->users = u;
	ctx->keys = k;
	if (rc != NULL) {
		mikey_rcache_free(ctx->rc);
		ctx->rc = rc;
	}
	kms_ctx_rebind(ctx);
	if (!km->debug)
		log_setlevel(c->log_level);
	memset(&km->users_bad, 0, sizeof(km->users_bad));
	memset(&km->keys_bad, 0, sizeof(km->keys_bad));
	ctx->metrics.reloads_ok++;
	log_notice("kms reload result=ok what=all users=%zu groups=%zu "
	    "key_version=%u keys=%zu", u->n, c->ngroups,
	    k->v[k->current].version, k->n);
	return;
fail_free:
	mikey_rcache_free(rc);
	kms_conf_free(c);
	kms_users_free(u);
	kms_keys_free(k);
fail:
	ctx->metrics.reloads_error++;
	log_warnx("kms reload result=error what=all reason=\"%s\"; still "
	    "serving with the previous configuration", err);
}

/* watch_cb - every second: reload the users or keys file if it changed */
static void
watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kms_main *km = arg;
	struct kms_ctx *ctx = &km->ctx;
	struct kms_users *u;
	struct kms_keys *k;
	struct kms_stamp st;
	char err[KMS_ERR_LEN];

	(void)fd;
	(void)what;
	if (kms_stamp_get(ctx->conf->users, &st) != 0)
		memset(&st, 0, sizeof(st));
	if (!kms_stamp_equal(&st, &ctx->users->st) &&
	    !kms_stamp_equal(&st, &km->users_bad)) {
		if (kms_users_load(ctx->conf->users, &u, err,
		    sizeof(err)) == 0) {
			kms_users_free(ctx->users);
			ctx->users = u;
			kms_ctx_rebind(ctx);
			ctx->metrics.reloads_ok++;
			log_notice("kms reload result=ok what=users users=%zu",
			    u->n);
		} else {
			km->users_bad = st;
			ctx->metrics.reloads_error++;
			log_warnx("kms reload result=error what=users "
			    "reason=\"%s\"; keeping the previous users", err);
		}
	}
	if (kms_stamp_get(ctx->conf->master_keys, &st) != 0)
		memset(&st, 0, sizeof(st));
	if (!kms_stamp_equal(&st, &ctx->keys->st) &&
	    !kms_stamp_equal(&st, &km->keys_bad)) {
		if (kms_keys_load(ctx->conf->master_keys, &k, err,
		    sizeof(err)) == 0) {
			kms_keys_free(ctx->keys);
			ctx->keys = k;
			kms_ctx_rebind(ctx);
			ctx->metrics.reloads_ok++;
			log_notice("kms reload result=ok what=master_keys "
			    "key_version=%u keys=%zu",
			    k->v[k->current].version, k->n);
		} else {
			km->keys_bad = st;
			ctx->metrics.reloads_error++;
			log_warnx("kms reload result=error what=master_keys "
			    "reason=\"%s\"; keeping the previous keys", err);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Signals and shutdown */

static void
hup_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	reload_all(arg);
}

/* drain_cb - during shutdown: leave when no connection is left */
static void
drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kms_main *km = arg;
	int n;

	(void)fd;
	(void)what;
	/* with the listeners, timers and HUP gone, every added event
	 * beyond our own belongs to an open connection */
	n = event_base_get_num_events(km->ctx.base, EVENT_BASE_COUNT_ADDED);
	km->drain_ticks++;
	log_trace("http", "kms drain events=%d own=%d tick=%d", n,
	    km->own_events, km->drain_ticks);
	if (n <= km->own_events ||
	    km->drain_ticks * DRAIN_TICK_MS >= DRAIN_MAX_MS)
		event_base_loopexit(km->ctx.base, NULL);
}

static void
term_cb(evutil_socket_t sig, short what, void *arg)
{
	struct kms_main *km = arg;
	struct timeval tick = { 0, DRAIN_TICK_MS * 1000 };

	(void)what;
	if (km->ctx.draining) {
		log_notice("kms stopping signal=%d again: leaving now",
		    (int)sig);
		event_base_loopbreak(km->ctx.base);
		return;
	}
	km->ctx.draining = 1;
	log_notice("kms stopping signal=%d: no new connections", (int)sig);
	kms_http_stop_accepting(km->ctx.http);
	event_del(km->ev_hup);
	event_del(km->ev_watch);
	/* our events that stay: TERM, INT and the drain timer */
	km->own_events = 3;
	km->ev_drain = event_new(km->ctx.base, -1, EV_PERSIST, drain_cb, km);
	if (km->ev_drain == NULL || event_add(km->ev_drain, &tick) != 0)
		event_base_loopexit(km->ctx.base, NULL);
}

/* libevent_log - libevent's own messages into our log */
static void
libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* write_pidfile - the pid, once listening */
static void
write_pidfile(struct kms_main *km)
{
	char buf[32];
	int fd, n;

	if (km->pidfile == NULL)
		return;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	fd = open(km->pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644);
	if (fd == -1 || write(fd, buf, (size_t)n) != n || close(fd) == -1)
		fatal("kms cannot write pidfile=%s", km->pidfile);
	km->pid_written = 1;
}

/* check_config - -n: load everything, say what was found */
static int
check_config(const char *file)
{
	struct kms_conf *c;
	struct kms_users *u;
	struct kms_keys *k;
	char err[KMS_ERR_LEN];

	if (load_all(file, &c, &u, &k, err, sizeof(err)) != 0) {
		fprintf(stderr, "imgate-kms: %s\n", err);
		return 1;
	}
	printf("imgate-kms: %s: OK: id %s, %zu user%s, %zu group%s, "
	    "%zu network function pattern%s, %zu master key%s (current "
	    "version %u)\n", file, c->id, u->n, u->n == 1 ? "" : "s",
	    c->ngroups, c->ngroups == 1 ? "" : "s", c->netfn.n,
	    c->netfn.n == 1 ? "" : "s", k->n, k->n == 1 ? "" : "s",
	    k->v[k->current].version);
	kms_conf_free(c);
	kms_users_free(u);
	kms_keys_free(k);
	return 0;
}

/* no_core - no core dumps: this process holds every key */
static void
no_core(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("kms cannot switch core dumps off (setrlimit)");
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "debug", no_argument, NULL, 'd' },
		{ "syslog", no_argument, NULL, 's' },
		{ "trace", required_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "clock-offset", required_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 }
	};
	static struct kms_main km;	/* static: ctx.out is 64 KB */
	struct kms_ctx *ctx = &km.ctx;
	struct timeval second = { 1, 0 };
	struct event_config *evcfg;
	char err[KMS_ERR_LEN], where[1024];
	const char *trace = NULL;
	int ch, check = 0, use_syslog = 0, rc;

	no_core();
	umask(077);
	ctx->conf_file = KMS_DEFAULT_CONFIG;
	while ((ch = getopt_long(argc, argv, "c:np:dsT:VhO:", lopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctx->conf_file = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'p':
			km.pidfile = optarg;
			break;
		case 'd':
			km.debug = 1;
			break;
		case 's':
			use_syslog = 1;
			break;
		case 'T':
			trace = optarg;
			break;
		case 'V':
			printf("imgate-kms %s\n", PACKAGE_VERSION);
			return 0;
		case 'O': {
			char *end;
			long long v;

			errno = 0;
			v = strtoll(optarg, &end, 10);
			if (errno || *end || end == optarg ||
			    v < -(100LL * 365 * 86400) ||
			    v > 100LL * 365 * 86400) {
				fprintf(stderr, "imgate-kms: --clock-offset "
				    "wants whole seconds within 100 years\n");
				return 2;
			}
			clock_offset = v;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "imgate-kms: unexpected argument \"%s\"; the "
		    "configuration is given with --config FILE\n",
		    argv[optind]);
		return 2;
	}
	log_init("imgate-kms", km.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO,
	    !use_syslog || check);
	if (check)
		return check_config(ctx->conf_file);
	if (trace != NULL && log_trace_enable(trace) != 0) {
		fprintf(stderr, "imgate-kms: --trace: at most 16 names of "
		    "at most 31 characters\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(libevent_log);

	if (load_all(ctx->conf_file, &ctx->conf, &ctx->users, &ctx->keys,
	    err, sizeof(err)) != 0)
		fatalx("kms start failed: %s", err);
	if (!km.debug)
		log_setlevel(ctx->conf->log_level);
	ctx->rng.off = sizeof(ctx->rng.buf);	/* empty: filled on use */
	if (RAND_bytes(ctx->pol.dummy_psk, sizeof(ctx->pol.dummy_psk)) != 1)
		fatalx("kms start failed: the random number generator failed");
	ctx->rc = mikey_rcache_new(ctx->conf->replay_cache_entries,
	    ctx->conf->clock_skew, clock_offset ? offset_now : NULL, NULL);
	if (ctx->rc == NULL)
		fatalx("kms start failed: a replay cache of %zu entries does "
		    "not fit in memory; lower replay_cache_entries",
		    ctx->conf->replay_cache_entries);
	kms_ctx_rebind(ctx);

	/* one thread (no locks); the epoll changelist folds evhttp's "stop
	 * reading, start writing" and back into one epoll_ctl each */
	if ((evcfg = event_config_new()) == NULL ||
	    event_config_set_flag(evcfg, EVENT_BASE_FLAG_NOLOCK |
	    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) != 0 ||
	    (ctx->base = event_base_new_with_config(evcfg)) == NULL)
		fatalx("kms start failed: cannot create the event base");
	event_config_free(evcfg);
	if ((ctx->http = kms_http_new(ctx, err, sizeof(err))) == NULL)
		fatalx("kms start failed: %s", err);
	km.ev_hup = evsignal_new(ctx->base, SIGHUP, hup_cb, &km);
	km.ev_term = evsignal_new(ctx->base, SIGTERM, term_cb, &km);
	km.ev_int = evsignal_new(ctx->base, SIGINT, term_cb, &km);
	km.ev_watch = event_new(ctx->base, -1, EV_PERSIST, watch_cb, &km);
	if (km.ev_hup == NULL || km.ev_term == NULL || km.ev_int == NULL ||
	    km.ev_watch == NULL || event_add(km.ev_hup, NULL) != 0 ||
	    event_add(km.ev_term, NULL) != 0 ||
	    event_add(km.ev_int, NULL) != 0 ||
	    event_add(km.ev_watch, &second) != 0)
		fatalx("kms start failed: cannot set up signals and timers");
	write_pidfile(&km);
	kms_http_describe(ctx->http, where, sizeof(where));
	log_notice("imgate-kms ready %s path=%s id=%s users=%zu groups=%zu "
	    "key_version=%u pid=%ld version=%s", where, ctx->conf->path,
	    ctx->conf->id, ctx->users->n, ctx->conf->ngroups,
	    ctx->metrics.key_version, (long)getpid(), PACKAGE_VERSION);

	rc = event_base_dispatch(ctx->base);
	if (rc == -1 || !ctx->draining)
		fatalx("kms event loop ended unexpectedly");

	kms_http_free(ctx->http);
	event_free(km.ev_hup);
	event_free(km.ev_term);
	event_free(km.ev_int);
	event_free(km.ev_watch);
	if (km.ev_drain != NULL)
		event_free(km.ev_drain);
	event_base_free(ctx->base);
	mikey_rcache_free(ctx->rc);
	kms_conf_free(ctx->conf);
	kms_users_free(ctx->users);
	kms_keys_free(ctx->keys);
	OPENSSL_cleanse(&ctx->pol, sizeof(ctx->pol));
	OPENSSL_cleanse(&ctx->rng, sizeof(ctx->rng));
	if (km.pid_written)
		unlink(km.pidfile);
	log_notice("imgate-kms stopped");
	return 0;
}
