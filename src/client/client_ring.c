/* client_ring.c — libkxclient's side of a client ring (proto/ring_proto.h).
 *
 * Requests are written straight into shared memory and published in one
 * commit per batch; answers are copied out of it into the caller's buffers.
 * A read of SLOT_MIN_BYTES to a slot's size goes to a free read slot
 * (KXR_READ_SLOT), which the driver fills in place; its bytes are copied out
 * of the slot and the slot is given back (KXR_SLOT_FREE) with the next
 * commit. Slots are reused oldest first, so the IRP that last filled one is
 * long gone; when it is not (KXR_SLOT_BUSY), the read is sent again the
 * ordinary way. KX_CLIENT_READ_SLOTS=0 in the environment leaves them unmapped.
 * Each request in flight holds a slot (its record id) and the credit its
 * answer may need, both returned once the answer is reaped and its space
 * released, so kxd always has room to answer. kxd is trusted no more than
 * the ring trusts a peer: an answer naming no request in flight, or longer
 * than asked for, ends the ring.
 */
#include "client_ring.h"

#include "core/plat.h"
#include "core/plat_shm.h"
#include "core/plat_sock.h"
#include "core/ring.h"
#include "proto/msg.h"
#include "proto/ring_proto.h"

#include <stdlib.h>
#include <string.h>

/* Reads from this size up go to a read slot when one is free: below it, the
 * copy through the ring costs less than the bookkeeping. */
#define SLOT_MIN_BYTES ((size_t)64 << 10)
#define SLOTS_BYTES    ((size_t)KXR_SLOTS * KXR_SLOT_BYTES)

struct kx_client_ring {
    struct kx_ring *ring;
    struct kx_client_io *slot[KXR_MAX_IN_FLIGHT]; /* NULL: free */
    uint64_t slot_credit[KXR_MAX_IN_FLIGHT];
    int16_t read_slot[KXR_MAX_IN_FLIGHT]; /* the read slot a request fills, or -1 */
    uint32_t free_slot[KXR_MAX_IN_FLIGHT];
    unsigned n_free;
    uint64_t credit; /* of the slots in use */
    const uint8_t *rslots;       /* the read slots, NULL when unmapped */
    uint32_t rslot_q[KXR_SLOTS]; /* free read slots, oldest first */
    unsigned rslot_head, n_rslots;
    struct kx_client_io *retry[KXR_MAX_IN_FLIGHT]; /* answered KXR_SLOT_BUSY */
    unsigned n_retry;
    int lending;   /* kx_client_ring_read_lent's run: the slot stays lent */
    int lent_slot; /* its slot once answered, -1 when it was busy */
    int dead;
};

/* The read slots' message, which follows the ring's: mapped, or (with
 * KX_CLIENT_READ_SLOTS=0) closed unmapped. -1 when the stream is lost. */
static int take_slots(struct kx_client_ring *cr, int sock)
{
    char msg[sizeof KXR_SLOTS_HELLO];
    size_t got = 0;
    int fd = -1, n = 0;
    if (kx_plat_sock_recv_fds(sock, msg, sizeof msg, &got, &fd, 1, &n) != STATUS_SUCCESS)
        return -1;
    if (n != 1 || got != sizeof msg || memcmp(msg, KXR_SLOTS_HELLO, sizeof msg) != 0) {
        if (n)
            kx_plat_close(fd);
        return -1;
    }
    const char *env = getenv("KX_CLIENT_READ_SLOTS");
    size_t size = 0;
    void *p = NULL;
    if ((!env || strcmp(env, "0") != 0) && kx_plat_shm_check(fd, &size) == STATUS_SUCCESS &&
        size == SLOTS_BYTES && kx_plat_shm_map(fd, size, &p) == STATUS_SUCCESS) {
        cr->rslots = p;
        for (uint32_t k = 0; k < KXR_SLOTS; k++)
            cr->rslot_q[k] = k;
        cr->n_rslots = KXR_SLOTS;
    }
    kx_plat_close(fd); /* the mapping stays */
    return 0;
}

