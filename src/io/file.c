/* file.c — handles: the handle table, opening (permission check, IRP_MJ_CREATE)
 * and closing the Windows way (cancel pending IRPs, IRP_MJ_CLEANUP, then
 * IRP_MJ_CLOSE when the last reference is gone).
 *
 * A handle is (generation << 32) | (slot + 1). Slots live in chunks that are
 * never freed before the manager, so submitters look a handle up without a
 * lock: they add references to the slot's gen_refs word only while its
 * generation matches, and the handle itself holds one reference. Each IRP of
 * the handle holds one more, so the file outlives its IRPs; when the count
 * drops to zero after close, whoever dropped it sends CLOSE (or frees the
 * slot if the driver never accepted the open).
 *
 * Close and submit race through `submitting`: a submitter announces itself,
 * then checks the state; close sets the state, then waits for announced
 * submitters to finish. Both sides are sequentially consistent, so every IRP
 * of the handle is either refused or visible to close's cancel scan.
 */
#include "io_int.h"

#include "core/plat.h"
#include "core/plat_sync.h"

#include <kx/kmdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct io_file *slot_at(struct kx_io *io, uint32_t idx)
{
    if (idx >= IO_MAX_FCHUNKS * IO_FCHUNK)
        return NULL;
    struct io_file *c =
        atomic_load_explicit(&io->ftab.chunks[idx / IO_FCHUNK], memory_order_acquire);
    return c ? &c[idx % IO_FCHUNK] : NULL;
}

/* Under ns_lock. */
static kx_status slot_alloc(struct kx_io *io, struct io_file **out)
{
    struct io_ftab *t = &io->ftab;
    if (!t->free) {
        if (t->n_chunks == IO_MAX_FCHUNKS)
            return STATUS_HANDLE_TABLE_FULL;
        struct io_file *c = calloc(IO_FCHUNK, sizeof *c);
        if (!c)
            return STATUS_INSUFFICIENT_RESOURCES;
        for (uint32_t i = IO_FCHUNK; i-- > 0;) {
            c[i].idx = t->n_chunks * IO_FCHUNK + i;
            c[i].io = io;
            atomic_init(&c[i].gen_refs, 0);
            atomic_init(&c[i].state, F_FREE);
            atomic_init(&c[i].submitting, 0);
            atomic_init(&c[i].slabs, 0);
            atomic_init(&c[i].driver_opened, 0);
            atomic_init(&c[i].n_ctx, 0);
            c[i].free_next = t->free;
            t->free = &c[i];
        }
        atomic_store_explicit(&t->chunks[t->n_chunks++], c, memory_order_release);
    }
    struct io_file *f = t->free;
    t->free = f->free_next;
    uint32_t gen = (uint32_t)(atomic_load_explicit(&f->gen_refs, memory_order_relaxed) >> 32) + 1;
    if (!gen)
        gen = 1;
    f->handle = ((uint64_t)gen << 32) | (f->idx + 1);
    f->open_seq = ++t->open_seq;
    f->dev = NULL;
    f->access = 0;
    memset(&f->cred, 0, sizeof f->cred);
    atomic_store_explicit(&f->driver_opened, 0, memory_order_relaxed);
    atomic_store_explicit(&f->n_ctx, 0, memory_order_relaxed);
    atomic_store_explicit(&f->submitting, 0, memory_order_relaxed);
    atomic_store_explicit(&f->slabs, 0, memory_order_relaxed);
    atomic_store_explicit(&f->state, F_OPENING, memory_order_relaxed);
    atomic_store_explicit(&f->gen_refs, ((uint64_t)gen << 32) | 1, memory_order_release);
    *out = f;
    return STATUS_SUCCESS;
}

static void file_free(struct kx_io *io, struct io_file *f)
{
    pthread_mutex_lock(&io->ns_lock);
    struct io_device *dv = f->dev;
    f->dev = NULL;
    atomic_store_explicit(&f->state, F_FREE, memory_order_release);
    f->free_next = io->ftab.free;
    io->ftab.free = f;
    if (dv) {
        dv->n_files--;
        kx__ns_device_unref(io, dv);
    }
    pthread_mutex_unlock(&io->ns_lock);
}

void kx__ftab_destroy(struct kx_io *io)
{
    for (uint32_t i = 0; i < io->ftab.n_chunks; i++)
        free(atomic_load(&io->ftab.chunks[i]));
}

