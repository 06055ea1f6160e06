/* report.c — what a resolution says: accessors, candidate explanations, JSON.
 *
 * Versions in explanations are quoted as the plists wrote them, so a user can
 * find the string they must change; the window always reads
 * "requested R not in [compatible C, current V]".
 */
#include "kext_int.h"
#include "core/json.h"

#include "core/plist.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct kx_kext *kx_kext_resolution_kext(const struct kx_kext_resolution *res) { return res->root; }
int kx_kext_resolution_user_loadable(const struct kx_kext_resolution *res) { return res->user_loadable; }
size_t kx_kext_resolution_n_load_order(const struct kx_kext_resolution *res) { return res->n_order; }
const struct kx_diags *kx_kext_resolution_diags(const struct kx_kext_resolution *res) { return &res->diags; }
size_t kx_kext_resolution_n_deps(const struct kx_kext_resolution *res) { return res->n_deps; }

struct kx_kext *kx_kext_resolution_load_order(const struct kx_kext_resolution *res, size_t i)
{
    return i < res->n_order ? res->order[i] : NULL;
}

const struct kx_kext_dep *kx_kext_resolution_dep(const struct kx_kext_resolution *res, size_t i)
{
    return i < res->n_deps ? &res->deps[i] : NULL;
}

int kx_kext_resolution_is_loadable(const struct kx_kext_resolution *res)
{
    return kx_diags_count_errors(&res->diags) == 0 && res->verdict == STATUS_SUCCESS;
}

kx_status kx_kext_resolution_status(const struct kx_kext_resolution *res)
{
    static const struct {
        enum kx_diag_category cat;
        kx_status st;
    } order[] = {{KX_DIAG_VALIDATION, STATUS_KEXT_VALIDATION_FAILED},
                 {KX_DIAG_AUTHENTICATION, STATUS_KEXT_AUTHENTICATION_FAILED},
                 {KX_DIAG_DEPENDENCY, STATUS_KEXT_DEPENDENCY_FAILED},
                 {KX_DIAG_BOOT_LEVEL, STATUS_KEXT_BOOT_LEVEL}};
    if (res->verdict != STATUS_SUCCESS) /* the loader's own status for what it found */
        return res->verdict;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (kx_diags_count(&res->diags, order[i].cat))
            return order[i].st;
    return STATUS_SUCCESS;
}

/* ---- Explanations ----------------------------------------------------------------------------- */

static const char *vers_text(const char *written, kx_vers v, char *buf, size_t len)
{
    if (written)
        return written;
    return v == KX_VERS_INVALID ? "none" : kx_vers_format(v, buf, len);
}

char *kx_kext_candidate_explain(const struct kx_kext_dep *dep, const struct kx_kext_candidate *cand,
                                char *buf, size_t buf_len)
{
    const struct kx_kext *c = cand->kext;
    char b1[KX_VERS_FORMAT_MAX], b2[KX_VERS_FORMAT_MAX], b3[KX_VERS_FORMAT_MAX];
    const char *req = vers_text(dep->requested_str, dep->requested, b1, sizeof b1);
    const char *cur = vers_text(c->version_str, c->version, b2, sizeof b2);
    const char *compat = vers_text(c->compat_str, c->compat, b3, sizeof b3);
    const char *chosen = dep->chosen && dep->chosen->version_str ? dep->chosen->version_str : "?";

    switch (cand->verdict) {
    case KX_CAND_CHOSEN:
        snprintf(buf, buf_len, "requested %s in [compatible %s, current %s]: chosen", req, compat,
                 cur);
        break;
    case KX_CAND_SUPERSEDED:
        snprintf(buf, buf_len,
                 "requested %s in [compatible %s, current %s], but %s was chosen (the highest "
                 "compatible version; among equal versions the most recently added copy)",
                 req, compat, cur, chosen);
        break;
    case KX_CAND_NOT_LIBRARY:
        snprintf(buf, buf_len, "version %s is not a library: no valid OSBundleCompatibleVersion",
                 cur);
        break;
    case KX_CAND_BELOW_COMPAT:
    case KX_CAND_ABOVE_CURRENT:
        snprintf(buf, buf_len, "requested %s not in [compatible %s, current %s]", req, compat, cur);
        break;
    case KX_CAND_INVALID:
        snprintf(buf, buf_len, "requested %s in [compatible %s, current %s], but it has validation "
                 "failures", req, compat, cur);
        break;
    case KX_CAND_INAUTHENTIC:
        snprintf(buf, buf_len, "requested %s in [compatible %s, current %s], but it fails "
                 "authentication", req, compat, cur);
        break;
    case KX_CAND_OTHER_LOADED:
        snprintf(buf, buf_len, "version %s is on disk, but another copy is loaded and a loaded "
                 "copy always wins", cur);
        break;
    default:
        snprintf(buf, buf_len, "unknown verdict");
    }
    return buf;
}

