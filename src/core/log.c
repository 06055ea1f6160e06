/* log.c — formats a message and hands it to the owner's sink; folds
 * repeated messages for sinks that ask for it. */
#include <kx/log.h>

#include "plat.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- folding repeats -------------------------------------------------- */

struct kx_log_fold {
    struct kx_logger out;
    uint64_t every_ns;
    pthread_mutex_t lock; /* guards what follows */
    char *last;           /* the last message passed on; NULL before the first */
    enum kx_log_level last_level;
    uint64_t repeats;     /* equal messages since last was passed on or counted out */
    uint64_t said_ns;     /* when last (or its count) was passed on */
};

struct kx_log_fold *kx_log_fold_new(const struct kx_logger *out, unsigned every_ms)
{
    struct kx_log_fold *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->out = *out;
    f->every_ns = (uint64_t)every_ms * 1000000u;
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

/* Under the lock. */
static void say_repeats(struct kx_log_fold *f, uint64_t now)
{
    if (f->repeats)
        kx_log(&f->out, f->last_level, "last message repeated %llu time%s",
               (unsigned long long)f->repeats, f->repeats == 1 ? "" : "s");
    f->repeats = 0;
    f->said_ns = now;
}

void kx_log_fold_fn(void *fold, enum kx_log_level level, const char *msg)
{
    struct kx_log_fold *f = fold;
    uint64_t now = kx_plat_monotonic_ns();
    pthread_mutex_lock(&f->lock);
    if (f->last && level == f->last_level && strcmp(msg, f->last) == 0) {
        f->repeats++;
        if (now - f->said_ns >= f->every_ns)
            say_repeats(f, now);
        pthread_mutex_unlock(&f->lock);
        return;
    }
    say_repeats(f, now);
    char *copy = strdup(msg);
    free(f->last);
    f->last = copy; /* NULL when out of memory: the next message is not folded */
    f->last_level = level;
    if (f->out.fn && level <= f->out.max_level)
        f->out.fn(f->out.arg, level, msg);
    pthread_mutex_unlock(&f->lock);
}

void kx_log_fold_free(struct kx_log_fold *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    say_repeats(f, 0);
    pthread_mutex_unlock(&f->lock);
    pthread_mutex_destroy(&f->lock);
    free(f->last);
    free(f);
}
