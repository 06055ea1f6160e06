/* server.c — kxd's event loop: connections, framing, replies, workers.
 *
 * One thread (kx-srv) owns every connection. It reads the 20-byte header,
 * validates it before reading the payload, then hands the payload to the
 * handler for its type (ops.c). A malformed message gets an ERROR reply and
 * that connection is closed; nothing a client sends can stop kxd or disturb
 * another client. Replies produced on other threads arrive through a posted
 * queue and an eventfd. When a connection goes away — orderly or because
 * its process died — every file it still had open is closed on a worker,
 * so its drivers see CLEANUP and CLOSE (AxisOS never told them).
 *
 * Every request a connection has sent and kxd has not yet answered is a
 * `pending` entry (its id and its charge, see kx_srv_limits): a request id
 * may be pending only once, each gets exactly one final reply (a reply for
 * an id no longer pending, e.g. one answered at shutdown, is dropped), and
 * the charges are what back-pressure counts. A peer that hangs up is
 * dropped at once, whatever it has in flight; what it had pending is
 * cancelled by the closing of its files.
 *
 * Lock order: post_lock and work_lock are leaves; neither is held while
 * calling into the kernel or a driver.
 */
#include "server_int.h"

#include "core/plat.h"
#include "core/plat_poll.h"
#include "core/plat_sync.h"
#include "core/plat_user.h"

#include <kx/kernel.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Requests one connection may have pending; past it kxd stops reading it. */
#define MAX_IN_FLIGHT 256
/* Charged for a reply of fixed size (status, value, a message). */
#define SMALL_REPLY 512
/* How long the listener rests after an accept failure, and how long kxd
 * tries to write the final answers at shutdown. */
#define LISTEN_REST_NS ((uint64_t)100 * 1000000u)
#define SHUTDOWN_FLUSH_NS ((uint64_t)1000 * 1000000u)

#define KEY_LISTEN 1
#define KEY_WAKER 2
#define FIRST_CONN_ID 16 /* conn ids double as poll keys above the fixed ones */

struct out_buf {
    struct out_buf *next;
    uint8_t *data;
    size_t len, off;
};

struct file_slot {
    uint32_t handle; /* 0: free */
    kx_io_handle io_handle;
};

struct pending {
    uint32_t req_id;
    uint32_t charge; /* bytes, see kx_srv_limits */
};

struct conn {
    struct conn *next;
    uint64_t id;
    int fd;
    struct kx_plat_cred cred;
    uint8_t hdr_raw[KX_MSG_HDR_LEN];
    size_t hdr_got;
    struct kx_msg_hdr hdr;
    int have_hdr;
    uint8_t *payload;
    size_t payload_got;
    struct out_buf *out_head, *out_tail;
    uint64_t out_bytes;
    struct pending pending[MAX_IN_FLIGHT];
    unsigned n_pending;
    uint64_t charged;     /* sum of pending[].charge */
    uint32_t poll_events; /* what the poller watches for now */
    int throttled;        /* not read for its bytes (its own or everyone's) */
    int closing;          /* answer pending output, then close */
    struct file_slot *files;
    size_t n_files;
    uint32_t next_handle;
};

struct post {
    struct post *next;
    uint64_t conn_id;
    uint8_t *msg; /* a finished message, or NULL for a callback */
    size_t len;
    kx_srv_conn_fn fn;
    void *arg;
};

struct job {
    struct job *next;
    void (*fn)(struct kx_srv *srv, void *arg);
    void *arg;
};

struct kx_srv {
    struct kx_kernel *kernel;
    struct kx_io *io;
    struct kx_logger log;
    struct kx_srv_limits lim;
    uint32_t self_uid;
    int log_public, has_log_group;
    uint32_t log_gid;
    char *socket_path;
    int listen_fd, poller, waker, reserve_fd;
    uint64_t listen_rest_until; /* 0: the listener is polled */
    /* kx-srv only: */
    struct conn *conns;
    uint64_t next_conn_id;
    uint32_t n_conns, n_throttled;
    uint64_t charged, out_bytes; /* over every connection */
    uint64_t refused;            /* connections turned away at the limits */

