/* boot.c — boot modes, and making a boot plan: filling the repository, then every kext's fate.
 *
 * kx_boot_plan_make fills the repository from the cache (when cache_check.c
 * says it is usable; the kexts come from its boot index, cache_index.c) or
 * by scanning the folders, then screens every kext:
 *
 *   eligible      a bundle identifier, valid, authentic, the preferred copy
 *                 of its identifier (highest version, newest on ties, among
 *                 valid copies); during safe boot also an OSBundleRequired
 *                 value and a personality without IOKitDebug
 *   excluded      may not load even as a library (invalid, inauthentic, no
 *                 executable this machine runs, or
 *                 refused by safe boot)
 *
 * boot_phase.c then fills phase 1 (eligible kexts whose OSBundleRequired
 * the mode chooses, with their libraries) and phase 2 (the remaining
 * eligible kexts with code that are not libraries, with theirs; none for
 * single-user), and boot_plan.c orders both (boot_order.c) and writes the
 * reasons. A cache whose index turns out damaged while its kexts are built
 * leaves the repository untouched: the plan scans instead and says why.
 */
#include "boot_int.h"

#include "core/plat.h"
#include "core/plist.h"
#include "elf.h"
#include "lua/lua_drv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ======== Modes ======== */

static const char *const mode_names[] = {"local", "network", "single-user", "safe"};

kx_status kx_boot_mode_parse(const char *name, enum kx_boot_mode *out)
{
    for (size_t i = 0; name && i < sizeof mode_names / sizeof mode_names[0]; i++)
        if (strcasecmp(name, mode_names[i]) == 0) {
            *out = (enum kx_boot_mode)i;
            return STATUS_SUCCESS;
        }
    return STATUS_INVALID_PARAMETER;
}

const char *kx_boot_mode_name(enum kx_boot_mode mode)
{
    return (size_t)mode < sizeof mode_names / sizeof mode_names[0] ? mode_names[mode] : "unknown";
}

int kx_boot_mode_chooses(enum kx_boot_mode mode, const char *req)
{
    if (!req)
        return 0;
    if (!strcmp(req, "Root") || !strcmp(req, "Console"))
        return 1;
    return mode == KX_BOOT_NETWORK ? !strcmp(req, "Network-Root") : !strcmp(req, "Local-Root");
}

const char *kx__boot_mode_values(enum kx_boot_mode mode)
{
    return mode == KX_BOOT_NETWORK ? "Root, Network-Root and Console"
                                   : "Root, Local-Root and Console";
}

/* ======== Small helpers ======== */

int32_t kx__boot_bytes_priority(const void *data, size_t len, int *has)
{
    struct kx_elf *e = NULL;
    struct kx_driver_info info;
    *has = 0;
    if (len >= 4 && memcmp(data, "\177ELF", 4) != 0) { /* a Lua driver's script? */
        *has = kx_lua_inspect(data, len, &info, NULL, 0) == STATUS_SUCCESS;
        return *has ? info.load_priority : KX_BOOT_DEFAULT_PRIORITY;
    }
    if (kx_elf_open_mem(data, len, &e, NULL, 0) != STATUS_SUCCESS)
        return KX_BOOT_DEFAULT_PRIORITY;
    *has = kx_elf_driver_info(e, &info, NULL, 0) == STATUS_SUCCESS;
    kx_elf_close(e);
    return *has ? info.load_priority : KX_BOOT_DEFAULT_PRIORITY;
}

int32_t kx__boot_exec_priority(const char *exec_path, int *has)
{
    struct kx_elf *e = NULL;
    struct kx_driver_info info;
    *has = 0;
    if (kx_lua_script_path(exec_path)) {
        *has = kx_lua_inspect_file(exec_path, &info, NULL, 0) == STATUS_SUCCESS;
        return *has ? info.load_priority : KX_BOOT_DEFAULT_PRIORITY;
    }
    if (!exec_path || kx_elf_open(exec_path, &e, NULL, 0) != STATUS_SUCCESS)
        return KX_BOOT_DEFAULT_PRIORITY;
    *has = kx_elf_driver_info(e, &info, NULL, 0) == STATUS_SUCCESS;
    kx_elf_close(e);
    return *has ? info.load_priority : KX_BOOT_DEFAULT_PRIORITY;
}

