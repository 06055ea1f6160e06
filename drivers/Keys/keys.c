/* keys.c — /dev/keys: the key_down events the driver receives
 * (DkRegisterInterrupt, issue 14) as a readable stream of text lines, one
 * key code in decimal per line ("30\n"). A read takes the lines buffered;
 * with none it pends (with a cancel routine) until a key arrives, its handle
 * is closed or its deadline passes.
 *
 * The event's payload is the key code as a 16-bit little-endian number, as
 * evdev's key events give it (and `kx event raise key_down 0x1e00` spells
 * it). Loaded with `kx load`: its events come from the kernel's sources,
 * however many keyboards there are.
 *
 * The event routine and the IRP routines run on the same dispatch thread,
 * one at a time, so the buffer and the queue of pending reads need no lock.
 */
#include <kx/kmdf.h>

#include <stdio.h>
#include <string.h>

KX_DRIVER_INFO("Keys", DRIVER_TYPE_KMD, 900, KX_KEXT_VERSION);

#define KEYS_DEVICE "\\Device\\Keys0"
#define KEYS_LINK   "/dev/keys"
#define KEYS_BUFFER 4096 /* bytes of lines kept for readers; older keys are dropped */

struct keys_ext {
    char buf[KEYS_BUFFER];
    size_t used;
    PIRP head, tail; /* pending reads, linked through DriverContext[0] */
    uint64_t dropped;
};

static PDEVICE_OBJECT keys_dev;

static struct keys_ext *ext_of(PDEVICE_OBJECT dev)
{
    return dev->DeviceExtension;
}

static void enqueue(struct keys_ext *e, PIRP irp)
{
    irp->DriverContext[0] = NULL;
    if (e->tail)
        e->tail->DriverContext[0] = irp;
    else
        e->head = irp;
    e->tail = irp;
}

static void unlink_irp(struct keys_ext *e, PIRP irp)
{
    PIRP prev = NULL;
    for (PIRP p = e->head; p; prev = p, p = p->DriverContext[0]) {
        if (p != irp)
            continue;
        if (prev)
            prev->DriverContext[0] = p->DriverContext[0];
        else
            e->head = p->DriverContext[0];
        if (e->tail == p)
            e->tail = prev;
        return;
    }
}

/* Whole lines that fit in len, taken from the front of the buffer. */
static size_t take_lines(struct keys_ext *e, char *out, size_t len)
{
    size_t n = 0;
    while (n < e->used) {
        const char *nl = memchr(e->buf + n, '\n', e->used - n);
        size_t line = (size_t)(nl - (e->buf + n)) + 1;
        if (n + line > len)
            break;
        n += line;
    }
    if (!n && e->used) /* a reader with room for less than one line gets a part of it */
        n = len < e->used ? len : e->used;
    memcpy(out, e->buf, n);
    memmove(e->buf, e->buf + n, e->used - n);
    e->used -= n;
    return n;
}

static void keys_cancel(PDEVICE_OBJECT dev, PIRP irp)
{
    unlink_irp(ext_of(dev), irp);
    DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

static void feed_readers(struct keys_ext *e)
{
    while (e->head && e->used) {
        PIRP r = e->head;
        unlink_irp(e, r);
        if (DkSetCancelRoutine(r, NULL) == STATUS_CANCELLED)
            continue; /* being cancelled: its routine completes it */
        size_t n = take_lines(e, r->SystemBuffer, r->Parameters.Read.Length);
        DkCompleteRequest(r, STATUS_SUCCESS, n);
    }
}

static void on_key_down(PDRIVER_OBJECT drv, const KX_EVENT *event, void *context)
{
    (void)drv;
    struct keys_ext *e = context;
    if (event->DataLength < 2)
        return;
    const unsigned char *d = event->Data;
    char line[16];
    int n = snprintf(line, sizeof line, "%u\n", (unsigned)(d[0] | d[1] << 8));
    if (n <= 0 || e->used + (size_t)n > sizeof e->buf) {
        e->dropped++;
        return;
    }
    memcpy(e->buf + e->used, line, (size_t)n);
    e->used += (size_t)n;
    feed_readers(e);
}

static kx_status keys_read(PDEVICE_OBJECT dev, PIRP irp)
{
    struct keys_ext *e = ext_of(dev);
    size_t len = irp->Parameters.Read.Length;
    if (!len)
        return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
    if (!e->head && e->used)
        return DkCompleteRequest(irp, STATUS_SUCCESS, take_lines(e, irp->SystemBuffer, len));
    DkMarkIrpPending(irp);
    if (DkSetCancelRoutine(irp, keys_cancel) == STATUS_CANCELLED)
        return DkCompleteRequest(irp, STATUS_CANCELLED, 0);
    enqueue(e, irp);
    return STATUS_PENDING;
}

static kx_status keys_open_close(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static void keys_unload(PDRIVER_OBJECT drv)
{
    DkUnregisterInterrupt(drv, "key_down");
    DkDeleteSymbolicLink(KEYS_LINK);
    if (!keys_dev)
        return;
    struct keys_ext *e = ext_of(keys_dev);
    while (e->head) { /* every handle is closed by now; complete what is left */
        PIRP r = e->head;
        unlink_irp(e, r);
        if (DkSetCancelRoutine(r, NULL) != STATUS_CANCELLED)
            DkCompleteRequest(r, STATUS_CANCELLED, 0);
    }
    DkDeleteDevice(keys_dev);
    keys_dev = NULL;
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->MajorFunction[IRP_MJ_CREATE] = keys_open_close;
    drv->MajorFunction[IRP_MJ_CLOSE] = keys_open_close;
    drv->MajorFunction[IRP_MJ_READ] = keys_read;
    drv->DriverUnload = keys_unload;
    kx_status st = DkCreateDevice(drv, KEYS_DEVICE, sizeof(struct keys_ext), &keys_dev);
    if (st != STATUS_SUCCESS)
        return st;
    DkSetDeviceSecurity(keys_dev, 0, 0, 0444);
    if ((st = DkCreateSymbolicLink(KEYS_LINK, KEYS_DEVICE)) == STATUS_SUCCESS &&
        (st = DkRegisterInterrupt(drv, "key_down", on_key_down, ext_of(keys_dev))) !=
            STATUS_SUCCESS)
        DkDeleteSymbolicLink(KEYS_LINK);
    if (st != STATUS_SUCCESS) {
        DkDeleteDevice(keys_dev);
        keys_dev = NULL;
    }
    return st;
}
