/* linux_sysfs.c — Linux's devices into the registry: the pass, the enumeration of sysfs's
 * buses and udev events.
 *
 * Every device is published by lx_ensure, which first finds where its parent puts children
 * (lx_resolve, publishing that parent when it is missing), so the tree follows sysfs's own
 * device paths whatever order devices are met in, and an "add" event for a device below
 * unpublished parents publishes the chain. Which kind of device a folder is comes from its
 * subsystem link (pci, usb, acpi) or, for a PCI root bus, its name; any other folder is
 * transparent. A device that can't be read is left out with a reason and its children with
 * it, and the enumeration goes on: only running out of memory stops it.
 *
 * Removal reads no sysfs (the device is gone by then): the nubs whose KXSysfsPath is the
 * event's path or below it are terminated, the highest first, which takes their clients.
 */
#include "platform/linux_int.h"

#include "core/plat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper than any real device path (about 12 levels below /devices) times two links. */
#define MAX_RESOLVE_DEPTH 64

static const char *const buses[] = {"pci", "acpi", "usb"};

void kx_platform_report_clear(struct kx_platform_report *rep)
{
    if (!rep)
        return;
    for (size_t i = 0; i < rep->n_skipped; i++)
        free(rep->skipped[i]);
    free(rep->skipped);
    for (size_t i = 0; i < rep->n_hotplug; i++)
        free(rep->hotplug[i]);
    free(rep->hotplug);
    memset(rep, 0, sizeof *rep);
}

/* ---- The map ------------------------------------------------------------------------------- */

static kx_status map_add(struct lx *x, const char *path, kx_reg_id id)
{
    if (x->n_nubs == x->cap_nubs) {
        size_t cap = x->cap_nubs ? x->cap_nubs * 2 : 64;
        struct lx_nub *n = realloc(x->nubs, cap * sizeof *n);
        if (!n)
            return STATUS_INSUFFICIENT_RESOURCES;
        x->nubs = n;
        x->cap_nubs = cap;
    }
    if (!(x->nubs[x->n_nubs].path = strdup(path)))
        return STATUS_INSUFFICIENT_RESOURCES;
    x->nubs[x->n_nubs++].id = id;
    return STATUS_SUCCESS;
}

static kx_reg_id map_find(const struct lx *x, const char *path)
{
    for (size_t i = 0; i < x->n_nubs; i++)
        if (strcmp(x->nubs[i].path, path) == 0)
            return x->nubs[i].id;
    return KX_REG_ID_NONE;
}

static int was_left_out(const struct lx *x, const char *path)
{
    for (size_t i = 0; i < x->n_left_out; i++)
        if (strcmp(x->left_out[i], path) == 0)
            return 1;
    return 0;
}

/* The registry's entries that carry KXSysfsPath, in id order. */
static kx_status map_load(struct lx *x)
{
    kx_reg_id *ids = NULL;
    size_t n = 0;
    kx_status st = kx_reg_list(x->reg, KX_REG_SERVICE, &ids, &n);
    for (size_t i = 0; st == STATUS_SUCCESS && i < n; i++) {
        plist_t v = NULL;
        if (kx_reg_prop_copy(x->reg, ids[i], KX_PLATFORM_SYSFS_PATH_KEY, &v) == STATUS_SUCCESS &&
            plist_get_node_type(v) == PLIST_STRING)
            st = map_add(x, plist_get_string_ptr(v, NULL), ids[i]);
        plist_free(v);
    }
    free(ids);
    return st;
}

kx_status lx_begin(struct lx *x, struct kx_reg *r, const char *root, struct kx_platform_report *rep)
{
    memset(x, 0, sizeof *x);
    x->reg = r;
    x->rep = rep;
    kx_status st = kx_plat_realpath(root, &x->root);
    if (st == STATUS_SUCCESS && strcmp(x->root, "/") == 0)
        x->root[0] = '\0'; /* a tree at / : paths are "/devices/..." as they are */
    if (st == STATUS_SUCCESS) {
        struct kx_plat_stat s;
        char *devices = lx_file(x, "/devices", NULL);
        if (!devices)
            st = STATUS_INSUFFICIENT_RESOURCES;
        else if (kx_plat_stat(devices, &s) != STATUS_SUCCESS || !s.is_dir)
            st = STATUS_NO_SUCH_FILE;
        free(devices);
    }
    if (st == STATUS_SUCCESS)
        st = map_load(x);
    if (st != STATUS_SUCCESS)
        lx_end(x);
    return st == STATUS_NOT_A_DIRECTORY ? STATUS_NO_SUCH_FILE : st;
}

