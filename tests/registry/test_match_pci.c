/* test_match_pci.c — IOPCIFamily's keys on real devices: IOPCIMatch (primary or subsystem
 * register), IOPCIPrimaryMatch, IOPCISecondaryMatch, IOPCIClassMatch (revision byte masked by
 * default), masks, IOPCITunnelCompatible; and that family keys are ignored off PCI nubs. */
#include "reg_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

/* 1 when the personality is a candidate for nub; *key gets the failing key otherwise. */
static int matches(struct rfx *f, kx_reg_id nub, const char *personality, char *key, size_t len)
{
    struct kx_match *m = rfx_match(f, nub, KX_MATCH_EXPLAIN);
    int yes = rfx_cand(m, personality) != NULL;
    const struct kx_match_rejection *r = rfx_rej(m, personality);
    if (key && len)
        snprintf(key, len, "%s", r ? r->key : "");
    kx_match_free(m);
    return yes;
}

static plist_t pci_pers(const char *ioclass, const char *key, const char *value)
{
    plist_t d = rfx_pers(ioclass, "IOPCIDevice");
    rfx_str(d, key, value);
    return d;
}

/* Intel I219-V 8086:15b8 (IntelMausi's list) and Realtek RTL8111 10ec:8168. */
static void test_pci_match_vendor_and_device(void **state)
{
    struct rfx *f = *state;
    char key[64];
    kx_reg_id i219 = rfx_pci(f, 0, "GIGE", "1f,6", 0x8086, 0x15b8, 0x8086, 0x2070, 0x020000, 0x10);
    kx_reg_id rtl = rfx_pci(f, 0, "ETH0", "0", 0x10ec, 0x8168, 0x1458, 0xe000, 0x020000, 0x15);
    rfx_kext(f, "as.acidanthera.mieze.IntelMausi", "IntelMausi", 1, "IntelMausi",
             pci_pers("IntelMausi", "IOPCIMatch", "0x10EA8086 0x15B78086 0x15B88086 0x15D78086"),
             NULL);
    rfx_kext(f, "com.insanelymac.RealtekRTL8111", "RealtekRTL8111", 1, "RTL8111 PCIe Adapter",
             pci_pers("RTL8111", "IOPCIMatch", "0x816810ec 0x81681186 0x250210ec"), NULL);
    assert_true(matches(f, i219, "IntelMausi", NULL, 0));
    assert_true(matches(f, rtl, "RTL8111 PCIe Adapter", NULL, 0));
    assert_false(matches(f, rtl, "IntelMausi", key, sizeof key));
    assert_string_equal(key, "IOPCIMatch");
    assert_false(matches(f, i219, "RTL8111 PCIe Adapter", key, sizeof key));
    assert_string_equal(key, "IOPCIMatch");
}

static void test_pci_match_also_tests_the_subsystem_register(void **state)
{
    struct rfx *f = *state;
    /* a Realtek chip behind a subsystem ID that names it: 0x2c matches IOPCIMatch */
    kx_reg_id nub = rfx_pci(f, 0, "ETH1", "0", 0x1186, 0x4300, 0x10ec, 0x8168, 0x020000, 0);
    rfx_kext(f, "com.example.r", "R", 1, "match", pci_pers("R", "IOPCIMatch", "0x816810ec"),
             "primary", pci_pers("R", "IOPCIPrimaryMatch", "0x816810ec"), "secondary",
             pci_pers("R", "IOPCISecondaryMatch", "0x816810ec"), NULL);
    char key[64];
    assert_true(matches(f, nub, "match", NULL, 0));
    assert_true(matches(f, nub, "secondary", NULL, 0));
    assert_false(matches(f, nub, "primary", key, sizeof key));
    assert_string_equal(key, "IOPCIPrimaryMatch");
}

static void test_pci_masks(void **state)
{
    struct rfx *f = *state;
    /* VoodooI2C's controllers: 0x9de88086&0xFFFCFFFF covers 9de8..9deb */
    kx_reg_id i2c1 = rfx_pci(f, 0, "I2C1", "15,1", 0x8086, 0x9de9, 0x8086, 0, 0x0c8000, 0x30);
    kx_reg_id lpss = rfx_pci(f, 0, "SPI0", "1e,2", 0x8086, 0x9dac, 0x8086, 0, 0x0c8000, 0x30);
    /* itlwm: every Intel function */
    rfx_kext(f, "com.alexandred.VoodooI2C", "VoodooI2C", 1, "VoodooI2CPCIController",
             pci_pers("VoodooI2CPCIController", "IOPCIMatch",
                      "0x9d608086&0xFFFCFFFF 0xa1608086&0xFFFCFFFF 0x9de88086&0xFFFCFFFF"),
             "itlwm", pci_pers("itlwm", "IOPCIPrimaryMatch", "0x00008086&0x0000ffff"), NULL);
    assert_true(matches(f, i2c1, "VoodooI2CPCIController", NULL, 0));
    assert_false(matches(f, lpss, "VoodooI2CPCIController", NULL, 0));
    assert_true(matches(f, lpss, "itlwm", NULL, 0));
}

