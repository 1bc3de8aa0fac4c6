#!/bin/sh
# tests/integ/t_gw_edge.sh - the gateway's edges: TLS, IPv6, UDP
# retransmissions and Timer F, the error answers of design.md section 5,
# the stateless relay, SIGHUP reload, sipvicious probes (TAP)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# On loopback in a throwaway directory (tests/integ/gwlib.sh), never port
# 5060, every process stopped by its PID.  imgate-kms with gw@a.example
# and gw@b.example (as in t_gw_sipp.sh) and gw@r/f/s.example; a throwaway
# EC P-256 self-signed certificate for 127.0.0.1 (openssl).  Gateways:
#
#   A   a.example, outside = tls:B (verifies B against the certificate:
#       tls_ca), max_body = 1024
#   B   b.example, inside = bob's sipp UAS (udp), a tls listener,
#       allow_types = text/plain, require_protection = true
#   R   r.example, udp on 127.0.0.1 and [::1], inside = a sipp UAS on
#       udp:[::1]; relays to numeric Request-URIs (perl UDP hops, a sipp
#       UAS answering INVITE with 486)
#   F   f.example, t1_ms = 50, inside = a UDP black hole
#   H   a.example again (A's PSK), reloaded with SIGHUP
#   X   a.example again, outside = tls:B but tls_ca = another certificate
#   S   local_domains = *, inside = a perl hop: the sipvicious target
#
# Checks:
#   1. alice -> A -(TLS)- B -> bob: bob gets the text; the capture of
#      B's TLS port holds TLS records only: no "SIP/2.0", no request
#      line, no marker in the raw pcap bytes; X, which trusts another
#      certificate, delivers nothing (408 or 503)
#   2. a MESSAGE over IPv6 (sipp -i ::1) through R to an IPv6 UAS, and an
#      OPTIONS relayed the same way (a perl hop and sender if sipp cannot
#      use ::1; skipped if perl cannot either)
#   3. the same UDP MESSAGE twice to R (fast next hop: 200 both times,
#      the same bytes), three times (slow next hop: 100 then 200, 200):
#      the hop gets one MESSAGE, imgate_gw_message_retransmissions_total
#      counts the copies; F retransmits to the black hole (Timer E) and
#      answers 408 after 64*T1 = 3.2 s (Timer F)
#   4. 413 (2000 bytes, max_body 1024, TCP) at A; 415 with a Warning
#      (application/octet-stream, unwrapped at B); 400 for a datagram
#      shorter than its Content-Length (A and B); 483 for Max-Forwards: 0
#      (MESSAGE and OPTIONS); garbage datagrams: no answer, rx_bad counts
#      them; garbage on a TCP connection: closed; the gateways still
#      relay OPTIONS and answer /health; 488 for a plain MESSAGE from
#      outside to bob at B
#   5. OPTIONS and REGISTER with bodies through R: at the hop the same
#      request line and headers except Via and Max-Forwards (decremented),
#      compared as RFC 3261 7.3.1 does (libosip2 re-capitalises names,
#      splits comma lists and respaces parameters: spec/smime-sip.md 5.1;
#      those rows are listed as comments), the body byte for byte; the
#      answer comes back with our Via only; a Route naming R is removed,
#      a Route naming the hop is followed and kept;
#      an INVITE gets R's Record-Route, the UAS's 486 reaches the sender,
#      and the ACK follows with the INVITE's branch
#   6. SIGHUP to H: the new inside hop and protect list are used
#      (reloads_total 1); a broken file is refused (reload_failures_total
#      1), H keeps routing with the good one
#   7. svmap -m MESSAGE and svwar -e 100-140 against S (skipped if
#      sipvicious is not installed); S still alive and relaying
#   and SIGTERM stops every gateway with status 0 (under ASan: no leak
#   report), and no gateway log holds a sanitizer report.
#
# About 40 s.  Environment: top_srcdir, top_builddir; GW_KEEP=1 keeps the
# directory.  Needs sipp (sip-tester), tshark, openssl, curl, perl, ss.

top_srcdir=$(cd "${top_srcdir:-.}" && pwd) || exit 99
top_builddir=$(cd "${top_builddir:-.}" && pwd) || exit 99
CTL=$top_builddir/tools/imgatectl
KMS_BIN=${KMS_BIN:-$top_builddir/kms/imgate-kms}
GW_BIN=${GW_BIN:-$top_builddir/gateway/imgate}

for b in "$KMS_BIN" "$CTL" "$GW_BIN"; do
	if [ ! -x "$b" ]; then
		echo "1..0 # SKIP $b is not built"
		exit 0
	fi
done
. "$top_srcdir/tests/integ/kmslib.sh"
. "$top_srcdir/tests/integ/gwlib.sh"
gw_need_peer sipp "${TSHARK:-tshark}" openssl curl perl ss
gw_init t_gw_edge

. "$top_srcdir/tests/tap.sh"
GWS="gwa gwb gwr gwf gwh gws gwx"
bail() {
	echo "Bail out! $1"
	for _p in $GWS; do
		gw_dump_log "$_p" 30
	done
	kms_dump_log k
	exit 1
}
cd "$KT" || bail "cannot enter $KT"
t_start=$(date +%s)

MARKER=imgate-EDGE-MARKER-q7
ALICE=sip:alice@a.example

# mkreq FILE [BODY]: the header lines on stdin (LF, "Content-Length:
# @LEN@" for gw_udp_req to fill in) as a request in FILE: CRLF line ends,
# an empty line, then BODY byte for byte
mkreq() {
	perl -e '
	my ($out, $body) = @ARGV;
	local $/; my $h = <STDIN>;
	$h =~ s/\n+\z//; $h =~ s/\r?\n/\r\n/g;
	open my $o, ">", $out or die "$out: $!\n"; binmode $o;
	print $o $h, "\r\n\r\n", $body;' "$1" "${2:-}"
}

# csv FILE LINE...: a sipp injection file (uac_message.xml)
csv() {
	_f=$1
	shift
	{ echo SEQUENTIAL; printf '%s\n' "$@"; } >"$_f"
}

# metric_delta NAME METRIC LABELS BEFORE: the metric now minus BEFORE
metric_delta() {
	echo $(($(gw_metric "$1" "$2" "${3:-}") - $4))
}

# up NAME: the gateway runs and answers /health
up() {
	gw_alive "$1" && gw_health "$1"
}

