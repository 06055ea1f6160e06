/* kx/io.h — the I/O manager, as the rest of kx (kxd, the loader, tools and
 * tests) uses it: start and unload drivers, open devices by path with a
 * requester's credentials, submit I/O, list the namespace, read the kernel log.
 *
 * Objects. A struct kx_io is one manager: its own object namespace
 * (\Device\..., \Driver\... and symbolic links such as /dev/null), handle
 * table, IRP pool, kernel log and watchdog thread. Managers share nothing, so
 * a test can run several side by side. Drivers are the DRIVER_OBJECTs of
 * <kx/kmdf.h>; each runs on its own dispatch thread ("kx-drv-<name>") in an
 * in-process host. Handles (kx_io_handle) are the manager's file objects;
 * requests (struct kx_io_req) become IRPs that complete exactly once.
 *
 * Handles and requests (libuv's split). A handle is opened, used and closed;
 * a request is submitted and ends in its completion, which runs exactly once:
 * with the driver's result, STATUS_TIMEOUT at its deadline, STATUS_CANCELLED
 * when its handle is closed, STATUS_DEVICE_REMOVED when its driver goes away.
 * If kx_io_submit returns an error, nothing was queued and no completion runs.
 *
 * Threads. Every function is thread-safe. Completions run on whichever
 * thread finishes the request (a driver's dispatch thread, the watchdog, a
 * thread in kx_io_close) and must not block. Calls that wait for a driver
 * (open, close, the synchronous I/O calls, start, unload) must not be made
 * from a dispatch thread on its own driver's devices: they would wait out
 * their deadline. No manager lock is held while driver code runs.
 *
 * Memory. Everything a request carries is copied: input bytes at submission,
 * output bytes (READ, DEVICE_CONTROL, QUERY_INFORMATION) into req->out just
 * before the completion runs, so req->out must stay valid until then; the
 * kx_io_req array itself may be reused as soon as kx_io_submit returns.
 */
#ifndef KX_IO_H
#define KX_IO_H

#include <kx/driver_info.h>
#include <kx/fault.h>
#include <kx/log.h>
#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>

struct kx_io;
struct _DRIVER_OBJECT; /* <kx/kmdf.h>; only a pointer to it crosses this header */

typedef uint64_t kx_io_handle;    /* 0 is never a valid handle */

#define KX_IO_NAME_MAX 256 /* names, links and paths, with the NUL */
typedef uint64_t kx_io_driver_id; /* 0 is never a valid driver */

/* Deadlines, in milliseconds, wherever a call takes timeout_ms. */
#define KX_IO_TIMEOUT_DEFAULT 0u          /* the manager's irp_timeout_ms */
#define KX_IO_TIMEOUT_NONE    UINT32_MAX  /* wait for the driver, however long */

/* ---- The manager -------------------------------------------------------- */

struct kx_io_config {
    uint32_t size;                   /* sizeof(struct kx_io_config) */
    const struct kx_logger *logger;  /* copied; NULL discards messages */
    uint32_t irp_timeout_ms;         /* KX_IO_TIMEOUT_DEFAULT requests (30000) */
    uint32_t entry_timeout_ms;       /* DriverEntry deadline (5000) */
    uint32_t unload_timeout_ms;      /* DriverUnload, CLEANUP, CLOSE and cancel deadlines (5000) */
    uint32_t hang_ms;                /* a routine running longer is reported hung (5000) */
    uint32_t log_lines;              /* kernel log capacity in lines (1024) */
    /* The kx-host executable that runs drivers started with host_exe in a
     * process of their own (copied); NULL: every driver runs in-process. */
    const char *host_program;
    /* Hosts' confinement (docs/io.md): the user hosts run as when this
     * process is root (copied; NULL: this process's own user), and
     * KX_IO_HOST_* flags. */
    const char *host_user;
    uint32_t host_flags;
    /* How long, in microseconds, a caller waiting for a kx-host's answer and
     * an idle host's dispatch thread poll the rings before they sleep
     * (0: the default, 20; KX_IO_HOST_NO_POLL: never). */
    uint32_t host_poll_us;
};
#define KX_IO_HOST_NO_SANDBOX 0x1u /* no seccomp filter in hosts (debugging) */
#define KX_IO_HOST_ALLOW_ROOT 0x2u /* a driver may ask to keep root (host_keep_root) */
#define KX_IO_HOST_SOCKET     0x4u /* hosts talk over their socket, not shared-memory rings */
#define KX_IO_HOST_NO_POLL    0x8u /* every answer wakes its receiver (host_poll_us) */
#define KX_IO_HOST_POLL_MAX_US 1000000u

