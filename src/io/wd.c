/* wd.c — the watchdog thread ("kx-io-wd"): answers asynchronous requests
 * whose deadline has passed (STATUS_TIMEOUT) and reports driver routines that
 * run longer than hang_ms. Once a tick it also trims the IRP pool after a
 * burst (kx__pool_trim).
 *
 * It sleeps until the earliest deadline it knows of, or one tick (hang_ms/4,
 * 1 ms..1 s), whichever is sooner. A submitter whose deadline is earlier than
 * `next_ns` kicks it; while it scans, next_ns is UINT64_MAX so a request
 * submitted mid-scan kicks it again instead of being overlooked. Synchronous
 * waiters enforce their own deadlines and are not its business.
 *
 * Deadlines are found by scanning the pool; no per-IRP timer is inserted on
 * the fast path. XXX(#3): a timer wheel if pools of millions of IRPs with
 * spread-out deadlines ever make the scan show up.
 *
 * A hung routine: the host counts routine entries and exits (odd = inside);
 * the same odd count seen for hang_ms means hung. The driver stops accepting
 * requests (STATUS_DRIVER_NOT_RESPONDING), the IRP in the routine and every IRP
 * still queued to it are answered STATUS_TIMEOUT, and the rest of the system
 * carries on. When the routine returns the driver is reported recovered.
 * A host process is killed instead (hostwatch.c: a stall, or a missed
 * heartbeat when idle): its requests are answered
 * STATUS_DRIVER_NOT_RESPONDING and it is cleaned up as any dead host.
 */
#include "io_int.h"

#include "core/plat.h"
#include "core/plat_sync.h"

#include <stdlib.h>
#include <string.h>

void kx__wd_kick(struct kx_io *io)
{
    atomic_fetch_add_explicit(&io->wd.word, 1, memory_order_seq_cst);
    kx_plat_futex_wake(&io->wd.word, 1);
}

/* Returns the earliest pending async deadline after now (UINT64_MAX: none). */
static uint64_t expire(struct kx_io *io, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    uint32_t n = atomic_load_explicit(&io->pool.n_slabs, memory_order_acquire);
    for (uint32_t i = 0; i < n * IO_SLAB_SIZE; i++) {
        if (!(i & (IO_SLAB_SIZE - 1)) && !kx__pool_slab_live(io, i >> IO_SLAB_SHIFT)) {
            i += IO_SLAB_SIZE - 1; /* discarded: nothing in flight there */
            continue;
        }
        struct io_irp *r = kx__irp_at(io, i);
        uint64_t w = atomic_load_explicit(&r->state, memory_order_acquire);
        if (!(w & IRP_REF_MASK) || (w & IRP_REQ_DONE))
            continue;
        uint64_t dl = atomic_load_explicit(&r->deadline_ns, memory_order_acquire);
        if (!dl)
            continue;
        if (dl > now) {
            if (dl < next)
                next = dl;
            continue;
        }
        if (!kx__irp_tryref(r, w))
            continue;
        /* Still the same incarnation, so its deadline is the one we read. */
        kx__irp_expire(io, r, STATUS_TIMEOUT);
        kx__irp_unref(io, r, 1, NULL);
    }
    return next;
}

struct hung_scan {
    struct io_driver *d;
    uint64_t busy_irp;
};

static void answer_hung(struct kx_io *io, struct io_irp *r, void *arg)
{
    struct hung_scan *h = arg;
    if (atomic_load_explicit(&r->drv, memory_order_acquire) != h->d || r->kind != K_IRP)
        return;
    uint64_t w = atomic_load_explicit(&r->state, memory_order_acquire);
    if ((w & IRP_DISPATCHED) && io_irp_id(r, w) != h->busy_irp)
        return; /* pended earlier; the driver may still complete it */
    kx__irp_expire(io, r, STATUS_TIMEOUT);
}

static const char *busy_what(struct kx_io *io, uint64_t id)
{
    uint64_t w;
    struct io_irp *r = id ? kx__irp_lookup(io, id, &w) : NULL;
    if (!r)
        return "a routine";
    switch (r->kind) {
    case K_INIT: return "DriverEntry";
    case K_UNLOAD: return "DriverUnload";
    case K_ADDDEV: return "Probe or AddDevice";
    case K_REMOVEDEV: return "RemoveDevice";
    case K_CANCEL: return "a cancel routine";
    case K_IRP: return kx__major_name(r->major);
    default: return "a routine";
    }
}

struct hang_event {
    struct io_driver *d;
    uint64_t irp, ms;
    int hung; /* 1 newly hung, -1 recovered, 2 a host process killed */
    char what[160];
};

