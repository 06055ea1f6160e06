/* test_io_host_bulk.c — large requests to a driver in a kx-host process
 * cross through the bulk slots kxd shares with the host (src/io/hostbulk.c):
 * every byte of writes and reads of 4 KiB + 1 to 1 MiB arrives (and past a
 * slot's size, or on the socket transport, the ordinary way); with more
 * large requests in flight than slots the rest fall back and nothing is
 * lost; slots held by IRPs come back when the host dies; and a steady stream
 * of large requests allocates no buffers. */
#include "store_host.h"

#include "fixtures/store_driver.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#define N_SLOTS 8 /* HX_BULK_SLOTS */

static uint32_t slots_lent(struct kx_io *io)
{
    struct kx_io_pool_stats ps;
    kx_io_pool_stats(io, &ps);
    return ps.bulk_lent;
}

static uint64_t buf_mallocs(struct kx_io *io)
{
    struct kx_io_pool_stats ps;
    kx_io_pool_stats(io, &ps);
    return ps.buf_mallocs;
}

static void pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 131 + seed + (i >> 11));
}

/* A view request's answer, and a lent buffer's release. */
struct answer {
    atomic_int done, released;
    kx_status status;
    size_t info;
    unsigned char *copy; /* the bytes the view showed */
};

static void view_done(void *arg, kx_status st, size_t info, const void *out)
{
    struct answer *a = arg;
    a->status = st;
    a->info = info;
    if (out)
        memcpy(a->copy, out, info);
    atomic_store(&a->done, 1);
}

static void lent_release(void *arg)
{
    struct answer *a = arg;
    atomic_fetch_add(&a->released, 1);
}

/* Writes n bytes at off, then reads them back three ways: a synchronous
 * read, a view, and a read into a lent buffer. */
static void round_trip(struct host *t, size_t n, uint64_t off, unsigned seed)
{
    unsigned char *out = malloc(n), *in = malloc(n), *lent = malloc(n);
    assert_non_null(out);
    assert_non_null(in);
    assert_non_null(lent);
    pattern(out, n, seed);
    size_t got = 0;
    assert_int_equal(kx_io_write(t->io, t->h, out, n, off, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, n);
    memset(in, 0, n);
    assert_int_equal(kx_io_read(t->io, t->h, in, n, off, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, n);
    assert_memory_equal(in, out, n);

    struct answer a = {.copy = in};
    memset(in, 0, n);
    struct kx_io_req view = {.op = KX_IO_OP_READ, .out_len = n, .offset = off,
                             .done_view = view_done, .arg = &a};
    assert_int_equal(kx_io_submit(t->io, t->h, &view, 1), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&a.done));
    assert_int_equal(a.status, STATUS_SUCCESS);
    assert_int_equal(a.info, n);
    assert_memory_equal(in, out, n);

    struct answer l = {.copy = in};
    memset(lent, 0, n);
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out_len = n, .offset = off,
                           .done_view = view_done, .arg = &l, .out_buf = lent,
                           .out_release = lent_release, .out_release_arg = &l};
    assert_int_equal(kx_io_submit(t->io, t->h, &rd, 1), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&l.released) == 1);
    assert_int_equal(l.status, STATUS_SUCCESS);
    assert_int_equal(l.info, n);
    assert_memory_equal(lent, out, n);
    free(out);
    free(in);
    free(lent);
}

static const size_t sizes[] = {4097, 65536, 65537, 333333, (size_t)1 << 20, ((size_t)1 << 20) - 3,
                               ((size_t)1 << 20) + 1, ((size_t)2 << 20) + 5};

static void every_size(uint32_t host_flags)
{
    struct host t = host_start(host_flags);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        round_trip(&t, sizes[i], i * 4099 % 65536, (unsigned)i);
    T_WAIT_FOR(slots_lent(t.io) == 0); /* each came back with its record */
    host_stop(&t);
}

static void test_large_requests_arrive_whole_through_the_slots(void **state)
{
    (void)state;
    every_size(0);
}

static void test_large_requests_arrive_whole_over_the_socket(void **state)
{
    (void)state;
    every_size(KX_IO_HOST_SOCKET);
}

