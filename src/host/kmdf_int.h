/* kmdf_int.h — the in-process host's objects: what a driver sees (the seed's
 * DRIVER_OBJECT, DEVICE_OBJECT, IRP) wrapped with what the host keeps beside
 * them. Shared by kmdf_host.c (the host) and kmdf.c (the Dk* calls) only;
 * the manager never includes it.
 *
 * Each wrapper starts with the object the driver sees, so the driver's
 * pointer is also the wrapper's, and carries a magic number so a Dk* call
 * handed a foreign pointer fails with STATUS_INVALID_PARAMETER instead of
 * corrupting memory.
 */
#ifndef KX_IO_KMDF_INT_H
#define KX_IO_KMDF_INT_H

#include "io/host.h"
#include "io/irp_rec.h"
#include "io/queue.h"

#include <kx/kmdf.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define HOST_MAGIC     0x4B58484Fu /* "KXHO" */
#define HOST_DEV_MAGIC 0x4B584456u /* "KXDV" */
#define HOST_IRP_MAGIC 0x4B584952u /* "KXIR" */

struct host_device;

/* One driver instance. Created by kx__host_new, freed by kx__host_free after
 * its thread has returned. */
typedef int (*kx_host_idle_fn)(void *arg);

struct kx_host {
    DRIVER_OBJECT obj;            /* first: what DriverEntry receives */
    uint32_t magic;
    int stopped;                  /* under run_lock: K_STOP was handled */
    struct kx_io *io;             /* the manager endpoint; never shown to the driver */
    uint64_t drv_id;
    char name[KX_IO_NAME_MAX];    /* "\Driver\<short>" */
    char short_name[64];
    struct kx_driver_info info;
    pthread_t thread;
    /* Held while driver code runs: by the dispatch thread over each pass
     * through its queue, by kx__host_run_here over the routines it runs. */
    pthread_mutex_t run_lock;
    uint64_t spin_ns;             /* how long the idle thread spins before sleeping (adapts) */
    uint64_t max_spin_ns;         /* 0 on one CPU: never spin */
    _Atomic int in_entry;         /* DriverEntry running: new devices are initializing */
    /* The running routine completed the IRP it was called for: the result,
     * sent with the end of the dispatch. Dispatch thread only. */
    int def_set;
    kx_status def_status;
    size_t def_info;
    uint64_t cur_instance;        /* dispatch thread: the match AddDevice runs for (0: none) */
    uint64_t cur_nub;             /* dispatch thread: that match's nub (its bound component) */
    _Atomic uint64_t busy_seq;    /* routine entries + exits: odd while driver code runs */
    _Atomic uint64_t busy_irp;    /* id of the record whose routine runs */
    pthread_mutex_t lock;         /* guards devices, events (a leaf lock) */
    struct host_device *devices;  /* every device and proxy object not yet freed */
    struct host_events *events;   /* DkRegisterInterrupt's routines (kmdf_event.c); NULL: none yet */
    struct host_component *components; /* DkCreateComponentDevice's counts per instance (lock) */
    struct _KX_HARDWARE_PROXY *proxies; /* hardware proxies not yet released (lock) */
    /* What the dispatch thread does when its queue runs dry, instead of its
     * own spin (kx__host_set_idle); NULL: spin, then sleep. */
    _Atomic(kx_host_idle_fn) idle;
    void *idle_arg;
    struct io_queue q;            /* last (its lines are 64-aligned): the dispatch queue, many
                                   * producers, this thread consumes */
};

/* Called by the dispatch thread when its queue is empty: looks for work
 * elsewhere for a while (a kx-host's ring) and posts what it finds to the
 * queue; 1 if it did, 0 when the thread may go to sleep. */
void kx__host_set_idle(struct kx_host *h, kx_host_idle_fn fn, void *arg);

/* A device (or a proxy for another driver's device). Freed when both the
 * driver (DkDeleteDevice / DkDereferenceDeviceObject) and the manager
 * (K_DEVREL: no open file needs it any more) have let go, or at teardown. */
struct host_device {
    DEVICE_OBJECT obj;            /* first */
    uint32_t magic;
    struct kx_host *host;
    uint64_t dev_id;
    uint64_t instance;            /* the match it belongs to (0: none); dispatch thread */
    _Atomic int refs;
    char name[KX_IO_NAME_MAX];
    char auto_link[KX_IO_NAME_MAX]; /* DkCreateComponentDevice's link, deleted with it ("") */
    struct host_device *next, *prev; /* host->devices, under host->lock */
    _Alignas(16) unsigned char ext[]; /* DeviceExtension */
};

#define HI_PENDING   0x1u /* DkMarkIrpPending */
#define HI_COMPLETED 0x2u /* DkCompleteRequest (or the host for the driver) */
#define HI_CANCEL    0x4u /* cancellation requested */

/* The canceller took the routine: a function that is never called, used
 * only for its unique address. */
void kx__host_cancel_taken(PDEVICE_OBJECT dev, PIRP irp);
#define HOST_CANCEL_TAKEN kx__host_cancel_taken

/* The host's view of an IRP, inside the record's host[] area. */
struct host_irp {
    IRP irp;                      /* first */
    uint32_t magic;
    _Atomic uint32_t flags;       /* HI_* */
    _Atomic(PDRIVER_CANCEL) cancel; /* NULL, the routine, or HOST_CANCEL_TAKEN */
    _Atomic uint32_t owner_seq;   /* bumped when the IRP is passed to another device */
    uint64_t irp_id;              /* the manager's id (generation | slot) */
    struct kx_host *host;         /* host of the device it is addressed to */
};

_Static_assert(sizeof(struct host_irp) <= KX_HOST_IRP_SIZE, "host IRP view too large");

/* Cookies are the host's own pointers, carried by the manager as opaque
 * 64-bit values (a separate host would use indices); back to pointers here. */
static inline void *host_ptr(uint64_t cookie)
{
    uintptr_t u = (uintptr_t)cookie;
    void *p;
    memcpy(&p, &u, sizeof p);
    return p;
}

static inline struct host_irp *host_irp_of(struct io_irp *rec)
{
    return (struct host_irp *)(void *)rec->host;
}

/* The driver instance whose code the calling thread runs (set on dispatch
 * threads), or NULL. */
struct kx_host *kx__host_current(void);

/* Host-side completion (DkCompleteRequest without the argument checks). */
kx_status kx__host_complete(struct host_irp *hi, kx_status status, size_t information);
/* The fault m carries (kmdf_fault.c), on the dispatch thread inside the
 * routine's bracket: 1 when it took the routine's place (*st its return), 0
 * when the routine still runs (after a delay). Some never return. */
int kx__host_fault(struct kx_host *h, struct io_irp *rec, kx_status *st);

void kx__host_device_unref(struct host_device *hd);

/* kmdf_event.c: runs the routine registered for a K_EVENT record and answers
 * it (STATUS_EVENT_NOT_REGISTERED when there is none any more); frees the
 * routine table with the host. */
void kx__host_event_run(struct kx_host *h, struct io_irp *rec, struct io_relbatch *rb);
void kx__host_events_free(struct kx_host *h);
/* kmdf_component.c: forgets instance's device count (its match went away);
 * frees every count and proxy left at teardown. */
void kx__host_component_forget(struct kx_host *h, uint64_t instance);
void kx__host_component_free_all(struct kx_host *h);

#endif /* KX_IO_KMDF_INT_H */
