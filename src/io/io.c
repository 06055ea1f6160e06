/* io.c — the manager object: construction from a config, teardown in the
 * right order, and the manager's own reports.
 *
 * kx_io_new gives every field a safe value first (two-phase construction), so
 * kx_io_free can take down a half-built manager through the same path.
 */
#include "io_int.h"

#include "core/plat.h"
#include "core/plat_sync.h"
#include "core/plat_user.h"

#include <kx/kmdf.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kx_status kx_io_new(const struct kx_io_config *cfg, struct kx_io **out)
{
    if (!out || (cfg && (!cfg->size || cfg->size > sizeof *cfg)))
        return STATUS_INVALID_PARAMETER;
    *out = NULL;
    struct kx_io_config c = {sizeof c, NULL, 30000, 5000, 5000, 5000, 1024, NULL, NULL, 0, 20};
    if (cfg) {
        struct kx_io_config given = {0};
        memcpy(&given, cfg, cfg->size);
        if (given.logger)
            c.logger = given.logger;
        if (given.irp_timeout_ms)
            c.irp_timeout_ms = given.irp_timeout_ms;
        if (given.entry_timeout_ms)
            c.entry_timeout_ms = given.entry_timeout_ms;
        if (given.unload_timeout_ms)
            c.unload_timeout_ms = given.unload_timeout_ms;
        if (given.hang_ms)
            c.hang_ms = given.hang_ms;
        if (given.log_lines)
            c.log_lines = given.log_lines;
        c.host_program = given.host_program;
        if (cfg->size >= offsetof(struct kx_io_config, host_flags) + sizeof(uint32_t)) {
            c.host_user = given.host_user;
            c.host_flags = given.host_flags;
        }
        if (cfg->size >= offsetof(struct kx_io_config, host_poll_us) + sizeof(uint32_t) &&
            given.host_poll_us)
            c.host_poll_us = given.host_poll_us;
    }
    if (c.host_poll_us > KX_IO_HOST_POLL_MAX_US)
        return STATUS_INVALID_PARAMETER;
    if (c.irp_timeout_ms == KX_IO_TIMEOUT_NONE || c.entry_timeout_ms == KX_IO_TIMEOUT_NONE ||
        c.unload_timeout_ms == KX_IO_TIMEOUT_NONE)
        return STATUS_INVALID_PARAMETER;

    struct kx_io *io = aligned_alloc(64, (sizeof *io + 63) & ~(size_t)63);
    if (!io)
        return STATUS_INSUFFICIENT_RESOURCES;
    memset(io, 0, sizeof *io);
    if (c.logger)
        io->logger = *c.logger;
    io->irp_timeout_ms = c.irp_timeout_ms;
    io->entry_timeout_ms = c.entry_timeout_ms;
    io->unload_timeout_ms = c.unload_timeout_ms;
    io->hang_ms = c.hang_ms;
    io->start_ns = kx_plat_monotonic_ns();
    /* A waiter spins a few microseconds before it sleeps: enough for a
     * dispatch thread on another CPU to answer, pointless on one CPU. */
    io->spin_ns = kx_plat_ncpus() > 1 ? 20000 : 0;
    /* Referencing the Dk* table keeps kmdf.o (and so every Dk* symbol) in any
     * executable that links libkx statically; dlopen'ed drivers resolve there. */
    io->kpi = kx__kmdf_symbols;
    if (c.host_program && !(io->host_program = strdup(c.host_program))) {
        free(io);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    kx_status st = STATUS_SUCCESS;
    io->host_flags = c.host_flags;
    io->host_poll_ns =
        c.host_flags & KX_IO_HOST_NO_POLL ? 0 : (uint64_t)c.host_poll_us * 1000u;
    if (c.host_user &&
        ((st = kx_plat_user_ids(c.host_user, &io->host_uid, &io->host_gid)) != STATUS_SUCCESS ||
         !(io->host_user = strdup(c.host_user)))) {
        free(io->host_program);
        free(io);
        return st == STATUS_SUCCESS ? STATUS_INSUFFICIENT_RESOURCES : STATUS_INVALID_PARAMETER;
    }

    if (pthread_mutex_init(&io->ns_lock, NULL) || pthread_mutex_init(&io->pool_lock, NULL) ||
        pthread_mutex_init(&io->ready_lock, NULL) || pthread_mutex_init(&io->fault_lock, NULL)) {
        free(io->host_program);
        free(io->host_user);
        free(io);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if ((st = kx__pool_init(io)) != STATUS_SUCCESS ||
        (st = kx__klog_init(io, c.log_lines)) != STATUS_SUCCESS)
        goto fail;
    if ((st = kx__wd_start(io)) != STATUS_SUCCESS || (st = kx__event_init(io)) != STATUS_SUCCESS)
        goto fail;
    *out = io;
    return STATUS_SUCCESS;
fail:
    kx_io_free(io);
    return st;
}

void kx_io_free(struct kx_io *io)
{
    if (!io)
        return;
    kx__driver_unload_all(io);
    kx__event_destroy(io); /* its timer thread posts to drivers: after them */
    kx__wd_stop(io);
    /* Hosts stuck in driver code: their threads may still call back into the
     * manager, so wait for them before anything is freed. */
    for (size_t i = 0; i < io->n_zombies; i++)
        kx__host_free(io->zombies[i]);
    free(io->zombies);
    for (size_t i = 0; i < io->n_retired; i++) {
        /* A driver whose host process died keeps the remains of its
         * messenger (its reader may still be on its way out) until now. */
        if (io->retired[i].is_driver)
            kx__hostproc_free(((struct io_driver *)io->retired[i].obj)->proc);
        free(io->retired[i].obj);
    }
    free(io->retired);
    for (size_t i = 0; i < io->n_devices; i++)
        free(io->devices[i]);
    free(io->devices);
    for (size_t i = 0; i < io->n_drivers; i++)
        free(io->drivers[i]);
    free(io->drivers);
    free(io->links);
    free(io->policy);
    free(io->faults);
    kx__ftab_destroy(io);
    kx__pool_destroy(io);
    kx__klog_destroy(io);
    pthread_mutex_destroy(&io->fault_lock);
    pthread_mutex_destroy(&io->ready_lock);
    pthread_mutex_destroy(&io->pool_lock);
    pthread_mutex_destroy(&io->ns_lock);
    free(io->host_program);
    free(io->host_user);
    free(io);
}

void kx__io_report(struct kx_io *io, enum kx_log_level level, const char *source, const char *fmt,
                   ...)
{
    char text[KX_IO_LOG_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    kx__klog_add(io, source, "[IO] ", text);
    kx_log(&io->logger, level, "%s: %s", source ? source : "kx", text);
}

void kx_io_set_died_fn(struct kx_io *io, kx_io_died_fn fn, void *ctx)
{
    io->died_fn = fn;
    io->died_ctx = ctx;
}

void kx_io_set_registry(struct kx_io *io, kx_io_reg_fn fn, void *ctx)
{
    io->reg_fn = fn;
    io->reg_ctx = ctx;
}
