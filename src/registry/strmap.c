/* strmap.c — see strmap.h.
 *
 * FNV-1a hashes, a power-of-two table kept at most half full, linear probing. Entries are
 * never removed: the catalogue empties a value instead, and a class stays interned for
 * the table's life, so deletion (and its tombstones) isn't needed.
 */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    char *key; /* NULL: empty */
    size_t len;
    uint64_t hash;
    void *value;
};

struct kx_strmap {
    struct slot *slots;
    size_t cap, count; /* cap is a power of two */
};

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

struct kx_strmap *kx_strmap_new(void)
{
    struct kx_strmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cap = 16;
    m->slots = calloc(m->cap, sizeof *m->slots);
    if (!m->slots) {
        free(m);
        return NULL;
    }
    return m;
}

void kx_strmap_free(struct kx_strmap *m, void (*free_value)(void *))
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key)
            continue;
        free(m->slots[i].key);
        if (free_value)
            free_value(m->slots[i].value);
    }
    free(m->slots);
    free(m);
}

static struct slot *find(const struct kx_strmap *m, const char *key, size_t len, uint64_t h)
{
    for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct slot *s = &m->slots[i];
        if (!s->key || (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0))
            return s;
    }
}

void *kx_strmap_get_n(const struct kx_strmap *m, const char *key, size_t len)
{
    struct slot *s = find(m, key, len, hash_bytes(key, len));
    return s->key ? s->value : NULL;
}

void *kx_strmap_get(const struct kx_strmap *m, const char *key)
{
    return kx_strmap_get_n(m, key, strlen(key));
}

static kx_status grow(struct kx_strmap *m)
{
    struct kx_strmap bigger = {calloc(m->cap * 2, sizeof(struct slot)), m->cap * 2, m->count};
    if (!bigger.slots)
        return STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            *find(&bigger, m->slots[i].key, m->slots[i].len, m->slots[i].hash) = m->slots[i];
    free(m->slots);
    *m = bigger;
    return STATUS_SUCCESS;
}

kx_status kx_strmap_put(struct kx_strmap *m, const char *key, void *value)
{
    size_t len = strlen(key);
    uint64_t h = hash_bytes(key, len);
    struct slot *s = find(m, key, len, h);
    if (s->key) {
        s->value = value;
        return STATUS_SUCCESS;
    }
    if ((m->count + 1) * 2 > m->cap) {
        if (grow(m) != STATUS_SUCCESS)
            return STATUS_INSUFFICIENT_RESOURCES;
        s = find(m, key, len, h);
    }
    if (!(s->key = malloc(len + 1)))
        return STATUS_INSUFFICIENT_RESOURCES;
    memcpy(s->key, key, len + 1);
    s->len = len;
    s->hash = h;
    s->value = value;
    m->count++;
    return STATUS_SUCCESS;
}

void kx_strmap_foreach(const struct kx_strmap *m,
                       void (*fn)(void *ctx, const char *key, void *value), void *ctx)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            fn(ctx, m->slots[i].key, m->slots[i].value);
}

size_t kx_strmap_count(const struct kx_strmap *m)
{
    return m->count;
}
