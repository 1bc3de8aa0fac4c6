#!/bin/sh
# tests/integ/t_kms.sh - imgate-kms on loopback, driven by imgatectl (TAP)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# Two real imgate-kms processes (A and B) on 127.0.0.1 share one users
# file, one master key file and one configuration (kms/FORMATS.md), all in
# a throwaway directory written with "imgatectl kms user|key".  Then:
#
#   ticket request, resolve by the named responder, by a group member that
#   matches only through a wildcard, by the group's exploder (list server),
#   by a network function (audited in the log), by a gateway acting for
#   the responder (act_for), and the TRANSFER_INIT path (ticket transfer,
#   then resolve of the message: same TEK fingerprint at both ends);
#   refusals with their MIKEY ERR number, HTTP status and X-Imgate-Outcome:
#   anyone else (ERR 12 not_authorised), wrong PSK and unknown user
#   (ERR 0 auth), a replayed message (ERR 1 replay), an expired ticket
#   (ERR 1 expired), a ticket sealed under a retired master key (ERR 14
#   key_version), a tampered ticket (ERR 0 auth);
#   master key rotation (old tickets still resolve, new ones carry the new
#   version), the two instances resolving each other's tickets;
#   bad HTTP input: garbage, empty, truncated and PK-variant MIKEY bodies,
#   oversized bodies, plain and chunked (413), oversized headers, wrong
#   content type (415), wrong method (405), unknown path (404), keep-alive
#   across a 404, a client stalled inside its body while others are
#   served, 50 random bodies, then the daemon still answers; /health, and
#   /metrics with the exact counts of this test;
#   a reload of a broken key file keeps the old keys; SIGTERM stops both
#   daemons cleanly (exit 0: under ASan, no leak).
#
# Raw messages imgatectl will not send (a replay, a cut message, a
# resolve of an expired ticket) come from tests/integ/kms_msg and go
# out with curl.  Loopback only, every wait bounded; about 10 s (ASan).
#
# Environment: top_srcdir, top_builddir; KMS_KEEP=1 keeps the directory.
# Needs curl (scripts/dev.sh installs it), awk, od.

# absolute: the test works inside its throwaway directory
top_srcdir=$(cd "${top_srcdir:-.}" && pwd) || exit 99
top_builddir=$(cd "${top_builddir:-.}" && pwd) || exit 99
CTL=$top_builddir/tools/imgatectl
KMS_MSG=$top_builddir/tests/integ/kms_msg
KMS_BIN=${KMS_BIN:-$top_builddir/kms/imgate-kms}

for b in "$KMS_BIN" "$CTL" "$KMS_MSG"; do
	if [ ! -x "$b" ]; then
		echo "1..0 # SKIP $b is not built"
		exit 0
	fi
done
if ! command -v curl >/dev/null 2>&1; then
	echo "1..0 # SKIP curl is not installed (sh scripts/dev.sh deps)"
	exit 0
fi

. "$top_srcdir/tests/integ/kmslib.sh"
kms_init t_kms

# ---- TAP ----

. "$top_srcdir/tests/tap.sh"
bail() {
	echo "Bail out! $1"
	kms_dump_log a
	kms_dump_log b
	exit 1
}

# ---- identities and commands ----

KMSID=sip:kms@corp.example
TEAM=sip:team@corp.example

# uri NAME - the identity of a short user name (a URI is kept as is)
uri() {
	case $1 in
	*:*)	echo "$1" ;;
	dave)	echo "sip:dave@dev.corp.example" ;;
	eve)	echo "sip:eve@dev.corp.example.org" ;;
	team)	echo "$TEAM" ;;
	*)	echo "sip:$1@corp.example" ;;
	esac
}

# run NAME CMD...: stdout in $KT/NAME.out, stderr in $KT/NAME.err, $rc
run() {
	_r=$1
	shift
	"$@" >"$KT/$_r.out" 2>"$KT/$_r.err"
	rc=$?
}

# treq NAME KMS USER TO [ARGS...]: USER asks KMS (a or b) for a ticket
# for TO; the ticket file is $KT/NAME.tkt
treq() {
	_n=$1 _k=$2 _u=$3 _to=$4
	shift 4
	run "$_n" "$CTL" ticket request --kms "$(url "$_k")" --kms-id "$KMSID" \
	    --id "$(uri "$_u")" --psk-file "$KT/$_u.psk" --to "$(uri "$_to")" \
	    --out "$KT/$_n.tkt" "$@"
}

