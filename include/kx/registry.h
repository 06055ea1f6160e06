/* kx/registry.h — the I/O Registry, the class table, the IOCatalogue and personality matching.
 *
 * The registry is IOKit's: a tree of entries, each with a class, a name, a location, an
 * id that is never reused, a property table (a libplist dictionary: numbers, strings,
 * data, booleans, arrays, dictionaries) and a state (registered, matched, busy count,
 * terminated). Entries hang in two planes: IOService (provider -> client) and
 * IODeviceTree (what the platform described). A new registry holds Root (class
 * IORegistryEntry), the platform expert device under it (IOPlatformExpertDevice) and
 * IOResources under that, with the "IOKit" resource published as IOKit does at start.
 *
 * The class table knows IOKit's built-in classes and their superclasses (data/
 * iokit-classes.plist) plus the classes kexts declare in their Info.plist's KXClasses
 * dictionary (class -> superclass), so a driver's own nubs can be matched by other kexts.
 * The catalogue holds every installed kext's IOKitPersonalities in catalogue order (kexts
 * by bundle path, personalities in Info.plist order), indexed by provider class and by
 * each personality's fastest-to-test key, so matching a nub looks at few personalities.
 *
 * Matching is pure: given the registry and the catalogue it returns, for a nub, every
 * candidate with its score, match category and whether it is chosen, and (with
 * KX_MATCH_EXPLAIN) every rejected personality of the nub's class chain with the key that
 * failed and why. kx match (a dry run), kxd and the tests share it. docs/registry.md
 * describes every key.
 *
 * Entries are named by id, never by pointer: an id outlives its entry (calls on a
 * terminated id fail cleanly), so no caller holds a pointer into the tree.
 *
 * Threads and locks. Every function here may be called from any thread. Each object has
 * one lock: the catalogue's and the registry's are read-write locks, the class table's
 * is a mutex. Lock order: catalogue, then registry, then class table (a leaf); no
 * callback runs under any of them. A matching pass holds the catalogue and registry read
 * locks for its whole length, so it sees one consistent tree and one catalogue — no
 * snapshot is copied; writers wait for the pass (a full rematch of 1,000 nubs against
 * 10,000 personalities takes about 20 ms, bench/bench_match.c). Readers that want
 * properties outside a pass get copies (kx_reg_props_copy), never the live dictionary.
 */
#ifndef KX_REGISTRY_H
#define KX_REGISTRY_H

#include <kx/status.h>
#include <plist/plist.h>
#include <stddef.h>
#include <stdint.h>

struct kx_kext;
struct kx_classes;
struct kx_reg;
struct kx_catalog;
struct kx_personality;
struct kx_match;
struct kx_kext_repo;

/* ---- Class table ------------------------------------------------------------------------- */

/* A class table with IOKit's built-in classes. Free with kx_classes_free after every
 * registry and catalogue that borrows it. STATUS_INSUFFICIENT_RESOURCES only. */
KX_API kx_status kx_classes_new(struct kx_classes **out);
KX_API void kx_classes_free(struct kx_classes *c);

/* Declares class name with its superclass (NULL or "" for a root class) on behalf of
 * owner (a bundle identifier; NULL = built in). Declaring an existing class again with the
 * same superclass adds owner to it; with a different superclass it fails with
 * STATUS_OBJECT_NAME_COLLISION (the first declaration stands). A declaration that would
 * make a class its own ancestor fails with STATUS_INVALID_PARAMETER. The superclass need
 * not be known yet. */
KX_API kx_status kx_classes_declare(struct kx_classes *c, const char *name, const char *superclass,
                                    const char *owner);
/* Withdraws owner's declarations; a class goes when its last declaring owner goes.
 * Built-in classes never go. */
KX_API void kx_classes_forget(struct kx_classes *c, const char *owner);

KX_API int kx_classes_is_known(struct kx_classes *c, const char *name);
/* 1 when name is ancestor or derives from it. An unknown name conforms only to itself. */
KX_API int kx_classes_conforms(struct kx_classes *c, const char *name, const char *ancestor);
/* The superclass, or NULL for a root or unknown class. The string is interned: valid for
 * the table's life. */
KX_API const char *kx_classes_superclass(struct kx_classes *c, const char *name);
/* The class personalities naming provider_class are matched against. Legacy USB classes
 * are translated as macOS 10.11+ does (IOUSBDevice -> IOUSBHostDevice, IOUSBInterface ->
 * IOUSBHostInterface); any other name is returned as given. */
KX_API const char *kx_classes_matched_as(struct kx_classes *c, const char *provider_class);

/* ---- Registry ---------------------------------------------------------------------------- */

