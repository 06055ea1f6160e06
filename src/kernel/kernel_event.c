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
#include <plist/plist.h>
#include <pthread.h>
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
        kx__kernel_keys_hotplug(k, is_add ? "add" : "remove", path + 1);
    }
}

/* ---- keyboards: key_down / key_up ------------------------------------------
 * "kx-evdev" polls the host's keyboards (/dev/input/eventN that evdev calls
 * keyboards) and raises key_down / key_up with the key code (uint16_t, host
 * order) as payload and the device path as source. Each keyboard is published
 * as an IOHIDKeyboard nub whose "source" is that path, so the drivers matched
 * on it (Keys) know which events are theirs. Started with the Linux
 * platform on the host's own /sys; a keyboard plugged in later comes with
 * udev's "add" of its eventN, and its nub goes (taking its drivers' devices)
 * when evdev says the device is gone or udev removes its eventN, whichever
 * comes first. Nothing when /dev/input can't be read (a container): a
 * simulated IOHIDKeyboard (`kx device add`) and `kx event raise key_down
 * --source ITS-SOURCE` stand in for one then. */

#define KEYS_MAX 16

struct kernel_keys {
    pthread_mutex_t lock; /* kbd[]: the hot-plug side changes it */
    struct kx_platform_evdev *kbd[KEYS_MAX];
    int poller;
    pthread_t thread;
    _Atomic int stop;
};

static void on_key(void *ctx, const char *path, uint16_t code, int is_down)
{
    kx_kernel_event_raise(ctx, is_down ? "key_down" : "key_up", path, &code, sizeof code, NULL);
}

/* The evdev source ("/dev/input/event3") a sysfs path names when its last element is an
 * event device ("/devices/.../input/input7/event3"); 0 when it names none. */
static int evdev_source(const char *path, char *out, size_t len)
{
    const char *base = strrchr(path, '/');
    char *end;
    if (!base || strncmp(base + 1, "event", 5) != 0 || base[6] < '0' || base[6] > '9')
        return 0;
    unsigned long n = strtoul(base + 6, &end, 10);
    if (*end || n > UINT32_MAX)
        return 0;
    snprintf(out, len, "/dev/input/event%lu", n);
    return 1;
}

/* Terminates the real (not simulated) keyboard nubs whose source is source. */
static void keyboard_nubs_go(struct kx_kernel *k, const char *source)
{
    struct kx_reg *reg = kx_kernel_registry(k);
    kx_reg_id *ids = NULL;
    size_t n = 0;
    if (kx_reg_find_class(reg, KX_KEYBOARD_CLASS, &ids, &n) != STATUS_SUCCESS)
        return;
    for (size_t i = 0; i < n; i++) {
        plist_t src = NULL, sim = NULL;
        uint8_t simulated = 0;
        kx_reg_prop_copy(reg, ids[i], KX_KEYBOARD_SOURCE_KEY, &src);
        kx_reg_prop_copy(reg, ids[i], "simulated", &sim);
        if (sim && plist_get_node_type(sim) == PLIST_BOOLEAN)
            plist_get_bool_val(sim, &simulated);
        if (!simulated && src && plist_get_node_type(src) == PLIST_STRING &&
            strcmp(plist_get_string_ptr(src, NULL), source) == 0) {
            kx__kernel_note(k, "evdev: keyboard %s gone; its nub goes", source);
            kx__runtime_terminate_later(k, ids[i]);
        }
        plist_free(src);
        plist_free(sim);
    }
    free(ids);
}

/* Stops polling keyboard slot i (under kk->lock). */
static void keyboard_close(struct kernel_keys *kk, size_t i)
{
    kx_plat_poller_remove(kk->poller, kx_platform_evdev_fd(kk->kbd[i]));
    kx_platform_evdev_close(kk->kbd[i]);
    kk->kbd[i] = NULL;
}

