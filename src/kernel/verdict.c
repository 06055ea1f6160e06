/* verdict.c — the checks every load makes before any code runs, shared by
 * the loader and the dry runs (see verdict.h).
 *
 * A dry run that ran fewer checks than the loader would call kexts loadable
 * that the loader then refuses; so there is one list of checks, here, and
 * kx_kext_resolution_verify is the same function run against the
 * repository's files instead of the kernel's copies. Every kext of the load
 * list is checked even after one fails, so a report names every problem.
 */
#include "verdict.h"

#include "kext/kext_int.h"
#include "lua/lua_drv.h"

#include <stdlib.h>
#include <string.h>

static int exports_symbol(const struct kx_elf_dynsyms *syms, const char *name)
{
    for (size_t i = 0; i < syms->n_exports; i++)
        if (strcmp(syms->exports[i].name, name) == 0)
            return 1;
    return 0;
}

/* The seed keeps the version in both places (the driver-info record or
 * g_tDriverInfo, and Info.plist); they must agree. */
static kx_status check_info_version(struct kx_verdict_kext *p, struct kx_diags *diags)
{
    const char *plist_version = kx_kext_version_string(p->kext);
    kx_vers a = kx_vers_parse(p->info.version), b = kx_kext_version(p->kext);
    if (a != KX_VERS_INVALID && a == b)
        return STATUS_SUCCESS;
    kx_diags_add(diags, KX_D_DRIVER_INFO_VERSION, kx_kext_path(p->kext), "CFBundleVersion",
                 "driver-info record says %s, Info.plist says %s", p->info.version,
                 plist_version ? plist_version : "(missing)");
    return STATUS_KEXT_VALIDATION_FAILED;
}

/* A Lua driver: g_tDriverInfo by pre-inspection (no driver code runs) and
 * its requires against the host's modules, in place of the ELF record and
 * the link check. */
static kx_status inspect_lua(const char *exe, struct kx_verdict_kext *p, struct kx_diags *diags)
{
    char why[256] = "";
    p->is_lua = p->has_entry = 1;
    kx_status st = kx_lua_inspect_file(exe, &p->info, why, sizeof why);
    if (st != STATUS_SUCCESS) {
        kx_diags_add(diags, KX_D_EXECUTABLE_BAD, kx_kext_path(p->kext), exe, "%s", why);
        return STATUS_KEXT_VALIDATION_FAILED;
    }
    return check_info_version(p, diags);
}

/* Reads the executable statically: driver-info record, DriverEntry, UUID. */
static kx_status inspect_executable(const char *exe, struct kx_verdict_kext *p,
                                    struct kx_diags *diags)
{
    const char *path = kx_kext_path(p->kext);
    char why[256] = "";
    struct kx_elf *elf = NULL;
    struct kx_elf_dynsyms syms = {0};
    kx_status st = kx_elf_open(exe, &elf, why, sizeof why);
    if (st == STATUS_SUCCESS)
        st = kx_elf_dynsyms(elf, &syms, why, sizeof why);
    if (st != STATUS_SUCCESS) {
        kx_diags_add(diags, KX_D_EXECUTABLE_BAD, path, exe, "%s", why);
        goto done;
    }
    p->has_entry = exports_symbol(&syms, "DriverEntry");
    if (kx_elf_has_section(elf, KX_DRIVER_INFO_SECTION) || p->has_entry) {
        st = kx_elf_driver_info(elf, &p->info, why, sizeof why);
        if (st != STATUS_SUCCESS) {
            kx_diags_add(diags, KX_D_EXECUTABLE_BAD, path, exe, "%s", why);
            goto done;
        }
        if ((st = check_info_version(p, diags)) != STATUS_SUCCESS)
            goto done;
    }
    const uint8_t *id = NULL;
    size_t id_len = 0;
    if (kx_elf_build_id(elf, &id, &id_len, NULL, 0) == STATUS_SUCCESS && id_len)
        kx_elf_uuid_format(id, id_len, p->uuid);
done:
    kx_elf_dynsyms_free(&syms);
    kx_elf_close(elf);
    return st == STATUS_SUCCESS ? st : STATUS_KEXT_VALIDATION_FAILED;
}

static const char *exec_of(kx_link_exec_fn exec, void *arg, struct kx_kext *k)
{
    return exec ? exec(arg, k) : kx_kext_executable(k);
}

