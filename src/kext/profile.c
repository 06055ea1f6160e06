/* profile.c — the kernel's own interfaces as pseudo-kexts, from data files.
 *
 * A kernel exports its interfaces as kexts that have no code of their own
 * (OSKernelResource), exactly as xnu's System.kext/PlugIns do. kx describes
 * them as data, compiled into libkx with kx_embed():
 *   data/kx.plist              kx's KPIs (profile "kx"), in every repository;
 *   data/macos-profiles.plist  one profile per Mac OS X release of the
 *                              kext-dependencies tables, plus a modern one.
 * Both files share one schema (documented at the top of each file):
 *   Profiles = [ { Name, Aliases?, Description, KernelVersion, LP64?, Inherit?,
 *                  Kexts = { <bundle id> = { CFBundleVersion?, OSBundleCompatibleVersion?,
 *                                            KXLibrary?, KXSymbolSet?, CFBundleName? } | false } } ]
 * An entry's CFBundleVersion defaults to the profile's KernelVersion (xnu
 * stamps KERNEL_VERSION_LONG the same way); OSBundleCompatibleVersion defaults
 * to the entry's version; KXLibrary=false makes it a non-library; `false`
 * removes an inherited entry. Inherit names an earlier profile whose entries
 * are merged key by key. Each entry becomes an ordinary Info dictionary that
 * goes through the same validation as any kext, so bad data can't slip in.
 */
#include "kext_int.h"

#include "core/plist.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const unsigned char kx_data_kx_plist[];
extern const size_t kx_data_kx_plist_len;
extern const unsigned char kx_data_macos_profiles[];
extern const size_t kx_data_macos_profiles_len;

#define MAX_INHERIT 32 /* an Inherit chain longer than this is a data error (or a loop) */

static plist_t parse_data(const unsigned char *data, size_t len)
{
    plist_t root = NULL;
    const char *why = NULL;
    if (kx_plist_parse(data, len, &root, &why) != STATUS_SUCCESS)
        return NULL;
    if (!kx_plist_is(kx_plist_get(root, "Profiles"), PLIST_ARRAY)) {
        plist_free(root);
        return NULL;
    }
    return root;
}

static int profile_matches(plist_t p, const char *name)
{
    const char *n = kx_plist_string(p, "Name", NULL);
    plist_t aliases = kx_plist_get(p, "Aliases");
    if (n && strcasecmp(n, name) == 0)
        return 1;
    for (uint32_t i = 0; kx_plist_is(aliases, PLIST_ARRAY) && i < plist_array_get_size(aliases); i++) {
        const char *a = NULL;
        plist_t item = plist_array_get_item(aliases, i);
        if (kx_plist_is(item, PLIST_STRING))
            a = plist_get_string_ptr(item, NULL);
        if (a && strcasecmp(a, name) == 0)
            return 1;
    }
    return 0;
}

static plist_t find_profile(plist_t root, const char *name)
{
    plist_t profiles = kx_plist_get(root, "Profiles");
    for (uint32_t i = 0; i < plist_array_get_size(profiles); i++) {
        plist_t p = plist_array_get_item(profiles, i);
        if (kx_plist_is(p, PLIST_DICT) && profile_matches(p, name))
            return p;
    }
    return NULL;
}

/* What a profile adds up to after inheritance. */
struct effective {
    plist_t kexts; /* id -> entry dict (owned) */
    const char *kernel_version;
    int is_lp64;
};

static void overlay(plist_t into, plist_t kexts)
{
    plist_dict_iter it = NULL;
    plist_dict_new_iter(kexts, &it);
    for (;;) {
        char *id = NULL;
        plist_t entry = NULL;
        plist_dict_next_item(kexts, it, &id, &entry);
        if (!entry) {
            free(id);
            break;
        }
        plist_t have = plist_dict_get_item(into, id);
        if (kx_plist_is(entry, PLIST_BOOLEAN)) {
            if (have)
                plist_dict_remove_item(into, id);
        } else if (kx_plist_is(entry, PLIST_DICT) && kx_plist_is(have, PLIST_DICT)) {
            plist_dict_merge(&have, entry);
        } else if (kx_plist_is(entry, PLIST_DICT)) {
            plist_dict_set_item(into, id, plist_copy(entry));
        }
        free(id);
    }
    free(it);
}

