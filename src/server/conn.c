/* conn.c — kxd's connections, on kx-srv: reading and framing requests,
 * dispatching them, queueing and writing replies, back-pressure, and taking
 * a connection down (its files closed on a worker, its ring ended).
 */
#include "server_state.h"

#include "core/plat.h"
#include "core/plat_poll.h"
#include "core/plat_user.h"
#include "proto/ring_proto.h"
#include "ring_srv.h"

#include <kx/kernel.h>
#include <stdlib.h>
#include <string.h>

/* ---- connections (kx-srv only) -------------------------------------------- */

struct conn *kx_srv_find_conn(struct kx_srv *srv, uint64_t id)
{
    for (struct conn *c = srv->conns; c; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

/* A connection that holds nothing may always send one request: a client that
 * waits for each answer is never starved by others that hoard. */
static int over_bytes(const struct kx_srv *srv, const struct conn *c)
{
    uint64_t mine = c->charged + c->out_bytes;
    return mine && (mine >= srv->lim.conn_bytes ||
                    srv->charged + srv->out_bytes >= srv->lim.total_bytes);
}

static void update_interest(struct kx_srv *srv, struct conn *c)
{
    uint32_t want = 0;
    int throttled = !c->closing && over_bytes(srv, c);
    if (!c->closing && c->n_pending < MAX_IN_FLIGHT && !throttled)
        want |= KX_POLL_IN;
    if (c->out_head)
        want |= KX_POLL_OUT;
    if (throttled != c->throttled) {
        c->throttled = throttled;
        srv->n_throttled += throttled ? 1u : (uint32_t)-1;
    }
    if (want != c->poll_events) {
        kx_plat_poller_set(srv->poller, c->fd, c->id, want, 0);
        c->poll_events = want;
    }
}

/* Bytes were released: connections held back by the total may go on. */
static void release_throttled(struct kx_srv *srv)
{
    for (struct conn *c = srv->conns; c && srv->n_throttled; c = c->next)
        if (c->throttled)
            update_interest(srv, c);
}

static struct pending *find_pending(struct conn *c, uint32_t req_id)
{
    for (unsigned i = 0; i < c->n_pending; i++)
        if (c->pending[i].req_id == req_id)
            return &c->pending[i];
    return NULL;
}

static void add_charge(struct kx_srv *srv, struct conn *c, struct pending *p, uint64_t bytes)
{
    uint32_t b = bytes > UINT32_MAX - p->charge ? UINT32_MAX - p->charge : (uint32_t)bytes;
    p->charge += b;
    c->charged += b;
    srv->charged += b;
}

static void end_pending(struct kx_srv *srv, struct conn *c, struct pending *p)
{
    c->charged -= p->charge;
    srv->charged -= p->charge;
    *p = c->pending[--c->n_pending];
}

struct close_job {
    kx_io_handle *handles;
    size_t n;
};

static void close_files_job(struct kx_srv *srv, void *arg)
{
    struct close_job *j = arg;
    for (size_t i = 0; i < j->n; i++)
        kx_io_close(srv->io, j->handles[i]);
    free(j->handles);
    free(j);
}

/* Closes the files a departed client left open, on a worker: each close may
 * wait for a driver's CLEANUP and CLOSE. */
static void close_files_later(struct kx_srv *srv, struct conn *c)
{
    size_t n = kx_srv_files_count(c->files);
    if (n == 0)
        return;
    struct close_job *j = calloc(1, sizeof *j);
    kx_io_handle *hs = calloc(n, sizeof *hs);
    if (!j || !hs) {
        free(j);
        free(hs);
        kx_io_handle h;
        while (kx_srv_files_take_all(c->files, &h, 1)) /* no memory: close here, even if slow */
            kx_io_close(srv->io, h);
        return;
    }
    j->n = kx_srv_files_take_all(c->files, hs, n);
    j->handles = hs;
    if (kx_srv_defer(srv, close_files_job, j) != STATUS_SUCCESS)
        close_files_job(srv, j);
}

void kx_srv_drop_conn(struct kx_srv *srv, struct conn *c, const char *why)
{
    struct conn **pp = &srv->conns;
    while (*pp && *pp != c)
        pp = &(*pp)->next;
    if (*pp)
        *pp = c->next;
    if (why)
        kx_log_info(&srv->log, "client pid %d: %s", (int)c->cred.pid, why);
    kx_plat_poller_remove(srv->poller, c->fd);
    kx_plat_close(c->fd);
    kx_srv_ring_end(c->ring); /* before the files close: no new I/O from it */
    close_files_later(srv, c);
    while (c->out_head) {
        struct out_buf *o = c->out_head;
        c->out_head = o->next;
        free(o->data);
        free(o);
    }
    srv->charged -= c->charged;
    srv->out_bytes -= c->out_bytes;
    srv->n_conns--;
    if (c->throttled)
        srv->n_throttled--;
    kx_srv_files_unref(c->files);
    free(c->payload);
    free(c);
    release_throttled(srv);
}

static int is_entry_type(uint16_t type)
{
    return type == KX_MSG_STAT_ENTRY || type == KX_MSG_LS_ENTRY || type == KX_MSG_LOG_ENTRY ||
           type == KX_MSG_SERVER_INFO || type == KX_MSG_SERVER_CONN || type == KX_MSG_CHUNK ||
           type == KX_MSG_NUB || type == KX_MSG_FAULT_ENTRY;
}

/* Queues msg (owned from here on) if it answers a pending request — a final
 * reply ends the request and turns its charge into output bytes — or
 * unconditionally (a rejection). 0 when queued or dropped as stale; -1 when
 * c had to be dropped instead. */
int kx_srv_queue_out(struct kx_srv *srv, struct conn *c, uint8_t *msg, size_t len,
                     int unconditional)
{
    uint16_t type = (uint16_t)(msg[6] | msg[7] << 8);
    uint32_t req_id = (uint32_t)msg[12] | (uint32_t)msg[13] << 8 | (uint32_t)msg[14] << 16 |
                      (uint32_t)msg[15] << 24;
    struct pending *p = unconditional ? NULL : find_pending(c, req_id);
    if (!unconditional && !p) {
        free(msg); /* the request was answered already (at shutdown) */
        return 0;
    }
    struct out_buf *o = calloc(1, sizeof *o);
    if (!o) {
        free(msg);
        kx_srv_drop_conn(srv, c, "reply lost (out of memory)");
        return -1;
    }
    o->data = msg;
    o->len = len;
    if (c->out_tail)
        c->out_tail->next = o;
    else
        c->out_head = o;
    c->out_tail = o;
    c->out_bytes += len;
    srv->out_bytes += len;
    if (p && !is_entry_type(type))
        end_pending(srv, c, p);
    return 0;
}

/* Writes what the socket takes; returns -1 when the connection was dropped. */
int kx_srv_flush_out(struct kx_srv *srv, struct conn *c)
{
    while (c->out_head) {
        struct out_buf *o = c->out_head;
        size_t sent = 0;
        kx_status st = kx_plat_send_some(c->fd, o->data + o->off, o->len - o->off, &sent);
        if (st == STATUS_PENDING)
            break;
        if (st != STATUS_SUCCESS) {
            kx_srv_drop_conn(srv, c, "connection lost while writing");
            return -1;
        }
        o->off += sent;
        c->out_bytes -= sent;
        srv->out_bytes -= sent;
        if (o->off < o->len)
            break;
        c->out_head = o->next;
        if (!c->out_head)
            c->out_tail = NULL;
        free(o->data);
        free(o);
    }
    if (c->closing && !c->out_head) {
        kx_srv_drop_conn(srv, c, NULL);
        return -1;
    }
    update_interest(srv, c);
    release_throttled(srv);
    return 0;
}


/* A message kxd could not accept: answer why, then close once it is sent.
 * -1 when c had to be dropped at once. */
static int reject(struct kx_srv *srv, struct conn *c, uint32_t req_id, const char *why)
{
    kx_log_warnx(&srv->log, "client pid %d uid %u: %s; closing its connection", (int)c->cred.pid,
                 (unsigned)c->cred.uid, why);
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_ERROR, req_id);
    kx_msg_put_i32(&b, STATUS_PROTOCOL_ERROR);
    kx_msg_put_str(&b, why);
    if (kx_msg_finish(&b) == STATUS_SUCCESS) {
        uint8_t *msg = b.buf;
        b.buf = NULL;
        if (kx_srv_queue_out(srv, c, msg, b.len, 1) != 0)
            return -1;
    }
    kx_msg_builder_free(&b);
    c->closing = 1;
    return 0;
}

static void disconnect_fn(struct kx_srv *srv, uint64_t conn_id, int conn_alive, void *arg)
{
    (void)arg;
    if (conn_alive)
        kx_srv_drop_conn(srv, kx_srv_find_conn(srv, conn_id), NULL);
}

void kx_srv_disconnect(struct kx_srv *srv, uint64_t conn_id)
{
    if (kx_srv_post_fn(srv, conn_id, disconnect_fn, NULL) != STATUS_SUCCESS)
        kx_log_error(&srv->log, "connection %llu: could not be dropped (out of memory)",
                     (unsigned long long)conn_id);
}

/* KX_MSG_RING (proto/ring_proto.h): answered at once, out of the pending
 * machinery, because the descriptors must follow the answer on the socket
 * with nothing in between. -1 when c was dropped. */
static int setup_ring(struct kx_srv *srv, struct conn *c)
{
    if (c->hdr.len)
        return reject(srv, c, c->hdr.req_id, "malformed request payload");
    struct kx_srv_ring *ring = NULL;
    kx_status st = STATUS_RING_NOT_IDLE;
    if (!c->ring && !c->n_pending && !c->out_head)
        st = kx_srv_ring_new(srv->rings, c->id, &c->cred, c->files, &ring);
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_OK, c->hdr.req_id);
    kx_msg_put_i32(&b, st);
    kx_msg_put_u64(&b, 0);
    kx_msg_put_str(&b, "");
    if (kx_msg_finish(&b) != STATUS_SUCCESS) {
        kx_msg_builder_free(&b);
        kx_srv_ring_end(ring);
        kx_srv_drop_conn(srv, c, "out of memory");
        return -1;
    }
    if (!ring) { /* in order behind what it is still owed */
        uint8_t *msg = b.buf;
        b.buf = NULL;
        return kx_srv_queue_out(srv, c, msg, b.len, 1);
    }
    size_t sent = 0;
    kx_status sst = kx_plat_send_some(c->fd, b.buf, b.len, &sent);
    kx_msg_builder_free(&b);
    if (sst != STATUS_SUCCESS || sent != KXR_SETUP_REPLY_LEN ||
        kx_srv_ring_send(ring, c->fd) != STATUS_SUCCESS) {
        kx_srv_ring_end(ring);
        kx_srv_drop_conn(srv, c, "could not hand over its ring");
        return -1;
    }
    c->ring = ring;
    kx_srv_ring_start(ring);
    return 0;
}

