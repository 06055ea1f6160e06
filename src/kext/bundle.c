/* bundle.c — reading a Name.kext folder: Info.plist, executable, plug-ins.
 *
 * Layouts, as CFBundle accepts them: `Contents/Info.plist` with plug-ins in
 * `Contents/PlugIns`, or a flat bundle with `Info.plist` and `PlugIns` at the
 * top (xnu installs System.kext that way). The executable named by
 * CFBundleExecutable is looked up in `Contents/Linux/` (kx's own ELF drivers),
 * then `Contents/MacOS/` (Apple's layout), or beside a flat Info.plist. Plug-ins
 * are read one level deep, as Apple's tools do; each is a kext of its own and
 * is authenticated on its own.
 *
 * Nothing here gives up early: a bundle without an Info.plist, with a broken
 * plist or a missing executable is still returned, carrying diagnostics.
 */
#include "kext_int.h"

#include "core/plat.h"
#include "core/plist.h"

#include <stdlib.h>
#include <string.h>

/* ---- Architecture names ---------------------------------------------------------------------- */

const char *kx_kext_host_arch(void)
{
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__i386__)
    return "i386";
#elif defined(__powerpc64__)
    return "ppc64";
#elif defined(__powerpc__)
    return "ppc";
#elif defined(__arm__)
    return "arm";
#else
    return "unknown";
#endif
}

const char *kx__arch_or_host(const char *arch)
{
    return arch && *arch ? arch : kx_kext_host_arch();
}

int kx__arch_is_lp64(const char *arch)
{
    static const char *const lp64[] = {"x86_64", "x86_64h", "arm64", "arm64e", "ppc64", NULL};
    arch = kx__arch_or_host(arch);
    for (size_t i = 0; lp64[i]; i++)
        if (strcmp(arch, lp64[i]) == 0)
            return 1;
    return 0;
}

/* ---- Construction ---------------------------------------------------------------------------- */

struct kx_kext *kx__kext_alloc(const char *path)
{
    struct kx_kext *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->version = KX_VERS_INVALID;
    k->compat = KX_VERS_INVALID;
    k->path = strdup(path ? path : "(memory)");
    if (!k->path) {
        free(k);
        return NULL;
    }
    return k;
}

kx_status kx__kext_set_info(struct kx_kext *k, plist_t info, const char *arch)
{
    k->info = info;
    return kx__kext_validate(k, kx__arch_or_host(arch));
}

void kx_kext_free(struct kx_kext *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n_plugins; i++)
        kx_kext_free(k->plugins[i]);
    free(k->plugins);
    for (size_t i = 0; i < k->n_libs; i++) {
        free(k->libs[i].id);
        free(k->libs[i].requested_str);
    }
    free(k->libs);
    kx_diags_clear(&k->diags);
    kx_diags_clear(&k->dep_diags);
    free(k->picks);
    if (k->info)
        plist_free(k->info);
    free(k->info_bin);
    free(k->strings);
    free(k->exec_path);
    free(k->info_path);
    free(k->real_path);
    free(k->folder);
    free(k->path);
    free(k);
}

/* ---- Reading a folder ------------------------------------------------------------------------ */

