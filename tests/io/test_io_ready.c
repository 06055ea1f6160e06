/* test_io_ready.c — what a file front end needs from the I/O manager:
 * readiness (DkSetDeviceReady, kx_io_ready, watchers), declared control
 * codes (DkSetDeviceControlCodes, kx_io_device_info) and cancelling one
 * caller's requests (kx_io_cancel). */
#include "tdrv.h"

#include <errno.h>

static int setup(void **state)
{
    (void)state;
    tdrv_reset();
    return 0;
}

struct watch {
    pthread_mutex_t lock;
    int calls;
    char device[KX_IO_NAME_MAX];
    uint32_t events;
};

static void on_ready(void *arg, const char *device, uint32_t events)
{
    struct watch *w = arg;
    pthread_mutex_lock(&w->lock);
    w->calls++;
    snprintf(w->device, sizeof w->device, "%s", device);
    w->events = events;
    pthread_mutex_unlock(&w->lock);
}

static kx_io_handle open_dev(struct kx_io *io, const char *path)
{
    kx_io_handle h = 0;
    assert_int_equal(kx_io_open(io, path, &t_user, KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE, 0, &h),
                     STATUS_SUCCESS);
    return h;
}

static void test_device_is_ready_until_its_driver_says_otherwise(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Rdy");
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h = open_dev(io, "/dev/Rdy");
    uint32_t ev = 0;
    assert_int_equal(kx_io_ready(io, h, &ev), STATUS_SUCCESS);
    assert_int_equal(ev, KX_IO_READY_READ | KX_IO_READY_WRITE);

    struct watch w = {PTHREAD_MUTEX_INITIALIZER, 0, "", 0};
    assert_int_equal(kx_io_watch_ready(io, on_ready, &w, 1), STATUS_SUCCESS);
    assert_int_equal(DkSetDeviceReady(t->devobj, DEVICE_READY_WRITE), STATUS_SUCCESS);
    assert_int_equal(kx_io_ready(io, h, &ev), STATUS_SUCCESS);
    assert_int_equal(ev, KX_IO_READY_WRITE);
    assert_int_equal(w.calls, 1);
    assert_string_equal(w.device, "\\Device\\Rdy0");
    assert_int_equal(w.events, KX_IO_READY_WRITE);
    /* The same answer again tells nobody; a change does. */
    assert_int_equal(DkSetDeviceReady(t->devobj, DEVICE_READY_WRITE), STATUS_SUCCESS);
    assert_int_equal(w.calls, 1);
    assert_int_equal(DkSetDeviceReady(t->devobj, 0), STATUS_SUCCESS);
    assert_int_equal(kx_io_ready(io, h, &ev), STATUS_SUCCESS);
    assert_int_equal(ev, 0);
    assert_int_equal(w.calls, 2);
    /* A removed watcher is not called again. */
    assert_int_equal(kx_io_watch_ready(io, on_ready, &w, 0), STATUS_SUCCESS);
    assert_int_equal(kx_io_watch_ready(io, on_ready, &w, 0), STATUS_NO_SUCH_FILE);
    assert_int_equal(DkSetDeviceReady(t->devobj, DEVICE_READY_READ), STATUS_SUCCESS);
    assert_int_equal(w.calls, 2);
    /* Bits the API does not know are refused. */
    assert_int_equal(DkSetDeviceReady(t->devobj, 0x4), STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    assert_int_equal(kx_io_ready(io, h, &ev), STATUS_INVALID_HANDLE);
    kx_io_free(io);
    tdrv_no_failures(t);
}

static void test_watchers_are_bounded(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct watch w[9];
    for (int i = 0; i < 8; i++)
        assert_int_equal(kx_io_watch_ready(io, on_ready, &w[i], 1), STATUS_SUCCESS);
    assert_int_equal(kx_io_watch_ready(io, on_ready, &w[8], 1), STATUS_INSUFFICIENT_RESOURCES);
    kx_io_free(io);
}

static void test_declared_control_codes_are_checked_and_listed(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Ctl");
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    const uint32_t a = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_READ_ACCESS);
    const uint32_t b = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x802, METHOD_BUFFERED, FILE_ANY_ACCESS);
    KX_CONTROL_CODE codes[] = {{a, 0, 16}, {b, 8, 8}};
    assert_int_equal(DkSetDeviceControlCodes(t->devobj, codes, 2), STATUS_SUCCESS);
    kx_io_handle h = open_dev(io, "/dev/Ctl");
    struct kx_io_control_decl got[KX_IO_MAX_CONTROLS];
    size_t n = 0;
    char device[KX_IO_NAME_MAX];
    assert_int_equal(kx_io_device_info(io, h, got, &n, device), STATUS_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(got[0].code, a);
    assert_int_equal(got[0].out_len, 16);
    assert_int_equal(got[1].in_len, 8);
    assert_string_equal(device, "\\Device\\Ctl0");

    /* Refused, and the declaration stays as it was: two codes that one ioctl
     * number would name (same low bytes of type and function), lengths
     * _IOC cannot carry, methods other than buffered, too many codes. */
    KX_CONTROL_CODE clash[] = {{a, 0, 16},
                               {CTL_CODE(0x122, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS), 0, 4}};
    assert_int_equal(DkSetDeviceControlCodes(t->devobj, clash, 2), STATUS_OBJECT_NAME_COLLISION);
    KX_CONTROL_CODE big[] = {{a, KX_CONTROL_LENGTH_MAX + 1, 0}};
    assert_int_equal(DkSetDeviceControlCodes(t->devobj, big, 1), STATUS_INVALID_PARAMETER);
    KX_CONTROL_CODE direct[] = {{CTL_CODE(FILE_DEVICE_UNKNOWN, 0x803, METHOD_OUT_DIRECT, 0), 0, 4}};
    assert_int_equal(DkSetDeviceControlCodes(t->devobj, direct, 1), STATUS_INVALID_PARAMETER);
    KX_CONTROL_CODE many[KX_MAX_CONTROL_CODES + 1];
    memset(many, 0, sizeof many);
    assert_int_equal(DkSetDeviceControlCodes(t->devobj, many, KX_MAX_CONTROL_CODES + 1),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_io_device_info(io, h, got, &n, NULL), STATUS_SUCCESS);
    assert_int_equal(n, 2);
    /* An empty declaration clears it. */
    assert_int_equal(DkSetDeviceControlCodes(t->devobj, NULL, 0), STATUS_SUCCESS);
    assert_int_equal(kx_io_device_info(io, h, got, &n, NULL), STATUS_SUCCESS);
    assert_int_equal(n, 0);
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    kx_io_free(io);
    tdrv_no_failures(t);
}

