/* kmdf_host.c — the in-process driver host: the dispatch thread that owns a
 * driver's code (the seed's driver_init / irp_dispatch loop, run by the
 * framework instead of each driver), and the manager -> host messages.
 *
 * The thread ("kx-drv-<name>") pops records from its queue in order and runs
 * driver code for them, one routine at a time:
 *   K_INIT    DriverEntry(DriverObject); answers with its status and whether
 *             DriverUnload is set
 *   K_IRP     MajorFunction[major](DeviceObject, Irp), or the framework's
 *             default when the slot is empty
 *   K_CANCEL  a cancel routine the manager took for a pending IRP
 *   K_UNLOAD  DriverUnload(DriverObject)
 *   K_DEVREL  free a device object no open file needs any more
 *   K_EVENT   the event routine the driver registered (kmdf_event.c)
 *   K_STOP    leave the loop
 * When the queue runs dry it spins for a while (the next batch usually comes
 * within microseconds) and then sleeps on the queue's futex word. In a
 * kx-host it polls the transport instead (kx__host_set_idle): the records
 * it finds it dispatches itself, without a hop through the reader thread.
 *
 * Releases of IRP records are batched per pass through the queue, so the
 * pool's free list sees one push per batch, not one per IRP.
 */
#include "kmdf_int.h"

#include "core/plat.h"
#include "core/plat_sync.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local struct kx_host *tls_host;

struct kx_host *kx__host_current(void) { return tls_host; }

/* An idle dispatch thread spins before it sleeps, as long as spinning pays:
 * each spin that finds work doubles the next one (up to the maximum), each
 * that ends in sleep halves it (to nothing), so a stream of requests keeps it
 * awake and a driver asked now and then costs no CPU between requests. The
 * maximum is about what a sleep and a wake-up cost: that covers the next
 * record of a pipelined stream. It was 50 us, which a client's own round trip
 * (tens of us through kxd) kept "paying", so the thread spun through every
 * gap and took the CPU the client needed (issue 12). */
#define DISPATCH_SPIN_MAX_NS 5000u
#define DISPATCH_SPIN_MIN_NS 1000u
#define BATCH_FLUSH 64          /* records released per push to the pool */

static inline void busy_enter(struct kx_host *h, uint64_t id)
{
    atomic_store_explicit(&h->busy_irp, id, memory_order_relaxed);
    uint64_t s = atomic_load_explicit(&h->busy_seq, memory_order_relaxed);
    atomic_store_explicit(&h->busy_seq, s + 1, memory_order_release);
}

static inline void busy_leave(struct kx_host *h)
{
    uint64_t s = atomic_load_explicit(&h->busy_seq, memory_order_relaxed);
    atomic_store_explicit(&h->busy_seq, s + 1, memory_order_release);
    atomic_store_explicit(&h->busy_irp, 0, memory_order_relaxed);
}

static kx_status default_status(uint8_t major)
{
    /* Nothing to set up or undo: KMDF's defaults. Everything else is a
     * request the driver does not implement (the seed's rule). */
    return major == IRP_MJ_CREATE || major == IRP_MJ_CLEANUP || major == IRP_MJ_CLOSE
               ? STATUS_SUCCESS
               : STATUS_NOT_IMPLEMENTED;
}

