/* hostproc.c — the manager's end of a separate driver host: a kx-host
 * process started for one driver, and the two threads that carry host.h's
 * messages over the transport (host_proto.h).
 *
 *   sender  "kx-hs-<name>"  pops the records the manager posts (the same
 *           queue and records as an in-process host's dispatch thread),
 *           marks each dispatched (kx__chan_irp_begin) and sends the batch;
 *           on the rings only what a submitter could not send itself
 *           (post_direct: control records, large ones, a full ring, or
 *           anything while earlier posts still wait here)
 *   reader  "kx-hr-<name>"  receives batches and turns them back into
 *           kx__chan_* calls: completions, ends, control answers, and the
 *           driver's synchronous calls (answered with HX_REPLY); on the
 *           rings a synchronous caller receives in its place while it
 *           waits (kx__hostproc_await), an async submitter takes the
 *           answers already there after posting (kx__hostproc_collect),
 *           and the reader sleeps meanwhile
 *   stderr  "kx-he-<name>"  copies the host's stderr to kxd's log, keeping
 *           a sanitizer's SUMMARY line for the report of its death
 *
 * A record sent to the host holds its dispatch reference until the host
 * ends the dispatch (io_irp.proc_disp counts such sends), and its driver
 * reference until the host completes it. When the host dies — the reader
 * sees the socket hang up — every record it held is answered
 * STATUS_DRIVER_PROCESS_TERMINATED through the same claim as every other
 * answer (exactly once: a late completion cannot arrive, the socket is
 * closed), the sender answers instead of sending from then on, and the
 * driver is torn down as a forced unload would (handles revoked, devices and
 * links deleted) without a word to the dead process.
 *
 * The transport (xport.h) is a pair of shared-memory rings by default: kxd
 * makes them, sends their descriptors as the first message on the socket the
 * host was started with, and keeps that socket only to see the host die. A
 * host that breaks the rings (STATUS_RING_CORRUPT) is killed at once and
 * its death handled as any other; KX_IO_HOST_SOCKET keeps everything on the
 * socket instead.
 *
 * Hangs: the host ends dispatches in the order they were sent (one dispatch
 * thread), so it is alive while its count of ended dispatches moves or
 * nothing is outstanding; that count is its heartbeat. The watchdog (wd.c)
 * reads the two counters each tick (nothing is added per request but two
 * relaxed increments and a ring slot naming what was sent); a count that
 * stands still for hang_ms with work outstanding gets the host killed, and
 * its death is then answered STATUS_DRIVER_NOT_RESPONDING instead.
 */
#include "hostproc_int.h"

#include "core/plat.h"
#include "core/plat_mem.h"
#include "core/plat_proc.h"
#include "core/plat_sync.h"
#include "core/ring.h"
#include "core/xport.h"
#include "host_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEND_MAX     64
#define COLLECT_ROUNDS 4 /* batches a submitter takes in the reader's place, at most */
#define REAP_WAIT_MS 2000 /* a stopped host exits at once; a stuck one is killed */
#define RING_BYTES (256u << 10) /* per direction: room for thousands of small records */
#define BULK_BYTES (2u << 20)   /* per direction: large buffers, in 512 KiB pieces at most */

/* How the records of a dead host are answered. */
static kx_status dead_status(struct io_hostproc *hp)
{
    return atomic_load(&hp->hung) ? STATUS_DRIVER_NOT_RESPONDING : STATUS_DRIVER_PROCESS_TERMINATED;
}

/* ==== sending =============================================================== */

/* A record the dead host will never see: answered here. */
static void answer_dead(struct io_hostproc *hp, struct io_irp *r)
{
    struct kx_io *io = hp->io;
    if (r->kind == K_IRP) {
        if (!kx__chan_irp_begin(io, r, NULL))
            return;
        kx__irp_answer_if_first(io, r, dead_status(hp), 0, NULL);
        uint64_t w = atomic_fetch_or_explicit(&r->state, IRP_DRV_DONE, memory_order_acq_rel);
        kx__irp_unref(io, r, (w & IRP_DRV_DONE) ? 1 : 2, NULL);
        return;
    }
    if (r->kind == K_CANCEL)
        kx__chan_irp_end(io, r->u.cancel.target, NULL);
    kx__chan_ctl_done(io, r, r->kind == K_STOP ? STATUS_SUCCESS : dead_status(hp), 0, NULL);
}

/* The provider of a K_ADDDEV/K_REMOVEDEV as a payload (malloc'ed). */
static void *provider_payload(const struct kx_io_provider *p, size_t *len)
{
    const char *s[5] = {p->ioclass, p->personality, p->nub_class, p->nub_name, p->nub_location};
    struct hx_provider hp = {.nub = p->nub, .instance = p->instance, .score = p->score};
    size_t n = sizeof hp;
    for (int i = 0; i < 5; i++) {
        hp.lens[i] = s[i] ? (uint32_t)strlen(s[i]) + 1 : 0;
        n += hp.lens[i];
    }
    unsigned char *buf = malloc(n);
    if (!buf)
        return NULL;
    memcpy(buf, &hp, sizeof hp);
    size_t off = sizeof hp;
    for (int i = 0; i < 5; i++)
        if (s[i]) {
            memcpy(buf + off, s[i], hp.lens[i]);
            off += hp.lens[i];
        }
    *len = n;
    return buf;
}

/* Whether r's system buffer is one of hp's bulk slots: its bytes need not
 * travel. */
static int in_host_slot(const struct io_hostproc *hp, const struct io_irp *r)
{
    return (r->buf_kind & IO_BUF_SLOT) && r->bulk == hp->bulk;
}

