/* platform_file.c — described platforms: registry trees in `ioreg -a`'s XML form, read into a
 * registry and written back out.
 *
 * Reading is two passes over the parsed tree: the first checks every entry (a dictionary
 * with a string IOObjectClass, string name and location, an array of dictionaries as
 * children) and stops at the first problem with the entry's path in the file; only a tree
 * that passes is published, so a bad file leaves the registry as it was. Writing walks one
 * plane from an entry and emits the same keys ioreg does, properties included, so what
 * kx writes kx reads back into an equal tree.
 */
#include "registry/registry_int.h"

#include "core/plat.h"
#include "core/plist.h"
#include "core/why.h"

#include <kx/platform.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K_CLASS     "IOObjectClass"
#define K_NAME      "IORegistryEntryName"
#define K_LOCATION  "IORegistryEntryLocation"
#define K_CHILDREN  "IORegistryEntryChildren"
#define K_ID        "IORegistryEntryID"
#define K_RETAIN    "IOObjectRetainCount"
#define K_BUSY      "IOServiceBusyState"
#define K_BUSY_TIME "IOServiceBusyTime"
#define K_STATE     "IOServiceState"

/* The keys that describe the entry rather than being its properties. */
static int is_structure_key(const char *key)
{
    static const char *const keys[] = {K_CLASS,  K_NAME, K_LOCATION,  K_CHILDREN, K_ID,
                                       K_RETAIN, K_BUSY, K_BUSY_TIME, K_STATE};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i]) == 0)
            return 1;
    return 0;
}

static const char *string_of(plist_t dict, const char *key)
{
    plist_t v = plist_dict_get_item(dict, key);
    return plist_get_node_type(v) == PLIST_STRING ? plist_get_string_ptr(v, NULL) : NULL;
}

/* ---- Checking -----------------------------------------------------------------------------------
 */

/* Ids of what a load published, for kx_platform_tree_load_under's caller. */
struct idvec {
    kx_reg_id *v;
    size_t n, cap;
};

struct load {
    struct kx_reg *reg;
    const char *file;
    char *why;
    size_t why_len;
    unsigned planes;   /* where entries hang: every plane, or the parent's */
    struct idvec *ids; /* NULL: not collected */
};

static kx_status idvec_push(struct idvec *v, kx_reg_id id)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        kx_reg_id *nv = realloc(v->v, cap * sizeof *nv);
        if (!nv)
            return STATUS_INSUFFICIENT_RESOURCES;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = id;
    return STATUS_SUCCESS;
}

/* "parent/name@location" for messages (path is the parent's, may be ""). */
static void entry_path(char *out, size_t len, const char *path, plist_t node)
{
    const char *name = string_of(node, K_NAME), *loc = string_of(node, K_LOCATION);
    if (!name)
        name = string_of(node, K_CLASS);
    snprintf(out, len, "%s%s%s%s%s", path, *path ? "/" : "", name ? name : "(unnamed)",
             loc && *loc ? "@" : "", loc && *loc ? loc : "");
}

static kx_status check_string(const struct load *l, plist_t node, const char *path, const char *key,
                              int required)
{
    plist_t v = plist_dict_get_item(node, key);
    if (!v)
        return required ? kx_why(l->why, l->why_len, STATUS_DATA_ERROR, "%s: %s: %s: missing",
                                 l->file, path, key)
                        : STATUS_SUCCESS;
    if (plist_get_node_type(v) != PLIST_STRING)
        return kx_why(l->why, l->why_len, STATUS_DATA_ERROR, "%s: %s: %s: must be a string, not %s",
                      l->file, path, key, kx_plist_type_name(v));
    uint64_t n = 0;
    const char *s = plist_get_string_ptr(v, &n);
    if (n >= KX_REG_NAME_MAX || (required && !n) || strlen(s) != n)
        return kx_why(l->why, l->why_len, STATUS_DATA_ERROR,
                      "%s: %s: %s: must be 1 to %d characters without NUL", l->file, path, key,
                      KX_REG_NAME_MAX - 1);
    return STATUS_SUCCESS;
}

