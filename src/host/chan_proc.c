/* chan_proc.c — host.h's host -> manager channel in a kx-host process: each
 * kx__chan_* call becomes transport records (host_proto.h) to kxd.
 *
 * Synchronous calls (DkCreateDevice's device id, a registry answer) are
 * HX_CALL records answered by HX_REPLY: the caller waits on a futex word
 * that the process's reader thread (host_main.c) sets when the reply comes.
 * What the dispatch thread says at the end of a routine (completions, ends,
 * control answers) is deferred and sent as one batch at kx__chan_flush, which
 * the dispatch loop calls whenever its queue runs dry: a burst of requests
 * costs one packet back. Completions from other threads go at once.
 */
#include "hostproc_int.h"

#include "core/plat_sync.h"
#include "core/ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* In this program the channel's `struct kx_io *` is the endpoint. */
static struct kx_hostep *ep_of(struct kx_io *io)
{
    return (struct kx_hostep *)(void *)io;
}

/* ==== local records ======================================================= */

static struct hrec *rec_at(struct kx_hostep *ep, uint32_t idx)
{
    return idx / HP_SLAB < ep->n_slabs ? &ep->slabs[idx / HP_SLAB][idx % HP_SLAB] : NULL;
}

static struct hrec *rec_by_local(struct kx_hostep *ep, uint64_t id)
{
    pthread_mutex_lock(&ep->lock);
    struct hrec *hr = rec_at(ep, (uint32_t)id);
    if (hr && (atomic_load_explicit(&hr->gen, memory_order_relaxed) != (uint32_t)(id >> 32) ||
               !atomic_load(&hr->refs)))
        hr = NULL;
    pthread_mutex_unlock(&ep->lock);
    return hr;
}

/* Moves up to HP_RX_TAKE free records to the receiver's own list, growing
 * the pool by a slab if it is empty (caller holds ep->lock). */
static void refill_locked(struct kx_hostep *ep)
{
    if (!ep->free && ep->n_slabs < HP_MAX_SLABS) {
        struct hrec *slab = aligned_alloc(128, HP_SLAB * sizeof *slab);
        if (slab) {
            memset(slab, 0, HP_SLAB * sizeof *slab);
            for (uint32_t i = HP_SLAB; i-- > 0;) {
                slab[i].idx = ep->n_slabs * HP_SLAB + i;
                slab[i].next = ep->free;
                ep->free = &slab[i];
            }
            ep->slabs[ep->n_slabs++] = slab;
        }
    }
    for (uint32_t n = 0; n < HP_RX_TAKE && ep->free; n++) {
        struct hrec *hr = ep->free;
        ep->free = hr->next;
        hr->next = ep->rx_free;
        ep->rx_free = hr;
    }
}

struct hrec *kx__hp_rec_get(struct kx_hostep *ep, int is_irp, uint64_t mgr_id)
{
    if (!ep->rx_free) {
        pthread_mutex_lock(&ep->lock);
        refill_locked(ep);
        pthread_mutex_unlock(&ep->lock);
    }
    struct hrec *hr = ep->rx_free;
    if (!hr)
        return NULL;
    ep->rx_free = hr->next;
    /* Nobody else holds it: a stale id's lookup (rec_by_local) sees no
     * references, or a generation that is not its own. */
    atomic_fetch_add_explicit(&hr->gen, 1, memory_order_relaxed);
    hr->mgr_id = mgr_id;
    hr->next = NULL;
    atomic_store_explicit(&hr->flags, 0, memory_order_relaxed);
    struct io_irp *r = &hr->r;
    memset(r, 0, offsetof(struct io_irp, req_out));
    hr->in_slot = 0;
    r->buf = NULL;
    r->buf_len = 0;
    atomic_store_explicit(&hr->refs, is_irp ? 2 : 1, memory_order_release);
    return hr;
}

void kx__hp_rec_publish(struct kx_hostep *ep, struct hrec **irps, size_t n)
{
    if (!n)
        return;
    pthread_mutex_lock(&ep->lock);
    for (size_t i = 0; i < n; i++) {
        struct hrec **b = &ep->hash[irps[i]->mgr_id % HP_HASH];
        irps[i]->next = *b;
        *b = irps[i];
    }
    pthread_mutex_unlock(&ep->lock);
}