/* Runs the request's handler; -1 when the connection was dropped. Handlers
 * only post replies, so c survives them. */
static int dispatch(struct kx_srv *srv, struct conn *c)
{
    if (c->hdr.type == KX_MSG_RING)
        return setup_ring(srv, c);
    const struct kx_srv_op *op = NULL;
    for (const struct kx_srv_op *o = kx_srv_ops; o->fn; o++)
        if (o->type == c->hdr.type)
            op = o;
    if (!op) /* a reply type sent as a request */
        return reject(srv, c, c->hdr.req_id, "message type is not a request");
    if (find_pending(c, c->hdr.req_id))
        return reject(srv, c, c->hdr.req_id, "request id already in use by a pending request");
    struct kx_srv_req req = {srv, c->id, c->cred, c->hdr.req_id, c->hdr.type, {0}, 0};
    kx_msg_reader_init(&req.in, c->payload, c->hdr.len);
    /* Pending before the handler runs: its replies are posted, and only
     * queued (which needs the entry) after this returns. */
    struct pending *p = &c->pending[c->n_pending++];
    *p = (struct pending){c->hdr.req_id, 0};
    add_charge(srv, c, p, (uint64_t)KX_MSG_HDR_LEN + c->hdr.len + SMALL_REPLY);
    if (op->fn(&req) != STATUS_SUCCESS) {
        end_pending(srv, c, p);
        return reject(srv, c, req.req_id, "malformed request payload");
    }
    add_charge(srv, c, p, req.reply_bytes);
    return 0;
}

