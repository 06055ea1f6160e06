/* registry.c — the I/O Registry: entries, their links in two planes, states and properties.
 *
 * Entries live in `slots`, indexed by id - KX_REG_ID_BASE: ids count up and are never
 * reused, so a lookup is one array access and a stale id finds NULL. Links are kept on
 * both ends (a child's parents, a parent's children) in attach order, per plane; Root is
 * in every plane, any other entry in the planes where it has a parent. Properties are one
 * libplist dictionary per entry, copied in and out so no caller holds a live node.
 *
 * Lock: `lock` (a read-write lock) guards the whole tree. Public functions take it;
 * *_locked functions expect it held. Nothing is called out while it is held except the
 * class table (a leaf lock).
 */
#include "registry_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const plane_names[KX_REG_N_PLANES] = {"IOService", "IODeviceTree"};

const char *kx_reg_plane_name(enum kx_reg_plane p)
{
    return (unsigned)p < KX_REG_N_PLANES ? plane_names[p] : "?";
}

int kx_reg_plane_from_name(const char *name, enum kx_reg_plane *out)
{
    for (unsigned p = 0; p < KX_REG_N_PLANES; p++)
        if (strcmp(name, plane_names[p]) == 0) {
            *out = (enum kx_reg_plane)p;
            return 0;
        }
    return -1;
}

/* ---- Entries -------------------------------------------------------------------------------- */

struct kx_reg_entry *kx_reg_entry_locked(const struct kx_reg *r, kx_reg_id id)
{
    if (id < KX_REG_ID_BASE || id - KX_REG_ID_BASE >= r->n_slots)
        return NULL;
    return r->slots[id - KX_REG_ID_BASE];
}

static int name_ok(const char *s, int may_be_empty)
{
    return s && (may_be_empty || *s) && strlen(s) < KX_REG_NAME_MAX;
}

void kx_reg_entry_free(struct kx_reg_entry *e)
{
    if (!e)
        return;
    for (unsigned p = 0; p < KX_REG_N_PLANES; p++) {
        free(e->parents[p].v);
        free(e->children[p].v);
    }
    plist_free(e->props);
    free(e->class_name);
    free(e->name);
    free(e->location);
    free(e);
}

/* A new unlinked entry in the next slot, or in id's (KX_REG_ID_NONE: the next), which must
 * be past every slot given so far; takes props (NULL: an empty dictionary). */
static kx_status entry_new(struct kx_reg *r, kx_reg_id id, const char *class_name, const char *name,
                           const char *location, plist_t props, struct kx_reg_entry **out)
{
    if (!location)
        location = "";
    if (!name_ok(class_name, 0) || !name_ok(name, 0) || !name_ok(location, 1)) {
        plist_free(props);
        return STATUS_OBJECT_NAME_INVALID;
    }
    if (props && plist_get_node_type(props) != PLIST_DICT) {
        plist_free(props);
        return STATUS_INVALID_PARAMETER;
    }
    /* The slots skipped stay NULL: ids that are gone, as a terminated entry's are. */
    size_t slot = id == KX_REG_ID_NONE ? r->n_slots : (size_t)(id - KX_REG_ID_BASE);
    if (id != KX_REG_ID_NONE &&
        (id < KX_REG_ID_BASE || slot < r->n_slots || slot > SIZE_MAX / 16)) {
        plist_free(props);
        return STATUS_OBJECT_NAME_COLLISION;
    }
    struct kx_reg_entry *e = calloc(1, sizeof *e);
    if (!e || (!props && !(props = plist_new_dict()))) {
        free(e);
        plist_free(props);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    e->props = props;
    if (!(e->class_name = strdup(class_name)) || !(e->name = strdup(name)) ||
        !(e->location = strdup(location)))
        goto fail;
    if (slot >= r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        while (cap <= slot)
            cap *= 2;
        struct kx_reg_entry **v = realloc(r->slots, cap * sizeof(struct kx_reg_entry *));
        if (!v)
            goto fail;
        r->slots = v;
        r->cap = cap;
    }
    while (r->n_slots < slot)
        r->slots[r->n_slots++] = NULL;
    e->id = KX_REG_ID_BASE + slot;
    r->slots[r->n_slots++] = e;
    *out = e;
    return STATUS_SUCCESS;
fail:
    kx_reg_entry_free(e);
    return STATUS_INSUFFICIENT_RESOURCES;
}

/* ---- Links ---------------------------------------------------------------------------------- */

static kx_status links_push(struct kx_reg_links *l, struct kx_reg_entry *e)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        struct kx_reg_entry **v = realloc(l->v, cap * sizeof(struct kx_reg_entry *));
        if (!v)
            return STATUS_INSUFFICIENT_RESOURCES;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = e;
    return STATUS_SUCCESS;
}

