/* ring.c — shared-memory rings between two processes (see ring.h).
 *
 * Positions (head, tail, bulk positions) count bytes since the ring was made
 * and never wrap; the offset in the buffer is the position modulo the size.
 * Each side keeps private copies of everything it needs: the geometry, read
 * once at attach and never again, and its own positions. What it reads from
 * the peer's half of the control page — the other end's tail or head — is
 * accepted only if it lies between the last value seen and the furthest the
 * peer can honestly have reached; every record header and bulk reference is
 * copied out of shared memory once and checked before a byte it points at is
 * touched. A failed check breaks the ring for good (STATUS_RING_CORRUPT).
 *
 * Waking (await, wake): a waiter announces itself in its sleep word with a
 * sequentially consistent store and then re-reads the index it waits on; the
 * other side stores the index and then reads the sleep word, both seq_cst. In
 * the single order of those four accesses one side sees the other, so the
 * waiter either finds the new index or is woken (docs/ring.md has the proof).
 * The waker clears the word with an exchange, so one sleep costs at most one
 * wake-up call, and only when somebody sleeps.
 */
#include "ring.h"
#include "plat.h"
#include "plat_poll.h"
#include "plat_shm.h"
#include "plat_sync.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_MIN        4096u
#define RING_MAX        (64u << 20)
#define RING_DEFAULT    (64u << 10)
#define BULK_MAX        (1u << 30)
#define REC_ALIGN       16u /* so a PAD header always fits in what is left at the end */
#define BULK_ALIGN      64u
#define SPIN_DEFAULT_NS 20000u
#define SPIN_MIN_NS     1000u
#define HELLO           "kx-ring 1" /* the payload of the SCM_RIGHTS message */

/* This side's producing end (dir[side]). */
struct tx {
    struct kx_ring_dir *d;
    uint8_t *buf, *bulk;
    uint64_t tail;      /* end of reserved records */
    uint64_t pub;       /* end of published records */
    uint64_t head;      /* the consumer's head, as last read and checked */
    uint64_t bulk_tail; /* end of reserved bulk bytes */
    uint64_t bulk_pub;  /* end of published bulk bytes */
    uint64_t bulk_head; /* the consumer's bulk_head, as last read and checked */
};

/* This side's consuming end (dir[1 - side]). */
struct rx {
    struct kx_ring_dir *d;
    const uint8_t *buf, *bulk;
    uint64_t head;     /* end of records received */
    uint64_t pub;      /* end of records released */
    uint64_t tail;     /* the producer's tail, as last read and checked */
    uint64_t bulk_end; /* end of bulk spans received */
    uint64_t bulk_pub; /* end of bulk spans released */
};

struct kx_ring {
    char name[48];
    struct kx_ring_shm *shm;
    size_t size;
    uint32_t ring_bytes, bulk_bytes; /* private copies of the geometry */
    int side;
    int memfd, efd[2]; /* efd[s]: what side s polls when it sleeps watching */
    int watch_fd, watch_owned;
    uint32_t watch_events;
    _Atomic int peer_lost;
    uint32_t spin_max, spin_ns; /* the adaptive spin: current budget, its ceiling */
    struct tx tx;
    struct rx rx;
    kx_status broken; /* STATUS_SUCCESS until a check fails */
    char why[224];
};

/* ---- construction ------------------------------------------------------- */

static int pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

static int sizes_ok(uint32_t ring_bytes, uint32_t bulk_bytes)
{
    return pow2(ring_bytes) && ring_bytes >= RING_MIN && ring_bytes <= RING_MAX &&
           (bulk_bytes == 0 ||
            (pow2(bulk_bytes) && bulk_bytes >= RING_MIN && bulk_bytes <= BULK_MAX));
}

static size_t region_size(uint32_t ring_bytes, uint32_t bulk_bytes)
{
    return KX_RING_HDR_BYTES + 2 * (size_t)ring_bytes + 2 * (size_t)bulk_bytes;
}

static struct kx_ring *ring_alloc(const char *name)
{
    struct kx_ring *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->name, sizeof r->name, "%s", name && *name ? name : "unnamed");
    r->memfd = r->efd[0] = r->efd[1] = r->watch_fd = -1;
    atomic_init(&r->peer_lost, 0);
    r->broken = STATUS_SUCCESS;
    return r;
}

