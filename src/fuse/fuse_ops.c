/* fuse_ops.c — what the files of kx's FUSE mount do. open is kx_io_open
 * with the caller's pid, uid and gid (so kx's access check decides and the
 * driver's IRP names the real requester); release is kx_io_close (CLEANUP,
 * then CLOSE); read, write and ioctl are IRPs answered from the driver's
 * thread (a read replies straight from the IRP's own buffer); fsync is
 * FLUSH; poll follows DkSetDeviceReady.
 *
 * A request handed to a driver (struct fuse_io) waits without a deadline, as
 * a read of a Linux pipe waits: a blocked caller that is interrupted (a
 * signal, Ctrl-C) gets its IRP cancelled and EINTR. Two parties may touch
 * the fuse_io at once, the completion and libfuse's interrupt callback, which
 * runs under the FUSE request's lock; the completion first unregisters the
 * callback (which waits out a running one) and only then replies and lets go
 * — except when the completion runs inside the callback itself (a cancel
 * answered at once), which it recognises by thread. The submitter holds a
 * second reference until it has checked for an interrupt that came before
 * the IRP existed.
 *
 * ioctl numbers: a declared control code (DkSetDeviceControlCodes) is
 * reached as _IOC(dir, device type & 0xFF, function & 0xFF, size), dir
 * _IOC_WRITE when it takes input and _IOC_READ when it gives output, size
 * the larger length (docs/fuse.md). Anything else is ENOTTY.
 */
#include "fuse_int.h"

#include "core/plat_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

struct fuse_io {
    struct kx_fuse *fs;
    fuse_req_t req;
    kx_io_handle h;
    uint8_t op;                 /* enum kx_io_op */
    _Atomic int refs;           /* the submitter's and the completion's */
    _Atomic int interrupted;
    _Atomic int in_submit;      /* the submitter is inside kx_io_submit_here: it cancels */
    _Atomic int in_cancel;      /* the interrupt callback cancels on cancel_thread */
    pthread_t cancel_thread;
    unsigned char out[];        /* READ and DEVICE_CONTROL output */
};

/* fi->fh carries the file's pointer as a 64-bit value, as the I/O
 * manager carries host cookies. */
static struct kx_fuse_file *file_of(struct fuse_file_info *fi)
{
    uintptr_t u = (uintptr_t)fi->fh;
    void *p;
    memcpy(&p, &u, sizeof p);
    return p;
}

static int err_of(kx_status st)
{
    int e = kx_status_to_errno(st);
    return e ? e : EIO;
}

static void io_unref(struct fuse_io *q)
{
    if (atomic_fetch_sub(&q->refs, 1) == 1)
        free(q);
}

/* out: what FUSE replies with, q->out unless the completion shows the
 * IRP's own buffer (a READ). */
static void reply(struct fuse_io *q, kx_status st, size_t n, const void *out)
{
    if (st == STATUS_END_OF_FILE && q->op == KX_IO_OP_READ)
        st = STATUS_SUCCESS, n = 0; /* end of file is a short read */
    if (st == STATUS_END_OF_FILE) {
        fuse_reply_err(q->req, ENOSPC); /* a write past the end, as a full block device */
        return;
    }
    if (st != STATUS_SUCCESS) {
        fuse_reply_err(q->req, err_of(st));
        return;
    }
    switch (q->op) {
    case KX_IO_OP_READ: fuse_reply_buf(q->req, out, out ? n : 0); break;
    case KX_IO_OP_WRITE: fuse_reply_write(q->req, n); break;
    default: fuse_reply_ioctl(q->req, 0, n ? q->out : NULL, n); break;
    }
}

/* The IRP's completion: any thread, must not block. A READ's shows the
 * IRP's own buffer (done_view), which FUSE copies out at once: the driver,
 * or a kx-host driver's transport, wrote into what FUSE replies from, with
 * no zeroing and no copy on kxd's side. */