static kx_status check_entry(const struct load *l, plist_t node, const char *parent_path)
{
    char path[512];
    if (plist_get_node_type(node) != PLIST_DICT)
        return kx_why(l->why, l->why_len, STATUS_DATA_ERROR,
                      "%s: %s%s: an entry must be a dictionary, not %s", l->file, parent_path,
                      *parent_path ? "/" K_CHILDREN : "the top level", kx_plist_type_name(node));
    entry_path(path, sizeof path, parent_path, node);
    kx_status st = check_string(l, node, path, K_CLASS, 1);
    if (st == STATUS_SUCCESS)
        st = check_string(l, node, path, K_NAME, 0);
    if (st == STATUS_SUCCESS)
        st = check_string(l, node, path, K_LOCATION, 0);
    if (st == STATUS_SUCCESS && strcmp(string_of(node, K_CLASS), KX_COMPONENT_CLASS) == 0)
        st = kx_platform_component_check(node, l->file, path, l->why, l->why_len);
    if (st == STATUS_SUCCESS && strcmp(string_of(node, K_CLASS), KX_KEYBOARD_CLASS) == 0)
        st = kx_platform_keyboard_check(node, l->file, path, l->why, l->why_len);
    if (st != STATUS_SUCCESS)
        return st;
    plist_t kids = plist_dict_get_item(node, K_CHILDREN);
    if (kids && plist_get_node_type(kids) != PLIST_ARRAY)
        return kx_why(l->why, l->why_len, STATUS_DATA_ERROR,
                      "%s: %s: %s: must be an array of entries, not %s", l->file, path, K_CHILDREN,
                      kx_plist_type_name(kids));
    for (uint32_t i = 0; kids && i < plist_array_get_size(kids) && st == STATUS_SUCCESS; i++)
        st = check_entry(l, plist_array_get_item(kids, i), path);
    return st;
}

/* ---- Publishing ---------------------------------------------------------------------------------
 */

/* A copy of node's properties: every key but the structural ones. */
static plist_t properties_of(plist_t node)
{
    plist_t props = plist_new_dict();
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t val = NULL;
    plist_dict_new_iter(node, &it);
    for (plist_dict_next_item(node, it, &key, &val); key;
         plist_dict_next_item(node, it, &key, &val)) {
        if (!is_structure_key(key))
            plist_dict_set_item(props, key, plist_copy(val));
        free(key);
        key = NULL;
    }
    free(it);
    return props;
}

static kx_status set_properties(struct kx_reg *r, kx_reg_id id, plist_t node)
{
    plist_t props = properties_of(node);
    kx_status st = kx_reg_props_merge(r, id, props);
    plist_free(props);
    return st;
}

static kx_status publish_children(const struct load *l, plist_t node, kx_reg_id parent);

static kx_status publish(const struct load *l, plist_t node, kx_reg_id parent)
{
    const char *name = string_of(node, K_NAME);
    kx_reg_id id = KX_REG_ID_NONE;
    kx_status st = kx_reg_publish(l->reg, parent, l->planes, string_of(node, K_CLASS),
                                  name ? name : string_of(node, K_CLASS),
                                  string_of(node, K_LOCATION), properties_of(node), &id);
    if (st == STATUS_SUCCESS && l->ids && (st = idvec_push(l->ids, id)) != STATUS_SUCCESS)
        kx_reg_terminate(l->reg, id, NULL, NULL);
    if (st != STATUS_SUCCESS)
        return kx_why(l->why, l->why_len, st, "%s: %s: can't publish: %s", l->file,
                      name ? name : string_of(node, K_CLASS), kx_status_string(st));
    return publish_children(l, node, id);
}

static kx_status publish_children(const struct load *l, plist_t node, kx_reg_id parent)
{
    plist_t kids = plist_dict_get_item(node, K_CHILDREN);
    kx_status st = STATUS_SUCCESS;
    for (uint32_t i = 0; kids && i < plist_array_get_size(kids) && st == STATUS_SUCCESS; i++)
        st = publish(l, plist_array_get_item(kids, i), parent);
    return st;
}

/* Makes the registry's own entry `id` what the file says (class, name, location,
 * properties). */
static kx_status adopt(const struct load *l, plist_t node, kx_reg_id id)
{
    const char *name = string_of(node, K_NAME);
    kx_status st = kx_reg_set_class(l->reg, id, string_of(node, K_CLASS));
    if (st == STATUS_SUCCESS && name)
        st = kx_reg_set_name(l->reg, id, name, string_of(node, K_LOCATION));
    if (st == STATUS_SUCCESS)
        st = set_properties(l->reg, id, node);
    return st;
}

