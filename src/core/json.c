/* json.c — JSON values from C strings that may not be UTF-8. */
#include "json.h"

#include "plist.h"

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
