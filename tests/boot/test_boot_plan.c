/* test_boot_plan.c — which kexts each phase of a boot loads and why the rest
 * don't: every mode against every OSBundleRequired value, safe boot and
 * IOKitDebug, libraries pulled in (with the OSBundleRequired warning), the
 * resolver's reasons, duplicates, a loaded copy winning across roots and
 * phases, and the plan's JSON. Metadata-only kexts (KX_KEXT_NO_EXEC) from a
 * folder scan; test_boot_order.c and test_cache_*.c cover executables and
 * caches. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "boot_fixture.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define META (KX_KEXT_NO_EXEC)

static char *dir_of(void **state)
{
    return *state;
}

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

/* One kext per OSBundleRequired value; bundle names sort as identifiers do. */
static void every_value(const char *d)
{
    BX_KEXT(d, "A", "com.t.a.root", NULL, "Root", BX_NO_FILE, NULL);
    BX_KEXT(d, "B", "com.t.b.local", NULL, "Local-Root", BX_NO_FILE, NULL);
    BX_KEXT(d, "C", "com.t.c.net", NULL, "Network-Root", BX_NO_FILE, NULL);
    BX_KEXT(d, "D", "com.t.d.console", NULL, "Console", BX_NO_FILE, NULL);
    BX_KEXT(d, "E", "com.t.e.safe", NULL, "Safe Boot", BX_NO_FILE, NULL);
    BX_KEXT(d, "F", "com.t.f.none", NULL, NULL, BX_NO_FILE, NULL);
    BX_KEXT(d, "G", "com.t.g.driverkit", NULL, "DriverKit", BX_NO_FILE, NULL);
}

static void test_local_boot_loads_root_local_root_console(void **state)
{
    struct bx_boot b;
    every_value(dir_of(state));
    bx_plan(&b, dir_of(state), KX_BOOT_LOCAL, NULL, 0, META);
    bx_expect_list(b.p, KX_BOOT_PHASE1, "com.t.a.root,com.t.b.local,com.t.d.console");
    bx_expect_list(b.p, KX_BOOT_PHASE2, "com.t.c.net,com.t.e.safe,com.t.f.none");
    bx_expect_list(b.p, KX_BOOT_NOT_LOADED, "com.t.g.driverkit");
    bx_expect(b.p, "com.t.a.root", KX_BOOT_PHASE1, "OSBundleRequired Root");
    bx_expect(b.p, "com.t.g.driverkit", KX_BOOT_NOT_LOADED, "invalid: KX1013");
    assert_non_null(
        strstr(bx_item(b.p, "com.t.e.safe")->phase1_reason, "never loaded by the booter"));
    assert_non_null(
        strstr(bx_item(b.p, "com.t.f.none")->phase1_reason, "OSBundleRequired not set"));
    assert_non_null(strstr(bx_item(b.p, "com.t.c.net")->phase1_reason,
                           "Network-Root: a local boot's booter loads only"));
    assert_int_equal(bx_item(b.p, "com.t.c.net")->rule, KX_BOOT_RULE_REMAINING);
    bx_free(&b);
}

static void test_network_boot_loads_root_network_root_console(void **state)
{
    struct bx_boot b;
    every_value(dir_of(state));
    bx_plan(&b, dir_of(state), KX_BOOT_NETWORK, NULL, 0, META);
    bx_expect_list(b.p, KX_BOOT_PHASE1, "com.t.a.root,com.t.c.net,com.t.d.console");
    bx_expect_list(b.p, KX_BOOT_PHASE2, "com.t.b.local,com.t.e.safe,com.t.f.none");
    bx_expect_list(b.p, KX_BOOT_NOT_LOADED, "com.t.g.driverkit");
    bx_free(&b);
}

static void test_single_user_boot_has_no_phase_2(void **state)
{
    struct bx_boot b;
    every_value(dir_of(state));
    bx_plan(&b, dir_of(state), KX_BOOT_SINGLE_USER, NULL, 0, META);
    bx_expect_list(b.p, KX_BOOT_PHASE1, "com.t.a.root,com.t.b.local,com.t.d.console");
    bx_expect_list(b.p, KX_BOOT_PHASE2, "");
    bx_expect_list(b.p, KX_BOOT_NOT_LOADED,
                   "com.t.c.net,com.t.e.safe,com.t.f.none,com.t.g.driverkit");
    bx_expect(b.p, "com.t.f.none", KX_BOOT_NOT_LOADED, "single-user boot: no daemon");
    bx_free(&b);
}