/* A fresh manager (milliseconds: one thread is started). cfg may be NULL for
 * the defaults; zero fields take their default. STATUS_SUCCESS;
 * STATUS_INVALID_PARAMETER; STATUS_INSUFFICIENT_RESOURCES. */
KX_API kx_status kx_io_new(const struct kx_io_config *cfg, struct kx_io **out);

/* Unloads every driver (newest first, forcing: open handles are closed), stops
 * the watchdog and frees everything. Blocks until every dispatch thread has
 * returned: in-process driver code cannot be killed, so a routine that never
 * returns blocks this call. NULL is ignored. */
KX_API void kx_io_free(struct kx_io *io);

/* ---- Drivers ------------------------------------------------------------ */

typedef kx_status (*kx_io_entry_fn)(struct _DRIVER_OBJECT *driver_object);

struct kx_io_driver_params {
    uint32_t size;                       /* sizeof(struct kx_io_driver_params) */
    const struct kx_driver_info *info;   /* the driver-info record (copied) */
    kx_io_entry_fn entry;                /* DriverEntry */
    const char *name;                    /* \Driver\<name>; NULL: info->name */
    uint32_t entry_timeout_ms;           /* 0: the manager's */
    /* A separate host: when set and the manager has a host_program, the
     * driver runs in a kx-host process that dlopens host_libs[0..n) in order
     * and then host_exe, and takes DriverEntry from there (entry is then
     * unused and may be NULL). Nothing of the driver runs in this process. */
    const char *host_exe;
    const char *const *host_libs;
    size_t n_host_libs;
    /* The host keeps root instead of running as the manager's host_user:
     * refused (STATUS_ACCESS_DENIED) unless the manager has
     * KX_IO_HOST_ALLOW_ROOT. */
    int host_keep_root;
};

/* Starts a driver instance: registers \Driver\<name>, starts its dispatch
 * thread and runs DriverEntry there, waiting up to its deadline. If
 * DriverEntry fails or times out, every device and link it created is
 * deleted, and a DriverEntry that returns later only ends its thread.
 * STATUS_SUCCESS and *out; STATUS_INVALID_DRIVER_INFO (bad record);
 * STATUS_INVALID_DRIVER_ENTRY (no entry); STATUS_OBJECT_NAME_COLLISION (name
 * in use); DriverEntry's own error status (STATUS_DRIVER_INIT_FAILED when it
 * returned an unknown value or STATUS_PENDING); STATUS_TIMEOUT;
 * STATUS_INSUFFICIENT_RESOURCES. Blocks. */
KX_API kx_status kx_io_driver_start(struct kx_io *io, const struct kx_io_driver_params *params,
                                    kx_io_driver_id *out);

#define KX_IO_UNLOAD_FORCE 0x1u /* close open handles instead of refusing */

/* Unloads a driver: refuses with STATUS_DEVICE_BUSY while handles opened
 * with some access are open on its devices (kx_io_list_handles names them)
 * unless forced. Handles still open (opened for no access; every handle when
 * forced) are revoked: their pending requests complete with
 * STATUS_DEVICE_REMOVED and they are closed as by kx_io_close. Then runs
 * DriverUnload, deletes (and reports) whatever devices and links remain,
 * completes IRPs the driver still holds with STATUS_DEVICE_REMOVED and stops
 * its thread. STATUS_SUCCESS; STATUS_INVALID_HANDLE (no such driver);
 * STATUS_DEVICE_BUSY; STATUS_INVALID_DEVICE_REQUEST (no DriverUnload and not
 * forced, as Windows); STATUS_TIMEOUT (DriverUnload overran its deadline: the
 * driver is gone from the namespace but its thread is only joined by
 * kx_io_free). Blocks. */
KX_API kx_status kx_io_driver_unload(struct kx_io *io, kx_io_driver_id id, unsigned flags);

/* ---- Matches (the registry's nubs, as the kernel gives them) ------------
 * The I/O manager knows no registry: the kernel, which owns it, tells a
 * driver about each match and asks it to let go, naming registry entries by
 * their 64-bit ids. Devices a driver creates while its AddDevice runs belong
 * to that match's instance. */

