#!/bin/sh
# tests/integ/t_gw_peers.sh - the gateway between real SIP peers:
# a Kamailio registrar and two baresip user agents (TAP)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# All on 127.0.0.1 in a throwaway directory (tests/integ/gwlib.sh), never
# port 5060.  Kamailio (tests/integ/kamailio/registrar.cfg: usrloc in
# memory, registrar, tm) is the inside registrar of both domains;
# baresip alice@a.example and bob@b.example (headless: stdio UI on a FIFO,
# ctrl_tcp).
#
# Part 1, the rig without the gateway (also a regression check of the
# peers on this machine): both UAs register at Kamailio directly; alice ->
# bob and bob -> alice MESSAGEs arrive and baresip prints
# 'sip:alice@a.example: "TEXT"'; one sent through ctrl_tcp (netstring
# JSON); OPTIONS to a registered user is relayed to it.
#
# Part 2, through the gateways (skipped when gateway/imgate is not built):
# imgate-kms, gateway A (a.example) and B (b.example), inside = Kamailio
# for both, A's outside = B and B's outside = A (TCP); alice uses A as
# outbound proxy, bob uses B.  REGISTERs pass through (Kamailio sees the
# same Contact and Expires as in part 1); alice -> bob and bob -> alice
# arrive as the same text (wrapped between A and B: the gateways' metrics
# count one wrap and one unwrap per message); OPTIONS from A's side to bob
# passes A, B and Kamailio and is answered by bob's baresip.
#
# GW_PEERS_DIRECT_ONLY=1 runs part 1 only.  About 15 s.
# Environment: top_srcdir, top_builddir; GW_KEEP=1 keeps the directory.
# Needs kamailio, baresip (baresip-core), sipp (sip-tester), curl, perl.

top_srcdir=$(cd "${top_srcdir:-.}" && pwd) || exit 99
top_builddir=$(cd "${top_builddir:-.}" && pwd) || exit 99
CTL=$top_builddir/tools/imgatectl
KMS_BIN=${KMS_BIN:-$top_builddir/kms/imgate-kms}
GW_BIN=${GW_BIN:-$top_builddir/gateway/imgate}

. "$top_srcdir/tests/integ/kmslib.sh"
. "$top_srcdir/tests/integ/gwlib.sh"
gw_need_peer kamailio baresip sipp curl perl ss
gw_init t_gw_peers

. "$top_srcdir/tests/tap.sh"
bail() {
	echo "Bail out! $1"
	for _p in $gw_procs; do
		gw_dump_log "$_p" 30
	done
	exit 1
}
cd "$KT" || bail "cannot enter $KT"

ALICE=sip:alice@a.example
BOB=sip:bob@b.example

# kam_has PATTERN: Kamailio logged a line matching the ERE PATTERN
kam_has() {
	grep -qE -- "$1" "$KT/kam.log"
}
# kam_reg_of AOR N: "ct=... exp=..." of the N-th REGISTER from AOR
kam_reg_of() {
	grep "KREQ m=REGISTER " "$KT/kam.log" | grep -F "fu=$1 " |
	    sed -n "${2}p" | sed 's/.* \(ct=.*\) ctype=.*/\1/'
}
count_in() {	# count_in FILE FIXED-STRING
	grep -cF -- "$2" "$1" 2>/dev/null || true
}

# ---- Kamailio
gw_free_port || bail "no free port"
kport=$gw_port
kamailio_start kam "$GW_KAM_DIR/registrar.cfg" "$kport" ||
    bail "Kamailio did not start"
ok "Kamailio registrar on 127.0.0.1:$kport"
KPROXY="sip:127.0.0.1:$kport;transport=udp"