/* Safe boot: the booter as for local, then only kexts with an OSBundleRequired value. */
static void test_safe_boot_loads_only_kexts_with_a_required_value(void **state)
{
    struct bx_boot b;
    every_value(dir_of(state));
    bx_plan(&b, dir_of(state), KX_BOOT_SAFE, NULL, 0, META);
    bx_expect_list(b.p, KX_BOOT_PHASE1, "com.t.a.root,com.t.b.local,com.t.d.console");
    bx_expect_list(b.p, KX_BOOT_PHASE2, "com.t.c.net,com.t.e.safe");
    bx_expect(b.p, "com.t.f.none", KX_BOOT_NOT_LOADED,
              "safe boot loads only kexts with an "
              "OSBundleRequired value");
    assert_int_equal(kx_boot_plan_cache_verdict(b.p), KX_CACHE_IGNORED);
    assert_string_equal(kx_boot_plan_fallback_reason(b.p), "safe boot ignores caches");
    bx_free(&b);
}

/* The seed: a kext all of whose personalities set a non-zero IOKitDebug is not
 * loaded at all during a safe boot; one with any personality at 0 still is. */
static void test_safe_boot_skips_kexts_whose_personalities_all_debug(void **state)
{
    const char *d = dir_of(state);
    static const int all[] = {1, 4}, mixed[] = {0, 3}, absent[] = {-1};
    plist_t i1 = bx_info("com.t.alldebug", NULL, "Root", NULL);
    plist_t i2 = bx_info("com.t.mixed", NULL, "Root", NULL);
    plist_t i3 = bx_info("com.t.nodebug", NULL, "Root", NULL);
    plist_t i4 = bx_info("com.t.safedebug", NULL, "Safe Boot", NULL);
    bx_personalities(i1, all, 2);
    bx_personalities(i2, mixed, 2);
    bx_personalities(i3, absent, 1);
    bx_personalities(i4, all, 1);
    free(bx_write(d, "A", i1, BX_NO_FILE));
    free(bx_write(d, "B", i2, BX_NO_FILE));
    free(bx_write(d, "C", i3, BX_NO_FILE));
    free(bx_write(d, "D", i4, BX_NO_FILE));
    struct bx_boot b;
    bx_plan(&b, d, KX_BOOT_SAFE, NULL, 0, META);
    bx_expect_list(b.p, KX_BOOT_PHASE1, "com.t.mixed,com.t.nodebug");
    bx_expect_list(b.p, KX_BOOT_PHASE2, "");
    bx_expect(b.p, "com.t.alldebug", KX_BOOT_NOT_LOADED, "IOKitDebug");
    bx_expect(b.p, "com.t.safedebug", KX_BOOT_NOT_LOADED, "IOKitDebug");
    bx_free(&b);
    bx_plan(&b, d, KX_BOOT_LOCAL, NULL, 0, META); /* only safe boot cares */
    bx_expect_list(b.p, KX_BOOT_PHASE1, "com.t.alldebug,com.t.mixed,com.t.nodebug");
    bx_expect_list(b.p, KX_BOOT_PHASE2, "com.t.safedebug");
    bx_free(&b);
}

/* A Root kext's library without OSBundleRequired still loads in phase 1 (the
 * booter pulls libraries in), with Apple's warning; a suitable one warns not. */