/* Adds r to the batch; returns 0 when r needs nothing sent. */
static int marshal(struct io_hostproc *hp, struct io_irp *r, struct kx_xout *o, void **heap)
{
    struct kx_io *io = hp->io;
    uint64_t id = io_irp_id(r, atomic_load_explicit(&r->state, memory_order_relaxed));
    *heap = NULL;
    if (r->kind == K_IRP) {
        if (!kx__chan_irp_begin(io, r, NULL))
            return 0; /* answered while queued */
        const struct io_msg_irp *m = &r->u.msg;
        if (in_host_slot(hp, r)) { /* the bytes are there */
            *o = (struct kx_xout){{HX_IRP, HF_SLOT, 0, id, r->bulk_slot, 0, 0}, m, sizeof *m,
                                  NULL, 0};
            return 1;
        }
        *o = (struct kx_xout){{HX_IRP, 0, 0, id, 0, 0, 0},
                              m,
                              sizeof *m,
                              m->in_len ? (m->buf_inline ? (void *)r->u.inline_buf : r->buf) : NULL,
                              m->in_len};
        return 1;
    }
    if (r->kind == K_EVENT) { /* the message, then name, source and data */
        *o = (struct kx_xout){{HX_EVENT, 0, 0, id, 0, 0, 0}, &r->u.event, sizeof r->u.event,
                              r->buf, r->buf_len};
        return 1;
    }
    *o = (struct kx_xout){{HX_CTL, 0, 0, id, r->kind, 0, 0}, NULL, 0, NULL, 0};
    if (r->kind == K_DEVREL)
        o->hdr.b = r->u.dev_cookie;
    else if (r->kind == K_CANCEL)
        o->hdr.b = io_irp_id(r->u.cancel.target, atomic_load(&r->u.cancel.target->state));
    else if (r->kind == K_ADDDEV || r->kind == K_REMOVEDEV) {
        size_t len = 0;
        *heap = provider_payload(r->u.provider, &len);
        if (!*heap) {
            kx__chan_ctl_done(io, r, STATUS_INSUFFICIENT_RESOURCES, 0, NULL);
            return 0;
        }
        o->payload = *heap;
        o->payload_len = len;
    }
    return 1;
}

/* Whether a marshalled record can travel packed in HX_IRPS. */
static int packable(const struct kx_xout *o)
{
    return o->hdr.type == HX_IRP && !o->hdr.flags && o->payload2_len <= HX_IRPS_INPUT;
}

/* Packs runs of small IRPs in out[0..*n) into HX_IRPS records laid out in
 * stage (room for every record of out packed), in place. */
static void pack(struct kx_xout *out, size_t *n, unsigned char *stage)
{
    size_t w = 0, used = 0;
    for (size_t i = 0; i < *n;) {
        size_t run = 0, bytes = 0;
        while (i + run < *n && packable(&out[i + run]) &&
               bytes + sizeof(struct hx_irp) + HX_PADDED(out[i + run].payload2_len) <= HX_IRPS_BYTES)
            bytes += sizeof(struct hx_irp) + HX_PADDED(out[i + run].payload2_len), run++;
        if (run < 2) {
            out[w++] = out[i++];
            continue;
        }
        unsigned char *at = stage + used;
        for (size_t k = 0, off = 0; k < run; k++) {
            const struct kx_xout *o = &out[i + k];
            struct hx_irp e = {o->hdr.id, *(const struct io_msg_irp *)o->payload};
            memcpy(at + off, &e, sizeof e);
            if (o->payload2_len)
                memcpy(at + off + sizeof e, o->payload2, o->payload2_len);
            memset(at + off + sizeof e + o->payload2_len, 0,
                   HX_PADDED(o->payload2_len) - o->payload2_len);
            off += sizeof e + HX_PADDED(o->payload2_len);
        }
        out[w++] = (struct kx_xout){{HX_IRPS, 0, 0, 0, run, 0, 0}, at, bytes, NULL, 0};
        used += bytes;
        i += run;
    }
    *n = w;
}

/* Marks and sends recs (the caller holds hp->lock); heap[0..k) are to be
 * freed afterwards. A record sent needs no reference of the sender's while
 * the send reads it: the host, which holds its dispatch and driver
 * references, can answer a record only once the send has committed all of
 * it, and the send never reads a record it has committed; a host's death
 * is answered under hp->lock. */
static size_t send_locked(struct io_hostproc *hp, struct io_irp **recs, size_t n, void **heap)
{
    struct kx_xout out[SEND_MAX];
    size_t k = 0;
    int dead = hp->dead;
    for (size_t i = 0; i < n; i++) {
        if (dead) {
            answer_dead(hp, recs[i]);
            continue;
        }
        if (!marshal(hp, recs[i], &out[k], &heap[k]))
            continue;
        atomic_fetch_add_explicit(&recs[i]->proc_disp, 1, memory_order_relaxed);
        uint64_t seq = atomic_load_explicit(&hp->n_sent, memory_order_relaxed);
        uint64_t what = (uint64_t)recs[i]->kind << 40;
        if (recs[i]->kind == K_IRP)
            what |= (uint64_t)recs[i]->u.msg.major << 32 | recs[i]->u.msg.code;
        atomic_store_explicit(&hp->sent[seq % SENT_RING], what, memory_order_relaxed);
        atomic_store_explicit(&hp->n_sent, seq + 1, memory_order_release);
        k++;
    }
    /* A send to a host that just died fails; the reader answers what was
     * marked (it takes this lock before it looks). */
    unsigned char stage[SEND_MAX * (sizeof(struct hx_irp) + HX_IRPS_INPUT)];
    size_t n_out = k;
    pack(out, &n_out, stage);
    if (n_out)
        kx_xport_send(hp->x, out, n_out);
    return k;
}

static void heap_free(void **heap, size_t k)
{
    for (size_t i = 0; i < k; i++)
        free(heap[i]);
}

static void send_batch(struct io_hostproc *hp, struct io_irp **recs, size_t n)
{
    void *heap[SEND_MAX];
    pthread_mutex_lock(&hp->lock);
    size_t k = send_locked(hp, recs, n, heap);
    atomic_fetch_sub_explicit(&hp->queued, n, memory_order_release);
    pthread_mutex_unlock(&hp->lock);
    heap_free(heap, k);
}

/* The submitter sends small IRPs (or ones whose bytes are in a bulk slot)
 * itself when that can't wait: nothing is queued before them (order), the
 * ring has room, and the lock is free (a submitter may hold ns_lock, which
 * the sender can need under this lock).
 * 0: post them to the sender instead. */
