/* hostwatch.c — the watchdog's look at a kx-host process, and the deadlines
 * of the routines a start, a match or an unload waits for.
 *
 * A host is not responding when
 *   - work is outstanding and no dispatch ended for hang_ms (a routine
 *     stuck in driver code: kx__hostproc_watch), or
 *   - it is idle and its transport thread did not answer a ping within
 *     hang_ms (stopped, or wedged outside driver code: kx__hostproc_heartbeat;
 *     with work outstanding the first rule already covers it, and a ping
 *     then could wait behind a full socket), or
 *   - DriverEntry, Probe/AddDevice, RemoveDevice or DriverUnload did not
 *     return by its deadline (kx__hostproc_deadline).
 * Each kills the process; its reader then answers everything it held
 * STATUS_DRIVER_NOT_RESPONDING and the driver is torn down as for a crash.
 */
#include "hostproc_int.h"

#include "core/plat.h"
#include "core/plat_proc.h"
#include "core/plat_sync.h"
#include "host_proto.h"

#include <stdio.h>

/* Names the seq-th send: "IRP_MJ_DEVICE_CONTROL (control code 0x222004)". */
static void describe(struct io_hostproc *hp, uint64_t seq, char *out, size_t len)
{
    uint64_t what = atomic_load_explicit(&hp->sent[seq % SENT_RING], memory_order_relaxed);
    if (atomic_load_explicit(&hp->n_sent, memory_order_acquire) - seq > SENT_RING) {
        snprintf(out, len, "a routine");
        return;
    }
    switch ((enum io_kind)(what >> 40)) {
    case K_IRP:
        if ((uint8_t)(what >> 32) == IRP_MJ_DEVICE_CONTROL)
            snprintf(out, len, "%s (control code 0x%x)", kx__major_name((uint8_t)(what >> 32)),
                     (unsigned)(uint32_t)what);
        else
            snprintf(out, len, "%s", kx__major_name((uint8_t)(what >> 32)));
        break;
    case K_INIT: snprintf(out, len, "DriverEntry"); break;
    case K_UNLOAD: snprintf(out, len, "DriverUnload"); break;
    case K_ADDDEV: snprintf(out, len, "Probe or AddDevice"); break;
    case K_REMOVEDEV: snprintf(out, len, "RemoveDevice"); break;
    case K_CANCEL: snprintf(out, len, "a cancel routine"); break;
    default: snprintf(out, len, "a routine"); break;
    }
}

int kx__hostproc_running(struct io_hostproc *hp, char *out, size_t len)
{
    uint64_t ended = atomic_load_explicit(&hp->n_ended, memory_order_acquire);
    if (atomic_load_explicit(&hp->n_sent, memory_order_acquire) == ended)
        return 0;
    describe(hp, ended, out, len);
    return 1;
}

/* A host writing a sanitizer's report: not killed as hung for this long. */
#define REPORT_GRACE_NS (30ull * 1000000000u)

static int reporting(struct io_hostproc *hp)
{
    uint64_t since = atomic_load(&hp->report_ns);
    return since && kx_plat_monotonic_ns() - since < REPORT_GRACE_NS;
}

int kx__hostproc_kill_locked(struct io_hostproc *hp, const char *why)
{
    if (hp->reaped || hp->dead || atomic_load(&hp->hung) || reporting(hp))
        return 0;
    snprintf(hp->hung_what, sizeof hp->hung_what, "%s", why);
    atomic_store(&hp->hung, 1);
    kx_plat_child_kill(hp->pid); /* its reader sees the hang-up and cleans up */
    return 1;
}

static uint64_t ms_since(uint64_t now, uint64_t since)
{
    uint64_t ms = (now - since) / 1000000u;
    return ms ? ms : 1;
}

uint64_t kx__hostproc_watch(struct io_hostproc *hp, uint64_t now, uint64_t hang_ns, char *what,
                            size_t what_len)
{
    uint64_t ended = atomic_load_explicit(&hp->n_ended, memory_order_relaxed);
    uint64_t sent = atomic_load_explicit(&hp->n_sent, memory_order_acquire);
    if (atomic_load(&hp->hung))
        return 0;
    if (sent == ended || ended != hp->wd_ended || !hp->wd_since_ns) {
        /* Idle or moving: a stall is counted from the first tick that saw it. */
        hp->wd_ended = ended;
        hp->wd_since_ns = sent == ended ? 0 : now;
        return 0;
    }
    if (now - hp->wd_since_ns < hang_ns)
        return 0;
    /* trylock: the sender may hold this lock while it answers records, which
     * can take ns_lock; the next tick tries again. */
    if (pthread_mutex_trylock(&hp->lock) != 0)
        return 0;
    uint64_t ms = ms_since(now, hp->wd_since_ns);
    char routine[100], why[160];
    describe(hp, ended, routine, sizeof routine);
    snprintf(why, sizeof why, "%s did not return", routine);
    if (kx__hostproc_kill_locked(hp, why))
        snprintf(what, what_len, "%s has not returned after %llu ms", routine,
                 (unsigned long long)ms);
    else
        ms = 0;
    pthread_mutex_unlock(&hp->lock);
    return ms;
}

uint64_t kx__hostproc_heartbeat(struct io_hostproc *hp, uint64_t now, uint64_t hang_ns, char *what,
                                size_t what_len)
{
    if (atomic_load(&hp->hung) || pthread_mutex_trylock(&hp->lock) != 0)
        return 0;
    uint64_t ms = 0;
    int idle = atomic_load_explicit(&hp->n_sent, memory_order_acquire) ==
               atomic_load_explicit(&hp->n_ended, memory_order_relaxed);
    if (hp->dead || hp->reaped || !hp->x) {
    } else if (hp->pings > atomic_load_explicit(&hp->pongs, memory_order_acquire)) {
        if (now - hp->ping_ns >= hang_ns) {
            ms = ms_since(now, hp->ping_ns);
            char why[160];
            snprintf(why, sizeof why, "its transport thread missed a heartbeat (%llu ms)",
                     (unsigned long long)ms);
            if (kx__hostproc_kill_locked(hp, why))
                snprintf(what, what_len, "kx-host (pid %d) did not answer a heartbeat for %llu ms",
                         (int)hp->pid, (unsigned long long)ms);
            else
                ms = 0;
        }
    } else if (idle && now - hp->ping_ns >= hang_ns) {
        hp->ping_ns = now;
        struct kx_xout o = {{HX_PING, 0, 0, ++hp->pings, 0, 0, 0}, NULL, 0, NULL, 0};
        kx_xport_send(hp->x, &o, 1); /* a dead host: its reader reports that */
    }
    pthread_mutex_unlock(&hp->lock);
    return ms;
}

kx_status kx__hostproc_deadline(struct io_hostproc *hp, const char *routine, uint32_t ms)
{
    char why[160];
    snprintf(why, sizeof why, "%s did not return within its deadline (%u ms)", routine,
             (unsigned)ms);
    pthread_mutex_lock(&hp->lock);
    while (!hp->dead && !hp->reaped && reporting(hp)) { /* let the crash finish: its status */
        pthread_mutex_unlock(&hp->lock);
        kx_plat_sleep_ns(10000000u);
        pthread_mutex_lock(&hp->lock);
    }
    kx__hostproc_kill_locked(hp, why);
    pthread_mutex_unlock(&hp->lock);
    return atomic_load(&hp->hung) ? STATUS_DRIVER_NOT_RESPONDING : STATUS_DRIVER_PROCESS_TERMINATED;
}
