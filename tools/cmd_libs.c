/* cmd_libs.c — `kx libs` / kextlibs: which OSBundleLibraries a kext needs.
 *
 * Reads the kext's ELF imports statically and finds, among kx's kernel
 * interfaces and the library kexts of the extensions folders, the ones that
 * export each symbol. Prints the libraries as OSBundleLibraries entries with
 * their compatible (minimum) versions by default — Apple prints current
 * versions, the root cause of many "only incompatible kexts found" reports —
 * and, on stderr, kextlibs' three counts. Exit 0 only when every symbol is
 * found in exactly one library.
 */
#include "cli.h"
#include "verbs.h"

#include "kernel/link.h"
#include "lua/lua_drv.h"

#include <kx/kext.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: kx libs [--extensions DIR]... [--current] [--xml] [--json] [--no-auth]\n"
    "               [--undef-symbols] [--multdef-symbols] KEXT\n"
    "       kextlibs [-c] [-xml] [-r DIR]... [-undef-symbols] [-multdef-symbols] KEXT\n"
    "Prints the OSBundleLibraries KEXT needs, with compatible (minimum) versions\n"
    "(--current: current versions).\n";

struct libs_args {
    const char *kext;
    const char *dirs[64];
    size_t n_dirs;
    int current, xml, json, no_auth, undef, multdef;
};

static int parse_args(int argc, char **argv, int as_kextlibs, struct libs_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        /* kextlibs' single-dash words and kx's double-dash ones are the same options */
        const char *opt = s[0] == '-' && s[1] == '-' ? s + 2 : s[0] == '-' ? s + 1 : NULL;
        if (!opt) {
            if (a->kext)
                return -1;
            a->kext = s;
        } else if (!strcmp(opt, "extensions") || !strcmp(opt, "r") || !strcmp(opt, "repository")) {
            if (i + 1 >= argc || a->n_dirs == sizeof a->dirs / sizeof a->dirs[0])
                return -1;
            a->dirs[a->n_dirs++] = argv[++i];
        } else if (!strcmp(opt, "current")) {
            a->current = 1;
        } else if (!strcmp(opt, "c") || !strcmp(opt, "compatible-versions")) {
            a->current = 0; /* kextlibs' -c: kx's default */
        } else if (!strcmp(opt, "xml")) {
            a->xml = 1;
        } else if (!strcmp(opt, "json")) {
            a->json = 1;
        } else if (!strcmp(opt, "no-auth")) {
            a->no_auth = 1;
        } else if (!strcmp(opt, "undef-symbols")) {
            a->undef = 1;
        } else if (!strcmp(opt, "multdef-symbols")) {
            a->multdef = 1;
        } else if (!strcmp(opt, "h") || !strcmp(opt, "help")) {
            printf("%s", usage_text);
            exit(0);
        } else {
            return -1;
        }
    }
    (void)as_kextlibs;
    return a->kext ? 0 : -1;
}

static const char *version_of(struct kx_kext *lib, int current, char *buf, size_t len)
{
    kx_vers v = current ? kx_kext_version(lib) : kx_kext_compatible_version(lib);
    if (v == KX_VERS_INVALID)
        v = kx_kext_version(lib);
    return kx_vers_format(v, buf, len);
}

static void print_text(const struct libs_args *a, const struct kx_link_report *r)
{
    char ver[KX_VERS_FORMAT_MAX];
    if (a->xml)
        printf("\t<key>OSBundleLibraries</key>\n\t<dict>\n");
    for (size_t i = 0; i < r->n_uses; i++) {
        const char *id = kx_kext_id(r->uses[i].lib);
        version_of(r->uses[i].lib, a->current, ver, sizeof ver);
        if (a->xml)
            printf("\t\t<key>%s</key>\n\t\t<string>%s</string>\n", id, ver);
        else
            printf("    %s = %s\n", id, ver);
    }
    if (a->xml)
        printf("\t</dict>\n");
    fprintf(stderr, "%zu symbol%s found in one library kext each\n", r->n_unique,
            r->n_unique == 1 ? "" : "s");
    fprintf(stderr, "%zu symbol%s not found in any library kext\n", r->n_missing,
            r->n_missing == 1 ? "" : "s");
    if (a->undef)
        for (size_t i = 0; i < r->n_missing; i++)
            fprintf(stderr, "    %s\n", r->missing[i]);
    fprintf(stderr, "%zu symbol%s found in more than one library kext\n", r->n_multiple,
            r->n_multiple == 1 ? "" : "s");
    if (a->multdef)
        for (size_t i = 0; i < r->n_multiple; i++)
            fprintf(stderr, "    %s\n", r->multiple[i]);
}

