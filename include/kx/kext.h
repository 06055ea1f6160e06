/* kx/kext.h — kext bundles, the kext repository and dependency resolution.
 *
 * A kext is read from a `Name.kext` folder (or from Info.plist bytes), validated
 * by Apple's rules (research §7.1) and authenticated (§7.2) in one pass; every
 * problem becomes a kx_diags entry on the kext, never an early return. A
 * repository holds kexts by bundle identifier (all versions of each), the
 * kernel's own interfaces as pseudo-kexts (kx's KPIs always, a macOS system
 * profile on request), and resolves a kext's OSBundleLibraries exactly as
 * Apple's user-space resolver does (§2): a library satisfies a request when
 * compatible <= requested <= current, the highest compatible version wins, an
 * already-loaded copy always wins. Resolution yields a load order and a
 * diagnostic for every failure, with each candidate considered and why it was
 * rejected.
 *
 * Threads: none of these objects lock. A repository and everything read from
 * it belong to one thread at a time; resolution writes memo fields into the
 * repository's kexts, so even kx_kext_resolve counts as a write.
 */
#ifndef KX_KEXT_H
#define KX_KEXT_H

#include <kx/diag.h>
#include <kx/status.h>
#include <kx/vers.h>
#include <plist/plist.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct kx_kext;
struct kx_kext_repo;
struct kx_kext_resolution;
struct kx_kext_profiles;

/* ---- Options -------------------------------------------------------------------------------- */

#define KX_KEXT_NO_AUTH 0x1u   /* skip ownership/permission checks (development trees) */
#define KX_KEXT_NO_EXEC 0x2u   /* don't look for executables (metadata-only trees) */
#define KX_KEXT_SAFE_BOOT 0x4u /* apply the safe-boot rules when resolving */
#define KX_KEXT_FOR_USER 0x8u  /* the load would be for a user other than root: say when
                                * OSBundleAllowUserLoad refuses it (KX4011, once per kext) */

struct kx_kext_options {
    unsigned flags;    /* KX_KEXT_* */
    const char *arch;  /* "x86_64", "i386", "arm64", "ppc", ...; NULL = this machine. Chooses the
                        * OSBundleLibraries_<arch> style keys and the ELF machine an executable
                        * must have. Copied by kx_kext_repo_new. */
    uid_t trusted_uid; /* every bundle file must belong to this user and group: 0 and 0, */
    gid_t trusted_gid; /* Apple's root:wheel (Linux's gid 0 is its "root" group) */
};
#define KX_KEXT_OPTIONS_INIT {0u, NULL, 0, 0}

/* The architecture name kx uses for this machine ("x86_64", "arm64", "i386", ...). */
KX_API const char *kx_kext_host_arch(void);

/* ---- Reading one kext ------------------------------------------------------------------------ */

/* Reads the bundle at path: Contents/Info.plist (or a flat Info.plist), its
 * executable, its plug-ins (Contents/PlugIns/\*.kext or PlugIns/\*.kext, each a
 * kext of its own), and authenticates it unless KX_KEXT_NO_AUTH. A bundle
 * that is unreadable or invalid still yields a kext: its problems are in
 * kx_kext_diags(). opts may be NULL (defaults).
 * Returns STATUS_NO_SUCH_FILE / STATUS_NOT_A_DIRECTORY / STATUS_ACCESS_DENIED
 * when path itself can't be opened as a folder, STATUS_INSUFFICIENT_RESOURCES.
 * The caller owns *out and frees it with kx_kext_free (or hands it to
 * kx_kext_repo_adopt). */
KX_API kx_status kx_kext_read(const char *path, const struct kx_kext_options *opts,
                              struct kx_kext **out);

/* Builds a kext from Info.plist bytes (XML or binary), for metadata read from
 * archives or caches: no executable, no authentication, no plug-ins. path is
 * the name to report (may be NULL). Returns STATUS_INSUFFICIENT_RESOURCES
 * only; unparsable bytes give a kext with KX_D_PLIST_PARSE. */
KX_API kx_status kx_kext_from_info_plist(const void *data, size_t len, const char *path,
                                         const struct kx_kext_options *opts, struct kx_kext **out);

/* Frees a kext and its plug-ins. Only for kexts no repository adopted. */
KX_API void kx_kext_free(struct kx_kext *k);

/* ---- What a kext says about itself (all borrowed, valid while the kext lives) ----------------- */

