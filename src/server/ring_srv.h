/* ring_srv.h — serving clients' shared-memory rings (proto/ring_proto.h).
 *
 * A few ring threads (kx-ring-N) each poll the rings given to them and turn
 * their records into kx_io_submit batches; the thread that completes a
 * request (the driver's, usually) writes its completion into the ring.
 * Request contexts and read buffers come from pools, so a request in the
 * steady state allocates nothing and costs no system call unless a side
 * sleeps. A ring that breaks a rule (a record it can't decode, past its
 * credit, a ring that won't take an answer) is logged with the client's pid
 * and uid, taken off its thread at once, and its connection dropped.
 */
#ifndef KX_SERVER_RING_SRV_H
#define KX_SERVER_RING_SRV_H

#include "core/plat_sock.h"

#include <kx/io.h>
#include <kx/log.h>
#include <kx/status.h>
#include <stdint.h>

struct kx_srv;
struct kx_srv_files;
struct kx_srv_rings;
struct kx_srv_ring;
struct kx_srv_ring_opts;

kx_status kx_srv_rings_new(struct kx_srv *srv, struct kx_io *io, const struct kx_logger *log,
                           const struct kx_srv_ring_opts *opts, unsigned n_threads,
                           struct kx_srv_rings **out);
/* Stops the threads; rings still open are ended first. NULL is ignored. */
void kx_srv_rings_free(struct kx_srv_rings *rs);

/* kx-srv: a ring for connection conn_id, serving files (a reference is
 * taken). kx_srv_ring_send hands its descriptors to the client over sock
 * (the ring's, then its read slots'); kx_srv_ring_start then gives it to a
 * thread. */
kx_status kx_srv_ring_new(struct kx_srv_rings *rs, uint64_t conn_id,
                          const struct kx_plat_cred *cred, struct kx_srv_files *files,
                          struct kx_srv_ring **out);
kx_status kx_srv_ring_send(struct kx_srv_ring *r, int sock);
void kx_srv_ring_start(struct kx_srv_ring *r);
/* kx-srv, when the connection goes: no request is taken from the ring after
 * this; completions of those in flight are dropped. NULL is ignored. */
void kx_srv_ring_end(struct kx_srv_ring *r);

/* Requests r has in flight (0 for NULL). Any thread. */
uint32_t kx_srv_ring_in_flight(const struct kx_srv_ring *r);
/* At shutdown: every request in flight is answered STATUS_SYSTEM_SHUTDOWN
 * now, and nothing after. NULL is ignored. */
void kx_srv_ring_shutdown(struct kx_srv_ring *r);

/* kx-srv (conn.c): drops the connection a ring thread found hostile. */
void kx_srv_disconnect(struct kx_srv *srv, uint64_t conn_id);

#endif /* KX_SERVER_RING_SRV_H */
