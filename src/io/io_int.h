/* io_int.h — I/O manager internals shared by the files of src/io (kx__io_*).
 *
 * Files:
 *   io.c         kx_io_new/free, manager log messages, listings
 *   klog.c       the kernel log ring
 *   names.c      object namespace (\Driver, \Device, links) and the device/link messages
 *   irp.c        IRP pool, the IRP state word, answering requesters, waiting
 *   bufcache.c   system buffers over IO_CACHE_BUF, kept by size class
 *   hostbulk.c   bulk slots shared with a kx-host: large buffers crossing uncopied
 *   queue.c      a driver's dispatch queue: a ring of slots and an overflow list
 *   file.c       handle table, open, close, access checks
 *   submit.c     request submission and the synchronous calls
 *   driver.c     starting and unloading drivers, rollback, the completion messages
 *   wd.c         watchdog thread: async deadlines and hung routines
 *   event.c      named events for drivers: registrations, timers, raising
 *   ready.c      device readiness (poll), declared control codes, cancelling
 *                one requester's requests: what a file system front end needs
 * The host side (src/host: kmdf_host.c, the in-process driver host, and the
 * Dk* calls) sees none of this: only host.h, irp_rec.h and queue.h.
 *
 * Lock order (take downwards only):
 *   1. io->ns_lock    namespace arrays, driver/device records and their counts,
 *                     handle-table slots and free list, device refs
 *   2. io->pool_lock  IRP slab growth and trim   (leaf)
 *      io->ready_lock readiness watchers, held while one runs (leaf; ready.c)
 *      io->klog_lock  kernel log ring            (leaf)
 *      io->bufs.lock  large system buffers kept for reuse (leaf; bufcache.c)
 *      io->fault_lock fault rules (leaf; fault_set.c; reports go out after it)
 *      host->lock     a host's device list       (leaf, src/host/kmdf_host.c)
 *      q->ovf_lock    a dispatch queue's overflow list, only when its ring is
 *                     full (leaf, queue.c; posts happen under ns_lock)
 *      events->lock   event registrations, timers, sequence numbers (leaf; event.c)
 * No lock is held while driver code runs, while a requester's completion runs,
 * or while waiting for an IRP. The hot path (submit, dispatch, complete) takes
 * no lock at all: it uses the IRP state word, the file's refs and the queue.
 *
 * The IRP state word (io_irp.state, 64 bits) is the whole state machine:
 *   bits 63..32  generation: bumped at every allocation; ids carry it, so a
 *                stale id or a late completion is recognised, never obeyed
 *   bit  16  REQ_DONE    the requester's answer is claimed (exactly one
 *                        claimer: the driver's completion, the deadline, a
 *                        cancel, a hang, an unload)
 *   bit  17  DRV_DONE    the driver completed (or the manager did for it)
 *   bit  18  DISPATCHED  a dispatch routine has received it
 *   bit  19  CANCEL      cancellation requested
 *   bits 15..0  references: REQ (the requester until it has consumed the
 *               answer), DRV (the driver until it completes), DISP (each
 *               dispatch until its routine returns), one per pending cancel
 *               routine call and per scanner holding it. At zero the record is
 *               released: its buffer freed, its file reference dropped, back
 *               to the pool.
 *
 *     alloc --submit--> queued --begin--> dispatched --complete--> DRV_DONE
 *       (refs REQ+DRV+DISP)  |                 |         (REQ_DONE if first)
 *                            |                 +--forward--> queued at the lower device
 *        deadline/cancel/hang: REQ_DONE claimed; a queued IRP is then skipped,
 *        a dispatched one keeps running and its completion is absorbed.
 */
#ifndef KX_IO_INT_H
#define KX_IO_INT_H

#include "host.h"
#include "irp_rec.h"
#include "queue.h"

#include <kx/io.h>
#include <kx/log.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define IO_DRIVER_PREFIX "\\Driver\\"
#define IO_DEVICE_PREFIX "\\Device\\"

/* The IRP record (enum io_kind, the state bits, struct io_irp): irp_rec.h. */

struct io_file;
struct io_device;
struct io_driver;

#define IO_SLAB_SHIFT 8
#define IO_SLAB_SIZE  (1u << IO_SLAB_SHIFT)
#define IO_MAX_SLABS  4096u /* 1M records */

