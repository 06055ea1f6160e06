/* boot_plan.c — finishing a boot plan, and everything a caller reads from it.
 *
 * boot.c decides which list each kext belongs to; this file orders the two
 * phases (boot_order.c), writes each loaded kext's one-line reason (the rule
 * that placed it and its priority), and serves the accessors, the
 * executables of kexts that came from the cache, and the JSON form of
 * `kx boot --plan --json`.
 */
#include "boot_int.h"
#include "core/json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* ======== Finishing ======== */

static char *placement(const struct kx_boot_plan *p, const struct kx_boot_item_int *it)
{
    const struct kx_boot_item *b = &it->pub;
    const char *req = b->kext->required;
    char *rule = NULL, *out = NULL, inherit[64] = "";
    int n;
    switch (b->rule) {
    case KX_BOOT_RULE_REQUIRED:
        n = asprintf(&rule, "OSBundleRequired %s: chosen by the %s boot's booter", req,
                     kx_boot_mode_name(p->mode));
        break;
    case KX_BOOT_RULE_DEPENDENCY:
        n = asprintf(&rule, "dependency of %s",
                     b->needed_by ? (b->needed_by->id ? b->needed_by->id : b->needed_by->path)
                                  : "a kext of this phase");
        break;
    default:
        n = asprintf(&rule, "remaining kext with code: loaded by the daemon once the root is "
                            "mounted");
        break;
    }
    if (n < 0)
        return NULL;
    if (b->effective_priority < b->priority)
        snprintf(inherit, sizeof inherit, ", loads at %d for the kexts that need it",
                 (int)b->effective_priority);
    if (asprintf(&out, "%s; priority %d (%s)%s", rule, (int)b->priority,
                 b->has_driver_info ? "driver-info record" : "default",
                 inherit) < 0)
        out = NULL;
    free(rule);
    return out;
}

static kx_status order_phase(struct kx_boot_plan *p, enum kx_boot_list list)
{
    size_t n = 0, *members = malloc((p->n_items ? p->n_items : 1) * sizeof *members);
    size_t *order = malloc((p->n_items ? p->n_items : 1) * sizeof *order);
    kx_status st = STATUS_INSUFFICIENT_RESOURCES;
    if (members && order) {
        for (size_t i = 0; i < p->n_items; i++)
            if (p->items[i].pub.list == list)
                members[n++] = i;
        if (list == KX_BOOT_NOT_LOADED) { /* repository order */
            memcpy(order, members, n * sizeof *order);
            st = STATUS_SUCCESS;
        } else {
            st = kx__boot_order(p->items, p->n_items, members, n, order);
        }
    }
    free(members);
    if (st != STATUS_SUCCESS) {
        free(order);
        return st;
    }
    p->lists[list] = order;
    p->n_lists[list] = n;
    return STATUS_SUCCESS;
}

kx_status kx__boot_plan_finish(struct kx_boot_plan *p)
{
    kx_status st;
    if ((st = order_phase(p, KX_BOOT_PHASE1)) != STATUS_SUCCESS ||
        (st = order_phase(p, KX_BOOT_PHASE2)) != STATUS_SUCCESS ||
        (st = order_phase(p, KX_BOOT_NOT_LOADED)) != STATUS_SUCCESS)
        return st;
    for (size_t i = 0; i < p->n_items; i++) {
        struct kx_boot_item_int *it = &p->items[i];
        if (it->pub.list == KX_BOOT_NOT_LOADED) {
            it->pub.rule = KX_BOOT_RULE_SKIPPED;
        } else {
            free(it->reason);
            if (!(it->reason = placement(p, it)))
                return STATUS_INSUFFICIENT_RESOURCES;
        }
        if (it->pub.list == KX_BOOT_PHASE2 && !it->phase1_reason &&
            !(it->phase1_reason = strdup("no kext of phase 1 needs it")))
            return STATUS_INSUFFICIENT_RESOURCES;
        it->pub.reason = it->reason;
        it->pub.phase1_reason = it->phase1_reason;
    }
    return STATUS_SUCCESS;
}

/* ======== Accessors ======== */

