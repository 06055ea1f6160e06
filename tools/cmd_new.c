/* cmd_new.c — `kx new NAME`: a driver project that builds out of the kx tree.
 *
 * Writes NAME/ with a CMakeLists.txt that finds the installed SDK (find_package(kx)) and
 * calls kx_add_kext(), an Info.plist.in with a personality on IOResources (so kxd loads it
 * at boot and on demand), the driver's C source, and a header declaring its control code
 * with CTL_CODE() for the driver and its programs to share. The version lives once, in
 * CMakeLists.txt: kx_add_kext() writes it into CFBundleVersion and the driver-info record.
 * Nothing is overwritten: an existing NAME/ is refused. --lua writes a Lua driver's
 * bundle instead (cmd_new_lua.c).
 */
#include "cli.h"
#include "verbs.h"

#include "core/plat.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: kx new NAME [--type KMD|CMD|UMD] [--identifier ID] [--dir DIR] [--lua]\n"
    "Creates DIR/NAME (DIR: the working folder), a driver project that builds with the\n"
    "installed kx SDK:  cmake -S NAME -B NAME/build && cmake --build NAME/build\n"
    "NAME: a letter, then letters and digits (it names the kext, the device and the link).\n"
    "--lua: DIR/NAME.kext, a Lua driver (NAME.sys.lua) that loads as it is, no build.\n";

static const char cmake_text[] =
    "# @NAME@ — a kx driver. Build:  cmake -S . -B build && cmake --build build\n"
    "# (with kx installed outside the default prefix, add -DCMAKE_PREFIX_PATH=<prefix>).\n"
    "# The bundle appears in build/extensions/@NAME@.kext; load it with\n"
    "#   kextload build/extensions/@NAME@.kext\n"
    "cmake_minimum_required(VERSION 3.18)\n"
    "project(@NAME@ LANGUAGES C)\n"
    "find_package(kx 0.1 REQUIRED)\n"
    "\n"
    "# VERSION is the one place to bump: it becomes CFBundleVersion and the version in\n"
    "# the driver-info record, which the loader requires to agree.\n"
    "kx_add_kext(NAME @NAME@ IDENTIFIER @ID@ VERSION 1.0.0\n"
    "            PLIST Info.plist.in SOURCES @LOWER@.c)\n";

