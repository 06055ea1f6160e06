/* test_kext_policy.c — what a kext may link against (§2.4, §2.5) and when it may load
 * (OSBundleRequired §2.7, OSBundleAllowUserLoad §2.8, safe boot §4.3). */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

/* A kext with an executable (not looked up: fx_options sets KX_KEXT_NO_EXEC). */
static plist_t driver(const char *id)
{
    plist_t info = fx_info(id, "1.0", NULL);
    fx_set_str(info, "CFBundleExecutable", "Driver");
    return info;
}

static const struct kx_diags *diags_of(struct kx_kext_resolution *res)
{
    return kx_kext_resolution_diags(res);
}

static void expect(struct kx_kext_resolution *res, enum kx_diag_code code, const char *subject,
                   const char *detail)
{
    if (!fx_has(diags_of(res), code, subject, detail)) {
        fx_dump(diags_of(res), "resolution");
        fail_msg("expected %s about %s", kx_diag_code_string(code), subject ? subject : "-");
    }
}

static void test_raw_kernel_is_refused(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, "modern");
    plist_t info = driver("com.example.Raw");
    fx_lib(info, "com.apple.kernel", "24.0");
    fx_lib(info, "com.apple.kpi.bsd", "20.0");
    struct kx_kext_resolution *res = fx_resolve(r, fx_adopt(r, info));
    expect(res, KX_D_RAW_KERNEL, "com.apple.kernel", NULL);
    assert_false(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

/* Before OSKext (10.6) Apple loaded kexts linked against the whole kernel; the seed warns that
 * such a kext breaks on any incompatible kernel change. Its subcomponents were the way. */
static void test_whole_kernel_allowed_before_10_6_with_a_warning(void **state)
{
    (void)state;
    static const char *const old[][2] = {
        {"macos-10.0", "1.0b1"}, {"macos-10.2", "6.0"}, {"macos-10.4", "8.0"}};
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
        struct kx_kext_repo *r = fx_repo(0, old[i][0]);
        plist_t info = driver("com.example.Whole");
        fx_lib(info, "com.apple.kernel", old[i][1]);
        struct kx_kext_resolution *res = fx_resolve(r, fx_adopt(r, info));
        expect(res, KX_D_WHOLE_KERNEL, "com.apple.kernel", "10.6");
        assert_false(fx_has(diags_of(res), KX_D_RAW_KERNEL, NULL, NULL));
        assert_true(kx_kext_resolution_is_loadable(res));
        kx_kext_resolution_free(res);

        info = driver("com.example.Parts"); /* the subcomponents: no warning */
        fx_lib(info, "com.apple.kernel.iokit", "1.0b1");
        fx_lib(info, "com.apple.kernel.libkern", "1.0b1");
        res = fx_resolve(r, fx_adopt(r, info));
        assert_true(kx_kext_resolution_is_loadable(res));
        assert_false(fx_has(diags_of(res), KX_D_WHOLE_KERNEL, NULL, NULL));
        kx_kext_resolution_free(res);
        kx_kext_repo_free(r);
    }
}

static void test_mixing_kpis_and_kernel_components_fails(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, "macos-10.4");
    plist_t info = driver("com.example.Mixed");
    fx_lib(info, "com.apple.kpi.bsd", "8.0");
    fx_lib(info, "com.apple.kernel.iokit", "7.9");
    struct kx_kext_resolution *res = fx_resolve(r, fx_adopt(r, info));
    expect(res, KX_D_MIXED_KPI_KERNEL, "com.apple.kernel.iokit", "com.apple.kpi.bsd");
    assert_false(fx_has(diags_of(res), KX_D_64BIT_KERNEL_LIBS, NULL, NULL));
    assert_false(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);

    info = driver("com.example.Pure"); /* either style alone is fine on 10.4 */
    fx_lib(info, "com.apple.kernel.iokit", "7.9");
    fx_lib(info, "com.apple.kernel.libkern", "6.0");
    res = fx_resolve(r, fx_adopt(r, info));
    assert_true(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_64bit_kernel_refuses_kernel_components(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, "modern");
    plist_t info = driver("com.example.Old");
    fx_lib(info, "com.apple.kernel.bsd", "6.0");
    struct kx_kext_resolution *res = fx_resolve(r, fx_adopt(r, info));
    expect(res, KX_D_64BIT_KERNEL_LIBS, "com.apple.kernel.bsd", "64-bit");
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);

    /* Without a profile the architecture decides: a 32-bit one keeps the old rules. */
    struct kx_kext_options o = fx_options();
    o.arch = "i386";
    assert_int_equal(kx_kext_repo_new(&o, &r), STATUS_SUCCESS);
    info = driver("com.example.Old");
    fx_lib(info, "com.apple.kernel.bsd", "6.0");
    res = fx_resolve(r, fx_adopt(r, info));
    assert_false(fx_has(diags_of(res), KX_D_64BIT_KERNEL_LIBS, NULL, NULL));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static struct kx_kext_resolution *private_user(struct kx_kext_repo *r, const char *id,
                                               const char *copyright)
{
    plist_t info = driver(id);
    fx_lib(info, "com.apple.kpi.private", "20.0");
    if (copyright)
        fx_set_str(info, "NSHumanReadableCopyright", copyright);
    return fx_resolve(r, fx_adopt(r, info));
}

