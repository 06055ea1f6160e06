/* regcli.c — see regcli.h. */
#include "regcli.h"

#include "cli.h"

#include "core/plist.h"

#include <kx/platform.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- kxd's registry ---------------------------------------------------------------------
 * Both planes, copied into c->reg with kxd's ids and states (kx_platform_tree_mirror): the
 * verbs then read it as they read a platform file's. */

static int kxd_registry(const char *prog, struct regcli *c)
{
    kx_client *cl = kx_cli_connect(prog, c->socket);
    if (!cl)
        return 1;
    plist_t trees[KX_REG_N_PLANES] = {NULL};
    kx_status st = kx_reg_new(c->classes, &c->reg);
    if (st != STATUS_SUCCESS)
        fprintf(stderr, "%s: %s\n", prog, kx_status_string(st));
    for (unsigned p = 0; p < KX_REG_N_PLANES && st == STATUS_SUCCESS; p++) {
        void *data = NULL;
        size_t len = 0;
        const char *why = NULL;
        if ((st = kx_client_registry(cl, p, &data, &len)) != STATUS_SUCCESS)
            kx_cli_report(prog, "kxd's registry", st, cl);
        else if ((st = kx_plist_parse(data, len, &trees[p], &why)) != STATUS_SUCCESS)
            fprintf(stderr, "%s: kxd's registry: %s\n", prog, why ? why : kx_status_string(st));
        free(data);
    }
    char why[512] = "";
    if (st == STATUS_SUCCESS && (st = kx_platform_tree_mirror(c->reg, trees, "kxd's registry", why,
                                                              sizeof why)) != STATUS_SUCCESS)
        fprintf(stderr, "%s: %s\n", prog, *why ? why : kx_status_string(st));
    for (unsigned p = 0; p < KX_REG_N_PLANES; p++)
        plist_free(trees[p]);
    kx_client_disconnect(cl);
    return st == STATUS_SUCCESS ? 0 : 1;
}

char *regcli_kxd_json(const char *prog, const char *socket, const char *what,
                      kx_status (*get)(kx_client *, char **))
{
    kx_client *cl = kx_cli_connect(prog, socket);
    char *json = NULL;
    if (!cl)
        return NULL;
    kx_status st = get(cl, &json);
    if (st != STATUS_SUCCESS)
        kx_cli_report(prog, what, st, cl);
    kx_client_disconnect(cl);
    return json;
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
    if (!platform && !sysfs)
        return kxd_registry(prog, c);
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

int regcli_loadable(void *ctx, const char *bundle_id, char **reason)
{
    struct regcli *c = ctx;
    return kx_match_kext_loadable(c->repo, bundle_id, reason);
}

void regcli_free(struct regcli *c)
{
    kx_catalog_free(c->cat);
    kx_kext_repo_free(c->repo);
    kx_reg_free(c->reg);
    kx_classes_free(c->classes);
    memset(c, 0, sizeof *c);
}

int regcli_show_json(const char *prog, const char *what, char *text, int json,
                     void (*print)(json_t *root))
{
    json_error_t err;
    json_t *root = text ? json_loads(text, 0, &err) : NULL;
    if (text && !root)
        fprintf(stderr, "%s: %s isn't JSON: %s\n", prog, what, err.text);
    free(text);
    if (!root)
        return KX_EXIT_FAIL;
    if (json) {
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
    } else {
        print(root);
    }
    json_decref(root);
    return KX_EXIT_OK;
}
