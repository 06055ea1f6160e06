/* mkext_int.h — byte-order, checksum and digest helpers shared by the mkext
 * reader (mkext.c) and writers (mkext_write.c). */
#ifndef KX_KEXT_MKEXT_INT_H
#define KX_KEXT_MKEXT_INT_H

#include <kx/status.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <zlib.h>

/* deflate cannot expand data more than this (its longest match costs two
 * bits for 258 bytes); recorded sizes above it are lies. */
#define KX_ZLIB_MAX_RATIO 1032u

#define KX_SHA256_HEX_LEN 65 /* 64 hex digits and the NUL */

static inline uint32_t kx_be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void kx_be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Apple's checksum: Adler-32 of everything after the adler32 field. */
static inline uint32_t kx_mkext_checksum(const uint8_t *archive, size_t len)
{
    return (uint32_t)adler32_z(adler32_z(0, NULL, 0), archive + 16, len - 16);
}

/* Lowercase hex SHA-256 of data into out. */
static inline kx_status kx_sha256_hex(const void *data, size_t len, char out[KX_SHA256_HEX_LEN])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32)
        return STATUS_INSUFFICIENT_RESOURCES;
    for (unsigned i = 0; i < md_len; i++)
        snprintf(out + (size_t)2 * i, 3, "%02x", md[i]);
    return STATUS_SUCCESS;
}

#endif /* KX_KEXT_MKEXT_INT_H */
