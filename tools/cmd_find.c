/* cmd_find.c — `kx find` / kextfind: the kexts of folders that match a query.
 *
 * Apple's kextfind basics: the arguments before the query are kexts and
 * folders (none: the default extensions folder); the query ANDs its
 * predicates — -b/-bundle-id ID (exact, or with -s/-substring a substring,
 * -i/-case-insensitive either way), -lib/-library (has
 * OSBundleCompatibleVersion), -invalid, -inauthentic, -executable; without a
 * -report each match prints as its path, with one the listed fields print
 * tab-separated under a header (-no-header drops it): -b/-bundle-id,
 * -bundle-name, -version, -path, -lib/-library. `--json` prints every match
 * with all of these. Kernel pseudo-kexts (profiles) are never listed.
 * Exit status: 0 (even when nothing matches), 2 usage or I/O error.
 */
#include "cli.h"
#include "verbs.h"

#include <kx/kext.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_ITEMS 64

enum field { F_ID, F_NAME, F_VERSION, F_PATH, F_LIBRARY };

struct query {
    const char *ids[MAX_ITEMS];
    size_t n_ids;
    int substring, icase, library, invalid, inauthentic, executable;
    enum field fields[MAX_ITEMS];
    size_t n_fields;
    int report, no_header, json, no_auth;
    const char *sources[MAX_ITEMS];
    size_t n_sources;
};

static const char usage_text[] =
    "usage: kextfind [--no-auth] [--json] [KEXT|DIR]... [-b ID]... [-s] [-i] [-lib] [-invalid]\n"
    "                [-inauthentic] [-executable]\n"
    "                [-report [-no-header] [-b] [-bundle-name] [-version] [-path] [-lib]...]\n"
    "Lists the kexts of the folders (default: kx's extensions folder) that match every\n"
    "predicate given; -s matches identifiers as substrings, -i ignores case.\n";

static int parse(int argc, char **argv, struct query *q)
{
    int in_report = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!s)
            break;
        int is_b = !strcmp(s, "-b") || !strcmp(s, "-bundle-id");
        if (!strcmp(s, "-h") || !strcmp(s, "-help") || !strcmp(s, "--help")) {
            printf("%s", usage_text);
            return 0;
        }
        if (q->n_ids == MAX_ITEMS || q->n_fields == MAX_ITEMS || q->n_sources == MAX_ITEMS) {
            fprintf(stderr, "kextfind: too many arguments\n");
            return 2;
        }
        if (!strcmp(s, "--no-auth"))
            q->no_auth = 1;
        else if (!strcmp(s, "--json"))
            q->json = 1;
        else if (!strcmp(s, "-report"))
            in_report = q->report = 1;
        else if (in_report && !strcmp(s, "-no-header"))
            q->no_header = 1;
        else if (in_report && is_b)
            q->fields[q->n_fields++] = F_ID;
        else if (in_report && !strcmp(s, "-bundle-name"))
            q->fields[q->n_fields++] = F_NAME;
        else if (in_report && !strcmp(s, "-version"))
            q->fields[q->n_fields++] = F_VERSION;
        else if (in_report && !strcmp(s, "-path"))
            q->fields[q->n_fields++] = F_PATH;
        else if (in_report && (!strcmp(s, "-lib") || !strcmp(s, "-library")))
            q->fields[q->n_fields++] = F_LIBRARY;
        else if (!in_report && is_b && next)
            q->ids[q->n_ids++] = argv[++i];
        else if (!in_report && (!strcmp(s, "-s") || !strcmp(s, "-substring")))
            q->substring = 1;
        else if (!in_report && (!strcmp(s, "-i") || !strcmp(s, "-case-insensitive")))
            q->icase = 1;
        else if (!in_report && (!strcmp(s, "-lib") || !strcmp(s, "-library")))
            q->library = 1;
        else if (!in_report && !strcmp(s, "-invalid"))
            q->invalid = 1;
        else if (!in_report && !strcmp(s, "-inauthentic"))
            q->inauthentic = 1;
        else if (!in_report && !strcmp(s, "-executable"))
            q->executable = 1;
        else if (s[0] != '-' && !in_report)
            q->sources[q->n_sources++] = s;
        else {
            fprintf(stderr, "kextfind: unknown or incomplete predicate %s\n", s);
            fprintf(stderr, "%s", usage_text);
            return 2;
        }
    }
    if (q->report && q->n_fields == 0)
        q->fields[q->n_fields++] = F_ID; /* a report of nothing: the identifiers */
    return -1;
}

