#!/bin/sh
# tests/integ/t_ctl_kms.sh - imgatectl kms user/key: the files of imgate-kms
# (TAP)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# The offline commands, against kms/FORMATS.md sections 3 and 4: what
# "kms user add|del|list" and "kms key init|rotate|retire|list" write
# (content, mode 0600 whatever the umask, no temporary files left), what
# they refuse (overwriting a key file, retiring the current key, a
# duplicate user, a bad PSK file, a file that is not valid, with its line
# number) and that no key or PSK bytes ever reach the output: every
# fingerprint printed is checked against sha256sum of the key bytes.
# Also --help for every command and the usage errors (exit 2), and the
# ticket commands' errors that need no KMS.  The online ticket commands
# are tested with a real imgate-kms by t_kms.sh.
#
# Environment: top_srcdir, top_builddir.  Needs POSIX sh, awk, sha256sum;
# python3 (JSON check) when present.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
CTL=$top_builddir/tools/imgatectl

if [ ! -x "$CTL" ]; then
	echo "1..0 # SKIP $CTL is not built"
	exit 0
fi
if ! command -v sha256sum >/dev/null 2>&1; then
	echo "1..0 # SKIP sha256sum is not installed"
	exit 0
fi
PYTHON=$(command -v python3 2>/dev/null)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t_ctl_kms.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' 0
trap 'exit 130' 1 2 15
W=$tmp/w		# the directory the commands write in
mkdir "$W"

. "$top_srcdir/tests/tap.sh"

# run NAME ARGS...: imgatectl ARGS, stdout in $tmp/NAME.out, stderr in
# $tmp/NAME.err, exit status in $rc; all output also collected in
# $tmp/all.txt for the no-key-bytes check at the end
run() {
	_r=$1
	shift
	"$CTL" "$@" >"$tmp/$_r.out" 2>"$tmp/$_r.err"
	rc=$?
	cat "$tmp/$_r.out" "$tmp/$_r.err" >>"$tmp/all.txt"
}
# expect NAME DESCRIPTION RC PATTERN: the last run exited RC and its
# stdout+stderr match the extended regex PATTERN (empty: anything)
expect() {
	if [ "$rc" = "$3" ] && { [ -z "$4" ] ||
	    cat "$tmp/$1.out" "$tmp/$1.err" | grep -qE -- "$4"; }; then
		ok "$2"
	else
		not_ok "$2" "exit $rc, want $3; want /$4/ in:" \
		    "$(cat "$tmp/$1.out" "$tmp/$1.err" | head -5)"
	fi
}

# mode FILE - the permission bits as ls shows them (-rw-------)
mode() {
	ls -ln "$1" 2>/dev/null | cut -c1-10
}
# fp HEX - the 8-hex SHA-256 fingerprint of the bytes HEX stands for
fp() {
	_oct=$(printf '%s' "$1" | awk '{
		h = "0123456789abcdef"
		s = tolower($0)
		for (i = 1; i < length(s); i += 2) {
			hi = index(h, substr(s, i, 1)) - 1
			lo = index(h, substr(s, i + 1, 1)) - 1
			printf "\\%03o", hi * 16 + lo
		}
	}')
	# shellcheck disable=SC2059
	printf "$_oct" | sha256sum | cut -c1-8
}
# json_ok FILE - valid JSON (python3), else skipped as valid
json_ok() {
	[ -z "$PYTHON" ] && return 0
	"$PYTHON" -m json.tool "$1" >/dev/null 2>&1
}
# no_temp - nothing but the named files in $W (no .NAME.XXXXXX left)
no_temp() {
	ls -A "$W" | grep '^\.' || true
}

U=$W/kms-users.conf
K=$W/kms-master.keys

# ---------------------------------------------------------------- help

