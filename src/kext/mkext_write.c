/* mkext_write.c — building mkext2 archives (and mkext1, for tests and old booters).
 *
 * The archive is assembled in one growing buffer: a zeroed header, the file
 * entries, then the plist; the header and checksum are filled in last, when
 * every offset is known. Each file is compressed and kept compressed only
 * when that saves space, as Apple's writers did. The writer copies each
 * Info.plist dictionary and drops any _MKEXT / _KX keys it already carried
 * (a dictionary taken from another archive would otherwise point at files
 * that are not in this one) before adding its own. Archives stop at 2 GiB,
 * the largest span the kernel's reader checksums.
 */
#include "mkext.h"
#include "core/why.h"

#include "core/plat.h"
#include "core/plist.h"
#include "lzss.h"
#include "mkext_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ======== The growing archive ======== */

struct buf {
    uint8_t *data;
    size_t len, cap;
};

/* STATUS_BUFFER_TOO_SMALL: the archive would pass INT32_MAX bytes. */
static kx_status buf_append(struct buf *b, const void *p, size_t n)
{
    if (n > (size_t)INT32_MAX - b->len)
        return STATUS_BUFFER_TOO_SMALL;
    if (!b->data || b->len + n > b->cap) { /* the first call allocates, even for 0 bytes */
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *nd = realloc(b->data, cap);
        if (!nd)
            return STATUS_INSUFFICIENT_RESOURCES;
        b->data = nd;
        b->cap = cap;
    }
    if (n) {
        if (p)
            memcpy(b->data + b->len, p, n);
        else
            memset(b->data + b->len, 0, n);
    }
    b->len += n;
    return STATUS_SUCCESS;
}

static kx_status buf_be32(struct buf *b, uint32_t v)
{
    uint8_t be[4];
    kx_be32_put(be, v);
    return buf_append(b, be, sizeof be);
}

/* zlib-compresses data; *use is 0 when the result is not smaller. */
static kx_status deflate_if_smaller(const void *data, size_t len, uint8_t **out, size_t *out_len,
                                    int *use)
{
    uLongf clen = compressBound(len);
    *use = 0;
    *out = malloc(clen);
    if (!*out)
        return STATUS_INSUFFICIENT_RESOURCES;
    int rc = compress2(*out, &clen, data, len, Z_DEFAULT_COMPRESSION);
    if (rc == Z_MEM_ERROR)
        return STATUS_INSUFFICIENT_RESOURCES;
    *use = rc == Z_OK && clen < len;
    *out_len = clen;
    return STATUS_SUCCESS;
}

/* Appends an mkext2 file entry {compressed size, full size, bytes}. */
static kx_status put_file2(struct buf *b, const void *data, size_t len, uint32_t *offset)
{
    if (len > KX_MKEXT_MAX_FILE_BYTES)
        return STATUS_BUFFER_TOO_SMALL;
    uint8_t *z = NULL;
    size_t zlen = 0;
    int use = 0;
    kx_status st = deflate_if_smaller(data, len, &z, &zlen, &use);
    *offset = (uint32_t)b->len;
    if (st == STATUS_SUCCESS)
        st = buf_be32(b, use ? (uint32_t)zlen : 0);
    if (st == STATUS_SUCCESS)
        st = buf_be32(b, (uint32_t)len);
    if (st == STATUS_SUCCESS)
        st = buf_append(b, use ? z : data, use ? zlen : len);
    free(z);
    return st;
}

/* ======== Info dictionaries ======== */

static const char *const reserved_keys[] = {
    KX_MKEXT_KEY_BUNDLE_PATH,       KX_MKEXT_KEY_EXECUTABLE_PATH,   KX_MKEXT_KEY_EXECUTABLE,
    KX_MKEXT_KEY_EXECUTABLE_SHA256, KX_MKEXT_KEY_INFO_PLIST_SHA256,
};

/* A private copy of the entry's info dictionary, without archive keys, and
 * the SHA-256 of the Info.plist bytes it came from. */
