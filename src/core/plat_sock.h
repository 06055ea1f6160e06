/* plat_sock.h — AF_UNIX stream sockets for kxd and its clients (platform layer). */
#ifndef KX_CORE_PLAT_SOCK_H
#define KX_CORE_PLAT_SOCK_H

#include "plat.h"

#include <kx/status.h>
#include <stddef.h>
#include <sys/types.h>

struct kx_plat_cred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

/* Binds and listens on path. A stale socket file (one nobody accepts on) is
 * replaced; a live one makes this fail with STATUS_DEVICE_BUSY. The socket
 * is created under a tight umask, given group gid ((gid_t)-1 keeps the
 * creator's) and then chmod'ed to mode, so it is never reachable by more
 * users than mode and gid say, not even for a moment. */
kx_status kx_plat_sock_listen(const char *path, mode_t mode, gid_t gid, int *fd);
/* Non-blocking accept; STATUS_PENDING when nobody is waiting. The new socket
 * is non-blocking and close-on-exec; cred comes from SO_PEERCRED. */
kx_status kx_plat_sock_accept(int listen_fd, int *fd, struct kx_plat_cred *cred);
/* Out of descriptors, a listener still has connections waiting that it can't
 * accept, and a level-triggered poller reports them forever. The cure:
 * keep one descriptor in reserve (kx_plat_sock_reserve), and when accept
 * fails for want of descriptors give it up to accept the oldest waiting
 * connection, send it `refusal` (a finished message, may be NULL) and close
 * it, then take the reserve again. Returns 1 if a connection was turned
 * away. *reserve is -1 while it can't be retaken. */
kx_status kx_plat_sock_reserve(int *reserve);
int kx_plat_sock_shed(int listen_fd, int *reserve, const void *refusal, size_t len);
/* Blocking connect. STATUS_CONNECTION_REFUSED when no server listens. */
kx_status kx_plat_sock_connect(const char *path, int *fd);

/* Blocking full transfers (EINTR retried; SIGPIPE never raised).
 * A peer that closes mid-transfer gives STATUS_CONNECTION_LOST. */
kx_status kx_plat_send_all(int fd, const void *buf, size_t len);
kx_status kx_plat_recv_all(int fd, void *buf, size_t len);
/* Blocks until at least min bytes arrived, taking up to cap that are
 * already there (a reader that buffers: one call for many small replies). */
kx_status kx_plat_recv_at_least(int fd, void *buf, size_t min, size_t cap, size_t *got);
/* One non-blocking read: *got bytes (0 means the peer closed);
 * STATUS_PENDING when nothing is available yet. */
kx_status kx_plat_recv_some(int fd, void *buf, size_t cap, size_t *got);
/* One non-blocking write: *sent bytes; STATUS_PENDING when the socket is full. */
kx_status kx_plat_send_some(int fd, const void *buf, size_t len, size_t *sent);

/* Removes a socket file kxd bound. */
void kx_plat_sock_remove(const char *path);

#endif /* KX_CORE_PLAT_SOCK_H */
