/* ring_srv.c — serving clients' shared-memory rings (see ring_srv.h and
 * proto/ring_proto.h).
 *
 * Each ring belongs to one ring thread, which alone consumes its requests;
 * completions are produced by whichever thread completes a request, under
 * the ring's tx_lock. A ring's memory lives while anyone refers to it: the
 * connection (until kx_srv_ring_end), its thread (while it polls it) and
 * each request in flight.
 *
 * A READ_SLOT's IRP reads straight into one of the ring's read slots
 * (ring_slots.h), lent to the I/O manager (kx_io_req.out_buf); the IRP holds
 * a reference on the ring until the manager gives the slot back, so the
 * slots outlive a driver that writes late.
 *
 * Lock order: tx_lock, then the slots' lock; a thread's lock and the pool's
 * lock are leaves.
 */
#include "ring_srv.h"

#include "ring_slots.h"
#include "server_state.h"

#include "core/plat.h"
#include "core/plat_poll.h"
#include "core/plat_sync.h"
#include "core/ring.h"
#include "proto/ring_proto.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREAD_WAKER_KEY 1
#define RECS_PER_ROUND   64
#define ROUNDS_PER_TURN  4  /* then the thread's other rings get a turn */
#define POOL_KEEP        256 /* free contexts kept after a burst */
#define STOP_WAIT_NS     ((uint64_t)2000 * 1000000u)
/* How long a ring thread polls after its last record, unless kxd is told
 * otherwise (kx_srv_ring_opts). About a round trip's worth: a client that
 * sends its next request within it finds the thread awake. */
#define POLL_DEFAULT_US 50u

struct ring_op {
    struct ring_op *next; /* in the pool's free list */
    struct kx_srv_ring *r;
    uint64_t tag;
    uint64_t credit;
    uint32_t out_len;
    struct ring_op *live_prev, *live_next; /* in r->live, under its tx_lock */
    int answered;                          /* at shutdown, before its completion */
    int32_t slot;                          /* a READ_SLOT's slot, else -1 */
    int busy;                              /* a READ_SLOT refused: KXR_SLOT_BUSY */
};

/* What the I/O manager gives back when a READ_SLOT's IRP is gone. */
struct slot_lend {
    struct kx_srv_ring *r;
    uint32_t k;
};

struct pool {
    pthread_mutex_t lock;
    struct ring_op *free;
    unsigned n_free;
};

struct ring_thread {
    struct kx_srv_rings *rs;
    pthread_t tid;
    int started;
    int poller, waker;
    pthread_mutex_t lock; /* guards starts, ends and stopping */
    struct kx_srv_ring *starts, *ends;
    int stopping;
    struct kx_srv_ring *served; /* the thread's own */
};

struct kx_srv_rings {
    struct kx_srv *srv;
    struct kx_io *io;
    const struct kx_logger *log;
    struct pool pool;
    _Atomic uint64_t ops_out; /* contexts taken from the pool, not yet back */
    uint64_t poll_ns;         /* how long a thread polls after work (0: never) */
    int run_here;             /* run idle in-kxd drivers' routines on the ring thread */
    struct ring_thread *threads;
    unsigned n_threads, next_thread; /* next_thread: kx-srv only */
};

struct kx_srv_ring {
    struct kx_srv_rings *rs;
    struct ring_thread *t; /* set by kx_srv_ring_start */
    struct kx_ring *ring;
    struct kx_srv_slots *slots;
    struct slot_lend lend[KXR_SLOTS]; /* each slot's IRP's out_release_arg */
    char why[96];                     /* ring thread: a hostile client's reason */
    uint64_t conn_id;
    struct kx_plat_cred cred;
    struct kx_srv_files *files;
    _Atomic unsigned refs;
    _Atomic uint32_t in_flight;
    _Atomic uint64_t credit;
    pthread_mutex_t tx_lock;
    int answering;                   /* under tx_lock: completions are written */
    struct ring_op *live;            /* under tx_lock: requests in flight */
    struct kx_srv_ring *cmd_next;    /* under t->lock */
    struct kx_srv_ring *served_next; /* thread only, like the four below */
    int served, ready;
    int cpu;        /* the CPU last announced in the ring's header */
    int commit_due; /* answers written during flush, not yet published */
};

