/* component.c — components' hardware as kx hands it out: hardware proxies (which driver
 * holds which component), the simulated register file, PCI configuration space through the
 * platform, and kx device peek/poke.
 *
 * A simulated component's register file is its "registers" data property: reads copy it,
 * writes replace it under the components' lock, so ioreg shows the current values and a
 * removed component takes its registers with it. A PCI function's component carries its
 * "pci-address"; the platform reads its configuration space and finds its BARs. Every
 * access first asks the registry whether the entry still exists: after removal,
 * STATUS_DEVICE_REMOVED.
 *
 * Real hardware is written (configuration space, a BAR mapped writable) only when three
 * agree: kxd was told (--allow-hardware-write), kxd is root, and the driver's kext asks
 * for it (KXAllowHardwareWrite = true in its Info.plist). Simulated register files are
 * anyone's with a proxy.
 */
#include "kernel_int.h"

#include "core/plat.h"

#include <kx/platform.h>

#include <plist/plist.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define ALLOW_WRITE_KEY "KXAllowHardwareWrite"

struct proxy {
    struct proxy *next;
    uint64_t id;
    kx_io_driver_id driver;
    kx_reg_id nub;
};

struct kx_components {
    struct kx_kernel *k;  /* the policy's settings, the loaded kexts, the log */
    pthread_mutex_t lock; /* proxies, and every register file's read-modify-write */
    struct proxy *proxies;
    uint64_t last_id;
};

void kx_kernel_set_hardware_write(struct kx_kernel *k, int allowed)
{
    if (k)
        k->hardware_write = allowed != 0;
}

