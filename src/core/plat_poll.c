/* plat_poll.c — epoll and eventfd behind a small interface. */
#include "plat_poll.h"
#include "plat.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

kx_status kx_plat_poller_new(int *poller)
{
    *poller = epoll_create1(EPOLL_CLOEXEC);
    return *poller < 0 ? kx_status_from_errno(errno) : STATUS_SUCCESS;
}

kx_status kx_plat_poller_set(int poller, int fd, uint64_t key, uint32_t events, int is_new)
{
    struct epoll_event ev = {0};
    ev.data.u64 = key;
    if (events & KX_POLL_IN)
        ev.events |= EPOLLIN | EPOLLRDHUP;
    if (events & KX_POLL_OUT)
        ev.events |= EPOLLOUT;
    if (epoll_ctl(poller, is_new ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) != 0)
        return kx_status_from_errno(errno);
    return STATUS_SUCCESS;
}

void kx_plat_poller_remove(int poller, int fd) { epoll_ctl(poller, EPOLL_CTL_DEL, fd, NULL); }

kx_status kx_plat_poller_wait(int poller, struct kx_poll_event *ev, int max, int timeout_ms, int *n)
{
    struct epoll_event raw[64];
    if (max > 64)
        max = 64;
    *n = 0;
    int got = epoll_wait(poller, raw, max, timeout_ms);
    if (got < 0)
        return errno == EINTR ? STATUS_SUCCESS : kx_status_from_errno(errno);
    for (int i = 0; i < got; i++) {
        ev[i].key = raw[i].data.u64;
        /* A half-close is only the end of what there is to read; a hang-up
         * or an error ends the connection, and is reported whatever the
         * interest (so it must be acted on, or it comes back at once). */
        ev[i].events = (raw[i].events & (EPOLLIN | EPOLLRDHUP) ? KX_POLL_IN : 0) |
                       (raw[i].events & EPOLLOUT ? KX_POLL_OUT : 0) |
                       (raw[i].events & (EPOLLHUP | EPOLLERR) ? KX_POLL_HUP : 0);
    }
    *n = got;
    return STATUS_SUCCESS;
}

kx_status kx_plat_waker_new(int *fd)
{
    *fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return *fd < 0 ? kx_status_from_errno(errno) : STATUS_SUCCESS;
}

void kx_plat_waker_signal(int fd)
{
    uint64_t one = 1;
    /* A full counter still means "signalled"; nothing to do on failure. */
    ssize_t r = write(fd, &one, sizeof one);
    (void)r;
}

void kx_plat_waker_drain(int fd)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
}
