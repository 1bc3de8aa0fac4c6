-- mikey-ticket.lua - Wireshark/tshark dissector for MIKEY (RFC 3830) and
-- MIKEY-TICKET (RFC 6043), with the registry additions of RFC 4563, 4650,
-- 4738, 6509 and 7714 that a capture may contain.
--
-- Protocol "mikeyt", every field filterable under "mikeyt.".  Layouts and
-- value names follow the project digest spec/mikey-ticket.md sections 2-6.
--
-- Use:
--   tshark -X lua_script:dissector/mikey-ticket.lua -r capture.pcap -V
--   wireshark -X lua_script:dissector/mikey-ticket.lua capture.pcap
-- or copy the file to the personal Lua plugins folder.
--
-- Registration: UDP and TCP port 2269 (replaces the built-in "mikey" there),
-- media type application/mikey (HTTP bodies, multipart parts such as a
-- multipart/mixed SIP body) and the SDP key-mgmt protocol id "mikey"
-- (a=key-mgmt:mikey <base64>).  The built-in dissector stays registered under
-- its own name: "-d udp.port==2269,mikey" still selects it, and
-- "-d udp.port==N,mikeyt" selects this one on any other port.
--
-- Robustness: every length is checked before it is read.  A message that is
-- cut short or inconsistent gets the expert info "mikeyt.malformed" and the
-- dissection stops there; a payload type or an algorithm whose length cannot
-- be known (unknown payload type, TS type, MAC/Auth alg, hash func, DH group,
-- KV type, or a CS ID map type other than 0-2 with #CS > 0) gets
-- "mikeyt.unknown" and stops.  Nothing raises a Lua error.  Protocol-level
-- oddities that do not stop the walk (ticket policy flag dependencies of
-- RFC 6043 section 6.10, SRTP session data length, version) get
-- "mikeyt.warning".
--
-- Nested chains: TP Data (first-payload byte, chain), Ticket Data of ticket
-- type 1 subtype 1 version 1 (THDR, then T, RAND, KEMAC, [IDRpsk], V),
-- Initiator Data (first-payload byte, Vi, Vr; Vi may carry Next Payload 0 or
-- 9), and the key data sub-payloads of a KEMAC with Encr alg NULL.  Other
-- ticket types and encrypted KEMAC data are shown as bytes.
--
-- Generated fields for tests and filters:
--   mikeyt.payload        short name of every payload, in wire order,
--                         nested ones (TP Data, Ticket Data, key data) too
--   mikeyt.chain          the top-level chain, e.g. "HDR T RANDR IDR TP V"
--   mikeyt.payload_count  payloads in the top-level chain (HDR not counted)
--   mikeyt.payload_total  all payloads incl. nested ones (HDR not counted)
--   mikeyt.complete       true when the whole message was decoded to its
--                         Last payload with no byte left over
--
-- Field naming: mikeyt.<payload>.<field>, e.g. mikeyt.hdr.data_type,
-- mikeyt.idr.role, mikeyt.idr.data, mikeyt.v.mac.  The ticket policy part of
-- TP and TICKET shares mikeyt.tp.* (mikeyt.tp.flag.F is the F flag of either);
-- mikeyt.ticket.* are the TICKET-only fields.  mikeyt.next_payload is the
-- Next Payload byte of every payload.

local p = Proto("mikeyt", "MIKEY and MIKEY-TICKET (RFC 3830, RFC 6043)")

---------------------------------------------------------------------------
-- Value tables
---------------------------------------------------------------------------

local PT_NAMES = {
    [0] = "Last payload", [1] = "Key Data Transport (KEMAC)",
    [2] = "Envelope Data (PKE)", [3] = "DH Data (DH)",
    [4] = "Signature (SIGN)", [5] = "Timestamp (T)", [6] = "ID",
    [7] = "Certificate (CERT)", [8] = "Cert Hash (CHASH)",
    [9] = "Verification (V)", [10] = "Security Policy (SP)", [11] = "RAND",
    [12] = "Error (ERR)", [13] = "Timestamp with Role (TR)",
    [14] = "ID with Role (IDR)", [15] = "RAND with Role (RANDR)",
    [16] = "Ticket Policy (TP)", [17] = "Ticket (TICKET)",
    [20] = "Key Data", [21] = "General Extension",
    [26] = "SAKKE Encapsulated Data (SAKKE)",
}
local PT_SHORT = {
    [1] = "KEMAC", [2] = "PKE", [3] = "DH", [4] = "SIGN", [5] = "T",
    [6] = "ID", [7] = "CERT", [8] = "CHASH", [9] = "V", [10] = "SP",
    [11] = "RAND", [12] = "ERR", [13] = "TR", [14] = "IDR", [15] = "RANDR",
    [16] = "TP", [17] = "TICKET", [20] = "KEY", [21] = "EXT", [26] = "SAKKE",
}

local DATA_TYPES = {
    [0] = "Pre-shared (PSK I_MESSAGE)", [1] = "PSK ver msg (PSK R_MESSAGE)",
    [2] = "Public key (PK I_MESSAGE)", [3] = "PK ver msg (PK R_MESSAGE)",
    [4] = "D-H init", [5] = "D-H resp", [6] = "Error",
    [7] = "DHHMAC init", [8] = "DHHMAC resp",
    [9] = "RSA-R I_MSG", [10] = "RSA-R R_MSG",
    [11] = "REQUEST_INIT_PSK", [12] = "REQUEST_INIT_PK",
    [13] = "REQUEST_RESP", [14] = "TRANSFER_INIT", [15] = "TRANSFER_RESP",
    [16] = "RESOLVE_INIT_PSK", [17] = "RESOLVE_INIT_PK",
    [18] = "RESOLVE_RESP",
    [26] = "SAKKE msg", [27] = "CS ID map update",
}
local PRF_FUNCS = { [0] = "MIKEY-1", [1] = "PRF-HMAC-SHA-256" }
local MAP_TYPES = { [0] = "SRTP-ID", [1] = "Empty map", [2] = "GENERIC-ID" }
-- 241: imgate's private-use value (RFC 3830 10) for a CMS (S/MIME) session
local PROT_TYPES = { [0] = "SRTP", [241] = "imgate CMS (private use)" }
local ENCR_ALGS = { [0] = "NULL", [1] = "AES-CM-128", [2] = "AES-KW-128",
                    [3] = "AES-CM-256" }
local MAC_ALGS = { [0] = "NULL", [1] = "HMAC-SHA-1-160",
                   [2] = "HMAC-SHA-256-256" }
local MAC_LEN = { [0] = 0, [1] = 20, [2] = 32 }
local KEY_TYPES = { [0] = "TGK", [1] = "TGK+SALT", [2] = "TEK",
                    [3] = "TEK+SALT", [4] = "GTGK", [5] = "GTGK+SALT",
                    [6] = "MPK" }
local KEY_HAS_SALT = { [1] = true, [3] = true, [5] = true }
local KV_TYPES = { [0] = "Null", [1] = "SPI/MKI", [2] = "Interval" }
local PKE_CACHE = { [0] = "No cache", [1] = "Cache",
                    [2] = "Cache for this CSB only", [3] = "Reserved" }
local DH_GROUPS = { [0] = "OAKLEY 5", [1] = "OAKLEY 1", [2] = "OAKLEY 2" }
local DH_LEN = { [0] = 192, [1] = 96, [2] = 128 }
local SIGN_TYPES = { [0] = "RSA/PKCS#1/1.5", [1] = "RSA/PSS", [2] = "ECCSI" }
local TS_TYPES = { [0] = "NTP-UTC", [1] = "NTP", [2] = "COUNTER",
                   [3] = "NTP-UTC-32" }
local TS_LEN = { [0] = 8, [1] = 8, [2] = 4, [3] = 4 }
local ID_TYPES = { [0] = "NAI", [1] = "URI", [2] = "Byte string" }
local CERT_TYPES = { [0] = "X.509v3", [1] = "X.509v3 URL",
                     [2] = "X.509v3 Sign", [3] = "X.509v3 Encr" }
local HASH_FUNCS = { [0] = "SHA-1", [1] = "MD5", [2] = "SHA-256" }
local HASH_LEN = { [0] = 20, [1] = 16, [2] = 32 }
local SRTP_PARAMS = {
    [0] = "Encryption algorithm", [1] = "Session encryption key length",
    [2] = "Authentication algorithm", [3] = "Session auth. key length",
    [4] = "Session salt key length", [5] = "SRTP PRF",
    [6] = "Key derivation rate", [7] = "SRTP encryption off/on",
    [8] = "SRTCP encryption off/on", [9] = "Sender's FEC order",
    [10] = "SRTP authentication off/on", [11] = "Authentication tag length",
    [12] = "SRTP prefix length", [20] = "AEAD authentication tag length",
}
local SRTP_ENCR = { [0] = "NULL", [1] = "AES-CM", [2] = "AES-F8",
                    [6] = "AES-GCM" }
local SRTP_AUTH = { [0] = "NULL", [1] = "HMAC-SHA-1" }
local SRTP_PRF = { [0] = "AES-CM" }
local ONOFF = { [0] = "Off", [1] = "On" }
local FEC_ORDER = { [0] = "FEC-SRTP" }
local ERRORS = {
    [0] = "Authentication failure", [1] = "Invalid timestamp",
    [2] = "PRF function not supported", [3] = "MAC algorithm not supported",
    [4] = "Encryption algorithm not supported",
    [5] = "Hash function not supported", [6] = "DH group not supported",
    [7] = "ID not supported", [8] = "Certificate not supported",
    [9] = "SP type not supported", [10] = "SP parameters not supported",
    [11] = "Data type not supported", [12] = "Unspecified error",
    [13] = "Unsupported message type", [14] = "Invalid TICKET",
    [15] = "Invalid TPpar",
}
local TS_ROLES = { [0] = "Reserved", [1] = "Time of issue (TRi)",
                   [2] = "Start of validity period (TRs)",
                   [3] = "End of validity period (TRe)",
                   [4] = "Rekeying interval (TRr)", [255] = "Reserved" }
local ID_ROLES = { [0] = "Reserved", [1] = "Initiator (IDRi)",
                   [2] = "Responder (IDRr)", [3] = "KMS (IDRkms)",
                   [4] = "Pre-Shared Key (IDRpsk)",
                   [5] = "Application (IDRapp)",
                   [6] = "Initiator's KMS (IDRkmsi)",
                   [7] = "Responder's KMS (IDRkmsr)", [255] = "Reserved" }
local RAND_ROLES = { [0] = "Reserved", [1] = "Initiator (RANDRi)",
                     [2] = "Responder (RANDRr)", [3] = "KMS (RANDRkms)",
                     [255] = "Reserved" }
local TICKET_TYPES = { [0] = "Reserved", [1] = "MIKEY base ticket",
                       [2] = "3GPP base ticket", [65535] = "Reserved" }
local EXT_TYPES = { [0] = "Vendor ID", [1] = "SDP IDs", [3] = "Key ID",
                    [5] = "OMA BCAST" }
local SAKKE_PARAMS = { [1] = "Parameter Set 1" }
local SAKKE_ID_SCHEMES = { [1] = "tel URI with monthly keys" }

---------------------------------------------------------------------------
-- Fields
---------------------------------------------------------------------------

local f = {}
local function uint8(abbr, name, vs, mask, b)
    f[abbr] = ProtoField.uint8("mikeyt." .. abbr, name, b or base.DEC, vs, mask)
end
local function uint16(abbr, name, vs, mask, b)
    f[abbr] = ProtoField.uint16("mikeyt." .. abbr, name, b or base.DEC, vs, mask)
end
local function uint32(abbr, name, vs, b)
    f[abbr] = ProtoField.uint32("mikeyt." .. abbr, name, b or base.DEC, vs)
end
local function bytes(abbr, name)
    f[abbr] = ProtoField.bytes("mikeyt." .. abbr, name)
end
local function str(abbr, name)
    f[abbr] = ProtoField.string("mikeyt." .. abbr, name)
end
local function none(abbr, name)
    f[abbr] = ProtoField.none("mikeyt." .. abbr, name)
end
local function flag(abbr, name, tf, mask)
    f[abbr] = ProtoField.bool("mikeyt." .. abbr, name, 8, tf, mask)
end
local function abstime(abbr, name)
    f[abbr] = ProtoField.absolute_time("mikeyt." .. abbr, name, base.UTC)
end

-- generated summary fields
str("payload", "Payload")
str("chain", "Top-level payload chain")
uint16("payload_count", "Top-level payloads")
uint16("payload_total", "Payloads (all, incl. nested)")
f["complete"] = ProtoField.bool("mikeyt.complete", "Completely decoded")
uint8("next_payload", "Next payload", PT_NAMES)

-- HDR
none("hdr", "Common Header (HDR)")
uint8("hdr.version", "Version")
uint8("hdr.data_type", "Data type", DATA_TYPES)
uint8("hdr.next_payload", "Next payload", PT_NAMES)
flag("hdr.v", "V (response expected)", nil, 0x80)
uint8("hdr.prf", "PRF func", PRF_FUNCS, 0x7f)
uint32("hdr.csb_id", "CSB ID", nil, base.HEX)
uint8("hdr.cs_count", "#CS")
uint8("hdr.map_type", "CS ID map type", MAP_TYPES)
none("hdr.map_info", "CS ID map info")
-- SRTP-ID map entry
none("srtp_id", "SRTP-ID map entry")
uint8("srtp_id.cs_id", "CS ID (implied)")
uint8("srtp_id.policy_no", "Policy no")
uint32("srtp_id.ssrc", "SSRC", nil, base.HEX)
uint32("srtp_id.roc", "ROC")
-- GENERIC-ID map entry
none("cs", "GENERIC-ID crypto session")
uint8("cs.id", "CS ID")
uint8("cs.prot_type", "Prot type", PROT_TYPES)
flag("cs.s", "S (session data flag)", nil, 0x80)
uint8("cs.num_p", "#P", nil, 0x7f)
uint8("cs.policy_no", "Policy no (Ps)")
uint16("cs.session_data_len", "Session data length")
bytes("cs.session_data", "Session data")
uint32("cs.srtp.ssrc", "SSRC", nil, base.HEX)
uint32("cs.srtp.roc", "ROC")
uint16("cs.srtp.seq", "SEQ")
uint8("cs.spi_len", "SPI length")
bytes("cs.spi", "SPI")

-- payload subtrees
none("kemac", PT_NAMES[1]); none("pke", PT_NAMES[2]); none("dh", PT_NAMES[3])
none("sign", PT_NAMES[4]); none("t", PT_NAMES[5]); none("id", PT_NAMES[6])
none("cert", PT_NAMES[7]); none("chash", PT_NAMES[8]); none("v", PT_NAMES[9])
none("sp", PT_NAMES[10]); none("rand", PT_NAMES[11]); none("err", PT_NAMES[12])
none("tr", PT_NAMES[13]); none("idr", PT_NAMES[14]); none("randr", PT_NAMES[15])
none("tp", PT_NAMES[16]); none("ticket", PT_NAMES[17]); none("key", PT_NAMES[20])
none("ext", PT_NAMES[21]); none("sakke", PT_NAMES[26])
none("thdr", "Ticket Header (THDR)")

-- KEMAC
uint8("kemac.encr_alg", "Encr alg", ENCR_ALGS)
uint16("kemac.encr_len", "Encr data len")
bytes("kemac.encr_data", "Encr data")
uint8("kemac.mac_alg", "MAC alg", MAC_ALGS)
bytes("kemac.mac", "MAC")
-- Key data sub-payload
uint8("key.type", "Type", KEY_TYPES, 0xf0)
uint8("key.kv", "KV", KV_TYPES, 0x0f)
uint16("key.data_len", "Key data len")
bytes("key.data", "Key data")
uint16("key.salt_len", "Salt len")
bytes("key.salt", "Salt data")
-- KV data (key data sub-payload and DH)
uint8("kv.spi_len", "SPI length")
bytes("kv.spi", "SPI/MKI")
uint8("kv.vf_len", "Valid From length")
bytes("kv.valid_from", "Valid From")
uint8("kv.vt_len", "Valid To length")
bytes("kv.valid_to", "Valid To")
-- PKE
uint16("pke.c", "C (envelope key cache)", PKE_CACHE, 0xc000)
uint16("pke.len", "Data len", nil, 0x3fff)
bytes("pke.data", "Data")
-- DH
uint8("dh.group", "DH-Group", DH_GROUPS)
bytes("dh.value", "DH-value")
uint8("dh.reserved", "Reserved", nil, 0xf0)
uint8("dh.kv", "KV", KV_TYPES, 0x0f)
-- SIGN
uint16("sign.type", "S type", SIGN_TYPES, 0xf000)
uint16("sign.len", "Signature len", nil, 0x0fff)
bytes("sign.data", "Signature")
-- T
uint8("t.ts_type", "TS type", TS_TYPES)
bytes("t.ts_value", "TS value")
abstime("t.ntp", "NTP time")
uint32("t.counter", "Counter")
-- ID
uint8("id.type", "ID type", ID_TYPES)
uint16("id.len", "ID len")
str("id.data", "ID data")
bytes("id.data_bytes", "ID data (bytes)")
-- CERT
uint8("cert.type", "Cert type", CERT_TYPES)
uint16("cert.len", "Cert len")
bytes("cert.data", "Certificate")
str("cert.url", "Certificate URL")
-- CHASH
uint8("chash.func", "Hash func", HASH_FUNCS)
bytes("chash.hash", "Hash")
-- V
uint8("v.auth_alg", "Auth alg", MAC_ALGS)
bytes("v.mac", "Ver data (MAC)")
-- SP
uint8("sp.policy_no", "Policy no")
uint8("sp.prot_type", "Prot type", PROT_TYPES)
uint16("sp.param_len", "Policy param length")
none("sp.param", "Policy parameter")
uint8("sp.param.type", "Type")
uint8("sp.param.srtp_type", "Type", SRTP_PARAMS)
uint8("sp.param.len", "Length")
bytes("sp.param.value", "Value")
uint8("sp.srtp.encr_alg", "Encryption algorithm", SRTP_ENCR)
uint32("sp.srtp.encr_key_len", "Session encryption key length")
uint8("sp.srtp.auth_alg", "Authentication algorithm", SRTP_AUTH)
uint32("sp.srtp.auth_key_len", "Session auth. key length")
uint32("sp.srtp.salt_len", "Session salt key length")
uint8("sp.srtp.prf", "SRTP PRF", SRTP_PRF)
uint32("sp.srtp.kd_rate", "Key derivation rate")
uint8("sp.srtp.srtp_encr", "SRTP encryption", ONOFF)
uint8("sp.srtp.srtcp_encr", "SRTCP encryption", ONOFF)
uint8("sp.srtp.fec_order", "Sender's FEC order", FEC_ORDER)
uint8("sp.srtp.srtp_auth", "SRTP authentication", ONOFF)
uint32("sp.srtp.auth_tag_len", "Authentication tag length")
uint32("sp.srtp.prefix_len", "SRTP prefix length")
uint32("sp.srtp.aead_tag_len", "AEAD authentication tag length")
-- RAND
uint8("rand.len", "RAND len")
bytes("rand.data", "RAND")
-- ERR
uint8("err.no", "Error no", ERRORS)
uint16("err.reserved", "Reserved")
-- TR
uint8("tr.role", "TS role", TS_ROLES)
uint8("tr.ts_type", "TS type", TS_TYPES)
bytes("tr.ts_value", "TS value")
abstime("tr.ntp", "NTP time")
uint32("tr.counter", "Counter")
uint32("tr.interval", "Rekeying interval (seconds)")
-- IDR
uint8("idr.role", "ID role", ID_ROLES)
uint8("idr.type", "ID type", ID_TYPES)
uint16("idr.len", "ID len")
str("idr.data", "ID data")
bytes("idr.data_bytes", "ID data (bytes)")
-- RANDR
uint8("randr.role", "RAND role", RAND_ROLES)
uint8("randr.len", "RAND length")
bytes("randr.data", "RAND")
-- TP and TICKET: the ticket policy fields are shared (mikeyt.tp.*)
uint16("tp.ticket_type", "Ticket type", TICKET_TYPES)
uint8("tp.subtype", "Subtype")
uint8("tp.version", "Version")
uint8("tp.prf", "PRF func", PRF_FUNCS, 0xfe)
flag("tp.flag.D", "D", {"Ticket generated by the KMS",
                        "Ticket generated by the Initiator"}, 0x01)
flag("tp.flag.E", "E", {"Ticket Resolve mandatory",
                        "Responder may resolve the ticket itself"}, 0x80)
flag("tp.flag.F", "F", {"TRANSFER_RESP shall be sent",
                        "TRANSFER_RESP shall not be sent"}, 0x40)
flag("tp.flag.G", "G", {"Responder shall generate RANDRr",
                        "Responder shall not generate RANDRr"}, 0x20)
flag("tp.flag.H", "H", {"RANDRi shall be used in key derivation",
                        "RANDRi shall not be used in key derivation"}, 0x10)
flag("tp.flag.I", "I", {"Key forking shall be used",
                        "Key forking shall not be used"}, 0x08)
flag("tp.flag.J", "J", {"Ticket may be reused",
                        "Ticket shall not be reused"}, 0x04)
flag("tp.flag.K", "K", {"KMS changed the desired policy or KEMAC",
                        "KMS did not change the desired policy or KEMAC"}, 0x02)
flag("tp.flag.L", "L", {"Initiator may supply session keys",
                        "Initiator shall not supply session keys"}, 0x01)
flag("tp.flag.M", "M", {"Responder may supply session keys",
                        "Responder shall not supply session keys"}, 0x80)
flag("tp.flag.N", "N", {"RFC 6043 Initiator can build TRANSFER_INIT",
                        "Ticket-type-specific Initiator processing"}, 0x40)
flag("tp.flag.O", "O", {"RFC 6043 Responder can process TRANSFER_INIT",
                        "Ticket-type-specific Responder processing"}, 0x20)
uint8("tp.reserved", "Reserved", nil, 0x1f)
uint16("tp.data_len", "TP Data length")
none("tp.data", "TP Data")
uint8("tp.first_payload", "First payload", PT_NAMES)
uint16("ticket.data_len", "Ticket Data length")
none("ticket.data", "Ticket Data")
bytes("ticket.data_bytes", "Ticket Data (opaque)")
uint16("ticket.init_data_len", "Initiator Data length")
none("ticket.init_data", "Initiator Data")
uint8("ticket.init_first_payload", "First payload", PT_NAMES)
-- THDR
uint16("thdr.data_len", "THDR Data length")
bytes("thdr.data", "THDR Data")
-- General Extension
uint8("ext.type", "Type", EXT_TYPES)
uint16("ext.len", "Length")
bytes("ext.data", "Data")
str("ext.sdp_ids", "SDP IDs")
uint8("ext.keyid.type", "Key ID type")
uint8("ext.keyid.len", "Key ID length")
bytes("ext.keyid.value", "Key ID")
-- SAKKE
uint8("sakke.params", "SAKKE params", SAKKE_PARAMS)
uint8("sakke.id_scheme", "ID scheme", SAKKE_ID_SCHEMES)
uint16("sakke.len", "SAKKE data length")
bytes("sakke.data", "SAKKE data")

local flist = {}
for _, v in pairs(f) do flist[#flist + 1] = v end
p.fields = flist

local ex_malformed = ProtoExpert.new("mikeyt.malformed",
    "Malformed MIKEY message", expert.group.MALFORMED, expert.severity.ERROR)
local ex_unknown = ProtoExpert.new("mikeyt.unknown",
    "Undecodable MIKEY value", expert.group.UNDECODED, expert.severity.WARN)
local ex_warn = ProtoExpert.new("mikeyt.warning",
    "MIKEY protocol warning", expert.group.PROTOCOL, expert.severity.WARN)
p.experts = { ex_malformed, ex_unknown, ex_warn }

---------------------------------------------------------------------------
-- Helpers
---------------------------------------------------------------------------

-- Errors raised inside the dissection are tables; anything else is a bug
-- that is still caught and shown as malformed.
local function malformed(fmt, ...)
    error({ kind = "malformed", msg = string.format(fmt, ...) }, 0)
end
local function undecodable(fmt, ...)
    error({ kind = "unknown", msg = string.format(fmt, ...) }, 0)
end

local function need(off, n, lim, what)
    if n < 0 or off + n > lim then
        malformed("%s truncated: %d byte(s) needed at offset %d, %d left",
                  what, n, off, math.max(lim - off, 0))
    end
end

-- Bitwise AND on non-negative integers without bit32/bit (absent or
-- different across the Lua versions Wireshark has shipped with).
local function band(a, b)
    local r, v = 0, 1
    while a > 0 and b > 0 do
        if a % 2 == 1 and b % 2 == 1 then r = r + v end
        a, b, v = math.floor(a / 2), math.floor(b / 2), v * 2
    end
    return r
end

local function vname(t, v)
    local s = t[v]
    if s then return s end
    return string.format("Unknown (%d)", v)
end

local MAX_DEPTH = 8

-- Start a payload subtree; records it in the payload list.
local function begin_payload(tree, tvb, off, lim, ptype, ctx)
    local st = tree:add(f[PT_SHORT[ptype] and PT_SHORT[ptype]:lower() or "key"],
                        tvb(off, math.min(1, lim - off)))
    st:add(f["payload"], PT_SHORT[ptype] or tostring(ptype)):set_generated()
    ctx.total = ctx.total + 1
    return st
end

local function add_np(st, tvb, off)
    local np = tvb(off, 1):uint()
    st:add(f["next_payload"], tvb(off, 1))
    return np
end

local NTP_UNIX_OFFSET = 2208988800
local TWO32 = 4294967296

-- NTP seconds to an NSTime; RFC 4330 era rule (MSB clear: 2036-2104).
local function ntp_to_nstime(secs, frac)
    local s = secs
    if s < 2147483648 then s = s + TWO32 end
    s = s - NTP_UNIX_OFFSET
    local ns = math.floor(frac * 1000000000 / TWO32)
    return NSTime.new(s, ns)
end

local function add_ts(st, tvb, off, lim, prefix, ts_type, role)
    local len = TS_LEN[ts_type]
    if not len then
        undecodable("TS type %d unknown: TS value length unknown", ts_type)
    end
    need(off, len, lim, "TS value")
    local r = tvb(off, len)
    st:add(f[prefix .. ".ts_value"], r)
    if prefix == "tr" and role == 4 and ts_type == 3 then
        -- TRr: NTP-UTC-32 carrying an interval in seconds, not a date
        st:add(f["tr.interval"], r)
        st:append_text(string.format(", every %d s", r:uint()))
    elseif ts_type == 2 then
        st:add(f[prefix .. ".counter"], r)
        st:append_text(string.format(", COUNTER %d", r:uint()))
    else
        local secs = tvb(off, 4):uint()
        local frac = 0
        if len == 8 then frac = tvb(off + 4, 4):uint() end
        local t = ntp_to_nstime(secs, frac)
        st:add(f[prefix .. ".ntp"], r, t)
        st:append_text(", " .. vname(TS_TYPES, ts_type) .. " " ..
                       format_date(t.secs + t.nsecs / 1000000000))
    end
    return off + len
end

local function add_kv_data(st, tvb, off, lim, kv)
    if kv == 0 then
        return off
    elseif kv == 1 then
        need(off, 1, lim, "KV SPI length")
        local n = tvb(off, 1):uint()
        st:add(f["kv.spi_len"], tvb(off, 1))
        need(off + 1, n, lim, "KV SPI")
        if n > 0 then st:add(f["kv.spi"], tvb(off + 1, n)) end
        return off + 1 + n
    elseif kv == 2 then
        need(off, 1, lim, "KV Valid From length")
        local n = tvb(off, 1):uint()
        st:add(f["kv.vf_len"], tvb(off, 1))
        need(off + 1, n, lim, "KV Valid From")
        if n > 0 then st:add(f["kv.valid_from"], tvb(off + 1, n)) end
        off = off + 1 + n
        need(off, 1, lim, "KV Valid To length")
        n = tvb(off, 1):uint()
        st:add(f["kv.vt_len"], tvb(off, 1))
        need(off + 1, n, lim, "KV Valid To")
        if n > 0 then st:add(f["kv.valid_to"], tvb(off + 1, n)) end
        return off + 1 + n
    end
    undecodable("KV type %d unknown: KV data length unknown", kv)
end

-- forward declaration
local walk_chain

---------------------------------------------------------------------------
-- Payload parsers: parse(tvb, off, lim, tree, ctx) -> end offset, next
-- payload (nil for SIGN, which is always last)
---------------------------------------------------------------------------

local parsers = {}

-- 1 KEMAC
parsers[1] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 1, ctx)
    need(off, 4, lim, "KEMAC")
    local np = add_np(st, tvb, off)
    local alg = tvb(off + 1, 1):uint()
    st:add(f["kemac.encr_alg"], tvb(off + 1, 1))
    local len = tvb(off + 2, 2):uint()
    st:add(f["kemac.encr_len"], tvb(off + 2, 2))
    local d = off + 4
    need(d, len, lim, "KEMAC Encr data")
    st:set_len(d + len - off)
    if len > 0 then
        local di = st:add(f["kemac.encr_data"], tvb(d, len))
        if alg == 0 then
            -- plaintext chain of key data sub-payloads (PK mode: IDi first)
            local first = 20
            if ctx.data_type == 2 then first = 6 end
            ctx.depth = ctx.depth + 1
            local e = walk_chain(tvb, d, d + len, first, di, ctx)
            ctx.depth = ctx.depth - 1
            if e ~= d + len then
                malformed("KEMAC key data chain ends at offset %d, Encr data at %d",
                          e, d + len)
            end
        end
    end
    local m = d + len
    need(m, 1, lim, "KEMAC MAC alg")
    local mac_alg = tvb(m, 1):uint()
    st:add(f["kemac.mac_alg"], tvb(m, 1))
    local ml = MAC_LEN[mac_alg]
    if not ml then
        st:set_len(m + 1 - off)
        undecodable("KEMAC MAC alg %d unknown: MAC length unknown", mac_alg)
    end
    need(m + 1, ml, lim, "KEMAC MAC")
    if ml > 0 then st:add(f["kemac.mac"], tvb(m + 1, ml)) end
    st:append_text(", " .. vname(ENCR_ALGS, alg) .. "/" .. vname(MAC_ALGS, mac_alg))
    st:set_len(m + 1 + ml - off)
    return m + 1 + ml, np
end

-- 2 PKE
parsers[2] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 2, ctx)
    need(off, 3, lim, "PKE")
    local np = add_np(st, tvb, off)
    st:add(f["pke.c"], tvb(off + 1, 2))
    st:add(f["pke.len"], tvb(off + 1, 2))
    local len = band(tvb(off + 1, 2):uint(), 0x3fff)
    need(off + 3, len, lim, "PKE data")
    if len > 0 then st:add(f["pke.data"], tvb(off + 3, len)) end
    st:set_len(3 + len)
    return off + 3 + len, np
