#!/bin/sh
# tests/integ/t_gw_store.sh - deferred delivery through two imgate
# gateways, a Kamailio registrar and sipp user agents (TAP)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# On 127.0.0.1 in a throwaway directory (tests/integ/gwlib.sh), never port
# 5060: imgate-kms with sip:gw@a.example (act_for sip:*@a.example) and
# sip:gw@b.example (act_for sip:*@b.example); gateway A (a.example,
# ticket_lifetime 60 days, inside = a sipp UAS that gets what alice and
# carol are sent - the reports -, outside = B over TCP); gateway B
# (b.example, [store] require_registration = true, inside = Kamailio
# (tests/integ/kamailio/registrar.cfg) that relays MESSAGEs to bob's
# registered contact, outside = A over TCP); gateway A2 (a.example too,
# outside = a binary-safe sink: protected MESSAGEs B has never seen).
# bob is a sipp UAS (a new one per part, calls held 35 s so that
# retransmissions are absorbed) whose contact is registered by
# tests/integ/sipp/uac_register.xml sent THROUGH B: B learns from the 2xx
# that bob is online; an unREGISTER (Expires: 0) makes him offline.
# A delivery is a (Call-ID, top Via branch) pair bob's UAS received: a
# retransmission (same branch) is not a second delivery.
#
#   1. bob offline: 50 MESSAGEs from alice and carol, interleaved, unique
#      bodies, through A at 20/s: each answered 202, B counts 50 stored,
#      bob gets nothing; bob registers through B: his UAS (which answers
#      after 50 ms, tests/integ/sipp/uas_message_slow.xml) gets each of
#      the 50 exactly once, plain, with its Content-Type and
#      P-Asserted-Identity, in the order A wrapped them (the CSV order),
#      one at a time; the store is empty afterwards (imgatectl queue
#      stats); bob's unREGISTER through B makes him offline.
#   7. (right after 1) two messages stored one after the other in the
#      emptied store, B restarted in between: both delivered, and B sends
#      them inside with different Via branches (tshark on Kamailio's port;
#      RFC 3261 8.1.1.7 - a delivery's branch is fixed by its row id, and
#      the row id of an emptied SQLite table starts again at 1).
#   2. kill -9 while storing: 100 MESSAGEs at 50/s, B killed after 1 s
#      and restarted on the same store; every message that got a 202 is
#      delivered exactly once when bob registers, none twice.
#   3. kill -9 while delivering: 50 stored, bob registers, B killed when
#      bob has about 20; restarted, bob registers again: all 50 delivered,
#      none twice (sipp's created calls 50, 50 unique bodies).
#   5. expiry: B with max_age = 10: a stored message is removed ("message
#      expired") and alice's side gets a report MESSAGE from
#      sip:gw@b.example (wrapped by B, unwrapped by A) saying it was NOT
#      delivered.
#   6. a flipped byte in the CMS part of a protected MESSAGE (made by A2)
#      for offline bob: 202; at delivery it is quarantined, not delivered,
#      and alice gets a report; the messages around it are delivered.
#   4. 40 days late: 3 messages stored, then B and the KMS restarted with
#      --clock-offset 3456000 (40 days): bob registers, all 3 delivered
#      (the modified replay cache has no age limit, the 60-day tickets and
#      max_age still hold); after another restart one of them sent again
#      (its stored bytes from imgatectl queue show --raw): 403 (replay)
#      while bob is online; while he is offline it is stored (202: B
#      cannot open it without the keys) and removed as a replay at
#      delivery, not delivered.
#   SIGTERM stops every gateway with status 0; no sanitizer report in any
#   gateway log (run it against build-san too).
#
# About 90 s (more under ASan).
# Environment: top_srcdir, top_builddir; GW_KEEP=1 keeps the directory.
# Needs sipp (sip-tester), kamailio, curl, perl, ss; tshark for one check
# of part 7 (skipped without it).

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
gw_need_peer sipp kamailio curl perl ss
gw_init t_gw_store

. "$top_srcdir/tests/tap.sh"
bail() {
	echo "Bail out! $1"
	for _p in gwa gwb kam; do
		gw_dump_log "$_p" 30
	done
	kms_dump_log k
	exit 1
}
cd "$KT" || bail "cannot enter $KT"
T0=$(date +%s)

BOB=sip:bob@b.example
DB=$KT/state-gwb/queue.db
OFFSET=3456000		# 40 days
LIFE=5184000		# 60 days

# ---- small tools

