#!/bin/sh
# tests/integ/t_tshark.sh - dissector/mikey-ticket.lua decodes every MIKEY
# and MIKEY-TICKET message completely and agrees with tshark's built-in MIKEY
# dissector where that one can decode a message (TAP).
#
# Inputs: every $top_srcdir/tests/data/mikey/*.hex (one message per file, one
# line of hex) and every $top_builddir/tests/data/gen/*.bin (messages written
# by the project's own encoder: "imgatectl demo --write-dir" is run first
# when tools/imgatectl is built).
#
# Environment: top_srcdir, top_builddir, TSHARK (empty: found on PATH; no
# tshark: "1..0 # SKIP").  MIKEY_PCAP_WRITER=awk forces the built-in pcap
# writer instead of text2pcap.
#
# Checks, per message: decoded to its Last payload with no byte left over
# (mikeyt.complete), no Malformed / Lua error / "Unknown (" / expert info in
# our tree, the top-level payload order fits the data type (RFC 6043
# section 4.2 message tables), and for the named test files the full payload
# list and key field values.  Then: the built-in dissector (forced with
# "-d udp.port==2269,mikey" while the Lua script is loaded) agrees on every
# field both know for every message it decodes fully; the Lua dissector runs
# over TCP 2269, inside an HTTP body and a multipart SIP body (media type
# application/mikey), in SDP a=key-mgmt:mikey, and by "decode as" on another
# port; every strict prefix of every message is flagged malformed and no
# mutated message raises a Lua error.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
LUA=$top_srcdir/dissector/mikey-ticket.lua
DATA=$top_srcdir/tests/data/mikey
GEN=$top_builddir/tests/data/gen

TSHARK=${TSHARK:-}
if [ -z "$TSHARK" ]; then
	TSHARK=$(command -v tshark 2>/dev/null)
elif [ ! -x "$TSHARK" ]; then
	TSHARK=$(command -v "$TSHARK" 2>/dev/null)
fi
if [ -z "$TSHARK" ]; then
	echo "1..0 # SKIP tshark not installed"
	exit 0
fi
TEXT2PCAP=$(command -v text2pcap 2>/dev/null)
[ "${MIKEY_PCAP_WRITER:-}" = awk ] && TEXT2PCAP=

tmp=$(mktemp -d "${TMPDIR:-/tmp}/t_tshark.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' 0
trap 'exit 130' 1 2 15
# Hermetic tshark: no personal preferences or plugins (a personal copy of
# the script would register every field twice).
mkdir -p "$tmp/home"
HOME=$tmp/home
XDG_CONFIG_HOME=$tmp/home/.config
export HOME XDG_CONFIG_HOME

. "$top_srcdir/tests/tap.sh"

# tshark with our script; stderr kept apart (it says "Running as root").
ts() {
	"$TSHARK" -n -X "lua_script:$LUA" "$@" 2>>"$tmp/tshark.err"
}
# tshark -T fields with a header line, tab-separated, "," between repeats
tf() {
	ts -T fields -E header=y -E separator=/t -E aggregator=, -E quote=n "$@"
}

# ---------------------------------------------------------------- bytes

hex_of_file() {	# binary file -> one line of lower-case hex
	od -An -v -tx1 "$1" | tr -d ' \n'
}
hex_of_text() {	# text (printf format already applied by the caller)
	printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'
}
# hex (stdin, one record a line) -> binary on stdout, with printf octal
# escapes (POSIX; no xxd needed)
hex_to_bin() {
	awk 'BEGIN { h = "0123456789abcdef" }
	{
		s = tolower($0); out = ""
		for (i = 1; i < length(s); i += 2) {
			v = (index(h, substr(s, i, 1)) - 1) * 16 + index(h, substr(s, i + 1, 1)) - 1
			out = out sprintf("\\%03o", v)
		}
		print out
	}' | while IFS= read -r esc; do
		# shellcheck disable=SC2059
		printf "$esc"
	done
}

# mkpcap u|t SPORT DPORT HEXLINES OUT: one UDP datagram or TCP segment per
# line of HEXLINES.  text2pcap when present, else a classic pcap (raw IPv4,
# linktype 101) written here.
mkpcap() {
	proto=$1 sport=$2 dport=$3 in=$4 out=$5
	if [ -n "$TEXT2PCAP" ]; then
		awk '{
			m = length($0) / 2
			for (o = 0; o < m; o += 16) {
				printf "%06x", o
				for (j = o; j < o + 16 && j < m; j++)
					printf " %s", substr($0, 2 * j + 1, 2)
				printf "\n"
			}
			printf "\n"
		}' "$in" >"$tmp/t2p.txt"
		if [ "$proto" = t ]; then flag=-T; else flag=-u; fi
		"$TEXT2PCAP" -q "$flag" "$sport,$dport" "$tmp/t2p.txt" "$out" \
		    >>"$tmp/text2pcap.err" 2>&1
		return
	fi
	awk -v proto="$proto" -v sport="$sport" -v dport="$dport" '
	BEGIN {
		print "a1b2c3d4000200040000000000000000" "0000ffff" "00000065"
		seq = 1
	}
	{
		m = length($0) / 2
		if (proto == "t") {
			l4 = sprintf("%04x%04x%08x%08x5018ffff00000000", sport, dport, seq, 0)
			seq += m; ip = "06"; l4len = 20
		} else {
			l4 = sprintf("%04x%04x%04x0000", sport, dport, 8 + m)
			ip = "11"; l4len = 8
		}
		tot = 20 + l4len + m
		pkt = sprintf("4500%04x0000400040%s00000a0101010a020202", tot, ip) l4 $0
		printf "%08x%08x%08x%08x%s\n", NR, 0, tot, tot, pkt
	}' "$in" | hex_to_bin >"$out"
}

