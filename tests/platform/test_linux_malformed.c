/* test_linux_malformed.c — damaged sysfs trees: a device with a non-hex, empty, missing or
 * out-of-range file is left out with one line naming the file and why, its children with
 * it, and everything else is still published; nothing crashes or stops the enumeration. */
#include "lx_test.h"
#include "sysfs_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

/* The machine with one file's text replaced (NULL: the file removed), then published. */
static void publish_with(struct lxt *t, const char *dev, const char *file, const char *text)
{
    char rel[1024];
    snprintf(rel, sizeof rel, "%s/%s", dev, file);
    if (text)
        sfx_write(t->root, rel, text);
    else
        sfx_remove(t->root, rel);
    lxt_publish(t);
}

static void assert_skipped(struct lxt *t, const char *line)
{
    if (!lxt_skipped(t, line)) {
        for (size_t i = 0; i < t->rep.n_skipped; i++)
            fprintf(stderr, "skipped: %s\n", t->rep.skipped[i]);
        fail_msg("no skip reported as \"%s\"", line);
    }
}

static void test_non_hex_vendor_leaves_the_function_out(void **state)
{
    struct lxt *t = *state;
    publish_with(t, SFX_GIGE, "vendor", "zz");
    assert_int_equal(t->rep.n_skipped, 1);
    assert_skipped(t, "/" SFX_GIGE ": vendor: \"zz\" is not a hexadecimal number");
    assert_int_equal(lxt_find(t, "IOService", LXT_PCI "GIGE@1F,6"), KX_REG_ID_NONE);
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 5);
    lxt_at(t, LXT_PCI "pci8086,a12f@14/BCM20702A0@14100000", "IOUSBHostDevice");
}

static void test_empty_file_is_reported_empty(void **state)
{
    struct lxt *t = *state;
    publish_with(t, SFX_HDA, "device", "");
    assert_int_equal(t->rep.n_skipped, 1);
    assert_skipped(t, "/" SFX_HDA ": device: empty");
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 5);
}

static void test_missing_class_is_reported_missing(void **state)
{
    struct lxt *t = *state;
    publish_with(t, SFX_HDA, "class", NULL);
    assert_skipped(t, "/" SFX_HDA ": class: missing");
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 5);
}

static void test_out_of_range_and_absent_functions(void **state)
{
    struct lxt *t = *state;
    sfx_write(t->root, SFX_HDA "/class", "0x1040300"); /* 25 bits */
    publish_with(t, SFX_LPC, "vendor", "0xffff");      /* nothing answers */
    assert_skipped(t, "/" SFX_HDA ": class: \"0x1040300\" is not a hexadecimal number up to "
                      "0xffffff");
    assert_skipped(t, "/" SFX_LPC ": vendor: 0xffff is no device's");
    /* the EC and battery hang under LPCB: left out with it */
    assert_skipped(t, "/" SFX_EC ": left out with its parent");
    assert_int_equal(lxt_count(t, "IOACPIPlatformDevice"), 3);
}

static void test_a_bridge_left_out_takes_its_bus(void **state)
{
    struct lxt *t = *state;
    publish_with(t, SFX_RP01, "revision", "0xg1");
    assert_skipped(t, "/" SFX_RP01 ": revision:");
    assert_skipped(t, "/" SFX_WIFI ": left out with its parent /" SFX_RP01);
    assert_int_equal(t->rep.n_skipped, 2);
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 4);
    assert_int_equal(lxt_count(t, "IOPCI2PCIBridge"), 0);
}

static void test_usb_device_left_out_takes_its_interfaces(void **state)
{
    struct lxt *t = *state;
    publish_with(t, SFX_BT, "idProduct", NULL);
    assert_skipped(t, "/" SFX_BT ": idProduct: missing");
    assert_skipped(t, "/" SFX_BT "/1-1:1.0: left out with its parent");
    assert_skipped(t, "/" SFX_BT "/1-1:1.1: left out with its parent");
    assert_int_equal(t->rep.n_skipped, 3);
    assert_int_equal(lxt_count(t, "IOUSBHostDevice"), 0);
    assert_int_equal(lxt_count(t, "IOUSBHostInterface"), 0);
}

