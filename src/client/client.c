/* client.c — libkxclient: synchronous requests to kxd over its socket.
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

#include "core/plat_sock.h"
#include "proto/msg.h"

#include <stdlib.h>
#include <string.h>

struct kx_client {
    int fd;
    int dead;
    uint32_t next_req_id;
    char *message; /* last reply's text, never NULL after connect */
    struct kx_msg_builder out;
    uint8_t *in; /* last reply's payload */
    size_t in_cap;
    uint8_t rbuf[16384]; /* received, not yet consumed: rbuf[rhead..rtail) */
    size_t rhead, rtail;
};

/* The largest text field kxd sends (reports of big dependency trees). */
#define MAX_TEXT ((size_t)1 << 20)
/* The longest path or name kxd reads in a request (its MAX_PATH_TEXT), with its length. */
#define MAX_TEXT_REQUEST ((size_t)4096 + 4)

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

static void set_message(kx_client *c, char *text /* owned, may be NULL */)
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

static uint32_t begin(kx_client *c, uint16_t type)
{
    uint32_t id = next_id(c);
    kx_msg_begin(&c->out, type, id);
    return id;
}

static kx_status fail_dead(kx_client *c, kx_status st)
{
    c->dead = 1;
    set_message(c, strdup(kx_status_string(st)));
    return st;
}

static kx_status send_request(kx_client *c)
{
    if (c->dead)
        return STATUS_CONNECTION_LOST;
    kx_status st = kx_msg_finish(&c->out);
    if (st != STATUS_SUCCESS)
        return st;
    st = kx_plat_send_all(c->fd, c->out.buf, c->out.len);
    return st == STATUS_SUCCESS ? st : fail_dead(c, STATUS_CONNECTION_LOST);
}

static kx_status read_status_reply(kx_client *c, const struct kx_msg_hdr *h,
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
            return fail_dead(c, STATUS_CONNECTION_LOST);
        if (kx_msg_hdr_decode(raw, h, &why) != STATUS_SUCCESS)
            return fail_dead(c, STATUS_PROTOCOL_ERROR);
        if (h->len > c->in_cap) {
            uint8_t *nb = realloc(c->in, h->len);
            if (!nb)
                return fail_dead(c, STATUS_INSUFFICIENT_RESOURCES);
            c->in = nb;
            c->in_cap = h->len;
        }
        if (h->len && recv_exact(c, c->in, h->len) != STATUS_SUCCESS)
            return fail_dead(c, STATUS_CONNECTION_LOST);
        if (h->req_id == 0 && h->type == KX_MSG_ERROR && first != 0) {
            /* kxd turned the connection away (too many connections): its
             * reason is the answer to every request, this one first. */
            kx_msg_reader_init(r, c->in, h->len);
            kx_status st = read_status_reply(c, h, r, NULL);
            c->dead = 1;
            return st != STATUS_SUCCESS ? st : STATUS_CONNECTION_LOST;
        }
        if (h->req_id - first >= n)
            continue; /* a late answer to a request this client gave up on */
        kx_msg_reader_init(r, c->in, h->len);
        return STATUS_SUCCESS;
    }
}

static kx_status recv_reply(kx_client *c, uint32_t req_id, struct kx_msg_hdr *h,
                            struct kx_msg_reader *r)
{
    return recv_reply_in(c, req_id, 1, h, r);
}

/* ERROR and OK replies: status i32 [, value u64], message. */
static kx_status read_status_reply(kx_client *c, const struct kx_msg_hdr *h,
                                   struct kx_msg_reader *r, uint64_t *value)
{
    kx_status st = (kx_status)kx_msg_get_i32(r);
    uint64_t v = h->type == KX_MSG_OK ? kx_msg_get_u64(r) : 0;
    char *text = kx_msg_get_str(r, MAX_TEXT);
    if (kx_msg_reader_done(r) != STATUS_SUCCESS) {
        free(text);
        return fail_dead(c, STATUS_PROTOCOL_ERROR);
    }
    set_message(c, text);
    if (value)
        *value = v;
    return st;
}

/* Sends the built request and returns the status of an OK/ERROR reply. */
static kx_status simple_call(kx_client *c, uint32_t req_id, uint64_t *value)
{
    struct kx_msg_hdr h;
    struct kx_msg_reader r;
    kx_status st = send_request(c);
    if (st == STATUS_SUCCESS)
        st = recv_reply(c, req_id, &h, &r);
    if (st != STATUS_SUCCESS)
        return st;
    if (h.type != KX_MSG_OK && h.type != KX_MSG_ERROR)
        return fail_dead(c, STATUS_PROTOCOL_ERROR);
    return read_status_reply(c, &h, &r, value);
}