/* Reads what is available; returns -1 when the connection was dropped. */
int kx_srv_read_conn(struct kx_srv *srv, struct conn *c)
{
    for (int rounds = 0; rounds < 64 && !c->closing && c->n_pending < MAX_IN_FLIGHT &&
                         !over_bytes(srv, c);
         rounds++) {
        uint8_t *dst;
        size_t want;
        if (!c->have_hdr) {
            dst = c->hdr_raw + c->hdr_got;
            want = KX_MSG_HDR_LEN - c->hdr_got;
        } else {
            dst = c->payload + c->payload_got;
            want = c->hdr.len - c->payload_got;
        }
        size_t got = 0;
        if (want) {
            kx_status st = kx_plat_recv_some(c->fd, dst, want, &got);
            if (st == STATUS_PENDING)
                break;
            if (st != STATUS_SUCCESS || got == 0) {
                kx_srv_drop_conn(srv, c,
                          c->hdr_got || c->have_hdr ? "disconnected mid-message" : NULL);
                return -1;
            }
        }
        if (!c->have_hdr) {
            c->hdr_got += got;
            if (c->hdr_got < KX_MSG_HDR_LEN)
                continue;
            const char *why;
            if (kx_msg_hdr_decode(c->hdr_raw, &c->hdr, &why) != STATUS_SUCCESS) {
                if (reject(srv, c, c->hdr.req_id, why) != 0)
                    return -1;
                break;
            }
            c->have_hdr = 1;
            c->payload_got = 0;
            if (c->hdr.len > c->payload_cap) { /* kept: no allocation per request */
                free(c->payload);
                c->payload_cap = 0;
                if (!(c->payload = malloc(c->hdr.len))) {
                    kx_srv_drop_conn(srv, c, "out of memory");
                    return -1;
                }
                c->payload_cap = c->hdr.len;
            }
            if (c->hdr.len)
                continue;
        } else {
            c->payload_got += got;
            if (c->payload_got < c->hdr.len)
                continue;
        }
        c->have_hdr = 0;
        c->hdr_got = 0;
        if (dispatch(srv, c) != 0)
            return -1;
    }
    if (c->out_head)
        return kx_srv_flush_out(srv, c);
    update_interest(srv, c);
    return 0;
}