char *kx__boot_dupf(const char *fmt, ...)
{
    char *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&out, fmt, ap) < 0)
        out = NULL;
    va_end(ap);
    return out;
}

int kx__boot_set_text(char **slot, char *text)
{
    free(*slot);
    *slot = text;
    return text != NULL;
}

/* Every personality sets a non-zero IOKitDebug (the seed's safe-boot rule). */
static int all_personalities_debug(const struct kx_kext *k, const char *arch)
{
    plist_t ps = kx__kext_get(k, "IOKitPersonalities", arch);
    size_t n = 0, debug = 0;
    if (!kx_plist_is(ps, PLIST_DICT))
        return 0;
    plist_dict_iter it = NULL;
    plist_dict_new_iter(ps, &it);
    for (;;) {
        char *key = NULL;
        plist_t p = NULL;
        uint64_t v = 0;
        plist_dict_next_item(ps, it, &key, &p);
        if (!key)
            break;
        free(key);
        n++;
        plist_t d = kx_plist_is(p, PLIST_DICT) ? plist_dict_get_item(p, "IOKitDebug") : NULL;
        if (kx_plist_is(d, PLIST_UINT)) {
            plist_get_uint_val(d, &v);
            debug += v != 0;
        }
    }
    free(it);
    return n > 0 && debug == n;
}

/* ======== Filling the repository ======== */

/* The kexts of the boot index, built before any is handed to the repository:
 * a damaged record then makes the plan scan instead, with nothing to undo.
 * Each is restored from the fields validation gave it when the cache was
 * built (restore.c; cache_check.c has made sure it was built for this
 * architecture and these options): no Info.plist is parsed or validated
 * again, which is most of what a scan costs. */
static kx_status kexts_from_index(struct kx_boot_plan *p, struct kx_kext ***out, char *why,
                                  size_t why_len)
{
    const struct kx_cache_index *ix = &p->cache.ix;
    int no_exec = (p->repo->opts.flags & KX_KEXT_NO_EXEC) != 0;
    struct kx_kext **v = calloc(ix->n_kexts ? ix->n_kexts : 1, sizeof(struct kx_kext *));
    kx_status st = v ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < ix->n_kexts && st == STATUS_SUCCESS; i++) {
        const struct kx_cache_index_kext *e = &ix->kexts[i];
        st = kx__kext_restore(e->path, e->fields, e->fields_len, e->info, e->info_len, &v[i]);
        if (st == STATUS_DATA_ERROR)
            snprintf(why, why_len, "%s: boot index: %s: its record doesn't read back",
                     p->cache_path, e->path);
        else if (st == STATUS_SUCCESS && e->exec_path && !no_exec &&
                 !(v[i]->exec_path = strdup(e->exec_path)))
            st = STATUS_INSUFFICIENT_RESOURCES;
    }
    if (st != STATUS_SUCCESS) {
        for (size_t i = 0; v && i < ix->n_kexts; i++)
            kx_kext_free(v[i]);
        free(v);
        v = NULL;
    }
    *out = v;
    return st;
}

static int compare_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The bundle paths a filtered cache accounts for, sorted for bsearch. */
static const char **archived_paths(plist_t list, size_t *n)
{
    uint32_t size = kx_plist_is(list, PLIST_ARRAY) ? plist_array_get_size(list) : 0;
    const char **v = calloc(size ? size : 1, sizeof(const char *));
    *n = 0;
    for (uint32_t i = 0; v && i < size; i++) {
        plist_t s = plist_array_get_item(list, i);
        if (kx_plist_is(s, PLIST_STRING))
            v[(*n)++] = plist_get_string_ptr(s, NULL);
    }
    if (v && *n > 1)
        qsort(v, *n, sizeof(const char *), compare_str);
    return v;
}

