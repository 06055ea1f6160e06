/* test_io_access.c — who may open a device (owner, group and mode, checked at
 * open; AxisOS skipped /dev entirely) and what a handle may do (its granted
 * access; control codes' access bits checked before dispatch, as Windows). */
#include "tdrv.h"

static int setup(void **state)
{
    (void)state;
    tdrv_reset();
    return 0;
}

static kx_io_handle try_open(struct kx_io *io, const char *path, uint32_t uid, uint32_t gid,
                             uint32_t access, kx_status want)
{
    struct kx_io_cred c = {1, uid, gid};
    kx_io_handle h = 0;
    kx_status st = kx_io_open(io, path, &c, access, 0, &h);
    if (st != want)
        fail_msg("open %s as %u:%u for %u: %s, wanted %s", path, uid, gid, access,
                 kx_status_name(st), kx_status_name(want));
    if (h)
        kx_io_close(io, h);
    return h;
}

static void test_owner_group_other_and_root(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Perm");
    t->uid = 1000;
    t->gid = 2000;
    t->mode = 0640;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    const uint32_t R = KX_IO_ACCESS_READ, W = KX_IO_ACCESS_WRITE;
    try_open(io, "/dev/Perm", 1000, 9, R | W, STATUS_SUCCESS);         /* owner rw- */
    try_open(io, "/dev/Perm", 1001, 2000, R, STATUS_SUCCESS);          /* group r-- */
    try_open(io, "/dev/Perm", 1001, 2000, W, STATUS_ACCESS_DENIED);
    try_open(io, "/dev/Perm", 1002, 3000, R, STATUS_ACCESS_DENIED);    /* other --- */
    try_open(io, "/dev/Perm", 0, 0, R | W, STATUS_SUCCESS);            /* root */
    try_open(io, "/dev/Perm", 1001, 2000, 0, STATUS_SUCCESS);          /* no data access, */
    try_open(io, "/dev/Perm", 1002, 3000, 0, STATUS_ACCESS_DENIED);    /* but some right */
    assert_int_equal(kx_io_driver_unload(io, 0, 0), STATUS_INVALID_HANDLE);
    kx_io_free(io);
}

static void test_owner_triplet_applies_even_when_group_allows_more(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Odd");
    t->uid = 1000;
    t->gid = 2000;
    t->mode = 0460;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    try_open(io, "/dev/Odd", 1000, 2000, KX_IO_ACCESS_WRITE, STATUS_ACCESS_DENIED);
    try_open(io, "/dev/Odd", 1001, 2000, KX_IO_ACCESS_WRITE, STATUS_SUCCESS);
    kx_io_free(io);
}

static kx_status count_io(PDEVICE_OBJECT dev, PIRP irp)
{
    tdrv_event(tdrv_of(dev), "IO");
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static void test_handle_access_gates_each_request(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Gate");
    t->mj[IRP_MJ_READ] = count_io;
    t->mj[IRP_MJ_WRITE] = count_io;
    t->mj[IRP_MJ_FLUSH_BUFFERS] = count_io;
    t->mj[IRP_MJ_DEVICE_CONTROL] = count_io;
    t->mj[IRP_MJ_QUERY_INFORMATION] = count_io;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle r, w, none;
    assert_int_equal(kx_io_open(io, "/dev/Gate", &t_user, KX_IO_ACCESS_READ, 0, &r),
                     STATUS_SUCCESS);
    assert_int_equal(kx_io_open(io, "/dev/Gate", &t_user, KX_IO_ACCESS_WRITE, 0, &w),
                     STATUS_SUCCESS);
    assert_int_equal(kx_io_open(io, "/dev/Gate", &t_user, 0, 0, &none), STATUS_SUCCESS);
    char b[4];
    struct kx_io_req flush = {.op = KX_IO_OP_FLUSH};
    struct kx_io_req query = {.op = KX_IO_OP_QUERY_INFORMATION, .code = FileStandardInformation,
                              .out = b, .out_len = sizeof b};
    const uint32_t c_any = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS);
    const uint32_t c_read = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x901, METHOD_BUFFERED, FILE_READ_ACCESS);
    const uint32_t c_write =
        CTL_CODE(FILE_DEVICE_UNKNOWN, 0x902, METHOD_BUFFERED, FILE_WRITE_ACCESS);
    const uint32_t c_both = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x903, METHOD_BUFFERED,
                                     FILE_READ_ACCESS | FILE_WRITE_ACCESS);
    const uint32_t c_neither = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x904, METHOD_NEITHER, 0);
    /* read-only handle */
    assert_int_equal(kx_io_read(io, r, b, 4, 0, 0, NULL), STATUS_SUCCESS);
    assert_int_equal(kx_io_write(io, r, b, 4, 0, 0, NULL), STATUS_ACCESS_DENIED);
    assert_int_equal(kx_io_call(io, r, &flush, NULL), STATUS_ACCESS_DENIED);
    assert_int_equal(kx_io_ioctl(io, r, c_any, NULL, 0, NULL, 0, 0, NULL), STATUS_SUCCESS);
    assert_int_equal(kx_io_ioctl(io, r, c_read, NULL, 0, NULL, 0, 0, NULL), STATUS_SUCCESS);
    assert_int_equal(kx_io_ioctl(io, r, c_write, NULL, 0, NULL, 0, 0, NULL), STATUS_ACCESS_DENIED);
    assert_int_equal(kx_io_ioctl(io, r, c_both, NULL, 0, NULL, 0, 0, NULL), STATUS_ACCESS_DENIED);
    /* write-only handle */
    assert_int_equal(kx_io_read(io, w, b, 4, 0, 0, NULL), STATUS_ACCESS_DENIED);
    assert_int_equal(kx_io_write(io, w, b, 4, 0, 0, NULL), STATUS_SUCCESS);
    assert_int_equal(kx_io_call(io, w, &flush, NULL), STATUS_SUCCESS);
    assert_int_equal(kx_io_ioctl(io, w, c_read, NULL, 0, NULL, 0, 0, NULL), STATUS_ACCESS_DENIED);
    assert_int_equal(kx_io_ioctl(io, w, c_write, NULL, 0, NULL, 0, 0, NULL), STATUS_SUCCESS);
    /* no-access handle: only ANY controls and queries */
    assert_int_equal(kx_io_read(io, none, b, 4, 0, 0, NULL), STATUS_ACCESS_DENIED);
    assert_int_equal(kx_io_ioctl(io, none, c_any, NULL, 0, NULL, 0, 0, NULL), STATUS_SUCCESS);
    assert_int_equal(kx_io_call(io, none, &query, NULL), STATUS_SUCCESS);
    /* raw pointers cannot reach a driver host */
    assert_int_equal(kx_io_ioctl(io, w, c_neither, NULL, 0, NULL, 0, 0, NULL),
                     STATUS_NOT_SUPPORTED);
    /* Refused requests never reached the driver: 8 did. */
    char ev[512];
    tdrv_events(t, ev, sizeof ev);
    int n = 0;
    for (const char *p = ev; (p = strstr(p, "IO")); p += 2)
        n++;
    assert_int_equal(n, 8);
    kx_io_close(io, r);
    kx_io_close(io, w);
    kx_io_close(io, none);
    kx_io_free(io);
}

