/* plat_dl.h — loading kext executables into the process (dlopen), the
 * platform layer's part of the loader.
 *
 * Every kext executable is opened RTLD_NOW | RTLD_LOCAL: its symbols never
 * enter the global scope, so a kext can bind only to the kernel's exported
 * KPI (global, from the kx executable) and to the libraries named in its own
 * DT_NEEDED entries — which the loader has already opened, and which glibc
 * matches by SONAME (= the library's bundle identifier). See docs/loading.md.
 */
#ifndef KX_CORE_PLAT_DL_H
#define KX_CORE_PLAT_DL_H

#include <kx/status.h>
#include <stdint.h>

/* Opens path. On failure returns STATUS_KEXT_LINK_FAILED and a malloc'ed
 * copy of the dynamic linker's message in *why (free it). */
kx_status kx_plat_dl_open(const char *path, void **handle, char **why);
void *kx_plat_dl_sym(void *handle, const char *name);
void kx_plat_dl_close(void *handle);
/* Where the object is mapped: its load base and the span of its PT_LOAD
 * segments (kextstat's Address and Size). */
kx_status kx_plat_dl_extent(void *handle, uint64_t *address, uint64_t *size);

#endif /* KX_CORE_PLAT_DL_H */