for c in "kms" "kms user" "kms key" "kms user add" "kms user del" \
    "kms user list" "kms key init" "kms key rotate" "kms key retire" \
    "kms key list" "ticket" "ticket request" "ticket transfer" \
    "ticket resolve"; do
	# shellcheck disable=SC2086
	run help $c --help
	if [ "$rc" = 0 ] && grep -q "^usage: imgatectl $c" "$tmp/help.out"; then
		ok "imgatectl $c --help, exit 0"
	else
		not_ok "imgatectl $c --help, exit 0" "exit $rc" \
		    "$(head -3 "$tmp/help.out" "$tmp/help.err")"
	fi
done
# every option of a command is in its help
helpopts() {	# helpopts "COMMAND" OPTION...
	_c=$1
	shift
	# shellcheck disable=SC2086
	"$CTL" $_c --help >"$tmp/h.out" 2>&1
	_miss=
	for _o in "$@"; do
		grep -q -- "$_o" "$tmp/h.out" || _miss="$_miss $_o"
	done
	if [ -z "$_miss" ]; then
		ok "imgatectl $_c --help lists $*"
	else
		not_ok "imgatectl $_c --help lists every option" "missing:$_miss"
	fi
}
helpopts "kms user add" --users --id --psk-file --generate --psk-out \
    --act-for --lifetime --help
helpopts "kms user del" --users --id --help
helpopts "kms user list" --users --json --help
helpopts "kms key init" --keys --help
helpopts "kms key rotate" --keys --help
helpopts "kms key retire" --keys --version --help
helpopts "kms key list" --keys --json --help
helpopts "ticket request" --kms --id --psk-file --to --out --for --kms-id \
    --lifetime --suite --forking --timeout --ca-file --show-keys --json
helpopts "ticket transfer" --in --to --out --from --suite --show-keys --json
helpopts "ticket resolve" --kms --id --psk-file --in --kms-id --suite \
    --timeout --ca-file --show-keys --json
run hl help
if [ "$rc" = 0 ] && grep -qE '^  kms ' "$tmp/hl.out" &&
    grep -qE '^  ticket ' "$tmp/hl.out"; then
	ok "imgatectl help lists kms and ticket"
else
	not_ok "imgatectl help lists kms and ticket" "$(cat "$tmp/hl.out")"
fi

# ---------------------------------------------------------------- usage

usage_case() {	# DESCRIPTION ARGS...: exit 2, a message naming --help
	_d=$1
	shift
	run usage "$@"
	if [ "$rc" = 2 ] && grep -q -- '--help' "$tmp/usage.err"; then
		ok "$_d: exit 2, points at --help"
	else
		not_ok "$_d: exit 2, points at --help" "exit $rc" \
		    "$(cat "$tmp/usage.err")"
	fi
}
usage_case "kms without subcommand" kms
usage_case "kms frobnicate" kms frobnicate
usage_case "kms user without subcommand" kms user
usage_case "kms user add without --users" kms user add --id sip:a@x --generate --psk-out "$W/p"
usage_case "kms user add without a PSK source" kms user add --users "$U" --id sip:a@x
usage_case "kms user add with --psk-file and --generate" kms user add --users "$U" --id sip:a@x --psk-file "$W/p" --generate --psk-out "$W/q"
usage_case "kms user add --generate without --psk-out" kms user add --users "$U" --id sip:a@x --generate
usage_case "kms user add --id not a URI" kms user add --users "$U" --id alice --generate --psk-out "$W/p"
usage_case "kms user add --id with '*'" kms user add --users "$U" --id 'sip:*@x' --generate --psk-out "$W/p"
usage_case "kms user add --lifetime 0" kms user add --users "$U" --id sip:a@x --generate --psk-out "$W/p" --lifetime 0
usage_case "kms user add --lifetime 12x" kms user add --users "$U" --id sip:a@x --generate --psk-out "$W/p" --lifetime 12x
usage_case "kms user add --act-for with a space" kms user add --users "$U" --id sip:a@x --generate --psk-out "$W/p" --act-for 'sip:*@x; sip:b@x'
usage_case "kms user add unknown option" kms user add --frobnicate
usage_case "kms user add --users without value" kms user add --users
usage_case "kms user del without --id" kms user del --users "$U"
usage_case "kms user list with an argument" kms user list --users "$U" extra
usage_case "kms key init without --keys" kms key init
usage_case "kms key init --json" kms key init --keys "$K" --json
usage_case "kms key retire without --version" kms key retire --keys "$K"
usage_case "kms key retire --version x" kms key retire --keys "$K" --version x
usage_case "kms key retire --version 0" kms key retire --keys "$K" --version 0
usage_case "ticket without subcommand" ticket
usage_case "ticket request without --out" ticket request --kms http://127.0.0.1:1 --id sip:a@x --psk-file "$W/p" --to sip:b@x
usage_case "ticket request --suite 512" ticket request --kms http://127.0.0.1:1 --id sip:a@x --psk-file "$W/p" --to sip:b@x --out "$W/t" --suite 512
usage_case "ticket request --to with a bad URI" ticket request --kms http://127.0.0.1:1 --id sip:a@x --psk-file "$W/p" --to sip:b@x,bob --out "$W/t"
usage_case "ticket request --timeout 0" ticket request --kms http://127.0.0.1:1 --id sip:a@x --psk-file "$W/p" --to sip:b@x --out "$W/t" --timeout 0
usage_case "ticket transfer --kms (not its option)" ticket transfer --kms http://x --in "$W/t" --to sip:b@x --out "$W/m"
usage_case "ticket resolve without --in" ticket resolve --kms http://127.0.0.1:1 --id sip:a@x --psk-file "$W/p"
check "usage errors wrote no file" "$(ls -A "$W")" ""

