/* linux_usb.c — USB devices and interfaces from sysfs, published as IOUSBHostFamily does.
 *
 * A device (sysfs "1-1.2") is an IOUSBHostDevice with the descriptor's fields as numbers
 * (idVendor, idProduct, bcdDevice, bDeviceClass, bDeviceSubClass, bDeviceProtocol, and
 * bcdUSB, bMaxPacketSize0, bNumConfigurations when sysfs has them), its strings ("USB
 * Product Name", "USB Vendor Name", "USB Serial Number" and their kUSB*String twins), "USB
 * Address", USBSpeed (0 low, 1 full, 2 high, 3 super, 4 super+), kUSBCurrentConfiguration
 * and locationID. It is named after its product string ("IOUSBHostDevice" without one) and
 * located at its locationID in hex, as a Mac shows BCM20702A0@14100000. An interface
 * ("1-1.2:1.0") is an IOUSBHostInterface below its device with bInterfaceNumber,
 * bAlternateSetting, bInterfaceClass/SubClass/Protocol, bNumEndpoints, bConfigurationValue
 * and, as Apple's interface nubs carry them, the device's idVendor, idProduct, bcdDevice
 * and locationID; it is named after its interface string ("IOUSBHostInterface" without
 * one) at its number.
 *
 * locationID is Apple's layout: the top byte names the controller, then one nibble per hub
 * port from the root down (1-1.3 -> 0x__130000). kx takes the top byte from the controller's
 * PCI device number (XHC@14 -> 0x14), or the USB bus number when the controller isn't PCI.
 * Linux's root hubs (usbN, their N-0:1.0 interfaces) are the controller's own ports on a
 * Mac, not nubs: they are transparent, so devices hang under the controller's IOPCIDevice.
 * USB nubs are in the IOService plane only, as on a Mac. Beside each device kx publishes
 * its KXComponent of type "usb" (component.c).
 */
#include "platform/linux_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads the hexadecimal fields of files[] into out[]; skips path (reported) when one is
 * missing or malformed. */
static kx_status read_hex(struct lx *x, const char *path, const char *const *files, size_t n,
                          uint32_t max, uint32_t *out)
{
    char why[256];
    for (size_t i = 0; i < n; i++) {
        kx_status st = lx_attr_hex(x, path, files[i], max, &out[i], why, sizeof why);
        if (st == STATUS_INSUFFICIENT_RESOURCES)
            return st;
        if (st != STATUS_SUCCESS)
            return lx_skip(x, path, "%s", why);
    }
    return STATUS_SUCCESS;
}

/* An optional decimal field as a property. */
static void opt_dec(struct lx *x, const char *path, const char *file, plist_t props,
                    const char *key)
{
    char why[128];
    uint32_t v;
    if (lx_attr_dec(x, path, file, 0xffffffffu, &v, why, sizeof why) == STATUS_SUCCESS)
        plist_dict_set_item(props, key, plist_new_uint(v));
}

/* An optional string field as one or two properties. */
static void opt_str(struct lx *x, const char *path, const char *file, plist_t props,
                    const char *key, const char *twin)
{
    char s[256];
    if (lx_attr(x, path, file, s, sizeof s) != STATUS_SUCCESS || !*s)
        return;
    plist_dict_set_item(props, key, plist_new_string(s));
    if (twin)
        plist_dict_set_item(props, twin, plist_new_string(s));
}

/* Apple's locationID for the device at path ("…/1-1.3"). */
static uint32_t location_id(struct lx *x, const char *path)
{
    const char *base = lx_base(path);
    unsigned bus = 0, top = 0;
    uint32_t id = 0;
    const char *ports = lx_scan(base, 10, 3, &bus);
    if (!ports || *ports != '-')
        return 0;
    top = bus & 0xff;
    char *up = lx_dirname(path);
    for (unsigned hops = 0; up && *up && hops < 32; hops++) { /* find the controller */
        char subsystem[16];
        unsigned d = 0, b = 0, dev = 0, fn = 0;
        lx_subsystem(x, up, subsystem, sizeof subsystem);
        if (strcmp(subsystem, "pci") == 0 && lx_pci_address(lx_base(up), &d, &b, &dev, &fn) == 0) {
            top = dev;
            break;
        }
        char *next = lx_dirname(up);
        free(up);
        up = next;
    }
    free(up);
    id = (uint32_t)top << 24;
    const char *p = ports + 1;
    for (int shift = 20; *p && shift >= 0; shift -= 4) {
        char *stop = NULL;
        unsigned long port = strtoul(p, &stop, 10);
        id |= (uint32_t)(port > 15 ? 15 : port) << shift;
        if (stop == p || *stop != '.')
            break;
        p = stop + 1;
    }
    return id;
}

static uint32_t speed_code(const char *mbps)
{
    if (strcmp(mbps, "1.5") == 0)
        return 0;
    if (strcmp(mbps, "12") == 0)
        return 1;
    if (strcmp(mbps, "480") == 0)
        return 2;
    return strcmp(mbps, "5000") == 0 ? 3 : 4;
}

