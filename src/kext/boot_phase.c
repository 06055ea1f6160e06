/* boot_phase.c — filling the two phases of a boot plan.
 *
 * Each phase takes its roots in (priority, identifier, repository order) and
 * adds each root's load list when everything in it may load. The load list
 * comes from the resolver's own choices: kx_kext_repo_resolve_all decides
 * once, for every kext, whether its graph resolves and which copy each of
 * its OSBundleLibraries requests gets (compatible <= requested <= current,
 * highest first), and a root's list is the depth-first walk over those
 * choices, dependencies first. That walk is the fast path, and it is exact
 * as long as it agrees with what the plan already loads: the kernel will
 * see the plan's earlier kexts as loaded, and a loaded copy always wins. So
 * when the walk meets another copy of an identifier the plan already loads,
 * or two copies of one identifier in one graph, the root is resolved again
 * by kx_kext_resolve with the plan's kexts marked loaded (the marks are
 * removed at once), which gives the kernel's answer: that copy, or a
 * failure naming it. A root whose graph doesn't resolve gets its reason
 * from kx_kext_resolve too. Conflicts are rare, so a plan costs about one
 * resolve_all and one walk per root instead of a full resolution per root.
 */
#include "boot_int.h"

#include <stdlib.h>
#include <string.h>

/* ======== The identifiers the plan loads ======== */

struct id_slot {
    const struct kx_id_entry *key;
    size_t planned; /* item the plan loads for this identifier, SIZE_MAX: none */
    size_t graph;   /* item the current walk took, valid when graph_walk == walk */
    uint64_t graph_walk;
};

struct edge {
    size_t from, to; /* items: from needs to */
};

struct frame {
    struct kx_kext *k;
    size_t next;
};

struct planner {
    struct kx_boot_plan *p;
    struct id_slot *ids;
    size_t n_slots;
    uint64_t walk;  /* stamp of the current walk */
    uint64_t *seen; /* per item: the walk that last reached it */
    int fresh;      /* kx_kext_repo_resolve_all is current */
    struct kx_kext **order;
    size_t n_order, cap_order;
    struct edge *edges;
    size_t n_edges, cap_edges;
    struct frame *stack;
    size_t cap_stack;
};

static struct id_slot *id_slot(struct planner *pl, const struct kx_id_entry *e)
{
    size_t mask = pl->n_slots - 1, i = ((uintptr_t)e >> 4) * 0x9E3779B97F4A7C15ull & mask;
    while (pl->ids[i].key && pl->ids[i].key != e)
        i = (i + 1) & mask;
    if (!pl->ids[i].key) /* the table has room for every identifier of the repository */
        pl->ids[i] = (struct id_slot){e, SIZE_MAX, SIZE_MAX, 0};
    return &pl->ids[i];
}

static size_t item_index(const struct kx_boot_plan *p, const struct kx_boot_item_int *it)
{
    return (size_t)(it - p->items);
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 1;
    size_t c = *cap ? *cap * 2 : 32;
    while (c < need)
        c *= 2;
    void *nv = realloc(*v, c * size);
    if (!nv)
        return 0;
    *v = nv;
    *cap = c;
    return 1;
}

static kx_status push_order(struct planner *pl, struct kx_kext *k)
{
    if (!grow((void **)&pl->order, &pl->cap_order, pl->n_order + 1, sizeof(struct kx_kext *)))
        return STATUS_INSUFFICIENT_RESOURCES;
    pl->order[pl->n_order++] = k;
    return STATUS_SUCCESS;
}

static kx_status push_edge(struct planner *pl, size_t from, size_t to)
{
    if (!grow((void **)&pl->edges, &pl->cap_edges, pl->n_edges + 1, sizeof *pl->edges))
        return STATUS_INSUFFICIENT_RESOURCES;
    pl->edges[pl->n_edges++] = (struct edge){from, to};
    return STATUS_SUCCESS;
}

/* ======== The fast path ======== */

enum walk_result { WALK_OK, WALK_UNRESOLVED, WALK_CONFLICT };

/* Takes k for its identifier in the current walk; WALK_CONFLICT when the
 * plan or this graph already holds another copy. */