/* Returns records whose last reference went to the pool (caller holds
 * ep->lock). */
static void put_locked(struct kx_hostep *ep, struct hrec *hr)
{
    if (hr->r.kind == K_IRP)
        for (struct hrec **p = &ep->hash[hr->mgr_id % HP_HASH]; *p; p = &(*p)->next)
            if (*p == hr) {
                *p = hr->next;
                break;
            }
    free(hr->prov_mem);
    hr->prov_mem = NULL;
    hr->next = ep->free;
    ep->free = hr;
}

void kx__hp_rec_unref(struct kx_hostep *ep, struct hrec *hr, uint32_t n)
{
    if (atomic_fetch_sub(&hr->refs, n) != n)
        return;
    pthread_mutex_lock(&ep->lock);
    put_locked(ep, hr);
    pthread_mutex_unlock(&ep->lock);
}

struct hrec *kx__hp_rec_by_mgr(struct kx_hostep *ep, uint64_t mgr_id)
{
    pthread_mutex_lock(&ep->lock);
    struct hrec *hr = ep->hash[mgr_id % HP_HASH];
    while (hr && hr->mgr_id != mgr_id)
        hr = hr->next;
    if (hr)
        atomic_fetch_add(&hr->refs, 1); /* the caller's */
    pthread_mutex_unlock(&ep->lock);
    return hr;
}

/* ==== sending ============================================================== */

void kx__hp_poll_leave(struct kx_hostep *ep)
{
    if (!ep->polling)
        return;
    ep->polling = 0;
    ep->x->ops->poll_end(ep->x);
}

kx_status kx__hp_send(struct kx_hostep *ep, const struct kx_xout *o)
{
    return kx_xport_send(ep->x, o, 1);
}

int kx__hp_break_transport(struct kx_io *io)
{
    struct kx_hostep *ep = ep_of(io);
    static const char junk[] = "scribble";
    if (!ep->ring ||
        kx_ring_send(ep->ring, 0x7777, 0, junk, sizeof junk, KX_RING_NOWAIT) != STATUS_SUCCESS)
        return 0;
    return kx_ring_commit(ep->ring) == STATUS_SUCCESS;
}

/* An answer that can travel packed in HX_DONES: the routine's own, no bytes. */
static int packable(const struct kx_xout *o)
{
    return o->hdr.type == HX_COMPLETE && o->hdr.flags == HF_END && !o->payload_len &&
           !o->payload2_len;
}

/* Sends what the dispatch thread deferred, then lets go of its records:
 * those whose last reference this was go back to the pool under one lock.
 * Runs of answers without bytes go packed, one record for the run. */
static void flush(struct kx_hostep *ep)
{
    if (!ep->n_defer)
        return;
    struct kx_xout outs[HP_DEFER];
    size_t n = 0, packed = 0;
    for (size_t i = 0; i < ep->n_defer;) {
        const struct kx_xout *o = &ep->defer[i].out;
        size_t run = 0;
        while (i + run < ep->n_defer && packable(&ep->defer[i + run].out))
            run++;
        if (run < 2) {
            outs[n++] = *o;
            i++;
            continue;
        }
        struct hx_done *d = &ep->dones[packed];
        for (size_t k = 0; k < run; k++) {
            const struct kx_xrec *h = &ep->defer[i + k].out.hdr;
            d[k] = (struct hx_done){h->id, h->b, h->c, (int32_t)h->a, 0};
        }
        outs[n++] = (struct kx_xout){
            {HX_DONES, 0, 0, 0, run, 0, 0}, d, run * sizeof *d, NULL, 0};
        packed += run;
        i += run;
    }
    /* A manager that has gone can't be told; the process ends with it. */
    kx_xport_send(ep->x, outs, n);
    struct hrec *gone[HP_DEFER];
    size_t n_gone = 0;
    for (size_t i = 0; i < ep->n_defer; i++) {
        struct hrec *hr = ep->defer[i].rec;
        if (hr && atomic_fetch_sub(&hr->refs, ep->defer[i].drop) == ep->defer[i].drop)
            gone[n_gone++] = hr;
    }
    ep->n_defer = 0;
    if (!n_gone)
        return;
    pthread_mutex_lock(&ep->lock);
    for (size_t i = 0; i < n_gone; i++)
        put_locked(ep, gone[i]);
    pthread_mutex_unlock(&ep->lock);
}

