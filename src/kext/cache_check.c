/* cache_check.c — may this boot use this cache? (the rules are listed in kx/boot.h)
 *
 * The checks run cheapest and most decisive first, and each failure gives
 * one precise reason: the file itself (stat), then the archive (the mkext
 * header as the kernel checks it, including the Adler-32 over every byte,
 * then the boot index), then what the builder recorded (format, folders,
 * options, filter), then Apple's mtime rule (both times, and which folder
 * is newest), and last kx's content digest, the only check that touches
 * the bundles: one stat per entry the builder recorded. When the digest
 * differs, the per-bundle digests name the first bundle that changed.
 * The XML plist is never parsed here: the boot index holds everything a
 * boot needs (cache_index.c).
 */
#include "boot_int.h"

#include "core/plat.h"
#include "core/plat_user.h"
#include "core/plist.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <time.h>

static void say(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t why_len, const char *fmt, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
}

const char *kx_cache_verdict_name(enum kx_cache_verdict v)
{
    switch (v) {
    case KX_CACHE_USABLE: return "usable";
    case KX_CACHE_IGNORED: return "ignored";
    case KX_CACHE_MISSING: return "missing";
    case KX_CACHE_UNREADABLE: return "unreadable";
    case KX_CACHE_CORRUPT: return "corrupt";
    case KX_CACHE_FOREIGN: return "foreign";
    case KX_CACHE_WRONG_FILTER: return "wrong-filter";
    case KX_CACHE_STALE_MTIME: return "stale-mtime";
    case KX_CACHE_STALE_CONTENT: return "stale-content";
    }
    return "unknown";
}

/* "2026-01-02T10:11:12.123456789Z" */
static char *format_ns(int64_t ns, char *buf, size_t len)
{
    time_t s = (time_t)(ns / 1000000000LL);
    long frac = (long)(ns % 1000000000LL);
    struct tm tm;
    if (frac < 0) {
        frac += 1000000000L;
        s--;
    }
    if (!gmtime_r(&s, &tm)) {
        snprintf(buf, len, "%lld ns", (long long)ns);
        return buf;
    }
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%09ldZ", date, frac);
    return buf;
}

static int filter_parse(const char *s, enum kx_cache_filter *out)
{
    static const enum kx_cache_filter all[] = {KX_CACHE_ALL, KX_CACHE_LOCAL, KX_CACHE_NETWORK,
                                               KX_CACHE_SAFE};
    for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, kx_cache_filter_name(all[i])) == 0) {
            *out = all[i];
            return 1;
        }
    return 0;
}

/* The filter a mode's booter needs. */
static enum kx_cache_filter mode_filter(enum kx_boot_mode mode)
{
    return mode == KX_BOOT_NETWORK ? KX_CACHE_NETWORK : KX_CACHE_LOCAL;
}

static int get_bool(plist_t d, const char *key)
{
    int v = 0;
    return kx_plist_bool(d, key, &v) && v;
}

static uint64_t get_uint(plist_t d, const char *key, int *present)
{
    plist_t n = kx_plist_get(d, key);
    uint64_t v = 0;
    *present = kx_plist_is(n, PLIST_UINT);
    if (*present)
        plist_get_uint_val(n, &v);
    return v;
}

/* ---- The recorded metadata ------------------------------------------------------------------- */

