/* plat_mount.h — mount points for kx's FUSE mount (the platform layer):
 * whether a folder holds a kx mount and whether its server still answers,
 * lazy unmounting, and /etc/fuse.conf's word on allow_other.
 */
#ifndef KX_CORE_PLAT_MOUNT_H
#define KX_CORE_PLAT_MOUNT_H

#include <kx/status.h>

enum kx_plat_mount_state {
    KX_PLAT_MOUNT_NONE = 0,  /* not a mount point of that type */
    KX_PLAT_MOUNT_LIVE = 1,  /* mounted, and its server answers */
    KX_PLAT_MOUNT_STALE = 2, /* mounted, its server gone (ENOTCONN): a crashed daemon's */
};

/* What dir is, for mounts of fstype ("fuse.kx"): looked up in
 * /proc/self/mountinfo under dir's canonical path, and stat'ed. A folder
 * that cannot be reached for another reason fails with its status
 * (STATUS_NO_SUCH_FILE, STATUS_NOT_A_DIRECTORY, ...). */
kx_status kx_plat_mount_probe(const char *dir, const char *fstype, enum kx_plat_mount_state *state);

/* Detaches the mount at dir (umount2 MNT_DETACH as root; `fusermount3 -u
 * -z` otherwise): processes still inside keep what they hold, new lookups
 * see the folder beneath. */
kx_status kx_plat_mount_detach(const char *dir);

/* 1 when this process may mount with allow_other: root, or a user where
 * /etc/fuse.conf has a user_allow_other line. */
int kx_plat_fuse_allow_other(void);

#endif /* KX_CORE_PLAT_MOUNT_H */
