/* test_linux_publish.c — a fake sysfs machine published as macOS would: the tree (ACPI
 * platform expert, host bridge, AppleACPIPCI, IOPP behind a bridge, USB under its xHCI,
 * ACPI devices under their PCI companions), both planes, and every property's exact
 * bytes, names and locations; a tree without ACPI; publishing again adds nothing. */
#include "lx_test.h"
#include "sysfs_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#define DATA_STR(t, id, key, s) lxt_data(t, id, key, s, sizeof s)

static void test_tree_follows_apple_and_sysfs(void **state)
{
    struct lxt *t = *state;
    assert_int_equal(t->rep.n_skipped, 0);
    lxt_at(t, "AppleACPIPlatformExpert", "AppleACPIPlatformExpert");
    lxt_at(t, "AppleACPIPlatformExpert/PCI0@0", "IOACPIPlatformDevice");
    lxt_at(t, "AppleACPIPlatformExpert/PCI0@0/AppleACPIPCI", "AppleACPIPCI");
    lxt_at(t, LXT_PCI "GIGE@1F,6", "IOPCIDevice");
    lxt_at(t, LXT_PCI "pci8086,a170@1F,3", "IOPCIDevice");
    lxt_at(t, LXT_PCI "LPCB@1F", "IOPCIDevice");
    lxt_at(t, LXT_PCI "LPCB@1F/EC0", "IOACPIPlatformDevice");
    lxt_at(t, LXT_PCI "LPCB@1F/EC0/BAT0", "IOACPIPlatformDevice");
    lxt_at(t, LXT_PCI "RP01@1C", "IOPCIDevice");
    lxt_at(t, LXT_PCI "RP01@1C/IOPP", "IOPCI2PCIBridge");
    lxt_at(t, LXT_PCI "RP01@1C/IOPP/PXSX@0", "IOPCIDevice");
    lxt_at(t, LXT_PCI "pci8086,a12f@14", "IOPCIDevice");
    lxt_at(t, LXT_PCI "pci8086,a12f@14/BCM20702A0@14100000", "IOUSBHostDevice");
    lxt_at(t, LXT_PCI "pci8086,a12f@14/BCM20702A0@14100000/IOUSBHostInterface@0",
           "IOUSBHostInterface");
    lxt_at(t, LXT_PCI "pci8086,a12f@14/BCM20702A0@14100000/IOUSBHostInterface@1",
           "IOUSBHostInterface");
    lxt_at(t, "AppleACPIPlatformExpert/PCI0@0/I2C0", "IOACPIPlatformDevice");
    lxt_at(t, "AppleACPIPlatformExpert/PCI0@0/I2C0/TPD0", "IOACPIPlatformDevice");
    /* nothing else: the root hub, the scopes and the empty slot are not nubs */
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 6);
    assert_int_equal(lxt_count(t, "IOACPIPlatformDevice"), 5);
    assert_int_equal(lxt_count(t, "IOUSBHostDevice"), 1);
    assert_int_equal(lxt_count(t, "IOUSBHostInterface"), 2);
    assert_int_equal(lxt_count(t, "IOPCI2PCIBridge"), 1);
    assert_int_equal(lxt_count(t, "AppleACPIPCI"), 1);
    /* one KXComponent per PCI function and per USB device, named by its identity */
    assert_int_equal(lxt_count(t, "KXComponent"), 7);
    kx_reg_id gige = lxt_at(t, LXT_PCI "GIGE@1F,6/component", "KXComponent");
    lxt_str(t, gige, "type", "pci");
    lxt_str(t, gige, "pci-address", "0000:00:1f.6");
    /* RFC 9562's version 5 of "pci:0000:00:1f.6:8086:15b8" in kx's namespace (Python's
     * uuid.uuid5 gives the same): the same function has it on every boot */
    lxt_str(t, gige, "address", "9223f303-a8d3-5584-9382-fef5aa728318");
    lxt_str(t, lxt_at(t, LXT_PCI "GIGE@1F,6", "IOPCIDevice"), "KXComponentAddress",
            "9223f303-a8d3-5584-9382-fef5aa728318");
    /* 24 entries: 14 nubs, 7 components, AppleACPIPlatformExpert, AppleACPIPCI, IOPP */
    assert_int_equal(t->rep.n_published, 24);
}