void kx__chan_flush(struct kx_io *io, struct io_relbatch *rb)
{
    (void)rb;
    flush(ep_of(io));
}

/* Queues o for the next flush; hr loses `drop` references after it is sent
 * (its buffer may be what o carries). Dispatch thread only. */
static void defer(struct kx_hostep *ep, const struct kx_xout *o, struct hrec *hr, uint32_t drop)
{
    if (ep->n_defer == HP_DEFER)
        flush(ep);
    ep->defer[ep->n_defer++] = (struct hp_defer){*o, hr, drop};
}

/* The output bytes a successful completion carries back. */
static void out_bytes(struct hrec *hr, kx_status status, uint64_t info, struct kx_xout *o)
{
    const struct io_msg_irp *m = &hr->r.u.msg;
    if (status != STATUS_SUCCESS || !m->out_len || !info)
        return;
    if (hr->in_slot) { /* kxd reads them where the driver wrote them */
        o->hdr.flags |= HF_SLOT;
        return;
    }
    o->payload = m->buf_inline ? (const void *)hr->r.u.inline_buf : hr->r.buf;
    o->payload_len = info < m->out_len ? (size_t)info : m->out_len;
}

/* ==== synchronous calls ===================================================== */

struct hcall {
    uint64_t seq;
    _Atomic uint32_t done;
    kx_status status;
    uint64_t out_id;
    void *out;
    size_t out_len;
    struct hcall *next;
};

/* Sends an HX_CALL and waits for its reply. *out (malloc'ed) if out != NULL. */
static kx_status call(struct kx_hostep *ep, uint32_t op, uint64_t b, uint64_t c, const void *p1,
                      size_t l1, const void *p2, size_t l2, uint64_t *out_id, void **out,
                      size_t *out_len)
{
    if (ep->h && kx__host_current() == ep->h) {
        flush(ep); /* what the routine said before */
        kx__hp_poll_leave(ep); /* the reply must wake the main thread */
    }
    /* On the heap, not the stack: the reader thread reaches it through the
     * list. Calls are the driver's set-up path, not the I/O path. */
    struct hcall *hc = calloc(1, sizeof *hc);
    if (!hc)
        return STATUS_INSUFFICIENT_RESOURCES;
    pthread_mutex_lock(&ep->lock);
    hc->seq = ++ep->next_seq;
    hc->next = ep->calls;
    ep->calls = hc;
    pthread_mutex_unlock(&ep->lock);
    struct kx_xout o = {{HX_CALL, 0, 0, hc->seq, op, b, c}, p1, l1, p2, l2};
    kx_status st = kx__hp_send(ep, &o);
    if (st == STATUS_SUCCESS)
        while (atomic_load_explicit(&hc->done, memory_order_acquire) == 0)
            kx_plat_futex_wait(&hc->done, 0, 0);
    pthread_mutex_lock(&ep->lock);
    for (struct hcall **p = &ep->calls; *p; p = &(*p)->next)
        if (*p == hc) {
            *p = hc->next;
            break;
        }
    pthread_mutex_unlock(&ep->lock);
    if (st == STATUS_SUCCESS) {
        st = hc->status;
        if (out_id)
            *out_id = hc->out_id;
        if (out) {
            *out = hc->out;
            *out_len = hc->out_len;
            hc->out = NULL;
        }
    } else {
        st = STATUS_CONNECTION_LOST;
    }
    free(hc->out);
    free(hc);
    return st;
}