/* ---- the pool ----------------------------------------------------------- */

static struct ring_op *pool_get(struct kx_srv_rings *rs)
{
    struct pool *p = &rs->pool;
    pthread_mutex_lock(&p->lock);
    struct ring_op *op = p->free;
    if (op) {
        p->free = op->next;
        p->n_free--;
    }
    pthread_mutex_unlock(&p->lock);
    if (!op && !(op = malloc(sizeof *op)))
        return NULL; /* grows only up to the peak in flight */
    atomic_fetch_add(&rs->ops_out, 1);
    return op;
}

static void pool_put(struct kx_srv_rings *rs, struct ring_op *op)
{
    struct pool *p = &rs->pool;
    pthread_mutex_lock(&p->lock);
    if (p->n_free < POOL_KEEP) {
        op->next = p->free;
        p->free = op;
        p->n_free++;
        op = NULL;
    }
    pthread_mutex_unlock(&p->lock);
    free(op); /* past what the pool keeps: it shrinks after a burst */
    atomic_fetch_sub(&rs->ops_out, 1);
}

/* ---- rings ---------------------------------------------------------------- */

static void ring_unref(struct kx_srv_ring *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    kx_ring_close(r->ring);
    kx_srv_slots_free(r->slots);
    kx_srv_files_unref(r->files);
    pthread_mutex_destroy(&r->tx_lock);
    free(r);
}

static void stop_answering(struct kx_srv_ring *r)
{
    pthread_mutex_lock(&r->tx_lock);
    r->answering = 0;
    pthread_mutex_unlock(&r->tx_lock);
}

/* Ring thread: stops polling r and drops the thread's reference. */
static void unserve(struct ring_thread *t, struct kx_srv_ring *r)
{
    if (!r->served)
        return;
    kx_plat_poller_remove(t->poller, kx_ring_wake_fd(r->ring));
    struct kx_srv_ring **pp = &t->served;
    while (*pp != r)
        pp = &(*pp)->served_next;
    *pp = r->served_next;
    r->served = 0;
    ring_unref(r);
}

/* Any thread: r's client broke a rule; its connection goes. */
static void hostile(struct kx_srv_ring *r, const char *why)
{
    kx_log_warnx(r->rs->log, "client pid %d uid %u: ring: %s; closing its connection",
                 (int)r->cred.pid, (unsigned)r->cred.uid, why);
    stop_answering(r);
    kx_srv_disconnect(r->rs->srv, r->conn_id);
}

/* Under tx_lock: writes op's completion with got bytes of out, straight
 * from the IRP's buffer into shared memory (published by the next commit);
 * a READ_SLOT's bytes are in its slot already, and its answer carries none.
 * -1 when the ring has no room for it. */
static int answer(struct kx_srv_ring *r, struct ring_op *op, kx_status status, uint32_t got,
                  uint64_t information, const void *out)
{
    uint32_t copied = op->slot >= 0 ? 0 : got;
    void *p;
    if (kx_ring_reserve(r->ring, op->busy ? KXR_SLOT_BUSY : KXR_DONE, op->tag,
                        sizeof(struct kxr_done) + copied, KX_RING_NOWAIT, &p) != STATUS_SUCCESS)
        return -1;
    struct kxr_done d = {status, got, information};
    memcpy(p, &d, sizeof d);
    if (copied)
        memcpy((uint8_t *)p + sizeof d, out, copied);
    return 0;
}

/* The ring whose batch this thread is submitting (flush), if any. */
static _Thread_local struct kx_srv_ring *flushing;

