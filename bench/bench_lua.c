/* bench_lua.c — a null WRITE IRP through a Lua driver (src/lua) beside the
 * same IRP through kx's C Null driver (build/extensions/Null.kext), both
 * in-process on one manager, measured in the same run: the ratio is what
 * running a driver's handler in Lua costs per request (building the IRP
 * table, resuming the script's signal_pull loop, the guarded handler,
 * DkCompleteRequest from Lua). The Lua driver's WRITE handler is the seed's
 * null.sys.lua's, DkPrint line included, as C Null's does the same print.
 * Each line runs several rounds; best and median are printed. Run by
 * `make bench`; `bench_lua 0.1` is a quick look.
 */
#include "lua/lua_drv.h"

#include <kx/io.h>
#include <kx/kmdf.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static const char lua_null[] =
    "local tStatus = require(\"errcheck\")\n"
    "local oKMD = require(\"kmd_api\")\n"
    "local tDK = require(\"shared_structs\")\n"
    "g_tDriverInfo = { sDriverName = \"BenchLuaNull\", sDriverType = tDK.DRIVER_TYPE_KMD,\n"
    "                  nLoadPriority = 900, sVersion = \"1.0.0\" }\n"
    "local g_pDeviceObject = nil\n"
    "local function fOpenClose(pDev, pIrp) oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS) "
    "end\n"
    "local function fWrite(pDeviceObject, pIrp)\n"
    "  local nDataLength = #(pIrp.tParameters.sData or \"\")\n"
    "  oKMD.DkPrint(\"NULL: IRP_MJ_WRITE received, discarding \" .. nDataLength .. \" bytes.\")\n"
    "  oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS, nDataLength)\n"
    "end\n"
    "function DriverEntry(pDriverObject)\n"
    "  pDriverObject.tDispatch[tDK.IRP_MJ_CREATE] = fOpenClose\n"
    "  pDriverObject.tDispatch[tDK.IRP_MJ_CLOSE] = fOpenClose\n"
    "  pDriverObject.tDispatch[tDK.IRP_MJ_WRITE] = fWrite\n"
    "  local nStatus, pDev = oKMD.DkCreateDevice(pDriverObject, \"\\\\Device\\\\LuaNull0\")\n"
    "  g_pDeviceObject = pDev\n"
    "  return nStatus\n"
    "end\n"
    "while true do\n"
    "  local bOk, nSenderPid, sSignalName, p1, p2 = syscall(\"signal_pull\")\n"
    "  if sSignalName == \"driver_init\" then\n"
    "    syscall(\"signal_send\", nSenderPid, \"driver_init_complete\", DriverEntry(p1), p1)\n"
    "  elseif sSignalName == \"irp_dispatch\" then p2(g_pDeviceObject, p1) end\n"
    "end\n";

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void must(kx_status st, const char *what)
{
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "bench_lua: %s: %s\n", what, kx_status_name(st));
        exit(1);
    }
}

static double run_writes(struct kx_io *io, kx_io_handle h, uint64_t n)
{
    size_t got = 0;
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++)
        must(kx_io_write(io, h, "x", 1, 0, KX_IO_TIMEOUT_NONE, &got), "write");
    return (double)(now_ns() - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    if (scale <= 0)
        scale = 1.0;
    uint64_t n = (uint64_t)(1e5 * scale);
    struct kx_io *io;
    must(kx_io_new(NULL, &io), "kx_io_new");

    /* the C Null driver, as the loader would map it */
    const char *null_path = KX_BENCH_BUILD_DIR "/extensions/Null.kext/Contents/Linux/Null";
    void *dl = dlopen(null_path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "bench_lua: %s\n", dlerror());
        return 1;
    }
    struct kx_driver_info c_info = {KX_DRIVER_INFO_MAGIC,
                                    KX_DRIVER_INFO_ABI,
                                    sizeof(struct kx_driver_info),
                                    DRIVER_TYPE_KMD,
                                    900,
                                    0,
                                    "Null",
                                    "1.0.0"};
    struct kx_io_driver_params cp = {
        sizeof cp, &c_info, (kx_io_entry_fn)dlsym(dl, "DriverEntry"), NULL, 0, NULL, NULL, 0, 0};
    kx_io_driver_id c_id, lua_id;
    must(kx_io_driver_start(io, &cp, &c_id), "start C Null");

    /* the Lua null driver, staged as the loader stages a script */
    char script[] = "/tmp/bench_lua_XXXXXX.sys.lua";
    int fd = mkstemps(script, 8);
    if (fd < 0 || write(fd, lua_null, sizeof lua_null - 1) != (ssize_t)(sizeof lua_null - 1))
        return 1;
    close(fd);
    struct kx_driver_info lua_info;
    char why[256] = "";
    must(kx_lua_inspect(lua_null, sizeof lua_null - 1, &lua_info, why, sizeof why), why);
    must(kx_lua_stage(lua_info.name, script, why, sizeof why), why);
    unlink(script);
    struct kx_io_driver_params lp = {sizeof lp, &lua_info, kx_lua_driver_entry, NULL, 0, NULL, NULL,
                                     0,         0};
    must(kx_io_driver_start(io, &lp, &lua_id), "start the Lua null");

    const struct kx_io_cred cred = {(int32_t)getpid(), 0, 0};
    kx_io_handle hc, hl;
    must(kx_io_open(io, "/dev/null", &cred, KX_IO_ACCESS_WRITE, 0, &hc), "open /dev/null");
    must(kx_io_open(io, "\\Device\\LuaNull0", &cred, KX_IO_ACCESS_WRITE, 0, &hl),
         "open \\Device\\LuaNull0");
    run_writes(io, hc, n / 4); /* warm up both */
    run_writes(io, hl, n / 4);
    double c_ns[ROUNDS], l_ns[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) { /* interleaved: both see the same machine */
        c_ns[r] = run_writes(io, hc, n);
        l_ns[r] = run_writes(io, hl, n);
    }
    qsort(c_ns, ROUNDS, sizeof *c_ns, cmp_double);
    qsort(l_ns, ROUNDS, sizeof *l_ns, cmp_double);
    printf("bench_lua: a synchronous 1-byte WRITE, %llu per round, %d rounds (ns per IRP)\n",
           (unsigned long long)n, ROUNDS);
    printf("  %-34s %10s %10s\n", "", "best", "median");
    printf("  %-34s %10.1f %10.1f\n", "C Null (drivers/Null)", c_ns[0], c_ns[ROUNDS / 2]);
    printf("  %-34s %10.1f %10.1f\n", "Lua null (the seed's WRITE handler)", l_ns[0],
           l_ns[ROUNDS / 2]);
    printf("  Lua / C: %.2fx (best), %.2fx (median)\n", l_ns[0] / c_ns[0],
           l_ns[ROUNDS / 2] / c_ns[ROUNDS / 2]);
    kx_io_close(io, hc);
    kx_io_close(io, hl);
    kx_io_free(io);
    dlclose(dl);
    return 0;
}
