/* plist.c — libplist with limits: size cap, format sniffing, typed lookups.
 *
 * libplist 2.2 returns NULL on any parse error without saying why, so the
 * reasons here are kx's own, found by looking at the bytes first.
 */
#include "plist.h"
#include "plat.h"

#include <stdlib.h>
#include <string.h>

kx_status kx_plist_parse(const void *data, size_t len, plist_t *out, const char **why)
{
    const char *bytes = data;
    *out = NULL;
    *why = NULL;
    if (len == 0) {
        *why = "file is empty";
        return STATUS_DATA_ERROR;
    }
    if (len > KX_PLIST_MAX_BYTES) {
        *why = "file is too large for a property list";
        return STATUS_DATA_ERROR;
    }
    int is_binary = len >= 8 && memcmp(bytes, "bplist00", 8) == 0;
    if (!is_binary && !memchr(bytes, '<', len)) {
        *why = "not a property list (neither XML nor binary)";
        return STATUS_DATA_ERROR;
    }
    plist_t p = NULL;
    if (is_binary)
        plist_from_bin(bytes, (uint32_t)len, &p);
    else
        plist_from_xml(bytes, (uint32_t)len, &p);
    if (!p) {
        *why = is_binary ? "malformed binary property list"
                         : "malformed XML (truncated, unbalanced tags or stray text)";
        return STATUS_DATA_ERROR;
    }
    *out = p;
    return STATUS_SUCCESS;
}

kx_status kx_plist_read_file(const char *path, plist_t *out, const char **why)
{
    void *data;
    size_t len;
    *out = NULL;
    *why = NULL;
    kx_status st = kx_plat_read_file(path, KX_PLIST_MAX_BYTES, &data, &len);
    if (st == STATUS_BUFFER_TOO_SMALL) {
        *why = "file is too large for a property list";
        return STATUS_DATA_ERROR;
    }
    if (st != STATUS_SUCCESS) {
        *why = kx_status_string(st);
        return st;
    }
    st = kx_plist_parse(data, len, out, why);
    free(data);
    return st;
}

int kx_plist_is(plist_t node, plist_type type)
{
    return node && plist_get_node_type(node) == type;
}

plist_t kx_plist_get(plist_t dict, const char *key)
{
    return kx_plist_is(dict, PLIST_DICT) ? plist_dict_get_item(dict, key) : NULL;
}

const char *kx_plist_string(plist_t dict, const char *key, uint64_t *len)
{
    plist_t v = kx_plist_get(dict, key);
    uint64_t n = 0;
    const char *s = kx_plist_is(v, PLIST_STRING) ? plist_get_string_ptr(v, &n) : NULL;
    if (len)
        *len = s ? n : 0;
    return s;
}

int kx_plist_bool(plist_t dict, const char *key, int *out)
{
    plist_t v = kx_plist_get(dict, key);
    if (!kx_plist_is(v, PLIST_BOOLEAN))
        return 0;
    uint8_t b = 0;
    plist_get_bool_val(v, &b);
    *out = b != 0;
    return 1;
}

const char *kx_plist_type_name(plist_t node)
{
    if (!node)
        return "missing";
    switch (plist_get_node_type(node)) {
    case PLIST_BOOLEAN: return "boolean";
    case PLIST_UINT: return "integer";
    case PLIST_REAL: return "real";
    case PLIST_STRING: return "string";
    case PLIST_ARRAY: return "array";
    case PLIST_DICT: return "dictionary";
    case PLIST_DATE: return "date";
    case PLIST_DATA: return "data";
    case PLIST_KEY: return "key";
    case PLIST_UID: return "uid";
    default: return "unknown";
    }
}

int kx_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n >= len) /* sequence runs past the end */
            return 0;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t min_for_len[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_for_len[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += n + 1;
    }
    return 1;
}