struct kx_io_provider {
    uint64_t nub;             /* the registry entry matched */
    uint64_t instance;        /* the match's own entry (never 0) */
    const char *ioclass;      /* the personality's IOClass */
    const char *personality;  /* its name */
    const char *nub_class, *nub_name, *nub_location;
    int32_t score;            /* IOProbeScore: Probe may change it */
};

/* Offers the match to the driver: its Probe (if set) then its AddDevice (if
 * set) run on its dispatch thread within the DriverEntry deadline (timeout_ms;
 * 0: the manager's). prov->score gets what Probe left in it.
 * STATUS_SUCCESS; STATUS_NO_SUCH_DEVICE (Probe declined); AddDevice's own
 * failure (every device it created for the instance is then deleted);
 * STATUS_TIMEOUT; STATUS_INVALID_HANDLE (no such running driver). Blocks. */
KX_API kx_status kx_io_driver_add_device(struct kx_io *io, kx_io_driver_id drv,
                                         struct kx_io_provider *prov, uint32_t timeout_ms);

/* Takes the match away: new opens of the instance's devices fail, open
 * handles are revoked (pending requests STATUS_DEVICE_REMOVED; the driver
 * gets CLEANUP and CLOSE), RemoveDevice runs (unload deadline), and devices
 * and links of the instance it leaves behind are deleted and reported.
 * STATUS_SUCCESS; STATUS_INVALID_HANDLE; STATUS_TIMEOUT. Blocks. */
KX_API kx_status kx_io_driver_remove_instance(struct kx_io *io, kx_io_driver_id drv,
                                              const struct kx_io_provider *prov);

/* Open handles on devices of instance (kextunload -c refuses while any is
 * held for some access). */
KX_API size_t kx_io_instance_handles(struct kx_io *io, uint64_t instance);

/* What drivers ask of the registry (Dk*Property, DkPublishNub, ...), passed
 * to whoever owns it. Values cross as binary property lists, so the request
 * is the same when the driver runs in another process. */
enum kx_io_reg_op {
    KX_IO_REG_GET = 1,       /* entry, key -> *out: the value */
    KX_IO_REG_GET_ALL,       /* entry -> *out: the property dictionary */
    KX_IO_REG_SET,           /* entry, key, value */
    KX_IO_REG_PUBLISH_NUB,   /* entry (the provider), class_name, name, location, value
                              * (a dictionary, or none) -> *out_id */
    KX_IO_REG_TERMINATE,     /* entry: a nub the driver published */
    KX_IO_REG_PUBLISH_RESOURCE, /* key: the resource's name */
    KX_IO_REG_OWN_INSTANCE,  /* entry: STATUS_SUCCESS if it is one of the driver's matches,
                              * else STATUS_ACCESS_DENIED */
    /* Hardware proxies (kernel/component.c): values and answers are raw bytes. */
    KX_IO_REG_PROXY_OPEN,    /* key: a component's address, entry: the instance being added
                              * (0: none) -> *out_id: the proxy, *out: the component's entry
                              * id (uint64_t) */
    KX_IO_REG_PROXY_READ,    /* entry: the proxy; value: uint32_t offset, length -> *out */
    KX_IO_REG_PROXY_WRITE,   /* entry: the proxy; value: uint32_t offset, then the bytes */
    KX_IO_REG_PROXY_CLOSE,   /* entry: the proxy */
    KX_IO_REG_PROXY_MAP,     /* entry: the proxy; value: uint32_t BAR index, uint32_t write
                              * -> *out: struct kx_io_proxy_map, then the file's path (NUL) */
};

/* What KX_IO_REG_PROXY_MAP grants: the driver's side maps the file itself (kxd checked the
 * policy; a kx-host needs the file readable, or writable, as its own user). */
struct kx_io_proxy_map {
    uint64_t size;     /* the BAR's length */
    uint32_t writable; /* map it read-write */
    uint32_t reserved;
};

struct kx_io_reg_req {
    enum kx_io_reg_op op;
    uint64_t entry;
    const char *key, *class_name, *name, *location;
    const void *value; /* binary property list, or NULL */
    size_t value_len;
};

/* Answers one request from driver drv (its id). *out (malloc'ed, binary
 * plist) and *out_id as the op says. Runs on the driver's thread: must not
 * wait for any driver. */
