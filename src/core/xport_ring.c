/* xport_ring.c — the transport on a pair of shared-memory rings (ring.h).
 *
 * Each kx_xrec travels as one ring record whose payload is the 40-byte
 * header and the record's payload (inline in the ring when small, in the bulk
 * area when not). A record too large for one ring record goes in pieces: a
 * PIECE_FIRST record with the header and the start, then PIECE_MORE records
 * with the rest, which the receiver joins. A batch costs one commit (one
 * wake-up, and only if the receiver sleeps); the receiver copies what one
 * kx_ring_recv returned into its batch buffer and hands the ring space back
 * at once, so the host's records are checked in private memory, never read
 * twice from memory the peer can change.
 *
 * Waiting: the receiving thread sleeps in the ring (the side's eventfd and
 * the socket's hang-up), the only sleeper on that eventfd: a sender that
 * finds the ring full does not sleep there too (two pollers of one eventfd
 * can take each other's wake-up) but retries with a growing pause, looking
 * at the socket for the peer's death in between. A full ring is the back
 * pressure of a peer that stopped reading, not the common case.
 *
 * Consumers taking turns (xport.h poll_*): a thread waiting for an answer
 * polls the ring itself, so the answer needs no wake-up of the receiving
 * thread and no hop through it. One turn word says who receives and
 * handles now (recv's caller, or a poller); while pollers poll, the
 * receiving thread sleeps on its eventfd without asking the peer to signal
 * it (the ring is disarmed), and the last poller to leave re-arms the ring,
 * signalling the eventfd itself if records came meanwhile (when it finds
 * the turn taken, the turn's holder arms; a receiving thread that armed
 * looks again if a poller disarmed the ring before it slept). The receiving
 * thread always watches the socket, so the peer's death wakes it anyway;
 * asleep unarmed it also looks for itself every millisecond, as a poller
 * may keep its place through a long routine. A sender that collects after
 * sending (xport.h collect) takes the turn without disarming; while
 * collects find records the receiving thread disarms the ring and looks
 * every 5-100 us instead of being woken, and arms it again once a look
 * finds that no collect took anything.
 */
#include "ring.h"
#include "xport.h"

#include "plat.h"
#include "plat_poll.h"
#include "plat_shm.h"
#include "plat_sync.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PIECE_WHOLE = 1, PIECE_FIRST = 2, PIECE_MORE = 3 };

#define RECV_MAX        128
#define BATCH_MIN       (64u << 10)
#define BATCH_KEEP      (4u << 20) /* a buffer grown past this for a large record is let go */
#define PAUSE_FIRST_NS  2000u
#define PAUSE_MAX_NS    ((uint64_t)1000 * 1000)
/* How often a receiving thread asleep unarmed looks for itself: a poller
 * may keep its turn through a long routine (xport.h poll_begin). */
#define UNARMED_LOOK_NS 1000000u /* 1 ms */
/* While collects take the records, the receiving thread sleeps unarmed and
 * looks for itself after this long: shorter when it finds records left,
 * longer when it finds none. */
#define COLLECT_LOOK_MIN_NS 5000u
#define COLLECT_LOOK_MAX_NS 100000u
/* A look that finds records shortens the next one only when collects took
 * fewer batches than this meanwhile: a thread that collects steadily leaves
 * a few for the look (it runs on that thread's CPU, which is then not
 * collecting), and looking sooner would only take its CPU more often. */
#define COLLECTS_PER_LOOK 4u

struct xring {
    struct kx_xport x; /* first */
    struct kx_ring *r;
    int sock;
    size_t piece_max;          /* the largest ring record payload this side sends */
    pthread_mutex_t send_lock; /* the ring has one producer; the senders take turns */
    char why[160];             /* a malformed record (the ring's own checks say the rest) */
    kx_status failed;          /* the receiver's: the next recv says so */
    _Atomic uintptr_t turn;    /* the consumer receiving and handling now (0: none) */
    int recv_turn;             /* recv's caller still has the turn (its batch) */
    _Atomic uint32_t pollers;  /* threads polling in place of the receiving one */
    _Atomic int kicked;
    _Atomic uint32_t collected; /* collects that took records since recv last looked */
    uint64_t look_ns;           /* recv's: its next unarmed sleep while collects take records */
};

