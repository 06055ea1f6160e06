/* boot_order.c — the load order of one boot phase.
 *
 * Two passes over the phase's dependency graph. The first (Kahn's algorithm,
 * plain queue) finds any topological order and walks it backwards, so each
 * kext's dependents are final before the kext itself: a library's effective
 * priority becomes the lowest of its own and those of every kext that needs
 * it, directly or not. The second is Kahn's algorithm again, taking from the
 * kexts whose dependencies are all placed the one with the lowest key
 * (effective priority, bundle identifier, repository order) from a binary
 * heap: dependencies first, and otherwise exactly the promised order, in
 * O((n + edges) log n). The resolver never lets a cycle into a phase; should
 * one appear anyway, its kexts follow the rest in key order rather than
 * vanish.
 */
#include "boot_int.h"

#include <stdlib.h>
#include <string.h>

struct graph {
    struct kx_boot_item_int *items;
    const size_t *members; /* local index -> item index */
    size_t n;
    size_t *first, *users; /* CSR: the dependents of local i are users[first[i] .. first[i+1]) */
    size_t *n_pending;     /* unplaced dependencies per local index */
};

static int key_less(const struct graph *g, size_t a, size_t b)
{
    const struct kx_boot_item *x = &g->items[g->members[a]].pub;
    const struct kx_boot_item *y = &g->items[g->members[b]].pub;
    if (x->effective_priority != y->effective_priority)
        return x->effective_priority < y->effective_priority;
    int c = strcmp(x->id ? x->id : "", y->id ? y->id : "");
    if (c)
        return c < 0;
    return x->kext && y->kext && x->kext->seq < y->kext->seq;
}

/* ---- A binary min-heap of local indices ---- */

struct heap {
    size_t *v;
    size_t n;
};

static void heap_push(struct heap *h, const struct graph *g, size_t x)
{
    size_t i = h->n++;
    h->v[i] = x;
    while (i > 0 && key_less(g, h->v[i], h->v[(i - 1) / 2])) {
        size_t parent = (i - 1) / 2, t = h->v[i];
        h->v[i] = h->v[parent];
        h->v[parent] = t;
        i = parent;
    }
}

static size_t heap_pop(struct heap *h, const struct graph *g)
{
    size_t top = h->v[0], i = 0;
    h->v[0] = h->v[--h->n];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && key_less(g, h->v[l], h->v[m]))
            m = l;
        if (r < h->n && key_less(g, h->v[r], h->v[m]))
            m = r;
        if (m == i)
            break;
        size_t t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
    return top;
}

/* ---- Building the graph ---- */

static kx_status build(struct graph *g, size_t n_items)
{
    size_t *local = malloc((n_items ? n_items : 1) * sizeof *local), n_edges = 0;
    g->first = calloc(g->n + 1, sizeof *g->first);
    g->n_pending = calloc(g->n ? g->n : 1, sizeof *g->n_pending);
    if (!local || !g->first || !g->n_pending) {
        free(local);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    for (size_t i = 0; i < n_items; i++)
        local[i] = SIZE_MAX;
    for (size_t i = 0; i < g->n; i++)
        local[g->members[i]] = i;
    for (size_t i = 0; i < g->n; i++) { /* count dependents per dependency */
        const struct kx_boot_item_int *it = &g->items[g->members[i]];
        for (size_t d = 0; d < it->n_deps; d++)
            if (local[it->deps[d]] != SIZE_MAX) {
                g->first[local[it->deps[d]] + 1]++;
                g->n_pending[i]++;
                n_edges++;
            }
    }
    for (size_t i = 0; i < g->n; i++)
        g->first[i + 1] += g->first[i];
    g->users = malloc((n_edges ? n_edges : 1) * sizeof *g->users);
    size_t *fill = malloc((g->n ? g->n : 1) * sizeof *fill);
    if (!g->users || !fill) {
        free(fill);
        free(local);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memcpy(fill, g->first, g->n * sizeof *fill);
    for (size_t i = 0; i < g->n; i++) {
        const struct kx_boot_item_int *it = &g->items[g->members[i]];
        for (size_t d = 0; d < it->n_deps; d++)
            if (local[it->deps[d]] != SIZE_MAX)
                g->users[fill[local[it->deps[d]]]++] = i;
    }
    free(fill);
    free(local);
    return STATUS_SUCCESS;
}

/* Any topological order (with cycle members appended), walked backwards so
 * a library inherits the lowest priority among everything that needs it. */
static kx_status inherit(struct graph *g)
{
    size_t *pending = malloc((g->n ? g->n : 1) * sizeof *pending);
    size_t *topo = malloc((g->n ? g->n : 1) * sizeof *topo), n_topo = 0;
    if (!pending || !topo) {
        free(pending);
        free(topo);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memcpy(pending, g->n_pending, g->n * sizeof *pending);
    for (size_t i = 0; i < g->n; i++)
        if (!pending[i])
            topo[n_topo++] = i;
    for (size_t q = 0; q < n_topo; q++)
        for (size_t u = g->first[topo[q]]; u < g->first[topo[q] + 1]; u++)
            if (--pending[g->users[u]] == 0)
                topo[n_topo++] = g->users[u];
    for (size_t i = 0; i < g->n && n_topo < g->n; i++)
        if (pending[i])
            topo[n_topo++] = i;
    for (size_t q = n_topo; q-- > 0;) {
        size_t i = topo[q];
        struct kx_boot_item *me = &g->items[g->members[i]].pub;
        for (size_t u = g->first[i]; u < g->first[i + 1]; u++) {
            const struct kx_boot_item *user = &g->items[g->members[g->users[u]]].pub;
            if (user->effective_priority < me->effective_priority)
                me->effective_priority = user->effective_priority;
        }
    }
    free(pending);
    free(topo);
    return STATUS_SUCCESS;
}

kx_status kx__boot_order(struct kx_boot_item_int *items, size_t n_items, const size_t *members,
                         size_t n, size_t *order)
{
    struct graph g = {items, members, n, NULL, NULL, NULL};
    struct heap h = {NULL, 0};
    unsigned char *placed = NULL;
    size_t n_order = 0;
    kx_status st;
    for (size_t i = 0; i < n; i++)
        items[members[i]].pub.effective_priority = items[members[i]].pub.priority;
    if ((st = build(&g, n_items)) != STATUS_SUCCESS || (st = inherit(&g)) != STATUS_SUCCESS)
        goto out;
    h.v = malloc((n ? n : 1) * sizeof *h.v);
    placed = calloc(n ? n : 1, 1);
    if (!h.v || !placed) {
        st = STATUS_INSUFFICIENT_RESOURCES;
        goto out;
    }
    for (int round = 0; round < 2 && n_order < n; round++) {
        /* round 0: the graph; round 1 (only after a cycle): whatever is left, by key */
        for (size_t i = 0; i < n; i++)
            if (!placed[i] && (round == 1 || g.n_pending[i] == 0))
                heap_push(&h, &g, i);
        while (h.n > 0) {
            size_t i = heap_pop(&h, &g);
            placed[i] = 1;
            order[n_order++] = members[i];
            for (size_t u = g.first[i]; u < g.first[i + 1] && round == 0; u++)
                if (--g.n_pending[g.users[u]] == 0)
                    heap_push(&h, &g, g.users[u]);
        }
    }
out:
    free(placed);
    free(h.v);
    free(g.first);
    free(g.users);
    free(g.n_pending);
    return st;
}
