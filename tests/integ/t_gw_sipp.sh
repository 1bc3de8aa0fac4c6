#!/bin/sh
# tests/integ/t_gw_sipp.sh - two imgate gateways between sipp UAs (TAP)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# On 127.0.0.1 in a throwaway directory (tests/integ/gwlib.sh), never port
# 5060: imgate-kms with the users sip:gw@a.example (act_for
# sip:*@a.example) and sip:gw@b.example (act_for sip:*@b.example);
# gateway A (a.example, outside = B over TCP), gateway B (b.example,
# inside = a sipp UAS for bob over UDP), gateway A2 (a.example too, the
# same KMS user, outside = a binary-safe sink that stores what A2 sends),
# and sipp as alice (tests/integ/sipp/uac_message.xml from
# tests/integ/sipp/messages.csv).  Then:
#
#   alice -> A -> B -> bob: every MESSAGE is answered 200; bob's UAS gets
#   each body byte for byte with its Content-Type and
#   P-Asserted-Identity: <sip:alice@a.example>;
#   on the wire between A and B (tshark on lo, TCP to B's port decoded as
#   SIP) each MESSAGE is multipart/mixed with application/mikey and
#   application/pkcs7-mime, and the plaintext marker is nowhere in the
#   capture, not even in the raw pcap bytes;
#   protected MESSAGEs made by A2 (captured by the sink, never seen by B)
#   are sent to B with sipp (raw_send.xml): the first is delivered (200,
#   bob gets the text), the same again is a replay (403); a flipped byte
#   in the MIKEY MAC (493, or 403) and in the CMS part (493); a message
#   wrapped for carol@b.example re-addressed to bob: the KMS does not let
#   bob resolve carol's ticket (403); after each, B still relays OPTIONS
#   to bob's UAS and /health answers;
#   the metrics of A and B count exactly these messages, A asked the KMS
#   once for all of alice's messages to bob (ticket reuse) and B resolved
#   that ticket once;
#   the KMS stopped: a MESSAGE for a new recipient gets 503 with
#   Retry-After; SIGTERM stops every gateway with status 0.
#
# bob's UAS holds each call 2 s, not 35 s (peers.md): everything bob gets
# comes from B over loopback UDP with no loss, and B retransmits only if
# bob does not answer, which this test would see as a failure anyway.
# About 15 s.
# Environment: top_srcdir, top_builddir; GW_KEEP=1 keeps the directory.
# Needs sipp (sip-tester), tshark, curl, perl, ss.

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
gw_need_peer sipp "${TSHARK:-tshark}" curl perl ss
gw_init t_gw_sipp

. "$top_srcdir/tests/tap.sh"
bail() {
	echo "Bail out! $1"
	for _p in gwa gwb gwa2 bob k; do
		gw_dump_log "$_p" 30
	done
	kms_dump_log k
	exit 1
}
cd "$KT" || bail "cannot enter $KT"

ALICE=sip:alice@a.example
MARKER=imgate-PLAINTEXT-MARKER
CSV=$GW_SIPP_DIR/messages.csv
NMSG=$(($(wc -l <"$CSV") - 1))

# flip IN OUT WHAT: copy the protected body IN with one byte inverted:
# WHAT = mac (the last byte of the application/mikey part: V's MAC) or
# cms (a byte near the end of the pkcs7-mime part: the GCM tag)
flip() {
	perl -e '
	my ($in, $out, $what) = @ARGV;
	local $/; open my $f, "<", $in or die; binmode $f; my $b = <$f>;
	my ($bd) = $b =~ /^--([^\r\n]+)\r\n/ or die "no boundary\n";
	my $type = $what eq "mac" ? "application/mikey" :
	    "application/pkcs7-mime";
	my $p = index($b, "Content-Type: $type");
	$p >= 0 or die "no $type part\n";
	my $end = index($b, "\r\n--$bd", $p);
	my $at = $what eq "mac" ? $end - 1 : $end - 5;
	substr($b, $at, 1) = chr(255 - ord(substr($b, $at, 1)));
	open my $o, ">", $out or die; binmode $o; print $o $b;' "$1" "$2" "$3"
}