static int id_matches(const struct query *q, const char *id)
{
    if (q->n_ids == 0)
        return 1;
    for (size_t i = 0; id && i < q->n_ids; i++) {
        if (q->substring
                ? (q->icase ? strcasestr(id, q->ids[i]) != NULL : strstr(id, q->ids[i]) != NULL)
                : (q->icase ? strcasecmp(id, q->ids[i]) == 0 : strcmp(id, q->ids[i]) == 0))
            return 1;
    }
    return 0;
}

static int matches(const struct query *q, const struct kx_kext *k)
{
    return id_matches(q, kx_kext_id(k)) && (!q->library || kx_kext_is_library(k)) &&
           (!q->invalid || !kx_kext_is_valid(k)) && (!q->inauthentic || !kx_kext_is_authentic(k)) &&
           (!q->executable || kx_kext_declares_executable(k));
}

static const char *bundle_name(const struct kx_kext *k)
{
    plist_t info = kx_kext_info(k);
    plist_t n = info ? plist_dict_get_item(info, "CFBundleName") : NULL;
    return n && plist_get_node_type(n) == PLIST_STRING ? plist_get_string_ptr(n, NULL) : NULL;
}

static const char *field_value(const struct kx_kext *k, enum field f)
{
    const char *s = NULL;
    switch (f) {
    case F_ID: s = kx_kext_id(k); break;
    case F_NAME: s = bundle_name(k); break;
    case F_VERSION: s = kx_kext_version_string(k); break;
    case F_PATH: s = kx_kext_path(k); break;
    case F_LIBRARY: s = kx_kext_is_library(k) ? "yes" : "no"; break;
    }
    return s ? s : "";
}

static const char *const field_names[] = {"CFBundleIdentifier", "CFBundleName", "CFBundleVersion",
                                          "Path", "Library"};

int kx_cmd_find(int argc, char **argv)
{
    struct query q;
    memset(&q, 0, sizeof q);
    int rc = parse(argc, argv, &q);
    if (rc >= 0)
        return rc;
#ifdef KX_DEFAULT_EXTENSIONS
    if (q.n_sources == 0)
        q.sources[q.n_sources++] = KX_DEFAULT_EXTENSIONS;
#endif
    struct kx_kext_options o = KX_KEXT_OPTIONS_INIT;
    if (q.no_auth)
        o.flags |= KX_KEXT_NO_AUTH;
    struct kx_kext_repo *r = NULL;
    kx_status st = kx_kext_repo_new(&o, &r);
    for (size_t i = 0; st == STATUS_SUCCESS && i < q.n_sources; i++) {
        const char *s = q.sources[i];
        size_t n = strlen(s);
        int is_kext = (n > 5 && strcmp(s + n - 5, ".kext") == 0) ||
                      (n > 6 && strcmp(s + n - 6, ".kext/") == 0);
        st = is_kext ? kx_kext_repo_add_kext(r, s, NULL) : kx_kext_repo_add_folder(r, s);
        if (st != STATUS_SUCCESS)
            fprintf(stderr, "kextfind: %s: %s\n", s, kx_status_string(st));
    }
    if (st != STATUS_SUCCESS) {
        kx_kext_repo_free(r);
        return KX_EXIT_USAGE;
    }
    json_t *arr = q.json ? json_array() : NULL;
    if (!q.json && q.report && !q.no_header)
        for (size_t f = 0; f < q.n_fields; f++)
            printf("%s%s", field_names[q.fields[f]], f + 1 < q.n_fields ? "\t" : "\n");
    for (size_t i = 0; i < kx_kext_repo_count(r); i++) {
        const struct kx_kext *k = kx_kext_repo_kext(r, i);
        const char *path = kx_kext_path(k);
        if (!path || strncmp(path, "profile:", 8) == 0 || !matches(&q, k))
            continue;
        if (arr)
            json_array_append_new(
                arr, json_pack("{s:s, s:s?, s:s?, s:s?, s:b, s:b, s:b}", "path", path, "id",
                               kx_kext_id(k), "name", bundle_name(k), "version",
                               kx_kext_version_string(k), "library", kx_kext_is_library(k), "valid",
                               kx_kext_is_valid(k), "authentic", kx_kext_is_authentic(k)));
        else if (!q.report)
            printf("%s\n", path);
        else
            for (size_t f = 0; f < q.n_fields; f++)
                printf("%s%s", field_value(k, q.fields[f]), f + 1 < q.n_fields ? "\t" : "\n");
    }
    if (arr) {
        json_t *root = json_pack("{s:o}", "kexts", arr);
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    }
    kx_kext_repo_free(r);
    return KX_EXIT_OK;
}
