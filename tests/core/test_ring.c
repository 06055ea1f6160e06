/* test_ring.c — the shared-memory ring in one process: round trips, wrap-around,
 * back-pressure, batches, bulk payloads, deadlines, a closing peer, and a peer
 * that writes nonsense into the shared indices and headers (an error naming
 * the ring, never a crash or a read out of bounds: run under ASan). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ring_fixture.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>

static void pair(struct kx_ring **a, struct kx_ring **b, uint32_t ring_bytes, uint32_t bulk_bytes)
{
    assert_int_equal(t_ring_pair("test", ring_bytes, bulk_bytes, a, b), 0);
}

static void test_ring_round_trip_both_ways(void **state)
{
    (void)state;
    struct kx_ring *a, *b;
    pair(&a, &b, 0, 0);
    assert_int_equal(kx_ring_send(a, 7, 42, "hello", 5, KX_RING_NOWAIT), STATUS_SUCCESS);
    assert_int_equal(kx_ring_send(a, 8, 43, NULL, 0, KX_RING_NOWAIT), STATUS_SUCCESS);
    struct kx_ring_rec rec[4];
    size_t n;
    /* Nothing is visible before the commit. */
    assert_int_equal(kx_ring_recv(b, rec, 4, &n, KX_RING_NOWAIT), STATUS_TIMEOUT);
    assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
    assert_int_equal(kx_ring_recv(b, rec, 4, &n, t_deadline()), STATUS_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(rec[0].type, 7);
    assert_int_equal(rec[0].id, 42);
    assert_int_equal(rec[0].len, 5);
    assert_memory_equal(rec[0].data, "hello", 5);
    assert_int_equal(rec[1].type, 8);
    assert_int_equal(rec[1].len, 0);
    kx_ring_release(b);
    assert_int_equal(kx_ring_send(b, 9, 44, "back", 4, KX_RING_NOWAIT), STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(b), STATUS_SUCCESS);
    assert_int_equal(kx_ring_recv(a, rec, 4, &n, t_deadline()), STATUS_SUCCESS);
    assert_int_equal(n, 1);
    assert_memory_equal(rec[0].data, "back", 4);
    kx_ring_release(a);
    assert_string_equal(kx_ring_error(a), "");
    kx_ring_close(a);
    kx_ring_close(b);
}

/* Records of every length up to 600 bytes through a 4 KiB ring for many laps:
 * each wrap writes a pad record, and every byte arrives as sent. */
static void test_ring_wraps_around(void **state)
{
    (void)state;
    struct kx_ring *a, *b;
    pair(&a, &b, 4096, 0);
    uint8_t buf[600];
    uint64_t sent = 0, got = 0;
    while (got < 5000) {
        for (int k = 0; k < 3; k++, sent++) {
            size_t len = t_payload(1, sent, sizeof buf, buf);
            assert_int_equal(kx_ring_send(a, 1, sent, buf, len, t_deadline()), STATUS_SUCCESS);
        }
        assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
        struct kx_ring_rec rec[8];
        size_t n;
        while (got < sent) {
            assert_int_equal(kx_ring_recv(b, rec, 8, &n, t_deadline()), STATUS_SUCCESS);
            for (size_t i = 0; i < n; i++, got++) {
                size_t len = t_payload(1, got, sizeof buf, buf);
                assert_int_equal(rec[i].id, got);
                assert_int_equal(rec[i].len, len);
                assert_memory_equal(rec[i].data, buf, len);
            }
            kx_ring_release(b);
        }
    }
    assert_true(atomic_load(&kx_ring_shared(a)->dir[0].tail) > 20 * 4096u);
    kx_ring_close(a);
    kx_ring_close(b);
}

/* A full ring refuses at once without a deadline, times out with one, and
 * takes more once the consumer releases. */
static void test_ring_full_pushes_back(void **state)
{
    (void)state;
    struct kx_ring *a, *b;
    pair(&a, &b, 4096, 0);
    uint8_t buf[100] = {0};
    int fitted = 0;
    kx_status st;
    while ((st = kx_ring_send(a, 1, (uint64_t)fitted, buf, sizeof buf, KX_RING_NOWAIT)) ==
           STATUS_SUCCESS)
        fitted++;
    assert_int_equal(st, STATUS_TIMEOUT);
    assert_int_equal(fitted, 4096 / 128);
    assert_int_equal(kx_ring_send(a, 1, 0, buf, sizeof buf, kx_plat_monotonic_ns() + 1000000),
                     STATUS_TIMEOUT);
    /* The refused reserve committed what was reserved: it is all there. */
    struct kx_ring_rec rec[64];
    size_t n;
    assert_int_equal(kx_ring_recv(b, rec, 64, &n, KX_RING_NOWAIT), STATUS_SUCCESS);
    assert_int_equal(n, (size_t)fitted);
    assert_int_equal(kx_ring_send(a, 1, 0, buf, sizeof buf, KX_RING_NOWAIT), STATUS_TIMEOUT);
    kx_ring_release(b);
    assert_int_equal(kx_ring_send(a, 1, 0, buf, sizeof buf, KX_RING_NOWAIT), STATUS_SUCCESS);
    kx_ring_close(a);
    kx_ring_close(b);
}

