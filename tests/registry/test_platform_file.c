/* test_platform_file.c — described platforms: a tree in `ioreg -a`'s XML form read into the
 * registry (Root's platform expert and IOResources adopted, ids renumbered), written back,
 * and read again into an equal tree; malformed files refused with the file, path and key
 * named, and nothing published. */
#include "reg_fixture.h"

#include <kx/platform.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n"
#define TAIL "</plist>\n"

/* A Mac-like tree: Root, the platform expert, IOResources with IOBSD, a PCI bridge with an
 * Intel I219 and every property type. */
static const char machine[] =
    HEAD "<dict>\n"
         " <key>IOObjectClass</key><string>IORegistryEntry</string>\n"
         " <key>IORegistryEntryName</key><string>Root</string>\n"
         " <key>IORegistryEntryID</key><integer>4294967552</integer>\n"
         " <key>IOKitBuildVersion</key><string>Darwin Kernel Version 24.4.0</string>\n"
         " <key>IORegistryEntryChildren</key><array>\n"
         "  <dict>\n"
         "   <key>IOObjectClass</key><string>IOPlatformExpertDevice</string>\n"
         "   <key>IORegistryEntryName</key><string>MacBookPro15,1</string>\n"
         "   <key>model</key><data>TWFjQm9va1BybzE1LDEA</data>\n"
         "   <key>IORegistryEntryChildren</key><array>\n"
         "    <dict>\n"
         "     <key>IOObjectClass</key><string>IOResources</string>\n"
         "     <key>IORegistryEntryName</key><string>IOResources</string>\n"
         "     <key>IOBSD</key><string>IOService</string>\n"
         "     <key>IOServiceState</key><integer>30</integer>\n"
         "    </dict>\n"
         "    <dict>\n"
         "     <key>IOObjectClass</key><string>IOPCIBridge</string>\n"
         "     <key>IORegistryEntryName</key><string>PCI0</string>\n"
         "     <key>IORegistryEntryLocation</key><string>0</string>\n"
         "     <key>IORegistryEntryChildren</key><array>\n"
         "      <dict>\n"
         "       <key>IOObjectClass</key><string>IOPCIDevice</string>\n"
         "       <key>IORegistryEntryName</key><string>GIGE</string>\n"
         "       <key>IORegistryEntryLocation</key><string>1f,6</string>\n"
         "       <key>IORegistryEntryID</key><integer>4660</integer>\n"
         "       <key>vendor-id</key><data>hoAAAA==</data>\n"
         "       <key>device-id</key><data>uBUAAA==</data>\n"
         "       <key>IOName</key><string>pci8086,15b8</string>\n"
         "       <key>built-in</key><true/>\n"
         "       <key>IOPCIExpressLinkStatus</key><integer>4113</integer>\n"
         "       <key>IOInterruptSpecifiers</key><array><data>EAAAAAcAAAA=</data></array>\n"
         "       <key>IOPCIResourced</key><false/>\n"
         "       <key>IOPowerManagement</key><dict><key>CurrentPowerState</key><integer>2</integer>"
         "</dict>\n"
         "      </dict>\n"
         "     </array>\n"
         "    </dict>\n"
         "   </array>\n"
         "  </dict>\n"
         " </array>\n"
         "</dict>\n" TAIL;

static char *write_tmp(const char *text)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;
    assert_true(asprintf(&path, "%s/kx-platform-XXXXXX", base && *base ? base : "/tmp") > 0);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static kx_status read_text(struct kx_reg *r, const char *text, char *why, size_t len)
{
    char *path = write_tmp(text);
    kx_status st = kx_platform_file_read(r, path, why, len);
    unlink(path);
    free(path);
    return st;
}

/* Asserts the trees below a in ra and b in rb are equal: class, name, location, properties
 * and children in order. */
