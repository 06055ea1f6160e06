/* server_int.h — kxd's internals shared by server.c (the event loop) and
 * ops.c (the request handlers).
 *
 * Threads and what runs where:
 *   kx-srv      the event loop: accepts, reads, validates and decodes every
 *               request, runs quick handlers inline and writes replies.
 *               It never waits for a driver.
 *   kx-work-N   blocking work a handler defers (open, close, load, unload,
 *               stat): these wait for CREATE/CLOSE IRPs and DriverEntry or
 *               DriverUnload deadlines.
 *   driver threads (the I/O manager's) complete device requests; their
 *               completion callbacks only post the reply.
 * Only kx-srv touches a connection. Work and replies name their connection
 * by id; a reply for a connection that has gone away is dropped, and an open
 * that finishes after its client left is closed again.
 */
#ifndef KX_SERVER_INT_H
#define KX_SERVER_INT_H

#include "core/plat_sock.h"
#include "proto/msg.h"
#include "server.h"

#include <kx/io.h>
#include <stdint.h>

struct kx_srv;

/* A request as a handler sees it, on kx-srv. `in` reads the payload, which
 * lives only until the handler returns: decode everything first. */
struct kx_srv_req {
    struct kx_srv *srv;
    uint64_t conn_id;
    struct kx_plat_cred cred;
    uint32_t req_id;
    uint16_t type;
    struct kx_msg_reader in;
    uint64_t reply_bytes; /* set by the handler: the largest reply it may send
                           * beyond a small fixed one (a read's data) */
};

/* Returns STATUS_SUCCESS when the request was answered or will be;
 * STATUS_PROTOCOL_ERROR when its payload was malformed (the loop then
 * answers with an error and closes the connection). */
typedef kx_status (*kx_srv_handler)(struct kx_srv_req *req);

struct kx_srv_op {
    uint16_t type;
    kx_srv_handler fn;
};

/* The request table (ops.c), terminated by {0, NULL}. */
extern const struct kx_srv_op kx_srv_ops[];

struct kx_kernel *kx_srv_kernel(struct kx_srv *srv);
struct kx_io *kx_srv_io(struct kx_srv *srv);
const struct kx_logger *kx_srv_logger(struct kx_srv *srv);

/* Hands a finished message to the loop for conn_id; takes ownership of b's
 * buffer in every case. Any thread. */
void kx_srv_post(struct kx_srv *srv, uint64_t conn_id, struct kx_msg_builder *b);

/* Runs fn(arg) on a worker thread. Returns STATUS_INSUFFICIENT_RESOURCES
 * (fn not run) when the job can't be queued. */
kx_status kx_srv_defer(struct kx_srv *srv, void (*fn)(struct kx_srv *srv, void *arg), void *arg);

/* Runs fn on kx-srv with the connection's state, or with conn_alive = 0 when
 * it is gone. Any thread. */
typedef void (*kx_srv_conn_fn)(struct kx_srv *srv, uint64_t conn_id, int conn_alive, void *arg);
kx_status kx_srv_post_fn(struct kx_srv *srv, uint64_t conn_id, kx_srv_conn_fn fn, void *arg);

/* Replies built and posted in one step; any thread. */
void kx_srv_reply_ok(struct kx_srv *srv, uint64_t conn_id, uint32_t req_id, kx_status st,
                     uint64_t value, const char *text);
void kx_srv_reply_error(struct kx_srv *srv, uint64_t conn_id, uint32_t req_id, kx_status st,
                        const char *text);

/* The connection's file table (kx-srv only). Client handles are small
 * numbers local to the connection; 0 is never one. */
kx_status kx_srv_file_add(struct kx_srv *srv, uint64_t conn_id, kx_io_handle h, uint32_t *handle);
kx_io_handle kx_srv_file_get(struct kx_srv *srv, uint64_t conn_id, uint32_t handle);
kx_io_handle kx_srv_file_remove(struct kx_srv *srv, uint64_t conn_id, uint32_t handle);

/* kx-srv only. Posts the server's limits and usage (SERVER_INFO), then one
 * SERVER_CONN per connection the requester may see (a privileged requester
 * every connection, others their own uid's), then END. */
void kx_srv_report(struct kx_srv_req *req);

/* FUSE mounts (mounts.c): the server's list, made by kx_srv_new and taken
 * down first thing in kx_srv_free. */
struct kx_srv_mounts;
struct kx_srv_mounts *kx_srv_mounts_new(void);
void kx_srv_mounts_free(struct kx_srv_mounts *m);
struct kx_srv_mounts *kx_srv_mount_list(struct kx_srv *srv);

/* Root, or the user kxd runs as. */
int kx_srv_is_privileged(const struct kx_srv *srv, uint32_t uid);
/* Whether cred may read the kernel log (kx_srv_config's log_* fields). */
int kx_srv_may_read_log(const struct kx_srv *srv, const struct kx_plat_cred *cred);

#endif /* KX_SERVER_INT_H */
