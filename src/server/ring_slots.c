/* ring_slots.c — a client ring's read slots (see ring_slots.h).
 *
 * Each slot's state is two facts: whether the client holds it (ASKED:
 * its READ_SLOT is not answered yet, so a SLOT_FREE would be a lie; CLIENT:
 * answered, the client's to give back) and whether an IRP does. The client's
 * word is checked against what kxd itself recorded, never read from shared
 * memory, so a hostile client can only lose its connection.
 */
#include "ring_slots.h"

#include "core/plat.h"
#include "core/plat_shm.h"
#include "proto/ring_proto.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum slot_client { CLIENT_NONE, CLIENT_ASKED, CLIENT_HOLDS };

struct kx_srv_slots {
    int memfd;
    uint8_t *base;
    pthread_mutex_t lock; /* guards client[] and irp[] (leaf) */
    uint8_t client[KXR_SLOTS]; /* enum slot_client */
    uint8_t irp[KXR_SLOTS];    /* an IRP reads (or may still write) into it */
};

#define REGION_BYTES ((size_t)KXR_SLOTS * KXR_SLOT_BYTES)

kx_status kx_srv_slots_new(const char *name, struct kx_srv_slots **out)
{
    *out = NULL;
    struct kx_srv_slots *s = calloc(1, sizeof *s);
    if (!s)
        return STATUS_INSUFFICIENT_RESOURCES;
    s->memfd = -1;
    pthread_mutex_init(&s->lock, NULL);
    char mname[64];
    snprintf(mname, sizeof mname, "kx-slots:%s", name);
    void *p = NULL;
    kx_status st = kx_plat_shm_create(mname, REGION_BYTES, &s->memfd);
    if (st == STATUS_SUCCESS)
        st = kx_plat_shm_map(s->memfd, REGION_BYTES, &p);
    s->base = p;
    if (st != STATUS_SUCCESS) {
        kx_srv_slots_free(s);
        return st;
    }
    *out = s;
    return STATUS_SUCCESS;
}

void kx_srv_slots_free(struct kx_srv_slots *s)
{
    if (!s)
        return;
    if (s->base)
        kx_plat_shm_unmap(s->base, REGION_BYTES);
    kx_plat_close(s->memfd);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

kx_status kx_srv_slots_send(const struct kx_srv_slots *s, int sock)
{
    return kx_plat_sock_send_fds(sock, KXR_SLOTS_HELLO, sizeof KXR_SLOTS_HELLO, &s->memfd, 1);
}

const char *kx_srv_slots_take(struct kx_srv_slots *s, uint32_t k, void **buf)
{
    *buf = NULL;
    if (k >= KXR_SLOTS)
        return "no such slot";
    const char *why = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->client[k] != CLIENT_NONE)
        why = "a read into a slot it holds already";
    else if (!s->irp[k]) {
        s->client[k] = CLIENT_ASKED;
        s->irp[k] = 1;
        *buf = s->base + (size_t)k * KXR_SLOT_BYTES;
    }
    pthread_mutex_unlock(&s->lock);
    return why;
}

void kx_srv_slots_answered(struct kx_srv_slots *s, uint32_t k)
{
    pthread_mutex_lock(&s->lock);
    if (s->client[k] == CLIENT_ASKED)
        s->client[k] = CLIENT_HOLDS;
    pthread_mutex_unlock(&s->lock);
}

void kx_srv_slots_irp_gone(struct kx_srv_slots *s, uint32_t k)
{
    pthread_mutex_lock(&s->lock);
    s->irp[k] = 0;
    pthread_mutex_unlock(&s->lock);
}

const char *kx_srv_slots_give_back(struct kx_srv_slots *s, uint32_t k)
{
    if (k >= KXR_SLOTS)
        return "no such slot";
    const char *why = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->client[k] != CLIENT_HOLDS)
        why = "gave back a slot it does not hold";
    else
        s->client[k] = CLIENT_NONE;
    pthread_mutex_unlock(&s->lock);
    return why;
}