# ---------------------------------------------------------------- users

umask 022
run add1 kms user add --users "$U" --id sip:alice@corp.example --generate \
    --psk-out "$W/alice.psk"
expect add1 "user add --generate: exit 0" 0 '^added user sip:alice@corp.example'
psk_a=$(tr -d '\n' <"$W/alice.psk")
check "generated PSK file: 64 hex digits and a newline" \
    "$(printf '%s' "$psk_a" | grep -cE '^[0-9a-f]{64}$') $(wc -c <"$W/alice.psk" | tr -d ' ')" "1 65"
check "PSK file and users file have mode 0600 (umask 022)" \
    "$(mode "$W/alice.psk") $(mode "$U")" "-rw------- -rw-------"
fpa=$(fp "$psk_a")
check "user add prints the PSK's SHA-256 fingerprint" \
    "$(grep -o 'fingerprint [0-9a-f]*' "$tmp/add1.out")" "fingerprint $fpa"
if grep -qx '\[user sip:alice@corp.example\]' "$U" &&
    grep -qx "psk=$psk_a" "$U"; then
	ok "users file: [user sip:alice@corp.example] with psk = the generated hex"
else
	not_ok "users file holds the user and its PSK" "$(cat "$U")"
fi

printf '  00112233445566778899aabbccddeeff\n00112233445566778899aabbccddeeff\n' \
    >"$W/bob.psk"
chmod 600 "$W/bob.psk"
psk_b=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
run add2 kms user add --users "$U" --id sip:bob@corp.example --psk-file \
    "$W/bob.psk" --act-for 'sip:*@dev.corp.example;sip:li@corp.example' \
    --lifetime 86400
expect add2 "user add --psk-file (hex over two lines) --act-for --lifetime: exit 0" 0 \
    "fingerprint $(fp "$psk_b")"
if grep -qx "psk=$psk_b" "$U" &&
    grep -qx 'act_for=sip:\*@dev.corp.example;sip:li@corp.example' "$U" &&
    grep -qx 'lifetime=86400' "$U"; then
	ok "users file: psk, act_for (';' separated) and lifetime of bob"
else
	not_ok "users file: psk, act_for and lifetime of bob" "$(cat "$U")"
fi

cp "$U" "$tmp/users.before"
run dup kms user add --users "$U" --id sip:bob@corp.example --generate \
    --psk-out "$W/bob2.psk"
expect dup "duplicate user refused: exit 1, says to delete first" 1 \
    'already exists.*user del'