/* The platform expert's children: IOResources gives the registry's its properties. */
static kx_status load_platform_children(const struct load *l, plist_t node)
{
    plist_t kids = plist_dict_get_item(node, K_CHILDREN);
    int have_resources = 0;
    kx_status st = STATUS_SUCCESS;
    for (uint32_t i = 0; kids && i < plist_array_get_size(kids) && st == STATUS_SUCCESS; i++) {
        plist_t kid = plist_array_get_item(kids, i);
        if (!have_resources && strcmp(string_of(kid, K_CLASS), "IOResources") == 0) {
            have_resources = 1;
            if ((st = set_properties(l->reg, kx_reg_resources(l->reg), kid)) == STATUS_SUCCESS)
                st = publish_children(l, kid, kx_reg_resources(l->reg));
        } else {
            st = publish(l, kid, kx_reg_platform(l->reg));
        }
    }
    return st;
}

static kx_status load_root(const struct load *l, plist_t node)
{
    struct kx_classes *classes = kx_reg_classes(l->reg);
    plist_t kids = plist_dict_get_item(node, K_CHILDREN);
    int have_platform = 0;
    kx_status st = set_properties(l->reg, kx_reg_root(l->reg), node);
    for (uint32_t i = 0; kids && i < plist_array_get_size(kids) && st == STATUS_SUCCESS; i++) {
        plist_t kid = plist_array_get_item(kids, i);
        if (!have_platform &&
            kx_classes_conforms(classes, string_of(kid, K_CLASS), "IOPlatformExpertDevice")) {
            have_platform = 1;
            st = adopt(l, kid, kx_reg_platform(l->reg));
            if (st == STATUS_SUCCESS)
                st = load_platform_children(l, kid);
        } else {
            st = publish(l, kid, kx_reg_root(l->reg));
        }
    }
    return st;
}

kx_status kx_platform_tree_load(struct kx_reg *r, plist_t tree, const char *name, char *why,
                                size_t why_len)
{
    struct load l = {r, name ? name : "(platform)", why, why_len, KX_REG_ALL_PLANES, NULL};
    kx_status st = STATUS_SUCCESS;
    if (plist_get_node_type(tree) == PLIST_ARRAY) {
        for (uint32_t i = 0; i < plist_array_get_size(tree) && st == STATUS_SUCCESS; i++)
            st = check_entry(&l, plist_array_get_item(tree, i), "");
        for (uint32_t i = 0; i < plist_array_get_size(tree) && st == STATUS_SUCCESS; i++)
            st = publish(&l, plist_array_get_item(tree, i), kx_reg_platform(r));
        return st;
    }
    if ((st = check_entry(&l, tree, "")) != STATUS_SUCCESS)
        return st;
    if (strcmp(string_of(tree, K_CLASS), "IORegistryEntry") == 0)
        return load_root(&l, tree);
    return publish(&l, tree, kx_reg_platform(r));
}

kx_status kx_platform_file_read(struct kx_reg *r, const char *path, char *why, size_t why_len)
{
    plist_t tree = NULL;
    const char *reason = NULL;
    kx_status st = kx_plist_read_file(path, &tree, &reason);
    if (st == STATUS_DATA_ERROR)
        return kx_why(why, why_len, st, "%s: not a property list (%s)", path,
                      reason ? reason : "malformed");
    if (st != STATUS_SUCCESS)
        return kx_why(why, why_len, st, "%s: %s", path, kx_status_string(st));
    st = kx_platform_tree_load(r, tree, path, why, why_len);
    plist_free(tree);
    return st;
}

/* ---- Under an entry -----------------------------------------------------------------------------
 */

/* The planes an entry hangs in: Root's every plane, any other entry's where it has a parent. */
static unsigned planes_of(struct kx_reg *r, kx_reg_id id)
{
    if (id == kx_reg_root(r))
        return KX_REG_ALL_PLANES;
    unsigned planes = 0;
    for (unsigned p = 0; p < KX_REG_N_PLANES; p++) {
        kx_reg_id *up = NULL;
        size_t n = 0;
        if (kx_reg_parents(r, id, (enum kx_reg_plane)p, &up, &n) == STATUS_SUCCESS && n)
            planes |= KX_REG_PLANE_BIT(p);
        free(up);
    }
    return planes;
}