kx_status kx_client_open(kx_client *c, const char *path, uint32_t access, uint32_t *handle)
{
    uint32_t id = begin(c, KX_MSG_OPEN);
    kx_msg_put_str(&c->out, path);
    kx_msg_put_u32(&c->out, access);
    uint64_t v = 0;
    kx_status st = simple_call(c, id, &v);
    *handle = st == STATUS_SUCCESS ? (uint32_t)v : 0;
    return st;
}

kx_status kx_client_close(kx_client *c, uint32_t handle)
{
    uint32_t id = begin(c, KX_MSG_CLOSE);
    kx_msg_put_u32(&c->out, handle);
    return simple_call(c, id, NULL);
}

/* A DATA (or ERROR) reply: status, information, bytes copied into out (at
 * most out_len). */
static kx_status read_data_reply(kx_client *c, const struct kx_msg_hdr *h, struct kx_msg_reader *r,
                                 void *out, size_t out_len, size_t *got, uint64_t *information)
{
    *got = 0;
    if (h->type == KX_MSG_ERROR)
        return read_status_reply(c, h, r, NULL);
    if (h->type != KX_MSG_DATA)
        return fail_dead(c, STATUS_PROTOCOL_ERROR);
    kx_status st = (kx_status)kx_msg_get_i32(r);
    uint64_t info = kx_msg_get_u64(r);
    size_t n;
    const void *data = kx_msg_get_bytes(r, &n);
    if (kx_msg_reader_done(r) != STATUS_SUCCESS || n > out_len)
        return fail_dead(c, STATUS_PROTOCOL_ERROR);
    if (n)
        memcpy(out, data, n);
    *got = n;
    if (information)
        *information = info;
    set_message(c, strdup(""));
    return st;
}

static kx_status data_call(kx_client *c, uint32_t req_id, void *out, size_t out_len, size_t *got,
                           uint64_t *information)
{
    struct kx_msg_hdr h;
    struct kx_msg_reader r;
    *got = 0;
    kx_status st = send_request(c);
    if (st == STATUS_SUCCESS)
        st = recv_reply(c, req_id, &h, &r);
    if (st != STATUS_SUCCESS)
        return st;
    return read_data_reply(c, &h, &r, out, out_len, got, information);
}

kx_status kx_client_read(kx_client *c, uint32_t handle, uint64_t offset, void *buf, size_t len,
                         uint32_t timeout_ms, size_t *got)
{
    if (len > KX_CLIENT_IO_MAX)
        len = KX_CLIENT_IO_MAX; /* a short read; callers loop like read(2) */
    uint32_t id = begin(c, KX_MSG_READ);
    kx_msg_put_u32(&c->out, handle);
    kx_msg_put_u64(&c->out, offset);
    kx_msg_put_u32(&c->out, (uint32_t)len);
    kx_msg_put_u32(&c->out, timeout_ms);
    return data_call(c, id, buf, len, got, NULL);
}

