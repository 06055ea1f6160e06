/* ready.c — what a file system front end needs beyond requests: device
 * readiness for poll(2), the control codes a device declared (ioctl(2)
 * numbers carry sizes a control code lacks), and cancelling the requests of
 * one interrupted caller.
 *
 * Readiness is one word per device, written by its driver (DkSetDeviceReady
 * through kx__chan_set_ready) and read without a lock; a device whose driver
 * never set it is always ready, so drivers that do not care cost nothing.
 * Watchers (a FUSE mount) are told of each change on the driver's thread,
 * under ready_lock so that removing a watcher waits out a call in progress;
 * they only queue a notification, never call back into the manager.
 * Declarations are copied into the device record under ns_lock.
 */
#include "io_int.h"

#include "core/plat_sync.h"

#include <kx/kmdf.h>
#include <string.h>

/* The calling driver's own live device (ns_lock held). */
static struct io_device *own_device(struct kx_io *io, uint64_t drv_id, uint64_t dev_id)
{
    struct io_device *dv = kx__ns_device_by_id(io, dev_id);
    if (!dv || !dv->drv || dv->drv->id != drv_id || atomic_load(&dv->is_deleted))
        return NULL;
    return dv;
}

kx_status kx__chan_set_ready(struct kx_io *io, uint64_t drv_id, uint64_t dev_id, uint32_t events)
{
    char name[KX_IO_NAME_MAX];
    pthread_mutex_lock(&io->ns_lock);
    struct io_device *dv = own_device(io, drv_id, dev_id);
    uint32_t was = 0;
    if (dv) {
        was = atomic_exchange(&dv->ready, events | IO_READY_SET);
        memcpy(name, dv->name, sizeof name);
    }
    pthread_mutex_unlock(&io->ns_lock);
    if (!dv)
        return STATUS_NO_SUCH_DEVICE;
    if (was == (events | IO_READY_SET))
        return STATUS_SUCCESS;
    pthread_mutex_lock(&io->ready_lock);
    for (size_t i = 0; i < IO_MAX_READY_WATCHERS; i++)
        if (io->ready_watch[i].fn)
            io->ready_watch[i].fn(io->ready_watch[i].arg, name, events);
    pthread_mutex_unlock(&io->ready_lock);
    return STATUS_SUCCESS;
}

/* Two codes of one device must not share an ioctl(2) number: the number
 * keeps only the low bytes of the device type and function (docs/fuse.md). */
static int same_number(uint32_t a, uint32_t b)
{
    return (DEVICE_TYPE_FROM_CTL_CODE(a) & 0xFFu) == (DEVICE_TYPE_FROM_CTL_CODE(b) & 0xFFu) &&
           ((a >> 2) & 0xFFu) == ((b >> 2) & 0xFFu);
}

kx_status kx__chan_set_controls(struct kx_io *io, uint64_t drv_id, uint64_t dev_id,
                                const struct kx_io_control_decl *decls, size_t n)
{
    if (n > KX_IO_MAX_CONTROLS)
        return STATUS_INVALID_PARAMETER;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (same_number(decls[i].code, decls[j].code))
                return STATUS_OBJECT_NAME_COLLISION;
    pthread_mutex_lock(&io->ns_lock);
    struct io_device *dv = own_device(io, drv_id, dev_id);
    if (dv) {
        memcpy(dv->controls, decls, n * sizeof *decls);
        dv->n_controls = (uint32_t)n;
    }
    pthread_mutex_unlock(&io->ns_lock);
    return dv ? STATUS_SUCCESS : STATUS_NO_SUCH_DEVICE;
}

/* An open handle's file with one reference, or NULL. */
static struct io_file *open_file(struct kx_io *io, kx_io_handle h)
{
    struct io_file *f = io ? kx__file_ref(io, h, 1) : NULL;
    if (f && atomic_load_explicit(&f->state, memory_order_acquire) != F_OPEN) {
        kx__file_unref(io, f, 1);
        return NULL;
    }
    return f;
}

