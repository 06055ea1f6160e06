/* lua_driver.c — a Lua driver behind a C DriverEntry (see lua_drv.h).
 *
 * The script runs unmodified: its main chunk is a coroutine, and the
 * global syscall("signal_pull") suspends it. DriverEntry resumes it until
 * its first signal_pull, then with ("driver_init", the DRIVER_OBJECT table)
 * and waits for "driver_init_complete"; each IRP resumes it with
 * ("irp_dispatch", the IRP table, a handler); each event it registered for
 * with ("hardware_interrupt", name, source, data, sequence); unload with
 * ("driver_unload"), and calls fDriverUnload itself if the script's loop
 * did not. All of it runs on the driver's dispatch thread, one signal at a
 * time.
 *
 * Errors are contained per signal. The handler given with irp_dispatch wraps
 * the driver's tDispatch entry in a protected call: a Lua error there (or
 * the instruction or memory limit) is logged with its traceback and
 * completes that IRP with STATUS_DRIVER_INTERNAL_ERROR (or _INSTRUCTION_LIMIT,
 * _MEMORY_LIMIT), and the loop goes on. An error that ends the main loop
 * itself fails every later IRP with that status. An error before
 * driver_init_complete fails the load; the manager deletes what the driver
 * had created.
 */
#include "lua_int.h"

#include "core/plat.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- staging: the script for the next DriverEntry of a name -------------- */

struct staged {
    struct staged *next;
    char name[KX_DRIVER_INFO_TEXT_MAX];
    char chunk[96]; /* "@AxisNull.sys.lua": Lua's name for the script in tracebacks */
    char *src;
    size_t len;
};

static pthread_mutex_t stage_lock = PTHREAD_MUTEX_INITIALIZER;
static struct staged *stage_list;