# ---- the KMS, its users, a certificate
"$CTL" kms key init --keys "$KT/kms-master.keys" >/dev/null 2>&1 ||
    bail "kms key init"
gw_kms_user gwa a.example || bail "kms user gw@a.example"
gw_kms_user gwb b.example || bail "kms user gw@b.example"
gw_kms_user gwr r.example || bail "kms user gw@r.example"
gw_kms_user gwf f.example || bail "kms user gw@f.example"
gw_kms_user gws s.example || bail "kms user gw@s.example"
cp "$KT/gwa.psk" "$KT/gwh.psk"
cp "$KT/gwa.psk" "$KT/gwx.psk"
kms_free_port || bail "no free port"
kms_write_conf "$KT/kms.conf" "$kms_port"
kms_start k "$KT/kms.conf" || bail "the KMS did not start"
gw_kms_url="http://127.0.0.1:$kms_port/mikey"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$KT/tls.key" -out "$KT/tls.crt" -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >"$KT/openssl.out" 2>&1 ||
    bail "openssl could not make a certificate: $(tail -3 "$KT/openssl.out")"
chmod 600 "$KT/tls.key"
# another one, for a gateway that must refuse B's certificate
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$KT/other.key" -out "$KT/other.crt" -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    >>"$KT/openssl.out" 2>&1 || bail "openssl: a second certificate"
chmod 600 "$KT/other.key"

# ---- ports, peers
for v in p_bob p_ains p_bob6 p_fast p_slow p_rel p_inv p_hole p_hop1 \
    p_hop2 p_sink p_svhop p_tls_a p_tls_b p_tls_x; do
	gw_free_port || bail "no free port"
	eval "$v=$gw_port"
done
for g in $GWS; do
	gw_alloc "$g" || bail "no free port"
done

SIPP_HOLD=40000 sipp_uas_start bob "$p_bob" u1 || bail "bob's UAS"
# IPv6: sipp -i ::1 as the UAS and UAC; if sipp cannot, the perl hop and
# gw_udp_req; if perl cannot bind ::1 either, the IPv6 tests are skipped
v6mode=none
v6why="perl cannot bind a UDP socket to ::1 (no IPv6 on loopback?)"
if perl -MIO::Socket::IP -e 'IO::Socket::IP->new(LocalHost => "::1",
    Proto => "udp") or exit 1' 2>/dev/null; then
	if SIPP_HOLD=5000 sipp_uas_start bob6 "$p_bob6" u1 -i ::1 \
	    2>/dev/null; then
		v6mode=sipp
	else
		gw_kill bob6 TERM
		gw_udp_hop_start bob6 "$p_bob6" 200 ::1 ||
		    bail "the IPv6 hop (perl, ::1)"
		v6mode=perl
		echo "# sipp cannot listen on ::1 here: the IPv6 next hop is perl"
	fi
fi
gw_udp_hop_start ains "$p_ains" || bail "hop ains"
gw_udp_hop_start fast "$p_fast" 200 || bail "hop fast"
gw_udp_hop_start slow "$p_slow" 200@250 || bail "hop slow"
gw_udp_hop_start rel "$p_rel" 200 || bail "hop rel"
gw_udp_hop_start hole "$p_hole" none || bail "hop hole"
gw_udp_hop_start hop1 "$p_hop1" 200 || bail "hop hop1"
gw_udp_hop_start hop2 "$p_hop2" 200 || bail "hop hop2"
gw_udp_hop_start svhop "$p_svhop" 200 || bail "hop svhop"
gw_sink_start sink "$p_sink" || bail "the TCP sink"
rm -f "$KT/inv.msg"
timeout 60 $SIPP_WRAP "$SIPP" -sf "$GW_SIPP_DIR/uas_invite.xml" -t u1 \
    -i 127.0.0.1 -p "$p_inv" -m 1 -nostdin -trace_msg \
    -message_file "$KT/inv.msg" -trace_err -error_file "$KT/inv.err" \
    >"$KT/inv.out" 2>&1 &
gw_track inv $!
gw_wait_cond 10 gw_udp_bound "$p_inv" || bail "the INVITE UAS"

# ---- the gateways
TLS_A="tls = 127.0.0.1:$p_tls_a"
TLS_B="tls = 127.0.0.1:$p_tls_b"
gw_write_conf gwa a.example "udp:127.0.0.1:$p_ains" \
    "tls:127.0.0.1:$p_tls_b" \
    "[gateway]" "max_body = 1024" \
    "[listen]" "$TLS_A" "tls_cert = tls.crt" "tls_key = tls.key" \
    "tls_ca = tls.crt"
gw_write_conf gwx a.example "udp:127.0.0.1:$p_ains" \
    "tls:127.0.0.1:$p_tls_b" \
    "[listen]" "tls = 127.0.0.1:$p_tls_x" "tls_cert = tls.crt" \
    "tls_key = tls.key" "tls_ca = other.crt" "[sip]" "t1_ms = 50"
gw_write_conf gwb b.example "udp:127.0.0.1:$p_bob" "" \
    "allow_types = text/plain" "require_protection = true" \
    "[listen]" "$TLS_B" "tls_cert = tls.crt" "tls_key = tls.key"
if [ $v6mode = none ]; then
	gw_write_conf gwr r.example "udp:127.0.0.1:$p_bob6" ""
else
	gw_write_conf gwr r.example "udp:[::1]:$p_bob6" ""
	sed -i "s/^udp = 127\.0\.0\.1:$gw_sip_gwr\$/udp = 127.0.0.1:$gw_sip_gwr; [::1]:$gw_sip_gwr/" \
	    "$KT/gwr.conf"
fi
gw_write_conf gwf f.example "udp:127.0.0.1:$p_hole" "" "[sip]" "t1_ms = 50"
gw_write_conf gwh a.example "udp:127.0.0.1:$p_hop1" "tcp:127.0.0.1:$p_sink"
sed -i 's/^protect = \*$/protect = none.example/' "$KT/gwh.conf"
gw_write_conf gws s.example "udp:127.0.0.1:$p_svhop" ""
sed -i 's/^local_domains = s\.example$/local_domains = */' "$KT/gws.conf"
for g in $GWS; do
	"$GW_BIN" -n -c "$KT/$g.conf" >"$KT/$g.check" 2>&1 ||
	    bail "imgate -n $g.conf: $(cat "$KT/$g.check")"