void kx_boot_plan_free(struct kx_boot_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_items; i++) {
        free(p->items[i].reason);
        free(p->items[i].phase1_reason);
        free(p->items[i].path);
        free(p->items[i].deps);
        free(p->items[i].exec);
    }
    free(p->items);
    for (size_t i = 0; i < 3; i++)
        free(p->lists[i]);
    kx_diags_clear(&p->diags);
    kx_diags_clear(&p->unread);
    kx__cache_close(&p->cache);
    free(p->fallback_reason);
    free(p->cache_path);
    free(p);
}

enum kx_boot_mode kx_boot_plan_mode(const struct kx_boot_plan *p)
{
    return p->mode;
}
enum kx_boot_source kx_boot_plan_source(const struct kx_boot_plan *p)
{
    return p->source;
}
const char *kx_boot_plan_cache_path(const struct kx_boot_plan *p)
{
    return p->cache_path;
}
enum kx_cache_verdict kx_boot_plan_cache_verdict(const struct kx_boot_plan *p)
{
    return p->verdict;
}
const char *kx_boot_plan_fallback_reason(const struct kx_boot_plan *p)
{
    return p->fallback_reason;
}
const struct kx_diags *kx_boot_plan_diags(const struct kx_boot_plan *p)
{
    return &p->diags;
}

enum kx_cache_filter kx_boot_plan_cache_filter(const struct kx_boot_plan *p)
{
    return p->source == KX_BOOT_FROM_CACHE ? p->cache.filter : KX_CACHE_ALL;
}

size_t kx_boot_plan_count(const struct kx_boot_plan *p, enum kx_boot_list list)
{
    return (unsigned)list < 3 ? p->n_lists[list] : 0;
}

const struct kx_boot_item *kx_boot_plan_item(const struct kx_boot_plan *p, enum kx_boot_list list,
                                             size_t i)
{
    if ((unsigned)list >= 3 || i >= p->n_lists[list])
        return NULL;
    return &p->items[p->lists[list][i]].pub;
}

const struct kx_boot_item *kx_boot_plan_find(const struct kx_boot_plan *p, const struct kx_kext *k)
{
    const struct kx_boot_item_int *it = kx__boot_item_of(p, k);
    return it ? &it->pub : NULL;
}

kx_status kx_boot_plan_executable(struct kx_boot_plan *p, const struct kx_kext *k,
                                  const void **data, size_t *len, char *why, size_t why_len)
{
    struct kx_boot_item_int *it = kx__boot_item_of(p, k);
    *data = NULL;
    *len = 0;
    if (!it || it->entry == SIZE_MAX || !k->exec_path ||
        !p->cache.ix.kexts[it->entry].exec_offset) {
        if (why && why_len)
            snprintf(why, why_len, "%s: no executable in the cache", k ? k->path : "(null)");
        return STATUS_NO_SUCH_FILE;
    }
    if (!it->exec) { /* first use: decompress, then hold it to the digest the builder recorded */
        const struct kx_cache_index_kext *e = &p->cache.ix.kexts[it->entry];
        unsigned char md[32];
        unsigned md_len = 0;
        kx_status st = kx_mkext2_file_at(p->cache.ix.archive, p->cache.ix.archive_len,
                                         e->exec_offset, &it->exec, &it->exec_len, why, why_len);
        if (st != STATUS_SUCCESS)
            return st;
        if (!EVP_Digest(it->exec, it->exec_len, md, &md_len, EVP_sha256(), NULL)) {
            st = STATUS_INSUFFICIENT_RESOURCES;
        } else if (memcmp(md, e->exec_sha, sizeof md) != 0) {
            if (why && why_len)
                snprintf(why, why_len, "%s: executable SHA-256 mismatch in %s", k->path,
                         p->cache_path);
            st = STATUS_DATA_ERROR;
        }
        if (st != STATUS_SUCCESS) {
            free(it->exec);
            it->exec = NULL;
            it->exec_len = 0;
            return st;
        }
    }
    *data = it->exec;
    *len = it->exec_len;
    return STATUS_SUCCESS;
}

/* ======== JSON ======== */

