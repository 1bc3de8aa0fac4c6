#!/bin/sh
# tests/integ/t_lib_kms.sh - libimgate against a real imgate-kms, through
# imgatectl wrap / unwrap (TAP)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# A throwaway imgate-kms on 127.0.0.1 (tests/integ/kmslib.sh) with users
# alice, bob, carol and a gateway that acts for sip:*@corp.example; an
# HTTPS listener with a certificate made here.  Then, with the library's
# built-in HTTP client:
#
#   alice wraps, bob unwraps: the same body, content type and sender;
#   the differs-from-From report; carol (not a recipient) is refused by
#   the KMS (403); a flipped byte in the MIKEY part and in the CMS part
#   is refused (493) and no plaintext is written; the same body a second
#   time is a replay (403) through --replay-state, which a damaged state
#   file does not silently reset; alice cannot send as bob, the gateway
#   can send as alice; two recipients; the same over HTTPS (CA file
#   checked, a wrong CA refused: 503); a signed message (certificate
#   from a CA made here) with its signer reported, an unsigned one where
#   a signature is required (403); a KMS that is down: 503; and the KMS
#   metrics count one request and one resolve per exchange.
#
# The openssl cms interop of the pkcs7 part is in tests/unit/lib/t_imgate.c,
# which derives the TEK itself: imgatectl never prints key material.
#
# Environment: top_srcdir, top_builddir; KMS_KEEP=1 keeps the directory.
# Needs curl (kmslib.sh), openssl (the HTTPS part; skipped without), awk,
# od, cmp.

top_srcdir=$(cd "${top_srcdir:-.}" && pwd) || exit 99
top_builddir=$(cd "${top_builddir:-.}" && pwd) || exit 99
CTL=$top_builddir/tools/imgatectl
KMS_BIN=${KMS_BIN:-$top_builddir/kms/imgate-kms}

for b in "$KMS_BIN" "$CTL"; do
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
kms_init t_lib_kms

. "$top_srcdir/tests/tap.sh"
bail() {
	echo "Bail out! $1"
	kms_dump_log k
	exit 1
}

KMSID=sip:kms@corp.example
uri() {
	echo "sip:$1@corp.example"
}

# run NAME CMD...: stdout in $KT/NAME.out, stderr in $KT/NAME.err, $rc
run() {
	_r=$1
	shift
	"$@" >"$KT/$_r.out" 2>"$KT/$_r.err"
	rc=$?
}

# wrap NAME USER TO INFILE [ARGS...]: USER wraps INFILE for TO (comma
# list of short names); body in $KT/NAME.body, Content-Type in $ct_NAME
wrap() {
	_n=$1 _u=$2 _to=$3 _in=$4
	shift 4
	_tl=""
	for _t in $(echo "$_to" | tr ',' ' '); do
		_tl="$_tl${_tl:+,}$(uri "$_t")"
	done
	run "$_n" "$CTL" wrap --kms "${URL:-$(url)}" --kms-id "$KMSID" \
	    --id "$(uri "$_u")" --psk-file "$KT/$_u.psk" --to "$_tl" \
	    --in "$_in" --out "$KT/$_n.body" "$@"
	eval "ct_$_n=\$(sed -n 's/^Content-Type: //p' \"\$KT/\$_n.out\")"
}

# unwrap NAME USER FROM BODYNAME [ARGS...]: USER unwraps $KT/BODYNAME.body
# (Content-Type $ct_BODYNAME) that came with SIP From FROM; plaintext in
# $KT/NAME.pt
unwrap() {
	_n=$1 _u=$2 _f=$3 _b=$4
	shift 4
	eval "_ct=\$ct_$_b"
	rm -f "$KT/$_n.pt"
	run "$_n" "$CTL" unwrap --kms "${URL:-$(url)}" --kms-id "$KMSID" \
	    --id "$(uri "$_u")" --psk-file "$KT/$_u.psk" --from "$(uri "$_f")" \
	    --content-type "$_ct" --in "$KT/$_b.body" --out "$KT/$_n.pt" "$@"
}