typedef uint64_t kx_reg_id;
#define KX_REG_ID_NONE ((kx_reg_id)0)

/* Class names, entry names and locations are shorter than this, like IOKit's io_name_t. */
#define KX_REG_NAME_MAX 128

enum kx_reg_plane { KX_REG_SERVICE, KX_REG_DEVICE_TREE, KX_REG_N_PLANES };
#define KX_REG_PLANE_BIT(p) (1u << (p))
#define KX_REG_ALL_PLANES   ((1u << KX_REG_N_PLANES) - 1u)

/* "IOService", "IODeviceTree". */
KX_API const char *kx_reg_plane_name(enum kx_reg_plane p);
/* 0 and *out set for a plane's name; -1 otherwise. */
KX_API int kx_reg_plane_from_name(const char *name, enum kx_reg_plane *out);

/* State bits (IOService's kIOServiceRegisteredState and friends). An entry is active
 * until terminated. */
#define KX_REG_REGISTERED 0x1u
#define KX_REG_MATCHED    0x2u
#define KX_REG_TERMINATED 0x4u

struct kx_reg_info {
    kx_reg_id id;
    char class_name[KX_REG_NAME_MAX];
    char name[KX_REG_NAME_MAX];
    char location[KX_REG_NAME_MAX]; /* "" when the entry has none */
    unsigned state;                 /* KX_REG_* */
    uint32_t busy;                  /* busy count */
    uint32_t retain;                /* 1 + links to other entries: ioreg's "retain" column */
    int is_service;                 /* the class conforms to IOService (Root does not) */
};

/* A registry with Root, the platform expert device and IOResources. classes is borrowed
 * and must outlive the registry. STATUS_INSUFFICIENT_RESOURCES only. */
KX_API kx_status kx_reg_new(struct kx_classes *classes, struct kx_reg **out);
KX_API void kx_reg_free(struct kx_reg *r);
KX_API struct kx_classes *kx_reg_classes(struct kx_reg *r);

KX_API kx_reg_id kx_reg_root(const struct kx_reg *r);
KX_API kx_reg_id kx_reg_platform(const struct kx_reg *r);
KX_API kx_reg_id kx_reg_resources(const struct kx_reg *r);

/* Creates an entry attached under parent in every plane of planes (a mask of
 * KX_REG_PLANE_BIT) and registers it, as a family publishes a nub. props is a dictionary
 * or NULL and belongs to the registry from this call on, even when it fails. location may
 * be NULL. STATUS_OBJECT_NAME_INVALID for an empty or too long class or name, or a too
 * long location; STATUS_INVALID_PARAMETER for props that aren't a dictionary or an empty
 * plane mask; STATUS_NO_SUCH_DEVICE for an unknown parent; STATUS_DEVICE_REMOVED for a
 * terminated one. */
KX_API kx_status kx_reg_publish(struct kx_reg *r, kx_reg_id parent, unsigned planes,
                                const char *class_name, const char *name, const char *location,
                                plist_t props, kx_reg_id *out);
/* The same with the id the entry has in another registry, for a copy of it (the tools'
 * view of kxd's): id must be higher than every id this registry has given, and the ids
 * between are never used. STATUS_OBJECT_NAME_COLLISION otherwise. */
KX_API kx_status kx_reg_publish_as(struct kx_reg *r, kx_reg_id id, kx_reg_id parent,
                                   unsigned planes, const char *class_name, const char *name,
                                   const char *location, plist_t props);
/* Adds or removes a link in one plane. A client may have several providers. Attaching
 * that would make an entry its own ancestor fails with STATUS_INVALID_PARAMETER; detaching
 * a link that doesn't exist with STATUS_NO_SUCH_DEVICE. */
KX_API kx_status kx_reg_attach(struct kx_reg *r, kx_reg_id child, kx_reg_id parent,
                               enum kx_reg_plane plane);
KX_API kx_status kx_reg_detach(struct kx_reg *r, kx_reg_id child, kx_reg_id parent,
                               enum kx_reg_plane plane);
/* Renames an entry (location may be NULL for none). */
KX_API kx_status kx_reg_set_name(struct kx_reg *r, kx_reg_id id, const char *name,
                                 const char *location);
/* Sets or clears KX_REG_MATCHED (the runtime sets it once matching of a nub completes). */
KX_API kx_status kx_reg_set_matched(struct kx_reg *r, kx_reg_id id, int matched);
/* Adds delta to the busy count (STATUS_INVALID_PARAMETER if it would go below 0). */
KX_API kx_status kx_reg_busy_adjust(struct kx_reg *r, kx_reg_id id, int delta);

