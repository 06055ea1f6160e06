/* verdictkext.c — the check fixtures of test_kernel_verdict: one source
 * built once per check the loader makes before any code runs
 * (VERDICTKEXT_MODE), so the test can load each both ways and compare.
 *   1 CheckGood        a well-formed driver: every way says it loads
 *   2 CheckNoInfo      exports DriverEntry but has no driver-info record
 *   3 CheckMismatch    its driver-info record says 9.9.9, its Info.plist 1.0.0
 *   4 CheckUndeclared  calls the RingBuffer library without declaring it
 *   5 CheckBadLib      a library kext whose driver-info record disagrees with it
 *   6 CheckBadLibUser  declares CheckBadLib, which can't load: the whole list is checked
 *   7 CheckLib         a well-formed library kext
 *   8 CheckLibUser     declares CheckLib and calls it: loads with it
 * (CheckMissingLib is CheckGood's code with a library nobody provides.)
 */
#include <kx/kmdf.h>

#if VERDICTKEXT_MODE == 4
#include "ringbuffer.h"
#endif

#define EXPORT __attribute__((visibility("default")))

#if VERDICTKEXT_MODE == 3 || VERDICTKEXT_MODE == 5
KX_DRIVER_INFO(VERDICTKEXT_NAME, DRIVER_TYPE_KMD, 500, "9.9.9");
#elif VERDICTKEXT_MODE != 2
KX_DRIVER_INFO(VERDICTKEXT_NAME, DRIVER_TYPE_KMD, 500, KX_KEXT_VERSION);
#endif

#if VERDICTKEXT_MODE == 5 || VERDICTKEXT_MODE == 7
EXPORT int badlib_answer(void);
EXPORT int badlib_answer(void)
{
    return 42;
}
#else
#if VERDICTKEXT_MODE == 6 || VERDICTKEXT_MODE == 8
int badlib_answer(void);
#endif

static void verdictkext_unload(PDRIVER_OBJECT drv)
{
    (void)drv;
}

KX_DRIVER_EXPORT kx_status DriverEntry(PDRIVER_OBJECT drv)
{
#if VERDICTKEXT_MODE == 4
    ringbuf_free(ringbuf_new(16)); /* binds the kext to the undeclared library */
#elif VERDICTKEXT_MODE == 6 || VERDICTKEXT_MODE == 8
    if (badlib_answer() != 42)
        return STATUS_DRIVER_INIT_FAILED;
#endif
    drv->DriverUnload = verdictkext_unload;
    return STATUS_SUCCESS;
}
#endif