static int post_direct(struct io_hostproc *hp, struct io_irp **recs, size_t n)
{
    if ((hp->io->host_flags & KX_IO_HOST_SOCKET) || n > SEND_MAX)
        return 0; /* the socket transport keeps the sender */
    for (size_t i = 0; i < n; i++) {
        const struct io_irp *r = recs[i];
        size_t bytes = in_host_slot(hp, r) ? 0 : r->u.msg.in_len; /* what travels */
        if (r->kind != K_IRP || sizeof(struct kx_xrec) + sizeof r->u.msg + bytes >
                                    KX_XPORT_ROOM_RECORD)
            return 0;
    }
    if (atomic_load_explicit(&hp->queued, memory_order_acquire) ||
        pthread_mutex_trylock(&hp->lock) != 0)
        return 0;
    /* Under the lock the transport is still there: death sets dead first. */
    if (hp->dead || atomic_load_explicit(&hp->queued, memory_order_acquire) ||
        hp->x->ops->room(hp->x) < n) {
        pthread_mutex_unlock(&hp->lock);
        return 0;
    }
    void *heap[SEND_MAX];
    size_t k = send_locked(hp, recs, n, heap);
    pthread_mutex_unlock(&hp->lock);
    heap_free(heap, k);
    return 1;
}

static void *sender_main(void *arg)
{
    struct io_hostproc *hp = arg;
    char tname[16];
    snprintf(tname, sizeof tname, "kx-hs-%.9s", hp->d->short_name);
    pthread_setname_np(pthread_self(), tname);
    struct io_irp *batch[SEND_MAX];
    size_t n = 0;
    int stop = 0;
    while (!stop) {
        struct io_irp *r = NULL;
        int got = kx__queue_pop(&hp->q, &r);
        if (got == IO_Q_NODE) {
            batch[n++] = r;
            stop = r->kind == K_STOP;
            if (n == SEND_MAX || stop) {
                send_batch(hp, batch, n);
                n = 0;
            }
            continue;
        }
        if (got == IO_Q_RETRY) {
            kx_plat_cpu_relax();
            continue;
        }
        if (n) {
            send_batch(hp, batch, n);
            n = 0;
            continue;
        }
        atomic_store_explicit(&hp->q.sleeping, 1, memory_order_seq_cst);
        if (kx__queue_idle(&hp->q))
            kx_plat_futex_wait(&hp->q.sleeping, 1, 0);
        atomic_store_explicit(&hp->q.sleeping, 0, memory_order_relaxed);
    }
    return NULL;
}

int kx__hostproc_post(struct io_hostproc *hp, struct io_irp **recs, size_t n)
{
    if (post_direct(hp, recs, n))
        return -1;
    atomic_fetch_add_explicit(&hp->queued, n, memory_order_seq_cst);
    if (kx__queue_push(&hp->q, recs, n) &&
        atomic_exchange_explicit(&hp->q.sleeping, 0, memory_order_seq_cst))
        kx_plat_futex_wake(&hp->q.sleeping, 1);
    return -1; /* another process: a waiter has nothing to yield to */
}

/* ==== receiving ============================================================= */

static void handle(struct io_hostproc *hp, const struct kx_xrec *x, const unsigned char *p,
                   struct io_relbatch *rb);

/* Until no poller is inside the transport, and none will enter: it may go. */
static void polls_stop(struct io_hostproc *hp)
{
    atomic_store_explicit(&hp->no_poll, 1, memory_order_seq_cst);
    while (atomic_load_explicit(&hp->poll_users, memory_order_seq_cst))
        kx_plat_yield();
}

/* Handles the batch a poll or collect took (hp->pbatch, the turn
 * holder's): answers for anyone, in order, as the reader would. */
static void take_answers(struct io_hostproc *hp)
{
    struct io_relbatch rb = {0};
    const struct kx_xrec *rec;
    const unsigned char *p;
    while (kx_xport_next(&hp->pbatch, &rec, &p))
        handle(hp, rec, p, &rb);
    kx__relbatch_flush(hp->io, &rb);
    hp->x->ops->poll_done(hp->x);
}

struct io_hostproc *kx__hostproc_enter(struct io_hostproc *hp)
{
    if (!hp || !hp->poll_ns || (hp->io->host_flags & KX_IO_HOST_SOCKET))
        return NULL;
    atomic_fetch_add_explicit(&hp->poll_users, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&hp->no_poll, memory_order_seq_cst)) {
        atomic_fetch_sub_explicit(&hp->poll_users, 1, memory_order_release);
        return NULL;
    }
    return hp;
}

static void polls_leave(struct io_hostproc *hp)
{
    atomic_fetch_sub_explicit(&hp->poll_users, 1, memory_order_release);
}

/* Whether the request id, posted as r, has its answer: its record is
 * claimed, or is no longer the request id names (answered and released:
 * pool records stay mapped, so reading is safe). */
static int answered(const struct io_irp *r, uint64_t id)
{
    uint64_t w = atomic_load_explicit(&r->state, memory_order_acquire);
    return (w >> IRP_GEN_SHIFT) != (id >> IRP_GEN_SHIFT) || (w & IRP_REQ_DONE);
}

void kx__hostproc_await(struct io_hostproc *hp, struct io_irp *r, uint64_t id, uint64_t bytes)
{
    struct kx_xport *x = hp->x;
    x->ops->poll_begin(x);
    uint64_t until = 0;
    for (unsigned i = 1; !answered(r, id); i++) {
        kx_status st = x->ops->poll(x, &hp->pbatch);
        if (st == STATUS_SUCCESS) {
            take_answers(hp); /* this one's among them, perhaps */
            continue;
        }
        if (st != STATUS_TIMEOUT)
            break; /* the peer went or broke the rings: the reader's to handle */
        kx_plat_cpu_relax();
        if (i % 32 == 0) {
            uint64_t now = kx_plat_monotonic_ns();
            if (!until)
                until = now + hp->poll_ns + HX_BULK_POLL_NS(bytes);
            else if (now >= until)
                break;
            else /* the host's thread may be waiting for this CPU */
                kx_plat_yield();
        }
    }
    x->ops->poll_end(x);
    polls_leave(hp);
}