static kx_status check_one(struct kx_kext_resolution *res, kx_link_exec_fn exec, void *exec_arg,
                           struct kx_verdict_kext *p, struct kx_diags *diags)
{
    for (size_t i = 0; i < kx_kext_resolution_n_deps(res); i++) {
        const struct kx_kext_dep *d = kx_kext_resolution_dep(res, i);
        if (d->from != p->kext || !d->chosen)
            continue;
        struct kx_kext **nl = realloc(p->libs, (p->n_libs + 1) * sizeof(struct kx_kext *));
        if (!nl)
            return STATUS_INSUFFICIENT_RESOURCES;
        p->libs = nl;
        p->libs[p->n_libs++] = d->chosen;
    }
    if (kx_kext_lacks_executable(p->kext)) {
        /* Valid metadata, but nothing this machine can run (e.g. Mach-O). */
        kx_diags_add(diags, KX_D_NO_EXECUTABLE_HERE, kx_kext_path(p->kext), "CFBundleExecutable",
                     "a kext must have an ELF executable for this machine to load");
        return STATUS_KEXT_NOT_LOADABLE;
    }
    const char *exe = exec_of(exec, exec_arg, p->kext);
    if (!exe)
        return STATUS_SUCCESS; /* codeless: nothing to link or start */
    if (kx__kext_is_lua(p->kext))
        return inspect_lua(exe, p, diags);
    kx_status st = inspect_executable(exe, p, diags);
    if (st == STATUS_SUCCESS)
        st = kx_link_check(p->kext, p->libs, p->n_libs, exec, exec_arg, diags);
    return st;
}

kx_status kx_verdict_check(struct kx_kext_resolution *res, kx_link_exec_fn exec, void *exec_arg,
                           struct kx_verdict *out, struct kx_diags *diags)
{
    size_t n = kx_kext_resolution_n_load_order(res);
    memset(out, 0, sizeof *out);
    if (!kx_kext_resolution_is_loadable(res))
        return kx_kext_resolution_status(res);
    if (!(out->items = calloc(n ? n : 1, sizeof *out->items)))
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = STATUS_SUCCESS;
    for (size_t i = 0; i < n; i++) {
        struct kx_kext *x = kx_kext_resolution_load_order(res, i);
        if (kx_kext_is_loaded(x))
            continue;
        struct kx_verdict_kext *p = &out->items[out->n_items++];
        p->kext = x;
        kx_status pst = check_one(res, exec, exec_arg, p, diags);
        if (pst == STATUS_INSUFFICIENT_RESOURCES)
            return pst;
        if (pst != STATUS_SUCCESS && st == STATUS_SUCCESS)
            st = pst; /* keep checking: report every kext's problems at once */
    }
    return st;
}

void kx_verdict_free(struct kx_verdict *v)
{
    for (size_t i = 0; i < v->n_items; i++)
        free(v->items[i].libs);
    free(v->items);
    memset(v, 0, sizeof *v);
}

/* kx check's side: the repository's own files stand for the kernel's copies.
 * The executables are only inspected when they were looked for, for this
 * machine: a metadata-only check (KX_KEXT_NO_EXEC) or one for another
 * architecture has nothing the loader could run, and says so (*linked 0). */
kx_status kx_kext_resolution_verify(struct kx_kext_resolution *res, int *linked)
{
    const struct kx_kext_repo *r = res->repo;
    int here = !(r->opts.flags & KX_KEXT_NO_EXEC) && strcmp(r->arch, kx_kext_host_arch()) == 0;
    if (linked)
        *linked = 0;
    if (!kx_kext_resolution_is_loadable(res) || !here)
        return kx_kext_resolution_status(res);
    struct kx_verdict v;
    struct kx_diags diags = KX_DIAGS_INIT;
    kx_status st = kx_verdict_check(res, NULL, NULL, &v, &diags);
    kx_verdict_free(&v);
    if (kx_diags_merge(&res->diags, &diags) != STATUS_SUCCESS)
        st = STATUS_INSUFFICIENT_RESOURCES;
    kx_diags_clear(&diags);
    if (st == STATUS_INSUFFICIENT_RESOURCES)
        return st;
    res->verdict = st;
    res->linked = 1;
    if (linked)
        *linked = 1;
    return st;
}
