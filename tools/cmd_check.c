/* cmd_check.c — `kx check` and `kextutil`: would these kexts load?
 *
 * Reads every KEXT and every extensions folder into one repository (so kexts
 * named together may depend on each other), adds the chosen system profile,
 * then validates, authenticates and resolves each KEXT, runs the loader's
 * own checks on it (kx_kext_resolution_verify: an executable for this
 * machine, the driver-info record, the link check — so a dry run and a load
 * can't disagree) and prints Apple's kextutil report: the diagnostics by
 * category, the load order, and "<path> appears to be loadable (including
 * linkage for on-disk libraries)." A metadata-only check (--no-exec) or one
 * for another --arch can't link, and says "not including". Run by a user
 * other than root, it says once per KEXT when OSBundleAllowUserLoad would
 * keep that user from loading it (KX4011); root never meets that rule. Exit status: 0
 * every KEXT is loadable, 1 one is not, 2 usage or I/O error.
 *
 * As kextutil (argv[0]) it takes Apple's flags: -n (no load: check only),
 * -q, -v [level], -b ID, -r DIR, -d KEXT, -x (safe boot), -a/-arch ARCH, and
 * accepts -t and -e, whose effect kx always has; and kx's --system NAME and
 * --no-exec. Without -n kextutil checks,
 * then asks kxd to load the kexts that passed.
 */
#include "cli.h"
#include "verbs.h"

#include "core/plat_user.h"

#include <kx/kext.h>

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 256 /* KEXTs, folders, identifiers on one command line */

struct check_args {
    struct kx_kext_options kopts;
    const char *system;
    const char *dirs[MAX_ARGS];
    size_t n_dirs;
    const char *deps[MAX_ARGS]; /* kextutil -d: extra library kexts */
    size_t n_deps;
    const char *kexts[MAX_ARGS];
    size_t n_kexts;
    const char *ids[MAX_ARGS]; /* kextutil -b */
    size_t n_ids;
    int json, verbose, quiet;
    int load_requested; /* kextutil without -n */
};

static void usage_check(FILE *out)
{
    fprintf(out,
            "usage: kx check [--system NAME] [--extensions DIR]... [--safe-boot] [--no-auth]\n"
            "                [--no-exec] [--arch ARCH] [--json] [-v] [-q] KEXT...\n"
            "       kx check --system list\n"
            "Validates, authenticates and resolves each KEXT against the kexts in the\n"
            "extensions folders, kx's own interfaces and the system profile NAME\n"
            "(e.g. macos-10.3.9, modern). Exit status: 0 all loadable, 1 not, 2 error.\n");
}

static void usage_kextutil(FILE *out)
{
    fprintf(out, "usage: kextutil [-n] [-q] [-v [0-6]] [-x] [-t] [-e] [-a ARCH] [-r DIR]...\n"
                 "                [-d KEXT]... [-b ID]... [--system NAME] [--no-exec] [KEXT...]\n"
                 "-n checks without loading (loading needs kxd); -t and -e are always in effect\n"
                 "(diagnostics are printed; there is no default system folder). --system checks\n"
                 "against a system profile (kx check --system list); --no-exec checks metadata\n"
                 "only. Exit status: 0 loadable (or loaded), 1 not, 2 usage or I/O error.\n");
}

static int add_arg(const char **v, size_t *n, const char *s)
{
    if (*n == MAX_ARGS) {
        fprintf(stderr, "kx check: too many arguments\n");
        return 0;
    }
    v[(*n)++] = s;
    return 1;
}

