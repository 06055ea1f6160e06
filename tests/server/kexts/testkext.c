/* testkext.c — the drivers of kxd's integration tests, one source built three
 * ways (TESTKEXT_MODE):
 *   1 Undeclared  uses the RingBuffer library without declaring it in
 *                 OSBundleLibraries: the link check must refuse it.
 *   2 FailEntry   declares RingBuffer, and DriverEntry fails: the load must
 *                 be undone, RingBuffer included.
 *   3 UserLoad    OSBundleAllowUserLoad: a non-root client may load it.
 *   4 Idle        OSBundleRequired Root but creates no device: phase 2 of a
 *                 boot unloads it again.
 *   5 NoUnload    starts, but has no DriverUnload: it can't be stopped.
 *   6 Mismatch    its driver-info record says another version than its
 *                 Info.plist: refused before it runs.
 *   7 NullTwo     org.kx.driver.Null 2.0.0: another version of a loaded kext.
 *   8 Crash       /dev/Crash, told by DEVICE_CONTROL to crash, abort, exit or
 *                 hang in its dispatch routine, to pend a request forever, or
 *                 to answer "pong": the driver host containment tests; and to
 *                 call socket() or open() and answer the errno, or unshare()
 *                 (the host's seccomp filter: EPERM, or death by SIGSYS).
 *                 Built as Crash (KXRestartLimit 0: stays down), Phoenix
 *                 (/dev/Phoenix, restarted by the default policy), CrashUMD
 *                 (a UMD driver: the tightest profile) and KeepRoot
 *                 (KXHostKeepRoot).
 *                 Its READ answers the bytes of its last WRITE (up to 64):
 *                 the layered-driver tests (filter.c) compare data through
 *                 Filter with data straight from Crash.
 */
#include <kx/kmdf.h>

#if TESTKEXT_MODE == 8
#include "crash_ioctl.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#ifndef TESTKEXT_TYPE
#define TESTKEXT_TYPE DRIVER_TYPE_KMD
#endif

#if TESTKEXT_MODE < 3
#include "ringbuffer.h"
#endif

#if TESTKEXT_MODE == 6
KX_DRIVER_INFO(TESTKEXT_NAME, DRIVER_TYPE_KMD, 500, "9.9.9");
#else
KX_DRIVER_INFO(TESTKEXT_NAME, TESTKEXT_TYPE, 500, KX_KEXT_VERSION);
#endif

#if TESTKEXT_MODE == 8
/* A syscall's errno (0: it worked) as the 4-byte answer. */
static kx_status answer_errno(PIRP irp, int worked)
{
    int32_t err = worked ? 0 : errno;
    if (irp->Parameters.DeviceIoControl.OutputBufferLength < sizeof err)
        return DkCompleteRequest(irp, STATUS_BUFFER_TOO_SMALL, 0);
    memcpy(irp->SystemBuffer, &err, sizeof err);
    return DkCompleteRequest(irp, STATUS_SUCCESS, sizeof err);
}

/* A new descriptor (or -1 and errno): closed again, its errno answered. */
static kx_status answer_fd(PIRP irp, int fd)
{
    int saved = errno;
    if (fd >= 0)
        close(fd);
    errno = saved;
    return answer_errno(irp, fd >= 0);
}

static char stored[64];
static size_t stored_len;

static kx_status crash_write(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    size_t n = irp->Parameters.Write.Length;
    stored_len = n < sizeof stored ? n : sizeof stored;
    memcpy(stored, irp->SystemBuffer, stored_len);
    return DkCompleteRequest(irp, STATUS_SUCCESS, n);
}

static kx_status crash_read(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    size_t n = irp->Parameters.Read.Length < stored_len ? irp->Parameters.Read.Length : stored_len;
    if (n)
        memcpy(irp->SystemBuffer, stored, n);
    return DkCompleteRequest(irp, STATUS_SUCCESS, n);
}

static kx_status crash_control(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    switch (irp->Parameters.DeviceIoControl.IoControlCode) {
    case IOCTL_CRASH_SEGV: {
        DkPrint("Crash: dereferencing NULL");
        volatile int *volatile p = NULL;
        return (kx_status)*p;
    }
    case IOCTL_CRASH_ABORT: DkPrint("Crash: abort()"); abort();
    case IOCTL_CRASH_EXIT: DkPrint("Crash: exit(3)"); exit(3);
    case IOCTL_CRASH_HANG:
        DkPrint("Crash: hanging in the routine");
        for (;;)
            pause(); /* only the watchdog's SIGKILL ends it */
    case IOCTL_CRASH_PEND:
        DkMarkIrpPending(irp);
        DkPrint("Crash: request pending");
        return STATUS_PENDING;
    case IOCTL_CRASH_PING:
        if (irp->Parameters.DeviceIoControl.OutputBufferLength < 4)
            return DkCompleteRequest(irp, STATUS_BUFFER_TOO_SMALL, 0);
        memcpy(irp->SystemBuffer, "pong", 4);
        return DkCompleteRequest(irp, STATUS_SUCCESS, 4);
    case IOCTL_CRASH_SOCKET: return answer_fd(irp, socket(AF_INET, SOCK_STREAM, 0));
    case IOCTL_CRASH_OPEN: return answer_fd(irp, open("/dev/null", O_RDWR | O_CLOEXEC));
    case IOCTL_CRASH_UNSHARE:
        DkPrint("Crash: unshare()");
        return answer_errno(irp, unshare(0) == 0);
    default: return DkCompleteRequest(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}
#endif

#if TESTKEXT_MODE == 4
static void testkext_unload(PDRIVER_OBJECT drv)
{
    (void)drv;
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->DriverUnload = testkext_unload;
    DkPrint("Idle: started; nothing to publish");
    return STATUS_SUCCESS;
}
#else
#if TESTKEXT_MODE != 2 && TESTKEXT_MODE != 5
static void testkext_unload(PDRIVER_OBJECT drv)
{
    DkDeleteSymbolicLink("/dev/" TESTKEXT_NAME);
    if (drv->DeviceObject)
        DkDeleteDevice(drv->DeviceObject);
}
#endif

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
#if TESTKEXT_MODE == 1 || TESTKEXT_MODE == 2
    struct ringbuf *rb = ringbuf_new(16); /* binds the kext to the library */
    ringbuf_free(rb);
#endif
#if TESTKEXT_MODE == 2
    (void)drv;
    DkPrint("FailEntry: refusing to start");
    return STATUS_DRIVER_INIT_FAILED;
#else
    PDEVICE_OBJECT dev;
#if TESTKEXT_MODE != 5
    drv->DriverUnload = testkext_unload;
#endif
    kx_status st = DkCreateDevice(drv, "\\Device\\" TESTKEXT_NAME "0", 0, &dev);
#if TESTKEXT_MODE == 8
    drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = crash_control;
    drv->MajorFunction[IRP_MJ_READ] = crash_read;
    drv->MajorFunction[IRP_MJ_WRITE] = crash_write;
    if (st == STATUS_SUCCESS)
        st = DkSetDeviceSecurity(dev, 0, 0, 0666);
#endif
    if (st == STATUS_SUCCESS)
        st = DkCreateSymbolicLink("/dev/" TESTKEXT_NAME, "\\Device\\" TESTKEXT_NAME "0");
    return st;
#endif
}
#endif
