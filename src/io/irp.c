/* irp.c — IRP records: the pool, references, the state word, answering the
 * requester exactly once, waiting for an answer, cancellation, and the
 * completion messages a host sends about them.
 *
 * Records live in slabs that stay mapped until the manager goes, so any
 * thread may read a record it holds no reference to (the watchdog and close
 * scan the pool) and a stale id is harmless: the generation in the state word
 * no longer matches. After a burst, trimming gives a wholly free slab's memory
 * back (it then reads as zeros: no references) and remembers its generations
 * for when it is revived. The free list is a Treiber stack whose head carries
 * a tag against ABA. Nothing here takes a lock except slab growth and trim.
 *
 * Answer protocol: whoever sets REQ_DONE first answers (the driver's
 * completion, a deadline, a cancel, a hang, an unload); everyone else's result
 * is absorbed. An async requester's completion runs on the answering thread;
 * a synchronous waiter is woken through `wake` (0 waiting, 1 asleep, 2
 * answered), with a futex only if it actually went to sleep.
 */
#include "io_int.h"

#include "core/plat.h"
#include "core/plat_mem.h"
#include "core/plat_sync.h"

#include <kx/kmdf.h>
#include <stdlib.h>
#include <string.h>

static inline uint64_t refs_of(uint64_t w) { return w & IRP_REF_MASK; }
static inline uint32_t gen_of(uint64_t w) { return (uint32_t)(w >> IRP_GEN_SHIFT); }

/* ==== pool ================================================================ */

kx_status kx__pool_init(struct kx_io *io)
{
    atomic_init(&io->pool.free_head, 0);
    atomic_init(&io->pool.n_slabs, 0);
    atomic_init(&io->pool.n_live, 0);
    for (uint32_t i = 0; i < IO_MAX_SLABS; i++) {
        atomic_init(&io->pool.slabs[i], NULL);
        atomic_init(&io->pool.live[i], 0);
        io->pool.idle_gen[i] = 0;
    }
    return kx__buf_init(io);
}

/* Frees the cache buffers of a slab's records, before the slab goes or its
 * pages are discarded (which would lose the pointers). */
static void slab_drop_buffers(struct io_irp *slab)
{
    for (uint32_t i = 0; i < IO_SLAB_SIZE; i++) {
        free(slab[i].cache_buf);
        slab[i].cache_buf = NULL;
    }
}

/* Gives a system buffer over IO_CACHE_BUF back to the cache. The stale
 * pointer stays: the next allocation resets it, and writing it here would
 * only send the line back and forth between the dispatch thread and the
 * next submitter. A host's bulk slot goes back to the host's region. A lent
 * one goes back to its owner only when the record is released (is_release):
 * a discarded record was never posted, and its owner still has the buffer. */
static void free_buffer(struct kx_io *io, struct io_irp *r, int is_release)
{
    if (r->buf_kind & IO_BUF_SLOT)
        kx__bulk_give(r->bulk, r->bulk_slot);
    if ((r->buf_kind & IO_BUF_OWNER) == IO_BUF_HEAP)
        kx__buf_put(io, r->buf, r->buf_len);
    else if ((r->buf_kind & IO_BUF_OWNER) == IO_BUF_LENT && is_release)
        r->lent_release(r->lent_arg);
}

void kx__pool_destroy(struct kx_io *io)
{
    uint32_t n = atomic_load(&io->pool.n_slabs);
    for (uint32_t s = 0; s < n; s++) {
        struct io_irp *slab = atomic_load(&io->pool.slabs[s]);
        for (uint32_t i = 0; i < IO_SLAB_SIZE; i++) /* free records keep stale pointers */
            if (atomic_load(&slab[i].state) & IRP_REF_MASK)
                free_buffer(io, &slab[i], 0); /* a lent one is not ours to free */
        slab_drop_buffers(slab);
        kx_plat_pages_free(slab, sizeof(struct io_irp) * IO_SLAB_SIZE);
    }
    kx__buf_destroy(io);
}

struct io_irp *kx__irp_at(struct kx_io *io, uint32_t idx)
{
    if (idx >= IO_MAX_SLABS * IO_SLAB_SIZE)
        return NULL;
    struct io_irp *slab =
        atomic_load_explicit(&io->pool.slabs[idx >> IO_SLAB_SHIFT], memory_order_acquire);
    return slab ? &slab[idx & (IO_SLAB_SIZE - 1)] : NULL;
}

/* A free magazine head keeps its list where its dispatch message was: lines
 * the submitting side writes anyway, never the dispatch thread's view. */
static struct io_mag *mag_of(struct io_irp *r) { return &r->u.mag; }