# tres NAME KMS USER FILE [ARGS...]: USER resolves FILE (ticket file or
# TRANSFER_INIT) at KMS
tres() {
	_n=$1 _k=$2 _u=$3 _in=$4
	shift 4
	run "$_n" "$CTL" ticket resolve --kms "$(url "$_k")" --kms-id "$KMSID" \
	    --id "$(uri "$_u")" --psk-file "$KT/$_u.psk" --in "$_in" "$@"
}

url() {
	eval "echo http://127.0.0.1:\$port_$1/mikey"
}
base() {
	eval "echo http://127.0.0.1:\$port_$1"
}

# field NAME LABEL - the value of "LABEL: value" in $KT/NAME.out (quotes
# around a string value removed)
field() {
	sed -n "s/^ *$2: //p" "$KT/$1.out" | head -1 | sed 's/^"\(.*\)"$/\1/'
}

# fp NAME LABEL - the 8-digit fingerprint on the line LABEL
fp() {
	field "$1" "$2" | sed -n 's/.*fingerprint \([0-9a-f]\{8\}\).*/\1/p'
}

# tally KMS EXCHANGE OUTCOME: one more request we expect in /metrics
tally() {
	eval "cnt_$1_$2_$3=\$((\${cnt_$1_$2_$3:-0} + 1))"
}

# expect_ok DESC KMS EXCHANGE: the last run succeeded
expect_ok() {
	if [ "$rc" -eq 0 ]; then
		ok "$1"
	else
		not_ok "$1" "exit status $rc" "$(cat "$KT/$_r.err")"
	fi
	tally "$2" "$3" ok
}

# expect_refused DESC KMS EXCHANGE ERR OUTCOME [HTTP]: the last run was
# refused by the KMS with ERR and X-Imgate-Outcome OUTCOME
expect_refused() {
	_w="ERR $4 (.*HTTP ${6:-403}.*X-Imgate-Outcome: $5"
	if [ "$rc" -eq 1 ] && grep -q "$_w" "$KT/$_r.err"; then
		ok "$1"
	else
		not_ok "$1" "exit status $rc (want 1)" \
		    "stderr: $(cat "$KT/$_r.err")" "want a line matching: $_w"
	fi
	tally "$2" "$3" "${7:-$5}"
}

# errno_of FILE - the first ERR payload's Error no of a MIKEY message
errno_of() {
	"$CTL" mikey dump --binary "$1" 2>/dev/null |
	    sed -n 's/^ *Error no: .*(\([0-9]*\))$/\1/p' | head -1
}

# post NAME KMS FILE [CTYPE]: POST FILE; status etc. from kms_http
post() {
	kms_http POST "$(url "$2")" "$3" "${4:-application/mikey}"
	cp "$KT/http.body" "$KT/$1.resp"
	cp "$KT/http.head" "$KT/$1.head" 2>/dev/null
}

# expect_http DESC STATUS [OUTCOME [ERR]]: the last post's answer
expect_http() {
	_got="$http_status"
	_want="$2"
	if [ -n "${3:-}" ]; then
		_got="$_got $http_outcome"
		_want="$_want $3"
	fi
	if [ -n "${4:-}" ]; then
		_got="$_got ERR $(errno_of "$KT/http.body")"
		_want="$_want ERR $4"
	fi
	check "$1" "$_got" "$_want"
}

# randfile FILE BYTES [FIRST]: random bytes, the first one FIRST (octal
# escape for printf) if given
randfile() {
	if [ -n "${3:-}" ]; then
		printf "$3" >"$1"
		head -c $(($2 - 1)) /dev/urandom >>"$1"
	else
		head -c "$2" /dev/urandom >"$1"
	fi
}

# hexof STRING - lower-case hex of its bytes
hexof() {
	printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'
}

# metric KMS NAME LABELS - one value from a fresh GET /metrics
metric() {
	kms_http GET "$(base "$1")/metrics"
	kms_metric "$KT/http.body" "$2" "$3"
}