static void view_done(void *arg, kx_status st, size_t n, const void *out)
{
    struct fuse_io *q = arg;
    struct kx_fuse *fs = q->fs;
    int inside = atomic_load_explicit(&q->in_cancel, memory_order_acquire) &&
                 pthread_equal(q->cancel_thread, pthread_self());
    if (!inside)
        fuse_req_interrupt_func(q->req, NULL, NULL);
    reply(q, st, n, out);
    io_unref(q);
    atomic_fetch_sub(&fs->n_inflight, 1);
}

static void io_done(void *arg, kx_status st, size_t n)
{
    view_done(arg, st, n, ((struct fuse_io *)arg)->out);
}

/* libfuse's interrupt callback (under the request's lock). */
static void on_interrupt(fuse_req_t req, void *data)
{
    (void)req;
    struct fuse_io *q = data;
    struct kx_fuse *fs = q->fs;
    kx_io_handle h = q->h;
    atomic_store(&q->interrupted, 1);
    /* A submission in progress may be running the request's routine, and
     * its completion waits for this callback: kx_io_cancel, which waits for
     * the file's submissions, would never return. The submitter cancels
     * once it is out (both flags are sequentially consistent: one of the two
     * sees the other). */
    if (atomic_load(&q->in_submit))
        return;
    q->cancel_thread = pthread_self();
    atomic_store_explicit(&q->in_cancel, 1, memory_order_release);
    kx_io_cancel(fs->io, h, q); /* q may be gone once this returns */
}

static struct fuse_io *io_new(struct kx_fuse *fs, fuse_req_t req, struct kx_fuse_file *f,
                              uint8_t op, size_t out_len)
{
    struct fuse_io *q = malloc(sizeof *q + out_len);
    if (!q)
        return NULL;
    q->fs = fs;
    q->req = req;
    q->h = f->h;
    q->op = op;
    atomic_init(&q->refs, 2);
    atomic_init(&q->interrupted, 0);
    atomic_init(&q->in_submit, 0);
    atomic_init(&q->in_cancel, 0);
    return q;
}

/* Hands r (done and arg are filled in here) to the driver; the reply comes
 * from io_done (or view_done). A driver in kxd that is idle runs the routine
 * on this thread, and a kx-host driver's answer is awaited here for the host
 * poll window (kx_io_submit_here): no hop to another thread and back. */
static void submit(fuse_req_t req, struct kx_fuse_file *f, struct fuse_io *q, struct kx_io_req *r)
{
    /* Once the IRP is submitted its reply may be sent, the file closed and
     * released on another thread: only fs and the handle's value are used. */
    struct kx_fuse *fs = f->fs;
    kx_io_handle h = f->h;
    r->timeout_ms = KX_IO_TIMEOUT_NONE;
    if (!r->done_view)
        r->done = io_done;
    r->arg = q;
    atomic_fetch_add(&fs->n_inflight, 1);
    atomic_store(&q->in_submit, 1); /* before the callback can run */
    fuse_req_interrupt_func(req, on_interrupt, q);
    kx_status st = kx_io_submit_here(fs->io, h, r, 1);
    atomic_store(&q->in_submit, 0);
    if (st != STATUS_SUCCESS) {
        fuse_req_interrupt_func(req, NULL, NULL);
        fuse_reply_err(req, err_of(st));
        free(q);
        atomic_fetch_sub(&fs->n_inflight, 1);
        return;
    }
    if (atomic_load(&q->interrupted)) /* while submitting: the callback left it to us */
        kx_io_cancel(fs->io, h, q);
    io_unref(q);
}

/* ---- open and release ---------------------------------------------------- */