/* Any thread: the driver (or a deadline, or a cancel) finished a request. */
static void op_done(void *arg, kx_status status, size_t information, const void *out)
{
    struct ring_op *op = arg;
    struct kx_srv_ring *r = op->r;
    uint32_t got = 0;
    if (out && (status == STATUS_SUCCESS || status == STATUS_END_OF_FILE))
        got = information < op->out_len ? (uint32_t)information : op->out_len;
    /* Given back before the answer is published: a client may spend it
     * again as soon as it sees the answer. */
    atomic_fetch_sub(&r->credit, op->credit);
    atomic_fetch_sub(&r->in_flight, 1);
    if (op->slot >= 0) /* the client may give it back once it sees the answer */
        kx_srv_slots_answered(r->slots, (uint32_t)op->slot);
    pthread_mutex_lock(&r->tx_lock);
    if (op->live_prev)
        op->live_prev->live_next = op->live_next;
    else
        r->live = op->live_next;
    if (op->live_next)
        op->live_next->live_prev = op->live_prev;
    /* Within its credit there is always room: a client without it doesn't reap. */
    int refused = r->answering && !op->answered && answer(r, op, status, got, information, out) != 0;
    if (!refused && r->answering && !op->answered) {
        if (flushing == r)
            r->commit_due = 1; /* the batch's answers go out together, after it */
        else
            kx_ring_commit(r->ring);
    }
    pthread_mutex_unlock(&r->tx_lock);
    if (refused)
        hostile(r, "its ring has no room for an answer within its credit");
    pool_put(r->rs, op);
    ring_unref(r);
}

/* The I/O manager let go of a READ_SLOT's IRP (kx_io_req.out_release), after
 * its driver did: the slot may be filled again once the client gives it back. */
static void slot_irp_gone(void *arg)
{
    struct slot_lend *l = arg;
    struct kx_srv_ring *r = l->r;
    kx_srv_slots_irp_gone(r->slots, l->k);
    ring_unref(r);
}

/* The completion of a request without output (a WRITE, an IOCTL with out_len 0). */
static void write_done(void *arg, kx_status status, size_t information)
{
    op_done(arg, status, information, NULL);
}

/* reqs (all on one handle) to the driver; a refused batch completes each
 * request with the reason. */
static void submit_batch(struct kx_srv_ring *r, uint32_t handle, struct kx_io_req *reqs, size_t n)
{
    kx_io_handle h = kx_srv_files_get(r->files, handle);
    kx_status st = !h                ? STATUS_INVALID_HANDLE
                   : r->rs->run_here ? kx_io_submit_here(r->rs->io, h, reqs, n)
                                     : kx_io_submit(r->rs->io, h, reqs, n);
    if (st != STATUS_SUCCESS)
        for (size_t i = 0; i < n; i++) {
            op_done(reqs[i].arg, st, 0, NULL);
            if (reqs[i].out_release) /* refused: no IRP holds its slot */
                reqs[i].out_release(reqs[i].out_release_arg);
        }
}

/* Submits reqs as one batch. Answers the ring thread writes itself (a
 * driver run here, a refusal) are published with one commit at the end. */
static void flush(struct kx_srv_ring *r, uint32_t handle, struct kx_io_req *reqs, size_t n)
{
    if (!n)
        return;
    flushing = r;
    submit_batch(r, handle, reqs, n);
    flushing = NULL;
    if (!r->commit_due)
        return;
    r->commit_due = 0;
    pthread_mutex_lock(&r->tx_lock);
    if (r->answering)
        kx_ring_commit(r->ring);
    pthread_mutex_unlock(&r->tx_lock);
}

/* Ring thread: OPEN with the connection's credentials — kx_io_open's access
 * check, as the socket's KX_MSG_OPEN — and the handle into the connection's
 * table. A connection that ended meanwhile has had its table emptied: the
 * new handle is closed again. */
