/* lua_kmd.c — the modules the seed's drivers require, over <kx/kmdf.h>.
 *
 * errcheck: every STATUS_* name with kx's value. shared_structs: the driver
 * types as AxisOS spells them and every IRP_MJ_* of the C API. kmd_api:
 * oKMD.Dk* with the seed's return conventions (nStatus first, then the
 * object), over the same C calls C drivers make.
 *
 * Objects. A device is a table {sDeviceName, pDriverObject,
 * pDeviceExtension}; an IRP a table {nMajorFunction, tParameters,
 * tIoStatus, pDeviceObject, tRequestor}. The C pointers behind them sit in
 * registry tables keyed by the Lua table, so a driver can neither forge nor
 * keep a completed IRP: completion removes it.
 *
 * Data. A WRITE's bytes are tParameters.sData; a DEVICE_CONTROL's input is
 * tParameters.sInput. A READ, DEVICE_CONTROL or QUERY_INFORMATION returns
 * bytes by DkCompleteRequest's third argument as a string, or by setting
 * pIrp.tParameters.sData before completing (the third argument, a number,
 * then says how many bytes; default all). Without information it is 0.
 */
#include "lua_int.h"

#include <string.h>

const char kx__lua_key_drv = 'D';
const char kx__lua_key_irps = 'I';
const char kx__lua_key_devs = 'V';

int kx__lua_open_errcheck(lua_State *L)
{
    lua_newtable(L);
#define SET_STATUS(name_, value_, text_)                                                           \
    lua_pushinteger(L, value_);                                                                    \
    lua_setfield(L, -2, #name_);
    KX_STATUS_MAP(SET_STATUS)
#undef SET_STATUS
    return 1;
}

const char *kx_lua_type_text(uint32_t type)
{
    switch (type) {
    case DRIVER_TYPE_KMD: return "KernelModeDriver";
    case DRIVER_TYPE_UMD: return "UserModeDriver";
    case DRIVER_TYPE_CMD: return "ComponentModeDriver";
    default: return NULL;
    }
}

int kx__lua_open_structs(lua_State *L)
{
    static const struct {
        const char *name;
        int value;
    } majors[] = {
        {"IRP_MJ_CREATE", IRP_MJ_CREATE},
        {"IRP_MJ_CLOSE", IRP_MJ_CLOSE},
        {"IRP_MJ_READ", IRP_MJ_READ},
        {"IRP_MJ_WRITE", IRP_MJ_WRITE},
        {"IRP_MJ_QUERY_INFORMATION", IRP_MJ_QUERY_INFORMATION},
        {"IRP_MJ_FLUSH_BUFFERS", IRP_MJ_FLUSH_BUFFERS},
        {"IRP_MJ_DEVICE_CONTROL", IRP_MJ_DEVICE_CONTROL},
        {"IRP_MJ_CLEANUP", IRP_MJ_CLEANUP},
        {"IRP_MJ_MAXIMUM_FUNCTION", IRP_MJ_MAXIMUM_FUNCTION},
    };
    lua_newtable(L);
    for (size_t i = 0; i < sizeof majors / sizeof majors[0]; i++) {
        lua_pushinteger(L, majors[i].value);
        lua_setfield(L, -2, majors[i].name);
    }
    lua_pushstring(L, kx_lua_type_text(DRIVER_TYPE_KMD));
    lua_setfield(L, -2, "DRIVER_TYPE_KMD");
    lua_pushstring(L, kx_lua_type_text(DRIVER_TYPE_UMD));
    lua_setfield(L, -2, "DRIVER_TYPE_UMD");
    lua_pushstring(L, kx_lua_type_text(DRIVER_TYPE_CMD));
    lua_setfield(L, -2, "DRIVER_TYPE_CMD");
    return 1;
}

/* ---- objects ------------------------------------------------------------ */

static void *lookup(lua_State *L, const char *key, int idx)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    lua_pushvalue(L, idx);
    lua_rawget(L, -2);
    void *p = lua_touserdata(L, -1);
    lua_pop(L, 2);
    return p;
}

