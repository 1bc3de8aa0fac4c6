/*
 * mikey/mikey_time.c - NTP-UTC timestamps and the RFC 4330 era window
 *
 * Copyright (c) 2026 the imgate developers. MIT licence, see COPYING.
 *
 * DESIGN
 *	MIKEY timestamps (RFC 3830 6.6) are 64-bit NTP values: 32 bits of
 *	seconds since 1900-01-01T00:00:00Z and 32 bits of fraction.  The
 *	seconds wrap on 2036-02-07T06:28:16Z.  RFC 6043 6.3 makes the
 *	procedure of RFC 4330 3 mandatory: a seconds value with the most
 *	significant bit set lies in 1968-01-20T03:14:08Z .. 2036-02-07T06:28:15Z
 *	(era 0), one with it clear in 2036-02-07T06:28:16Z ..
 *	2104-02-26T09:42:23Z (era 1).  Every conversion here uses that
 *	window; a Unix time outside it wraps modulo 2^32 seconds exactly as it
 *	would on the wire.
 */

#include <stdint.h>

#include "mikey/mikey.h"

/* Seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (Unix epoch). */
#define NTP_UNIX_OFFSET	2208988800u
#define NSEC_PER_SEC	1000000000u

uint64_t
mikey_ntp_from_unix(int64_t sec, uint32_t nsec)
{
	uint64_t s;
	uint32_t frac;

	/*
	 * Unsigned arithmetic: a negative sec wraps modulo 2^64 and the
	 * truncation to 32 bits below keeps the right NTP seconds, so no
	 * signed overflow can occur for any input.
	 */
	s = (uint64_t)sec + nsec / NSEC_PER_SEC;
	nsec %= NSEC_PER_SEC;
	s += NTP_UNIX_OFFSET;
	/* nsec < 2^30, so nsec << 32 < 2^62 does not overflow */
	frac = (uint32_t)(((uint64_t)nsec << 32) / NSEC_PER_SEC);
	return (uint64_t)(uint32_t)s << 32 | frac;
}

int64_t
mikey_ntp_to_unix(uint64_t ntp)
{
	uint32_t s = (uint32_t)(ntp >> 32);

	/* RFC 4330 3: MSB set is era 0 (from 1968), clear is era 1. */
	if (s & 0x80000000u)
		return (int64_t)s - (int64_t)NTP_UNIX_OFFSET;
	return (int64_t)s + ((int64_t)1 << 32) - (int64_t)NTP_UNIX_OFFSET;
}