void kx__fuse_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct kx_fuse *fs = fuse_req_userdata(req);
    char name[KX_IO_NAME_MAX], path[KX_IO_NAME_MAX + 8];
    if (!kx__fuse_name(fs, ino, name)) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    snprintf(path, sizeof path, "%s%s", KX_FUSE_LINK_PREFIX, name);
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    struct kx_io_cred cred = {(int32_t)ctx->pid, (uint32_t)ctx->uid, (uint32_t)ctx->gid};
    int mode = fi->flags & O_ACCMODE;
    uint32_t access = mode == O_RDONLY ? KX_IO_ACCESS_READ
                      : mode == O_WRONLY ? KX_IO_ACCESS_WRITE
                                         : KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE;
    struct kx_fuse_file *f = calloc(1, sizeof *f);
    if (!f) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    f->fs = fs;
    f->access = access;
    kx_status st = kx_io_open(fs->io, path, &cred, access, KX_IO_TIMEOUT_DEFAULT, &f->h);
    if (st == STATUS_SUCCESS)
        st = kx_io_device_info(fs->io, f->h, f->controls, &f->n_controls, f->device);
    if (st != STATUS_SUCCESS) {
        if (f->h)
            kx_io_close(fs->io, f->h);
        free(f);
        fuse_reply_err(req, err_of(st));
        return;
    }
    pthread_mutex_lock(&fs->lock);
    f->next = fs->files;
    if (fs->files)
        fs->files->prev = f;
    fs->files = f;
    pthread_mutex_unlock(&fs->lock);
    fi->fh = (uint64_t)(uintptr_t)f;
    fi->direct_io = 1; /* no page cache: offsets and lengths reach the driver as given */
    fi->keep_cache = 0;
    if (fuse_reply_open(req, fi) == -ENOENT) /* the caller gave up: no release will come */
        kx__fuse_release(NULL, ino, fi);
}

static void unlink_file(struct kx_fuse *fs, struct kx_fuse_file *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        fs->files = f->next;
    if (f->next)
        f->next->prev = f->prev;
    if (f->ph)
        fuse_pollhandle_destroy(f->ph);
    f->ph = NULL;
}

/* req is NULL when the open's reply could not be delivered. */
void kx__fuse_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    struct kx_fuse_file *f = file_of(fi);
    struct kx_fuse *fs = f->fs;
    pthread_mutex_lock(&fs->lock);
    unlink_file(fs, f);
    pthread_mutex_unlock(&fs->lock);
    kx_io_close(fs->io, f->h); /* CLEANUP, then CLOSE */
    free(f);
    if (req)
        fuse_reply_err(req, 0);
}

void kx__fuse_close_all(struct kx_fuse *fs)
{
    for (;;) {
        pthread_mutex_lock(&fs->lock);
        struct kx_fuse_file *f = fs->files;
        if (f)
            unlink_file(fs, f);
        pthread_mutex_unlock(&fs->lock);
        if (!f)
            break;
        kx_io_close(fs->io, f->h); /* cancels what still waits: its callers get EINTR */
        free(f);
    }
    for (uint64_t nap = 1000; atomic_load(&fs->n_inflight); nap = nap < 1000000 ? nap * 2 : nap)
        kx_plat_sleep_ns(nap);
}

/* ---- I/O ------------------------------------------------------------------ */

/* O_NONBLOCK: a device that says it is not ready answers EAGAIN at once. */
static int would_block(struct kx_fuse_file *f, struct fuse_file_info *fi, uint32_t want)
{
    uint32_t ready = 0;
    return (fi->flags & O_NONBLOCK) && kx_io_ready(f->fs->io, f->h, &ready) == STATUS_SUCCESS &&
           !(ready & want);
}

void kx__fuse_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                   struct fuse_file_info *fi)
{
    (void)ino;
    struct kx_fuse_file *f = file_of(fi);
    if (would_block(f, fi, KX_IO_READY_READ)) {
        fuse_reply_err(req, EAGAIN);
        return;
    }
    struct fuse_io *q = io_new(f->fs, req, f, KX_IO_OP_READ, 0);
    if (!q) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    /* An empty read has no buffer to show: it completes as the others. */
    struct kx_io_req r = {.op = KX_IO_OP_READ, .out_len = size, .offset = (uint64_t)off,
                          .done_view = size ? view_done : NULL};
    submit(req, f, q, &r);
}

void kx__fuse_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    (void)ino;
    struct kx_fuse_file *f = file_of(fi);
    if (would_block(f, fi, KX_IO_READY_WRITE)) {
        fuse_reply_err(req, EAGAIN);
        return;
    }
    struct fuse_io *q = io_new(f->fs, req, f, KX_IO_OP_WRITE, 0);
    if (!q) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    struct kx_io_req r = {.op = KX_IO_OP_WRITE, .in = size ? buf : NULL, .in_len = size,
                          .offset = (uint64_t)off};
    submit(req, f, q, &r); /* the bytes are copied before submit returns */
}

