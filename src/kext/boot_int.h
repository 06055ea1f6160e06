/* boot_int.h — what the boot planner (boot.c, boot_phase.c, boot_order.c,
 * boot_plan.c) and the kext cache (cache.c, cache_check.c, cache_index.c)
 * share inside src/kext/.
 *
 * _KXCacheInfo keys, in the mkext's XML plist (for people and `kx cache list`)
 * and, identical, in the boot index (for boots). Written by cache.c, checked
 * by cache_check.c:
 *   BuilderVersion   KX_MKEXT_BUILDER_VERSION
 *   CacheFormat      integer KX_CACHE_FORMAT; anything else is a foreign cache
 *   SourceFolders    array of resolved folder paths, in boot order
 *   Filter           "all" | "local" | "network" | "safe"
 *   Arch             the architecture kexts were read for
 *   Authenticated    bool; TrustedUID, TrustedGID integers when true
 *   Executables      bool: false when built with KX_KEXT_NO_EXEC
 *   ContentDigest    hex SHA-256 of the stat snapshot (cache_index.c)
 *   ArchivedBundles  filtered caches: array of the top-level bundle paths the
 *                    cache accounts for (each of their kexts is archived or in
 *                    Omitted); a boot reads the other bundles from the folders
 *   Omitted          array of {Path, Identifier, Version, Reason}: invalid kexts
 *                    left out of bundles the cache accounts for
 * Per kext (fields, executable, load priority) and per bundle (the entries
 * the snapshot recorded, its digest): the boot index's records.
 */
#ifndef KX_KEXT_BOOT_INT_H
#define KX_KEXT_BOOT_INT_H

#include "kext_int.h"
#include "mkext.h"
#include "mkext_int.h"

#include <kx/boot.h>

#define KX_CACHE_FORMAT 1u

#define KX_CACHE_KEY_FORMAT         "CacheFormat"
#define KX_CACHE_KEY_FOLDERS        "SourceFolders"
#define KX_CACHE_KEY_FILTER         "Filter"
#define KX_CACHE_KEY_ARCH           "Arch"
#define KX_CACHE_KEY_AUTH           "Authenticated"
#define KX_CACHE_KEY_UID            "TrustedUID"
#define KX_CACHE_KEY_GID            "TrustedGID"
#define KX_CACHE_KEY_EXECUTABLES    "Executables"
#define KX_CACHE_KEY_DIGEST         "ContentDigest"
#define KX_CACHE_KEY_ARCHIVED       "ArchivedBundles"
#define KX_CACHE_KEY_OMITTED        "Omitted"

/* Bundles deeper than this are digested but not entered (as auth.c walks). */
#define KX_CACHE_MAX_DEPTH 64

/* ---- cache.c: folders ---- */

/* realpath of each folder (malloc'ed array of malloc'ed strings); a folder
 * that doesn't resolve returns its status and names it in `why`. */
kx_status kx__cache_resolve_folders(const char *const *folders, size_t n, char ***out, char *why,
                                    size_t why_len);
void kx__cache_free_folders(char **folders, size_t n);

/* The newest mtime among the folders; a folder that can't be examined
 * returns its status, and *which names it either way. */
kx_status kx__cache_newest_mtime(char *const *folders, size_t n, int64_t *mtime_ns, size_t *which);

/* ---- cache_index.c: the stat snapshot and the boot index (layouts there) ---- */

#define KX_CACHE_INDEX_MAGIC   0x4B584249u /* 'KXBI' */
#define KX_CACHE_FOOTER_MAGIC  0x4B584245u /* 'KXBE' */
#define KX_CACHE_INDEX_VERSION 1u

/* One bundle as the builder saw it. */
struct kx_cache_bundle {
    uint32_t folder; /* index into the folders */
    char *name;      /* "Foo.kext" */
    char *entries;   /* bundle-relative paths, each NUL-terminated, "" (the bundle) first */
    size_t entries_len, n_entries;
    unsigned char digest[32];
};

struct kx_cache_snapshot {
    struct kx_cache_bundle *bundles; /* folder order, names sorted within a folder */
    size_t n_bundles, cap_bundles;
    unsigned char digest[32]; /* the content digest */
};

/* Walks every *.kext entry of the (resolved) folders. A folder that can't be
 * examined or listed returns its status, named in `why`. */
kx_status kx__cache_snapshot_take(char *const *folders, size_t n_folders,
                                  struct kx_cache_snapshot *s, char *why, size_t why_len);