typedef kx_status (*kx_io_reg_fn)(void *ctx, kx_io_driver_id drv, const struct kx_io_reg_req *req,
                                  uint64_t *out_id, void **out, size_t *out_len);

/* Installs the registry's owner (NULL fn: drivers' registry calls fail with
 * STATUS_NOT_SUPPORTED). Call before starting drivers. */
KX_API void kx_io_set_registry(struct kx_io *io, kx_io_reg_fn fn, void *ctx);

/* Told (on a manager thread, no lock held) when a driver's host process
 * died and the driver was torn down: its requests answered
 * STATUS_DRIVER_PROCESS_TERMINATED, its handles revoked, its devices and
 * links deleted. The id no longer names a driver. Must not wait for drivers. */
typedef void (*kx_io_died_fn)(void *ctx, kx_io_driver_id drv);
KX_API void kx_io_set_died_fn(struct kx_io *io, kx_io_died_fn fn, void *ctx);

/* The id of the running driver \Driver\<name> (name with or without the
 * prefix). STATUS_SUCCESS; STATUS_NO_SUCH_FILE. */
KX_API kx_status kx_io_driver_find(struct kx_io *io, const char *name, kx_io_driver_id *out);

/* ---- Handles ------------------------------------------------------------ */

struct kx_io_cred {
    int32_t pid;
    uint32_t uid;
    uint32_t gid;
};

#define KX_IO_ACCESS_READ  0x1u /* = FILE_READ_ACCESS */
#define KX_IO_ACCESS_WRITE 0x2u /* = FILE_WRITE_ACCESS */

/* Opens path — a link ("/dev/null", which names a device) or a canonical
 * "\Device\..." name — for access (KX_IO_ACCESS_*) on behalf of cred.
 * Access 0 is Windows' attribute-only open: it allows QUERY_INFORMATION and
 * FILE_ANY_ACCESS controls, needs read or write permission all the same (a
 * user with neither learns nothing of the device), and never keeps the
 * driver from unloading: kx_io_driver_unload revokes it. Checks
 * the device's owner, group and mode, then sends IRP_MJ_CREATE and waits for
 * it. STATUS_SUCCESS and *out; STATUS_NO_SUCH_FILE (no such path);
 * STATUS_NO_SUCH_DEVICE; STATUS_ACCESS_DENIED; STATUS_DEVICE_NOT_READY
 * (DriverEntry still running); STATUS_DEVICE_REMOVED (device or driver going
 * away); STATUS_DRIVER_NOT_RESPONDING (hung); STATUS_HANDLE_TABLE_FULL;
 * STATUS_INVALID_PARAMETER; STATUS_TIMEOUT; or the driver's CREATE status.
 * Blocks. */
KX_API kx_status kx_io_open(struct kx_io *io, const char *path, const struct kx_io_cred *cred,
                            uint32_t access, uint32_t timeout_ms, kx_io_handle *out);

/* Closes a handle the Windows way: new requests on it fail, its pending
 * requests are cancelled (the driver's cancel routine runs; requests without
 * one complete with STATUS_CANCELLED; after unload_timeout_ms every one has),
 * the driver gets IRP_MJ_CLEANUP, and IRP_MJ_CLOSE once the driver has let go
 * of every IRP of the handle (at once, usually; otherwise later, from the
 * thread that releases the last one). STATUS_SUCCESS; STATUS_INVALID_HANDLE.
 * Blocks. */
KX_API kx_status kx_io_close(struct kx_io *io, kx_io_handle h);

/* kx_io_open and kx_io_close, except that when the driver runs in this
 * process and its dispatch thread is idle, IRP_MJ_CREATE (CLEANUP, CLOSE)
 * runs on the calling thread: no thread hop for each. The same rules and
 * caller as kx_io_submit_here (kxd's ring threads). */
KX_API kx_status kx_io_open_here(struct kx_io *io, const char *path,
                                 const struct kx_io_cred *cred, uint32_t access,
                                 uint32_t timeout_ms, kx_io_handle *out);
KX_API kx_status kx_io_close_here(struct kx_io *io, kx_io_handle h);

/* ---- Requests ----------------------------------------------------------- */

/* Operations a requester may submit: the IRP_MJ_* values. Other majors up to
 * IRP_MJ_MAXIMUM_FUNCTION are passed through (a driver without a routine for
 * them completes them with STATUS_NOT_IMPLEMENTED); CREATE, CLEANUP and CLOSE
 * belong to kx_io_open and kx_io_close. */