/* Runs the routine for rec and ends the dispatch. */
static void dispatch(struct kx_host *h, struct io_irp *rec, struct io_relbatch *rb)
{
    struct host_irp *hi = host_irp_of(rec);
    IRP *irp = &hi->irp;
    uint8_t mj = irp->MajorFunction;
    PDRIVER_DISPATCH fn = mj <= IRP_MJ_MAXIMUM_FUNCTION ? h->obj.MajorFunction[mj] : NULL;
    uint32_t owner = atomic_load_explicit(&hi->owner_seq, memory_order_relaxed);
    kx_status st;
    busy_enter(h, hi->irp_id);
    if (__builtin_expect(rec->u.msg.fault != 0, 0) && kx__host_fault(h, rec, &st))
        ; /* the injected fault took the routine's place */
    else if (fn)
        st = fn(irp->DeviceObject, irp);
    else
        st = kx__host_complete(hi, default_status(mj), 0);
    busy_leave(h);
    if (atomic_load_explicit(&hi->owner_seq, memory_order_acquire) != owner) {
        kx__chan_irp_end(h->io, rec, rb); /* passed on with DkCallDriver: not ours any more */
        return;
    }
    uint32_t fl = atomic_load_explicit(&hi->flags, memory_order_acquire);
    if (h->def_set) { /* the usual way: the routine completed its own IRP */
        h->def_set = 0;
        uint64_t cookie = mj == IRP_MJ_CREATE ? (uint64_t)(uintptr_t)irp->FileContext : 0;
        kx__chan_irp_end_answer(h->io, rec, h->def_status, h->def_info, cookie, rb);
        return;
    }
    if (!(fl & (HI_COMPLETED | HI_PENDING)) && st != STATUS_PENDING) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "%s routine returned %s without completing or pending the IRP; completed "
                 "with STATUS_INTERNAL_ERROR",
                 kx__major_name(mj), kx_status_name(st));
        kx__chan_report(h->io, h->drv_id, msg);
        kx__host_complete(hi, STATUS_INTERNAL_ERROR, 0);
    }
    kx__chan_irp_end(h->io, rec, rb);
}

/* Builds the driver's IRP from the record's message (the unmarshalling step,
 * on the dispatch thread). */
static void build_view(struct io_irp *rec)
{
    const struct io_msg_irp *m = &rec->u.msg;
    struct host_irp *hi = host_irp_of(rec);
    IRP *irp = &hi->irp;
    memset(irp, 0, sizeof *irp);
    irp->Size = sizeof *irp;
    irp->MajorFunction = m->major;
    irp->DeviceObject = host_ptr(m->dev_cookie);
    /* The transport's bytes: small ones follow the message, so the line
     * holding the buffer pointer need not cross to this CPU. */
    irp->SystemBuffer = !m->in_len && !m->out_len ? NULL
                        : m->buf_inline            ? (void *)rec->u.inline_buf
                                                   : rec->buf;
    irp->FileContext = host_ptr(m->file_cookie);
    irp->Requestor.Pid = m->cred.pid;
    irp->Requestor.Uid = m->cred.uid;
    irp->Requestor.Gid = m->cred.gid;
    irp->IoStatus.Status = STATUS_PENDING;
    switch (m->major) {
    case IRP_MJ_CREATE: irp->Parameters.Create.DesiredAccess = m->access; break;
    case IRP_MJ_READ:
        irp->Parameters.Read.Length = m->out_len;
        irp->Parameters.Read.ByteOffset = m->offset;
        break;
    case IRP_MJ_WRITE:
        irp->Parameters.Write.Length = m->in_len;
        irp->Parameters.Write.ByteOffset = m->offset;
        break;
    case IRP_MJ_DEVICE_CONTROL:
        irp->Parameters.DeviceIoControl.IoControlCode = m->code;
        irp->Parameters.DeviceIoControl.InputBufferLength = m->in_len;
        irp->Parameters.DeviceIoControl.OutputBufferLength = m->out_len;
        break;
    case IRP_MJ_QUERY_INFORMATION:
        irp->Parameters.QueryFile.FileInformationClass = m->code;
        irp->Parameters.QueryFile.Length = m->out_len;
        break;
    default: break;
    }
    hi->magic = HOST_IRP_MAGIC;
    atomic_store_explicit(&hi->flags, 0, memory_order_relaxed);
    atomic_store_explicit(&hi->cancel, NULL, memory_order_relaxed);
    atomic_store_explicit(&hi->owner_seq, 0, memory_order_relaxed);
    hi->irp_id = m->irp_id;
    hi->host = ((struct host_device *)(void *)irp->DeviceObject)->host;
    rec->view_built = 1;
}

