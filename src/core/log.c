/* log.c — formats a message and hands it to the owner's sink. */
#include <kx/log.h>

#include <stdio.h>
#include <stdlib.h>

void kx_logv(const struct kx_logger *lg, enum kx_log_level level, const char *fmt, va_list ap)
{
    char small[512];
    if (!lg || !lg->fn || level > lg->max_level)
        return;
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        lg->fn(lg->arg, level, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        lg->fn(lg->arg, level, small); /* truncated beats nothing */
        return;
    }
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    lg->fn(lg->arg, level, big);
    free(big);
}

void kx_log(const struct kx_logger *lg, enum kx_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kx_logv(lg, level, fmt, ap);
    va_end(ap);
}

void kx_log_to_stderr(void *arg, enum kx_log_level level, const char *msg)
{
    static const char *const tag[] = {"error: ", "warning: ", "", "debug: "};
    const char *prefix = arg;
    fprintf(stderr, "%s%s%s%s\n", prefix ? prefix : "", prefix ? ": " : "",
            level <= KX_LOG_DEBUG ? tag[level] : "", msg);
}
