/* registry_watch.c — one watcher of one class (issue 14): the kernel raises
 * component_added / component_removed from it. The registry only says which
 * entry came or went; the watcher runs after the registry lock is released
 * (publish in registry.c, kx_reg_terminate in registry_tree.c), so it may
 * read the registry or call into drivers' queues without a lock-order knot.
 */
#include "registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kx_status kx_reg_watch_class(struct kx_reg *r, const char *class_name, kx_reg_watch_fn fn,
                             void *ctx)
{
    char *copy = fn && class_name ? strdup(class_name) : NULL;
    if (fn && class_name && !copy)
        return STATUS_INSUFFICIENT_RESOURCES;
    pthread_rwlock_wrlock(&r->lock);
    free(r->watch_class);
    r->watch_class = copy;
    r->watch_fn = copy ? fn : NULL;
    r->watch_ctx = ctx;
    pthread_rwlock_unlock(&r->lock);
    return STATUS_SUCCESS;
}

int kx_reg_watched_locked(const struct kx_reg *r, const struct kx_reg_entry *e, char *source,
                          size_t len)
{
    if (!e || !r->watch_fn || !kx_classes_conforms(r->classes, e->class_name, r->watch_class))
        return 0;
    plist_t a = plist_dict_get_item(e->props, "address");
    const char *s =
        a && plist_get_node_type(a) == PLIST_STRING ? plist_get_string_ptr(a, NULL) : NULL;
    if (s)
        snprintf(source, len, "%s", s);
    else
        snprintf(source, len, "%s@0x%llx", e->class_name, (unsigned long long)e->id);
    return 1;
}