size_t kx__hostproc_collect(struct io_hostproc *hp)
{
    /* A few turns at most: a submitter is not the reader, however fast
     * the answers come. */
    size_t i = 0;
    for (; i < COLLECT_ROUNDS; i++) {
        if (hp->x->ops->collect(hp->x, &hp->pbatch) != STATUS_SUCCESS)
            break; /* nothing there, another consumer's turn, or a failure the reader sees */
        take_answers(hp);
    }
    polls_leave(hp);
    return i;
}

static void reply(struct io_hostproc *hp, uint64_t seq, kx_status st, uint64_t id, const void *p,
                  size_t len)
{
    struct kx_xout o = {{HX_REPLY, 0, 0, seq, (uint64_t)st, id, 0}, p, len, NULL, 0};
    kx_xport_send(hp->x, &o, 1);
}

static kx_status do_registry(struct io_hostproc *hp, const struct kx_xrec *x,
                             const unsigned char *p, uint64_t *out_id, void **out, size_t *out_len)
{
    struct hx_reg hr;
    if (x->len < sizeof hr)
        return STATUS_DATA_ERROR;
    memcpy(&hr, p, sizeof hr);
    const char *s[4];
    size_t off = sizeof hr;
    if (!hx_take_strings(p, x->len, &off, hr.lens, 4, s) || hr.value_len != x->len - off)
        return STATUS_DATA_ERROR;
    struct kx_io_reg_req req = {
        (enum kx_io_reg_op)hr.op, hr.entry, s[0], s[1], s[2], s[3], hr.value_len ? p + off : NULL,
        (size_t)hr.value_len};
    return kx__chan_registry(hp->io, hp->d->id, &req, out_id, out, out_len);
}

/* A synchronous call from the driver: runs it and answers. */
static void do_call(struct io_hostproc *hp, const struct kx_xrec *x, const unsigned char *p)
{
    struct kx_io *io = hp->io;
    uint64_t drv = hp->d->id, id = 0;
    kx_status st = STATUS_DATA_ERROR;
    const char *s0 = hx_string_at(p, x->len, 0);
    void *out = NULL;
    size_t out_len = 0;
    char canon[KX_IO_NAME_MAX];
    switch (x->a) {
    case HXO_CREATE_DEVICE:
        if (s0)
            st = kx__chan_create_device(io, drv, s0, x->b, x->c, &id);
        break;
    case HXO_BIND_DEVICE: st = kx__chan_bind_device(io, drv, x->b, x->c); break;
    case HXO_DELETE_DEVICE: st = kx__chan_delete_device(io, drv, x->b); break;
    case HXO_SET_SECURITY: {
        uint32_t mode;
        if (x->len == sizeof mode) {
            memcpy(&mode, p, sizeof mode);
            st = kx__chan_set_security(io, drv, x->b, (uint32_t)(x->c >> 32), (uint32_t)x->c, mode);
        }
        break;
    }
    case HXO_CREATE_LINK: {
        const char *s1 = hx_string_at(p, x->len, 1);
        if (s0 && s1)
            st = kx__chan_create_link(io, drv, s0, s1);
        break;
    }
    case HXO_DELETE_LINK:
        if (s0)
            st = kx__chan_delete_link(io, drv, s0);
        break;
    case HXO_REF_DEVICE:
        if (s0 && (st = kx__chan_ref_device(io, drv, s0, &id, canon)) == STATUS_SUCCESS) {
            out = canon;
            out_len = strlen(canon) + 1;
        }
        break;
    case HXO_UNREF_DEVICE: kx__chan_unref_device(io, drv, x->b); return; /* one way */
    case HXO_FORWARD: {
        uint64_t irp;
        if (x->len == sizeof irp) {
            memcpy(&irp, p, sizeof irp);
            st = kx__chan_forward(io, drv, irp, x->b, x->c);
        }
        break;
    }
    case HXO_SET_READY: st = kx__chan_set_ready(io, drv, x->b, (uint32_t)x->c); break;
    case HXO_SET_CONTROLS:
        if (x->len % sizeof(struct kx_io_control_decl) == 0 &&
            x->len / sizeof(struct kx_io_control_decl) <= KX_IO_MAX_CONTROLS) {
            struct kx_io_control_decl decls[KX_IO_MAX_CONTROLS];
            size_t n = x->len / sizeof decls[0];
            memcpy(decls, p, x->len);
            st = kx__chan_set_controls(io, drv, x->b, decls, n);
        }
        break;
    case HXO_EVENT_REGISTER:
        if (s0)
            st = kx__chan_event_register(io, drv, s0, x->b != 0);
        break;
    case HXO_EVENT_TIMER:
        if (s0 && x->b <= UINT32_MAX && x->c <= UINT32_MAX)
            st = kx__chan_event_timer(io, drv, s0, (uint32_t)x->b, (uint32_t)x->c);
        break;
    case HXO_REGISTRY:
        st = do_registry(hp, x, p, &id, &out, &out_len);
        reply(hp, x->id, st, id, out, out_len);
        free(out);
        return;
    default: break;
    }
    reply(hp, x->id, st, id, out, out_len);
}

/* The record with id, if it is still that incarnation (no reference taken:
 * what the host answers for holds one). */
static struct io_irp *live(struct io_hostproc *hp, uint64_t id)
{
    uint64_t w;
    struct io_irp *r = kx__irp_lookup(hp->io, id, &w);
    if (!r || (uint32_t)(w >> IRP_GEN_SHIFT) != (uint32_t)(id >> IRP_GEN_SHIFT) ||
        !(w & IRP_REF_MASK))
        return NULL;
    return r;
}

static void end_disp(struct io_hostproc *hp, struct io_irp *r)
{
    atomic_fetch_sub_explicit(&r->proc_disp, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hp->n_ended, 1, memory_order_relaxed);
}

/* Takes a host's output bytes into r's buffer. A view request's buffer was
 * not zeroed (kx_io_view_fn): what the host did not send is cleared, so an
 * Information beyond it never shows kxd's heap. Output the host left in r's
 * bulk slot (HF_SLOT) is in place already, or is copied into a lent buffer;
 * a slot is the driver's to fill up to the Information it reports. */
