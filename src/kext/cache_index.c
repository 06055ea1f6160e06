/* cache_index.c — the boot index kx appends to its mkext2 caches, and the stat snapshot.
 *
 * A boot must not pay for parsing an XML plist of every kext: that is what
 * the scan it replaces does. So after the mkext2 plist the builder appends a
 * binary index (Apple's readers ignore bytes past the plist; the header's
 * length and Adler-32 cover them, so a flipped bit anywhere still fails the
 * archive). Layout, big-endian u32 unless noted, offsets relative to the
 * index start:
 *
 *   header   magic 'KXBI', version, n_kexts, n_bundles, cache-info offset,
 *            cache-info length (a binary plist: the _KXCacheInfo dictionary)
 *   kexts    n_kexts x 76 bytes: path offset, path length (NUL-terminated
 *            string), info offset, info length (binary plist of the kext's
 *            info dictionary, archive keys removed), executable path offset
 *            and length (string; length 0: none), fields offset and length
 *            (what validation derived, restore.c), executable file-entry
 *            offset in the archive (0: none), flags (bit 0: has a load
 *            priority), load priority (two's complement), SHA-256 of the
 *            uncompressed executable (32 bytes)
 *   bundles  n_bundles x 56 bytes: folder (index into SourceFolders), name
 *            offset, name length, entries offset, entries length (relative
 *            paths, each NUL-terminated, the bundle itself "" first), number
 *            of entries, SHA-256 of the bundle's stat records (32 bytes)
 *   data     the strings and binary plists
 *   footer   (the file's last 16 bytes) magic 'KXBE', version, index
 *            offset in the archive, index length
 *
 * Every offset and length is checked against the index before use.
 *
 * The snapshot is the content digest of kx/boot.h. Taking one walks each
 * bundle (kx_plat_tree_walk) and records every entry's path; checking one
 * stats exactly the recorded paths, relative to the folder: a file added to
 * a bundle changes the mtime and ctime of the folder holding it, which is
 * recorded, so no folder needs listing again. Each record is the entry's
 * bundle-relative path and its type, size, mtime, ctime, inode, mode, owner
 * and group; a bundle's digest is SHA-256 over its records, the overall
 * digest SHA-256 over each folder's path and own record and each bundle's
 * name and digest.
 */
#include "boot_int.h"
#include "core/why.h"

#include "core/plat.h"
#include "core/plist.h"
#include "core/plat_tree.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_HEADER_LEN  24
#define KEXT_RECORD_LEN   76
#define BUNDLE_RECORD_LEN 56
#define FOOTER_LEN        16


/* ======== Stat records ======== */

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* One entry's record, hashed into ctx: its path below the bundle, then fixed-width fields. */
static int hash_node(EVP_MD_CTX *ctx, const char *rel, const struct kx_plat_node *n)
{
    unsigned char rec[1 + 7 * 8];
    rec[0] = (unsigned char)n->type;
    put_u64(rec + 1, (uint64_t)n->size);
    put_u64(rec + 9, (uint64_t)n->mtime_ns);
    put_u64(rec + 17, (uint64_t)n->ctime_ns);
    put_u64(rec + 25, n->ino);
    put_u64(rec + 33, (uint64_t)n->mode);
    put_u64(rec + 41, (uint64_t)n->uid);
    put_u64(rec + 49, (uint64_t)n->gid);
    return EVP_DigestUpdate(ctx, rel, strlen(rel) + 1) && EVP_DigestUpdate(ctx, rec, sizeof rec);
}

/* ======== Taking a snapshot (the builder) ======== */

struct take {
    EVP_MD_CTX *ctx;
    struct kx_cache_bundle *b;
    size_t cap;
    int ok;
};