# wait_metric KMS NAME LABELS VALUE - poll (<= 5 s) until it reaches VALUE
wait_metric() {
	_i=0
	while [ $_i -lt 50 ]; do
		_v=$(metric "$1" "$2" "$3")
		[ "$_v" = "$4" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# wait_reload KMS COUNT - poll (<= 5 s) until reloads_total{ok} > COUNT
wait_reload() {
	_i=0
	while [ $_i -lt 50 ]; do
		[ "$(metric "$1" imgate_kms_policy_reloads_total \
		    'result="ok"')" -gt "$2" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# ---- setup: files with imgatectl, two daemons ----

cd "$KT" || bail "cannot enter $KT"
run keyinit "$CTL" kms key init --keys "$KT/kms-master.keys"
[ "$rc" -eq 0 ] || bail "kms key init: $(cat "$KT/keyinit.err")"
for u in alice bob rob carol dave eve lists li gw shorty; do
	set -- --users "$KT/kms-users.conf" --id "$(uri "$u")" --generate \
	    --psk-out "$KT/$u.psk"
	case $u in
	gw)	set -- "$@" --act-for 'sip:*@corp.example' ;;
	shorty)	set -- "$@" --lifetime 3 ;;
	esac
	run "add-$u" "$CTL" kms user add "$@"
	[ "$rc" -eq 0 ] || bail "kms user add $u: $(cat "$KT/add-$u.err")"
done
# a PSK nobody has, for an unknown user
randfile "$KT/rnd.bin" 32
od -An -v -tx1 "$KT/rnd.bin" | tr -d ' \n' >"$KT/nobody.psk"
chmod 600 "$KT/nobody.psk"

kms_free_port || bail "no free port"
port_a=$kms_port
kms_free_port || bail "no free port"
port_b=$kms_port
for k in a b; do
	eval "p=\$port_$k"
	kms_write_conf "$KT/kms-$k.conf" "$p" \
	    "ticket_lifetime = 86400" \
	    "clock_skew = 300" \
	    "replay_cache_entries = 10000" \
	    "max_body = 16384" \
	    "timeout = 10" \
	    "" \
	    "[group $TEAM]" \
	    "members = sip:alice@corp.example;sip:*@dev.corp.example" \
	    "exploders = sip:lists@corp.example" \
	    "" \
	    "[network-functions]" \
	    "resolve_any = sip:li@corp.example"
done
kms_start a "$KT/kms-a.conf" || bail "KMS A did not start"
kms_start b "$KT/kms-b.conf" || bail "KMS B did not start"

kms_http GET "$(base a)/health"
check "GET /health: 200 ok" "$http_status $(cat "$KT/http.body")" "200 ok"
pid_a=$kms_pid_a
pid_b=$kms_pid_b
check "pidfile holds the daemon's PID" "$(cat "$KT/a.pid" 2>/dev/null |
    tr -d ' \n')" "$pid_a"
check "/metrics: master key version gauge 1" \
    "$(metric a imgate_kms_master_key_version '')" 1

# the short-lived ticket first: it expires while the rest runs
treq short a shorty bob
t_short=$(date +%s)
expect_ok "request: user with lifetime = 3 in the users file" a request
tres short-now a bob "$KT/short.tkt"
expect_ok "resolve: the short-lived ticket while it is valid" a resolve

# ---- request and resolve ----

treq t1 a alice bob
expect_ok "request: alice asks A for a ticket for bob" a request
check "request: ticket sealed under master key version 1" \
    "$(field t1 'Master key version')" 1
check "request: ticket file starts with IMGATE-TICKET 1" \
    "$(head -1 "$KT/t1.tkt")" "IMGATE-TICKET 1"
tres r1 a bob "$KT/t1.tkt"
expect_ok "resolve: bob, the named responder" a resolve
check "resolve: bob gets alice's MPKi" "$(fp r1 MPKi)" "$(fp t1 MPKi)"

run m1 "$CTL" ticket transfer --in "$KT/t1.tkt" --to "$(uri bob)" \
    --out "$KT/m1.msg"
check "transfer: TRANSFER_INIT written" "$rc" 0
tek1=$(fp m1 'TEK for CS 1')
tres rm1 a bob "$KT/m1.msg"
expect_ok "resolve TRANSFER_INIT: bob" a resolve
check "resolve TRANSFER_INIT: same TEK fingerprint as transfer" \
    "$(fp rm1 'TEK for CS 1')" "$tek1"
check "resolve TRANSFER_INIT: sender verified as alice" \
    "$(field rm1 'Sender (IDRi, verified)')" "$(uri alice)"

# ---- groups, exploders, network functions ----

treq tg a alice team
expect_ok "request: ticket for the group $TEAM" a request
tres rg-dave a dave "$KT/tg.tkt"
expect_ok "resolve group ticket: dave, member only by sip:*@dev.corp.example" \
    a resolve
check "resolve group ticket: dave gets the same MPKi" "$(fp rg-dave MPKi)" \
    "$(fp tg MPKi)"
tres rg-alice a alice "$KT/tg.tkt"
expect_ok "resolve group ticket: alice, a listed member" a resolve
tres rg-eve a eve "$KT/tg.tkt"
expect_refused "resolve group ticket: eve@dev.corp.example.org (no match)" \
    a resolve 12 not_authorised
tres rg-carol a carol "$KT/tg.tkt"
expect_refused "resolve group ticket: carol, not a member" a resolve 12 \
    not_authorised
tres rg-lists a lists "$KT/tg.tkt"
expect_ok "resolve group ticket: lists, the group's exploder" a resolve
tres r1-lists a lists "$KT/t1.tkt"
expect_refused "resolve: lists on a ticket for bob (not a group's)" a \
    resolve 12 not_authorised
lines_before=$(wc -l <"$KT/a.log")
tres r1-li a li "$KT/t1.tkt"
expect_ok "resolve: li, a network function, on bob's ticket" a resolve
tres rg-li a li "$KT/tg.tkt"
expect_ok "resolve: li on the group ticket" a resolve
sleep 0.2	# the log line is written before the answer; be lenient
if tail -n +$((lines_before + 1)) "$KT/a.log" | grep -i "audit" |
    grep -q "$(uri li)"; then
	ok "log: li's resolve is audited"
else
	not_ok "log: li's resolve is audited" \
	    "no line with 'audit' and $(uri li) in:" \
	    "$(tail -n +$((lines_before + 1)) "$KT/a.log" | head -10)"
fi
tres r1-carol a carol "$KT/t1.tkt"
expect_refused "resolve: carol on bob's ticket" a resolve 12 not_authorised

# ---- act_for ----

treq tgw a gw bob --for "$(uri alice)"
expect_ok "request: gw (act_for sip:*@corp.example) for alice" a request
check "request: gw's ticket names alice as initiator" \
    "$(field tgw 'Initiator (IDRi)')" "$(uri alice)"
tres rgw-bob a bob "$KT/tgw.tkt"
expect_ok "resolve: bob resolves the ticket gw got for alice" a resolve
tres r1-gw a gw "$KT/t1.tkt"
expect_ok "resolve: gw for bob (act_for)" a resolve
treq tgw-dave a gw bob --for "$(uri dave)"
expect_refused "request: gw for dave@dev.corp.example (outside act_for)" a \
    request 12 not_authorised
treq tal-for a alice carol --for "$(uri bob)"
expect_refused "request: alice for bob (no act_for)" a request 12 \
    not_authorised

# ---- authentication ----

run r1-badpsk "$CTL" ticket resolve --kms "$(url a)" --kms-id "$KMSID" \
    --id "$(uri bob)" --psk-file "$KT/carol.psk" --in "$KT/t1.tkt"
expect_refused "resolve: bob with a wrong PSK" a resolve 0 auth
run tbadpsk "$CTL" ticket request --kms "$(url a)" --kms-id "$KMSID" \
    --id "$(uri alice)" --psk-file "$KT/bob.psk" --to "$(uri bob)" \
    --out "$KT/tbadpsk.tkt"
expect_refused "request: alice with a wrong PSK" a request 0 auth
treq tnobody a nobody bob
expect_refused "request: unknown user (same answer as a wrong PSK)" a \
    request 0 auth 403 unknown_id
run tother "$CTL" ticket request --kms "$(url a)" \
    --kms-id sip:other-kms@corp.example --id "$(uri alice)" \
    --psk-file "$KT/alice.psk" --to "$(uri bob)" --out "$KT/tother.tkt"
if [ "$rc" -eq 1 ] && grep -q "ERR [0-9]* (" "$KT/tother.err"; then
	ok "request: naming another KMS (IDRkms) is refused"
else
	not_ok "request: naming another KMS (IDRkms) is refused" \
	    "exit status $rc" "$(cat "$KT/tother.err")"
fi
oc_other=$(sed -n 's/.*X-Imgate-Outcome: \([a-z_]*\).*/\1/p' \
    "$KT/tother.err")
[ -n "$oc_other" ] && tally a request "$oc_other"

# ---- tampered tickets ----

# flip the last byte of the ticket MAC: the ticket ends with Ticket Data
# (whose last payload is V) then a 2-byte Initiator Data length of 0
awk '$1 == "ticket" {
	h = $2; L = length(h)
	if (substr(h, L - 3) != "0000") { print "INITDATA " > "/dev/stderr" }
	p = L - 4
	c = index("0123456789abcdef", tolower(substr(h, p, 1))) - 1
	c = c % 2 ? c - 1 : c + 1
	$2 = substr(h, 1, p - 1) substr("0123456789abcdef", c + 1, 1) \
	    substr(h, p + 1)
} { print }' "$KT/t1.tkt" >"$KT/tmac.tkt" 2>"$KT/tmac.awk"
chmod 600 "$KT/tmac.tkt"
tres rmac a bob "$KT/tmac.tkt"
expect_refused "tampered ticket (MAC byte flipped): refused" a resolve 0 auth
# rewrite the responder: sip:bob@ -> sip:rob@ (same length)
hb=$(hexof "$(uri bob)")
hr=$(hexof "$(uri rob)")
awk -v a="$hb" -v b="$hr" '$1 == "ticket" { n = gsub(a, b, $2) } { print }
    END { exit n != 1 }' "$KT/t1.tkt" >"$KT/trob.tkt"
