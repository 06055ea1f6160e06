/* linux_udev.c — hot-plug: udev's netlink monitor feeding kx_platform_linux_handle_event.
 *
 * The glue is thin on purpose: everything an event does is in the (action, DEVPATH)
 * handler, which tests drive on fake trees without netlink. The monitor listens to udevd's
 * processed events ("udev", not the kernel's raw ones), so a device's attributes and links
 * are in place when its "add" arrives; the socket is non-blocking, so dispatching drains
 * what is waiting and returns. libudev reports failures as negative errno values, which
 * the platform layer turns into statuses.
 */
#include "core/plat.h"

#include <kx/platform.h>

#include <libudev.h>
#include <stdlib.h>

struct kx_platform_udev {
    struct udev *udev;
    struct udev_monitor *monitor;
};

static const char *const subsystems[] = {"pci", "usb", "acpi", "input"}; /* input: keyboards */

kx_status kx_platform_udev_open(struct kx_platform_udev **out)
{
    struct kx_platform_udev *u = calloc(1, sizeof *u);
    kx_status st = STATUS_SUCCESS;
    int rc = 0;
    *out = NULL;
    if (!u || !(u->udev = udev_new())) {
        free(u);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    /* a NULL monitor has no errno to give: netlink refused (a sandbox), or memory */
    if (!(u->monitor = udev_monitor_new_from_netlink(u->udev, "udev")))
        st = STATUS_ACCESS_DENIED;
    for (size_t i = 0; st == STATUS_SUCCESS && i < sizeof subsystems / sizeof subsystems[0]; i++)
        if ((rc = udev_monitor_filter_add_match_subsystem_devtype(u->monitor, subsystems[i],
                                                                  NULL)) < 0)
            st = kx_status_from_errno(-rc);
    if (st == STATUS_SUCCESS && (rc = udev_monitor_enable_receiving(u->monitor)) < 0)
        st = kx_status_from_errno(-rc);
    if (st != STATUS_SUCCESS) {
        kx_platform_udev_close(u);
        return st;
    }
    *out = u;
    return STATUS_SUCCESS;
}

void kx_platform_udev_close(struct kx_platform_udev *u)
{
    if (!u)
        return;
    udev_monitor_unref(u->monitor);
    udev_unref(u->udev);
    free(u);
}

int kx_platform_udev_fd(const struct kx_platform_udev *u)
{
    return udev_monitor_get_fd(u->monitor);
}

kx_status kx_platform_udev_dispatch(struct kx_platform_udev *u, struct kx_reg *r,
                                    const char *sysfs_root, kx_reg_terminate_fn fn, void *ctx,
                                    struct kx_platform_report *rep)
{
    kx_status first = STATUS_SUCCESS;
    struct udev_device *d;
    while ((d = udev_monitor_receive_device(u->monitor)) != NULL) {
        const char *action = udev_device_get_action(d), *devpath = udev_device_get_devpath(d);
        if (action && devpath) {
            kx_status st =
                kx_platform_linux_handle_event(r, sysfs_root, action, devpath, fn, ctx, rep);
            if (first == STATUS_SUCCESS)
                first = st;
        }
        udev_device_unref(d);
    }
    return first;
}
