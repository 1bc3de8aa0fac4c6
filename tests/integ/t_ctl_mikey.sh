#!/bin/sh
# tests/integ/t_ctl_mikey.sh - imgatectl: mikey dump, demo, help and exit
# codes (TAP)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# Inputs: every $top_srcdir/tests/data/mikey/*.hex.  Each message is dumped
# from its hex file (format detected), as one-line base64 (made here with
# awk), as binary (openssl base64 -d) and as wrapped base64 (openssl
# base64), from a file and from standard input; all dumps must be the same.
# Then: key fields per message, --json is valid JSON (python3 -m json.tool
# when present, else a structural check in awk), truncated / oversized /
# garbage input fails with exit 1 and says where, usage errors exit 2, every
# command has --help, and "imgatectl demo" agrees on a TEK without ever
# printing key bytes.  The demo's messages are written to
# $top_builddir/tests/data/gen for t_tshark.sh and dumped back here.
#
# Environment: top_srcdir, top_builddir.  Needs only POSIX sh, awk, od;
# the openssl command (for base64/binary variants) is used when present.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
CTL=$top_builddir/tools/imgatectl
DATA=$top_srcdir/tests/data/mikey
GEN=$top_builddir/tests/data/gen

if [ ! -x "$CTL" ]; then
	echo "1..0 # SKIP $CTL is not built"
	exit 0
fi
OPENSSL=$(command -v openssl 2>/dev/null)
PYTHON=$(command -v python3 2>/dev/null)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t_ctl_mikey.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' 0
trap 'exit 130' 1 2 15

. "$top_srcdir/tests/tap.sh"

# run NAME ARGS...: imgatectl ARGS with stdout in $tmp/NAME.out, stderr in
# $tmp/NAME.err; the exit status in $rc (shell functions share variables:
# these use only _r and _in)
run() {
	_r=$1
	shift
	"$CTL" "$@" >"$tmp/$_r.out" 2>"$tmp/$_r.err"
	rc=$?
}
# runin NAME FILE ARGS...: the same with FILE on standard input
runin() {
	_r=$1 _in=$2
	shift 2
	"$CTL" "$@" <"$_in" >"$tmp/$_r.out" 2>"$tmp/$_r.err"
	rc=$?
}

# hex (one message, whitespace ignored) -> one line of base64 (RFC 4648)
hex_to_b64() {
	tr -d ' \t\r\n' <"$1" | awk '
	BEGIN {
		h = "0123456789abcdef"
		b = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	}
	{
		s = tolower($0); m = length(s) / 2; out = ""
		for (i = 0; i < m; i += 3) {
			v = 0; k = 0
			for (j = 0; j < 3; j++) {
				v *= 256
				if (i + j < m) {
					o = 2 * (i + j)
					v += (index(h, substr(s, o + 1, 1)) - 1) * 16 + index(h, substr(s, o + 2, 1)) - 1
					k++
				}
			}
			out = out substr(b, int(v / 262144) % 64 + 1, 1) substr(b, int(v / 4096) % 64 + 1, 1)
			out = out (k > 1 ? substr(b, int(v / 64) % 64 + 1, 1) : "=")
			out = out (k > 2 ? substr(b, v % 64 + 1, 1) : "=")
		}
		print out
	}'
}

# json_ok FILE: valid JSON?  python3 if present; else a structural check:
# strings closed, brackets balanced and matched, one top-level object.
json_ok() {
	if [ -n "$PYTHON" ]; then
		"$PYTHON" -m json.tool "$1" >/dev/null 2>&1
		return
	fi
	awk '
	BEGIN { depth = 0; instr = 0; bad = 0; top = 0 }
	{
		line = $0
		for (i = 1; i <= length(line); i++) {
			c = substr(line, i, 1)
			if (instr) {
				if (c == "\\") i++
				else if (c == "\"") instr = 0
				continue
			}
			if (c == "\"") instr = 1
			else if (c == "{" || c == "[") {
				if (depth == 0) top++
				st[++depth] = c
			} else if (c == "}" || c == "]") {
				if (depth == 0 || (c == "}" && st[depth] != "{") ||
				    (c == "]" && st[depth] != "[")) bad = 1
				depth--
			}
		}
		if (instr) bad = 1	# JSON strings never span lines
	}
	END { exit !(bad == 0 && depth == 0 && top == 1) }' "$1"
}

