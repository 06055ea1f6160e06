/* verbs.h — the kx verbs and the Apple tool names that alias them.
 * Adding a verb: one KX_VERB line here and tools/cmd_<verb>.c. */
#ifndef KX_TOOLS_VERBS_H
#define KX_TOOLS_VERBS_H

#include <kx/status.h>

/* XX(verb, one-line help) */
#define KX_VERBS(XX)                                                                               \
    XX(check, "validate, authenticate and resolve kexts: would they load?")                        \
    XX(vers, "print canonical forms of 'vers' version strings, or compare two")                    \
    XX(load, "load kexts and their dependencies into kxd (kextload)")                              \
    XX(unload, "unload kexts, refusing while anything uses them (kextunload)")                     \
    XX(stat, "list loaded kexts in kextstat's columns (kextstat)")                                 \
    XX(ls, "list kxd's symbolic links and devices")                                                \
    XX(cat, "copy what a device returns to standard output")                                       \
    XX(write, "write data to a device and print the byte count")                                   \
    XX(ioctl, "send a device control request; print the output in hex")                            \
    XX(log, "print the kernel log")                                                                \
    XX(libs, "print the OSBundleLibraries a kext needs (kextlibs)")                                \
    XX(boot, "print the boot plan: what each phase loads, in order, and why")                      \
    XX(cache, "build, list or verify an mkext kext cache (kextcache)")                             \
    XX(match, "dry run: which personality each nub of a platform gets, and why")                   \
    XX(catalog, "list the IOCatalogue: every personality of the extensions folders")               \
    XX(ioreg, "show the I/O Registry in Apple's ioreg format (ioreg)")                             \
    XX(ioclasscount, "count the registry's instances of each class (ioclasscount)")                \
    XX(device, "add hardware to kxd's registry under an entry, or remove an entry")                \
    XX(info, "everything known about a kext: bundle, executable, verdict, kxd's state")            \
    XX(find, "list the kexts of folders that match a query (kextfind)")                            \
    XX(new, "create a driver project that builds with the installed kx SDK")                       \
    XX(mount, "ask kxd to serve its /dev links as files in a folder (FUSE)")                       \
    XX(fault, "inject faults into a device's or kext's IRPs; list or clear the rules")

/* XX(alias, verb): argv[0] names that run a verb directly. */
#define KX_ALIASES(XX)                                                                             \
    XX(kextutil, check)                                                                            \
    XX(kextload, load)                                                                             \
    XX(kextunload, unload)                                                                         \
    XX(kextstat, stat)                                                                             \
    XX(kextlibs, libs)                                                                             \
    XX(kextcache, cache)                                                                           \
    XX(kextfind, find)                                                                             \
    XX(ioreg, ioreg)                                                                               \
    XX(ioclasscount, ioclasscount)

#define KX_VERB_DECL(verb, help) int kx_cmd_##verb(int argc, char **argv);
KX_VERBS(KX_VERB_DECL)
#undef KX_VERB_DECL

/* kx new NAME --lua (cmd_new_lua.c): the Lua driver's bundle under dir. */
int kx__new_lua(const char *dir, const char *name, const char *lower, const char *id,
                const char *type);

/* kextload FILE.sys.lua (cmd_load_lua.c): the bundle synthesised for it, in *bundle. */
kx_status kx__load_lua_script(const char *script, char **bundle);

#endif
