/* zero.c — /dev/zero: reads return as many zero bytes as asked for, writes
 * are accepted and discarded. */
#include <kx/kmdf.h>
#include <string.h>

KX_DRIVER_INFO("Zero", DRIVER_TYPE_KMD, 900, KX_KEXT_VERSION);

#define ZERO_DEVICE "\\Device\\Zero0"
#define ZERO_LINK   "/dev/zero"

static kx_status zero_read(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    size_t n = irp->Parameters.Read.Length;
    if (n)
        memset(irp->SystemBuffer, 0, n); /* the buffer arrives zeroed; say so anyway */
    return DkCompleteRequest(irp, STATUS_SUCCESS, n);
}

static kx_status zero_write(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    return DkCompleteRequest(irp, STATUS_SUCCESS, irp->Parameters.Write.Length);
}

static kx_status zero_query(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    if (irp->Parameters.QueryFile.FileInformationClass != FileStandardInformation)
        return DkCompleteRequest(irp, STATUS_INVALID_PARAMETER, 0);
    if (irp->Parameters.QueryFile.Length < sizeof(FILE_STANDARD_INFORMATION))
        return DkCompleteRequest(irp, STATUS_BUFFER_TOO_SMALL, 0);
    FILE_STANDARD_INFORMATION info = {0, 0, 1, 0, 0}; /* a character device has no size */
    memcpy(irp->SystemBuffer, &info, sizeof info);
    return DkCompleteRequest(irp, STATUS_SUCCESS, sizeof info);
}

static void zero_unload(PDRIVER_OBJECT drv)
{
    DkDeleteSymbolicLink(ZERO_LINK);
    if (drv->DeviceObject)
        DkDeleteDevice(drv->DeviceObject);
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->MajorFunction[IRP_MJ_READ] = zero_read;
    drv->MajorFunction[IRP_MJ_WRITE] = zero_write;
    drv->MajorFunction[IRP_MJ_QUERY_INFORMATION] = zero_query;
    drv->DriverUnload = zero_unload;
    PDEVICE_OBJECT dev;
    kx_status st = DkCreateDevice(drv, ZERO_DEVICE, 0, &dev);
    if (st != STATUS_SUCCESS)
        return st;
    DkSetDeviceSecurity(dev, 0, 0, 0666);
    if ((st = DkCreateSymbolicLink(ZERO_LINK, ZERO_DEVICE)) != STATUS_SUCCESS)
        DkDeleteDevice(dev);
    return st;
}