struct io_file *kx__file_ref(struct kx_io *io, kx_io_handle h, uint32_t n)
{
    uint32_t lo = (uint32_t)h;
    struct io_file *f = lo ? slot_at(io, lo - 1) : NULL;
    if (!f)
        return NULL;
    uint64_t w = atomic_load_explicit(&f->gen_refs, memory_order_acquire);
    while ((uint32_t)(w >> 32) == (uint32_t)(h >> 32) && (uint32_t)w != 0)
        if (atomic_compare_exchange_weak_explicit(&f->gen_refs, &w, w + n, memory_order_seq_cst,
                                                  memory_order_acquire))
            return f;
    return NULL;
}

static void close_done(void *arg, kx_status st, size_t info)
{
    (void)st;
    (void)info;
    struct io_file *f = arg;
    file_free(f->io, f);
}

/* The last reference is gone: the handle was closed (or the open failed) and
 * the driver holds no IRP of it any more. */
static void last_ref(struct kx_io *io, struct io_file *f, int wait, int here)
{
    if (!atomic_load_explicit(&f->driver_opened, memory_order_acquire)) {
        file_free(io, f);
        return;
    }
    uint64_t deadline = kx__deadline(io, io->unload_timeout_ms, io->unload_timeout_ms);
    kx_status st = wait ? kx__send_file_irp(io, f, IRP_MJ_CLOSE, 0, deadline, NULL, NULL, here)
                        : kx__send_file_irp(io, f, IRP_MJ_CLOSE, 0, deadline, close_done, f, 0);
    if (st != STATUS_SUCCESS && st != STATUS_TIMEOUT && !wait) {
        file_free(io, f); /* the driver is gone: nobody to tell */
        return;
    }
    if (wait) {
        if (st == STATUS_TIMEOUT)
            kx__io_report(io, KX_LOG_WARN, "kx", "%s: IRP_MJ_CLOSE timed out", f->dev->name);
        file_free(io, f);
    }
}

void kx__file_unref(struct kx_io *io, struct io_file *f, uint32_t n)
{
    uint64_t w = atomic_fetch_sub_explicit(&f->gen_refs, n, memory_order_acq_rel);
    if ((uint32_t)w == n)
        last_ref(io, f, 0, 0);
}

uint64_t kx__file_cookie(struct io_file *f, uint64_t dev_id)
{
    uint32_t n = atomic_load_explicit(&f->n_ctx, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++)
        if (f->ctx[i].dev_id == dev_id)
            return f->ctx[i].cookie;
    return 0;
}

/* Called while the open's CREATE travels down the stack: one writer at a
 * time, and every reader comes after kx_io_open has returned. */
void kx__file_set_cookie(struct kx_io *io, struct io_file *f, uint64_t dev_id, uint64_t cookie)
{
    uint32_t n = atomic_load_explicit(&f->n_ctx, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++)
        if (f->ctx[i].dev_id == dev_id) {
            f->ctx[i].cookie = cookie;
            return;
        }
    if (!cookie)
        return;
    if (n == IO_FILE_CTX_MAX) {
        kx__io_report(io, KX_LOG_WARN, "kx", "%s: more than %d layers set a FileContext; ignored",
                      f->dev->name, IO_FILE_CTX_MAX);
        return;
    }
    f->ctx[n].dev_id = dev_id;
    f->ctx[n].cookie = cookie;
    atomic_store_explicit(&f->n_ctx, n + 1, memory_order_release);
}

/* Unix permission check with the group triplet (AxisOS never consulted it),
 * against the device policy's word if it has one. Caller holds ns_lock. */
static int mode_allows(const struct kx_io *io, const struct io_device *dv,
                       const struct kx_io_cred *c, uint32_t access)
{
    if (c->uid == 0)
        return 1;
    uint32_t uid, gid, mode;
    kx__policy_security(io, dv, &uid, &gid, &mode);
    uint32_t bits = c->uid == uid ? mode >> 6 : c->gid == gid ? mode >> 3 : mode;
    /* An open for no access (to query, or for FILE_ANY_ACCESS controls)
     * still needs some right to the device: a user who may neither read nor
     * write it learns nothing about it. */
    if (!access && !(bits & 6))
        return 0;
    if ((access & KX_IO_ACCESS_READ) && !(bits & 4))
        return 0;
    if ((access & KX_IO_ACCESS_WRITE) && !(bits & 2))
        return 0;
    return 1;
}

