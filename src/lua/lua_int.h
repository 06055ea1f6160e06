/* lua_int.h — what the Lua subsystem's files share (see lua_drv.h). */
#ifndef KX_LUA_INT_H
#define KX_LUA_INT_H

#include "lua_drv.h"

#include <lauxlib.h>
#include <lua.h>

/* One Lua driver: its state and what the C side tracks of it. Lives in
 * DRIVER_OBJECT.DriverExtension from DriverEntry to DriverUnload. */
struct lua_drv {
    lua_State *L;  /* main thread: modules, unload */
    lua_State *co; /* the script's main chunk, suspended in signal_pull */
    PDRIVER_OBJECT obj;
    size_t mem_used, mem_limit;
    unsigned long steps, step_limit; /* VM instructions since the last signal */
    int over_budget;                 /* the hook raised the instruction-limit error */
    int dead;                        /* the main loop ended or failed: IRPs fail with dead_status */
    kx_status dead_status;
    int init_sent; /* driver_init_complete arrived */
    kx_status init_status;
    char name[KX_DRIVER_INFO_TEXT_MAX];
};

/* The driver a state belongs to: its allocator's user data (lua_state.c). */
static inline struct lua_drv *kx__lua_drv(lua_State *L)
{
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

/* Registry keys (their addresses) for the driver's tables. */
extern const char kx__lua_key_drv;     /* the DRIVER_OBJECT table */
extern const char kx__lua_key_irps;    /* IRP table -> PIRP, while the driver owns it */
extern const char kx__lua_key_devs;    /* device table <-> PDEVICE_OBJECT */
extern const char kx__lua_key_cancels; /* PIRP -> {IRP table, cancel routine} */

/* lua_state.c: a sandboxed state charged to d (memory, instructions), with
 * base, string, table, math, utf8 and coroutine, the host's modules behind
 * require, and nothing else. NULL when out of memory. */
lua_State *kx__lua_state_new(struct lua_drv *d);
/* Starts a signal's instruction budget. */
void kx__lua_budget_reset(struct lua_drv *d);
/* The status an error of Lua call status `rc` maps to. */
kx_status kx__lua_error_status(struct lua_drv *d, int rc);
/* The message handler: the error with a traceback. */
int kx__lua_traceback(lua_State *L);

/* lua_kmd.c: pushes the module's table (errcheck, shared_structs, kmd_api). */
int kx__lua_open_errcheck(lua_State *L);
int kx__lua_open_structs(lua_State *L);
int kx__lua_open_kmd(lua_State *L);
/* lua_hw.c: adds the hardware calls (events, component devices, proxies) to
 * kmd_api's table on the top of the stack. */
void kx__lua_open_hw(lua_State *L);
/* lua_ext.c: adds cancel routines and properties to kmd_api's table on the
 * top of the stack. */
void kx__lua_open_ext(lua_State *L);
/* Drops irp's cancel routine entry (the IRP was completed). */
void kx__lua_cancel_forget(lua_State *L, PIRP irp);
/* lua_driver.c: an event the driver registered for, as "hardware_interrupt". */
void kx__lua_event(PDRIVER_OBJECT DriverObject, const KX_EVENT *Event, void *Context);

/* The PIRP of an IRP table the driver still owns, or NULL. */
PIRP kx__lua_irp(lua_State *L, int idx);
/* Pushes the device table of dev (made on first sight). */
void kx__lua_push_device(lua_State *L, PDEVICE_OBJECT dev);
/* Completes irp (at idx) as DkCompleteRequest would from Lua. */
kx_status kx__lua_complete(lua_State *L, int idx, kx_status st);

#endif /* KX_LUA_INT_H */