static void take_output(struct io_hostproc *hp, struct io_irp *r, const struct kx_xrec *x,
                        const unsigned char *p)
{
    if (atomic_load(&r->state) & IRP_DRV_DONE)
        return;
    uint32_t len = x->len;
    if (x->flags & HF_SLOT) {
        if (!in_host_slot(hp, r) || x->len)
            len = 0; /* a confused host: no output */
        else if ((p = kx__bulk_at(r)) == r->buf)
            return;
        else
            len = x->b < r->buf_len ? (uint32_t)x->b : r->buf_len;
    }
    uint32_t n = len <= r->buf_len ? len : 0;
    if (n)
        memcpy(r->buf, p, n);
    if (r->has_out && !r->req_out)
        memset((char *)r->buf + n, 0, r->buf_len - n);
}

/* Returns 1 when x ended a dispatch: the caller counts it in n_ended (a
 * packed run's once), as end_disp would. */
static int complete(struct io_hostproc *hp, const struct kx_xrec *x, const unsigned char *p,
                    struct io_relbatch *rb)
{
    struct kx_io *io = hp->io;
    struct io_irp *r = live(hp, x->id);
    if (!(x->flags & HF_END)) {
        if (r && r->kind == K_IRP && (kx_status)x->a == STATUS_SUCCESS)
            take_output(hp, r, x, p);
        kx__chan_complete(io, x->id, (kx_status)x->a, x->b, x->c);
        return 0;
    }
    if (!r || r->kind != K_IRP || !atomic_load(&r->proc_disp))
        return 0; /* not a dispatch of ours: a confused host */
    take_output(hp, r, x, p);
    atomic_fetch_sub_explicit(&r->proc_disp, 1, memory_order_relaxed);
    kx__chan_irp_end_answer(io, r, (kx_status)x->a, x->b, x->c, rb);
    return 1;
}

/* HX_DONES: each as the HX_COMPLETE it stands for; a count the payload
 * does not hold is a confused host's, and nothing of it is taken. */
static void complete_packed(struct io_hostproc *hp, const struct kx_xrec *x,
                            const unsigned char *p, struct io_relbatch *rb)
{
    if (x->a != x->len / sizeof(struct hx_done) || x->len % sizeof(struct hx_done))
        return;
    uint64_t ended = 0;
    for (uint64_t i = 0; i < x->a; i++) {
        struct hx_done d;
        memcpy(&d, p + i * sizeof d, sizeof d);
        const struct kx_xrec one = {HX_COMPLETE, HF_END, 0, d.id, (uint64_t)(uint32_t)d.status,
                                    d.information, d.file_cookie};
        ended += (uint64_t)complete(hp, &one, NULL, rb);
    }
    atomic_fetch_add_explicit(&hp->n_ended, ended, memory_order_relaxed); /* once a run */
}

static void handle(struct io_hostproc *hp, const struct kx_xrec *x, const unsigned char *p,
                   struct io_relbatch *rb)
{
    struct kx_io *io = hp->io;
    struct io_irp *r;
    switch (x->type) {
    case HX_COMPLETE:
        if (complete(hp, x, p, rb))
            atomic_fetch_add_explicit(&hp->n_ended, 1, memory_order_relaxed);
        break;
    case HX_DONES:
        complete_packed(hp, x, p, rb);
        break;
    case HX_END:
        r = live(hp, x->id);
        if (r && atomic_load(&r->proc_disp)) {
            end_disp(hp, r);
            kx__chan_irp_end(io, r, rb);
        }
        break;
    case HX_CTL_DONE:
        r = live(hp, x->id);
        if (!r || r->kind == K_IRP || !atomic_load(&r->proc_disp))
            break;
        end_disp(hp, r);
        if (r->kind == K_CANCEL) {
            struct io_irp *t = r->u.cancel.target;
            if (!x->c) /* no routine ran: answered here, as in-process */
                kx__irp_answer_if_first(io, t, STATUS_CANCELLED, 0, rb);
            kx__chan_irp_end(io, t, rb);
        } else if (r->kind == K_ADDDEV) {
            r->u.provider->score = (int32_t)(uint32_t)x->c;
        } else if (r->kind == K_STOP) {
            atomic_store(&hp->stopped, 1);
        }
        kx__chan_ctl_done(io, r, (kx_status)x->a, x->b, rb);
        break;
    case HX_CALL: do_call(hp, x, p); break;
    case HX_PONG:
        if (x->id > atomic_load_explicit(&hp->pongs, memory_order_relaxed))
            atomic_store_explicit(&hp->pongs, x->id, memory_order_release);
        break;
    case HX_PRINT:
    case HX_REPORT: {
        char text[KX_IO_LOG_TEXT_MAX];
        snprintf(text, sizeof text, "%.*s", (int)(x->len ? x->len - 1 : 0), (const char *)p);
        (x->type == HX_PRINT ? kx__chan_print : kx__chan_report)(io, hp->d->id, text);
        break;
    }
    default: break;
    }
}

/* Collects the exit status (once), killing the process if it has not ended
 * within wait_ms. */
static void reap(struct io_hostproc *hp, uint32_t wait_ms)
{
    pthread_mutex_lock(&hp->lock);
    int done = hp->reaped;
    hp->reaped = 1;
    pthread_mutex_unlock(&hp->lock);
    int code, sig;
    if (!done && hp->pid > 0)
        kx_plat_child_reap(hp->pid, wait_ms, hp->how, sizeof hp->how, &code, &sig);
}

/* Whether r was sent to a device of hp's driver (the file it was opened on). */
static int opened_on(struct io_hostproc *hp, struct io_irp *r)
{
    struct io_file *f = atomic_load_explicit(&r->file, memory_order_acquire);
    if (!f || !r->holds_file)
        return 0;
    pthread_mutex_lock(&hp->io->ns_lock);
    int mine = f->dev->drv == hp->d;
    pthread_mutex_unlock(&hp->io->ns_lock);
    return mine;
}

/* After the host died: every record it held, answered, and every request
 * sent to its devices that it had passed on. */
