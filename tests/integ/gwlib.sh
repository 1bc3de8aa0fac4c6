# tests/integ/gwlib.sh - shell helpers for tests that run the imgate
# gateway with real SIP peers (sipp, Kamailio, baresip) on loopback
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# Sourced after kmslib.sh (". kmslib.sh; . gwlib.sh") by
# tests/integ/t_gw_sipp.sh, tests/integ/t_gw_peers.sh and
# tests/bench/run-bench-gw.sh.  POSIX sh.  Same rules as kmslib.sh: one
# throwaway directory ($KT), loopback only, never port 5060, every process
# started here is stopped by its PID (the EXIT trap stops what is left),
# every wait bounded.  Facts about the peers: /work/shared/peers.md.
#
#   gw_init NAME             kms_init NAME, then an EXIT trap that stops
#                            every process started here (gateways, sipp,
#                            Kamailio, baresip, tshark, sinks), then the KMSs
#   gw_need_peer BIN...      print "1..0 # SKIP ..." and exit 0 when a peer
#                            binary is missing (the only reason to skip)
#   gw_free_port [COUNT]     set $gw_port to a loopback port free for UDP
#                            and TCP (COUNT consecutive ports, default 1)
#   gw_kms_user NAME DOMAIN  add sip:gw@DOMAIN (act_for sip:*@DOMAIN) to
#                            $KT/kms-users.conf, PSK in $KT/NAME.psk
#   gw_alloc NAME            ports for a gateway: $gw_sip_NAME (UDP and
#                            TCP), $gw_admin_NAME
#   gw_write_conf NAME DOMAIN INSIDE OUTSIDE [LINE...]
#                            $KT/NAME.conf for identity sip:gw@DOMAIN,
#                            KMS $gw_kms_url, PSK $KT/NAME.psk, state dir
#                            $KT/state-NAME; INSIDE/OUTSIDE as
#                            "udp:127.0.0.1:PORT"; each LINE appended
#                            verbatim (sections too); log_level
#                            $GW_LOG_LEVEL (default info)
#   gw_start NAME [ARGS...]  GW_BIN -c $KT/NAME.conf -p $KT/NAME.pid ARGS
#                            in the background, log in $KT/NAME.log; wait
#                            (<= GW_WAIT s) for GET /health on the admin
#                            port; sets gw_pid_NAME; 1 on failure
#   gw_stop NAME             SIGTERM by PID, wait (then SIGKILL);
#                            $gw_status = its exit status
#   gw_hup NAME              SIGHUP (reload)
#   gw_metrics NAME          GET /metrics into $KT/NAME.metrics
#   gw_metric NAME METRIC [LABELS]
#                            the value from a fresh /metrics (0 if absent)
#   gw_health NAME           0 if GET /health answers 200
#   gw_dump_log NAME [N]     the last N (60) lines of $KT/NAME.log as TAP
#                            comments (any process started here)
#
#   kamailio_start NAME CFG PORT [ARGS...]
#                            kamailio -f CFG -DD -E on udp:127.0.0.1:PORT
#                            only, -m $KAM_SHM (256), working and runtime
#                            dir $KT/NAME.run, pid file $KT/NAME.pid, log
#                            $KT/NAME.log; waits for the port; kam_pid_NAME
#   kamailio_stop NAME       SIGTERM by PID (Kamailio stops its children)
#
#   baresip_start NAME AOR PROXY PEER
#                            a baresip UA: config dir $KT/NAME.bs from
#                            tests/integ/baresip/*.in (sip_listen on a
#                            free port, net_interface 127.0.0.1, ctrl_tcp
#                            on another), account AOR with outbound PROXY
#                            (sip:127.0.0.1:PORT;transport=udp), current
#                            contact PEER; stdin a FIFO kept open by a
#                            holder process; -t $BARESIP_LIFE (120) s;
#                            stdout in $KT/NAME.out; $bs_sip_NAME,
#                            $bs_ctrl_NAME
#   baresip_wait NAME PATTERN [SECONDS]
#                            wait until $KT/NAME.out has a line with the
#                            fixed string PATTERN (default 10 s)
#   baresip_registered NAME [SECONDS]
#                            wait for the "200 OK" of its REGISTER
#   baresip_send NAME TEXT   "/message TEXT" into its stdin FIFO: a MESSAGE
#                            to the current contact
#   baresip_ctrl NAME COMMAND [PARAMS]
#                            one netstring JSON command over ctrl_tcp;
#                            the answer in $KT/NAME.ctrl
#   baresip_stop NAME        SIGINT (it unregisters), then SIGTERM/KILL
#
#   sipp_uas_start NAME PORT [u1|t1] [ARGS...]
#                            tests/integ/sipp/uas_message.xml on
#                            127.0.0.1:PORT: 200 to each MESSAGE/OPTIONS,
#                            calls held $SIPP_HOLD ms (35000 > Timer F);
#                            trace in $KT/NAME.msg; sipp_pid_NAME
#   sipp_uac NAME DEST CSV [u1|t1] [ARGS...]
#                            uac_message.xml, one MESSAGE per CSV line to
#                            DEST (127.0.0.1:PORT), bounded; $sipp_rc is
#                            sipp's exit status (0: all 200/202); trace in
#                            $KT/NAME.msg, errors in $KT/NAME.err
#   sipp_raw NAME DEST HEAD BODY
#                            raw_send.xml over TCP: the MESSAGE in HEAD
#                            (request line and headers, no Via, no
#                            Content-Length, no CRLF after the last line:
#                            sip_split writes one) with BODY (any bytes),
#                            sent with the same Request-URI and Call-ID;
#                            $sipp_status = the final status (or "none")
#   sipp_options NAME DEST USER DOMAIN [u1|t1]
#                            one OPTIONS sip:USER@DOMAIN; $sipp_status
#   sipp_status TRACE        the last final status received in a trace
#   sipp_rx NAME N           the N-th request received in $KT/NAME.msg,
#                            byte-exact (sipp traces give the length):
#                            head in $KT/NAME.rx.head, body in
#                            $KT/NAME.rx.body; 1 if there is none
#   sipp_rx_count NAME [METHOD]
#                            requests (METHOD, default MESSAGE) received
#   sip_hdr FILE NAME        the value of header NAME (first, case-
#                            insensitive, CR removed) of a head file
#   sip_split REQ HEAD BODY  split a captured request (file) into a head
#                            for sipp_raw (Via and Content-Length removed,
#                            no CRLF after the last line) and its body
#
#   gw_sink_start NAME PORT  a TCP SIP sink (perl): stores every request
#                            byte for byte in $KT/NAME.N.sip (N = 1, 2,
#                            ...), answers 200; sipp's trace cannot hold a
#                            binary body (it stops at the first NUL)
#   gw_sink_wait NAME N [SECONDS]
#                            wait until the sink has stored N requests
#   tshark_start NAME FILTER [ARGS...]
#                            capture on lo into $KT/NAME.pcap with capture
#                            filter FILTER; waits until it captures
#   tshark_stop NAME         SIGINT by PID, wait for the file
#   gw_kill NAME [SIGNAL]    stop any process started here by its PID
#
# Needs: kmslib.sh (curl), ss (iproute2), awk, od, perl (perl-base: the
# binary-safe sink, trace parsing, ctrl_tcp client), timeout (coreutils).
# Environment: top_srcdir, top_builddir; GW_BIN (default
# $top_builddir/gateway/imgate), GW_WRAP (a command prefix that execs the
# daemon, e.g. "taskset -c 1"), GW_WAIT (10), GW_LOG_LEVEL (info),
# SIPP (sipp), SIPP_HOLD (35000), SIPP_BUFF (4194304), KAMAILIO (kamailio),
# KAM_SHM (256), BARESIP (baresip), BARESIP_LIFE (120), TSHARK (tshark),
# GW_KEEP=1 (or KMS_KEEP=1) keeps $KT.