static kx_status open_file(struct kx_io *io, const char *path, const struct kx_io_cred *cred,
                           uint32_t access, uint32_t timeout_ms, kx_io_handle *out, int here)
{
    if (out)
        *out = 0;
    if (!io || !path || !cred || !out || (access & ~(KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE)))
        return STATUS_INVALID_PARAMETER;
    kx_status st = STATUS_SUCCESS;
    struct io_file *f = NULL;
    pthread_mutex_lock(&io->ns_lock);
    struct io_device *dv = kx__ns_resolve(io, path, &st);
    if (!dv)
        goto fail_locked;
    struct io_driver *d = dv->drv;
    if (atomic_load(&dv->is_deleted) || dv->removing || !d ||
        d->state == KX_IO_DRIVER_UNLOADING) {
        st = STATUS_DEVICE_REMOVED;
        goto fail_locked;
    }
    if (d->state == KX_IO_DRIVER_STARTING) {
        st = STATUS_DEVICE_NOT_READY;
        goto fail_locked;
    }
    if (atomic_load(&d->is_hung)) {
        st = STATUS_DRIVER_NOT_RESPONDING;
        goto fail_locked;
    }
    if (!mode_allows(io, dv, cred, access)) {
        st = STATUS_ACCESS_DENIED;
        goto fail_locked;
    }
    if ((st = slot_alloc(io, &f)) != STATUS_SUCCESS)
        goto fail_locked;
    f->dev = dv;
    dv->refs++;
    dv->n_files++;
    f->cred = *cred;
    f->access = access;
    pthread_mutex_unlock(&io->ns_lock);

    /* CREATE holds a reference of its own: if it times out and the driver
     * accepts the open later, the last reference then sends CLOSE. */
    st = kx__send_file_irp(io, f, IRP_MJ_CREATE, 1,
                           kx__deadline(io, timeout_ms, io->irp_timeout_ms), NULL, NULL, here);
    if (st == STATUS_SUCCESS) {
        /* Under ns_lock, so that an unload (which stops the driver accepting
         * under the same lock, then collects open handles) either sees this
         * handle open and closes it, or is seen here and fails the open. */
        pthread_mutex_lock(&io->ns_lock);
        if (d->state == KX_IO_DRIVER_RUNNING && !atomic_load(&dv->is_deleted) && !dv->removing) {
            atomic_store_explicit(&f->state, F_OPEN, memory_order_seq_cst);
            pthread_mutex_unlock(&io->ns_lock);
            *out = f->handle;
            return STATUS_SUCCESS;
        }
        pthread_mutex_unlock(&io->ns_lock);
        st = STATUS_DEVICE_REMOVED;
    }
    atomic_store_explicit(&f->state, F_CLOSED, memory_order_seq_cst);
    kx__file_unref(io, f, 1);
    return st;

fail_locked:
    pthread_mutex_unlock(&io->ns_lock);
    return st;
}

kx_status kx_io_open(struct kx_io *io, const char *path, const struct kx_io_cred *cred,
                     uint32_t access, uint32_t timeout_ms, kx_io_handle *out)
{
    return open_file(io, path, cred, access, timeout_ms, out, 0);
}

kx_status kx_io_open_here(struct kx_io *io, const char *path, const struct kx_io_cred *cred,
                          uint32_t access, uint32_t timeout_ms, kx_io_handle *out)
{
    return open_file(io, path, cred, access, timeout_ms, out, 1);
}

/* ---- close ------------------------------------------------------------- */

/* The file is compared first: only records of f are known to be fully
 * written (f's submitters have finished), others may be being filled. */
static int is_cancellable(struct io_irp *r, struct io_file *f)
{
    if (atomic_load_explicit(&r->file, memory_order_acquire) != f)
        return 0;
    return r->kind == K_IRP && r->major != IRP_MJ_CREATE && r->major != IRP_MJ_CLEANUP &&
           r->major != IRP_MJ_CLOSE &&
           !(atomic_load_explicit(&r->state, memory_order_acquire) & IRP_REQ_DONE);
}

static void cancel_one(struct kx_io *io, struct io_irp *r, void *arg)
{
    if (is_cancellable(r, arg))
        kx__irp_cancel(io, r);
}

static void count_one(struct kx_io *io, struct io_irp *r, void *arg)
{
    struct {
        struct io_file *f;
        size_t n;
    } *c = arg;
    (void)io;
    if (is_cancellable(r, c->f))
        c->n++;
}