# mkcsv FILE PREFIX COUNT: COUNT MESSAGEs to bob from alice and carol in
# turn, bodies "PREFIXnn from alice|carol"; the bodies in FILE.bodies
mkcsv() {
	_w=$(printf '%s' "$3" | wc -c)
	echo SEQUENTIAL >"$1"
	: >"$1.bodies"
	_i=1
	while [ "$_i" -le "$3" ]; do
		if [ $((_i % 2)) -eq 1 ]; then _s=alice; else _s=carol; fi
		_b=$(printf "%s%0${_w}d from %s" "$2" "$_i" "$_s")
		echo "$_s@a.example;bob@b.example;$_b" >>"$1"
		echo "$_b" >>"$1.bodies"
		_i=$((_i + 1))
	done
}

# analyse UAS EXPECTED: what the UAS got against the bodies in the file
# EXPECTED (one a line, in sending order); key=value lines in $KT/UAS.an
analyse() {
	sipp_rx_table "$1" >"$KT/$1.rxt"
	perl -e '
	my ($rxt, $exp) = @ARGV;
	open my $e, "<", $exp or die "$exp: $!\n";
	my @exp = map { chomp; $_ } <$e>;
	my %want = map { $_ => 1 } @exp;
	open my $r, "<", $rxt or die "$rxt: $!\n";
	my (%del, %bd, %seen, @first, @pai, @ct);
	while (<$r>) {
		chomp;
		my ($n, $cid, $br, $from, $pai, $ct, $b) = split /\t/, $_, 7;
		$b //= "";
		next if $del{"$cid $br"}++;	# a retransmission
		$bd{$b}++;
		push @first, $b unless $seen{$b}++;
		my ($who) = $b =~ / from (\w+)$/;
		push @pai, "$b: $pai" unless defined $who &&
		    $pai eq "<sip:$who\@a.example>";
		push @ct, "$b: $ct" unless $ct eq "text/plain;charset=utf-8";
	}
	my @dup = map { "$_ x$bd{$_}" } grep { $bd{$_} > 1 } sort keys %bd;
	my @foreign = grep { !$want{$_} } @first;
	my @missing = grep { !$seen{$_} } @exp;
	my @got = grep { $want{$_} } @first;
	my @ref = grep { $seen{$_} } @exp;
	my $order = "yes";
	for my $i (0 .. $#ref) {
		next if $got[$i] eq $ref[$i];
		$order = "no: #" . ($i + 1) . " is \"$got[$i]\", want \"$ref[$i]\"";
		last;
	}
	sub l { @_ ? join(", ", @_[0 .. ($#_ < 7 ? $#_ : 7)]) .
	    (@_ > 8 ? " ... (" . scalar(@_) . ")" : "") : "none" }
	print "deliveries=", scalar(keys %del), "\n";
	print "bodies=", scalar(@first), "\n";
	print "dup=", l(@dup), "\nforeign=", l(@foreign), "\n";
	print "missing=", l(@missing), "\norder=$order\n";
	print "pai_bad=", l(@pai), "\nct_bad=", l(@ct), "\n";
	' "$KT/$1.rxt" "$2" >"$KT/$1.an" 2>&1
}
an() {
	sed -n "s/^$2=//p" "$KT/$1.an"
}

# qstat FIELD: a line of imgatectl queue stats (messages, quarantined...)
qstat() {
	"$CTL" queue stats --db "$DB" 2>/dev/null | sed -n "s/^ *$1: *//p"
}
q_empty() {
	[ "$(qstat messages)" = 0 ]
}
rx_ge() {	# rx_ge UAS N
	[ "$(sipp_rx_count "$1")" -ge "$2" ]
}
rx_has() {	# rx_has UAS TEXT: the UAS's trace holds TEXT
	grep -qF -- "$2" "$KT/$1.msg" 2>/dev/null
}

# save_log NAME: keep the log of a process that is restarted (gw_start
# and kms_start truncate it) in $KT/NAME.all
save_log() {
	cat "$KT/$1.log" >>"$KT/$1.all" 2>/dev/null
	: >"$KT/$1.log"
}
# glog NAME ERE: count lines matching ERE in every
# log of NAME (the saved ones and the current one)
glog() {
	cat "$KT/$1.all" "$KT/$1.log" 2>/dev/null | grep -cE -- "$2"
}

conf_b() {	# conf_b MAX_AGE
	gw_write_conf gwb b.example "udp:127.0.0.1:$kport" \
	    "tcp:127.0.0.1:$gw_sip_gwa" "[store]" \
	    "require_registration = true" "max_age = $1"
}
# stop_b: SIGTERM, $st_b = its status; start_b [ARGS]: start it again
stop_b() {
	gw_stop gwb
	st_b=$gw_status
	save_log gwb
}
start_b() {
	gw_start gwb "$@" || bail "gateway B did not start again"
}

# reg UAS PORT EXPIRES: register (or, EXPIRES 0, unregister) bob's
# contact 127.0.0.1:PORT through B; $sipp_status
reg_n=0
reg() {
	reg_n=$((reg_n + 1))
	sipp_register "reg$reg_n" "127.0.0.1:$gw_sip_gwb" bob b.example \
	    "127.0.0.1:$2" "$3"
}

bob_start() {	# bob_start UAS SCENARIO: sets p_UAS
	gw_free_port || bail "no free port"
	eval "p_$1=$gw_port"
	sipp_uas_scen "$1" "$gw_port" "$2" u1 || bail "bob's UAS $1"
}

# reports_for TEXT: report MESSAGEs from sip:gw@b.example that A's inside
# UAS got whose body has TEXT
reports_for() {
	sipp_rx_table ains | awk -F'\t' -v t="$1" \
	    '$4 == "sip:gw@b.example" && index($7, t) { c++ } END { print c + 0 }'
}

# flip IN OUT: the protected body IN with one byte near the end of the
# application/pkcs7-mime part inverted (the GCM tag; as t_gw_sipp.sh)
flip() {
	perl -e '
	my ($in, $out) = @ARGV;
	local $/; open my $f, "<", $in or die; binmode $f; my $b = <$f>;
	my ($bd) = $b =~ /^--([^\r\n]+)\r\n/ or die "no boundary\n";
	my $p = index($b, "Content-Type: application/pkcs7-mime");
	$p >= 0 or die "no pkcs7-mime part\n";
	my $end = index($b, "\r\n--$bd", $p);
	substr($b, $end - 5, 1) = chr(255 - ord(substr($b, $end - 5, 1)));
	open my $o, ">", $out or die; binmode $o; print $o $b;' "$1" "$2"
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

# ---- Kamailio, alice's side, the sink, the gateways
gw_free_port || bail "no free port"
kport=$gw_port
kamailio_start kam "$GW_KAM_DIR/registrar.cfg" "$kport" ||
    bail "Kamailio did not start"
gw_free_port || bail "no free port"
p_ains=$gw_port
sipp_uas_start ains "$p_ains" u1 || bail "a.example's UAS"
gw_free_port || bail "no free port"
p_sink=$gw_port
gw_sink_start sink "$p_sink" || bail "the sink did not start"
gw_alloc gwa && gw_alloc gwb && gw_alloc gwa2 || bail "no free port"
gw_write_conf gwa a.example "udp:127.0.0.1:$p_ains" \
    "tcp:127.0.0.1:$gw_sip_gwb"
gw_write_conf gwa2 a.example "udp:127.0.0.1:$p_ains" \
    "tcp:127.0.0.1:$p_sink"
for g in gwa gwa2; do
	sed "/^\[gateway\]\$/a ticket_lifetime = $LIFE" "$KT/$g.conf" \
	    >"$KT/$g.conf.new" && mv "$KT/$g.conf.new" "$KT/$g.conf"
done
conf_b "$LIFE"
gw_start gwb || bail "gateway B did not start"
gw_start gwa || bail "gateway A did not start"
gw_start gwa2 || bail "gateway A2 did not start"
ok "KMS, Kamailio, gateways A, B, A2, alice's UAS and the sink are up"

# ====================================================================
# 1. 50 messages for offline bob, then bob registers
mkcsv "$KT/p1.csv" m 50
bob_start bob1 uas_message_slow.xml
SIPP_RATE=20 sipp_uac p1 "127.0.0.1:$gw_sip_gwa" "$KT/p1.csv"
sipp_tx_table p1 >"$KT/p1.tx"
check "1: 50 MESSAGEs from alice and carol through A: all 202" \
    "$sipp_rc $(awk -F'\t' '$2 == 202' "$KT/p1.tx" | wc -l)" "0 50"
[ "$sipp_rc" -eq 0 ] || cut -f2 "$KT/p1.tx" | sort | uniq -c |
    sed 's/^/#   final status: /'
check "1: B's imgate_gw_stored_total" \
    "$(gw_metric gwb imgate_gw_stored_total)" 50
check "1: B logged 50 'message stored id=... rcpt=$BOB'" \
    "$(glog gwb "message stored id=[0-9]+ rcpt=$BOB ")" 50
check "1: imgatectl queue stats: 50 messages" "$(qstat messages)" 50
sleep 0.5
check "1: bob's UAS got nothing while offline" "$(sipp_rx_count bob1)" 0

reg bob1 "$p_bob1" 3600
check "1: bob registers through B (200)" "$sipp_status" 200
gw_wait_cond 3 grep -q "registration aor=$BOB expires=3600: online" \
    "$KT/gwb.log"
check "1: B logs bob online" "$?" 0
gw_wait_cond 30 rx_ge bob1 50
gw_wait_cond 10 q_empty
sleep 1.5	# late duplicates; the UAS's statistics file (1 s)
analyse bob1 "$KT/p1.csv.bodies"
check "1: bob's UAS created 50 calls" "$(sipp_uas_calls bob1)" 50
check "1: 50 deliveries of 50 different bodies" \
    "$(an bob1 deliveries) $(an bob1 bodies)" "50 50"
check "1: none delivered twice" "$(an bob1 dup)" none
check "1: none missing" "$(an bob1 missing)" none
check "1: nothing else delivered" "$(an bob1 foreign)" none
check "1: plain, with Content-Type text/plain;charset=utf-8" \
    "$(an bob1 ct_bad)" none
check "1: P-Asserted-Identity is the real sender" "$(an bob1 pai_bad)" none
check "1: in the order A wrapped them (the sending order)" \
    "$(an bob1 order)" yes
check "1: one at a time (most unanswered at once at bob)" \
    "$(sipp_rx_inflight bob1)" 1
check "1: queue stats afterwards: 0 messages" "$(qstat messages)" 0
check "1: B's imgate_gw_delivered_stored_total" \
    "$(gw_metric gwb imgate_gw_delivered_stored_total)" 50

# ====================================================================
# 7. two messages stored one after the other in an empty store: the
# second must not go out as a retransmission of the first (the branch of
# a delivery is fixed by the row id; Kamailio keeps a finished
# non-INVITE transaction about 5 s and answers a request with its branch
# from it, as a UA's transaction layer would for 32 s)
stop_b
start_b		# bob offline again (presence is not persisted)
TSHARK=${TSHARK:-tshark}
have_ts=""
command -v "$TSHARK" >/dev/null 2>&1 &&
    tshark_start p7 "udp port $kport" && have_ts=1
printf 'SEQUENTIAL\n%s\n' "alice@a.example;bob@b.example;r1 from alice" \
    >"$KT/p7a.csv"
printf 'SEQUENTIAL\n%s\n' "carol@a.example;bob@b.example;r2 from carol" \
    >"$KT/p7b.csv"
printf '%s\n%s\n' "r1 from alice" "r2 from carol" >"$KT/p7.bodies"
sipp_uac p7a "127.0.0.1:$gw_sip_gwa" "$KT/p7a.csv"
s7a=$(sipp_status "$KT/p7a.msg")
reg bob1 "$p_bob1" 3600
gw_wait_cond 5 rx_has bob1 "r1 from alice" && gw_wait_cond 5 q_empty
check "7: r1 delivered and deleted" "$?" 0
stop_b
start_b
sipp_uac p7b "127.0.0.1:$gw_sip_gwa" "$KT/p7b.csv"
s7b=$(sipp_status "$KT/p7b.msg")
reg bob1 "$p_bob1" 3600
gw_wait_cond 6 rx_has bob1 "r2 from carol"
gw_wait_cond 5 q_empty
sleep 0.5
[ -n "$have_ts" ] && tshark_stop p7
check "7: r1 and r2 for offline bob: 202 202" "$s7a $s7b" "202 202"
if [ -n "$have_ts" ]; then
	# the top Via branch of each MESSAGE B sent to Kamailio: one per
	# message (RFC 3261 8.1.1.7: unique across space and time)
	"$TSHARK" -r "$KT/p7.pcap" -d "udp.port==$kport,sip" \
	    -Y "sip.Method == \"MESSAGE\" && udp.dstport == $kport && udp.srcport == $gw_sip_gwb" \
	    -T fields -e sip.Call-ID -e sip.Via.branch 2>/dev/null |
	    awk '{ split($2, b, ","); print $1, b[1] }' | sort -u >"$KT/p7.br"
	nb7=$(awk '{ print $2 }' "$KT/p7.br" | sort -u | wc -l)
	if [ "$(wc -l <"$KT/p7.br") $nb7" = "2 2" ]; then
		ok "7: B sent r1 and r2 to Kamailio with different Via branches"
	else
		not_ok "7: B sent r1 and r2 to Kamailio with different Via branches" \
		    "Call-ID and top Via branch of each MESSAGE from B:" \
		    "$(cat "$KT/p7.br")" "B: $(grep -hE 'message (stored|delivered) id=' \
		    "$KT/gwb.all" "$KT/gwb.log" | tail -4 | sed 's/.*: message/message/' | cut -d' ' -f1-4 | tr '\n' '|')"
	fi
else
	ok "7: different Via branches # SKIP $TSHARK is not installed"
fi
analyse bob1 "$KT/p7.bodies"
if [ "$(an bob1 missing)" = none ]; then
	ok "7: r2, stored in the emptied store within 5 s of r1's delivery, is delivered"
else
	cid7=$(tr -d '\r' <"$KT/p7b.msg" | sed -n 's/^Call-ID: *//p' | head -1)
	not_ok "7: r2, stored in the emptied store within 5 s of r1's delivery, is delivered" \
	    "missing: $(an bob1 missing)" \
	    "B: $(cat "$KT/gwb.all" "$KT/gwb.log" | grep -E 'message (stored|delivered) id=' | tail -4 | sed 's/.*: message/message/' | tr '\n' '|')" \
	    "Kamailio for r2 ($cid7): $(grep -F "$cid7" "$KT/kam.log" | sed 's/.*<script>: //' | cut -c1-60 | tr '\n' '|')"
fi

reg bob1 "$p_bob1" 0
check "1: bob unregisters through B (Expires: 0, 200)" "$sipp_status" 200
if gw_wait_cond 3 grep -q "registration aor=$BOB removed: offline" \
    "$KT/gwb.log"; then
	ok "1: B logs bob offline after the unREGISTER"
else
	not_ok "1: B logs bob offline after the unREGISTER" \
	    "the 2xx B relayed:" "$(tr -d '\r' <"$KT/reg$reg_n.msg" |
	    sed -n '/^SIP\/2.0 200/,/^$/p')"
fi
gw_kill bob1 TERM

# ====================================================================
# 2. kill -9 while storing
mkcsv "$KT/p2.csv" k 100
bob_start bob2 uas_message.xml
(
	SIPP_RATE=50 SIPP_RECV_TIMEOUT=8000 sipp_uac p2 \
	    "127.0.0.1:$gw_sip_gwa" "$KT/p2.csv"
	echo "$sipp_rc" >"$KT/p2.rc"
) &
p2job=$!
sleep 1
gw_kill gwb KILL
check "2: B killed (-9) 1 s into 100 MESSAGEs at 50/s" "$gw_kill_status" 137
save_log gwb
start_b
wait "$p2job"
sipp_tx_table p2 >"$KT/p2.tx"
awk -F'\t' '$2 == 202 { print $3 }' "$KT/p2.tx" >"$KT/p2.202"
n202=$(wc -l <"$KT/p2.202")
# any answer other than 202 and 503 (B down): say where it came from
awk -F'\t' '$2 != 202 && $2 != 503 { print $1, $2, $3 }' "$KT/p2.tx" |
    while read -r cid st body; do
	echo "# 2: $body ($cid): $st; Warning: $(tr -d '\r' <"$KT/p2.msg" |
	    awk -v c="$cid" '/^Call-ID:/ { m = ($2 == c) } m && /^Warning:/' |
	    tail -1)"
	cat "$KT/gwa.log" "$KT/gwb.all" "$KT/gwb.log" 2>/dev/null |
	    grep -F "$cid" | cut -c1-200 | sed 's/^/#   /'
done
echo "# 2: final statuses at the UAC (sipp exit $(cat "$KT/p2.rc")):" \
    $(cut -f2 "$KT/p2.tx" | sort | uniq -c | awk '{ printf "%s x%s, ", $2, $1 }')
if [ "$n202" -gt 0 ] && [ "$n202" -lt 100 ]; then
	ok "2: $n202 of 100 got 202, the rest did not (the kill was mid-run)"
else
	not_ok "2: some of the 100 got 202, not all (the kill was mid-run)" \
	    "202: $n202"
fi
nstored=$(qstat messages)
echo "# 2: $nstored stored after the restart"
reg bob2 "$p_bob2" 3600
check "2: bob registers through the restarted B (200)" "$sipp_status" 200
gw_wait_cond 30 q_empty
check "2: the store empties" "$(qstat messages)" 0
gw_wait_cond 5 rx_ge bob2 "$n202"
sleep 1.5
analyse bob2 "$KT/p2.202"
check "2: every message that got a 202 is delivered" "$(an bob2 missing)" \
    none
check "2: none delivered twice" "$(an bob2 dup)" none
check "2: deliveries = different bodies = sipp's calls" \
    "$(an bob2 deliveries) $(sipp_uas_calls bob2)" \
    "$(an bob2 bodies) $(an bob2 bodies)"
echo "# 2: delivered $(an bob2 bodies) ($n202 got 202; others: $(an bob2 foreign))"
tail -n +2 "$KT/p2.csv" | cut -d';' -f3 >"$KT/p2.all"
analyse bob2 "$KT/p2.all"
check "2: nothing that was not sent" "$(an bob2 foreign)" none
reg bob2 "$p_bob2" 0
check "2: bob unregisters (200)" "$sipp_status" 200
gw_kill bob2 TERM

# ====================================================================
# 3. kill -9 while delivering
mkcsv "$KT/p3.csv" d 50
bob_start bob3 uas_message_slow.xml
SIPP_RATE=20 sipp_uac p3 "127.0.0.1:$gw_sip_gwa" "$KT/p3.csv"
sipp_tx_table p3 >"$KT/p3.tx"
check "3: 50 more for offline bob: all 202" \
    "$sipp_rc $(awk -F'\t' '$2 == 202' "$KT/p3.tx" | wc -l)" "0 50"
check "3: 50 stored" "$(qstat messages)" 50
reg bob3 "$p_bob3" 3600
check "3: bob registers (200)" "$sipp_status" 200
gw_wait_cond 20 rx_ge bob3 20
gw_kill gwb KILL
k3=$(sipp_rx_count bob3)
if [ "$k3" -gt 0 ] && [ "$k3" -lt 50 ]; then
	ok "3: B killed (-9) while delivering, bob had $k3 of 50"
else
	not_ok "3: B killed (-9) while delivering" "bob had $k3 of 50"
fi
save_log gwb
start_b
reg bob3 "$p_bob3" 3600
check "3: bob registers again with the restarted B (200)" "$sipp_status" 200
gw_wait_cond 30 q_empty
check "3: the store empties" "$(qstat messages)" 0
gw_wait_cond 5 rx_ge bob3 50
sleep 1.5
analyse bob3 "$KT/p3.csv.bodies"
check "3: bob's UAS created 50 calls" "$(sipp_uas_calls bob3)" 50
check "3: 50 deliveries of 50 different bodies" \
    "$(an bob3 deliveries) $(an bob3 bodies)" "50 50"
check "3: none delivered twice" "$(an bob3 dup)" none
check "3: none missing" "$(an bob3 missing)" none
check "3: P-Asserted-Identity is the real sender" "$(an bob3 pai_bad)" none
reg bob3 "$p_bob3" 0
check "3: bob unregisters (200)" "$sipp_status" 200
gw_kill bob3 TERM

# ====================================================================
# 5. expiry: B with max_age = 10
stop_b
check "5: SIGTERM stops B with status 0" "$st_b" 0
conf_b 10
start_b
printf 'SEQUENTIAL\n%s\n' "alice@a.example;bob@b.example;x1 from alice" \
    >"$KT/p5.csv"
sipp_uac p5 "127.0.0.1:$gw_sip_gwa" "$KT/p5.csv"
check "5: one MESSAGE for offline bob: 202" "$(sipp_status "$KT/p5.msg")" 202
rep0=$(reports_for "NOT delivered")
gw_wait_cond 25 grep -q "message expired id=.* rcpt=$BOB sender=sip:alice@a.example" \
    "$KT/gwb.log"
check "5: within 25 s B logs 'message expired' (rcpt bob, sender alice)" \
    "$?" 0
check "5: the store is empty" "$(qstat messages)" 0
gw_wait_cond 10 test "$(reports_for "to $BOB")" -ge 1
sipp_rx_table ains | awk -F'\t' '$4 == "sip:gw@b.example"' | tail -1 \
    >"$KT/p5.rep"
check "5: alice's side got a report MESSAGE from sip:gw@b.example" \
    "$(reports_for "to $BOB")" 1
case $(cut -f7 "$KT/p5.rep") in
*"to $BOB "*"was NOT delivered"*)
	ok "5: ... saying the message to bob was NOT delivered" ;;
*)	not_ok "5: ... saying the message to bob was NOT delivered" \
	    "got: $(cut -f7 "$KT/p5.rep")" ;;