end

-- 3 DH
parsers[3] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 3, ctx)
    need(off, 2, lim, "DH")
    local np = add_np(st, tvb, off)
    local g = tvb(off + 1, 1):uint()
    st:add(f["dh.group"], tvb(off + 1, 1))
    local vl = DH_LEN[g]
    if not vl then undecodable("DH-Group %d unknown: DH-value length unknown", g) end
    need(off + 2, vl + 1, lim, "DH value")
    st:add(f["dh.value"], tvb(off + 2, vl))
    local o = off + 2 + vl
    st:add(f["dh.reserved"], tvb(o, 1))
    st:add(f["dh.kv"], tvb(o, 1))
    local kv = band(tvb(o, 1):uint(), 0x0f)
    st:set_len(o + 1 - off)
    local e = add_kv_data(st, tvb, o + 1, lim, kv)
    st:set_len(e - off)
    return e, np
end

-- 4 SIGN (no Next Payload; always last)
parsers[4] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 4, ctx)
    need(off, 2, lim, "SIGN")
    st:add(f["sign.type"], tvb(off, 2))
    st:add(f["sign.len"], tvb(off, 2))
    local len = band(tvb(off, 2):uint(), 0x0fff)
    need(off + 2, len, lim, "SIGN signature")
    if len > 0 then st:add(f["sign.data"], tvb(off + 2, len)) end
    st:set_len(2 + len)
    return off + 2 + len, nil
