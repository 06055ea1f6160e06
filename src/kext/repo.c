/* repo.c — the kext repository: every kext by bundle identifier.
 *
 * Kexts are kept twice: in `all`, in the order they were added (which is
 * what "most recently added" means for ties), and in an open-addressing hash
 * table from identifier to every copy of it, sorted in preference order —
 * version descending, equal versions most recently added first — so that the
 * resolver's question "the best copy for this request" is one hash lookup and
 * a short scan (Apple keeps the same order per identifier in
 * __OSKextRecordKextInIdentifierDict). At most one copy per identifier is
 * marked loaded; a loaded copy is the only candidate for its identifier.
 *
 * Every change bumps r->gen, which invalidates the resolver's per-kext memo.
 *
 * kxd lives long and is sent bundles by path: a copy may be edited, broken or
 * deleted after it was read. kx_kext_repo_refresh reads an identifier's
 * copies again when a request names it, forgetting those whose bundle is
 * gone, so that a request never gets a copy that no longer exists.
 */
#include "kext_int.h"

#include "core/plat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_SLOTS 64
#define DUP_LIST_MAX 8 /* copies named in one duplicate warning */

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The slot holding id, or the empty slot where it would go. */
static struct kx_id_entry *probe(struct kx_id_entry *slots, size_t n_slots, const char *id)
{
    size_t mask = n_slots - 1, i = (size_t)hash_id(id) & mask;
    while (slots[i].id && strcmp(slots[i].id, id) != 0)
        i = (i + 1) & mask;
    return &slots[i];
}

static kx_status grow_slots(struct kx_kext_repo *r)
{
    size_t n = r->n_slots ? r->n_slots * 2 : INITIAL_SLOTS;
    struct kx_id_entry *slots = calloc(n, sizeof *slots);
    if (!slots)
        return STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < r->n_slots; i++)
        if (r->slots[i].id)
            *probe(slots, n, r->slots[i].id) = r->slots[i];
    free(r->slots);
    r->slots = slots;
    r->n_slots = n;
    return STATUS_SUCCESS;
}

const struct kx_id_entry *kx__repo_find(const struct kx_kext_repo *r, const char *id)
{
    if (!id || !r->n_slots)
        return NULL;
    const struct kx_id_entry *e = probe(r->slots, r->n_slots, id);
    return e->id ? e : NULL;
}

static kx_status index_kext(struct kx_kext_repo *r, struct kx_kext *k)
{
    if (!k->id)
        return STATUS_SUCCESS; /* no identifier: only reachable as a checked kext */
    if ((r->n_ids + 1) * 2 > r->n_slots) {
        kx_status st = grow_slots(r);
        if (st != STATUS_SUCCESS)
            return st;
    }
    struct kx_id_entry *e = probe(r->slots, r->n_slots, k->id);
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 2;
        struct kx_kext **v = realloc(e->kexts, cap * sizeof(struct kx_kext *));
        if (!v)
            return STATUS_INSUFFICIENT_RESOURCES;
        e->kexts = v;
        e->cap = cap;
    }
    if (!e->id) {
        e->id = k->id;
        r->n_ids++;
    }
    /* Before the first copy of lower or equal version: newest first on ties. */
    size_t pos = 0;
    while (pos < e->n && e->kexts[pos]->version > k->version)
        pos++;
    memmove(&e->kexts[pos + 1], &e->kexts[pos], (e->n - pos) * sizeof(struct kx_kext *));
    e->kexts[pos] = k;
    e->n++;
    if (k->is_loaded && !e->loaded)
        e->loaded = k;
    return STATUS_SUCCESS;
}

static kx_status push(struct kx_kext ***v, size_t *n, size_t *cap, struct kx_kext *k)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        struct kx_kext **nv = realloc(*v, c * sizeof(struct kx_kext *));
        if (!nv)
            return STATUS_INSUFFICIENT_RESOURCES;
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = k;
    return STATUS_SUCCESS;
}

static kx_status register_kext(struct kx_kext_repo *r, struct kx_kext *k)
{
    kx_status st = push(&r->all, &r->n_all, &r->cap_all, k);
    if (st != STATUS_SUCCESS)
        return st;
    k->repo = r;
    k->seq = r->next_seq++;
    if ((st = index_kext(r, k)) != STATUS_SUCCESS)
        return st;
    for (size_t i = 0; i < k->n_plugins && st == STATUS_SUCCESS; i++)
        st = register_kext(r, k->plugins[i]);
    return st;
}

/* ---- Public ---------------------------------------------------------------------------------- */

