/* sysfs_fixture.c — see sysfs_fixture.h. Files are written as the kernel formats them
 * (drivers/pci/pci-sysfs.c, drivers/usb/core/sysfs.c, drivers/acpi/device_sysfs.c):
 * "0x%04x" for PCI IDs, "%04x" / "%02x" for USB descriptors, "%u" for decimal fields. */
#include "sysfs_fixture.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what, const char *path)
{
    fprintf(stderr, "sysfs_fixture: %s %s: %s\n", what, path, strerror(errno));
    abort();
}

static char *join(const char *root, const char *rel)
{
    char *s = NULL;
    if (asprintf(&s, "%s/%s", root, rel) < 0)
        abort();
    return s;
}

static void mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            die("mkdir", path);
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die("mkdir", path);
}

void sfx_mkdir(const char *root, const char *rel)
{
    char *p = join(root, rel);
    mkdirs(p);
    free(p);
}

void sfx_write(const char *root, const char *rel, const char *text)
{
    char *p = join(root, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    mkdirs(p);
    *slash = '/';
    FILE *f = fopen(p, "w");
    if (!f)
        die("fopen", p);
    fprintf(f, "%s%s", text, *text ? "\n" : "");
    fclose(f);
    free(p);
}

static void writef(const char *root, const char *dev, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void writef(const char *root, const char *dev, const char *file, const char *fmt, ...)
{
    char text[512], rel[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    snprintf(rel, sizeof rel, "%s/%s", dev, file);
    sfx_write(root, rel, text);
}

void sfx_link(const char *root, const char *rel, const char *target)
{
    char up[1024] = "";
    for (const char *p = strchr(rel, '/'); p; p = strchr(p + 1, '/'))
        strcat(up, "../");
    char *to = NULL, *at = join(root, rel);
    if (asprintf(&to, "%s%s", up, target) < 0)
        abort();
    char *slash = strrchr(at, '/');
    *slash = '\0';
    mkdirs(at);
    *slash = '/';
    unlink(at);
    if (symlink(to, at) != 0)
        die("symlink", at);
    free(to);
    free(at);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void sfx_remove(const char *root, const char *rel)
{
    char *p = join(root, rel);
    nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(p);
}

char *sfx_new(void)
{
    const char *tmp = getenv("TMPDIR");
    char *root = NULL;
    if (asprintf(&root, "%s/kx-sysfs-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0 || !mkdtemp(root))
        abort();
    sfx_mkdir(root, "devices");
    return root;
}

void sfx_free(char *root)
{
    if (root)
        nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(root);
}

/* dev's subsystem link and bus/<bus>/devices/<name> */
static void on_bus(const char *root, const char *dev, const char *bus)
{
    char rel[1024], target[64];
    snprintf(rel, sizeof rel, "%s/subsystem", dev);
    snprintf(target, sizeof target, "bus/%s", bus);
    sfx_link(root, rel, target);
    snprintf(rel, sizeof rel, "bus/%s/devices/%s", bus, strrchr(dev, '/') + 1);
    sfx_link(root, rel, dev);
}

void sfx_pci(const char *root, const char *dev, unsigned vendor, unsigned device,
             unsigned sub_vendor, unsigned sub_device, unsigned class_code, unsigned revision)
{
    writef(root, dev, "vendor", "0x%04x", vendor);
    writef(root, dev, "device", "0x%04x", device);
    writef(root, dev, "subsystem_vendor", "0x%04x", sub_vendor);
    writef(root, dev, "subsystem_device", "0x%04x", sub_device);
    writef(root, dev, "class", "0x%06x", class_code);
    writef(root, dev, "revision", "0x%02x", revision);
    writef(root, dev, "modalias", "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X", vendor, device,
           sub_vendor, sub_device, class_code >> 16, (class_code >> 8) & 0xff, class_code & 0xff);
    char rel[1024];
    snprintf(rel, sizeof rel, "%s/power", dev);
    sfx_mkdir(root, rel);
    on_bus(root, dev, "pci");
}

void sfx_usb_device(const char *root, const char *dev, unsigned vendor, unsigned product,
                    unsigned bcd, unsigned cls, unsigned sub, unsigned proto, const char *product_s,
                    const char *manufacturer, const char *serial)
{
    writef(root, dev, "idVendor", "%04x", vendor);
    writef(root, dev, "idProduct", "%04x", product);
    writef(root, dev, "bcdDevice", "%04x", bcd);
    writef(root, dev, "bDeviceClass", "%02x", cls);
    writef(root, dev, "bDeviceSubClass", "%02x", sub);
    writef(root, dev, "bDeviceProtocol", "%02x", proto);
    writef(root, dev, "bMaxPacketSize0", "%u", 64u);
    writef(root, dev, "bNumConfigurations", "%u", 1u);
    writef(root, dev, "bConfigurationValue", "%u", 1u);
    writef(root, dev, "devnum", "%u", 2u);
    writef(root, dev, "speed", "%s", "12");
    writef(root, dev, "version", "%s", " 2.00");
    if (product_s)
        writef(root, dev, "product", "%s", product_s);
    if (manufacturer)
        writef(root, dev, "manufacturer", "%s", manufacturer);
    if (serial)
        writef(root, dev, "serial", "%s", serial);
    on_bus(root, dev, "usb");
}

void sfx_usb_interface(const char *root, const char *dev, unsigned number, unsigned cls,
                       unsigned sub, unsigned proto)
{
    writef(root, dev, "bInterfaceNumber", "%02x", number);
    writef(root, dev, "bAlternateSetting", "%2d", 0);
    writef(root, dev, "bNumEndpoints", "%02x", number ? 2u : 3u);
    writef(root, dev, "bInterfaceClass", "%02x", cls);
    writef(root, dev, "bInterfaceSubClass", "%02x", sub);
    writef(root, dev, "bInterfaceProtocol", "%02x", proto);
    on_bus(root, dev, "usb");
}

void sfx_acpi(const char *root, const char *dev, const char *hid, const char *path,
              const char *modalias, long adr, long sta)
{
    if (hid)
        writef(root, dev, "hid", "%s", hid);
    writef(root, dev, "path", "%s", path);
    if (modalias)
        writef(root, dev, "modalias", "%s", modalias);
    if (adr >= 0)
        writef(root, dev, "adr", "0x%08lx", adr);
    if (sta >= 0)
        writef(root, dev, "status", "%ld", sta);
    on_bus(root, dev, "acpi");
}

void sfx_companion(const char *root, const char *dev, const char *acpi)
{
    char rel[1024];
    snprintf(rel, sizeof rel, "%s/firmware_node", dev);
    sfx_link(root, rel, acpi);
    snprintf(rel, sizeof rel, "%s/physical_node", acpi);
    sfx_link(root, rel, dev);
}

void sfx_machine(const char *root)
{
    sfx_acpi(root, "devices/LNXSYSTM:00", "LNXSYSTM", "\\", "acpi:LNXSYSTM:", -1, -1);
    sfx_acpi(root, SFX_SB, "LNXSYBUS", "\\_SB_", "acpi:LNXSYBUS:", -1, -1);
    sfx_acpi(root, "devices/LNXSYSTM:00/LNXSYBUS:01", "LNXSYBUS", "\\_TZ_", "acpi:LNXSYBUS:", -1,
             -1);
    sfx_acpi(root, SFX_PCI0, "PNP0A08", "\\_SB_.PCI0", "acpi:PNP0A08:PNP0A03:", 0, 15);
    sfx_acpi(root, SFX_PCI0 "/device:00", NULL, "\\_SB_.PCI0.GIGE", NULL, 0x001f0006, -1);
    sfx_acpi(root, SFX_PCI0 "/device:01", NULL, "\\_SB_.PCI0.LPCB", NULL, 0x001f0000, -1);
    sfx_acpi(root, SFX_EC, "PNP0C09", "\\_SB_.PCI0.LPCB.EC0_", "acpi:PNP0C09:", -1, 15);
    sfx_acpi(root, SFX_EC "/PNP0C0A:00", "PNP0C0A", "\\_SB_.PCI0.LPCB.EC0_.BAT0",
             "acpi:PNP0C0A:", -1, 31);
    sfx_acpi(root, SFX_PCI0 "/device:02", NULL, "\\_SB_.PCI0.RP01", NULL, 0x001c0000, -1);
    sfx_acpi(root, SFX_PCI0 "/device:02/device:03", NULL, "\\_SB_.PCI0.RP01.PXSX", NULL, 0, -1);
    sfx_acpi(root, SFX_PCI0 "/INT33C2:00", "INT33C2", "\\_SB_.PCI0.I2C0",
             "acpi:INT33C2:PNP0C50:", -1, 15);
    sfx_acpi(root, SFX_PCI0 "/INT33C2:00/ELAN0651:00", "ELAN0651", "\\_SB_.PCI0.I2C0.TPD0",
             "acpi:ELAN0651:PNP0C50:ACPI0C50:", -1, 15);
    sfx_acpi(root, SFX_PCI0 "/device:04", NULL, "\\_SB_.PCI0.S05_", NULL, 0x00050000, -1);

    sfx_mkdir(root, "devices/pci0000:00/power");
    sfx_link(root, "devices/pci0000:00/firmware_node", SFX_PCI0);
    sfx_link(root, SFX_PCI0 "/physical_node", "devices/pci0000:00");
    sfx_pci(root, SFX_GIGE, 0x8086, 0x15b8, 0x1458, 0xe000, 0x020000, 0x10);
    sfx_companion(root, SFX_GIGE, SFX_PCI0 "/device:00");
    sfx_pci(root, SFX_HDA, 0x8086, 0xa170, 0x1458, 0xa182, 0x040300, 0x31);
    sfx_pci(root, SFX_LPC, 0x8086, 0xa145, 0x1458, 0x5001, 0x060100, 0x31);
    sfx_companion(root, SFX_LPC, SFX_PCI0 "/device:01");
    sfx_pci(root, SFX_RP01, 0x8086, 0xa110, 0, 0, 0x060400, 0xf1);
    sfx_companion(root, SFX_RP01, SFX_PCI0 "/device:02");
    sfx_mkdir(root, SFX_RP01 "/pci_bus/0000:02");
    sfx_link(root, SFX_RP01 "/pci_bus/0000:02/subsystem", "class/pci_bus");
    sfx_pci(root, SFX_WIFI, 0x14e4, 0x43a0, 0x106b, 0x0117, 0x028000, 0x03);
    sfx_companion(root, SFX_WIFI, SFX_PCI0 "/device:02/device:03");
    sfx_pci(root, SFX_XHC, 0x8086, 0xa12f, 0x1458, 0x5007, 0x0c0330, 0x31);

    sfx_usb_device(root, SFX_XHC "/usb1", 0x1d6b, 0x0002, 0x0510, 0x09, 0, 1,
                   "xHCI Host Controller", "Linux 5.10.0 xhci-hcd", "0000:00:14.0");
    sfx_usb_interface(root, SFX_XHC "/usb1/1-0:1.0", 0, 0x09, 0, 0);
    sfx_usb_device(root, SFX_BT, 0x0a5c, 0x21e8, 0x0112, 0xff, 0x01, 0x01, "BCM20702A0",
                   "Broadcom Corp", "5CF37095A1B2");
    sfx_usb_interface(root, SFX_BT "/1-1:1.0", 0, 0xe0, 0x01, 0x01);
    sfx_usb_interface(root, SFX_BT "/1-1:1.1", 1, 0xe0, 0x01, 0x01);
}
