/* kmdf_component.c — the Dk* calls for components: the bound address,
 * DkCreateComponentDevice's names, and hardware proxies with their BAR maps.
 *
 * The bound component is the nub of the match whose Probe, AddDevice or
 * RemoveDevice runs on the dispatch thread (kmdf_host.c sets cur_nub). Proxy
 * calls travel as registry requests (KX_IO_REG_PROXY_*), so they work the same
 * in kxd and in a kx-host process; the kernel checks privilege and does the
 * access (src/kernel/component.c). A BAR is mapped here, in the driver's own
 * process, from the sysfs file kxd names once it has checked the policy.
 */
#include "kmdf_int.h"

#include "core/plat_shm.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROXY_MAGIC 0x4B585058u /* "KXPX" */
#define PROXY_BARS  6

/* How many devices DkCreateComponentDevice made for one instance. */
struct host_component {
    struct host_component *next;
    uint64_t instance;
    uint32_t next_index;
};

struct _KX_HARDWARE_PROXY {
    uint32_t magic;
    struct kx_host *host;
    uint64_t id;    /* the kernel's */
    uint64_t entry; /* the component's registry entry */
    struct _KX_HARDWARE_PROXY *next;
    struct {
        void *addr;
        size_t len;
    } maps[PROXY_BARS][2]; /* per BAR: read-only, read-write; under the host's lock */
};

static struct kx_host *host_of(PDRIVER_OBJECT d)
{
    struct kx_host *h = (struct kx_host *)(void *)d;
    return h && h->magic == HOST_MAGIC ? h : NULL;
}

static struct _KX_HARDWARE_PROXY *proxy_of(PKX_HARDWARE_PROXY p)
{
    return p && p->magic == PROXY_MAGIC ? p : NULL;
}

kx_status DkGetComponentAddress(PDRIVER_OBJECT DriverObject, char *Buffer, size_t Size)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h || !Buffer)
        return STATUS_INVALID_PARAMETER;
    if (kx__host_current() != h || !h->cur_nub)
        return STATUS_NO_COMPONENT_BOUND;
    KX_PROPERTY_TYPE type;
    char addr[64];
    size_t n = 0;
    kx_status st = DkGetProperty(DriverObject, h->cur_nub, "address", &type, addr, sizeof addr, &n);
    if (st == STATUS_OBJECT_NAME_NOT_FOUND || (st == STATUS_SUCCESS && type != KxPropertyString))
        return STATUS_NO_COMPONENT_BOUND; /* the match is on a nub that is no component */
    if (st != STATUS_SUCCESS)
        return st;
    if (n > Size)
        return STATUS_BUFFER_TOO_SMALL;
    memcpy(Buffer, addr, n);
    return STATUS_SUCCESS;
}

/* The index instance's next component device gets; commit_index counts it once made. */
static kx_status next_index(struct kx_host *h, uint64_t instance, uint32_t *index)
{
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&h->lock);
    struct host_component *c = h->components;
    while (c && c->instance != instance)
        c = c->next;
    if (!c && (c = calloc(1, sizeof *c)) != NULL) {
        c->instance = instance;
        c->next = h->components;
        h->components = c;
    }
    if (c)
        *index = c->next_index;
    else
        st = STATUS_INSUFFICIENT_RESOURCES;
    pthread_mutex_unlock(&h->lock);
    return st;
}

static void commit_index(struct kx_host *h, uint64_t instance)
{
    pthread_mutex_lock(&h->lock);
    for (struct host_component *c = h->components; c; c = c->next)
        if (c->instance == instance)
            c->next_index++;
    pthread_mutex_unlock(&h->lock);
}

void kx__host_component_forget(struct kx_host *h, uint64_t instance)
{
    pthread_mutex_lock(&h->lock);
    for (struct host_component **pp = &h->components; *pp; pp = &(*pp)->next)
        if ((*pp)->instance == instance) {
            struct host_component *c = *pp;
            *pp = c->next;
            free(c);
            break;
        }
    pthread_mutex_unlock(&h->lock);
}

/* The first n hex digits of the address (dashes skipped, lower case) into out. */
static void short_address(const char *addr, size_t n, char *out)
{
    size_t k = 0;
    for (const char *p = addr; *p && k < n; p++)
        if (*p != '-')
            out[k++] = (char)tolower((unsigned char)*p);
    out[k] = 0;
}

