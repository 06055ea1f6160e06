/* queue.h — a driver's dispatch queue: many producers (any thread that
 * submits, cancels or forwards), one consumer (the driver's dispatch thread).
 *
 * A ring of IO_RING slots holding record pointers. Producers claim positions
 * with a compare-and-swap on `tail` (a batch claims n at once) and fill their
 * slots; the consumer reads slots in order. The consumer never writes a line
 * producers write: a slot's value carries the lap it was written in (records
 * are 64-byte aligned, so the low bit is free), so nothing has to be cleared,
 * and the consumer publishes how far it has read (`head_pub`) only every
 * IO_RING_PUB slots or before it sleeps. A round trip therefore moves one
 * slot line each way instead of the several lines a linked list touches, and
 * the consumer reads ahead in order and can prefetch the records it will
 * dispatch next.
 *
 * When the ring is full (a slow driver and a flood of requests), producers
 * append to an overflow list under a mutex, and keep doing so while it is in
 * use, so a producer's requests stay in order. The consumer drains the ring,
 * then the overflow list.
 *
 * Sleeping: a consumer with nothing to do sets `sleeping`, then looks at
 * `tail` and the overflow list once more; a producer, after claiming, looks at
 * `sleeping`. All four accesses are sequentially consistent, so one side
 * always sees the other and no wake-up is lost.
 */
#ifndef KX_IO_QUEUE_H
#define KX_IO_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define IO_RING     4096u /* slots; a power of two */
#define IO_RING_PUB 64u   /* the consumer publishes its position this often */

struct io_irp;

struct io_queue {
    _Alignas(64) _Atomic uint64_t tail;     /* producers: next position to claim */
    _Alignas(64) uint64_t head;             /* consumer: next position to read */
    pthread_mutex_t ovf_lock;               /* guards ovf_first/ovf_last (a leaf lock) */
    struct io_irp *ovf_first, *ovf_last;    /* linked through io_irp.ovf_next */
    _Alignas(64) _Atomic uint64_t head_pub; /* consumer's position, as producers see it */
    _Alignas(64) _Atomic uint32_t sleeping; /* futex word: 1 while the consumer sleeps */
    _Atomic int consumer_cpu;               /* where the consumer last found the ring empty */
    _Atomic int ovf_on;                     /* producers must use the overflow list */
    _Atomic uint32_t ovf_count;             /* records on the overflow list */
    _Alignas(64) _Atomic uintptr_t slot[IO_RING];
};

enum { IO_Q_EMPTY = 0, IO_Q_NODE = 1, IO_Q_RETRY = 2 };

int kx__queue_init(struct io_queue *q);
void kx__queue_destroy(struct io_queue *q);

/* Producer (any thread): appends recs[0..n) in order. Returns 1 if the
 * consumer sleeps and must be woken. */
int kx__queue_push(struct io_queue *q, struct io_irp **recs, size_t n);

/* Consumer: the next record into *out (IO_Q_NODE); IO_Q_EMPTY when nothing is
 * ready (a producer may be filling a claimed slot: see kx__queue_idle);
 * IO_Q_RETRY when overflowed records wait behind ring slots being filled. */
int kx__queue_pop(struct io_queue *q, struct io_irp **out);

/* Consumer: the record k places after the next one, if already written
 * (for prefetching), else NULL. */
struct io_irp *kx__queue_peek(struct io_queue *q, unsigned k);

/* Consumer, before sleeping (after setting `sleeping`): publishes its position
 * and returns 1 if nothing is claimed, written or overflowed. */
int kx__queue_idle(struct io_queue *q);

#endif /* KX_IO_QUEUE_H */