static enum kx_cache_verdict check_recorded(const struct kx_cache_want *w, struct kx_cache_open *c,
                                            char *why, size_t why_len)
{
    plist_t ci = c->ix.cache_info;
    const struct kx_kext_options *o = w->opts;
    int present = 0;
    uint64_t format = get_uint(ci, KX_CACHE_KEY_FORMAT, &present);
    const char *builder = kx_plist_string(ci, KX_MKEXT_CACHE_BUILDER_VERSION, NULL);
    if (!present || format != KX_CACHE_FORMAT || !builder ||
        strcmp(builder, KX_MKEXT_BUILDER_VERSION) != 0) {
        say(why, why_len, "%s: built by %s (cache format %llu); this kx writes %s, format %u",
            w->path, builder ? builder : "an unknown builder", (unsigned long long)format,
            KX_MKEXT_BUILDER_VERSION, KX_CACHE_FORMAT);
        return KX_CACHE_FOREIGN;
    }
    plist_t folders = kx_plist_get(ci, KX_CACHE_KEY_FOLDERS);
    int same = kx_plist_is(folders, PLIST_ARRAY) && plist_array_get_size(folders) == w->n_folders;
    for (size_t i = 0; same && i < w->n_folders; i++) {
        plist_t f = plist_array_get_item(folders, (uint32_t)i);
        const char *s = kx_plist_is(f, PLIST_STRING) ? plist_get_string_ptr(f, NULL) : NULL;
        same = s && strcmp(s, w->folders[i]) == 0;
    }
    if (!same) {
        plist_t f0 = kx_plist_is(folders, PLIST_ARRAY) ? plist_array_get_item(folders, 0) : NULL;
        const char *s0 = kx_plist_is(f0, PLIST_STRING) ? plist_get_string_ptr(f0, NULL) : NULL;
        say(why, why_len, "%s: built from %s%s (%u folder%s), this boot uses %s%s (%zu)", w->path,
            s0 ? s0 : "?",
            kx_plist_is(folders, PLIST_ARRAY) && plist_array_get_size(folders) > 1 ? ", ..." : "",
            kx_plist_is(folders, PLIST_ARRAY) ? plist_array_get_size(folders) : 0,
            kx_plist_is(folders, PLIST_ARRAY) && plist_array_get_size(folders) == 1 ? "" : "s",
            w->folders[0], w->n_folders > 1 ? ", ..." : "", w->n_folders);
        return KX_CACHE_FOREIGN;
    }
    const char *arch = kx_plist_string(ci, KX_CACHE_KEY_ARCH, NULL);
    const char *want_arch = kx__arch_or_host(o ? o->arch : NULL);
    if (!arch || strcmp(arch, want_arch) != 0) {
        say(why, why_len, "%s: built for %s, this boot is %s", w->path, arch ? arch : "?",
            want_arch);
        return KX_CACHE_FOREIGN;
    }
    unsigned flags = o ? o->flags : 0;
    if (!(flags & KX_KEXT_NO_AUTH)) {
        int has_uid = 0, has_gid = 0;
        uint64_t uid = get_uint(ci, KX_CACHE_KEY_UID, &has_uid);
        uint64_t gid = get_uint(ci, KX_CACHE_KEY_GID, &has_gid);
        if (!get_bool(ci, KX_CACHE_KEY_AUTH)) {
            say(why, why_len,
                "%s: built without authentication (--no-auth); this boot "
                "authenticates kexts",
                w->path);
            return KX_CACHE_FOREIGN;
        }
        if (!has_uid || !has_gid || uid != (uint64_t)(o ? o->trusted_uid : 0) ||
            gid != (uint64_t)(o ? o->trusted_gid : 0)) {
            char was[160], trusts[160];
            kx_plat_owner_string((uint32_t)uid, (uint32_t)gid, was, sizeof was);
            kx_plat_owner_string(o ? o->trusted_uid : 0, o ? o->trusted_gid : 0, trusts,
                                 sizeof trusts);
            say(why, why_len, "%s: kexts were authenticated for owner %s, this boot trusts %s",
                w->path, was, trusts);
            return KX_CACHE_FOREIGN;
        }
    }
    if (!(flags & KX_KEXT_NO_EXEC) && !get_bool(ci, KX_CACHE_KEY_EXECUTABLES)) {
        say(why, why_len, "%s: built without executables (--no-exec); this boot needs them",
            w->path);
        return KX_CACHE_FOREIGN;
    }
    const char *fname = kx_plist_string(ci, KX_CACHE_KEY_FILTER, NULL);
    if (!filter_parse(fname, &c->filter)) {
        say(why, why_len, "%s: unknown filter '%s'", w->path, fname ? fname : "(none)");
        return KX_CACHE_FOREIGN;
    }
    if (w->any_mode ? c->filter != w->filter
                    : c->filter != KX_CACHE_ALL && c->filter != mode_filter(w->mode)) {
        if (w->any_mode)
            say(why, why_len, "%s: built with --%s, wanted --%s", w->path,
                kx_cache_filter_name(c->filter), kx_cache_filter_name(w->filter));
        else
            say(why, why_len,
                "%s: built with --%s, which lacks kexts a %s boot needs (it needs "
                "--all or --%s)",
                w->path, kx_cache_filter_name(c->filter), kx_boot_mode_name(w->mode),
                kx_cache_filter_name(mode_filter(w->mode)));
        return KX_CACHE_WRONG_FILTER;
    }
    c->archived = kx_plist_get(ci, KX_CACHE_KEY_ARCHIVED);
    c->omitted = kx_plist_get(ci, KX_CACHE_KEY_OMITTED);
    if ((c->filter != KX_CACHE_ALL && !kx_plist_is(c->archived, PLIST_ARRAY)) ||
        !kx_plist_is(c->omitted, PLIST_ARRAY)) {
        say(why, why_len, "%s: the boot index's cache info lacks %s", w->path,
            !kx_plist_is(c->omitted, PLIST_ARRAY) ? KX_CACHE_KEY_OMITTED : KX_CACHE_KEY_ARCHIVED);
        return KX_CACHE_FOREIGN;
    }
    return KX_CACHE_USABLE;
}

