/* strmap.h — a string-keyed hash map (open addressing, linear probing) for the class
 * table and the catalogue's indexes. Keys are copied; values are the caller's. Not
 * thread-safe: the owner's lock guards it. */
#ifndef KX_REGISTRY_STRMAP_H
#define KX_REGISTRY_STRMAP_H

#include <kx/status.h>
#include <stddef.h>

struct kx_strmap;

struct kx_strmap *kx_strmap_new(void);
/* Frees the map; free_value (may be NULL) is called on every value. */
void kx_strmap_free(struct kx_strmap *m, void (*free_value)(void *));
/* The value stored under key, or NULL. */
void *kx_strmap_get(const struct kx_strmap *m, const char *key);
/* The same for a key given as bytes key[0..len) (no NUL needed). */
void *kx_strmap_get_n(const struct kx_strmap *m, const char *key, size_t len);
/* Stores value under key, replacing (not freeing) an earlier value. */
kx_status kx_strmap_put(struct kx_strmap *m, const char *key, void *value);
/* Calls fn on every entry, in no particular order. */
void kx_strmap_foreach(const struct kx_strmap *m,
                       void (*fn)(void *ctx, const char *key, void *value), void *ctx);
size_t kx_strmap_count(const struct kx_strmap *m);

#endif
