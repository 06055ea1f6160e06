/* kernel_int.h — the kernel object, shared by kernel.c and loader.c.
 *
 * Loaded kexts, Apple's way (research apple-kext.md §3): each has a load tag
 * (kextstat's Index; 0 is the kernel itself and never listed), holds one
 * reference on every library it linked against, and counts the references
 * its loaded dependents hold on it (kextstat's Refs). A kext with refs > 0
 * can't unload. Kernel pseudo-kexts (org.kx.kpi.*) are loaded from the start
 * and never unload.
 *
 * State machine of one kext load:
 *
 *   (repository) --prepare--> PREPARED --dlopen--> MAPPED --DriverEntry--> STARTED
 *        ^                       |                  |                         |
 *        +-------- failure: everything done by this load is undone -----------+
 *
 * Locks (order: op_lock, then state_lock):
 *   op_lock     serialises whole loads and unloads, including the waits for
 *               DriverEntry and DriverUnload. It guards no data a driver can
 *               reach, so holding it while driver code runs can't deadlock.
 *   state_lock  guards `loaded` and `next_tag` for readers (kextstat); held
 *               only for list updates and snapshots, never across driver code.
 * The repository is touched only under op_lock (resolution writes into it).
 */
#ifndef KX_KERNEL_INT_H
#define KX_KERNEL_INT_H

#include "kext/elf.h"

#include <kx/io.h>
#include <kx/kernel.h>
#include <kx/kext.h>
#include <kx/registry.h>
#include <pthread.h>
#include <stdio.h>

#define KX_RESTART_LIMIT_MAX 16 /* KXRestartLimit's ceiling */

struct kx_loaded {
    struct kx_loaded *next; /* load order */
    uint32_t tag;
    struct kx_kext *kext;      /* owned by the repository */
    void *dl;                  /* dlopen handle; NULL for pseudo-kexts and codeless kexts */
    kx_io_driver_id driver;    /* 0 when the kext has no DriverEntry */
    struct kx_loaded **deps;   /* libraries it linked against; one reference held on each */
    size_t n_deps;
    int32_t refs;              /* references held by loaded dependents */
    uint64_t address, size;    /* in kxd, or in its host process */
    int32_t host_pid;          /* the driver's kx-host process (0: in kxd) */
    char uuid[KX_ELF_UUID_LEN]; /* "" when the executable has no build-id */
    int is_component;          /* kernel pseudo-kext: never unloads */
    int by_match;              /* loaded because a personality won a nub (demand loading) */
    uint64_t idle_since_ns;    /* by_match: when its last instance went (0: has instances) */
    /* A driver in a kx-host process, and its restart policy (restart.c);
     * host_state, the restart record and host_note are guarded by state_lock */
    struct kx_driver_info info;                /* to start it again */
    int host_state;                            /* enum kx_kernel_host_state */
    uint32_t restart_limit, restart_window_s;  /* KXRestartLimit, KXRestartInterval */
    uint64_t restart_at[KX_RESTART_LIMIT_MAX]; /* restarts within the window (monotonic) */
    uint32_t n_restart_at;
    uint32_t restarts;   /* since it was loaded */
    char host_note[160]; /* why it is stopped */
};

/* An executable the kernel loads from memory (the kext cache), as a sealed
 * memfd whose /proc/<pid>/fd path stands in for the file (kx-host processes
 * open it there too). */
struct kx_exec_mem {
    struct kx_kext *kext;
    int fd;
    char path[64];
};

struct kx_kernel {
    struct kx_logger log;
    struct kx_io *io;
    struct kx_kext_repo *repo;
    struct kx_kext_options opts;
    /* Boot: the configuration (folders copied), the plan until both phases
     * ran, and what the plan said about the cache. Guarded by op_lock. */
    struct kx_boot_config boot;
    char **folders;
    char *boot_cache_path;
    struct kx_boot_plan *plan;
    enum kx_cache_verdict cache_verdict;
    char *boot_source;
    struct kx_exec_mem *execs;
    size_t n_execs;
    pthread_mutex_t op_lock;
    pthread_mutex_t state_lock;
    struct kx_loaded *loaded; /* load order; guarded by state_lock for readers */
    uint32_t next_tag;
    struct kx_runtime *rt;     /* registry, catalogue, matching (runtime.c) */
    uint64_t idle_unload_ns;   /* 0: kexts loaded by matching stay */
    int host_process;          /* drivers run in kx-host processes (the I/O manager has one) */
    int host_allow_root;       /* a kext may keep root in its host (KXHostKeepRoot) */
    int hardware_write;        /* kexts may write real hardware (KXAllowHardwareWrite) */
    struct kernel_keys *keys;  /* keyboards raising key events (kernel_event.c); NULL: none */
};