# still_up DESC: B relays OPTIONS to bob's UAS and both admin ports answer
still_up() {
	sipp_options "opt$n" "127.0.0.1:$gw_sip_gwb" bob b.example
	_s=$sipp_status
	if [ "$_s" = 200 ] && gw_health gwa && gw_health gwb; then
		ok "$1: B still relays OPTIONS, /health answers"
	else
		not_ok "$1: B still relays OPTIONS, /health answers" \
		    "OPTIONS: $_s" "$(tail -5 "$KT/gwb.log")"
	fi
}

# ---- the KMS and its users
"$CTL" kms key init --keys "$KT/kms-master.keys" >/dev/null 2>&1 ||
    bail "kms key init"
gw_kms_user gwa a.example || bail "kms user gw@a.example"
gw_kms_user gwb b.example || bail "kms user gw@b.example"
cp "$KT/gwa.psk" "$KT/gwa2.psk"
kms_free_port || bail "no free port"
kms_write_conf "$KT/kms.conf" "$kms_port"
kms_start k "$KT/kms.conf" || bail "the KMS did not start"
gw_kms_url="http://127.0.0.1:$kms_port/mikey"

# ---- peers and gateways
gw_free_port || bail "no free port"
p_bob=$gw_port
gw_free_port || bail "no free port"
p_ains=$gw_port
gw_free_port || bail "no free port"
p_sink=$gw_port
SIPP_HOLD=2000 sipp_uas_start bob "$p_bob" u1 || bail "bob's UAS"
SIPP_HOLD=2000 sipp_uas_start ains "$p_ains" u1 || bail "a.example's UAS"
gw_sink_start sink "$p_sink" || bail "the sink did not start"
gw_alloc gwa && gw_alloc gwb && gw_alloc gwa2 || bail "no free port"
gw_write_conf gwb b.example "udp:127.0.0.1:$p_bob" \
    "tcp:127.0.0.1:$gw_sip_gwa"
gw_write_conf gwa a.example "udp:127.0.0.1:$p_ains" \
    "tcp:127.0.0.1:$gw_sip_gwb"
gw_write_conf gwa2 a.example "udp:127.0.0.1:$p_ains" \
    "tcp:127.0.0.1:$p_sink"
gw_start gwb || bail "gateway B did not start"
gw_start gwa || bail "gateway A did not start"
gw_start gwa2 || bail "gateway A2 did not start"
ok "KMS, gateways A, B, A2, bob's UAS and the sink are up"

# ---- alice -> A -> B -> bob, on the wire
tshark_start ab "tcp port $gw_sip_gwb" || bail "tshark did not start"
sipp_uac alice "127.0.0.1:$gw_sip_gwa" "$CSV"
tshark_stop ab
check "alice's $NMSG MESSAGEs through A and B: all 200 (sipp exit 0)" \
    "$sipp_rc" 0
[ "$sipp_rc" -eq 0 ] || { tail -5 "$KT/alice.err"; tail -20 "$KT/alice.out"; } |
    tr -d '\r' | sed 's/^/#   /'
gw_wait_cond 5 test "$(sipp_rx_count bob)" -ge "$NMSG"
check "bob's UAS got $NMSG MESSAGEs" "$(sipp_rx_count bob)" "$NMSG"

# every body, byte for byte, in any order
i=0
tail -n +2 "$CSV" | while IFS= read -r line; do
	i=$((i + 1))
	printf '%s' "${line#*;*;}" >"$KT/want.$i"