end

-- 5 T
parsers[5] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 5, ctx)
    need(off, 2, lim, "T")
    local np = add_np(st, tvb, off)
    local tt = tvb(off + 1, 1):uint()
    st:add(f["t.ts_type"], tvb(off + 1, 1))
    st:set_len(2)
    local e = add_ts(st, tvb, off + 2, lim, "t", tt)
    st:set_len(e - off)
    return e, np
end

local function add_id_data(st, tvb, off, len, idtype, prefix)
    if len == 0 then return end
    local r = tvb(off, len)
    if idtype == 2 then
        st:add(f[prefix .. ".data_bytes"], r)
    else
        st:add(f[prefix .. ".data"], r, r:string())
        st:append_text(": " .. r:string())
    end
end

-- 6 ID
parsers[6] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 6, ctx)
    need(off, 4, lim, "ID")
    local np = add_np(st, tvb, off)
    local it = tvb(off + 1, 1):uint()
    st:add(f["id.type"], tvb(off + 1, 1))
    local len = tvb(off + 2, 2):uint()
    st:add(f["id.len"], tvb(off + 2, 2))
    need(off + 4, len, lim, "ID data")
    add_id_data(st, tvb, off + 4, len, it, "id")
    st:set_len(4 + len)
    return off + 4 + len, np
