/* test_linux_hotplug.c — the udev event handler on a fake tree: "remove" terminates the
 * nubs at and below the path, clients first, through the caller's callback; "add" publishes
 * a device and the parents it is missing, and a PCI function's ACPI devices again; other
 * actions and unknown paths do nothing; paths outside devices/ are refused. And the netlink
 * monitor opens and dispatches nothing when nothing happened. */
#include "lx_test.h"
#include "sysfs_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

struct order {
    kx_reg_id ids[32];
    size_t n;
};

static void record(void *ctx, kx_reg_id id)
{
    struct order *o = ctx;
    if (o->n < 32)
        o->ids[o->n++] = id;
}

static kx_status event(struct lxt *t, const char *action, const char *devpath, struct order *o)
{
    return kx_platform_linux_handle_event(t->reg, t->root, action, devpath, record, o, &t->rep);
}

static size_t position(const struct order *o, kx_reg_id id)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->ids[i] == id)
            return i;
    fail_msg("id %llx was not terminated", (unsigned long long)id);
    return 0;
}

#define BT LXT_PCI "pci8086,a12f@14/BCM20702A0@14100000"

static void test_remove_terminates_clients_first(void **state)
{
    struct lxt *t = *state;
    struct order o = {{0}, 0};
    kx_reg_id dev = lxt_at(t, BT, "IOUSBHostDevice");
    kx_reg_id if0 = lxt_at(t, BT "/IOUSBHostInterface@0", "IOUSBHostInterface");
    kx_reg_id if1 = lxt_at(t, BT "/IOUSBHostInterface@1", "IOUSBHostInterface");
    assert_int_equal(event(t, "remove", "/" SFX_BT, &o), STATUS_SUCCESS);
    assert_int_equal(o.n, 4); /* and the device's component */
    assert_true(position(&o, if0) < position(&o, dev));
    assert_true(position(&o, if1) < position(&o, dev));
    assert_int_equal(t->rep.n_terminated, 4);
    assert_int_equal(lxt_count(t, "IOUSBHostDevice"), 0);
    assert_int_equal(lxt_count(t, "IOUSBHostInterface"), 0);
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 6);
}

static void test_remove_of_a_bridge_takes_its_bus(void **state)
{
    struct lxt *t = *state;
    struct order o = {{0}, 0};
    kx_reg_id rp = lxt_at(t, LXT_PCI "RP01@1C", "IOPCIDevice");
    kx_reg_id iopp = lxt_at(t, LXT_PCI "RP01@1C/IOPP", "IOPCI2PCIBridge");
    kx_reg_id wifi = lxt_at(t, LXT_PCI "RP01@1C/IOPP/PXSX@0", "IOPCIDevice");
    /* sysfs is gone before udev says so: the handler reads only the registry */
    sfx_remove(t->root, SFX_RP01);
    kx_reg_id wifi_component = lxt_at(t, LXT_PCI "RP01@1C/IOPP/PXSX@0/component", "KXComponent");
    assert_int_equal(event(t, "remove", "/" SFX_RP01, &o), STATUS_SUCCESS);
    assert_int_equal(o.n, 5); /* and the two functions' components */
    assert_true(position(&o, wifi_component) < position(&o, wifi));
    assert_true(position(&o, wifi) < position(&o, iopp));
    assert_true(position(&o, iopp) < position(&o, rp));
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 4);
}

static void test_remove_below_an_unpublished_path(void **state)
{
    struct lxt *t = *state;
    struct order o = {{0}, 0};
    /* the root hub is no nub, but what hangs below it goes with it */
    assert_int_equal(event(t, "remove", "/" SFX_XHC "/usb1", &o), STATUS_SUCCESS);
    assert_int_equal(o.n, 4);
    assert_int_equal(lxt_count(t, "IOUSBHostDevice"), 0);
    /* a path nothing is published at or below: nothing happens */
    o.n = 0;
    assert_int_equal(event(t, "remove", "/devices/pci0000:00/0000:00:1f.6x", &o), STATUS_SUCCESS);
    assert_int_equal(o.n, 0);
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 6);
}

static void test_add_after_remove_publishes_again(void **state)
{
    struct lxt *t = *state;
    struct order o = {{0}, 0};
    assert_int_equal(event(t, "remove", "/" SFX_BT, &o), STATUS_SUCCESS);
    /* udev sends the device, then each interface; the full path form is accepted too */
    char full[1024];
    snprintf(full, sizeof full, "%s/%s/1-1:1.1", t->root, SFX_BT);
    assert_int_equal(event(t, "add", "/" SFX_BT, &o), STATUS_SUCCESS);
    assert_int_equal(event(t, "add", "/" SFX_BT "/1-1:1.0/", &o), STATUS_SUCCESS);
    assert_int_equal(event(t, "add", full, &o), STATUS_SUCCESS);
    kx_reg_id dev = lxt_at(t, BT, "IOUSBHostDevice");
    lxt_uint(t, dev, "idProduct", 0x21e8);
    lxt_at(t, BT "/IOUSBHostInterface@0", "IOUSBHostInterface");
    lxt_at(t, BT "/IOUSBHostInterface@1", "IOUSBHostInterface");
    assert_int_equal(lxt_count(t, "IOUSBHostInterface"), 2);
    /* an add for what is there already changes nothing */
    size_t published = t->rep.n_published;
    assert_int_equal(event(t, "add", "/" SFX_BT, &o), STATUS_SUCCESS);
    assert_int_equal(t->rep.n_published, published);
}

