/* test_lua_cancel.c — oKMD.DkSetCancelRoutine: a read a Lua driver pended
 * is cancelled when its requester goes away (a client killed mid-read: kxd
 * closes its file); the Lua routine runs on the dispatch thread and
 * completes the IRP with STATUS_CANCELLED, once. A routine that errors still
 * gets its IRP completed STATUS_CANCELLED, once, and the driver keeps
 * serving. In a kx-host process and in-process. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lua_kext.h"
#include "patience.h"
#include "server/harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A write of "fail" makes the next cancel routine raise an error. */
static const char pender[] =
    "local tStatus = require(\"errcheck\")\n"
    "local oKMD = require(\"kmd_api\")\n"
    "local tDK = require(\"shared_structs\")\n"
    "g_tDriverInfo = { sDriverName = \"LuaPender\", sDriverType = tDK.DRIVER_TYPE_KMD,\n"
    "                  nLoadPriority = 900, sVersion = \"1.0.0\" }\n"
    "local g_bFail = false\n"
    "local g_nPended = 0\n"
    "local function fCancel(pDev, pIrp)\n"
    "  oKMD.DkPrint(\"LuaPender: cancel routine ran on \" .. pDev.sDeviceName)\n"
    "  if g_bFail then g_bFail = false; error(\"planned cancel failure\") end\n"
    "  local nSt = oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_CANCELLED)\n"
    "  oKMD.DkPrint(\"LuaPender: cancel completed \" .. oKMD.DkStatusName(nSt))\n"
    "  oKMD.DkPrint(\"LuaPender: completing again gives \" ..\n"
    "               oKMD.DkStatusName(oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS)))\n"
    "end\n"
    "local function fRead(pDev, pIrp)\n"
    "  oKMD.DkMarkIrpPending(pIrp)\n"
    "  local nSt = oKMD.DkSetCancelRoutine(pIrp, fCancel)\n"
    "  g_nPended = g_nPended + 1\n"
    "  oKMD.DkPrint(\"LuaPender: read \" .. g_nPended .. \" pended, \" .. "
    "oKMD.DkStatusName(nSt))\n"
    "end\n"
    "local function fWrite(pDev, pIrp)\n"
    "  if pIrp.tParameters.sData == \"fail\" then g_bFail = true end\n"
    "  oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS, #pIrp.tParameters.sData)\n"
    "end\n"
    "local g_pDev\n"
    "function DriverEntry(pDrv)\n"
    "  pDrv.tDispatch[tDK.IRP_MJ_READ] = fRead\n"
    "  pDrv.tDispatch[tDK.IRP_MJ_WRITE] = fWrite\n"
    "  pDrv.fDriverUnload = function() oKMD.DkDeleteSymbolicLink(\"/dev/luapender\"); "
    "oKMD.DkDeleteDevice(g_pDev) end\n"
    "  local nStatus, pDev = oKMD.DkCreateDevice(pDrv, \"\\\\Device\\\\LuaPender0\")\n"
    "  if nStatus ~= tStatus.STATUS_SUCCESS then return nStatus end\n"
    "  g_pDev = pDev\n"
    "  oKMD.DkSetDeviceSecurity(pDev, 0, 0, 438)\n"
    "  return oKMD.DkCreateSymbolicLink(\"/dev/luapender\", \"\\\\Device\\\\LuaPender0\")\n"
    "end\n"
    "while true do\n"
    "  local bOk, nPid, sSig, p1, p2 = syscall(\"signal_pull\")\n"
    "  if sSig == \"driver_init\" then syscall(\"signal_send\", nPid, \"driver_init_complete\", "
    "DriverEntry(p1), p1)\n"
    "  elseif sSig == \"irp_dispatch\" then p2(g_pDev, p1) end\n"
    "end\n";

static int log_count(const struct kxd_proc *p, const char *pattern)
{
    char *log = NULL;
    kxd_run(&log, "KX_SOCKET=%s ./kx log", p->socket);
    int n = log ? kxd_count_matches(log, pattern) : 0;
    free(log);
    return n;
}

/* A child process opens /dev/luapender and reads (no deadline); once the
 * driver logged pended read n, the child is killed. */
static void read_then_vanish(const struct kxd_proc *p, int n)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        kx_client *c = kxd_connect(p);
        uint32_t h;
        char buf[8];
        size_t got;
        if (c && kx_client_open(c, "/dev/luapender", KX_ACCESS_READ, &h) == STATUS_SUCCESS)
            kx_client_read(c, h, 0, buf, sizeof buf, UINT32_MAX, &got);
        _exit(1); /* the read never returns: reaching here is a failure */
    }
    char pended[64];
    snprintf(pended, sizeof pended, "LuaPender: read %d pended, STATUS_SUCCESS", n);
    T_WAIT_FOR(log_count(p, pended) == 1);
    assert_int_equal(log_count(p, pended), 1);
    kill(pid, SIGKILL);
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFSIGNALED(ws));
}

static void run_cancel(struct kxd_proc *p)
{
    kx_client *c = kxd_connect(p);
    char *kext = lua_kext_make(p->dir, "LuaPender", "pender.sys.lua", "1.0.0", pender);
    assert_non_null(kext);
    assert_int_equal(lua_kext_load(c, kext), STATUS_SUCCESS);

    /* the routine completes the IRP: once, a second completion is refused */
    read_then_vanish(p, 1);
    T_WAIT_FOR(log_count(p, "LuaPender: completing again gives") == 1);
    assert_int_equal(log_count(p, "LuaPender: cancel routine ran on \\\\Device\\\\LuaPender0"), 1);
    assert_int_equal(log_count(p, "LuaPender: cancel completed STATUS_CANCELLED"), 1);
    assert_int_equal(
        log_count(p, "LuaPender: completing again gives STATUS_REQUEST_ALREADY_COMPLETED"), 1);

    /* a routine that errors: kx completes the IRP STATUS_CANCELLED, once */
    uint32_t h;
    uint64_t info = 0;
    assert_int_equal(kx_client_open(c, "/dev/luapender", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 0, "fail", 4, 0, &info), STATUS_SUCCESS);
    read_then_vanish(p, 2);
    T_WAIT_FOR(log_count(p, "Lua error in the cancel routine") == 1);
    assert_int_equal(log_count(p, "LuaPender: cancel routine ran on"), 2);
    assert_int_equal(log_count(p, "LuaPender: Lua error in the cancel routine, IRP completed "
                                  "STATUS_CANCELLED \\(STATUS_DRIVER_INTERNAL_ERROR\\): "
                                  "[^\n]*planned cancel failure"),
                     1);
    assert_int_equal(log_count(p, "LuaPender: cancel completed"), 1);
    assert_int_equal(log_count(p, "completed twice|already completed"), 0);

    /* the driver keeps serving */
    assert_int_equal(kx_client_write(c, h, 0, "ok", 2, 0, &info), STATUS_SUCCESS);
    assert_int_equal(info, 2);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    assert_int_equal(kx_client_unload(c, "org.kx.test.LuaPender", 0), STATUS_SUCCESS);
    free(kext);
    kx_client_disconnect(c);
}

static void test_cancel_in_host_process(void **state)
{
    run_cancel(*state);
}
static void test_cancel_in_process(void **state)
{
    run_cancel(*state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cancel_in_host_process, lua_setup_host, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_cancel_in_process, lua_setup_inproc, kxd_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