static kx_status take_node(void *arg, const struct kx_plat_node *n)
{
    struct take *t = arg;
    size_t add = strlen(n->rel) + 1;
    if (t->b->entries_len + add > t->cap) {
        size_t c = (t->b->entries_len + add) * 2;
        char *v = realloc(t->b->entries, c);
        if (!v)
            return STATUS_INSUFFICIENT_RESOURCES;
        t->b->entries = v;
        t->cap = c;
    }
    memcpy(t->b->entries + t->b->entries_len, n->rel, add);
    t->b->entries_len += add;
    t->b->n_entries++;
    if (!hash_node(t->ctx, n->rel, n))
        t->ok = 0;
    return STATUS_SUCCESS;
}

static kx_status take_bundle(EVP_MD_CTX *ctx, const char *path, struct kx_cache_bundle *b)
{
    struct take t = {ctx, b, 0, 1};
    unsigned md_len = 0;
    if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = kx_plat_tree_walk(path, KX_CACHE_MAX_DEPTH, take_node, &t);
    if (st != STATUS_SUCCESS && st != STATUS_INSUFFICIENT_RESOURCES) {
        /* gone or unreadable since it was listed: record it as gone, as a check would see it */
        struct kx_plat_node gone;
        memset(&gone, 0, sizeof gone);
        gone.rel = "";
        gone.type = KX_PLAT_NODE_GONE;
        st = take_node(&t, &gone);
    }
    if (st == STATUS_SUCCESS && (!t.ok || !EVP_DigestFinal_ex(ctx, b->digest, &md_len)))
        st = STATUS_INSUFFICIENT_RESOURCES;
    return st;
}

static kx_status folder_record(EVP_MD_CTX *all, const char *folder, int *dfd)
{
    struct kx_plat_node n;
    kx_status st = kx_plat_dir_open(folder, dfd);
    if (st == STATUS_SUCCESS)
        st = kx_plat_stat_at(*dfd, ".", 1, &n);
    if (st == STATUS_SUCCESS && !hash_node(all, folder, &n))
        st = STATUS_INSUFFICIENT_RESOURCES;
    return st;
}

kx_status kx__cache_snapshot_take(char *const *folders, size_t n_folders,
                                  struct kx_cache_snapshot *s, char *why, size_t why_len)
{
    EVP_MD_CTX *all = EVP_MD_CTX_new(), *one = EVP_MD_CTX_new();
    kx_status st = STATUS_SUCCESS;
    unsigned md_len = 0;
    memset(s, 0, sizeof *s);
    if (!all || !one || !EVP_DigestInit_ex(all, EVP_sha256(), NULL))
        st = STATUS_INSUFFICIENT_RESOURCES;
    for (size_t f = 0; f < n_folders && st == STATUS_SUCCESS; f++) {
        char **names = NULL;
        size_t n = 0;
        int dfd = -1;
        st = folder_record(all, folders[f], &dfd);
        kx_plat_close(dfd);
        if (st == STATUS_SUCCESS)
            st = kx_plat_list_dir(folders[f], &names, &n);
        if (st != STATUS_SUCCESS) {
            if (st != STATUS_INSUFFICIENT_RESOURCES)
                st = kx_why(why, why_len, st, "extensions folder %s: %s", folders[f],
                          kx_status_string(st));
            break;
        }
        for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++) {
            size_t len = strlen(names[i]);
            if (len <= 5 || strcmp(names[i] + len - 5, ".kext") != 0)
                continue;
            if (s->n_bundles == s->cap_bundles) {
                size_t c = s->cap_bundles ? s->cap_bundles * 2 : 64;
                struct kx_cache_bundle *v = realloc(s->bundles, c * sizeof *v);
                if (!v) {
                    st = STATUS_INSUFFICIENT_RESOURCES;
                    break;
                }
                s->bundles = v;
                s->cap_bundles = c;
            }
            struct kx_cache_bundle *b = &s->bundles[s->n_bundles++];
            memset(b, 0, sizeof *b);
            b->folder = (uint32_t)f;
            char *path = kx_plat_path_join(folders[f], names[i]);
            if (!path || !(b->name = strdup(names[i])))
                st = STATUS_INSUFFICIENT_RESOURCES;
            else
                st = take_bundle(one, path, b);
            free(path);
            if (st == STATUS_SUCCESS && (!EVP_DigestUpdate(all, b->name, len + 1) ||
                                         !EVP_DigestUpdate(all, b->digest, sizeof b->digest)))
                st = STATUS_INSUFFICIENT_RESOURCES;
        }
        kx_plat_free_names(names, n);
    }
    if (st == STATUS_SUCCESS && !EVP_DigestFinal_ex(all, s->digest, &md_len))
        st = STATUS_INSUFFICIENT_RESOURCES;
    EVP_MD_CTX_free(all);
    EVP_MD_CTX_free(one);
    if (st != STATUS_SUCCESS)
        kx__cache_snapshot_clear(s);
    return st;
}

