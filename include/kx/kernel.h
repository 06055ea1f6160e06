/* kx/kernel.h — the kernel as a library: kexts, their loader and the I/O
 * manager, booted from extensions folders.
 *
 * A kx_kernel owns an I/O manager (kx_kernel_io), a repository of the kexts
 * found in its extensions folders plus the built-in kernel pseudo-kexts, and
 * the list of loaded kexts with their load tags, retain counts and
 * dependents (Apple's model: a loaded dependent holds a reference on each of
 * its dependencies). kxd is a thin daemon around one kernel; every test can
 * boot a fresh one in-process.
 *
 * Threads: every function is thread-safe; loads and unloads are serialised
 * by the kernel. load/unload/boot/free block while DriverEntry and
 * DriverUnload run (each under its deadline).
 */
#ifndef KX_KERNEL_H
#define KX_KERNEL_H

#include <kx/boot.h>
#include <kx/io.h>
#include <kx/log.h>
#include <kx/status.h>
#include <plist/plist.h>
#include <stddef.h>
#include <stdint.h>

struct kx_kernel;
struct kx_reg;
struct kx_catalog;

struct kx_kernel_config {
    uint32_t size;                  /* sizeof(struct kx_kernel_config) */
    const struct kx_logger *logger; /* copied; NULL discards messages */
    const char *const *extension_dirs;
    size_t n_extension_dirs;
    int no_auth;                   /* skip Apple's ownership/permission checks (development) */
    const struct kx_io_config *io; /* NULL: the I/O manager's defaults */
    enum kx_boot_mode boot_mode;   /* KX_BOOT_LOCAL (0) unless told otherwise */
    const char *cache_path;        /* NULL: <first folder>.mkext */
    unsigned boot_flags;           /* KX_BOOT_NO_CACHE, KX_BOOT_VERIFY_CACHE */
    uint32_t idle_unload_s;        /* unload kexts matching loaded after this long without
                                    * an instance; 0: never */
};

/* Creates a kernel: an I/O manager, the built-in kernel pseudo-kexts
 * (registered as loaded, like xnu's kernel components) and the boot plan of
 * the extensions folders for boot_mode (kx/boot.h): the repository is filled
 * from the kext cache when it is current, else by scanning the folders.
 * Each kext the plan leaves out is logged once as a warning, "PATH: not
 * loaded: REASON" with the plan's reason, to the logger and the kernel log.
 * Loads nothing else. */
KX_API kx_status kx_kernel_new(const struct kx_kernel_config *cfg, struct kx_kernel **out);

/* Lets kexts whose Info.plist says KXAllowHardwareWrite = true write real hardware (PCI
 * configuration space, BARs mapped writable) when kxd runs as root (kxd
 * --allow-hardware-write). Off by default: their writes fail STATUS_ACCESS_DENIED. */
KX_API void kx_kernel_set_hardware_write(struct kx_kernel *k, int allowed);

/* Unloads every kext in reverse load order (DriverUnload called, links then
 * devices removed) and frees the kernel. NULL is ignored. */
KX_API void kx_kernel_free(struct kx_kernel *k);

/* The kernel's I/O manager (owned by the kernel). */
KX_API struct kx_io *kx_kernel_io(struct kx_kernel *k);

#define KX_KERNEL_LOAD_DRY_RUN 0x1u /* resolve and link-check only */

/* Runs one phase of the boot plan. Phase 1, the booter: the kexts the boot
 * mode needs, with their libraries. Phase 2, the daemon: matching (kextd's
 * demand loading): every registered nub (publish the platform first, see
 * kx_kernel_publish_platform) is matched against the catalogue, and the kexts
 * whose personalities win load, with their libraries; kexts without
 * personalities load only on request or as libraries. Then the phase-1 kexts
 * that created no device, drive no nub and have no dependents are unloaded
 * again. With KX_KERNEL_LOAD_DRY_RUN phase 2 checks every remaining kext
 * instead. Each phase loads in the plan's order
 * (dependencies first, then load priority, then bundle ID). Single-user boots
 * have no phase 2: asking for it does nothing. Failures are reported in
 * *report (malloc'ed, may be NULL), and each is logged as one warning, "PATH
 * failed to load - STATUS; REASON", to the logger and the kernel log; the
 * other kexts still load. Returns the first failure's status. With
 * KX_KERNEL_LOAD_DRY_RUN nothing loads or is logged and the report says, for
 * every kext, whether it would. */
KX_API kx_status kx_kernel_boot_phase(struct kx_kernel *k, int phase, uint32_t flags,
                                      char **report);

/* Both phases (phase 2 only when the mode has one). */
KX_API kx_status kx_kernel_boot(struct kx_kernel *k, uint32_t flags, char **report);

