/* kernel.c — the kernel object: an I/O manager, a kext repository and the
 * loaded kexts; creation, boot, kextstat's listing, and teardown.
 */
#include "kernel_int.h"

#include "core/plat.h"
#include "core/plat_mem.h"

#include <kx/registry.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kx_io *kx_kernel_io(struct kx_kernel *k)
{
    return k->io;
}

void kx__kernel_note(struct kx_kernel *k, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    kx_log_info(&k->log, "%s", text);
    kx_io_log_write(k->io, "kext", text);
}

void kx__kernel_warn(struct kx_kernel *k, const char *fmt, ...)
{
    char line[KX_IO_LOG_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    kx_logv(&k->log, KX_LOG_WARN, fmt, ap);
    va_end(ap);
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line) /* the whole line is in the logger's copy */
        memcpy(line + sizeof line - 4, "...", 4);
    kx_io_log_write(k->io, "kext", line);
}

kx_status kx__kernel_register_components(struct kx_kernel *k)
{
    for (size_t i = 0; i < kx_kext_repo_count(k->repo); i++) {
        struct kx_kext *x = kx_kext_repo_kext(k->repo, i);
        if (!kx_kext_is_loaded(x) || !kx_kext_is_kernel_resource(x))
            continue;
        struct kx_loaded *l = calloc(1, sizeof *l);
        if (!l)
            return STATUS_INSUFFICIENT_RESOURCES;
        l->kext = x;
        l->is_component = 1;
        kx__kernel_append_loaded(k, l);
    }
    return STATUS_SUCCESS;
}

/* The folder list, copied: the boot configuration outlives the caller's. */
static kx_status copy_folders(struct kx_kernel *k, const struct kx_kernel_config *cfg)
{
    if (!cfg->n_extension_dirs)
        return STATUS_SUCCESS;
    if (!(k->folders = calloc(cfg->n_extension_dirs, sizeof(char *))))
        return STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < cfg->n_extension_dirs; i++)
        if (!(k->folders[k->boot.n_folders++] = strdup(cfg->extension_dirs[i])))
            return STATUS_INSUFFICIENT_RESOURCES;
    k->boot.folders = (const char *const *)k->folders;
    return STATUS_SUCCESS;
}

/* Fills the repository from the boot plan (the cache or a scan). */
static kx_status make_plan(struct kx_kernel *k)
{
    if (!k->boot.n_folders)
        return STATUS_SUCCESS;
    kx_status st = kx_boot_plan_make(&k->boot, k->repo, &k->plan);
    if (st != STATUS_SUCCESS)
        return st;
    k->cache_verdict = kx_boot_plan_cache_verdict(k->plan);
    const char *why = kx_boot_plan_fallback_reason(k->plan);
    int n = kx_boot_plan_source(k->plan) == KX_BOOT_FROM_CACHE
                ? asprintf(&k->boot_source, "kext cache %s", kx_boot_plan_cache_path(k->plan))
                : asprintf(&k->boot_source, "scan of the extensions folders (%s)",
                           why ? why : "no cache");
    if (n < 0)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_log_info(&k->log, "%s boot from the %s", kx_boot_mode_name(k->boot.mode), k->boot_source);
    const struct kx_diags *d = kx_boot_plan_diags(k->plan);
    for (size_t i = 0; i < d->n_items; i++)
        kx_log_warnx(&k->log, "%s: %s%s%s", d->items[i].subject ? d->items[i].subject : "boot",
                     kx_diag_message(d->items[i].code), d->items[i].detail ? " - " : "",
                     d->items[i].detail ? d->items[i].detail : "");
    /* Every kext the boot leaves out, once, in the plan's own words (`kx boot --plan` gives the
     * same reason): a skip that only the plan could explain went unnoticed. */
    for (size_t i = 0; i < kx_boot_plan_count(k->plan, KX_BOOT_NOT_LOADED); i++) {
        const struct kx_boot_item *b = kx_boot_plan_item(k->plan, KX_BOOT_NOT_LOADED, i);
        kx__kernel_warn(k, "%s: not loaded: %s", b->path ? b->path : "(no path)", b->reason);
    }
    return STATUS_SUCCESS;
}

