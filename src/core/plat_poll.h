/* plat_poll.h — readiness polling and cross-thread wake-ups for kxd's loop
 * (epoll and eventfd on Linux; the platform layer). */
#ifndef KX_CORE_PLAT_POLL_H
#define KX_CORE_PLAT_POLL_H

#include <kx/status.h>
#include <stdint.h>

#define KX_POLL_IN 0x1u
#define KX_POLL_OUT 0x2u
#define KX_POLL_HUP 0x4u /* hang-up or error */

struct kx_poll_event {
    uint64_t key; /* what the caller registered the fd with */
    uint32_t events;
};

kx_status kx_plat_poller_new(int *poller);
/* Registers (or re-registers) fd for events under key. */
kx_status kx_plat_poller_set(int poller, int fd, uint64_t key, uint32_t events, int is_new);
void kx_plat_poller_remove(int poller, int fd);
/* Waits up to timeout_ms (-1: forever); *n events filled. STATUS_SUCCESS
 * also when interrupted by a signal (with *n = 0). */
kx_status kx_plat_poller_wait(int poller, struct kx_poll_event *ev, int max, int timeout_ms,
                              int *n);

/* A wake-up object another thread can signal; readable while signalled. */
kx_status kx_plat_waker_new(int *fd);
void kx_plat_waker_signal(int fd);
void kx_plat_waker_drain(int fd);

#endif /* KX_CORE_PLAT_POLL_H */
