/* client_ring.h — libkxclient's shared-memory ring to kxd (proto/ring_proto.h),
 * used by client.c for reads, writes, ioctls and batches when kxd offers one. */
#ifndef KX_CLIENT_RING_H
#define KX_CLIENT_RING_H

#include <kx/client.h>

struct kx_client_ring;

/* Asks kxd for a ring over the connected socket sock (nothing else may be
 * in flight on it, nor buffered unread) and maps it. STATUS_SUCCESS with
 * *out set; kxd's refusal (the socket stays usable); or a socket error
 * (STATUS_CONNECTION_LOST: the connection is unusable). */
kx_status kx_client_ring_open(int sock, uint32_t req_id, struct kx_client_ring **out);
void kx_client_ring_close(struct kx_client_ring *cr); /* NULL is ignored */

/* Sends ios (checked by the caller: known ops, lengths within
 * KX_CLIENT_IO_MAX) and waits for every answer. STATUS_SUCCESS, or
 * STATUS_CONNECTION_LOST (the unanswered keep STATUS_CONNECTION_LOST) when
 * kxd went away or broke the ring; the ring is unusable after that. */
kx_status kx_client_ring_submit(struct kx_client_ring *cr, struct kx_client_io *ios, size_t n);

/* Reads io (a READ of at most KXR_SLOT_BYTES) into a free read slot and
 * keeps the slot lent: on success *data points at io->got bytes there
 * (until kx_client_ring_give_back). *answered is 0 when io was not read
 * (no free slot, or kxd found it still busy): read it another way. Returns
 * as kx_client_ring_submit. */
kx_status kx_client_ring_read_lent(struct kx_client_ring *cr, struct kx_client_io *io,
                                   const void **data, int *answered);
/* Gives back a slot kx_client_ring_read_lent lent; 0 when data is not in
 * a read slot (then it is not the ring's). */
int kx_client_ring_give_back(struct kx_client_ring *cr, const void *data);

/* Opens path (access: KX_ACCESS_*; at most KXR_PATH_MAX bytes) or closes
 * handle through the ring: the same checks and handle numbers as over the
 * socket. Return as
 * kx_client_ring_submit; the answer's status in *status. */
kx_status kx_client_ring_open_file(struct kx_client_ring *cr, const char *path, uint32_t access,
                                   kx_status *status, uint32_t *handle);
kx_status kx_client_ring_close_file(struct kx_client_ring *cr, uint32_t handle, kx_status *status);

#endif /* KX_CLIENT_RING_H */
