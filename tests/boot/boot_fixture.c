/* boot_fixture.c — see boot_fixture.h. */
#include "boot_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

plist_t bx_info(const char *id, const char *compat, const char *required, ...)
{
    plist_t d = fx_info(id, "1.0", compat);
    va_list ap;
    fx_lib(d, "org.kx.kpi.kmdf", "1.0");
    if (required)
        fx_set_str(d, "OSBundleRequired", required);
    va_start(ap, required);
    for (;;) {
        const char *lib = va_arg(ap, const char *);
        if (!lib)
            break;
        fx_lib(d, lib, va_arg(ap, const char *));
    }
    va_end(ap);
    return d;
}

void *bx_driver(size_t *len)
{
    FILE *f = fopen(KXBOOT_DRIVER, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    assert_true(n > 0);
    void *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

char *bx_write(const char *dir, const char *name, plist_t info, int32_t prio)
{
    if (prio != BX_CODELESS)
        fx_set_str(info, "CFBundleExecutable", name);
    char *bundle = fx_kext(dir, name, info);
    if (prio == BX_CODELESS || prio == BX_NO_FILE)
        return bundle;
    size_t len = 0;
    unsigned char *exe = bx_driver(&len), *rec = NULL;
    for (size_t i = 0; i + 24 <= len && !rec; i++) /* magic "KXDR", ABI 1 */
        if (memcmp(exe + i, "KXDR", 4) == 0 && exe[i + 4] == 1 && exe[i + 5] == 0)
            rec = exe + i;
    assert_non_null(rec);
    memcpy(rec + 16, &prio, sizeof prio); /* load_priority, host byte order */
    char *path = NULL;
    assert_true(asprintf(&path, "%s/Contents/Linux/%s", bundle, name) > 0);
    fx_write(path, exe, len);
    chmod(path, 0755);
    free(path);
    free(exe);
    return bundle;
}

void bx_personalities(plist_t info, const int *debug, size_t n)
{
    plist_t ps = plist_new_dict();
    const char *id = plist_get_string_ptr(plist_dict_get_item(info, "CFBundleIdentifier"), NULL);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        plist_t p = plist_new_dict();
        snprintf(name, sizeof name, "P%zu", i);
        plist_dict_set_item(p, "CFBundleIdentifier", plist_new_string(id));
        plist_dict_set_item(p, "IOClass", plist_new_string("BxDriver"));
        plist_dict_set_item(p, "IOProviderClass", plist_new_string("IOPCIDevice"));
        if (debug[i] >= 0)
            plist_dict_set_item(p, "IOKitDebug", plist_new_uint((uint64_t)debug[i]));
        plist_dict_set_item(ps, name, p);
    }
    plist_dict_set_item(info, "IOKitPersonalities", ps);
}

struct kx_kext_options bx_options(unsigned flags)
{
    struct kx_kext_options o = KX_KEXT_OPTIONS_INIT;
    o.flags = flags;
    o.trusted_uid = getuid();
    o.trusted_gid = getgid();
    return o;
}

void bx_plan(struct bx_boot *b, const char *folder, enum kx_boot_mode mode, const char *cache,
             unsigned boot_flags, unsigned kext_flags)
{
    struct kx_kext_options o = bx_options(kext_flags);
    struct kx_boot_config cfg = KX_BOOT_CONFIG_INIT;
    const char *folders[] = {folder};
    cfg.mode = mode;
    cfg.folders = folders;
    cfg.n_folders = 1;
    cfg.cache_path = cache;
    cfg.flags = boot_flags;
    b->r = NULL;
    b->p = NULL;
    assert_int_equal(kx_kext_repo_new(&o, &b->r), STATUS_SUCCESS);
    assert_int_equal(kx_boot_plan_make(&cfg, b->r, &b->p), STATUS_SUCCESS);
}

void bx_free(struct bx_boot *b)
{
    kx_boot_plan_free(b->p);
    kx_kext_repo_free(b->r);
    b->p = NULL;
    b->r = NULL;
}

char *bx_list(const struct kx_boot_plan *p, enum kx_boot_list list)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    for (size_t i = 0; i < kx_boot_plan_count(p, list); i++) {
        const struct kx_boot_item *b = kx_boot_plan_item(p, list, i);
        fprintf(f, "%s%s", i ? "," : "", b->id ? b->id : "?");
    }
    assert_int_equal(fclose(f), 0);
    return out;
}