# ---- part 1: the rig without the gateway
baresip_start alice "$ALICE" "$KPROXY" "$BOB" || bail "baresip alice"
baresip_start bob "$BOB" "$KPROXY" "$ALICE" || bail "baresip bob"
baresip_registered alice 10 && baresip_registered bob 10
check "direct: alice and bob register at Kamailio" "$?" 0
d_alice=$(kam_reg_of "$ALICE" 1)
d_bob=$(kam_reg_of "$BOB" 1)
case $d_alice in
*ct=*127.0.0.1:*exp=*) ok "direct: Kamailio logs alice's Contact ($d_alice)" ;;
*) not_ok "direct: Kamailio logs alice's Contact" "got '$d_alice'" ;;
esac

T1="hello bob, direct $$"
baresip_send alice "$T1"
baresip_wait bob "sip:alice@a.example: \"$T1\"" 10
check "direct: alice -> bob arrives" "$?" 0
T2="hello alice, direct $$"
baresip_send bob "$T2"
baresip_wait alice "sip:bob@b.example: \"$T2\"" 10
check "direct: bob -> alice arrives" "$?" 0
T3="through ctrl_tcp $$"
baresip_ctrl alice message "$T3"
baresip_wait bob "sip:alice@a.example: \"$T3\"" 10
check "direct: alice -> bob through ctrl_tcp (netstring JSON)" "$?" 0 ||
    sed 's/^/#   /' "$KT/alice.ctrl"
kam_has "KREQ m=MESSAGE ru=sip:bob@b.example.* fu=$ALICE " &&
    kam_has "KRPL m=MESSAGE status=200"
check "direct: Kamailio relayed the MESSAGE and bob's 200" "$?" 0
sipp_options opt1 "127.0.0.1:$kport" bob b.example
check "direct: OPTIONS to bob is relayed to bob's baresip (200)" \
    "$sipp_status" 200

baresip_stop alice
sa=$gw_kill_status
baresip_stop bob
check "direct: baresip exits on SIGINT" "$sa $gw_kill_status" "0 0"
gw_wait_cond 3 kam_has "fu=$BOB .*;expires=0 "
check "direct: ... and unregisters first (Contact expires=0)" "$?" 0

# ---- part 2: through the gateways
if [ -n "${GW_PEERS_DIRECT_ONLY:-}" ]; then
	echo "# GW_PEERS_DIRECT_ONLY set: the gateways are not run"
	echo "1..$n"
	[ "$fail" -eq 0 ]
	exit
fi
if [ ! -x "$GW_BIN" ] || [ ! -x "$KMS_BIN" ] || [ ! -x "$CTL" ]; then
	for t in "alice and bob register through the gateways" \
	    "same Contact and Expires at Kamailio" \
	    "alice -> bob through A and B" "bob -> alice through B and A" \
	    "the gateways wrapped and unwrapped each message" \
	    "OPTIONS through A and B"; do
		ok "# SKIP $t: $GW_BIN or the KMS is not built"
	done
	echo "1..$n"
	[ "$fail" -eq 0 ]
	exit
fi

"$CTL" kms key init --keys "$KT/kms-master.keys" >/dev/null 2>&1 ||
    bail "kms key init"
gw_kms_user gwa a.example || bail "kms user gw@a.example"
gw_kms_user gwb b.example || bail "kms user gw@b.example"
kms_free_port || bail "no free port"
kms_write_conf "$KT/kms.conf" "$kms_port"
kms_start k "$KT/kms.conf" || bail "the KMS did not start"
gw_kms_url="http://127.0.0.1:$kms_port/mikey"

gw_alloc gwa || bail "no free port"
gw_alloc gwb || bail "no free port"
gw_write_conf gwa a.example "udp:127.0.0.1:$kport" \
    "tcp:127.0.0.1:$gw_sip_gwb"
gw_write_conf gwb b.example "udp:127.0.0.1:$kport" \
    "tcp:127.0.0.1:$gw_sip_gwa"
gw_start gwa || bail "gateway A did not start"
gw_start gwb || bail "gateway B did not start"
ok "gateways A (:$gw_sip_gwa) and B (:$gw_sip_gwb) are up"