static void test_private_kpi_is_for_apple_only(void **state)
{
    (void)state;
    static const char *const good[] = {
        "Copyright \xC2\xA9 2008 Apple Inc. All rights reserved.",
        "IOPCIFamily 2.1; Copyright \xC2\xA9 2004,2006-2008 Apple Inc. All rights reserved.",
        "Copyright \xC2\xA9 1998,2000-2002,2004 Apple Inc. All rights reserved. And more.",
    };
    static const char *const bad[] = {
        "Copyright (c) 2007 Apple Inc. All rights reserved.",
        "Copyright \xC2\xA9 2007-08 Apple Inc. All rights reserved.",
        "Copyright \xC2\xA9 2007 - 2008 Apple Inc. All rights reserved.",
        "Copyright \xC2\xA9 2007 Example Corp. All rights reserved.",
    };
    struct kx_kext_repo *r = fx_repo(0, "modern");
    struct kx_kext_resolution *res = private_user(r, "com.example.NotApple", good[0]);
    expect(res, KX_D_PRIVATE_KPI, "com.apple.kpi.private", NULL);
    kx_kext_resolution_free(res);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        res = private_user(r, "com.apple.driver.Good", good[i]);
        if (fx_has(diags_of(res), KX_D_PRIVATE_KPI, NULL, NULL))
            fail_msg("refused: %s", good[i]);
        kx_kext_resolution_free(res);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        res = private_user(r, "com.apple.driver.Bad", bad[i]);
        if (!fx_has(diags_of(res), KX_D_PRIVATE_KPI, NULL, NULL))
            fail_msg("accepted: %s", bad[i]);
        kx_kext_resolution_free(res);
    }
    res = private_user(r, "com.apple.driver.NoCopyright", NULL);
    expect(res, KX_D_PRIVATE_KPI, NULL, NULL);
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_interface_kext_has_one_library(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, "modern");
    plist_t info = fx_info("com.example.Iface", "1.0", "1.0");
    fx_set_bool(info, "OSBundleIsInterface", 1);
    fx_lib(info, "com.apple.kpi.bsd", "20.0");
    fx_lib(info, "com.apple.kpi.mach", "20.0");
    struct kx_kext *k = fx_adopt(r, info);
    assert_true(kx_kext_is_interface(k));
    struct kx_kext_resolution *res = fx_resolve(r, k);
    expect(res, KX_D_INTERFACE_ONE_DEP, "OSBundleLibraries", "2");
    kx_kext_resolution_free(res);
    info = fx_info("com.example.Iface1", "1.0", "1.0");
    fx_set_bool(info, "OSBundleIsInterface", 1);
    fx_lib(info, "com.apple.kpi.bsd", "20.0");
    res = fx_resolve(r, fx_adopt(r, info));
    assert_false(fx_has(diags_of(res), KX_D_INTERFACE_ONE_DEP, NULL, NULL));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_no_kpi_warns(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    fx_adopt(r, fx_info("com.example.Lib", "1.0", "1.0"));
    plist_t info = driver("com.example.NoKpi");
    fx_lib(info, "com.example.Lib", "1.0");
    struct kx_kext_resolution *res = fx_resolve(r, fx_adopt(r, info));
    expect(res, KX_D_NO_KPI, NULL, NULL);
    assert_true(kx_kext_resolution_is_loadable(res)); /* a warning */
    kx_kext_resolution_free(res);
    info = driver("com.example.KxDriver"); /* kx's KPIs count */
    fx_lib(info, "org.kx.kpi.kmdf", "1.0");
    fx_lib(info, "com.example.Lib", "1.0");
    res = fx_resolve(r, fx_adopt(r, info));
    assert_false(fx_has(diags_of(res), KX_D_NO_KPI, NULL, NULL));
    assert_true(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

/* root (OSBundleRequired = root_req) -> lib (lib_req); returns the resolution. */
static struct kx_kext_resolution *required_pair(struct kx_kext_repo *r, const char *name,
                                               const char *root_req, const char *lib_req)
{
    char lib_id[64], root_id[64];
    snprintf(lib_id, sizeof lib_id, "com.example.%sLib", name);
    snprintf(root_id, sizeof root_id, "com.example.%s", name);
    plist_t lib = fx_info(lib_id, "1.0", "1.0");
    if (lib_req)
        fx_set_str(lib, "OSBundleRequired", lib_req);
    fx_adopt(r, lib);
    plist_t root = fx_info(root_id, "1.0", NULL);
    if (root_req)
        fx_set_str(root, "OSBundleRequired", root_req);
    fx_lib(root, lib_id, "1.0");
    return fx_resolve(r, fx_adopt(r, root));
}

static void test_required_values_of_dependencies(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    struct kx_kext_resolution *res = required_pair(r, "A", "Root", NULL);
    expect(res, KX_D_REQUIRED_INCONSISTENT, "com.example.ALib", "not set");
    assert_true(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    res = required_pair(r, "B", "Console", "Safe Boot");
    expect(res, KX_D_REQUIRED_INCONSISTENT, "com.example.BLib", "Safe Boot");
    kx_kext_resolution_free(res);
    res = required_pair(r, "C", "Local-Root", "Network-Root");
    expect(res, KX_D_REQUIRED_INCONSISTENT, "com.example.CLib", "Network-Root");
    kx_kext_resolution_free(res);
    res = required_pair(r, "D", "Network-Root", "Console");
    assert_false(fx_has(diags_of(res), KX_D_REQUIRED_INCONSISTENT, NULL, NULL));
    kx_kext_resolution_free(res);
    res = required_pair(r, "E", NULL, NULL); /* promises nothing about early boot */
    assert_false(fx_has(diags_of(res), KX_D_REQUIRED_INCONSISTENT, NULL, NULL));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_user_load_needs_every_kext_to_allow_it(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    plist_t lib = fx_info("com.example.ULib", "1.0", "1.0");
    fx_set_bool(lib, "OSBundleAllowUserLoad", 1);
    fx_adopt(r, lib);
    plist_t ok = fx_info("com.example.UOk", "1.0", NULL);
    fx_set_bool(ok, "OSBundleAllowUserLoad", 1);
    fx_lib(ok, "com.example.ULib", "1.0");
    fx_lib(ok, "org.kx.kpi.kmdf", "1.0");
    struct kx_kext_resolution *res = fx_resolve(r, fx_adopt(r, ok));
    assert_true(kx_kext_resolution_user_loadable(res));
    assert_false(fx_has(diags_of(res), KX_D_NOT_USER_LOADABLE, NULL, NULL));
    kx_kext_resolution_free(res);

    plist_t no = fx_info("com.example.UNo", "1.0", NULL);
    fx_lib(no, "com.example.ULib", "1.0");
    struct kx_kext *uno = fx_adopt(r, no);
    res = fx_resolve(r, uno);
    assert_false(kx_kext_resolution_user_loadable(res));
    /* root loads it (a boot, kxd's own requests): the rule doesn't apply, nothing is said */
    assert_false(fx_has(diags_of(res), KX_D_NOT_USER_LOADABLE, NULL, NULL));
    assert_true(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);

    /* For a user: said once, naming every kext of the list that lacks it. */
    r = fx_repo(KX_KEXT_FOR_USER, NULL);
    fx_adopt(r, fx_info("com.example.ULib", "1.0", "1.0")); /* without it this time */
    no = fx_info("com.example.UNo", "1.0", NULL);
    fx_lib(no, "com.example.ULib", "1.0");
    res = fx_resolve(r, fx_adopt(r, no));
    expect(res, KX_D_NOT_USER_LOADABLE, "com.example.UNo", "com.example.ULib, com.example.UNo");
    size_t n = 0;
    for (size_t i = 0; i < diags_of(res)->n_items; i++)
        n += diags_of(res)->items[i].code == KX_D_NOT_USER_LOADABLE;
    assert_int_equal(n, 1);
    assert_true(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_safe_boot_rules(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(KX_KEXT_SAFE_BOOT, NULL);
    struct kx_kext_resolution *res = required_pair(r, "S1", NULL, "Root");
    expect(res, KX_D_NOT_SAFE_BOOT, "OSBundleRequired", "not set");
    assert_int_equal(kx_kext_resolution_status(res), STATUS_KEXT_BOOT_LEVEL);
    kx_kext_resolution_free(res);
    res = required_pair(r, "S2", "Safe Boot", NULL);
    expect(res, KX_D_DEPS_NOT_SAFE_BOOT, "com.example.S2Lib", "not set");
    assert_false(fx_has(diags_of(res), KX_D_NOT_SAFE_BOOT, NULL, NULL));
    assert_false(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    res = required_pair(r, "S3", "Root", "Safe Boot");
    assert_true(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);

    r = fx_repo(0, NULL); /* the same kext outside safe boot */
    res = required_pair(r, "S1", NULL, "Root");
    assert_true(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_kernel_is_refused),
        cmocka_unit_test(test_whole_kernel_allowed_before_10_6_with_a_warning),
        cmocka_unit_test(test_mixing_kpis_and_kernel_components_fails),
        cmocka_unit_test(test_64bit_kernel_refuses_kernel_components),
        cmocka_unit_test(test_private_kpi_is_for_apple_only),
        cmocka_unit_test(test_interface_kext_has_one_library),
        cmocka_unit_test(test_no_kpi_warns),
        cmocka_unit_test(test_required_values_of_dependencies),
        cmocka_unit_test(test_user_load_needs_every_kext_to_allow_it),
        cmocka_unit_test(test_safe_boot_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
