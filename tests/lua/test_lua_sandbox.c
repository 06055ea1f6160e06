/* test_lua_sandbox.c — a Lua driver can't leave its sandbox or take its
 * host down: os.execute, io.open, require("ffi"), a string.rep bomb, an
 * endless loop and an error in each handler are each contained in the IRP
 * that ran them (completed with a named status, the cause and traceback in
 * the kernel log), and the driver and kxd's other drivers keep serving. An
 * error in DriverEntry fails the load cleanly. In a kx-host process and
 * in-process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lua_kext.h"
#include "server/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each write's text names what the WRITE handler tries. */
static const char hostile[] =
    "local tStatus = require(\"errcheck\")\n"
    "local oKMD = require(\"kmd_api\")\n"
    "local tDK = require(\"shared_structs\")\n"
    "g_tDriverInfo = { sDriverName = \"LuaHostile\", sDriverType = tDK.DRIVER_TYPE_KMD,\n"
    "                  nLoadPriority = 900, sVersion = \"1.2.0\" }\n"
    "local g_sFail = nil -- the next handler named here raises an error\n"
    "local function maybe_fail(sWhich) if g_sFail == sWhich then g_sFail = nil; error(\"planned \" "
    ".. sWhich .. \" failure\") end end\n"
    "local tActions = {\n"
    "  os = function() os.execute(\"true\") end,\n"
    "  io = function() io.open(\"/etc/passwd\") end,\n"
    "  ffi = function() local sName = \"ffi\"; require(sName) end, -- computed: past the loader's "
    "check\n"
    "  loadlib = function() package.loadlib(\"libc.so.6\", \"system\") end,\n"
    "  binary = function() assert(load(string.dump(function() end)))() end,\n"
    "  bomb = function() local s = string.rep(\"x\", 100 * 1024 * 1024) end,\n"
    "  grow = function() local s = \"x\" while true do s = s .. s end end,\n"
    "  loop = function() while true do end end,\n"
    "}\n"
    "local function fWrite(pDev, pIrp)\n"
    "  local s = pIrp.tParameters.sData\n"
    "  if s:sub(1, 5) == \"fail:\" then g_sFail = s:sub(6) elseif tActions[s] then tActions[s]() "
    "end\n"
    "  oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS, #s)\n"
    "end\n"
    "local function fRead(pDev, pIrp) maybe_fail(\"read\"); oKMD.DkCompleteRequest(pIrp, "
    "tStatus.STATUS_SUCCESS, \"lua!\") end\n"
    "local function fCreate(pDev, pIrp) maybe_fail(\"create\"); oKMD.DkCompleteRequest(pIrp, "
    "tStatus.STATUS_SUCCESS) end\n"
    "local function fClose(pDev, pIrp) maybe_fail(\"close\"); oKMD.DkCompleteRequest(pIrp, "
    "tStatus.STATUS_SUCCESS) end\n"
    "local function fControl(pDev, pIrp) maybe_fail(\"control\"); oKMD.DkCompleteRequest(pIrp, "
    "tStatus.STATUS_SUCCESS) end\n"
    "local g_pDev\n"
    "function DriverEntry(pDrv)\n"
    "  pDrv.tDispatch[tDK.IRP_MJ_CREATE] = fCreate\n"
    "  pDrv.tDispatch[tDK.IRP_MJ_CLOSE] = fClose\n"
    "  pDrv.tDispatch[tDK.IRP_MJ_READ] = fRead\n"
    "  pDrv.tDispatch[tDK.IRP_MJ_WRITE] = fWrite\n"
    "  pDrv.tDispatch[tDK.IRP_MJ_DEVICE_CONTROL] = fControl\n"
    "  pDrv.fDriverUnload = function() oKMD.DkDeleteSymbolicLink(\"/dev/luahostile\"); "
    "oKMD.DkDeleteDevice(g_pDev) end\n"
    "  local nStatus, pDev = oKMD.DkCreateDevice(pDrv, \"\\\\Device\\\\LuaHostile0\")\n"
    "  if nStatus ~= tStatus.STATUS_SUCCESS then return nStatus end\n"
    "  g_pDev = pDev\n"
    "  oKMD.DkSetDeviceSecurity(pDev, 0, 0, 438)\n"
    "  return oKMD.DkCreateSymbolicLink(\"/dev/luahostile\", \"\\\\Device\\\\LuaHostile0\")\n"
    "end\n"
    "while true do\n"
    "  local bOk, nPid, sSig, p1, p2 = syscall(\"signal_pull\")\n"
    "  if sSig == \"driver_init\" then syscall(\"signal_send\", nPid, \"driver_init_complete\", "
    "DriverEntry(p1), p1)\n"
    "  elseif sSig == \"irp_dispatch\" then p2(g_pDev, p1) end\n"
    "end\n";

