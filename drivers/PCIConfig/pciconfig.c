/* pciconfig.c — a KMD driver reaching real hardware through a hardware proxy: its
 * personality takes every IOPCIDevice (in a match category of its own, at a low score, so it
 * stands in no other driver's way), and per function it exposes the configuration space:
 *
 *   \Device\PCIConfig_<instance>   linked as /dev/pciconf_<bus>_<dev>_<fn> (hex, as lspci)
 *   read:   the configuration space's bytes at the read's offset (4096, 256 or 64 of them:
 *           what kxd can read; without CAP_SYS_ADMIN Linux shows 64)
 *
 * Probe declines a nub without a component (a described platform's PCI nub): only the
 * Linux platform puts a KXComponent beside each function and names it in the function's
 * KXComponentAddress. A KMD may open any component's proxy, so AddDevice opens it directly.
 */
#include <kx/kmdf.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

KX_DRIVER_INFO("PCIConfig", DRIVER_TYPE_KMD, 500, KX_KEXT_VERSION);

struct pciconf {
    KX_REGISTRY_ID instance;
    PKX_HARDWARE_PROXY proxy;
    uint32_t size; /* readable bytes of configuration space */
    char link[64];
};

static kx_status string_prop(PDRIVER_OBJECT drv, KX_REGISTRY_ID nub, const char *key, char *buf,
                             size_t len)
{
    KX_PROPERTY_TYPE type;
    kx_status st = DkGetProperty(drv, nub, key, &type, buf, len, NULL);
    return st == STATUS_SUCCESS && type != KxPropertyString ? STATUS_OBJECT_NAME_NOT_FOUND : st;
}

/* "bus:dev:fn" in decimal: 1 if where is exactly that. */
static int parse_bdf(const char *where, unsigned *bus, unsigned *slot, unsigned *fn)
{
    unsigned *v[3] = {bus, slot, fn};
    const char *at = where;
    for (int i = 0; i < 3; i++) {
        char *end;
        if (*at < '0' || *at > '9')
            return 0;
        unsigned long n = strtoul(at, &end, 10);
        if (n > 0xFFFF || *end != (i < 2 ? ':' : '\0'))
            return 0;
        *v[i] = (unsigned)n;
        at = end + (i < 2);
    }
    return 1;
}

static kx_status pciconf_probe(PDRIVER_OBJECT drv, PKX_PROVIDER prov, int32_t *score)
{
    (void)score;
    char address[40];
    return string_prop(drv, prov->Nub, "KXComponentAddress", address, sizeof address);
}

static kx_status pciconf_read(PDEVICE_OBJECT dev, PIRP irp)
{
    struct pciconf *p = dev->DeviceExtension;
    uint64_t off = irp->Parameters.Read.ByteOffset;
    if (off >= p->size)
        return DkCompleteRequest(irp, STATUS_END_OF_FILE, 0);
    size_t n = p->size - (size_t)off;
    if (n > irp->Parameters.Read.Length)
        n = irp->Parameters.Read.Length;
    kx_status st = DkProxyRead(p->proxy, (uint32_t)off, irp->SystemBuffer, n);
    return DkCompleteRequest(irp, st, st == STATUS_SUCCESS ? n : 0);
}

static kx_status pciconf_add_device(PDRIVER_OBJECT drv, PKX_PROVIDER prov)
{
    char address[40], where[32], name[64];
    unsigned bus = 0, slot = 0, fn = 0;
    kx_status st = string_prop(drv, prov->Nub, "KXComponentAddress", address, sizeof address);
    if (st == STATUS_SUCCESS)
        st = string_prop(drv, prov->Nub, "pcidebug", where, sizeof where); /* "bus:dev:fn" */
    if (st == STATUS_SUCCESS && !parse_bdf(where, &bus, &slot, &fn))
        st = STATUS_DATA_ERROR;
    if (st != STATUS_SUCCESS)
        return st;
    snprintf(name, sizeof name, "\\Device\\PCIConfig_%llx", (unsigned long long)prov->Instance);
    PDEVICE_OBJECT dev;
    if ((st = DkCreateDevice(drv, name, sizeof(struct pciconf), &dev)) != STATUS_SUCCESS)
        return st;
    struct pciconf *p = dev->DeviceExtension;
    p->instance = prov->Instance;
    if ((st = DkGetHardwareProxy(drv, address, &p->proxy)) != STATUS_SUCCESS)
        return st; /* the framework deletes the device */
    /* The largest space that reads to its last byte. */
    static const uint32_t sizes[] = {4096, 256, 64};
    unsigned char last;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0] && !p->size; i++)
        if (DkProxyRead(p->proxy, sizes[i] - 1, &last, 1) == STATUS_SUCCESS)
            p->size = sizes[i];
    DkSetDeviceSecurity(dev, 0, 0, 0444);
    snprintf(p->link, sizeof p->link, "/dev/pciconf_%02x_%02x_%x", bus, slot, fn);
    st = DkCreateSymbolicLink(p->link, name);
    if (st != STATUS_SUCCESS) {
        DkReleaseHardwareProxy(p->proxy);
        p->proxy = NULL;
    }
    return st;
}

static void pciconf_remove_device(PDRIVER_OBJECT drv, PKX_PROVIDER prov)
{
    for (PDEVICE_OBJECT d = drv->DeviceObject; d; d = d->NextDevice) {
        struct pciconf *p = d->DeviceExtension;
        if (p->instance == prov->Instance) {
            DkDeleteSymbolicLink(p->link);
            if (p->proxy)
                DkReleaseHardwareProxy(p->proxy);
            p->proxy = NULL;
            DkDeleteDevice(d);
            return;
        }
    }
}

static void pciconf_unload(PDRIVER_OBJECT drv)
{
    (void)drv; /* every device went with its match */
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->MajorFunction[IRP_MJ_READ] = pciconf_read;
    drv->Probe = pciconf_probe;
    drv->AddDevice = pciconf_add_device;
    drv->RemoveDevice = pciconf_remove_device;
    drv->DriverUnload = pciconf_unload;
    return STATUS_SUCCESS;
}
