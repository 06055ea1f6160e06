/* hostbulk.c — the bulk slots kxd shares with one kx-host process: large
 * system buffers that cross to the host without a copy.
 *
 * Next to the rings, kxd makes a sealed memfd of HX_BULK_SLOTS slots of
 * HX_BULK_SLOT_BYTES (host_proto.h) and passes it to the host, which maps
 * it too. An IRP to the host's driver whose buffer is over IO_CACHE_BUF
 * and fits a slot takes a free slot as its system buffer at submission:
 * kxd copies the requester's input into it — the one copy on kx's side,
 * which also keeps a client from changing bytes under the driver — and
 * HX_IRP names only the slot (HF_SLOT). The host's IRP points at its own
 * mapping of the slot; its driver reads the input and writes the output in
 * place, and the answer says only how many bytes (HF_SLOT again). A READ
 * that brings its own buffer (kx_io_req.out_buf, a client's read slot)
 * takes a host slot beside it, copied into the requester's buffer once at
 * completion.
 *
 * A slot is the record's until the record is released (irp.c's
 * free_buffer), however late the driver lets go, and wherever the IRP was
 * forwarded: a lower driver in kxd uses it as memory like any buffer, one in
 * another host gets its bytes the ordinary way. The region is counted: the
 * hostproc holds one reference and each slot taken one more, so a host that
 * died, or a driver unloaded, with slots still held by records leaves the
 * mapping until the last of them is released; a dead host's region takes
 * no more requests and is unmapped once no record holds a slot
 * (kx__bulk_retire), so dead hosts kept for the manager's end cost none.
 * kxd keeps no descriptor of the region once the host has it. With every
 * slot taken, a
 * request falls back to a buffer of kxd's own and the bytes travel in the
 * transport's records, as they do on the socket transport.
 */
#include "io_int.h"

#include "core/plat.h"
#include "core/plat_shm.h"
#include "host_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGION_BYTES ((size_t)HX_BULK_SLOTS * HX_BULK_SLOT_BYTES)

#define ALL_FREE (HX_BULK_SLOTS == 64 ? UINT64_MAX : ((uint64_t)1 << HX_BULK_SLOTS) - 1)

struct io_bulk {
    _Atomic uint64_t free;    /* bit k: slot k is free */
    _Atomic uint32_t refs;    /* the hostproc's, and one per slot taken */
    _Atomic uint32_t *n_lent; /* the manager's count of slots taken (kx_io_pool_stats) */
    _Atomic int retired;      /* the host died: no slot is taken any more */
    _Atomic int unmapped;     /* retired and every slot back: the memory went */
    int fd;                   /* until it is sent */
    unsigned char *base;
};
_Static_assert(HX_BULK_SLOTS <= 64, "the free slots are bits of one word");

kx_status kx__bulk_new(struct kx_io *io, const char *name, struct io_bulk **out)
{
    *out = NULL;
    struct io_bulk *b = calloc(1, sizeof *b);
    if (!b)
        return STATUS_INSUFFICIENT_RESOURCES;
    char mname[64];
    snprintf(mname, sizeof mname, "kx-bulk:%.48s", name);
    void *p = NULL;
    kx_status st = kx_plat_shm_create(mname, REGION_BYTES, &b->fd);
    if (st == STATUS_SUCCESS && (st = kx_plat_shm_map(b->fd, REGION_BYTES, &p)) != STATUS_SUCCESS)
        kx_plat_close(b->fd);
    if (st != STATUS_SUCCESS) {
        free(b);
        return st;
    }
    b->base = p;
    b->n_lent = &io->bulk_lent;
    atomic_init(&b->free, ALL_FREE);
    atomic_init(&b->refs, 1);
    *out = b;
    return STATUS_SUCCESS;
}

kx_status kx__bulk_send(struct io_bulk *b, int sock)
{
    kx_status st = kx_plat_sock_send_fds(sock, HX_BULK_HELLO, sizeof HX_BULK_HELLO, &b->fd, 1);
    kx_plat_close(b->fd); /* the mapping is all kxd needs from now on */
    b->fd = -1;
    return st;
}

static void unmap_once(struct io_bulk *b)
{
    if (!atomic_exchange(&b->unmapped, 1))
        kx_plat_shm_unmap(b->base, REGION_BYTES);
}

void kx__bulk_unref(struct io_bulk *b)
{
    if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
        return;
    unmap_once(b);
    kx_plat_close(b->fd);
    free(b);
}

/* Slot k is free again; a retired region's last one takes the memory. */
static void put(struct io_bulk *b, uint32_t k)
{
    uint64_t f = atomic_fetch_or(&b->free, (uint64_t)1 << k) | (uint64_t)1 << k;
    if (f == ALL_FREE && atomic_load(&b->retired))
        unmap_once(b);
}

/* The host died: the region takes no more requests, and goes as soon as no
 * record holds a slot (now, or at the last give). Its taker and this look
 * at each other's word after writing their own (both sequentially
 * consistent): either the taker sees retired, or this sees the slot taken. */
void kx__bulk_retire(struct io_bulk *b)
{
    if (!b)
        return;
    atomic_store(&b->retired, 1);
    if (atomic_load(&b->free) == ALL_FREE)
        unmap_once(b);
}

/* A free slot, taken: its number in *k and its memory; NULL when none is. */
static void *take(struct io_bulk *b, uint32_t *k)
{
    if (atomic_load_explicit(&b->retired, memory_order_relaxed))
        return NULL;
    uint64_t f = atomic_load_explicit(&b->free, memory_order_acquire);
    do {
        if (!f)
            return NULL;
        *k = (uint32_t)__builtin_ctzll(f);
    } while (!atomic_compare_exchange_weak(&b->free, &f, f & ~((uint64_t)1 << *k)));
    if (atomic_load(&b->retired)) { /* retired meanwhile: its memory may be going */
        put(b, *k);
        return NULL;
    }
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(b->n_lent, 1, memory_order_relaxed);
    return b->base + (size_t)*k * HX_BULK_SLOT_BYTES;
}

void kx__bulk_give(struct io_bulk *b, uint32_t k)
{
    atomic_fetch_sub_explicit(b->n_lent, 1, memory_order_relaxed);
    put(b, k);
    kx__bulk_unref(b);
}

void *kx__bulk_at(const struct io_irp *r)
{
    return r->bulk->base + (size_t)r->bulk_slot * HX_BULK_SLOT_BYTES;
}

int kx__bulk_lend(struct io_bulk *b, struct io_irp *r, const struct kx_io_req *q, int zero_out)
{
    size_t n = q->in_len > q->out_len ? q->in_len : q->out_len;
    if (!b || n <= IO_CACHE_BUF || n > HX_BULK_SLOT_BYTES)
        return 0;
    uint32_t k;
    unsigned char *slot = take(b, &k);
    if (!slot)
        return 0;
    r->bulk = b;
    r->bulk_slot = k;
    if (r->buf_kind == IO_BUF_LENT) { /* the output is copied to the lender's buffer at the end */
        r->buf_kind = IO_BUF_LENT | IO_BUF_SLOT;
        return 1;
    }
    if (q->in_len)
        memcpy(slot, q->in, q->in_len);
    if (zero_out && n > q->in_len) /* as kx__irp_set_buffer: no stale bytes for the driver */
        memset(slot + q->in_len, 0, n - q->in_len);
    r->buf = slot;
    r->buf_len = (uint32_t)n;
    r->buf_kind = IO_BUF_SLOT;
    return 1;
}
