/* kx/platform.h — hardware descriptions published into the registry.
 *
 * src/platform is the only code that reads host hardware descriptions. Today it reads
 * described platforms: a registry tree in `ioreg -a`'s XML form (a dictionary per entry
 * with IOObjectClass, IORegistryEntryName, IORegistryEntryLocation and
 * IORegistryEntryChildren; every other key is a property), and writes a registry back in
 * the same form, so `ioreg -a` output round-trips. Enumerating Linux's sysfs and following
 * udev are the subsystem's next part.
 *
 * Where a tree goes: a tree whose top entry is Root (class IORegistryEntry, as `ioreg -a`
 * writes it) describes the whole registry: Root's properties join the registry's Root,
 * its IOPlatformExpertDevice child becomes the registry's platform expert (class, name,
 * location and properties), that entry's IOResources child gives the registry's
 * IOResources its properties (publishing its resources), and every other entry is
 * published where the file puts it. Any other tree, or each element of a top-level
 * array (`ioreg -a -r`), is published under the platform expert. Published entries hang
 * in both planes and are registered; ids in the file (IORegistryEntryID) are ignored —
 * the registry numbers its own — as are ioreg's state keys (IOObjectRetainCount,
 * IOServiceBusyState, IOServiceBusyTime, IOServiceState).
 *
 * Errors: a file that isn't a property list, or an entry of the wrong type, without a
 * class or with a malformed key, fails the whole load before anything is published;
 * `why` names the file, the entry's path in the file and the key.
 */
#ifndef KX_PLATFORM_H
#define KX_PLATFORM_H

#include <kx/registry.h>
#include <kx/status.h>
#include <plist/plist.h>
#include <stddef.h>

/* Reads path and publishes its tree into r. STATUS_DATA_ERROR for a malformed file, the
 * read status (STATUS_NO_SUCH_FILE, ...) when it can't be read, and any status of
 * kx_reg_publish; why (why_len bytes, may be NULL/0) says what and where. */
KX_API kx_status kx_platform_file_read(struct kx_reg *r, const char *path, char *why,
                                       size_t why_len);
/* The same for a parsed tree (borrowed); name stands for the file in messages. */
KX_API kx_status kx_platform_tree_load(struct kx_reg *r, plist_t tree, const char *name, char *why,
                                       size_t why_len);

/* Publishes tree (borrowed: one entry, or an array of entries as `ioreg -a -r` writes them)
 * under parent, in the planes parent hangs in, checked first as a platform file is (a Root
 * entry is refused: a whole registry hangs under nothing). *ids (malloc'ed, free with free())
 * gets the id of every entry published, each before its children; nothing is matched. On
 * failure nothing stays published and why names the file (name), the entry and the key. */
KX_API kx_status kx_platform_tree_load_under(struct kx_reg *r, kx_reg_id parent, plist_t tree,
                                             const char *name, kx_reg_id **ids, size_t *n_ids,
                                             char *why, size_t why_len);

/* Makes r, fresh from kx_reg_new, a copy of another registry: trees[plane] is that plane's
 * tree from Root as kx_platform_tree_build writes it (NULL: the plane is left out). Unlike
 * a platform file's, the ids (IORegistryEntryID) are kept, and so are the matched state and
 * busy count; an entry hangs in the planes whose trees hold it, under every provider they
 * name, so the retain counts come out the same too. This is how the tools show kxd's
 * registry. STATUS_DATA_ERROR (why says where) for an entry without an id, or one none of
 * whose providers has a lower id. */
KX_API kx_status kx_platform_tree_mirror(struct kx_reg *r, plist_t const trees[KX_REG_N_PLANES],
                                         const char *name, char *why, size_t why_len);

/* The tree below (and including) id in plane, as `ioreg -a` writes it: *out is a
 * dictionary the caller frees with plist_free. STATUS_NO_SUCH_DEVICE for an unknown id. */
KX_API kx_status kx_platform_tree_build(struct kx_reg *r, kx_reg_id id, enum kx_reg_plane plane,
                                        plist_t *out);
/* Writes the whole registry (from Root) in plane to path as XML, atomically. */
KX_API kx_status kx_platform_file_write(struct kx_reg *r, enum kx_reg_plane plane,
                                        const char *path);

#endif /* KX_PLATFORM_H */