static kx_status device(struct lx *x, const char *path, kx_reg_id *out)
{
    static const char *const fields[] = {"idVendor",     "idProduct",       "bcdDevice",
                                         "bDeviceClass", "bDeviceSubClass", "bDeviceProtocol"};
    uint32_t v[6];
    char s[256], location[16];
    unsigned major = 0, minor = 0;
    const char *dot = NULL;
    kx_status st = read_hex(x, path, fields, 2, 0xffff, v);
    if (st == STATUS_SUCCESS)
        st = read_hex(x, path, fields + 2, 1, 0xffff, v + 2);
    if (st == STATUS_SUCCESS)
        st = read_hex(x, path, fields + 3, 3, 0xff, v + 3);
    if (st != STATUS_SUCCESS)
        return st;
    struct lx_slot slot;
    if ((st = lx_resolve_parent(x, path, &slot)) != STATUS_SUCCESS)
        return st;
    uint32_t loc = location_id(x, path);
    plist_t p = plist_new_dict();
    for (size_t i = 0; i < 6; i++)
        plist_dict_set_item(p, fields[i], plist_new_uint(v[i]));
    opt_dec(x, path, "bMaxPacketSize0", p, "bMaxPacketSize0");
    opt_dec(x, path, "bNumConfigurations", p, "bNumConfigurations");
    opt_dec(x, path, "bConfigurationValue", p, "kUSBCurrentConfiguration");
    opt_dec(x, path, "devnum", p, "USB Address");
    opt_str(x, path, "manufacturer", p, "USB Vendor Name", "kUSBVendorString");
    opt_str(x, path, "serial", p, "USB Serial Number", "kUSBSerialNumberString");
    if (lx_attr(x, path, "version", s, sizeof s) == STATUS_SUCCESS &&
        (dot = lx_scan(s, 16, 2, &major)) && *dot == '.' && lx_scan(dot + 1, 16, 2, &minor))
        plist_dict_set_item(p, "bcdUSB", plist_new_uint(((major & 0xff) << 8) | (minor & 0xff)));
    if (lx_attr(x, path, "speed", s, sizeof s) == STATUS_SUCCESS && *s)
        plist_dict_set_item(p, "USBSpeed", plist_new_uint(speed_code(s)));
    plist_dict_set_item(p, "locationID", plist_new_uint(loc));
    if (lx_attr(x, path, "product", s, sizeof s) != STATUS_SUCCESS || !*s ||
        strlen(s) >= KX_REG_NAME_MAX)
        snprintf(s, sizeof s, "IOUSBHostDevice");
    else
        opt_str(x, path, "product", p, "USB Product Name", "kUSBProductString");
    snprintf(location, sizeof location, "%x", loc);
    char serial[256];
    if (lx_attr(x, path, "serial", serial, sizeof serial) != STATUS_SUCCESS)
        serial[0] = 0;
    st = lx_publish(x, path, slot.service, KX_REG_ID_NONE, "IOUSBHostDevice", s, location, p, out);
    if (st == STATUS_SUCCESS)
        st = lx_usb_component(x, *out, lx_base(path), v[0], v[1], serial);
    return st;
}

static kx_status interface(struct lx *x, const char *path, kx_reg_id *out)
{
    static const char *const fields[] = {"bInterfaceNumber", "bInterfaceClass",
                                         "bInterfaceSubClass", "bInterfaceProtocol"};
    static const char *const ids[] = {"idVendor", "idProduct", "bcdDevice"};
    const char *base = lx_base(path), *colon = strchr(base, ':');
    uint32_t v[4], id[3], endpoints = 0;
    unsigned config = 0, number = 0;
    const char *q = lx_scan(colon + 1, 10, 3, &config);
    char s[256], location[16], why[128];
    char *dev = lx_dirname(path);
    if (!dev)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (strncmp(lx_base(dev), "usb", 3) == 0) { /* a root hub's: the controller's own */
        free(dev);
        return STATUS_SUCCESS;
    }
    kx_status st = STATUS_SUCCESS;
    q = q && *q == '.' ? lx_scan(q + 1, 10, 3, &number) : NULL;
    if (!q || *q)
        st = lx_skip(x, path, "\"%s\" is not an interface name (device:config.interface)", base);
    if (st == STATUS_SUCCESS)
        st = read_hex(x, path, fields, 4, 0xff, v);
    struct lx_slot slot;
    if (st == STATUS_SUCCESS)
        st = lx_resolve_parent(x, path, &slot);
    /* the device published, so its fields read */
    if (st == STATUS_SUCCESS)
        st = read_hex(x, dev, ids, 3, 0xffff, id);
    if (st != STATUS_SUCCESS) {
        free(dev);
        return st;
    }
    plist_t p = plist_new_dict();
    for (size_t i = 0; i < 4; i++)
        plist_dict_set_item(p, fields[i], plist_new_uint(v[i]));
    opt_dec(x, path, "bAlternateSetting", p, "bAlternateSetting");
    if (lx_attr_hex(x, path, "bNumEndpoints", 0xff, &endpoints, why, sizeof why) == STATUS_SUCCESS)
        plist_dict_set_item(p, "bNumEndpoints", plist_new_uint(endpoints));
    plist_dict_set_item(p, "bConfigurationValue", plist_new_uint(config));
    for (size_t i = 0; i < 3; i++)
        plist_dict_set_item(p, ids[i], plist_new_uint(id[i]));
    plist_dict_set_item(p, "locationID", plist_new_uint(location_id(x, dev)));
    free(dev);
    if (lx_attr(x, path, "interface", s, sizeof s) != STATUS_SUCCESS || !*s ||
        strlen(s) >= KX_REG_NAME_MAX)
        snprintf(s, sizeof s, "IOUSBHostInterface");
    snprintf(location, sizeof location, "%x", v[0]);
    return lx_publish(x, path, slot.nub, KX_REG_ID_NONE, "IOUSBHostInterface", s, location, p, out);
}

kx_status lx_usb_node(struct lx *x, const char *path, kx_reg_id *out)
{
    const char *base = lx_base(path);
    *out = KX_REG_ID_NONE;
    if (strncmp(base, "usb", 3) == 0) /* a root hub: the controller's own ports */
        return STATUS_SUCCESS;
    return strchr(base, ':') ? interface(x, path, out) : device(x, path, out);
}