void kx__hp_reply(struct kx_hostep *ep, const struct kx_xrec *hdr, const unsigned char *payload)
{
    pthread_mutex_lock(&ep->lock);
    struct hcall *hc = ep->calls;
    while (hc && hc->seq != hdr->id)
        hc = hc->next;
    if (hc) {
        hc->status = (kx_status)hdr->a;
        hc->out_id = hdr->b;
        hc->out = hdr->len ? malloc(hdr->len) : NULL;
        hc->out_len = hc->out ? hdr->len : 0;
        if (hc->out)
            memcpy(hc->out, payload, hdr->len);
        else if (hdr->len)
            hc->status = STATUS_INSUFFICIENT_RESOURCES;
        atomic_store_explicit(&hc->done, 1, memory_order_release);
        kx_plat_futex_wake(&hc->done, 1);
    }
    pthread_mutex_unlock(&ep->lock);
}

/* ==== host -> manager ======================================================== */

kx_status kx__chan_create_device(struct kx_io *io, uint64_t drv_id, const char *name,
                                 uint64_t cookie, uint64_t instance, uint64_t *dev_id)
{
    (void)drv_id;
    return call(ep_of(io), HXO_CREATE_DEVICE, cookie, instance, name, strlen(name) + 1, NULL, 0,
                dev_id, NULL, NULL);
}

kx_status kx__chan_bind_device(struct kx_io *io, uint64_t drv_id, uint64_t dev_id,
                               uint64_t instance)
{
    (void)drv_id;
    return call(ep_of(io), HXO_BIND_DEVICE, dev_id, instance, NULL, 0, NULL, 0, NULL, NULL, NULL);
}

kx_status kx__chan_registry(struct kx_io *io, uint64_t drv_id, const struct kx_io_reg_req *req,
                            uint64_t *out_id, void **out, size_t *out_len)
{
    (void)drv_id;
    const char *s[4] = {req->key, req->class_name, req->name, req->location};
    struct hx_reg hr = {.op = (uint32_t)req->op, .entry = req->entry, .value_len = req->value_len};
    size_t total = sizeof hr;
    for (int i = 0; i < 4; i++) {
        hr.lens[i] = s[i] ? (uint32_t)strlen(s[i]) + 1 : 0;
        total += hr.lens[i];
    }
    unsigned char *p = malloc(total);
    if (!p)
        return STATUS_INSUFFICIENT_RESOURCES;
    memcpy(p, &hr, sizeof hr);
    size_t off = sizeof hr;
    for (int i = 0; i < 4; i++)
        if (s[i]) {
            memcpy(p + off, s[i], hr.lens[i]);
            off += hr.lens[i];
        }
    *out = NULL;
    *out_len = 0;
    kx_status st = call(ep_of(io), HXO_REGISTRY, 0, 0, p, total, req->value, req->value_len, out_id,
                        out, out_len);
    free(p);
    return st;
}

kx_status kx__chan_delete_device(struct kx_io *io, uint64_t drv_id, uint64_t dev_id)
{
    (void)drv_id;
    return call(ep_of(io), HXO_DELETE_DEVICE, dev_id, 0, NULL, 0, NULL, 0, NULL, NULL, NULL);
}

kx_status kx__chan_set_security(struct kx_io *io, uint64_t drv_id, uint64_t dev_id, uint32_t uid,
                                uint32_t gid, uint32_t mode)
{
    (void)drv_id;
    return call(ep_of(io), HXO_SET_SECURITY, dev_id, (uint64_t)uid << 32 | gid, &mode, sizeof mode,
                NULL, 0, NULL, NULL, NULL);
}

kx_status kx__chan_set_ready(struct kx_io *io, uint64_t drv_id, uint64_t dev_id, uint32_t events)
{
    (void)drv_id;
    return call(ep_of(io), HXO_SET_READY, dev_id, events, NULL, 0, NULL, 0, NULL, NULL, NULL);
}

kx_status kx__chan_set_controls(struct kx_io *io, uint64_t drv_id, uint64_t dev_id,
                                const struct kx_io_control_decl *decls, size_t n)
{
    (void)drv_id;
    return call(ep_of(io), HXO_SET_CONTROLS, dev_id, 0, decls, n * sizeof *decls, NULL, 0, NULL,
                NULL, NULL);
}

kx_status kx__chan_create_link(struct kx_io *io, uint64_t drv_id, const char *link,
                               const char *target)
{
    (void)drv_id;
    return call(ep_of(io), HXO_CREATE_LINK, 0, 0, link, strlen(link) + 1, target,
                strlen(target) + 1, NULL, NULL, NULL);
}

