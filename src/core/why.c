/* why.c — see why.h. */
#include "why.h"

#include <stdarg.h>
#include <stdio.h>

kx_status kx_why(char *why, size_t why_len, kx_status st, const char *fmt, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return st;
}
