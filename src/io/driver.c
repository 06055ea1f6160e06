/* driver.c — driver instances: start (DriverEntry with a deadline, rollback
 * on failure), unload (veto while handles are open, DriverUnload, cleanup of
 * whatever the driver left behind), and their listing.
 *
 *   kx_io_driver_start:  register \Driver\X (STARTING) -> host thread -> K_INIT
 *       success: RUNNING          failure/timeout: delete its devices and links,
 *                                 GONE; a timed-out thread becomes a zombie
 *   kx_io_driver_unload: RUNNING -> UNLOADING (opens refused) -> close handles
 *       (forced) -> K_UNLOAD -> delete leftovers -> GONE (nothing is posted to
 *       it any more) -> K_STOP -> answer and release the IRPs it still held
 *
 * A driver stuck in its own code cannot be stopped in-process: its host is
 * kept as a zombie and joined by kx_io_free. Its records are retired, never
 * freed, so a late message from it finds nothing to corrupt.
 */
#include "io_int.h"

#include "core/plat.h"
#include "core/plat_sync.h"

#include <kx/kmdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int info_valid(const struct kx_driver_info *info)
{
    return info && info->magic == KX_DRIVER_INFO_MAGIC && info->abi == KX_DRIVER_INFO_ABI &&
           info->size >= sizeof(struct kx_driver_info) && info->type >= DRIVER_TYPE_KMD &&
           info->type <= DRIVER_TYPE_CMD && info->name[0] &&
           memchr(info->name, 0, sizeof info->name) && memchr(info->version, 0, sizeof info->version);
}

/* Under ns_lock. */
static void drop_driver(struct kx_io *io, struct io_driver *d)
{
    d->state = IO_DRIVER_GONE;
    atomic_store(&d->accepting, 0);
    kx__event_drop_driver(io, d);
    for (size_t i = 0; i < io->n_drivers; i++)
        if (io->drivers[i] == d) {
            memmove(&io->drivers[i], &io->drivers[i + 1],
                    (io->n_drivers - i - 1) * sizeof(struct io_driver *));
            io->n_drivers--;
            break;
        }
    for (size_t i = 0; i < io->n_devices; i++)
        if (io->devices[i]->drv == d)
            io->devices[i]->drv = NULL; /* delete-pending devices outlive their driver */
    kx__ns_retire(io, d, 1);
}

/* Under ns_lock, after drop_driver: the record was set aside at start so
 * that stopping a driver can never fail. */
static void post_stop(struct kx_io *io, struct io_driver *d)
{
    struct io_irp *r = d->stop_rec;
    d->stop_rec = NULL;
    r->kind = K_STOP;
    atomic_store_explicit(&r->drv, d, memory_order_relaxed);
    kx__post(io, d, &r, 1);
}

/* Detaches the host from the record under the lock (the watchdog reads it
 * there), then joins and frees it. */
static void free_host(struct kx_io *io, struct io_driver *d)
{
    pthread_mutex_lock(&io->ns_lock);
    struct kx_host *h = d->host;
    struct io_hostproc *hp = d->proc;
    d->host = NULL;
    d->proc = NULL;
    pthread_mutex_unlock(&io->ns_lock);
    if (h)
        kx__host_free(h);
    kx__hostproc_free(hp); /* a process is killed if stuck: never a zombie */
}

/* A lifecycle routine's deadline: in a host process never past hang_ms,
 * since the process can be killed; a thread in kxd can only be abandoned. */
static uint32_t lifecycle_ms(const struct kx_io *io, const struct io_driver *d, uint32_t ms)
{
    return d->proc && io->hang_ms && io->hang_ms < ms ? io->hang_ms : ms;
}

/* The host process of d (NULL: in kxd), read where the watchdog reads it. */
static struct io_hostproc *proc_of(struct kx_io *io, struct io_driver *d)
{
    pthread_mutex_lock(&io->ns_lock);
    struct io_hostproc *hp = d->proc;
    pthread_mutex_unlock(&io->ns_lock);
    return hp;
}