static int links_remove(struct kx_reg_links *l, const struct kx_reg_entry *e)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == e) {
            memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(struct kx_reg_entry *));
            l->n--;
            return 1;
        }
    return 0;
}

static int links_has(const struct kx_reg_links *l, const struct kx_reg_entry *e)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == e)
            return 1;
    return 0;
}

/* 1 when a is e or one of e's ancestors in plane. Attach refuses cycles, so this ends. */
static int is_ancestor(const struct kx_reg_entry *a, const struct kx_reg_entry *e,
                       enum kx_reg_plane plane)
{
    if (a == e)
        return 1;
    for (size_t i = 0; i < e->parents[plane].n; i++)
        if (is_ancestor(a, e->parents[plane].v[i], plane))
            return 1;
    return 0;
}

static kx_status link_entries(struct kx_reg_entry *child, struct kx_reg_entry *parent,
                              enum kx_reg_plane plane)
{
    if ((unsigned)plane >= KX_REG_N_PLANES)
        return STATUS_INVALID_PARAMETER;
    if (links_has(&child->parents[plane], parent))
        return STATUS_SUCCESS;
    if (is_ancestor(child, parent, plane))
        return STATUS_INVALID_PARAMETER;
    if (links_push(&parent->children[plane], child) != STATUS_SUCCESS)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (links_push(&child->parents[plane], parent) != STATUS_SUCCESS) {
        parent->children[plane].n--;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    return STATUS_SUCCESS;
}

void kx_reg_unlink_locked(struct kx_reg_entry *child, struct kx_reg_entry *parent,
                          enum kx_reg_plane plane)
{
    links_remove(&child->parents[plane], parent);
    links_remove(&parent->children[plane], child);
}

/* ---- The registry --------------------------------------------------------------------------- */

static kx_status add_fixed(struct kx_reg *r, struct kx_reg_entry *parent, unsigned planes,
                           const char *class_name, const char *name, kx_reg_id *id)
{
    struct kx_reg_entry *e = NULL;
    kx_status st = entry_new(r, KX_REG_ID_NONE, class_name, name, NULL, NULL, &e);
    for (unsigned p = 0; st == STATUS_SUCCESS && parent && p < KX_REG_N_PLANES; p++)
        if (planes & KX_REG_PLANE_BIT(p))
            st = link_entries(e, parent, (enum kx_reg_plane)p);
    if (st == STATUS_SUCCESS) {
        e->state = parent ? KX_REG_REGISTERED : 0;
        *id = e->id;
    }
    return st;
}

kx_status kx_reg_new(struct kx_classes *classes, struct kx_reg **out)
{
    *out = NULL;
    struct kx_reg *r = calloc(1, sizeof *r);
    if (!r)
        return STATUS_INSUFFICIENT_RESOURCES;
    r->classes = classes;
    pthread_rwlock_init(&r->lock, NULL);
    /* The platform expert device hangs under Root in both planes; IOResources is a
     * service, not hardware: IOService plane only, as on macOS. */
    kx_status st = add_fixed(r, NULL, 0, "IORegistryEntry", "Root", &r->root);
    if (st == STATUS_SUCCESS)
        st = add_fixed(r, kx_reg_entry_locked(r, r->root), KX_REG_ALL_PLANES,
                       "IOPlatformExpertDevice", "kx", &r->platform);
    if (st == STATUS_SUCCESS)
        st = add_fixed(r, kx_reg_entry_locked(r, r->platform), KX_REG_PLANE_BIT(KX_REG_SERVICE),
                       "IOResources", "IOResources", &r->resources);
    if (st == STATUS_SUCCESS)
        st = kx_reg_resource_publish(r, "IOKit", NULL); /* IOKit's first resource */
    if (st != STATUS_SUCCESS) {
        kx_reg_free(r);
        return st;
    }
    *out = r;
    return STATUS_SUCCESS;
}

void kx_reg_free(struct kx_reg *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_slots; i++)
        kx_reg_entry_free(r->slots[i]);
    free(r->slots);
    free(r->watch_class);
    pthread_rwlock_destroy(&r->lock);
    free(r);
}