/* Requests the driver holds: each keeps its slot. */
static void hold_reads(struct host *t, struct answer *a, unsigned char **bufs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        bufs[i] = malloc(65536);
        a[i] = (struct answer){.copy = bufs[i]};
        struct kx_io_req rd = {.op = KX_IO_OP_READ, .out_len = 65536,
                               .offset = STORE_PEND_OFFSET, .timeout_ms = KX_IO_TIMEOUT_NONE,
                               .done_view = view_done, .arg = &a[i]};
        assert_int_equal(kx_io_submit(t->io, t->h, &rd, 1), STATUS_SUCCESS);
    }
}

static void test_past_the_slots_requests_fall_back_and_slots_survive_the_host(void **state)
{
    (void)state;
    struct host t = host_start(0);
    struct answer held[N_SLOTS + 2];
    unsigned char *bufs[N_SLOTS + 2];
    hold_reads(&t, held, bufs, N_SLOTS + 2);
    assert_int_equal(slots_lent(t.io), N_SLOTS); /* two went the ordinary way */
    /* With every slot held, large requests still go, byte for byte. */
    round_trip(&t, (size_t)1 << 20, 0, 7);
    round_trip(&t, 65537, 12345, 8);
    assert_int_equal(slots_lent(t.io), N_SLOTS);
    int32_t pid = 0;
    uint64_t addr, size;
    assert_int_equal(kx_io_driver_host(t.io, t.id, &pid, &addr, &size), STATUS_SUCCESS);
    assert_true(pid > 0);
    kill(pid, SIGKILL);
    for (size_t i = 0; i < N_SLOTS + 2; i++) {
        T_WAIT_FOR(atomic_load(&held[i].done));
        assert_int_equal(held[i].status, STATUS_DRIVER_PROCESS_TERMINATED);
    }
    T_WAIT_FOR(slots_lent(t.io) == 0); /* the dead host's slots, back */
    kx_io_free(t.io);
    for (size_t i = 0; i < N_SLOTS + 2; i++)
        free(bufs[i]);
}

/* After a warm-up, a stream of large writes and reads takes every buffer
 * from a slot or the cache. A watchdog tick that finds a size unused (the
 * test stalled a whole tick) trims it once; so a little slack, far fewer
 * than the requests. */
static void test_a_steady_stream_allocates_no_buffers(void **state)
{
    (void)state;
    struct host t = host_start(0);
    size_t big = (size_t)2 << 20; /* past a slot: the buffer cache's */
    unsigned char *p = malloc(big);
    assert_non_null(p);
    pattern(p, big, 3);
    size_t got;
    for (int warm = 0; warm < 2; warm++) {
        assert_int_equal(kx_io_write(t.io, t.h, p, big, 0, 0, &got), STATUS_SUCCESS);
        assert_int_equal(kx_io_read(t.io, t.h, p, big, 0, 0, &got), STATUS_SUCCESS);
    }
    uint64_t before = buf_mallocs(t.io);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(kx_io_write(t.io, t.h, p, (size_t)1 << 20, 0, 0, &got), STATUS_SUCCESS);
        assert_int_equal(kx_io_read(t.io, t.h, p, (size_t)1 << 20, 0, 0, &got), STATUS_SUCCESS);
        assert_int_equal(kx_io_write(t.io, t.h, p, big, 0, 0, &got), STATUS_SUCCESS);
        assert_int_equal(kx_io_read(t.io, t.h, p, big, 0, 0, &got), STATUS_SUCCESS);
    }
    assert_true(buf_mallocs(t.io) - before <= 4);
    /* Once the stream stops, the watchdog's trim lets the cached ones go. */
    kx_io_pool_trim(t.io);
    kx_io_pool_trim(t.io);
    assert_int_equal(kx_io_write(t.io, t.h, p, big, 0, 0, &got), STATUS_SUCCESS);
    assert_true(buf_mallocs(t.io) > before);
    free(p);
    host_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_large_requests_arrive_whole_through_the_slots),
        cmocka_unit_test(test_large_requests_arrive_whole_over_the_socket),
        cmocka_unit_test(test_past_the_slots_requests_fall_back_and_slots_survive_the_host),
        cmocka_unit_test(test_a_steady_stream_allocates_no_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
