/* test_match_order.c — what matching decides once keys pass: score order and its ties (the
 * nub's own class before a superclass, then catalogue order), one chosen per match
 * category, the probe-decline / start-failure fallback, IOProviderMergeProperties, codeless
 * kexts, injector personalities, IOKitDebug in safe boot, categories already held, classes
 * declared by kexts (stacking), catalogue removal, and the index agreeing with a full scan. */
#include "reg_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

static plist_t i219(const char *ioclass, uint64_t score, const char *category)
{
    plist_t d = rfx_pers(ioclass, "IOPCIDevice");
    rfx_str(d, "IOPCIMatch", "0x15b88086");
    if (score)
        rfx_num(d, "IOProbeScore", score);
    if (category)
        rfx_str(d, "IOMatchCategory", category);
    return d;
}

static kx_reg_id nic(struct rfx *f)
{
    return rfx_pci(f, 0, "GIGE", "1f,6", 0x8086, 0x15b8, 0x8086, 0x2070, 0x020000, 0x10);
}

static const char *name_at(const struct kx_match *m, size_t i)
{
    return kx_personality_name(kx_match_candidate(m, i)->personality);
}

static void test_candidates_are_ordered_by_probe_score(void **state)
{
    struct rfx *f = *state;
    kx_reg_id n = nic(f);
    rfx_kext(f, "com.example.a", "A", 1, "low", i219("Low", 100, NULL), "default",
             i219("Def", 0, NULL), "high", i219("High", 2000, NULL), NULL);
    struct kx_match *m = rfx_match(f, n, 0);
    assert_int_equal(kx_match_n_candidates(m), 3);
    assert_string_equal(name_at(m, 0), "high");
    assert_string_equal(name_at(m, 1), "low");
    assert_string_equal(name_at(m, 2), "default"); /* IOProbeScore defaults to 0 */
    assert_string_equal(rfx_chosen(m, "IODefaultMatchCategory"), "high");
    kx_match_free(m);
}

static void test_tie_prefers_the_nubs_own_class(void **state)
{
    struct rfx *f = *state;
    kx_reg_id n = nic(f);
    plist_t generic = rfx_pers("Generic", "IOService");
    rfx_num(generic, "IOProbeScore", 1000);
    /* "A" sorts first by bundle path, but IOService is a superclass of IOPCIDevice */
    rfx_kext(f, "com.example.a", "A", 1, "generic", generic, NULL);
    rfx_kext(f, "com.example.b", "B", 1, "specific", i219("Specific", 1000, NULL), NULL);
    struct kx_match *m = rfx_match(f, n, 0);
    assert_string_equal(name_at(m, 0), "specific");
    assert_string_equal(name_at(m, 1), "generic");
    kx_match_free(m);
}

static void test_tie_then_follows_catalogue_order(void **state)
{
    struct rfx *f = *state;
    kx_reg_id n = nic(f);
    /* added out of order: catalogue order is bundle path, then Info.plist order */
    rfx_kext(f, "com.example.z", "Zeta", 1, "z1", i219("Z", 500, NULL), NULL);
    rfx_kext(f, "com.example.a", "Alpha", 1, "a2", i219("A", 500, NULL), "a1", i219("A", 500, NULL),
             NULL);
    struct kx_match *m = rfx_match(f, n, 0);
    assert_string_equal(name_at(m, 0), "a2");
    assert_string_equal(name_at(m, 1), "a1");
    assert_string_equal(name_at(m, 2), "z1");
    kx_match_free(m);
}

static void test_one_chosen_per_category(void **state)
{
    struct rfx *f = *state;
    kx_reg_id n = nic(f);
    rfx_kext(f, "com.example.a", "A", 1, "driver", i219("Driver", 1000, NULL), "driver2",
             i219("Driver2", 500, NULL), "power", i219("Power", 0, "PowerManager"), NULL);
    struct kx_match *m = rfx_match(f, n, 0);
    assert_string_equal(rfx_chosen(m, "IODefaultMatchCategory"), "driver");
    assert_string_equal(rfx_chosen(m, "PowerManager"), "power");
    assert_false(rfx_cand(m, "driver2")->chosen);
    kx_match_free(m);
}

