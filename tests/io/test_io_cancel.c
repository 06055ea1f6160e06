/* test_io_cancel.c — closing a handle the Windows way: its pending IRPs are
 * cancelled (cancel routine, else STATUS_CANCELLED from the manager), then
 * IRP_MJ_CLEANUP, then IRP_MJ_CLOSE once the driver holds nothing of it; and
 * the set-versus-cancel races of DkSetCancelRoutine. */
#include "tdrv.h"

static int setup(void **state)
{
    (void)state;
    tdrv_reset();
    return 0;
}

struct done_count {
    atomic_int n;
    atomic_int status;
};

static void count_done(void *arg, kx_status st, size_t info)
{
    struct done_count *c = arg;
    (void)info;
    atomic_store(&c->status, st);
    atomic_fetch_add(&c->n, 1);
}

static int held_one(struct tdrv *t) { return tdrv_n_held(t) >= 1; }

static void on_cancel(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    tdrv_event(t, "CANCEL");
    PIRP mine = tdrv_take(t);
    TDRV_CHECK(t, mine == irp);
    DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

static kx_status pend_with_routine(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    DkMarkIrpPending(irp);
    tdrv_hold(t, irp);
    if (DkSetCancelRoutine(irp, on_cancel) == STATUS_CANCELLED) {
        tdrv_take(t);
        return DkCompleteRequest(irp, STATUS_CANCELLED, 0);
    }
    return STATUS_PENDING;
}

static void test_close_runs_cancel_routine_then_cleanup_then_close(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Canc");
    t->mj[IRP_MJ_READ] = pend_with_routine;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Canc", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    struct done_count c = {0};
    char buf[4];
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out = buf, .out_len = 4,
                           .timeout_ms = KX_IO_TIMEOUT_NONE, .done = count_done, .arg = &c};
    assert_int_equal(kx_io_submit(io, h, &rd, 1), STATUS_SUCCESS);
    assert_true(tdrv_wait(t, held_one));
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    assert_int_equal(atomic_load(&c.n), 1);
    assert_int_equal(atomic_load(&c.status), STATUS_CANCELLED);
    char ev[256];
    tdrv_events(t, ev, sizeof ev);
    assert_string_equal(ev, "ENTRY,CREATE,CANCEL,CLEANUP,CLOSE");
    /* Requests on the closed handle are refused. */
    assert_int_equal(kx_io_submit(io, h, &rd, 1), STATUS_INVALID_HANDLE);
    kx_io_free(io);
    tdrv_no_failures(t);
}

static void test_close_without_routine_answers_cancelled_and_defers_close(void **state)
{
    (void)state;
    /* The close waits out its deadline for the IRP the driver keeps. */
    struct kx_io *io = t_io_new_short(NULL, (struct t_short){.unload_ms = 300});
    struct tdrv *t = tdrv_new("Hold");
    t->mj[IRP_MJ_READ] = tdrv_pend; /* no cancel routine */
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Hold", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    struct done_count c = {0};
    char buf[4];
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out = buf, .out_len = 4, .done = count_done,
                           .arg = &c};
    assert_int_equal(kx_io_submit(io, h, &rd, 1), STATUS_SUCCESS);
    assert_true(tdrv_wait(t, held_one));
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    assert_int_equal(atomic_load(&c.n), 1);
    assert_int_equal(atomic_load(&c.status), STATUS_CANCELLED);
    char ev[256];
    tdrv_events(t, ev, sizeof ev);
    assert_string_equal(ev, "ENTRY,CREATE,CLEANUP"); /* CLOSE waits for the IRP it holds */
    PIRP irp = tdrv_take(t);
    assert_true(DkIsIrpCancelled(irp));
    assert_int_equal(DkCompleteRequest(irp, STATUS_SUCCESS, 4), STATUS_SUCCESS); /* absorbed */
    T_WAIT_FOR((tdrv_events(t, ev, sizeof ev), strstr(ev, "CLOSE")));
    assert_string_equal(ev, "ENTRY,CREATE,CLEANUP,CLOSE");
    assert_int_equal(atomic_load(&c.n), 1);
    kx_io_free(io);
}

