/* kx/platform.h — hardware descriptions published into the registry.
 *
 * src/platform is the only code that reads host hardware descriptions. It publishes two
 * kinds: described platforms, and the Linux host's own devices.
 *
 * Described platforms are registry trees in `ioreg -a`'s XML form (a dictionary per entry
 * with IOObjectClass, IORegistryEntryName, IORegistryEntryLocation and
 * IORegistryEntryChildren; every other key is a property); kx writes a registry back in the
 * same form, so `ioreg -a` output round-trips. A tree whose top entry is Root (class
 * IORegistryEntry, as `ioreg -a` writes it) describes the whole registry: Root's properties
 * join the registry's Root, its IOPlatformExpertDevice child becomes the registry's platform
 * expert (class, name, location and properties), that entry's IOResources child gives the
 * registry's IOResources its properties (publishing its resources), and every other entry is
 * published where the file puts it. Any other tree, or each element of a top-level array
 * (`ioreg -a -r`), is published under the platform expert. Published entries hang in both
 * planes and are registered; ids in the file (IORegistryEntryID) are ignored — the registry
 * numbers its own — as are ioreg's state keys (IOObjectRetainCount, IOServiceBusyState,
 * IOServiceBusyTime, IOServiceState). A file that isn't a property list, or an entry of the
 * wrong type, without a class or with a malformed key, fails the whole load before anything
 * is published; `why` names the file, the entry's path in the file and the key.
 *
 * Linux: the PCI functions, USB devices and interfaces and ACPI devices sysfs lists
 * (<root>/bus/{pci,usb,acpi}/devices, root "/sys" or a fake tree) are published as macOS
 * publishes them: IOPCIDevice nubs with IOPCIFamily's properties (vendor-id ... as 4-byte
 * little-endian data, IOName, name, compatible, location "D" or "D,F" in upper-case hex)
 * under an AppleACPIPCI on the host bridge's IOACPIPlatformDevice (or an IOPCIBridge PCI0
 * without ACPI), functions behind a bridge under its IOPP (IOPCI2PCIBridge);
 * IOACPIPlatformDevice nubs named after their ACPI node under AppleACPIPlatformExpert or
 * the PCI function their ACPI parent is; IOUSBHostDevice and IOUSBHostInterface nubs under
 * their host controller's PCI function. Each nub carries KXSysfsPath, its path below the
 * sysfs root as udev's DEVPATH spells it ("/devices/pci0000:00/0000:00:1f.6"), which is how
 * a removal finds it. docs/registry.md ("Linux platform") has every name and property.
 * A device whose sysfs files are missing or malformed is left out, with a line in the
 * report saying which file and why; the rest is published.
 *
 * Hot-plug: kx_platform_linux_handle_event applies one udev event (add: publish the device
 * and any missing parent; remove: terminate the nubs at or below the path), and the
 * kx_platform_udev_* calls are the thin libudev glue that feeds it from the netlink monitor.
 */
#ifndef KX_PLATFORM_H
#define KX_PLATFORM_H

#include <kx/registry.h>
#include <kx/status.h>
#include <plist/plist.h>
#include <stddef.h>

/* Reads path and publishes its tree into r. STATUS_DATA_ERROR for a malformed file, the
 * read status (STATUS_NO_SUCH_FILE, ...) when it can't be read, and any status of
 * kx_reg_publish; why (why_len bytes, may be NULL/0) says what and where. */
KX_API kx_status kx_platform_file_read(struct kx_reg *r, const char *path, char *why,
                                       size_t why_len);
/* The same for a parsed tree (borrowed); name stands for the file in messages. */
KX_API kx_status kx_platform_tree_load(struct kx_reg *r, plist_t tree, const char *name, char *why,
                                       size_t why_len);

/* Publishes tree (borrowed: one entry, or an array of entries as `ioreg -a -r` writes them)
 * under parent, in the planes parent hangs in, checked first as a platform file is (a Root
 * entry is refused: a whole registry hangs under nothing). *ids (malloc'ed, free with free())
 * gets the id of every entry published, each before its children; nothing is matched. On
 * failure nothing stays published and why names the file (name), the entry and the key. */
KX_API kx_status kx_platform_tree_load_under(struct kx_reg *r, kx_reg_id parent, plist_t tree,
                                             const char *name, kx_reg_id **ids, size_t *n_ids,
                                             char *why, size_t why_len);

/* Makes r, fresh from kx_reg_new, a copy of another registry: trees[plane] is that plane's
 * tree from Root as kx_platform_tree_build writes it (NULL: the plane is left out). Unlike
 * a platform file's, the ids (IORegistryEntryID) are kept, and so are the matched state and
 * busy count; an entry hangs in the planes whose trees hold it, under every provider they
 * name, so the retain counts come out the same too. This is how the tools show kxd's
 * registry. STATUS_DATA_ERROR (why says where) for an entry without an id, or one none of
 * whose providers has a lower id. */
