/* ringbuffer.h — the RingBuffer library kext (org.kx.library.RingBuffer): a
 * byte ring used by RingLog and Pipe. Not thread-safe: each user serialises
 * its own calls (the sample drivers use it only on their dispatch thread). */
#ifndef KX_DRIVERS_RINGBUFFER_H
#define KX_DRIVERS_RINGBUFFER_H

#include <stddef.h>

#define RINGBUF_EXPORT __attribute__((visibility("default")))

struct ringbuf;

/* A ring of capacity bytes (> 0); NULL when out of memory. */
RINGBUF_EXPORT struct ringbuf *ringbuf_new(size_t capacity);
RINGBUF_EXPORT void ringbuf_free(struct ringbuf *rb);
RINGBUF_EXPORT size_t ringbuf_used(const struct ringbuf *rb);
RINGBUF_EXPORT size_t ringbuf_capacity(const struct ringbuf *rb);
/* Appends n bytes keeping only the newest `capacity` (the oldest are overwritten). */
RINGBUF_EXPORT void ringbuf_write_keep_last(struct ringbuf *rb, const void *p, size_t n);
/* Appends what fits; returns the number of bytes appended. */
RINGBUF_EXPORT size_t ringbuf_push(struct ringbuf *rb, const void *p, size_t n);
/* Removes up to n of the oldest bytes into out; returns how many. */
RINGBUF_EXPORT size_t ringbuf_pop(struct ringbuf *rb, void *out, size_t n);
/* Copies up to n bytes starting offset bytes after the oldest, removing nothing. */
RINGBUF_EXPORT size_t ringbuf_peek(const struct ringbuf *rb, size_t offset, void *out, size_t n);
RINGBUF_EXPORT void ringbuf_clear(struct ringbuf *rb);
/* New capacity (> 0), keeping the newest bytes that fit. 0, or -1 without memory. */
RINGBUF_EXPORT int ringbuf_resize(struct ringbuf *rb, size_t capacity);

#endif
