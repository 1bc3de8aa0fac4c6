# tests/tap.sh - TAP helpers for the sh tests (sourced, not run)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# ok DESCRIPTION; not_ok DESCRIPTION [DIAGNOSTIC...]; check DESCRIPTION GOT
# WANT (prints "got X, want Y" on failure).  $n counts the tests, $fail the
# failures; the script prints "1..$n" and exits non-zero when $fail > 0.
n=0
fail=0
ok() {
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {
	n=$((n + 1))
	fail=$((fail + 1))
	echo "not ok $n - $1"
	shift
	for d in "$@"; do
		printf '%s\n' "$d" | sed 's/^/#   /'
	done
}
check() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "got  $2" "want $3"
	fi
}