static struct staged *stage_take(const char *name)
{
    pthread_mutex_lock(&stage_lock);
    struct staged **pp = &stage_list, *s = NULL;
    while (*pp && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    if (*pp) {
        s = *pp;
        *pp = s->next;
    }
    pthread_mutex_unlock(&stage_lock);
    return s;
}

static void staged_free(struct staged *s)
{
    if (s) {
        free(s->src);
        free(s);
    }
}

kx_status kx_lua_stage(const char *short_name, const char *path, char *why, size_t why_len)
{
    struct staged *s = calloc(1, sizeof *s);
    void *src = NULL;
    if (!s)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = kx_plat_read_file(path, KX_LUA_SCRIPT_MAX, &src, &s->len);
    if (st != STATUS_SUCCESS) {
        snprintf(why, why_len, "can't read the Lua driver %s: %s", path, kx_status_name(st));
        free(s);
        return st;
    }
    s->src = src;
    snprintf(s->name, sizeof s->name, "%s", short_name);
    const char *base = strrchr(path, '/');
    snprintf(s->chunk, sizeof s->chunk, "@%s", base ? base + 1 : path);
    kx_lua_unstage(short_name); /* a newer script replaces one never started */
    pthread_mutex_lock(&stage_lock);
    s->next = stage_list;
    stage_list = s;
    pthread_mutex_unlock(&stage_lock);
    return STATUS_SUCCESS;
}

void kx_lua_unstage(const char *short_name)
{
    staged_free(stage_take(short_name));
}

/* ---- the main loop ------------------------------------------------------- */

static void drv_free(struct lua_drv *d)
{
    if (d) {
        if (d->L)
            lua_close(d->L);
        free(d);
    }
}

/* Resumes the script with the nargs values on d->co's stack, until its next
 * signal_pull. On failure logs why and marks the driver dead. */
static int resume(struct lua_drv *d, int nargs, const char *what)
{
    int nres = 0;
    kx__lua_budget_reset(d);
    int rc = lua_resume(d->co, d->L, nargs, &nres);
    if (rc == LUA_YIELD) {
        lua_pop(d->co, nres);
        return 1;
    }
    d->dead = 1;
    if (rc == LUA_OK) {
        d->dead_status = STATUS_DRIVER_INTERNAL_ERROR;
        DkPrint("%s: Lua driver's main loop ended during %s (no more signal_pull): %s", d->name,
                what, kx_status_name(d->dead_status));
        return 0;
    }
    d->dead_status = kx__lua_error_status(d, rc);
    luaL_traceback(d->L, d->co, lua_tostring(d->co, -1), 0);
    DkPrint("%s: Lua error in the main loop during %s, %s: %s", d->name, what,
            kx_status_name(d->dead_status), lua_tostring(d->L, -1));
    lua_pop(d->L, 1);
    return 0;
}

static int l_syscall(lua_State *L)
{
    struct lua_drv *d = kx__lua_drv(L);
    const char *call = luaL_checkstring(L, 1);
    if (strcmp(call, "signal_pull") == 0) {
        if (L != d->co)
            return luaL_error(L, "signal_pull is for the driver's main loop");
        return lua_yield(L, 0);
    }
    if (strcmp(call, "signal_send") == 0) {
        const char *sig = luaL_checkstring(L, 3);
        if (strcmp(sig, "driver_init_complete") == 0 && !d->init_sent) {
            d->init_sent = 1;
            d->init_status =
                lua_isinteger(L, 4) ? (kx_status)lua_tointeger(L, 4) : STATUS_DRIVER_INIT_FAILED;
        }
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushboolean(L, 0);
    lua_pushfstring(L, "syscall '%s' is not provided by the kx Lua host", call);
    return 2;
}

/* The handler irp_dispatch hands the script: the driver's own routine
 * (upvalue 1), called protected. Upvalue 2 names the major for the log. */
static int guarded_handler(lua_State *L)
{
    struct lua_drv *d = kx__lua_drv(L);
    lua_settop(L, 2);
    lua_pushcfunction(L, kx__lua_traceback);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    int rc = lua_pcall(L, 2, 0, 3);
    if (rc == LUA_OK)
        return 0;
    kx_status st = kx__lua_error_status(d, rc);
    DkPrint("%s: Lua error in the %s handler, IRP completed %s: %s", d->name,
            lua_tostring(L, lua_upvalueindex(2)), kx_status_name(st), lua_tostring(L, -1));
    lua_settop(L, 2);
    if (kx__lua_irp(L, 2)) {
        lua_settop(L, 2);
        lua_pushnil(L); /* no information */
        lua_pushnil(L);
        kx__lua_complete(L, 2, st);
    }
    return 0;
}

static const char *major_text(uint8_t major)
{
    switch (major) {
    case IRP_MJ_CREATE: return "IRP_MJ_CREATE";
    case IRP_MJ_CLOSE: return "IRP_MJ_CLOSE";
    case IRP_MJ_READ: return "IRP_MJ_READ";
    case IRP_MJ_WRITE: return "IRP_MJ_WRITE";
    case IRP_MJ_QUERY_INFORMATION: return "IRP_MJ_QUERY_INFORMATION";
    case IRP_MJ_FLUSH_BUFFERS: return "IRP_MJ_FLUSH_BUFFERS";
    case IRP_MJ_DEVICE_CONTROL: return "IRP_MJ_DEVICE_CONTROL";
    case IRP_MJ_CLEANUP: return "IRP_MJ_CLEANUP";
    default: return "IRP_MJ_?";
    }
}

/* The IRP as the seed's drivers read it, on L's stack. */
static void push_irp(lua_State *L, PDEVICE_OBJECT dev, PIRP irp)
{
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, irp->MajorFunction);
    lua_setfield(L, -2, "nMajorFunction");
    kx__lua_push_device(L, dev);
    lua_setfield(L, -2, "pDeviceObject");
    lua_createtable(L, 0, 4);
    const char *buf = irp->SystemBuffer;
    switch (irp->MajorFunction) {
    case IRP_MJ_WRITE:
        lua_pushlstring(L, buf ? buf : "", buf ? irp->Parameters.Write.Length : 0);
        lua_setfield(L, -2, "sData");
        lua_pushinteger(L, (lua_Integer)irp->Parameters.Write.Length);
        lua_setfield(L, -2, "nLength");
        lua_pushinteger(L, (lua_Integer)irp->Parameters.Write.ByteOffset);
        lua_setfield(L, -2, "nOffset");
        break;
    case IRP_MJ_READ:
        lua_pushinteger(L, (lua_Integer)irp->Parameters.Read.Length);
        lua_setfield(L, -2, "nLength");
        lua_pushinteger(L, (lua_Integer)irp->Parameters.Read.ByteOffset);
        lua_setfield(L, -2, "nOffset");
        break;
    case IRP_MJ_DEVICE_CONTROL:
        lua_pushinteger(L, irp->Parameters.DeviceIoControl.IoControlCode);
        lua_setfield(L, -2, "nIoControlCode");
        lua_pushlstring(L, buf ? buf : "",
                        buf ? irp->Parameters.DeviceIoControl.InputBufferLength : 0);
        lua_setfield(L, -2, "sInput");
        lua_pushinteger(L, (lua_Integer)irp->Parameters.DeviceIoControl.OutputBufferLength);
        lua_setfield(L, -2, "nOutputLength");
        break;
    case IRP_MJ_CREATE:
        lua_pushinteger(L, irp->Parameters.Create.DesiredAccess);
        lua_setfield(L, -2, "nDesiredAccess");
        break;
    default: break;
    }
    lua_setfield(L, -2, "tParameters");
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, irp->Requestor.Pid);
    lua_setfield(L, -2, "nPid");
    lua_pushinteger(L, irp->Requestor.Uid);
    lua_setfield(L, -2, "nUid");
    lua_pushinteger(L, irp->Requestor.Gid);
    lua_setfield(L, -2, "nGid");
    lua_setfield(L, -2, "tRequestor");
    /* the driver owns it until it completes it */
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kx__lua_key_irps);
    lua_pushvalue(L, -2);
    lua_pushlightuserdata(L, irp);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}