/* Resolves Inherit chains, oldest ancestor first. Returns 0 on a data error. */
static int effective_of(plist_t root, plist_t p, struct effective *eff)
{
    plist_t chain[MAX_INHERIT];
    size_t n = 0;
    uint8_t lp64 = 0;
    for (plist_t q = p; q; n++) {
        const char *parent = kx_plist_string(q, "Inherit", NULL);
        if (n == MAX_INHERIT)
            return 0;
        chain[n] = q;
        q = parent ? find_profile(root, parent) : NULL;
        if (parent && !q)
            return 0;
    }
    eff->kexts = plist_new_dict();
    eff->kernel_version = NULL;
    eff->is_lp64 = 0;
    while (n-- > 0) {
        plist_t kexts = kx_plist_get(chain[n], "Kexts");
        const char *kv = kx_plist_string(chain[n], "KernelVersion", NULL);
        plist_t l = kx_plist_get(chain[n], "LP64");
        if (kv)
            eff->kernel_version = kv;
        if (kx_plist_is(l, PLIST_BOOLEAN)) {
            plist_get_bool_val(l, &lp64);
            eff->is_lp64 = lp64 != 0;
        }
        if (kx_plist_is(kexts, PLIST_DICT))
            overlay(eff->kexts, kexts);
    }
    return eff->kernel_version != NULL;
}

/* The Info dictionary of one pseudo-kext. */
static plist_t info_for(const char *id, plist_t entry, const char *kernel_version)
{
    plist_t d = plist_new_dict();
    const char *version = kx_plist_string(entry, "CFBundleVersion", NULL);
    const char *compat = kx_plist_string(entry, "OSBundleCompatibleVersion", NULL);
    const char *name = kx_plist_string(entry, "CFBundleName", NULL);
    const char *symbols = kx_plist_string(entry, "KXSymbolSet", NULL);
    int is_library = 1;
    if (!version)
        version = kernel_version;
    if (!compat)
        compat = version;
    kx_plist_bool(entry, "KXLibrary", &is_library);

    plist_dict_set_item(d, "CFBundleIdentifier", plist_new_string(id));
    plist_dict_set_item(d, "CFBundleName", plist_new_string(name ? name : id));
    plist_dict_set_item(d, "CFBundlePackageType", plist_new_string("KEXT"));
    plist_dict_set_item(d, "CFBundleVersion", plist_new_string(version));
    if (is_library)
        plist_dict_set_item(d, "OSBundleCompatibleVersion", plist_new_string(compat));
    plist_dict_set_item(d, "OSKernelResource", plist_new_bool(1));
    plist_dict_set_item(d, "OSBundleRequired", plist_new_string("Root"));
    plist_dict_set_item(d, "OSBundleAllowUserLoad", plist_new_bool(1));
    if (symbols) /* the exported-symbol list for the link check (data/exports/) */
        plist_dict_set_item(d, "KXSymbolSet", plist_new_string(symbols));
    return d;
}

static kx_status add_profile(struct kx_kext_repo *r, plist_t root, const char *name, int is_system)
{
    plist_t p = find_profile(root, name);
    struct effective eff = {NULL, NULL, 0};
    kx_status st = STATUS_SUCCESS;
    if (!p)
        return STATUS_KEXT_NOT_FOUND;
    if (!effective_of(root, p, &eff)) {
        if (eff.kexts)
            plist_free(eff.kexts);
        return STATUS_INTERNAL_ERROR;
    }
    const char *canonical = kx_plist_string(p, "Name", NULL);
    plist_dict_iter it = NULL;
    plist_dict_new_iter(eff.kexts, &it);
    while (st == STATUS_SUCCESS) {
        char *id = NULL, *path = NULL;
        plist_t entry = NULL;
        plist_dict_next_item(eff.kexts, it, &id, &entry);
        if (!entry) {
            free(id);
            break;
        }
        struct kx_kext *k = NULL;
        if (asprintf(&path, "profile:%s/%s", canonical, id) < 0 || !(k = kx__kext_alloc(path))) {
            st = STATUS_INSUFFICIENT_RESOURCES;
        } else if ((st = kx__kext_set_info(k, info_for(id, entry, eff.kernel_version), r->arch)) ==
                       STATUS_SUCCESS &&
                   kx_diags_count_errors(&k->diags)) {
            /* Built-in data that fails validation is a bug in data/, not a user problem. */
            st = STATUS_INTERNAL_ERROR;
        } else if (st == STATUS_SUCCESS) {
            st = kx__repo_add_pseudo(r, k); /* takes k, even when it fails */
            k = NULL;
        }
        if (st != STATUS_SUCCESS && k)
            kx_kext_free(k);
        free(path);
        free(id);
    }
    free(it);
    if (st == STATUS_SUCCESS && is_system) {
        r->is_lp64 = eff.is_lp64;
        kx_vers kv = kx_vers_parse(eff.kernel_version);
        r->pre_oskext = kv != KX_VERS_INVALID && kv < kx_vers_parse("10.0");
        r->system = strdup(canonical);
        if (!r->system)
            st = STATUS_INSUFFICIENT_RESOURCES;
    }
    plist_free(eff.kexts);
    return st;
}

