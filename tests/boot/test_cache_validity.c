/* test_cache_validity.c — when a boot may use the kext cache, and the reason
 * when it may not: Apple's mtime rule, kx's content digest (edits in place,
 * chmod, bundles that appear or disappear behind a faked folder mtime), a
 * missing or unreadable file, a cache built for another boot, an mkext
 * without kx's boot index; what the builder leaves out; kx_cache_update. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "boot_fixture.h"

#include "kext/mkext.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
    char *tmp, *ext, *cache;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    f->tmp = fx_tmpdir();
    f->ext = fx_join(f->tmp, "Extensions");
    f->cache = fx_join(f->tmp, "Extensions.mkext");
    fx_mkdirs(f->ext);
    BX_KEXT(f->ext, "Lib", "com.t.lib", "1.0", "Root", 300, NULL);
    BX_KEXT(f->ext, "Root", "com.t.root", NULL, "Root", 100, "com.t.lib", "1.0", NULL);
    BX_KEXT(f->ext, "Local", "com.t.local", NULL, "Local-Root", 200, NULL);
    BX_KEXT(f->ext, "Net", "com.t.net", NULL, "Network-Root", 200, NULL);
    BX_KEXT(f->ext, "Other", "com.t.other", NULL, NULL, 500, "com.t.lib", "1.0", NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fx_rmrf(f->tmp);
    free(f->tmp);
    free(f->ext);
    free(f->cache);
    free(f);
    return 0;
}

static enum kx_cache_verdict verdict(struct fx *f, enum kx_boot_mode mode, unsigned kflags,
                                     char *why, size_t why_len)
{
    return bx_verdict(f->cache, f->ext, mode, kflags, why, why_len);
}

static void expect_verdict(struct fx *f, enum kx_boot_mode mode, unsigned kflags,
                           enum kx_cache_verdict want, const char *reason)
{
    char why[1024] = "";
    enum kx_cache_verdict v = verdict(f, mode, kflags, why, sizeof why);
    if (v != want || (reason && !strstr(why, reason)))
        fail_msg("verdict %s (%s), expected %s with '%s'", kx_cache_verdict_name(v), why,
                 kx_cache_verdict_name(want), reason ? reason : "");
}

static void test_a_fresh_cache_is_used_and_follows_apples_mtime_rule(void **state)
{
    struct fx *f = *state;
    bx_build(f->cache, f->ext, KX_CACHE_ALL, 0);
    assert_int_equal(bx_mtime(f->cache), bx_mtime(f->ext) + 1000000000LL);
    struct stat sb;
    assert_int_equal(stat(f->cache, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0644);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_USABLE, NULL);
    expect_verdict(f, KX_BOOT_LOCAL, KX_KEXT_NO_EXEC, KX_CACHE_USABLE, NULL);
    struct bx_boot b;
    bx_plan(&b, f->ext, KX_BOOT_LOCAL, f->cache, 0, 0);
    assert_int_equal(kx_boot_plan_source(b.p), KX_BOOT_FROM_CACHE);
    assert_int_equal(kx_boot_plan_cache_verdict(b.p), KX_CACHE_USABLE);
    bx_expect_list(b.p, KX_BOOT_PHASE1, "com.t.lib,com.t.root,com.t.local");
    bx_free(&b);
}

static void test_stale_by_mtime_names_both_times_and_falls_back(void **state)
{
    struct fx *f = *state;
    bx_build(f->cache, f->ext, KX_CACHE_ALL, 0);
    bx_set_mtime(f->ext, bx_mtime(f->ext) + 5000000000LL); /* `touch Extensions` */
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_STALE_MTIME, "has mtime");
    char why[1024] = "";
    verdict(f, KX_BOOT_LOCAL, 0, why, sizeof why);
    assert_non_null(strstr(why, "wants"));
    assert_non_null(strstr(why, "its mtime + 1 s"));
    struct bx_boot b;
    bx_plan(&b, f->ext, KX_BOOT_LOCAL, f->cache, 0, 0);
    assert_int_equal(kx_boot_plan_source(b.p), KX_BOOT_FROM_SCAN);
    assert_non_null(strstr(kx_boot_plan_fallback_reason(b.p), "stale"));
    bx_expect_list(b.p, KX_BOOT_PHASE1, "com.t.lib,com.t.root,com.t.local"); /* still boots */
    bx_free(&b);
}

