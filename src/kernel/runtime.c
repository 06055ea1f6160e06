/* runtime.c — the kernel's matching runtime: the I/O Registry, the IOCatalogue
 * of every known kext's personalities, and the thread that turns matches into
 * loaded kexts and driver instances (kextd's demand loading and IOService's
 * start, in one place).
 *
 * Work arrives as items on a queue — match a nub, match every nub, terminate
 * a nub — from kxd, from kextload, and from drivers (DkPublishNub,
 * DkPublishResource, DkTerminateNub). One thread ("kx-match") does them in
 * order, holding op_lock for each, because a match may load kexts and call
 * drivers. Drivers never wait for it: their registry calls (reg_request, on
 * their own dispatch thread) only read or write the registry and queue work,
 * so a driver that publishes a nub its own AddDevice would take cannot
 * deadlock with the runtime waiting for it.
 *
 * Matching a nub (IOService::probeCandidates): the catalogue's decision
 * (kx_match_nub) gives the candidates in order and the first of each
 * category; merges go into the nub; each chosen candidate's code bundle is
 * loaded if needed, an instance entry (class IOClass, the personality's
 * properties, a client of the nub) is published, and the driver's Probe and
 * AddDevice run. A candidate that can't load, declines or fails is declined
 * and the next one of its category gets its turn.
 *
 * A driver whose kx-host process died is started again when its restart
 * policy allows (restart.c): the restart waits its back-off on the `later`
 * list, then runs as an item like any other, and every nub is matched again
 * so the restarted driver gets back the nubs its instances had.
 *
 * Instances are the kernel's record of who drives what: the entry, its nub,
 * the kext and the driver. Terminating an entry (kx_reg_terminate) reports
 * every entry it takes with it, clients first; for an instance the driver's
 * RemoveDevice runs and the instance's handles are revoked.
 *
 * Locks: rt->lock guards the queue, instances and published nubs; it is a
 * leaf, never held while calling the registry's writers or a driver. The
 * runtime thread holds op_lock around each item; nothing else here takes it.
 */
#include "kernel_int.h"

#include "core/plat.h"
#include "core/plat_poll.h"
#include "core/plat_sync.h"

#include <kx/platform.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum work_kind { W_MATCH, W_MATCH_ALL, W_TERMINATE, W_HOTPLUG, W_UDEV, W_RESTART };

struct work {
    struct work *next;
    enum work_kind kind;
    kx_reg_id nub;
    char *action, *devpath; /* W_HOTPLUG; W_RESTART: action is the kext's id */
    uint64_t due_ns;        /* W_RESTART: not before (monotonic) */
};

struct instance {
    struct instance *next;
    kx_reg_id id, nub;
    kx_io_driver_id driver; /* 0: the kext has no driver */
    char *kext, *ioclass, *personality, *nub_class, *nub_name, *nub_location;
};

/* A nub a driver published: only that driver may change or terminate it. */
struct published {
    struct published *next;
    kx_reg_id id;
    kx_io_driver_id driver;
};

struct kx_runtime {
    struct kx_kernel *k;
    struct kx_classes *classes;
    struct kx_reg *reg;
    struct kx_catalog *cat;
    pthread_mutex_t lock; /* guards what follows */
    pthread_cond_t cond;  /* work arrived, or the queue went idle */
    struct work *head, *tail;
    struct work *later; /* W_RESTART items waiting for their due time */
    int busy, stop;
    struct instance *instances;
    struct published *published;
    struct kx_components *comp; /* hardware proxies (component.c) */
    pthread_t thread;
    int started;
    /* The Linux platform: its sysfs root, and udev's monitor with the thread
     * that turns its input into W_UDEV items. */
    char *sysfs_root;
    struct kx_platform_udev *udev;
    pthread_t udev_thread;
    int udev_started, udev_queued; /* udev_queued: a W_UDEV is waiting (lock) */
};

struct kx_reg *kx_kernel_registry(struct kx_kernel *k)
{
    return k->rt->reg;
}
struct kx_catalog *kx_kernel_catalog(struct kx_kernel *k)
{
    return k->rt->cat;
}

/* ---- the queue ------------------------------------------------------------ */

static void work_free(struct work *w)
{
    free(w->action);
    free(w->devpath);
    free(w);
}

static void push(struct kx_runtime *rt, struct work *w)
{
    pthread_mutex_lock(&rt->lock);
    if (rt->tail)
        rt->tail->next = w;
    else
        rt->head = w;
    rt->tail = w;
    pthread_cond_broadcast(&rt->cond);
    pthread_mutex_unlock(&rt->lock);
}

static void queue(struct kx_runtime *rt, enum work_kind kind, kx_reg_id nub)
{
    struct work *w = calloc(1, sizeof *w);
    if (!w) {
        kx_log_error(&rt->k->log, "matching: out of memory; a nub was not queued");
        return;
    }
    w->kind = kind;
    w->nub = nub;
    push(rt, w);
}