KX_API kx_status kx_platform_tree_mirror(struct kx_reg *r, plist_t const trees[KX_REG_N_PLANES],
                                         const char *name, char *why, size_t why_len);

/* The tree below (and including) id in plane, as `ioreg -a` writes it: *out is a
 * dictionary the caller frees with plist_free. STATUS_NO_SUCH_DEVICE for an unknown id. */
KX_API kx_status kx_platform_tree_build(struct kx_reg *r, kx_reg_id id, enum kx_reg_plane plane,
                                        plist_t *out);
/* Writes the whole registry (from Root) in plane to path as XML, atomically. */
KX_API kx_status kx_platform_file_write(struct kx_reg *r, enum kx_reg_plane plane,
                                        const char *path);

/* ---- Linux ---------------------------------------------------------------------------------- */

/* What a sysfs enumeration or a udev event did. Zero it before its first use; several calls
 * may add to one report; kx_platform_report_clear frees what it holds and zeroes it. */
struct kx_platform_report {
    size_t n_published;  /* nubs (and their IOPP / AppleACPIPCI companions) published */
    size_t n_terminated; /* entries a removal terminated (callback calls) */
    char **skipped;      /* one line per device left out: "DEVPATH: file: why" */
    size_t n_skipped;
    /* hot-plug events applied, in order: "add SYSFS-PATH" or "remove SYSFS-PATH"
     * (the sysfs root joined with the DEVPATH), for the kernel's device_added and
     * device_removed events (issue 14) */
    char **hotplug;
    size_t n_hotplug;
};
KX_API void kx_platform_report_clear(struct kx_platform_report *rep);

/* The property naming a nub's sysfs device, relative to the sysfs root (udev's DEVPATH). */
#define KX_PLATFORM_SYSFS_PATH_KEY "KXSysfsPath"

/* Publishes every PCI function, USB device and interface and ACPI device under sysfs_root
 * ("/sys", or a fake tree with the same layout) into r, with the parents they need. Devices
 * already published (same KXSysfsPath) are kept, so a second call only adds what is new.
 * A device with missing or malformed files is left out and reported in rep (may be NULL);
 * that is not an error. STATUS_NO_SUCH_FILE when sysfs_root has no devices/ folder,
 * STATUS_INSUFFICIENT_RESOURCES; nothing else fails the enumeration. */
KX_API kx_status kx_platform_linux_publish(struct kx_reg *r, const char *sysfs_root,
                                           struct kx_platform_report *rep);

/* Applies one udev event: action "add" publishes devpath's device and any parent it needs
 * that is missing (and, for a PCI function, the ACPI devices below its ACPI companion);
 * "remove" terminates (kx_reg_terminate with fn and ctx, clients first) every nub whose
 * KXSysfsPath is devpath or below it — sysfs no longer has the device, so only the property
 * is read; any other action is ignored. devpath is udev's DEVPATH ("/devices/...") or the
 * same under sysfs_root. STATUS_INVALID_PARAMETER for a path outside devices/; else as
 * kx_platform_linux_publish. */
KX_API kx_status kx_platform_linux_handle_event(struct kx_reg *r, const char *sysfs_root,
                                                const char *action, const char *devpath,
                                                kx_reg_terminate_fn fn, void *ctx,
                                                struct kx_platform_report *rep);

/* udev's netlink monitor, filtered to the pci, usb and acpi subsystems. */
struct kx_platform_udev;

/* Opens the monitor (receiving from now on). STATUS_INSUFFICIENT_RESOURCES, or the status
 * of the netlink socket's failure (STATUS_ACCESS_DENIED where netlink isn't allowed). Close
 * with kx_platform_udev_close. */
KX_API kx_status kx_platform_udev_open(struct kx_platform_udev **out);
KX_API void kx_platform_udev_close(struct kx_platform_udev *u);
/* The descriptor to poll for input; it never blocks. */
KX_API int kx_platform_udev_fd(const struct kx_platform_udev *u);
/* Applies every event waiting on the monitor with kx_platform_linux_handle_event (sysfs_root
 * is normally "/sys"), in arrival order; returns at once when none is waiting. The first
 * failure is returned after the rest are applied. */
KX_API kx_status kx_platform_udev_dispatch(struct kx_platform_udev *u, struct kx_reg *r,
                                           const char *sysfs_root, kx_reg_terminate_fn fn,
                                           void *ctx, struct kx_platform_report *rep);