end

-- 7 CERT
parsers[7] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 7, ctx)
    need(off, 4, lim, "CERT")
    local np = add_np(st, tvb, off)
    local ct = tvb(off + 1, 1):uint()
    st:add(f["cert.type"], tvb(off + 1, 1))
    local len = tvb(off + 2, 2):uint()
    st:add(f["cert.len"], tvb(off + 2, 2))
    need(off + 4, len, lim, "Certificate")
    if len > 0 then
        if ct == 1 then
            st:add(f["cert.url"], tvb(off + 4, len), tvb(off + 4, len):string())
        else
            st:add(f["cert.data"], tvb(off + 4, len))
        end
    end
    st:set_len(4 + len)
    return off + 4 + len, np
end

-- 8 CHASH
parsers[8] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 8, ctx)
    need(off, 2, lim, "CHASH")
    local np = add_np(st, tvb, off)
    local h = tvb(off + 1, 1):uint()
    st:add(f["chash.func"], tvb(off + 1, 1))
    local hl = HASH_LEN[h]
    if not hl then undecodable("Hash func %d unknown: hash length unknown", h) end
    need(off + 2, hl, lim, "CHASH hash")
    st:add(f["chash.hash"], tvb(off + 2, hl))
    st:set_len(2 + hl)
    return off + 2 + hl, np