static void test_dependency_with_unsuitable_required_value_warns(void **state)
{
    const char *d = dir_of(state);
    BX_KEXT(d, "Lib", "com.t.lib", "1.0", NULL, BX_NO_FILE, NULL);
    BX_KEXT(d, "Good", "com.t.goodlib", "1.0", "Root", BX_NO_FILE, NULL);
    BX_KEXT(d, "Root", "com.t.root", NULL, "Root", BX_NO_FILE, "com.t.lib", "1.0", "com.t.goodlib",
            "1.0", NULL);
    BX_KEXT(d, "Root2", "com.t.root2", NULL, "Local-Root", BX_NO_FILE, "com.t.lib", "1.0", NULL);
    struct bx_boot b;
    bx_plan(&b, d, KX_BOOT_LOCAL, NULL, 0, META);
    bx_expect_list(b.p, KX_BOOT_PHASE1, "com.t.goodlib,com.t.lib,com.t.root,com.t.root2");
    bx_expect(b.p, "com.t.lib", KX_BOOT_PHASE1, "dependency of com.t.root");
    bx_expect(b.p, "com.t.goodlib", KX_BOOT_PHASE1, "OSBundleRequired Root");
    const struct kx_boot_item *lib = bx_item(b.p, "com.t.lib");
    assert_int_equal(lib->rule, KX_BOOT_RULE_DEPENDENCY);
    assert_string_equal(kx_kext_id(lib->needed_by), "com.t.root");
    const struct kx_diags *w = kx_boot_plan_diags(b.p);
    assert_true(fx_has(w, KX_D_REQUIRED_INCONSISTENT, "com.t.lib", "OSBundleRequired not set"));
    assert_true(fx_has(w, KX_D_REQUIRED_INCONSISTENT, "com.t.lib", "so do other kexts"));
    assert_false(fx_has(w, KX_D_REQUIRED_INCONSISTENT, "com.t.goodlib", NULL));
    bx_free(&b);
    /* Safe boot: the library may not load, so neither may the kexts that need it. */
    bx_plan(&b, d, KX_BOOT_SAFE, NULL, 0, META);
    bx_expect_list(b.p, KX_BOOT_PHASE1, "com.t.goodlib");
    bx_expect(b.p, "com.t.root", KX_BOOT_NOT_LOADED, "dependency com.t.lib can't load");
    bx_free(&b);
}

static void test_unresolvable_kexts_get_the_resolvers_reason(void **state)
{
    const char *d = dir_of(state);
    BX_KEXT(d, "Lib", "com.t.lib", "1.0", NULL, BX_NO_FILE, NULL);
    BX_KEXT(d, "Missing", "com.t.missing", NULL, "Root", BX_NO_FILE, "com.t.nowhere", "1.0", NULL);
    BX_KEXT(d, "TooNew", "com.t.toonew", NULL, "Root", BX_NO_FILE, "com.t.lib", "2.0", NULL);
    BX_KEXT(d, "CycA", "com.t.cyca", "1.0", "Root", BX_NO_FILE, "com.t.cycb", "1.0", NULL);
    BX_KEXT(d, "CycB", "com.t.cycb", "1.0", NULL, BX_NO_FILE, "com.t.cyca", "1.0", NULL);
    BX_KEXT(d, "Later", "com.t.later", NULL, NULL, BX_NO_FILE, "com.t.nowhere", "1.0", NULL);
    struct bx_boot b;
    bx_plan(&b, d, KX_BOOT_LOCAL, NULL, 0, META);
    bx_expect_list(b.p, KX_BOOT_PHASE1, "");
    bx_expect_list(b.p, KX_BOOT_PHASE2, "");
    bx_expect(b.p, "com.t.missing", KX_BOOT_NOT_LOADED,
              "KX3001 No kexts found for these "
              "libraries: com.t.nowhere");
    bx_expect(b.p, "com.t.toonew", KX_BOOT_NOT_LOADED, "requested 2.0 not in");
    bx_expect(b.p, "com.t.cyca", KX_BOOT_NOT_LOADED, "KX3008");
    bx_expect(b.p, "com.t.later", KX_BOOT_NOT_LOADED, "KX3001");
    bx_expect(b.p, "com.t.lib", KX_BOOT_NOT_LOADED, "library: loads when a kext that needs it");
    bx_free(&b);
}

static void test_libraries_and_codeless_kexts_load_only_when_needed(void **state)
{
    const char *d = dir_of(state);
    BX_KEXT(d, "Lib", "com.t.lib", "1.0", NULL, BX_NO_FILE, NULL);
    BX_KEXT(d, "Unused", "com.t.unused", "1.0", NULL, BX_NO_FILE, NULL);
    BX_KEXT(d, "Codeless", "com.t.codeless", NULL, NULL, BX_CODELESS, NULL);
    BX_KEXT(d, "RootCodeless", "com.t.rootcodeless", NULL, "Root", BX_CODELESS, NULL);
    BX_KEXT(d, "Drv", "com.t.drv", NULL, NULL, BX_NO_FILE, "com.t.lib", "1.0", NULL);
    struct bx_boot b;
    bx_plan(&b, d, KX_BOOT_LOCAL, NULL, 0, META);
    bx_expect_list(b.p, KX_BOOT_PHASE1, "com.t.rootcodeless"); /* the booter loads it anyway */
    bx_expect_list(b.p, KX_BOOT_PHASE2, "com.t.lib,com.t.drv");
    bx_expect(b.p, "com.t.lib", KX_BOOT_PHASE2, "dependency of com.t.drv");
    bx_expect(b.p, "com.t.unused", KX_BOOT_NOT_LOADED, "library");
    bx_expect(b.p, "com.t.codeless", KX_BOOT_NOT_LOADED, "no executable");
    bx_free(&b);
}