static enum walk_result take_id(struct planner *pl, struct kx_kext *k)
{
    struct id_slot *s = id_slot(pl, kx__repo_find(pl->p->repo, k->id));
    size_t me = item_index(pl->p, kx__boot_item_of(pl->p, k));
    if ((s->planned != SIZE_MAX && s->planned != me) ||
        (s->graph_walk == pl->walk && s->graph != me))
        return WALK_CONFLICT;
    s->graph = me;
    s->graph_walk = pl->walk;
    return WALK_OK;
}

/* Root's load list and edges by the memoised choices, dependencies first
 * and libraries in identifier order, as kx_kext_resolve lists them. */
static enum walk_result walk(struct planner *pl, struct kx_kext *root, kx_status *st)
{
    struct kx_boot_plan *p = pl->p;
    size_t n = 0;
    *st = STATUS_SUCCESS;
    pl->n_order = pl->n_edges = 0;
    if (!pl->fresh) {
        if ((*st = kx_kext_repo_resolve_all(p->repo, NULL)) != STATUS_SUCCESS)
            return WALK_UNRESOLVED;
        pl->fresh = 1;
    }
    if (!kx_kext_repo_resolvable(p->repo, root))
        return WALK_UNRESOLVED;
    pl->walk++;
    if (take_id(pl, root) != WALK_OK)
        return WALK_CONFLICT;
    if (!grow((void **)&pl->stack, &pl->cap_stack, 1, sizeof *pl->stack)) {
        *st = STATUS_INSUFFICIENT_RESOURCES;
        return WALK_UNRESOLVED;
    }
    pl->seen[item_index(p, kx__boot_item_of(p, root))] = pl->walk;
    pl->stack[n++] = (struct frame){root, 0};
    while (n > 0 && *st == STATUS_SUCCESS) {
        struct frame *f = &pl->stack[n - 1];
        if (f->next == f->k->n_libs) {
            *st = push_order(pl, f->k);
            n--;
            continue;
        }
        struct kx_kext *c = f->k->picks ? f->k->picks[f->next] : NULL;
        f->next++;
        struct kx_boot_item_int *ci = c ? kx__boot_item_of(p, c) : NULL;
        if (!ci) /* a failed request (then the root isn't resolvable) or a kernel interface */
            continue;
        size_t to = item_index(p, ci);
        if ((*st = push_edge(pl, item_index(p, kx__boot_item_of(p, f->k)), to)) != STATUS_SUCCESS)
            break;
        if (pl->seen[to] == pl->walk)
            continue;
        pl->seen[to] = pl->walk;
        if (take_id(pl, c) != WALK_OK)
            return WALK_CONFLICT;
        if (!grow((void **)&pl->stack, &pl->cap_stack, n + 1, sizeof *pl->stack)) {
            *st = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        pl->stack[n++] = (struct frame){c, 0};
    }
    return *st == STATUS_SUCCESS ? WALK_OK : WALK_UNRESOLVED;
}

/* ======== The slow path ======== */

/* kx_kext_resolve, with the plan's kexts marked loaded when `marked`.
 * Loadable: pl->order and pl->edges hold the load list. Not: root's reason. */
static kx_status resolve_slow(struct planner *pl, struct kx_boot_item_int *root, int marked,
                              int *loadable)
{
    struct kx_boot_plan *p = pl->p;
    struct kx_kext_resolution *res = NULL;
    kx_status st = STATUS_SUCCESS;
    *loadable = 0;
    for (size_t i = 0; marked && i < p->n_kexts && st == STATUS_SUCCESS; i++)
        if (p->items[i].pub.list != KX_BOOT_NOT_LOADED &&
            (st = kx_kext_repo_set_loaded(p->repo, p->items[i].pub.kext, 1)) == STATUS_SUCCESS)
            p->items[i].marked = 1;
    if (st == STATUS_SUCCESS)
        st = kx_kext_resolve(p->repo, root->pub.kext, &res);
    for (size_t i = 0; marked && i < p->n_kexts; i++)
        if (p->items[i].marked) {
            kx_kext_repo_set_loaded(p->repo, p->items[i].pub.kext, 0);
            p->items[i].marked = 0;
            pl->fresh = 0; /* every mark changed the repository's generation */
        }
    if (st != STATUS_SUCCESS)
        goto out;
    if (!kx_kext_resolution_is_loadable(res)) {
        if (!kx__boot_set_text(&root->reason,
                               kx__boot_first_failure(kx_kext_resolution_diags(res))))
            st = STATUS_INSUFFICIENT_RESOURCES;
        goto out;
    }
    *loadable = 1;
    pl->n_order = pl->n_edges = 0;
    for (size_t i = 0; i < kx_kext_resolution_n_load_order(res) && st == STATUS_SUCCESS; i++)
        st = push_order(pl, kx_kext_resolution_load_order(res, i));
    for (size_t e = 0; e < kx_kext_resolution_n_deps(res) && st == STATUS_SUCCESS; e++) {
        const struct kx_kext_dep *dep = kx_kext_resolution_dep(res, e);
        struct kx_boot_item_int *from = kx__boot_item_of(p, dep->from);
        struct kx_boot_item_int *to = kx__boot_item_of(p, dep->chosen);
        if (from && to)
            st = push_edge(pl, item_index(p, from), item_index(p, to));
    }
out:
    kx_kext_resolution_free(res);
    return st;
}

/* ======== Accepting a load list ======== */

static kx_status add_dep(struct kx_boot_item_int *it, size_t dep)
{
    for (size_t i = 0; i < it->n_deps; i++)
        if (it->deps[i] == dep)
            return STATUS_SUCCESS;
    if (!grow((void **)&it->deps, &it->cap_deps, it->n_deps + 1, sizeof *it->deps))
        return STATUS_INSUFFICIENT_RESOURCES;
    it->deps[it->n_deps++] = dep;
    return STATUS_SUCCESS;
}

/* policy.c's OSBundleRequired rule (§2.7), the warning kx_kext_resolve
 * gives each kext. A boot plan gathers it per dependency instead — the
 * library is what needs fixing, and a common library would otherwise repeat
 * the warning for every kext that loads it (and cost a quadratic number of
 * comparisons in kx_diags_add). */
static void required_warnings(struct planner *pl, struct kx_boot_item_int *root)
{
    const struct kx_kext *k = root->pub.kext;
    for (size_t i = 0; i < pl->n_order; i++) {
        const struct kx_kext *d = pl->order[i];
        struct kx_boot_item_int *di = kx__boot_item_of(pl->p, d);
        if (d == k || kx__policy_required_consistent(k->required, d->required) || !di)
            continue;
        if (di->n_unsuited++ == 0)
            di->unsuited_for = root;
    }
}

static kx_status report_unsuited(struct kx_boot_plan *p)
{
    kx_status st = STATUS_SUCCESS;
    for (size_t i = 0; i < p->n_kexts && st == STATUS_SUCCESS; i++) {
        const struct kx_boot_item_int *d = &p->items[i];
        const struct kx_kext *first = d->unsuited_for ? d->unsuited_for->pub.kext : NULL;
        if (!d->n_unsuited || !first)
            continue;
        st = kx_diags_add(
            &p->diags, KX_D_REQUIRED_INCONSISTENT, first->path, d->pub.id ? d->pub.id : d->pub.path,
            "the kext is %s; the dependency has %s%s", first->required,
            d->pub.kext->required ? d->pub.kext->required : "OSBundleRequired not set",
            d->n_unsuited > 1 ? "; so do other kexts that need it" : "");
    }
    return st;
}

/* Adds pl->order to phase `list` unless a kext of it may not load at all. */
static kx_status accept(struct planner *pl, struct kx_boot_item_int *root, enum kx_boot_list list)
{
    struct kx_boot_plan *p = pl->p;
    kx_status st = STATUS_SUCCESS;
    for (size_t i = 0; i < pl->n_order; i++) { /* a dependency a boot may not load sinks the root */
        struct kx_boot_item_int *d = kx__boot_item_of(p, pl->order[i]);
        if (d && d != root && d->excluded)
            return kx__boot_set_text(&root->reason,
                                     kx__boot_dupf("dependency %s can't load: %s",
                                                   d->pub.id ? d->pub.id : d->pub.path, d->reason))
                       ? STATUS_SUCCESS
                       : STATUS_INSUFFICIENT_RESOURCES;
    }
    for (size_t i = 0; i < pl->n_order; i++) {
        struct kx_boot_item_int *d = kx__boot_item_of(p, pl->order[i]);
        if (!d || d->pub.list != KX_BOOT_NOT_LOADED)
            continue;
        size_t me = item_index(p, d);
        d->pub.list = list;
        d->pub.rule =
            d == root ? (list == KX_BOOT_PHASE1 ? KX_BOOT_RULE_REQUIRED : KX_BOOT_RULE_REMAINING)
                      : KX_BOOT_RULE_DEPENDENCY;
        if (!d->eligible) /* a lower copy a library request chose: its priority is still unknown */
            kx__boot_set_priority(p, d);
        for (size_t e = 0; e < pl->n_edges && d != root; e++)
            if (pl->edges[e].to == me) {
                d->pub.needed_by = p->items[pl->edges[e].from].pub.kext;
                break;
            }
        id_slot(pl, kx__repo_find(p->repo, d->pub.kext->id))->planned = me;
    }
    for (size_t e = 0; e < pl->n_edges && st == STATUS_SUCCESS; e++) {
        struct kx_boot_item_int *from = &p->items[pl->edges[e].from];
        if (from->pub.list == list && p->items[pl->edges[e].to].pub.list == list)
            st = add_dep(from, pl->edges[e].to);
    }
    return st;
}

/* ======== Phases ======== */

static int compare_roots(const void *a, const void *b)
{
    const struct kx_boot_item_int *x = *(struct kx_boot_item_int *const *)a;
    const struct kx_boot_item_int *y = *(struct kx_boot_item_int *const *)b;
    if (x->pub.priority != y->pub.priority)
        return x->pub.priority < y->pub.priority ? -1 : 1;
    int c = strcmp(x->pub.id, y->pub.id);
    if (c)
        return c;
    return (x->pub.kext->seq > y->pub.kext->seq) - (x->pub.kext->seq < y->pub.kext->seq);
}

static kx_status run_phase(struct planner *pl, struct kx_boot_item_int **roots, size_t n,
                           enum kx_boot_list list)
{
    struct kx_boot_plan *p = pl->p;
    kx_status st = STATUS_SUCCESS;
    qsort(roots, n, sizeof(struct kx_boot_item_int *), compare_roots);
    for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++) {
        struct kx_boot_item_int *it = roots[i];
        struct id_slot *s = id_slot(pl, kx__repo_find(p->repo, it->pub.kext->id));
        int loadable = 0;
        if (it->pub.list != KX_BOOT_NOT_LOADED) { /* already in as a library of an earlier root */
            if (list == KX_BOOT_PHASE1 && it->pub.list == KX_BOOT_PHASE1)
                it->pub.rule = KX_BOOT_RULE_REQUIRED;
            continue;
        }
        if (s->planned != SIZE_MAX) {
            const struct kx_kext *other = p->items[s->planned].pub.kext;
            if (!kx__boot_set_text(&it->reason,
                                   kx__boot_dupf("another copy of %s is already loaded: version "
                                                 "%s (%s)",
                                                 other->id,
                                                 other->version_str ? other->version_str : "?",
                                                 other->path)))
                return STATUS_INSUFFICIENT_RESOURCES;
            continue;
        }
        switch (walk(pl, it->pub.kext, &st)) {
        case WALK_OK: loadable = 1; break;
        case WALK_UNRESOLVED:
            if (st == STATUS_SUCCESS)
                st = resolve_slow(pl, it, 0, &loadable);
            break;
        case WALK_CONFLICT: st = resolve_slow(pl, it, 1, &loadable); break;
        }
        if (st == STATUS_SUCCESS && loadable && (st = accept(pl, it, list)) == STATUS_SUCCESS &&
            it->pub.list == list)
            required_warnings(pl, it);
    }
    return st;
}

