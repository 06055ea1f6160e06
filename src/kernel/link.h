/* link.h — the link check: which symbols a kext's executable imports, and
 * which of its declared libraries provide them.
 *
 * The seed warns that a kext that fails to declare its dependencies "will
 * probably compile, but it will not load". kx makes that exact before
 * anything runs: every undefined symbol of the executable must be exported
 * by a library the kext declares in OSBundleLibraries — a library kext's ELF
 * exports, or a kernel interface's symbol set (data/exports/<set>.exports,
 * named by the pseudo-kext's KXSymbolSet). Imports the ELF file attributes to
 * the C library (a .gnu.version_r entry naming libc.so.6 and friends) and the
 * sanitizer runtime belong to the `libc` set (org.kx.kpi.libc). Weak imports
 * may stay unresolved, as the dynamic linker allows.
 */
#ifndef KX_KERNEL_LINK_H
#define KX_KERNEL_LINK_H

#include <kx/diag.h>
#include <kx/kext.h>
#include <kx/status.h>

/* Where a kext's executable is to be read from (the kernel may hold some in
 * memory); NULL fn means kx_kext_executable. */
typedef const char *(*kx_link_exec_fn)(void *arg, struct kx_kext *k);

/* Checks k's executable against libs (its chosen direct dependencies).
 * Adds KX_D_UNRESOLVED_SYMBOLS (one per symbol, the symbol as subject) and
 * KX_D_EXECUTABLE_BAD (for DT_NEEDED names no declared library provides) to
 * diags. STATUS_SUCCESS when everything resolves, STATUS_KEXT_LINK_FAILED
 * otherwise; read errors as the platform reports them. A kext without an
 * executable passes. */
kx_status kx_link_check(struct kx_kext *k, struct kx_kext *const *libs, size_t n_libs,
                        kx_link_exec_fn exec, void *exec_arg, struct kx_diags *diags);

/* kextlibs: for each library in repo that could provide k's imports, how
 * many of them it provides. */
struct kx_link_use {
    struct kx_kext *lib;
    size_t n_symbols; /* imports found in this library (and possibly others too) */
};

struct kx_link_report {
    struct kx_link_use *uses; /* libraries providing at least one import, by identifier */
    size_t n_uses;
    size_t n_unique;   /* imports found in exactly one library */
    size_t n_missing;  /* imports found in none */
    size_t n_multiple; /* imports found in more than one */
    char **missing;    /* names of the missing imports */
    char **multiple;   /* names of the imports several libraries export */
};

kx_status kx_link_find_libraries(struct kx_kext_repo *repo, struct kx_kext *k,
                                 struct kx_link_report *out);
void kx_link_report_free(struct kx_link_report *r);

#endif /* KX_KERNEL_LINK_H */
