/* test_boot_order.c — the order within a phase: dependencies first, then the
 * driver-info load priority (lower first, libraries inheriting the lowest of
 * the kexts that need them), then bundle identifier; the default priority for
 * kexts without a record; the same order from the cache as from a scan; and an
 * executable from the cache loaded from memory (memfd + dlopen). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "boot_fixture.h"

#include "core/plat.h"
#include "core/plat_mem.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

static int setup(void **state)
{
    *state = fx_tmpdir();
    return 0;
}

static int teardown(void **state)
{
    fx_rmrf(*state);
    free(*state);
    return 0;
}

static char *ext_of(void **state)
{
    char *ext = fx_join(*state, "Extensions");
    fx_mkdirs(ext);
    return ext;
}

/* Root kexts with executables; the library is Root too, so nothing warns. */
static void ordered_fixture(const char *d)
{
    BX_KEXT(d, "Late", "com.t.late", NULL, "Root", 900, NULL);
    BX_KEXT(d, "Zed", "com.t.zed", NULL, "Root", 100, NULL);
    BX_KEXT(d, "Bee", "com.t.bee", NULL, "Root", 100, NULL);
    BX_KEXT(d, "Mid", "com.t.mid", NULL, "Root", 500, NULL);
    BX_KEXT(d, "Lib", "com.t.lib", "1.0", "Root", 900, NULL);
    BX_KEXT(d, "Urgent", "com.t.urgent", NULL, "Root", 50, "com.t.lib", "1.0", NULL);
    BX_KEXT(d, "Meta", "com.t.meta", NULL, "Root", BX_CODELESS, NULL);
    /* phase 2: same rules */
    BX_KEXT(d, "P2lib", "com.t.p2lib", "1.0", NULL, 800, NULL);
    BX_KEXT(d, "P2a", "com.t.p2a", NULL, NULL, 300, "com.t.p2lib", "1.0", NULL);
    BX_KEXT(d, "P2b", "com.t.p2b", NULL, NULL, 200, NULL);
    BX_KEXT(d, "P2c", "com.t.p2c", NULL, NULL, 300, NULL);
}

static void test_dependencies_first_then_priority_then_identifier(void **state)
{
    char *d = ext_of(state);
    ordered_fixture(d);
    struct bx_boot b;
    bx_plan(&b, d, KX_BOOT_LOCAL, NULL, KX_BOOT_NO_CACHE, 0);
    /* lib (900) is needed by urgent (50), so it loads at 50, before the 100s; the two
     * 100s by identifier; meta has no record: the default 500, after mid by identifier */
    bx_expect_list(b.p, KX_BOOT_PHASE1,
                   "com.t.lib,com.t.urgent,com.t.bee,com.t.zed,com.t.meta,com.t.mid,com.t.late");
    /* p2lib inherits 300 from p2a; at 300, p2c sorts before p2lib */
    bx_expect_list(b.p, KX_BOOT_PHASE2, "com.t.p2b,com.t.p2c,com.t.p2lib,com.t.p2a");
    const struct kx_boot_item *lib = bx_item(b.p, "com.t.lib");
    assert_int_equal(lib->priority, 900);
    assert_int_equal(lib->effective_priority, 50);
    assert_true(lib->has_driver_info);
    assert_non_null(strstr(lib->reason, "priority 900 (driver-info record), loads at 50"));
    const struct kx_boot_item *meta = bx_item(b.p, "com.t.meta");
    assert_int_equal(meta->priority, KX_BOOT_DEFAULT_PRIORITY);
    assert_false(meta->has_driver_info);
    assert_non_null(strstr(meta->reason, "priority 500 (default)"));
    assert_false(meta->has_driver_info);
    assert_int_equal(bx_item(b.p, "com.t.p2lib")->effective_priority, 300);
    bx_free(&b);
    free(d);
}

/* Metadata-only boots read no executable: every kext gets the default priority. */
static void test_without_executables_order_is_by_identifier(void **state)
{
    char *d = ext_of(state);
    ordered_fixture(d);
    struct bx_boot b;
    bx_plan(&b, d, KX_BOOT_LOCAL, NULL, KX_BOOT_NO_CACHE, KX_KEXT_NO_EXEC);
    bx_expect_list(b.p, KX_BOOT_PHASE1,
                   "com.t.bee,com.t.late,com.t.lib,com.t.meta,com.t.mid,com.t.urgent,com.t.zed");
    bx_free(&b);
    free(d);
}