# ---------------------------------------------------------------- help

run help --help
if [ "$rc" = 0 ] && grep -q '^usage: imgatectl' "$tmp/help.out" &&
    grep -q 'mikey' "$tmp/help.out" && grep -q 'demo' "$tmp/help.out"; then
	ok "imgatectl --help lists the commands, exit 0"
else
	not_ok "imgatectl --help lists the commands, exit 0" "exit $rc"
fi
run h -h
check "imgatectl -h is --help" "$rc $(cmp -s "$tmp/h.out" "$tmp/help.out" &&
    echo same)" "0 same"
run ver --version
if [ "$rc" = 0 ] && grep -qE '^imgatectl \(imgate\) [0-9]' "$tmp/ver.out"; then
	ok "imgatectl --version: $(cat "$tmp/ver.out")"
else
	not_ok "imgatectl --version" "exit $rc" "$(cat "$tmp/ver.out")"
fi
for c in "mikey" "mikey dump" "demo" "help"; do
	# shellcheck disable=SC2086
	run chelp $c --help
	if [ "$rc" = 0 ] && grep -q "^usage: imgatectl $c" "$tmp/chelp.out"; then
		ok "imgatectl $c --help, exit 0"
	else
		not_ok "imgatectl $c --help, exit 0" "exit $rc" \
		    "$(head -3 "$tmp/chelp.out")"
	fi
done
run hm help mikey
check "imgatectl help mikey shows the mikey usage" \
    "$rc $(head -1 "$tmp/hm.out")" "0 usage: imgatectl mikey SUBCOMMAND [ARGS...]"

# ---------------------------------------------------------------- usage

usage_case() {	# DESCRIPTION ARGS...: exit 2, a message naming --help
	desc=$1
	shift
	run usage "$@"
	if [ "$rc" = 2 ] && grep -q -- '--help' "$tmp/usage.err"; then
		ok "$desc: exit 2, points at --help"
	else
		not_ok "$desc: exit 2, points at --help" "exit $rc" \
		    "$(cat "$tmp/usage.err")"
	fi
}
usage_case "no command"
usage_case "unknown command" frobnicate
usage_case "unknown global option" --frobnicate
usage_case "mikey without subcommand" mikey
usage_case "unknown mikey subcommand" mikey frobnicate
usage_case "mikey dump unknown option" mikey dump --frobnicate
usage_case "mikey dump two formats" mikey dump --hex --base64 "$DATA/transfer_init.hex"
usage_case "mikey dump two files" mikey dump "$DATA/transfer_init.hex" "$DATA/transfer_init.hex"
usage_case "demo with an argument" demo now
usage_case "demo --write-dir without DIR" demo --write-dir

# ---------------------------------------------------------------- dump

