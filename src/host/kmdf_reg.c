/* kmdf_reg.c — the Dk* calls that reach the I/O Registry: properties, child
 * nubs, resources, and binding devices to a match.
 *
 * The host side converts between the driver's C values and binary property
 * lists, and sends one registry request per call (host.h); the registry's
 * owner (the kernel) answers it. Nothing here touches the registry itself,
 * so the calls are the same when the driver runs in another process.
 */
#include "kmdf_int.h"

#include <plist/plist.h>
#include <stdlib.h>
#include <string.h>

static struct kx_host *host_of(PDRIVER_OBJECT d)
{
    struct kx_host *h = (struct kx_host *)(void *)d;
    return h && h->magic == HOST_MAGIC ? h : NULL;
}

/* Sends req; on success *value (may be NULL) gets the answer parsed. */
static kx_status ask(struct kx_host *h, const struct kx_io_reg_req *req, uint64_t *id,
                     plist_t *value)
{
    void *out = NULL;
    size_t out_len = 0;
    uint64_t out_id = 0;
    kx_status st = kx__chan_registry(h->io, h->drv_id, req, &out_id, &out, &out_len);
    if (st == STATUS_SUCCESS && value) {
        *value = NULL;
        if (out_len > UINT32_MAX)
            st = STATUS_DATA_ERROR;
        else
            plist_from_bin(out, (uint32_t)out_len, value);
        if (!*value)
            st = STATUS_DATA_ERROR;
    }
    free(out);
    if (id)
        *id = out_id;
    return st;
}

/* A value serialised for a request (malloc'ed); NULL when out of memory. */
static char *to_bin(plist_t v, uint32_t *len)
{
    char *bin = NULL;
    *len = 0;
    if (v)
        plist_to_bin(v, &bin, len);
    return bin;
}

/* Copies src (n bytes) out as DkGetProperty promises. */
static kx_status give(const void *src, size_t n, void *buf, size_t len, size_t *result)
{
    if (result)
        *result = n;
    if (n > len || (n && !buf))
        return STATUS_BUFFER_TOO_SMALL;
    if (n)
        memcpy(buf, src, n);
    return STATUS_SUCCESS;
}

kx_status DkGetProperty(PDRIVER_OBJECT DriverObject, KX_REGISTRY_ID Entry, const char *Key,
                        KX_PROPERTY_TYPE *Type, void *Buffer, size_t Length, size_t *ResultLength)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h || !Key || !Type)
        return STATUS_INVALID_PARAMETER;
    *Type = KxPropertyNone;
    struct kx_io_reg_req req = {KX_IO_REG_GET, Entry, Key, NULL, NULL, NULL, NULL, 0};
    plist_t v = NULL;
    kx_status st = ask(h, &req, NULL, &v);
    if (st != STATUS_SUCCESS)
        return st;
    switch (plist_get_node_type(v)) {
    case PLIST_UINT: {
        uint64_t n = 0;
        plist_get_uint_val(v, &n);
        *Type = KxPropertyNumber;
        st = give(&n, sizeof n, Buffer, Length, ResultLength);
        break;
    }
    case PLIST_BOOLEAN: {
        uint8_t b = 0;
        plist_get_bool_val(v, &b);
        *Type = KxPropertyBoolean;
        b = b != 0;
        st = give(&b, 1, Buffer, Length, ResultLength);
        break;
    }
    case PLIST_STRING: {
        const char *s = plist_get_string_ptr(v, NULL);
        *Type = KxPropertyString;
        st = give(s, strlen(s) + 1, Buffer, Length, ResultLength);
        break;
    }
    case PLIST_DATA: {
        uint64_t n = 0;
        const char *d = plist_get_data_ptr(v, &n);
        *Type = KxPropertyData;
        st = give(d, (size_t)n, Buffer, Length, ResultLength);
        break;
    }
    default:
        *Type = KxPropertyOther;
        st = give(NULL, 0, Buffer, Length, ResultLength);
        break;
    }
    plist_free(v);
    return st;
}

kx_status DkSetProperty(PDRIVER_OBJECT DriverObject, KX_REGISTRY_ID Entry, const char *Key,
                        KX_PROPERTY_TYPE Type, const void *Value, size_t Length)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h || !Key || (!Value && Length))
        return STATUS_INVALID_PARAMETER;
    plist_t v = NULL;
    switch (Type) {
    case KxPropertyNumber: {
        uint64_t n = 0;
        if (!Value || Length != sizeof n)
            return STATUS_INVALID_PARAMETER;
        memcpy(&n, Value, sizeof n);
        v = plist_new_uint(n);
        break;
    }
    case KxPropertyBoolean:
        if (!Value || Length != 1)
            return STATUS_INVALID_PARAMETER;
        v = plist_new_bool(*(const uint8_t *)Value != 0);
        break;
    case KxPropertyString: {
        if (!Value)
            return STATUS_INVALID_PARAMETER;
        size_t n = Length ? strnlen(Value, Length) : strlen(Value);
        char *copy = strndup(Value, n);
        v = copy ? plist_new_string(copy) : NULL;
        free(copy);
        break;
    }
    case KxPropertyData: v = plist_new_data(Value, Length); break;
    default: return STATUS_INVALID_PARAMETER;
    }
    uint32_t len;
    char *bin = to_bin(v, &len);
    plist_free(v);
    if (!bin)
        return STATUS_INSUFFICIENT_RESOURCES;
    struct kx_io_reg_req req = {KX_IO_REG_SET, Entry, Key, NULL, NULL, NULL, bin, len};
    kx_status st = ask(h, &req, NULL, NULL);
    free(bin);
    return st;
}