/* A filtered cache lacks whole bundles (cache.c): read exactly those. */
static kx_status scan_rest(struct kx_boot_plan *p, char *const *folders, size_t n_folders)
{
    size_t n_archived = 0;
    const char **arch = archived_paths(p->cache.archived, &n_archived);
    kx_status st = arch ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
    for (size_t f = 0; f < n_folders && st == STATUS_SUCCESS; f++) {
        char **names = NULL;
        size_t n = 0;
        kx_status ls = kx_plat_list_dir(folders[f], &names, &n);
        if (ls != STATUS_SUCCESS)
            st = kx_diags_add(&p->diags, KX_D_BUNDLE_OPEN, folders[f], NULL, "%s",
                              kx_status_string(ls));
        for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++) {
            size_t len = strlen(names[i]);
            struct kx_kext *k = NULL;
            if (len <= 5 || strcmp(names[i] + len - 5, ".kext") != 0)
                continue;
            char *path = kx_plat_path_join(folders[f], names[i]);
            if (!path) {
                st = STATUS_INSUFFICIENT_RESOURCES;
                break;
            }
            const char *key = path;
            if (!bsearch(&key, arch, n_archived, sizeof(const char *), compare_str)) {
                /* as kx_kext_repo_add_folder reads a bundle; the paths are distinct */
                kx_status rs = kx_kext_read(path, &p->repo->opts, &k);
                if (rs == STATUS_SUCCESS &&
                    (rs = kx__kext_check_folder_entry(k, folders[f])) != STATUS_SUCCESS)
                    kx_kext_free(k);
                else if (rs == STATUS_SUCCESS)
                    rs = kx_kext_repo_adopt(p->repo, k);
                if (rs == STATUS_INSUFFICIENT_RESOURCES)
                    st = rs;
                else if (rs != STATUS_SUCCESS && rs != STATUS_NOT_A_DIRECTORY)
                    st = kx_diags_add(&p->unread, KX_D_BUNDLE_OPEN, folders[f], names[i], "%s",
                                      kx_status_string(rs));
            }
            free(path);
        }
        kx_plat_free_names(names, n);
    }
    free(arch);
    return st;
}

static kx_status fill_from_cache(struct kx_boot_plan *p, struct kx_kext **kexts,
                                 char *const *folders, size_t n_folders)
{
    kx_status st = STATUS_SUCCESS;
    size_t i = 0;
    p->n_cached = p->cache.ix.n_kexts;
    for (; i < p->n_cached && st == STATUS_SUCCESS; i++)
        st = kx_kext_repo_adopt(p->repo, kexts[i]); /* takes k even when it fails */
    for (; i < p->n_cached; i++)
        kx_kext_free(kexts[i]);
    free(kexts);
    if (st == STATUS_SUCCESS && p->cache.filter != KX_CACHE_ALL)
        st = scan_rest(p, folders, n_folders);
    return st;
}

static kx_status fill_from_scan(struct kx_boot_plan *p, const struct kx_boot_config *cfg,
                                char *const *folders)
{
    kx_status st = STATUS_SUCCESS;
    for (size_t i = 0; i < cfg->n_folders && st == STATUS_SUCCESS; i++) {
        const char *dir = folders ? folders[i] : cfg->folders[i];
        kx_status rs = kx_kext_repo_add_folder(p->repo, dir);
        if (rs == STATUS_INSUFFICIENT_RESOURCES)
            st = rs;
        else if (rs != STATUS_SUCCESS)
            st = kx_diags_add(&p->diags, KX_D_BUNDLE_OPEN, dir, NULL, "%s", kx_status_string(rs));
    }
    return st;
}

/* ======== Items ======== */

struct kx_boot_item_int *kx__boot_item_of(const struct kx_boot_plan *p, const struct kx_kext *k)
{
    if (!k || k->repo != p->repo || k->seq < p->base_seq || k->seq - p->base_seq >= p->n_kexts)
        return NULL;
    return &p->items[k->seq - p->base_seq];
}

int kx__boot_unread_entry(const struct kx_diag *d)
{
    return d->code == KX_D_BUNDLE_OPEN && d->subject && d->file;
}

static kx_status copy_diag(struct kx_diags *to, const struct kx_diag *x)
{
    return x->detail ? kx_diags_add(to, x->code, x->file, x->subject, "%s", x->detail)
                     : kx_diags_add(to, x->code, x->file, x->subject, NULL);
}