static kx_status open_file(struct kx_srv_ring *r, uint32_t access, const void *bytes, size_t len,
                           uint64_t *handle)
{
    char path[KXR_PATH_MAX + 1];
    memcpy(path, bytes, len); /* copied: the client may change shared memory at will */
    path[len] = '\0';
    if (memchr(path, '\0', len))
        return STATUS_OBJECT_NAME_INVALID;
    struct kx_io_cred cred = {r->cred.pid, r->cred.uid, r->cred.gid};
    kx_io_handle h;
    kx_status st = r->rs->run_here
                       ? kx_io_open_here(r->rs->io, path, &cred, access, KX_IO_TIMEOUT_DEFAULT, &h)
                       : kx_io_open(r->rs->io, path, &cred, access, KX_IO_TIMEOUT_DEFAULT, &h);
    if (st != STATUS_SUCCESS)
        return st;
    uint32_t n;
    if (kx_srv_files_add(r->files, h, &n) != STATUS_SUCCESS) {
        kx_io_close(r->rs->io, h);
        return STATUS_HANDLE_TABLE_FULL;
    }
    pthread_mutex_lock(&r->tx_lock);
    int alive = r->answering;
    pthread_mutex_unlock(&r->tx_lock);
    if (!alive) {
        kx_io_handle again = kx_srv_files_remove(r->files, n);
        if (again)
            kx_io_close(r->rs->io, again);
        return STATUS_CANCELLED;
    }
    *handle = n;
    return STATUS_SUCCESS;
}

static kx_status close_file(struct kx_srv_ring *r, uint32_t handle)
{
    kx_io_handle h = kx_srv_files_remove(r->files, handle);
    if (!h)
        return STATUS_INVALID_HANDLE;
    return r->rs->run_here ? kx_io_close_here(r->rs->io, h) : kx_io_close(r->rs->io, h);
}

/* Ring thread: why a READ_SLOT or SLOT_FREE naming slot k is hostile, with
 * the slot's number. */
static const char *slot_why(struct kx_srv_ring *r, uint32_t k, const char *why)
{
    snprintf(r->why, sizeof r->why, "read slot %u: %s", (unsigned)k, why);
    return r->why;
}

/* Turns one round of records into batches; NULL, or why r is hostile. An
 * OPEN or CLOSE ends the batch before it and runs here, in order. A
 * SLOT_FREE takes effect at once: the slot's state is kxd's own record, kept
 * in the order the client sent. */
