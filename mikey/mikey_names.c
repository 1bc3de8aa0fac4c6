/*
 * mikey/mikey_names.c - names of MIKEY values for dumps and logs
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * The names follow the RFC tables (RFC 3830 6, RFC 6043 6) and, where
 * tshark already names a value, tshark's spelling, so a dump and a capture
 * read alike.  Unknown values give "?": mikey_codec.c uses that to reject
 * unknown SRTP policy parameter types.
 */
#include <stddef.h>

#include "mikey/mikey.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* pick - table lookup with "?" for holes and out-of-range values */
static const char *
pick(const char *const *tab, size_t n, unsigned v)
{
	if (v >= n || tab[v] == NULL)
		return "?";
	return tab[v];
}

const char *
mikey_data_type_name(uint8_t v)
{
	static const char *const t[] = {
		"Pre-shared", "PSK ver msg", "Public key", "PK ver msg",
		"D-H init", "D-H resp", "Error", "DHHMAC init", "DHHMAC resp",
		"RSA-R I_MSG", "RSA-R R_MSG", "REQUEST_INIT_PSK",
		"REQUEST_INIT_PK", "REQUEST_RESP", "TRANSFER_INIT",
		"TRANSFER_RESP", "RESOLVE_INIT_PSK", "RESOLVE_INIT_PK",
		"RESOLVE_RESP",
	};

	if (v == 26)
		return "SAKKE";
	return pick(t, NELEM(t), v);
}

const char *
mikey_payload_name(uint8_t v)
{
	static const char *const t[] = {
		"Last payload", "KEMAC", "PKE", "DH", "SIGN", "T", "ID",
		"CERT", "CHASH", "V", "SP", "RAND", "ERR", "TR", "IDR",
		"RANDR", "TP", "TICKET", NULL, NULL, "Key data",
		"General Extension", NULL, NULL, NULL, NULL, "SAKKE",
	};

	return pick(t, NELEM(t), v);
}

const char *
mikey_prf_name(uint8_t v)
{
	static const char *const t[] = { "MIKEY-1", "PRF-HMAC-SHA-256" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_map_type_name(uint8_t v)
{
	static const char *const t[] = { "SRTP-ID", "Empty map",
	    "GENERIC-ID" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_ts_type_name(uint8_t v)
{
	static const char *const t[] = { "NTP-UTC", "NTP", "COUNTER",
	    "NTP-UTC-32" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_encr_name(uint8_t v)
{
	static const char *const t[] = { "NULL", "AES-CM-128", "AES-KW-128",
	    "AES-CM-256" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_mac_name(uint8_t v)
{
	static const char *const t[] = { "NULL", "HMAC-SHA-1-160",
	    "HMAC-SHA-256-256" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_id_type_name(uint8_t v)
{
	static const char *const t[] = { "NAI", "URI", "Byte string" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_id_role_name(uint8_t v)
{
	static const char *const t[] = { "Reserved", "Initiator (IDRi)",
	    "Responder (IDRr)", "KMS (IDRkms)", "Pre-Shared Key (IDRpsk)",
	    "Application (IDRapp)", "Initiator's KMS (IDRkmsi)",
	    "Responder's KMS (IDRkmsr)" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_rand_role_name(uint8_t v)
{
	static const char *const t[] = { "Reserved", "Initiator (RANDRi)",
	    "Responder (RANDRr)", "KMS (RANDRkms)" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_ts_role_name(uint8_t v)
{
	static const char *const t[] = { "Reserved", "Time of issue (TRi)",
	    "Start of validity period (TRs)", "End of validity period (TRe)",
	    "Rekeying interval (TRr)" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_cert_type_name(uint8_t v)
{
	static const char *const t[] = { "X.509v3", "X.509v3 URL",
	    "X.509v3 Sign", "X.509v3 Encr" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_hash_name(uint8_t v)
{
	static const char *const t[] = { "SHA-1", "MD5", "SHA-256" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_key_type_name(uint8_t v)
{
	static const char *const t[] = { "TGK", "TGK+SALT", "TEK",
	    "TEK+SALT", "GTGK", "GTGK+SALT", "MPK" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_kv_name(uint8_t v)
{
	static const char *const t[] = { "Null", "SPI/MKI", "Interval" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_errno_name(uint8_t v)
{
	static const char *const t[] = {
		"Authentication failure", "Invalid timestamp",
		"PRF function not supported", "MAC algorithm not supported",
		"Encryption algorithm not supported",
		"Hash function not supported", "DH group not supported",
		"ID not supported", "Certificate not supported",
		"SP type not supported", "SP parameters not supported",
		"Data type not supported", "Unspecified error",
		"Unsupported message type", "Ticket Type not supported",
		"TP parameters not supported",
	};

	return pick(t, NELEM(t), v);
}

const char *
mikey_sign_type_name(uint8_t v)
{
	static const char *const t[] = { "RSA/PKCS#1/1.5", "RSA/PSS",
	    "ECCSI" };

	return pick(t, NELEM(t), v);
}

const char *
mikey_ticket_type_name(uint16_t v)
{
	if (v == MIKEY_TICKET_BASE)
		return "MIKEY base ticket";
	if (v == MIKEY_TICKET_3GPP)
		return "3GPP base ticket";
	return "?";
}

const char *
mikey_sp_param_name(uint8_t prot, uint8_t type)
{
	static const char *const srtp[] = {
		"Encryption algorithm", "Session Encr. key length",
		"Authentication algorithm", "Session Auth. key length",
		"Session Salt key length", "SRTP Pseudo Random Function",
		"Key derivation rate", "SRTP encryption off/on",
		"SRTCP encryption off/on", "Sender's FEC order",
		"SRTP authentication off/on", "Authentication tag length",
		"SRTP prefix length", NULL, NULL, NULL, NULL, NULL, NULL, NULL,
		"AEAD authentication tag length",
	};
	static const char *const cms[] = {
		"Content encryption algorithm", "Content key length",
		"Key wrap algorithm",
	};

	if (prot == MIKEY_PROT_SRTP)
		return pick(srtp, NELEM(srtp), type);
	if (prot == MIKEY_PROT_IMGATE_CMS)
		return pick(cms, NELEM(cms), type);
	return "?";
}
