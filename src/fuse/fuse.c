/* fuse.c — kxd's FUSE mount: the session and its threads, mounting and
 * unmounting, and the folder itself (names, inodes, attributes).
 *
 * Design. The mount shows the I/O manager's symbolic links under /dev/ as
 * regular files of one folder: /dev/ram0 is DIR/ram0, with its device's
 * owner, group and mode (the device policy's when one applies). Nothing is
 * cached: lookups and attributes have no timeout, so a link that appears or
 * disappears does so at once, and every answer is a fresh snapshot of the
 * namespace. Files are regular files, not device nodes, so the kernel opens
 * them through FUSE; they are opened with direct I/O (no page cache, sizes
 * ignored), so reads and writes reach the driver with their offsets and
 * lengths as the program gave them, and a read of 1 MiB from DIR/zero is one
 * request of 1 MiB.
 *
 * Why the low-level API: its requests carry the caller's credentials
 * (fuse_req_ctx) and can be answered later from any thread, so a read goes
 * to kx_io_submit with a completion that replies straight from the driver's
 * thread — no FUSE thread waits on a pipe that has nothing to say, and a
 * blocked reader's interrupt (Ctrl-C) cancels its IRP. Inodes are ours, not
 * paths. The high-level API would hold a thread per pending request and
 * resolve paths on every call. The session runs fuse_session_loop_mt with a
 * descriptor per thread (clone_fd), on the thread "kx-fuse" and its workers.
 *
 * Inodes: 1 is the folder; a file name gets the next number the first time
 * it is seen and keeps it for the life of the mount (names are few, and a
 * recreated link keeps its number, which is harmless without caching).
 */
#include "fuse_int.h"

#include "core/plat.h"
#include "core/plat_mount.h"
#include "core/plat_user.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROOT_INO 1
#define FIRST_INO 2

static struct kx_fuse *fs_of(fuse_req_t req) { return fuse_req_userdata(req); }

/* ---- names and inodes -------------------------------------------------- */

/* Under fs->lock: room for one more name. */
static int grow_names(struct kx_fuse *fs)
{
    if (fs->n_names < fs->cap_names)
        return 1;
    size_t cap = fs->cap_names ? fs->cap_names * 2 : 16;
    void *p = realloc(fs->names, cap * sizeof *fs->names);
    if (!p)
        return 0;
    fs->names = p;
    fs->cap_names = cap;
    return 1;
}

uint64_t kx__fuse_ino(struct kx_fuse *fs, const char *name)
{
    uint64_t ino = 0;
    pthread_mutex_lock(&fs->lock);
    for (size_t i = 0; i < fs->n_names && !ino; i++)
        if (strcmp(fs->names[i], name) == 0)
            ino = FIRST_INO + i;
    if (!ino && grow_names(fs)) {
        snprintf(fs->names[fs->n_names], KX_IO_NAME_MAX, "%s", name);
        ino = FIRST_INO + fs->n_names++;
    }
    pthread_mutex_unlock(&fs->lock);
    return ino;
}

int kx__fuse_name(struct kx_fuse *fs, uint64_t ino, char name[KX_IO_NAME_MAX])
{
    int ok = 0;
    pthread_mutex_lock(&fs->lock);
    if (ino >= FIRST_INO && ino - FIRST_INO < fs->n_names) {
        memcpy(name, fs->names[ino - FIRST_INO], KX_IO_NAME_MAX);
        ok = 1;
    }
    pthread_mutex_unlock(&fs->lock);
    return ok;
}

/* The file name a link shows as: "/dev/ram0" is "ram0"; links elsewhere or
 * in sub-folders of /dev are not shown (NULL). */
static const char *file_name(const char *link)
{
    size_t n = strlen(KX_FUSE_LINK_PREFIX);
    if (strncmp(link, KX_FUSE_LINK_PREFIX, n) != 0 || !link[n] || strchr(link + n, '/'))
        return NULL;
    return link + n;
}

/* ---- attributes ---------------------------------------------------------- */

static void fill_times(const struct kx_fuse *fs, struct stat *st)
{
    st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec = (time_t)fs->mount_s;
}

static void root_attr(const struct kx_fuse *fs, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_ino = ROOT_INO;
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    st->st_uid = fs->uid;
    st->st_gid = fs->gid;
    fill_times(fs, st);
}