struct kx_classes *kx_reg_classes(struct kx_reg *r)
{
    return r->classes;
}
kx_reg_id kx_reg_root(const struct kx_reg *r)
{
    return r->root;
}
kx_reg_id kx_reg_platform(const struct kx_reg *r)
{
    return r->platform;
}
kx_reg_id kx_reg_resources(const struct kx_reg *r)
{
    return r->resources;
}

static kx_status publish(struct kx_reg *r, kx_reg_id id, kx_reg_id parent, unsigned planes,
                         const char *class_name, const char *name, const char *location,
                         plist_t props, kx_reg_id *out)
{
    if (!(planes & KX_REG_ALL_PLANES)) {
        plist_free(props);
        return STATUS_INVALID_PARAMETER;
    }
    pthread_rwlock_wrlock(&r->lock);
    struct kx_reg_entry *p = kx_reg_entry_locked(r, parent), *e = NULL;
    kx_status st = STATUS_SUCCESS;
    if (!p || (p->state & KX_REG_TERMINATED)) {
        plist_free(props);
        st = p ? STATUS_DEVICE_REMOVED : STATUS_NO_SUCH_DEVICE;
    } else {
        st = entry_new(r, id, class_name, name, location, props, &e);
    }
    for (unsigned pl = 0; st == STATUS_SUCCESS && pl < KX_REG_N_PLANES; pl++)
        if (planes & KX_REG_PLANE_BIT(pl))
            st = link_entries(e, p, (enum kx_reg_plane)pl);
    char source[KX_REG_NAME_MAX];
    int watched = 0;
    if (st == STATUS_SUCCESS) {
        e->state = KX_REG_REGISTERED;
        if (out)
            *out = e->id;
        watched = kx_reg_watched_locked(r, e, source, sizeof source);
        id = e->id;
    } else if (e) {
        /* the newest slot: unlink and give it up (its id stays unused, never reused) */
        for (unsigned pl = 0; pl < KX_REG_N_PLANES; pl++)
            kx_reg_unlink_locked(e, p, (enum kx_reg_plane)pl);
        r->slots[e->id - KX_REG_ID_BASE] = NULL;
        kx_reg_entry_free(e);
    }
    pthread_rwlock_unlock(&r->lock);
    if (watched) /* after the lock: the watcher may read the registry */
        r->watch_fn(r->watch_ctx, 1, id, source);
    return st;
}

kx_status kx_reg_publish(struct kx_reg *r, kx_reg_id parent, unsigned planes,
                         const char *class_name, const char *name, const char *location,
                         plist_t props, kx_reg_id *out)
{
    return publish(r, KX_REG_ID_NONE, parent, planes, class_name, name, location, props, out);
}

kx_status kx_reg_publish_as(struct kx_reg *r, kx_reg_id id, kx_reg_id parent, unsigned planes,
                            const char *class_name, const char *name, const char *location,
                            plist_t props)
{
    if (id == KX_REG_ID_NONE) {
        plist_free(props);
        return STATUS_INVALID_PARAMETER;
    }
    return publish(r, id, parent, planes, class_name, name, location, props, NULL);
}

/* Finds a live entry for a write; *st says why not. */
static struct kx_reg_entry *writable(struct kx_reg *r, kx_reg_id id, kx_status *st)
{
    struct kx_reg_entry *e = kx_reg_entry_locked(r, id);
    *st = !e                               ? STATUS_NO_SUCH_DEVICE
          : (e->state & KX_REG_TERMINATED) ? STATUS_DEVICE_REMOVED
                                           : STATUS_SUCCESS;
    return *st == STATUS_SUCCESS ? e : NULL;
}