void kx__cache_snapshot_clear(struct kx_cache_snapshot *s)
{
    for (size_t i = 0; i < s->n_bundles; i++) {
        free(s->bundles[i].name);
        free(s->bundles[i].entries);
    }
    free(s->bundles);
    memset(s, 0, sizeof *s);
}

/* ======== Checking one (a boot) ======== */

kx_status kx__cache_snapshot_check(char *const *folders, size_t n_folders,
                                   const struct kx_cache_index *ix, unsigned char digest[32],
                                   size_t *first_changed, int *first_gone)
{
    EVP_MD_CTX *all = EVP_MD_CTX_new(), *one = EVP_MD_CTX_new();
    kx_status st = STATUS_SUCCESS;
    char rel[4096];
    unsigned md_len = 0;
    size_t b = 0;
    *first_changed = SIZE_MAX;
    *first_gone = 0;
    if (!all || !one || !EVP_DigestInit_ex(all, EVP_sha256(), NULL))
        st = STATUS_INSUFFICIENT_RESOURCES;
    for (size_t f = 0; f < n_folders && st == STATUS_SUCCESS; f++) {
        int dfd = -1;
        st = folder_record(all, folders[f], &dfd);
        for (; st == STATUS_SUCCESS && b < ix->n_bundles && ix->bundles[b].folder == f; b++) {
            const struct kx_cache_index_bundle *ib = &ix->bundles[b];
            size_t name_len = strlen(ib->name);
            unsigned char md[32];
            int gone = 0;
            if (!EVP_DigestInit_ex(one, EVP_sha256(), NULL)) {
                st = STATUS_INSUFFICIENT_RESOURCES;
                break;
            }
            memcpy(rel, ib->name, name_len < sizeof rel ? name_len : sizeof rel - 1);
            for (const char *e = ib->entries;
                 e < ib->entries + ib->entries_len && st == STATUS_SUCCESS; e += strlen(e) + 1) {
                struct kx_plat_node n;
                size_t e_len = strlen(e);
                /* "Name.kext" for the bundle itself, else "Name.kext/<entry>" */
                int ok = name_len + 1 + e_len < sizeof rel;
                if (ok) {
                    rel[name_len] = *e ? '/' : '\0';
                    memcpy(rel + name_len + 1, e, e_len + 1);
                    ok = kx_plat_stat_at(dfd, rel, *e == '\0', &n) == STATUS_SUCCESS;
                }
                if (!ok) { /* too long, or unexaminable: as a walk records what it can't stat */
                    memset(&n, 0, sizeof n);
                    n.type = KX_PLAT_NODE_GONE;
                }
                if (*e == '\0')
                    gone = n.type == KX_PLAT_NODE_GONE;
                if (!hash_node(one, e, &n))
                    st = STATUS_INSUFFICIENT_RESOURCES;
            }
            if (st == STATUS_SUCCESS && (!EVP_DigestFinal_ex(one, md, &md_len) ||
                                         !EVP_DigestUpdate(all, ib->name, name_len + 1) ||
                                         !EVP_DigestUpdate(all, md, sizeof md)))
                st = STATUS_INSUFFICIENT_RESOURCES;
            if (st == STATUS_SUCCESS && *first_changed == SIZE_MAX &&
                memcmp(md, ib->digest, sizeof md) != 0) {
                *first_changed = b;
                *first_gone = gone;
            }
        }
        kx_plat_close(dfd);
        if (st != STATUS_SUCCESS && st != STATUS_INSUFFICIENT_RESOURCES) {
            st = STATUS_SUCCESS; /* a folder that can't be opened: the digest won't match */
            if (!EVP_DigestUpdate(all, "?", 2))
                st = STATUS_INSUFFICIENT_RESOURCES;
        }
    }
    if (st == STATUS_SUCCESS && !EVP_DigestFinal_ex(all, digest, &md_len))
        st = STATUS_INSUFFICIENT_RESOURCES;
    EVP_MD_CTX_free(all);
    EVP_MD_CTX_free(one);
    return st;
}