# field NAME LABEL - the value of "LABEL: value" in $KT/NAME.out
field() {
	sed -n "s/^$2: //p" "$KT/$1.out" | head -1
}

# expect_refused DESC SIPCODE PATTERN: the last run failed with exit 1,
# SIP code and a line matching PATTERN, and wrote no plaintext
expect_refused() {
	if [ "$rc" -eq 1 ] && grep -q "(SIP $2)" "$KT/$_r.err" &&
	    grep -qE -- "$3" "$KT/$_r.err" && [ ! -e "$KT/$_r.pt" ]; then
		ok "$1"
	else
		not_ok "$1" "exit $rc (want 1), stderr: $(cat "$KT/$_r.err")" \
		    "want SIP $2 and /$3/, no $KT/$_r.pt"
	fi
}

# flip IN OUT OFFSET: copy IN with the byte at OFFSET inverted
flip() {
	_size=$(wc -c <"$1")
	head -c "$3" "$1" >"$2"
	_b=$(od -An -N1 -j "$3" -tu1 "$1" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "$(printf '\\%03o' $((255 - _b)))" >>"$2"
	tail -c $((_size - $3 - 1)) "$1" >>"$2"
}

# offset_of FILE STRING: byte offset of the first STRING in FILE
offset_of() {
	grep -abo -- "$2" "$1" | head -1 | cut -d: -f1
}

# ---- setup
cd "$KT" || bail "cannot enter $KT"
run keyinit "$CTL" kms key init --keys "$KT/kms-master.keys"
[ "$rc" -eq 0 ] || bail "kms key init: $(cat "$KT/keyinit.err")"
for u in alice bob carol dave gw; do
	set -- --users "$KT/kms-users.conf" --id "$(uri "$u")" --generate \
	    --psk-out "$KT/$u.psk"
	[ "$u" = gw ] && set -- "$@" --act-for 'sip:*@corp.example'
	run "add-$u" "$CTL" kms user add "$@"
	[ "$rc" -eq 0 ] || bail "kms user add $u: $(cat "$KT/add-$u.err")"
done

OPENSSL=$(command -v openssl 2>/dev/null)
tls=""
if [ -n "$OPENSSL" ]; then
	# a CA and a server certificate for 127.0.0.1
	"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -days 2 -subj "/CN=t_lib_kms CA" -keyout ca.key \
	    -out ca.pem -addext basicConstraints=critical,CA:TRUE \
	    >/dev/null 2>&1 &&
	"$OPENSSL" req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -subj "/CN=127.0.0.1" -keyout tls.key -out tls.csr \
	    >/dev/null 2>&1 &&
	printf 'subjectAltName=IP:127.0.0.1\n' >tls.ext &&
	"$OPENSSL" x509 -req -in tls.csr -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -days 2 -extfile tls.ext -out tls.pem \
	    >/dev/null 2>&1 && tls=yes
	# another CA that signed nothing here
	"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	    -nodes -days 2 -subj "/CN=other CA" -keyout other.key \
	    -out other.pem >/dev/null 2>&1 || tls=""
fi
kms_free_port || bail "no free port"
port=$kms_port
set --
if [ -n "$tls" ]; then
	kms_free_port || bail "no free port"
	tport=$kms_port
	set -- "tls_listen = 127.0.0.1:$tport" "tls_cert = tls.pem" \
	    "tls_key = tls.key"
fi
kms_write_conf "$KT/kms.conf" "$port" "ticket_lifetime = 86400" \
    "max_ticket_lifetime = 31536000" "$@"
kms_start k "$KT/kms.conf" || bail "the KMS did not start"
url() {
	echo "http://127.0.0.1:$port/mikey"
}
metric() {
	kms_http GET "http://127.0.0.1:$port/metrics"
	kms_metric "$KT/http.body" "$1" "$2"
}

printf 'Meet at gate 12 at ten.\n' >msg.txt
head -c 3000 /dev/urandom >bin.dat

# ---- alice -> bob
wrap w1 alice bob msg.txt
check "alice wraps for bob: exit 0" "$rc" 0
case $ct_w1 in
multipart/mixed\;\ boundary=*) ok "wrap prints the multipart Content-Type" ;;
*) not_ok "wrap prints the multipart Content-Type" "got '$ct_w1'" \
    "$(cat "$KT/w1.err")" ;;