static void assert_same_tree(struct kx_reg *ra, kx_reg_id a, struct kx_reg *rb, kx_reg_id b)
{
    struct kx_reg_info ia, ib;
    assert_int_equal(kx_reg_info(ra, a, &ia), STATUS_SUCCESS);
    assert_int_equal(kx_reg_info(rb, b, &ib), STATUS_SUCCESS);
    assert_string_equal(ia.class_name, ib.class_name);
    assert_string_equal(ia.name, ib.name);
    assert_string_equal(ia.location, ib.location);
    plist_t pa = NULL, pb = NULL;
    assert_int_equal(kx_reg_props_copy(ra, a, &pa), STATUS_SUCCESS);
    assert_int_equal(kx_reg_props_copy(rb, b, &pb), STATUS_SUCCESS);
    assert_int_equal(plist_dict_get_size(pa), plist_dict_get_size(pb));
    /* equal dictionaries: each key of either side is on the other with the same XML */
    for (uint32_t i = 0; i < 2; i++) {
        plist_t x = i ? pb : pa, y = i ? pa : pb;
        plist_dict_iter it = NULL;
        char *key = NULL;
        plist_t val = NULL;
        plist_dict_new_iter(x, &it);
        for (plist_dict_next_item(x, it, &key, &val); key;
             plist_dict_next_item(x, it, &key, &val)) {
            plist_t other = plist_dict_get_item(y, key);
            if (!other)
                fail_msg("%s: property %s is on one side only", ia.name, key);
            char *xa = NULL, *xb = NULL;
            uint32_t la = 0, lb = 0;
            plist_to_xml(val, &xa, &la);
            plist_to_xml(other, &xb, &lb);
            assert_string_equal(xa, xb);
            free(xa);
            free(xb);
            free(key);
            key = NULL;
        }
        free(it);
    }
    plist_free(pa);
    plist_free(pb);
    kx_reg_id *ka = NULL, *kb = NULL;
    size_t na = 0, nb = 0;
    assert_int_equal(kx_reg_children(ra, a, KX_REG_SERVICE, &ka, &na), STATUS_SUCCESS);
    assert_int_equal(kx_reg_children(rb, b, KX_REG_SERVICE, &kb, &nb), STATUS_SUCCESS);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++)
        assert_same_tree(ra, ka[i], rb, kb[i]);
    free(ka);
    free(kb);
}

static void test_root_tree_adopts_platform_expert_and_resources(void **state)
{
    struct rfx *f = *state;
    char why[256] = "";
    assert_int_equal(read_text(f->reg, machine, why, sizeof why), STATUS_SUCCESS);
    struct kx_reg_info i;
    assert_int_equal(kx_reg_info(f->reg, kx_reg_platform(f->reg), &i), STATUS_SUCCESS);
    assert_string_equal(i.name, "MacBookPro15,1");
    assert_true(kx_reg_resource_published(f->reg, "IOBSD"));
    kx_reg_id nic = 0;
    assert_int_equal(kx_reg_lookup_path(f->reg, "IOService:/MacBookPro15,1/PCI0@0/GIGE@1f,6", &nic),
                     STATUS_SUCCESS);
    assert_true(nic != 4660); /* the file's id is not kept */
    plist_t v = NULL;
    assert_int_equal(kx_reg_prop_copy(f->reg, nic, "IOServiceState", &v), STATUS_SUCCESS);
    assert_null(v); /* ioreg's state keys are not properties */
    assert_int_equal(kx_reg_prop_copy(f->reg, kx_reg_root(f->reg), "IOKitBuildVersion", &v),
                     STATUS_SUCCESS);
    assert_non_null(v);
    plist_free(v);
    /* what the platform described is in the device tree too */
    assert_int_equal(
        kx_reg_lookup_path(f->reg, "IODeviceTree:/MacBookPro15,1/PCI0@0/GIGE@1f,6", &nic),
        STATUS_SUCCESS);
}