static void test_probe_decline_and_start_failure_offer_the_next(void **state)
{
    struct rfx *f = *state;
    kx_reg_id n = nic(f);
    rfx_kext(f, "com.example.a", "A", 1, "first", i219("First", 3000, NULL), "second",
             i219("Second", 2000, NULL), "other", i219("Other", 2500, "Other"), "third",
             i219("Third", 1000, NULL), NULL);
    struct kx_match *m = rfx_match(f, n, 0);
    size_t first = rfx_cand_index(m, "first"), next = 0;
    /* probe declined */
    assert_int_equal(kx_match_decline(m, first, &next), STATUS_SUCCESS);
    assert_int_equal(next, rfx_cand_index(m, "second"));
    assert_true(rfx_cand(m, "first")->declined);
    assert_string_equal(rfx_chosen(m, "IODefaultMatchCategory"), "second");
    assert_string_equal(rfx_chosen(m, "Other"), "other"); /* another category is untouched */
    /* start failed */
    assert_int_equal(kx_match_decline(m, next, &next), STATUS_SUCCESS);
    assert_string_equal(name_at(m, next), "third");
    assert_int_equal(kx_match_decline(m, next, &next), STATUS_SUCCESS);
    assert_int_equal(next, SIZE_MAX);
    assert_null(rfx_chosen(m, "IODefaultMatchCategory"));
    /* only a chosen candidate can decline */
    assert_int_equal(kx_match_decline(m, first, NULL), STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_match_decline(m, 99, NULL), STATUS_INVALID_PARAMETER);
    kx_match_free(m);
}

static plist_t merge_pers(const char *ioclass)
{
    plist_t d = rfx_pers(ioclass, "AppleUSBXHCIPCI"), merge = plist_new_dict(),
            ports = plist_new_dict(), hs01 = plist_new_dict();
    rfx_num(hs01, "UsbConnector", 3);
    plist_dict_set_item(hs01, "port", rfx_data32(1));
    plist_dict_set_item(ports, "HS01", hs01);
    plist_dict_set_item(merge, "ports", ports);
    plist_dict_set_item(merge, "port-count", rfx_data32(1));
    plist_dict_set_item(d, "IOProviderMergeProperties", merge);
    return d;
}

static void test_codeless_kext_merges_and_claims_no_category(void **state)
{
    struct rfx *f = *state;
    kx_reg_id xhc = rfx_nub(f, 0, "AppleUSBXHCIPCI", "XHC", NULL, NULL);
    rfx_kext(f, "com.example.USBMap", "USBMap", 0, "XHC", merge_pers("AppleUSBHostMergeProperties"),
             NULL);
    plist_t driver = rfx_pers("USBDriver", "AppleUSBXHCIPCI");
    rfx_kext(f, "com.example.driver", "Driver", 1, "driver", driver, NULL);
    struct kx_match *m = rfx_match(f, xhc, 0);
    const struct kx_match_candidate *c = rfx_cand(m, "XHC");
    assert_non_null(c);
    assert_null(c->category);
    assert_false(c->chosen);
    assert_non_null(c->merge);
    assert_true(kx_personality_merge_only(c->personality));
    assert_string_equal(rfx_chosen(m, "IODefaultMatchCategory"), "driver");
    assert_int_equal(kx_match_apply_merges(f->reg, m), STATUS_SUCCESS);
    kx_match_free(m);
    plist_t ports = NULL;
    assert_int_equal(kx_reg_prop_copy(f->reg, xhc, "ports", &ports), STATUS_SUCCESS);
    assert_non_null(plist_dict_get_item(ports, "HS01"));
    plist_free(ports);
}

