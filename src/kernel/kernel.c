/* kernel.c — the kernel object: an I/O manager, a kext repository and the
 * loaded kexts; creation, boot, kextstat's listing, and teardown.
 */
#include "kernel_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kx_io *kx_kernel_io(struct kx_kernel *k) { return k->io; }

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
        pthread_mutex_lock(&k->state_lock);
        l->tag = k->next_tag++;
        struct kx_loaded **pp = &k->loaded;
        while (*pp)
            pp = &(*pp)->next;
        *pp = l;
        pthread_mutex_unlock(&k->state_lock);
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
    k->next_tag = 1; /* 0 is the kernel itself, never listed */
    pthread_mutex_init(&k->op_lock, NULL);
    pthread_mutex_init(&k->state_lock, NULL);

    struct kx_io_config io_cfg = {0};
    if (cfg->io)
        io_cfg = *cfg->io;
    io_cfg.size = sizeof io_cfg;
    if (!io_cfg.logger)
        io_cfg.logger = cfg->logger;
    kx_status st = kx_io_new(&io_cfg, &k->io);
    if (st == STATUS_SUCCESS)
        st = kx_kext_repo_new(&k->opts, &k->repo);
    for (size_t i = 0; st == STATUS_SUCCESS && i < cfg->n_extension_dirs; i++) {
        kx_status fst = kx_kext_repo_add_folder(k->repo, cfg->extension_dirs[i]);
        if (fst == STATUS_INSUFFICIENT_RESOURCES)
            st = fst;
        else if (fst != STATUS_SUCCESS) /* a missing folder is worth a line, not a failure */
            kx_log_warnx(&k->log, "extensions folder %s: %s", cfg->extension_dirs[i],
                         kx_status_string(fst));
    }
    if (st == STATUS_SUCCESS)
        st = kx__kernel_register_components(k);
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
    pthread_mutex_lock(&k->op_lock);
    if (k->io)
        kx__kernel_unload_all(k);
    pthread_mutex_unlock(&k->op_lock);
    kx_io_free(k->io); /* joins any driver thread still running */
    while (k->loaded) {
        struct kx_loaded *l = k->loaded;
        k->loaded = l->next;
        free(l->deps);
        free(l);
    }
    kx_kext_repo_free(k->repo);
    pthread_mutex_destroy(&k->state_lock);
    pthread_mutex_destroy(&k->op_lock);
    free(k);
}

/* ---- boot ------------------------------------------------------------------- */

struct boot_item {
    struct kx_kext *kext;
    int32_t priority;
};

static int compare_boot_items(const void *a, const void *b)
{
    const struct boot_item *x = a, *y = b;
    if (x->priority != y->priority)
        return x->priority < y->priority ? -1 : 1;
    return strcmp(kx_kext_id(x->kext), kx_kext_id(y->kext));
}

/* A kext boot loads on its own: it has an ELF executable that exports
 * DriverEntry (libraries without one load only as dependencies). */
static int boots_on_its_own(struct kx_kext *x, int32_t *priority)
{
    const char *exe = kx_kext_executable(x);
    struct kx_elf *elf = NULL;
    struct kx_elf_dynsyms syms = {0};
    struct kx_driver_info info;
    int has_entry = 0;
    if (!exe || !kx_kext_id(x) || kx_kext_is_kernel_resource(x) ||
        kx_elf_open(exe, &elf, NULL, 0) != STATUS_SUCCESS)
        return 0;
    if (kx_elf_dynsyms(elf, &syms, NULL, 0) == STATUS_SUCCESS)
        for (size_t i = 0; i < syms.n_exports && !has_entry; i++)
            has_entry = strcmp(syms.exports[i].name, "DriverEntry") == 0;
    *priority = kx_elf_driver_info(elf, &info, NULL, 0) == STATUS_SUCCESS ? info.load_priority
                                                                           : INT32_MAX;
    kx_elf_dynsyms_free(&syms);
    kx_elf_close(elf);
    return has_entry;
}

kx_status kx_kernel_boot(struct kx_kernel *k, uint32_t flags, char **report)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (report)
        *report = NULL;
    if (!f)
        return STATUS_INSUFFICIENT_RESOURCES;

    pthread_mutex_lock(&k->op_lock);
    size_t n = kx_kext_repo_count(k->repo), n_items = 0;
    struct boot_item *items = calloc(n ? n : 1, sizeof *items);
    kx_status first_failure = items ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; items && i < n; i++) {
        struct kx_kext *x = kx_kext_repo_kext(k->repo, i);
        int32_t prio;
        /* One copy per identifier: the one a request for it would get. */
        if (boots_on_its_own(x, &prio) &&
            kx_kext_repo_lookup(k->repo, kx_kext_id(x), KX_VERS_INVALID) == x)
            items[n_items++] = (struct boot_item){x, prio};
    }
    /* Deterministic order: load priority (lower first), then bundle ID;
     * dependencies are loaded first by each load. */
    if (n_items)
        qsort(items, n_items, sizeof *items, compare_boot_items);
    pthread_mutex_unlock(&k->op_lock);

    for (size_t i = 0; i < n_items; i++) {
        char *one = NULL;
        kx_status st = kx_kernel_load(k, kx_kext_path(items[i].kext), NULL, flags, &one);
        /* Successes are already in the log; the report keeps what went wrong
         * (and, for a dry run, what would load). */
        if (st == STATUS_SUCCESS && (flags & KX_KERNEL_LOAD_DRY_RUN) && one)
            fputs(one, f);
        if (st != STATUS_SUCCESS) {
            fprintf(f, "%s failed to load - %s\n%s", kx_kext_path(items[i].kext),
                    kx_status_string(st), one ? one : "");
            if (first_failure == STATUS_SUCCESS)
                first_failure = st;
        }
        free(one);
    }
    free(items);
    fclose(f);
    if (report)
        *report = buf;
    else
        free(buf);
    return first_failure;
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
