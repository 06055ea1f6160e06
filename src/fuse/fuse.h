/* fuse.h — kx devices as files: a FUSE mount of the symbolic-link namespace
 * (DIR/null, DIR/zero, DIR/ram0 for /dev/null, /dev/zero, /dev/ram0), served
 * on threads of its own inside kxd and answered by the I/O manager directly.
 */
#ifndef KX_FUSE_FUSE_H
#define KX_FUSE_FUSE_H

#include <kx/io.h>
#include <kx/log.h>
#include <kx/status.h>
#include <stddef.h>

struct kx_fuse;

struct kx_fuse_config {
    const char *dir;                /* the mount point: an existing folder */
    struct kx_io *io;               /* borrowed; outlives the mount */
    const struct kx_logger *logger; /* copied; NULL discards messages */
};

/* Mounts the namespace at cfg->dir and starts serving it. A stale kx mount
 * there (its kxd crashed) is detached first and logged; a live one is
 * refused. As root, and as a user where /etc/fuse.conf allows it, the mount
 * has allow_other: every user reaches the files and kx's access check
 * decides. STATUS_SUCCESS and *out; STATUS_DEVICE_BUSY (a running kxd serves
 * dir); STATUS_NO_SUCH_FILE / STATUS_NOT_A_DIRECTORY (dir); STATUS_ACCESS_DENIED
 * (the mount was refused: /dev/fuse, fusermount3, privileges);
 * STATUS_INSUFFICIENT_RESOURCES. On failure why (why_len bytes, may be
 * NULL) says what failed, naming dir, and nothing is left mounted. */
kx_status kx_fuse_mount(const struct kx_fuse_config *cfg, struct kx_fuse **out, char *why,
                        size_t why_len);

/* The folder the mount serves (as given). */
const char *kx_fuse_dir(const struct kx_fuse *fs);

/* Unmounts and stops: requests still waiting on a driver are cancelled
 * (their callers get EINTR), open files are closed (CLEANUP, CLOSE), the
 * serving threads are joined. Call before the I/O manager is freed. NULL is
 * ignored. Blocks. */
void kx_fuse_unmount(struct kx_fuse *fs);

#endif /* KX_FUSE_FUSE_H */