static int is_host_death(kx_status st)
{
    return st == STATUS_DRIVER_NOT_RESPONDING || st == STATUS_DRIVER_PROCESS_TERMINATED;
}

static void add_zombie(struct kx_io *io, struct kx_host *h)
{
    if (h && kx__ns_grow((void **)&io->zombies, &io->cap_zombies, io->n_zombies + 1,
                    sizeof(struct kx_host *)) == STATUS_SUCCESS)
        io->zombies[io->n_zombies++] = h;
}

kx_status kx_io_driver_start(struct kx_io *io, const struct kx_io_driver_params *p,
                             kx_io_driver_id *out)
{
    if (!io || !p || !out || !p->size || p->size > sizeof *p)
        return STATUS_INVALID_PARAMETER;
    *out = 0;
    if (!info_valid(p->info))
        return STATUS_INVALID_DRIVER_INFO;
    int in_proc = p->size >= offsetof(struct kx_io_driver_params, n_host_libs) + sizeof(size_t) &&
                  p->host_exe && io->host_program;
    if (!p->entry && !in_proc)
        return STATUS_INVALID_DRIVER_ENTRY;
    const char *name = p->name ? p->name : p->info->name;
    char full[KX_IO_NAME_MAX];
    if (strchr(name, '\\') || strchr(name, '/') || strlen(name) >= KX_DRIVER_INFO_TEXT_MAX)
        return STATUS_OBJECT_NAME_INVALID;
    snprintf(full, sizeof full, "%s%s", IO_DRIVER_PREFIX, name);
    if (!kx__name_valid(full, IO_DRIVER_PREFIX))
        return STATUS_OBJECT_NAME_INVALID;

    struct io_driver *d = calloc(1, sizeof *d);
    if (!d)
        return STATUS_INSUFFICIENT_RESOURCES;
    memcpy(d->name, full, sizeof full);
    d->short_name = d->name + strlen(IO_DRIVER_PREFIX);
    d->info = *p->info;
    d->state = KX_IO_DRIVER_STARTING;
    atomic_init(&d->is_hung, 0);
    atomic_init(&d->accepting, 0);

    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&io->ns_lock);
    for (size_t i = 0; i < io->n_drivers; i++)
        if (strcmp(io->drivers[i]->name, full) == 0)
            st = STATUS_OBJECT_NAME_COLLISION;
    if (st == STATUS_SUCCESS)
        st = kx__ns_grow((void **)&io->drivers, &io->cap_drivers, io->n_drivers + 1,
                         sizeof(struct io_driver *));
    if (st != STATUS_SUCCESS) {
        pthread_mutex_unlock(&io->ns_lock);
        free(d);
        return st;
    }
    d->id = ++io->next_id;
    io->drivers[io->n_drivers++] = d;
    pthread_mutex_unlock(&io->ns_lock);

    struct io_irp *recs[2] = {NULL, NULL};
    struct kx_host *h = NULL;
    struct io_hostproc *hp = NULL;
    if ((st = kx__irp_alloc(io, recs, 2)) == STATUS_SUCCESS &&
        (st = in_proc ? kx__hostproc_new(io, d, p, &hp)
                      : kx__host_new(io, d->id, d->name, d->short_name, &d->info, &h)) !=
            STATUS_SUCCESS)
        kx__irp_discard(io, recs, 2);
    /* The watchdog reads d->host under the lock. */
    pthread_mutex_lock(&io->ns_lock);
    d->host = h;
    d->proc = hp;
    pthread_mutex_unlock(&io->ns_lock);
    if (st != STATUS_SUCCESS) {
        pthread_mutex_lock(&io->ns_lock);
        drop_driver(io, d);
        pthread_mutex_unlock(&io->ns_lock);
        return st;
    }
    struct io_irp *r = recs[0];
    d->stop_rec = recs[1];
    r->kind = K_INIT;
    r->u.entry = p->entry;
    int own_timeout = p->size >= offsetof(struct kx_io_driver_params, entry_timeout_ms) + 4 &&
                      p->entry_timeout_ms;
    uint32_t ms = lifecycle_ms(io, d, own_timeout ? p->entry_timeout_ms : io->entry_timeout_ms);
    size_t info = 0;
    st = kx__send_ctl(io, d, r, kx__deadline(io, ms, ms), &info);
    if (st == STATUS_TIMEOUT && hp)
        st = kx__hostproc_deadline(hp, "DriverEntry", ms);
    if (st == STATUS_SUCCESS) {
        pthread_mutex_lock(&io->ns_lock);
        d->state = KX_IO_DRIVER_RUNNING;
        d->has_unload = (int)(info & 1);
        atomic_store(&d->accepting, !atomic_load(&d->is_hung));
        pthread_mutex_unlock(&io->ns_lock);
        *out = d->id;
        return STATUS_SUCCESS;
    }

    /* Rollback: the manager owns it (AxisOS leaked the process, devices and links). */
    pthread_mutex_lock(&io->ns_lock);
    size_t n = kx__ns_remove_driver_objects(io, d, "DriverEntry failed");
    drop_driver(io, d);
    post_stop(io, d);
    if (st == STATUS_TIMEOUT)
        add_zombie(io, d->host);
    pthread_mutex_unlock(&io->ns_lock);
    if (st == STATUS_DRIVER_NOT_RESPONDING)
        kx__io_report(io, KX_LOG_ERROR, d->short_name,
                      "DriverEntry did not return within its deadline (%u ms): driver not "
                      "responding, its host process killed; %zu object(s) it created were deleted",
                      (unsigned)ms, n);
    else
        kx__io_report(io, KX_LOG_ERROR, d->short_name,
                      "DriverEntry %s %s; %zu object(s) it created were deleted",
                      st == STATUS_TIMEOUT ? "did not return within" : "failed:",
                      st == STATUS_TIMEOUT ? "its deadline" : kx_status_name(st), n);
    if (st != STATUS_TIMEOUT || d->proc)
        free_host(io, d);
    else
        d->host = NULL; /* a zombie now; joined by kx_io_free */
    if (st == STATUS_TIMEOUT || st == STATUS_SUCCESS)
        return st;
    return kx_status_is_known(st) && st != STATUS_PENDING ? st : STATUS_DRIVER_INIT_FAILED;
}

