/* match.c — matching nubs against the catalogue: candidates, order, categories, decline.
 *
 * For each nub the class chain is computed once; each class of it names a catalogue bucket.
 * A runtime pass takes from each bucket the scan list and the lists under the index keys
 * the nub's own properties produce (catalog.c lists them), so a PCI function sees the
 * personalities of its vendors and class, not every PCI personality; an explaining pass
 * (KX_MATCH_EXPLAIN) takes every personality of the chain, to say why each failed. Each
 * one is tested (match_keys.c); survivors are ordered by score, then the nub's own class
 * before a superclass, then catalogue order, and the first of each match category is
 * chosen. Merge-only personalities (codeless kexts) never take a category.
 *
 * The pass holds the catalogue's and the registry's read locks (in that order) for all
 * the nubs it is given, so one kx_match_nubs call sees one state of both.
 */
#include "registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NUB_KEYS (KX_MNUB_NAMES + 16) /* names, then 6 PCI and 3 USB keys */

struct kx_match {
    kx_reg_id nub;
    struct kx_match_candidate *cands;
    size_t n_cands, cap_cands;
    struct kx_match_rejection *rejs;
    size_t n_rejs, cap_rejs;
};

/* ---- Gathering --------------------------------------------------------------------------------
 */

struct gathered {
    struct kx_personality *p;
    unsigned distance;
};

struct gather {
    struct gathered *v;
    size_t n, cap;
};

static int gather_push(struct gather *g, struct kx_personality *p, unsigned distance)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        struct gathered *v = realloc(g->v, cap * sizeof *v);
        if (!v)
            return -1;
        g->v = v;
        g->cap = cap;
    }
    g->v[g->n++] = (struct gathered){p, distance};
    return 0;
}

static int gather_vec(struct gather *g, const struct kx_pvec *v, unsigned distance)
{
    for (size_t i = 0; v && i < v->n; i++)
        if (gather_push(g, v->v[i], distance) != 0)
            return -1;
    return 0;
}

/* The index keys this nub's properties produce (catalog.c's scheme). */
static size_t nub_keys(const struct kx_mnub *n, char keys[][KX_REG_NAME_MAX + 8])
{
    size_t k = 0;
    for (size_t i = 0; i < n->n_names; i++)
        snprintf(keys[k++], KX_REG_NAME_MAX + 8, "N:%.*s", (int)n->names[i].len, n->names[i].s);
    const size_t len = KX_REG_NAME_MAX + 8;
    if (n->is_pci) {
        uint32_t id = n->pci_id, sub = n->pci_subsystem, cls = n->pci_class;
        snprintf(keys[k++], len, "P:%04x", id & 0xffff);
        snprintf(keys[k++], len, "P:%04x:%04x", id & 0xffff, id >> 16);
        snprintf(keys[k++], len, "S:%04x", sub & 0xffff);
        snprintf(keys[k++], len, "S:%04x:%04x", sub & 0xffff, sub >> 16);
        snprintf(keys[k++], len, "C:%02x", cls >> 24);
        snprintf(keys[k++], len, "C:%04x", cls >> 16);
    }
    if (n->is_usb_device || n->is_usb_interface) {
        int cls = n->is_usb_device ? KX_USB_DEVICE_CLASS : KX_USB_INTERFACE_CLASS;
        unsigned long long v = n->usb[KX_USB_VENDOR], pr = n->usb[KX_USB_PRODUCT];
        if (n->usb_has[KX_USB_VENDOR]) {
            snprintf(keys[k++], len, "V:%llu", v);
            if (n->usb_has[KX_USB_PRODUCT])
                snprintf(keys[k++], len, "V:%llu:%llu", v, pr);
        }
        if (n->usb_has[cls])
            snprintf(keys[k++], len, "%s:%llu", n->is_usb_device ? "DC" : "IC",
                     (unsigned long long)n->usb[cls]);
    }
    return k;
}

static int by_pointer(const void *a, const void *b)
{
    const struct gathered *x = a, *y = b;
    return (x->p > y->p) - (x->p < y->p);
}