static int is_regular_file(const char *path)
{
    struct kx_plat_stat st;
    return kx_plat_stat(path, &st) == STATUS_SUCCESS && st.is_reg;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Finds Info.plist; *contents says whether the bundle uses the Contents/ layout. */
static char *find_info_plist(const char *bundle, int *contents)
{
    char *p = kx_plat_path_join(bundle, "Contents/Info.plist");
    if (p && is_regular_file(p)) {
        *contents = 1;
        return p;
    }
    free(p);
    p = kx_plat_path_join(bundle, "Info.plist");
    if (p && is_regular_file(p)) {
        *contents = 0;
        return p;
    }
    free(p);
    return NULL;
}

/* Looks the executable up in the documented order and checks the first hit. */
static kx_status find_executable(struct kx_kext *k, int contents, const char *arch)
{
    const char *name = kx_plist_string(k->info, "CFBundleExecutable", NULL);
    static const char *const contents_dirs[] = {"Contents/Linux/", "Contents/MacOS/", NULL};
    static const char *const flat_dirs[] = {"", NULL};
    const char *const *dirs = contents ? contents_dirs : flat_dirs;

    for (size_t i = 0; dirs[i]; i++) {
        char *rel = NULL, *path;
        if (asprintf(&rel, "%s%s", dirs[i], name) < 0)
            return STATUS_INSUFFICIENT_RESOURCES;
        path = kx_plat_path_join(k->path, rel);
        free(rel);
        if (!path)
            return STATUS_INSUFFICIENT_RESOURCES;
        if (is_regular_file(path)) {
            if (kx__kext_exec_check(k, path, arch))
                k->exec_path = path;
            else
                free(path);
            return STATUS_SUCCESS;
        }
        free(path);
    }
    return kx_diags_add(&k->diags, KX_D_EXECUTABLE_MISSING, k->path, "CFBundleExecutable",
                        contents ? "%s: looked in Contents/Linux/ and Contents/MacOS/"
                                 : "%s: not beside the flat bundle's Info.plist",
                        name);
}

static kx_status read_bundle(const char *path, const struct kx_kext_options *opts, int depth,
                             struct kx_kext **out);

static kx_status add_plugin(struct kx_kext *k, struct kx_kext *p)
{
    struct kx_kext **v = realloc(k->plugins, (k->n_plugins + 1) * sizeof(struct kx_kext *));
    if (!v) {
        kx_kext_free(p);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    k->plugins = v;
    k->plugins[k->n_plugins++] = p;
    p->parent = k;
    return STATUS_SUCCESS;
}

static kx_status read_plugins(struct kx_kext *k, int contents, const struct kx_kext_options *opts,
                              int depth)
{
    char *dir = kx_plat_path_join(k->path, contents ? "Contents/PlugIns" : "PlugIns");
    char **names = NULL;
    size_t n = 0;
    kx_status st;
    if (!dir)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (kx_plat_list_dir(dir, &names, &n) != STATUS_SUCCESS) { /* no PlugIns folder */
        free(dir);
        return STATUS_SUCCESS;
    }
    st = STATUS_SUCCESS;
    for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++) {
        if (!has_suffix(names[i], ".kext"))
            continue;
        char *p = kx_plat_path_join(dir, names[i]);
        struct kx_kext *plug = NULL;
        if (!p) {
            st = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        kx_status rs = read_bundle(p, opts, depth + 1, &plug);
        if (rs == STATUS_SUCCESS)
            st = add_plugin(k, plug);
        else if (rs == STATUS_INSUFFICIENT_RESOURCES)
            st = rs;
        else if (rs != STATUS_NOT_A_DIRECTORY) /* a plain file named *.kext isn't a bundle */
            st = kx_diags_add(&k->diags, KX_D_BUNDLE_OPEN, k->path, names[i], "%s",
                              kx_status_string(rs));
        free(p);
    }
    kx_plat_free_names(names, n);
    free(dir);
    return st;
}

static kx_status read_bundle(const char *path, const struct kx_kext_options *opts, int depth,
                             struct kx_kext **out)
{
    struct kx_plat_stat sb;
    const char *arch = kx__arch_or_host(opts->arch);
    int contents = 1;
    kx_status st = kx_plat_stat(path, &sb);
    *out = NULL;
    if (st != STATUS_SUCCESS)
        return st;
    if (!sb.is_dir)
        return STATUS_NOT_A_DIRECTORY;

    struct kx_kext *k = kx__kext_alloc(path);
    if (!k)
        return STATUS_INSUFFICIENT_RESOURCES;
    if ((st = kx_plat_realpath(path, &k->real_path)) == STATUS_INSUFFICIENT_RESOURCES)
        goto fail;

    k->info_path = find_info_plist(path, &contents);
    if (!k->info_path) {
        st = kx_diags_add(&k->diags, KX_D_BUNDLE_OPEN, path, "Info.plist",
                          "neither Contents/Info.plist nor Info.plist is a readable file");
        if (st != STATUS_SUCCESS)
            goto fail;
    } else {
        plist_t info = NULL;
        const char *why = NULL;
        if (kx_plist_read_file(k->info_path, &info, &why) != STATUS_SUCCESS) {
            st = kx_diags_add(&k->diags, KX_D_PLIST_PARSE, k->info_path, "Info.plist", "%s",
                              why ? why : "unreadable");
            if (st != STATUS_SUCCESS)
                goto fail;
        }
        if ((st = kx__kext_set_info(k, info, arch)) != STATUS_SUCCESS)
            goto fail;
    }

    if (k->declares_exec && !k->is_kernel_resource && !(opts->flags & KX_KEXT_NO_EXEC) &&
        (st = find_executable(k, contents, arch)) != STATUS_SUCCESS)
        goto fail;
    if (!(opts->flags & KX_KEXT_NO_AUTH) && (st = kx__kext_authenticate(k, opts)) != STATUS_SUCCESS)
        goto fail;
    if (depth == 0 && (st = read_plugins(k, contents, opts, depth)) != STATUS_SUCCESS)
        goto fail;
    *out = k;
    return STATUS_SUCCESS;

fail:
    kx_kext_free(k);
    return st;
}

kx_status kx_kext_read(const char *path, const struct kx_kext_options *opts, struct kx_kext **out)
{
    static const struct kx_kext_options defaults = KX_KEXT_OPTIONS_INIT;
    return read_bundle(path, opts ? opts : &defaults, 0, out);
}

kx_status kx_kext_from_info_plist(const void *data, size_t len, const char *path,
                                  const struct kx_kext_options *opts, struct kx_kext **out)
{
    plist_t info = NULL;
    const char *why = NULL;
    kx_status st;
    struct kx_kext *k = kx__kext_alloc(path);
    *out = NULL;
    if (!k)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (kx_plist_parse(data, len, &info, &why) != STATUS_SUCCESS &&
        (st = kx_diags_add(&k->diags, KX_D_PLIST_PARSE, k->path, "Info.plist", "%s", why)) !=
            STATUS_SUCCESS)
        goto fail;
    if ((st = kx__kext_set_info(k, info, opts ? opts->arch : NULL)) != STATUS_SUCCESS)
        goto fail;
    *out = k;
    return STATUS_SUCCESS;
fail:
    kx_kext_free(k);
    return st;
}

/* ---- Accessors ------------------------------------------------------------------------------- */

const char *kx_kext_path(const struct kx_kext *k) { return k->path; }
const char *kx_kext_id(const struct kx_kext *k) { return k->id; }
const char *kx_kext_version_string(const struct kx_kext *k) { return k->version_str; }
kx_vers kx_kext_version(const struct kx_kext *k) { return k->version; }
kx_vers kx_kext_compatible_version(const struct kx_kext *k) { return k->compat; }
int kx_kext_is_library(const struct kx_kext *k) { return k->compat != KX_VERS_INVALID; }
int kx_kext_is_kernel_resource(const struct kx_kext *k) { return k->is_kernel_resource; }
int kx_kext_is_interface(const struct kx_kext *k) { return k->is_interface; }
int kx_kext_declares_executable(const struct kx_kext *k) { return k->declares_exec; }
const char *kx_kext_executable(const struct kx_kext *k) { return k->exec_path; }
int kx_kext_lacks_executable(const struct kx_kext *k)
{
    return k->declares_exec && !k->is_kernel_resource && !k->exec_path;
}
const char *kx_kext_required(const struct kx_kext *k) { return k->required; }
int kx_kext_allows_user_load(const struct kx_kext *k) { return k->allow_user_load; }
plist_t kx_kext_info(const struct kx_kext *k) { return kx__kext_info(k); }

plist_t kx__kext_info(const struct kx_kext *k)
{
    if (!k->info && k->info_bin) {
        struct kx_kext *w = (struct kx_kext *)k; /* a memo, as the resolver's */
        const char *why = NULL;
        plist_t info = NULL;
        if (kx_plist_parse(w->info_bin, w->info_bin_len, &info, &why) == STATUS_SUCCESS &&
            !kx_plist_is(info, PLIST_DICT)) {
            plist_free(info);
            info = NULL;
        }
        w->info = info;
        free(w->info_bin);
        w->info_bin = NULL;
        w->info_bin_len = 0;
    }
    return k->info;
}
const struct kx_diags *kx_kext_diags(const struct kx_kext *k) { return &k->diags; }
int kx_kext_is_loaded(const struct kx_kext *k) { return k->is_loaded; }
size_t kx_kext_n_plugins(const struct kx_kext *k) { return k->n_plugins; }
size_t kx_kext_n_libraries(const struct kx_kext *k) { return k->n_libs; }

int kx_kext_is_valid(const struct kx_kext *k)
{
    return !kx__has_category(&k->diags, KX_DIAG_VALIDATION);
}

int kx_kext_is_authentic(const struct kx_kext *k)
{
    return !kx__has_category(&k->diags, KX_DIAG_AUTHENTICATION);
}

struct kx_kext *kx_kext_plugin(const struct kx_kext *k, size_t i)
{
    return i < k->n_plugins ? k->plugins[i] : NULL;
}

const char *kx_kext_library(const struct kx_kext *k, size_t i, kx_vers *requested)
{
    if (i >= k->n_libs)
        return NULL;
    if (requested)
        *requested = k->libs[i].requested;
    return k->libs[i].id;
}
