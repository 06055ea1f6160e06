/* hostproc_int.h — a kx-host process's side of the transport: its local IRP
 * records and the endpoint that kmdf_host.c's kx__chan_* calls reach.
 *
 * In a host process the manager is elsewhere, so the channel functions of
 * host.h are implemented here (chan_proc.c) as records on the transport.
 * kmdf_host.c and kmdf.c are the same code as in kxd: they hand the channel
 * the `struct kx_io *` they were created with, which in this program is the
 * endpoint below (never dereferenced as a manager; see io_of()).
 *
 * Each request gets a local record (struct hrec, whose first member is the
 * struct io_irp kmdf_host.c works on) from a pool that only grows, so the
 * steady path allocates nothing. A record's local id (generation | index) is
 * what the driver's IRP carries; the manager's id travels back with every
 * answer. References: one for the dispatch (DISP), one for the driver until
 * it completes (DRV), one per cancel routine queued.
 */
#ifndef KX_HOST_HOSTPROC_INT_H
#define KX_HOST_HOSTPROC_INT_H

#include "core/xport.h"
#include "io/host_proto.h"
#include "kmdf_int.h"

#include <pthread.h>
#include <stdatomic.h>

#define HR_CANCEL   0x1u /* the manager asked to cancel it */
#define HR_DRV_DONE 0x2u /* the driver completed it (or passed it on) */
#define HR_IN_DISP  0x4u /* its routine runs (dispatch thread) */

struct hrec {
    struct io_irp r; /* first: what kmdf_host.c handles */
    uint64_t mgr_id; /* the manager's id of this IRP or control record */
    uint32_t idx;
    _Atomic uint32_t gen;   /* bumped by each taking: a stale local id no longer matches */
    _Atomic uint32_t refs;
    _Atomic uint32_t flags; /* HR_* */
    struct hrec *next;      /* free list, or hash chain while an IRP (ep->lock) */
    void *heap;             /* a system buffer kept for reuse */
    size_t heap_cap;
    int in_slot;            /* the system buffer is a bulk slot: the output stays there */
    struct kx_io_provider prov; /* K_ADDDEV, K_REMOVEDEV */
    char *prov_mem;
};

#define HP_SLAB      256u
#define HP_MAX_SLABS 4096u
#define HP_HASH      4096u
#define HP_DEFER     64u
#define HP_RX_TAKE   64u /* free records the receiver takes from the pool at once */

struct hcall;

struct hp_defer {
    struct kx_xout out;
    struct hrec *rec; /* released (refs dropped) once sent; may be NULL */
    uint32_t drop;
};

struct kx_hostep {
    struct kx_xport *x;
    struct kx_ring *ring; /* the transport's rings (NULL on a socket), for fault injection */
    unsigned char *bulk;  /* kxd's bulk slots, mapped (NULL on a socket; host_proto.h) */
    struct kx_host *h;
    uint64_t drv_id;
    pthread_mutex_t lock; /* guards slabs, free, hash, calls, next_seq */
    struct hrec *slabs[HP_MAX_SLABS];
    uint32_t n_slabs;
    struct hrec *free;
    struct hrec *hash[HP_HASH]; /* IRPs by manager id */
    struct hrec *rx_free;       /* the receiving turn's: records taken from free, one lock for many */
    struct hcall *calls;        /* waiting for HX_REPLY */
    uint64_t next_seq;
    /* Receiving (host_main.c): the main thread, and the dispatch thread
     * while idle for up to poll_ns (pbatch is its own), take turns. */
    kx_io_entry_fn entry;
    _Atomic int stopping; /* K_STOP received: nothing new is taken */
    uint64_t poll_ns;
    /* Bytes the IRPs taken since the dispatch thread last went idle move
     * (whoever took them): its next idle poll is longer by HX_BULK_POLL_NS. */
    _Atomic uint64_t moved;
    uint64_t poll_moved; /* dispatch thread's: what its idle polls allow for */
    struct kx_xbatch pbatch;
    int polling; /* dispatch thread's: it is among the transport's pollers */
    /* Dispatch thread only: answers sent at kx__chan_flush, one batch. */
    struct hp_defer defer[HP_DEFER];
    size_t n_defer;
    struct hx_done dones[HP_DEFER]; /* flush's: the deferred answers it packs */
};

/* Takes a fresh record (refs 2 for an IRP, 1 otherwise). NULL when out of
 * memory. Whoever has the receiving turn (take_batch), one at a time. */
struct hrec *kx__hp_rec_get(struct kx_hostep *ep, int is_irp, uint64_t mgr_id);
/* Makes IRP records findable by manager id (kx__hp_rec_by_mgr), n under one
 * lock; before they are posted. */
void kx__hp_rec_publish(struct kx_hostep *ep, struct hrec **irps, size_t n);
/* Drops n references; the last one returns the record to the pool. */
void kx__hp_rec_unref(struct kx_hostep *ep, struct hrec *hr, uint32_t n);
/* The live IRP with this manager id (newest), or NULL. */
struct hrec *kx__hp_rec_by_mgr(struct kx_hostep *ep, uint64_t mgr_id);
/* Fault injection (corrupt-transport): publishes a ring record no receiver
 * accepts, as a driver scribbling over the shared memory would. 0 on a
 * socket transport (nothing is done). */
int kx__hp_break_transport(struct kx_io *io);
/* An HX_REPLY: wakes the caller waiting for it. */
void kx__hp_reply(struct kx_hostep *ep, const struct kx_xrec *hdr, const unsigned char *payload);
/* The dispatch thread gives up its place among the transport's pollers
 * (if it has one): the main thread is woken by kxd's records again. */
void kx__hp_poll_leave(struct kx_hostep *ep);
/* Sends a record now (any thread). */
kx_status kx__hp_send(struct kx_hostep *ep, const struct kx_xout *o);

static inline struct hrec *hrec_of(struct io_irp *r)
{
    return (struct hrec *)(void *)r;
}

#endif /* KX_HOST_HOSTPROC_INT_H */
