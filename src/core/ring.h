/* ring.h — shared-memory rings between two processes: the transport for
 * driver hosts (kxd <-> kx-host) and for clients' fast path (client <-> kxd).
 *
 * One region (a memfd with its size sealed) holds two single-producer,
 * single-consumer rings of variable-length records, one per direction, and a
 * bulk data area per direction for large payloads. Side 0 creates the region
 * (kx_ring_create), side 1 attaches to it (kx_ring_attach, or receives it over
 * an AF_UNIX socket: kx_ring_send_fds / kx_ring_attach_socket). Each side
 * produces into dir[side] and consumes dir[1 - side].
 *
 * A producer reserves records (kx_ring_reserve: a header and room for the
 * payload, written in place) and publishes any number of them at once
 * (kx_ring_commit): one index store, and one wake-up only if the consumer
 * sleeps. A consumer receives whatever is published (kx_ring_recv: views
 * into shared memory, no copy) and hands the space back (kx_ring_release).
 * Nothing is allocated per record.
 *
 * Waiting: spin a while (adaptive; never on one CPU), then announce sleep in
 * a shared word and sleep on a futex on it — or, once the ring watches the
 * peer (kx_ring_watch_*), in poll(2) on an eventfd and the peer's pidfd or
 * socket, so that a peer's death wakes the waiter. The word says which, and
 * the other side wakes the sleeper by the matching means only when the word
 * is set. docs/ring.md has the layout, the protocol and why no wake-up is lost.
 *
 * The peer is not trusted: every index and length read from shared memory is
 * checked before use. A bad one makes the ring broken for good:
 * STATUS_RING_CORRUPT from then on, and kx_ring_error() names the ring and
 * what was wrong. A peer that closed or died gives STATUS_RING_PEER_GONE
 * (after the records it had published). Payload bytes stay in shared memory,
 * where a hostile peer may change them while they are read: copy before
 * checking what they say.
 *
 * A ring is used by one producing thread and one consuming thread per side
 * (they may be the same thread); it is not otherwise locked.
 */
#ifndef KX_CORE_RING_H
#define KX_CORE_RING_H

#include <kx/status.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- the shared layout (version 1) ------------------------------------- */

#define KX_RING_MAGIC     0x676e526bu /* "kRng" */
#define KX_RING_VERSION   1u
#define KX_RING_HDR_BYTES 4096u /* the control page; rings and bulk areas follow */

/* Every record starts with this header, 8-byte aligned; the payload follows,
 * padded to 8 bytes. A record never wraps: a producer that reaches the end
 * fills it with a KX_RING_TYPE_PAD record and starts again at offset 0. */
struct kx_ring_rec_hdr {
    uint32_t type; /* the user's record type, below KX_RING_TYPE_BULK */
    uint32_t len;  /* payload bytes (for a bulk record, the bulk span's) */
    uint64_t id;
};

#define KX_RING_TYPE_BULK 0x80000000u /* flag: the inline payload is a kx_ring_bulk_ref */
#define KX_RING_TYPE_PAD  0xffffffffu /* filler up to the end of the ring */

/* Where a bulk record's payload is: pos counts bytes ever allocated in the
 * direction's bulk area (so pos % bulk_bytes is the offset); spans never wrap. */
struct kx_ring_bulk_ref {
    uint64_t pos;
    uint32_t len;
    uint32_t zero;
};

/* Sleep words: what a sleeper waits on, so the other side knows how to wake it. */
#define KX_RING_AWAKE       0u
#define KX_RING_SLEEP_FUTEX 1u /* futex on the word */
#define KX_RING_SLEEP_EVENT 2u /* poll on the sleeper's eventfd (and its watch) */

/* One direction. The producer's line holds what it writes (tail) and what it
 * reads on every commit (cons_sleep); the consumer's line likewise holds head
 * and prod_sleep. Each side writes the other's line only to announce sleep. */
