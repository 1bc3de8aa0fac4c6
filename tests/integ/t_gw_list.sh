#!/bin/sh
# tests/integ/t_gw_list.sh - the list server in fan-out and re-encryption
# mode: two imgate gateways, a Kamailio registrar and sipp user agents
# (TAP)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# On 127.0.0.1 in a throwaway directory (tests/integ/gwlib.sh), never port
# 5060: imgate-kms with sip:gw@a.example (act_for sip:*@a.example),
# sip:gw@b.example (act_for sip:*@b.example), and three plain users with
# their own PSKs, sip:erin@a.example and sip:frank@a.example (list
# members) and sip:mallory@a.example (not one); kms.conf has [group
# sip:team@b.example] (bob, carol, dave @b.example, erin, frank
# @a.example; exploder sip:gw@b.example), [group sip:crew@b.example]
# (bob, carol, zed @b.example, erin @a.example; same exploder) and [group
# sip:club@b.example] (bob, carol, dave @b.example, erin, frank @a.example; same
# exploder).  Gateway B (b.example) serves the three lists: team and
# crew with [list URI] mode = fanout, club with mode = reencrypt; gateway
# A (a.example) knows which of its users belong to team and crew ([group
# URI]).  Both: [store] require_registration = true, inside = one
# Kamailio registrar (tests/integ/kamailio/registrar.cfg), outside = the
# other gateway over TCP.  Every member is a sipp UAS registered THROUGH
# its gateway (tests/integ/sipp/uac_register.xml), alice too (to get
# reports), and mallory; zed's contact is a UDP hop answering 486.
#
#   1. dave (B) and frank (A) offline; alice sends one MESSAGE to
#      sip:team@b.example through A: 200; bob, carol, erin get it exactly
#      once, plain, the same body, P-Asserted-Identity alice; dave and
#      frank nothing; B and A each store one copy (log, metrics, queue).
#   2. frank's copy as A stored it (imgatectl queue show --raw: the bytes
#      B sent A): no plaintext in it; erin opens it with her own
#      credential (imgatectl unwrap), mallory cannot (the KMS refuses,
#      not_a_responder; no plaintext).  Gateway A2 (a.example, outside =
#      a binary-safe sink) wraps another MESSAGE from alice to the list:
#      that body (one A has never seen, so A's replay cache does not
#      answer first) re-addressed (R-URI and To) to mallory, online at A,
#      and sent to A: 403 "not addressed to this recipient" (A's [group]
#      check), her UAS gets nothing.
#   3. re-encryption, dave and frank still offline: alice sends one
#      MESSAGE to sip:club@b.example through A (tshark records the bytes
#      A sends B): 200; B logs "re-encrypting for 5 members, author
#      alice"; bob and erin get it exactly once, plain, alice's text and
#      Content-Type, P-Asserted-Identity <sip:club@b.example> (the list is
#      the verified S/MIME identity), From display name "sip:alice@a.example
#      (via sip:club@b.example)", From URI alice; dave and frank nothing,
#      B and A store their copies.  frank's copy from A's store: no
#      plaintext; frank opens it with his own credential: verified sender
#      the list, CPIM To frank, cc bob, dave, erin, inner author alice,
#      alice's text; mallory cannot (the KMS refuses).  The bytes A sent B
#      resent to B: 403 (replay), nobody gets a second copy.
#   4. dave registers through B, frank through A: each gets the team
#      message exactly once, plain, P-Asserted-Identity alice, and the
#      club message exactly once, with the list's identities as in 3.
#   5. alice sends to sip:crew@b.example, whose member zed answers 486:
#      alice gets 200 and a report MESSAGE from sip:gw@b.example naming
#      zed; bob, carol and erin get the message anyway.
#   SIGTERM stops the gateways (and the KMS) with status 0; no sanitizer
#   report in their logs (run it against build-san too).
#
# Regression: every member a gateway serves gets the list message once
# (the replay cache keys an entry by TRANSFER_INIT and recipient:
# imgate_unwrap_hold); before, only the first member did.
#
# About 25 s.  Environment: top_srcdir, top_builddir; GW_KEEP=1 keeps
# the directory.  Needs sipp (sip-tester), kamailio, curl, perl, ss;
# tshark for the replay checks of part 3 (skipped without it).

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
gw_init t_gw_list

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

