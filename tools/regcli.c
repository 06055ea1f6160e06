/* regcli.c — see regcli.h. */
#include "regcli.h"

#include "cli.h"

#include <kx/platform.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct regcli_verdict {
    char *id;
    int loadable;
    char *reason;
};

int regcli_init(const char *prog, struct regcli *c)
{
    memset(c, 0, sizeof *c);
    kx_status st = kx_classes_new(&c->classes);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "%s: %s\n", prog, kx_status_string(st));
        return 1;
    }
    return 0;
}

int regcli_source_option(struct regcli_source *s, int c, const char *arg)
{
    switch (c) {
    case 'P': s->platform = arg; return 1;
    case 'L':
        if (!s->sysfs)
            s->sysfs = "/sys";
        return 1;
    case 'S': s->sysfs = arg; return 1;
    default: return 0;
    }
}

static int load_linux(const char *prog, const char *root, struct regcli *c)
{
    struct kx_platform_report rep = {0};
    kx_status st = kx_platform_linux_publish(c->reg, root, &rep);
    for (size_t i = 0; i < rep.n_skipped; i++)
        fprintf(stderr, "%s: %s: left out: %s\n", prog, root, rep.skipped[i]);
    kx_platform_report_clear(&rep);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "%s: %s: %s\n", prog, root,
                st == STATUS_NO_SUCH_FILE ? "no devices/ folder: not a sysfs tree"
                                          : kx_status_string(st));
        return 1;
    }
    return 0;
}

int regcli_registry(const char *prog, const struct regcli_source *src, struct regcli *c)
{
    const char *platform = src->platform, *sysfs = src->sysfs;
    if (platform && strcmp(platform, "linux") == 0) {
        platform = NULL;
        if (!sysfs)
            sysfs = "/sys";
    }
    if (platform && sysfs) {
        fprintf(stderr, "%s: --platform %s and --linux/--sysfs name two machines; give one\n", prog,
                platform);
        return KX_EXIT_USAGE;
    }
    if (!platform && !sysfs) {
        fprintf(stderr,
                "%s: reading the running kxd's registry isn't available yet; describe the "
                "machine with --platform FILE (ioreg -a's XML form), --linux or --sysfs DIR\n",
                prog);
        return 1;
    }
    char why[512] = "";
    kx_status st = kx_reg_new(c->classes, &c->reg);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "%s: %s\n", prog, kx_status_string(st));
        return 1;
    }
    if (sysfs)
        return load_linux(prog, sysfs, c);
    if (strcmp(platform, "none") == 0)
        return 0;
    if ((st = kx_platform_file_read(c->reg, platform, why, sizeof why)) != STATUS_SUCCESS) {
        fprintf(stderr, "%s: %s\n", prog, *why ? why : kx_status_string(st));
        return 1;
    }
    return 0;
}

int regcli_catalog(const char *prog, const char *const *dirs, size_t n_dirs,
                   const struct kx_kext_options *opts, unsigned catalog_flags, struct regcli *c)
{
#ifdef KX_DEFAULT_EXTENSIONS
    static const char *const fallback[] = {KX_DEFAULT_EXTENSIONS};
    if (!n_dirs) {
        dirs = fallback;
        n_dirs = 1;
    }
#endif
    kx_status st = kx_kext_repo_new(opts, &c->repo);
    if (st == STATUS_SUCCESS)
        st = kx_catalog_new(c->classes, catalog_flags, &c->cat);
    for (size_t i = 0; st == STATUS_SUCCESS && i < n_dirs; i++)
        if ((st = kx_kext_repo_add_folder(c->repo, dirs[i])) != STATUS_SUCCESS) {
            fprintf(stderr, "%s: %s: %s\n", prog, dirs[i], kx_status_string(st));
            return 1;
        }
    for (size_t i = 0; st == STATUS_SUCCESS && i < kx_kext_repo_count(c->repo); i++)
        st = kx_catalog_add_kext(c->cat, kx_kext_repo_kext(c->repo, i), NULL);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "%s: %s\n", prog, kx_status_string(st));
        return 1;
    }
    for (size_t i = 0; i < kx_catalog_n_problems(c->cat); i++)
        fprintf(stderr, "%s: %s\n", prog, kx_catalog_problem(c->cat, i));
    return 0;
}

/* The first thing that stops a load, as one line. */
static char *first_problem(struct kx_kext_resolution *res)
{
    const struct kx_diags *d = kx_kext_resolution_diags(res);
    for (size_t i = 0; i < d->n_items; i++) {
        const struct kx_diag *x = &d->items[i];
        if (kx_diag_category_of(x->code) == KX_DIAG_WARNING)
            continue;
        char *s = NULL;
        if (asprintf(&s, "%s%s%s%s%s", kx_diag_message(x->code), x->subject ? ": " : "",
                     x->subject ? x->subject : "", x->detail ? ": " : "",
                     x->detail ? x->detail : "") < 0)
            return NULL;
        return s;
    }
    return strdup(kx_status_string(kx_kext_resolution_status(res)));
}

int regcli_loadable(struct regcli *c, const char *bundle_id, const char **reason)
{
    for (size_t i = 0; i < c->n_verdicts; i++)
        if (strcmp(c->verdicts[i].id, bundle_id) == 0) {
            *reason = c->verdicts[i].reason;
            return c->verdicts[i].loadable;
        }
    struct regcli_verdict v = {strdup(bundle_id), 0, NULL};
    struct kx_kext *k = kx_kext_repo_lookup(c->repo, bundle_id, KX_VERS_INVALID);
    struct kx_kext_resolution *res = NULL;
    if (!k) {
        if (asprintf(&v.reason, "%s: not installed", bundle_id) < 0)
            v.reason = NULL;
    } else if (kx_kext_resolve(c->repo, k, &res) == STATUS_SUCCESS) {
        v.loadable = kx_kext_resolution_is_loadable(res);
        if (!v.loadable)
            v.reason = first_problem(res);
        kx_kext_resolution_free(res);
    } else {
        v.reason = strdup("out of memory resolving it");
    }
    struct regcli_verdict *nv =
        v.id ? realloc(c->verdicts, (c->n_verdicts + 1) * sizeof *nv) : NULL;
    if (!nv) {
        free(v.id);
        free(v.reason);
        *reason = "out of memory";
        return 0;
    }
    c->verdicts = nv;
    nv[c->n_verdicts++] = v;
    *reason = v.reason;
    return v.loadable;
}

void regcli_free(struct regcli *c)
{
    for (size_t i = 0; i < c->n_verdicts; i++) {
        free(c->verdicts[i].id);
        free(c->verdicts[i].reason);
    }
    free(c->verdicts);
    kx_catalog_free(c->cat);
    kx_kext_repo_free(c->repo);
    kx_reg_free(c->reg);
    kx_classes_free(c->classes);
    memset(c, 0, sizeof *c);
}