struct drain {
    struct kx_ring *r;
    uint64_t want, got;
    kx_status st;
};

static void *drain_slowly(void *arg)
{
    struct drain *d = arg;
    while (d->got < d->want) {
        struct kx_ring_rec rec[4];
        size_t n;
        d->st = kx_ring_recv(d->r, rec, 4, &n, t_deadline());
        if (d->st != STATUS_SUCCESS)
            return NULL;
        for (size_t i = 0; i < n; i++)
            if (rec[i].id != d->got++)
                d->st = STATUS_DATA_ERROR;
        kx_ring_release(d->r);
        if (d->got % 64 == 0)
            t_sleep_ms(1);
    }
    return NULL;
}

/* A producer that outruns its consumer waits for room, without spinning or
 * with, and loses nothing. */
static void test_ring_producer_waits_for_room(void **state)
{
    (void)state;
    for (int spin = 0; spin < 2; spin++) {
        struct kx_ring *a, *b;
        pair(&a, &b, 4096, 0);
        kx_ring_set_spin(a, spin ? 20000 : 0);
        struct drain d = {b, 3000, 0, STATUS_SUCCESS};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, drain_slowly, &d), 0);
        uint8_t buf[200] = {0};
        for (uint64_t i = 0; i < d.want; i++)
            assert_int_equal(kx_ring_send(a, 1, i, buf, sizeof buf, t_deadline()), STATUS_SUCCESS);
        assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
        pthread_join(t, NULL);
        assert_int_equal(d.st, STATUS_SUCCESS);
        assert_int_equal(d.got, d.want);
        kx_ring_close(a);
        kx_ring_close(b);
    }
}

/* 32 records and one commit: the consumer takes them in one call. */
static void test_ring_batch_arrives_whole(void **state)
{
    (void)state;
    struct kx_ring *a, *b;
    pair(&a, &b, 0, 0);
    for (uint64_t i = 0; i < 32; i++) {
        void *p;
        assert_int_equal(kx_ring_reserve(a, 3, i, 64, KX_RING_NOWAIT, &p), STATUS_SUCCESS);
        memset(p, (int)i, 64);
    }
    assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
    struct kx_ring_rec rec[64];
    size_t n;
    assert_int_equal(kx_ring_recv(b, rec, 64, &n, t_deadline()), STATUS_SUCCESS);
    assert_int_equal(n, 32);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rec[i].id, i);
        assert_int_equal(((const uint8_t *)rec[i].data)[63], (uint8_t)i);
    }
    /* A smaller max leaves the rest for the next call. */
    kx_ring_release(b);
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(kx_ring_send(a, 3, i, NULL, 0, KX_RING_NOWAIT), STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
    assert_int_equal(kx_ring_recv(b, rec, 3, &n, KX_RING_NOWAIT), STATUS_SUCCESS);
    assert_int_equal(n, 3);
    assert_int_equal(kx_ring_recv(b, rec, 3, &n, KX_RING_NOWAIT), STATUS_SUCCESS);
    assert_int_equal(n, 2);
    assert_int_equal(rec[1].id, 4);
    kx_ring_close(a);
    kx_ring_close(b);
}

/* Large payloads travel in the bulk area, written in place, and wrap it. */
static void test_ring_bulk_payloads(void **state)
{
    (void)state;
    struct kx_ring *a, *b;
    pair(&a, &b, 4096, 64 << 10);
    static uint8_t want[30000];
    for (uint64_t i = 0; i < 40; i++) {
        size_t len =
            KX_RING_INLINE_MAX + 1 + (size_t)(t_mix(i) % (sizeof want - KX_RING_INLINE_MAX));
        for (size_t k = 0; k < len; k++)
            want[k] = (uint8_t)(i + k * 7);
        void *p;
        assert_int_equal(kx_ring_reserve(a, 5, i, len, t_deadline(), &p), STATUS_SUCCESS);
        memcpy(p, want, len);
        assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
        struct kx_ring_rec rec[2];
        size_t n;
        assert_int_equal(kx_ring_recv(b, rec, 2, &n, t_deadline()), STATUS_SUCCESS);
        assert_int_equal(n, 1);
        assert_int_equal(rec[0].type, 5);
        assert_int_equal(rec[0].len, len);
        assert_memory_equal(rec[0].data, want, len);
        kx_ring_release(b);
    }
    void *p;
    assert_int_equal(kx_ring_reserve(a, 5, 0, (32 << 10) + 1, KX_RING_NOWAIT, &p),
                     STATUS_BUFFER_TOO_SMALL);
    kx_ring_close(a);
    kx_ring_close(b);
}