check "duplicate user: users file unchanged, no PSK file written" \
    "$(cmp -s "$U" "$tmp/users.before" && echo same) $(ls "$W/bob2.psk" 2>/dev/null)" "same "
run dupcase kms user add --users "$U" --id sip:bob@CORP.Example --generate \
    --psk-out "$W/bob2.psk"
expect dupcase "duplicate user with the host in other case refused (hosts compare without case)" 1 \
    'already exists'
run exists kms user add --users "$U" --id sip:carol@corp.example --generate \
    --psk-out "$W/alice.psk"
expect exists "--psk-out over an existing file refused: exit 1" 1 'already exists'
check "--psk-out refused: PSK file and users file unchanged" \
    "$(tr -d '\n' <"$W/alice.psk") $(cmp -s "$U" "$tmp/users.before" &&
    echo same)" "$psk_a same"

# bad PSK files
printf 'not hex at all\n' >"$W/bad1.psk"
printf '00112233445566778899aabbccddee\n' >"$W/bad2.psk"	# 15 bytes
printf '0011223344556677889\n' >"$W/bad3.psk"	# odd
: >"$W/bad4.psk"
chmod 600 "$W"/bad*.psk
run bp1 kms user add --users "$U" --id sip:carol@corp.example --psk-file "$W/bad1.psk"
expect bp1 "PSK file with non-hex text refused: exit 1" 1 'not a hex digit'
run bp2 kms user add --users "$U" --id sip:carol@corp.example --psk-file "$W/bad2.psk"
expect bp2 "15-byte PSK refused: exit 1, says 16 to 64 bytes" 1 '16 to 64 bytes'
run bp3 kms user add --users "$U" --id sip:carol@corp.example --psk-file "$W/bad3.psk"
expect bp3 "odd number of hex digits refused: exit 1" 1 'hex digits'
run bp4 kms user add --users "$U" --id sip:carol@corp.example --psk-file "$W/bad4.psk"
expect bp4 "empty PSK file refused: exit 1" 1 'holds 0 hex digits'
run bp5 kms user add --users "$U" --id sip:carol@corp.example --psk-file "$W/nonexistent.psk"
expect bp5 "missing PSK file refused: exit 1, says how to make one" 1 'cannot open.*--psk-out'
check "bad PSK files: users file unchanged" \
    "$(cmp -s "$U" "$tmp/users.before" && echo same)" "same"
chmod 644 "$W/bob.psk"
run bpw kms user add --users "$U" --id sip:carol@corp.example --psk-file "$W/bob.psk"
expect bpw "a PSK file others can read: added, with a chmod 600 warning" 0 'warning: .*chmod 600'
run del0 kms user del --users "$U" --id sip:carol@corp.example
expect del0 "user del: exit 0" 0 '^removed user sip:carol@corp.example'

run list kms user list --users "$U"
expect list "user list: exit 0" 0 'Users file .*: 2 users'
if grep -q 'User sip:alice@corp.example' "$tmp/list.out" &&
    grep -q "PSK: 32 bytes, SHA-256 fingerprint $fpa" "$tmp/list.out" &&
    grep -q "PSK: 32 bytes, SHA-256 fingerprint $(fp "$psk_b")" "$tmp/list.out" &&
    grep -q 'Acts for: "sip:\*@dev.corp.example;sip:li@corp.example"' "$tmp/list.out" &&
    grep -q 'Ticket lifetime (s): 86400' "$tmp/list.out"; then
	ok "user list: ids, PSK lengths and fingerprints, act_for, lifetime"
else
	not_ok "user list: ids, PSK fingerprints, act_for, lifetime" "$(cat "$tmp/list.out")"
fi
run listj kms user list --users "$U" --json
if [ "$rc" = 0 ] && json_ok "$tmp/listj.out" &&
    grep -q "\"psk_fingerprint\": \"$fpa\"" "$tmp/listj.out" &&
    grep -q '"lifetime": 86400' "$tmp/listj.out"; then
	ok "user list --json: valid JSON${PYTHON:+ (python3)} with fingerprints"
