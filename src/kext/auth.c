/* auth.c — filesystem authentication of a bundle, as Apple's
 * _OSKextBasicFilesystemAuthentication does it (research §7.2).
 *
 * Every file and folder of the bundle must belong to the trusted owner and
 * group and must not be writable by group or others. Apple's owner is
 * root:wheel (0:0). kx keeps gid 0 on Linux too: wheel *is* gid 0 on macOS,
 * Linux's gid 0 is the root group, and package managers install files as
 * root:root, so a real installation passes while a tree a user could have
 * edited does not. (Tests and development trees set trusted_uid/gid or
 * KX_KEXT_NO_AUTH.)
 *
 * Symbolic links are not followed. One that resolves outside the bundle (or
 * nowhere) is an authentication failure; one that stays inside only warns,
 * because the booter can't follow links. Plug-ins are authenticated as kexts
 * of their own, so the walk skips PlugIns/\*.kext; .DS_Store files are ignored
 * as Apple ignores them.
 */
#include "kext_int.h"

#include "core/plat.h"
#include "core/plat_user.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64     /* folders deeper than this are not walked */
#define MAX_FINDINGS 32  /* per bundle; a tree of 10,000 bad files is one problem */

struct actx {
    struct kx_kext *k;
    const struct kx_kext_options *opts;
    const char *root_real; /* the bundle's resolved path, for symlink containment */
    size_t n_findings, n_dropped;
    kx_status st;
};

static void finding(struct actx *a, enum kx_diag_code code, const char *rel, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

static void finding(struct actx *a, enum kx_diag_code code, const char *rel, const char *fmt, ...)
{
    va_list ap;
    if (a->n_findings >= MAX_FINDINGS) {
        a->n_dropped += kx_diag_category_of(code) != KX_DIAG_WARNING;
        return;
    }
    a->n_findings++;
    va_start(ap, fmt);
    kx_status st = kx_diags_addv(&a->k->diags, code, a->k->path, *rel ? rel : ".", fmt, ap);
    va_end(ap);
    if (st != STATUS_SUCCESS && a->st == STATUS_SUCCESS)
        a->st = st;
}

static int inside(const char *root, const char *p)
{
    size_t n = strlen(root);
    return strncmp(root, p, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

static void check_owner(struct actx *a, const char *rel, const struct kx_plat_stat *st)
{
    if (st->uid != a->opts->trusted_uid || st->gid != a->opts->trusted_gid) {
        char is[160], must[160];
        kx_plat_owner_string(st->uid, st->gid, is, sizeof is);
        kx_plat_owner_string(a->opts->trusted_uid, a->opts->trusted_gid, must, sizeof must);
        finding(a, KX_D_OWNER_PERMISSIONS, rel, "owned by %s, must be %s", is, must);
    }
    if (!st->is_link && (st->mode & 022))
        finding(a, KX_D_OWNER_PERMISSIONS, rel, "mode %04o is writable by %s", (unsigned)st->mode,
                (st->mode & 020) && (st->mode & 002) ? "group and others"
                : (st->mode & 020)                   ? "group"
                                                     : "others");
}

static void check_link(struct actx *a, const char *path, const char *rel)
{
    char *target = NULL;
    if (kx_plat_realpath(path, &target) != STATUS_SUCCESS) {
        finding(a, KX_D_FILE_NOT_FOUND, rel, "symbolic link to nothing (its target doesn't exist)");
        return;
    }
    if (!inside(a->root_real, target))
        finding(a, KX_D_SYMLINK_OUTSIDE, rel, "resolves to %s", target);
    else
        finding(a, KX_D_SYMLINK_BOOTER, rel, NULL);
    free(target);
}

static int is_plugin_folder(const char *rel)
{
    return strcmp(rel, "Contents/PlugIns") == 0 || strcmp(rel, "PlugIns") == 0;
}

static int has_kext_suffix(const char *s)
{
    size_t n = strlen(s);
    return n > 5 && strcmp(s + n - 5, ".kext") == 0;
}

static void walk(struct actx *a, const char *path, const char *rel, int depth)
{
    struct kx_plat_stat st;
    if (a->st != STATUS_SUCCESS)
        return;
    if (kx_plat_lstat(path, &st) != STATUS_SUCCESS) {
        finding(a, KX_D_FILE_NOT_FOUND, rel, "disappeared while being checked");
        return;
    }
    check_owner(a, rel, &st);
    if (st.is_link) {
        check_link(a, path, rel);
        return;
    }
    if (!st.is_dir)
        return;
    if (depth >= MAX_DEPTH) {
        finding(a, KX_D_OWNER_PERMISSIONS, rel, "folders nested deeper than %d levels not checked",
                MAX_DEPTH);
        return;
    }
    char **names = NULL;
    size_t n = 0;
    if (kx_plat_list_dir(path, &names, &n) != STATUS_SUCCESS) {
        finding(a, KX_D_OWNER_PERMISSIONS, rel, "folder can't be listed");
        return;
    }
    for (size_t i = 0; i < n && a->st == STATUS_SUCCESS; i++) {
        if (strcmp(names[i], ".DS_Store") == 0 ||
            (is_plugin_folder(rel) && has_kext_suffix(names[i])))
            continue;
        char *child = kx_plat_path_join(path, names[i]);
        char *child_rel = *rel ? kx_plat_path_join(rel, names[i]) : strdup(names[i]);
        if (!child || !child_rel)
            a->st = STATUS_INSUFFICIENT_RESOURCES;
        else
            walk(a, child, child_rel, depth + 1);
        free(child);
        free(child_rel);
    }
    kx_plat_free_names(names, n);
}

/* KX_KEXT_NO_AUTH waives ownership and modes, which a development tree can't meet; where a
 * kext comes from is another matter. The extensions folders are what an administrator
 * configures, the kext cache digests and a boot plan names: a bundle entry that links out of
 * its folder would load whatever the link points at, so it is refused either way. */
kx_status kx__kext_check_folder_entry(struct kx_kext *k, const char *folder)
{
    struct kx_plat_stat st;
    char *folder_real = NULL;
    free(k->folder);
    if (!(k->folder = strdup(folder)))
        return STATUS_INSUFFICIENT_RESOURCES;
    if (!k->real_path || kx_plat_lstat(k->path, &st) != STATUS_SUCCESS || !st.is_link)
        return STATUS_SUCCESS;
    kx_status rs = kx_plat_realpath(folder, &folder_real);
    if (rs == STATUS_INSUFFICIENT_RESOURCES)
        return rs;
    rs = rs == STATUS_SUCCESS && inside(folder_real, k->real_path)
             ? STATUS_SUCCESS
             : kx_diags_add(&k->diags, KX_D_SYMLINK_OUTSIDE_FOLDER, k->path, NULL, "resolves to %s",
                            k->real_path);
    free(folder_real);
    return rs;
}

kx_status kx__kext_authenticate(struct kx_kext *k, const struct kx_kext_options *opts)
{
    struct actx a = {k, opts, k->real_path, 0, 0, STATUS_SUCCESS};
    if (!a.root_real) /* vanished between stat and realpath */
        return kx_diags_add(&k->diags, KX_D_FILE_NOT_FOUND, k->path, ".", NULL);
    walk(&a, k->path, "", 0);
    if (a.n_dropped && a.st == STATUS_SUCCESS)
        a.st = kx_diags_add(&k->diags, KX_D_OWNER_PERMISSIONS, k->path, ".",
                            "%zu more failures not listed", a.n_dropped);
    return a.st;
}
