/* match_keys.c — testing one compiled matching dictionary against one registry entry.
 *
 * The order is IOService::matchPassive's: IOProviderClass, IONameMatch, IOLocationMatch,
 * IOPropertyMatch, IOPropertyExistsMatch, IOPathMatch, IORegistryEntryID,
 * IOMatchedServiceCountMatch and the BSD keys, then the family's matchPropertyTable (PCI
 * registers, USB key sets), then IOParentMatch against each provider up to Root and an
 * IOLocationMatch dictionary against the provider. IOResourceMatch comes last: IOKit
 * checks it when a candidate starts, and a candidate that passes everything else but
 * waits for a resource should say so, not fail on another key. The first failing key is
 * reported, with a one-line reason when the caller asks for text (kx match, tests); the
 * runtime's rematch passes skip the formatting.
 *
 * Called with the registry's read lock held; nothing here allocates.
 */
#include "registry_int.h"

#include "core/plist.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kx_mfail_set(struct kx_mfail *f, const char *key, const char *fmt, ...)
{
    f->key = key;
    f->waiting = 0;
    if (!f->want_text)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->why, sizeof f->why, fmt, ap);
    va_end(ap);
}

/* ---- Names ------------------------------------------------------------------------------------
 */

static size_t add_names(plist_t v, struct kx_name_ref *out, size_t n, size_t max)
{
    uint64_t len = 0;
    if (plist_get_node_type(v) == PLIST_STRING) {
        const char *s = plist_get_string_ptr(v, &len);
        if (n < max)
            out[n++] = (struct kx_name_ref){s, (size_t)len};
    } else if (plist_get_node_type(v) == PLIST_DATA) {
        const char *s = plist_get_data_ptr(v, &len), *end = s + len;
        while (s < end && n < max) {
            const char *nul = memchr(s, '\0', (size_t)(end - s));
            size_t l = nul ? (size_t)(nul - s) : (size_t)(end - s);
            if (l)
                out[n++] = (struct kx_name_ref){s, l};
            s += l + 1;
        }
    }
    return n;
}

static size_t nub_names(const struct kx_reg_entry *e, struct kx_name_ref *out, size_t max)
{
    static const char *const keys[] = {"IOName", "name", "compatible", "device_type", "model"};
    size_t n = add_names(plist_dict_get_item(e->props, "IOName"), out, 0, max);
    if (n < max)
        out[n++] = (struct kx_name_ref){e->name, strlen(e->name)};
    for (size_t k = 1; k < sizeof keys / sizeof keys[0]; k++)
        n = add_names(plist_dict_get_item(e->props, keys[k]), out, n, max);
    return n;
}

void kx_mnub_init(struct kx_mnub *n, const struct kx_reg *reg, const struct kx_reg_entry *e)
{
    memset(n, 0, sizeof *n);
    n->reg = reg;
    n->e = e;
    n->n_chain = kx_classes_entry_chain(reg->classes, e->class_name, n->chain, KX_CHAIN_MAX);
    for (size_t i = 0; i < n->n_chain; i++) {
        const char *c = n->chain[i];
        n->is_pci |= strcmp(c, "IOPCIDevice") == 0;
        n->is_usb_device |= strcmp(c, "IOUSBHostDevice") == 0;
        n->is_usb_interface |= strcmp(c, "IOUSBHostInterface") == 0;
    }
    n->n_names = nub_names(e, n->names, KX_MNUB_NAMES);
    kx_mnub_family_init(n);
}

/* IODTCompareNubName's rule: equal, or a prefix when the wanted name ends in '*'. */
static int name_matches(const char *want, const struct kx_name_ref *have)
{
    size_t wl = strlen(want);
    if (wl && want[wl - 1] == '*')
        return have->len >= wl - 1 && memcmp(want, have->s, wl - 1) == 0;
    return have->len == wl && memcmp(want, have->s, wl) == 0;
}

static void list_names(char *buf, size_t len, const struct kx_name_ref *v, size_t n)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && pos < len; i++)
        pos += (size_t)snprintf(buf + pos, len - pos, "%s\"%.*s\"", i ? ", " : "", (int)v[i].len,
                                v[i].s);
}

static int match_names(const struct kx_mnub *n, const struct kx_mtable *t,
                       const char **name_matched, struct kx_mfail *f)
{
    const struct kx_name_ref *names = n->names;
    size_t k = n->n_names;
    for (size_t i = 0; i < t->n_names; i++)
        for (size_t j = 0; j < k; j++)
            if (name_matches(t->names[i], &names[j])) {
                if (name_matched)
                    *name_matched = t->names[i];
                return 1;
            }
    if (f->want_text) {
        char have[160];
        list_names(have, sizeof have, names, k);
        if (t->n_names == 1)
            kx_mfail_set(f, "IONameMatch", "\"%s\" is not one of the nub's names (%s)", t->names[0],
                         have);
        else
            kx_mfail_set(f, "IONameMatch",
                         "none of its %zu names (\"%s\", ...) is one of the nub's names (%s)",
                         t->n_names, t->n_names ? t->names[0] : "", have);
    } else {
        f->key = "IONameMatch";
    }
    return 0;
}