/* A folder entry no bundle could be read from is a kext the boot leaves out, known only by its
 * path: it gets an item with the reader's reason, so the plan, and whoever logs it, names it
 * where it names every other skipped kext. */
static kx_status unread_item(struct kx_boot_item_int *it, const struct kx_diag *d)
{
    char *line = kx_diag_line(d);
    it->path = kx_plat_path_join(d->file, d->subject);
    it->pub.path = it->path;
    it->entry = SIZE_MAX;
    it->excluded = 1;
    if (!line || !it->path || !kx__boot_set_text(&it->reason, kx__boot_dupf("invalid: %s", line))) {
        free(line);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    free(line);
    return STATUS_SUCCESS;
}

static kx_status make_items(struct kx_boot_plan *p)
{
    struct kx_kext_repo *r = p->repo;
    size_t first = 0, n_all = kx_kext_repo_count(r);
    while (first < n_all && kx_kext_repo_kext(r, first)->seq < p->base_seq)
        first++;
    p->n_kexts = n_all - first;
    const struct kx_diags *rd = kx_kext_repo_diags(r); /* the entries a scan couldn't read */
    for (size_t i = 0; i < rd->n_items; i++)
        if (kx__boot_unread_entry(&rd->items[i]) &&
            copy_diag(&p->unread, &rd->items[i]) != STATUS_SUCCESS)
            return STATUS_INSUFFICIENT_RESOURCES;
    size_t n_omitted = p->cache.omitted ? plist_array_get_size(p->cache.omitted) : 0;
    p->n_items = p->n_kexts + n_omitted + p->unread.n_items;
    if (!(p->items = calloc(p->n_items ? p->n_items : 1, sizeof *p->items)))
        return STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < p->n_kexts; i++) {
        struct kx_boot_item_int *it = &p->items[i];
        struct kx_kext *k = kx_kext_repo_kext(r, first + i);
        it->pub.kext = k;
        it->pub.id = k->id;
        it->pub.version = k->version_str;
        it->pub.path = k->path;
        it->pub.from_cache = i < p->n_cached;
        it->entry = i < p->n_cached ? i : SIZE_MAX; /* kexts_from_index kept the index order */
    }
    for (size_t i = 0; i < n_omitted; i++) {
        struct kx_boot_item_int *it = &p->items[p->n_kexts + i];
        plist_t o = plist_array_get_item(p->cache.omitted, (uint32_t)i);
        const char *why = kx_plist_string(o, "Reason", NULL);
        it->pub.id = kx_plist_string(o, "Identifier", NULL);
        it->pub.version = kx_plist_string(o, "Version", NULL);
        it->pub.path = kx_plist_string(o, "Path", NULL);
        it->pub.from_cache = 1;
        it->entry = SIZE_MAX;
        it->excluded = 1;
        if (!kx__boot_set_text(&it->reason,
                               kx__boot_dupf("left out of the cache when it was built: %s",
                                             why ? why : "invalid")))
            return STATUS_INSUFFICIENT_RESOURCES;
    }
    for (size_t i = 0; i < p->unread.n_items; i++)
        if (unread_item(&p->items[p->n_kexts + n_omitted + i], &p->unread.items[i]) !=
            STATUS_SUCCESS)
            return STATUS_INSUFFICIENT_RESOURCES;
    return STATUS_SUCCESS;
}

void kx__boot_set_priority(struct kx_boot_plan *p, struct kx_boot_item_int *it)
{
    struct kx_kext *k = it->pub.kext;
    int has = 0;
    int32_t prio = KX_BOOT_DEFAULT_PRIORITY;
    if (it->entry != SIZE_MAX) { /* read when the cache was built */
        const struct kx_cache_index_kext *e = &p->cache.ix.kexts[it->entry];
        if (k->exec_path && e->has_priority) {
            prio = e->priority;
            has = 1;
        }
    } else if (k->exec_path) {
        prio = kx__boot_exec_priority(k->exec_path, &has);
    }
    it->pub.priority = it->pub.effective_priority = prio;
    it->pub.has_driver_info = has;
}