kx_status kx_kext_repo_new(const struct kx_kext_options *opts, struct kx_kext_repo **out)
{
    static const struct kx_kext_options defaults = KX_KEXT_OPTIONS_INIT;
    struct kx_kext_repo *r = calloc(1, sizeof *r);
    kx_status st;
    *out = NULL;
    if (!r)
        return STATUS_INSUFFICIENT_RESOURCES;
    r->opts = opts ? *opts : defaults;
    r->arch = strdup(kx__arch_or_host(r->opts.arch));
    r->opts.arch = r->arch;
    r->is_lp64 = kx__arch_is_lp64(r->arch);
    r->gen = 1;
    if (!r->arch) {
        st = STATUS_INSUFFICIENT_RESOURCES;
        goto fail;
    }
    if ((st = grow_slots(r)) != STATUS_SUCCESS || (st = kx__profile_add_builtin(r)) != STATUS_SUCCESS)
        goto fail;
    *out = r;
    return STATUS_SUCCESS;
fail:
    kx_kext_repo_free(r);
    return st;
}

void kx_kext_repo_free(struct kx_kext_repo *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_owned; i++)
        kx_kext_free(r->owned[i]);
    for (size_t i = 0; i < r->n_slots; i++)
        free(r->slots[i].kexts);
    free(r->slots);
    free(r->owned);
    free(r->all);
    kx_diags_clear(&r->diags);
    kx_diags_clear(&r->dup_diags);
    free(r->system);
    free(r->arch);
    free(r);
}

kx_status kx_kext_repo_adopt(struct kx_kext_repo *r, struct kx_kext *k)
{
    kx_status st;
    if (!k || k->repo || k->parent)
        return STATUS_INVALID_PARAMETER; /* owned elsewhere: not ours to free */
    if ((st = push(&r->owned, &r->n_owned, &r->cap_owned, k)) != STATUS_SUCCESS) {
        kx_kext_free(k);
        return st;
    }
    r->gen++;
    return register_kext(r, k);
}

kx_status kx__repo_add_pseudo(struct kx_kext_repo *r, struct kx_kext *k)
{
    k->is_pseudo = 1;
    k->is_loaded = 1;
    return kx_kext_repo_adopt(r, k);
}

int kx__repo_owns(const struct kx_kext_repo *r, const struct kx_kext *k)
{
    return k && k->repo == r;
}

/* folder: the extensions folder path is an entry of, or NULL for a bundle named directly. */
static kx_status add_bundle(struct kx_kext_repo *r, const char *path, const char *folder,
                            struct kx_kext **out)
{
    struct kx_kext *k = NULL;
    kx_status st = kx_kext_read(path, &r->opts, &k);
    if (out)
        *out = NULL;
    if (st != STATUS_SUCCESS)
        return st;
    if (folder && (st = kx__kext_check_folder_entry(k, folder)) != STATUS_SUCCESS) {
        kx_kext_free(k);
        return st;
    }
    if ((st = kx_kext_repo_adopt(r, k)) == STATUS_SUCCESS && out)
        *out = k;
    return st;
}

kx_status kx_kext_repo_add_kext(struct kx_kext_repo *r, const char *path, struct kx_kext **out)
{
    char *real = NULL;
    kx_status st = kx_plat_realpath(path, &real);
    if (out)
        *out = NULL;
    if (st != STATUS_SUCCESS)
        return st;
    /* The same bundle twice (a KEXT that is also in an extensions folder) is one kext. */
    for (size_t i = 0; i < r->n_all; i++)
        if (r->all[i]->real_path && strcmp(r->all[i]->real_path, real) == 0) {
            free(real);
            if (out)
                *out = r->all[i];
            return STATUS_SUCCESS;
        }
    free(real);
    return add_bundle(r, path, NULL, out);
}