    pthread_mutex_t post_lock; /* guards posts */
    struct post *posts_head, *posts_tail;

    pthread_mutex_t work_lock; /* guards jobs and stopping */
    pthread_cond_t work_cond;
    struct job *jobs_head, *jobs_tail;
    int stopping;
    pthread_t *workers;
    unsigned n_workers;
    struct kx_srv_mounts *mounts; /* its own lock (mounts.c) */
};

struct kx_kernel *kx_srv_kernel(struct kx_srv *srv) { return srv->kernel; }
struct kx_io *kx_srv_io(struct kx_srv *srv) { return srv->io; }
const struct kx_logger *kx_srv_logger(struct kx_srv *srv) { return &srv->log; }
struct kx_srv_mounts *kx_srv_mount_list(struct kx_srv *srv) { return srv->mounts; }

/* ---- workers -------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    struct kx_srv *srv = arg;
    pthread_setname_np(pthread_self(), "kx-work");
    pthread_mutex_lock(&srv->work_lock);
    for (;;) {
        while (!srv->jobs_head && !srv->stopping)
            pthread_cond_wait(&srv->work_cond, &srv->work_lock);
        struct job *j = srv->jobs_head;
        if (!j)
            break; /* stopping and nothing left to do */
        srv->jobs_head = j->next;
        if (!srv->jobs_head)
            srv->jobs_tail = NULL;
        pthread_mutex_unlock(&srv->work_lock);
        j->fn(srv, j->arg);
        free(j);
        pthread_mutex_lock(&srv->work_lock);
    }
    pthread_mutex_unlock(&srv->work_lock);
    return NULL;
}

kx_status kx_srv_defer(struct kx_srv *srv, void (*fn)(struct kx_srv *srv, void *arg), void *arg)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j)
        return STATUS_INSUFFICIENT_RESOURCES;
    j->fn = fn;
    j->arg = arg;
    pthread_mutex_lock(&srv->work_lock);
    if (srv->stopping) { /* shutting down on kx-srv: the workers are gone */
        pthread_mutex_unlock(&srv->work_lock);
        fn(srv, arg);
        free(j);
        return STATUS_SUCCESS;
    }
    if (srv->jobs_tail)
        srv->jobs_tail->next = j;
    else
        srv->jobs_head = j;
    srv->jobs_tail = j;
    pthread_cond_signal(&srv->work_cond);
    pthread_mutex_unlock(&srv->work_lock);
    return STATUS_SUCCESS;
}

/* ---- posting replies from any thread -------------------------------------- */

static void push_post(struct kx_srv *srv, struct post *p)
{
    pthread_mutex_lock(&srv->post_lock);
    if (srv->posts_tail)
        srv->posts_tail->next = p;
    else
        srv->posts_head = p;
    srv->posts_tail = p;
    pthread_mutex_unlock(&srv->post_lock);
    kx_plat_waker_signal(srv->waker);
}

void kx_srv_post(struct kx_srv *srv, uint64_t conn_id, struct kx_msg_builder *b)
{
    struct post *p = calloc(1, sizeof *p);
    if (!p || kx_msg_finish(b) != STATUS_SUCCESS) {
        /* The client will see its connection dropped rather than a wrong answer. */
        kx_log_error(&srv->log, "connection %llu: reply lost (out of memory)",
                     (unsigned long long)conn_id);
        free(p);
        kx_msg_builder_free(b);
        return;
    }
    p->conn_id = conn_id;
    p->msg = b->buf;
    p->len = b->len;
    b->buf = NULL;
    b->len = b->cap = 0;
    push_post(srv, p);
}

kx_status kx_srv_post_fn(struct kx_srv *srv, uint64_t conn_id, kx_srv_conn_fn fn, void *arg)
{
    struct post *p = calloc(1, sizeof *p);
    if (!p)
        return STATUS_INSUFFICIENT_RESOURCES;
    p->conn_id = conn_id;
    p->fn = fn;
    p->arg = arg;
    push_post(srv, p);
    return STATUS_SUCCESS;
}