static void push_signal(lua_State *co, const char *signal)
{
    lua_pushboolean(co, 1);
    lua_pushinteger(co, 0); /* the sender: kx's I/O manager */
    lua_pushstring(co, signal);
}

static kx_status lua_dispatch(PDEVICE_OBJECT dev, PIRP irp)
{
    struct lua_drv *d = dev->DriverObject->DriverExtension;
    if (d->dead)
        return DkCompleteRequest(irp, d->dead_status, 0);
    lua_State *co = d->co;
    int top = lua_gettop(co);
    lua_rawgetp(co, LUA_REGISTRYINDEX, &kx__lua_key_drv);
    int has = lua_getfield(co, -1, "tDispatch") == LUA_TTABLE &&
              lua_rawgeti(co, -1, irp->MajorFunction) == LUA_TFUNCTION;
    if (!has) {
        lua_settop(co, top);
        int trivial = irp->MajorFunction == IRP_MJ_CREATE || irp->MajorFunction == IRP_MJ_CLOSE ||
                      irp->MajorFunction == IRP_MJ_CLEANUP;
        return DkCompleteRequest(irp, trivial ? STATUS_SUCCESS : STATUS_NOT_IMPLEMENTED, 0);
    }
    lua_pushstring(co, major_text(irp->MajorFunction));
    lua_pushcclosure(co, guarded_handler, 2); /* top+3 */
    push_signal(co, "irp_dispatch");
    push_irp(co, dev, irp);
    lua_pushvalue(co, -1);
    lua_rawsetp(co, LUA_REGISTRYINDEX, irp); /* to learn below what became of it */
    lua_pushvalue(co, top + 3);
    for (int i = 0; i < 3; i++)
        lua_remove(co, top + 1);
    irp->DriverContext[0] = NULL; /* set by DkMarkIrpPending */
    resume(d, 5, major_text(irp->MajorFunction));
    lua_State *L = d->L;
    lua_rawgetp(L, LUA_REGISTRYINDEX, irp);
    lua_pushnil(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, irp);
    int owned = kx__lua_irp(L, -1) != NULL;
    if (!owned) {
        lua_pop(L, 1);
        return irp->IoStatus.Status;
    }
    if (irp->DriverContext[0]) {
        lua_pop(L, 1);
        return STATUS_PENDING;
    }
    kx_status st = d->dead ? d->dead_status : STATUS_DRIVER_INTERNAL_ERROR;
    if (!d->dead)
        DkPrint("%s: the %s handler returned without completing the IRP: %s", d->name,
                major_text(irp->MajorFunction), kx_status_name(st));
    lua_pushnil(L);
    lua_pushnil(L);
    st = kx__lua_complete(L, -3, st);
    lua_pop(L, 3);
    return st;
}