esac
check "5: ... plain at alice's side, P-Asserted-Identity B's gateway" \
    "$(cut -f5,6 "$KT/p5.rep")" \
    "$(printf '<sip:gw@b.example>\ttext/plain;charset=utf-8')"
check "5: ... protected between B and A (B wrapped 1, A unwrapped 1)" \
    "$(gw_metric gwb imgate_gw_messages_forwarded_total 'action="wrapped"') $(gw_metric gwa imgate_gw_messages_forwarded_total 'action="unwrapped"')" \
    "1 1"
check "5: B's expired and reports counters" \
    "$(gw_metric gwb imgate_gw_expired_total) $(gw_metric gwb imgate_gw_reports_total)" \
    "1 1"

# ====================================================================
# 6. undecipherable at delivery
stop_b
conf_b "$LIFE"
start_b
printf 'SEQUENTIAL\n%s\n' "alice@a.example;bob@b.example;q1 from alice" \
    >"$KT/a2.csv"
sipp_uac a2 "127.0.0.1:$gw_sip_gwa2" "$KT/a2.csv"
gw_sink_wait sink 1 10
check "6: A2 wraps a MESSAGE for bob into the sink" \
    "$sipp_rc $(ls "$KT"/sink.*.sip 2>/dev/null | wc -l)" "0 1"
