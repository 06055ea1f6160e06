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
 * is created under a tight umask and then chmod'ed to mode. */
kx_status kx_plat_sock_listen(const char *path, mode_t mode, int *fd);
/* Non-blocking accept; STATUS_PENDING when nobody is waiting. The new socket
 * is non-blocking and close-on-exec; cred comes from SO_PEERCRED. */
kx_status kx_plat_sock_accept(int listen_fd, int *fd, struct kx_plat_cred *cred);
/* Blocking connect. STATUS_CONNECTION_REFUSED when no server listens. */
kx_status kx_plat_sock_connect(const char *path, int *fd);

/* Blocking full transfers (EINTR retried; SIGPIPE never raised).
 * A peer that closes mid-transfer gives STATUS_CONNECTION_LOST. */
kx_status kx_plat_send_all(int fd, const void *buf, size_t len);
kx_status kx_plat_recv_all(int fd, void *buf, size_t len);
/* One non-blocking read: *got bytes (0 means the peer closed);
 * STATUS_PENDING when nothing is available yet. */
kx_status kx_plat_recv_some(int fd, void *buf, size_t cap, size_t *got);
/* One non-blocking write: *sent bytes; STATUS_PENDING when the socket is full. */
kx_status kx_plat_send_some(int fd, const void *buf, size_t len, size_t *sent);

/* Removes a socket file kxd bound. */
void kx_plat_sock_remove(const char *path);

#endif /* KX_CORE_PLAT_SOCK_H */