else
	not_ok "user list --json" "exit $rc" "$(head -12 "$tmp/listj.out")"
fi

run del1 kms user del --users "$U" --id sip:alice@corp.example
expect del1 "user del alice: exit 0" 0 'removed user'
run list2 kms user list --users "$U"
check "after del: one user left, bob" \
    "$(grep -c '^    User ' "$tmp/list2.out") $(grep -c 'alice' "$U")" "1 0"
check "after del: users file still mode 0600" "$(mode "$U")" "-rw-------"
run del2 kms user del --users "$U" --id sip:alice@corp.example
expect del2 "user del of an unknown user: exit 1, points at list" 1 'no user .*user list'
run del3 kms user del --users "$W/none.conf" --id sip:alice@corp.example
expect del3 "user del on a missing file: exit 1" 1 'cannot open'
run list3 kms user list --users "$W/none.conf"
expect list3 "user list on a missing file: exit 1" 1 'cannot open'

# an edited file: comments kept, a readable mode fixed (with a warning)
{
	echo "# our users"
	echo "[user sip:dave@corp.example]"
	echo "# dave's phone"
	echo "psk = $psk_b"
} >"$W/edited.conf"
chmod 644 "$W/edited.conf"
run ed kms user add --users "$W/edited.conf" --id sip:erin@corp.example \
    --psk-file "$W/bad2.psk"
expect ed "a bad PSK file on an edited users file: exit 1" 1 ''
chmod 600 "$W/bob.psk"
run ed kms user add --users "$W/edited.conf" --id sip:erin@corp.example \
    --psk-file "$W/bob.psk"
expect ed "user add to a hand-written file (mode 0644): exit 0, warns" 0 'warning: .*chmod 600'
if grep -qx '# our users' "$W/edited.conf" &&
    grep -qx "# dave's phone" "$W/edited.conf" &&
    grep -q '^\[user sip:erin@corp.example\]' "$W/edited.conf" &&
    [ "$(mode "$W/edited.conf")" = "-rw-------" ]; then
	ok "hand-written users file: comments kept, user added, now mode 0600"
else
	not_ok "hand-written users file: comments kept, mode 0600" \
	    "$(mode "$W/edited.conf")" "$(cat "$W/edited.conf")"
fi

# validation with line numbers
badusers() {	# DESCRIPTION PATTERN (content already in $W/bad.conf; no
		# pipe into this function: a subshell would lose the count)
	chmod 600 "$W/bad.conf"
	cp "$W/bad.conf" "$tmp/bad.before"
	run bu kms user add --users "$W/bad.conf" --id sip:zed@corp.example \
	    --psk-file "$W/bob.psk"
	if [ "$rc" = 1 ] && grep -qE -- "$2" "$tmp/bu.err" &&
	    cmp -s "$W/bad.conf" "$tmp/bad.before"; then
		ok "invalid users file ($1): exit 1, file unchanged, '$(head -1 "$tmp/bu.err" | sed 's/.*bad.conf//')'"
	else
		not_ok "invalid users file ($1): exit 1 and /$2/" "exit $rc" \
		    "$(cat "$tmp/bu.err")"
	fi
}
printf '[user sip:a@x]\npsk = %s\n\n[user sip:b@x]\npsk = 0011zz\n' "$psk_b" >"$W/bad.conf"
badusers "PSK not hex" 'bad.conf:5: the psk of user sip:b@x'
printf '[user sip:a@x]\npsk = %s\n[user sip:a@X]\npsk = %s\n' "$psk_b" "$psk_b" >"$W/bad.conf"
badusers "user twice" 'bad.conf:3: user sip:a@X is defined twice \(first at line 1\)'
printf '[user sip:a@x]\npsk = %s\ncolour = blue\n' "$psk_b" >"$W/bad.conf"
badusers "unknown key" 'bad.conf:3: unknown key .colour.'
printf '# c\n[user sip:a@x]\nlifetime = 60\n' >"$W/bad.conf"
badusers "no psk" 'bad.conf:2: user sip:a@x has no psk'
printf '[user sip:a@x]\npsk = %s\nlifetime = -1\n' "$psk_b" >"$W/bad.conf"
badusers "lifetime not a number" 'bad.conf:3: the lifetime'
printf '[user sip:a@x]\npsk = %s\nact_for = sip:*@x;;sip:b@x\n' "$psk_b" >"$W/bad.conf"
badusers "empty act_for pattern" 'bad.conf:3: act_for of user sip:a@x'
printf '[kms]\nid = sip:kms@x\n' >"$W/bad.conf"
badusers "a kms.conf given as users file" 'bad.conf:1: unknown group \[kms\]'
printf 'psk = %s\n' "$psk_b" >"$W/bad.conf"
badusers "key before any group" 'bad.conf:1: .psk. comes before any'
printf '[user sip:a@x]\nthis is not a key\n' >"$W/bad.conf"
badusers "garbage line" 'bad.conf:2: not a \[group\]'

