/* cmd_boot.c — `kx boot --plan`: what a boot would load, in which order, and why.
 *
 * Plans a boot exactly as kxd will (kx_boot_plan_make: the cache when it is
 * usable, else a folder scan) without loading anything, and prints phase 1
 * in load order with the rule that placed each kext, every kext phase 1
 * leaves out with the reason, phase 2, and whether the cache was used or why
 * not. With --platform FILE it also matches the described machine against the
 * personalities of the plan's kexts, as phase 2 will, and says which kext
 * loads because of which nub: the first candidate of each match category, and
 * after it the ones whose kexts load only if those before decline the nub in
 * probe or fail to start (a dry run runs no probe, so it can't tell). Exit status: 0 a plan was
 * made (kexts that can't load are part of the plan, not a failure), 2 usage or an error that
 * stopped planning.
 */
#include "verbs.h"

#include <kx/boot.h>
#include <kx/kext.h>
#include <kx/platform.h>
#include <kx/registry.h>

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FOLDERS 64

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kx boot --plan [--boot local|network|single-user|safe] [--extensions DIR]...\n"
            "                      [--cache FILE] [--no-cache] [--verify-cache] [--no-auth]\n"
            "                      [--no-exec] [--arch ARCH] [--platform FILE] [--json]\n"
            "Prints the ordered phase-1 load plan (and phase 2) without loading anything;\n"
            "with --platform, which kexts matching on that machine loads, and for which nub.\n"
            "Default folder: %s; default cache: <first folder>.mkext.\n",
#ifdef KX_DEFAULT_EXTENSIONS
            KX_DEFAULT_EXTENSIONS
#else
            "(none; give --extensions)"
#endif
    );
}

static void print_loaded(const struct kx_boot_plan *p, enum kx_boot_list list)
{
    size_t n = kx_boot_plan_count(p, list);
    printf("\nPhase %d (%s): %zu kext%s\n", list == KX_BOOT_PHASE1 ? 1 : 2,
           list == KX_BOOT_PHASE1 ? "booter" : "daemon", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        const struct kx_boot_item *b = kx_boot_plan_item(p, list, i);
        printf("  %3zu. %s %s  %s\n       %s\n", i + 1, b->id ? b->id : "(no identifier)",
               b->version ? b->version : "?", b->path, b->reason);
    }
}

static void print_skipped(const struct kx_boot_plan *p)
{
    size_t n2 = kx_boot_plan_count(p, KX_BOOT_PHASE2),
           n0 = kx_boot_plan_count(p, KX_BOOT_NOT_LOADED);
    printf("\nLeft out of phase 1: %zu kext%s\n", n2 + n0, n2 + n0 == 1 ? "" : "s");
    for (size_t i = 0; i < n2; i++) {
        const struct kx_boot_item *b = kx_boot_plan_item(p, KX_BOOT_PHASE2, i);
        printf("  %s  %s\n       %s (loads in phase 2)\n", b->id ? b->id : "(no identifier)",
               b->path, b->phase1_reason);
    }
    for (size_t i = 0; i < n0; i++) {
        const struct kx_boot_item *b = kx_boot_plan_item(p, KX_BOOT_NOT_LOADED, i);
        if (b->phase1_reason)
            printf("  %s  %s\n       %s; not loaded: %s\n", b->id ? b->id : "(no identifier)",
                   b->path, b->phase1_reason, b->reason);
        else
            printf("  %s  %s\n       not loaded: %s\n", b->id ? b->id : "(no identifier)", b->path,
                   b->reason);
    }
}

static void print_text(const struct kx_boot_plan *p)
{
    if (kx_boot_plan_source(p) == KX_BOOT_FROM_CACHE)
        printf("%s boot plan from the cache %s (built with --%s)\n",
               kx_boot_mode_name(kx_boot_plan_mode(p)), kx_boot_plan_cache_path(p),
               kx_cache_filter_name(kx_boot_plan_cache_filter(p)));
    else
        printf("%s boot plan from a folder scan; cache not used (%s): %s\n",
               kx_boot_mode_name(kx_boot_plan_mode(p)),
               kx_cache_verdict_name(kx_boot_plan_cache_verdict(p)),
               kx_boot_plan_fallback_reason(p));
    print_loaded(p, KX_BOOT_PHASE1);
    print_skipped(p);
    if (kx_boot_plan_mode(p) != KX_BOOT_SINGLE_USER)
        print_loaded(p, KX_BOOT_PHASE2);
    /* What "(default)" means, said once rather than on every such kext. */
    int n_default = 0;
    for (int l = KX_BOOT_PHASE1; l <= KX_BOOT_PHASE2; l++)
        for (size_t i = 0; i < kx_boot_plan_count(p, (enum kx_boot_list)l); i++)
            n_default += !kx_boot_plan_item(p, (enum kx_boot_list)l, i)->has_driver_info;
    if (n_default)
        printf("\n(default): %d kext%s without a driver-info record load%s at the default "
               "priority, %d.\n",
               n_default, n_default == 1 ? "" : "s", n_default == 1 ? "s" : "",
               (int)KX_BOOT_DEFAULT_PRIORITY);
    const struct kx_diags *d = kx_boot_plan_diags(p);
    if (d->n_items) {
        printf("\nWarnings:\n");
        for (size_t i = 0; i < d->n_items; i++)
            printf("  %s %s: %s%s%s%s%s\n", kx_diag_code_string(d->items[i].code),
                   d->items[i].file ? d->items[i].file : "", kx_diag_message(d->items[i].code),
                   d->items[i].subject ? ": " : "", d->items[i].subject ? d->items[i].subject : "",
                   d->items[i].detail ? ": " : "", d->items[i].detail ? d->items[i].detail : "");
    }
}