static const char *verdict_key(enum kx_kext_verdict v)
{
    static const char *const keys[] = {"chosen",         "superseded",    "not-library",
                                       "below-compatible", "above-current", "invalid",
                                       "inauthentic",    "other-loaded"};
    return (size_t)v < sizeof keys / sizeof keys[0] ? keys[v] : "unknown";
}

/* ---- JSON ------------------------------------------------------------------------------------- */


static json_t *kext_ref(const struct kx_kext *k)
{
    return json_pack("{s:o, s:o, s:o}", "id", kx_json_string(k->id), "version", kx_json_string(k->version_str), "path",
                     kx_json_string(k->path));
}

static int append(json_t *arr, json_t *v)
{
    return v && json_array_append_new(arr, v) == 0;
}

static json_t *dep_json(const struct kx_kext_dep *d)
{
    json_t *cands = json_array();
    char line[320];
    if (!cands)
        return NULL;
    for (size_t i = 0; i < d->n_candidates; i++) {
        const struct kx_kext_candidate *c = &d->candidates[i];
        json_t *o = json_pack("{s:o, s:o, s:o, s:s, s:o}", "path", kx_json_string(c->kext->path), "version",
                              kx_json_string(c->kext->version_str), "compatible", kx_json_string(c->kext->compat_str),
                              "verdict", verdict_key(c->verdict), "explanation",
                              kx_json_string(kx_kext_candidate_explain(d, c, line, sizeof line)));
        if (!append(cands, o)) {
            json_decref(cands);
            return NULL;
        }
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "from",
                     kx_json_string(d->from->id ? d->from->id : d->from->path), "id", kx_json_string(d->id), "requested",
                     kx_json_string(d->requested_str), "chosen", kx_json_string(d->chosen ? d->chosen->path : NULL),
                     "candidates", cands);
}

json_t *kx_kext_resolution_to_json(const struct kx_kext_resolution *res)
{
    const struct kx_kext *k = res->root;
    json_t *order = json_array(), *deps = json_array(), *diags = kx_diags_to_json(&res->diags);
    int ok = order && deps && diags;
    for (size_t i = 0; ok && i < res->n_order; i++)
        ok = append(order, kext_ref(res->order[i]));
    for (size_t i = 0; ok && i < res->n_deps; i++)
        ok = append(deps, dep_json(&res->deps[i]));
    if (!ok) {
        json_decref(order);
        json_decref(deps);
        json_decref(diags);
        return NULL;
    }
    return json_pack("{s:o, s:o, s:o, s:b, s:b, s:b, s:s, s:o, s:o, s:o}", "path",
                     kx_json_string(k->path), "id", kx_json_string(k->id), "version",
                     kx_json_string(k->version_str), "loadable",
                     kx_kext_resolution_is_loadable(res), "linkage_checked", res->linked,
                     "user_loadable", res->user_loadable, "status",
                     kx_status_name(kx_kext_resolution_status(res)), "load_order", order,
                     "diagnostics", diags, "dependencies", deps);
}