check "tamper: bob's URI found once in the ticket and replaced" "$?" 0
chmod 600 "$KT/trob.tkt"
tres rrob a rob "$KT/trob.tkt"
expect_refused "tampered ticket (responder rewritten to rob): refused" a \
    resolve 0 auth

# ---- two instances ----

treq tb b alice bob
expect_ok "request at B" b request
tres rb-at-a a bob "$KT/tb.tkt"
expect_ok "resolve at A of a ticket from B" a resolve
tres r1-at-b b bob "$KT/t1.tkt"
expect_ok "resolve at B of a ticket from A" b resolve
tres rm1-at-b b bob "$KT/m1.msg"
expect_ok "resolve at B of the TRANSFER_INIT" b resolve
check "resolve at B: same TEK fingerprint" "$(fp rm1-at-b 'TEK for CS 1')" \
    "$tek1"

# ---- raw messages: replays ----

run mk-r1 "$KMS_MSG" request --id "$(uri alice)" --psk-file "$KT/alice.psk" \
    --to "$(uri bob)" --kms-id "$KMSID" --out "$KT/raw-req.msg"
post raw1 a "$KT/raw-req.msg"
expect_http "raw REQUEST_INIT: 200 ok" 200 ok
tally a request ok
check "raw REQUEST_INIT: answer is application/mikey" "$http_ctype" \
    application/mikey