static const char *submit_all(struct kx_srv_ring *r, const struct kx_ring_rec *recs, size_t n)
{
    static const uint8_t majors[] = {0, KX_IO_OP_READ, KX_IO_OP_WRITE, KX_IO_OP_DEVICE_CONTROL};
    struct kx_io_req reqs[RECS_PER_ROUND];
    size_t m = 0;
    uint32_t batch_handle = 0;
    for (size_t i = 0; i < n; i++) {
        const struct kx_ring_rec *rec = &recs[i];
        int is_slot = rec->type == KXR_READ_SLOT;
        int is_io = (rec->type >= KXR_READ && rec->type <= KXR_IOCTL) || is_slot;
        if ((!is_io && rec->type != KXR_OPEN && rec->type != KXR_CLOSE &&
             rec->type != KXR_SLOT_FREE) ||
            rec->len < sizeof(struct kxr_req)) {
            flush(r, batch_handle, reqs, m);
            return "a record that is not a request";
        }
        struct kxr_req q; /* copied: the client may change shared memory at will */
        memcpy(&q, rec->data, sizeof q);
        size_t in_len = rec->len - sizeof q;
        if (rec->type == KXR_SLOT_FREE) {
            const char *why = in_len || q.out_len ? "a request with impossible lengths" : NULL;
            if (!why && (why = kx_srv_slots_give_back(r->slots, q.code)))
                why = slot_why(r, q.code, why);
            if (why) {
                flush(r, batch_handle, reqs, m);
                return why;
            }
            continue;
        }
        uint32_t out_len = is_io && rec->type != KXR_WRITE ? q.out_len : 0;
        uint64_t need = kxr_done_bytes(is_slot ? 0 : out_len); /* a slot's answer: no bytes */
        if (out_len > KX_CLIENT_IO_MAX || in_len > KX_CLIENT_IO_MAX ||
            ((rec->type == KXR_READ || rec->type == KXR_CLOSE || is_slot) && in_len) ||
            (!is_io && q.out_len) || (rec->type == KXR_OPEN && in_len > KXR_PATH_MAX) ||
            (is_slot && (!out_len || out_len > KXR_SLOT_BYTES))) {
            flush(r, batch_handle, reqs, m);
            return "a request with impossible lengths";
        }
        if (atomic_load(&r->in_flight) >= KXR_MAX_IN_FLIGHT ||
            atomic_load(&r->credit) + need > KXR_CREDIT_BYTES) {
            flush(r, batch_handle, reqs, m);
            return "more requests in flight than its credit allows";
        }
        if (m && (!is_io || q.handle != batch_handle)) {
            flush(r, batch_handle, reqs, m);
            m = 0;
        }
        void *slot = NULL;
        if (is_slot) {
            const char *why = kx_srv_slots_take(r->slots, q.code, &slot);
            if (why) {
                flush(r, batch_handle, reqs, m);
                return slot_why(r, q.code, why);
            }
        }
        struct ring_op *op = pool_get(r->rs);
        if (!op) {
            flush(r, batch_handle, reqs, m);
            return "no memory for its requests";
        }
        *op = (struct ring_op){.r = r, .tag = rec->id, .credit = need, .out_len = out_len,
                               .slot = slot ? (int32_t)q.code : -1, .busy = is_slot && !slot};
        pthread_mutex_lock(&r->tx_lock);
        op->live_next = r->live;
        if (r->live)
            r->live->live_prev = op;
        r->live = op;
        pthread_mutex_unlock(&r->tx_lock);
        atomic_fetch_add(&r->in_flight, 1);
        atomic_fetch_add(&r->credit, need);
        atomic_fetch_add(&r->refs, 1);
        const uint8_t *in = (const uint8_t *)rec->data + sizeof q;
        if (!is_io) {
            uint64_t handle = 0;
            kx_status st = rec->type == KXR_OPEN ? open_file(r, q.code, in, in_len, &handle)
                                                 : close_file(r, q.handle);
            op_done(op, st, handle, NULL);
            continue;
        }
        if (op->busy) { /* an earlier IRP may still write into it: nothing runs */
            op_done(op, STATUS_DEVICE_BUSY, 0, NULL);
            continue;
        }
        if (slot) {
            atomic_fetch_add(&r->refs, 1); /* the IRP's, until slot_irp_gone */
            reqs[m++] = (struct kx_io_req){
                .op = KX_IO_OP_READ, .out_len = out_len, .offset = q.offset,
                .timeout_ms = q.timeout_ms, .done_view = op_done, .arg = op, .out_buf = slot,
                .out_release = slot_irp_gone, .out_release_arg = &r->lend[q.code]};
            batch_handle = q.handle;
            continue;
        }
        reqs[m++] = (struct kx_io_req){
            .op = majors[rec->type], .code = q.code, .in = in_len ? in : NULL, .in_len = in_len,
            .out_len = out_len, .offset = q.offset, .timeout_ms = q.timeout_ms,
            .done = out_len ? NULL : write_done, .done_view = out_len ? op_done : NULL, .arg = op};
        batch_handle = q.handle;
    }
    flush(r, batch_handle, reqs, m); /* kx_io_submit copies the input: release may follow */
    return NULL;
}

/* Ring thread: takes what r's client published, a few rounds at most; how
 * many records it took. An empty ring is armed (its client's next commit
 * wakes the thread) only when arm is set: while the thread polls, a client
 * commits without a wake-up. */
