/* ringbuffer.c — a byte ring: head is the oldest byte, used bytes follow it
 * around the end of the array. */
#include "ringbuffer.h"

#include <stdlib.h>
#include <string.h>

struct ringbuf {
    unsigned char *data;
    size_t cap, head, used;
};

struct ringbuf *ringbuf_new(size_t capacity)
{
    if (!capacity)
        return NULL;
    struct ringbuf *rb = calloc(1, sizeof *rb);
    if (rb && !(rb->data = malloc(capacity))) {
        free(rb);
        return NULL;
    }
    if (rb)
        rb->cap = capacity;
    return rb;
}

void ringbuf_free(struct ringbuf *rb)
{
    if (rb)
        free(rb->data);
    free(rb);
}

size_t ringbuf_used(const struct ringbuf *rb) { return rb->used; }
size_t ringbuf_capacity(const struct ringbuf *rb) { return rb->cap; }

/* Copies n bytes in at logical position pos (0 = oldest), wrapping. */
static void put(struct ringbuf *rb, size_t pos, const unsigned char *p, size_t n)
{
    size_t at = (rb->head + pos) % rb->cap;
    size_t first = n < rb->cap - at ? n : rb->cap - at;
    memcpy(rb->data + at, p, first);
    memcpy(rb->data, p + first, n - first);
}

size_t ringbuf_peek(const struct ringbuf *rb, size_t offset, void *out, size_t n)
{
    if (offset >= rb->used)
        return 0;
    if (n > rb->used - offset)
        n = rb->used - offset;
    size_t at = (rb->head + offset) % rb->cap;
    size_t first = n < rb->cap - at ? n : rb->cap - at;
    memcpy(out, rb->data + at, first);
    memcpy((unsigned char *)out + first, rb->data, n - first);
    return n;
}

size_t ringbuf_push(struct ringbuf *rb, const void *p, size_t n)
{
    if (n > rb->cap - rb->used)
        n = rb->cap - rb->used;
    put(rb, rb->used, p, n);
    rb->used += n;
    return n;
}

void ringbuf_write_keep_last(struct ringbuf *rb, const void *p, size_t n)
{
    const unsigned char *src = p;
    if (n >= rb->cap) { /* only the tail of the write survives */
        memcpy(rb->data, src + n - rb->cap, rb->cap);
        rb->head = 0;
        rb->used = rb->cap;
        return;
    }
    size_t free_bytes = rb->cap - rb->used;
    if (n > free_bytes) { /* drop the oldest */
        size_t drop = n - free_bytes;
        rb->head = (rb->head + drop) % rb->cap;
        rb->used -= drop;
    }
    put(rb, rb->used, src, n);
    rb->used += n;
}

size_t ringbuf_pop(struct ringbuf *rb, void *out, size_t n)
{
    n = ringbuf_peek(rb, 0, out, n);
    rb->head = (rb->head + n) % rb->cap;
    rb->used -= n;
    return n;
}

void ringbuf_clear(struct ringbuf *rb)
{
    rb->head = 0;
    rb->used = 0;
}

int ringbuf_resize(struct ringbuf *rb, size_t capacity)
{
    if (!capacity)
        return -1;
    unsigned char *data = malloc(capacity);
    if (!data)
        return -1;
    size_t keep = rb->used < capacity ? rb->used : capacity;
    ringbuf_peek(rb, rb->used - keep, data, keep); /* the newest bytes */
    free(rb->data);
    rb->data = data;
    rb->cap = capacity;
    rb->head = 0;
    rb->used = keep;
    return 0;
}