static void test_new_devices_are_root_only(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Priv");
    t->mode = 0600; /* the default DkCreateDevice gives, made explicit */
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    try_open(io, "/dev/Priv", 1000, 1000, KX_IO_ACCESS_READ, STATUS_ACCESS_DENIED);
    try_open(io, "/dev/Priv", 0, 0, KX_IO_ACCESS_READ, STATUS_SUCCESS);
    struct kx_io_device_stat *d;
    size_t n;
    assert_int_equal(kx_io_list_devices(io, &d, &n), STATUS_SUCCESS);
    assert_int_equal(d[0].uid, 0);
    assert_int_equal(d[0].mode, 0600);
    free(d);
    kx_io_free(io);
}

static kx_status pend_control(PDEVICE_OBJECT dev, PIRP irp) { return tdrv_pend(dev, irp); }

struct answer {
    atomic_int done;
    kx_status st;
};

static void on_answer(void *arg, kx_status st, size_t info)
{
    struct answer *a = arg;
    (void)info;
    a->st = st;
    atomic_store(&a->done, 1);
}

/* A handle opened for no access can't keep root from unloading the driver:
 * the unload revokes it, its pending request completes DEVICE_REMOVED, and
 * nothing more can be done with it. A handle with access still holds. */
static void test_open_for_no_access_is_revoked_by_unload(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Geo");
    t->mode = 0644;
    t->mj[IRP_MJ_DEVICE_CONTROL] = pend_control;
    kx_io_driver_id id;
    assert_int_equal(tdrv_start(io, t, &id), STATUS_SUCCESS);
    struct kx_io_cred user = {7, 1000, 1000};
    kx_io_handle reader, prober;
    assert_int_equal(kx_io_open(io, "/dev/Geo", &user, KX_IO_ACCESS_READ, 0, &reader),
                     STATUS_SUCCESS);
    assert_int_equal(kx_io_open(io, "/dev/Geo", &user, 0, 0, &prober), STATUS_SUCCESS);
    assert_int_equal(kx_io_driver_unload(io, id, 0), STATUS_DEVICE_BUSY); /* the reader holds */
    assert_int_equal(kx_io_close(io, reader), STATUS_SUCCESS);

    /* FILE_ANY_ACCESS, METHOD_BUFFERED: allowed on a handle without access. */
    struct answer a = {0};
    struct kx_io_req r = {.op = KX_IO_OP_DEVICE_CONTROL, .code = 0x220000, .done = on_answer,
                          .arg = &a, .timeout_ms = KX_IO_TIMEOUT_NONE};
    assert_int_equal(kx_io_submit(io, prober, &r, 1), STATUS_SUCCESS);
    T_WAIT_FOR(tdrv_n_held(t) == 1);
    assert_int_equal(tdrv_n_held(t), 1);

    assert_int_equal(kx_io_driver_unload(io, id, 0), STATUS_SUCCESS);
    assert_true(atomic_load(&a.done));
    assert_int_equal(a.st, STATUS_DEVICE_REMOVED);
    size_t n;
    assert_int_equal(kx_io_call(io, prober, &r, &n), STATUS_INVALID_HANDLE);
    assert_int_equal(kx_io_close(io, prober), STATUS_INVALID_HANDLE);
    kx_io_free(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_owner_group_other_and_root, setup),
        cmocka_unit_test_setup(test_open_for_no_access_is_revoked_by_unload, setup),
        cmocka_unit_test_setup(test_owner_triplet_applies_even_when_group_allows_more, setup),
        cmocka_unit_test_setup(test_handle_access_gates_each_request, setup),
        cmocka_unit_test_setup(test_new_devices_are_root_only, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