static size_t serve(struct ring_thread *t, struct kx_srv_ring *r, int arm)
{
    /* Where kxd's side waits, as a ring's own waiter says it (ring.h): a
     * client spinning on the same CPU yields to this thread instead of
     * spinning out its window. Stored only when it changes. */
    int cpu = kx_plat_cpu();
    if (cpu != r->cpu) {
        atomic_store_explicit(&kx_ring_shared(r->ring)->dir[0].cpu, cpu, memory_order_relaxed);
        r->cpu = cpu;
    }
    size_t took = 0;
    for (int round = 0; round < ROUNDS_PER_TURN; round++) {
        struct kx_ring_rec recs[RECS_PER_ROUND];
        size_t n = 0;
        kx_status st = kx_ring_recv(r->ring, recs, RECS_PER_ROUND, &n, KX_RING_NOWAIT);
        if (st == STATUS_TIMEOUT) {
            if (!arm || kx_ring_arm(r->ring))
                return took; /* polled again on the thread's next round */
            r->ready = 0;    /* asleep until the client's next commit */
            return took;
        }
        if (st == STATUS_RING_PEER_GONE) { /* its socket's hang-up ends the rest */
            unserve(t, r);
            return took;
        }
        if (st != STATUS_SUCCESS) {
            hostile(r, kx_ring_error(r->ring));
            unserve(t, r);
            return took;
        }
        took += n;
        const char *why = submit_all(r, recs, n);
        kx_ring_release(r->ring);
        if (why) {
            hostile(r, why);
            unserve(t, r);
            return took;
        }
    }
    r->ready = 1; /* more may be there: after the other rings' turn */
    return took;
}

static void take_commands(struct ring_thread *t, int *stopping)
{
    pthread_mutex_lock(&t->lock);
    struct kx_srv_ring *starts = t->starts, *ends = t->ends;
    t->starts = t->ends = NULL;
    *stopping = t->stopping;
    pthread_mutex_unlock(&t->lock);
    for (struct kx_srv_ring *r = starts, *next; r; r = next) {
        next = r->cmd_next;
        if (kx_plat_poller_set(t->poller, kx_ring_wake_fd(r->ring), (uint64_t)(uintptr_t)r,
                               KX_POLL_IN, 1) != STATUS_SUCCESS) {
            hostile(r, "kxd could not poll its ring");
            ring_unref(r);
            continue;
        }
        r->served = r->ready = 1;
        r->served_next = t->served;
        t->served = r;
    }
    for (struct kx_srv_ring *r = ends, *next; r; r = next) {
        next = r->cmd_next;
        unserve(t, r); /* drops the thread's reference only; the connection's is held */
        ring_unref(r); /* NOLINT(clang-analyzer-unix.Malloc): the connection's reference */
    }
}

/* The thread polls its rings for poll_ns after the last record it found
 * before it arms them and sleeps: a client that commits within that window
 * costs neither side a wake-up. Between polls it yields, so that on a busy
 * machine the threads it waits for get the CPU. */
static void *thread_main(void *arg)
{
    struct ring_thread *t = arg;
    pthread_setname_np(pthread_self(), "kx-ring");
    uint64_t idle_since = 0; /* 0: the last round found work */
    for (;;) {
        int stopping;
        take_commands(t, &stopping);
        if (stopping)
            break;
        uint64_t poll_ns = t->rs->poll_ns;
        int polling = 0;
        if (idle_since && t->served)
            polling = kx_plat_monotonic_ns() - idle_since < poll_ns;
        size_t took = 0;
        for (struct kx_srv_ring *r = t->served, *next; r; r = next) {
            next = r->served_next;
            if (r->ready || polling)
                took += serve(t, r, !polling && idle_since);
        }
        if (took) {
            idle_since = 0;
        } else if (!idle_since) {
            idle_since = kx_plat_monotonic_ns();
            continue; /* the next round polls, or arms when poll_ns is 0 */
        }
        if (polling || (took && poll_ns)) {
            kx_plat_yield();
            continue;
        }
        int any_ready = 0;
        for (struct kx_srv_ring *r = t->served; r; r = r->served_next)
            any_ready |= r->ready;
        struct kx_poll_event ev[64];
        int n = 0;
        if (kx_plat_poller_wait(t->poller, ev, 64, any_ready ? 0 : -1, &n) != STATUS_SUCCESS)
            n = 0;
        for (int i = 0; i < n; i++) {
            if (ev[i].key == THREAD_WAKER_KEY) {
                kx_plat_waker_drain(t->waker);
                continue;
            }
            /* The key is the ring's address, given by this thread. */
            struct kx_srv_ring *r =
                (struct kx_srv_ring *)(uintptr_t)ev[i].key; /* NOLINT(performance-no-int-to-ptr) */
            r->ready = 1;
        }
    }
    while (t->served)
        unserve(t, t->served);
    return NULL;
}

