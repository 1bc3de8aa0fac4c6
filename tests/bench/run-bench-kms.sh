#!/bin/sh
# tests/bench/run-bench-kms.sh - bench_kms against a throwaway imgate-kms
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
#   sh tests/bench/run-bench-kms.sh [BENCH_KMS OPTIONS...]
#
# Run from a plain -O2 build directory (./configure without sanitizers;
# make).  Makes a directory with a master key and two users (alice asks,
# bob resolves) written by imgatectl, starts imgate-kms on a free
# 127.0.0.1 port pinned to one core (taskset -c $KMS_CPU, default 0), runs
# tests/bench/bench_kms pinned to another ($CLIENT_CPU, default 1) with
# the given options (e.g. -d 10, -c 8, -n 1000000 for the memory run),
# then stops the KMS by its PID and removes the directory.
#
# Environment: top_builddir (default .), top_srcdir (default: two levels
# above this script), KMS_CPU, CLIENT_CPU, REPLAY_ENTRIES (the KMS's
# replay_cache_entries, default 100000: small enough that the cache is
# full after the first 100k messages, so RSS growth after that is not
# the cache filling up), LOG_LEVEL (default info, the daemon's default).
# Prints figures only; it asserts nothing about speed.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=$(cd "${top_builddir:-.}" && pwd) || exit 1
CTL=$top_builddir/tools/imgatectl
BENCH=$top_builddir/tests/bench/bench_kms
KMS_CPU=${KMS_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
REPLAY_ENTRIES=${REPLAY_ENTRIES:-100000}
LOG_LEVEL=${LOG_LEVEL:-info}

. "$top_srcdir/tests/integ/kmslib.sh"
for b in "$KMS_BIN" "$CTL" "$BENCH"; do
	if [ ! -x "$b" ]; then
		echo "run-bench-kms: $b is not built (run from a build dir, or set top_builddir)" >&2
		exit 1
	fi
done
PIN_KMS="" PIN_CLIENT=""
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 2 ]; then
	PIN_KMS="taskset -c $KMS_CPU"
	PIN_CLIENT="taskset -c $CLIENT_CPU"
else
	echo "run-bench-kms: fewer than 2 CPUs or no taskset: not pinned" >&2
fi
KMS_WRAP=$PIN_KMS
kms_init bench-kms

"$CTL" kms key init --keys "$KT/kms-master.keys" >/dev/null || exit 1
for u in alice bob; do
	"$CTL" kms user add --users "$KT/kms-users.conf" \
	    --id "sip:$u@corp.example" --generate --psk-out "$KT/$u.psk" \
	    >/dev/null || exit 1
done
kms_free_port || exit 1
KMS_LOG_LEVEL=$LOG_LEVEL
kms_write_conf "$KT/kms.conf" "$kms_port" \
    "replay_cache_entries = $REPLAY_ENTRIES"
kms_start kms "$KT/kms.conf" || { kms_dump_log kms; exit 1; }

echo "run-bench-kms: $(nproc) CPUs: $(sed -n 's/^model name[^:]*: //p' \
    /proc/cpuinfo | head -1)"
echo "run-bench-kms: KMS PID $kms_pid_kms on CPU ${PIN_KMS:+$KMS_CPU}," \
    "client on CPU ${PIN_CLIENT:+$CLIENT_CPU}; replay_cache_entries" \
    "$REPLAY_ENTRIES, log_level $LOG_LEVEL"
$PIN_CLIENT "$BENCH" --pidfile "$KT/kms.pid" --kms-id sip:kms@corp.example \
    --initiator sip:alice@corp.example \
    --initiator-psk "$(tr -d ' \n' <"$KT/alice.psk")" \
    --responder sip:bob@corp.example \
    --responder-psk "$(tr -d ' \n' <"$KT/bob.psk")" \
    "$@" "http://127.0.0.1:$kms_port/mikey"
st=$?
echo "run-bench-kms: KMS log: $(wc -l <"$KT/kms.log") lines," \
    "$(wc -c <"$KT/kms.log") bytes"
kms_stop kms
echo "run-bench-kms: KMS stopped, exit status $kms_status"
exit $st
