/* component.c — components' hardware as kx hands it out: hardware proxies (which driver
 * holds which component), the simulated register file, PCI configuration space through the
 * platform, and kx device peek/poke.
 *
 * A simulated component's register file is its "registers" data property: reads copy it,
 * writes replace it under the components' lock, so ioreg shows the current values and a
 * removed component takes its registers with it. A PCI function's component carries its
 * "pci-address"; the platform reads its configuration space. Every access first asks the
 * registry whether the entry still exists: after removal, STATUS_DEVICE_REMOVED.
 */
#include "kernel_int.h"

#include "core/plat.h"

#include <kx/platform.h>

#include <plist/plist.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct proxy {
    struct proxy *next;
    uint64_t id;
    kx_io_driver_id driver;
    kx_reg_id nub;
};

struct kx_components {
    pthread_mutex_t lock; /* proxies, and every register file's read-modify-write */
    struct proxy *proxies;
    uint64_t last_id;
};

kx_status kx__components_new(struct kx_components **out)
{
    struct kx_components *c = calloc(1, sizeof *c);
    if (!c)
        return STATUS_INSUFFICIENT_RESOURCES;
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return STATUS_SUCCESS;
}

void kx__components_free(struct kx_components *c)
{
    if (!c)
        return;
    while (c->proxies) {
        struct proxy *p = c->proxies;
        c->proxies = p->next;
        free(p);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static char *string_prop(struct kx_reg *reg, kx_reg_id id, const char *key)
{
    plist_t v = NULL;
    char *s = NULL;
    if (kx_reg_prop_copy(reg, id, key, &v) == STATUS_SUCCESS && v &&
        plist_get_node_type(v) == PLIST_STRING)
        s = strdup(plist_get_string_ptr(v, NULL));
    plist_free(v);
    return s;
}

kx_status kx__component_find(struct kx_reg *reg, const char *address, kx_reg_id *out)
{
    kx_reg_id *ids = NULL;
    size_t n = 0;
    kx_status st = kx_reg_find_class(reg, KX_COMPONENT_CLASS, &ids, &n);
    if (st != STATUS_SUCCESS)
        return st;
    st = STATUS_NO_SUCH_DEVICE;
    for (size_t i = 0; i < n && st != STATUS_SUCCESS; i++) {
        char *a = string_prop(reg, ids[i], "address");
        if (a && strcasecmp(a, address) == 0) {
            *out = ids[i];
            st = STATUS_SUCCESS;
        }
        free(a);
    }
    free(ids);
    return st;
}

/* The register file's bytes (a simulated component). */
static kx_status registers_access(struct kx_components *c, struct kx_reg *reg, kx_reg_id nub,
                                  int write, uint32_t off, void *buf, size_t len)
{
    plist_t v = NULL;
    pthread_mutex_lock(&c->lock);
    kx_status st = kx_reg_prop_copy(reg, nub, "registers", &v);
    if (st == STATUS_NO_SUCH_DEVICE)
        st = STATUS_DEVICE_REMOVED;
    else if (st == STATUS_SUCCESS && plist_get_node_type(v) != PLIST_DATA)
        st = STATUS_NOT_SUPPORTED; /* a component without registers */
    if (st == STATUS_SUCCESS) {
        uint64_t size = 0;
        const char *bytes = plist_get_data_ptr(v, &size);
        if ((uint64_t)off + len > size) {
            st = STATUS_INVALID_PARAMETER;
        } else if (!write) {
            if (len)
                memcpy(buf, bytes + off, len);
        } else {
            char *copy = malloc(size ? size : 1);
            if (!copy) {
                st = STATUS_INSUFFICIENT_RESOURCES;
            } else {
                memcpy(copy, bytes, size);
                if (len)
                    memcpy(copy + off, buf, len);
                st = kx_reg_prop_set(reg, nub, "registers", plist_new_data(copy, size));
                if (st == STATUS_NO_SUCH_DEVICE)
                    st = STATUS_DEVICE_REMOVED;
                free(copy);
            }
        }
    }
    pthread_mutex_unlock(&c->lock);
    plist_free(v);
    return st;
}

kx_status kx__component_access(struct kx_components *c, struct kx_reg *reg,
                               const char *sysfs_root, kx_reg_id nub, int write, uint32_t off,
                               void *buf, size_t len)
{
    struct kx_reg_info info;
    if (kx_reg_info(reg, nub, &info) != STATUS_SUCCESS || (info.state & KX_REG_TERMINATED))
        return STATUS_DEVICE_REMOVED;
    char *pci = string_prop(reg, nub, "pci-address");
    if (!pci)
        return registers_access(c, reg, nub, write, off, buf, len);
    free(pci);
    /* Configuration space stays read-only: kx grants no kext config writes. */
    if (write)
        return STATUS_ACCESS_DENIED;
    kx_reg_id *parents = NULL;
    size_t n = 0;
    char *sysfs_path = NULL;
    if (kx_reg_parents(reg, nub, KX_REG_SERVICE, &parents, &n) == STATUS_SUCCESS && n)
        sysfs_path = string_prop(reg, parents[0], KX_PLATFORM_SYSFS_PATH_KEY);
    free(parents);
    kx_status st = sysfs_root && sysfs_path
                       ? kx_platform_pci_config_read(sysfs_root, sysfs_path, off, buf, len)
                       : STATUS_DEVICE_REMOVED;
    free(sysfs_path);
    return st;
}

kx_status kx__component_proxy_open(struct kx_components *c, kx_io_driver_id drv, kx_reg_id nub,
                                   uint64_t *id)
{
    struct proxy *p = calloc(1, sizeof *p);
    if (!p)
        return STATUS_INSUFFICIENT_RESOURCES;
    p->driver = drv;
    p->nub = nub;
    pthread_mutex_lock(&c->lock);
    p->id = ++c->last_id;
    p->next = c->proxies;
    c->proxies = p;
    pthread_mutex_unlock(&c->lock);
    *id = p->id;
    return STATUS_SUCCESS;
}

/* The nub behind driver drv's proxy id; 0 when it holds no such proxy. */
static kx_reg_id proxy_nub(struct kx_components *c, kx_io_driver_id drv, uint64_t id)
{
    kx_reg_id nub = 0;
    pthread_mutex_lock(&c->lock);
    for (struct proxy *p = c->proxies; p && !nub; p = p->next)
        if (p->id == id && p->driver == drv)
            nub = p->nub;
    pthread_mutex_unlock(&c->lock);
    return nub;
}

kx_status kx__component_proxy_request(struct kx_components *c, struct kx_reg *reg,
                                      const char *sysfs_root, kx_io_driver_id drv,
                                      const struct kx_io_reg_req *req, void **out,
                                      size_t *out_len)
{
    if (req->op == KX_IO_REG_PROXY_CLOSE) {
        kx_status st = STATUS_INVALID_HANDLE;
        pthread_mutex_lock(&c->lock);
        for (struct proxy **pp = &c->proxies; *pp; pp = &(*pp)->next)
            if ((*pp)->id == req->entry && (*pp)->driver == drv) {
                struct proxy *p = *pp;
                *pp = p->next;
                free(p);
                st = STATUS_SUCCESS;
                break;
            }
        pthread_mutex_unlock(&c->lock);
        return st;
    }
    kx_reg_id nub = proxy_nub(c, drv, req->entry);
    if (!nub)
        return STATUS_INVALID_HANDLE;
    uint32_t args[2];
    if (!req->value || req->value_len < (req->op == KX_IO_REG_PROXY_READ ? sizeof args
                                                                         : sizeof args[0]))
        return STATUS_INVALID_PARAMETER;
    memcpy(args, req->value, req->op == KX_IO_REG_PROXY_READ ? sizeof args : sizeof args[0]);
    if (req->op == KX_IO_REG_PROXY_WRITE)
        return kx__component_access(c, reg, sysfs_root, nub, 1, args[0],
                                    (char *)(uintptr_t)req->value + sizeof args[0],
                                    req->value_len - sizeof args[0]);
    if (args[1] > KX_COMPONENT_ACCESS_MAX)
        return STATUS_INVALID_PARAMETER;
    void *buf = malloc(args[1] ? args[1] : 1);
    if (!buf)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = kx__component_access(c, reg, sysfs_root, nub, 0, args[0], buf, args[1]);
    if (st != STATUS_SUCCESS) {
        free(buf);
        return st;
    }
    *out = buf;
    *out_len = args[1];
    return STATUS_SUCCESS;
}

size_t kx__component_release_driver(struct kx_components *c, kx_io_driver_id drv)
{
    size_t n = 0;
    pthread_mutex_lock(&c->lock);
    for (struct proxy **pp = &c->proxies; *pp;) {
        if ((*pp)->driver == drv) {
            struct proxy *p = *pp;
            *pp = p->next;
            free(p);
            n++;
        } else {
            pp = &(*pp)->next;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}