/* An edit Apple's rule can't see: the folder's mtime doesn't move. */
static void test_stale_by_an_edit_in_place(void **state)
{
    struct fx *f = *state;
    char *plist = fx_join(f->ext, "Other.kext/Contents/Info.plist");
    char *exe = fx_join(f->ext, "Root.kext/Contents/Linux/Root");
    bx_build(f->cache, f->ext, KX_CACHE_ALL, 0);
    int64_t folder = bx_mtime(f->ext), old = bx_mtime(plist);

    FILE *fp = fopen(plist, "r+b"); /* same size, one byte different, mtime put back */
    assert_non_null(fp);
    fseek(fp, -3, SEEK_END);
    fputc(' ', fp);
    fclose(fp);
    bx_set_mtime(plist, old);
    assert_int_equal(bx_mtime(f->ext), folder);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_STALE_CONTENT, "Other.kext changed");

    bx_build(f->cache, f->ext, KX_CACHE_ALL, 0); /* an executable, rewritten in place */
    old = bx_mtime(exe);
    fp = fopen(exe, "r+b");
    assert_non_null(fp);
    fputc(0x7f, fp);
    fclose(fp);
    bx_set_mtime(exe, old);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_STALE_CONTENT, "Root.kext changed");

    bx_build(f->cache, f->ext, KX_CACHE_ALL, 0); /* a chmod: authentication depends on it */
    assert_int_equal(chmod(exe, 0775), 0);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_STALE_CONTENT, "Root.kext changed");
    free(plist);
    free(exe);
}

static void test_stale_when_bundles_come_and_go_behind_a_faked_mtime(void **state)
{
    struct fx *f = *state;
    char *net = fx_join(f->ext, "Net.kext"), *moved = fx_join(f->tmp, "Net.kext");
    bx_build(f->cache, f->ext, KX_CACHE_ALL, 0);
    int64_t folder = bx_mtime(f->ext);
    assert_int_equal(rename(net, moved), 0);
    bx_set_mtime(f->ext, folder);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_STALE_CONTENT, "Net.kext disappeared");

    assert_int_equal(rename(moved, net), 0);
    bx_build(f->cache, f->ext, KX_CACHE_ALL, 0);
    folder = bx_mtime(f->ext);
    BX_KEXT(f->ext, "New", "com.t.new", NULL, "Root", 100, NULL);
    bx_set_mtime(f->ext, folder);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_STALE_CONTENT, "an extensions folder changed");
    free(net);
    free(moved);
}

static void test_missing_unreadable_and_ignored_caches(void **state)
{
    struct fx *f = *state;
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_MISSING, "no cache at");
    fx_mkdirs(f->cache);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_UNREADABLE, "not a regular file");
    assert_int_equal(rmdir(f->cache), 0);
    bx_build(f->cache, f->ext, KX_CACHE_ALL, 0);
    expect_verdict(f, KX_BOOT_SAFE, 0, KX_CACHE_IGNORED, "safe boot ignores caches");
    struct bx_boot b;
    bx_plan(&b, f->ext, KX_BOOT_LOCAL, f->cache, KX_BOOT_NO_CACHE, 0);
    assert_int_equal(kx_boot_plan_cache_verdict(b.p), KX_CACHE_IGNORED);
    bx_free(&b);
    /* Apple's rule for the file itself: 0644 (the trusted owner is this user here). */
    assert_int_equal(chmod(f->cache, 0666), 0);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_UNREADABLE, "mode 0666, must be 0644");
    expect_verdict(f, KX_BOOT_LOCAL, KX_KEXT_NO_AUTH, KX_CACHE_USABLE, NULL);
}

static void test_a_cache_built_for_another_boot_is_not_used(void **state)
{
    struct fx *f = *state;
    bx_build(f->cache, f->ext, KX_CACHE_LOCAL, 0);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_USABLE, NULL);
    expect_verdict(f, KX_BOOT_SINGLE_USER, 0, KX_CACHE_USABLE, NULL);
    expect_verdict(f, KX_BOOT_NETWORK, 0, KX_CACHE_WRONG_FILTER,
                   "built with --local, which lacks kexts a network boot needs");
    bx_build(f->cache, f->ext, KX_CACHE_NETWORK, 0);
    expect_verdict(f, KX_BOOT_NETWORK, 0, KX_CACHE_USABLE, NULL);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_WRONG_FILTER, "--network");
    bx_build(f->cache, f->ext, KX_CACHE_SAFE, 0);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_WRONG_FILTER, "--safe");

    bx_build(f->cache, f->ext, KX_CACHE_ALL, KX_KEXT_NO_AUTH);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_FOREIGN, "built without authentication");
    expect_verdict(f, KX_BOOT_LOCAL, KX_KEXT_NO_AUTH, KX_CACHE_USABLE, NULL);
    bx_build(f->cache, f->ext, KX_CACHE_ALL, KX_KEXT_NO_EXEC);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_FOREIGN, "built without executables");
    expect_verdict(f, KX_BOOT_LOCAL, KX_KEXT_NO_EXEC, KX_CACHE_USABLE, NULL);

    char *other = fx_join(f->tmp, "Other"), why[1024] = "";
    fx_mkdirs(other);
    bx_build(f->cache, f->ext, KX_CACHE_ALL, 0);
    enum kx_cache_verdict v = bx_verdict(f->cache, other, KX_BOOT_LOCAL, 0, why, sizeof why);
    assert_int_equal(v, KX_CACHE_FOREIGN);
    assert_non_null(strstr(why, "built from"));
    free(other);
}

