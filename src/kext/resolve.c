/* resolve.c — dependency resolution by Apple's rules (research §2).
 *
 * Two layers. The direct layer decides, once per kext and repository
 * generation, which copy each OSBundleLibraries request gets
 * (kx__resolve_direct): the loaded copy if there is one (an error if it isn't
 * compatible — no fallback, as in IOKitUser), else the first copy in
 * preference order that is compatible (compatible <= requested <= current —
 * both bounds, the user-space predicate, not the kernel's laxer one), valid
 * and authentic. A compatible but invalid or inauthentic copy is skipped like
 * Apple's strict mode does; only when nothing better exists is it taken, and
 * the dependent then reports "Dependencies have validation problems". Every
 * kext makes its own choices, so two kexts of one graph may pick different
 * copies of a library — which is then reported, as Apple does, as "Multiple
 * kexts for these libraries occur in the dependency graph".
 *
 * The graph layer walks a kext's choices depth-first with an explicit stack
 * (a 100,000-kext chain must not overflow the C stack), libraries in
 * identifier order, and emits post-order: dependencies first, the kext last.
 * A back edge is a cycle, reported with its path ("a -> b -> a"). The root's
 * report then gathers: its own diagnostics, its direct failures, for every
 * failing kext below it "Indirect dependencies can't be resolved" plus that
 * kext's own failures, duplicates, and the graph-wide policies (policy.c).
 *
 * kx_kext_repo_resolve_all answers "does it resolve" for every kext at once
 * by memoised DFS over the same direct choices, linear in kexts + libraries.
 */
#include "kext_int.h"

#include <stdlib.h>
#include <string.h>

enum { WALK_ON_STACK = 1, WALK_DONE = 2 };

enum kx_kext_verdict kx__classify(const struct kx_kext *c, kx_vers requested)
{
    if (c->compat == KX_VERS_INVALID || c->version == KX_VERS_INVALID)
        return KX_CAND_NOT_LIBRARY;
    if (requested < c->compat)
        return KX_CAND_BELOW_COMPAT;
    if (requested > c->version)
        return KX_CAND_ABOVE_CURRENT;
    return KX_CAND_CHOSEN;
}

/* Chooses a copy of e for requested. cands (e->n entries, may be NULL)
 * receives every copy with its verdict, in preference order. *fail is the
 * Apple diagnostic when nothing usable was found (KX_D_N_CODES otherwise);
 * the result is the copy taken, possibly an invalid fallback, or NULL. */
static struct kx_kext *choose(const struct kx_id_entry *e, kx_vers requested,
                              struct kx_kext_candidate *cands, enum kx_diag_code *fail)
{
    struct kx_kext *chosen = NULL, *fallback = NULL;
    size_t n_lib = 0, at = 0;
    *fail = KX_D_N_CODES;
    if (!e || e->n == 0) {
        *fail = KX_D_NO_KEXTS_FOUND;
        return NULL;
    }
    if (e->loaded) {
        enum kx_kext_verdict v = kx__classify(e->loaded, requested);
        if (cands) {
            cands[at++] = (struct kx_kext_candidate){e->loaded, v};
            for (size_t i = 0; i < e->n; i++)
                if (e->kexts[i] != e->loaded)
                    cands[at++] = (struct kx_kext_candidate){e->kexts[i], KX_CAND_OTHER_LOADED};
        }
        if (v == KX_CAND_CHOSEN)
            return e->loaded;
        *fail = v == KX_CAND_NOT_LIBRARY ? KX_D_LOADED_NO_COMPATIBLE : KX_D_LOADED_INCOMPATIBLE;
        return NULL;
    }
    for (size_t i = 0; i < e->n; i++) {
        struct kx_kext *c = e->kexts[i];
        enum kx_kext_verdict v = kx__classify(c, requested);
        n_lib += v != KX_CAND_NOT_LIBRARY;
        if (v == KX_CAND_CHOSEN) {
            if (!kx_kext_is_valid(c))
                v = KX_CAND_INVALID;
            else if (!kx_kext_is_authentic(c))
                v = KX_CAND_INAUTHENTIC;
            else if (chosen)
                v = KX_CAND_SUPERSEDED;
            else
                chosen = c;
            if (v != KX_CAND_CHOSEN && v != KX_CAND_SUPERSEDED && !fallback)
                fallback = c;
        }
        if (cands)
            cands[i] = (struct kx_kext_candidate){c, v};
    }
    if (chosen)
        return chosen;
    if (fallback)
        return fallback;
    *fail = n_lib ? KX_D_ONLY_INCOMPATIBLE : KX_D_LACK_COMPATIBLE_VERSION;
    return NULL;
}

