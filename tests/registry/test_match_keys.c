/* test_match_keys.c — IOKit's generic matching keys, each with a nub that passes and one that
 * fails with the key named: IOProviderClass, IONameMatch, IOPropertyMatch,
 * IOPropertyExistsMatch, IOResourceMatch, IOParentMatch, IOPathMatch, IOLocationMatch,
 * IORegistryEntryID; unknown IO...Match keys and keys of the wrong type. */
#include "reg_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

/* Matches nub with explanations; asserts the personality is a candidate. */
static void expect_match(struct rfx *f, kx_reg_id nub, const char *personality)
{
    struct kx_match *m = rfx_match(f, nub, KX_MATCH_EXPLAIN);
    if (!rfx_cand(m, personality)) {
        const struct kx_match_rejection *r = rfx_rej(m, personality);
        fail_msg("%s should match; rejected on %s: %s", personality, r ? r->key : "?",
                 r ? r->why : "not considered");
    }
    kx_match_free(m);
}

/* Asserts the personality is rejected on key, with why containing `why` (NULL: any). */
static void expect_reject(struct rfx *f, kx_reg_id nub, const char *personality, const char *key,
                          const char *why)
{
    struct kx_match *m = rfx_match(f, nub, KX_MATCH_EXPLAIN);
    const struct kx_match_rejection *r = rfx_rej(m, personality);
    if (!r)
        fail_msg("%s should be rejected on %s", personality, key);
    assert_string_equal(r->key, key);
    if (why && !strstr(r->why, why))
        fail_msg("%s: \"%s\" doesn't say \"%s\"", personality, r->why, why);
    assert_null(rfx_cand(m, personality));
    kx_match_free(m);
}

static void test_provider_class_takes_the_class_chain(void **state)
{
    struct rfx *f = *state;
    kx_reg_id ec = rfx_acpi(f, 0, "EC", "PNP0C09", NULL);
    rfx_kext(f, "com.example.a", "A", 1, "on-platform-device", rfx_pers("A", "IOPlatformDevice"),
             "on-pci", rfx_pers("B", "IOPCIDevice"), NULL);
    struct kx_match *m = rfx_match(f, ec, KX_MATCH_EXPLAIN);
    const struct kx_match_candidate *c = rfx_cand(m, "on-platform-device");
    assert_non_null(c);
    assert_int_equal(c->chain_distance, 1); /* IOACPIPlatformDevice -> IOPlatformDevice */
    /* a personality for another class isn't in this nub's chain at all */
    assert_null(rfx_cand(m, "on-pci"));
    assert_null(rfx_rej(m, "on-pci"));
    kx_match_free(m);
}

static void test_name_match_finds_hid_cid_and_ioname(void **state)
{
    struct rfx *f = *state;
    kx_reg_id bat = rfx_acpi(f, 0, "BAT0", "PNP0C0A", NULL);
    kx_reg_id tpd = rfx_acpi(f, 0, "TPD0", "ELAN1200", "PNP0C50");
    kx_reg_id nic = rfx_pci(f, 0, "GIGE", "1f,6", 0x8086, 0x15b8, 0x8086, 0, 0x020000, 0x10);
    plist_t battery = rfx_pers("AppleSmartBatteryManager", "IOACPIPlatformDevice");
    rfx_str(battery, "IONameMatch", "PNP0C0A");
    plist_t hid = rfx_pers("I2CHID", "IOACPIPlatformDevice");
    plist_dict_set_item(hid, "IONameMatch", rfx_strings("PNP0C51", "PNP0C50", NULL));
    plist_t byname = rfx_pers("ByIOName", "IOPCIDevice");
    rfx_str(byname, "IONameMatch", "pci8086,15b8");
    plist_t wild = rfx_pers("Wild", "IOService");
    rfx_str(wild, "IONameMatch", "ELAN*");
    rfx_kext(f, "com.example.n", "N", 1, "battery", battery, "hid", hid, "byname", byname, "wild",
             wild, NULL);
    expect_match(f, bat, "battery");
    expect_match(f, nic, "byname");
    expect_match(f, tpd, "wild");
    struct kx_match *m = rfx_match(f, tpd, 0);
    const struct kx_match_candidate *c = rfx_cand(m, "hid");
    assert_non_null(c);
    assert_string_equal(c->name_matched, "PNP0C50"); /* IONameMatched: the _CID did it */
    kx_match_free(m);
    expect_reject(f, tpd, "battery", "IONameMatch", "\"ELAN1200\", \"PNP0C50\"");
    expect_reject(f, bat, "wild", "IONameMatch", NULL);
}