static void test_device_tree_plane_skips_the_drivers(void **state)
{
    struct lxt *t = *state;
    /* as on a Mac: PCI0's children in IODeviceTree are the functions, a bridge's children
     * hang under the bridge, and no stand-in for a driver is in the plane */
    assert_int_not_equal(lxt_find(t, "IODeviceTree", "PCI0@0/GIGE@1F,6"), KX_REG_ID_NONE);
    assert_int_not_equal(lxt_find(t, "IODeviceTree", "PCI0@0/RP01@1C/PXSX@0"), KX_REG_ID_NONE);
    assert_int_not_equal(lxt_find(t, "IODeviceTree", "PCI0@0/LPCB@1F/EC0/BAT0"), KX_REG_ID_NONE);
    assert_int_not_equal(lxt_find(t, "IODeviceTree", "PCI0@0/I2C0/TPD0"), KX_REG_ID_NONE);
    assert_int_equal(lxt_find(t, "IODeviceTree", "AppleACPIPlatformExpert"), KX_REG_ID_NONE);
    assert_int_equal(lxt_find(t, "IODeviceTree", "PCI0@0/AppleACPIPCI"), KX_REG_ID_NONE);
    assert_int_equal(lxt_find(t, "IODeviceTree", "PCI0@0/RP01@1C/IOPP"), KX_REG_ID_NONE);
    /* USB nubs are in the IOService plane only */
    assert_int_equal(lxt_find(t, "IODeviceTree", "PCI0@0/pci8086,a12f@14/BCM20702A0@14100000"),
                     KX_REG_ID_NONE);
}

static void test_pci_properties_are_iopcifamilys(void **state)
{
    struct lxt *t = *state;
    kx_reg_id gige = lxt_at(t, LXT_PCI "GIGE@1F,6", "IOPCIDevice");
    lxt_data(t, gige, "vendor-id", "\x86\x80\x00\x00", 4);
    lxt_data(t, gige, "device-id", "\xb8\x15\x00\x00", 4);
    lxt_data(t, gige, "subsystem-vendor-id", "\x58\x14\x00\x00", 4);
    lxt_data(t, gige, "subsystem-id", "\x00\xe0\x00\x00", 4);
    lxt_data(t, gige, "revision-id", "\x10\x00\x00\x00", 4);
    lxt_data(t, gige, "class-code", "\x00\x00\x02\x00", 4);
    lxt_str(t, gige, "IOName", "ethernet"); /* IOPCIFamily's generic name for class 0200 */
    DATA_STR(t, gige, "name", "ethernet");
    DATA_STR(t, gige, "compatible", "pci1458,e000\0pci8086,15b8\0pciclass,020000\0GIGE");
    lxt_str(t, gige, "pcidebug", "0:31:6");
    lxt_str(t, gige, KX_PLATFORM_SYSFS_PATH_KEY, "/devices/pci0000:00/0000:00:1f.6");
    lxt_location(t, gige, "1F,6");

    kx_reg_id hda = lxt_at(t, LXT_PCI "pci8086,a170@1F,3", "IOPCIDevice");
    lxt_data(t, hda, "class-code", "\x00\x03\x04\x00", 4);
    lxt_data(t, hda, "revision-id", "\x31\x00\x00\x00", 4);
    lxt_str(t, hda, "IOName", "pci8086,a170");
    DATA_STR(t, hda, "name", "pci8086,a170");
    DATA_STR(t, hda, "compatible", "pci1458,a182\0pci8086,a170\0pciclass,040300");

    /* a bridge without a subsystem: no subsystem properties, no subsystem name */
    kx_reg_id rp = lxt_at(t, LXT_PCI "RP01@1C", "IOPCIDevice");
    lxt_absent(t, rp, "subsystem-vendor-id");
    lxt_absent(t, rp, "subsystem-id");
    lxt_str(t, rp, "IOName", "pci-bridge");
    DATA_STR(t, rp, "compatible", "pci8086,a110\0pciclass,060400\0RP01");
    lxt_location(t, rp, "1C");

    kx_reg_id wifi = lxt_at(t, LXT_PCI "RP01@1C/IOPP/PXSX@0", "IOPCIDevice");
    lxt_data(t, wifi, "vendor-id", "\xe4\x14\x00\x00", 4);
    lxt_data(t, wifi, "device-id", "\xa0\x43\x00\x00", 4);
    lxt_str(t, wifi, "IOName", "pci14e4,43a0");
    DATA_STR(t, wifi, "compatible", "pci106b,117\0pci14e4,43a0\0pciclass,028000\0PXSX");
    lxt_str(t, wifi, "pcidebug", "2:0:0");
    lxt_location(t, wifi, "0");

    kx_reg_id lpc = lxt_at(t, LXT_PCI "LPCB@1F", "IOPCIDevice");
    lxt_location(t, lpc, "1F");
    lxt_str(t, lpc, "IOName", "pci8086,a145");
}