static const char *rule_name(enum kx_boot_rule r)
{
    switch (r) {
    case KX_BOOT_RULE_REQUIRED: return "required";
    case KX_BOOT_RULE_DEPENDENCY: return "dependency";
    case KX_BOOT_RULE_REMAINING: return "remaining";
    case KX_BOOT_RULE_SKIPPED: return "skipped";
    }
    return "unknown";
}

static json_t *loaded_json(const struct kx_boot_item *b)
{
    json_t *o = json_object();
    const struct kx_kext *by = b->needed_by;
    json_object_set_new(o, "id", kx_json_string(b->id));
    json_object_set_new(o, "version", kx_json_string(b->version));
    json_object_set_new(o, "path", kx_json_string(b->path));
    json_object_set_new(o, "reason", kx_json_string(b->reason));
    json_object_set_new(o, "rule", json_string(rule_name(b->rule)));
    json_object_set_new(o, "required", kx_json_string(b->kext ? kx_kext_required(b->kext) : NULL));
    json_object_set_new(o, "needed_by", by ? kx_json_string(by->id ? by->id : by->path) : json_null());
    json_object_set_new(o, "priority", json_integer(b->priority));
    json_object_set_new(o, "effective_priority", json_integer(b->effective_priority));
    json_object_set_new(o, "driver_info", json_boolean(b->has_driver_info));
    json_object_set_new(o, "from_cache", json_boolean(b->from_cache));
    return o;
}

static json_t *skipped_json(const struct kx_boot_item *b)
{
    json_t *o = json_object();
    int later = b->list == KX_BOOT_PHASE2;
    json_object_set_new(o, "id", kx_json_string(b->id));
    json_object_set_new(o, "path", kx_json_string(b->path));
    json_object_set_new(o, "reason",
                        kx_json_string(later || b->phase1_reason ? b->phase1_reason : b->reason));
    json_object_set_new(o, "phase", later ? json_integer(2) : json_null());
    if (!later)
        json_object_set_new(o, "not_loaded_because", kx_json_string(b->reason));
    return o;
}

json_t *kx_boot_plan_to_json(const struct kx_boot_plan *p)
{
    json_t *o = json_object(), *load = json_array(), *skipped = json_array(),
           *phase2 = json_array();
    if (!o || !load || !skipped || !phase2) {
        json_decref(o);
        json_decref(load);
        json_decref(skipped);
        json_decref(phase2);
        return NULL;
    }
    json_object_set_new(o, "mode", json_string(kx_boot_mode_name(p->mode)));
    json_object_set_new(o, "source",
                        json_string(p->source == KX_BOOT_FROM_CACHE ? "cache" : "scan"));
    json_object_set_new(o, "cache", kx_json_string(p->cache_path));
    json_object_set_new(o, "cache_verdict", json_string(kx_cache_verdict_name(p->verdict)));
    json_object_set_new(o, "cache_filter",
                        p->source == KX_BOOT_FROM_CACHE
                            ? json_string(kx_cache_filter_name(p->cache.filter))
                            : json_null());
    json_object_set_new(o, "fallback_reason", kx_json_string(p->fallback_reason));
    for (size_t i = 0; i < p->n_lists[KX_BOOT_PHASE1]; i++)
        json_array_append_new(load, loaded_json(&p->items[p->lists[KX_BOOT_PHASE1][i]].pub));
    for (size_t i = 0; i < p->n_lists[KX_BOOT_PHASE2]; i++) {
        const struct kx_boot_item *b = &p->items[p->lists[KX_BOOT_PHASE2][i]].pub;
        json_array_append_new(phase2, loaded_json(b));
        json_array_append_new(skipped, skipped_json(b));
    }
    for (size_t i = 0; i < p->n_lists[KX_BOOT_NOT_LOADED]; i++)
        json_array_append_new(skipped,
                              skipped_json(&p->items[p->lists[KX_BOOT_NOT_LOADED][i]].pub));
    json_object_set_new(o, "load", load);
    json_object_set_new(o, "skipped", skipped);
    json_object_set_new(o, "phase2", phase2);
    json_t *w = kx_diags_to_json(&p->diags);
    json_object_set_new(o, "warnings", w ? w : json_array());
    return o;
}