done
for g in $GWS; do
	gw_start "$g" || bail "gateway $g did not start"
done
ok "KMS, gateways A, B, R, F, H, S, X and their peers are up"

# ==== 1. TLS between A and B
tshark_start tls "tcp port $p_tls_b" || bail "tshark did not start"
csv "$KT/tls.csv" "alice@a.example;bob@b.example;over TLS $MARKER"
nb0=$(sipp_rx_count bob)
sipp_uac tls "127.0.0.1:$gw_sip_gwa" "$KT/tls.csv"
gw_wait_cond 3 test "$(sipp_rx_count bob)" -gt "$nb0"
tshark_stop tls
check "TLS: alice -> A -(tls)- B -> bob: 200 (sipp exit 0)" "$sipp_rc" 0
[ "$sipp_rc" -eq 0 ] || { gw_dump_log tls 10; gw_dump_log gwa 10; }
printf 'over TLS %s' "$MARKER" >"$KT/want.tls"
if sipp_rx bob $((nb0 + 1)) && cmp -s "$KT/bob.rx.body" "$KT/want.tls"
then
	ok "TLS: bob's UAS gets the text byte for byte"
else
	not_ok "TLS: bob's UAS gets the text byte for byte" \
	    "bob has $(sipp_rx_count bob) MESSAGEs (before: $nb0)"
fi
TS="$TSHARK -r $KT/tls.pcap -d tcp.port==$p_tls_b,tls"
nrec=$($TS -Y 'tls.record' 2>/dev/null | wc -l)
nch=$($TS -Y 'tls.handshake.type == 1' 2>/dev/null | wc -l)
napp=$($TS -Y 'tls.app_data' 2>/dev/null | wc -l)
if [ "$nch" -ge 1 ] && [ "$napp" -ge 2 ]; then
	ok "TLS: the capture of B's TLS port has a ClientHello and application data ($nrec TLS packets)"
else
	not_ok "TLS: the capture of B's TLS port has a ClientHello and application data" \
	    "TLS packets $nrec, ClientHello $nch, application data $napp"
fi
# forced to decode TLS records as SIP, tshark sometimes calls a packet
# "sip" (a malformed continuation); a request or status line is what
# would show plaintext
nsip=$($TSHARK -r "$KT/tls.pcap" -d "tcp.port==$p_tls_b,sip" \
    -Y 'sip.Method || sip.Status-Code' 2>/dev/null | wc -l)
if [ -s "$KT/tls.pcap" ] && [ "$nrec" -gt 0 ] && [ "$nsip" -eq 0 ] &&
    ! grep -aq "$MARKER" "$KT/tls.pcap" &&
    ! grep -aq 'SIP/2\.0' "$KT/tls.pcap" &&
    ! grep -aq 'sip:bob@b\.example' "$KT/tls.pcap"; then
	ok "TLS: no SIP plaintext, no marker in the raw pcap bytes"
else
	not_ok "TLS: no SIP plaintext, no marker in the raw pcap bytes" \
	    "pcap $(wc -c <"$KT/tls.pcap") bytes, decoded as SIP: $nsip," \
	    "marker: $(grep -ac "$MARKER" "$KT/tls.pcap")," \
	    "SIP/2.0: $(grep -ac 'SIP/2\.0' "$KT/tls.pcap")"
fi
check "TLS: B received 1 message over tls, unwrapped 1" \
    "$(gw_metric gwb imgate_gw_rx_messages_total 'transport="tls"') $(kms_metric "$KT/gwb.metrics" imgate_gw_messages_forwarded_total 'action="unwrapped"')" \
    "1 1"

# X trusts another certificate than B's: nothing may reach bob
nb0=$(sipp_rx_count bob)
csv "$KT/tlsx.csv" "alice@a.example;bob@b.example;to a B not trusted $MARKER"
tx0=$(date +%s%N)
SIPP_RECV_TIMEOUT=8000 sipp_uac tlsx "127.0.0.1:$gw_sip_gwx" "$KT/tlsx.csv"
tx_ms=$((($(date +%s%N) - tx0) / 1000000))
sleep 0.2
st=$(sipp_status "$KT/tlsx.msg")
case $st in
408|503) ok "TLS: X (tls_ca = another certificate) refuses B: $st after $tx_ms ms" ;;
*) not_ok "TLS: X (tls_ca = another certificate) refuses B: 408 or 503" \
    "status $st after $tx_ms ms" ;;
esac
check "... and bob's UAS gets nothing" "$(sipp_rx_count bob)" "$nb0"

# ==== 2. IPv6
# v6rx N: the N-th MESSAGE (or OPTIONS if $2) at the IPv6 next hop into
# $KT/bob6.rx.head and $KT/bob6.rx.body
v6rx() {
	if [ $v6mode = sipp ]; then
		sipp_rx bob6 "$1" "${2:-MESSAGE}"
	else
		[ -f "$KT/bob6.$1.sip" ] &&
		    sip_split "$KT/bob6.$1.sip" "$KT/bob6.rx.h" "$KT/bob6.rx.body" &&
		    head -c "$(perl -e 'local $/; my $m = <STDIN>;
			print index($m, "\r\n\r\n") + 2' <"$KT/bob6.$1.sip")" \
		    "$KT/bob6.$1.sip" >"$KT/bob6.rx.head"
	fi
}
v6count() {
	if [ $v6mode = sipp ]; then
		sipp_rx_count bob6 "$1"
	else
		gw_udp_hop_count bob6 "$1"
	fi
}
if [ $v6mode = none ]; then
	for t in 1 2 3; do
		n=$((n + 1))
		echo "ok $n # SKIP IPv6: $v6why"
	done
else
	if [ $v6mode = sipp ]; then
		csv "$KT/v6.csv" "carol@far.example;bob@r.example;over IPv6 $MARKER"
		sipp_uac v6 "[::1]:$gw_sip_gwr" "$KT/v6.csv" u1 -i ::1
		v6st=$(sipp_status "$KT/v6.msg")
	else
		mkreq "$KT/v6.req" "over IPv6 $MARKER" <<EOF
