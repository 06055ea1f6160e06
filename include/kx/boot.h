/* kx/boot.h — boot modes, the boot plan, and the kext cache that speeds it up.
 *
 * Booting is two phases (research §4). Phase 1, the booter, loads what the
 * boot mode needs to reach the root file system and a console: kexts whose
 * OSBundleRequired the mode names (local and single-user: Root, Local-Root,
 * Console; network: Root, Network-Root, Console; safe: as local), plus,
 * transitively, the libraries they resolve to. Kexts without OSBundleRequired
 * and those with "Safe Boot" are never chosen by the booter. Phase 2, the
 * daemon, loads every remaining kext that has code and is not only a library
 * (single-user boots have no phase 2). During a safe boot only kexts with an
 * OSBundleRequired value may load in either phase, and a kext every one of
 * whose personalities sets a non-zero IOKitDebug does not load at all.
 *
 * Order within a phase: dependencies first; among kexts that don't depend on
 * each other, lower load priority first, then bundle identifier, then the
 * order the repository holds them in, so a boot is deterministic. A kext's
 * load priority comes from its executable's driver-info record, read
 * statically (kx/driver_info.h); a kext without one (codeless, metadata-only,
 * or a record that doesn't check out) gets KX_BOOT_DEFAULT_PRIORITY. A
 * library inherits the lowest priority of the kexts in its phase that need
 * it: otherwise a library marked 900 would hold back a driver marked 100
 * behind every independent driver marked 500.
 *
 * The kext cache is Apple's mkext2 (kx_cache_build), readable by Apple's
 * tools and `kx cache list`, plus a boot index kx appends after the plist
 * (src/kext/cache_index.c): each kext's validated fields, its Info.plist as
 * a binary plist, its executable's place, digest and load priority, and
 * the validity data. A boot reads only the index: no XML is parsed and no
 * Info.plist validated again, and the kexts' dictionaries are parsed only
 * when someone asks for one (kx_kext_info). A cache is used only when it
 * passes every check below; otherwise the plan comes from scanning the
 * extensions folders, and the plan says why (kx_boot_plan_fallback_reason):
 *   - not ignored: safe boot ignores caches, as Apple's booter does;
 *   - a regular file that can be read; with authentication, owned by the
 *     trusted user and group with mode 0644 (Apple's rule);
 *   - the mkext header passes the kernel's checks (size, magic, length,
 *     Adler-32 over every byte, version, CPU type), in Apple's words, and the
 *     boot index is whole;
 *   - built by this builder, from these folders (compared resolved), for this
 *     architecture, with at least the options this boot uses (authentication,
 *     executables), and with a filter holding every kext the mode needs
 *     (--all, or the mode's own filter);
 *   - Apple's rule: its mtime equals the newest source folder's mtime + 1 s
 *     (the builder sets it), so adding or removing a kext makes it stale;
 *   - kx's rule: its content digest still matches. The digest is SHA-256
 *     over every bundle of every source folder: each file and folder in it,
 *     with its relative path, type, size, mtime and ctime (ns), inode, mode,
 *     owner and group, and each source folder's own. The builder records
 *     which entries it saw, so checking costs one stat per entry and no
 *     reads (a file added anywhere changes the ctime of its folder, which is
 *     recorded): a fraction of a scan. Editing a kext in place changes its
 *     mtime and ctime (a chmod or chown its ctime, which nobody can set
 *     back), so the cache goes stale where Apple's folder-mtime rule can't
 *     see it; the reason names the bundle that changed or disappeared.
 * Executables are not decompressed while planning: kx_boot_plan_executable
 * does that, and checks their SHA-256, when the loader asks
 * (KX_BOOT_VERIFY_CACHE checks them all up front).
 *
 * Threads: none of these objects lock; a plan and the repository it fills
 * belong to one thread at a time.
 */
#ifndef KX_BOOT_H
#define KX_BOOT_H

#include <kx/diag.h>
#include <kx/kext.h>
#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Boot modes ------------------------------------------------------------------------------ */

enum kx_boot_mode {
    KX_BOOT_LOCAL = 0,   /* "local": root on a local disk (the default) */
    KX_BOOT_NETWORK,     /* "network": root over the network */
    KX_BOOT_SINGLE_USER, /* "single-user": phase 1 only, console kexts matter */
    KX_BOOT_SAFE,        /* "safe": local, no caches, only OSBundleRequired kexts */
};

/* Parses "local", "network", "single-user" or "safe" (case-insensitive).
 * STATUS_INVALID_PARAMETER for anything else. */