sip_split "$KT/sink.1.sip" "$KT/q.head" "$KT/q.body" || bail "sip_split"
flip "$KT/q.body" "$KT/q1.body" || bail "flip"
printf 'SEQUENTIAL\n%s\n' "alice@a.example;bob@b.example;g1 from alice" \
    >"$KT/p6a.csv"
printf 'SEQUENTIAL\n%s\n' "carol@a.example;bob@b.example;g2 from carol" \
    >"$KT/p6b.csv"
printf '%s\n%s\n' "g1 from alice" "g2 from carol" >"$KT/p6.bodies"
sipp_uac p6a "127.0.0.1:$gw_sip_gwa" "$KT/p6a.csv"
s6a=$(sipp_status "$KT/p6a.msg")
sipp_raw q1 "127.0.0.1:$gw_sip_gwb" "$KT/q.head" "$KT/q1.body"
check "6: a flipped byte in the CMS part, bob offline: 202" "$sipp_status" 202
sipp_uac p6b "127.0.0.1:$gw_sip_gwa" "$KT/p6b.csv"
check "6: ... and the messages around it: 202 202" \
    "$s6a $(sipp_status "$KT/p6b.msg")" "202 202"
check "6: 3 stored" "$(qstat messages)" 3
rep6=$(reports_for "could not be opened")
bob_start bob6 uas_message.xml
reg bob6 "$p_bob6" 3600
check "6: bob registers (200)" "$sipp_status" 200
gw_wait_cond 15 rx_ge bob6 2
gw_wait_cond 10 test "$(qstat quarantined)" = 1
sleep 1.5
analyse bob6 "$KT/p6.bodies"
check "6: the two good ones delivered once each, nothing else" \
    "$(an bob6 deliveries) $(an bob6 missing) $(an bob6 foreign)" \
    "2 none none"
