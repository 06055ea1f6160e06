/* plist_value.c — comparing plist values as IOKit's OSObjects compare, and printing them
 * as ioreg does.
 *
 * Equality follows OSObject::isEqualTo: the type must match (a string never equals data
 * holding the same bytes), dictionaries compare as sets of keys, and integers by value.
 * The printer follows ioreg's text forms; data is shown as text only when it is one or
 * more NUL-separated runs of printable bytes (at least 80% plain ASCII, more than one
 * byte), which is how ioreg shows "compatible" = <"pci8086,15b8","pciclass,020000">.
 */
#include "plist.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kx_plist_dict_contains(plist_t dict, plist_t subset)
{
    if (plist_get_node_type(dict) != PLIST_DICT || plist_get_node_type(subset) != PLIST_DICT)
        return 0;
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t val = NULL;
    int ok = 1;
    plist_dict_new_iter(subset, &it);
    for (plist_dict_next_item(subset, it, &key, &val); key;
         plist_dict_next_item(subset, it, &key, &val)) {
        if (ok && !kx_plist_equal(plist_dict_get_item(dict, key), val))
            ok = 0;
        free(key);
        key = NULL;
    }
    free(it);
    return ok;
}

int kx_plist_equal(plist_t a, plist_t b)
{
    if (!a || !b)
        return a == b;
    plist_type t = plist_get_node_type(a);
    if (t != plist_get_node_type(b))
        return 0;
    switch (t) {
    case PLIST_DICT:
        return plist_dict_get_size(a) == plist_dict_get_size(b) && kx_plist_dict_contains(a, b);
    case PLIST_ARRAY: {
        uint32_t n = plist_array_get_size(a);
        if (n != plist_array_get_size(b))
            return 0;
        for (uint32_t i = 0; i < n; i++)
            if (!kx_plist_equal(plist_array_get_item(a, i), plist_array_get_item(b, i)))
                return 0;
        return 1;
    }
    case PLIST_UINT: {
        uint64_t x = 0, y = 0;
        plist_get_uint_val(a, &x);
        plist_get_uint_val(b, &y);
        return x == y;
    }
    case PLIST_BOOLEAN: {
        uint8_t x = 0, y = 0;
        plist_get_bool_val(a, &x);
        plist_get_bool_val(b, &y);
        return !x == !y;
    }
    case PLIST_REAL: {
        double x = 0, y = 0;
        plist_get_real_val(a, &x);
        plist_get_real_val(b, &y);
        return x == y;
    }
    default: return plist_compare_node_value(a, b) != 0;
    }
}

/* ---- Printing ----------------------------------------------------------------------------- */

struct out {
    char *buf;
    size_t len, pos; /* pos counts past len: the length needed */
};

static void put(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, o->pos++)
        if (o->pos + 1 < o->len)
            o->buf[o->pos] = s[i];
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* ioreg's test: one or more NUL-terminated runs of printable bytes, NUL padding at the end
 * allowed, the last run needn't end in NUL; at least 80% plain ASCII; never one byte. */
static int data_is_text(const unsigned char *b, size_t n)
{
    size_t plain = 0, high = 0, i = 0;
    while (i < n) {
        if (b[i] == 0) {
            while (i < n && b[i] == 0)
                i++;
            break;
        }
        for (; i < n; i++) {
            if (isprint(b[i]))
                plain++;
            else if (b[i] >= 128 && b[i] <= 254)
                high++;
            else
                break;
        }
        if (i < n && b[i] == 0)
            i++;
        else
            break;
    }
    return n > 1 && i >= n && plain && (plain >> 2) >= high;
}

static void format(struct out *o, plist_t node, unsigned flags)
{
    char tmp[48];
    switch (plist_get_node_type(node)) {
    case PLIST_STRING: {
        uint64_t n = 0;
        const char *s = plist_get_string_ptr(node, &n);
        puts_(o, "\"");
        put(o, s, (size_t)n);
        puts_(o, "\"");
        break;
    }
    case PLIST_UINT: {
        uint64_t v = 0;
        plist_get_uint_val(node, &v);
        snprintf(tmp, sizeof tmp, flags & KX_PLIST_FORMAT_HEX ? "0x%" PRIx64 : "%" PRIu64, v);
        puts_(o, tmp);
        break;
    }
    case PLIST_REAL: {
        double v = 0;
        plist_get_real_val(node, &v);
        snprintf(tmp, sizeof tmp, "%g", v);
        puts_(o, tmp);
        break;
    }
    case PLIST_BOOLEAN: {
        uint8_t v = 0;
        plist_get_bool_val(node, &v);
        puts_(o, v ? "Yes" : "No");
        break;
    }
    case PLIST_DATA: {
        uint64_t n = 0;
        const unsigned char *b = (const unsigned char *)plist_get_data_ptr(node, &n);
        puts_(o, "<");
        if (data_is_text(b, (size_t)n)) {
            int quoted = 0;
            for (size_t i = 0; i < n; i++) {
                if (b[i]) {
                    if (!quoted)
                        puts_(o, i ? ",\"" : "\"");
                    quoted = 1;
                    put(o, (const char *)&b[i], 1);
                } else if (quoted) {
                    puts_(o, "\"");
                    quoted = 0;
                } else {
                    break;
                }
            }
            if (quoted)
                puts_(o, "\"");
        } else {
            for (size_t i = 0; i < n; i++) {
                snprintf(tmp, sizeof tmp, "%02x", b[i]);
                put(o, tmp, 2);
            }
        }
        puts_(o, ">");
        break;
    }
    case PLIST_ARRAY: {
        uint32_t n = plist_array_get_size(node);
        puts_(o, "(");
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                puts_(o, ",");
            format(o, plist_array_get_item(node, i), flags);
        }
        puts_(o, ")");
        break;
    }
    case PLIST_DICT: {
        plist_dict_iter it = NULL;
        char *key = NULL;
        plist_t val = NULL;
        int first = 1;
        puts_(o, "{");
        plist_dict_new_iter(node, &it);
        for (plist_dict_next_item(node, it, &key, &val); key;
             plist_dict_next_item(node, it, &key, &val)) {
            if (!first)
                puts_(o, ",");
            first = 0;
            puts_(o, "\"");
            puts_(o, key);
            puts_(o, "\"=");
            format(o, val, flags);
            free(key);
            key = NULL;
        }
        free(it);
        puts_(o, "}");
        break;
    }
    case PLIST_DATE: puts_(o, "<date>"); break;
    default: puts_(o, "<unknown object>"); break;
    }
}

size_t kx_plist_format(plist_t node, unsigned flags, char *buf, size_t len)
{
    struct out o = {buf, len, 0};
    if (node)
        format(&o, node, flags);
    if (len)
        buf[o.pos < len ? o.pos : len - 1] = '\0';
    return o.pos;
}
