/* io_test.h — helpers shared by the I/O manager tests: a fresh manager,
 * driver-info records, credentials, and a log capture. */
#ifndef KX_TESTS_IO_TEST_H
#define KX_TESTS_IO_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "patience.h"

#include <kx/io.h>
#include <kx/kmdf.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const struct kx_io_cred t_root = {100, 0, 0};
static const struct kx_io_cred t_user = {200, 1000, 1000};

/* Messages the manager logged, for tests that look for a report. */
struct t_logcap {
    pthread_mutex_t lock;
    char text[8192];
};

static inline void t_logcap_fn(void *arg, enum kx_log_level level, const char *msg)
{
    struct t_logcap *c = arg;
    (void)level;
    pthread_mutex_lock(&c->lock);
    size_t n = strlen(c->text);
    snprintf(c->text + n, sizeof c->text - n, "%s\n", msg);
    pthread_mutex_unlock(&c->lock);
}

static inline int t_logcap_has(struct t_logcap *c, const char *needle)
{
    pthread_mutex_lock(&c->lock);
    int found = strstr(c->text, needle) != NULL;
    pthread_mutex_unlock(&c->lock);
    return found;
}

/* The manager's deadlines a test exercises, made short; zero fields stay
 * T_PATIENCE_MS, which no request, DriverEntry, close or routine of a test
 * meets on however loaded a machine. */
struct t_short {
    uint32_t entry_ms, unload_ms, hang_ms;
};

/* A manager for tests; cap may be NULL. A STATUS_TIMEOUT a request gets is
 * the deadline the test gave it: the default IRP deadline is never met. */
static inline struct kx_io *t_io_new_short(struct t_logcap *cap, struct t_short s)
{
    static const struct kx_logger none = {NULL, NULL, KX_LOG_DEBUG};
    struct kx_logger lg = cap ? (struct kx_logger){t_logcap_fn, cap, KX_LOG_WARN} : none;
    struct kx_io_config cfg = {
        .size = sizeof cfg,
        .logger = &lg,
        .irp_timeout_ms = T_PATIENCE_MS,
        .entry_timeout_ms = s.entry_ms ? s.entry_ms : T_PATIENCE_MS,
        .unload_timeout_ms = s.unload_ms ? s.unload_ms : T_PATIENCE_MS,
        .hang_ms = s.hang_ms ? s.hang_ms : T_PATIENCE_MS,
        .log_lines = 64,
    };
    struct kx_io *io = NULL;
    assert_int_equal(kx_io_new(&cfg, &io), STATUS_SUCCESS);
    return io;
}

static inline struct kx_io *t_io_new(struct t_logcap *cap)
{
    return t_io_new_short(cap, (struct t_short){0, 0, 0});
}

static inline struct kx_driver_info t_info(const char *name)
{
    struct kx_driver_info info = {KX_DRIVER_INFO_MAGIC, KX_DRIVER_INFO_ABI,
                                  sizeof(struct kx_driver_info), DRIVER_TYPE_KMD, 500, 0, "", ""};
    snprintf(info.name, sizeof info.name, "%s", name);
    snprintf(info.version, sizeof info.version, "1.0.0");
    return info;
}

static inline kx_status t_start(struct kx_io *io, const char *name, kx_io_entry_fn entry,
                                kx_io_driver_id *id)
{
    struct kx_driver_info info = t_info(name);
    struct kx_io_driver_params p = {sizeof p, &info, entry, NULL, 0, NULL, NULL, 0, 0};
    kx_io_driver_id dummy;
    return kx_io_driver_start(io, &p, id ? id : &dummy);
}

#endif