static void test_name_match_compares_the_entry_name(void **state)
{
    struct rfx *f = *state;
    kx_reg_id ps2 = rfx_nub(f, 0, "IOPlatformDevice", "ps2controller", NULL, NULL);
    plist_t d = rfx_pers("ApplePS2Controller", "IOPlatformDevice");
    rfx_str(d, "IONameMatch", "ps2controller");
    rfx_kext(f, "com.example.ps2", "PS2", 1, "ps2", d, NULL);
    expect_match(f, ps2, "ps2");
}

static void test_property_match_dict_and_any_of_array(void **state)
{
    struct rfx *f = *state;
    plist_t props = plist_new_dict();
    rfx_str(props, "compatible", "PNP0C50");
    rfx_str(props, "name", "SYNA2B33");
    kx_reg_id nub = rfx_nub(f, 0, "VoodooI2CDeviceNub", "TPD0", NULL, props);
    plist_t one = rfx_pers("VoodooI2CHIDDevice", "VoodooI2CDeviceNub"), pm = plist_new_dict();
    rfx_str(pm, "compatible", "PNP0C50");
    plist_dict_set_item(one, "IOPropertyMatch", pm);
    plist_t any = rfx_pers("Any", "VoodooI2CDeviceNub"), arr = plist_new_array(),
            a = plist_new_dict(), b = plist_new_dict();
    rfx_str(a, "name", "ELAN0000");
    rfx_str(b, "name", "SYNA2B33");
    plist_array_append_item(arr, a);
    plist_array_append_item(arr, b);
    plist_dict_set_item(any, "IOPropertyMatch", arr);
    plist_t elan = rfx_pers("Elan", "VoodooI2CDeviceNub"), em = plist_new_dict();
    rfx_str(em, "name", "ELAN0000");
    plist_dict_set_item(elan, "IOPropertyMatch", em);
    rfx_kext(f, "com.example.i2c", "I2C", 1, "one", one, "any", any, "elan", elan, NULL);
    expect_match(f, nub, "one");
    expect_match(f, nub, "any");
    expect_reject(f, nub, "elan", "IOPropertyMatch", "\"name\" is \"SYNA2B33\" on the nub");
}

static void test_property_match_compares_types(void **state)
{
    struct rfx *f = *state;
    plist_t props = plist_new_dict();
    plist_dict_set_item(props, "compatible", rfx_data_str("PNP0C50"));
    kx_reg_id nub = rfx_nub(f, 0, "IOService", "TPD0", NULL, props);
    plist_t d = rfx_pers("X", "IOService"), pm = plist_new_dict();
    rfx_str(pm, "compatible", "PNP0C50");
    plist_dict_set_item(d, "IOPropertyMatch", pm);
    rfx_kext(f, "com.example.x", "X", 1, "x", d, NULL);
    /* a string never equals data holding the same bytes (OSString vs OSData) */
    expect_reject(f, nub, "x", "IOPropertyMatch", "<\"PNP0C50\">");
}

static void test_property_exists_match_any_name(void **state)
{
    struct rfx *f = *state;
    plist_t props = plist_new_dict();
    plist_dict_set_item(props, "built-in", rfx_data32(0));
    kx_reg_id nub = rfx_nub(f, 0, "IOService", "HDEF", NULL, props);
    plist_t yes = rfx_pers("Y", "IOService"), no = rfx_pers("N", "IOService");
    plist_dict_set_item(yes, "IOPropertyExistsMatch", rfx_strings("layout-id", "built-in", NULL));
    rfx_str(no, "IOPropertyExistsMatch", "layout-id");
    rfx_kext(f, "com.example.e", "E", 1, "yes", yes, "no", no, NULL);
    expect_match(f, nub, "yes");
    expect_reject(f, nub, "no", "IOPropertyExistsMatch", "layout-id");
}

