/*
 * gateway/gw_main.c - imgate, the SIP gateway that protects MESSAGE
 *	bodies end to end (design.md sections 1.1, 3)
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	Start-up: no core dumps and umask 077 before any secret is read
 *	(the PSK with the KMS), the configuration (fatal on any error, with
 *	the file, key and reason), one event_base, the gateway (gw_core.c:
 *	listeners, admin port, KMS client, replay cache image), signals,
 *	dispatch.
 *
 *	Reload: SIGHUP reads the configuration again; routing, limits,
 *	timers and the log level change at once; listeners, the admin port,
 *	the KMS credential and the state directory need a restart (a reload
 *	that changes them is refused and logged, the running one kept).
 *
 *	Shutdown: SIGTERM or SIGINT leaves the loop, saves the replay cache
 *	image, frees everything and exits 0.  Transactions still open are
 *	dropped without an answer: their senders retransmit or time out
 *	(never a false 2xx).
 *
 * SECURITY
 *	Talks to SIP peers on both sides (untrusted: every length bounded
 *	before use, every parse checked) and to the KMS (HTTP(S), answers
 *	authenticated by MIKEY).  Holds the gateway's PSK with the KMS and,
 *	in libimgate's caches, tickets and resolved keys (wiped when
 *	dropped).  Never logs bodies, keys or tickets.
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
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/log.h"
#include "gateway/gw_core.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif
#define DEFAULT_CONF	"/etc/imgate/imgate.conf"

static void
usage(FILE *f)
{
	fputs(
"usage: imgate [-c FILE] [-n] [-p FILE] [-d] [-B BYTES]\n"
"       imgate -h | -V\n"
"\n"
"The imgate SIP gateway: MESSAGE requests from local users to protected\n"
"domains are wrapped (S/MIME AuthEnvelopedData keyed by a MIKEY-TICKET\n"
"TRANSFER_INIT from the KMS), protected MESSAGE requests for local users\n"
"are unwrapped, verified and delivered plain with P-Asserted-Identity;\n"
"every other request is relayed untouched.  Runs in the foreground and\n"
"logs one line per event on stderr.\n"
"\n"
"Options:\n"
"  -c, --config FILE   the configuration (default " DEFAULT_CONF ");\n"
"                      every option is documented in conf/imgate.conf\n"
"  -n, --check-config  load the configuration, report, exit 0 or 1\n"
"  -p, --pidfile FILE  write the process id to FILE once listening;\n"
"                      removed at exit\n"
"  -d, --debug         log at level debug (overrides log_level)\n"
"  -B, --sockbuf BYTES SO_RCVBUF/SO_SNDBUF of the UDP sockets (default:\n"
"                      the system's; e.g. 4194304 under load)\n"
"  -V, --version       print the version and exit\n"
"  -h, --help          this help\n"
"\n"
"Signals: HUP reloads the configuration (routing, limits, timers, log\n"
"level; listeners and the KMS credential need a restart); TERM or INT\n"
"save the replay cache and exit 0.\n"
"\n"
"Answers to MESSAGE senders (design.md section 5): 400 malformed,\n"
"413 too big, 415 type not allowed, 493 undecipherable, 403 replay /\n"
"expired / not authorised, 503 + Retry-After when the KMS is down,\n"
"408 when the next hop does not answer; each with a Warning: 399.\n"
"Admin port: GET /metrics (Prometheus text), GET /health.\n", f);
}

static struct {
	struct event_base *base;
	struct gw	*gw;
	const char	*conf_file;
	const char	*pidfile;
	int		 debug;
	int		 pid_written;
} g;

static void
no_core(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	umask(077);
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopexit(g.base, NULL);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct gw_conf *nc = NULL;
	char err[512];

	(void)sig;
	(void)what;
	(void)arg;
	if (gw_conf_load(g.conf_file, &nc, err, sizeof(err)) != 0) {
		g.gw->m.reload_failures++;
		log_warn("reload refused, keeping the running configuration: "
		    "%s", err);
		return;
	}
	if (g.debug)
		nc->log_level = LOG_LEVEL_DEBUG;
	if (gw_reload(g.gw, nc, err, sizeof(err)) != 0) {
		g.gw->m.reload_failures++;
		log_warn("reload refused, keeping the running configuration: "
		    "%s", err);
		gw_conf_free(nc);
		return;
	}
	g.gw->m.reloads++;
	log_info("reloaded %s", g.conf_file);
}

static void
write_pidfile(void)
{
	char buf[32];
	int fd, n;

	if (g.pidfile == NULL)
		return;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	fd = open(g.pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || write(fd, buf, (size_t)n) != n || close(fd) == -1)
		fatal("cannot write pidfile %s", g.pidfile);
	g.pid_written = 1;
}

int
main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'n' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "debug", no_argument, NULL, 'd' },
		{ "sockbuf", required_argument, NULL, 'B' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "clock-offset", required_argument, NULL, 'O' },
		{ NULL, 0, NULL, 0 }
	};
	struct gw_conf *conf = NULL;
	struct event *ev_term, *ev_int, *ev_hup;
	char err[512], *end;
	unsigned long long sockbuf = 0;
	long long clock_offset = 0;
	int ch, check = 0;

	no_core();
	g.conf_file = DEFAULT_CONF;
	while ((ch = getopt_long(argc, argv, "c:np:dB:VhO:", lopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			g.conf_file = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'p':
			g.pidfile = optarg;
			break;
		case 'd':
			g.debug = 1;
			break;
		case 'B':
			errno = 0;
			sockbuf = strtoull(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || sockbuf > (1u << 30)) {
				fprintf(stderr, "imgate: --sockbuf %s: a number "
				    "of bytes up to 1 GiB\n", optarg);
				return 1;
			}
			break;
		case 'O':	/* tests only: shift the clock by seconds */
			errno = 0;
			clock_offset = strtoll(optarg, &end, 10);
			if (errno != 0 || *end != '\0') {
				fprintf(stderr, "imgate: --clock-offset %s: "
				    "seconds\n", optarg);
				return 1;
			}
			break;
		case 'V':
			printf("imgate %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	log_init("imgate", g.debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, 1);
	signal(SIGPIPE, SIG_IGN);
	gw_sip_init();
	imgate_init();
	if (gw_conf_load(g.conf_file, &conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "imgate: %s\n", err);
		return 1;
	}
	if (g.debug)
		conf->log_level = LOG_LEVEL_DEBUG;
	log_setlevel(conf->log_level);
	if (check) {
		printf("%s: ok (%zu listeners, %zu local domains, identity "
		    "%s)\n", g.conf_file, conf->nlisten, conf->nlocal,
		    conf->identity);
		gw_conf_free(conf);
		return 0;
	}
	/* the storage thread hands results back with event_active() */
	if (evthread_use_pthreads() != 0)
		fatal("evthread_use_pthreads failed");
	if ((g.base = event_base_new()) == NULL)
		fatal("event_base_new failed");
	if (gw_new(g.base, conf, (size_t)sockbuf, (int64_t)clock_offset,
	    &g.gw, err, sizeof(err)) != 0) {
		log_warn("cannot start: %s", err);
		gw_conf_free(conf);
		event_base_free(g.base);
		return 1;
	}
	ev_term = evsignal_new(g.base, SIGTERM, on_term, NULL);
	ev_int = evsignal_new(g.base, SIGINT, on_term, NULL);
	ev_hup = evsignal_new(g.base, SIGHUP, on_hup, NULL);
	if (ev_term == NULL || ev_int == NULL || ev_hup == NULL ||
	    event_add(ev_term, NULL) != 0 || event_add(ev_int, NULL) != 0 ||
	    event_add(ev_hup, NULL) != 0)
		fatal("cannot install signal handlers");
	write_pidfile();
	log_info("imgate %s started: config=%s identity=%s listeners=%zu",
	    PACKAGE_VERSION, g.conf_file, conf->identity, conf->nlisten);
	if (event_base_dispatch(g.base) != 0)
		log_warn("event loop failed");
	gw_save_replay(g.gw);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	conf = g.gw->conf;
	gw_free(g.gw);
	gw_conf_free(conf);
	event_base_free(g.base);
	if (g.pid_written)
		unlink(g.pidfile);
	log_info("imgate stopped");
	return 0;
}