/* The round trip: build -> boot from the cache loads the same kexts in the same
 * order as a scan, in every mode that may use a cache. */
static void test_cache_and_scan_plan_the_same_boot(void **state)
{
    char *d = ext_of(state), *cache = fx_join(*state, "Extensions.mkext");
    ordered_fixture(d);
    BX_KEXT(d, "Net", "com.t.net", NULL, "Network-Root", 300, "com.t.p2lib", "1.0", NULL);
    BX_KEXT(d, "Bad", "com.t.bad", NULL, "Root", 300, "com.t.nowhere", "1.0", NULL);
    free(bx_write(d, "Invalid", fx_info("com.t.invalid", "x.y.z", NULL), 100));
    bx_build(cache, d, KX_CACHE_ALL, 0);
    static const enum kx_boot_mode modes[] = {KX_BOOT_LOCAL, KX_BOOT_NETWORK, KX_BOOT_SINGLE_USER};
    for (size_t m = 0; m < 3; m++) {
        struct bx_boot c, s;
        bx_plan(&c, d, modes[m], NULL, 0, 0);
        bx_plan(&s, d, modes[m], NULL, KX_BOOT_NO_CACHE, 0);
        assert_int_equal(kx_boot_plan_source(c.p), KX_BOOT_FROM_CACHE);
        assert_null(kx_boot_plan_fallback_reason(c.p));
        assert_int_equal(kx_boot_plan_source(s.p), KX_BOOT_FROM_SCAN);
        char *pc = bx_phases(c.p), *ps = bx_phases(s.p);
        assert_string_equal(pc, ps);
        assert_true(strlen(pc) > 0);
        free(pc);
        free(ps);
        bx_expect(c.p, "com.t.bad", KX_BOOT_NOT_LOADED, "KX3001");
        bx_expect(c.p, "com.t.invalid", KX_BOOT_NOT_LOADED, "left out of the cache");
        bx_expect(s.p, "com.t.invalid", KX_BOOT_NOT_LOADED, "invalid");
        assert_true(bx_item(c.p, "com.t.zed")->from_cache);
        bx_free(&c);
        bx_free(&s);
    }
    free(cache);
    free(d);
}

/* A filtered cache holds the booter's bundles; the plan reads the rest from the
 * folders and comes out the same. */
static void test_a_filtered_cache_plans_the_same_boot(void **state)
{
    char *d = ext_of(state), *cache = fx_join(*state, "Extensions.mkext");
    ordered_fixture(d);
    bx_build(cache, d, KX_CACHE_LOCAL, 0);
    struct bx_boot c, s;
    bx_plan(&c, d, KX_BOOT_LOCAL, NULL, 0, 0);
    bx_plan(&s, d, KX_BOOT_LOCAL, NULL, KX_BOOT_NO_CACHE, 0);
    assert_int_equal(kx_boot_plan_source(c.p), KX_BOOT_FROM_CACHE);
    assert_int_equal(kx_boot_plan_cache_filter(c.p), KX_CACHE_LOCAL);
    char *pc = bx_phases(c.p), *ps = bx_phases(s.p);
    assert_string_equal(pc, ps);
    free(pc);
    free(ps);
    assert_true(bx_item(c.p, "com.t.urgent")->from_cache);
    assert_false(bx_item(c.p, "com.t.p2b")->from_cache); /* not Root: read from its folder */
    bx_free(&c);
    bx_free(&s);
    free(cache);
    free(d);
}

/* The loader's path: the executable from the archive, checked, into a sealed
 * memfd, dlopen'ed through /proc/self/fd. */