kx_status kx_kext_repo_add_folder(struct kx_kext_repo *r, const char *dir)
{
    char **names = NULL;
    size_t n = 0;
    kx_status st = kx_plat_list_dir(dir, &names, &n);
    if (st != STATUS_SUCCESS)
        return st;
    for (size_t i = 0; i < n && st != STATUS_INSUFFICIENT_RESOURCES; i++) {
        size_t len = strlen(names[i]);
        if (len <= 5 || strcmp(names[i] + len - 5, ".kext") != 0)
            continue;
        char *path = kx_plat_path_join(dir, names[i]);
        if (!path) {
            st = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        kx_status rs = add_bundle(r, path, dir, NULL);
        if (rs == STATUS_INSUFFICIENT_RESOURCES)
            st = rs;
        else if (rs != STATUS_SUCCESS && rs != STATUS_NOT_A_DIRECTORY)
            st = kx_diags_add(&r->diags, KX_D_BUNDLE_OPEN, dir, names[i], "%s",
                              kx_status_string(rs));
        free(path);
    }
    kx_plat_free_names(names, n);
    return st == STATUS_INSUFFICIENT_RESOURCES ? st : STATUS_SUCCESS;
}

kx_status kx_kext_repo_set_loaded(struct kx_kext_repo *r, struct kx_kext *k, int is_loaded)
{
    if (!kx__repo_owns(r, k) || !k->id)
        return STATUS_INVALID_PARAMETER;
    struct kx_id_entry *e = probe(r->slots, r->n_slots, k->id);
    if (is_loaded) {
        if (e->loaded && e->loaded != k)
            return STATUS_KEXT_LOADED_VERSION_DIFFERS;
        e->loaded = k;
        k->is_loaded = 1;
    } else {
        if (e->loaded == k)
            e->loaded = NULL;
        k->is_loaded = 0;
    }
    r->gen++;
    return STATUS_SUCCESS;
}

struct kx_kext *kx_kext_repo_lookup(const struct kx_kext_repo *r, const char *id, kx_vers requested)
{
    const struct kx_id_entry *e = kx__repo_find(r, id);
    if (!e)
        return NULL;
    if (e->loaded)
        return requested == KX_VERS_INVALID || kx__classify(e->loaded, requested) == KX_CAND_CHOSEN
                   ? e->loaded
                   : NULL;
    for (size_t i = 0; i < e->n; i++)
        if (requested == KX_VERS_INVALID || kx__classify(e->kexts[i], requested) == KX_CAND_CHOSEN)
            return e->kexts[i];
    return NULL;
}

size_t kx_kext_repo_count(const struct kx_kext_repo *r) { return r->n_all; }

struct kx_kext *kx_kext_repo_kext(const struct kx_kext_repo *r, size_t i)
{
    return i < r->n_all ? r->all[i] : NULL;
}

const char *kx_kext_repo_system(const struct kx_kext_repo *r) { return r->system; }

/* ---- Forgetting and reading again -------------------------------------------------------------- */

/* Takes k (and its plug-ins) out of the identifier table. An identifier
 * left without copies would leave a hole in its probe chain: the caller
 * rehashes. */
static void unindex(struct kx_kext_repo *r, struct kx_kext *k)
{
    for (size_t i = 0; i < k->n_plugins; i++)
        unindex(r, k->plugins[i]);
    if (!k->id)
        return;
    struct kx_id_entry *e = probe(r->slots, r->n_slots, k->id);
    size_t pos = 0;
    while (pos < e->n && e->kexts[pos] != k)
        pos++;
    if (pos == e->n)
        return;
    memmove(&e->kexts[pos], &e->kexts[pos + 1], (e->n - pos - 1) * sizeof(struct kx_kext *));
    if (--e->n > 0)
        e->id = e->kexts[0]->id; /* k's copy of the string goes with k */
}

/* Moves the table into slots (zeroed, the same size), leaving out the
 * identifiers that lost every copy. */
static void rehash_into(struct kx_kext_repo *r, struct kx_id_entry *slots)
{
    r->n_ids = 0;
    for (size_t i = 0; i < r->n_slots; i++) {
        if (!r->slots[i].id)
            continue;
        if (!r->slots[i].n) {
            free(r->slots[i].kexts);
            continue;
        }
        *probe(slots, r->n_slots, r->slots[i].id) = r->slots[i];
        r->n_ids++;
    }
    free(r->slots);
    r->slots = slots;
}

static int any_loaded(const struct kx_kext *k)
{
    for (size_t i = 0; i < k->n_plugins; i++)
        if (any_loaded(k->plugins[i]))
            return 1;
    return k->is_loaded;
}

static void drop_from(struct kx_kext **v, size_t *n, const struct kx_kext *k)
{
    size_t w = 0;
    for (size_t i = 0; i < *n; i++)
        if (v[i] != k && (!v[i]->parent || !kx__kext_is_inside(v[i], k)))
            v[w++] = v[i];
    *n = w;
}

int kx__kext_is_inside(const struct kx_kext *x, const struct kx_kext *top)
{
    for (; x; x = x->parent)
        if (x == top)
            return 1;
    return 0;
}

kx_status kx_kext_repo_forget(struct kx_kext_repo *r, struct kx_kext *k)
{
    if (!kx__repo_owns(r, k) || k->parent || k->is_pseudo)
        return STATUS_INVALID_PARAMETER;
    if (any_loaded(k))
        return STATUS_KEXT_IN_USE;
    /* The new table is allocated first, so nothing can fail half-way. */
    struct kx_id_entry *slots = calloc(r->n_slots, sizeof *slots);
    if (!slots)
        return STATUS_INSUFFICIENT_RESOURCES;
    unindex(r, k);
    rehash_into(r, slots);
    drop_from(r->all, &r->n_all, k);
    drop_from(r->owned, &r->n_owned, k);
    r->gen++;
    kx_kext_free(k);
    return STATUS_SUCCESS;
}

struct kx_kext *const *kx_kext_repo_copies(const struct kx_kext_repo *r, const char *id, size_t *n)
{
    const struct kx_id_entry *e = kx__repo_find(r, id);
    *n = e ? e->n : 0;
    return e ? e->kexts : NULL;
}

kx_status kx_kext_repo_refresh(struct kx_kext_repo *r, const char *id, FILE *report)
{
    size_t n = 0;
    struct kx_kext *const *copies = kx_kext_repo_copies(r, id, &n);
    /* The table changes as copies go and come: work from a list of paths. */
    struct old { char *path, *folder; struct kx_kext *k; } *olds = calloc(n ? n : 1, sizeof *olds);
    size_t n_old = 0;
    kx_status st = olds ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < n && st == STATUS_SUCCESS; i++) {
        struct kx_kext *k = copies[i];
        if (k->parent || k->is_pseudo || any_loaded(k))
            continue; /* plug-ins go with their bundle; loaded code stays as loaded */
        olds[n_old].k = k;
        if (!(olds[n_old].path = strdup(k->path)) ||
            (k->folder && !(olds[n_old].folder = strdup(k->folder))))
            st = STATUS_INSUFFICIENT_RESOURCES;
        n_old++;
    }
    for (size_t i = 0; i < n_old && st == STATUS_SUCCESS; i++) {
        struct kx_plat_stat sb;
        int gone = kx_plat_stat(olds[i].path, &sb) != STATUS_SUCCESS || !sb.is_dir;
        if ((st = kx_kext_repo_forget(r, olds[i].k)) != STATUS_SUCCESS)
            break;
        if (gone) {
            if (report)
                fprintf(report, "%s: forgot %s: the bundle is gone.\n", id, olds[i].path);
            continue;
        }
        kx_status rs = add_bundle(r, olds[i].path, olds[i].folder, NULL);
        if (rs == STATUS_INSUFFICIENT_RESOURCES)
            st = rs;
        else if (rs != STATUS_SUCCESS && report)
            fprintf(report, "%s: forgot %s: can't read it again: %s.\n", id, olds[i].path,
                    kx_status_string(rs));
    }
    for (size_t i = 0; i < n_old; i++) {
        free(olds[i].path);
        free(olds[i].folder);
    }
    free(olds);
    return st;
}

