/* test_kext_folder_links.c — extensions-folder entries that are symbolic links: one that
 * leads out of the folder is refused (KX2004, with or without authentication), one that stays
 * inside is an ordinary bundle, and a loop is named as one. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The repository's kext whose path ends with "/" + name. */
static struct kx_kext *kext_named(struct kx_kext_repo *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < kx_kext_repo_count(r); i++) {
        struct kx_kext *k = kx_kext_repo_kext(r, i);
        const char *p = kx_kext_path(k);
        size_t len = strlen(p);
        if (len > n && p[len - n - 1] == '/' && strcmp(p + len - n, name) == 0)
            return k;
    }
    fail_msg("no kext %s in the repository", name);
    return NULL;
}

static void test_a_bundle_linked_from_outside_the_folder_is_refused(void **state)
{
    char *ext = fx_join(*state, "ext"), *elsewhere = fx_join(*state, "elsewhere");
    char *link = fx_join(ext, "Out.kext");
    fx_mkdirs(ext);
    fx_mkdirs(elsewhere);
    free(fx_kext(elsewhere, "Out", fx_info("com.example.Out", "1.0", NULL)));
    assert_int_equal(symlink("../elsewhere/Out.kext", link), 0);
    struct kx_kext_repo *r = fx_repo(KX_KEXT_NO_AUTH, NULL); /* not an ownership question */
    assert_int_equal(kx_kext_repo_add_folder(r, ext), STATUS_SUCCESS);
    struct kx_kext *k = kext_named(r, "Out.kext");
    assert_true(fx_has(kx_kext_diags(k), KX_D_SYMLINK_OUTSIDE_FOLDER, NULL, "elsewhere/Out.kext"));
    assert_false(kx_kext_is_authentic(k));
    kx_kext_repo_free(r);

    /* named directly, the bundle is no folder's entry: only folders have the rule */
    struct kx_kext_options o = fx_options();
    o.flags |= KX_KEXT_NO_AUTH;
    assert_int_equal(kx_kext_read(link, &o, &k), STATUS_SUCCESS);
    assert_false(fx_has(kx_kext_diags(k), KX_D_SYMLINK_OUTSIDE_FOLDER, NULL, NULL));
    kx_kext_free(k);
    free(link);
    free(elsewhere);
    free(ext);
}

static void test_a_bundle_linked_inside_the_folder_is_read(void **state)
{
    char *ext = fx_join(*state, "ext"), *versions = fx_join(*state, "ext/versions");
    char *link = fx_join(ext, "In.kext");
    fx_mkdirs(versions);
    free(fx_kext(versions, "In", fx_info("com.example.In", "1.0", NULL)));
    assert_int_equal(symlink("versions/In.kext", link), 0);
    struct kx_kext_repo *r = fx_repo(0, NULL);
    assert_int_equal(kx_kext_repo_add_folder(r, ext), STATUS_SUCCESS);
    struct kx_kext *k = kext_named(r, "In.kext");
    assert_false(fx_has(kx_kext_diags(k), KX_D_SYMLINK_OUTSIDE_FOLDER, NULL, NULL));
    assert_true(kx_kext_is_authentic(k));
    kx_kext_repo_free(r);
    free(link);
    free(versions);
    free(ext);
}

static void test_a_link_loop_is_named_as_one(void **state)
{
    char *a = fx_join(*state, "a.kext"), *b = fx_join(*state, "b.kext");
    assert_int_equal(symlink("b.kext", a), 0);
    assert_int_equal(symlink("a.kext", b), 0);
    struct kx_kext_repo *r = fx_repo(0, NULL);
    assert_int_equal(kx_kext_repo_add_folder(r, *state), STATUS_SUCCESS);
    const struct kx_diags *d = kx_kext_repo_diags(r);
    assert_true(fx_has(d, KX_D_BUNDLE_OPEN, "a.kext", "too many levels of symbolic links"));
    assert_true(fx_has(d, KX_D_BUNDLE_OPEN, "b.kext", "too many levels of symbolic links"));
    assert_false(fx_has(d, KX_D_BUNDLE_OPEN, NULL, "input/output error"));
    kx_kext_repo_free(r);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_bundle_linked_from_outside_the_folder_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_bundle_linked_inside_the_folder_is_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_link_loop_is_named_as_one, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
