/* loader.c — loading and unloading kexts: resolve, check, link, start; and
 * the reverse, refused while anything still uses a kext.
 *
 * A load first checks every kext of the load list without running any of
 * their code, by the one verdict dry runs give too (verdict.c): an executable
 * for this machine, a driver-info record matching CFBundleVersion, every
 * import from a declared library (link.c). Only then are executables
 * opened (dependencies first) and DriverEntry run. If any step fails, what
 * this load did is undone in reverse, so a failed load leaves the kernel as
 * it found it. See kernel_int.h for the state machine and the locks.
 */
#include "kernel_int.h"

#include "core/plat_user.h"
#include "verdict.h"
#include "lua/lua_drv.h"

#include "core/plat_dl.h"

#include <plist/plist.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A failed load's reason in one line, for the kernel's log (the report says it at length).
 * The first reason wins: later ones are what the undoing of the load ran into. */
static void set_why(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_why(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;
    if (!why || !why_len || *why)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

/* The first diagnostic that stops a load as the reason. */
static void diag_why(const struct kx_diags *d, char *why, size_t why_len)
{
    const struct kx_diag *x = kx_diags_first_failure(d);
    char *line = x ? kx_diag_line(x) : NULL;
    if (line)
        set_why(why, why_len, "%s", line);
    free(line);
}

/* Root, or the user kxd itself runs as (a development kxd serves its owner). */
static int is_root(const struct kx_io_cred *cred)
{
    return !cred || cred->uid == 0 || cred->uid == kx_plat_self_uid();
}

struct kx_loaded *kx__kernel_find_loaded(struct kx_kernel *k, const char *id)
{
    for (struct kx_loaded *l = k->loaded; l; l = l->next)
        if (kx_kext_id(l->kext) && strcmp(kx_kext_id(l->kext), id) == 0)
            return l;
    return NULL;
}

static struct kx_loaded *find_loaded_kext(struct kx_kernel *k, const struct kx_kext *kext)
{
    for (struct kx_loaded *l = k->loaded; l; l = l->next)
        if (l->kext == kext)
            return l;
    return NULL;
}

static const char *exec_of(void *arg, struct kx_kext *x)
{
    return kx__kernel_exec_path(arg, x);
}

/* ---- executing -------------------------------------------------------------- */

void kx__kernel_append_loaded(struct kx_kernel *k, struct kx_loaded *l)
{
    pthread_mutex_lock(&k->state_lock);
    l->tag = k->next_tag++;
    struct kx_loaded **pp = &k->loaded;
    while (*pp)
        pp = &(*pp)->next;
    *pp = l;
    pthread_mutex_unlock(&k->state_lock);
}

static void remove_loaded(struct kx_kernel *k, struct kx_loaded *l)
{
    pthread_mutex_lock(&k->state_lock);
    struct kx_loaded **pp = &k->loaded;
    while (*pp && *pp != l)
        pp = &(*pp)->next;
    if (*pp)
        *pp = l->next;
    for (size_t i = 0; i < l->n_deps; i++)
        l->deps[i]->refs--;
    pthread_mutex_unlock(&k->state_lock);
}

static void free_loaded(struct kx_loaded *l)
{
    if (l) {
        free(l->deps);
        free(l);
    }
}

/* Whether a driver kext runs in a kx-host process: the kernel's mode, unless
 * its Info.plist says KXHostProcess = false. */
static int wants_host_process(struct kx_kernel *k, const struct kx_kext *kext)
{
    if (!k->host_process)
        return 0;
    plist_t v = plist_dict_get_item(kx_kext_info(kext), "KXHostProcess");
    uint8_t b = 1;
    if (v && plist_get_node_type(v) == PLIST_BOOLEAN)
        plist_get_bool_val(v, &b);
    return b != 0;
}

int kx__kernel_wants_root(const struct kx_kext *kext)
{
    plist_t v = plist_dict_get_item(kx_kext_info(kext), "KXHostKeepRoot");
    uint8_t b = 0;
    if (v && plist_get_node_type(v) == PLIST_BOOLEAN)
        plist_get_bool_val(v, &b);
    return b != 0;
}

/* In host-process mode libraries are mapped into kxd only when an in-process
 * driver needs them: maps l's libraries (theirs first) that are not. */
static kx_status map_libraries(struct kx_kernel *k, struct kx_loaded *l, char *why, size_t why_len)
{
    for (size_t i = 0; i < l->n_deps; i++) {
        struct kx_loaded *dep = l->deps[i];
        kx_status st = map_libraries(k, dep, why, why_len);
        const char *exe = kx__kernel_exec_path(k, dep->kext);
        if (st != STATUS_SUCCESS || dep->dl || !exe)
            continue;
        char *dlwhy = NULL;
        st = kx_plat_dl_open(exe, &dep->dl, &dlwhy);
        if (st != STATUS_SUCCESS) {
            set_why(why, why_len, "the dynamic linker refused %s: %s", exe, dlwhy ? dlwhy : "?");
            free(dlwhy);
            return st;
        }
        kx_plat_dl_extent(dep->dl, &dep->address, &dep->size);
    }
    return STATUS_SUCCESS;
}

/* The executables of l's libraries, theirs first, each once: what a host
 * process opens before the driver. Returns how many went into out[]. */
size_t kx__kernel_host_libraries(struct kx_kernel *k, const struct kx_loaded *l, const char **out,
                                 size_t n, size_t cap)
{
    for (size_t i = 0; i < l->n_deps; i++) {
        n = kx__kernel_host_libraries(k, l->deps[i], out, n, cap);
        const char *exe = kx__kernel_exec_path(k, l->deps[i]->kext);
        int seen = !exe;
        for (size_t j = 0; j < n && !seen; j++)
            seen = strcmp(out[j], exe) == 0;
        if (!seen && n < cap)
            out[n++] = exe;
    }
    return n;
}

/* Maps and starts one prepared kext. Its libraries are already loaded. */
static kx_status start_one(struct kx_kernel *k, struct kx_verdict_kext *p, FILE *report,
                           char *why_out, size_t why_len, struct kx_loaded **out)
{
    char line[512];
    const char *id = kx_kext_id(p->kext);
    struct kx_loaded *l = calloc(1, sizeof *l);
    if (!l || (p->n_libs && !(l->deps = calloc(p->n_libs, sizeof(struct kx_loaded *))))) {
        free_loaded(l);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    l->kext = p->kext;
    memcpy(l->uuid, p->uuid, sizeof l->uuid);
    for (size_t i = 0; i < p->n_libs; i++) {
        struct kx_loaded *dep = find_loaded_kext(k, p->libs[i]);
        if (!dep) { /* resolution promised it: a bug, not a user error */
            free_loaded(l);
            return STATUS_INTERNAL_ERROR;
        }
        l->deps[l->n_deps++] = dep;
    }

    kx_status st = STATUS_SUCCESS;
    const char *exe = kx__kernel_exec_path(k, p->kext);
    /* A driver in its own process: nothing of it is mapped here (design
     * rule 2). Libraries wait until an in-process driver needs them. */
    int hosted = p->has_entry && wants_host_process(k, p->kext);
    if (exe && !hosted && !p->has_entry && k->host_process)
        exe = NULL;
    if (exe && !hosted && p->has_entry &&
        (st = map_libraries(k, l, line, sizeof line)) != STATUS_SUCCESS) {
        fprintf(report, "%s: %s\n", id, line);
        set_why(why_out, why_len, "%s", line);
        free_loaded(l);
        return st;
    }
    if (exe && !hosted && p->is_lua) {
        /* A Lua driver in-process: the script goes to the Lua DriverEntry. */
        st = kx_lua_stage(p->info.name, exe, line, sizeof line);
        if (st != STATUS_SUCCESS) {
            fprintf(report, "%s: %s\n", id, line);
            set_why(why_out, why_len, "%s", line);
            free_loaded(l);
            return st;
        }
    } else if (exe && !hosted) {
        char *why = NULL;
        st = kx_plat_dl_open(exe, &l->dl, &why);
        if (st != STATUS_SUCCESS) {
            snprintf(line, sizeof line, "the dynamic linker refused %s: %s", exe, why);
            fprintf(report, "%s: %s\n", id, line);
            set_why(why_out, why_len, "%s", line);
            free(why);
            free_loaded(l);
            return st;
        }
        kx_plat_dl_extent(l->dl, &l->address, &l->size);
    }
    if (hosted && kx__kernel_wants_root(p->kext) && !k->host_allow_root) {
        snprintf(line, sizeof line,
                 "its Info.plist asks to keep root (KXHostKeepRoot = true), which kxd refuses "
                 "unless started with --allow-host-root");
        fprintf(report, "%s: %s\n", id, line);
        set_why(why_out, why_len, "%s: %s", id, line);
        free_loaded(l);
        return STATUS_ACCESS_DENIED;
    }
    if (p->has_entry) {
        const char *libs[64];
        size_t n_libs = hosted ? kx__kernel_host_libraries(k, l, libs, 0, 64) : 0;
        kx_io_entry_fn entry = NULL; /* a hosted driver's is taken in its host */
        if (!hosted)
            entry = p->is_lua ? kx_lua_driver_entry
                              : (kx_io_entry_fn)kx_plat_dl_sym(l->dl, "DriverEntry");
        struct kx_io_driver_params params = {
            sizeof params, &p->info, entry,
            NULL,          0,        hosted ? exe : NULL,
            libs,          n_libs,   hosted && kx__kernel_wants_root(p->kext)};
        st = kx_io_driver_start(k->io, &params, &l->driver);
        if (p->is_lua && !hosted)
            kx_lua_unstage(p->info.name); /* DriverEntry took it, or never ran */
        if (st == STATUS_SUCCESS && hosted) {
            kx_io_driver_host(k->io, l->driver, &l->host_pid, &l->address, &l->size);
            l->info = p->info;
            l->host_state = KX_KERNEL_HOST_RUNNING;
            kx__kernel_restart_policy(l);
        }
        if (st != STATUS_SUCCESS) {
            snprintf(line, sizeof line, "DriverEntry failed: %s (%s)", kx_status_name(st),
                     kx_status_string(st));
            fprintf(report, "%s: %s\n", id, line);
            set_why(why_out, why_len, "%s", line);
            kx_plat_dl_close(l->dl);
            free_loaded(l);
            /* A host that hung or died says so: the caller did nothing wrong. */
            return st == STATUS_INSUFFICIENT_RESOURCES || st == STATUS_DRIVER_NOT_RESPONDING ||
                           st == STATUS_DRIVER_PROCESS_TERMINATED
                       ? st
                       : STATUS_KEXT_START_FAILED;
        }
    }
    pthread_mutex_lock(&k->state_lock);
    for (size_t i = 0; i < l->n_deps; i++)
        l->deps[i]->refs++;
    pthread_mutex_unlock(&k->state_lock);
    kx_kext_repo_set_loaded(k->repo, p->kext, 1);
    kx__kernel_append_loaded(k, l);
    *out = l;
    return STATUS_SUCCESS;
}

/* Stops and unmaps one kext that nothing depends on. With force, open
 * handles are closed and a failing DriverUnload doesn't keep it loaded. */
static kx_status stop_one(struct kx_kernel *k, struct kx_loaded *l, int force, FILE *report)
{
    const char *id = kx_kext_id(l->kext);
    int keep_mapped = 0;
    kx_status died = STATUS_SUCCESS;
    kx__runtime_remove_instances(k, id, NULL); /* its drivers let go of their nubs first */
    if (l->driver) {
        kx_status st = kx_io_driver_unload(k->io, l->driver, force ? KX_IO_UNLOAD_FORCE : 0);
        if (st == STATUS_INVALID_HANDLE)
            st = STATUS_SUCCESS; /* its host process died: the manager removed it already */
        kx__runtime_driver_gone(k, l->driver);
        if (st == STATUS_DRIVER_NOT_RESPONDING || st == STATUS_DRIVER_PROCESS_TERMINATED) {
            /* The driver is gone with its host; the kext unloads all the same. */
            fprintf(report, "%s: DriverUnload: %s (%s); its devices and links were removed\n", id,
                    kx_status_name(st), kx_status_string(st));
            died = st;
            st = STATUS_SUCCESS;
        }
        if (st == STATUS_TIMEOUT) {
            /* The driver is gone from the namespace but its thread is stuck in
             * DriverUnload: its code must stay mapped until kx_io_free. */
            fprintf(report,
                    "%s: DriverUnload did not return in time; its devices were "
                    "removed and its code stays mapped\n",
                    id);
            keep_mapped = 1;
        } else if (st != STATUS_SUCCESS && !force) {
            fprintf(report, "%s: can't stop: %s (%s)%s\n", id, kx_status_name(st),
                    kx_status_string(st),
                    st == STATUS_INVALID_DEVICE_REQUEST ? "; the driver has no DriverUnload" : "");
            return st == STATUS_DEVICE_BUSY ? STATUS_KEXT_IN_USE : STATUS_KEXT_START_FAILED;
        }
    }
    remove_loaded(k, l);
    kx_kext_repo_set_loaded(k->repo, l->kext, 0);
    if (!keep_mapped)
        kx_plat_dl_close(l->dl);
    kx__kernel_note(k, "unloaded %s (tag %u)", id, (unsigned)l->tag);
    free_loaded(l);
    return died;
}

/* ---- load ------------------------------------------------------------------- */

/* kextload -b ID when no copy of ID is loaded. kxd keeps every bundle it
 * was ever given, and a copy may have been fixed, broken or deleted since it
 * was read: the copies are read again (those whose bundle is gone are
 * forgotten), then the newest valid and authentic one is chosen. The report
 * names the choice, and why each other copy was passed over, whenever there
 * was more than one. With no valid copy the preferred one is taken, so that
 * the loader says what is wrong with it. */
static kx_status choose_copy(struct kx_kernel *k, const char *id, struct kx_kext **out,
                             FILE *report)
{
    size_t n = 0;
    struct kx_kext *const *copies = kx_kext_repo_copies(k->repo, id, &n);
    for (size_t i = 0; i < n; i++)
        kx__kernel_exec_forget(k, copies[i]); /* the cache's copy is of the old bundle */
    kx_status st = kx_kext_repo_refresh(k->repo, id, report);
    if (st != STATUS_SUCCESS)
        return st;
    copies = kx_kext_repo_copies(k->repo, id, &n);
    *out = NULL;
    for (size_t i = 0; i < n && !*out; i++)
        if (kx_kext_is_valid(copies[i]) && kx_kext_is_authentic(copies[i]))
            *out = copies[i];
    if (n < 2) {
        *out = n ? copies[0] : NULL;
        return STATUS_SUCCESS;
    }
    if (*out)
        fprintf(report, "%s: %zu copies; chose %s (%s), the newest valid one.\n", id, n,
                kx_kext_path(*out), kx_kext_version_string(*out));
    else
        fprintf(report, "%s: %zu copies, none valid; trying %s (%s).\n", id, n,
                kx_kext_path(copies[0]), kx_kext_version_string(copies[0]));
    for (size_t i = 0; i < n; i++) {
        if (copies[i] == *out || (!*out && i == 0))
            continue;
        const struct kx_diag *d = kx_diags_first_failure(kx_kext_diags(copies[i]));
        char *line = d ? kx_diag_line(d) : NULL;
        fprintf(report, "    passed over %s (%s): %s\n", kx_kext_path(copies[i]),
                kx_kext_version_string(copies[i]) ? kx_kext_version_string(copies[i])
                                                  : "no version",
                line ? line : "an older version or added earlier");
        free(line);
    }
    if (!*out)
        *out = copies[0];
    return STATUS_SUCCESS;
}

/* Finds the kext a request names: a bundle path or a bundle identifier. */
static kx_status find_kext(struct kx_kernel *k, const char *what, const struct kx_io_cred *cred,
                           struct kx_kext **out, FILE *report)
{
    if (strchr(what, '/') || strstr(what, ".kext")) {
        /* kxd would read the path with its own rights, not the caller's:
         * an unprivileged caller must not learn through it what exists or
         * what a folder it can't read holds. Refused before any file access. */
        if (!is_root(cred)) {
            fprintf(report, "You must be running as root to load kexts by path. kextload -b ID "
                            "loads a kext of kxd's extensions folders; kextutil -n KEXT checks a "
                            "bundle with your own rights.\n");
            return STATUS_ACCESS_DENIED;
        }
        size_t known = kx_kext_repo_count(k->repo);
        kx_status st = kx_kext_repo_add_kext(k->repo, what, out);
        /* A bundle kxd read before is read again: it may have changed since. */
        if (st == STATUS_SUCCESS && kx_kext_repo_count(k->repo) == known &&
            !kx_kext_is_loaded(*out)) {
            kx__kernel_exec_forget(k, *out);
            if (kx_kext_repo_forget(k->repo, *out) == STATUS_SUCCESS)
                st = kx_kext_repo_add_kext(k->repo, what, out);
        }
        if (st != STATUS_SUCCESS)
            fprintf(report, "%s: can't read the bundle: %s\n", what, kx_status_string(st));
        return st == STATUS_SUCCESS ? st : STATUS_KEXT_NOT_FOUND;
    }
    *out = kx_kext_repo_lookup(k->repo, what, KX_VERS_INVALID);
    if (*out && !kx_kext_is_loaded(*out)) {
        kx_status st = choose_copy(k, what, out, report);
        if (st != STATUS_SUCCESS)
            return st;
    }
    if (!*out) {
        fprintf(report, "No kext with bundle identifier %s is in the extensions folders.\n", what);
        return STATUS_KEXT_NOT_FOUND;
    }
    return STATUS_SUCCESS;
}

static void list_not_user_loadable(struct kx_kext_resolution *res, FILE *report)
{
    fprintf(report, "Only root may load this kext: OSBundleAllowUserLoad is not true for:\n");
    for (size_t i = 0; i < kx_kext_resolution_n_load_order(res); i++) {
        struct kx_kext *x = kx_kext_resolution_load_order(res, i);
        if (!kx_kext_allows_user_load(x) && !kx_kext_is_loaded(x))
            fprintf(report, "    %s\n", kx_kext_id(x));
    }
}

static kx_status load_locked(struct kx_kernel *k, const char *what, const struct kx_io_cred *cred,
                             uint32_t flags, FILE *report)
{
    struct kx_kext *kext = NULL;
    kx_status st = find_kext(k, what, cred, &kext, report);
    if (st == STATUS_SUCCESS)
        st = kx__kernel_load_kext(k, kext, cred, flags, report, NULL, 0);
    /* kextload sends the kext's personalities, and IOKit matches every nub
     * again with them (the match runs on its own thread, after this). */
    if (st == STATUS_SUCCESS && !(flags & KX_KERNEL_LOAD_DRY_RUN)) {
        kx__runtime_catalog_add(k, kext);
        kx_kernel_match_all(k);
    }
    return st;
}

kx_status kx__kernel_load_kext(struct kx_kernel *k, struct kx_kext *kext,
                               const struct kx_io_cred *cred, uint32_t flags, FILE *report,
                               char *why, size_t why_len)
{
    kx_status st = STATUS_SUCCESS;
    const char *id = kx_kext_id(kext);
    struct kx_loaded *already = id ? kx__kernel_find_loaded(k, id) : NULL;
    if (already) {
        if (already->kext == kext || kx_kext_version(already->kext) == kx_kext_version(kext)) {
            fprintf(report, "%s (%s) is already loaded (tag %u).\n", id,
                    kx_kext_version_string(already->kext), (unsigned)already->tag);
            return STATUS_SUCCESS;
        }
        fprintf(report, "%s: version %s is loaded; can't load version %s (%s).\n", id,
                kx_kext_version_string(already->kext), kx_kext_version_string(kext),
                kx_kext_path(kext));
        set_why(why, why_len, "version %s of %s is loaded", kx_kext_version_string(already->kext),
                id);
        return STATUS_KEXT_LOADED_VERSION_DIFFERS;
    }

    struct kx_kext_resolution *res = NULL;
    if ((st = kx_kext_resolve(k->repo, kext, &res)) != STATUS_SUCCESS)
        return st;
    struct kx_diags diags = KX_DIAGS_INIT;
    kx_diags_merge(&diags, kx_kext_resolution_diags(res));
    size_t n = kx_kext_resolution_n_load_order(res);
    struct kx_verdict v = {NULL, 0};
    struct kx_loaded **done = calloc(n ? n : 1, sizeof(struct kx_loaded *));
    size_t n_done = 0;
    if (!done) {
        st = STATUS_INSUFFICIENT_RESOURCES;
        goto out;
    }
    if (!kx_kext_resolution_is_loadable(res)) {
        st = kx_kext_resolution_status(res);
        kx_diags_print(&diags, kx_kext_path(kext), report);
        diag_why(&diags, why, why_len);
        goto out;
    }
    if (!is_root(cred) && !kx_kext_resolution_user_loadable(res)) {
        list_not_user_loadable(res, report);
        st = STATUS_ACCESS_DENIED;
        goto out;
    }

    /* The one verdict (verdict.c), on the whole list before running anything. */
    st = kx_verdict_check(res, exec_of, k, &v, &diags);
    if (st != STATUS_SUCCESS) {
        kx_diags_print(&diags, kx_kext_path(kext), report);
        diag_why(&diags, why, why_len);
        goto out;
    }
    if (flags & KX_KERNEL_LOAD_DRY_RUN) {
        fprintf(report, "%s appears to be loadable (including linkage for on-disk libraries).\n",
                kx_kext_path(kext));
        goto out;
    }

    for (size_t i = 0; i < v.n_items; i++) {
        char dep_why[512] = "";
        int is_dep = v.items[i].kext != kext;
        st = start_one(k, &v.items[i], report, is_dep ? dep_why : why,
                       is_dep ? sizeof dep_why : why_len, &done[n_done]);
        if (st != STATUS_SUCCESS) {
            if (is_dep) {
                fprintf(report, "Dependency %s of kext %s failed to load.\n",
                        kx_kext_id(v.items[i].kext), id);
                set_why(why, why_len, "dependency %s failed to load: %s",
                        kx_kext_id(v.items[i].kext), dep_why);
            }
            break;
        }
        n_done++;
    }
    if (st != STATUS_SUCCESS) {
        while (n_done) /* undo this load, newest first */
            stop_one(k, done[--n_done], 1, report);
        goto out;
    }
    for (size_t i = 0; i < n_done; i++) {
        fprintf(report, "Loaded %s (%s) as tag %u.\n", kx_kext_id(done[i]->kext),
                kx_kext_version_string(done[i]->kext), (unsigned)done[i]->tag);
        kx__kernel_note(k, "loaded %s (%s) as tag %u", kx_kext_id(done[i]->kext),
                        kx_kext_version_string(done[i]->kext), (unsigned)done[i]->tag);
    }
out:
    kx_verdict_free(&v);
    free(done);
    kx_diags_clear(&diags);
    kx_kext_resolution_free(res);
    return st;
}

/* Runs one load or unload under op_lock, collecting what it says into a
 * report the caller takes (or that is dropped when report is NULL). */
typedef kx_status (*locked_op)(struct kx_kernel *k, const char *what, const struct kx_io_cred *cred,
                               uint32_t flags, FILE *report);

static kx_status run_reported(struct kx_kernel *k, locked_op op, const char *what,
                              const struct kx_io_cred *cred, uint32_t flags, char **report)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (report)
        *report = NULL;
    if (!f)
        return STATUS_INSUFFICIENT_RESOURCES;
    pthread_mutex_lock(&k->op_lock);
    kx_status st = op(k, what, cred, flags, f);
    pthread_mutex_unlock(&k->op_lock);
    fclose(f);
    if (report)
        *report = buf;
    else
        free(buf);
    return st;
}

kx_status kx_kernel_load(struct kx_kernel *k, const char *kext, const struct kx_io_cred *cred,
                         uint32_t flags, char **report)
{
    return run_reported(k, load_locked, kext, cred, flags, report);
}

/* ---- unload ----------------------------------------------------------------- */

/* 1 when l depends, directly or not, on target. */
static int depends_on(const struct kx_loaded *l, const struct kx_loaded *target)
{
    for (size_t i = 0; i < l->n_deps; i++)
        if (l->deps[i] == target || depends_on(l->deps[i], target))
            return 1;
    return 0;
}

/* Names every handle that holds a device of the kexts in set; 0 if none.
 * Opens for no access don't hold one: unloading revokes them. */
static size_t report_open_handles(struct kx_kernel *k, struct kx_loaded **set, size_t n,
                                  FILE *report)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        struct kx_io_handle_stat *hs = NULL;
        size_t nh = 0;
        if (!set[i]->driver ||
            kx_io_list_handles(k->io, set[i]->driver, &hs, &nh) != STATUS_SUCCESS)
            continue;
        for (size_t j = 0; j < nh; j++) {
            if (!hs[j].access)
                continue;
            if (total++ == 0)
                fprintf(report, "Devices are open:\n");
            fprintf(report, "    %s (%s) open by pid %d (uid %u)\n", hs[j].device,
                    kx_kext_id(set[i]->kext), (int)hs[j].cred.pid, (unsigned)hs[j].cred.uid);
        }
        free(hs);
    }
    return total;
}

