/* kmdf_event.c — DkRegisterInterrupt, DkUnregisterInterrupt, DkSetTimer,
 * DkCancelTimer, and the host's side of an event record (issue 14).
 *
 * The routines stay in the host, in a table beside the driver's objects; the
 * manager only learns the names (kx__chan_event_register), since a routine's
 * address means nothing in kxd when the driver runs in a kx-host process.
 * The manager queues each event on the driver's dispatch queue, so the
 * routine runs on the dispatch thread like an IRP routine and never beside
 * one. The table is looked up under host->lock and the lock is let go before
 * the routine runs: a routine may register or unregister.
 */
#include "kmdf_int.h"

#include <kx/io_event.h>
#include <stdlib.h>
#include <string.h>

struct host_events {
    size_t n;
    struct {
        char name[KX_IO_EVENT_NAME_MAX];
        PKX_EVENT_ROUTINE routine;
        void *context;
    } e[KX_IO_EVENT_PER_DRIVER];
};

static struct kx_host *host_of(PDRIVER_OBJECT d)
{
    struct kx_host *h = (struct kx_host *)(void *)d;
    return h && h->magic == HOST_MAGIC ? h : NULL;
}

static int name_ok(const char *name)
{
    return name && *name && strlen(name) < KX_IO_EVENT_NAME_MAX;
}

/* Under h->lock: the entry for name, or -1. */
static long find(const struct host_events *t, const char *name)
{
    for (size_t i = 0; t && i < t->n; i++)
        if (strcmp(t->e[i].name, name) == 0)
            return (long)i;
    return -1;
}

kx_status DkRegisterInterrupt(PDRIVER_OBJECT DriverObject, const char *EventName,
                              PKX_EVENT_ROUTINE Routine, void *Context)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h || !name_ok(EventName) || !Routine)
        return STATUS_INVALID_PARAMETER;
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&h->lock);
    if (!h->events && !(h->events = calloc(1, sizeof *h->events)))
        st = STATUS_INSUFFICIENT_RESOURCES;
    long at = st == STATUS_SUCCESS ? find(h->events, EventName) : -1;
    int is_new = st == STATUS_SUCCESS && at < 0;
    if (is_new) {
        if (h->events->n == KX_IO_EVENT_PER_DRIVER)
            st = STATUS_EVENT_LIMIT;
        else
            at = (long)h->events->n++;
    }
    if (st == STATUS_SUCCESS) {
        memcpy(h->events->e[at].name, EventName, strlen(EventName) + 1);
        h->events->e[at].routine = Routine;
        h->events->e[at].context = Context;
    }
    pthread_mutex_unlock(&h->lock);
    if (st != STATUS_SUCCESS || !is_new)
        return st;
    /* The routine is in place before the manager can queue an event for it. */
    st = kx__chan_event_register(h->io, h->drv_id, EventName, 1);
    if (st != STATUS_SUCCESS) {
        pthread_mutex_lock(&h->lock);
        long i = find(h->events, EventName);
        if (i >= 0)
            h->events->e[i] = h->events->e[--h->events->n];
        pthread_mutex_unlock(&h->lock);
    }
    return st;
}

kx_status DkUnregisterInterrupt(PDRIVER_OBJECT DriverObject, const char *EventName)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h || !name_ok(EventName))
        return STATUS_INVALID_PARAMETER;
    pthread_mutex_lock(&h->lock);
    long i = find(h->events, EventName);
    if (i >= 0)
        h->events->e[i] = h->events->e[--h->events->n];
    pthread_mutex_unlock(&h->lock);
    if (i < 0)
        return STATUS_EVENT_NOT_REGISTERED;
    return kx__chan_event_register(h->io, h->drv_id, EventName, 0);
}

kx_status DkSetTimer(PDRIVER_OBJECT DriverObject, const char *EventName, uint32_t DueMs,
                     uint32_t PeriodMs)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h || !name_ok(EventName) || DueMs == UINT32_MAX)
        return STATUS_INVALID_PARAMETER;
    return kx__chan_event_timer(h->io, h->drv_id, EventName, DueMs, PeriodMs);
}

kx_status DkCancelTimer(PDRIVER_OBJECT DriverObject, const char *EventName)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h || !name_ok(EventName))
        return STATUS_INVALID_PARAMETER;
    return kx__chan_event_timer(h->io, h->drv_id, EventName, UINT32_MAX, 0);
}

void kx__host_event_run(struct kx_host *h, struct io_irp *rec, struct io_relbatch *rb)
{
    const struct io_msg_event *m = &rec->u.event;
    const char *p = rec->buf;
    size_t total = (size_t)m->name_len + m->source_len + m->data_len;
    kx_status st = STATUS_DATA_ERROR;
    if (p && total == rec->buf_len && m->name_len && m->source_len && p[m->name_len - 1] == 0 &&
        p[m->name_len + m->source_len - 1] == 0) {
        KX_EVENT e = {p, p + m->name_len, m->data_len ? p + m->name_len + m->source_len : NULL,
                      m->data_len, m->seq};
        PKX_EVENT_ROUTINE fn = NULL;
        void *ctx = NULL;
        pthread_mutex_lock(&h->lock);
        long i = find(h->events, e.Name);
        if (i >= 0) {
            fn = h->events->e[i].routine;
            ctx = h->events->e[i].context;
        }
        pthread_mutex_unlock(&h->lock);
        st = fn ? STATUS_SUCCESS : STATUS_EVENT_NOT_REGISTERED;
        if (fn)
            fn(&h->obj, &e, ctx);
    }
    kx__chan_ctl_done(h->io, rec, st, 0, rb);
}

void kx__host_events_free(struct kx_host *h)
{
    free(h->events);
    h->events = NULL;
}
