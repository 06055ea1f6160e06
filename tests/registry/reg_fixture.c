/* reg_fixture.c — see reg_fixture.h. */
#include "reg_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup_flags(void **state, unsigned flags)
{
    struct rfx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(kx_classes_new(&f->classes), STATUS_SUCCESS);
    assert_int_equal(kx_reg_new(f->classes, &f->reg), STATUS_SUCCESS);
    assert_int_equal(kx_catalog_new(f->classes, flags, &f->cat), STATUS_SUCCESS);
    *state = f;
    return 0;
}

int rfx_setup(void **state)
{
    return setup_flags(state, 0);
}
int rfx_setup_safe_boot(void **state)
{
    return setup_flags(state, KX_CATALOG_SAFE_BOOT);
}

int rfx_teardown(void **state)
{
    struct rfx *f = *state;
    kx_catalog_free(f->cat);
    kx_reg_free(f->reg);
    kx_classes_free(f->classes);
    free(f);
    return 0;
}

plist_t rfx_data32(uint32_t v)
{
    char b[4] = {(char)(v & 0xff), (char)((v >> 8) & 0xff), (char)((v >> 16) & 0xff),
                 (char)(v >> 24)};
    return plist_new_data(b, 4);
}

plist_t rfx_data_str(const char *s)
{
    return plist_new_data(s, strlen(s) + 1);
}

kx_reg_id rfx_nub(struct rfx *f, kx_reg_id parent, const char *class_name, const char *name,
                  const char *location, plist_t props)
{
    kx_reg_id id = KX_REG_ID_NONE;
    assert_int_equal(kx_reg_publish(f->reg, parent ? parent : kx_reg_platform(f->reg),
                                    KX_REG_ALL_PLANES, class_name, name, location, props, &id),
                     STATUS_SUCCESS);
    return id;
}

kx_reg_id rfx_pci(struct rfx *f, kx_reg_id parent, const char *name, const char *location,
                  uint16_t vendor, uint16_t device, uint16_t subvendor, uint16_t subdevice,
                  uint32_t class_code, uint8_t revision)
{
    char ioname[32];
    plist_t p = plist_new_dict();
    snprintf(ioname, sizeof ioname, "pci%x,%x", vendor, device);
    plist_dict_set_item(p, "vendor-id", rfx_data32(vendor));
    plist_dict_set_item(p, "device-id", rfx_data32(device));
    plist_dict_set_item(p, "subsystem-vendor-id", rfx_data32(subvendor));
    plist_dict_set_item(p, "subsystem-id", rfx_data32(subdevice));
    plist_dict_set_item(p, "class-code", rfx_data32(class_code));
    plist_dict_set_item(p, "revision-id", rfx_data32(revision));
    plist_dict_set_item(p, "IOName", plist_new_string(ioname));
    plist_dict_set_item(p, "compatible", rfx_data_str(ioname));
    return rfx_nub(f, parent, "IOPCIDevice", name, location, p);
}

kx_reg_id rfx_usb_device(struct rfx *f, kx_reg_id parent, const char *name, uint16_t vendor,
                         uint16_t product, uint16_t bcd, uint8_t cls, uint8_t subclass,
                         uint8_t protocol)
{
    plist_t p = plist_new_dict();
    plist_dict_set_item(p, "idVendor", plist_new_uint(vendor));
    plist_dict_set_item(p, "idProduct", plist_new_uint(product));
    plist_dict_set_item(p, "bcdDevice", plist_new_uint(bcd));
    plist_dict_set_item(p, "bDeviceClass", plist_new_uint(cls));
    plist_dict_set_item(p, "bDeviceSubClass", plist_new_uint(subclass));
    plist_dict_set_item(p, "bDeviceProtocol", plist_new_uint(protocol));
    return rfx_nub(f, parent, "IOUSBHostDevice", name, NULL, p);
}