"$CTL" queue list --all --db "$DB" >"$KT/p6.list" 2>&1
if grep -q "quarantined" "$KT/p6.list" && [ "$(qstat quarantined)" = 1 ] &&
    [ "$(qstat messages)" = 1 ]; then
	ok "6: the flipped one is quarantined (imgatectl queue list --all)"
else
	not_ok "6: the flipped one is quarantined (imgatectl queue list --all)" \
	    "$(cat "$KT/p6.list")" "$(grep -F 'id=' "$KT/gwb.log" | tail -5)"
fi
gw_wait_cond 10 test "$(reports_for "could not be opened")" -gt "$rep6"
check "6: alice gets a report MESSAGE (could not be opened)" \
    "$(reports_for "could not be opened")" $((rep6 + 1))
check "6: B's quarantined counter" \
    "$(gw_metric gwb imgate_gw_quarantined_total)" 1
"$CTL" queue purge --quarantined --db "$DB" >/dev/null 2>&1
check "6: imgatectl queue purge --quarantined empties the store" \
    "$(qstat messages)" 0
reg bob6 "$p_bob6" 0
gw_kill bob6 TERM

# ====================================================================
# 4. 40 days late
stop_b
start_b
printf 'SEQUENTIAL\n%s\n%s\n%s\n' "alice@a.example;bob@b.example;l1 from alice" \
    "carol@a.example;bob@b.example;l2 from carol" \
    "alice@a.example;bob@b.example;l3 from alice" >"$KT/p4.csv"
