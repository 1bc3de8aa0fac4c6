#!/bin/sh
# tests/bench/run-bench-list.sh - the list server's cost per member, in
# both modes (issue 7), with a real KMS and sipp, on loopback
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
#   sh tests/bench/run-bench-list.sh [-n MEMBERS] [-m MESSAGES] [-r RATE]
#
# alice@a.example sends MESSAGES (default 1000) at RATE/s (100) through
# gateway A (which wraps them for the group) to sip:team@b.example, served
# by gateway B with MEMBERS (10) members in a.example; B's outside next
# hop is a sipp UAS that answers every copy 200.  Run once with
# mode = fanout, once with mode = reencrypt.  For each it prints B's CPU
# (utime+stime from /proc, 10 ms ticks) per list message and per member
# copy, B's KMS exchanges, and the ratio of the two modes, all from the
# same run.  Also B's CPU for the same messages to a single user (no
# list) as the baseline of one copy.  Run from a plain -O2 build
# directory; prints figures only.
set -u
GW_WRAP=${GW_WRAP:-}
KMS_WRAP=${KMS_WRAP:-}
SIPP_WRAP=${SIPP_WRAP:-}
top_builddir=$(cd "${top_builddir:-.}" && pwd)
top_srcdir=$(cd "${top_srcdir:-$(dirname "$0")/../..}" && pwd)
. "$top_srcdir/tests/integ/kmslib.sh"
. "$top_srcdir/tests/integ/gwlib.sh"
CTL=${CTL:-$top_builddir/tools/imgatectl}
N=10 M=1000 R=100
while getopts n:m:r: o; do
	case $o in
	n) N=$OPTARG ;;
	m) M=$OPTARG ;;
	r) R=$OPTARG ;;
	*) echo "usage: run-bench-list.sh [-n MEMBERS] [-m MESSAGES]" \
	    "[-r RATE]" >&2; exit 2 ;;
	esac
done
HZ=$(getconf CLK_TCK)
log() { echo "run-bench-list: $*" >&2; }

cpu_ticks() {	# utime+stime of PID, in ticks
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

gw_init bench-list
members=""
i=1
while [ "$i" -le "$N" ]; do
	members="${members:+$members; }sip:m$i@a.example"
	i=$((i + 1))
done
"$CTL" kms key init --keys "$KT/kms-master.keys" >/dev/null || exit 1
gw_kms_user ga a.example && gw_kms_user gb b.example || exit 1
kms_free_port || exit 1
kms_write_conf "$KT/kms.conf" "$kms_port" "log_level = warn" \
    "[group sip:team@b.example]" "members = $members" \
    "exploders = sip:gw@b.example" || exit 1
kms_start k "$KT/kms.conf" || { kms_dump_log k; exit 1; }
gw_kms_url="http://127.0.0.1:$kms_port/mikey"
gw_kms_id=""
gw_free_port || exit 1
uport=$gw_port
SIPP_HOLD=1000 sipp_uas_start uas "$uport" u1 || exit 1
gw_alloc ga && gw_alloc gb || exit 1
# A: sender's side, outside = B
gw_write_conf ga a.example "udp:127.0.0.1:$uport" "tcp:127.0.0.1:$gw_sip_gb"
printf 'SEQUENTIAL\n' >"$KT/list.csv"
printf 'SEQUENTIAL\n' >"$KT/one.csv"
i=0
while [ "$i" -lt "$M" ]; do
	echo "alice@a.example;team@b.example;list message $i" >>"$KT/list.csv"
	echo "alice@a.example;bob@b.example;single message $i" >>"$KT/one.csv"
	i=$((i + 1))
done
echo "# run-bench-list: $(nproc) CPUs, $N members, $M messages at $R/s"

run() {	# run NAME MODE CSV: B with [list] MODE; B's CPU for CSV
	# (sipp_uac sets _n, _dest, _csv: names of our own here)
	rname=$1 rmode=$2 rcsv=$3
	gw_write_conf gb b.example "udp:127.0.0.1:$uport" \
	    "udp:127.0.0.1:$uport" "[list sip:team@b.example]" \
	    "mode = $rmode" "members = $members"
	GW_LOG_LEVEL=warn gw_start gb || { gw_dump_log gb; exit 1; }
	GW_LOG_LEVEL=warn gw_start ga || { gw_dump_log ga; exit 1; }
	# one message first: tickets and keys are fetched once, not timed
	head -2 "$rcsv" >"$KT/warm.csv"
	SIPP_RATE=10 sipp_uac warm "127.0.0.1:$gw_sip_ga" "$KT/warm.csv"
	sleep 1
	_k0=$(($(gw_metric gb imgate_gw_kms_exchanges_total 'exchange="request"') +
	    $(gw_metric gb imgate_gw_kms_exchanges_total 'exchange="resolve"')))
	_c0=$(cpu_ticks "$gwp_gb")
	SIPP_RATE=$R SIPP_TIMEOUT=$((M / R + 60)) sipp_uac "$rname" \
	    "127.0.0.1:$gw_sip_ga" "$rcsv" u1
	_c1=$(cpu_ticks "$gwp_gb")
	_k1=$(($(gw_metric gb imgate_gw_kms_exchanges_total 'exchange="request"') +
	    $(gw_metric gb imgate_gw_kms_exchanges_total 'exchange="resolve"')))
	res_ticks=$((_c1 - _c0))
	res_kms=$((_k1 - _k0))
	log "$rname: sipp exit $sipp_rc, B CPU $res_ticks ticks, KMS $res_kms"
	[ "$sipp_rc" -eq 0 ] || echo "# $rname: sipp exit $sipp_rc (failed calls)"
	gw_stop ga
	gw_stop gb
}

run single fanout "$KT/one.csv"
t_one=$res_ticks
run fanout fanout "$KT/list.csv"
t_fan=$res_ticks k_fan=$res_kms
run reencrypt reencrypt "$KT/list.csv"
t_re=$res_ticks k_re=$res_kms
awk -v hz="$HZ" -v m="$M" -v n="$N" -v one="$t_one" -v fan="$t_fan" \
    -v re="$t_re" -v kf="$k_fan" -v kr="$k_re" 'BEGIN {
	u = 1e6 / hz
	printf "single   B CPU %7.1f us per message (one copy, unwrap)\n", one * u / m
	printf "fanout   B CPU %7.1f us per list message, %6.1f us per member copy; KMS exchanges %d\n", fan * u / m, fan * u / m / n, kf
	printf "reencrypt B CPU %7.1f us per list message, %6.1f us per member copy; KMS exchanges %d\n", re * u / m, re * u / m / n, kr
	if (fan > 0)
		printf "ratio reencrypt / fanout: %.2f per member\n", re / fan
}'