/* ---- Properties -------------------------------------------------------------------------------
 */

static int subset_of(const struct kx_reg_entry *e, const struct kx_subset *s, size_t *bad_key)
{
    for (size_t i = 0; i < s->n; i++)
        if (!kx_plist_equal(plist_dict_get_item(e->props, s->keys[i]), s->values[i])) {
            *bad_key = i;
            return 0;
        }
    return 1;
}

static int match_properties(const struct kx_reg_entry *e, const struct kx_mtable *t,
                            struct kx_mfail *f)
{
    size_t bad = 0;
    for (size_t i = 0; i < t->n_property_match; i++)
        if (subset_of(e, &t->property_match[i], &bad))
            return 1;
    if (t->n_property_match != 1) {
        kx_mfail_set(f, "IOPropertyMatch",
                     "none of its %zu dictionaries is contained in the nub's properties",
                     t->n_property_match);
    } else if (f->want_text) {
        const struct kx_subset *s = &t->property_match[0];
        plist_t prop = plist_dict_get_item(e->props, s->keys[bad]);
        char want[96], have[96];
        kx_plist_format(s->values[bad], 0, want, sizeof want);
        if (prop)
            kx_plist_format(prop, 0, have, sizeof have);
        kx_mfail_set(f, "IOPropertyMatch", "\"%s\" is %s on the nub, %s wanted", s->keys[bad],
                     prop ? have : "absent", want);
    } else {
        f->key = "IOPropertyMatch";
    }
    return 0;
}

static int match_exists(const struct kx_reg_entry *e, plist_t em, struct kx_mfail *f)
{
    if (plist_get_node_type(em) == PLIST_STRING) {
        const char *key = plist_get_string_ptr(em, NULL);
        if (plist_dict_get_item(e->props, key))
            return 1;
        kx_mfail_set(f, "IOPropertyExistsMatch", "the nub has no property \"%s\"", key);
        return 0;
    }
    uint32_t n = plist_array_get_size(em);
    for (uint32_t i = 0; i < n; i++) {
        plist_t k = plist_array_get_item(em, i);
        if (plist_get_node_type(k) == PLIST_STRING &&
            plist_dict_get_item(e->props, plist_get_string_ptr(k, NULL)))
            return 1;
    }
    kx_mfail_set(f, "IOPropertyExistsMatch", "the nub has none of the %u properties named", n);
    return 0;
}

static unsigned count_categories(const struct kx_reg_entry *e)
{
    unsigned n = 0;
    for (size_t i = 0; i < e->children[KX_REG_SERVICE].n; i++) {
        const struct kx_reg_entry *c = e->children[KX_REG_SERVICE].v[i];
        if (!(c->state & KX_REG_TERMINATED) && plist_dict_get_item(c->props, "IOMatchCategory"))
            n++;
    }
    return n;
}

static int match_bsd(const struct kx_reg_entry *e, const struct kx_mtable *t, struct kx_mfail *f)
{
    static const char *const keys[] = {"IOBSDName", "IOBSDMajor", "IOBSDMinor", "IOBSDUnit"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        plist_t want = plist_dict_get_item(t->dict, keys[i]);
        if (want && !kx_plist_equal(want, plist_dict_get_item(e->props, keys[i]))) {
            kx_mfail_set(f, keys[i], "the nub's %s differs", keys[i]);
            return 0;
        }
    }
    return 1;
}

/* ---- Providers --------------------------------------------------------------------------------
 */

static const struct kx_reg_entry *provider_of(const struct kx_reg_entry *e)
{
    return e->parents[KX_REG_SERVICE].n ? e->parents[KX_REG_SERVICE].v[0] : NULL;
}

static int match_parent(const struct kx_mnub *n, const struct kx_mtable *t, struct kx_mfail *f)
{
    struct kx_mfail nearest = {f->want_text, NULL, "", 0};
    for (const struct kx_reg_entry *a = provider_of(n->e); a; a = provider_of(a)) {
        struct kx_mnub up;
        struct kx_mfail pf = {f->want_text, NULL, "", 0};
        int64_t score = 0;
        kx_mnub_init(&up, n->reg, a);
        if (kx_match_table(&up, t, &score, NULL, &pf))
            return 1;
        if (!nearest.key)
            nearest = pf;
    }
    kx_mfail_set(f, "IOParentMatch", "no provider up to Root matches it (the nearest fails %s%s%s)",
                 nearest.key ? nearest.key : "nothing: the nub has no provider",
                 nearest.key ? ": " : "", nearest.key ? nearest.why : "");
    return 0;
}

