/* plat_proc.h — child processes and packet sockets for driver hosts (the
 * platform layer's part of the process line between kxd and kx-host).
 *
 * kxd starts each separate driver host with kx_plat_host_spawn: a fork and
 * exec in which the child keeps exactly three descriptors — the transport
 * socket as fd 3, stderr as a pipe kxd reads (sanitizer reports and the
 * host's own messages), stdin and stdout on /dev/null — so nothing of kxd
 * (client sockets, the listener, kext files) leaks into driver code. The
 * transport is a SOCK_SEQPACKET socketpair: message boundaries are kept, a
 * peer's death reads as end of file at once. The child runs in a process
 * group of its own (a terminal's Ctrl-C reaches kxd, which unloads its
 * drivers) with PR_SET_NO_NEW_PRIVS set.
 */
#ifndef KX_CORE_PLAT_PROC_H
#define KX_CORE_PLAT_PROC_H

#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The descriptor a host finds its transport on. */
#define KX_HOST_XPORT_FD 3

/* A connected SOCK_SEQPACKET pair, close-on-exec. */
kx_status kx_plat_packet_pair(int fds[2]);
/* Sends one packet made of iov[0..n) (blocking; EINTR retried; no SIGPIPE).
 * STATUS_CONNECTION_LOST when the peer is gone. */
kx_status kx_plat_packet_send(int fd, struct iovec *iov, int n);
/* Receives one packet into buf (blocking). *got = 0 means the peer closed
 * (STATUS_CONNECTION_LOST). A packet larger than cap is STATUS_DATA_ERROR. */
kx_status kx_plat_packet_recv(int fd, void *buf, size_t cap, size_t *got);
/* shutdown(2) both directions: a thread blocked receiving on fd returns. */
void kx_plat_packet_shutdown(int fd);

/* Starts path with argv[0] = argv0 and argv[1..] = args (NULL-terminated,
 * may be NULL), child fd 3 = xport_fd, pass_fds[i] as the child's fd
 * 4 + i (at most KX_HOST_PASS_MAX), stderr = the write end of a new pipe
 * whose read end (close-on-exec) goes to *err_fd. */
#define KX_HOST_PASS_MAX 64
kx_status kx_plat_host_spawn(const char *path, const char *argv0, const char *const *args,
                             int xport_fd, const int *pass_fds, size_t n_pass, pid_t *pid,
                             int *err_fd);

/* How a child ended, as kx reports it: "exited with status 3", "killed by
 * signal SIGSEGV (Segmentation fault)". Waits at most wait_ms for it to end,
 * then kills it (SIGKILL) and waits for that. */
void kx_plat_child_reap(pid_t pid, uint32_t wait_ms, char *how, size_t how_len, int *exit_code,
                        int *signo);
/* Sends SIGKILL to a child not yet reaped. */
void kx_plat_child_kill(pid_t pid);

/* One read of whatever is there (blocking); 0 at end of file. */
size_t kx_plat_read_some(int fd, void *buf, size_t cap);

/* This process's executable, in a malloc'ed string (NULL if unknown). */
char *kx_plat_self_exe(void);

/* Names the calling process (prctl PR_SET_NAME; what ps -o comm shows). */
void kx_plat_set_process_name(const char *name);

#endif /* KX_CORE_PLAT_PROC_H */