static const char plist_text[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
    "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
    "<plist version=\"1.0\">\n"
    "<dict>\n"
    "\t<key>CFBundleDevelopmentRegion</key>\n\t<string>English</string>\n"
    "\t<key>CFBundleExecutable</key>\n\t<string>@KEXT_EXECUTABLE@</string>\n"
    "\t<key>CFBundleIdentifier</key>\n\t<string>@KEXT_IDENTIFIER@</string>\n"
    "\t<key>CFBundleInfoDictionaryVersion</key>\n\t<string>6.0</string>\n"
    "\t<key>CFBundleName</key>\n\t<string>@KEXT_NAME@</string>\n"
    "\t<key>CFBundlePackageType</key>\n\t<string>KEXT</string>\n"
    "\t<key>CFBundleShortVersionString</key>\n\t<string>@KEXT_VERSION@</string>\n"
    "\t<key>CFBundleVersion</key>\n\t<string>@KEXT_VERSION@</string>\n"
    "\t<key>IOKitPersonalities</key>\n"
    "\t<dict>\n"
    "\t\t<key>@NAME@</key>\n"
    "\t\t<dict>\n"
    "\t\t\t<key>CFBundleIdentifier</key>\n\t\t\t<string>@KEXT_IDENTIFIER@</string>\n"
    "\t\t\t<key>IOClass</key>\n\t\t\t<string>@NAME@Driver</string>\n"
    "\t\t\t<key>IOMatchCategory</key>\n\t\t\t<string>@NAME@Driver</string>\n"
    "\t\t\t<key>IOProviderClass</key>\n\t\t\t<string>IOResources</string>\n"
    "\t\t\t<key>IOResourceMatch</key>\n\t\t\t<string>IOKit</string>\n"
    "\t\t</dict>\n"
    "\t</dict>\n"
    "\t<key>OSBundleLibraries</key>\n"
    "\t<dict>\n"
    "\t\t<key>org.kx.kpi.kmdf</key>\n\t\t<string>1.0</string>\n"
    "\t\t<key>org.kx.kpi.libc</key>\n\t\t<string>1.0</string>\n"
    "\t</dict>\n"
    "\t<key>OSBundleRequired</key>\n\t<string>Root</string>\n"
    "</dict>\n"
    "</plist>\n";

static const char header_text[] =
    "/* @LOWER@_ioctl.h — @NAME@'s control codes, shared by the driver and its programs.\n"
    " * CTL_CODE() packs device type, function (0x800 and up are a driver's own), method\n"
    " * and the access a handle needs: never compute a code by hand. */\n"
    "#ifndef @UPPER@_IOCTL_H\n"
    "#define @UPPER@_IOCTL_H\n"
    "\n"
    "#include <kx/kmdf.h>\n"
    "\n"
    "/* Output: the number of bytes written to the device so far (uint64_t). */\n"
    "#define IOCTL_@UPPER@_GET_WRITTEN \\\n"
    "    CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_READ_ACCESS)\n"
    "\n"
    "#endif\n";

static const char source_text[] =
    "/* @LOWER@.c — @NAME@: \\Device\\@NAME@0 linked as /dev/@LOWER@. Reads return a\n"
    " * greeting, writes are counted, and IOCTL_@UPPER@_GET_WRITTEN returns the count. */\n"
    "#include \"@LOWER@_ioctl.h\"\n"
    "\n"
    "#include <kx/kmdf.h>\n"
    "#include <string.h>\n"
    "\n"
    "KX_DRIVER_INFO(\"@NAME@\", DRIVER_TYPE_@TYPE@, 1000, KX_KEXT_VERSION);\n"
    "\n"
    "#define DEVICE_NAME \"\\\\Device\\\\@NAME@0\"\n"
    "#define LINK_NAME   \"/dev/@LOWER@\"\n"
    "\n"
    "static const char greeting[] = \"Hello from @NAME@\\n\";\n"
    "\n"
    "struct @LOWER@_ext {\n"
    "    uint64_t written; /* the dispatch thread is the only writer */\n"
    "};\n"
    "\n"
    "static kx_status @LOWER@_open_close(PDEVICE_OBJECT dev, PIRP irp)\n"
    "{\n"
    "    (void)dev;\n"
    "    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);\n"
    "}\n"
    "\n"
    "static kx_status @LOWER@_read(PDEVICE_OBJECT dev, PIRP irp)\n"
    "{\n"
    "    (void)dev;\n"
    "    uint64_t off = irp->Parameters.Read.ByteOffset;\n"
    "    if (off >= sizeof greeting - 1)\n"
    "        return DkCompleteRequest(irp, STATUS_END_OF_FILE, 0);\n"
    "    size_t n = sizeof greeting - 1 - (size_t)off;\n"
    "    if (n > irp->Parameters.Read.Length)\n"
    "        n = irp->Parameters.Read.Length;\n"
    "    memcpy(irp->SystemBuffer, greeting + off, n);\n"
    "    return DkCompleteRequest(irp, STATUS_SUCCESS, n);\n"
    "}\n"
    "\n"
    "static kx_status @LOWER@_write(PDEVICE_OBJECT dev, PIRP irp)\n"
    "{\n"
    "    struct @LOWER@_ext *ext = dev->DeviceExtension;\n"
    "    ext->written += irp->Parameters.Write.Length;\n"
    "    return DkCompleteRequest(irp, STATUS_SUCCESS, irp->Parameters.Write.Length);\n"
    "}\n"
    "\n"
    "static kx_status @LOWER@_control(PDEVICE_OBJECT dev, PIRP irp)\n"
    "{\n"
    "    struct @LOWER@_ext *ext = dev->DeviceExtension;\n"
    "    if (irp->Parameters.DeviceIoControl.IoControlCode != IOCTL_@UPPER@_GET_WRITTEN)\n"
    "        return DkCompleteRequest(irp, STATUS_INVALID_DEVICE_REQUEST, 0);\n"
    "    if (irp->Parameters.DeviceIoControl.OutputBufferLength < sizeof ext->written)\n"
    "        return DkCompleteRequest(irp, STATUS_BUFFER_TOO_SMALL, 0);\n"
    "    memcpy(irp->SystemBuffer, &ext->written, sizeof ext->written);\n"
    "    return DkCompleteRequest(irp, STATUS_SUCCESS, sizeof ext->written);\n"
    "}\n"
    "\n"
    "static void @LOWER@_unload(PDRIVER_OBJECT drv)\n"
    "{\n"
    "    DkDeleteSymbolicLink(LINK_NAME);\n"
    "    if (drv->DeviceObject)\n"
    "        DkDeleteDevice(drv->DeviceObject);\n"
    "}\n"
    "\n"
    "KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)\n"
    "{\n"
    "    drv->MajorFunction[IRP_MJ_CREATE] = @LOWER@_open_close;\n"
    "    drv->MajorFunction[IRP_MJ_CLOSE] = @LOWER@_open_close;\n"
    "    drv->MajorFunction[IRP_MJ_READ] = @LOWER@_read;\n"
    "    drv->MajorFunction[IRP_MJ_WRITE] = @LOWER@_write;\n"
    "    drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = @LOWER@_control;\n"
    "    drv->DriverUnload = @LOWER@_unload;\n"
    "\n"
    "    PDEVICE_OBJECT dev;\n"
    "    kx_status st = DkCreateDevice(drv, DEVICE_NAME, sizeof(struct @LOWER@_ext), &dev);\n"
    "    if (st != STATUS_SUCCESS)\n"
    "        return st;\n"
    "    DkSetDeviceSecurity(dev, 0, 0, 0666);\n"
    "    st = DkCreateSymbolicLink(LINK_NAME, DEVICE_NAME);\n"
    "    if (st != STATUS_SUCCESS) {\n"
    "        DkDeleteDevice(dev);\n"
    "        return st;\n"
    "    }\n"
    "    DkPrint(\"@NAME@ is ready at \" LINK_NAME);\n"
    "    return STATUS_SUCCESS;\n"
    "}\n";

struct names {
    const char *name, *id, *type;
    char lower[64], upper[64];
};

/* The template with @NAME@, @ID@, @LOWER@, @UPPER@ and @TYPE@ filled in; other @...@
 * (kx_add_kext's own, filled at build time) stay. malloc'ed. */
static char *fill(const char *tmpl, const struct names *n)
{
    const struct {
        const char *key, *value;
    } subs[] = {{"@NAME@", n->name},
                {"@ID@", n->id},
                {"@LOWER@", n->lower},
                {"@UPPER@", n->upper},
                {"@TYPE@", n->type}};
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    for (const char *p = tmpl; *p;) {
        size_t i = 0;
        while (i < sizeof subs / sizeof *subs && strncmp(p, subs[i].key, strlen(subs[i].key)) != 0)
            i++;
        if (i < sizeof subs / sizeof *subs) {
            fputs(subs[i].value, f);
            p += strlen(subs[i].key);
        } else {
            fputc(*p++, f);
        }
    }
    fclose(f);
    return out;
}

static int write_one(const char *dir, const char *file, const char *tmpl, const struct names *n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *text = fill(tmpl, n);
    kx_status st = text ? kx_plat_write_file_atomic(path, text, strlen(text), 0644)
                        : STATUS_INSUFFICIENT_RESOURCES;
    free(text);
    if (st != STATUS_SUCCESS)
        fprintf(stderr, "kx new: %s: %s\n", path, kx_status_string(st));
    return st == STATUS_SUCCESS ? 0 : -1;
}

static int valid_name(const char *name)
{
    size_t len = strlen(name);
    if (!len || len >= 48 || !isalpha((unsigned char)name[0]))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]))
            return 0;
    return 1;
}