static kx_status load_info(const struct kx_mkext_input *in, size_t idx, plist_t *dict,
                           char hex[KX_SHA256_HEX_LEN], char *why, size_t why_len)
{
    const char *name = in->bundle_path ? in->bundle_path : "no bundle path";
    plist_t d = NULL;
    kx_status st;
    *dict = NULL;
    if (in->info_plist) {
        const char *reason = NULL;
        if (kx_plist_parse(in->info_plist, in->info_plist_len, &d, &reason) != STATUS_SUCCESS)
            return kx_why(why, why_len, STATUS_INVALID_PARAMETER, "entry %zu (%s): Info.plist: %s",
                        idx, name, reason);
        st = kx_sha256_hex(in->info_plist, in->info_plist_len, hex);
    } else if (in->info_dict) {
        char *xml = NULL;
        uint32_t xml_len = 0;
        plist_to_xml(in->info_dict, &xml, &xml_len);
        if (!xml)
            return STATUS_INSUFFICIENT_RESOURCES;
        st = kx_sha256_hex(xml, xml_len, hex);
        plist_to_xml_free(xml);
        d = plist_copy(in->info_dict);
        if (st == STATUS_SUCCESS && !d)
            st = STATUS_INSUFFICIENT_RESOURCES;
    } else {
        return kx_why(why, why_len, STATUS_INVALID_PARAMETER, "entry %zu (%s): no Info.plist", idx,
                    name);
    }
    if (st == STATUS_SUCCESS && !kx_plist_is(d, PLIST_DICT))
        st = kx_why(why, why_len, STATUS_INVALID_PARAMETER,
                  "entry %zu (%s): Info.plist is a %s, not a dictionary", idx, name,
                  kx_plist_type_name(d));
    if (st != STATUS_SUCCESS) {
        if (d)
            plist_free(d);
        return st;
    }
    for (size_t k = 0; k < sizeof reserved_keys / sizeof reserved_keys[0]; k++)
        if (plist_dict_get_item(d, reserved_keys[k]))
            plist_dict_remove_item(d, reserved_keys[k]);
    *dict = d;
    return STATUS_SUCCESS;
}

/* Adds the mkext2 and kx keys for one entry, appending its executable. */
static kx_status add_entry2(struct buf *b, const struct kx_mkext_input *in, plist_t d,
                            const char *info_hex)
{
    plist_dict_set_item(d, KX_MKEXT_KEY_BUNDLE_PATH, plist_new_string(in->bundle_path));
    plist_dict_set_item(d, KX_MKEXT_KEY_INFO_PLIST_SHA256, plist_new_string(info_hex));
    if (!in->executable)
        return STATUS_SUCCESS;
    char hex[KX_SHA256_HEX_LEN];
    uint32_t off = 0;
    kx_status st = kx_sha256_hex(in->executable, in->executable_len, hex);
    if (st == STATUS_SUCCESS)
        st = put_file2(b, in->executable, in->executable_len, &off);
    if (st != STATUS_SUCCESS)
        return st;
    plist_dict_set_item(d, KX_MKEXT_KEY_EXECUTABLE, plist_new_uint(off));
    if (in->executable_path)
        plist_dict_set_item(d, KX_MKEXT_KEY_EXECUTABLE_PATH, plist_new_string(in->executable_path));
    plist_dict_set_item(d, KX_MKEXT_KEY_EXECUTABLE_SHA256, plist_new_string(hex));
    return STATUS_SUCCESS;
}

static void cpu_of(const struct kx_mkext_write_options *opts, uint32_t *type, uint32_t *subtype)
{
    int given = opts && opts->cpu_type;
    *type = given ? opts->cpu_type : kx_mkext_host_cpu_type();
    *subtype = given ? opts->cpu_subtype : kx_mkext_host_cpu_subtype();
}

/* Fills in the common header once the archive is complete. */
static void finish_header(struct buf *b, uint32_t version, size_t n_kexts,
                          const struct kx_mkext_write_options *opts)
{
    uint32_t type, subtype;
    cpu_of(opts, &type, &subtype);
    kx_be32_put(b->data, KX_MKEXT_MAGIC);
    kx_be32_put(b->data + 4, KX_MKEXT_SIGNATURE);
    kx_be32_put(b->data + 8, (uint32_t)b->len);
    kx_be32_put(b->data + 16, version);
    kx_be32_put(b->data + 20, (uint32_t)n_kexts);
    kx_be32_put(b->data + 24, type);
    kx_be32_put(b->data + 28, subtype);
    kx_be32_put(b->data + 12, kx_mkext_checksum(b->data, b->len));
}