/* The copy of k's identifier a boot takes: the first valid, authentic one in preference order. */
static const struct kx_kext *preferred_copy(const struct kx_kext_repo *r, const struct kx_kext *k)
{
    const struct kx_id_entry *e = kx__repo_find(r, k->id);
    for (size_t i = 0; e && i < e->n; i++)
        if (kx_kext_is_valid(e->kexts[i]) && kx_kext_is_authentic(e->kexts[i]))
            return e->kexts[i];
    return k;
}

char *kx__boot_first_failure(const struct kx_diags *d)
{
    const struct kx_diag *first = kx_diags_first_failure(d);
    return first ? kx_diag_line(first) : strdup("not loadable");
}

/* Why a kext whose executable this machine can't run stays out: the loader's KX1015, with what
 * the file is when validation said (KX4009). */
static char *no_executable_reason(const struct kx_kext *k)
{
    const char *what = NULL;
    for (size_t i = 0; i < k->diags.n_items && !what; i++)
        if (k->diags.items[i].code == KX_D_FOREIGN_EXECUTABLE)
            what = k->diags.items[i].detail;
    return kx__boot_dupf("not loadable: %s %s%s%s", kx_diag_code_string(KX_D_NO_EXECUTABLE_HERE),
                         kx_diag_message(KX_D_NO_EXECUTABLE_HERE), what ? " It is " : "",
                         what ? what : "");
}

/* Decides eligibility (see the top of the file); sets the reason of every kext that isn't. */
static kx_status screen(struct kx_boot_plan *p)
{
    struct kx_kext_repo *r = p->repo;
    int safe = p->mode == KX_BOOT_SAFE, no_exec = (r->opts.flags & KX_KEXT_NO_EXEC) != 0;
    for (size_t i = 0; i < p->n_kexts; i++) {
        struct kx_boot_item_int *it = &p->items[i];
        struct kx_kext *k = it->pub.kext;
        const struct kx_kext *pref;
        char *why = NULL;
        it->excluded = 1;
        /* what is broken says more than the identifier that is missing because of it */
        if (!kx_kext_is_valid(k) || !kx_kext_is_authentic(k)) {
            char *f = kx__boot_first_failure(&k->diags);
            why = f ? kx__boot_dupf("%s: %s", kx_kext_is_valid(k) ? "inauthentic" : "invalid", f)
                    : NULL;
            free(f);
        } else if (!k->id)
            why = strdup("invalid: it has no usable CFBundleIdentifier");
        else if (!no_exec && kx_kext_lacks_executable(k))
            why = no_executable_reason(k); /* the loader's verdict (src/kernel/verdict.c) */
        else if (safe && !kx__loadable_in_safe_boot(k))
            why = strdup("safe boot loads only kexts with an OSBundleRequired value (not set)");
        else if (safe && all_personalities_debug(k, r->arch))
            why = strdup("safe boot: every personality sets a non-zero IOKitDebug");
        else {
            it->excluded = 0; /* usable as a dependency from here on */
            if ((pref = preferred_copy(r, k)) != k)
                why = kx__boot_dupf("another copy of %s is preferred: version %s (%s)", k->id,
                                    pref->version_str ? pref->version_str : "?", pref->path);
            else {
                it->eligible = 1;
                kx__boot_set_priority(p, it);
                continue;
            }
        }
        if (!kx__boot_set_text(&it->reason, why))
            return STATUS_INSUFFICIENT_RESOURCES;
    }
    return STATUS_SUCCESS;
}

/* ======== Entry point ======== */

static int only_pseudo(const struct kx_kext_repo *r)
{
    for (size_t i = 0; i < kx_kext_repo_count(r); i++)
        if (!kx_kext_repo_kext(r, i)->is_pseudo)
            return 0;
    return 1;
}