enum kx_io_op {
    KX_IO_OP_READ = 0x03,              /* needs KX_IO_ACCESS_READ */
    KX_IO_OP_WRITE = 0x04,             /* needs KX_IO_ACCESS_WRITE */
    KX_IO_OP_QUERY_INFORMATION = 0x05, /* code = information class */
    KX_IO_OP_FLUSH = 0x09,             /* needs KX_IO_ACCESS_WRITE */
    KX_IO_OP_DEVICE_CONTROL = 0x0E,    /* needs the access bits of code */
};

/* Runs exactly once per submitted request, on any thread; must not block. */
typedef void (*kx_io_done_fn)(void *arg, kx_status status, size_t information);

/* Instead of done, for a requester that wants no copy into req->out: out
 * points at the request's own buffer (information bytes the driver wrote,
 * NULL when it wrote none or failed), valid only during the call. The
 * buffer is not zeroed first: a driver that reports more Information than
 * it wrote answers with bytes of the manager's heap. */
typedef void (*kx_io_view_fn)(void *arg, kx_status status, size_t information, const void *out);

struct kx_io_req {
    uint8_t op;             /* enum kx_io_op */
    uint32_t code;          /* DEVICE_CONTROL: control code; QUERY_INFORMATION: class */
    const void *in;         /* WRITE data or DEVICE_CONTROL input; copied */
    size_t in_len;
    void *out;              /* READ / DEVICE_CONTROL / QUERY_INFORMATION result */
    size_t out_len;
    uint64_t offset;        /* READ and WRITE byte offset */
    uint32_t timeout_ms;    /* KX_IO_TIMEOUT_DEFAULT, KX_IO_TIMEOUT_NONE or ms */
    kx_io_done_fn done;     /* required for kx_io_submit; ignored by kx_io_call */
    void *arg;
    kx_io_view_fn done_view; /* kx_io_submit: instead of done and out (out NULL) */
    /* A READ with done_view may bring its own buffer of out_len bytes: the
     * IRP's buffer is out_buf itself (not zeroed, not copied: the driver, or
     * a kx-host driver's transport, writes straight into it, and done_view's
     * out points into it). The I/O manager lets go of it when the IRP's
     * record is freed — after the completion and after the driver has let
     * go, however late (a timed-out or cancelled IRP's driver may still be
     * writing) — by calling out_release(out_release_arg) exactly once, on
     * any thread; it must not block or call the I/O manager. If kx_io_submit
     * refuses the batch, out_release never runs and out_buf stays the
     * caller's. STATUS_INVALID_PARAMETER for out_buf on anything but a READ
     * with done_view and out_release. */
    void *out_buf;
    void (*out_release)(void *out_release_arg);
    void *out_release_arg;
};

/* Largest in_len or out_len of one request, and most requests per submit. */
#define KX_IO_MAX_TRANSFER ((size_t)64 << 20)
#define KX_IO_MAX_BATCH    256u

/* Submits n requests on one handle as one batch (one queue operation, at most
 * one wake-up of the driver's thread) and returns without waiting. All are
 * checked first; if one is refused nothing is queued. Same-thread requests on
 * a handle reach the driver in order. STATUS_SUCCESS; STATUS_INVALID_HANDLE;
 * STATUS_INVALID_PARAMETER (op, lengths, done, n above KX_IO_MAX_BATCH);
 * STATUS_ACCESS_DENIED (handle
 * access or control-code access bits); STATUS_NOT_SUPPORTED (control method
 * other than METHOD_BUFFERED); STATUS_DEVICE_REMOVED;
 * STATUS_DRIVER_NOT_RESPONDING (the driver is hung);
 * STATUS_INSUFFICIENT_RESOURCES. Never blocks on a driver. */
KX_API kx_status kx_io_submit(struct kx_io *io, kx_io_handle h, const struct kx_io_req *reqs,
                              size_t n);

/* kx_io_submit, except that when the driver runs in this process and its
 * dispatch thread is idle, the routines run on the calling thread before
 * this returns (completions too, when the driver completes at once): one
 * thread hop fewer. A driver's routines still never run two at a time. For a
 * serving thread that holds no lock and may wait as long as a routine runs
 * (kxd's ring threads). */
KX_API kx_status kx_io_submit_here(struct kx_io *io, kx_io_handle h, const struct kx_io_req *reqs,
                                   size_t n);