KX_API const char *kx_kext_path(const struct kx_kext *k);
KX_API const char *kx_kext_id(const struct kx_kext *k);             /* NULL when missing/bad */
KX_API const char *kx_kext_version_string(const struct kx_kext *k); /* as written, or NULL */
KX_API kx_vers kx_kext_version(const struct kx_kext *k);            /* KX_VERS_INVALID if bad */
/* OSBundleCompatibleVersion; KX_VERS_INVALID when the kext is not a library. */
KX_API kx_vers kx_kext_compatible_version(const struct kx_kext *k);
KX_API int kx_kext_is_library(const struct kx_kext *k);
KX_API int kx_kext_is_kernel_resource(const struct kx_kext *k); /* OSKernelResource */
KX_API int kx_kext_is_interface(const struct kx_kext *k);       /* OSBundleIsInterface */
KX_API int kx_kext_declares_executable(const struct kx_kext *k);
/* The executable file found for this machine, or NULL (none, missing, foreign or skipped). */
KX_API const char *kx_kext_executable(const struct kx_kext *k);
/* 1 when k declares an executable but none this machine can run was found (a Mach-O, an ELF for
 * another machine, a missing file): such a kext can't load. The loader, kx check and the boot
 * plan all ask this one question. Meaningless for a repository read with KX_KEXT_NO_EXEC. */
KX_API int kx_kext_lacks_executable(const struct kx_kext *k);
KX_API const char *kx_kext_required(const struct kx_kext *k); /* OSBundleRequired or NULL */
KX_API int kx_kext_allows_user_load(const struct kx_kext *k); /* OSBundleAllowUserLoad true */
/* The info dictionary (libplist node, borrowed); NULL when the plist was unreadable. */
KX_API plist_t kx_kext_info(const struct kx_kext *k);
/* The kext's own problems: validation, authentication and warnings. */
KX_API const struct kx_diags *kx_kext_diags(const struct kx_kext *k);
KX_API int kx_kext_is_valid(const struct kx_kext *k);     /* no validation failures */
KX_API int kx_kext_is_authentic(const struct kx_kext *k); /* no authentication failures */
KX_API int kx_kext_is_loaded(const struct kx_kext *k);
KX_API size_t kx_kext_n_plugins(const struct kx_kext *k);
KX_API struct kx_kext *kx_kext_plugin(const struct kx_kext *k, size_t i);
/* OSBundleLibraries as used for the kext's architecture, sorted by identifier.
 * *requested is KX_VERS_INVALID when the version string doesn't parse. */
KX_API size_t kx_kext_n_libraries(const struct kx_kext *k);
KX_API const char *kx_kext_library(const struct kx_kext *k, size_t i, kx_vers *requested);

/* ---- The repository -------------------------------------------------------------------------- */

/* A repository starts with kx's own pseudo-kexts (org.kx.kernel, org.kx.kpi.*,
 * from data/kx.plist), marked loaded. opts may be NULL. Free with
 * kx_kext_repo_free, which frees every kext it adopted. */
KX_API kx_status kx_kext_repo_new(const struct kx_kext_options *opts, struct kx_kext_repo **out);
KX_API void kx_kext_repo_free(struct kx_kext_repo *r);

/* Adds every `*.kext` in dir (sorted by name) with its plug-ins. Bundles with
 * problems are added too, as candidates that will be rejected with a reason.
 * Returns an error only when dir can't be listed (the folder's own status) or
 * memory runs out. */
KX_API kx_status kx_kext_repo_add_folder(struct kx_kext_repo *r, const char *dir);

/* Reads one bundle (as kx_kext_read) and adds it with its plug-ins; *out
 * (optional) is the kext, owned by the repository. A bundle the repository
 * already holds (same resolved path, e.g. from a folder) is not read again:
 * *out is the copy it has. */
KX_API kx_status kx_kext_repo_add_kext(struct kx_kext_repo *r, const char *path,
                                       struct kx_kext **out);

/* Adds a kext built elsewhere (and its plug-ins); the repository owns it from
 * this call on, even when it fails. */
KX_API kx_status kx_kext_repo_adopt(struct kx_kext_repo *r, struct kx_kext *k);

/* Adds the pseudo-kexts of a macOS system profile (data/macos-profiles.plist),
 * marked loaded, and applies its rules (32- or 64-bit kernel). Names and
 * aliases are matched case-insensitively. STATUS_KEXT_NOT_FOUND for an
 * unknown name; STATUS_INVALID_PARAMETER if a profile is already in use. */
KX_API kx_status kx_kext_repo_use_system(struct kx_kext_repo *r, const char *name);
/* The profile's canonical name, or NULL. */
KX_API const char *kx_kext_repo_system(const struct kx_kext_repo *r);

