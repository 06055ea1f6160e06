/* cmd_new_lua.c — `kx new NAME --lua`: a Lua driver (src/lua) as a ready bundle.
 *
 * A Lua driver needs no build: DIR/NAME.kext holds its Info.plist and the script
 * Contents/Linux/<name>.sys.lua, loadable at once with `kextload DIR/NAME.kext`. The
 * version is written in both places (CFBundleVersion, g_tDriverInfo.sVersion): the
 * loader refuses the bundle if they come to differ.
 */
#include "cli.h"
#include "verbs.h"

#include "core/plat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char lua_plist_fmt[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
    "<plist version=\"1.0\">\n"
    "<dict>\n"
    "\t<key>CFBundleExecutable</key>\n\t<string>%s.sys.lua</string>\n"
    "\t<key>CFBundleIdentifier</key>\n\t<string>%s</string>\n"
    "\t<key>CFBundleInfoDictionaryVersion</key>\n\t<string>6.0</string>\n"
    "\t<key>CFBundleName</key>\n\t<string>%s</string>\n"
    "\t<key>CFBundlePackageType</key>\n\t<string>KEXT</string>\n"
    "\t<key>CFBundleVersion</key>\n\t<string>1.0.0</string>\n"
    "\t<key>OSBundleLibraries</key>\n"
    "\t<dict>\n"
    "\t\t<key>org.kx.kpi.kmdf</key>\n\t\t<string>1.0</string>\n"
    "\t</dict>\n"
    "</dict>\n"
    "</plist>\n";

/* %1$s NAME, %2$s lower-case name, %3$s type (KMD, CMD, UMD). */
static const char lua_source_fmt[] =
    "-- %2$s.sys.lua — %1$s: \\Device\\%1$s0 linked as /dev/%2$s. Reads return a greeting,\n"
    "-- writes are counted and logged. kx runs it in a sandboxed Lua state (docs/lua.md).\n"
    "local tStatus = require(\"errcheck\")\n"
    "local oKMD = require(\"kmd_api\")\n"
    "local tDK = require(\"shared_structs\")\n"
    "\n"
    "-- Read by the loader without running this file; sVersion must equal CFBundleVersion.\n"
    "g_tDriverInfo = {\n"
    "  sDriverName = \"%1$s\",\n"
    "  sDriverType = tDK.DRIVER_TYPE_%3$s,\n"
    "  nLoadPriority = 1000,\n"
    "  sVersion = \"1.0.0\",\n"
    "}\n"
    "\n"
    "local DEVICE_NAME = \"\\\\Device\\\\%1$s0\"\n"
    "local LINK_NAME = \"/dev/%2$s\"\n"
    "local GREETING = \"Hello from %1$s\\n\"\n"
    "local g_pDevice = nil\n"
    "local g_nWritten = 0\n"
    "\n"
    "local function fOpenClose(pDevice, pIrp)\n"
    "  oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS)\n"
    "end\n"
    "\n"
    "local function fRead(pDevice, pIrp)\n"
    "  local nOffset = pIrp.tParameters.nOffset\n"
    "  if nOffset >= #GREETING then\n"
    "    oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_END_OF_FILE, 0)\n"
    "  else -- a string as the third argument is the data read\n"
    "    oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS, GREETING:sub(nOffset + 1))\n"
    "  end\n"
    "end\n"
    "\n"
    "local function fWrite(pDevice, pIrp)\n"
    "  local nLength = #pIrp.tParameters.sData\n"
    "  g_nWritten = g_nWritten + nLength\n"
    "  oKMD.DkPrint(\"%1$s: \" .. g_nWritten .. \" bytes written so far\")\n"
    "  oKMD.DkCompleteRequest(pIrp, tStatus.STATUS_SUCCESS, nLength)\n"
    "end\n"
    "\n"
    "function DriverUnload(pDriverObject)\n"
    "  oKMD.DkDeleteSymbolicLink(LINK_NAME)\n"
    "  oKMD.DkDeleteDevice(g_pDevice)\n"
    "  return tStatus.STATUS_SUCCESS\n"
    "end\n"
    "\n"
    "function DriverEntry(pDriverObject)\n"
    "  pDriverObject.tDispatch[tDK.IRP_MJ_CREATE] = fOpenClose\n"
    "  pDriverObject.tDispatch[tDK.IRP_MJ_CLOSE] = fOpenClose\n"
    "  pDriverObject.tDispatch[tDK.IRP_MJ_READ] = fRead\n"
    "  pDriverObject.tDispatch[tDK.IRP_MJ_WRITE] = fWrite\n"
    "  pDriverObject.fDriverUnload = DriverUnload\n"
    "  local nStatus, pDevice = oKMD.DkCreateDevice(pDriverObject, DEVICE_NAME)\n"
    "  if nStatus ~= tStatus.STATUS_SUCCESS then\n"
    "    return nStatus\n"
    "  end\n"
    "  oKMD.DkSetDeviceSecurity(pDevice, 0, 0, 438) -- 0666\n"
    "  nStatus = oKMD.DkCreateSymbolicLink(LINK_NAME, DEVICE_NAME)\n"
    "  if nStatus ~= tStatus.STATUS_SUCCESS then\n"
    "    oKMD.DkDeleteDevice(pDevice)\n"
    "    return nStatus\n"
    "  end\n"
    "  g_pDevice = pDevice\n"
    "  oKMD.DkPrint(\"%1$s is ready at \" .. LINK_NAME)\n"
    "  return tStatus.STATUS_SUCCESS\n"
    "end\n"
    "\n"
    "-- The AxisOS driver loop: kx delivers driver_init and irp_dispatch through signal_pull.\n"
    "while true do\n"
    "  local bOk, nSender, sSignal, p1, p2 = syscall(\"signal_pull\")\n"
    "  if bOk and sSignal == \"driver_init\" then\n"
    "    syscall(\"signal_send\", nSender, \"driver_init_complete\", DriverEntry(p1), p1)\n"
    "  elseif bOk and sSignal == \"irp_dispatch\" then\n"
    "    p2(g_pDevice, p1)\n"
    "  end\n"
    "end\n";

