/* names.c — the object namespace: \Driver\ and \Device\ objects with unique
 * names, symbolic links from user paths ("/dev/null") to device names, and
 * the host messages that change them.
 *
 * Arrays under ns_lock, searched linearly: a kx system has tens of devices,
 * and lookups happen at open and at Dk* calls, never per IRP.
 * XXX(#3): hash the names if namespaces grow to thousands of objects.
 *
 * A link's target is always a device name, resolved at lookup (as Windows
 * stores a target string). Deleting a device removes every link that points
 * at it and reports each one, so no link is ever left dangling.
 *
 * Device and driver records are never freed before the manager: when the last
 * reference goes they move to the retired list, because an IRP, a watchdog
 * pass or a late message may still hold a pointer to them. XXX(#3): reclaim retired records once
 * no IRP can refer to them, for daemons that load and unload for months.
 */
#include "io_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kx__name_valid(const char *name, const char *prefix)
{
    if (!name)
        return 0;
    size_t pl = strlen(prefix), n = strnlen(name, KX_IO_NAME_MAX);
    if (n == KX_IO_NAME_MAX || n <= pl || strncmp(name, prefix, pl) != 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

kx_status kx__ns_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return STATUS_SUCCESS;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return STATUS_INSUFFICIENT_RESOURCES;
    *arr = p;
    *cap = ncap;
    return STATUS_SUCCESS;
}

struct io_driver *kx__ns_driver_by_id(struct kx_io *io, uint64_t id)
{
    for (size_t i = 0; i < io->n_drivers; i++)
        if (io->drivers[i]->id == id)
            return io->drivers[i];
    return NULL;
}

struct io_device *kx__ns_device_by_id(struct kx_io *io, uint64_t id)
{
    for (size_t i = 0; i < io->n_devices; i++)
        if (io->devices[i]->id == id)
            return io->devices[i];
    return NULL;
}

static struct io_device *device_by_name(struct kx_io *io, const char *name)
{
    for (size_t i = 0; i < io->n_devices; i++)
        if (!atomic_load(&io->devices[i]->is_deleted) && strcmp(io->devices[i]->name, name) == 0)
            return io->devices[i];
    return NULL;
}

static struct io_link *link_by_name(struct kx_io *io, const char *link)
{
    for (size_t i = 0; i < io->n_links; i++)
        if (strcmp(io->links[i].link, link) == 0)
            return &io->links[i];
    return NULL;
}

struct io_device *kx__ns_resolve(struct kx_io *io, const char *path, kx_status *why)
{
    if (path[0] == '\\') {
        struct io_device *dv = device_by_name(io, path);
        *why = dv ? STATUS_SUCCESS : STATUS_NO_SUCH_DEVICE;
        return dv;
    }
    struct io_link *l = link_by_name(io, path);
    if (!l) {
        *why = STATUS_NO_SUCH_FILE;
        return NULL;
    }
    struct io_device *dv = device_by_name(io, l->target);
    *why = dv ? STATUS_SUCCESS : STATUS_NO_SUCH_DEVICE;
    return dv;
}

static void remove_link_at(struct kx_io *io, size_t i)
{
    memmove(&io->links[i], &io->links[i + 1], (io->n_links - i - 1) * sizeof io->links[0]);
    io->n_links--;
}

/* Takes the device out of the namespace; links at it go too (reported). */
static void delete_device(struct kx_io *io, struct io_device *dv, const char *why)
{
    atomic_store(&dv->is_deleted, 1);
    for (size_t i = io->n_links; i-- > 0;)
        if (strcmp(io->links[i].target, dv->name) == 0) {
            kx__io_report(io, KX_LOG_WARN, dv->driver_name + strlen(IO_DRIVER_PREFIX),
                          "link %s pointed at %s, which was deleted%s; link removed",
                          io->links[i].link, dv->name, why);
            remove_link_at(io, i);
        }
    kx__ns_device_unref(io, dv);
}

void kx__ns_device_unref(struct kx_io *io, struct io_device *dv)
{
    if (--dv->refs)
        return;
    /* Last reference: tell the host it may free its DEVICE_OBJECT. The record
     * itself stays (retired) for anything that still names it. */
    struct io_driver *d = dv->drv;
    struct io_irp *r;
    if (d && (d->host || d->proc) && d->state != IO_DRIVER_GONE && kx__irp_alloc(io, &r, 1) == STATUS_SUCCESS) {
        r->kind = K_DEVREL;
        r->u.dev_cookie = dv->host_cookie;
        atomic_store_explicit(&r->drv, d, memory_order_relaxed);
        kx__post(io, d, &r, 1);
    }
    for (size_t i = 0; i < io->n_devices; i++)
        if (io->devices[i] == dv) {
            memmove(&io->devices[i], &io->devices[i + 1],
                    (io->n_devices - i - 1) * sizeof(struct io_device *));
            io->n_devices--;
            break;
        }
    kx__ns_retire(io, dv, 0);
}

void kx__ns_retire(struct kx_io *io, void *obj, int is_driver)
{
    /* If the list cannot grow the object leaks: harmless, and never freed
     * while something may still refer to it. */
    if (kx__ns_grow((void **)&io->retired, &io->cap_retired, io->n_retired + 1,
                    sizeof *io->retired) == STATUS_SUCCESS) {
        io->retired[io->n_retired].obj = obj;
        io->retired[io->n_retired++].is_driver = is_driver;
    }
}

size_t kx__ns_remove_driver_objects(struct kx_io *io, struct io_driver *d, const char *why)
{
    size_t n = 0;
    for (size_t i = 0; i < io->n_devices; i++) {
        struct io_device *dv = io->devices[i];
        if (dv->drv != d || atomic_load(&dv->is_deleted))
            continue;
        kx__io_report(io, KX_LOG_WARN, d->short_name, "device %s deleted by the manager (%s)",
                      dv->name, why);
        delete_device(io, dv, "");
        n++;
    }
    for (size_t i = io->n_links; i-- > 0;)
        if (io->links[i].creator == d->id) {
            kx__io_report(io, KX_LOG_WARN, d->short_name, "link %s deleted by the manager (%s)",
                          io->links[i].link, why);
            remove_link_at(io, i);
            n++;
        }
    return n;
}

/* ---- messages from hosts ------------------------------------------------- */

/* The calling driver, if it may still change the namespace. */
static struct io_driver *caller(struct kx_io *io, uint64_t drv_id)
{
    struct io_driver *d = kx__ns_driver_by_id(io, drv_id);
    if (!d || (d->state != KX_IO_DRIVER_STARTING && d->state != KX_IO_DRIVER_RUNNING &&
               d->state != KX_IO_DRIVER_UNLOADING))
        return NULL;
    return d;
}

kx_status kx__chan_create_device(struct kx_io *io, uint64_t drv_id, const char *name,
                                 uint64_t cookie, uint64_t instance, uint64_t *dev_id)
{
    if (!kx__name_valid(name, IO_DEVICE_PREFIX))
        return STATUS_OBJECT_NAME_INVALID;
    struct io_device *dv = calloc(1, sizeof *dv);
    if (!dv)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = STATUS_SUCCESS;
    char holder[KX_IO_NAME_MAX] = "", asker[KX_IO_NAME_MAX] = "";
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = caller(io, drv_id);
    const struct io_device *held = d ? device_by_name(io, name) : NULL;
    if (!d) {
        st = STATUS_INVALID_DRIVER_OBJECT;
    } else if (held) {
        st = STATUS_DEVICE_ALREADY_EXISTS;
        snprintf(holder, sizeof holder, "%s", held->driver_name);
        snprintf(asker, sizeof asker, "%s", d->name);
    } else {
        st = kx__ns_grow((void **)&io->devices, &io->cap_devices, io->n_devices + 1,
                         sizeof(struct io_device *));
    }
    if (st != STATUS_SUCCESS) {
        pthread_mutex_unlock(&io->ns_lock);
        free(dv);
        if (*holder) /* two drivers can't own one device: say who has it */
            kx__io_report(io, KX_LOG_WARN, asker,
                          "%s can't create %s: STATUS_DEVICE_ALREADY_EXISTS, held by %s", asker,
                          name, holder);
        return st;
    }
    dv->id = ++io->next_id;
    snprintf(dv->name, sizeof dv->name, "%s", name);
    snprintf(dv->driver_name, sizeof dv->driver_name, "%s", d->name);
    dv->drv = d;
    dv->host_cookie = cookie;
    dv->instance = instance;
    dv->mode = 0600; /* root only until the driver says otherwise */
    dv->refs = 1;
    atomic_init(&dv->is_deleted, 0);
    io->devices[io->n_devices++] = dv;
    *dev_id = dv->id;
    pthread_mutex_unlock(&io->ns_lock);
    return STATUS_SUCCESS;
}

kx_status kx__chan_delete_device(struct kx_io *io, uint64_t drv_id, uint64_t dev_id)
{
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = kx__ns_driver_by_id(io, drv_id);
    struct io_device *dv = kx__ns_device_by_id(io, dev_id);
    if (!d)
        st = STATUS_INVALID_DRIVER_OBJECT;
    else if (!dv || dv->drv != d || atomic_load(&dv->is_deleted))
        st = STATUS_NO_SUCH_DEVICE;
    else
        delete_device(io, dv, " by its driver");
    pthread_mutex_unlock(&io->ns_lock);
    return st;
}

kx_status kx__chan_bind_device(struct kx_io *io, uint64_t drv_id, uint64_t dev_id,
                               uint64_t instance)
{
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = caller(io, drv_id);
    struct io_device *dv = kx__ns_device_by_id(io, dev_id);
    if (!d)
        st = STATUS_INVALID_DRIVER_OBJECT;
    else if (!dv || dv->drv != d || atomic_load(&dv->is_deleted))
        st = STATUS_NO_SUCH_DEVICE;
    else
        dv->instance = instance;
    pthread_mutex_unlock(&io->ns_lock);
    return st;
}

kx_status kx__chan_registry(struct kx_io *io, uint64_t drv_id, const struct kx_io_reg_req *req,
                            uint64_t *out_id, void **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    *out_id = 0;
    /* Set before drivers start and never changed: read without the lock. */
    if (!io->reg_fn)
        return STATUS_NOT_SUPPORTED;
    return io->reg_fn(io->reg_ctx, drv_id, req, out_id, out, out_len);
}

kx_status kx__chan_set_security(struct kx_io *io, uint64_t drv_id, uint64_t dev_id, uint32_t uid,
                                uint32_t gid, uint32_t mode)
{
    if (mode > 0777)
        return STATUS_INVALID_PARAMETER;
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = caller(io, drv_id);
    struct io_device *dv = kx__ns_device_by_id(io, dev_id);
    if (!d)
        st = STATUS_INVALID_DRIVER_OBJECT;
    else if (!dv || dv->drv != d || atomic_load(&dv->is_deleted))
        st = STATUS_NO_SUCH_DEVICE;
    else {
        dv->uid = uid;
        dv->gid = gid;
        dv->mode = mode;
    }
    pthread_mutex_unlock(&io->ns_lock);
    return st;
}

kx_status kx__chan_create_link(struct kx_io *io, uint64_t drv_id, const char *link,
                               const char *target)
{
    if (!kx__name_valid(link, "/") || !kx__name_valid(target, IO_DEVICE_PREFIX))
        return STATUS_OBJECT_NAME_INVALID;
    kx_status st = STATUS_SUCCESS;
    char holder[2 * KX_IO_NAME_MAX + 8] = "", asker[KX_IO_NAME_MAX] = "";
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = caller(io, drv_id);
    const struct io_link *held = d ? link_by_name(io, link) : NULL;
    if (!d)
        st = STATUS_INVALID_DRIVER_OBJECT;
    else if (!device_by_name(io, target))
        st = STATUS_NO_SUCH_DEVICE;
    else if (held) {
        st = STATUS_OBJECT_NAME_COLLISION; /* AxisOS overwrote silently */
        snprintf(holder, sizeof holder, "%s (%s)", held->creator_name, held->target);
        snprintf(asker, sizeof asker, "%s", d->name);
    } else
        st = kx__ns_grow((void **)&io->links, &io->cap_links, io->n_links + 1,
                         sizeof *io->links);
    if (st == STATUS_SUCCESS) {
        struct io_link *l = &io->links[io->n_links++];
        memset(l, 0, sizeof *l);
        snprintf(l->link, sizeof l->link, "%s", link);
        snprintf(l->target, sizeof l->target, "%s", target);
        snprintf(l->creator_name, sizeof l->creator_name, "%s", d->name);
        l->creator = d->id;
    }
    pthread_mutex_unlock(&io->ns_lock);
    if (*holder) /* two drivers can't own one link: say who has it */
        kx__io_report(io, KX_LOG_WARN, asker,
                      "%s can't link %s: STATUS_OBJECT_NAME_COLLISION, held by %s", asker, link,
                      holder);
    return st;
}

kx_status kx__chan_delete_link(struct kx_io *io, uint64_t drv_id, const char *link)
{
    if (!link)
        return STATUS_INVALID_PARAMETER;
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = kx__ns_driver_by_id(io, drv_id);
    struct io_link *l = link_by_name(io, link);
    if (!d)
        st = STATUS_INVALID_DRIVER_OBJECT;
    else if (!l)
        st = STATUS_NO_SUCH_FILE;
    else if (l->creator != d->id)
        st = STATUS_ACCESS_DENIED;
    else
        remove_link_at(io, (size_t)(l - io->links));
    pthread_mutex_unlock(&io->ns_lock);
    return st;
}

kx_status kx__chan_ref_device(struct kx_io *io, uint64_t drv_id, const char *name,
                              uint64_t *dev_id, char canonical[KX_IO_NAME_MAX])
{
    if (!name)
        return STATUS_INVALID_PARAMETER;
    kx_status st = STATUS_INVALID_DRIVER_OBJECT;
    pthread_mutex_lock(&io->ns_lock);
    struct io_device *dv = caller(io, drv_id) ? kx__ns_resolve(io, name, &st) : NULL;
    if (dv) {
        dv->refs++;
        *dev_id = dv->id;
        snprintf(canonical, KX_IO_NAME_MAX, "%s", dv->name);
    } else if (st == STATUS_NO_SUCH_FILE)
        st = STATUS_NO_SUCH_DEVICE;
    pthread_mutex_unlock(&io->ns_lock);
    return st;
}

void kx__chan_unref_device(struct kx_io *io, uint64_t drv_id, uint64_t dev_id)
{
    (void)drv_id;
    pthread_mutex_lock(&io->ns_lock);
    struct io_device *dv = kx__ns_device_by_id(io, dev_id);
    if (dv && dv->refs)
        kx__ns_device_unref(io, dv);
    pthread_mutex_unlock(&io->ns_lock);
}

/* ---- listings -------------------------------------------------------------- */

static int by_link(const void *a, const void *b)
{
    return strcmp(((const struct kx_io_link_stat *)a)->link,
                  ((const struct kx_io_link_stat *)b)->link);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct kx_io_device_stat *)a)->name,
                  ((const struct kx_io_device_stat *)b)->name);
}

