/* test_kxd_batch.c — kx_client_submit: many reads, writes and ioctls sent
 * at once and every answer reaped, whatever order kxd completes them in;
 * each request's status is its own; a batch over the limits is refused
 * before anything is sent and leaves the connection usable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include "../../drivers/Pipe/pipe.h"
#include "../../drivers/RamDisk/ramdisk.h"

#include <stdlib.h>
#include <string.h>

#define SECTORS 32

static void test_a_batch_writes_and_reads_back_every_sector(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/ram0", KX_ACCESS_READ | KX_ACCESS_WRITE, &h),
                     STATUS_SUCCESS);
    static unsigned char out[SECTORS][RAMDISK_SECTOR_SIZE], in[SECTORS][RAMDISK_SECTOR_SIZE];
    struct kx_client_io ios[SECTORS + 1];
    memset(ios, 0, sizeof ios);
    for (int i = 0; i < SECTORS; i++) {
        memset(out[i], 'a' + i % 26, sizeof out[i]);
        out[i][0] = (unsigned char)i;
        ios[i] = (struct kx_client_io){.op = KX_CLIENT_OP_WRITE,
                                       .handle = h,
                                       .offset = (uint64_t)(2 * i + 1) * RAMDISK_SECTOR_SIZE,
                                       .in = out[i],
                                       .in_len = sizeof out[i]};
    }
    assert_int_equal(kx_client_submit(c, ios, SECTORS), STATUS_SUCCESS);
    for (int i = 0; i < SECTORS; i++) {
        assert_int_equal(ios[i].status, STATUS_SUCCESS);
        assert_int_equal(ios[i].information, RAMDISK_SECTOR_SIZE);
    }

    struct ramdisk_geometry g = {0};
    for (int i = 0; i < SECTORS; i++)
        ios[i] = (struct kx_client_io){.op = KX_CLIENT_OP_READ,
                                       .handle = h,
                                       .offset = (uint64_t)(2 * i + 1) * RAMDISK_SECTOR_SIZE,
                                       .out = in[i],
                                       .out_len = sizeof in[i]};
    ios[SECTORS] = (struct kx_client_io){.op = KX_CLIENT_OP_IOCTL,
                                         .handle = h,
                                         .code = IOCTL_RAMDISK_GET_GEOMETRY,
                                         .out = &g,
                                         .out_len = sizeof g};
    assert_int_equal(kx_client_submit(c, ios, SECTORS + 1), STATUS_SUCCESS);
    for (int i = 0; i < SECTORS; i++) {
        assert_int_equal(ios[i].status, STATUS_SUCCESS);
        assert_int_equal(ios[i].got, RAMDISK_SECTOR_SIZE);
        assert_memory_equal(in[i], out[i], RAMDISK_SECTOR_SIZE);
    }
    assert_int_equal(ios[SECTORS].status, STATUS_SUCCESS);
    assert_int_equal(ios[SECTORS].got, sizeof g);
    assert_int_equal(g.bytes_per_sector, RAMDISK_SECTOR_SIZE);
    kx_client_disconnect(c);
}

/* The pipe's read pends until the write after it in the same batch lands:
 * the answers come back in the other order, and both are reaped. */
static void test_answers_are_reaped_in_any_order(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t r, w;
    assert_int_equal(kx_client_open(c, "/dev/pipe0", KX_ACCESS_READ, &r), STATUS_SUCCESS);
    assert_int_equal(kx_client_open(c, "/dev/pipe0", KX_ACCESS_WRITE, &w), STATUS_SUCCESS);
    char got[16] = "";
    struct kx_client_io ios[2] = {
        {.op = KX_CLIENT_OP_READ,
         .handle = r,
         .out = got,
         .out_len = sizeof got,
         .timeout_ms = UINT32_MAX},
        {.op = KX_CLIENT_OP_WRITE, .handle = w, .in = "batch", .in_len = 5},
    };
    assert_int_equal(kx_client_submit(c, ios, 2), STATUS_SUCCESS);
    assert_int_equal(ios[1].status, STATUS_SUCCESS);
    assert_int_equal(ios[1].information, 5);
    assert_int_equal(ios[0].status, STATUS_SUCCESS);
    assert_int_equal(ios[0].got, 5);
    assert_memory_equal(got, "batch", 5);
    kx_client_disconnect(c);
}

static void test_each_request_has_its_own_status(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/ram0", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    char buf[RAMDISK_SECTOR_SIZE];
    struct kx_client_io ios[3] = {
        {.op = KX_CLIENT_OP_READ, .handle = h, .out = buf, .out_len = sizeof buf},
        {.op = KX_CLIENT_OP_READ, .handle = h + 1000, .out = buf, .out_len = sizeof buf},
        {.op = KX_CLIENT_OP_WRITE, .handle = h, .in = buf, .in_len = sizeof buf},
    };
    assert_int_equal(kx_client_submit(c, ios, 3), STATUS_SUCCESS);
    assert_int_equal(ios[0].status, STATUS_SUCCESS);
    assert_int_equal(ios[1].status, STATUS_INVALID_HANDLE);
    assert_int_equal(ios[2].status, STATUS_ACCESS_DENIED); /* opened for reading only */
    kx_client_disconnect(c);
}

static void test_a_batch_over_the_limits_is_refused_whole(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    struct kx_client_io *ios = calloc(KX_CLIENT_BATCH_MAX + 1, sizeof *ios);
    assert_non_null(ios);
    for (int i = 0; i <= KX_CLIENT_BATCH_MAX; i++)
        ios[i] =
            (struct kx_client_io){.op = KX_CLIENT_OP_WRITE, .handle = h, .in = "x", .in_len = 1};
    assert_int_equal(kx_client_submit(c, ios, KX_CLIENT_BATCH_MAX + 1), STATUS_INVALID_PARAMETER);
    ios[0].op = 99;
    assert_int_equal(kx_client_submit(c, ios, 1), STATUS_INVALID_PARAMETER);
    ios[0].op = KX_CLIENT_OP_WRITE;
    /* Nothing was sent: the connection goes on with the full batch. */
    assert_int_equal(kx_client_submit(c, ios, KX_CLIENT_BATCH_MAX), STATUS_SUCCESS);
    for (int i = 0; i < KX_CLIENT_BATCH_MAX; i++)
        assert_int_equal(ios[i].status, STATUS_SUCCESS);
    uint64_t info;
    assert_int_equal(kx_client_write(c, h, 0, "y", 1, 0, &info), STATUS_SUCCESS);
    free(ios);
    kx_client_disconnect(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KXD_TEST(test_a_batch_writes_and_reads_back_every_sector),
        KXD_TEST(test_answers_are_reaped_in_any_order),
        KXD_TEST(test_each_request_has_its_own_status),
        KXD_TEST(test_a_batch_over_the_limits_is_refused_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