static struct io_irp *mag_pop(struct kx_io *io)
{
    uint64_t h = atomic_load_explicit(&io->pool.free_head, memory_order_acquire);
    for (;;) {
        uint32_t top = (uint32_t)h;
        if (!top)
            return NULL;
        struct io_irp *r = kx__irp_at(io, top - 1);
        uint32_t next = atomic_load_explicit(&r->free_next, memory_order_relaxed);
        uint64_t nh = (((h >> 32) + 1) << 32) | next;
        if (atomic_compare_exchange_weak_explicit(&io->pool.free_head, &h, nh,
                                                  memory_order_acq_rel, memory_order_acquire))
            return r;
    }
}

static void mag_push(struct kx_io *io, struct io_irp *head)
{
    uint64_t h = atomic_load_explicit(&io->pool.free_head, memory_order_relaxed);
    uint64_t nh;
    do {
        atomic_store_explicit(&head->free_next, (uint32_t)h, memory_order_relaxed);
        nh = (((h >> 32) + 1) << 32) | (head->idx + 1);
    } while (!atomic_compare_exchange_weak_explicit(&io->pool.free_head, &h, nh,
                                                    memory_order_release, memory_order_relaxed));
}

/* Returns recs[0..n) to the pool, up to IO_MAG + 1 per magazine. */
static void pool_put(struct kx_io *io, struct io_irp **recs, size_t n)
{
    while (n) {
        size_t k = n < IO_MAG + 1 ? n : IO_MAG + 1;
        struct io_mag *m = mag_of(recs[0]);
        m->n = (uint32_t)(k - 1);
        for (size_t i = 1; i < k; i++) {
            m->e[i - 1].idx = recs[i]->idx;
            m->e[i - 1].gen = gen_of(atomic_load_explicit(&recs[i]->state, memory_order_relaxed));
        }
        mag_push(io, recs[0]);
        recs += k;
        n -= k;
    }
}

/* Puts slab s's records, fresh or revived, on the free list (pool_lock). */
static void slab_fill(struct kx_io *io, uint32_t s, struct io_irp *slab)
{
    struct io_irp *recs[IO_SLAB_SIZE];
    for (uint32_t i = 0; i < IO_SLAB_SIZE; i++) {
        slab[i].idx = s * IO_SLAB_SIZE + i;
        atomic_store_explicit(&slab[i].state, (uint64_t)io->pool.idle_gen[s] << IRP_GEN_SHIFT,
                              memory_order_relaxed);
        atomic_store_explicit(&slab[i].free_next, 0, memory_order_relaxed);
        recs[i] = &slab[i];
    }
    atomic_store_explicit(&io->pool.live[s], 1, memory_order_release);
    atomic_fetch_add_explicit(&io->pool.n_live, 1, memory_order_relaxed);
    pool_put(io, recs, IO_SLAB_SIZE);
}

static kx_status pool_grow(struct kx_io *io)
{
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&io->pool_lock);
    /* Another thread may have grown the pool while we waited for the lock. */
    if ((uint32_t)atomic_load(&io->pool.free_head) != 0)
        goto out;
    uint32_t n = atomic_load_explicit(&io->pool.n_slabs, memory_order_relaxed);
    for (uint32_t s = 0; s < n; s++) /* a discarded slab first: it costs no address space */
        if (!atomic_load_explicit(&io->pool.live[s], memory_order_relaxed)) {
            slab_fill(io, s, atomic_load_explicit(&io->pool.slabs[s], memory_order_relaxed));
            goto out;
        }
    if (n == IO_MAX_SLABS) {
        st = STATUS_INSUFFICIENT_RESOURCES;
        goto out;
    }
    struct io_irp *slab = kx_plat_pages_alloc(sizeof(struct io_irp) * IO_SLAB_SIZE);
    if (!slab) {
        st = STATUS_INSUFFICIENT_RESOURCES;
        goto out;
    }
    atomic_store_explicit(&io->pool.slabs[n], slab, memory_order_release);
    atomic_store_explicit(&io->pool.n_slabs, n + 1, memory_order_release);
    slab_fill(io, n, slab);
out:
    pthread_mutex_unlock(&io->pool_lock);
    return st;
}

/* Takes the whole free list; the caller owns every record on it. */
static uint32_t pool_take_all(struct kx_io *io)
{
    uint64_t h = atomic_load_explicit(&io->pool.free_head, memory_order_acquire);
    while (!atomic_compare_exchange_weak_explicit(&io->pool.free_head, &h,
                                                  ((h >> 32) + 1) << 32,
                                                  memory_order_acq_rel, memory_order_acquire))
        ;
    return (uint32_t)h;
}

/* Calls fn(io, record, arg) for every record of the list taken from top;
 * each magazine is read before fn sees its records, so fn may reuse them. */
