/* kmdf.c — the Dk* calls: the seed's KMDF API mapped onto the host's objects
 * and the host -> manager channel (host.h). Each call checks what the driver
 * passes (KX_API_CHECK style: a bad pointer is STATUS_INVALID_PARAMETER, never
 * a crash of the kernel) and then sends one message: ids, names, statuses.
 *
 * Also the KPI table: every symbol a driver may import from org.kx.kpi.kmdf,
 * the same list as data/exports/kmdf.exports.
 */
#include "kmdf_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(KX_IO_ACCESS_READ == FILE_READ_ACCESS && KX_IO_ACCESS_WRITE == FILE_WRITE_ACCESS,
               "io.h and kmdf.h access bits differ");
_Static_assert(KX_IO_OP_READ == IRP_MJ_READ && KX_IO_OP_WRITE == IRP_MJ_WRITE &&
                   KX_IO_OP_QUERY_INFORMATION == IRP_MJ_QUERY_INFORMATION &&
                   KX_IO_OP_FLUSH == IRP_MJ_FLUSH_BUFFERS &&
                   KX_IO_OP_DEVICE_CONTROL == IRP_MJ_DEVICE_CONTROL,
               "io.h ops must be the IRP_MJ_* values");

static struct kx_host *host_of(PDRIVER_OBJECT d)
{
    struct kx_host *h = (struct kx_host *)(void *)d;
    return h && h->magic == HOST_MAGIC ? h : NULL;
}

static struct host_device *device_of(PDEVICE_OBJECT d)
{
    struct host_device *hd = (struct host_device *)(void *)d;
    return hd && hd->magic == HOST_DEV_MAGIC ? hd : NULL;
}

static struct host_irp *irp_of(PIRP irp)
{
    struct host_irp *hi = (struct host_irp *)(void *)irp;
    return hi && hi->magic == HOST_IRP_MAGIC ? hi : NULL;
}

void DkPrint(const char *format, ...)
{
    struct kx_host *h = kx__host_current();
    if (!h || !format)
        return;
    char text[KX_IO_LOG_TEXT_MAX];
    va_list ap;
    va_start(ap, format);
    vsnprintf(text, sizeof text, format, ap);
    va_end(ap);
    kx__chan_print(h->io, h->drv_id, text);
}

static struct host_device *device_new(struct kx_host *h, size_t ext_size)
{
    if (ext_size > ((size_t)1 << 30))
        return NULL;
    struct host_device *hd = calloc(1, sizeof *hd + ((ext_size + 15) & ~(size_t)15));
    if (!hd)
        return NULL;
    hd->magic = HOST_DEV_MAGIC;
    hd->host = h;
    hd->obj.Size = sizeof hd->obj;
    hd->obj.DeviceName = hd->name;
    hd->obj.DeviceExtension = ext_size ? hd->ext : NULL;
    hd->obj.DeviceExtensionSize = ext_size;
    return hd;
}

static void device_link(struct kx_host *h, struct host_device *hd)
{
    pthread_mutex_lock(&h->lock);
    hd->next = h->devices;
    if (h->devices)
        h->devices->prev = hd;
    h->devices = hd;
    pthread_mutex_unlock(&h->lock);
}