kx_status kx_reg_attach(struct kx_reg *r, kx_reg_id child, kx_reg_id parent,
                        enum kx_reg_plane plane)
{
    kx_status st;
    pthread_rwlock_wrlock(&r->lock);
    struct kx_reg_entry *c = writable(r, child, &st), *p = c ? writable(r, parent, &st) : NULL;
    if (c && p)
        st = link_entries(c, p, plane);
    pthread_rwlock_unlock(&r->lock);
    return st;
}

kx_status kx_reg_detach(struct kx_reg *r, kx_reg_id child, kx_reg_id parent,
                        enum kx_reg_plane plane)
{
    kx_status st = STATUS_NO_SUCH_DEVICE;
    pthread_rwlock_wrlock(&r->lock);
    struct kx_reg_entry *c = kx_reg_entry_locked(r, child), *p = kx_reg_entry_locked(r, parent);
    if (c && p && (unsigned)plane < KX_REG_N_PLANES && links_has(&c->parents[plane], p)) {
        kx_reg_unlink_locked(c, p, plane);
        st = STATUS_SUCCESS;
    }
    pthread_rwlock_unlock(&r->lock);
    return st;
}

static kx_status replace_string(char **dst, const char *src)
{
    char *s = strdup(src);
    if (!s)
        return STATUS_INSUFFICIENT_RESOURCES;
    free(*dst);
    *dst = s;
    return STATUS_SUCCESS;
}

kx_status kx_reg_set_name(struct kx_reg *r, kx_reg_id id, const char *name, const char *location)
{
    if (!location)
        location = "";
    if (!name_ok(name, 0) || !name_ok(location, 1))
        return STATUS_OBJECT_NAME_INVALID;
    kx_status st;
    pthread_rwlock_wrlock(&r->lock);
    struct kx_reg_entry *e = writable(r, id, &st);
    if (e && (st = replace_string(&e->name, name)) == STATUS_SUCCESS)
        st = replace_string(&e->location, location);
    pthread_rwlock_unlock(&r->lock);
    return st;
}

kx_status kx_reg_set_class(struct kx_reg *r, kx_reg_id id, const char *class_name)
{
    if (!name_ok(class_name, 0))
        return STATUS_OBJECT_NAME_INVALID;
    kx_status st;
    pthread_rwlock_wrlock(&r->lock);
    struct kx_reg_entry *e = writable(r, id, &st);
    if (e)
        st = replace_string(&e->class_name, class_name);
    pthread_rwlock_unlock(&r->lock);
    return st;
}

kx_status kx_reg_set_matched(struct kx_reg *r, kx_reg_id id, int matched)
{
    kx_status st;
    pthread_rwlock_wrlock(&r->lock);
    struct kx_reg_entry *e = writable(r, id, &st);
    if (e)
        e->state = matched ? e->state | KX_REG_MATCHED : e->state & ~KX_REG_MATCHED;
    pthread_rwlock_unlock(&r->lock);
    return st;
}

kx_status kx_reg_busy_adjust(struct kx_reg *r, kx_reg_id id, int delta)
{
    kx_status st;
    pthread_rwlock_wrlock(&r->lock);
    struct kx_reg_entry *e = writable(r, id, &st);
    if (e && delta < 0 && e->busy < (uint32_t) - (int64_t)delta)
        st = STATUS_INVALID_PARAMETER;
    else if (e)
        e->busy = (uint32_t)((int64_t)e->busy + delta);
    pthread_rwlock_unlock(&r->lock);
    return st;
}

kx_status kx_reg_info(struct kx_reg *r, kx_reg_id id, struct kx_reg_info *out)
{
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&r->lock);
    const struct kx_reg_entry *e = kx_reg_entry_locked(r, id);
    if (e) {
        const char *chain[KX_CHAIN_MAX];
        size_t n = kx_classes_entry_chain(r->classes, e->class_name, chain, KX_CHAIN_MAX);
        out->id = e->id;
        snprintf(out->class_name, sizeof out->class_name, "%s", e->class_name);
        snprintf(out->name, sizeof out->name, "%s", e->name);
        snprintf(out->location, sizeof out->location, "%s", e->location);
        out->state = e->state;
        out->busy = e->busy;
        out->retain = 1;
        for (unsigned p = 0; p < KX_REG_N_PLANES; p++)
            out->retain += (uint32_t)(e->parents[p].n + e->children[p].n);
        for (size_t i = 0; i < n; i++)
            if (strcmp(chain[i], "IOService") == 0)
                out->is_service = 1;
    }
    pthread_rwlock_unlock(&r->lock);
    return e ? STATUS_SUCCESS : STATUS_NO_SUCH_DEVICE;
}