/* kextunload -c CLASS: every instance of the class goes; code and
 * personalities stay (a rematch may bring the class back). */
static kx_status terminate_class(struct kx_kernel *k, const char *ioclass, FILE *report)
{
    size_t n = kx__runtime_instance_count(k, NULL, ioclass);
    if (!n) {
        fprintf(report, "No instances of class %s.\n", ioclass);
        return STATUS_NO_SUCH_DEVICE;
    }
    if (kx__runtime_instance_holders(k, NULL, ioclass)) {
        fprintf(report,
                "Can't terminate the instances of class %s while their devices are "
                "open; close them first.\n",
                ioclass);
        return STATUS_KEXT_IN_USE;
    }
    kx__runtime_remove_instances(k, NULL, ioclass);
    fprintf(report, "Terminated %zu instance(s) of class %s.\n", n, ioclass);
    return STATUS_SUCCESS;
}

/* kextunload -p: its instances go and its personalities leave the
 * catalogue; its code stays loaded. */
static kx_status personalities_only(struct kx_kernel *k, struct kx_loaded *target, FILE *report)
{
    const char *id = kx_kext_id(target->kext);
    if (report_open_handles(k, &target, 1, report) > 0) {
        fprintf(report,
                "Can't terminate the instances of %s while its devices are open; close "
                "them first.\n",
                id);
        return STATUS_KEXT_IN_USE;
    }
    size_t n = kx__runtime_instance_count(k, id, NULL);
    kx__runtime_remove_instances(k, id, NULL);
    size_t np = kx__runtime_catalog_remove(k, id);
    fprintf(report, "Terminated %zu instance(s) and removed %zu personalit%s of %s.\n", n, np,
            np == 1 ? "y" : "ies", id);
    return STATUS_SUCCESS;
}