static void force_one(struct kx_io *io, struct io_irp *r, void *arg)
{
    if (is_cancellable(r, arg))
        kx__irp_answer_if_first(io, r, STATUS_CANCELLED, 0, NULL);
}

static void revoke_one(struct kx_io *io, struct io_irp *r, void *arg)
{
    if (is_cancellable(r, arg))
        kx__irp_expire(io, r, STATUS_DEVICE_REMOVED);
}

kx_status kx__file_close(struct kx_io *io, kx_io_handle h, int revoke, int here)
{
    struct io_file *f = kx__file_ref(io, h, 1);
    if (!f)
        return STATUS_INVALID_HANDLE;
    int expect = F_OPEN;
    if (!atomic_compare_exchange_strong_explicit(&f->state, &expect, F_CLOSING,
                                                 memory_order_seq_cst, memory_order_seq_cst)) {
        kx__file_unref(io, f, 1);
        return STATUS_INVALID_HANDLE;
    }
    /* Submissions that passed their state check finish their push first. */
    while (atomic_load_explicit(&f->submitting, memory_order_seq_cst))
        kx_plat_yield();
    /* Every IRP of the handle holds a reference: with only the handle's and
     * ours left there is nothing to cancel, and the pool need not be
     * scanned — the usual close after the I/O is done. Otherwise only the
     * slabs the handle's requests came from are (seen after the wait above). */
    int has_irps = (uint32_t)atomic_load_explicit(&f->gen_refs, memory_order_seq_cst) > 2;
    uint64_t slabs = atomic_load_explicit(&f->slabs, memory_order_relaxed);
    if (revoke && has_irps) /* the device is going away under the handle */
        kx__irp_foreach_in(io, slabs, revoke_one, f);

    /* 1. Cancel: cancel routines run on the driver's thread; without one the
     * requester is answered STATUS_CANCELLED now. Past the deadline every
     * remaining request is answered, whatever the driver does. */
    uint64_t deadline = kx__deadline(io, io->unload_timeout_ms, io->unload_timeout_ms);
    if (has_irps)
        kx__irp_foreach_in(io, slabs, cancel_one, f);
    for (uint64_t nap = 10000; has_irps; nap = nap < 1000000 ? nap * 2 : nap) {
        struct {
            struct io_file *f;
            size_t n;
        } c = {f, 0};
        kx__irp_foreach_in(io, slabs, count_one, &c);
        if (!c.n)
            break;
        if (kx_plat_monotonic_ns() >= deadline) {
            kx__io_report(io, KX_LOG_WARN, f->dev->driver_name,
                          "%s: %zu request(s) not cancelled in time; answered STATUS_CANCELLED",
                          f->dev->name, c.n);
            kx__irp_foreach_in(io, slabs, force_one, f);
            break;
        }
        kx_plat_sleep_ns(nap);
    }

    /* 2. CLEANUP: the handle is gone (Windows: last handle closed). */
    kx_status st = kx__send_file_irp(
        io, f, IRP_MJ_CLEANUP, 1, kx__deadline(io, io->unload_timeout_ms, io->unload_timeout_ms),
        NULL, NULL, here);
    if (st == STATUS_TIMEOUT)
        kx__io_report(io, KX_LOG_WARN, f->dev->driver_name, "%s: IRP_MJ_CLEANUP timed out",
                      f->dev->name);
    atomic_store_explicit(&f->state, F_CLOSED, memory_order_seq_cst);

    /* 3. CLOSE: when the last reference goes. IRPs already answered may still
     * be on their way back from the driver's thread for a few microseconds;
     * wait for them so that CLOSE normally arrives before kx_io_close
     * returns. A driver that keeps an IRP past CLEANUP gets its CLOSE later,
     * from the thread that finally releases it. A revoked handle's driver is
     * going away: what it holds is released when it is gone. */
    deadline = kx__deadline(io, io->unload_timeout_ms, io->unload_timeout_ms);
    for (uint64_t nap = 2000; !revoke && (uint32_t)atomic_load(&f->gen_refs) > 2;
         nap = nap < 1000000 ? nap * 2 : nap) {
        if (kx_plat_monotonic_ns() >= deadline)
            break;
        kx_plat_sleep_ns(nap);
    }
    uint64_t w = atomic_fetch_sub_explicit(&f->gen_refs, 2, memory_order_acq_rel);
    if ((uint32_t)w == 2)
        last_ref(io, f, 1, here);
    return STATUS_SUCCESS;
}