MESSAGE sip:bob@r.example SIP/2.0
Via: SIP/2.0/UDP @LOCAL@;branch=z9hG4bK-edge-v6;rport
Max-Forwards: 70
From: <sip:carol@far.example>;tag=v6
To: <sip:bob@r.example>
Call-ID: v6@edge.test
CSeq: 1 MESSAGE
Content-Type: text/plain
Content-Length: @LEN@
EOF
		gw_udp_req v6 "[::1]:$gw_sip_gwr" "$KT/v6.req"
		v6st=$udp_st
	fi
	gw_wait_cond 3 test "$(v6count MESSAGE)" -ge 1
	check "IPv6 ($v6mode): a MESSAGE from [::1] through R to the next hop on udp:[::1]: 200" \
	    "$v6st" 200
	printf 'over IPv6 %s' "$MARKER" >"$KT/want.v6"
	if v6rx 1 && cmp -s "$KT/bob6.rx.body" "$KT/want.v6" &&
	    grep -q "^Via: SIP/2.0/UDP \[::1\]:$gw_sip_gwr;" "$KT/bob6.rx.head"
	then
		ok "IPv6: the next hop gets the text, R's Via is [::1]:$gw_sip_gwr"
	else
		not_ok "IPv6: the next hop gets the text, R's Via is [::1]:$gw_sip_gwr" \
		    "$(tr -d '\r' <"$KT/bob6.rx.head" 2>/dev/null | head -4)"
		gw_dump_log v6 10
		gw_dump_log gwr 10
	fi
	mkreq "$KT/opt6.req" <<EOF
OPTIONS sip:bob@r.example SIP/2.0
Via: SIP/2.0/UDP @LOCAL@;branch=z9hG4bK-edge-opt6;rport
Max-Forwards: 70
From: <sip:carol@far.example>;tag=opt6
To: <sip:bob@r.example>
Call-ID: opt6@edge.test
CSeq: 1 OPTIONS
Content-Length: 0
EOF
	n6=$(v6count OPTIONS)
	gw_udp_req opt6 "[::1]:$gw_sip_gwr" "$KT/opt6.req"
	check "IPv6: an OPTIONS relayed through R to the IPv6 next hop and its 200 back" \
	    "$udp_st $(($(v6count OPTIONS) - n6))" "200 1"
fi

# ==== 3. retransmissions over UDP
# rtreq FILE NAME PORT: a MESSAGE from far.example to the hop at PORT
rtreq() {
	mkreq "$1" "retransmit $2" <<EOF
MESSAGE sip:bob@127.0.0.1:$3 SIP/2.0
Via: SIP/2.0/UDP @LOCAL@;branch=z9hG4bK-edge-$2;rport
Max-Forwards: 70
From: <sip:carol@far.example>;tag=$2
To: <sip:bob@127.0.0.1:$3>
Call-ID: $2@edge.test
CSeq: 1 MESSAGE
Content-Type: text/plain
Content-Length: @LEN@
EOF
}
RT=imgate_gw_message_retransmissions_total
rtreq "$KT/rt1.req" rt1 "$p_fast"
r0=$(gw_metric gwr $RT)
gw_udp_req rt1 "127.0.0.1:$gw_sip_gwr" "$KT/rt1.req" send final send final
sleep 0.3
check "retransmission, fast hop: both copies get 200" "$udp_st" "200 200"
if cmp -s "$KT/rt1.r.1" "$KT/rt1.r.2"; then
	ok "... the same 200, byte for byte"
else
	not_ok "... the same 200, byte for byte"
fi
check "... the hop gets one MESSAGE" "$(gw_udp_hop_count fast MESSAGE)" 1
check "... $RT +1" "$(metric_delta gwr $RT "" "$r0")" 1

rtreq "$KT/rt2.req" rt2 "$p_slow"
r0=$(gw_metric gwr $RT)
gw_udp_req rt2 "127.0.0.1:$gw_sip_gwr" "$KT/rt2.req" send 0.1 send final \
    send final
sleep 0.3
check "retransmission, slow hop (250 ms): 100 while waiting, then 200, 200" \
    "$udp_st" "100 200 200"
check "... the hop gets one MESSAGE" "$(gw_udp_hop_count slow MESSAGE)" 1
check "... $RT +2" "$(metric_delta gwr $RT "" "$r0")" 2

# Timer E and F at F (t1_ms = 50)
mkreq "$KT/tf.req" "into the black hole" <<EOF
MESSAGE sip:bob@f.example SIP/2.0
Via: SIP/2.0/UDP @LOCAL@;branch=z9hG4bK-edge-tf;rport
Max-Forwards: 70
From: <sip:carol@far.example>;tag=tf
To: <sip:bob@f.example>
Call-ID: tf@edge.test
CSeq: 1 MESSAGE
Content-Type: text/plain
Content-Length: @LEN@
EOF
tf0=$(date +%s%N)
gw_udp_req tf "127.0.0.1:$gw_sip_gwf" "$KT/tf.req" send final:8
tf_ms=$((($(date +%s%N) - tf0) / 1000000 - 300))
ncopy=$(gw_udp_hop_count hole MESSAGE)
same=yes
for f in "$KT"/hole.*.sip; do
	cmp -s "$f" "$KT/hole.1.sip" || same=no
done
if [ "$ncopy" -ge 5 ] && [ "$same" = yes ]; then
	ok "Timer E: F sent the MESSAGE $ncopy times to the silent hop, the same bytes"
else
	not_ok "Timer E: F retransmits the MESSAGE to the silent hop (>= 5 copies, the same bytes)" \
	    "copies $ncopy, identical: $same"
fi
if [ "$udp_st" = 408 ] && [ "$tf_ms" -ge 2900 ] && [ "$tf_ms" -le 5000 ]
then
	ok "Timer F: 408 after about 64*T1 = 3.2 s (${tf_ms} ms)"
else
	not_ok "Timer F: 408 after about 64*T1 = 3.2 s" \
	    "answers '$udp_st' after $tf_ms ms"
fi
grep -q '^Warning: 399 ' "$KT/tf.r.1" 2>/dev/null
check "... with a Warning" "$?" 0
check "... F: transaction_timeouts_total 1" \
    "$(gw_metric gwf imgate_gw_transaction_timeouts_total)" 1