baresip_start alice "$ALICE" "sip:127.0.0.1:$gw_sip_gwa;transport=udp" \
    "$BOB" || bail "baresip alice (via A)"
baresip_start bob "$BOB" "sip:127.0.0.1:$gw_sip_gwb;transport=udp" \
    "$ALICE" || bail "baresip bob (via B)"
# the new run appends to $KT/NAME.out: count the 200s
: >"$KT/alice.out.mark"
baresip_registered alice 10 && baresip_registered bob 10
check "alice and bob register through the gateways" "$?" 0
g_alice=$(kam_reg_of "$ALICE" "$")
g_bob=$(kam_reg_of "$BOB" "$")
# the Contact's port is the UA's own, which changed with the new run;
# compare without it
# and without the instance part baresip puts into the user part
# (alice-0x55b6c5f8c100: a pointer, new in every run)
strip_port() {
	echo "$1" | sed -e 's/127\.0\.0\.1:[0-9]*/127.0.0.1:P/g' \
	    -e 's/-0x[0-9a-f]*@/-X@/g'
}
if [ -n "$g_alice" ] &&
    [ "$(strip_port "$g_alice")" = "$(strip_port "$d_alice")" ] &&
    [ "$(strip_port "$g_bob")" = "$(strip_port "$d_bob")" ]; then
	ok "same Contact and Expires at Kamailio"
else
	not_ok "same Contact and Expires at Kamailio" \
	    "direct:  $d_alice | $d_bob" "gateway: $g_alice | $g_bob"
fi
eval "bsa=\$bs_sip_alice"
case $g_alice in
*"127.0.0.1:$bsa"*) ok "... alice's Contact is her own address, not A's" ;;
*) not_ok "... alice's Contact is her own address, not A's" \
    "got '$g_alice', alice listens on $bsa" ;;
esac

T4="hello bob, through the gateways $$"
baresip_send alice "$T4"
baresip_wait bob "sip:alice@a.example: \"$T4\"" 15
check "alice -> bob through A and B" "$?" 0
T5="hello alice, through the gateways $$"
baresip_send bob "$T5"
baresip_wait alice "sip:bob@b.example: \"$T5\"" 15
check "bob -> alice through B and A" "$?" 0
w=$(($(gw_metric gwa imgate_gw_messages_forwarded_total 'action="wrapped"') + $(gw_metric gwb imgate_gw_messages_forwarded_total 'action="wrapped"')))
u=$(($(gw_metric gwa imgate_gw_messages_forwarded_total 'action="unwrapped"') + $(gw_metric gwb imgate_gw_messages_forwarded_total 'action="unwrapped"')))
check "the gateways wrapped and unwrapped each message" "$w $u" "2 2"
pai=$(grep "KREQ m=MESSAGE ru=sip:bob@" "$KT/kam.log" | tail -1 |
    sed -n 's/.* pai=\([^ ]*\) .*/\1/p')
check "Kamailio sees bob's MESSAGE with P-Asserted-Identity alice" \
    "$pai" "$ALICE"
sipp_options opt2 "127.0.0.1:$gw_sip_gwa" bob b.example
check "OPTIONS through A and B reaches bob's baresip (200)" \
    "$sipp_status" 200
gw_health gwa && gw_health gwb
check "both gateways still healthy" "$?" 0

baresip_stop alice
baresip_stop bob
gw_wait_cond 3 test "$(grep -c "KREQ m=REGISTER .*fu=$BOB .*;expires=0 " \
    "$KT/kam.log")" -ge 2
check "bob's unREGISTER passes B on SIGINT" "$?" 0
gw_stop gwa
sa=$gw_status
gw_stop gwb
check "SIGTERM stops both gateways with status 0" "$sa $gw_status" "0 0"
if [ "$fail" -ne 0 ]; then
	for _p in gwa gwb kam; do
		gw_dump_log "$_p" 40
	done
fi
echo "1..$n"
[ "$fail" -eq 0 ]
