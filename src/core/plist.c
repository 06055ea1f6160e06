/* plist.c — libplist with limits: size cap, format sniffing, typed lookups.
 *
 * libplist 2.2 returns NULL on any parse error without saying why, so the
 * reasons here are kx's own, found by looking at the bytes first.
 *
 * Pre-screening: libplist 2.2 recurses once per nesting level when it parses
 * (node_from_xml / parse_bin_node_at_index) and when it frees (plist_free), so
 * a small hostile file of nested <array>s, or a binary plist whose objects
 * form a long chain, overflows the stack (found by fuzz/fuzz_kext_read; a
 * 200,000-level XML file of 3 MB crashes a default 8 MB stack). Both formats
 * are therefore measured first, without recursion, and refused beyond
 * KX_PLIST_MAX_DEPTH. The binary check also refuses reference cycles,
 * out-of-range references, and dictionary keys that aren't strings or hold a
 * NUL character: libplist 2.2 builds such a dictionary, then abort()s in an
 * assert the first time it is iterated (plist_get_key_val, "length ==
 * strlen(*val)"; found by fuzz/fuzz_kext_read).
 */
#include "plist.h"
#include "plat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Depth pre-screen ---------------------------------------------------------------------- */

/* Nesting of XML elements, counted over the bytes: comments, CDATA,
 * declarations and self-closing tags don't nest; quoted attribute values may
 * contain '>'. Returns 0 when fine, 1 when deeper than KX_PLIST_MAX_DEPTH, 2
 * when elements are left open at the end: libplist 2.2 accepts a document cut
 * off after its last </dict>, which CoreFoundation (and kx) call truncated. */
static int xml_shape(const char *s, size_t len)
{
    long depth = 0;
    size_t i = 0;
    while (i < len) {
        if (s[i] != '<') {
            i++;
            continue;
        }
        if (i + 4 <= len && memcmp(s + i, "<!--", 4) == 0) {
            const char *end = memmem(s + i + 4, len - i - 4, "-->", 3);
            i = end ? (size_t)(end - s) + 3 : len;
        } else if (i + 9 <= len && memcmp(s + i, "<![CDATA[", 9) == 0) {
            const char *end = memmem(s + i + 9, len - i - 9, "]]>", 3);
            i = end ? (size_t)(end - s) + 3 : len;
        } else {
            int closing = i + 1 < len && s[i + 1] == '/';
            int decl = i + 1 < len && (s[i + 1] == '?' || s[i + 1] == '!');
            char quote = 0;
            size_t j = i + 1;
            for (; j < len; j++) {
                if (quote) {
                    if (s[j] == quote)
                        quote = 0;
                } else if (s[j] == '"' || s[j] == '\'') {
                    quote = s[j];
                } else if (s[j] == '>') {
                    break;
                }
            }
            if (j == len)
                return 2; /* a tag cut in half */
            if (!decl && !closing && s[j - 1] != '/' && ++depth > KX_PLIST_MAX_DEPTH)
                return 1;
            if (closing && depth > 0)
                depth--;
            i = j + 1;
        }
    }
    return depth > 0 ? 2 : 0;
}