static void reclaim(struct kx_io *io, struct io_irp *r, void *arg)
{
    struct io_hostproc *hp = ((void **)arg)[0];
    size_t *n = ((void **)arg)[1];
    if (atomic_load_explicit(&r->drv, memory_order_acquire) != hp->d) {
        /* Sent to one of its devices and passed on to another driver: the
         * requester is answered now, as for the requests it held itself;
         * the lower driver's completion later finds it answered. */
        if (r->kind == K_IRP && opened_on(hp, r) &&
            kx__irp_answer_if_first(hp->io, r, dead_status(hp), 0, NULL))
            (*n)++;
        return;
    }
    uint32_t disp = atomic_exchange_explicit(&r->proc_disp, 0, memory_order_acq_rel);
    uint64_t w = atomic_load_explicit(&r->state, memory_order_acquire);
    if (r->kind != K_IRP) {
        if (!disp)
            return; /* still queued: the sender answers it */
        if (r->kind == K_CANCEL)
            kx__chan_irp_end(io, r->u.cancel.target, NULL);
        kx__chan_ctl_done(io, r, r->kind == K_STOP ? STATUS_SUCCESS : dead_status(hp), 0, NULL);
        return;
    }
    if (!(w & IRP_DISPATCHED))
        return; /* still queued: the sender answers it */
    if (kx__irp_answer_if_first(io, r, dead_status(hp), 0, NULL))
        (*n)++;
    w = atomic_fetch_or_explicit(&r->state, IRP_DRV_DONE, memory_order_acq_rel);
    uint64_t drop = disp + !(w & IRP_DRV_DONE);
    if (drop)
        kx__irp_unref(io, r, drop, NULL);
}

/* The host wrote nonsense into the shared memory: nothing more it says
 * can be believed, so it is killed, and its death handled as any other. */
static void broke(struct io_hostproc *hp)
{
    snprintf(hp->broke, sizeof hp->broke, "%s", kx_xport_error(hp->x));
    kx__io_report(hp->io, KX_LOG_ERROR, hp->d->short_name,
                  "%s broke its transport (STATUS_RING_CORRUPT: %s); killing kx-host (pid %d)",
                  hp->d->short_name, hp->broke, (int)hp->pid);
    pthread_mutex_lock(&hp->lock);
    if (!hp->reaped)
        kx_plat_child_kill(hp->pid);
    pthread_mutex_unlock(&hp->lock);
}

static void died(struct io_hostproc *hp)
{
    struct kx_io *io = hp->io;
    pthread_mutex_lock(&hp->lock);
    hp->dead = 1;
    pthread_mutex_unlock(&hp->lock); /* from now on the sender answers what is queued */
    reap(hp, REAP_WAIT_MS);
    if (hp->has_errthr) {
        pthread_join(hp->errthr, NULL);
        hp->has_errthr = 0;
    }
    kx__bulk_retire(hp->bulk); /* the region stays mapped while records hold slots */
    size_t n = 0;
    void *args[2] = {hp, &n};
    kx__irp_foreach(io, reclaim, args);
    char summary[256];
    pthread_mutex_lock(&hp->lock);
    snprintf(summary, sizeof summary, "%s", hp->summary);
    pthread_mutex_unlock(&hp->lock);
    char hung[200] = "", routine[120], running[140] = "";
    if (atomic_load(&hp->hung))
        snprintf(hung, sizeof hung, " by the watchdog: not responding, %s", hp->hung_what);
    else if (kx__hostproc_running(hp, routine, sizeof routine))
        snprintf(running, sizeof running, "; it died in %s", routine);
    kx__io_report(io, KX_LOG_ERROR, hp->d->short_name,
                  "driver host kx-host (pid %d) %s%s%s%s; %zu request(s) answered %s%s",
                  (int)hp->pid, hp->how, hung, summary[0] ? ": " : "", summary, n,
                  kx_status_name(dead_status(hp)), running);
    /* Whoever frees this record waits until the reader knows whether it
     * tears the driver down (then it lets itself go: nobody joins it). */
    atomic_store(&hp->tearing, 1);
    if (kx__driver_host_died(io, hp->d)) {
        /* This thread tore the driver down: nobody will join it. */
        pthread_join(hp->sender, NULL);
        hp->has_sender = 0;
        /* Nothing sends or receives any more: the descriptors go now, the
         * record (which late posts may still reach) with the manager. */
        polls_stop(hp);
        hp->x->ops->free(hp->x);
        hp->x = NULL;
        kx_plat_close(hp->err_fd);
        hp->err_fd = -1;
        atomic_store(&hp->reader_detached, 1);
        pthread_detach(pthread_self());
    }
    atomic_store(&hp->tearing, 0);
}

static void *reader_main(void *arg)
{
    struct io_hostproc *hp = arg;
    char tname[16];
    snprintf(tname, sizeof tname, "kx-hr-%.9s", hp->d->short_name);
    pthread_setname_np(pthread_self(), tname);
    struct kx_xbatch b = {0};
    struct io_relbatch rb = {0};
    kx_status st;
    while ((st = kx_xport_recv(hp->x, &b)) == STATUS_SUCCESS) {
        const struct kx_xrec *x;
        const unsigned char *p;
        while (kx_xport_next(&b, &x, &p))
            handle(hp, x, p, &rb);
        kx__relbatch_flush(hp->io, &rb);
    }
    kx_xbatch_free(&b);
    if (st == STATUS_RING_CORRUPT)
        broke(hp);
    if (!atomic_load(&hp->stopped))
        died(hp);
    atomic_store_explicit(&hp->reader_done, 1, memory_order_release);
    kx_plat_futex_wake(&hp->reader_done, 1);
    return NULL;
}

/* The host's stderr into kxd's log, line by line; a sanitizer's SUMMARY
 * line is kept for the report of the host's death, and the start of its
 * report marks the host as crashing (symbolising a report under load can
 * outlast --hang-ms: that is a crash, not a hang). */