static void test_injector_personality_competes_for_its_bundle(void **state)
{
    struct rfx *f = *state;
    kx_reg_id bt = rfx_usb_device(f, 0, "BCM20702A0", 0x0a5c, 0x21e8, 0x0112, 0xff, 1, 1);
    plist_t d = rfx_pers("BroadcomBluetoothHostControllerUSBTransport", "IOUSBHostDevice");
    rfx_str(d, "CFBundleIdentifier", "com.apple.iokit.BroadcomBluetoothHostControllerUSBTransport");
    rfx_num(d, "idVendor", 0x0a5c);
    rfx_num(d, "idProduct", 0x21e8);
    rfx_num(d, "IOProbeScore", 3000);
    rfx_kext(f, "as.acidanthera.injector.BrcmBluetoothInjector", "BrcmBluetoothInjector", 0,
             "0a5c_21e8", d, NULL);
    struct kx_match *m = rfx_match(f, bt, 0);
    const struct kx_match_candidate *c = rfx_cand(m, "0a5c_21e8");
    assert_non_null(c);
    assert_false(kx_personality_merge_only(c->personality));
    assert_string_equal(kx_personality_code_bundle(c->personality),
                        "com.apple.iokit.BroadcomBluetoothHostControllerUSBTransport");
    assert_true(c->chosen);
    kx_match_free(m);
}

static void test_held_category_is_not_offered_again(void **state)
{
    struct rfx *f = *state;
    kx_reg_id n = nic(f);
    rfx_kext(f, "com.example.a", "A", 1, "driver", i219("Driver", 0, NULL), "extra",
             i219("Extra", 0, "Extra"), NULL);
    plist_t props = plist_new_dict();
    rfx_str(props, "IOMatchCategory", "IODefaultMatchCategory");
    rfx_nub(f, n, "IntelMausi", "IntelMausi", NULL, props); /* a driver already started */
    struct kx_match *m = rfx_match(f, n, 0);
    assert_null(rfx_chosen(m, "IODefaultMatchCategory"));
    assert_string_equal(rfx_chosen(m, "Extra"), "extra");
    kx_match_free(m);
}

static void test_iokitdebug_personalities_are_withheld(void **state)
{
    struct rfx *f = *state;
    kx_reg_id n = nic(f);
    plist_t debug = i219("Debug", 5000, NULL);
    rfx_num(debug, "IOKitDebug", 0x2);
    plist_t quiet = i219("Quiet", 0, NULL);
    rfx_num(quiet, "IOKitDebug", 0); /* zero means no debugging: not withheld */
    rfx_kext(f, "com.example.d", "D", 1, "debug", debug, "quiet", quiet, NULL);
    struct kx_match *m = rfx_match(f, n, KX_MATCH_EXPLAIN);
    assert_null(rfx_cand(m, "debug"));
    assert_string_equal(rfx_rej(m, "debug")->key, "IOKitDebug");
    assert_string_equal(rfx_chosen(m, "IODefaultMatchCategory"), "quiet");
    kx_match_free(m);
}

static void test_iokitdebug_personalities_match_outside_safe_boot(void **state)
{
    struct rfx *f = *state;
    kx_reg_id n = nic(f);
    plist_t debug = i219("Debug", 5000, NULL);
    rfx_num(debug, "IOKitDebug", 0x2);
    rfx_kext(f, "com.example.d", "D", 1, "debug", debug, NULL);
    struct kx_match *m = rfx_match(f, n, 0);
    assert_string_equal(rfx_chosen(m, "IODefaultMatchCategory"), "debug");
    kx_match_free(m);
}

