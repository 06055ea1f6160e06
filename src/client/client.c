/* client.c — libkxclient: synchronous requests to kxd over its socket, and
 * reads, writes, ioctls and batches through a shared-memory ring when kxd
 * offers one (client_ring.c; set up at the first of them, unless
 * KX_CLIENT_RING=0).
 *
 * Each call builds one request, sends it, and reads replies until the one
 * that answers it (matching req_id); kx_client_submit sends many in one
 * write and reaps their replies as they come. Replies are read through a
 * buffer, so a reply (or many small ones) costs one recv, not two. A reply
 * that is malformed, or a socket that breaks, marks the connection dead:
 * every later call fails with STATUS_CONNECTION_LOST rather than guessing
 * at the stream's state.
 */
#include <kx/client.h>

#include "client_int.h"
#include "client_ring.h"
#include "core/plat_sock.h"
#include "proto/msg.h"
#include "proto/ring_proto.h"

#include <stdlib.h>
#include <string.h>


kx_status kx_client_connect(const char *socket_path, kx_client **out)
{
    *out = NULL;
    if (!socket_path || !*socket_path)
        socket_path = getenv("KX_SOCKET");
    if (!socket_path || !*socket_path)
        socket_path = KX_DEFAULT_SOCKET;
    kx_client *c = calloc(1, sizeof *c);
    if (!c)
        return STATUS_INSUFFICIENT_RESOURCES;
    c->fd = -1;
    c->message = strdup("");
    if (!c->message) {
        free(c);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    kx_status st = kx_plat_sock_connect(socket_path, &c->fd);
    if (st != STATUS_SUCCESS) {
        kx_client_disconnect(c);
        return st;
    }
    *out = c;
    return STATUS_SUCCESS;
}

void kx_client_disconnect(kx_client *c)
{
    if (!c)
        return;
    kx_client_ring_close(c->ring);
    kx_plat_close(c->fd);
    kx_msg_builder_free(&c->out);
    free(c->in);
    free(c->message);
    free(c);
}

const char *kx_client_message(const kx_client *c)
{
    return c && c->message ? c->message : "";
}

void kxc_set_message(kx_client *c, char *text /* owned, may be NULL */)
{
    if (!text)
        return;
    free(c->message);
    c->message = text;
}

static uint32_t next_id(kx_client *c)
{
    uint32_t id = ++c->next_req_id;
    if (!id) /* 0 is kxd's "to the connection", never a request's */
        id = ++c->next_req_id;
    return id;
}

uint32_t kxc_begin(kx_client *c, uint16_t type)
{
    uint32_t id = next_id(c);
    kx_msg_begin(&c->out, type, id);
    return id;
}

kx_status kxc_fail_dead(kx_client *c, kx_status st)
{
    c->dead = 1;
    kxc_set_message(c, strdup(kx_status_string(st)));
    return st;
}

kx_status kxc_send_request(kx_client *c)
{
    if (c->dead)
        return STATUS_CONNECTION_LOST;
    kx_status st = kx_msg_finish(&c->out);
    if (st != STATUS_SUCCESS)
        return st;
    st = kx_plat_send_all(c->fd, c->out.buf, c->out.len);
    return st == STATUS_SUCCESS ? st : kxc_fail_dead(c, STATUS_CONNECTION_LOST);
}

kx_status kxc_read_status_reply(kx_client *c, const struct kx_msg_hdr *h,
                                   struct kx_msg_reader *r, uint64_t *value);

/* len bytes of the stream into dst, through rbuf; what doesn't fit in rbuf
 * (a large DATA reply) goes straight to dst. */
static kx_status recv_exact(kx_client *c, void *dst, size_t len)
{
    uint8_t *d = dst;
    while (len) {
        if (c->rhead == c->rtail) {
            c->rhead = c->rtail = 0;
            if (len >= sizeof c->rbuf)
                return kx_plat_recv_all(c->fd, d, len);
            kx_status st = kx_plat_recv_at_least(c->fd, c->rbuf, 1, sizeof c->rbuf, &c->rtail);
            if (st != STATUS_SUCCESS)
                return st;
        }
        size_t n = c->rtail - c->rhead < len ? c->rtail - c->rhead : len;
        memcpy(d, c->rbuf + c->rhead, n);
        c->rhead += n;
        d += n;
        len -= n;
    }
    return STATUS_SUCCESS;
}

/* Reads the next reply to a request in [first, first + n) into c->in; *r
 * reads its payload and h->req_id says which request it answers. */
static kx_status recv_reply_in(kx_client *c, uint32_t first, uint32_t n, struct kx_msg_hdr *h,
                               struct kx_msg_reader *r)
{
    uint8_t raw[KX_MSG_HDR_LEN];
    const char *why;
    for (;;) {
        if (recv_exact(c, raw, sizeof raw) != STATUS_SUCCESS)
            return kxc_fail_dead(c, STATUS_CONNECTION_LOST);
        if (kx_msg_hdr_decode(raw, h, &why) != STATUS_SUCCESS)
            return kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
        if (h->len > c->in_cap) {
            uint8_t *nb = realloc(c->in, h->len);
            if (!nb)
                return kxc_fail_dead(c, STATUS_INSUFFICIENT_RESOURCES);
            c->in = nb;
            c->in_cap = h->len;
        }
        if (h->len && recv_exact(c, c->in, h->len) != STATUS_SUCCESS)
            return kxc_fail_dead(c, STATUS_CONNECTION_LOST);
        if (h->req_id == 0 && h->type == KX_MSG_ERROR && first != 0) {
            /* kxd turned the connection away (too many connections): its
             * reason is the answer to every request, this one first. */
            kx_msg_reader_init(r, c->in, h->len);
            kx_status st = kxc_read_status_reply(c, h, r, NULL);
            c->dead = 1;
            return st != STATUS_SUCCESS ? st : STATUS_CONNECTION_LOST;
        }
        if (h->req_id - first >= n)
            continue; /* a late answer to a request this client gave up on */
        kx_msg_reader_init(r, c->in, h->len);
        return STATUS_SUCCESS;
    }
}

kx_status kxc_recv_reply(kx_client *c, uint32_t req_id, struct kx_msg_hdr *h,
                            struct kx_msg_reader *r)
{
    return recv_reply_in(c, req_id, 1, h, r);
}

/* ERROR and OK replies: status i32 [, value u64], message. */
kx_status kxc_read_status_reply(kx_client *c, const struct kx_msg_hdr *h,
                                   struct kx_msg_reader *r, uint64_t *value)
{
    kx_status st = (kx_status)kx_msg_get_i32(r);
    uint64_t v = h->type == KX_MSG_OK ? kx_msg_get_u64(r) : 0;
    char *text = kx_msg_get_str(r, MAX_TEXT);
    if (kx_msg_reader_done(r) != STATUS_SUCCESS) {
        free(text);
        return kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
    }
    kxc_set_message(c, text);
    if (value)
        *value = v;
    return st;
}

/* Sends the built request and returns the status of an OK/ERROR reply. */
kx_status kxc_simple_call(kx_client *c, uint32_t req_id, uint64_t *value)
{
    struct kx_msg_hdr h;
    struct kx_msg_reader r;
    kx_status st = kxc_send_request(c);
    if (st == STATUS_SUCCESS)
        st = kxc_recv_reply(c, req_id, &h, &r);
    if (st != STATUS_SUCCESS)
        return st;
    if (h.type != KX_MSG_OK && h.type != KX_MSG_ERROR)
        return kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
    return kxc_read_status_reply(c, &h, &r, value);
}

static struct kx_client_ring *ring_of(kx_client *c);

kx_status kx_client_open(kx_client *c, const char *path, uint32_t access, uint32_t *handle)
{
    if (path && strlen(path) <= KXR_PATH_MAX && ring_of(c)) {
        kx_status st;
        if (kx_client_ring_open_file(c->ring, path, access, &st, handle) != STATUS_SUCCESS)
            return kxc_fail_dead(c, STATUS_CONNECTION_LOST);
        if (c->message[0]) /* these answers carry no text */
            kxc_set_message(c, strdup(""));
        return st;
    }
    uint32_t id = kxc_begin(c, KX_MSG_OPEN);
    kx_msg_put_str(&c->out, path);
    kx_msg_put_u32(&c->out, access);
    uint64_t v = 0;
    kx_status st = kxc_simple_call(c, id, &v);
    *handle = st == STATUS_SUCCESS ? (uint32_t)v : 0;
    return st;
}

kx_status kx_client_close(kx_client *c, uint32_t handle)
{
    if (ring_of(c)) {
        kx_status st;
        if (kx_client_ring_close_file(c->ring, handle, &st) != STATUS_SUCCESS)
            return kxc_fail_dead(c, STATUS_CONNECTION_LOST);
        if (c->message[0])
            kxc_set_message(c, strdup(""));
        return st;
    }
    uint32_t id = kxc_begin(c, KX_MSG_CLOSE);
    kx_msg_put_u32(&c->out, handle);
    return kxc_simple_call(c, id, NULL);
}

/* A DATA (or ERROR) reply: status, information, bytes copied into out (at
 * most out_len). */
static kx_status read_data_reply(kx_client *c, const struct kx_msg_hdr *h, struct kx_msg_reader *r,
                                 void *out, size_t out_len, size_t *got, uint64_t *information)
{
    *got = 0;
    if (h->type == KX_MSG_ERROR)
        return kxc_read_status_reply(c, h, r, NULL);
    if (h->type != KX_MSG_DATA)
        return kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
    kx_status st = (kx_status)kx_msg_get_i32(r);
    uint64_t info = kx_msg_get_u64(r);
    size_t n;
    const void *data = kx_msg_get_bytes(r, &n);
    if (kx_msg_reader_done(r) != STATUS_SUCCESS || n > out_len)
        return kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
    if (n)
        memcpy(out, data, n);
    *got = n;
    if (information)
        *information = info;
    kxc_set_message(c, strdup(""));
    return st;
}

static kx_status data_call(kx_client *c, uint32_t req_id, void *out, size_t out_len, size_t *got,
                           uint64_t *information)
{
    struct kx_msg_hdr h;
    struct kx_msg_reader r;
    *got = 0;
    kx_status st = kxc_send_request(c);
    if (st == STATUS_SUCCESS)
        st = kxc_recv_reply(c, req_id, &h, &r);
    if (st != STATUS_SUCCESS)
        return st;
    return read_data_reply(c, &h, &r, out, out_len, got, information);
}

/* The ring, set up at the first call that can use it; NULL when kxd has
 * none to offer, KX_CLIENT_RING=0 says not to, or the socket broke. */
static struct kx_client_ring *ring_of(kx_client *c)
{
    if (c->ring || c->ring_tried || c->dead)
        return c->ring;
    c->ring_tried = 1;
    const char *env = getenv("KX_CLIENT_RING");
    if ((env && strcmp(env, "0") == 0) || c->rhead != c->rtail)
        return NULL;
    if (kx_client_ring_open(c->fd, next_id(c), &c->ring) == STATUS_CONNECTION_LOST)
        kxc_fail_dead(c, STATUS_CONNECTION_LOST);
    return c->ring;
}

/* ios through the ring; a broken ring takes the connection with it. */
static kx_status ring_submit(kx_client *c, struct kx_client_io *ios, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ios[i].status = STATUS_CONNECTION_LOST;
    if (kx_client_ring_submit(c->ring, ios, n) != STATUS_SUCCESS)
        return kxc_fail_dead(c, STATUS_CONNECTION_LOST);
    if (c->message[0]) /* these answers carry no text */
        kxc_set_message(c, strdup(""));
    return STATUS_SUCCESS;
}

static kx_status ring_call(kx_client *c, struct kx_client_io *io, size_t *got,
                           uint64_t *information)
{
    kx_status st = ring_submit(c, io, 1);
    if (got)
        *got = io->got;
    if (information)
        *information = io->information;
    return st != STATUS_SUCCESS ? st : io->status;
}

kx_status kx_client_read(kx_client *c, uint32_t handle, uint64_t offset, void *buf, size_t len,
                         uint32_t timeout_ms, size_t *got)
{
    if (len > KX_CLIENT_IO_MAX)
        len = KX_CLIENT_IO_MAX; /* a short read; callers loop like read(2) */
    if (ring_of(c)) {
        struct kx_client_io io = {.op = KX_CLIENT_OP_READ, .handle = handle, .offset = offset,
                                  .timeout_ms = timeout_ms, .out = buf, .out_len = len};
        *got = 0;
        return ring_call(c, &io, got, NULL);
    }
    uint32_t id = kxc_begin(c, KX_MSG_READ);
    kx_msg_put_u32(&c->out, handle);
    kx_msg_put_u64(&c->out, offset);
    kx_msg_put_u32(&c->out, (uint32_t)len);
    kx_msg_put_u32(&c->out, timeout_ms);
    return data_call(c, id, buf, len, got, NULL);
}

kx_status kx_client_read_view(kx_client *c, uint32_t handle, uint64_t offset, size_t len,
                              uint32_t timeout_ms, const void **data, size_t *got)
{
    *data = NULL;
    *got = 0;
    if (len > KX_CLIENT_IO_MAX)
        len = KX_CLIENT_IO_MAX;
    if (ring_of(c)) {
        struct kx_client_io io = {.op = KX_CLIENT_OP_READ, .handle = handle, .offset = offset,
                                  .timeout_ms = timeout_ms, .out_len = len,
                                  .status = STATUS_CONNECTION_LOST};
        int answered = 0;
        if (kx_client_ring_read_lent(c->ring, &io, data, &answered) != STATUS_SUCCESS)
            return kxc_fail_dead(c, STATUS_CONNECTION_LOST);
        if (answered) {
            if (c->message[0]) /* these answers carry no text */
                kxc_set_message(c, strdup(""));
            *got = *data ? io.got : 0;
            return io.status;
        }
    }
    void *buf = malloc(len ? len : 1); /* no slot to lend: a buffer of the library's */
    if (!buf)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = kx_client_read(c, handle, offset, buf, len, timeout_ms, got);
    if (st != STATUS_SUCCESS) {
        free(buf);
        *got = 0;
        return st;
    }
    *data = buf;
    return st;
}

void kx_client_read_release(kx_client *c, const void *data)
{
    if (!data || (c && c->ring && kx_client_ring_give_back(c->ring, data)))
        return;
    free((void *)data);
}

kx_status kx_client_write(kx_client *c, uint32_t handle, uint64_t offset, const void *buf,
                          size_t len, uint32_t timeout_ms, uint64_t *information)
{
    if (len > KX_CLIENT_IO_MAX)
        return STATUS_BUFFER_TOO_SMALL;
    if (ring_of(c)) {
        struct kx_client_io io = {.op = KX_CLIENT_OP_WRITE, .handle = handle, .offset = offset,
                                  .timeout_ms = timeout_ms, .in = buf, .in_len = len};
        return ring_call(c, &io, NULL, information);
    }
    uint32_t id = kxc_begin(c, KX_MSG_WRITE);
    kx_msg_put_u32(&c->out, handle);
    kx_msg_put_u64(&c->out, offset);
    kx_msg_put_u32(&c->out, timeout_ms);
    kx_msg_put_bytes(&c->out, buf, len);
    uint64_t v = 0;
    kx_status st = kxc_simple_call(c, id, &v);
    if (information)
        *information = v;
    return st;
}

kx_status kx_client_ioctl(kx_client *c, uint32_t handle, uint32_t code, const void *in,
                          size_t in_len, void *out, size_t out_len, uint32_t timeout_ms,
                          size_t *got)
{
    if (in_len > KX_CLIENT_IO_MAX || out_len > KX_CLIENT_IO_MAX)
        return STATUS_BUFFER_TOO_SMALL;
    if (ring_of(c)) {
        struct kx_client_io io = {.op = KX_CLIENT_OP_IOCTL, .handle = handle, .code = code,
                                  .timeout_ms = timeout_ms, .in = in, .in_len = in_len,
                                  .out = out, .out_len = out_len};
        *got = 0;
        return ring_call(c, &io, got, NULL);
    }
    uint32_t id = kxc_begin(c, KX_MSG_IOCTL);
    kx_msg_put_u32(&c->out, handle);
    kx_msg_put_u32(&c->out, code);
    kx_msg_put_u32(&c->out, (uint32_t)out_len);
    kx_msg_put_u32(&c->out, timeout_ms);
    kx_msg_put_bytes(&c->out, in, in_len);
    return data_call(c, id, out, out_len, got, NULL);
}

/* Appends one io's request to the batch being built in c->out; its id. */
static uint32_t batch_put(kx_client *c, const struct kx_client_io *io, int first)
{
    static const uint16_t types[] = {0, KX_MSG_READ, KX_MSG_WRITE, KX_MSG_IOCTL};
    uint32_t id = next_id(c);
    if (first)
        kx_msg_begin(&c->out, types[io->op], id);
    else
        kx_msg_begin_next(&c->out, types[io->op], id);
    kx_msg_put_u32(&c->out, io->handle);
    if (io->op == KX_CLIENT_OP_IOCTL) {
        kx_msg_put_u32(&c->out, io->code);
        kx_msg_put_u32(&c->out, (uint32_t)io->out_len);
    } else {
        kx_msg_put_u64(&c->out, io->offset);
        if (io->op == KX_CLIENT_OP_READ)
            kx_msg_put_u32(&c->out, (uint32_t)io->out_len);
    }
    kx_msg_put_u32(&c->out, io->timeout_ms);
    if (io->op != KX_CLIENT_OP_READ)
        kx_msg_put_bytes(&c->out, io->in, io->in_len);
    return id;
}

kx_status kx_client_submit(kx_client *c, struct kx_client_io *ios, size_t n)
{
    size_t bytes = 0;
    if (!c || (n && !ios) || n > KX_CLIENT_BATCH_MAX)
        return STATUS_INVALID_PARAMETER;
    for (size_t i = 0; i < n; i++) {
        if (ios[i].op < KX_CLIENT_OP_READ || ios[i].op > KX_CLIENT_OP_IOCTL ||
            ios[i].in_len > KX_CLIENT_IO_MAX || ios[i].out_len > KX_CLIENT_IO_MAX ||
            (ios[i].in_len && !ios[i].in) || (ios[i].out_len && !ios[i].out))
            return STATUS_INVALID_PARAMETER;
        bytes += ios[i].in_len + ios[i].out_len;
        ios[i].status = STATUS_CONNECTION_LOST;
        ios[i].got = 0;
        ios[i].information = 0;
    }
    if (bytes > KX_CLIENT_BATCH_BYTES)
        return STATUS_INVALID_PARAMETER;
    if (c->dead)
        return STATUS_CONNECTION_LOST;
    if (!n)
        return STATUS_SUCCESS;
    if (ring_of(c))
        return ring_submit(c, ios, n);
    /* Ids run on from first; where they wrap past 0, the range check in
     * recv_reply_in (unsigned distance from first) still holds, and the
     * skipped 0 costs one slot of the range. */
    uint32_t first = 0, span;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = batch_put(c, &ios[i], i == 0);
        if (i == 0)
            first = id;
        kx_status st = kx_msg_finish(&c->out);
        if (st != STATUS_SUCCESS)
            return st;
    }
    span = c->next_req_id - first + 1;
    if (kx_plat_send_all(c->fd, c->out.buf, c->out.len) != STATUS_SUCCESS)
        return kxc_fail_dead(c, STATUS_CONNECTION_LOST);
    for (size_t answered = 0; answered < n; answered++) {
        struct kx_msg_hdr h;
        struct kx_msg_reader r;
        kx_status st = recv_reply_in(c, first, span, &h, &r);
        if (st != STATUS_SUCCESS)
            return st;
        uint32_t at = h.req_id - first;
        if (span > n && h.req_id < first)
            at--; /* past the skipped 0 */
        if (h.req_id == 0 || at >= n)
            return kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
        struct kx_client_io *io = &ios[at];
        if (io->op == KX_CLIENT_OP_WRITE) {
            if (h.type != KX_MSG_OK && h.type != KX_MSG_ERROR)
                return kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
            io->status = kxc_read_status_reply(c, &h, &r, &io->information);
        } else {
            io->status =
                read_data_reply(c, &h, &r, io->out, io->out_len, &io->got, &io->information);
        }
        if (c->dead)
            return STATUS_CONNECTION_LOST;
    }
    return STATUS_SUCCESS;
}