/* ---- unload --------------------------------------------------------------- */

static void answer_removed(struct kx_io *io, struct io_irp *r, void *arg)
{
    void **a = arg;
    size_t *n = a[1];
    if (atomic_load_explicit(&r->drv, memory_order_acquire) == a[0] && r->kind == K_IRP &&
        kx__irp_answer_if_first(io, r, STATUS_DEVICE_REMOVED, 0, NULL))
        (*n)++;
}

/* After the thread is gone: the driver can never complete what it held. */
static void release_held(struct kx_io *io, struct io_irp *r, void *arg)
{
    if (atomic_load_explicit(&r->drv, memory_order_acquire) != arg || r->kind != K_IRP)
        return;
    uint64_t w = atomic_fetch_or_explicit(&r->state, IRP_DRV_DONE, memory_order_acq_rel);
    if (!(w & IRP_DRV_DONE))
        kx__irp_unref(io, r, 1, NULL);
}

kx_status kx_io_driver_unload(struct kx_io *io, kx_io_driver_id id, unsigned flags)
{
    if (!io)
        return STATUS_INVALID_PARAMETER;
    int force = (flags & KX_IO_UNLOAD_FORCE) != 0;
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = kx__ns_driver_by_id(io, id);
    kx_status st = STATUS_SUCCESS;
    struct kx_io_handle_stat *hs = NULL;
    size_t nh = 0;
    if (!d)
        st = STATUS_INVALID_HANDLE;
    else if (d->state != KX_IO_DRIVER_RUNNING)
        st = STATUS_DEVICE_BUSY; /* starting or already unloading */
    else if (!force && kx__file_count(io, d, NULL, 0, 1))
        st = STATUS_DEVICE_BUSY;
    else if (!d->has_unload && !force)
        st = STATUS_INVALID_DEVICE_REQUEST;
    if (st != STATUS_SUCCESS) {
        pthread_mutex_unlock(&io->ns_lock);
        return st;
    }
    /* From here no open succeeds (kx_io_open checks the state under this
     * lock), so the snapshot holds every handle there will be. */
    d->state = KX_IO_DRIVER_UNLOADING;
    atomic_store(&d->accepting, 0);
    if ((st = kx__file_snapshot(io, d, 0, &hs, &nh)) != STATUS_SUCCESS) {
        d->state = KX_IO_DRIVER_RUNNING;
        atomic_store(&d->accepting, 1);
        pthread_mutex_unlock(&io->ns_lock);
        return st;
    }
    pthread_mutex_unlock(&io->ns_lock);

    /* What is left open is revoked: opens for no access (which never hold
     * a driver) always, every handle when forced. */
    for (size_t i = 0; i < nh; i++)
        kx__file_close(io, hs[i].handle, 1, 0);
    if (nh)
        kx__io_report(io, KX_LOG_WARN, d->short_name, "%s unload revoked %zu handle(s)",
                      force ? "forced" : "the", nh);
    free(hs);

    kx_status ust = STATUS_SUCCESS;
    if (d->has_unload) {
        struct io_irp *r;
        ust = kx__irp_alloc(io, &r, 1);
        if (ust == STATUS_SUCCESS) {
            r->kind = K_UNLOAD;
            uint32_t ms = lifecycle_ms(io, d, io->unload_timeout_ms);
            ust = kx__send_ctl(io, d, r, kx__deadline(io, ms, ms), NULL);
            if (ust == STATUS_TIMEOUT && d->proc)
                ust = kx__hostproc_deadline(d->proc, "DriverUnload", ms);
        }
    }

    pthread_mutex_lock(&io->ns_lock);
    kx__ns_remove_driver_objects(io, d, "left behind by DriverUnload");
    drop_driver(io, d);
    post_stop(io, d);
    if (ust == STATUS_TIMEOUT)
        add_zombie(io, d->host);
    pthread_mutex_unlock(&io->ns_lock);

    size_t n_held = 0;
    void *args[2] = {d, &n_held};
    kx__irp_foreach(io, answer_removed, args);
    if (n_held)
        kx__io_report(io, KX_LOG_WARN, d->short_name,
                      "%zu request(s) still pending at unload answered STATUS_DEVICE_REMOVED",
                      n_held);
    if (is_host_death(ust) && d->proc) {
        kx__io_report(io, KX_LOG_ERROR, d->short_name,
                      "DriverUnload %s; driver removed with its devices and links",
                      ust == STATUS_DRIVER_NOT_RESPONDING
                          ? "did not return within its deadline: driver not responding, its host "
                            "process killed"
                          : "did not return: its host process died");
        free_host(io, d);
        kx__irp_foreach(io, release_held, d);
        return ust;
    }
    if (ust == STATUS_TIMEOUT) {
        kx__io_report(io, KX_LOG_ERROR, d->short_name,
                      "DriverUnload did not return within its deadline; driver removed, its "
                      "thread abandoned");
        pthread_mutex_lock(&io->ns_lock);
        d->host = NULL; /* a zombie now; joined by kx_io_free */
        pthread_mutex_unlock(&io->ns_lock);
        return STATUS_TIMEOUT;
    }
    free_host(io, d);
    kx__irp_foreach(io, release_held, d);
    return STATUS_SUCCESS;
}