/* ======== Writing the index ======== */

struct out {
    uint8_t *data;
    size_t len, cap;
};

static kx_status out_put(struct out *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        size_t c = o->cap ? o->cap : 65536;
        while (c < o->len + n)
            c *= 2;
        uint8_t *v = realloc(o->data, c);
        if (!v)
            return STATUS_INSUFFICIENT_RESOURCES;
        o->data = v;
        o->cap = c;
    }
    if (p)
        memcpy(o->data + o->len, p, n);
    else
        memset(o->data + o->len, 0, n);
    o->len += n;
    return STATUS_SUCCESS;
}

/* Appends bytes to the data area; its offset goes into the record at rec. */
static kx_status out_blob(struct out *o, size_t index_start, size_t rec, const void *p, size_t n)
{
    if (o->len - index_start > UINT32_MAX - n)
        return STATUS_BUFFER_TOO_SMALL;
    kx_be32_put(o->data + rec, (uint32_t)(o->len - index_start));
    kx_be32_put(o->data + rec + 4, (uint32_t)n);
    return out_put(o, p, n);
}

static kx_status out_plist(struct out *o, size_t index_start, size_t rec, plist_t p)
{
    char *bin = NULL;
    uint32_t bin_len = 0;
    plist_to_bin(p, &bin, &bin_len);
    if (!bin)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = out_blob(o, index_start, rec, bin, bin_len);
    plist_to_bin_free(bin);
    return st;
}

