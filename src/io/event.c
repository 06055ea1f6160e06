/* event.c — named events for drivers (issue 14): who registered for what,
 * timers, and the raise that queues an event record (K_EVENT) on each
 * subscriber's dispatch queue.
 *
 * An event travels as a control record like K_DEVREL: posted under ns_lock
 * (so the driver cannot be torn down meanwhile), run by the driver's
 * dispatch thread between IRP routines (kmdf_event.c, in kxd or a kx-host
 * process), and answered to its completion, ev_done, which does the
 * accounting. Nobody waits for it: a raise costs a record and a queue push.
 * Each driver may have KX_IO_EVENT_QUEUE events unanswered; past that the
 * raise drops the event for that driver and counts it, so a stuck driver
 * never holds up a source.
 *
 * Sequence numbers count the events raised for one driver from one source,
 * including the dropped ones, so the driver sees a gap where it lost some.
 * Being taken and posted under ns_lock, they reach the queue in order.
 *
 * Timers live here, not in the host: one thread ("kx-io-timer") sleeps until
 * the earliest is due and raises its event for its driver alone. A host
 * process's timers therefore die with its registration, and a host that
 * sleeps or hangs cannot make its timers pile up (its queue bound drops).
 *
 * Lock order: ns_lock, then ev->lock (a leaf). The timer thread collects due
 * timers under ev->lock and raises them after letting go of it.
 */
#include "io_int.h"

#include "core/plat.h"
#include "core/plat_sync.h"

#include <kx/io_event.h>
#include <kx/kmdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_BUCKETS 256
#define TIMER_BATCH    64

/* Whose, and which: registrations and timers are found by it alike. */
struct ev_key {
    uint64_t drv_id;
    char name[KX_IO_EVENT_NAME_MAX];
};

struct ev_reg {
    struct ev_key key;
};

struct ev_timer {
    struct ev_key key;
    uint64_t due_ns, period_ns; /* period 0: one-shot */
};

/* The last sequence number given to a driver for a source. */
struct ev_source {
    struct ev_source *next;
    uint64_t drv_id, seq;
    char name[]; /* the source */
};

struct io_events {
    pthread_mutex_t lock; /* everything below but the thread's own fields */
    struct ev_reg *regs;
    size_t n_regs, cap_regs;
    struct ev_timer *timers;
    size_t n_timers, cap_timers;
    struct ev_source *sources[SOURCE_BUCKETS];
    pthread_t thread;
    int has_thread;
    _Atomic uint32_t word; /* futex: bumped when the timers change or the thread must stop */
    _Atomic int stop;
};

/* ==== accounting ============================================================ */

/* The answer to an event record: its routine ran, or it found no routine
 * (unregistered after the raise), or its driver went away first. */
static void ev_done(void *arg, kx_status status, size_t info)
{
    (void)info;
    struct io_driver *d = arg; /* retired, never freed before the manager */
    atomic_fetch_sub_explicit(&d->ev_queued, 1, memory_order_relaxed);
    if (status == STATUS_SUCCESS)
        atomic_fetch_add_explicit(&d->ev_delivered, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&d->ev_dropped, 1, memory_order_relaxed);
}

static uint32_t source_hash(uint64_t drv_id, const char *s)
{
    uint32_t h = 2166136261u ^ (uint32_t)drv_id;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % SOURCE_BUCKETS;
}

/* Under ev->lock: the next sequence number of source for driver drv_id
 * (0 when out of memory: the event still goes, unnumbered). */
static uint64_t next_seq(struct io_events *ev, uint64_t drv_id, const char *source)
{
    struct ev_source **b = &ev->sources[source_hash(drv_id, source)];
    for (struct ev_source *s = *b; s; s = s->next)
        if (s->drv_id == drv_id && strcmp(s->name, source) == 0)
            return ++s->seq;
    size_t len = strlen(source) + 1;
    struct ev_source *s = malloc(sizeof *s + len);
    if (!s)
        return 0;
    s->drv_id = drv_id;
    s->seq = 1;
    memcpy(s->name, source, len);
    s->next = *b;
    *b = s;
    return 1;
}

/* ==== raising =============================================================== */

/* The bytes of a record: name NUL source NUL data (malloc'ed). */
struct ev_bytes {
    unsigned char *p;
    struct io_msg_event m;
};

static kx_status bytes_make(struct ev_bytes *b, const char *name, const char *source,
                            const void *data, size_t len)
{
    size_t nl = strlen(name) + 1, sl = strlen(source) + 1;
    b->p = malloc(nl + sl + len);
    if (!b->p)
        return STATUS_INSUFFICIENT_RESOURCES;
    memcpy(b->p, name, nl);
    memcpy(b->p + nl, source, sl);
    if (len)
        memcpy(b->p + nl + sl, data, len);
    b->m = (struct io_msg_event){0, (uint32_t)nl, (uint32_t)sl, (uint32_t)len};
    return STATUS_SUCCESS;
}

