/* null.c — the seed's /dev/null (AxisOS KMDF tutorial, section 5.1) in C:
 * \Device\Null0 linked as /dev/null; writes succeed reporting their length,
 * reads end at once with STATUS_END_OF_FILE and 0 bytes.
 *
 * Unlike the Lua original it keeps no module-level device pointer (one .so
 * may serve several driver instances): DriverUnload finds its device in
 * DriverObject->DeviceObject.
 */
#include <kx/kmdf.h>

KX_DRIVER_INFO("Null", DRIVER_TYPE_KMD, 900, KX_KEXT_VERSION);

#define NULL_DEVICE "\\Device\\Null0"
#define NULL_LINK   "/dev/null"

static kx_status null_create(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    DkPrint("NULL: IRP_MJ_CREATE received.");
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static kx_status null_close(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    DkPrint("NULL: IRP_MJ_CLOSE received.");
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static kx_status null_write(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    size_t n = irp->Parameters.Write.Length;
    DkPrint("NULL: IRP_MJ_WRITE received, discarding %zu bytes.", n);
    return DkCompleteRequest(irp, STATUS_SUCCESS, n);
}

static kx_status null_read(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    DkPrint("NULL: IRP_MJ_READ received, returning EOF.");
    return DkCompleteRequest(irp, STATUS_END_OF_FILE, 0);
}

static void null_unload(PDRIVER_OBJECT drv)
{
    DkPrint("Null DriverUnload starting.");
    /* Reverse order of creation: the link, then the device. */
    DkDeleteSymbolicLink(NULL_LINK);
    if (drv->DeviceObject)
        DkDeleteDevice(drv->DeviceObject);
    DkPrint("Null DriverUnload completed.");
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    DkPrint("Null DriverEntry starting.");
    drv->MajorFunction[IRP_MJ_CREATE] = null_create;
    drv->MajorFunction[IRP_MJ_CLOSE] = null_close;
    drv->MajorFunction[IRP_MJ_WRITE] = null_write;
    drv->MajorFunction[IRP_MJ_READ] = null_read;
    drv->DriverUnload = null_unload;

    PDEVICE_OBJECT dev;
    kx_status st = DkCreateDevice(drv, NULL_DEVICE, 0, &dev);
    if (st != STATUS_SUCCESS) {
        DkPrint("NULL: Failed to create device object. Status: %s", DkStatusName(st));
        return st;
    }
    DkSetDeviceSecurity(dev, 0, 0, 0666); /* everyone may read and write, as on Unix */
    st = DkCreateSymbolicLink(NULL_LINK, NULL_DEVICE);
    if (st != STATUS_SUCCESS) {
        DkPrint("NULL: Failed to create symbolic link. Status: %s", DkStatusName(st));
        DkDeleteDevice(dev);
        return st;
    }
    DkPrint("Null DriverEntry completed successfully.");
    return STATUS_SUCCESS;
}
