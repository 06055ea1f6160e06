/* pipe.c — /dev/pipe0: one pipe shared by every open. A read takes what is
 * buffered; with nothing buffered it pends (with a cancel routine) until a
 * write arrives, its handle is closed or its deadline passes. A write feeds
 * waiting readers first, in arrival order, buffers the rest up to
 * PIPE_CAPACITY and reports how much it took (STATUS_DEVICE_BUSY if nothing
 * fitted). Each open gets a FileContext counting its bytes.
 *
 * Readiness (DkSetDeviceReady) follows the buffer: readable while bytes are
 * buffered, writable while there is room, so poll(2) on the pipe through
 * kxd's mount waits as it would on a Linux pipe. It is recomputed at the end
 * of every routine that moves bytes and sent only when it changes.
 *
 * Exercises the I/O manager's pending, cancel and deadline paths. All of it
 * runs on the dispatch thread (cancel routines included), so the queue of
 * pending reads needs no lock.
 */
#include "pipe.h"

#include "ringbuffer.h"

#include <stdlib.h>
#include <string.h>

KX_DRIVER_INFO("Pipe", DRIVER_TYPE_KMD, 900, KX_KEXT_VERSION);

#define PIPE_DEVICE "\\Device\\Pipe0"
#define PIPE_LINK   "/dev/pipe0"

struct pipe_ext {
    struct ringbuf *rb;
    PIRP head, tail; /* pending reads, linked through DriverContext[0] */
    uint32_t n_pending;
    uint32_t n_opens;
    uint32_t ready; /* DEVICE_READY_* last sent */
};

struct pipe_open {
    uint64_t bytes_in, bytes_out;
};

static struct pipe_ext *ext_of(PDEVICE_OBJECT dev) { return dev->DeviceExtension; }

static void enqueue(struct pipe_ext *e, PIRP irp)
{
    irp->DriverContext[0] = NULL;
    if (e->tail)
        e->tail->DriverContext[0] = irp;
    else
        e->head = irp;
    e->tail = irp;
    e->n_pending++;
}

static int unlink_irp(struct pipe_ext *e, PIRP irp)
{
    PIRP prev = NULL;
    for (PIRP p = e->head; p; prev = p, p = p->DriverContext[0]) {
        if (p != irp)
            continue;
        if (prev)
            prev->DriverContext[0] = p->DriverContext[0];
        else
            e->head = p->DriverContext[0];
        if (e->tail == p)
            e->tail = prev;
        e->n_pending--;
        return 1;
    }
    return 0;
}

static void update_ready(PDEVICE_OBJECT dev)
{
    struct pipe_ext *e = ext_of(dev);
    uint32_t ready = (ringbuf_used(e->rb) ? DEVICE_READY_READ : 0) |
                     (ringbuf_used(e->rb) < ringbuf_capacity(e->rb) ? DEVICE_READY_WRITE : 0);
    if (ready != e->ready && DkSetDeviceReady(dev, ready) == STATUS_SUCCESS)
        e->ready = ready;
}