/* ---- Freshness ------------------------------------------------------------------------------- */

static enum kx_cache_verdict check_mtime(const struct kx_cache_want *w, int64_t cache_mtime,
                                         char *why, size_t why_len)
{
    int64_t newest = 0;
    size_t at = 0;
    char a[48], b[48], c[48];
    kx_status st = kx__cache_newest_mtime(w->folders, w->n_folders, &newest, &at);
    if (st != STATUS_SUCCESS) {
        say(why, why_len, "stale: extensions folder %s: %s", w->folders[at], kx_status_string(st));
        return KX_CACHE_STALE_MTIME;
    }
    if (cache_mtime != newest + 1000000000LL) {
        say(why, why_len,
            "stale: %s has mtime %s, but the newest extensions folder (%s, modified "
            "%s) wants %s (its mtime + 1 s)",
            w->path, format_ns(cache_mtime, a, sizeof a), w->folders[at],
            format_ns(newest, b, sizeof b), format_ns(newest + 1000000000LL, c, sizeof c));
        return KX_CACHE_STALE_MTIME;
    }
    return KX_CACHE_USABLE;
}

static enum kx_cache_verdict check_content(const struct kx_cache_want *w,
                                           const struct kx_cache_open *c, kx_status *st, char *why,
                                           size_t why_len)
{
    static const char digits[] = "0123456789abcdef";
    const char *then = kx_plist_string(c->ix.cache_info, KX_CACHE_KEY_DIGEST, NULL);
    unsigned char md[32];
    char hex[KX_SHA256_HEX_LEN];
    size_t changed = SIZE_MAX;
    int gone = 0;
    if ((*st = kx__cache_snapshot_check(w->folders, w->n_folders, &c->ix, md, &changed, &gone)) !=
        STATUS_SUCCESS)
        return KX_CACHE_STALE_CONTENT;
    for (size_t i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    if (then && strcmp(then, hex) == 0)
        return KX_CACHE_USABLE;
    if (changed != SIZE_MAX) {
        const struct kx_cache_index_bundle *b = &c->ix.bundles[changed];
        say(why, why_len, "stale: %s/%s %s since the cache was built",
            b->folder < w->n_folders ? w->folders[b->folder] : "?", b->name,
            gone ? "disappeared" : "changed");
    } else {
        say(why, why_len,
            "stale: an extensions folder changed since the cache was built (a "
            "bundle appeared or disappeared)");
    }
    return KX_CACHE_STALE_CONTENT;
}

/* ---- The file -------------------------------------------------------------------------------- */

static enum kx_cache_verdict check_file(const struct kx_cache_want *w, struct kx_plat_stat *sb,
                                        char *why, size_t why_len)
{
    kx_status st = kx_plat_stat(w->path, sb);
    const struct kx_kext_options *o = w->opts;
    if (st == STATUS_NO_SUCH_FILE) {
        say(why, why_len, "no cache at %s", w->path);
        return KX_CACHE_MISSING;
    }
    if (st != STATUS_SUCCESS) {
        say(why, why_len, "%s: %s", w->path, kx_status_string(st));
        return KX_CACHE_UNREADABLE;
    }
    if (!sb->is_reg) {
        say(why, why_len, "%s: not a regular file", w->path);
        return KX_CACHE_UNREADABLE;
    }
    if (o && !(o->flags & KX_KEXT_NO_AUTH)) {
        if (sb->uid != o->trusted_uid || sb->gid != o->trusted_gid) {
            char is[160], must[160];
            kx_plat_owner_string(sb->uid, sb->gid, is, sizeof is);
            kx_plat_owner_string(o->trusted_uid, o->trusted_gid, must, sizeof must);
            say(why, why_len, "%s: owned by %s, must be %s", w->path, is, must);
            return KX_CACHE_UNREADABLE;
        }
        if ((sb->mode & 0777) != 0644) {
            say(why, why_len, "%s: mode %04o, must be 0644", w->path, (unsigned)sb->mode);
            return KX_CACHE_UNREADABLE;
        }
    }
    return KX_CACHE_USABLE;
}

/* Decompresses and checks every executable (KX_BOOT_VERIFY_CACHE). */
static enum kx_cache_verdict verify_executables(const struct kx_cache_want *w,
                                                const struct kx_cache_open *c, kx_status *fatal,
                                                char *why, size_t why_len)
{
    for (size_t i = 0; i < c->ix.n_kexts; i++) {
        const struct kx_cache_index_kext *k = &c->ix.kexts[i];
        uint8_t *bytes = NULL;
        size_t len = 0;
        char reason[256] = "";
        unsigned char md[32];
        unsigned md_len = 0;
        if (!k->exec_offset)
            continue;
        kx_status st = kx_mkext2_file_at(c->ix.archive, c->ix.archive_len, k->exec_offset, &bytes,
                                         &len, reason, sizeof reason);
        if (st == STATUS_SUCCESS &&
            (!EVP_Digest(bytes, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32))
            st = STATUS_INSUFFICIENT_RESOURCES;
        free(bytes);
        if (st == STATUS_INSUFFICIENT_RESOURCES) {
            *fatal = st;
            return KX_CACHE_CORRUPT;
        }
        if (st != STATUS_SUCCESS || memcmp(md, k->exec_sha, sizeof md) != 0) {
            say(why, why_len, "%s: %s: executable %s", w->path, k->path,
                st != STATUS_SUCCESS ? reason : "SHA-256 mismatch");
            return KX_CACHE_CORRUPT;
        }
    }
    return KX_CACHE_USABLE;
}

static enum kx_cache_verdict check_archive(const struct kx_cache_want *w, struct kx_cache_open *c,
                                           kx_status *fatal, char *why, size_t why_len)
{
    char reason[512] = "";
    kx_status st = kx_plat_read_file(w->path, (size_t)INT32_MAX, &c->data, &c->len);
    if (st == STATUS_INSUFFICIENT_RESOURCES || st == STATUS_BUFFER_TOO_SMALL) {
        say(why, why_len, "%s: too large to read", w->path);
        *fatal = st == STATUS_INSUFFICIENT_RESOURCES ? st : STATUS_SUCCESS;
        return KX_CACHE_UNREADABLE;
    }
    if (st != STATUS_SUCCESS) {
        say(why, why_len, "%s: %s", w->path, kx_status_string(st));
        return KX_CACHE_UNREADABLE;
    }
    st = kx__cache_index_parse(c->data, c->len, &c->ix, reason, sizeof reason);
    if (st == STATUS_INSUFFICIENT_RESOURCES) {
        *fatal = st;
        return KX_CACHE_CORRUPT;
    }
    if (st != STATUS_SUCCESS) {
        say(why, why_len, "%s: %s%s", w->path, reason,
            st == STATUS_NOT_SUPPORTED && strcmp(reason, "no kx boot index") == 0
                ? " (not built by this kx, so kx can't tell whether it is current)"
                : "");
        return st == STATUS_NOT_SUPPORTED ? KX_CACHE_FOREIGN : KX_CACHE_CORRUPT;
    }
    if (w->flags & KX_BOOT_VERIFY_CACHE)
        return verify_executables(w, c, fatal, why, why_len);
    return KX_CACHE_USABLE;
}

kx_status kx__cache_open(const struct kx_cache_want *w, struct kx_cache_open *out,
                         enum kx_cache_verdict *verdict, char *why, size_t why_len)
{
    struct kx_plat_stat sb;
    kx_status st = STATUS_SUCCESS;
    enum kx_cache_verdict v;
    memset(out, 0, sizeof *out);
    if (!w->any_mode && (w->flags & KX_BOOT_NO_CACHE)) {
        say(why, why_len, "caches are turned off for this boot");
        v = KX_CACHE_IGNORED;
    } else if (!w->any_mode && w->mode == KX_BOOT_SAFE) {
        say(why, why_len, "safe boot ignores caches");
        v = KX_CACHE_IGNORED;
    } else if ((v = check_file(w, &sb, why, why_len)) == KX_CACHE_USABLE &&
               (v = check_archive(w, out, &st, why, why_len)) == KX_CACHE_USABLE &&
               (v = check_recorded(w, out, why, why_len)) == KX_CACHE_USABLE &&
               (v = check_mtime(w, sb.mtime_ns, why, why_len)) == KX_CACHE_USABLE) {
        v = check_content(w, out, &st, why, why_len);
    }
    if (v != KX_CACHE_USABLE || st != STATUS_SUCCESS)
        kx__cache_close(out);
    *verdict = v;
    return st;
}

void kx__cache_close(struct kx_cache_open *c)
{
    kx__cache_index_free(&c->ix);
    free(c->data);
    memset(c, 0, sizeof *c);
}

/* ---- Public ---------------------------------------------------------------------------------- */

static kx_status want_of(const struct kx_boot_config *cfg, const struct kx_kext_options *opts,
                         struct kx_cache_want *w, char **path, char ***folders, char *why,
                         size_t why_len)
{
    memset(w, 0, sizeof *w);
    *path = NULL;
    *folders = NULL;
    if (!cfg || !cfg->folders || cfg->n_folders == 0)
        return STATUS_INVALID_PARAMETER;
    *path = cfg->cache_path ? strdup(cfg->cache_path) : kx_cache_default_path(cfg->folders[0]);
    if (!*path)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = kx__cache_resolve_folders(cfg->folders, cfg->n_folders, folders, why, why_len);
    w->path = *path;
    w->folders = *folders;
    w->n_folders = cfg->n_folders;
    w->opts = opts;
    w->mode = cfg->mode;
    w->flags = cfg->flags;
    return st;
}

kx_status kx_cache_check(const struct kx_boot_config *cfg, const struct kx_kext_options *opts,
                         enum kx_cache_verdict *verdict, char *why, size_t why_len)
{
    static const struct kx_kext_options defaults = KX_KEXT_OPTIONS_INIT;
    struct kx_cache_want w;
    struct kx_cache_open c;
    char *path = NULL, **folders = NULL;
    kx_status st = want_of(cfg, opts ? opts : &defaults, &w, &path, &folders, why, why_len);
    *verdict = KX_CACHE_STALE_MTIME;
    if (st == STATUS_SUCCESS) {
        st = kx__cache_open(&w, &c, verdict, why, why_len);
        kx__cache_close(&c);
    } else if (st != STATUS_INSUFFICIENT_RESOURCES && st != STATUS_INVALID_PARAMETER) {
        st = STATUS_SUCCESS; /* a folder that doesn't resolve: `why` names it */
    }
    kx__cache_free_folders(folders, cfg && cfg->folders ? cfg->n_folders : 0);
    free(path);
    return st;
}

kx_status kx_cache_update(const struct kx_boot_config *cfg, const struct kx_kext_options *opts,
                          enum kx_cache_filter filter, int *rebuilt,
                          struct kx_cache_build_report *rep, char *why, size_t why_len)
{
    static const struct kx_kext_options defaults = KX_KEXT_OPTIONS_INIT;
    struct kx_cache_want w;
    struct kx_cache_open c;
    enum kx_cache_verdict v = KX_CACHE_STALE_MTIME;
    char *path = NULL, **folders = NULL;
    if (rebuilt)
        *rebuilt = 0;
    kx_status st = want_of(cfg, opts ? opts : &defaults, &w, &path, &folders, why, why_len);
    if (st == STATUS_SUCCESS) {
        w.any_mode = 1;
        w.filter = filter;
        st = kx__cache_open(&w, &c, &v, why, why_len);
        kx__cache_close(&c);
    }
    if (st == STATUS_SUCCESS && v != KX_CACHE_USABLE) {
        char build_why[512] = "";
        st = kx_cache_build(path, cfg->folders, cfg->n_folders, filter, opts, rep, build_why,
                            sizeof build_why);
        size_t n = why ? strnlen(why, why_len) : 0;
        if (st == STATUS_SUCCESS && rebuilt)
            *rebuilt = 1;
        else if (st != STATUS_SUCCESS && why && n + 1 < why_len) /* why it was stale, then this */
            snprintf(why + n, why_len - n, "; rebuilding it failed: %s", build_why);
    }
    kx__cache_free_folders(folders, cfg && cfg->folders ? cfg->n_folders : 0);
    free(path);
    return st;
}
