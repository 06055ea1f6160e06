/* host.h — the line between the I/O manager and a driver host.
 *
 * A host runs one driver instance: it owns the objects the driver sees
 * (DRIVER_OBJECT, DEVICE_OBJECTs, IRPs; src/host/kmdf_host.c) and the driver's
 * dispatch thread. The manager owns names, handles and the IRP state machine
 * (src/io/io_int.h; the record itself: irp_rec.h). They talk in messages
 * made of ids, names, statuses and byte counts, in two directions:
 *
 *   manager -> host  kx__host_*: start, post a batch of records to the
 *                    dispatch queue (IRPs and control messages), prepare or
 *                    retarget an IRP's host view, take a cancel routine.
 *   host -> manager  kx__chan_*: create/delete devices and links, device
 *                    security, complete and forward IRPs, print.
 *
 * In kxd both sides live in one process and a message is a function call;
 * the queue node and the host's IRP view sit inside the manager's pool record
 * so an IRP costs one allocation. In a kx-host process (src/host/host_main.c)
 * the host side is the same code, and the kx__chan_* functions below are
 * implemented over the transport (src/host/chan_proc.c, records in
 * host_proto.h); there the `struct kx_io *` they are handed is the process's
 * transport endpoint, never a manager. On the manager's side, a driver in a
 * host process is reached through src/io/hostproc.c instead of kx__host_*.
 */
#ifndef KX_IO_HOST_H
#define KX_IO_HOST_H

#include <kx/io.h>
#include <stddef.h>
#include <stdint.h>

struct kx_io;
struct kx_host;
struct io_irp;
struct io_relbatch;

/* Size reserved in each pool record for the host's view of the IRP. */
#define KX_HOST_IRP_SIZE 192

/* The dispatch message: what a driver learns about a request. The manager
 * writes it into the record (io_irp.msg, a ring slot in a separate host);
 * the dispatch thread builds its IRP from it, so the lines holding the
 * driver's view of the IRP never travel between CPUs. */
struct io_msg_irp {
    uint64_t irp_id;
    uint64_t dev_cookie;  /* the host's device, as given to kx__chan_create_device */
    uint64_t file_cookie; /* FileContext of this open for that device */
    uint64_t offset;
    uint32_t code;        /* DEVICE_CONTROL code, QUERY_INFORMATION class */
    uint32_t in_len, out_len; /* at most KX_IO_MAX_TRANSFER; the bytes are the
                               * record's system buffer (a ring's data area later) */
    struct kx_io_cred cred;
    uint8_t major;
    uint8_t access;       /* CREATE: granted access */
    uint8_t buf_inline;   /* the bytes sit right after the message (in-process transport) */
    uint8_t fault;        /* enum kx_fault_action the host carries out first (0: none) */
    uint32_t fault_arg;   /* its status (fail) or milliseconds (delay) */
};
_Static_assert(sizeof(struct io_msg_irp) <= 64, "the dispatch message fills one cache line");

/* An event record (K_EVENT, issue 14): the name, the source and the payload
 * follow each other in the record's buffer (name and source NUL-terminated). */
struct io_msg_event {
    uint64_t seq;
    uint32_t name_len, source_len, data_len; /* name_len, source_len count the NUL */
};

/* The KPI org.kx.kpi.kmdf as a table (kmdf.c), NULL-terminated: what a
 * driver may import. data/exports/kmdf.exports lists the same names. */
struct kx_kpi_symbol {
    const char *name;
    void (*fn)(void);
};
extern const struct kx_kpi_symbol kx__kmdf_symbols[];

/* ---- manager -> host -------------------------------------------------- */

/* Creates the host for driver drv_id and starts its dispatch thread (named
 * after short_name). The thread waits for records posted to it. */
kx_status kx__host_new(struct kx_io *io, uint64_t drv_id, const char *full_name,
                       const char *short_name, const struct kx_driver_info *info,
                       struct kx_host **out);

