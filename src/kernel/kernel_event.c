/* kernel_event.c — the kernel's event sources (issue 14): the one raise
 * every source goes through, and the glue that turns registry and hot-plug
 * news into named events for drivers (kx/io_event.h).
 *
 *   component_added / component_removed  an entry of class KXComponent was
 *       published / terminated (the registry's class watcher, called after
 *       its lock is let go); source: the component's address
 *   device_added / device_removed  a Linux hot-plug event was applied (from
 *       udev's monitor, or kx_kernel_platform_event); source: the sysfs path
 *   key_down / key_up  a keyboard's key (evdev); source: its /dev/input path
 */
#include "kernel_int.h"

#include <kx/io_event.h>
#include <kx/platform.h>
#include <kx/registry.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/plat.h"
#include "core/plat_poll.h"

#define COMPONENT_CLASS "KXComponent"

kx_status kx_kernel_event_raise(struct kx_kernel *k, const char *name, const char *source,
                                const void *data, size_t len, uint32_t *n_queued)
{
    if (!k)
        return STATUS_INVALID_PARAMETER;
    return kx_io_event_raise(k->io, name, source, data, len, n_queued);
}

static void on_component(void *ctx, int is_added, kx_reg_id id, const char *source)
{
    (void)id;
    kx_kernel_event_raise(ctx, is_added ? "component_added" : "component_removed", source, NULL, 0,
                          NULL);
}

kx_status kx__kernel_watch_components(struct kx_kernel *k, struct kx_reg *reg)
{
    return kx_reg_watch_class(reg, COMPONENT_CLASS, on_component, k);
}

void kx__kernel_hotplug_events(struct kx_kernel *k, const struct kx_platform_report *rep)
{
    for (size_t i = 0; i < rep->n_hotplug; i++) {
        const char *line = rep->hotplug[i], *path = strchr(line, ' ');
        if (!path)
            continue;
        int is_add = strncmp(line, "add ", 4) == 0;
        kx_kernel_event_raise(k, is_add ? "device_added" : "device_removed", path + 1, NULL, 0,
                              NULL);
    }
}

/* ---- keyboards: key_down / key_up ------------------------------------------
 * "kx-evdev" polls the host's keyboards (/dev/input/eventN that evdev calls
 * keyboards) and raises key_down / key_up with the key code (uint16_t, host
 * order) as payload and the device path as source. Each keyboard is published
 * as an IOHIDKeyboard nub whose "source" is that path, so the drivers matched
 * on it (Keys) know which events are theirs. Started with the Linux
 * platform on the host's own /sys; nothing when /dev/input can't be read
 * (a container): a simulated IOHIDKeyboard (`kx device add`) and
 * `kx event raise key_down --source ITS-SOURCE` stand in for one then. */

#define KEYS_MAX 16

struct kernel_keys {
    struct kx_platform_evdev *kbd[KEYS_MAX];
    size_t n;
    pthread_t thread;
    _Atomic int stop;
};

static void on_key(void *ctx, const char *path, uint16_t code, int is_down)
{
    kx_kernel_event_raise(ctx, is_down ? "key_down" : "key_up", path, &code, sizeof code, NULL);
}

static void *keys_main(void *arg)
{
    struct kx_kernel *k = arg;
    struct kernel_keys *kk = k->keys;
    pthread_setname_np(pthread_self(), "kx-evdev");
    int poller = -1;
    if (kx_plat_poller_new(&poller) != STATUS_SUCCESS)
        return NULL;
    for (size_t i = 0; i < kk->n; i++)
        kx_plat_poller_set(poller, kx_platform_evdev_fd(kk->kbd[i]), i, KX_POLL_IN, 1);
    while (!atomic_load(&kk->stop)) {
        struct kx_poll_event ev[KEYS_MAX];
        int n = 0;
        kx_plat_poller_wait(poller, ev, KEYS_MAX, 500, &n); /* wakes to see stop */
        for (int i = 0; i < n; i++) {
            struct kx_platform_evdev *e = kk->kbd[ev[i].key];
            if (e && kx_platform_evdev_dispatch(e, on_key, k) == STATUS_DEVICE_REMOVED) {
                kx_plat_poller_remove(poller, kx_platform_evdev_fd(e));
                kx__kernel_note(k, "evdev: keyboard %s removed", kx_platform_evdev_path(e));
                kx_platform_evdev_close(e);
                kk->kbd[ev[i].key] = NULL;
            }
        }
    }
    kx_plat_close(poller);
    return NULL;
}

void kx__kernel_keys_start(struct kx_kernel *k, struct kx_reg *reg)
{
    if (k->keys)
        return;
    struct kernel_keys *kk = calloc(1, sizeof *kk);
    if (!kk)
        return;
    for (int i = 0; i < 64 && kk->n < KEYS_MAX; i++) {
        char path[32];
        snprintf(path, sizeof path, "/dev/input/event%d", i);
        if (kx_platform_evdev_open(path, &kk->kbd[kk->n]) != STATUS_SUCCESS)
            continue;
        /* its nub is what a driver matches; its events' source is the nub's "source" */
        kx_reg_id nub;
        kx_status st = kx_platform_evdev_publish(reg, kx_reg_platform(reg), kk->kbd[kk->n], &nub);
        kx__kernel_note(k, "evdev: keyboard %s raises key_down/key_up%s%s", path,
                        st == STATUS_SUCCESS ? "" : "; no nub: ",
                        st == STATUS_SUCCESS ? "" : kx_status_string(st));
        kk->n++;
    }
    atomic_init(&kk->stop, 0);
    k->keys = kk;
    if (!kk->n || pthread_create(&kk->thread, NULL, keys_main, k) != 0) {
        free(kk);
        k->keys = NULL;
    }
}

void kx__kernel_keys_stop(struct kx_kernel *k)
{
    struct kernel_keys *kk = k->keys;
    if (!kk)
        return;
    atomic_store(&kk->stop, 1);
    pthread_join(kk->thread, NULL);
    for (size_t i = 0; i < kk->n; i++)
        kx_platform_evdev_close(kk->kbd[i]);
    free(kk);
    k->keys = NULL;
}
