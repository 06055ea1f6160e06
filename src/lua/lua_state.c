/* lua_state.c — a driver's sandboxed Lua state (see lua_drv.h).
 *
 * What a driver may reach: base (without dofile, loadfile, collectgarbage;
 * load takes text only), string, table, math, utf8, coroutine, and
 * require for the host's own modules. No os, io, debug or package: a driver
 * touches the world only through kmd_api. Memory is charged to the driver
 * by the allocator (a failed allocation is a Lua memory error), and a count
 * hook ends any signal's handling that runs past its instruction budget.
 */
#include "lua_int.h"

#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#define HOOK_EVERY 10000 /* instructions between budget checks */

static void *charged_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct lua_drv *d = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        d->mem_used -= old;
        return NULL;
    }
    if (nsize > old && d->mem_used - old + nsize > d->mem_limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (p)
        d->mem_used = d->mem_used - old + nsize;
    return p;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct lua_drv *d = kx__lua_drv(L);
    d->steps += HOOK_EVERY;
    if (d->steps > d->step_limit) {
        d->over_budget = 1;
        luaL_error(L, "instruction limit (%d per signal) exceeded", (int)d->step_limit);
    }
}

void kx__lua_budget_reset(struct lua_drv *d)
{
    d->steps = 0;
    d->over_budget = 0;
}

kx_status kx__lua_error_status(struct lua_drv *d, int rc)
{
    if (rc == LUA_ERRMEM)
        return STATUS_DRIVER_MEMORY_LIMIT;
    return d->over_budget ? STATUS_DRIVER_INSTRUCTION_LIMIT : STATUS_DRIVER_INTERNAL_ERROR;
}

int kx__lua_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : luaL_tolstring(L, 1, NULL), 1);
    return 1;
}

/* load() with text chunks only: a binary chunk can break the VM's memory safety. */
static int text_load(lua_State *L)
{
    lua_settop(L, 4);
    lua_pushstring(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 4, LUA_MULTRET);
    return lua_gettop(L);
}

static const struct {
    const char *name;
    lua_CFunction open;
} modules[] = {
    {"errcheck", kx__lua_open_errcheck},
    {"shared_structs", kx__lua_open_structs},
    {"kmd_api", kx__lua_open_kmd},
};

int kx_lua_module_known(const char *name)
{
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++)
        if (strcmp(modules[i].name, name) == 0)
            return 1;
    return 0;
}

/* require: the host's modules, each made once per state. */
static int host_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, name) != LUA_TNIL)
        return 1;
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        if (strcmp(modules[i].name, name) != 0)
            continue;
        lua_pushcfunction(L, modules[i].open);
        lua_call(L, 0, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, -4, name);
        return 1;
    }
    return luaL_error(L,
                      "module '%s' is not provided by the kx Lua host "
                      "(errcheck, shared_structs and kmd_api are)",
                      name);
}

lua_State *kx__lua_state_new(struct lua_drv *d)
{
    d->mem_limit = KX_LUA_MEMORY_LIMIT;
    d->step_limit = KX_LUA_INSTRUCTION_LIMIT;
    lua_State *L = lua_newstate(charged_alloc, d);
    if (!L)
        return NULL;
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},       {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine},
    };
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
        luaL_requiref(L, libs[i].name, libs[i].func, 1);
        lua_pop(L, 1);
    }
    static const char *const removed[] = {"dofile", "loadfile", "collectgarbage"};
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    lua_getglobal(L, "load");
    lua_pushcclosure(L, text_load, 1);
    lua_setglobal(L, "load");
    lua_pushcfunction(L, host_require);
    lua_setglobal(L, "require");
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_EVERY);
    return L;
}
