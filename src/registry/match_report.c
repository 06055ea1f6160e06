/* match_report.c — the reports `kx match` and `kx catalog` print with --json, built in one
 * place so the tools (over a described platform) and kxd (over its own registry and
 * catalogue, for the tools that ask it) write the same document.
 *
 * The match report matches every nub — every IOService-plane entry but Root — with
 * explanations in one pass, then turns each result into JSON: candidates in match order
 * with whether the kext whose code they run would load, and every rejected personality
 * with its key and why. Personalities whose provider class neither the class table nor any
 * nub has can never match; they close the report, so none goes unexplained. Loadability is
 * the caller's question (the tool resolves in its repository, kxd in the kernel's, under
 * the kernel's lock), asked once per bundle and never while a registry lock is held.
 *
 * On a running registry (kxd's) a nub's category is already held by the instance that
 * drives it, so matching chooses nothing there; the report marks that instance's candidate
 * chosen instead, so it says who drives each nub, as it says who would.
 */
#include "registry_int.h"

#include "core/json.h"
#include "core/plist.h"

#include <kx/diag.h>
#include <kx/kext.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Loadability ------------------------------------------------------------------------ */

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

int kx_match_kext_loadable(struct kx_kext_repo *repo, const char *bundle_id, char **reason)
{
    struct kx_kext *k = kx_kext_repo_lookup(repo, bundle_id, KX_VERS_INVALID);
    struct kx_kext_resolution *res = NULL;
    int loadable = 0;
    *reason = NULL;
    if (!k) {
        if (asprintf(reason, "%s: not installed", bundle_id) < 0)
            *reason = NULL;
    } else if (kx_kext_resolve(repo, k, &res) == STATUS_SUCCESS) {
        loadable = kx_kext_resolution_is_loadable(res);
        if (!loadable)
            *reason = first_problem(res);
        kx_kext_resolution_free(res);
    } else {
        *reason = strdup("out of memory resolving it");
    }
    return loadable;
}

/* ---- The match report ------------------------------------------------------------------- */

struct verdict {
    char *id;
    int loadable;
    char *reason;
};

struct report {
    struct kx_catalog *cat;
    struct kx_reg *reg;
    kx_match_loadable_fn loadable;
    void *ctx;
    struct verdict *verdicts; /* memoised per bundle identifier */
    size_t n_verdicts;
};

static int verdict_of(struct report *r, const char *bundle_id, const char **reason)
{
    for (size_t i = 0; i < r->n_verdicts; i++)
        if (strcmp(r->verdicts[i].id, bundle_id) == 0) {
            *reason = r->verdicts[i].reason;
            return r->verdicts[i].loadable;
        }
    struct verdict v = {strdup(bundle_id), 0, NULL};
    if (v.id)
        v.loadable = r->loadable(r->ctx, bundle_id, &v.reason);
    struct verdict *nv = v.id ? realloc(r->verdicts, (r->n_verdicts + 1) * sizeof *nv) : NULL;
    if (!nv) {
        free(v.id);
        free(v.reason);
        *reason = "out of memory";
        return 0;
    }
    r->verdicts = nv;
    nv[r->n_verdicts++] = v;
    *reason = v.reason;
    return v.loadable;
}

/* Whether a driver instance of this candidate already holds its category on the nub: an
 * IOService-plane client with its IOMatchCategory, IOClass and code bundle. Matching chooses
 * no other in that category, so on a running registry this is the one chosen. */
static int holds(plist_t *clients, size_t n, const struct kx_match_candidate *cand)
{
    struct kx_personality *p = cand->personality;
    for (size_t i = 0; i < n && cand->category; i++) {
        const char *cat = kx_plist_string(clients[i], "IOMatchCategory", NULL),
                   *cls = kx_plist_string(clients[i], "IOClass", NULL),
                   *code = kx_plist_string(clients[i], "CFBundleIdentifier", NULL);
        if (cat && cls && code && strcmp(cat, cand->category) == 0 &&
            strcmp(cls, kx_personality_ioclass(p)) == 0 &&
            strcmp(code, kx_personality_code_bundle(p)) == 0)
            return 1;
    }
    return 0;
}

