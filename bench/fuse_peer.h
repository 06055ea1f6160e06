/* fuse_peer.h — a do-nothing libfuse3 null/zero server (fuse_peer.c). */
#ifndef KX_BENCH_FUSE_PEER_H
#define KX_BENCH_FUSE_PEER_H

/* Mounts dir with the files null and zero and serves until SIGTERM; run it
 * in a child process, as kxd is one. 0 after a clean unmount. */
int fuse_peer_serve(const char *dir);

#include <sys/types.h>

/* What both FUSE benchmarks set up in a fresh /tmp folder: build_dir's kxd
 * serving its devices under kx/ (--mount) on its own socket, and the peer
 * under peer/. */
struct bench_mounts {
    char dir[64], kx_mnt[128], peer_mnt[128], sock[128], log[160], plog[160];
    char kx_zero[160], peer_zero[160];
    pid_t kxd, peer;
};

/* Starts both and waits (up to a minute) until both zero files appear:
 * 1 then; 0 (saying so, with the logs to read) when a mount didn't come up
 * or the folder couldn't be made. Stop with bench_mounts_stop either way. */
int bench_mounts_start(struct bench_mounts *m, const char *tag, const char *build_dir);
/* Stops both; with remove, deletes the logs and the folder too. */
void bench_mounts_stop(struct bench_mounts *m, int remove);

#endif
