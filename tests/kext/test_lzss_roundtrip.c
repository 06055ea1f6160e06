/* test_lzss_roundtrip.c — the mkext1 LZSS coder: what it encodes decodes to
 * the same bytes, the decoder never writes past its bound, and it takes any
 * input without crashing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kext/lzss.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A fixed generator, so a failure reproduces. */
static uint32_t next_rand(void)
{
    static uint32_t rng = 12345;
    rng = rng * 1103515245u + 12345u;
    return rng >> 8;
}

static void round_trip(const uint8_t *data, size_t len, size_t *compressed_len)
{
    void *z = NULL;
    size_t zlen = 0;
    assert_int_equal(kx_lzss_compress(data, len, &z, &zlen), STATUS_SUCCESS);
    assert_true(zlen <= len + len / 8 + 2);
    uint8_t *back = malloc(len + 1);
    assert_non_null(back);
    size_t got = 0;
    assert_int_equal(kx_lzss_decompress(back, len, z, zlen, &got), STATUS_SUCCESS);
    assert_int_equal(got, len);
    assert_memory_equal(back, data, len);
    /* one byte short: the decoder stops at its bound */
    if (len) {
        assert_int_equal(kx_lzss_decompress(back, len - 1, z, zlen, &got), STATUS_BUFFER_TOO_SMALL);
        assert_int_equal(got, len - 1);
    }
    if (compressed_len)
        *compressed_len = zlen;
    free(back);
    free(z);
}

static void test_lzss_random_data_round_trips(void **state)
{
    (void)state;
    static const size_t sizes[] = {0,   1,    2,    3,    17,   18,    19,
                                   100, 4077, 4078, 4096, 4097, 10000, 70000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint8_t *d = malloc(sizes[s] + 1);
        assert_non_null(d);
        for (size_t i = 0; i < sizes[s]; i++)
            d[i] = (uint8_t)next_rand();
        round_trip(d, sizes[s], NULL);
        /* few distinct bytes: many short matches at every distance */
        for (size_t i = 0; i < sizes[s]; i++)
            d[i] = (uint8_t)("ab \n"[next_rand() % 4]);
        round_trip(d, sizes[s], NULL);
        free(d);
    }
}

static void test_lzss_compresses_repetitive_data(void **state)
{
    (void)state;
    size_t len = 64 * 1024, zlen = 0;
    uint8_t *d = malloc(len);
    assert_non_null(d);
    memset(d, 0, len);
    round_trip(d, len, &zlen);
    assert_true(zlen < len / 7); /* 18 bytes per 2-byte reference, one flag byte per 8 */

    static const char text[] = "<key>CFBundleIdentifier</key><string>com.example.driver</string>\n";
    for (size_t i = 0; i < len; i++)
        d[i] = (uint8_t)text[i % (sizeof text - 1)];
    round_trip(d, len, &zlen);
    assert_true(zlen < len / 5);

    /* leading spaces match the ring's initial spaces */
    memset(d, ' ', 100);
    round_trip(d, 100, &zlen);
    assert_true(zlen < 20);
    free(d);
}

static void test_lzss_decoder_is_bounded_on_garbage(void **state)
{
    (void)state;
    uint8_t src[600];
    for (int round = 0; round < 3000; round++) {
        size_t len = next_rand() % sizeof src, cap = next_rand() % 512, got = 0;
        for (size_t i = 0; i < len; i++)
            src[i] = (uint8_t)next_rand();
        uint8_t *bounded = malloc(cap ? cap : 1); /* exact size, so ASan sees any overrun */
        assert_non_null(bounded);
        kx_status st = kx_lzss_decompress(bounded, cap, src, len, &got);
        assert_true(st == STATUS_SUCCESS || st == STATUS_BUFFER_TOO_SMALL ||
                    st == STATUS_DATA_ERROR);
        assert_true(got <= cap);
        assert_true(got <= len * KX_LZSS_MAX_RATIO);
        free(bounded);
    }
}

static void test_lzss_truncated_reference_is_data_error(void **state)
{
    (void)state;
    /* flag byte 0: eight references; only one byte of the first follows */
    const uint8_t src[] = {0x00, 0x12};
    uint8_t dst[64];
    size_t got = 99;
    assert_int_equal(kx_lzss_decompress(dst, sizeof dst, src, sizeof src, &got), STATUS_DATA_ERROR);
    assert_int_equal(got, 0);
    /* a reference into the untouched ring reads its spaces */
    const uint8_t spaces[] = {0x00, 0x00, 0x0f};
    assert_int_equal(kx_lzss_decompress(dst, sizeof dst, spaces, sizeof spaces, &got),
                     STATUS_SUCCESS);
    assert_int_equal(got, 18);
    for (size_t i = 0; i < got; i++)
        assert_int_equal(dst[i], ' ');
}

static void test_lzss_worst_case_ratio_holds(void **state)
{
    (void)state;
    /* all references of the longest length: the most output per input byte */
    uint8_t src[17 * 100];
    for (size_t g = 0; g < 100; g++) {
        src[g * 17] = 0;
        for (size_t k = 0; k < 8; k++) {
            src[g * 17 + 1 + 2 * k] = 0;
            src[g * 17 + 2 + 2 * k] = 0x0f;
        }
    }
    size_t cap = sizeof src * KX_LZSS_MAX_RATIO, got = 0;
    uint8_t *dst = malloc(cap);
    assert_non_null(dst);
    assert_int_equal(kx_lzss_decompress(dst, cap, src, sizeof src, &got), STATUS_SUCCESS);
    assert_int_equal(got, 100 * 8 * 18);
    free(dst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lzss_random_data_round_trips),
        cmocka_unit_test(test_lzss_compresses_repetitive_data),
        cmocka_unit_test(test_lzss_decoder_is_bounded_on_garbage),
        cmocka_unit_test(test_lzss_truncated_reference_is_data_error),
        cmocka_unit_test(test_lzss_worst_case_ratio_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
