#!/bin/sh
# tests/check-layering.sh - every #include obeys design.md section 2 (TAP)
#
# A module may include only libc/POSIX headers, its allowed packages and
# the public headers of the modules below it.
top=${top_srcdir:-.}
n=0; fail=0
check() {	# check DIR "forbidden regex" "what"
	dir=$1; pat=$2; what=$3
	[ -d "$top/$dir" ] || return 0
	n=$((n + 1))
	hits=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pat)" \
	    "$top/$dir" --include='*.[ch]' 2>/dev/null)
	if [ -n "$hits" ]; then
		echo "not ok $n - $dir/ must not include $what"
		echo "$hits" | sed 's/^/#   /'
		fail=$((fail + 1))
	else
		echo "ok $n - $dir/ includes no $what"
	fi
}
check mikey 'osip|event2/|event\.h|sqlite3|gmime/|glib|libpq|smime/|queue/|gateway/|kms/' \
	"SIP, libevent, GMime, GLib, SQLite or higher modules"
check smime 'osip|event2/|sqlite3|libpq|mikey/|queue/|gateway/|kms/' \
	"SIP, libevent, SQLite, MIKEY or higher modules"
check queue 'osip|event2/|openssl/|gmime/|mikey/|smime/|gateway/|kms/' \
	"crypto, SIP, libevent or other modules"
check common 'openssl/|event2/|event\.h|glib|gmime/|osip|sqlite3|libpq|mikey/|smime/|queue/|kms/|gateway/' \
	"libraries (OpenSSL, libevent, GLib, ...) or imgate modules"
# common/ by allowlist too: only <libc/POSIX headers> and "common/..."
if [ -d "$top/common" ]; then
	n=$((n + 1))
	hits=$(grep -rnE '^[[:space:]]*#[[:space:]]*include' "$top/common" \
	    --include='*.[ch]' 2>/dev/null | grep -vE \
	    '#[[:space:]]*include[[:space:]]*(<(sys/|netinet/|arpa/|net/)?[a-z0-9_]+\.h>|"(common/[a-z0-9_]+\.h|config\.h)")')
	if [ -n "$hits" ]; then
		echo "not ok $n - common/ includes only libc/POSIX and common/ headers"
		echo "$hits" | sed 's/^/#   /'
		fail=$((fail + 1))
	else
		echo "ok $n - common/ includes only libc/POSIX and common/ headers"
	fi
fi
check kms 'osip|gmime/|smime/|gateway/|queue/' "SIP, GMime, smime/, queue/ or gateway/"
check lib 'osip|event2/|event\.h|sqlite3|libpq|gmime/|glib|kms/|gateway/|queue/|common/' \
	"SIP, libevent, SQLite, GMime, GLib, kms/, gateway/, queue/ or common/"
# the installed header lib/imgate.h stands alone: libc headers only
if [ -f "$top/lib/imgate.h" ]; then
	n=$((n + 1))
	hits=$(grep -nE '^[[:space:]]*#[[:space:]]*include' "$top/lib/imgate.h" |
	    grep -vE '#[[:space:]]*include[[:space:]]*<(stddef|stdint)\.h>')
	if [ -n "$hits" ]; then
		echo "not ok $n - lib/imgate.h includes only <stddef.h> and <stdint.h>"
		echo "$hits" | sed 's/^/#   /'
		fail=$((fail + 1))
	else
		echo "ok $n - lib/imgate.h includes only <stddef.h> and <stdint.h>"
	fi
fi
check gateway 'kms/|queue/.*-int\.h|mikey/mikey-int\.h|smime/|lib/imgate-int\.h' \
	"kms/ internals or the internals of the modules below"
check tools 'gateway/|kms/|-int\.h' "daemon internals or internal headers"
echo "1..$n"
[ "$fail" -eq 0 ]
