/* cache.c — building the kext cache.
 *
 * kx_cache_build reads the folders into a repository exactly as a boot scan
 * would (same options, resolved folder paths so bundle paths are absolute),
 * leaves out invalid and inauthentic kexts with a diagnostic each, applies
 * the filter at bundle granularity (a bundle goes in whole, with the bundles
 * of the libraries it resolves to, so a boot from a filtered cache can scan
 * exactly the bundles the cache lacks), writes mkext2 through the existing
 * writer with kx's validity data in _KXCacheInfo, and appends the boot index
 * (cache_index.c). Each kext's driver-info load priority is read here, once,
 * so a boot from the cache never opens an ELF file to order its kexts.
 *
 * The stat snapshot is taken before the kexts are read and again before the
 * archive is written; if the two differ, someone changed a kext while it was
 * being archived, and nothing is written (a cache that matched neither state
 * would pass the check and hold the wrong bytes). The cache's mtime is then
 * set to the newest folder mtime seen at the start, plus 1 s: a folder that
 * changed during the build leaves the cache stale, the safe direction.
 */
#include "boot_int.h"
#include "core/why.h"

#include "core/plat.h"
#include "core/plist.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>


/* ======== Folders ======== */

kx_status kx__cache_resolve_folders(const char *const *folders, size_t n, char ***out, char *why,
                                    size_t why_len)
{
    char **v = calloc(n ? n : 1, sizeof *v);
    *out = NULL;
    if (!v)
        return STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < n; i++) {
        kx_status st = kx_plat_realpath(folders[i], &v[i]);
        if (st != STATUS_SUCCESS) {
            kx__cache_free_folders(v, i);
            return kx_why(why, why_len, st, "extensions folder %s: %s", folders[i],
                        kx_status_string(st));
        }
    }
    *out = v;
    return STATUS_SUCCESS;
}

void kx__cache_free_folders(char **folders, size_t n)
{
    if (!folders)
        return;
    for (size_t i = 0; i < n; i++)
        free(folders[i]);
    free(folders);
}

kx_status kx__cache_newest_mtime(char *const *folders, size_t n, int64_t *mtime_ns, size_t *which)
{
    *mtime_ns = INT64_MIN;
    *which = 0;
    for (size_t i = 0; i < n; i++) {
        struct kx_plat_stat st;
        kx_status s = kx_plat_stat(folders[i], &st);
        if (s != STATUS_SUCCESS) {
            *which = i;
            return s;
        }
        if (st.mtime_ns > *mtime_ns) {
            *mtime_ns = st.mtime_ns;
            *which = i;
        }
    }
    return STATUS_SUCCESS;
}

/* ======== Filters ======== */

const char *kx_cache_filter_name(enum kx_cache_filter f)
{
    switch (f) {
    case KX_CACHE_ALL: return "all";
    case KX_CACHE_LOCAL: return "local";
    case KX_CACHE_NETWORK: return "network";
    case KX_CACHE_SAFE: return "safe";
    }
    return "unknown";
}

int kx_cache_filter_includes(enum kx_cache_filter f, const char *req)
{
    if (f == KX_CACHE_ALL)
        return 1;
    if (!req)
        return 0;
    if (!strcmp(req, "Root") || !strcmp(req, "Console") || !strcmp(req, "DriverKit"))
        return 1;
    return (f == KX_CACHE_LOCAL && !strcmp(req, "Local-Root")) ||
           (f == KX_CACHE_NETWORK && !strcmp(req, "Network-Root")) ||
           (f == KX_CACHE_SAFE && !strcmp(req, "Safe Boot"));
}

char *kx_cache_default_path(const char *folder)
{
    size_t n = strlen(folder);
    char *out = NULL;
    while (n > 1 && folder[n - 1] == '/')
        n--;
    if (asprintf(&out, "%.*s.mkext", (int)n, folder) < 0)
        return NULL;
    return out;
}

void kx_cache_build_report_clear(struct kx_cache_build_report *rep)
{
    if (!rep)
        return;
    kx_diags_clear(&rep->omitted);
    memset(rep, 0, sizeof *rep);
}

/* ======== Building ======== */

struct build {
    struct kx_kext_repo *r;
    enum kx_cache_filter filter;
    struct kx_kext **kexts; /* every kext read, repository order */
    size_t n;
    unsigned char *bad;    /* invalid or inauthentic */
    unsigned char *wanted; /* per kext: its top-level bundle goes in */
    struct kx_cache_build_report *rep;
};