post raw2 a "$KT/raw-req.msg"
expect_http "the same REQUEST_INIT again: 403 replay ERR 1" 403 replay 1
tally a request replay
run mk-s1 "$KMS_MSG" resolve --id "$(uri bob)" --psk-file "$KT/bob.psk" \
    --ticket "$KT/t1.tkt" --kms-id "$KMSID" --out "$KT/raw-res.msg"
post raws1 a "$KT/raw-res.msg"
expect_http "raw RESOLVE_INIT: 200 ok" 200 ok
tally a resolve ok
post raws2 a "$KT/raw-res.msg"
expect_http "the same RESOLVE_INIT again: 403 replay ERR 1" 403 replay 1
tally a resolve replay

# ---- bad HTTP input ----

h400=0
randfile "$KT/garbage.bin" 64 'G'
post g1 a "$KT/garbage.bin"
expect_http "garbage POST: 400" 400
h400=$((h400 + 1))
tally a other bad_message
check "garbage POST: text/plain reason" "$(echo "$http_ctype" |
    sed 's/;.*//')" text/plain
: >"$KT/empty.bin"
post g2 a "$KT/empty.bin"
expect_http "empty POST: 400" 400
h400=$((h400 + 1))
tally a other bad_message
head -c 5 "$KT/raw-req.msg" >"$KT/hdr5.bin"
post g3 a "$KT/hdr5.bin"
expect_http "5 bytes of a MIKEY header: 400" 400
h400=$((h400 + 1))
tally a other bad_message
run mk-r2 "$KMS_MSG" request --id "$(uri alice)" --psk-file "$KT/alice.psk" \
    --to "$(uri bob)" --kms-id "$KMSID" --out "$KT/raw-req2.msg"
