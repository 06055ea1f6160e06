/* linux_int.h — what the Linux readers (linux_*.c) share: one pass's context, sysfs
 * attribute reading, the map from sysfs paths to nubs, skips and publishing.
 *
 * A pass (an enumeration or one udev event) starts from the registry as it is: every entry
 * carrying KXSysfsPath is in the map, so a device is never published twice and a parent
 * published by an earlier pass is found again. lx_ensure publishes one device after
 * lx_resolve has found (publishing it first when missing) the place its parent gives
 * children; devices that aren't nubs (a USB root hub, an ACPI scope, a folder like
 * pci_bus) are transparent: their children go where their own parent's go. Paths are
 * DEVPATHs: below the sysfs root, starting "/devices/".
 */
#ifndef KX_PLATFORM_LINUX_INT_H
#define KX_PLATFORM_LINUX_INT_H

#include <kx/platform.h>
#include <kx/registry.h>
#include <kx/status.h>

#include <plist/plist.h>
#include <stddef.h>
#include <stdint.h>

struct lx_nub {
    char *path;
    kx_reg_id id;
};

struct lx {
    struct kx_reg *reg;
    char *root;          /* the sysfs root, resolved */
    struct lx_nub *nubs; /* published devices by path: the registry's, then this pass's */
    size_t n_nubs, cap_nubs;
    char **left_out; /* paths skipped in this pass, so their children are skipped too */
    size_t n_left_out, cap_left_out;
    struct kx_platform_report *rep; /* may be NULL */
    unsigned depth;                 /* lx_resolve's recursion, bounded against looping links */
};

/* Where a device's children go: the nub itself, the IOService-plane parent its children
 * take (its IOPP for a PCI bridge), and their IODeviceTree-plane parent (the nearest entry
 * in that plane: stand-ins for Apple's drivers — AppleACPIPlatformExpert, AppleACPIPCI,
 * IOPP — are in the IOService plane only, as drivers are on a Mac). */
struct lx_slot {
    kx_reg_id nub, service, dt;
};

/* ---- The pass (linux_sysfs.c) --------------------------------------------------------------- */

/* STATUS_NO_SUCH_FILE when root/devices isn't a folder. */
kx_status lx_begin(struct lx *x, struct kx_reg *r, const char *root,
                   struct kx_platform_report *rep);
void lx_end(struct lx *x);

/* Publishes the device at path if it is a nub and missing; *id is its nub, or
 * KX_REG_ID_NONE for a transparent path. STATUS_NO_SUCH_DEVICE: the device (or a parent it
 * needs) was left out, and the report says why. STATUS_INSUFFICIENT_RESOURCES ends a pass. */
kx_status lx_ensure(struct lx *x, const char *path, kx_reg_id *id);
/* The slot for children of path (the platform expert's above every device). */
kx_status lx_resolve(struct lx *x, const char *path, struct lx_slot *out);
/* The slot for children of path's parent folder. */
kx_status lx_resolve_parent(struct lx *x, const char *path, struct lx_slot *out);
/* The IODeviceTree-plane entry nearest id: id itself or its first IOService-plane ancestor
 * in that plane. */
kx_reg_id lx_nearest_dt(struct lx *x, kx_reg_id id);

