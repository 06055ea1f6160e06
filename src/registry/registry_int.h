/* registry_int.h — what src/registry's files share: the registry's and its entries'
 * layout, the catalogue's personality records and index, and the matcher's entry points
 * into both. Nothing here is public; include/kx/registry.h is the API.
 */
#ifndef KX_REGISTRY_INT_H
#define KX_REGISTRY_INT_H

#include "strmap.h"

#include <kx/registry.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Ids count up from here, as IOKit's do (0x100000100 is Root on macOS); never reused. */
#define KX_REG_ID_BASE ((kx_reg_id)0x100000100ull)

/* Longest class chain kept for a nub; IOKit's deepest are around ten classes. */
#define KX_CHAIN_MAX 32

/* ---- Class table (classes.c) -------------------------------------------------------------- */

/* The chain of an entry's class, the class first. A chain the table can't finish ends
 * with IOService and IORegistryEntry: every entry but Root is an IOService. Returns the
 * length (at least 1); the strings are the argument or interned in c. */
size_t kx_classes_entry_chain(struct kx_classes *c, const char *class_name, const char **out,
                              size_t max);

/* ---- Registry (registry.c, registry_tree.c) ----------------------------------------------- */

struct kx_reg_links {
    struct kx_reg_entry **v;
    size_t n, cap;
};

struct kx_reg_entry {
    kx_reg_id id;
    char *class_name, *name, *location; /* location "" when none */
    plist_t props;                      /* a dictionary, never NULL */
    unsigned state;                     /* KX_REG_* */
    uint32_t busy;
    struct kx_reg_links parents[KX_REG_N_PLANES], children[KX_REG_N_PLANES];
};

struct kx_reg {
    pthread_rwlock_t lock;       /* guards every entry, link, property and state, and slots */
    struct kx_classes *classes;  /* borrowed */
    struct kx_reg_entry **slots; /* slots[id - KX_REG_ID_BASE]; NULL once an entry is gone */
    size_t n_slots, cap;
    kx_reg_id root, platform, resources;
    /* kx_reg_watch_class: set before use, read without the lock */
    char *watch_class;
    kx_reg_watch_fn watch_fn;
    void *watch_ctx;
};

/* Under the lock: whether e is of the watched class, and the source text its
 * watcher gets (registry_watch.c). */
int kx_reg_watched_locked(const struct kx_reg *r, const struct kx_reg_entry *e, char *source,
                          size_t len);

/* Frees an entry that is in no slot and no link any more. */
void kx_reg_entry_free(struct kx_reg_entry *e);
/* The live entry for id, or NULL. Called with the lock held (either mode). */
struct kx_reg_entry *kx_reg_entry_locked(const struct kx_reg *r, kx_reg_id id);
/* Path lookup with the lock held (either mode); see kx_reg_lookup_path. */
kx_status kx_reg_lookup_path_locked(const struct kx_reg *r, const char *path,
                                    struct kx_reg_entry **out);
/* Replaces an entry's class (the platform file gives the platform expert its own). */
kx_status kx_reg_set_class(struct kx_reg *r, kx_reg_id id, const char *class_name);
/* Removes a link; the lock held for writing. */
void kx_reg_unlink_locked(struct kx_reg_entry *child, struct kx_reg_entry *parent,
                          enum kx_reg_plane plane);
/* Deep merge as kx_reg_props_merge describes (dst and src are dictionaries). */
void kx_reg_merge_dict(plist_t dst, plist_t src);

/* ---- Catalogue (catalog.c, mtable.c) ------------------------------------------------------ */

/* One entry of an IOPCI*Match list: the register matches when (reg & mask) == value & mask. */
struct kx_pci_term {
    uint32_t value, mask;
};