kx_status DkCreateComponentDevice(PDRIVER_OBJECT DriverObject, const char *TypeName,
                                  PDEVICE_OBJECT *DeviceObject)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h || !TypeName || !*TypeName || !DeviceObject)
        return STATUS_INVALID_PARAMETER;
    char addr[64];
    kx_status st = DkGetComponentAddress(DriverObject, addr, sizeof addr);
    if (st != STATUS_SUCCESS)
        return st;
    uint32_t index = 0;
    if ((st = next_index(h, h->cur_instance, &index)) != STATUS_SUCCESS)
        return st;
    /* Another component may share the first digits: grow the short address
     * rather than take (or fail on) its name. */
    static const size_t widths[] = {6, 8, 12, 32};
    char shortaddr[40], name[KX_IO_NAME_MAX], link[KX_IO_NAME_MAX], suffix[16] = "";
    if (index)
        snprintf(suffix, sizeof suffix, "_%u", index);
    PDEVICE_OBJECT dev = NULL;
    st = STATUS_OBJECT_NAME_COLLISION;
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
        short_address(addr, widths[i], shortaddr);
        if (snprintf(name, sizeof name, "\\Device\\%s_%s%s", TypeName, shortaddr, suffix) >=
            (int)sizeof name)
            return STATUS_OBJECT_NAME_INVALID;
        st = DkCreateDevice(DriverObject, name, 0, &dev);
        if (st != STATUS_DEVICE_ALREADY_EXISTS)
            break;
        st = STATUS_OBJECT_NAME_COLLISION;
    }
    if (st != STATUS_SUCCESS)
        return st;
    if (snprintf(link, sizeof link, "/dev/%s_%s_%u", TypeName, shortaddr, index) >=
        (int)sizeof link)
        st = STATUS_OBJECT_NAME_INVALID;
    else
        st = DkCreateSymbolicLink(link, name);
    if (st != STATUS_SUCCESS) {
        DkDeleteDevice(dev);
        return st;
    }
    struct host_device *hd = (struct host_device *)(void *)dev;
    memcpy(hd->auto_link, link, strlen(link) + 1);
    commit_index(h, h->cur_instance);
    *DeviceObject = dev;
    return STATUS_SUCCESS;
}

/* ---- proxies -------------------------------------------------------------------- */

static kx_status proxy_call(struct kx_host *h, enum kx_io_reg_op op, uint64_t entry,
                            const char *key, const void *value, size_t value_len, uint64_t *id,
                            void **out, size_t *out_len)
{
    struct kx_io_reg_req req = {op, entry, key, NULL, NULL, NULL, value, value_len};
    uint64_t out_id = 0;
    void *o = NULL;
    size_t n = 0;
    kx_status st = kx__chan_registry(h->io, h->drv_id, &req, &out_id, &o, &n);
    if (id)
        *id = out_id;
    if (out) {
        *out = o;
        *out_len = n;
    } else {
        free(o);
    }
    return st;
}

kx_status DkGetHardwareProxy(PDRIVER_OBJECT DriverObject, const char *Address,
                             PKX_HARDWARE_PROXY *Proxy)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h || !Address || !Proxy)
        return STATUS_INVALID_PARAMETER;
    struct _KX_HARDWARE_PROXY *p = calloc(1, sizeof *p);
    if (!p)
        return STATUS_INSUFFICIENT_RESOURCES;
    void *out = NULL;
    size_t out_len = 0;
    /* The match being added, if any: a CMD may open only the component bound to it. */
    uint64_t instance = kx__host_current() == h ? h->cur_instance : 0;
    kx_status st = proxy_call(h, KX_IO_REG_PROXY_OPEN, instance, Address, NULL, 0, &p->id, &out,
                              &out_len);
    if (st == STATUS_SUCCESS && out_len != sizeof p->entry) {
        proxy_call(h, KX_IO_REG_PROXY_CLOSE, p->id, NULL, NULL, 0, NULL, NULL, NULL);
        st = STATUS_DATA_ERROR;
    }
    if (st == STATUS_SUCCESS)
        memcpy(&p->entry, out, sizeof p->entry);
    free(out);
    if (st != STATUS_SUCCESS) {
        free(p);
        return st;
    }
    p->magic = PROXY_MAGIC;
    p->host = h;
    pthread_mutex_lock(&h->lock);
    p->next = h->proxies;
    h->proxies = p;
    pthread_mutex_unlock(&h->lock);
    *Proxy = p;
    return STATUS_SUCCESS;
}

kx_status DkProxyRead(PKX_HARDWARE_PROXY Proxy, uint32_t Offset, void *Buffer, size_t Length)
{
    struct _KX_HARDWARE_PROXY *p = proxy_of(Proxy);
    if (!p || (!Buffer && Length) || Length > UINT32_MAX)
        return STATUS_INVALID_PARAMETER;
    uint32_t args[2] = {Offset, (uint32_t)Length};
    void *out = NULL;
    size_t n = 0;
    kx_status st = proxy_call(p->host, KX_IO_REG_PROXY_READ, p->id, NULL, args, sizeof args, NULL,
                              &out, &n);
    if (st == STATUS_SUCCESS && n != Length)
        st = STATUS_DATA_ERROR;
    if (st == STATUS_SUCCESS && n)
        memcpy(Buffer, out, n);
    free(out);
    return st;
}

