#!/bin/sh
# tests/bench/run-bench-gw.sh - MESSAGE throughput of the imgate gateway
# next to sipp alone and a stateless Kamailio, on loopback
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
#   sh tests/bench/run-bench-gw.sh [-d SECONDS] [-s RATE] [-k STEP]
#       [-M MAXRATE] [-b BYTES] [-B BUDGET] [-c CHAINS]
#
#   -d  seconds per step (default 5)          -s  first rate (2000/s)
#   -k  rate step (2000/s)                    -M  highest rate (16000/s)
#   -b  socket buffers, all processes (4194304: peers.md)
#   -B  time budget in seconds for the whole run (280); a chain that
#       would pass it stops stepping and says so
#   -c  chains, comma separated (default direct,kamailio,gw-a,gw-ab):
#       direct    sipp UAC -> sipp UAS
#       kamailio  sipp UAC -> Kamailio forward_udp (stateless,
#                 tests/integ/kamailio/forward.cfg) -> sipp UAS
#       gw-a      sipp UAC -> gateway A (wraps; outside = a sipp UAS over
#                 TCP) -> UAS
#       gw-ab     sipp UAC -> A -> B (unwraps; inside = a sipp UAS over
#                 UDP) -> UAS
#       gw-store  sipp UAC -> A -> B, bob offline: B stores every
#                 MESSAGE (grouped commits) and answers 202 after the
#                 commit; prints messages per commit and B's RSS
#
# Each step runs the UAC at a fixed rate for a fixed time (sipp -r R -m
# R*T, tests/integ/sipp/uac_message.xml, one 100-byte text MESSAGE per
# call) and passes when every call succeeded with 0 failed and 0
# retransmissions (peers.md); the rate goes up by STEP until a step fails
# or MAXRATE.  For each chain it prints the highest passing rate, the p99
# response time at half that rate (an extra step with sipp -trace_rtt;
# 1 ms resolution), the CPU of the element under test from
# /proc/PID/stat (utime+stime, children included for Kamailio) as cores
# per 1000 MESSAGE/s, the gateways' KMS calls per message from their
# /metrics, the machine's steal time per step, and at the end the ratios
# to Kamailio.  The same -buff_size for every sipp, the same receive
# buffer for Kamailio (maxbuffer) and the gateways (-B).  Calls in the
# UAS end 1 s after its 200 (not 35 s as in the delivery tests): a step
# with any retransmission fails anyway, so a dropped "dead call" cannot
# turn a failing step into a passing one.  Prints progress on stderr.
#
# Run from a plain -O2 build directory (./configure without sanitizers).
# Environment: top_builddir (default .), top_srcdir, GW_BIN, KMS_BIN,
# SUT_CPU / LOAD_CPU (pin the element under test and the load with
# taskset; default: not pinned on fewer than 3 CPUs, otherwise 0 and 1-).
# Prints figures only; it asserts nothing about speed.  Loopback only.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=$(cd "${top_builddir:-.}" && pwd) || exit 1
CTL=$top_builddir/tools/imgatectl
KMS_BIN=${KMS_BIN:-$top_builddir/kms/imgate-kms}
GW_BIN=${GW_BIN:-$top_builddir/gateway/imgate}

T=5 START=2000 STEP=2000 MAXR=16000 BUF=4194304 BUDGET=280
CHAINS=direct,kamailio,gw-a,gw-ab
while getopts d:s:k:M:b:B:c:h o; do
	case $o in
	d) T=$OPTARG ;;
	s) START=$OPTARG ;;
	k) STEP=$OPTARG ;;
	M) MAXR=$OPTARG ;;
	b) BUF=$OPTARG ;;
	B) BUDGET=$OPTARG ;;
	c) CHAINS=$OPTARG ;;
	*) sed -n '2,45p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done

. "$top_srcdir/tests/integ/kmslib.sh"
. "$top_srcdir/tests/integ/gwlib.sh"
for b in sipp kamailio curl perl ss; do
	command -v "$b" >/dev/null 2>&1 || {
		echo "run-bench-gw: $b is not installed (sh scripts/dev.sh deps)" >&2
		exit 1
	}
done
SIPP_BUFF=$BUF
SIPP_HOLD=1000
gw_init bench-gw
cd "$KT" || exit 1
T0=$(date +%s)
HZ=$(getconf CLK_TCK)
log() {
	echo "run-bench-gw: $*" >&2
}

PIN_SUT="" PIN_LOAD=""
if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -ge 3 ]; then
	PIN_SUT="taskset -c ${SUT_CPU:-0}"
	PIN_LOAD="taskset -c ${LOAD_CPU:-1-$(($(nproc) - 1))}"