static void chain_walk(struct kx_io *io, uint32_t top,
                       void (*fn)(struct kx_io *, struct io_irp *, void *), void *arg)
{
    while (top) {
        struct io_irp *m = kx__irp_at(io, top - 1);
        struct io_mag mg = m->u.mag;
        top = atomic_load_explicit(&m->free_next, memory_order_relaxed);
        fn(io, m, arg);
        for (uint32_t i = 0; i < mg.n; i++)
            fn(io, kx__irp_at(io, mg.e[i].idx), arg);
    }
}

struct trim_scan {
    uint16_t *n_free; /* per slab */
    uint32_t total;
    struct io_relbatch keep; /* records going back, IO_MAG + 1 at a time */
};

static void trim_count(struct kx_io *io, struct io_irp *r, void *arg)
{
    struct trim_scan *t = arg;
    (void)io;
    t->n_free[r->idx >> IO_SLAB_SHIFT]++;
    t->total++;
}

static void trim_keep(struct kx_io *io, struct io_irp *r, void *arg)
{
    struct trim_scan *t = arg;
    if (!atomic_load_explicit(&io->pool.live[r->idx >> IO_SLAB_SHIFT], memory_order_relaxed))
        return;
    t->keep.recs[t->keep.n++] = r;
    if (t->keep.n == IO_MAG + 1) {
        pool_put(io, t->keep.recs, t->keep.n);
        t->keep.n = 0;
    }
}

void kx__pool_trim(struct kx_io *io)
{
    if (atomic_load_explicit(&io->pool.n_live, memory_order_relaxed) <= IO_POOL_KEEP_SLABS)
        return;
    pthread_mutex_lock(&io->pool_lock);
    uint32_t n = atomic_load_explicit(&io->pool.n_slabs, memory_order_relaxed);
    struct trim_scan t = {.n_free = calloc(n, sizeof(uint16_t))};
    if (!t.n_free)
        goto out;
    /* Allocators that find the list empty meanwhile wait in pool_grow. */
    uint32_t top = pool_take_all(io);
    chain_walk(io, top, trim_count, &t);
    uint32_t live = atomic_load_explicit(&io->pool.n_live, memory_order_relaxed);
    uint32_t in_use = live * IO_SLAB_SIZE - t.total;
    for (uint32_t s = 0; s < n && live > IO_POOL_KEEP_SLABS; s++) {
        uint32_t free_after = t.total - IO_SLAB_SIZE;
        if (t.n_free[s] != IO_SLAB_SIZE || free_after < 2 * in_use)
            continue;
        /* Every record of s is ours and unreferenced: nobody writes it. */
        struct io_irp *slab = atomic_load_explicit(&io->pool.slabs[s], memory_order_relaxed);
        uint32_t top_gen = 0;
        for (uint32_t i = 0; i < IO_SLAB_SIZE; i++) {
            uint32_t g = gen_of(atomic_load_explicit(&slab[i].state, memory_order_relaxed));
            top_gen = g > top_gen ? g : top_gen;
        }
        io->pool.idle_gen[s] = top_gen;
        atomic_store_explicit(&io->pool.live[s], 0, memory_order_release);
        atomic_fetch_sub_explicit(&io->pool.n_live, 1, memory_order_relaxed);
        live--;
        t.total -= IO_SLAB_SIZE;
    }
    chain_walk(io, top, trim_keep, &t);
    if (t.keep.n)
        pool_put(io, t.keep.recs, t.keep.n);
    /* Only now: the walk above read magazines that lived in these slabs. */
    for (uint32_t s = 0; s < n; s++)
        if (t.n_free[s] == IO_SLAB_SIZE && !atomic_load(&io->pool.live[s])) {
            struct io_irp *slab = atomic_load_explicit(&io->pool.slabs[s], memory_order_relaxed);
            slab_drop_buffers(slab);
            kx_plat_pages_discard(slab, sizeof(struct io_irp) * IO_SLAB_SIZE);
        }
    free(t.n_free);
out:
    pthread_mutex_unlock(&io->pool_lock);
}

void kx_io_pool_stats(struct kx_io *io, struct kx_io_pool_stats *out)
{
    out->slabs_live = atomic_load_explicit(&io->pool.n_live, memory_order_relaxed);
    out->slabs_made = atomic_load_explicit(&io->pool.n_slabs, memory_order_relaxed);
    out->records_per_slab = IO_SLAB_SIZE;
    out->bulk_lent = atomic_load_explicit(&io->bulk_lent, memory_order_relaxed);
    out->buf_mallocs = atomic_load_explicit(&io->bufs.n_malloc, memory_order_relaxed);
}