static int gather(const struct kx_catalog *cat, const struct kx_mnub *n, unsigned flags,
                  struct gather *g)
{
    char keys[MAX_NUB_KEYS][KX_REG_NAME_MAX + 8];
    size_t nk = (flags & KX_MATCH_EXPLAIN) ? 0 : nub_keys(n, keys);
    for (size_t c = 0; c < n->n_chain; c++) {
        const struct kx_bucket *b = kx_strmap_get(cat->buckets, n->chain[c]);
        if (!b)
            continue;
        if (flags & KX_MATCH_EXPLAIN) {
            if (gather_vec(g, &b->all, (unsigned)c) != 0)
                return -1;
            continue;
        }
        if (gather_vec(g, &b->scan, (unsigned)c) != 0)
            return -1;
        for (size_t k = 0; k < nk; k++)
            if (gather_vec(g, kx_strmap_get(b->keyed, keys[k]), (unsigned)c) != 0)
                return -1;
    }
    /* a personality filed under two of the nub's keys is tested once */
    if (g->n > 1)
        qsort(g->v, g->n, sizeof *g->v, by_pointer);
    size_t keep = 0;
    for (size_t i = 0; i < g->n; i++)
        if (!keep || g->v[keep - 1].p != g->v[i].p)
            g->v[keep++] = g->v[i];
    g->n = keep;
    return 0;
}

/* ---- Results ----------------------------------------------------------------------------------
 */

static int add_candidate(struct kx_match *m, struct kx_personality *p, int64_t score,
                         unsigned distance, const char *name_matched)
{
    if (m->n_cands == m->cap_cands) {
        size_t cap = m->cap_cands ? m->cap_cands * 2 : 8;
        struct kx_match_candidate *v = realloc(m->cands, cap * sizeof *v);
        if (!v)
            return -1;
        m->cands = v;
        m->cap_cands = cap;
    }
    kx_personality_retain(p);
    m->cands[m->n_cands++] = (struct kx_match_candidate){
        .personality = p,
        .score = score,
        .chain_distance = distance,
        .category = kx_personality_category(p),
        .name_matched = name_matched, /* an IONameMatch string of p's table: held with p */
        .merge = p->merge,
    };
    return 0;
}

static int add_rejection(struct kx_match *m, struct kx_personality *p, const char *key,
                         const char *why, int waiting)
{
    if (m->n_rejs == m->cap_rejs) {
        size_t cap = m->cap_rejs ? m->cap_rejs * 2 : 16;
        struct kx_match_rejection *v = realloc(m->rejs, cap * sizeof *v);
        if (!v)
            return -1;
        m->rejs = v;
        m->cap_rejs = cap;
    }
    char *w = strdup(why);
    if (!w)
        return -1;
    kx_personality_retain(p);
    struct kx_match_rejection *r = &m->rejs[m->n_rejs++];
    r->personality = p;
    r->key = key;
    r->why = w; /* freed by kx_match_free */
    r->waiting = waiting;
    return 0;
}

static int by_match_order(const void *a, const void *b)
{
    const struct kx_match_candidate *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->chain_distance != y->chain_distance)
        return x->chain_distance < y->chain_distance ? -1 : 1;
    return kx_personality_order(x->personality, y->personality);
}

static int by_catalogue_order(const void *a, const void *b)
{
    const struct kx_match_rejection *x = a, *y = b;
    return kx_personality_order(x->personality, y->personality);
}

/* 1 when an IOService-plane client of the nub already holds category. */
static int category_claimed(const struct kx_reg_entry *e, const char *category)
{
    for (size_t i = 0; i < e->children[KX_REG_SERVICE].n; i++) {
        const struct kx_reg_entry *c = e->children[KX_REG_SERVICE].v[i];
        plist_t v = plist_dict_get_item(c->props, "IOMatchCategory");
        if (!(c->state & KX_REG_TERMINATED) && plist_get_node_type(v) == PLIST_STRING &&
            strcmp(plist_get_string_ptr(v, NULL), category) == 0)
            return 1;
    }
    return 0;
}

/* The first candidate of each category not yet held is chosen. */
static void choose(struct kx_match *m, const struct kx_reg_entry *e)
{
    for (size_t i = 0; i < m->n_cands; i++) {
        struct kx_match_candidate *c = &m->cands[i];
        if (!c->category || category_claimed(e, c->category))
            continue;
        int taken = 0;
        for (size_t j = 0; j < i && !taken; j++)
            taken = m->cands[j].category && strcmp(m->cands[j].category, c->category) == 0;
        c->chosen = !taken;
    }
}

