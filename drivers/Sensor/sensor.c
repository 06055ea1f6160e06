/* sensor.c — a component-mode (CMD) driver: kx runs one instance per KXComponent of type
 * "sensor", and each instance reaches only its own component's hardware.
 *
 *   \Device\sensor_<addr6>   linked as /dev/sensor_<addr6>_0 (DkCreateComponentDevice)
 *   read:   pends until a `sample_ready` event whose source is the component's address, then
 *           answers the value register (offset 0, 32-bit little-endian) as decimal text and
 *           a newline, read through the instance's hardware proxy at that moment
 *
 * The component's address is bound only while AddDevice and RemoveDevice run, so AddDevice
 * opens the proxy and keeps it, with the address, beside the device; RemoveDevice releases it
 * and completes the reads still waiting with STATUS_DEVICE_REMOVED. Events, dispatch and
 * cancel routines all run on the driver's dispatch thread, so the lists need no lock.
 */
#include <kx/kmdf.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

KX_DRIVER_INFO("Sensor", DRIVER_TYPE_CMD, 500, KX_KEXT_VERSION);

#define VALUE_REGISTER 0
#define SAMPLE_EVENT "sample_ready"

struct pending_read {
    struct pending_read *next;
    PIRP irp;
};

/* One instance: its component's address, device, proxy and waiting reads. */
struct sensor {
    struct sensor *next;
    KX_REGISTRY_ID instance;
    PDEVICE_OBJECT dev;
    PKX_HARDWARE_PROXY proxy;
    struct pending_read *reads;
    char address[40];
};

static struct sensor *sensor_of(PDRIVER_OBJECT drv, PDEVICE_OBJECT dev)
{
    for (struct sensor *s = drv->DriverExtension; s; s = s->next)
        if (s->dev == dev)
            return s;
    return NULL;
}

/* Answers irp with the value register's text from the read's offset on. */
static void complete_with_value(struct sensor *s, PIRP irp)
{
    unsigned char reg[4];
    kx_status st = DkProxyRead(s->proxy, VALUE_REGISTER, reg, sizeof reg);
    if (st != STATUS_SUCCESS) {
        DkCompleteRequest(irp, st, 0);
        return;
    }
    char text[16];
    uint32_t value = (uint32_t)reg[0] | (uint32_t)reg[1] << 8 | (uint32_t)reg[2] << 16 |
                     (uint32_t)reg[3] << 24;
    int n = snprintf(text, sizeof text, "%u\n", value);
    uint64_t off = irp->Parameters.Read.ByteOffset;
    if (n <= 0 || off >= (uint64_t)n) {
        DkCompleteRequest(irp, STATUS_END_OF_FILE, 0);
        return;
    }
    size_t len = (size_t)n - (size_t)off;
    if (len > irp->Parameters.Read.Length)
        len = irp->Parameters.Read.Length;
    memcpy(irp->SystemBuffer, text + off, len);
    DkCompleteRequest(irp, STATUS_SUCCESS, len);
}

/* Takes every waiting read off s and answers it: with the value, or with status when that
 * is not STATUS_SUCCESS. A read whose cancel routine is already due is left to it. */
static void complete_reads(struct sensor *s, kx_status status)
{
    struct pending_read *r = s->reads;
    s->reads = NULL;
    while (r) {
        struct pending_read *next = r->next;
        if (DkSetCancelRoutine(r->irp, NULL) == STATUS_SUCCESS) {
            if (status == STATUS_SUCCESS)
                complete_with_value(s, r->irp);
            else
                DkCompleteRequest(r->irp, status, 0);
        }
        free(r);
        r = next;
    }
}

static void cancel_read(PDEVICE_OBJECT dev, PIRP irp)
{
    struct sensor *s = sensor_of(dev->DriverObject, dev);
    for (struct pending_read **pp = s ? &s->reads : NULL; pp && *pp; pp = &(*pp)->next)
        if ((*pp)->irp == irp) {
            struct pending_read *r = *pp;
            *pp = r->next;
            free(r);
            break;
        }
    DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

static kx_status sensor_read(PDEVICE_OBJECT dev, PIRP irp)
{
    struct sensor *s = sensor_of(dev->DriverObject, dev);
    if (!s)
        return DkCompleteRequest(irp, STATUS_DEVICE_REMOVED, 0);
    struct pending_read *r = calloc(1, sizeof *r);
    if (!r)
        return DkCompleteRequest(irp, STATUS_INSUFFICIENT_RESOURCES, 0);
    DkMarkIrpPending(irp);
    if (DkSetCancelRoutine(irp, cancel_read) == STATUS_CANCELLED) {
        free(r);
        DkCompleteRequest(irp, STATUS_CANCELLED, 0);
        return STATUS_PENDING;
    }
    r->irp = irp;
    r->next = s->reads;
    s->reads = r;
    return STATUS_PENDING;
}

/* A new sample on some component: the instance whose address it names answers its reads. */
static void sensor_sample_ready(PDRIVER_OBJECT drv, const KX_EVENT *event, void *context)
{
    (void)context;
    for (struct sensor *s = drv->DriverExtension; s; s = s->next)
        if (strcasecmp(s->address, event->Source) == 0)
            complete_reads(s, STATUS_SUCCESS);
}

static kx_status sensor_add_device(PDRIVER_OBJECT drv, PKX_PROVIDER prov)
{
    struct sensor *s = calloc(1, sizeof *s);
    if (!s)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = DkGetComponentAddress(drv, s->address, sizeof s->address);
    if (st != STATUS_SUCCESS) {
        free(s);
        return st;
    }
    s->instance = prov->Instance;
    st = DkGetHardwareProxy(drv, s->address, &s->proxy);
    if (st == STATUS_SUCCESS)
        st = DkCreateComponentDevice(drv, "sensor", &s->dev);
    if (st != STATUS_SUCCESS) {
        if (s->proxy)
            DkReleaseHardwareProxy(s->proxy);
        DkPrint("Sensor: %s: %s", s->address, DkStatusName(st));
        free(s);
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
            complete_reads(s, STATUS_DEVICE_REMOVED);
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
    return DkRegisterInterrupt(drv, SAMPLE_EVENT, sensor_sample_ready, NULL);
}
