/* verdict.h — the one verdict on whether a resolved kext can load: every
 * check the loader makes before any of its code runs.
 *
 * The loader (loader.c), `kx check` / `kextutil -n` (through
 * kx_kext_resolution_verify) and kxd's dry runs all call kx_verdict_check, so
 * a dry run and a load can't disagree about a kext: the resolution, then for
 * every kext of the load list not yet loaded an executable for this machine,
 * its driver-info record (present when the executable exports DriverEntry,
 * and carrying CFBundleVersion), and the link check (link.c). A Lua driver
 * (a *.sys.lua executable) has g_tDriverInfo read by pre-inspection instead
 * of the ELF record, and its requires checked instead of the link. What a load
 * learns on the way (chosen libraries, the record, the UUID) is kept for it.
 */
#ifndef KX_KERNEL_VERDICT_H
#define KX_KERNEL_VERDICT_H

#include "kext/elf.h"
#include "link.h"

#include <kx/driver_info.h>

/* Everything learned about one kext before any of its code runs. */
struct kx_verdict_kext {
    struct kx_kext *kext;
    struct kx_kext **libs; /* chosen direct dependencies */
    size_t n_libs;
    struct kx_driver_info info;
    int has_entry; /* exports DriverEntry: a driver, not only a library */
    int is_lua;    /* a Lua driver (src/lua): the script is staged, not dlopen'ed */
    char uuid[KX_ELF_UUID_LEN];
};

struct kx_verdict {
    struct kx_verdict_kext *items; /* load order; kexts already loaded are absent */
    size_t n_items;
};

/* Runs every check on res (which must be loadable: the caller has reported
 * its resolution failures) and fills *out, which the caller frees with
 * kx_verdict_free even on failure. exec says where executables are read from
 * (NULL: kx_kext_executable). Problems become diagnostics in diags, every
 * kext's at once. STATUS_SUCCESS, or the first failure:
 * STATUS_KEXT_NOT_LOADABLE (no executable for this machine),
 * STATUS_KEXT_VALIDATION_FAILED (executable or driver-info record),
 * STATUS_KEXT_LINK_FAILED. */
kx_status kx_verdict_check(struct kx_kext_resolution *res, kx_link_exec_fn exec, void *exec_arg,
                           struct kx_verdict *out, struct kx_diags *diags);
void kx_verdict_free(struct kx_verdict *v);

#endif /* KX_KERNEL_VERDICT_H */