/* ---- Properties ----------------------------------------------------------------------------- */

kx_status kx_reg_prop_copy(struct kx_reg *r, kx_reg_id id, const char *key, plist_t *out)
{
    *out = NULL;
    kx_status st = STATUS_SUCCESS;
    pthread_rwlock_rdlock(&r->lock);
    const struct kx_reg_entry *e = kx_reg_entry_locked(r, id);
    plist_t v = e ? plist_dict_get_item(e->props, key) : NULL;
    if (!e)
        st = STATUS_NO_SUCH_DEVICE;
    else if (v && !(*out = plist_copy(v)))
        st = STATUS_INSUFFICIENT_RESOURCES;
    pthread_rwlock_unlock(&r->lock);
    return st;
}

kx_status kx_reg_props_copy(struct kx_reg *r, kx_reg_id id, plist_t *out)
{
    *out = NULL;
    kx_status st = STATUS_NO_SUCH_DEVICE;
    pthread_rwlock_rdlock(&r->lock);
    const struct kx_reg_entry *e = kx_reg_entry_locked(r, id);
    if (e)
        st = (*out = plist_copy(e->props)) ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
    pthread_rwlock_unlock(&r->lock);
    return st;
}

kx_status kx_reg_prop_set(struct kx_reg *r, kx_reg_id id, const char *key, plist_t value)
{
    if (!key || !value) {
        plist_free(value);
        return STATUS_INVALID_PARAMETER;
    }
    kx_status st;
    pthread_rwlock_wrlock(&r->lock);
    struct kx_reg_entry *e = writable(r, id, &st);
    if (e)
        plist_dict_set_item(e->props, key, value);
    else
        plist_free(value);
    pthread_rwlock_unlock(&r->lock);
    return st;
}

kx_status kx_reg_prop_remove(struct kx_reg *r, kx_reg_id id, const char *key)
{
    kx_status st;
    pthread_rwlock_wrlock(&r->lock);
    struct kx_reg_entry *e = writable(r, id, &st);
    if (e && plist_dict_get_item(e->props, key))
        plist_dict_remove_item(e->props, key);
    pthread_rwlock_unlock(&r->lock);
    return st;
}

void kx_reg_merge_dict(plist_t dst, plist_t src)
{
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t val = NULL;
    plist_dict_new_iter(src, &it);
    for (plist_dict_next_item(src, it, &key, &val); key;
         plist_dict_next_item(src, it, &key, &val)) {
        plist_t old = plist_dict_get_item(dst, key);
        if (plist_get_node_type(val) == PLIST_DICT && plist_get_node_type(old) == PLIST_DICT)
            kx_reg_merge_dict(old, val);
        else
            plist_dict_set_item(dst, key, plist_copy(val));
        free(key);
        key = NULL;
    }
    free(it);
}

kx_status kx_reg_props_merge(struct kx_reg *r, kx_reg_id id, plist_t dict)
{
    if (plist_get_node_type(dict) != PLIST_DICT)
        return STATUS_INVALID_PARAMETER;
    kx_status st;
    pthread_rwlock_wrlock(&r->lock);
    struct kx_reg_entry *e = writable(r, id, &st);
    if (e)
        kx_reg_merge_dict(e->props, dict);
    pthread_rwlock_unlock(&r->lock);
    return st;
}

kx_status kx_reg_resource_publish(struct kx_reg *r, const char *name, plist_t value)
{
    if (!value && !(value = plist_new_string("IOService")))
        return STATUS_INSUFFICIENT_RESOURCES;
    return kx_reg_prop_set(r, r->resources, name, value);
}

int kx_reg_resource_published(struct kx_reg *r, const char *name)
{
    pthread_rwlock_rdlock(&r->lock);
    const struct kx_reg_entry *e = kx_reg_entry_locked(r, r->resources);
    int yes = e && plist_dict_get_item(e->props, name) != NULL;
    pthread_rwlock_unlock(&r->lock);
    return yes;
}
