/* test_lua_tools.c — Lua drivers through kx's tools: `kx new NAME --lua`
 * makes a bundle that kextload loads as it is; `kextload FILE.sys.lua`
 * loads a bare script through a bundle synthesised from its g_tDriverInfo
 * and says so; the LuaRingLog sample loads from the build's extensions and
 * keeps what is written; and a g_tDriverInfo whose sVersion disagrees with
 * CFBundleVersion is refused by `kx check` and by the loader alike. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lua_kext.h"
#include "server/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_kx_new_lua_loads_as_written(void **state)
{
    struct kxd_proc *p = *state;
    char *out = NULL;
    assert_int_equal(kxd_run(&out, "./kx new Greeter --lua --dir %s", p->dir), 0);
    assert_non_null(strstr(out, "a Lua driver"));
    free(out);
    assert_int_equal(kxd_run(&out, "./kx new Greeter --lua --dir %s 2>&1", p->dir), 1);
    assert_non_null(strstr(out, "already exists"));
    free(out);
    assert_int_equal(
        kxd_run(&out, "chmod -R a+rX %s && ./kextload %s/Greeter.kext 2>&1", p->dir, p->dir), 0);
    free(out);
    kx_client *c = kxd_connect(p);
    uint32_t h;
    char buf[64] = "";
    size_t got = 0;
    uint64_t info = 0;
    assert_int_equal(kx_client_open(c, "/dev/greeter", KX_ACCESS_READ | KX_ACCESS_WRITE, &h),
                     STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf - 1, 0, &got), STATUS_SUCCESS);
    assert_string_equal(buf, "Hello from Greeter\n");
    assert_int_equal(kx_client_write(c, h, 0, "abc", 3, 0, &info), STATUS_SUCCESS);
    assert_int_equal(info, 3);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    kx_client_disconnect(c);
    assert_int_equal(kxd_run(&out, "./kx log"), 0);
    KXD_ASSERT_MATCHES(out, "\\[DK\\] Greeter: 3 bytes written so far");
    free(out);
}

static void test_kextload_bare_script(void **state)
{
    struct kxd_proc *p = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/bare.sys.lua", p->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("local tStatus = require(\"errcheck\")\n"
          "local oKMD = require(\"kmd_api\")\n"
          "g_tDriverInfo = { sDriverName = \"BareLua\", sDriverType = \"KernelModeDriver\",\n"
          "                  nLoadPriority = 10, sVersion = \"2.1.0\" }\n"
          "function DriverEntry(pDrv)\n"
          "  local nStatus = oKMD.DkCreateDevice(pDrv, \"\\\\Device\\\\BareLua0\")\n"
          "  return nStatus\n"
          "end\n"
          "while true do\n"
          "  local bOk, nPid, sSig, p1 = syscall(\"signal_pull\")\n"
          "  if sSig == \"driver_init\" then\n"
          "    syscall(\"signal_send\", nPid, \"driver_init_complete\", DriverEntry(p1), p1)\n"
          "  end\n"
          "end\n",
          f);
    fclose(f);
    char *out = NULL;
    assert_int_equal(kxd_run(&out, "chmod a+r %s && ./kextload %s 2>&1", path, path), 0);
    KXD_ASSERT_MATCHES(out, "bare\\.sys\\.lua is a bare Lua driver: kx synthesised the bundle "
                            "org\\.kx\\.lua\\.BareLua \\(2\\.1\\.0\\) from its g_tDriverInfo");
    assert_non_null(strstr(out, "loaded successfully"));
    free(out);
    assert_int_equal(kxd_run(&out, "./kextstat"), 0);
    KXD_ASSERT_MATCHES(out, "org\\.kx\\.lua\\.BareLua \\(2\\.1\\.0\\)");
    free(out);
    assert_int_equal(kxd_run(&out, "./kextunload -b org.kx.lua.BareLua"), 0);
    free(out);
}

static void test_lua_ringlog_sample(void **state)
{
    struct kxd_proc *p = *state;
    char *out = NULL;
    assert_int_equal(kxd_run(&out, "./kextload -b org.kx.driver.LuaRingLog 2>&1"), 0);
    free(out);
    /* kx info and kextlibs know it for a Lua driver */
    assert_int_equal(kxd_run(&out, "./kx info extensions/LuaRingLog.kext"), 0);
    KXD_ASSERT_MATCHES(out, "ringlog\\.sys\\.lua \\(a Lua driver script\\)");
    KXD_ASSERT_MATCHES(out, "driver-info: +LuaRingLog, version 1\\.0\\.0, load priority 800");
    free(out);
    assert_int_equal(kxd_run(&out, "./kextlibs extensions/LuaRingLog.kext"), 0);
    assert_non_null(strstr(out, "is a Lua driver: it links against no library"));
    free(out);
    kx_client *c = kxd_connect(p);
    uint32_t h;
    uint64_t info = 0;
    char buf[16] = "";
    size_t got = 0;
    assert_int_equal(kx_client_open(c, "/dev/lualog", KX_ACCESS_READ | KX_ACCESS_WRITE, &h),
                     STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 0, "one ", 4, 0, &info), STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 0, "two", 3, 0, &info), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, 7);
    assert_memory_equal(buf, "one two", 7);
    assert_int_equal(kx_client_read(c, h, 4, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, 3);
    assert_memory_equal(buf, "two", 3);
    assert_int_equal(kx_client_read(c, h, 7, buf, sizeof buf, 0, &got), STATUS_END_OF_FILE);
    /* IOCTL_LUALOG_CLEAR: CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_WRITE_ACCESS)
     */
    assert_int_equal(kx_client_ioctl(c, h, 0x22A000u, NULL, 0, NULL, 0, 0, &got), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf, 0, &got), STATUS_END_OF_FILE);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