static kx_status match_one(const struct kx_catalog *cat, const struct kx_reg *reg,
                           const struct kx_reg_entry *e, unsigned flags, struct kx_match *m)
{
    struct kx_mnub n;
    struct gather g = {0};
    int explain = (flags & KX_MATCH_EXPLAIN) != 0, failed;
    kx_mnub_init(&n, reg, e);
    failed = gather(cat, &n, flags, &g);
    for (size_t i = 0; i < g.n && !failed; i++) {
        struct kx_personality *p = g.v[i].p;
        struct kx_mfail f = {explain, NULL, "", 0};
        int64_t score = p->score;
        const char *name_matched = NULL;
        if (p->withheld) {
            snprintf(f.why, sizeof f.why, "withheld in safe boot: IOKitDebug is set");
            failed = add_rejection(m, p, "IOKitDebug", f.why, 0);
        } else if (kx_match_table(&n, p->table, &score, &name_matched, &f)) {
            failed = add_candidate(m, p, score, g.v[i].distance, name_matched);
        } else if (explain || f.waiting) {
            failed = add_rejection(m, p, f.key, f.why, f.waiting);
        }
    }
    free(g.v);
    if (failed)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (m->n_cands)
        qsort(m->cands, m->n_cands, sizeof *m->cands, by_match_order);
    if (m->n_rejs)
        qsort(m->rejs, m->n_rejs, sizeof *m->rejs, by_catalogue_order);
    choose(m, e);
    return STATUS_SUCCESS;
}

kx_status kx_match_nubs(struct kx_catalog *cat, struct kx_reg *reg, const kx_reg_id *nubs, size_t n,
                        unsigned flags, struct kx_match ***out)
{
    *out = NULL;
    struct kx_match **ms = calloc(n ? n : 1, sizeof(struct kx_match *));
    if (!ms)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = STATUS_SUCCESS;
    pthread_rwlock_rdlock(&cat->lock);
    pthread_rwlock_rdlock(&reg->lock);
    for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++) {
        const struct kx_reg_entry *e = kx_reg_entry_locked(reg, nubs[i]);
        if (!e)
            st = STATUS_NO_SUCH_DEVICE;
        else if (!(ms[i] = calloc(1, sizeof *ms[i])))
            st = STATUS_INSUFFICIENT_RESOURCES;
        else {
            ms[i]->nub = nubs[i];
            st = match_one(cat, reg, e, flags, ms[i]);
        }
    }
    pthread_rwlock_unlock(&reg->lock);
    pthread_rwlock_unlock(&cat->lock);
    if (st != STATUS_SUCCESS) {
        kx_match_free_array(ms, n);
        return st;
    }
    *out = ms;
    return STATUS_SUCCESS;
}

kx_status kx_match_nub(struct kx_catalog *cat, struct kx_reg *reg, kx_reg_id nub, unsigned flags,
                       struct kx_match **out)
{
    struct kx_match **ms = NULL;
    kx_status st = kx_match_nubs(cat, reg, &nub, 1, flags, &ms);
    *out = st == STATUS_SUCCESS ? ms[0] : NULL;
    free(ms);
    return st;
}

void kx_match_free(struct kx_match *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_cands; i++)
        kx_personality_release(m->cands[i].personality);
    for (size_t i = 0; i < m->n_rejs; i++) {
        kx_personality_release(m->rejs[i].personality);
        free((char *)m->rejs[i].why);
    }
    free(m->cands);
    free(m->rejs);
    free(m);
}

void kx_match_free_array(struct kx_match **ms, size_t n)
{
    for (size_t i = 0; ms && i < n; i++)
        kx_match_free(ms[i]);
    free(ms);
}

kx_reg_id kx_match_nub_id(const struct kx_match *m)
{
    return m->nub;
}
size_t kx_match_n_candidates(const struct kx_match *m)
{
    return m->n_cands;
}
size_t kx_match_n_rejected(const struct kx_match *m)
{
    return m->n_rejs;
}

const struct kx_match_candidate *kx_match_candidate(const struct kx_match *m, size_t i)
{
    return i < m->n_cands ? &m->cands[i] : NULL;
}

const struct kx_match_rejection *kx_match_rejected(const struct kx_match *m, size_t i)
{
    return i < m->n_rejs ? &m->rejs[i] : NULL;
}

kx_status kx_match_decline(struct kx_match *m, size_t i, size_t *next)
{
    if (next)
        *next = SIZE_MAX;
    if (i >= m->n_cands || !m->cands[i].chosen)
        return STATUS_INVALID_PARAMETER;
    struct kx_match_candidate *c = &m->cands[i];
    c->chosen = 0;
    c->declined = 1;
    for (size_t j = i + 1; j < m->n_cands; j++) {
        struct kx_match_candidate *d = &m->cands[j];
        if (d->category && !d->declined && strcmp(d->category, c->category) == 0) {
            d->chosen = 1;
            if (next)
                *next = j;
            break;
        }
    }
    return STATUS_SUCCESS;
}

kx_status kx_match_apply_merges(struct kx_reg *reg, const struct kx_match *m)
{
    kx_status st = STATUS_SUCCESS;
    for (size_t i = 0; i < m->n_cands && st == STATUS_SUCCESS; i++)
        if (m->cands[i].merge)
            st = kx_reg_props_merge(reg, m->nub, m->cands[i].merge);
    return st;
}
