/* cmd_match.c — `kx match`: a matching dry run over a described platform, Linux's devices or
 * the running kxd.
 *
 * With --platform (or --linux, --sysfs), publishes the machine into a fresh registry, puts every
 * personality of the extensions folders into a catalogue, and matches every nub (every
 * IOService-plane entry but Root) with explanations, exactly as kxd would before loading anything;
 * without it, kxd makes the same report on its own registry and catalogue. Either way the report is
 * kx_match_report_json's (src/registry/match_report.c): per nub each candidate (kext,
 * personality, IOClass, score, category, chosen, and whether the kext whose code it runs
 * would load) and each rejected personality of the nub's class chain with the key that
 * failed and why; then the personalities whose provider class nothing can be, so none goes
 * unexplained. --json prints it; the text is made from it. Nothing is loaded. Exit status: 0
 * a report was made, 1 the platform, folders or kxd couldn't be read, 2 usage.
 */
#include "cli.h"
#include "regcli.h"
#include "verbs.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: kx match [(" REGCLI_SOURCE_USAGE ")\n"
    "                 [--extensions DIR]... [--safe-boot] [--no-auth]] [--socket PATH] [--json]\n"
    "Matches every nub of the machine against the personalities of the folders, loading\n"
    "nothing: candidates in match order (the first of each category is chosen) and every\n"
    "rejected personality with the key that failed. The machine is a platform file, this\n"
    "host's devices (--linux, or --platform linux), a sysfs tree (--sysfs DIR) or none;\n"
    "without any, kxd's registry and catalogue, matched by kxd.\n";

struct match_args {
    struct regcli_source src;
    const char *socket;
    const char *dirs[REGCLI_MAX_FOLDERS];
    size_t n_dirs;
    int json, safe_boot, no_auth;
};

/* A machine named here, rather than the running kxd's. */
static int is_local(const struct match_args *a)
{
    return a->src.platform || a->src.sysfs;
}

static int parse_args(int argc, char **argv, struct match_args *a)
{
    static const struct option opts[] = {REGCLI_SOURCE_OPTIONS,
                                         {"extensions", required_argument, NULL, 'e'},
                                         {"safe-boot", no_argument, NULL, 'x'},
                                         {"no-auth", no_argument, NULL, 'A'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"socket", required_argument, NULL, 'K'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        if (regcli_source_option(&a->src, c, optarg))
            continue;
        switch (c) {
        case 'e':
            if (a->n_dirs == REGCLI_MAX_FOLDERS)
                return -1;
            a->dirs[a->n_dirs++] = optarg;
            break;
        case 'x': a->safe_boot = 1; break;
        case 'A': a->no_auth = 1; break;
        case 'j': a->json = 1; break;
        case 'K': a->socket = optarg; break;
        case 'h': printf("%s", usage_text); exit(KX_EXIT_OK);
        default: return -1;
        }
    }
    /* kxd matches with its own folders and boot mode */
    if (!is_local(a) && (a->n_dirs || a->safe_boot || a->no_auth))
        return -1;
    return optind == argc ? 0 : -1;
}

/* ---- Text, from the report ------------------------------------------------------------ */

static const char *str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

static void print_nub(json_t *nub)
{
    json_t *cands = json_object_get(nub, "candidates"), *rejs = json_object_get(nub, "rejected");
    size_t i;
    json_t *x;
    printf("%s  <class %s, id 0x%llx>\n", str(nub, "path"), str(nub, "class"),
           (unsigned long long)json_integer_value(json_object_get(nub, "id")));
    if (!json_array_size(cands))
        printf("  no candidates\n");
    for (i = 0; i < json_array_size(cands) && (x = json_array_get(cands, i)); i++) {
        int chosen = json_is_true(json_object_get(x, "chosen"));
        json_t *category = json_object_get(x, "category"), *merge = json_object_get(x, "merge");
        printf("  %s %s \"%s\" (IOClass %s) score %lld, %s%s\n", chosen ? "*" : " ", str(x, "kext"),
               str(x, "personality"), str(x, "ioclass"),
               (long long)json_integer_value(json_object_get(x, "score")),
               json_is_string(category) ? json_string_value(category) : "merges only",
               chosen ? ", chosen" : "");
        if (merge)
            printf("      merges %zu properties into the provider\n", json_object_size(merge));
        if (!json_is_true(json_object_get(x, "loadable")))
            printf("      not loadable: %s\n", str(x, "reason"));
    }
    for (i = 0; i < json_array_size(rejs) && (x = json_array_get(rejs, i)); i++)
        printf("  - %s \"%s\": %s: %s\n", str(x, "kext"), str(x, "personality"), str(x, "key"),
               str(x, "why"));
}

static void print_report(json_t *root)
{
    json_t *nubs = json_object_get(root, "nubs"), *never = json_object_get(root, "never_match");
    size_t i;
    json_t *x;
    for (i = 0; i < json_array_size(nubs) && (x = json_array_get(nubs, i)); i++)
        print_nub(x);
    if (json_array_size(never))
        printf("\nPersonalities no nub can match:\n");
    for (i = 0; i < json_array_size(never) && (x = json_array_get(never, i)); i++)
        printf("  - %s \"%s\": %s: %s\n", str(x, "kext"), str(x, "personality"), str(x, "key"),
               str(x, "why"));
}

/* The report over the platform file and folders, made here. */
static char *local_report(const struct match_args *a)
{
    struct kx_kext_options opts = KX_KEXT_OPTIONS_INIT;
    if (a->no_auth)
        opts.flags |= KX_KEXT_NO_AUTH;
    if (a->safe_boot)
        opts.flags |= KX_KEXT_SAFE_BOOT;
    struct regcli c;
    char *json = NULL;
    if (regcli_init("kx match", &c) == 0 && regcli_registry("kx match", &a->src, &c) == 0 &&
        regcli_catalog("kx match", a->dirs, a->n_dirs, &opts,
                       a->safe_boot ? KX_CATALOG_SAFE_BOOT : 0, &c) == 0) {
        kx_status st = kx_match_report_json(c.cat, c.reg, regcli_loadable, &c, &json);
        if (st != STATUS_SUCCESS)
            fprintf(stderr, "kx match: %s\n", kx_status_string(st));
    }
    regcli_free(&c);
    return json;
}

int kx_cmd_match(int argc, char **argv)
{
    struct match_args a;
    if (parse_args(argc, argv, &a) != 0) {
        fprintf(stderr, "%s", usage_text);
        return KX_EXIT_USAGE;
    }
    char *text = is_local(&a) ? local_report(&a)
                              : regcli_kxd_json("kx match", a.socket, "kxd's match report",
                                                kx_client_match_report);
    return regcli_show_json("kx match", "the report", text, a.json, print_report);
}