/* The attributes of file `name` now: its link's device's owner, group and
 * mode. 0, or ENOENT when no such link exists (any more), ENOMEM. */
static int file_attr(struct kx_fuse *fs, const char *name, struct stat *st)
{
    struct kx_io_link_stat *links = NULL;
    struct kx_io_device_stat *devs = NULL;
    size_t n_links = 0, n_devs = 0;
    if (kx_io_list_links(fs->io, &links, &n_links) != STATUS_SUCCESS)
        return ENOMEM;
    const char *target = NULL;
    for (size_t i = 0; i < n_links && !target; i++) {
        const char *fname = file_name(links[i].link);
        if (fname && strcmp(fname, name) == 0)
            target = links[i].target;
    }
    int err = ENOENT;
    if (target && kx_io_list_devices(fs->io, &devs, &n_devs) == STATUS_SUCCESS) {
        for (size_t i = 0; i < n_devs && err; i++) {
            if (strcmp(devs[i].name, target) != 0 || (devs[i].flags & KX_IO_DEV_DELETE_PENDING))
                continue;
            memset(st, 0, sizeof *st);
            st->st_mode = S_IFREG | (devs[i].mode & 0777);
            st->st_nlink = 1;
            st->st_uid = devs[i].uid;
            st->st_gid = devs[i].gid;
            st->st_blksize = 4096;
            fill_times(fs, st);
            err = 0;
        }
    }
    free(links);
    free(devs);
    if (!err && !(st->st_ino = kx__fuse_ino(fs, name)))
        err = ENOMEM;
    return err;
}

/* ---- the folder's operations ------------------------------------------- */

static void on_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    /* open(O_TRUNC) arrives as a flag of the open, not as a separate
     * truncation of a device that has no size. */
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static void on_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fuse_entry_param e;
    memset(&e, 0, sizeof e);
    int err = parent == ROOT_INO ? file_attr(fs_of(req), name, &e.attr) : ENOENT;
    if (err) {
        fuse_reply_err(req, err);
        return;
    }
    e.ino = e.attr.st_ino;
    fuse_reply_entry(req, &e); /* timeouts 0: links come and go */
}

static void on_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct kx_fuse *fs = fs_of(req);
    struct stat st;
    char name[KX_IO_NAME_MAX];
    int err = 0;
    if (ino == ROOT_INO)
        root_attr(fs, &st);
    else if (!kx__fuse_name(fs, ino, name))
        err = ENOENT;
    else
        err = file_attr(fs, name, &st);
    if (err)
        fuse_reply_err(req, err);
    else
        fuse_reply_attr(req, &st, 0);
}

/* Devices have no size to change (truncation is accepted and means nothing,
 * as on /dev/null) and no times to set; owner and mode are the driver's or
 * the device policy's, never a chmod's. */
static void on_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
                       struct fuse_file_info *fi)
{
    (void)attr;
    const int harmless = FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
                         FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME;
    if (to_set & ~harmless)
        fuse_reply_err(req, EPERM);
    else
        on_getattr(req, ino, fi);
}

/* access(2) answers as kx's open would: uid 0 may read and write anything,
 * others by the owner, group or other triplet that applies (the primary
 * group, as kx checks it). Without this the kernel would say yes to all. */
static void on_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
    struct kx_fuse *fs = fs_of(req);
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    struct stat st;
    char name[KX_IO_NAME_MAX];
    int err = 0;
    if (ino == ROOT_INO)
        root_attr(fs, &st);
    else if (!kx__fuse_name(fs, ino, name))
        err = ENOENT;
    else
        err = file_attr(fs, name, &st);
    if (!err && mask != F_OK) {
        unsigned bits = (unsigned)st.st_mode & 0777;
        unsigned have = ctx->uid == 0               ? 06u | (bits & 0111 ? 01u : 0u)
                        : ctx->uid == st.st_uid     ? (bits >> 6) & 7u
                        : ctx->gid == st.st_gid     ? (bits >> 3) & 7u
                                                    : bits & 7u;
        unsigned want = (mask & R_OK ? 4u : 0u) | (mask & W_OK ? 2u : 0u) | (mask & X_OK ? 1u : 0u);
        if (want & ~have)
            err = EACCES;
    }
    fuse_reply_err(req, err);
}