tail -n +2 "$KT/p4.csv" | cut -d';' -f3 >"$KT/p4.bodies"
SIPP_RATE=5 sipp_uac p4 "127.0.0.1:$gw_sip_gwa" "$KT/p4.csv"
sipp_tx_table p4 >"$KT/p4.tx"
check "4: 3 MESSAGEs (60-day tickets) for offline bob: 202" \
    "$sipp_rc $(awk -F'\t' '$2 == 202' "$KT/p4.tx" | wc -l)" "0 3"
id4=$(sed -n "s/.*message stored id=\([0-9]*\) rcpt=$BOB .*/\1/p" \
    "$KT/gwb.log" | head -1)
"$CTL" queue show --raw --db "$DB" "$id4" >"$KT/late.sip" 2>"$KT/late.err"
if [ -n "$id4" ] && [ -s "$KT/late.sip" ] &&
    sip_split "$KT/late.sip" "$KT/late.head" "$KT/late.body" 2>/dev/null
then
	ok "4: imgatectl queue show --raw gives the stored bytes of #$id4"
else
	not_ok "4: imgatectl queue show --raw gives the stored bytes" \
	    "id '$id4'" "$(cat "$KT/late.err")"
fi
stop_b
check "4: SIGTERM stops B with status 0" "$st_b" 0
kms_stop k
save_log k
kms_start k "$KT/kms.conf" --clock-offset "$OFFSET" ||
    bail "the KMS did not start with --clock-offset"