const struct kx_boot_item *bx_item(const struct kx_boot_plan *p, const char *id)
{
    static const enum kx_boot_list lists[] = {KX_BOOT_PHASE1, KX_BOOT_PHASE2, KX_BOOT_NOT_LOADED};
    for (size_t l = 0; l < 3; l++)
        for (size_t i = 0; i < kx_boot_plan_count(p, lists[l]); i++) {
            const struct kx_boot_item *b = kx_boot_plan_item(p, lists[l], i);
            if (b->id && strcmp(b->id, id) == 0)
                return b;
        }
    return NULL;
}

static void dump(const struct kx_boot_plan *p)
{
    static const enum kx_boot_list lists[] = {KX_BOOT_PHASE1, KX_BOOT_PHASE2, KX_BOOT_NOT_LOADED};
    fprintf(stderr, "plan (%s, %s):\n", kx_boot_mode_name(kx_boot_plan_mode(p)),
            kx_boot_plan_source(p) == KX_BOOT_FROM_CACHE ? "cache" : "scan");
    for (size_t l = 0; l < 3; l++)
        for (size_t i = 0; i < kx_boot_plan_count(p, lists[l]); i++) {
            const struct kx_boot_item *b = kx_boot_plan_item(p, lists[l], i);
            fprintf(stderr, "  [%d] %s: %s\n", (int)lists[l], b->id ? b->id : "?", b->reason);
        }
}

void bx_expect_list(const struct kx_boot_plan *p, enum kx_boot_list list, const char *expected)
{
    char *got = bx_list(p, list);
    if (strcmp(got, expected) != 0) {
        dump(p);
        fail_msg("list %d: got '%s', expected '%s'", (int)list, got, expected);
    }
    free(got);
}

void bx_expect(const struct kx_boot_plan *p, const char *id, enum kx_boot_list list,
               const char *reason)
{
    const struct kx_boot_item *b = bx_item(p, id);
    if (!b || b->list != list || (reason && (!b->reason || !strstr(b->reason, reason)))) {
        dump(p);
        fail_msg("%s: expected list %d with a reason containing '%s'", id, (int)list,
                 reason ? reason : "");
    }
}

void bx_build(const char *cache, const char *folder, enum kx_cache_filter filter,
              unsigned kext_flags)
{
    struct kx_kext_options o = bx_options(kext_flags);
    const char *folders[] = {folder};
    char why[512] = "";
    kx_status st = kx_cache_build(cache, folders, 1, filter, &o, NULL, why, sizeof why);
    if (st != STATUS_SUCCESS)
        fail_msg("kx_cache_build: %s: %s", kx_status_name(st), why);
}

enum kx_cache_verdict bx_verdict(const char *cache, const char *folder, enum kx_boot_mode mode,
                                 unsigned kext_flags, char *why, size_t why_len)
{
    struct kx_kext_options o = bx_options(kext_flags);
    struct kx_boot_config cfg = KX_BOOT_CONFIG_INIT;
    const char *folders[] = {folder};
    enum kx_cache_verdict v = KX_CACHE_USABLE;
    cfg.mode = mode;
    cfg.folders = folders;
    cfg.n_folders = 1;
    cfg.cache_path = cache;
    assert_int_equal(kx_cache_check(&cfg, &o, &v, why, why_len), STATUS_SUCCESS);
    return v;
}

char *bx_phases(const struct kx_boot_plan *p)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    for (int list = KX_BOOT_PHASE1; list <= KX_BOOT_PHASE2; list++)
        for (size_t i = 0; i < kx_boot_plan_count(p, (enum kx_boot_list)list); i++) {
            const struct kx_boot_item *b = kx_boot_plan_item(p, (enum kx_boot_list)list, i);
            fprintf(f, "%d %s %s %d\n", list, b->id, b->path, (int)b->effective_priority);
        }
    assert_int_equal(fclose(f), 0);
    return out;
}

void bx_set_mtime(const char *path, int64_t ns)
{
    struct timespec ts[2];
    ts[0].tv_sec = ts[1].tv_sec = (time_t)(ns / 1000000000LL);
    ts[0].tv_nsec = ts[1].tv_nsec = (long)(ns % 1000000000LL);
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

int64_t bx_mtime(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}