KX_API kx_status kx_boot_mode_parse(const char *name, enum kx_boot_mode *out);
KX_API const char *kx_boot_mode_name(enum kx_boot_mode mode); /* "local", ... */

/* 1 when the booter chooses a kext with this OSBundleRequired value (NULL:
 * the key is absent) in this mode. */
KX_API int kx_boot_mode_chooses(enum kx_boot_mode mode, const char *required);

/* The load priority of kexts without a driver-info record: the seed's
 * (AxisOS drivers.cfg) default, between critical and "not essential" (900). */
#define KX_BOOT_DEFAULT_PRIORITY 500

/* ---- Configuration --------------------------------------------------------------------------- */

#define KX_BOOT_NO_CACHE 0x1u /* never use a cache: always scan */
#define KX_BOOT_VERIFY_CACHE                                                                       \
    0x2u /* also decompress and check every executable while planning;                             \
          * a failure makes the cache unusable */

struct kx_boot_config {
    enum kx_boot_mode mode;
    const char *const *folders; /* extensions folders, in order; at least one */
    size_t n_folders;
    const char *cache_path; /* NULL: kx_cache_default_path(folders[0]) */
    unsigned flags;         /* KX_BOOT_* */
};
#define KX_BOOT_CONFIG_INIT                                                                        \
    {                                                                                              \
        KX_BOOT_LOCAL, NULL, 0, NULL, 0u                                                           \
    }

/* "<folder>.mkext" beside the folder (trailing slashes dropped), Apple's
 * Extensions.mkext naming: build/extensions -> build/extensions.mkext.
 * malloc'ed; NULL when memory runs out. */
KX_API char *kx_cache_default_path(const char *folder);

/* ---- The kext cache -------------------------------------------------------------------------- */

/* What a cache holds, as kextcache's filters (each ORs in Root, Console and
 * DriverKit, research §4.2). A filtered cache keeps whole bundles: one whose
 * kext or plug-in passes the filter goes in with its plug-ins, and so do the
 * bundles of the libraries they resolve to. */
enum kx_cache_filter {
    KX_CACHE_ALL = 0, /* --all: every valid kext (the default, like kextcache) */
    KX_CACHE_LOCAL,   /* --local: Root, Local-Root, Console */
    KX_CACHE_NETWORK, /* --network: Root, Network-Root, Console */
    KX_CACHE_SAFE,    /* --safe: Root, Console, Safe Boot */
};

KX_API const char *kx_cache_filter_name(enum kx_cache_filter f); /* "all", "local", ... */
/* 1 when a kext with this OSBundleRequired value (NULL: absent) passes f. */
KX_API int kx_cache_filter_includes(enum kx_cache_filter f, const char *required);

/* Why a cache was or wasn't used. */
enum kx_cache_verdict {
    KX_CACHE_USABLE = 0,
    KX_CACHE_IGNORED,       /* safe boot, or KX_BOOT_NO_CACHE */
    KX_CACHE_MISSING,       /* no file at the path */
    KX_CACHE_UNREADABLE,    /* not a regular file, can't be read, or wrong owner or mode */
    KX_CACHE_CORRUPT,       /* the reader refused it, or an entry is bad */
    KX_CACHE_FOREIGN,       /* not built by this builder, or from other folders or options */
    KX_CACHE_WRONG_FILTER,  /* built for another boot mode */
    KX_CACHE_STALE_MTIME,   /* Apple's rule: folder mtime + 1 s != cache mtime */
    KX_CACHE_STALE_CONTENT, /* kx's rule: a bundle changed, appeared or disappeared */
};
/* "usable", "ignored", "missing", "unreadable", "corrupt", "foreign",
 * "wrong-filter", "stale-mtime", "stale-content". */
KX_API const char *kx_cache_verdict_name(enum kx_cache_verdict v);

/* What kx_cache_build did. Zero-initialise (KX_CACHE_BUILD_REPORT_INIT);
 * free what it holds with kx_cache_build_report_clear. */
struct kx_cache_build_report {
    size_t n_archived;       /* kexts in the archive, plug-ins included */
    size_t n_filtered;       /* valid kexts the filter left out */
    size_t archive_len;      /* bytes written */
    struct kx_diags omitted; /* one per invalid kext left out: its first failure, file = bundle */
};
#define KX_CACHE_BUILD_REPORT_INIT                                                                 \
    {                                                                                              \
        0, 0, 0, KX_DIAGS_INIT                                                                     \
    }
KX_API void kx_cache_build_report_clear(struct kx_cache_build_report *rep);

