/* bufcache.c — system buffers over IO_CACHE_BUF bytes, kept for the next
 * request of their size instead of going back to malloc.
 *
 * A steady stream of large writes or reads would otherwise cost a malloc and
 * a free per request, and above glibc's mmap threshold an mmap, a munmap and
 * a page fault per page of every buffer. Buffers come in power-of-two
 * classes up to KX_IO_MAX_TRANSFER; each class is a LIFO list threaded
 * through the free buffers themselves, under one leaf lock (one lock pair
 * per request is cheaper than the allocator's). Memory stays bounded twice:
 * the cache never holds more than BUF_KEEP_BYTES, and the watchdog's trim
 * (kx__pool_trim) frees every buffer of a class nobody took one from since
 * the previous tick, so a burst's buffers go once it is over.
 */
#include "io_int.h"

#include <stdlib.h>

#define BUF_KEEP_BYTES KX_IO_MAX_TRANSFER /* at most this much kept free */

/* The class of an n-byte buffer (n > IO_CACHE_BUF): buffers of class c
 * hold IO_CACHE_BUF << (c + 1) bytes. */
static unsigned class_of(size_t n)
{
    unsigned c = 0;
    while (((size_t)IO_CACHE_BUF << (c + 1)) < n)
        c++;
    return c;
}

void *kx__buf_get(struct kx_io *io, size_t n)
{
    struct io_bufcache *bc = &io->bufs;
    unsigned c = class_of(n);
    pthread_mutex_lock(&bc->lock);
    void *p = bc->free[c];
    if (p) {
        bc->free[c] = *(void **)p;
        bc->bytes -= (size_t)IO_CACHE_BUF << (c + 1);
    }
    bc->taken[c] = 1;
    pthread_mutex_unlock(&bc->lock);
    if (!p && (p = malloc((size_t)IO_CACHE_BUF << (c + 1))))
        atomic_fetch_add_explicit(&bc->n_malloc, 1, memory_order_relaxed);
    return p;
}

void kx__buf_put(struct kx_io *io, void *p, size_t n)
{
    struct io_bufcache *bc = &io->bufs;
    unsigned c = class_of(n);
    size_t size = (size_t)IO_CACHE_BUF << (c + 1);
    pthread_mutex_lock(&bc->lock);
    int keep = bc->bytes + size <= BUF_KEEP_BYTES;
    if (keep) {
        *(void **)p = bc->free[c];
        bc->free[c] = p;
        bc->bytes += size;
    }
    pthread_mutex_unlock(&bc->lock);
    if (!keep)
        free(p);
}

/* Frees the buffers of classes left alone since the last trim (all = 1:
 * every buffer). */
static void drop(struct io_bufcache *bc, int all)
{
    void *gone[IO_BUF_CLASSES];
    pthread_mutex_lock(&bc->lock);
    for (unsigned c = 0; c < IO_BUF_CLASSES; c++) {
        gone[c] = NULL;
        if (!all && bc->taken[c]) {
            bc->taken[c] = 0;
            continue;
        }
        for (void *p = bc->free[c]; p; p = *(void **)p)
            bc->bytes -= (size_t)IO_CACHE_BUF << (c + 1);
        gone[c] = bc->free[c];
        bc->free[c] = NULL;
    }
    pthread_mutex_unlock(&bc->lock);
    for (unsigned c = 0; c < IO_BUF_CLASSES; c++)
        for (void *p = gone[c], *next; p; p = next) {
            next = *(void **)p;
            free(p);
        }
}

void kx__buf_trim(struct kx_io *io) { drop(&io->bufs, 0); }

kx_status kx__buf_init(struct kx_io *io)
{
    struct io_bufcache *bc = &io->bufs;
    for (unsigned c = 0; c < IO_BUF_CLASSES; c++) {
        bc->free[c] = NULL;
        bc->taken[c] = 0;
    }
    bc->bytes = 0;
    atomic_init(&bc->n_malloc, 0);
    return pthread_mutex_init(&bc->lock, NULL) ? STATUS_INSUFFICIENT_RESOURCES : STATUS_SUCCESS;
}

void kx__buf_destroy(struct kx_io *io)
{
    drop(&io->bufs, 1);
    pthread_mutex_destroy(&io->bufs.lock);
}