static void check_hangs(struct kx_io *io, uint64_t now)
{
    struct hang_event ev[16];
    size_t n_ev = 0;
    uint64_t hang_ns = (uint64_t)io->hang_ms * 1000000u;
    pthread_mutex_lock(&io->ns_lock);
    for (size_t i = 0; i < io->n_drivers && n_ev < 16; i++) {
        struct io_driver *d = io->drivers[i];
        if (d->proc && d->state == KX_IO_DRIVER_RUNNING) {
            /* Starts and unloads have deadlines of their own. */
            struct hang_event *e = &ev[n_ev];
            if ((e->ms = kx__hostproc_watch(d->proc, now, hang_ns, e->what, sizeof e->what)) ||
                (e->ms = kx__hostproc_heartbeat(d->proc, now, hang_ns, e->what, sizeof e->what))) {
                e->d = d;
                e->hung = 2;
                atomic_store(&d->is_hung, 1); /* until it is gone: NOT_RESPONDING */
                atomic_store(&d->accepting, 0);
                n_ev++;
            }
            continue;
        }
        if (!d->host)
            continue;
        uint64_t seq = kx__host_busy_seq(d->host);
        if (!(seq & 1)) {
            d->wd_seq = seq;
            if (atomic_load(&d->is_hung))
                ev[n_ev++] = (struct hang_event){d, 0, (now - d->wd_since_ns) / 1000000u, -1, ""};
            continue;
        }
        if (seq != d->wd_seq) {
            d->wd_seq = seq;
            d->wd_since_ns = now;
        } else if (now - d->wd_since_ns >= hang_ns && d->wd_reported_seq != seq) {
            d->wd_reported_seq = seq;
            ev[n_ev++] = (struct hang_event){d, kx__host_busy_irp(d->host),
                                             (now - d->wd_since_ns) / 1000000u, 1, ""};
        }
    }
    pthread_mutex_unlock(&io->ns_lock);

    /* Driver records are retired, never freed, so d stays valid here. */
    for (size_t i = 0; i < n_ev; i++) {
        struct io_driver *d = ev[i].d;
        if (ev[i].hung == 2) { /* its death is reported when the reader sees it */
            kx__io_report(io, KX_LOG_ERROR, d->short_name,
                          "%s: driver not responding; its host process is killed", ev[i].what);
            continue;
        }
        if (ev[i].hung < 0) {
            /* Said first: whoever sees the driver take work again finds it
             * in the log. */
            kx__io_report(io, KX_LOG_WARN, d->short_name, "recovered: the routine returned");
            atomic_store(&d->is_hung, 0);
            pthread_mutex_lock(&io->ns_lock);
            if (d->state == KX_IO_DRIVER_RUNNING)
                atomic_store(&d->accepting, 1);
            pthread_mutex_unlock(&io->ns_lock);
            continue;
        }
        atomic_store(&d->is_hung, 1);
        atomic_store(&d->accepting, 0);
        kx__io_report(io, KX_LOG_ERROR, d->short_name,
                      "%s has not returned after %llu ms: driver not responding",
                      busy_what(io, ev[i].irp), (unsigned long long)ev[i].ms);
        struct hung_scan h = {d, ev[i].irp};
        kx__irp_foreach(io, answer_hung, &h);
    }
}

static void *wd_main(void *arg)
{
    struct kx_io *io = arg;
    pthread_setname_np(pthread_self(), "kx-io-wd");
    uint64_t trim_at = 0; /* once a tick: a trim takes the whole free list */
    while (!atomic_load(&io->wd.stop)) {
        uint32_t seq = atomic_load_explicit(&io->wd.word, memory_order_seq_cst);
        atomic_store_explicit(&io->wd.next_ns, UINT64_MAX, memory_order_seq_cst);
        uint64_t now = kx_plat_monotonic_ns();
        uint64_t next = expire(io, now);
        check_hangs(io, now);
        if (now >= trim_at) {
            kx__pool_trim(io);
            kx__buf_trim(io);
            trim_at = now + io->wd.tick_ns;
        }
        if (next > now + io->wd.tick_ns)
            next = now + io->wd.tick_ns;
        atomic_store_explicit(&io->wd.next_ns, next, memory_order_seq_cst);
        kx_plat_futex_wait(&io->wd.word, seq, next);
    }
    return NULL;
}

kx_status kx__wd_start(struct kx_io *io)
{
    atomic_init(&io->wd.word, 0);
    atomic_init(&io->wd.stop, 0);
    atomic_init(&io->wd.next_ns, UINT64_MAX);
    uint64_t tick_ms = io->hang_ms / 4;
    if (tick_ms < 1)
        tick_ms = 1;
    if (tick_ms > 1000)
        tick_ms = 1000;
    io->wd.tick_ns = tick_ms * 1000000u;
    if (pthread_create(&io->wd.thread, NULL, wd_main, io) != 0)
        return STATUS_INSUFFICIENT_RESOURCES;
    io->wd.started = 1;
    return STATUS_SUCCESS;
}

void kx__wd_stop(struct kx_io *io)
{
    if (!io->wd.started)
        return;
    atomic_store(&io->wd.stop, 1);
    kx__wd_kick(io);
    pthread_join(io->wd.thread, NULL);
    io->wd.started = 0;
}
