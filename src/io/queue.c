/* queue.c — the dispatch queue's ring and overflow list (see queue.h). */
#include "io_int.h"

#include <string.h>

#define RING_MASK (IO_RING - 1)

/* The slot value for a record at position pos: its pointer with the lap's
 * parity in the low bit (records are 64-byte aligned). */
static inline uintptr_t slot_value(struct io_irp *r, uint64_t pos)
{
    return (uintptr_t)r | (uintptr_t)((pos / IO_RING) & 1);
}

static inline struct io_irp *slot_record(uintptr_t v, uint64_t pos)
{
    if ((v & 1) != ((pos / IO_RING) & 1))
        return NULL; /* last lap's value: not written yet */
    uintptr_t u = v & ~(uintptr_t)1;
    void *p; /* a pointer again, without an integer-to-pointer cast */
    memcpy(&p, &u, sizeof p);
    return p;
}

int kx__queue_init(struct io_queue *q)
{
    memset(q, 0, sizeof *q);
    atomic_init(&q->tail, 0);
    atomic_init(&q->head_pub, 0);
    atomic_init(&q->sleeping, 0);
    atomic_init(&q->consumer_cpu, -1);
    atomic_init(&q->ovf_on, 0);
    atomic_init(&q->ovf_count, 0);
    for (uint32_t i = 0; i < IO_RING; i++)
        atomic_init(&q->slot[i], 0);
    return pthread_mutex_init(&q->ovf_lock, NULL);
}

void kx__queue_destroy(struct io_queue *q) { pthread_mutex_destroy(&q->ovf_lock); }

int kx__queue_push(struct io_queue *q, struct io_irp **recs, size_t n)
{
    if (!atomic_load_explicit(&q->ovf_on, memory_order_acquire)) {
        uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
        for (;;) {
            uint64_t h = atomic_load_explicit(&q->head_pub, memory_order_acquire);
            if (t + n - h > IO_RING)
                break; /* full, as far as we can tell: overflow */
            if (atomic_compare_exchange_weak_explicit(&q->tail, &t, t + n, memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                /* Last to first: the consumer polls the first slot, so it
                 * finds the batch complete and the lines it then reads are
                 * not being written under it. */
                for (size_t i = n; i-- > 0;)
                    atomic_store_explicit(&q->slot[(t + i) & RING_MASK],
                                          slot_value(recs[i], t + i), memory_order_release);
                return atomic_load_explicit(&q->sleeping, memory_order_seq_cst) != 0;
            }
        }
    }
    pthread_mutex_lock(&q->ovf_lock);
    for (size_t i = 0; i < n; i++) {
        recs[i]->ovf_next = NULL;
        if (q->ovf_last)
            q->ovf_last->ovf_next = recs[i];
        else
            q->ovf_first = recs[i];
        q->ovf_last = recs[i];
    }
    atomic_store_explicit(&q->ovf_on, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&q->ovf_count, (uint32_t)n, memory_order_seq_cst);
    pthread_mutex_unlock(&q->ovf_lock);
    return atomic_load_explicit(&q->sleeping, memory_order_seq_cst) != 0;
}

int kx__queue_pop(struct io_queue *q, struct io_irp **out)
{
    uint64_t pos = q->head;
    struct io_irp *r =
        slot_record(atomic_load_explicit(&q->slot[pos & RING_MASK], memory_order_acquire), pos);
    if (r) {
        q->head = pos + 1;
        if (!((pos + 1) & (IO_RING_PUB - 1)))
            atomic_store_explicit(&q->head_pub, pos + 1, memory_order_release);
        *out = r;
        return IO_Q_NODE;
    }
    if (!atomic_load_explicit(&q->ovf_count, memory_order_acquire))
        return IO_Q_EMPTY;
    /* Overflowed records come after every ring slot claimed before them. */
    if (atomic_load_explicit(&q->tail, memory_order_acquire) != pos)
        return IO_Q_RETRY;
    pthread_mutex_lock(&q->ovf_lock);
    r = q->ovf_first;
    if (r) {
        q->ovf_first = r->ovf_next;
        if (!q->ovf_first) {
            q->ovf_last = NULL;
            atomic_store_explicit(&q->ovf_on, 0, memory_order_relaxed);
        }
        atomic_fetch_sub_explicit(&q->ovf_count, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&q->ovf_lock);
    if (!r)
        return IO_Q_RETRY;
    /* Producers that saw the overflow in use may resume the ring: let them
     * see how far it has drained. */
    atomic_store_explicit(&q->head_pub, pos, memory_order_release);
    *out = r;
    return IO_Q_NODE;
}

struct io_irp *kx__queue_peek(struct io_queue *q, unsigned k)
{
    uint64_t pos = q->head + k;
    return slot_record(atomic_load_explicit(&q->slot[pos & RING_MASK], memory_order_relaxed), pos);
}

int kx__queue_idle(struct io_queue *q)
{
    atomic_store_explicit(&q->head_pub, q->head, memory_order_seq_cst);
    return atomic_load_explicit(&q->tail, memory_order_seq_cst) == q->head &&
           atomic_load_explicit(&q->ovf_count, memory_order_seq_cst) == 0;
}
