/* cmd_load.c — `kx load` / kextload and `kx unload` / kextunload through kxd.
 *
 * Messages and exit codes follow Apple's tools so scripts and searches keep
 * working: "<kext> loaded successfully (or already loaded).", "<kext> failed
 * to load - <reason>; check the system/kernel logs for errors or try
 * kextutil(8).", EX_NOPERM (77) when not privileged, EX_OSERR (71) otherwise.
 * kxd's report (the diagnostics, or the holders that block an unload)
 * follows on the next lines.
 */
#include "cli.h"
#include "verbs.h"

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
                                         {NULL, 0, NULL, 0}};
    int c;
    memset(a, 0, sizeof *a);
    a->kexts = calloc((size_t)argc + 1, sizeof *a->kexts);
    a->classes = calloc((size_t)argc + 1, sizeof *a->classes);
    if (!a->kexts || !a->classes)
        return -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, is_unload ? "b:m:c:v::qrph" : "b:v::qnh", opts, NULL)) !=
           -1) {
        switch (c) {
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

/* One load or unload request per kext, with Apple's success and failure lines. */
static int run_each(const struct load_args *a, int is_unload)
{
    kx_client *c = kx_cli_connect(is_unload ? "kextunload" : "kextload", a->socket);
    int rc = c ? EX_OK : EX_OSERR; /* as Apple's kextload when kextd is unreachable */
    if (c && a->n_classes)
        rc = terminate_classes(c, a);
    uint32_t unload_flags = (a->recursive ? KX_UNLOAD_RECURSIVE : 0) |
                            (a->personalities_only ? KX_UNLOAD_PERSONALITIES_ONLY : 0);
    for (size_t i = 0; c && i < a->n_kexts; i++) {
        const char *kext = a->kexts[i];
        char *arg = kx_cli_kext_arg(kext);
        kx_status st = !arg        ? STATUS_INSUFFICIENT_RESOURCES
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
    kx_client_disconnect(c);
    return rc;
}

int kx_cmd_load(int argc, char **argv)
{
    static const char usage[] =
        "usage: kx load [-v] [-q] [-n] [-b BUNDLE_ID]... [--socket PATH] [KEXT...]\n"
        "Loads each kext and its dependencies into kxd (kextload).\n"
        "  -n  resolve and link-check only; load nothing\n";
    struct load_args a;
    int rc = parse(argc, argv, usage, 0, &a) != 0 ? KX_EXIT_USAGE : run_each(&a, 0);
    free(a.kexts);
    free(a.classes);
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
    return rc;
}