static void test_resource_match_waits_until_published(void **state)
{
    struct rfx *f = *state;
    plist_t lilu = rfx_pers("Lilu", "IOResources"), alc = rfx_pers("AppleALC", "IOResources");
    rfx_str(lilu, "IOResourceMatch", "IOBSD");
    rfx_str(lilu, "IOMatchCategory", "Lilu");
    rfx_str(alc, "IOResourceMatch", "IOKit");
    rfx_str(alc, "IOMatchCategory", "AppleALC");
    rfx_kext(f, "as.vit9696.Lilu", "Lilu", 1, "as.vit9696.Lilu", lilu, NULL);
    rfx_kext(f, "as.vit9696.AppleALC", "AppleALC", 1, "as.vit9696.AppleALC", alc, NULL);
    kx_reg_id res = kx_reg_resources(f->reg);
    /* without explanations too, a waiting personality is reported: the runtime rematches */
    struct kx_match *m = rfx_match(f, res, 0);
    assert_string_equal(rfx_chosen(m, "AppleALC"), "as.vit9696.AppleALC");
    const struct kx_match_rejection *r = rfx_rej(m, "as.vit9696.Lilu");
    assert_non_null(r);
    assert_true(r->waiting);
    assert_string_equal(r->key, "IOResourceMatch");
    assert_string_equal(r->why, "waiting for resource IOBSD");
    kx_match_free(m);
    assert_int_equal(kx_reg_resource_publish(f->reg, "IOBSD", NULL), STATUS_SUCCESS);
    m = rfx_match(f, res, 0);
    assert_string_equal(rfx_chosen(m, "Lilu"), "as.vit9696.Lilu");
    assert_int_equal(kx_match_n_rejected(m), 0);
    kx_match_free(m);
}

static void test_resource_match_waits_on_other_nubs_too(void **state)
{
    struct rfx *f = *state;
    kx_reg_id lpc = rfx_pci(f, 0, "LPCB", "1f", 0x8086, 0xa305, 0x8086, 0, 0x060100, 0x10);
    plist_t sio = rfx_pers("SMCSuperIO", "IOPCIDevice");
    rfx_str(sio, "IOPCIClassMatch", "0x06010000&0xffff0000");
    rfx_str(sio, "IOResourceMatch", "ACPI");
    rfx_kext(f, "ru.joedm.SMCSuperIO", "SMCSuperIO", 1, "sio", sio, NULL);
    expect_reject(f, lpc, "sio", "IOResourceMatch", "waiting for resource ACPI");
    assert_int_equal(kx_reg_resource_publish(f->reg, "ACPI", NULL), STATUS_SUCCESS);
    expect_match(f, lpc, "sio");
}

static void test_parent_match_looks_up_to_root(void **state)
{
    struct rfx *f = *state;
    plist_t xprops = plist_new_dict();
    rfx_str(xprops, "pcidebug", "0:20:0");
    kx_reg_id xhc = rfx_nub(f, 0, "AppleUSBXHCIPCI", "XHC", NULL, xprops);
    kx_reg_id hub = rfx_nub(f, xhc, "AppleUSB20InternalHub", "HUB", NULL, NULL);
    kx_reg_id dev = rfx_usb_device(f, hub, "BT", 0x0a5c, 0x21e8, 0x0112, 0xff, 1, 1);
    plist_t yes = rfx_pers("Y", "IOUSBHostDevice"), pm = plist_new_dict(), inner = plist_new_dict();
    rfx_num(yes, "idVendor", 0x0a5c);
    rfx_num(yes, "idProduct", 0x21e8);
    rfx_str(inner, "pcidebug", "0:20:0");
    plist_dict_set_item(pm, "IOPropertyMatch", inner);
    plist_dict_set_item(yes, "IOParentMatch", pm);
    plist_t no = plist_copy(yes);
    plist_t npm = plist_new_dict();
    rfx_str(npm, "IOProviderClass", "AppleUSBEHCIPCI");
    plist_dict_set_item(no, "IOParentMatch", npm);
    rfx_kext(f, "com.example.p", "P", 1, "yes", yes, "no", no, NULL);
    expect_match(f, dev, "yes");
    expect_reject(f, dev, "no", "IOParentMatch", "no provider up to Root");
}

static void test_path_match_names_this_entry(void **state)
{
    struct rfx *f = *state;
    kx_reg_id a = rfx_nub(f, 0, "IOService", "A", "1", NULL);
    kx_reg_id b = rfx_nub(f, 0, "IOService", "B", NULL, NULL);
    plist_t d = rfx_pers("X", "IOService");
    rfx_str(d, "IOPathMatch", "IOService:/kx/A@1");
    rfx_kext(f, "com.example.path", "Path", 1, "x", d, NULL);
    expect_match(f, a, "x");
    expect_reject(f, b, "x", "IOPathMatch", "another entry");
}