static void test_ring_refuses_bad_arguments(void **state)
{
    (void)state;
    struct kx_ring *a, *b;
    struct kx_ring_config cfg = {5000, 0};
    assert_int_equal(kx_ring_create("x", &cfg, &a), STATUS_INVALID_PARAMETER);
    cfg.ring_bytes = 4096;
    cfg.bulk_bytes = 100;
    assert_int_equal(kx_ring_create("x", &cfg, &a), STATUS_INVALID_PARAMETER);
    pair(&a, &b, 4096, 0);
    void *p;
    assert_int_equal(kx_ring_reserve(a, KX_RING_TYPE_BULK, 0, 1, KX_RING_NOWAIT, &p),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_ring_reserve(a, 1, 0, 2048, KX_RING_NOWAIT, &p), STATUS_BUFFER_TOO_SMALL);
    kx_ring_close(a);
    kx_ring_close(b);
}

/* A peer that closes: what it sent arrives, then STATUS_RING_PEER_GONE, for
 * the consumer and for a producer alike. */
static void test_ring_closed_peer_is_reported_after_its_records(void **state)
{
    (void)state;
    struct kx_ring *a, *b;
    pair(&a, &b, 0, 0);
    for (uint64_t i = 0; i < 3; i++)
        assert_int_equal(kx_ring_send(b, 1, i, NULL, 0, KX_RING_NOWAIT), STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(b), STATUS_SUCCESS);
    kx_ring_close(b);
    struct kx_ring_rec rec[8];
    size_t n;
    assert_int_equal(kx_ring_recv(a, rec, 8, &n, t_deadline()), STATUS_SUCCESS);
    assert_int_equal(n, 3);
    kx_ring_release(a);
    assert_int_equal(kx_ring_recv(a, rec, 8, &n, KX_RING_FOREVER), STATUS_RING_PEER_GONE);
    assert_int_equal(kx_ring_send(a, 1, 0, NULL, 0, KX_RING_FOREVER), STATUS_RING_PEER_GONE);
    kx_ring_close(a);
}

static void *lose_peer_later(void *arg)
{
    t_sleep_ms(20);
    kx_ring_peer_lost(arg);
    return NULL;
}

/* A waiter with no deadline is woken by kx_ring_peer_lost from another thread,
 * and a deadline ends a wait with STATUS_TIMEOUT. */
static void test_ring_waits_end(void **state)
{
    (void)state;
    struct kx_ring *a, *b;
    pair(&a, &b, 0, 0);
    struct kx_ring_rec rec[1];
    size_t n;
    assert_int_equal(kx_ring_recv(a, rec, 1, &n, kx_plat_monotonic_ns() + 5000000), STATUS_TIMEOUT);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, lose_peer_later, a), 0);
    assert_int_equal(kx_ring_recv(a, rec, 1, &n, KX_RING_FOREVER), STATUS_RING_PEER_GONE);
    pthread_join(t, NULL);
    kx_ring_close(a);
    kx_ring_close(b);
}

/* An event loop polls the wake descriptor of an armed ring: readable once
 * the peer commits or closes, quiet otherwise. */