static int match_location_table(const struct kx_mnub *n, const struct kx_mtable *t,
                                struct kx_mfail *f)
{
    const struct kx_reg_entry *p = provider_of(n->e);
    struct kx_mfail pf = {f->want_text, NULL, "", 0};
    if (p) {
        struct kx_mnub up;
        int64_t score = 0;
        kx_mnub_init(&up, n->reg, p);
        if (kx_match_table(&up, t, &score, NULL, &pf))
            return 1;
    }
    kx_mfail_set(f, "IOLocationMatch", "the provider doesn't match its dictionary (%s%s%s)",
                 pf.key ? pf.key : "the nub has no provider", pf.key ? ": " : "", pf.why);
    return 0;
}

static int match_resources(const struct kx_mnub *n, const struct kx_mtable *t, struct kx_mfail *f)
{
    if (!t->n_resources)
        return 1;
    const struct kx_reg_entry *res = kx_reg_entry_locked(n->reg, n->reg->resources);
    for (size_t i = 0; i < t->n_resources; i++)
        if (!res || !plist_dict_get_item(res->props, t->resources[i])) {
            /* said even on runtime passes: the runtime reports what a nub waits for */
            f->key = "IOResourceMatch";
            f->waiting = 1;
            snprintf(f->why, sizeof f->why, "waiting for resource %s", t->resources[i]);
            return 0;
        }
    return 1;
}

/* ---- The table --------------------------------------------------------------------------------
 */

static int in_chain(const struct kx_mnub *n, const char *class_name)
{
    for (size_t i = 0; i < n->n_chain; i++)
        if (strcmp(n->chain[i], class_name) == 0)
            return 1;
    return 0;
}

int kx_match_table(const struct kx_mnub *n, const struct kx_mtable *t, int64_t *score,
                   const char **name_matched, struct kx_mfail *f)
{
    const struct kx_reg_entry *e = n->e;
    if (t->unknown_key) {
        kx_mfail_set(f, t->unknown_key,
                     "unknown matching key: neither IOKit nor its families define %s, so the "
                     "personality can't be satisfied",
                     t->unknown_key);
        return 0;
    }
    if (t->bad_key) {
        kx_mfail_set(f, t->bad_key, "must be %s, not %s", t->bad_type,
                     kx_plist_type_name(plist_dict_get_item(t->dict, t->bad_key)));
        return 0;
    }
    if (t->provider_class &&
        !in_chain(n, kx_classes_matched_as(n->reg->classes, t->provider_class))) {
        kx_mfail_set(f, "IOProviderClass", "%s is not a %s", e->class_name, t->provider_class);
        return 0;
    }
    if (t->names && !match_names(n, t, name_matched, f))
        return 0;
    if (t->location && strcmp(t->location, e->location) != 0) {
        kx_mfail_set(f, "IOLocationMatch", "the nub's location is \"%s\", not \"%s\"", e->location,
                     t->location);
        return 0;
    }
    if (t->has_property_match && !match_properties(e, t, f))
        return 0;
    if (t->exists_match && !match_exists(e, t->exists_match, f))
        return 0;
    if (t->path_match) {
        struct kx_reg_entry *at = NULL;
        if (kx_reg_lookup_path_locked(n->reg, t->path_match, &at) != STATUS_SUCCESS || at != e) {
            kx_mfail_set(f, "IOPathMatch", "%s is %s", t->path_match,
                         at ? "another entry" : "no entry");
            return 0;
        }
    }
    if (t->has_entry_id && t->entry_id != e->id) {
        kx_mfail_set(f, "IORegistryEntryID", "the nub's id is 0x%llx", (unsigned long long)e->id);
        return 0;
    }
    if (t->has_service_count && t->service_count != count_categories(e)) {
        kx_mfail_set(f, "IOMatchedServiceCountMatch", "the nub has %u matched clients, not %llu",
                     count_categories(e), (unsigned long long)t->service_count);
        return 0;
    }
    if (t->has_bsd_keys && !match_bsd(e, t, f))
        return 0;
    if (t->generic_only)
        return 1;
    if (n->is_pci && !kx_match_pci(n, t, f))
        return 0;
    if ((n->is_usb_device || n->is_usb_interface) && !kx_match_usb(n, t, score, f))
        return 0;
    if (t->parent_table && !match_parent(n, t->parent_table, f))
        return 0;
    if (t->location_table && !match_location_table(n, t->location_table, f))
        return 0;
    return match_resources(n, t, f);
}