/* Sets its cancel routine only after the close has asked for cancellation. */
static kx_status pend_late(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    DkMarkIrpPending(irp);
    atomic_store(&t->in_routine, 1);
    while (!DkIsIrpCancelled(irp))
        t_sleep_ms(1);
    kx_status st = DkSetCancelRoutine(irp, on_cancel);
    TDRV_CHECK(t, st == STATUS_CANCELLED);
    tdrv_event(t, "LATE");
    atomic_store(&t->in_routine, 0);
    return DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

static void *close_it(void *arg)
{
    void **a = arg;
    kx_io_close(a[0], *(kx_io_handle *)a[1]);
    return NULL;
}

static void test_routine_set_after_cancel_is_refused(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Late");
    t->mj[IRP_MJ_READ] = pend_late;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Late", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    struct done_count c = {0};
    char buf[4];
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out = buf, .out_len = 4, .done = count_done,
                           .arg = &c};
    assert_int_equal(kx_io_submit(io, h, &rd, 1), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&t->in_routine));
    assert_true(atomic_load(&t->in_routine)); /* the close comes after the routine started */
    pthread_t th;
    void *args[2] = {io, &h};
    pthread_create(&th, NULL, close_it, args);
    pthread_join(th, NULL);
    assert_int_equal(atomic_load(&c.n), 1);
    assert_int_equal(atomic_load(&c.status), STATUS_CANCELLED);
    char ev[256];
    tdrv_events(t, ev, sizeof ev);
    assert_string_equal(ev, "ENTRY,CREATE,LATE,CLEANUP,CLOSE");
    kx_io_free(io);
    tdrv_no_failures(t);
}

static void test_deadline_runs_cancel_routine(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Dl");
    t->mj[IRP_MJ_READ] = pend_with_routine;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Dl", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    char buf[4];
    assert_int_equal(kx_io_read(io, h, buf, 4, 0, 40, NULL), STATUS_TIMEOUT);
    /* The driver was told to drop it, so it no longer holds it. */
    T_WAIT_FOR(tdrv_n_held(t) == 0);
    assert_int_equal(tdrv_n_held(t), 0);
    char ev[256];
    tdrv_events(t, ev, sizeof ev);
    assert_string_equal(ev, "ENTRY,CREATE,CANCEL");
    kx_io_close(io, h);
    kx_io_free(io);
    tdrv_no_failures(t);
}

static void test_clearing_routine_tells_who_owns_the_irp(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Own");
    t->mj[IRP_MJ_READ] = pend_with_routine;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Own", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    struct done_count c = {0};
    char buf[4];
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out = buf, .out_len = 4, .done = count_done,
                           .arg = &c};
    assert_int_equal(kx_io_submit(io, h, &rd, 1), STATUS_SUCCESS);
    assert_true(tdrv_wait(t, held_one));
    PIRP irp = tdrv_take(t);
    /* Not cancelled: clearing succeeds and the driver completes it. */
    assert_int_equal(DkSetCancelRoutine(irp, NULL), STATUS_SUCCESS);
    assert_false(DkIsIrpCancelled(irp));
    memcpy(irp->SystemBuffer, "done", 4);
    assert_int_equal(DkCompleteRequest(irp, STATUS_SUCCESS, 4), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&c.n));
    assert_int_equal(atomic_load(&c.n), 1);
    assert_int_equal(atomic_load(&c.status), STATUS_SUCCESS);
    assert_memory_equal(buf, "done", 4);
    kx_io_close(io, h);
    kx_io_free(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_close_runs_cancel_routine_then_cleanup_then_close, setup),
        cmocka_unit_test_setup(test_close_without_routine_answers_cancelled_and_defers_close,
                               setup),
        cmocka_unit_test_setup(test_routine_set_after_cancel_is_refused, setup),
        cmocka_unit_test_setup(test_deadline_runs_cancel_routine, setup),
        cmocka_unit_test_setup(test_clearing_routine_tells_who_owns_the_irp, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
