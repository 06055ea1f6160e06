/* lua_ext.c — kx's additions to oKMD that C drivers have: cancel routines and
 * registry properties.
 *
 * Cancel. DkSetCancelRoutine(pIrp, fRoutine) keeps (pIrp, fRoutine) in a
 * registry table keyed by the C IRP and sets one C routine, lua_cancel, that
 * runs on the dispatch thread like any cancel routine: it calls
 * fRoutine(pDeviceObject, pIrp) protected, between signals. The routine owns
 * the IRP and completes it; if it errors or leaves it open, kx completes it
 * with STATUS_CANCELLED. Completion removes the entry, so a routine that
 * arrives after completion finds nothing and does nothing.
 *
 * Properties. DkGetProperty(nEntry, sKey) returns nStatus and the value:
 * numbers as integers, strings and data as strings, booleans as booleans
 * (arrays and dictionaries: nil). DkSetProperty(nEntry, sKey, vValue) takes an
 * integer, a string or a boolean.
 */
#include "lua_int.h"

#include <string.h>

const char kx__lua_key_cancels = 'C';

/* Drops irp's cancel entry (completion, or a routine cleared). */
void kx__lua_cancel_forget(lua_State *L, PIRP irp)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kx__lua_key_cancels);
    lua_pushnil(L);
    lua_rawsetp(L, -2, irp);
    lua_pop(L, 1);
}

static void lua_cancel(PDEVICE_OBJECT dev, PIRP irp)
{
    struct lua_drv *d = dev->DriverObject->DriverExtension;
    if (!d)
        return;
    lua_State *L = d->L;
    int top = lua_gettop(L);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kx__lua_key_cancels);
    if (lua_rawgetp(L, -1, irp) != LUA_TTABLE) { /* completed before the routine ran */
        lua_settop(L, top);
        return;
    }
    kx__lua_cancel_forget(L, irp);
    int entry = lua_gettop(L);
    lua_rawgeti(L, entry, 1); /* the IRP table */
    int irp_idx = lua_gettop(L);
    if (!kx__lua_irp(L, irp_idx)) {
        lua_settop(L, top);
        return;
    }
    if (!d->dead) {
        lua_pushcfunction(L, kx__lua_traceback);
        lua_rawgeti(L, entry, 2);
        kx__lua_push_device(L, dev);
        lua_pushvalue(L, irp_idx);
        kx__lua_budget_reset(d);
        int rc = lua_pcall(L, 2, 0, irp_idx + 1);
        if (rc != LUA_OK)
            DkPrint("%s: Lua error in the cancel routine, IRP completed STATUS_CANCELLED (%s): %s",
                    d->name, kx_status_name(kx__lua_error_status(d, rc)), lua_tostring(L, -1));
        else if (kx__lua_irp(L, irp_idx))
            DkPrint("%s: the cancel routine left the IRP open: completed STATUS_CANCELLED",
                    d->name);
    }
    if (kx__lua_irp(L, irp_idx)) {
        lua_settop(L, irp_idx);
        lua_pushnil(L);
        lua_pushnil(L);
        kx__lua_complete(L, irp_idx, STATUS_CANCELLED);
    }
    lua_settop(L, top);
}

static int dk_set_cancel_routine(lua_State *L)
{
    PIRP irp = kx__lua_irp(L, 1);
    if (!irp || !(lua_isnoneornil(L, 2) || lua_isfunction(L, 2))) {
        lua_pushinteger(L, STATUS_INVALID_PARAMETER);
        return 1;
    }
    if (lua_isnoneornil(L, 2)) {
        kx_status st = DkSetCancelRoutine(irp, NULL);
        if (st == STATUS_SUCCESS) /* else the routine owns the IRP and still needs its entry */
            kx__lua_cancel_forget(L, irp);
        lua_pushinteger(L, st);
        return 1;
    }
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kx__lua_key_cancels);
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, 2);
    lua_rawseti(L, -2, 2);
    lua_rawsetp(L, -2, irp);
    lua_pop(L, 1);
    kx_status st = DkSetCancelRoutine(irp, lua_cancel);
    if (st != STATUS_SUCCESS)
        kx__lua_cancel_forget(L, irp);
    lua_pushinteger(L, st);
    return 1;
}

static int dk_get_property(lua_State *L)
{
    struct lua_drv *d = kx__lua_drv(L);
    KX_REGISTRY_ID entry = (KX_REGISTRY_ID)luaL_checkinteger(L, 1);
    const char *key = luaL_checkstring(L, 2);
    char small[256];
    void *buf = small;
    size_t len = sizeof small, need = 0;
    KX_PROPERTY_TYPE type = KxPropertyNone;
    kx_status st = DkGetProperty(d->obj, entry, key, &type, buf, len, &need);
    if (st == STATUS_BUFFER_TOO_SMALL) {
        len = need;
        buf = lua_newuserdatauv(L, len, 0);
        st = DkGetProperty(d->obj, entry, key, &type, buf, len, &need);
    }
    lua_pushinteger(L, st);
    if (st != STATUS_SUCCESS)
        return 1;
    switch (type) {
    case KxPropertyNumber: {
        uint64_t n = 0;
        memcpy(&n, buf, sizeof n < need ? sizeof n : need);
        lua_pushinteger(L, (lua_Integer)n);
        break;
    }
    case KxPropertyString: lua_pushlstring(L, buf, need ? need - 1 : 0); break;
    case KxPropertyData: lua_pushlstring(L, buf, need); break;
    case KxPropertyBoolean: lua_pushboolean(L, need && ((const uint8_t *)buf)[0]); break;
    default: lua_pushnil(L); break;
    }
    return 2;
}

static int dk_set_property(lua_State *L)
{
    struct lua_drv *d = kx__lua_drv(L);
    KX_REGISTRY_ID entry = (KX_REGISTRY_ID)luaL_checkinteger(L, 1);
    const char *key = luaL_checkstring(L, 2);
    kx_status st;
    switch (lua_type(L, 3)) {
    case LUA_TNUMBER:
        if (!lua_isinteger(L, 3)) {
            st = STATUS_INVALID_PARAMETER;
        } else {
            uint64_t n = (uint64_t)lua_tointeger(L, 3);
            st = DkSetProperty(d->obj, entry, key, KxPropertyNumber, &n, sizeof n);
        }
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, 3, &len);
        st = DkSetProperty(d->obj, entry, key, KxPropertyString, s, len);
        break;
    }
    case LUA_TBOOLEAN: {
        uint8_t b = (uint8_t)lua_toboolean(L, 3);
        st = DkSetProperty(d->obj, entry, key, KxPropertyBoolean, &b, 1);
        break;
    }
    default: st = STATUS_INVALID_PARAMETER; break;
    }
    lua_pushinteger(L, st);
    return 1;
}

void kx__lua_open_ext(lua_State *L)
{
    static const luaL_Reg calls[] = {
        {"DkSetCancelRoutine", dk_set_cancel_routine},
        {"DkGetProperty", dk_get_property},
        {"DkSetProperty", dk_set_property},
        {NULL, NULL},
    };
    luaL_setfuncs(L, calls, 0);
}