kx_status DkCopyProperties(PDRIVER_OBJECT DriverObject, KX_REGISTRY_ID Entry, char *Buffer,
                           size_t Length, size_t *ResultLength)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h)
        return STATUS_INVALID_PARAMETER;
    struct kx_io_reg_req req = {KX_IO_REG_GET_ALL, Entry, NULL, NULL, NULL, NULL, NULL, 0};
    plist_t v = NULL;
    kx_status st = ask(h, &req, NULL, &v);
    if (st != STATUS_SUCCESS)
        return st;
    char *xml = NULL;
    uint32_t len = 0;
    plist_to_xml(v, &xml, &len);
    plist_free(v);
    if (!xml)
        return STATUS_INSUFFICIENT_RESOURCES;
    st = give(xml, (size_t)len + 1, Buffer, Length, ResultLength);
    free(xml);
    return st;
}

kx_status DkPublishNub(PDRIVER_OBJECT DriverObject, KX_REGISTRY_ID Provider, const char *ClassName,
                       const char *Name, const char *Location, const char *PropertiesXml,
                       KX_REGISTRY_ID *Nub)
{
    struct kx_host *h = host_of(DriverObject);
    if (Nub)
        *Nub = 0;
    if (!h || !ClassName || !Name)
        return STATUS_INVALID_PARAMETER;
    char *bin = NULL;
    uint32_t len = 0;
    if (PropertiesXml) {
        plist_t props = NULL;
        size_t n = strlen(PropertiesXml);
        if (n <= UINT32_MAX)
            plist_from_xml(PropertiesXml, (uint32_t)n, &props);
        if (!props || plist_get_node_type(props) != PLIST_DICT) {
            plist_free(props);
            return STATUS_INVALID_PARAMETER; /* not an XML dictionary */
        }
        bin = to_bin(props, &len);
        plist_free(props);
        if (!bin)
            return STATUS_INSUFFICIENT_RESOURCES;
    }
    struct kx_io_reg_req req = {KX_IO_REG_PUBLISH_NUB, Provider, NULL, ClassName, Name,
                                Location,              bin,      len};
    uint64_t id = 0;
    kx_status st = ask(h, &req, &id, NULL);
    free(bin);
    if (st == STATUS_SUCCESS && Nub)
        *Nub = id;
    return st;
}

kx_status DkTerminateNub(PDRIVER_OBJECT DriverObject, KX_REGISTRY_ID Nub)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h)
        return STATUS_INVALID_PARAMETER;
    struct kx_io_reg_req req = {KX_IO_REG_TERMINATE, Nub, NULL, NULL, NULL, NULL, NULL, 0};
    return ask(h, &req, NULL, NULL);
}

kx_status DkPublishResource(PDRIVER_OBJECT DriverObject, const char *Name)
{
    struct kx_host *h = host_of(DriverObject);
    if (!h || !Name || !*Name)
        return STATUS_INVALID_PARAMETER;
    struct kx_io_reg_req req = {KX_IO_REG_PUBLISH_RESOURCE, 0, Name, NULL, NULL, NULL, NULL, 0};
    return ask(h, &req, NULL, NULL);
}

kx_status DkAttachDevice(PDEVICE_OBJECT DeviceObject, KX_REGISTRY_ID Instance)
{
    struct host_device *hd = (struct host_device *)(void *)DeviceObject;
    if (!hd || hd->magic != HOST_DEV_MAGIC || (DeviceObject->Flags & DO_PROXY))
        return STATUS_INVALID_PARAMETER;
    /* The kernel says whether Instance is one of this driver's matches. */
    struct kx_io_reg_req req = {KX_IO_REG_OWN_INSTANCE, Instance, NULL, NULL, NULL, NULL, NULL, 0};
    kx_status st = ask(hd->host, &req, NULL, NULL);
    if (st == STATUS_SUCCESS)
        st = kx__chan_bind_device(hd->host->io, hd->host->drv_id, hd->dev_id, Instance);
    if (st == STATUS_SUCCESS)
        hd->instance = Instance;
    return st;
}