start_b --clock-offset "$OFFSET"
ok "4: the KMS and B run 40 days later (--clock-offset $OFFSET)"
bob_start bob4 uas_message.xml
reg bob4 "$p_bob4" 3600
check "4: bob registers (200)" "$sipp_status" 200
gw_wait_cond 20 q_empty
gw_wait_cond 5 rx_ge bob4 3
sleep 1.2
analyse bob4 "$KT/p4.bodies"
check "4: all 3 delivered 40 days late, once each" \
    "$(an bob4 deliveries) $(an bob4 missing) $(an bob4 dup) $(sipp_uas_calls bob4)" \
    "3 none none 3"
check "4: ... in order, with P-Asserted-Identity the real sender" \
    "$(an bob4 order) $(an bob4 pai_bad)" "yes none"
check "4: the store is empty" "$(qstat messages)" 0
[ "$(an bob4 deliveries)" = 3 ] || grep -E 'id=|refus|KMS|expired' \
    "$KT/gwb.log" | tail -8 | sed 's/^/#   B: /'

# the same protected message again, after another restart
stop_b
start_b --clock-offset "$OFFSET"
reg bob4 "$p_bob4" 3600
sipp_raw late1 "127.0.0.1:$gw_sip_gwb" "$KT/late.head" "$KT/late.body"
check "4: one of them sent again, bob online: 403" "$sipp_status" 403
w=$(tr -d '\r' <"$KT/late1.msg" | sed -n 's/^Warning: *//p' | tail -1)
case $w in
*[Rr]eplay*) ok "4: ... Warning says replay ($w)" ;;
*) not_ok "4: ... Warning says replay" "Warning: '$w'" ;;
esac
stop_b
start_b --clock-offset "$OFFSET"
sipp_raw late2 "127.0.0.1:$gw_sip_gwb" "$KT/late.head" "$KT/late.body"
check "4: sent again while bob is offline: 202 (stored unopened)" \
    "$sipp_status" 202
