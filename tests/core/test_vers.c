/* test_vers.c — the 'vers' grammar against the vectors of research §1.3/§1.4,
 * which came from running xnu's own parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <kx/vers.h>
#include <string.h>

struct valid_case {
    const char *in, *canonical;
};

static void test_valid_inputs_have_canonical_forms(void **state)
{
    (void)state;
    static const struct valid_case cases[] = {
        {"1", "1.0"}, {"1.0", "1.0"}, {"1.0.0", "1.0"}, {"01.00", "1.0"}, {"0", "0.0"},
        {"1.", "1.0"}, {"1..", "1.0"}, {"1..2", "1.0.2"}, {"1.2.", "1.2"},
        {"1.2.3456.", "1.2.3456"}, {"9999", "9999.0"}, {"9999.9999.9999", "9999.9999.9999"},
        {"1234.5678.9012b255", "1234.5678.9012b255"}, {"1.0d1", "1.0d1"}, {"1.0d0", "1.0d0"},
        {"1.0a1", "1.0a1"}, {"1.0b1", "1.0b1"}, {"1.0f1", "1.0f1"}, {"1.0fc1", "1.0f1"},
        {"1.0b255", "1.0b255"}, {"1.0b001", "1.0b1"}, {"1d1", "1.0d1"}, {"1234b1", "1234.0b1"},
        {"1.2.3b4", "1.2.3b4"}, {"1.0 junk", "1.0"}, {"1.0\t", "1.0"}, {"1.0\n", "1.0"},
        {"1.0b1 x", "1.0b1"}, {"1.0 b1", "1.0"}, {"2.0.0a1", "2.0a1"},
        {"1.0 (build 12345678)", "1.0"}, /* over 20 chars: valid, there is no length limit */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[KX_VERS_FORMAT_MAX];
        kx_vers v = kx_vers_parse(cases[i].in);
        if (v == KX_VERS_INVALID)
            fail_msg("'%s' should be valid", cases[i].in);
        assert_string_equal(kx_vers_format(v, buf, sizeof buf), cases[i].canonical);
        /* the canonical form parses back to the same value */
        assert_true(kx_vers_parse(buf) == v);
    }
}

static void test_invalid_inputs_are_rejected(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "", "10000", "12345", "1.23456", "1.0.12345", "1.2.3.4", "1.2.3.", "1...",
        "1.2.3456.7", "1.0.0.0", "1.0fc0", "1.0f0", "1.0b256", "1.0b1000", "1.0d", "1.0a",
        "1b", "1.0fc", "1.0fcx", "1.0ffc1", "1.0c1", "1.0r1", "1.0B1", "1.0.0-beta", "1,0",
        "1234x", " 1.0", "v1.0", "1.0b1x", "1.0b1.2",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (kx_vers_parse(cases[i]) != KX_VERS_INVALID)
            fail_msg("'%s' should be invalid", cases[i]);
    assert_true(kx_vers_parse(NULL) == KX_VERS_INVALID);
}

static int cmp(const char *a, const char *b)
{
    kx_vers va = kx_vers_parse(a), vb = kx_vers_parse(b);
    assert_true(va != KX_VERS_INVALID);
    assert_true(vb != KX_VERS_INVALID);
    return kx_vers_compare(va, vb);
}

static void test_ordering_follows_the_encoding(void **state)
{
    (void)state;
    static const char *const less[][2] = {
        {"1.0d1", "1.0a1"}, {"1.0a9", "1.0b1"}, {"1.0b255", "1.0fc1"}, {"1.0fc9", "1.0"},
        {"1.0.1d1", "1.0.1"}, {"1.0.1", "1.1"}, {"1.9", "1.10"}, {"1.9.9999", "1.10"},
        {"1.9999.9999", "2.0d0"}, {"0.0.0d0", "0.0.0d1"}, {"1.0.0b9", "1.0.0b10"},
        {"9.9999", "10.0"}, {"1.2.3", "1.2.30"}, {"1.0d255", "1.0b1"}, {"8.0.0b1", "8.0.0"},
        {"7.0", "24.0.0"},
    };
    for (size_t i = 0; i < sizeof less / sizeof less[0]; i++) {
        if (cmp(less[i][0], less[i][1]) != -1)
            fail_msg("expected %s < %s", less[i][0], less[i][1]);
        if (cmp(less[i][1], less[i][0]) != 1)
            fail_msg("expected %s > %s", less[i][1], less[i][0]);
    }
    assert_int_equal(cmp("1.0f1", "1.0fc1"), 0);
    assert_int_equal(cmp("1.0", "1.0.0"), 0);
    assert_int_equal(cmp("1.0", "1.00"), 0);
}

static void test_format_marks_impossible_values(void **state)
{
    (void)state;
    char buf[KX_VERS_FORMAT_MAX];
    assert_string_equal(kx_vers_format(KX_VERS_INVALID, buf, sizeof buf), "(invalid)");
    assert_string_equal(kx_vers_format(0, buf, sizeof buf), "(missing)");
    /* stage digit 2 is not a stage */
    assert_string_equal(kx_vers_format(1000000000000LL + 2000, buf, sizeof buf), "(invalid)");
    /* a small buffer is truncated, never overrun */
    char tiny[4];
    kx_vers_format(kx_vers_parse("1234.5678"), tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_inputs_have_canonical_forms),
        cmocka_unit_test(test_invalid_inputs_are_rejected),
        cmocka_unit_test(test_ordering_follows_the_encoding),
        cmocka_unit_test(test_format_marks_impossible_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