/* Under ns_lock: queues the event for d, or counts it dropped. 1 if queued. */
static int post_event(struct kx_io *io, struct io_driver *d, const char *source,
                      const struct ev_bytes *b)
{
    if ((d->state != KX_IO_DRIVER_STARTING && d->state != KX_IO_DRIVER_RUNNING) ||
        (!d->host && !d->proc))
        return 0;
    struct io_events *ev = io->events;
    pthread_mutex_lock(&ev->lock);
    uint64_t seq = next_seq(ev, d->id, source);
    pthread_mutex_unlock(&ev->lock);
    if (atomic_fetch_add_explicit(&d->ev_queued, 1, memory_order_relaxed) >= KX_IO_EVENT_QUEUE) {
        atomic_fetch_sub_explicit(&d->ev_queued, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&d->ev_dropped, 1, memory_order_relaxed);
        return 0;
    }
    struct io_irp *r;
    size_t total = (size_t)b->m.name_len + b->m.source_len + b->m.data_len;
    if (kx__irp_alloc(io, &r, 1) != STATUS_SUCCESS) {
        ev_done(d, STATUS_INSUFFICIENT_RESOURCES, 0);
        return 0;
    }
    if (kx__irp_set_buffer(io, r, b->p, total, 0, 1) != STATUS_SUCCESS) {
        kx__irp_discard(io, &r, 1);
        ev_done(d, STATUS_INSUFFICIENT_RESOURCES, 0);
        return 0;
    }
    r->kind = K_EVENT;
    r->u.event = b->m;
    r->u.event.seq = seq;
    r->done = ev_done;
    r->done_arg = d;
    atomic_store_explicit(&r->drv, d, memory_order_relaxed);
    kx__post(io, d, &r, 1);
    return 1;
}

static int name_ok(const char *name)
{
    return name && *name && strlen(name) < KX_IO_EVENT_NAME_MAX;
}

kx_status kx_io_event_raise(struct kx_io *io, const char *name, const char *source,
                            const void *data, size_t len, uint32_t *n_queued)
{
    if (n_queued)
        *n_queued = 0;
    if (!source)
        source = "";
    if (!io || !name_ok(name) || strlen(source) >= KX_IO_EVENT_SOURCE_MAX ||
        len > KX_IO_EVENT_DATA_MAX || (len && !data))
        return STATUS_INVALID_PARAMETER;
    struct ev_bytes b;
    kx_status st = bytes_make(&b, name, source, data, len);
    if (st != STATUS_SUCCESS)
        return st;
    struct io_events *ev = io->events;
    uint32_t n = 0;
    pthread_mutex_lock(&io->ns_lock);
    /* Drivers in start order; each subscriber once, however it registered. */
    for (size_t i = 0; i < io->n_drivers; i++) {
        struct io_driver *d = io->drivers[i];
        int wants = 0;
        pthread_mutex_lock(&ev->lock);
        for (size_t k = 0; k < ev->n_regs && !wants; k++)
            wants = ev->regs[k].key.drv_id == d->id && strcmp(ev->regs[k].key.name, name) == 0;
        pthread_mutex_unlock(&ev->lock);
        if (wants)
            n += (uint32_t)post_event(io, d, source, &b);
    }
    pthread_mutex_unlock(&io->ns_lock);
    free(b.p);
    if (n_queued)
        *n_queued = n;
    return STATUS_SUCCESS;
}

/* A timer's event, for its driver alone. */
static void raise_timer(struct kx_io *io, uint64_t drv_id, const char *name)
{
    struct ev_bytes b;
    if (bytes_make(&b, name, "timer", NULL, 0) != STATUS_SUCCESS)
        return;
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = kx__ns_driver_by_id(io, drv_id);
    if (d)
        post_event(io, d, "timer", &b);
    pthread_mutex_unlock(&io->ns_lock);
    free(b.p);
}

/* ==== timers ================================================================ */

static void *timer_main(void *arg)
{
    struct kx_io *io = arg;
    struct io_events *ev = io->events;
    pthread_setname_np(pthread_self(), "kx-io-timer");
    struct ev_key due[TIMER_BATCH];
    while (!atomic_load(&ev->stop)) {
        uint32_t word = atomic_load(&ev->word);
        uint64_t now = kx_plat_monotonic_ns(), next = 0;
        size_t n = 0;
        pthread_mutex_lock(&ev->lock);
        for (size_t i = 0; i < ev->n_timers;) {
            struct ev_timer *t = &ev->timers[i];
            if (t->due_ns <= now && n < TIMER_BATCH) {
                due[n] = t->key;
                n++;
                if (!t->period_ns) {
                    ev->timers[i] = ev->timers[--ev->n_timers];
                    continue;
                }
                /* A late thread skips the periods it missed, not fires them all. */
                t->due_ns += t->period_ns * ((now - t->due_ns) / t->period_ns + 1);
            }
            if (!next || t->due_ns < next)
                next = t->due_ns;
            i++;
        }
        pthread_mutex_unlock(&ev->lock);
        for (size_t i = 0; i < n; i++)
            raise_timer(io, due[i].drv_id, due[i].name);
        if (n == TIMER_BATCH)
            continue; /* more may be due */
        if (!n)
            kx_plat_futex_wait(&ev->word, word, next);
    }
    return NULL;
}

