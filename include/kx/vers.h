/* kx/vers.h — Apple 'vers' version strings (CFBundleVersion and friends).
 *
 * Parsing, formatting and ordering behave exactly like xnu's
 * OSKextParseVersionString / OSKextVersionGetString, quirks included
 * (see ../shared/research/apple-kext.md §1): "1..2" is 1.0.2, "1.0 junk" is
 * 1.0, "1.0fc1" equals "1.0f1". Unlike Apple's user-space tools there is no
 * 20-character limit on the input; the kext reader enforces the plist rule
 * (< 64 characters) itself.
 */
#ifndef KX_VERS_H
#define KX_VERS_H

#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>

/* Encoded version: major*10^12 + minor*10^8 + revision*10^4 + stage*1000 + level.
 * Ordering is plain integer ordering. KX_VERS_INVALID (-1) is never a valid
 * version; 0 prints as "(missing)" but the parser never produces it. */
typedef int64_t kx_vers;
#define KX_VERS_INVALID ((kx_vers)-1)

/* Longest string kx_vers_format can produce, with its NUL ("9999.9999.9999b255"). */
#define KX_VERS_FORMAT_MAX 24

/* Parse a NUL-terminated string; KX_VERS_INVALID when it is not a version. */
KX_API kx_vers kx_vers_parse(const char *s);

/* Canonical form ("1.0", "1.2.3b4", "2.0f1") into buf (at least
 * KX_VERS_FORMAT_MAX bytes). "(invalid)" for KX_VERS_INVALID and other values
 * no string encodes, "(missing)" for 0. Returns buf. */
KX_API char *kx_vers_format(kx_vers v, char *buf, size_t buf_len);

/* -1, 0 or 1 like strcmp. */
static inline int kx_vers_compare(kx_vers a, kx_vers b) { return (a > b) - (a < b); }

#endif /* KX_VERS_H */
