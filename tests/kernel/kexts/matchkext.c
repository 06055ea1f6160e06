/* matchkext.c — the matching tests' drivers, one source built several ways
 * (MATCHKEXT_MODE); each personality is in tests/kernel/kexts/CMakeLists.txt.
 *   1 MatchPCI      an Intel I219 (IOPCIMatch 0x15b88086): per match a device
 *                   /dev/matchpci-<location> whose reads pend and whose control
 *                   returns the nub's vendor-id; publishes a KXTestChild nub
 *                   and the resource KXTestResource; RemoveDevice cleans up
 *   2 MatchDecline  the same nub at IOProbeScore 100; its Probe declines
 *   3 MatchFail     the same nub at IOProbeScore 50; AddDevice fails after
 *                   creating a device (the framework deletes it)
 *   4 MatchChild    matches KXTestChild nubs with kx-test = 7
 *   5 MatchWaiter   IOResources, waiting for the resource KXTestResource
 *   6 NoPersonality no personalities: loads only on request
 *   7 NoMatch       a personality no nub matches
 * Every step is a DkPrint line ("<Name>: <step> <nub>") the tests look for.
 */
#include <kx/kmdf.h>

#include <stdio.h>
#include <string.h>

KX_DRIVER_INFO(MATCHKEXT_NAME, DRIVER_TYPE_KMD, 500, KX_KEXT_VERSION);

#define IOCTL_MATCH_VENDOR CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

struct ext {
    char link[96];
    KX_REGISTRY_ID nub;
};

static void cancel_read(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

static kx_status pend_read(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    if (DkSetCancelRoutine(irp, cancel_read) != STATUS_SUCCESS)
        return DkCompleteRequest(irp, STATUS_CANCELLED, 0);
    DkMarkIrpPending(irp);
    return STATUS_PENDING;
}

static kx_status control(PDEVICE_OBJECT dev, PIRP irp)
{
    struct ext *e = dev->DeviceExtension;
    if (irp->Parameters.DeviceIoControl.IoControlCode != IOCTL_MATCH_VENDOR)
        return DkCompleteRequest(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    KX_PROPERTY_TYPE type;
    size_t got = 0;
    kx_status st = DkGetProperty(dev->DriverObject, e->nub, "vendor-id", &type, irp->SystemBuffer,
                                 irp->Parameters.DeviceIoControl.OutputBufferLength, &got);
    if (st == STATUS_SUCCESS && type != KxPropertyData)
        st = STATUS_DATA_ERROR;
    return DkCompleteRequest(irp, st, st == STATUS_SUCCESS ? got : 0);
}

/* \Device\<Name>_<n> and /dev/<lower name>[-<location>] for a match. */
__attribute__((unused)) static kx_status make_device(PDRIVER_OBJECT drv, PKX_PROVIDER p,
                                                     const char *link_base)
{
    static unsigned counter;
    char name[96], link[96];
    snprintf(name, sizeof name, "\\Device\\%s_%u", MATCHKEXT_NAME, counter++);
    if (p->NubLocation[0])
        snprintf(link, sizeof link, "/dev/%s-%s", link_base, p->NubLocation);
    else
        snprintf(link, sizeof link, "/dev/%s", link_base);
    PDEVICE_OBJECT dev;
    kx_status st = DkCreateDevice(drv, name, sizeof(struct ext), &dev);
    if (st != STATUS_SUCCESS)
        return st;
    DkSetDeviceSecurity(dev, 0, 0, 0666);
    struct ext *e = dev->DeviceExtension;
    snprintf(e->link, sizeof e->link, "%s", link);
    e->nub = p->Nub;
    return DkCreateSymbolicLink(link, name);
}

static void remove_device(PDRIVER_OBJECT drv, PKX_PROVIDER p)
{
    DkPrint("%s: RemoveDevice %s", MATCHKEXT_NAME, p->NubName);
    for (PDEVICE_OBJECT d = drv->DeviceObject; d; d = d->NextDevice) {
        struct ext *e = d->DeviceExtension;
        if (e && e->nub == p->Nub) {
            DkDeleteSymbolicLink(e->link);
            DkDeleteDevice(d);
            return; /* one device per match */
        }
    }
}

static kx_status add_device(PDRIVER_OBJECT drv, PKX_PROVIDER p)
{
    DkPrint("%s: AddDevice %s %s", MATCHKEXT_NAME, p->NubName, p->IOClass);
#if MATCHKEXT_MODE == 1
    kx_status st = make_device(drv, p, "matchpci");
    uint8_t yes = 1;
    if (st == STATUS_SUCCESS)
        st = DkSetProperty(drv, p->Instance, "KXTestSeen", KxPropertyBoolean, &yes, 1);
    if (st == STATUS_SUCCESS)
        st = DkPublishNub(drv, p->Instance, "KXTestChild", "child", p->NubLocation,
                          "<?xml version=\"1.0\"?><plist version=\"1.0\"><dict><key>kx-test</key>"
                          "<integer>7</integer></dict></plist>",
                          NULL);
    if (st == STATUS_SUCCESS)
        st = DkPublishResource(drv, "KXTestResource");
    /* A nub's properties belong to its family, not to its drivers. */
    uint8_t no = 0;
    if (st == STATUS_SUCCESS &&
        DkSetProperty(drv, p->Nub, "KXTestSeen", KxPropertyBoolean, &no, 1) != STATUS_ACCESS_DENIED)
        st = STATUS_UNSUCCESSFUL;
    return st;
#elif MATCHKEXT_MODE == 3
    PDEVICE_OBJECT dev;
    DkCreateDevice(drv, "\\Device\\MatchFail", 0, &dev);
    return STATUS_DRIVER_INIT_FAILED;
#elif MATCHKEXT_MODE == 4
    return make_device(drv, p, "matchchild");
#elif MATCHKEXT_MODE == 5
    return make_device(drv, p, "matchwaiter");
#else
    (void)drv;
    return STATUS_SUCCESS;
#endif
}

static kx_status probe(PDRIVER_OBJECT drv, PKX_PROVIDER p, int32_t *score)
{
    (void)drv;
    DkPrint("%s: Probe %s score %d", MATCHKEXT_NAME, p->NubName, (int)*score);
    return MATCHKEXT_MODE == 2 ? STATUS_NO_SUCH_DEVICE : STATUS_SUCCESS;
}

static void unload(PDRIVER_OBJECT drv)
{
    (void)drv;
    DkPrint("%s: DriverUnload", MATCHKEXT_NAME);
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->MajorFunction[IRP_MJ_READ] = pend_read;
    drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = control;
    drv->Probe = probe;
    drv->AddDevice = add_device;
    drv->RemoveDevice = remove_device;
    drv->DriverUnload = unload;
    DkPrint("%s: DriverEntry", MATCHKEXT_NAME);
    return STATUS_SUCCESS;
}