/* A finished ERROR message for a connection turned away (malloc'ed). */
static uint8_t *refusal(kx_status st, const char *why, size_t *len)
{
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_ERROR, 0);
    kx_msg_put_i32(&b, st);
    kx_msg_put_str(&b, why);
    if (kx_msg_finish(&b) != STATUS_SUCCESS) {
        kx_msg_builder_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.buf;
}

int kx_srv_is_privileged(const struct kx_srv *srv, uint32_t uid)
{
    return uid == 0 || uid == srv->self_uid;
}

int kx_srv_may_read_log(const struct kx_srv *srv, const struct kx_plat_cred *cred)
{
    return srv->log_public || kx_srv_is_privileged(srv, cred->uid) ||
           (srv->has_log_group && kx_plat_user_in_group(cred->uid, cred->gid, srv->log_gid));
}

/* NULL when the limits allow one more connection from uid, else why not. */
static const char *over_conn_limits(const struct kx_srv *srv, uint32_t uid)
{
    if (srv->n_conns >= srv->lim.max_conns)
        return "too many connections to kxd";
    if (kx_srv_is_privileged(srv, uid))
        return NULL;
    uint32_t mine = 0;
    for (const struct conn *c = srv->conns; c; c = c->next)
        mine += c->cred.uid == uid;
    return mine >= srv->lim.max_conns_per_user ? "too many connections to kxd from this user"
                                               : NULL;
}

