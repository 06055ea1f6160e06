/* lifecycle.c — the Lifecycle test driver: /dev/Lifecycle from DriverEntry,
 * /dev/LifecycleAdd from AddDevice (it matches IOResources), each created
 * before the routine does what the control file (lifecycle.h) says, so that
 * a routine that dies or hangs leaves objects for the manager to roll back. */
#include <kx/kmdf.h>

#include "lifecycle.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

KX_DRIVER_INFO("Lifecycle", DRIVER_TYPE_KMD, 500, KX_KEXT_VERSION);

/* Carries out what the control file says for routine, if anything. */
static void obey(const char *routine)
{
    char path[64], line[64];
    snprintf(path, sizeof path, LIFECYCLE_CONTROL_FMT, (int)getppid());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, line, sizeof line - 1);
    close(fd);
    if (n <= 0)
        return;
    line[n] = 0;
    line[strcspn(line, "\n")] = 0;
    size_t len = strlen(routine);
    if (strncmp(line, routine, len) != 0 || line[len] != ' ')
        return;
    const char *action = line + len + 1;
    DkPrint("Lifecycle: %s: %s", routine, action);
    if (strcmp(action, "crash") == 0) {
        volatile int *volatile p = NULL;
        *p = 1;
    } else if (strcmp(action, "abort") == 0) {
        abort();
    } else if (strcmp(action, "exit") == 0) {
        exit(3);
    } else if (strcmp(action, "hang") == 0) {
        for (;;)
            pause(); /* only the manager's SIGKILL ends it */
    }
}

/* A device and its link, secured for the tests' clients. */
static kx_status publish(PDRIVER_OBJECT drv, const char *device, const char *link,
                         PDEVICE_OBJECT *dev)
{
    kx_status st = DkCreateDevice(drv, device, 0, dev);
    if (st == STATUS_SUCCESS)
        st = DkSetDeviceSecurity(*dev, 0, 0, 0666);
    if (st == STATUS_SUCCESS)
        st = DkCreateSymbolicLink(link, device);
    return st;
}

static kx_status lifecycle_create(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static kx_status lifecycle_add(PDRIVER_OBJECT drv, PKX_PROVIDER provider)
{
    (void)provider;
    PDEVICE_OBJECT dev;
    kx_status st = publish(drv, "\\Device\\LifecycleAdd0", "/dev/LifecycleAdd", &dev);
    obey("AddDevice");
    return st;
}

static void lifecycle_unload(PDRIVER_OBJECT drv)
{
    obey("DriverUnload");
    DkDeleteSymbolicLink("/dev/LifecycleAdd");
    DkDeleteSymbolicLink("/dev/Lifecycle");
    for (PDEVICE_OBJECT dev = drv->DeviceObject, next; dev; dev = next) {
        next = dev->NextDevice;
        DkDeleteDevice(dev);
    }
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
    drv->DriverUnload = lifecycle_unload;
    drv->AddDevice = lifecycle_add;
    drv->MajorFunction[IRP_MJ_CREATE] = lifecycle_create;
    drv->MajorFunction[IRP_MJ_CLOSE] = lifecycle_create;
    PDEVICE_OBJECT dev;
    kx_status st = publish(drv, "\\Device\\Lifecycle0", "/dev/Lifecycle", &dev);
    obey("DriverEntry");
    return st;
}
