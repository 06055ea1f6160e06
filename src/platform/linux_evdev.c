/* linux_evdev.c — keyboards through evdev (libevdev), for the kernel's key_down and
 * key_up events (issue 14).
 *
 * A keyboard is an event device that reports EV_KEY with the letter keys; anything else
 * (mice, power buttons, lid switches) is refused with STATUS_NOT_SUPPORTED, so the caller
 * can try every /dev/input/eventN. Dispatching drains what the device has buffered and
 * returns: the caller polls the descriptor. Autorepeat (value 2) counts as a key_down.
 */
#include "core/plat.h"
#include "core/plat_fd.h"
#include "core/why.h"

#include <kx/platform.h>

#include <errno.h>
#include <libevdev/libevdev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kx_platform_evdev {
    struct libevdev *dev;
    int fd;
    char path[256];
};

kx_status kx_platform_evdev_open(const char *path, struct kx_platform_evdev **out)
{
    *out = NULL;
    struct kx_platform_evdev *e = calloc(1, sizeof *e);
    if (!e)
        return STATUS_INSUFFICIENT_RESOURCES;
    snprintf(e->path, sizeof e->path, "%s", path);
    kx_status st = kx_plat_open_read(path, &e->fd);
    if (st != STATUS_SUCCESS) {
        free(e);
        return st;
    }
    if (libevdev_new_from_fd(e->fd, &e->dev) < 0 ||
        !libevdev_has_event_code(e->dev, EV_KEY, KEY_A) ||
        !libevdev_has_event_code(e->dev, EV_KEY, KEY_Z)) {
        kx_platform_evdev_close(e);
        return STATUS_NOT_SUPPORTED;
    }
    *out = e;
    return STATUS_SUCCESS;
}

void kx_platform_evdev_close(struct kx_platform_evdev *e)
{
    if (!e)
        return;
    libevdev_free(e->dev);
    kx_plat_close(e->fd);
    free(e);
}

int kx_platform_evdev_fd(const struct kx_platform_evdev *e)
{
    return e->fd;
}

const char *kx_platform_evdev_path(const struct kx_platform_evdev *e)
{
    return e->path;
}

kx_status kx_platform_evdev_dispatch(struct kx_platform_evdev *e, kx_platform_key_fn fn, void *ctx)
{
    while (libevdev_has_event_pending(e->dev) > 0) {
        struct input_event ev;
        int rc = libevdev_next_event(e->dev, LIBEVDEV_READ_FLAG_NORMAL, &ev);
        if (rc == LIBEVDEV_READ_STATUS_SYNC) /* dropped events: catch up, keys are news only */
            while (libevdev_next_event(e->dev, LIBEVDEV_READ_FLAG_SYNC, &ev) ==
                   LIBEVDEV_READ_STATUS_SYNC)
                ;
        else if (rc != LIBEVDEV_READ_STATUS_SUCCESS)
            return rc == -ENODEV ? STATUS_DEVICE_REMOVED : STATUS_IO_ERROR;
        else if (ev.type == EV_KEY)
            fn(ctx, e->path, (uint16_t)ev.code, ev.value != 0);
    }
    return STATUS_SUCCESS;
}

kx_status kx_platform_evdev_publish(struct kx_reg *r, kx_reg_id parent,
                                    const struct kx_platform_evdev *e, kx_reg_id *out)
{
    const char *name = libevdev_get_name(e->dev);
    const char *slash = strrchr(e->path, '/');
    plist_t p = plist_new_dict();
    plist_dict_set_item(p, KX_KEYBOARD_SOURCE_KEY, plist_new_string(e->path));
    plist_dict_set_item(p, "name", plist_new_string(name ? name : ""));
    plist_dict_set_item(p, "vendor-id", plist_new_uint((uint64_t)libevdev_get_id_vendor(e->dev)));
    plist_dict_set_item(p, "product-id", plist_new_uint((uint64_t)libevdev_get_id_product(e->dev)));
    plist_dict_set_item(p, "simulated", plist_new_bool(0));
    return kx_reg_publish(r, parent, KX_REG_PLANE_BIT(KX_REG_SERVICE), KX_KEYBOARD_CLASS,
                          "keyboard", slash ? slash + 1 : e->path, p, out);
}

kx_status kx_platform_keyboard_check(plist_t props, const char *file, const char *path, char *why,
                                     size_t why_len)
{
    plist_t source = plist_dict_get_item(props, KX_KEYBOARD_SOURCE_KEY);
    uint64_t n = 0;
    if (plist_get_node_type(source) != PLIST_STRING || !plist_get_string_ptr(source, &n) || !n)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                      "%s: %s: " KX_KEYBOARD_SOURCE_KEY ": an " KX_KEYBOARD_CLASS
                      " needs a non-empty string (the Source of its key events)",
                      file, path);
    return STATUS_SUCCESS;
}