# ---------------------------------------------------------------- messages

# Fresh messages from the project's own roles (one in-process exchange with
# random keys), so this test does not depend on t_ctl_mikey.sh running first.
# imgatectl writes each file under a temporary name and renames it.
CTL=$top_builddir/tools/imgatectl
if [ -x "$CTL" ]; then
	mkdir -p "$GEN" && "$CTL" demo --quiet --write-dir "$GEN" \
	    >"$tmp/demo.out" 2>&1 ||
		echo "# imgatectl demo failed: $(tail -1 "$tmp/demo.out")"
fi

: >"$tmp/names"
: >"$tmp/msgs.hex"
for f in "$DATA"/*.hex; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .hex)
	h=$(tr -d ' \t\r\n' <"$f" | tr 'A-F' 'a-f')
	printf '%s\n' "$name" >>"$tmp/names"
	printf '%s\n' "$h" >>"$tmp/msgs.hex"
done
if [ -d "$GEN" ]; then
	for f in "$GEN"/*.bin; do
		[ -f "$f" ] || continue
		[ -s "$f" ] || continue
		printf 'gen/%s\n' "$(basename "$f" .bin)" >>"$tmp/names"
		hex_of_file "$f" >>"$tmp/msgs.hex"
		echo >>"$tmp/msgs.hex"
	done
fi
nmsg=$(wc -l <"$tmp/names" | tr -d ' ')

# ---------------------------------------------------------------- load

if "$TSHARK" -G protocols -X "lua_script:$LUA" 2>>"$tmp/tshark.err" |
    grep -q '	mikeyt$'; then
	ok "mikey-ticket.lua loads and registers protocol mikeyt"
else
	not_ok "mikey-ticket.lua loads and registers protocol mikeyt" \
	    "$(cat "$tmp/tshark.err")"
fi
if grep -qi 'lua' "$tmp/tshark.err"; then
	not_ok "no Lua message while loading" "$(grep -i lua "$tmp/tshark.err")"
else
	ok "no Lua message while loading"
fi
if [ "$nmsg" -gt 0 ]; then
	ok "$nmsg test messages found"
else
	not_ok "test messages found" "none in $DATA or $GEN"
fi

mkpcap u 2269 2269 "$tmp/msgs.hex" "$tmp/msgs.pcap"
if [ -s "$tmp/msgs.pcap" ]; then
	ok "pcap written (${TEXT2PCAP:-awk writer})"
else
	not_ok "pcap written" "$(cat "$tmp/text2pcap.err" 2>/dev/null)"
fi

# ---------------------------------------------------------------- ours

FIELDS="frame.number mikeyt.complete mikeyt.chain mikeyt.payload
mikeyt.payload_count mikeyt.payload_total _ws.expert.message
mikeyt.hdr.version mikeyt.hdr.data_type mikeyt.hdr.v mikeyt.hdr.prf
mikeyt.hdr.csb_id mikeyt.hdr.cs_count mikeyt.hdr.map_type
mikeyt.srtp_id.policy_no mikeyt.srtp_id.ssrc mikeyt.srtp_id.roc
mikeyt.cs.id mikeyt.cs.prot_type mikeyt.cs.s mikeyt.cs.num_p
mikeyt.cs.policy_no mikeyt.cs.srtp.ssrc mikeyt.cs.srtp.roc mikeyt.cs.srtp.seq
mikeyt.cs.spi mikeyt.t.ts_type mikeyt.t.ntp mikeyt.t.counter
mikeyt.randr.role mikeyt.randr.data mikeyt.rand.data mikeyt.idr.role
mikeyt.idr.type mikeyt.idr.data mikeyt.idr.data_bytes mikeyt.id.type
mikeyt.id.data mikeyt.tr.role mikeyt.tr.ts_type mikeyt.tr.ntp
mikeyt.tr.interval mikeyt.tp.ticket_type mikeyt.tp.subtype mikeyt.tp.version
mikeyt.tp.prf mikeyt.tp.flag.D mikeyt.tp.flag.E mikeyt.tp.flag.F
mikeyt.tp.flag.G mikeyt.tp.flag.H mikeyt.tp.flag.I mikeyt.tp.flag.J
mikeyt.tp.flag.K mikeyt.tp.flag.L mikeyt.tp.flag.M mikeyt.tp.flag.N
mikeyt.tp.flag.O mikeyt.tp.data_len mikeyt.tp.first_payload
mikeyt.ticket.data_len mikeyt.ticket.init_data_len mikeyt.thdr.data_len
mikeyt.thdr.data mikeyt.ticket.init_first_payload mikeyt.kemac.encr_alg
mikeyt.kemac.encr_len mikeyt.kemac.mac_alg mikeyt.key.type mikeyt.key.kv
mikeyt.key.data mikeyt.key.salt mikeyt.kv.spi mikeyt.kv.valid_from
mikeyt.kv.valid_to mikeyt.v.auth_alg mikeyt.v.mac mikeyt.sp.policy_no
mikeyt.sp.prot_type mikeyt.sp.srtp.encr_alg mikeyt.sp.srtp.auth_alg
mikeyt.sp.srtp.aead_tag_len mikeyt.err.no mikeyt.cert.type mikeyt.cert.url
mikeyt.chash.func mikeyt.pke.c mikeyt.pke.len mikeyt.sign.type
mikeyt.sign.len mikeyt.dh.group mikeyt.ext.type mikeyt.ext.sdp_ids
mikeyt.ext.keyid.value mikeyt.sakke.params mikeyt.sakke.len"
eargs=
for x in $FIELDS; do eargs="$eargs -e $x"; done
# shellcheck disable=SC2086
tf -r "$tmp/msgs.pcap" $eargs >"$tmp/ours.tsv"
ts -r "$tmp/msgs.pcap" -V -O mikeyt >"$tmp/ours.V"

# split -V output per frame: $tmp/V.N
awk -v d="$tmp" '/^Frame [0-9]+:/ { if (f) close(f); k = $2; sub(":", "", k); f = d "/V." k }
	f { print > f }' "$tmp/ours.V"

# field FRAME NAME: value of field NAME in frame FRAME of FILE (default ours)
field() {
	awk -F '	' -v fr="$1" -v nm="$2" '
	NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
	$1 == fr { if (nm in col) print $(col[nm]); exit }' "${3:-$tmp/ours.tsv}"
}

# Top-level payload order per data type (RFC 6043 section 4.2 tables; RFC
# 3830 types and Error are checked less strictly).  EXT (General Extension,
# e.g. RFC 4567 SDP IDs) is tolerated before V.
grammar() {
	case $1 in
	11) echo '^HDR T RANDR( IDR){0,2} TP( IDR)?( EXT)* V$' ;;
	12) echo '^HDR T RANDR( IDR)?( CERT)*( IDR)? TP( CHASH)? PKE SIGN$' ;;
	13) echo '^HDR T( IDR)? TICKET KEMAC( EXT)* V$' ;;
	14) echo '^HDR T( RANDR)?( IDR){0,2}( SP)*( TICKET)?( KEMAC)?( EXT)* V$' ;;
	15) echo '^HDR T( RANDR)?( IDR)?( RANDR)?( SP)*( KEMAC)?( EXT)* V$' ;;
	16) echo '^HDR T RANDR( IDR){0,2} TICKET( IDR)?( EXT)* V$' ;;
	17) echo '^HDR T RANDR( IDR)?( CERT)*( IDR)? TICKET( CHASH)? PKE SIGN$' ;;
	18) echo '^HDR T( IDR)? KEMAC( IDR)?( RANDR)?( EXT)* V$' ;;
	6) echo '^HDR T( ERR)+( SP)*( V| SIGN)?$' ;;
	*) echo '^HDR( [A-Z]+)*$' ;;
	esac
}

# Expected values for the named test files: NAME<TAB>FIELD<TAB>VALUE
# (repeated fields joined with ",").
cat >"$tmp/expect" <<'EOF'
request_init_psk	mikeyt.payload	T,RANDR,IDR,IDR,TP,IDR,TR,TR,KEMAC,KEY,IDR,V
request_init_psk	mikeyt.hdr.data_type	11
request_init_psk	mikeyt.hdr.csb_id	0x11111111
request_init_psk	mikeyt.hdr.v	1
request_init_psk	mikeyt.hdr.map_type	1
request_init_psk	mikeyt.hdr.cs_count	0
request_init_psk	mikeyt.t.ntp	Jan  1, 2025 00:00:00.000000000 UTC
request_init_psk	mikeyt.randr.role	1
request_init_psk	mikeyt.randr.data	606162636465666768696a6b6c6d6e6f
request_init_psk	mikeyt.idr.role	1,3,1,2
request_init_psk	mikeyt.idr.data	sip:alice@example.com,sip:kms@example.com,sip:alice@example.com,sip:bob@example.com
request_init_psk	mikeyt.tp.ticket_type	1
request_init_psk	mikeyt.tp.data_len	95
request_init_psk	mikeyt.tp.flag.D	1
request_init_psk	mikeyt.tp.flag.E	1
request_init_psk	mikeyt.tp.flag.F	1
request_init_psk	mikeyt.tp.flag.G	1
request_init_psk	mikeyt.tp.flag.H	1
request_init_psk	mikeyt.tp.flag.I	0
request_init_psk	mikeyt.tp.flag.J	1
request_init_psk	mikeyt.tp.flag.K	0
request_init_psk	mikeyt.tp.flag.L	0
request_init_psk	mikeyt.tp.flag.M	0
request_init_psk	mikeyt.tp.flag.N	1
request_init_psk	mikeyt.tp.flag.O	1
request_init_psk	mikeyt.tr.role	2,3
request_init_psk	mikeyt.tr.ts_type	3,3
request_init_psk	mikeyt.tr.ntp	Jan  1, 2025 00:00:00.000000000 UTC,Jan  2, 2025 00:00:00.000000000 UTC
request_init_psk	mikeyt.kemac.encr_alg	0
request_init_psk	mikeyt.kemac.mac_alg	0
request_init_psk	mikeyt.key.type	0
request_init_psk	mikeyt.key.kv	1
request_init_psk	mikeyt.kv.spi	00000000
request_init_psk	mikeyt.v.auth_alg	1
request_init_psk	mikeyt.v.mac	0ea2461254d2c2124443ec3bcfdbb4d0d6d71114
request_resp	mikeyt.payload	T,IDR,TICKET,IDR,TR,TR,IDR,THDR,T,RAND,KEMAC,V,KEMAC,V
request_resp	mikeyt.hdr.data_type	13
request_resp	mikeyt.hdr.csb_id	0x11111111
request_resp	mikeyt.hdr.v	0
request_resp	mikeyt.idr.role	3,1,2
request_resp	mikeyt.idr.data	sip:kms@example.com,sip:alice@example.com,sip:bob@example.com
request_resp	mikeyt.tp.flag.F	1
request_resp	mikeyt.tp.data_len	65
request_resp	mikeyt.ticket.data_len	108
request_resp	mikeyt.ticket.init_data_len	0
request_resp	mikeyt.thdr.data_len	0
request_resp	mikeyt.rand.data	505152535455565758595a5b5c5d5e5f
request_resp	mikeyt.kemac.encr_alg	1,1
request_resp	mikeyt.kemac.encr_len	50,50
request_resp	mikeyt.kemac.mac_alg	0,0
request_resp	mikeyt.v.auth_alg	1,1
request_resp	mikeyt.v.mac	ba38d85473626fd860bcd136d5826cfa05b3e91e,70f6e206d362b61b4acbac506d1efdf015f1a4c1
transfer_init	mikeyt.payload	T,RANDR,IDR,IDR,SP,TICKET,IDR,TR,TR,IDR,THDR,T,RAND,KEMAC,V,V
transfer_init	mikeyt.hdr.data_type	14
transfer_init	mikeyt.hdr.csb_id	0x22222222
transfer_init	mikeyt.hdr.v	1
transfer_init	mikeyt.hdr.cs_count	1
transfer_init	mikeyt.hdr.map_type	2
transfer_init	mikeyt.cs.id	1
transfer_init	mikeyt.cs.prot_type	0
transfer_init	mikeyt.cs.s	0
transfer_init	mikeyt.cs.num_p	1
transfer_init	mikeyt.cs.policy_no	0
transfer_init	mikeyt.cs.srtp.ssrc	0xcafe0001
transfer_init	mikeyt.cs.spi	00000001
transfer_init	mikeyt.randr.role	1
transfer_init	mikeyt.randr.data	909192939495969798999a9b9c9d9e9f
transfer_init	mikeyt.idr.role	1,2,1,2
transfer_init	mikeyt.idr.data	sip:alice@example.com,sip:bob@example.com,sip:alice@example.com,sip:bob@example.com
transfer_init	mikeyt.sp.policy_no	0
transfer_init	mikeyt.sp.srtp.encr_alg	1
transfer_init	mikeyt.sp.srtp.auth_alg	1
transfer_init	mikeyt.tp.flag.F	1
transfer_init	mikeyt.ticket.init_data_len	0
transfer_init	mikeyt.v.mac	ba38d85473626fd860bcd136d5826cfa05b3e91e,74375cefd4bfa0f002c67abdd28ebb6ea46051a7
resolve_init_psk	mikeyt.payload	T,RANDR,IDR,IDR,TICKET,IDR,TR,TR,IDR,THDR,T,RAND,KEMAC,V,V
resolve_init_psk	mikeyt.hdr.data_type	16
resolve_init_psk	mikeyt.hdr.csb_id	0x33333333
resolve_init_psk	mikeyt.hdr.v	1
resolve_init_psk	mikeyt.randr.role	2
resolve_init_psk	mikeyt.randr.data	a0a1a2a3a4a5a6a7a8a9aaabacadaeaf
resolve_init_psk	mikeyt.idr.role	2,3,1,2
resolve_init_psk	mikeyt.idr.data	sip:bob@example.com,sip:kms@example.com,sip:alice@example.com,sip:bob@example.com
resolve_init_psk	mikeyt.v.mac	ba38d85473626fd860bcd136d5826cfa05b3e91e,629303851304db460fc33b805f52bac2d6ce2cec
resolve_resp	mikeyt.payload	T,IDR,KEMAC,V
resolve_resp	mikeyt.hdr.data_type	18
resolve_resp	mikeyt.hdr.csb_id	0x33333333
resolve_resp	mikeyt.hdr.v	0
resolve_resp	mikeyt.idr.role	3
resolve_resp	mikeyt.idr.data	sip:kms@example.com
resolve_resp	mikeyt.kemac.encr_alg	1
resolve_resp	mikeyt.kemac.encr_len	50
resolve_resp	mikeyt.v.mac	2df5e44c4b1168ebf4bb1f2cb4bce804eab460e0
transfer_resp	mikeyt.payload	T,RANDR,IDR,V
transfer_resp	mikeyt.hdr.data_type	15
transfer_resp	mikeyt.hdr.csb_id	0x22222222
transfer_resp	mikeyt.hdr.v	0
transfer_resp	mikeyt.cs.num_p	1
transfer_resp	mikeyt.cs.srtp.ssrc	0xcafe0001
transfer_resp	mikeyt.cs.spi	00000001
transfer_resp	mikeyt.randr.role	2
transfer_resp	mikeyt.randr.data	707172737475767778797a7b7c7d7e7f
transfer_resp	mikeyt.idr.role	2
transfer_resp	mikeyt.idr.data	sip:bob@example.com
transfer_resp	mikeyt.v.mac	957b661c6b0f73cb668f081a4e7a3c0677457b2e
error_empty_map	mikeyt.payload	T,ERR,ERR,V
error_empty_map	mikeyt.hdr.data_type	6
error_empty_map	mikeyt.hdr.map_type	1
error_empty_map	mikeyt.err.no	1,14
rfc3830_psk	mikeyt.payload	T,RAND,IDR,ID,SP,KEMAC,KEY,V
rfc3830_psk	mikeyt.hdr.data_type	0
rfc3830_psk	mikeyt.srtp_id.ssrc	0xcafe0002
rfc3830_psk	mikeyt.t.ntp	Jan  1, 2025 00:00:07.500000000 UTC
rfc3830_psk	mikeyt.id.data	donald@duck.com
rfc3830_psk	mikeyt.key.type	3
rfc3830_psk	mikeyt.key.salt	e0e1e2e3e4e5e6e7e8e9eaebeced
request_init_pk	mikeyt.payload	T,RANDR,IDR,CERT,CERT,IDR,TP,IDR,TR,TR,KEMAC,KEY,KEY,IDR,CHASH,PKE,SIGN
request_init_pk	mikeyt.hdr.data_type	12
request_init_pk	mikeyt.hdr.prf	1
request_init_pk	mikeyt.t.ts_type	3
request_init_pk	mikeyt.t.ntp	Jan  1, 2025 00:00:08.000000000 UTC
request_init_pk	mikeyt.tp.prf	1
request_init_pk	mikeyt.tp.flag.I	1
request_init_pk	mikeyt.tp.flag.K	0
request_init_pk	mikeyt.tp.flag.L	1
request_init_pk	mikeyt.tp.flag.M	1
request_init_pk	mikeyt.idr.role	1,3,5,2
request_init_pk	mikeyt.tr.role	4,1
request_init_pk	mikeyt.tr.interval	3600
request_init_pk	mikeyt.tr.ntp	Jan  1, 2025 00:00:08.250000000 UTC
request_init_pk	mikeyt.key.type	5,6
request_init_pk	mikeyt.key.kv	2,1
request_init_pk	mikeyt.kv.valid_from	000000000001
request_init_pk	mikeyt.kv.valid_to	0000ffffffff
request_init_pk	mikeyt.cert.url	http://example.com/alice.der
request_init_pk	mikeyt.chash.func	2
request_init_pk	mikeyt.pke.c	1
request_init_pk	mikeyt.pke.len	16
request_init_pk	mikeyt.sign.type	1
request_init_pk	mikeyt.sign.len	32
dh_init	mikeyt.payload	T,RAND,ID,EXT,EXT,SAKKE,SP,DH,SIGN
dh_init	mikeyt.hdr.cs_count	2
dh_init	mikeyt.srtp_id.ssrc	0x11110001,0x11110002
dh_init	mikeyt.srtp_id.roc	0,7
dh_init	mikeyt.t.counter	1
dh_init	mikeyt.ext.sdp_ids	mikey;keyp1
dh_init	mikeyt.ext.keyid.value	deadbeef
dh_init	mikeyt.sakke.len	16
dh_init	mikeyt.sp.srtp.encr_alg	6
dh_init	mikeyt.sp.srtp.aead_tag_len	16
dh_init	mikeyt.dh.group	1
dh_init	mikeyt.kv.spi	00000003
dh_init	mikeyt.sign.type	2
transfer_init_fork	mikeyt.payload	T,RANDR,TICKET,IDR,THDR,T,RAND,KEMAC,IDR,V,V,V,KEMAC,V
transfer_init_fork	mikeyt.cs.s	1
transfer_init_fork	mikeyt.cs.srtp.roc	1
transfer_init_fork	mikeyt.cs.srtp.seq	2
transfer_init_fork	mikeyt.thdr.data	abcd
transfer_init_fork	mikeyt.tp.flag.I	1
transfer_init_fork	mikeyt.ticket.init_data_len	69
transfer_init_fork	mikeyt.ticket.init_first_payload	9
transfer_init_fork	mikeyt.idr.type	1,2
transfer_init_fork	mikeyt.idr.data_bytes	01020304
transfer_init_fork	mikeyt.kemac.encr_alg	3,3
transfer_init_fork	mikeyt.v.auth_alg	2,2,2,2
resolve_init_pk_t2	mikeyt.payload	T,RANDR,IDR,CERT,IDR,TICKET,CHASH,PKE,SIGN
resolve_init_pk_t2	mikeyt.tp.ticket_type	2
resolve_init_pk_t2	mikeyt.tp.data_len	0
resolve_init_pk_t2	mikeyt.ticket.data_len	8
resolve_init_pk_t2	mikeyt.cert.type	3
error_ticket	mikeyt.payload	T,ERR,ERR,ERR,SP
error_ticket	mikeyt.err.no	13,15,12
EOF

i=0
while IFS= read -r name; do
	i=$((i + 1))
	V=$tmp/V.$i
	[ -f "$V" ] || : >"$V"
	complete=$(field "$i" mikeyt.complete)
	bad=$(grep -n -E 'Malformed|Lua Error|Unknown \(|Expert Info|Text item|Dissector bug' "$V")
	if [ "$complete" = 1 ] && [ -z "$bad" ]; then
		ok "$name: decoded completely, nothing malformed or unknown"
	else
		not_ok "$name: decoded completely, nothing malformed or unknown" \
		    "got  mikeyt.complete=$complete $(field "$i" _ws.expert.message)" \
		    "want mikeyt.complete=1" "$bad"
	fi
	count=$(field "$i" mikeyt.payload_count)
	chain=$(field "$i" mikeyt.chain)
	words=$(echo "$chain" | awk '{ print NF - 1 }')
	check "$name: payload count $count matches the chain" "$words" "$count"
	dt=$(field "$i" mikeyt.hdr.data_type)
	re=$(grammar "$dt")
	if echo "$chain" | grep -qE "$re"; then
		ok "$name: payload order fits data type $dt ($chain)"
	else
		not_ok "$name: payload order fits data type $dt" \
		    "got  $chain" "want $re"
	fi
	nexp=0
	bad=
	while IFS='	' read -r ename efield evalue; do
		[ "$ename" = "$name" ] || continue
		nexp=$((nexp + 1))
		got=$(field "$i" "$efield")
		[ "$got" = "$evalue" ] ||
			bad="$bad
$efield: got $got, want $evalue"
	done <"$tmp/expect"
	if [ "$nexp" -gt 0 ]; then
		if [ -z "$bad" ]; then
			ok "$name: $nexp expected field values"
		else
			not_ok "$name: $nexp expected field values" "${bad#?}"
		fi
	fi
done <"$tmp/names"

for want in request_init_psk request_resp transfer_init resolve_init_psk \
    resolve_resp transfer_resp; do
	grep -qx "$want" "$tmp/names" && continue
	not_ok "spec section 11.3 message $want present" "missing $DATA/$want.hex"
done

# ---------------------------------------------------------------- built-in

# Same capture, built-in dissector forced on the port while the Lua script
# is loaded: this also shows the script leaves "mikey" usable.
PAIRS="mikey.type=mikeyt.hdr.data_type mikey.csb_id=mikeyt.hdr.csb_id
mikey.prf_func=mikeyt.hdr.prf mikey.v.set=mikeyt.hdr.v
mikey.cs_count=mikeyt.hdr.cs_count mikey.cs_id_map_type=mikeyt.hdr.map_type
mikey.srtp_id.policy_no=mikeyt.srtp_id.policy_no
mikey.srtp_id.ssrc=mikeyt.srtp_id.ssrc mikey.t.ts_type=mikeyt.t.ts_type
mikey.t.ntp=mikeyt.t.ntp mikey.rand.len=mikeyt.rand.len
mikey.rand.data=mikeyt.rand.data mikey.id.role=mikeyt.idr.role
mikey.id.type=mikeyt.idr.type+mikeyt.id.type
mikey.id.len=mikeyt.idr.len+mikeyt.id.len
mikey.id.data=mikeyt.idr.data+mikeyt.id.data mikey.err.no=mikeyt.err.no
mikey.sp.no=mikeyt.sp.policy_no mikey.sp.proto_type=mikeyt.sp.prot_type
mikey.sp.param_len=mikeyt.sp.param_len
mikey.sp.encr_alg=mikeyt.sp.srtp.encr_alg
mikey.sp.encr_len=mikeyt.sp.srtp.encr_key_len
mikey.sp.auth_alg=mikeyt.sp.srtp.auth_alg
mikey.sp.auth_key_len=mikeyt.sp.srtp.auth_key_len
mikey.sp.salt_len=mikeyt.sp.srtp.salt_len
mikey.sp.auth_tag_len=mikeyt.sp.srtp.auth_tag_len
mikey.kemac.encr_alg=mikeyt.kemac.encr_alg
mikey.kemac.key_data_len=mikeyt.kemac.encr_len
mikey.kemac.mac_alg=mikeyt.kemac.mac_alg mikey.kemac.mac=mikeyt.kemac.mac
mikey.key.type=mikeyt.key.type mikey.key.kv=mikeyt.key.kv
mikey.key.data=mikeyt.key.data mikey.key.salt=mikeyt.key.salt
mikey.key.kv.spi=mikeyt.kv.spi mikey.v.auth_alg=mikeyt.v.auth_alg
mikey.v.ver_data=mikeyt.v.mac"
bargs=
oargs=
for pr in $PAIRS; do
	bargs="$bargs -e ${pr%%=*}"
	for o in $(echo "${pr#*=}" | tr + ' '); do oargs="$oargs -e $o"; done
done
# shellcheck disable=SC2086
tf -d udp.port==2269,mikey -r "$tmp/msgs.pcap" -e frame.number $bargs \
    -e mikeyt.hdr.data_type >"$tmp/builtin.tsv"
# shellcheck disable=SC2086
tf -r "$tmp/msgs.pcap" -e frame.number $oargs >"$tmp/pairs.tsv"
ts -d udp.port==2269,mikey -r "$tmp/msgs.pcap" -V -O mikey >"$tmp/builtin.V"
awk -v d="$tmp" '/^Frame [0-9]+:/ { if (f) close(f); k = $2; sub(":", "", k); f = d "/B." k }
	f { print > f }' "$tmp/builtin.V"

nb=$(awk -F '	' 'NR > 1 && $2 != "" { c++ } END { print c + 0 }' "$tmp/builtin.tsv")
no=$(awk -F '	' 'NR > 1 && $NF != "" { c++ } END { print c + 0 }' "$tmp/builtin.tsv")
if [ "$nb" = "$nmsg" ] && [ "$no" = 0 ]; then
	ok "-d udp.port==2269,mikey selects the built-in dissector with the script loaded"
else
	not_ok "-d udp.port==2269,mikey selects the built-in dissector with the script loaded" \
	    "got  $nb of $nmsg frames with mikey.type, $no with mikeyt" \
	    "want $nmsg and 0"
fi

# Frames the built-in decodes fully: reached a Last payload or SIGN, nothing
# malformed, no undecoded "Text item", and no unknown value except in fields
# whose length does not depend on it.
builtin_full() {	# FRAME
	B=$tmp/B.$1
	[ -f "$B" ] || return 1
	grep -q -E 'Malformed|Text item|Lua Error' "$B" && return 1
	grep 'Unknown (' "$B" | grep -v -E \
	    'Data Type:|PRF func:|Error no\.:|Type: Unknown|ID role:|CS ID map type: Unknown \(1\)' \
	    | grep -q . && return 1
	if grep -q 'CS ID map type: Unknown' "$B" && ! grep -q '#CS: 0$' "$B"; then
		return 1
	fi
	grep -q -E 'Next Payload: Last payload \(0\)|Signature \(SIGN\)' "$B"
}

i=0
ncompared=0
while IFS= read -r name; do
	i=$((i + 1))
	if ! builtin_full "$i"; then
		case $name in
		error_empty_map|rfc3830_psk|resolve_resp)
			not_ok "built-in decodes $name fully" \
			    "$(grep -E 'Malformed|Text item|Unknown \(' "$tmp/B.$i")" ;;
		esac
		continue
	fi
	ncompared=$((ncompared + 1))
	k=0
	bad=
	for pr in $PAIRS; do
		# the built-in prints zero-length byte fields as <MISSING>
		b=$(field "$i" "${pr%%=*}" "$tmp/builtin.tsv" | sed 's/<MISSING>//g')
		o=
		for x in $(echo "${pr#*=}" | tr + ' '); do
			v=$(field "$i" "$x" "$tmp/pairs.tsv")
			[ -n "$v" ] && o=${o:+$o,}$v
		done
		[ -z "$b" ] && [ -z "$o" ] && continue
		k=$((k + 1))
		[ "$b" = "$o" ] || bad="$bad
${pr%%=*}: built-in $b, mikeyt $o"
	done
	if [ -z "$bad" ] && [ "$k" -ge 5 ]; then
		ok "built-in and mikeyt agree on $name ($k fields)"
	else
		not_ok "built-in and mikeyt agree on $name ($k fields)" "${bad#?}"
	fi
done <"$tmp/names"
if [ "$ncompared" -ge 3 ]; then
	ok "$ncompared messages compared with the built-in dissector"
else
	not_ok "messages compared with the built-in dissector" \
	    "got  $ncompared" "want at least 3"
fi

# ---------------------------------------------------------------- TCP

mkpcap t 40000 2269 "$tmp/msgs.hex" "$tmp/tcp.pcap"
tf -r "$tmp/tcp.pcap" -e frame.number -e mikeyt.complete >"$tmp/tcp.tsv"
got=$(awk -F '	' 'NR > 1 && $2 == 1 { c++ } END { print c + 0 }' "$tmp/tcp.tsv")
check "TCP port 2269: every message decoded by mikeyt" "$got" "$nmsg"

# ---------------------------------------------------------------- carriers

hexof() { tr -d ' \t\r\n' <"$DATA/$1.hex"; }
if [ -f "$DATA/request_init_psk.hex" ] && [ -f "$DATA/transfer_init.hex" ]; then
	CRLF=$(printf '\r\n_'); CRLF=${CRLF%_}
	rip=$(hexof request_init_psk)
	tin=$(hexof transfer_init)

	# HTTP POST with an application/mikey body (TCP 80)
	hdr="POST /mikey HTTP/1.1${CRLF}Host: kms.example.com${CRLF}Content-Type: application/mikey${CRLF}Content-Length: $((${#rip} / 2))${CRLF}${CRLF}"
	printf '%s%s\n' "$(hex_of_text "$hdr")" "$rip" >"$tmp/http.hex"
	mkpcap t 40000 80 "$tmp/http.hex" "$tmp/http.pcap"
	tf -r "$tmp/http.pcap" -e mikeyt.hdr.data_type -e mikeyt.complete >"$tmp/http.tsv"
	check "HTTP body application/mikey decoded by mikeyt" \
	    "$(sed -n 2p "$tmp/http.tsv")" "11	1"

	# SIP MESSAGE with a multipart/mixed body, one part application/mikey;
	# SIP INVITE with SDP a=key-mgmt:mikey <base64> (UDP 5060)
	pre="--imgate${CRLF}Content-Type: text/plain${CRLF}${CRLF}hello${CRLF}--imgate${CRLF}Content-Type: application/mikey${CRLF}Content-Transfer-Encoding: binary${CRLF}${CRLF}"
	post="${CRLF}--imgate--${CRLF}"
	body=$(hex_of_text "$pre")$tin$(hex_of_text "$post")
	sip="MESSAGE sip:bob@example.com SIP/2.0${CRLF}Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1${CRLF}Max-Forwards: 70${CRLF}From: <sip:alice@example.com>;tag=1${CRLF}To: <sip:bob@example.com>${CRLF}Call-ID: t1@example.com${CRLF}CSeq: 1 MESSAGE${CRLF}Content-Type: multipart/mixed;boundary=imgate${CRLF}Content-Length: $((${#body} / 2))${CRLF}${CRLF}"
	printf '%s%s\n' "$(hex_of_text "$sip")" "$body" >"$tmp/sip.hex"
	if command -v base64 >/dev/null 2>&1; then
		b64=$(printf '%s\n' "$tin" | hex_to_bin | base64 | tr -d '\n')
		sdp="v=0${CRLF}o=alice 1 1 IN IP4 192.0.2.1${CRLF}s=-${CRLF}c=IN IP4 192.0.2.1${CRLF}t=0 0${CRLF}a=key-mgmt:mikey $b64${CRLF}m=audio 49170 RTP/SAVP 0${CRLF}"
		inv="INVITE sip:bob@example.com SIP/2.0${CRLF}Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK2${CRLF}Max-Forwards: 70${CRLF}From: <sip:alice@example.com>;tag=2${CRLF}To: <sip:bob@example.com>${CRLF}Call-ID: t2@example.com${CRLF}CSeq: 1 INVITE${CRLF}Contact: <sip:alice@192.0.2.1>${CRLF}Content-Type: application/sdp${CRLF}Content-Length: ${#sdp}${CRLF}${CRLF}$sdp"
		hex_of_text "$inv" >>"$tmp/sip.hex"
		echo >>"$tmp/sip.hex"
	fi
	mkpcap u 5060 5060 "$tmp/sip.hex" "$tmp/sip.pcap"
	tf -r "$tmp/sip.pcap" -e frame.number -e mikeyt.hdr.data_type -e mikeyt.complete \
	    >"$tmp/sip.tsv"
	check "SIP multipart/mixed part application/mikey decoded by mikeyt" \
	    "$(sed -n 2p "$tmp/sip.tsv")" "1	14	1"
	if [ -n "${b64:-}" ]; then
		check "SDP a=key-mgmt:mikey decoded by mikeyt" \
		    "$(sed -n 3p "$tmp/sip.tsv")" "2	14	1"
	fi

	# "decode as" on another port
	printf '%s\n' "$rip" >"$tmp/other.hex"
	mkpcap u 40000 5000 "$tmp/other.hex" "$tmp/other.pcap"
	tf -d udp.port==5000,mikeyt -r "$tmp/other.pcap" -e mikeyt.hdr.data_type \
	    -e mikeyt.complete >"$tmp/other.tsv"
	check "-d udp.port==5000,mikeyt decodes on another port" \
	    "$(sed -n 2p "$tmp/other.tsv")" "11	1"
fi

# ---------------------------------------------------------------- robustness

# Every strict prefix of every message (must be flagged malformed), then
# every message with each byte inverted in turn (anything but a Lua error).
awk '{
	m = length($0) / 2
	for (l = 1; l < m; l++) print "p " substr($0, 1, 2 * l)
}' "$tmp/msgs.hex" >"$tmp/cut.lst"
awk 'BEGIN { h = "0123456789abcdef" }
{
	m = length($0) / 2
	for (j = 0; j < m; j++) {
		v = (index(h, substr($0, 2 * j + 1, 1)) - 1) * 16 + index(h, substr($0, 2 * j + 2, 1)) - 1
		print "m " substr($0, 1, 2 * j) sprintf("%02x", 255 - v) substr($0, 2 * j + 3)
	}
}' "$tmp/msgs.hex" >>"$tmp/cut.lst"
cut -c3- "$tmp/cut.lst" >"$tmp/cut.hex"
mkpcap u 2269 2269 "$tmp/cut.hex" "$tmp/cut.pcap"
tf -r "$tmp/cut.pcap" -e frame.number -e mikeyt.complete -e mikeyt.hdr.version \
    -e _ws.expert.message -e _ws.lua.error -e _ws.malformed.expert \
    -e _ws.malformed.dissector_bug >"$tmp/cut.tsv"
res=$(awk -F '	' '
	NR == FNR { kind[FNR] = substr($0, 1, 1); next }
	FNR == 1 { next }
	{
		fr = $1; seen++
		if ($2 == "") nocomp++
		if ($5 != "" || $6 != "" || $7 != "") luaerr++
		if (kind[fr] == "p") {
			np++
			if ($2 != 0 || $4 !~ /Malformed:/) pbad++
		} else {
			nm++
			if ($2 == 0 && $4 !~ /(Malformed|Undecodable):/) mbad++
		}
	}
	END { printf "%d %d %d %d %d %d %d\n", seen, np, nm, nocomp, luaerr, pbad, mbad }
' "$tmp/cut.lst" "$tmp/cut.tsv")
set -- $res
total=$(wc -l <"$tmp/cut.lst" | tr -d ' ')
check "robustness: all $total cut and mutated messages dissected" "$1" "$total"
check "robustness: mikeyt ran to its end on every frame (no uncaught error)" "$4" 0
check "robustness: no Lua error, no framework Malformed" "$5" 0
check "robustness: all $2 strict prefixes flagged malformed" "$6" 0
check "robustness: all $3 mutations decoded or flagged" "$7" 0

if grep -qi 'lua' "$tmp/tshark.err"; then
	not_ok "no Lua message from tshark" "$(grep -i lua "$tmp/tshark.err" | head -20)"
else
	ok "no Lua message from tshark"
fi

echo "1..$n"
[ "$fail" -eq 0 ]