kx_status kx__chan_delete_link(struct kx_io *io, uint64_t drv_id, const char *link)
{
    (void)drv_id;
    if (!link)
        return STATUS_INVALID_PARAMETER;
    return call(ep_of(io), HXO_DELETE_LINK, 0, 0, link, strlen(link) + 1, NULL, 0, NULL, NULL,
                NULL);
}

kx_status kx__chan_event_register(struct kx_io *io, uint64_t drv_id, const char *name, int is_on)
{
    (void)drv_id;
    return call(ep_of(io), HXO_EVENT_REGISTER, is_on != 0, 0, name, strlen(name) + 1, NULL, 0, NULL,
                NULL, NULL);
}

kx_status kx__chan_event_timer(struct kx_io *io, uint64_t drv_id, const char *name, uint32_t due_ms,
                               uint32_t period_ms)
{
    (void)drv_id;
    return call(ep_of(io), HXO_EVENT_TIMER, due_ms, period_ms, name, strlen(name) + 1, NULL, 0,
                NULL, NULL, NULL);
}

kx_status kx__chan_ref_device(struct kx_io *io, uint64_t drv_id, const char *name, uint64_t *dev_id,
                              char canonical[KX_IO_NAME_MAX])
{
    (void)drv_id;
    void *out = NULL;
    size_t out_len = 0;
    kx_status st = call(ep_of(io), HXO_REF_DEVICE, 0, 0, name, strlen(name) + 1, NULL, 0, dev_id,
                        &out, &out_len);
    if (st == STATUS_SUCCESS)
        snprintf(canonical, KX_IO_NAME_MAX, "%.*s", (int)(out_len ? out_len - 1 : 0),
                 (const char *)out);
    free(out);
    return st;
}

void kx__chan_unref_device(struct kx_io *io, uint64_t drv_id, uint64_t dev_id)
{
    (void)drv_id;
    /* One way: kx__host_free sends it while the reader thread waits for it. */
    struct kx_xout o = {{HX_CALL, 0, 0, 0, HXO_UNREF_DEVICE, dev_id, 0}, NULL, 0, NULL, 0};
    kx__hp_send(ep_of(io), &o);
}

kx_status kx__chan_complete(struct kx_io *io, uint64_t irp_id, kx_status status,
                            uint64_t information, uint64_t file_cookie)
{
    struct kx_hostep *ep = ep_of(io);
    struct hrec *hr = rec_by_local(ep, irp_id);
    if (!hr || (atomic_fetch_or(&hr->flags, HR_DRV_DONE) & HR_DRV_DONE))
        return STATUS_REQUEST_ALREADY_COMPLETED;
    struct kx_xout o = {{HX_COMPLETE, 0, 0, hr->mgr_id, (uint64_t)status, information, file_cookie},
                        NULL,
                        0,
                        NULL,
                        0};
    out_bytes(hr, status, information, &o);
    kx_status st = kx__hp_send(ep, &o);
    kx__hp_rec_unref(ep, hr, 1); /* DRV */
    return st == STATUS_SUCCESS ? STATUS_SUCCESS : STATUS_DRIVER_PROCESS_TERMINATED;
}

kx_status kx__chan_forward(struct kx_io *io, uint64_t drv_id, uint64_t irp_id, uint64_t dev_id,
                           uint64_t file_cookie)
{
    (void)drv_id;
    struct kx_hostep *ep = ep_of(io);
    struct hrec *hr = rec_by_local(ep, irp_id);
    if (!hr)
        return STATUS_INVALID_PARAMETER;
    if (atomic_load(&hr->flags) & HR_DRV_DONE)
        return STATUS_REQUEST_ALREADY_COMPLETED;
    uint64_t mgr = hr->mgr_id;
    kx_status st =
        call(ep, HXO_FORWARD, dev_id, file_cookie, &mgr, sizeof mgr, NULL, 0, NULL, NULL, NULL);
    if (st != STATUS_SUCCESS)
        return st;
    /* Passed on: no longer this driver's. Its routine's end sees the owner
     * change and sends only the end of the dispatch. */
    atomic_fetch_add_explicit(&host_irp_of(&hr->r)->owner_seq, 1, memory_order_release);
    if (!(atomic_fetch_or(&hr->flags, HR_DRV_DONE) & HR_DRV_DONE))
        kx__hp_rec_unref(ep, hr, 1);
    return STATUS_SUCCESS;
}