/* fsync(2) is FLUSH; a handle without write access has nothing to flush,
 * and a driver without a FLUSH routine is a file that cannot be synced
 * (EINVAL, as Linux says of such special files). */
void kx__fuse_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)ino;
    (void)datasync;
    struct kx_fuse_file *f = file_of(fi);
    if (!(f->access & KX_IO_ACCESS_WRITE)) {
        fuse_reply_err(req, 0);
        return;
    }
    struct kx_io_req r = {.op = KX_IO_OP_FLUSH};
    kx_status st = kx_io_call(f->fs->io, f->h, &r, NULL);
    fuse_reply_err(req, st == STATUS_SUCCESS          ? 0
                        : st == STATUS_NOT_IMPLEMENTED ? EINVAL
                                                       : err_of(st));
}

unsigned int kx__fuse_ioctl_number(const struct kx_io_control_decl *d)
{
    unsigned dir = (d->in_len ? _IOC_WRITE : 0u) | (d->out_len ? _IOC_READ : 0u);
    unsigned size = d->in_len > d->out_len ? d->in_len : d->out_len;
    return (unsigned int)_IOC(dir, (d->code >> 16) & 0xFFu, (d->code >> 2) & 0xFFu, size);
}

void kx__fuse_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
                    struct fuse_file_info *fi, unsigned flags, const void *in_buf,
                    size_t in_bufsz, size_t out_bufsz)
{
    (void)ino;
    (void)arg;
    struct kx_fuse_file *f = file_of(fi);
    const struct kx_io_control_decl *d = NULL;
    for (size_t i = 0; i < f->n_controls && !d; i++)
        if (kx__fuse_ioctl_number(&f->controls[i]) == cmd)
            d = &f->controls[i];
    if (!d || (flags & FUSE_IOCTL_UNRESTRICTED)) {
        fuse_reply_err(req, ENOTTY);
        return;
    }
    if (in_bufsz < d->in_len || out_bufsz < d->out_len) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    struct fuse_io *q = io_new(f->fs, req, f, KX_IO_OP_DEVICE_CONTROL, d->out_len);
    if (!q) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    struct kx_io_req r = {.op = KX_IO_OP_DEVICE_CONTROL, .code = d->code,
                          .in = d->in_len ? in_buf : NULL, .in_len = d->in_len,
                          .out = d->out_len ? q->out : NULL, .out_len = d->out_len};
    submit(req, f, q, &r);
}

/* ---- poll ------------------------------------------------------------------- */

void kx__fuse_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
                   struct fuse_pollhandle *ph)
{
    (void)ino;
    struct kx_fuse_file *f = file_of(fi);
    struct kx_fuse *fs = f->fs;
    /* The handle is kept before readiness is read, so a change in between
     * still notifies and the kernel asks again. */
    if (ph) {
        pthread_mutex_lock(&fs->lock);
        if (f->ph)
            fuse_pollhandle_destroy(f->ph);
        f->ph = ph;
        pthread_mutex_unlock(&fs->lock);
    }
    uint32_t ready = 0;
    kx_status st = kx_io_ready(fs->io, f->h, &ready);
    unsigned revents = (ready & KX_IO_READY_READ ? POLLIN | POLLRDNORM : 0u) |
                       (ready & KX_IO_READY_WRITE ? POLLOUT | POLLWRNORM : 0u) |
                       (st != STATUS_SUCCESS ? POLLERR : 0u);
    fuse_reply_poll(req, revents);
}

void kx__fuse_ready_changed(void *arg, const char *device, uint32_t events)
{
    (void)events; /* the kernel polls again and reads them itself */
    struct kx_fuse *fs = arg;
    pthread_mutex_lock(&fs->lock);
    for (struct kx_fuse_file *f = fs->files; f; f = f->next)
        if (f->ph && strcmp(f->device, device) == 0) {
            fuse_lowlevel_notify_poll(f->ph);
            fuse_pollhandle_destroy(f->ph);
            f->ph = NULL;
        }
    pthread_mutex_unlock(&fs->lock);
}