/* ---- Duplicates ------------------------------------------------------------------------------ */

kx_status kx__repo_duplicate_diag(struct kx_kext_repo *r, const char *id, struct kx_diags *d)
{
    const struct kx_id_entry *e = kx__repo_find(r, id);
    char *list = NULL;
    size_t list_len = 0;
    FILE *f;
    kx_status st;
    if (!e || e->n < 2)
        return STATUS_SUCCESS;
    if (!(f = open_memstream(&list, &list_len)))
        return STATUS_INSUFFICIENT_RESOURCES;
    fprintf(f, "%zu copies:", e->n);
    for (size_t i = 0; i < e->n && i < DUP_LIST_MAX; i++)
        fprintf(f, "%s %s (%s)", i ? "," : "",
                e->kexts[i]->version_str ? e->kexts[i]->version_str : "no version",
                e->kexts[i]->path);
    if (e->n > DUP_LIST_MAX)
        fprintf(f, ", and %zu more", e->n - DUP_LIST_MAX);
    if (e->loaded)
        fprintf(f, "; the loaded copy always wins: %s", e->loaded->path);
    else if (e->kexts[0]->version == e->kexts[1]->version)
        fprintf(f, "; equal versions, so the most recently added copy wins: %s",
                e->kexts[0]->path);
    else
        fprintf(f, "; a request gets the highest compatible version (%s for any request it "
                   "satisfies)",
                e->kexts[0]->path);
    if (fclose(f) != 0 || !list) {
        free(list);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    st = kx_diags_add(d, KX_D_DUPLICATE_ID, NULL, id, "%s", list);
    free(list);
    return st;
}

const struct kx_diags *kx_kext_repo_diags(struct kx_kext_repo *r)
{
    if (r->dup_gen == r->gen)
        return &r->dup_diags;
    kx_diags_clear(&r->dup_diags);
    kx_status st = kx_diags_merge(&r->dup_diags, &r->diags);
    /* One warning per identifier, at its earliest-added copy: file order, not hash order. */
    for (size_t i = 0; i < r->n_all && st == STATUS_SUCCESS; i++) {
        struct kx_kext *k = r->all[i];
        const struct kx_id_entry *e = kx__repo_find(r, k->id);
        if (!e || e->n < 2)
            continue;
        int first = 1;
        for (size_t j = 0; j < e->n; j++)
            first &= e->kexts[j]->seq >= k->seq;
        if (first)
            st = kx__repo_duplicate_diag(r, k->id, &r->dup_diags);
    }
    r->dup_gen = st == STATUS_SUCCESS ? r->gen : 0;
    return &r->dup_diags;
}
