/* lua_kext.h — packaging Lua driver scripts as kexts for the Lua tests. */
#ifndef KX_TESTS_LUA_KEXT_H
#define KX_TESTS_LUA_KEXT_H

#include <kx/client.h>
#include <stddef.h>

/* Writes DIR/NAME.kext (Info.plist with CFBundleExecutable FILE, version
 * VERSION, identifier org.kx.test.NAME; FILE holding script) readable by
 * every user (kx-host runs as another). Returns the bundle's path
 * (malloc'ed) or NULL. */
char *lua_kext_make(const char *dir, const char *name, const char *file, const char *version,
                    const char *script);
/* The last ```lua block after "File: `/drivers/null.sys.lua`" in the seed
 * (malloc'ed), or NULL when KX_SHARED_DIR's seed is absent. */
char *lua_seed_null(void);
/* kx_client_load of a bundle path; kxd's report goes to stderr when it fails. */
kx_status lua_kext_load(kx_client *c, const char *kext);
/* Where successive patterns appear in order in text: 1 if they do. */
int lua_in_order(const char *text, const char *const *needles, size_t n);

/* cmocka setups: a fresh kxd with drivers in kx-host processes, or in kxd. */
int lua_setup_host(void **state);
int lua_setup_inproc(void **state);
/* kxd's kernel log (kx log) so far (malloc'ed). */
struct kxd_proc;
char *lua_kernel_log(const struct kxd_proc *p);

#endif
