/* kext_int.h — the kext, repository and resolution objects, shared by src/kext/.
 *
 * Ownership: a kext owns its info dictionary, strings, diagnostics and
 * plug-ins until a repository adopts it; from then on the repository owns
 * every kext (plug-ins included) and frees them in kx_kext_repo_free.
 * Strings such as k->id point into k->info and live as long as the kext.
 *
 * Memo fields (picks, dep_diags, memo_gen) cache a kext's direct library
 * choices for one repository generation; any change to the repository bumps
 * r->gen and so invalidates them (resolve.c).
 */
#ifndef KX_KEXT_INT_H
#define KX_KEXT_INT_H

#include <kx/kext.h>

#include <stdint.h>

/* Apple: identifiers and versions must be < 64 characters (KMOD_MAX_NAME - 1). */
#define KX_KEXT_STRING_MAX 63

struct kx_kext_lib {
    char *id;            /* library bundle identifier */
    char *requested_str; /* version as written */
    kx_vers requested;   /* KX_VERS_INVALID when unparsable */
};

struct kx_kext {
    char *path;      /* bundle folder, or "profile:<name>/<id>" for pseudo-kexts */
    char *real_path; /* path resolved (realpath), NULL when not read from a folder */
    char *info_path; /* the Info.plist read; NULL when built from bytes */
    char *exec_path; /* executable found for this machine; NULL otherwise */
    plist_t info;    /* info dictionary; NULL when unreadable (or not parsed yet: info_bin) */
    /* A kext restored from the kext cache (restore.c) keeps its info
     * dictionary as binary plist bytes until someone asks for it
     * (kx__kext_info parses them then); its strings (id, version_str,
     * compat_str, required) live in `strings` instead of in info. */
    void *info_bin;
    size_t info_bin_len;
    char *strings;

    const char *id;          /* CFBundleIdentifier when a usable string (borrowed from info) */
    const char *version_str; /* CFBundleVersion as written (borrowed) */
    kx_vers version;         /* KX_VERS_INVALID when missing or bad */
    kx_vers compat;          /* KX_VERS_INVALID: not a library */
    const char *compat_str;  /* OSBundleCompatibleVersion as written (borrowed) */
    const char *required;    /* OSBundleRequired when a legal value (borrowed) */
    struct kx_kext_lib *libs;
    size_t n_libs;
    struct kx_diags diags; /* validation, authentication, warnings */

    unsigned is_kernel_resource : 1;
    unsigned is_interface : 1;
    unsigned declares_exec : 1;
    unsigned allow_user_load : 1;
    unsigned is_dext : 1;
    unsigned is_loaded : 1;
    unsigned is_pseudo : 1; /* built from a profile, not read from disk */
    unsigned apple_copyright : 1;

    struct kx_kext **plugins;
    size_t n_plugins;
    struct kx_kext *parent;
    char *folder; /* the extensions folder it was read from, or NULL (a re-read checks it again) */

    /* Repository bookkeeping. */
    struct kx_kext_repo *repo;
    size_t seq; /* order of addition: larger = more recent */

    /* Resolution memo (resolve.c). */
    uint64_t memo_gen;
    struct kx_kext **picks; /* parallel to libs; NULL where the request failed */
    struct kx_diags dep_diags;
    uint64_t visit; /* stamp of the last walk that reached this kext */
    uint8_t walk;   /* walk state: on stack / done (resolve.c) */
    uint8_t ok;     /* kx_kext_repo_resolve_all's answer */
};

/* All copies of one identifier, in preference order: version descending,
 * among equal versions the most recently added first (Apple's
 * __OSKextRecordKextInIdentifierDict order). */
struct kx_id_entry {
    const char *id; /* borrowed from kexts[0]... any copy; all are equal */
    struct kx_kext **kexts;
    size_t n, cap;
    struct kx_kext *loaded; /* at most one loaded copy */
};

struct kx_kext_repo {
    struct kx_kext_options opts; /* opts.arch points to arch below */
    char *arch;
    int is_lp64; /* §2.4's 64-bit rules apply */
    int pre_oskext; /* the profile is Mac OS X 10.5 or older (kernel < 10): before OSKext refused
                     * com.apple.kernel itself */
    char *system;

    struct kx_kext **all; /* every kext, in order of addition */
    size_t n_all, cap_all;
    struct kx_kext **owned; /* top-level kexts to free (plug-ins hang off them) */
    size_t n_owned, cap_owned;

    struct kx_id_entry *slots; /* open addressing, power-of-two size */
    size_t n_slots, n_ids;

    struct kx_diags diags;     /* folder problems (persistent) */
    struct kx_diags dup_diags; /* duplicates, rebuilt when dup_gen != gen */
    uint64_t dup_gen;

    uint64_t gen;   /* bumped by every change */
    uint64_t stamp; /* walk stamps */
    uint64_t resolved_gen; /* generation kx_kext_repo_resolve_all ran for */
    size_t next_seq;
};

struct kx_kext_resolution {
    struct kx_kext_repo *repo;
    struct kx_kext *root;
    struct kx_kext **order;
    size_t n_order;
    struct kx_kext_dep *deps; /* candidates arrays owned */
    size_t n_deps, cap_deps;
    struct kx_diags diags;
    int user_loadable;
    kx_status verdict; /* kx_kext_resolution_verify's, once it ran; else STATUS_SUCCESS */
    int linked;        /* kx_kext_resolution_verify ran the loader's checks */
};

