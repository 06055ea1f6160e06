/* driver.c — a well-formed driver executable: a driver-info record, exports of
 * every visibility, versioned C-runtime imports and a library dependency. */
#include <kx/driver_info.h>
#include <string.h>

KX_DRIVER_INFO("KxFixDriver", DRIVER_TYPE_KMD, 900, "1.2.3");

#define EXPORT __attribute__((visibility("default")))

int kxfix_dep_fn(int x);
EXPORT void kxfix_maybe(void) __attribute__((weak));

EXPORT int kxfix_data = 42;

EXPORT int kxfix_driver_entry(char *dst, const char *src, size_t n)
{
    memcpy(dst, src, n); /* n is not constant: a real call to memcpy@GLIBC_2.14 */
    if (kxfix_maybe)
        kxfix_maybe();
    return kxfix_dep_fn((int)n);
}

__attribute__((visibility("protected"))) int kxfix_protected(void)
{
    return 1;
}
__attribute__((visibility("hidden"))) int kxfix_hidden(void)
{
    return 2;
}
EXPORT __attribute__((weak)) int kxfix_weak(void)
{
    return 3;
}
