#!/bin/sh
# scripts/run-main.sh - run the main job on the embedded defaults
#
#   sh scripts/run-main.sh BUILDDIR
#
# The main job (design.md 1.1): imgate-kms on conf/kms.conf
# (http://127.0.0.1:8470/mikey) and the imgate gateway on conf/imgate.conf
# for the domain corp.example (SIP on 127.0.0.1:5060 UDP and TCP, admin
# and metrics on http://127.0.0.1:8480/metrics, inside next hop
# udp:127.0.0.1:5070, outside next hop tcp:127.0.0.1:5062).
#
# So that one protected message can be seen end to end on one machine,
# the outside next hop is a second gateway for partner.example (the same
# configuration with the domain, identity and ports changed, in
# BUILDDIR/run/partner.conf; SIP on 127.0.0.1:5062, inside
# udp:127.0.0.1:5072) and bob@partner.example is a sipp UAS on 5072.
#
# First run: BUILDDIR/run/ gets both configurations, a fresh master key
# file, the two gateways as KMS users (each may act for its own domain)
# with random PSKs (BUILDDIR/run/*.psk, mode 0600).  Then alice@corp.example
# sends one MESSAGE to bob@partner.example through corp's gateway (sipp
# UAC): corp wraps it, partner unwraps it, bob's UAS shows what it got.
# Everything keeps serving in the foreground until Ctrl-C or SIGTERM;
# send your own MESSAGEs to 127.0.0.1:5060.
set -eu

b=$(cd "${1:?usage: run-main.sh BUILDDIR}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
run=$b/run
ctl=$b/tools/imgatectl
kms=$b/kms/imgate-kms
gw=$b/gateway/imgate
umask 077
mkdir -p "$run"

if [ ! -f "$run/kms-master.keys" ]; then
	cp "$top/conf/kms.conf" "$run/kms.conf"
	cp "$top/conf/kms-users.conf" "$run/kms-users.conf"
	"$ctl" kms key init --keys "$run/kms-master.keys"
	"$ctl" kms user add --users "$run/kms-users.conf" \
	    --id sip:gw@corp.example --act-for 'sip:*@corp.example' \
	    --generate --psk-out "$run/gw.psk"
	"$ctl" kms user add --users "$run/kms-users.conf" \
	    --id sip:gw@partner.example --act-for 'sip:*@partner.example' \
	    --generate --psk-out "$run/partner.psk"
fi
cp "$top/conf/imgate.conf" "$run/imgate.conf"
sed -e 's/corp\.example/partner.example/g' \
    -e 's/^psk_file = .*/psk_file = partner.psk/' \
    -e 's/^state_dir = .*/state_dir = partner-state/' \
    -e 's/127\.0\.0\.1:5060/127.0.0.1:5062/g' \
    -e 's/^listen = 127\.0\.0\.1:8480/listen = 127.0.0.1:8482/' \
    -e 's/^inside = .*/inside = udp:127.0.0.1:5072/' \
    -e 's/^outside = .*/outside = tcp:127.0.0.1:5060/' \
    "$top/conf/imgate.conf" >"$run/partner.conf"
"$kms" --check-config --config "$run/kms.conf"
"$gw" --check-config --config "$run/imgate.conf"
"$gw" --check-config --config "$run/partner.conf"

pids=""
stop() {
	for p in $pids; do
		kill -TERM "$p" 2>/dev/null || :
	done
	for p in $pids; do
		wait "$p" 2>/dev/null || :
	done
}
trap 'stop; exit 0' INT TERM
trap 'stop' EXIT

# wait_http URL - until it answers (bounded: 10 s)
wait_http() {
	i=0
	until curl -s -o /dev/null -f --max-time 1 "$1"; do
		i=$((i + 1))
		if [ "$i" -ge 50 ]; then
			echo "run-main: nothing answers on $1" >&2
			exit 1
		fi
		sleep 0.2
	done
}

"$kms" --config "$run/kms.conf" --pidfile "$run/kms.pid" \
    2>"$run/kms.log" &
pids="$pids $!"
wait_http http://127.0.0.1:8470/health
"$gw" --config "$run/imgate.conf" --pidfile "$run/imgate.pid" \
    2>"$run/imgate.log" &
pids="$pids $!"
"$gw" --config "$run/partner.conf" --pidfile "$run/partner.pid" \
    2>"$run/partner.log" &
pids="$pids $!"
wait_http http://127.0.0.1:8480/health
wait_http http://127.0.0.1:8482/health

# bob@partner.example: a sipp UAS that answers 200 and logs what it got
rm -f "$run/bob.msg"
sipp -sf "$top/tests/integ/sipp/uas_message.xml" -t u1 -i 127.0.0.1 \
    -p 5072 -d 1000 -nostdin -trace_msg -message_file "$run/bob.msg" \
    >"$run/bob.out" 2>&1 &
pids="$pids $!"
sleep 0.5

printf 'SEQUENTIAL\nalice@corp.example;bob@partner.example;%s\n' \
    "Hello bob, this text is protected end to end." >"$run/alice.csv"
echo "== alice@corp.example -> imgate (corp, 127.0.0.1:5060) -> imgate" \
    "(partner, 127.0.0.1:5062) -> bob@partner.example (sipp UAS, 5072)"
if timeout 30 sipp -sf "$top/tests/integ/sipp/uac_message.xml" -t u1 \
    -i 127.0.0.1 -p 5074 -inf "$run/alice.csv" -m 1 -nostdin \
    -key ctype 'text/plain;charset=utf-8' 127.0.0.1:5060 \
    >"$run/alice.out" 2>&1; then
	echo "== alice got 200; the MESSAGE bob's UAS received:"
	awk '/^MESSAGE /{p=1} p{print} /protected end to end/{exit}' \
	    "$run/bob.msg" | head -24
else
	echo "run-main: the MESSAGE did not get through; logs in $run" >&2
	tail -5 "$run/imgate.log" "$run/partner.log" >&2
	exit 1
fi
echo "== between the gateways it was multipart/mixed (application/mikey +"
echo "   application/pkcs7-mime); metrics: curl http://127.0.0.1:8480/metrics"
echo "== imgate-kms (8470), imgate corp (5060, admin 8480) and partner (5062,"
echo "   admin 8482) keep running; logs in $run/*.log; Ctrl-C stops them"
wait