static void write_version(const char *d, const char *name, const char *id, const char *version,
                          const char *compat, const char *required)
{
    plist_t i = fx_info(id, version, compat);
    fx_lib(i, "org.kx.kpi.kmdf", "1.0");
    if (required)
        fx_set_str(i, "OSBundleRequired", required);
    free(bx_write(d, name, i, BX_NO_FILE));
}

static void test_duplicate_identifiers_load_the_highest_valid_copy(void **state)
{
    const char *d = dir_of(state);
    write_version(d, "Old", "com.t.dup", "1.0", NULL, "Root");
    write_version(d, "New", "com.t.dup", "2.0", NULL, "Root");
    write_version(d, "Broken", "com.t.dup", "3.0", NULL, "Bogus"); /* invalid: never preferred */
    struct bx_boot b;
    bx_plan(&b, d, KX_BOOT_LOCAL, NULL, 0, META);
    assert_int_equal(kx_boot_plan_count(b.p, KX_BOOT_PHASE1), 1);
    assert_string_equal(kx_boot_plan_item(b.p, KX_BOOT_PHASE1, 0)->version, "2.0");
    for (size_t i = 0; i < kx_boot_plan_count(b.p, KX_BOOT_NOT_LOADED); i++) {
        const struct kx_boot_item *x = kx_boot_plan_item(b.p, KX_BOOT_NOT_LOADED, i);
        assert_non_null(strstr(x->reason, !strcmp(x->version, "1.0")
                                              ? "another copy of com.t.dup is preferred: "
                                                "version 2.0"
                                              : "invalid"));
    }
    assert_true(fx_has(kx_boot_plan_diags(b.p), KX_D_DUPLICATE_ID, "com.t.dup", NULL));
    bx_free(&b);
}

/* Two copies of a library: lib 1.0 (compatible 1.0) and 2.0 (compatible 2.0).
 * Phase 1 loads 1.0 for a Root kext; a kext that needs 2.0 then can't load,
 * as in the kernel: the loaded copy always wins. */
static void conflict_fixture(const char *d)
{
    write_version(d, "Lib1", "com.t.lib", "1.0", "1.0", NULL);
    write_version(d, "Lib2", "com.t.lib", "2.0", "2.0", NULL);
    BX_KEXT(d, "Root", "com.t.root", NULL, "Root", BX_NO_FILE, "com.t.lib", "1.0", NULL);
    BX_KEXT(d, "Zroot", "com.t.zroot", NULL, "Root", BX_NO_FILE, "com.t.lib", "2.0", NULL);
    BX_KEXT(d, "Later", "com.t.later", NULL, NULL, BX_NO_FILE, "com.t.lib", "2.0", NULL);
    BX_KEXT(d, "Fine", "com.t.fine", NULL, NULL, BX_NO_FILE, "com.t.lib", "1.0", NULL);
}

static void test_a_copy_the_plan_loads_wins_over_a_better_one(void **state)
{
    const char *d = dir_of(state);
    conflict_fixture(d);
    struct bx_boot b;
    bx_plan(&b, d, KX_BOOT_LOCAL, NULL, 0, META);
    bx_expect_list(b.p, KX_BOOT_PHASE1, "com.t.lib,com.t.root");
    assert_string_equal(bx_item(b.p, "com.t.lib")->version, "1.0");
    bx_expect(b.p, "com.t.zroot", KX_BOOT_NOT_LOADED,
              "KX3004 Kexts already loaded for these libraries are not compatible");
    bx_expect(b.p, "com.t.later", KX_BOOT_NOT_LOADED, "KX3004");
    bx_expect_list(b.p, KX_BOOT_PHASE2, "com.t.fine");
    /* The repository's loaded marks are as they were: the kernel sets them. */
    for (size_t i = 0; i < kx_kext_repo_count(b.r); i++) {
        struct kx_kext *k = kx_kext_repo_kext(b.r, i);
        if (strncmp(kx_kext_path(k), d, strlen(d)) == 0)
            assert_false(kx_kext_is_loaded(k));
    }
    bx_free(&b);
}