void kx_io_pool_trim(struct kx_io *io)
{
    kx__pool_trim(io);
    kx__buf_trim(io);
}

int kx__pool_slab_live(struct kx_io *io, uint32_t slab)
{
    return atomic_load_explicit(&io->pool.live[slab], memory_order_acquire);
}

/* old_gen: the record's last generation (from its magazine entry: reading
 * the record itself would stall on a line the dispatch thread wrote last). */
static void irp_init(struct io_irp *r, uint32_t old_gen)
{
    uint32_t gen = old_gen + 1;
    if (!gen)
        gen = 1;
    r->kind = K_IRP;
    r->major = 0;
    r->is_sync = 0;
    r->holds_file = 0;
    r->from_driver = 0;
    r->done = NULL;
    r->done_arg = NULL;
    r->req_out = NULL;
    r->req_out_len = 0;
    r->buf = NULL;
    r->buf_len = 0;
    r->buf_kind = IO_BUF_OWN;
    r->has_out = 0;
    r->view_built = 0;
    atomic_store_explicit(&r->wake, 0, memory_order_relaxed);
    atomic_store_explicit(&r->file, NULL, memory_order_relaxed);
    atomic_store_explicit(&r->drv, NULL, memory_order_relaxed);
    atomic_store_explicit(&r->dev, NULL, memory_order_relaxed);
    atomic_store_explicit(&r->deadline_ns, 0, memory_order_relaxed);
    /* REQ + DRV + DISP */
    atomic_store_explicit(&r->state, ((uint64_t)gen << IRP_GEN_SHIFT) | 3 * IRP_REF,
                          memory_order_release);
}

/* The lines of a record the submitting side writes: state and message
 * (lines 0-1), requester and routing (line 3). Line 2 holds only payloads of
 * more than 16 bytes. */
static inline void prefetch_for_write(const struct io_irp *r)
{
    const char *p = (const char *)r;
    kx_plat_prefetch_write(p);
    kx_plat_prefetch_write(p + 64);
    kx_plat_prefetch_write(p + offsetof(struct io_irp, req_out));
}

kx_status kx__irp_alloc(struct kx_io *io, struct io_irp **out, size_t n)
{
    uint32_t gens[KX_IO_MAX_BATCH + IO_MAG + 1];
    size_t got = 0;
    if (n > KX_IO_MAX_BATCH)
        return STATUS_INVALID_PARAMETER;
    while (got < n) {
        struct io_irp *m = mag_pop(io);
        if (!m) {
            kx_status st = pool_grow(io);
            if (st != STATUS_SUCCESS) {
                kx__irp_discard(io, out, got);
                return st;
            }
            continue;
        }
        struct io_mag mg = *mag_of(m); /* before the records are written over */
        gens[got] = gen_of(atomic_load_explicit(&m->state, memory_order_relaxed));
        out[got++] = m;
        uint32_t i = 0;
        for (; i < mg.n && got < n; i++) {
            gens[got] = mg.e[i].gen;
            out[got] = kx__irp_at(io, mg.e[i].idx);
            prefetch_for_write(out[got++]);
        }
        if (i < mg.n) { /* more than we need: the rest goes back as one magazine */
            struct io_irp *rest[IO_MAG];
            uint32_t k = 0;
            for (; i < mg.n; i++)
                rest[k++] = kx__irp_at(io, mg.e[i].idx);
            pool_put(io, rest, k);
        }
    }
    for (size_t i = 0; i < n; i++)
        irp_init(out[i], gens[i]);
    return STATUS_SUCCESS;
}

void kx__irp_discard(struct kx_io *io, struct io_irp **recs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct io_irp *r = recs[i];
        free_buffer(io, r, 0);
        uint64_t w = atomic_load_explicit(&r->state, memory_order_relaxed);
        atomic_store_explicit(&r->state, w & ~(((uint64_t)1 << IRP_GEN_SHIFT) - 1),
                              memory_order_release);
    }
    pool_put(io, recs, n);
}