/* A slab stays mapped once made; after a burst, trimming discards the memory
 * of wholly free slabs (reads then see zeros: no references, so lookups and
 * scans pass over them) and growth revives them before making new ones. */
#define IO_POOL_KEEP_SLABS 4u /* never trimmed below this many live slabs */

struct io_pool {
    _Alignas(64) _Atomic uint64_t free_head; /* tag:32 | idx+1:32 (Treiber stack of magazines) */
    _Alignas(64) _Atomic uint32_t n_slabs;   /* slabs ever made (the high-water mark) */
    _Atomic uint32_t n_live;                 /* slabs not discarded */
    _Atomic(struct io_irp *) slabs[IO_MAX_SLABS];
    _Atomic uint8_t live[IO_MAX_SLABS]; /* scans skip discarded slabs */
    /* pool_lock: a discarded slab's highest generation, which its records
     * continue from when revived, so ids from before stay stale */
    uint32_t idle_gen[IO_MAX_SLABS];
};

/* ---- Files (handles) ------------------------------------------------------ */

enum io_file_state {
    F_FREE = 0,
    F_OPENING = 10, /* CREATE in flight */
    F_OPEN = 20,
    F_CLOSING = 30, /* cancelling, CLEANUP in flight */
    F_CLOSED = 40,  /* handle gone; CLOSE follows the last reference */
};

#define IO_FILE_CTX_MAX 4
#define IO_FCHUNK       64u
#define IO_MAX_FCHUNKS  1024u /* 65536 handles */

struct io_file {
    _Atomic uint64_t gen_refs;   /* gen:32 | refs:32; lookups add refs against the gen */
    _Atomic int state;           /* enum io_file_state */
    _Atomic uint32_t submitting; /* submissions between their state check and their push */
    /* Bit s % 64 for each pool slab s its requests came from: close looks
     * for the handle's requests in those slabs only (kx__irp_foreach_in). */
    _Atomic uint64_t slabs;
    uint32_t idx;
    struct kx_io *io; /* the manager the slot belongs to */
    kx_io_handle handle;
    uint64_t open_seq;     /* for oldest-first listings */
    struct io_device *dev; /* holds a device ref */
    struct kx_io_cred cred;
    uint32_t access;
    _Atomic int driver_opened; /* a driver completed CREATE with success (maybe late) */
    /* FileContext per device of the stack; written while CREATE runs, read after */
    struct {
        uint64_t dev_id, cookie;
    } ctx[IO_FILE_CTX_MAX];
    _Atomic uint32_t n_ctx;
    struct io_file *free_next; /* ns_lock */
};

struct io_ftab {
    _Atomic(struct io_file *) chunks[IO_MAX_FCHUNKS];
    uint32_t n_chunks;    /* ns_lock */
    struct io_file *free; /* ns_lock */
    uint64_t open_seq;    /* ns_lock */
};

/* ---- Devices, drivers, links ---------------------------------------------- */

struct io_device {
    uint64_t id;
    char name[KX_IO_NAME_MAX];
    char driver_name[KX_IO_NAME_MAX]; /* kept for listings after the driver is gone */
    struct io_driver *drv;            /* NULL once the driver is gone (ns_lock) */
    uint64_t host_cookie;             /* the host's DEVICE_OBJECT; opaque here */
    uint32_t uid, gid, mode;          /* ns_lock */
    uint32_t refs;                    /* ns_lock: namespace + files + proxies */
    uint32_t n_files;                 /* ns_lock: open files (not yet freed) */
    uint64_t instance;                /* the match it was created for (0: none) */
    int removing;                     /* ns_lock: its instance is being removed: no new opens */
    _Atomic int is_deleted;           /* set under ns_lock; read by submit without it */
    _Atomic uint32_t ready;           /* DkSetDeviceReady's bits | IO_READY_SET; 0: never set */
    struct kx_io_control_decl controls[KX_IO_MAX_CONTROLS]; /* ns_lock: declared codes */
    uint32_t n_controls;                                    /* ns_lock */
};

#define IO_READY_SET          0x80000000u /* the driver has said; before that, always ready */
#define IO_MAX_READY_WATCHERS 8

struct io_link {
    char link[KX_IO_NAME_MAX];
    char target[KX_IO_NAME_MAX];
    uint64_t creator; /* driver id */
    char creator_name[KX_IO_NAME_MAX];
};

#define IO_DRIVER_GONE 40 /* after KX_IO_DRIVER_UNLOADING: stopped, retired */