/* "requested 2.0 not in [compatible 1.0, current 1.5] (/x/Lib.kext); ..." for a failure. */
static kx_status add_failure(struct kx_kext *k, const struct kx_kext_lib *lib,
                             const struct kx_id_entry *e, enum kx_diag_code fail)
{
    struct kx_kext_dep dep = {k, lib->id, lib->requested_str, lib->requested, NULL, NULL, 0};
    struct kx_kext_candidate *cands = NULL;
    char *text = NULL, line[256];
    size_t text_len = 0;
    FILE *f;
    kx_status st;
    if (!e) /* nothing to list */
        return kx_diags_add(&k->dep_diags, fail, k->path, lib->id,
                            "requested %s; no kext has this identifier", lib->requested_str);
    cands = calloc(e->n, sizeof *cands);
    f = open_memstream(&text, &text_len);
    if (!cands || !f) {
        free(cands);
        if (f)
            fclose(f);
        free(text);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    enum kx_diag_code ignored;
    choose(e, lib->requested, cands, &ignored);
    dep.candidates = cands;
    dep.n_candidates = e->n;
    for (size_t i = 0; i < e->n; i++)
        if (cands[i].kext)
            fprintf(f, "%s%s (%s)", i ? "; " : "",
                    kx_kext_candidate_explain(&dep, &cands[i], line, sizeof line),
                    cands[i].kext->path);
    if (fclose(f) != 0 || !text) {
        free(cands);
        free(text);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    st = kx_diags_add(&k->dep_diags, fail, k->path, lib->id, "%s", text);
    free(text);
    free(cands);
    return st;
}

kx_status kx__resolve_direct(struct kx_kext_repo *r, struct kx_kext *k)
{
    kx_status st = STATUS_SUCCESS;
    if (k->memo_gen == r->gen)
        return STATUS_SUCCESS;
    free(k->picks);
    kx_diags_clear(&k->dep_diags);
    k->picks = k->n_libs ? calloc(k->n_libs, sizeof(struct kx_kext *)) : NULL;
    if (k->n_libs && !k->picks)
        return STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < k->n_libs && st == STATUS_SUCCESS; i++) {
        const struct kx_kext_lib *lib = &k->libs[i];
        enum kx_diag_code fail;
        if (lib->requested == KX_VERS_INVALID)
            continue; /* a validation failure of k already */
        const struct kx_id_entry *e = kx__repo_find(r, lib->id);
        struct kx_kext *c = choose(e, lib->requested, NULL, &fail);
        k->picks[i] = c;
        if (!c)
            st = add_failure(k, lib, e, fail);
        else if (!kx_kext_is_valid(c))
            st = kx_diags_add(&k->dep_diags, KX_D_DEPS_INVALID, k->path, lib->id,
                              "%s has validation failures", c->path);
        else if (!kx_kext_is_authentic(c))
            st = kx_diags_add(&k->dep_diags, KX_D_DEPS_INAUTHENTIC, k->path, lib->id,
                              "%s fails authentication", c->path);
    }
    if (st == STATUS_SUCCESS)
        st = kx__policy_libraries(r, k);
    if (st == STATUS_SUCCESS)
        k->memo_gen = r->gen;
    return st;
}

static int kext_fails(const struct kx_kext *k)
{
    return kx_diags_count_errors(&k->diags) || kx_diags_count_errors(&k->dep_diags);
}

/* ---- One kext's graph ------------------------------------------------------------------------ */

struct frame {
    struct kx_kext *k;
    size_t next; /* next library to visit */
};

static kx_status push_frame(struct frame **stack, size_t *n, size_t *cap, struct kx_kext *k)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 32;
        struct frame *v = realloc(*stack, c * sizeof *v);
        if (!v)
            return STATUS_INSUFFICIENT_RESOURCES;
        *stack = v;
        *cap = c;
    }
    (*stack)[(*n)++] = (struct frame){k, 0};
    return STATUS_SUCCESS;
}

static const char *name_of(const struct kx_kext *k) { return k->id ? k->id : k->path; }