static void on_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    (void)fi;
    struct kx_fuse *fs = fs_of(req);
    if (ino != ROOT_INO) {
        fuse_reply_err(req, ENOTDIR);
        return;
    }
    struct kx_io_link_stat *links = NULL;
    size_t n_links = 0;
    char *buf = malloc(size ? size : 1);
    if (!buf || kx_io_list_links(fs->io, &links, &n_links) != STATUS_SUCCESS) {
        free(buf);
        fuse_reply_err(req, ENOMEM);
        return;
    }
    /* Entry i (0 ".", 1 "..", then the links in name order) has offset i + 1:
     * a snapshot per call, so a link that comes or goes between two calls
     * may shift the rest by one, as any changing folder may. */
    size_t used = 0;
    struct stat st;
    memset(&st, 0, sizeof st);
    for (size_t i = (size_t)off; i < n_links + 2; i++) {
        const char *name = i == 0 ? "." : i == 1 ? ".." : file_name(links[i - 2].link);
        if (!name)
            continue;
        st.st_ino = i < 2 ? ROOT_INO : kx__fuse_ino(fs, name);
        st.st_mode = i < 2 ? S_IFDIR : S_IFREG;
        size_t need = fuse_add_direntry(req, buf + used, size - used, name, &st, (off_t)i + 1);
        if (need > size - used)
            break;
        used += need;
    }
    fuse_reply_buf(req, buf, used);
    free(links);
    free(buf);
}

static const struct fuse_lowlevel_ops kx_fuse_ops = {
    .init = on_init,
    .lookup = on_lookup,
    .getattr = on_getattr,
    .setattr = on_setattr,
    .readdir = on_readdir,
    .access = on_access,
    .open = kx__fuse_open,
    .release = kx__fuse_release,
    .read = kx__fuse_read,
    .write = kx__fuse_write,
    .fsync = kx__fuse_fsync,
    .ioctl = kx__fuse_ioctl,
    .poll = kx__fuse_poll,
};

/* ---- the session ---------------------------------------------------------- */

