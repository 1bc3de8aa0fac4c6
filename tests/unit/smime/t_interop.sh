#!/bin/sh
# tests/unit/smime/t_interop.sh - smime/ against the independent peer
# "openssl cms" (TAP)
#
# Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
#
# Both directions, spec/smime-sip.md 3.6:
#  - openssl cms -decrypt opens what smime_protect writes (AES-128-GCM,
#    AES-256-GCM with a 32-byte KEK, two recipients, a re-wrapped one), and
#    the plaintext is exactly the entity we expect, byte for byte; signed
#    ones verify with openssl cms -verify against the test CA;
#  - smime_unprotect opens what openssl cms -encrypt writes from a CPIM
#    entity file, signed (openssl cms -sign) or not.
# The CA and alice's certificate (EC P-256, SAN URI sip:alice@example.com,
# no extendedKeyUsage: digest 3.4) are made here in a temporary directory
# that is removed at exit.  Nothing with a private key is committed.
#
# Environment: top_builddir.  Needs POSIX sh, od, cmp, grep and openssl.

top_builddir=${top_builddir:-.}
TOOL=$top_builddir/tests/unit/smime/smime_tool
OPENSSL=$(command -v openssl 2>/dev/null)

if [ ! -x "$TOOL" ]; then
	echo "1..0 # SKIP $TOOL is not built"
	exit 0
fi
if [ -z "$OPENSSL" ]; then
	echo "1..0 # SKIP no openssl command"
	exit 0
fi

