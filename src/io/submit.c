/* submit.c — turning requests into IRPs: checks, the system buffer, the
 * dispatch message, one queue push per batch; the synchronous calls on top;
 * and the internal IRPs (CREATE, CLEANUP, CLOSE) and control records the
 * manager itself sends.
 *
 * The fast path takes no lock: one compare-and-swap on the file's reference
 * word (for the whole batch), two on its `submitting` word, one pop per
 * record from the pool, one exchange on the driver's queue, and a futex wake
 * only if the dispatch thread had gone to sleep.
 */
#include "io_int.h"

#include "core/plat.h"

#include <kx/kmdf.h>
#include <string.h>

int kx__post(struct kx_io *io, struct io_driver *d, struct io_irp **recs, size_t n)
{
    (void)io;
    return d->proc ? kx__hostproc_post(d->proc, recs, n) : kx__host_post(d->host, recs, n);
}

static kx_status check_req(const struct io_file *f, const struct kx_io_req *q, int need_done)
{
    if (need_done && !q->done == !q->done_view)
        return STATUS_INVALID_PARAMETER;
    if (q->done_view && (!need_done || q->out || !q->out_len))
        return STATUS_INVALID_PARAMETER;
    if (q->out_buf && (!q->done_view || !q->out_release || q->op != IRP_MJ_READ))
        return STATUS_INVALID_PARAMETER;
    if (q->op > IRP_MJ_MAXIMUM_FUNCTION || q->op == IRP_MJ_CREATE || q->op == IRP_MJ_CLEANUP ||
        q->op == IRP_MJ_CLOSE)
        return STATUS_INVALID_PARAMETER;
    if (q->in_len > KX_IO_MAX_TRANSFER || q->out_len > KX_IO_MAX_TRANSFER ||
        (q->in_len && !q->in) || (q->out_len && !q->out && !q->done_view))
        return STATUS_INVALID_PARAMETER;
    switch (q->op) {
    case IRP_MJ_READ:
        if (q->in_len)
            return STATUS_INVALID_PARAMETER;
        return (f->access & KX_IO_ACCESS_READ) ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
    case IRP_MJ_WRITE:
        if (q->out_len)
            return STATUS_INVALID_PARAMETER;
        return (f->access & KX_IO_ACCESS_WRITE) ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
    case IRP_MJ_FLUSH_BUFFERS:
        return (f->access & KX_IO_ACCESS_WRITE) ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
    case IRP_MJ_DEVICE_CONTROL:
        /* Windows' rule: the handle must have been granted every access bit
         * the control code asks for, checked before the driver sees it. */
        if (METHOD_FROM_CTL_CODE(q->code) != METHOD_BUFFERED)
            return STATUS_NOT_SUPPORTED;
        if (ACCESS_FROM_CTL_CODE(q->code) & ~f->access)
            return STATUS_ACCESS_DENIED;
        return STATUS_SUCCESS;
    default:
        return STATUS_SUCCESS;
    }
}

/* Marshals a request into record r for device dv of file f. */
static kx_status fill(struct kx_io *io, struct io_irp *r, struct io_file *f, struct io_device *dv,
                      struct io_driver *d, const struct kx_io_req *q)
{
    /* A large buffer for a kx-host driver: one of its bulk slots, if free. */
    struct io_bulk *bulk = d->proc ? kx__hostproc_bulk(d->proc) : NULL;
    if (q->out_buf) { /* a READ: no input to copy, and the caller's bytes are not cleared */
        kx__irp_lend_buffer(r, q->out_buf, q->out_len, q->out_release, q->out_release_arg);
        kx__bulk_lend(bulk, r, q, 0);
    } else if (!kx__bulk_lend(bulk, r, q, !q->done_view)) {
        kx_status st = kx__irp_set_buffer(io, r, q->in, q->in_len, q->out_len, !q->done_view);
        if (st != STATUS_SUCCESS)
            return st;
    }
    r->major = q->op;
    r->holds_file = 1;
    r->req_out = q->out;
    r->req_out_len = q->out_len;
    r->has_out = q->out_len != 0;
    if (q->done_view)
        r->done_view = q->done_view;
    else
        r->done = q->done;
    r->done_arg = q->arg;
    uint64_t bit = kx__irp_slab_bit(r->idx);
    if (!(atomic_load_explicit(&f->slabs, memory_order_relaxed) & bit))
        atomic_fetch_or_explicit(&f->slabs, bit, memory_order_relaxed);
    atomic_store_explicit(&r->file, f, memory_order_relaxed);
    atomic_store_explicit(&r->dev, dv, memory_order_relaxed);
    atomic_store_explicit(&r->drv, d, memory_order_relaxed);
    r->u.msg = (struct io_msg_irp){
        .irp_id = io_irp_id(r, atomic_load_explicit(&r->state, memory_order_relaxed)),
        .dev_cookie = dv->host_cookie,
        .file_cookie = kx__file_cookie(f, dv->id),
        .major = q->op,
        .access = (uint8_t)f->access,
        .code = q->code,
        .offset = q->offset,
        .in_len = (uint32_t)q->in_len,
        .out_len = (uint32_t)q->out_len,
        .cred = f->cred,
        .buf_inline = r->buf == (void *)r->u.inline_buf,
    };
    kx__fault_mark(io, dv, d, &r->u.msg);
    return STATUS_SUCCESS;
}