struct io_driver {
    uint64_t id;
    char name[KX_IO_NAME_MAX]; /* "\Driver\<short>" */
    const char *short_name;    /* points into name */
    struct kx_driver_info info;
    int state;                /* enum kx_io_driver_state or IO_DRIVER_GONE; ns_lock */
    int has_unload;           /* DriverUnload set after DriverEntry (ns_lock) */
    struct kx_host *host;     /* in-process host; NULL once stopped (ns_lock) */
    struct io_hostproc *proc; /* or a separate host process (hostproc.c) */
    struct io_irp *stop_rec;  /* K_STOP, set aside at start */
    _Atomic int is_hung;
    _Atomic int accepting; /* submissions and opens allowed */
    /* watchdog only */
    uint64_t wd_seq, wd_since_ns;
    uint64_t wd_reported_seq;
    /* events (event.c): records posted and not yet answered (bounded), and
     * what became of the others */
    _Atomic uint32_t ev_queued;
    _Atomic uint64_t ev_delivered, ev_dropped;
};

/* ---- The manager ------------------------------------------------------------ */

struct io_wd {
    pthread_t thread;
    int started;
    _Atomic uint32_t word; /* futex: bumped by kicks */
    _Atomic int stop;
    _Atomic uint64_t next_ns; /* when the watchdog plans to look next */
    uint64_t tick_ns;
};

struct io_klog_entry;

/* Free system buffers over IO_CACHE_BUF bytes by power-of-two class
 * (bufcache.c): class c holds IO_CACHE_BUF << (c + 1) bytes, up to
 * KX_IO_MAX_TRANSFER. */
#define IO_BUF_CLASSES 14
struct io_bufcache {
    pthread_mutex_t lock;          /* guards free, taken, bytes (leaf) */
    void *free[IO_BUF_CLASSES];    /* each free buffer's first word links the next */
    uint8_t taken[IO_BUF_CLASSES]; /* a buffer was taken since the last trim */
    size_t bytes;                  /* held in free[] */
    _Atomic uint64_t n_malloc;     /* buffers malloc'ed: what the cache could not serve */
};

struct kx_io {
    struct kx_logger logger;
    uint32_t irp_timeout_ms, entry_timeout_ms, unload_timeout_ms, hang_ms;
    uint64_t start_ns;
    uint64_t spin_ns; /* spin-then-block budget of a waiter; 0 on one CPU */
    const struct kx_kpi_symbol *kpi;

    pthread_mutex_t ns_lock;
    uint64_t next_id;           /* ns_lock: drivers and devices */
    struct io_driver **drivers; /* ns_lock, start order */
    size_t n_drivers, cap_drivers;
    struct io_device **devices; /* ns_lock, live and delete-pending */
    size_t n_devices, cap_devices;
    struct kx_io_device_rule *policy; /* ns_lock: kx_io_set_device_policy */
    size_t n_policy;
    struct io_link *links; /* ns_lock */
    size_t n_links, cap_links;
    struct kx_host **zombies; /* ns_lock: hosts whose thread is stuck in driver code */
    size_t n_zombies, cap_zombies;
    struct {
        void *obj;
        int is_driver;
    } * retired; /* ns_lock: records freed with the manager */
    size_t n_retired, cap_retired;

    struct io_ftab ftab;

    pthread_mutex_t pool_lock;
    struct io_pool pool;
    struct io_bufcache bufs;
    _Atomic uint32_t bulk_lent; /* host bulk slots held by records (hostbulk.c) */

    pthread_mutex_t klog_lock;
    struct io_klog_entry *klog; /* klog_lock */
    uint32_t klog_cap, klog_n, klog_head;
    uint64_t klog_seq;

    struct io_wd wd;

    char *host_program;    /* kx-host, for drivers in processes of their own */
    char *host_user;       /* hosts drop to it (NULL: they keep this process's user) */
    uint32_t host_uid, host_gid, host_flags;
    uint64_t host_poll_ns; /* kx_io_config.host_poll_us (0: never) */
    kx_io_died_fn died_fn; /* kx_io_set_died_fn */
    void *died_ctx;
    pthread_mutex_t ready_lock; /* ready_watch; held while a watcher runs */
    struct {
        kx_io_ready_fn fn;
        void *arg;
    } ready_watch[IO_MAX_READY_WATCHERS];