static const char bad_entry[] = "local oKMD = require(\"kmd_api\")\n"
                                "g_tDriverInfo = { sDriverName = \"LuaBadEntry\", sDriverType = "
                                "\"KernelModeDriver\", sVersion = \"1.0.0\" }\n"
                                "function DriverEntry(pDrv)\n"
                                "  oKMD.DkCreateDevice(pDrv, \"\\\\Device\\\\LuaBadEntry0\")\n"
                                "  error(\"entry went wrong\")\n"
                                "end\n"
                                "while true do\n"
                                "  local bOk, nPid, sSig, p1 = syscall(\"signal_pull\")\n"
                                "  if sSig == \"driver_init\" then syscall(\"signal_send\", nPid, "
                                "\"driver_init_complete\", DriverEntry(p1), p1) end\n"
                                "end\n";

/* The driver and another driver (C Zero) still serve. */
static void still_serving(kx_client *c, uint32_t h)
{
    uint64_t info = 0;
    assert_int_equal(kx_client_write(c, h, 0, "ok", 2, 0, &info), STATUS_SUCCESS);
    assert_int_equal(info, 2);
    uint32_t z;
    char buf[4] = "abc";
    size_t got = 0;
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &z), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, z, 0, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, 4);
    assert_int_equal(buf[0], 0);
    assert_int_equal(kx_client_close(c, z), STATUS_SUCCESS);
}

static void attempt(const struct kxd_proc *p, kx_client *c, uint32_t h, const char *what,
                    kx_status want, const char *cause)
{
    uint64_t info = 0;
    assert_int_equal(kx_client_write(c, h, 0, what, strlen(what), 0, &info), want);
    char *log = lua_kernel_log(p);
    char pattern[512];
    snprintf(pattern, sizeof pattern,
             "LuaHostile: Lua error in the IRP_MJ_WRITE handler, IRP completed %s: .*%s",
             kx_status_name(want), cause);
    if (kxd_count_matches(log, pattern) <= 0) /* the whole log is too long for cmocka's message */
        for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
            if (strstr(line, "LuaHostile"))
                fprintf(stderr, "%s\n", line);
    KXD_ASSERT_MATCHES(log, pattern);
    free(log);
    still_serving(c, h);
}