kx_status kx_kernel_new(const struct kx_kernel_config *cfg, struct kx_kernel **out)
{
    *out = NULL;
    if (!cfg || cfg->size < sizeof *cfg)
        return STATUS_INVALID_PARAMETER;
    struct kx_kernel *k = calloc(1, sizeof *k);
    if (!k)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (cfg->logger)
        k->log = *cfg->logger;
    k->opts = (struct kx_kext_options)KX_KEXT_OPTIONS_INIT;
    if (cfg->no_auth)
        k->opts.flags |= KX_KEXT_NO_AUTH;
    k->boot = (struct kx_boot_config)KX_BOOT_CONFIG_INIT;
    k->boot.mode = cfg->boot_mode;
    k->boot.cache_path = cfg->cache_path;
    k->boot.flags = cfg->boot_flags;
    k->next_tag = 1; /* 0 is the kernel itself, never listed */
    k->idle_unload_ns = (uint64_t)cfg->idle_unload_s * 1000000000u;
    pthread_mutex_init(&k->op_lock, NULL);
    pthread_mutex_init(&k->state_lock, NULL);

    struct kx_io_config io_cfg = {0};
    if (cfg->io)
        memcpy(&io_cfg, cfg->io, cfg->io->size < sizeof io_cfg ? cfg->io->size : sizeof io_cfg);
    io_cfg.size = sizeof io_cfg;
    k->host_process = io_cfg.host_program != NULL;
    k->host_allow_root = (io_cfg.host_flags & KX_IO_HOST_ALLOW_ROOT) != 0;
    io_cfg.size = sizeof io_cfg;
    if (!io_cfg.logger)
        io_cfg.logger = cfg->logger;
    kx_status st = copy_folders(k, cfg);
    if (st == STATUS_SUCCESS && cfg->cache_path &&
        !(k->boot.cache_path = k->boot_cache_path = strdup(cfg->cache_path)))
        st = STATUS_INSUFFICIENT_RESOURCES;
    if (st == STATUS_SUCCESS)
        st = kx_io_new(&io_cfg, &k->io);
    if (st == STATUS_SUCCESS)
        st = kx_kext_repo_new(&k->opts, &k->repo);
    if (st == STATUS_SUCCESS)
        st = make_plan(k);
    if (st == STATUS_SUCCESS)
        st = kx__kernel_register_components(k);
    if (st == STATUS_SUCCESS)
        st = kx__runtime_new(k);
    if (st != STATUS_SUCCESS) {
        kx_kernel_free(k);
        return st;
    }
    *out = k;
    return STATUS_SUCCESS;
}

void kx_kernel_free(struct kx_kernel *k)
{
    if (!k)
        return;
    kx__runtime_stop(k); /* no more matching while everything unloads */
    pthread_mutex_lock(&k->op_lock);
    if (k->io && k->rt)
        kx__kernel_unload_all(k);
    pthread_mutex_unlock(&k->op_lock);
    kx_io_free(k->io); /* joins any driver thread still running */
    kx__runtime_free(k);
    while (k->loaded) {
        struct kx_loaded *l = k->loaded;
        k->loaded = l->next;
        free(l->deps);
        free(l);
    }
    kx_boot_plan_free(k->plan);
    kx_kext_repo_free(k->repo);
    for (size_t i = 0; i < k->n_execs; i++)
        kx_plat_close(k->execs[i].fd);
    free(k->execs);
    for (size_t i = 0; i < k->boot.n_folders; i++)
        free(k->folders[i]);
    free(k->folders);
    free(k->boot_cache_path);
    free(k->boot_source);
    pthread_mutex_destroy(&k->state_lock);
    pthread_mutex_destroy(&k->op_lock);
    free(k);
}

const char *kx_kernel_boot_source(struct kx_kernel *k)
{
    return k->boot_source ? k->boot_source : "";
}

void kx__kernel_exec_forget(struct kx_kernel *k, struct kx_kext *x)
{
    if (kx_kext_is_loaded(x))
        return;
    for (size_t i = 0; i < k->n_execs; i++)
        if (k->execs[i].kext == x) {
            kx_plat_close(k->execs[i].fd);
            k->execs[i] = k->execs[--k->n_execs];
            return;
        }
}

const char *kx__kernel_exec_path(struct kx_kernel *k, struct kx_kext *x)
{
    for (size_t i = 0; i < k->n_execs; i++)
        if (k->execs[i].kext == x)
            return k->execs[i].path;
    const void *data;
    size_t len;
    char why[256] = "";
    kx_status st = k->plan ? kx_boot_plan_executable(k->plan, x, &data, &len, why, sizeof why)
                           : STATUS_NO_SUCH_FILE;
    if (st == STATUS_DATA_ERROR) /* the bundle on disk is what the cache was built from */
        kx_log_warnx(&k->log,
                     "%s: the cache's copy of the executable is damaged (%s); "
                     "loading it from the bundle",
                     kx_kext_path(x), why);
    struct kx_exec_mem *nv =
        st == STATUS_SUCCESS ? realloc(k->execs, (k->n_execs + 1) * sizeof *nv) : NULL;
    if (!nv)
        return kx_kext_executable(x);
    k->execs = nv;
    struct kx_exec_mem *e = &nv[k->n_execs];
    e->kext = x;
    if (kx_plat_memfd_from_bytes(kx_kext_id(x), data, len, &e->fd) != STATUS_SUCCESS)
        return kx_kext_executable(x);
    kx_plat_fd_path(e->fd, e->path, sizeof e->path);
    k->n_execs++;
    return e->path;
}

