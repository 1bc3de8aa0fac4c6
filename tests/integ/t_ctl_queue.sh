#!/bin/sh
# tests/integ/t_ctl_queue.sh - imgatectl queue list|show|flush|purge|stats
# (TAP)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# tests/unit/queue/queue_fill stores a fixed set in a throwaway store (a
# multipart request with binary parts for bob, two more for bob - one
# deferred to 2100 -, one for dan, a quarantined one for eve, a replay
# state).  Then every subcommand: the listing and its delivery order, the
# quarantined row with its reason, JSON, show with header lines only (no
# body, control characters escaped), show --raw byte for byte, flush,
# damage found by show and quarantined, purge by ID / --quarantined /
# --all, stats and --check; --help everywhere, usage errors (exit 2), a
# missing store (exit 1, not created), a store of a newer schema version.
#
# Environment: top_srcdir, top_builddir.  Needs POSIX sh, grep, wc, od;
# python3 (JSON check) and sqlite3 (schema version) when present.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
CTL=$top_builddir/tools/imgatectl
FILL=$top_builddir/tests/unit/queue/queue_fill

if [ ! -x "$CTL" ] || [ ! -x "$FILL" ]; then
	echo "1..0 # SKIP imgatectl or queue_fill is not built"
	exit 0
fi
PYTHON=$(command -v python3 2>/dev/null)
SQLITE3=$(command -v sqlite3 2>/dev/null)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t_ctl_queue.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' 0
trap 'exit 130' 1 2 15

. "$top_srcdir/tests/tap.sh"

DB=$tmp/queue.db

# run NAME ARGS...: imgatectl ARGS, stdout in $tmp/NAME.out, stderr in
# $tmp/NAME.err, exit status in $rc
run() {
	_r=$1
	shift
	"$CTL" "$@" >"$tmp/$_r.out" 2>"$tmp/$_r.err"
	rc=$?
}
# expect NAME DESCRIPTION RC PATTERN: the last run exited RC and its
# stdout+stderr match the extended regex PATTERN (empty: anything)
expect() {
	if [ "$rc" = "$3" ] && { [ -z "$4" ] ||
	    cat "$tmp/$1.out" "$tmp/$1.err" | grep -qE -- "$4"; }; then
		ok "$2"
	else
		not_ok "$2" "exit $rc, want $3; want /$4/ in:" \
		    "$(cat "$tmp/$1.out" "$tmp/$1.err" | head -8)"
	fi
}
# ids NAME: the id queue_fill printed for NAME
id() {
	awk -v n="$1" '$1 == n { print $2 }' "$tmp/ids"
}

# ---------------------------------------------------------------- help

for c in "queue" "queue list" "queue show" "queue flush" "queue purge" \
    "queue stats"; do
	# shellcheck disable=SC2086
	run help $c --help
	expect help "imgatectl $c --help, exit 0" 0 "^usage: imgatectl $c"
done
run help help queue
expect help "imgatectl help queue" 0 "list .*delivery order"
run help --help
expect help "queue is in the command list" 0 "^  queue "

# ---------------------------------------------------------------- errors

run err queue
expect err "no subcommand: exit 2" 2 "a subcommand is needed"
run err queue frob
expect err "unknown subcommand: exit 2" 2 "unknown subcommand 'frob'"
run err queue list --frob
expect err "unknown option: exit 2" 2 "unknown option '--frob'"
run err queue list --db
expect err "option without value: exit 2" 2 "needs a value"
run err queue list --db "$DB"
expect err "missing store: exit 1, says so" 1 "does not exist"
if [ -e "$DB" ]; then
	not_ok "... and it is not created"
else
	ok "... and it is not created"
fi
run err queue show --db "$DB"
expect err "show without ID: exit 2" 2 "exactly one message ID"
run err queue show --db "$DB" 12x
expect err "show with a bad ID: exit 2" 2 "not a message ID"
run err queue purge --db "$DB"
expect err "purge without what: exit 2" 2 "exactly one of"
run err queue purge --db "$DB" --all 3
expect err "purge with ID and --all: exit 2" 2 "exactly one of"

# ---------------------------------------------------------------- fill

if "$FILL" "$DB" >"$tmp/ids" 2>"$tmp/fill.err"; then
	ok "queue_fill"
else
	not_ok "queue_fill" "$(cat "$tmp/fill.err")"
fi
check "store mode 0600" "$(ls -ln "$DB" | cut -c1-10)" "-rw-------"
BOB1=$(id bob1) BOB2=$(id bob2) BOB3=$(id bob3) DAN1=$(id dan1)
EVE1=$(id eve1)

# ---------------------------------------------------------------- list

run list queue list --db "$DB"
expect list "list" 0 "^-- 4 messages, 586 bytes$"
check "list: ready ones in delivery order" \
    "$(awk '$1 ~ /^[0-9]+$/ { printf "%s ", $1 }' "$tmp/list.out")" \
    "$BOB1 $BOB2 $BOB3 $DAN1 "
if grep -q "2100-01-01T00:00:00Z sip:bob@example.org <- sip:alice@" \
    "$tmp/list.out"; then
	ok "list: deferred next attempt shown"
else
	not_ok "list: deferred next attempt shown" "$(cat "$tmp/list.out")"
fi
run list queue list --db "$DB" --rcpt sip:dan@example.org
expect list "list --rcpt" 0 "^-- 1 message, 26 bytes$"
run list queue list --db "$DB" --rcpt sip:zed@example.org
expect list "list --rcpt (nobody)" 0 "^queue is empty for this recipient"
run list queue list --db "$DB" --all
expect list "list --all: the quarantined one with its reason" 0 \
    "^$EVE1 +quarantined .*sip:eve@example.org <- \(none\)"