enum kx_usb_key {
    KX_USB_VENDOR,
    KX_USB_PRODUCT,
    KX_USB_RELEASE,
    KX_USB_DEVICE_CLASS,
    KX_USB_DEVICE_SUBCLASS,
    KX_USB_DEVICE_PROTOCOL,
    KX_USB_CONFIGURATION,
    KX_USB_INTERFACE_NUMBER,
    KX_USB_INTERFACE_CLASS,
    KX_USB_INTERFACE_SUBCLASS,
    KX_USB_INTERFACE_PROTOCOL,
    KX_USB_N_KEYS
};
/* "idVendor", "idProduct", ... */
extern const char *const kx_usb_key_names[KX_USB_N_KEYS];

enum kx_usb_form { KX_USB_ABSENT, KX_USB_NUMBER, KX_USB_WILDCARD, KX_USB_OTHER };

/* One IOPropertyMatch dictionary as key/value pairs (values borrowed from the table). */
struct kx_subset {
    char **keys;
    plist_t *values;
    size_t n;
};

/* A matching dictionary compiled once, when its personality joins the catalogue: every
 * key the matcher tests, parsed. IOParentMatch and IOLocationMatch dictionaries are
 * compiled the same way (without a score or category). */
struct kx_mtable {
    plist_t dict;               /* borrowed from the personality */
    const char *provider_class; /* a nested table's IOProviderClass, tested on the provider;
                                 * NULL for personalities (the catalogue's buckets test it) */
    char *unknown_key;          /* the first IO...Match key kx doesn't know, or NULL */
    const char *bad_key;        /* a known key whose value has the wrong type, or NULL */
    const char *bad_type;       /* what bad_key should have been */
    char **names;               /* IONameMatch */
    size_t n_names;
    struct kx_subset *property_match; /* IOPropertyMatch: its dictionaries (any may match) */
    size_t n_property_match;
    int has_property_match;
    plist_t exists_match;             /* IOPropertyExistsMatch: a string or an array of them */
    const char *path_match;           /* IOPathMatch */
    const char *location;             /* IOLocationMatch as a string */
    struct kx_mtable *location_table; /* IOLocationMatch as a dictionary (the provider's) */
    struct kx_mtable *parent_table;   /* IOParentMatch */
    char **resources;                 /* IOResourceMatch */
    size_t n_resources;
    int has_entry_id, has_service_count;
    uint64_t entry_id, service_count;
    struct kx_pci_term *pci[4]; /* IOPCIMatch, IOPCIPrimaryMatch, IOPCISecondaryMatch,
                                 * IOPCIClassMatch; NULL when absent */
    size_t n_pci[4];
    const char *pci_text[4];
    int tunnel_compatible; /* IOPCITunnelCompatible: -1 absent, else 0/1 */
    enum kx_usb_form usb_form[KX_USB_N_KEYS];
    uint64_t usb[KX_USB_N_KEYS];
    uint64_t *product_array; /* idProductArray */
    size_t n_product_array;
    int has_product_array, has_product_mask;
    uint64_t product_mask;
    int usb_user_client_init; /* IOMatchCategory IOUSBUserClientInit: IOUSBFamily's shortcut */
    const char *ioclass;      /* IOClass (IOPCIFamily spares IOPCI2PCIBridge tunnel checks) */
    int has_bsd_keys;         /* IOBSDName, IOBSDMajor, IOBSDMinor or IOBSDUnit */
    int generic_only;         /* every key is one IOService tests itself: IOKit then skips
                               * the family's test ("done == count"), as in IOParentMatch */
    int has_usb_keys;
};

extern const char *const kx_pci_key_names[4];

/* Compiles dict (borrowed; must outlive the table). NULL when memory runs out. */
struct kx_mtable *kx_mtable_compile(plist_t dict, const char *provider_class);
void kx_mtable_free(struct kx_mtable *t);

