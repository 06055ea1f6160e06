/* irp_rec.h — the IRP record: the manager's pool record of a request, which
 * is also the in-process transport's message. In kxd a driver's host reads
 * what travels (kind, state, the dispatch message or control payload in u,
 * view_built, the system buffer) straight from the record the manager posted
 * to its queue, so an IRP costs one allocation and no copy. This header and
 * host.h are all the host side (src/host) sees of the manager; the rest of a
 * record is the manager's (src/io/io_int.h), reached through pointers to
 * types the host never completes. A kx-host process gets the same fields out
 * of its transport's records (host_proto.h) into records of its own.
 */
#ifndef KX_IO_IRP_REC_H
#define KX_IO_IRP_REC_H

#include "host.h"

#include <kx/io.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum io_kind {
    K_IRP = 1,   /* an I/O request */
    K_INIT,      /* run DriverEntry */
    K_UNLOAD,    /* run DriverUnload */
    K_CANCEL,    /* run a taken cancel routine for ctl.target */
    K_DEVREL,    /* the manager let go of a device: free its host object */
    K_ADDDEV,    /* run Probe and AddDevice for a match (u.provider) */
    K_REMOVEDEV, /* run RemoveDevice for a match, delete what it leaves */
    K_STOP,      /* end the dispatch thread */
    K_EVENT,     /* run an event routine (u.event; event.c); answered to the manager only */
};

#define IRP_REF        ((uint64_t)1)
#define IRP_REF_MASK   ((uint64_t)0xFFFF)
#define IRP_REQ_DONE   ((uint64_t)1 << 16)
#define IRP_DRV_DONE   ((uint64_t)1 << 17)
#define IRP_DISPATCHED ((uint64_t)1 << 18)
#define IRP_CANCEL     ((uint64_t)1 << 19)
#define IRP_GEN_SHIFT  32

#define IO_INLINE_BUF 64
/* A system buffer of up to this many bytes is the record's own cache_buf,
 * allocated the first time the record needs one and kept until its slab is
 * trimmed: the small writes and ioctls of a steady stream allocate nothing. */
#define IO_CACHE_BUF 4096

struct io_file;
struct io_device;
struct io_driver;

/* Whose memory an IRP's system buffer (io_irp.buf) is. */
enum io_buf_kind {
    IO_BUF_OWN = 0, /* the record's own (inline_buf or cache_buf), or none */
    IO_BUF_HEAP,    /* from the manager's buffer cache: back to it at release */
    IO_BUF_LENT,    /* the requester's (kx_io_req.out_buf): lent_release at release */
    /* The record holds a host's bulk slot (bulk, bulk_slot; hostbulk.c), given
     * back at release: alone, the slot is the buffer; with IO_BUF_LENT, the
     * host's output lands in the slot and is copied into the lent buffer. */
    IO_BUF_SLOT = 4,
};
#define IO_BUF_OWNER 3 /* buf_kind's bits that say whose buf is */

struct io_bulk;

/* The pool hands out records by magazine: a free record at the top of the
 * pool's stack lists up to IO_MAG more free records (in the space its
 * dispatch message used), so a batch of IRPs costs one compare-and-swap and
 * no pointer chasing through lines another CPU wrote last. */
#define IO_MAG 15
struct io_mag {
    uint32_t n;
    struct {
        uint32_t idx, gen; /* the generation, so the allocator need not read the record */
    } e[IO_MAG];
};