/* Builds the cache for folders into path (atomically, mode 0644), then sets
 * its mtime to the newest folder's mtime + 1 s. Kexts are read with opts (may
 * be NULL): authentication, executables and architecture as a boot with the
 * same options would. Invalid or inauthentic kexts are left out, one
 * diagnostic each in rep->omitted (rep may be NULL). Returns
 * STATUS_INVALID_PARAMETER when path lies inside a source folder (writing it
 * would make the cache stale), STATUS_DEVICE_BUSY when the folders changed
 * while the cache was being built (nothing is written), a folder's or the
 * write's status, or STATUS_INSUFFICIENT_RESOURCES; `why` (may be NULL) says
 * which. */
KX_API kx_status kx_cache_build(const char *path, const char *const *folders, size_t n_folders,
                                enum kx_cache_filter filter, const struct kx_kext_options *opts,
                                struct kx_cache_build_report *rep, char *why, size_t why_len);

/* Would a boot with cfg and opts use the cache (cfg->cache_path or the
 * default)? *verdict says; `why` gets the reason when it is not
 * KX_CACHE_USABLE. Returns STATUS_SUCCESS whatever the verdict, or
 * STATUS_INVALID_PARAMETER (no folders), STATUS_INSUFFICIENT_RESOURCES. */
KX_API kx_status kx_cache_check(const struct kx_boot_config *cfg,
                                const struct kx_kext_options *opts, enum kx_cache_verdict *verdict,
                                char *why, size_t why_len);

/* For kxd after boot: rebuilds the cache (with filter) unless it is current —
 * built with that filter and usable by the checks above, whatever cfg->mode
 * is. *rebuilt (may be NULL) says whether it did; `why` says why it had to.
 * Returns kx_cache_build's status when a rebuild fails. */
KX_API kx_status kx_cache_update(const struct kx_boot_config *cfg,
                                 const struct kx_kext_options *opts, enum kx_cache_filter filter,
                                 int *rebuilt, struct kx_cache_build_report *rep, char *why,
                                 size_t why_len);

/* Checks the boot index of the archive at path (kx cache verify): whole,
 * each kext's record restores, and it agrees with the archive's XML plist
 * (same kexts, paths, identifiers and executable entries, in order). *n_kexts
 * (may be NULL) is how many it holds. STATUS_NOT_SUPPORTED: no boot index (an
 * archive kx's builder didn't write, or another CPU's); STATUS_DATA_ERROR with
 * the reason in `why`; the file's read status; STATUS_INSUFFICIENT_RESOURCES. */
KX_API kx_status kx_cache_verify_index(const char *path, size_t *n_kexts, char *why,
                                       size_t why_len);

/* ---- The boot plan --------------------------------------------------------------------------- */

struct kx_boot_plan;

enum kx_boot_source {
    KX_BOOT_FROM_SCAN = 0, /* the extensions folders were read */
    KX_BOOT_FROM_CACHE,    /* the cache was read (a filtered cache: plus the bundles it lacks) */
};

/* The three lists of a plan. */
enum kx_boot_list {
    KX_BOOT_PHASE1 = 1,     /* loaded by the booter, in load order */
    KX_BOOT_PHASE2 = 2,     /* loaded by the daemon, in load order */
    KX_BOOT_NOT_LOADED = 0, /* loaded by neither, in repository order */
};

/* Why a kext is in the list it is in. */
enum kx_boot_rule {
    KX_BOOT_RULE_REQUIRED,   /* phase 1: its OSBundleRequired is one the mode chooses */
    KX_BOOT_RULE_DEPENDENCY, /* a library a kext of the same phase resolves to */
    KX_BOOT_RULE_REMAINING,  /* phase 2: a remaining kext with code */
    KX_BOOT_RULE_SKIPPED,    /* not loaded: see reason */
};

/* One kext of a plan. Read-only; everything lives as long as the plan (kext:
 * as long as the repository). */
struct kx_boot_item {
    struct kx_kext *kext; /* owned by the repository; NULL for a kext the cache left out when
                           * it was built (invalid then), known only by id and path */
    const char *id;       /* bundle identifier, or NULL */
    const char *version;  /* CFBundleVersion as written, or NULL */
    const char *path;     /* bundle path */
    enum kx_boot_list list;
    enum kx_boot_rule rule;
    const char *reason;        /* one line: why it is in this list (phase 1 and 2: the rule and its
                                * priority; not loaded: why not) */
    const char *phase1_reason; /* phase 2 and not loaded: why the booter didn't load it */
    const struct kx_kext *needed_by; /* KX_BOOT_RULE_DEPENDENCY: the first kext that needs it */
    int32_t priority;                /* its own load priority */
    int32_t effective_priority;      /* after inheriting from the kexts that need it */
    int has_driver_info;             /* priority came from a driver-info record */
    int from_cache;                  /* its metadata (and executable) come from the cache */
};