kx_status kx_io_list_links(struct kx_io *io, struct kx_io_link_stat **out, size_t *n)
{
    if (!io || !out || !n)
        return STATUS_INVALID_PARAMETER;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&io->ns_lock);
    size_t count = io->n_links;
    struct kx_io_link_stat *arr = count ? calloc(count, sizeof *arr) : NULL;
    for (size_t i = 0; arr && i < count; i++) {
        snprintf(arr[i].link, sizeof arr[i].link, "%s", io->links[i].link);
        snprintf(arr[i].target, sizeof arr[i].target, "%s", io->links[i].target);
        snprintf(arr[i].driver, sizeof arr[i].driver, "%s", io->links[i].creator_name);
    }
    pthread_mutex_unlock(&io->ns_lock);
    if (count && !arr)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (count)
        qsort(arr, count, sizeof *arr, by_link);
    *out = arr;
    *n = count;
    return STATUS_SUCCESS;
}

kx_status kx_io_list_devices(struct kx_io *io, struct kx_io_device_stat **out, size_t *n)
{
    if (!io || !out || !n)
        return STATUS_INVALID_PARAMETER;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&io->ns_lock);
    size_t count = io->n_devices;
    struct kx_io_device_stat *arr = count ? calloc(count, sizeof *arr) : NULL;
    size_t k = 0;
    for (size_t i = 0; arr && i < io->n_devices; i++) {
        struct io_device *dv = io->devices[i];
        snprintf(arr[k].name, sizeof arr[k].name, "%s", dv->name);
        snprintf(arr[k].driver, sizeof arr[k].driver, "%s", dv->driver_name);
        kx__policy_security(io, dv, &arr[k].uid, &arr[k].gid, &arr[k].mode);
        arr[k].n_handles = (uint32_t)kx__file_count(io, NULL, dv, 0, 0);
        arr[k].flags = atomic_load(&dv->is_deleted) ? KX_IO_DEV_DELETE_PENDING : 0;
        arr[k].host_pid = dv->drv ? kx__hostproc_pid(dv->drv->proc) : 0;
        k++;
    }
    pthread_mutex_unlock(&io->ns_lock);
    if (count && !arr)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (count)
        qsort(arr, count, sizeof *arr, by_name);
    *out = arr;
    *n = count;
    return STATUS_SUCCESS;
}