kx_status kx_client_ring_open(int sock, uint32_t req_id, struct kx_client_ring **out)
{
    *out = NULL;
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_RING, req_id);
    kx_status st = kx_msg_finish(&b);
    if (st == STATUS_SUCCESS && kx_plat_send_all(sock, b.buf, b.len) != STATUS_SUCCESS)
        st = STATUS_CONNECTION_LOST;
    kx_msg_builder_free(&b);
    if (st != STATUS_SUCCESS)
        return st;
    /* Exactly the answer: the descriptors follow it, and a read past it
     * without room for them would lose them. */
    uint8_t raw[KXR_SETUP_REPLY_LEN];
    struct kx_msg_hdr h;
    const char *why;
    if (kx_plat_recv_all(sock, raw, sizeof raw) != STATUS_SUCCESS ||
        kx_msg_hdr_decode(raw, &h, &why) != STATUS_SUCCESS || h.type != KX_MSG_OK ||
        h.req_id != req_id || h.len != KXR_SETUP_REPLY_LEN - KX_MSG_HDR_LEN)
        return STATUS_CONNECTION_LOST;
    struct kx_msg_reader r;
    kx_msg_reader_init(&r, raw + KX_MSG_HDR_LEN, h.len);
    st = (kx_status)kx_msg_get_i32(&r);
    if (r.failed)
        return STATUS_CONNECTION_LOST;
    if (st != STATUS_SUCCESS)
        return st;
    struct kx_client_ring *cr = calloc(1, sizeof *cr);
    if (!cr)
        return STATUS_CONNECTION_LOST; /* the descriptors are on their way: the stream is lost */
    char *msg = NULL;
    st = kx_ring_attach_socket("kxd", sock, &cr->ring, &msg);
    free(msg);
    if (st != STATUS_SUCCESS) {
        free(cr);
        return STATUS_CONNECTION_LOST;
    }
    if (take_slots(cr, sock) != 0) {
        kx_ring_close(cr->ring);
        free(cr);
        return STATUS_CONNECTION_LOST;
    }
    kx_ring_watch_socket(cr->ring, sock); /* kxd's death ends a wait */
    for (uint32_t i = 0; i < KXR_MAX_IN_FLIGHT; i++)
        cr->free_slot[i] = KXR_MAX_IN_FLIGHT - 1 - i;
    cr->n_free = KXR_MAX_IN_FLIGHT;
    *out = cr;
    return STATUS_SUCCESS;
}

void kx_client_ring_close(struct kx_client_ring *cr)
{
    if (!cr)
        return;
    kx_ring_close(cr->ring);
    if (cr->rslots)
        kx_plat_shm_unmap((void *)cr->rslots, SLOTS_BYTES);
    free(cr);
}

static kx_status ring_dead(struct kx_client_ring *cr)
{
    cr->dead = 1;
    return STATUS_CONNECTION_LOST;
}

static uint32_t out_len_of(const struct kx_client_io *io)
{
    return io->op == KX_CLIENT_OP_WRITE ? 0 : (uint32_t)io->out_len;
}

/* Whether io, sent as record type (0: its op's), goes to a read slot. */
static int to_read_slot(const struct kx_client_ring *cr, const struct kx_client_io *io,
                        uint32_t type)
{
    return !type && io->op == KX_CLIENT_OP_READ && cr->n_rslots &&
           (io->out_len >= SLOT_MIN_BYTES || cr->lending) && io->out_len <= KXR_SLOT_BYTES;
}

/* The credit io's answer needs: none for its bytes when they come in a slot. */
static uint64_t credit_of(const struct kx_client_ring *cr, const struct kx_client_io *io,
                          uint32_t type)
{
    return kxr_done_bytes(to_read_slot(cr, io, type) ? 0 : out_len_of(io));
}

/* Writes io's request into the ring (published by the next commit); type 0:
 * the record type of io's op, or a READ_SLOT when a read slot suits it. */
static kx_status put_request(struct kx_client_ring *cr, struct kx_client_io *io, uint32_t type)
{
    static const uint32_t types[] = {0, KXR_READ, KXR_WRITE, KXR_IOCTL};
    size_t in_len = io->op == KX_CLIENT_OP_READ ? 0 : io->in_len;
    uint32_t s = cr->free_slot[cr->n_free - 1];
    int rslot = -1;
    uint64_t credit = credit_of(cr, io, type);
    if (to_read_slot(cr, io, type)) {
        rslot = (int)cr->rslot_q[cr->rslot_head];
        type = KXR_READ_SLOT;
    }
    void *p;
    if (kx_ring_reserve(cr->ring, type ? type : types[io->op], s, sizeof(struct kxr_req) + in_len,
                        KX_RING_FOREVER, &p) != STATUS_SUCCESS)
        return ring_dead(cr);
    struct kxr_req q = {io->handle, rslot >= 0 ? (uint32_t)rslot : io->code, io->offset,
                        out_len_of(io), io->timeout_ms};
    memcpy(p, &q, sizeof q);
    if (in_len)
        memcpy((uint8_t *)p + sizeof q, io->in, in_len);
    if (rslot >= 0) {
        cr->rslot_head = (cr->rslot_head + 1) % KXR_SLOTS;
        cr->n_rslots--;
    }
    cr->n_free--;
    cr->slot[s] = io;
    cr->read_slot[s] = (int16_t)rslot;
    cr->slot_credit[s] = credit;
    cr->credit += credit;
    return STATUS_SUCCESS;
}