/* Why the booter passed over an eligible kext. */
static char *not_chosen(const struct kx_boot_plan *p, const struct kx_kext *k)
{
    if (!k->required)
        return kx__boot_dupf("OSBundleRequired not set: the booter loads only %s kexts",
                             kx__boot_mode_values(p->mode));
    if (!strcmp(k->required, "Safe Boot"))
        return strdup("OSBundleRequired Safe Boot: never loaded by the booter");
    return kx__boot_dupf("OSBundleRequired %s: a %s boot's booter loads only %s kexts", k->required,
                         kx_boot_mode_name(p->mode), kx__boot_mode_values(p->mode));
}

static int has_code(const struct kx_boot_plan *p, const struct kx_kext *k)
{
    return k->declares_exec && !k->is_kernel_resource &&
           (k->exec_path || (p->repo->opts.flags & KX_KEXT_NO_EXEC));
}

static kx_status plan_both(struct planner *pl, struct kx_boot_item_int **roots)
{
    struct kx_boot_plan *p = pl->p;
    size_t n = 0;
    kx_status st;
    for (size_t i = 0; i < p->n_kexts; i++)
        if (p->items[i].eligible && kx_boot_mode_chooses(p->mode, p->items[i].pub.kext->required))
            roots[n++] = &p->items[i];
    st = run_phase(pl, roots, n, KX_BOOT_PHASE1);
    n = 0;
    for (size_t i = 0; i < p->n_kexts && st == STATUS_SUCCESS; i++) {
        struct kx_boot_item_int *it = &p->items[i];
        struct kx_kext *k = it->pub.kext;
        if (!it->eligible || it->pub.list == KX_BOOT_PHASE1 || it->reason)
            continue; /* in phase 1, or refused there */
        if (!kx__boot_set_text(&it->phase1_reason, not_chosen(p, k)))
            return STATUS_INSUFFICIENT_RESOURCES;
        if (p->mode == KX_BOOT_SINGLE_USER) {
            if (!kx__boot_set_text(&it->reason, strdup("single-user boot: no daemon, so nothing "
                                                       "loads after phase 1")))
                return STATUS_INSUFFICIENT_RESOURCES;
        } else if (has_code(p, k) && !kx_kext_is_library(k)) {
            roots[n++] = it;
        }
    }
    return st == STATUS_SUCCESS ? run_phase(pl, roots, n, KX_BOOT_PHASE2) : st;
}