len2=$(wc -c <"$KT/raw-req2.msg")
head -c $((len2 / 2)) "$KT/raw-req2.msg" >"$KT/half.bin"
post g4 a "$KT/half.bin"
if [ "$http_status" = 400 ]; then
	ok "truncated REQUEST_INIT: 400"
else
	not_ok "truncated REQUEST_INIT: 400" "got $http_status"
fi
case $http_ctype in
application/mikey*)
	e=$(errno_of "$KT/http.body")
	case $e in
	11|12|13) ok "truncated REQUEST_INIT: MIKEY Error ERR $e" ;;
	*) not_ok "truncated REQUEST_INIT: MIKEY Error ERR 11, 12 or 13" \
	    "got ERR '$e'" ;;
	esac
	tally a request "$http_outcome" ;;
*)
	ok "truncated REQUEST_INIT: text/plain reason"
	h400=$((h400 + 1))
	tally a other bad_message ;;
esac
# the PK variant (data type 12): valid framing, unsupported
{ head -c 1 "$KT/raw-req2.msg"; printf '\014'; tail -c +3 \
    "$KT/raw-req2.msg"; } >"$KT/pk.bin"
post g5 a "$KT/pk.bin"
expect_http "REQUEST_INIT_PK: 400 unsupported ERR 13" 400 unsupported 13
tally a request unsupported
randfile "$KT/big.bin" 20000 '\001'
post g6 a "$KT/big.bin"
expect_http "POST of 20000 bytes > max_body 16384: 413" 413
h413=1
randfile "$KT/huge.bin" 1000000 '\001'
post g7 a "$KT/huge.bin"
case $http_status in
413)	ok "POST of 1 MB: 413"
	h413=$((h413 + 1)) ;;
000)	ok "POST of 1 MB: connection closed without reading it all" ;;
*)	not_ok "POST of 1 MB: 413" "got $http_status" ;;
esac
post g8 a "$KT/raw-req2.msg" text/plain
expect_http "wrong Content-Type: 415" 415
check "415 names the accepted type" "$(tr -d '\r' <"$KT/g8.head" |
    sed -n 's/^[Aa]ccept: *//p')" application/mikey
kms_http GET "$(url a)"
expect_http "GET on the MIKEY path: 405" 405
check "405 says Allow: POST" "$(tr -d '\r' <"$KT/http.head" |
    sed -n 's/^[Aa]llow: *//p')" POST
kms_http GET "$(base a)/nowhere"
expect_http "unknown path: 404" 404
# keep-alive: curl reuses the connection (num_connects 0 the second time),
# also after a 404
check "keep-alive: /nowhere then /health on one connection" \
    "$(curl -s -o /dev/null -o /dev/null --max-time 10 \
    -w '%{http_code}/%{num_connects} ' "$(base a)/nowhere" \
    "$(base a)/health")" "404/1 200/0 "
h404=2
# headers over max_headers (8192): refused by evhttp itself
big=$(head -c 9000 /dev/zero | tr '\0' a)
st=$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' \
    -H "X-Big: $big" "$(base a)/health")
case $st in
4??|000) ok "headers over max_headers: refused ($st)" ;;
*) not_ok "headers over max_headers: refused" "got $st" ;;
esac
# a chunked body over max_body
st=$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' -H "Expect:" \
    -H "Content-Type: application/mikey" -H "Transfer-Encoding: chunked" \
    --data-binary "@$KT/big.bin" "$(url a)")
case $st in
413)	ok "chunked body over max_body: 413"
	h413=$((h413 + 1)) ;;