kx_status kx_io_ready(struct kx_io *io, kx_io_handle h, uint32_t *events)
{
    struct io_file *f = open_file(io, h);
    if (!f || !events) {
        if (f)
            kx__file_unref(io, f, 1);
        return f ? STATUS_INVALID_PARAMETER : STATUS_INVALID_HANDLE;
    }
    uint32_t w = atomic_load_explicit(&f->dev->ready, memory_order_acquire);
    kx_status st = STATUS_SUCCESS;
    if (atomic_load(&f->dev->is_deleted)) {
        st = STATUS_DEVICE_REMOVED;
        w = 0;
    }
    *events = (w & IO_READY_SET) ? w & (KX_IO_READY_READ | KX_IO_READY_WRITE)
                                 : KX_IO_READY_READ | KX_IO_READY_WRITE;
    kx__file_unref(io, f, 1);
    return st;
}

kx_status kx_io_watch_ready(struct kx_io *io, kx_io_ready_fn fn, void *arg, int add)
{
    if (!io || !fn)
        return STATUS_INVALID_PARAMETER;
    kx_status st = add ? STATUS_INSUFFICIENT_RESOURCES : STATUS_NO_SUCH_FILE;
    pthread_mutex_lock(&io->ready_lock);
    for (size_t i = 0; i < IO_MAX_READY_WATCHERS && st != STATUS_SUCCESS; i++) {
        if (add && !io->ready_watch[i].fn) {
            io->ready_watch[i].fn = fn;
            io->ready_watch[i].arg = arg;
            st = STATUS_SUCCESS;
        } else if (!add && io->ready_watch[i].fn == fn && io->ready_watch[i].arg == arg) {
            io->ready_watch[i].fn = NULL;
            io->ready_watch[i].arg = NULL;
            st = STATUS_SUCCESS;
        }
    }
    pthread_mutex_unlock(&io->ready_lock);
    return st;
}

kx_status kx_io_device_info(struct kx_io *io, kx_io_handle h,
                            struct kx_io_control_decl out[KX_IO_MAX_CONTROLS], size_t *n,
                            char device[KX_IO_NAME_MAX])
{
    struct io_file *f = open_file(io, h);
    if (!f)
        return STATUS_INVALID_HANDLE;
    pthread_mutex_lock(&io->ns_lock);
    if (out && n) {
        memcpy(out, f->dev->controls, f->dev->n_controls * sizeof *out);
        *n = f->dev->n_controls;
    }
    if (device)
        memcpy(device, f->dev->name, KX_IO_NAME_MAX);
    pthread_mutex_unlock(&io->ns_lock);
    kx__file_unref(io, f, 1);
    return STATUS_SUCCESS;
}

/* ---- cancelling one caller's requests ------------------------------------ */

struct cancel_match {
    struct io_file *f;
    void *arg;
};

/* As a close's scan, narrowed to async requests carrying arg: the file is
 * compared first because only records of f are known to be fully written
 * (kx_io_cancel waited for f's submitters). */
static void cancel_if_match(struct kx_io *io, struct io_irp *r, void *arg)
{
    struct cancel_match *m = arg;
    if (atomic_load_explicit(&r->file, memory_order_acquire) != m->f)
        return;
    if (r->kind != K_IRP || r->is_sync || r->major == IRP_MJ_CREATE ||
        r->major == IRP_MJ_CLEANUP || r->major == IRP_MJ_CLOSE || r->done_arg != m->arg ||
        (atomic_load_explicit(&r->state, memory_order_acquire) & IRP_REQ_DONE))
        return;
    kx__irp_cancel(io, r);
}

kx_status kx_io_cancel(struct kx_io *io, kx_io_handle h, void *arg)
{
    struct io_file *f = open_file(io, h);
    if (!f)
        return STATUS_INVALID_HANDLE;
    while (atomic_load_explicit(&f->submitting, memory_order_seq_cst))
        kx_plat_yield();
    struct cancel_match m = {f, arg};
    kx__irp_foreach_in(io, atomic_load_explicit(&f->slabs, memory_order_relaxed), cancel_if_match,
                       &m);
    kx__file_unref(io, f, 1);
    return STATUS_SUCCESS;
}