TOOL=$(cd "$(dirname "$TOOL")" && pwd)/smime_tool	# we cd below
tmp=$(mktemp -d "${TMPDIR:-/tmp}/t_interop.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' 0
trap 'exit 130' 1 2 15

n=0
fail=0
ok() {		# ok DESCRIPTION
	n=$((n + 1))
	echo "ok $n - $1"
}
not_ok() {	# not_ok DESCRIPTION [DIAGNOSTIC...]
	n=$((n + 1))
	fail=$((fail + 1))
	echo "not ok $n - $1"
	shift
	for d in "$@"; do
		printf '%s\n' "$d" | sed 's/^/#   /'
	done
}
check() {	# check DESCRIPTION COMMAND...: ok if the command succeeds
	d=$1
	shift
	if "$@" >"$tmp/check.out" 2>&1; then
		ok "$d"
	else
		not_ok "$d" "$(cat "$tmp/check.out")"
	fi
}
fails() {	# fails DESCRIPTION PATTERN COMMAND...: the command fails and
		# its output matches PATTERN (grep -E)
	d=$1
	p=$2
	shift 2
	if "$@" >"$tmp/check.out" 2>&1; then
		not_ok "$d" "succeeded"
	elif grep -qE -- "$p" "$tmp/check.out"; then
		ok "$d"
	else
		not_ok "$d" "failed, but not with /$p/:" \
		    "$(cat "$tmp/check.out")"
	fi
}
has() {		# has DESCRIPTION FILE LINE: FILE has the exact line
	if grep -qxF -- "$3" "$2"; then
		ok "$1"
	else
		not_ok "$1" "no line: $3" "$(cat "$2")"
	fi
}

KEY1=$("$OPENSSL" rand -hex 16)
KEY2=$("$OPENSSL" rand -hex 16)
KEY3=$("$OPENSSL" rand -hex 32)
ID1=0102030405		# CSB ID || CS ID, as libimgate will use it
ID2=0a0b0c0d01
ID3=0a0b0c0d02
T0=1795080600		# 2026-11-19T09:30:00Z
cd "$tmp" || exit 99

# ---- test credentials
"$OPENSSL" req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.pem -subj "/CN=imgate test CA" -days 2 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null &&
"$OPENSSL" req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout alice.key -subj "/CN=alice" -out alice.csr 2>/dev/null &&
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n%s\n' \
    'subjectAltName=URI:sip:alice@example.com' >alice.ext &&
"$OPENSSL" x509 -req -in alice.csr -CA ca.pem -CAkey ca.key -set_serial 2 \
    -days 2 -extfile alice.ext -out alice.pem 2>/dev/null
if [ $? -ne 0 ] || [ ! -s alice.pem ]; then
	echo "1..0 # SKIP openssl could not make test certificates"
	exit 0
fi

# ---- the body and the entities we expect
printf 'Gr\303\274\303\237e \342\234\223\r\nMeet at gate 12 at ten.\r\n' \
    >body.txt
{
	printf 'Content-Type: message/cpim\r\n\r\n'
	printf 'From: <sip:alice@example.com>\r\nTo: <sip:bob@example.org>\r\n'
	printf 'DateTime: 2026-11-19T09:30:00Z\r\n\r\n'
	printf 'Content-Type: text/plain; charset=utf-8\r\n\r\n'
	cat body.txt
} >cpim.ent
printf '%s%s\r\n%s\r\n\r\n' 'Content-Type: application/pkcs7-mime; ' \
    'smime-type=signed-data; name=smime.p7m' \
    'Content-Transfer-Encoding: binary' >p7hdr
p7hdr_len=$(wc -c <p7hdr)

protect() {	# protect OUT [OPTIONS...]: alice -> bob, body.txt
	out=$1
	shift
	"$TOOL" protect --from sip:alice@example.com --to sip:bob@example.org \
	    --time $T0 --in body.txt --out "$out" "$@"
}
decrypt() {	# decrypt IN KEYHEX IDHEX OUT: openssl cms -decrypt
	"$OPENSSL" cms -decrypt -binary -inform DER -in "$1" \
	    -secretkey "$2" -secretkeyid "$3" -out "$4"
}

# ---- smime/ -> openssl cms
check "smime protect, AES-128-GCM" protect a128.der --kek $KEY1:$ID1
check "openssl cms -decrypt opens it" decrypt a128.der $KEY1 $ID1 a128.ent
check "... plaintext is the CPIM entity, byte for byte" cmp a128.ent cpim.ent
"$OPENSSL" cms -cmsout -print -inform DER -in a128.der >a128.txt 2>&1
if grep -q 'd.kekri' a128.txt && grep -q 'id-aes128-wrap' a128.txt &&
    grep -q 'aes-128-gcm' a128.txt && grep -q 'version: 4' a128.txt &&
    grep -q 'OCTET STRING .*\[HEX DUMP\]:[0-9A-F]\{24\}$' a128.txt &&
    grep -q 'INTEGER *:10$' a128.txt && grep -q 'mac:' a128.txt; then
	# 3.0.22 prints GCMParameters as a raw SEQUENCE (no "aes-ICVlen")
	ok "cms -cmsout: kekri v4, aes128-wrap, aes-128-gcm, nonce12, ICVlen 16"
else
	not_ok "openssl cms -cmsout -print shows the expected structure" \
	    "$(cat a128.txt)"
fi
fails "openssl cms -decrypt with another key fails" 'unwrap|decrypt' \
    decrypt a128.der $KEY2 $ID1 bad.ent

check "smime protect, AES-256-GCM, 32-byte KEK" \
    protect a256.der --aes256 --kek $KEY3:$ID3
check "openssl cms -decrypt opens it" decrypt a256.der $KEY3 $ID3 a256.ent
check "... plaintext is the CPIM entity" cmp a256.ent cpim.ent
"$OPENSSL" cms -cmsout -print -inform DER -in a256.der >a256.txt 2>&1
if grep -q 'id-aes256-wrap' a256.txt && grep -q 'aes-256-gcm' a256.txt; then
	ok "openssl cms -cmsout -print: id-aes256-wrap, aes-256-gcm"
else
	not_ok "AES-256 structure" "$(cat a256.txt)"
fi

check "smime protect for two KEKs" \
    protect two.der --kek $KEY1:$ID1 --kek $KEY2:$ID2
check "openssl opens the two-recipient envelope with the first KEK" \
    decrypt two.der $KEY1 $ID1 two1.ent
check "openssl opens it with the second KEK" decrypt two.der $KEY2 $ID2 two2.ent
check "... both give the CPIM entity" cmp two2.ent cpim.ent

check "smime protect, signed (ECDSA P-256)" \
    protect signed.der --kek $KEY1:$ID1 --cert alice.pem --key alice.key
check "openssl opens the signed message" \
    decrypt signed.der $KEY1 $ID1 signed.ent
head -c "$p7hdr_len" signed.ent >signed.hdr
tail -c +$((p7hdr_len + 1)) signed.ent >signed.p7
check "... the inner entity is application/pkcs7-mime signed-data, binary" \
    cmp signed.hdr p7hdr
check "openssl cms -verify verifies the SignedData against the CA" \
    "$OPENSSL" cms -verify -binary -inform DER -in signed.p7 -CAfile ca.pem \
    -out signed.cpim
check "... the signed content is the CPIM entity" cmp signed.cpim cpim.ent
"$OPENSSL" cms -cmsout -print -inform DER -in signed.p7 >signed.txt 2>&1
if grep -q 'ecdsa-with-SHA256' signed.txt && grep -q 'signingTime' signed.txt &&
    ! grep -q 'SMIMECapabilities\|smimeCapabilities' signed.txt; then
	ok "SignedData: ecdsa-with-SHA256, signingTime, no SMIMECapabilities"
else
	not_ok "SignedData attributes" \
	    "$(grep -i 'object\|algorithm' signed.txt)"
fi

check "smime protect, signed without the certificate" \
    protect nocerts.der --kek $KEY1:$ID1 --cert alice.pem --key alice.key \
    --nocerts
decrypt nocerts.der $KEY1 $ID1 nocerts.ent 2>/dev/null
tail -c +$((p7hdr_len + 1)) nocerts.ent >nocerts.p7
fails "openssl cms -verify without the certificate fails" \
    'signer certificate not found' \
    "$OPENSSL" cms -verify -binary -inform DER -in nocerts.p7 -CAfile ca.pem \
    -out /dev/null
check "openssl cms -verify with -certfile alice.pem succeeds" \
    "$OPENSSL" cms -verify -binary -inform DER -in nocerts.p7 -CAfile ca.pem \
    -certfile alice.pem -out /dev/null

check "smime re-wraps the envelope for a new KEK" \
    "$TOOL" rewrap --kek $KEY1:$ID1 --new $KEY2:$ID2 --in a128.der \
    --out rewrapped.der
check "openssl cms -decrypt opens the re-wrapped one with the new KEK" \
    decrypt rewrapped.der $KEY2 $ID2 rewrapped.ent
check "... same plaintext" cmp rewrapped.ent cpim.ent
fails "openssl cms -decrypt with the old KEK fails" 'no matching|decrypt' \
    decrypt rewrapped.der $KEY1 $ID1 old.ent

# ---- openssl cms -> smime/
encrypt() {	# encrypt IN KEYHEX IDHEX OUT [CIPHER]
	"$OPENSSL" cms -encrypt -binary -${5:-aes-128-gcm} -secretkey "$2" \
	    -secretkeyid "$3" -in "$1" -outform DER -out "$4"
}
unprotect() {	# unprotect IN OUT-BODY [OPTIONS...] (fields on stdout)
	in=$1
	out=$2
	shift 2
	"$TOOL" unprotect --in "$in" --out "$out" "$@"
}

check "openssl cms -encrypt -aes-128-gcm a CPIM entity" \
    encrypt cpim.ent $KEY1 $ID1 o128.der
if unprotect o128.der o128.body --kek $KEY1:$ID1 --allow-unsigned \
    --ctype 'application/pkcs7-mime; smime-type=authEnveloped-data' \
    >o128.out 2>&1; then
	ok "smime unprotect opens what openssl wrote"
else
	not_ok "smime unprotect opens what openssl wrote" "$(cat o128.out)"
fi
has "... CPIM From" o128.out "from=sip:alice@example.com"
has "... CPIM To" o128.out "to=sip:bob@example.org"
has "... DateTime" o128.out "datetime=$T0"
has "... inner Content-Type" o128.out "content-type=text/plain; charset=utf-8"
has "... key id" o128.out "kek-id=$ID1"
check "... body octets" cmp o128.body body.txt
check "smime accepts smime-type=auth-enveloped-data (RFC 8591 spelling)" \
    unprotect o128.der spelling.body --kek $KEY1:$ID1 --allow-unsigned \
    --ctype 'application/pkcs7-mime; smime-type=auth-enveloped-data'
fails "smime refuses it when unsigned messages are not allowed" 'not signed' \
    unprotect o128.der x.body --kek $KEY1:$ID1

check "openssl cms -encrypt -aes-256-gcm with a 32-byte KEK" \
    encrypt cpim.ent $KEY3 $ID3 o256.der aes-256-gcm
unprotect o256.der o256.body --kek $KEY3:$ID3 --allow-unsigned >o256.out 2>&1
has "smime unprotect opens it (AES-256-GCM)" o256.out "cipher=aes-256-gcm"
check "... body octets" cmp o256.body body.txt

check "openssl cms -sign (ECDSA, -nosmimecap) the CPIM entity" \
    "$OPENSSL" cms -sign -binary -nodetach -md sha256 -nosmimecap \
    -signer alice.pem -inkey alice.key -in cpim.ent -outform DER -out os.p7
cat p7hdr os.p7 >os.ent
check "openssl cms -encrypt the signed-data entity" \
    encrypt os.ent $KEY1 $ID1 os.der
if unprotect os.der os.body --kek $KEY1:$ID1 --ca ca.pem \
    --expect sip:alice@example.com >os.out 2>&1; then
	ok "smime unprotect verifies openssl's signature"
else
	not_ok "smime unprotect verifies openssl's signature" "$(cat os.out)"
fi
has "... signed" os.out "signed=1"
has "... signer SAN URI" os.out "verified=sip:alice@example.com"
check "... body octets" cmp os.body body.txt
unprotect os.der os.body --kek $KEY1:$ID1 --ca ca.pem \
    --expect sip:bob@example.org >mis.out 2>&1
rc=$?
if [ $rc -eq 3 ] && grep -qx 'verified=sip:alice@example.com' mis.out &&
    grep -qx 'mismatch=6' mis.out; then
	ok "expected sender bob: identity mismatch, verified alice shown"
else
	not_ok "identity mismatch" "exit $rc" "$(cat mis.out)"
fi
fails "smime refuses it without the CA (untrusted)" 'not trusted' \
    unprotect os.der x.body --kek $KEY1:$ID1

check "openssl cms -encrypt -aes-128-cbc (plain EnvelopedData)" \
    encrypt cpim.ent $KEY1 $ID1 cbc.der aes-128-cbc
unprotect cbc.der x.body --kek $KEY1:$ID1 --allow-unsigned >cbc.out 2>&1
if [ $? -eq 1 ] && grep -q 'not AuthEnvelopedData' cbc.out; then
	ok "smime refuses EnvelopedData"
else
	not_ok "smime refuses EnvelopedData" "$(cat cbc.out)"
fi
unprotect o128.der x.body --kek $KEY2:$ID1 --allow-unsigned >wrong.out 2>&1
if grep -q 'key unwrap failed' wrong.out; then
	ok "smime with the wrong KEK: unwrap failure"
else
	not_ok "wrong KEK" "$(cat wrong.out)"
fi
unprotect o128.der x.body --kek $KEY1:$ID2 --allow-unsigned >unk.out 2>&1
if grep -q 'no KEK recipient' unk.out; then
	ok "smime with an unknown key id: refused as such"
else
	not_ok "unknown key id" "$(cat unk.out)"
fi
if [ -s x.body ] || [ -s bad.ent ]; then
	not_ok "no plaintext written by any failed run"
else
	ok "no plaintext written by any failed run"
fi

echo "1..$n"
[ "$fail" -eq 0 ]