static struct host_device *device_by_cookie(struct kx_host *h, uint64_t cookie)
{
    struct host_device *found = NULL;
    pthread_mutex_lock(&h->lock);
    for (struct host_device *hd = h->devices; hd; hd = hd->next)
        if ((uint64_t)(uintptr_t)&hd->obj == cookie)
            found = hd;
    pthread_mutex_unlock(&h->lock);
    return found;
}

/* The submitter wrote the coming records moments ago on another CPU: start
 * pulling their lines in now, while this record's routine runs, instead of
 * missing on them one at a time: the state word for writing, the message
 * for reading (line 2, the rest of a longer payload, is left to the driver's
 * first read), and the lines of the IRP view built next for writing. */
static inline void prefetch_rec(const struct io_irp *r)
{
    const char *p = (const char *)r;
    kx_plat_prefetch_write(p);
    __builtin_prefetch(p + 64, 0, 3);
    for (size_t off = 0; off < KX_HOST_IRP_SIZE; off += 64)
        kx_plat_prefetch_write(p + offsetof(struct io_irp, host) + off);
}

static inline void prefetch_coming(struct io_queue *q)
{
    /* A record a few places on: a null routine runs faster than a line
     * crosses between CPUs. While the ring is that full, every record was
     * prefetched when it was that far; otherwise the next one is. */
    struct io_irp *far = kx__queue_peek(q, 3);
    if (!far)
        far = kx__queue_peek(q, 0);
    if (far)
        prefetch_rec(far);
}

/* Probe, then AddDevice, for one match; devices created meanwhile belong
 * to it. */
static kx_status add_device(struct kx_host *h, struct kx_io_provider *p, KX_PROVIDER *kp)
{
    kx_status st = STATUS_SUCCESS;
    h->cur_instance = p->instance;
    h->cur_nub = p->nub;
    if (h->obj.Probe) {
        int32_t score = p->score;
        st = h->obj.Probe(&h->obj, kp, &score);
        if (st == STATUS_SUCCESS)
            p->score = score;
        else
            st = STATUS_NO_SUCH_DEVICE; /* declined: the next candidate's turn */
    }
    if (st == STATUS_SUCCESS && h->obj.AddDevice)
        st = h->obj.AddDevice(&h->obj, kp);
    h->cur_instance = 0;
    h->cur_nub = 0;
    return st;
}

static void remove_device(struct kx_host *h, KX_PROVIDER *kp)
{
    /* RemoveDevice still sees its component bound, as AddDevice did; the
     * instance's device count goes with it. */
    h->cur_nub = kp->Nub;
    if (h->obj.RemoveDevice)
        h->obj.RemoveDevice(&h->obj, kp);
    h->cur_nub = 0;
    kx__host_component_forget(h, kp->Instance);
}

/* Deletes the driver's devices of instance still alive; returns how many. */
static size_t delete_instance_devices(struct kx_host *h, uint64_t instance)
{
    size_t n = 0;
    for (int again = 1; again;) {
        again = 0;
        for (DEVICE_OBJECT *d = h->obj.DeviceObject; d; d = d->NextDevice) {
            struct host_device *hd = (struct host_device *)(void *)d;
            if (hd->instance == instance && DkDeleteDevice(d) == STATUS_SUCCESS) {
                n++;
                again = 1; /* the list changed under us */
                break;
            }
        }
    }
    return n;
}