static kx_status size_error(kx_status st, char *why, size_t why_len)
{
    if (st == STATUS_BUFFER_TOO_SMALL)
        return kx_why(why, why_len, STATUS_INVALID_PARAMETER,
                    "the archive would be larger than an mkext can be (2 GiB, 512 MiB a file)");
    if (st == STATUS_INSUFFICIENT_RESOURCES)
        return kx_why(why, why_len, st, "out of memory building the mkext archive");
    return st;
}

/* ======== mkext2 ======== */

/* The root plist: the info dictionaries and _KXCacheInfo. */
static kx_status cache_info_of(const struct kx_mkext_write_options *opts, plist_t *out, char *why,
                               size_t why_len)
{
    plist_t given = opts ? opts->cache_info : NULL;
    if (given && !kx_plist_is(given, PLIST_DICT))
        return kx_why(why, why_len, STATUS_INVALID_PARAMETER,
                    KX_MKEXT_KEY_CACHE_INFO " must be a dictionary, not a %s",
                    kx_plist_type_name(given));
    *out = given ? plist_copy(given) : plist_new_dict();
    if (!*out)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (!plist_dict_get_item(*out, KX_MKEXT_CACHE_BUILDER_VERSION))
        plist_dict_set_item(*out, KX_MKEXT_CACHE_BUILDER_VERSION,
                            plist_new_string(KX_MKEXT_BUILDER_VERSION));
    return STATUS_SUCCESS;
}

