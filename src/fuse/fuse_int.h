/* fuse_int.h — the FUSE mount's internals, shared by fuse.c (the session,
 * names and attributes) and fuse_ops.c (what open files do).
 *
 * Lock: fs->lock guards the inode table and the list of open files (with
 * their poll handles). It is a leaf: nothing else is taken under it, no
 * driver is waited for under it. The readiness watcher takes it on a
 * driver's thread while the I/O manager's ready_lock is held.
 */
#ifndef KX_FUSE_INT_H
#define KX_FUSE_INT_H

#define FUSE_USE_VERSION 312

#include "fuse.h"

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define KX_FUSE_LINK_PREFIX "/dev/"

/* One open file: a kx handle opened with the caller's credentials. Freed by
 * release (or the unmount), after the kernel has sent every request of it. */
struct kx_fuse_file {
    struct kx_fuse *fs;
    kx_io_handle h;
    uint32_t access;                /* KX_IO_ACCESS_* granted */
    char device[KX_IO_NAME_MAX];    /* canonical name: readiness changes name it */
    struct kx_io_control_decl controls[KX_IO_MAX_CONTROLS];
    size_t n_controls;
    struct fuse_pollhandle *ph;     /* fs->lock: a poll waiting for a change */
    struct kx_fuse_file *next, *prev; /* fs->lock */
};

struct kx_fuse {
    struct kx_io *io;
    struct kx_logger log;
    char *dir;
    struct fuse_session *se;
    pthread_t thread;
    int has_thread, is_mounted, is_watching;
    uint32_t uid, gid;              /* the mount point's owner (kxd) */
    int64_t mount_s;                /* times every file reports */
    pthread_mutex_t lock;           /* names, files (a leaf) */
    char (*names)[KX_IO_NAME_MAX];  /* inode n + 2 is names[n]; never shrinks */
    size_t n_names, cap_names;
    struct kx_fuse_file *files;
    _Atomic size_t n_inflight;      /* requests handed to drivers, not yet answered */
};

/* fuse.c: the inode of a file name (assigned on first sight), and back. */
uint64_t kx__fuse_ino(struct kx_fuse *fs, const char *name);
int kx__fuse_name(struct kx_fuse *fs, uint64_t ino, char name[KX_IO_NAME_MAX]);

/* fuse_ops.c: the operations on files. */
void kx__fuse_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void kx__fuse_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void kx__fuse_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   struct fuse_file_info *fi);
void kx__fuse_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi);
void kx__fuse_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void kx__fuse_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
                    struct fuse_file_info *fi, unsigned flags, const void *in_buf,
                    size_t in_bufsz, size_t out_bufsz);
void kx__fuse_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                   struct fuse_pollhandle *ph);
/* The I/O manager's readiness watcher (kx_io_ready_fn). */
void kx__fuse_ready_changed(void *arg, const char *device, uint32_t events);
/* Unmount: closes every file still open (cancelling what waits) and waits
 * until no request is in flight. */
void kx__fuse_close_all(struct kx_fuse *fs);

/* The ioctl(2) number of a declared control code (docs/fuse.md). */
unsigned int kx__fuse_ioctl_number(const struct kx_io_control_decl *d);

#endif /* KX_FUSE_INT_H */
