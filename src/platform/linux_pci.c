/* linux_pci.c — PCI functions and root buses from sysfs, published as IOPCIFamily does.
 *
 * IOPCIConfigurator::constructProperties decides what a Mac's IOPCIDevice carries, and kx
 * does the same from sysfs's copies of the configuration header: vendor-id, device-id,
 * revision-id and class-code as 4-byte little-endian data, subsystem-vendor-id and
 * subsystem-id only when the subsystem register isn't zero; "compatible" lists
 * "pciSSSS,ssss" (the subsystem, when set and not the same IDs), "pciVVVV,DDDD",
 * "pciclass,CCCCCC" and the ACPI companion's name, in lower-case hex without padding
 * ("pci8086,d57"); IOName and "name" are the generic name of the class ("ethernet",
 * "display", "pci-bridge", ...) or else "pciVVVV,DDDD". The entry is named after the ACPI
 * companion (GIGE) when there is one, else after IOName, and its location is IOPCIBridge's:
 * the device number, then ",function" unless the function is 0, in upper-case hex ("1F,6",
 * "1C", "0"). "pcidebug" ("bus:device:function" in decimal) is what USB port maps name
 * controllers by.
 *
 * A bridge function (class 0x0604xx) gets an IOPP (IOPCI2PCIBridge) in the IOService plane,
 * the driver a Mac attaches, and the functions of its secondary bus hang under IOPP there
 * and under the bridge's nub in the IODeviceTree plane. A root bus (pciDDDD:BB) is an
 * AppleACPIPCI under its ACPI host bridge's IOACPIPlatformDevice (PCI0@0), as on a Mac; a
 * root bus without an ACPI companion is an IOPCIBridge named PCI<bus>@<domain> under the
 * platform expert.
 */
#include "platform/linux_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* IOPCIConfigurator's generic names, first match wins. */
static const struct {
    const char *name;
    uint32_t mask, code;
} generic_names[] = {
    {"display", 0xffffff, 0x000100},    {"scsi", 0xffff00, 0x010000},
    {"ethernet", 0xffff00, 0x020000},   {"display", 0xff0000, 0x030000},
    {"pci-bridge", 0xffff00, 0x060400}, {"card-bus", 0xffff00, 0x060700},
};

int lx_pci_is_root(const char *name)
{
    unsigned domain = 0, bus = 0;
    const char *p = strncmp(name, "pci", 3) == 0 ? lx_scan(name + 3, 16, 4, &domain) : NULL;
    p = p && *p == ':' ? lx_scan(p + 1, 16, 2, &bus) : NULL;
    return p && !*p;
}

kx_reg_id lx_pci_bridge_of(struct lx *x, kx_reg_id nub)
{
    kx_reg_id *kids = NULL, found = KX_REG_ID_NONE;
    size_t n = 0;
    kx_reg_children(x->reg, nub, KX_REG_SERVICE, &kids, &n);
    for (size_t i = 0; i < n && found == KX_REG_ID_NONE; i++) {
        struct kx_reg_info info;
        if (kx_reg_info(x->reg, kids[i], &info) == STATUS_SUCCESS &&
            strcmp(info.class_name, "IOPCI2PCIBridge") == 0)
            found = kids[i];
    }
    free(kids);
    return found;
}

struct config {
    uint32_t vendor, device, class_code, revision, sub_vendor, sub_device;
};

/* The header's registers from sysfs; STATUS_NO_SUCH_DEVICE (reported) when one is missing
 * or malformed. */
static kx_status read_config(struct lx *x, const char *path, struct config *c)
{
    static const struct {
        const char *file;
        size_t offset;
        uint32_t max;
        int required;
    } regs[] = {
        {"vendor", offsetof(struct config, vendor), 0xffff, 1},
        {"device", offsetof(struct config, device), 0xffff, 1},
        {"class", offsetof(struct config, class_code), 0xffffff, 1},
        {"revision", offsetof(struct config, revision), 0xff, 1},
        {"subsystem_vendor", offsetof(struct config, sub_vendor), 0xffff, 0},
        {"subsystem_device", offsetof(struct config, sub_device), 0xffff, 0},
    };
    char why[256];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++) {
        uint32_t *v = (uint32_t *)(void *)((char *)c + regs[i].offset);
        kx_status st = lx_attr_hex(x, path, regs[i].file, regs[i].max, v, why, sizeof why);
        if (st == STATUS_NO_SUCH_FILE && !regs[i].required)
            continue;
        if (st == STATUS_INSUFFICIENT_RESOURCES)
            return st;
        if (st != STATUS_SUCCESS)
            return lx_skip(x, path, "%s", why);
    }
    if (c->vendor == 0xffff || c->vendor == 0)
        return lx_skip(x, path, "vendor: 0x%04x is no device's", c->vendor);
    return STATUS_SUCCESS;
}

/* Appends s and its NUL to buf at *at. */
static void append(char *buf, size_t len, size_t *at, const char *s)
{
    int n = snprintf(buf + *at, len - *at, "%s", s);
    if (n >= 0 && *at + (size_t)n + 1 <= len)
        *at += (size_t)n + 1;
}