static kx_status unload_locked(struct kx_kernel *k, const char *what, const struct kx_io_cred *cred,
                               uint32_t flags, FILE *report)
{
    if (!is_root(cred)) {
        fprintf(report, "You must be running as root to unload kexts.\n");
        return STATUS_ACCESS_DENIED;
    }
    if (flags & KX_KERNEL_UNLOAD_CLASS)
        return terminate_class(k, what, report);
    struct kx_loaded *target = NULL;
    for (struct kx_loaded *l = k->loaded; l && !target; l = l->next)
        if ((kx_kext_id(l->kext) && strcmp(kx_kext_id(l->kext), what) == 0) ||
            (kx_kext_path(l->kext) && strcmp(kx_kext_path(l->kext), what) == 0))
            target = l;
    if (!target) {
        fprintf(report, "%s is not loaded.\n", what);
        return STATUS_KEXT_NOT_FOUND;
    }
    const char *id = kx_kext_id(target->kext);
    if (target->is_component) {
        fprintf(report, "%s is a kernel component and can't be unloaded.\n", id);
        return STATUS_KEXT_IN_USE;
    }
    if (flags & KX_KERNEL_UNLOAD_PERSONALITIES)
        return personalities_only(k, target, report);

    /* The set to unload: the target and, with -r, everything that depends on
     * it — in load order, so unloading walks it backwards. */
    size_t n = 0;
    for (struct kx_loaded *l = k->loaded; l; l = l->next)
        n++;
    struct kx_loaded **set = calloc(n, sizeof(struct kx_loaded *));
    if (!set)
        return STATUS_INSUFFICIENT_RESOURCES;
    n = 0;
    for (struct kx_loaded *l = k->loaded; l; l = l->next) {
        if (l == target || ((flags & KX_KERNEL_UNLOAD_RECURSIVE) && depends_on(l, target)))
            set[n++] = l;
    }

    kx_status st = STATUS_SUCCESS;
    if (!(flags & KX_KERNEL_UNLOAD_RECURSIVE) && target->refs > 0) {
        fprintf(report,
                "Can't unload kext %s; outstanding references %d (linkage or tracking object).\n"
                "It is in use by:\n",
                id, (int)target->refs);
        for (struct kx_loaded *l = k->loaded; l; l = l->next)
            if (depends_on(l, target))
                fprintf(report, "    %s (tag %u)\n", kx_kext_id(l->kext), (unsigned)l->tag);
        fprintf(report, "Unload the kexts above first, or use -r to unload them with it.\n");
        st = STATUS_KEXT_IN_USE;
    }
    if (report_open_handles(k, set, n, report) > 0) {
        if (st == STATUS_SUCCESS)
            fprintf(report, "Can't unload kext %s while its devices are open; close them first.\n",
                    id);
        st = STATUS_KEXT_IN_USE;
    }
    kx_status died = STATUS_SUCCESS; /* a driver whose host hung or died in DriverUnload */
    for (size_t i = n; st == STATUS_SUCCESS && i > 0; i--) {
        struct kx_kext *x = set[i - 1]->kext; /* the record is freed by stop_one */
        st = stop_one(k, set[i - 1], 0, report);
        if (st == STATUS_DRIVER_NOT_RESPONDING || st == STATUS_DRIVER_PROCESS_TERMINATED) {
            died = st; /* unloaded all the same */
            st = STATUS_SUCCESS;
        }
        if (st == STATUS_SUCCESS) /* Apple's kextunload: "unloaded and personalities removed" */
            kx__runtime_catalog_remove(k, kx_kext_id(x));
        if (st == STATUS_SUCCESS)
            fprintf(report, "Unloaded %s.\n", kx_kext_id(x));
        else
            fprintf(report, "%s stays loaded, and so does every kext it depends on.\n",
                    kx_kext_id(x));
    }
    free(set);
    return st == STATUS_SUCCESS ? died : st;
}