static void *serve(void *arg)
{
    struct kx_fuse *fs = arg;
    pthread_setname_np(pthread_self(), "kx-fuse");
    /* kxd's signals are for its main thread; the workers inherit this mask. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    struct fuse_loop_config *cfg = fuse_loop_cfg_create();
    if (cfg) {
        fuse_loop_cfg_set_clone_fd(cfg, 1);
        fuse_loop_cfg_set_idle_threads(cfg, 4);
        fuse_loop_cfg_set_max_threads(cfg, 16);
    }
    int rc = fuse_session_loop_mt(fs->se, cfg);
    if (rc < 0 && !fuse_session_exited(fs->se))
        kx_log_warnx(&fs->log, "%s: the FUSE session ended: %s", fs->dir, strerror(-rc));
    fuse_loop_cfg_destroy(cfg);
    return NULL;
}

const char *kx_fuse_dir(const struct kx_fuse *fs) { return fs->dir; }

/* Asks the mount for its root's attributes, so that a worker blocked on the
 * FUSE device wakes, answers, sees the session has exited and ends the loop
 * (libfuse's workers look at the exit flag only between requests). Runs on
 * a thread of its own with its own copy of the path: it returns when it is
 * answered or, at the latest, when the connection is aborted. */
static void *poke(void *arg)
{
    struct kx_plat_stat st;
    kx_plat_stat(arg, &st);
    free(arg);
    return NULL;
}

/* Whatever was mounted and started, in reverse. Safe on a half-built mount.
 * The order matters: the loop ends first (no new request is taken), then
 * what still waits on drivers is answered (blocked callers get EINTR), then
 * the mount is detached and the FUSE device closed, which aborts the
 * connection for programs that still hold files (they get ENOTCONN). */
void kx_fuse_unmount(struct kx_fuse *fs)
{
    if (!fs)
        return;
    if (fs->has_thread) {
        fuse_session_exit(fs->se);
        char *copy = fs->dir ? strdup(fs->dir) : NULL;
        pthread_t t;
        if (copy && pthread_create(&t, NULL, poke, copy) == 0)
            pthread_detach(t);
        else
            free(copy);
        pthread_join(fs->thread, NULL);
    }
    if (fs->is_watching)
        kx_io_watch_ready(fs->io, kx__fuse_ready_changed, fs, 0);
    kx__fuse_close_all(fs);
    if (fs->is_mounted)
        fuse_session_unmount(fs->se);
    if (fs->se)
        fuse_session_destroy(fs->se);
    pthread_mutex_destroy(&fs->lock);
    free(fs->names);
    free(fs->dir);
    free(fs);
}

static kx_status fail(struct kx_fuse *fs, kx_status st, char *why, size_t why_len,
                      const char *fmt, const char *arg)
{
    if (why && why_len) {
        char what[256];
        snprintf(what, sizeof what, fmt, arg);
        snprintf(why, why_len, "%s: %s", fs->dir ? fs->dir : "mount", what);
    }
    kx_fuse_unmount(fs);
    return st;
}

kx_status kx_fuse_mount(const struct kx_fuse_config *cfg, struct kx_fuse **out, char *why,
                        size_t why_len)
{
    if (why && why_len)
        *why = '\0';
    if (!cfg || !cfg->dir || !*cfg->dir || !cfg->io || !out)
        return STATUS_INVALID_PARAMETER;
    *out = NULL;
    struct kx_fuse *fs = calloc(1, sizeof *fs);
    if (!fs || pthread_mutex_init(&fs->lock, NULL)) {
        free(fs);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    fs->io = cfg->io;
    if (cfg->logger)
        fs->log = *cfg->logger;
    atomic_init(&fs->n_inflight, 0);
    fs->uid = kx_plat_self_uid();
    fs->gid = kx_plat_self_gid();
    fs->mount_s = kx_plat_wall_ns() / 1000000000;
    if (!(fs->dir = strdup(cfg->dir)))
        return fail(fs, STATUS_INSUFFICIENT_RESOURCES, why, why_len, "%s", "out of memory");

    enum kx_plat_mount_state state;
    kx_status st = kx_plat_mount_probe(fs->dir, "fuse.kx", &state);
    if (st != STATUS_SUCCESS)
        return fail(fs, st, why, why_len, "%s", kx_status_string(st));
    if (state == KX_PLAT_MOUNT_LIVE)
        return fail(fs, STATUS_DEVICE_BUSY, why, why_len, "%s",
                    "already mounted by a running kxd");
    if (state == KX_PLAT_MOUNT_STALE) {
        if ((st = kx_plat_mount_detach(fs->dir)) != STATUS_SUCCESS)
            return fail(fs, st, why, why_len, "a crashed kxd's mount can't be detached: %s",
                        kx_status_string(st));
        kx_log_info(&fs->log, "%s: replaced the stale mount of a kxd that is gone", fs->dir);
    }

    /* allow_other: other users reach the files and kx's own check decides;
     * without it only this user would, whatever the device's mode says. */
    int allow_other = kx_plat_fuse_allow_other();
    char *argv[] = {"kxd", "-o",
                    allow_other ? "fsname=kx,subtype=kx,allow_other" : "fsname=kx,subtype=kx",
                    NULL};
    struct fuse_args args = FUSE_ARGS_INIT(3, argv);
    fs->se = fuse_session_new(&args, &kx_fuse_ops, sizeof kx_fuse_ops, fs);
    fuse_opt_free_args(&args); /* the session keeps what it parsed */
    if (!fs->se)
        return fail(fs, STATUS_INSUFFICIENT_RESOURCES, why, why_len, "%s",
                    "can't create the FUSE session");
    if (fuse_session_mount(fs->se, fs->dir) != 0)
        return fail(fs, STATUS_ACCESS_DENIED, why, why_len, "%s",
                    "the mount was refused (is /dev/fuse usable, and fusermount3 installed?)");
    fs->is_mounted = 1;
    if ((st = kx_io_watch_ready(fs->io, kx__fuse_ready_changed, fs, 1)) != STATUS_SUCCESS)
        return fail(fs, st, why, why_len, "%s", "too many mounts watch the devices");
    fs->is_watching = 1;
    if (pthread_create(&fs->thread, NULL, serve, fs) != 0)
        return fail(fs, STATUS_INSUFFICIENT_RESOURCES, why, why_len, "%s",
                    "can't start the serving thread");
    fs->has_thread = 1;
    if (!allow_other)
        kx_log_warnx(&fs->log,
                     "%s: mounted without allow_other (/etc/fuse.conf has no user_allow_other): "
                     "only uid %u reaches the devices",
                     fs->dir, (unsigned)fs->uid);
    *out = fs;
    return STATUS_SUCCESS;
}
