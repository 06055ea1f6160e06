/* test_match_usb.c — IOUSBFamily's USB Common Class Specification key sets on a Broadcom
 * BCM20702A0 Bluetooth controller (0a5c:21e8, class 0xFF) and a HID interface: the score of
 * each set, IOProbeScore clamping, wildcards, idProductArray, idProductMask, vendor-only
 * personalities refused, and legacy IOUSBDevice personalities matched as IOUSBHostDevice. */
#include "reg_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#define BRCM 0x0a5c
#define BT   0x21e8

static kx_reg_id bt_nub(struct rfx *f)
{
    return rfx_usb_device(f, 0, "BCM20702A0", BRCM, BT, 0x0112, 0xff, 0x01, 0x01);
}

static plist_t usb(const char *provider, ...)
{
    plist_t d = rfx_pers("Driver", provider);
    va_list ap;
    va_start(ap, provider);
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *))
        rfx_num(d, k, va_arg(ap, unsigned));
    va_end(ap);
    return d;
}

/* The candidate's score; fails the test (with the reason) when it doesn't match. */
static int64_t score_of(struct rfx *f, kx_reg_id nub, const char *personality)
{
    struct kx_match *m = rfx_match(f, nub, KX_MATCH_EXPLAIN);
    const struct kx_match_candidate *c = rfx_cand(m, personality);
    if (!c) {
        const struct kx_match_rejection *r = rfx_rej(m, personality);
        fail_msg("%s: rejected on %s: %s", personality, r ? r->key : "?", r ? r->why : "");
    }
    int64_t s = c->score;
    kx_match_free(m);
    return s;
}

static void expect_reject(struct rfx *f, kx_reg_id nub, const char *personality, const char *key,
                          const char *why)
{
    struct kx_match *m = rfx_match(f, nub, KX_MATCH_EXPLAIN);
    const struct kx_match_rejection *r = rfx_rej(m, personality);
    if (!r)
        fail_msg("%s should be rejected", personality);
    assert_string_equal(r->key, key);
    if (why && !strstr(r->why, why))
        fail_msg("\"%s\" doesn't say \"%s\"", r->why, why);
    kx_match_free(m);
}

static void test_vendor_and_product_score_90000_plus_probe_score(void **state)
{
    struct rfx *f = *state;
    kx_reg_id nub = bt_nub(f);
    plist_t d =
        usb("IOUSBHostDevice", "idVendor", BRCM, "idProduct", BT, "IOProbeScore", 4000, NULL);
    rfx_kext(f, "as.acidanthera.BrcmPatchRAM3", "BrcmPatchRAM3", 1, "0a5c_21e8", d, NULL);
    assert_int_equal(score_of(f, nub, "0a5c_21e8"), 94000);
}

static void test_vendor_product_and_release_score_100000(void **state)
{
    struct rfx *f = *state;
    kx_reg_id nub = bt_nub(f);
    rfx_kext(f, "com.example.u", "U", 1, "exact",
             usb("IOUSBHostDevice", "idVendor", BRCM, "idProduct", BT, "bcdDevice", 0x0112, NULL),
             "other-release",
             usb("IOUSBHostDevice", "idVendor", BRCM, "idProduct", BT, "bcdDevice", 0x0113, NULL),
             NULL);
    assert_int_equal(score_of(f, nub, "exact"), 100000);
    /* a release given must match, in every set that allows it */
    expect_reject(f, nub, "other-release", "bcdDevice", "275 wanted, the nub's is 274");
}

static void test_vendor_only_personality_is_refused(void **state)
{
    struct rfx *f = *state;
    kx_reg_id nub = bt_nub(f);
    rfx_kext(f, "com.example.v", "V", 1, "vendor", usb("IOUSBHostDevice", "idVendor", BRCM, NULL),
             NULL);
    expect_reject(f, nub, "vendor", "idVendor", "vendor-only personalities are refused");
}

static void test_vendor_specific_sets_need_class_0xff(void **state)
{
    struct rfx *f = *state;
    kx_reg_id bt = bt_nub(f);
    kx_reg_id cam = rfx_usb_device(f, 0, "Camera", 0x05ac, 0x8600, 0x0100, 0xef, 0x02, 0x01);
    rfx_kext(
        f, "com.example.vs", "VS", 1, "sub-proto",
        usb("IOUSBHostDevice", "idVendor", BRCM, "bDeviceSubClass", 1, "bDeviceProtocol", 1, NULL),
        "sub", usb("IOUSBHostDevice", "idVendor", BRCM, "bDeviceSubClass", 1, NULL), "class",
        usb("IOUSBHostDevice", "bDeviceClass", 0xff, "bDeviceSubClass", 1, NULL), "misc",
        usb("IOUSBHostDevice", "bDeviceClass", 0xef, "bDeviceSubClass", 2, "bDeviceProtocol", 1,
            NULL),
        NULL);
    assert_int_equal(score_of(f, bt, "sub-proto"), 80000);
    assert_int_equal(score_of(f, bt, "sub"), 70000);
    /* class sets apply to other classes only */
    expect_reject(f, bt, "class", "bDeviceClass", "no key set");
    assert_int_equal(score_of(f, cam, "misc"), 60000);
}