kx_status DkCreateDevice(PDRIVER_OBJECT DriverObject, const char *DeviceName,
                         size_t DeviceExtensionSize, PDEVICE_OBJECT *DeviceObject)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h || !DeviceName || !DeviceObject)
        return STATUS_INVALID_PARAMETER;
    *DeviceObject = NULL;
    struct host_device *hd = device_new(h, DeviceExtensionSize);
    if (!hd)
        return STATUS_INSUFFICIENT_RESOURCES;
    snprintf(hd->name, sizeof hd->name, "%s", DeviceName);
    hd->obj.DriverObject = DriverObject;
    hd->obj.Flags = DO_BUFFERED_IO | (atomic_load(&h->in_entry) ? DO_DEVICE_INITIALIZING : 0);
    /* Created while AddDevice runs (on this thread): part of that match. */
    hd->instance = kx__host_current() == h ? h->cur_instance : 0;
    kx_status st = kx__chan_create_device(h->io, h->drv_id, DeviceName,
                                          (uint64_t)(uintptr_t)&hd->obj, hd->instance,
                                          &hd->dev_id);
    if (st != STATUS_SUCCESS) {
        free(hd);
        return st;
    }
    atomic_init(&hd->refs, 2); /* the driver and the manager */
    device_link(h, hd);
    hd->obj.NextDevice = DriverObject->DeviceObject;
    DriverObject->DeviceObject = &hd->obj;
    *DeviceObject = &hd->obj;
    return STATUS_SUCCESS;
}

kx_status DkDeleteDevice(PDEVICE_OBJECT DeviceObject)
{
    struct host_device *hd = device_of(DeviceObject);
    if (!hd)
        return STATUS_INVALID_PARAMETER;
    if (DeviceObject->Flags & DO_PROXY) {
        DkDereferenceDeviceObject(DeviceObject);
        return STATUS_SUCCESS;
    }
    if (DeviceObject->Flags & DO_DELETE_PENDING)
        return STATUS_NO_SUCH_DEVICE;
    struct kx_host *h = hd->host;
    if (hd->auto_link[0]) /* DkCreateComponentDevice's link goes first, quietly */
        kx__chan_delete_link(h->io, h->drv_id, hd->auto_link);
    hd->auto_link[0] = 0;
    kx_status st = kx__chan_delete_device(h->io, h->drv_id, hd->dev_id);
    if (st != STATUS_SUCCESS)
        return st;
    DeviceObject->Flags |= DO_DELETE_PENDING;
    for (PDEVICE_OBJECT *p = &h->obj.DeviceObject; *p; p = &(*p)->NextDevice)
        if (*p == DeviceObject) {
            *p = DeviceObject->NextDevice;
            break;
        }
    DeviceObject->NextDevice = NULL;
    kx__host_device_unref(hd); /* the driver's reference; open files may keep it */
    return STATUS_SUCCESS;
}

kx_status DkCreateSymbolicLink(const char *LinkName, const char *DeviceName)
{
    struct kx_host *h = kx__host_current();
    if (!h)
        return STATUS_INVALID_DRIVER_OBJECT;
    if (!LinkName || !DeviceName)
        return STATUS_INVALID_PARAMETER;
    return kx__chan_create_link(h->io, h->drv_id, LinkName, DeviceName);
}

kx_status DkDeleteSymbolicLink(const char *LinkName)
{
    struct kx_host *h = kx__host_current();
    if (!h)
        return STATUS_INVALID_DRIVER_OBJECT;
    return kx__chan_delete_link(h->io, h->drv_id, LinkName);
}

kx_status DkSetDeviceSecurity(PDEVICE_OBJECT DeviceObject, uint32_t Owner, uint32_t Group,
                              uint32_t Mode)
{
    struct host_device *hd = device_of(DeviceObject);
    if (!hd || (DeviceObject->Flags & DO_PROXY))
        return STATUS_INVALID_PARAMETER;
    return kx__chan_set_security(hd->host->io, hd->host->drv_id, hd->dev_id, Owner, Group, Mode);
}

static kx_status report_twice(struct kx_host *h, struct host_irp *hi, kx_status status)
{
    char msg[120];
    snprintf(msg, sizeof msg, "%s IRP %#llx completed twice (second: %s); ignored",
             kx__major_name(hi->irp.MajorFunction), (unsigned long long)hi->irp_id,
             kx_status_name(status));
    kx__chan_report(h->io, h->drv_id, msg);
    return STATUS_REQUEST_ALREADY_COMPLETED;
}

/* Is the calling thread running the dispatch routine for this very IRP? */
static int in_own_routine(struct kx_host *h, struct host_irp *hi)
{
    return kx__host_current() == h && kx__host_busy_irp(h) == hi->irp_id;
}