/* Marks a kext (owned by r) as loaded or not: the loader's hook. A loaded copy
 * of an identifier is the only candidate for that identifier. Returns
 * STATUS_KEXT_LOADED_VERSION_DIFFERS when another copy of the identifier is
 * already loaded, STATUS_INVALID_PARAMETER for a kext r doesn't own or one
 * without a valid identifier. */
KX_API kx_status kx_kext_repo_set_loaded(struct kx_kext_repo *r, struct kx_kext *k, int is_loaded);

/* The kext a request for id would get: the loaded copy if any, else the
 * highest version compatible with requested (KX_VERS_INVALID = the highest
 * version regardless). NULL when none. */
KX_API struct kx_kext *kx_kext_repo_lookup(const struct kx_kext_repo *r, const char *id,
                                           kx_vers requested);

/* Removes a kext this repository adopted, with its plug-ins, and frees it
 * (pointers to them die here). STATUS_INVALID_PARAMETER for a kext r doesn't
 * own, a plug-in or a pseudo-kext; STATUS_KEXT_IN_USE when it or a plug-in
 * is loaded. */
KX_API kx_status kx_kext_repo_forget(struct kx_kext_repo *r, struct kx_kext *k);

/* Reads the bundles of id's copies again from disk (not loaded ones, and
 * not plug-ins, which come with their bundle): a bundle that is gone or no
 * longer reads is forgotten, with one line on report (may be NULL) naming
 * it and why; one that reads replaces its old copy (which is freed). */
KX_API kx_status kx_kext_repo_refresh(struct kx_kext_repo *r, const char *id, FILE *report);

/* id's copies in preference order (version descending, the most recently
 * added first on ties); *n of them. Borrowed until r changes. */
KX_API struct kx_kext *const *kx_kext_repo_copies(const struct kx_kext_repo *r, const char *id,
                                                   size_t *n);

/* Every kext in the order it was added (pseudo-kexts first). */
KX_API size_t kx_kext_repo_count(const struct kx_kext_repo *r);
KX_API struct kx_kext *kx_kext_repo_kext(const struct kx_kext_repo *r, size_t i);

/* Repository-level findings: folders' unreadable entries and every identifier
 * held by more than one bundle (KX_D_DUPLICATE_ID, naming the copy a request
 * would get and the rule). Borrowed; valid until r changes. */
KX_API const struct kx_diags *kx_kext_repo_diags(struct kx_kext_repo *r);

/* Decides for every kext at once whether its dependency graph resolves (valid,
 * authentic, every library found, no cycle) in O(kexts + libraries); then
 * kx_kext_repo_resolvable answers per kext. Graph-wide checks that need a
 * kext's whole load list (multiple copies in one graph, safe boot,
 * OSBundleRequired) are left to kx_kext_resolve. */
KX_API kx_status kx_kext_repo_resolve_all(struct kx_kext_repo *r, size_t *n_resolvable);
KX_API int kx_kext_repo_resolvable(const struct kx_kext_repo *r, const struct kx_kext *k);

/* ---- Resolution -------------------------------------------------------------------------------- */

/* Why a candidate for a library was or wasn't used. */
enum kx_kext_verdict {
    KX_CAND_CHOSEN,         /* satisfies the request and was chosen */
    KX_CAND_SUPERSEDED,     /* satisfies the request; a higher (or newer) copy was chosen */
    KX_CAND_NOT_LIBRARY,    /* no valid OSBundleCompatibleVersion */
    KX_CAND_BELOW_COMPAT,   /* requested < compatible: the library dropped that version */
    KX_CAND_ABOVE_CURRENT,  /* requested > current: the library is too old */
    KX_CAND_INVALID,        /* would satisfy the request, but has validation failures */
    KX_CAND_INAUTHENTIC,    /* would satisfy the request, but fails authentication */
    KX_CAND_OTHER_LOADED,   /* another copy of the identifier is loaded and always wins */
};

struct kx_kext_candidate {
    struct kx_kext *kext;
    enum kx_kext_verdict verdict;
};

/* One edge of the graph: `from` asks for `id` at `requested`. */
struct kx_kext_dep {
    struct kx_kext *from;
    const char *id;
    const char *requested_str; /* as written */
    kx_vers requested;
    struct kx_kext *chosen; /* NULL when the request failed */
    const struct kx_kext_candidate *candidates; /* every copy of id, in preference order */
    size_t n_candidates;
};