static void test_interface_class_sets(void **state)
{
    struct rfx *f = *state;
    kx_reg_id kbd = rfx_usb_device(f, 0, "Keyboard", 0x046d, 0xc31c, 0x6400, 0, 0, 0);
    kx_reg_id hid = rfx_usb_interface(f, kbd, 0x046d, 0xc31c, 1, 0, 3, 1, 1);
    rfx_kext(f, "com.example.hid", "HID", 1, "boot-keyboard",
             usb("IOUSBHostInterface", "bInterfaceClass", 3, "bInterfaceSubClass", 1,
                 "bInterfaceProtocol", 1, NULL),
             "any-boot",
             usb("IOUSBHostInterface", "bInterfaceClass", 3, "bInterfaceSubClass", 1, NULL),
             "this-interface",
             usb("IOUSBHostInterface", "idVendor", 0x046d, "idProduct", 0xc31c,
                 "bConfigurationValue", 1, "bInterfaceNumber", 0, NULL),
             "no-interface-number",
             usb("IOUSBHostInterface", "idVendor", 0x046d, "idProduct", 0xc31c, NULL), NULL);
    assert_int_equal(score_of(f, hid, "boot-keyboard"), 60000);
    assert_int_equal(score_of(f, hid, "any-boot"), 50000);
    assert_int_equal(score_of(f, hid, "this-interface"), 90000);
    expect_reject(f, hid, "no-interface-number", "idVendor", "bInterfaceNumber");
}

static void test_probe_score_is_clamped_below_the_next_set(void **state)
{
    struct rfx *f = *state;
    kx_reg_id nub = bt_nub(f);
    rfx_kext(f, "com.example.c", "C", 1, "loud",
             usb("IOUSBHostDevice", "idVendor", BRCM, "idProduct", BT, "IOProbeScore", 70000, NULL),
             NULL);
    assert_int_equal(score_of(f, nub, "loud"), 99000);
}

static void test_wildcards_mask_and_product_array(void **state)
{
    struct rfx *f = *state;
    kx_reg_id nub = bt_nub(f);
    plist_t wild = usb("IOUSBHostDevice", "idVendor", BRCM, NULL);
    rfx_str(wild, "idProduct", "*");
    plist_t masked = usb("IOUSBHostDevice", "idVendor", BRCM, "idProduct", 0x21e0, "idProductMask",
                         0xfff0, NULL);
    plist_t arr = usb("IOUSBHostDevice", "idVendor", BRCM, NULL), ids = plist_new_array();
    plist_array_append_item(ids, plist_new_uint(0x21e6));
    plist_array_append_item(ids, plist_new_uint(BT));
    plist_dict_set_item(arr, "idProductArray", ids);
    plist_t missing = usb("IOUSBHostDevice", "idVendor", BRCM, NULL), ids2 = plist_new_array();
    plist_array_append_item(ids2, plist_new_uint(0x21e6));
    plist_dict_set_item(missing, "idProductArray", ids2);
    rfx_kext(f, "com.example.w", "W", 1, "wild", wild, "masked", masked, "array", arr, "missing",
             missing, NULL);
    assert_int_equal(score_of(f, nub, "wild"), 89000);
    assert_int_equal(score_of(f, nub, "masked"), 89500);
    assert_int_equal(score_of(f, nub, "array"), 90000);
    expect_reject(f, nub, "missing", "idProductArray", "8680 is not in the array");
}

static void test_legacy_usb_device_personality_matches_host_device(void **state)
{
    struct rfx *f = *state;
    kx_reg_id nub = bt_nub(f);
    plist_t d = usb("IOUSBDevice", "idVendor", BRCM, "idProduct", BT, "IOProbeScore", 4000, NULL);
    rfx_kext(f, "as.acidanthera.BrcmPatchRAM", "BrcmPatchRAM", 1, "0a5c_21e8", d, NULL);
    struct kx_match *m = rfx_match(f, nub, 0);
    const struct kx_match_candidate *c = rfx_cand(m, "0a5c_21e8");
    assert_non_null(c);
    assert_string_equal(kx_personality_provider_class(c->personality), "IOUSBDevice");
    assert_string_equal(kx_personality_matched_as(c->personality), "IOUSBHostDevice");
    assert_int_equal(c->chain_distance, 0);
    kx_match_free(m);
}

static void test_usb_nub_refuses_personalities_without_usb_keys(void **state)
{
    struct rfx *f = *state;
    kx_reg_id nub = bt_nub(f);
    plist_t plain = rfx_pers("Plain", "IOService");
    plist_t init = rfx_pers("IOUSBUserClientInit", "IOUSBHostDevice");
    rfx_str(init, "IOMatchCategory", "IOUSBUserClientInit");
    rfx_kext(f, "com.example.p", "P", 1, "plain", plain, "init", init, NULL);
    expect_reject(f, nub, "plain", "IOProviderClass", "has none");
    assert_int_equal(score_of(f, nub, "init"), 9000); /* IOUSBFamily's own shortcut */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rfx_setup, rfx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_vendor_and_product_score_90000_plus_probe_score),
        T(test_vendor_product_and_release_score_100000),
        T(test_vendor_only_personality_is_refused),
        T(test_vendor_specific_sets_need_class_0xff),
        T(test_interface_class_sets),
        T(test_probe_score_is_clamped_below_the_next_set),
        T(test_wildcards_mask_and_product_array),
        T(test_legacy_usb_device_personality_matches_host_device),
        T(test_usb_nub_refuses_personalities_without_usb_keys),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