/* "a -> b -> c -> a" from the stack position of c to the top. */
static kx_status report_cycle(struct kx_kext_resolution *res, const struct frame *stack, size_t n,
                              const struct kx_kext *c)
{
    char *text = NULL;
    size_t len = 0, from = n;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return STATUS_INSUFFICIENT_RESOURCES;
    while (from > 0 && stack[from - 1].k != c)
        from--;
    if (from > 0)
        from--;
    for (size_t i = from; i < n; i++)
        fprintf(f, "%s -> ", name_of(stack[i].k));
    fputs(name_of(c), f);
    if (fclose(f) != 0 || !text) {
        free(text);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    kx_status st = kx_diags_add(&res->diags, KX_D_CIRCULAR, res->root->path, name_of(c), "%s", text);
    free(text);
    return st;
}

static kx_status record_edge(struct kx_kext_resolution *res, struct kx_kext *from, size_t i)
{
    const struct kx_kext_lib *lib = &from->libs[i];
    const struct kx_id_entry *e = kx__repo_find(res->repo, lib->id);
    if (res->n_deps == res->cap_deps) {
        size_t c = res->cap_deps ? res->cap_deps * 2 : 16;
        struct kx_kext_dep *v = realloc(res->deps, c * sizeof *v);
        if (!v)
            return STATUS_INSUFFICIENT_RESOURCES;
        res->deps = v;
        res->cap_deps = c;
    }
    struct kx_kext_dep *d = &res->deps[res->n_deps];
    struct kx_kext_candidate *cands = NULL;
    enum kx_diag_code fail;
    if (e && e->n && !(cands = calloc(e->n, sizeof *cands)))
        return STATUS_INSUFFICIENT_RESOURCES;
    if (cands)
        choose(e, lib->requested, cands, &fail);
    *d = (struct kx_kext_dep){from,  lib->id, lib->requested_str, lib->requested, from->picks[i],
                              cands, cands ? e->n : 0};
    res->n_deps++;
    return STATUS_SUCCESS;
}

static kx_status walk_graph(struct kx_kext_resolution *res)
{
    struct kx_kext_repo *r = res->repo;
    struct frame *stack = NULL;
    size_t n = 0, cap = 0, cap_order = 0;
    uint64_t stamp = ++r->stamp;
    kx_status st = kx__resolve_direct(r, res->root);

    if (st == STATUS_SUCCESS)
        st = push_frame(&stack, &n, &cap, res->root);
    res->root->visit = stamp;
    res->root->walk = WALK_ON_STACK;
    while (st == STATUS_SUCCESS && n > 0) {
        struct frame *f = &stack[n - 1];
        if (f->next == f->k->n_libs) {
            struct kx_kext *done = f->k;
            done->walk = WALK_DONE;
            n--;
            if (res->n_order == cap_order) {
                size_t c = cap_order ? cap_order * 2 : 16;
                struct kx_kext **v = realloc(res->order, c * sizeof(struct kx_kext *));
                if (!v) {
                    st = STATUS_INSUFFICIENT_RESOURCES;
                    break;
                }
                res->order = v;
                cap_order = c;
            }
            res->order[res->n_order++] = done;
            continue;
        }
        size_t i = f->next++;
        struct kx_kext *from = f->k;
        if (from->libs[i].requested == KX_VERS_INVALID)
            continue;
        if ((st = record_edge(res, from, i)) != STATUS_SUCCESS)
            break;
        struct kx_kext *c = from->picks[i];
        if (!c)
            continue;
        if (c->visit == stamp) {
            if (c->walk == WALK_ON_STACK)
                st = report_cycle(res, stack, n, c);
            continue;
        }
        c->visit = stamp;
        c->walk = WALK_ON_STACK;
        if ((st = kx__resolve_direct(r, c)) == STATUS_SUCCESS)
            st = push_frame(&stack, &n, &cap, c);
    }
    free(stack);
    return st;
}

static int compare_by_id(const void *a, const void *b)
{
    const struct kx_kext *x = *(struct kx_kext *const *)a, *y = *(struct kx_kext *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/* Two different kexts with one identifier in the load list. */
static kx_status check_multiple(struct kx_kext_resolution *res)
{
    struct kx_kext **v = malloc((res->n_order ? res->n_order : 1) * sizeof(struct kx_kext *));
    size_t n = 0;
    kx_status st = STATUS_SUCCESS;
    if (!v)
        return STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < res->n_order; i++)
        if (res->order[i]->id)
            v[n++] = res->order[i];
    qsort(v, n, sizeof(struct kx_kext *), compare_by_id);
    for (size_t i = 0; i + 1 < n && st == STATUS_SUCCESS; i++) {
        if (strcmp(v[i]->id, v[i + 1]->id) != 0)
            continue;
        st = kx_diags_add(&res->diags, KX_D_MULTIPLE_IN_GRAPH, res->root->path, v[i]->id,
                          "%s (%s) and %s (%s)", v[i]->version_str ? v[i]->version_str : "?",
                          v[i]->path, v[i + 1]->version_str ? v[i + 1]->version_str : "?",
                          v[i + 1]->path);
    }
    free(v);
    return st;
}

/* Copies another kext's errors into the root's report, naming that kext's file. */
static kx_status copy_errors(struct kx_diags *dst, const struct kx_diags *src, const char *file)
{
    kx_status st = STATUS_SUCCESS;
    for (size_t i = 0; i < src->n_items && st == STATUS_SUCCESS; i++) {
        const struct kx_diag *x = &src->items[i];
        if (kx_diag_category_of(x->code) == KX_DIAG_WARNING)
            continue;
        st = x->detail ? kx_diags_add(dst, x->code, file, x->subject, "%s", x->detail)
                       : kx_diags_add(dst, x->code, file, x->subject, NULL);
    }
    return st;
}

static kx_status assemble(struct kx_kext_resolution *res)
{
    struct kx_kext *root = res->root;
    kx_status st = kx_diags_merge(&res->diags, &root->diags);
    if (st == STATUS_SUCCESS)
        st = kx_diags_merge(&res->diags, &root->dep_diags);
    for (size_t i = 0; i < res->n_order && st == STATUS_SUCCESS; i++) {
        struct kx_kext *d = res->order[i];
        if (d == root || !kx_diags_count_errors(&d->dep_diags))
            continue;
        st = kx_diags_add(&res->diags, KX_D_INDIRECT, root->path, name_of(d), "%s", d->path);
        if (st == STATUS_SUCCESS)
            st = copy_errors(&res->diags, &d->dep_diags, d->path);
    }
    if (st == STATUS_SUCCESS)
        st = check_multiple(res);
    for (size_t i = 0; i < res->n_order && st == STATUS_SUCCESS; i++)
        if (res->order[i]->id)
            st = kx__repo_duplicate_diag(res->repo, res->order[i]->id, &res->diags);
    if (st == STATUS_SUCCESS)
        st = kx__policy_graph(res->repo, res);
    return st;
}

kx_status kx_kext_resolve(struct kx_kext_repo *r, struct kx_kext *k, struct kx_kext_resolution **out)
{
    struct kx_kext_resolution *res;
    kx_status st;
    *out = NULL;
    if (!kx__repo_owns(r, k))
        return STATUS_INVALID_PARAMETER;
    if (!(res = calloc(1, sizeof *res)))
        return STATUS_INSUFFICIENT_RESOURCES;
    res->repo = r;
    res->root = k;
    res->user_loadable = 1;
    if ((st = walk_graph(res)) != STATUS_SUCCESS || (st = assemble(res)) != STATUS_SUCCESS) {
        kx_kext_resolution_free(res);
        return st;
    }
    *out = res;
    return STATUS_SUCCESS;
}

void kx_kext_resolution_free(struct kx_kext_resolution *res)
{
    if (!res)
        return;
    for (size_t i = 0; i < res->n_deps; i++)
        free((void *)res->deps[i].candidates);
    free(res->deps);
    free(res->order);
    kx_diags_clear(&res->diags);
    free(res);
}

/* ---- Every kext at once ---------------------------------------------------------------------- */

kx_status kx_kext_repo_resolve_all(struct kx_kext_repo *r, size_t *n_resolvable)
{
    struct frame *stack = NULL;
    size_t n = 0, cap = 0, count = 0;
    kx_status st = STATUS_SUCCESS;
    uint64_t stamp = ++r->stamp;

    for (size_t i = 0; i < r->n_all && st == STATUS_SUCCESS; i++)
        st = kx__resolve_direct(r, r->all[i]);
    for (size_t s = 0; s < r->n_all && st == STATUS_SUCCESS; s++) {
        struct kx_kext *start = r->all[s];
        if (start->visit == stamp)
            continue;
        start->visit = stamp;
        start->walk = WALK_ON_STACK;
        start->ok = !kext_fails(start);
        if ((st = push_frame(&stack, &n, &cap, start)) != STATUS_SUCCESS)
            break;
        while (n > 0) {
            struct frame *f = &stack[n - 1];
            if (f->next == f->k->n_libs) {
                f->k->walk = WALK_DONE;
                if (--n > 0 && !f->k->ok)
                    stack[n - 1].k->ok = 0;
                continue;
            }
            struct kx_kext *c = f->k->picks ? f->k->picks[f->next] : NULL;
            f->next++;
            if (!c)
                continue; /* a failed request: already counted in kext_fails */
            if (c->visit == stamp) {
                if (c->walk == WALK_ON_STACK) /* a cycle: everything on it fails */
                    for (size_t j = n; j-- > 0;) {
                        stack[j].k->ok = 0;
                        if (stack[j].k == c)
                            break;
                    }
                else if (!c->ok)
                    f->k->ok = 0;
                continue;
            }
            c->visit = stamp;
            c->walk = WALK_ON_STACK;
            c->ok = !kext_fails(c);
            if ((st = push_frame(&stack, &n, &cap, c)) != STATUS_SUCCESS)
                break;
        }
    }
    for (size_t i = 0; i < r->n_all; i++)
        count += r->all[i]->ok;
    free(stack);
    if (st != STATUS_SUCCESS)
        return st;
    r->resolved_gen = r->gen;
    if (n_resolvable)
        *n_resolvable = count;
    return STATUS_SUCCESS;
}

int kx_kext_repo_resolvable(const struct kx_kext_repo *r, const struct kx_kext *k)
{
    return r->resolved_gen == r->gen && kx__repo_owns(r, k) && k->ok;
}