kx_status kx_io_driver_host(struct kx_io *io, kx_io_driver_id id, int32_t *pid,
                            uint64_t *address, uint64_t *size)
{
    *pid = 0;
    *address = *size = 0;
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = kx__ns_driver_by_id(io, id);
    if (d) {
        *pid = kx__hostproc_pid(d->proc);
        kx__hostproc_extent(d->proc, address, size);
    }
    pthread_mutex_unlock(&io->ns_lock);
    return d ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;
}

kx_status kx_io_driver_type(struct kx_io *io, kx_io_driver_id id, uint32_t *type)
{
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = kx__ns_driver_by_id(io, id);
    *type = d ? (uint32_t)d->info.type : 0;
    pthread_mutex_unlock(&io->ns_lock);
    return d ? STATUS_SUCCESS : STATUS_INVALID_HANDLE;
}

/* ---- a host process that died ------------------------------------------------ */

int kx__driver_host_died(struct kx_io *io, struct io_driver *d)
{
    struct kx_io_handle_stat *hs = NULL;
    size_t nh = 0;
    pthread_mutex_lock(&io->ns_lock);
    if (d->state != KX_IO_DRIVER_RUNNING) { /* a start or an unload owns it */
        pthread_mutex_unlock(&io->ns_lock);
        return 0;
    }
    d->state = KX_IO_DRIVER_UNLOADING;
    atomic_store(&d->accepting, 0);
    kx_status st = kx__file_snapshot(io, d, 0, &hs, &nh);
    pthread_mutex_unlock(&io->ns_lock);
    /* Their requests are answered by the dead host's sender; the handles go. */
    for (size_t i = 0; st == STATUS_SUCCESS && i < nh; i++)
        kx__file_close(io, hs[i].handle, 1, 0);
    free(hs);
    pthread_mutex_lock(&io->ns_lock);
    size_t n = kx__ns_remove_driver_objects(io, d, "its host process died");
    drop_driver(io, d);
    post_stop(io, d);
    pthread_mutex_unlock(&io->ns_lock);
    kx__io_report(io, KX_LOG_ERROR, d->short_name,
                  "driver removed: %zu handle(s) revoked, %zu object(s) deleted", nh, n);
    if (io->died_fn)
        io->died_fn(io->died_ctx, d->id);
    return 1;
}