static void test_usb_interface_with_bad_class(void **state)
{
    struct lxt *t = *state;
    publish_with(t, SFX_BT "/1-1:1.1", "bInterfaceClass", "e0e0");
    assert_skipped(t, "/" SFX_BT "/1-1:1.1: bInterfaceClass: \"e0e0\" is not a hexadecimal "
                      "number up to 0xff");
    assert_int_equal(lxt_count(t, "IOUSBHostInterface"), 1);
}

static void test_acpi_node_without_path_or_with_bad_adr(void **state)
{
    struct lxt *t = *state;
    sfx_remove(t->root, SFX_EC "/path");
    publish_with(t, SFX_PCI0 "/INT33C2:00", "adr", "nonsense");
    assert_skipped(t, "/" SFX_EC ": path: missing");
    assert_skipped(t, "/" SFX_EC "/PNP0C0A:00: left out with its parent");
    assert_skipped(t, "/" SFX_PCI0 "/INT33C2:00: adr: \"nonsense\"");
    assert_skipped(t, "/" SFX_PCI0 "/INT33C2:00/ELAN0651:00: left out with its parent");
    assert_int_equal(lxt_count(t, "IOACPIPlatformDevice"), 1); /* PCI0 */
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 6);
}

static void test_a_broken_host_bridge_node_still_publishes_its_bus(void **state)
{
    struct lxt *t = *state;
    publish_with(t, SFX_PCI0, "path", "not an ACPI path");
    assert_skipped(t, "/" SFX_PCI0 ": path: not an ACPI path");
    /* the bus falls back to a plain PCI0 bridge; its functions are all there */
    lxt_at(t, "PCI0@0/GIGE@1F,6", "IOPCIDevice");
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 6);
}

static void test_dangling_and_odd_bus_entries(void **state)
{
    struct lxt *t = *state;
    sfx_link(t->root, "bus/pci/devices/0000:00:1f.7", "devices/pci0000:00/0000:00:1f.7");
    sfx_write(t->root, "bus/usb/devices/garbage", "not a device");
    sfx_mkdir(t->root, "devices/pci0000:00/0000:00:zz.0");
    sfx_link(t->root, "devices/pci0000:00/0000:00:zz.0/subsystem", "bus/pci");
    sfx_link(t->root, "bus/pci/devices/0000:00:zz.0", "devices/pci0000:00/0000:00:zz.0");
    lxt_publish(t);
    assert_skipped(t, "/bus/pci/devices/0000:00:1f.7: doesn't lead to a device");
    assert_skipped(t, "/bus/usb/devices/garbage: doesn't lead to a device");
    assert_skipped(t, "0000:00:zz.0: \"0000:00:zz.0\" is not a PCI address");
    assert_int_equal(t->rep.n_skipped, 3);
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 6);
}

static void test_overlong_strings_fall_back_to_the_class_name(void **state)
{
    struct lxt *t = *state;
    char product[700];
    memset(product, 'B', sizeof product - 1);
    product[sizeof product - 1] = '\0';
    publish_with(t, SFX_BT, "product", product);
    assert_int_equal(t->rep.n_skipped, 0);
    kx_reg_id bt = lxt_at(t, LXT_PCI "pci8086,a12f@14/IOUSBHostDevice@14100000", "IOUSBHostDevice");
    lxt_absent(t, bt, "USB Product Name");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, lxt_setup_unpublished, lxt_teardown)
    const struct CMUnitTest tests[] = {
        T(test_non_hex_vendor_leaves_the_function_out),
        T(test_empty_file_is_reported_empty),
        T(test_missing_class_is_reported_missing),
        T(test_out_of_range_and_absent_functions),
        T(test_a_bridge_left_out_takes_its_bus),
        T(test_usb_device_left_out_takes_its_interfaces),
        T(test_usb_interface_with_bad_class),
        T(test_acpi_node_without_path_or_with_bad_adr),
        T(test_a_broken_host_bridge_node_still_publishes_its_bus),
        T(test_dangling_and_odd_bus_entries),
        T(test_overlong_strings_fall_back_to_the_class_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
