/* queue.h — a driver's dispatch queue: many producers (any thread that
 * submits, cancels or forwards), one consumer (the driver's dispatch thread).
 *
 * Dmitry Vyukov's intrusive MPSC list: a push is one atomic exchange on the
 * tail and a store, however long the chain pushed, so a batch of IRPs costs
 * one queue operation; the consumer takes nodes without any atomic
 * read-modify-write. A push that has exchanged the tail but not yet linked
 * its predecessor makes the queue look momentarily broken; the consumer then
 * reports IO_Q_RETRY and spins.
 *
 * Sleeping: the consumer spins a little when the queue runs dry, then sets
 * `sleeping` and waits on it. A producer that sees `sleeping` after its push
 * wakes it; the exchange on the tail and the consumer's store to `sleeping`
 * are both sequentially consistent, so one of the two always sees the other.
 */
#ifndef KX_IO_QUEUE_H
#define KX_IO_QUEUE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct io_qlink {
    _Atomic(struct io_qlink *) next;
};

struct io_queue {
    _Alignas(64) _Atomic(struct io_qlink *) tail; /* producers */
    _Alignas(64) struct io_qlink *head;           /* consumer only */
    struct io_qlink stub;
    _Alignas(64) _Atomic uint32_t sleeping;       /* futex word: 1 while the consumer sleeps */
};

static inline void io_queue_init(struct io_queue *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->tail, &q->stub);
    q->head = &q->stub;
    atomic_init(&q->sleeping, 0);
}

/* Appends the chain first..last (already linked through next). Returns 1 if
 * the consumer was asleep and must be woken. */
static inline int io_queue_push(struct io_queue *q, struct io_qlink *first, struct io_qlink *last)
{
    atomic_store_explicit(&last->next, NULL, memory_order_relaxed);
    struct io_qlink *prev = atomic_exchange_explicit(&q->tail, last, memory_order_seq_cst);
    atomic_store_explicit(&prev->next, first, memory_order_release);
    return atomic_load_explicit(&q->sleeping, memory_order_seq_cst) != 0;
}

enum { IO_Q_EMPTY = 0, IO_Q_NODE = 1, IO_Q_RETRY = 2 };

/* Consumer: takes the oldest node into *out. */
static inline int io_queue_pop(struct io_queue *q, struct io_qlink **out)
{
    struct io_qlink *head = q->head;
    struct io_qlink *next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (head == &q->stub) {
        if (!next)
            return atomic_load_explicit(&q->tail, memory_order_acquire) == head ? IO_Q_EMPTY
                                                                               : IO_Q_RETRY;
        q->head = next;
        head = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        q->head = next;
        *out = head;
        return IO_Q_NODE;
    }
    if (atomic_load_explicit(&q->tail, memory_order_acquire) != head)
        return IO_Q_RETRY; /* a producer is between its exchange and its link */
    /* head is the last node: put the stub behind it so head can be handed out. */
    io_queue_push(q, &q->stub, &q->stub);
    next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (next) {
        q->head = next;
        *out = head;
        return IO_Q_NODE;
    }
    return IO_Q_RETRY;
}

/* Consumer: 1 when nothing has been pushed that was not popped. */
static inline int io_queue_is_empty(struct io_queue *q)
{
    return q->head == &q->stub &&
           atomic_load_explicit(&q->tail, memory_order_seq_cst) == &q->stub;
}

#endif /* KX_IO_QUEUE_H */
