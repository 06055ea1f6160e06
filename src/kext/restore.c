/* restore.c — a kext's validated fields as bytes, and the kext rebuilt from them.
 *
 * A boot from the kext cache must not redo what the cache builder already
 * did: parse every Info.plist and validate it. So the builder writes, per
 * kext, the fields validation derived (kx__kext_fields_write), and a boot
 * rebuilds the kext from them (kx__kext_restore) in a few allocations; the
 * info dictionary itself stays binary plist bytes until someone asks for it
 * (kx__kext_info in bundle.c). The record mirrors struct kx_kext's validated
 * fields; a field added there must be added here, with FIELDS_VERSION
 * bumped, so an old cache reads as damaged and the boot scans instead.
 *
 * Layout, big-endian: u32 FIELDS_VERSION, u32 flags (bit 0 kernel resource,
 * 1 interface, 2 declares an executable, 3 allows user load, 4 DriverKit
 * extension, 5 Apple copyright), u64 version, u64 compatible version, four
 * strings (identifier, version, compatible version, OSBundleRequired), the
 * bundle's resolved path (so kx_kext_repo_add_kext knows the bundle is
 * already there), u32 number of libraries, then per library two strings
 * (identifier, requested version as written) and u64 the requested version.
 * A string is u32 length + 1 (0 for none), then its bytes and a NUL.
 */
#include "kext_int.h"

#include <stdlib.h>
#include <string.h>

#define FIELDS_VERSION 1u

enum {
    F_KERNEL_RESOURCE = 1u << 0,
    F_INTERFACE = 1u << 1,
    F_DECLARES_EXEC = 1u << 2,
    F_ALLOW_USER_LOAD = 1u << 3,
    F_DEXT = 1u << 4,
    F_APPLE_COPYRIGHT = 1u << 5,
};

/* ---- Writing ---- */

struct out {
    uint8_t **buf;
    size_t *len, cap;
    int ok;
};

static void put(struct out *o, const void *p, size_t n)
{
    if (!o->ok)
        return;
    if (*o->len + n > o->cap) {
        size_t c = o->cap ? o->cap * 2 : 256;
        while (c < *o->len + n)
            c *= 2;
        uint8_t *v = realloc(*o->buf, c);
        if (!v) {
            o->ok = 0;
            return;
        }
        *o->buf = v;
        o->cap = c;
    }
    memcpy(*o->buf + *o->len, p, n);
    *o->len += n;
}

static void put_u32(struct out *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(o, b, sizeof b);
}

static void put_u64(struct out *o, uint64_t v)
{
    put_u32(o, (uint32_t)(v >> 32));
    put_u32(o, (uint32_t)v);
}

static void put_str(struct out *o, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (s && n >= UINT32_MAX - 1) {
        o->ok = 0;
        return;
    }
    put_u32(o, s ? (uint32_t)n + 1 : 0);
    if (s)
        put(o, s, n + 1);
}