static void run_sandbox(struct kxd_proc *p)
{
    kx_client *c = kxd_connect(p);
    char *kext = lua_kext_make(p->dir, "LuaHostile", "hostile.sys.lua", "1.2.0", hostile);
    assert_non_null(kext);
    assert_int_equal(lua_kext_load(c, kext), STATUS_SUCCESS);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/luahostile", KX_ACCESS_READ | KX_ACCESS_WRITE, &h),
                     STATUS_SUCCESS);
    char out[8] = "";
    size_t got = 0;
    assert_int_equal(kx_client_read(c, h, 0, out, sizeof out, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, 4);
    assert_memory_equal(out, "lua!", 4);

    attempt(p, c, h, "os", STATUS_DRIVER_INTERNAL_ERROR, "global 'os'");
    attempt(p, c, h, "io", STATUS_DRIVER_INTERNAL_ERROR, "global 'io'");
    attempt(p, c, h, "ffi", STATUS_DRIVER_INTERNAL_ERROR, "module 'ffi' is not provided");
    attempt(p, c, h, "loadlib", STATUS_DRIVER_INTERNAL_ERROR, "global 'package'");
    attempt(p, c, h, "binary", STATUS_DRIVER_INTERNAL_ERROR, "binary chunk");
    attempt(p, c, h, "bomb", STATUS_DRIVER_MEMORY_LIMIT, "not enough memory");
    attempt(p, c, h, "grow", STATUS_DRIVER_MEMORY_LIMIT, "not enough memory");
    attempt(p, c, h, "loop", STATUS_DRIVER_INSTRUCTION_LIMIT, "instruction limit");

    /* an error in each handler: the IRP it ran for fails, named */
    uint64_t info = 0;
    assert_int_equal(kx_client_write(c, h, 0, "fail:read", 9, 0, &info), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 0, out, sizeof out, 0, &got),
                     STATUS_DRIVER_INTERNAL_ERROR);
    assert_int_equal(kx_client_write(c, h, 0, "fail:control", 12, 0, &info), STATUS_SUCCESS);
    assert_int_equal(kx_client_ioctl(c, h, 0x00220000u, NULL, 0, NULL, 0, 0, &got),
                     STATUS_DRIVER_INTERNAL_ERROR);
    assert_int_equal(kx_client_write(c, h, 0, "fail:create", 11, 0, &info), STATUS_SUCCESS);
    uint32_t h2;
    assert_int_equal(kx_client_open(c, "/dev/luahostile", KX_ACCESS_READ, &h2),
                     STATUS_DRIVER_INTERNAL_ERROR);
    assert_int_equal(kx_client_write(c, h, 0, "fail:close", 10, 0, &info), STATUS_SUCCESS);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    char *log = lua_kernel_log(p);
    const char *const handlers[] = {"IRP_MJ_READ", "IRP_MJ_DEVICE_CONTROL", "IRP_MJ_CREATE",
                                    "IRP_MJ_CLOSE"};
    for (size_t i = 0; i < 4; i++) {
        char pattern[256];
        snprintf(pattern, sizeof pattern,
                 "Lua error in the %s handler, IRP completed STATUS_DRIVER_INTERNAL_ERROR: "
                 "hostile.sys.lua:[0-9]+: planned [a-z]+ failure",
                 handlers[i]);
        KXD_ASSERT_MATCHES(log, pattern);
    }
    KXD_ASSERT_MATCHES(log, "stack traceback:");
    free(log);
    assert_int_equal(kx_client_open(c, "/dev/luahostile", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    still_serving(c, h);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    assert_int_equal(kx_client_unload(c, "org.kx.test.LuaHostile", 0), STATUS_SUCCESS);
    free(kext);

    /* an error in DriverEntry fails the load; nothing of it stays */
    kext = lua_kext_make(p->dir, "LuaBadEntry", "bad.sys.lua", "1.0.0", bad_entry);
    assert_non_null(kext);
    assert_int_equal(lua_kext_load(c, kext), STATUS_KEXT_START_FAILED);
    assert_int_equal(kxd_tag_of(c, "org.kx.test.LuaBadEntry"), 0);
    log = lua_kernel_log(p);
    KXD_ASSERT_MATCHES(log, "LuaBadEntry: Lua error in the main loop during driver_init, "
                            "STATUS_DRIVER_INTERNAL_ERROR: bad.sys.lua:5: entry went wrong");
    free(log);
    char *ls = NULL;
    kxd_run(&ls, "KX_SOCKET=%s ./kx ls 2>&1", p->socket);
    assert_non_null(ls);
    assert_null(strstr(ls, "LuaBadEntry0"));
    free(ls);
    free(kext);

    /* a literal require of a module the host lacks: refused before any code runs */
    kext = lua_kext_make(p->dir, "LuaNeedsSocket", "socket.sys.lua", "1.0.0",
                         "local socket = require(\"socket\")\n"
                         "g_tDriverInfo = { sDriverName = \"LuaNeedsSocket\", "
                         "sDriverType = \"KernelModeDriver\", sVersion = \"1.0.0\" }\n");
    assert_non_null(kext);
    assert_int_equal(kx_client_load(c, kext, 0), STATUS_KEXT_VALIDATION_FAILED);
    assert_non_null(strstr(kx_client_message(c), "requires \"socket\""));
    free(kext);
    kx_client_disconnect(c);
}

static void test_sandbox_in_host_process(void **state)
{
    run_sandbox(*state);
}
static void test_sandbox_in_process(void **state)
{
    run_sandbox(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sandbox_in_host_process, lua_setup_host, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_sandbox_in_process, lua_setup_inproc, kxd_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