done
bad=""
pai_bad=""
ct_bad=""
i=0
while [ $i -lt "$NMSG" ]; do
	i=$((i + 1))
	if ! sipp_rx bob $i; then
		bad="$bad #$i:missing"
		continue
	fi
	found=""
	j=0
	while [ $j -lt "$NMSG" ]; do
		j=$((j + 1))
		cmp -s "$KT/bob.rx.body" "$KT/want.$j" && found=$j
	done
	[ -n "$found" ] || bad="$bad #$i:$(od -c "$KT/bob.rx.body" | head -3 | tr '\n' ' ')"
	[ "$(sip_hdr "$KT/bob.rx.head" P-Asserted-Identity)" = "<$ALICE>" ] ||
	    pai_bad="$pai_bad #$i:'$(sip_hdr "$KT/bob.rx.head" P-Asserted-Identity)'"
	# the same type and parameters; libosip2 writes "; " between them
	[ "$(sip_hdr "$KT/bob.rx.head" Content-Type | tr -d ' ')" = \
	    "text/plain;charset=utf-8" ] ||
	    ct_bad="$ct_bad #$i:'$(sip_hdr "$KT/bob.rx.head" Content-Type)'"
done
check "bob gets each body byte for byte" "${bad:-none}" none
check "... with the original Content-Type" "${ct_bad:-none}" none
check "... and P-Asserted-Identity: <$ALICE>" "${pai_bad:-none}" none
sipp_rx bob 1
case $(sip_hdr "$KT/bob.rx.head" From) in
*"<$ALICE>"*) ok "... From is alice" ;;
*) not_ok "... From is alice" "$(sip_hdr "$KT/bob.rx.head" From)" ;;
esac

TS="$TSHARK -r $KT/ab.pcap -d tcp.port==$gw_sip_gwb,sip"
$TS -Y 'sip.Method == "MESSAGE"' -V >"$KT/ab.txt" 2>"$KT/ab.tserr"
nm=$($TS -Y 'sip.Method == "MESSAGE"' 2>/dev/null | wc -l)
check "tshark sees $NMSG MESSAGEs from A to B" "$nm" "$NMSG"
nmp=$(grep -c 'multipart/mixed' "$KT/ab.txt")
nmk=$(grep -c 'application/mikey' "$KT/ab.txt")
nmc=$(grep -c 'application/pkcs7-mime' "$KT/ab.txt")
if [ "$nm" -gt 0 ] && [ "$nmp" -ge "$nm" ] && [ "$nmk" -ge "$nm" ] &&
    [ "$nmc" -ge "$nm" ]; then
	ok "... each multipart/mixed with application/mikey and application/pkcs7-mime"
else
	not_ok "... each multipart/mixed with application/mikey and application/pkcs7-mime" \
	    "MESSAGEs $nm, multipart $nmp, mikey $nmk, pkcs7 $nmc"
fi
if [ -s "$KT/ab.pcap" ] && [ "$nm" -gt 0 ] &&
    ! grep -q "$MARKER" "$KT/ab.txt" && ! grep -aq "$MARKER" "$KT/ab.pcap"
then
	ok "the plaintext marker is nowhere between A and B (decoded or raw)"
else
	not_ok "the plaintext marker is nowhere between A and B (decoded or raw)" \
	    "pcap $(wc -c <"$KT/ab.pcap") bytes, MESSAGEs $nm"
fi
if grep -q "$MARKER" "$KT/bob.msg"; then
	ok "... while bob's UAS got it"
else
	not_ok "... while bob's UAS got it"
fi
grep -c 'Unknown (\|Text item\|Malformed' "$KT/ab.txt" |
    sed 's/^/# tshark MIKEY lines Unknown(/Text item\/Malformed: /'

check "A: wrapped $NMSG" "$(gw_metric gwa imgate_gw_messages_forwarded_total 'action="wrapped"')" "$NMSG"
check "A: $NMSG final 2xx" \
    "$(gw_metric gwa imgate_gw_message_final_total 'class="2xx"')" "$NMSG"
check "B: unwrapped $NMSG" "$(gw_metric gwb imgate_gw_messages_forwarded_total 'action="unwrapped"')" \
    "$NMSG"
check "A asked the KMS once for $NMSG messages to bob (ticket reuse)" \
    "$(gw_metric gwa imgate_gw_kms_exchanges_total 'exchange="request"')" 1
check "B resolved the ticket once" \
    "$(gw_metric gwb imgate_gw_kms_exchanges_total 'exchange="resolve"')" 1

