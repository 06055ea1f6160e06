/* catalog.c — the IOCatalogue: every installed kext's personalities, in catalogue order and
 * indexed for matching.
 *
 * Catalogue order is kexts by bundle path, then personalities in their Info.plist's order;
 * `all` is kept sorted that way, so listings and ties need no sort. For matching, each
 * personality goes into the bucket of the class it is matched against (its IOProviderClass,
 * after the legacy USB translation) and, within it, under one index key taken from the
 * key that is fastest to test and rarest to pass:
 *
 *   P:<vendor>[:<device>]    IOPCIMatch / IOPCIPrimaryMatch / IOPCISecondaryMatch terms whose
 *   S:<vendor>[:<device>]    mask keeps the whole vendor ID (and the device ID: the common
 *                            case), for the primary (P) or subsystem (S) register
 *   C:<class>[<subclass>]    IOPCIClassMatch terms whose mask keeps the base class byte
 *   V:<vendor>[:<product>]   USB idVendor (and idProduct), else
 *   DC:<c>  IC:<c>           bDeviceClass / bInterfaceClass
 *   N:<name>                 every IONameMatch name without a wildcard
 *
 * Family keys are used only when the provider class belongs to that family: IOKit applies
 * them only on such nubs, so an IOService personality with IOPCIMatch still matches an
 * ACPI nub. A nub looks up the keys its own properties produce; personalities without a
 * usable key sit in the bucket's scan list and are tried on every nub of the class.
 * Withheld personalities (safe boot) are in `all` and the bucket's `all` only.
 *
 * Records are reference counted: a matching result keeps its personalities after the
 * kext is removed.
 */
#include "registry_int.h"

#include <kx/kext.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Records ----------------------------------------------------------------------------------
 */

static kx_status pvec_push(struct kx_pvec *v, struct kx_personality *p)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        struct kx_personality **nv = realloc(v->v, cap * sizeof(struct kx_personality *));
        if (!nv)
            return STATUS_INSUFFICIENT_RESOURCES;
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = p;
    return STATUS_SUCCESS;
}

static void pvec_remove(struct kx_pvec *v, const struct kx_personality *p)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->v[i] == p) {
            memmove(&v->v[i], &v->v[i + 1], (v->n - i - 1) * sizeof(struct kx_personality *));
            v->n--;
            return;
        }
}

