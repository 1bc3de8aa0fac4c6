#!/bin/sh
# scripts/run-main.sh - run the main job on the embedded defaults
#
#   sh scripts/run-main.sh BUILDDIR
#
# Until the gateway lands (issue 5) the main job is imgate-kms, the Key
# Management Service, on the example configuration conf/kms.conf
# (127.0.0.1:8470, path /mikey).  First run: a run directory
# BUILDDIR/run/ gets the configuration, a fresh master key file and two
# demo users (alice, bob, random PSKs in BUILDDIR/run/*.psk, mode 0600).
# Once the KMS is up, one real exchange goes through it over HTTP (alice
# requests a ticket for bob and sends a TRANSFER_INIT, bob resolves it),
# then the KMS keeps serving in the foreground until Ctrl-C or SIGTERM.
set -eu

b=$(cd "${1:?usage: run-main.sh BUILDDIR}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
run=$b/run
ctl=$b/tools/imgatectl
kms=$b/kms/imgate-kms
umask 077
mkdir -p "$run"

if [ ! -f "$run/kms.conf" ]; then
	cp "$top/conf/kms.conf" "$run/kms.conf"
	cp "$top/conf/kms-users.conf" "$run/kms-users.conf"
	"$ctl" kms key init --keys "$run/kms-master.keys"
	for u in alice bob; do
		"$ctl" kms user add --users "$run/kms-users.conf" \
		    --id "sip:$u@corp.example" --generate --psk-out "$run/$u.psk"
	done
fi
"$kms" --check-config --config "$run/kms.conf"

"$kms" --config "$run/kms.conf" --pidfile "$run/kms.pid" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; exit 0' INT TERM

# wait (bounded) until the KMS answers, then show one exchange through it
url=http://127.0.0.1:8470/mikey
i=0
until "$ctl" ticket request --kms "$url" --id sip:alice@corp.example \
    --psk-file "$run/alice.psk" --to sip:bob@corp.example \
    --out "$run/alice.ticket" >"$run/demo.out" 2>&1; do
	i=$((i + 1))
	if [ "$i" -ge 50 ] || ! kill -0 "$pid" 2>/dev/null; then
		cat "$run/demo.out" >&2
		echo "run-main: imgate-kms did not answer on $url" >&2
		kill -TERM "$pid" 2>/dev/null || :
		exit 1
	fi
	sleep 0.2
done
echo "== alice asked the KMS for a ticket naming bob:"
cat "$run/demo.out"
echo "== alice built a TRANSFER_INIT with it:"
"$ctl" ticket transfer --in "$run/alice.ticket" --to sip:bob@corp.example \
    --out "$run/alice-to-bob.mikey"
echo "== bob resolved it at the KMS and verified it:"
"$ctl" ticket resolve --kms "$url" --id sip:bob@corp.example \
    --psk-file "$run/bob.psk" --in "$run/alice-to-bob.mikey"
echo "== imgate-kms keeps serving on $url (metrics: http://127.0.0.1:8470/metrics); Ctrl-C stops it"
wait "$pid"