static void pipe_cancel(PDEVICE_OBJECT dev, PIRP irp)
{
    unlink_irp(ext_of(dev), irp); /* a write may already have taken it off */
    DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

/* Hands buffered bytes to waiting readers, oldest first. */
static void feed_readers(struct pipe_ext *e)
{
    while (e->head && ringbuf_used(e->rb)) {
        PIRP r = e->head;
        unlink_irp(e, r);
        if (DkSetCancelRoutine(r, NULL) == STATUS_CANCELLED)
            continue; /* being cancelled: its routine completes it */
        size_t n = ringbuf_pop(e->rb, r->SystemBuffer, r->Parameters.Read.Length);
        struct pipe_open *o = r->FileContext;
        if (o)
            o->bytes_out += n;
        DkCompleteRequest(r, STATUS_SUCCESS, n);
    }
}

static kx_status pipe_read(PDEVICE_OBJECT dev, PIRP irp)
{
    struct pipe_ext *e = ext_of(dev);
    size_t len = irp->Parameters.Read.Length;
    if (!len)
        return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
    if (!e->head && ringbuf_used(e->rb)) {
        size_t n = ringbuf_pop(e->rb, irp->SystemBuffer, len);
        struct pipe_open *o = irp->FileContext;
        if (o)
            o->bytes_out += n;
        update_ready(dev);
        return DkCompleteRequest(irp, STATUS_SUCCESS, n);
    }
    DkMarkIrpPending(irp);
    if (DkSetCancelRoutine(irp, pipe_cancel) == STATUS_CANCELLED)
        return DkCompleteRequest(irp, STATUS_CANCELLED, 0);
    enqueue(e, irp);
    return STATUS_PENDING;
}

static kx_status pipe_write(PDEVICE_OBJECT dev, PIRP irp)
{
    struct pipe_ext *e = ext_of(dev);
    const unsigned char *p = irp->SystemBuffer;
    size_t len = irp->Parameters.Write.Length, taken = 0;
    while (taken < len) {
        size_t n = ringbuf_push(e->rb, p + taken, len - taken);
        taken += n;
        feed_readers(e);
        if (!n && ringbuf_used(e->rb) == ringbuf_capacity(e->rb))
            break; /* full and nobody reading */
    }
    struct pipe_open *o = irp->FileContext;
    if (o)
        o->bytes_in += taken;
    update_ready(dev);
    if (len && !taken)
        return DkCompleteRequest(irp, STATUS_DEVICE_BUSY, 0);
    return DkCompleteRequest(irp, STATUS_SUCCESS, taken);
}

static kx_status pipe_create(PDEVICE_OBJECT dev, PIRP irp)
{
    struct pipe_open *o = calloc(1, sizeof *o);
    if (!o)
        return DkCompleteRequest(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    irp->FileContext = o;
    ext_of(dev)->n_opens++;
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static kx_status pipe_close(PDEVICE_OBJECT dev, PIRP irp)
{
    free(irp->FileContext);
    ext_of(dev)->n_opens--;
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static kx_status pipe_control(PDEVICE_OBJECT dev, PIRP irp)
{
    struct pipe_ext *e = ext_of(dev);
    if (irp->Parameters.DeviceIoControl.IoControlCode != IOCTL_PIPE_GET_INFO)
        return DkCompleteRequest(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    struct pipe_info info = {ringbuf_used(e->rb), ringbuf_capacity(e->rb), e->n_pending,
                             e->n_opens};
    if (irp->Parameters.DeviceIoControl.OutputBufferLength < sizeof info)
        return DkCompleteRequest(irp, STATUS_BUFFER_TOO_SMALL, 0);
    memcpy(irp->SystemBuffer, &info, sizeof info);
    return DkCompleteRequest(irp, STATUS_SUCCESS, sizeof info);
}

static void pipe_unload(PDRIVER_OBJECT drv)
{
    DkDeleteSymbolicLink(PIPE_LINK);
    PDEVICE_OBJECT dev = drv->DeviceObject;
    if (!dev)
        return;
    struct pipe_ext *e = ext_of(dev);
    while (e->head) { /* every handle is closed by now; complete what is left */
        PIRP r = e->head;
        unlink_irp(e, r);
        if (DkSetCancelRoutine(r, NULL) != STATUS_CANCELLED)
            DkCompleteRequest(r, STATUS_CANCELLED, 0);
    }
    ringbuf_free(e->rb);
    DkDeleteDevice(dev);
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->MajorFunction[IRP_MJ_CREATE] = pipe_create;
    drv->MajorFunction[IRP_MJ_CLOSE] = pipe_close;
    drv->MajorFunction[IRP_MJ_READ] = pipe_read;
    drv->MajorFunction[IRP_MJ_WRITE] = pipe_write;
    drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = pipe_control;
    drv->DriverUnload = pipe_unload;
    PDEVICE_OBJECT dev;
    kx_status st = DkCreateDevice(drv, PIPE_DEVICE, sizeof(struct pipe_ext), &dev);
    if (st != STATUS_SUCCESS)
        return st;
    struct pipe_ext *e = ext_of(dev);
    if (!(e->rb = ringbuf_new(PIPE_CAPACITY))) {
        DkDeleteDevice(dev);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    DkSetDeviceSecurity(dev, 0, 0, 0666);
    static const KX_CONTROL_CODE codes[] = {{IOCTL_PIPE_GET_INFO, 0, sizeof(struct pipe_info)}};
    DkSetDeviceControlCodes(dev, codes, 1);
    update_ready(dev);
    if ((st = DkCreateSymbolicLink(PIPE_LINK, PIPE_DEVICE)) != STATUS_SUCCESS) {
        ringbuf_free(e->rb);
        DkDeleteDevice(dev);
    }
    return st;
}