int kx_personality_order(const struct kx_personality *a, const struct kx_personality *b)
{
    int c = strcmp(a->bundle_path, b->bundle_path);
    if (c)
        return c;
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Inserts p where catalogue order puts it (personalities mostly arrive in order: the
 * search starts from the end). */
static kx_status pvec_insert_ordered(struct kx_pvec *v, struct kx_personality *p)
{
    if (pvec_push(v, p) != STATUS_SUCCESS)
        return STATUS_INSUFFICIENT_RESOURCES;
    size_t i = v->n - 1;
    while (i > 0 && kx_personality_order(v->v[i - 1], p) > 0) {
        v->v[i] = v->v[i - 1];
        i--;
    }
    v->v[i] = p;
    return STATUS_SUCCESS;
}

void kx_personality_retain(struct kx_personality *p)
{
    atomic_fetch_add(&p->refs, 1);
}

void kx_personality_release(struct kx_personality *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    kx_mtable_free(p->table);
    for (size_t i = 0; i < p->n_index_keys; i++)
        free(p->index_keys[i]);
    free(p->index_keys);
    plist_free(p->dict);
    free(p->kext);
    free(p->bundle_path);
    free(p->name);
    free(p->ioclass);
    free(p->provider_class);
    free(p->category);
    free(p->code_bundle);
    free(p);
}

const char *kx_personality_kext(const struct kx_personality *p)
{
    return p->kext;
}
const char *kx_personality_bundle_path(const struct kx_personality *p)
{
    return p->bundle_path;
}
const char *kx_personality_name(const struct kx_personality *p)
{
    return p->name;
}
const char *kx_personality_ioclass(const struct kx_personality *p)
{
    return p->ioclass;
}
const char *kx_personality_provider_class(const struct kx_personality *p)
{
    return p->provider_class;
}
const char *kx_personality_matched_as(const struct kx_personality *p)
{
    return p->matched_as;
}
const char *kx_personality_category(const struct kx_personality *p)
{
    return p->merge_only ? NULL : p->category;
}
const char *kx_personality_code_bundle(const struct kx_personality *p)
{
    return p->code_bundle;
}
int64_t kx_personality_probe_score(const struct kx_personality *p)
{
    return p->score;
}
int kx_personality_merge_only(const struct kx_personality *p)
{
    return p->merge_only;
}
int kx_personality_withheld(const struct kx_personality *p)
{
    return p->withheld;
}
plist_t kx_personality_dict(const struct kx_personality *p)
{
    return p->dict;
}

/* ---- Index keys -------------------------------------------------------------------------------
 */

static kx_status add_key(struct kx_personality *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static kx_status add_key(struct kx_personality *p, const char *fmt, ...)
{
    char key[KX_REG_NAME_MAX + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(key, sizeof key, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < p->n_index_keys; i++)
        if (strcmp(p->index_keys[i], key) == 0)
            return STATUS_SUCCESS;
    char **v = realloc(p->index_keys, (p->n_index_keys + 1) * sizeof *v);
    if (!v)
        return STATUS_INSUFFICIENT_RESOURCES;
    p->index_keys = v;
    if (!(v[p->n_index_keys] = strdup(key)))
        return STATUS_INSUFFICIENT_RESOURCES;
    p->n_index_keys++;
    return STATUS_SUCCESS;
}

/* One register's key: "P:"/"S:" vendor (and device when the mask keeps it all). */
static kx_status id_key(struct kx_personality *p, char reg, const struct kx_pci_term *t)
{
    if (t->mask == 0xffffffffu)
        return add_key(p, "%c:%04x:%04x", reg, t->value & 0xffff, t->value >> 16);
    return add_key(p, "%c:%04x", reg, t->value & 0xffff);
}

/* Index keys from one PCI register list (which = 1 primary, 2 secondary, 3 both; class
 * lists give "C:" keys). 0 when some term can't be indexed (none is added then). */
static int pci_keys(struct kx_personality *p, int k, unsigned which, kx_status *st)
{
    const struct kx_mtable *t = p->table;
    uint32_t need = k == 3 ? 0xff000000u : 0x0000ffffu;
    if (!t->n_pci[k])
        return 0;
    for (size_t i = 0; i < t->n_pci[k]; i++)
        if ((t->pci[k][i].mask & need) != need)
            return 0;
    for (size_t i = 0; i < t->n_pci[k] && *st == STATUS_SUCCESS; i++) {
        const struct kx_pci_term *term = &t->pci[k][i];
        if (k == 3)
            *st = (term->mask & 0xffff0000u) == 0xffff0000u
                      ? add_key(p, "C:%04x", term->value >> 16)
                      : add_key(p, "C:%02x", term->value >> 24);
        if ((which & 1) && *st == STATUS_SUCCESS)
            *st = id_key(p, 'P', term);
        if ((which & 2) && *st == STATUS_SUCCESS)
            *st = id_key(p, 'S', term);
    }
    return 1;
}

static kx_status index_keys(struct kx_catalog *c, struct kx_personality *p)
{
    const struct kx_mtable *t = p->table;
    kx_status st = STATUS_SUCCESS;
    if (t->unknown_key || t->bad_key)
        return STATUS_SUCCESS; /* rejected on every nub: scanned, so the rejection shows */
    if (kx_classes_conforms(c->classes, p->matched_as, "IOPCIDevice")) {
        if (pci_keys(p, 1, 1, &st) || pci_keys(p, 0, 3, &st) || pci_keys(p, 2, 2, &st) ||
            pci_keys(p, 3, 0, &st))
            return st;
    }
    int usb_dev = kx_classes_conforms(c->classes, p->matched_as, "IOUSBHostDevice");
    int usb_if = kx_classes_conforms(c->classes, p->matched_as, "IOUSBHostInterface");
    if ((usb_dev || usb_if) && !t->usb_user_client_init) {
        int cls = usb_dev ? KX_USB_DEVICE_CLASS : KX_USB_INTERFACE_CLASS;
        if (t->usb_form[KX_USB_VENDOR] == KX_USB_NUMBER &&
            t->usb_form[KX_USB_PRODUCT] == KX_USB_NUMBER && !t->has_product_array &&
            !t->has_product_mask)
            return add_key(p, "V:%llu:%llu", (unsigned long long)t->usb[KX_USB_VENDOR],
                           (unsigned long long)t->usb[KX_USB_PRODUCT]);
        if (t->usb_form[KX_USB_VENDOR] == KX_USB_NUMBER)
            return add_key(p, "V:%llu", (unsigned long long)t->usb[KX_USB_VENDOR]);
        if (t->usb_form[KX_USB_VENDOR] == KX_USB_ABSENT && t->usb_form[cls] == KX_USB_NUMBER)
            return add_key(p, "%s:%llu", usb_dev ? "DC" : "IC", (unsigned long long)t->usb[cls]);
    }
    for (size_t i = 0; i < t->n_names; i++)
        if (strchr(t->names[i], '*'))
            return STATUS_SUCCESS;
    for (size_t i = 0; i < t->n_names && st == STATUS_SUCCESS; i++)
        st = add_key(p, "N:%s", t->names[i]);
    return st;
}

/* ---- The catalogue ----------------------------------------------------------------------------
 */

static void pvec_free(void *v)
{
    struct kx_pvec *pv = v;
    if (pv)
        free(pv->v);
    free(pv);
}

static void bucket_free(void *v)
{
    struct kx_bucket *b = v;
    free(b->all.v);
    free(b->scan.v);
    kx_strmap_free(b->keyed, pvec_free);
    free(b);
}

kx_status kx_catalog_new(struct kx_classes *classes, unsigned flags, struct kx_catalog **out)
{
    *out = NULL;
    struct kx_catalog *c = calloc(1, sizeof *c);
    if (!c)
        return STATUS_INSUFFICIENT_RESOURCES;
    c->classes = classes;
    c->flags = flags;
    pthread_rwlock_init(&c->lock, NULL);
    if (!(c->buckets = kx_strmap_new()) || !(c->paths = kx_strmap_new())) {
        kx_catalog_free(c);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    *out = c;
    return STATUS_SUCCESS;
}

void kx_catalog_free(struct kx_catalog *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->all.n; i++)
        kx_personality_release(c->all.v[i]);
    free(c->all.v);
    kx_strmap_free(c->buckets, bucket_free);
    kx_strmap_free(c->paths, NULL);
    for (size_t i = 0; i < c->n_problems; i++)
        free(c->problems[i]);
    free(c->problems);
    pthread_rwlock_destroy(&c->lock);
    free(c);
}

static void problem(struct kx_catalog *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct kx_catalog *c, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    char **v = n >= 0 ? realloc(c->problems, (c->n_problems + 1) * sizeof *v) : NULL;
    if (!v) { /* a problem report lost to memory pressure; the catalogue stays consistent */
        free(s);
        return;
    }
    c->problems = v;
    v[c->n_problems++] = s;
}

static struct kx_bucket *bucket_for(struct kx_catalog *c, const char *class_name)
{
    struct kx_bucket *b = kx_strmap_get(c->buckets, class_name);
    if (b)
        return b;
    if (!(b = calloc(1, sizeof *b)) || !(b->keyed = kx_strmap_new()) ||
        kx_strmap_put(c->buckets, class_name, b) != STATUS_SUCCESS) {
        if (b)
            kx_strmap_free(b->keyed, NULL);
        free(b);
        return NULL;
    }
    return b;
}

static kx_status index_insert(struct kx_catalog *c, struct kx_personality *p)
{
    struct kx_bucket *b = bucket_for(c, p->matched_as);
    if (!b || pvec_insert_ordered(&b->all, p) != STATUS_SUCCESS)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (p->withheld)
        return STATUS_SUCCESS;
    if (!p->n_index_keys)
        return pvec_push(&b->scan, p);
    for (size_t i = 0; i < p->n_index_keys; i++) {
        struct kx_pvec *v = kx_strmap_get(b->keyed, p->index_keys[i]);
        if (!v && (!(v = calloc(1, sizeof *v)) ||
                   kx_strmap_put(b->keyed, p->index_keys[i], v) != STATUS_SUCCESS)) {
            free(v);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        if (pvec_push(v, p) != STATUS_SUCCESS)
            return STATUS_INSUFFICIENT_RESOURCES;
    }
    return STATUS_SUCCESS;
}

static void index_remove(struct kx_catalog *c, struct kx_personality *p)
{
    struct kx_bucket *b = kx_strmap_get(c->buckets, p->matched_as);
    if (!b)
        return;
    pvec_remove(&b->all, p);
    pvec_remove(&b->scan, p);
    for (size_t i = 0; i < p->n_index_keys; i++) {
        struct kx_pvec *v = kx_strmap_get(b->keyed, p->index_keys[i]);
        if (v)
            pvec_remove(v, p);
    }
}

/* Removes every personality whose bundle path (by_path) or kext identifier is field_value;
 * returns how many. */
static size_t remove_where(struct kx_catalog *c, const char *field_value, int by_path)
{
    size_t n = 0, keep = 0;
    for (size_t i = 0; i < c->all.n; i++) {
        struct kx_personality *p = c->all.v[i];
        if (strcmp(by_path ? p->bundle_path : p->kext, field_value) == 0) {
            kx_strmap_put(c->paths, p->bundle_path, NULL); /* replaces: can't fail */
            index_remove(c, p);
            kx_personality_release(p);
            n++;
        } else {
            c->all.v[keep++] = p;
        }
    }
    c->all.n = keep;
    return n;
}

static const char *string_of(plist_t v)
{
    return plist_get_node_type(v) == PLIST_STRING ? plist_get_string_ptr(v, NULL) : NULL;
}

/* A record for one personality; NULL (and a problem noted) when IOCatalogue would refuse it. */
static struct kx_personality *record_new(struct kx_catalog *c, const char *bundle_id,
                                         const char *bundle_path, const char *name, plist_t dict,
                                         size_t index, int has_executable, kx_status *st)
{
    const char *base = strrchr(bundle_path, '/') ? strrchr(bundle_path, '/') + 1 : bundle_path;
    *st = STATUS_SUCCESS;
    if (plist_get_node_type(dict) != PLIST_DICT) {
        problem(c, "%s: IOKitPersonalities: %s: not a dictionary", base, name);
        return NULL;
    }
    const char *ioclass = string_of(plist_dict_get_item(dict, "IOClass")),
               *provider = string_of(plist_dict_get_item(dict, "IOProviderClass"));
    if (!ioclass || !provider) {
        problem(c, "%s: IOKitPersonalities: %s: Missing or bad \"%s\" key", base, name,
                ioclass ? "IOProviderClass" : "IOClass");
        return NULL;
    }
    struct kx_personality *p = calloc(1, sizeof *p);
    if (!p)
        goto nomem;
    atomic_init(&p->refs, 1);
    const char *code = string_of(plist_dict_get_item(dict, "CFBundleIdentifier"));
    const char *category = string_of(plist_dict_get_item(dict, "IOMatchCategory"));
    if (!(p->dict = plist_copy(dict)) || !(p->kext = strdup(bundle_id)) ||
        !(p->bundle_path = strdup(bundle_path)) || !(p->name = strdup(name)) ||
        !(p->ioclass = strdup(ioclass)) || !(p->provider_class = strdup(provider)) ||
        !(p->category = strdup(category ? category : "IODefaultMatchCategory")) ||
        !(p->code_bundle = strdup(code ? code : bundle_id)))
        goto nomem;
    p->index = index;
    p->matched_as = kx_classes_matched_as(c->classes, p->provider_class);
    plist_t score = plist_dict_get_item(p->dict, "IOProbeScore");
    if (plist_get_node_type(score) == PLIST_UINT) {
        uint64_t v = 0;
        plist_get_uint_val(score, &v);
        p->score = (int64_t)v;
    }
    plist_t merge = plist_dict_get_item(p->dict, "IOProviderMergeProperties");
    p->merge = plist_get_node_type(merge) == PLIST_DICT ? merge : NULL;
    p->merge_only = !has_executable && (p->merge || strcmp(p->code_bundle, bundle_id) == 0);
    plist_t debug = plist_dict_get_item(p->dict, "IOKitDebug");
    uint64_t debug_flags = 0;
    if (plist_get_node_type(debug) == PLIST_UINT)
        plist_get_uint_val(debug, &debug_flags);
    p->withheld = (c->flags & KX_CATALOG_SAFE_BOOT) && debug_flags != 0;
    if (!(p->table = kx_mtable_compile(p->dict, NULL)) || index_keys(c, p) != STATUS_SUCCESS)
        goto nomem;
    return p;
nomem:
    kx_personality_release(p);
    *st = STATUS_INSUFFICIENT_RESOURCES;
    return NULL;
}

static kx_status declare_classes(struct kx_catalog *c, const char *bundle_id, const char *base,
                                 plist_t classes)
{
    if (!classes)
        return STATUS_SUCCESS;
    if (plist_get_node_type(classes) != PLIST_DICT) {
        problem(c, "%s: KXClasses: not a dictionary of class -> superclass", base);
        return STATUS_SUCCESS;
    }
    plist_dict_iter it = NULL;
    char *key = NULL;
    plist_t val = NULL;
    kx_status st = STATUS_SUCCESS;
    plist_dict_new_iter(classes, &it);
    for (plist_dict_next_item(classes, it, &key, &val); key;
         plist_dict_next_item(classes, it, &key, &val)) {
        const char *super = string_of(val);
        kx_status d = super ? kx_classes_declare(c->classes, key, super, bundle_id)
                            : STATUS_INVALID_PARAMETER;
        if (d == STATUS_INSUFFICIENT_RESOURCES)
            st = d;
        else if (d == STATUS_OBJECT_NAME_COLLISION)
            problem(c, "%s: KXClasses: %s: already declared with superclass %s", base, key,
                    kx_classes_superclass(c->classes, key) ? kx_classes_superclass(c->classes, key)
                                                           : "(none)");
        else if (d != STATUS_SUCCESS)
            problem(c, "%s: KXClasses: %s: %s", base, key,
                    super ? "the superclass would make it its own ancestor"
                          : "the superclass must be a string");
        free(key);
        key = NULL;
    }
    free(it);
    return st;
}

kx_status kx_catalog_add_info(struct kx_catalog *c, const char *bundle_id, const char *bundle_path,
                              plist_t info, int has_executable, size_t *n_added)
{
    size_t added = 0;
    kx_status st = STATUS_SUCCESS;
    if (n_added)
        *n_added = 0;
    if (!bundle_id || !bundle_path)
        return STATUS_INVALID_PARAMETER;
    const char *base = strrchr(bundle_path, '/') ? strrchr(bundle_path, '/') + 1 : bundle_path;
    pthread_rwlock_wrlock(&c->lock);
    if (kx_strmap_get(c->paths, bundle_path)) /* a kext read again replaces its old copy */
        remove_where(c, bundle_path, 1);
    st = declare_classes(c, bundle_id, base, plist_dict_get_item(info, "KXClasses"));
    plist_t pers = plist_dict_get_item(info, "IOKitPersonalities");
    if (pers && plist_get_node_type(pers) != PLIST_DICT)
        problem(c, "%s: IOKitPersonalities: not a dictionary", base);
    else if (pers) {
        plist_dict_iter it = NULL;
        char *key = NULL;
        plist_t val = NULL;
        size_t index = 0;
        plist_dict_new_iter(pers, &it);
        for (plist_dict_next_item(pers, it, &key, &val); key && st == STATUS_SUCCESS;
             plist_dict_next_item(pers, it, &key, &val)) {
            struct kx_personality *p =
                record_new(c, bundle_id, bundle_path, key, val, index++, has_executable, &st);
            if (p && (st = pvec_insert_ordered(&c->all, p)) != STATUS_SUCCESS)
                kx_personality_release(p);
            else if (p && (st = index_insert(c, p)) == STATUS_SUCCESS)
                added++;
            free(key);
            key = NULL;
        }
        free(key);
        free(it);
    }
    if (st == STATUS_SUCCESS && added)
        st = kx_strmap_put(c->paths, bundle_path, c); /* any non-NULL value */
    if (st != STATUS_SUCCESS) {                       /* leave nothing half added */
        remove_where(c, bundle_path, 1);
        added = 0;
    }
    pthread_rwlock_unlock(&c->lock);
    if (n_added)
        *n_added = added;
    return st;
}

kx_status kx_catalog_add_kext(struct kx_catalog *c, const struct kx_kext *k, size_t *n_added)
{
    if (n_added)
        *n_added = 0;
    plist_t info = kx_kext_info(k);
    if (!info)
        return STATUS_SUCCESS;
    if (!kx_kext_id(k)) {
        if (plist_dict_get_item(info, "IOKitPersonalities")) {
            pthread_rwlock_wrlock(&c->lock);
            problem(c, "%s: no CFBundleIdentifier: its personalities are left out",
                    kx_kext_path(k));
            pthread_rwlock_unlock(&c->lock);
        }
        return STATUS_SUCCESS;
    }
    return kx_catalog_add_info(c, kx_kext_id(k), kx_kext_path(k), info,
                               kx_kext_declares_executable(k), n_added);
}

size_t kx_catalog_remove_kext(struct kx_catalog *c, const char *bundle_id)
{
    pthread_rwlock_wrlock(&c->lock);
    size_t n = remove_where(c, bundle_id, 0);
    kx_classes_forget(c->classes, bundle_id);
    pthread_rwlock_unlock(&c->lock);
    return n;
}

kx_status kx_catalog_list(struct kx_catalog *c, struct kx_personality ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&c->lock);
    struct kx_personality **v =
        c->all.n ? malloc(c->all.n * sizeof(struct kx_personality *)) : NULL;
    if (v) {
        for (size_t i = 0; i < c->all.n; i++) {
            v[i] = c->all.v[i];
            kx_personality_retain(v[i]);
        }
        *n = c->all.n;
    }
    int failed = c->all.n && !v;
    pthread_rwlock_unlock(&c->lock);
    *out = v;
    return failed ? STATUS_INSUFFICIENT_RESOURCES : STATUS_SUCCESS;
}

void kx_catalog_list_free(struct kx_personality **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        kx_personality_release(list[i]);
    free(list);
}

size_t kx_catalog_n_problems(struct kx_catalog *c)
{
    pthread_rwlock_rdlock(&c->lock);
    size_t n = c->n_problems;
    pthread_rwlock_unlock(&c->lock);
    return n;
}

const char *kx_catalog_problem(struct kx_catalog *c, size_t i)
{
    pthread_rwlock_rdlock(&c->lock);
    const char *s = i < c->n_problems ? c->problems[i] : NULL;
    pthread_rwlock_unlock(&c->lock);
    return s;
}