/* ---- cancelling one caller's requests ------------------------------------- */

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

static void drop_held(struct tdrv *t, PIRP irp)
{
    pthread_mutex_lock(&t->lock);
    for (int i = 0; i < t->n_held; i++)
        if (t->held[i] == irp) {
            memmove(&t->held[i], &t->held[i + 1], (size_t)(t->n_held - i - 1) * sizeof irp);
            t->n_held--;
            break;
        }
    pthread_mutex_unlock(&t->lock);
}

static void on_cancel(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    tdrv_event(t, "CANCEL");
    drop_held(t, irp);
    DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

static kx_status pend(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    DkMarkIrpPending(irp);
    tdrv_hold(t, irp);
    if (DkSetCancelRoutine(irp, on_cancel) == STATUS_CANCELLED) {
        drop_held(t, irp);
        return DkCompleteRequest(irp, STATUS_CANCELLED, 0);
    }
    return STATUS_PENDING;
}

static int held_two(struct tdrv *t) { return tdrv_n_held(t) == 2; }

static void test_cancel_takes_only_the_requests_of_one_caller(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Can1");
    t->mj[IRP_MJ_READ] = pend;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h = open_dev(io, "/dev/Can1");
    struct done_count a = {0}, b = {0};
    char buf[2][4];
    struct kx_io_req rd[2] = {
        {.op = KX_IO_OP_READ, .out = buf[0], .out_len = 4, .timeout_ms = KX_IO_TIMEOUT_NONE,
         .done = count_done, .arg = &a},
        {.op = KX_IO_OP_READ, .out = buf[1], .out_len = 4, .timeout_ms = KX_IO_TIMEOUT_NONE,
         .done = count_done, .arg = &b},
    };
    assert_int_equal(kx_io_submit(io, h, &rd[0], 1), STATUS_SUCCESS);
    assert_int_equal(kx_io_submit(io, h, &rd[1], 1), STATUS_SUCCESS);
    assert_true(tdrv_wait(t, held_two));

    assert_int_equal(kx_io_cancel(io, h, &b), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&b.n) == 1);
    assert_int_equal(atomic_load(&b.n), 1);
    assert_int_equal(atomic_load(&b.status), STATUS_CANCELLED);
    assert_int_equal(atomic_load(&a.n), 0);
    assert_int_equal(tdrv_n_held(t), 1);
    /* Nothing carries that argument any more: a second cancel is harmless. */
    assert_int_equal(kx_io_cancel(io, h, &b), STATUS_SUCCESS);
    assert_int_equal(kx_io_cancel(io, 0, &b), STATUS_INVALID_HANDLE);

    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    assert_int_equal(atomic_load(&a.n), 1);
    assert_int_equal(atomic_load(&a.status), STATUS_CANCELLED);
    kx_io_free(io);
    tdrv_no_failures(t);
}

/* ---- statuses as errno ------------------------------------------------------ */

static void test_statuses_map_to_errno(void **state)
{
    (void)state;
    assert_int_equal(kx_status_to_errno(STATUS_SUCCESS), 0);
    assert_int_equal(kx_status_to_errno(STATUS_END_OF_FILE), 0);
    assert_int_equal(kx_status_to_errno(STATUS_ACCESS_DENIED), EACCES);
    assert_int_equal(kx_status_to_errno(STATUS_NO_SUCH_FILE), ENOENT);
    assert_int_equal(kx_status_to_errno(STATUS_INVALID_DEVICE_REQUEST), ENOTTY);
    assert_int_equal(kx_status_to_errno(STATUS_CANCELLED), EINTR);
    assert_int_equal(kx_status_to_errno(STATUS_DEVICE_REMOVED), ENODEV);
    assert_int_equal(kx_status_to_errno(STATUS_INVALID_PARAMETER), EINVAL);
    assert_int_equal(kx_status_to_errno(STATUS_KEXT_LINK_FAILED), EIO);
    assert_int_equal(kx_status_to_errno((kx_status)12345), EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_device_is_ready_until_its_driver_says_otherwise, setup),
        cmocka_unit_test_setup(test_watchers_are_bounded, setup),
        cmocka_unit_test_setup(test_declared_control_codes_are_checked_and_listed, setup),
        cmocka_unit_test_setup(test_cancel_takes_only_the_requests_of_one_caller, setup),
        cmocka_unit_test_setup(test_statuses_map_to_errno, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