kx_status DkProxyWrite(PKX_HARDWARE_PROXY Proxy, uint32_t Offset, const void *Buffer,
                       size_t Length)
{
    struct _KX_HARDWARE_PROXY *p = proxy_of(Proxy);
    if (!p || (!Buffer && Length) || Length > UINT32_MAX - sizeof Offset)
        return STATUS_INVALID_PARAMETER;
    unsigned char *v = malloc(sizeof Offset + Length);
    if (!v)
        return STATUS_INSUFFICIENT_RESOURCES;
    memcpy(v, &Offset, sizeof Offset);
    if (Length)
        memcpy(v + sizeof Offset, Buffer, Length);
    kx_status st = proxy_call(p->host, KX_IO_REG_PROXY_WRITE, p->id, NULL, v,
                              sizeof Offset + Length, NULL, NULL, NULL);
    free(v);
    return st;
}

kx_status DkProxyMapBar(PKX_HARDWARE_PROXY Proxy, uint32_t Index, int Write,
                        volatile void **Address, size_t *Length)
{
    struct _KX_HARDWARE_PROXY *p = proxy_of(Proxy);
    if (!p || Index >= PROXY_BARS || !Address || !Length)
        return STATUS_INVALID_PARAMETER;
    uint32_t args[2] = {Index, Write != 0};
    struct kx_io_proxy_map m;
    void *out = NULL;
    size_t n = 0;
    kx_status st = proxy_call(p->host, KX_IO_REG_PROXY_MAP, p->id, NULL, args, sizeof args, NULL,
                              &out, &n);
    /* the answer: struct kx_io_proxy_map, then the file's path ending in its one NUL */
    size_t path_len = st == STATUS_SUCCESS && n > sizeof m ? n - sizeof m : 0;
    const char *file = path_len ? (const char *)out + sizeof m : NULL;
    if (st == STATUS_SUCCESS && (!file || strnlen(file, path_len) != path_len - 1))
        st = STATUS_DATA_ERROR;
    if (st == STATUS_SUCCESS) {
        memcpy(&m, out, sizeof m);
        if (!m.size || m.size > SIZE_MAX || m.writable != (uint32_t)(Write != 0))
            st = STATUS_DATA_ERROR;
    }
    int rw = Write != 0;
    pthread_mutex_lock(&p->host->lock);
    if (st == STATUS_SUCCESS && !p->maps[Index][rw].addr) {
        void *addr = NULL;
        st = kx_plat_map_file(file, (size_t)m.size, rw, &addr);
        if (st == STATUS_SUCCESS) {
            p->maps[Index][rw].addr = addr;
            p->maps[Index][rw].len = (size_t)m.size;
        }
    }
    if (st == STATUS_SUCCESS) {
        *Address = p->maps[Index][rw].addr;
        *Length = p->maps[Index][rw].len;
    }
    pthread_mutex_unlock(&p->host->lock);
    free(out);
    return st;
}

static void unmap_all(struct _KX_HARDWARE_PROXY *p)
{
    for (size_t i = 0; i < PROXY_BARS; i++)
        for (size_t rw = 0; rw < 2; rw++)
            kx_plat_unmap_file(p->maps[i][rw].addr, p->maps[i][rw].len);
}

KX_REGISTRY_ID DkProxyEntry(PKX_HARDWARE_PROXY Proxy)
{
    struct _KX_HARDWARE_PROXY *p = proxy_of(Proxy);
    return p ? p->entry : 0;
}

void DkReleaseHardwareProxy(PKX_HARDWARE_PROXY Proxy)
{
    struct _KX_HARDWARE_PROXY *p = proxy_of(Proxy);
    if (!p)
        return;
    struct kx_host *h = p->host;
    pthread_mutex_lock(&h->lock);
    for (struct _KX_HARDWARE_PROXY **pp = &h->proxies; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    pthread_mutex_unlock(&h->lock);
    proxy_call(h, KX_IO_REG_PROXY_CLOSE, p->id, NULL, NULL, 0, NULL, NULL, NULL);
    unmap_all(p);
    p->magic = 0;
    free(p);
}

void kx__host_component_free_all(struct kx_host *h)
{
    /* The kernel let go of the driver's proxies when it stopped the driver;
     * only the host's records are left. */
    while (h->components) {
        struct host_component *c = h->components;
        h->components = c->next;
        free(c);
    }
    while (h->proxies) {
        struct _KX_HARDWARE_PROXY *p = h->proxies;
        h->proxies = p->next;
        unmap_all(p);
        p->magic = 0;
        free(p);
    }
}