/* An event the driver registered for: ("hardware_interrupt", sEventName,
 * sSource, sData, nSequence), on the dispatch thread between IRPs. */
void kx__lua_event(PDRIVER_OBJECT obj, const KX_EVENT *ev, void *ctx)
{
    struct lua_drv *d = ctx;
    (void)obj;
    if (d->dead)
        return;
    push_signal(d->co, "hardware_interrupt");
    lua_pushstring(d->co, ev->Name);
    lua_pushstring(d->co, ev->Source ? ev->Source : "");
    lua_pushlstring(d->co, ev->Data ? ev->Data : "", ev->DataLength);
    lua_pushinteger(d->co, (lua_Integer)ev->Sequence);
    resume(d, 7, "hardware_interrupt");
}

/* pDriverObject.fAddDevice / fRemoveDevice (kx's, for CMD drivers): called
 * protected with (pDriverObject, nInstance) while the instance's component is
 * bound, so DkGetComponentAddress and DkGetHardwareProxy on it work there.
 * fAddDevice returns the match's status. */
static kx_status call_instance_hook(struct lua_drv *d, const char *hook, KX_REGISTRY_ID instance)
{
    lua_State *L = d->L;
    int top = lua_gettop(L);
    lua_pushcfunction(L, kx__lua_traceback);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kx__lua_key_drv);
    if (lua_getfield(L, -1, hook) != LUA_TFUNCTION) {
        lua_settop(L, top);
        return STATUS_SUCCESS;
    }
    lua_insert(L, -2);
    lua_pushinteger(L, (lua_Integer)instance);
    kx__lua_budget_reset(d);
    int rc = lua_pcall(L, 2, 1, top + 1);
    kx_status st;
    if (rc != LUA_OK) {
        st = kx__lua_error_status(d, rc);
        DkPrint("%s: Lua error in %s, %s: %s", d->name, hook, kx_status_name(st),
                lua_tostring(L, -1));
    } else {
        st = lua_isinteger(L, -1) ? (kx_status)lua_tointeger(L, -1) : STATUS_DRIVER_INTERNAL_ERROR;
    }
    lua_settop(L, top);
    return st;
}

static kx_status lua_add_device(PDRIVER_OBJECT obj, PKX_PROVIDER prov)
{
    struct lua_drv *d = obj->DriverExtension;
    return d->dead ? d->dead_status : call_instance_hook(d, "fAddDevice", prov->Instance);
}

static void lua_remove_device(PDRIVER_OBJECT obj, PKX_PROVIDER prov)
{
    struct lua_drv *d = obj->DriverExtension;
    if (!d->dead)
        call_instance_hook(d, "fRemoveDevice", prov->Instance);
}

/* Drivers that set fAddDevice in DriverEntry get one instance per match;
 * others keep doing their work in DriverEntry. */
static void take_instance_hooks(struct lua_drv *d, PDRIVER_OBJECT obj)
{
    lua_State *L = d->L;
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kx__lua_key_drv);
    if (lua_getfield(L, -1, "fAddDevice") == LUA_TFUNCTION) {
        obj->AddDevice = lua_add_device;
        obj->RemoveDevice = lua_remove_device;
    }
    lua_pop(L, 2);
}