/* A thread's token for the turn word: the address of something of its own. */
static _Thread_local char turn_token;

static int turn_try(struct xring *s)
{
    uintptr_t free_turn = 0;
    return atomic_compare_exchange_strong(&s->turn, &free_turn, (uintptr_t)&turn_token);
}

static int turn_mine(struct xring *s)
{
    return atomic_load_explicit(&s->turn, memory_order_relaxed) == (uintptr_t)&turn_token;
}

/* Turns are short (one batch handled), so a waiter spins, yielding now and then. */
static void turn_take(struct xring *s)
{
    for (unsigned i = 1; !turn_try(s); i++) {
        if (i % 64)
            kx_plat_cpu_relax();
        else
            kx_plat_yield();
    }
}

static void turn_give(struct xring *s)
{
    atomic_store_explicit(&s->turn, 0, memory_order_seq_cst);
}

static size_t padded(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static kx_status broken(struct xring *s, const char *fmt, unsigned long long a,
                        unsigned long long b)
{
    if (!s->why[0])
        snprintf(s->why, sizeof s->why, fmt, a, b);
    return STATUS_RING_CORRUPT;
}

/* ==== sending =============================================================== */

/* Copies len bytes of the record's payload, from offset off, to dst. */
static void gather(unsigned char *dst, const struct kx_xout *o, size_t off, size_t len)
{
    if (off < o->payload_len) {
        size_t k = o->payload_len - off < len ? o->payload_len - off : len;
        memcpy(dst, (const unsigned char *)o->payload + off, k);
        dst += k;
        off += k;
        len -= k;
    }
    if (len)
        memcpy(dst, (const unsigned char *)o->payload2 + (off - o->payload_len), len);
}

/* 1 when the peer's end of the socket hung up. */
static int sock_gone(struct xring *s)
{
    uint32_t ev = KX_POLL_HUP, rev = 0;
    kx_plat_wait_fds(&s->sock, &ev, &rev, 1, 1); /* a deadline already past: just look */
    return rev != 0;
}

/* A ring record of len bytes, waiting with growing pauses while the ring is
 * full (reserve publishes what is already reserved before it says so). */
static kx_status reserve(struct xring *s, uint32_t type, size_t len, unsigned char **at)
{
    uint64_t pause = PAUSE_FIRST_NS;
    for (;;) {
        void *p;
        kx_status st = kx_ring_reserve(s->r, type, 0, len, KX_RING_NOWAIT, &p);
        if (st != STATUS_TIMEOUT) {
            *at = p;
            return st;
        }
        if (sock_gone(s)) {
            kx_ring_peer_lost(s->r);
            return STATUS_RING_PEER_GONE;
        }
        kx_plat_sleep_ns(pause);
        pause = pause * 2 > PAUSE_MAX_NS ? PAUSE_MAX_NS : pause * 2;
    }
}

static kx_status send_one(struct xring *s, const struct kx_xout *o)
{
    size_t total = o->payload_len + o->payload2_len;
    if (total > KX_XPORT_MAX_RECORD)
        return STATUS_INVALID_PARAMETER;
    struct kx_xrec h = o->hdr;
    h.len = (uint32_t)total;
    size_t first = sizeof h + total <= s->piece_max ? total : s->piece_max - sizeof h;
    unsigned char *at;
    kx_status st =
        reserve(s, first == total ? PIECE_WHOLE : PIECE_FIRST, sizeof h + first, &at);
    if (st != STATUS_SUCCESS)
        return st;
    memcpy(at, &h, sizeof h);
    gather(at + sizeof h, o, 0, first);
    for (size_t off = first; off < total; off += s->piece_max) {
        size_t k = total - off < s->piece_max ? total - off : s->piece_max;
        if ((st = reserve(s, PIECE_MORE, k, &at)) != STATUS_SUCCESS)
            return st;
        gather(at, o, off, k);
    }
    return STATUS_SUCCESS;
}

static kx_status xr_send(struct kx_xport *x, const struct kx_xout *recs, size_t n)
{
    struct xring *s = (struct xring *)x;
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&s->send_lock);
    for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++)
        st = send_one(s, &recs[i]);
    kx_status cst = kx_ring_commit(s->r);
    pthread_mutex_unlock(&s->send_lock);
    if (st == STATUS_SUCCESS)
        st = cst;
    if (st == STATUS_RING_CORRUPT)
        kx_ring_peer_lost(s->r); /* the receiving thread learns it too */
    else if (st == STATUS_RING_PEER_GONE)
        st = STATUS_CONNECTION_LOST;
    return st;
}