kx_status kx__profile_add_builtin(struct kx_kext_repo *r)
{
    plist_t root = parse_data(kx_data_kx_plist, kx_data_kx_plist_len);
    if (!root)
        return STATUS_INTERNAL_ERROR;
    kx_status st = add_profile(r, root, "kx", 0);
    plist_free(root);
    return st;
}

kx_status kx_kext_repo_use_system(struct kx_kext_repo *r, const char *name)
{
    if (r->system || !name)
        return STATUS_INVALID_PARAMETER;
    plist_t root = parse_data(kx_data_macos_profiles, kx_data_macos_profiles_len);
    if (!root)
        return STATUS_INTERNAL_ERROR;
    kx_status st = add_profile(r, root, name, 1);
    plist_free(root);
    return st;
}

/* ---- Listing --------------------------------------------------------------------------------- */

struct kx_kext_profiles {
    plist_t root;
    struct kx_kext_profile_info *items;
    const char **aliases; /* all aliases, sliced per profile */
    size_t n;
};

kx_status kx_kext_profiles_load(struct kx_kext_profiles **out)
{
    struct kx_kext_profiles *p = calloc(1, sizeof *p);
    size_t n_aliases = 0;
    *out = NULL;
    if (!p)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (!(p->root = parse_data(kx_data_macos_profiles, kx_data_macos_profiles_len))) {
        free(p);
        return STATUS_INTERNAL_ERROR;
    }
    plist_t profiles = kx_plist_get(p->root, "Profiles");
    uint32_t count = plist_array_get_size(profiles);
    for (uint32_t i = 0; i < count; i++)
        n_aliases += plist_array_get_size(kx_plist_get(plist_array_get_item(profiles, i), "Aliases"));
    p->items = calloc(count ? count : 1, sizeof *p->items);
    p->aliases = calloc(n_aliases ? n_aliases : 1, sizeof *p->aliases);
    if (!p->items || !p->aliases) {
        kx_kext_profiles_free(p);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    size_t a = 0;
    for (uint32_t i = 0; i < count; i++) {
        plist_t src = plist_array_get_item(profiles, i);
        struct kx_kext_profile_info *info = &p->items[p->n];
        struct effective eff = {NULL, NULL, 0};
        if (!kx_plist_string(src, "Name", NULL) || !effective_of(p->root, src, &eff)) {
            if (eff.kexts)
                plist_free(eff.kexts);
            kx_kext_profiles_free(p);
            return STATUS_INTERNAL_ERROR;
        }
        info->name = kx_plist_string(src, "Name", NULL);
        info->description = kx_plist_string(src, "Description", NULL);
        info->kernel_version = eff.kernel_version;
        info->is_lp64 = eff.is_lp64;
        info->n_kexts = plist_dict_get_size(eff.kexts);
        info->aliases = &p->aliases[a];
        plist_t al = kx_plist_get(src, "Aliases");
        for (uint32_t j = 0; j < plist_array_get_size(al); j++) {
            plist_t item = plist_array_get_item(al, j);
            if (kx_plist_is(item, PLIST_STRING))
                p->aliases[a + info->n_aliases++] = plist_get_string_ptr(item, NULL);
        }
        a += info->n_aliases;
        plist_free(eff.kexts);
        p->n++;
    }
    *out = p;
    return STATUS_SUCCESS;
}

size_t kx_kext_profiles_count(const struct kx_kext_profiles *p) { return p->n; }

const struct kx_kext_profile_info *kx_kext_profiles_get(const struct kx_kext_profiles *p, size_t i)
{
    return i < p->n ? &p->items[i] : NULL;
}

void kx_kext_profiles_free(struct kx_kext_profiles *p)
{
    if (!p)
        return;
    if (p->root)
        plist_free(p->root);
    free(p->items);
    free(p->aliases);
    free(p);
}