# ==== 4. errors (design.md section 5)
nb0=$(sipp_rx_count bob)
# 413: 2000 bytes over TCP to A (max_body 1024)
printf '%s' "MESSAGE sip:bob@b.example SIP/2.0
Max-Forwards: 70
From: <$ALICE>;tag=big
To: <sip:bob@b.example>
Call-ID: big-1@edge.test
CSeq: 1 MESSAGE
Content-Type: text/plain" | perl -pe 's/\n/\r\n/' >"$KT/big.head"
perl -e 'print "$ARGV[0] ", "x" x (2000 - length($ARGV[0]) - 1)' "$MARKER" \
    >"$KT/big.body"
sipp_raw big "127.0.0.1:$gw_sip_gwa" "$KT/big.head" "$KT/big.body"
check "413: 2000 bytes (max_body 1024) over TCP to A" "$sipp_status" 413
check "... A: rejected too_big 1" \
    "$(gw_metric gwa imgate_gw_rejected_total 'reason="too_big"')" 1

# 415: application/octet-stream through A, unwrapped and refused at B
csv "$KT/oct.csv" "alice@a.example;bob@b.example;octets $MARKER"
SIPP_CTYPE=application/octet-stream sipp_uac oct "127.0.0.1:$gw_sip_gwa" \
    "$KT/oct.csv"
st=$(sipp_status "$KT/oct.msg")
warn=$(tr -d '\r' <"$KT/oct.msg" | sed -n 's/^Warning: *//p' | head -1)
if [ "$st" = 415 ] && [ -n "$warn" ]; then
	ok "415: application/octet-stream (B allows text/plain): 415 with Warning: $warn"
else
	not_ok "415: application/octet-stream (B allows text/plain): 415 with a Warning" \
	    "status $st, Warning '$warn'"
fi
check "... B: rejected type 1" \
    "$(gw_metric gwb imgate_gw_rejected_total 'reason="type"')" 1

# 400: a datagram shorter than its Content-Length, to A and to B
mkreq "$KT/short.req" "only 17 bytes..." <<EOF
MESSAGE sip:bob@b.example SIP/2.0
Via: SIP/2.0/UDP @LOCAL@;branch=z9hG4bK-edge-short;rport
Max-Forwards: 70
From: <$ALICE>;tag=short
To: <sip:bob@b.example>
Call-ID: short@edge.test
CSeq: 1 MESSAGE
Content-Type: text/plain
Content-Length: 100
EOF
for g in gwa gwb; do
	b0=$(gw_metric "$g" imgate_gw_rx_bad_total)
	eval "p=\$gw_sip_$g"
	gw_udp_req short "127.0.0.1:$p" "$KT/short.req"
	grep -q '^Warning: 399 ' "$KT/short.r.1" 2>/dev/null && w=Warning ||
	    w="no Warning"
	check "400: a datagram shorter than its Content-Length, to $g: 400 with a Warning" \
	    "$udp_st $w" "400 Warning"
	check "... $g: rx_bad_total +1" \
	    "$(metric_delta "$g" imgate_gw_rx_bad_total "" "$b0")" 1
done

# 483: Max-Forwards: 0, a MESSAGE and an OPTIONS
mkreq "$KT/mf0.req" "hop hop" <<EOF
MESSAGE sip:bob@b.example SIP/2.0
Via: SIP/2.0/UDP @LOCAL@;branch=z9hG4bK-edge-mf0;rport
Max-Forwards: 0
From: <$ALICE>;tag=mf0
To: <sip:bob@b.example>
Call-ID: mf0@edge.test
CSeq: 1 MESSAGE
Content-Type: text/plain
Content-Length: @LEN@
EOF
gw_udp_req mf0 "127.0.0.1:$gw_sip_gwa" "$KT/mf0.req"
check "483: MESSAGE with Max-Forwards: 0 to A" "$udp_st" 483
check "... A: rejected loop 1" \
    "$(gw_metric gwa imgate_gw_rejected_total 'reason="loop"')" 1
mkreq "$KT/mf0o.req" <<EOF
OPTIONS sip:bob@b.example SIP/2.0
Via: SIP/2.0/UDP @LOCAL@;branch=z9hG4bK-edge-mf0o;rport
Max-Forwards: 0
From: <$ALICE>;tag=mf0o
To: <sip:bob@b.example>
Call-ID: mf0o@edge.test
CSeq: 1 OPTIONS
Content-Length: 0
EOF
gw_udp_req mf0o "127.0.0.1:$gw_sip_gwb" "$KT/mf0o.req"
check "483: OPTIONS with Max-Forwards: 0 to B (relay)" "$udp_st" 483

# garbage datagrams
head -c 300 /dev/urandom | perl -0777 -pe 's/^./\x01/s' >"$KT/junk1.req"
printf '\001\002 this is not SIP at all\r\nVia nothing\r\n\r\n' \
    >"$KT/junk2.req"
printf 'MESSAGE\r\n\r\n' >"$KT/junk3.req"
for g in gwa gwb; do
	b0=$(gw_metric "$g" imgate_gw_rx_bad_total)
	eval "p=\$gw_sip_$g"
	sts=""
	for j in 1 2 3; do
		gw_udp_req "junk$j" "127.0.0.1:$p" "$KT/junk$j.req" send 0.3
		sts="$sts${udp_st:+ $udp_st}"
	done
	check "garbage: 3 datagrams to $g: no answer, rx_bad_total +3" \
	    "answers '$sts', rx_bad +$(metric_delta "$g" imgate_gw_rx_bad_total "" "$b0")" \
	    "answers '', rx_bad +3"
done
# tcp_junk PORT: garbage with a CRLFCRLF and no Content-Length over TCP;
# prints "closed" when the gateway closes the connection within 3 s
tcp_junk() {
	perl -MIO::Socket::INET -e '
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
	    PeerPort => $ARGV[0], Timeout => 3) or die "connect: $!\n";
	print $s "\x01\x02 not SIP either\r\nfoo bar\r\n\r\n";
	my $rin = ""; vec($rin, fileno($s), 1) = 1;
	my $end = time + 3;
	while (time < $end) {
		my $r = $rin;
		next unless select($r, undef, undef, 0.5);
		my $n = sysread($s, my $buf, 4096);
		if (!$n) { print "closed\n"; exit }
		print "got: $buf\n";
	}
	print "open\n";' "$1" 2>&1
}
b0=$(gw_metric gwa imgate_gw_rx_bad_total)
tj=$(tcp_junk "$gw_sip_gwa")
check "garbage over TCP to A: the connection is closed, rx_bad_total +1" \
    "$tj +$(metric_delta gwa imgate_gw_rx_bad_total "" "$b0")" "closed +1"
