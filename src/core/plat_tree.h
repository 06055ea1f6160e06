/* plat_tree.h — walking a folder tree with the stat fields that betray a
 * change, for the kext cache's content digest. Part of the platform layer:
 * errno is read and translated here and nowhere above.
 */
#ifndef KX_CORE_PLAT_TREE_H
#define KX_CORE_PLAT_TREE_H

#include <kx/status.h>
#include <stdint.h>
#include <sys/types.h>

enum kx_plat_node_type {
    KX_PLAT_NODE_FILE = 'f',
    KX_PLAT_NODE_DIR = 'd',
    KX_PLAT_NODE_LINK = 'l',
    KX_PLAT_NODE_OTHER = 'o',
    KX_PLAT_NODE_UNLISTED = 'u', /* a folder that can't be opened or read: not entered */
    KX_PLAT_NODE_GONE = 'g',     /* listed, then gone before it could be examined */
};

/* One entry. Everything an edit, a replacement, a chmod or a chown changes:
 * ctime moves on every one of them, and unlike mtime nobody can set it back. */
struct kx_plat_node {
    const char *rel; /* below the root, '/'-separated; "" is the root itself */
    enum kx_plat_node_type type;
    int64_t size, mtime_ns, ctime_ns;
    uint64_t ino;
    mode_t mode; /* permission bits (07777) */
    uid_t uid;
    gid_t gid;
};

/* Return STATUS_SUCCESS to go on; anything else stops the walk and is returned. */
typedef kx_status (*kx_plat_tree_fn)(void *arg, const struct kx_plat_node *node);

/* Calls fn for root and, depth first with names in bytewise order, for
 * everything below it, never following a symbolic link; folders max_depth
 * levels down are reported but not entered. The node is only valid during
 * the call. Returns root's lstat status when root can't be examined, fn's
 * first non-success status, or STATUS_INSUFFICIENT_RESOURCES. */
kx_status kx_plat_tree_walk(const char *root, unsigned max_depth, kx_plat_tree_fn fn, void *arg);

/* Opens a folder for kx_plat_stat_at (close-on-exec); close *fd with
 * kx_plat_close (plat.h). */
kx_status kx_plat_dir_open(const char *path, int *fd);

/* fstatat(dirfd, rel) into *node (node->rel = rel), following a symbolic
 * link only when follow is set: the same fields a walk reports, for checking
 * entries a walk recorded without listing their folders again. An entry
 * that doesn't exist is KX_PLAT_NODE_GONE with every other field 0 (and
 * STATUS_SUCCESS); other failures return their status. */
kx_status kx_plat_stat_at(int dirfd, const char *rel, int follow, struct kx_plat_node *node);

#endif /* KX_CORE_PLAT_TREE_H */
