/* cmd_match.c — `kx match`: a matching dry run over a described platform or Linux's devices.
 *
 * Publishes the platform file (or the devices of a sysfs tree: --linux, --sysfs) into a
 * fresh registry, puts every personality of the
 * extensions folders into a catalogue, and matches every nub (every IOService-plane entry
 * but Root) with explanations, exactly as kxd would before loading anything: per nub each
 * candidate (kext, personality, IOClass, score, category, chosen, and whether the kext
 * whose code it runs would load) and each rejected personality of the nub's class chain
 * with the key that failed and why. Personalities whose IOProviderClass no class table
 * entry and no nub has can never match; they are listed last, so none goes unexplained.
 * Nothing is loaded. Exit status: 0 a report was made, 1 the platform or folders couldn't
 * be read, 2 usage.
 */
#include "cli.h"
#include "regcli.h"
#include "verbs.h"

#include "core/json.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: kx match (" REGCLI_SOURCE_USAGE ")\n"
    "                [--extensions DIR]... [--safe-boot] [--no-auth] [--json]\n"
    "Matches every nub of the machine against the personalities of the folders, loading\n"
    "nothing: candidates in match order (the first of each category is chosen) and every\n"
    "rejected personality with the key that failed. The machine is a platform file, this\n"
    "host's devices (--linux, or --platform linux), a sysfs tree (--sysfs DIR) or none.\n";

struct match_args {
    struct regcli_source src;
    const char *dirs[REGCLI_MAX_FOLDERS];
    size_t n_dirs;
    int json, safe_boot, no_auth;
};

