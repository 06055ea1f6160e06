/* test_io_namespace.c — \Device and \Driver objects and symbolic links, in the
 * spirit of ReactOS kmtests IoDeviceObject and ObSymbolicLink: unique names,
 * links only to existing devices, lookups through links, no dangling links. */
#include "tdrv.h"

static int setup(void **state)
{
    (void)state;
    tdrv_reset();
    return 0;
}

static kx_status entry_two_devices_same_name(PDRIVER_OBJECT d)
{
    struct tdrv *t = tdrv_find(d);
    PDEVICE_OBJECT a, b;
    TDRV_CHECK(t, DkCreateDevice(d, "\\Device\\Dup0", 0, &a) == STATUS_SUCCESS);
    kx_status st = DkCreateDevice(d, "\\Device\\Dup0", 0, &b);
    TDRV_CHECK(t, st == STATUS_DEVICE_ALREADY_EXISTS);
    TDRV_CHECK(t, b == NULL);
    return STATUS_SUCCESS;
}

static void test_duplicate_device_is_refused(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Dup");
    assert_int_equal(t_start(io, "Dup", entry_two_devices_same_name, NULL), STATUS_SUCCESS);
    tdrv_no_failures(t);
    /* Another driver cannot take the name either. */
    struct tdrv *u = tdrv_new("Other");
    snprintf(u->dev, sizeof u->dev, "\\Device\\Dup0");
    u->link[0] = '\0';
    assert_int_equal(tdrv_start(io, u, NULL), STATUS_DEVICE_ALREADY_EXISTS);
    kx_io_free(io);
}

static kx_status entry_bad_links(PDRIVER_OBJECT d)
{
    struct tdrv *t = tdrv_find(d);
    PDEVICE_OBJECT dev;
    TDRV_CHECK(t, DkCreateDevice(d, "\\Device\\Links0", 0, &dev) == STATUS_SUCCESS);
    TDRV_CHECK(t, DkCreateSymbolicLink("/dev/missing", "\\Device\\Nope0") == STATUS_NO_SUCH_DEVICE);
    TDRV_CHECK(t, DkCreateSymbolicLink("/dev/links", "\\Device\\Links0") == STATUS_SUCCESS);
    TDRV_CHECK(t, DkCreateSymbolicLink("/dev/links", "\\Device\\Links0") ==
                      STATUS_OBJECT_NAME_COLLISION);
    TDRV_CHECK(t, DkCreateSymbolicLink("dev/relative", "\\Device\\Links0") ==
                      STATUS_OBJECT_NAME_INVALID);
    TDRV_CHECK(t, DkCreateSymbolicLink("/dev/x", "/dev/links") == STATUS_OBJECT_NAME_INVALID);
    TDRV_CHECK(t, DkCreateDevice(d, "NoPrefix", 0, &dev) == STATUS_OBJECT_NAME_INVALID);
    TDRV_CHECK(t, DkCreateDevice(d, "\\Device\\", 0, &dev) == STATUS_OBJECT_NAME_INVALID);
    TDRV_CHECK(t, DkDeleteSymbolicLink("/dev/none") == STATUS_NO_SUCH_FILE);
    return STATUS_SUCCESS;
}

static void test_link_to_missing_device_is_refused(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Links");
    assert_int_equal(t_start(io, "Links", entry_bad_links, NULL), STATUS_SUCCESS);
    tdrv_no_failures(t);
    struct kx_io_link_stat *links;
    size_t n;
    assert_int_equal(kx_io_list_links(io, &links, &n), STATUS_SUCCESS);
    assert_int_equal(n, 1);
    assert_string_equal(links[0].link, "/dev/links");
    assert_string_equal(links[0].target, "\\Device\\Links0");
    assert_string_equal(links[0].driver, "\\Driver\\Links");
    free(links);
    kx_io_free(io);
}

static void test_open_follows_link_or_takes_canonical_name(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Named");
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle a, b, c;
    assert_int_equal(kx_io_open(io, "/dev/Named", &t_user, 0, 0, &a), STATUS_SUCCESS);
    assert_int_equal(kx_io_open(io, "\\Device\\Named0", &t_user, 0, 0, &b), STATUS_SUCCESS);
    assert_true(a != b && a && b);
    assert_int_equal(kx_io_open(io, "/dev/nothing", &t_user, 0, 0, &c), STATUS_NO_SUCH_FILE);
    assert_int_equal(c, 0);
    assert_int_equal(kx_io_open(io, "\\Device\\Nothing0", &t_user, 0, 0, &c),
                     STATUS_NO_SUCH_DEVICE);
    assert_int_equal(kx_io_close(io, a), STATUS_SUCCESS);
    assert_int_equal(kx_io_close(io, a), STATUS_INVALID_HANDLE); /* closed handles stay closed */
    assert_int_equal(kx_io_close(io, b), STATUS_SUCCESS);
    assert_int_equal(kx_io_close(io, 12345), STATUS_INVALID_HANDLE);
    kx_io_free(io);
}

static kx_status del_ioctl(PDEVICE_OBJECT dev, PIRP irp)
{
    /* DkDeleteDevice from a routine, while a handle is open on it. */
    kx_status st = DkDeleteDevice(dev);
    return DkCompleteRequest(irp, st, 0);
}

