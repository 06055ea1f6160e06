/* test_linux_match.c — the nubs the fake machine publishes match as macOS personalities
 * expect: IntelMausi's IOPCIMatch on the I219, IOPCIClassMatch on the HDA, IONameMatch on
 * the compatible list (BCM4360) and on ACPI _HID / _CID (the EC, the battery, HID-over-I2C),
 * BrcmPatchRAM3's idVendor/idProduct on the Bluetooth device, an interface key set, and a
 * USB port map's IOParentMatch on the xHCI's pcidebug. */
#include "lx_test.h"
#include "registry/reg_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
    struct lxt *t;
    struct kx_catalog *cat;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    void *t = NULL;
    assert_non_null(f);
    lxt_setup(&t);
    f->t = t;
    assert_int_equal(kx_catalog_new(f->t->classes, 0, &f->cat), STATUS_SUCCESS);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    void *t = f->t;
    kx_catalog_free(f->cat);
    lxt_teardown(&t);
    free(f);
    return 0;
}

/* One kext with one personality (taken). */
static void kext(struct fx *f, const char *id, const char *name, plist_t pers)
{
    char path[256];
    size_t n = 0;
    plist_t info = plist_new_dict(), all = plist_new_dict();
    plist_dict_set_item(all, name, pers);
    plist_dict_set_item(info, "IOKitPersonalities", all);
    snprintf(path, sizeof path, "/Library/Extensions/%s.kext", name);
    assert_int_equal(kx_catalog_add_info(f->cat, id, path, info, 1, &n), STATUS_SUCCESS);
    assert_int_equal(n, 1);
    plist_free(info);
}

/* Whether the personality is a candidate for the nub at path. */
static int matches(struct fx *f, const char *path, const char *personality)
{
    kx_reg_id nub = lxt_find(f->t, "IOService", path);
    struct kx_match *m = NULL;
    if (nub == KX_REG_ID_NONE)
        fail_msg("no nub at %s", path);
    assert_int_equal(kx_match_nub(f->cat, f->t->reg, nub, 0, &m), STATUS_SUCCESS);
    int yes = 0;
    for (size_t i = 0; i < kx_match_n_candidates(m); i++)
        yes |= strcmp(kx_personality_name(kx_match_candidate(m, i)->personality), personality) == 0;
    kx_match_free(m);
    return yes;
}

#define BT LXT_PCI "pci8086,a12f@14/BCM20702A0@14100000"

static void test_pci_personalities(void **state)
{
    struct fx *f = *state;
    plist_t mausi = rfx_pers("IntelMausi", "IOPCIDevice");
    rfx_str(mausi, "IOPCIMatch", "0x15b78086 0x15b88086");
    kext(f, "as.acidanthera.mieze.IntelMausi", "IntelMausi", mausi);
    plist_t hda = rfx_pers("AppleHDAController", "IOPCIDevice");
    rfx_str(hda, "IOPCIClassMatch", "0x04030000&0xffff0000");
    kext(f, "com.apple.driver.AppleHDAController", "AppleHDAController", hda);
    plist_t airport = rfx_pers("AirPort_BrcmNIC", "IOPCIDevice");
    plist_dict_set_item(airport, "IONameMatch", rfx_strings("pci14e4,43ba", "pci14e4,43a0", NULL));
    kext(f, "com.apple.driver.AirPort.BrcmNIC", "AirPort_BrcmNIC", airport);
    plist_t subsys = rfx_pers("Subsystem", "IOPCIDevice");
    rfx_str(subsys, "IOPCIMatch", "0x0117106b"); /* Apple's subsystem on the BCM4360 */
    kext(f, "com.example.subsystem", "Subsystem", subsys);

    assert_true(matches(f, LXT_PCI "GIGE@1F,6", "IntelMausi"));
    assert_false(matches(f, LXT_PCI "pci8086,a170@1F,3", "IntelMausi"));
    assert_true(matches(f, LXT_PCI "pci8086,a170@1F,3", "AppleHDAController"));
    assert_false(matches(f, LXT_PCI "GIGE@1F,6", "AppleHDAController"));
    assert_true(matches(f, LXT_PCI "RP01@1C/IOPP/PXSX@0", "AirPort_BrcmNIC"));
    assert_true(matches(f, LXT_PCI "RP01@1C/IOPP/PXSX@0", "Subsystem"));
}