kx_status kx__kext_fields_write(const struct kx_kext *k, uint8_t **buf, size_t *len)
{
    struct out o = {buf, len, *len, 1};
    uint32_t flags =
        (k->is_kernel_resource ? F_KERNEL_RESOURCE : 0) | (k->is_interface ? F_INTERFACE : 0) |
        (k->declares_exec ? F_DECLARES_EXEC : 0) | (k->allow_user_load ? F_ALLOW_USER_LOAD : 0) |
        (k->is_dext ? F_DEXT : 0) | (k->apple_copyright ? F_APPLE_COPYRIGHT : 0);
    put_u32(&o, FIELDS_VERSION);
    put_u32(&o, flags);
    put_u64(&o, (uint64_t)k->version);
    put_u64(&o, (uint64_t)k->compat);
    put_str(&o, k->id);
    put_str(&o, k->version_str);
    put_str(&o, k->compat_str);
    put_str(&o, k->required);
    put_str(&o, k->real_path);
    put_u32(&o, (uint32_t)k->n_libs);
    for (size_t i = 0; i < k->n_libs; i++) {
        put_str(&o, k->libs[i].id);
        put_str(&o, k->libs[i].requested_str);
        put_u64(&o, (uint64_t)k->libs[i].requested);
    }
    return o.ok ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

/* ---- Reading ---- */

struct in {
    const uint8_t *p, *end;
    int ok;
};

static uint32_t get_u32(struct in *r)
{
    if (!r->ok || r->end - r->p < 4) {
        r->ok = 0;
        return 0;
    }
    uint32_t v =
        (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return v;
}

static uint64_t get_u64(struct in *r)
{
    uint64_t hi = get_u32(r);
    return hi << 32 | get_u32(r);
}

/* A string of the record (borrowed, NUL-terminated, NULL for none). */
static const char *get_str(struct in *r, size_t *len)
{
    uint32_t n = get_u32(r);
    const char *s;
    *len = 0;
    if (!r->ok || n == 0)
        return NULL;
    if ((size_t)(r->end - r->p) < n || r->p[n - 1] != '\0' || memchr(r->p, '\0', n - 1)) {
        r->ok = 0;
        return NULL;
    }
    s = (const char *)r->p;
    r->p += n;
    *len = n;
    return s;
}

/* The four identity strings go into one buffer the kext owns. */
static kx_status restore_strings(struct kx_kext *k, struct in *r)
{
    const char *s[4];
    size_t n[4], total = 0;
    for (int i = 0; i < 4; i++) {
        s[i] = get_str(r, &n[i]);
        total += n[i];
    }
    if (!r->ok)
        return STATUS_DATA_ERROR;
    if (!(k->strings = malloc(total ? total : 1)))
        return STATUS_INSUFFICIENT_RESOURCES;
    const char **slot[4] = {&k->id, &k->version_str, &k->compat_str, &k->required};
    char *at = k->strings;
    for (int i = 0; i < 4; i++) {
        *slot[i] = s[i] ? memcpy(at, s[i], n[i]) : NULL;
        at += n[i];
    }
    return STATUS_SUCCESS;
}

static kx_status restore_libraries(struct kx_kext *k, struct in *r)
{
    uint32_t n = get_u32(r);
    /* each library takes at least 16 bytes: two string lengths and a version */
    if (!r->ok || n > (size_t)(r->end - r->p) / 16)
        return STATUS_DATA_ERROR;
    if (n && !(k->libs = calloc(n, sizeof *k->libs)))
        return STATUS_INSUFFICIENT_RESOURCES;
    for (uint32_t i = 0; i < n; i++) {
        size_t id_len, req_len;
        const char *id = get_str(r, &id_len), *req = get_str(r, &req_len);
        kx_vers v = (kx_vers)get_u64(r);
        if (!r->ok || !id || !req)
            return STATUS_DATA_ERROR;
        struct kx_kext_lib *l = &k->libs[k->n_libs];
        if (!(l->id = strdup(id)) || !(l->requested_str = strdup(req))) {
            free(l->id);
            l->id = NULL;
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        l->requested = v;
        k->n_libs++;
    }
    return STATUS_SUCCESS;
}

kx_status kx__kext_restore(const char *path, const void *fields, size_t fields_len,
                           const void *info_bin, size_t info_bin_len, struct kx_kext **out)
{
    struct in r = {fields, (const uint8_t *)fields + fields_len, 1};
    struct kx_kext *k = kx__kext_alloc(path);
    kx_status st = STATUS_DATA_ERROR;
    *out = NULL;
    if (!k)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (get_u32(&r) != FIELDS_VERSION)
        goto fail;
    uint32_t flags = get_u32(&r);
    k->version = (kx_vers)get_u64(&r);
    k->compat = (kx_vers)get_u64(&r);
    size_t real_len = 0;
    const char *real = NULL;
    if ((st = restore_strings(k, &r)) != STATUS_SUCCESS)
        goto fail;
    real = get_str(&r, &real_len);
    if (!r.ok) {
        st = STATUS_DATA_ERROR;
        goto fail;
    }
    if (real && !(k->real_path = strdup(real))) {
        st = STATUS_INSUFFICIENT_RESOURCES;
        goto fail;
    }
    if ((st = restore_libraries(k, &r)) != STATUS_SUCCESS)
        goto fail;
    if (r.p != r.end || !k->id) {
        st = STATUS_DATA_ERROR;
        goto fail;
    }
    k->is_kernel_resource = !!(flags & F_KERNEL_RESOURCE);
    k->is_interface = !!(flags & F_INTERFACE);
    k->declares_exec = !!(flags & F_DECLARES_EXEC);
    k->allow_user_load = !!(flags & F_ALLOW_USER_LOAD);
    k->is_dext = !!(flags & F_DEXT);
    k->apple_copyright = !!(flags & F_APPLE_COPYRIGHT);
    if (!(k->info_bin = malloc(info_bin_len ? info_bin_len : 1))) {
        st = STATUS_INSUFFICIENT_RESOURCES;
        goto fail;
    }
    memcpy(k->info_bin, info_bin, info_bin_len);
    k->info_bin_len = info_bin_len;
    *out = k;
    return STATUS_SUCCESS;
fail:
    kx_kext_free(k);
    return st;
}