/* ---- the API -------------------------------------------------------------- */

kx_status kx_srv_ring_new(struct kx_srv_rings *rs, uint64_t conn_id,
                          const struct kx_plat_cred *cred, struct kx_srv_files *files,
                          struct kx_srv_ring **out)
{
    *out = NULL;
    struct kx_srv_ring *r = calloc(1, sizeof *r);
    if (!r)
        return STATUS_INSUFFICIENT_RESOURCES;
    char name[48];
    snprintf(name, sizeof name, "client pid %d", (int)cred->pid);
    struct kx_ring_config cfg = {KXR_RING_BYTES, KXR_BULK_BYTES};
    kx_status st = kx_ring_create(name, &cfg, &r->ring);
    if (st == STATUS_SUCCESS && (st = kx_srv_slots_new(name, &r->slots)) != STATUS_SUCCESS)
        kx_ring_close(r->ring);
    if (st != STATUS_SUCCESS) {
        free(r);
        return st;
    }
    for (uint32_t k = 0; k < KXR_SLOTS; k++)
        r->lend[k] = (struct slot_lend){r, k};
    r->rs = rs;
    r->conn_id = conn_id;
    r->cred = *cred;
    r->files = files;
    kx_srv_files_ref(files);
    atomic_init(&r->refs, 1);
    pthread_mutex_init(&r->tx_lock, NULL);
    r->answering = 1;
    r->cpu = -1;
    *out = r;
    return STATUS_SUCCESS;
}

kx_status kx_srv_ring_send(struct kx_srv_ring *r, int sock)
{
    kx_status st = kx_ring_send_fds(r->ring, sock);
    return st == STATUS_SUCCESS ? kx_srv_slots_send(r->slots, sock) : st;
}

void kx_srv_ring_start(struct kx_srv_ring *r)
{
    struct kx_srv_rings *rs = r->rs;
    struct ring_thread *t = &rs->threads[rs->next_thread++ % rs->n_threads];
    r->t = t;
    atomic_fetch_add(&r->refs, 1); /* the thread's */
    pthread_mutex_lock(&t->lock);
    r->cmd_next = t->starts;
    t->starts = r;
    pthread_mutex_unlock(&t->lock);
    kx_plat_waker_signal(t->waker);
}

uint32_t kx_srv_ring_in_flight(const struct kx_srv_ring *r)
{
    return r ? atomic_load(&r->in_flight) : 0;
}

void kx_srv_ring_shutdown(struct kx_srv_ring *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->tx_lock);
    for (struct ring_op *op = r->live; op && r->answering; op = op->live_next) {
        if (op->slot >= 0)
            kx_srv_slots_answered(r->slots, (uint32_t)op->slot);
        op->answered = answer(r, op, STATUS_SYSTEM_SHUTDOWN, 0, 0, NULL) == 0;
    }
    if (r->answering)
        kx_ring_commit(r->ring);
    r->answering = 0;
    pthread_mutex_unlock(&r->tx_lock);
}