/* One kext phase 2 loads because a personality matches a nub. */
struct because {
    char *kext, *owner, *personality, *nub;
    int fallback; /* only if the candidates of its category before it decline */
};

struct matching {
    struct because *v;
    size_t n;
};

static void matching_free(struct matching *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].kext);
        free(m->v[i].owner);
        free(m->v[i].personality);
        free(m->v[i].nub);
    }
    free(m->v);
}

static kx_status add_because(struct matching *m, struct kx_reg *reg, kx_reg_id nub,
                             struct kx_personality *p, int fallback)
{
    char path[1024] = "";
    kx_reg_path(reg, nub, KX_REG_SERVICE, path, sizeof path);
    struct because *nv = realloc(m->v, (m->n + 1) * sizeof *nv);
    if (!nv)
        return STATUS_INSUFFICIENT_RESOURCES;
    m->v = nv;
    struct because *b = &m->v[m->n++];
    *b = (struct because){strdup(kx_personality_code_bundle(p)), strdup(kx_personality_kext(p)),
                          strdup(kx_personality_name(p)), strdup(path), fallback};
    return b->kext && b->owner && b->personality && b->nub ? STATUS_SUCCESS
                                                           : STATUS_INSUFFICIENT_RESOURCES;
}

/* Phase 2's matching on the described machine, with the plan's kexts as kxd's catalogue
 * (every valid one, withheld personalities out in a safe boot). */
static kx_status match_platform(const struct kx_boot_plan *p, struct kx_kext_repo *repo,
                                const char *platform, struct matching *out, char *why,
                                size_t why_len)
{
    struct kx_classes *classes = NULL;
    struct kx_reg *reg = NULL;
    struct kx_catalog *cat = NULL;
    struct kx_match **ms = NULL;
    kx_reg_id *all = NULL;
    size_t n = 0;
    unsigned flags = kx_boot_plan_mode(p) == KX_BOOT_SAFE ? KX_CATALOG_SAFE_BOOT : 0;
    kx_status st = kx_classes_new(&classes);
    if (st == STATUS_SUCCESS && (st = kx_reg_new(classes, &reg)) == STATUS_SUCCESS)
        st = kx_catalog_new(classes, flags, &cat);
    if (st == STATUS_SUCCESS)
        st = kx_platform_file_read(reg, platform, why, why_len);
    for (size_t i = 0; st == STATUS_SUCCESS && i < kx_kext_repo_count(repo); i++) {
        struct kx_kext *x = kx_kext_repo_kext(repo, i);
        if (kx_kext_id(x) && kx_kext_is_valid(x))
            st = kx_catalog_add_kext(cat, x, NULL);
    }
    if (st == STATUS_SUCCESS)
        st = kx_reg_list(reg, KX_REG_SERVICE, &all, &n);
    if (st == STATUS_SUCCESS)
        st = kx_match_nubs(cat, reg, all, n, 0, &ms);
    for (size_t i = 0; st == STATUS_SUCCESS && i < n; i++)
        for (size_t c = 0; st == STATUS_SUCCESS && c < kx_match_n_candidates(ms[i]); c++) {
            const struct kx_match_candidate *cand = kx_match_candidate(ms[i], c);
            int fallback = 0;
            for (size_t e = 0; e < c && cand->category; e++) {
                const char *ec = kx_match_candidate(ms[i], e)->category;
                fallback |= ec && strcmp(ec, cand->category) == 0;
            }
            if (cand->category)
                st = add_because(out, reg, all[i], cand->personality, fallback);
        }
    if (ms)
        kx_match_free_array(ms, n);
    free(all);
    kx_catalog_free(cat);
    kx_reg_free(reg);
    kx_classes_free(classes);
    return st;
}

static json_t *matching_json(const struct matching *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "kext", json_string(m->v[i].kext));
        json_object_set_new(o, "personality_kext", json_string(m->v[i].owner));
        json_object_set_new(o, "personality", json_string(m->v[i].personality));
        json_object_set_new(o, "nub", json_string(m->v[i].nub));
        json_object_set_new(o, "fallback", json_boolean(m->v[i].fallback));
        json_array_append_new(a, o);
    }
    return a;
}

