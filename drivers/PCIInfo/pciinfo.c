/* pciinfo.c — a driver that drives matched hardware: its personality takes
 * every IOPCIDevice nub (in a match category of its own and at a low score,
 * so it never stands in another driver's way), and per match it creates a
 * device that describes the function it was given:
 *
 *   \Device\PCIInfo_<n>   linked as /dev/pciinfo-<location>
 *   read:   one line of text, "pci8086,15b8 at 1f,6: vendor 0x8086 device 0x15b8
 *           subsystem 0x8086:0x0000 class 0x020000 revision 0x10\n", from the
 *           nub's properties (the ones the platform publishes as Apple does)
 *
 * It shows the shape of a matched driver: AddDevice per nub, state in the
 * device extension (never in globals: one driver drives many functions),
 * properties read with DkGetProperty, RemoveDevice undoing AddDevice when the
 * function goes away (hot-unplug, kextunload).
 */
#include <kx/kmdf.h>

#include <stdio.h>
#include <string.h>

KX_DRIVER_INFO("PCIInfo", DRIVER_TYPE_KMD, 500, KX_KEXT_VERSION);

struct pciinfo {
    KX_REGISTRY_ID nub;
    char link[96];
    char text[256];
    size_t len;
};

/* A 4-byte little-endian data property (vendor-id and friends); 0 if absent. */
static uint32_t le32_prop(PDRIVER_OBJECT drv, KX_REGISTRY_ID nub, const char *key)
{
    unsigned char b[4] = {0};
    KX_PROPERTY_TYPE type;
    size_t n = 0;
    if (DkGetProperty(drv, nub, key, &type, b, sizeof b, &n) != STATUS_SUCCESS ||
        type != KxPropertyData || n != sizeof b)
        return 0;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static kx_status pciinfo_read(PDEVICE_OBJECT dev, PIRP irp)
{
    struct pciinfo *p = dev->DeviceExtension;
    uint64_t off = irp->Parameters.Read.ByteOffset;
    if (off >= p->len)
        return DkCompleteRequest(irp, STATUS_END_OF_FILE, 0);
    size_t n = p->len - (size_t)off;
    if (n > irp->Parameters.Read.Length)
        n = irp->Parameters.Read.Length;
    memcpy(irp->SystemBuffer, p->text + off, n);
    return DkCompleteRequest(irp, STATUS_SUCCESS, n);
}

static kx_status pciinfo_add_device(PDRIVER_OBJECT drv, PKX_PROVIDER prov)
{
    char name[64];
    /* The instance id is unique and never reused: a name nobody else has. */
    snprintf(name, sizeof name, "\\Device\\PCIInfo_%llx", (unsigned long long)prov->Instance);
    PDEVICE_OBJECT dev;
    kx_status st = DkCreateDevice(drv, name, sizeof(struct pciinfo), &dev);
    if (st != STATUS_SUCCESS)
        return st;
    DkSetDeviceSecurity(dev, 0, 0, 0444);
    struct pciinfo *p = dev->DeviceExtension;
    p->nub = prov->Nub;
    uint32_t class_rev = le32_prop(drv, prov->Nub, "class-code");
    int n = snprintf(p->text, sizeof p->text,
                     "%s at %s: vendor 0x%04x device 0x%04x subsystem 0x%04x:0x%04x class 0x%06x "
                     "revision 0x%02x\n",
                     prov->NubName, prov->NubLocation,
                     le32_prop(drv, prov->Nub, "vendor-id"), le32_prop(drv, prov->Nub, "device-id"),
                     le32_prop(drv, prov->Nub, "subsystem-vendor-id"),
                     le32_prop(drv, prov->Nub, "subsystem-id"), class_rev & 0xffffff,
                     le32_prop(drv, prov->Nub, "revision-id"));
    p->len = n > 0 && (size_t)n < sizeof p->text ? (size_t)n : 0;
    snprintf(p->link, sizeof p->link, "/dev/pciinfo-%s",
             prov->NubLocation[0] ? prov->NubLocation : prov->NubName);
    st = DkCreateSymbolicLink(p->link, name);
    if (st == STATUS_SUCCESS)
        DkPrint("PCIInfo: %s", p->text);
    return st; /* on failure the framework deletes the device */
}

static void pciinfo_remove_device(PDRIVER_OBJECT drv, PKX_PROVIDER prov)
{
    for (PDEVICE_OBJECT d = drv->DeviceObject; d; d = d->NextDevice) {
        struct pciinfo *p = d->DeviceExtension;
        if (p->nub == prov->Nub) {
            DkDeleteSymbolicLink(p->link);
            DkDeleteDevice(d);
            return;
        }
    }
}

static void pciinfo_unload(PDRIVER_OBJECT drv)
{
    (void)drv; /* every device went with its match */
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->MajorFunction[IRP_MJ_READ] = pciinfo_read;
    drv->AddDevice = pciinfo_add_device;
    drv->RemoveDevice = pciinfo_remove_device;
    drv->DriverUnload = pciinfo_unload;
    return STATUS_SUCCESS;
}
