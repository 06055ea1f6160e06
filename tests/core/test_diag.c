/* test_diag.c — diagnostics are collected once, counted and exported. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <kx/diag.h>
#include <jansson.h>
#include <string.h>

static void test_duplicates_are_stored_once(void **state)
{
    (void)state;
    struct kx_diags d = KX_DIAGS_INIT;
    kx_diags_add(&d, KX_D_NO_KEXTS_FOUND, "/x/Foo.kext", "com.example.lib", NULL);
    kx_diags_add(&d, KX_D_NO_KEXTS_FOUND, "/x/Foo.kext", "com.example.lib", NULL);
    kx_diags_add(&d, KX_D_NO_KEXTS_FOUND, "/x/Foo.kext", "com.example.other", NULL);
    kx_diags_add(&d, KX_D_NO_KPI, "/x/Foo.kext", NULL, NULL);
    assert_int_equal(d.n_items, 3);
    assert_int_equal(kx_diags_count(&d, KX_DIAG_DEPENDENCY), 2);
    assert_int_equal(kx_diags_count_errors(&d), 2);
    kx_diags_clear(&d);
}

static void test_json_has_the_stable_fields(void **state)
{
    (void)state;
    struct kx_diags d = KX_DIAGS_INIT;
    kx_diags_add(&d, KX_D_ONLY_INCOMPATIBLE, "/x/Foo.kext", "com.example.lib",
                 "requested %s not in [compatible %s, current %s]", "2.0", "1.0", "1.5");
    json_t *arr = kx_diags_to_json(&d);
    assert_non_null(arr);
    assert_int_equal(json_array_size(arr), 1);
    json_t *o = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(o, "category")), "dependency");
    assert_string_equal(json_string_value(json_object_get(o, "code")),
                        kx_diag_code_string(KX_D_ONLY_INCOMPATIBLE));
    assert_string_equal(json_string_value(json_object_get(o, "message")),
                        "Only incompatible kexts found for these libraries");
    assert_string_equal(json_string_value(json_object_get(o, "subject")), "com.example.lib");
    assert_non_null(strstr(json_string_value(json_object_get(o, "detail")), "[compatible 1.0"));
    json_decref(arr);
    kx_diags_clear(&d);
}

static void test_codes_are_unique(void **state)
{
    (void)state;
    for (int i = 0; i < KX_D_N_CODES; i++)
        for (int j = i + 1; j < KX_D_N_CODES; j++)
            if (strcmp(kx_diag_code_string(i), kx_diag_code_string(j)) == 0)
                fail_msg("code %s used twice", kx_diag_code_string(i));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duplicates_are_stored_once),
        cmocka_unit_test(test_json_has_the_stable_fields),
        cmocka_unit_test(test_codes_are_unique),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
