/* fuse_peer.h — a do-nothing libfuse3 null/zero server (fuse_peer.c). */
#ifndef KX_BENCH_FUSE_PEER_H
#define KX_BENCH_FUSE_PEER_H

/* Mounts dir with the files null and zero and serves until SIGTERM; run it
 * in a child process, as kxd is one. 0 after a clean unmount. */
int fuse_peer_serve(const char *dir);

#endif
