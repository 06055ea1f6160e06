/* plat_sock.c — AF_UNIX sockets with credentials, for kxd and libkxclient. */
#include "plat_sock.h"
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static kx_status fill_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (!path || strlen(path) >= sizeof sa->sun_path)
        return STATUS_OBJECT_NAME_INVALID;
    strcpy(sa->sun_path, path);
    return STATUS_SUCCESS;
}

kx_status kx_plat_sock_connect(const char *path, int *fd)
{
    struct sockaddr_un sa;
    *fd = -1;
    kx_status st = fill_addr(path, &sa);
    if (st != STATUS_SUCCESS)
        return st;
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return kx_status_from_errno(errno);
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int err = errno;
        close(s);
        return err == ENOENT || err == ECONNREFUSED ? STATUS_CONNECTION_REFUSED
                                                    : kx_status_from_errno(err);
    }
    *fd = s;
    return STATUS_SUCCESS;
}

kx_status kx_plat_sock_listen(const char *path, mode_t mode, gid_t gid, int *fd)
{
    struct sockaddr_un sa;
    kx_status st = fill_addr(path, &sa);
    if (st != STATUS_SUCCESS)
        return st;

    /* Only a socket nobody answers on may be removed: never steal a live
     * daemon's path, never delete something that is not a socket. */
    struct stat sb;
    if (lstat(path, &sb) == 0) {
        int probe = -1;
        if (!S_ISSOCK(sb.st_mode))
            return STATUS_OBJECT_NAME_INVALID;
        if (kx_plat_sock_connect(path, &probe) == STATUS_SUCCESS) {
            close(probe);
            return STATUS_DEVICE_BUSY;
        }
        if (unlink(path) != 0 && errno != ENOENT)
            return kx_status_from_errno(errno);
    }

    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0)
        return kx_status_from_errno(errno);
    mode_t old = umask(0177);
    int rc = bind(s, (struct sockaddr *)&sa, sizeof sa);
    int err = errno;
    umask(old);
    if (rc != 0 || (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0) ||
        chmod(path, mode) != 0 || listen(s, 64) != 0) {
        if (rc == 0) {
            err = errno;
            unlink(path);
        }
        close(s);
        return kx_status_from_errno(err);
    }
    *fd = s;
    return STATUS_SUCCESS;
}

kx_status kx_plat_sock_accept(int listen_fd, int *fd, struct kx_plat_cred *cred)
{
    int s = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (s < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED
                   ? STATUS_PENDING
                   : kx_status_from_errno(errno);
    struct ucred uc;
    socklen_t len = sizeof uc;
    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &len) != 0) {
        kx_status st = kx_status_from_errno(errno);
        close(s);
        return st;
    }
    cred->pid = uc.pid;
    cred->uid = uc.uid;
    cred->gid = uc.gid;
    *fd = s;
    return STATUS_SUCCESS;
}

kx_status kx_plat_sock_reserve(int *reserve)
{
    *reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return *reserve < 0 ? kx_status_from_errno(errno) : STATUS_SUCCESS;
}

int kx_plat_sock_shed(int listen_fd, int *reserve, const void *refusal, size_t len)
{
    if (*reserve >= 0) {
        close(*reserve);
        *reserve = -1;
    }
    int s = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (s >= 0) {
        if (refusal) {
            ssize_t n = send(s, refusal, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n; /* best effort: the peer learns why, or just sees the close */
        }
        close(s);
    }
    kx_plat_sock_reserve(reserve);
    return s >= 0;
}

kx_status kx_plat_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 && errno != EPIPE && errno != ECONNRESET ? kx_status_from_errno(errno)
                                                                  : STATUS_CONNECTION_LOST;
        p += n;
        len -= (size_t)n;
    }
    return STATUS_SUCCESS;
}

kx_status kx_plat_recv_all(int fd, void *buf, size_t len)
{
    size_t got;
    return kx_plat_recv_at_least(fd, buf, len, len, &got);
}

kx_status kx_plat_recv_at_least(int fd, void *buf, size_t min, size_t cap, size_t *got)
{
    char *p = buf;
    *got = 0;
    while (*got < min) {
        ssize_t n = recv(fd, p + *got, cap - *got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return STATUS_CONNECTION_LOST;
        if (n < 0)
            return kx_status_from_errno(errno);
        *got += (size_t)n;
    }
    return STATUS_SUCCESS;
}

kx_status kx_plat_recv_some(int fd, void *buf, size_t cap, size_t *got)
{
    *got = 0;
    for (;;) {
        ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
        if (n >= 0) {
            *got = (size_t)n;
            return STATUS_SUCCESS;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return STATUS_PENDING;
        return errno == ECONNRESET ? STATUS_SUCCESS /* *got == 0: peer gone */
                                   : kx_status_from_errno(errno);
    }
}

kx_status kx_plat_send_some(int fd, const void *buf, size_t len, size_t *sent)
{
    *sent = 0;
    for (;;) {
        ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            *sent = (size_t)n;
            return STATUS_SUCCESS;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return STATUS_PENDING;
        return errno == EPIPE || errno == ECONNRESET ? STATUS_CONNECTION_LOST
                                                     : kx_status_from_errno(errno);
    }
}

void kx_plat_sock_remove(const char *path)
{
    if (path)
        unlink(path);
}