/* Apple's own mkext, or one written without kx's index: nothing says it is current. */
static void test_an_mkext_without_a_boot_index_is_foreign(void **state)
{
    struct fx *f = *state;
    static const char info[] = "<plist version=\"1.0\"><dict><key>CFBundleIdentifier</key>"
                               "<string>com.t.x</string></dict></plist>";
    struct kx_mkext_input in = {info, sizeof info - 1, NULL, "/x/X.kext", NULL, NULL, 0};
    char why[256] = "";
    assert_int_equal(kx_mkext_write_file(f->cache, &in, 1, NULL, why, sizeof why), STATUS_SUCCESS);
    bx_set_mtime(f->cache, bx_mtime(f->ext) + 1000000000LL);
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_FOREIGN, "no kx boot index");
}

static void test_the_builder_leaves_invalid_kexts_out_and_names_them(void **state)
{
    struct fx *f = *state;
    free(bx_write(f->ext, "Broken", fx_info("com.t.broken", "not-a-version", NULL), 100));
    struct kx_kext_options o = bx_options(0);
    struct kx_cache_build_report rep = KX_CACHE_BUILD_REPORT_INIT;
    const char *folders[] = {f->ext};
    char why[256] = "";
    assert_int_equal(
        kx_cache_build(f->cache, folders, 1, KX_CACHE_LOCAL, &o, &rep, why, sizeof why),
        STATUS_SUCCESS);
    assert_int_equal(rep.omitted.n_items, 1);
    assert_non_null(strstr(rep.omitted.items[0].file, "/Broken.kext"));
    assert_non_null(strstr(rep.omitted.items[0].detail, "not a version"));
    assert_int_equal(rep.n_archived, 3); /* lib, root, local */
    assert_int_equal(rep.n_filtered, 2); /* net, other */
    assert_true(rep.archive_len > 0);
    kx_cache_build_report_clear(&rep);

    /* In the cache's way: a cache inside the folder it describes is always stale. */
    char *inside = fx_join(f->ext, "x.mkext");
    assert_int_equal(kx_cache_build(inside, folders, 1, KX_CACHE_ALL, &o, NULL, why, sizeof why),
                     STATUS_INVALID_PARAMETER);
    assert_non_null(strstr(why, "can't go inside the extensions folder"));
    free(inside);
}

/* kxd after boot: rebuild a stale or missing cache, leave a current one alone. */
static void test_update_rebuilds_only_what_is_not_current(void **state)
{
    struct fx *f = *state;
    struct kx_kext_options o = bx_options(0);
    struct kx_boot_config cfg = KX_BOOT_CONFIG_INIT;
    const char *folders[] = {f->ext};
    char why[1024] = "";
    int rebuilt = -1;
    cfg.folders = folders;
    cfg.n_folders = 1;
    cfg.cache_path = f->cache;
    assert_int_equal(kx_cache_update(&cfg, &o, KX_CACHE_ALL, &rebuilt, NULL, why, sizeof why),
                     STATUS_SUCCESS);
    assert_int_equal(rebuilt, 1);
    assert_non_null(strstr(why, "no cache at"));
    assert_int_equal(kx_cache_update(&cfg, &o, KX_CACHE_ALL, &rebuilt, NULL, why, sizeof why),
                     STATUS_SUCCESS);
    assert_int_equal(rebuilt, 0);
    cfg.mode = KX_BOOT_SAFE; /* a safe boot ignores caches but still keeps them current */
    assert_int_equal(kx_cache_update(&cfg, &o, KX_CACHE_ALL, &rebuilt, NULL, why, sizeof why),
                     STATUS_SUCCESS);
    assert_int_equal(rebuilt, 0);
    BX_KEXT(f->ext, "New", "com.t.new", NULL, "Root", 100, NULL);
    assert_int_equal(kx_cache_update(&cfg, &o, KX_CACHE_ALL, &rebuilt, NULL, why, sizeof why),
                     STATUS_SUCCESS);
    assert_int_equal(rebuilt, 1);
    assert_non_null(strstr(why, "stale"));
    assert_int_equal(kx_cache_update(&cfg, &o, KX_CACHE_LOCAL, &rebuilt, NULL, why, sizeof why),
                     STATUS_SUCCESS);
    assert_int_equal(rebuilt, 1); /* another filter */
    expect_verdict(f, KX_BOOT_LOCAL, 0, KX_CACHE_USABLE, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_fresh_cache_is_used_and_follows_apples_mtime_rule,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_by_mtime_names_both_times_and_falls_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_stale_by_an_edit_in_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_when_bundles_come_and_go_behind_a_faked_mtime,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_unreadable_and_ignored_caches, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_cache_built_for_another_boot_is_not_used, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_an_mkext_without_a_boot_index_is_foreign, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_builder_leaves_invalid_kexts_out_and_names_them,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_rebuilds_only_what_is_not_current, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