/* ---- Keyboards (evdev; issue 14) ------------------------------------------------------- */
struct kx_platform_evdev;

/* Opens an event device (/dev/input/eventN) if it is a keyboard. STATUS_NOT_SUPPORTED for
 * any other device; open(2)'s status when it can't be read. Close with
 * kx_platform_evdev_close. */
KX_API kx_status kx_platform_evdev_open(const char *path, struct kx_platform_evdev **out);
KX_API void kx_platform_evdev_close(struct kx_platform_evdev *e);
/* The descriptor to poll for input, and the path it was opened with. */
KX_API int kx_platform_evdev_fd(const struct kx_platform_evdev *e);
KX_API const char *kx_platform_evdev_path(const struct kx_platform_evdev *e);
/* A key went down (is_down 1, autorepeat included) or up. */
typedef void (*kx_platform_key_fn)(void *ctx, const char *path, uint16_t code, int is_down);
/* Calls fn for every key event the device has buffered, in order; returns when none is
 * left. STATUS_DEVICE_REMOVED when the keyboard is gone (close it). */
KX_API kx_status kx_platform_evdev_dispatch(struct kx_platform_evdev *e, kx_platform_key_fn fn,
                                            void *ctx);

/* Keyboards are published as IOHIDKeyboard nubs, which is what drivers (Keys) match. A
 * nub's "source" (a non-empty string) is the Source of its key_down/key_up events: the
 * evdev path for a host keyboard, any name for a simulated one (a platform file or
 * `kx device add`, with "simulated" true). Host keyboards also carry "name" and
 * "vendor-id"/"product-id" (numbers) as evdev reports them. */
#define KX_KEYBOARD_CLASS      "IOHIDKeyboard"
#define KX_KEYBOARD_SOURCE_KEY "source"
/* Publishes e as an IOHIDKeyboard nub under parent (service plane); *out gets its id. */
KX_API kx_status kx_platform_evdev_publish(struct kx_reg *r, kx_reg_id parent,
                                           const struct kx_platform_evdev *e, kx_reg_id *out);
/* Checks an IOHIDKeyboard's properties as kx_platform_component_check does a component's. */
KX_API kx_status kx_platform_keyboard_check(plist_t props, const char *file, const char *path,
                                            char *why, size_t why_len);
/* ---- Components (component.c) ----------------------------------------------------------------
 * A KXComponent nub has "address" (a UUID string), "type" (a non-empty string) and, when it is
 * simulated, "registers" (data: its register file, initial bytes and size). kx publishes one,
 * of type "pci" with "pci-address", as a client of every Linux PCI function, and sets the
 * function's KXComponentAddress to its address. */
#define KX_COMPONENT_CLASS "KXComponent"
/* The property of a PCI function's nub naming its component's address. */
#define KX_COMPONENT_ADDRESS_KEY "KXComponentAddress"

/* 1 if s is a UUID's text (8-4-4-4-12 hexadecimal digits). */
KX_API int kx_platform_component_address_valid(const char *s);
/* Checks a KXComponent's properties (a dictionary); why names file, path and the key.
 * STATUS_SUCCESS or STATUS_DATA_ERROR. */
KX_API kx_status kx_platform_component_check(plist_t props, const char *file, const char *path,
                                             char *why, size_t why_len);
/* len bytes at offset of the configuration space of the PCI function at sysfs_path (its
 * KXSysfsPath) under sysfs_root. STATUS_INVALID_PARAMETER beyond what is readable (64 bytes
 * without CAP_SYS_ADMIN); STATUS_DEVICE_REMOVED when the function is gone. */
KX_API kx_status kx_platform_pci_config_read(const char *sysfs_root, const char *sysfs_path,
                                             uint32_t offset, void *buf, size_t len);

/* Writes len bytes at offset of that configuration space (kx's policy was checked by the
 * caller). STATUS_DEVICE_REMOVED when the function is gone; STATUS_ACCESS_DENIED when Linux
 * refuses (not root). */
KX_API kx_status kx_platform_pci_config_write(const char *sysfs_root, const char *sysfs_path,
                                              uint32_t offset, const void *buf, size_t len);

/* BAR index (0-5) of the PCI function at sysfs_path: *file (malloc'ed) is its resourceN
 * and *size its length, from the function's resource file. STATUS_INVALID_PARAMETER (no
 * such BAR); STATUS_NOT_SUPPORTED (an I/O port BAR: Linux maps only memory BARs);
 * STATUS_DEVICE_REMOVED (the function is gone). */
KX_API kx_status kx_platform_pci_bar(const char *sysfs_root, const char *sysfs_path, unsigned index,
                                     char **file, uint64_t *size);

#endif /* KX_PLATFORM_H */
