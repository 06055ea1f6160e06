/* test_boot_modes.c — boot mode names, which OSBundleRequired values each mode's
 * booter chooses, what each cache filter holds, and the default cache path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <kx/boot.h>

#include <stdlib.h>
#include <string.h>

static const char *const values[] = {
    "Root", "Local-Root", "Network-Root", "Console", "Safe Boot", "DriverKit", NULL};
#define N_VALUES (sizeof values / sizeof values[0])

static void test_mode_names_parse_and_print(void **state)
{
    (void)state;
    static const char *const names[] = {"local", "network", "single-user", "safe"};
    enum kx_boot_mode m;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(kx_boot_mode_parse(names[i], &m), STATUS_SUCCESS);
        assert_int_equal(m, (enum kx_boot_mode)i);
        assert_string_equal(kx_boot_mode_name(m), names[i]);
    }
    assert_int_equal(kx_boot_mode_parse("Single-User", &m), STATUS_SUCCESS);
    assert_int_equal(m, KX_BOOT_SINGLE_USER);
    assert_int_equal(kx_boot_mode_parse("singleuser", &m), STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_boot_mode_parse("", &m), STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_boot_mode_parse(NULL, &m), STATUS_INVALID_PARAMETER);
    assert_string_equal(kx_boot_mode_name((enum kx_boot_mode)42), "unknown");
}

/* The seed's booter rules: local and single-user load Root, Local-Root and
 * Console; network Root, Network-Root and Console; safe boot's booter is a
 * local one. Nothing without the key, nothing Safe Boot, nothing DriverKit. */
static void test_mode_chooses_every_required_value(void **state)
{
    (void)state;
    static const int expect[4][N_VALUES] = {
        /*            Root LR NR Con SB DK none */
        [KX_BOOT_LOCAL] = {1, 1, 0, 1, 0, 0, 0},
        [KX_BOOT_NETWORK] = {1, 0, 1, 1, 0, 0, 0},
        [KX_BOOT_SINGLE_USER] = {1, 1, 0, 1, 0, 0, 0},
        [KX_BOOT_SAFE] = {1, 1, 0, 1, 0, 0, 0},
    };
    for (int m = 0; m < 4; m++)
        for (size_t v = 0; v < N_VALUES; v++)
            if (kx_boot_mode_chooses((enum kx_boot_mode)m, values[v]) != expect[m][v])
                fail_msg("mode %s, OSBundleRequired %s: expected %d",
                         kx_boot_mode_name((enum kx_boot_mode)m), values[v] ? values[v] : "(none)",
                         expect[m][v]);
}

/* kextcache's filters, each ORing in Root, Console and DriverKit (research §4.2). */
static void test_cache_filters_hold_what_kextcache_does(void **state)
{
    (void)state;
    static const int expect[4][N_VALUES] = {
        /*             Root LR NR Con SB DK none */
        [KX_CACHE_ALL] = {1, 1, 1, 1, 1, 1, 1},
        [KX_CACHE_LOCAL] = {1, 1, 0, 1, 0, 1, 0},
        [KX_CACHE_NETWORK] = {1, 0, 1, 1, 0, 1, 0},
        [KX_CACHE_SAFE] = {1, 0, 0, 1, 1, 1, 0},
    };
    static const char *const names[] = {"all", "local", "network", "safe"};
    for (int f = 0; f < 4; f++) {
        assert_string_equal(kx_cache_filter_name((enum kx_cache_filter)f), names[f]);
        for (size_t v = 0; v < N_VALUES; v++)
            if (kx_cache_filter_includes((enum kx_cache_filter)f, values[v]) != expect[f][v])
                fail_msg("filter %s, OSBundleRequired %s: expected %d", names[f],
                         values[v] ? values[v] : "(none)", expect[f][v]);
    }
}

static void test_default_cache_path_is_beside_the_folder(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"build/extensions", "build/extensions.mkext"},
        {"build/extensions/", "build/extensions.mkext"},
        {"/System/Library/Extensions//", "/System/Library/Extensions.mkext"},
        {"ext", "ext.mkext"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = kx_cache_default_path(cases[i][0]);
        assert_non_null(p);
        assert_string_equal(p, cases[i][1]);
        free(p);
    }
}

static void test_verdict_names_are_stable(void **state)
{
    (void)state;
    static const char *const names[] = {"usable",       "ignored",     "missing",
                                        "unreadable",   "corrupt",     "foreign",
                                        "wrong-filter", "stale-mtime", "stale-content"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(kx_cache_verdict_name((enum kx_cache_verdict)i), names[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_names_parse_and_print),
        cmocka_unit_test(test_mode_chooses_every_required_value),
        cmocka_unit_test(test_cache_filters_hold_what_kextcache_does),
        cmocka_unit_test(test_default_cache_path_is_beside_the_folder),
        cmocka_unit_test(test_verdict_names_are_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