/* Every call on an id returns STATUS_NO_SUCH_DEVICE for an id that never existed or whose
 * entry is gone (terminated entries are removed from the tree). */
KX_API kx_status kx_reg_info(struct kx_reg *r, kx_reg_id id, struct kx_reg_info *out);

/* ---- Properties ----------------------------------------------------------------------------
 * Values are copied in both directions: the registry never hands out its own nodes. */

/* *out: a copy of the value (free with plist_free), or NULL when the entry has no such key. */
KX_API kx_status kx_reg_prop_copy(struct kx_reg *r, kx_reg_id id, const char *key, plist_t *out);
/* *out: a copy of the whole property table (a dictionary). */
KX_API kx_status kx_reg_props_copy(struct kx_reg *r, kx_reg_id id, plist_t *out);
/* Sets key to value; value belongs to the registry from this call on, even when it fails. */
KX_API kx_status kx_reg_prop_set(struct kx_reg *r, kx_reg_id id, const char *key, plist_t value);
/* Removes key (nothing happens when it is absent). */
KX_API kx_status kx_reg_prop_remove(struct kx_reg *r, kx_reg_id id, const char *key);
/* Merges dict (borrowed) into the entry's properties as IOProviderMergeProperties does: a
 * dictionary value merges into an existing dictionary of the same key, key by key and
 * recursively; any other value replaces. STATUS_INVALID_PARAMETER if dict isn't one. */
KX_API kx_status kx_reg_props_merge(struct kx_reg *r, kx_reg_id id, plist_t dict);

/* Publishes a resource: a property on IOResources. value belongs to the registry; NULL
 * publishes the string "IOService", as IOService::publishResource does. */
KX_API kx_status kx_reg_resource_publish(struct kx_reg *r, const char *name, plist_t value);
KX_API int kx_reg_resource_published(struct kx_reg *r, const char *name);

/* ---- Lookups ------------------------------------------------------------------------------ */

/* Apple's path syntax: "IOService:/AppleACPIPlatformExpert/PCI0@0/GIGE@19". Root is the
 * plane's "/"; a leading "Root" component is accepted and skipped. Each component is a name,
 * optionally "@location"; without one the first child of that name is taken. "IOService" is
 * assumed when the path starts with "/". STATUS_OBJECT_NAME_INVALID for a malformed path or
 * unknown plane, STATUS_NO_SUCH_DEVICE when nothing is there. */
KX_API kx_status kx_reg_lookup_path(struct kx_reg *r, const char *path, kx_reg_id *out);
/* The path of id in plane (from its first parent at each level). STATUS_NO_SUCH_DEVICE
 * when id isn't in that plane, STATUS_BUFFER_TOO_SMALL when len is too short. */
KX_API kx_status kx_reg_path(struct kx_reg *r, kx_reg_id id, enum kx_reg_plane plane, char *buf,
                             size_t len);

/* The following return malloc'ed id arrays (free with free(); NULL when *n is 0). */

/* Every entry whose class is class_name or derives from it, in id order. */
KX_API kx_status kx_reg_find_class(struct kx_reg *r, const char *class_name, kx_reg_id **out,
                                   size_t *n);
/* The children (clients) or parents (providers) of id in plane, in attach order. */
KX_API kx_status kx_reg_children(struct kx_reg *r, kx_reg_id id, enum kx_reg_plane plane,
                                 kx_reg_id **out, size_t *n);
KX_API kx_status kx_reg_parents(struct kx_reg *r, kx_reg_id id, enum kx_reg_plane plane,
                                kx_reg_id **out, size_t *n);
/* Every entry reachable from Root in plane, depth first in child order, Root first; an
 * entry with several parents appears once. */
KX_API kx_status kx_reg_list(struct kx_reg *r, enum kx_reg_plane plane, kx_reg_id **out, size_t *n);

/* ---- Termination ------------------------------------------------------------------------ */

/* Called once per terminated entry, clients before their providers (depth first), after
 * the registry lock is released: the I/O manager completes the entry's IRPs from here. */
typedef void (*kx_reg_terminate_fn)(void *ctx, kx_reg_id id);

/* Terminates id and, depth first, every IOService-plane client left without an active
 * provider, then removes them from every plane. fn may be NULL. Root, the platform expert
 * and IOResources can't be terminated (STATUS_ACCESS_DENIED). */
KX_API kx_status kx_reg_terminate(struct kx_reg *r, kx_reg_id id, kx_reg_terminate_fn fn,
                                  void *ctx);

/* ---- Watching a class (issue 14) --------------------------------------------------------- */