struct io_irp {
    /* line 0: the state machine and what the dispatch thread needs to end a
     * request, then the dispatch message and small payloads (lines 0-2): the
     * dispatch thread reads no other line the submitter wrote, and a request
     * with up to 16 bytes of payload moves two lines, not three */
    _Atomic uint64_t state;
    _Atomic(struct io_file *) file; /* atomic: the watchdog and close scan records */
    /* An async request is answered through done(done_arg, ...), a waiter
     * reads req_status and req_info: never both, so they share the space. */
    union {
        struct {
            union {
                kx_io_done_fn done;
                kx_io_view_fn done_view; /* when has_out and req_out is NULL */
            };
            void *done_arg;
        };
        struct {
            kx_status req_status;
            size_t req_info;
        };
    };
    _Atomic uint32_t wake; /* sync waiter: 0 waiting, 1 asleep, 2 answered */
    uint32_t idx;          /* slot in the pool; the id is (gen << 32) | idx */
    uint8_t kind;          /* enum io_kind */
    uint8_t major;
    uint8_t is_sync;     /* a thread waits in kx__irp_wait */
    uint8_t holds_file;  /* the record holds one reference on file */
    uint8_t from_driver; /* the answer is the driver's (output may be copied) */
    uint8_t view_built;  /* the host has built its IRP from u.msg */
    /* Two facts of line 3 repeated here, so ending a request never reads it: */
    uint8_t buf_kind; /* enum io_buf_kind */
    uint8_t has_out;  /* req_out_len != 0: output is copied to the requester */
    /* what travels to the host, or the pool's bookkeeping while the record
     * is free */
    union {
        struct {
            union {
                struct io_msg_irp msg; /* K_IRP: the dispatch message */
                kx_io_entry_fn entry;  /* K_INIT */
                struct {               /* K_CANCEL */
                    struct io_irp *target;
                    kx_host_fn routine;
                } cancel;
                uint64_t dev_cookie;             /* K_DEVREL */
                struct io_msg_event event;       /* K_EVENT */
                struct kx_io_provider *provider; /* K_ADDDEV, K_REMOVEDEV: the waiter's */
            };
            unsigned char inline_buf[IO_INLINE_BUF];
        };
        struct io_mag mag; /* a free magazine head: the records it lists */
    } u;
    /* line 3: requester and routing, read by the dispatch thread only off
     * the fast path; routing is atomic because the watchdog and close scan
     * records they do not own */
    _Alignas(64) void *req_out;
    size_t req_out_len;
    _Atomic(struct io_driver *) drv;
    _Atomic(struct io_device *) dev;
    _Atomic uint64_t deadline_ns; /* 0: none */
    void *buf;                    /* system buffer: inline_buf or malloc'ed */
    struct io_irp *ovf_next;      /* the dispatch queue's overflow list */
    uint32_t buf_len;
    _Atomic uint32_t free_next; /* pool: idx + 1 of the next magazine */
    /* lines 4-6: the host's view, written and read on the dispatch thread */
    _Alignas(64) unsigned char host[KX_HOST_IRP_SIZE];
    /* line 7: sends to a separate host whose dispatch has not ended yet
     * (hostproc.c): what a host's death must give back */
    _Atomic uint32_t proc_disp;
    /* a buffer lent by the requester (IO_BUF_LENT), given back at release */
    void (*lent_release)(void *arg);
    void *lent_arg;
    void *cache_buf; /* IO_CACHE_BUF bytes, or NULL until first needed */
    struct io_bulk *bulk; /* IO_BUF_SLOT: whose slot, and which */
    uint32_t bulk_slot;
} __attribute__((aligned(128))); /* no 128-byte block holds lines of two records */

/* Lines 0-1 form one 128-byte block (CPUs fetch such pairs together): the
 * state, the message and 16 bytes of payload. */
_Static_assert(offsetof(struct io_irp, u) == 48 && offsetof(struct io_irp, u.inline_buf) == 112 &&
                   offsetof(struct io_irp, req_out) == 192 && offsetof(struct io_irp, host) == 256,
               "lines 0-3 are what a submitter writes; keep them packed");

static inline uint64_t io_irp_id(const struct io_irp *r, uint64_t state)
{
    return (state & ~(((uint64_t)1 << IRP_GEN_SHIFT) - 1)) | r->idx;
}

/* Records released in a batch by one thread (the dispatch loop), returned to
 * the pool as one magazine; file references dropped per run of one file. */
struct io_relbatch {
    struct io_irp *recs[IO_MAG + 1];
    uint32_t n;
    struct io_file *file;
    uint32_t file_refs;
};

#endif /* KX_IO_IRP_REC_H */