static void test_ring_arms_for_an_event_loop(void **state)
{
    (void)state;
    struct kx_ring *a, *b;
    pair(&a, &b, 0, 0);
    struct pollfd p = {kx_ring_wake_fd(b), POLLIN, 0};
    assert_int_equal(kx_ring_arm(b), 0);
    assert_int_equal(poll(&p, 1, 0), 0);
    assert_int_equal(kx_ring_send(a, 1, 7, NULL, 0, KX_RING_NOWAIT), STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
    assert_int_equal(poll(&p, 1, (int)T_PATIENCE_MS), 1);
    assert_int_equal(kx_ring_arm(b), 1); /* records are there: no sleep */
    struct kx_ring_rec rec[2];
    size_t n;
    assert_int_equal(kx_ring_recv(b, rec, 2, &n, KX_RING_NOWAIT), STATUS_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(rec[0].id, 7);
    kx_ring_release(b);
    assert_int_equal(kx_ring_arm(b), 0); /* and the consumed wake-up is gone */
    assert_int_equal(poll(&p, 1, 0), 0);
    kx_ring_close(a);
    assert_int_equal(poll(&p, 1, (int)T_PATIENCE_MS), 1);
    assert_int_equal(kx_ring_arm(b), 1);
    assert_int_equal(kx_ring_recv(b, rec, 2, &n, KX_RING_NOWAIT), STATUS_RING_PEER_GONE);
    kx_ring_close(b);
}

/* ---- a hostile peer ------------------------------------------------------ */

static void expect_corrupt(struct kx_ring *r, kx_status st)
{
    assert_int_equal(st, STATUS_RING_CORRUPT);
    assert_non_null(strstr(kx_ring_error(r), "ring 'test'"));
    /* Broken for good. */
    struct kx_ring_rec rec[1];
    size_t n;
    assert_int_equal(kx_ring_recv(r, rec, 1, &n, KX_RING_NOWAIT), STATUS_RING_CORRUPT);
    assert_int_equal(kx_ring_send(r, 1, 0, NULL, 0, KX_RING_NOWAIT), STATUS_RING_CORRUPT);
}

static kx_status recv_one(struct kx_ring *r)
{
    struct kx_ring_rec rec[4];
    size_t n;
    return kx_ring_recv(r, rec, 4, &n, KX_RING_NOWAIT);
}

/* The header of side 0's first record, in shared memory. */
static struct kx_ring_rec_hdr *first_hdr(struct kx_ring *a)
{
    return (struct kx_ring_rec_hdr *)((uint8_t *)kx_ring_shared(a) + KX_RING_HDR_BYTES);
}

static void test_ring_tail_out_of_range_is_corrupt(void **state)
{
    (void)state;
    static const uint64_t tails[] = {4096 + 16, 8, UINT64_MAX - 15};
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        struct kx_ring *a, *b;
        pair(&a, &b, 4096, 0);
        atomic_store(&kx_ring_shared(a)->dir[0].tail, tails[i]);
        expect_corrupt(b, recv_one(b));
        kx_ring_close(a);
        kx_ring_close(b);
    }
}

static void test_ring_record_length_out_of_range_is_corrupt(void **state)
{
    (void)state;
    static const uint32_t lens[] = {UINT32_MAX - 8, 4096, 100};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        struct kx_ring *a, *b;
        pair(&a, &b, 4096, 0);
        assert_int_equal(kx_ring_send(a, 1, 0, "x", 1, KX_RING_NOWAIT), STATUS_SUCCESS);
        assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
        first_hdr(a)->len = lens[i]; /* longer than what was published */
        expect_corrupt(b, recv_one(b));
        kx_ring_close(a);
        kx_ring_close(b);
    }
}