static void ring_free(struct kx_ring *r)
{
    kx_plat_shm_unmap(r->shm, r->size);
    kx_plat_close(r->memfd);
    kx_plat_close(r->efd[0]);
    kx_plat_close(r->efd[1]);
    if (r->watch_owned)
        kx_plat_close(r->watch_fd);
    free(r);
}

static kx_status corrupt(struct kx_ring *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static kx_status corrupt(struct kx_ring *r, const char *fmt, ...)
{
    if (r->broken != STATUS_SUCCESS)
        return r->broken; /* the first problem is the one worth reading */
    int k = snprintf(r->why, sizeof r->why, "ring '%s': ", r->name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why + k, sizeof r->why - (size_t)k, fmt, ap);
    va_end(ap);
    r->broken = STATUS_RING_CORRUPT;
    return r->broken;
}

/* Points both ends into the mapped region for side. */
static void setup(struct kx_ring *r, int side, uint32_t ring_bytes, uint32_t bulk_bytes)
{
    uint8_t *base = (uint8_t *)r->shm;
    uint8_t *rings = base + KX_RING_HDR_BYTES;
    uint8_t *bulks = rings + 2 * (size_t)ring_bytes;
    r->side = side;
    r->ring_bytes = ring_bytes;
    r->bulk_bytes = bulk_bytes;
    r->tx.d = &r->shm->dir[side];
    r->tx.buf = rings + (size_t)side * ring_bytes;
    r->tx.bulk = bulks + (size_t)side * bulk_bytes;
    r->rx.d = &r->shm->dir[1 - side];
    r->rx.buf = rings + (size_t)(1 - side) * ring_bytes;
    r->rx.bulk = bulks + (size_t)(1 - side) * bulk_bytes;
    /* On one CPU a spinner only delays the process it waits for. */
    r->spin_max = kx_plat_ncpus() > 1 ? SPIN_DEFAULT_NS : 0;
    r->spin_ns = r->spin_max;
}

kx_status kx_ring_create(const char *name, const struct kx_ring_config *cfg, struct kx_ring **out)
{
    *out = NULL;
    uint32_t ring_bytes = cfg && cfg->ring_bytes ? cfg->ring_bytes : RING_DEFAULT;
    uint32_t bulk_bytes = cfg ? cfg->bulk_bytes : 0;
    if (!sizes_ok(ring_bytes, bulk_bytes))
        return STATUS_INVALID_PARAMETER;
    struct kx_ring *r = ring_alloc(name);
    if (!r)
        return STATUS_INSUFFICIENT_RESOURCES;
    char mname[64];
    snprintf(mname, sizeof mname, "kx-ring:%s", r->name);
    r->size = region_size(ring_bytes, bulk_bytes);
    kx_status st = kx_plat_shm_create(mname, r->size, &r->memfd);
    if (st == STATUS_SUCCESS)
        st = kx_plat_waker_new(&r->efd[0]);
    if (st == STATUS_SUCCESS)
        st = kx_plat_waker_new(&r->efd[1]);
    if (st == STATUS_SUCCESS) {
        void *p;
        st = kx_plat_shm_map(r->memfd, r->size, &p);
        r->shm = p;
    }
    if (st != STATUS_SUCCESS) {
        ring_free(r);
        return st;
    }
    /* The memfd starts zeroed: every index and sleep word is already 0. */
    struct kx_ring_shm *s = r->shm;
    s->magic = KX_RING_MAGIC;
    s->version = KX_RING_VERSION;
    s->size = r->size;
    s->ring_bytes = ring_bytes;
    s->bulk_bytes = bulk_bytes;
    atomic_store(&s->dir[0].cpu, -1);
    atomic_store(&s->dir[1].cpu, -1);
    setup(r, 0, ring_bytes, bulk_bytes);
    *out = r;
    return STATUS_SUCCESS;
}

/* Fails attach with a message naming the ring. */
static kx_status attach_fail(struct kx_ring *r, kx_status st, char **why, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static kx_status attach_fail(struct kx_ring *r, kx_status st, char **why, const char *fmt, ...)
{
    if (why) {
        char msg[sizeof r->why];
        int k = snprintf(msg, sizeof msg, "ring '%s': ", r->name);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
        va_end(ap);
        *why = strdup(msg);
    }
    r->memfd = r->efd[0] = r->efd[1] = -1; /* still the caller's */
    ring_free(r);
    return st;
}

kx_status kx_ring_attach(const char *name, int memfd, int efd0, int efd1, struct kx_ring **out,
                         char **why)
{
    *out = NULL;
    if (why)
        *why = NULL;
    struct kx_ring *r = ring_alloc(name);
    if (!r)
        return STATUS_INSUFFICIENT_RESOURCES;
    size_t size;
    kx_status st = kx_plat_shm_check(memfd, &size);
    if (st != STATUS_SUCCESS)
        return attach_fail(r, st, why, "the region is not a memfd sealed against resizing (%s)",
                           kx_status_string(st));
    if (size < KX_RING_HDR_BYTES || size > region_size(RING_MAX, BULK_MAX))
        return attach_fail(r, STATUS_RING_CORRUPT, why, "a region of %zu bytes is no ring", size);
    void *p;
    if ((st = kx_plat_shm_map(memfd, size, &p)) != STATUS_SUCCESS)
        return attach_fail(r, st, why, "can't map the region (%s)", kx_status_string(st));
    r->shm = p;
    r->size = size;
    /* Read the geometry once; from here on only the private copies count. */
    struct kx_ring_shm h;
    memcpy(&h, r->shm, offsetof(struct kx_ring_shm, closed));
    if (h.magic != KX_RING_MAGIC || h.version != KX_RING_VERSION)
        return attach_fail(r, STATUS_RING_CORRUPT, why,
                           "magic %#x version %u, expected %#x version %u", h.magic, h.version,
                           KX_RING_MAGIC, KX_RING_VERSION);
    if (!sizes_ok(h.ring_bytes, h.bulk_bytes) || h.size != size ||
        region_size(h.ring_bytes, h.bulk_bytes) != size)
        return attach_fail(r, STATUS_RING_CORRUPT, why,
                           "rings of %u and bulk areas of %u bytes don't make a region of %zu",
                           h.ring_bytes, h.bulk_bytes, size);
    struct kx_ring_dir *mine = &r->shm->dir[1], *theirs = &r->shm->dir[0];
    if (atomic_load(&mine->tail) || atomic_load(&mine->head) || atomic_load(&mine->bulk_head) ||
        atomic_load(&theirs->head) || atomic_load(&theirs->bulk_head) ||
        atomic_load(&r->shm->closed[1]))
        return attach_fail(r, STATUS_RING_CORRUPT, why, "side 1 is already in use");
    r->memfd = memfd;
    r->efd[0] = efd0;
    r->efd[1] = efd1;
    setup(r, 1, h.ring_bytes, h.bulk_bytes);
    *out = r;
    return STATUS_SUCCESS;
}

kx_status kx_ring_send_fds(const struct kx_ring *r, int sock)
{
    int fds[3] = {r->memfd, r->efd[0], r->efd[1]};
    return kx_plat_sock_send_fds(sock, HELLO, sizeof HELLO, fds, 3);
}

kx_status kx_ring_attach_socket(const char *name, int sock, struct kx_ring **out, char **why)
{
    *out = NULL;
    if (why)
        *why = NULL;
    char msg[32];
    size_t got;
    int fds[3], n;
    kx_status st = kx_plat_sock_recv_fds(sock, msg, sizeof msg, &got, fds, 3, &n);
    if (st != STATUS_SUCCESS)
        return st;
    if (n == 3 && got == sizeof HELLO && memcmp(msg, HELLO, sizeof HELLO) == 0) {
        st = kx_ring_attach(name, fds[0], fds[1], fds[2], out, why);
        if (st == STATUS_SUCCESS)
            return st;
    } else
        st = STATUS_PROTOCOL_ERROR;
    for (int i = 0; i < n; i++)
        kx_plat_close(fds[i]);
    return st;
}

kx_status kx_ring_watch_pid(struct kx_ring *r, pid_t pid)
{
    int fd;
    kx_status st = kx_plat_pidfd_open(pid, &fd);
    if (st != STATUS_SUCCESS)
        return st;
    if (r->watch_owned)
        kx_plat_close(r->watch_fd);
    r->watch_fd = fd;
    r->watch_owned = 1;
    r->watch_events = KX_POLL_IN; /* a pidfd becomes readable when the process exits */
    return STATUS_SUCCESS;
}

void kx_ring_watch_socket(struct kx_ring *r, int sock)
{
    if (r->watch_owned)
        kx_plat_close(r->watch_fd);
    r->watch_fd = sock;
    r->watch_owned = 0;
    r->watch_events = KX_POLL_HUP;
}

void kx_ring_set_spin(struct kx_ring *r, uint32_t max_ns)
{
    r->spin_max = kx_plat_ncpus() > 1 ? max_ns : 0;
    r->spin_ns = r->spin_max;
}

const char *kx_ring_error(const struct kx_ring *r)
{
    return r->why;
}

struct kx_ring_shm *kx_ring_shared(const struct kx_ring *r)
{
    return r->shm;
}

/* ---- waking and waiting ------------------------------------------------- */

/* Wakes whoever sleeps on word, by the means it announced; efd is the
 * eventfd it polls. Costs one load when nobody sleeps. */
static void wake(_Atomic uint32_t *word, int efd)
{
    if (atomic_load_explicit(word, memory_order_seq_cst) == KX_RING_AWAKE)
        return;
    uint32_t v = atomic_exchange_explicit(word, KX_RING_AWAKE, memory_order_seq_cst);
    if (v == KX_RING_SLEEP_FUTEX)
        kx_plat_futex_wake_shared(word, 1);
    else if (v == KX_RING_SLEEP_EVENT)
        kx_plat_waker_signal(efd);
}

void kx_ring_peer_lost(struct kx_ring *r)
{
    atomic_store_explicit(&r->peer_lost, 1, memory_order_seq_cst);
    wake(&r->rx.d->cons_sleep, r->efd[r->side]);
    wake(&r->tx.d->prod_sleep, r->efd[r->side]);
}

static int peer_gone(struct kx_ring *r)
{
    return atomic_load_explicit(&r->peer_lost, memory_order_seq_cst) ||
           atomic_load_explicit(&r->shm->closed[1 - r->side], memory_order_seq_cst);
}

/* 1: what the waiter wants is there; 0: not yet; -1: the ring is broken. */
typedef int (*ready_fn)(struct kx_ring *r, const uint64_t need[2]);

/* The adaptive spin. A wait that a spin could have covered — it ended,
 * spinning or asleep, within spin_max — makes the next spin at least twice as
 * long as that wait took; a spin that ends in sleep halves the budget (to
 * nothing below SPIN_MIN_NS). Growing from what was observed, not by doubling
 * the budget, matters: a side whose peer sleeps waits a whole wake-up of the
 * peer, and a budget creeping up from nothing is halved again by the next
 * miss before it ever covers one; both sides would stay asleep for good. So a
 * busy ring settles on both sides spinning long enough for each other, and
 * an idle one stops spinning. */
static void spin_learn(struct kx_ring *r, uint64_t waited)
{
    if (!r->spin_max || waited >= r->spin_max)
        return;
    uint64_t s = waited * 2 < SPIN_MIN_NS ? SPIN_MIN_NS : waited * 2;
    if (s > r->spin_max)
        s = r->spin_max;
    if (s > r->spin_ns)
        r->spin_ns = (uint32_t)s;
}

/* Spins, then sleeps on word until ready(), the peer's departure or the
 * deadline. */
static kx_status await(struct kx_ring *r, _Atomic uint32_t *word, ready_fn ready,
                       const uint64_t need[2], uint64_t deadline)
{
    int k = ready(r, need);
    if (k)
        return k > 0 ? STATUS_SUCCESS : r->broken;
    if (peer_gone(r))
        return STATUS_RING_PEER_GONE;
    if (deadline == KX_RING_NOWAIT)
        return STATUS_TIMEOUT;
    uint64_t start = kx_plat_monotonic_ns();
    if (r->spin_ns) {
        /* Each side says where it waits. A spinner whose peer last waited
         * on the same CPU yields now and then: the peer may be waiting for
         * this very CPU, and a yield hands it over for far less than a sleep
         * and a wake-up. Otherwise it never yields: a spinner that gives up
         * its CPU on a busy machine loses the co-scheduling that makes the
         * spin pay. */
        int cpu = kx_plat_cpu();
        atomic_store_explicit(&r->tx.d->cpu, cpu, memory_order_relaxed);
        uint64_t until = start + r->spin_ns;
        for (unsigned i = 1;; i++) {
            kx_plat_cpu_relax();
            if ((k = ready(r, need)))
                return k > 0 ? STATUS_SUCCESS : r->broken;
            if (i % 64 == 0) {
                uint64_t now = kx_plat_monotonic_ns();
                if (now >= until || now >= deadline || peer_gone(r))
                    break;
                if (atomic_load_explicit(&r->rx.d->cpu, memory_order_relaxed) == cpu)
                    kx_plat_yield();
            }
        }
        r->spin_ns = r->spin_ns / 2 < SPIN_MIN_NS ? 0 : r->spin_ns / 2;
    }
    uint32_t tag = r->watch_fd >= 0 ? KX_RING_SLEEP_EVENT : KX_RING_SLEEP_FUTEX;
    for (;;) {
        atomic_store_explicit(word, tag, memory_order_seq_cst);
        k = ready(r, need);
        if (k || peer_gone(r)) {
            /* A waker that already took the word leaves a stale wake-up at
             * most: the next sleep returns early and looks again. */
            atomic_store_explicit(word, KX_RING_AWAKE, memory_order_relaxed);
            return k > 0 ? STATUS_SUCCESS : k < 0 ? r->broken : STATUS_RING_PEER_GONE;
        }
        kx_status st;
        if (tag == KX_RING_SLEEP_FUTEX) {
            st = kx_plat_futex_wait_shared(word, tag, deadline == KX_RING_FOREVER ? 0 : deadline);
        } else {
            int fds[2] = {r->efd[r->side], r->watch_fd};
            uint32_t ev[2] = {KX_POLL_IN, r->watch_events}, rev[2];
            st = kx_plat_wait_fds(fds, ev, rev, 2, deadline == KX_RING_FOREVER ? 0 : deadline);
            if (rev[0])
                kx_plat_waker_drain(r->efd[r->side]);
            if (rev[1])
                atomic_store_explicit(&r->peer_lost, 1, memory_order_seq_cst);
        }
        atomic_store_explicit(word, KX_RING_AWAKE, memory_order_relaxed);
        spin_learn(r, kx_plat_monotonic_ns() - start);
        if (st == STATUS_TIMEOUT) {
            if ((k = ready(r, need)))
                return k > 0 ? STATUS_SUCCESS : r->broken;
            return peer_gone(r) ? STATUS_RING_PEER_GONE : STATUS_TIMEOUT;
        }
        if (st != STATUS_SUCCESS)
            return st;
    }
}

/* ---- the consumer -------------------------------------------------------- */

/* Records published? Reads the producer's tail and checks it: a multiple of
 * REC_ALIGN, not behind what was seen before, at most a ring ahead of head. */
static int rx_ready(struct kx_ring *r, const uint64_t need[2])
{
    (void)need;
    struct rx *x = &r->rx;
    uint64_t t = atomic_load_explicit(&x->d->tail, memory_order_seq_cst);
    if (t == x->tail)
        return x->tail != x->head;
    if (t - x->head > r->ring_bytes || t - x->head < x->tail - x->head || t % REC_ALIGN) {
        corrupt(r, "the peer's tail %llu is not within %u bytes after head %llu (last tail %llu)",
                (unsigned long long)t, r->ring_bytes, (unsigned long long)x->head,
                (unsigned long long)x->tail);
        return -1;
    }
    x->tail = t;
    return 1;
}

/* The bulk span a bulk record points at, checked against what the producer
 * can have written: after the spans already received, inside the area, at
 * most an area ahead of what was released. */
static const void *bulk_span(struct kx_ring *r, uint64_t at, const void *inl, uint32_t len)
{
    struct rx *x = &r->rx;
    struct kx_ring_bulk_ref ref;
    memcpy(&ref, inl, sizeof ref);
    uint64_t off = ref.pos & ((uint64_t)r->bulk_bytes - 1);
    if (!r->bulk_bytes || ref.len != len || ref.pos - x->bulk_end > r->bulk_bytes ||
        off + len > r->bulk_bytes || ref.pos + len - x->bulk_pub > r->bulk_bytes) {
        corrupt(r,
                "record at %llu: bulk span %llu+%u is outside the %u-byte area "
                "(received up to %llu, released up to %llu)",
                (unsigned long long)at, (unsigned long long)ref.pos, ref.len, r->bulk_bytes,
                (unsigned long long)x->bulk_end, (unsigned long long)x->bulk_pub);
        return NULL;
    }
    x->bulk_end = ref.pos + len;
    return x->bulk + off;
}

kx_status kx_ring_recv(struct kx_ring *r, struct kx_ring_rec *recs, size_t max, size_t *n,
                       uint64_t deadline)
{
    struct rx *x = &r->rx;
    *n = 0;
    if (r->broken != STATUS_SUCCESS)
        return r->broken;
    const uint64_t mask = (uint64_t)r->ring_bytes - 1;
    while (*n == 0 && max > 0) {
        if (x->head == x->tail) {
            kx_status st = await(r, &x->d->cons_sleep, rx_ready, NULL, deadline);
            if (st != STATUS_SUCCESS)
                return st;
        }
        while (*n < max && x->head != x->tail) {
            uint64_t off = x->head & mask, avail = x->tail - x->head;
            struct kx_ring_rec_hdr h;
            memcpy(&h, x->buf + off, sizeof h);
            if (h.type == KX_RING_TYPE_PAD) {
                /* A producer writes a pad together with the record after
                 * it, so a pad is never the last one published: every pass
                 * of this loop consumes a record, and a peer can't keep a
                 * receiver busy on pads past its deadline. */
                uint64_t rest = r->ring_bytes - off;
                if (h.len != rest - sizeof h || rest >= avail)
                    return corrupt(r,
                                   "pad record at %llu says %u bytes; the ring ends %llu later "
                                   "and %llu are published",
                                   (unsigned long long)x->head, h.len,
                                   (unsigned long long)(rest - sizeof h),
                                   (unsigned long long)avail);
                x->head += rest;
                continue;
            }
            int bulk = (h.type & KX_RING_TYPE_BULK) != 0;
            uint64_t inl = bulk ? sizeof(struct kx_ring_bulk_ref) : h.len;
            uint64_t total = (sizeof h + inl + REC_ALIGN - 1) & ~(uint64_t)(REC_ALIGN - 1);
            if (total > avail || off + total > r->ring_bytes)
                return corrupt(r,
                               "record at %llu (type %#x) claims %llu bytes; %llu are published "
                               "and the ring ends %llu later",
                               (unsigned long long)x->head, h.type, (unsigned long long)total,
                               (unsigned long long)avail,
                               (unsigned long long)(r->ring_bytes - off));
            const void *data = x->buf + off + sizeof h;
            if (bulk && !(data = bulk_span(r, x->head, data, h.len)))
                return r->broken;
            recs[*n].type = h.type & ~KX_RING_TYPE_BULK;
            recs[*n].len = h.len;
            recs[*n].id = h.id;
            recs[*n].data = data;
            (*n)++;
            x->head += total;
        }
    }
    return STATUS_SUCCESS;
}

void kx_ring_release(struct kx_ring *r)
{
    struct rx *x = &r->rx;
    if (r->broken != STATUS_SUCCESS || x->pub == x->head)
        return;
    /* bulk_head first: a producer that sees the new head sees it too. */
    atomic_store_explicit(&x->d->bulk_head, x->bulk_end, memory_order_release);
    atomic_store_explicit(&x->d->head, x->head, memory_order_seq_cst);
    x->pub = x->head;
    x->bulk_pub = x->bulk_end;
    wake(&x->d->prod_sleep, r->efd[1 - r->side]);
}

int kx_ring_arm(struct kx_ring *r)
{
    _Atomic uint32_t *word = &r->rx.d->cons_sleep;
    if (r->broken != STATUS_SUCCESS || r->rx.head != r->rx.tail)
        return 1;
    kx_plat_waker_drain(r->efd[r->side]); /* a wake-up already consumed by this poll */
    /* The same announcement as a sleep in await, and the same re-check. */
    atomic_store_explicit(word, KX_RING_SLEEP_EVENT, memory_order_seq_cst);
    if (rx_ready(r, NULL) || peer_gone(r)) {
        atomic_store_explicit(word, KX_RING_AWAKE, memory_order_relaxed);
        return 1;
    }
    return 0;
}

int kx_ring_wake_fd(const struct kx_ring *r)
{
    return r->efd[r->side];
}

int kx_ring_arm_keep(struct kx_ring *r)
{
    if (r->broken != STATUS_SUCCESS || r->rx.head != r->rx.tail)
        return 1;
    atomic_store_explicit(&r->rx.d->cons_sleep, KX_RING_SLEEP_EVENT, memory_order_seq_cst);
    if (rx_ready(r, NULL) || peer_gone(r)) {
        atomic_store_explicit(&r->rx.d->cons_sleep, KX_RING_AWAKE, memory_order_relaxed);
        return 1;
    }
    return 0;
}

int kx_ring_armed(const struct kx_ring *r)
{
    return atomic_load_explicit(&r->rx.d->cons_sleep, memory_order_seq_cst) ==
           KX_RING_SLEEP_EVENT;
}

void kx_ring_disarm(struct kx_ring *r)
{
    atomic_store_explicit(&r->rx.d->cons_sleep, KX_RING_AWAKE, memory_order_relaxed);
}

/* ---- the producer -------------------------------------------------------- */

/* Room for need[0] ring bytes and need[1] bulk bytes? Re-reads the
 * consumer's head and bulk_head only when the cached ones say no, and checks
 * them: not behind what was seen, not past what was published. */
static int tx_ready(struct kx_ring *r, const uint64_t need[2])
{
    struct tx *x = &r->tx;
    for (int fresh = 0;; fresh = 1) {
        if (x->tail + need[0] - x->head <= r->ring_bytes &&
            x->bulk_tail + need[1] - x->bulk_head <= r->bulk_bytes)
            return 1;
        if (fresh)
            return 0;
        uint64_t h = atomic_load_explicit(&x->d->head, memory_order_seq_cst);
        uint64_t bh = atomic_load_explicit(&x->d->bulk_head, memory_order_acquire);
        if (h - x->head > x->pub - x->head || bh - x->bulk_head > x->bulk_pub - x->bulk_head) {
            corrupt(r,
                    "the peer's head %llu / bulk head %llu are not between %llu and %llu / "
                    "%llu and %llu",
                    (unsigned long long)h, (unsigned long long)bh, (unsigned long long)x->head,
                    (unsigned long long)x->pub, (unsigned long long)x->bulk_head,
                    (unsigned long long)x->bulk_pub);
            return -1;
        }
        x->head = h;
        x->bulk_head = bh;
    }
}

size_t kx_ring_tx_room(struct kx_ring *r)
{
    struct tx *x = &r->tx;
    /* More than the ring can ever hold: tx_ready re-reads and checks head. */
    const uint64_t everything[2] = {(uint64_t)r->ring_bytes + 1, 0};
    if (r->broken != STATUS_SUCCESS || tx_ready(r, everything) < 0)
        return 0;
    return r->ring_bytes - (size_t)(x->tail - x->head);
}

static void put_hdr(uint8_t *at, uint32_t type, uint32_t len, uint64_t id)
{
    struct kx_ring_rec_hdr h = {type, len, id};
    memcpy(at, &h, sizeof h);
}

kx_status kx_ring_reserve(struct kx_ring *r, uint32_t type, uint64_t id, size_t len,
                          uint64_t deadline, void **payload)
{
    struct tx *x = &r->tx;
    *payload = NULL;
    if (r->broken != STATUS_SUCCESS)
        return r->broken;
    if (type >= KX_RING_TYPE_BULK)
        return STATUS_INVALID_PARAMETER;
    if (peer_gone(r))
        return STATUS_RING_PEER_GONE;
    int bulk = len > KX_RING_INLINE_MAX && r->bulk_bytes;
    uint64_t inl = bulk ? sizeof(struct kx_ring_bulk_ref) : len;
    uint64_t total =
        (sizeof(struct kx_ring_rec_hdr) + inl + REC_ALIGN - 1) & ~(uint64_t)(REC_ALIGN - 1);
    uint64_t span = bulk ? (len + BULK_ALIGN - 1) & ~(uint64_t)(BULK_ALIGN - 1) : 0;
    /* At most half: then it fits once the consumer has caught up, wherever
     * the tail stands (what is skipped at the end is shorter than it). */
    if (total > r->ring_bytes / 2 || span > r->bulk_bytes / 2)
        return STATUS_BUFFER_TOO_SMALL;
    uint64_t off = x->tail & ((uint64_t)r->ring_bytes - 1);
    uint64_t pad = r->ring_bytes - off < total ? r->ring_bytes - off : 0;
    uint64_t boff = bulk ? x->bulk_tail & ((uint64_t)r->bulk_bytes - 1) : 0;
    uint64_t bpad = bulk && r->bulk_bytes - boff < span ? r->bulk_bytes - boff : 0;
    const uint64_t need[2] = {pad + total, bpad + span};
    if (tx_ready(r, need) <= 0) {
        kx_status st = kx_ring_commit(r); /* the consumer must see what is reserved */
        if (st == STATUS_SUCCESS)
            st = await(r, &x->d->prod_sleep, tx_ready, need, deadline);
        if (st != STATUS_SUCCESS)
            return st;
    }
    if (pad) {
        put_hdr(x->buf + off, KX_RING_TYPE_PAD, (uint32_t)(pad - sizeof(struct kx_ring_rec_hdr)),
                0);
        x->tail += pad;
        off = 0;
    }
    uint8_t *rec = x->buf + off;
    /* The consumer read these lines last: ask for them ahead of the stores
     * that would otherwise each wait for a line from its CPU. */
    kx_plat_prefetch_write(x->buf + ((off + 256) & ((uint64_t)r->ring_bytes - 1)));
    if (bulk) {
        x->bulk_tail += bpad;
        struct kx_ring_bulk_ref ref = {x->bulk_tail, (uint32_t)len, 0};
        memcpy(rec + sizeof(struct kx_ring_rec_hdr), &ref, sizeof ref);
        *payload = x->bulk + (x->bulk_tail & ((uint64_t)r->bulk_bytes - 1));
        x->bulk_tail += span;
        type |= KX_RING_TYPE_BULK;
    } else
        *payload = rec + sizeof(struct kx_ring_rec_hdr);
    put_hdr(rec, type, (uint32_t)len, id);
    x->tail += total;
    return STATUS_SUCCESS;
}

kx_status kx_ring_send(struct kx_ring *r, uint32_t type, uint64_t id, const void *data, size_t len,
                       uint64_t deadline)
{
    void *p;
    kx_status st = kx_ring_reserve(r, type, id, len, deadline, &p);
    if (st == STATUS_SUCCESS && len)
        memcpy(p, data, len);
    return st;
}

kx_status kx_ring_commit(struct kx_ring *r)
{
    struct tx *x = &r->tx;
    if (r->broken != STATUS_SUCCESS)
        return r->broken;
    if (x->pub == x->tail)
        return STATUS_SUCCESS;
    /* The records' bytes, then the tail (release, and seq_cst against the
     * consumer's sleep announcement), then the sleep word. */
    atomic_store_explicit(&x->d->tail, x->tail, memory_order_seq_cst);
    x->pub = x->tail;
    x->bulk_pub = x->bulk_tail;
    wake(&x->d->cons_sleep, r->efd[1 - r->side]);
    return STATUS_SUCCESS;
}

void kx_ring_close(struct kx_ring *r)
{
    if (!r)
        return;
    if (r->shm) {
        /* Closed first, then the peer's words: a peer about to sleep either
         * sees the flag or is woken (the same argument as for an index). */
        atomic_store_explicit(&r->shm->closed[r->side], 1, memory_order_seq_cst);
        wake(&r->tx.d->cons_sleep, r->efd[1 - r->side]);
        wake(&r->rx.d->prod_sleep, r->efd[1 - r->side]);
    }
    ring_free(r);
}