static void test_cache_executables_load_from_memory(void **state)
{
    char *d = ext_of(state), *cache = fx_join(*state, "Extensions.mkext");
    ordered_fixture(d);
    bx_build(cache, d, KX_CACHE_ALL, 0);
    struct bx_boot b;
    bx_plan(&b, d, KX_BOOT_LOCAL, NULL, 0, 0);
    const struct kx_boot_item *it = bx_item(b.p, "com.t.urgent");
    const void *data = NULL;
    size_t len = 0, file_len = 0;
    char why[256] = "";
    assert_int_equal(kx_boot_plan_executable(b.p, it->kext, &data, &len, why, sizeof why),
                     STATUS_SUCCESS);
    void *file = NULL;
    assert_int_equal(kx_plat_read_file(kx_kext_executable(it->kext), 1 << 20, &file, &file_len),
                     STATUS_SUCCESS);
    assert_int_equal(len, file_len);
    assert_memory_equal(data, file, len);
    free(file);
    const void *again = NULL;
    assert_int_equal(kx_boot_plan_executable(b.p, it->kext, &again, &len, NULL, 0), STATUS_SUCCESS);
    assert_ptr_equal(again, data); /* decompressed once */

    int fd = -1;
    char path[32];
    assert_int_equal(kx_plat_memfd_from_bytes("com.t.urgent", data, len, &fd), STATUS_SUCCESS);
    void *h = dlopen(kx_plat_fd_path(fd, path, sizeof path), RTLD_NOW | RTLD_LOCAL);
    kx_plat_close(fd);
    if (!h)
        fail_msg("dlopen: %s", dlerror());
    int (*answer)(void) = (int (*)(void))dlsym(h, "kxboot_fixture_answer");
    assert_non_null(answer);
    assert_int_equal(answer(), 42);
    dlclose(h);

    /* codeless, or not from the cache: load from disk */
    assert_int_equal(
        kx_boot_plan_executable(b.p, bx_item(b.p, "com.t.meta")->kext, &data, &len, NULL, 0),
        STATUS_NO_SUCH_FILE);
    bx_free(&b);
    bx_plan(&b, d, KX_BOOT_LOCAL, NULL, KX_BOOT_NO_CACHE, 0);
    assert_int_equal(
        kx_boot_plan_executable(b.p, bx_item(b.p, "com.t.urgent")->kext, &data, &len, NULL, 0),
        STATUS_NO_SUCH_FILE);
    bx_free(&b);
    free(cache);
    free(d);
}

/* A restored kext's info dictionary appears on first use, equal to the bundle's. */
static void test_cache_kexts_have_their_info_dictionary(void **state)
{
    char *d = ext_of(state), *cache = fx_join(*state, "Extensions.mkext");
    ordered_fixture(d);
    bx_build(cache, d, KX_CACHE_ALL, 0);
    struct bx_boot c, s;
    bx_plan(&c, d, KX_BOOT_LOCAL, NULL, 0, 0);
    bx_plan(&s, d, KX_BOOT_LOCAL, NULL, KX_BOOT_NO_CACHE, 0);
    const struct kx_kext *kc = bx_item(c.p, "com.t.urgent")->kext;
    const struct kx_kext *ks = bx_item(s.p, "com.t.urgent")->kext;
    char *xc = NULL, *xs = NULL;
    uint32_t lc = 0, ls = 0;
    plist_to_xml(kx_kext_info(kc), &xc, &lc);
    plist_to_xml(kx_kext_info(ks), &xs, &ls);
    assert_non_null(xc);
    assert_non_null(xs);
    assert_string_equal(xc, xs);
    plist_to_xml_free(xc);
    plist_to_xml_free(xs);
    assert_string_equal(kx_kext_required(kc), "Root");
    assert_int_equal(kx_kext_version(kc), kx_kext_version(ks));
    assert_int_equal(kx_kext_n_libraries(kc), kx_kext_n_libraries(ks));
    assert_true(kx_kext_declares_executable(kc));
    assert_true(kx_kext_is_valid(kc));
    /* an on-demand load of the same bundle finds the restored kext, not a second copy */
    struct kx_kext *again = NULL;
    size_t count = kx_kext_repo_count(c.r);
    assert_int_equal(kx_kext_repo_add_kext(c.r, kx_kext_path(kc), &again), STATUS_SUCCESS);
    assert_ptr_equal(again, kc);
    assert_int_equal(kx_kext_repo_count(c.r), count);
    bx_free(&c);
    bx_free(&s);
    free(cache);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dependencies_first_then_priority_then_identifier,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_without_executables_order_is_by_identifier, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cache_and_scan_plan_the_same_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_filtered_cache_plans_the_same_boot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_executables_load_from_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_kexts_have_their_info_dictionary, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