void kx__runtime_schedule_restart(struct kx_kernel *k, const char *kext_id, uint64_t due_ns)
{
    struct kx_runtime *rt = k->rt;
    struct work *w = calloc(1, sizeof *w);
    if (w && !(w->action = strdup(kext_id))) {
        free(w);
        w = NULL;
    }
    if (!w) {
        kx__kernel_warn(k, "%s: out of memory; its driver is not restarted", kext_id);
        return;
    }
    w->kind = W_RESTART;
    w->due_ns = due_ns;
    pthread_mutex_lock(&rt->lock);
    w->next = rt->later;
    rt->later = w;
    pthread_cond_broadcast(&rt->cond);
    pthread_mutex_unlock(&rt->lock);
}

/* Moves restarts that are due onto the queue; returns when the next one is
 * due (UINT64_MAX: none). Caller holds rt->lock. */
static uint64_t promote_due(struct kx_runtime *rt)
{
    uint64_t now = kx_plat_monotonic_ns(), next = UINT64_MAX;
    for (struct work **pp = &rt->later; *pp;) {
        struct work *w = *pp;
        if (w->due_ns > now) {
            next = w->due_ns < next ? w->due_ns : next;
            pp = &w->next;
            continue;
        }
        *pp = w->next;
        w->next = NULL;
        if (rt->tail)
            rt->tail->next = w;
        else
            rt->head = w;
        rt->tail = w;
    }
    return next;
}

/* Waits on rt->cond until the monotonic time `until` at the latest. */
static void wait_until(struct kx_runtime *rt, uint64_t until)
{
    uint64_t now = kx_plat_monotonic_ns();
    if (until <= now)
        return;
    uint64_t left = until - now;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(left / 1000000000u);
    ts.tv_nsec += (long)(left % 1000000000u);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&rt->cond, &rt->lock, &ts);
}

void kx_kernel_match_all(struct kx_kernel *k)
{
    queue(k->rt, W_MATCH_ALL, 0);
}

void kx_kernel_match_wait(struct kx_kernel *k)
{
    struct kx_runtime *rt = k->rt;
    pthread_mutex_lock(&rt->lock);
    while ((rt->head || rt->busy) && rt->started && !rt->stop)
        pthread_cond_wait(&rt->cond, &rt->lock);
    pthread_mutex_unlock(&rt->lock);
}

kx_status kx_kernel_terminate_nub(struct kx_kernel *k, kx_reg_id nub)
{
    struct kx_reg_info info;
    kx_status st = kx_reg_info(k->rt->reg, nub, &info);
    if (st != STATUS_SUCCESS)
        return st;
    if (nub == kx_reg_root(k->rt->reg) || nub == kx_reg_platform(k->rt->reg) ||
        nub == kx_reg_resources(k->rt->reg))
        return STATUS_ACCESS_DENIED;
    queue(k->rt, W_TERMINATE, nub);
    kx_kernel_match_wait(k);
    return STATUS_SUCCESS;
}

/* ---- instances ------------------------------------------------------------ */

static void instance_free(struct instance *in)
{
    free(in->kext);
    free(in->ioclass);
    free(in->personality);
    free(in->nub_class);
    free(in->nub_name);
    free(in->nub_location);
    free(in);
}

static struct kx_io_provider provider_of(const struct instance *in)
{
    struct kx_io_provider p = {in->nub,       in->id,       in->ioclass,      in->personality,
                               in->nub_class, in->nub_name, in->nub_location, 0};
    return p;
}

/* provider_of(in) with strings of its own in *mem (freed by the caller): a
 * host that dies during AddDevice has in freed on its reader's thread. */
static kx_status provider_copy(const struct instance *in, struct kx_io_provider *p, char **mem)
{
    *p = provider_of(in);
    const char **s[5] = {&p->ioclass, &p->personality, &p->nub_class, &p->nub_name,
                         &p->nub_location};
    size_t n = 0;
    for (size_t i = 0; i < 5; i++)
        n += strlen(*s[i]) + 1;
    char *at = *mem = malloc(n);
    if (!at)
        return STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < 5; i++) {
        size_t len = strlen(*s[i]) + 1;
        memcpy(at, *s[i], len);
        *s[i] = at;
        at += len;
    }
    return STATUS_SUCCESS;
}

/* kx_reg_terminate's callback: each entry it took, clients first. */
static void on_terminated(void *ctx, kx_reg_id id)
{
    struct kx_runtime *rt = ctx;
    pthread_mutex_lock(&rt->lock);
    struct instance *in = NULL;
    for (struct instance **pp = &rt->instances; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id) {
            in = *pp;
            *pp = in->next;
            break;
        }
    for (struct published **pp = &rt->published; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id) {
            struct published *p = *pp;
            *pp = p->next;
            free(p);
            break;
        }
    pthread_mutex_unlock(&rt->lock);
    if (!in)
        return;
    if (in->driver) {
        struct kx_io_provider p = provider_of(in);
        kx_io_driver_remove_instance(rt->k->io, in->driver, &p);
    }
    kx__kernel_note(rt->k, "%s (%s) stopped driving %s", in->kext, in->ioclass, in->nub_name);
    instance_free(in);
}

