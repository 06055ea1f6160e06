/* cmd_load.c — `kx load` / kextload and `kx unload` / kextunload through kxd.
 *
 * Messages and exit codes follow Apple's tools so scripts and searches keep
 * working: "<kext> loaded successfully (or already loaded).", "<kext> failed
 * to load - <reason>; check the system/kernel logs for errors or try
 * kextutil(8).", EX_NOPERM (77) when not privileged, EX_OSERR (71) otherwise.
 * kxd's report (the diagnostics, or the holders that block an unload)
 * follows on the next lines.
 *
 * kextload's -r DIR and -d KEXT name kexts to satisfy dependencies with that
 * kxd's own folders may not hold: the client resolves each KEXT against them
 * (its own reading, metadata only) and asks kxd to load, by path, every
 * dependency they provide, dependencies first, then the KEXT; -b ID is looked
 * up there too. kxd checks every one of them as it checks any load.
 *
 * kextload FILE.sys.lua loads a bare Lua driver through the bundle
 * synthesised for it (cmd_load_lua.c).
 */
#include "cli.h"
#include "verbs.h"

#include "lua/lua_drv.h"

#include <kx/kext.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

struct load_args {
    const char *socket;
    int verbose, quiet, recursive, dry_run, personalities_only;
    char **kexts; /* paths and -b identifiers, in order */
    size_t n_kexts;
    char **classes; /* kextunload -c */
    size_t n_classes;
    char **repos; /* kextload -r DIR */
    size_t n_repos;
    char **deps; /* kextload -d KEXT */
    size_t n_deps;
};

static int parse(int argc, char **argv, const char *usage, int is_unload, struct load_args *a)
{
    enum { OPT_SOCKET = 1000, OPT_HELP };
    static const struct option opts[] = {{"socket", required_argument, NULL, OPT_SOCKET},
                                         {"help", no_argument, NULL, OPT_HELP},
                                         {"bundle-id", required_argument, NULL, 'b'},
                                         {"verbose", optional_argument, NULL, 'v'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"recursive", no_argument, NULL, 'r'},
                                         {"no-load", no_argument, NULL, 'n'},
                                         {"personalities-only", no_argument, NULL, 'p'},
                                         {"class", required_argument, NULL, 'c'},
                                         {"repository", required_argument, NULL, 'R'},
                                         {"dependency", required_argument, NULL, 'd'},
                                         {NULL, 0, NULL, 0}};
    int c;
    memset(a, 0, sizeof *a);
    a->kexts = calloc((size_t)argc + 1, sizeof *a->kexts);
    a->classes = calloc((size_t)argc + 1, sizeof *a->classes);
    a->repos = calloc((size_t)argc + 1, sizeof *a->repos);
    a->deps = calloc((size_t)argc + 1, sizeof *a->deps);
    if (!a->kexts || !a->classes || !a->repos || !a->deps)
        return -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, is_unload ? "b:m:c:v::qrph" : "b:r:d:v::qnh", opts,
                            NULL)) != -1) {
        if (c == 'r' && !is_unload) /* kextload -r DIR: a repository, not kextunload's recursion */
            c = optarg ? 'R' : '?';
        if ((c == 'R' || c == 'd') && is_unload)
            c = '?';
        switch (c) {
        case 'R': a->repos[a->n_repos++] = optarg; break;
        case 'd': a->deps[a->n_deps++] = optarg; break;
        case 'b':
        case 'm': /* kextunload's legacy spelling of -b */ a->kexts[a->n_kexts++] = optarg; break;
        case 'v': a->verbose = 1; break;
        case 'q': a->quiet = 1; break;
        case 'r': a->recursive = 1; break;
        case 'n': a->dry_run = 1; break;
        case 'p': a->personalities_only = 1; break;
        case 'c': a->classes[a->n_classes++] = optarg; break;
        case OPT_SOCKET: a->socket = optarg; break;
        case 'h':
        case OPT_HELP: printf("%s", usage); exit(0);
        default: fprintf(stderr, "%s", usage); return -1;
        }
    }
    for (int i = optind; i < argc; i++)
        a->kexts[a->n_kexts++] = argv[i];
    if (a->n_kexts == 0 && a->n_classes == 0) {
        fprintf(stderr, "%s", usage);
        return -1;
    }
    return 0;
}