/* The reason of every kext still without one, once both phases are known. */
static kx_status explain_rest(struct kx_boot_plan *p)
{
    for (size_t i = 0; i < p->n_kexts; i++) {
        struct kx_boot_item_int *it = &p->items[i];
        struct kx_kext *k = it->pub.kext;
        char *why;
        if (it->pub.list != KX_BOOT_NOT_LOADED || it->reason)
            continue;
        if (kx_kext_is_library(k))
            why = strdup("library: loads when a kext that needs it loads");
        else if (!k->declares_exec || k->is_kernel_resource)
            why = strdup("no executable: nothing to load");
        else
            why = strdup("its executable isn't an ELF shared object for this machine");
        if (!kx__boot_set_text(&it->reason, why))
            return STATUS_INSUFFICIENT_RESOURCES;
    }
    return STATUS_SUCCESS;
}

kx_status kx__boot_plan_phases(struct kx_boot_plan *p)
{
    struct kx_kext_repo *r = p->repo;
    struct planner pl;
    struct kx_boot_item_int **roots =
        calloc(p->n_kexts ? p->n_kexts : 1, sizeof(struct kx_boot_item_int *));
    kx_status st = STATUS_INSUFFICIENT_RESOURCES;
    memset(&pl, 0, sizeof pl);
    pl.p = p;
    pl.n_slots = 16;
    while (pl.n_slots < 2 * (r->n_ids + 1))
        pl.n_slots *= 2;
    pl.ids = calloc(pl.n_slots, sizeof *pl.ids);
    pl.seen = calloc(p->n_items ? p->n_items : 1, sizeof *pl.seen);
    if (roots && pl.ids && pl.seen && (st = plan_both(&pl, roots)) == STATUS_SUCCESS &&
        (st = explain_rest(p)) == STATUS_SUCCESS)
        st = report_unsuited(p);
    free(roots);
    free(pl.ids);
    free(pl.seen);
    free(pl.order);
    free(pl.edges);
    free(pl.stack);
    return st;
}
