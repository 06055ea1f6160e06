/* lzss.c — LZSS decoder with a destination bound, and a hash-chain encoder.
 *
 * The decoder follows the ring semantics byte by byte, so references may
 * overlap the bytes they produce. Unlike the 10.5 kernel's decoder it never
 * writes past its destination, and it fills the whole ring with spaces
 * (Apple left the last 18 bytes unset) so a hostile stream that reads them
 * still decodes deterministically.
 *
 * The encoder sees the input as if preceded by the ring's 4078 spaces: input
 * byte j sits at ring position (4078 + j) mod 4096, so a match at window
 * index i is encoded as ring position i mod 4096. Matches reach back at most
 * 4096-18 bytes, the distance Okumura's encoder uses. Candidates come from a
 * hash of three bytes with chains bounded in length, trading a little ratio
 * for linear time.
 */
#include "lzss.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RING      4096 /* N */
#define MAX_MATCH 18   /* F */
#define THRESHOLD 2    /* references shorter than THRESHOLD+1 are not worth two bytes */
#define MIN_MATCH (THRESHOLD + 1)
#define START     (RING - MAX_MATCH) /* first ring position written; spaces before it */
#define MAX_DIST  (RING - MAX_MATCH)
#define HASH_SIZE 4096
#define MAX_CHAIN 128

kx_status kx_lzss_decompress(void *dst, size_t dst_cap, const void *src, size_t src_len,
                             size_t *out_len)
{
    uint8_t ring[RING];
    const uint8_t *s = src;
    uint8_t *d = dst;
    size_t i = 0, o = 0, r = START;
    unsigned flags = 0;
    kx_status st = STATUS_SUCCESS;

    memset(ring, ' ', sizeof ring);
    for (;;) {
        flags >>= 1;
        if (!(flags & 0x100)) { /* the high byte counts the eight items a flag byte covers */
            if (i >= src_len)
                break;
            flags = s[i++] | 0xff00u;
        }
        if (i >= src_len)
            break;
        if (flags & 1) {
            if (o >= dst_cap) {
                st = STATUS_BUFFER_TOO_SMALL;
                break;
            }
            d[o++] = ring[r] = s[i++];
            r = (r + 1) & (RING - 1);
            continue;
        }
        if (i + 1 >= src_len) {
            st = STATUS_DATA_ERROR;
            break;
        }
        size_t pos = s[i] | ((size_t)(s[i + 1] & 0xf0) << 4);
        size_t len = (size_t)(s[i + 1] & 0x0f) + MIN_MATCH;
        i += 2;
        for (size_t k = 0; k < len; k++) {
            if (o >= dst_cap) {
                st = STATUS_BUFFER_TOO_SMALL;
                goto done;
            }
            d[o++] = ring[r] = ring[(pos + k) & (RING - 1)];
            r = (r + 1) & (RING - 1);
        }
    }
done:
    *out_len = o;
    return st;
}

static unsigned hash3(const uint8_t *p)
{
    return ((unsigned)p[0] << 8 ^ (unsigned)p[1] << 4 ^ p[2]) & (HASH_SIZE - 1);
}

struct encoder {
    const uint8_t *w; /* START spaces, then the input */
    size_t w_len;
    int32_t head[HASH_SIZE];
    int32_t prev[RING]; /* chain links, indexed by window position mod RING */
};

static void insert(struct encoder *en, size_t p)
{
    if (p + MIN_MATCH > en->w_len)
        return;
    unsigned h = hash3(en->w + p);
    en->prev[p & (RING - 1)] = en->head[h];
    en->head[h] = (int32_t)p;
}

/* Longest earlier match for window position p, at most max_len bytes. */
static size_t longest_match(const struct encoder *en, size_t p, size_t max_len, size_t *at)
{
    size_t best = 0;
    int32_t cand = en->head[hash3(en->w + p)];
    for (int chain = 0; cand >= 0 && chain < MAX_CHAIN; chain++) {
        size_t c = (size_t)cand;
        if (c >= p || p - c > MAX_DIST)
            break;
        size_t len = 0;
        while (len < max_len && en->w[c + len] == en->w[p + len])
            len++;
        if (len > best) {
            best = len;
            *at = c;
            if (len == max_len)
                break;
        }
        int32_t next = en->prev[c & (RING - 1)];
        if (next >= cand) /* the slot was reused by a newer position: the chain ends here */
            break;
        cand = next;
    }
    return best;
}

kx_status kx_lzss_compress(const void *src, size_t src_len, void **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (src_len > (size_t)INT32_MAX - START)
        return STATUS_INVALID_PARAMETER;
    struct encoder *en = malloc(sizeof *en);
    uint8_t *w = malloc(START + src_len);
    uint8_t *o = malloc(src_len + src_len / 8 + 2);
    if (!en || !w || !o) {
        free(en);
        free(w);
        free(o);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memset(w, ' ', START);
    if (src_len)
        memcpy(w + START, src, src_len);
    en->w = w;
    en->w_len = START + src_len;
    memset(en->head, 0xff, sizeof en->head); /* -1: empty */
    memset(en->prev, 0xff, sizeof en->prev);
    /* the whole prefix is within reach: it is exactly MAX_DIST spaces long */
    for (size_t p = 0; p < START; p++)
        insert(en, p);

    size_t n = 0, flag_at = 0;
    unsigned items = 8;
    for (size_t p = START; p < en->w_len;) {
        if (items == 8) {
            flag_at = n;
            o[n++] = 0;
            items = 0;
        }
        size_t max_len = en->w_len - p < MAX_MATCH ? en->w_len - p : MAX_MATCH;
        size_t at = 0, len = max_len >= MIN_MATCH ? longest_match(en, p, max_len, &at) : 0;
        if (len >= MIN_MATCH) {
            size_t pos = at & (RING - 1);
            o[n++] = (uint8_t)pos;
            o[n++] = (uint8_t)(((pos >> 4) & 0xf0) | (len - MIN_MATCH));
        } else {
            len = 1;
            o[flag_at] |= (uint8_t)(1u << items);
            o[n++] = w[p];
        }
        for (size_t k = 0; k < len; k++)
            insert(en, p + k);
        p += len;
        items++;
    }
    free(en);
    free(w);
    *out = o;
    *out_len = n;
    return STATUS_SUCCESS;
}