/* Resolves k (which must belong to r) against r: k's own diagnostics, the
 * dependency failures of every kext in its graph, the §2.4 KPI rules, cycles,
 * multiple copies of one identifier, OSBundleRequired consistency,
 * OSBundleAllowUserLoad and (with KX_KEXT_SAFE_BOOT) the safe-boot rules.
 * The caller owns *out (kx_kext_resolution_free); it borrows from r, so free
 * it before r. STATUS_INVALID_PARAMETER for a kext r doesn't own. */
KX_API kx_status kx_kext_resolve(struct kx_kext_repo *r, struct kx_kext *k,
                                 struct kx_kext_resolution **out);
KX_API void kx_kext_resolution_free(struct kx_kext_resolution *res);

KX_API struct kx_kext *kx_kext_resolution_kext(const struct kx_kext_resolution *res);
/* No diagnostic outside the Warnings category. */
KX_API int kx_kext_resolution_is_loadable(const struct kx_kext_resolution *res);
/* STATUS_SUCCESS, or the STATUS_KEXT_* of the first failing category
 * (validation, authentication, dependencies, boot level). */
KX_API kx_status kx_kext_resolution_status(const struct kx_kext_resolution *res);
/* The loader's verdict on a resolution: the checks kx_kernel_load makes before any code runs
 * (an executable for this machine, its driver-info record, the link check; see
 * src/kernel/verdict.c), run against the repository's files for every kext of the load list
 * that isn't loaded. Their diagnostics join the resolution's, and is_loadable and status answer
 * as the loader would (STATUS_KEXT_LINK_FAILED, STATUS_KEXT_NOT_LOADABLE, ...). Only when the
 * repository looked for executables for this machine (not KX_KEXT_NO_EXEC, not another arch):
 * *linked (may be NULL) says whether the checks ran. Returns kx_kext_resolution_status. */
KX_API kx_status kx_kext_resolution_verify(struct kx_kext_resolution *res, int *linked);
/* Every kext in the load list allows user load (OSBundleAllowUserLoad). */
KX_API int kx_kext_resolution_user_loadable(const struct kx_kext_resolution *res);
/* Dependencies first, the kext itself last; deterministic (libraries are
 * visited in identifier order). Kexts whose request failed are absent. */
KX_API size_t kx_kext_resolution_n_load_order(const struct kx_kext_resolution *res);
KX_API struct kx_kext *kx_kext_resolution_load_order(const struct kx_kext_resolution *res,
                                                     size_t i);
KX_API const struct kx_diags *kx_kext_resolution_diags(const struct kx_kext_resolution *res);
/* Every edge of the graph, in the order visited. */
KX_API size_t kx_kext_resolution_n_deps(const struct kx_kext_resolution *res);
KX_API const struct kx_kext_dep *kx_kext_resolution_dep(const struct kx_kext_resolution *res,
                                                        size_t i);

/* One line on a candidate, e.g. "requested 2.0 not in [compatible 1.0, current 1.5]";
 * returns buf. */
KX_API char *kx_kext_candidate_explain(const struct kx_kext_dep *dep,
                                       const struct kx_kext_candidate *cand, char *buf,
                                       size_t buf_len);

/* {"path", "id", "version", "loadable", "linkage_checked", "user_loadable",
 * "load_order": [{"id", "version", "path"}...], "diagnostics": [...],
 * "dependencies": [{"from", "id", "requested", "chosen", "candidates": [{"path", "version",
 * "compatible", "verdict", "explanation"}]}]}
 * — a new reference, NULL when memory runs out. */
KX_API json_t *kx_kext_resolution_to_json(const struct kx_kext_resolution *res);

/* ---- System profiles ------------------------------------------------------------------------- */

struct kx_kext_profile_info {
    const char *name;           /* "macos-10.3.9" */
    const char *description;    /* "Mac OS X 10.3.9 (build 7W98)" */
    const char *kernel_version; /* "7.9" */
    int is_lp64;                /* a 64-bit kernel: §2.4's 64-bit rules apply */
    const char *const *aliases;
    size_t n_aliases;
    size_t n_kexts; /* pseudo-kexts the profile provides */
};

/* Every profile of data/macos-profiles.plist, in file order. Free with kx_kext_profiles_free. */
KX_API kx_status kx_kext_profiles_load(struct kx_kext_profiles **out);
KX_API size_t kx_kext_profiles_count(const struct kx_kext_profiles *p);
KX_API const struct kx_kext_profile_info *kx_kext_profiles_get(const struct kx_kext_profiles *p,
                                                              size_t i);
KX_API void kx_kext_profiles_free(struct kx_kext_profiles *p);

#endif /* KX_KEXT_H */
