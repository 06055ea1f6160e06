/* sha1.h — SHA-1 (FIPS 180-4), for name-based (version 5) UUIDs only: not for security. */
#ifndef KX_CORE_SHA1_H
#define KX_CORE_SHA1_H

#include <stddef.h>
#include <stdint.h>

void kx_sha1(const void *data, size_t len, uint8_t digest[20]);

#define KX_UUID_NAME_MAX 256 /* longer names count by their first KX_UUID_NAME_MAX bytes */

/* The version 5 UUID of name in namespace ns (RFC 9562 section 5.5), as text
 * "xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx" (lower case, 37 bytes with the NUL). */
void kx_uuid_v5(const uint8_t ns[16], const char *name, char out[37]);

#endif /* KX_CORE_SHA1_H */