static int parse_args(int argc, char **argv, struct match_args *a)
{
    static const struct option opts[] = {REGCLI_SOURCE_OPTIONS,
                                         {"extensions", required_argument, NULL, 'e'},
                                         {"safe-boot", no_argument, NULL, 'x'},
                                         {"no-auth", no_argument, NULL, 'A'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (c) {
        case 'P':
        case 'L':
        case 'S': regcli_source_option(&a->src, c, optarg); break;
        case 'e':
            if (a->n_dirs == REGCLI_MAX_FOLDERS)
                return -1;
            a->dirs[a->n_dirs++] = optarg;
            break;
        case 'x': a->safe_boot = 1; break;
        case 'A': a->no_auth = 1; break;
        case 'j': a->json = 1; break;
        case 'h': printf("%s", usage_text); exit(KX_EXIT_OK);
        default: return -1;
        }
    }
    return optind == argc ? 0 : -1;
}

/* Personalities whose provider class nothing can be: no class table entry, no nub. */
static int is_orphan(struct regcli *c, struct kx_personality *p)
{
    const char *cls = kx_personality_matched_as(p);
    kx_reg_id *ids = NULL;
    size_t n = 0;
    if (kx_classes_is_known(c->classes, cls))
        return 0;
    kx_reg_find_class(c->reg, cls, &ids, &n);
    free(ids);
    return n == 0;
}

static void orphan_why(struct kx_personality *p, char *buf, size_t len)
{
    snprintf(buf, len,
             "%s is no built-in IOKit class and no installed kext declares it (KXClasses), and "
             "no nub is of it: the personality can't match until one is published",
             kx_personality_provider_class(p));
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static json_t *candidate_json(struct regcli *c, const struct kx_match_candidate *cand)
{
    struct kx_personality *p = cand->personality;
    const char *reason = NULL;
    int loadable = regcli_loadable(c, kx_personality_code_bundle(p), &reason);
    json_t *j = json_object();
    json_object_set_new(j, "kext", kx_json_string(kx_personality_kext(p)));
    json_object_set_new(j, "personality", kx_json_string(kx_personality_name(p)));
    json_object_set_new(j, "ioclass", kx_json_string(kx_personality_ioclass(p)));
    json_object_set_new(j, "score", json_integer(cand->score));
    json_object_set_new(j, "category", kx_json_string(cand->category));
    json_object_set_new(j, "chosen", json_boolean(cand->chosen));
    json_object_set_new(j, "loadable", json_boolean(loadable));
    if (!loadable)
        json_object_set_new(j, "reason", kx_json_string(reason ? reason : "unknown"));
    if (cand->merge)
        json_object_set_new(j, "merge", kx_json_plist(cand->merge));
    return j;
}

static json_t *rejection_json(struct kx_personality *p, const char *key, const char *why)
{
    json_t *j = json_object();
    json_object_set_new(j, "kext", kx_json_string(kx_personality_kext(p)));
    json_object_set_new(j, "personality", kx_json_string(kx_personality_name(p)));
    json_object_set_new(j, "key", kx_json_string(key));
    json_object_set_new(j, "why", kx_json_string(why));
    return j;
}

static json_t *nub_json(struct regcli *c, const struct kx_match *m)
{
    struct kx_reg_info info;
    char path[1024] = "";
    kx_reg_info(c->reg, kx_match_nub_id(m), &info);
    kx_reg_path(c->reg, info.id, KX_REG_SERVICE, path, sizeof path);
    json_t *cands = json_array(), *rejs = json_array();
    for (size_t i = 0; i < kx_match_n_candidates(m); i++)
        json_array_append_new(cands, candidate_json(c, kx_match_candidate(m, i)));
    for (size_t i = 0; i < kx_match_n_rejected(m); i++) {
        const struct kx_match_rejection *r = kx_match_rejected(m, i);
        json_array_append_new(rejs, rejection_json(r->personality, r->key, r->why));
    }
    json_t *j = json_object();
    json_object_set_new(j, "path", kx_json_string(path));
    json_object_set_new(j, "id", json_integer((json_int_t)info.id));
    json_object_set_new(j, "class", kx_json_string(info.class_name));
    json_object_set_new(j, "name", kx_json_string(info.name));
    json_object_set_new(j, "candidates", cands);
    json_object_set_new(j, "rejected", rejs);
    return j;
}

/* ---- Text ------------------------------------------------------------------------------------ */

static void print_nub(struct regcli *c, const struct kx_match *m)
{
    struct kx_reg_info info;
    char path[1024] = "";
    kx_reg_info(c->reg, kx_match_nub_id(m), &info);
    kx_reg_path(c->reg, info.id, KX_REG_SERVICE, path, sizeof path);
    printf("%s  <class %s, id 0x%llx>\n", path, info.class_name, (unsigned long long)info.id);
    if (!kx_match_n_candidates(m))
        printf("  no candidates\n");
    for (size_t i = 0; i < kx_match_n_candidates(m); i++) {
        const struct kx_match_candidate *cand = kx_match_candidate(m, i);
        struct kx_personality *p = cand->personality;
        const char *reason = NULL;
        int loadable = regcli_loadable(c, kx_personality_code_bundle(p), &reason);
        printf("  %s %s \"%s\" (IOClass %s) score %lld, %s%s\n", cand->chosen ? "*" : " ",
               kx_personality_kext(p), kx_personality_name(p), kx_personality_ioclass(p),
               (long long)cand->score, cand->category ? cand->category : "merges only",
               cand->chosen ? ", chosen" : "");
        if (cand->merge)
            printf("      merges %u properties into the provider\n",
                   plist_dict_get_size(cand->merge));
        if (!loadable)
            printf("      not loadable: %s\n", reason ? reason : "unknown");
    }
    for (size_t i = 0; i < kx_match_n_rejected(m); i++) {
        const struct kx_match_rejection *r = kx_match_rejected(m, i);
        printf("  - %s \"%s\": %s: %s\n", kx_personality_kext(r->personality),
               kx_personality_name(r->personality), r->key, r->why);
    }
}

int kx_cmd_match(int argc, char **argv)
{
    struct match_args a;
    if (parse_args(argc, argv, &a) != 0) {
        fprintf(stderr, "%s", usage_text);
        return KX_EXIT_USAGE;
    }
    struct kx_kext_options opts = KX_KEXT_OPTIONS_INIT;
    if (a.no_auth)
        opts.flags |= KX_KEXT_NO_AUTH;
    if (a.safe_boot)
        opts.flags |= KX_KEXT_SAFE_BOOT;
    struct regcli c;
    int rc = regcli_init("kx match", &c);
    if (rc == 0)
        rc = regcli_registry("kx match", &a.src, &c);
    if (rc == KX_EXIT_USAGE) {
        regcli_free(&c);
        return rc;
    }
    if (rc != 0 || regcli_catalog("kx match", a.dirs, a.n_dirs, &opts,
                                  a.safe_boot ? KX_CATALOG_SAFE_BOOT : 0, &c) != 0) {
        regcli_free(&c);
        return KX_EXIT_FAIL;
    }
    kx_reg_id *all = NULL, *nubs = NULL;
    size_t n_all = 0, n = 0;
    struct kx_match **ms = NULL;
    struct kx_personality **list = NULL;
    size_t n_list = 0;
    kx_status st = kx_reg_list(c.reg, KX_REG_SERVICE, &all, &n_all);
    if (st == STATUS_SUCCESS && (nubs = malloc((n_all ? n_all : 1) * sizeof *nubs)))
        for (size_t i = 0; i < n_all; i++)
            if (all[i] != kx_reg_root(c.reg))
                nubs[n++] = all[i];
    if (st == STATUS_SUCCESS && !nubs)
        st = STATUS_INSUFFICIENT_RESOURCES;
    if (st == STATUS_SUCCESS)
        st = kx_match_nubs(c.cat, c.reg, nubs, n, KX_MATCH_EXPLAIN, &ms);
    if (st == STATUS_SUCCESS)
        st = kx_catalog_list(c.cat, &list, &n_list);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "kx match: %s\n", kx_status_string(st));
        free(all);
        free(nubs);
        regcli_free(&c);
        return KX_EXIT_FAIL;
    }
    char why[512];
    if (a.json) {
        json_t *jn = json_array(), *orphans = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(jn, nub_json(&c, ms[i]));
        for (size_t i = 0; i < n_list; i++)
            if (is_orphan(&c, list[i])) {
                orphan_why(list[i], why, sizeof why);
                json_array_append_new(orphans, rejection_json(list[i], "IOProviderClass", why));
            }
        json_t *root = json_object();
        json_object_set_new(root, "nubs", jn);
        json_object_set_new(root, "never_match", orphans);
        json_dumpf(root, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(root);
    } else {
        for (size_t i = 0; i < n; i++)
            print_nub(&c, ms[i]);
        int header = 0;
        for (size_t i = 0; i < n_list; i++)
            if (is_orphan(&c, list[i])) {
                if (!header++)
                    printf("\nPersonalities no nub can match:\n");
                orphan_why(list[i], why, sizeof why);
                printf("  - %s \"%s\": IOProviderClass: %s\n", kx_personality_kext(list[i]),
                       kx_personality_name(list[i]), why);
            }
    }
    kx_catalog_list_free(list, n_list);
    kx_match_free_array(ms, n);
    free(all);
    free(nubs);
    regcli_free(&c);
    return KX_EXIT_OK;
}
