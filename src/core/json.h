/* json.h — helpers for the --json output every report has (jansson). */
#ifndef KX_CORE_JSON_H
#define KX_CORE_JSON_H

#include <jansson.h>

/* A JSON string for s: null for NULL; bytes that don't form valid UTF-8
 * become U+FFFD (file names are bytes, a subject may quote a broken plist),
 * so a report never fails to serialise. NULL only when memory runs out. */
json_t *kx_json_string(const char *s);

#endif /* KX_CORE_JSON_H */