PIRP kx__lua_irp(lua_State *L, int idx)
{
    return lua_istable(L, idx) ? lookup(L, &kx__lua_key_irps, idx) : NULL;
}

static PDEVICE_OBJECT device_of(lua_State *L, int idx)
{
    return lua_istable(L, idx) ? lookup(L, &kx__lua_key_devs, idx) : NULL;
}

void kx__lua_push_device(lua_State *L, PDEVICE_OBJECT dev)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kx__lua_key_devs);
    if (lua_rawgetp(L, -1, dev) == LUA_TTABLE) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, dev->DeviceName);
    lua_setfield(L, -2, "sDeviceName");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kx__lua_key_drv);
    lua_setfield(L, -2, "pDriverObject");
    lua_newtable(L);
    lua_setfield(L, -2, "pDeviceExtension");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, -3, dev); /* pointer -> table */
    lua_pushvalue(L, -1);
    lua_pushlightuserdata(L, dev);
    lua_rawset(L, -4); /* table -> pointer */
    lua_remove(L, -2);
}

static void forget_device(lua_State *L, int idx, PDEVICE_OBJECT dev)
{
    idx = lua_absindex(L, idx);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kx__lua_key_devs);
    lua_pushnil(L);
    lua_rawsetp(L, -2, dev);
    lua_pushvalue(L, idx);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

/* ---- oKMD.Dk* ----------------------------------------------------------- */

static int dk_print(lua_State *L)
{
    DkPrint("%s", luaL_tolstring(L, 1, NULL));
    return 0;
}

static int dk_create_device(lua_State *L)
{
    struct lua_drv *d = kx__lua_drv(L);
    const char *name = luaL_checkstring(L, 2);
    PDEVICE_OBJECT dev = NULL;
    kx_status st = DkCreateDevice(d->obj, name, 0, &dev);
    lua_pushinteger(L, st);
    if (st != STATUS_SUCCESS)
        return 1;
    kx__lua_push_device(L, dev);
    return 2;
}

static int dk_delete_device(lua_State *L)
{
    PDEVICE_OBJECT dev = device_of(L, 1);
    kx_status st = dev ? DkDeleteDevice(dev) : STATUS_INVALID_PARAMETER;
    if (dev)
        forget_device(L, 1, dev);
    lua_pushinteger(L, st);
    return 1;
}

static int dk_create_link(lua_State *L)
{
    lua_pushinteger(L, DkCreateSymbolicLink(luaL_checkstring(L, 1), luaL_checkstring(L, 2)));
    return 1;
}

static int dk_delete_link(lua_State *L)
{
    lua_pushinteger(L, DkDeleteSymbolicLink(luaL_checkstring(L, 1)));
    return 1;
}

static int dk_set_security(lua_State *L)
{
    PDEVICE_OBJECT dev = device_of(L, 1);
    lua_pushinteger(L, dev ? DkSetDeviceSecurity(dev, (uint32_t)luaL_checkinteger(L, 2),
                                                 (uint32_t)luaL_checkinteger(L, 3),
                                                 (uint32_t)luaL_checkinteger(L, 4))
                           : STATUS_INVALID_PARAMETER);
    return 1;
}

static int dk_set_ready(lua_State *L)
{
    PDEVICE_OBJECT dev = device_of(L, 1);
    lua_pushinteger(L, dev ? DkSetDeviceReady(dev, (uint32_t)luaL_checkinteger(L, 2))
                           : STATUS_INVALID_PARAMETER);
    return 1;
}

static int dk_mark_pending(lua_State *L)
{
    PIRP irp = kx__lua_irp(L, 1);
    if (irp) {
        DkMarkIrpPending(irp);
        irp->DriverContext[0] = irp; /* lua_driver.c: pended, not forgotten */
    }
    lua_pushinteger(L, irp ? STATUS_PENDING : STATUS_INVALID_PARAMETER);
    return 1;
}

