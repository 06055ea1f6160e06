/* test_kext_auth.c — Apple's filesystem authentication: owner, permissions, symlinks. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static struct kx_kext *read_auth(const char *bundle, const struct kx_kext_options *o)
{
    struct kx_kext *k = NULL;
    assert_int_equal(kx_kext_read(bundle, o, &k), STATUS_SUCCESS);
    return k;
}

static void test_well_owned_bundle_is_authentic(void **state)
{
    struct kx_kext_options o = fx_options();
    char *b = fx_kext(*state, "Good", fx_info("com.example.Good", "1.0", NULL));
    struct kx_kext *k = read_auth(b, &o);
    assert_true(kx_kext_is_authentic(k));
    assert_int_equal(kx_kext_diags(k)->n_items, 0);
    kx_kext_free(k);
    free(b);
}

static void test_writable_by_group_or_others_fails(void **state)
{
    struct kx_kext_options o = fx_options();
    char *b = fx_kext(*state, "Writable", fx_info("com.example.W", "1.0", NULL));
    char *plist = fx_join(b, "Contents/Info.plist"), *contents = fx_join(b, "Contents");
    chmod(plist, 0666);
    chmod(contents, 0775);
    struct kx_kext *k = read_auth(b, &o);
    assert_true(fx_has(kx_kext_diags(k), KX_D_OWNER_PERMISSIONS, "Contents/Info.plist",
                       "group and others"));
    assert_true(fx_has(kx_kext_diags(k), KX_D_OWNER_PERMISSIONS, "Contents", "0775"));
    assert_false(kx_kext_is_authentic(k));
    assert_true(kx_kext_is_valid(k));
    kx_kext_free(k);
    free(plist);
    free(contents);
    free(b);
}

static void test_wrong_owner_fails(void **state)
{
    struct kx_kext_options o = fx_options();
    o.trusted_uid += 1; /* every file now belongs to someone untrusted */
    char *b = fx_kext(*state, "Owner", fx_info("com.example.O", "1.0", NULL));
    struct kx_kext *k = read_auth(b, &o);
    assert_true(fx_has(kx_kext_diags(k), KX_D_OWNER_PERMISSIONS, ".", "must be"));
    assert_true(fx_has(kx_kext_diags(k), KX_D_OWNER_PERMISSIONS, "Contents/Info.plist", "owned by"));
    assert_false(kx_kext_is_authentic(k));
    kx_kext_free(k);
    free(b);
}

static void test_symlinks_outside_fail_and_inside_warn(void **state)
{
    struct kx_kext_options o = fx_options();
    char *b = fx_kext(*state, "Links", fx_info("com.example.L", "1.0", NULL));
    char *res = fx_join(b, "Contents/Resources");
    fx_mkdirs(res);
    char *out = fx_join(res, "out"), *up = fx_join(res, "up"), *in = fx_join(res, "in");
    assert_int_equal(symlink("/etc", out), 0);
    assert_int_equal(symlink("../../..", up), 0);
    assert_int_equal(symlink("../Info.plist", in), 0);
    struct kx_kext *k = read_auth(b, &o);
    assert_true(fx_has(kx_kext_diags(k), KX_D_SYMLINK_OUTSIDE, "Contents/Resources/out", "/etc"));
    assert_true(fx_has(kx_kext_diags(k), KX_D_SYMLINK_OUTSIDE, "Contents/Resources/up", NULL));
    assert_true(fx_has(kx_kext_diags(k), KX_D_SYMLINK_BOOTER, "Contents/Resources/in", NULL));
    assert_false(kx_kext_is_authentic(k));
    kx_kext_free(k);

    unlink(out);
    unlink(up);
    k = read_auth(b, &o); /* only the inside link remains: a warning */
    assert_true(kx_kext_is_authentic(k));
    assert_true(fx_has(kx_kext_diags(k), KX_D_SYMLINK_BOOTER, NULL, NULL));
    kx_kext_free(k);
    free(out);
    free(up);
    free(in);
    free(res);
    free(b);
}

static void test_dangling_symlink_is_file_not_found(void **state)
{
    struct kx_kext_options o = fx_options();
    char *b = fx_kext(*state, "Dangling", fx_info("com.example.D", "1.0", NULL));
    char *link = fx_join(b, "Contents/missing");
    assert_int_equal(symlink("nowhere", link), 0);
    struct kx_kext *k = read_auth(b, &o);
    assert_true(fx_has(kx_kext_diags(k), KX_D_FILE_NOT_FOUND, "Contents/missing", NULL));
    assert_false(kx_kext_is_authentic(k));
    kx_kext_free(k);
    free(link);
    free(b);
}