/* ==== receiving ============================================================= */

/* Room for need more bytes in b (grown, keeping what is there). */
static int room(struct kx_xbatch *b, size_t need)
{
    if (b->cap - b->len >= need)
        return 1;
    size_t cap = b->cap ? b->cap : BATCH_MIN;
    while (cap - b->len < need)
        cap *= 2;
    unsigned char *p = realloc(b->buf, cap);
    if (!p)
        return 0;
    b->buf = p;
    b->cap = cap;
    return 1;
}

/* A record being joined from pieces: where its next piece goes and how much
 * is missing. */
struct joining {
    size_t at, missing, end;
};

static kx_status take(struct xring *s, struct kx_xbatch *b, const struct kx_ring_rec *rec,
                      struct joining *j)
{
    struct kx_xrec h;
    if (rec->type == PIECE_MORE) {
        if (!j->missing || rec->len > j->missing)
            return broken(s, "a piece of %llu bytes where %llu were missing",
                          (unsigned long long)rec->len, (unsigned long long)j->missing);
        memcpy(b->buf + j->at, rec->data, rec->len);
        j->at += rec->len;
        j->missing -= rec->len;
        if (!j->missing) {
            memset(b->buf + j->at, 0, j->end - j->at);
            b->len = j->end;
        }
        return STATUS_SUCCESS;
    }
    if (j->missing || (rec->type != PIECE_WHOLE && rec->type != PIECE_FIRST) ||
        rec->len < sizeof h)
        return broken(s, "record type %llu of %llu bytes where a record was due",
                      (unsigned long long)rec->type, (unsigned long long)rec->len);
    memcpy(&h, rec->data, sizeof h);
    size_t part = rec->len - sizeof h;
    if (rec->type == PIECE_WHOLE ? h.len != part : h.len <= part || h.len > KX_XPORT_MAX_RECORD)
        return broken(s, "a record says %llu payload bytes and brings %llu",
                      (unsigned long long)h.len, (unsigned long long)part);
    size_t size = sizeof h + padded(h.len);
    if (!room(b, size))
        return STATUS_INSUFFICIENT_RESOURCES;
    unsigned char *dst = b->buf + b->len;
    memcpy(dst, &h, sizeof h);
    memcpy(dst + sizeof h, (const unsigned char *)rec->data + sizeof h, part);
    if (rec->type == PIECE_FIRST) {
        *j = (struct joining){b->len + sizeof h + part, h.len - part, b->len + size};
        return STATUS_SUCCESS;
    }
    memset(dst + sizeof h + part, 0, padded(h.len) - h.len);
    b->len += size;
    return STATUS_SUCCESS;
}

static kx_status lost(struct xring *s, kx_status st)
{
    if (st == STATUS_RING_CORRUPT || s->why[0] || kx_ring_error(s->r)[0])
        return STATUS_RING_CORRUPT;
    return STATUS_CONNECTION_LOST;
}

/* Empties b for a new batch (a buffer grown large for one record is let go). */
static kx_status batch_reset(struct kx_xbatch *b)
{
    if (b->cap > BATCH_KEEP) {
        free(b->buf);
        b->buf = NULL;
        b->cap = 0;
    }
    b->len = b->off = 0;
    return room(b, BATCH_MIN / 2) ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

/* What has arrived, into b: STATUS_TIMEOUT when nothing has. A record that
 * came in part is waited for whole. The caller has the turn. */
static kx_status receive(struct xring *s, struct kx_xbatch *b)
{
    if (s->failed != STATUS_SUCCESS)
        return s->failed;
    kx_status st = batch_reset(b);
    if (st != STATUS_SUCCESS)
        return st;
    struct joining j = {0, 0, 0};
    for (;;) {
        struct kx_ring_rec recs[RECV_MAX];
        size_t n;
        st = kx_ring_recv(s->r, recs, RECV_MAX, &n, j.missing ? KX_RING_FOREVER : KX_RING_NOWAIT);
        if (st == STATUS_TIMEOUT && !j.missing)
            return st;
        if (st != STATUS_SUCCESS)
            return lost(s, st);
        for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++)
            st = take(s, b, &recs[i], &j);
        kx_ring_release(s->r);
        if (st != STATUS_SUCCESS) {
            /* Nothing more is read from this peer; the whole records before
             * the bad one still count (each answer arrives exactly once). */
            kx_ring_peer_lost(s->r);
            s->failed = st == STATUS_RING_CORRUPT ? st : lost(s, st);
            return b->len ? STATUS_SUCCESS : s->failed;
        }
        if (!j.missing)
            return STATUS_SUCCESS;
    }
}