kx_status kx_platform_tree_load_under(struct kx_reg *r, kx_reg_id parent, plist_t tree,
                                      const char *name, kx_reg_id **ids, size_t *n_ids, char *why,
                                      size_t why_len)
{
    struct idvec v = {0};
    struct load l = {r, name ? name : "(platform)", why, why_len, 0, &v};
    int is_array = plist_get_node_type(tree) == PLIST_ARRAY;
    uint32_t n = is_array ? plist_array_get_size(tree) : 1;
    kx_status st = STATUS_SUCCESS;
    *ids = NULL;
    *n_ids = 0;
    for (uint32_t i = 0; i < n && st == STATUS_SUCCESS; i++) {
        plist_t node = is_array ? plist_array_get_item(tree, i) : tree;
        if ((st = check_entry(&l, node, "")) == STATUS_SUCCESS &&
            strcmp(string_of(node, K_CLASS), "IORegistryEntry") == 0)
            st =
                kx_why(why, why_len, STATUS_DATA_ERROR,
                       "%s: %s: %s: IORegistryEntry is Root: a whole registry can't hang under "
                       "an entry; give the entries to add (ioreg -a -r)",
                       l.file, string_of(node, K_NAME) ? string_of(node, K_NAME) : "Root", K_CLASS);
    }
    struct kx_reg_info info;
    if (st == STATUS_SUCCESS && (st = kx_reg_info(r, parent, &info)) != STATUS_SUCCESS)
        st = kx_why(why, why_len, st, "%s: the parent entry is gone", l.file);
    l.planes = planes_of(r, parent);
    if (st == STATUS_SUCCESS && !l.planes)
        st = kx_why(why, why_len, STATUS_DEVICE_REMOVED, "%s: the parent entry is in no plane",
                    l.file);
    for (uint32_t i = 0; i < n && st == STATUS_SUCCESS; i++)
        st = publish(&l, is_array ? plist_array_get_item(tree, i) : tree, parent);
    if (st != STATUS_SUCCESS) {
        /* Nothing half-added stays: terminating the first entry of each tree takes its
         * subtree (nothing is matched yet, so nothing else holds them). */
        for (size_t i = 0; i < v.n; i++)
            kx_reg_terminate(r, v.v[i], NULL, NULL);
        free(v.v);
        return st;
    }
    *ids = v.v;
    *n_ids = v.n;
    return STATUS_SUCCESS;
}

/* ---- A copy of another registry -----------------------------------------------------------------
 */

/* One link of the copied registry: entry id hangs under parent in plane (parent 0: Root). */
struct mlink {
    kx_reg_id id, parent;
    enum kx_reg_plane plane;
    size_t order; /* position in the trees: ties keep it */
    plist_t node;
    int done;
};

struct mirror {
    struct load l;
    struct mlink *v;
    size_t n, cap;
};

static kx_status id_of(const struct load *l, plist_t node, const char *path, kx_reg_id *out)
{
    plist_t v = plist_dict_get_item(node, K_ID);
    uint64_t id = 0;
    if (plist_get_node_type(v) != PLIST_UINT)
        return kx_why(l->why, l->why_len, STATUS_DATA_ERROR, "%s: %s: %s: %s", l->file, path, K_ID,
                      v ? "must be a number" : "missing");
    plist_get_uint_val(v, &id);
    *out = id;
    return STATUS_SUCCESS;
}

static kx_status collect(struct mirror *m, plist_t node, kx_reg_id parent, enum kx_reg_plane plane,
                         const char *parent_path, unsigned depth)
{
    char path[512];
    kx_reg_id id = 0;
    entry_path(path, sizeof path, parent_path, node);
    kx_status st = id_of(&m->l, node, path, &id);
    if (st == STATUS_SUCCESS && depth > KX_PLIST_MAX_DEPTH)
        st = kx_why(m->l.why, m->l.why_len, STATUS_DATA_ERROR, "%s: %s: nested too deeply",
                    m->l.file, path);
    if (st != STATUS_SUCCESS)
        return st;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct mlink *nv = realloc(m->v, cap * sizeof *nv);
        if (!nv)
            return STATUS_INSUFFICIENT_RESOURCES;
        m->v = nv;
        m->cap = cap;
    }
    m->v[m->n] = (struct mlink){id, parent, plane, m->n, node, 0};
    m->n++;
    plist_t kids = plist_dict_get_item(node, K_CHILDREN);
    for (uint32_t i = 0; kids && i < plist_array_get_size(kids) && st == STATUS_SUCCESS; i++)
        st = collect(m, plist_array_get_item(kids, i), id, plane, path, depth + 1);
    return st;
}

