/* ring_fixture.h — what the ring tests share: a ring whose two sides meet over
 * a socketpair (the region and eventfds travel by SCM_RIGHTS, as between
 * processes), deadlines, and the payload every record of a stream carries. */
#ifndef KX_TESTS_RING_FIXTURE_H
#define KX_TESTS_RING_FIXTURE_H

#include "core/plat.h"
#include "core/ring.h"
#include "patience.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A deadline T_PATIENCE_MS from now: a wait that reaches it is a hang. */
static inline uint64_t t_deadline(void)
{
    return kx_plat_monotonic_ns() + (uint64_t)T_PATIENCE_MS * 1000000u;
}

/* Side 0 made here; side 1 sent over sv[0] and left to be attached from sv[1]
 * (in this process or a child). Returns 0 on success. */
static inline int t_ring_make(const char *name, uint32_t ring_bytes, uint32_t bulk_bytes,
                              struct kx_ring **a, int sv[2])
{
    struct kx_ring_config cfg = {ring_bytes, bulk_bytes};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    if (kx_ring_create(name, &cfg, a) != STATUS_SUCCESS)
        return -1;
    return kx_ring_send_fds(*a, sv[0]) == STATUS_SUCCESS ? 0 : -1;
}

/* Both sides in this process; the sockets are closed. */
static inline int t_ring_pair(const char *name, uint32_t ring_bytes, uint32_t bulk_bytes,
                              struct kx_ring **a, struct kx_ring **b)
{
    int sv[2];
    if (t_ring_make(name, ring_bytes, bulk_bytes, a, sv) != 0)
        return -1;
    char *why = NULL;
    kx_status st = kx_ring_attach_socket(name, sv[1], b, &why);
    free(why);
    close(sv[0]);
    close(sv[1]);
    return st == STATUS_SUCCESS ? 0 : -1;
}

/* The payload of record i of a stream seeded with seed: its length (below
 * max) and bytes follow from i alone, so a receiver can check every byte. */
static inline uint64_t t_mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static inline size_t t_payload(uint64_t seed, uint64_t i, size_t max, uint8_t *out)
{
    uint64_t h = t_mix(seed ^ (i * 0x9e3779b97f4a7c15ull));
    size_t len = (size_t)(h % max);
    for (size_t k = 0; k < len; k++)
        out[k] = (uint8_t)(h >> (8 * (k & 7))) ^ (uint8_t)k;
    return len;
}

#endif