esac
unwrap u1 bob alice w1 --replay-state "$KT/bob.rc"
check "bob unwraps: exit 0" "$rc" 0
if cmp -s msg.txt "$KT/u1.pt"; then
	ok "bob gets the same body, byte for byte"
else
	not_ok "bob gets the same body, byte for byte" "$(cat "$KT/u1.err")"
fi
check "... the same content type" "$(field u1 Content-Type)" \
    "text/plain; charset=utf-8"
check "... verified sender alice" "$(field u1 'Verified sender')" \
    "$(uri alice)"
check "... same as the SIP From" "$(field u1 'Differs from From')" "no"
check "the plaintext file is mode 0600" \
    "$(ls -ln "$KT/u1.pt" | cut -c1-10)" "-rw-------"
check "KMS: one request and one resolve so far" \
    "$(metric imgate_kms_requests_total 'exchange="request",outcome="ok"') $(metric imgate_kms_requests_total 'exchange="resolve",outcome="ok"')" \
    "1 1"

# ---- replay through --replay-state
unwrap u2 bob alice w1 --replay-state "$KT/bob.rc"
expect_refused "the same body again: replay (403)" 403 "replayed"
check "the replay state file is mode 0600" \
    "$(ls -ln "$KT/bob.rc" | cut -c1-10)" "-rw-------"
cp "$KT/bob.rc" "$KT/bob.rc.bak"
printf 'x' | dd of="$KT/bob.rc" bs=1 seek=20 conv=notrunc 2>/dev/null
unwrap u3 bob alice w1 --replay-state "$KT/bob.rc"
if [ "$rc" -eq 1 ] && grep -q "damaged" "$KT/u3.err" && [ ! -e "$KT/u3.pt" ]
then
	ok "a damaged replay state is refused, not silently reset"
else
	not_ok "a damaged replay state is refused, not silently reset" \
	    "exit $rc: $(cat "$KT/u3.err")"
fi
mv "$KT/bob.rc.bak" "$KT/bob.rc"

# ---- binary body, another content type, the differs flag
wrap w2 alice bob bin.dat --content-type application/octet-stream
unwrap u4 bob carol w2
if [ "$rc" -eq 0 ] && cmp -s bin.dat "$KT/u4.pt"; then
	ok "3000 random bytes round trip"
else
	not_ok "3000 random bytes round trip" "$(cat "$KT/u4.err")"
fi
check "... content type kept" "$(field u4 Content-Type)" \
    "application/octet-stream"
check "SIP From carol on alice's message: flagged" \
    "$(field u4 'Differs from From' | cut -c1-3) $(field u4 'Verified sender')" \
    "yes $(uri alice)"

# ---- carol is not a recipient
unwrap u5 carol alice w1
expect_refused "carol (not a recipient): refused by the KMS (403)" 403 \
    "not authorised"

# ---- flipped bytes
off=$(offset_of "$KT/w1.body" "handling=required")
moff=$((off + 40))		# inside the TRANSFER_INIT
flip "$KT/w1.body" "$KT/f1.body" "$moff"
ct_f1=$ct_w1
unwrap u6 bob alice f1
expect_refused "a flipped byte in the MIKEY part's T: refused (400)" \
    400 "time"