# ---------------------------------------------------------------- keys

umask 000
run ki kms key init --keys "$K"
expect ki "key init: exit 0, version 1 current" 0 'version 1 \(current\)'
umask 022
check "key file mode 0600 (even with umask 000)" "$(mode "$K")" "-rw-------"
check "key file: the header comment and one line '1 current CREATED KEY'" \
    "$(sed -n 1p "$K")|$(grep -cE '^1 current [0-9]+ [0-9a-f]{64}$' "$K")|$(wc -l <"$K" | tr -d ' ')" \
    "# imgate-kms master keys: version state created key|1|2"
key1=$(awk '$1 == 1 { print $4 }' "$K")
created=$(awk '$1 == 1 { print $3 }' "$K")
now=$(date +%s)
if [ $((now - created)) -ge 0 ] && [ $((now - created)) -lt 60 ]; then
	ok "key init: created is now ($created)"
else
	not_ok "key init: created is now" "created $created, now $now"
fi
check "key init prints the key's fingerprint" \
    "$(grep -o 'fingerprint [0-9a-f]*' "$tmp/ki.out")" "fingerprint $(fp "$key1")"

cp "$K" "$tmp/keys.before"
run ki2 kms key init --keys "$K"
expect ki2 "key init over an existing file refused: exit 1, points at rotate" 1 \
    'already exists.*key rotate'
check "refused key init: key file unchanged" \
    "$(cmp -s "$K" "$tmp/keys.before" && echo same)" "same"

run kr kms key rotate --keys "$K"
expect kr "key rotate: exit 0, version 2 current, 1 active" 0 \
    'version 2 is current.*version 1 is now active'
check "after rotate: 1 active (same key), 2 current (new key)" \
    "$(awk '$1 == 1 { print $2, $4 }' "$K" | sed "s/$key1/KEY1/")|$(awk '$1 == 2 { print $2 }' "$K")|$(awk '$1 == 2 && $4 != k { print "new" }' k="$key1" "$K")" \
    "active KEY1|current|new"
run kr2 kms key rotate --keys "$K"
expect kr2 "second rotate: exit 0, version 3 current" 0 'version 3 is current.*version 2 is now active'
check "after two rotations: states 1 active, 2 active, 3 current; mode 0600" \
    "$(awk '!/^#/ { printf "%s %s;", $1, $2 }' "$K") $(mode "$K")" \
    "1 active;2 active;3 current; -rw-------"

cp "$K" "$tmp/keys.before"
run kt1 kms key retire --keys "$K" --version 3
expect kt1 "retiring the current version refused: exit 1, says rotate first" 1 \
    'current master key and cannot be retired.*rotate'
check "refused retire: key file unchanged" \
    "$(cmp -s "$K" "$tmp/keys.before" && echo same)" "same"
run kt2 kms key retire --keys "$K" --version 9
expect kt2 "retiring an unknown version: exit 1" 1 'has no version 9'
run kt3 kms key retire --keys "$K" --version 1
expect kt3 "key retire 1: exit 0" 0 'version 1 retired'
check "after retire: 1 retired, 2 active, 3 current; keys unchanged" \
    "$(awk '!/^#/ { printf "%s %s;", $1, $2 }' "$K") $(awk '$1 == 1 { print $4 }' "$K" | sed "s/$key1/KEY1/")" \
    "1 retired;2 active;3 current; KEY1"
