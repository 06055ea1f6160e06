/* fuse_peer.c — the FUSE peer the benchmarks measure kx against: a libfuse3
 * low-level server with two files, null and zero, doing no work at all (same
 * API and threads as kxd's mount, direct I/O, no caching): the floor for
 * any FUSE server on this machine.
 */
#define FUSE_USE_VERSION 312

#include "fuse_peer.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <string.h>
#include <sys/stat.h>

#define PEER_READ_MAX ((size_t)1 << 20)

static const char peer_zeros[PEER_READ_MAX];

static int peer_attr(fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = ino;
    st->st_mode = ino == 1 ? S_IFDIR | 0755 : S_IFREG | 0666;
    st->st_nlink = ino == 1 ? 2 : 1;
    return ino >= 1 && ino <= 3 ? 0 : ENOENT;
}

static void peer_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fuse_entry_param e;
    memset(&e, 0, sizeof e);
    e.ino = parent != 1 ? 0 : strcmp(name, "null") == 0 ? 2 : strcmp(name, "zero") == 0 ? 3 : 0;
    if (!e.ino) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    peer_attr(e.ino, &e.attr);
    fuse_reply_entry(req, &e);
}

static void peer_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct stat st;
    int err = peer_attr(ino, &st);
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_attr(req, &st, 0);
}

static void peer_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    fi->direct_io = 1;
    fuse_reply_open(req, fi);
}

static void peer_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                      struct fuse_file_info *fi)
{
    (void)off;
    (void)fi;
    fuse_reply_buf(req, peer_zeros, ino == 3 ? (size < PEER_READ_MAX ? size : PEER_READ_MAX) : 0);
}

static void peer_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    (void)ino;
    (void)buf;
    (void)off;
    (void)fi;
    fuse_reply_write(req, size);
}

static void peer_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    (void)fi;
    fuse_reply_err(req, 0);
}

int fuse_peer_serve(const char *dir)
{
    static const struct fuse_lowlevel_ops ops = {
        .lookup = peer_lookup,
        .getattr = peer_getattr,
        .open = peer_open,
        .read = peer_read,
        .write = peer_write,
        .release = peer_release,
    };
    char *argv[] = {"bench-peer", "-o", "fsname=peer", NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    struct fuse_session *se = fuse_session_new(&args, &ops, sizeof ops, NULL);
    fuse_opt_free_args(&args);
    if (!se || fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, dir) != 0)
        return 1;
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_clone_fd(cfg, 1);
    fuse_loop_cfg_set_idle_threads(cfg, 4);
    fuse_loop_cfg_set_max_threads(cfg, 16);
    fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
    fuse_remove_signal_handlers(se);
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    return 0;
}