/* ---- bundle.c ---- */
struct kx_kext *kx__kext_alloc(const char *path);
/* 1 when x is top or one of top's plug-ins (at any depth). */
int kx__kext_is_inside(const struct kx_kext *x, const struct kx_kext *top);
/* Takes ownership of info (may be NULL after a parse failure) and validates it. */
kx_status kx__kext_set_info(struct kx_kext *k, plist_t info, const char *arch);
const char *kx__arch_or_host(const char *arch);
int kx__arch_is_lp64(const char *arch);

/* k->info, parsed from k->info_bin on first use (a restored kext); NULL when
 * there is none or the bytes don't parse. Writes the kext, like the resolver's
 * memo fields: one thread at a time. */
plist_t kx__kext_info(const struct kx_kext *k);

/* ---- restore.c: a kext's validated fields, for the kext cache ---- */
/* Appends to *buf (realloc'ed, *len bytes used) a record of everything
 * validation derived from k's info dictionary: identity, versions,
 * OSBundleRequired, libraries and flags. */
kx_status kx__kext_fields_write(const struct kx_kext *k, uint8_t **buf, size_t *len);
/* Builds the kext such a record describes, at path, keeping a copy of
 * info_bin (the binary plist of its info dictionary) for kx__kext_info:
 * what reading and validating the bundle gave when the record was written,
 * without parsing or checking anything again. No diagnostics: only valid
 * kexts are recorded. STATUS_DATA_ERROR for a record that doesn't parse,
 * STATUS_INSUFFICIENT_RESOURCES. */
kx_status kx__kext_restore(const char *path, const void *fields, size_t fields_len,
                           const void *info_bin, size_t info_bin_len, struct kx_kext **out);

/* ---- validate.c ---- */
/* Reads and checks every key of research §7.1; fills k's fields and diags. */
kx_status kx__kext_validate(struct kx_kext *k, const char *arch);

/* Dictionary lookup honouring `<key>_<arch>` for OS* and IO* keys. */
plist_t kx__kext_get(const struct kx_kext *k, const char *key, const char *arch);
/* kxld's rule: "Copyright © <years> Apple Inc. All rights reserved." */
int kx__apple_copyright_valid(const char *s);

/* ---- exec.c ---- */
/* Checks that path is an ELF shared object for arch; adds KX_D_FOREIGN_EXECUTABLE
 * (warning) or KX_D_EXECUTABLE_BAD. Returns 1 when the executable is usable. */
int kx__kext_exec_check(struct kx_kext *k, const char *path, const char *arch);
/* A Lua driver: CFBundleExecutable is a *.sys.lua script (src/lua). */
int kx__kext_is_lua(const struct kx_kext *k);

/* ---- auth.c ---- */
kx_status kx__kext_authenticate(struct kx_kext *k, const struct kx_kext_options *opts);
/* k was read as an entry of an extensions folder: when the entry is a symbolic link, it must
 * lead inside that folder, else KX_D_SYMLINK_OUTSIDE_FOLDER. Checked with or without
 * KX_KEXT_NO_AUTH. STATUS_INSUFFICIENT_RESOURCES only. */
kx_status kx__kext_check_folder_entry(struct kx_kext *k, const char *folder);

/* ---- repo.c ---- */
const struct kx_id_entry *kx__repo_find(const struct kx_kext_repo *r, const char *id);
kx_status kx__repo_add_pseudo(struct kx_kext_repo *r, struct kx_kext *k);
/* Appends r's duplicate warning for id (if id has several copies) to d. */
kx_status kx__repo_duplicate_diag(struct kx_kext_repo *r, const char *id, struct kx_diags *d);
int kx__repo_owns(const struct kx_kext_repo *r, const struct kx_kext *k);

/* ---- profile.c ---- */
kx_status kx__profile_add_builtin(struct kx_kext_repo *r);
kx_status kx__profile_add(struct kx_kext_repo *r, const char *name);

/* ---- resolve.c ---- */
/* Computes k's direct choices for the current generation. */
kx_status kx__resolve_direct(struct kx_kext_repo *r, struct kx_kext *k);
enum kx_kext_verdict kx__classify(const struct kx_kext *cand, kx_vers requested);

/* ---- policy.c ---- */
/* §2.4/§2.5 rules on k's own library list (dependency category) into k->dep_diags. */
kx_status kx__policy_libraries(const struct kx_kext_repo *r, struct kx_kext *k);
/* Graph-wide rules on a finished load order: safe boot, OSBundleRequired, user load. */
kx_status kx__policy_graph(const struct kx_kext_repo *r, struct kx_kext_resolution *res);
int kx__loadable_in_safe_boot(const struct kx_kext *k);
/* §2.7: may a dependency with OSBundleRequired `dep` serve a kext with `req`
 * (either NULL when absent)? */
int kx__policy_required_consistent(const char *req, const char *dep);

/* ---- diag helpers ---- */
static inline int kx__has_category(const struct kx_diags *d, enum kx_diag_category c)
{
    return kx_diags_count(d, c) != 0;
}

#endif /* KX_KEXT_INT_H */