/* Returns 1 for K_STOP. */
static int handle(struct kx_host *h, struct io_irp *rec, struct io_relbatch *rb)
{
    struct kx_io *io = h->io;
    switch (rec->kind) {
    case K_IRP: {
        /* Built before begin() marks the IRP dispatched: a canceller that
         * sees that mark then finds a complete view. A forwarded IRP keeps
         * the view its first host built (retargeted). */
        if (!rec->view_built)
            build_view(rec);
        int b = kx__chan_irp_begin(io, rec, rb);
        if (!b)
            return 0;
        if (b == 2)
            atomic_fetch_or(&host_irp_of(rec)->flags, HI_CANCEL);
        dispatch(h, rec, rb);
        return 0;
    }
    case K_INIT: {
        atomic_store(&h->in_entry, 1);
        busy_enter(h, io_irp_id(rec, atomic_load(&rec->state)));
        kx_status st = rec->u.entry(&h->obj);
        busy_leave(h);
        atomic_store(&h->in_entry, 0);
        for (DEVICE_OBJECT *d = h->obj.DeviceObject; d; d = d->NextDevice)
            d->Flags &= ~DO_DEVICE_INITIALIZING;
        kx__chan_ctl_done(io, rec, st, h->obj.DriverUnload != NULL, rb);
        return 0;
    }
    case K_UNLOAD:
        if (h->obj.DriverUnload) {
            busy_enter(h, io_irp_id(rec, atomic_load(&rec->state)));
            h->obj.DriverUnload(&h->obj);
            busy_leave(h);
        }
        kx__chan_ctl_done(io, rec, STATUS_SUCCESS, 0, rb);
        return 0;
    case K_CANCEL: {
        struct io_irp *target = rec->u.cancel.target;
        struct host_irp *hi = host_irp_of(target);
        PDRIVER_CANCEL fn = (PDRIVER_CANCEL)rec->u.cancel.routine;
        if (fn == HOST_CANCEL_TAKEN) /* never posted; defensive */
            fn = NULL;
        busy_enter(h, io_irp_id(rec, atomic_load(&rec->state)));
        if (fn)
            fn(hi->irp.DeviceObject, &hi->irp);
        busy_leave(h);
        kx__chan_irp_end(io, target, rb); /* the reference kept for the routine */
        kx__chan_ctl_done(io, rec, STATUS_SUCCESS, 0, rb);
        return 0;
    }
    case K_ADDDEV:
    case K_REMOVEDEV: {
        const struct kx_io_provider *p = rec->u.provider;
        KX_PROVIDER kp = {sizeof kp,     p->nub,       p->instance,
                          p->ioclass,    p->personality, p->nub_class,
                          p->nub_name,   p->nub_location ? p->nub_location : ""};
        busy_enter(h, io_irp_id(rec, atomic_load(&rec->state)));
        kx_status st = rec->kind == K_ADDDEV ? add_device(h, rec->u.provider, &kp)
                                             : (remove_device(h, &kp), STATUS_SUCCESS);
        busy_leave(h);
        /* A failed AddDevice, or RemoveDevice, leaves nothing of the match. */
        size_t left = st == STATUS_SUCCESS && rec->kind == K_ADDDEV
                          ? 0
                          : delete_instance_devices(h, p->instance);
        if (left && rec->kind == K_REMOVEDEV) {
            char msg[160];
            snprintf(msg, sizeof msg, "RemoveDevice left %zu device(s) of %s on %s; deleted",
                     left, p->ioclass, p->nub_name);
            kx__chan_report(io, h->drv_id, msg);
        }
        kx__chan_ctl_done(io, rec, st, 0, rb);
        return 0;
    }
    case K_DEVREL: {
        struct host_device *hd = device_by_cookie(h, rec->u.dev_cookie);
        if (hd)
            kx__host_device_unref(hd);
        kx__chan_ctl_done(io, rec, STATUS_SUCCESS, 0, rb);
        return 0;
    }
    case K_EVENT:
        busy_enter(h, io_irp_id(rec, atomic_load(&rec->state)));
        kx__host_event_run(h, rec, rb);
        busy_leave(h);
        return 0;
    case K_STOP:
    default:
        kx__chan_ctl_done(io, rec, STATUS_SUCCESS, 0, rb);
        return 1;
    }
}