/* ---- boot ------------------------------------------------------------------- */

/* Phase 2's clean-up: a phase-1 kext that created no device, drives no nub
 * and that nothing depends on was not needed after all (the seed: "any unnecessary drivers
 * get unloaded, freeing up memory"). */
static void unload_unneeded(struct kx_kernel *k, FILE *f)
{
    struct kx_io_driver_stat *drivers = NULL;
    size_t n_drivers = 0;
    kx_io_list_drivers(k->io, &drivers, &n_drivers);
    /* Newest first: unloading a kext may leave its libraries unneeded too. */
    for (size_t i = kx_boot_plan_count(k->plan, KX_BOOT_PHASE1); i > 0; i--) {
        struct kx_kext *x = kx_boot_plan_item(k->plan, KX_BOOT_PHASE1, i - 1)->kext;
        struct kx_loaded *l = x ? kx__kernel_find_loaded(k, kx_kext_id(x)) : NULL;
        if (!l || l->kext != x || l->refs > 0 || kx__runtime_instance_count(k, kx_kext_id(x), NULL))
            continue;
        uint32_t n_devices = 0;
        for (size_t d = 0; d < n_drivers; d++)
            if (drivers[d].id == l->driver)
                n_devices = drivers[d].n_devices;
        if (n_devices == 0 && kx__kernel_unload_unused(k, x, f) == STATUS_SUCCESS)
            kx__kernel_note(k, "%s created no device and nothing needs it: unloaded after boot",
                            kx_kext_id(x));
    }
    free(drivers);
}

/* Loads one kext of the plan; failures go to f and, unless a dry run, to the log. */
static kx_status boot_load(struct kx_kernel *k, const struct kx_boot_item *it, uint32_t flags,
                           FILE *f)
{
    char *one = NULL, why[512] = "";
    size_t one_len = 0;
    FILE *g = open_memstream(&one, &one_len);
    kx_status st = g ? kx__kernel_load_kext(k, it->kext, NULL, flags, g, why, sizeof why)
                     : STATUS_INSUFFICIENT_RESOURCES;
    if (g)
        fclose(g);
    /* Successes are already in the log; the report keeps what went wrong
     * (and, for a dry run, what would load). */
    if (st == STATUS_SUCCESS && (flags & KX_KERNEL_LOAD_DRY_RUN) && one)
        fputs(one, f);
    if (st != STATUS_SUCCESS) {
        fprintf(f, "%s failed to load - %s\n%s", it->path, kx_status_string(st), one ? one : "");
        if (!(flags & KX_KERNEL_LOAD_DRY_RUN)) /* Apple's kextutil wording, then the cause */
            kx__kernel_warn(k, "%s failed to load - %s%s%s", it->path, kx_status_string(st),
                            *why ? "; " : "", why);
    }
    free(one);
    return st;
}

kx_status kx_kernel_boot_phase(struct kx_kernel *k, int phase, uint32_t flags, char **report)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (report)
        *report = NULL;
    if (!f)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status first_failure = STATUS_SUCCESS;
    int dry = (flags & KX_KERNEL_LOAD_DRY_RUN) != 0;
    /* Phase 2 is matching: what loads is what wins a nub. A dry run checks
     * every kext that might. */
    if (phase == 2 && !dry) {
        kx_kernel_match_all(k);
        kx_kernel_match_wait(k);
    }
    pthread_mutex_lock(&k->op_lock);
    enum kx_boot_list list = phase == 1 ? KX_BOOT_PHASE1 : KX_BOOT_PHASE2;
    size_t n = k->plan && (phase == 1 || dry) ? kx_boot_plan_count(k->plan, list) : 0;
    for (size_t i = 0; i < n; i++) {
        const struct kx_boot_item *it = kx_boot_plan_item(k->plan, list, i);
        if (!it->kext || kx_kext_is_loaded(it->kext))
            continue;
        kx_status st = boot_load(k, it, flags, f);
        if (st != STATUS_SUCCESS && first_failure == STATUS_SUCCESS)
            first_failure = st;
    }
    if (phase == 2 && k->plan && !dry)
        unload_unneeded(k, f);
    pthread_mutex_unlock(&k->op_lock);
    fclose(f);
    if (report)
        *report = buf;
    else
        free(buf);
    return first_failure;
}