static int dk_is_cancelled(lua_State *L)
{
    PIRP irp = kx__lua_irp(L, 1);
    lua_pushboolean(L, irp && DkIsIrpCancelled(irp));
    return 1;
}

static int dk_status_name(lua_State *L)
{
    lua_pushstring(L, DkStatusName((kx_status)luaL_checkinteger(L, 1)));
    return 1;
}

/* The bytes a completion may return, and how many the requester asked for. */
static size_t out_capacity(PIRP irp)
{
    switch (irp->MajorFunction) {
    case IRP_MJ_READ: return irp->Parameters.Read.Length;
    case IRP_MJ_DEVICE_CONTROL: return irp->Parameters.DeviceIoControl.OutputBufferLength;
    case IRP_MJ_QUERY_INFORMATION: return irp->Parameters.QueryFile.Length;
    default: return 0;
    }
}

kx_status kx__lua_complete(lua_State *L, int idx, kx_status st)
{
    idx = lua_absindex(L, idx);
    PIRP irp = kx__lua_irp(L, idx);
    if (!irp)
        return STATUS_REQUEST_ALREADY_COMPLETED;
    size_t info = 0, cap = out_capacity(irp);
    const char *data = NULL;
    size_t len = 0;
    if (lua_type(L, idx + 2) == LUA_TSTRING) {
        data = lua_tolstring(L, idx + 2, &len);
    } else if (cap) {
        /* The string stays alive in tParameters while it is copied below. */
        int pushed = 1;
        if (lua_getfield(L, idx, "tParameters") == LUA_TTABLE) {
            pushed++;
            if (lua_getfield(L, -1, "sData") == LUA_TSTRING) {
                data = lua_tolstring(L, -1, &len);
                if (lua_isinteger(L, idx + 2) && (size_t)lua_tointeger(L, idx + 2) < len)
                    len = (size_t)lua_tointeger(L, idx + 2);
            }
        }
        lua_pop(L, pushed);
    }
    if (data && cap) {
        info = len < cap ? len : cap;
        if (info)
            memcpy(irp->SystemBuffer, data, info);
    } else if (lua_isinteger(L, idx + 2)) {
        lua_Integer n = lua_tointeger(L, idx + 2);
        info = n > 0 ? (size_t)n : 0;
    }
    lua_createtable(L, 0, 2);
    lua_pushinteger(L, st);
    lua_setfield(L, -2, "nStatus");
    lua_pushinteger(L, (lua_Integer)info);
    lua_setfield(L, -2, "vInformation");
    lua_setfield(L, idx, "tIoStatus");
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kx__lua_key_irps);
    lua_pushvalue(L, idx);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    kx__lua_cancel_forget(L, irp);
    return DkCompleteRequest(irp, st, info);
}

static int dk_complete(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 3);
    lua_pushinteger(L, kx__lua_complete(L, 1, (kx_status)luaL_optinteger(L, 2, STATUS_SUCCESS)));
    return 1;
}

int kx__lua_open_kmd(lua_State *L)
{
    static const luaL_Reg calls[] = {
        {"DkPrint", dk_print},
        {"DkCreateDevice", dk_create_device},
        {"DkDeleteDevice", dk_delete_device},
        {"DkCreateSymbolicLink", dk_create_link},
        {"DkDeleteSymbolicLink", dk_delete_link},
        {"DkCompleteRequest", dk_complete},
        {"DkMarkIrpPending", dk_mark_pending},
        {"DkIsIrpCancelled", dk_is_cancelled},
        {"DkSetDeviceSecurity", dk_set_security},
        {"DkSetDeviceReady", dk_set_ready},
        {"DkStatusName", dk_status_name},
        {NULL, NULL},
    };
    luaL_newlib(L, calls);
    kx__lua_open_hw(L);
    kx__lua_open_ext(L);
    return 1;
}