/* Records "path: why" in the report, marks path left out, returns STATUS_NO_SUCH_DEVICE. */
kx_status lx_skip(struct lx *x, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Publishes class/name@location with props (taken) under slot->service in the IOService
 * plane and, when dt is set, attaches it under dt in the IODeviceTree plane. path (may be
 * NULL) becomes KXSysfsPath and enters the map. A registry refusal (a name too long) skips
 * path; STATUS_INSUFFICIENT_RESOURCES is returned as is. */
/* Publishes the KXComponent client of PCI function nub `function` (component.c). */
kx_status lx_pci_component(struct lx *x, kx_reg_id function, unsigned domain, unsigned bus,
                           unsigned dev, unsigned fn, uint32_t vendor, uint32_t device);
/* The same for a USB device (component.c): port is its sysfs name ("1-1.2"), serial its
 * serial number (NULL or "" when it has none). */
kx_status lx_usb_component(struct lx *x, kx_reg_id device, const char *port, uint32_t vendor,
                           uint32_t product, const char *serial);

kx_status lx_publish(struct lx *x, const char *path, kx_reg_id service, kx_reg_id dt,
                     const char *class_name, const char *name, const char *location, plist_t props,
                     kx_reg_id *out);

/* ---- Attributes (linux_attr.c) -------------------------------------------------------------- */

/* "root/path/file" (malloc'ed; NULL when out of memory). */
char *lx_file(const struct lx *x, const char *path, const char *file);
/* The last component of a path (borrowed). */
const char *lx_base(const char *path);
/* path's parent folder as a new string; "" above /devices. */
char *lx_dirname(const char *path);

/* An attribute's text with surrounding white space removed. STATUS_NO_SUCH_FILE when absent,
 * STATUS_BUFFER_TOO_SMALL when it doesn't fit (len includes the NUL). */
kx_status lx_attr(const struct lx *x, const char *path, const char *file, char *buf, size_t len);
/* A hexadecimal attribute ("0x8086", "8086") no larger than max. STATUS_NO_SUCH_FILE when
 * absent, STATUS_DATA_ERROR when malformed; why says which and what. */
kx_status lx_attr_hex(const struct lx *x, const char *path, const char *file, uint32_t max,
                      uint32_t *out, char *why, size_t why_len);
/* The same for a decimal attribute. */
kx_status lx_attr_dec(const struct lx *x, const char *path, const char *file, uint32_t max,
                      uint32_t *out, char *why, size_t why_len);
/* The DEVPATH a symbolic link in path points to (firmware_node, physical_node), or
 * STATUS_NO_SUCH_FILE; *out is malloc'ed. */
kx_status lx_link_path(const struct lx *x, const char *path, const char *link, char **out);
/* The basename of path's subsystem link ("pci", "usb", "acpi"), "" when it has none. */
void lx_subsystem(const struct lx *x, const char *path, char *buf, size_t len);
/* Whether root/path/file exists (a folder or a file). */
int lx_exists(const struct lx *x, const char *path, const char *file);

/* Reads 1 to max_digits digits of base (10 or 16) at s into *out: the end, or NULL when s
 * doesn't start with a digit. */
const char *lx_scan(const char *s, int base, size_t max_digits, unsigned *out);
/* A PCI address "DDDD:BB:dd.f", the whole string; 0 when it is one. */
int lx_pci_address(const char *s, unsigned *domain, unsigned *bus, unsigned *dev, unsigned *fn);

/* plist data holding v as 4 little-endian bytes; data holding s with its NUL. */
plist_t lx_data32(uint32_t v);
plist_t lx_data_str(const char *s);

/* ---- Buses ---------------------------------------------------------------------------------- */

/* linux_pci.c: a PCI function ("0000:00:1f.6"), a root bus ("pci0000:00"). */
kx_status lx_pci_function(struct lx *x, const char *path, kx_reg_id *out);
kx_status lx_pci_root(struct lx *x, const char *path, kx_reg_id *out);
int lx_pci_is_root(const char *name);
/* The IOPP (IOPCI2PCIBridge) below a bridge's nub, or KX_REG_ID_NONE. */
kx_reg_id lx_pci_bridge_of(struct lx *x, kx_reg_id nub);

/* linux_usb.c: a device ("1-1.2"), an interface ("1-1:1.0"); root hubs and their
 * interfaces are transparent (*out = KX_REG_ID_NONE). */
kx_status lx_usb_node(struct lx *x, const char *path, kx_reg_id *out);

/* linux_acpi.c: an ACPI device. \ becomes AppleACPIPlatformExpert, scopes (\_SB, \_TZ) and
 * nodes without _HID are transparent, a PCI function's companion is that function's nub. */
kx_status lx_acpi_node(struct lx *x, const char *path, kx_reg_id *out);
/* The ACPI name a companion gives: the last component of its `path` without the trailing
 * '_' padding ("\_SB_.PCI0.EC0_" -> "EC0"), or STATUS_NO_SUCH_FILE / STATUS_DATA_ERROR. */
kx_status lx_acpi_name(const struct lx *x, const char *path, char *buf, size_t len);
/* After a PCI function was added: publishes the ACPI devices below its companion. */
kx_status lx_acpi_publish_below(struct lx *x, const char *companion);

#endif /* KX_PLATFORM_LINUX_INT_H */
