/* plat_fault.h — the ways an injected fault ends or stops a driver host
 * process (kx/fault.h's crash, abort, exit and hang). Only a kx-host process
 * calls them: in kxd they would take every driver and client down. */
#ifndef KX_CORE_PLAT_FAULT_H
#define KX_CORE_PLAT_FAULT_H

_Noreturn void kx_plat_fault_crash(void); /* SIGSEGV, as a wild pointer would */
_Noreturn void kx_plat_fault_abort(void); /* abort(): SIGABRT */
_Noreturn void kx_plat_fault_exit(void);  /* _exit(1), no atexit handlers */
_Noreturn void kx_plat_fault_hang(void);  /* the calling thread blocks for good */

#endif /* KX_CORE_PLAT_FAULT_H */
