/* test_msg.c — wire messages round-trip, and every malformed header or
 * payload is rejected instead of read past its end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proto/msg.h"
#include <stdlib.h>
#include <string.h>

static void test_fields_round_trip(void **state)
{
    (void)state;
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_WRITE, 42);
    kx_msg_put_u32(&b, 7);
    kx_msg_put_u64(&b, 0x1122334455667788ULL);
    kx_msg_put_i32(&b, -5);
    kx_msg_put_str(&b, "/dev/null");
    kx_msg_put_bytes(&b, "\0\1\2", 3);
    assert_int_equal(kx_msg_finish(&b), STATUS_SUCCESS);

    struct kx_msg_hdr h;
    const char *why;
    assert_int_equal(kx_msg_hdr_decode(b.buf, &h, &why), STATUS_SUCCESS);
    assert_int_equal(h.type, KX_MSG_WRITE);
    assert_int_equal(h.req_id, 42);
    assert_int_equal(h.len, b.len - KX_MSG_HDR_LEN);

    struct kx_msg_reader r;
    kx_msg_reader_init(&r, b.buf + KX_MSG_HDR_LEN, h.len);
    assert_int_equal(kx_msg_get_u32(&r), 7);
    assert_true(kx_msg_get_u64(&r) == 0x1122334455667788ULL);
    assert_int_equal(kx_msg_get_i32(&r), -5);
    char *s = kx_msg_get_str(&r, 64);
    assert_string_equal(s, "/dev/null");
    free(s);
    size_t n;
    const char *bytes = kx_msg_get_bytes(&r, &n);
    assert_int_equal(n, 3);
    assert_memory_equal(bytes, "\0\1\2", 3);
    assert_int_equal(kx_msg_reader_done(&r), STATUS_SUCCESS);
    kx_msg_builder_free(&b);
}

static void test_bad_headers_are_rejected(void **state)
{
    (void)state;
    struct kx_msg_hdr ok = {KX_MSG_MAGIC, KX_MSG_VERSION, KX_MSG_OPEN, 0, 1, 0};
    struct kx_msg_hdr bad[] = {ok, ok, ok, ok};
    bad[0].magic = 0xdeadbeef;
    bad[1].version = KX_MSG_VERSION + 1;
    bad[2].type = 0xFFFF;
    bad[3].len = KX_MSG_MAX + 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t raw[KX_MSG_HDR_LEN];
        struct kx_msg_hdr h;
        const char *why = NULL;
        kx_msg_hdr_encode(&bad[i], raw);
        assert_int_equal(kx_msg_hdr_decode(raw, &h, &why), STATUS_PROTOCOL_ERROR);
        assert_non_null(why);
    }
}

static void test_truncated_payloads_fail_without_overrun(void **state)
{
    (void)state;
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_OPEN, 1);
    kx_msg_put_str(&b, "/dev/zero");
    kx_msg_put_u32(&b, 3);
    assert_int_equal(kx_msg_finish(&b), STATUS_SUCCESS);
    size_t full = b.len - KX_MSG_HDR_LEN;
    for (size_t cut = 0; cut < full; cut++) {
        /* a heap copy of exactly `cut` bytes lets ASan catch any overread */
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, b.buf + KX_MSG_HDR_LEN, cut);
        struct kx_msg_reader r;
        kx_msg_reader_init(&r, p, cut);
        char *s = kx_msg_get_str(&r, 64);
        (void)kx_msg_get_u32(&r);
        assert_int_equal(kx_msg_reader_done(&r), STATUS_PROTOCOL_ERROR);
        free(s);
        free(p);
    }
    kx_msg_builder_free(&b);
}

static void test_strings_with_nul_or_too_long_fail(void **state)
{
    (void)state;
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_OPEN, 1);
    kx_msg_put_bytes(&b, "a\0b", 3);
    kx_msg_put_str(&b, "0123456789");
    assert_int_equal(kx_msg_finish(&b), STATUS_SUCCESS);
    struct kx_msg_reader r;
    kx_msg_reader_init(&r, b.buf + KX_MSG_HDR_LEN, b.len - KX_MSG_HDR_LEN);
    assert_null(kx_msg_get_str(&r, 64));
    assert_true(r.failed);
    kx_msg_reader_init(&r, b.buf + KX_MSG_HDR_LEN, b.len - KX_MSG_HDR_LEN);
    size_t n;
    kx_msg_get_bytes(&r, &n);
    assert_null(kx_msg_get_str(&r, 5));
    kx_msg_builder_free(&b);
}

static void test_trailing_bytes_are_an_error(void **state)
{
    (void)state;
    uint8_t payload[8] = {1, 0, 0, 0, 9, 9, 9, 9};
    struct kx_msg_reader r;
    kx_msg_reader_init(&r, payload, sizeof payload);
    assert_int_equal(kx_msg_get_u32(&r), 1);
    assert_int_equal(kx_msg_reader_done(&r), STATUS_PROTOCOL_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_round_trip),
        cmocka_unit_test(test_bad_headers_are_rejected),
        cmocka_unit_test(test_truncated_payloads_fail_without_overrun),
        cmocka_unit_test(test_strings_with_nul_or_too_long_fail),
        cmocka_unit_test(test_trailing_bytes_are_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