GW_BIN=${GW_BIN:-$top_builddir/gateway/imgate}
GW_WAIT=${GW_WAIT:-10}
GW_CTL=${GW_CTL:-$top_builddir/tools/imgatectl}
GW_SIPP_DIR=${GW_SIPP_DIR:-$top_srcdir/tests/integ/sipp}
GW_KAM_DIR=${GW_KAM_DIR:-$top_srcdir/tests/integ/kamailio}
GW_BS_DIR=${GW_BS_DIR:-$top_srcdir/tests/integ/baresip}
SIPP=${SIPP:-sipp}
SIPP_HOLD=${SIPP_HOLD:-35000}
SIPP_BUFF=${SIPP_BUFF:-4194304}
KAMAILIO=${KAMAILIO:-kamailio}
KAM_SHM=${KAM_SHM:-256}
BARESIP=${BARESIP:-baresip}
BARESIP_LIFE=${BARESIP_LIFE:-120}
TSHARK=${TSHARK:-tshark}
gw_procs=""		# names of every process started here, in order
gw_kms_id=${GW_KMS_ID:-sip:kms@corp.example}	# kms_write_conf's id

gw_cleanup() {
	# last started first: UAs before the gateways before the registrar
	_rev=""
	for _n in $gw_procs; do
		_rev="$_n $_rev"
	done
	for _n in $_rev; do
		gw_kill "$_n" TERM >/dev/null 2>&1
	done
	[ -n "${GW_KEEP:-}" ] && KMS_KEEP=1
	kms_cleanup
}

gw_init() {
	kms_init "$1"
	trap 'gw_cleanup' 0
}

gw_need_peer() {
	for _b in "$@"; do
		if ! command -v "$_b" >/dev/null 2>&1 && [ ! -x "$_b" ]; then
			echo "1..0 # SKIP $_b is not installed (sh scripts/dev.sh deps)"
			exit 0
		fi
	done
}

# gw_track NAME PID - remember a process started here
gw_track() {
	eval "gwp_$1=$2"
	case " $gw_procs " in *" $1 "*) ;; *) gw_procs="$gw_procs $1" ;; esac
}

# gw_kill NAME [SIGNAL] - signal by PID, wait <= 5 s, then SIGKILL;
# $gw_kill_status = exit status (when it was our child)
gw_kill() {
	eval "_p=\${gwp_$1:-}"
	gw_kill_status=255
	[ -n "$_p" ] || return 1
	if kill -0 "$_p" 2>/dev/null; then
		kill "-${2:-TERM}" "$_p" 2>/dev/null
		_i=0
		while kill -0 "$_p" 2>/dev/null && [ $_i -lt 50 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		if kill -0 "$_p" 2>/dev/null; then
			echo "# gw_kill $1: still running after 5 s: SIGKILL" >&2
			kill -KILL "$_p" 2>/dev/null
		fi
	fi
	wait "$_p" 2>/dev/null
	gw_kill_status=$?
	eval "gwp_$1="
	return 0
}

# gw_alive NAME - 0 if the process NAME runs
gw_alive() {
	eval "_p=\${gwp_$1:-}"
	[ -n "$_p" ] && kill -0 "$_p" 2>/dev/null
}

# gw_port_busy PORT - 0 if a TCP listener or a UDP socket holds PORT
gw_port_busy() {
	if command -v ss >/dev/null 2>&1; then
		ss -Hanut "sport = :$1" 2>/dev/null | grep -q .
		return $?
	fi
	_hex=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 \
	    2>/dev/null | awk -v p=":$_hex" \
	    'substr($2, length($2) - 4) == p { f = 1 } END { exit !f }'
}

# gw_udp_bound PORT / gw_tcp_listening PORT
gw_udp_bound() {
	ss -Hlnu "sport = :$1" 2>/dev/null | grep -q .
}
gw_tcp_listening() {
	ss -Hlnt "sport = :$1" 2>/dev/null | grep -q .
}

gw_free_port() {
	_fpc=${1:-1}
	_try=0
	while [ $_try -lt 100 ]; do
		_try=$((_try + 1))
		kms_random_port		# below the ephemeral range
		_k=0
		_bad=""
		while [ $_k -lt "$_fpc" ]; do
			_q=$((_port + _k))
			case " $kms_used_ports " in
			*" $_q "*) _bad=1 ;;
			esac
			[ -z "$_bad" ] && gw_port_busy "$_q" && _bad=1
			[ -n "$_bad" ] && break
			_k=$((_k + 1))
		done
		[ -n "$_bad" ] && continue
		_k=0
		while [ $_k -lt "$_fpc" ]; do
			kms_used_ports="$kms_used_ports $((_port + _k))"
			_k=$((_k + 1))
		done
		gw_port=$_port
		return 0
	done
	echo "gw_free_port: no free port found" >&2
	return 1
}

