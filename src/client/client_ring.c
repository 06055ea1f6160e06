/* client_ring.c — libkxclient's side of a client ring (proto/ring_proto.h).
 *
 * Requests are written straight into shared memory and published in one
 * commit per batch; answers are copied out of it into the caller's buffers.
 * Each request in flight holds a slot (its record id) and the credit its
 * answer may need, both returned once the answer is reaped and its space
 * released, so kxd always has room to answer. kxd is trusted no more than
 * the ring trusts a peer: an answer naming no request in flight, or longer
 * than asked for, ends the ring.
 */
#include "client_ring.h"

#include "core/plat.h"
#include "core/plat_sock.h"
#include "core/ring.h"
#include "proto/msg.h"
#include "proto/ring_proto.h"

#include <stdlib.h>
#include <string.h>

struct kx_client_ring {
    struct kx_ring *ring;
    struct kx_client_io *slot[KXR_MAX_IN_FLIGHT]; /* NULL: free */
    uint64_t slot_credit[KXR_MAX_IN_FLIGHT];
    uint32_t free_slot[KXR_MAX_IN_FLIGHT];
    unsigned n_free;
    uint64_t credit; /* of the slots in use */
    int dead;
};

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

/* Writes io's request into the ring (published by the next commit); type 0:
 * the record type of io's op. */
static kx_status put_request(struct kx_client_ring *cr, struct kx_client_io *io, uint32_t type)
{
    static const uint32_t types[] = {0, KXR_READ, KXR_WRITE, KXR_IOCTL};
    size_t in_len = io->op == KX_CLIENT_OP_READ ? 0 : io->in_len;
    uint32_t s = cr->free_slot[cr->n_free - 1];
    void *p;
    if (kx_ring_reserve(cr->ring, type ? type : types[io->op], s, sizeof(struct kxr_req) + in_len,
                        KX_RING_FOREVER, &p) != STATUS_SUCCESS)
        return ring_dead(cr);
    struct kxr_req q = {io->handle, io->code, io->offset, out_len_of(io), io->timeout_ms};
    memcpy(p, &q, sizeof q);
    if (in_len)
        memcpy((uint8_t *)p + sizeof q, io->in, in_len);
    cr->n_free--;
    cr->slot[s] = io;
    cr->slot_credit[s] = kxr_done_bytes(q.out_len);
    cr->credit += cr->slot_credit[s];
    return STATUS_SUCCESS;
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
        if (rec->type != KXR_DONE || rec->id >= KXR_MAX_IN_FLIGHT || !cr->slot[rec->id] ||
            rec->len < sizeof d) {
            st = ring_dead(cr);
            break;
        }
        memcpy(&d, rec->data, sizeof d);
        struct kx_client_io *io = cr->slot[rec->id];
        if (d.got > out_len_of(io) || rec->len != sizeof d + d.got) {
            st = ring_dead(cr);
            break;
        }
        if (d.got)
            memcpy(io->out, (const uint8_t *)rec->data + sizeof d, d.got);
        io->status = (kx_status)d.status;
        io->got = d.got;
        io->information = d.information;
        cr->slot[rec->id] = NULL;
        done[n_done++] = (uint32_t)rec->id;
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
    while (next < n || cr->n_free < KXR_MAX_IN_FLIGHT) {
        int queued = 0;
        while (next < n && cr->n_free &&
               cr->credit + kxr_done_bytes(out_len_of(&ios[next])) <= KXR_CREDIT_BYTES) {
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