/* After boot (kxd): rebuilds the kext cache when the boot could not use it
 * because it was missing, stale or damaged — never during a safe boot or with
 * KX_BOOT_NO_CACHE. *rebuilt (may be NULL) says whether it did; *report
 * (malloc'ed, may be NULL) says why, or why it failed. */
KX_API kx_status kx_kernel_update_cache(struct kx_kernel *k, int *rebuilt, char **report);

/* One line on where the boot read its kexts from: "kext cache X" or "scan of
 * the extensions folders (why the cache wasn't used)". Borrowed, valid while
 * k lives; "" when the kernel has no extensions folders. */
KX_API const char *kx_kernel_boot_source(struct kx_kernel *k);
#define KX_KERNEL_UNLOAD_RECURSIVE 0x1u /* unload dependents first, newest first */
#define KX_KERNEL_UNLOAD_PERSONALITIES                                                             \
    0x2u /* kextunload -p: instances and personalities, not code */
#define KX_KERNEL_UNLOAD_CLASS                                                                     \
    0x4u /* kextunload -c: kext names an IOClass; its                                              \
          * instances go, nothing else */

/* Loads a kext (a bundle path, or a bundle identifier found in the
 * extensions folders) and, first, its dependencies in topological order.
 * Loading an already-loaded kext is a no-op success; a different version of
 * a loaded identifier is refused (STATUS_KEXT_LOADED_VERSION_DIFFERS). cred
 * NULL means root; a non-root requester may load only when every kext in the
 * load list has OSBundleAllowUserLoad (else STATUS_ACCESS_DENIED). *report
 * (malloc'ed, may be NULL) explains a failure or lists what was loaded. */
KX_API kx_status kx_kernel_load(struct kx_kernel *k, const char *kext,
                                const struct kx_io_cred *cred, uint32_t flags, char **report);

/* Unloads a kext, as Apple's kextunload: its driver instances are terminated
 * (RemoveDevice), its personalities leave the catalogue, its code unloads.
 * Refused (STATUS_KEXT_IN_USE) while dependents are loaded or its devices are
 * open — the report names every holder (dependent kexts, open handles with
 * their pid) — unless KX_KERNEL_UNLOAD_RECURSIVE unloads the dependents
 * first. KX_KERNEL_UNLOAD_PERSONALITIES terminates the instances and removes
 * the personalities but leaves the code loaded; KX_KERNEL_UNLOAD_CLASS
 * terminates every instance of the IOClass named by kext (any kext's) and
 * nothing else (both refused while those devices are open). A failing DriverUnload leaves the kext
 * loaded and consistent. Non-root requesters are refused. A load by request (not a dry run) adds
 * the kext's personalities and matches every nub again. */
KX_API kx_status kx_kernel_unload(struct kx_kernel *k, const char *kext,
                                  const struct kx_io_cred *cred, uint32_t flags, char **report);

/* ---- The registry and matching ---------------------------------------------
 * The kernel owns an I/O Registry and an IOCatalogue (kx/registry.h) holding
 * the personalities of every valid kext it knows; a thread ("kx-match") does
 * the matching: nubs published by the platform, by drivers (DkPublishNub) or
 * by kx_kernel_match_all are matched, winners' kexts load, drivers get
 * AddDevice per match. */

/* The kernel's registry and catalogue (borrowed; thread-safe objects). */
KX_API struct kx_reg *kx_kernel_registry(struct kx_kernel *k);
KX_API struct kx_catalog *kx_kernel_catalog(struct kx_kernel *k);

/* Publishes the machine into the registry: "none" (or NULL) publishes
 * nothing; "linux" the host's PCI, USB and ACPI devices from /sys, and from
 * then on udev's hot-plug events (a device plugged in is published and
 * matched, one pulled out is terminated with everything above it);
 * "linux:DIR" the same from a sysfs tree at DIR, without udev (tests feed its
 * events with kx_kernel_platform_event); anything else is a platform file
 * (kx/platform.h). Nothing is matched yet. why gets the reason of a failure. */
KX_API kx_status kx_kernel_publish_platform(struct kx_kernel *k, const char *platform, char *why,
                                            size_t why_len);

/* A hot-plug event for the Linux platform ("add" or "remove", and the
 * device's DEVPATH as udev gives it), applied and matched as udev's are;
 * waits until matching is done. STATUS_NOT_SUPPORTED without a Linux
 * platform. */
KX_API kx_status kx_kernel_platform_event(struct kx_kernel *k, const char *action,
                                          const char *devpath);

/* Queues every registered nub for matching and returns; kx_kernel_match_wait
 * returns once the matching thread has nothing left to do. */
KX_API void kx_kernel_match_all(struct kx_kernel *k);
KX_API void kx_kernel_match_wait(struct kx_kernel *k);