ALICE=sip:alice@a.example
TEAM=sip:team@b.example
CREW=sip:crew@b.example
CLUB=sip:club@b.example
TEAM_MEMBERS="sip:bob@b.example; sip:carol@b.example; sip:dave@b.example; sip:erin@a.example; sip:frank@a.example"
CREW_MEMBERS="sip:bob@b.example; sip:carol@b.example; sip:zed@b.example; sip:erin@a.example"
CLUB_MEMBERS="sip:bob@b.example; sip:carol@b.example; sip:dave@b.example; sip:erin@a.example; sip:frank@a.example"
DBA=$KT/state-gwa/queue.db
DBB=$KT/state-gwb/queue.db

# ---- small tools

# qstat DB FIELD: a line of imgatectl queue stats
qstat() {
	"$CTL" queue stats --db "$1" 2>/dev/null | sed -n "s/^ *$2: *//p"
}
q_empty() {
	[ "$(qstat "$1" messages)" = 0 ]
}
rx_ge() {	# rx_ge UAS N
	[ "$(sipp_rx_count "$1")" -ge "$2" ]
}

# got UAS BODY: "D B P" - D deliveries (distinct Call-ID and top Via
# branch: a retransmission is not a second delivery) of MESSAGEs whose
# body is BODY, B of them with another body, P of the BODY ones whose
# P-Asserted-Identity is not <sip:alice@a.example> or whose Content-Type
# is not text/plain;charset=utf-8
got() {
	sipp_rx_table "$1" | awk -F'\t' -v b="$2" '
	{ k = $2 " " $3; if (seen[k]++) next
	  if ($7 == b) { d++; if ($5 != "<sip:alice@a.example>" ||
	      $6 != "text/plain;charset=utf-8") p++ } else o++ }
	END { print d + 0, o + 0, p + 0 }'
}

# reports_for TEXT: report MESSAGEs from sip:gw@b.example that alice's
# UAS got whose body has TEXT
reports_for() {
	sipp_rx_table alice | awk -F'\t' -v t="$1" \
	    '$4 == "sip:gw@b.example" && index($7, t) { c++ } END { print c + 0 }'
}

