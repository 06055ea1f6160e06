/* test_registry_tree.c — the registry's tree: the fixed entries, paths, lookups by class and
 * id, ids never reused, properties, links, and depth-first termination. */
#include "reg_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void info_of(struct rfx *f, kx_reg_id id, struct kx_reg_info *i)
{
    assert_int_equal(kx_reg_info(f->reg, id, i), STATUS_SUCCESS);
}

static void test_new_registry_has_root_platform_expert_and_resources(void **state)
{
    struct rfx *f = *state;
    struct kx_reg_info i;
    info_of(f, kx_reg_root(f->reg), &i);
    assert_string_equal(i.class_name, "IORegistryEntry");
    assert_string_equal(i.name, "Root");
    assert_false(i.is_service);
    info_of(f, kx_reg_platform(f->reg), &i);
    assert_string_equal(i.class_name, "IOPlatformExpertDevice");
    assert_true(i.state & KX_REG_REGISTERED);
    info_of(f, kx_reg_resources(f->reg), &i);
    assert_string_equal(i.class_name, "IOResources");
    kx_reg_id *kids = NULL;
    size_t n = 0;
    assert_int_equal(kx_reg_children(f->reg, kx_reg_platform(f->reg), KX_REG_SERVICE, &kids, &n),
                     STATUS_SUCCESS);
    assert_int_equal(n, 1);
    assert_true(kids[0] == kx_reg_resources(f->reg));
    free(kids);
    /* IOResources is a service, not hardware: not in the device tree */
    assert_int_equal(
        kx_reg_children(f->reg, kx_reg_platform(f->reg), KX_REG_DEVICE_TREE, &kids, &n),
        STATUS_SUCCESS);
    assert_int_equal(n, 0);
    assert_true(kx_reg_resource_published(f->reg, "IOKit"));
    assert_false(kx_reg_resource_published(f->reg, "IOBSD"));
}

static void test_path_lookup_uses_apples_syntax(void **state)
{
    struct rfx *f = *state;
    kx_reg_id bridge = rfx_nub(f, 0, "IOPCIBridge", "PCI0", "0", NULL);
    kx_reg_id nic =
        rfx_pci(f, bridge, "GIGE", "1f,6", 0x8086, 0x15b8, 0x8086, 0x0000, 0x020000, 0x10);
    char path[256];
    kx_reg_id found = 0;
    assert_int_equal(kx_reg_path(f->reg, nic, KX_REG_SERVICE, path, sizeof path), STATUS_SUCCESS);
    assert_string_equal(path, "IOService:/kx/PCI0@0/GIGE@1f,6");
    assert_int_equal(kx_reg_lookup_path(f->reg, path, &found), STATUS_SUCCESS);
    assert_true(found == nic);
    /* a leading Root component, a location left out, a bare "/" path and the other plane */
    assert_int_equal(kx_reg_lookup_path(f->reg, "IOService:/Root/kx/PCI0/GIGE", &found),
                     STATUS_SUCCESS);
    assert_true(found == nic);
    assert_int_equal(kx_reg_lookup_path(f->reg, "/kx/PCI0@0", &found), STATUS_SUCCESS);
    assert_true(found == bridge);
    assert_int_equal(kx_reg_lookup_path(f->reg, "IODeviceTree:/kx/PCI0@0/GIGE@1f,6", &found),
                     STATUS_SUCCESS);
    assert_true(found == nic);
    assert_int_equal(kx_reg_lookup_path(f->reg, "IOService:/", &found), STATUS_SUCCESS);
    assert_true(found == kx_reg_root(f->reg));
    assert_int_equal(kx_reg_path(f->reg, kx_reg_root(f->reg), KX_REG_SERVICE, path, sizeof path),
                     STATUS_SUCCESS);
    assert_string_equal(path, "IOService:/");
}

