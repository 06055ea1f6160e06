/* component.c — KXComponent nubs: the keys a component must have, the component kx puts
 * beside each Linux PCI function and USB device, and a PCI function's configuration space
 * and BARs.
 *
 * A component's address is a UUID. For a PCI function it is the version 5 UUID of its
 * sysfs identity (domain:bus:device.function and vendor:device), so the same function in
 * the same slot has the same address on every boot, and a different card in that slot a
 * different one. A USB device's is that of its serial number with its vendor and product
 * IDs when it has one (the same stick on any port), else of its port (sysfs's
 * "busnum-devpath" name, "1-1.2") with the IDs, as the PCI slot is.
 */
#include "platform/linux_int.h"

#include "core/plat.h"
#include "core/plat_fd.h"
#include "core/sha1.h"
#include "core/why.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* kx's namespace for hardware identities (a fixed random UUID; the names start "pci:" or
 * "usb:", so the two buses never share an address). */
static const uint8_t hw_namespace[16] = {0x6b, 0x78, 0x2d, 0x70, 0x63, 0x69, 0x4e, 0x1a,
                                          0x9d, 0x3c, 0x52, 0x0e, 0x77, 0xa4, 0x13, 0xc8};

int kx_platform_component_address_valid(const char *s)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    if (strlen(s) != sizeof shape - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++)
        if (shape[i] == '-' ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

kx_status kx_platform_component_check(plist_t props, const char *file, const char *path,
                                      char *why, size_t why_len)
{
    plist_t addr = plist_dict_get_item(props, "address");
    plist_t type = plist_dict_get_item(props, "type");
    plist_t regs = plist_dict_get_item(props, "registers");
    if (plist_get_node_type(addr) != PLIST_STRING ||
        !kx_platform_component_address_valid(plist_get_string_ptr(addr, NULL)))
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                      "%s: %s: address: a " KX_COMPONENT_CLASS
                      " needs a UUID string (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                      file, path);
    uint64_t n = 0;
    if (plist_get_node_type(type) != PLIST_STRING || !plist_get_string_ptr(type, &n) || !n)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                      "%s: %s: type: a " KX_COMPONENT_CLASS " needs a non-empty string", file,
                      path);
    if (regs && plist_get_node_type(regs) != PLIST_DATA)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                      "%s: %s: registers: must be data (the register file's initial bytes)",
                      file, path);
    return STATUS_SUCCESS;
}

/* Publishes props (taken) as the component named "component" below nub, and names it in
 * the nub's KXComponentAddress so a driver matched on the nub finds its proxy. */
static kx_status publish_component(struct lx *x, kx_reg_id nub, const char *identity,
                                   const char *type, plist_t props)
{
    char address[37];
    kx_uuid_v5(hw_namespace, identity, address);
    plist_dict_set_item(props, "address", plist_new_string(address));
    plist_dict_set_item(props, "type", plist_new_string(type));
    kx_reg_id id;
    kx_status st = lx_publish(x, NULL, nub, KX_REG_ID_NONE, KX_COMPONENT_CLASS, "component",
                              NULL, props, &id);
    if (st == STATUS_SUCCESS)
        st = kx_reg_prop_set(x->reg, nub, KX_COMPONENT_ADDRESS_KEY, plist_new_string(address));
    return st;
}

kx_status lx_pci_component(struct lx *x, kx_reg_id function, unsigned domain, unsigned bus,
                           unsigned dev, unsigned fn, uint32_t vendor, uint32_t device)
{
    char pci[16], identity[64];
    snprintf(pci, sizeof pci, "%04x:%02x:%02x.%x", domain, bus, dev, fn);
    snprintf(identity, sizeof identity, "pci:%s:%04x:%04x", pci, vendor, device);
    plist_t p = plist_new_dict();
    plist_dict_set_item(p, "pci-address", plist_new_string(pci));
    return publish_component(x, function, identity, "pci", p);
}