# Expected lines per message: NAME<TAB>fixed string in the text dump.
cat >"$tmp/expect" <<'EOF'
request_init_psk	Data type: REQUEST_INIT_PSK (11)
request_init_psk	CSB ID: 0x11111111
request_init_psk	CS ID map type: Empty map (1)
request_init_psk	Date: 2025-01-01T00:00:00Z
request_init_psk	RAND Role: Initiator (RANDRi) (1)
request_init_psk	ID data: "sip:alice@example.com"
request_init_psk	ID data: "sip:kms@example.com"
request_init_psk	ID data: "sip:bob@example.com"
request_init_psk	Flags set: D E F G H J N O
request_init_psk	I = 0: no key forking
request_init_psk	TP Data: offset 99, length 95
request_init_psk	TS Role: End of validity period (TRe) (3)
request_init_psk	Key data (20): offset 144, length 25
request_init_psk	Type: TGK (0)
request_init_psk	KV: SPI/MKI (1)
request_init_psk	Key data len: 16
request_init_psk	Key data: SHA-256 fingerprint
request_init_psk	Ver data: 0ea2461254d2c2124443ec3bcfdbb4d0d6d71114
request_init_psk	Decoded completely: 1
request_resp	Data type: REQUEST_RESP (13)
request_resp	TICKET payload (17): offset
request_resp	Ticket Type: MIKEY base ticket (1)
request_resp	THDR: offset
request_resp	Encr alg: AES-CM-128 (1)
request_resp	bytes, encrypted
request_resp	Initiator Data length: 0
transfer_init	Data type: TRANSFER_INIT (14)
transfer_init	CSB ID: 0x22222222
transfer_init	CS ID map type: GENERIC-ID (2)
transfer_init	Crypto session 1 (GENERIC-ID)
transfer_init	SSRC: 0xcafe0001
transfer_init	Policy param 1
transfer_init	Type: Encryption algorithm (0)
resolve_init_psk	Data type: RESOLVE_INIT_PSK (16)
resolve_init_psk	RAND Role: Responder (RANDRr) (2)
resolve_resp	Data type: RESOLVE_RESP (18)
resolve_resp	CSB ID: 0x33333333
transfer_resp	Data type: TRANSFER_RESP (15)
error_empty_map	Data type: Error (6)
error_empty_map	Error no: Invalid timestamp (1)
error_empty_map	Error no: Ticket Type not supported (14)
error_ticket	Error no: Unsupported message type (13)
error_ticket	Error no: TP parameters not supported (15)
rfc3830_psk	Data type: Pre-shared (0)
rfc3830_psk	CS ID map type: SRTP-ID (0)
rfc3830_psk	ID data: "donald@duck.com"
rfc3830_psk	Type: TEK+SALT (3)
rfc3830_psk	Salt data: SHA-256 fingerprint
request_init_pk	Data type: REQUEST_INIT_PK (12)
request_init_pk	URL: "http://example.com/alice.der"
request_init_pk	Rekeying interval (seconds): 3600
request_init_pk	Type: GTGK+SALT (5)
request_init_pk	Type: MPK (6)
request_init_pk	Hash func: SHA-256 (2)
request_init_pk	S type: RSA/PSS (1)
dh_init	Data type: D-H init (4)
dh_init	DH-Group: OAKLEY 1 (1)
dh_init	Type: SDP IDs (1)
dh_init	S type: ECCSI (2)
transfer_init_fork	Flags set: D E F G H I L M N O
transfer_init_fork	SEQ: 2
transfer_init_fork	ID Role: Pre-Shared Key (IDRpsk) (4)
transfer_init_fork	Initiator Data: offset 240, length 69
transfer_init_fork	Counter: 7
resolve_init_pk_t2	Ticket Type: 3GPP base ticket (2)
resolve_init_pk_t2	Not decoded: format of ticket type 2 is not known here
EOF