/* Opens path if it is a keyboard, publishes its nub and polls it (under kk->lock). */
static void keyboard_open(struct kx_kernel *k, struct kernel_keys *kk, const char *path)
{
    size_t slot = KEYS_MAX;
    for (size_t i = 0; i < KEYS_MAX; i++) {
        if (kk->kbd[i] && strcmp(kx_platform_evdev_path(kk->kbd[i]), path) == 0)
            return; /* already polled */
        if (!kk->kbd[i] && slot == KEYS_MAX)
            slot = i;
    }
    if (slot == KEYS_MAX || kx_platform_evdev_open(path, &kk->kbd[slot]) != STATUS_SUCCESS)
        return;
    struct kx_reg *reg = kx_kernel_registry(k);
    kx_reg_id nub = KX_REG_ID_NONE;
    kx_status st = kx_platform_evdev_publish(reg, kx_reg_platform(reg), kk->kbd[slot], &nub);
    if (st == STATUS_SUCCESS) /* a keyboard plugged in later is matched like any new nub */
        kx__runtime_match_later(k, nub);
    kx_plat_poller_set(kk->poller, kx_platform_evdev_fd(kk->kbd[slot]), slot, KX_POLL_IN, 1);
    kx__kernel_note(
        k, "evdev: keyboard %s raises key_down/key_up%s%s", path,
        st == STATUS_SUCCESS ? "" : "; no nub: ", st == STATUS_SUCCESS ? "" : kx_status_string(st));
}

static void *keys_main(void *arg)
{
    struct kx_kernel *k = arg;
    struct kernel_keys *kk = k->keys;
    pthread_setname_np(pthread_self(), "kx-evdev");
    while (!atomic_load(&kk->stop)) {
        struct kx_poll_event ev[KEYS_MAX];
        int n = 0;
        kx_plat_poller_wait(kk->poller, ev, KEYS_MAX, 500, &n); /* wakes to see stop */
        for (int i = 0; i < n; i++) {
            char gone[256] = "";
            pthread_mutex_lock(&kk->lock);
            struct kx_platform_evdev *e = ev[i].key < KEYS_MAX ? kk->kbd[ev[i].key] : NULL;
            if (e && kx_platform_evdev_dispatch(e, on_key, k) == STATUS_DEVICE_REMOVED) {
                snprintf(gone, sizeof gone, "%s", kx_platform_evdev_path(e));
                keyboard_close(kk, ev[i].key);
            }
            pthread_mutex_unlock(&kk->lock);
            if (*gone)
                keyboard_nubs_go(k, gone);
        }
    }
    return NULL;
}

void kx__kernel_keys_hotplug(struct kx_kernel *k, const char *action, const char *path)
{
    char source[32];
    if (!evdev_source(path, source, sizeof source))
        return;
    struct kernel_keys *kk = k->keys;
    if (kk) {
        pthread_mutex_lock(&kk->lock);
        for (size_t i = 0; i < KEYS_MAX; i++)
            if (kk->kbd[i] && strcmp(kx_platform_evdev_path(kk->kbd[i]), source) == 0 &&
                strcmp(action, "remove") == 0)
                keyboard_close(kk, i);
        if (strcmp(action, "add") == 0)
            keyboard_open(k, kk, source);
        pthread_mutex_unlock(&kk->lock);
    }
    if (strcmp(action, "remove") == 0)
        keyboard_nubs_go(k, source);
}

static void keys_free(struct kernel_keys *kk);

void kx__kernel_keys_start(struct kx_kernel *k, struct kx_reg *reg)
{
    (void)reg;
    if (k->keys)
        return;
    struct kernel_keys *kk = calloc(1, sizeof *kk);
    if (!kk || kx_plat_poller_new(&kk->poller) != STATUS_SUCCESS) {
        free(kk);
        return;
    }
    pthread_mutex_init(&kk->lock, NULL);
    atomic_init(&kk->stop, 0);
    pthread_mutex_lock(&kk->lock);
    for (int i = 0; i < 64; i++) {
        char path[32];
        snprintf(path, sizeof path, "/dev/input/event%d", i);
        keyboard_open(k, kk, path);
    }
    pthread_mutex_unlock(&kk->lock);
    k->keys = kk;
    if (pthread_create(&kk->thread, NULL, keys_main, k) != 0) {
        k->keys = NULL;
        keys_free(kk);
    }
}

static void keys_free(struct kernel_keys *kk)
{
    for (size_t i = 0; i < KEYS_MAX; i++)
        kx_platform_evdev_close(kk->kbd[i]);
    kx_plat_close(kk->poller);
    pthread_mutex_destroy(&kk->lock);
    free(kk);
}

void kx__kernel_keys_stop(struct kx_kernel *k)
{
    struct kernel_keys *kk = k->keys;
    if (!kk)
        return;
    atomic_store(&kk->stop, 1);
    pthread_join(kk->thread, NULL);
    keys_free(kk);
    k->keys = NULL;
}