# shown UAS BODY: one line per delivery (distinct Call-ID and top Via
# branch) of a MESSAGE whose body is BODY: "PAI | From display name |
# From URI | Content-Type"
shown() {
	perl -e '
	my ($file, $want) = @ARGV;
	local $/; open my $f, "<", $file or exit 0; binmode $f; my $t = <$f>;
	sub hdr { my ($h, @names) = @_;
		for my $n (@names) {
			return $1 if $h =~ /(?:^|\r\n)\Q$n\E[ \t]*:[ \t]*([^\r\n]*)/i;
		}
		"" }
	my %seen;
	while ($t =~ /(?:UDP|TCP|TLS) message received \[(\d+)\] bytes :\n\n/g) {
		my $m = substr($t, pos($t), $1);
		next unless $m =~ /^MESSAGE /;
		my $p = index($m, "\r\n\r\n");
		next if $p < 0;
		my ($h, $b) = (substr($m, 0, $p), substr($m, $p + 4));
		my ($br) = hdr($h, "Via", "v") =~ /;branch=([^;, ]+)/;
		next if $seen{hdr($h, "Call-ID", "i") . " " . ($br // "")}++;
		next unless $b eq $want;
		my $fr = hdr($h, "From", "f");
		my $d = $fr =~ /^\s*"((?:[^"\\]|\\.)*)"/ ? $1 :
		    $fr =~ /^\s*([^<"]*?)\s*</ ? $1 : "";
		my $u = $fr =~ /<([^>]*)>/ ? $1 : (split /;/, $fr)[0];
		(my $ct = hdr($h, "Content-Type", "c")) =~ s/\s//g;
		print join(" | ", hdr($h, "P-Asserted-Identity"), $d, $u, $ct),
		    "\n";
	}' "$KT/$1.msg" "$2"
}

# tcp_pick PCAP RLINE OUT: the first request whose request line is RLINE
# in the TCP streams of PCAP (reassembled), byte for byte, into OUT
tcp_pick() {
	"$TSHARK" -r "$1" -Y 'tcp.len > 0' -T fields -e tcp.stream \
	    -e tcp.seq -e tcp.payload 2>/dev/null | perl -e '
	my ($rl, $out) = @ARGV;
	my (%seg, @order);
	while (<STDIN>) {
		chomp;
		my ($st, $seq, $hex) = split /\t/;
		next unless defined $hex && length $hex;
		$hex =~ s/://g;
		push @order, $st unless $seg{$st};
		$seg{$st}{$seq} //= pack("H*", $hex);
	}
	for my $st (@order) {
		my ($buf, $next) = ("", undef);
		for my $q (sort { $a <=> $b } keys %{$seg{$st}}) {
			next if defined $next && $q < $next;	# a retransmission
			$buf .= $seg{$st}{$q};
			$next = $q + length $seg{$st}{$q};
		}
		while (1) {
			$buf =~ s/^(\r\n)+//;
			my $p = index($buf, "\r\n\r\n");
			last if $p < 0;
			my ($cl) = substr($buf, 0, $p + 2) =~
			    /\r\n(?:content-length|l)\s*:\s*(\d+)/i;
			my $m = substr($buf, 0, $p + 4 + ($cl // 0));
			$buf = substr($buf, length $m);
			next unless $m =~ /^\Q$rl\E\r\n/;
			open my $o, ">", $out or die; binmode $o; print $o $m;
			exit 0;
		}
	}
	exit 1;' "$2" "$3"
}

# uas NAME: a sipp UAS for the user NAME on a free port ($p_NAME)
uas() {
	gw_free_port || bail "no free port"
	eval "p_$1=$gw_port"
	sipp_uas_scen "$1" "$gw_port" uas_message.xml u1 ||
	    bail "the UAS of $1"
}

# reg USER DOMAIN GW [EXPIRES]: register USER's UAS through gateway GW;
# $sipp_status
reg() {
	eval "_gp=\$gw_sip_$3 _up=\$p_$1"
	sipp_register "reg_$1" "127.0.0.1:$_gp" "$1" "$2" "127.0.0.1:$_up" \
	    "${4:-3600}"
}

# send NAME TO BODY: one MESSAGE from alice through A; $st = its status
send() {
	printf 'SEQUENTIAL\n%s\n' "alice@a.example;$2;$3" >"$KT/$1.csv"
	sipp_uac "$1" "127.0.0.1:$gw_sip_gwa" "$KT/$1.csv"
	st=$(sipp_status "$KT/$1.msg")
}

# ---- the KMS and its users
"$CTL" kms key init --keys "$KT/kms-master.keys" >/dev/null 2>&1 ||
    bail "kms key init"
gw_kms_user gwa a.example || bail "kms user gw@a.example"
gw_kms_user gwb b.example || bail "kms user gw@b.example"
for u in erin frank mallory; do
	"$CTL" kms user add --users "$KT/kms-users.conf" \
	    --id "sip:$u@a.example" --generate --psk-out "$KT/$u.psk" \
	    >"$KT/$u.user.out" 2>&1 || bail "kms user sip:$u@a.example"
done
kms_free_port || bail "no free port"
kms_write_conf "$KT/kms.conf" "$kms_port" \
    "[group $TEAM]" "members = $TEAM_MEMBERS" \
    "exploders = sip:gw@b.example" \
    "[group $CREW]" "members = $CREW_MEMBERS" \
    "exploders = sip:gw@b.example" \
    "[group $CLUB]" "members = $CLUB_MEMBERS" \
    "exploders = sip:gw@b.example"
kms_start k "$KT/kms.conf" || bail "the KMS did not start"
gw_kms_url="http://127.0.0.1:$kms_port/mikey"
KURL=$gw_kms_url

# ---- Kamailio, the gateways
gw_free_port || bail "no free port"
kport=$gw_port
kamailio_start kam "$GW_KAM_DIR/registrar.cfg" "$kport" ||
    bail "Kamailio did not start"
gw_free_port || bail "no free port"
p_sink=$gw_port
gw_sink_start sink "$p_sink" || bail "the sink did not start"
gw_alloc gwa && gw_alloc gwb && gw_alloc gwa2 || bail "no free port"
cp "$KT/gwa.psk" "$KT/gwa2.psk"
gw_write_conf gwb b.example "udp:127.0.0.1:$kport" \
    "tcp:127.0.0.1:$gw_sip_gwa" "[store]" "require_registration = true" \
    "[list $TEAM]" "mode = fanout" "members = $TEAM_MEMBERS" \
    "[list $CREW]" "mode = fanout" "members = $CREW_MEMBERS" \
    "[list $CLUB]" "mode = reencrypt" "members = $CLUB_MEMBERS"
gw_write_conf gwa a.example "udp:127.0.0.1:$kport" \
    "tcp:127.0.0.1:$gw_sip_gwb" "[store]" "require_registration = true" \
    "[group $TEAM]" "members = sip:erin@a.example; sip:frank@a.example" \
    "[group $CREW]" "members = sip:erin@a.example"
gw_write_conf gwa2 a.example "udp:127.0.0.1:$kport" "tcp:127.0.0.1:$p_sink"
gw_start gwb || bail "gateway B did not start"
gw_start gwa || bail "gateway A did not start"
gw_start gwa2 || bail "gateway A2 did not start"

# ---- the user agents: all but dave and frank registered
for u in alice bob carol dave erin frank mallory; do
	uas "$u"
done
gw_free_port || bail "no free port"
p_zed=$gw_port
gw_udp_hop_start zed "$p_zed" 486 || bail "zed's UDP hop"
regs=""
for ud in alice:a.example:gwa bob:b.example:gwb carol:b.example:gwb \
    erin:a.example:gwa mallory:a.example:gwa zed:b.example:gwb; do
	IFS=: read -r u d g <<EOF
$ud
EOF
	reg "$u" "$d" "$g"
	regs="$regs $sipp_status"
done
check "KMS, Kamailio, A, B up; alice, bob, carol, erin, mallory, zed register through their gateway (200)" \
    "$regs" " 200 200 200 200 200 200"

# ====================================================================
# 1. one MESSAGE to the list, dave and frank offline
B1="t1 hello team from alice"
send p1 team@b.example "$B1"
check "1: alice's MESSAGE to $TEAM through A: 200" \
    "$st" 200
gw_wait_cond 10 rx_ge bob 1
gw_wait_cond 5 rx_ge carol 1
gw_wait_cond 5 rx_ge erin 1
sleep 1		# late duplicates
for u in bob carol erin; do
	check "1: $u gets it exactly once, plain, P-Asserted-Identity alice" \
	    "$(got "$u" "$B1")" "1 0 0"
done
check "1: dave and frank (offline) get nothing yet" \
    "$(sipp_rx_count dave) $(sipp_rx_count frank)" "0 0"
check "1: alice gets no report about it" "$(reports_for "$TEAM")" 0
check "1: B logs the fan-out to 5 members" \
    "$(grep -c "list $TEAM: fan-out to 5 members" "$KT/gwb.log")" 1
check "1: B logs 5 of 5 members accepted" \
    "$(grep -c 'list fan-out done: 5 of 5 members accepted' "$KT/gwb.log")" 1
check "1: B stored dave's copy (log)" \
    "$(grep -cE 'message stored id=[0-9]+ rcpt=sip:dave@b.example ' "$KT/gwb.log")" 1
check "1: A stored frank's copy (log)" \
    "$(grep -cE 'message stored id=[0-9]+ rcpt=sip:frank@a.example ' "$KT/gwa.log")" 1
check "1: imgate_gw_stored_total at B and A" \
    "$(gw_metric gwb imgate_gw_stored_total) $(gw_metric gwa imgate_gw_stored_total)" \
    "1 1"
check "1: queue stats at B and A: 1 message each" \
    "$(qstat "$DBB" messages) $(qstat "$DBA" messages)" "1 1"
check "1: A wrapped 1, B unwrapped 2 (bob, carol), A unwrapped 1 (erin)" \
    "$(gw_metric gwa imgate_gw_messages_forwarded_total 'action="wrapped"') $(gw_metric gwb imgate_gw_messages_forwarded_total 'action="unwrapped"') $(gw_metric gwa imgate_gw_messages_forwarded_total 'action="unwrapped"')" \
    "1 2 1"

# ====================================================================
# 2. a non-member cannot read it: frank's copy as A stored it
idf=$(sed -n 's/.*message stored id=\([0-9]*\) rcpt=sip:frank@a\.example .*/\1/p' \
    "$KT/gwa.log" | head -1)
"$CTL" queue show --raw --db "$DBA" "$idf" >"$KT/f.sip" 2>"$KT/f.err"
if [ -n "$idf" ] && [ -s "$KT/f.sip" ] &&
    sip_split "$KT/f.sip" "$KT/f.head" "$KT/f.body" 2>/dev/null; then
	ok "2: frank's protected copy from A's store (imgatectl queue show --raw #$idf)"
else
	not_ok "2: frank's protected copy from A's store" "id '$idf'" \
	    "$(cat "$KT/f.err")"
fi
ctf=$(sip_hdr "$KT/f.head" Content-Type)
check "2: ... R-URI and To are frank, From alice, the body protected" \
    "$(head -1 "$KT/f.head" | tr -d '\r') | $(sip_hdr "$KT/f.head" To | sed 's/;tag=.*//') | $(sip_hdr "$KT/f.head" From | sed 's/;tag=.*//') | ${ctf%%;*}" \
    "MESSAGE sip:frank@a.example SIP/2.0 | <sip:frank@a.example> | <sip:alice@a.example> | multipart/mixed"
if grep -qF "$B1" "$KT/f.body"; then
	not_ok "2: the copy on the wire/at rest holds no plaintext" \
	    "the body has '$B1'"
else
	ok "2: the copy on the wire/at rest holds no plaintext"
fi

# unwrap WHO OUT: imgatectl unwrap the copy as sip:WHO@a.example with
# WHO's own PSK; $urc = its exit status; stdout OUT.out, stderr OUT.err
unwrap() {
	"$CTL" unwrap --kms "$KURL" --kms-id "$gw_kms_id" \
	    --id "sip:$1@a.example" --psk-file "$KT/$1.psk" --from "$ALICE" \
	    --content-type "$ctf" --in "$KT/f.body" --timeout 5 \
	    >"$KT/$2.out" 2>"$KT/$2.err"
	urc=$?
}
unwrap erin uerin
check "2: erin (a member) opens it with her own credential: exit 0, the body" \
    "$urc $(cat "$KT/uerin.out")" "0 $B1"
unwrap mallory umal
check "2: mallory (not a member) with her own credential: exit 1" "$urc" 1
if grep -qF "$B1" "$KT/umal.out" "$KT/umal.err"; then
	not_ok "2: ... no plaintext printed" "$(cat "$KT/umal.out")"
else
	ok "2: ... no plaintext printed"
fi
if grep -qiE 'not authori[sz]ed|authori[sz]' "$KT/umal.err"; then
	ok "2: ... the KMS refuses: not authorised"
else
	not_ok "2: ... the KMS refuses: not authorised" \
	    "stderr: $(tr '\n' '|' <"$KT/umal.err")"
fi
check "2: the KMS logs the refused resolve for mallory" \
    "$(grep -c 'exchange=resolve outcome=not_authorised requester=sip:mallory@a.example ' "$KT/k.log")" 1

# the same protected body re-addressed to mallory (online at A) and sent
# to A.  Not frank's copy: A has delivered its TRANSFER_INIT to erin
# already, and A's replay cache (checked before the [group] check) would
# answer 403 for that reason alone.  A2 (a.example too, outside = a sink)
# wraps alice's MESSAGE to the list exactly as A does: a body A has never
# seen, whose ticket names the group.
B2="t2 for the team only"
printf 'SEQUENTIAL\n%s\n' "alice@a.example;team@b.example;$B2" >"$KT/a2.csv"
sipp_uac a2 "127.0.0.1:$gw_sip_gwa2" "$KT/a2.csv"
gw_sink_wait sink 1 10
check "2: A2 wraps alice's MESSAGE to the list into the sink" \
    "$sipp_rc $(ls "$KT"/sink.*.sip 2>/dev/null | wc -l)" "0 1"
sip_split "$KT/sink.1.sip" "$KT/s.head" "$KT/s.body" || bail "sip_split"
perl -e '
my ($in, $out) = @ARGV;
local $/; open my $f, "<", $in or die; binmode $f; my $h = <$f>;
$h =~ s/^MESSAGE \S+ SIP\/2\.0/MESSAGE sip:mallory\@a.example SIP\/2.0/;
$h =~ s/(^|\r\n)(To|t)\s*:[^\r]*/$1To: <sip:mallory\@a.example>/i;
open my $o, ">", $out or die; binmode $o; print $o $h;' \
    "$KT/s.head" "$KT/m.head" || bail "re-address"
n_mal=$(sipp_rx_count mallory)
sipp_raw mal "127.0.0.1:$gw_sip_gwa" "$KT/m.head" "$KT/s.body"
wmal=$(tr -d '\r' <"$KT/mal.msg" | sed -n 's/^Warning: *//p' | tail -1)
check "2: re-addressed (R-URI, To) to mallory and sent to A: 403" \
    "$sipp_status" 403
case $wmal in
*"not addressed"*) ok "2: ... by A's [group] check (Warning: $wmal)" ;;
*) not_ok "2: ... by A's [group] check" "Warning: '$wmal'" \
    "A: $(grep -i mallory "$KT/gwa.log" | tail -3 | tr '\n' '|')" ;;
esac
sleep 0.5
check "2: mallory's UAS gets nothing" "$(sipp_rx_count mallory)" "$n_mal"
if grep -qF "$B2" "$KT/mallory.msg" "$KT/kam.log" 2>/dev/null; then
	not_ok "2: ... and the plaintext never left A" \
	    "found '$B2' in mallory's trace or Kamailio's log"
else
	ok "2: ... and the plaintext never left A"
fi

# ====================================================================
# 3. re-encryption (club), dave and frank still offline
B3="t3 hello club from alice"
VIA="sip:alice@a.example (via $CLUB)"
SHOWN="<$CLUB> | $VIA | $ALICE | text/plain;charset=utf-8"
have_ts=""
if command -v "$TSHARK" >/dev/null 2>&1; then
	# the bytes A sends B (A's connection to B's listener only)
	tshark_start ts3 "tcp dst port $gw_sip_gwb" && have_ts=1
fi
nq_b=$(qstat "$DBB" messages) nq_a=$(qstat "$DBA" messages)
send p3 club@b.example "$B3"
check "3: alice's MESSAGE to $CLUB (mode reencrypt) through A: 200" \
    "$st" 200
gw_wait_cond 10 rx_ge erin 2
gw_wait_cond 5 rx_ge bob 2
[ -n "$have_ts" ] && tshark_stop ts3
sleep 1		# late duplicates
check "3: B logs re-encrypting for 5 members, author alice" \
    "$(grep -c "list $CLUB: re-encrypting for 5 members, author $ALICE\$" "$KT/gwb.log")" 1
gw_wait_cond 5 rx_ge carol 3
for u in bob carol erin; do
	check "3: $u gets it exactly once, plain: P-Asserted-Identity the list, From '\"$VIA\" <$ALICE>', alice's Content-Type and text" \
	    "$(shown "$u" "$B3")" "$SHOWN"
done
check "3: bob and erin: the team message once, no other new one" \
    "$(got bob "$B1") | $(got erin "$B1")" "1 1 0 | 1 1 0"
check "3: dave and frank (offline) get nothing yet" \
    "$(sipp_rx_count dave) $(sipp_rx_count frank)" "0 0"
check "3: B and A log the message from the list, author alice (bob and carol, erin)" \
    "$(grep -c "message from list $CLUB, author $ALICE" "$KT/gwb.log") $(grep -c "message from list $CLUB, author $ALICE" "$KT/gwa.log")" \
    "2 1"
check "3: B logs 5 of 5 members accepted (dave and frank stored)" \
    "$(grep -c 'list re-encryption done: 5 of 5 members accepted$' "$KT/gwb.log")" 1
check "3: queue stats at B and A: one more message each (dave's, frank's)" \
    "$(qstat "$DBB" messages) $(qstat "$DBA" messages)" \
    "$((nq_b + 1)) $((nq_a + 1))"
check "3: alice gets no report about it" "$(reports_for "$CLUB")" 0

# frank's copy as A stored it: B's re-encryption for frank
idc=$(sed -n 's/.*message stored id=\([0-9]*\) rcpt=sip:frank@a\.example .*/\1/p' \
    "$KT/gwa.log" | sed -n 2p)
"$CTL" queue show --raw --db "$DBA" "$idc" >"$KT/c.sip" 2>"$KT/c.err"
if [ -n "$idc" ] && [ -s "$KT/c.sip" ] &&
    sip_split "$KT/c.sip" "$KT/c.head" "$KT/c.body" 2>/dev/null; then
	ok "3: frank's protected copy from A's store (imgatectl queue show --raw #$idc)"
else
	not_ok "3: frank's protected copy from A's store" "id '$idc'" \
	    "$(cat "$KT/c.err")"
fi
ctc=$(sip_hdr "$KT/c.head" Content-Type)
check "3: ... R-URI and To are frank, SIP From still alice, the body protected" \
    "$(head -1 "$KT/c.head" | tr -d '\r') | $(sip_hdr "$KT/c.head" To | sed 's/;tag=.*//') | $(sip_hdr "$KT/c.head" From | sed 's/;tag=.*//') | ${ctc%%;*}" \
    "MESSAGE sip:frank@a.example SIP/2.0 | <sip:frank@a.example> | <sip:alice@a.example> | multipart/mixed"
if grep -qF "$B3" "$KT/c.body"; then
	not_ok "3: the copy on the wire/at rest holds no plaintext" \
	    "the body has '$B3'"
else
	ok "3: the copy on the wire/at rest holds no plaintext"
fi
# cunwrap WHO OUT: as unwrap, for frank's club copy
cunwrap() {
	"$CTL" unwrap --kms "$KURL" --kms-id "$gw_kms_id" \
	    --id "sip:$1@a.example" --psk-file "$KT/$1.psk" --from "$ALICE" \
	    --content-type "$ctc" --in "$KT/c.body" --timeout 5 \
	    >"$KT/$2.out" 2>"$KT/$2.err"
	urc=$?
}
cunwrap frank ufrank
check "3: frank opens it with his own credential: exit 0, alice's text" \
    "$urc $(cat "$KT/ufrank.out")" "0 $B3"
check "3: ... verified sender the list" \
    "$(sed -n 's/^Verified sender: //p' "$KT/ufrank.err")" "$CLUB"
check "3: ... CPIM To frank, cc the other members (bob, dave, erin)" \
    "$(grep -E '^CPIM (To|cc): ' "$KT/ufrank.err" | tr '\n' ';')" \
    "CPIM To: sip:frank@a.example;CPIM cc: sip:bob@b.example;CPIM cc: sip:carol@b.example;CPIM cc: sip:dave@b.example;CPIM cc: sip:erin@a.example;"
check "3: ... inner author alice" \
    "$(sed -n 's/^Inner author: \([^ ]*\).*/\1/p' "$KT/ufrank.err")" "$ALICE"
if [ "$urc" -ne 0 ] || ! grep -q '^Verified sender' "$KT/ufrank.err"; then
	sed 's/^/#   frank: /' "$KT/ufrank.err"
fi
nres=$(grep -c 'exchange=resolve outcome=not_authorised requester=sip:mallory@a.example ' "$KT/k.log")
cunwrap mallory ucmal
check "3: mallory (not a member) with her own credential: exit 1" "$urc" 1
if grep -qF "$B3" "$KT/ucmal.out" "$KT/ucmal.err"; then
	not_ok "3: ... no plaintext printed" "$(cat "$KT/ucmal.out")"
else
	ok "3: ... no plaintext printed"
fi
if grep -qiE 'not authori[sz]ed' "$KT/ucmal.err"; then
	ok "3: ... the KMS refuses: not authorised"
else
	not_ok "3: ... the KMS refuses: not authorised" \
	    "stderr: $(tr '\n' '|' <"$KT/ucmal.err")"
fi
check "3: the KMS logs the refused resolve for mallory" \
    "$(grep -c 'exchange=resolve outcome=not_authorised requester=sip:mallory@a.example ' "$KT/k.log")" \
    "$((nres + 1))"

# the bytes A sent B for alice's MESSAGE, resent to B: a replay
if [ -z "$have_ts" ]; then
	for d in "the bytes A sent B recorded" "resent to B: 403" \
	    "... a replay" "nobody gets a second copy"; do
		ok "3: $d # SKIP tshark is not available"
	done
elif ! tcp_pick "$KT/ts3.pcap" "MESSAGE $CLUB SIP/2.0" "$KT/r3.sip" ||
    ! sip_split "$KT/r3.sip" "$KT/r3.head" "$KT/r3.body"; then
	not_ok "3: the bytes A sent B recorded (tshark)" \
	    "$(ls -l "$KT/ts3.pcap" 2>&1)"
else
	check "3: the bytes A sent B recorded (tshark): alice's protected MESSAGE (her Call-ID, From, To; no plaintext)" \
	    "$(sip_hdr "$KT/r3.head" Call-ID) | $(sip_hdr "$KT/r3.head" From | sed 's/;tag=.*//') | $(sip_hdr "$KT/r3.head" To) | $(grep -cF "$B3" "$KT/r3.body")" \
	    "$(sipp_tx_table p3 | cut -f1 | head -1) | <$ALICE> | <$CLUB> | 0"
	sipp_raw r3 "127.0.0.1:$gw_sip_gwb" "$KT/r3.head" "$KT/r3.body"
	check "3: the same bytes resent to B (a new transaction): 403" \
	    "$sipp_status" 403
	wr3=$(tr -d '\r' <"$KT/r3.msg" | sed -n 's/^Warning: *//p' | tail -1)
	if grep -qE 'message rejected status=403 reason=replay' "$KT/gwb.log"; then
		ok "3: ... refused as a replay (Warning: $wr3)"
	else
		not_ok "3: ... refused as a replay" "Warning: '$wr3'" \
		    "B: $(grep 'message rejected' "$KT/gwb.log" | tail -2 | tr '\n' '|')"
	fi
	sleep 1
	check "3: nobody gets a second copy (bob, erin: 1; dave, frank: 0), nothing more stored" \
	    "$(shown bob "$B3" | wc -l) $(shown erin "$B3" | wc -l) $(sipp_rx_count dave) $(sipp_rx_count frank) $(qstat "$DBB" messages) $(qstat "$DBA" messages)" \
	    "1 1 0 0 $((nq_b + 1)) $((nq_a + 1))"
fi

# ====================================================================
# 4. dave and frank register
reg dave b.example gwb
s_d=$sipp_status
reg frank a.example gwa
check "4: dave registers through B, frank through A (200)" \
    "$s_d $sipp_status" "200 200"
gw_wait_cond 15 rx_ge dave 2
gw_wait_cond 10 rx_ge frank 2
gw_wait_cond 5 q_empty "$DBB"
gw_wait_cond 5 q_empty "$DBA"
sleep 1
check "4: dave gets the team message exactly once, plain, P-Asserted-Identity alice" \
    "$(got dave "$B1")" "1 1 0"
check "4: frank gets the team message exactly once, plain, P-Asserted-Identity alice" \
    "$(got frank "$B1")" "1 1 0"
for u in dave frank; do
	check "4: $u gets the club message exactly once, plain, P-Asserted-Identity the list, From '\"$VIA\" <$ALICE>'" \
	    "$(shown "$u" "$B3")" "$SHOWN"
done
if [ "$(got frank "$B1")" != "1 1 0" ]; then
	grep -E "frank|id=$idf|id=$idc" "$KT/gwa.log" | tail -6 | cut -c1-220 |
	    sed 's/^/#   A: /'
fi
check "4: the stores of B and A are empty" \
    "$(qstat "$DBB" messages) $(qstat "$DBA" messages)" "0 0"
check "4: imgate_gw_delivered_stored_total at B and A" \
    "$(gw_metric gwb imgate_gw_delivered_stored_total) $(gw_metric gwa imgate_gw_delivered_stored_total)" \
    "2 2"
for u in bob carol erin; do
	check "4: $u still has it once" "$(got "$u" "$B1")" "1 1 0"
done
check "4: bob, carol and erin still have the club message once" \
    "$(shown bob "$B3" | wc -l) $(shown carol "$B3" | wc -l) $(shown erin "$B3" | wc -l)" "1 1 1"

# ====================================================================
# 5. a member fails: zed (486) on the crew list
B4="t4 crew call from alice"
rep0=$(reports_for "sip:zed@b.example")
n_other="$(sipp_rx_count dave) $(sipp_rx_count frank) $(sipp_rx_count mallory)"
send p4 crew@b.example "$B4"
check "5: alice's MESSAGE to $CREW (zed answers 486): 200" "$st" 200
gw_wait_cond 10 test "$(reports_for "sip:zed@b.example")" -gt "$rep0"
check "5: alice gets a report MESSAGE from sip:gw@b.example naming zed" \
    "$(reports_for "sip:zed@b.example")" $((rep0 + 1))
sipp_rx_table alice | awk -F'\t' '$4 == "sip:gw@b.example"' | tail -1 \
    >"$KT/p4.rep"
echo "# 5: report: $(cut -f7 "$KT/p4.rep")"
check "5: ... the failed members it names: zed (486) only" \
    "$(cut -f7 "$KT/p4.rep" | sed -n 's/.*(the others have it): \(.*\)\.$/\1/p')" \
    "sip:zed@b.example (486)"
check "5: ... plain at alice, P-Asserted-Identity B's gateway" \
    "$(cut -f5,6 "$KT/p4.rep")" \
    "$(printf '<sip:gw@b.example>\ttext/plain;charset=utf-8')"
gw_wait_cond 10 rx_ge erin 3
gw_wait_cond 5 rx_ge bob 3
sleep 1
for u in bob carol erin; do
	w="1 2 0"	# + the club message
	check "5: $u gets it anyway, exactly once, plain, identity alice" \
	    "$(got "$u" "$B4")" "$w"
done
check "5: zed's hop got the MESSAGE (and answered 486)" \
    "$(gw_udp_hop_count zed MESSAGE)" 1
check "5: B logs 3 of 4 members accepted, zed failed (486)" \
    "$(grep -c 'list fan-out done: 3 of 4 members accepted; failed: sip:zed@b.example (486)' "$KT/gwb.log")" 1
check "5: dave, frank, mallory got nothing more" \
    "$(sipp_rx_count dave) $(sipp_rx_count frank) $(sipp_rx_count mallory)" \
    "$n_other"

# ---- stop
gw_stop gwa2
s3=$gw_status
gw_stop gwa
s1=$gw_status
gw_stop gwb
s2=$gw_status
check "SIGTERM stops A, B and A2 with status 0" "$s1 $s2 $s3" "0 0 0"
kms_stop k
check "SIGTERM stops the KMS with status 0" "$kms_status" 0
san=$(cat "$KT"/gwa.log "$KT"/gwb.log "$KT"/gwa2.log "$KT"/k.log 2>/dev/null |
    grep -E -c 'runtime error|AddressSanitizer|LeakSanitizer')
check "no sanitizer report in the logs of the gateways and the KMS" \
    "$san" 0
if [ "$fail" -ne 0 ]; then
	for _p in gwa gwb; do
		gw_dump_log "$_p" 40
	done
fi
echo "# $(($(date +%s) - T0)) s"
echo "1..$n"
[ "$fail" -eq 0 ]