static int exit_code_for(kx_status st)
{
    if (st == STATUS_SUCCESS)
        return EX_OK;
    return st == STATUS_ACCESS_DENIED || st == STATUS_PRIVILEGE_NOT_HELD ? EX_NOPERM : EX_OSERR;
}

static void print_report(kx_client *c, int verbose, kx_status st)
{
    const char *msg = kx_client_message(c);
    if (*msg && (verbose || st != STATUS_SUCCESS))
        fprintf(st == STATUS_SUCCESS ? stdout : stderr, "%s%s", msg,
                msg[strlen(msg) - 1] == '\n' ? "" : "\n");
}

/* kextunload -c: one request per class. */
static int terminate_classes(kx_client *c, const struct load_args *a)
{
    int rc = EX_OK;
    for (size_t i = 0; i < a->n_classes; i++) {
        kx_status st = kx_client_unload(c, a->classes[i], KX_UNLOAD_CLASS);
        if (st != STATUS_SUCCESS) {
            fprintf(stderr, "Failed to terminate instances of class %s - %s.\n", a->classes[i],
                    kx_status_string(st));
            rc = exit_code_for(st);
        }
        if (!a->quiet)
            print_report(c, st == STATUS_SUCCESS || a->verbose, st);
    }
    return rc;
}

/* kextload -r/-d: the repository of the named folders and kexts, metadata only. */
static struct kx_kext_repo *extra_repo(const struct load_args *a)
{
    struct kx_kext_options o = KX_KEXT_OPTIONS_INIT;
    struct kx_kext_repo *r = NULL;
    o.flags = KX_KEXT_NO_AUTH | KX_KEXT_NO_EXEC; /* kxd authenticates what it loads */
    kx_status st = kx_kext_repo_new(&o, &r);
    for (size_t i = 0; st == STATUS_SUCCESS && i < a->n_repos; i++)
        if ((st = kx_kext_repo_add_folder(r, a->repos[i])) != STATUS_SUCCESS)
            fprintf(stderr, "kextload: -r %s: %s\n", a->repos[i], kx_status_string(st));
    for (size_t i = 0; st == STATUS_SUCCESS && i < a->n_deps; i++)
        if ((st = kx_kext_repo_add_kext(r, a->deps[i], NULL)) != STATUS_SUCCESS)
            fprintf(stderr, "kextload: -d %s: %s\n", a->deps[i], kx_status_string(st));
    if (st != STATUS_SUCCESS) {
        kx_kext_repo_free(r);
        return NULL;
    }
    return r;
}

/* Loads, by path, every kext of kext's load list that -r/-d provide, dependencies first; then
 * *target is what to ask kxd for (a path when -r provided the kext itself). */
static kx_status load_extra(kx_client *c, struct kx_kext_repo *r, const char *kext,
                            char **target)
{
    struct kx_kext *k = NULL;
    struct kx_kext_resolution *res = NULL;
    kx_status st = STATUS_SUCCESS;
    if (strchr(kext, '/') || strstr(kext, ".kext"))
        st = kx_kext_repo_add_kext(r, kext, &k);
    else
        k = kx_kext_repo_lookup(r, kext, KX_VERS_INVALID);
    if (st != STATUS_SUCCESS || !k)
        return st; /* kxd says what is wrong with it */
    if (kx_kext_resolve(r, k, &res) != STATUS_SUCCESS)
        return STATUS_SUCCESS;
    for (size_t i = 0; st == STATUS_SUCCESS && i < kx_kext_resolution_n_load_order(res); i++) {
        struct kx_kext *d = kx_kext_resolution_load_order(res, i);
        const char *path = kx_kext_path(d);
        if (!path || strncmp(path, "profile:", 8) == 0)
            continue; /* the kernel's own interfaces */
        char *arg = kx_cli_kext_arg(path);
        if (!arg)
            st = STATUS_INSUFFICIENT_RESOURCES;
        else if (d == k)
            *target = arg;
        else {
            st = kx_client_load(c, arg, 0);
            if (st != STATUS_SUCCESS)
                fprintf(stderr, "Dependency %s of %s failed to load - %s.\n%s", path, kext,
                        kx_status_string(st), kx_client_message(c));
            free(arg);
        }
    }
    kx_kext_resolution_free(res);
    return st;
}