void kx__cache_snapshot_clear(struct kx_cache_snapshot *s);

/* What the index holds for one kext; pointers borrowed from the archive. */
struct kx_cache_index_kext {
    const char *path;    /* the bundle */
    const uint8_t *info; /* binary plist of its info dictionary */
    size_t info_len;
    const char *exec_path; /* its executable's path when scanned; NULL when none */
    const uint8_t *fields; /* its validated fields (kx__kext_restore) */
    size_t fields_len;
    uint32_t exec_offset; /* its executable's mkext2 file entry; 0 when none */
    int has_priority;
    int32_t priority;
    const uint8_t *exec_sha; /* 32 bytes */
};

struct kx_cache_index_bundle {
    uint32_t folder;
    const char *name;
    const char *entries;
    size_t entries_len;
    const uint8_t *digest; /* 32 bytes */
};

struct kx_cache_index {
    const uint8_t *archive; /* borrowed: the whole file */
    size_t archive_len;     /* bytes before the index: where executables may lie */
    plist_t cache_info;     /* owned */
    struct kx_cache_index_kext *kexts;
    size_t n_kexts;
    struct kx_cache_index_bundle *bundles;
    size_t n_bundles;
};

/* What the builder puts in for one archived kext. */
struct kx_cache_index_input {
    const char *path;
    plist_t info; /* without archive keys */
    const char *exec_path;
    const uint8_t *fields; /* kx__kext_fields_write */
    size_t fields_len;
    uint32_t exec_offset;
    int has_priority;
    int32_t priority;
    unsigned char exec_sha[32];
};

/* Appends the index and footer to an mkext2 archive (realloc'ed; *archive
 * is valid, and the caller's, whatever is returned) and fixes the header's
 * length and checksum. STATUS_BUFFER_TOO_SMALL past 2 GiB. */
kx_status kx__cache_index_append(void **archive, size_t *len, plist_t cache_info,
                                 const struct kx_cache_index_input *kexts, size_t n_kexts,
                                 const struct kx_cache_snapshot *snap);

/* Checks the mkext header as the kernel does (size, magic, length,
 * checksum, version, CPU type) and reads the index, bounding every record.
 * STATUS_DATA_ERROR: damaged (Apple's message, or what is wrong with the
 * index); STATUS_NOT_SUPPORTED: another version or CPU, or no index (not
 * built by this kx); STATUS_INSUFFICIENT_RESOURCES. */
kx_status kx__cache_index_parse(const uint8_t *archive, size_t len, struct kx_cache_index *ix,
                                char *why, size_t why_len);
void kx__cache_index_free(struct kx_cache_index *ix);

/* Re-stats the entries the index records and computes the content digest;
 * *first_changed is the first bundle whose own digest differs (SIZE_MAX:
 * none), *first_gone whether that bundle no longer exists. Returns
 * STATUS_INSUFFICIENT_RESOURCES only: what can't be examined is a state of
 * the tree. */
kx_status kx__cache_snapshot_check(char *const *folders, size_t n_folders,
                                   const struct kx_cache_index *ix, unsigned char digest[32],
                                   size_t *first_changed, int *first_gone);

/* ---- cache_check.c: opening a cache for a boot ---- */

/* A cache that passed every check, with its metadata. */
struct kx_cache_open {
    void *data; /* the file's bytes: the index and executables point into them */
    size_t len;
    struct kx_cache_index ix;
    enum kx_cache_filter filter;
    plist_t archived; /* ArchivedBundles (array; filtered caches only) or NULL */
    plist_t omitted;  /* Omitted (array) or NULL */
};

/* What a caller wants of a cache. */
struct kx_cache_want {
    const char *path;
    char *const *folders; /* resolved */
    size_t n_folders;
    const struct kx_kext_options *opts;
    int any_mode;                /* kx_cache_update: no mode, but exactly this filter */
    enum kx_boot_mode mode;      /* otherwise */
    enum kx_cache_filter filter; /* any_mode only */
    unsigned flags;              /* KX_BOOT_* */
};

/* Runs the checks of boot.h in order. On KX_CACHE_USABLE *out holds the open
 * cache (free with kx__cache_close); otherwise `why` says why not. Returns
 * STATUS_SUCCESS whatever the verdict, or STATUS_INSUFFICIENT_RESOURCES. */