static void lua_unload(PDRIVER_OBJECT obj)
{
    struct lua_drv *d = obj->DriverExtension;
    if (!d->dead) {
        lua_rawgetp(d->co, LUA_REGISTRYINDEX, &kx__lua_key_drv);
        push_signal(d->co, "driver_unload");
        lua_rotate(d->co, -4, -1);
        lua_pushnil(d->co);
        resume(d, 5, "driver_unload");
    }
    /* kx calls fDriverUnload itself (the seed's loop ignores driver_unload):
     * a script that handles driver_unload must not call it too. */
    lua_State *L = d->L;
    lua_pushcfunction(L, kx__lua_traceback);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kx__lua_key_drv);
    if (lua_getfield(L, -1, "fDriverUnload") == LUA_TFUNCTION) {
        lua_insert(L, -2);
        kx__lua_budget_reset(d);
        int rc = lua_pcall(L, 1, 0, -3);
        if (rc != LUA_OK)
            DkPrint("%s: Lua error in DriverUnload, %s: %s", d->name,
                    kx_status_name(kx__lua_error_status(d, rc)), lua_tostring(L, -1));
    }
    lua_settop(L, 0);
    obj->DriverExtension = NULL;
    drv_free(d);
}

/* Runs the chunk to its first signal_pull, then delivers driver_init. */
static kx_status start(struct lua_drv *d, const struct staged *s)
{
    lua_State *L = d->L;
    int rc = luaL_loadbufferx(L, s->src, s->len, s->chunk, "t");
    if (rc != LUA_OK) {
        DkPrint("%s: the Lua driver does not compile: %s", d->name, lua_tostring(L, -1));
        return rc == LUA_ERRMEM ? STATUS_DRIVER_MEMORY_LIMIT : STATUS_DRIVER_INTERNAL_ERROR;
    }
    d->co = lua_newthread(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, d); /* the coroutine stays reachable */
    lua_xmove(L, d->co, 1);
    if (!resume(d, 0, "the script's first run"))
        return d->dead_status;
    lua_rawgetp(d->co, LUA_REGISTRYINDEX, &kx__lua_key_drv);
    push_signal(d->co, "driver_init");
    lua_rotate(d->co, -4, -1);
    lua_pushnil(d->co);
    if (!resume(d, 5, "driver_init"))
        return d->dead_status;
    if (!d->init_sent) {
        DkPrint("%s: DriverEntry ran but the script sent no driver_init_complete", d->name);
        return STATUS_DRIVER_INIT_FAILED;
    }
    return d->init_status;
}

static void push_driver_table(lua_State *L, PDRIVER_OBJECT obj, const char *name)
{
    lua_createtable(L, 0, 4);
    lua_newtable(L);
    lua_setfield(L, -2, "tDispatch");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "sDriverName");
    lua_pushstring(L, obj->DriverName);
    lua_setfield(L, -2, "sDriverPath");
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kx__lua_key_drv);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kx__lua_key_irps);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kx__lua_key_devs);
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kx__lua_key_cancels);
}

kx_status kx_lua_driver_entry(PDRIVER_OBJECT obj)
{
    const char *name = obj->DriverInfo ? obj->DriverInfo->name : "";
    struct staged *s = stage_take(name);
    if (!s) {
        DkPrint("%s: no Lua script was staged for this driver", name);
        return STATUS_INVALID_DRIVER_ENTRY;
    }
    struct lua_drv *d = calloc(1, sizeof *d);
    if (!d || !(d->L = kx__lua_state_new(d))) {
        free(d);
        staged_free(s);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    d->obj = obj;
    snprintf(d->name, sizeof d->name, "%s", name);
    lua_pushcfunction(d->L, l_syscall);
    lua_setglobal(d->L, "syscall");
    push_driver_table(d->L, obj, name);
    obj->DriverExtension = d;
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        obj->MajorFunction[i] = lua_dispatch;
    obj->DriverUnload = lua_unload;
    kx_status st = start(d, s);
    staged_free(s);
    if (st == STATUS_SUCCESS)
        take_instance_hooks(d, obj);
    if (st != STATUS_SUCCESS) {
        obj->DriverExtension = NULL;
        obj->DriverUnload = NULL;
        drv_free(d);
        if (st == STATUS_PENDING)
            st = STATUS_DRIVER_INIT_FAILED;
    }
    return st;
}