# gw_wait_cond SECONDS CMD... - poll CMD every 0.1 s
gw_wait_cond() {
	_lim=$(($1 * 10))
	shift
	_i=0
	while [ $_i -lt $_lim ]; do
		"$@" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# ---- the gateway

gw_kms_user() {
	"$GW_CTL" kms user add --users "$KT/kms-users.conf" \
	    --id "sip:gw@$2" --generate --psk-out "$KT/$1.psk" \
	    --act-for "sip:*@$2" >"$KT/$1.user.out" 2>&1
}

gw_alloc() {
	gw_free_port || return 1
	eval "gw_sip_$1=$gw_port"
	gw_free_port || return 1
	eval "gw_admin_$1=$gw_port"
}

gw_write_conf() {
	_n=$1 _dom=$2 _in=$3 _out=$4
	shift 4
	eval "_sp=\$gw_sip_$_n _ap=\$gw_admin_$_n"
	# no state dir made here: the gateway makes its own (state_dir)
	{
		echo "[gateway]"
		echo "identity = sip:gw@$_dom"
		echo "kms_url = ${gw_kms_url:?gw_kms_url is not set}"
		[ -n "$gw_kms_id" ] && echo "kms_id = $gw_kms_id"
		echo "psk_file = $_n.psk"
		echo "state_dir = state-$_n"
		echo "log_level = ${GW_LOG_LEVEL:-info}"
		echo "[listen]"
		echo "udp = 127.0.0.1:$_sp"
		echo "tcp = 127.0.0.1:$_sp"
		echo "[admin]"
		echo "listen = 127.0.0.1:$_ap"
		echo "[route]"
		echo "local_domains = $_dom"
		[ -n "$_in" ] && echo "inside = $_in"
		[ -n "$_out" ] && echo "outside = $_out"
		echo "protect = *"
		for _l in "$@"; do
			printf '%s\n' "$_l"
		done
	} >"$KT/$_n.conf"
}

gw_health() {
	eval "_ap=\$gw_admin_$1"
	curl -s -o /dev/null --max-time 2 -f "http://127.0.0.1:$_ap/health" \
	    2>/dev/null
}

gw_start() {
	_n=$1
	shift
	rm -f "$KT/$_n.pid"
	$GW_WRAP "$GW_BIN" -c "$KT/$_n.conf" -p "$KT/$_n.pid" "$@" \
	    >"$KT/$_n.log" 2>&1 &
	gw_track "$_n" $!
	eval "gw_pid_$_n=$!"
	_i=0
	_lim=$((GW_WAIT * 10))
	while [ $_i -lt $_lim ]; do
		if ! gw_alive "$_n"; then
			eval "wait \$gw_pid_$_n"
			gw_status=$?
			echo "# gw_start $_n: exited with status $gw_status" >&2
			gw_dump_log "$_n" 20 >&2
			return 1
		fi
		gw_health "$_n" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "# gw_start $_n: no /health after $GW_WAIT s" >&2
	return 1
}

gw_stop() {
	gw_kill "$1" TERM
	_r=$?
	gw_status=$gw_kill_status
	return $_r
}

gw_hup() {
	eval "_p=\${gwp_$1:-}"
	[ -n "$_p" ] && kill -HUP "$_p"
}

gw_metrics() {
	eval "_ap=\$gw_admin_$1"
	curl -s --max-time 5 -o "$KT/$1.metrics" \
	    "http://127.0.0.1:$_ap/metrics" 2>/dev/null ||
	    : >"$KT/$1.metrics"
}

gw_metric() {
	gw_metrics "$1"
	kms_metric "$KT/$1.metrics" "$2" "${3:-}"
}

gw_dump_log() {
	for _f in "$KT/$1.log" "$KT/$1.out" "$KT/$1.err"; do
		[ -s "$_f" ] || continue
		echo "# ---- ${_f##*/} (last ${2:-60} lines)"
		tail -"${2:-60}" "$_f" | tr -d '\r' | sed 's/^/# /'
	done
}

# ---- Kamailio

kamailio_start() {
	_n=$1 _cfg=$2 _port=$3
	shift 3
	mkdir -p "$KT/$_n.run"
	rm -f "$KT/$_n.pid"
	# -DD: the creator stays in the foreground (its children are forked
	# and stopped by it); -E: log on stderr; -Y and -w: nothing outside
	# $KT; -l: the one listener (a cfg without listen= would bind every
	# address on 5060)
	$KAM_WRAP "$KAMAILIO" -f "$_cfg" -DD -E -m "$KAM_SHM" -M 8 \
	    -w "$KT/$_n.run" -Y "$KT/$_n.run" -P "$KT/$_n.pid" \
	    -l "udp:127.0.0.1:$_port" "$@" >"$KT/$_n.log" 2>&1 &
	gw_track "$_n" $!
	eval "kam_pid_$_n=$!"
	if ! gw_wait_cond 10 gw_udp_bound "$_port"; then
		echo "# kamailio_start $_n: port $_port not bound" >&2
		gw_dump_log "$_n" 20 >&2
		return 1
	fi
	# the workers start after the bind: give them a moment
	gw_wait_cond 5 test -s "$KT/$_n.pid"
	sleep 0.3
	gw_alive "$_n"
}

kamailio_stop() {
	gw_kill "$1" TERM
}

# ---- baresip

baresip_start() {
	_n=$1 _aor=$2 _proxy=$3 _peer=$4
	_d=$KT/$_n.bs
	mkdir -p "$_d"
	# baresip binds sip_listen for UDP and TCP and the next port for TLS
	gw_free_port 2 || return 1
	eval "bs_sip_$_n=$gw_port"
	_sp=$gw_port
	gw_free_port || return 1
	eval "bs_ctrl_$_n=$gw_port"
	_cp=$gw_port
	gw_free_port 10 || return 1
	sed -e "s/@SIP_PORT@/$_sp/" -e "s/@CTRL_PORT@/$_cp/" \
	    -e "s/@RTP_MIN@/$gw_port/" -e "s/@RTP_MAX@/$((gw_port + 9))/" \
	    "$GW_BS_DIR/config.in" >"$_d/config"
	sed -e '/^#/d' -e "s|@AOR@|$_aor|" -e "s|@PROXY@|$_proxy|" \
	    "$GW_BS_DIR/accounts.in" >"$_d/accounts"
	sed -e '/^#/d' -e "s|@PEER@|$_peer|" \
	    "$GW_BS_DIR/contacts.in" >"$_d/contacts"
	printf '%s' "$_peer" >"$_d/current_contact"
	rm -f "$_d/in"
	mkfifo "$_d/in" || return 1
	# the holder keeps the FIFO open for writing: baresip's stdio UI
	# never sees EOF (at EOF it spins at 100 % CPU)
	sleep $((BARESIP_LIFE + 10)) >"$_d/in" &
	gw_track "$_n"_fifo $!
	$BARESIP_WRAP "$BARESIP" -f "$_d" -t "$BARESIP_LIFE" ${BARESIP_ARGS:-} \
	    <"$_d/in" >"$KT/$_n.out" 2>&1 &
	gw_track "$_n" $!
	if ! gw_wait_cond 10 gw_tcp_listening "$_cp"; then
		echo "# baresip_start $_n: ctrl_tcp $_cp not listening" >&2
		gw_dump_log "$_n" 20 >&2
		return 1
	fi
	return 0
}

_bs_has() {
	grep -qF -- "$2" "$KT/$1.out" 2>/dev/null
}

baresip_wait() {
	gw_wait_cond "${3:-10}" _bs_has "$1" "$2"
}

_bs_reg() {
	tr -d '\r' <"$KT/$1.out" 2>/dev/null | grep -q '200 OK.*binding'
}

baresip_registered() {
	gw_wait_cond "${2:-10}" _bs_reg "$1"
}

baresip_send() {
	printf '/message %s\n' "$2" >"$KT/$1.bs/in"
}

# a netstring-framed JSON command to ctrl_tcp; answer in $KT/NAME.ctrl
baresip_ctrl() {
	eval "_cp=\$bs_ctrl_$1"
	perl -MIO::Socket::INET -e '
	my ($port, $cmd, $params) = @ARGV;
	sub js { my $s = shift; $s =~ s/(["\\])/\\$1/g;
		$s =~ s/([\x00-\x1f])/sprintf("\\u%04x", ord $1)/ge; "\"$s\"" }
	my $j = "{\"command\":" . js($cmd) . ",\"params\":" . js($params) .
	    ",\"token\":\"t1\"}";
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
	    PeerPort => $port, Timeout => 3) or die "connect: $!\n";
	print $s length($j) . ":" . $j . ",";
	my $buf = "";
	my $rin = ""; vec($rin, fileno($s), 1) = 1;
	my $end = time + 5;
	while (time < $end) {
		my $r = $rin;
		last unless select($r, undef, undef, 0.5);
		last unless sysread($s, $buf, 65536, length $buf);
		last if $buf =~ /"response"\s*:\s*true/ && $buf =~ /,$/;
	}
	print $buf, "\n";' "$_cp" "$2" "${3:-}" >"$KT/$1.ctrl" 2>&1
}

baresip_stop() {
	gw_kill "$1" INT
	_bs_st=$gw_kill_status
	gw_kill "$1"_fifo TERM
	gw_kill_status=$_bs_st
}

# ---- sipp

sipp_uas_start() {
	_n=$1 _port=$2 _t=${3:-u1}
	shift 2
	[ $# -gt 0 ] && shift
	rm -f "$KT/$_n.msg" "$KT/$_n.err"
	$SIPP_WRAP "$SIPP" -sf "$GW_SIPP_DIR/uas_message.xml" -t "$_t" \
	    -i 127.0.0.1 -p "$_port" -d "$SIPP_HOLD" -buff_size "$SIPP_BUFF" \
	    -nostdin -trace_msg -message_file "$KT/$_n.msg" \
	    -trace_err -error_file "$KT/$_n.err" "$@" \
	    >"$KT/$_n.out" 2>&1 &
	gw_track "$_n" $!
	eval "sipp_pid_$_n=$!"
	if [ "$_t" = t1 ]; then
		gw_wait_cond 10 gw_tcp_listening "$_port"
	else
		gw_wait_cond 10 gw_udp_bound "$_port"
	fi || {
		echo "# sipp_uas_start $_n: port $_port not bound" >&2
		gw_dump_log "$_n" 20 >&2
		return 1
	}
}

sipp_uac() {
	_n=$1 _dest=$2 _csv=$3 _t=${4:-u1}
	shift 3
	[ $# -gt 0 ] && shift
	_cnt=$(($(wc -l <"$_csv") - 1))
	gw_free_port || return 1
	rm -f "$KT/$_n.msg" "$KT/$_n.err"
	timeout "${SIPP_TIMEOUT:-60}" $SIPP_WRAP "$SIPP" \
	    -sf "$GW_SIPP_DIR/uac_message.xml" -t "$_t" \
	    -i 127.0.0.1 -p "$gw_port" -inf "$_csv" -m "$_cnt" \
	    -r "${SIPP_RATE:-20}" -l 50 -buff_size "$SIPP_BUFF" \
	    -key ctype "${SIPP_CTYPE:-text/plain;charset=utf-8}" \
	    -recv_timeout "${SIPP_RECV_TIMEOUT:-10000}" -nostdin \
	    -trace_msg -message_file "$KT/$_n.msg" \
	    -trace_err -error_file "$KT/$_n.err" "$@" "$_dest" \
	    >"$KT/$_n.out" 2>&1
	sipp_rc=$?
	return 0
}

sipp_status() {
	tr -d '\r' <"$1" 2>/dev/null |
	    sed -n 's/^SIP\/2\.0 \([2-6][0-9][0-9]\) .*/\1/p' | tail -1 |
	    grep . || echo none
}

sipp_raw() {
	_n=$1 _dest=$2
	rm -rf "$KT/$_n.d"
	mkdir -p "$KT/$_n.d"
	# sipp takes no keyword for the method: the scenario writes
	# "MESSAGE [ruri] SIP/2.0" itself, the other lines come from the file
	_rl=$(head -1 "$3" | tr -d '\r')
	case $_rl in
	"MESSAGE "*" SIP/2.0") ;;
	*)	echo "# sipp_raw: not a MESSAGE request line: $_rl" >&2
		return 1 ;;
	esac
	_ru=${_rl#MESSAGE }
	_ru=${_ru% SIP/2.0}
	# sipp maps the answer to its call by Call-ID: the scenario writes
	# Call-ID: [call_id], and -cid_str makes that the file's Call-ID
	_cid=$(sip_hdr "$3" Call-ID | sed 's/%/%%/g')
	[ -n "$_cid" ] || _cid="%u-%p@%s"
	tail -n +2 "$3" | perl -0777 -pe 's/(^|\r\n)(call-id|i)\s*:[^\r]*//i;
	    s/^\r\n//' >"$KT/$_n.d/raw.head" &&
	    cp "$4" "$KT/$_n.d/raw.body" || return 1
	gw_free_port || return 1
	(cd "$KT/$_n.d" && timeout "${SIPP_TIMEOUT:-60}" $SIPP_WRAP \
	    "$SIPP" -sf "$GW_SIPP_DIR/raw_send.xml" -t t1 -i 127.0.0.1 \
	    -p "$gw_port" -m 1 -key ruri "$_ru" -cid_str "$_cid" \
	    -recv_timeout "${SIPP_RECV_TIMEOUT:-10000}" \
	    -nostdin -trace_msg -message_file "$KT/$_n.msg" \
	    -trace_err -error_file "$KT/$_n.err" "$_dest" \
	    >"$KT/$_n.out" 2>&1)
	sipp_rc=$?
	sipp_status=$(sipp_status "$KT/$_n.msg")
}

sipp_options() {
	_n=$1
	gw_free_port || return 1
	rm -f "$KT/$_n.msg"
	timeout "${SIPP_TIMEOUT:-60}" $SIPP_WRAP "$SIPP" \
	    -sf "$GW_SIPP_DIR/options.xml" -t "${5:-u1}" -i 127.0.0.1 \
	    -p "$gw_port" -m 1 -s "$3" -key ruri_host "$4" \
	    -recv_timeout "${SIPP_RECV_TIMEOUT:-10000}" -nostdin \
	    -trace_msg -message_file "$KT/$_n.msg" \
	    -trace_err -error_file "$KT/$_n.err" "$2" >"$KT/$_n.out" 2>&1
	sipp_rc=$?
	sipp_status=$(sipp_status "$KT/$_n.msg")
}

# the perl that reads a sipp -trace_msg file: every received block is
# "TCP|UDP message received [LEN] bytes :\n\n" and LEN bytes of message
_sipp_rx_pl='
my ($file, $want, $method, $head, $body) = @ARGV;
local $/; open my $f, "<", $file or exit 1; binmode $f; my $t = <$f>;
my ($i, $cnt) = (0, 0);
while ($t =~ /(?:UDP|TCP|TLS|SCTP) message received \[(\d+)\] bytes :\n\n/g) {
	my $m = substr($t, pos($t), $1);
	next unless $m =~ /^([A-Z]+) \S+ SIP\/2\.0\r\n/ && $1 eq $method;
	$cnt++;
	next unless $want && $cnt == $want;
	my $p = index($m, "\r\n\r\n");
	open my $h, ">", $head or exit 1; binmode $h;
	print $h substr($m, 0, $p + 2);
	open my $b, ">", $body or exit 1; binmode $b;
	print $b substr($m, $p + 4);
	exit 0;
}
if (!$want) { print "$cnt\n"; exit 0 }
exit 1;'

sipp_rx() {
	perl -e "$_sipp_rx_pl" "$KT/$1.msg" "$2" "${3:-MESSAGE}" \
	    "$KT/$1.rx.head" "$KT/$1.rx.body"
}

sipp_rx_count() {
	perl -e "$_sipp_rx_pl" "$KT/$1.msg" 0 "${2:-MESSAGE}" /dev/null \
	    /dev/null 2>/dev/null || echo 0
}

sip_hdr() {
	tr -d '\r' <"$1" | awk -v h="$2" '
	BEGIN { h = tolower(h) }
	NR > 1 {
		i = index($0, ":")
		if (i == 0) next
		n = tolower(substr($0, 1, i - 1))
		sub(/[ \t]+$/, "", n)
		if (n == h) {
			v = substr($0, i + 1)
			sub(/^[ \t]+/, "", v)
			print v
			exit
		}
	}'
}

sip_split() {
	perl -e '
	my ($req, $head, $body) = @ARGV;
	local $/; open my $f, "<", $req or die "$req: $!\n"; binmode $f;
	my $m = <$f>;
	my $p = index($m, "\r\n\r\n");
	die "$req: no end of headers\n" if $p < 0;
	my @l = split /\r\n/, substr($m, 0, $p);
	@l = grep { !/^(via|v|content-length|l)\s*:/i } @l;
	open my $h, ">", $head or die; binmode $h;
	print $h join("\r\n", @l);
	open my $b, ">", $body or die; binmode $b;
	print $b substr($m, $p + 4);' "$1" "$2" "$3"
}

# ---- a binary-safe TCP sink (perl): stores requests, answers 200

gw_sink_start() {
	_n=$1 _port=$2
	perl -MIO::Socket::INET -MIO::Select -e '
	my ($port, $prefix) = @ARGV;
	$| = 1;
	my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1",
	    LocalPort => $port, Listen => 16, ReuseAddr => 1, Proto => "tcp")
	    or die "listen: $!\n";
	my $sel = IO::Select->new($l);
	my (%buf, $n);
	my $end = time + ($ENV{GW_SINK_LIFE} || 300);
	while (time < $end) {
		for my $s ($sel->can_read(0.5)) {
			if ($s == $l) { $sel->add($l->accept); next }
			my $r = sysread($s, $buf{$s}, 65536, length($buf{$s} // ""));
			if (!$r) { $sel->remove($s); delete $buf{$s}; close $s; next }
			while (1) {
				my $b = $buf{$s};
				$b =~ s/^(\r\n)+//;
				my $p = index($b, "\r\n\r\n");
				last if $p < 0;
				my $h = substr($b, 0, $p + 2);
				my ($cl) = $h =~ /\r\n(?:content-length|l)\s*:\s*(\d+)/i;
				$cl //= 0;
				last if length($b) < $p + 4 + $cl;
				my $m = substr($b, 0, $p + 4 + $cl);
				$buf{$s} = substr($b, $p + 4 + $cl);
				next if $m =~ /^SIP\//;
				$n++;
				open my $o, ">", "$prefix.$n.sip.tmp" or die; binmode $o;
				print $o $m; close $o;
				rename "$prefix.$n.sip.tmp", "$prefix.$n.sip";
				print "stored $n: ", ($m =~ /^([^\r]*)/)[0], "\n";
				next if $m =~ /^ACK /;
				my $resp = "SIP/2.0 200 OK\r\n";
				for my $line (split /\r\n/, $h) {
					if ($line =~ /^(via|v|from|f|call-id|i|cseq)\s*:/i) {
						$resp .= "$line\r\n";
					} elsif ($line =~ /^(to|t)\s*:/i) {
						$resp .= $line =~ /;tag=/ ? "$line\r\n"
						    : "$line;tag=sink$n\r\n";
					}
				}
				$resp .= "Server: imgate-test-sink\r\n" .
				    "Content-Length: 0\r\n\r\n";
				syswrite($s, $resp);
			}
		}
	}' "$_port" "$KT/$_n" >"$KT/$_n.out" 2>&1 &
	gw_track "$_n" $!
	gw_wait_cond 10 gw_tcp_listening "$_port"
}

gw_sink_wait() {
	gw_wait_cond "${3:-10}" test -f "$KT/$1.$2.sip"
}

# ---- tshark

_ts_ready() {
	grep -q "Capturing on" "$KT/$1.tserr" 2>/dev/null
}

tshark_start() {
	_n=$1 _f=$2
	shift 2
	rm -f "$KT/$_n.pcap"
	"$TSHARK" -i lo -f "$_f" -w "$KT/$_n.pcap" -F pcap -q "$@" \
	    >"$KT/$_n.tsout" 2>"$KT/$_n.tserr" &
	gw_track "$_n" $!
	if ! gw_wait_cond 15 _ts_ready "$_n"; then
		echo "# tshark_start $_n: not capturing after 15 s" >&2
		sed 's/^/# /' "$KT/$_n.tserr" >&2
		return 1
	fi
	sleep 0.3
}

tshark_stop() {
	sleep 0.5	# let the last packets reach the file
	gw_kill "$1" INT
}

# ---- UDP helpers (perl, IPv4 or IPv6), added for tests/integ/t_gw_edge.sh
#
#   gw_udp_hop_start NAME PORT [MODE] [ADDR]
#                            a UDP SIP next hop on ADDR (127.0.0.1; "::1"
#                            for IPv6):PORT that stores every datagram
#                            that is not a response, byte for byte, in
#                            $KT/NAME.N.sip (N = 1, 2, ...) and answers
#                            requests (not ACK) by MODE: STATUS (default
#                            200) at once, STATUS@MS after MS ms, or
#                            "none" (never answers: a black hole); the
#                            answer copies every Via, From, To (a tag
#                            added), Call-ID and CSeq and goes to the
#                            datagram's source; life $GW_SINK_LIFE (300) s
#   gw_udp_hop_count NAME [METHOD]
#                            datagrams stored (whose request line starts
#                            with METHOD, default all)
#   gw_udp_req NAME DEST FILE [STEP...]
#                            one UDP socket (IPv6 when DEST is
#                            "[::1]:PORT") sends the request in FILE, with
#                            @LOCAL@ replaced by the socket's host:port
#                            and @LEN@ by the body's length (the bytes
#                            after the first CRLF CRLF), following STEPs:
#                            "send"; SECONDS (receive that long);
#                            "final" or "final:SECONDS" (receive until
#                            one more final answer, <= 8 s); default
#                            "send final"; then 0.3 s more.  The request
#                            as sent is kept in $KT/NAME.sent, every
#                            answer in $KT/NAME.r.K; $udp_st = their
#                            status codes in order ("100 200 200"; "junk"
#                            for a datagram that is not a response)

gw_udp_hop_start() {
	_n=$1 _port=$2
	rm -f "$KT/$_n".*.sip
	perl -MIO::Socket::IP -MTime::HiRes=time -e '
	my ($addr, $port, $mode, $prefix) = @ARGV;
	my ($st, $delay) = $mode =~ /^(\d{3}|none)(?:@(\d+))?$/
	    or die "bad mode $mode\n";
	$delay = ($delay // 0) / 1000;
	my %why = (200 => "OK", 404 => "Not Found", 486 => "Busy Here",
	    500 => "Server Internal Error", 503 => "Service Unavailable");
	$| = 1;
	my $s = IO::Socket::IP->new(LocalHost => $addr, LocalPort => $port,
	    Proto => "udp") or die "bind $addr:$port: $@\n";
	my (@q, $n);
	my $end = time + ($ENV{GW_SINK_LIFE} || 300);
	while (time < $end) {
		my $to = 0.5;
		if (@q) { my $d = $q[0][0] - time; $to = $d < 0 ? 0 : $d < $to ? $d : $to }
		my $rin = ""; vec($rin, fileno($s), 1) = 1;
		if (select(my $r = $rin, undef, undef, $to)) {
			my $peer = $s->recv(my $m, 70000);
			next unless defined $peer;
			next if $m =~ /^SIP\/2\.0 /;
			$n++;
			open my $o, ">", "$prefix.$n.sip.tmp" or die; binmode $o;
			print $o $m; close $o;
			rename "$prefix.$n.sip.tmp", "$prefix.$n.sip";
			my ($rl) = $m =~ /^([^\r\n]*)/;
			print "stored $n: $rl\n";
			next if $st eq "none" || $m !~ /^([A-Z]+) \S+ SIP\/2\.0\r\n/ ||
			    $1 eq "ACK";
			my $p = index($m, "\r\n\r\n");
			my $h = $p < 0 ? $m : substr($m, 0, $p + 2);
			my $resp = "SIP/2.0 $st " . ($why{$st} // "Test") . "\r\n";
			for my $line (split /\r\n/, $h) {
				if ($line =~ /^(via|v|from|f|call-id|i|cseq)\s*:/i) {
					$resp .= "$line\r\n";
				} elsif ($line =~ /^(to|t)\s*:/i) {
					$resp .= $line =~ /;tag=/ ? "$line\r\n"
					    : "$line;tag=hop$n\r\n";
				}
			}
			$resp .= "Server: imgate-test-udp-hop\r\n" .
			    "Content-Length: 0\r\n\r\n";
			push @q, [time + $delay, $peer, $resp];
			@q = sort { $a->[0] <=> $b->[0] } @q;
		}
		while (@q && $q[0][0] <= time) {
			my $e = shift @q;
			send($s, $e->[2], 0, $e->[1]);
		}
	}' "${4:-127.0.0.1}" "$_port" "${3:-200}" "$KT/$_n" \
	    >"$KT/$_n.out" 2>&1 &
	gw_track "$_n" $!
	gw_wait_cond 10 gw_udp_bound "$_port" || {
		echo "# gw_udp_hop_start $_n: port $_port not bound" >&2
		gw_dump_log "$_n" 10 >&2
		return 1
	}
}

gw_udp_hop_count() {
	_c=0
	for _f in "$KT/$1".*.sip; do
		[ -f "$_f" ] || continue
		case $(head -c 64 "$_f") in
		"${2:-}"*) _c=$((_c + 1)) ;;
		esac
	done
	echo "$_c"
}

gw_udp_req() {
	_n=$1 _dest=$2 _file=$3
	shift 3
	rm -f "$KT/$_n".r.*
	udp_st=$(timeout 60 perl -MIO::Socket::IP \
	    -MTime::HiRes=time -e '
	my ($dest, $file, $prefix, @steps) = @ARGV;
	@steps = ("send", "final") unless @steps;
	my ($h, $p) = $dest =~ /^\[(.+)\]:(\d+)$/ ? ($1, $2) :
	    $dest =~ /^(.+):(\d+)$/ ? ($1, $2) : die "bad DEST $dest\n";
	my $v6 = $h =~ /:/;
	my $s = IO::Socket::IP->new(LocalHost => $v6 ? "::1" : "127.0.0.1",
	    LocalPort => 0, Proto => "udp") or die "socket: $@\n";
	my $to = IO::Socket::IP->new(PeerHost => $h, PeerPort => $p,
	    Proto => "udp") or die "peer: $@\n";
	my $dst = $to->peername;
	close $to;
	my $local = ($v6 ? "[" . $s->sockhost . "]" : $s->sockhost) . ":" .
	    $s->sockport;
	local $/; open my $f, "<", $file or die "$file: $!\n"; binmode $f;
	my $m = <$f>;
	my $bp = index($m, "\r\n\r\n");
	my $blen = $bp < 0 ? 0 : length($m) - $bp - 4;
	$m =~ s/\@LOCAL\@/$local/g;
	$m =~ s/\@LEN\@/$blen/g;
	open my $w, ">", "$prefix.sent" or die; binmode $w; print $w $m;
	close $w;
	my ($k, $finals, @st) = (0, 0);
	sub rx { my ($until, $want) = @_;
		while ((my $left = $until - time) > 0) {
			my $rin = ""; vec($rin, fileno($s), 1) = 1;
			last unless select(my $r = $rin, undef, undef, $left);
			my $peer = $s->recv(my $a, 70000);
			next unless defined $peer;
			$k++;
			open my $o, ">", "$prefix.r.$k" or die; binmode $o;
			print $o $a; close $o;
			my ($c) = $a =~ /^SIP\/2\.0 (\d{3}) /;
			$c //= "junk";
			push @st, $c;
			if ($c ne "junk" && $c >= 200) { $finals++;
				return if defined $want && $finals >= $want }
		}
	}
	for my $step (@steps) {
		if ($step eq "send") { send($s, $m, 0, $dst) or die "send: $!\n" }
		elsif ($step =~ /^final(?::([\d.]+))?$/) {
			rx(time + ($1 // 8), $finals + 1) }
		elsif ($step =~ /^[\d.]+$/) { rx(time + $step) }
		else { die "bad step $step\n" }
	}
	rx(time + 0.3);
	print join(" ", @st), "\n";' "$_dest" "$_file" "$KT/$_n" "$@" \
	    2>"$KT/$_n.uerr")
}

# ---- deferred delivery helpers, added for tests/integ/t_gw_store.sh
#
#   sipp_uas_scen NAME PORT SCENARIO [u1|t1] [ARGS...]
#                            sipp_uas_start with the scenario file
#                            $GW_SIPP_DIR/SCENARIO (e.g.
#                            uas_message_slow.xml), plus statistics every
#                            second in $KT/NAME.stat (-trace_stat)
#   sipp_uas_calls NAME      the incoming calls sipp created so far
#                            (IncomingCall(C) of the last line of
#                            $KT/NAME.stat; 0 if none yet): one per
#                            Call-ID, a retransmission absorbed by the
#                            call is not counted
#   sipp_register NAME DEST USER DOMAIN CONTACT EXPIRES [u1|t1]
#                            uac_register.xml: REGISTER sip:DOMAIN for
#                            sip:USER@DOMAIN with Contact
#                            <sip:USER@CONTACT> (CONTACT = host:port) and
#                            Expires: EXPIRES, sent to DEST; $sipp_status
#   sipp_rx_table NAME [METHOD]
#                            one line per request (METHOD, default
#                            MESSAGE) received in $KT/NAME.msg, in order,
#                            tab-separated: N, Call-ID, top Via branch,
#                            From AoR, P-Asserted-Identity, Content-Type
#                            (blanks removed), the body (CR, LF, TAB and
#                            backslash escaped as \r \n \t \\)
#   sipp_rx_inflight NAME    the most MESSAGEs (distinct Call-IDs) a UAS
#                            had received and not yet answered (final
#                            sent) at once, by $KT/NAME.msg: 1 when its
#                            peer sends one at a time (needs a UAS that
#                            answers after a delay: uas_message_slow.xml)
#   sipp_tx_table NAME       for a UAC: one line per MESSAGE sent (the
#                            first send of each Call-ID), in order,
#                            tab-separated: Call-ID, the last final status
#                            received for it ("none" if none), the body
#                            (escaped as above)

sipp_uas_scen() {
	_n=$1 _port=$2 _sf=$3 _t=${4:-u1}
	shift 3
	[ $# -gt 0 ] && shift
	rm -f "$KT/$_n.msg" "$KT/$_n.err" "$KT/$_n.stat"
	$SIPP_WRAP "$SIPP" -sf "$GW_SIPP_DIR/$_sf" -t "$_t" \
	    -i 127.0.0.1 -p "$_port" -d "$SIPP_HOLD" -buff_size "$SIPP_BUFF" \
	    -nostdin -trace_msg -message_file "$KT/$_n.msg" \
	    -trace_err -error_file "$KT/$_n.err" \
	    -trace_stat -stf "$KT/$_n.stat" -fd 1 "$@" \
	    >"$KT/$_n.out" 2>&1 &
	gw_track "$_n" $!
	eval "sipp_pid_$_n=$!"
	if [ "$_t" = t1 ]; then
		gw_wait_cond 10 gw_tcp_listening "$_port"
	else
		gw_wait_cond 10 gw_udp_bound "$_port"
	fi || {
		echo "# sipp_uas_scen $_n: port $_port not bound" >&2
		gw_dump_log "$_n" 20 >&2
		return 1
	}
}

sipp_uas_calls() {
	awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++)
		if ($i == "IncomingCall(C)") c = i; next }
	    c { v = $c } END { print v + 0 }' "$KT/$1.stat" 2>/dev/null ||
	    echo 0
}

sipp_register() {
	_n=$1
	gw_free_port || return 1
	rm -f "$KT/$_n.msg"
	timeout "${SIPP_TIMEOUT:-60}" $SIPP_WRAP "$SIPP" \
	    -sf "$GW_SIPP_DIR/uac_register.xml" -t "${7:-u1}" -i 127.0.0.1 \
	    -p "$gw_port" -m 1 -s "$3" -key ruri_host "$4" \
	    -key contact "$5" -key expires "$6" \
	    -recv_timeout "${SIPP_RECV_TIMEOUT:-10000}" -nostdin \
	    -trace_msg -message_file "$KT/$_n.msg" \
	    -trace_err -error_file "$KT/$_n.err" "$2" >"$KT/$_n.out" 2>&1
	sipp_rc=$?
	sipp_status=$(sipp_status "$KT/$_n.msg")
}

# the perl behind sipp_rx_table, sipp_rx_inflight and sipp_tx_table: the
# blocks of a -trace_msg file are "PROTO message received [LEN] bytes :"
# or "PROTO message sent (LEN bytes):", a blank line, LEN bytes
_sipp_tab_pl='
my ($mode, $file, $method) = @ARGV;
local $/; open my $f, "<", $file or exit 0; binmode $f; my $t = <$f>;
sub esc { my $s = shift; $s =~ s/\\/\\\\/g; $s =~ s/\r/\\r/g;
	$s =~ s/\n/\\n/g; $s =~ s/\t/\\t/g; $s }
sub hdr { my ($h, @names) = @_;
	for my $n (@names) {
		return $1 if $h =~ /(?:^|\r\n)\Q$n\E[ \t]*:[ \t]*([^\r\n]*)/i;
	}
	"" }
sub aor { my $v = shift; $v =~ /<([^>]*)>/ ? $1 : (split /;/, $v)[0] }
my ($n, $max) = (0, 0);
my (%open, %seen, @order, %final, %body);
while ($t =~ /(?:UDP|TCP|TLS|SCTP) message (received \[(\d+)\] bytes :|sent \((\d+) bytes\):)\n\n/g) {
	my $rx = defined $2;
	my $len = $rx ? $2 : $3;
	my $m = substr($t, pos($t), $len);
	my $p = index($m, "\r\n\r\n");
	my $h = $p < 0 ? $m : substr($m, 0, $p);
	my $b = $p < 0 ? "" : substr($m, $p + 4);
	my $cid = hdr($h, "Call-ID", "i");
	if ($m =~ /^SIP\/2\.0 (\d{3}) /) {
		my $st = $1;
		next if $st < 200;
		delete $open{$cid} unless $rx;		# a UAS answered
		$final{$cid} = $st if $rx;		# a UAC got its answer
		next;
	}
	next unless $m =~ /^([A-Z]+) \S+ SIP\/2\.0\r\n/ && $1 eq $method;
	if ($mode eq "rx" && $rx) {
		my ($br) = hdr($h, "Via", "v") =~ /;branch=([^;, ]+)/;
		(my $ct = hdr($h, "Content-Type", "c")) =~ s/\s//g;
		$n++;
		print join("\t", $n, $cid, $br // "", aor(hdr($h, "From", "f")),
		    hdr($h, "P-Asserted-Identity"), $ct, esc($b)), "\n";
	} elsif ($mode eq "inflight" && $rx) {
		next if $seen{$cid}++;
		$open{$cid} = 1;
		my $k = keys %open;
		$max = $k if $k > $max;
	} elsif ($mode eq "tx" && !$rx) {
		next if $seen{$cid}++;
		push @order, $cid;
		$body{$cid} = $b;
	}
}
print "$max\n" if $mode eq "inflight";
if ($mode eq "tx") {
	print join("\t", $_, $final{$_} // "none", esc($body{$_})), "\n"
	    for @order;
}'

sipp_rx_table() {
	perl -e "$_sipp_tab_pl" rx "$KT/$1.msg" "${2:-MESSAGE}"
}

sipp_rx_inflight() {
	perl -e "$_sipp_tab_pl" inflight "$KT/$1.msg" MESSAGE
}

sipp_tx_table() {
	perl -e "$_sipp_tab_pl" tx "$KT/$1.msg" MESSAGE
}