static int parse_check(int argc, char **argv, struct check_args *a)
{
    static const struct option opts[] = {
        {"system", required_argument, NULL, 's'},  {"extensions", required_argument, NULL, 'e'},
        {"safe-boot", no_argument, NULL, 'x'},     {"no-auth", no_argument, NULL, 'A'},
        {"no-exec", no_argument, NULL, 'E'},       {"arch", required_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},          {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+hvq", opts, NULL)) != -1) {
        switch (c) {
        case 's': a->system = optarg; break;
        case 'e':
            if (!add_arg(a->dirs, &a->n_dirs, optarg))
                return 2;
            break;
        case 'x': a->kopts.flags |= KX_KEXT_SAFE_BOOT; break;
        case 'A': a->kopts.flags |= KX_KEXT_NO_AUTH; break;
        case 'E': a->kopts.flags |= KX_KEXT_NO_EXEC; break;
        case 'a': a->kopts.arch = optarg; break;
        case 'j': a->json = 1; break;
        case 'v': a->verbose = 1; break;
        case 'q': a->quiet = 1; break;
        case 'h': usage_check(stdout); return 0;
        default: usage_check(stderr); return 2;
        }
    }
    for (int i = optind; i < argc; i++)
        if (!add_arg(a->kexts, &a->n_kexts, argv[i]))
            return 2;
    if (a->system && strcmp(a->system, "list") == 0)
        return -1;
    if (a->n_kexts == 0) {
        usage_check(stderr);
        return 2;
    }
    return -1;
}

/* Apple's tools take single-dash words (-arch) and an optional -v level, which
 * getopt can't express; so a small loop. */
static int parse_kextutil(int argc, char **argv, struct check_args *a)
{
    a->load_requested = 1;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!s)
            break;
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (s[0] != '-' || strcmp(s, "-") == 0) {
            if (!add_arg(a->kexts, &a->n_kexts, s))
                return 2;
        } else if (!strcmp(s, "-n") || !strcmp(s, "-no-load")) {
            a->load_requested = 0;
        } else if (!strcmp(s, "-q") || !strcmp(s, "-quiet")) {
            a->quiet = 1;
        } else if (!strcmp(s, "-v") || !strcmp(s, "-verbose")) {
            a->verbose = 1;
            if (next && next[0] >= '0' && next[0] <= '6' && next[1] == '\0') {
                a->verbose = next[0] != '0';
                i++;
            }
        } else if (!strcmp(s, "-x") || !strcmp(s, "-safe-boot")) {
            a->kopts.flags |= KX_KEXT_SAFE_BOOT;
        } else if (!strcmp(s, "-t") || !strcmp(s, "-print-diagnostics") || !strcmp(s, "-e") ||
                   !strcmp(s, "-no-system-extensions")) {
            /* kx always prints diagnostics and has no default system folder */
        } else if ((!strcmp(s, "-a") || !strcmp(s, "-arch")) && next) {
            a->kopts.arch = argv[++i];
        } else if ((!strcmp(s, "-r") || !strcmp(s, "-repository")) && next) {
            if (!add_arg(a->dirs, &a->n_dirs, argv[++i]))
                return 2;
        } else if ((!strcmp(s, "-d") || !strcmp(s, "-dependency")) && next) {
            if (!add_arg(a->deps, &a->n_deps, argv[++i]))
                return 2;
        } else if ((!strcmp(s, "-b") || !strcmp(s, "-bundle-id")) && next) {
            if (!add_arg(a->ids, &a->n_ids, argv[++i]))
                return 2;
        } else if (!strcmp(s, "-no-exec") || !strcmp(s, "--no-exec")) {
            a->kopts.flags |= KX_KEXT_NO_EXEC; /* metadata only: no linkage checked */
        } else if ((!strcmp(s, "-system") || !strcmp(s, "--system")) && next) {
            a->system = argv[++i];
        } else if (!strcmp(s, "-h") || !strcmp(s, "-help") || !strcmp(s, "--help")) {
            usage_kextutil(stdout);
            return 0;
        } else {
            fprintf(stderr, "kextutil: unknown or incomplete option %s\n", s);
            usage_kextutil(stderr);
            return 2;
        }
    }
    if (a->n_kexts == 0 && a->n_ids == 0) {
        usage_kextutil(stderr);
        return 2;
    }
    return -1;
}

/* ---- --system list ----------------------------------------------------------------------------- */

static int list_systems(int as_json)
{
    struct kx_kext_profiles *p = NULL;
    if (kx_kext_profiles_load(&p) != STATUS_SUCCESS) {
        fprintf(stderr, "kx check: the built-in system profiles can't be read\n");
        return 2;
    }
    json_t *arr = as_json ? json_array() : NULL;
    if (!as_json)
        printf("%-28s %-8s %s\n", "NAME", "KERNEL", "DESCRIPTION");
    for (size_t i = 0; i < kx_kext_profiles_count(p); i++) {
        const struct kx_kext_profile_info *x = kx_kext_profiles_get(p, i);
        if (as_json) {
            json_t *aliases = json_array();
            for (size_t j = 0; j < x->n_aliases; j++)
                json_array_append_new(aliases, json_string(x->aliases[j]));
            json_array_append_new(arr, json_pack("{s:s, s:s?, s:s?, s:b, s:I, s:o}", "name",
                                                 x->name, "description", x->description,
                                                 "kernel_version", x->kernel_version, "lp64",
                                                 x->is_lp64, "kexts", (json_int_t)x->n_kexts,
                                                 "aliases", aliases));
        } else {
            printf("%-28s %-8s %s\n", x->name, x->kernel_version ? x->kernel_version : "",
                   x->description ? x->description : "");
        }
    }
    if (as_json) {
        json_t *root = json_pack("{s:o}", "profiles", arr);
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    }
    kx_kext_profiles_free(p);
    return 0;
}

