/* ringlog.c — /dev/ringlog, AxisOS's ring log (ringfs) with kx's fixes:
 * writes append and keep only the newest N bytes; a read returns the buffer
 * from its offset without consuming it, and STATUS_END_OF_FILE past the end
 * (the original never ended, so `cat` looped); controls clear and resize it.
 * The ring comes from the RingBuffer library kext.
 *
 * Everything runs on the dispatch thread, so the ring needs no lock.
 */
#include "ringlog.h"

#include "ringbuffer.h"

#include <string.h>

KX_DRIVER_INFO("RingLog", DRIVER_TYPE_KMD, 800, KX_KEXT_VERSION);

#define RINGLOG_DEVICE "\\Device\\RingLog0"
#define RINGLOG_LINK   "/dev/ringlog"

struct ringlog_ext {
    struct ringbuf *rb;
};

static struct ringbuf *ring(PDEVICE_OBJECT dev)
{
    return ((struct ringlog_ext *)dev->DeviceExtension)->rb;
}

static kx_status rl_write(PDEVICE_OBJECT dev, PIRP irp)
{
    size_t n = irp->Parameters.Write.Length;
    ringbuf_write_keep_last(ring(dev), irp->SystemBuffer, n);
    return DkCompleteRequest(irp, STATUS_SUCCESS, n);
}

static kx_status rl_read(PDEVICE_OBJECT dev, PIRP irp)
{
    struct ringbuf *rb = ring(dev);
    uint64_t off = irp->Parameters.Read.ByteOffset;
    if (off >= ringbuf_used(rb))
        return DkCompleteRequest(irp, STATUS_END_OF_FILE, 0);
    size_t n = ringbuf_peek(rb, (size_t)off, irp->SystemBuffer, irp->Parameters.Read.Length);
    return DkCompleteRequest(irp, STATUS_SUCCESS, n);
}

static kx_status rl_control(PDEVICE_OBJECT dev, PIRP irp)
{
    struct ringbuf *rb = ring(dev);
    size_t in_len = irp->Parameters.DeviceIoControl.InputBufferLength;
    size_t out_len = irp->Parameters.DeviceIoControl.OutputBufferLength;
    switch (irp->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_RINGLOG_CLEAR:
        ringbuf_clear(rb);
        return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
    case IOCTL_RINGLOG_RESIZE: {
        uint32_t size = 0;
        if (in_len != sizeof size)
            return DkCompleteRequest(irp, STATUS_INVALID_PARAMETER, 0);
        memcpy(&size, irp->SystemBuffer, sizeof size);
        if (!size)
            return DkCompleteRequest(irp, STATUS_INVALID_PARAMETER, 0);
        if (ringbuf_resize(rb, size) != 0)
            return DkCompleteRequest(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
        return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
    }
    case IOCTL_RINGLOG_GET_INFO: {
        struct ringlog_info info = {ringbuf_used(rb), ringbuf_capacity(rb)};
        if (out_len < sizeof info)
            return DkCompleteRequest(irp, STATUS_BUFFER_TOO_SMALL, 0);
        memcpy(irp->SystemBuffer, &info, sizeof info);
        return DkCompleteRequest(irp, STATUS_SUCCESS, sizeof info);
    }
    default:
        return DkCompleteRequest(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

static kx_status rl_query(PDEVICE_OBJECT dev, PIRP irp)
{
    if (irp->Parameters.QueryFile.FileInformationClass != FileStandardInformation)
        return DkCompleteRequest(irp, STATUS_INVALID_PARAMETER, 0);
    if (irp->Parameters.QueryFile.Length < sizeof(FILE_STANDARD_INFORMATION))
        return DkCompleteRequest(irp, STATUS_BUFFER_TOO_SMALL, 0);
    FILE_STANDARD_INFORMATION info = {0};
    info.AllocationSize = (int64_t)ringbuf_capacity(ring(dev));
    info.EndOfFile = (int64_t)ringbuf_used(ring(dev));
    info.NumberOfLinks = 1;
    memcpy(irp->SystemBuffer, &info, sizeof info);
    return DkCompleteRequest(irp, STATUS_SUCCESS, sizeof info);
}

static void rl_unload(PDRIVER_OBJECT drv)
{
    DkDeleteSymbolicLink(RINGLOG_LINK);
    PDEVICE_OBJECT dev = drv->DeviceObject;
    if (dev) {
        ringbuf_free(ring(dev));
        DkDeleteDevice(dev);
    }
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->MajorFunction[IRP_MJ_READ] = rl_read;
    drv->MajorFunction[IRP_MJ_WRITE] = rl_write;
    drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = rl_control;
    drv->MajorFunction[IRP_MJ_QUERY_INFORMATION] = rl_query;
    drv->DriverUnload = rl_unload;
    PDEVICE_OBJECT dev;
    kx_status st = DkCreateDevice(drv, RINGLOG_DEVICE, sizeof(struct ringlog_ext), &dev);
    if (st != STATUS_SUCCESS)
        return st;
    struct ringlog_ext *ext = dev->DeviceExtension;
    if (!(ext->rb = ringbuf_new(RINGLOG_DEFAULT_SIZE))) {
        DkDeleteDevice(dev);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    DkSetDeviceSecurity(dev, 0, 0, 0644); /* a log: everyone reads, root writes */
    if ((st = DkCreateSymbolicLink(RINGLOG_LINK, RINGLOG_DEVICE)) != STATUS_SUCCESS) {
        ringbuf_free(ext->rb);
        DkDeleteDevice(dev);
    }
    return st;
}