kx_status kx_kernel_boot(struct kx_kernel *k, uint32_t flags, char **report)
{
    char *r1 = NULL, *r2 = NULL;
    kx_status st = kx_kernel_boot_phase(k, 1, flags, &r1);
    kx_status st2 = k->boot.mode == KX_BOOT_SINGLE_USER ? STATUS_SUCCESS
                                                        : kx_kernel_boot_phase(k, 2, flags, &r2);
    if (report) {
        if (asprintf(report, "%s%s", r1 ? r1 : "", r2 ? r2 : "") < 0)
            *report = NULL;
    }
    free(r1);
    free(r2);
    return st != STATUS_SUCCESS ? st : st2;
}

kx_status kx_kernel_update_cache(struct kx_kernel *k, int *rebuilt, char **report)
{
    if (rebuilt)
        *rebuilt = 0;
    if (report)
        *report = NULL;
    switch (k->cache_verdict) {
    case KX_CACHE_MISSING:
    case KX_CACHE_CORRUPT:
    case KX_CACHE_FOREIGN:
    case KX_CACHE_STALE_MTIME:
    case KX_CACHE_STALE_CONTENT: break;
    default: /* usable, or ignored (safe boot, --no-cache), or not ours to replace */
        return STATUS_SUCCESS;
    }
    if (!k->boot.n_folders || k->boot.mode == KX_BOOT_SAFE)
        return STATUS_SUCCESS;
    char why[512] = "";
    struct kx_cache_build_report rep = KX_CACHE_BUILD_REPORT_INIT;
    pthread_mutex_lock(&k->op_lock);
    kx_status st =
        kx_cache_update(&k->boot, &k->opts, KX_CACHE_ALL, rebuilt, &rep, why, sizeof why);
    pthread_mutex_unlock(&k->op_lock);
    if (report &&
        asprintf(report, "%s%s%zu kexts in the cache", why, *why ? "; " : "", rep.n_archived) < 0)
        *report = NULL;
    kx_cache_build_report_clear(&rep);
    return st;
}

int kx_kernel_kext_loadable(struct kx_kernel *k, const char *bundle_id, char **reason)
{
    pthread_mutex_lock(&k->op_lock); /* resolution writes into the repository */
    int yes = kx_match_kext_loadable(k->repo, bundle_id, reason);
    pthread_mutex_unlock(&k->op_lock);
    return yes;
}

/* ---- kextstat ----------------------------------------------------------------- */

kx_status kx_kernel_stat(struct kx_kernel *k, struct kx_kernel_kext_stat **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    pthread_mutex_lock(&k->state_lock);
    size_t n = 0;
    for (struct kx_loaded *l = k->loaded; l; l = l->next)
        n++;
    struct kx_kernel_kext_stat *v = calloc(n ? n : 1, sizeof *v);
    kx_status st = v ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
    size_t i = 0;
    for (struct kx_loaded *l = k->loaded; st == STATUS_SUCCESS && l; l = l->next, i++) {
        struct kx_kernel_kext_stat *s = &v[i];
        s->tag = l->tag;
        s->refs = l->refs;
        s->address = l->address;
        s->host_pid = l->host_pid;
        s->host_state = (uint32_t)l->host_state;
        s->restarts = l->restarts;
        snprintf(s->host_note, sizeof s->host_note, "%s", l->host_note);
        s->size = s->wired = l->size; /* everything a kext maps stays resident */
        snprintf(s->id, sizeof s->id, "%s", kx_kext_id(l->kext));
        snprintf(s->version, sizeof s->version, "%s", kx_kext_version_string(l->kext));
        snprintf(s->uuid, sizeof s->uuid, "%s", l->uuid);
        if (!l->is_component && !(s->path = strdup(kx_kext_path(l->kext))))
            st = STATUS_INSUFFICIENT_RESOURCES;
        if (l->n_deps && !(s->linked_against = calloc(l->n_deps, sizeof *s->linked_against)))
            st = STATUS_INSUFFICIENT_RESOURCES;
        for (size_t d = 0; s->linked_against && d < l->n_deps; d++)
            s->linked_against[s->n_linked_against++] = l->deps[d]->tag;
    }
    pthread_mutex_unlock(&k->state_lock);
    if (st != STATUS_SUCCESS) {
        kx_kernel_stat_free(v, i);
        return st;
    }
    *out = v;
    *n_out = n;
    return STATUS_SUCCESS;
}

void kx_kernel_stat_free(struct kx_kernel_kext_stat *stats, size_t n)
{
    for (size_t i = 0; stats && i < n; i++) {
        free(stats[i].path);
        free(stats[i].linked_against);
    }
    free(stats);
}
