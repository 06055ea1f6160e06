/* cmd_load_lua.c — `kextload FILE.sys.lua`: a bare Lua driver, loaded as the
 * bundle kx synthesises for it from its g_tDriverInfo (read by pre-inspection,
 * without running it): identifier org.kx.lua.<sDriverName>, CFBundleVersion =
 * sVersion, the script as CFBundleExecutable. The bundle is written to a new
 * folder under the temporary directory, readable by kxd and its hosts, and
 * stays there while the driver may be loaded (kxd reads the script again for
 * a restart). The output says so.
 */
#include "cli.h"
#include "verbs.h"

#include "core/plat.h"
#include "lua/lua_drv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char synth_plist_fmt[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
    "<plist version=\"1.0\">\n<dict>\n"
    "\t<key>CFBundleExecutable</key>\n\t<string>%s</string>\n"
    "\t<key>CFBundleIdentifier</key>\n\t<string>org.kx.lua.%s</string>\n"
    "\t<key>CFBundleInfoDictionaryVersion</key>\n\t<string>6.0</string>\n"
    "\t<key>CFBundleName</key>\n\t<string>%s</string>\n"
    "\t<key>CFBundlePackageType</key>\n\t<string>KEXT</string>\n"
    "\t<key>CFBundleVersion</key>\n\t<string>%s</string>\n"
    "\t<key>OSBundleLibraries</key>\n\t<dict>\n"
    "\t\t<key>org.kx.kpi.kmdf</key>\n\t\t<string>1.0</string>\n\t</dict>\n"
    "</dict>\n</plist>\n";

/* Plist text is XML: a name with markup in it is refused rather than escaped. */
static int plain(const char *s)
{
    return !strpbrk(s, "<>&\"'/");
}

kx_status kx__load_lua_script(const char *script, char **bundle)
{
    char why[256] = "";
    struct kx_driver_info info;
    kx_status st = kx_lua_inspect_file(script, &info, why, sizeof why);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "kextload: %s: %s\n", script, why);
        return st;
    }
    const char *base = strrchr(script, '/') ? strrchr(script, '/') + 1 : script;
    if (!plain(info.name) || !plain(info.version) || !plain(base)) {
        fprintf(stderr,
                "kextload: %s: g_tDriverInfo's name or version has characters a "
                "bundle can't carry\n",
                script);
        return STATUS_LUA_DRIVER_INFO_INVALID;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[4096], path[4300];
    snprintf(dir, sizeof dir, "%s/kx-lua-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    void *src = NULL;
    size_t len = 0;
    char *plist = NULL;
    st = mkdtemp(dir) ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
    if (st == STATUS_SUCCESS) {
        chmod(dir, 0755); /* kxd's hosts run as another user */
        snprintf(path, sizeof path, "%s/%s.kext", dir, info.name);
        *bundle = strdup(path);
        st = *bundle ? kx_plat_mkdir(path, 0755) : STATUS_INSUFFICIENT_RESOURCES;
    }
    if (st == STATUS_SUCCESS) {
        snprintf(path, sizeof path, "%s/Contents", *bundle);
        st = kx_plat_mkdir(path, 0755);
    }
    if (st == STATUS_SUCCESS) {
        snprintf(path, sizeof path, "%s/Contents/Linux", *bundle);
        st = kx_plat_mkdir(path, 0755);
    }
    if (st == STATUS_SUCCESS &&
        asprintf(&plist, synth_plist_fmt, base, info.name, info.name, info.version) < 0)
        st = STATUS_INSUFFICIENT_RESOURCES;
    if (st == STATUS_SUCCESS) {
        snprintf(path, sizeof path, "%s/Contents/Info.plist", *bundle);
        st = kx_plat_write_file_atomic(path, plist, strlen(plist), 0644);
    }
    if (st == STATUS_SUCCESS)
        st = kx_plat_read_file(script, KX_LUA_SCRIPT_MAX, &src, &len);
    if (st == STATUS_SUCCESS) {
        snprintf(path, sizeof path, "%s/Contents/Linux/%s", *bundle, base);
        st = kx_plat_write_file_atomic(path, src, len, 0644);
    }
    free(src);
    free(plist);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "kextload: %s: can't write its bundle under %s: %s\n", script, dir,
                kx_status_string(st));
        free(*bundle);
        *bundle = NULL;
        return st;
    }
    printf("%s is a bare Lua driver: kx synthesised the bundle org.kx.lua.%s (%s) from its "
           "g_tDriverInfo, at %s\n",
           script, info.name, info.version, *bundle);
    return STATUS_SUCCESS;
}