end

-- 9 V
parsers[9] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 9, ctx)
    need(off, 2, lim, "V")
    local np = add_np(st, tvb, off)
    local a = tvb(off + 1, 1):uint()
    st:add(f["v.auth_alg"], tvb(off + 1, 1))
    local ml = MAC_LEN[a]
    if not ml then undecodable("V Auth alg %d unknown: MAC length unknown", a) end
    need(off + 2, ml, lim, "V MAC")
    if ml > 0 then st:add(f["v.mac"], tvb(off + 2, ml)) end
    st:append_text(", " .. vname(MAC_ALGS, a))
    st:set_len(2 + ml)
    return off + 2 + ml, np
end

-- SRTP policy parameter value fields by type
local SRTP_FIELD = {
    [0] = "sp.srtp.encr_alg", [1] = "sp.srtp.encr_key_len",
    [2] = "sp.srtp.auth_alg", [3] = "sp.srtp.auth_key_len",
    [4] = "sp.srtp.salt_len", [5] = "sp.srtp.prf",
    [6] = "sp.srtp.kd_rate", [7] = "sp.srtp.srtp_encr",
    [8] = "sp.srtp.srtcp_encr", [9] = "sp.srtp.fec_order",
    [10] = "sp.srtp.srtp_auth", [11] = "sp.srtp.auth_tag_len",
    [12] = "sp.srtp.prefix_len", [20] = "sp.srtp.aead_tag_len",
}
local SRTP_FIELD_U8 = { [0] = true, [2] = true, [5] = true, [7] = true,
                        [8] = true, [9] = true, [10] = true }

