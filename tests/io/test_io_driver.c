/* test_io_driver.c — driver lifecycle: DriverEntry failure and hang roll back
 * everything the driver created (AxisOS leaked it), unload is vetoed while
 * handles are open and naming their holders, unload order, leftovers removed
 * and reported, hung routines reported while the system carries on, the
 * kernel log, and layered drivers (DkCallDriver). */
#include "tdrv.h"

#include <stdlib.h>

static int setup(void **state)
{
    (void)state;
    tdrv_reset();
    return 0;
}

static size_t n_links(struct kx_io *io)
{
    struct kx_io_link_stat *l;
    size_t n;
    assert_int_equal(kx_io_list_links(io, &l, &n), STATUS_SUCCESS);
    free(l);
    return n;
}

static size_t n_devices(struct kx_io *io)
{
    struct kx_io_device_stat *d;
    size_t n;
    assert_int_equal(kx_io_list_devices(io, &d, &n), STATUS_SUCCESS);
    free(d);
    return n;
}

static size_t n_drivers(struct kx_io *io)
{
    struct kx_io_driver_stat *d;
    size_t n;
    assert_int_equal(kx_io_list_drivers(io, &d, &n), STATUS_SUCCESS);
    free(d);
    return n;
}

static void test_failed_entry_is_rolled_back(void **state)
{
    (void)state;
    struct t_logcap cap = {PTHREAD_MUTEX_INITIALIZER, ""};
    struct kx_io *io = t_io_new(&cap);
    struct tdrv *t = tdrv_new("Fails");
    t->entry_status = STATUS_INSUFFICIENT_RESOURCES; /* after creating its device and link */
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_INSUFFICIENT_RESOURCES);
    assert_int_equal(n_links(io), 0);
    assert_int_equal(n_devices(io), 0);
    assert_int_equal(n_drivers(io), 0);
    assert_true(t_logcap_has(&cap, "DriverEntry failed: STATUS_INSUFFICIENT_RESOURCES"));
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Fails", &t_root, 0, 0, &h), STATUS_NO_SUCH_FILE);
    /* An odd verdict is a failure too, and the name is free again. */
    t->entry_status = STATUS_PENDING;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_DRIVER_INIT_FAILED);
    t->entry_status = STATUS_SUCCESS;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_free(io);
    tdrv_no_failures(t);
}

static kx_status entry_hangs(PDRIVER_OBJECT d)
{
    struct tdrv *t = tdrv_find(d);
    PDEVICE_OBJECT dev;
    TDRV_CHECK(t, DkCreateDevice(d, "\\Device\\Hangs0", 0, &dev) == STATUS_SUCCESS);
    TDRV_CHECK(t, DkCreateSymbolicLink("/dev/hangs", "\\Device\\Hangs0") == STATUS_SUCCESS);
    /* Past the 300 ms deadline: until the test has seen the rollback. */
    T_WAIT_FOR(atomic_load(&t->release));
    /* Too late: the manager has rolled it back and stopped listening. */
    kx_status st = DkCreateDevice(d, "\\Device\\Hangs1", 0, &dev);
    TDRV_CHECK(t, st == STATUS_INVALID_DRIVER_OBJECT);
    tdrv_event(t, "RETURNED");
    return STATUS_SUCCESS;
}

static int returned(struct tdrv *t)
{
    char ev[128];
    tdrv_events(t, ev, sizeof ev);
    return strstr(ev, "RETURNED") != NULL;
}

static void test_hung_entry_times_out_and_is_rolled_back(void **state)
{
    (void)state;
    struct t_logcap cap = {PTHREAD_MUTEX_INITIALIZER, ""};
    struct kx_io *io = t_io_new_short(&cap, (struct t_short){.entry_ms = 300});
    struct tdrv *t = tdrv_new("Hangs");
    uint64_t t0 = t_now_ms();
    assert_int_equal(t_start(io, "Hangs", entry_hangs, NULL), STATUS_TIMEOUT);
    assert_true(t_now_ms() - t0 >= 290);
    assert_int_equal(n_links(io), 0);
    assert_int_equal(n_devices(io), 0);
    assert_int_equal(n_drivers(io), 0);
    assert_true(t_logcap_has(&cap, "DriverEntry did not return within its deadline"));
    atomic_store(&t->release, 1);
    assert_true(tdrv_wait(t, returned));
    kx_io_free(io); /* joins the abandoned thread */
    tdrv_no_failures(t);
}