/* The bytes n requests move, both ways. */
static uint64_t bytes_moved(const struct kx_io_req *reqs, size_t n)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += reqs[i].in_len + reqs[i].out_len;
    return bytes;
}

/* Checks, builds and queues n requests; with sync != NULL (n == 1) the
 * record is returned for the caller to wait on instead of having a done.
 * here: an in-process driver may run them on this thread (kx_io_submit_here). */
static kx_status submit(struct kx_io *io, kx_io_handle h, const struct kx_io_req *reqs, size_t n,
                        struct io_irp **sync, int *spin, int here)
{
    if (!io || !reqs || !n || n > KX_IO_MAX_BATCH)
        return STATUS_INVALID_PARAMETER;
    struct io_file *f = kx__file_ref(io, h, (uint32_t)n);
    if (!f)
        return STATUS_INVALID_HANDLE;
    kx_status st = STATUS_SUCCESS;
    for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++)
        st = check_req(f, &reqs[i], !sync);
    if (st != STATUS_SUCCESS) {
        kx__file_unref(io, f, (uint32_t)n);
        return st;
    }
    atomic_fetch_add_explicit(&f->submitting, 1, memory_order_seq_cst);
    struct io_device *dv = f->dev;
    struct io_driver *d = dv->drv;
    struct io_irp *recs[KX_IO_MAX_BATCH];
    if (atomic_load_explicit(&f->state, memory_order_seq_cst) != F_OPEN)
        st = STATUS_INVALID_HANDLE;
    else if (atomic_load_explicit(&dv->is_deleted, memory_order_acquire))
        st = STATUS_DEVICE_REMOVED;
    else if (!atomic_load_explicit(&d->accepting, memory_order_acquire))
        st = atomic_load(&d->is_hung) ? STATUS_DRIVER_NOT_RESPONDING : STATUS_DEVICE_REMOVED;
    else
        st = kx__irp_alloc(io, recs, n);
    if (st != STATUS_SUCCESS)
        goto fail;
    uint64_t now = 0, first_deadline = 0;
    for (size_t i = 0; i < n; i++) {
        if ((st = fill(io, recs[i], f, dv, d, &reqs[i])) != STATUS_SUCCESS) {
            kx__irp_discard(io, recs, n);
            goto fail;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (sync) {
            recs[i]->is_sync = 1;
            recs[i]->done = NULL; /* the waiter's answer fields share this space */
            continue;
        }
        if (reqs[i].timeout_ms == KX_IO_TIMEOUT_NONE)
            continue;
        if (!now)
            now = kx_plat_monotonic_ns();
        uint32_t ms = reqs[i].timeout_ms ? reqs[i].timeout_ms : io->irp_timeout_ms;
        uint64_t dl = now + (uint64_t)ms * 1000000u;
        /* Last write before the push: the watchdog reads the record after it. */
        atomic_store_explicit(&recs[i]->deadline_ns, dl, memory_order_release);
        if (!first_deadline || dl < first_deadline)
            first_deadline = dl;
    }
    if (sync) /* before the push: after it, the record may be answered at any moment */
        *sync = recs[0];
    /* Read before the push: after it, the record may be answered and reused
     * at any moment. */
    uint64_t last_id = recs[n - 1]->u.msg.irp_id;
    int cpu =
        here && !d->proc && kx__host_run_here(d->host, recs, n) ? -1 : kx__post(io, d, recs, n);
    /* Entered while this submission keeps the host from going (a close
     * waits for `submitting`), so hp outlives the turn. */
    struct io_hostproc *hp = kx__hostproc_enter(d->proc);
    atomic_fetch_sub_explicit(&f->submitting, 1, memory_order_release);
    if (hp && (sync || here)) /* answers without the reader's hop */
        kx__hostproc_await(hp, recs[n - 1], last_id, bytes_moved(reqs, n));
    else if (hp)
        kx__hostproc_collect(hp); /* earlier answers, without waking the reader */
    if (sync)
        *spin = kx__spin_worthwhile(io, cpu);
    kx__wd_note_deadline(io, first_deadline);
    return STATUS_SUCCESS;

fail:
    atomic_fetch_sub_explicit(&f->submitting, 1, memory_order_release);
    kx__file_unref(io, f, (uint32_t)n);
    return st;
}