static void test_write_then_read_gives_an_equal_tree(void **state)
{
    struct rfx *f = *state;
    char why[256] = "", *path = write_tmp("");
    assert_int_equal(read_text(f->reg, machine, why, sizeof why), STATUS_SUCCESS);
    assert_int_equal(kx_platform_file_write(f->reg, KX_REG_SERVICE, path), STATUS_SUCCESS);
    struct kx_reg *again = NULL;
    assert_int_equal(kx_reg_new(f->classes, &again), STATUS_SUCCESS);
    assert_int_equal(kx_platform_file_read(again, path, why, sizeof why), STATUS_SUCCESS);
    assert_same_tree(f->reg, kx_reg_root(f->reg), again, kx_reg_root(again));
    /* and once more, from what kx wrote */
    assert_int_equal(kx_platform_file_write(again, KX_REG_SERVICE, path), STATUS_SUCCESS);
    struct kx_reg *third = NULL;
    assert_int_equal(kx_reg_new(f->classes, &third), STATUS_SUCCESS);
    assert_int_equal(kx_platform_file_read(third, path, why, sizeof why), STATUS_SUCCESS);
    assert_same_tree(again, kx_reg_root(again), third, kx_reg_root(third));
    kx_reg_free(third);
    kx_reg_free(again);
    unlink(path);
    free(path);
}

static void test_subtrees_go_under_the_platform_expert(void **state)
{
    struct rfx *f = *state;
    static const char subtrees[] =
        HEAD "<array>\n"
             " <dict><key>IOObjectClass</key><string>IOACPIPlatformDevice</string>"
             "<key>IORegistryEntryName</key><string>EC</string>"
             "<key>name</key><data>UE5QMEMwOQA=</data></dict>\n"
             " <dict><key>IOObjectClass</key><string>IOUSBHostDevice</string>"
             "<key>IORegistryEntryName</key><string>BCM20702A0</string>"
             "<key>idVendor</key><integer>2652</integer></dict>\n"
             "</array>\n" TAIL;
    char why[256] = "";
    assert_int_equal(read_text(f->reg, subtrees, why, sizeof why), STATUS_SUCCESS);
    kx_reg_id id = 0;
    assert_int_equal(kx_reg_lookup_path(f->reg, "IOService:/kx/EC", &id), STATUS_SUCCESS);
    assert_int_equal(kx_reg_lookup_path(f->reg, "IOService:/kx/BCM20702A0", &id), STATUS_SUCCESS);
}

static void expect_refused(struct rfx *f, const char *text, const char *says)
{
    kx_reg_id *before = NULL, *after = NULL;
    size_t nb = 0, na = 0;
    char why[256] = "";
    assert_int_equal(kx_reg_list(f->reg, KX_REG_SERVICE, &before, &nb), STATUS_SUCCESS);
    assert_int_equal(read_text(f->reg, text, why, sizeof why), STATUS_DATA_ERROR);
    if (!strstr(why, says) || !strstr(why, "kx-platform-"))
        fail_msg("\"%s\" should name the file and say \"%s\"", why, says);
    assert_int_equal(kx_reg_list(f->reg, KX_REG_SERVICE, &after, &na), STATUS_SUCCESS);
    assert_int_equal(na, nb); /* nothing published */
    free(before);
    free(after);
}

