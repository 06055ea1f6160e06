/* kernel_event.c — the kernel's event sources (issue 14): the one raise
 * every source goes through, and the glue that turns registry and hot-plug
 * news into named events for drivers (kx/io_event.h).
 *
 *   component_added / component_removed  an entry of class KXComponent was
 *       published / terminated (the registry's class watcher, called after
 *       its lock is let go); source: the component's address
 *   device_added / device_removed  a Linux hot-plug event was applied (from
 *       udev's monitor, or kx_kernel_platform_event); source: the sysfs path
 */
#include "kernel_int.h"

#include <kx/io_event.h>
#include <kx/platform.h>
#include <kx/registry.h>
#include <string.h>

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
    kx_kernel_event_raise(ctx, is_added ? "component_added" : "component_removed", source, NULL,
                          0, NULL);
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
