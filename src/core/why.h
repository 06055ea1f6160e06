/* why.h — "return a status and say why": the error convention of readers
 * that report a one-line reason in a caller's buffer (elf.c, mkext*.c). */
#ifndef KX_CORE_WHY_H
#define KX_CORE_WHY_H

#include <kx/status.h>
#include <stddef.h>

/* Formats the reason into why (why_len bytes; both may be 0/NULL to skip)
 * and returns st, so a reader can `return kx_why(why, why_len, STATUS_X, ...)`. */
kx_status kx_why(char *why, size_t why_len, kx_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* KX_CORE_WHY_H */