void kx_srv_ring_end(struct kx_srv_ring *r)
{
    if (!r)
        return;
    stop_answering(r);
    struct ring_thread *t = r->t;
    if (!t) {
        ring_unref(r);
        return;
    }
    pthread_mutex_lock(&t->lock);
    r->cmd_next = t->ends;
    t->ends = r;
    pthread_mutex_unlock(&t->lock);
    kx_plat_waker_signal(t->waker);
}

/* The poll window; never on one CPU, where polling only delays the client
 * it waits for. */
static uint64_t poll_ns_of(const struct kx_srv_ring_opts *o)
{
    if (o->no_poll || kx_plat_ncpus() < 2)
        return 0;
    uint32_t us = !o->poll_us                          ? POLL_DEFAULT_US
                  : o->poll_us > KX_SRV_RING_POLL_MAX_US ? KX_SRV_RING_POLL_MAX_US
                                                       : o->poll_us;
    return (uint64_t)us * 1000u;
}

kx_status kx_srv_rings_new(struct kx_srv *srv, struct kx_io *io, const struct kx_logger *log,
                           const struct kx_srv_ring_opts *opts, unsigned n_threads,
                           struct kx_srv_rings **out)
{
    *out = NULL;
    struct kx_srv_rings *rs = calloc(1, sizeof *rs);
    if (!rs || !(rs->threads = calloc(n_threads, sizeof *rs->threads))) {
        free(rs);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    rs->srv = srv;
    rs->io = io;
    rs->log = log;
    rs->poll_ns = poll_ns_of(opts);
    rs->run_here = !opts->no_inline;
    pthread_mutex_init(&rs->pool.lock, NULL);
    kx_status st = STATUS_SUCCESS;
    for (; rs->n_threads < n_threads && st == STATUS_SUCCESS; rs->n_threads++) {
        struct ring_thread *t = &rs->threads[rs->n_threads];
        t->rs = rs;
        t->poller = t->waker = -1;
        pthread_mutex_init(&t->lock, NULL);
        if ((st = kx_plat_poller_new(&t->poller)) != STATUS_SUCCESS ||
            (st = kx_plat_waker_new(&t->waker)) != STATUS_SUCCESS ||
            (st = kx_plat_poller_set(t->poller, t->waker, THREAD_WAKER_KEY, KX_POLL_IN, 1)) !=
                STATUS_SUCCESS)
            continue;
        if (pthread_create(&t->tid, NULL, thread_main, t) != 0)
            st = STATUS_INSUFFICIENT_RESOURCES;
        else
            t->started = 1;
    }
    if (st != STATUS_SUCCESS) {
        kx_srv_rings_free(rs);
        return st;
    }
    *out = rs;
    return STATUS_SUCCESS;
}

void kx_srv_rings_free(struct kx_srv_rings *rs)
{
    if (!rs)
        return;
    for (unsigned i = 0; i < rs->n_threads; i++) {
        struct ring_thread *t = &rs->threads[i];
        pthread_mutex_lock(&t->lock);
        t->stopping = 1;
        pthread_mutex_unlock(&t->lock);
        if (t->waker >= 0)
            kx_plat_waker_signal(t->waker);
        if (t->started)
            pthread_join(t->tid, NULL);
        kx_plat_close(t->waker);
        kx_plat_close(t->poller);
        pthread_mutex_destroy(&t->lock);
    }
    /* Requests still in flight return their contexts here: wait for them a
     * while (their files were closed, which cancels them), then leak rather
     * than free what a driver thread may still touch. */
    uint64_t deadline = kx_plat_monotonic_ns() + STOP_WAIT_NS;
    while (atomic_load(&rs->ops_out) && kx_plat_monotonic_ns() < deadline)
        kx_plat_sleep_ns(1000000);
    if (atomic_load(&rs->ops_out))
        return;
    while (rs->pool.free) {
        struct ring_op *op = rs->pool.free;
        rs->pool.free = op->next;
        free(op);
    }
    pthread_mutex_destroy(&rs->pool.lock);
    free(rs->threads);
    free(rs);
}