static void test_kext_declared_classes_stack(void **state)
{
    struct rfx *f = *state;
    /* VoodooI2C publishes VoodooI2CDeviceNub; VoodooI2CHID matches it */
    plist_t info = plist_new_dict(), classes = plist_new_dict(), pers = plist_new_dict();
    rfx_str(classes, "VoodooI2CDeviceNub", "IOService");
    rfx_str(classes, "VoodooI2CControllerNub", "IOService");
    plist_dict_set_item(info, "KXClasses", classes);
    plist_dict_set_item(pers, "VoodooI2CControllerDriver",
                        rfx_pers("VoodooI2CControllerDriver", "VoodooI2CControllerNub"));
    plist_dict_set_item(info, "IOKitPersonalities", pers);
    assert_int_equal(kx_catalog_add_info(f->cat, "com.alexandred.VoodooI2C", "/L/E/VoodooI2C.kext",
                                         info, 1, NULL),
                     STATUS_SUCCESS);
    plist_free(info);
    assert_true(kx_classes_is_known(f->classes, "VoodooI2CDeviceNub"));
    plist_t hid = rfx_pers("VoodooI2CHIDDevice", "VoodooI2CDeviceNub"), pm = plist_new_dict();
    rfx_str(pm, "compatible", "PNP0C50");
    plist_dict_set_item(hid, "IOPropertyMatch", pm);
    rfx_num(hid, "IOProbeScore", 100);
    rfx_kext(f, "com.alexandred.VoodooI2CHID", "VoodooI2CHID", 1, "VoodooI2CHIDDevice", hid, NULL);
    kx_reg_id ctrl = rfx_pci(f, 0, "I2C0", "15", 0x8086, 0x9de8, 0x8086, 0, 0x0c8000, 0x30);
    kx_reg_id cnub =
        rfx_nub(f, ctrl, "VoodooI2CControllerNub", "VoodooI2CControllerNub", NULL, NULL);
    plist_t props = plist_new_dict();
    rfx_str(props, "compatible", "PNP0C50");
    kx_reg_id dnub = rfx_nub(f, cnub, "VoodooI2CDeviceNub", "TPD0", NULL, props);
    struct kx_match *m = rfx_match(f, cnub, 0);
    assert_string_equal(rfx_chosen(m, "IODefaultMatchCategory"), "VoodooI2CControllerDriver");
    kx_match_free(m);
    m = rfx_match(f, dnub, 0);
    assert_string_equal(rfx_chosen(m, "IODefaultMatchCategory"), "VoodooI2CHIDDevice");
    kx_match_free(m);
    /* the declaring kext goes: its classes go with it */
    assert_int_equal(kx_catalog_remove_kext(f->cat, "com.alexandred.VoodooI2C"), 1);
    assert_false(kx_classes_is_known(f->classes, "VoodooI2CDeviceNub"));
}

static void test_class_table_rules(void **state)
{
    struct rfx *f = *state;
    assert_true(kx_classes_conforms(f->classes, "IOACPIPlatformDevice", "IOService"));
    assert_string_equal(kx_classes_superclass(f->classes, "IOPCI2PCIBridge"), "IOPCIBridge");
    assert_int_equal(kx_classes_declare(f->classes, "IOPCIDevice", "IOService", "com.x"),
                     STATUS_SUCCESS); /* the same declaration again */
    assert_int_equal(kx_classes_declare(f->classes, "IOPCIDevice", "IOPlatformDevice", "com.x"),
                     STATUS_OBJECT_NAME_COLLISION);
    assert_int_equal(kx_classes_declare(f->classes, "IOService", "IOPCIDevice", "com.x"),
                     STATUS_OBJECT_NAME_COLLISION);
    assert_int_equal(kx_classes_declare(f->classes, "A", "B", "com.x"), STATUS_SUCCESS);
    assert_int_equal(kx_classes_declare(f->classes, "B", "A", "com.x"), STATUS_INVALID_PARAMETER);
    kx_classes_forget(f->classes, "com.x");
    assert_false(kx_classes_is_known(f->classes, "A"));
    assert_true(kx_classes_is_known(f->classes, "IOPCIDevice")); /* built in: stays */
    assert_string_equal(kx_classes_matched_as(f->classes, "IOUSBInterface"), "IOUSBHostInterface");
    assert_string_equal(kx_classes_matched_as(f->classes, "IOPCIDevice"), "IOPCIDevice");
}

