/* zero.c — /dev/zero: reads return as many zero bytes as asked for, writes
 * are accepted and discarded. */
#include <kx/kmdf.h>
#include <string.h>

KX_DRIVER_INFO("Zero", DRIVER_TYPE_KMD, 900, KX_KEXT_VERSION);

#define ZERO_DEVICE "\\Device\\Zero0"
#define ZERO_LINK   "/dev/zero"

/* Zeroes buf, writing only from the first block that is not zero already:
 * a buffer reused for reads of this device (kxd's bulk slot for a
 * streaming reader) is zero, and reading it is cheaper than dirtying lines
 * that another CPU just read. */
static void zero_fill(unsigned char *buf, size_t n)
{
    static const unsigned char zeros[4096];
    size_t off = 0;
    while (n - off >= sizeof zeros && memcmp(buf + off, zeros, sizeof zeros) == 0)
        off += sizeof zeros;
    memset(buf + off, 0, n - off);
}

static kx_status zero_read(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    size_t n = irp->Parameters.Read.Length;
    if (n) /* the buffer may hold what an earlier request left */
        zero_fill(irp->SystemBuffer, n);
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