static void test_path_lookup_failures(void **state)
{
    struct rfx *f = *state;
    kx_reg_id found = 0;
    rfx_nub(f, 0, "IOPCIBridge", "PCI0", "0", NULL);
    assert_int_equal(kx_reg_lookup_path(f->reg, "IOService:/kx/PCI0@1", &found),
                     STATUS_NO_SUCH_DEVICE);
    assert_int_equal(kx_reg_lookup_path(f->reg, "IOPower:/kx", &found), STATUS_OBJECT_NAME_INVALID);
    assert_int_equal(kx_reg_lookup_path(f->reg, "kx/PCI0", &found), STATUS_OBJECT_NAME_INVALID);
    /* IOResources isn't in the device tree */
    assert_int_equal(kx_reg_lookup_path(f->reg, "IODeviceTree:/kx/IOResources", &found),
                     STATUS_NO_SUCH_DEVICE);
    char small[8];
    assert_int_equal(
        kx_reg_path(f->reg, kx_reg_resources(f->reg), KX_REG_SERVICE, small, sizeof small),
        STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(
        kx_reg_path(f->reg, kx_reg_resources(f->reg), KX_REG_DEVICE_TREE, small, sizeof small),
        STATUS_NO_SUCH_DEVICE);
}

static void test_find_class_includes_subclasses(void **state)
{
    struct rfx *f = *state;
    kx_reg_id ec = rfx_acpi(f, 0, "EC", "PNP0C09", NULL);
    kx_reg_id ps2 = rfx_nub(f, 0, "IOPlatformDevice", "ps2controller", NULL, NULL);
    rfx_pci(f, 0, "GFX0", "2", 0x8086, 0x3e9b, 0x8086, 0, 0x030000, 0);
    kx_reg_id *ids = NULL;
    size_t n = 0;
    assert_int_equal(kx_reg_find_class(f->reg, "IOPlatformDevice", &ids, &n), STATUS_SUCCESS);
    assert_int_equal(n, 2);
    assert_true(ids[0] == ec && ids[1] == ps2);
    free(ids);
    assert_int_equal(kx_reg_find_class(f->reg, "IOACPIPlatformDevice", &ids, &n), STATUS_SUCCESS);
    assert_int_equal(n, 1);
    free(ids);
    /* every entry but Root is an IOService, including classes the table doesn't know */
    rfx_nub(f, 0, "SomeVendorDevice", "X", NULL, NULL);
    assert_int_equal(kx_reg_find_class(f->reg, "IOService", &ids, &n), STATUS_SUCCESS);
    assert_int_equal(n, 6);
    free(ids);
    assert_int_equal(kx_reg_find_class(f->reg, "IOUSBHostDevice", &ids, &n), STATUS_SUCCESS);
    assert_int_equal(n, 0);
    assert_null(ids);
}

static void test_ids_are_unique_and_never_reused(void **state)
{
    struct rfx *f = *state;
    kx_reg_id a = rfx_nub(f, 0, "IOService", "A", NULL, NULL);
    kx_reg_id b = rfx_nub(f, 0, "IOService", "B", NULL, NULL);
    assert_true(a != b && a != kx_reg_resources(f->reg));
    assert_int_equal(kx_reg_terminate(f->reg, b, NULL, NULL), STATUS_SUCCESS);
    struct kx_reg_info i;
    assert_int_equal(kx_reg_info(f->reg, b, &i), STATUS_NO_SUCH_DEVICE);
    kx_reg_id c = rfx_nub(f, 0, "IOService", "C", NULL, NULL);
    assert_true(c != b && c > b);
    info_of(f, c, &i);
    assert_string_equal(i.name, "C");
    assert_int_equal(kx_reg_info(f->reg, 12345, &i), STATUS_NO_SUCH_DEVICE);
}

struct order {
    kx_reg_id ids[16];
    size_t n;
};

static void record(void *ctx, kx_reg_id id)
{
    struct order *o = ctx;
    o->ids[o->n++] = id;
}

static void test_termination_is_depth_first_clients_first(void **state)
{
    struct rfx *f = *state;
    kx_reg_id xhc = rfx_pci(f, 0, "XHC", "14", 0x8086, 0xa36d, 0x8086, 0, 0x0c0330, 0);
    kx_reg_id hub = rfx_nub(f, xhc, "AppleUSB20InternalHub", "HUB", NULL, NULL);
    kx_reg_id bt = rfx_usb_device(f, hub, "BCM20702A0", 0x0a5c, 0x21e8, 0x0112, 0xff, 1, 1);
    kx_reg_id ifc = rfx_usb_interface(f, bt, 0x0a5c, 0x21e8, 1, 0, 0xff, 1, 1);
    kx_reg_id cam = rfx_usb_device(f, hub, "Camera", 0x05ac, 0x8600, 0x0100, 0xef, 2, 1);
    struct order o = {{0}, 0};
    assert_int_equal(kx_reg_terminate(f->reg, hub, record, &o), STATUS_SUCCESS);
    assert_int_equal(o.n, 4);
    assert_true(o.ids[0] == ifc); /* the deepest client first, the entry itself last */
    assert_true(o.ids[1] == bt);
    assert_true(o.ids[2] == cam);
    assert_true(o.ids[3] == hub);
    struct kx_reg_info i;
    assert_int_equal(kx_reg_info(f->reg, ifc, &i), STATUS_NO_SUCH_DEVICE);
    info_of(f, xhc, &i); /* the provider stays */
    kx_reg_id *kids = NULL;
    size_t n = 0;
    assert_int_equal(kx_reg_children(f->reg, xhc, KX_REG_SERVICE, &kids, &n), STATUS_SUCCESS);
    assert_int_equal(n, 0);
}

static void test_termination_spares_a_client_with_another_provider(void **state)
{
    struct rfx *f = *state;
    kx_reg_id a = rfx_nub(f, 0, "IOService", "A", NULL, NULL);
    kx_reg_id b = rfx_nub(f, 0, "IOService", "B", NULL, NULL);
    kx_reg_id shared = rfx_nub(f, a, "IOService", "Shared", NULL, NULL);
    assert_int_equal(kx_reg_attach(f->reg, shared, b, KX_REG_SERVICE), STATUS_SUCCESS);
    struct order o = {{0}, 0};
    assert_int_equal(kx_reg_terminate(f->reg, a, record, &o), STATUS_SUCCESS);
    assert_int_equal(o.n, 1);
    assert_true(o.ids[0] == a);
    kx_reg_id *parents = NULL;
    size_t n = 0;
    assert_int_equal(kx_reg_parents(f->reg, shared, KX_REG_SERVICE, &parents, &n), STATUS_SUCCESS);
    assert_int_equal(n, 1);
    assert_true(parents[0] == b);
    free(parents);
}

static void test_fixed_entries_cannot_be_terminated(void **state)
{
    struct rfx *f = *state;
    assert_int_equal(kx_reg_terminate(f->reg, kx_reg_root(f->reg), NULL, NULL),
                     STATUS_ACCESS_DENIED);
    assert_int_equal(kx_reg_terminate(f->reg, kx_reg_platform(f->reg), NULL, NULL),
                     STATUS_ACCESS_DENIED);
    assert_int_equal(kx_reg_terminate(f->reg, kx_reg_resources(f->reg), NULL, NULL),
                     STATUS_ACCESS_DENIED);
}

static void test_properties_are_copied_in_and_out(void **state)
{
    struct rfx *f = *state;
    kx_reg_id nic = rfx_pci(f, 0, "GIGE", "1f,6", 0x8086, 0x15b8, 0x8086, 0, 0x020000, 0x10);
    plist_t v = NULL;
    assert_int_equal(kx_reg_prop_copy(f->reg, nic, "vendor-id", &v), STATUS_SUCCESS);
    assert_non_null(v);
    uint64_t len = 0;
    assert_memory_equal(plist_get_data_ptr(v, &len), "\x86\x80\x00\x00", 4);
    plist_free(v);
    assert_int_equal(kx_reg_prop_copy(f->reg, nic, "no-such-key", &v), STATUS_SUCCESS);
    assert_null(v);
    plist_t snapshot = NULL;
    assert_int_equal(kx_reg_props_copy(f->reg, nic, &snapshot), STATUS_SUCCESS);
    assert_int_equal(kx_reg_prop_set(f->reg, nic, "built-in", plist_new_bool(1)), STATUS_SUCCESS);
    assert_null(plist_dict_get_item(snapshot, "built-in")); /* a snapshot doesn't change */
    plist_free(snapshot);
    assert_int_equal(kx_reg_prop_remove(f->reg, nic, "built-in"), STATUS_SUCCESS);
    assert_int_equal(kx_reg_prop_copy(f->reg, nic, "built-in", &v), STATUS_SUCCESS);
    assert_null(v);
    assert_int_equal(kx_reg_prop_set(f->reg, 99, "x", plist_new_bool(1)), STATUS_NO_SUCH_DEVICE);
}

static void test_merge_joins_dictionaries_and_replaces_values(void **state)
{
    struct rfx *f = *state;
    plist_t props = plist_new_dict(), ports = plist_new_dict();
    plist_dict_set_item(ports, "HS01", plist_new_uint(1));
    plist_dict_set_item(props, "ports", ports);
    plist_dict_set_item(props, "port-count", plist_new_uint(1));
    kx_reg_id xhc = rfx_nub(f, 0, "AppleUSBXHCIPCI", "XHC", NULL, props);
    plist_t merge = plist_new_dict(), more = plist_new_dict();
    plist_dict_set_item(more, "SS01", plist_new_uint(17));
    plist_dict_set_item(merge, "ports", more);
    plist_dict_set_item(merge, "port-count", plist_new_uint(17));
    assert_int_equal(kx_reg_props_merge(f->reg, xhc, merge), STATUS_SUCCESS);
    plist_free(merge);
    plist_t got = NULL;
    assert_int_equal(kx_reg_prop_copy(f->reg, xhc, "ports", &got), STATUS_SUCCESS);
    assert_int_equal(plist_dict_get_size(got), 2);
    plist_free(got);
    assert_int_equal(kx_reg_prop_copy(f->reg, xhc, "port-count", &got), STATUS_SUCCESS);
    uint64_t n = 0;
    plist_get_uint_val(got, &n);
    assert_int_equal(n, 17);
    plist_free(got);
}

static void test_attach_refuses_cycles_and_detach_needs_a_link(void **state)
{
    struct rfx *f = *state;
    kx_reg_id a = rfx_nub(f, 0, "IOService", "A", NULL, NULL);
    kx_reg_id b = rfx_nub(f, a, "IOService", "B", NULL, NULL);
    assert_int_equal(kx_reg_attach(f->reg, a, b, KX_REG_SERVICE), STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_reg_attach(f->reg, a, a, KX_REG_SERVICE), STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_reg_detach(f->reg, b, a, KX_REG_SERVICE), STATUS_SUCCESS);
    assert_int_equal(kx_reg_detach(f->reg, b, a, KX_REG_SERVICE), STATUS_NO_SUCH_DEVICE);
}

static void test_publish_checks_names_and_parents(void **state)
{
    struct rfx *f = *state;
    kx_reg_id id = 0;
    char long_name[KX_REG_NAME_MAX + 1];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[KX_REG_NAME_MAX] = '\0';
    assert_int_equal(kx_reg_publish(f->reg, kx_reg_platform(f->reg), KX_REG_ALL_PLANES, "IOService",
                                    long_name, NULL, NULL, &id),
                     STATUS_OBJECT_NAME_INVALID);
    assert_int_equal(kx_reg_publish(f->reg, kx_reg_platform(f->reg), KX_REG_ALL_PLANES, "", "X",
                                    NULL, NULL, &id),
                     STATUS_OBJECT_NAME_INVALID);
    assert_int_equal(
        kx_reg_publish(f->reg, 77, KX_REG_ALL_PLANES, "IOService", "X", NULL, NULL, &id),
        STATUS_NO_SUCH_DEVICE);
    assert_int_equal(kx_reg_publish(f->reg, kx_reg_platform(f->reg), KX_REG_ALL_PLANES, "IOService",
                                    "X", NULL, plist_new_string("not a dict"), &id),
                     STATUS_INVALID_PARAMETER);
}

static void test_state_busy_and_matched(void **state)
{
    struct rfx *f = *state;
    kx_reg_id a = rfx_nub(f, 0, "IOService", "A", NULL, NULL);
    struct kx_reg_info i;
    assert_int_equal(kx_reg_busy_adjust(f->reg, a, 2), STATUS_SUCCESS);
    assert_int_equal(kx_reg_busy_adjust(f->reg, a, -3), STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_reg_set_matched(f->reg, a, 1), STATUS_SUCCESS);
    info_of(f, a, &i);
    assert_int_equal(i.busy, 2);
    assert_true(i.state & KX_REG_MATCHED);
    assert_true(i.state & KX_REG_REGISTERED);
    assert_false(i.state & KX_REG_TERMINATED);
}

static void test_list_walks_the_plane_depth_first(void **state)
{
    struct rfx *f = *state;
    kx_reg_id a = rfx_nub(f, 0, "IOService", "A", NULL, NULL);
    kx_reg_id a1 = rfx_nub(f, a, "IOService", "A1", NULL, NULL);
    kx_reg_id b = rfx_nub(f, 0, "IOService", "B", NULL, NULL);
    assert_int_equal(kx_reg_attach(f->reg, a1, b, KX_REG_SERVICE), STATUS_SUCCESS);
    kx_reg_id *ids = NULL;
    size_t n = 0;
    assert_int_equal(kx_reg_list(f->reg, KX_REG_SERVICE, &ids, &n), STATUS_SUCCESS);
    assert_int_equal(n, 6); /* Root, kx, IOResources, A, A1, B: A1 once */
    assert_true(ids[0] == kx_reg_root(f->reg) && ids[3] == a && ids[4] == a1 && ids[5] == b);
    free(ids);
}

struct race {
    struct rfx *f;
    int done;
};

static void *publisher(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < 200; i++) {
        kx_reg_id id = rfx_usb_device(r->f, 0, "Dev", 0x0a5c, (uint16_t)i, 1, 0xff, 1, 1);
        assert_int_equal(kx_reg_prop_set(r->f->reg, id, "n", plist_new_uint((uint64_t)i)),
                         STATUS_SUCCESS);
        if (i % 2)
            assert_int_equal(kx_reg_terminate(r->f->reg, id, NULL, NULL), STATUS_SUCCESS);
    }
    return NULL;
}