void kx_srv_reply_ok(struct kx_srv *srv, uint64_t conn_id, uint32_t req_id, kx_status st,
                     uint64_t value, const char *text)
{
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_OK, req_id);
    kx_msg_put_i32(&b, st);
    kx_msg_put_u64(&b, value);
    kx_msg_put_str(&b, text);
    kx_srv_post(srv, conn_id, &b);
}

void kx_srv_reply_error(struct kx_srv *srv, uint64_t conn_id, uint32_t req_id, kx_status st,
                        const char *text)
{
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_ERROR, req_id);
    kx_msg_put_i32(&b, st);
    kx_msg_put_str(&b, text ? text : kx_status_string(st));
    kx_srv_post(srv, conn_id, &b);
}

/* ---- connections (kx-srv only) -------------------------------------------- */

static struct conn *find_conn(struct kx_srv *srv, uint64_t id)
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
    size_t n = 0;
    for (size_t i = 0; i < c->n_files; i++)
        n += c->files[i].handle != 0;
    if (n == 0)
        return;
    struct close_job *j = calloc(1, sizeof *j);
    kx_io_handle *hs = calloc(n, sizeof *hs);
    if (!j || !hs) {
        free(j);
        free(hs);
        for (size_t i = 0; i < c->n_files; i++) /* no memory: close here, even if slow */
            if (c->files[i].handle)
                kx_io_close(srv->io, c->files[i].io_handle);
        return;
    }
    for (size_t i = 0; i < c->n_files; i++)
        if (c->files[i].handle)
            hs[j->n++] = c->files[i].io_handle;
    j->handles = hs;
    if (kx_srv_defer(srv, close_files_job, j) != STATUS_SUCCESS)
        close_files_job(srv, j);
}

static void drop_conn(struct kx_srv *srv, struct conn *c, const char *why)
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
    free(c->files);
    free(c->payload);
    free(c);
    release_throttled(srv);
}

static int is_entry_type(uint16_t type)
{
    return type == KX_MSG_STAT_ENTRY || type == KX_MSG_LS_ENTRY || type == KX_MSG_LOG_ENTRY ||
           type == KX_MSG_SERVER_INFO || type == KX_MSG_SERVER_CONN || type == KX_MSG_CHUNK ||
           type == KX_MSG_NUB || type == KX_MSG_FAULT_ENTRY || type == KX_MSG_EVENT_ENTRY;
}

/* Queues msg (owned from here on) if it answers a pending request — a final
 * reply ends the request and turns its charge into output bytes — or
 * unconditionally (a rejection). 0 when queued or dropped as stale; -1 when
 * c had to be dropped instead. */