kx_status kx_io_reap(struct kx_io *io, kx_io_handle h, size_t *n)
{
    size_t taken = 0;
    struct io_file *f = io ? kx__file_ref(io, h, 1) : NULL;
    if (!f)
        return STATUS_INVALID_HANDLE;
    /* As a submission: a close waits for it, so the host stays. */
    atomic_fetch_add_explicit(&f->submitting, 1, memory_order_seq_cst);
    struct io_hostproc *hp = atomic_load_explicit(&f->state, memory_order_seq_cst) == F_OPEN
                                 ? kx__hostproc_enter(f->dev->drv->proc)
                                 : NULL;
    atomic_fetch_sub_explicit(&f->submitting, 1, memory_order_release);
    if (hp)
        taken = kx__hostproc_collect(hp);
    kx__file_unref(io, f, 1);
    if (n)
        *n = taken;
    return STATUS_SUCCESS;
}

kx_status kx_io_submit(struct kx_io *io, kx_io_handle h, const struct kx_io_req *reqs, size_t n)
{
    return submit(io, h, reqs, n, NULL, NULL, 0);
}

kx_status kx_io_submit_here(struct kx_io *io, kx_io_handle h, const struct kx_io_req *reqs,
                            size_t n)
{
    return submit(io, h, reqs, n, NULL, NULL, 1);
}

kx_status kx_io_call(struct kx_io *io, kx_io_handle h, const struct kx_io_req *req,
                     size_t *information)
{
    if (information)
        *information = 0;
    if (!req)
        return STATUS_INVALID_PARAMETER;
    /* The deadline counts from before the submission. */
    uint64_t deadline = kx__deadline(io, req->timeout_ms, io ? io->irp_timeout_ms : 0);
    struct io_irp *r = NULL;
    int spin = 1;
    kx_status st = submit(io, h, req, 1, &r, &spin, 0);
    if (st != STATUS_SUCCESS)
        return st;
    return kx__irp_wait(io, r, deadline, req->out, req->out_len, information, spin);
}

kx_status kx_io_read(struct kx_io *io, kx_io_handle h, void *buf, size_t len, uint64_t offset,
                     uint32_t timeout_ms, size_t *n)
{
    struct kx_io_req q = {.op = KX_IO_OP_READ, .out = buf, .out_len = len, .offset = offset,
                          .timeout_ms = timeout_ms};
    return kx_io_call(io, h, &q, n);
}

kx_status kx_io_write(struct kx_io *io, kx_io_handle h, const void *buf, size_t len,
                      uint64_t offset, uint32_t timeout_ms, size_t *n)
{
    struct kx_io_req q = {.op = KX_IO_OP_WRITE, .in = buf, .in_len = len, .offset = offset,
                          .timeout_ms = timeout_ms};
    return kx_io_call(io, h, &q, n);
}

kx_status kx_io_ioctl(struct kx_io *io, kx_io_handle h, uint32_t code, const void *in,
                      size_t in_len, void *out, size_t out_len, uint32_t timeout_ms, size_t *n)
{
    struct kx_io_req q = {.op = KX_IO_OP_DEVICE_CONTROL, .code = code, .in = in,
                          .in_len = in_len, .out = out, .out_len = out_len,
                          .timeout_ms = timeout_ms};
    return kx_io_call(io, h, &q, n);
}

/* ---- IRPs and control records the manager sends itself ------------------ */