static struct kx_kext *top_of(struct kx_kext *k)
{
    while (k->parent)
        k = k->parent;
    return k;
}

/* Every kext's position in b->kexts: a repository numbers kexts (plug-ins
 * included) consecutively as it adds them, and this one added only folders. */
static size_t index_of(const struct build *b, const struct kx_kext *k)
{
    return k->seq - b->kexts[0]->seq;
}

/* Marks k's whole bundle (its top-level kext and every plug-in) wanted. */
static void want_bundle(struct build *b, struct kx_kext *k)
{
    struct kx_kext *top = top_of(k);
    b->wanted[index_of(b, top)] = 1;
    for (size_t i = 0; i < top->n_plugins; i++)
        b->wanted[index_of(b, top->plugins[i])] = 1;
}

/* The filter, then the libraries of everything wanted, until nothing changes. */
static kx_status choose_bundles(struct build *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (kx_cache_filter_includes(b->filter, b->kexts[i]->required))
            want_bundle(b, b->kexts[i]);
    if (b->filter == KX_CACHE_ALL)
        return STATUS_SUCCESS;
    unsigned char *done = calloc(b->n ? b->n : 1, 1);
    if (!done)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = STATUS_SUCCESS;
    for (int changed = 1; changed && st == STATUS_SUCCESS;) {
        changed = 0;
        for (size_t i = 0; i < b->n && st == STATUS_SUCCESS; i++) {
            struct kx_kext_resolution *res = NULL;
            if (!b->wanted[i] || done[i] || b->bad[i])
                continue;
            done[i] = 1;
            if ((st = kx_kext_resolve(b->r, b->kexts[i], &res)) != STATUS_SUCCESS)
                break;
            for (size_t j = 0; j < kx_kext_resolution_n_load_order(res); j++) {
                struct kx_kext *d = kx_kext_resolution_load_order(res, j);
                if (!d->is_pseudo && !b->wanted[index_of(b, d)]) {
                    want_bundle(b, d);
                    changed = 1;
                }
            }
            kx_kext_resolution_free(res);
        }
    }
    free(done);
    return st;
}

/* One bundle left out: a diagnostic in the report, and (record) an Omitted entry with `first`
 * as its reason, which a boot from the cache gives as the bundle's. */
static kx_status omit(struct build *b, plist_t omitted_list, int record, const char *path,
                      const char *id, const char *version, const struct kx_diag *first)
{
    char *text = first ? kx_diag_line(first) : strdup("no bundle identifier");
    if (!text)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = STATUS_SUCCESS;
    if (b->rep)
        st = kx_diags_add(&b->rep->omitted, first ? first->code : KX_D_MISSING_PROPERTY, path,
                          first ? first->subject : "CFBundleIdentifier", "%s", text);
    if (record) {
        plist_t o = plist_new_dict();
        plist_dict_set_item(o, "Path", plist_new_string(path));
        if (id)
            plist_dict_set_item(o, "Identifier", plist_new_string(id));
        if (version)
            plist_dict_set_item(o, "Version", plist_new_string(version));
        plist_dict_set_item(o, "Reason", plist_new_string(text));
        plist_array_append_item(omitted_list, o);
    }
    free(text);
    return st;
}

/* The kext's first failure, as the omitted-kext message. */
static kx_status note_omitted(struct build *b, struct kx_kext *k, plist_t omitted_list, int record)
{
    const struct kx_diag *first = NULL;
    for (size_t i = 0; i < k->diags.n_items && !first; i++) {
        enum kx_diag_category c = kx_diag_category_of(k->diags.items[i].code);
        if (c == KX_DIAG_VALIDATION || c == KX_DIAG_AUTHENTICATION)
            first = &k->diags.items[i];
    }
    return omit(b, omitted_list, record, k->path, k->id, k->version_str, first);
}

/* Folder entries no bundle could be read from (a dangling link, a link loop). An --all cache
 * accounts for every entry, so it records them too, and a boot from it names them as a scan
 * would; a filtered cache leaves them to the boot's scan of the bundles it lacks. */