/* Read slot k is free again on this side (last in the queue: reused last). */
static void rslot_put(struct kx_client_ring *cr, uint32_t k)
{
    cr->rslot_q[(cr->rslot_head + cr->n_rslots++) % KXR_SLOTS] = k;
}

/* Gives read slot k back to kxd (KXR_SLOT_FREE, sent with the next commit)
 * and takes it back into this side's queue. */
static kx_status rslot_give_back(struct kx_client_ring *cr, uint32_t k)
{
    struct kxr_req q = {0, k, 0, 0, 0};
    kx_status st = kx_ring_send(cr->ring, KXR_SLOT_FREE, 0, &q, sizeof q, KX_RING_FOREVER);
    rslot_put(cr, k);
    return st;
}

/* A read slot's answer: its bytes copied out of the slot, the slot given
 * back with the next commit; or, when kxd found the slot still an IRP's,
 * the read queued to go again the ordinary way. -1 for an answer kxd could
 * not honestly give. */
static int take_slot_answer(struct kx_client_ring *cr, struct kx_client_io *io, uint32_t k,
                            const struct kx_ring_rec *rec, const struct kxr_done *d)
{
    if (rec->len != sizeof *d || d->got > out_len_of(io))
        return -1;
    if (rec->type == KXR_SLOT_BUSY) {
        if (!cr->lending) /* a lent read goes another way: its caller's choice */
            cr->retry[cr->n_retry++] = io;
        rslot_put(cr, k);
        return 0;
    }
    if (cr->lending) { /* kept, bytes and all, until kx_client_ring_give_back */
        cr->lent_slot = (int)k;
        return 1;
    }
    if (d->got)
        memcpy(io->out, cr->rslots + (size_t)k * KXR_SLOT_BYTES, d->got);
    return rslot_give_back(cr, k) == STATUS_SUCCESS ? 1 : -1;
}

/* Waits for answers and takes every one published; their slots and credit
 * come back once their space is released. */
static kx_status reap(struct kx_client_ring *cr)
{
    struct kx_ring_rec recs[64];
    size_t n = 0;
    if (kx_ring_recv(cr->ring, recs, 64, &n, KX_RING_FOREVER) != STATUS_SUCCESS)
        return ring_dead(cr);
    uint32_t done[64];
    size_t n_done = 0;
    kx_status st = STATUS_SUCCESS;
    for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++) {
        const struct kx_ring_rec *rec = &recs[i];
        struct kxr_done d;
        if ((rec->type != KXR_DONE && rec->type != KXR_SLOT_BUSY) ||
            rec->id >= KXR_MAX_IN_FLIGHT || !cr->slot[rec->id] || rec->len < sizeof d) {
            st = ring_dead(cr);
            break;
        }
        memcpy(&d, rec->data, sizeof d);
        struct kx_client_io *io = cr->slot[rec->id];
        int rslot = cr->read_slot[rec->id];
        int answered = 1;
        if (rslot >= 0) {
            answered = take_slot_answer(cr, io, (uint32_t)rslot, rec, &d);
            if (answered < 0) {
                st = ring_dead(cr);
                break;
            }
        } else if (rec->type != KXR_DONE || d.got > out_len_of(io) ||
                   rec->len != sizeof d + d.got) {
            st = ring_dead(cr);
            break;
        } else if (d.got) {
            memcpy(io->out, (const uint8_t *)rec->data + sizeof d, d.got);
        }
        cr->slot[rec->id] = NULL;
        done[n_done++] = (uint32_t)rec->id;
        if (!answered)
            continue;
        io->status = (kx_status)d.status;
        io->got = d.got;
        io->information = d.information;
    }
    kx_ring_release(cr->ring);
    for (size_t i = 0; i < n_done; i++) {
        cr->credit -= cr->slot_credit[done[i]];
        cr->free_slot[cr->n_free++] = done[i];
    }
    return st;
}