static void test_ring_bad_pad_is_corrupt(void **state)
{
    (void)state;
    struct kx_ring *a, *b;
    pair(&a, &b, 4096, 0);
    assert_int_equal(kx_ring_send(a, 1, 0, "x", 1, KX_RING_NOWAIT), STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
    first_hdr(a)->type = KX_RING_TYPE_PAD; /* a pad that doesn't reach the end */
    expect_corrupt(b, recv_one(b));
    kx_ring_close(a);
    kx_ring_close(b);

    /* A pad with nothing after it: lap after lap of them would keep the
     * receiver busy forever. */
    pair(&a, &b, 4096, 0);
    first_hdr(a)->type = KX_RING_TYPE_PAD;
    first_hdr(a)->len = 4096 - sizeof(struct kx_ring_rec_hdr);
    atomic_store(&kx_ring_shared(a)->dir[0].tail, 4096);
    expect_corrupt(b, recv_one(b));
    assert_non_null(strstr(kx_ring_error(b), "pad record at 0"));
    kx_ring_close(a);
    kx_ring_close(b);
}

static void test_ring_bulk_reference_out_of_range_is_corrupt(void **state)
{
    (void)state;
    static const uint64_t poss[] = {64 << 10, (64 << 10) - 100, UINT64_MAX - 2000};
    for (size_t i = 0; i < sizeof poss / sizeof *poss; i++) {
        struct kx_ring *a, *b;
        pair(&a, &b, 4096, 64 << 10);
        void *p;
        assert_int_equal(kx_ring_reserve(a, 1, 0, 2000, KX_RING_NOWAIT, &p), STATUS_SUCCESS);
        assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
        struct kx_ring_bulk_ref ref = {poss[i], 2000, 0};
        memcpy(first_hdr(a) + 1, &ref, sizeof ref);
        expect_corrupt(b, recv_one(b));
        kx_ring_close(a);
        kx_ring_close(b);
    }
    /* A bulk record in a ring without a bulk area. */
    struct kx_ring *a, *b;
    pair(&a, &b, 4096, 0);
    static const uint8_t zeros[16];
    assert_int_equal(kx_ring_send(a, 1, 0, zeros, 16, KX_RING_NOWAIT), STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
    first_hdr(a)->type |= KX_RING_TYPE_BULK;
    first_hdr(a)->len = 16;
    expect_corrupt(b, recv_one(b));
    kx_ring_close(a);
    kx_ring_close(b);
}

/* The consumer's head moved backwards, or past what was published: the
 * producer notices when it next needs room. */
static void test_ring_head_out_of_range_is_corrupt(void **state)
{
    (void)state;
    static const uint64_t heads[] = {8192, UINT64_MAX - 15};
    for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
        struct kx_ring *a, *b;
        pair(&a, &b, 4096, 0);
        uint8_t buf[100] = {0};
        kx_status st;
        while ((st = kx_ring_send(a, 1, 0, buf, sizeof buf, KX_RING_NOWAIT)) == STATUS_SUCCESS)
            ;
        assert_int_equal(st, STATUS_TIMEOUT);
        atomic_store(&kx_ring_shared(a)->dir[0].head, heads[i]);
        expect_corrupt(a, kx_ring_send(a, 1, 0, buf, sizeof buf, KX_RING_NOWAIT));
        kx_ring_close(a);
        kx_ring_close(b);
    }
}

/* A region that isn't a ring, or whose size isn't sealed, is refused with a
 * message naming the ring. */
static void test_ring_attach_checks_the_region(void **state)
{
    (void)state;
    struct kx_ring *a, *b;
    int sv[2];
    char *why = NULL;
    assert_int_equal(t_ring_make("test", 4096, 0, &a, sv), 0);
    kx_ring_shared(a)->magic = 0x12345678;
    assert_int_equal(kx_ring_attach_socket("test", sv[1], &b, &why), STATUS_RING_CORRUPT);
    assert_non_null(why);
    assert_non_null(strstr(why, "ring 'test': magic 0x12345678"));
    free(why);
    kx_ring_shared(a)->magic = KX_RING_MAGIC;
    kx_ring_shared(a)->ring_bytes = 8192;
    assert_int_equal(kx_ring_send_fds(a, sv[0]), STATUS_SUCCESS);
    assert_int_equal(kx_ring_attach_socket("test", sv[1], &b, &why), STATUS_RING_CORRUPT);
    assert_non_null(strstr(why, "don't make a region"));
    free(why);
    kx_ring_close(a);
    close(sv[0]);
    close(sv[1]);

    /* A message that isn't a ring's: the descriptors that came are closed. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    assert_int_equal(write(sv[0], "hello", 5), 5);
    assert_int_equal(kx_ring_attach_socket("test", sv[1], &b, &why), STATUS_PROTOCOL_ERROR);
    close(sv[0]);
    assert_int_equal(kx_ring_attach_socket("test", sv[1], &b, &why), STATUS_CONNECTION_LOST);
    close(sv[1]);

    /* An unsealed memfd could shrink under us: not mapped at all. */
    int fd = memfd_create("not-sealed", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1 << 16), 0);
    assert_int_equal(kx_ring_attach("test", fd, -1, -1, &b, &why), STATUS_ACCESS_DENIED);
    assert_non_null(strstr(why, "ring 'test': the region is not a memfd sealed"));
    free(why);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_round_trip_both_ways),
        cmocka_unit_test(test_ring_wraps_around),
        cmocka_unit_test(test_ring_full_pushes_back),
        cmocka_unit_test(test_ring_producer_waits_for_room),
        cmocka_unit_test(test_ring_batch_arrives_whole),
        cmocka_unit_test(test_ring_bulk_payloads),
        cmocka_unit_test(test_ring_refuses_bad_arguments),
        cmocka_unit_test(test_ring_closed_peer_is_reported_after_its_records),
        cmocka_unit_test(test_ring_waits_end),
        cmocka_unit_test(test_ring_arms_for_an_event_loop),
        cmocka_unit_test(test_ring_tail_out_of_range_is_corrupt),
        cmocka_unit_test(test_ring_record_length_out_of_range_is_corrupt),
        cmocka_unit_test(test_ring_bad_pad_is_corrupt),
        cmocka_unit_test(test_ring_bulk_reference_out_of_range_is_corrupt),
        cmocka_unit_test(test_ring_head_out_of_range_is_corrupt),
        cmocka_unit_test(test_ring_attach_checks_the_region),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