sipp_options optg "127.0.0.1:$gw_sip_gwb" bob b.example
if [ "$sipp_status" = 200 ] && up gwa && up gwb; then
	ok "after the garbage: B relays OPTIONS to bob (200), A and B answer /health"
else
	not_ok "after the garbage: B relays OPTIONS to bob (200), A and B answer /health" \
	    "OPTIONS: $sipp_status"
fi

# 488: plain from outside to a local user at B (require_protection)
csv "$KT/plain.csv" "alice@a.example;bob@b.example;plain $MARKER"
sipp_uac plain "127.0.0.1:$gw_sip_gwb" "$KT/plain.csv"
check "488: a plain MESSAGE from outside to bob at B (require_protection)" \
    "$(sipp_status "$KT/plain.msg")" 488
check "... B: rejected unprotected 1" \
    "$(gw_metric gwb imgate_gw_rejected_total 'reason="unprotected"')" 1
check "bob's UAS got none of the refused MESSAGEs" "$(sipp_rx_count bob)" \
    "$nb0"

# ==== 5. the stateless relay
# relcmp NAME FILE: compare the request NAME sent (gw_udp_req) with the
# one the hop stored in FILE.  "DIFF: ..." lines for what differs in
# meaning (RFC 3261 7.3.1: header names are case-insensitive, a comma
# list may be split into several rows in the same order, blanks around
# ';' do not count), apart from Via and Max-Forwards (must be one less);
# "NOTE: ..." lines for header rows not kept byte for byte (libosip2
# rewrites them: spec/smime-sip.md 5.1)
relcmp() {
	perl -e '
	my ($sent, $got) = @ARGV;
	sub rd { local $/; open my $f, "<", $_[0] or die "$_[0]: $!\n";
		binmode $f; my $m = <$f>; my $p = index($m, "\r\n\r\n");
		die "$_[0]: no end of headers\n" if $p < 0;
		my @l = split /\r\n/, substr($m, 0, $p);
		return (\@l, substr($m, $p + 4)) }
	my %list = map { $_ => 1 } qw(accept accept-encoding accept-language
	    allow allow-events supported require proxy-require unsupported
	    contact route record-route path in-reply-to content-encoding
	    content-language warning);
	# split VALUE on commas outside quotes and <>
	sub items { my $v = shift; my (@i, $cur, $q, $a) = ();
		$cur = "";
		for my $c (split //, $v) {
			if ($c eq "\"" ) { $q = !$q }
			elsif (!$q && $c eq "<") { $a = 1 }
			elsif (!$q && $c eq ">") { $a = 0 }
			if ($c eq "," && !$q && !$a) { push @i, $cur; $cur = ""; next }
			$cur .= $c }
		push @i, $cur; return @i }
	sub norm { my @out;
		for my $l (@_) {
			my ($n, $v) = $l =~ /^([^:]+?)\s*:\s*(.*?)\s*$/ or
			    do { push @out, "?? $l"; next };
			$n = lc $n;
			next if $n =~ /^(via|v|max-forwards)$/;
			my @v = $list{$n} ? items($v) : ($v);
			for (@v) { s/^\s+|\s+$//g; s/\s*;\s*/;/g;
				push @out, "$n: $_" } }
		return @out }
	my ($sl, $sb) = rd($sent);
	my ($gl, $gb) = rd($got);
	print "DIFF: request line: sent \"$sl->[0]\", got \"$gl->[0]\"\n"
	    if $sl->[0] ne $gl->[0];
	my @s = norm(@$sl[1 .. $#$sl]);
	my @g = norm(@$gl[1 .. $#$gl]);
	# the same rows per name, in order; names in any order
	my (%sn, %gn);
	push @{$sn{(split /:/, $_)[0]}}, $_ for @s;
	push @{$gn{(split /:/, $_)[0]}}, $_ for @g;
	my %all = (%sn, %gn);
	for my $n (sort keys %all) {
		my $a = join("\n", @{$sn{$n} // []});
		my $b = join("\n", @{$gn{$n} // []});
		next if $a eq $b;
		print "DIFF: $n: sent [", join(" | ", @{$sn{$n} // []}),
		    "], got [", join(" | ", @{$gn{$n} // []}), "]\n";
	}
	print "DIFF: body differs (" . length($sb) . " bytes sent, " .
	    length($gb) . " got)\n" if $sb ne $gb;
	my ($smf) = map { /:\s*(\d+)/ } grep { /^max-forwards\s*:/i } @$sl;
	my ($gmf) = map { /:\s*(\d+)/ } grep { /^max-forwards\s*:/i } @$gl;
	print "DIFF: Max-Forwards: sent $smf, got " . ($gmf // "none") . "\n"
	    if !defined $gmf || $gmf != $smf - 1;
	my $gv = 0;
	$gv += () = items((/:\s*(.*)/)[0]) for grep { /^(via|v)\s*:/i } @$gl;
	print "DIFF: Via values at the hop: $gv, want 2\n" if $gv != 2;
	my %gr = map { $_ => 1 } @$gl;
	for (@$sl[1 .. $#$sl]) {
		next if /^(via|v|max-forwards|content-length|l)\s*:/i || $gr{$_};
		print "NOTE: row not kept byte for byte: $_\n";
	}
	' "$KT/$1.sent" "$2"
}
# viacheck NAME BRANCH: the answer has one Via, ours
viacheck() {
	_v=$(tr -d '\r' <"$KT/$1.r.1" | grep -ci '^\(via\|v\) *:')
	if [ "$_v" = 1 ] && tr -d '\r' <"$KT/$1.r.1" | grep -qi "^via:.*branch=$2"
	then
		echo ok
	else
		tr -d '\r' <"$KT/$1.r.1" | grep -i '^\(via\|v\) *:'
	fi
}
for m in OPTIONS REGISTER; do
	case $m in
	OPTIONS) extra="Accept: application/sdp, text/plain
Supported: path, outbound"
		ruri="sip:bob@127.0.0.1:$p_rel" ;;
	REGISTER) extra="Contact: <sip:dave@192.0.2.7:5099;transport=udp>;expires=600;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"
Expires: 600
Path: <sip:edge-path.example;lr>"
		ruri="sip:127.0.0.1:$p_rel" ;;
	esac
	i=$(($(gw_udp_hop_count rel) + 1))
	mkreq "$KT/rel$m.req" "$m body: caf$(printf '\303\251') $MARKER
second line" <<EOF
$m $ruri SIP/2.0
Via: SIP/2.0/UDP @LOCAL@;branch=z9hG4bK-edge-rel$m;rport
Max-Forwards: 70
From: "Dave, the tester" <sip:dave@far.example>;tag=rel$m
To: <sip:dave@far.example>
Call-ID: rel$m@edge.test
CSeq: 42 $m
$extra
X-Edge-Test: a=1; b="two, three"
User-Agent: imgate-edge-test
Content-Type: text/plain;charset=utf-8
Content-Length: @LEN@
EOF
	gw_udp_req "rel$m" "127.0.0.1:$gw_sip_gwr" "$KT/rel$m.req"
	check "relay $m through R: the hop's 200 comes back" "$udp_st" 200
	gw_wait_cond 2 test -f "$KT/rel.$i.sip"
	if [ -f "$KT/rel.$i.sip" ]; then
		relcmp "rel$m" "$KT/rel.$i.sip" >"$KT/rel$m.cmp" 2>&1
	else
		echo "DIFF: the hop got no $m" >"$KT/rel$m.cmp"
	fi
	d=$(grep -v '^NOTE: ' "$KT/rel$m.cmp")
	check "... $m at the hop: the same request line, header rows (but Via, Max-Forwards - 1) and body" \
	    "${d:-same}" same
	sed -n 's/^NOTE: /# '"$m"': /p' "$KT/rel$m.cmp"
	check "... the answer carries our Via only" \
	    "$(viacheck "rel$m" "z9hG4bK-edge-rel$m")" ok
done

# loose routing (RFC 3261 16.4, 16.12): a Route naming R is removed; a
# Route naming the hop is followed (the Request-URI names a domain R
# has no route for) and kept
for k in 1 2; do
	if [ $k = 1 ]; then
		ruri="sip:bob@127.0.0.1:$p_rel"
		route="<sip:127.0.0.1:$gw_sip_gwr;transport=udp;lr>"
		want="no Route"
	else
		ruri="sip:bob@nowhere.example"
		route="<sip:127.0.0.1:$p_rel;lr>"
		want="Route: $route"
	fi
	i=$(($(gw_udp_hop_count rel) + 1))
	mkreq "$KT/route$k.req" <<EOF
OPTIONS $ruri SIP/2.0
Via: SIP/2.0/UDP @LOCAL@;branch=z9hG4bK-edge-route$k;rport
Route: $route
Max-Forwards: 70
From: <sip:dave@far.example>;tag=route$k
To: <$ruri>
Call-ID: route$k@edge.test
CSeq: 1 OPTIONS
Content-Length: 0
EOF
	gw_udp_req "route$k" "127.0.0.1:$gw_sip_gwr" "$KT/route$k.req"
	gw_wait_cond 2 test -f "$KT/rel.$i.sip"
	got=$(sip_hdr "$KT/rel.$i.sip" Route 2>/dev/null)
	if [ -n "$got" ]; then got="Route: $got"; else got="no Route"; fi
	rl=$(head -1 "$KT/rel.$i.sip" 2>/dev/null | tr -d '\r')
	check "loose routing: OPTIONS with Route $route: 200, at the hop with $want and the same Request-URI" \
	    "$udp_st $got $rl" \
	    "200 $want OPTIONS $ruri SIP/2.0"
done

# INVITE: sipp UAC -> R -> sipp UAS (486)
gw_free_port || bail "no free port"
rm -f "$KT/invc.msg"
timeout 30 $SIPP_WRAP "$SIPP" -sf "$GW_SIPP_DIR/uac_invite.xml" -t u1 \
    -i 127.0.0.1 -p "$gw_port" -m 1 -key ruri "sip:bob@127.0.0.1:$p_inv" \
    -recv_timeout 10000 -nostdin -trace_msg -message_file "$KT/invc.msg" \
    -trace_err -error_file "$KT/invc.err" "127.0.0.1:$gw_sip_gwr" \
    >"$KT/invc.out" 2>&1
invc_rc=$?
gw_wait_cond 5 sh -c "! kill -0 $gwp_inv 2>/dev/null"
gw_kill inv TERM
inv_rc=$gw_kill_status
check "INVITE through R: the sender gets the UAS's 486 and ACKs it (sipp exit 0)" \
    "$invc_rc $(sipp_status "$KT/invc.msg")" "0 486"
if sipp_rx inv 1 INVITE; then
	rr=$(sip_hdr "$KT/inv.rx.head" Record-Route)
	case $rr in
	"<sip:127.0.0.1:$gw_sip_gwr;transport=udp;lr>"*)
		ok "... the UAS sees R's Record-Route: $rr" ;;
	*) not_ok "... the UAS sees R's Record-Route <sip:127.0.0.1:$gw_sip_gwr;transport=udp;lr>" \
	    "Record-Route: '$rr'" ;;
	esac
	ibr=$(sip_hdr "$KT/inv.rx.head" Via | sed -n 's/.*branch=\([^;]*\).*/\1/p')
else
	not_ok "... the UAS sees R's Record-Route" "the UAS got no INVITE"
	ibr=""
fi
if sipp_rx inv 1 ACK; then
	abr=$(sip_hdr "$KT/inv.rx.head" Via | sed -n 's/.*branch=\([^;]*\).*/\1/p')
else
	abr="(no ACK)"
fi
check "... the ACK reaches the UAS with the INVITE's branch (UAS exit 0)" \
    "$abr $inv_rc" "$ibr 0"
nv=$(perl -e '
	local $/; open my $f, "<", $ARGV[0] or exit; my $t = <$f>;
	while ($t =~ /(?:UDP) message received \[(\d+)\] bytes :\n\n/g) {
		my $m = substr($t, pos($t), $1);
		next unless $m =~ /^SIP\/2\.0 486 /;
		my $n = () = $m =~ /^(?:via|v)\s*:/gim; print "$n\n"; exit }' \
    "$KT/invc.msg")
check "... the 486 reaches the sender with one Via" "$nv" 1

# ==== 6. SIGHUP reload (H)
csv "$KT/h1.csv" "alice@a.example;bob@a.example;to a local user" \
    "alice@a.example;bob@b.example;out plain $MARKER"
sipp_uac h1 "127.0.0.1:$gw_sip_gwh" "$KT/h1.csv"
gw_sink_wait sink 1 3
check "H before the reload: 2 MESSAGEs answered 200; inside hop1 1, hop2 0; outside plain" \
    "$sipp_rc $(gw_udp_hop_count hop1 MESSAGE) $(gw_udp_hop_count hop2 MESSAGE) $(grep -c "$MARKER" "$KT/sink.1.sip" 2>/dev/null)" \
    "0 1 0 1"
cp "$KT/gwh.conf" "$KT/gwh.conf.1"
sed -e "s/^inside = .*/inside = udp:127.0.0.1:$p_hop2/" \
    -e 's/^protect = .*/protect = b.example/' "$KT/gwh.conf.1" \
    >"$KT/gwh.conf"
gw_hup gwh
gw_wait_cond 5 test "$(gw_metric gwh imgate_gw_reloads_total)" = 1
check "SIGHUP: imgate_gw_reloads_total 1, failures 0" \
    "$(gw_metric gwh imgate_gw_reloads_total) $(gw_metric gwh imgate_gw_reload_failures_total)" \
    "1 0"
csv "$KT/h2.csv" "alice@a.example;bob@a.example;to a local user again" \
    "alice@a.example;bob@b.example;out protected $MARKER"
sipp_uac h2 "127.0.0.1:$gw_sip_gwh" "$KT/h2.csv"
gw_sink_wait sink 2 5
check "H after the reload: 200s; the local MESSAGE goes to hop2 (hop1 1, hop2 1)" \
    "$sipp_rc $(gw_udp_hop_count hop1 MESSAGE) $(gw_udp_hop_count hop2 MESSAGE)" \
    "0 1 1"
if [ -f "$KT/sink.2.sip" ] && grep -q 'multipart/mixed' "$KT/sink.2.sip" &&
    grep -q 'application/mikey' "$KT/sink.2.sip" &&
    ! grep -aq "$MARKER" "$KT/sink.2.sip"; then
	ok "... and the MESSAGE to b.example is now protected (new protect list)"
else
	not_ok "... and the MESSAGE to b.example is now protected (new protect list)" \
	    "$(head -c 600 "$KT/sink.2.sip" 2>/dev/null | tr -d '\r' | grep -ai 'content-type\|^MESSAGE')"
fi
cp "$KT/gwh.conf" "$KT/gwh.conf.2"
sed -e 's/^inside = .*/inside = udp:127.0.0.1:notaport/' "$KT/gwh.conf.2" \
    >"$KT/gwh.conf"
gw_hup gwh
gw_wait_cond 5 test "$(gw_metric gwh imgate_gw_reload_failures_total)" = 1
check "SIGHUP with a broken file: refused (reload_failures_total 1, reloads_total 1)" \
    "$(gw_metric gwh imgate_gw_reload_failures_total) $(gw_metric gwh imgate_gw_reloads_total)" \
    "1 1"
grep -q 'reload refused' "$KT/gwh.log"
check "... logged: reload refused" "$?" 0
csv "$KT/h3.csv" "alice@a.example;bob@a.example;after the broken reload"
sipp_uac h3 "127.0.0.1:$gw_sip_gwh" "$KT/h3.csv"
check "... H keeps working with the good file: 200, to hop2" \
    "$sipp_rc $(gw_udp_hop_count hop1 MESSAGE) $(gw_udp_hop_count hop2 MESSAGE)" \
    "0 1 2"

# ==== 7. sipvicious
if command -v svmap >/dev/null 2>&1 && command -v svwar >/dev/null 2>&1
then
	gw_free_port || bail "no free port"
	HOME=$KT timeout 20 svmap -b 127.0.0.1 -x 127.0.0.1 -P "$gw_port" \
	    -p "$gw_sip_gws" -m MESSAGE 127.0.0.1 >"$KT/svmap.out" 2>&1
	svm=$?
	gw_free_port || bail "no free port"
	HOME=$KT timeout 30 svwar -b 127.0.0.1 -x 127.0.0.1 -P "$gw_port" \
	    -p "$gw_sip_gws" -e 100-140 127.0.0.1 >"$KT/svwar.out" 2>&1
	svw=$?
	gw_free_port || bail "no free port"
	HOME=$KT timeout 30 svwar -b 127.0.0.1 -x 127.0.0.1 -P "$gw_port" \
	    -p "$gw_sip_gws" -e 100-140 -m OPTIONS --force 127.0.0.1 \
	    >"$KT/svwar2.out" 2>&1
	svw2=$?
	for f in svmap svwar svwar2; do
		tr -d '\r' <"$KT/$f.out" | grep -v '^$' | tail -4 |
		    sed "s/^/# $f: /"
	done
	sipp_options opts "127.0.0.1:$gw_sip_gws" bob s.example
	if [ "$sipp_status" = 200 ] && up gws; then
		ok "sipvicious (svmap -m MESSAGE: $svm, svwar: $svw, svwar -m OPTIONS: $svw2): S alive, relays OPTIONS (200), /health"
	else
		not_ok "sipvicious: S alive, relays OPTIONS (200), /health" \
		    "svmap $svm, svwar $svw $svw2, OPTIONS $sipp_status"
	fi
	check "... the probes reached the inside hop through S" \
	    "$([ "$(gw_udp_hop_count svhop)" -gt 2 ] && echo yes)" yes
else
	echo "ok $((n + 1)) # SKIP sipvicious (svmap, svwar) is not installed"
	n=$((n + 1))
fi

# ==== the end
for g in $GWS; do
	up "$g" || not_ok "$g still alive before the stop"
done
sts=""
for g in $GWS; do
	gw_stop "$g"
	sts="$sts $g=$gw_status"
done
check "SIGTERM stops every gateway with status 0" "$sts" \
    "$(for g in $GWS; do printf ' %s=0' "$g"; done)"
san=""
for g in $GWS; do
	grep -q 'AddressSanitizer\|LeakSanitizer\|runtime error:' \
	    "$KT/$g.log" && san="$san $g"
done
check "no sanitizer report in any gateway log" "${san:-none}" none
if [ "$fail" -ne 0 ]; then
	for g in $GWS; do
		gw_dump_log "$g" 25
	done
fi
echo "# runtime $(($(date +%s) - t_start)) s"
echo "1..$n"
[ "$fail" -eq 0 ]
