/* files.c — a connection's file table: the client's small handle numbers
 * and the kx_io handles behind them.
 *
 * kx-srv adds and removes entries; the ring threads (ring_srv.c) look them
 * up while serving the same connection's ring, so the table has its own
 * lock and is shared by reference: the connection and its ring each hold
 * one, and whichever goes last frees it.
 */
#include "server_state.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct file_slot {
    uint32_t handle; /* 0: free */
    kx_io_handle io_handle;
};

struct kx_srv_files {
    pthread_mutex_t lock; /* a leaf: held for a table lookup only */
    _Atomic unsigned refs;
    struct file_slot *slots;
    size_t n;
    uint32_t next_handle;
};

struct kx_srv_files *kx_srv_files_new(void)
{
    struct kx_srv_files *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    atomic_init(&f->refs, 1);
    return f;
}

void kx_srv_files_ref(struct kx_srv_files *f)
{
    atomic_fetch_add(&f->refs, 1);
}

void kx_srv_files_unref(struct kx_srv_files *f)
{
    if (!f || atomic_fetch_sub(&f->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&f->lock);
    free(f->slots);
    free(f);
}

kx_status kx_srv_files_add(struct kx_srv_files *f, kx_io_handle h, uint32_t *handle)
{
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&f->lock);
    struct file_slot *slot = NULL;
    for (size_t i = 0; i < f->n && !slot; i++)
        if (f->slots[i].handle == 0)
            slot = &f->slots[i];
    if (!slot) {
        struct file_slot *ns = realloc(f->slots, (f->n + 1) * sizeof *ns);
        if (ns) {
            f->slots = ns;
            slot = &f->slots[f->n++];
        } else
            st = STATUS_INSUFFICIENT_RESOURCES;
    }
    if (slot) {
        if (++f->next_handle == 0)
            f->next_handle = 1;
        *slot = (struct file_slot){f->next_handle, h};
        *handle = slot->handle;
    }
    pthread_mutex_unlock(&f->lock);
    return st;
}

static struct file_slot *find_slot(struct kx_srv_files *f, uint32_t handle)
{
    for (size_t i = 0; handle && i < f->n; i++)
        if (f->slots[i].handle == handle)
            return &f->slots[i];
    return NULL;
}

kx_io_handle kx_srv_files_get(struct kx_srv_files *f, uint32_t handle)
{
    pthread_mutex_lock(&f->lock);
    struct file_slot *s = find_slot(f, handle);
    kx_io_handle h = s ? s->io_handle : 0;
    pthread_mutex_unlock(&f->lock);
    return h;
}

kx_io_handle kx_srv_files_remove(struct kx_srv_files *f, uint32_t handle)
{
    pthread_mutex_lock(&f->lock);
    struct file_slot *s = find_slot(f, handle);
    kx_io_handle h = s ? s->io_handle : 0;
    if (s)
        *s = (struct file_slot){0, 0};
    pthread_mutex_unlock(&f->lock);
    return h;
}

size_t kx_srv_files_count(struct kx_srv_files *f)
{
    size_t n = 0;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n; i++)
        n += f->slots[i].handle != 0;
    pthread_mutex_unlock(&f->lock);
    return n;
}

size_t kx_srv_files_take_all(struct kx_srv_files *f, kx_io_handle *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&f->lock);
    for (size_t i = 0; i < f->n && n < max; i++)
        if (f->slots[i].handle) {
            out[n++] = f->slots[i].io_handle;
            f->slots[i] = (struct file_slot){0, 0};
        }
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* ---- by connection (kx-srv only) ------------------------------------------ */

kx_status kx_srv_file_add(struct kx_srv *srv, uint64_t conn_id, kx_io_handle h, uint32_t *handle)
{
    struct conn *c = kx_srv_find_conn(srv, conn_id);
    return c ? kx_srv_files_add(c->files, h, handle) : STATUS_INVALID_HANDLE;
}

kx_io_handle kx_srv_file_get(struct kx_srv *srv, uint64_t conn_id, uint32_t handle)
{
    struct conn *c = kx_srv_find_conn(srv, conn_id);
    return c ? kx_srv_files_get(c->files, handle) : 0;
}

kx_io_handle kx_srv_file_remove(struct kx_srv *srv, uint64_t conn_id, uint32_t handle)
{
    struct conn *c = kx_srv_find_conn(srv, conn_id);
    return c ? kx_srv_files_remove(c->files, handle) : 0;
}