kx_status kx__cache_index_append(void **archive, size_t *len, plist_t cache_info,
                                 const struct kx_cache_index_input *kexts, size_t n_kexts,
                                 const struct kx_cache_snapshot *snap)
{
    struct out o = {*archive, *len, *len};
    size_t start = o.len, recs, brecs;
    kx_status st =
        out_put(&o, NULL,
                INDEX_HEADER_LEN + n_kexts * KEXT_RECORD_LEN + snap->n_bundles * BUNDLE_RECORD_LEN);
    *archive = o.data; /* realloc may have moved it; the caller frees whatever it holds */
    if (st != STATUS_SUCCESS)
        return st;
    kx_be32_put(o.data + start, KX_CACHE_INDEX_MAGIC);
    kx_be32_put(o.data + start + 4, KX_CACHE_INDEX_VERSION);
    kx_be32_put(o.data + start + 8, (uint32_t)n_kexts);
    kx_be32_put(o.data + start + 12, (uint32_t)snap->n_bundles);
    st = out_plist(&o, start, start + 16, cache_info);
    recs = start + INDEX_HEADER_LEN;
    brecs = recs + n_kexts * KEXT_RECORD_LEN;
    for (size_t i = 0; i < n_kexts && st == STATUS_SUCCESS; i++) {
        size_t r = recs + i * KEXT_RECORD_LEN;
        const struct kx_cache_index_input *k = &kexts[i];
        st = out_blob(&o, start, r, k->path, strlen(k->path) + 1);
        if (st == STATUS_SUCCESS)
            st = out_plist(&o, start, r + 8, k->info);
        if (st == STATUS_SUCCESS && k->exec_path)
            st = out_blob(&o, start, r + 16, k->exec_path, strlen(k->exec_path) + 1);
        if (st == STATUS_SUCCESS)
            st = out_blob(&o, start, r + 24, k->fields, k->fields_len);
        if (st != STATUS_SUCCESS)
            break;
        kx_be32_put(o.data + r + 32, k->exec_offset);
        kx_be32_put(o.data + r + 36, k->has_priority ? 1u : 0u);
        kx_be32_put(o.data + r + 40, (uint32_t)k->priority);
        memcpy(o.data + r + 44, k->exec_sha, 32);
    }
    for (size_t i = 0; i < snap->n_bundles && st == STATUS_SUCCESS; i++) {
        size_t r = brecs + i * BUNDLE_RECORD_LEN;
        const struct kx_cache_bundle *b = &snap->bundles[i];
        kx_be32_put(o.data + r, b->folder);
        st = out_blob(&o, start, r + 4, b->name, strlen(b->name) + 1);
        if (st == STATUS_SUCCESS)
            st = out_blob(&o, start, r + 12, b->entries, b->entries_len);
        if (st != STATUS_SUCCESS)
            break;
        kx_be32_put(o.data + r + 20, (uint32_t)b->n_entries);
        memcpy(o.data + r + 24, b->digest, 32);
    }
    size_t index_len = o.len - start;
    if (st == STATUS_SUCCESS)
        st = out_put(&o, NULL, FOOTER_LEN);
    *archive = o.data;
    if (st != STATUS_SUCCESS)
        return st;
    if (o.len > INT32_MAX)
        return STATUS_BUFFER_TOO_SMALL;
    uint8_t *foot = o.data + o.len - FOOTER_LEN;
    kx_be32_put(foot, KX_CACHE_FOOTER_MAGIC);
    kx_be32_put(foot + 4, KX_CACHE_INDEX_VERSION);
    kx_be32_put(foot + 8, (uint32_t)start);
    kx_be32_put(foot + 12, (uint32_t)index_len);
    kx_be32_put(o.data + 8, (uint32_t)o.len); /* the mkext header's length and checksum */
    kx_be32_put(o.data + 12, kx_mkext_checksum(o.data, o.len));
    *len = o.len;
    return STATUS_SUCCESS;
}

/* ======== Reading the index ======== */

/* [off, off + n) lies inside the index, and when a string, ends with its NUL. */
static const uint8_t *span(const uint8_t *ix, size_t ix_len, const uint8_t *rec, int is_string,
                           size_t *n_out)
{
    uint32_t off = kx_be32_get(rec), n = kx_be32_get(rec + 4);
    if (off > ix_len || n > ix_len - off || (is_string && (n == 0 || ix[off + n - 1] != '\0')))
        return NULL;
    if (n_out)
        *n_out = n;
    return ix + off;
}

/* The mkext header checks the kernel makes, in its order and words. */
static kx_status check_header(const uint8_t *a, size_t len, char *why, size_t why_len)
{
    if (len < KX_MKEXT2_HEADER_LEN)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "Mkext archive too small to be valid.");
    if (kx_be32_get(a) != KX_MKEXT_MAGIC || kx_be32_get(a + 4) != KX_MKEXT_SIGNATURE)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    "Mkext archive has invalid magic or signature.");
    if (kx_be32_get(a + 8) != len)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    "Mkext archive recorded length doesn't match actual file length.");
    if (len > INT32_MAX)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "Mkext archive too large.");
    if (kx_mkext_checksum(a, len) != kx_be32_get(a + 12))
        return kx_why(why, why_len, STATUS_DATA_ERROR, "Mkext archive has bad checksum.");
    if (kx_be32_get(a + 16) != KX_MKEXT_VERSION_2)
        return kx_why(why, why_len, STATUS_NOT_SUPPORTED,
                    "Mkext archive has unsupported mkext version 0x%08x.", kx_be32_get(a + 16));
    if (kx_be32_get(a + 24) != kx_mkext_host_cpu_type())
        return kx_why(why, why_len, STATUS_NOT_SUPPORTED,
                    "Mkext archive is for CPU type %s (0x%08x), not this machine's %s.",
                    kx_mkext_cpu_name(kx_be32_get(a + 24)), kx_be32_get(a + 24),
                    kx_mkext_cpu_name(kx_mkext_host_cpu_type()));
    return STATUS_SUCCESS;
}

