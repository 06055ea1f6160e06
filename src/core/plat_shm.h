/* plat_shm.h — memory shared between processes, and the descriptors that go
 * with it: sealed memfd regions, futexes on shared words, waiting on several
 * descriptors with a deadline, pidfds, and passing descriptors over AF_UNIX
 * sockets (SCM_RIGHTS). The platform layer for src/core/ring.c; errno is read
 * here and nowhere above.
 *
 * A region is a memfd whose size is sealed (F_SEAL_GROW | F_SEAL_SHRINK |
 * F_SEAL_SEAL) before anyone else sees it: a peer that could shrink the file
 * would turn our next access into SIGBUS, so whoever maps a region it did not
 * create checks the seals first (kx_plat_shm_check).
 */
#ifndef KX_CORE_PLAT_SHM_H
#define KX_CORE_PLAT_SHM_H

#include <kx/status.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A new zero-filled memfd of size bytes called name, close-on-exec, its size
 * sealed. *fd is -1 on failure; close it with kx_plat_close (plat.h). */
kx_status kx_plat_shm_create(const char *name, size_t size, int *fd);

/* The size of a region someone else made; STATUS_ACCESS_DENIED unless it is
 * a memfd whose size can no longer change. */
kx_status kx_plat_shm_check(int fd, size_t *size);

/* mmap(2) of the whole region, shared, read-write; kx_plat_shm_unmap undoes it. */
kx_status kx_plat_shm_map(int fd, size_t size, void **addr);
void kx_plat_shm_unmap(void *addr, size_t size);

/* Futex wait and wake on a word in shared memory (no FUTEX_PRIVATE_FLAG: the
 * kernel keys the word by file and offset, so both processes meet on it
 * whatever address each mapped it at). Same contract as kx_plat_futex_wait
 * (plat_sync.h): STATUS_SUCCESS when woken, when the word differed or on a
 * signal; STATUS_TIMEOUT at deadline_ns (monotonic; 0 = none). */
kx_status kx_plat_futex_wait_shared(_Atomic uint32_t *word, uint32_t expected,
                                    uint64_t deadline_ns);
void kx_plat_futex_wake_shared(_Atomic uint32_t *word, int n);

/* Waits until fds[i] reports one of events[i] (KX_POLL_IN, KX_POLL_HUP from
 * plat_poll.h; HUP means hang-up, error or the peer's shutdown of a socket)
 * or until deadline_ns (monotonic; 0 = none). revents[i] gets what was seen.
 * STATUS_TIMEOUT at the deadline; STATUS_SUCCESS also on a signal (all
 * revents 0). */
kx_status kx_plat_wait_fds(const int *fds, const uint32_t *events, uint32_t *revents, int n,
                           uint64_t deadline_ns);

/* A pidfd for process pid (close-on-exec): readable once the process exits.
 * STATUS_NOT_SUPPORTED on kernels without pidfd_open (before 5.3). */
kx_status kx_plat_pidfd_open(pid_t pid, int *fd);

/* Sends len bytes (1..256) and the n descriptors fds[0..n) (n <= 8) as one
 * message over the AF_UNIX socket sock. */
kx_status kx_plat_sock_send_fds(int sock, const void *data, size_t len, const int *fds, int n);

/* Receives one message of at most cap bytes and at most max descriptors
 * (close-on-exec). *got bytes and *n descriptors arrived; the caller owns
 * the descriptors. A message carrying more descriptors than max, or cut short,
 * gives STATUS_PROTOCOL_ERROR and closes what arrived; a closed peer gives
 * STATUS_CONNECTION_LOST. Blocks until a message arrives. */
kx_status kx_plat_sock_recv_fds(int sock, void *data, size_t cap, size_t *got, int *fds, int max,
                                int *n);

/* Maps the first len bytes of path shared (read-only, or read-write when writable): a
 * PCI BAR's resourceN. STATUS_INVALID_PARAMETER when the file is shorter than len. */
kx_status kx_plat_map_file(const char *path, size_t len, int writable, void **out);
void kx_plat_unmap_file(void *addr, size_t len);

#endif /* KX_CORE_PLAT_SHM_H */