/* Fills repo — new, holding only pseudo-kexts (kx_kext_repo_new, optionally
 * kx_kext_repo_use_system) — from the cache when it is usable, else by
 * scanning cfg's folders, and plans both phases for cfg->mode. The kexts are
 * read with the repository's options; for a safe boot the repository applies
 * the safe-boot rules from this call on (KX_KEXT_SAFE_BOOT). The repository's
 * loaded marks are as they were when the call returns: the kernel marks each
 * kext as it loads it. The caller owns *out (kx_boot_plan_free); it borrows
 * repo's kexts, so free it before repo. A plan from the cache keeps the
 * cache's bytes (its executables) until it is freed: free it once both
 * phases are loaded. Returns STATUS_INVALID_PARAMETER when
 * cfg has no folders or repo already holds kexts from disk, or
 * STATUS_INSUFFICIENT_RESOURCES. Nothing else stops a boot: a folder that
 * can't be read is a diagnostic (kx_boot_plan_diags), a kext that can't load
 * lands in the not-loaded list with its reason. */
KX_API kx_status kx_boot_plan_make(const struct kx_boot_config *cfg, struct kx_kext_repo *repo,
                                   struct kx_boot_plan **out);
KX_API void kx_boot_plan_free(struct kx_boot_plan *p);

KX_API enum kx_boot_mode kx_boot_plan_mode(const struct kx_boot_plan *p);
KX_API enum kx_boot_source kx_boot_plan_source(const struct kx_boot_plan *p);
KX_API const char *kx_boot_plan_cache_path(const struct kx_boot_plan *p);
KX_API enum kx_cache_verdict kx_boot_plan_cache_verdict(const struct kx_boot_plan *p);
/* Why the cache wasn't used; NULL when it was. */
KX_API const char *kx_boot_plan_fallback_reason(const struct kx_boot_plan *p);
/* The cache's filter when it was used. */
KX_API enum kx_cache_filter kx_boot_plan_cache_filter(const struct kx_boot_plan *p);

KX_API size_t kx_boot_plan_count(const struct kx_boot_plan *p, enum kx_boot_list list);
KX_API const struct kx_boot_item *kx_boot_plan_item(const struct kx_boot_plan *p,
                                                    enum kx_boot_list list, size_t i);
/* The item for a kext of the repository, or NULL. */
KX_API const struct kx_boot_item *kx_boot_plan_find(const struct kx_boot_plan *p,
                                                    const struct kx_kext *k);

/* Warnings about the plan: dependencies whose OSBundleRequired doesn't suit
 * the kext that needs them (KX4004), identifiers held by several bundles, and
 * entries of folders that couldn't be read. Borrowed. */
KX_API const struct kx_diags *kx_boot_plan_diags(const struct kx_boot_plan *p);

/* The executable of a kext that came from the cache, decompressed and checked
 * against its SHA-256 on first use: *data (owned by the plan, valid until
 * kx_boot_plan_free) and *len; load it from memory (kx_plat_memfd_from_bytes).
 * Returns STATUS_NO_SUCH_FILE when k didn't come from the cache or has no
 * executable there (load kx_kext_executable(k) from disk), STATUS_DATA_ERROR
 * with the reason in `why` when its bytes are damaged (the bundle on disk is
 * what the cache was built from, so loading kx_kext_executable(k) is a
 * fallback), STATUS_INSUFFICIENT_RESOURCES. */
KX_API kx_status kx_boot_plan_executable(struct kx_boot_plan *p, const struct kx_kext *k,
                                         const void **data, size_t *len, char *why, size_t why_len);

/* {"mode", "source": "cache"|"scan", "cache", "cache_verdict", "fallback_reason",
 *  "load": [{"id", "version", "path", "reason", "rule", "needed_by", "priority",
 *  "effective_priority", "driver_info"}...], "skipped": [{"id", "path", "reason",
 *  "phase"}...], "phase2": [...as load], "warnings": [...diagnostics]}. "load" is
 * phase 1; "skipped" is every kext phase 1 leaves out (phase 2's with "phase": 2).
 * A new reference; NULL when memory runs out. */
KX_API json_t *kx_boot_plan_to_json(const struct kx_boot_plan *p);

#endif /* KX_BOOT_H */