/* ---- Reports ----------------------------------------------------------------------------------- */

static void print_text(const struct kx_kext_resolution *res, int verbose, int linked)
{
    const struct kx_kext *k = kx_kext_resolution_kext(res);
    const char *path = kx_kext_path(k);
    int loadable = kx_kext_resolution_is_loadable(res);
    kx_diags_print(kx_kext_resolution_diags(res), path, stdout);
    if (loadable || verbose) {
        printf("Load order for %s:\n", path);
        for (size_t i = 0; i < kx_kext_resolution_n_load_order(res); i++) {
            const struct kx_kext *d = kx_kext_resolution_load_order(res, i);
            const char *id = kx_kext_id(d), *v = kx_kext_version_string(d);
            printf("    %zu. %s %s (%s)\n", i + 1, id ? id : "(no identifier)", v ? v : "?",
                   kx_kext_path(d));
        }
    }
    if (verbose) {
        char line[320];
        printf("Dependencies of %s:\n", path);
        for (size_t i = 0; i < kx_kext_resolution_n_deps(res); i++) {
            const struct kx_kext_dep *d = kx_kext_resolution_dep(res, i);
            const char *from = kx_kext_id(d->from);
            printf("    %s -> %s %s: %s\n", from ? from : kx_kext_path(d->from), d->id,
                   d->requested_str, d->chosen ? kx_kext_path(d->chosen) : "not resolved");
            for (size_t j = 0; j < d->n_candidates; j++)
                printf("        %s: %s\n", kx_kext_path(d->candidates[j].kext),
                       kx_kext_candidate_explain(d, &d->candidates[j], line, sizeof line));
        }
    }
    if (loadable)
        printf("%s appears to be loadable (%s linkage for on-disk libraries).\n", path,
               linked ? "including" : "not including");
    else
        printf("%s is not loadable - %s.\n", path,
               kx_status_string(kx_kext_resolution_status(res)));
}

/* A KEXT that couldn't be read at all: an I/O error. */
static void report_unreadable(json_t *arr, const char *what, const char *why, int quiet)
{
    if (!quiet)
        fprintf(stderr, "kx check: %s: %s\n", what, why);
    if (arr)
        json_array_append_new(arr, json_pack("{s:s, s:n, s:n, s:b, s:[], s:[], s:s}", "path", what,
                                             "id", "version", "loadable", 0, "load_order",
                                             "diagnostics", "error", why));
}

/* kextutil without -n: every kext checked out, so kxd loads them (it
 * resolves dependencies against its own extensions folders). */
static int load_through_kxd(const struct check_args *a, const char *prog)
{
    kx_client *c = kx_cli_connect(prog, NULL);
    if (!c)
        return 1;
    int rc = 0;
    for (size_t i = 0; i < a->n_kexts; i++) {
        char *arg = kx_cli_kext_arg(a->kexts[i]);
        kx_status st = arg ? kx_client_load(c, arg, 0) : STATUS_INSUFFICIENT_RESOURCES;
        free(arg);
        if (st == STATUS_SUCCESS) {
            if (!a->quiet)
                printf("%s loaded successfully (or already loaded).\n", a->kexts[i]);
        } else {
            fprintf(stderr, "%s failed to load - %s; check the system/kernel logs for errors.\n%s",
                    a->kexts[i], kx_status_string(st), kx_client_message(c));
            rc = 1;
        }
    }
    kx_client_disconnect(c);
    return rc;
}

