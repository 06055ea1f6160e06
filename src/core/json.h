/* json.h — helpers for the --json output every report has (jansson). */
#ifndef KX_CORE_JSON_H
#define KX_CORE_JSON_H

#include <jansson.h>
#include <plist/plist.h>

/* A JSON string for s: null for NULL; bytes that don't form valid UTF-8
 * become U+FFFD (file names are bytes, a subject may quote a broken plist),
 * so a report never fails to serialise. NULL only when memory runs out. */
json_t *kx_json_string(const char *s);

/* A plist value as JSON: dictionaries, arrays, strings, integers, reals and booleans as
 * themselves, data as a string of hex digits, dates as null; nesting below 32 levels
 * becomes null too (the value may come from a file). NULL only when memory runs out. */
json_t *kx_json_plist(plist_t node);

#endif /* KX_CORE_JSON_H */