static void test_acpi_personalities(void **state)
{
    struct fx *f = *state;
    plist_t ec = rfx_pers("AppleACPIEC", "IOACPIPlatformDevice");
    rfx_str(ec, "IONameMatch", "PNP0C09");
    kext(f, "com.apple.driver.AppleACPIEC", "AppleACPIEC", ec);
    plist_t bat = rfx_pers("SMCBatteryManager", "IOACPIPlatformDevice");
    rfx_str(bat, "IONameMatch", "PNP0C0A");
    kext(f, "ru.usrsse2.SMCBatteryManager", "SMCBatteryManager", bat);
    plist_t hid = rfx_pers("VoodooI2CHIDDevice", "IOACPIPlatformDevice");
    rfx_str(hid, "IONameMatch", "PNP0C50");
    kext(f, "com.alexandred.VoodooI2CHID", "VoodooI2CHID", hid);

    assert_true(matches(f, LXT_PCI "LPCB@1F/EC0", "AppleACPIEC"));
    assert_false(matches(f, LXT_PCI "LPCB@1F/EC0/BAT0", "AppleACPIEC"));
    assert_true(matches(f, LXT_PCI "LPCB@1F/EC0/BAT0", "SMCBatteryManager"));
    /* a _CID matches, the first of two or the only one */
    assert_true(matches(f, "AppleACPIPlatformExpert/PCI0@0/I2C0/TPD0", "VoodooI2CHID"));
    assert_true(matches(f, "AppleACPIPlatformExpert/PCI0@0/I2C0", "VoodooI2CHID"));
    assert_false(matches(f, LXT_PCI "LPCB@1F/EC0", "VoodooI2CHID"));
}

static void test_usb_personalities(void **state)
{
    struct fx *f = *state;
    plist_t patch = rfx_pers("BrcmPatchRAM3", "IOUSBHostDevice");
    rfx_num(patch, "idVendor", 2652);
    rfx_num(patch, "idProduct", 8680);
    rfx_num(patch, "IOProbeScore", 2000);
    kext(f, "com.no-one.BrcmPatchRAM3", "BrcmPatchRAM3", patch);
    plist_t legacy = rfx_pers("BrcmPatchRAM", "IOUSBDevice"); /* 10.10's class */
    rfx_num(legacy, "idVendor", 2652);
    rfx_num(legacy, "idProduct", 8680);
    kext(f, "com.no-one.BrcmPatchRAM", "BrcmPatchRAM", legacy);
    plist_t iface = rfx_pers("BTInterface", "IOUSBHostInterface");
    rfx_num(iface, "idVendor", 2652);
    rfx_num(iface, "idProduct", 8680);
    rfx_num(iface, "bConfigurationValue", 1);
    rfx_num(iface, "bInterfaceNumber", 1);
    kext(f, "com.example.btinterface", "BTInterface", iface);
    /* a port map: any device under the controller at pcidebug 0:20:0 */
    plist_t map = rfx_pers("AppleUSBHostMergeProperties", "IOUSBHostDevice");
    plist_t parent = plist_new_dict(), props = plist_new_dict();
    plist_dict_set_item(props, "pcidebug", plist_new_string("0:20:0"));
    plist_dict_set_item(parent, "IOPropertyMatch", props);
    plist_dict_set_item(map, "IOParentMatch", parent);
    rfx_str(map, "IOMatchCategory", "IOUSBUserClientInit");
    kext(f, "com.example.portmap", "PortMap", map);

    assert_true(matches(f, BT, "BrcmPatchRAM3"));
    assert_true(matches(f, BT, "BrcmPatchRAM"));
    assert_true(matches(f, BT "/IOUSBHostInterface@1", "BTInterface"));
    assert_false(matches(f, BT "/IOUSBHostInterface@0", "BTInterface"));
    assert_true(matches(f, BT, "PortMap"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pci_personalities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acpi_personalities, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usb_personalities, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