struct kx_personality {
    atomic_uint refs;
    char *kext, *bundle_path, *name, *ioclass, *provider_class, *category, *code_bundle;
    const char *matched_as; /* interned in the class table */
    int64_t score;
    int withheld, merge_only;
    size_t index;  /* position in its Info.plist's IOKitPersonalities */
    plist_t dict;  /* a copy, owned */
    plist_t merge; /* IOProviderMergeProperties inside dict, or NULL */
    struct kx_mtable *table;
    char **index_keys; /* keys of the catalogue's secondary index; none: always scanned */
    size_t n_index_keys;
};

struct kx_pvec {
    struct kx_personality **v;
    size_t n, cap;
};

/* The personalities matched against one class. */
struct kx_bucket {
    struct kx_pvec all;      /* every one, withheld too */
    struct kx_pvec scan;     /* matchable ones without an index key: tried on every nub */
    struct kx_strmap *keyed; /* index key -> struct kx_pvec */
};

struct kx_catalog {
    pthread_rwlock_t lock;      /* guards everything below */
    struct kx_classes *classes; /* borrowed */
    unsigned flags;
    struct kx_pvec all;        /* catalogue order */
    struct kx_strmap *buckets; /* matched-as class -> struct kx_bucket */
    struct kx_strmap *paths;   /* bundle path -> non-NULL while the kext is in */
    char **problems;
    size_t n_problems;
};

/* Catalogue order: bundle path, then Info.plist position. */
int kx_personality_order(const struct kx_personality *a, const struct kx_personality *b);

/* ---- Matching (match.c, match_keys.c, match_family.c) ------------------------------------- */

/* What a failed test says: the key and, when asked for, a one-line reason. */
struct kx_mfail {
    int want_text;
    const char *key;
    char why[320];
    int waiting;
};

/* A name IONameMatch compares (not NUL-terminated: data properties hold several). */
struct kx_name_ref {
    const char *s;
    size_t len;
};

#define KX_MNUB_NAMES 32

/* What the matcher knows about one entry while testing it: read from its properties once,
 * not once per personality. */
struct kx_mnub {
    const struct kx_reg *reg;
    const struct kx_reg_entry *e;
    const char *chain[KX_CHAIN_MAX];
    size_t n_chain;
    int is_pci, is_usb_device, is_usb_interface;
    struct kx_name_ref names[KX_MNUB_NAMES]; /* the IOName property, the entry's name, and each
                                              * string of its "name", "compatible",
                                              * "device_type" and "model" properties */
    size_t n_names;
    uint32_t pci_id, pci_subsystem, pci_class; /* configuration registers 0x00, 0x2c, 0x08 */
    int pci_tunnelled;
    int usb_has[KX_USB_N_KEYS]; /* the key holds a number */
    uint64_t usb[KX_USB_N_KEYS];
    uint64_t usb_class; /* bDeviceClass or bInterfaceClass, numbers or data */
};

void kx_mnub_init(struct kx_mnub *n, const struct kx_reg *reg, const struct kx_reg_entry *e);

/* Tests table against the entry: generic keys in IOKit's order, then the family's, then
 * IOParentMatch, IOLocationMatch's dictionary and IOResourceMatch. *score comes in as
 * IOProbeScore and may be replaced by the family's. *name_matched (optional) gets the
 * name IONameMatch found. 1 on a match; 0 with f filled in otherwise. */
int kx_match_table(const struct kx_mnub *n, const struct kx_mtable *t, int64_t *score,
                   const char **name_matched, struct kx_mfail *f);

/* Family matching (match_family.c): IOPCIFamily's registers, IOUSBFamily's key sets. */
void kx_mnub_family_init(struct kx_mnub *n);
int kx_match_pci(const struct kx_mnub *n, const struct kx_mtable *t, struct kx_mfail *f);
int kx_match_usb(const struct kx_mnub *n, const struct kx_mtable *t, int64_t *score,
                 struct kx_mfail *f);

void kx_mfail_set(struct kx_mfail *f, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* KX_REGISTRY_INT_H */