    kx_io_reg_fn reg_fn; /* the registry's owner (kx_io_set_registry) */
    void *reg_ctx;

    pthread_mutex_t fault_lock; /* faults (leaf; fault_set.c) */
    struct io_fault *faults;    /* fault_lock: kx_io_fault_set's rules */
    size_t cap_faults;          /* fault_lock */
    _Atomic size_t n_faults;    /* written under fault_lock; submitters read it without */

    struct io_events *events; /* event.c: registrations, timers, sources */
};

/* ---- bufcache.c ------------------------------------------------------------- */
kx_status kx__buf_init(struct kx_io *io);
void kx__buf_destroy(struct kx_io *io);
/* A buffer of at least n bytes (IO_CACHE_BUF < n <= KX_IO_MAX_TRANSFER), not
 * cleared; NULL when out of memory. Give it back with the same n. */
void *kx__buf_get(struct kx_io *io, size_t n);
void kx__buf_put(struct kx_io *io, void *p, size_t n);
/* Frees the kept buffers of sizes nobody asked for since the last trim. */
void kx__buf_trim(struct kx_io *io);

/* ---- hostbulk.c ------------------------------------------------------------- */
/* A fresh region of bulk slots for a host (one reference, the caller's). */
kx_status kx__bulk_new(struct kx_io *io, const char *name, struct io_bulk **out);
/* Passes the region's descriptor to the host, after the rings' (one
 * message), and closes kxd's. */
kx_status kx__bulk_send(struct io_bulk *b, int sock);
/* The host died: no more slots are taken, and the memory goes once no
 * record holds a slot (NULL is ignored). */
void kx__bulk_retire(struct io_bulk *b);
/* Drops a reference (NULL is ignored); the last one unmaps the region. */
void kx__bulk_unref(struct io_bulk *b);
/* Gives r a free slot of b for request q (b may be NULL): the slot becomes
 * the system buffer with q's input copied in (output-only bytes cleared if
 * zero_out), or, when r already has a lent buffer, the place the host's
 * output lands. 1 if it did; 0 (nothing changed) when q's buffer is
 * IO_CACHE_BUF or less, larger than a slot, or no slot is free. */
int kx__bulk_lend(struct io_bulk *b, struct io_irp *r, const struct kx_io_req *q, int zero_out);
/* The memory of the slot r holds. */
void *kx__bulk_at(const struct io_irp *r);
/* Gives slot k back (at the record's release) and drops its reference. */
void kx__bulk_give(struct io_bulk *b, uint32_t k);

/* ---- irp.c ------------------------------------------------------------------ */
kx_status kx__pool_init(struct kx_io *io);
void kx__pool_destroy(struct kx_io *io);
/* n fresh records (refs REQ+DRV+DISP, everything else zero), all or none. */
kx_status kx__irp_alloc(struct kx_io *io, struct io_irp **out, size_t n);
/* Returns records that were never posted (refs ignored; file refs are not dropped). */
void kx__irp_discard(struct kx_io *io, struct io_irp **recs, size_t n);
/* Sets up the system buffer: copies in, zeroes output. */
/* zero_out: clear the output-only bytes (a view request's driver owns them;
 * only what it reports it wrote leaves the manager). */
kx_status kx__irp_set_buffer(struct kx_io *io, struct io_irp *r, const void *in, size_t in_len,
                             size_t out_len, int zero_out);
/* Makes the requester's buf (len bytes, not cleared) the system buffer;
 * release(arg) runs once when the record is released (never on discard: an
 * IRP never posted leaves buf with its owner). */
void kx__irp_lend_buffer(struct io_irp *r, void *buf, size_t len, void (*release)(void *),
                         void *arg);
struct io_irp *kx__irp_at(struct kx_io *io, uint32_t idx);
/* The record with that id if it is live (no reference taken). */
struct io_irp *kx__irp_lookup(struct kx_io *io, uint64_t id, uint64_t *state);
/* Adds a reference if the record is still the incarnation seen in `seen`. */
int kx__irp_tryref(struct io_irp *r, uint64_t seen);
void kx__irp_unref(struct kx_io *io, struct io_irp *r, uint64_t n, struct io_relbatch *rb);
void kx__relbatch_flush(struct kx_io *io, struct io_relbatch *rb);
/* Claims the requester's answer (REQ_DONE); 1 if this caller won. The caller
 * holds a reference. */