nfiles=0
for f in "$DATA"/*.hex; do
	[ -f "$f" ] || continue
	nfiles=$((nfiles + 1))
	name=$(basename "$f" .hex)

	# hex, format detected
	run "$name.hex" mikey dump "$f"
	if [ "$rc" = 0 ] && [ ! -s "$tmp/$name.hex.err" ] &&
	    grep -q '^MIKEY message$' "$tmp/$name.hex.out"; then
		ok "$name: hex dump, exit 0"
	else
		not_ok "$name: hex dump, exit 0" "exit $rc" \
		    "$(cat "$tmp/$name.hex.err")"
	fi

	# the same bytes in the other formats and from standard input
	hex_to_b64 "$f" >"$tmp/$name.b64"
	variants="b64 stdin forcehex"
	run "$name.b64" mikey dump "$tmp/$name.b64"
	runin "$name.stdin" "$f" mikey dump
	run "$name.forcehex" mikey dump --hex "$f"
	if [ -n "$OPENSSL" ]; then
		"$OPENSSL" base64 -d -A -in "$tmp/$name.b64" -out "$tmp/$name.bin"
		"$OPENSSL" base64 -in "$tmp/$name.bin" -out "$tmp/$name.b64w"
		run "$name.bin" mikey dump "$tmp/$name.bin"
		run "$name.forcebin" mikey dump --binary "$tmp/$name.bin"
		runin "$name.binstdin" "$tmp/$name.bin" mikey dump -
		run "$name.b64w" mikey dump "$tmp/$name.b64w"
		run "$name.forceb64" mikey dump --base64 "$tmp/$name.b64w"
		variants="$variants bin forcebin binstdin b64w forceb64"
	fi
	bad=
	for v in $variants; do
		cmp -s "$tmp/$name.hex.out" "$tmp/$name.$v.out" ||
			bad="$bad $v"
	done
	if [ -z "$bad" ]; then
		ok "$name: same dump from: $variants"
	else
		not_ok "$name: same dump from: $variants" "differ:$bad"
	fi

	# key fields
	nexp=0
	bad=
	while IFS='	' read -r ename want; do
		[ "$ename" = "$name" ] || continue
		nexp=$((nexp + 1))
		grep -qF -- "$want" "$tmp/$name.hex.out" || bad="$bad
missing: $want"
	done <"$tmp/expect"
	if [ "$nexp" -gt 0 ]; then
		if [ -z "$bad" ]; then
			ok "$name: $nexp expected fields in the dump"
		else
			not_ok "$name: $nexp expected fields in the dump" \
			    "${bad#?}"
		fi
	fi

	# JSON
	run "$name.json" mikey dump --json "$f"
	if [ "$rc" = 0 ] && json_ok "$tmp/$name.json.out" &&
	    grep -q '"complete": true' "$tmp/$name.json.out"; then
		ok "$name: --json is valid JSON${PYTHON:+ (python3)}"
	else
		not_ok "$name: --json is valid JSON" "exit $rc" \
		    "$(head -5 "$tmp/$name.json.out")"
	fi
done
if [ "$nfiles" -gt 0 ]; then
	ok "$nfiles test messages dumped"
else
	not_ok "test messages found" "none in $DATA"
fi

# every key shows as an 8-digit fingerprint, never as its bytes
cat "$tmp"/*.hex.out >"$tmp/all.out"
nk=$(grep -c -E '(Key|Salt) data: ' "$tmp/all.out")
leak=$(grep -E '(Key|Salt) data: ' "$tmp/all.out" |
    grep -v -E ': SHA-256 fingerprint [0-9a-f]{8} \([0-9]+ bytes, not shown\)$|: \(empty\)$')
if [ "$nk" -gt 0 ] && [ -z "$leak" ]; then
	ok "all $nk key/salt fields show only a fingerprint"
else
	not_ok "key/salt fields show only a fingerprint" "$nk found" "$leak"
fi

# ---------------------------------------------------------------- errors

# truncated: the last 5 bytes of REQUEST_RESP cut off
h=$(tr -d ' \t\r\n' <"$DATA/request_resp.hex")
printf '%s\n' "$h" | awk '{ print substr($0, 1, length($0) - 10) }' \
    >"$tmp/trunc.hex"
run trunc mikey dump "$tmp/trunc.hex"
if [ "$rc" = 1 ] &&
    grep -q 'cannot decode: input truncated: Ver data at offset 288 in V payload' \
    "$tmp/trunc.err" &&
    grep -q '^    Decode error: input truncated: Ver data at offset 288' \
    "$tmp/trunc.out" &&
    grep -q '^    KEMAC payload (1): offset 231' "$tmp/trunc.out"; then
	ok "truncated message: exit 1, payloads before the error shown, error names offset 288 and the field"
else
	not_ok "truncated message: exit 1, error names offset and field" \
	    "exit $rc" "$(cat "$tmp/trunc.err")" "$(tail -3 "$tmp/trunc.out")"
fi
run truncj mikey dump --json "$tmp/trunc.hex"
if [ "$rc" = 1 ] && json_ok "$tmp/truncj.out" &&
    grep -q '"error": "input truncated: Ver data at offset 288' "$tmp/truncj.out" &&
    grep -q '"complete": false' "$tmp/truncj.out"; then
	ok "truncated message --json: exit 1, valid JSON with the error"
else
	not_ok "truncated message --json: exit 1, valid JSON with the error" \
	    "exit $rc" "$(tail -4 "$tmp/truncj.out")"
fi
# a nested error: TP Data of REQUEST_INIT_PSK with a bad IDR role inside
# (byte 101 = the first IDR's ID Role in TP Data)
printf '%s\n' "$(tr -d ' \t\r\n' <"$DATA/request_init_psk.hex")" |
    awk '{ print substr($0, 1, 202) "09" substr($0, 205) }' >"$tmp/nest.hex"
run nest mikey dump "$tmp/nest.hex"
if [ "$rc" = 1 ] && grep -q 'ID Role at offset 101 in IDR payload' "$tmp/nest.err" &&
    grep -q '^        TP Data: offset 99' "$tmp/nest.out" &&
    grep -q '^            Decode error: ' "$tmp/nest.out"; then
	ok "error inside TP Data: exit 1, reported in the TP Data node at message offset 101"
else
	not_ok "error inside TP Data: exit 1, reported at message offset 101" \
	    "exit $rc" "$(cat "$tmp/nest.err")"
fi
# oversized: a binary message of 70000 bytes, hex text of 300 KiB
{ printf '\001'; dd if=/dev/zero bs=1000 count=70 2>/dev/null; } >"$tmp/big.bin"
run big mikey dump "$tmp/big.bin"
if [ "$rc" = 1 ] && grep -q 'at most 65535 bytes' "$tmp/big.err" &&
    [ ! -s "$tmp/big.out" ]; then
	ok "70001-byte message refused before decoding, exit 1"
else
	not_ok "70001-byte message refused, exit 1" "exit $rc" \
	    "$(cat "$tmp/big.err")"
fi
dd if=/dev/zero bs=1024 count=300 2>/dev/null | tr '\0' '0' >"$tmp/big.hex"
runin bighex "$tmp/big.hex" mikey dump
if [ "$rc" = 1 ] && grep -q 'input larger than' "$tmp/bighex.err"; then
	ok "300 KiB of input refused, exit 1"
else
	not_ok "300 KiB of input refused, exit 1" "exit $rc" \
	    "$(cat "$tmp/bighex.err")"
fi
# garbage
printf 'hello, world!\n' >"$tmp/garbage.txt"
run garbage mikey dump "$tmp/garbage.txt"
if [ "$rc" = 1 ] && grep -q 'not a MIKEY message' "$tmp/garbage.err" &&
    grep -q -- '--binary, --hex or --base64' "$tmp/garbage.err"; then
	ok "text that is neither hex nor base64 refused, exit 1, says what to do"
else
	not_ok "garbage text refused, exit 1" "exit $rc" "$(cat "$tmp/garbage.err")"
fi
printf '0102030' >"$tmp/odd.hex"
run odd mikey dump "$tmp/odd.hex"
check "odd number of hex digits: exit 1" \
    "$rc $(grep -c 'odd number of hex digits' "$tmp/odd.err")" "1 1"
printf 'AQ=x' >"$tmp/bad.b64"
run badb64 mikey dump --base64 "$tmp/bad.b64"
check "invalid base64: exit 1" \
    "$rc $(grep -c 'not valid base64' "$tmp/badb64.err")" "1 1"
printf '\001\377\377\377\377\377\377\377\377\377\377\377' >"$tmp/junk.bin"
run junk mikey dump "$tmp/junk.bin"
if [ "$rc" = 1 ] && grep -q 'data type at offset 1 in HDR' "$tmp/junk.err" &&
    grep -q 'Version: 1' "$tmp/junk.out" &&
    ! grep -q 'Data type:' "$tmp/junk.out"; then
	ok "binary junk after version 1: exit 1, HDR shown up to the bad data type"
else
	not_ok "binary junk: exit 1, HDR shown up to the bad field" "exit $rc" \
	    "$(cat "$tmp/junk.err")" "$(cat "$tmp/junk.out")"
fi
: >"$tmp/empty"
run empty mikey dump "$tmp/empty"
check "empty input: exit 1" "$rc $(grep -c 'empty input' "$tmp/empty.err")" "1 1"
run nofile mikey dump "$tmp/does-not-exist"
check "missing file: exit 1" "$rc $(grep -c 'cannot open' "$tmp/nofile.err")" "1 1"

# ---------------------------------------------------------------- demo

mkdir -p "$GEN"
run demo demo --write-dir "$GEN"
if [ "$rc" = 0 ] &&
    grep -q '^TEK agreed at both ends: yes (fingerprint [0-9a-f]\{8\})$' "$tmp/demo.out"; then
	ok "demo: exit 0, $(grep '^TEK agreed' "$tmp/demo.out")"
else
	not_ok "demo: exit 0 and TEK agreed" "exit $rc" \
	    "$(cat "$tmp/demo.err")" "$(tail -3 "$tmp/demo.out")"
fi
grep -q 'imgate-kms and the gateway are not implemented yet' "$tmp/demo.out" &&
    ok "demo: the header says what runs" ||
    not_ok "demo: the header says what runs"
got=$(grep -E '^\[[0-9]\] ' "$tmp/demo.out" | awk '{ print $2, $3, $4, $5 }' |
    tr '\n' ';')
check "demo: five messages in order" "$got" \
    "alice -> KMS REQUEST_INIT_PSK;KMS -> alice REQUEST_RESP;alice -> bob TRANSFER_INIT;bob -> KMS RESOLVE_INIT_PSK;KMS -> bob RESOLVE_RESP;"
check "demo: every message dumped completely" \
    "$(grep -c '^        Decoded completely: 1$' "$tmp/demo.out")" 5
grep -q 'Prot type: imgate CMS (private use) (241)' "$tmp/demo.out" &&
    grep -q 'Flags set: D E H J N O' "$tmp/demo.out" &&
    grep -q 'Master key version: 1' "$tmp/demo.out" &&
    ok "demo: one-way ticket, CS prot type 241, master key version 1" ||
    not_ok "demo: one-way ticket, CS prot type 241, master key version 1"
# No key bytes: every line naming a key or a TEK carries at most 8 hex
# digits in a row (fingerprints), whatever the label.
leak=$(grep -i -E 'key|tek|psk|salt' "$tmp/demo.out" | grep -E '[0-9a-fA-F]{9,}')
if [ -z "$leak" ]; then
	ok "demo: no line about a key carries more than 8 hex digits"
else
	not_ok "demo: no line about a key carries more than 8 hex digits" "$leak"
fi
nbin=0
bad=
for f in "$GEN"/0[1-5]_*.bin; do
	[ -f "$f" ] || continue
	nbin=$((nbin + 1))
	run genbin mikey dump --binary "$f"
	[ "$rc" = 0 ] || bad="$bad $(basename "$f")"
done
if [ "$nbin" = 5 ] && [ -z "$bad" ]; then
	ok "demo --write-dir: 5 messages in $GEN, each dumps with exit 0"
else
	not_ok "demo --write-dir: 5 messages that dump" "$nbin files, bad:$bad"
fi
run quiet demo --quiet
check "demo --quiet: 5 message lines, 2 TEK lines, the result; exit 0" \
    "$rc $(wc -l <"$tmp/quiet.out" | tr -d ' ')" "0 8"

echo "1..$n"
[ "$fail" -eq 0 ]
