/* mounts.c — kxd's FUSE mounts: `kxd --mount DIR` and `kx mount DIR` ask
 * for one, kx_srv_free takes them all down before anything else stops, so
 * programs inside are answered (EINTR for what waits) while the drivers are
 * still there.
 *
 * Mounting blocks (a stale mount is probed and detached, the kernel asked),
 * so requests run on a worker; the list has its own lock for that reason.
 */
#include "server_int.h"

#include "fuse/fuse.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MOUNTS 8

struct kx_srv_mounts {
    pthread_mutex_t lock; /* list, n */
    struct kx_fuse *list[MAX_MOUNTS];
    size_t n;
};

struct kx_srv_mounts *kx_srv_mounts_new(void)
{
    struct kx_srv_mounts *m = calloc(1, sizeof *m);
    if (m && pthread_mutex_init(&m->lock, NULL)) {
        free(m);
        return NULL;
    }
    return m;
}

void kx_srv_mounts_free(struct kx_srv_mounts *m)
{
    if (!m)
        return;
    for (size_t i = m->n; i-- > 0;)
        kx_fuse_unmount(m->list[i]);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

kx_status kx_srv_mount(struct kx_srv *srv, const char *dir, char *why, size_t why_len)
{
    struct kx_srv_mounts *m = kx_srv_mount_list(srv);
    struct kx_fuse_config cfg = {dir, kx_srv_io(srv), kx_srv_logger(srv)};
    struct kx_fuse *fs = NULL;
    pthread_mutex_lock(&m->lock);
    kx_status st = STATUS_SUCCESS;
    if (m->n == MAX_MOUNTS) {
        snprintf(why, why_len, "%s: kxd serves %d mounts already", dir, MAX_MOUNTS);
        st = STATUS_INSUFFICIENT_RESOURCES;
    } else if ((st = kx_fuse_mount(&cfg, &fs, why, why_len)) == STATUS_SUCCESS) {
        m->list[m->n++] = fs;
        kx_log_info(kx_srv_logger(srv), "%s: kx devices mounted", dir);
    }
    pthread_mutex_unlock(&m->lock);
    return st;
}