static void test_plan_refuses_a_used_repository_and_no_folders(void **state)
{
    const char *d = dir_of(state);
    BX_KEXT(d, "A", "com.t.a", NULL, "Root", BX_NO_FILE, NULL);
    struct kx_kext_options o = bx_options(META);
    struct kx_kext_repo *r = NULL;
    struct kx_boot_plan *p = NULL;
    struct kx_boot_config cfg = KX_BOOT_CONFIG_INIT;
    const char *folders[] = {d};
    assert_int_equal(kx_kext_repo_new(&o, &r), STATUS_SUCCESS);
    assert_int_equal(kx_boot_plan_make(&cfg, r, &p), STATUS_INVALID_PARAMETER);
    assert_null(p);
    cfg.folders = folders;
    cfg.n_folders = 1;
    assert_int_equal(kx_kext_repo_add_folder(r, d), STATUS_SUCCESS);
    assert_int_equal(kx_boot_plan_make(&cfg, r, &p), STATUS_INVALID_PARAMETER);
    kx_kext_repo_free(r);
}

static void test_a_missing_folder_is_a_diagnostic_not_a_failure(void **state)
{
    char *gone = fx_join(dir_of(state), "nowhere");
    struct bx_boot b;
    bx_plan(&b, gone, KX_BOOT_LOCAL, NULL, 0, META);
    assert_int_equal(kx_boot_plan_source(b.p), KX_BOOT_FROM_SCAN);
    assert_non_null(strstr(kx_boot_plan_fallback_reason(b.p), "nowhere"));
    assert_int_equal(kx_boot_plan_count(b.p, KX_BOOT_PHASE1), 0);
    assert_true(fx_has(kx_boot_plan_diags(b.p), KX_D_BUNDLE_OPEN, NULL, NULL));
    bx_free(&b);
    free(gone);
}

/* The issue's JSON: {"mode", "source", "fallback_reason", "load": [{"id", "version",
 * "path", "reason"}...], "skipped": [{"id", "path", "reason"}...]}. */
static void test_plan_json_has_the_issues_fields(void **state)
{
    const char *d = dir_of(state);
    every_value(d);
    struct bx_boot b;
    bx_plan(&b, d, KX_BOOT_NETWORK, NULL, 0, META);
    json_t *o = kx_boot_plan_to_json(b.p);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "mode")), "network");
    assert_string_equal(json_string_value(json_object_get(o, "source")), "scan");
    assert_non_null(strstr(json_string_value(json_object_get(o, "fallback_reason")), "no cache"));
    json_t *load = json_object_get(o, "load"), *skipped = json_object_get(o, "skipped");
    assert_int_equal(json_array_size(load), 3);
    assert_int_equal(json_array_size(skipped), 4);
    json_t *first = json_array_get(load, 0);
    assert_string_equal(json_string_value(json_object_get(first, "id")), "com.t.a.root");
    assert_string_equal(json_string_value(json_object_get(first, "version")), "1.0");
    assert_non_null(strstr(json_string_value(json_object_get(first, "path")), "/A.kext"));
    assert_non_null(strstr(json_string_value(json_object_get(first, "reason")), "Root"));
    for (size_t i = 0; i < json_array_size(skipped); i++) {
        json_t *s = json_array_get(skipped, i);
        assert_non_null(json_string_value(json_object_get(s, "id")));
        assert_non_null(json_string_value(json_object_get(s, "path")));
        assert_non_null(json_string_value(json_object_get(s, "reason")));
    }
    assert_int_equal(json_array_size(json_object_get(o, "phase2")), 3);
    json_decref(o);
    bx_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_local_boot_loads_root_local_root_console, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_network_boot_loads_root_network_root_console, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_single_user_boot_has_no_phase_2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_safe_boot_loads_only_kexts_with_a_required_value,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_safe_boot_skips_kexts_whose_personalities_all_debug,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dependency_with_unsuitable_required_value_warns, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unresolvable_kexts_get_the_resolvers_reason, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_libraries_and_codeless_kexts_load_only_when_needed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_identifiers_load_the_highest_valid_copy,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_copy_the_plan_loads_wins_over_a_better_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_plan_refuses_a_used_repository_and_no_folders, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_missing_folder_is_a_diagnostic_not_a_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_plan_json_has_the_issues_fields, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