static void *err_main(void *arg)
{
    struct io_hostproc *hp = arg;
    char tname[16];
    snprintf(tname, sizeof tname, "kx-he-%.9s", hp->d->short_name);
    pthread_setname_np(pthread_self(), tname);
    char buf[4096];
    size_t have = 0;
    for (;;) {
        size_t got = kx_plat_read_some(hp->err_fd, buf + have, sizeof buf - 1 - have);
        if (!got && !have)
            break;
        have += got;
        buf[have] = 0;
        char *start = buf, *nl;
        while ((nl = strchr(start, '\n')) || (!got && *start) || have == sizeof buf - 1) {
            if (nl)
                *nl = 0;
            if (*start) {
                kx_log(&hp->io->logger, KX_LOG_WARN, "%s (kx-host %d): %s", hp->d->short_name,
                       (int)hp->pid, start);
                if (!atomic_load(&hp->report_ns) &&
                    (strstr(start, "Sanitizer") || strstr(start, "runtime error:")))
                    atomic_store(&hp->report_ns, kx_plat_monotonic_ns());
                if (strncmp(start, "SUMMARY: ", 9) == 0) {
                    pthread_mutex_lock(&hp->lock);
                    snprintf(hp->summary, sizeof hp->summary, "%s", start + 9);
                    pthread_mutex_unlock(&hp->lock);
                }
            }
            start = nl ? nl + 1 : buf + have;
            if (!nl)
                break;
        }
        have = (size_t)(buf + have - start);
        memmove(buf, start, have);
        if (!got)
            break;
    }
    return NULL;
}

/* ==== life cycle ============================================================= */

static void hp_free(struct io_hostproc *hp)
{
    polls_stop(hp);
    kx__bulk_unref(hp->bulk); /* records holding slots keep the region */
    kx_xbatch_free(&hp->pbatch);
    if (hp->x)
        hp->x->ops->free(hp->x);
    kx_plat_close(hp->err_fd);
    kx__queue_destroy(&hp->q);
    pthread_mutex_destroy(&hp->lock);
    free(hp);
}

/* A path of kxd's own descriptor (an executable the boot took from the kext
 * cache, in a memfd) means nothing to a host running as another user: the
 * descriptor is passed to the host instead, as its fd 4 + k, and the path
 * the host opens is its own. Returns the path to send. */
static const char *host_path(const char *path, int *k, char buf[32])
{
    if (kx_plat_fd_of_path(path) < 0)
        return path;
    snprintf(buf, 32, "/proc/self/fd/%d", KX_HOST_XPORT_FD + 1 + (*k)++);
    return buf;
}

/* The descriptors host_path passes, in its order; how many (at most max). */
static size_t passed_fds(const struct kx_io_driver_params *p, int *fds, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i <= p->n_host_libs; i++) {
        int fd = kx_plat_fd_of_path(i < p->n_host_libs ? p->host_libs[i] : p->host_exe);
        if (fd >= 0 && n < max)
            fds[n++] = fd;
    }
    return n;
}

/* HELLO and its answer, before the threads start. */
static kx_status hello(struct io_hostproc *hp, const struct kx_io_driver_params *p, char *why,
                       size_t why_len)
{
    struct hx_hello hh = {.version = HX_VERSION,
                          .n_paths = (uint32_t)p->n_host_libs + 1,
                          .drv_id = hp->d->id,
                          .info = hp->d->info};
    snprintf(hh.full_name, sizeof hh.full_name, "%s", hp->d->name);
    snprintf(hh.short_name, sizeof hh.short_name, "%s", hp->d->short_name);
    size_t len = 0;
    char buf[32];
    int k = 0;
    for (size_t i = 0; i <= p->n_host_libs; i++)
        len += strlen(host_path(i < p->n_host_libs ? p->host_libs[i] : p->host_exe, &k, buf)) + 1;
    char *paths = malloc(len);
    if (!paths)
        return STATUS_INSUFFICIENT_RESOURCES;
    size_t off = 0;
    k = 0;
    for (size_t i = 0; i <= p->n_host_libs; i++) {
        const char *s = host_path(i < p->n_host_libs ? p->host_libs[i] : p->host_exe, &k, buf);
        memcpy(paths + off, s, strlen(s) + 1);
        off += strlen(s) + 1;
    }
    struct kx_xout o = {{HX_HELLO, 0, 0, 0, 0, 0, 0}, &hh, sizeof hh, paths, len};
    kx_status st = kx_xport_send(hp->x, &o, 1);
    free(paths);
    struct kx_xbatch b = {0};
    const struct kx_xrec *x;
    const unsigned char *pl;
    if (st == STATUS_SUCCESS)
        st = kx_xport_recv(hp->x, &b);
    if (st == STATUS_SUCCESS && (!kx_xport_next(&b, &x, &pl) || x->type != HX_HELLO_DONE))
        st = STATUS_DATA_ERROR;
    if (st == STATUS_SUCCESS) {
        st = (kx_status)x->a;
        hp->address = x->b;
        hp->size = x->c;
        if (st != STATUS_SUCCESS)
            snprintf(why, why_len, "%.*s", (int)(x->len ? x->len - 1 : 0), (const char *)pl);
    } else {
        snprintf(why, why_len, "kx-host (pid %d) ended before it answered", (int)hp->pid);
        st = STATUS_DRIVER_PROCESS_TERMINATED;
    }
    kx_xbatch_free(&b);
    return st;
}

/* The rings for a fresh host and its bulk slots, their descriptors sent on
 * sock (which the transport owns from now on, also on failure). */
static kx_status ring_new(struct io_hostproc *hp, int sock)
{
    char name[48];
    snprintf(name, sizeof name, "host %.40s", hp->d->short_name);
    struct kx_ring_config cfg = {RING_BYTES, BULK_BYTES};
    struct kx_ring *r;
    kx_status st = kx_ring_create(name, &cfg, &r);
    if (st != STATUS_SUCCESS) {
        kx_plat_close(sock);
        return st;
    }
    /* The transport first: it reads the geometry before the host can touch it. */
    if ((st = kx_xport_ring_new(r, sock, &hp->x)) != STATUS_SUCCESS)
        return st;
    if ((st = kx_ring_send_fds(r, sock)) == STATUS_SUCCESS &&
        (st = kx__bulk_new(hp->io, name, &hp->bulk)) == STATUS_SUCCESS)
        st = kx__bulk_send(hp->bulk, sock);
    if (st != STATUS_SUCCESS) {
        hp->x->ops->free(hp->x);
        hp->x = NULL;
    }
    return st;
}

