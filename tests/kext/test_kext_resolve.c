/* test_kext_resolve.c — Apple's resolution rules: the version window, choice among
 * copies, loaded kexts, missing libraries, cycles, multiple copies, load order. */
#include "fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An in-memory kext adopted by r: id, version, compat (NULL: not a library),
 * then NULL-terminated pairs of library id and requested version. */
static struct kx_kext *mk(struct kx_kext_repo *r, const char *id, const char *version,
                          const char *compat, ...)
{
    plist_t info = fx_info(id, version, compat);
    va_list ap;
    va_start(ap, compat);
    for (const char *lib; (lib = va_arg(ap, const char *)) != NULL;)
        fx_lib(info, lib, va_arg(ap, const char *));
    va_end(ap);
    char *xml = NULL, *path = NULL;
    uint32_t len = 0;
    plist_to_xml(info, &xml, &len);
    plist_free(info);
    assert_true(asprintf(&path, "mem/%s-%s.kext", id, version) > 0);
    struct kx_kext *k = NULL;
    struct kx_kext_options o = fx_options();
    assert_int_equal(kx_kext_from_info_plist(xml, len, path, &o, &k), STATUS_SUCCESS);
    assert_int_equal(kx_kext_repo_adopt(r, k), STATUS_SUCCESS);
    free(xml);
    free(path);
    return k;
}

static void expect(const struct kx_kext_resolution *res, enum kx_diag_code code,
                   const char *subject, const char *detail)
{
    if (!fx_has(kx_kext_resolution_diags(res), code, subject, detail)) {
        fx_dump(kx_kext_resolution_diags(res), "resolution");
        fail_msg("expected %s about %s with %s", kx_diag_code_string(code),
                 subject ? subject : "-", detail ? detail : "-");
    }
}