static void test_deleted_device_takes_its_links_and_drains(void **state)
{
    (void)state;
    struct t_logcap cap = {PTHREAD_MUTEX_INITIALIZER, ""};
    struct kx_io *io = t_io_new(&cap);
    struct tdrv *t = tdrv_new("Gone");
    t->mj[IRP_MJ_DEVICE_CONTROL] = del_ioctl;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h, h2;
    assert_int_equal(kx_io_open(io, "/dev/Gone", &t_user, 0, 0, &h), STATUS_SUCCESS);
    assert_int_equal(kx_io_ioctl(io, h, CTL_CODE(FILE_DEVICE_UNKNOWN, 1, METHOD_BUFFERED, 0), NULL,
                                 0, NULL, 0, 0, NULL),
                     STATUS_SUCCESS);
    /* The driver deleted the device but not its link: the manager removed
     * the link and said so. */
    assert_true(t_logcap_has(&cap, "link /dev/Gone pointed at \\Device\\Gone0"));
    struct kx_io_link_stat *links;
    size_t n;
    assert_int_equal(kx_io_list_links(io, &links, &n), STATUS_SUCCESS);
    assert_int_equal(n, 0);
    assert_int_equal(kx_io_open(io, "\\Device\\Gone0", &t_user, 0, 0, &h2), STATUS_NO_SUCH_DEVICE);
    /* The open handle drains: the device is listed as delete-pending, new
     * requests fail, CLEANUP and CLOSE still reach the driver. */
    struct kx_io_device_stat *devs;
    assert_int_equal(kx_io_list_devices(io, &devs, &n), STATUS_SUCCESS);
    assert_int_equal(n, 1);
    assert_true(devs[0].flags & KX_IO_DEV_DELETE_PENDING);
    assert_int_equal(devs[0].n_handles, 1);
    free(devs);
    assert_int_equal(kx_io_ioctl(io, h, CTL_CODE(FILE_DEVICE_UNKNOWN, 1, METHOD_BUFFERED, 0), NULL,
                                 0, NULL, 0, 0, NULL),
                     STATUS_DEVICE_REMOVED);
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    char ev[256];
    tdrv_events(t, ev, sizeof ev);
    assert_string_equal(ev, "ENTRY,CREATE,CLEANUP,CLOSE");
    assert_int_equal(kx_io_list_devices(io, &devs, &n), STATUS_SUCCESS);
    assert_int_equal(n, 0);
    t->link[0] = '\0'; /* nothing left for DriverUnload to delete */
    kx_io_free(io);
    tdrv_no_failures(t);
}

static kx_status entry_delete_foreign_link(PDRIVER_OBJECT d)
{
    struct tdrv *t = tdrv_find(d);
    TDRV_CHECK(t, DkDeleteSymbolicLink("/dev/Owner") == STATUS_ACCESS_DENIED);
    return STATUS_SUCCESS;
}

static void test_only_the_creator_deletes_a_link(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *o = tdrv_new("Owner");
    struct tdrv *t = tdrv_new("Thief");
    assert_int_equal(tdrv_start(io, o, NULL), STATUS_SUCCESS);
    assert_int_equal(t_start(io, "Thief", entry_delete_foreign_link, NULL), STATUS_SUCCESS);
    tdrv_no_failures(t);
    kx_io_free(io);
    tdrv_no_failures(o);
}

static void test_driver_names_are_unique_and_listed(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Solo");
    kx_io_driver_id id, found;
    assert_int_equal(tdrv_start(io, t, &id), STATUS_SUCCESS);
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_OBJECT_NAME_COLLISION);
    assert_int_equal(kx_io_driver_find(io, "\\Driver\\Solo", &found), STATUS_SUCCESS);
    assert_true(found == id);
    assert_int_equal(kx_io_driver_find(io, "Solo", &found), STATUS_SUCCESS);
    assert_int_equal(kx_io_driver_find(io, "Nobody", &found), STATUS_NO_SUCH_FILE);
    struct kx_io_driver_stat *drv;
    size_t n;
    assert_int_equal(kx_io_list_drivers(io, &drv, &n), STATUS_SUCCESS);
    assert_int_equal(n, 1);
    assert_string_equal(drv[0].name, "\\Driver\\Solo");
    assert_string_equal(drv[0].version, "1.0.0");
    assert_int_equal(drv[0].state, KX_IO_DRIVER_RUNNING);
    assert_int_equal(drv[0].n_devices, 1);
    free(drv);
    struct kx_io_device_stat *devs;
    assert_int_equal(kx_io_list_devices(io, &devs, &n), STATUS_SUCCESS);
    assert_int_equal(n, 1);
    assert_string_equal(devs[0].name, "\\Device\\Solo0");
    assert_string_equal(devs[0].driver, "\\Driver\\Solo");
    assert_int_equal(devs[0].mode, 0666);
    free(devs);
    /* Bad records never start. */
    struct kx_driver_info info = t_info("Bad");
    info.magic = 0;
    struct kx_io_driver_params p = {sizeof p, &info, tdrv_entry, NULL, 0, NULL, NULL, 0, 0};
    assert_int_equal(kx_io_driver_start(io, &p, &id), STATUS_INVALID_DRIVER_INFO);
    info = t_info("Bad");
    p.entry = NULL;
    assert_int_equal(kx_io_driver_start(io, &p, &id), STATUS_INVALID_DRIVER_ENTRY);
    p.entry = tdrv_entry;
    p.name = "bad\\name";
    assert_int_equal(kx_io_driver_start(io, &p, &id), STATUS_OBJECT_NAME_INVALID);
    kx_io_free(io);
    tdrv_no_failures(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_duplicate_device_is_refused, setup),
        cmocka_unit_test_setup(test_link_to_missing_device_is_refused, setup),
        cmocka_unit_test_setup(test_open_follows_link_or_takes_canonical_name, setup),
        cmocka_unit_test_setup(test_deleted_device_takes_its_links_and_drains, setup),
        cmocka_unit_test_setup(test_only_the_creator_deletes_a_link, setup),
        cmocka_unit_test_setup(test_driver_names_are_unique_and_listed, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