static void line(struct kx_io *io, uint16_t type, const char *text)
{
    struct kx_xout o = {{type, 0, 0, 0, 0, 0, 0}, text, strlen(text) + 1, NULL, 0};
    kx__hp_send(ep_of(io), &o);
}

void kx__chan_print(struct kx_io *io, uint64_t drv_id, const char *text)
{
    (void)drv_id;
    line(io, HX_PRINT, text);
}

void kx__chan_report(struct kx_io *io, uint64_t drv_id, const char *text)
{
    (void)drv_id;
    line(io, HX_REPORT, text);
}

/* ==== the dispatch bracket ==================================================== */

int kx__chan_irp_begin(struct kx_io *io, struct io_irp *rec, struct io_relbatch *rb)
{
    (void)io;
    (void)rb;
    struct hrec *hr = hrec_of(rec);
    /* No fence: cancel() changes flags too, and of two read-modify-writes of
     * one word the later sees the earlier (with the view built before it). */
    uint32_t f = atomic_fetch_or(&hr->flags, HR_IN_DISP);
    return (f & HR_CANCEL) ? 2 : 1;
}

void kx__chan_irp_end(struct kx_io *io, struct io_irp *rec, struct io_relbatch *rb)
{
    (void)rb;
    struct kx_hostep *ep = ep_of(io);
    struct hrec *hr = hrec_of(rec);
    uint32_t f = atomic_fetch_and(&hr->flags, ~HR_IN_DISP);
    if (!(f & HR_IN_DISP)) { /* the reference a cancel routine held */
        kx__hp_rec_unref(ep, hr, 1);
        return;
    }
    struct kx_xout o = {{HX_END, 0, 0, hr->mgr_id, 0, 0, 0}, NULL, 0, NULL, 0};
    defer(ep, &o, hr, 1);
}

void kx__chan_irp_end_answer(struct kx_io *io, struct io_irp *rec, kx_status status,
                             uint64_t information, uint64_t file_cookie, struct io_relbatch *rb)
{
    struct kx_hostep *ep = ep_of(io);
    struct hrec *hr = hrec_of(rec);
    /* Out of the routine and completed, in one change of the word. */
    uint32_t f = atomic_load_explicit(&hr->flags, memory_order_relaxed);
    while (!atomic_compare_exchange_weak(&hr->flags, &f, (f & ~HR_IN_DISP) | HR_DRV_DONE))
        ;
    if (f & HR_DRV_DONE) {
        char msg[120];
        snprintf(msg, sizeof msg, "%s IRP completed twice (second: %s); ignored",
                 kx__major_name(rec->u.msg.major), kx_status_name(status));
        kx__chan_report(io, ep->drv_id, msg);
        struct kx_xout o = {{HX_END, 0, 0, hr->mgr_id, 0, 0, 0}, NULL, 0, NULL, 0};
        defer(ep, &o, hr, 1);
        return;
    }
    (void)rb;
    struct kx_xout o = {
        {HX_COMPLETE, HF_END, 0, hr->mgr_id, (uint64_t)status, information, file_cookie},
        NULL,
        0,
        NULL,
        0};
    out_bytes(hr, status, information, &o);
    defer(ep, &o, hr, 2);
}

void kx__chan_ctl_done(struct kx_io *io, struct io_irp *rec, kx_status status, uint64_t info,
                       struct io_relbatch *rb)
{
    (void)rb;
    struct kx_hostep *ep = ep_of(io);
    struct hrec *hr = hrec_of(rec);
    uint64_t c = rec->kind == K_ADDDEV   ? (uint64_t)(uint32_t)hr->prov.score
                 : rec->kind == K_CANCEL ? 1
                                         : 0;
    struct kx_xout o = {
        {HX_CTL_DONE, 0, 0, hr->mgr_id, (uint64_t)status, info, c}, NULL, 0, NULL, 0};
    defer(ep, &o, hr, 1);
}
