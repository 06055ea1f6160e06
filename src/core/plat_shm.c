/* plat_shm.c — sealed memfd regions, shared futexes, descriptor waits and
 * SCM_RIGHTS on Linux (see plat_shm.h). */
#include "plat_shm.h"
#include "plat.h"
#include "plat_poll.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SIZE_SEALS (F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL)
#define MAX_FDS    8

kx_status kx_plat_shm_create(const char *name, size_t size, int *fd)
{
    *fd = -1;
    int m = memfd_create(name && *name ? name : "kx-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (m < 0)
        return errno == ENOSYS ? STATUS_NOT_SUPPORTED : kx_status_from_errno(errno);
    if (ftruncate(m, (off_t)size) != 0 || fcntl(m, F_ADD_SEALS, SIZE_SEALS) != 0) {
        kx_status st = kx_status_from_errno(errno);
        close(m);
        return st;
    }
    *fd = m;
    return STATUS_SUCCESS;
}

kx_status kx_plat_shm_check(int fd, size_t *size)
{
    struct stat s;
    if (fstat(fd, &s) != 0)
        return kx_status_from_errno(errno);
    int seals = fcntl(fd, F_GET_SEALS);
    /* EINVAL: not a memfd (no seals to ask about). */
    if (seals < 0)
        return errno == EINVAL ? STATUS_ACCESS_DENIED : kx_status_from_errno(errno);
    if ((seals & (F_SEAL_GROW | F_SEAL_SHRINK)) != (F_SEAL_GROW | F_SEAL_SHRINK) || s.st_size < 0)
        return STATUS_ACCESS_DENIED;
    *size = (size_t)s.st_size;
    return STATUS_SUCCESS;
}

kx_status kx_plat_shm_map(int fd, size_t size, void **addr)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        *addr = NULL;
        return kx_status_from_errno(errno);
    }
    *addr = p;
    return STATUS_SUCCESS;
}

void kx_plat_shm_unmap(void *addr, size_t size)
{
    if (addr)
        munmap(addr, size);
}

kx_status kx_plat_futex_wait_shared(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns)
{
    struct timespec ts, *tp = NULL;
    if (deadline_ns) {
        ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
        ts.tv_nsec = (long)(deadline_ns % 1000000000u);
        tp = &ts;
    }
    /* Absolute CLOCK_MONOTONIC deadline (FUTEX_WAIT_BITSET), as in plat_sync.c. */
    long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET, expected, tp, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    if (r == 0)
        return STATUS_SUCCESS;
    switch (errno) {
    case ETIMEDOUT: return STATUS_TIMEOUT;
    case EAGAIN:
    case EINTR: return STATUS_SUCCESS;
    default: return kx_status_from_errno(errno);
    }
}

void kx_plat_futex_wake_shared(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, n, NULL, NULL, 0);
}

kx_status kx_plat_wait_fds(const int *fds, const uint32_t *events, uint32_t *revents, int n,
                           uint64_t deadline_ns)
{
    struct pollfd p[MAX_FDS];
    if (n < 0 || n > MAX_FDS)
        return STATUS_INVALID_PARAMETER;
    for (int i = 0; i < n; i++) {
        p[i].fd = fds[i];
        /* POLLRDHUP: a socket's peer shut down or closed, without waking on
         * ordinary data (a control message is not a death). */
        p[i].events = (short)((events[i] & KX_POLL_IN ? POLLIN : 0) |
                              (events[i] & KX_POLL_HUP ? POLLRDHUP : 0));
        p[i].revents = 0;
        revents[i] = 0;
    }
    struct timespec ts, *tp = NULL;
    if (deadline_ns) {
        uint64_t now = kx_plat_monotonic_ns();
        uint64_t left = deadline_ns > now ? deadline_ns - now : 0;
        ts.tv_sec = (time_t)(left / 1000000000u);
        ts.tv_nsec = (long)(left % 1000000000u);
        tp = &ts;
    }
    int r = ppoll(p, (nfds_t)n, tp, NULL);
    if (r < 0)
        return errno == EINTR ? STATUS_SUCCESS : kx_status_from_errno(errno);
    if (r == 0)
        return STATUS_TIMEOUT;
    for (int i = 0; i < n; i++)
        revents[i] = (p[i].revents & POLLIN ? KX_POLL_IN : 0) |
                     (p[i].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL) ? KX_POLL_HUP : 0);
    return STATUS_SUCCESS;
}

kx_status kx_plat_pidfd_open(pid_t pid, int *fd)
{
    /* pidfds are always close-on-exec. */
    long r = syscall(SYS_pidfd_open, pid, 0);
    if (r < 0) {
        *fd = -1;
        return errno == ENOSYS ? STATUS_NOT_SUPPORTED : kx_status_from_errno(errno);
    }
    *fd = (int)r;
    return STATUS_SUCCESS;
}

kx_status kx_plat_sock_send_fds(int sock, const void *data, size_t len, const int *fds, int n)
{
    if (len == 0 || len > 256 || n < 0 || n > MAX_FDS)
        return STATUS_INVALID_PARAMETER;
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    void *base; /* sendmsg doesn't write through it; a mutable copy without a cast */
    memcpy(&base, &data, sizeof base);
    struct iovec iov = {base, len};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (n > 0) {
        m.msg_control = u.buf;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
    }
    for (;;) {
        ssize_t w = sendmsg(sock, &m, MSG_NOSIGNAL);
        if (w >= 0)
            return (size_t)w == len ? STATUS_SUCCESS : STATUS_PROTOCOL_ERROR;
        if (errno != EINTR)
            return kx_status_from_errno(errno);
    }
}

kx_status kx_plat_sock_recv_fds(int sock, void *data, size_t cap, size_t *got, int *fds, int max,
                                int *n)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {data, cap};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = u.buf;
    m.msg_controllen = sizeof u.buf;
    *got = 0;
    *n = 0;
    ssize_t r;
    do
        r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return kx_status_from_errno(errno);
    int count = 0;
    kx_status st = r == 0 ? STATUS_CONNECTION_LOST : STATUS_SUCCESS;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (count < max)
                fds[count++] = fd;
            else {
                close(fd);
                st = STATUS_PROTOCOL_ERROR;
            }
        }
    }
    if (m.msg_flags & (MSG_CTRUNC | MSG_TRUNC))
        st = STATUS_PROTOCOL_ERROR;
    if (st != STATUS_SUCCESS) {
        while (count > 0)
            close(fds[--count]);
        return st;
    }
    *got = (size_t)r;
    *n = count;
    return STATUS_SUCCESS;
}

kx_status kx_plat_map_file(const char *path, size_t len, int writable, void **out)
{
    int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return kx_status_from_errno(errno);
    struct stat sb;
    kx_status st = STATUS_SUCCESS;
    /* Touching a page past a regular file's end raises SIGBUS: refuse instead. */
    if (fstat(fd, &sb) != 0)
        st = kx_status_from_errno(errno);
    else if (!len || (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size < len))
        st = STATUS_INVALID_PARAMETER;
    void *p = MAP_FAILED;
    if (st == STATUS_SUCCESS) {
        p = mmap(NULL, len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
            st = kx_status_from_errno(errno);
    }
    close(fd);
    if (st == STATUS_SUCCESS)
        *out = p;
    return st;
}

void kx_plat_unmap_file(void *addr, size_t len)
{
    if (addr)
        munmap(addr, len);
}