void lx_end(struct lx *x)
{
    for (size_t i = 0; i < x->n_nubs; i++)
        free(x->nubs[i].path);
    for (size_t i = 0; i < x->n_left_out; i++)
        free(x->left_out[i]);
    free(x->nubs);
    free(x->left_out);
    free(x->root);
    memset(x, 0, sizeof *x);
}

/* ---- Skips and publishing ------------------------------------------------------------------ */

kx_status lx_skip(struct lx *x, const char *path, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (was_left_out(x, path))
        return STATUS_NO_SUCH_DEVICE;
    if (x->n_left_out == x->cap_left_out) {
        size_t cap = x->cap_left_out ? x->cap_left_out * 2 : 16;
        char **n = realloc(x->left_out, cap * sizeof *n);
        if (!n)
            return STATUS_INSUFFICIENT_RESOURCES;
        x->left_out = n;
        x->cap_left_out = cap;
    }
    if (!(x->left_out[x->n_left_out] = strdup(path)))
        return STATUS_INSUFFICIENT_RESOURCES;
    x->n_left_out++;
    if (x->rep) {
        char *line = NULL;
        char **n = realloc(x->rep->skipped, (x->rep->n_skipped + 1) * sizeof *n);
        if (!n || asprintf(&line, "%s: %s", path, why) < 0) {
            if (n)
                x->rep->skipped = n;
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        x->rep->skipped = n;
        n[x->rep->n_skipped++] = line;
    }
    return STATUS_NO_SUCH_DEVICE;
}

kx_status lx_publish(struct lx *x, const char *path, kx_reg_id service, kx_reg_id dt,
                     const char *class_name, const char *name, const char *location, plist_t props,
                     kx_reg_id *out)
{
    kx_reg_id id = KX_REG_ID_NONE;
    if (path)
        plist_dict_set_item(props, KX_PLATFORM_SYSFS_PATH_KEY, plist_new_string(path));
    kx_status st = kx_reg_publish(x->reg, service, KX_REG_PLANE_BIT(KX_REG_SERVICE), class_name,
                                  name, location, props, &id);
    if (st == STATUS_SUCCESS && dt != KX_REG_ID_NONE)
        st = kx_reg_attach(x->reg, id, dt, KX_REG_DEVICE_TREE);
    if (st == STATUS_SUCCESS && path)
        st = map_add(x, path, id);
    if (st == STATUS_INSUFFICIENT_RESOURCES)
        return st;
    if (st != STATUS_SUCCESS)
        return lx_skip(x, path ? path : name, "%s %s@%s can't be published: %s", class_name, name,
                       location ? location : "", kx_status_string(st));
    if (x->rep)
        x->rep->n_published++;
    *out = id;
    return STATUS_SUCCESS;
}

/* ---- Resolving ----------------------------------------------------------------------------- */

kx_reg_id lx_nearest_dt(struct lx *x, kx_reg_id id)
{
    for (unsigned hops = 0; hops < MAX_RESOLVE_DEPTH; hops++) {
        kx_reg_id *p = NULL;
        size_t n = 0;
        if (id == kx_reg_platform(x->reg) || id == kx_reg_root(x->reg))
            return id;
        kx_reg_parents(x->reg, id, KX_REG_DEVICE_TREE, &p, &n);
        free(p);
        if (n)
            return id;
        kx_reg_parents(x->reg, id, KX_REG_SERVICE, &p, &n);
        id = n ? p[0] : kx_reg_platform(x->reg);
        free(p);
    }
    return kx_reg_platform(x->reg);
}

static int is_top(const char *path)
{
    return strncmp(path, "/devices/", 9) != 0;
}

/* The kind of device a folder is, from its subsystem link. */
static kx_status publish_node(struct lx *x, const char *path, kx_reg_id *id)
{
    char subsystem[64];
    *id = KX_REG_ID_NONE;
    lx_subsystem(x, path, subsystem, sizeof subsystem);
    if (strcmp(subsystem, "pci") == 0)
        return lx_pci_function(x, path, id);
    if (strcmp(subsystem, "usb") == 0)
        return lx_usb_node(x, path, id);
    if (strcmp(subsystem, "acpi") == 0)
        return lx_acpi_node(x, path, id);
    if (!*subsystem && lx_pci_is_root(lx_base(path)))
        return lx_pci_root(x, path, id);
    return STATUS_SUCCESS;
}

kx_status lx_ensure(struct lx *x, const char *path, kx_reg_id *id)
{
    *id = map_find(x, path);
    if (*id != KX_REG_ID_NONE)
        return STATUS_SUCCESS;
    if (was_left_out(x, path))
        return STATUS_NO_SUCH_DEVICE;
    if (x->depth >= MAX_RESOLVE_DEPTH)
        return lx_skip(x, path, "its parents are nested too deep (a link loop?)");
    x->depth++;
    kx_status st = publish_node(x, path, id);
    x->depth--;
    return st;
}

kx_status lx_resolve(struct lx *x, const char *path, struct lx_slot *out)
{
    kx_reg_id id = KX_REG_ID_NONE;
    kx_status st = STATUS_SUCCESS;
    char *up = NULL;
    if (is_top(path)) {
        out->nub = out->service = out->dt = kx_reg_platform(x->reg);
        return STATUS_SUCCESS;
    }
    if ((st = lx_ensure(x, path, &id)) != STATUS_SUCCESS)
        return st;
    if (id == KX_REG_ID_NONE) { /* transparent: its children go where its own would */
        if (!(up = lx_dirname(path)))
            return STATUS_INSUFFICIENT_RESOURCES;
        x->depth++;
        st = x->depth < MAX_RESOLVE_DEPTH ? lx_resolve(x, up, out) : STATUS_NO_SUCH_DEVICE;
        x->depth--;
        free(up);
        return st;
    }
    kx_reg_id bridge = lx_pci_bridge_of(x, id);
    out->nub = id;
    out->service = bridge != KX_REG_ID_NONE ? bridge : id;
    out->dt = lx_nearest_dt(x, out->service);
    return STATUS_SUCCESS;
}

kx_status lx_resolve_parent(struct lx *x, const char *path, struct lx_slot *out)
{
    char *up = lx_dirname(path);
    if (!up)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = lx_resolve(x, up, out);
    if (st == STATUS_NO_SUCH_DEVICE)
        st = lx_skip(x, path, "left out with its parent %s", up);
    free(up);
    return st;
}

/* ---- Enumeration ---------------------------------------------------------------------------- */

static kx_status publish_bus(struct lx *x, const char *bus)
{
    char rel[32];
    char **names = NULL;
    size_t n = 0;
    snprintf(rel, sizeof rel, "/bus/%s/devices", bus);
    char *dir = lx_file(x, rel, NULL);
    if (!dir)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = kx_plat_list_dir(dir, &names, &n);
    if (st != STATUS_SUCCESS) { /* no such bus on this machine */
        free(dir);
        return st == STATUS_INSUFFICIENT_RESOURCES ? st : STATUS_SUCCESS;
    }
    for (size_t i = 0; st == STATUS_SUCCESS && i < n; i++) {
        char *entry = kx_plat_path_join(dir, names[i]), *real = NULL;
        kx_reg_id id;
        size_t len = strlen(x->root);
        if (!entry) {
            st = STATUS_INSUFFICIENT_RESOURCES;
        } else if (kx_plat_realpath(entry, &real) != STATUS_SUCCESS ||
                   strncmp(real, x->root, len) != 0 || is_top(real + len)) {
            char what[96];
            snprintf(what, sizeof what, "%s/%s", rel, names[i]);
            st = lx_skip(x, what, "doesn't lead to a device below %s/devices", x->root);
        } else {
            st = lx_ensure(x, real + len, &id);
        }
        if (st == STATUS_NO_SUCH_DEVICE)
            st = STATUS_SUCCESS;
        free(real);
        free(entry);
    }
    kx_plat_free_names(names, n);
    free(dir);
    return st;
}

kx_status kx_platform_linux_publish(struct kx_reg *r, const char *sysfs_root,
                                    struct kx_platform_report *rep)
{
    struct lx x;
    kx_status st = lx_begin(&x, r, sysfs_root, rep);
    for (size_t i = 0; st == STATUS_SUCCESS && i < sizeof buses / sizeof buses[0]; i++)
        st = publish_bus(&x, buses[i]);
    if (x.reg)
        lx_end(&x);
    return st;
}

/* ---- Events --------------------------------------------------------------------------------- */

struct counted {
    kx_reg_terminate_fn fn;
    void *ctx;
    struct kx_platform_report *rep;
};

static void count_terminated(void *ctx, kx_reg_id id)
{
    struct counted *c = ctx;
    if (c->rep)
        c->rep->n_terminated++;
    if (c->fn)
        c->fn(c->ctx, id);
}

static kx_status remove_below(struct lx *x, const char *path, kx_reg_terminate_fn fn, void *ctx)
{
    struct counted c = {fn, ctx, x->rep};
    size_t len = strlen(path);
    kx_status st = STATUS_SUCCESS;
    /* the map is in id order: a parent is terminated before its children come up, and they
     * are gone with it */
    for (size_t i = 0; i < x->n_nubs && st == STATUS_SUCCESS; i++) {
        const char *p = x->nubs[i].path;
        if (strncmp(p, path, len) != 0 || (p[len] != '\0' && p[len] != '/'))
            continue;
        st = kx_reg_terminate(x->reg, x->nubs[i].id, count_terminated, &c);
        if (st == STATUS_NO_SUCH_DEVICE)
            st = STATUS_SUCCESS;
    }
    return st;
}

/* Keeps "ACTION ROOT+PATH" for the kernel's hot-plug events (dropped when out of memory:
 * the registry work was done; only the notice is lost). */
static void note_hotplug(struct kx_platform_report *rep, const char *action, const char *root,
                         const char *path)
{
    size_t n = strlen(action) + strlen(root) + strlen(path) + 2;
    char *line = malloc(n);
    char **v = line ? realloc(rep->hotplug, (rep->n_hotplug + 1) * sizeof *v) : NULL;
    if (!v) {
        free(line);
        return;
    }
    snprintf(line, n, "%s %s%s", action, root, path);
    rep->hotplug = v;
    rep->hotplug[rep->n_hotplug++] = line;
}

kx_status kx_platform_linux_handle_event(struct kx_reg *r, const char *sysfs_root,
                                         const char *action, const char *devpath,
                                         kx_reg_terminate_fn fn, void *ctx,
                                         struct kx_platform_report *rep)
{
    struct lx x;
    kx_status st = lx_begin(&x, r, sysfs_root, rep);
    if (st != STATUS_SUCCESS)
        return st;
    size_t len = strlen(x.root);
    const char *path = devpath;
    if (*x.root && strncmp(path, x.root, len) == 0 && path[len] == '/')
        path += len;
    char *clean = strdup(path);
    if (clean) { /* "/devices/x/" and "/devices/x" name one device */
        for (size_t n = strlen(clean); n > 1 && clean[n - 1] == '/'; n--)
            clean[n - 1] = '\0';
    }
    if (!clean) {
        st = STATUS_INSUFFICIENT_RESOURCES;
    } else if (is_top(clean) || strstr(clean, "/../") || strstr(clean, "/./")) {
        st = STATUS_INVALID_PARAMETER;
    } else if (strcmp(action, "remove") == 0) {
        st = remove_below(&x, clean, fn, ctx);
    } else if (strcmp(action, "add") == 0) {
        kx_reg_id id = KX_REG_ID_NONE;
        char *companion = NULL;
        char subsystem[16];
        st = lx_ensure(&x, clean, &id);
        lx_subsystem(&x, clean, subsystem, sizeof subsystem);
        if (st == STATUS_SUCCESS && strcmp(subsystem, "pci") == 0 &&
            lx_link_path(&x, clean, "firmware_node", &companion) == STATUS_SUCCESS)
            st = lx_acpi_publish_below(&x, companion);
        free(companion);
        if (st == STATUS_NO_SUCH_DEVICE) /* reported */
            st = STATUS_SUCCESS;
    }
    if (st == STATUS_SUCCESS && rep && (!strcmp(action, "add") || !strcmp(action, "remove")))
        note_hotplug(rep, action, x.root, clean);
    free(clean);
    lx_end(&x);
    return st;
}