static void test_window_enforces_both_bounds(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    mk(r, "com.example.Lib", "1.5", "1.0", NULL);
    struct kx_kext *ok = mk(r, "com.example.Ok", "1.0", NULL, "com.example.Lib", "1.2", NULL);
    struct kx_kext *hi = mk(r, "com.example.Hi", "1.0", NULL, "com.example.Lib", "2.0", NULL);
    struct kx_kext *lo = mk(r, "com.example.Lo", "1.0", NULL, "com.example.Lib", "0.9", NULL);
    struct kx_kext *lo_edge = mk(r, "com.example.Edge", "1.0", NULL, "com.example.Lib", "1.0", NULL);
    struct kx_kext *hi_edge = mk(r, "com.example.Edge2", "1.0", NULL, "com.example.Lib", "1.5", NULL);

    struct kx_kext_resolution *res = fx_resolve(r, ok);
    assert_true(kx_kext_resolution_is_loadable(res));
    assert_int_equal(kx_kext_resolution_status(res), STATUS_SUCCESS);
    kx_kext_resolution_free(res);

    res = fx_resolve(r, hi);
    expect(res, KX_D_ONLY_INCOMPATIBLE, "com.example.Lib",
           "requested 2.0 not in [compatible 1.0, current 1.5]");
    assert_int_equal(fx_dep(res, "com.example.Hi", "com.example.Lib")->candidates[0].verdict,
                     KX_CAND_ABOVE_CURRENT);
    assert_int_equal(kx_kext_resolution_status(res), STATUS_KEXT_DEPENDENCY_FAILED);
    kx_kext_resolution_free(res);

    res = fx_resolve(r, lo); /* the kernel wouldn't check this bound; Apple's user space does */
    expect(res, KX_D_ONLY_INCOMPATIBLE, "com.example.Lib",
           "requested 0.9 not in [compatible 1.0, current 1.5]");
    assert_int_equal(fx_dep(res, "com.example.Lo", "com.example.Lib")->candidates[0].verdict,
                     KX_CAND_BELOW_COMPAT);
    kx_kext_resolution_free(res);

    res = fx_resolve(r, lo_edge);
    assert_true(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    res = fx_resolve(r, hi_edge);
    assert_true(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_highest_compatible_version_wins(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    mk(r, "com.example.Lib", "1.0", "1.0", NULL);
    struct kx_kext *l15 = mk(r, "com.example.Lib", "1.5", "1.0", NULL);
    mk(r, "com.example.Lib", "2.0", "2.0", NULL);
    struct kx_kext *a = mk(r, "com.example.A", "1.0", NULL, "com.example.Lib", "1.0", NULL);
    struct kx_kext_resolution *res = fx_resolve(r, a);
    const struct kx_kext_dep *d = fx_dep(res, "com.example.A", "com.example.Lib");
    assert_ptr_equal(d->chosen, l15);
    assert_int_equal(d->n_candidates, 3);
    assert_int_equal(fx_candidate(d, "Lib-2.0.kext")->verdict, KX_CAND_BELOW_COMPAT);
    assert_int_equal(fx_candidate(d, "Lib-1.5.kext")->verdict, KX_CAND_CHOSEN);
    assert_int_equal(fx_candidate(d, "Lib-1.0.kext")->verdict, KX_CAND_SUPERSEDED);
    char line[256];
    assert_non_null(strstr(kx_kext_candidate_explain(d, fx_candidate(d, "Lib-1.0.kext"), line,
                                                     sizeof line),
                           "1.5 was chosen"));
    assert_ptr_equal(kx_kext_repo_lookup(r, "com.example.Lib", kx_vers_parse("1.2")), l15);
    assert_null(kx_kext_repo_lookup(r, "com.example.Lib", kx_vers_parse("3.0")));
    assert_null(kx_kext_repo_lookup(r, "com.example.None", KX_VERS_INVALID));
    assert_string_equal(kx_kext_version_string(kx_kext_repo_lookup(r, "com.example.Lib",
                                                                   KX_VERS_INVALID)),
                        "2.0");
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_equal_versions_most_recently_added_wins(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    struct kx_kext *first = mk(r, "com.example.Lib", "1.0", "1.0", NULL);
    struct kx_kext *second = mk(r, "com.example.Lib", "1.0", "1.0", NULL);
    struct kx_kext *a = mk(r, "com.example.A", "1.0", NULL, "com.example.Lib", "1.0", NULL);
    struct kx_kext_resolution *res = fx_resolve(r, a);
    const struct kx_kext_dep *d = fx_dep(res, "com.example.A", "com.example.Lib");
    assert_ptr_equal(d->chosen, second);
    assert_ptr_not_equal(d->chosen, first);
    expect(res, KX_D_DUPLICATE_ID, "com.example.Lib", "most recently added");
    assert_true(kx_kext_resolution_is_loadable(res)); /* a warning only */
    assert_true(fx_has(kx_kext_repo_diags(r), KX_D_DUPLICATE_ID, "com.example.Lib", NULL));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_loaded_copy_always_wins(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    struct kx_kext *l1 = mk(r, "com.example.Lib", "1.0", "1.0", NULL);
    struct kx_kext *l2 = mk(r, "com.example.Lib", "2.0", "1.0", NULL);
    struct kx_kext *a = mk(r, "com.example.A", "1.0", NULL, "com.example.Lib", "1.0", NULL);
    struct kx_kext *b = mk(r, "com.example.B", "1.0", NULL, "com.example.Lib", "1.5", NULL);

    struct kx_kext_resolution *res = fx_resolve(r, a);
    assert_ptr_equal(fx_dep(res, "com.example.A", "com.example.Lib")->chosen, l2);
    kx_kext_resolution_free(res);

    assert_int_equal(kx_kext_repo_set_loaded(r, l1, 1), STATUS_SUCCESS);
    assert_true(kx_kext_is_loaded(l1));
    assert_int_equal(kx_kext_repo_set_loaded(r, l2, 1), STATUS_KEXT_LOADED_VERSION_DIFFERS);
    res = fx_resolve(r, a);
    const struct kx_kext_dep *d = fx_dep(res, "com.example.A", "com.example.Lib");
    assert_ptr_equal(d->chosen, l1);
    assert_int_equal(fx_candidate(d, "Lib-2.0.kext")->verdict, KX_CAND_OTHER_LOADED);
    kx_kext_resolution_free(res);

    res = fx_resolve(r, b); /* 1.5 isn't in the loaded copy's window: no fallback to 2.0 */
    expect(res, KX_D_LOADED_INCOMPATIBLE, "com.example.Lib", "requested 1.5 not in");
    kx_kext_resolution_free(res);

    assert_int_equal(kx_kext_repo_set_loaded(r, l1, 0), STATUS_SUCCESS);
    res = fx_resolve(r, b);
    assert_ptr_equal(fx_dep(res, "com.example.B", "com.example.Lib")->chosen, l2);
    kx_kext_resolution_free(res);

    struct kx_kext *nolib = mk(r, "com.example.NoLib", "1.0", NULL, NULL);
    struct kx_kext *c = mk(r, "com.example.C", "1.0", NULL, "com.example.NoLib", "1.0", NULL);
    assert_int_equal(kx_kext_repo_set_loaded(r, nolib, 1), STATUS_SUCCESS);
    res = fx_resolve(r, c);
    expect(res, KX_D_LOADED_NO_COMPATIBLE, "com.example.NoLib", "not a library");
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_missing_and_non_library_candidates(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    mk(r, "com.example.Driver", "1.0", NULL, NULL); /* no OSBundleCompatibleVersion */
    struct kx_kext *a = mk(r, "com.example.A", "1.0", NULL, "com.example.Driver", "1.0",
                           "com.example.Nowhere", "1.0", NULL);
    struct kx_kext_resolution *res = fx_resolve(r, a);
    expect(res, KX_D_LACK_COMPATIBLE_VERSION, "com.example.Driver", "not a library");
    expect(res, KX_D_NO_KEXTS_FOUND, "com.example.Nowhere", "requested 1.0");
    assert_false(kx_kext_resolution_is_loadable(res));
    assert_int_equal(kx_kext_resolution_n_load_order(res), 1); /* only A itself */
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_two_copies_in_one_graph(void **state)
{
    (void)state;
    /* research §2.3: A needs L 1.0 and B; B needs L 2.0 -> A gets L1.0, B gets L2.0. */
    struct kx_kext_repo *r = fx_repo(0, NULL);
    mk(r, "com.example.L", "1.0", "1.0", NULL);
    mk(r, "com.example.L", "2.0", "2.0", NULL);
    mk(r, "com.example.B", "1.0", "1.0", "com.example.L", "2.0", NULL);
    struct kx_kext *a = mk(r, "com.example.A", "1.0", NULL, "com.example.L", "1.0",
                           "com.example.B", "1.0", NULL);
    struct kx_kext_resolution *res = fx_resolve(r, a);
    expect(res, KX_D_MULTIPLE_IN_GRAPH, "com.example.L", "L-2.0.kext");
    assert_false(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_cycles_print_their_path(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    struct kx_kext *a = mk(r, "a", "1.0", "1.0", "b", "1.0", NULL);
    mk(r, "b", "1.0", "1.0", "c", "1.0", NULL);
    mk(r, "c", "1.0", "1.0", "a", "1.0", NULL);
    struct kx_kext *top = mk(r, "top", "1.0", NULL, "a", "1.0", NULL);
    struct kx_kext *self = mk(r, "self", "1.0", "1.0", "self", "1.0", NULL);
    struct kx_kext_resolution *res = fx_resolve(r, a);
    expect(res, KX_D_CIRCULAR, "a", "a -> b -> c -> a");
    assert_false(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);
    res = fx_resolve(r, top);
    expect(res, KX_D_CIRCULAR, "a", "a -> b -> c -> a");
    kx_kext_resolution_free(res);
    res = fx_resolve(r, self);
    expect(res, KX_D_CIRCULAR, "self", "self -> self");
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_load_order_is_topological_and_deterministic(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    mk(r, "base", "1.0", "1.0", NULL);
    mk(r, "right", "1.0", "1.0", "base", "1.0", NULL);
    mk(r, "left", "1.0", "1.0", "base", "1.0", NULL);
    struct kx_kext *top = mk(r, "top", "1.0", NULL, "right", "1.0", "left", "1.0", NULL);
    struct kx_kext_resolution *res = fx_resolve(r, top);
    assert_true(kx_kext_resolution_is_loadable(res));
    assert_int_equal(kx_kext_resolution_n_load_order(res), 4);
    assert_int_equal(fx_order_index(res, "base"), 0);
    assert_true(fx_order_index(res, "left") < fx_order_index(res, "right")); /* identifier order */
    assert_int_equal(fx_order_index(res, "top"), 3);
    assert_ptr_equal(kx_kext_resolution_load_order(res, 3), top);
    assert_ptr_equal(kx_kext_resolution_kext(res), top);
    assert_null(kx_kext_resolution_load_order(res, 4));
    struct kx_kext_resolution *again = fx_resolve(r, top);
    for (size_t i = 0; i < 4; i++)
        assert_ptr_equal(kx_kext_resolution_load_order(res, i),
                         kx_kext_resolution_load_order(again, i));
    kx_kext_resolution_free(again);
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_indirect_failures_are_explained(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    struct kx_kext *b = mk(r, "com.example.B", "1.0", "1.0", "com.example.X", "1.0", NULL);
    struct kx_kext *a = mk(r, "com.example.A", "1.0", NULL, "com.example.B", "1.0", NULL);
    struct kx_kext_resolution *res = fx_resolve(r, a);
    expect(res, KX_D_INDIRECT, "com.example.B", NULL);
    assert_true(fx_has(kx_kext_resolution_diags(res), KX_D_NO_KEXTS_FOUND, "com.example.X", NULL));
    int found = 0; /* the copied failure names B's bundle */
    const struct kx_diags *d = kx_kext_resolution_diags(res);
    for (size_t i = 0; i < d->n_items; i++)
        found |= d->items[i].code == KX_D_NO_KEXTS_FOUND && d->items[i].file &&
                 strcmp(d->items[i].file, kx_kext_path(b)) == 0;
    assert_true(found);
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_invalid_copies_are_skipped_then_reported(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    struct kx_kext *good = mk(r, "com.example.Lib", "1.0", "1.0", NULL);
    /* A higher copy that is invalid: a library whose libraries are garbage. */
    struct kx_kext *bad = mk(r, "com.example.Lib", "2.0", "1.0", "com.example.Y", "x.y", NULL);
    assert_false(kx_kext_is_valid(bad));
    struct kx_kext *a = mk(r, "com.example.A", "1.0", NULL, "com.example.Lib", "1.0", NULL);
    struct kx_kext_resolution *res = fx_resolve(r, a);
    const struct kx_kext_dep *d = fx_dep(res, "com.example.A", "com.example.Lib");
    assert_ptr_equal(d->chosen, good);
    assert_int_equal(fx_candidate(d, "Lib-2.0.kext")->verdict, KX_CAND_INVALID);
    assert_true(kx_kext_resolution_is_loadable(res));
    kx_kext_resolution_free(res);

    struct kx_kext *only_bad = mk(r, "com.example.Solo", "1.0", "1.0", "com.example.Y", "x.y", NULL);
    (void)only_bad;
    struct kx_kext *c = mk(r, "com.example.C", "1.0", NULL, "com.example.Solo", "1.0", NULL);
    res = fx_resolve(r, c);
    expect(res, KX_D_DEPS_INVALID, "com.example.Solo", NULL);
    assert_int_equal(fx_order_index(res, "com.example.Solo"), 0);
    kx_kext_resolution_free(res);
    kx_kext_repo_free(r);
}

static void test_resolve_all_decides_every_kext(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL);
    struct kx_kext *base = mk(r, "base", "1.0", "1.0", NULL);
    struct kx_kext *mid = mk(r, "mid", "1.0", "1.0", "base", "1.0", NULL);
    struct kx_kext *broken = mk(r, "broken", "1.0", "1.0", "missing", "1.0", NULL);
    struct kx_kext *above = mk(r, "above", "1.0", NULL, "mid", "1.0", "broken", "1.0", NULL);
    struct kx_kext *c1 = mk(r, "c1", "1.0", "1.0", "c2", "1.0", NULL);
    struct kx_kext *c2 = mk(r, "c2", "1.0", "1.0", "c1", "1.0", NULL);
    struct kx_kext *on_cycle = mk(r, "oncycle", "1.0", NULL, "c1", "1.0", NULL);
    size_t n = 0;
    assert_int_equal(kx_kext_repo_resolve_all(r, &n), STATUS_SUCCESS);
    assert_true(kx_kext_repo_resolvable(r, base));
    assert_true(kx_kext_repo_resolvable(r, mid));
    assert_false(kx_kext_repo_resolvable(r, broken));
    assert_false(kx_kext_repo_resolvable(r, above));
    assert_false(kx_kext_repo_resolvable(r, c1));
    assert_false(kx_kext_repo_resolvable(r, c2));
    assert_false(kx_kext_repo_resolvable(r, on_cycle));
    /* everything else in the repository is kx's own pseudo-kexts, which resolve */
    assert_int_equal(n, kx_kext_repo_count(r) - 5);
    mk(r, "missing", "1.0", "1.0", NULL); /* a change invalidates the answers */
    assert_false(kx_kext_repo_resolvable(r, base));
    assert_int_equal(kx_kext_repo_resolve_all(r, &n), STATUS_SUCCESS);
    assert_true(kx_kext_repo_resolvable(r, above));
    kx_kext_repo_free(r);
}

static void test_ownership_is_checked(void **state)
{
    (void)state;
    struct kx_kext_repo *r = fx_repo(0, NULL), *other = fx_repo(0, NULL);
    struct kx_kext *k = mk(r, "com.example.K", "1.0", NULL, NULL);
    struct kx_kext_resolution *res = NULL;
    assert_int_equal(kx_kext_resolve(other, k, &res), STATUS_INVALID_PARAMETER);
    assert_null(res);
    assert_int_equal(kx_kext_repo_adopt(other, k), STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_kext_repo_set_loaded(other, k, 1), STATUS_INVALID_PARAMETER);
    kx_kext_repo_free(other);
    kx_kext_repo_free(r);
}

static void test_same_bundle_added_twice_is_one_kext(void **state)
{
    (void)state;
    char *dir = fx_tmpdir();
    char *b = fx_kext(dir, "Once", fx_info("com.example.Once", "1.0", NULL));
    char *dangling = fx_join(dir, "Gone.kext"), *plain = fx_join(dir, "File.kext");
    assert_int_equal(symlink("nowhere", dangling), 0);
    fx_write_str(plain, "not a folder"); /* silently not a bundle */
    struct kx_kext_repo *r = fx_repo(0, NULL);
    assert_int_equal(kx_kext_repo_add_folder(r, dir), STATUS_SUCCESS);
    assert_true(fx_has(kx_kext_repo_diags(r), KX_D_BUNDLE_OPEN, "Gone.kext", NULL));
    assert_false(fx_has(kx_kext_repo_diags(r), KX_D_BUNDLE_OPEN, "File.kext", NULL));
    free(dangling);
    free(plain);
    size_t n = kx_kext_repo_count(r);
    struct kx_kext *k = fx_add(r, b);
    char *alias = NULL;
    assert_true(asprintf(&alias, "%s/../%s/Once.kext/", dir, strrchr(dir, '/') + 1) > 0);
    assert_ptr_equal(fx_add(r, alias), k);
    assert_int_equal(kx_kext_repo_count(r), n);
    assert_false(fx_has(kx_kext_repo_diags(r), KX_D_DUPLICATE_ID, NULL, NULL));
    assert_int_equal(kx_kext_repo_add_folder(r, "/nonexistent/kx"), STATUS_NO_SUCH_FILE);
    kx_kext_repo_free(r);
    free(alias);
    free(b);
    fx_rmrf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_enforces_both_bounds),
        cmocka_unit_test(test_highest_compatible_version_wins),
        cmocka_unit_test(test_equal_versions_most_recently_added_wins),
        cmocka_unit_test(test_loaded_copy_always_wins),
        cmocka_unit_test(test_missing_and_non_library_candidates),
        cmocka_unit_test(test_two_copies_in_one_graph),
        cmocka_unit_test(test_cycles_print_their_path),
        cmocka_unit_test(test_load_order_is_topological_and_deterministic),
        cmocka_unit_test(test_indirect_failures_are_explained),
        cmocka_unit_test(test_invalid_copies_are_skipped_then_reported),
        cmocka_unit_test(test_resolve_all_decides_every_kext),
        cmocka_unit_test(test_ownership_is_checked),
        cmocka_unit_test(test_same_bundle_added_twice_is_one_kext),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