# ---- protected MESSAGEs that B has never seen, made by A2
printf 'SEQUENTIAL\n%s\n%s\n%s\n%s\n' \
    "alice@a.example;bob@b.example;replay me $MARKER" \
    "alice@a.example;bob@b.example;tamper with me $MARKER" \
    "alice@a.example;carol@b.example;for carol only $MARKER" \
    "alice@a.example;bob@b.example;forged From $MARKER" >"$KT/a2.csv"
SIPP_RATE=5 sipp_uac a2 "127.0.0.1:$gw_sip_gwa2" "$KT/a2.csv"
gw_sink_wait sink 4 10
check "A2 wraps 4 MESSAGEs into the sink (sipp exit 0)" \
    "$sipp_rc $(ls "$KT"/sink.*.sip 2>/dev/null | wc -l)" "0 4"
rb="" tb="" cb="" fb=""
for f in "$KT"/sink.*.sip; do
	[ -f "$f" ] || continue
	case $(head -1 "$f") in
	"MESSAGE sip:carol@b.example "*) cb=$f ;;
	"MESSAGE sip:bob@b.example "*)
		if [ -z "$rb" ]; then rb=$f; elif [ -z "$tb" ]; then tb=$f
		else fb=$f; fi ;;
	esac
done
[ -n "$rb" ] && [ -n "$tb" ] && [ -n "$cb" ] && [ -n "$fb" ] ||
    bail "the sink did not get three MESSAGEs for bob and one for carol"
if grep -aq "$MARKER" "$rb" "$tb" "$cb" "$fb"; then
	not_ok "A2's output holds no plaintext"
else
	ok "A2's output holds no plaintext"
fi

# replay
sip_split "$rb" "$KT/r.head" "$KT/r.body" || bail "sip_split"
nb=$(sipp_rx_count bob)
sipp_raw r1 "127.0.0.1:$gw_sip_gwb" "$KT/r.head" "$KT/r.body"
check "a protected MESSAGE from A2, sent to B: 200" "$sipp_status" 200
gw_wait_cond 3 test "$(sipp_rx_count bob)" -gt "$nb"
sipp_rx bob $((nb + 1)) && printf 'replay me %s' "$MARKER" >"$KT/want.r"
cmp -s "$KT/bob.rx.body" "$KT/want.r"
check "... bob gets its text" "$?" 0
sipp_raw r2 "127.0.0.1:$gw_sip_gwb" "$KT/r.head" "$KT/r.body"
check "the same MESSAGE again (new Via, new transaction): replay, 403" \
    "$sipp_status" 403
grep -q '^Warning:' "$KT/r2.msg"
check "... with a Warning" "$?" 0
still_up "after the replay"

# tampered
sip_split "$tb" "$KT/t.head" "$KT/t.body" || bail "sip_split"
flip "$KT/t.body" "$KT/t1.body" mac || bail "flip mac"
sipp_raw t1 "127.0.0.1:$gw_sip_gwb" "$KT/t.head" "$KT/t1.body"
case $sipp_status in
493|403) ok "a flipped byte in the MIKEY MAC: $sipp_status" ;;
*) not_ok "a flipped byte in the MIKEY MAC: 493 (or 403)" \
    "got $sipp_status" ;;
esac
still_up "after the MAC flip"
flip "$KT/t.body" "$KT/t2.body" cms || bail "flip cms"
sipp_raw t2 "127.0.0.1:$gw_sip_gwb" "$KT/t.head" "$KT/t2.body"
check "a flipped byte in the CMS part: 493" "$sipp_status" 493
still_up "after the CMS flip"

# carol's ticket, re-addressed to bob
sip_split "$cb" "$KT/c.head" "$KT/c.body" || bail "sip_split"
sed -e 's/^MESSAGE sip:carol@b\.example /MESSAGE sip:bob@b.example /' \
    -e 's/^\(To: *.*\)sip:carol@b\.example/\1sip:bob@b.example/' \
    "$KT/c.head" >"$KT/c2.head"
sipp_raw c1 "127.0.0.1:$gw_sip_gwb" "$KT/c2.head" "$KT/c.body"
check "carol's ticket re-addressed to bob: not authorised, 403" \
    "$sipp_status" 403