static void test_usb_properties_are_iousbhostfamilys(void **state)
{
    struct lxt *t = *state;
    kx_reg_id bt = lxt_at(t, LXT_PCI "pci8086,a12f@14/BCM20702A0@14100000", "IOUSBHostDevice");
    lxt_uint(t, bt, "idVendor", 0x0a5c);
    lxt_uint(t, bt, "idProduct", 0x21e8);
    lxt_uint(t, bt, "bcdDevice", 0x0112);
    lxt_uint(t, bt, "bDeviceClass", 0xff);
    lxt_uint(t, bt, "bDeviceSubClass", 1);
    lxt_uint(t, bt, "bDeviceProtocol", 1);
    lxt_uint(t, bt, "bMaxPacketSize0", 64);
    lxt_uint(t, bt, "bNumConfigurations", 1);
    lxt_uint(t, bt, "kUSBCurrentConfiguration", 1);
    lxt_uint(t, bt, "USB Address", 2);
    lxt_uint(t, bt, "USBSpeed", 1);
    lxt_uint(t, bt, "bcdUSB", 0x0200);
    lxt_uint(t, bt, "locationID", 0x14100000);
    lxt_str(t, bt, "USB Product Name", "BCM20702A0");
    lxt_str(t, bt, "kUSBProductString", "BCM20702A0");
    lxt_str(t, bt, "USB Vendor Name", "Broadcom Corp");
    lxt_str(t, bt, "kUSBSerialNumberString", "5CF37095A1B2");
    lxt_str(t, bt, KX_PLATFORM_SYSFS_PATH_KEY, "/devices/pci0000:00/0000:00:14.0/usb1/1-1");
    lxt_location(t, bt, "14100000");

    kx_reg_id i1 = lxt_at(t, LXT_PCI "pci8086,a12f@14/BCM20702A0@14100000/IOUSBHostInterface@1",
                          "IOUSBHostInterface");
    lxt_uint(t, i1, "bInterfaceNumber", 1);
    lxt_uint(t, i1, "bAlternateSetting", 0);
    lxt_uint(t, i1, "bInterfaceClass", 0xe0);
    lxt_uint(t, i1, "bInterfaceSubClass", 1);
    lxt_uint(t, i1, "bInterfaceProtocol", 1);
    lxt_uint(t, i1, "bNumEndpoints", 2);
    lxt_uint(t, i1, "bConfigurationValue", 1);
    lxt_uint(t, i1, "idVendor", 0x0a5c);
    lxt_uint(t, i1, "idProduct", 0x21e8);
    lxt_uint(t, i1, "bcdDevice", 0x0112);
    lxt_uint(t, i1, "locationID", 0x14100000);
    lxt_str(t, i1, KX_PLATFORM_SYSFS_PATH_KEY, "/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.1");
}

static void test_acpi_properties_name_hid_and_cids(void **state)
{
    struct lxt *t = *state;
    kx_reg_id ec = lxt_at(t, LXT_PCI "LPCB@1F/EC0", "IOACPIPlatformDevice");
    lxt_str(t, ec, "IOName", "PNP0C09");
    DATA_STR(t, ec, "name", "PNP0C09");
    lxt_absent(t, ec, "compatible");
    lxt_uint(t, ec, "_STA", 15);
    lxt_location(t, ec, "");
    lxt_str(t, ec, KX_PLATFORM_SYSFS_PATH_KEY, "/" SFX_EC);

    kx_reg_id bat = lxt_at(t, LXT_PCI "LPCB@1F/EC0/BAT0", "IOACPIPlatformDevice");
    DATA_STR(t, bat, "name", "PNP0C0A");
    lxt_uint(t, bat, "_STA", 31);

    kx_reg_id pci0 = lxt_at(t, "AppleACPIPlatformExpert/PCI0@0", "IOACPIPlatformDevice");
    lxt_str(t, pci0, "IOName", "PNP0A08");
    DATA_STR(t, pci0, "compatible", "PNP0A03");
    lxt_location(t, pci0, "0");

    kx_reg_id i2c = lxt_at(t, "AppleACPIPlatformExpert/PCI0@0/I2C0", "IOACPIPlatformDevice");
    DATA_STR(t, i2c, "name", "INT33C2");
    DATA_STR(t, i2c, "compatible", "PNP0C50");
    kx_reg_id tpd = lxt_at(t, "AppleACPIPlatformExpert/PCI0@0/I2C0/TPD0", "IOACPIPlatformDevice");
    DATA_STR(t, tpd, "compatible", "PNP0C50\0ACPI0C50");
}

static void test_publishing_again_adds_nothing(void **state)
{
    struct lxt *t = *state;
    size_t before = t->rep.n_published;
    lxt_publish(t);
    assert_int_equal(t->rep.n_published, before);
    assert_int_equal(lxt_count(t, "IOPCIDevice"), 6);
    assert_int_equal(lxt_count(t, "IOUSBHostInterface"), 2);
}