kx_status kx__hostproc_new(struct kx_io *io, struct io_driver *d,
                           const struct kx_io_driver_params *p, struct io_hostproc **out)
{
    *out = NULL;
    struct io_hostproc *hp = calloc(1, sizeof *hp);
    if (!hp)
        return STATUS_INSUFFICIENT_RESOURCES;
    hp->io = io;
    hp->d = d;
    hp->pid = -1;
    hp->err_fd = -1;
    hp->poll_ns = io->host_poll_ns;
    if (kx__queue_init(&hp->q)) {
        free(hp);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (pthread_mutex_init(&hp->lock, NULL)) {
        kx__queue_destroy(&hp->q);
        free(hp);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    int fds[2] = {-1, -1};
    pid_t pid = -1;
    char why[512] = "";
    struct io_hostsandbox sb;
    kx_status st = kx__hostsandbox_args(io, d, p, &sb);
    if (st == STATUS_ACCESS_DENIED)
        snprintf(why, sizeof why,
                 "it asks to keep root (KXHostKeepRoot) and kxd does not allow "
                 "it (kxd --allow-host-root)");
    if (st == STATUS_SUCCESS)
        st = kx_plat_packet_pair(fds);
    if (st == STATUS_SUCCESS) {
        int pass[KX_HOST_PASS_MAX];
        size_t n_pass = passed_fds(p, pass, KX_HOST_PASS_MAX), n_args = 0;
        const char *args[16];
        char n_text[16], poll_text[16];
        snprintf(poll_text, sizeof poll_text, "%llu", (unsigned long long)(hp->poll_ns / 1000));
        for (; n_args < 8 && sb.args[n_args]; n_args++)
            args[n_args] = sb.args[n_args];
        snprintf(n_text, sizeof n_text, "%zu", n_pass);
        args[n_args++] = "--fds";
        args[n_args++] = n_text;
        args[n_args++] = "--transport";
        args[n_args++] = (io->host_flags & KX_IO_HOST_SOCKET) ? "socket" : "ring";
        args[n_args++] = "--poll-us";
        args[n_args++] = poll_text;
        args[n_args] = NULL;
        st = kx_plat_host_spawn(io->host_program, "kx-host", args, fds[1], pass, n_pass, &pid,
                                &hp->err_fd);
        kx_plat_close(fds[1]);
        hp->pid = pid;
        if (st != STATUS_SUCCESS)
            kx_plat_close(fds[0]);
        else if (io->host_flags & KX_IO_HOST_SOCKET)
            st = kx_xport_sock_new(fds[0], &hp->x);
        else
            st = ring_new(hp, fds[0]);
    }
    if (st == STATUS_SUCCESS) {
        hp->has_errthr = pthread_create(&hp->errthr, NULL, err_main, hp) == 0;
        st = hello(hp, p, why, sizeof why);
    }
    if (st == STATUS_SUCCESS) {
        hp->has_sender = pthread_create(&hp->sender, NULL, sender_main, hp) == 0;
        hp->has_reader = hp->has_sender && pthread_create(&hp->reader, NULL, reader_main, hp) == 0;
        if (!hp->has_reader)
            st = STATUS_INSUFFICIENT_RESOURCES;
    }
    if (st == STATUS_SUCCESS) {
        kx__io_report(io, KX_LOG_INFO, d->short_name, "driver host kx-host (pid %d) %s", (int)pid,
                      sb.desc);
        *out = hp;
        return STATUS_SUCCESS;
    }
    kx__io_report(io, KX_LOG_ERROR, d->short_name, "driver host %s could not start it: %s%s%s",
                  io->host_program, kx_status_name(st), why[0] ? ": " : "", why);
    if (hp->x)
        hp->x->ops->wake(hp->x);
    if (hp->has_sender) { /* no reader: the sender stops on its own record */
        struct io_irp *r;
        if (kx__irp_alloc(io, &r, 1) == STATUS_SUCCESS) {
            r->kind = K_STOP;
            pthread_mutex_lock(&hp->lock);
            hp->dead = 1;
            pthread_mutex_unlock(&hp->lock);
            kx__hostproc_post(hp, &r, 1);
        }
        pthread_join(hp->sender, NULL);
    }
    if (pid > 0) {
        kx_plat_child_kill(pid);
        reap(hp, 0);
    }
    if (hp->has_errthr)
        pthread_join(hp->errthr, NULL);
    hp_free(hp);
    return st;
}

void kx__hostproc_free(struct io_hostproc *hp)
{
    if (!hp)
        return;
    while (atomic_load(&hp->tearing))
        kx_plat_sleep_ns(1000000);
    if (atomic_load(&hp->reader_detached)) {
        while (!atomic_load_explicit(&hp->reader_done, memory_order_acquire))
            kx_plat_futex_wait(&hp->reader_done, 0, 0);
    } else {
        /* K_STOP was posted: the sender sends it and returns; the host
         * answers and exits, which ends the reader. A host stuck in driver
         * code is killed. */
        if (hp->has_sender)
            pthread_join(hp->sender, NULL);
        uint64_t until = kx_plat_monotonic_ns() + (uint64_t)REAP_WAIT_MS * 1000000u;
        while (!atomic_load_explicit(&hp->reader_done, memory_order_acquire) &&
               kx_plat_futex_wait(&hp->reader_done, 0, until) != STATUS_TIMEOUT)
            ;
        pthread_mutex_lock(&hp->lock);
        if (!atomic_load(&hp->reader_done) && !hp->reaped)
            kx_plat_child_kill(hp->pid); /* stuck in driver code: its reader sees it die */
        pthread_mutex_unlock(&hp->lock);
        if (hp->has_reader)
            pthread_join(hp->reader, NULL);
        reap(hp, REAP_WAIT_MS);
    }
    if (hp->has_errthr)
        pthread_join(hp->errthr, NULL);
    hp_free(hp);
}

void kx__hostproc_cancel_mark(void) {}

struct io_bulk *kx__hostproc_bulk(const struct io_hostproc *hp)
{
    return hp->bulk;
}

int32_t kx__hostproc_pid(const struct io_hostproc *hp)
{
    return hp ? hp->pid : 0;
}

void kx__hostproc_extent(const struct io_hostproc *hp, uint64_t *address, uint64_t *size)
{
    *address = hp ? hp->address : 0;
    *size = hp ? hp->size : 0;
}