static int instance_is(const struct instance *in, const char *kext_id, const char *ioclass)
{
    return (!kext_id || strcmp(in->kext, kext_id) == 0) &&
           (!ioclass || strcmp(in->ioclass, ioclass) == 0);
}

void kx__runtime_remove_instances(struct kx_kernel *k, const char *kext_id, const char *ioclass)
{
    struct kx_runtime *rt = k->rt;
    for (;;) {
        kx_reg_id id = 0;
        pthread_mutex_lock(&rt->lock);
        for (struct instance *in = rt->instances; in && !id; in = in->next)
            if (instance_is(in, kext_id, ioclass))
                id = in->id;
        pthread_mutex_unlock(&rt->lock);
        if (!id)
            return;
        if (kx_reg_terminate(rt->reg, id, on_terminated, rt) != STATUS_SUCCESS)
            on_terminated(rt, id); /* already gone from the tree: drop the record */
    }
}

size_t kx__runtime_instance_count(struct kx_kernel *k, const char *kext_id, const char *ioclass)
{
    size_t n = 0;
    pthread_mutex_lock(&k->rt->lock);
    for (struct instance *in = k->rt->instances; in; in = in->next)
        n += instance_is(in, kext_id, ioclass);
    pthread_mutex_unlock(&k->rt->lock);
    return n;
}

size_t kx__runtime_instance_holders(struct kx_kernel *k, const char *kext_id, const char *ioclass)
{
    size_t n = 0;
    pthread_mutex_lock(&k->rt->lock);
    for (struct instance *in = k->rt->instances; in; in = in->next)
        if (instance_is(in, kext_id, ioclass))
            n += kx_io_instance_handles(k->io, in->id);
    pthread_mutex_unlock(&k->rt->lock);
    return n;
}

/* ---- the catalogue ------------------------------------------------------- */

void kx__runtime_catalog_add(struct kx_kernel *k, struct kx_kext *x)
{
    if (!kx_kext_id(x) || !kx_kext_is_valid(x))
        return;
    size_t n = 0;
    kx_catalog_add_kext(k->rt->cat, x, &n);
}

size_t kx__runtime_catalog_remove(struct kx_kernel *k, const char *kext_id)
{
    return kx_catalog_remove_kext(k->rt->cat, kext_id);
}

/* ---- matching one nub ----------------------------------------------------- */