static void test_location_match_string_and_provider_dictionary(void **state)
{
    struct rfx *f = *state;
    kx_reg_id bridge = rfx_nub(f, 0, "IOPCIBridge", "RP01", "1c", NULL);
    kx_reg_id nic = rfx_pci(f, bridge, "ARPT", "0", 0x14e4, 0x43a0, 0x106b, 0x0117, 0x028000, 3);
    kx_reg_id other = rfx_pci(f, 0, "GIGE", "1f,6", 0x8086, 0x15b8, 0x8086, 0, 0x020000, 0x10);
    plist_t s = rfx_pers("S", "IOPCIDevice"), d = rfx_pers("D", "IOPCIDevice"),
            ld = plist_new_dict();
    rfx_str(s, "IOLocationMatch", "0");
    rfx_str(ld, "IOLocationMatch", "1c");
    plist_dict_set_item(d, "IOLocationMatch", ld);
    rfx_kext(f, "com.example.loc", "Loc", 1, "s", s, "d", d, NULL);
    expect_match(f, nic, "s");
    expect_match(f, nic, "d");
    expect_reject(f, other, "s", "IOLocationMatch", "\"1f,6\"");
    expect_reject(f, other, "d", "IOLocationMatch", "provider");
}

static void test_registry_entry_id_matches_one_entry(void **state)
{
    struct rfx *f = *state;
    kx_reg_id a = rfx_nub(f, 0, "IOService", "A", NULL, NULL);
    kx_reg_id b = rfx_nub(f, 0, "IOService", "B", NULL, NULL);
    plist_t d = rfx_pers("X", "IOService");
    rfx_num(d, "IORegistryEntryID", a);
    rfx_kext(f, "com.example.id", "Id", 1, "x", d, NULL);
    expect_match(f, a, "x");
    expect_reject(f, b, "x", "IORegistryEntryID", NULL);
}

static void test_unknown_match_key_is_rejected_by_name(void **state)
{
    struct rfx *f = *state;
    kx_reg_id nic = rfx_pci(f, 0, "GIGE", "1f,6", 0x8086, 0x15b8, 0x8086, 0, 0x020000, 0x10);
    plist_t d = rfx_pers("IntelMausi", "IOPCIDevice");
    rfx_str(d, "IOPCIMatch", "0x15b88086");
    rfx_str(d, "IOFirmwareMatch", "v2");
    plist_t ok = rfx_pers("Other", "IOPCIDevice");
    rfx_str(ok, "IOPCIMatch", "0x15b88086");
    rfx_str(ok, "IOMatchDefer", "yes"); /* starts with IO, doesn't end in Match: a property */
    rfx_kext(f, "com.example.u", "U", 1, "mausi", d, "other", ok, NULL);
    expect_reject(f, nic, "mausi", "IOFirmwareMatch", "unknown matching key");
    expect_match(f, nic, "other");
    /* runtime passes (no explanations) never offer it either */
    struct kx_match *m = rfx_match(f, nic, 0);
    assert_null(rfx_cand(m, "mausi"));
    kx_match_free(m);
}

static void test_key_of_the_wrong_type_is_rejected(void **state)
{
    struct rfx *f = *state;
    kx_reg_id nic = rfx_pci(f, 0, "GIGE", "1f,6", 0x8086, 0x15b8, 0x8086, 0, 0x020000, 0x10);
    plist_t d = rfx_pers("X", "IOPCIDevice");
    rfx_num(d, "IONameMatch", 5);
    rfx_kext(f, "com.example.t", "T", 1, "x", d, NULL);
    expect_reject(f, nic, "x", "IONameMatch", "must be a string or an array of strings");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rfx_setup, rfx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_provider_class_takes_the_class_chain),
        T(test_name_match_finds_hid_cid_and_ioname),
        T(test_name_match_compares_the_entry_name),
        T(test_property_match_dict_and_any_of_array),
        T(test_property_match_compares_types),
        T(test_property_exists_match_any_name),
        T(test_resource_match_waits_until_published),
        T(test_resource_match_waits_on_other_nubs_too),
        T(test_parent_match_looks_up_to_root),
        T(test_path_match_names_this_entry),
        T(test_location_match_string_and_provider_dictionary),
        T(test_registry_entry_id_matches_one_entry),
        T(test_unknown_match_key_is_rejected_by_name),
        T(test_key_of_the_wrong_type_is_rejected),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
