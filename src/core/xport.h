/* xport.h — the driver-host transport: batches of records between kxd's I/O
 * manager and a kx-host process, in both directions.
 *
 * A record is a fixed 40-byte header and `len` bytes of payload. Senders hand
 * over a batch (one wake-up of the peer, one syscall for the socket
 * transport); receivers get a batch back and walk it in order, reading the
 * payload in place: nothing is allocated per record on either side. Order
 * is kept per direction, which the protocol relies on (an IRP's completion
 * always follows the calls its routine made before completing it).
 *
 * The interface is an ops table with two carriers: a SOCK_SEQPACKET
 * socketpair (xport_sock.c), where a peer's death reads as end of file at
 * once, and shared-memory rings (xport_ring.c, ring.h) with wake-ups only
 * when a side sleeps, which keep a socket to the peer only to see it die.
 */
#ifndef KX_CORE_XPORT_H
#define KX_CORE_XPORT_H

#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>

struct kx_xrec {
    uint16_t type; /* the protocol's record type (src/io/host_proto.h) */
    uint16_t flags;
    uint32_t len;     /* payload bytes after the header */
    uint64_t id;      /* the IRP or control record, or a call's sequence number */
    uint64_t a, b, c; /* type-specific */
};
_Static_assert(sizeof(struct kx_xrec) == 40, "the record header is 40 bytes");

/* One record to send: its header (len is set from payload_len) and payload. */
struct kx_xout {
    struct kx_xrec hdr;
    const void *payload;
    size_t payload_len;
    const void *payload2; /* a second piece appended to the first (may be NULL) */
    size_t payload2_len;
};

/* A received batch: records back to back, each header followed by its
 * payload, padded to 8 bytes. Walk it with kx_xport_next. */
struct kx_xbatch {
    unsigned char *buf;
    size_t len, cap;
    size_t off;         /* kx_xport_next's position */
    unsigned char *big; /* a record too large for one packet, reassembled */
};

struct kx_xport;

struct kx_xport_ops {
    /* Sends recs[0..n) in order. Any thread; concurrent senders are
     * serialised. STATUS_CONNECTION_LOST once the peer is gone. */
    kx_status (*send)(struct kx_xport *x, const struct kx_xout *recs, size_t n);
    /* Sleeps until at least one record arrives, then returns the batch. One
     * receiving thread. STATUS_CONNECTION_LOST: the peer hung up (or wake
     * ended the transport). */
    kx_status (*recv)(struct kx_xport *x, struct kx_xbatch *b);
    /* Ends the transport: a sleeping recv returns STATUS_CONNECTION_LOST. */
    void (*wake)(struct kx_xport *x);
    void (*free)(struct kx_xport *x);
    /* Why the transport failed for good ("" if it did not, or the carrier
     * can't tell): after STATUS_RING_CORRUPT, what the peer broke. */
    const char *(*error)(struct kx_xport *x);
    /* Consumers taking turns (the ring transport; NULL on the socket). A
     * thread that waits for an answer may receive in place of the receiving
     * thread while it waits: poll_begin says one more such thread polls (the
     * receiving thread then sleeps without asking the peer for wake-ups),
     * poll takes whatever has arrived (STATUS_TIMEOUT: nothing, or another
     * consumer has its turn; any other failure: leave it to recv), and the
     * records are its to handle, in order, until poll_done; poll_end hands
     * the receiving back. recv likewise keeps its turn while its caller
     * handles the batch, until its next recv: one consumer at a time, so
     * records are handled in the order they were sent. */
    void (*poll_begin)(struct kx_xport *x);
    kx_status (*poll)(struct kx_xport *x, struct kx_xbatch *b);
    void (*poll_done)(struct kx_xport *x);
    void (*poll_end)(struct kx_xport *x);
    /* Makes a sleeping recv return STATUS_TIMEOUT once (its caller has
     * something else to look at). */
    void (*kick)(struct kx_xport *x);
    /* How many records of at most KX_XPORT_ROOM_RECORD bytes (header and
     * payload) send would take now without waiting. Senders may race for
     * the room: a sender that must not wait leaves some over. */
    size_t (*room)(struct kx_xport *x);
    /* A thread that has just sent takes whatever answers have already
     * arrived, if no other consumer has the turn (STATUS_TIMEOUT: nothing,
     * or another has it): as poll, but without poll_begin/poll_end, and
     * ended by poll_done. While collects take records, the receiving
     * thread sleeps without asking the peer for wake-ups and looks for
     * itself every 5-100 us (longer while it finds nothing), so an answer
     * no collect takes waits at most that long; once a look finds that no
     * collect took anything, the peer wakes it again. NULL on the socket. */
    kx_status (*collect)(struct kx_xport *x, struct kx_xbatch *b);
};

/* The largest record room() counts: one that travels inline in a ring. */
#define KX_XPORT_ROOM_RECORD 1024u

struct kx_xport {
    const struct kx_xport_ops *ops;
};

/* The largest record payload (an IRP's buffer plus its message). */
#define KX_XPORT_MAX_RECORD ((size_t)65 << 20)

/* The socket transport over a connected SOCK_SEQPACKET descriptor, which it
 * owns from now on (closed by free, also on failure). */
kx_status kx_xport_sock_new(int fd, struct kx_xport **out);

struct kx_ring;
/* The ring transport over r (kxd's side 0 or the host's side 1), watching
 * the connected socket sock for the peer's death. It owns both from now on
 * (closed by free, also on failure). A record that can't be one ring record
 * travels in pieces. recv says STATUS_RING_CORRUPT (error says why) when the
 * peer broke the shared memory, STATUS_CONNECTION_LOST when it went. */
kx_status kx_xport_ring_new(struct kx_ring *r, int sock, struct kx_xport **out);

/* The next record of b: its header and payload; 0 when b is used up. */
int kx_xport_next(struct kx_xbatch *b, const struct kx_xrec **hdr, const unsigned char **payload);
void kx_xbatch_free(struct kx_xbatch *b);

static inline kx_status kx_xport_send(struct kx_xport *x, const struct kx_xout *recs, size_t n)
{
    return x->ops->send(x, recs, n);
}
static inline const char *kx_xport_error(struct kx_xport *x)
{
    return x->ops->error ? x->ops->error(x) : "";
}
static inline kx_status kx_xport_recv(struct kx_xport *x, struct kx_xbatch *b)
{
    return x->ops->recv(x, b);
}

#endif /* KX_CORE_XPORT_H */
