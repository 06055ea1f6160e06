/* fault_set.c — fault injection in the manager: the rules kx_io_fault_set
 * attaches to devices and drivers, and the pick that marks an IRP's dispatch
 * message with the fault its host must carry out (kx/fault.h, host.h).
 *
 * The manager counts and decides; the host acts. Deciding here keeps one
 * counter per rule however many hosts a driver's devices live in, and lets the
 * pick happen where the IRP is numbered (submission order), so `irp=2` is the
 * second request the requester made. Acting in the host means a crash really
 * kills a kx-host process and the real containment answers the IRP.
 *
 * Rules are looked at only when some exist (n_faults); matching is by the
 * device's canonical name or the driver's id, both fixed for the object's
 * life, so a pick needs no namespace lock.
 */
#include "io_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct io_fault {
    struct kx_fault_rule r;
    uint64_t drv_id;          /* a kext's rule: every device of this driver */
    char dev[KX_IO_NAME_MAX]; /* a device's rule: its canonical name */
};

/* Actions that end or stop the host: kxd itself must never run them. */
static int fatal(enum kx_fault_action a)
{
    return a == KX_FAULT_CRASH || a == KX_FAULT_ABORT || a == KX_FAULT_EXIT || a == KX_FAULT_HANG ||
           a == KX_FAULT_CORRUPT_TRANSPORT;
}

static void say(char *why, size_t why_len, const char *fmt, const char *a, const char *b,
                const char *c)
{
    if (why && why_len)
        snprintf(why, why_len, fmt, a, b, c);
}

kx_status kx_io_fault_set(struct kx_io *io, const struct kx_fault_rule *rule, kx_io_driver_id drv,
                          char *why, size_t why_len)
{
    if (!io || !rule || !rule->target[0] || !memchr(rule->target, 0, sizeof rule->target) ||
        rule->action <= KX_FAULT_NONE || rule->action > KX_FAULT_CORRUPT_TRANSPORT) {
        say(why, why_len, "%s%s%s", rule ? rule->target : "", ": not a fault rule", "");
        return STATUS_INVALID_PARAMETER;
    }
    struct io_fault f;
    memset(&f, 0, sizeof f);
    f.r = *rule;
    f.r.seen = f.r.fired = 0;
    f.r.rng = f.r.seed;
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&io->ns_lock);
    struct io_driver *d = NULL;
    if (drv) {
        d = kx__ns_driver_by_id(io, drv);
        if (!d || (d->state != KX_IO_DRIVER_RUNNING && d->state != KX_IO_DRIVER_STARTING)) {
            say(why, why_len, "%s: kx fault: its driver is not running%s%s", rule->target, "", "");
            st = STATUS_INVALID_HANDLE;
            d = NULL;
        }
        f.drv_id = drv;
    } else {
        struct io_device *dv = kx__ns_resolve(io, rule->target, &st);
        if (!dv)
            say(why, why_len,
                "%s: kx fault: %s (give a device's link, its \\Device\\ name or a "
                "kext's bundle identifier)%s",
                rule->target, kx_status_string(st), "");
        else if (!(d = dv->drv)) {
            say(why, why_len, "%s: kx fault: its driver is gone%s%s", rule->target, "", "");
            st = STATUS_DEVICE_REMOVED;
        } else
            snprintf(f.dev, sizeof f.dev, "%s", dv->name);
    }
    if (d && fatal(rule->action) && !d->proc) {
        /* Carried out in kxd, it would take every driver and client with it. */
        say(why, why_len,
            "%s: kx fault: action=%s needs a driver in a kx-host process, and %s runs in kxd "
            "(start kxd with --host-mode process; in kxd only fail, delay and never-complete)",
            rule->target, kx_fault_action_name(rule->action), d->name);
        st = STATUS_NOT_SUPPORTED;
    }
    pthread_mutex_unlock(&io->ns_lock);
    if (st != STATUS_SUCCESS)
        return st;

    pthread_mutex_lock(&io->fault_lock);
    size_t i = 0;
    while (i < io->n_faults && strcmp(io->faults[i].r.target, f.r.target) != 0)
        i++;
    if (i == io->n_faults &&
        kx__ns_grow((void **)&io->faults, &io->cap_faults, i + 1, sizeof f) != STATUS_SUCCESS)
        st = STATUS_INSUFFICIENT_RESOURCES;
    else {
        io->faults[i] = f; /* a new rule for a target replaces the old one */
        if (i == io->n_faults)
            io->n_faults++;
    }
    pthread_mutex_unlock(&io->fault_lock);
    if (st != STATUS_SUCCESS)
        say(why, why_len, "%s: kx fault: %s%s", rule->target, kx_status_string(st), "");
    return st;
}