static void test_plugins_are_authenticated_on_their_own(void **state)
{
    struct kx_kext_options o = fx_options();
    char *b = fx_kext(*state, "Host", fx_info("com.example.Host", "1.0", NULL));
    char *plugdir = fx_join(b, "Contents/PlugIns");
    char *p = fx_kext(plugdir, "Plug", fx_info("com.example.Host.Plug", "1.0", NULL));
    char *pf = fx_join(p, "Contents/Info.plist");
    chmod(pf, 0646);
    struct kx_kext *k = read_auth(b, &o);
    assert_true(kx_kext_is_authentic(k));
    assert_int_equal(kx_kext_n_plugins(k), 1);
    assert_false(kx_kext_is_authentic(kx_kext_plugin(k, 0)));
    assert_true(fx_has(kx_kext_diags(kx_kext_plugin(k, 0)), KX_D_OWNER_PERMISSIONS,
                       "Contents/Info.plist", "others"));
    kx_kext_free(k);
    free(pf);
    free(p);
    free(plugdir);
    free(b);
}

static void test_ds_store_is_ignored_and_no_auth_skips(void **state)
{
    struct kx_kext_options o = fx_options();
    char *b = fx_kext(*state, "Finder", fx_info("com.example.F", "1.0", NULL));
    char *ds = fx_join(b, ".DS_Store"), *plist = fx_join(b, "Contents/Info.plist");
    fx_write_str(ds, "finder junk");
    chmod(ds, 0666);
    struct kx_kext *k = read_auth(b, &o);
    assert_true(kx_kext_is_authentic(k));
    kx_kext_free(k);
    chmod(plist, 0666);
    o.flags |= KX_KEXT_NO_AUTH;
    k = read_auth(b, &o);
    assert_true(kx_kext_is_authentic(k));
    assert_int_equal(kx_kext_diags(k)->n_items, 0);
    kx_kext_free(k);
    free(ds);
    free(plist);
    free(b);
}

static void test_many_bad_files_are_summarised(void **state)
{
    struct kx_kext_options o = fx_options();
    char *b = fx_kext(*state, "Many", fx_info("com.example.M", "1.0", NULL));
    for (int i = 0; i < 100; i++) {
        char name[64];
        snprintf(name, sizeof name, "Contents/Resources/f%03d", i);
        char *f = fx_join(b, name);
        fx_write_str(f, "x");
        chmod(f, 0666);
        free(f);
    }
    struct kx_kext *k = read_auth(b, &o);
    assert_true(kx_kext_diags(k)->n_items < 50);
    assert_true(fx_has(kx_kext_diags(k), KX_D_OWNER_PERMISSIONS, ".", "more failures"));
    kx_kext_free(k);
    free(b);
}

static void test_inauthentic_dependency_fails_the_dependent(void **state)
{
    char *lib = fx_kext(*state, "Lib", fx_info("com.example.Lib", "1.0", "1.0"));
    plist_t info = fx_info("com.example.App", "1.0", NULL);
    fx_lib(info, "com.example.Lib", "1.0");
    char *app = fx_kext(*state, "App", info);
    char *lf = fx_join(lib, "Contents/Info.plist");
    chmod(lf, 0664);
    struct kx_kext_repo *r = fx_repo(0, NULL);
    assert_int_equal(kx_kext_repo_add_folder(r, *state), STATUS_SUCCESS);
    struct kx_kext *k = fx_add(r, app);
    struct kx_kext_resolution *res = fx_resolve(r, k);
    assert_true(fx_has(kx_kext_resolution_diags(res), KX_D_DEPS_INAUTHENTIC, "com.example.Lib",
                       NULL));
    assert_false(kx_kext_resolution_is_loadable(res));
    assert_int_equal(kx_kext_resolution_status(res), STATUS_KEXT_DEPENDENCY_FAILED);
    const struct kx_kext_dep *d = fx_dep(res, "com.example.App", "com.example.Lib");
    assert_int_equal(fx_candidate(d, "Lib.kext")->verdict, KX_CAND_INAUTHENTIC);
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
    free(lf);
    free(lib);
    free(app);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_well_owned_bundle_is_authentic),
        T(test_writable_by_group_or_others_fails),
        T(test_wrong_owner_fails),
        T(test_symlinks_outside_fail_and_inside_warn),
        T(test_dangling_symlink_is_file_not_found),
        T(test_plugins_are_authenticated_on_their_own),
        T(test_ds_store_is_ignored_and_no_auth_skips),
        T(test_many_bad_files_are_summarised),
        T(test_inauthentic_dependency_fails_the_dependent),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
