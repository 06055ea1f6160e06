/* keys.c — one readable stream of key codes per keyboard (issue 14).
 *
 * Keys matches every IOHIDKeyboard nub (a host evdev keyboard, or a simulated one from a
 * platform file or `kx device add`) and, for each, creates
 *
 *   \Device\Keys_<tag>   linked as /dev/keys_<tag>
 *
 * where <tag> is the last path element of the nub's "source" with anything but letters,
 * digits, '-' and '_' turned into '_' ("/dev/input/event3" gives keys_event3, "kbd-a"
 * keys_kbd-a). Two keyboards with the same tag: the second one's AddDevice fails (the
 * name is taken), nothing is overwritten.
 *
 * Which events are a keyboard's: a key_down event's Source is its keyboard's "source"
 * (the evdev path kx polls, or what `kx event raise key_down --source S` names), so the
 * one key_down routine gives each event to the device whose source it names and to no
 * other; an event no matched keyboard names is dropped. The payload is the key code, 16
 * bits little-endian (evdev's code; `kx event raise key_down --source S 0x1e00` is KEY_A).
 *
 * A read takes the whole lines buffered ("30\n" per key); with none it pends (with a cancel
 * routine) until a key of its keyboard arrives. When the keyboard goes, RemoveDevice
 * completes the reads still waiting with STATUS_DEVICE_REMOVED. Event, IRP and PnP
 * routines all run on the driver's dispatch thread, one at a time: no locks.
 */
#include <kx/kmdf.h>

#include <stdio.h>
#include <string.h>

KX_DRIVER_INFO("Keys", DRIVER_TYPE_KMD, 900, KX_KEXT_VERSION);

#define KEYS_BUFFER 4096 /* bytes of lines kept for readers; further keys are dropped */

struct keyboard {
    KX_REGISTRY_ID instance;
    char source[256];
    char link[96];
    char buf[KEYS_BUFFER];
    size_t used;
    PIRP head, tail; /* pending reads, linked through DriverContext[0] */
    uint64_t dropped;
};

static struct keyboard *kbd_of(PDEVICE_OBJECT dev)
{
    return dev->DeviceExtension;
}

static void enqueue(struct keyboard *k, PIRP irp)
{
    irp->DriverContext[0] = NULL;
    if (k->tail)
        k->tail->DriverContext[0] = irp;
    else
        k->head = irp;
    k->tail = irp;
}

static void unlink_irp(struct keyboard *k, PIRP irp)
{
    PIRP prev = NULL;
    for (PIRP p = k->head; p; prev = p, p = p->DriverContext[0]) {
        if (p != irp)
            continue;
        if (prev)
            prev->DriverContext[0] = p->DriverContext[0];
        else
            k->head = p->DriverContext[0];
        if (k->tail == p)
            k->tail = prev;
        return;
    }
}

/* Whole lines that fit in len, taken from the front of the buffer. */
static size_t take_lines(struct keyboard *k, char *out, size_t len)
{
    size_t n = 0;
    while (n < k->used) {
        const char *nl = memchr(k->buf + n, '\n', k->used - n);
        size_t line = (size_t)(nl - (k->buf + n)) + 1;
        if (n + line > len)
            break;
        n += line;
    }
    if (!n && k->used) /* a reader with room for less than one line gets a part of it */
        n = len < k->used ? len : k->used;
    memcpy(out, k->buf, n);
    memmove(k->buf, k->buf + n, k->used - n);
    k->used -= n;
    return n;
}