static int is_instance(struct kx_runtime *rt, kx_reg_id id)
{
    int found = 0;
    pthread_mutex_lock(&rt->lock);
    for (struct instance *in = rt->instances; in && !found; in = in->next)
        found = in->id == id;
    pthread_mutex_unlock(&rt->lock);
    return found;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* The instance entry's properties: the personality's, and the category it
 * claims on the nub (what keeps the category from matching twice). */
static plist_t instance_props(const struct kx_match_candidate *c, const char *kext_id)
{
    plist_t props = plist_copy(kx_personality_dict(c->personality));
    if (!props)
        return NULL;
    plist_dict_set_item(props, "IOMatchCategory", plist_new_string(c->category));
    if (!plist_dict_get_item(props, "CFBundleIdentifier"))
        plist_dict_set_item(props, "CFBundleIdentifier", plist_new_string(kext_id));
    if (c->name_matched)
        plist_dict_set_item(props, "IONameMatched", plist_new_string(c->name_matched));
    return props;
}

/* Loads the candidate's kext if needed, publishes its instance and offers it
 * to the driver. STATUS_SUCCESS when the driver took the nub. */
static kx_status attach(struct kx_runtime *rt, kx_reg_id nub, const struct kx_reg_info *ni,
                        const struct kx_match_candidate *c)
{
    struct kx_kernel *k = rt->k;
    const char *code = kx_personality_code_bundle(c->personality);
    struct kx_kext *x = kx_kext_repo_lookup(k->repo, code, KX_VERS_INVALID);
    if (!x) {
        kx__kernel_warn(k, "%s: personality %s of %s runs the code of %s, which is not installed",
                        ni->name, kx_personality_name(c->personality),
                        kx_personality_kext(c->personality), code);
        return STATUS_KEXT_NOT_FOUND;
    }
    struct kx_loaded *l = kx__kernel_find_loaded(k, code);
    if (!l) {
        char why[512] = "", *report = NULL;
        size_t report_len = 0;
        FILE *f = open_memstream(&report, &report_len); /* the one-line why is what we say */
        kx_status st = f ? kx__kernel_load_kext(k, x, NULL, 0, f, why, sizeof why)
                         : STATUS_INSUFFICIENT_RESOURCES;
        if (f)
            fclose(f);
        free(report);
        if (st != STATUS_SUCCESS) { /* the boot's wording, then the nub it matched */
            kx__kernel_warn(k, "%s failed to load - %s%s%s (it matched %s)", kx_kext_path(x),
                            kx_status_string(st), *why ? "; " : "", why, ni->name);
            return st;
        }
        if (!(l = kx__kernel_find_loaded(k, code)))
            return STATUS_KEXT_NOT_FOUND;
        l->by_match = 1;
    }

    struct instance *in = calloc(1, sizeof *in);
    if (!in)
        return STATUS_INSUFFICIENT_RESOURCES;
    in->nub = nub;
    in->driver = l->driver;
    in->kext = strdup(code);
    in->ioclass = strdup(kx_personality_ioclass(c->personality));
    in->personality = strdup(kx_personality_name(c->personality));
    in->nub_class = dup_or_empty(ni->class_name);
    in->nub_name = dup_or_empty(ni->name);
    in->nub_location = dup_or_empty(ni->location);
    plist_t props = instance_props(c, code);
    if (props && l->host_pid > 0) /* ioreg: which kx-host process drives it */
        plist_dict_set_item(props, "KXHostPID", plist_new_uint((uint64_t)l->host_pid));
    kx_status st = in->kext && in->ioclass && in->personality && in->nub_class && in->nub_name &&
                           in->nub_location && props
                       ? kx_reg_publish(rt->reg, nub, KX_REG_PLANE_BIT(KX_REG_SERVICE), in->ioclass,
                                        in->ioclass, NULL, props, &in->id)
                       : (plist_free(props), STATUS_INSUFFICIENT_RESOURCES);
    struct kx_io_provider p;
    char *p_mem = NULL;
    if (st == STATUS_SUCCESS && (st = provider_copy(in, &p, &p_mem)) != STATUS_SUCCESS)
        kx_reg_terminate(rt->reg, in->id, NULL, NULL);
    if (st != STATUS_SUCCESS) {
        instance_free(in);
        return st;
    }
    kx_io_driver_id driver = in->driver;
    kx_reg_id in_id = in->id;
    pthread_mutex_lock(&rt->lock);
    in->next = rt->instances;
    rt->instances = in;
    pthread_mutex_unlock(&rt->lock);
    /* From here a host death may free in: only p, driver and in_id are read. */
    p.score = (int32_t)c->score;
    st = driver ? kx_io_driver_add_device(k->io, driver, &p, 0) : STATUS_SUCCESS;
    free(p_mem);
    if (st != STATUS_SUCCESS) {
        /* Its devices are gone already; the entry goes without RemoveDevice.
         * A host that died meanwhile may have had the instance removed (and
         * freed) by kx__kernel_driver_died: only one still listed is ours. */
        kx_reg_id id = 0;
        pthread_mutex_lock(&rt->lock);
        for (struct instance *i = rt->instances; i; i = i->next)
            if (i->id == in_id) {
                i->driver = 0;
                id = in_id;
            }
        pthread_mutex_unlock(&rt->lock);
        if (id && kx_reg_terminate(rt->reg, id, on_terminated, rt) != STATUS_SUCCESS)
            on_terminated(rt, id);
        if (st != STATUS_NO_SUCH_DEVICE)
            kx__kernel_warn(k, "%s: %s (%s) failed to start - %s", ni->name, code,
                            kx_personality_ioclass(c->personality), kx_status_name(st));
        return st;
    }
    l->idle_since_ns = 0;
    kx_reg_set_matched(rt->reg, in_id, 1); /* started, as ioreg shows IOKit's drivers */
    kx__kernel_note(k, "%s matched %s: %s (%s, personality %s, score %lld)", ni->name,
                    ni->class_name, code, kx_personality_ioclass(c->personality),
                    kx_personality_name(c->personality), (long long)p.score);
    return STATUS_SUCCESS;
}

static void match_one(struct kx_runtime *rt, kx_reg_id nub)
{
    struct kx_reg_info ni;
    if (kx_reg_info(rt->reg, nub, &ni) != STATUS_SUCCESS || !ni.is_service || is_instance(rt, nub))
        return;
    struct kx_match *m = NULL;
    if (kx_match_nub(rt->cat, rt->reg, nub, 0, &m) != STATUS_SUCCESS)
        return;
    kx_match_apply_merges(rt->reg, m);
    /* Candidates are in match order; a decline makes a later one of the same
     * category chosen, which this walk then reaches. */
    for (size_t i = 0; i < kx_match_n_candidates(m); i++) {
        const struct kx_match_candidate *c = kx_match_candidate(m, i);
        if (!c->chosen || !c->category)
            continue;
        if (attach(rt, nub, &ni, c) != STATUS_SUCCESS)
            kx_match_decline(m, i, NULL);
    }
    kx_match_free(m);
    kx_reg_set_matched(rt->reg, nub, 1);
}

static void match_all(struct kx_runtime *rt)
{
    kx_reg_id *ids = NULL;
    size_t n = 0;
    if (kx_reg_list(rt->reg, KX_REG_SERVICE, &ids, &n) != STATUS_SUCCESS)
        return;
    for (size_t i = 0; i < n; i++)
        match_one(rt, ids[i]);
    free(ids);
}

/* ---- the thread ------------------------------------------------------------ */

/* What a platform enumeration or event left out, and what it published. */
static void report_platform(struct kx_runtime *rt, struct kx_platform_report *rep)
{
    for (size_t i = 0; i < rep->n_skipped; i++)
        kx__kernel_warn(rt->k, "platform: left out %s", rep->skipped[i]);
    kx_platform_report_clear(rep);
}

static void hotplug(struct kx_runtime *rt, const struct work *w)
{
    struct kx_platform_report rep = {0};
    kx_status st = w->kind == W_UDEV
                       ? kx_platform_udev_dispatch(rt->udev, rt->reg, rt->sysfs_root,
                                                   on_terminated, rt, &rep)
                       : kx_platform_linux_handle_event(rt->reg, rt->sysfs_root, w->action,
                                                        w->devpath, on_terminated, rt, &rep);
    if (st != STATUS_SUCCESS)
        kx__kernel_warn(rt->k, "platform: hot-plug event: %s", kx_status_string(st));
    if (rep.n_published || rep.n_terminated)
        kx__kernel_note(rt->k, "hot-plug: %zu nub(s) published, %zu entr%s terminated",
                        rep.n_published, rep.n_terminated, rep.n_terminated == 1 ? "y" : "ies");
    size_t published = rep.n_published;
    kx__kernel_hotplug_events(rt->k, &rep);
    report_platform(rt, &rep);
    if (published) /* new nubs: match them (matched nubs are skipped cheaply) */
        match_all(rt);
}

static void do_work(struct kx_runtime *rt, const struct work *w)
{
    switch (w->kind) {
    case W_HOTPLUG:
    case W_UDEV: hotplug(rt, w); break;
    case W_MATCH: match_one(rt, w->nub); break;
    case W_MATCH_ALL: match_all(rt); break;
    case W_TERMINATE:
        if (kx_reg_terminate(rt->reg, w->nub, on_terminated, rt) == STATUS_SUCCESS)
            kx__kernel_note(rt->k, "nub 0x%llx terminated", (unsigned long long)w->nub);
        break;
    case W_RESTART:
        if (kx__kernel_restart(rt->k, w->action))
            match_all(rt); /* the nubs its instances had */
        break;
    }
}

static void *runtime_main(void *arg)
{
    struct kx_runtime *rt = arg;
    pthread_setname_np(pthread_self(), "kx-match");
    pthread_mutex_lock(&rt->lock);
    for (;;) {
        uint64_t due = promote_due(rt);
        while (!rt->head && !rt->stop) {
            rt->busy = 0;
            pthread_cond_broadcast(&rt->cond); /* idle: wake kx_kernel_match_wait */
            if (rt->k->idle_unload_ns) {       /* look at idle kexts every second */
                uint64_t second = kx_plat_monotonic_ns() + 1000000000u;
                wait_until(rt, due < second ? due : second);
                pthread_mutex_unlock(&rt->lock);
                pthread_mutex_lock(&rt->k->op_lock);
                kx__kernel_unload_idle(rt->k, kx_plat_monotonic_ns());
                pthread_mutex_unlock(&rt->k->op_lock);
                pthread_mutex_lock(&rt->lock);
            } else if (due != UINT64_MAX) {
                wait_until(rt, due);
            } else {
                pthread_cond_wait(&rt->cond, &rt->lock);
            }
            due = promote_due(rt);
        }
        if (rt->stop)
            break;
        struct work *w = rt->head;
        rt->head = w->next;
        if (!rt->head)
            rt->tail = NULL;
        rt->busy = 1;
        if (w->kind == W_UDEV)
            rt->udev_queued = 0;
        pthread_mutex_unlock(&rt->lock);
        pthread_mutex_lock(&rt->k->op_lock);
        do_work(rt, w);
        pthread_mutex_unlock(&rt->k->op_lock);
        work_free(w);
        pthread_mutex_lock(&rt->lock);
    }
    rt->busy = 0;
    pthread_cond_broadcast(&rt->cond);
    pthread_mutex_unlock(&rt->lock);
    return NULL;
}

/* ---- what drivers ask (kx_io_reg_fn, on their dispatch threads) ------------- */

static int owns(struct kx_runtime *rt, kx_io_driver_id drv, kx_reg_id id, int instances_only)
{
    int yes = 0;
    pthread_mutex_lock(&rt->lock);
    for (struct instance *in = rt->instances; in && !yes; in = in->next)
        yes = in->id == id && in->driver == drv;
    for (struct published *p = rt->published; p && !yes && !instances_only; p = p->next)
        yes = p->id == id && p->driver == drv;
    pthread_mutex_unlock(&rt->lock);
    return yes;
}

static kx_status to_bin(plist_t v, void **out, size_t *out_len)
{
    char *bin = NULL;
    uint32_t len = 0;
    plist_to_bin(v, &bin, &len);
    if (!bin)
        return STATUS_INSUFFICIENT_RESOURCES;
    *out = bin;
    *out_len = len;
    return STATUS_SUCCESS;
}

static plist_t from_bin(const struct kx_io_reg_req *req)
{
    plist_t v = NULL;
    if (req->value && req->value_len && req->value_len <= UINT32_MAX)
        plist_from_bin(req->value, (uint32_t)req->value_len, &v);
    return v;
}

static kx_status publish_nub(struct kx_runtime *rt, kx_io_driver_id drv,
                             const struct kx_io_reg_req *req, uint64_t *out_id)
{
    if (!owns(rt, drv, req->entry, 0))
        return STATUS_ACCESS_DENIED;
    plist_t props = from_bin(req);
    if (req->value && (!props || plist_get_node_type(props) != PLIST_DICT)) {
        plist_free(props);
        return STATUS_INVALID_PARAMETER;
    }
    struct published *p = calloc(1, sizeof *p);
    if (!p) {
        plist_free(props);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    kx_status st = kx_reg_publish(rt->reg, req->entry, KX_REG_PLANE_BIT(KX_REG_SERVICE),
                                  req->class_name, req->name, req->location, props, &p->id);
    if (st != STATUS_SUCCESS) {
        free(p);
        return st;
    }
    p->driver = drv;
    pthread_mutex_lock(&rt->lock);
    p->next = rt->published;
    rt->published = p;
    pthread_mutex_unlock(&rt->lock);
    *out_id = p->id;
    queue(rt, W_MATCH, p->id);
    return STATUS_SUCCESS;
}

/* DkGetHardwareProxy: a KMD may open any component, a CMD only the one bound to the
 * instance it is adding (req->entry). */
static kx_status proxy_open(struct kx_runtime *rt, kx_io_driver_id drv,
                            const struct kx_io_reg_req *req, uint64_t *out_id, void **out,
                            size_t *out_len)
{
    uint32_t type = 0;
    kx_reg_id nub = 0;
    if (!req->key)
        return STATUS_INVALID_PARAMETER;
    kx_status st = kx_io_driver_type(rt->k->io, drv, &type);
    if (st == STATUS_SUCCESS && type != DRIVER_TYPE_KMD && type != DRIVER_TYPE_CMD)
        st = STATUS_ACCESS_DENIED;
    if (st == STATUS_SUCCESS)
        st = kx__component_find(rt->reg, req->key, &nub);
    if (st == STATUS_SUCCESS && type == DRIVER_TYPE_CMD) {
        int bound = 0;
        pthread_mutex_lock(&rt->lock);
        for (struct instance *in = rt->instances; in && !bound; in = in->next)
            bound = req->entry && in->id == req->entry && in->driver == drv && in->nub == nub;
        pthread_mutex_unlock(&rt->lock);
        st = bound ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
    }
    uint64_t *entry = st == STATUS_SUCCESS ? malloc(sizeof *entry) : NULL;
    if (st == STATUS_SUCCESS && !entry)
        st = STATUS_INSUFFICIENT_RESOURCES;
    if (st == STATUS_SUCCESS)
        st = kx__component_proxy_open(rt->comp, drv, nub, out_id);
    if (st != STATUS_SUCCESS) {
        free(entry);
        return st;
    }
    *entry = nub;
    *out = entry;
    *out_len = sizeof *entry;
    return STATUS_SUCCESS;
}

static kx_status reg_request(void *ctx, kx_io_driver_id drv, const struct kx_io_reg_req *req,
                             uint64_t *out_id, void **out, size_t *out_len)
{
    struct kx_runtime *rt = ctx;
    plist_t v = NULL;
    kx_status st;
    switch (req->op) {
    case KX_IO_REG_GET:
        if (!req->key)
            return STATUS_INVALID_PARAMETER;
        st = kx_reg_prop_copy(rt->reg, req->entry, req->key, &v);
        if (st == STATUS_SUCCESS && !v)
            st = STATUS_OBJECT_NAME_NOT_FOUND;
        break;
    case KX_IO_REG_GET_ALL: st = kx_reg_props_copy(rt->reg, req->entry, &v); break;
    case KX_IO_REG_SET:
        if (!req->key || !(v = from_bin(req)))
            return STATUS_INVALID_PARAMETER;
        if (!owns(rt, drv, req->entry, 0)) {
            plist_free(v);
            return STATUS_ACCESS_DENIED;
        }
        st = kx_reg_prop_set(rt->reg, req->entry, req->key, v);
        return st;
    case KX_IO_REG_PUBLISH_NUB: return publish_nub(rt, drv, req, out_id);
    case KX_IO_REG_TERMINATE:
        if (!owns(rt, drv, req->entry, 0) || owns(rt, drv, req->entry, 1))
            return STATUS_ACCESS_DENIED; /* only nubs it published */
        queue(rt, W_TERMINATE, req->entry);
        return STATUS_SUCCESS;
    case KX_IO_REG_PUBLISH_RESOURCE:
        if (!req->key)
            return STATUS_INVALID_PARAMETER;
        st = kx_reg_resource_publish(rt->reg, req->key, NULL);
        if (st == STATUS_SUCCESS) {
            kx__kernel_note(rt->k, "resource %s published", req->key);
            queue(rt, W_MATCH_ALL, 0); /* whoever waited for it */
        }
        return st;
    case KX_IO_REG_OWN_INSTANCE:
        return owns(rt, drv, req->entry, 1) ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
    case KX_IO_REG_PROXY_OPEN: return proxy_open(rt, drv, req, out_id, out, out_len);
    case KX_IO_REG_PROXY_READ:
    case KX_IO_REG_PROXY_WRITE:
    case KX_IO_REG_PROXY_MAP:
    case KX_IO_REG_PROXY_CLOSE:
        return kx__component_proxy_request(rt->comp, rt->reg, rt->sysfs_root, drv, req, out,
                                           out_len);
    default: return STATUS_INVALID_PARAMETER;
    }
    if (st == STATUS_SUCCESS)
        st = to_bin(v, out, out_len);
    plist_free(v);
    return st;
}

/* ---- the platform ---------------------------------------------------------- */

/* "kx-udev": waits for udev's input and queues one W_UDEV item for it. */
static void *udev_main(void *arg)
{
    struct kx_runtime *rt = arg;
    pthread_setname_np(pthread_self(), "kx-udev");
    int poller = -1;
    if (kx_plat_poller_new(&poller) != STATUS_SUCCESS ||
        kx_plat_poller_set(poller, kx_platform_udev_fd(rt->udev), 1, KX_POLL_IN, 1) !=
            STATUS_SUCCESS) {
        kx_plat_close(poller);
        kx_log_warnx(&rt->k->log, "udev: can't watch the monitor; hot-plug is off");
        return NULL;
    }
    for (;;) {
        struct kx_poll_event ev[1];
        int n = 0;
        kx_plat_poller_wait(poller, ev, 1, 500, &n); /* wakes to see rt->stop */
        pthread_mutex_lock(&rt->lock);
        int stop = rt->stop, queued = rt->udev_queued;
        if (n && !stop && !queued)
            rt->udev_queued = 1;
        pthread_mutex_unlock(&rt->lock);
        if (stop)
            break;
        if (n && !queued)
            queue(rt, W_UDEV, 0);
        else if (n) /* already queued: let the runtime read it first */
            kx_plat_sleep_ns(1000000);
    }
    kx_plat_close(poller);
    return NULL;
}

/* The Linux platform from sysfs_root, and udev's hot-plug events when it is
 * the host's own /sys. */
static kx_status publish_linux(struct kx_runtime *rt, const char *root, char *why, size_t why_len)
{
    free(rt->sysfs_root);
    if (!(rt->sysfs_root = strdup(root)))
        return STATUS_INSUFFICIENT_RESOURCES;
    struct kx_platform_report rep = {0};
    kx_status st = kx_platform_linux_publish(rt->reg, root, &rep);
    if (st != STATUS_SUCCESS) {
        snprintf(why, why_len, "%s: %s", root, kx_status_string(st));
        kx_platform_report_clear(&rep);
        return st;
    }
    kx_log_info(&rt->k->log, "platform: %zu nubs from %s", rep.n_published, root);
    report_platform(rt, &rep);
    if (strcmp(root, "/sys") != 0 || rt->udev)
        return STATUS_SUCCESS;
    kx__kernel_keys_start(rt->k, rt->reg);
    st = kx_platform_udev_open(&rt->udev);
    if (st != STATUS_SUCCESS) { /* a container without netlink: no hot-plug, the rest works */
        kx_log_warnx(&rt->k->log, "udev: %s; devices plugged in later are not seen",
                     kx_status_string(st));
        rt->udev = NULL;
        return STATUS_SUCCESS;
    }
    if (pthread_create(&rt->udev_thread, NULL, udev_main, rt) == 0)
        rt->udev_started = 1;
    return STATUS_SUCCESS;
}

kx_status kx_kernel_publish_platform(struct kx_kernel *k, const char *platform, char *why,
                                     size_t why_len)
{
    char none[1];
    if (!why || !why_len) {
        why = none;
        why_len = sizeof none;
    }
    *why = '\0';
    if (!platform || strcmp(platform, "none") == 0)
        return STATUS_SUCCESS;
    if (strcmp(platform, "linux") == 0)
        return publish_linux(k->rt, "/sys", why, why_len);
    if (strncmp(platform, "linux:", 6) == 0)
        return publish_linux(k->rt, platform + 6, why, why_len);
    return kx_platform_file_read(k->rt->reg, platform, why, why_len);
}

kx_status kx_kernel_platform_event(struct kx_kernel *k, const char *action, const char *devpath)
{
    struct kx_runtime *rt = k->rt;
    if (!rt->sysfs_root)
        return STATUS_NOT_SUPPORTED;
    struct work *w = calloc(1, sizeof *w);
    if (!w || !(w->action = strdup(action)) || !(w->devpath = strdup(devpath))) {
        if (w)
            work_free(w);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    w->kind = W_HOTPLUG;
    push(rt, w);
    kx_kernel_match_wait(k);
    return STATUS_SUCCESS;
}

kx_status kx_kernel_publish_nubs(struct kx_kernel *k, uint64_t parent, plist_t tree,
                                 const char *name, uint64_t **ids, size_t *n_ids, char *why,
                                 size_t why_len)
{
    kx_status st =
        kx_platform_tree_load_under(k->rt->reg, parent, tree, name, ids, n_ids, why, why_len);
    if (st != STATUS_SUCCESS)
        return st;
    for (size_t i = 0; i < *n_ids; i++) /* providers first, as published */
        queue(k->rt, W_MATCH, (*ids)[i]);
    kx_kernel_match_wait(k);
    return STATUS_SUCCESS;
}

void kx__runtime_driver_gone(struct kx_kernel *k, kx_io_driver_id drv)
{
    if (k->rt && k->rt->comp)
        kx__component_release_driver(k->rt->comp, drv);
}

void kx__runtime_terminate_later(struct kx_kernel *k, kx_reg_id nub)
{
    queue(k->rt, W_TERMINATE, nub);
}

void kx__runtime_match_later(struct kx_kernel *k, kx_reg_id nub)
{
    queue(k->rt, W_MATCH, nub);
}

kx_status kx_kernel_component_access(struct kx_kernel *k, const char *address, uint32_t offset,
                                     void *buf, size_t len, int write)
{
    struct kx_runtime *rt = k->rt;
    kx_reg_id nub = 0;
    if (!rt || !address || (!buf && len) || len > KX_COMPONENT_ACCESS_MAX)
        return STATUS_INVALID_PARAMETER;
    kx_status st = kx__component_find(rt->reg, address, &nub);
    if (st == STATUS_SUCCESS)
        st = kx__component_access(rt->comp, rt->reg, rt->sysfs_root, 0, nub, write, offset,
                                  buf, len);
    return st;
}

/* ---- life ------------------------------------------------------------------ */

kx_status kx__runtime_new(struct kx_kernel *k)
{
    struct kx_runtime *rt = calloc(1, sizeof *rt);
    if (!rt)
        return STATUS_INSUFFICIENT_RESOURCES;
    rt->k = k;
    pthread_mutex_init(&rt->lock, NULL);
    pthread_cond_init(&rt->cond, NULL);
    k->rt = rt;
    unsigned flags = k->boot.mode == KX_BOOT_SAFE ? KX_CATALOG_SAFE_BOOT : 0;
    kx_status st = kx_classes_new(&rt->classes);
    if (st == STATUS_SUCCESS)
        st = kx_reg_new(rt->classes, &rt->reg);
    if (st == STATUS_SUCCESS)
        st = kx__kernel_watch_components(k, rt->reg);
    if (st == STATUS_SUCCESS)
        st = kx_catalog_new(rt->classes, flags, &rt->cat);
    if (st == STATUS_SUCCESS)
        st = kx__components_new(k, &rt->comp);
    if (st != STATUS_SUCCESS)
        return st;
    for (size_t i = 0; i < kx_kext_repo_count(k->repo); i++)
        kx__runtime_catalog_add(k, kx_kext_repo_kext(k->repo, i));
    for (size_t i = 0; i < kx_catalog_n_problems(rt->cat); i++)
        kx_log_warnx(&k->log, "%s", kx_catalog_problem(rt->cat, i));
    kx_io_set_registry(k->io, reg_request, rt);
    kx_io_set_died_fn(k->io, kx__kernel_driver_died, k);
    if (pthread_create(&rt->thread, NULL, runtime_main, rt) != 0)
        return STATUS_INSUFFICIENT_RESOURCES;
    rt->started = 1;
    return STATUS_SUCCESS;
}

void kx__runtime_stop(struct kx_kernel *k)
{
    struct kx_runtime *rt = k->rt;
    if (!rt || !rt->started)
        return;
    pthread_mutex_lock(&rt->lock);
    rt->stop = 1;
    pthread_cond_broadcast(&rt->cond);
    pthread_mutex_unlock(&rt->lock);
    pthread_join(rt->thread, NULL);
    rt->started = 0;
    if (rt->udev_started)
        pthread_join(rt->udev_thread, NULL);
    rt->udev_started = 0;
    kx__kernel_keys_stop(k);
}

void kx__runtime_free(struct kx_kernel *k)
{
    struct kx_runtime *rt = k->rt;
    if (!rt)
        return;
    kx__runtime_stop(k);
    kx__kernel_keys_stop(k); /* also when the runtime never ran */
    while (rt->head) {
        struct work *w = rt->head;
        rt->head = w->next;
        work_free(w);
    }
    while (rt->later) {
        struct work *w = rt->later;
        rt->later = w->next;
        work_free(w);
    }
    kx_platform_udev_close(rt->udev);
    free(rt->sysfs_root);
    while (rt->instances) {
        struct instance *in = rt->instances;
        rt->instances = in->next;
        instance_free(in);
    }
    while (rt->published) {
        struct published *p = rt->published;
        rt->published = p->next;
        free(p);
    }
    kx__components_free(rt->comp);
    kx_catalog_free(rt->cat);
    kx_reg_free(rt->reg);
    kx_classes_free(rt->classes);
    pthread_cond_destroy(&rt->cond);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
    k->rt = NULL;
}
