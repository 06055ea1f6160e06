/* lua_hw.c — kmd_api's hardware calls: events, component devices, proxies.
 *
 * DkRegisterInterrupt(sEventName) subscribes the driver; each event reaches
 * the script's main loop as the "hardware_interrupt" signal (lua_driver.c),
 * on the driver's dispatch thread like every other signal.
 *
 * DkGetHardwareProxy(sAddress) returns a proxy object with
 * oProxy:read(nOffset, nLength) -> nStatus, sBytes,
 * oProxy:write(nOffset, sBytes) -> nStatus and oProxy:release(); kx checks
 * the privilege (KMD any component, CMD its own, UMD none) in C, as for C
 * drivers. A proxy the script drops is released by the collector, and kx
 * releases whatever is left at unload.
 */
#include "lua_int.h"

#include <string.h>

#define PROXY_META "kx.hardware_proxy"
#define PROXY_READ_MAX (64u << 10) /* one read's bytes: a register file, a config space */

static int dk_register_interrupt(lua_State *L)
{
    struct lua_drv *d = kx__lua_drv(L);
    lua_pushinteger(L, DkRegisterInterrupt(d->obj, luaL_checkstring(L, 1), kx__lua_event, d));
    return 1;
}

static int dk_unregister_interrupt(lua_State *L)
{
    lua_pushinteger(L, DkUnregisterInterrupt(kx__lua_drv(L)->obj, luaL_checkstring(L, 1)));
    return 1;
}

/* DkCreateComponentDevice(pDriverObject, sDeviceTypeName): the driver object
 * is the script's own (one per state), so the first argument is not read. */
static int dk_create_component_device(lua_State *L)
{
    struct lua_drv *d = kx__lua_drv(L);
    PDEVICE_OBJECT dev = NULL;
    kx_status st = DkCreateComponentDevice(d->obj, luaL_checkstring(L, 2), &dev);
    lua_pushinteger(L, st);
    if (st != STATUS_SUCCESS)
        return 1;
    kx__lua_push_device(L, dev);
    return 2;
}

/* DkGetComponentAddress() -> nStatus, sAddress: the component bound while
 * fAddDevice and fRemoveDevice run; STATUS_NO_COMPONENT_BOUND elsewhere. */
static int dk_get_component_address(lua_State *L)
{
    char address[64];
    kx_status st = DkGetComponentAddress(kx__lua_drv(L)->obj, address, sizeof address);
    lua_pushinteger(L, st);
    if (st != STATUS_SUCCESS)
        return 1;
    lua_pushstring(L, address);
    return 2;
}

static PKX_HARDWARE_PROXY *proxy_slot(lua_State *L)
{
    return luaL_checkudata(L, 1, PROXY_META);
}

static PKX_HARDWARE_PROXY live_proxy(lua_State *L)
{
    PKX_HARDWARE_PROXY p = *proxy_slot(L);
    if (!p)
        luaL_error(L, "hardware proxy used after release");
    return p;
}

static int proxy_read(lua_State *L)
{
    PKX_HARDWARE_PROXY p = live_proxy(L);
    lua_Integer off = luaL_checkinteger(L, 2), len = luaL_checkinteger(L, 3);
    luaL_argcheck(L, off >= 0 && off <= UINT32_MAX, 2, "offset out of range");
    luaL_argcheck(L, len > 0 && len <= PROXY_READ_MAX, 3, "length out of range");
    luaL_Buffer b;
    char *buf = luaL_buffinitsize(L, &b, (size_t)len);
    kx_status st = DkProxyRead(p, (uint32_t)off, buf, (size_t)len);
    luaL_pushresultsize(&b, st == STATUS_SUCCESS ? (size_t)len : 0);
    lua_pushinteger(L, st);
    lua_insert(L, -2);
    if (st != STATUS_SUCCESS) {
        lua_pop(L, 1);
        return 1;
    }
    return 2;
}

static int proxy_write(lua_State *L)
{
    PKX_HARDWARE_PROXY p = live_proxy(L);
    lua_Integer off = luaL_checkinteger(L, 2);
    size_t len;
    const char *data = luaL_checklstring(L, 3, &len);
    luaL_argcheck(L, off >= 0 && off <= UINT32_MAX, 2, "offset out of range");
    lua_pushinteger(L, DkProxyWrite(p, (uint32_t)off, data, len));
    return 1;
}

static int proxy_release(lua_State *L)
{
    PKX_HARDWARE_PROXY *slot = proxy_slot(L);
    if (*slot)
        DkReleaseHardwareProxy(*slot);
    *slot = NULL;
    return 0;
}

static int dk_get_hardware_proxy(lua_State *L)
{
    struct lua_drv *d = kx__lua_drv(L);
    const char *address = luaL_checkstring(L, 1);
    /* The userdata holds the proxy's pointer. */
    PKX_HARDWARE_PROXY *slot =
        lua_newuserdatauv(L, sizeof *slot, 0); /* NOLINT(bugprone-sizeof-expression) */
    *slot = NULL;
    luaL_setmetatable(L, PROXY_META);
    kx_status st = DkGetHardwareProxy(d->obj, address, slot);
    lua_pushinteger(L, st);
    if (st != STATUS_SUCCESS) {
        lua_pushstring(L, DkStatusName(st)); /* the seed: an error message on failure */
        return 2;
    }
    lua_insert(L, -2);
    return 2;
}

void kx__lua_open_hw(lua_State *L)
{
    static const luaL_Reg proxy_methods[] = {
        {"read", proxy_read},
        {"write", proxy_write},
        {"release", proxy_release},
        {NULL, NULL},
    };
    static const luaL_Reg calls[] = {
        {"DkRegisterInterrupt", dk_register_interrupt},
        {"DkUnregisterInterrupt", dk_unregister_interrupt},
        {"DkCreateComponentDevice", dk_create_component_device},
        {"DkGetHardwareProxy", dk_get_hardware_proxy},
        {"DkGetComponentAddress", dk_get_component_address},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, PROXY_META)) {
        luaL_newlib(L, proxy_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, proxy_release);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "hardware proxy"); /* getmetatable() can't reach the methods' table */
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    luaL_setfuncs(L, calls, 0); /* into kmd_api's table, on the top */
}
