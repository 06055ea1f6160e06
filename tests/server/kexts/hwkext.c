/* hwkext.c — the hardware-access tests' driver, built as CompHW (its Info.plist says
 * KXAllowHardwareWrite = true) and CompHWPlain (it doesn't). A KMD matching the PCI
 * functions' components (so it loads on a Linux platform) whose one device, /dev/comphw,
 * drives a proxy of the component it is told:
 *
 *   write at 0:               the data is a component address: opens its proxy (replacing
 *                             the one before); the status is the write's
 *   read/write at 0x1000 + o: configuration space at o (DkProxyRead / DkProxyWrite)
 *   read/write at (n + 1) * 0x100000 + o: BAR n at o, through DkProxyMapBar (read-only for
 *                             reads, writable for writes), asked for again on every request
 *   read at 0x2000:           the component_added / component_removed events heard since
 *                             DriverEntry, a line each: "added ADDRESS" / "removed ADDRESS"
 */
#include <kx/kmdf.h>

#include <stdio.h>
#include <string.h>

KX_DRIVER_INFO(HWKEXT_NAME, DRIVER_TYPE_KMD, 500, KX_KEXT_VERSION);

#define CONFIG_BASE 0x1000u
#define EVENT_LOG   0x2000u
#define BAR_STRIDE  0x100000u

/* Requests and event routines run one at a time on the dispatch thread: no lock. */
static PKX_HARDWARE_PROXY proxy;
static char heard[4096];
static size_t heard_len;

static void on_component(PDRIVER_OBJECT drv, const KX_EVENT *ev, void *ctx)
{
    (void)drv;
    int n = snprintf(heard + heard_len, sizeof heard - heard_len, "%s %s\n", (const char *)ctx,
                     ev->Source);
    if (n > 0 && (size_t)n < sizeof heard - heard_len)
        heard_len += (size_t)n;
}

static kx_status select_component(PDRIVER_OBJECT drv, const char *data, size_t len)
{
    char address[64];
    if (!len || len >= sizeof address)
        return STATUS_INVALID_PARAMETER;
    memcpy(address, data, len);
    address[len] = 0;
    if (proxy)
        DkReleaseHardwareProxy(proxy);
    proxy = NULL;
    return DkGetHardwareProxy(drv, address, &proxy);
}

/* The bytes of BAR bar at off..off+len, mapped writable or not. */
static kx_status bar_range(uint32_t bar, int write, uint64_t off, size_t len,
                           volatile unsigned char **at)
{
    volatile void *base = NULL;
    size_t size = 0;
    kx_status st = DkProxyMapBar(proxy, bar, write, &base, &size);
    if (st == STATUS_SUCCESS && (off > size || len > size - off))
        st = STATUS_INVALID_PARAMETER;
    if (st == STATUS_SUCCESS)
        *at = (volatile unsigned char *)base + off;
    return st;
}

static kx_status hw_io(PDEVICE_OBJECT dev, PIRP irp, int write)
{
    (void)dev;
    uint64_t off = write ? irp->Parameters.Write.ByteOffset : irp->Parameters.Read.ByteOffset;
    size_t len = write ? irp->Parameters.Write.Length : irp->Parameters.Read.Length;
    unsigned char *buf = irp->SystemBuffer;
    if (write && off == 0)
        return DkCompleteRequest(irp, select_component(dev->DriverObject, (char *)buf, len), len);
    if (!write && off == EVENT_LOG) {
        size_t n = len < heard_len ? len : heard_len;
        memcpy(buf, heard, n);
        return DkCompleteRequest(irp, STATUS_SUCCESS, n);
    }
    if (!proxy)
        return DkCompleteRequest(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    kx_status st = STATUS_INVALID_PARAMETER;
    if (off >= BAR_STRIDE) {
        volatile unsigned char *at = NULL;
        st = bar_range((uint32_t)(off / BAR_STRIDE - 1), write, off % BAR_STRIDE, len, &at);
        for (size_t i = 0; st == STATUS_SUCCESS && i < len; i++)
            if (write)
                at[i] = buf[i];
            else
                buf[i] = at[i];
    } else if (off >= CONFIG_BASE) {
        st = write ? DkProxyWrite(proxy, (uint32_t)(off - CONFIG_BASE), buf, len)
                   : DkProxyRead(proxy, (uint32_t)(off - CONFIG_BASE), buf, len);
    }
    return DkCompleteRequest(irp, st, st == STATUS_SUCCESS ? len : 0);
}

static kx_status hw_read(PDEVICE_OBJECT dev, PIRP irp)
{
    return hw_io(dev, irp, 0);
}

static kx_status hw_write(PDEVICE_OBJECT dev, PIRP irp)
{
    return hw_io(dev, irp, 1);
}

static kx_status hw_add_device(PDRIVER_OBJECT drv, PKX_PROVIDER prov)
{
    (void)drv;
    (void)prov;
    return STATUS_SUCCESS;
}

static void hw_unload(PDRIVER_OBJECT drv)
{
    (void)drv; /* the proxy and its maps are left to kx, which the test checks */
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->MajorFunction[IRP_MJ_READ] = hw_read;
    drv->MajorFunction[IRP_MJ_WRITE] = hw_write;
    drv->AddDevice = hw_add_device;
    drv->DriverUnload = hw_unload;
    kx_status st = DkRegisterInterrupt(drv, "component_added", on_component, "added");
    if (st == STATUS_SUCCESS)
        st = DkRegisterInterrupt(drv, "component_removed", on_component, "removed");
    if (st != STATUS_SUCCESS)
        return st;
    PDEVICE_OBJECT dev;
    st = DkCreateDevice(drv, "\\Device\\CompHW", 0, &dev);
    if (st != STATUS_SUCCESS)
        return st;
    DkSetDeviceSecurity(dev, 0, 0, 0600);
    st = DkCreateSymbolicLink("/dev/comphw", "\\Device\\CompHW");
    if (st != STATUS_SUCCESS)
        DkDeleteDevice(dev);
    return st;
}
