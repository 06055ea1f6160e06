/* json.c — JSON values from C strings that may not be UTF-8. */
#include "json.h"

#include "plist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* JSON strings must be UTF-8, but file names are bytes and a subject may quote a
 * broken Info.plist: every byte that doesn't start a valid sequence becomes U+FFFD,
 * so a report never fails to serialise. */
json_t *kx_json_string(const char *s)
{
    if (!s)
        return json_null();
    size_t len = strlen(s);
    if (kx_utf8_valid(s, len))
        return json_string(s);
    char *out = malloc(len * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len;) {
        unsigned c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (n && i + n <= len && kx_utf8_valid(s + i, n)) {
            memcpy(o, s + i, n);
            o += n;
            i += n;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    *o = '\0';
    json_t *j = json_string(out);
    free(out);
    return j;
}

static json_t *plist_json(plist_t node, int depth)
{
    if (!node || depth > 32)
        return json_null();
    switch (plist_get_node_type(node)) {
    case PLIST_BOOLEAN: {
        uint8_t b = 0;
        plist_get_bool_val(node, &b);
        return json_boolean(b);
    }
    case PLIST_UINT: {
        uint64_t v = 0;
        plist_get_uint_val(node, &v);
        return json_integer((json_int_t)v);
    }
    case PLIST_REAL: {
        double d = 0;
        plist_get_real_val(node, &d);
        return json_real(d);
    }
    case PLIST_STRING: return kx_json_string(plist_get_string_ptr(node, NULL));
    case PLIST_DATA: {
        uint64_t n = 0;
        const unsigned char *b = (const unsigned char *)plist_get_data_ptr(node, &n);
        char *hex = malloc(n * 2 + 1);
        if (!hex)
            return NULL;
        for (uint64_t i = 0; i < n; i++)
            snprintf(hex + i * 2, 3, "%02x", b[i]);
        hex[n * 2] = '\0';
        json_t *j = json_string(hex);
        free(hex);
        return j;
    }
    case PLIST_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; a && i < plist_array_get_size(node); i++)
            json_array_append_new(a, plist_json(plist_array_get_item(node, i), depth + 1));
        return a;
    }
    case PLIST_DICT: {
        json_t *o = json_object();
        plist_dict_iter it = NULL;
        char *key = NULL;
        plist_t v = NULL;
        plist_dict_new_iter(node, &it);
        for (plist_dict_next_item(node, it, &key, &v); key; plist_dict_next_item(node, it, &key, &v)) {
            if (o)
                json_object_set_new(o, key, plist_json(v, depth + 1)); /* refuses non-UTF-8 keys */
            free(key);
            key = NULL;
        }
        free(it);
        return o;
    }
    default: return json_null();
    }
}

json_t *kx_json_plist(plist_t node) { return plist_json(node, 0); }
