/* boot_fixture.h — kexts, caches and plans for the boot tests. Built on
 * tests/kext/fixture.h (temporary folders, Info dictionaries); everything here
 * aborts the test on failure, as a fixture that can't be built is a broken test.
 */
#ifndef KX_TESTS_BOOT_FIXTURE_H
#define KX_TESTS_BOOT_FIXTURE_H

#include "kext/fixture.h"

#include <kx/boot.h>

#include <stdint.h>

/* bx_write's priority for a kext without CFBundleExecutable. */
#define BX_CODELESS INT32_MIN
/* ...and for one that declares an executable but has no file (metadata-only
 * plans, KX_KEXT_NO_EXEC). */
#define BX_NO_FILE (INT32_MIN + 1)

/* An Info dictionary: identifier, CFBundleVersion 1.0, OSBundleCompatibleVersion
 * when compat is not NULL, OSBundleRequired when required is not NULL, and
 * OSBundleLibraries org.kx.kpi.kmdf 1.0 plus the NULL-terminated (identifier,
 * version) pairs that follow. */
plist_t bx_info(const char *id, const char *compat, const char *required, ...);

/* Writes dir/<name>.kext (frees info). Unless prio is BX_CODELESS it gets
 * CFBundleExecutable <name>, and unless prio is BX_NO_FILE the file
 * Contents/Linux/<name>: the fixture driver with `prio` as its load priority.
 * Returns the bundle path (malloc'ed). */
char *bx_write(const char *dir, const char *name, plist_t info, int32_t prio);

#define BX_KEXT(dir, name, id, compat, required, prio, ...)                                        \
    free(bx_write((dir), (name), bx_info((id), (compat), (required), __VA_ARGS__), (prio)))

/* Adds IOKitPersonalities: one personality per value, with IOKitDebug set to
 * it (a negative value: no IOKitDebug key). */
void bx_personalities(plist_t info, const int *debug, size_t n);

/* The fixture driver's bytes (malloc'ed). */
void *bx_driver(size_t *len);

/* Kext options: the current user and group trusted, plus flags. */
struct kx_kext_options bx_options(unsigned flags);

/* A plan and the repository it filled. */
struct bx_boot {
    struct kx_kext_repo *r;
    struct kx_boot_plan *p;
};

/* Plans a boot of one folder (cache: NULL for the default path). Asserts success. */
void bx_plan(struct bx_boot *b, const char *folder, enum kx_boot_mode mode, const char *cache,
             unsigned boot_flags, unsigned kext_flags);
void bx_free(struct bx_boot *b);

/* "id,id,id": a list of the plan in its order (malloc'ed). */
char *bx_list(const struct kx_boot_plan *p, enum kx_boot_list list);
/* The item of the kext with this identifier (the first found), or NULL. */
const struct kx_boot_item *bx_item(const struct kx_boot_plan *p, const char *id);
/* Asserts the list reads `expected`, printing both when not. */
void bx_expect_list(const struct kx_boot_plan *p, enum kx_boot_list list, const char *expected);
/* Asserts the item for id is in `list` and its reason contains `reason` (NULL: any). */
void bx_expect(const struct kx_boot_plan *p, const char *id, enum kx_boot_list list,
               const char *reason);

/* Builds the cache for one folder; asserts success. */
void bx_build(const char *cache, const char *folder, enum kx_cache_filter filter,
              unsigned kext_flags);
/* The verdict a boot would reach, and its reason. */
enum kx_cache_verdict bx_verdict(const char *cache, const char *folder, enum kx_boot_mode mode,
                                 unsigned kext_flags, char *why, size_t why_len);

/* "1 id path\n..." for both phases: what must be equal from a cache and a scan. */
char *bx_phases(const struct kx_boot_plan *p);

/* Sets a path's mtime (and atime) to ns. */
void bx_set_mtime(const char *path, int64_t ns);
int64_t bx_mtime(const char *path);

#endif /* KX_TESTS_BOOT_FIXTURE_H */