/* Called after an entry of the watched class (or a subclass) was published (is_added 1) or
 * terminated (0), with the registry lock released. source is the entry's "address"
 * property when it is a string (a component's UUID), else its class and id
 * ("KXComponent@0x1000000a"); valid during the call. */
typedef void (*kx_reg_watch_fn)(void *ctx, int is_added, kx_reg_id id, const char *source);

/* One watcher per registry (fn NULL: none). Set it before entries of the class appear;
 * class_name is copied. STATUS_SUCCESS; STATUS_INSUFFICIENT_RESOURCES. */
KX_API kx_status kx_reg_watch_class(struct kx_reg *r, const char *class_name, kx_reg_watch_fn fn,
                                    void *ctx);

/* ---- Catalogue -------------------------------------------------------------------------- */

#define KX_CATALOG_SAFE_BOOT 0x1u /* withhold personalities whose IOKitDebug is non-zero */

/* An empty catalogue. classes is borrowed (kexts' KXClasses are declared into it) and must
 * outlive the catalogue. */
KX_API kx_status kx_catalog_new(struct kx_classes *classes, unsigned flags,
                                struct kx_catalog **out);
KX_API void kx_catalog_free(struct kx_catalog *c);

/* Adds a kext's IOKitPersonalities and declares its KXClasses. Personalities that are not
 * dictionaries or lack a string IOClass or IOProviderClass are left out and reported
 * (kx_catalog_problem), as IOCatalogue refuses them. A kext already in the catalogue
 * (same bundle path) is replaced. *n_added (optional): personalities added. */
KX_API kx_status kx_catalog_add_kext(struct kx_catalog *c, const struct kx_kext *k,
                                     size_t *n_added);
/* The same from an info dictionary (borrowed): for the kext cache's index, benchmarks and
 * tests. has_executable: the kext declares CFBundleExecutable. */
KX_API kx_status kx_catalog_add_info(struct kx_catalog *c, const char *bundle_id,
                                     const char *bundle_path, plist_t info, int has_executable,
                                     size_t *n_added);
/* Removes every personality (and class declaration) of kexts with this bundle identifier,
 * as kextunload -p does. Returns how many personalities went. Results of earlier matching
 * passes stay valid (they hold their personalities). */
KX_API size_t kx_catalog_remove_kext(struct kx_catalog *c, const char *bundle_id);

/* Personalities in catalogue order: *out is a malloc'ed array of retained personalities;
 * release it with kx_catalog_list_free. */
KX_API kx_status kx_catalog_list(struct kx_catalog *c, struct kx_personality ***out, size_t *n);
KX_API void kx_catalog_list_free(struct kx_personality **list, size_t n);

/* Problems found while adding kexts ("Foo.kext: IOKitPersonalities: Bar: Missing or bad
 * \"IOClass\" key"), in the order found. The string is valid until the catalogue changes. */
KX_API size_t kx_catalog_n_problems(struct kx_catalog *c);
KX_API const char *kx_catalog_problem(struct kx_catalog *c, size_t i);

/* ---- Personalities (immutable, reference counted; every string valid while held) ------- */

KX_API void kx_personality_retain(struct kx_personality *p);
KX_API void kx_personality_release(struct kx_personality *p);

KX_API const char *kx_personality_kext(const struct kx_personality *p);        /* owner's id */
KX_API const char *kx_personality_bundle_path(const struct kx_personality *p); /* owner's path */
KX_API const char *kx_personality_name(const struct kx_personality *p);        /* dict key */
KX_API const char *kx_personality_ioclass(const struct kx_personality *p);
KX_API const char *kx_personality_provider_class(const struct kx_personality *p); /* as written */
/* The class it is matched against (kx_classes_matched_as of the provider class). */
KX_API const char *kx_personality_matched_as(const struct kx_personality *p);
/* IOMatchCategory, default "IODefaultMatchCategory"; NULL for a merge-only personality. */
KX_API const char *kx_personality_category(const struct kx_personality *p);
/* The bundle whose code runs the driver: the personality's CFBundleIdentifier when it names
 * one (injector kexts publish personalities for other bundles), else the owner. */
KX_API const char *kx_personality_code_bundle(const struct kx_personality *p);
KX_API int64_t kx_personality_probe_score(const struct kx_personality *p); /* IOProbeScore */
/* A personality of a codeless kext (no CFBundleExecutable) that carries
 * IOProviderMergeProperties or names no other bundle's code: it only merges into the
 * provider and claims no category. */
KX_API int kx_personality_merge_only(const struct kx_personality *p);
/* Withheld from matching: safe boot and a non-zero IOKitDebug. */
KX_API int kx_personality_withheld(const struct kx_personality *p);
/* The personality dictionary (borrowed; never modified). */
KX_API plist_t kx_personality_dict(const struct kx_personality *p);

