/* fixture.h — building kext bundles for tests in a temporary folder, and
 * reading the shared corpus (KX_SHARED_DIR) with its build variables
 * substituted. Everything here aborts the test on failure: a fixture that
 * can't be built is a broken test, not a result.
 */
#ifndef KX_TESTS_KEXT_FIXTURE_H
#define KX_TESTS_KEXT_FIXTURE_H

#include <kx/kext.h>

#include <plist/plist.h>
#include <stddef.h>

/* A fresh folder from mkdtemp; fx_rmrf removes it and everything below. */
char *fx_tmpdir(void);
void fx_rmrf(const char *path);

/* a + "/" + b, malloc'ed. */
char *fx_join(const char *a, const char *b);
void fx_mkdirs(const char *path);
void fx_write(const char *path, const void *data, size_t len);
void fx_write_str(const char *path, const char *text);

/* An Info dictionary: CFBundlePackageType KEXT, identifier, version and, when
 * not NULL, OSBundleCompatibleVersion. */
plist_t fx_info(const char *id, const char *version, const char *compat);
/* Adds OSBundleLibraries[lib] = version (creating the dictionary). */
void fx_lib(plist_t info, const char *lib, const char *version);
void fx_set_str(plist_t info, const char *key, const char *value);
void fx_set_bool(plist_t info, const char *key, int value);

/* Writes dir/<name>.kext/Contents/Info.plist (XML) and frees info; returns the
 * bundle path (malloc'ed). */
char *fx_kext(const char *dir, const char *name, plist_t info);
/* The same, flat: dir/<name>.kext/Info.plist. */
char *fx_kext_flat(const char *dir, const char *name, plist_t info);

/* Options every test starts from: the current user and group are trusted
 * (so tests pass without root), executables are not looked up. */
struct kx_kext_options fx_options(void);

/* ---- Diagnostics ---------------------------------------------------------------------------- */

/* 1 when d has code, with subject containing `subject` (NULL: any) and detail
 * containing `detail` (NULL: any). */
int fx_has(const struct kx_diags *d, enum kx_diag_code code, const char *subject,
           const char *detail);
/* Prints d to stderr: for failing assertions. */
void fx_dump(const struct kx_diags *d, const char *what);

/* ---- The corpus ---------------------------------------------------------------------------- */

/* Exit status CTest reads as "skipped" (SKIP_RETURN_CODE in tests/kext/CMakeLists.txt). */
#define FX_SKIP 77
/* First call of a test that reads $KX_SHARED_DIR: skips the test, naming the
 * path, when it isn't a folder now (a fresh clone has no ../shared). */
void fx_need_shared(void);
/* main's exit status from cmocka's count of failed tests: FX_SKIP when none
 * failed but some were skipped for want of $KX_SHARED_DIR. */
int fx_exit_status(int failed);
/* $KX_SHARED_DIR (the test fails when it is unset or missing: call fx_need_shared first). */
const char *fx_shared(void);
/* A corpus plist (path relative to corpus/, e.g. "kexts/acidanthera__Lilu/Lilu__Info.plist")
 * with its .vars.json "expanded" values substituted; *len set. */
char *fx_corpus_plist(const char *saved_as, size_t *len);
/* Installs it as dir/<name>.kext/Contents/Info.plist; returns the bundle path. */
char *fx_corpus_kext(const char *dir, const char *name, const char *saved_as);

/* A repository for tests: fx_options() plus flags, optionally a system profile. */
struct kx_kext_repo *fx_repo(unsigned flags, const char *system);
/* Resolves and asserts success of the call (not of the kext). */
struct kx_kext_resolution *fx_resolve(struct kx_kext_repo *r, struct kx_kext *k);
/* The kext the repository holds for this bundle path. */
struct kx_kext *fx_add(struct kx_kext_repo *r, const char *bundle);
/* The candidate of dep whose kext path ends with `suffix`. */
const struct kx_kext_candidate *fx_candidate(const struct kx_kext_dep *dep, const char *suffix);
/* The edge of res from kext `from_id` to `lib_id`. */
const struct kx_kext_dep *fx_dep(const struct kx_kext_resolution *res, const char *from_id,
                                 const char *lib_id);
/* Builds a kext in memory from info (freed) and hands it to r; its path is
 * "mem/<id>-<version>.kext". */
struct kx_kext *fx_adopt(struct kx_kext_repo *r, plist_t info);
/* Position of id in res's load order, or -1. */
int fx_order_index(const struct kx_kext_resolution *res, const char *id);

#endif /* KX_TESTS_KEXT_FIXTURE_H */