reg bob4 "$p_bob4" 3600
gw_wait_cond 10 q_empty
check "4: ... removed at delivery as a replay" \
    "$(qstat messages) $(grep -c 'was delivered before (replay cache): removed' "$KT/gwb.log")" \
    "0 1"
sleep 1
analyse bob4 "$KT/p4.bodies"
check "4: ... and bob got nothing more" \
    "$(an bob4 deliveries) $(sipp_rx_count bob4)" "3 3"

# ---- stop
gw_stop gwa2
s2=$gw_status
gw_stop gwa
s1=$gw_status
stop_b
check "SIGTERM stops A, B and A2 with status 0" "$s1 $st_b $s2" "0 0 0"
kms_stop k
check "SIGTERM stops the KMS with status 0" "$kms_status" 0
san=$(cat "$KT"/gwa.log "$KT"/gwa2.log "$KT"/gwb.all "$KT"/k.all \
    "$KT"/k.log 2>/dev/null | grep -E -c 'runtime error|AddressSanitizer|LeakSanitizer')
check "no sanitizer report in the logs of the gateways and the KMS" \
    "$san" 0
if [ "$fail" -ne 0 ]; then
	for _p in gwa gwb kam; do
		gw_dump_log "$_p" 40
	done
fi
echo "# $(($(date +%s) - T0)) s"
echo "1..$n"
[ "$fail" -eq 0 ]