/* Queues recs[0..n), in order, for the dispatch thread, waking it if it
 * sleeps. Any thread. Returns the CPU the dispatch thread last ran on (-1 if
 * unknown): a waiter sharing it should yield, not spin. */
int kx__host_post(struct kx_host *h, struct io_irp **recs, size_t n);

/* Runs recs[0..n) (K_IRP records) on the calling thread, now, when the
 * dispatch thread is idle and nothing is queued before them: returns 1 then,
 * 0 (nothing done; post them) otherwise. The driver's routines still never
 * run two at a time: both sides hold the host's run lock while driver code
 * runs. For a thread that holds no lock and may wait as long as a routine
 * takes. */
int kx__host_run_here(struct kx_host *h, struct io_irp **recs, size_t n);

/* kx__host_run_here in two steps, for a caller that must decide under a lock
 * of its own (the manager's ns_lock, which driver code takes: so only a
 * try): enter returns 1 with the run lock held when the routines could run
 * here now; run_entered then runs them and lets go of the lock. */
int kx__host_enter(struct kx_host *h);
void kx__host_run_entered(struct kx_host *h, struct io_irp **recs, size_t n);

/* Joins the dispatch thread (after a K_STOP record was posted) and frees the
 * host and every object the driver saw. Blocks until the thread returns. */
void kx__host_free(struct kx_host *h);


/* A forwarded IRP: it now addresses dev_cookie with that device's file cookie;
 * its pending/forwarded marks start afresh for the new owner. */
void kx__host_irp_retarget(struct io_irp *rec, uint64_t dev_cookie, uint64_t file_cookie);

/* A host routine the manager carries without calling it (a taken cancel
 * routine, passed back to the host in a K_CANCEL record). */
typedef void (*kx_host_fn)(void);

/* Requests cancellation: sets the IRP's cancel flag and takes its cancel
 * routine if one is set. Returns the routine, or NULL when none was set.
 * Any thread. */
kx_host_fn kx__host_irp_cancel(struct io_irp *rec);

/* Watchdog view: the number of routine entries and exits so far (odd while
 * driver code runs) and the id of the IRP being dispatched (0 if none). */
uint64_t kx__host_busy_seq(struct kx_host *h);
uint64_t kx__host_busy_irp(struct kx_host *h);

/* "READ", "DEVICE_CONTROL", ...: a major function's name for messages, on
 * either side (major.c). */
const char *kx__major_name(uint8_t major);

/* ---- host -> manager (the channel) -------------------------------------
 * drv_id names the calling driver; every call checks it is still registered
 * (STATUS_INVALID_DRIVER_OBJECT otherwise). */

/* instance: the match the device belongs to (0: none; see kmdf.h). */
kx_status kx__chan_create_device(struct kx_io *io, uint64_t drv_id, const char *name,
                                 uint64_t cookie, uint64_t instance, uint64_t *dev_id);
/* Moves a device of the driver into instance (DkAttachDevice). */
kx_status kx__chan_bind_device(struct kx_io *io, uint64_t drv_id, uint64_t dev_id,
                               uint64_t instance);
/* A registry request (kx_io_reg_fn): passed to the registry's owner. */
kx_status kx__chan_registry(struct kx_io *io, uint64_t drv_id, const struct kx_io_reg_req *req,
                            uint64_t *out_id, void **out, size_t *out_len);
kx_status kx__chan_delete_device(struct kx_io *io, uint64_t drv_id, uint64_t dev_id);
kx_status kx__chan_set_security(struct kx_io *io, uint64_t drv_id, uint64_t dev_id, uint32_t uid,
                                uint32_t gid, uint32_t mode);
kx_status kx__chan_create_link(struct kx_io *io, uint64_t drv_id, const char *link,
                               const char *target);