static int run(struct check_args *a, const char *prog)
{
    struct kx_kext_repo *repo = NULL;
    struct kx_kext *targets[MAX_ARGS * 2];
    const char *names[MAX_ARGS * 2];
    size_t n_targets = 0;
    int rc = 0;
    kx_status st;
    json_t *arr = a->json ? json_array() : NULL;

    /* OSBundleAllowUserLoad matters only to a user other than root (KX4011). */
    if (kx_plat_self_uid() != 0)
        a->kopts.flags |= KX_KEXT_FOR_USER;
    if ((st = kx_kext_repo_new(&a->kopts, &repo)) != STATUS_SUCCESS) {
        fprintf(stderr, "%s: %s\n", prog, kx_status_string(st));
        json_decref(arr);
        return 2;
    }
    if (a->system && kx_kext_repo_use_system(repo, a->system) != STATUS_SUCCESS) {
        fprintf(stderr, "%s: unknown system profile '%s' (see kx check --system list)\n", prog,
                a->system);
        rc = 2;
        goto out;
    }
    for (size_t i = 0; i < a->n_dirs; i++)
        if ((st = kx_kext_repo_add_folder(repo, a->dirs[i])) != STATUS_SUCCESS) {
            fprintf(stderr, "%s: %s: %s\n", prog, a->dirs[i], kx_status_string(st));
            rc = 2;
            goto out;
        }
    for (size_t i = 0; i < a->n_deps; i++)
        if ((st = kx_kext_repo_add_kext(repo, a->deps[i], NULL)) != STATUS_SUCCESS) {
            fprintf(stderr, "%s: %s: %s\n", prog, a->deps[i], kx_status_string(st));
            rc = 2;
            goto out;
        }
    /* The KEXTs join the repository last: among equal versions they win. */
    for (size_t i = 0; i < a->n_kexts; i++) {
        struct kx_kext *k = NULL;
        if ((st = kx_kext_repo_add_kext(repo, a->kexts[i], &k)) != STATUS_SUCCESS) {
            report_unreadable(arr, a->kexts[i], kx_status_string(st), a->quiet);
            rc = 2;
            continue;
        }
        names[n_targets] = a->kexts[i];
        targets[n_targets++] = k;
    }
    for (size_t i = 0; i < a->n_ids; i++) {
        struct kx_kext *k = kx_kext_repo_lookup(repo, a->ids[i], KX_VERS_INVALID);
        if (!k) {
            report_unreadable(arr, a->ids[i], "no kext with this bundle identifier", a->quiet);
            rc = 2;
            continue;
        }
        names[n_targets] = a->ids[i];
        targets[n_targets++] = k;
    }

    for (size_t i = 0; i < n_targets; i++) {
        struct kx_kext_resolution *res = NULL;
        if ((st = kx_kext_resolve(repo, targets[i], &res)) != STATUS_SUCCESS) {
            report_unreadable(arr, names[i], kx_status_string(st), a->quiet);
            rc = 2;
            continue;
        }
        int linked = 0;
        if (kx_kext_resolution_verify(res, &linked) == STATUS_INSUFFICIENT_RESOURCES) {
            report_unreadable(arr, names[i], kx_status_string(STATUS_INSUFFICIENT_RESOURCES),
                              a->quiet);
            rc = 2;
            kx_kext_resolution_free(res);
            continue;
        }
        if (!kx_kext_resolution_is_loadable(res) && rc == 0)
            rc = 1;
        if (arr) {
            if (json_array_append_new(arr, kx_kext_resolution_to_json(res)) != 0)
                rc = 2; /* out of memory */
        } else if (!a->quiet) {
            print_text(res, a->verbose, linked);
        }
        kx_kext_resolution_free(res);
    }

    if (arr) {
        json_t *root = json_pack("{s:o, s:s?, s:s, s:o}", "kexts", arr, "system",
                                 kx_kext_repo_system(repo), "arch",
                                 a->kopts.arch ? a->kopts.arch : kx_kext_host_arch(), "repository",
                                 kx_diags_to_json(kx_kext_repo_diags(repo)));
        arr = NULL;
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    } else if (a->verbose && !a->quiet) {
        kx_diags_print(kx_kext_repo_diags(repo), "the extensions folders", stdout);
    }
    if (a->load_requested && rc == 0)
        rc = load_through_kxd(a, prog);
out:
    json_decref(arr);
    kx_kext_repo_free(repo);
    return rc;
}

static int check_main(int argc, char **argv, int as_kextutil)
{
    struct check_args a;
    memset(&a, 0, sizeof a);
    int rc = as_kextutil ? parse_kextutil(argc, argv, &a) : parse_check(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (a.system && strcmp(a.system, "list") == 0)
        return list_systems(a.json);
    return run(&a, as_kextutil ? "kextutil" : "kx check");
}

int kx_cmd_check(int argc, char **argv)
{
    const char *self = strrchr(argv[0], '/');
    self = self ? self + 1 : argv[0];
    return check_main(argc, argv, strcmp(self, "kextutil") == 0);
}