/* Sends ios as records of type (0: each one's op) and reaps every answer. */
static kx_status run(struct kx_client_ring *cr, struct kx_client_io *ios, size_t n, uint32_t type)
{
    if (cr->dead)
        return STATUS_CONNECTION_LOST;
    size_t next = 0;
    while (next < n || cr->n_retry || cr->n_free < KXR_MAX_IN_FLIGHT) {
        int queued = 0;
        while (cr->n_retry && cr->n_free &&
               cr->credit + credit_of(cr, cr->retry[cr->n_retry - 1], KXR_READ) <=
                   KXR_CREDIT_BYTES) {
            if (put_request(cr, cr->retry[--cr->n_retry], KXR_READ) != STATUS_SUCCESS)
                return STATUS_CONNECTION_LOST;
            queued = 1;
        }
        while (next < n && cr->n_free &&
               cr->credit + credit_of(cr, &ios[next], type) <= KXR_CREDIT_BYTES) {
            if (put_request(cr, &ios[next], type) != STATUS_SUCCESS)
                return STATUS_CONNECTION_LOST;
            next++;
            queued = 1;
        }
        if (queued && kx_ring_commit(cr->ring) != STATUS_SUCCESS)
            return ring_dead(cr);
        if (cr->n_free < KXR_MAX_IN_FLIGHT && reap(cr) != STATUS_SUCCESS)
            return STATUS_CONNECTION_LOST;
    }
    return STATUS_SUCCESS;
}

kx_status kx_client_ring_submit(struct kx_client_ring *cr, struct kx_client_io *ios, size_t n)
{
    return run(cr, ios, n, 0);
}

kx_status kx_client_ring_read_lent(struct kx_client_ring *cr, struct kx_client_io *io,
                                   const void **data, int *answered)
{
    *data = NULL;
    *answered = 0;
    if (cr->dead)
        return STATUS_CONNECTION_LOST;
    if (!cr->n_rslots || !io->out_len || io->out_len > KXR_SLOT_BYTES)
        return STATUS_SUCCESS;
    cr->lending = 1;
    cr->lent_slot = -1;
    kx_status st = run(cr, io, 1, 0);
    cr->lending = 0;
    if (st != STATUS_SUCCESS || cr->lent_slot < 0)
        return st;
    *answered = 1;
    const uint8_t *slot = cr->rslots + (size_t)cr->lent_slot * KXR_SLOT_BYTES;
    if (io->status == STATUS_SUCCESS)
        *data = slot;
    else if (!kx_client_ring_give_back(cr, slot)) /* nothing worth lending */
        return ring_dead(cr);
    return cr->dead ? STATUS_CONNECTION_LOST : STATUS_SUCCESS;
}

int kx_client_ring_give_back(struct kx_client_ring *cr, const void *data)
{
    const uint8_t *p = data;
    if (!cr->rslots || p < cr->rslots || p >= cr->rslots + SLOTS_BYTES)
        return 0;
    uint32_t k = (uint32_t)((size_t)(p - cr->rslots) / KXR_SLOT_BYTES);
    if (rslot_give_back(cr, k) != STATUS_SUCCESS)
        ring_dead(cr);
    return 1;
}

kx_status kx_client_ring_open_file(struct kx_client_ring *cr, const char *path, uint32_t access,
                                   kx_status *status, uint32_t *handle)
{
    /* A request without output, as a WRITE is: the path is its input. */
    struct kx_client_io io = {.op = KX_CLIENT_OP_WRITE, .code = access, .in = path,
                              .in_len = strlen(path), .status = STATUS_CONNECTION_LOST};
    kx_status st = run(cr, &io, 1, KXR_OPEN);
    *status = io.status;
    *handle = io.status == STATUS_SUCCESS ? (uint32_t)io.information : 0;
    return st;
}

kx_status kx_client_ring_close_file(struct kx_client_ring *cr, uint32_t handle, kx_status *status)
{
    struct kx_client_io io = {.op = KX_CLIENT_OP_WRITE, .handle = handle,
                              .status = STATUS_CONNECTION_LOST};
    kx_status st = run(cr, &io, 1, KXR_CLOSE);
    *status = io.status;
    return st;
}