/* Cache or scan; the verdict and reason go into the plan. */
static kx_status fill(struct kx_boot_plan *p, const struct kx_boot_config *cfg)
{
    char **folders = NULL, why[1024] = "";
    struct kx_kext **cached = NULL;
    kx_status st =
        kx__cache_resolve_folders(cfg->folders, cfg->n_folders, &folders, why, sizeof why);
    p->verdict = KX_CACHE_STALE_MTIME;
    if (st == STATUS_SUCCESS) {
        struct kx_cache_want w = {p->cache_path, folders,      cfg->n_folders, &p->repo->opts, 0,
                                  cfg->mode,     KX_CACHE_ALL, cfg->flags};
        st = kx__cache_open(&w, &p->cache, &p->verdict, why, sizeof why);
    } else if (st != STATUS_INSUFFICIENT_RESOURCES) {
        folders = NULL; /* scan what resolves; the rest is a diagnostic */
        st = STATUS_SUCCESS;
        if (cfg->mode == KX_BOOT_SAFE || (cfg->flags & KX_BOOT_NO_CACHE)) {
            p->verdict = KX_CACHE_IGNORED; /* the reason it wasn't wanted comes first */
            snprintf(why, sizeof why, "%s",
                     cfg->mode == KX_BOOT_SAFE ? "safe boot ignores caches"
                                               : "caches are turned off for this boot");
        }
    }
    if (st == STATUS_SUCCESS && p->verdict == KX_CACHE_USABLE &&
        (st = kexts_from_index(p, &cached, why, sizeof why)) == STATUS_DATA_ERROR) {
        kx__cache_close(&p->cache);
        p->verdict = KX_CACHE_CORRUPT;
        st = STATUS_SUCCESS;
    }
    if (st == STATUS_SUCCESS && p->verdict == KX_CACHE_USABLE) {
        p->source = KX_BOOT_FROM_CACHE;
        st = fill_from_cache(p, cached, folders, cfg->n_folders);
    } else if (st == STATUS_SUCCESS) {
        p->source = KX_BOOT_FROM_SCAN;
        if (!(p->fallback_reason = strdup(why)))
            st = STATUS_INSUFFICIENT_RESOURCES;
        else
            st = fill_from_scan(p, cfg, folders);
    }
    kx__cache_free_folders(folders, cfg->n_folders);
    return st;
}

/* The repository's diagnostics, less the entries that are items already (one place each). */
static kx_status merge_warnings(struct kx_boot_plan *p, const struct kx_diags *d)
{
    kx_status st = STATUS_SUCCESS;
    for (size_t i = 0; i < d->n_items && st == STATUS_SUCCESS; i++) {
        const struct kx_diag *x = &d->items[i];
        if (!kx__boot_unread_entry(x))
            st = copy_diag(&p->diags, x);
    }
    return st;
}

kx_status kx_boot_plan_make(const struct kx_boot_config *cfg, struct kx_kext_repo *repo,
                            struct kx_boot_plan **out)
{
    struct kx_boot_plan *p;
    kx_status st;
    *out = NULL;
    if (!cfg || !repo || !cfg->folders || cfg->n_folders == 0 || !only_pseudo(repo))
        return STATUS_INVALID_PARAMETER;
    if (!(p = calloc(1, sizeof *p)))
        return STATUS_INSUFFICIENT_RESOURCES;
    p->mode = cfg->mode;
    p->repo = repo;
    p->base_seq = repo->next_seq;
    p->cache_path =
        cfg->cache_path ? strdup(cfg->cache_path) : kx_cache_default_path(cfg->folders[0]);
    if (!p->cache_path) {
        st = STATUS_INSUFFICIENT_RESOURCES;
        goto fail;
    }
    if (p->mode == KX_BOOT_SAFE && !(repo->opts.flags & KX_KEXT_SAFE_BOOT)) {
        repo->opts.flags |= KX_KEXT_SAFE_BOOT;
        repo->gen++; /* resolutions memoised without the safe-boot rules are stale */
    }
    if ((st = fill(p, cfg)) != STATUS_SUCCESS || (st = make_items(p)) != STATUS_SUCCESS ||
        (st = screen(p)) != STATUS_SUCCESS)
        goto fail;
    if ((st = kx__boot_plan_phases(p)) != STATUS_SUCCESS ||
        (st = kx__boot_plan_finish(p)) != STATUS_SUCCESS ||
        (st = merge_warnings(p, kx_kext_repo_diags(repo))) != STATUS_SUCCESS)
        goto fail;
    *out = p;
    return STATUS_SUCCESS;
fail:
    kx_boot_plan_free(p);
    return st;
}