struct kx_ring_dir {
    _Alignas(64) _Atomic uint64_t tail; /* producer: end of published records */
    _Atomic uint32_t cons_sleep;        /* consumer, waiting for records */
    _Atomic int32_t cpu;                /* producer: the CPU it last waited on (a hint) */
    _Alignas(64) _Atomic uint64_t head; /* consumer: end of released records */
    _Atomic uint64_t bulk_head;         /* consumer: end of released bulk bytes */
    _Atomic uint32_t prod_sleep;        /* producer, waiting for room */
};

struct kx_ring_shm {
    uint32_t magic, version;
    uint64_t size;                          /* the whole region */
    uint32_t ring_bytes;                    /* per direction, a power of two */
    uint32_t bulk_bytes;                    /* per direction, 0 or a power of two */
    _Atomic uint32_t closed[2];             /* side s closed its end */
    _Alignas(64) struct kx_ring_dir dir[2]; /* dir[s]: records side s produces */
};
_Static_assert(sizeof(struct kx_ring_shm) <= KX_RING_HDR_BYTES,
               "the control page holds the header");

/* ---- the API ------------------------------------------------------------ */

struct kx_ring;

/* What the creator chooses; zeros mean the defaults. */
struct kx_ring_config {
    uint32_t ring_bytes; /* per direction: a power of two, 4 KiB..64 MiB (64 KiB) */
    uint32_t bulk_bytes; /* per direction: 0 (none; the default) or a power of two, 4 KiB..1 GiB */
};

/* A received record: data points at len bytes in shared memory (the inline
 * payload or the bulk span), valid until the next kx_ring_release. */
struct kx_ring_rec {
    uint32_t type;
    uint32_t len;
    uint64_t id;
    const void *data;
};

/* Deadlines are absolute, on the monotonic clock (kx_plat_monotonic_ns). */
#define KX_RING_NOWAIT  0u         /* try once */
#define KX_RING_FOREVER UINT64_MAX /* until it happens or the peer goes */

/* Payloads longer than this go to the bulk area when the ring has one. */
#define KX_RING_INLINE_MAX 1024u

/* Side 0: makes the region (memfd "kx-ring:<name>") and two eventfds, and
 * maps it. name (at most 47 bytes kept) appears in every error message.
 * STATUS_INVALID_PARAMETER for sizes out of range. The caller frees *out with
 * kx_ring_close. */
kx_status kx_ring_create(const char *name, const struct kx_ring_config *cfg, struct kx_ring **out);

/* Side 1: checks and maps a region another process made (memfd sealed against
 * resizing, header consistent with its size) and takes the eventfds each side
 * sleeps on. On success the ring owns the three descriptors; on failure the
 * caller still does. STATUS_RING_CORRUPT (with *why, if why is non-NULL, set
 * to a malloc'ed message naming the ring; free it) for a region that is not a
 * ring, STATUS_ACCESS_DENIED for one whose size could change. */
kx_status kx_ring_attach(const char *name, int memfd, int efd0, int efd1, struct kx_ring **out,
                         char **why);

/* Sends the region and both eventfds over the connected AF_UNIX socket sock,
 * in one message; kx_ring_attach_socket receives it and attaches. */
kx_status kx_ring_send_fds(const struct kx_ring *r, int sock);
kx_status kx_ring_attach_socket(const char *name, int sock, struct kx_ring **out, char **why);

/* Watches the peer: from now on a sleeping side polls its eventfd together
 * with the peer's pidfd (kx_ring_watch_pid, opened and owned by the ring) or
 * a socket connected to the peer (kx_ring_watch_socket, borrowed: keep it open
 * while the ring lives; only its hang-up counts, not data on it), and the
 * peer's death ends every wait with STATUS_RING_PEER_GONE. */
kx_status kx_ring_watch_pid(struct kx_ring *r, pid_t pid);
void kx_ring_watch_socket(struct kx_ring *r, int sock);

/* Tells the ring the peer is gone (learned elsewhere: a supervisor's pidfd, a
 * SIGCHLD): this side's waits end with STATUS_RING_PEER_GONE. Any thread. */
void kx_ring_peer_lost(struct kx_ring *r);