static void keys_cancel(PDEVICE_OBJECT dev, PIRP irp)
{
    unlink_irp(kbd_of(dev), irp);
    DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

static void feed_readers(struct keyboard *k)
{
    while (k->head && k->used) {
        PIRP r = k->head;
        unlink_irp(k, r);
        if (DkSetCancelRoutine(r, NULL) == STATUS_CANCELLED)
            continue; /* being cancelled: its routine completes it */
        size_t n = take_lines(k, r->SystemBuffer, r->Parameters.Read.Length);
        DkCompleteRequest(r, STATUS_SUCCESS, n);
    }
}

/* Completes every waiting read of k with status. */
static void fail_readers(struct keyboard *k, kx_status status)
{
    while (k->head) {
        PIRP r = k->head;
        unlink_irp(k, r);
        if (DkSetCancelRoutine(r, NULL) != STATUS_CANCELLED)
            DkCompleteRequest(r, status, 0);
    }
}

static void on_key_down(PDRIVER_OBJECT drv, const KX_EVENT *event, void *context)
{
    (void)context;
    if (event->DataLength < 2 || !event->Source)
        return;
    const unsigned char *d = event->Data;
    char line[16];
    int n = snprintf(line, sizeof line, "%u\n", (unsigned)(d[0] | d[1] << 8));
    for (PDEVICE_OBJECT dev = drv->DeviceObject; dev; dev = dev->NextDevice) {
        struct keyboard *k = kbd_of(dev);
        if ((dev->Flags & DO_DELETE_PENDING) || strcmp(k->source, event->Source) != 0)
            continue;
        if (n <= 0 || k->used + (size_t)n > sizeof k->buf) {
            k->dropped++;
            continue;
        }
        memcpy(k->buf + k->used, line, (size_t)n);
        k->used += (size_t)n;
        feed_readers(k);
    }
}

static kx_status keys_read(PDEVICE_OBJECT dev, PIRP irp)
{
    struct keyboard *k = kbd_of(dev);
    size_t len = irp->Parameters.Read.Length;
    if (!len)
        return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
    if (!k->head && k->used)
        return DkCompleteRequest(irp, STATUS_SUCCESS, take_lines(k, irp->SystemBuffer, len));
    DkMarkIrpPending(irp);
    if (DkSetCancelRoutine(irp, keys_cancel) == STATUS_CANCELLED)
        return DkCompleteRequest(irp, STATUS_CANCELLED, 0);
    enqueue(k, irp);
    return STATUS_PENDING;
}

static kx_status keys_open_close(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

/* The device name's tag: source's last path element, made safe for a name. */
static void tag_of(const char *source, char *tag, size_t len)
{
    const char *slash = strrchr(source, '/');
    const char *s = slash && slash[1] ? slash + 1 : source;
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++) {
        char c = s[i];
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_';
        tag[i] = keep ? c : '_';
    }
    tag[i] = 0;
}

static kx_status keys_add_device(PDRIVER_OBJECT drv, PKX_PROVIDER prov)
{
    char source[256], tag[64], name[96];
    KX_PROPERTY_TYPE type = KxPropertyNone;
    kx_status st = DkGetProperty(drv, prov->Nub, "source", &type, source, sizeof source, NULL);
    if (st == STATUS_SUCCESS && (type != KxPropertyString || !source[0]))
        st = STATUS_OBJECT_NAME_NOT_FOUND;
    if (st != STATUS_SUCCESS) {
        DkPrint("Keys: keyboard nub %llu: source: %s", (unsigned long long)prov->Nub,
                DkStatusName(st));
        return st;
    }
    tag_of(source, tag, sizeof tag);
    snprintf(name, sizeof name, "\\Device\\Keys_%s", tag);
    PDEVICE_OBJECT dev;
    if ((st = DkCreateDevice(drv, name, sizeof(struct keyboard), &dev)) != STATUS_SUCCESS) {
        DkPrint("Keys: %s: %s: %s", source, name, DkStatusName(st));
        return st;
    }
    struct keyboard *k = kbd_of(dev);
    k->instance = prov->Instance;
    snprintf(k->source, sizeof k->source, "%s", source);
    snprintf(k->link, sizeof k->link, "/dev/keys_%s", tag);
    DkSetDeviceSecurity(dev, 0, 0, 0444);
    st = DkCreateSymbolicLink(k->link, name);
    if (st != STATUS_SUCCESS)
        DkPrint("Keys: %s: %s: %s", source, k->link, DkStatusName(st));
    return st; /* on failure the framework deletes the device */
}

static void keys_remove_device(PDRIVER_OBJECT drv, PKX_PROVIDER prov)
{
    for (PDEVICE_OBJECT d = drv->DeviceObject; d; d = d->NextDevice) {
        struct keyboard *k = kbd_of(d);
        if ((d->Flags & DO_DELETE_PENDING) || k->instance != prov->Instance)
            continue;
        DkDeleteSymbolicLink(k->link); /* gone before a reader hears of the removal */
        fail_readers(k, STATUS_DEVICE_REMOVED);
        DkDeleteDevice(d);
        return;
    }
}

static void keys_unload(PDRIVER_OBJECT drv)
{
    DkUnregisterInterrupt(drv, "key_down");
    /* every handle is closed by now; complete what is left */
    for (PDEVICE_OBJECT d = drv->DeviceObject, next; d; d = next) {
        next = d->NextDevice;
        if (d->Flags & DO_DELETE_PENDING)
            continue;
        fail_readers(kbd_of(d), STATUS_CANCELLED);
        DkDeleteSymbolicLink(kbd_of(d)->link);
        DkDeleteDevice(d);
    }
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->MajorFunction[IRP_MJ_CREATE] = keys_open_close;
    drv->MajorFunction[IRP_MJ_CLOSE] = keys_open_close;
    drv->MajorFunction[IRP_MJ_READ] = keys_read;
    drv->AddDevice = keys_add_device;
    drv->RemoveDevice = keys_remove_device;
    drv->DriverUnload = keys_unload;
    return DkRegisterInterrupt(drv, "key_down", on_key_down, NULL);
}