fi
echo "# run-bench-gw: $(nproc) CPUs, steps of $T s from $START/s by $STEP/s to $MAXR/s, buffers $BUF bytes, pinned: ${PIN_SUT:-no}"

# one line of 100 bytes of text per call
printf 'SEQUENTIAL\nalice@a.example;bob@b.example;%s\n' \
    "$(printf 'bench message %086d' 0)" >"$KT/bench.csv"

# cpu_ticks PID...: utime+stime of the PIDs and their children processes
cpu_ticks() {
	_all=""
	for _p in "$@"; do
		_all="$_all $_p $(grep -l "^PPid:[[:space:]]*$_p\$" /proc/[0-9]*/status 2>/dev/null |
		    sed 's#/proc/\([0-9]*\)/status#\1#')"
	done
	_t=0
	for _p in $_all; do
		_s=$(sed 's/^.*) //' "/proc/$_p/stat" 2>/dev/null) || continue
		# fields after "(comm) ": state is 1, utime 12, stime 13
		_t=$((_t + $(echo "$_s" | awk '{ print $12 + $13 }')))
	done
	echo $_t
}
steal_ticks() {
	awk '/^cpu / { print $9; exit }' /proc/stat
}
all_ticks() {
	awk '/^cpu / { s = 0; for (i = 2; i <= NF; i++) s += $i; print s; exit }' /proc/stat
}

# stat_col FILE NAME: the last value of column NAME in a sipp -stf file
stat_col() {
	awk -F';' -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
	    k { v = $k } END { print v + 0 }' "$1"
}