static void test_unload_is_refused_while_open_and_names_holders(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Busy");
    kx_io_driver_id id;
    assert_int_equal(tdrv_start(io, t, &id), STATUS_SUCCESS);
    struct kx_io_cred a = {1111, 1000, 1000}, b = {2222, 1001, 1001};
    kx_io_handle ha, hb;
    assert_int_equal(kx_io_open(io, "/dev/Busy", &a, KX_IO_ACCESS_READ, 0, &ha), STATUS_SUCCESS);
    assert_int_equal(kx_io_open(io, "/dev/Busy", &b, 0, 0, &hb), STATUS_SUCCESS);
    assert_int_equal(kx_io_driver_unload(io, id, 0), STATUS_DEVICE_BUSY);
    struct kx_io_handle_stat *hs;
    size_t n;
    assert_int_equal(kx_io_list_handles(io, id, &hs, &n), STATUS_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(hs[0].cred.pid, 1111); /* oldest first */
    assert_int_equal(hs[1].cred.pid, 2222);
    assert_true(hs[0].handle == ha);
    assert_string_equal(hs[0].device, "\\Device\\Busy0");
    assert_string_equal(hs[0].driver, "\\Driver\\Busy");
    assert_int_equal(hs[0].access, KX_IO_ACCESS_READ);
    free(hs);
    assert_int_equal(kx_io_close(io, ha), STATUS_SUCCESS);
    assert_int_equal(kx_io_close(io, hb), STATUS_SUCCESS);
    assert_int_equal(kx_io_driver_unload(io, id, 0), STATUS_SUCCESS);
    char ev[256];
    tdrv_events(t, ev, sizeof ev);
    assert_string_equal(ev, "ENTRY,CREATE,CREATE,CLEANUP,CLOSE,CLEANUP,CLOSE,UNLOAD");
    assert_int_equal(n_links(io), 0);
    assert_int_equal(n_devices(io), 0);
    assert_int_equal(n_drivers(io), 0);
    assert_int_equal(kx_io_driver_unload(io, id, 0), STATUS_INVALID_HANDLE);
    kx_io_free(io);
    tdrv_no_failures(t);
}

static void test_forced_unload_closes_handles_first(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Forced");
    kx_io_driver_id id;
    assert_int_equal(tdrv_start(io, t, &id), STATUS_SUCCESS);
    kx_io_handle h1, h2;
    assert_int_equal(kx_io_open(io, "/dev/Forced", &t_user, 0, 0, &h1), STATUS_SUCCESS);
    assert_int_equal(kx_io_open(io, "/dev/Forced", &t_user, 0, 0, &h2), STATUS_SUCCESS);
    assert_int_equal(kx_io_driver_unload(io, id, KX_IO_UNLOAD_FORCE), STATUS_SUCCESS);
    char ev[256];
    tdrv_events(t, ev, sizeof ev);
    assert_string_equal(ev, "ENTRY,CREATE,CREATE,CLEANUP,CLOSE,CLEANUP,CLOSE,UNLOAD");
    assert_int_equal(kx_io_close(io, h1), STATUS_INVALID_HANDLE);
    kx_io_free(io);
    tdrv_no_failures(t);
}

static void test_unload_without_routine_is_refused_unless_forced(void **state)
{
    (void)state;
    struct t_logcap cap = {PTHREAD_MUTEX_INITIALIZER, ""};
    struct kx_io *io = t_io_new(&cap);
    struct tdrv *t = tdrv_new("Sticky");
    t->no_unload = 1;
    kx_io_driver_id id;
    assert_int_equal(tdrv_start(io, t, &id), STATUS_SUCCESS);
    assert_int_equal(kx_io_driver_unload(io, id, 0), STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(kx_io_driver_unload(io, id, KX_IO_UNLOAD_FORCE), STATUS_SUCCESS);
    /* What it left behind was deleted by the manager, and reported. */
    assert_int_equal(n_links(io), 0);
    assert_int_equal(n_devices(io), 0);
    assert_true(t_logcap_has(&cap, "device \\Device\\Sticky0 deleted by the manager"));
    assert_true(t_logcap_has(&cap, "link /dev/Sticky"));
    kx_io_free(io);
}

static void test_unload_leftovers_are_removed_and_reported(void **state)
{
    (void)state;
    struct t_logcap cap = {PTHREAD_MUTEX_INITIALIZER, ""};
    struct kx_io *io = t_io_new(&cap);
    struct tdrv *t = tdrv_new("Messy");
    t->unload_keeps_objects = 1;
    kx_io_driver_id id;
    assert_int_equal(tdrv_start(io, t, &id), STATUS_SUCCESS);
    assert_int_equal(kx_io_driver_unload(io, id, 0), STATUS_SUCCESS);
    assert_int_equal(n_links(io), 0);
    assert_int_equal(n_devices(io), 0);
    assert_true(t_logcap_has(&cap, "left behind by DriverUnload"));
    kx_io_free(io);
}

static void test_hung_routine_is_reported_and_others_carry_on(void **state)
{
    (void)state;
    struct t_logcap cap = {PTHREAD_MUTEX_INITIALIZER, ""};
    struct kx_io *io = t_io_new_short(&cap, (struct t_short){.hang_ms = 150});
    struct tdrv *stuck = tdrv_new("Stuck");
    stuck->mj[IRP_MJ_WRITE] = tdrv_block;
    struct tdrv *ok = tdrv_new("Fine");
    ok->mj[IRP_MJ_WRITE] = tdrv_echo_len;
    assert_int_equal(tdrv_start(io, stuck, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv_start(io, ok, NULL), STATUS_SUCCESS);
    kx_io_handle hs, hs2, hf;
    assert_int_equal(kx_io_open(io, "/dev/Stuck", &t_user, KX_IO_ACCESS_WRITE, 0, &hs),
                     STATUS_SUCCESS);
    assert_int_equal(kx_io_open(io, "/dev/Fine", &t_user, KX_IO_ACCESS_WRITE, 0, &hf),
                     STATUS_SUCCESS);
    /* No deadline of its own: the hang report answers it, not before hang_ms
     * and while the routine is still in. */
    uint64_t t0 = t_now_ms();
    assert_int_equal(kx_io_write(io, hs, "x", 1, 0, KX_IO_TIMEOUT_NONE, NULL), STATUS_TIMEOUT);
    assert_true(t_now_ms() - t0 >= 140);
    assert_true(atomic_load(&stuck->in_routine));
    assert_true(t_logcap_has(&cap, "IRP_MJ_WRITE has not returned after"));
    /* The stuck driver refuses new work at once; the other one works. */
    assert_int_equal(kx_io_write(io, hs, "x", 1, 0, 0, NULL), STATUS_DRIVER_NOT_RESPONDING);
    assert_int_equal(kx_io_open(io, "/dev/Stuck", &t_user, 0, 0, &hs2),
                     STATUS_DRIVER_NOT_RESPONDING);
    assert_int_equal(kx_io_write(io, hf, "y", 1, 0, 0, NULL), STATUS_SUCCESS);
    struct kx_io_driver_stat *ds;
    size_t n;
    assert_int_equal(kx_io_list_drivers(io, &ds, &n), STATUS_SUCCESS);
    assert_true(ds[0].is_hung);
    assert_false(ds[1].is_hung);
    free(ds);
    /* The routine returns: the driver recovers. */
    atomic_store(&stuck->release, 1);
    int back = 0;
    T_WAIT_FOR((back = kx_io_write(io, hs, "x", 1, 0, 0, NULL) == STATUS_SUCCESS));
    assert_true(back);
    assert_true(t_logcap_has(&cap, "recovered"));
    kx_io_close(io, hs);
    kx_io_close(io, hf);
    kx_io_free(io);
}

static kx_status chatty_write(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    DkPrint("line %zu", irp->Parameters.Write.Length);
    return DkCompleteRequest(irp, STATUS_SUCCESS, irp->Parameters.Write.Length);
}

static void test_kernel_log_is_a_bounded_ring(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL); /* 64 lines */
    struct tdrv *t = tdrv_new("Chatty");
    t->mj[IRP_MJ_WRITE] = chatty_write;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Chatty", &t_user, KX_IO_ACCESS_WRITE, 0, &h),
                     STATUS_SUCCESS);
    char buf[100];
    memset(buf, 'x', sizeof buf);
    for (size_t i = 1; i <= 100; i++)
        assert_int_equal(kx_io_write(io, h, buf, i, 0, 0, NULL), STATUS_SUCCESS);
    struct kx_io_log_line *lines = calloc(200, sizeof *lines);
    size_t n = kx_io_log_read(io, 0, lines, 200);
    assert_int_equal(n, 64);
    assert_string_equal(lines[63].source, "Chatty");
    assert_string_equal(lines[63].text, "[DK] line 100");
    assert_true(lines[63].seq == lines[0].seq + 63);
    assert_true(lines[0].seq > 1); /* the oldest were overwritten */
    assert_true(lines[63].wall_ns > 0);
    char out[400];
    kx_io_log_format(&lines[63], out, sizeof out);
    assert_non_null(strstr(out, "] Chatty: [DK] line 100"));
    /* Follow from the last line read. */
    assert_int_equal(kx_io_write(io, h, buf, 7, 0, 0, NULL), STATUS_SUCCESS);
    size_t m = kx_io_log_read(io, lines[63].seq, lines, 200);
    assert_int_equal(m, 1);
    assert_string_equal(lines[0].text, "[DK] line 7");
    free(lines);
    kx_io_close(io, h);
    kx_io_free(io);
}

/* ---- layering: an upper driver passes IRPs to a lower one ---------------- */

struct upper_ext {
    PDEVICE_OBJECT lower;
};

static kx_status upper_pass(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    struct upper_ext *e = dev->DeviceExtension;
    if (irp->MajorFunction == IRP_MJ_CREATE)
        irp->FileContext = (void *)(uintptr_t)0xAAAA; /* the upper layer's own context */
    else
        TDRV_CHECK(t, irp->FileContext == (void *)(uintptr_t)0xAAAA);
    tdrv_event(t, "PASS");
    kx_status st = DkCallDriver(e->lower, irp);
    TDRV_CHECK(t, st == STATUS_PENDING);
    return st;
}

static kx_status lower_create(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    TDRV_CHECK(t, irp->DeviceObject == t->devobj);
    irp->FileContext = (void *)(uintptr_t)0xBBBB;
    tdrv_event(t, "CREATE");
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static kx_status lower_write(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    TDRV_CHECK(t, irp->FileContext == (void *)(uintptr_t)0xBBBB);
    tdrv_event(t, "WRITE");
    return DkCompleteRequest(irp, STATUS_SUCCESS, irp->Parameters.Write.Length * 2);
}

static kx_status upper_entry(PDRIVER_OBJECT d)
{
    struct tdrv *t = tdrv_find(d);
    d->MajorFunction[IRP_MJ_CREATE] = upper_pass;
    d->MajorFunction[IRP_MJ_WRITE] = upper_pass;
    PDEVICE_OBJECT dev;
    TDRV_CHECK(t, DkCreateDevice(d, "\\Device\\Upper0", sizeof(struct upper_ext), &dev) ==
                      STATUS_SUCCESS);
    t->devobj = dev;
    struct upper_ext *e = dev->DeviceExtension;
    TDRV_CHECK(t, DkGetDeviceObjectPointer(d, "/dev/Lower", &e->lower) == STATUS_SUCCESS);
    TDRV_CHECK(t, e->lower && (e->lower->Flags & DO_PROXY));
    TDRV_CHECK(t, strcmp(e->lower->DeviceName, "\\Device\\Lower0") == 0);
    PDEVICE_OBJECT none;
    TDRV_CHECK(t, DkGetDeviceObjectPointer(d, "\\Device\\Nope", &none) == STATUS_NO_SUCH_DEVICE);
    DkSetDeviceSecurity(dev, 0, 0, 0666);
    return DkCreateSymbolicLink("/dev/upper", "\\Device\\Upper0");
}

static void test_layered_driver_passes_irps_down(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *lower = tdrv_new("Lower");
    lower->mj[IRP_MJ_CREATE] = lower_create;
    lower->mj[IRP_MJ_WRITE] = lower_write;
    struct tdrv *upper = tdrv_new("Upper");
    assert_int_equal(tdrv_start(io, lower, NULL), STATUS_SUCCESS);
    assert_int_equal(t_start(io, "Upper", upper_entry, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/upper", &t_user, KX_IO_ACCESS_WRITE, 0, &h),
                     STATUS_SUCCESS);
    size_t n = 0;
    assert_int_equal(kx_io_write(io, h, "abc", 3, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n, 6); /* the lower driver's answer */
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    char ev[256];
    tdrv_events(upper, ev, sizeof ev);
    assert_string_equal(ev, "PASS,PASS");
    tdrv_events(lower, ev, sizeof ev);
    assert_string_equal(ev, "ENTRY,CREATE,WRITE");
    tdrv_no_failures(upper);
    tdrv_no_failures(lower);
    kx_io_free(io); /* the upper driver's proxy is given back at teardown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_failed_entry_is_rolled_back, setup),
        cmocka_unit_test_setup(test_hung_entry_times_out_and_is_rolled_back, setup),
        cmocka_unit_test_setup(test_unload_is_refused_while_open_and_names_holders, setup),
        cmocka_unit_test_setup(test_forced_unload_closes_handles_first, setup),
        cmocka_unit_test_setup(test_unload_without_routine_is_refused_unless_forced, setup),
        cmocka_unit_test_setup(test_unload_leftovers_are_removed_and_reported, setup),
        cmocka_unit_test_setup(test_hung_routine_is_reported_and_others_carry_on, setup),
        cmocka_unit_test_setup(test_kernel_log_is_a_bounded_ring, setup),
        cmocka_unit_test_setup(test_layered_driver_passes_irps_down, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
