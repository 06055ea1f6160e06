/* lua_drv.h — Lua drivers (issue 15): a kext whose CFBundleExecutable is a
 * *.sys.lua script runs in an embedded Lua 5.4 state, one per driver, behind
 * a C DriverEntry like any other driver's (so the manager, the host process
 * and the watchdog treat it as they treat C drivers).
 *
 *   lua_info.c    pre-inspection: g_tDriverInfo and the requires, read
 *                 without running the driver's code (the loader, kx check)
 *   lua_state.c   the sandboxed state: allocator with a memory limit,
 *                 instruction budget, the libraries a driver may use
 *   lua_kmd.c     the modules the seed's drivers require: errcheck,
 *                 shared_structs, kmd_api (oKMD.Dk* over <kx/kmdf.h>)
 *   lua_driver.c  the driver itself: the script's main loop as a coroutine
 *                 that syscall("signal_pull") suspends; DriverEntry,
 *                 dispatch and unload resume it with the seed's signals
 */
#ifndef KX_LUA_DRV_H
#define KX_LUA_DRV_H

#include <kx/driver_info.h>
#include <kx/kmdf.h>
#include <stddef.h>

#define KX_LUA_MEMORY_LIMIT      (64u << 20) /* bytes a driver's state may hold */
#define KX_LUA_INSTRUCTION_LIMIT 50000000u   /* VM instructions per signal handled */
#define KX_LUA_SCRIPT_MAX        (1u << 20)  /* script size */

/* 1 when path names a Lua driver script (…sys.lua, or any text file that is
 * not ELF when by_content). */
int kx_lua_script_path(const char *path);
int kx_lua_script_file(const char *path);

/* Pre-inspection: evaluates only g_tDriverInfo's table constructor, in an
 * empty state where every free name resolves to the constants of errcheck
 * and shared_structs (so `tDKStructs.DRIVER_TYPE_KMD` works). No driver
 * code runs. STATUS_SUCCESS and *info; STATUS_LUA_DRIVER_INFO_INVALID with
 * why. */
kx_status kx_lua_inspect(const char *src, size_t len, struct kx_driver_info *info, char *why,
                         size_t why_len);
kx_status kx_lua_inspect_file(const char *path, struct kx_driver_info *info, char *why,
                              size_t why_len);
/* Every require("name") with a literal name must be a module the host
 * provides. STATUS_SUCCESS; STATUS_LUA_MODULE_UNKNOWN naming it. */
kx_status kx_lua_check_requires(const char *src, size_t len, char *why, size_t why_len);
/* 1 if the host provides module name. */
int kx_lua_module_known(const char *name);
/* The driver type's text as shared_structs has it ("KernelModeDriver"). */
const char *kx_lua_type_text(uint32_t type);

/* Hands the script at path to the next DriverEntry of driver short_name
 * (the name g_tDriverInfo gives); kx_lua_unstage drops it if no DriverEntry
 * took it. */
kx_status kx_lua_stage(const char *short_name, const char *path, char *why, size_t why_len);
void kx_lua_unstage(const char *short_name);

/* The DriverEntry of every Lua driver. */
kx_status kx_lua_driver_entry(PDRIVER_OBJECT DriverObject);

#endif /* KX_LUA_DRV_H */