/* Sleeps until the eventfd is signalled, the peer's socket hangs up or
 * deadline (0: none). */
static void sleep_ring(struct xring *s, uint64_t deadline)
{
    int fds[2] = {kx_ring_wake_fd(s->r), s->sock};
    uint32_t ev[2] = {KX_POLL_IN, KX_POLL_HUP}, rev[2] = {0, 0};
    kx_plat_wait_fds(fds, ev, rev, 2, deadline);
    if (rev[0])
        kx_plat_waker_drain(fds[0]);
    if (rev[1])
        kx_ring_peer_lost(s->r);
}

static kx_status xr_recv(struct kx_xport *x, struct kx_xbatch *b)
{
    struct xring *s = (struct xring *)x;
    int looked = 0; /* woken by its own timer while collects took the records */
    for (;;) {
        if (!s->recv_turn)
            turn_take(s);
        s->recv_turn = 1;
        kx_status st = receive(s, b);
        if (looked) { /* what the look found, and what collects took meanwhile, tune the next */
            uint32_t c = atomic_load_explicit(&s->collected, memory_order_relaxed);
            s->look_ns = st == STATUS_SUCCESS && c < COLLECTS_PER_LOOK ? s->look_ns / 2
                                                                        : s->look_ns * 2;
        }
        looked = 0;
        if (st == STATUS_SUCCESS)
            return st; /* the turn stays with the caller while it handles b */
        int armed = 0;
        uint64_t look = 0;
        if (st == STATUS_TIMEOUT && !atomic_load(&s->pollers)) {
            if (atomic_exchange(&s->collected, 0)) {
                /* Collects take the records: the peer need not wake this
                 * thread for them, which looks now and then instead. */
                kx_ring_disarm(s->r);
                if (s->look_ns < COLLECT_LOOK_MIN_NS)
                    s->look_ns = COLLECT_LOOK_MIN_NS;
                if (s->look_ns > COLLECT_LOOK_MAX_NS)
                    s->look_ns = COLLECT_LOOK_MAX_NS;
                look = s->look_ns;
            } else if (kx_ring_arm_keep(s->r)) {
                continue; /* records came, or the peer went: look again */
            } else {
                armed = 1;
            }
        }
        s->recv_turn = 0;
        turn_give(s);
        if (st != STATUS_TIMEOUT)
            return st;
        if (atomic_exchange(&s->kicked, 0))
            return STATUS_TIMEOUT;
        /* The last poller may have left between the look and the give,
         * finding the turn taken: then arming is this thread's job. */
        if (!armed && !look && !atomic_load(&s->pollers))
            continue;
        /* A poller that came between this thread's arming and the give
         * disarmed the ring, and may have left again finding the turn taken,
         * leaving the arming to this thread: an armed sleep without a
         * timeout would then never be woken (found by tests/soak: hosts
         * killed as hung with requests waiting in their ring). */
        if (armed && !kx_ring_armed(s->r))
            continue;
        uint64_t now = armed ? 0 : kx_plat_monotonic_ns();
        sleep_ring(s, armed ? 0 : now + (look ? look : UNARMED_LOOK_NS));
        looked = look && kx_plat_monotonic_ns() - now >= look;
        if (atomic_exchange(&s->kicked, 0))
            return STATUS_TIMEOUT;
    }
}

static void xr_poll_begin(struct kx_xport *x)
{
    struct xring *s = (struct xring *)x;
    /* The receiving thread arms the ring only when it sees no pollers: an
     * arm that crosses this disarm costs one spurious wake-up, no more. */
    atomic_fetch_add(&s->pollers, 1);
    kx_ring_disarm(s->r);
}

