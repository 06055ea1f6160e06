/* ring_proto.h — the records of a client's shared-memory ring to kxd.
 *
 * A client asks for a ring once per connection (KX_MSG_RING on the socket,
 * with nothing else in flight). kxd answers with an OK of exactly
 * KXR_SETUP_REPLY_LEN bytes (text ""), then, when its status is success,
 * sends the region and its eventfds (kx_ring_send_fds). From then on reads,
 * writes and ioctls may go through the ring (src/core/ring.h): kxd is side
 * 0, the client side 1. The socket stays for everything else, and its
 * closing ends the ring.
 *
 * Client -> kxd: one record per request, type KXR_READ/WRITE/IOCTL, id the
 * client's tag (echoed), payload a struct kxr_req then the input bytes
 * (WRITE's data, IOCTL's input). kxd -> client: one KXR_DONE record per
 * request, payload a struct kxr_done then `got` output bytes.
 *
 * KXR_OPEN opens a path (the input bytes, no NUL, at most KXR_PATH_MAX) with
 * the access bits in `code`, checked with the connection's credentials as
 * KX_MSG_OPEN is; its answer's `information` is the new handle, the same
 * number the socket's requests use. KXR_CLOSE closes `handle` (CLEANUP and
 * CLOSE reach the driver). Both have out_len 0.
 *
 * Read slots. Right after the ring's descriptors kxd sends a second sealed
 * memfd (one message: KXR_SLOTS_HELLO and the descriptor) of KXR_SLOTS slots
 * of KXR_SLOT_BYTES each, mapped by both sides. KXR_READ_SLOT is a READ whose
 * data the driver writes straight into slot `code` (the IRP's buffer is the
 * slot): its KXR_DONE carries no bytes, `got` says how many are in the slot.
 * The slot is then the client's until it sends KXR_SLOT_FREE naming it (no
 * answer; out_len 0, no input). kxd reuses a slot only when the client has
 * given it back and the IRP that filled it is gone (a timed-out IRP's driver
 * may still write into it); a READ_SLOT naming a slot such an IRP still holds
 * is answered KXR_SLOT_BUSY (a struct kxr_done, status STATUS_DEVICE_BUSY;
 * nothing ran), and the client reads the ordinary way instead. A slot number
 * out of range, a READ_SLOT naming a slot the client holds, or a SLOT_FREE
 * naming one it does not, costs the client its connection.
 *
 * Credit: a client keeps at most KXR_MAX_IN_FLIGHT requests unanswered, and
 * the completions they may need (kxr_done_bytes of each out_len) within
 * kxr_credit(region) bytes, so kxd always finds room for an answer without
 * waiting. kxd disconnects a client that breaks either rule, or sends a
 * record it cannot decode.
 */
#ifndef KX_PROTO_RING_PROTO_H
#define KX_PROTO_RING_PROTO_H

#include <stdint.h>

#define KXR_RING_BYTES      ((uint32_t)256 << 10) /* per direction */
#define KXR_BULK_BYTES      ((uint32_t)8 << 20)   /* per direction: 1 MiB transfers */
#define KXR_MAX_IN_FLIGHT   128u
#define KXR_SETUP_REPLY_LEN 36u /* header 20 + status 4 + value 8 + text 4 */

enum kxr_type {
    KXR_READ = 1,
    KXR_WRITE = 2,
    KXR_IOCTL = 3,
    KXR_DONE = 4,
    KXR_OPEN = 5,
    KXR_CLOSE = 6,
    KXR_READ_SLOT = 7, /* a READ into read slot `code` */
    KXR_SLOT_FREE = 8, /* the client gives read slot `code` back; not answered */
    KXR_SLOT_BUSY = 9, /* kxd -> client: READ_SLOT's slot is still an IRP's */
};

#define KXR_SLOTS       4u
#define KXR_SLOT_BYTES  ((uint32_t)1 << 20)
#define KXR_SLOTS_HELLO "kx-slots 1" /* the payload of the slots' SCM_RIGHTS message */

#define KXR_PATH_MAX 4096u /* an OPEN's path bytes, as KX_MSG_OPEN's */

struct kxr_req {
    uint32_t handle;
    uint32_t code; /* IOCTL: the control code; OPEN: the access bits */
    uint64_t offset;
    uint32_t out_len; /* READ, IOCTL: the most bytes to answer with */
    uint32_t timeout_ms;
};

struct kxr_done {
    int32_t status;
    uint32_t got; /* output bytes following */
    uint64_t information;
};

/* Room a completion of out_len bytes may take (a READ_SLOT's: of 0): its header, payload and
 * alignment, in the ring or the bulk area. Both counts are kept below a
 * quarter of their area (room for the padding at a wrap). */
static inline uint64_t kxr_done_bytes(uint32_t out_len)
{
    return 64u + sizeof(struct kxr_done) + (uint64_t)out_len;
}
#define KXR_CREDIT_BYTES ((uint64_t)KXR_BULK_BYTES / 4)

#endif /* KX_PROTO_RING_PROTO_H */