/* Runs on the calling thread the completions of h's requests (and of any
 * other requests to its driver) whose answers have arrived from a driver in
 * a kx-host, so that a thread waiting for its batches (io_uring's wait for
 * completions) takes them without a wake-up of kxd's reader. Returns at
 * once when another thread is taking them, and for in-process drivers.
 * *n (may be NULL): how many answer batches it took; 0 means none had
 * arrived, and the caller may yield. STATUS_SUCCESS; STATUS_INVALID_HANDLE. */
KX_API kx_status kx_io_reap(struct kx_io *io, kx_io_handle h, size_t *n);

/* Submits one request and waits for its completion: spins briefly (yielding
 * now and then, and only yielding when the driver's thread shares this CPU),
 * then sleeps, so a fast driver answers without a syscall. Returns the
 * request's status (or a submission error) and its information in
 * *information (may be NULL). Blocks up to the request's deadline. */
KX_API kx_status kx_io_call(struct kx_io *io, kx_io_handle h, const struct kx_io_req *req,
                            size_t *information);

/* kx_io_call shorthands. n receives the byte count (may be NULL). */
KX_API kx_status kx_io_read(struct kx_io *io, kx_io_handle h, void *buf, size_t len,
                            uint64_t offset, uint32_t timeout_ms, size_t *n);
KX_API kx_status kx_io_write(struct kx_io *io, kx_io_handle h, const void *buf, size_t len,
                             uint64_t offset, uint32_t timeout_ms, size_t *n);
KX_API kx_status kx_io_ioctl(struct kx_io *io, kx_io_handle h, uint32_t code, const void *in,
                             size_t in_len, void *out, size_t out_len, uint32_t timeout_ms,
                             size_t *n);

/* Cancels h's pending requests that were submitted with this arg (as a
 * close would, but only those): a request's driver runs its cancel routine,
 * one without answers STATUS_CANCELLED at once. Rare by design (a program
 * interrupted while it waits on a kx file): it scans the IRP pool.
 * STATUS_SUCCESS (also when none matched); STATUS_INVALID_HANDLE. Never
 * blocks on a driver. */
KX_API kx_status kx_io_cancel(struct kx_io *io, kx_io_handle h, void *arg);

/* ---- Readiness and declared control codes ---------------------------------
 * What a file system front end (kx's FUSE mount) needs to look like a
 * character device: poll(2), and ioctl(2) numbers that carry sizes. */

#define KX_IO_READY_READ  0x1u /* a read would not pend (= DEVICE_READY_READ) */
#define KX_IO_READY_WRITE 0x2u /* a write would take bytes (= DEVICE_READY_WRITE) */

/* The readiness of h's device as its driver last set it (DkSetDeviceReady);
 * a device whose driver never said is always ready for both.
 * STATUS_SUCCESS; STATUS_INVALID_HANDLE; STATUS_DEVICE_REMOVED (*events is
 * then both bits: a removed device never blocks, its requests fail). */
KX_API kx_status kx_io_ready(struct kx_io *io, kx_io_handle h, uint32_t *events);

/* Told when a driver changes a device's readiness: its canonical name and
 * the new bits. Runs on the driver's thread while the manager's watcher lock
 * is held: must not block or call kx_io_watch_ready. */
typedef void (*kx_io_ready_fn)(void *arg, const char *device, uint32_t events);

/* Adds (add != 0) or removes the watcher fn/arg; at most 8.
 * STATUS_SUCCESS; STATUS_INSUFFICIENT_RESOURCES (eight already);
 * STATUS_NO_SUCH_FILE (removing one not installed). After a removal returns,
 * that watcher is not running and is not called again. */
KX_API kx_status kx_io_watch_ready(struct kx_io *io, kx_io_ready_fn fn, void *arg, int add);

/* A control code a driver declared for a device (DkSetDeviceControlCodes):
 * how many bytes of input it takes and of output it gives, which a front end
 * without sizes of its own (ioctl(2)) needs. */
#define KX_IO_MAX_CONTROLS      32
#define KX_IO_CONTROL_LENGTH_MAX 16383u /* what Linux's _IOC size field holds */

struct kx_io_control_decl {
    uint32_t code;
    uint32_t in_len, out_len;
};

/* Copies the declarations of h's device (at most KX_IO_MAX_CONTROLS) into
 * out, their number into *n, and its canonical name into device (may be
 * NULL). STATUS_SUCCESS; STATUS_INVALID_HANDLE. */