int kx__irp_claim(struct io_irp *r);
/* Answers the requester of a claimed record: stores the result, wakes the
 * waiter or runs the completion (copying output when from_driver and
 * successful, then dropping the REQ reference). */
void kx__irp_answer(struct kx_io *io, struct io_irp *r, kx_status st, size_t info, int from_driver,
                    struct io_relbatch *rb);
/* Claims and answers in one step; 1 if it did. */
int kx__irp_answer_if_first(struct kx_io *io, struct io_irp *r, kx_status st, size_t info,
                            struct io_relbatch *rb);
/* Waits for a sync record's answer until deadline_ns (0: none); on timeout
 * answers STATUS_TIMEOUT itself. Copies output into out. Drops the REQ ref.
 * spin: see kx__spin_worthwhile. */
kx_status kx__irp_wait(struct kx_io *io, struct io_irp *r, uint64_t deadline_ns, void *out,
                       size_t out_len, size_t *info, int spin);
/* Whether a waiter should spin (then yield, then sleep) or only yield: not
 * when the dispatch thread it waits for was last seen on the waiter's own
 * CPU (cpu from kx__host_post). */
int kx__spin_worthwhile(struct kx_io *io, int cpu);
/* Requests cancellation (close): cancel routine (posted to the host) or an
 * immediate STATUS_CANCELLED answer. Caller holds a reference. */
void kx__irp_cancel(struct kx_io *io, struct io_irp *r);
/* Deadline or hang: answers st if first, and asks the driver to drop the IRP
 * (its cancel routine, if any, runs; its completion is absorbed). Returns 1
 * if it answered. Caller holds a reference. */
int kx__irp_expire(struct kx_io *io, struct io_irp *r, kx_status st);
void kx__irp_after_timeout(struct kx_io *io, struct io_irp *r);
/* Discards the memory of wholly free slabs while the free records exceed
 * twice those in use (and more than IO_POOL_KEEP_SLABS slabs are live). The
 * watchdog calls it after a burst. */
void kx__pool_trim(struct kx_io *io);
int kx__pool_slab_live(struct kx_io *io, uint32_t slab);
/* The slab bit of record idx in io_file.slabs. */
static inline uint64_t kx__irp_slab_bit(uint32_t idx)
{
    return (uint64_t)1 << ((idx >> IO_SLAB_SHIFT) & 63);
}
/* Calls fn for every live record (with a reference held during the call). */
void kx__irp_foreach(struct kx_io *io, void (*fn)(struct kx_io *, struct io_irp *, void *),
                     void *arg);
/* The same over the slabs whose bit is set in slabs. */
void kx__irp_foreach_in(struct kx_io *io, uint64_t slabs,
                        void (*fn)(struct kx_io *, struct io_irp *, void *), void *arg);
uint64_t kx__deadline(struct kx_io *io, uint32_t timeout_ms, uint32_t dflt_ms);

/* ---- file.c ----------------------------------------------------------------- */
void kx__ftab_destroy(struct kx_io *io);
/* Looks a handle up and adds n references; NULL if it is not a handle. */
struct io_file *kx__file_ref(struct kx_io *io, kx_io_handle h, uint32_t n);
void kx__file_unref(struct kx_io *io, struct io_file *f, uint32_t n);
/* kx_io_close; with revoke, the handle's pending requests are answered
 * STATUS_DEVICE_REMOVED first (its device is going away under it); with
 * here, as kx_io_close_here. */
kx_status kx__file_close(struct kx_io *io, kx_io_handle h, int revoke, int here);
uint64_t kx__file_cookie(struct io_file *f, uint64_t dev_id);
/* Under ns_lock: the handles open on devices of driver d (NULL: any), of
 * device dv (NULL: any) and of instance (0: any); holders_only: only those
 * opened for some access (an open for no access never keeps a driver from
 * unloading). */
size_t kx__file_count(struct kx_io *io, const struct io_driver *d, const struct io_device *dv,
                      uint64_t instance, int holders_only);
/* Under ns_lock: a malloc'ed copy of the handles open on devices of driver d
 * (NULL: all) and instance (0: any), oldest first; *out is NULL when there
 * are none. */
kx_status kx__file_snapshot(struct kx_io *io, const struct io_driver *d, uint64_t instance,
                            struct kx_io_handle_stat **out, size_t *n);
void kx__file_set_cookie(struct kx_io *io, struct io_file *f, uint64_t dev_id, uint64_t cookie);