kx_status kx__irp_set_buffer(struct kx_io *io, struct io_irp *r, const void *in, size_t in_len,
                             size_t out_len, int zero_out)
{
    size_t n = in_len > out_len ? in_len : out_len;
    if (!n)
        return STATUS_SUCCESS;
    if (n <= IO_INLINE_BUF) {
        r->buf = r->u.inline_buf;
    } else if (n <= IO_CACHE_BUF) {
        if (!r->cache_buf && !(r->cache_buf = malloc(IO_CACHE_BUF)))
            return STATUS_INSUFFICIENT_RESOURCES;
        r->buf = r->cache_buf;
    } else if (!(r->buf = kx__buf_get(io, n))) {
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    r->buf_kind = n > IO_CACHE_BUF ? IO_BUF_HEAP : IO_BUF_OWN;
    if (in_len)
        memcpy(r->buf, in, in_len);
    if (zero_out && n > in_len) /* output-only bytes: never hand a driver stale pool memory */
        memset((char *)r->buf + in_len, 0, n - in_len);
    r->buf_len = (uint32_t)n;
    return STATUS_SUCCESS;
}

void kx__irp_lend_buffer(struct io_irp *r, void *buf, size_t len, void (*release)(void *),
                         void *arg)
{
    r->buf = buf;
    r->buf_len = (uint32_t)len;
    r->buf_kind = IO_BUF_LENT;
    r->lent_release = release;
    r->lent_arg = arg;
}

/* ==== references ========================================================= */

struct io_irp *kx__irp_lookup(struct kx_io *io, uint64_t id, uint64_t *state)
{
    struct io_irp *r = kx__irp_at(io, (uint32_t)id);
    if (!r)
        return NULL;
    uint64_t w = atomic_load_explicit(&r->state, memory_order_acquire);
    if (gen_of(w) != (uint32_t)(id >> IRP_GEN_SHIFT) || refs_of(w) == 0)
        return NULL;
    *state = w;
    return r;
}

int kx__irp_tryref(struct io_irp *r, uint64_t seen)
{
    uint64_t w = atomic_load_explicit(&r->state, memory_order_acquire);
    while (gen_of(w) == gen_of(seen) && refs_of(w) > 0)
        if (atomic_compare_exchange_weak_explicit(&r->state, &w, w + IRP_REF,
                                                  memory_order_acq_rel, memory_order_acquire))
            return 1;
    return 0;
}

static void release(struct kx_io *io, struct io_irp *r, struct io_relbatch *rb)
{
    free_buffer(io, r, 1);
    struct io_file *f = r->holds_file ? atomic_load_explicit(&r->file, memory_order_relaxed)
                                      : NULL;
    if (!rb) {
        pool_put(io, &r, 1);
        if (f)
            kx__file_unref(io, f, 1);
        return;
    }
    if (rb->n == IO_MAG + 1) {
        pool_put(io, rb->recs, rb->n);
        rb->n = 0;
    }
    rb->recs[rb->n++] = r;
    if (f) {
        if (rb->file != f && rb->file) {
            kx__file_unref(io, rb->file, rb->file_refs);
            rb->file_refs = 0;
        }
        rb->file = f;
        rb->file_refs++;
    }
}

void kx__relbatch_flush(struct kx_io *io, struct io_relbatch *rb)
{
    if (rb->n)
        pool_put(io, rb->recs, rb->n);
    rb->n = 0;
    if (rb->file)
        kx__file_unref(io, rb->file, rb->file_refs);
    rb->file = NULL;
    rb->file_refs = 0;
}

void kx__irp_unref(struct kx_io *io, struct io_irp *r, uint64_t n, struct io_relbatch *rb)
{
    uint64_t w = atomic_fetch_sub_explicit(&r->state, n * IRP_REF, memory_order_acq_rel);
    if (refs_of(w) == n)
        release(io, r, rb);
}

/* ==== answering the requester ============================================ */

int kx__irp_claim(struct io_irp *r)
{
    return !(atomic_fetch_or_explicit(&r->state, IRP_REQ_DONE, memory_order_acq_rel) &
             IRP_REQ_DONE);
}

/* Stores the answer and delivers it; returns the number of references the
 * caller must drop for the requester (1 for an async request, whose
 * completion has run; 0 for a waiter, which drops its own). */
static uint64_t deliver(struct io_irp *r, kx_status st, size_t info, int from_driver)
{
    r->from_driver = (uint8_t)from_driver;
    if (r->is_sync) {
        r->req_status = st;
        r->req_info = info;
        if (atomic_exchange_explicit(&r->wake, 2, memory_order_acq_rel) == 1)
            kx_plat_futex_wake(&r->wake, 1);
        return 0;
    }
    if (r->done && r->has_out && !r->req_out) { /* a view: no copy */
        if (info > r->req_out_len)
            info = r->req_out_len;
        const void *out = from_driver && st == STATUS_SUCCESS && info ? r->buf : NULL;
        r->done_view(r->done_arg, st, out ? info : 0, out);
    } else if (r->done) {
        if (r->req_out_len) {
            if (info > r->req_out_len)
                info = r->req_out_len;
            if (from_driver && st == STATUS_SUCCESS && info)
                memcpy(r->req_out, r->buf, info);
            else if (st != STATUS_SUCCESS)
                info = 0;
        }
        r->done(r->done_arg, st, info);
    }
    return 1;
}

void kx__irp_answer(struct kx_io *io, struct io_irp *r, kx_status st, size_t info,
                    int from_driver, struct io_relbatch *rb)
{
    uint64_t n = deliver(r, st, info, from_driver);
    if (n)
        kx__irp_unref(io, r, n, rb);
}

int kx__irp_answer_if_first(struct kx_io *io, struct io_irp *r, kx_status st, size_t info,
                            struct io_relbatch *rb)
{
    if (!kx__irp_claim(r))
        return 0;
    kx__irp_answer(io, r, st, info, 0, rb);
    return 1;
}

kx_status kx__irp_wait(struct kx_io *io, struct io_irp *r, uint64_t deadline_ns, void *out,
                       size_t out_len, size_t *info, int spin)
{
    if (io->spin_ns && spin) {
        uint64_t until = 0;
        for (unsigned i = 1;; i++) {
            if (atomic_load_explicit(&r->wake, memory_order_acquire) == 2)
                goto answered;
            kx_plat_cpu_relax();
            if (!(i & 31)) { /* the clock costs more than a pause: look at it rarely */
                /* The scheduler likes to put a waker and its wakee on one
                 * CPU; there a spinner only delays the thread it waits for. */
                kx_plat_yield();
                uint64_t now = kx_plat_monotonic_ns();
                if (!until)
                    until = now + io->spin_ns;
                else if (now >= until)
                    break;
            }
        }
    } else if (!spin) {
        /* The dispatch thread shares our CPU: let it run, a few times,
         * before going to sleep. */
        for (int i = 0; i < 8; i++) {
            kx_plat_yield();
            if (atomic_load_explicit(&r->wake, memory_order_acquire) == 2)
                goto answered;
        }
    }
    for (;;) {
        uint32_t expect = 0;
        if (!atomic_compare_exchange_strong_explicit(&r->wake, &expect, 1, memory_order_acq_rel,
                                                     memory_order_acquire) &&
            expect == 2)
            goto answered;
        kx_status st = kx_plat_futex_wait(&r->wake, 1, deadline_ns);
        if (atomic_load_explicit(&r->wake, memory_order_acquire) == 2)
            goto answered;
        if (st == STATUS_TIMEOUT) {
            if (kx__irp_claim(r)) {
                r->req_status = STATUS_TIMEOUT;
                r->req_info = 0;
                r->from_driver = 0;
                kx__irp_after_timeout(io, r);
                goto answered;
            }
            deadline_ns = 0; /* someone is answering right now; let them finish */
        }
    }
answered:;
    kx_status st = r->req_status;
    size_t n = r->req_info;
    if (out_len) {
        if (n > out_len)
            n = out_len;
        if (r->from_driver && st == STATUS_SUCCESS && n)
            memcpy(out, r->buf, n);
        else if (st != STATUS_SUCCESS)
            n = 0;
    }
    if (info)
        *info = n;
    kx__irp_unref(io, r, 1, NULL);
    return st;
}

int kx__spin_worthwhile(struct kx_io *io, int cpu)
{
    return io->spin_ns && (cpu < 0 || cpu != kx_plat_cpu());
}

uint64_t kx__deadline(struct kx_io *io, uint32_t timeout_ms, uint32_t dflt_ms)
{
    if (timeout_ms == KX_IO_TIMEOUT_NONE)
        return 0;
    uint64_t ms = timeout_ms ? timeout_ms : dflt_ms;
    (void)io;
    return kx_plat_monotonic_ns() + ms * 1000000u;
}

/* ==== cancel and scans ==================================================== */

/* Asks the driver holding a dispatched IRP to give it up: sets its cancel
 * flag and, if it has a cancel routine, queues that routine to the driver's
 * thread (holding a reference for it). Returns 1 if a routine will run. */
static int cancel_in_driver(struct kx_io *io, struct io_irp *r)
{
    struct io_driver *d = atomic_load_explicit(&r->drv, memory_order_acquire);
    /* A host process takes the routine itself, and says whether it ran. */
    kx_host_fn routine = d->proc ? kx__hostproc_cancel_mark : kx__host_irp_cancel(r);
    if (!routine)
        return 0;
    struct io_irp *c;
    if (kx__irp_alloc(io, &c, 1) != STATUS_SUCCESS)
        return 0; /* the routine was taken and will not run: the caller answers */
    c->kind = K_CANCEL;
    c->u.cancel.target = r;
    c->u.cancel.routine = routine;
    atomic_store_explicit(&c->drv, d, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->state, IRP_REF, memory_order_relaxed); /* for the routine */
    pthread_mutex_lock(&io->ns_lock);
    int alive = (d->host || d->proc) && (d->state == KX_IO_DRIVER_RUNNING ||
                            d->state == KX_IO_DRIVER_UNLOADING || d->state == KX_IO_DRIVER_STARTING);
    if (alive)
        kx__post(io, d, &c, 1);
    pthread_mutex_unlock(&io->ns_lock);
    if (alive)
        return 1;
    kx__irp_discard(io, &c, 1);
    kx__irp_unref(io, r, 1, NULL);
    return 0;
}

void kx__irp_cancel(struct kx_io *io, struct io_irp *r)
{
    uint64_t w = atomic_fetch_or_explicit(&r->state, IRP_CANCEL, memory_order_seq_cst);
    if (w & (IRP_CANCEL | IRP_REQ_DONE))
        return;
    /* Still queued: answer now; the dispatch loop will skip it. Dispatched
     * without a cancel routine: answer now; the driver's result is absorbed. */
    if (!(w & IRP_DISPATCHED) || !cancel_in_driver(io, r))
        kx__irp_answer_if_first(io, r, STATUS_CANCELLED, 0, NULL);
}

void kx__irp_after_timeout(struct kx_io *io, struct io_irp *r)
{
    /* The requester has its STATUS_TIMEOUT; let a driver that queued the IRP
     * drop it (a pipe must not hand data to a reader that has gone). */
    uint64_t w = atomic_fetch_or_explicit(&r->state, IRP_CANCEL, memory_order_seq_cst);
    if (!(w & IRP_CANCEL) && (w & IRP_DISPATCHED))
        cancel_in_driver(io, r);
}

int kx__irp_expire(struct kx_io *io, struct io_irp *r, kx_status st)
{
    if (!kx__irp_claim(r))
        return 0;
    kx__irp_after_timeout(io, r);
    kx__irp_answer(io, r, st, 0, 0, NULL);
    return 1;
}

void kx__irp_foreach(struct kx_io *io, void (*fn)(struct kx_io *, struct io_irp *, void *),
                     void *arg)
{
    kx__irp_foreach_in(io, UINT64_MAX, fn, arg);
}

void kx__irp_foreach_in(struct kx_io *io, uint64_t slabs,
                        void (*fn)(struct kx_io *, struct io_irp *, void *), void *arg)
{
    uint32_t n = atomic_load_explicit(&io->pool.n_slabs, memory_order_acquire);
    for (uint32_t i = 0; i < n * IO_SLAB_SIZE; i++) {
        if (!(i & (IO_SLAB_SIZE - 1)) &&
            (!(slabs & kx__irp_slab_bit(i)) || !kx__pool_slab_live(io, i >> IO_SLAB_SHIFT))) {
            i += IO_SLAB_SIZE - 1;
            continue;
        }
        struct io_irp *r = kx__irp_at(io, i);
        uint64_t w = atomic_load_explicit(&r->state, memory_order_acquire);
        if (!refs_of(w) || !kx__irp_tryref(r, w))
            continue;
        fn(io, r, arg);
        kx__irp_unref(io, r, 1, NULL);
    }
}

/* ==== completion messages from hosts ====================================== */

int kx__chan_irp_begin(struct kx_io *io, struct io_irp *r, struct io_relbatch *rb)
{
    uint64_t w = atomic_fetch_or_explicit(&r->state, IRP_DISPATCHED, memory_order_acq_rel);
    if (w & IRP_REQ_DONE) {
        /* Answered while queued (deadline, cancel, hang): nobody wants the
         * result, so the driver never sees it; complete its side for it. */
        uint64_t w2 = atomic_fetch_or_explicit(&r->state, IRP_DRV_DONE, memory_order_acq_rel);
        kx__irp_unref(io, r, (w2 & IRP_DRV_DONE) ? 1 : 2, rb);
        return 0;
    }
    return (w & IRP_CANCEL) ? 2 : 1;
}

void kx__chan_irp_end(struct kx_io *io, struct io_irp *r, struct io_relbatch *rb)
{
    kx__irp_unref(io, r, 1, rb);
}

static void report_stale(struct kx_io *io, struct io_irp *r, uint64_t id, kx_status st,
                         int twice)
{
    struct io_driver *d = r ? atomic_load_explicit(&r->drv, memory_order_relaxed) : NULL;
    kx__io_report(io, KX_LOG_WARN, d ? d->short_name : "kx",
                  "IRP %#llx (%s) completed %s with %s; ignored", (unsigned long long)id,
                  r ? kx__major_name(r->major) : "?", twice ? "twice" : "after it was released",
                  kx_status_name(st));
}

/* CREATE succeeded: remember the driver's context for this open, before the
 * opener can see the answer. */
static void create_done(struct kx_io *io, struct io_irp *r, uint64_t file_cookie)
{
    struct io_file *f = atomic_load_explicit(&r->file, memory_order_relaxed);
    struct io_device *dv = atomic_load_explicit(&r->dev, memory_order_relaxed);
    kx__file_set_cookie(io, f, dv->id, file_cookie);
    atomic_store_explicit(&f->driver_opened, 1, memory_order_release);
}

kx_status kx__chan_complete(struct kx_io *io, uint64_t irp_id, kx_status status,
                            uint64_t information, uint64_t file_cookie)
{
    if (status == STATUS_PENDING)
        return STATUS_INVALID_PARAMETER;
    uint64_t w;
    struct io_irp *r = kx__irp_lookup(io, irp_id, &w);
    for (;;) {
        if (!r || gen_of(w) != (uint32_t)(irp_id >> IRP_GEN_SHIFT) || !refs_of(w)) {
            report_stale(io, NULL, irp_id, status, 0);
            return STATUS_REQUEST_ALREADY_COMPLETED;
        }
        if (w & IRP_DRV_DONE) {
            report_stale(io, r, irp_id, status, 1);
            return STATUS_REQUEST_ALREADY_COMPLETED;
        }
        if (atomic_compare_exchange_weak_explicit(&r->state, &w,
                                                  w | IRP_DRV_DONE | IRP_REQ_DONE,
                                                  memory_order_acq_rel, memory_order_acquire))
            break;
    }
    /* The DRV reference we are about to drop keeps r alive until then. */
    if (r->kind == K_IRP && r->major == IRP_MJ_CREATE && status == STATUS_SUCCESS)
        create_done(io, r, file_cookie);
    uint64_t n = 1; /* DRV */
    if (!(w & IRP_REQ_DONE))
        n += deliver(r, status, (size_t)information, 1);
    kx__irp_unref(io, r, n, NULL);
    return STATUS_SUCCESS;
}

void kx__chan_irp_end_answer(struct kx_io *io, struct io_irp *r, kx_status status,
                             uint64_t information, uint64_t file_cookie, struct io_relbatch *rb)
{
    uint64_t w = atomic_load_explicit(&r->state, memory_order_acquire);
    if (w & IRP_DRV_DONE) { /* another thread completed it while the routine ran */
        report_stale(io, r, io_irp_id(r, w), status, 1);
        kx__irp_unref(io, r, 1, rb);
        return;
    }
    /* Our DRV and DISP references keep r alive up to the exchange below. */
    if (r->major == IRP_MJ_CREATE && status == STATUS_SUCCESS)
        create_done(io, r, file_cookie);
    /* Complete, claim the answer and drop DRV and DISP in one step. A waiter
     * drops its own reference, on its own CPU, where its next request reuses
     * the record. An async request with nothing to copy out gives up its
     * reference in the same step: its completion runs from what was read
     * before, after the record may already be back in the pool. */
    int quick = !r->is_sync && r->done && !r->has_out;
    kx_io_done_fn done = quick ? r->done : NULL;
    void *arg = quick ? r->done_arg : NULL;
    uint64_t nw;
    for (;;) {
        if (w & IRP_DRV_DONE) { /* another thread completed it meanwhile */
            report_stale(io, r, io_irp_id(r, w), status, 1);
            kx__irp_unref(io, r, 1, rb);
            return;
        }
        uint64_t drop = 2 + (quick && !(w & IRP_REQ_DONE));
        nw = (w | IRP_DRV_DONE | IRP_REQ_DONE) - drop * IRP_REF;
        if (atomic_compare_exchange_weak_explicit(&r->state, &w, nw, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
    }
    if (w & IRP_REQ_DONE) { /* a deadline or cancel answered first */
        if ((nw & IRP_REF_MASK) == 0)
            release(io, r, rb);
        return;
    }
    if (quick) {
        if ((nw & IRP_REF_MASK) == 0)
            release(io, r, rb);
        done(arg, status, (size_t)information);
        return;
    }
    if (deliver(r, status, (size_t)information, 1))
        kx__irp_unref(io, r, 1, rb);
}

void kx__chan_ctl_done(struct kx_io *io, struct io_irp *r, kx_status status, uint64_t info,
                       struct io_relbatch *rb)
{
    uint64_t w = atomic_fetch_or_explicit(&r->state, IRP_DRV_DONE | IRP_REQ_DONE,
                                          memory_order_acq_rel);
    uint64_t n = 2; /* DRV + DISP */
    if (!(w & IRP_REQ_DONE))
        n += deliver(r, status, (size_t)info, 1);
    kx__irp_unref(io, r, n, rb);
}

void kx__chan_flush(struct kx_io *io, struct io_relbatch *rb) { kx__relbatch_flush(io, rb); }
