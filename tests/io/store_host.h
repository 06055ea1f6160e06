/* store_host.h — a manager with the Store driver (fixtures/store_driver.c)
 * in a kx-host process and a handle open on \Device\Store0 for reading and
 * writing: the tests of requests to a separate host (test_io_host_bulk,
 * test_io_host_reap; their targets define TEST_KX_HOST and TEST_STORE_DRIVER). */
#ifndef KX_TESTS_IO_STORE_HOST_H
#define KX_TESTS_IO_STORE_HOST_H

#include "io_test.h"

struct host {
    struct kx_io *io;
    kx_io_driver_id id;
    kx_io_handle h;
};

static inline struct host host_start(uint32_t host_flags)
{
    static const struct kx_logger none = {NULL, NULL, KX_LOG_DEBUG};
    struct kx_io_config cfg = {.size = sizeof cfg,
                               .logger = &none,
                               .irp_timeout_ms = T_PATIENCE_MS,
                               .entry_timeout_ms = T_PATIENCE_MS,
                               .unload_timeout_ms = T_PATIENCE_MS,
                               .hang_ms = T_PATIENCE_MS,
                               .host_program = TEST_KX_HOST,
                               .host_flags = host_flags};
    struct host t = {0};
    assert_int_equal(kx_io_new(&cfg, &t.io), STATUS_SUCCESS);
    struct kx_driver_info info = t_info("Store");
    struct kx_io_driver_params p = {.size = sizeof p, .info = &info, .host_exe = TEST_STORE_DRIVER};
    assert_int_equal(kx_io_driver_start(t.io, &p, &t.id), STATUS_SUCCESS);
    assert_int_equal(kx_io_open(t.io, "\\Device\\Store0", &t_user,
                                KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE, 0, &t.h),
                     STATUS_SUCCESS);
    return t;
}

static inline void host_stop(struct host *t)
{
    kx_io_close(t->io, t->h);
    kx_io_free(t->io);
}

#endif