/* After K_STOP nothing should arrive; answer anything that did. */
static void drain(struct kx_host *h, struct io_relbatch *rb)
{
    struct io_irp *rec = NULL;
    int r;
    while ((r = kx__queue_pop(&h->q, &rec)) != IO_Q_EMPTY || !kx__queue_idle(&h->q)) {
        if (r != IO_Q_NODE) {
            kx_plat_cpu_relax();
            continue;
        }
        if (rec->kind == K_IRP) {
            if (!rec->view_built)
                build_view(rec);
            if (kx__chan_irp_begin(h->io, rec, rb)) {
                kx__host_complete(host_irp_of(rec), STATUS_DEVICE_REMOVED, 0);
                kx__chan_irp_end(h->io, rec, rb);
            }
        } else {
            if (rec->kind == K_CANCEL)
                kx__chan_irp_end(h->io, rec->u.cancel.target, rb);
            kx__chan_ctl_done(h->io, rec, STATUS_DEVICE_REMOVED, 0, rb);
        }
    }
}

/* Sleeps until a record is posted (the transport's reader posts them while
 * this thread sleeps). */
static void sleep_idle(struct kx_host *h)
{
    atomic_store_explicit(&h->q.sleeping, 1, memory_order_seq_cst);
    if (kx__queue_idle(&h->q))
        kx_plat_futex_wait(&h->q.sleeping, 1, 0);
    atomic_store_explicit(&h->q.sleeping, 0, memory_order_relaxed);
}

/* Whether a record waits in q: the dispatch thread's look while it spins,
 * without the run lock (only this thread moves the queue's head). */
static int queue_waiting(struct io_queue *q)
{
    return kx__queue_peek(q, 0) || atomic_load_explicit(&q->ovf_count, memory_order_relaxed);
}

static void *host_main(void *arg)
{
    struct kx_host *h = arg;
    char tname[16];
    snprintf(tname, sizeof tname, "kx-drv-%.8s", h->short_name); /* 15 characters at most */
    pthread_setname_np(pthread_self(), tname);
    tls_host = h;
    struct io_relbatch rb = {0};
    unsigned since_flush = 0;
    uint64_t spin_until = 0;
    unsigned spins = 0;
    int locked = 0;
    for (;;) {
        struct io_irp *rec = NULL;
        if (!locked) {
            pthread_mutex_lock(&h->run_lock);
            locked = 1;
        }
        int r = kx__queue_pop(&h->q, &rec);
        if (r == IO_Q_NODE) {
            prefetch_coming(&h->q);
            if (handle(h, rec, &rb))
                break;
            if (++since_flush == BATCH_FLUSH) {
                kx__chan_flush(h->io, &rb);
                since_flush = 0;
            }
            if (spin_until && h->max_spin_ns) /* the spin found work: worth more */
                h->spin_ns = h->spin_ns ? h->spin_ns * 2 : DISPATCH_SPIN_MIN_NS;
            if (h->spin_ns > h->max_spin_ns)
                h->spin_ns = h->max_spin_ns;
            spin_until = 0;
            spins = 0;
            continue;
        }
        if (r == IO_Q_RETRY) {
            kx_plat_cpu_relax();
            continue;
        }
        /* Empty: let kx__host_run_here in, give back what this pass
         * released, then spin, then sleep. Yield once at once: a waiter on
         * this CPU gets its answer now. */
        pthread_mutex_unlock(&h->run_lock);
        locked = 0;
        kx__chan_flush(h->io, &rb);
        since_flush = 0;
        kx_host_idle_fn idle = atomic_load_explicit(&h->idle, memory_order_acquire);
        if (idle) {
            if (idle(h->idle_arg))
                continue;
            sleep_idle(h);
            continue;
        }
        if (!spin_until && !spins) {
            atomic_store_explicit(&h->q.consumer_cpu, kx_plat_cpu(), memory_order_relaxed);
            kx_plat_yield();
        }
        /* Spin looking at the queue without the run lock: a ring thread
         * that finds it free runs its routines itself meanwhile
         * (kx__host_enter); a spinner that took it for every look kept
         * them out, then took their requests from the queue. */
        int found = 0;
        for (unsigned k = 0; k < 31 && !(found = queue_waiting(&h->q)); k++)
            kx_plat_cpu_relax();
        spins += 32;
        if (found)
            continue;
        kx_plat_yield(); /* a submitter may share this CPU (see kx__irp_wait) */
        atomic_store_explicit(&h->q.consumer_cpu, kx_plat_cpu(), memory_order_relaxed);
        uint64_t now = kx_plat_monotonic_ns();
        if (!spin_until)
            spin_until = now + h->spin_ns;
        if (now < spin_until)
            continue;
        /* The spin found nothing: spin less next time. */
        h->spin_ns = h->spin_ns / 2 < DISPATCH_SPIN_MIN_NS ? 0 : h->spin_ns / 2;
        atomic_store_explicit(&h->q.sleeping, 1, memory_order_seq_cst);
        if (kx__queue_idle(&h->q))
            kx_plat_futex_wait(&h->q.sleeping, 1, 0);
        atomic_store_explicit(&h->q.sleeping, 0, memory_order_relaxed);
        /* Woken soon after falling asleep: a spin would have caught it. */
        if (h->max_spin_ns && kx_plat_monotonic_ns() - now < h->max_spin_ns)
            h->spin_ns = h->spin_ns ? h->spin_ns * 2 : DISPATCH_SPIN_MIN_NS;
        if (h->spin_ns > h->max_spin_ns)
            h->spin_ns = h->max_spin_ns;
        spin_until = 0;
    }
    h->stopped = 1;
    drain(h, &rb);
    pthread_mutex_unlock(&h->run_lock);
    kx__chan_flush(h->io, &rb);
    tls_host = NULL;
    return NULL;
}