kx_status kx__send_file_irp(struct kx_io *io, struct io_file *f, uint8_t major, int hold_ref,
                            uint64_t deadline_ns, kx_io_done_fn done, void *arg, int here)
{
    struct io_irp *r;
    kx_status st = kx__irp_alloc(io, &r, 1);
    if (st != STATUS_SUCCESS)
        return st;
    struct io_device *dv = f->dev;
    r->major = major;
    r->holds_file = (uint8_t)hold_ref;
    r->done = done;
    r->done_arg = arg;
    r->is_sync = !done;
    if (hold_ref)
        atomic_fetch_add_explicit(&f->gen_refs, 1, memory_order_relaxed);
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = dv->drv;
    if (!d || (d->state != KX_IO_DRIVER_RUNNING && d->state != KX_IO_DRIVER_UNLOADING)) {
        pthread_mutex_unlock(&io->ns_lock);
        kx__irp_discard(io, &r, 1);
        if (hold_ref)
            kx__file_unref(io, f, 1);
        return STATUS_DEVICE_REMOVED;
    }
    atomic_store_explicit(&r->file, f, memory_order_relaxed);
    atomic_store_explicit(&r->dev, dv, memory_order_relaxed);
    atomic_store_explicit(&r->drv, d, memory_order_relaxed);
    r->u.msg = (struct io_msg_irp){
        .irp_id = io_irp_id(r, atomic_load_explicit(&r->state, memory_order_relaxed)),
        .dev_cookie = dv->host_cookie,
        .file_cookie = kx__file_cookie(f, dv->id),
        .major = major,
        .access = (uint8_t)f->access,
        .cred = f->cred,
    };
    /* CREATE counts; the CLEANUP and CLOSE the manager sends itself do not,
     * so a faulted handle can always be closed. */
    if (major == IRP_MJ_CREATE)
        kx__fault_mark(io, dv, d, &r->u.msg);
    if (done)
        atomic_store_explicit(&r->deadline_ns, deadline_ns, memory_order_release);
    /* Posted (or the host entered) under the lock so an unload that has just
     * stopped the driver cannot miss it. Run here only while the driver runs:
     * during an unload the manager's own CLEANUPs and CLOSEs keep the queue's
     * order. */
    if (here && !done && !d->proc && d->state == KX_IO_DRIVER_RUNNING && kx__host_enter(d->host)) {
        struct kx_host *host = d->host;
        pthread_mutex_unlock(&io->ns_lock);
        kx__host_run_entered(host, &r, 1);
        return kx__irp_wait(io, r, deadline_ns, NULL, 0, NULL, 1);
    }
    uint64_t id = r->u.msg.irp_id; /* before the push, as in submit() */
    int cpu = kx__post(io, d, &r, 1);
    struct io_hostproc *hp = done ? NULL : kx__hostproc_enter(d->proc);
    pthread_mutex_unlock(&io->ns_lock);
    if (done) {
        kx__wd_note_deadline(io, deadline_ns);
        return STATUS_SUCCESS;
    }
    if (hp)
        kx__hostproc_await(hp, r, id, 0); /* the answer, without the reader's hop */
    return kx__irp_wait(io, r, deadline_ns, NULL, 0, NULL, kx__spin_worthwhile(io, cpu));
}

kx_status kx__send_ctl(struct kx_io *io, struct io_driver *d, struct io_irp *r,
                       uint64_t deadline_ns, size_t *info)
{
    r->is_sync = 1;
    atomic_store_explicit(&r->drv, d, memory_order_relaxed);
    int cpu = kx__post(io, d, &r, 1);
    return kx__irp_wait(io, r, deadline_ns, NULL, 0, info, kx__spin_worthwhile(io, cpu));
}

kx_status kx__chan_forward(struct kx_io *io, uint64_t drv_id, uint64_t irp_id, uint64_t dev_id,
                           uint64_t file_cookie)
{
    (void)drv_id;
    uint64_t w;
    struct io_irp *r = kx__irp_lookup(io, irp_id, &w);
    if (!r || r->kind != K_IRP)
        return STATUS_INVALID_PARAMETER;
    if (w & IRP_DRV_DONE)
        return STATUS_REQUEST_ALREADY_COMPLETED;
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&io->ns_lock);
    struct io_device *dv = kx__ns_device_by_id(io, dev_id);
    struct io_driver *d = dv ? dv->drv : NULL;
    if (!dv)
        st = STATUS_NO_SUCH_DEVICE;
    else if (atomic_load(&dv->is_deleted) || !d ||
             (d->state != KX_IO_DRIVER_RUNNING && d->state != KX_IO_DRIVER_UNLOADING))
        st = STATUS_DEVICE_REMOVED;
    if (st != STATUS_SUCCESS) {
        pthread_mutex_unlock(&io->ns_lock);
        return st;
    }
    /* The caller owns r (it has not completed it), so its fields are stable. */
    struct io_file *f = atomic_load_explicit(&r->file, memory_order_relaxed);
    struct io_device *cur = atomic_load_explicit(&r->dev, memory_order_relaxed);
    if (f && r->major == IRP_MJ_CREATE)
        kx__file_set_cookie(io, f, cur->id, file_cookie);
    atomic_fetch_add_explicit(&r->state, IRP_REF, memory_order_relaxed); /* the new dispatch */
    atomic_store_explicit(&r->dev, dv, memory_order_relaxed);
    atomic_store_explicit(&r->drv, d, memory_order_release);
    /* The message names the new device, for a host that has not seen the IRP
     * yet; a host view already built (in-process) is retargeted too. */
    r->u.msg.dev_cookie = dv->host_cookie;
    r->u.msg.file_cookie = f ? kx__file_cookie(f, dv->id) : 0;
    r->u.msg.fault = 0; /* a fault acts once, in the first driver's host */
    if (r->view_built)
        kx__host_irp_retarget(r, dv->host_cookie, r->u.msg.file_cookie);
    kx__post(io, d, &r, 1);
    pthread_mutex_unlock(&io->ns_lock);
    return STATUS_SUCCESS;
}
