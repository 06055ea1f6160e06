/* filter.c — Filter, the layered-driver test kext: /dev/Filter passes every
 * request (CREATE, CLOSE, READ, WRITE, DEVICE_CONTROL) to /dev/Crash with
 * DkGetDeviceObjectPointer + DkCallDriver. Crash runs in a kx-host of its
 * own, so each request crosses from this host to the other one. */
#include <kx/kmdf.h>

KX_DRIVER_INFO("Filter", DRIVER_TYPE_KMD, 500, KX_KEXT_VERSION);

static PDEVICE_OBJECT lower; /* the proxy of Crash's device, from the first open */

static kx_status pass_down(PDEVICE_OBJECT dev, PIRP irp)
{
    kx_status st = STATUS_SUCCESS;
    if (!lower)
        st = DkGetDeviceObjectPointer(dev->DriverObject, "/dev/Crash", &lower);
    if (st == STATUS_SUCCESS)
        st = DkCallDriver(lower, irp);
    if (st == STATUS_PENDING)
        return STATUS_PENDING;
    DkPrint("Filter: passing the request down failed");
    return DkCompleteRequest(irp, st, 0);
}

static void filter_unload(PDRIVER_OBJECT drv)
{
    if (lower)
        DkDereferenceDeviceObject(lower);
    lower = NULL;
    DkDeleteSymbolicLink("/dev/Filter");
    if (drv->DeviceObject)
        DkDeleteDevice(drv->DeviceObject);
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    PDEVICE_OBJECT dev;
    drv->DriverUnload = filter_unload;
    static const int majors[] = {IRP_MJ_CREATE, IRP_MJ_CLOSE, IRP_MJ_READ, IRP_MJ_WRITE,
                                 IRP_MJ_DEVICE_CONTROL};
    for (size_t i = 0; i < sizeof majors / sizeof majors[0]; i++)
        drv->MajorFunction[majors[i]] = pass_down;
    kx_status st = DkCreateDevice(drv, "\\Device\\Filter0", 0, &dev);
    if (st == STATUS_SUCCESS)
        st = DkSetDeviceSecurity(dev, 0, 0, 0666);
    if (st == STATUS_SUCCESS)
        st = DkCreateSymbolicLink("/dev/Filter", "\\Device\\Filter0");
    return st;
}