kx_status kx__host_complete(struct host_irp *hi, kx_status status, size_t information)
{
    struct kx_host *h = hi->host;
    int own = in_own_routine(h, hi);
    if (own && h->def_set)
        return report_twice(h, hi, status);
    /* A routine still set is cleared; one already taken by a canceller will
     * run and find the IRP completed. */
    PDRIVER_CANCEL c = atomic_load_explicit(&hi->cancel, memory_order_acquire);
    while (c && c != HOST_CANCEL_TAKEN &&
           !atomic_compare_exchange_weak_explicit(&hi->cancel, &c, NULL, memory_order_acq_rel,
                                                  memory_order_acquire))
        ;
    hi->irp.IoStatus.Status = status;
    hi->irp.IoStatus.Information = information;
    if (own) {
        /* The common case: the routine completes its own IRP. Nothing is
         * sent now; the result goes with the end of the dispatch, in one
         * step (kx__chan_irp_end_answer). */
        if (atomic_load_explicit(&hi->flags, memory_order_acquire) & HI_COMPLETED)
            return report_twice(h, hi, status);
        h->def_set = 1;
        h->def_status = status;
        h->def_info = information;
        return status;
    }
    uint32_t old = atomic_fetch_or_explicit(&hi->flags, HI_COMPLETED, memory_order_acq_rel);
    if (old & HI_COMPLETED)
        return report_twice(h, hi, status);
    uint64_t cookie =
        hi->irp.MajorFunction == IRP_MJ_CREATE ? (uint64_t)(uintptr_t)hi->irp.FileContext : 0;
    kx_status st = kx__chan_complete(h->io, hi->irp_id, status, information, cookie);
    return st == STATUS_SUCCESS ? status : st;
}

kx_status DkCompleteRequest(PIRP Irp, kx_status Status, size_t Information)
{
    struct host_irp *hi = irp_of(Irp);
    if (!hi || Status == STATUS_PENDING)
        return STATUS_INVALID_PARAMETER;
    return kx__host_complete(hi, Status, Information);
}

void DkMarkIrpPending(PIRP Irp)
{
    struct host_irp *hi = irp_of(Irp);
    if (hi)
        atomic_fetch_or_explicit(&hi->flags, HI_PENDING, memory_order_release);
}

kx_status DkSetCancelRoutine(PIRP Irp, PDRIVER_CANCEL CancelRoutine)
{
    struct host_irp *hi = irp_of(Irp);
    if (!hi || CancelRoutine == HOST_CANCEL_TAKEN)
        return STATUS_INVALID_PARAMETER;
    if (!CancelRoutine) {
        PDRIVER_CANCEL prev = atomic_exchange_explicit(&hi->cancel, NULL, memory_order_seq_cst);
        if (prev == HOST_CANCEL_TAKEN) {
            atomic_store_explicit(&hi->cancel, HOST_CANCEL_TAKEN, memory_order_seq_cst);
            return STATUS_CANCELLED; /* the routine owns the IRP now */
        }
        return STATUS_SUCCESS;
    }
    PDRIVER_CANCEL expect = atomic_load_explicit(&hi->cancel, memory_order_seq_cst);
    do {
        if (expect == HOST_CANCEL_TAKEN)
            return STATUS_CANCELLED;
    } while (!atomic_compare_exchange_weak_explicit(&hi->cancel, &expect, CancelRoutine,
                                                    memory_order_seq_cst, memory_order_seq_cst));
    /* Cancelled before the routine was in place? Take it back if the
     * canceller has not; otherwise the canceller will call it. */
    if (atomic_load_explicit(&hi->flags, memory_order_seq_cst) & HI_CANCEL) {
        expect = CancelRoutine;
        if (atomic_compare_exchange_strong_explicit(&hi->cancel, &expect, NULL,
                                                    memory_order_seq_cst, memory_order_seq_cst))
            return STATUS_CANCELLED;
    }
    return STATUS_SUCCESS;
}

