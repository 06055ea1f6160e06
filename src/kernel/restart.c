/* restart.c — a driver whose kx-host process died (crashed, exited, or was
 * killed by the watchdog) is started again, as its kext's restart policy says.
 *
 * The policy is two Info.plist keys: KXRestartLimit (restarts allowed within
 * the window, default 3, 0: never restart, at most KX_RESTART_LIMIT_MAX) and
 * KXRestartInterval (the window in seconds, default 60). A death inside the
 * limit schedules a restart after a back-off that doubles with each restart
 * still in the window (100 ms, 200 ms, 400 ms, ...); one past it leaves the
 * kext loaded without a driver, stopped, until it is unloaded (kextstat's
 * Host column and `kx stat --json` say why).
 *
 * The death is heard on the dead host's reader thread (kx_io_died_fn), which
 * must not wait for op_lock: it only decides and queues. The restart itself
 * runs on the matching thread under op_lock (kx__kernel_restart), starts the
 * driver as the load did (same executable, libraries and driver-info
 * record), and then the runtime matches every nub again, so the driver gets
 * back the nubs its instances had and recreates their devices. Clients open
 * the devices again.
 */
#include "kernel_int.h"

#include "core/plat.h"

#include <plist/plist.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_LIMIT    3
#define DEFAULT_WINDOW_S 60
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   10000

static uint32_t int_key(const struct kx_kext *x, const char *key, uint32_t dflt, uint32_t max)
{
    plist_t v = plist_dict_get_item(kx_kext_info(x), key);
    uint64_t n = dflt;
    if (v && plist_get_node_type(v) == PLIST_UINT)
        plist_get_uint_val(v, &n);
    return n > max ? max : (uint32_t)n;
}

void kx__kernel_restart_policy(struct kx_loaded *l)
{
    l->restart_limit = int_key(l->kext, "KXRestartLimit", DEFAULT_LIMIT, KX_RESTART_LIMIT_MAX);
    l->restart_window_s = int_key(l->kext, "KXRestartInterval", DEFAULT_WINDOW_S, 86400);
    if (!l->restart_window_s)
        l->restart_window_s = 1;
}

/* l's driver is gone: schedules a restart (returns its delay in ms) or
 * marks l stopped (returns 0). Caller holds state_lock. */
static uint64_t decide(struct kx_loaded *l, uint64_t now)
{
    uint64_t window = (uint64_t)l->restart_window_s * 1000000000u;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < l->n_restart_at; i++)
        if (now - l->restart_at[i] < window)
            l->restart_at[kept++] = l->restart_at[i];
    l->n_restart_at = kept;
    if (kept < l->restart_limit) {
        uint64_t ms = (uint64_t)BACKOFF_FIRST_MS << kept;
        l->restart_at[l->n_restart_at++] = now;
        l->restarts++;
        l->host_state = KX_KERNEL_HOST_RESTARTING;
        l->host_note[0] = 0;
        return ms > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms;
    }
    l->host_state = KX_KERNEL_HOST_STOPPED;
    if (l->restart_limit)
        snprintf(l->host_note, sizeof l->host_note,
                 "died %u times in %u s (KXRestartLimit %u, KXRestartInterval %u)", kept + 1,
                 (unsigned)l->restart_window_s, (unsigned)l->restart_limit,
                 (unsigned)l->restart_window_s);
    else
        snprintf(l->host_note, sizeof l->host_note, "died; KXRestartLimit 0");
    return 0;
}

/* Applies the policy to l after its driver went, says so, and queues the
 * restart. */
static void after_death(struct kx_kernel *k, const char *id, uint64_t delay_ms, uint32_t nth,
                        uint32_t limit, uint32_t window_s, const char *note)
{
    if (delay_ms) {
        kx__kernel_note(
            k, "%s: its driver host died; restarting it in %llu ms (restart %u of %u in %u s)", id,
            (unsigned long long)delay_ms, (unsigned)nth, (unsigned)limit, (unsigned)window_s);
        kx__runtime_schedule_restart(k, id, kx_plat_monotonic_ns() + delay_ms * 1000000u);
    } else {
        kx__kernel_warn(k,
                        "%s: its driver host %s; left stopped without a driver (kextunload it, "
                        "then load it again)",
                        id, note);
    }
}