# the byte before the CRLF that ends the MIKEY part: its V MAC
voff=$(grep -abo -- "--imgate-" "$KT/w1.body" | sed -n 2p | cut -d: -f1)
flip "$KT/w1.body" "$KT/f4.body" $((voff - 3))
ct_f4=$ct_w1
unwrap u6b bob alice f4
expect_refused "a flipped byte in the MIKEY part's MAC: undecipherable \
(493)" 493 "undecipherable"
size=$(wc -c <"$KT/w1.body")
flip "$KT/w1.body" "$KT/f2.body" $((size - 60))	# inside the CMS
ct_f2=$ct_w1
unwrap u7 bob alice f2
expect_refused "a flipped byte in the CMS part: undecipherable (493)" 493 \
    "undecipherable"
flip "$KT/w1.body" "$KT/f3.body" 5	# in the boundary line
ct_f3=$ct_w1
unwrap u8 bob alice f3
expect_refused "a flipped byte in the MIME structure: 400 or 415" \
    "4[01][05]" "."
# the genuine body still opens for a fresh receiver
unwrap u9 bob alice w1
check "the genuine body still opens (no replay state)" "$rc" 0

# ---- identities
wrap w3 alice bob msg.txt --from "$(uri bob)"
if [ "$rc" -eq 1 ] && grep -q "not authorised by the KMS (SIP 403)" "$KT/w3.err"; then
	ok "alice cannot send as bob: the KMS refuses (403)"
else
	not_ok "alice cannot send as bob: the KMS refuses (403)" \
	    "exit $rc: $(cat "$KT/w3.err")"
fi
wrap w4 gw bob msg.txt --from "$(uri alice)"
unwrap u10 bob alice w4
check "the gateway sends as alice (act_for); bob sees alice, verified" \
    "$rc $(field u10 'Verified sender')" "0 $(uri alice)"

# ---- two recipients
wrap w5 alice bob,dave msg.txt
unwrap u11 bob alice w5
unwrap u12 dave alice w5
_d=$rc
unwrap u13 carol alice w5
check "two recipients: bob and dave open it, carol does not" \
    "$(cat "$KT/u11.pt" 2>/dev/null | head -c 4) $_d $rc" "Meet 0 1"

# ---- HTTPS
if [ -n "$tls" ]; then
	URL="https://127.0.0.1:$tport/mikey"
	wrap w6 alice bob msg.txt --ca-file "$KT/ca.pem"
	unwrap u14 bob alice w6 --ca-file "$KT/ca.pem"
	if [ "$rc" -eq 0 ] && cmp -s msg.txt "$KT/u14.pt"; then
		ok "HTTPS: wrap and unwrap with the KMS's CA"
	else
		not_ok "HTTPS: wrap and unwrap with the KMS's CA" \
		    "$(cat "$KT/w6.err" "$KT/u14.err")"
	fi
	wrap w7 alice bob msg.txt --ca-file "$KT/other.pem"
	if [ "$rc" -eq 1 ] && grep -q "(SIP 503)" "$KT/w7.err" &&
	    grep -q "TLS" "$KT/w7.err"; then
		ok "HTTPS: a certificate from another CA is refused (503)"
	else
		not_ok "HTTPS: a certificate from another CA is refused (503)" \
		    "exit $rc: $(cat "$KT/w7.err")"
	fi
	URL=""
	# a signing certificate for alice (SAN URI, no extendedKeyUsage:
	# spec/smime-sip.md 3.4), from the same CA
	"$OPENSSL" req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -subj "/CN=alice" -keyout alice.key -out alice.csr >/dev/null 2>&1
	printf 'subjectAltName=URI:%s\nkeyUsage=digitalSignature\n' \
	    "$(uri alice)" >alice.ext
	"$OPENSSL" x509 -req -in alice.csr -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -days 2 -extfile alice.ext -out alice.pem \
	    >/dev/null 2>&1
	wrap w9 alice bob msg.txt --cert alice.pem --key alice.key
	unwrap u15 bob alice w9 --trust "$KT/ca.pem" --require-signature
	check "signed by alice: verified against the CA, signer reported" \
	    "$rc $(field u15 'Signed by')" "0 $(uri alice)"
	unwrap u16 bob alice w1 --require-signature --trust "$KT/ca.pem"
	expect_refused "an unsigned message where a signature is required \
(403)" 403 "signature"
	wrap w10 alice bob msg.txt --cert alice.pem --key other.key
	check "a key that is not the certificate's: refused" "$rc" 1
