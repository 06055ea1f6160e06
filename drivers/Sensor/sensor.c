/* sensor.c — a component-mode (CMD) driver: kx runs one instance per KXComponent of type
 * "sensor", and each instance reaches only its own component's hardware.
 *
 *   \Device\sensor_<addr6>   linked as /dev/sensor_<addr6>_0 (DkCreateComponentDevice)
 *   read:   the value register (offset 0, 32-bit little-endian) as decimal text and a
 *           newline, read through the instance's hardware proxy at every read
 *
 * The component's address is bound only while AddDevice and RemoveDevice run, so AddDevice
 * opens the proxy and keeps it beside the device; RemoveDevice releases it. A read after the
 * component is gone fails with STATUS_DEVICE_REMOVED.
 */
#include <kx/kmdf.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

KX_DRIVER_INFO("Sensor", DRIVER_TYPE_CMD, 500, KX_KEXT_VERSION);

#define VALUE_REGISTER 0

/* One instance: its component's device and proxy. */
struct sensor {
    struct sensor *next;
    KX_REGISTRY_ID instance;
    PDEVICE_OBJECT dev;
    PKX_HARDWARE_PROXY proxy;
};

static struct sensor *sensor_of(PDRIVER_OBJECT drv, PDEVICE_OBJECT dev)
{
    for (struct sensor *s = drv->DriverExtension; s; s = s->next)
        if (s->dev == dev)
            return s;
    return NULL;
}

static kx_status sensor_read(PDEVICE_OBJECT dev, PIRP irp)
{
    struct sensor *s = sensor_of(dev->DriverObject, dev);
    if (!s)
        return DkCompleteRequest(irp, STATUS_DEVICE_REMOVED, 0);
    unsigned char reg[4];
    kx_status st = DkProxyRead(s->proxy, VALUE_REGISTER, reg, sizeof reg);
    if (st != STATUS_SUCCESS)
        return DkCompleteRequest(irp, st, 0);
    char text[16];
    uint32_t value = (uint32_t)reg[0] | (uint32_t)reg[1] << 8 | (uint32_t)reg[2] << 16 |
                     (uint32_t)reg[3] << 24;
    int n = snprintf(text, sizeof text, "%u\n", value);
    uint64_t off = irp->Parameters.Read.ByteOffset;
    if (n <= 0 || off >= (uint64_t)n)
        return DkCompleteRequest(irp, STATUS_END_OF_FILE, 0);
    size_t len = (size_t)n - (size_t)off;
    if (len > irp->Parameters.Read.Length)
        len = irp->Parameters.Read.Length;
    memcpy(irp->SystemBuffer, text + off, len);
    return DkCompleteRequest(irp, STATUS_SUCCESS, len);
}

static kx_status sensor_add_device(PDRIVER_OBJECT drv, PKX_PROVIDER prov)
{
    char address[40];
    kx_status st = DkGetComponentAddress(drv, address, sizeof address);
    if (st != STATUS_SUCCESS)
        return st;
    struct sensor *s = calloc(1, sizeof *s);
    if (!s)
        return STATUS_INSUFFICIENT_RESOURCES;
    s->instance = prov->Instance;
    st = DkGetHardwareProxy(drv, address, &s->proxy);
    if (st == STATUS_SUCCESS)
        st = DkCreateComponentDevice(drv, "sensor", &s->dev);
    if (st != STATUS_SUCCESS) {
        if (s->proxy)
            DkReleaseHardwareProxy(s->proxy);
        free(s);
        DkPrint("Sensor: %s: %s", address, DkStatusName(st));
        return st;
    }
    DkSetDeviceSecurity(s->dev, 0, 0, 0444);
    s->next = drv->DriverExtension;
    drv->DriverExtension = s;
    return STATUS_SUCCESS;
}

static void sensor_remove_device(PDRIVER_OBJECT drv, PKX_PROVIDER prov)
{
    for (struct sensor **pp = (struct sensor **)&drv->DriverExtension; *pp; pp = &(*pp)->next)
        if ((*pp)->instance == prov->Instance) {
            struct sensor *s = *pp;
            *pp = s->next;
            DkDeleteDevice(s->dev); /* its link goes with it */
            DkReleaseHardwareProxy(s->proxy);
            free(s);
            return;
        }
}

static void sensor_unload(PDRIVER_OBJECT drv)
{
    (void)drv; /* every instance went with its component */
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->MajorFunction[IRP_MJ_READ] = sensor_read;
    drv->AddDevice = sensor_add_device;
    drv->RemoveDevice = sensor_remove_device;
    drv->DriverUnload = sensor_unload;
    return STATUS_SUCCESS;
}