KX_API kx_status kx_io_device_info(struct kx_io *io, kx_io_handle h,
                                   struct kx_io_control_decl out[KX_IO_MAX_CONTROLS], size_t *n,
                                   char device[KX_IO_NAME_MAX]);

/* ---- Listings (kx ls, kextunload) ---------------------------------------
 * Each returns a malloc'ed array (free() it; NULL when empty) and its length,
 * a snapshot taken under the namespace lock. STATUS_SUCCESS;
 * STATUS_INSUFFICIENT_RESOURCES. */

/* ---- Device policy ---------------------------------------------------------
 * An administrator's word on who may open what, above what drivers set with
 * DkSetDeviceSecurity: each rule names devices by a glob (fnmatch, no
 * escapes) over the canonical name ("\Device\RamDisk*") or over any link
 * pointing at the device ("/dev/ram*"); the first matching rule's owner,
 * group and mode replace the driver's at open and in listings. */

struct kx_io_device_rule {
    char pattern[KX_IO_NAME_MAX];
    uint32_t uid, gid, mode;
};

/* Replaces the policy with a copy of rules (n = 0 clears it); devices
 * already open keep the access they were granted. STATUS_SUCCESS;
 * STATUS_INVALID_PARAMETER (mode > 0777); STATUS_INSUFFICIENT_RESOURCES. */
KX_API kx_status kx_io_set_device_policy(struct kx_io *io, const struct kx_io_device_rule *rules,
                                         size_t n);

struct kx_io_link_stat {
    char link[KX_IO_NAME_MAX];   /* "/dev/null" */
    char target[KX_IO_NAME_MAX]; /* "\Device\Null0" */
    char driver[KX_IO_NAME_MAX]; /* creator, "\Driver\Null" */
};

#define KX_IO_DEV_DELETE_PENDING 0x1u

struct kx_io_device_stat {
    char name[KX_IO_NAME_MAX];
    char driver[KX_IO_NAME_MAX];
    uint32_t uid, gid, mode;
    uint32_t n_handles;
    uint32_t flags; /* KX_IO_DEV_* */
    int32_t host_pid; /* its driver's kx-host process; 0: in this process */
};

struct kx_io_handle_stat {
    kx_io_handle handle;
    char device[KX_IO_NAME_MAX];
    char driver[KX_IO_NAME_MAX];
    struct kx_io_cred cred;
    uint32_t access;
};

enum kx_io_driver_state {
    KX_IO_DRIVER_STARTING = 10,  /* DriverEntry running */
    KX_IO_DRIVER_RUNNING = 20,
    KX_IO_DRIVER_UNLOADING = 30,
};

struct kx_io_driver_stat {
    kx_io_driver_id id;
    char name[KX_IO_NAME_MAX];          /* "\Driver\Null" */
    char version[KX_DRIVER_INFO_TEXT_MAX];
    enum kx_io_driver_state state;
    int is_hung;                        /* a routine has overrun hang_ms */
    uint32_t n_devices;
    uint32_t n_handles;
    int32_t host_pid;                   /* its kx-host process; 0: in-process */
    uint64_t host_address, host_size;   /* where host_exe is mapped in that process */
};

/* Where driver id runs: *pid its kx-host process (0: in this process) and
 * where that process mapped the driver. STATUS_SUCCESS; STATUS_INVALID_HANDLE. */
KX_API kx_status kx_io_driver_host(struct kx_io *io, kx_io_driver_id id, int32_t *pid,
                                   uint64_t *address, uint64_t *size);
/* The DRIVER_TYPE_* driver id declared. STATUS_SUCCESS; STATUS_INVALID_HANDLE. */
KX_API kx_status kx_io_driver_type(struct kx_io *io, kx_io_driver_id id, uint32_t *type);

/* Links sorted by link name; devices sorted by name; drivers in start order. */
KX_API kx_status kx_io_list_links(struct kx_io *io, struct kx_io_link_stat **out, size_t *n);
KX_API kx_status kx_io_list_devices(struct kx_io *io, struct kx_io_device_stat **out, size_t *n);
KX_API kx_status kx_io_list_drivers(struct kx_io *io, struct kx_io_driver_stat **out, size_t *n);
/* Open handles on the devices of driver drv (0: every handle), oldest first. */
KX_API kx_status kx_io_list_handles(struct kx_io *io, kx_io_driver_id drv,
                                    struct kx_io_handle_stat **out, size_t *n);

