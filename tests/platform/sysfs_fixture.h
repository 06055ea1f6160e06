/* sysfs_fixture.h — fake sysfs trees for the Linux platform tests: real devices' IDs and
 * the links real sysfs has (bus/<bus>/devices/X -> ../../../devices/..., every device's
 * subsystem -> bus/<bus>, firmware_node / physical_node between a device and its ACPI
 * companion), in a private mkdtemp folder. Every helper aborts the test on failure; paths
 * ("rel") are relative to the tree's root.
 */
#ifndef KX_TESTS_SYSFS_FIXTURE_H
#define KX_TESTS_SYSFS_FIXTURE_H

/* A new empty tree (with devices/); free with sfx_free, which removes it. */
char *sfx_new(void);
void sfx_free(char *root);

/* Writes text (and a newline, as sysfs does) to rel, creating folders. */
void sfx_write(const char *root, const char *rel, const char *text);
void sfx_mkdir(const char *root, const char *rel);
/* A relative symbolic link at rel to target (relative to the root too). */
void sfx_link(const char *root, const char *rel, const char *target);
/* Removes rel and everything below it, as an unplug does. */
void sfx_remove(const char *root, const char *rel);

/* A PCI function at dev ("devices/pci0000:00/0000:00:1f.6") with its bus link. */
void sfx_pci(const char *root, const char *dev, unsigned vendor, unsigned device,
             unsigned sub_vendor, unsigned sub_device, unsigned class_code, unsigned revision);
/* A USB device (IDs in hex as sysfs writes them; strings may be NULL). */
void sfx_usb_device(const char *root, const char *dev, unsigned vendor, unsigned product,
                    unsigned bcd, unsigned cls, unsigned sub, unsigned proto, const char *product_s,
                    const char *manufacturer, const char *serial);
void sfx_usb_interface(const char *root, const char *dev, unsigned number, unsigned cls,
                       unsigned sub, unsigned proto);
/* An ACPI node: hid and modalias may be NULL, adr and sta < 0 for none. */
void sfx_acpi(const char *root, const char *dev, const char *hid, const char *path,
              const char *modalias, long adr, long sta);
/* dev's firmware_node -> acpi and acpi's physical_node -> dev. */
void sfx_companion(const char *root, const char *dev, const char *acpi);

/* The machine the tests share:
 *   ACPI  \ (LNXSYSTM), \_SB (LNXSYBUS), \_SB.PCI0 (PNP0A08, CID PNP0A03, _ADR 0) — the host
 *         bridge of pci0000:00 — with GIGE, LPCB, RP01 (and RP01.PXSX) as companions of
 *         PCI functions, LPCB.EC0_ (PNP0C09), LPCB.EC0_.BAT0 (PNP0C0A), I2C0 (INT33C2, CID
 *         PNP0C50), I2C0.TPD0 (ELAN0651, CIDs PNP0C50 and ACPI0C50), an empty slot S05_
 *         (_ADR only), and \_TZ (LNXSYBUS)
 *   PCI   00:1f.6 Intel I219-V 8086:15b8 (Gigabyte 1458:e000) class 020000 rev 10 (GIGE)
 *         00:1f.3 Intel HDA 8086:a170 (1458:a182) class 040300 rev 31, no companion
 *         00:1f.0 Intel LPC 8086:a145 (1458:5001) class 060100 rev 31 (LPCB)
 *         00:1c.0 Intel root port 8086:a110 class 060400 rev f1 (RP01), no subsystem, and
 *         behind it 02:00.0 Broadcom BCM4360 14e4:43a0 (Apple 106b:0117) class 028000
 *         rev 03 (PXSX)
 *         00:14.0 Intel xHCI 8086:a12f (1458:5007) class 0c0330 rev 31, no companion
 *   USB   usb1 (the root hub) and 1-0:1.0 under 00:14.0; 1-1 Broadcom BCM20702A0
 *         0a5c:21e8 bcdDevice 0112 class ff/01/01 with interfaces 1-1:1.0 and 1-1:1.1
 *         (e0/01/01) */
void sfx_machine(const char *root);

#define SFX_GIGE "devices/pci0000:00/0000:00:1f.6"
#define SFX_HDA  "devices/pci0000:00/0000:00:1f.3"
#define SFX_LPC  "devices/pci0000:00/0000:00:1f.0"
#define SFX_RP01 "devices/pci0000:00/0000:00:1c.0"
#define SFX_WIFI SFX_RP01 "/0000:02:00.0"
#define SFX_XHC  "devices/pci0000:00/0000:00:14.0"
#define SFX_BT   SFX_XHC "/usb1/1-1"
#define SFX_SB   "devices/LNXSYSTM:00/LNXSYBUS:00"
#define SFX_PCI0 SFX_SB "/PNP0A08:00"
#define SFX_EC   SFX_PCI0 "/device:01/PNP0C09:00"

#endif