kx_status kx__cache_index_parse(const uint8_t *a, size_t len, struct kx_cache_index *ix, char *why,
                                size_t why_len)
{
    memset(ix, 0, sizeof *ix);
    kx_status st = check_header(a, len, why, why_len);
    if (st != STATUS_SUCCESS)
        return st;
    const uint8_t *foot = a + len - FOOTER_LEN;
    uint64_t plist_end = (uint64_t)kx_be32_get(a + 32) +
                         (kx_be32_get(a + 36) ? kx_be32_get(a + 36) : kx_be32_get(a + 40));
    if (len < KX_MKEXT2_HEADER_LEN + FOOTER_LEN || kx_be32_get(foot) != KX_CACHE_FOOTER_MAGIC)
        return kx_why(why, why_len, STATUS_NOT_SUPPORTED, "no kx boot index");
    if (kx_be32_get(foot + 4) != KX_CACHE_INDEX_VERSION)
        return kx_why(why, why_len, STATUS_NOT_SUPPORTED, "boot index version %u, kx reads %u",
                    kx_be32_get(foot + 4), KX_CACHE_INDEX_VERSION);
    uint64_t start = kx_be32_get(foot + 8), ix_len = kx_be32_get(foot + 12);
    if (start < plist_end || start > len - FOOTER_LEN || ix_len != len - FOOTER_LEN - start ||
        ix_len < INDEX_HEADER_LEN)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "boot index: bad footer");
    const uint8_t *x = a + start;
    uint64_t n_kexts = kx_be32_get(x + 8), n_bundles = kx_be32_get(x + 12);
    if (kx_be32_get(x) != KX_CACHE_INDEX_MAGIC || kx_be32_get(x + 4) != KX_CACHE_INDEX_VERSION ||
        n_kexts * KEXT_RECORD_LEN + n_bundles * BUNDLE_RECORD_LEN > ix_len - INDEX_HEADER_LEN)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "boot index: bad header");
    size_t ci_len = 0;
    const uint8_t *ci = span(x, ix_len, x + 16, 0, &ci_len);
    const char *reason = NULL;
    if (!ci || kx_plist_parse(ci, ci_len, &ix->cache_info, &reason) != STATUS_SUCCESS ||
        !kx_plist_is(ix->cache_info, PLIST_DICT)) {
        kx__cache_index_free(ix);
        return kx_why(why, why_len, STATUS_DATA_ERROR, "boot index: cache info: %s",
                    reason ? reason : "not a dictionary");
    }
    ix->kexts = calloc(n_kexts ? n_kexts : 1, sizeof *ix->kexts);
    ix->bundles = calloc(n_bundles ? n_bundles : 1, sizeof *ix->bundles);
    if (!ix->kexts || !ix->bundles) {
        kx__cache_index_free(ix);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    ix->n_kexts = n_kexts;
    ix->n_bundles = n_bundles;
    for (size_t i = 0; i < n_kexts; i++) {
        const uint8_t *r = x + INDEX_HEADER_LEN + i * KEXT_RECORD_LEN;
        struct kx_cache_index_kext *k = &ix->kexts[i];
        k->path = (const char *)span(x, ix_len, r, 1, NULL);
        k->info = span(x, ix_len, r + 8, 0, &k->info_len);
        k->exec_path = kx_be32_get(r + 20) ? (const char *)span(x, ix_len, r + 16, 1, NULL) : NULL;
        k->fields = span(x, ix_len, r + 24, 0, &k->fields_len);
        k->exec_offset = kx_be32_get(r + 32);
        k->has_priority = kx_be32_get(r + 36) & 1u;
        k->priority = (int32_t)kx_be32_get(r + 40);
        k->exec_sha = r + 44;
        if (!k->path || !k->info || !k->fields ||
            (k->exec_offset && (k->exec_offset >= start || !k->exec_path)) ||
            (!k->exec_path && kx_be32_get(r + 20))) {
            kx__cache_index_free(ix);
            return kx_why(why, why_len, STATUS_DATA_ERROR, "boot index: kext %zu: bad record", i);
        }
    }
    const uint8_t *brecs = x + INDEX_HEADER_LEN + n_kexts * KEXT_RECORD_LEN;
    for (size_t i = 0; i < n_bundles; i++) {
        const uint8_t *r = brecs + i * BUNDLE_RECORD_LEN;
        struct kx_cache_index_bundle *b = &ix->bundles[i];
        b->folder = kx_be32_get(r);
        b->name = (const char *)span(x, ix_len, r + 4, 1, NULL);
        b->entries = (const char *)span(x, ix_len, r + 12, 1, &b->entries_len);
        b->digest = r + 24;
        if (!b->name || !b->entries || (i > 0 && b->folder < ix->bundles[i - 1].folder)) {
            kx__cache_index_free(ix);
            return kx_why(why, why_len, STATUS_DATA_ERROR, "boot index: bundle %zu: bad record", i);
        }
    }
    ix->archive = a;
    ix->archive_len = (size_t)start; /* executables lie before the index */
    return STATUS_SUCCESS;
}