kx_status kx__components_new(struct kx_kernel *k, struct kx_components **out)
{
    struct kx_components *c = calloc(1, sizeof *c);
    if (!c)
        return STATUS_INSUFFICIENT_RESOURCES;
    c->k = k;
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

/* Whether driver drv (0: kx device poke) may change nub's real hardware; a refusal is
 * logged naming the kext, the component and the reason. */
static kx_status hardware_write_allowed(struct kx_components *c, struct kx_reg *reg,
                                        kx_io_driver_id drv, kx_reg_id nub, const char *what)
{
    struct kx_kernel *k = c->k;
    char kext[128] = "kx device poke";
    int kext_allows = drv == 0;
    if (drv) {
        snprintf(kext, sizeof kext, "driver %llu", (unsigned long long)drv);
        pthread_mutex_lock(&k->state_lock);
        for (struct kx_loaded *l = k->loaded; l; l = l->next)
            if (l->driver == drv) {
                const char *id = kx_kext_id(l->kext);
                uint8_t b = 0;
                plist_t v = plist_dict_get_item(kx_kext_info(l->kext), ALLOW_WRITE_KEY);
                if (v && plist_get_node_type(v) == PLIST_BOOLEAN)
                    plist_get_bool_val(v, &b);
                kext_allows = b != 0;
                if (id)
                    snprintf(kext, sizeof kext, "%s", id);
                break;
            }
        pthread_mutex_unlock(&k->state_lock);
    }
    const char *reason = NULL;
    if (!k->hardware_write)
        reason = "kxd was not started with --allow-hardware-write";
    else if (geteuid() != 0)
        reason = "kxd does not run as root";
    else if (!kext_allows)
        reason = "its Info.plist does not say " ALLOW_WRITE_KEY " = true";
    if (!reason)
        return STATUS_SUCCESS;
    char *address = string_prop(reg, nub, "address");
    kx__kernel_warn(k, "%s: %s of component %s refused: %s", kext, what,
                    address ? address : "(gone)", reason);
    free(address);
    return STATUS_ACCESS_DENIED;
}

/* The KXSysfsPath of the PCI function nub belongs to (malloc'ed), or NULL. */
static char *function_path(struct kx_reg *reg, kx_reg_id nub)
{
    kx_reg_id *parents = NULL;
    size_t n = 0;
    char *sysfs_path = NULL;
    if (kx_reg_parents(reg, nub, KX_REG_SERVICE, &parents, &n) == STATUS_SUCCESS && n)
        sysfs_path = string_prop(reg, parents[0], KX_PLATFORM_SYSFS_PATH_KEY);
    free(parents);
    return sysfs_path;
}

static int removed(struct kx_reg *reg, kx_reg_id nub)
{
    struct kx_reg_info info;
    return kx_reg_info(reg, nub, &info) != STATUS_SUCCESS || (info.state & KX_REG_TERMINATED);
}

kx_status kx__component_access(struct kx_components *c, struct kx_reg *reg,
                               const char *sysfs_root, kx_io_driver_id drv, kx_reg_id nub,
                               int write, uint32_t off, void *buf, size_t len)
{
    if (removed(reg, nub))
        return STATUS_DEVICE_REMOVED;
    char *pci = string_prop(reg, nub, "pci-address");
    if (!pci)
        return registers_access(c, reg, nub, write, off, buf, len);
    free(pci);
    kx_status st = write ? hardware_write_allowed(c, reg, drv, nub, "a configuration space write")
                         : STATUS_SUCCESS;
    if (st != STATUS_SUCCESS)
        return st;
    char *sysfs_path = function_path(reg, nub);
    if (!sysfs_root || !sysfs_path)
        st = STATUS_DEVICE_REMOVED;
    else if (write)
        st = kx_platform_pci_config_write(sysfs_root, sysfs_path, off, buf, len);
    else
        st = kx_platform_pci_config_read(sysfs_root, sysfs_path, off, buf, len);
    free(sysfs_path);
    return st;
}

/* KX_IO_REG_PROXY_MAP: where BAR index of nub's PCI function is, and whether drv may map
 * it writable. */
static kx_status map_bar(struct kx_components *c, struct kx_reg *reg, const char *sysfs_root,
                         kx_io_driver_id drv, kx_reg_id nub, uint32_t index, uint32_t write,
                         void **out, size_t *out_len)
{
    if (removed(reg, nub))
        return STATUS_DEVICE_REMOVED;
    char *pci = string_prop(reg, nub, "pci-address");
    if (!pci)
        return STATUS_NOT_SUPPORTED; /* a simulated component has no BARs */
    free(pci);
    kx_status st = write ? hardware_write_allowed(c, reg, drv, nub, "a writable BAR map")
                         : STATUS_SUCCESS;
    char *sysfs_path = st == STATUS_SUCCESS ? function_path(reg, nub) : NULL;
    char *file = NULL;
    struct kx_io_proxy_map m = {0, write != 0, 0};
    if (st == STATUS_SUCCESS)
        st = sysfs_root && sysfs_path
                 ? kx_platform_pci_bar(sysfs_root, sysfs_path, index, &file, &m.size)
                 : STATUS_DEVICE_REMOVED;
    free(sysfs_path);
    size_t n = file ? strlen(file) + 1 : 0;
    unsigned char *answer = st == STATUS_SUCCESS ? malloc(sizeof m + n) : NULL;
    if (st == STATUS_SUCCESS && !answer)
        st = STATUS_INSUFFICIENT_RESOURCES;
    if (st == STATUS_SUCCESS) {
        memcpy(answer, &m, sizeof m);
        if (n)
            memcpy(answer + sizeof m, file, n);
        *out = answer;
        *out_len = sizeof m + n;
    }
    free(file);
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
    size_t n_args = req->op == KX_IO_REG_PROXY_WRITE ? sizeof args[0] : sizeof args;
    if (!req->value || req->value_len < n_args)
        return STATUS_INVALID_PARAMETER;
    memcpy(args, req->value, n_args);
    if (req->op == KX_IO_REG_PROXY_MAP)
        return map_bar(c, reg, sysfs_root, drv, nub, args[0], args[1], out, out_len);
    if (req->op == KX_IO_REG_PROXY_WRITE)
        return kx__component_access(c, reg, sysfs_root, drv, nub, 1, args[0],
                                    /* a write only reads the buffer */
                                    (char *)(uintptr_t)req->value + /* NOLINT(performance-no-int-to-ptr) */
                                        sizeof args[0],
                                    req->value_len - sizeof args[0]);
    if (args[1] > KX_COMPONENT_ACCESS_MAX)
        return STATUS_INVALID_PARAMETER;
    void *buf = malloc(args[1] ? args[1] : 1);
    if (!buf)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = kx__component_access(c, reg, sysfs_root, drv, nub, 0, args[0], buf, args[1]);
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
