/* plist.h — reading Apple property lists (XML and binary) through libplist,
 * with the limits and checks libplist leaves to its caller.
 */
#ifndef KX_CORE_PLIST_H
#define KX_CORE_PLIST_H

#include <kx/status.h>
#include <plist/plist.h>
#include <stddef.h>
#include <stdint.h>

/* Larger files are refused before parsing: no real Info.plist comes close. */
#define KX_PLIST_MAX_BYTES ((size_t)32 << 20)

/* Deeper nesting of arrays and dictionaries is refused before parsing:
 * libplist 2.2 parses and frees both formats recursively and overflows the
 * stack somewhere between 50,000 and 100,000 levels (less under ASan). Real
 * Info.plists nest fewer than 10 levels. */
#define KX_PLIST_MAX_DEPTH 256

/* Parses XML or binary plist bytes into *out (free with plist_free). On
 * failure returns STATUS_DATA_ERROR (or the read error) and sets *why to a
 * short explanation for the user: malformed XML says the line ("malformed
 * XML: line 12: </array> closes <dict> (opened on line 9)"). *why is static
 * or this thread's, valid until the thread's next parse. */
kx_status kx_plist_parse(const void *data, size_t len, plist_t *out, const char **why);
kx_status kx_plist_read_file(const char *path, plist_t *out, const char **why);

/* Finds the first line of an XML plist that breaks the format's rules (see
 * plist_where.c) and describes it in buf ("line N: ..."). 1 when found, 0
 * when the pass finds nothing. */
int kx_plist_xml_where(const char *s, size_t len, char *buf, size_t cap);

/* Dictionary lookups that tolerate a NULL or non-dictionary node. */
plist_t kx_plist_get(plist_t dict, const char *key);
/* The string value (borrowed, NUL-terminated) or NULL when absent or not a string. */
const char *kx_plist_string(plist_t dict, const char *key, uint64_t *len);
/* 1 and *out set when key holds a boolean; 0 otherwise. */
int kx_plist_bool(plist_t dict, const char *key, int *out);
int kx_plist_is(plist_t node, plist_type type);

/* Name of a node's type as Apple's tools print it ("string", "dictionary"). */
const char *kx_plist_type_name(plist_t node);

/* ---- Values (plist_value.c) ---------------------------------------------------------------- */

/* 1 when a and b are equal as OSObject::isEqualTo decides: the same type and content;
 * dictionaries with the same keys and equal values in any order, arrays element by
 * element; integers by value. Two NULLs are equal, NULL and a node are not. */
int kx_plist_equal(plist_t a, plist_t b);

/* 1 when every key of subset is in dict with an equal value (OSDictionary::isEqualTo with
 * a key set: IOPropertyMatch's test). */
int kx_plist_dict_contains(plist_t dict, plist_t subset);

#define KX_PLIST_FORMAT_HEX 0x1u /* numbers as 0x..., as ioreg -x prints them */

/* Writes node as ioreg prints a property value: strings quoted, numbers in decimal, data
 * as <hex> or <"text","text"> when it holds printable strings, Yes/No, arrays (a,b),
 * dictionaries {"k"=v,...}. Like snprintf: writes at most len bytes with the NUL, returns
 * the length the whole text needs. */
size_t kx_plist_format(plist_t node, unsigned flags, char *buf, size_t len);

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
int kx_utf8_valid(const char *s, size_t len);

#endif /* KX_CORE_PLIST_H */
