/* server_state.h — the state of kxd's event loop, shared by its parts:
 * server.c (lifecycle, workers, posted replies, the poll loop), conn.c
 * (connections: framing, back-pressure, dispatch), files.c (file tables)
 * and ring_srv.c (clients' shared-memory rings). Not for the handlers in
 * ops.c, which see server_int.h only.
 */
#ifndef KX_SERVER_STATE_H
#define KX_SERVER_STATE_H

#include "server_int.h"

#include <pthread.h>

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
    size_t payload_got, payload_cap;
    struct out_buf *out_head, *out_tail;
    uint64_t out_bytes;
    struct pending pending[MAX_IN_FLIGHT];
    unsigned n_pending;
    uint64_t charged;     /* sum of pending[].charge */
    uint32_t poll_events; /* what the poller watches for now */
    int throttled;        /* not read for its bytes (its own or everyone's) */
    int closing;          /* answer pending output, then close */
    struct kx_srv_files *files; /* shared with its ring (files.c) */
    struct kx_srv_ring *ring;   /* NULL until the client asks for one */
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
    struct kx_srv_rings *rings;   /* the ring threads (ring_srv.c) */
};

/* ---- conn.c (kx-srv only) ------------------------------------------------ */

struct conn *kx_srv_find_conn(struct kx_srv *srv, uint64_t id);
void kx_srv_drop_conn(struct kx_srv *srv, struct conn *c, const char *why);
/* Queues msg (owned from here on) for c; see conn.c. -1 when c was dropped. */
int kx_srv_queue_out(struct kx_srv *srv, struct conn *c, uint8_t *msg, size_t len,
                     int unconditional);
/* Writes what the socket takes; -1 when c was dropped. */
int kx_srv_flush_out(struct kx_srv *srv, struct conn *c);
/* Reads and dispatches what c sent; -1 when c was dropped. */
int kx_srv_read_conn(struct kx_srv *srv, struct conn *c);
void kx_srv_accept_all(struct kx_srv *srv);

/* ---- files.c --------------------------------------------------------------- */

struct kx_srv_files *kx_srv_files_new(void);
void kx_srv_files_ref(struct kx_srv_files *f);
void kx_srv_files_unref(struct kx_srv_files *f); /* NULL is ignored */
kx_status kx_srv_files_add(struct kx_srv_files *f, kx_io_handle h, uint32_t *handle);
kx_io_handle kx_srv_files_get(struct kx_srv_files *f, uint32_t handle); /* 0: none */
kx_io_handle kx_srv_files_remove(struct kx_srv_files *f, uint32_t handle);
size_t kx_srv_files_count(struct kx_srv_files *f);
/* Empties the table into out[0..max); the count. */
size_t kx_srv_files_take_all(struct kx_srv_files *f, kx_io_handle *out, size_t max);

#endif /* KX_SERVER_STATE_H */
