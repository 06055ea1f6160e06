/* test_io_host_reap.c — kx_io_reap: a thread waiting for its batches to a
 * driver in a kx-host takes the answers that have arrived itself. Every
 * completion runs exactly once whoever takes it (reaper, submitter or kxd's
 * reader); a reaper of a handle that is not open, of an in-process driver,
 * of a host without polling or of a dead host gets nothing and no harm. */
#include "store_host.h"
#include "tdrv.h"

#include "fixtures/store_driver.h"

#include <signal.h>
#include <stdatomic.h>

#define N_REQS 20000u
#define BATCH  32u
#define WINDOW 512u

/* Each request's completions, counted by request, and where they ran. */
static atomic_uint times_done[N_REQS];
static atomic_uint n_done, n_failed, n_on_reaper;
static pthread_t reaper;

static void on_done(void *arg, kx_status st, size_t info)
{
    (void)info;
    atomic_fetch_add(&times_done[(uintptr_t)arg], 1);
    if (st != STATUS_SUCCESS)
        atomic_fetch_add(&n_failed, 1);
    if (pthread_equal(pthread_self(), reaper))
        atomic_fetch_add(&n_on_reaper, 1);
    atomic_fetch_add_explicit(&n_done, 1, memory_order_release);
}

static void counts_reset(void)
{
    for (size_t i = 0; i < N_REQS; i++)
        atomic_store(&times_done[i], 0);
    atomic_store(&n_done, 0);
    atomic_store(&n_failed, 0);
    atomic_store(&n_on_reaper, 0);
    reaper = pthread_self();
}

/* Reaps once; whether every request has completed. */
static int all_done(struct host *t, size_t *reaped)
{
    size_t n = 0;
    assert_int_equal(kx_io_reap(t->io, t->h, &n), STATUS_SUCCESS);
    *reaped += n;
    return atomic_load(&n_done) == N_REQS;
}

/* N_REQS one-byte writes in batches, at most WINDOW in flight, reaping
 * while the window is full and at the end; returns the batches reaped. */
static size_t stream(struct host *t)
{
    static const char byte = 1;
    size_t reaped = 0;
    counts_reset();
    for (size_t sent = 0; sent < N_REQS; sent += BATCH) {
        struct kx_io_req reqs[BATCH];
        for (size_t i = 0; i < BATCH; i++)
            reqs[i] = (struct kx_io_req){.op = KX_IO_OP_WRITE, .in = &byte, .in_len = 1,
                                         .done = on_done, .arg = (void *)(uintptr_t)(sent + i)};
        while (sent - atomic_load(&n_done) > WINDOW) {
            size_t n = 0;
            assert_int_equal(kx_io_reap(t->io, t->h, &n), STATUS_SUCCESS);
            reaped += n;
        }
        assert_int_equal(kx_io_submit(t->io, t->h, reqs, BATCH), STATUS_SUCCESS);
    }
    T_WAIT_FOR(all_done(t, &reaped));
    for (size_t i = 0; i < N_REQS; i++)
        assert_int_equal(atomic_load(&times_done[i]), 1);
    assert_int_equal(atomic_load(&n_failed), 0);
    return reaped;
}

static void reaping_completes_each_request_once(void **state)
{
    (void)state;
    struct host t = host_start(0);
    size_t reaped = stream(&t);
    /* Whatever reaping took ran here; what it did not, ran elsewhere. */
    assert_true(reaped > 0 || atomic_load(&n_on_reaper) == 0);
    host_stop(&t);
}

static void without_polling_the_reader_takes_everything(void **state)
{
    (void)state;
    struct host t = host_start(KX_IO_HOST_NO_POLL);
    assert_int_equal(stream(&t), 0);
    assert_int_equal(atomic_load(&n_on_reaper), 0);
    host_stop(&t);
}

static void reaping_what_is_not_a_host_gets_nothing(void **state)
{
    (void)state;
    struct host t = host_start(0);
    size_t n = 7;
    assert_int_equal(kx_io_reap(t.io, t.h + 1000, &n), STATUS_INVALID_HANDLE);
    assert_int_equal(kx_io_reap(NULL, t.h, &n), STATUS_INVALID_HANDLE);
    assert_int_equal(kx_io_reap(t.io, t.h, NULL), STATUS_SUCCESS);
    kx_io_handle closed = t.h;
    assert_int_equal(kx_io_close(t.io, t.h), STATUS_SUCCESS);
    assert_int_equal(kx_io_reap(t.io, closed, &n), STATUS_INVALID_HANDLE);
    kx_io_free(t.io);

    tdrv_reset();
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *d = tdrv_new("Here");
    assert_int_equal(tdrv_start(io, d, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "\\Device\\Here0", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    n = 7;
    assert_int_equal(kx_io_reap(io, h, &n), STATUS_SUCCESS);
    assert_int_equal(n, 0);
    kx_io_close(io, h);
    kx_io_free(io);
}

/* Reaps once; whether a write now fails (the host's death was seen). */
static int death_seen(struct host *t)
{
    size_t n = 0;
    kx_status st = kx_io_reap(t->io, t->h, &n);
    assert_true(st == STATUS_SUCCESS || st == STATUS_INVALID_HANDLE);
    char b = 0;
    return kx_io_write(t->io, t->h, &b, 1, 0, 0, NULL) != STATUS_SUCCESS;
}

static void reaping_a_dead_host_gets_nothing(void **state)
{
    (void)state;
    struct host t = host_start(0);
    int32_t pid = 0;
    uint64_t address, size;
    assert_int_equal(kx_io_driver_host(t.io, t.id, &pid, &address, &size), STATUS_SUCCESS);
    assert_true(pid > 0);
    kill(pid, SIGKILL);
    /* Until the reader has seen the death, and after. */
    T_WAIT_FOR(death_seen(&t));
    size_t n = 7;
    kx_status st = kx_io_reap(t.io, t.h, &n);
    assert_true(st == STATUS_SUCCESS || st == STATUS_INVALID_HANDLE);
    if (st == STATUS_SUCCESS)
        assert_int_equal(n, 0);
    host_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reaping_completes_each_request_once),
        cmocka_unit_test(without_polling_the_reader_takes_everything),
        cmocka_unit_test(reaping_what_is_not_a_host_gets_nothing),
        cmocka_unit_test(reaping_a_dead_host_gets_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
