/* test_io_lent_buffer.c — a READ that lends its own output buffer
 * (kx_io_req.out_buf): the driver writes straight into it, the completion is
 * shown it, and it is given back exactly once, only when the IRP's record is
 * freed — after a late driver has let go too — and never when the submission
 * is refused. */
#include "tdrv.h"

static int setup(void **state)
{
    (void)state;
    tdrv_reset();
    return 0;
}

/* What a lent READ's completion and its release saw, in order. */
struct lent {
    atomic_int n_done, n_released;
    atomic_int released_before_done;
    kx_status status;
    size_t info;
    const void *out;
};

static void lent_done(void *arg, kx_status st, size_t info, const void *out)
{
    struct lent *l = arg;
    l->status = st;
    l->info = info;
    l->out = out;
    if (atomic_load(&l->n_released))
        atomic_store(&l->released_before_done, 1);
    atomic_fetch_add(&l->n_done, 1);
}

static void lent_release(void *arg)
{
    struct lent *l = arg;
    atomic_fetch_add(&l->n_released, 1);
}

static kx_status fill_hello(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    memcpy(irp->SystemBuffer, "hello", 5);
    return DkCompleteRequest(irp, STATUS_SUCCESS, 5);
}

static void test_the_driver_writes_into_the_lent_buffer(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Lend");
    t->mj[IRP_MJ_READ] = fill_hello;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Lend", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    char mine[4096];
    memset(mine, 'x', sizeof mine);
    struct lent l = {0};
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out_len = sizeof mine, .done_view = lent_done,
                           .arg = &l, .out_buf = mine, .out_release = lent_release,
                           .out_release_arg = &l};
    assert_int_equal(kx_io_submit(io, h, &rd, 1), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&l.n_released) == 1);
    assert_int_equal(atomic_load(&l.n_done), 1);
    assert_int_equal(atomic_load(&l.n_released), 1);
    assert_false(atomic_load(&l.released_before_done));
    assert_int_equal(l.status, STATUS_SUCCESS);
    assert_int_equal(l.info, 5);
    assert_ptr_equal(l.out, mine); /* shown in place: no copy */
    assert_memory_equal(mine, "hellox", 6); /* the rest untouched, not cleared */
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    kx_io_free(io);
    tdrv_no_failures(t);
}

static void test_a_late_driver_holds_the_lent_buffer_past_the_deadline(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("LendLate");
    t->mj[IRP_MJ_READ] = tdrv_pend;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/LendLate", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    char mine[256] = "";
    struct lent l = {0};
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out_len = sizeof mine, .timeout_ms = 50,
                           .done_view = lent_done, .arg = &l, .out_buf = mine,
                           .out_release = lent_release, .out_release_arg = &l};
    assert_int_equal(kx_io_submit(io, h, &rd, 1), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&l.n_done) == 1);
    assert_int_equal(l.status, STATUS_TIMEOUT);
    assert_null(l.out);
    assert_true(tdrv_wait(t, tdrv_n_held));
    t_sleep_ms(20);
    assert_int_equal(atomic_load(&l.n_released), 0); /* the driver still has it */
    PIRP irp = tdrv_take(t);
    memcpy(irp->SystemBuffer, "late", 4); /* still the lent buffer, still allowed */
    assert_int_equal(DkCompleteRequest(irp, STATUS_SUCCESS, 4), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&l.n_released) == 1);
    t_sleep_ms(20);
    assert_int_equal(atomic_load(&l.n_released), 1);
    assert_int_equal(atomic_load(&l.n_done), 1);
    assert_memory_equal(mine, "late", 4);
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    kx_io_free(io);
}

static void test_a_cancelled_lent_read_gives_its_buffer_back_once(void **state)
{
    (void)state;
    /* close waits this long for the driver to let go of what it cancels */
    struct kx_io *io = t_io_new_short(NULL, (struct t_short){0, 100, 0});
    struct tdrv *t = tdrv_new("LendCancel");
    t->mj[IRP_MJ_READ] = tdrv_pend;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/LendCancel", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    char mine[128];
    struct lent l = {0};
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out_len = sizeof mine,
                           .timeout_ms = KX_IO_TIMEOUT_NONE, .done_view = lent_done, .arg = &l,
                           .out_buf = mine, .out_release = lent_release, .out_release_arg = &l};
    assert_int_equal(kx_io_submit(io, h, &rd, 1), STATUS_SUCCESS);
    assert_true(tdrv_wait(t, tdrv_n_held));
    /* Closing the handle answers it (the driver has no cancel routine), but
     * the driver still holds the IRP, and with it the buffer. */
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&l.n_done) == 1);
    assert_int_equal(l.status, STATUS_CANCELLED);
    t_sleep_ms(20);
    assert_int_equal(atomic_load(&l.n_released), 0);
    PIRP irp = tdrv_take(t);
    assert_non_null(irp);
    assert_int_equal(DkCompleteRequest(irp, STATUS_SUCCESS, 8), STATUS_SUCCESS); /* absorbed */
    T_WAIT_FOR(atomic_load(&l.n_released) == 1);
    assert_int_equal(atomic_load(&l.n_done), 1);
    assert_false(atomic_load(&l.released_before_done));
    kx_io_free(io);
    assert_int_equal(atomic_load(&l.n_released), 1);
}

static void test_a_refused_lent_read_keeps_its_buffer(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("LendNot");
    t->mj[IRP_MJ_READ] = fill_hello;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/LendNot", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    char mine[64];
    struct lent l = {0};
    struct kx_io_req bad[] = {
        /* no done_view */
        {.op = KX_IO_OP_READ, .out = mine, .out_len = 64, .done = NULL, .arg = &l,
         .out_buf = mine, .out_release = lent_release, .out_release_arg = &l},
        /* no release */
        {.op = KX_IO_OP_READ, .out_len = 64, .done_view = lent_done, .arg = &l, .out_buf = mine},
        /* not a READ */
        {.op = KX_IO_OP_DEVICE_CONTROL, .code = 0x222000, .out_len = 64, .done_view = lent_done,
         .arg = &l, .out_buf = mine, .out_release = lent_release, .out_release_arg = &l},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kx_io_submit(io, h, &bad[i], 1), STATUS_INVALID_PARAMETER);
    /* A good lent READ in a batch another request spoils: nothing runs. */
    struct kx_io_req batch[2] = {
        {.op = KX_IO_OP_READ, .out_len = 64, .done_view = lent_done, .arg = &l, .out_buf = mine,
         .out_release = lent_release, .out_release_arg = &l},
        {.op = KX_IO_OP_WRITE, .in = "x", .in_len = 1, .done = NULL},
    };
    assert_int_equal(kx_io_submit(io, h, batch, 2), STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_io_submit(io, h + 77, batch, 1), STATUS_INVALID_HANDLE);
    t_sleep_ms(20);
    assert_int_equal(atomic_load(&l.n_done), 0);
    assert_int_equal(atomic_load(&l.n_released), 0);
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    kx_io_free(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_the_driver_writes_into_the_lent_buffer, setup),
        cmocka_unit_test_setup(test_a_late_driver_holds_the_lent_buffer_past_the_deadline, setup),
        cmocka_unit_test_setup(test_a_cancelled_lent_read_gives_its_buffer_back_once, setup),
        cmocka_unit_test_setup(test_a_refused_lent_read_keeps_its_buffer, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