static void test_add_publishes_the_missing_parents(void **state)
{
    struct lxt *t = *state; /* nothing published yet */
    assert_int_equal(event(t, "add", "/" SFX_BT "/1-1:1.0", NULL), STATUS_SUCCESS);
    lxt_at(t, BT "/IOUSBHostInterface@0", "IOUSBHostInterface");
    /* the chain: AppleACPIPlatformExpert, PCI0, AppleACPIPCI, the xHCI and its component,
     * the device and its component, the interface */
    assert_int_equal(t->rep.n_published, 8);
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 1);
    assert_int_equal(t->rep.n_skipped, 0);
}

static void test_re_adding_a_pci_function_brings_back_its_acpi_devices(void **state)
{
    struct lxt *t = *state;
    struct order o = {{0}, 0};
    assert_int_equal(event(t, "remove", "/" SFX_LPC, &o), STATUS_SUCCESS);
    assert_int_equal(o.n, 4); /* BAT0, EC0, LPCB's component, LPCB */
    assert_int_equal(lxt_count(t, "IOACPIPlatformDevice"), 3);
    assert_int_equal(event(t, "add", "/" SFX_LPC, &o), STATUS_SUCCESS);
    lxt_at(t, LXT_PCI "LPCB@1F/EC0/BAT0", "IOACPIPlatformDevice");
    assert_int_equal(lxt_count(t, "IOACPIPlatformDevice"), 5);
}

static void test_other_actions_and_bad_paths(void **state)
{
    struct lxt *t = *state;
    struct order o = {{0}, 0};
    size_t published = t->rep.n_published;
    assert_int_equal(event(t, "change", "/" SFX_BT, &o), STATUS_SUCCESS);
    assert_int_equal(event(t, "bind", "/" SFX_BT, &o), STATUS_SUCCESS);
    assert_int_equal(o.n, 0);
    assert_int_equal(t->rep.n_published, published);
    assert_int_equal(event(t, "add", "/bus/pci/devices/0000:00:1f.6", &o),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(event(t, "remove", "/devices/../devices/pci0000:00", &o),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(event(t, "remove", "", &o), STATUS_INVALID_PARAMETER);
    assert_int_equal(o.n, 0);
    /* an add for a device whose files are gone is a reported skip, not an error */
    sfx_remove(t->root, SFX_HDA "/vendor");
    struct order none = {{0}, 0};
    assert_int_equal(event(t, "remove", "/" SFX_HDA, &none), STATUS_SUCCESS);
    assert_int_equal(event(t, "add", "/" SFX_HDA, &none), STATUS_SUCCESS);
    assert_non_null(lxt_skipped(t, "/" SFX_HDA ": vendor: missing"));
}

static void test_udev_monitor_opens_and_dispatches_nothing(void **state)
{
    struct lxt *t = *state;
    struct kx_platform_udev *u = NULL;
    kx_status st = kx_platform_udev_open(&u);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "udev's netlink monitor can't be opened here (%s)\n", kx_status_string(st));
        skip();
    }
    assert_true(kx_platform_udev_fd(u) >= 0);
    size_t published = t->rep.n_published;
    /* events of this machine may arrive (a real add is handled against the fake tree and
     * finds nothing there); what matters is that it returns and doesn't block */
    (void)kx_platform_udev_dispatch(u, t->reg, t->root, NULL, NULL, &t->rep);
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 6);
    assert_true(t->rep.n_published >= published);
    kx_platform_udev_close(u);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, lxt_setup, lxt_teardown)
    const struct CMUnitTest tests[] = {
        T(test_remove_terminates_clients_first),
        T(test_remove_of_a_bridge_takes_its_bus),
        T(test_remove_below_an_unpublished_path),
        T(test_add_after_remove_publishes_again),
        cmocka_unit_test_setup_teardown(test_add_publishes_the_missing_parents,
                                        lxt_setup_unpublished, lxt_teardown),
        T(test_re_adding_a_pci_function_brings_back_its_acpi_devices),
        T(test_other_actions_and_bad_paths),
        T(test_udev_monitor_opens_and_dispatches_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