/* The longest spin before sleeping, in nanoseconds (default 20 µs; 0: never
 * spin). Ignored (no spin) on a single CPU. */
void kx_ring_set_spin(struct kx_ring *r, uint32_t max_ns);

/* Producer. Appends a record of len payload bytes and points *payload at
 * them (inline, or in the bulk area when len > KX_RING_INLINE_MAX and the
 * ring has one); the record is published by the next kx_ring_commit. When
 * there is no room it commits what is reserved and waits until deadline:
 * STATUS_TIMEOUT (KX_RING_NOWAIT: at once). STATUS_BUFFER_TOO_SMALL for a
 * record that can never fit (inline: more than half the ring; bulk: more than
 * half the bulk area); STATUS_INVALID_PARAMETER for type >= KX_RING_TYPE_BULK. */
kx_status kx_ring_reserve(struct kx_ring *r, uint32_t type, uint64_t id, size_t len,
                          uint64_t deadline, void **payload);
/* kx_ring_reserve and a copy of data. */
kx_status kx_ring_send(struct kx_ring *r, uint32_t type, uint64_t id, const void *data, size_t len,
                       uint64_t deadline);
/* Publishes every reserved record and wakes the consumer if it sleeps. */
kx_status kx_ring_commit(struct kx_ring *r);

/* Consumer. Up to max published records into recs[0..*n), waiting until at
 * least one is there or deadline (STATUS_TIMEOUT; KX_RING_NOWAIT: at once).
 * Records stay readable, and their space taken, until kx_ring_release. When
 * the peer is gone and nothing is left: STATUS_RING_PEER_GONE. */
kx_status kx_ring_recv(struct kx_ring *r, struct kx_ring_rec *recs, size_t max, size_t *n,
                       uint64_t deadline);
/* Hands back the space of every record received so far and wakes the
 * producer if it waits for room. */
void kx_ring_release(struct kx_ring *r);

/* For an event loop that serves many rings from one thread (kxd): instead of
 * sleeping in kx_ring_recv, the loop arms the ring and polls its wake
 * descriptor with everything else. kx_ring_arm announces an EVENT sleep and
 * returns 1 when there is no need to sleep (records are there, the peer is
 * gone or the ring is broken: call kx_ring_recv with KX_RING_NOWAIT), 0 when
 * the peer's next commit or close will make kx_ring_wake_fd readable. Arm
 * again before each poll; the descriptor is the ring's, don't close it. */
int kx_ring_arm(struct kx_ring *r);
int kx_ring_wake_fd(const struct kx_ring *r);
/* kx_ring_arm without draining the wake descriptor first, for a sleeper
 * that drains it itself whenever poll finds it readable (so a re-arm by
 * another thread costs no system call). */
int kx_ring_arm_keep(struct kx_ring *r);
/* Withdraws an armed EVENT sleep: the peer's commits stop signalling the
 * wake descriptor (one already on its way may still arrive). For consumers
 * that take turns: the one polling says nobody needs waking. */
void kx_ring_disarm(struct kx_ring *r);
/* Whether the ring is still armed: not disarmed since, and no commit has
 * taken the arming (and signalled) since. */
int kx_ring_armed(const struct kx_ring *r);

/* Bytes the producer could reserve now without waiting (the consumer's
 * head is re-read). A record of k bytes (its header and payload, rounded
 * up to 16) surely fits in 2k of them: the end of the ring may be skipped.
 * 0 when the ring is broken. Producer thread. */
size_t kx_ring_tx_room(struct kx_ring *r);

/* Why the ring is broken ("ring 'host 3': ..."), or "" while it is not. */
const char *kx_ring_error(const struct kx_ring *r);

/* The region's shared header (tests and benchmarks look inside). */
struct kx_ring_shm *kx_ring_shared(const struct kx_ring *r);

/* Marks this side closed, wakes the peer, unmaps and frees. NULL is ignored. */
void kx_ring_close(struct kx_ring *r);

#endif /* KX_CORE_RING_H */
