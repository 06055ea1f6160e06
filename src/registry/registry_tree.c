/* registry_tree.c — walking the registry: paths, lookups by class, listings, termination.
 *
 * Paths use Apple's syntax ("IOService:/AppleACPIPlatformExpert/PCI0@0"): the plane,
 * then one component per level below Root, each a name with an optional "@location".
 *
 * Termination follows IOService::terminate: the entry becomes inactive first, then each
 * IOService-plane client whose every provider is now inactive, depth first; the entries
 * are reported clients first (the order their drivers stop in), after the lock is
 * released, and removed from every plane. A client with another active provider only
 * loses its link. IODeviceTree children of a removed entry stay, detached.
 */
#include "registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Paths ---------------------------------------------------------------------------------- */

static struct kx_reg_entry *child_named(const struct kx_reg_entry *e, enum kx_reg_plane plane,
                                        const char *name, size_t name_len, const char *loc,
                                        size_t loc_len)
{
    for (size_t i = 0; i < e->children[plane].n; i++) {
        struct kx_reg_entry *c = e->children[plane].v[i];
        if (strlen(c->name) != name_len || memcmp(c->name, name, name_len) != 0)
            continue;
        if (loc && (strlen(c->location) != loc_len || memcmp(c->location, loc, loc_len) != 0))
            continue;
        return c;
    }
    return NULL;
}

kx_status kx_reg_lookup_path_locked(const struct kx_reg *r, const char *path,
                                    struct kx_reg_entry **out)
{
    enum kx_reg_plane plane = KX_REG_SERVICE;
    const char *colon = strchr(path, ':'), *s = path;
    *out = NULL;
    if (*path != '/') {
        char name[32];
        if (!colon || colon[1] != '/' || (size_t)(colon - path) >= sizeof name)
            return STATUS_OBJECT_NAME_INVALID;
        memcpy(name, path, (size_t)(colon - path));
        name[colon - path] = '\0';
        if (kx_reg_plane_from_name(name, &plane) != 0)
            return STATUS_OBJECT_NAME_INVALID;
        s = colon + 1;
    }
    struct kx_reg_entry *e = kx_reg_entry_locked(r, r->root);
    int first = 1;
    while (e && *s) {
        while (*s == '/')
            s++;
        size_t len = strcspn(s, "/");
        if (!len)
            break;
        const char *at = memchr(s, '@', len);
        size_t name_len = at ? (size_t)(at - s) : len;
        const char *loc = at ? at + 1 : NULL;
        size_t loc_len = at ? len - name_len - 1 : 0;
        struct kx_reg_entry *c = child_named(e, plane, s, name_len, loc, loc_len);
        /* "IOService:/Root/..." names Root itself unless Root has a child called Root */
        if (!c && first && !loc && name_len == 4 && memcmp(s, "Root", 4) == 0)
            c = e;
        first = 0;
        e = c;
        s += len;
    }
    if (!e)
        return STATUS_NO_SUCH_DEVICE;
    *out = e;
    return STATUS_SUCCESS;
}

kx_status kx_reg_lookup_path(struct kx_reg *r, const char *path, kx_reg_id *out)
{
    struct kx_reg_entry *e = NULL;
    pthread_rwlock_rdlock(&r->lock);
    kx_status st = kx_reg_lookup_path_locked(r, path, &e);
    *out = e ? e->id : KX_REG_ID_NONE;
    pthread_rwlock_unlock(&r->lock);
    return st;
}