/* ---- Matching ----------------------------------------------------------------------------- */

#define KX_MATCH_EXPLAIN 0x1u /* also report every rejected personality of the class chain */

struct kx_match_candidate {
    struct kx_personality *personality; /* held by the result */
    int64_t score;                      /* IOProbeScore, or the USB family's score */
    unsigned chain_distance;            /* 0: the nub's own class, 1: its superclass, ... */
    const char *category;               /* NULL for a merge-only personality */
    const char *name_matched;           /* IONameMatched: the name IONameMatch found, or NULL */
    plist_t merge;                      /* IOProviderMergeProperties (borrowed) or NULL */
    int chosen;                         /* first of its category still in the running */
    int declined;                       /* the runtime said its probe or start failed */
};

struct kx_match_rejection {
    struct kx_personality *personality; /* held by the result */
    const char *key;                    /* the key that failed */
    const char *why;                    /* one line */
    int waiting;                        /* an unpublished IOResourceMatch resource: matching
                                         * runs again when it is published */
};

/* Matches each of nubs[0..n) against the catalogue in one pass under both read locks;
 * *out is a malloc'ed array of n results (free with kx_match_free_array). Candidates are in
 * match order: score descending, then the nub's own class before a superclass, then
 * catalogue order. In each match category the first candidate is chosen, unless a client of
 * the nub already holds that category (an IOService-plane client with that IOMatchCategory
 * property). Without KX_MATCH_EXPLAIN only waiting rejections are reported.
 * STATUS_NO_SUCH_DEVICE for a nub that isn't in the registry. */
KX_API kx_status kx_match_nubs(struct kx_catalog *cat, struct kx_reg *reg, const kx_reg_id *nubs,
                               size_t n, unsigned flags, struct kx_match ***out);
KX_API kx_status kx_match_nub(struct kx_catalog *cat, struct kx_reg *reg, kx_reg_id nub,
                              unsigned flags, struct kx_match **out);
KX_API void kx_match_free(struct kx_match *m);
KX_API void kx_match_free_array(struct kx_match **ms, size_t n);

KX_API kx_reg_id kx_match_nub_id(const struct kx_match *m);
KX_API size_t kx_match_n_candidates(const struct kx_match *m);
KX_API const struct kx_match_candidate *kx_match_candidate(const struct kx_match *m, size_t i);
KX_API size_t kx_match_n_rejected(const struct kx_match *m);
KX_API const struct kx_match_rejection *kx_match_rejected(const struct kx_match *m, size_t i);

/* The runtime's report that chosen candidate i declined in probe or failed to start: it is
 * marked declined and the next candidate of its category still in the running is chosen;
 * *next (optional) is its index, or SIZE_MAX when the category has none left.
 * STATUS_INVALID_PARAMETER when i is out of range or not chosen. */
KX_API kx_status kx_match_decline(struct kx_match *m, size_t i, size_t *next);

/* Merges every candidate's IOProviderMergeProperties into the nub, in match order (the
 * runtime's step before probing). */
KX_API kx_status kx_match_apply_merges(struct kx_reg *reg, const struct kx_match *m);

/* ---- Reports (kx match --json, kx catalog --json) -------------------------------------------
 * Built here so the tools and kxd, which answers them for the tools, write one document.
 * docs/registry.md shows both. */

/* Whether the kext whose code a personality runs would load: 1, or 0 with *reason
 * (malloc'ed) saying why not. May not be called under a registry or catalogue lock. */
typedef int (*kx_match_loadable_fn)(void *ctx, const char *bundle_id, char **reason);

/* The answer from a repository: bundle_id is in it and resolves. Resolution writes into
 * the repository; callers sharing one serialise. */
KX_API int kx_match_kext_loadable(struct kx_kext_repo *repo, const char *bundle_id, char **reason);

/* Matches every nub (every IOService-plane entry but Root) with KX_MATCH_EXPLAIN and
 * writes kx match's JSON: {"nubs": [{path, id, class, name, candidates, rejected}],
 * "never_match": [...]}. loadable is asked once per code bundle. *out: compact JSON text,
 * malloc'ed. */
KX_API kx_status kx_match_report_json(struct kx_catalog *cat, struct kx_reg *reg,
                                      kx_match_loadable_fn loadable, void *ctx, char **out);
/* kx catalog's JSON: {"personalities": [...]} in catalogue order. *out as above. */
KX_API kx_status kx_catalog_report_json(struct kx_catalog *cat, char **out);

#endif /* KX_REGISTRY_H */