static int write_text(const char *path, const char *text)
{
    kx_status st = kx_plat_write_file_atomic(path, text, strlen(text), 0644);
    if (st != STATUS_SUCCESS)
        fprintf(stderr, "kx new: %s: %s\n", path, kx_status_string(st));
    return st == STATUS_SUCCESS ? 0 : -1;
}

int kx__new_lua(const char *dir, const char *name, const char *lower, const char *id,
                const char *type)
{
    char root[4096], path[4200];
    snprintf(root, sizeof root, "%s/%s.kext", dir, name);
    kx_status st = kx_plat_mkdir(root, 0755);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "kx new: %s: %s\n", root,
                st == STATUS_OBJECT_NAME_COLLISION ? "already exists; nothing was written"
                                                   : kx_status_string(st));
        return KX_EXIT_FAIL;
    }
    snprintf(path, sizeof path, "%s/Contents", root);
    kx_plat_mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/Contents/Linux", root);
    kx_plat_mkdir(path, 0755);
    char *plist = NULL, *source = NULL;
    int ok = asprintf(&plist, lua_plist_fmt, lower, id, name) >= 0 &&
             asprintf(&source, lua_source_fmt, name, lower, type) >= 0;
    snprintf(path, sizeof path, "%s/Contents/Info.plist", root);
    ok = ok && write_text(path, plist) == 0;
    snprintf(path, sizeof path, "%s/Contents/Linux/%s.sys.lua", root, lower);
    ok = ok && write_text(path, source) == 0;
    free(plist);
    free(source);
    if (!ok)
        return KX_EXIT_FAIL;
    printf("Created %s: %s (%s, a Lua driver), device \\Device\\%s0 at /dev/%s.\n"
           "Load it:  kextload %s\n",
           root, id, type, name, lower, root);
    return KX_EXIT_OK;
}