kx_status kx_reg_path(struct kx_reg *r, kx_reg_id id, enum kx_reg_plane plane, char *buf,
                      size_t len)
{
    if ((unsigned)plane >= KX_REG_N_PLANES || !len)
        return STATUS_INVALID_PARAMETER;
    pthread_rwlock_rdlock(&r->lock);
    const struct kx_reg_entry *e = kx_reg_entry_locked(r, id);
    const struct kx_reg_entry *up[256];
    size_t depth = 0;
    kx_status st = e ? STATUS_SUCCESS : STATUS_NO_SUCH_DEVICE;
    while (st == STATUS_SUCCESS && e->id != r->root) {
        if (!e->parents[plane].n)
            st = STATUS_NO_SUCH_DEVICE;
        else if (depth == sizeof up / sizeof up[0])
            st = STATUS_BUFFER_TOO_SMALL;
        else {
            up[depth++] = e;
            e = e->parents[plane].v[0];
        }
    }
    if (st == STATUS_SUCCESS) {
        size_t pos = (size_t)snprintf(buf, len, "%s:", kx_reg_plane_name(plane));
        if (!depth && pos < len)
            pos += (size_t)snprintf(buf + pos, len - pos, "/");
        while (depth && pos < len) {
            const struct kx_reg_entry *c = up[--depth];
            pos += (size_t)snprintf(buf + pos, len - pos, "/%s%s%s", c->name,
                                    *c->location ? "@" : "", c->location);
        }
        if (pos >= len)
            st = STATUS_BUFFER_TOO_SMALL;
    }
    pthread_rwlock_unlock(&r->lock);
    return st;
}

/* ---- Listings ------------------------------------------------------------------------------- */

struct idvec {
    kx_reg_id *v;
    size_t n, cap;
};

static int idvec_push(struct idvec *v, kx_reg_id id)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        kx_reg_id *nv = realloc(v->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = id;
    return 0;
}