-- 10 SP
parsers[10] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 10, ctx)
    need(off, 5, lim, "SP")
    local np = add_np(st, tvb, off)
    st:add(f["sp.policy_no"], tvb(off + 1, 1))
    local pt = tvb(off + 2, 1):uint()
    st:add(f["sp.prot_type"], tvb(off + 2, 1))
    local len = tvb(off + 3, 2):uint()
    st:add(f["sp.param_len"], tvb(off + 3, 2))
    local o, e = off + 5, off + 5 + len
    need(o, len, lim, "SP policy params")
    st:set_len(5 + len)
    while o < e do
        need(o, 2, e, "SP policy param")
        local ty, pl = tvb(o, 1):uint(), tvb(o + 1, 1):uint()
        need(o + 2, pl, e, "SP policy param value")
        local pi = st:add(f["sp.param"], tvb(o, 2 + pl))
        if pt == 0 then
            pi:add(f["sp.param.srtp_type"], tvb(o, 1))
            pi:append_text(": " .. vname(SRTP_PARAMS, ty))
        else
            pi:add(f["sp.param.type"], tvb(o, 1))
        end
        pi:add(f["sp.param.len"], tvb(o + 1, 1))
        if pl > 0 then
            pi:add(f["sp.param.value"], tvb(o + 2, pl))
            local fn = SRTP_FIELD[ty]
            if pt == 0 and fn and (pl <= 4) and
               (pl == 1 or not SRTP_FIELD_U8[ty]) then
                pi:add(f[fn], tvb(o + 2, pl))
                pi:append_text(" = " .. tostring(tvb(o + 2, pl):uint()))
            end
        end
        o = o + 2 + pl
    end
    return e, np
end

-- 11 RAND
parsers[11] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 11, ctx)
    need(off, 2, lim, "RAND")
    local np = add_np(st, tvb, off)
    local len = tvb(off + 1, 1):uint()
    st:add(f["rand.len"], tvb(off + 1, 1))
    need(off + 2, len, lim, "RAND data")
    if len > 0 then st:add(f["rand.data"], tvb(off + 2, len)) end
    st:set_len(2 + len)
    return off + 2 + len, np
end

-- 12 ERR
parsers[12] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 12, ctx)
    need(off, 4, lim, "ERR")
    local np = add_np(st, tvb, off)
    st:add(f["err.no"], tvb(off + 1, 1))
    st:add(f["err.reserved"], tvb(off + 2, 2))
    st:append_text(": " .. vname(ERRORS, tvb(off + 1, 1):uint()))
    st:set_len(4)
    return off + 4, np
end

-- 13 TR
parsers[13] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 13, ctx)
    need(off, 3, lim, "TR")
    local np = add_np(st, tvb, off)
    st:add(f["tr.role"], tvb(off + 1, 1))
    local tt = tvb(off + 2, 1):uint()
    st:add(f["tr.ts_type"], tvb(off + 2, 1))
    st:append_text(": " .. vname(TS_ROLES, tvb(off + 1, 1):uint()))
    st:set_len(3)
    local e = add_ts(st, tvb, off + 3, lim, "tr", tt, tvb(off + 1, 1):uint())
    st:set_len(e - off)
    return e, np
end

-- 14 IDR
parsers[14] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 14, ctx)
    need(off, 5, lim, "IDR")
    local np = add_np(st, tvb, off)
    st:add(f["idr.role"], tvb(off + 1, 1))
    local it = tvb(off + 2, 1):uint()
    st:add(f["idr.type"], tvb(off + 2, 1))
    local len = tvb(off + 3, 2):uint()
    st:add(f["idr.len"], tvb(off + 3, 2))
    st:append_text(" " .. vname(ID_ROLES, tvb(off + 1, 1):uint()))
    need(off + 5, len, lim, "IDR data")
    add_id_data(st, tvb, off + 5, len, it, "idr")
    st:set_len(5 + len)
    return off + 5 + len, np
end

-- 15 RANDR
parsers[15] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 15, ctx)
    need(off, 3, lim, "RANDR")
    local np = add_np(st, tvb, off)
    st:add(f["randr.role"], tvb(off + 1, 1))
    local len = tvb(off + 2, 1):uint()
    st:add(f["randr.len"], tvb(off + 2, 1))
    st:append_text(" " .. vname(RAND_ROLES, tvb(off + 1, 1):uint()))
    need(off + 3, len, lim, "RANDR data")
    if len > 0 then st:add(f["randr.data"], tvb(off + 3, len)) end
    st:set_len(3 + len)
    return off + 3 + len, np
end

-- Walk "first payload byte, chain" inside [off, e); must end exactly at e.
-- v_pair: Initiator Data (Vi, Vr): a V with Next Payload 0 followed by more
-- bytes is taken as Vi and the walk goes on with a V (spec 4.15 Reading).
local function sub_chain(tvb, off, e, tree, ctx, fp_field, what, v_pair)
    if e == off then return end
    tree:add(f[fp_field], tvb(off, 1))
    local np = tvb(off, 1):uint()
    ctx.depth = ctx.depth + 1
    local o = walk_chain(tvb, off + 1, e, np, tree, ctx)
    if v_pair then
        while o < e and ctx.last_type == 9 do
            o = walk_chain(tvb, o, e, 9, tree, ctx)
        end
    end
    ctx.depth = ctx.depth - 1
    if o ~= e then
        malformed("%s: payload chain ends at offset %d but %s ends at %d",
                  what, o, what, e)
    end
end

-- Ticket Data of ticket type 1: THDR, then a chain (T, RAND, KEMAC, [IDRpsk], V)
local function base_ticket_data(tvb, off, e, tree, ctx)
    need(off, 3, e, "THDR")
    local th = tree:add(f["thdr"], tvb(off, 3))
    th:add(f["payload"], "THDR"):set_generated()
    ctx.total = ctx.total + 1
    local np = add_np(th, tvb, off)
    local len = tvb(off + 1, 2):uint()
    th:add(f["thdr.data_len"], tvb(off + 1, 2))
    need(off + 3, len, e, "THDR data")
    if len > 0 then th:add(f["thdr.data"], tvb(off + 3, len)) end
    th:set_len(3 + len)
    ctx.depth = ctx.depth + 1
    local o = walk_chain(tvb, off + 3 + len, e, np, tree, ctx)
    ctx.depth = ctx.depth - 1
    if o ~= e then
        malformed("Ticket Data: payload chain ends at offset %d, Ticket Data at %d",
                  o, e)
    end
end