static void timers_changed(struct io_events *ev)
{
    atomic_fetch_add(&ev->word, 1);
    kx_plat_futex_wake(&ev->word, 1);
}

/* ==== the channel =========================================================== */

/* Under ns_lock: d if it may hold registrations. */
static struct io_driver *live_driver(struct kx_io *io, uint64_t drv_id)
{
    struct io_driver *d = kx__ns_driver_by_id(io, drv_id);
    return d && (d->state == KX_IO_DRIVER_STARTING || d->state == KX_IO_DRIVER_RUNNING) ? d : NULL;
}

/* Takes ns_lock and ev->lock if drv_id is a live driver (its registrations
 * can't outlive it); STATUS_INVALID_DRIVER_OBJECT, holding nothing, if not. */
static kx_status lock_live(struct kx_io *io, uint64_t drv_id)
{
    pthread_mutex_lock(&io->ns_lock);
    if (!live_driver(io, drv_id)) {
        pthread_mutex_unlock(&io->ns_lock);
        return STATUS_INVALID_DRIVER_OBJECT;
    }
    pthread_mutex_lock(&io->events->lock);
    return STATUS_SUCCESS;
}

static void unlock_live(struct kx_io *io)
{
    pthread_mutex_unlock(&io->events->lock);
    pthread_mutex_unlock(&io->ns_lock);
}

/* In n entries of stride bytes, each beginning with its ev_key: the index
 * of drv_id's entry named name (n if none), and *mine how many drv_id has. */
static size_t find_key(const void *entries, size_t n, size_t stride, uint64_t drv_id,
                       const char *name, size_t *mine)
{
    size_t at = n;
    *mine = 0;
    for (size_t i = 0; i < n; i++) {
        const struct ev_key *k = (const void *)((const char *)entries + i * stride);
        if (k->drv_id == drv_id) {
            ++*mine;
            if (strcmp(k->name, name) == 0)
                at = i;
        }
    }
    return at;
}

kx_status kx__chan_event_register(struct kx_io *io, uint64_t drv_id, const char *name, int is_on)
{
    if (!name_ok(name))
        return STATUS_INVALID_PARAMETER;
    struct io_events *ev = io->events;
    kx_status st = lock_live(io, drv_id);
    if (st != STATUS_SUCCESS)
        return st;
    size_t mine, at = find_key(ev->regs, ev->n_regs, sizeof ev->regs[0], drv_id, name, &mine);
    if (!is_on) {
        if (at == ev->n_regs)
            st = STATUS_EVENT_NOT_REGISTERED;
        else
            memmove(&ev->regs[at], &ev->regs[at + 1], (--ev->n_regs - at) * sizeof ev->regs[0]);
    } else if (at == ev->n_regs) {
        if (mine >= KX_IO_EVENT_PER_DRIVER)
            st = STATUS_EVENT_LIMIT;
        else if ((st = kx__ns_grow((void **)&ev->regs, &ev->cap_regs, ev->n_regs + 1,
                                   sizeof ev->regs[0])) == STATUS_SUCCESS) {
            ev->regs[ev->n_regs].key.drv_id = drv_id;
            snprintf(ev->regs[ev->n_regs].key.name, KX_IO_EVENT_NAME_MAX, "%s", name);
            ev->n_regs++;
        }
    }
    unlock_live(io);
    return st;
}

kx_status kx__chan_event_timer(struct kx_io *io, uint64_t drv_id, const char *name, uint32_t due_ms,
                               uint32_t period_ms)
{
    if (!name_ok(name))
        return STATUS_INVALID_PARAMETER;
    struct io_events *ev = io->events;
    kx_status st = lock_live(io, drv_id);
    if (st != STATUS_SUCCESS)
        return st;
    size_t mine, at = find_key(ev->timers, ev->n_timers, sizeof ev->timers[0], drv_id, name, &mine);
    if (due_ms == UINT32_MAX) { /* cancel */
        if (at == ev->n_timers)
            st = STATUS_EVENT_NOT_REGISTERED;
        else
            ev->timers[at] = ev->timers[--ev->n_timers];
    } else {
        if (at == ev->n_timers) {
            if (mine >= KX_IO_EVENT_PER_DRIVER)
                st = STATUS_EVENT_LIMIT;
            else if ((st = kx__ns_grow((void **)&ev->timers, &ev->cap_timers, ev->n_timers + 1,
                                       sizeof ev->timers[0])) == STATUS_SUCCESS)
                at = ev->n_timers++;
        }
        if (st == STATUS_SUCCESS) {
            struct ev_timer *t = &ev->timers[at];
            t->key.drv_id = drv_id;
            snprintf(t->key.name, sizeof t->key.name, "%s", name);
            t->due_ns = kx_plat_monotonic_ns() + (uint64_t)due_ms * 1000000u;
            t->period_ns = (uint64_t)period_ms * 1000000u;
        }
    }
    unlock_live(io);
    if (st == STATUS_SUCCESS)
        timers_changed(ev);
    return st;
}