#define LXT_BT LXT_PCI "pci8086,a12f@14/BCM20702A0@14100000"

static void test_usb_devices_get_components_named_by_their_identity(void **state)
{
    struct lxt *t = *state;
    /* a device with a serial number: the UUID 5 of "usb:0a5c:21e8:serial:5CF37095A1B2"
     * (Python's uuid.uuid5 in kx's namespace gives the same), whatever port it is on */
    kx_reg_id bt = lxt_at(t, LXT_BT "/component", "KXComponent");
    lxt_str(t, bt, "type", "usb");
    lxt_str(t, bt, "usb-port", "1-1");
    lxt_str(t, bt, "usb-serial", "5CF37095A1B2");
    lxt_str(t, bt, "address", "a39f2bd2-84dd-5000-8c49-562801541f44");
    lxt_str(t, lxt_at(t, LXT_BT, "IOUSBHostDevice"), "KXComponentAddress",
            "a39f2bd2-84dd-5000-8c49-562801541f44");
    /* one without: named by its port ("usb:0a5c:21e8:port:1-2"), as a PCI slot is */
    sfx_usb_device(t->root, SFX_XHC "/usb1/1-2", 0x0a5c, 0x21e8, 0x0112, 0xff, 0x01, 0x01, NULL,
                   NULL, NULL);
    lxt_publish(t);
    assert_int_equal(lxt_count(t, "KXComponent"), 8);
    kx_reg_id plain =
        lxt_at(t, LXT_PCI "pci8086,a12f@14/IOUSBHostDevice@14200000/component", "KXComponent");
    lxt_str(t, plain, "usb-port", "1-2");
    lxt_absent(t, plain, "usb-serial");
    lxt_str(t, plain, "address", "ba68927c-bb78-5ce4-982a-7170c3799443");
}

static void test_a_tree_without_acpi_gets_a_pci0_bridge(void **state)
{
    struct lxt *t = *state;
    sfx_pci(t->root, SFX_GIGE, 0x8086, 0x15b8, 0x1458, 0xe000, 0x020000, 0x10);
    sfx_pci(t->root, "devices/pci0001:40/0001:40:00.0", 0x10ec, 0x8168, 0, 0, 0x020000, 0x15);
    lxt_publish(t);
    assert_int_equal(t->rep.n_skipped, 0);
    kx_reg_id pci0 = lxt_at(t, "PCI0@0", "IOPCIBridge");
    lxt_at(t, "PCI0@0/ethernet@1F,6", "IOPCIDevice");
    lxt_at(t, "PCI40@1/ethernet@0", "IOPCIDevice");
    lxt_str(t, pci0, KX_PLATFORM_SYSFS_PATH_KEY, "/devices/pci0000:00");
    assert_int_not_equal(lxt_find(t, "IODeviceTree", "PCI0@0/ethernet@1F,6"), KX_REG_ID_NONE);
    assert_int_equal(lxt_count(t, "AppleACPIPlatformExpert"), 0);
}

static void test_a_missing_root_is_an_error(void **state)
{
    struct lxt *t = *state;
    assert_int_equal(kx_platform_linux_publish(t->reg, "/nonexistent/kx-sysfs", NULL),
                     STATUS_NO_SUCH_FILE);
    sfx_remove(t->root, "devices");
    assert_int_equal(kx_platform_linux_publish(t->reg, t->root, NULL), STATUS_NO_SUCH_FILE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tree_follows_apple_and_sysfs, lxt_setup, lxt_teardown),
        cmocka_unit_test_setup_teardown(test_device_tree_plane_skips_the_drivers, lxt_setup,
                                        lxt_teardown),
        cmocka_unit_test_setup_teardown(test_pci_properties_are_iopcifamilys, lxt_setup,
                                        lxt_teardown),
        cmocka_unit_test_setup_teardown(test_usb_properties_are_iousbhostfamilys, lxt_setup,
                                        lxt_teardown),
        cmocka_unit_test_setup_teardown(test_usb_devices_get_components_named_by_their_identity,
                                        lxt_setup, lxt_teardown),
        cmocka_unit_test_setup_teardown(test_acpi_properties_name_hid_and_cids, lxt_setup,
                                        lxt_teardown),
        cmocka_unit_test_setup_teardown(test_publishing_again_adds_nothing, lxt_setup,
                                        lxt_teardown),
        cmocka_unit_test_setup_teardown(test_a_tree_without_acpi_gets_a_pci0_bridge,
                                        lxt_setup_empty, lxt_teardown),
        cmocka_unit_test_setup_teardown(test_a_missing_root_is_an_error, lxt_setup_empty,
                                        lxt_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