kx_status kx_client_write(kx_client *c, uint32_t handle, uint64_t offset, const void *buf,
                          size_t len, uint32_t timeout_ms, uint64_t *information)
{
    if (len > KX_CLIENT_IO_MAX)
        return STATUS_BUFFER_TOO_SMALL;
    uint32_t id = begin(c, KX_MSG_WRITE);
    kx_msg_put_u32(&c->out, handle);
    kx_msg_put_u64(&c->out, offset);
    kx_msg_put_u32(&c->out, timeout_ms);
    kx_msg_put_bytes(&c->out, buf, len);
    uint64_t v = 0;
    kx_status st = simple_call(c, id, &v);
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
    uint32_t id = begin(c, KX_MSG_IOCTL);
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
        return fail_dead(c, STATUS_CONNECTION_LOST);
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
            return fail_dead(c, STATUS_PROTOCOL_ERROR);
        struct kx_client_io *io = &ios[at];
        if (io->op == KX_CLIENT_OP_WRITE) {
            if (h.type != KX_MSG_OK && h.type != KX_MSG_ERROR)
                return fail_dead(c, STATUS_PROTOCOL_ERROR);
            io->status = read_status_reply(c, &h, &r, &io->information);
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
    uint32_t id = begin(c, KX_MSG_LOAD);
    kx_msg_put_u32(&c->out, flags);
    kx_msg_put_str(&c->out, kext);
    return simple_call(c, id, NULL);
}

kx_status kx_client_unload(kx_client *c, const char *kext, uint32_t flags)
{
    uint32_t id = begin(c, KX_MSG_UNLOAD);
    kx_msg_put_u32(&c->out, flags);
    kx_msg_put_str(&c->out, kext);
    return simple_call(c, id, NULL);
}

/* ---- listings: ENTRY* then END ------------------------------------------ */

typedef int (*entry_fn)(struct kx_msg_reader *r, void *item);

/* Reads ENTRY* END for a request already sent. */
static kx_status read_list(kx_client *c, uint32_t req_id, uint16_t entry_type, size_t item_size,
                           entry_fn decode, void (*free_items)(void *, size_t), void **items,
                           size_t *n_items)
{
    struct kx_msg_hdr h;
    struct kx_msg_reader r;
    char *v = NULL;
    size_t n = 0, cap = 0;
    *items = NULL;
    *n_items = 0;
    kx_status st = STATUS_SUCCESS;
    while (st == STATUS_SUCCESS) {
        st = recv_reply(c, req_id, &h, &r);
        if (st != STATUS_SUCCESS)
            break;
        if (h.type == KX_MSG_ERROR) {
            st = read_status_reply(c, &h, &r, NULL);
            break;
        }
        if (h.type == KX_MSG_END) {
            st = (kx_status)kx_msg_get_i32(&r);
            uint64_t count = kx_msg_get_u64(&r);
            if (kx_msg_reader_done(&r) != STATUS_SUCCESS || count != n)
                st = fail_dead(c, STATUS_PROTOCOL_ERROR);
            break;
        }
        if (h.type != entry_type) {
            st = fail_dead(c, STATUS_PROTOCOL_ERROR);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char *nv = realloc(v, cap * item_size);
            if (!nv) {
                st = fail_dead(c, STATUS_INSUFFICIENT_RESOURCES);
                break;
            }
            v = nv;
        }
        memset(v + n * item_size, 0, item_size);
        n++; /* counted before decoding so a half-decoded item is freed too */
        if (!decode(&r, v + (n - 1) * item_size) || kx_msg_reader_done(&r) != STATUS_SUCCESS)
            st = fail_dead(c, STATUS_PROTOCOL_ERROR);
    }
    if (st != STATUS_SUCCESS) {
        free_items(v, n);
        return st;
    }
    *items = v;
    *n_items = n;
    return STATUS_SUCCESS;
}

static kx_status list_call(kx_client *c, uint32_t req_id, uint16_t entry_type, size_t item_size,
                           entry_fn decode, void (*free_items)(void *, size_t), void **items,
                           size_t *n_items)
{
    *items = NULL;
    *n_items = 0;
    kx_status st = send_request(c);
    if (st != STATUS_SUCCESS)
        return st;
    return read_list(c, req_id, entry_type, item_size, decode, free_items, items, n_items);
}

static int decode_kext(struct kx_msg_reader *r, void *item)
{
    struct kx_client_kext *k = item;
    k->tag = kx_msg_get_u32(r);
    k->refs = kx_msg_get_i32(r);
    k->address = kx_msg_get_u64(r);
    k->size = kx_msg_get_u64(r);
    k->wired = kx_msg_get_u64(r);
    k->id = kx_msg_get_str(r, MAX_TEXT);
    k->version = kx_msg_get_str(r, MAX_TEXT);
    k->uuid = kx_msg_get_str(r, MAX_TEXT);
    k->path = kx_msg_get_str(r, MAX_TEXT);
    uint32_t n = kx_msg_get_u32(r);
    if (r->failed || n > r->left / 4)
        return 0;
    k->linked_against = calloc(n ? n : 1, sizeof *k->linked_against);
    if (!k->linked_against)
        return 0;
    k->n_linked_against = n;
    for (uint32_t i = 0; i < n; i++)
        k->linked_against[i] = kx_msg_get_u32(r);
    k->host_pid = r->left >= 4 ? kx_msg_get_i32(r) : 0; /* older kxds don't say */
    if (r->left >= 8) {
        k->host_state = kx_msg_get_u32(r);
        k->restarts = kx_msg_get_u32(r);
        k->host_note = kx_msg_get_str(r, MAX_TEXT);
    }
    return !r->failed;
}

static void free_kexts(void *items, size_t n)
{
    kx_client_kexts_free(items, n);
}

void kx_client_kexts_free(struct kx_client_kext *kexts, size_t n)
{
    for (size_t i = 0; kexts && i < n; i++) {
        free(kexts[i].id);
        free(kexts[i].version);
        free(kexts[i].uuid);
        free(kexts[i].path);
        free(kexts[i].linked_against);
        free(kexts[i].host_note);
    }
    free(kexts);
}

kx_status kx_client_stat(kx_client *c, struct kx_client_kext **kexts, size_t *n)
{
    uint32_t id = begin(c, KX_MSG_STAT);
    return list_call(c, id, KX_MSG_STAT_ENTRY, sizeof **kexts, decode_kext, free_kexts,
                     (void **)kexts, n);
}

static int decode_object(struct kx_msg_reader *r, void *item)
{
    struct kx_client_object *o = item;
    o->is_device = kx_msg_get_u32(r) == 1;
    o->name = kx_msg_get_str(r, MAX_TEXT);
    o->target = kx_msg_get_str(r, MAX_TEXT);
    o->driver = kx_msg_get_str(r, MAX_TEXT);
    o->uid = kx_msg_get_u32(r);
    o->gid = kx_msg_get_u32(r);
    o->mode = kx_msg_get_u32(r);
    o->handles = kx_msg_get_u32(r);
    o->host_pid = r->left >= 4 ? kx_msg_get_i32(r) : 0; /* older kxds don't say */
    return !r->failed;
}

static void free_objects(void *items, size_t n)
{
    kx_client_objects_free(items, n);
}

void kx_client_objects_free(struct kx_client_object *objs, size_t n)
{
    for (size_t i = 0; objs && i < n; i++) {
        free(objs[i].name);
        free(objs[i].target);
        free(objs[i].driver);
    }
    free(objs);
}

kx_status kx_client_ls(kx_client *c, struct kx_client_object **objs, size_t *n)
{
    uint32_t id = begin(c, KX_MSG_LS);
    return list_call(c, id, KX_MSG_LS_ENTRY, sizeof **objs, decode_object, free_objects,
                     (void **)objs, n);
}

static int decode_log(struct kx_msg_reader *r, void *item)
{
    struct kx_client_log_line *l = item;
    l->seq = kx_msg_get_u64(r);
    l->time_ns = kx_msg_get_u64(r);
    l->source = kx_msg_get_str(r, MAX_TEXT);
    l->text = kx_msg_get_str(r, MAX_TEXT);
    return !r->failed;
}

static void free_log(void *items, size_t n)
{
    kx_client_log_free(items, n);
}

void kx_client_log_free(struct kx_client_log_line *lines, size_t n)
{
    for (size_t i = 0; lines && i < n; i++) {
        free(lines[i].source);
        free(lines[i].text);
    }
    free(lines);
}

kx_status kx_client_log(kx_client *c, uint64_t since, struct kx_client_log_line **lines, size_t *n)
{
    uint32_t id = begin(c, KX_MSG_LOG);
    kx_msg_put_u64(&c->out, since);
    return list_call(c, id, KX_MSG_LOG_ENTRY, sizeof **lines, decode_log, free_log, (void **)lines,
                     n);
}

/* ---- documents: CHUNK* END(total length) --------------------------------- */

/* Sends the built request and gathers the document; *out gets a NUL after
 * the bytes (text documents are used as strings). */
static kx_status document_call(kx_client *c, uint32_t req_id, char **out, size_t *out_len)
{
    struct kx_msg_hdr h;
    struct kx_msg_reader r;
    char *doc = NULL;
    size_t len = 0;
    *out = NULL;
    if (out_len)
        *out_len = 0;
    kx_status st = send_request(c);
    while (st == STATUS_SUCCESS) {
        if ((st = recv_reply(c, req_id, &h, &r)) != STATUS_SUCCESS)
            break;
        if (h.type == KX_MSG_ERROR) {
            st = read_status_reply(c, &h, &r, NULL);
            st = st == STATUS_SUCCESS ? fail_dead(c, STATUS_PROTOCOL_ERROR) : st;
            break;
        }
        if (h.type == KX_MSG_END) {
            st = (kx_status)kx_msg_get_i32(&r);
            uint64_t total = kx_msg_get_u64(&r);
            if (kx_msg_reader_done(&r) != STATUS_SUCCESS || total != len)
                st = fail_dead(c, STATUS_PROTOCOL_ERROR);
            if (st == STATUS_SUCCESS && !doc && !(doc = malloc(1)))
                st = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        size_t n = 0;
        const void *p = h.type == KX_MSG_CHUNK ? kx_msg_get_bytes(&r, &n) : NULL;
        if (!p || kx_msg_reader_done(&r) != STATUS_SUCCESS || n > KX_MSG_CHUNK_MAX ||
            len + n > KX_MSG_DOC_MAX) {
            st = fail_dead(c, STATUS_PROTOCOL_ERROR);
            break;
        }
        char *nd = realloc(doc, len + n + 1);
        if (!nd) {
            st = fail_dead(c, STATUS_INSUFFICIENT_RESOURCES);
            break;
        }
        doc = nd;
        memcpy(doc + len, p, n);
        len += n;
    }
    if (st != STATUS_SUCCESS) {
        free(doc);
        return st;
    }
    doc[len] = '\0';
    set_message(c, strdup(""));
    *out = doc;
    if (out_len)
        *out_len = len;
    return STATUS_SUCCESS;
}

kx_status kx_client_registry(kx_client *c, uint32_t plane, void **data, size_t *len)
{
    uint32_t id = begin(c, KX_MSG_REGISTRY);
    kx_msg_put_u32(&c->out, plane);
    char *doc = NULL;
    kx_status st = document_call(c, id, &doc, len);
    *data = doc;
    return st;
}

/* A JSON document: text, so no NUL inside. */
static kx_status json_call(kx_client *c, uint32_t req_id, char **json)
{
    size_t len = 0;
    kx_status st = document_call(c, req_id, json, &len);
    if (st == STATUS_SUCCESS && strlen(*json) != len) {
        free(*json);
        *json = NULL;
        st = fail_dead(c, STATUS_PROTOCOL_ERROR);
    }
    return st;
}

kx_status kx_client_catalog(kx_client *c, char **json)
{
    return json_call(c, begin(c, KX_MSG_CATALOG), json);
}

kx_status kx_client_match_report(kx_client *c, char **json)
{
    return json_call(c, begin(c, KX_MSG_MATCH_REPORT), json);
}

static int decode_nub(struct kx_msg_reader *r, void *item)
{
    struct kx_client_nub *n = item;
    n->id = kx_msg_get_u64(r);
    n->path = kx_msg_get_str(r, MAX_TEXT);
    return !r->failed;
}

static void free_nubs(void *items, size_t n)
{
    kx_client_nubs_free(items, n);
}

void kx_client_nubs_free(struct kx_client_nub *nubs, size_t n)
{
    for (size_t i = 0; nubs && i < n; i++)
        free(nubs[i].path);
    free(nubs);
}

kx_status kx_client_device_add(kx_client *c, const char *parent_path, const char *name,
                               const void *data, size_t len, struct kx_client_nub **nubs, size_t *n)
{
    *nubs = NULL;
    *n = 0;
    if (len > KX_MSG_MAX - 2 * MAX_TEXT_REQUEST)
        return STATUS_BUFFER_TOO_SMALL;
    uint32_t id = begin(c, KX_MSG_DEVICE_ADD);
    kx_msg_put_str(&c->out, parent_path);
    kx_msg_put_str(&c->out, name);
    kx_msg_put_bytes(&c->out, data, len);
    return list_call(c, id, KX_MSG_NUB, sizeof **nubs, decode_nub, free_nubs, (void **)nubs, n);
}

kx_status kx_client_device_remove(kx_client *c, const char *path)
{
    uint32_t id = begin(c, KX_MSG_DEVICE_REMOVE);
    kx_msg_put_str(&c->out, path);
    return simple_call(c, id, NULL);
}

kx_status kx_client_device_peek(kx_client *c, const char *address, uint32_t offset, void *buf,
                                size_t len)
{
    if (len > UINT32_MAX)
        return STATUS_INVALID_PARAMETER;
    uint32_t id = begin(c, KX_MSG_DEVICE_PEEK);
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
    uint32_t id = begin(c, KX_MSG_DEVICE_POKE);
    kx_msg_put_str(&c->out, address);
    kx_msg_put_u32(&c->out, offset);
    kx_msg_put_bytes(&c->out, data, len);
    return simple_call(c, id, NULL);
}

kx_status kx_client_mount(kx_client *c, const char *dir)
{
    uint32_t id = begin(c, KX_MSG_MOUNT);
    kx_msg_put_str(&c->out, dir);
    return simple_call(c, id, NULL);
}

/* ---- fault injection: OK, OK(value = removed), FAULT_ENTRY* END ----------- */

kx_status kx_client_fault_set(kx_client *c, const char *target, const char *words)
{
    uint32_t id = begin(c, KX_MSG_FAULT_SET);
    kx_msg_put_str(&c->out, target);
    kx_msg_put_str(&c->out, words);
    return simple_call(c, id, NULL);
}

kx_status kx_client_fault_clear(kx_client *c, const char *target, uint64_t *n)
{
    uint32_t id = begin(c, KX_MSG_FAULT_CLEAR);
    kx_msg_put_str(&c->out, target ? target : "");
    uint64_t v = 0;
    kx_status st = simple_call(c, id, &v);
    if (n)
        *n = st == STATUS_SUCCESS ? v : 0;
    return st;
}

static int decode_fault(struct kx_msg_reader *r, void *item)
{
    struct kx_client_fault *f = item;
    f->target = kx_msg_get_str(r, MAX_TEXT);
    f->rule = kx_msg_get_str(r, MAX_TEXT);
    f->seen = kx_msg_get_u64(r);
    f->fired = kx_msg_get_u64(r);
    return !r->failed;
}

static void free_faults(void *items, size_t n) { kx_client_faults_free(items, n); }

void kx_client_faults_free(struct kx_client_fault *faults, size_t n)
{
    for (size_t i = 0; faults && i < n; i++) {
        free(faults[i].target);
        free(faults[i].rule);
    }
    free(faults);
}

kx_status kx_client_fault_list(kx_client *c, struct kx_client_fault **faults, size_t *n)
{
    uint32_t id = begin(c, KX_MSG_FAULT_LIST);
    return list_call(c, id, KX_MSG_FAULT_ENTRY, sizeof **faults, decode_fault, free_faults,
                     (void **)faults, n);
}

/* ---- kxd itself: SERVER_INFO, then SERVER_CONN* END ---------------------- */

static int decode_conn(struct kx_msg_reader *r, void *item)
{
    struct kx_client_conn *k = item;
    k->id = kx_msg_get_u64(r);
    k->pid = kx_msg_get_i32(r);
    k->uid = kx_msg_get_u32(r);
    k->pending = kx_msg_get_u32(r);
    k->handles = kx_msg_get_u32(r);
    k->bytes_held = kx_msg_get_u64(r);
    k->throttled = kx_msg_get_u32(r) != 0;
    return !r->failed;
}

static void free_conns(void *items, size_t n)
{
    (void)n;
    free(items);
}

kx_status kx_client_server(kx_client *c, struct kx_client_server *out)
{
    memset(out, 0, sizeof *out);
    uint32_t id = begin(c, KX_MSG_SERVER);
    struct kx_msg_hdr h;
    struct kx_msg_reader r;
    kx_status st = send_request(c);
    if (st == STATUS_SUCCESS)
        st = recv_reply(c, id, &h, &r);
    if (st != STATUS_SUCCESS)
        return st;
    if (h.type == KX_MSG_ERROR)
        return read_status_reply(c, &h, &r, NULL);
    if (h.type != KX_MSG_SERVER_INFO)
        return fail_dead(c, STATUS_PROTOCOL_ERROR);
    out->conn_bytes_limit = kx_msg_get_u64(&r);
    out->total_bytes_limit = kx_msg_get_u64(&r);
    out->max_conns = kx_msg_get_u32(&r);
    out->max_conns_per_user = kx_msg_get_u32(&r);
    out->n_conns = kx_msg_get_u32(&r);
    out->n_throttled = kx_msg_get_u32(&r);
    out->bytes_held = kx_msg_get_u64(&r);
    out->refused = kx_msg_get_u64(&r);
    if (kx_msg_reader_done(&r) != STATUS_SUCCESS)
        return fail_dead(c, STATUS_PROTOCOL_ERROR);
    return read_list(c, id, KX_MSG_SERVER_CONN, sizeof *out->conns, decode_conn, free_conns,
                     (void **)&out->conns, &out->n_listed);
}

void kx_client_server_free(struct kx_client_server *s)
{
    if (!s)
        return;
    free(s->conns);
    s->conns = NULL;
    s->n_listed = 0;
}