expect list "... reason" 0 "\(set aside by queue_fill\)"
expect list "... total" 0 "^-- 5 messages, 612 bytes \(quarantined"
run json queue list --db "$DB" --all --json
expect json "list --json" 0 '"count": 5'
if [ -n "$PYTHON" ]; then
	if "$PYTHON" -m json.tool "$tmp/json.out" >/dev/null 2>&1; then
		ok "list --json is valid JSON"
	else
		not_ok "list --json is valid JSON" "$(head -20 "$tmp/json.out")"
	fi
else
	ok "list --json is valid JSON # SKIP no python3"
fi

# ---------------------------------------------------------------- show

run show queue show --db "$DB" "$BOB1"
expect show "show" 0 "^state: ready$"
expect show "... recipient" 0 "^recipient: sip:bob@example.org$"
expect show "... MIKEY timestamp as a date" 0 \
    "^mikey-timestamp: 0x[0-9a-f]{16} \(2026-09-21T14:13:20Z\)$"
expect show "... the header lines" 0 \
    "^    Content-Type: multipart/mixed; boundary=\"sipsec-5Qm2ZtVb8rHk\"$"
expect show "... control characters escaped" 0 '^    X-Evil: \\x1b\[31mred$'
if grep -q SECRETBODY "$tmp/show.out" || grep -q sipsec-5Qm2ZtVb8rHk-- \
    "$tmp/show.out"; then
	not_ok "show: no body lines" "$(cat "$tmp/show.out")"
else
	ok "show: no body lines"
fi
if od -c "$tmp/show.out" | grep -q '033'; then
	not_ok "show: no raw ESC reaches the terminal"
else
	ok "show: no raw ESC reaches the terminal"
fi
run raw queue show --db "$DB" --raw "$BOB1"
expect raw "show --raw" 0 ""
check "show --raw: every stored byte" "$(wc -c <"$tmp/raw.out" |
    tr -d ' ')" 508
check "... the body too (binary, NUL)" \
    "$(grep -c 'SECRETBODY' "$tmp/raw.out")" 1
check "... boundary intact" "$(grep -c '^--sipsec-5Qm2ZtVb8rHk--' \
    "$tmp/raw.out")" 1
run err queue show --db "$DB" 999
expect err "show of a missing ID: exit 1" 1 "not found"

# ---------------------------------------------------------------- flush

run flush queue flush --db "$DB" --rcpt sip:bob@example.org
expect flush "flush --rcpt" 0 "^flushed 3 messages$"
run list queue list --db "$DB" --rcpt sip:bob@example.org
if grep -q 2100-01-01 "$tmp/list.out"; then
	not_ok "after flush: nothing waits for 2100" "$(cat "$tmp/list.out")"
else
	ok "after flush: nothing waits for 2100"
fi
run flush queue flush --db "$DB"
expect flush "flush (all)" 0 "^flushed 4 messages$"

# ---------------------------------------------------------------- damage

if "$FILL" "$DB" damage "$BOB3" 2>"$tmp/fill.err"; then
	ok "damage $BOB3 behind the store's back"
else
	not_ok "damage $BOB3 behind the store's back" "$(cat "$tmp/fill.err")"
fi
run show queue show --db "$DB" "$BOB3"
expect show "show finds the damage" 0 "^state: quarantined$"
expect show "... and says why" 0 "^reason: checksum mismatch$"
run list queue list --db "$DB"
expect list "the damaged one left the ready list" 0 "^-- 3 messages"
run stats queue stats --db "$DB" --check
expect stats "stats --check" 0 "check: ok"
expect stats "... quarantined: 2" 0 "quarantined: 2$"
expect stats "... messages: 5" 0 "messages: 5$"
expect stats "... recipients: 3" 0 "recipients: 3$"
expect stats "... replay states: 1" 0 "replay-states: 1$"
expect stats "... oldest arrival" 0 "oldest-arrival: 2026-09-21T14:13:20Z$"
run json queue stats --db "$DB" --json
expect json "stats --json" 0 '"schema_version": 1'

# ---------------------------------------------------------------- purge

run purge queue purge --db "$DB" "$DAN1"
expect purge "purge ID" 0 "^purged 1 message$"
run purge queue purge --db "$DB" "$DAN1"
expect purge "purge ID again: exit 1" 1 "not found"
run purge queue purge --db "$DB" --quarantined
expect purge "purge --quarantined" 0 "^purged 2 messages$"
run list queue list --db "$DB" --all
expect list "left: bob's two" 0 "^-- 2 messages, 534 bytes$"
run purge queue purge --db "$DB" --all
expect purge "purge --all" 0 "^purged 2 messages$"
run stats queue stats --db "$DB" --check
expect stats "empty and consistent" 0 "messages: 0$"
expect stats "... check ok" 0 "check: ok"
run list queue list --db "$DB" --all
expect list "list of an empty store" 0 "^queue is empty$"

# ---------------------------------------------------------------- schema

if [ -n "$SQLITE3" ]; then
	"$SQLITE3" "$DB" "PRAGMA user_version = 7" >/dev/null 2>&1
	run err queue stats --db "$DB"
	expect err "a newer schema version: exit 1, says so" 1 \
	    "schema version 7, newer than the version 1"
else
	ok "a newer schema version # SKIP no sqlite3"
fi
printf 'not a database at all, only text, long enough for a header\n' \
    >"$tmp/text.db"
run err queue list --db "$tmp/text.db"
expect err "a file that is not a database: exit 1" 1 \
    "not an SQLite database"

echo "1..$n"
[ "$fail" -eq 0 ]