void kx__kernel_driver_died(void *ctx, kx_io_driver_id drv)
{
    struct kx_kernel *k = ctx;
    char id[256] = "", note[160] = "";
    uint64_t delay = 0;
    uint32_t nth = 0, limit = 0, window = 0;
    pthread_mutex_lock(&k->state_lock);
    for (struct kx_loaded *l = k->loaded; l; l = l->next)
        if (l->driver == drv && l->host_state == KX_KERNEL_HOST_RUNNING) {
            snprintf(id, sizeof id, "%s", kx_kext_id(l->kext));
            if (l->host_pid > 0)
                l->host_pid = -l->host_pid; /* kextstat: the host died */
            delay = decide(l, kx_plat_monotonic_ns());
            nth = l->n_restart_at;
            limit = l->restart_limit;
            window = l->restart_window_s;
            snprintf(note, sizeof note, "%s", l->host_note);
        }
    pthread_mutex_unlock(&k->state_lock);
    kx__runtime_driver_gone(k, drv);
    if (!id[0])
        return;
    kx__runtime_remove_instances(k, id, NULL);
    after_death(k, id, delay, nth, limit, window, note);
}

int kx__kernel_restart(struct kx_kernel *k, const char *kext_id)
{
    struct kx_loaded *l = kx__kernel_find_loaded(k, kext_id);
    pthread_mutex_lock(&k->state_lock);
    int due = l && l->host_state == KX_KERNEL_HOST_RESTARTING;
    pthread_mutex_unlock(&k->state_lock);
    if (!due)
        return 0; /* unloaded (or loaded again) meanwhile */
    const char *exe = kx__kernel_exec_path(k, l->kext);
    const char *libs[64];
    size_t n_libs = kx__kernel_host_libraries(k, l, libs, 0, 64);
    struct kx_io_driver_params params = {
        sizeof params, &l->info, NULL, NULL, 0, exe, libs, n_libs, kx__kernel_wants_root(l->kext)};
    kx_io_driver_id drv = 0;
    kx_status st = exe ? kx_io_driver_start(k->io, &params, &drv) : STATUS_KEXT_NOT_FOUND;
    if (st == STATUS_SUCCESS) {
        /* Running from here on: a death from now is heard by
         * kx__kernel_driver_died, which looks for this driver. */
        pthread_mutex_lock(&k->state_lock);
        l->driver = drv;
        l->host_state = KX_KERNEL_HOST_RUNNING;
        l->host_pid = 0;
        pthread_mutex_unlock(&k->state_lock);
        int32_t pid = 0;
        uint64_t address = 0, size = 0;
        if (kx_io_driver_host(k->io, drv, &pid, &address, &size) != STATUS_SUCCESS) {
            kx__kernel_driver_died(k, drv); /* gone before it was ours to hear */
            return 0;
        }
        pthread_mutex_lock(&k->state_lock);
        if (l->driver == drv && l->host_state == KX_KERNEL_HOST_RUNNING) {
            l->host_pid = pid;
            l->address = address;
            l->size = size;
        }
        uint32_t nth = l->n_restart_at, limit = l->restart_limit, window = l->restart_window_s;
        pthread_mutex_unlock(&k->state_lock);
        kx__kernel_note(k, "%s: restarted (kx-host pid %d; restart %u of %u in %u s)", kext_id,
                        (int)pid, (unsigned)nth, (unsigned)limit, (unsigned)window);
        return 1;
    }
    /* A start that fails counts as another death. */
    kx__kernel_warn(k, "%s: restart failed: %s (%s)", kext_id, kx_status_name(st),
                    kx_status_string(st));
    char note[160];
    pthread_mutex_lock(&k->state_lock);
    uint64_t delay = decide(l, kx_plat_monotonic_ns());
    uint32_t nth = l->n_restart_at, limit = l->restart_limit, window = l->restart_window_s;
    snprintf(note, sizeof note, "%s", l->host_note);
    pthread_mutex_unlock(&k->state_lock);
    after_death(k, kext_id, delay, nth, limit, window, note);
    return 0;
}