int kx_cmd_new(int argc, char **argv)
{
    static const struct option opts[] = {
        {"type", required_argument, NULL, 't'}, {"identifier", required_argument, NULL, 'i'},
        {"dir", required_argument, NULL, 'd'},  {"lua", no_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    struct names n = {.type = "KMD"};
    const char *dir = ".";
    char id[160], root[4096];
    int c, lua = 0;
    while ((c = getopt_long(argc, argv, "t:i:d:h", opts, NULL)) != -1) {
        switch (c) {
        case 't': n.type = optarg; break;
        case 'i': n.id = optarg; break;
        case 'd': dir = optarg; break;
        case 'l': lua = 1; break;
        case 'h': fputs(usage_text, stdout); return KX_EXIT_OK;
        default: fputs(usage_text, stderr); return KX_EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fputs(usage_text, stderr);
        return KX_EXIT_USAGE;
    }
    n.name = argv[optind];
    if (!valid_name(n.name)) {
        fprintf(stderr,
                "kx new: '%s': a driver name is a letter, then up to 46 letters and "
                "digits\n",
                n.name);
        return KX_EXIT_USAGE;
    }
    if (strcmp(n.type, "KMD") != 0 && strcmp(n.type, "CMD") != 0 && strcmp(n.type, "UMD") != 0) {
        fprintf(stderr, "kx new: --type %s: the driver types are KMD, CMD and UMD\n", n.type);
        return KX_EXIT_USAGE;
    }
    for (size_t i = 0; n.name[i]; i++) {
        n.lower[i] = (char)tolower((unsigned char)n.name[i]);
        n.upper[i] = (char)toupper((unsigned char)n.name[i]);
    }
    if (!n.id) {
        snprintf(id, sizeof id, "com.example.driver.%s", n.name);
        n.id = id;
    }
    if (lua)
        return kx__new_lua(dir, n.name, n.lower, n.id, n.type);
    snprintf(root, sizeof root, "%s/%s", dir, n.name);
    kx_status st = kx_plat_mkdir(root, 0755);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "kx new: %s: %s\n", root,
                st == STATUS_OBJECT_NAME_COLLISION ? "already exists; nothing was written"
                                                   : kx_status_string(st));
        return KX_EXIT_FAIL;
    }
    char src[80], hdr[80];
    snprintf(src, sizeof src, "%s.c", n.lower);
    snprintf(hdr, sizeof hdr, "%s_ioctl.h", n.lower);
    if (write_one(root, "CMakeLists.txt", cmake_text, &n) ||
        write_one(root, "Info.plist.in", plist_text, &n) || write_one(root, src, source_text, &n) ||
        write_one(root, hdr, header_text, &n))
        return KX_EXIT_FAIL;
    printf("Created %s: %s (%s), device \\Device\\%s0 at /dev/%s.\n"
           "Build it:  cmake -S %s -B %s/build && cmake --build %s/build\n",
           root, n.id, n.type, n.name, n.lower, root, root, root);
    return KX_EXIT_OK;
}
