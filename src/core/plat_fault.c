/* plat_fault.c — the process-ending faults a kx-host process injects into
 * itself (plat_fault.h).
 *
 * The crash raises SIGSEGV rather than dereferencing NULL: the compiler may
 * drop or rearrange a deliberate NULL access, a raised signal always comes,
 * and the default action (or a sanitizer's handler) ends the process as a
 * wild pointer would.
 */
#include "plat_fault.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

_Noreturn void kx_plat_fault_crash(void)
{
    raise(SIGSEGV);
    /* A handler that returned: still end the way a crash does. */
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    _exit(128 + SIGSEGV);
}

_Noreturn void kx_plat_fault_abort(void)
{
    abort();
}

_Noreturn void kx_plat_fault_exit(void)
{
    _exit(1);
}

_Noreturn void kx_plat_fault_hang(void)
{
    for (;;)
        pause();
}