static kx_status xr_poll(struct kx_xport *x, struct kx_xbatch *b)
{
    struct xring *s = (struct xring *)x;
    if (!turn_try(s))
        return STATUS_TIMEOUT; /* another consumer's turn (or this thread's, further up) */
    kx_status st = receive(s, b);
    if (st != STATUS_SUCCESS)
        turn_give(s);
    return st;
}

static kx_status xr_collect(struct kx_xport *x, struct kx_xbatch *b)
{
    struct xring *s = (struct xring *)x;
    if (!turn_try(s))
        return STATUS_TIMEOUT;
    kx_status st = receive(s, b);
    if (st != STATUS_SUCCESS) {
        turn_give(s);
        return st;
    }
    atomic_fetch_add_explicit(&s->collected, 1, memory_order_relaxed);
    return st;
}

static void xr_poll_done(struct kx_xport *x)
{
    turn_give((struct xring *)x);
}

static void xr_poll_end(struct kx_xport *x)
{
    struct xring *s = (struct xring *)x;
    if (atomic_fetch_sub(&s->pollers, 1) != 1 || turn_mine(s))
        return;
    /* The last one: the receiving thread must be woken by the peer again.
     * Who has the turn now (recv's caller) arms the ring before it sleeps. */
    if (!turn_try(s))
        return;
    int ready = !atomic_load(&s->pollers) && kx_ring_arm_keep(s->r);
    turn_give(s);
    if (ready)
        kx_plat_waker_signal(kx_ring_wake_fd(s->r));
}

static void xr_kick(struct kx_xport *x)
{
    struct xring *s = (struct xring *)x;
    atomic_store(&s->kicked, 1);
    kx_plat_waker_signal(kx_ring_wake_fd(s->r));
}

static size_t xr_room(struct kx_xport *x)
{
    struct xring *s = (struct xring *)x;
    pthread_mutex_lock(&s->send_lock);
    size_t bytes = kx_ring_tx_room(s->r);
    pthread_mutex_unlock(&s->send_lock);
    /* A ring record: its 16-byte header, the record, rounded to 16; twice
     * that, for the end of the ring it may have to skip. */
    return bytes / ((size_t)2 * (16 + KX_XPORT_ROOM_RECORD));
}

static void xr_wake(struct kx_xport *x)
{
    struct xring *s = (struct xring *)x;
    kx_ring_peer_lost(s->r);
    kx_plat_waker_signal(kx_ring_wake_fd(s->r)); /* also a recv asleep unarmed */
}

static void xr_free(struct kx_xport *x)
{
    struct xring *s = (struct xring *)x;
    if (!s)
        return;
    kx_ring_close(s->r);
    kx_plat_close(s->sock);
    pthread_mutex_destroy(&s->send_lock);
    free(s);
}

static const char *xr_error(struct kx_xport *x)
{
    struct xring *s = (struct xring *)x;
    return s->why[0] ? s->why : kx_ring_error(s->r);
}

static const struct kx_xport_ops xring_ops = {
    xr_send,      xr_recv,     xr_wake, xr_free, xr_error,  xr_poll_begin, xr_poll,
    xr_poll_done, xr_poll_end, xr_kick, xr_room, xr_collect};

kx_status kx_xport_ring_new(struct kx_ring *r, int sock, struct kx_xport **out)
{
    *out = NULL;
    struct xring *s = calloc(1, sizeof *s);
    if (!s || pthread_mutex_init(&s->send_lock, NULL)) {
        free(s);
        kx_ring_close(r);
        kx_plat_close(sock);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    s->x.ops = &xring_ops;
    s->r = r;
    s->sock = sock;
    /* A quarter of what one record may take (ring.h: half the bulk area, or
     * half the ring without one), so a piece fits wherever the tail stands.
     * Read once: after this only the ring's private copies count. */
    const struct kx_ring_shm *shm = kx_ring_shared(r);
    uint32_t area = shm->bulk_bytes ? shm->bulk_bytes : shm->ring_bytes;
    s->piece_max = area / 4;
    kx_ring_watch_socket(r, sock);
    *out = &s->x;
    return STATUS_SUCCESS;
}
