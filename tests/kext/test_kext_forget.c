/* test_kext_forget.c — a repository forgets a kext and reads one again: the
 * other copies of its identifier stay in preference order, an identifier
 * left without copies is gone while every other is still found, a loaded
 * kext or a plug-in can't be forgotten, and kx_kext_repo_refresh forgets a
 * bundle deleted from disk and sees one changed on disk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fixture.h"

#include <kx/kext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void forgetting_keeps_the_other_copies_and_ids(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    struct kx_kext *old = fx_adopt(r, fx_info("com.example.A", "1.0", "1.0"));
    struct kx_kext *new = fx_adopt(r, fx_info("com.example.A", "2.0", "1.0"));
    char id[64];
    for (int i = 0; i < 100; i++) { /* enough identifiers to share probe chains */
        snprintf(id, sizeof id, "com.example.N%d", i);
        fx_adopt(r, fx_info(id, "1.0", "1.0"));
    }
    size_t n_before = kx_kext_repo_count(r), n = 0;
    assert_ptr_equal(kx_kext_repo_lookup(r, "com.example.A", KX_VERS_INVALID), new);
    assert_int_equal(kx_kext_repo_forget(r, new), STATUS_SUCCESS);
    assert_ptr_equal(kx_kext_repo_lookup(r, "com.example.A", KX_VERS_INVALID), old);
    assert_non_null(kx_kext_repo_copies(r, "com.example.A", &n));
    assert_int_equal(n, 1);
    assert_int_equal(kx_kext_repo_forget(r, old), STATUS_SUCCESS);
    assert_null(kx_kext_repo_lookup(r, "com.example.A", KX_VERS_INVALID));
    assert_int_equal(kx_kext_repo_count(r), n_before - 2);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "com.example.N%d", i);
        assert_non_null(kx_kext_repo_lookup(r, id, KX_VERS_INVALID));
    }
    kx_kext_repo_free(r);
}

static void loaded_kexts_and_pseudo_kexts_stay(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    struct kx_kext *k = fx_adopt(r, fx_info("com.example.L", "1.0", "1.0"));
    assert_int_equal(kx_kext_repo_set_loaded(r, k, 1), STATUS_SUCCESS);
    assert_int_equal(kx_kext_repo_forget(r, k), STATUS_KEXT_IN_USE);
    assert_int_equal(kx_kext_repo_set_loaded(r, k, 0), STATUS_SUCCESS);
    struct kx_kext *kernel = kx_kext_repo_lookup(r, "org.kx.kernel", KX_VERS_INVALID);
    assert_non_null(kernel);
    assert_int_equal(kx_kext_repo_forget(r, kernel), STATUS_INVALID_PARAMETER);
    kx_kext_repo_free(r);
}

static void refresh_forgets_deleted_bundles_and_rereads_changed_ones(void **state)
{
    (void)state;
    char *dir = fx_tmpdir();
    char *a = fx_kext(dir, "A1", fx_info("com.example.R", "1.0", "1.0"));
    char *b = fx_kext(dir, "A2", fx_info("com.example.R", "2.0", "1.0"));
    struct kx_kext_repo *r = fx_repo(0, NULL);
    fx_add(r, a);
    fx_add(r, b);
    size_t n = 0;
    kx_kext_repo_copies(r, "com.example.R", &n);
    assert_int_equal(n, 2);

    fx_rmrf(b);
    free(fx_kext(dir, "A1", fx_info("com.example.R", "3.0", "1.0"))); /* a changes on disk */
    char *said = NULL;
    size_t said_len = 0;
    FILE *report = open_memstream(&said, &said_len);
    assert_int_equal(kx_kext_repo_refresh(r, "com.example.R", report), STATUS_SUCCESS);
    fclose(report);
    assert_non_null(strstr(said, "forgot"));
    assert_non_null(strstr(said, "A2.kext: the bundle is gone"));
    struct kx_kext *const *copies = kx_kext_repo_copies(r, "com.example.R", &n);
    assert_int_equal(n, 1);
    assert_string_equal(kx_kext_version_string(copies[0]), "3.0");
    free(said);
    kx_kext_repo_free(r);
    fx_rmrf(dir);
    free(a);
    free(b);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forgetting_keeps_the_other_copies_and_ids),
        cmocka_unit_test(loaded_kexts_and_pseudo_kexts_stay),
        cmocka_unit_test(refresh_forgets_deleted_bundles_and_rereads_changed_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