static int by_order(const void *a, const void *b)
{
    const struct mlink *x = a, *y = b;
    return (x->order > y->order) - (x->order < y->order);
}

static int by_id(const void *a, const void *b)
{
    const struct mlink *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* The entry's state as the copied registry had it: matched and its busy count. */
static kx_status copy_state(struct kx_reg *r, kx_reg_id id, plist_t node)
{
    uint64_t state = 0, busy = 0;
    plist_t v = plist_dict_get_item(node, K_STATE), b = plist_dict_get_item(node, K_BUSY);
    if (plist_get_node_type(v) == PLIST_UINT)
        plist_get_uint_val(v, &state);
    if (plist_get_node_type(b) == PLIST_UINT)
        plist_get_uint_val(b, &busy);
    kx_status st = STATUS_SUCCESS;
    if (state & KX_REG_MATCHED)
        st = kx_reg_set_matched(r, id, 1);
    if (st == STATUS_SUCCESS && busy)
        st = kx_reg_busy_adjust(r, id, busy > INT32_MAX ? INT32_MAX : (int)busy);
    return st;
}

/* Publishes the entry of links v[0..n) (one id, in tree order) under the first parent it
 * has here already, in that link's plane; the other links are attached later. */
static kx_status mirror_entry(struct mirror *m, struct mlink *v, size_t n)
{
    struct kx_reg *r = m->l.reg;
    kx_reg_id id = v[0].id;
    plist_t node = v[0].node;
    const char *name = string_of(node, K_NAME);
    kx_status st = STATUS_SUCCESS;
    if (id == kx_reg_root(r)) {
        st = set_properties(r, id, node);
    } else if (id == kx_reg_platform(r)) {
        st = adopt(&m->l, node, id);
    } else if (id == kx_reg_resources(r)) {
        st = set_properties(r, id, node);
    } else {
        struct kx_reg_info pi;
        size_t k = 0;
        while (k < n && kx_reg_info(r, v[k].parent, &pi) != STATUS_SUCCESS)
            k++;
        if (k == n)
            return kx_why(m->l.why, m->l.why_len, STATUS_DATA_ERROR,
                          "%s: entry 0x%llx (%s): no provider of it comes before it", m->l.file,
                          (unsigned long long)id, name ? name : string_of(node, K_CLASS));
        st = kx_reg_publish_as(r, id, v[k].parent, KX_REG_PLANE_BIT(v[k].plane),
                               string_of(node, K_CLASS), name ? name : string_of(node, K_CLASS),
                               string_of(node, K_LOCATION), properties_of(node));
        v[k].done = 1;
        if (st != STATUS_SUCCESS)
            return kx_why(m->l.why, m->l.why_len, st, "%s: entry 0x%llx (%s): can't publish: %s",
                          m->l.file, (unsigned long long)id, name ? name : string_of(node, K_CLASS),
                          kx_status_string(st));
    }
    return st == STATUS_SUCCESS ? copy_state(r, id, node) : st;
}

kx_status kx_platform_tree_mirror(struct kx_reg *r, plist_t const trees[KX_REG_N_PLANES],
                                  const char *name, char *why, size_t why_len)
{
    struct mirror m = {{r, name ? name : "(registry)", why, why_len, 0, NULL}, NULL, 0, 0};
    kx_status st = STATUS_SUCCESS;
    for (unsigned p = 0; p < KX_REG_N_PLANES && st == STATUS_SUCCESS; p++) {
        if (!trees[p])
            continue;
        if ((st = check_entry(&m.l, trees[p], "")) != STATUS_SUCCESS)
            break;
        if (strcmp(string_of(trees[p], K_CLASS), "IORegistryEntry") != 0)
            st = kx_why(why, why_len, STATUS_DATA_ERROR,
                        "%s: %s: the tree of the %s plane must start at Root", m.l.file,
                        string_of(trees[p], K_CLASS), kx_reg_plane_name((enum kx_reg_plane)p));
        else
            st = collect(&m, trees[p], KX_REG_ID_NONE, (enum kx_reg_plane)p, "", 0);
    }
    if (st == STATUS_SUCCESS && m.n)
        qsort(m.v, m.n, sizeof *m.v, by_id);
    /* Ids ascending: a provider is published before its clients, as the registry numbered
     * them; the links to further providers follow once every entry is there. */
    for (size_t i = 0, j; i < m.n && st == STATUS_SUCCESS; i = j) {
        for (j = i + 1; j < m.n && m.v[j].id == m.v[i].id;)
            j++;
        st = mirror_entry(&m, &m.v[i], j - i);
    }
    if (m.n)
        qsort(m.v, m.n, sizeof *m.v, by_order);
    for (size_t i = 0; i < m.n && st == STATUS_SUCCESS; i++)
        if (!m.v[i].done && m.v[i].parent != KX_REG_ID_NONE)
            st = kx_reg_attach(r, m.v[i].id, m.v[i].parent, m.v[i].plane);
    free(m.v);
    return st;
}

/* ---- Writing ------------------------------------------------------------------------------------
 */

static kx_status build(struct kx_reg *r, kx_reg_id id, enum kx_reg_plane plane, unsigned depth,
                       plist_t *out)
{
    struct kx_reg_info info;
    plist_t props = NULL, node = NULL;
    kx_reg_id *kids = NULL;
    size_t n = 0;
    kx_status st = kx_reg_info(r, id, &info);
    if (st == STATUS_SUCCESS && depth > KX_PLIST_MAX_DEPTH / 2)
        st = STATUS_BUFFER_TOO_SMALL; /* deeper would not read back */
    if (st == STATUS_SUCCESS)
        st = kx_reg_props_copy(r, id, &props);
    if (st == STATUS_SUCCESS)
        st = kx_reg_children(r, id, plane, &kids, &n);
    if (st != STATUS_SUCCESS || !(node = plist_new_dict())) {
        plist_free(props);
        free(kids);
        return st != STATUS_SUCCESS ? st : STATUS_INSUFFICIENT_RESOURCES;
    }
    plist_dict_set_item(node, K_CLASS, plist_new_string(info.class_name));
    plist_dict_set_item(node, K_RETAIN, plist_new_uint(info.retain));
    plist_dict_set_item(node, K_ID, plist_new_uint(info.id));
    plist_dict_set_item(node, K_NAME, plist_new_string(info.name));
    if (*info.location)
        plist_dict_set_item(node, K_LOCATION, plist_new_string(info.location));
    if (info.is_service) {
        plist_dict_set_item(node, K_BUSY, plist_new_uint(info.busy));
        plist_dict_set_item(node, K_BUSY_TIME, plist_new_uint(0));
        plist_dict_set_item(node, K_STATE, plist_new_uint(info.state));
    }
    kx_reg_merge_dict(node, props);
    plist_free(props);
    if (n) {
        plist_t arr = plist_new_array();
        for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++) {
            plist_t kid = NULL;
            if ((st = build(r, kids[i], plane, depth + 1, &kid)) == STATUS_SUCCESS)
                plist_array_append_item(arr, kid);
        }
        plist_dict_set_item(node, K_CHILDREN, arr);
    }
    free(kids);
    if (st != STATUS_SUCCESS) {
        plist_free(node);
        return st;
    }
    *out = node;
    return STATUS_SUCCESS;
}

kx_status kx_platform_tree_build(struct kx_reg *r, kx_reg_id id, enum kx_reg_plane plane,
                                 plist_t *out)
{
    *out = NULL;
    if ((unsigned)plane >= KX_REG_N_PLANES)
        return STATUS_INVALID_PARAMETER;
    return build(r, id, plane, 0, out);
}

kx_status kx_platform_file_write(struct kx_reg *r, enum kx_reg_plane plane, const char *path)
{
    plist_t tree = NULL;
    char *xml = NULL;
    uint32_t len = 0;
    kx_status st = kx_platform_tree_build(r, kx_reg_root(r), plane, &tree);
    if (st != STATUS_SUCCESS)
        return st;
    plist_to_xml(tree, &xml, &len);
    plist_free(tree);
    if (!xml)
        return STATUS_INSUFFICIENT_RESOURCES;
    st = kx_plat_write_file_atomic(path, xml, len, 0644);
    free(xml);
    return st;
}