/* ---- submit.c ---------------------------------------------------------------- */
/* Sends an internal IRP (CREATE, CLEANUP, CLOSE) for file f. Sync when done is
 * NULL: waits until deadline_ns and returns the answer; with here, an idle
 * in-process driver's routine runs on this thread (kx_io_open_here). */
kx_status kx__send_file_irp(struct kx_io *io, struct io_file *f, uint8_t major, int hold_ref,
                            uint64_t deadline_ns, kx_io_done_fn done, void *arg, int here);
/* Sends a control record to a driver's host and waits for it. */
kx_status kx__send_ctl(struct kx_io *io, struct io_driver *d, struct io_irp *r,
                       uint64_t deadline_ns, size_t *info);
/* Queues recs[0..n) to d's host; returns what kx__host_post does. */
int kx__post(struct kx_io *io, struct io_driver *d, struct io_irp **recs, size_t n);

/* ---- names.c ------------------------------------------------------------------ */
/* Under ns_lock. */
struct io_driver *kx__ns_driver_by_id(struct kx_io *io, uint64_t id);
struct io_device *kx__ns_device_by_id(struct kx_io *io, uint64_t id);
struct io_device *kx__ns_resolve(struct kx_io *io, const char *path, kx_status *why);
void kx__ns_device_unref(struct kx_io *io, struct io_device *d);
/* Deletes every device of d and every link d created or that points at them;
 * reports each with `why`. Under ns_lock; messages are logged after unlock by
 * the caller through the returned count. */
size_t kx__ns_remove_driver_objects(struct kx_io *io, struct io_driver *d, const char *why);
void kx__ns_retire(struct kx_io *io, void *obj, int is_driver);
kx_status kx__ns_grow(void **arr, size_t *cap, size_t need, size_t elem);
int kx__name_valid(const char *name, const char *prefix);

/* ---- policy.c ------------------------------------------------------------ */
/* The owner, group and mode in force for dv: the first policy rule matching
 * its name or a link to it, else what its driver set. Caller holds ns_lock. */
void kx__policy_security(const struct kx_io *io, const struct io_device *dv, uint32_t *uid,
                         uint32_t *gid, uint32_t *mode);

/* ---- hostproc.c: separate host processes ---------------------------------- */
struct io_hostproc;
/* Starts kx-host for d (registered, STARTING), has it load p->host_libs and
 * p->host_exe, and starts the threads that carry messages. Blocks until the
 * host answers. */
kx_status kx__hostproc_new(struct kx_io *io, struct io_driver *d,
                           const struct kx_io_driver_params *p, struct io_hostproc **out);
/* As kx__host_post, for a host process (returns -1: no CPU to share). */
int kx__hostproc_post(struct io_hostproc *hp, struct io_irp **recs, size_t n);
/* The host's bulk slots (NULL on the socket transport). */
struct io_bulk *kx__hostproc_bulk(const struct io_hostproc *hp);
/* hp if this thread may receive hp's answers in the reader's place now: then
 * it calls kx__hostproc_await or kx__hostproc_collect, which end its turn.
 * NULL for no host process (hp NULL), on the socket, with polling off, or
 * after the host's death. Called
 * while something keeps hp from being freed (ns_lock, or a submission in
 * progress on one of its files); once entered, hp stays until the turn ends. */
struct io_hostproc *kx__hostproc_enter(struct io_hostproc *hp);
/* Waits for the answer to request id, posted to hp as r, receiving the
 * host's answers itself for a while (returns when it is answered or the
 * poll window ends): for a synchronous caller, or a serving thread that may
 * wait (kx_io_submit_here), so that answers reach their requesters without
 * the reader's hop. bytes: what the requests move (a longer window,
 * HX_BULK_POLL_NS). */
void kx__hostproc_await(struct io_hostproc *hp, struct io_irp *r, uint64_t id, uint64_t bytes);
/* An async submitter, right after posting to hp: handles the answers that
 * have already arrived (any requester's: their completions run on this
 * thread), so a stream of batches needs no wake-up of the reader. Returns
 * at once when another thread is receiving. Returns the batches taken. */
size_t kx__hostproc_collect(struct io_hostproc *hp);
/* After K_STOP was posted: waits for the process to end (killing it if it
 * does not) and for its threads; frees hp. */