static void test_removed_kext_no_longer_matches(void **state)
{
    struct rfx *f = *state;
    kx_reg_id n = nic(f);
    rfx_kext(f, "as.acidanthera.mieze.IntelMausi", "IntelMausi", 1, "IntelMausi",
             i219("IntelMausi", 1000, NULL), NULL);
    struct kx_match *before = rfx_match(f, n, 0);
    assert_int_equal(kx_catalog_remove_kext(f->cat, "as.acidanthera.mieze.IntelMausi"), 1);
    struct kx_match *after = rfx_match(f, n, 0);
    assert_int_equal(kx_match_n_candidates(after), 0);
    /* an earlier result keeps its personalities */
    assert_string_equal(kx_personality_ioclass(kx_match_candidate(before, 0)->personality),
                        "IntelMausi");
    kx_match_free(before);
    kx_match_free(after);
}

static void test_catalogue_refuses_personalities_without_ioclass(void **state)
{
    struct rfx *f = *state;
    plist_t bad = plist_new_dict();
    rfx_str(bad, "IOProviderClass", "IOPCIDevice");
    assert_int_equal(rfx_kext(f, "com.example.bad", "Bad", 1, "no-class", bad, "good",
                              i219("Good", 0, NULL), NULL),
                     1);
    assert_int_equal(kx_catalog_n_problems(f->cat), 1);
    assert_non_null(
        strstr(kx_catalog_problem(f->cat, 0),
               "Bad.kext: IOKitPersonalities: no-class: Missing or bad \"IOClass\" key"));
}

static void test_index_and_full_scan_agree(void **state)
{
    struct rfx *f = *state;
    kx_reg_id n = nic(f), ec = rfx_acpi(f, 0, "EC", "PNP0C09", NULL);
    kx_reg_id bt = rfx_usb_device(f, 0, "BT", 0x0a5c, 0x21e8, 0x0112, 0xff, 1, 1);
    plist_t byname = rfx_pers("N", "IOACPIPlatformDevice"), cls = rfx_pers("C", "IOPCIDevice"),
            usbp = rfx_pers("U", "IOUSBHostDevice"), other = rfx_pers("O", "IOPCIDevice");
    rfx_str(byname, "IONameMatch", "PNP0C09");
    rfx_str(cls, "IOPCIClassMatch", "0x02000000&0xff000000");
    rfx_num(usbp, "idVendor", 0x0a5c);
    rfx_num(usbp, "idProduct", 0x21e8);
    rfx_str(other, "IOPCIMatch", "0x816810ec");
    rfx_kext(f, "com.example.i", "I", 1, "byname", byname, "class", cls, "usb", usbp, "other",
             other, "mausi", i219("M", 0, NULL), NULL);
    kx_reg_id nubs[] = {n, ec, bt};
    for (size_t i = 0; i < 3; i++) {
        struct kx_match *fast = rfx_match(f, nubs[i], 0),
                        *full = rfx_match(f, nubs[i], KX_MATCH_EXPLAIN);
        assert_int_equal(kx_match_n_candidates(fast), kx_match_n_candidates(full));
        for (size_t j = 0; j < kx_match_n_candidates(fast); j++)
            assert_ptr_equal(kx_match_candidate(fast, j)->personality,
                             kx_match_candidate(full, j)->personality);
        assert_true(kx_match_n_candidates(fast) > 0);
        kx_match_free(fast);
        kx_match_free(full);
    }
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rfx_setup, rfx_teardown)
#define S(fn) cmocka_unit_test_setup_teardown(fn, rfx_setup_safe_boot, rfx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_candidates_are_ordered_by_probe_score),
        T(test_tie_prefers_the_nubs_own_class),
        T(test_tie_then_follows_catalogue_order),
        T(test_one_chosen_per_category),
        T(test_probe_decline_and_start_failure_offer_the_next),
        T(test_codeless_kext_merges_and_claims_no_category),
        T(test_injector_personality_competes_for_its_bundle),
        T(test_held_category_is_not_offered_again),
        S(test_iokitdebug_personalities_are_withheld),
        T(test_iokitdebug_personalities_match_outside_safe_boot),
        T(test_kext_declared_classes_stack),
        T(test_class_table_rules),
        T(test_removed_kext_no_longer_matches),
        T(test_catalogue_refuses_personalities_without_ioclass),
        T(test_index_and_full_scan_agree),
    };
#undef T
#undef S
    return cmocka_run_group_tests(tests, NULL, NULL);
}