static void test_pci_class_match_ignores_the_revision(void **state)
{
    struct rfx *f = *state;
    kx_reg_id nic = rfx_pci(f, 0, "GIGE", "1f,6", 0x8086, 0x15b8, 0x8086, 0, 0x020000, 0x10);
    kx_reg_id gpu = rfx_pci(f, 0, "GFX0", "2", 0x10de, 0x1b80, 0x10de, 0x119e, 0x030000, 0xa1);
    rfx_kext(f, "com.example.c", "C", 1, "ethernet", pci_pers("E", "IOPCIClassMatch", "0x02000000"),
             "ethernet-rev", pci_pers("E", "IOPCIClassMatch", "0x02000010&0xffffffff"), "display",
             pci_pers("D", "IOPCIClassMatch", "0x03000000&0xff000000"), NULL);
    char key[64];
    assert_true(matches(f, nic, "ethernet", NULL, 0));     /* class 0x020000, revision 0x10 */
    assert_true(matches(f, nic, "ethernet-rev", NULL, 0)); /* an explicit mask keeps it */
    assert_false(matches(f, gpu, "ethernet", key, sizeof key));
    assert_string_equal(key, "IOPCIClassMatch");
    assert_true(matches(f, gpu, "display", NULL, 0));
}

static void test_every_pci_key_must_match(void **state)
{
    struct rfx *f = *state;
    /* WhateverGreen's NVHDAEnabler: an NVIDIA vendor and a display class */
    kx_reg_id gpu = rfx_pci(f, 0, "GFX0", "0", 0x10de, 0x1b80, 0x10de, 0x119e, 0x030000, 0xa1);
    kx_reg_id hda = rfx_pci(f, 0, "HDAU", "0,1", 0x10de, 0x10f0, 0x10de, 0x119e, 0x040300, 0xa1);
    plist_t d = pci_pers("NVHDAEnabler", "IOPCIClassMatch", "0x03000000&0xff000000");
    rfx_str(d, "IOPCIMatch", "0x000010de&0x0000ffff");
    rfx_num(d, "IOProbeScore", 300000);
    rfx_kext(f, "as.vit9696.WhateverGreen", "WhateverGreen", 1, "NVHDAEnabler", d, NULL);
    char key[64];
    assert_true(matches(f, gpu, "NVHDAEnabler", NULL, 0));
    assert_false(matches(f, hda, "NVHDAEnabler", key, sizeof key));
    assert_string_equal(key, "IOPCIClassMatch");
}

static void test_pci_keys_are_ignored_off_pci_nubs(void **state)
{
    struct rfx *f = *state;
    /* IOKit hands IOPCIMatch to IOPCIDevice's matchPropertyTable only */
    kx_reg_id ec = rfx_acpi(f, 0, "EC", "PNP0C09", NULL);
    plist_t d = rfx_pers("X", "IOService");
    rfx_str(d, "IOPCIMatch", "0x15b88086");
    rfx_kext(f, "com.example.x", "X", 1, "x", d, NULL);
    assert_true(matches(f, ec, "x", NULL, 0));
}

static void test_tunnelled_nub_refuses_incompatible_drivers(void **state)
{
    struct rfx *f = *state;
    kx_reg_id nic = rfx_pci(f, 0, "ETH0", "0", 0x8086, 0x15b8, 0x8086, 0, 0x020000, 0);
    assert_int_equal(kx_reg_prop_set(f->reg, nic, "IOPCITunnelled", plist_new_bool(1)),
                     STATUS_SUCCESS);
    plist_t no = pci_pers("N", "IOPCIMatch", "0x15b88086"),
            yes = pci_pers("Y", "IOPCIMatch", "0x15b88086");
    plist_dict_set_item(no, "IOPCITunnelCompatible", plist_new_bool(0));
    plist_dict_set_item(yes, "IOPCITunnelCompatible", plist_new_bool(1));
    rfx_kext(f, "com.example.tb", "TB", 1, "no", no, "yes", yes, NULL);
    char key[64];
    assert_true(matches(f, nic, "yes", NULL, 0));
    assert_false(matches(f, nic, "no", key, sizeof key));
    assert_string_equal(key, "IOPCITunnelCompatible");
}

static void test_pci_failure_says_what_the_nub_is(void **state)
{
    struct rfx *f = *state;
    kx_reg_id rtl = rfx_pci(f, 0, "ETH0", "0", 0x10ec, 0x8168, 0x1458, 0xe000, 0x020000, 0x15);
    rfx_kext(f, "com.example.m", "M", 1, "mausi", pci_pers("M", "IOPCIMatch", "0x15b88086"), NULL);
    struct kx_match *m = rfx_match(f, rtl, KX_MATCH_EXPLAIN);
    const struct kx_match_rejection *r = rfx_rej(m, "mausi");
    assert_non_null(r);
    assert_non_null(strstr(r->why, "0x816810ec (subsystem 0xe0001458)"));
    kx_match_free(m);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rfx_setup, rfx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_pci_match_vendor_and_device),
        T(test_pci_match_also_tests_the_subsystem_register),
        T(test_pci_masks),
        T(test_pci_class_match_ignores_the_revision),
        T(test_every_pci_key_must_match),
        T(test_pci_keys_are_ignored_off_pci_nubs),
        T(test_tunnelled_nub_refuses_incompatible_drivers),
        T(test_pci_failure_says_what_the_nub_is),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
