/* compkext.c — the component tests' drivers, one source built as CompKMD, CompCMD and
 * CompUMD (COMPKEXT_TYPE). Each matches KXComponents of type "probe" (CompCMD also "bulk")
 * and per component creates DkCreateComponentDevice(..., COMPKEXT_DEVICE):
 *
 *   read at offset 0:      "own=<status> other=<status> value=<n>\n": what DkGetHardwareProxy
 *                          said in AddDevice for its own component and for the address in the
 *                          component's "other" property, and the value register read through
 *                          its own proxy now (0 without one); a proxy opened in the read
 *                          routine, where no component is bound, must be refused to a CMD
 *   read at offset 8:      the "other" component's value register, through the proxy kept
 *                          since AddDevice (a KMD's): its status once that component is gone
 *   read at offset 4096:   pends until cancelled or the component is removed
 */
#include <kx/kmdf.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

KX_DRIVER_INFO(COMPKEXT_NAME, COMPKEXT_TYPE, 500, KX_KEXT_VERSION);

#define PEND_OFFSET 4096

/* One instance: the addresses it was given while bound. */
struct probe {
    struct probe *next;
    KX_REGISTRY_ID instance;
    PDEVICE_OBJECT dev;
    char own[40], other[40];
    PKX_HARDWARE_PROXY proxy, other_proxy;
    kx_status own_status, other_status;
};

static struct probe *probe_of(PDRIVER_OBJECT drv, PDEVICE_OBJECT dev)
{
    for (struct probe *p = drv->DriverExtension; p; p = p->next)
        if (p->dev == dev)
            return p;
    return NULL;
}

static uint32_t value_of(const unsigned char reg[4])
{
    return (uint32_t)reg[0] | (uint32_t)reg[1] << 8 | (uint32_t)reg[2] << 16 |
           (uint32_t)reg[3] << 24;
}

/* Opens address's proxy and lets it go again. */
static kx_status try_proxy(PDRIVER_OBJECT drv, const char *address)
{
    PKX_HARDWARE_PROXY proxy;
    kx_status st = DkGetHardwareProxy(drv, address, &proxy);
    if (st == STATUS_SUCCESS)
        DkReleaseHardwareProxy(proxy);
    return st;
}

static void cancel_read(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

static kx_status comp_read(PDEVICE_OBJECT dev, PIRP irp)
{
    struct probe *p = probe_of(dev->DriverObject, dev);
    if (!p)
        return DkCompleteRequest(irp, STATUS_DEVICE_REMOVED, 0);
    if (irp->Parameters.Read.ByteOffset == PEND_OFFSET) {
        DkMarkIrpPending(irp);
        if (DkSetCancelRoutine(irp, cancel_read) == STATUS_CANCELLED)
            DkCompleteRequest(irp, STATUS_CANCELLED, 0);
        return STATUS_PENDING;
    }
    char text[160];
    unsigned char reg[4] = {0};
    if (irp->Parameters.Read.ByteOffset == 8 && p->other_proxy) {
        kx_status st = DkProxyRead(p->other_proxy, 0, reg, sizeof reg);
        if (st != STATUS_SUCCESS)
            return DkCompleteRequest(irp, st, 0);
        int n = snprintf(text, sizeof text, "other value=%u\n", value_of(reg));
        size_t len = n > 0 && (size_t)n <= irp->Parameters.Read.Length ? (size_t)n : 0;
        memcpy(irp->SystemBuffer, text, len);
        return DkCompleteRequest(irp, STATUS_SUCCESS, len);
    }
    if (irp->Parameters.Read.ByteOffset)
        return DkCompleteRequest(irp, STATUS_END_OF_FILE, 0);
    if (p->proxy) {
        kx_status st = DkProxyRead(p->proxy, 0, reg, sizeof reg);
        if (st != STATUS_SUCCESS)
            return DkCompleteRequest(irp, st, 0);
    }
    uint32_t value = value_of(reg);
    kx_status unbound = try_proxy(dev->DriverObject, p->own);
    if ((COMPKEXT_TYPE == DRIVER_TYPE_KMD) != (unbound == STATUS_SUCCESS))
        return DkCompleteRequest(irp, STATUS_INTERNAL_ERROR, 0);
    int n = snprintf(text, sizeof text, "own=%s other=%s value=%u\n",
                     DkStatusName(p->own_status), DkStatusName(p->other_status), value);
    size_t len = n > 0 ? (size_t)n : 0;
    if (len > irp->Parameters.Read.Length)
        len = irp->Parameters.Read.Length;
    memcpy(irp->SystemBuffer, text, len);
    return DkCompleteRequest(irp, STATUS_SUCCESS, len);
}

static kx_status comp_add_device(PDRIVER_OBJECT drv, PKX_PROVIDER prov)
{
    struct probe *p = calloc(1, sizeof *p);
    if (!p)
        return STATUS_INSUFFICIENT_RESOURCES;
    p->instance = prov->Instance;
    KX_PROPERTY_TYPE type;
    kx_status st = DkGetComponentAddress(drv, p->own, sizeof p->own);
    if (st == STATUS_SUCCESS &&
        DkGetProperty(drv, prov->Nub, "other", &type, p->other, sizeof p->other, NULL) !=
            STATUS_SUCCESS)
        strcpy(p->other, "none");
    if (st == STATUS_SUCCESS) {
        p->own_status = DkGetHardwareProxy(drv, p->own, &p->proxy);
        p->other_status = DkGetHardwareProxy(drv, p->other, &p->other_proxy);
        st = DkCreateComponentDevice(drv, COMPKEXT_DEVICE, &p->dev);
    }
    if (st != STATUS_SUCCESS) {
        DkPrint("%s: no device for %s: %s", COMPKEXT_NAME, p->own, DkStatusName(st));
        if (p->proxy)
            DkReleaseHardwareProxy(p->proxy);
        if (p->other_proxy)
            DkReleaseHardwareProxy(p->other_proxy);
        free(p);
        return st;
    }
    DkSetDeviceSecurity(p->dev, 0, 0, 0444);
    p->next = drv->DriverExtension;
    drv->DriverExtension = p;
    return STATUS_SUCCESS;
}

static void comp_remove_device(PDRIVER_OBJECT drv, PKX_PROVIDER prov)
{
    /* The device is left to the framework (it deletes it and its link): only the record
     * goes. */
    for (struct probe **pp = (struct probe **)&drv->DriverExtension; *pp; pp = &(*pp)->next)
        if ((*pp)->instance == prov->Instance) {
            struct probe *p = *pp;
            *pp = p->next;
            if (p->proxy)
                DkReleaseHardwareProxy(p->proxy);
            if (p->other_proxy)
                DkReleaseHardwareProxy(p->other_proxy);
            free(p);
            return;
        }
}

static void comp_unload(PDRIVER_OBJECT drv)
{
    (void)drv;
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    /* No component is bound outside AddDevice. */
    char address[40];
    if (DkGetComponentAddress(drv, address, sizeof address) != STATUS_NO_COMPONENT_BOUND)
        return STATUS_INTERNAL_ERROR;
    PDEVICE_OBJECT dev;
    if (DkCreateComponentDevice(drv, COMPKEXT_DEVICE, &dev) != STATUS_NO_COMPONENT_BOUND)
        return STATUS_INTERNAL_ERROR;
    drv->MajorFunction[IRP_MJ_READ] = comp_read;
    drv->AddDevice = comp_add_device;
    drv->RemoveDevice = comp_remove_device;
    drv->DriverUnload = comp_unload;
    return STATUS_SUCCESS;
}