*) not_ok "chunked body over max_body: 413" "got $st" ;;
esac
# a body shorter than its Content-Length: the client stalls for 2 s (our
# own background curl, waited for by PID), meanwhile others are served
head -c 10 "$KT/raw-req2.msg" >"$KT/ten.bin"
curl -s -o /dev/null --max-time 2 -H "Content-Type: application/mikey" \
    -H "Content-Length: 100" -H "Expect:" --data-binary "@$KT/ten.bin" \
    "$(url a)" 2>/dev/null &
stall=$!
sleep 0.2
treq during a alice bob
expect_ok "a client stalls inside its body: others are still served" a \
    request
wait "$stall"
kms_http GET "$(base a)/health"
check "the stalled client gave up: /health still 200 ok" \
    "$http_status $(cat "$KT/http.body")" "200 ok"
# fifty bodies of random length and content (no MIKEY header)
i=0
bad=0
while [ $i -lt 50 ]; do
	sz=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
	sz=$((sz % 3000 + 1))
	randfile "$KT/rnd.bin" "$sz" 'X'
	kms_http POST "$(url a)" "$KT/rnd.bin"
	[ "$http_status" = 400 ] || bad=$((bad + 1))
	tally a other bad_message
	i=$((i + 1))
done
h400=$((h400 + 50))
check "50 random bodies: all answered 400" "$bad" 0
# liveness
treq alive a alice bob
expect_ok "after all that: a good request is answered" a request
check "KMS A still runs as the same process" "$(kill -0 "$pid_a" 2>&1 &&
    echo alive)" alive
kms_http GET "$(base a)/health"
check "GET /health still 200 ok" "$http_status $(cat "$KT/http.body")" \
    "200 ok"

# ---- expiry ----

i=0
while [ "$(date +%s)" -lt $((t_short + 5)) ] && [ $i -lt 80 ]; do
	sleep 0.1
	i=$((i + 1))
done
tres short-late a bob "$KT/short.tkt"
if [ "$rc" -eq 1 ] && grep -q "validity" "$KT/short-late.err"; then
	ok "expired: imgatectl refuses the ticket itself (no KMS contact)"
else
	not_ok "expired: imgatectl refuses the ticket itself" "exit $rc" \
	    "$(cat "$KT/short-late.err")"
fi
run mk-exp "$KMS_MSG" resolve --id "$(uri bob)" --psk-file "$KT/bob.psk" \
    --ticket "$KT/short.tkt" --kms-id "$KMSID" --ago 60 --out "$KT/exp.msg"
check "kms_msg: RESOLVE_INIT for the expired ticket" "$rc" 0
post rexp a "$KT/exp.msg"
expect_http "expired: the KMS refuses with 403 expired ERR 1" 403 expired 1
tally a resolve expired

# ---- master key rotation ----

run rot "$CTL" kms key rotate --keys "$KT/kms-master.keys"
check "kms key rotate" "$rc" 0
kill -HUP "$pid_a" "$pid_b"
wait_metric a imgate_kms_master_key_version '' 2
check "A: after SIGHUP the current master key version is 2" "$?" 0
wait_metric b imgate_kms_master_key_version '' 2
check "B: after SIGHUP the current master key version is 2" "$?" 0
tres r1-rot a bob "$KT/t1.tkt"
expect_ok "rotation: a version-1 ticket still resolves at A" a resolve
tres r1-rot-b b bob "$KT/t1.tkt"
expect_ok "rotation: a version-1 ticket still resolves at B" b resolve
treq t2 a alice bob
expect_ok "rotation: a new request" a request
check "rotation: the new ticket is sealed under version 2" \
    "$(field t2 'Master key version')" 2
tres r2-b b bob "$KT/t2.tkt"
expect_ok "rotation: B resolves A's version-2 ticket" b resolve

# retire version 1; A notices the new file by itself (mtime), B gets HUP.
# Wait out the once-a-second check first, so that the count taken is not
# bumped later by the rotation's own change.
sleep 1.2
reloads_a=$(metric a imgate_kms_policy_reloads_total 'result="ok"')
reloads_b=$(metric b imgate_kms_policy_reloads_total 'result="ok"')
run ret "$CTL" kms key retire --keys "$KT/kms-master.keys" --version 1
check "kms key retire --version 1" "$rc" 0
wait_reload a "$reloads_a"
check "A reloads the changed key file by itself (mtime)" "$?" 0
kill -HUP "$pid_b"
wait_reload b "$reloads_b"
check "B reloads on SIGHUP" "$?" 0
tres r1-ret a bob "$KT/t1.tkt"
expect_refused "retired key version: the version-1 ticket is refused at A" \
    a resolve 14 key_version