kx_status kx__cache_open(const struct kx_cache_want *w, struct kx_cache_open *out,
                         enum kx_cache_verdict *verdict, char *why, size_t why_len);
void kx__cache_close(struct kx_cache_open *c);

/* ---- boot.c ---- */

/* The load priority in k's executable's driver-info record (*has 1), or
 * KX_BOOT_DEFAULT_PRIORITY (*has 0) when it has none that checks out. */
int32_t kx__boot_exec_priority(const char *exec_path, int *has);
int32_t kx__boot_bytes_priority(const void *data, size_t len, int *has);

/* ---- The plan (boot.c fills it, boot_plan.c finishes and reads it) ---- */

struct kx_boot_item_int {
    struct kx_boot_item pub; /* pub.reason and pub.phase1_reason point at the two below */
    char *reason, *phase1_reason;
    char *path;   /* pub.path of a folder entry that couldn't be read (no kext); else NULL */
    size_t entry; /* its cache entry, SIZE_MAX when it didn't come from one */
    size_t *deps; /* items of the same phase it needs loaded first */
    size_t n_deps, cap_deps;
    uint8_t *exec; /* its executable from the cache, once asked for */
    size_t exec_len;
    size_t n_unsuited; /* kexts of its phase whose OSBundleRequired it doesn't suit */
    const struct kx_boot_item_int *unsuited_for; /* the first of them */
    unsigned eligible : 1;                       /* may be a root of a phase */
    unsigned excluded : 1;                       /* may not load at all, not even as a library */
    unsigned marked : 1; /* marked loaded in the repository while planning */
};

struct kx_boot_plan {
    enum kx_boot_mode mode;
    enum kx_boot_source source;
    enum kx_cache_verdict verdict;
    char *cache_path;
    char *fallback_reason; /* NULL when the cache was used */
    struct kx_kext_repo *repo;
    struct kx_cache_open cache;     /* zero after a scan */
    size_t base_seq;                /* the first kext this plan added has this seq */
    size_t n_cached;                /* the first n_cached kexts came from cache entries 0.. */
    struct kx_boot_item_int *items; /* the kexts (n_kexts, repository order), then the
                                     * kexts the cache left out, then the unread entries */
    size_t n_items, n_kexts;
    size_t *lists[3]; /* item indices, by enum kx_boot_list */
    size_t n_lists[3];
    struct kx_diags diags;
    struct kx_diags unread; /* folder entries no bundle could be read from: items, not warnings */
};

/* The item of a kext this plan added, or NULL. */
struct kx_boot_item_int *kx__boot_item_of(const struct kx_boot_plan *p, const struct kx_kext *k);

/* Orders both phases, builds the three lists, writes the placement reasons. */
kx_status kx__boot_plan_finish(struct kx_boot_plan *p);

/* boot.c helpers the phase planner shares. */
const char *kx__boot_mode_values(enum kx_boot_mode mode); /* "Root, Local-Root and Console" */
char *kx__boot_dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Replaces an owned string; returns 0 when text is NULL (memory ran out). */
int kx__boot_set_text(char **slot, char *text);
/* The first diagnostic outside Warnings as one line, malloc'ed. */
char *kx__boot_first_failure(const struct kx_diags *d);
/* 1 for the diagnostic a folder scan gives an entry it couldn't read as a bundle (a dangling
 * link, a link loop): KX_D_BUNDLE_OPEN with the folder as file and the entry as subject. A
 * folder that couldn't be listed has no subject: that one stays a warning. */
int kx__boot_unread_entry(const struct kx_diag *d);
/* The item's load priority: the cache's record, or its executable's. */
void kx__boot_set_priority(struct kx_boot_plan *p, struct kx_boot_item_int *it);

/* ---- boot_phase.c ---- */

/* Fills phase 1 and phase 2 (the top of boot.c says how) and gives every
 * kext left in neither its reason. Leaves the repository's loaded marks as
 * it found them. */
kx_status kx__boot_plan_phases(struct kx_boot_plan *p);

/* ---- boot_order.c ---- */

/* Sorts the n items members[] (indices into items, whose deps stay among
 * them) into load order: dependencies first, then effective priority,
 * identifier, repository order. Sets each one's effective_priority (the
 * lowest of its own and its dependents'). order receives n item indices. */
kx_status kx__boot_order(struct kx_boot_item_int *items, size_t n_items, const size_t *members,
                         size_t n, size_t *order);

#endif /* KX_KEXT_BOOT_INT_H */