/* ---- kernel_event.c: event sources (issue 14) ---------------------------- */
struct kx_platform_report;
/* Raises component_added / component_removed for reg's KXComponent entries. */
kx_status kx__kernel_watch_components(struct kx_kernel *k, struct kx_reg *reg);
/* Raises device_added / device_removed for the hot-plug events rep applied. */
void kx__kernel_hotplug_events(struct kx_kernel *k, const struct kx_platform_report *rep);
/* Starts raising key_down / key_up from the host's keyboards (none: nothing);
 * stop joins that thread and closes them. */
/* Opens the host's evdev keyboards and publishes each as an IOHIDKeyboard nub in reg. */
void kx__kernel_keys_start(struct kx_kernel *k, struct kx_reg *reg);
void kx__kernel_keys_stop(struct kx_kernel *k);
/* A hot-plug event's ACTION and path: a keyboard's eventN added is opened and published;
 * removed, its real (not simulated) IOHIDKeyboard nubs are terminated. */
void kx__kernel_keys_hotplug(struct kx_kernel *k, const char *action, const char *path);

/* A kext lifecycle event: to the logger and to the kernel log (`kx log`). */
void kx__kernel_note(struct kx_kernel *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* ---- restart.c: drivers whose host process died ---------------------------- */
/* Reads l's restart policy from its Info.plist (a hosted driver just started). */
void kx__kernel_restart_policy(struct kx_loaded *l);
/* kx_io_died_fn: a driver's host process died and the I/O manager removed
 * the driver; its registry instances go, and by its kext's restart policy a
 * restart is scheduled or the kext stays loaded without a driver, stopped
 * (kextstat says which). */
void kx__kernel_driver_died(void *ctx, kx_io_driver_id drv);
/* Starts kext_id's driver again if a restart is still what it waits for.
 * Returns 1 when it runs again (its nubs are to be matched again). Caller
 * holds op_lock (the runtime's W_RESTART). */
int kx__kernel_restart(struct kx_kernel *k, const char *kext_id);
/* The library executables l's host process loads, dependencies first. */
size_t kx__kernel_host_libraries(struct kx_kernel *k, const struct kx_loaded *l, const char **out,
                                 size_t n, size_t cap);
/* The same for something that went wrong (a kext a boot leaves out or can't load): a warning
 * to the logger; the kernel log keeps what fits in its line, marked "..." when cut. */
void kx__kernel_warn(struct kx_kernel *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Closes the cache's copy of x's executable, if one was made: x is about to
 * be read again or forgotten. */
void kx__kernel_exec_forget(struct kx_kernel *k, struct kx_kext *x);

/* Whether a kext's Info.plist asks its host to keep root (KXHostKeepRoot). */
int kx__kernel_wants_root(const struct kx_kext *kext);

/* The file to inspect and dlopen for x: a memfd holding its executable from
 * the kext cache when the boot read it from there, else the bundle's file.
 * NULL when x has none. Caller holds op_lock. */
const char *kx__kernel_exec_path(struct kx_kernel *k, struct kx_kext *x);

/* Loads x (owned by k->repo) with its dependencies; the reported operation
 * behind kx_kernel_load. When it fails, why (may be NULL) gets the reason in
 * one line ("DriverEntry failed: ...", the first diagnostic that stopped it)
 * for the kernel's log; the report has the whole story. Caller holds op_lock. */
kx_status kx__kernel_load_kext(struct kx_kernel *k, struct kx_kext *x,
                               const struct kx_io_cred *cred, uint32_t flags, FILE *report,
                               char *why, size_t why_len);

/* Unloads a loaded kext that nothing depends on (phase 2's clean-up). */
kx_status kx__kernel_unload_unused(struct kx_kernel *k, struct kx_kext *x, FILE *report);

/* Gives l the next load tag and appends it to the loaded list. */
void kx__kernel_append_loaded(struct kx_kernel *k, struct kx_loaded *l);

/* Registers the repository's pseudo-kexts as loaded components (tags 1..n). */
kx_status kx__kernel_register_components(struct kx_kernel *k);

/* The loaded record of a kext or identifier, or NULL. Caller holds op_lock. */
struct kx_loaded *kx__kernel_find_loaded(struct kx_kernel *k, const char *id);

/* Unloads everything, newest first (kx_kernel_free). Caller holds op_lock. */
void kx__kernel_unload_all(struct kx_kernel *k);
/* Unloads kexts loaded by matching that have had no instance for
 * idle_unload_ns (kxd --idle-unload). Caller holds op_lock. */
void kx__kernel_unload_idle(struct kx_kernel *k, uint64_t now_ns);

/* ---- runtime.c: the registry, the catalogue and matching ---------------- */
/* Creates the registry and the catalogue (every valid kext of the repository)
 * and starts the matching thread. */
kx_status kx__runtime_new(struct kx_kernel *k);
/* Stops the matching thread (its current item finishes). */
void kx__runtime_stop(struct kx_kernel *k);
void kx__runtime_free(struct kx_kernel *k);
/* Terminates every instance of kext_id and of class ioclass (NULL: any),
 * clients first (drivers' RemoveDevice runs). Caller holds op_lock. */
void kx__runtime_remove_instances(struct kx_kernel *k, const char *kext_id, const char *ioclass);
size_t kx__runtime_instance_count(struct kx_kernel *k, const char *kext_id, const char *ioclass);
/* Handles opened for some access on the devices of those instances. */
size_t kx__runtime_instance_holders(struct kx_kernel *k, const char *kext_id,
                                    const char *ioclass);
/* Adds x's personalities to the catalogue (replacing earlier ones of x). */
void kx__runtime_catalog_add(struct kx_kernel *k, struct kx_kext *x);
size_t kx__runtime_catalog_remove(struct kx_kernel *k, const char *kext_id);
/* Queues kext_id's restart (kx__kernel_restart) for the monotonic time due_ns. */
void kx__runtime_schedule_restart(struct kx_kernel *k, const char *kext_id, uint64_t due_ns);

/* Proxies and hardware access were driver drv's (an unload or its host's death): its
 * proxies go. */
void kx__runtime_driver_gone(struct kx_kernel *k, kx_io_driver_id drv);
/* Queue nub's termination (its drivers' RemoveDevice) or matching on the runtime thread,
 * without waiting: for threads the runtime may itself wait for (kx-evdev). */
void kx__runtime_terminate_later(struct kx_kernel *k, kx_reg_id nub);
void kx__runtime_match_later(struct kx_kernel *k, kx_reg_id nub);

/* ---- component.c: components' hardware ------------------------------------ */
#define KX_COMPONENT_ACCESS_MAX 4096u /* bytes in one read */
struct kx_components;
kx_status kx__components_new(struct kx_kernel *k, struct kx_components **out);
void kx__components_free(struct kx_components *c);
/* The KXComponent whose address is address (any case). STATUS_NO_SUCH_DEVICE. */
kx_status kx__component_find(struct kx_reg *reg, const char *address, kx_reg_id *out);
/* Reads or writes len bytes at off of nub's register file or configuration space, for
 * driver drv (0: kx device poke). Real hardware is written only when kx_kernel_set_hardware
 * _write allowed it, kxd is root and drv's kext says KXAllowHardwareWrite = true; a refusal
 * (STATUS_ACCESS_DENIED) is logged naming the kext, the component and the reason. */
kx_status kx__component_access(struct kx_components *c, struct kx_reg *reg,
                               const char *sysfs_root, kx_io_driver_id drv, kx_reg_id nub,
                               int write, uint32_t off, void *buf, size_t len);
/* A proxy of driver drv on nub (privilege already checked). */
kx_status kx__component_proxy_open(struct kx_components *c, kx_io_driver_id drv, kx_reg_id nub,
                                   uint64_t *id);
/* KX_IO_REG_PROXY_READ, _WRITE, _MAP and _CLOSE from driver drv. */
kx_status kx__component_proxy_request(struct kx_components *c, struct kx_reg *reg,
                                      const char *sysfs_root, kx_io_driver_id drv,
                                      const struct kx_io_reg_req *req, void **out,
                                      size_t *out_len);
/* Drops every proxy of drv; returns how many. */
size_t kx__component_release_driver(struct kx_components *c, kx_io_driver_id drv);

#endif /* KX_KERNEL_INT_H */