static void print_matching(const struct matching *m, const char *platform)
{
    printf("\nMatching on %s (phase 2):\n", platform);
    for (size_t i = 0; i < m->n; i++)
        printf("  %s loads because %s personality %s matches %s%s\n", m->v[i].kext, m->v[i].owner,
               m->v[i].personality, m->v[i].nub,
               m->v[i].fallback ? ", if the candidates above decline it" : "");
}

int kx_cmd_boot(int argc, char **argv)
{
    enum {
        OPT_PLAN = 1000,
        OPT_BOOT,
        OPT_EXT,
        OPT_CACHE,
        OPT_NO_CACHE,
        OPT_VERIFY,
        OPT_NO_AUTH,
        OPT_NO_EXEC,
        OPT_ARCH,
        OPT_JSON,
        OPT_PLATFORM
    };
    static const struct option opts[] = {{"plan", no_argument, NULL, OPT_PLAN},
                                         {"boot", required_argument, NULL, OPT_BOOT},
                                         {"extensions", required_argument, NULL, OPT_EXT},
                                         {"cache", required_argument, NULL, OPT_CACHE},
                                         {"no-cache", no_argument, NULL, OPT_NO_CACHE},
                                         {"verify-cache", no_argument, NULL, OPT_VERIFY},
                                         {"no-auth", no_argument, NULL, OPT_NO_AUTH},
                                         {"no-exec", no_argument, NULL, OPT_NO_EXEC},
                                         {"arch", required_argument, NULL, OPT_ARCH},
                                         {"json", no_argument, NULL, OPT_JSON},
                                         {"platform", required_argument, NULL, OPT_PLATFORM},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct kx_boot_config cfg = KX_BOOT_CONFIG_INIT;
    struct kx_kext_options kopts = KX_KEXT_OPTIONS_INIT;
    const char *folders[MAX_FOLDERS], *platform = NULL;
    size_t n_folders = 0;
    int plan = 0, as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_PLAN: plan = 1; break;
        case OPT_BOOT:
            if (kx_boot_mode_parse(optarg, &cfg.mode) != STATUS_SUCCESS) {
                fprintf(stderr,
                        "kx boot: unknown boot mode '%s' (local, network, single-user, "
                        "safe)\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_EXT:
            if (n_folders == MAX_FOLDERS) {
                fprintf(stderr, "kx boot: too many --extensions\n");
                return 2;
            }
            folders[n_folders++] = optarg;
            break;
        case OPT_CACHE: cfg.cache_path = optarg; break;
        case OPT_NO_CACHE: cfg.flags |= KX_BOOT_NO_CACHE; break;
        case OPT_VERIFY: cfg.flags |= KX_BOOT_VERIFY_CACHE; break;
        case OPT_NO_AUTH: kopts.flags |= KX_KEXT_NO_AUTH; break;
        case OPT_NO_EXEC: kopts.flags |= KX_KEXT_NO_EXEC; break;
        case OPT_ARCH: kopts.arch = optarg; break;
        case OPT_JSON: as_json = 1; break;
        case OPT_PLATFORM: platform = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!plan || optind != argc) {
        usage(stderr);
        return 2;
    }
#ifdef KX_DEFAULT_EXTENSIONS
    if (n_folders == 0)
        folders[n_folders++] = KX_DEFAULT_EXTENSIONS;
#endif
    if (n_folders == 0) {
        usage(stderr);
        return 2;
    }
    cfg.folders = folders;
    cfg.n_folders = n_folders;

    struct kx_kext_repo *repo = NULL;
    struct kx_boot_plan *p = NULL;
    kx_status st = kx_kext_repo_new(&kopts, &repo);
    if (st == STATUS_SUCCESS)
        st = kx_boot_plan_make(&cfg, repo, &p);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "kx boot: can't plan the boot: %s (%s)\n", kx_status_name(st),
                kx_status_string(st));
        kx_kext_repo_free(repo);
        return 2;
    }
    struct matching m = {NULL, 0};
    char why[512] = "";
    if (platform &&
        (st = match_platform(p, repo, platform, &m, why, sizeof why)) != STATUS_SUCCESS) {
        fprintf(stderr, "kx boot: %s\n", *why ? why : kx_status_string(st));
        matching_free(&m);
        kx_boot_plan_free(p);
        kx_kext_repo_free(repo);
        return 2;
    }
    if (as_json) {
        json_t *o = kx_boot_plan_to_json(p);
        if (o && platform)
            json_object_set_new(o, "matching", matching_json(&m));
        if (o) {
            json_dumpf(o, stdout, JSON_INDENT(2));
            putchar('\n');
        }
        json_decref(o);
    } else {
        print_text(p);
        if (platform)
            print_matching(&m, platform);
    }
    matching_free(&m);
    kx_boot_plan_free(p);
    kx_kext_repo_free(repo);
    return 0;
}