kx_status kx_kernel_unload(struct kx_kernel *k, const char *kext, const struct kx_io_cred *cred,
                           uint32_t flags, char **report)
{
    return run_reported(k, unload_locked, kext, cred, flags, report);
}

kx_status kx__kernel_unload_unused(struct kx_kernel *k, struct kx_kext *x, FILE *report)
{
    struct kx_loaded *l = find_loaded_kext(k, x);
    if (!l || l->is_component || l->refs > 0)
        return STATUS_KEXT_IN_USE;
    kx_status st = stop_one(k, l, 0, report);
    return st == STATUS_DRIVER_NOT_RESPONDING || st == STATUS_DRIVER_PROCESS_TERMINATED
               ? STATUS_SUCCESS /* unloaded; the report says how its driver ended */
               : st;
}

void kx__kernel_unload_all(struct kx_kernel *k)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    for (;;) { /* newest first: a kext's dependents always load after it */
        struct kx_loaded *last = NULL;
        for (struct kx_loaded *l = k->loaded; l; l = l->next)
            if (!l->is_component)
                last = l;
        if (!last)
            break;
        stop_one(k, last, 1, f);
    }
    fclose(f);
    if (len)
        kx_log_info(&k->log, "%s", buf);
    free(buf);
}

void kx__kernel_unload_idle(struct kx_kernel *k, uint64_t now_ns)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    for (struct kx_loaded *l = k->loaded, *next; l; l = next) {
        next = l->next;
        if (!l->by_match || l->refs > 0 ||
            kx__runtime_instance_count(k, kx_kext_id(l->kext), NULL)) {
            l->idle_since_ns = 0;
            continue;
        }
        if (!l->idle_since_ns) {
            l->idle_since_ns = now_ns;
            continue;
        }
        if (now_ns - l->idle_since_ns < k->idle_unload_ns)
            continue;
        char id[256];
        snprintf(id, sizeof id, "%s", kx_kext_id(l->kext));
        kx_status st = stop_one(k, l, 0, f);
        if (st == STATUS_SUCCESS || st == STATUS_DRIVER_NOT_RESPONDING ||
            st == STATUS_DRIVER_PROCESS_TERMINATED) { /* unloaded either way */
            kx__kernel_note(k, "%s drove no nub for %llu s: unloaded", id,
                            (unsigned long long)(k->idle_unload_ns / 1000000000u));
            next = k->loaded; /* the list changed */
        }
    }
    fclose(f);
    free(buf);
}