int kx__host_enter(struct kx_host *h)
{
    if (pthread_mutex_trylock(&h->run_lock) != 0)
        return 0;
    /* Under the lock the queue's consumer side is still: records queued
     * earlier would run after these, out of order. */
    if (h->stopped || !kx__queue_idle(&h->q)) {
        pthread_mutex_unlock(&h->run_lock);
        return 0;
    }
    return 1;
}

int kx__host_run_here(struct kx_host *h, struct io_irp **recs, size_t n)
{
    if (!kx__host_enter(h))
        return 0;
    kx__host_run_entered(h, recs, n);
    return 1;
}

void kx__host_run_entered(struct kx_host *h, struct io_irp **recs, size_t n)
{
    struct kx_host *outer = tls_host;
    tls_host = h; /* the routines' Dk* calls find their driver */
    struct io_relbatch rb = {0};
    for (size_t i = 0; i < n; i++)
        handle(h, recs[i], &rb);
    tls_host = outer;
    pthread_mutex_unlock(&h->run_lock);
    kx__chan_flush(h->io, &rb);
}

/* ==== manager -> host ===================================================== */

kx_status kx__host_new(struct kx_io *io, uint64_t drv_id, const char *full_name,
                       const char *short_name, const struct kx_driver_info *info,
                       struct kx_host **out)
{
    /* Cache-line aligned: the queue's fields sit on lines of their own. */
    struct kx_host *h = aligned_alloc(64, (sizeof *h + 63) & ~(size_t)63);
    if (!h)
        return STATUS_INSUFFICIENT_RESOURCES;
    memset(h, 0, sizeof *h);
    h->magic = HOST_MAGIC;
    h->io = io;
    h->drv_id = drv_id;
    snprintf(h->name, sizeof h->name, "%s", full_name);
    snprintf(h->short_name, sizeof h->short_name, "%s", short_name);
    h->info = *info;
    h->max_spin_ns = kx_plat_ncpus() > 1 ? DISPATCH_SPIN_MAX_NS : 0;
    h->spin_ns = h->max_spin_ns;
    h->obj.Size = sizeof h->obj;
    h->obj.DriverName = h->name;
    h->obj.DriverInfo = &h->info;
    if (kx__queue_init(&h->q)) {
        free(h);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    atomic_init(&h->in_entry, 0);
    atomic_init(&h->busy_seq, 0);
    atomic_init(&h->busy_irp, 0);
    if (pthread_mutex_init(&h->lock, NULL)) {
        kx__queue_destroy(&h->q);
        free(h);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (pthread_mutex_init(&h->run_lock, NULL)) {
        pthread_mutex_destroy(&h->lock);
        kx__queue_destroy(&h->q);
        free(h);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (pthread_create(&h->thread, NULL, host_main, h) != 0) {
        pthread_mutex_destroy(&h->run_lock);
        pthread_mutex_destroy(&h->lock);
        kx__queue_destroy(&h->q);
        free(h);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    *out = h;
    return STATUS_SUCCESS;
}

int kx__host_post(struct kx_host *h, struct io_irp **recs, size_t n)
{
    if (kx__queue_push(&h->q, recs, n) &&
        atomic_exchange_explicit(&h->q.sleeping, 0, memory_order_seq_cst))
        kx_plat_futex_wake(&h->q.sleeping, 1);
    return atomic_load_explicit(&h->q.consumer_cpu, memory_order_relaxed);
}

void kx__host_set_idle(struct kx_host *h, kx_host_idle_fn fn, void *arg)
{
    h->idle_arg = arg;
    atomic_store_explicit(&h->idle, fn, memory_order_release);
    /* A thread already asleep looks at the hook the next time it wakes. */
}

void kx__host_free(struct kx_host *h)
{
    pthread_join(h->thread, NULL);
    /* The driver is gone: give back proxies it still held, then free every
     * object it saw. */
    struct host_device *hd = h->devices;
    while (hd) {
        struct host_device *next = hd->next;
        if (hd->obj.Flags & DO_PROXY)
            kx__chan_unref_device(h->io, h->drv_id, hd->dev_id);
        free(hd);
        hd = next;
    }
    kx__host_events_free(h);
    kx__host_component_free_all(h);
    pthread_mutex_destroy(&h->run_lock);
    pthread_mutex_destroy(&h->lock);
    kx__queue_destroy(&h->q);
    free(h);
}

void kx__host_irp_retarget(struct io_irp *rec, uint64_t dev_cookie, uint64_t file_cookie)
{
    struct host_irp *hi = host_irp_of(rec);
    hi->irp.DeviceObject = host_ptr(dev_cookie);
    hi->irp.FileContext = host_ptr(file_cookie);
    hi->host = ((struct host_device *)(void *)hi->irp.DeviceObject)->host;
    /* The new owner starts with no pending mark and no cancel routine; a
     * requested cancellation stays requested. */
    atomic_fetch_and_explicit(&hi->flags, HI_CANCEL, memory_order_acq_rel);
    atomic_store_explicit(&hi->cancel, NULL, memory_order_release);
    atomic_fetch_add_explicit(&hi->owner_seq, 1, memory_order_release);
}

void kx__host_cancel_taken(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    (void)irp;
}

kx_host_fn kx__host_irp_cancel(struct io_irp *rec)
{
    struct host_irp *hi = host_irp_of(rec);
    atomic_fetch_or_explicit(&hi->flags, HI_CANCEL, memory_order_seq_cst);
    PDRIVER_CANCEL c = atomic_load_explicit(&hi->cancel, memory_order_seq_cst);
    while (c && c != HOST_CANCEL_TAKEN)
        if (atomic_compare_exchange_weak_explicit(&hi->cancel, &c, HOST_CANCEL_TAKEN,
                                                  memory_order_seq_cst, memory_order_seq_cst))
            return (kx_host_fn)c;
    return NULL;
}

uint64_t kx__host_busy_seq(struct kx_host *h)
{
    return atomic_load_explicit(&h->busy_seq, memory_order_acquire);
}

uint64_t kx__host_busy_irp(struct kx_host *h)
{
    return atomic_load_explicit(&h->busy_irp, memory_order_relaxed);
}

void kx__host_device_unref(struct host_device *hd)
{
    if (atomic_fetch_sub(&hd->refs, 1) != 1)
        return;
    struct kx_host *h = hd->host;
    pthread_mutex_lock(&h->lock);
    if (hd->prev)
        hd->prev->next = hd->next;
    else
        h->devices = hd->next;
    if (hd->next)
        hd->next->prev = hd->prev;
    pthread_mutex_unlock(&h->lock);
    free(hd);
}
