/* lzss.h — the LZSS coding of mkext1 archives (Mac OS X 10.2–10.5).
 *
 * Okumura's LZSS as Apple used it: a 4096-byte ring initialised with spaces,
 * writing from position 4096-18; one flag byte per eight items (bit set: a
 * literal byte; clear: a two-byte reference to 3–18 bytes of the ring).
 * kx reads mkext1 archives and writes them only for tests and interop.
 */
#ifndef KX_KEXT_LZSS_H
#define KX_KEXT_LZSS_H

#include <kx/status.h>
#include <stddef.h>

/* No stream expands beyond this factor: eight 18-byte references per 17
 * input bytes. Readers use it to refuse impossible recorded sizes before
 * allocating. */
#define KX_LZSS_MAX_RATIO 9

/* Decodes src into dst, writing at most dst_cap bytes; *out_len gets the
 * bytes written. Returns STATUS_BUFFER_TOO_SMALL when the stream holds more
 * than dst_cap bytes (dst then holds the first dst_cap), STATUS_DATA_ERROR
 * when it ends inside a reference. Any input is safe. */
kx_status kx_lzss_decompress(void *dst, size_t dst_cap, const void *src, size_t src_len,
                             size_t *out_len);

/* Encodes src into a malloc'ed buffer (*out, *out_len; the caller frees it).
 * Incompressible data grows by at most one byte in eight, plus one.
 * Returns STATUS_INSUFFICIENT_RESOURCES when memory runs out. */
kx_status kx_lzss_compress(const void *src, size_t src_len, void **out, size_t *out_len);

#endif /* KX_KEXT_LZSS_H */
