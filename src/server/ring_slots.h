/* ring_slots.h — a client ring's read slots (proto/ring_proto.h): a sealed
 * memfd of KXR_SLOTS slots that drivers read straight into, and who may
 * touch each slot.
 *
 * A slot is free only when both its holders have let go: the client (from
 * the READ_SLOT that names it until its SLOT_FREE) and the IRP reading into
 * it (until the I/O manager releases the IRP's record, which may come after
 * the answer: a timed-out IRP's driver may still be writing). The ring
 * thread takes and gives back slots as records arrive; completions and
 * releases come from any thread. One mutex (a leaf) guards the states.
 */
#ifndef KX_SERVER_RING_SLOTS_H
#define KX_SERVER_RING_SLOTS_H

#include <kx/status.h>
#include <stdint.h>

struct kx_srv_slots;

/* Makes and maps the region (memfd "kx-slots:<name>"). Freed with
 * kx_srv_slots_free (NULL is ignored), once no IRP holds a slot. */
kx_status kx_srv_slots_new(const char *name, struct kx_srv_slots **out);
void kx_srv_slots_free(struct kx_srv_slots *s);

/* Sends the region over sock in one message (KXR_SLOTS_HELLO and the fd). */
kx_status kx_srv_slots_send(const struct kx_srv_slots *s, int sock);

/* READ_SLOT k: NULL with *buf the slot when it was free (now the client's
 * and an IRP's); NULL with *buf NULL when only an earlier IRP still holds it
 * (answer KXR_SLOT_BUSY); otherwise why the client is hostile. */
const char *kx_srv_slots_take(struct kx_srv_slots *s, uint32_t k, void **buf);
/* The READ_SLOT's answer goes out: from now on the client may give it back. */
void kx_srv_slots_answered(struct kx_srv_slots *s, uint32_t k);
/* The IRP reading into slot k is gone. */
void kx_srv_slots_irp_gone(struct kx_srv_slots *s, uint32_t k);
/* SLOT_FREE k: NULL, or why the client is hostile. */
const char *kx_srv_slots_give_back(struct kx_srv_slots *s, uint32_t k);

#endif /* KX_SERVER_RING_SLOTS_H */