/* Publishes tree (borrowed; entries in ioreg -a's form, see
 * kx_platform_tree_load_under) under the entry parent, as a bus publishes a
 * device it found, then matches the new nubs and waits for that. *ids
 * (malloc'ed, free()) are the new entries, providers first. A malformed tree
 * publishes nothing: STATUS_DATA_ERROR, why naming name, the entry and the key. */
KX_API kx_status kx_kernel_publish_nubs(struct kx_kernel *k, uint64_t parent, plist_t tree,
                                        const char *name, uint64_t **ids, size_t *n_ids, char *why,
                                        size_t why_len);

/* Terminates a nub and, clients first, every driver instance and nub above
 * it (their drivers' RemoveDevice runs; open handles are revoked), and waits
 * for it. STATUS_NO_SUCH_DEVICE; STATUS_ACCESS_DENIED for Root, the platform
 * expert and IOResources. */
KX_API kx_status kx_kernel_terminate_nub(struct kx_kernel *k, uint64_t nub);

/* kx device peek/poke: len bytes at offset of the component at address (its register file,
 * or a PCI function's configuration space, read-only). STATUS_NO_SUCH_DEVICE (no such
 * component); STATUS_INVALID_PARAMETER (outside it, or len above 4096); STATUS_ACCESS_DENIED
 * (writing configuration space). */
KX_API kx_status kx_kernel_component_access(struct kx_kernel *k, const char *address,
                                            uint32_t offset, void *buf, size_t len, int write);

/* kx match's "loadable" for kxd: whether the kext with this bundle
 * identifier would load from the kernel's repository (loaded copies win, as
 * in a load). 1, or 0 with *reason (malloc'ed) saying why not. */
KX_API int kx_kernel_kext_loadable(struct kx_kernel *k, const char *bundle_id, char **reason);

/* A kext's driver in a kx-host process: running, waiting for a restart
 * after its host died (KXRestartLimit, KXRestartInterval: docs/io.md), or
 * stopped because its restart policy allows no more. */
enum kx_kernel_host_state {
    KX_KERNEL_HOST_NONE = 0, /* no driver, or it runs in kxd */
    KX_KERNEL_HOST_RUNNING,
    KX_KERNEL_HOST_RESTARTING,
    KX_KERNEL_HOST_STOPPED,
};

/* One loaded kext, as kextstat shows it. */
struct kx_kernel_kext_stat {
    uint32_t tag; /* load tag; 0 is the kernel itself */
    int32_t refs; /* loaded dependents holding it */
    uint64_t address, size, wired;
    char id[64];
    char version[64];
    char uuid[40];            /* from the ELF GNU build-id; "" if none */
    char *path;               /* bundle path; NULL for kernel components */
    uint32_t *linked_against; /* load tags of its direct dependencies */
    size_t n_linked_against;
    int32_t host_pid;         /* its driver's kx-host process; 0: runs in kxd (or no
                               * driver); negative: that host died */
    uint32_t host_state;      /* enum kx_kernel_host_state */
    uint32_t restarts;        /* times its driver was restarted since it was loaded */
    char host_note[160];      /* KX_KERNEL_HOST_STOPPED: why ("" otherwise) */
};

/* Every loaded kext in load-tag order. Free with kx_kernel_stat_free. */
KX_API kx_status kx_kernel_stat(struct kx_kernel *k, struct kx_kernel_kext_stat **out, size_t *n);
KX_API void kx_kernel_stat_free(struct kx_kernel_kext_stat *stats, size_t n);

/* kx fault: attaches rule (kx/fault.h) to the device its target names (a
 * link or \Device\ name), or, when the target is a loaded kext's bundle
 * identifier, to every device of that kext's driver (kx_io_fault_set; clear
 * and list with kx_io_fault_clear and kx_io_fault_list on kx_kernel_io).
 * STATUS_KEXT_NOT_FOUND; STATUS_INVALID_HANDLE (the kext has no driver);
 * kx_io_fault_set's statuses. why (may be NULL) names the target. */
KX_API kx_status kx_kernel_fault_set(struct kx_kernel *k, const struct kx_fault_rule *rule,
                                     char *why, size_t why_len);

/* Raises a named event (kx/io_event.h) for the drivers registered for it:
 * what the registry (component_added, component_removed), hot-plug
 * (device_added, device_removed), evdev input (key_down, key_up) and
 * `kx event raise` use. *n_queued (may be NULL): drivers it was queued for.
 * kx_io_event_raise's statuses. Never call it holding the registry's lock. */
KX_API kx_status kx_kernel_event_raise(struct kx_kernel *k, const char *name, const char *source,
                                       const void *data, size_t len, uint32_t *n_queued);

#endif /* KX_KERNEL_H */
