/* test_lua_info.c — pre-inspection of Lua drivers (src/lua/lua_info.c):
 * g_tDriverInfo is read without running the driver's code, through the
 * driver's own aliases of shared_structs, past comments and strings that
 * look like it; anything but constants in it is refused; requires are
 * checked against the host's modules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lua/lua_drv.h"

#include <string.h>

static kx_status inspect(const char *src, struct kx_driver_info *info, char *why, size_t n)
{
    return kx_lua_inspect(src, strlen(src), info, why, n);
}

static void test_seed_shaped_info_is_read(void **state)
{
    (void)state;
    const char *src = "local tDKStructs = require(\"shared_structs\")\n"
                      "-- g_tDriverInfo = { sDriverName = \"InAComment\" }\n"
                      "local s = \"g_tDriverInfo = { sDriverName = 'InAString' }\"\n"
                      "--[[ g_tDriverInfo = { sDriverName = \"InALongComment\" } ]]\n"
                      "g_tDriverInfo = {\n"
                      "  sDriverName = \"AxisNull\", -- } a brace in a comment\n"
                      "  sDriverType = tDKStructs.DRIVER_TYPE_CMD,\n"
                      "  nLoadPriority = 900, tNested = { \"}\" },\n"
                      "  sVersion = \"1.0.0\",\n"
                      "}\n"
                      "while true do end -- never run\n";
    struct kx_driver_info info;
    char why[256] = "";
    assert_int_equal(inspect(src, &info, why, sizeof why), STATUS_SUCCESS);
    assert_string_equal(info.name, "AxisNull");
    assert_string_equal(info.version, "1.0.0");
    assert_int_equal(info.type, DRIVER_TYPE_CMD);
    assert_int_equal(info.load_priority, 900);
    assert_int_equal(info.magic, KX_DRIVER_INFO_MAGIC);
}

static void test_info_that_runs_code_is_refused(void **state)
{
    (void)state;
    struct kx_driver_info info;
    char why[256] = "";
    const char *calls = "g_tDriverInfo = { sDriverName = os.execute(\"touch /tmp/x\"), "
                        "sVersion = \"1.0\", sDriverType = \"KernelModeDriver\" }";
    assert_int_equal(inspect(calls, &info, why, sizeof why), STATUS_LUA_DRIVER_INFO_INVALID);
    assert_non_null(strstr(why, "g_tDriverInfo"));
    const char *loops = "g_tDriverInfo = { sDriverName = (function() while true do end end)(), "
                        "sVersion = \"1.0\" }";
    assert_int_equal(inspect(loops, &info, why, sizeof why), STATUS_LUA_DRIVER_INFO_INVALID);
    const char *missing = "local x = 1";
    assert_int_equal(inspect(missing, &info, why, sizeof why), STATUS_LUA_DRIVER_INFO_INVALID);
    assert_non_null(strstr(why, "no g_tDriverInfo"));
    const char *bad_type = "g_tDriverInfo = { sDriverName = \"X\", sVersion = \"1.0\", "
                           "sDriverType = \"Toaster\" }";
    assert_int_equal(inspect(bad_type, &info, why, sizeof why), STATUS_LUA_DRIVER_INFO_INVALID);
    assert_non_null(strstr(why, "sDriverType"));
}

static void test_requires_are_checked(void **state)
{
    (void)state;
    char why[256] = "";
    const char *ok = "local a = require(\"errcheck\") local b = require 'kmd_api'\n"
                     "-- require(\"ffi\") in a comment\n";
    assert_int_equal(kx_lua_check_requires(ok, strlen(ok), why, sizeof why), STATUS_SUCCESS);
    const char *bad = "local a = require(\"errcheck\")\nlocal ffi = require(\"ffi\")\n";
    assert_int_equal(kx_lua_check_requires(bad, strlen(bad), why, sizeof why),
                     STATUS_LUA_MODULE_UNKNOWN);
    assert_non_null(strstr(why, "\"ffi\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_shaped_info_is_read),
        cmocka_unit_test(test_info_that_runs_code_is_refused),
        cmocka_unit_test(test_requires_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