kx_status kx__chan_delete_link(struct kx_io *io, uint64_t drv_id, const char *link);
/* DkSetDeviceReady and DkSetDeviceControlCodes (ready.c). Any thread. */
kx_status kx__chan_set_ready(struct kx_io *io, uint64_t drv_id, uint64_t dev_id, uint32_t events);
kx_status kx__chan_set_controls(struct kx_io *io, uint64_t drv_id, uint64_t dev_id,
                                const struct kx_io_control_decl *decls, size_t n);
/* A reference to another device (a proxy): its id and canonical name. */
kx_status kx__chan_ref_device(struct kx_io *io, uint64_t drv_id, const char *name,
                              uint64_t *dev_id, char canonical[KX_IO_NAME_MAX]);
void kx__chan_unref_device(struct kx_io *io, uint64_t drv_id, uint64_t dev_id);

/* The driver's result for an IRP. file_cookie is the FileContext a CREATE
 * leaves behind (ignored for other majors). STATUS_SUCCESS;
 * STATUS_REQUEST_ALREADY_COMPLETED (logged) when the id is not a live,
 * uncompleted IRP. (A routine completing the IRP it was called for does not
 * send this: its result travels with the end of the dispatch.) */
kx_status kx__chan_complete(struct kx_io *io, uint64_t irp_id, kx_status status,
                            uint64_t information, uint64_t file_cookie);
/* Passes a live IRP to device dev_id; file_cookie is the caller's FileContext
 * (kept for the caller's device when the IRP is a CREATE). */
kx_status kx__chan_forward(struct kx_io *io, uint64_t drv_id, uint64_t irp_id, uint64_t dev_id,
                           uint64_t file_cookie);
/* A kernel log line from the driver (text without the "[DK] " prefix). */
void kx__chan_print(struct kx_io *io, uint64_t drv_id, const char *text);
/* A driver bug the host noticed (a routine that neither completed nor pended
 * its IRP, a completion after release): logged and kept in the kernel log. */
void kx__chan_report(struct kx_io *io, uint64_t drv_id, const char *text);

/* Events (src/io/event.c): a driver's subscription to name (is_on 0: its
 * end), and its timer (due_ms UINT32_MAX: cancel). STATUS_SUCCESS;
 * STATUS_EVENT_LIMIT; STATUS_EVENT_NOT_REGISTERED. Any thread. */
kx_status kx__chan_event_register(struct kx_io *io, uint64_t drv_id, const char *name, int is_on);
kx_status kx__chan_event_timer(struct kx_io *io, uint64_t drv_id, const char *name, uint32_t due_ms,
                               uint32_t period_ms);

/* Dispatch bracket, in-process only: before calling a routine for a record
 * the host asks whether the IRP is still wanted (0: its requester was already
 * answered before dispatch; the manager has let go of it and the host skips
 * it); after the routine returns it ends the dispatch, which may release it
 * into rb (flushed by kx__chan_flush). */
/* Returns 0 to skip, 1 to dispatch, 2 to dispatch an IRP already cancelled. */
int kx__chan_irp_begin(struct kx_io *io, struct io_irp *rec, struct io_relbatch *rb);
void kx__chan_irp_end(struct kx_io *io, struct io_irp *rec, struct io_relbatch *rb);
/* Ends a dispatch whose routine completed the IRP it was called for: the
 * completion, the answer to the requester (unless a deadline or cancel came
 * first) and the release of the dispatch's references, in one step. This
 * lets the dispatch thread let go of the record before the requester touches
 * it. Reports a completion that another thread made meanwhile. */
void kx__chan_irp_end_answer(struct kx_io *io, struct io_irp *rec, kx_status status,
                             uint64_t information, uint64_t file_cookie,
                             struct io_relbatch *rb);
/* A control record (init, unload, cancel, device release) has been handled:
 * status and information go back to whoever posted it. */
void kx__chan_ctl_done(struct kx_io *io, struct io_irp *rec, kx_status status, uint64_t info,
                       struct io_relbatch *rb);
void kx__chan_flush(struct kx_io *io, struct io_relbatch *rb);

#endif /* KX_IO_HOST_H */
