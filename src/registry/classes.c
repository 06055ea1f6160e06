/* classes.c — the class table: IOKit's built-in classes and the ones kexts declare.
 *
 * Built-in classes come from data/iokit-classes.plist (compiled into libkx); kexts add
 * theirs through KXClasses (class -> superclass) when the catalogue takes them. A class
 * is a record named once and kept for the table's life, so the names handed out
 * (superclasses, chains) stay valid while callers use them without the lock; a kext's
 * removal only withdraws its declaration. A superclass named before it is declared gets
 * an undeclared record, which a later declaration fills in.
 *
 * Lock: `lock` is a leaf — registries and catalogues call in while holding their own.
 */
#include "registry_int.h"

#include "core/plist.h"

#include <stdlib.h>
#include <string.h>

extern const unsigned char kx_data_iokit_classes[];
extern const size_t kx_data_iokit_classes_len;

/* Deeper chains are refused: IOKit's deepest are around ten classes. */
#define MAX_CHAIN 64

struct class_rec {
    char *name;
    const struct class_rec *super; /* NULL for a root class */
    char **owners;                 /* bundle identifiers that declare it */
    size_t n_owners;
    int builtin;
    int declared; /* 0: only named as someone's superclass so far, or withdrawn */
};

struct kx_classes {
    pthread_mutex_t lock;         /* guards recs and matched_as (a leaf lock) */
    struct kx_strmap *recs;       /* name -> struct class_rec */
    struct kx_strmap *matched_as; /* legacy provider class -> struct class_rec */
};

static void rec_free(void *v)
{
    struct class_rec *r = v;
    for (size_t i = 0; i < r->n_owners; i++)
        free(r->owners[i]);
    free(r->owners);
    free(r->name);
    free(r);
}

/* The record for name, created undeclared when missing. Called with the lock held. */
static struct class_rec *intern(struct kx_classes *c, const char *name)
{
    struct class_rec *r = kx_strmap_get(c->recs, name);
    if (r)
        return r;
    if (!(r = calloc(1, sizeof *r)) || !(r->name = strdup(name)) ||
        kx_strmap_put(c->recs, name, r) != STATUS_SUCCESS) {
        if (r)
            free(r->name);
        free(r);
        return NULL;
    }
    return r;
}

static int has_owner(const struct class_rec *r, const char *owner)
{
    for (size_t i = 0; i < r->n_owners; i++)
        if (strcmp(r->owners[i], owner) == 0)
            return 1;
    return 0;
}

static kx_status add_owner(struct class_rec *r, const char *owner)
{
    if (!owner) {
        r->builtin = 1;
        return STATUS_SUCCESS;
    }
    if (has_owner(r, owner))
        return STATUS_SUCCESS;
    char **v = realloc(r->owners, (r->n_owners + 1) * sizeof *v);
    if (!v)
        return STATUS_INSUFFICIENT_RESOURCES;
    r->owners = v;
    if (!(v[r->n_owners] = strdup(owner)))
        return STATUS_INSUFFICIENT_RESOURCES;
    r->n_owners++;
    return STATUS_SUCCESS;
}

static kx_status declare_locked(struct kx_classes *c, const char *name, const char *superclass,
                                const char *owner)
{
    if (!name || !*name || strlen(name) >= KX_REG_NAME_MAX ||
        (superclass && strlen(superclass) >= KX_REG_NAME_MAX))
        return STATUS_OBJECT_NAME_INVALID;
    if (superclass && !*superclass)
        superclass = NULL;
    struct class_rec *r = intern(c, name), *s = superclass ? intern(c, superclass) : NULL;
    if (!r || (superclass && !s))
        return STATUS_INSUFFICIENT_RESOURCES;
    if (r->declared) {
        if (r->super != s)
            return STATUS_OBJECT_NAME_COLLISION;
        return add_owner(r, owner);
    }
    size_t depth = 0;
    for (const struct class_rec *a = s; a; a = a->super)
        if (a == r || ++depth > MAX_CHAIN)
            return STATUS_INVALID_PARAMETER;
    kx_status st = add_owner(r, owner);
    if (st == STATUS_SUCCESS) {
        r->super = s;
        r->declared = 1;
    }
    return st;
}

static kx_status load_builtins(struct kx_classes *c)
{
    plist_t root = NULL;
    const char *why = NULL;
    if (kx_plist_parse(kx_data_iokit_classes, kx_data_iokit_classes_len, &root, &why) !=
        STATUS_SUCCESS)
        return STATUS_INTERNAL_ERROR; /* the embedded file is ours: a test catches this */
    kx_status st = STATUS_SUCCESS;
    plist_dict_iter it = NULL;
    plist_t classes = kx_plist_get(root, "Classes"), legacy = kx_plist_get(root, "MatchedAs");
    char *key = NULL;
    plist_t val = NULL;
    plist_dict_new_iter(classes, &it);
    for (plist_dict_next_item(classes, it, &key, &val); st == STATUS_SUCCESS && key;
         plist_dict_next_item(classes, it, &key, &val)) {
        st = declare_locked(c, key, plist_get_string_ptr(val, NULL), NULL);
        free(key);
        key = NULL;
    }
    free(key);
    free(it);
    it = NULL;
    plist_dict_new_iter(legacy, &it);
    for (plist_dict_next_item(legacy, it, &key, &val); st == STATUS_SUCCESS && key;
         plist_dict_next_item(legacy, it, &key, &val)) {
        struct class_rec *target = intern(c, plist_get_string_ptr(val, NULL));
        st = target ? kx_strmap_put(c->matched_as, key, target) : STATUS_INSUFFICIENT_RESOURCES;
        free(key);
        key = NULL;
    }
    free(key);
    free(it);
    plist_free(root);
    return st;
}