# step NAME DEST RATE [u1|t1] [rtt]: one fixed-rate run; sets
# step_ok (1/0), step_succ, step_fail, step_retr, step_cpu (cores),
# step_steal (%), step_p99 (ms, with rtt)
step() {
	_name=$1 _dest=$2 _r=$3 _t=${4:-u1} _rtt=${5:-}
	_m=$((_r * T))
	gw_free_port || return 1
	rm -f "$KT"/step_*
	_c0=$(cpu_ticks $SUT_PIDS) _s0=$(steal_ticks) _a0=$(all_ticks)
	set -- -sf "$GW_SIPP_DIR/uac_message.xml" -t "$_t" -i 127.0.0.1 \
	    -p "$gw_port" -inf "$KT/bench.csv" -r "$_r" -rp 1000 -m "$_m" \
	    -buff_size "$BUF" -key ctype "text/plain;charset=utf-8" \
	    -recv_timeout 10000 -nostdin -trace_stat -stf "$KT/step_stat.csv" \
	    -fd 1 -trace_err -error_file "$KT/step_err.log"
	[ -n "$_rtt" ] && set -- "$@" -trace_rtt -rtt_freq 1
	(cd "$KT" && timeout $((T * 4 + 30)) $PIN_LOAD sipp "$@" "$_dest" \
	    >"$KT/step_out.txt" 2>&1)
	_c1=$(cpu_ticks $SUT_PIDS) _s1=$(steal_ticks) _a1=$(all_ticks)
	step_succ=$(stat_col "$KT/step_stat.csv" "SuccessfulCall(C)")
	step_fail=$(stat_col "$KT/step_stat.csv" "FailedCall(C)")
	step_retr=$(stat_col "$KT/step_stat.csv" "Retransmissions(C)")
	step_cpu=$(awk -v d=$((_c1 - _c0)) -v hz="$HZ" -v t="$T" \
	    'BEGIN { printf "%.2f", d / hz / t }')
	step_steal=$(awk -v s=$((_s1 - _s0)) -v a=$((_a1 - _a0)) \
	    'BEGIN { printf "%.1f", a ? 100 * s / a : 0 }')
	step_p99=""
	if [ -n "$_rtt" ]; then
		# <scenario>_<pid>_rtt.csv: date;datems;response time (ms);rtd
		step_p99=$(cat "$KT"/*_rtt.csv 2>/dev/null |
		    awk -F';' '$3 ~ /^[0-9.]+$/ { print $3 }' | sort -n |
		    awk '{ v[NR] = $1 } END { if (NR) { i = int(NR * 0.99);
			if (i < 1) i = 1; print v[i] } else print "n/a" }')
		rm -f "$KT"/*_rtt.csv
	fi
	step_ok=0
	[ "$step_succ" -eq "$_m" ] && [ "$step_fail" -eq 0 ] &&
	    [ "$step_retr" -eq 0 ] && step_ok=1
	log "$_name $_r/s: $step_succ/$_m ok, $step_fail failed, $step_retr retrans, SUT ${step_cpu} cores, steal ${step_steal}%${step_p99:+, p99 ${step_p99} ms}"
}

# climb NAME DEST [u1|t1]: step the rate up; result in res_NAME_*
climb() {
	_nm=$1 _d=$2 _tr=${3:-u1}
	_r=$START best=0 bcpu="" why="reached -M $MAXR"
	while [ "$_r" -le "$MAXR" ]; do
		if [ $(($(date +%s) - T0 + T + 5)) -gt "$BUDGET" ]; then
			why="time budget ($BUDGET s) reached"
			break
		fi
		step "$_nm" "$_d" "$_r" "$_tr" || break
		if [ "$step_ok" -ne 1 ]; then
			why="failed at $_r/s ($step_fail failed, $step_retr retrans)"
			break
		fi
		best=$_r bcpu=$step_cpu
		_r=$((_r + STEP))
	done
	half=$((best / 2))
	p99=n/a
	if [ "$half" -gt 0 ] &&
	    [ $(($(date +%s) - T0 + T + 5)) -le "$BUDGET" ]; then
		step "$_nm" "$_d" "$half" "$_tr" rtt
		p99=${step_p99:-n/a}
		[ "$step_ok" -eq 1 ] ||
		    p99="$p99 (that step had $step_fail failed, $step_retr retrans)"
	fi
	kper=$(awk -v c="$bcpu" -v r="$best" \
	    'BEGIN { if (r > 0 && c != "") printf "%.3f", c * 1000 / r; else print "n/a" }')
	eval "res_${_nm}_best=$best res_${_nm}_cpu=$kper"; eval "res_${_nm}_p99=\"\$p99\""
	eval "res_${_nm}_why=\"\$why\""
	printf '%-9s max %6s/s with 0 failed/0 retrans (%s); p99 at %s/s: %s ms; SUT %s cores per 1000/s\n' \
	    "$_nm" "$best" "$why" "$half" "$p99" "$kper"
}

need_gw() {
	if [ ! -x "$GW_BIN" ] || [ ! -x "$KMS_BIN" ] || [ ! -x "$CTL" ]; then
		echo "$1: skipped: $GW_BIN, $KMS_BIN or $CTL is not built"
		return 1
	fi
	if [ -z "$kms_up" ]; then
		"$CTL" kms key init --keys "$KT/kms-master.keys" >/dev/null &&
		gw_kms_user gwa a.example && gw_kms_user gwb b.example &&
		kms_free_port && kms_write_conf "$KT/kms.conf" "$kms_port" \
		    "log_level = warn" &&
		kms_start k "$KT/kms.conf" || {
			echo "$1: skipped: the KMS did not start"
			kms_dump_log k
			return 1
		}
		gw_kms_url="http://127.0.0.1:$kms_port/mikey"
		kms_up=1
	fi
	return 0
}

# kms_per_msg NAME...: (KMS requests + resolves) / messages wrapped
kms_per_msg() {
	_k=0 _w=0
	for _g in "$@"; do
		_k=$((_k + $(gw_metric "$_g" imgate_gw_kms_exchanges_total 'exchange="request"') +
		    $(gw_metric "$_g" imgate_gw_kms_exchanges_total 'exchange="resolve"')))
		_w=$((_w + $(kms_metric "$KT/$_g.metrics" imgate_gw_messages_forwarded_total 'action="wrapped"')))
	done
	awk -v k="$_k" -v w="$_w" 'BEGIN { if (w) printf "%d KMS calls / %d messages = %.6f\n", k, w, k / w; else print "no messages wrapped" }'
}

kms_up=""
for chain in $(echo "$CHAINS" | tr ',' ' '); do
	log "---- $chain"
	gw_free_port || exit 1
	uport=$gw_port
	case $chain in
	direct)
		sipp_uas_start uas_d "$uport" u1 || exit 1
		eval "SUT_PIDS=\$gwp_uas_d"
		climb direct "127.0.0.1:$uport"
		gw_kill uas_d
		;;
	kamailio)
		sipp_uas_start uas_k "$uport" u1 || exit 1
		gw_free_port || exit 1
		kport=$gw_port
		KAM_WRAP=$PIN_SUT kamailio_start kfwd \
		    "$GW_KAM_DIR/forward.cfg" "$kport" \
		    -A 'NH_HOST="127.0.0.1"' -A "NH_PORT=$uport" \
		    -A "RCVBUF=$BUF" || { gw_dump_log kfwd; exit 1; }
		eval "SUT_PIDS=\$gwp_kfwd"
		climb kamailio "127.0.0.1:$kport"
		gw_kill kfwd
		gw_kill uas_k
		;;
	gw-a)
		need_gw "$chain" || continue
		sipp_uas_start uas_a "$uport" t1 || exit 1
		gw_alloc ga || exit 1
		gw_write_conf ga a.example "udp:127.0.0.1:$uport" \
		    "tcp:127.0.0.1:$uport"
		cp "$KT/gwa.psk" "$KT/ga.psk" 2>/dev/null
		GW_LOG_LEVEL=warn GW_WRAP=$PIN_SUT gw_start ga -B "$BUF" ||
		    { gw_dump_log ga; exit 1; }
		eval "SUT_PIDS=\$gwp_ga"
		climb gw_a "127.0.0.1:$gw_sip_ga"
		printf '%-9s %s\n' gw-a "$(kms_per_msg ga)"
		gw_stop ga
		gw_kill uas_a
		;;
	gw-ab)
		need_gw "$chain" || continue
		sipp_uas_start uas_b "$uport" u1 || exit 1
		gw_alloc ga2 && gw_alloc gb || exit 1
		cp "$KT/gwa.psk" "$KT/ga2.psk" 2>/dev/null
		cp "$KT/gwb.psk" "$KT/gb.psk" 2>/dev/null
		gw_write_conf gb b.example "udp:127.0.0.1:$uport" \
		    "tcp:127.0.0.1:$gw_sip_ga2"
		gw_write_conf ga2 a.example "udp:127.0.0.1:$uport" \
		    "tcp:127.0.0.1:$gw_sip_gb"
		GW_LOG_LEVEL=warn GW_WRAP=$PIN_SUT gw_start gb -B "$BUF" ||
		    { gw_dump_log gb; exit 1; }
		GW_LOG_LEVEL=warn GW_WRAP=$PIN_SUT gw_start ga2 -B "$BUF" ||
		    { gw_dump_log ga2; exit 1; }
		eval "SUT_PIDS=\"\$gwp_ga2 \$gwp_gb\""
		climb gw_ab "127.0.0.1:$gw_sip_ga2"
		printf '%-9s A: %s\n' gw-ab "$(kms_per_msg ga2)"
		printf '%-9s B: %s resolves\n' gw-ab \
		    "$(gw_metric gb imgate_gw_kms_exchanges_total 'exchange="resolve"')"
		gw_stop ga2
		gw_stop gb
		gw_kill uas_b
		;;
	gw-store)
		# durable enqueues: bob is offline at B (require_registration),
		# so every MESSAGE is wrapped by A, stored by B (grouped
		# commits) and answered 202 after its commit
		need_gw "$chain" || continue
		gw_alloc ga3 && gw_alloc gs || exit 1
		cp "$KT/gwa.psk" "$KT/ga3.psk" 2>/dev/null
		cp "$KT/gwb.psk" "$KT/gs.psk" 2>/dev/null
		gw_write_conf gs b.example "udp:127.0.0.1:$uport" \
		    "tcp:127.0.0.1:$gw_sip_ga3" "[store]" \
		    "require_registration = true" "max_per_rcpt = 100000000" \
		    "max_bytes_per_rcpt = 1099511627776" "max_total = 100000000"
		gw_write_conf ga3 a.example "udp:127.0.0.1:$uport" \
		    "tcp:127.0.0.1:$gw_sip_gs"
		GW_LOG_LEVEL=warn GW_WRAP=$PIN_SUT gw_start gs -B "$BUF" ||
		    { gw_dump_log gs; exit 1; }
		GW_LOG_LEVEL=warn GW_WRAP=$PIN_SUT gw_start ga3 -B "$BUF" ||
		    { gw_dump_log ga3; exit 1; }
		eval "SUT_PIDS=\"\$gwp_ga3 \$gwp_gs\""
		climb gw_store "127.0.0.1:$gw_sip_ga3"
		_st=$(gw_metric gs imgate_gw_stored_total)
		_cm=$(gw_metric gs imgate_gw_store_commits_total)
		printf '%-9s B stored %s messages in %s commits (%s per commit)\n' \
		    gw-store "$_st" "$_cm" "$(awk -v s="$_st" -v c="$_cm" \
		    'BEGIN { if (c) printf "%.1f", s / c; else print "n/a" }')"
		printf '%-9s B RSS %s kB with %s stored\n' gw-store \
		    "$(awk '/^VmRSS/ { print $2 }' "/proc/$gwp_gs/status")" "$_st"
		gw_stop ga3
		gw_stop gs
		;;
	*)
		echo "run-bench-gw: unknown chain $chain" >&2
		exit 2
		;;
	esac
done

# ratios to Kamailio
kb=${res_kamailio_best:-0}
if [ "$kb" -gt 0 ]; then
	for c in direct gw_a gw_ab; do
		eval "b=\${res_${c}_best:-}"
		[ -n "$b" ] || continue
		awk -v c="$c" -v b="$b" -v k="$kb" \
		    'BEGIN { printf "ratio %-7s / kamailio: %.2f (max rate)\n", c, b / k }'
	done
fi
echo "# run-bench-gw: $(($(date +%s) - T0)) s"