static void print_json(const struct libs_args *a, struct kx_kext *k, const struct kx_link_report *r)
{
    char ver[KX_VERS_FORMAT_MAX], cur[KX_VERS_FORMAT_MAX];
    json_t *libs = json_array(), *missing = json_array(), *multiple = json_array();
    for (size_t i = 0; i < r->n_uses; i++)
        json_array_append_new(
            libs, json_pack("{s:s, s:s, s:s, s:I}", "id", kx_kext_id(r->uses[i].lib), "version",
                            version_of(r->uses[i].lib, a->current, ver, sizeof ver), "current",
                            version_of(r->uses[i].lib, 1, cur, sizeof cur), "symbols",
                            (json_int_t)r->uses[i].n_symbols));
    for (size_t i = 0; i < r->n_missing; i++)
        json_array_append_new(missing, json_string(r->missing[i]));
    for (size_t i = 0; i < r->n_multiple; i++)
        json_array_append_new(multiple, json_string(r->multiple[i]));
    json_t *root = json_pack("{s:s, s:s?, s:o, s:I, s:o, s:o}", "path", kx_kext_path(k), "id",
                             kx_kext_id(k), "libraries", libs, "unique", (json_int_t)r->n_unique,
                             "missing", missing, "multiple", multiple);
    json_dumpf(root, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(root);
}

/* Why there is nothing to read: no code at all, or code for another machine (a macOS kext's
 * Mach-O, whose symbols only Apple's kextlibs on macOS can read). */
static void no_executable(const char *prog, const struct libs_args *a, const struct kx_kext *k)
{
    const struct kx_diag *foreign = NULL;
    const struct kx_diags *d = kx_kext_diags(k);
    for (size_t i = 0; i < d->n_items && !foreign; i++)
        if (d->items[i].code == KX_D_FOREIGN_EXECUTABLE)
            foreign = &d->items[i];
    char why[512];
    if (foreign)
        snprintf(why, sizeof why,
                 "its executable %s is %s, not an ELF object for this machine: kx reads only ELF "
                 "symbol tables, so it can't say which libraries this kext needs",
                 foreign->subject ? foreign->subject : "", foreign->detail ? foreign->detail : "");
    else if (kx_kext_declares_executable(k))
        snprintf(why, sizeof why, "its executable can't be found (see kx check)");
    else
        snprintf(why, sizeof why, "it has no executable, so it links against nothing");
    if (a->json) {
        json_t *root = json_pack("{s:s, s:s?, s:[], s:s}", "path", kx_kext_path(k), "id",
                                 kx_kext_id(k), "libraries", "error", why);
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    }
    fprintf(stderr, "%s: %s: %s\n", prog, a->kext, why);
}

static int libs_main(int argc, char **argv, int as_kextlibs)
{
    const char *prog = as_kextlibs ? "kextlibs" : "kx libs";
    struct libs_args a;
    if (parse_args(argc, argv, as_kextlibs, &a) != 0) {
        fprintf(stderr, "%s", usage_text);
        return KX_EXIT_USAGE;
    }
    struct kx_kext_options opts = KX_KEXT_OPTIONS_INIT;
    if (a.no_auth)
        opts.flags |= KX_KEXT_NO_AUTH;
    struct kx_kext_repo *repo = NULL;
    struct kx_kext *k = NULL;
    kx_status st = kx_kext_repo_new(&opts, &repo);
    for (size_t i = 0; st == STATUS_SUCCESS && i < a.n_dirs; i++)
        if ((st = kx_kext_repo_add_folder(repo, a.dirs[i])) != STATUS_SUCCESS)
            fprintf(stderr, "%s: %s: %s\n", prog, a.dirs[i], kx_status_string(st));
    if (st == STATUS_SUCCESS && (st = kx_kext_repo_add_kext(repo, a.kext, &k)) != STATUS_SUCCESS)
        fprintf(stderr, "%s: %s: %s\n", prog, a.kext, kx_status_string(st));
    if (st == STATUS_SUCCESS && !kx_kext_executable(k)) {
        no_executable(prog, &a, k);
        st = STATUS_KEXT_NOT_LOADABLE;
    }
    if (st == STATUS_SUCCESS && kx_lua_script_path(kx_kext_executable(k))) {
        /* A Lua driver imports no symbols: what it needs are the host's modules. */
        struct kx_driver_info info;
        char why[256] = "";
        st = kx_lua_inspect_file(kx_kext_executable(k), &info, why, sizeof why);
        if (st == STATUS_SUCCESS)
            printf("%s is a Lua driver: it links against no library; its requires are all "
                   "modules of kx's Lua host.\n",
                   a.kext);
        else
            fprintf(stderr, "%s: %s: %s\n", prog, a.kext, why);
        kx_kext_repo_free(repo);
        return st == STATUS_SUCCESS ? KX_EXIT_OK : KX_EXIT_FAIL;
    }
    struct kx_link_report r;
    if (st == STATUS_SUCCESS && (st = kx_link_find_libraries(repo, k, &r)) != STATUS_SUCCESS)
        fprintf(stderr, "%s: %s: %s\n", prog, a.kext, kx_status_string(st));
    if (st != STATUS_SUCCESS) {
        kx_kext_repo_free(repo);
        return st == STATUS_KEXT_NOT_LOADABLE ? KX_EXIT_FAIL : KX_EXIT_USAGE;
    }
    if (a.json)
        print_json(&a, k, &r);
    else
        print_text(&a, &r);
    int rc = r.n_missing || r.n_multiple ? KX_EXIT_FAIL : KX_EXIT_OK;
    kx_link_report_free(&r);
    kx_kext_repo_free(repo);
    return rc;
}

int kx_cmd_libs(int argc, char **argv)
{
    const char *self = strrchr(argv[0], '/');
    return libs_main(argc, argv, strcmp(self ? self + 1 : argv[0], "kextlibs") == 0);
}