-- 16 TP and 17 TICKET
local function tp_ticket(ptype)
    return function(tvb, off, lim, tree, ctx)
        local st = begin_payload(tree, tvb, off, lim, ptype, ctx)
        need(off, 10, lim, PT_SHORT[ptype])
        local np = add_np(st, tvb, off)
        local ttype = tvb(off + 1, 2):uint()
        st:add(f["tp.ticket_type"], tvb(off + 1, 2))
        st:add(f["tp.subtype"], tvb(off + 3, 1))
        st:add(f["tp.version"], tvb(off + 4, 1))
        st:add(f["tp.prf"], tvb(off + 5, 1))
        st:add(f["tp.flag.D"], tvb(off + 5, 1))
        for _, n in ipairs({ "E", "F", "G", "H", "I", "J", "K", "L" }) do
            st:add(f["tp.flag." .. n], tvb(off + 6, 1))
        end
        for _, n in ipairs({ "M", "N", "O" }) do
            st:add(f["tp.flag." .. n], tvb(off + 7, 1))
        end
        st:add(f["tp.reserved"], tvb(off + 7, 1))
        local fl = {}
        local w = tvb(off + 5, 3):uint()
        local masks = { D = 0x10000, E = 0x8000, F = 0x4000, G = 0x2000,
                        H = 0x1000, I = 0x800, J = 0x400, K = 0x200,
                        L = 0x100, M = 0x80, N = 0x40, O = 0x20 }
        for _, n in ipairs({ "D", "E", "F", "G", "H", "I", "J", "K", "L",
                             "M", "N", "O" }) do
            if band(w, masks[n]) ~= 0 then fl[#fl + 1] = n end
        end
        st:append_text(string.format(": %s, flags %s", vname(TICKET_TYPES, ttype),
                                     table.concat(fl, " ")))
        -- flag dependencies of RFC 6043 section 6.10 (spec 4.15)
        local function has(n) return band(w, masks[n]) ~= 0 end
        local rules = {
            { not has("D") and not has("L"), "D=0 requires L=1" },
            { has("G") and not has("F"), "G=1 requires F=1" },
            { not has("G") and not has("H"), "G=0 requires H=1" },
            { has("I") and not has("E"), "I=1 requires E=1" },
            { has("K") and not has("D"), "K=1 requires D=1" },
            { has("M") and not has("F"), "M=1 requires F=1" },
            { ptype == 16 and has("K"), "K must be 0 in a desired policy (TP)" },
            { band(w, 0x1f) ~= 0, "reserved bits set" },
        }
        for _, r in ipairs(rules) do
            if r[1] then
                st:add_proto_expert_info(ex_warn, "Ticket policy flags: " .. r[2])
            end
        end
        local dl = tvb(off + 8, 2):uint()
        st:add(f["tp.data_len"], tvb(off + 8, 2))
        local d = off + 10
        need(d, dl, lim, "TP Data")
        st:set_len(10 + dl)
        if dl > 0 then
            local di = st:add(f["tp.data"], tvb(d, dl))
            sub_chain(tvb, d, d + dl, di, ctx, "tp.first_payload", "TP Data")
        end
        local o = d + dl
        if ptype == 16 then return o, np end

        need(o, 2, lim, "Ticket Data length")
        local tl = tvb(o, 2):uint()
        st:add(f["ticket.data_len"], tvb(o, 2))
        need(o + 2, tl, lim, "Ticket Data")
        st:set_len(o + 2 + tl - off)
        if tl > 0 then
            local sub, ver = tvb(off + 3, 1):uint(), tvb(off + 4, 1):uint()
            if ttype == 1 and sub == 1 and ver == 1 then
                local ti = st:add(f["ticket.data"], tvb(o + 2, tl))
                base_ticket_data(tvb, o + 2, o + 2 + tl, ti, ctx)
            else
                st:add(f["ticket.data_bytes"], tvb(o + 2, tl))
            end
        end
        o = o + 2 + tl
        need(o, 2, lim, "Initiator Data length")
        local il = tvb(o, 2):uint()
        st:add(f["ticket.init_data_len"], tvb(o, 2))
        need(o + 2, il, lim, "Initiator Data")
        st:set_len(o + 2 + il - off)
        if il > 0 then
            local ii = st:add(f["ticket.init_data"], tvb(o + 2, il))
            sub_chain(tvb, o + 2, o + 2 + il, ii, ctx,
                      "ticket.init_first_payload", "Initiator Data", true)
        end
        return o + 2 + il, np
    end
end
parsers[16] = tp_ticket(16)
parsers[17] = tp_ticket(17)

-- 20 Key data sub-payload
parsers[20] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 20, ctx)
    need(off, 4, lim, "Key data")
    local np = add_np(st, tvb, off)
    local tk = tvb(off + 1, 1):uint()
    local kt, kv = math.floor(tk / 16), band(tk, 0x0f)
    st:add(f["key.type"], tvb(off + 1, 1))
    st:add(f["key.kv"], tvb(off + 1, 1))
    st:append_text(": " .. vname(KEY_TYPES, kt) .. ", KV " .. vname(KV_TYPES, kv))
    local len = tvb(off + 2, 2):uint()
    st:add(f["key.data_len"], tvb(off + 2, 2))
    need(off + 4, len, lim, "Key data key")
    if len > 0 then st:add(f["key.data"], tvb(off + 4, len)) end
    local o = off + 4 + len
    st:set_len(o - off)
    if KEY_HAS_SALT[kt] then
        need(o, 2, lim, "Key data salt length")
        local sl = tvb(o, 2):uint()
        st:add(f["key.salt_len"], tvb(o, 2))
        need(o + 2, sl, lim, "Key data salt")
        if sl > 0 then st:add(f["key.salt"], tvb(o + 2, sl)) end
        o = o + 2 + sl
        st:set_len(o - off)
    end
    o = add_kv_data(st, tvb, o, lim, kv)
    st:set_len(o - off)
    return o, np
end

-- 21 General Extension
parsers[21] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 21, ctx)
    need(off, 4, lim, "General Extension")
    local np = add_np(st, tvb, off)
    local ty = tvb(off + 1, 1):uint()
    st:add(f["ext.type"], tvb(off + 1, 1))
    local len = tvb(off + 2, 2):uint()
    st:add(f["ext.len"], tvb(off + 2, 2))
    need(off + 4, len, lim, "General Extension data")
    st:set_len(4 + len)
    st:append_text(": " .. vname(EXT_TYPES, ty))
    if len > 0 then
        local r = tvb(off + 4, len)
        local di = st:add(f["ext.data"], r)
        if ty == 1 then
            st:add(f["ext.sdp_ids"], r, r:string())
        elseif ty == 3 then
            local o, e = off + 4, off + 4 + len
            while o < e do
                need(o, 2, e, "Key ID sub-payload")
                local kl = tvb(o + 1, 1):uint()
                need(o + 2, kl, e, "Key ID")
                di:add(f["ext.keyid.type"], tvb(o, 1))
                di:add(f["ext.keyid.len"], tvb(o + 1, 1))
                if kl > 0 then di:add(f["ext.keyid.value"], tvb(o + 2, kl)) end
                o = o + 2 + kl
            end
        end
    end
    return off + 4 + len, np
end

-- 26 SAKKE
parsers[26] = function(tvb, off, lim, tree, ctx)
    local st = begin_payload(tree, tvb, off, lim, 26, ctx)
    need(off, 5, lim, "SAKKE")
    local np = add_np(st, tvb, off)
    st:add(f["sakke.params"], tvb(off + 1, 1))
    st:add(f["sakke.id_scheme"], tvb(off + 2, 1))
    local len = tvb(off + 3, 2):uint()
    st:add(f["sakke.len"], tvb(off + 3, 2))
    need(off + 5, len, lim, "SAKKE data")
    if len > 0 then st:add(f["sakke.data"], tvb(off + 5, len)) end
    st:set_len(5 + len)
    return off + 5 + len, np
end