static int queue_out(struct kx_srv *srv, struct conn *c, uint8_t *msg, size_t len,
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
        drop_conn(srv, c, "reply lost (out of memory)");
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
static int flush_out(struct kx_srv *srv, struct conn *c)
{
    while (c->out_head) {
        struct out_buf *o = c->out_head;
        size_t sent = 0;
        kx_status st = kx_plat_send_some(c->fd, o->data + o->off, o->len - o->off, &sent);
        if (st == STATUS_PENDING)
            break;
        if (st != STATUS_SUCCESS) {
            drop_conn(srv, c, "connection lost while writing");
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
        drop_conn(srv, c, NULL);
        return -1;
    }
    update_interest(srv, c);
    release_throttled(srv);
    return 0;
}

static void drain_posts(struct kx_srv *srv)
{
    pthread_mutex_lock(&srv->post_lock);
    struct post *p = srv->posts_head;
    srv->posts_head = srv->posts_tail = NULL;
    pthread_mutex_unlock(&srv->post_lock);
    while (p) {
        struct post *next = p->next;
        struct conn *c = find_conn(srv, p->conn_id);
        if (p->fn) {
            p->fn(srv, p->conn_id, c != NULL, p->arg);
        } else if (c) {
            queue_out(srv, c, p->msg, p->len, 0);
            p->msg = NULL;
        }
        free(p->msg);
        free(p);
        p = next;
    }
    /* Flush every connection with output; flush_out may free c. */
    struct conn *c = srv->conns;
    while (c) {
        struct conn *next = c->next;
        if (c->out_head)
            flush_out(srv, c);
        c = next;
    }
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
        if (queue_out(srv, c, msg, b.len, 1) != 0)
            return -1;
    }
    kx_msg_builder_free(&b);
    c->closing = 1;
    return 0;
}

/* Runs the request's handler; -1 when the connection was dropped. Handlers
 * only post replies, so c survives them. */
static int dispatch(struct kx_srv *srv, struct conn *c)
{
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
static int read_conn(struct kx_srv *srv, struct conn *c)
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
                drop_conn(srv, c,
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
            free(c->payload);
            c->payload = malloc(c->hdr.len ? c->hdr.len : 1);
            if (!c->payload) {
                drop_conn(srv, c, "out of memory");
                return -1;
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
        return flush_out(srv, c);
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

static void accept_all(struct kx_srv *srv)
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

/* ---- file table ----------------------------------------------------------- */

kx_status kx_srv_file_add(struct kx_srv *srv, uint64_t conn_id, kx_io_handle h, uint32_t *handle)
{
    struct conn *c = find_conn(srv, conn_id);
    if (!c)
        return STATUS_INVALID_HANDLE;
    struct file_slot *slot = NULL;
    for (size_t i = 0; i < c->n_files && !slot; i++)
        if (c->files[i].handle == 0)
            slot = &c->files[i];
    if (!slot) {
        struct file_slot *nf = realloc(c->files, (c->n_files + 1) * sizeof *nf);
        if (!nf)
            return STATUS_INSUFFICIENT_RESOURCES;
        c->files = nf;
        slot = &c->files[c->n_files++];
    }
    if (++c->next_handle == 0)
        c->next_handle = 1;
    slot->handle = c->next_handle;
    slot->io_handle = h;
    *handle = slot->handle;
    return STATUS_SUCCESS;
}

static struct file_slot *find_file(struct kx_srv *srv, uint64_t conn_id, uint32_t handle)
{
    struct conn *c = find_conn(srv, conn_id);
    for (size_t i = 0; c && handle && i < c->n_files; i++)
        if (c->files[i].handle == handle)
            return &c->files[i];
    return NULL;
}

kx_io_handle kx_srv_file_get(struct kx_srv *srv, uint64_t conn_id, uint32_t handle)
{
    struct file_slot *s = find_file(srv, conn_id, handle);
    return s ? s->io_handle : 0;
}

kx_io_handle kx_srv_file_remove(struct kx_srv *srv, uint64_t conn_id, uint32_t handle)
{
    struct file_slot *s = find_file(srv, conn_id, handle);
    if (!s)
        return 0;
    kx_io_handle h = s->io_handle;
    s->handle = 0;
    s->io_handle = 0;
    return h;
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
        uint32_t handles = 0;
        for (size_t i = 0; i < c->n_files; i++)
            handles += c->files[i].handle != 0;
        kx_msg_begin(&b, KX_MSG_SERVER_CONN, req->req_id);
        kx_msg_put_u64(&b, c->id);
        kx_msg_put_i32(&b, (int32_t)c->cred.pid);
        kx_msg_put_u32(&b, (uint32_t)c->cred.uid);
        kx_msg_put_u32(&b, c->n_pending);
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

/* ---- lifecycle ------------------------------------------------------------ */

kx_status kx_srv_new(const struct kx_srv_config *cfg, struct kx_srv **out)
{
    *out = NULL;
    struct kx_srv *srv = calloc(1, sizeof *srv);
    if (!srv)
        return STATUS_INSUFFICIENT_RESOURCES;
    srv->listen_fd = srv->poller = srv->waker = srv->reserve_fd = -1;
    srv->kernel = cfg->kernel;
    srv->io = kx_kernel_io(cfg->kernel);
    if (cfg->logger)
        srv->log = *cfg->logger;
    srv->lim = cfg->limits;
    if (!srv->lim.conn_bytes)
        srv->lim.conn_bytes = (uint64_t)16 << 20;
    if (!srv->lim.total_bytes)
        srv->lim.total_bytes = (uint64_t)256 << 20;
    if (!srv->lim.max_conns)
        srv->lim.max_conns = 1024;
    if (!srv->lim.max_conns_per_user)
        srv->lim.max_conns_per_user = 64;
    srv->self_uid = kx_plat_self_uid();
    srv->log_public = cfg->log_public;
    srv->has_log_group = cfg->has_log_group;
    srv->log_gid = cfg->log_gid;
    srv->next_conn_id = FIRST_CONN_ID;
    pthread_mutex_init(&srv->post_lock, NULL);
    pthread_mutex_init(&srv->work_lock, NULL);
    pthread_cond_init(&srv->work_cond, NULL);

    kx_status st = STATUS_INSUFFICIENT_RESOURCES;
    if (!(srv->socket_path = strdup(cfg->socket_path)) || !(srv->mounts = kx_srv_mounts_new()))
        goto fail;
    if ((st = kx_plat_sock_reserve(&srv->reserve_fd)) != STATUS_SUCCESS ||
        (st = kx_plat_poller_new(&srv->poller)) != STATUS_SUCCESS ||
        (st = kx_plat_waker_new(&srv->waker)) != STATUS_SUCCESS ||
        (st = kx_plat_poller_set(srv->poller, srv->waker, KEY_WAKER, KX_POLL_IN, 1)) !=
            STATUS_SUCCESS)
        goto fail;
    if ((st = kx_plat_sock_listen(cfg->socket_path, cfg->socket_mode ? cfg->socket_mode : 0660,
                                  cfg->has_socket_gid ? (gid_t)cfg->socket_gid : (gid_t)-1,
                                  &srv->listen_fd)) != STATUS_SUCCESS)
        goto fail;
    if ((st = kx_plat_poller_set(srv->poller, srv->listen_fd, KEY_LISTEN, KX_POLL_IN, 1)) !=
        STATUS_SUCCESS)
        goto fail;
    unsigned n = cfg->n_workers ? cfg->n_workers : 4;
    if (!(srv->workers = calloc(n, sizeof *srv->workers))) {
        st = STATUS_INSUFFICIENT_RESOURCES;
        goto fail;
    }
    for (; srv->n_workers < n; srv->n_workers++)
        if (pthread_create(&srv->workers[srv->n_workers], NULL, worker_main, srv) != 0) {
            st = STATUS_INSUFFICIENT_RESOURCES;
            goto fail;
        }
    *out = srv;
    return STATUS_SUCCESS;

fail:
    kx_srv_free(srv); /* removes the socket only if it was bound here */
    return st;
}

kx_status kx_srv_poll_once(struct kx_srv *srv, int timeout_ms)
{
    if (srv->listen_rest_until) {
        uint64_t now = kx_plat_monotonic_ns();
        if (now >= srv->listen_rest_until) {
            srv->listen_rest_until = 0;
            kx_plat_poller_set(srv->poller, srv->listen_fd, KEY_LISTEN, KX_POLL_IN, 0);
        } else if (timeout_ms < 0 || (uint64_t)timeout_ms > (srv->listen_rest_until - now) / 1000000u) {
            timeout_ms = (int)((srv->listen_rest_until - now) / 1000000u) + 1;
        }
    }
    struct kx_poll_event ev[64];
    int n = 0;
    kx_status st = kx_plat_poller_wait(srv->poller, ev, 64, timeout_ms, &n);
    if (st != STATUS_SUCCESS)
        return st;
    for (int i = 0; i < n; i++) {
        if (ev[i].key == KEY_LISTEN) {
            accept_all(srv);
            continue;
        }
        if (ev[i].key == KEY_WAKER) {
            kx_plat_waker_drain(srv->waker);
            drain_posts(srv);
            continue;
        }
        struct conn *c = find_conn(srv, ev[i].key);
        if (c && (ev[i].events & KX_POLL_HUP)) {
            /* Gone both ways: nobody can read an answer, and waiting for the
             * requests it left would keep its handles (and this loop) busy. */
            if (c->n_pending)
                kx_log_info(&srv->log, "client pid %d: hung up with %u request(s) pending",
                            (int)c->cred.pid, c->n_pending);
            drop_conn(srv, c, NULL);
            continue;
        }
        if (c && (ev[i].events & KX_POLL_OUT) && flush_out(srv, c) != 0)
            continue;
        c = find_conn(srv, ev[i].key);
        if (c && (ev[i].events & KX_POLL_IN))
            read_conn(srv, c);
    }
    return STATUS_SUCCESS;
}

kx_status kx_srv_run(struct kx_srv *srv, volatile sig_atomic_t *stop)
{
    pthread_setname_np(pthread_self(), "kx-srv");
    kx_log_info(&srv->log, "listening on %s", srv->socket_path);
    while (!*stop) {
        kx_status st = kx_srv_poll_once(srv, 500);
        if (st != STATUS_SUCCESS)
            return st;
    }
    return STATUS_SUCCESS;
}

/* Shutdown, first step: every pending request gets its final answer, and
 * what the sockets take of it is written (a client blocked in a read learns
 * why, instead of seeing its connection just end). */
static void answer_all_pending(struct kx_srv *srv)
{
    for (struct conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        while (c->n_pending && !c->closing) {
            uint32_t req_id = c->pending[c->n_pending - 1].req_id;
            struct kx_msg_builder b = {0};
            kx_msg_begin(&b, KX_MSG_ERROR, req_id);
            kx_msg_put_i32(&b, STATUS_SYSTEM_SHUTDOWN);
            kx_msg_put_str(&b, "kxd is shutting down");
            if (kx_msg_finish(&b) != STATUS_SUCCESS) {
                kx_msg_builder_free(&b);
                break;
            }
            if (queue_out(srv, c, b.buf, b.len, 0) != 0)
                break; /* dropped */
        }
    }
    uint64_t deadline = kx_plat_monotonic_ns() + SHUTDOWN_FLUSH_NS;
    for (;;) {
        int waiting = 0;
        for (struct conn *c = srv->conns, *next; c; c = next) {
            next = c->next;
            if (c->out_head && flush_out(srv, c) == 0 && c->out_head)
                waiting = 1;
        }
        if (!waiting || kx_plat_monotonic_ns() >= deadline)
            return;
        kx_plat_sleep_ns(1000000);
    }
}

void kx_srv_free(struct kx_srv *srv)
{
    if (!srv)
        return;
    kx_srv_mounts_free(srv->mounts);
    answer_all_pending(srv);
    while (srv->conns)
        drop_conn(srv, srv->conns, NULL);
    pthread_mutex_lock(&srv->work_lock);
    srv->stopping = 1;
    pthread_cond_broadcast(&srv->work_cond);
    pthread_mutex_unlock(&srv->work_lock);
    for (unsigned i = 0; i < srv->n_workers; i++)
        pthread_join(srv->workers[i], NULL);
    free(srv->workers);
    /* Workers are gone: run what they posted so nothing they own leaks. */
    drain_posts(srv);
    if (srv->listen_fd >= 0)
        kx_plat_sock_remove(srv->socket_path);
    kx_plat_close(srv->listen_fd);
    kx_plat_close(srv->reserve_fd);
    kx_plat_close(srv->waker);
    kx_plat_close(srv->poller);
    pthread_cond_destroy(&srv->work_cond);
    pthread_mutex_destroy(&srv->work_lock);
    pthread_mutex_destroy(&srv->post_lock);
    free(srv->socket_path);
    free(srv);
}