kx_status lx_usb_component(struct lx *x, kx_reg_id device, const char *port, uint32_t vendor,
                           uint32_t product, const char *serial)
{
    char identity[400];
    if (serial && *serial)
        snprintf(identity, sizeof identity, "usb:%04x:%04x:serial:%s", vendor, product, serial);
    else
        snprintf(identity, sizeof identity, "usb:%04x:%04x:port:%s", vendor, product, port);
    plist_t p = plist_new_dict();
    plist_dict_set_item(p, "usb-port", plist_new_string(port));
    if (serial && *serial)
        plist_dict_set_item(p, "usb-serial", plist_new_string(serial));
    return publish_component(x, device, identity, "usb", p);
}

kx_status kx_platform_pci_config_read(const char *sysfs_root, const char *sysfs_path,
                                      uint32_t offset, void *buf, size_t len)
{
    char *file = NULL;
    if (asprintf(&file, "%s%s/config", sysfs_root, sysfs_path) < 0)
        return STATUS_INSUFFICIENT_RESOURCES;
    int fd = -1;
    kx_status st = kx_plat_open_read(file, &fd);
    free(file);
    if (st == STATUS_NO_SUCH_FILE)
        return STATUS_DEVICE_REMOVED;
    if (st != STATUS_SUCCESS)
        return st;
    size_t got = 0;
    st = kx_plat_pread(fd, buf, len, offset, &got);
    kx_plat_close(fd);
    /* Without CAP_SYS_ADMIN Linux shows only the first 64 bytes. */
    if (st == STATUS_SUCCESS && got != len)
        st = STATUS_INVALID_PARAMETER;
    return st;
}

kx_status kx_platform_pci_config_write(const char *sysfs_root, const char *sysfs_path,
                                       uint32_t offset, const void *buf, size_t len)
{
    char *file = NULL;
    if (asprintf(&file, "%s%s/config", sysfs_root, sysfs_path) < 0)
        return STATUS_INSUFFICIENT_RESOURCES;
    int fd = -1;
    kx_status st = kx_plat_open_rw(file, &fd);
    free(file);
    if (st == STATUS_NO_SUCH_FILE)
        return STATUS_DEVICE_REMOVED;
    if (st != STATUS_SUCCESS)
        return st;
    st = kx_plat_pwrite(fd, buf, len, offset);
    kx_plat_close(fd);
    return st;
}

/* Linux's IORESOURCE_IO and IORESOURCE_MEM (include/linux/ioport.h), the resource file's
 * third column. */
#define RESOURCE_IO  0x100u
#define RESOURCE_MEM 0x200u

/* "0x<start> 0x<end> 0x<flags>": 1 if the line holds the three numbers. */
static int parse_resource(const char *line, unsigned long long *start, unsigned long long *end,
                          unsigned long long *flags)
{
    unsigned long long *v[3] = {start, end, flags};
    const char *at = line;
    char *next;
    for (int i = 0; i < 3; i++) {
        *v[i] = strtoull(at, &next, 16);
        if (next == at)
            return 0;
        at = next;
    }
    return 1;
}

kx_status kx_platform_pci_bar(const char *sysfs_root, const char *sysfs_path, unsigned index,
                              char **file, uint64_t *size)
{
    char *resource = NULL;
    *file = NULL;
    if (index > 5)
        return STATUS_INVALID_PARAMETER;
    if (asprintf(&resource, "%s%s/resource", sysfs_root, sysfs_path) < 0)
        return STATUS_INSUFFICIENT_RESOURCES;
    FILE *f = fopen(resource, "re");
    free(resource);
    if (!f)
        return STATUS_DEVICE_REMOVED;
    /* One line per resource: "0x<start> 0x<end> 0x<flags>", the BARs first. */
    unsigned long long start = 0, end = 0, flags = 0;
    char line[128];
    unsigned at = 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        if (at++ == index)
            found = parse_resource(line, &start, &end, &flags);
    fclose(f);
    if (!found)
        return STATUS_DATA_ERROR;
    if (!(flags & (RESOURCE_IO | RESOURCE_MEM)) || end <= start)
        return STATUS_INVALID_PARAMETER; /* no such BAR */
    if (!(flags & RESOURCE_MEM))
        return STATUS_NOT_SUPPORTED; /* an I/O port range can't be mapped */
    if (asprintf(file, "%s%s/resource%u", sysfs_root, sysfs_path, index) < 0) {
        *file = NULL;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    *size = end - start + 1;
    return STATUS_SUCCESS;
}