-- Walk a payload chain starting with payload type np at off, bounded by lim.
-- Returns the offset after the last payload.  ctx.count counts top-level
-- payloads (depth 0).
walk_chain = function(tvb, off, lim, np, tree, ctx)
    if ctx.depth > MAX_DEPTH then
        malformed("payloads nested deeper than %d levels", MAX_DEPTH)
    end
    while np ~= 0 do
        if off >= lim then
            malformed("chain ends without a Last payload: %s expected at offset %d",
                      vname(PT_NAMES, np), off)
        end
        local parse = parsers[np]
        if not parse then
            undecodable("payload type %d unknown: its length cannot be found", np)
        end
        local nxt
        off, nxt = parse(tvb, off, lim, tree, ctx)
        ctx.last_type = np
        if ctx.depth == 0 then
            ctx.count = ctx.count + 1
            ctx.chain[#ctx.chain + 1] = PT_SHORT[np]
        end
        if nxt == nil then break end
        np = nxt
    end
    return off
end

---------------------------------------------------------------------------
-- Common Header
---------------------------------------------------------------------------

local function parse_hdr(tvb, lim, tree, ctx)
    need(0, 10, lim, "HDR")
    local st = tree:add(f["hdr"], tvb(0, 10))
    st:add(f["hdr.version"], tvb(0, 1))
    local dt = tvb(1, 1):uint()
    ctx.data_type = dt
    st:add(f["hdr.data_type"], tvb(1, 1))
    st:add(f["hdr.next_payload"], tvb(2, 1))
    st:add(f["hdr.v"], tvb(3, 1))
    st:add(f["hdr.prf"], tvb(3, 1))
    st:add(f["hdr.csb_id"], tvb(4, 4))
    local ncs = tvb(8, 1):uint()
    st:add(f["hdr.cs_count"], tvb(8, 1))
    local mt = tvb(9, 1):uint()
    st:add(f["hdr.map_type"], tvb(9, 1))
    st:append_text(string.format(": %s, CSB ID 0x%08x", vname(DATA_TYPES, dt),
                                 tvb(4, 4):uint()))
    if tvb(0, 1):uint() ~= 1 then
        st:add_proto_expert_info(ex_warn, "MIKEY version is not 1")
    end
    local o = 10
    if ncs > 0 then
        if mt == 0 then
            need(o, 9 * ncs, lim, "SRTP-ID map info")
            local mi = st:add(f["hdr.map_info"], tvb(o, 9 * ncs))
            for i = 1, ncs do
                local e = mi:add(f["srtp_id"], tvb(o, 9))
                e:add(f["srtp_id.cs_id"], i):set_generated()
                e:add(f["srtp_id.policy_no"], tvb(o, 1))
                e:add(f["srtp_id.ssrc"], tvb(o + 1, 4))
                e:add(f["srtp_id.roc"], tvb(o + 5, 4))
                e:append_text(string.format(" %d: policy %d, SSRC 0x%08x", i,
                                            tvb(o, 1):uint(), tvb(o + 1, 4):uint()))
                o = o + 9
            end
        elseif mt == 1 then
            -- Empty map: no map info whatever #CS says (RFC 4563)
        elseif mt == 2 then
            need(o, 1, lim, "GENERIC-ID map info")
            local mi = st:add(f["hdr.map_info"], tvb(o, 1))
            local start = o
            for i = 1, ncs do
                need(o, 3, lim, "GENERIC-ID entry")
                local ci = mi:add(f["cs"], tvb(o, 3))
                local cstart = o
                local pt = tvb(o + 1, 1):uint()
                local sflag = band(tvb(o + 2, 1):uint(), 0x80) ~= 0
                local np = band(tvb(o + 2, 1):uint(), 0x7f)
                ci:add(f["cs.id"], tvb(o, 1))
                ci:add(f["cs.prot_type"], tvb(o + 1, 1))
                ci:add(f["cs.s"], tvb(o + 2, 1))
                ci:add(f["cs.num_p"], tvb(o + 2, 1))
                ci:append_text(string.format(" %d", tvb(o, 1):uint()))
                o = o + 3
                need(o, np, lim, "GENERIC-ID policy numbers")
                for _ = 1, np do
                    ci:add(f["cs.policy_no"], tvb(o, 1))
                    o = o + 1
                end
                need(o, 2, lim, "GENERIC-ID session data length")
                local sl = tvb(o, 2):uint()
                ci:add(f["cs.session_data_len"], tvb(o, 2))
                need(o + 2, sl, lim, "GENERIC-ID session data")
                if sl > 0 then
                    local si = ci:add(f["cs.session_data"], tvb(o + 2, sl))
                    if pt == 0 then
                        local want = sflag and 10 or 4
                        if sl >= 4 then
                            si:add(f["cs.srtp.ssrc"], tvb(o + 2, 4))
                            ci:append_text(string.format(", SSRC 0x%08x",
                                                         tvb(o + 2, 4):uint()))
                        end
                        if sflag and sl >= 10 then
                            si:add(f["cs.srtp.roc"], tvb(o + 6, 4))
                            si:add(f["cs.srtp.seq"], tvb(o + 10, 2))
                        end
                        if sl ~= want then
                            si:add_proto_expert_info(ex_warn, string.format(
                                "SRTP session data is %d bytes, %d expected with S=%d",
                                sl, want, sflag and 1 or 0))
                        end
                    end
                end
                o = o + 2 + sl
                need(o, 1, lim, "GENERIC-ID SPI length")
                local pl = tvb(o, 1):uint()
                ci:add(f["cs.spi_len"], tvb(o, 1))
                need(o + 1, pl, lim, "GENERIC-ID SPI")
                if pl > 0 then ci:add(f["cs.spi"], tvb(o + 1, pl)) end
                o = o + 1 + pl
                ci:set_len(o - cstart)
            end
            mi:set_len(o - start)
        else
            undecodable("CS ID map type %d unknown with #CS %d: map info length unknown",
                        mt, ncs)
        end
    end
    st:set_len(o)
    return o, tvb(2, 1):uint()
end

---------------------------------------------------------------------------
-- Entry point
---------------------------------------------------------------------------

function p.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    if len == 0 then return 0 end
    -- Own the columns on a plain UDP/TCP port; append inside a carrier
    -- (SIP body, HTTP body, SDP key-mgmt).
    local carrier = tostring(pinfo.cols.protocol)
    local own = (carrier == "UDP" or carrier == "TCP")
    if own then
        pinfo.cols.protocol = "MIKEY-T"
    else
        pinfo.cols.protocol:append("/MIKEY-T")
    end
    local root = tree:add(p, tvb())
    local ctx = { count = 0, total = 0, depth = 0, data_type = nil,
                  last_type = nil, chain = { "HDR" } }
    local ok, err = pcall(function()
        local o, np = parse_hdr(tvb, len, root, ctx)
        o = walk_chain(tvb, o, len, np, root, ctx)
        if o < len then
            malformed("%d byte(s) after the Last payload", len - o)
        end
        return o
    end)
    local dt = ctx.data_type
    local info = dt and vname(DATA_TYPES, dt) or "MIKEY"
    if dt and len >= 8 then
        info = string.format("%s CSB ID 0x%08x", info, tvb(4, 4):uint())
    end
    root:add(f["chain"], table.concat(ctx.chain, " ")):set_generated()
    root:add(f["payload_count"], ctx.count):set_generated()
    root:add(f["payload_total"], ctx.total):set_generated()
    root:add(f["complete"], ok):set_generated()
    if ok then
        root:append_text(", " .. info)
    else
        local kind, msg = "malformed", tostring(err)
        if type(err) == "table" then kind, msg = err.kind, err.msg end
        if kind == "unknown" then
            root:add_proto_expert_info(ex_unknown, "Undecodable: " .. msg)
            info = info .. " [undecodable]"
        else
            root:add_proto_expert_info(ex_malformed, "Malformed: " .. msg)
            info = info .. " [malformed]"
        end
        root:append_text(", " .. info)
    end
    if own then
        pinfo.cols.info = info
    else
        pinfo.cols.info:append(", MIKEY " .. info)
    end
    return len
end

---------------------------------------------------------------------------
-- Registration
---------------------------------------------------------------------------

DissectorTable.get("udp.port"):add(2269, p)
DissectorTable.get("tcp.port"):add(2269, p)
DissectorTable.get("media_type"):add("application/mikey", p)
do
    -- SDP a=key-mgmt:mikey (table exists when the SDP dissector is built in)
    local ok, t = pcall(DissectorTable.get, "key_mgmt")
    if ok and t then t:add("mikey", p) end
end