cp "$K" "$tmp/keys.before"
run kt4 kms key retire --keys "$K" --version 1
expect kt4 "retiring a retired version again: exit 0, nothing changed" 0 'already retired'
check "retire again: key file unchanged" \
    "$(cmp -s "$K" "$tmp/keys.before" && echo same)" "same"

run kl kms key list --keys "$K"
bad=
for v in 1 2 3; do
	kh=$(awk -v v=$v '$1 == v { print $4 }' "$K")
	st=$(awk -v v=$v '$1 == v { print $2 }' "$K")
	cr=$(awk -v v=$v '$1 == v { print $3 }' "$K")
	d=$(date -u -d "@$cr" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
	grep -qE "^$v +$st +$d +$(fp "$kh")\$" "$tmp/kl.out" || bad="$bad $v"
done
if [ "$rc" = 0 ] && [ -z "$bad" ] && grep -q '^VERSION  *STATE  *CREATED  *FINGERPRINT$' "$tmp/kl.out"; then
	ok "key list: version, state, created date (UTC) and fingerprint of each key"
else
	not_ok "key list: version, state, date, fingerprint" "exit $rc, bad:$bad" \
	    "$(cat "$tmp/kl.out")"
fi
run klj kms key list --keys "$K" --json
if [ "$rc" = 0 ] && json_ok "$tmp/klj.out" && grep -q '"current": 3' "$tmp/klj.out" &&
    grep -q "\"fingerprint\": \"$(fp "$key1")\"" "$tmp/klj.out"; then
	ok "key list --json: valid JSON${PYTHON:+ (python3)}, current 3, fingerprints"
else
	not_ok "key list --json" "exit $rc" "$(head -12 "$tmp/klj.out")"
fi
# a replaced file keeps its owner (root editing a daemon user's files)
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	cp "$K" "$W/owned.keys"
	chown nobody "$W/owned.keys"
	run own kms key rotate --keys "$W/owned.keys"
	check "root rotating a key file owned by nobody: it stays nobody's, mode 0600" \
	    "$rc $(ls -l "$W/owned.keys" | awk '{ print $1, $3 }')" "0 -rw------- nobody"
	rm -f "$W/owned.keys"
else
	ok "# SKIP owner kept on replace (needs root and user nobody)"
fi
run kln kms key list --keys "$W/none.keys"
expect kln "key list on a missing file: exit 1" 1 'cannot open'
run krn kms key rotate --keys "$W/none.keys"
expect krn "key rotate on a missing file: exit 1" 1 'cannot open'

# validation with line numbers
H=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
badkeys() {	# DESCRIPTION PATTERN (content already in $W/bad.keys)
	chmod 600 "$W/bad.keys"
	cp "$W/bad.keys" "$tmp/bad.before"
	run bk kms key rotate --keys "$W/bad.keys"
	if [ "$rc" = 1 ] && grep -qE -- "$2" "$tmp/bk.err" &&
	    cmp -s "$W/bad.keys" "$tmp/bad.before"; then
		ok "invalid key file ($1): rotate exits 1, file unchanged, '$(head -1 "$tmp/bk.err" | sed 's/.*bad.keys//')'"
	else
		not_ok "invalid key file ($1): exit 1 and /$2/" "exit $rc" \
		    "$(cat "$tmp/bk.err")"
	fi
}
printf '1 current 5 %s\n2 current 6 %s\n' $H $H >"$W/bad.keys"
badkeys "two current" 'bad.keys:2: version 2 is current, but so is version 1 \(line 1\)'
printf '# k\n2 active 5 %s\n1 current 6 %s\n' $H $H >"$W/bad.keys"
badkeys "versions not increasing" 'bad.keys:3: version 1 does not increase'
printf '1 active 5 %s\n' $H >"$W/bad.keys"
badkeys "no current" 'no current version'
printf '1 current 5 %s00\n' $H >"$W/bad.keys"
badkeys "key of 33 bytes" 'bad.keys:1: the key of version 1 must be 64 hex digits'
printf '1 current 5 %s\n2 old 5 %s\n' $H $H >"$W/bad.keys"
badkeys "unknown state" "bad.keys:2: state 'old'"
printf '1 current %s\n' $H >"$W/bad.keys"
badkeys "three fields" 'bad.keys:1: want .VERSION STATE CREATED KEY.'
printf '0 current 5 %s\n' $H >"$W/bad.keys"
badkeys "version 0" "bad.keys:1: version '0'"
printf '# nothing\n' >"$W/bad.keys"
badkeys "no key at all" 'holds no master key'
printf '1 current 5 %s\n' $H | tr '5' 'x' >"$W/bad.keys"
badkeys "created not a number" 'bad.keys:1: created'
printf '4294967295 current 5 %s\n' $H >"$W/bad.keys"
badkeys "version 2^32-1: no next version" 'last one possible'

check "no temporary files left behind" "$(no_temp)" ""

# ---------------------------------------------------------------- ticket
# (the errors that need no KMS; the exchanges are in t_kms.sh)

run tq ticket request --kms http://127.0.0.1:1/mikey --id sip:bob@corp.example \
    --psk-file "$W/bob.psk" --to sip:alice@corp.example --out "$W/t.tkt"
expect tq "ticket request to a closed port: exit 1, connection refused" 1 \
    'cannot connect \(connection refused\)'
run tq2 ticket request --kms http://127.0.0.1:1/mikey --id sip:bob@corp.example \
    --psk-file "$W/bad1.psk" --to sip:alice@corp.example --out "$W/t.tkt"
expect tq2 "ticket request with a bad PSK file: exit 1 before any network" 1 'not a hex digit'
run tq3 ticket request --kms gopher://127.0.0.1:1/ --id sip:bob@corp.example \
    --psk-file "$W/bob.psk" --to sip:alice@corp.example --out "$W/t.tkt"
expect tq3 "ticket request with an unsupported URL scheme: exit 1" 1 "scheme 'gopher' not supported"
check "failed requests wrote no ticket file" "$(ls "$W/t.tkt" 2>/dev/null)" ""
printf 'IMGATE-TICKET 1\nkms http://127.0.0.1:1/mikey\nticket 00zz\n' >"$W/bad.tkt"
run tt ticket transfer --in "$W/bad.tkt" --to sip:alice@corp.example --out "$W/m.bin"
expect tt "ticket transfer of a damaged ticket file: exit 1, names the line" 1 'bad.tkt:3:'
printf 'hello\n' >"$W/hello.txt"
run tr1 ticket resolve --kms http://127.0.0.1:1/mikey --id sip:bob@corp.example \
    --psk-file "$W/bob.psk" --in "$W/hello.txt"
expect tr1 "ticket resolve of neither a TRANSFER_INIT nor a ticket file: exit 1" 1 \
    'neither a TRANSFER_INIT'

# ---------------------------------------------------------------- secrets

# No PSK or master key bytes in anything printed: the hex of every key
# written during the test, and any 16+ hex digits on a line about keys.
leak=
for h in "$psk_a" "$psk_b" $(awk '!/^#/ { print $4 }' "$K"); do
	grep -qi -- "$h" "$tmp/all.txt" && leak="$leak ${h%????????????????????????????????????????????????????????}..."
done
long=$(grep -iE 'key|psk' "$tmp/all.txt" | grep -E '[0-9a-fA-F]{16,}')
if [ -z "$leak" ] && [ -z "$long" ]; then
	ok "no PSK or master key bytes in any output ($(wc -l <"$tmp/all.txt" | tr -d ' ') lines checked)"
else
	not_ok "no key bytes in any output" "leaked:$leak" "$long"
fi

echo "1..$n"
[ "$fail" -eq 0 ]
