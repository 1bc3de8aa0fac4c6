#!/bin/sh
# tests/bench/run-bench-store.sh - the gateway's memory with many stored
# messages (issue 6: stored bytes stay on disk)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
#   sh tests/bench/run-bench-store.sh [-m]
#
# For 0 and 100,000 stored messages (and 1,000,000 with -m: about 1 GB of
# disk, a minute more), fill a store with tests/unit/queue/queue_fill
# (600-byte messages for N/100 users, due in the year 2100), start a
# gateway on it (require_registration: every user offline), let it run
# its 1 s schedule and 5 s expiry rounds over the store for 7 s, and
# print its VmRSS and VmHWM from /proc.  The same run: the figures are
# comparable with each other, not with another machine.  Durable
# enqueues per second through the gateways: run-bench-gw.sh -c gw-store;
# of the store alone: tests/bench/bench_queue.
# Run from a plain -O2 build directory.  Prints figures only.
set -u
GW_WRAP=${GW_WRAP:-}
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top_srcdir/tests/integ/kmslib.sh"
. "$top_srcdir/tests/integ/gwlib.sh"
FILL=$top_builddir/tests/unit/queue/queue_fill
sizes="0 100000"
[ "${1:-}" = "-m" ] && sizes="$sizes 1000000"
[ -x "$GW_BIN" ] && [ -x "$FILL" ] || {
	echo "run-bench-store: build gateway/imgate and" \
	    "tests/unit/queue/queue_fill first" >&2
	exit 1
}
gw_init bench-store
gw_kms_url=http://127.0.0.1:9/mikey	# never called: nothing is due
gw_kms_id=""
printf '%s\n' 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff \
    >"$KT/gs.psk"
chmod 600 "$KT/gs.psk"
echo "# run-bench-store: $(nproc) CPUs, sizes: $sizes"
for n in $sizes; do
	rm -rf "$KT/state-gs"
	mkdir -p "$KT/state-gs"
	t0=$(date +%s)
	if [ "$n" -gt 0 ]; then
		"$FILL" "$KT/state-gs/queue.db" many "$n" 2>/dev/null || exit 1
	fi
	t1=$(date +%s)
	gw_alloc gs || exit 1
	gw_write_conf gs b.example "udp:127.0.0.1:9" "" "[store]" \
	    "require_registration = true" "max_per_rcpt = 100000000" \
	    "max_total = 100000000"
	GW_LOG_LEVEL=warn gw_start gs || { gw_dump_log gs; exit 1; }
	sleep 7
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$gwp_gs/status")
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$gwp_gs/status")
	db=$(du -k "$KT/state-gs/queue.db" | awk '{ print $1 }')
	printf 'stored %8s: gateway VmRSS %6s kB, VmHWM %6s kB; store %8s kB on disk (filled in %s s)\n' \
	    "$n" "$rss" "$hwm" "$db" "$((t1 - t0))"
	gw_stop gs
done