/* ---- Kernel log (kx log) -------------------------------------------------
 * A bounded ring of lines: DkPrint's "[DK] ..." lines and the manager's own
 * reports ("[IO] ...": hung routines, removed links, double completions). */

#define KX_IO_LOG_TEXT_MAX 240

struct kx_io_log_line {
    uint64_t seq;        /* 1, 2, 3, ... per manager; gaps mean lines were overwritten */
    int64_t wall_ns;     /* wall clock, nanoseconds since the epoch */
    uint64_t uptime_ns;  /* since kx_io_new */
    char source[64];     /* the driver's name ("Null") or "kx" */
    char text[KX_IO_LOG_TEXT_MAX];
};

/* Copies up to max lines with seq > after_seq, oldest first, and returns how
 * many. Read everything with after_seq = 0, then follow with the last seq. */
KX_API size_t kx_io_log_read(struct kx_io *io, uint64_t after_seq, struct kx_io_log_line *out,
                             size_t max);

/* Appends a line from elsewhere in the kernel (the kext loader's "loaded"
 * and "unloaded" lines) under source, e.g. "kext". Any thread. */
KX_API void kx_io_log_write(struct kx_io *io, const char *source, const char *text);

/* "[   12.345678] Null: [DK] text" into buf (always NUL-terminated). */
KX_API void kx_io_log_format(const struct kx_io_log_line *line, char *buf, size_t size);

/* ---- Fault injection (kx fault; rules in kx/fault.h) ---------------------
 * The manager counts the IRPs sent to a rule's target as they are submitted
 * (CREATE and the requests; not the CLEANUP and CLOSE it sends itself, so a
 * faulted handle can always be closed), and marks the one a rule hits; the
 * driver's host carries the action out before or instead of the routine:
 * fail completes the IRP with the status without calling the driver, delay
 * sleeps first, never-complete pends the IRP and forgets it (its deadline
 * answers the requester), and in a kx-host process crash, abort, exit and
 * hang end or stop the process, so the containment answers the IRP. */

/* Attaches a copy of rule (from kx_fault_parse; counters start afresh) to
 * rule->target, a device's link or \Device\ name; with drv != 0 to every
 * device of driver drv instead (a kext's rule: the kernel resolves the
 * bundle identifier, kx_kernel_fault_set). A rule for a target replaces the
 * one it had. STATUS_SUCCESS; STATUS_NO_SUCH_FILE, STATUS_NO_SUCH_DEVICE or
 * STATUS_INVALID_HANDLE (no such device or driver); STATUS_NOT_SUPPORTED
 * (crash, abort, exit or hang for a driver running in this process);
 * STATUS_INVALID_PARAMETER. why (may be NULL) gets a message naming the
 * target. */
KX_API kx_status kx_io_fault_set(struct kx_io *io, const struct kx_fault_rule *rule,
                                 kx_io_driver_id drv, char *why, size_t why_len);
/* Removes the rule for target (NULL: every rule); *n (may be NULL) gets how
 * many went. STATUS_OBJECT_NAME_NOT_FOUND when target had none. */
KX_API kx_status kx_io_fault_clear(struct kx_io *io, const char *target, size_t *n);
/* Copies of the rules, counters included, in the order they were set; the
 * caller frees *out with free(). */
KX_API kx_status kx_io_fault_list(struct kx_io *io, struct kx_fault_rule **out, size_t *n);

/* The IRP pool's size: slabs of records_per_slab records; live ones hold
 * memory, made is the high-water mark. It grows in a burst and the watchdog
 * gives the memory of idle slabs back once the burst is over. System
 * buffers over 4 KiB come from a cache of their own, trimmed the same way:
 * buf_mallocs counts the ones it had to allocate (a steady stream of large
 * requests adds none). bulk_lent: kx-host bulk slots held by IRPs now. */
struct kx_io_pool_stats {
    uint32_t slabs_live, slabs_made, records_per_slab;
    uint32_t bulk_lent;
    uint64_t buf_mallocs;
};
KX_API void kx_io_pool_stats(struct kx_io *io, struct kx_io_pool_stats *out);
/* Gives idle slabs back now rather than at the watchdog's next tick. */
KX_API void kx_io_pool_trim(struct kx_io *io);

#endif /* KX_IO_H */
