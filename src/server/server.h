/* server.h — kxd's server: the socket, the event loop, the request table. */
#ifndef KX_SERVER_H
#define KX_SERVER_H

#include <kx/log.h>
#include <kx/status.h>
#include <signal.h>
#include <sys/types.h>

struct kx_kernel;
struct kx_srv;

struct kx_srv_config {
    const char *socket_path;
    mode_t socket_mode;         /* 0666: device modes, not the socket, decide access */
    struct kx_kernel *kernel;   /* borrowed; outlives the server */
    const struct kx_logger *logger;
    unsigned n_workers;         /* threads for blocking requests; 0: 4 */
};

/* Creates the socket (replacing a stale one, refusing a live one) and starts
 * the worker threads. STATUS_DEVICE_BUSY when another kxd serves the path. */
kx_status kx_srv_new(const struct kx_srv_config *cfg, struct kx_srv **out);

/* Serves until *stop becomes non-zero (a signal handler sets it). */
kx_status kx_srv_run(struct kx_srv *srv, volatile sig_atomic_t *stop);

/* Closes every connection (their open files are closed, drivers get
 * CLEANUP/CLOSE), joins the workers, removes the socket. */
void kx_srv_free(struct kx_srv *srv);

#endif /* KX_SERVER_H */