kx_status kx_client_load(kx_client *c, const char *kext, uint32_t flags)
{
    uint32_t id = kxc_begin(c, KX_MSG_LOAD);
    kx_msg_put_u32(&c->out, flags);
    kx_msg_put_str(&c->out, kext);
    return kxc_simple_call(c, id, NULL);
}

kx_status kx_client_unload(kx_client *c, const char *kext, uint32_t flags)
{
    uint32_t id = kxc_begin(c, KX_MSG_UNLOAD);
    kx_msg_put_u32(&c->out, flags);
    kx_msg_put_str(&c->out, kext);
    return kxc_simple_call(c, id, NULL);
}

/* ---- kx device peek/poke: DATA, OK ------------------------------------- */

kx_status kx_client_device_peek(kx_client *c, const char *address, uint32_t offset, void *buf,
                                size_t len)
{
    if (len > UINT32_MAX)
        return STATUS_INVALID_PARAMETER;
    uint32_t id = kxc_begin(c, KX_MSG_DEVICE_PEEK);
    kx_msg_put_str(&c->out, address);
    kx_msg_put_u32(&c->out, offset);
    kx_msg_put_u32(&c->out, (uint32_t)len);
    size_t got = 0;
    kx_status st = data_call(c, id, buf, len, &got, NULL);
    return st == STATUS_SUCCESS && got != len ? STATUS_PROTOCOL_ERROR : st;
}

kx_status kx_client_device_poke(kx_client *c, const char *address, uint32_t offset,
                                const void *data, size_t len)
{
    uint32_t id = kxc_begin(c, KX_MSG_DEVICE_POKE);
    kx_msg_put_str(&c->out, address);
    kx_msg_put_u32(&c->out, offset);
    kx_msg_put_bytes(&c->out, data, len);
    return kxc_simple_call(c, id, NULL);
}