int DkIsIrpCancelled(PIRP Irp)
{
    struct host_irp *hi = irp_of(Irp);
    return hi && (atomic_load_explicit(&hi->flags, memory_order_acquire) & HI_CANCEL) != 0;
}

kx_status DkCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    struct host_device *hd = device_of(DeviceObject);
    struct host_irp *hi = irp_of(Irp);
    if (!hd || !hi)
        return STATUS_INVALID_PARAMETER;
    struct kx_host *h = hi->host;
    if (in_own_routine(h, hi) && h->def_set)
        return STATUS_REQUEST_ALREADY_COMPLETED; /* completed, then passed on: a bug */
    kx_status st = kx__chan_forward(h->io, h->drv_id, hi->irp_id, hd->dev_id,
                                    (uint64_t)(uintptr_t)Irp->FileContext);
    return st == STATUS_SUCCESS ? STATUS_PENDING : st;
}

kx_status DkGetDeviceObjectPointer(PDRIVER_OBJECT DriverObject, const char *DeviceName,
                                   PDEVICE_OBJECT *DeviceObject)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h || !DeviceName || !DeviceObject)
        return STATUS_INVALID_PARAMETER;
    *DeviceObject = NULL;
    struct host_device *hd = device_new(h, 0);
    if (!hd)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = kx__chan_ref_device(h->io, h->drv_id, DeviceName, &hd->dev_id, hd->name);
    if (st != STATUS_SUCCESS) {
        free(hd);
        return st;
    }
    hd->obj.Flags = DO_PROXY | DO_BUFFERED_IO;
    atomic_init(&hd->refs, 1);
    device_link(h, hd);
    *DeviceObject = &hd->obj;
    return STATUS_SUCCESS;
}

void DkDereferenceDeviceObject(PDEVICE_OBJECT DeviceObject)
{
    struct host_device *hd = device_of(DeviceObject);
    if (!hd || !(DeviceObject->Flags & DO_PROXY))
        return;
    kx__chan_unref_device(hd->host->io, hd->host->drv_id, hd->dev_id);
    kx__host_device_unref(hd);
}

const char *DkStatusName(kx_status Status) { return kx_status_name(Status); }

#define KPI(fn) {#fn, (void (*)(void))fn}
const struct kx_kpi_symbol kx__kmdf_symbols[] = {
    KPI(DkPrint),
    KPI(DkCreateDevice),
    KPI(DkDeleteDevice),
    KPI(DkCreateSymbolicLink),
    KPI(DkDeleteSymbolicLink),
    KPI(DkSetDeviceSecurity),
    KPI(DkSetDeviceReady),
    KPI(DkSetDeviceControlCodes),
    KPI(DkCompleteRequest),
    KPI(DkMarkIrpPending),
    KPI(DkSetCancelRoutine),
    KPI(DkIsIrpCancelled),
    KPI(DkCallDriver),
    KPI(DkGetDeviceObjectPointer),
    KPI(DkDereferenceDeviceObject),
    KPI(DkStatusName),
    KPI(DkGetProperty),
    KPI(DkSetProperty),
    KPI(DkCopyProperties),
    KPI(DkPublishNub),
    KPI(DkTerminateNub),
    KPI(DkPublishResource),
    KPI(DkAttachDevice),
    KPI(DkRegisterInterrupt),
    KPI(DkUnregisterInterrupt),
    KPI(DkSetTimer),
    KPI(DkCancelTimer),
    KPI(DkGetComponentAddress),
    KPI(DkCreateComponentDevice),
    KPI(DkGetHardwareProxy),
    KPI(DkProxyRead),
    KPI(DkProxyWrite),
    KPI(DkProxyEntry),
    KPI(DkProxyMapBar),
    KPI(DkReleaseHardwareProxy),
    {NULL, NULL},
};