static void test_version_mismatch_refused_by_check_and_loader(void **state)
{
    struct kxd_proc *p = *state;
    char *kext = lua_kext_make(p->dir, "LuaSkew", "skew.sys.lua", "2.0.0",
                               "g_tDriverInfo = { sDriverName = \"LuaSkew\", "
                               "sDriverType = \"KernelModeDriver\", sVersion = \"1.0.0\" }\n");
    assert_non_null(kext);
    char *out = NULL;
    assert_true(kxd_run(&out, "./kx check %s 2>&1", kext) != 0);
    KXD_ASSERT_MATCHES(out, "driver-info record says 1\\.0\\.0, Info\\.plist says 2\\.0\\.0");
    free(out);
    kx_client *c = kxd_connect(p);
    assert_int_equal(kx_client_load(c, kext, 0), STATUS_KEXT_VALIDATION_FAILED);
    KXD_ASSERT_MATCHES(kx_client_message(c),
                       "driver-info record says 1\\.0\\.0, Info\\.plist says 2\\.0\\.0");
    kx_client_disconnect(c);
    free(kext);
}

/* A Lua kext that boots (OSBundleRequired) from the kext cache into a kx-host:
 * the script comes from the cache, passed to the host as a descriptor. */
static int cache_setup(void **state)
{
    struct kxd_proc *p = calloc(1, sizeof *p);
    const char *build = getenv("KX_BUILD_DIR");
    snprintf(p->dir, sizeof p->dir, "/tmp/kxd-lua-XXXXXX");
    if (!p || !mkdtemp(p->dir) || kxd_sh("chmod 755 %s", p->dir) != 0)
        return -1;
    snprintf(p->ext, sizeof p->ext, "%s/ext", p->dir);
    char *kext = NULL;
    if (kxd_sh("cp -a %s/extensions %s", build, p->ext) != 0 ||
        !(kext = lua_kext_make(
              p->ext, "LuaBoot", "boot.sys.lua", "1.0.0",
              "local oKMD = require(\"kmd_api\")\n"
              "g_tDriverInfo = { sDriverName = \"LuaBoot\", "
              "sDriverType = \"KernelModeDriver\", sVersion = \"1.0.0\" }\n"
              "while true do\n"
              "  local bOk, nPid, sSig, p1 = syscall(\"signal_pull\")\n"
              "  if sSig == \"driver_init\" then\n"
              "    local nStatus = oKMD.DkCreateDevice(p1, \"\\\\Device\\\\LuaBoot0\")\n"
              "    syscall(\"signal_send\", nPid, \"driver_init_complete\", nStatus, p1)\n"
              "  end\n"
              "end\n")) ||
        kxd_sh("sed -i 's|<key>CFBundleExecutable</key>|<key>OSBundleRequired</key>"
               "<string>Root</string><key>CFBundleExecutable</key>|' %s/Contents/Info.plist",
               kext) != 0 ||
        kxd_sh("%s/kx cache build --no-auth -o %s.mkext %s >/dev/null", build, p->ext, p->ext) !=
            0) {
        free(kext);
        return -1;
    }
    free(kext);
    const char *args[] = {"--host-mode", "process", NULL};
    if (kxd_start_args(p, args) != 0)
        return -1;
    *state = p;
    return 0;
}

static void test_lua_kext_boots_from_the_cache(void **state)
{
    struct kxd_proc *p = *state;
    char *log = kxd_read_log(p);
    assert_non_null(strstr(log, "local boot from the kext cache"));
    free(log);
    kx_client *c = kxd_connect(p);
    assert_true(kxd_tag_of(c, "org.kx.test.LuaBoot") != 0);
    struct kx_client_kext *ks;
    size_t n;
    int32_t pid = 0;
    assert_int_equal(kx_client_stat(c, &ks, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++)
        if (strcmp(ks[i].id, "org.kx.test.LuaBoot") == 0)
            pid = ks[i].host_pid;
    kx_client_kexts_free(ks, n);
    assert_true(pid > 0);
    char *out = NULL;
    assert_int_equal(kxd_run(&out, "KX_SOCKET=%s ./kx ls", p->socket), 0);
    assert_non_null(strstr(out, "LuaBoot0"));
    free(out);
    kx_client_disconnect(c);
}

static int cache_teardown(void **state)
{
    struct kxd_proc *p = *state;
    int rc = kxd_stop(p) == 0 ? 0 : -1;
    kxd_sh("rm -rf %s", p->dir);
    free(p);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KXD_TEST(test_kx_new_lua_loads_as_written),
        KXD_TEST(test_kextload_bare_script),
        KXD_TEST(test_lua_ringlog_sample),
        KXD_TEST(test_version_mismatch_refused_by_check_and_loader),
        cmocka_unit_test_setup_teardown(test_lua_kext_boots_from_the_cache, cache_setup,
                                        cache_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