static plist_t properties(const struct config *c, const char *ioname, const char *acpi_name,
                          unsigned bus, unsigned dev, unsigned fn)
{
    char compat[160], s[40];
    size_t at = 0;
    plist_t p = plist_new_dict();
    plist_dict_set_item(p, "vendor-id", lx_data32(c->vendor));
    plist_dict_set_item(p, "device-id", lx_data32(c->device));
    plist_dict_set_item(p, "revision-id", lx_data32(c->revision));
    plist_dict_set_item(p, "class-code", lx_data32(c->class_code));
    if (c->sub_vendor || c->sub_device) {
        plist_dict_set_item(p, "subsystem-vendor-id", lx_data32(c->sub_vendor));
        plist_dict_set_item(p, "subsystem-id", lx_data32(c->sub_device));
        if (c->sub_vendor != c->vendor || c->sub_device != c->device) {
            snprintf(s, sizeof s, "pci%x,%x", c->sub_vendor, c->sub_device);
            append(compat, sizeof compat, &at, s);
        }
    }
    snprintf(s, sizeof s, "pci%x,%x", c->vendor, c->device);
    append(compat, sizeof compat, &at, s);
    snprintf(s, sizeof s, "pciclass,%06x", c->class_code);
    append(compat, sizeof compat, &at, s);
    if (acpi_name)
        append(compat, sizeof compat, &at, acpi_name);
    plist_dict_set_item(p, "compatible", plist_new_data(compat, at));
    plist_dict_set_item(p, "IOName", plist_new_string(ioname));
    plist_dict_set_item(p, "name", lx_data_str(ioname));
    snprintf(s, sizeof s, "%u:%u:%u", bus, dev, fn);
    plist_dict_set_item(p, "pcidebug", plist_new_string(s));
    return p;
}

kx_status lx_pci_function(struct lx *x, const char *path, kx_reg_id *out)
{
    unsigned domain = 0, bus = 0, dev = 0, fn = 0;
    const char *base = lx_base(path);
    struct config c;
    if (lx_pci_address(base, &domain, &bus, &dev, &fn) != 0)
        return lx_skip(x, path, "\"%s\" is not a PCI address (DDDD:BB:dd.f)", base);
    kx_status st = read_config(x, path, &c);
    if (st != STATUS_SUCCESS)
        return st;

    char ioname[32], acpi_name[32], location[16];
    char *companion = NULL;
    int has_acpi = 0;
    snprintf(ioname, sizeof ioname, "pci%x,%x", c.vendor, c.device);
    for (size_t i = 0; i < sizeof generic_names / sizeof generic_names[0]; i++)
        if ((c.class_code & generic_names[i].mask) == generic_names[i].code) {
            snprintf(ioname, sizeof ioname, "%s", generic_names[i].name);
            break;
        }
    if (lx_link_path(x, path, "firmware_node", &companion) == STATUS_SUCCESS)
        has_acpi = lx_acpi_name(x, companion, acpi_name, sizeof acpi_name) == STATUS_SUCCESS;
    free(companion);
    if (fn)
        snprintf(location, sizeof location, "%X,%X", dev, fn);
    else
        snprintf(location, sizeof location, "%X", dev);

    struct lx_slot slot;
    if ((st = lx_resolve_parent(x, path, &slot)) != STATUS_SUCCESS)
        return st;
    st = lx_publish(x, path, slot.service, slot.dt, "IOPCIDevice", has_acpi ? acpi_name : ioname,
                    location, properties(&c, ioname, has_acpi ? acpi_name : NULL, bus, dev, fn),
                    out);
    if (st == STATUS_SUCCESS)
        st = lx_pci_component(x, *out, domain, bus, dev, fn, c.vendor, c.device);
    if (st == STATUS_SUCCESS && (c.class_code >> 8) == 0x0604) {
        kx_reg_id iopp;
        st = lx_publish(x, NULL, *out, KX_REG_ID_NONE, "IOPCI2PCIBridge", "IOPP", NULL,
                        plist_new_dict(), &iopp);
    }
    return st;
}

kx_status lx_pci_root(struct lx *x, const char *path, kx_reg_id *out)
{
    unsigned domain = 0, bus = 0;
    char *companion = NULL;
    kx_reg_id host = KX_REG_ID_NONE;
    kx_status st = STATUS_SUCCESS;
    const char *p = lx_scan(lx_base(path) + 3, 16, 4, &domain); /* lx_pci_is_root said so */
    if (p)
        lx_scan(p + 1, 16, 2, &bus);
    if (lx_link_path(x, path, "firmware_node", &companion) == STATUS_SUCCESS)
        st = lx_ensure(x, companion, &host);
    free(companion);
    if (st == STATUS_INSUFFICIENT_RESOURCES)
        return st;
    /* an unreadable host bridge node was reported; its bus is still published, plainly */
    if (st == STATUS_SUCCESS && host != KX_REG_ID_NONE)
        return lx_publish(x, path, host, KX_REG_ID_NONE, "AppleACPIPCI", "AppleACPIPCI", NULL,
                          plist_new_dict(), out);
    struct lx_slot slot;
    char name[16], location[16];
    if ((st = lx_resolve_parent(x, path, &slot)) != STATUS_SUCCESS)
        return st;
    snprintf(name, sizeof name, "PCI%X", bus);
    snprintf(location, sizeof location, "%X", domain);
    return lx_publish(x, path, slot.service, slot.dt, "IOPCIBridge", name, location,
                      plist_new_dict(), out);
}