/* ---- matches ---------------------------------------------------------------- */

/* prov with its strings, copied into r's system buffer: the host reads it
 * (and Probe writes its score into it) whenever it gets there, which may be
 * after the waiter gave up and its provider is gone. */
static kx_status provider_copy(struct kx_io *io, struct io_irp *r,
                               const struct kx_io_provider *prov)
{
    const char *s[5] = {prov->ioclass, prov->nub_class, prov->nub_name, prov->nub_location,
                        prov->personality};
    size_t n = sizeof *prov;
    for (size_t i = 0; i < 5; i++)
        n += s[i] ? strlen(s[i]) + 1 : 0;
    kx_status st = kx__irp_set_buffer(io, r, NULL, 0, n, 1);
    if (st != STATUS_SUCCESS)
        return st;
    struct kx_io_provider *c = r->buf;
    *c = *prov;
    const char **to[5] = {&c->ioclass, &c->nub_class, &c->nub_name, &c->nub_location,
                          &c->personality};
    char *at = (char *)(c + 1);
    for (size_t i = 0; i < 5; i++)
        if (s[i]) {
            size_t len = strlen(s[i]) + 1;
            memcpy(at, s[i], len);
            *to[i] = at;
            at += len;
        }
    r->u.provider = c;
    return STATUS_SUCCESS;
}