static json_t *candidate_json(struct report *r, const struct kx_match_candidate *cand,
                              plist_t *clients, size_t n_clients)
{
    struct kx_personality *p = cand->personality;
    const char *reason = NULL;
    int loadable = verdict_of(r, kx_personality_code_bundle(p), &reason);
    json_t *j = json_object();
    json_object_set_new(j, "kext", kx_json_string(kx_personality_kext(p)));
    json_object_set_new(j, "personality", kx_json_string(kx_personality_name(p)));
    json_object_set_new(j, "ioclass", kx_json_string(kx_personality_ioclass(p)));
    json_object_set_new(j, "score", json_integer(cand->score));
    json_object_set_new(j, "category", kx_json_string(cand->category));
    json_object_set_new(j, "chosen", json_boolean(cand->chosen || holds(clients, n_clients, cand)));
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

static json_t *nub_json(struct report *r, const struct kx_match *m)
{
    struct kx_reg_info info;
    char path[1024] = "";
    kx_reg_info(r->reg, kx_match_nub_id(m), &info);
    kx_reg_path(r->reg, info.id, KX_REG_SERVICE, path, sizeof path);
    kx_reg_id *kids = NULL;
    size_t n_kids = 0;
    kx_reg_children(r->reg, info.id, KX_REG_SERVICE, &kids, &n_kids);
    plist_t *clients = calloc(n_kids ? n_kids : 1, sizeof *clients);
    for (size_t i = 0; clients && i < n_kids; i++)
        kx_reg_props_copy(r->reg, kids[i], &clients[i]);
    json_t *cands = json_array(), *rejs = json_array();
    for (size_t i = 0; i < kx_match_n_candidates(m); i++)
        json_array_append_new(
            cands, candidate_json(r, kx_match_candidate(m, i), clients, clients ? n_kids : 0));
    for (size_t i = 0; clients && i < n_kids; i++)
        plist_free(clients[i]);
    free(clients);
    free(kids);
    for (size_t i = 0; i < kx_match_n_rejected(m); i++) {
        const struct kx_match_rejection *x = kx_match_rejected(m, i);
        json_array_append_new(rejs, rejection_json(x->personality, x->key, x->why));
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

/* Personalities whose provider class nothing can be: no class table entry, no nub. */
static int is_orphan(struct report *r, struct kx_personality *p)
{
    const char *cls = kx_personality_matched_as(p);
    kx_reg_id *ids = NULL;
    size_t n = 0;
    if (kx_classes_is_known(kx_reg_classes(r->reg), cls))
        return 0;
    kx_reg_find_class(r->reg, cls, &ids, &n);
    free(ids);
    return n == 0;
}

static json_t *orphans_json(struct report *r, struct kx_personality **list, size_t n)
{
    json_t *a = json_array();
    char why[512];
    for (size_t i = 0; i < n; i++)
        if (is_orphan(r, list[i])) {
            snprintf(why, sizeof why,
                     "%s is no built-in IOKit class and no installed kext declares it "
                     "(KXClasses), and no nub is of it: the personality can't match until one "
                     "is published",
                     kx_personality_provider_class(list[i]));
            json_array_append_new(a, rejection_json(list[i], "IOProviderClass", why));
        }
    return a;
}

static kx_status dump(json_t *root, char **out)
{
    *out = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return *out ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

kx_status kx_match_report_json(struct kx_catalog *cat, struct kx_reg *reg,
                               kx_match_loadable_fn loadable, void *ctx, char **out)
{
    struct report r = {cat, reg, loadable, ctx, NULL, 0};
    kx_reg_id *all = NULL, *nubs = NULL;
    size_t n_all = 0, n = 0, n_list = 0;
    struct kx_match **ms = NULL;
    struct kx_personality **list = NULL;
    *out = NULL;
    kx_status st = kx_reg_list(reg, KX_REG_SERVICE, &all, &n_all);
    if (st == STATUS_SUCCESS && !(nubs = malloc((n_all ? n_all : 1) * sizeof *nubs)))
        st = STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; st == STATUS_SUCCESS && i < n_all; i++)
        if (all[i] != kx_reg_root(reg))
            nubs[n++] = all[i];
    /* The pass holds the registry's and catalogue's locks; the JSON (and the loadability it
     * asks about) comes after, from the results, which hold their personalities. */
    if (st == STATUS_SUCCESS)
        st = kx_match_nubs(cat, reg, nubs, n, KX_MATCH_EXPLAIN, &ms);
    if (st == STATUS_SUCCESS)
        st = kx_catalog_list(cat, &list, &n_list);
    if (st == STATUS_SUCCESS) {
        json_t *jn = json_array(), *root = json_object();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(jn, nub_json(&r, ms[i]));
        json_object_set_new(root, "nubs", jn);
        json_object_set_new(root, "never_match", orphans_json(&r, list, n_list));
        st = dump(root, out);
    }
    kx_catalog_list_free(list, n_list);
    if (ms)
        kx_match_free_array(ms, n);
    for (size_t i = 0; i < r.n_verdicts; i++) {
        free(r.verdicts[i].id);
        free(r.verdicts[i].reason);
    }
    free(r.verdicts);
    free(all);
    free(nubs);
    return st;
}

/* ---- The catalogue report --------------------------------------------------------------- */

static json_t *keys_json(plist_t dict)
{
    json_t *a = json_array();
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t val = NULL;
    plist_dict_new_iter(dict, &it);
    for (plist_dict_next_item(dict, it, &key, &val); key;
         plist_dict_next_item(dict, it, &key, &val)) {
        json_array_append_new(a, kx_json_string(key));
        free(key);
        key = NULL;
    }
    free(it);
    return a;
}

static json_t *personality_json(struct kx_personality *p)
{
    json_t *j = json_object();
    json_object_set_new(j, "kext", kx_json_string(kx_personality_kext(p)));
    json_object_set_new(j, "bundle_path", kx_json_string(kx_personality_bundle_path(p)));
    json_object_set_new(j, "personality", kx_json_string(kx_personality_name(p)));
    json_object_set_new(j, "ioclass", kx_json_string(kx_personality_ioclass(p)));
    json_object_set_new(j, "provider_class", kx_json_string(kx_personality_provider_class(p)));
    json_object_set_new(j, "matched_as", kx_json_string(kx_personality_matched_as(p)));
    json_object_set_new(j, "score", json_integer(kx_personality_probe_score(p)));
    json_object_set_new(j, "category", kx_json_string(kx_personality_category(p)));
    json_object_set_new(j, "code_bundle", kx_json_string(kx_personality_code_bundle(p)));
    json_object_set_new(j, "merge_only", json_boolean(kx_personality_merge_only(p)));
    json_object_set_new(j, "withheld", json_boolean(kx_personality_withheld(p)));
    json_object_set_new(j, "keys", keys_json(kx_personality_dict(p)));
    return j;
}

kx_status kx_catalog_report_json(struct kx_catalog *cat, char **out)
{
    struct kx_personality **list = NULL;
    size_t n = 0;
    *out = NULL;
    kx_status st = kx_catalog_list(cat, &list, &n);
    if (st != STATUS_SUCCESS)
        return st;
    json_t *arr = json_array(), *root = json_object();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, personality_json(list[i]));
    json_object_set_new(root, "personalities", arr);
    kx_catalog_list_free(list, n);
    return dump(root, out);
}