kx_status kx_srv_adopt(struct kx_srv *srv, int fd, pid_t pid, uid_t uid, gid_t gid)
{
    const char *why = over_conn_limits(srv, uid);
    if (why) {
        size_t len = 0;
        uint8_t *msg = refusal(STATUS_TOO_MANY_CONNECTIONS, why, &len);
        if (msg)
            kx_plat_send_some(fd, msg, len, &len);
        free(msg);
        kx_plat_close(fd);
        srv->refused++;
        kx_log_warnx(&srv->log, "client pid %d uid %u refused: %s", (int)pid, (unsigned)uid, why);
        return STATUS_TOO_MANY_CONNECTIONS;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (c && !(c->files = kx_srv_files_new())) {
        free(c);
        c = NULL;
    }
    if (!c) {
        kx_plat_close(fd);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    c->id = srv->next_conn_id++;
    c->fd = fd;
    c->cred = (struct kx_plat_cred){pid, uid, gid};
    c->poll_events = KX_POLL_IN;
    kx_status st = kx_plat_poller_set(srv->poller, fd, c->id, KX_POLL_IN, 1);
    if (st != STATUS_SUCCESS) {
        kx_plat_close(fd);
        kx_srv_files_unref(c->files);
        free(c);
        return st;
    }
    c->next = srv->conns;
    srv->conns = c;
    srv->n_conns++;
    kx_log_debug(&srv->log, "client pid %d uid %u connected", (int)pid, (unsigned)uid);
    return STATUS_SUCCESS;
}

/* Out of descriptors (or memory): turn the oldest waiting client away with a
 * reason, and rest the listener so a level-triggered poller does not spin. */
static void accept_failed(struct kx_srv *srv, kx_status st)
{
    size_t len = 0;
    uint8_t *msg = refusal(STATUS_TOO_MANY_CONNECTIONS, "kxd is out of file descriptors", &len);
    if (st == STATUS_INSUFFICIENT_RESOURCES &&
        kx_plat_sock_shed(srv->listen_fd, &srv->reserve_fd, msg, len))
        srv->refused++;
    free(msg);
    kx_log_warnx(&srv->log, "accept: %s; not accepting for %u ms", kx_status_string(st),
                 (unsigned)(LISTEN_REST_NS / 1000000u));
    kx_plat_poller_set(srv->poller, srv->listen_fd, KEY_LISTEN, 0, 0);
    srv->listen_rest_until = kx_plat_monotonic_ns() + LISTEN_REST_NS;
}

void kx_srv_accept_all(struct kx_srv *srv)
{
    for (;;) {
        int fd;
        struct kx_plat_cred cred;
        kx_status st = kx_plat_sock_accept(srv->listen_fd, &fd, &cred);
        if (st == STATUS_PENDING)
            return;
        if (st != STATUS_SUCCESS) {
            accept_failed(srv, st);
            return;
        }
        kx_srv_adopt(srv, fd, cred.pid, cred.uid, cred.gid);
    }
}

/* ---- the server's own report (kx stat --server) ---------------------------- */

void kx_srv_report(struct kx_srv_req *req)
{
    struct kx_srv *srv = req->srv;
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_SERVER_INFO, req->req_id);
    kx_msg_put_u64(&b, srv->lim.conn_bytes);
    kx_msg_put_u64(&b, srv->lim.total_bytes);
    kx_msg_put_u32(&b, srv->lim.max_conns);
    kx_msg_put_u32(&b, srv->lim.max_conns_per_user);
    kx_msg_put_u32(&b, srv->n_conns);
    kx_msg_put_u32(&b, srv->n_throttled);
    kx_msg_put_u64(&b, srv->charged + srv->out_bytes);
    kx_msg_put_u64(&b, srv->refused);
    kx_srv_post(srv, req->conn_id, &b);
    int all = kx_srv_is_privileged(srv, req->cred.uid);
    uint64_t n = 0;
    for (const struct conn *c = srv->conns; c; c = c->next) {
        if (!all && c->cred.uid != req->cred.uid)
            continue;
        uint32_t handles = (uint32_t)kx_srv_files_count(c->files);
        kx_msg_begin(&b, KX_MSG_SERVER_CONN, req->req_id);
        kx_msg_put_u64(&b, c->id);
        kx_msg_put_i32(&b, (int32_t)c->cred.pid);
        kx_msg_put_u32(&b, (uint32_t)c->cred.uid);
        kx_msg_put_u32(&b, c->n_pending + kx_srv_ring_in_flight(c->ring));
        kx_msg_put_u32(&b, handles);
        kx_msg_put_u64(&b, c->charged + c->out_bytes);
        kx_msg_put_u32(&b, (uint32_t)c->throttled);
        kx_srv_post(srv, req->conn_id, &b);
        n++;
    }
    kx_msg_begin(&b, KX_MSG_END, req->req_id);
    kx_msg_put_i32(&b, STATUS_SUCCESS);
    kx_msg_put_u64(&b, n);
    kx_srv_post(srv, req->conn_id, &b);
}