/* One load or unload request per kext, with Apple's success and failure lines. */
static int run_each(const struct load_args *a, int is_unload)
{
    kx_client *c = kx_cli_connect(is_unload ? "kextunload" : "kextload", a->socket);
    int rc = c ? EX_OK : EX_OSERR; /* as Apple's kextload when kextd is unreachable */
    if (c && a->n_classes)
        rc = terminate_classes(c, a);
    uint32_t unload_flags = (a->recursive ? KX_UNLOAD_RECURSIVE : 0) |
                            (a->personalities_only ? KX_UNLOAD_PERSONALITIES_ONLY : 0);
    struct kx_kext_repo *extra = NULL;
    if (c && !is_unload && (a->n_repos || a->n_deps) && !(extra = extra_repo(a)))
        rc = KX_EXIT_USAGE;
    for (size_t i = 0; c && rc != KX_EXIT_USAGE && i < a->n_kexts; i++) {
        const char *kext = a->kexts[i];
        char *arg = NULL;
        kx_status st = STATUS_SUCCESS;
        if (!is_unload && kx_lua_script_path(kext))
            st = kx__load_lua_script(kext, &arg);
        else if (extra)
            st = load_extra(c, extra, kext, &arg);
        if (st == STATUS_SUCCESS && !arg)
            arg = kx_cli_kext_arg(kext);
        if (st == STATUS_SUCCESS)
            st = !arg        ? STATUS_INSUFFICIENT_RESOURCES
                 : is_unload ? kx_client_unload(c, arg, unload_flags)
                             : kx_client_load(c, arg, a->dry_run ? KX_LOAD_DRY_RUN : 0);
        free(arg);
        if (st != STATUS_SUCCESS) {
            if (is_unload)
                fprintf(stderr, "Failed to unload %s - %s.\n", kext, kx_status_string(st));
            else
                fprintf(stderr,
                        "%s failed to load - %s; check the system/kernel logs for errors or try "
                        "kextutil(8).\n",
                        kext, kx_status_string(st));
            rc = exit_code_for(st);
        } else if (!a->quiet) {
            printf(is_unload && a->personalities_only
                       ? "%s: instances terminated and personalities removed.\n"
                   : is_unload  ? "%s unloaded and personalities removed.\n"
                   : a->dry_run ? "%s appears to be loadable.\n"
                                : "%s loaded successfully (or already loaded).\n",
                   kext);
        }
        if (!a->quiet)
            print_report(c, a->verbose, st);
    }
    kx_kext_repo_free(extra);
    kx_client_disconnect(c);
    return rc;
}

int kx_cmd_load(int argc, char **argv)
{
    static const char usage[] =
        "usage: kx load [-v] [-q] [-n] [-b BUNDLE_ID]... [-r DIR]... [-d KEXT]...\n"
        "               [--socket PATH] [KEXT...]\n"
        "Loads each kext and its dependencies into kxd (kextload). A bare Lua driver\n"
        "(FILE.sys.lua) is loaded as a bundle synthesised from its g_tDriverInfo.\n"
        "  -n  resolve and link-check only; load nothing\n"
        "  -r DIR   also take dependencies (and -b kexts) from the kexts in DIR\n"
        "  -d KEXT  also take dependencies from KEXT\n";
    struct load_args a;
    int rc = parse(argc, argv, usage, 0, &a) != 0 ? KX_EXIT_USAGE : run_each(&a, 0);
    free(a.kexts);
    free(a.classes);
    free(a.repos);
    free(a.deps);
    return rc;
}

int kx_cmd_unload(int argc, char **argv)
{
    static const char usage[] =
        "usage: kx unload [-r] [-p] [-v] [-q] [-b BUNDLE_ID]... [-c CLASS]... [--socket PATH]\n"
        "                 [KEXT...]\n"
        "Unloads each kext (kextunload): its driver instances are terminated, its\n"
        "personalities removed, its code unloaded. Refused while dependents are loaded or its\n"
        "devices are open; the holders are named.\n"
        "  -r  unload the kexts that depend on it first, in reverse load order\n"
        "  -p  terminate its instances and remove its personalities; keep its code loaded\n"
        "  -c CLASS  terminate every instance of the IOClass CLASS; unload nothing\n";
    struct load_args a;
    int rc = parse(argc, argv, usage, 1, &a) != 0 ? KX_EXIT_USAGE : run_each(&a, 1);
    free(a.kexts);
    free(a.classes);
    free(a.repos);
    free(a.deps);
    return rc;
}
