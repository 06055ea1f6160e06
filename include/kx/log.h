/* kx/log.h — where libkx's messages go.
 *
 * libkx never writes to stderr on its own: every message passes through a
 * kx_logger that its owner (kxd, the kx tool, a test) installs. A NULL logger
 * discards everything, which is what most unit tests want.
 */
#ifndef KX_LOG_H
#define KX_LOG_H

#include <kx/status.h>
#include <stdarg.h>

enum kx_log_level { KX_LOG_ERROR, KX_LOG_WARN, KX_LOG_INFO, KX_LOG_DEBUG };

typedef void (*kx_log_fn)(void *arg, enum kx_log_level level, const char *msg);

struct kx_logger {
    kx_log_fn fn;
    void *arg;
    enum kx_log_level max_level; /* messages above this level are dropped */
};

KX_API void kx_log(const struct kx_logger *lg, enum kx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
KX_API void kx_logv(const struct kx_logger *lg, enum kx_log_level level, const char *fmt,
                    va_list ap) __attribute__((format(printf, 3, 0)));

#define kx_log_error(lg, ...) kx_log((lg), KX_LOG_ERROR, __VA_ARGS__)
#define kx_log_warnx(lg, ...) kx_log((lg), KX_LOG_WARN, __VA_ARGS__)
#define kx_log_info(lg, ...) kx_log((lg), KX_LOG_INFO, __VA_ARGS__)
#define kx_log_debug(lg, ...) kx_log((lg), KX_LOG_DEBUG, __VA_ARGS__)

/* A kx_log_fn that prints "prefix: message" to stderr; arg is the prefix
 * (a const char *, may be NULL). */
KX_API void kx_log_to_stderr(void *arg, enum kx_log_level level, const char *msg);

/* A sink that folds repeats, as syslogd does, so that a failure repeated in
 * a loop costs one line, not millions: a message equal to the one before it
 * is counted instead of passed on, and the count goes out as "last message
 * repeated N times" before the next different message, or with a repeat
 * once every_ms have passed since the count was last said.
 * kx_log_fold_new copies out; NULL when out of memory. Install it as
 * {kx_log_fold_fn, fold, level}. kx_log_fold_free says what is still
 * counted, then frees. Thread-safe. */
struct kx_log_fold;
KX_API struct kx_log_fold *kx_log_fold_new(const struct kx_logger *out, unsigned every_ms);
KX_API void kx_log_fold_fn(void *fold, enum kx_log_level level, const char *msg);
KX_API void kx_log_fold_free(struct kx_log_fold *fold);

#endif /* KX_LOG_H */