void kx__cache_index_free(struct kx_cache_index *ix)
{
    if (ix->cache_info)
        plist_free(ix->cache_info);
    free(ix->kexts);
    free(ix->bundles);
    memset(ix, 0, sizeof *ix);
}

/* ======== Verifying (kx cache verify) ======== */

kx_status kx_cache_verify_index(const char *path, size_t *n_kexts, char *why, size_t why_len)
{
    struct kx_cache_index ix;
    struct kx_mkext *m = NULL;
    void *data = NULL;
    size_t len = 0;
    if (n_kexts)
        *n_kexts = 0;
    kx_status st = kx_plat_read_file(path, (size_t)INT32_MAX, &data, &len);
    if (st != STATUS_SUCCESS)
        return kx_why(why, why_len, st, "%s: %s", path, kx_status_string(st));
    if ((st = kx__cache_index_parse(data, len, &ix, why, why_len)) != STATUS_SUCCESS) {
        free(data);
        return st;
    }
    if ((st = kx_mkext_read(data, len, 0, &m, why, why_len)) != STATUS_SUCCESS)
        goto out;
    if (m->n_entries != ix.n_kexts) {
        st = kx_why(why, why_len, STATUS_DATA_ERROR, "boot index: %zu kexts, the archive's plist %zu",
                  ix.n_kexts, m->n_entries);
        goto out;
    }
    for (size_t i = 0; i < ix.n_kexts && st == STATUS_SUCCESS; i++) {
        const struct kx_cache_index_kext *k = &ix.kexts[i];
        const struct kx_mkext_entry *e = &m->entries[i];
        struct kx_kext *restored = NULL;
        uint32_t exec = e->has_executable ? e->executable_offset : 0;
        if (!e->bundle_path || strcmp(e->bundle_path, k->path) != 0 || exec != k->exec_offset)
            st = kx_why(why, why_len, STATUS_DATA_ERROR,
                      "boot index: kext %zu (%s) disagrees with the archive's plist", i, k->path);
        else if ((st = kx__kext_restore(k->path, k->fields, k->fields_len, k->info, k->info_len,
                                        &restored)) == STATUS_DATA_ERROR)
            kx_why(why, why_len, st, "boot index: %s: its record doesn't read back", k->path);
        else if (st == STATUS_SUCCESS &&
                 (!restored->id || !e->bundle_id || strcmp(restored->id, e->bundle_id) != 0))
            st = kx_why(why, why_len, STATUS_DATA_ERROR,
                      "boot index: %s: identifier disagrees with the archive's plist", k->path);
        kx_kext_free(restored);
    }
    if (st == STATUS_SUCCESS && n_kexts)
        *n_kexts = ix.n_kexts;
out:
    kx_mkext_free(m);
    kx__cache_index_free(&ix);
    free(data);
    return st;
}
