/* server.c — kxd's event loop: its lifecycle, workers, posted replies and
 * the poll loop. Connections are conn.c's, file tables files.c's, clients'
 * shared-memory rings ring_srv.c's.
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
#include "server_state.h"

#include "core/plat.h"
#include "core/plat_poll.h"
#include "core/plat_sync.h"
#include "core/plat_user.h"
#include "ring_srv.h"

#include <kx/kernel.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- replies reach their connections (kx-srv) ---------------------------- */

static void drain_posts(struct kx_srv *srv)
{
    pthread_mutex_lock(&srv->post_lock);
    struct post *p = srv->posts_head;
    srv->posts_head = srv->posts_tail = NULL;
    pthread_mutex_unlock(&srv->post_lock);
    while (p) {
        struct post *next = p->next;
        struct conn *c = kx_srv_find_conn(srv, p->conn_id);
        if (p->fn) {
            p->fn(srv, p->conn_id, c != NULL, p->arg);
        } else if (c) {
            kx_srv_queue_out(srv, c, p->msg, p->len, 0);
            p->msg = NULL;
        }
        free(p->msg);
        free(p);
        p = next;
    }
    /* Flush every connection with output; kx_srv_flush_out may free c. */
    struct conn *c = srv->conns;
    while (c) {
        struct conn *next = c->next;
        if (c->out_head)
            kx_srv_flush_out(srv, c);
        c = next;
    }
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
    if ((st = kx_srv_rings_new(srv, srv->io, &srv->log, &cfg->rings, 2, &srv->rings)) != STATUS_SUCCESS)
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
            kx_srv_accept_all(srv);
            continue;
        }
        if (ev[i].key == KEY_WAKER) {
            kx_plat_waker_drain(srv->waker);
            drain_posts(srv);
            continue;
        }
        struct conn *c = kx_srv_find_conn(srv, ev[i].key);
        if (c && (ev[i].events & KX_POLL_HUP)) {
            /* Gone both ways: nobody can read an answer, and waiting for the
             * requests it left would keep its handles (and this loop) busy. */
            if (c->n_pending)
                kx_log_info(&srv->log, "client pid %d: hung up with %u request(s) pending",
                            (int)c->cred.pid, c->n_pending);
            kx_srv_drop_conn(srv, c, NULL);
            continue;
        }
        if (c && (ev[i].events & KX_POLL_OUT) && kx_srv_flush_out(srv, c) != 0)
            continue;
        c = kx_srv_find_conn(srv, ev[i].key);
        if (c && (ev[i].events & KX_POLL_IN))
            kx_srv_read_conn(srv, c);
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
        kx_srv_ring_shutdown(c->ring);
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
            if (kx_srv_queue_out(srv, c, b.buf, b.len, 0) != 0)
                break; /* dropped */
        }
    }
    uint64_t deadline = kx_plat_monotonic_ns() + SHUTDOWN_FLUSH_NS;
    for (;;) {
        int waiting = 0;
        for (struct conn *c = srv->conns, *next; c; c = next) {
            next = c->next;
            if (c->out_head && kx_srv_flush_out(srv, c) == 0 && c->out_head)
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
        kx_srv_drop_conn(srv, srv->conns, NULL);
    pthread_mutex_lock(&srv->work_lock);
    srv->stopping = 1;
    pthread_cond_broadcast(&srv->work_cond);
    pthread_mutex_unlock(&srv->work_lock);
    for (unsigned i = 0; i < srv->n_workers; i++)
        pthread_join(srv->workers[i], NULL);
    free(srv->workers);
    /* Workers are gone: run what they posted so nothing they own leaks. */
    drain_posts(srv);
    kx_srv_rings_free(srv->rings); /* after the files' closing ended what was in flight */
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