/* Appends the NUL-terminated XML plist, compressed when smaller. */
static kx_status put_plist2(struct buf *b, plist_t root)
{
    char *xml = NULL;
    uint32_t xml_len = 0;
    plist_to_xml(root, &xml, &xml_len);
    if (!xml)
        return STATUS_INSUFFICIENT_RESOURCES;
    uint8_t *full = malloc((size_t)xml_len + 1);
    if (!full) {
        plist_to_xml_free(xml);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memcpy(full, xml, xml_len);
    full[xml_len] = '\0';
    plist_to_xml_free(xml);
    size_t full_len = (size_t)xml_len + 1, zlen = 0;
    uint8_t *z = NULL;
    int use = 0;
    uint32_t offset = (uint32_t)b->len;
    kx_status st = full_len > KX_PLIST_MAX_BYTES
                       ? STATUS_BUFFER_TOO_SMALL
                       : deflate_if_smaller(full, full_len, &z, &zlen, &use);
    if (st == STATUS_SUCCESS)
        st = buf_append(b, use ? z : full, use ? zlen : full_len);
    if (st == STATUS_SUCCESS) {
        kx_be32_put(b->data + 32, offset);
        kx_be32_put(b->data + 36, use ? (uint32_t)zlen : 0);
        kx_be32_put(b->data + 40, (uint32_t)full_len);
    }
    free(z);
    free(full);
    return st;
}

kx_status kx_mkext_write(const struct kx_mkext_input *in, size_t n_in,
                         const struct kx_mkext_write_options *opts, void **out, size_t *out_len,
                         char *why, size_t why_len)
{
    struct buf b = {NULL, 0, 0};
    plist_t root = plist_new_dict(), infos = plist_new_array(), ci = NULL;
    *out = NULL;
    *out_len = 0;
    if (!root || !infos) {
        if (root)
            plist_free(root);
        if (infos)
            plist_free(infos);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    plist_dict_set_item(root, KX_MKEXT_KEY_INFO_DICTIONARIES, infos); /* root owns infos */
    kx_status st = buf_append(&b, NULL, KX_MKEXT2_HEADER_LEN);
    if (st != STATUS_SUCCESS)
        goto fail_size;
    for (size_t i = 0; i < n_in; i++) {
        plist_t d = NULL;
        char info_hex[KX_SHA256_HEX_LEN];
        if (!in[i].bundle_path) {
            st = kx_why(why, why_len, STATUS_INVALID_PARAMETER, "entry %zu: no bundle path", i);
            goto fail_free;
        }
        st = load_info(&in[i], i, &d, info_hex, why, why_len);
        if (st != STATUS_SUCCESS)
            goto fail_free;
        plist_array_append_item(infos, d); /* infos owns d from here */
        st = add_entry2(&b, &in[i], d, info_hex);
        if (st != STATUS_SUCCESS)
            goto fail_size;
    }
    st = cache_info_of(opts, &ci, why, why_len);
    if (st != STATUS_SUCCESS)
        goto fail_free;
    plist_dict_set_item(root, KX_MKEXT_KEY_CACHE_INFO, ci);
    st = put_plist2(&b, root);
    if (st != STATUS_SUCCESS)
        goto fail_size;
    finish_header(&b, KX_MKEXT_VERSION_2, n_in, opts);
    plist_free(root);
    *out = b.data;
    *out_len = b.len;
    return STATUS_SUCCESS;

fail_size:
    st = size_error(st, why, why_len);
fail_free:
    plist_free(root);
    free(b.data);
    return st;
}

kx_status kx_mkext_write_file(const char *path, const struct kx_mkext_input *in, size_t n_in,
                              const struct kx_mkext_write_options *opts, char *why, size_t why_len)
{
    void *data = NULL;
    size_t len = 0;
    kx_status st = kx_mkext_write(in, n_in, opts, &data, &len, why, why_len);
    if (st != STATUS_SUCCESS)
        return st;
    st = kx_plat_write_file_atomic(path, data, len, 0644);
    free(data);
    if (st != STATUS_SUCCESS)
        return kx_why(why, why_len, st, "%s: %s", path, kx_status_string(st));
    return STATUS_SUCCESS;
}

/* ======== mkext1 ======== */

/* Appends one LZSS file and records {offset, compressed size, size, mtime 0}
 * in the kext table at slot (an offset into the archive). */
static kx_status put_file1(struct buf *b, size_t slot, const void *data, size_t len)
{
    if (len > KX_MKEXT_MAX_FILE_BYTES)
        return STATUS_BUFFER_TOO_SMALL;
    void *z = NULL;
    size_t zlen = 0;
    kx_status st = kx_lzss_compress(data, len, &z, &zlen);
    int use = st == STATUS_SUCCESS && zlen < len;
    uint32_t offset = (uint32_t)b->len;
    if (st == STATUS_SUCCESS)
        st = buf_append(b, use ? z : data, use ? zlen : len);
    free(z);
    if (st != STATUS_SUCCESS)
        return st;
    kx_be32_put(b->data + slot, offset);
    kx_be32_put(b->data + slot + 4, use ? (uint32_t)zlen : 0);
    kx_be32_put(b->data + slot + 8, (uint32_t)len);
    kx_be32_put(b->data + slot + 12, 0);
    return STATUS_SUCCESS;
}

/* The entry's info dictionary as mkext1 stores it: XML, no terminator. */
static kx_status put_plist1(struct buf *b, size_t slot, plist_t d)
{
    char *xml = NULL;
    uint32_t xml_len = 0;
    plist_to_xml(d, &xml, &xml_len);
    if (!xml)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = put_file1(b, slot, xml, xml_len);
    plist_to_xml_free(xml);
    return st;
}

kx_status kx_mkext1_write(const struct kx_mkext_input *in, size_t n_in,
                          const struct kx_mkext_write_options *opts, void **out, size_t *out_len,
                          char *why, size_t why_len)
{
    struct buf b = {NULL, 0, 0};
    *out = NULL;
    *out_len = 0;
    kx_status st = n_in > ((size_t)INT32_MAX - KX_MKEXT_HEADER_LEN) / 32
                       ? STATUS_BUFFER_TOO_SMALL
                       : buf_append(&b, NULL, KX_MKEXT_HEADER_LEN + n_in * 32);
    for (size_t i = 0; st == STATUS_SUCCESS && i < n_in; i++) {
        size_t slot = KX_MKEXT_HEADER_LEN + i * 32;
        plist_t d = NULL;
        char info_hex[KX_SHA256_HEX_LEN];
        st = load_info(&in[i], i, &d, info_hex, why, why_len);
        if (st != STATUS_SUCCESS) {
            free(b.data);
            return st;
        }
        st = put_plist1(&b, slot, d);
        plist_free(d);
        if (st == STATUS_SUCCESS && in[i].executable)
            st = put_file1(&b, slot + 16, in[i].executable, in[i].executable_len);
    }
    if (st != STATUS_SUCCESS) {
        free(b.data);
        return size_error(st, why, why_len);
    }
    finish_header(&b, KX_MKEXT_VERSION_1, n_in, opts);
    *out = b.data;
    *out_len = b.len;
    return STATUS_SUCCESS;
}
