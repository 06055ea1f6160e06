/* fuse_peer.c — the FUSE peer the benchmarks measure kx against: a libfuse3
 * low-level server with two files, null and zero, doing no work at all (same
 * API and threads as kxd's mount, direct I/O, no caching): the floor for
 * any FUSE server on this machine.
 */
#define FUSE_USE_VERSION 312

#include "fuse_peer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <fuse_lowlevel.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* A child that runs argv, or the peer on peer_dir, with its output in log. */
static pid_t start(const char *peer_dir, char *const argv[], const char *log)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (peer_dir)
            _exit(fuse_peer_serve(peer_dir));
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static int appears(const char *path)
{
    for (int i = 0; i < 6000; i++, usleep(10000))
        if (access(path, F_OK) == 0)
            return 1;
    return 0;
}

static void stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

int bench_mounts_start(struct bench_mounts *m, const char *tag, const char *build_dir)
{
    memset(m, 0, sizeof *m);
    snprintf(m->dir, sizeof m->dir, "/tmp/kx-%s-XXXXXX", tag);
    if (!mkdtemp(m->dir))
        return 0;
    char kxd[1024], ext[1024];
    snprintf(m->kx_mnt, sizeof m->kx_mnt, "%s/kx", m->dir);
    snprintf(m->peer_mnt, sizeof m->peer_mnt, "%s/peer", m->dir);
    snprintf(m->sock, sizeof m->sock, "%s/kxd.sock", m->dir);
    snprintf(m->log, sizeof m->log, "%s/kxd.log", m->dir);
    snprintf(m->plog, sizeof m->plog, "%s/peer.log", m->dir);
    snprintf(m->kx_zero, sizeof m->kx_zero, "%s/zero", m->kx_mnt);
    snprintf(m->peer_zero, sizeof m->peer_zero, "%s/zero", m->peer_mnt);
    snprintf(kxd, sizeof kxd, "%s/kxd", build_dir);
    snprintf(ext, sizeof ext, "%s/extensions", build_dir);
    mkdir(m->kx_mnt, 0755);
    mkdir(m->peer_mnt, 0755);
    char *kxd_argv[] = {kxd,       "--foreground", "--no-auth", "--no-cache", "--platform",
                        "none",    "--extensions", ext,         "--socket",   m->sock,
                        "--mount", m->kx_mnt,      NULL};
    m->kxd = start(NULL, kxd_argv, m->log);
    m->peer = start(m->peer_mnt, NULL, m->plog);
    if (appears(m->kx_zero) && appears(m->peer_zero))
        return 1;
    printf("bench_%s: skipped: a FUSE mount did not come up (see %s, %s)\n", tag, m->log, m->plog);
    return 0;
}

void bench_mounts_stop(struct bench_mounts *m, int remove)
{
    stop(m->kxd);
    stop(m->peer);
    m->kxd = m->peer = 0;
    if (!remove)
        return;
    unlink(m->log);
    unlink(m->plog);
    unlink(m->sock);
    rmdir(m->kx_mnt);
    rmdir(m->peer_mnt);
    rmdir(m->dir);
}