tres r1-ret-b b bob "$KT/t1.tkt"
expect_refused "retired key version: refused at B" b resolve 14 key_version
tres r2-ret a bob "$KT/t2.tkt"
expect_ok "retired key version: the version-2 ticket still resolves" a \
    resolve

# ---- metrics ----

kms_http GET "$(base a)/metrics"
cp "$KT/http.body" "$KT/metrics-a.txt"
check "GET /metrics: 200" "$http_status" 200
bad=""
for ex in request resolve other; do
	for oc in ok bad_message auth unknown_id timestamp replay \
	    not_authorised expired key_version policy unsupported internal; do
		eval "want=\${cnt_a_${ex}_$oc:-0}"
		got=$(kms_metric "$KT/metrics-a.txt" \
		    imgate_kms_requests_total \
		    "exchange=\"$ex\",outcome=\"$oc\"")
		[ "$got" = "$want" ] || bad="$bad $ex/$oc:got=$got,want=$want"
	done
done
check "metrics: requests_total by exchange and outcome match this test" \
    "${bad:-none}" none
check "metrics: http_errors_total 404" "$(kms_metric "$KT/metrics-a.txt" \
    imgate_kms_http_errors_total 'status="404"')" "$h404"
check "metrics: http_errors_total 405" "$(kms_metric "$KT/metrics-a.txt" \
    imgate_kms_http_errors_total 'status="405"')" 1
check "metrics: http_errors_total 413" "$(kms_metric "$KT/metrics-a.txt" \
    imgate_kms_http_errors_total 'status="413"')" "$h413"
check "metrics: http_errors_total 415" "$(kms_metric "$KT/metrics-a.txt" \
    imgate_kms_http_errors_total 'status="415"')" 1
check "metrics: http_errors_total 400 (non-MIKEY bodies)" \
    "$(kms_metric "$KT/metrics-a.txt" imgate_kms_http_errors_total \
    'status="400"')" "$h400"
nreq=$(awk '/^imgate_kms_requests_total\{exchange="request"/ { s += $2 }
    END { print s + 0 }' "$KT/metrics-a.txt")
check "metrics: request_seconds_count agrees with requests_total" \
    "$(kms_metric "$KT/metrics-a.txt" imgate_kms_request_seconds_count \
    'exchange="request"')" "$nreq"
check "metrics: master key version gauge 2" \
    "$(kms_metric "$KT/metrics-a.txt" imgate_kms_master_key_version '')" 2

# ---- a broken key file: the old keys stay ----

cp "$KT/kms-master.keys" "$KT/keys.good"
errs=$(metric a imgate_kms_policy_reloads_total 'result="error"')
printf 'this is not a key file\n' >"$KT/keys.tmp"
chmod 600 "$KT/keys.tmp"
mv "$KT/keys.tmp" "$KT/kms-master.keys"
kill -HUP "$pid_a"
wait_metric a imgate_kms_policy_reloads_total 'result="error"' $((errs + 1))
check "broken key file: the reload fails and is counted" "$?" 0
tres r2-broken a bob "$KT/t2.tkt"
expect_ok "broken key file: A keeps its keys and still resolves" a resolve
cp "$KT/keys.good" "$KT/kms-master.keys"

# ---- stop ----

kms_stop a
check "SIGTERM: A exits with status 0" "$kms_status" 0
kms_stop b
check "SIGTERM: B exits with status 0" "$kms_status" 0
if grep -q "AddressSanitizer\|runtime error\|LeakSanitizer" "$KT/a.log" \
    "$KT/b.log"; then
	not_ok "no sanitizer report in the logs" \
	    "$(grep -h -A5 "Sanitizer\|runtime error" "$KT/a.log" "$KT/b.log" |
	    head -20)"
else
	ok "no sanitizer report in the logs"
fi

if [ $fail -ne 0 ]; then
	kms_dump_log a
	kms_dump_log b
fi
echo "1..$n"
[ $fail -eq 0 ]