void kx__event_drop_driver(struct kx_io *io, const struct io_driver *d)
{
    struct io_events *ev = io->events;
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    size_t k = 0;
    for (size_t i = 0; i < ev->n_regs; i++)
        if (ev->regs[i].key.drv_id != d->id)
            ev->regs[k++] = ev->regs[i];
    ev->n_regs = k;
    k = 0;
    for (size_t i = 0; i < ev->n_timers; i++)
        if (ev->timers[i].key.drv_id != d->id)
            ev->timers[k++] = ev->timers[i];
    ev->n_timers = k;
    for (size_t b = 0; b < SOURCE_BUCKETS; b++)
        for (struct ev_source **p = &ev->sources[b]; *p;) {
            struct ev_source *s = *p;
            if (s->drv_id == d->id) {
                *p = s->next;
                free(s);
            } else {
                p = &s->next;
            }
        }
    pthread_mutex_unlock(&ev->lock);
}

/* ==== listing, life ========================================================= */

kx_status kx_io_event_list(struct kx_io *io, struct kx_io_event_stat **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    struct io_events *ev = io->events;
    pthread_mutex_lock(&io->ns_lock);
    struct kx_io_event_stat *v = io->n_drivers ? calloc(io->n_drivers, sizeof *v) : NULL;
    if (io->n_drivers && !v) {
        pthread_mutex_unlock(&io->ns_lock);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    size_t k = 0;
    pthread_mutex_lock(&ev->lock);
    for (size_t i = 0; i < io->n_drivers; i++) {
        struct io_driver *d = io->drivers[i];
        struct kx_io_event_stat *s = &v[k];
        size_t used = 0;
        for (size_t r = 0; r < ev->n_regs; r++)
            if (ev->regs[r].key.drv_id == d->id) {
                s->n_registrations++;
                int w = snprintf(s->names + used, sizeof s->names - used, "%s%s", used ? "," : "",
                                 ev->regs[r].key.name);
                used = w < 0 || (size_t)w >= sizeof s->names - used ? sizeof s->names - 1
                                                                    : used + (size_t)w;
            }
        for (size_t t = 0; t < ev->n_timers; t++)
            s->n_timers += ev->timers[t].key.drv_id == d->id;
        s->queued = atomic_load(&d->ev_queued);
        s->delivered = atomic_load(&d->ev_delivered);
        s->dropped = atomic_load(&d->ev_dropped);
        if (!s->n_registrations && !s->n_timers && !s->queued && !s->delivered && !s->dropped)
            continue;
        s->id = d->id;
        snprintf(s->driver, sizeof s->driver, "%s", d->name);
        k++;
    }
    pthread_mutex_unlock(&ev->lock);
    pthread_mutex_unlock(&io->ns_lock);
    if (!k) {
        free(v);
        v = NULL;
    }
    *out = v;
    *n = k;
    return STATUS_SUCCESS;
}

kx_status kx__event_init(struct kx_io *io)
{
    struct io_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (pthread_mutex_init(&ev->lock, NULL)) {
        free(ev);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    atomic_init(&ev->word, 0);
    atomic_init(&ev->stop, 0);
    io->events = ev;
    if (pthread_create(&ev->thread, NULL, timer_main, io) != 0)
        return STATUS_INSUFFICIENT_RESOURCES; /* kx_io_free takes down the rest */
    ev->has_thread = 1;
    return STATUS_SUCCESS;
}

void kx__event_destroy(struct kx_io *io)
{
    struct io_events *ev = io->events;
    if (!ev)
        return;
    if (ev->has_thread) {
        atomic_store(&ev->stop, 1);
        timers_changed(ev);
        pthread_join(ev->thread, NULL);
    }
    for (size_t b = 0; b < SOURCE_BUCKETS; b++)
        while (ev->sources[b]) {
            struct ev_source *s = ev->sources[b];
            ev->sources[b] = s->next;
            free(s);
        }
    free(ev->regs);
    free(ev->timers);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
    io->events = NULL;
}
