/* server.h — kxd's server: the socket, the event loop, the request table. */
#ifndef KX_SERVER_H
#define KX_SERVER_H

#include <kx/log.h>
#include <kx/status.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

struct kx_kernel;
struct kx_srv;

/* What clients may cost kxd. A request is charged, when kxd reads it, the
 * bytes it may hold until its answer has been written to the socket (its
 * payload plus the largest reply it asked for); replies not yet written
 * count too. A connection over its share, or any connection while all
 * together are over theirs, is not read from until it drains
 * (back-pressure): nothing is dropped. Zero fields take the defaults. */
struct kx_srv_limits {
    uint64_t conn_bytes;        /* one connection (16 MiB) */
    uint64_t total_bytes;       /* every connection together (256 MiB) */
    uint32_t max_conns;         /* connections at once (1024) */
    uint32_t max_conns_per_user; /* per uid other than root and kxd's own (64) */
};

/* The client rings' threads (docs/client.md). */
struct kx_srv_ring_opts {
    /* How long a thread polls its rings after its last record, in
     * microseconds (0: the default, 50; at most KX_SRV_RING_POLL_MAX_US);
     * never with no_poll, nor on one CPU. */
    uint32_t poll_us;
    int no_poll;
    int no_inline; /* never run an idle in-kxd driver's routines on the ring thread */
};
#define KX_SRV_RING_POLL_MAX_US 10000u

struct kx_srv_config {
    const char *socket_path;
    mode_t socket_mode;         /* 0 means 0660: root and socket_gid's members connect */
    struct kx_kernel *kernel;   /* borrowed; outlives the server */
    const struct kx_logger *logger;
    unsigned n_workers;         /* threads for blocking requests; 0: 4 */
    struct kx_srv_limits limits;
    /* Who reads the kernel log (drivers may log what others must not see):
     * root and kxd's own user always; everyone with log_public; members of
     * log_gid when has_log_group. */
    int log_public;
    int has_log_group;
    uint32_t log_gid;
    /* The socket's group when has_socket_gid; else the creator's. Who may
     * connect is decided here; what each request may do, per request. */
    int has_socket_gid;
    uint32_t socket_gid;
    struct kx_srv_ring_opts rings;
};

/* Creates the socket (replacing a stale one, refusing a live one) and starts
 * the worker threads. STATUS_DEVICE_BUSY when another kxd serves the path. */
kx_status kx_srv_new(const struct kx_srv_config *cfg, struct kx_srv **out);

/* Serves until *stop becomes non-zero (a signal handler sets it). */
kx_status kx_srv_run(struct kx_srv *srv, volatile sig_atomic_t *stop);

/* One turn of the loop: waits up to timeout_ms for events and handles them
 * (kx_srv_run is this in a loop; tests and the protocol fuzzer step it). */
kx_status kx_srv_poll_once(struct kx_srv *srv, int timeout_ms);

/* Serves fd, one end of a connected AF_UNIX stream pair, as a client with
 * these credentials; the server owns fd from here on, even on failure.
 * STATUS_TOO_MANY_CONNECTIONS; STATUS_INSUFFICIENT_RESOURCES. */
kx_status kx_srv_adopt(struct kx_srv *srv, int fd, pid_t pid, uid_t uid, gid_t gid);

/* Mounts the I/O manager's /dev links as files at dir (src/fuse/fuse.h:
 * kx_fuse_mount) until kx_srv_free. Blocks; any thread. STATUS_SUCCESS, or
 * kx_fuse_mount's failures and STATUS_INSUFFICIENT_RESOURCES (eight mounts
 * already), with why (why_len bytes) naming dir and the reason. */
kx_status kx_srv_mount(struct kx_srv *srv, const char *dir, char *why, size_t why_len);

/* Unmounts every mount first (programs inside get their answers), then
 * answers every request still pending with STATUS_SYSTEM_SHUTDOWN (and
 * writes what it can of the answers for up to a second), closes every
 * connection (their open files are closed, drivers get CLEANUP/CLOSE), joins
 * the workers, removes the socket. */
void kx_srv_free(struct kx_srv *srv);

#endif /* KX_SERVER_H */