static kx_status note_unread(struct build *b, plist_t omitted_list)
{
    const struct kx_diags *d = kx_kext_repo_diags(b->r);
    kx_status st = STATUS_SUCCESS;
    for (size_t i = 0; i < d->n_items && st == STATUS_SUCCESS; i++) {
        if (!kx__boot_unread_entry(&d->items[i]))
            continue;
        char *path = kx_plat_path_join(d->items[i].file, d->items[i].subject);
        st = path ? omit(b, omitted_list, 1, path, NULL, NULL, &d->items[i])
                  : STATUS_INSUFFICIENT_RESOURCES;
        free(path);
    }
    return st;
}

static kx_status classify(struct build *b)
{
    size_t n_all = kx_kext_repo_count(b->r), first = 0;
    while (first < n_all && kx_kext_repo_kext(b->r, first)->is_pseudo)
        first++;
    b->n = n_all - first;
    b->kexts = calloc(b->n ? b->n : 1, sizeof(struct kx_kext *));
    b->bad = calloc(b->n ? b->n : 1, 1);
    b->wanted = calloc(b->n ? b->n : 1, 1);
    if (!b->kexts || !b->bad || !b->wanted)
        return STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < b->n; i++) {
        struct kx_kext *k = kx_kext_repo_kext(b->r, first + i);
        b->kexts[i] = k;
        b->bad[i] = !k->id || !kx_kext_is_valid(k) || !kx_kext_is_authentic(k);
    }
    return choose_bundles(b);
}

/* One archive entry: Info.plist and executable bytes, read again from disk
 * so _KXInfoPlistSHA256 is the file's own digest. */
struct entry_bytes {
    void *info, *exec;
    size_t info_len, exec_len;
    char *exec_rel;
    const struct kx_kext *kext; /* what was read */
    const char *exec_path;      /* the kext's, borrowed */
    int has_priority;           /* its executable's driver-info record */
    int32_t priority;
};

static kx_status read_entry(const struct kx_kext *k, struct kx_mkext_input *in,
                            struct entry_bytes *eb, char *why, size_t why_len)
{
    kx_status st = kx_plat_read_file(k->info_path, KX_PLIST_MAX_BYTES, &eb->info, &eb->info_len);
    eb->kext = k;
    if (st != STATUS_SUCCESS)
        return kx_why(why, why_len, st, "%s: %s", k->info_path, kx_status_string(st));
    in->info_plist = eb->info;
    in->info_plist_len = eb->info_len;
    in->bundle_path = k->path;
    if (!k->exec_path)
        return STATUS_SUCCESS;
    st = kx_plat_read_file(k->exec_path, (size_t)KX_MKEXT_MAX_FILE_BYTES, &eb->exec, &eb->exec_len);
    if (st != STATUS_SUCCESS)
        return kx_why(why, why_len, st, "%s: %s", k->exec_path, kx_status_string(st));
    size_t n = strlen(k->path);
    eb->exec_rel = strdup(strncmp(k->exec_path, k->path, n) == 0 && k->exec_path[n] == '/'
                              ? k->exec_path + n + 1
                              : k->exec_path);
    if (!eb->exec_rel)
        return STATUS_INSUFFICIENT_RESOURCES;
    eb->exec_path = k->exec_path;
    in->executable = eb->exec;
    in->executable_len = eb->exec_len;
    in->executable_path = eb->exec_rel;
    eb->priority = kx__boot_bytes_priority(eb->exec, eb->exec_len, &eb->has_priority);
    return STATUS_SUCCESS;
}

static plist_t string_array(char *const *v, size_t n)
{
    plist_t a = plist_new_array();
    for (size_t i = 0; i < n; i++)
        plist_array_append_item(a, plist_new_string(v[i]));
    return a;
}