void kx__hostproc_free(struct io_hostproc *hp);
int32_t kx__hostproc_pid(const struct io_hostproc *hp);
/* What cancel_in_driver carries for a host process: the host takes the
 * routine itself (never called). */
void kx__hostproc_cancel_mark(void);
void kx__hostproc_extent(const struct io_hostproc *hp, uint64_t *address, uint64_t *size);
/* The watchdog's look at a running host process (caller holds ns_lock):
 * when it has had work outstanding and ended no dispatch for hang_ns, it is
 * killed (its death is answered STATUS_DRIVER_NOT_RESPONDING), what[] names
 * the routine it was stuck in, and the stall in ms (> 0) is returned. */
uint64_t kx__hostproc_watch(struct io_hostproc *hp, uint64_t now, uint64_t hang_ns, char *what,
                            size_t what_len);
/* The same for an idle host whose transport thread stopped answering: pings
 * it every hang_ns (HX_PING); one unanswered for hang_ns gets it killed. */
uint64_t kx__hostproc_heartbeat(struct io_hostproc *hp, uint64_t now, uint64_t hang_ns,
                                char *what, size_t what_len);
/* A lifecycle routine (DriverEntry, AddDevice, ...) missed its deadline: the
 * host is killed unless it already died. Returns how its records are
 * answered: STATUS_DRIVER_NOT_RESPONDING, or STATUS_DRIVER_PROCESS_TERMINATED
 * when it had crashed first. */
kx_status kx__hostproc_deadline(struct io_hostproc *hp, const char *routine, uint32_t ms);

/* ---- hostsandbox.c: a host's user and seccomp profile ---------------------- */
struct io_hostsandbox {
    const char *args[8]; /* kx-host's arguments, NULL-terminated (point into this) */
    char uid[16], gid[16];
    char desc[160]; /* "runs as nobody (uid 65534, gid 65534), seccomp profile driver" */
};
/* Fills sb for d's host. STATUS_ACCESS_DENIED when p asks to keep root and
 * the manager does not allow it. */
kx_status kx__hostsandbox_args(const struct kx_io *io, const struct io_driver *d,
                               const struct kx_io_driver_params *p, struct io_hostsandbox *sb);

/* ---- driver.c, wd.c, klog.c, io.c -------------------------------------------- */
void kx__driver_unload_all(struct kx_io *io);
/* d's host process died (its requests are answered): unless a start or an
 * unload owns d, tears it down as a forced unload would, without calling
 * the host. Returns 1 if it did. */
int kx__driver_host_died(struct kx_io *io, struct io_driver *d);
kx_status kx__wd_start(struct kx_io *io);
void kx__wd_stop(struct kx_io *io);
void kx__wd_kick(struct kx_io *io);
/* Tells the watchdog about a new async deadline. */
static inline void kx__wd_note_deadline(struct kx_io *io, uint64_t deadline_ns)
{
    if (deadline_ns && deadline_ns < atomic_load_explicit(&io->wd.next_ns, memory_order_relaxed))
        kx__wd_kick(io);
}
kx_status kx__klog_init(struct kx_io *io, uint32_t lines);
void kx__klog_destroy(struct kx_io *io);
void kx__klog_add(struct kx_io *io, const char *source, const char *prefix, const char *text);
/* A manager report: to the logger and to the kernel log as "[IO] ...". */
void kx__io_report(struct kx_io *io, enum kx_log_level level, const char *source, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

/* ---- fault_set.c ------------------------------------------------------------ */
/* Counts the IRP m carries to dv against the fault rules and marks m with the
 * action of a rule that hits it. Any thread; takes fault_lock. */
void kx__fault_pick(struct kx_io *io, const struct io_device *dv, const struct io_driver *d,
                    struct io_msg_irp *m);
static inline void kx__fault_mark(struct kx_io *io, const struct io_device *dv,
                                  const struct io_driver *d, struct io_msg_irp *m)
{
    if (__builtin_expect(atomic_load_explicit(&io->n_faults, memory_order_relaxed) != 0, 0))
        kx__fault_pick(io, dv, d, m);
}

/* ---- event.c ---------------------------------------------------------------- */
kx_status kx__event_init(struct kx_io *io);
void kx__event_destroy(struct kx_io *io);
/* Under ns_lock: forgets d's registrations and timers (unload, host death). */
void kx__event_drop_driver(struct kx_io *io, const struct io_driver *d);

#endif /* KX_IO_INT_H */