/* Sends a K_ADDDEV or K_REMOVEDEV record for prov to running driver drv. */
static kx_status send_match(struct kx_io *io, kx_io_driver_id drv, struct kx_io_provider *prov,
                            enum io_kind kind, uint32_t timeout_ms)
{
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = kx__ns_driver_by_id(io, drv);
    int ok = d && (d->state == KX_IO_DRIVER_RUNNING ||
                   (kind == K_REMOVEDEV && d->state == KX_IO_DRIVER_UNLOADING));
    pthread_mutex_unlock(&io->ns_lock);
    if (!ok)
        return STATUS_INVALID_HANDLE;
    struct io_irp *r;
    kx_status st = kx__irp_alloc(io, &r, 1);
    if (st != STATUS_SUCCESS)
        return st;
    r->kind = (uint8_t)kind;
    if ((st = provider_copy(io, r, prov)) != STATUS_SUCCESS) {
        kx__irp_discard(io, &r, 1);
        return st;
    }
    /* Driver records are retired, never freed: d outlives this call. */
    struct io_hostproc *hp = proc_of(io, d);
    uint32_t ms = lifecycle_ms(io, d, timeout_ms);
    atomic_fetch_add_explicit(&r->state, IRP_REF, memory_order_relaxed); /* to read the score */
    st = kx__send_ctl(io, d, r, kx__deadline(io, ms, ms), NULL);
    if (st == STATUS_SUCCESS && kind == K_ADDDEV)
        prov->score = r->u.provider->score;
    kx__irp_unref(io, r, 1, NULL);
    const char *routine = kind == K_ADDDEV ? "Probe or AddDevice" : "RemoveDevice";
    if (st == STATUS_TIMEOUT && hp)
        st = kx__hostproc_deadline(hp, routine, ms);
    return st;
}

kx_status kx_io_driver_add_device(struct kx_io *io, kx_io_driver_id drv,
                                  struct kx_io_provider *prov, uint32_t timeout_ms)
{
    if (!io || !prov || !prov->instance || !prov->ioclass || !prov->personality)
        return STATUS_INVALID_PARAMETER;
    kx_status st = send_match(io, drv, prov, K_ADDDEV, timeout_ms ? timeout_ms : io->entry_timeout_ms);
    if (st != STATUS_SUCCESS && st != STATUS_NO_SUCH_DEVICE)
        kx__io_report(io, KX_LOG_WARN, "kx", "AddDevice of %s for %s: %s", prov->ioclass,
                      prov->nub_name ? prov->nub_name : "?", kx_status_name(st));
    return st;
}

kx_status kx_io_driver_remove_instance(struct kx_io *io, kx_io_driver_id drv,
                                       const struct kx_io_provider *prov)
{
    if (!io || !prov || !prov->instance)
        return STATUS_INVALID_PARAMETER;
    /* No new opens, then every open handle of the instance is revoked: the
     * driver sees CLEANUP and CLOSE before RemoveDevice. */
    struct kx_io_handle_stat *hs = NULL;
    size_t nh = 0;
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = kx__ns_driver_by_id(io, drv);
    for (size_t i = 0; d && i < io->n_devices; i++)
        if (io->devices[i]->drv == d && io->devices[i]->instance == prov->instance)
            io->devices[i]->removing = 1;
    kx_status st = d ? kx__file_snapshot(io, d, prov->instance, &hs, &nh) : STATUS_INVALID_HANDLE;
    pthread_mutex_unlock(&io->ns_lock);
    if (st != STATUS_SUCCESS)
        return st;
    for (size_t i = 0; i < nh; i++)
        kx__file_close(io, hs[i].handle, 1, 0);
    if (nh)
        kx__io_report(io, KX_LOG_WARN, d->short_name, "%s on %s removed: revoked %zu handle(s)",
                      prov->ioclass, prov->nub_name ? prov->nub_name : "?", nh);
    free(hs);
    struct kx_io_provider copy = *prov; /* the host only reads it */
    return send_match(io, drv, &copy, K_REMOVEDEV, io->unload_timeout_ms);
}