static plist_t cache_info(const struct kx_kext_repo *r, char *const *folders, size_t n_folders,
                          enum kx_cache_filter filter, const unsigned char digest[32])
{
    plist_t ci = plist_new_dict();
    char hex[KX_SHA256_HEX_LEN];
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
    plist_dict_set_item(ci, KX_MKEXT_CACHE_BUILDER_VERSION,
                        plist_new_string(KX_MKEXT_BUILDER_VERSION));
    plist_dict_set_item(ci, KX_CACHE_KEY_FORMAT, plist_new_uint(KX_CACHE_FORMAT));
    plist_dict_set_item(ci, KX_CACHE_KEY_FOLDERS, string_array(folders, n_folders));
    plist_dict_set_item(ci, KX_CACHE_KEY_FILTER, plist_new_string(kx_cache_filter_name(filter)));
    plist_dict_set_item(ci, KX_CACHE_KEY_ARCH, plist_new_string(r->arch));
    int auth = !(r->opts.flags & KX_KEXT_NO_AUTH);
    plist_dict_set_item(ci, KX_CACHE_KEY_AUTH, plist_new_bool(auth));
    if (auth) {
        plist_dict_set_item(ci, KX_CACHE_KEY_UID, plist_new_uint(r->opts.trusted_uid));
        plist_dict_set_item(ci, KX_CACHE_KEY_GID, plist_new_uint(r->opts.trusted_gid));
    }
    plist_dict_set_item(ci, KX_CACHE_KEY_EXECUTABLES,
                        plist_new_bool(!(r->opts.flags & KX_KEXT_NO_EXEC)));
    plist_dict_set_item(ci, KX_CACHE_KEY_DIGEST, plist_new_string(hex));
    return ci;
}

/* The archive's entries, and the bundle lists of ci. */
static kx_status gather(struct build *b, plist_t ci, struct kx_mkext_input **in_out,
                        struct entry_bytes **eb_out, size_t *n_in, char *why, size_t why_len)
{
    plist_t archived = plist_new_array(), omitted = plist_new_array();
    if (b->filter != KX_CACHE_ALL) /* a boot scans the bundles a filtered cache lacks */
        plist_dict_set_item(ci, KX_CACHE_KEY_ARCHIVED, archived);
    plist_dict_set_item(ci, KX_CACHE_KEY_OMITTED, omitted);
    struct kx_mkext_input *in = calloc(b->n ? b->n : 1, sizeof *in);
    struct entry_bytes *eb = calloc(b->n ? b->n : 1, sizeof *eb);
    *in_out = in;
    *eb_out = eb;
    *n_in = 0;
    kx_status st = in && eb ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < b->n && st == STATUS_SUCCESS; i++) {
        struct kx_kext *k = b->kexts[i];
        if (b->wanted[i] && !k->parent)
            plist_array_append_item(archived, plist_new_string(k->path));
        if (b->bad[i])
            st = note_omitted(b, k, omitted, b->wanted[i]);
        else if (!b->wanted[i] && b->rep)
            b->rep->n_filtered++;
        else if (b->wanted[i] &&
                 (st = read_entry(k, &in[*n_in], &eb[*n_in], why, why_len)) == STATUS_SUCCESS)
            ++*n_in;
    }
    if (st == STATUS_SUCCESS && b->filter == KX_CACHE_ALL)
        st = note_unread(b, omitted);
    if (b->filter == KX_CACHE_ALL)
        plist_free(archived);
    return st;
}

static int unhex(const char *hex, unsigned char out[32])
{
    for (size_t i = 0; i < 32; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + (size_t)j];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return 0;
        }
        out[i] = (unsigned char)v;
    }
    return hex[64] == '\0';
}

static const char *const archive_keys[] = {
    KX_MKEXT_KEY_BUNDLE_PATH,       KX_MKEXT_KEY_EXECUTABLE_PATH,   KX_MKEXT_KEY_EXECUTABLE,
    KX_MKEXT_KEY_EXECUTABLE_SHA256, KX_MKEXT_KEY_INFO_PLIST_SHA256,
};

/* The boot index, from the archive just written: each entry's info
 * dictionary as the archive holds it (its own keys removed), where its
 * executable went and its digest, and the priority read from it. */