static void test_malformed_files_are_refused_with_path_and_key(void **state)
{
    struct rfx *f = *state;
    expect_refused(f, "this is not a plist", "not a property list");
    expect_refused(f, HEAD "<string>Root</string>" TAIL,
                   "the top level: an entry must be a dictionary");
    expect_refused(f,
                   HEAD "<dict><key>IOObjectClass</key><string>IORegistryEntry</string>"
                        "<key>IORegistryEntryName</key><string>Root</string>"
                        "<key>IORegistryEntryChildren</key><array><dict>"
                        "<key>IORegistryEntryName</key><string>PCI0</string>"
                        "</dict></array></dict>" TAIL,
                   "Root/PCI0: IOObjectClass: missing");
    expect_refused(f,
                   HEAD "<dict><key>IOObjectClass</key><string>IOPCIDevice</string>"
                        "<key>IORegistryEntryName</key><integer>5</integer></dict>" TAIL,
                   "IORegistryEntryName: must be a string, not integer");
    expect_refused(f,
                   HEAD "<dict><key>IOObjectClass</key><string>IOService</string>"
                        "<key>IORegistryEntryName</key><string>A</string>"
                        "<key>IORegistryEntryChildren</key><dict/></dict>" TAIL,
                   "A: IORegistryEntryChildren: must be an array of entries, not dictionary");
    expect_refused(f,
                   HEAD "<dict><key>IOObjectClass</key><string>IOService</string>"
                        "<key>IORegistryEntryName</key><string>A</string>"
                        "<key>IORegistryEntryChildren</key><array><dict>"
                        "<key>IOObjectClass</key><string>IOService</string>"
                        "<key>IORegistryEntryName</key><string>B</string></dict>"
                        "<string>stray</string></array></dict>" TAIL,
                   "A/IORegistryEntryChildren: an entry must be a dictionary, not string");
}

#define COMPONENT(keys)                                                                    \
    HEAD "<dict><key>IOObjectClass</key><string>KXComponent</string>"                      \
         "<key>IORegistryEntryName</key><string>sensor</string>" keys "</dict>" TAIL
#define GOOD_ADDRESS "<key>address</key><string>0A1B2C3D-0000-4000-8000-000000000001</string>"

static void test_components_need_a_uuid_and_a_type(void **state)
{
    struct rfx *f = *state;
    char why[256] = "";
    assert_int_equal(read_text(f->reg,
                               COMPONENT(GOOD_ADDRESS "<key>type</key><string>sensor</string>"
                                                      "<key>registers</key><data>KgAAAA==</data>"),
                               why, sizeof why),
                     STATUS_SUCCESS);
    kx_reg_id id = 0;
    assert_int_equal(kx_reg_lookup_path(f->reg, "IOService:/kx/sensor", &id), STATUS_SUCCESS);
    assert_true(kx_classes_conforms(kx_reg_classes(f->reg), "KXComponent", "IOService"));
    expect_refused(f,
                   COMPONENT("<key>address</key><string>0A1B2C3D-0000</string>"
                             "<key>type</key><string>sensor</string>"),
                   "sensor: address: a KXComponent needs a UUID string");
    expect_refused(f,
                   COMPONENT("<key>address</key><string>0A1B2C3D-0000-4000-8000-00000000000g</string>"
                             "<key>type</key><string>sensor</string>"),
                   "sensor: address: a KXComponent needs a UUID string");
    expect_refused(f, COMPONENT(GOOD_ADDRESS), "sensor: type: a KXComponent needs a non-empty string");
    expect_refused(f, COMPONENT(GOOD_ADDRESS "<key>type</key><string></string>"),
                   "sensor: type: a KXComponent needs a non-empty string");
    expect_refused(f,
                   COMPONENT(GOOD_ADDRESS "<key>type</key><string>sensor</string>"
                                          "<key>registers</key><integer>4</integer>"),
                   "sensor: registers: must be data");
}

static void test_missing_file_says_so(void **state)
{
    struct rfx *f = *state;
    char why[256] = "";
    assert_int_equal(kx_platform_file_read(f->reg, "/nonexistent/platform.plist", why, sizeof why),
                     STATUS_NO_SUCH_FILE);
    assert_non_null(strstr(why, "/nonexistent/platform.plist"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rfx_setup, rfx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_root_tree_adopts_platform_expert_and_resources),
        T(test_write_then_read_gives_an_equal_tree),
        T(test_subtrees_go_under_the_platform_expert),
        T(test_malformed_files_are_refused_with_path_and_key),
        T(test_components_need_a_uuid_and_a_type),
        T(test_missing_file_says_so),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