void kx__driver_unload_all(struct kx_io *io)
{
    for (;;) {
        pthread_mutex_lock(&io->ns_lock);
        uint64_t id = io->n_drivers ? io->drivers[io->n_drivers - 1]->id : 0;
        pthread_mutex_unlock(&io->ns_lock);
        if (!id)
            return;
        kx_status st = kx_io_driver_unload(io, id, KX_IO_UNLOAD_FORCE);
        if (st == STATUS_DEVICE_BUSY) {
            /* Still starting (DriverEntry's verdict comes), or another thread
             * unloads it (a dead host's reader closing its files): wait until
             * that is done, since what follows frees what they use. */
            pthread_mutex_lock(&io->ns_lock);
            int busy = kx__ns_driver_by_id(io, id) != NULL;
            pthread_mutex_unlock(&io->ns_lock);
            if (busy)
                kx_plat_sleep_ns(1000000);
        }
    }
}

kx_status kx_io_driver_find(struct kx_io *io, const char *name, kx_io_driver_id *out)
{
    if (!io || !name || !out)
        return STATUS_INVALID_PARAMETER;
    *out = 0;
    size_t pl = strlen(IO_DRIVER_PREFIX);
    const char *shortn = strncmp(name, IO_DRIVER_PREFIX, pl) == 0 ? name + pl : name;
    pthread_mutex_lock(&io->ns_lock);
    for (size_t i = 0; i < io->n_drivers; i++)
        if (strcmp(io->drivers[i]->short_name, shortn) == 0)
            *out = io->drivers[i]->id;
    pthread_mutex_unlock(&io->ns_lock);
    return *out ? STATUS_SUCCESS : STATUS_NO_SUCH_FILE;
}

kx_status kx_io_list_drivers(struct kx_io *io, struct kx_io_driver_stat **out, size_t *n)
{
    if (!io || !out || !n)
        return STATUS_INVALID_PARAMETER;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&io->ns_lock);
    size_t count = io->n_drivers;
    struct kx_io_driver_stat *arr = count ? calloc(count, sizeof *arr) : NULL;
    for (size_t i = 0; arr && i < count; i++) {
        struct io_driver *d = io->drivers[i];
        arr[i].id = d->id;
        snprintf(arr[i].name, sizeof arr[i].name, "%s", d->name);
        snprintf(arr[i].version, sizeof arr[i].version, "%s", d->info.version);
        arr[i].state = (enum kx_io_driver_state)d->state;
        arr[i].is_hung = atomic_load(&d->is_hung);
        for (size_t k = 0; k < io->n_devices; k++)
            arr[i].n_devices +=
                io->devices[k]->drv == d && !atomic_load(&io->devices[k]->is_deleted);
        arr[i].n_handles = (uint32_t)kx__file_count(io, d, NULL, 0, 0);
        arr[i].host_pid = kx__hostproc_pid(d->proc);
        kx__hostproc_extent(d->proc, &arr[i].host_address, &arr[i].host_size);
    }
    pthread_mutex_unlock(&io->ns_lock);
    if (count && !arr)
        return STATUS_INSUFFICIENT_RESOURCES;
    *out = arr;
    *n = count;
    return STATUS_SUCCESS;
}

/* ---- kernel log messages from hosts ----------------------------------------- */

static void host_line(struct kx_io *io, uint64_t drv_id, const char *prefix, const char *text,
                      enum kx_log_level level)
{
    char src[64] = "?";
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = kx__ns_driver_by_id(io, drv_id);
    if (d)
        snprintf(src, sizeof src, "%s", d->short_name);
    pthread_mutex_unlock(&io->ns_lock);
    kx__klog_add(io, src, prefix, text);
    kx_log(&io->logger, level, "%s: %s%s", src, prefix, text);
}

void kx__chan_print(struct kx_io *io, uint64_t drv_id, const char *text)
{
    host_line(io, drv_id, "[DK] ", text, KX_LOG_DEBUG);
}

void kx__chan_report(struct kx_io *io, uint64_t drv_id, const char *text)
{
    host_line(io, drv_id, "[IO] ", text, KX_LOG_WARN);
}
