/* fuzz_mkext.c — libFuzzer target for the mkext reader and the LZSS coder.
 *
 * The first byte picks a mode. Random bytes almost never carry a valid
 * Adler-32, so mode 1 fixes the length and checksum fields before reading;
 * without it the fuzzer would only ever exercise the header checks. Seeds in
 * seeds/mkext are small archives from kx's writers behind a mode byte.
 */
#include "kext/lzss.h"
#include "kext/mkext.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_archive(const uint8_t *p, size_t len)
{
    char why[256];
    struct kx_mkext *m = NULL;
    if (kx_mkext_read(p, len, KX_MKEXT_READ_ANY_CPU, &m, why, sizeof why) == STATUS_SUCCESS)
        kx_mkext_free(m);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void lzss(const uint8_t *p, size_t len)
{
    if (len < 2)
        return;
    size_t cap = ((size_t)p[0] << 8 | p[1]) % 8192, got = 0;
    uint8_t *dst = malloc(cap ? cap : 1);
    if (!dst)
        return;
    (void)kx_lzss_decompress(dst, cap, p + 2, len - 2, &got);
    free(dst);

    /* the encoder's output must decode to its input */
    void *z = NULL;
    size_t zlen = 0;
    if (kx_lzss_compress(p, len, &z, &zlen) != STATUS_SUCCESS)
        return;
    uint8_t *back = malloc(len);
    if (!back || kx_lzss_decompress(back, len, z, zlen, &got) != STATUS_SUCCESS || got != len ||
        memcmp(back, p, len) != 0)
        abort();
    free(back);
    free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0: read_archive(p, len); break;
    case 1: {
        uint8_t *c = malloc(len ? len : 1);
        if (!c)
            return 0;
        memcpy(c, p, len);
        if (len >= 16) {
            put_be32(c + 8, (uint32_t)len);
            put_be32(c + 12, (uint32_t)adler32(adler32(0, NULL, 0), c + 16, (uInt)(len - 16)));
        }
        read_archive(c, len);
        free(c);
        break;
    }
    default: lzss(p, len); break;
    }
    return 0;
}