static uint64_t be_uint(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

struct bin_frame {
    uint64_t obj;
    uint64_t next, count; /* child references left to visit */
    size_t refs;          /* offset of the reference list */
    unsigned height;      /* tallest child seen so far */
    int is_dict;          /* the first count/2 references are keys */
};

/* Layout of a binary plist, checked against the file size. */
struct bin_layout {
    const unsigned char *b;
    size_t len, offsets, end_objects;
    unsigned offset_size, ref_size;
    uint64_t n_objects, top;
};

/* A dictionary key libplist can take: an ASCII or UTF-16 string without NUL
 * characters (libplist 2.2 asserts that a key's length equals its strlen). */
static int bin_key_ok(const struct bin_layout *L, uint64_t o)
{
    uint64_t off = be_uint(L->b + L->offsets + o * L->offset_size, L->offset_size);
    if (off < 8 || off >= L->end_objects)
        return 0;
    unsigned marker = L->b[off], type = marker >> 4;
    uint64_t n = marker & 0xF;
    size_t pos = (size_t)off + 1;
    if (type != 0x5 && type != 0x6)
        return 0;
    if (n == 0xF) {
        if (pos >= L->end_objects || (L->b[pos] >> 4) != 0x1)
            return 0;
        size_t w = (size_t)1 << (L->b[pos] & 0x3);
        if (pos + 1 + w > L->end_objects)
            return 0;
        n = be_uint(L->b + pos + 1, w);
        pos += 1 + w;
    }
    size_t unit = type == 0x6 ? 2 : 1;
    if (n > (L->end_objects - pos) / unit)
        return 0;
    for (uint64_t i = 0; i < n; i++) {
        const unsigned char *c = L->b + pos + i * unit;
        if (c[0] == 0 && (unit == 1 || c[1] == 0))
            return 0;
    }
    return 1;
}

/* Finds frame f's object's container children (f->refs, f->count, f->is_dict);
 * 0 for leaves, -1 when the object is malformed. */
static int bin_children(const struct bin_layout *L, struct bin_frame *f)
{
    size_t *refs = &f->refs;
    uint64_t *count = &f->count;
    uint64_t off = be_uint(L->b + L->offsets + f->obj * L->offset_size, L->offset_size);
    if (off < 8 || off >= L->end_objects)
        return -1;
    unsigned marker = L->b[off], type = marker >> 4;
    f->is_dict = type == 0xD;
    if (type != 0xA && type != 0xB && type != 0xC && type != 0xD)
        return 0;
    uint64_t n = marker & 0xF;
    size_t pos = (size_t)off + 1;
    if (n == 0xF) { /* the count follows as an integer object */
        if (pos >= L->end_objects || (L->b[pos] >> 4) != 0x1)
            return -1;
        size_t w = (size_t)1 << (L->b[pos] & 0x3);
        if (pos + 1 + w > L->end_objects)
            return -1;
        n = be_uint(L->b + pos + 1, w);
        pos += 1 + w;
    }
    if (type == 0xD)
        n *= 2; /* keys, then values */
    if (n > (L->end_objects - pos) / L->ref_size)
        return -1;
    *refs = pos;
    *count = n;
    return 1;
}

/* Height of the object graph from the top object, without recursion; 0 when
 * it is malformed, cyclic or taller than KX_PLIST_MAX_DEPTH. */
static int bin_depth_ok(const unsigned char *b, size_t len)
{
    struct bin_layout L = {b, len, 0, 0, 0, 0, 0, 0};
    const unsigned char *t;
    if (len < 8 + 32)
        return 0;
    t = b + len - 32;
    L.offset_size = t[6];
    L.ref_size = t[7];
    L.n_objects = be_uint(t + 8, 8);
    L.top = be_uint(t + 16, 8);
    uint64_t table = be_uint(t + 24, 8);
    if (L.offset_size < 1 || L.offset_size > 8 || L.ref_size < 1 || L.ref_size > 8 ||
        L.n_objects == 0 || L.top >= L.n_objects || table < 8 || table > len - 32 ||
        L.n_objects > (len - 32 - table) / L.offset_size)
        return 0;
    L.offsets = (size_t)table;
    L.end_objects = (size_t)table;

    /* state: 0 new, 1 on the path, 2 done (height known) */
    unsigned char *state = calloc((size_t)L.n_objects, 1);
    unsigned short *height = calloc((size_t)L.n_objects, sizeof *height);
    struct bin_frame *stack = calloc(KX_PLIST_MAX_DEPTH + 1, sizeof *stack);
    int ok = state && height && stack;
    size_t sp = 0;
    if (ok) {
        stack[0].obj = L.top;
        state[L.top] = 1;
        ok = bin_children(&L, &stack[0]) >= 0;
        sp = 1;
    }
    while (ok && sp > 0) {
        struct bin_frame *f = &stack[sp - 1];
        if (f->next == f->count) {
            state[f->obj] = 2;
            height[f->obj] = (unsigned short)(f->height + 1);
            if (--sp > 0 && stack[sp - 1].height < height[f->obj])
                stack[sp - 1].height = height[f->obj];
            continue;
        }
        uint64_t c = be_uint(b + f->refs + f->next * L.ref_size, L.ref_size);
        int is_key = f->is_dict && f->next < f->count / 2;
        f->next++;
        if (c >= L.n_objects || state[c] == 1) { /* dangling reference or a cycle */
            ok = 0;
        } else if (is_key && !bin_key_ok(&L, c)) {
            ok = 0; /* libplist 2.2 builds such a dictionary, then asserts */
        } else if (state[c] == 2) {
            if (f->height < height[c])
                f->height = height[c];
        } else if (sp > KX_PLIST_MAX_DEPTH) {
            ok = 0;
        } else {
            struct bin_frame *g = &stack[sp++];
            memset(g, 0, sizeof *g);
            g->obj = c;
            state[c] = 1;
            ok = bin_children(&L, g) >= 0;
        }
    }
    ok = ok && height[L.top] <= KX_PLIST_MAX_DEPTH;
    free(state);
    free(height);
    free(stack);
    return ok;
}

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
    /* The located reason outlives this call for the caller to print; one per
     * thread, as callers parse on many threads. */
    static _Thread_local char located[320];
    char where[256];
    int shape = is_binary ? !bin_depth_ok(data, len) : xml_shape(bytes, len);
    if (shape == 2 && kx_plist_xml_where(bytes, len, where, sizeof where)) {
        /* Unbalanced, which the located reason says better than "truncated". */
        snprintf(located, sizeof located, "malformed XML: %s", where);
        *why = located;
        return STATUS_DATA_ERROR;
    }
    if (shape) {
        *why = is_binary   ? "malformed binary property list (bad references, a cycle, or nesting "
                             "deeper than 256 levels)"
               : shape == 1 ? "property list nested deeper than 256 levels"
                            : "malformed XML (truncated: elements left open at the end)";
        return STATUS_DATA_ERROR;
    }
    plist_t p = NULL;
    if (is_binary)
        plist_from_bin(bytes, (uint32_t)len, &p);
    else
        plist_from_xml(bytes, (uint32_t)len, &p);
    if (!p && !is_binary && kx_plist_xml_where(bytes, len, where, sizeof where)) {
        snprintf(located, sizeof located, "malformed XML: %s", where);
        *why = located;
        return STATUS_DATA_ERROR;
    }
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