else
	ok "# SKIP HTTPS: openssl could not make certificates"
	ok "# SKIP HTTPS: wrong CA"
	ok "# SKIP signed: openssl could not make certificates"
	ok "# SKIP signed: required signature"
	ok "# SKIP signed: wrong key"
fi

# ---- the KMS is down
kms_free_port || bail "no free port"
URL="http://127.0.0.1:$kms_port/mikey"
wrap w8 alice bob msg.txt --timeout 2
if [ "$rc" -eq 1 ] && grep -q "(SIP 503)" "$KT/w8.err" &&
    grep -q "connect" "$KT/w8.err"; then
	ok "KMS down: 503 (connection refused)"
else
	not_ok "KMS down: 503 (connection refused)" \
	    "exit $rc: $(cat "$KT/w8.err")"
fi
URL=""

# ---- deferred delivery: read 200 days later (design.md section 3)
# A second KMS shares the key and users files with its clock 200 days
# ahead (--clock-offset, testing only), and bob reads with his clock 200
# days ahead too: the messages are 200 days old for everyone who checks.
D200=17280000
kms_free_port || bail "no free port"
port200=$kms_port
kms_write_conf "$KT/kms200.conf" "$port200" "ticket_lifetime = 86400" \
    "max_ticket_lifetime = 31536000"
if kms_start k200 "$KT/kms200.conf" --clock-offset "$D200"; then
	printf 'first, 200 days ago\n' >old1.txt
	printf 'second, 200 days ago\n' >old2.txt
	wrap o1 alice bob old1.txt --lifetime 25920000
	wrap o2 alice bob old2.txt --lifetime 25920000
	URL="http://127.0.0.1:$port200/mikey"
	unwrap d1 bob alice o1 --replay-state "$KT/bob200.rc" \
	    --clock-offset "$D200"
	r1=$rc
	unwrap d2 bob alice o2 --replay-state "$KT/bob200.rc" \
	    --clock-offset "$D200"
	r2=$rc
	if [ "$r1" -eq 0 ] && [ "$r2" -eq 0 ] &&
	    cmp -s "$KT/d1.pt" old1.txt && cmp -s "$KT/d2.pt" old2.txt; then
		ok "200 days late, in order: both messages accepted and intact"
	else
		not_ok "200 days late, in order: both messages accepted" \
		    "exits $r1 $r2: $(cat "$KT/d1.err" "$KT/d2.err")"
	fi
	unwrap d3 bob alice o1 --replay-state "$KT/bob200.rc" \
	    --clock-offset "$D200"
	expect_refused "200 days late: the first one again is a replay" 403 \
	    "replay"
	URL=""
	kms_stop k200
else
	not_ok "a second KMS 200 days ahead starts" "$(cat "$KT/k200.log")"
fi

# ---- usage
run help "$CTL" wrap --help
check "wrap --help: exit 0" "$rc" 0
run help2 "$CTL" unwrap --help
check "unwrap --help: exit 0" "$rc" 0
run usage "$CTL" wrap --id "$(uri alice)"
check "wrap without --kms: usage error (2)" "$rc" 2

# nothing printed a key: no 32+ hex digit run anywhere in the output
if cat "$KT"/*.out "$KT"/*.err 2>/dev/null | grep -qE '[0-9a-f]{32}'; then
	not_ok "no key material in any output"
else
	ok "no key material in any output"
fi

kms_stop k
check "the KMS stops cleanly" "$kms_status" 0
echo "1..$n"
[ "$fail" -eq 0 ]