static kx_status append_index(void **archive, size_t *len, plist_t ci, const struct entry_bytes *eb,
                              size_t n_in, const struct kx_cache_snapshot *snap, char *why,
                              size_t why_len)
{
    struct kx_mkext *m = NULL;
    struct kx_cache_index_input *ii = NULL;
    uint8_t *fields = NULL; /* every kext's record, back to back */
    size_t fields_len = 0, *field_at = NULL;
    kx_status st = kx_mkext_read(*archive, *len, 0, &m, why, why_len);
    if (st == STATUS_SUCCESS && (m->n_entries != n_in || m->n_bad))
        st = STATUS_INTERNAL_ERROR; /* the writer's own archive must read back whole */
    if (st == STATUS_SUCCESS && (!(ii = calloc(n_in ? n_in : 1, sizeof *ii)) ||
                                 !(field_at = calloc(n_in ? n_in : 1, sizeof *field_at))))
        st = STATUS_INSUFFICIENT_RESOURCES;
    for (size_t i = 0; i < n_in && st == STATUS_SUCCESS; i++) {
        const struct kx_mkext_entry *e = &m->entries[i];
        const char *sha = kx_plist_string(e->info, KX_MKEXT_KEY_EXECUTABLE_SHA256, NULL);
        ii[i].path = e->bundle_path;
        ii[i].exec_path = eb[i].exec_path;
        field_at[i] = fields_len; /* an offset: `fields` moves while it grows */
        if ((st = kx__kext_fields_write(eb[i].kext, &fields, &fields_len)) != STATUS_SUCCESS)
            break;
        ii[i].fields_len = fields_len - field_at[i];
        ii[i].has_priority = eb[i].has_priority;
        ii[i].priority = eb[i].priority;
        if (e->has_executable && (!sha || !unhex(sha, ii[i].exec_sha)))
            st = STATUS_INTERNAL_ERROR;
        ii[i].exec_offset = e->has_executable ? e->executable_offset : 0;
        if (!(ii[i].info = plist_copy(e->info))) {
            st = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        for (size_t k = 0; k < sizeof archive_keys / sizeof archive_keys[0]; k++)
            if (plist_dict_get_item(ii[i].info, archive_keys[k]))
                plist_dict_remove_item(ii[i].info, archive_keys[k]);
    }
    for (size_t i = 0; i < n_in && st == STATUS_SUCCESS; i++)
        ii[i].fields = fields + field_at[i];
    if (st == STATUS_SUCCESS)
        st = kx__cache_index_append(archive, len, ci, ii, n_in, snap);
    free(fields);
    free(field_at);
    for (size_t i = 0; ii && i < n_in; i++)
        if (ii[i].info)
            plist_free(ii[i].info);
    free(ii);
    kx_mkext_free(m);
    return st;
}

static void free_entries(struct kx_mkext_input *in, struct entry_bytes *eb, size_t n)
{
    for (size_t i = 0; eb && i < n; i++) {
        free(eb[i].info);
        free(eb[i].exec);
        free(eb[i].exec_rel);
    }
    free(eb);
    free(in);
}

/* The cache must not sit in a source folder: writing it would change the
 * folder's mtime and so make it stale at once. */
static kx_status check_output(const char *path, char *const *folders, size_t n, char *why,
                              size_t why_len)
{
    const char *slash = strrchr(path, '/');
    char *parent = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    char *real = NULL;
    if (!parent)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = kx_plat_realpath(parent, &real);
    if (st != STATUS_SUCCESS)
        st = kx_why(why, why_len, st, "%s: %s", parent, kx_status_string(st));
    for (size_t i = 0; st == STATUS_SUCCESS && i < n; i++) {
        size_t len = strlen(folders[i]);
        if (strncmp(real, folders[i], len) == 0 && (real[len] == '\0' || real[len] == '/'))
            st = kx_why(why, why_len, STATUS_INVALID_PARAMETER,
                      "%s: the cache can't go inside the extensions folder %s (writing it would "
                      "change the folder and make the cache stale)",
                      path, folders[i]);
    }
    free(real);
    free(parent);
    return st;
}

/* Builds the archive in memory: mkext2, then the boot index. */
static kx_status assemble(plist_t ci, const struct kx_mkext_input *in, const struct entry_bytes *eb,
                          size_t n_in, const struct kx_cache_snapshot *snap, void **out,
                          size_t *out_len, char *why, size_t why_len)
{
    struct kx_mkext_write_options wo = {ci, 0, 0};
    kx_status st = kx_mkext_write(in, n_in, &wo, out, out_len, why, why_len);
    if (st == STATUS_SUCCESS)
        st = append_index(out, out_len, ci, eb, n_in, snap, why, why_len);
    if (st == STATUS_BUFFER_TOO_SMALL)
        st = kx_why(why, why_len, STATUS_INVALID_PARAMETER,
                  "the cache would be larger than an mkext can be (2 GiB)");
    else if (st == STATUS_INTERNAL_ERROR)
        st = kx_why(why, why_len, st, "the archive just written doesn't read back");
    return st;
}

kx_status kx_cache_build(const char *path, const char *const *folders, size_t n_folders,
                         enum kx_cache_filter filter, const struct kx_kext_options *opts,
                         struct kx_cache_build_report *rep, char *why, size_t why_len)
{
    struct build b = {NULL, filter, NULL, 0, NULL, NULL, rep};
    struct kx_cache_snapshot before, after;
    struct kx_mkext_input *in = NULL;
    struct entry_bytes *eb = NULL;
    char **resolved = NULL;
    plist_t ci = NULL;
    void *archive = NULL;
    size_t n_in = 0, newest_at = 0, archive_len = 0;
    int64_t newest = 0;
    kx_status st;
    memset(&before, 0, sizeof before);
    memset(&after, 0, sizeof after);
    if (!path || !folders || n_folders == 0)
        return kx_why(why, why_len, STATUS_INVALID_PARAMETER, "no cache path or no folders");
    if ((st = kx__cache_resolve_folders(folders, n_folders, &resolved, why, why_len)) !=
        STATUS_SUCCESS)
        return st;
    if (!resolved) /* never, on success; said for the analyzer */
        return STATUS_INSUFFICIENT_RESOURCES;
    if ((st = check_output(path, resolved, n_folders, why, why_len)) != STATUS_SUCCESS)
        goto out;
    if ((st = kx__cache_newest_mtime(resolved, n_folders, &newest, &newest_at)) != STATUS_SUCCESS) {
        st = kx_why(why, why_len, st, "%s: %s", resolved[newest_at], kx_status_string(st));
        goto out;
    }
    if ((st = kx__cache_snapshot_take(resolved, n_folders, &before, why, why_len)) !=
            STATUS_SUCCESS ||
        (st = kx_kext_repo_new(opts, &b.r)) != STATUS_SUCCESS)
        goto out;
    for (size_t i = 0; i < n_folders && st == STATUS_SUCCESS; i++)
        if ((st = kx_kext_repo_add_folder(b.r, resolved[i])) != STATUS_SUCCESS)
            st = kx_why(why, why_len, st, "%s: %s", resolved[i], kx_status_string(st));
    if (st != STATUS_SUCCESS || (st = classify(&b)) != STATUS_SUCCESS)
        goto out;
    if (!(ci = cache_info(b.r, resolved, n_folders, filter, before.digest))) {
        st = STATUS_INSUFFICIENT_RESOURCES;
        goto out;
    }
    if ((st = gather(&b, ci, &in, &eb, &n_in, why, why_len)) != STATUS_SUCCESS ||
        (st = kx__cache_snapshot_take(resolved, n_folders, &after, why, why_len)) != STATUS_SUCCESS)
        goto out;
    if (memcmp(before.digest, after.digest, sizeof before.digest) != 0) {
        st = kx_why(why, why_len, STATUS_DEVICE_BUSY,
                  "the extensions folders changed while the cache was being built; nothing "
                  "written");
        goto out;
    }
    if ((st = assemble(ci, in, eb, n_in, &before, &archive, &archive_len, why, why_len)) !=
        STATUS_SUCCESS)
        goto out;
    if ((st = kx_plat_write_file_atomic(path, archive, archive_len, 0644)) != STATUS_SUCCESS) {
        st = kx_why(why, why_len, st, "%s: %s", path, kx_status_string(st));
        goto out;
    }
    /* Apple's rule: the newest source folder's mtime plus one second. */
    if ((st = kx_plat_set_mtime(path, newest + 1000000000LL)) != STATUS_SUCCESS) {
        st = kx_why(why, why_len, st, "%s: setting its mtime: %s", path, kx_status_string(st));
        goto out;
    }
    if (rep) {
        rep->n_archived = n_in;
        rep->archive_len = archive_len;
    }
out:
    if (st == STATUS_INSUFFICIENT_RESOURCES)
        kx_why(why, why_len, st, "out of memory building the cache");
    free(archive);
    free_entries(in, eb, b.n); /* calloc'ed: entries never filled hold NULLs */
    if (ci)
        plist_free(ci);
    kx__cache_snapshot_clear(&before);
    kx__cache_snapshot_clear(&after);
    free(b.kexts);
    free(b.bad);
    free(b.wanted);
    kx_kext_repo_free(b.r);
    kx__cache_free_folders(resolved, n_folders);
    return st;
}