still_up "after the not-authorised ticket"
check "bob's UAS got no other MESSAGE" "$(sipp_rx_count bob)" \
    "$((nb + 1))"

# a SIP From that is not the verified sender: delivered, but shown as the
# verified one (P-Asserted-Identity and the From display name)
sip_split "$fb" "$KT/f.head" "$KT/f.body" || bail "sip_split"
sed -e 's/^From: *<sip:alice@a\.example>/From: <sip:mallory@a.example>/' \
    "$KT/f.head" >"$KT/f2.head"
grep -q '^From: <sip:mallory@a.example>' "$KT/f2.head" || bail "From edit"
sipp_raw f1 "127.0.0.1:$gw_sip_gwb" "$KT/f2.head" "$KT/f.body"
check "SIP From mallory, ticket and CPIM alice: delivered, 200" \
    "$sipp_status" 200
gw_wait_cond 3 test "$(sipp_rx_count bob)" -gt "$((nb + 1))"
sipp_rx bob $((nb + 2))
check "... P-Asserted-Identity is the verified alice" \
    "$(sip_hdr "$KT/bob.rx.head" P-Asserted-Identity)" "<$ALICE>"
check "... From shows alice as display name, mallory's URI kept" \
    "$(sip_hdr "$KT/bob.rx.head" From | sed 's/;tag=.*//')" \
    "\"$ALICE\" <sip:mallory@a.example>"
grep -q "identity differs: SIP From sip:mallory@a.example, verified sender $ALICE" \
    "$KT/gwb.log"
check "... and B logged the mismatch" "$?" 0
nb=$((nb + 1))

check "B: unwrapped $((NMSG + 2))" \
    "$(gw_metric gwb imgate_gw_messages_forwarded_total 'action="unwrapped"')" "$((NMSG + 2))"
check "B: rejected replay 1" \
    "$(gw_metric gwb imgate_gw_rejected_total 'reason="replay"')" 1
check "B: rejected undecipherable 1 (CMS) + the MAC flip if 493" \
    "$(gw_metric gwb imgate_gw_rejected_total 'reason="undecipherable"')" \
    "$(if [ "$(sipp_status "$KT/t1.msg")" = 493 ]; then echo 2; else echo 1; fi)"
check "B: rejected not_authorised 1" \
    "$(gw_metric gwb imgate_gw_rejected_total 'reason="not_authorised"')" 1
check "A2: wrapped 4, KMS requests 2 (bob, carol)" \
    "$(gw_metric gwa2 imgate_gw_messages_forwarded_total 'action="wrapped"') $(gw_metric gwa2 imgate_gw_kms_exchanges_total 'exchange="request"')" \
    "4 2"
grep '^imgate_gw_' "$KT/gwb.metrics" | sed 's/^/# B: /'

# ---- the KMS is down
kms_stop k
printf 'SEQUENTIAL\n%s\n' "alice@a.example;dave@b.example;kms down" \
    >"$KT/down.csv"
sipp_uac down "127.0.0.1:$gw_sip_gwa" "$KT/down.csv"
st=$(sipp_status "$KT/down.msg")
ra=$(tr -d '\r' <"$KT/down.msg" | sed -n 's/^Retry-After: *//p' | head -1)
if [ "$st" = 503 ] && [ -n "$ra" ]; then
	ok "KMS down: 503 with Retry-After: $ra"
else
	not_ok "KMS down: 503 with Retry-After" "status $st, Retry-After '$ra'"
fi
gw_health gwa
check "A still healthy with the KMS down" "$?" 0

# ---- stop
gw_stop gwa2
s2=$gw_status
gw_stop gwa
s1=$gw_status
gw_stop gwb
check "SIGTERM stops A, B and A2 with status 0" "$s1 $gw_status $s2" "0 0 0"
if [ "$fail" -ne 0 ]; then
	for _p in gwa gwb gwa2; do
		gw_dump_log "$_p" 40
	done
fi
echo "1..$n"
[ "$fail" -eq 0 ]