kx_reg_id rfx_usb_interface(struct rfx *f, kx_reg_id device, uint16_t vendor, uint16_t product,
                            uint8_t config, uint8_t number, uint8_t cls, uint8_t subclass,
                            uint8_t protocol)
{
    char loc[8];
    plist_t p = plist_new_dict();
    snprintf(loc, sizeof loc, "%u", number);
    plist_dict_set_item(p, "idVendor", plist_new_uint(vendor));
    plist_dict_set_item(p, "idProduct", plist_new_uint(product));
    plist_dict_set_item(p, "bcdDevice", plist_new_uint(0x0112));
    plist_dict_set_item(p, "bConfigurationValue", plist_new_uint(config));
    plist_dict_set_item(p, "bInterfaceNumber", plist_new_uint(number));
    plist_dict_set_item(p, "bInterfaceClass", plist_new_uint(cls));
    plist_dict_set_item(p, "bInterfaceSubClass", plist_new_uint(subclass));
    plist_dict_set_item(p, "bInterfaceProtocol", plist_new_uint(protocol));
    return rfx_nub(f, device, "IOUSBHostInterface", "IOUSBHostInterface", loc, p);
}

kx_reg_id rfx_acpi(struct rfx *f, kx_reg_id parent, const char *name, const char *hid,
                   const char *cid)
{
    plist_t p = plist_new_dict();
    plist_dict_set_item(p, "name", rfx_data_str(hid));
    if (cid)
        plist_dict_set_item(p, "compatible", rfx_data_str(cid));
    plist_dict_set_item(p, "_STA", plist_new_uint(15));
    return rfx_nub(f, parent, "IOACPIPlatformDevice", name, NULL, p);
}

plist_t rfx_pers(const char *ioclass, const char *provider)
{
    plist_t d = plist_new_dict();
    rfx_str(d, "IOClass", ioclass);
    rfx_str(d, "IOProviderClass", provider);
    return d;
}

void rfx_str(plist_t d, const char *key, const char *value)
{
    plist_dict_set_item(d, key, plist_new_string(value));
}

void rfx_num(plist_t d, const char *key, uint64_t value)
{
    plist_dict_set_item(d, key, plist_new_uint(value));
}

plist_t rfx_strings(const char *first, ...)
{
    plist_t a = plist_new_array();
    va_list ap;
    va_start(ap, first);
    for (const char *s = first; s; s = va_arg(ap, const char *))
        plist_array_append_item(a, plist_new_string(s));
    va_end(ap);
    return a;
}

size_t rfx_kext(struct rfx *f, const char *id, const char *name, int has_executable, ...)
{
    char path[256];
    plist_t info = plist_new_dict(), pers = plist_new_dict();
    va_list ap;
    va_start(ap, has_executable);
    for (const char *pname = va_arg(ap, const char *); pname; pname = va_arg(ap, const char *))
        plist_dict_set_item(pers, pname, va_arg(ap, plist_t));
    va_end(ap);
    plist_dict_set_item(info, "IOKitPersonalities", pers);
    snprintf(path, sizeof path, "/Library/Extensions/%s.kext", name);
    size_t n = 0;
    assert_int_equal(kx_catalog_add_info(f->cat, id, path, info, has_executable, &n),
                     STATUS_SUCCESS);
    plist_free(info);
    return n;
}

struct kx_match *rfx_match(struct rfx *f, kx_reg_id nub, unsigned flags)
{
    struct kx_match *m = NULL;
    assert_int_equal(kx_match_nub(f->cat, f->reg, nub, flags, &m), STATUS_SUCCESS);
    return m;
}

const struct kx_match_candidate *rfx_cand(const struct kx_match *m, const char *personality)
{
    for (size_t i = 0; i < kx_match_n_candidates(m); i++)
        if (strcmp(kx_personality_name(kx_match_candidate(m, i)->personality), personality) == 0)
            return kx_match_candidate(m, i);
    return NULL;
}

size_t rfx_cand_index(const struct kx_match *m, const char *personality)
{
    for (size_t i = 0; i < kx_match_n_candidates(m); i++)
        if (strcmp(kx_personality_name(kx_match_candidate(m, i)->personality), personality) == 0)
            return i;
    fail_msg("%s is not a candidate", personality);
    return SIZE_MAX;
}

const struct kx_match_rejection *rfx_rej(const struct kx_match *m, const char *personality)
{
    for (size_t i = 0; i < kx_match_n_rejected(m); i++)
        if (strcmp(kx_personality_name(kx_match_rejected(m, i)->personality), personality) == 0)
            return kx_match_rejected(m, i);
    return NULL;
}

const char *rfx_chosen(const struct kx_match *m, const char *category)
{
    for (size_t i = 0; i < kx_match_n_candidates(m); i++) {
        const struct kx_match_candidate *c = kx_match_candidate(m, i);
        if (c->chosen && c->category && strcmp(c->category, category) == 0)
            return kx_personality_name(c->personality);
    }
    return NULL;
}