kx_status kx_classes_new(struct kx_classes **out)
{
    *out = NULL;
    struct kx_classes *c = calloc(1, sizeof *c);
    if (!c)
        return STATUS_INSUFFICIENT_RESOURCES;
    pthread_mutex_init(&c->lock, NULL);
    kx_status st = STATUS_INSUFFICIENT_RESOURCES;
    if (!(c->recs = kx_strmap_new()) || !(c->matched_as = kx_strmap_new()))
        goto fail;
    if ((st = load_builtins(c)) != STATUS_SUCCESS)
        goto fail;
    *out = c;
    return STATUS_SUCCESS;
fail:
    kx_classes_free(c);
    return st;
}

void kx_classes_free(struct kx_classes *c)
{
    if (!c)
        return;
    kx_strmap_free(c->matched_as, NULL);
    kx_strmap_free(c->recs, rec_free);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

kx_status kx_classes_declare(struct kx_classes *c, const char *name, const char *superclass,
                             const char *owner)
{
    pthread_mutex_lock(&c->lock);
    kx_status st = declare_locked(c, name, superclass, owner);
    pthread_mutex_unlock(&c->lock);
    return st;
}

static void forget_one(void *ctx, const char *key, void *value)
{
    const char *owner = ctx;
    struct class_rec *r = value;
    (void)key;
    for (size_t i = 0; i < r->n_owners; i++) {
        if (strcmp(r->owners[i], owner) != 0)
            continue;
        free(r->owners[i]);
        r->owners[i] = r->owners[--r->n_owners];
        break;
    }
    if (r->declared && !r->builtin && r->n_owners == 0) {
        r->declared = 0;
        r->super = NULL;
    }
}

void kx_classes_forget(struct kx_classes *c, const char *owner)
{
    if (!owner)
        return;
    pthread_mutex_lock(&c->lock);
    kx_strmap_foreach(c->recs, forget_one, (void *)owner);
    pthread_mutex_unlock(&c->lock);
}

int kx_classes_is_known(struct kx_classes *c, const char *name)
{
    pthread_mutex_lock(&c->lock);
    const struct class_rec *r = kx_strmap_get(c->recs, name);
    int known = r && r->declared;
    pthread_mutex_unlock(&c->lock);
    return known;
}

const char *kx_classes_superclass(struct kx_classes *c, const char *name)
{
    pthread_mutex_lock(&c->lock);
    const struct class_rec *r = kx_strmap_get(c->recs, name);
    const char *s = r && r->declared && r->super ? r->super->name : NULL;
    pthread_mutex_unlock(&c->lock);
    return s;
}

int kx_classes_conforms(struct kx_classes *c, const char *name, const char *ancestor)
{
    if (strcmp(name, ancestor) == 0)
        return 1;
    pthread_mutex_lock(&c->lock);
    const struct class_rec *r = kx_strmap_get(c->recs, name);
    int yes = 0;
    for (size_t depth = 0; !yes && r && r->declared && depth < MAX_CHAIN; depth++) {
        const struct class_rec *s = r->super;
        yes = s && strcmp(s->name, ancestor) == 0;
        r = s;
    }
    pthread_mutex_unlock(&c->lock);
    return yes;
}

const char *kx_classes_matched_as(struct kx_classes *c, const char *provider_class)
{
    pthread_mutex_lock(&c->lock);
    const struct class_rec *r = kx_strmap_get(c->matched_as, provider_class);
    pthread_mutex_unlock(&c->lock);
    return r ? r->name : provider_class;
}

size_t kx_classes_entry_chain(struct kx_classes *c, const char *class_name, const char **out,
                              size_t max)
{
    size_t n = 0;
    out[n++] = class_name;
    pthread_mutex_lock(&c->lock);
    const struct class_rec *r = kx_strmap_get(c->recs, class_name);
    while (r && r->declared && r->super && n < max) {
        r = r->super;
        out[n++] = r->name;
    }
    pthread_mutex_unlock(&c->lock);
    /* Every entry but Root is an IOService: a chain the table can't finish (a class from a
     * platform file or a kext that declared nothing) ends at IOService. */
    if (strcmp(out[n - 1], "IORegistryEntry") != 0) {
        if (n < max && strcmp(out[n - 1], "IOService") != 0)
            out[n++] = "IOService";
        if (n < max)
            out[n++] = "IORegistryEntry";
    }
    return n;
}