/* Writers and a matching pass at the same time: every pass sees whole entries (run under
 * ThreadSanitizer or ASan, a torn read would show). */
static void test_concurrent_publish_and_match(void **state)
{
    struct rfx *f = *state;
    plist_t d = rfx_pers("X", "IOUSBHostDevice");
    rfx_num(d, "idVendor", 0x0a5c);
    rfx_num(d, "idProduct", 7);
    rfx_kext(f, "com.example.usb", "USB", 1, "p", d, NULL);
    struct race r = {f, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, publisher, &r), 0);
    for (int i = 0; i < 50; i++) {
        kx_reg_id *ids = NULL;
        size_t n = 0;
        assert_int_equal(kx_reg_find_class(f->reg, "IOUSBHostDevice", &ids, &n), STATUS_SUCCESS);
        struct kx_match **ms = NULL;
        kx_status st = kx_match_nubs(f->cat, f->reg, ids, n, 0, &ms);
        /* an entry may go between the lookup and the pass: the pass then says so */
        assert_true(st == STATUS_SUCCESS || st == STATUS_NO_SUCH_DEVICE);
        kx_match_free_array(ms, st == STATUS_SUCCESS ? n : 0);
        free(ids);
    }
    pthread_join(t, NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rfx_setup, rfx_teardown)
    const struct CMUnitTest tests[] = {
        T(test_new_registry_has_root_platform_expert_and_resources),
        T(test_path_lookup_uses_apples_syntax),
        T(test_path_lookup_failures),
        T(test_find_class_includes_subclasses),
        T(test_ids_are_unique_and_never_reused),
        T(test_termination_is_depth_first_clients_first),
        T(test_termination_spares_a_client_with_another_provider),
        T(test_fixed_entries_cannot_be_terminated),
        T(test_properties_are_copied_in_and_out),
        T(test_merge_joins_dictionaries_and_replaces_values),
        T(test_attach_refuses_cycles_and_detach_needs_a_link),
        T(test_publish_checks_names_and_parents),
        T(test_state_busy_and_matched),
        T(test_list_walks_the_plane_depth_first),
        T(test_concurrent_publish_and_match),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