static kx_status idvec_done(struct idvec *v, int failed, kx_reg_id **out, size_t *n)
{
    if (failed) {
        free(v->v);
        *out = NULL;
        *n = 0;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (!v->n) {
        free(v->v);
        v->v = NULL;
    }
    *out = v->v;
    *n = v->n;
    return STATUS_SUCCESS;
}

kx_status kx_reg_find_class(struct kx_reg *r, const char *class_name, kx_reg_id **out, size_t *n)
{
    struct idvec v = {0};
    int failed = 0;
    pthread_rwlock_rdlock(&r->lock);
    for (size_t i = 0; i < r->n_slots && !failed; i++) {
        const struct kx_reg_entry *e = r->slots[i];
        if (!e)
            continue;
        const char *chain[KX_CHAIN_MAX];
        size_t k = kx_classes_entry_chain(r->classes, e->class_name, chain, KX_CHAIN_MAX);
        for (size_t j = 0; j < k; j++)
            if (strcmp(chain[j], class_name) == 0) {
                failed = idvec_push(&v, e->id);
                break;
            }
    }
    pthread_rwlock_unlock(&r->lock);
    return idvec_done(&v, failed, out, n);
}

static kx_status links_of(struct kx_reg *r, kx_reg_id id, enum kx_reg_plane plane, int parents,
                          kx_reg_id **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if ((unsigned)plane >= KX_REG_N_PLANES)
        return STATUS_INVALID_PARAMETER;
    struct idvec v = {0};
    int failed = 0;
    pthread_rwlock_rdlock(&r->lock);
    const struct kx_reg_entry *e = kx_reg_entry_locked(r, id);
    if (e) {
        const struct kx_reg_links *l = parents ? &e->parents[plane] : &e->children[plane];
        for (size_t i = 0; i < l->n && !failed; i++)
            failed = idvec_push(&v, l->v[i]->id);
    }
    pthread_rwlock_unlock(&r->lock);
    if (!e)
        return STATUS_NO_SUCH_DEVICE;
    return idvec_done(&v, failed, out, n);
}

kx_status kx_reg_children(struct kx_reg *r, kx_reg_id id, enum kx_reg_plane plane, kx_reg_id **out,
                          size_t *n)
{
    return links_of(r, id, plane, 0, out, n);
}

kx_status kx_reg_parents(struct kx_reg *r, kx_reg_id id, enum kx_reg_plane plane, kx_reg_id **out,
                         size_t *n)
{
    return links_of(r, id, plane, 1, out, n);
}

/* Depth first from e; seen[] has a byte per slot (a read lock allows no marks on entries). */
static int list_walk(const struct kx_reg *r, const struct kx_reg_entry *e, enum kx_reg_plane plane,
                     unsigned char *seen, struct idvec *v)
{
    if (seen[e->id - KX_REG_ID_BASE])
        return 0;
    seen[e->id - KX_REG_ID_BASE] = 1;
    if (idvec_push(v, e->id) != 0)
        return -1;
    for (size_t i = 0; i < e->children[plane].n; i++)
        if (list_walk(r, e->children[plane].v[i], plane, seen, v) != 0)
            return -1;
    return 0;
}

kx_status kx_reg_list(struct kx_reg *r, enum kx_reg_plane plane, kx_reg_id **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if ((unsigned)plane >= KX_REG_N_PLANES)
        return STATUS_INVALID_PARAMETER;
    struct idvec v = {0};
    pthread_rwlock_rdlock(&r->lock);
    unsigned char *seen = calloc(r->n_slots ? r->n_slots : 1, 1);
    int failed = !seen || list_walk(r, kx_reg_entry_locked(r, r->root), plane, seen, &v) != 0;
    pthread_rwlock_unlock(&r->lock);
    free(seen);
    return idvec_done(&v, failed, out, n);
}

/* ---- Termination ---------------------------------------------------------------------------- */

static int all_providers_inactive(const struct kx_reg_entry *e)
{
    for (size_t i = 0; i < e->parents[KX_REG_SERVICE].n; i++)
        if (!(e->parents[KX_REG_SERVICE].v[i]->state & KX_REG_TERMINATED))
            return 0;
    return 1;
}

/* Marks e inactive, then its orphaned clients, and appends them to v clients first; v has
 * room for every entry. */
static void terminate_walk(struct kx_reg_entry *e, struct idvec *v)
{
    e->state |= KX_REG_TERMINATED;
    for (size_t i = 0; i < e->children[KX_REG_SERVICE].n; i++) {
        struct kx_reg_entry *c = e->children[KX_REG_SERVICE].v[i];
        if (!(c->state & KX_REG_TERMINATED) && all_providers_inactive(c))
            terminate_walk(c, v);
    }
    v->v[v->n++] = e->id;
}

static void remove_entry(struct kx_reg *r, struct kx_reg_entry *e)
{
    for (unsigned p = 0; p < KX_REG_N_PLANES; p++) {
        while (e->parents[p].n)
            kx_reg_unlink_locked(e, e->parents[p].v[0], (enum kx_reg_plane)p);
        while (e->children[p].n)
            kx_reg_unlink_locked(e->children[p].v[0], e, (enum kx_reg_plane)p);
    }
    r->slots[e->id - KX_REG_ID_BASE] = NULL;
    kx_reg_entry_free(e);
}

kx_status kx_reg_terminate(struct kx_reg *r, kx_reg_id id, kx_reg_terminate_fn fn, void *ctx)
{
    struct idvec v = {0};
    kx_status st = STATUS_SUCCESS;
    pthread_rwlock_wrlock(&r->lock);
    struct kx_reg_entry *e = kx_reg_entry_locked(r, id);
    /* room for every entry up front, so the walk can't fail half way */
    v.cap = r->n_slots;
    if (!e)
        st = STATUS_NO_SUCH_DEVICE;
    else if (id == r->root || id == r->platform || id == r->resources)
        st = STATUS_ACCESS_DENIED;
    else if (!(v.v = malloc(v.cap * sizeof *v.v)))
        st = STATUS_INSUFFICIENT_RESOURCES;
    else
        terminate_walk(e, &v);
    /* The watched entries' sources, taken before the entries go. */
    char (*sources)[KX_REG_NAME_MAX] = r->watch_fn && v.n ? calloc(v.n, sizeof *sources) : NULL;
    for (size_t i = 0; i < v.n; i++) {
        struct kx_reg_entry *t = kx_reg_entry_locked(r, v.v[i]);
        if (sources && !kx_reg_watched_locked(r, t, sources[i], sizeof sources[i]))
            sources[i][0] = '\0';
        remove_entry(r, t);
    }
    pthread_rwlock_unlock(&r->lock);
    for (size_t i = 0; fn && i < v.n; i++)
        fn(ctx, v.v[i]);
    for (size_t i = 0; sources && i < v.n; i++)
        if (sources[i][0])
            r->watch_fn(r->watch_ctx, 0, v.v[i], sources[i]);
    free(sources);
    free(v.v);
    return st;
}