kx_status kx_io_close(struct kx_io *io, kx_io_handle h)
{
    if (!io)
        return STATUS_INVALID_PARAMETER;
    return kx__file_close(io, h, 0, 0);
}

kx_status kx_io_close_here(struct kx_io *io, kx_io_handle h)
{
    if (!io)
        return STATUS_INVALID_PARAMETER;
    return kx__file_close(io, h, 0, 1);
}

/* ---- listings -----------------------------------------------------------
 * Handles change state without ns_lock (an open completes, a close begins),
 * so a walk never counts in one pass and fills in another: it copies what it
 * sees in one pass into storage it grows as it goes. */

static int is_handle(struct io_file *f)
{
    int s = atomic_load_explicit(&f->state, memory_order_acquire);
    return s == F_OPEN || s == F_CLOSING;
}

static int is_handle_of(struct io_file *f, const struct io_driver *d, uint64_t instance)
{
    return is_handle(f) && f->dev && (!d || f->dev->drv == d) &&
           (!instance || f->dev->instance == instance);
}

size_t kx__file_count(struct kx_io *io, const struct io_driver *d, const struct io_device *dv,
                      uint64_t instance, int holders_only)
{
    size_t n = 0;
    for (uint32_t c = 0; c < io->ftab.n_chunks; c++) {
        struct io_file *chunk = atomic_load(&io->ftab.chunks[c]);
        for (uint32_t i = 0; i < IO_FCHUNK; i++)
            n += is_handle_of(&chunk[i], d, instance) && (!dv || chunk[i].dev == dv) &&
                 (!holders_only || chunk[i].access);
    }
    return n;
}

struct seq_stat {
    uint64_t open_seq;
    struct kx_io_handle_stat s;
};

static int by_open_seq(const void *a, const void *b)
{
    const struct seq_stat *x = a, *y = b;
    return x->open_seq < y->open_seq ? -1 : x->open_seq > y->open_seq;
}

kx_status kx__file_snapshot(struct kx_io *io, const struct io_driver *d, uint64_t instance,
                            struct kx_io_handle_stat **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    struct seq_stat *arr = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t c = 0; c < io->ftab.n_chunks; c++) {
        struct io_file *chunk = atomic_load(&io->ftab.chunks[c]);
        for (uint32_t i = 0; i < IO_FCHUNK; i++) {
            struct io_file *f = &chunk[i];
            if (!is_handle_of(f, d, instance))
                continue;
            if (n == cap && kx__ns_grow((void **)&arr, &cap, n + 1, sizeof *arr)) {
                free(arr);
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            struct seq_stat *e = &arr[n++];
            memset(e, 0, sizeof *e);
            e->open_seq = f->open_seq;
            e->s.handle = f->handle;
            snprintf(e->s.device, sizeof e->s.device, "%s", f->dev->name);
            snprintf(e->s.driver, sizeof e->s.driver, "%s", f->dev->driver_name);
            e->s.cred = f->cred;
            e->s.access = f->access;
        }
    }
    if (!n)
        return STATUS_SUCCESS;
    qsort(arr, n, sizeof *arr, by_open_seq);
    struct kx_io_handle_stat *res = malloc(n * sizeof *res);
    if (!res) {
        free(arr);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    for (size_t i = 0; i < n; i++)
        res[i] = arr[i].s;
    free(arr);
    *out = res;
    *n_out = n;
    return STATUS_SUCCESS;
}

kx_status kx_io_list_handles(struct kx_io *io, kx_io_driver_id drv,
                             struct kx_io_handle_stat **out, size_t *n)
{
    if (!io || !out || !n)
        return STATUS_INVALID_PARAMETER;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = drv ? kx__ns_driver_by_id(io, drv) : NULL;
    kx_status st = drv && !d ? STATUS_SUCCESS : kx__file_snapshot(io, d, 0, out, n);
    pthread_mutex_unlock(&io->ns_lock);
    return st;
}

size_t kx_io_instance_handles(struct kx_io *io, uint64_t instance)
{
    if (!io || !instance)
        return 0;
    pthread_mutex_lock(&io->ns_lock);
    size_t n = kx__file_count(io, NULL, NULL, instance, 1);
    pthread_mutex_unlock(&io->ns_lock);
    return n;
}