kx_status kx_io_fault_clear(struct kx_io *io, const char *target, size_t *n)
{
    if (n)
        *n = 0;
    if (!io)
        return STATUS_INVALID_PARAMETER;
    size_t gone = 0;
    pthread_mutex_lock(&io->fault_lock);
    size_t keep = 0;
    for (size_t i = 0; i < io->n_faults; i++) {
        if (!target || strcmp(io->faults[i].r.target, target) == 0)
            gone++;
        else
            io->faults[keep++] = io->faults[i];
    }
    io->n_faults = keep;
    pthread_mutex_unlock(&io->fault_lock);
    if (n)
        *n = gone;
    return target && !gone ? STATUS_OBJECT_NAME_NOT_FOUND : STATUS_SUCCESS;
}

kx_status kx_io_fault_list(struct kx_io *io, struct kx_fault_rule **out, size_t *n)
{
    if (!io || !out || !n)
        return STATUS_INVALID_PARAMETER;
    *out = NULL;
    *n = 0;
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&io->fault_lock);
    if (io->n_faults && !(*out = calloc(io->n_faults, sizeof **out)))
        st = STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; *out && i < io->n_faults; i++)
        (*out)[i] = io->faults[i].r;
    if (*out)
        *n = io->n_faults;
    pthread_mutex_unlock(&io->fault_lock);
    return st;
}

void kx__fault_pick(struct kx_io *io, const struct io_device *dv, const struct io_driver *d,
                    struct io_msg_irp *m)
{
    char rule[200] = "";
    uint64_t nth = 0;
    pthread_mutex_lock(&io->fault_lock);
    for (size_t i = 0; i < io->n_faults; i++) {
        struct io_fault *f = &io->faults[i];
        if (f->drv_id ? f->drv_id != d->id : strcmp(f->dev, dv->name) != 0)
            continue;
        enum kx_fault_action a = kx_fault_hit(&f->r, m->major);
        /* Every rule counts the IRP; the first that hits acts. fatal() in
         * kxd was refused when the rule was set; this only guards a device
         * name that a driver in kxd took over since. */
        if (a == KX_FAULT_NONE || m->fault || (fatal(a) && !d->proc))
            continue;
        m->fault = (uint8_t)a;
        m->fault_arg = a == KX_FAULT_FAIL    ? (uint32_t)f->r.status
                       : a == KX_FAULT_DELAY ? f->r.delay_ms
                                             : 0;
        nth = f->r.seen;
        snprintf(rule, sizeof rule, "%s", f->r.target);
    }
    pthread_mutex_unlock(&io->fault_lock);
    if (!m->fault)
        return;
    char act[80];
    if (m->fault == KX_FAULT_FAIL)
        snprintf(act, sizeof act, "fail:%s", kx_status_name((kx_status)m->fault_arg));
    else if (m->fault == KX_FAULT_DELAY)
        snprintf(act, sizeof act, "delay:%u", m->fault_arg);
    else
        snprintf(act, sizeof act, "%s", kx_fault_action_name((enum kx_fault_action)m->fault));
    kx__io_report(io, KX_LOG_WARN, d->short_name,
                  "fault injected: action=%s for %s IRP %llu to %s (the rule for %s)", act,
                  kx__major_name(m->major), (unsigned long long)nth, dv->name, rule);
}
