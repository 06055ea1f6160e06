/* test_xport_ring.c — the driver-host transport over shared-memory rings:
 * a batch arrives whole and in order, payloads in two pieces joined; a record
 * larger than a ring record travels in pieces and is joined, with the records
 * after it still in order; a record the transport never sends makes the
 * receiver say STATUS_RING_CORRUPT and name it, after the good records before
 * it; a peer that goes reads as STATUS_CONNECTION_LOST; a poller and the
 * receiving thread take turns, each record handled once and in order, and a
 * record sent after the last poller left still wakes the receiving thread;
 * likewise a collecting sender and the receiving thread, and a record sent
 * after the collects stopped reaches the receiving thread, which slept
 * without being woken by the peer; a poller that keeps its turn without
 * polling (a host's dispatch thread in a long routine) leaves the records to
 * the receiving thread, which looks for itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../patience.h"
#include "core/xport.h"
#include "ring_fixture.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

struct pair {
    struct kx_ring *ra, *rb;
    struct kx_xport *a, *b; /* a: kxd's side 0, b: the host's side 1 */
};

static void make_pair(struct pair *p, uint32_t ring_bytes, uint32_t bulk_bytes)
{
    int sv[2];
    assert_int_equal(t_ring_make("xport", ring_bytes, bulk_bytes, &p->ra, sv), 0);
    char *why = NULL;
    assert_int_equal(kx_ring_attach_socket("xport", sv[1], &p->rb, &why), STATUS_SUCCESS);
    free(why);
    assert_int_equal(kx_xport_ring_new(p->ra, sv[0], &p->a), STATUS_SUCCESS);
    assert_int_equal(kx_xport_ring_new(p->rb, sv[1], &p->b), STATUS_SUCCESS);
}

static void free_pair(struct pair *p)
{
    p->a->ops->free(p->a);
    p->b->ops->free(p->b);
}

/* Receives on x until n records arrived, checking record i against want(i). */
static void expect_records(struct kx_xport *x, size_t n, size_t (*len_of)(size_t))
{
    struct kx_xbatch b = {0};
    size_t i = 0;
    while (i < n) {
        assert_int_equal(kx_xport_recv(x, &b), STATUS_SUCCESS);
        const struct kx_xrec *h;
        const unsigned char *p;
        while (kx_xport_next(&b, &h, &p)) {
            assert_int_equal(h->type, 7);
            assert_int_equal(h->id, i);
            assert_int_equal(h->len, len_of(i));
            for (size_t k = 0; k < h->len; k++)
                if (p[k] != (unsigned char)(i + k)) {
                    fail_msg("record %zu byte %zu", i, k);
                }
            i++;
        }
    }
    assert_int_equal(i, n);
    kx_xbatch_free(&b);
}

static unsigned char *payload(size_t i, size_t len)
{
    unsigned char *buf = malloc(len ? len : 1);
    for (size_t k = 0; k < len; k++)
        buf[k] = (unsigned char)(i + k);
    return buf;
}

static size_t small_len(size_t i)
{
    return i % 5 == 0 ? 0 : (i * 37) % 3000; /* inline and bulk, some empty */
}

static void test_a_batch_arrives_in_order(void **state)
{
    (void)state;
    struct pair p;
    make_pair(&p, 64u << 10, 256u << 10);
    struct kx_xout out[100];
    unsigned char *bufs[100];
    for (size_t i = 0; i < 100; i++) {
        size_t len = small_len(i);
        bufs[i] = payload(i, len);
        /* split in two pieces, as an IRP's message and its buffer are */
        out[i] = (struct kx_xout){{7, 0, 0, i, 0, 0, 0}, bufs[i], len / 2, bufs[i] + len / 2,
                                  len - len / 2};
    }
    assert_int_equal(kx_xport_send(p.a, out, 100), STATUS_SUCCESS);
    expect_records(p.b, 100, small_len);
    for (size_t i = 0; i < 100; i++)
        free(bufs[i]);
    free_pair(&p);
}

#define BIG ((size_t)3 << 20)

static size_t big_len(size_t i)
{
    return i == 1 ? BIG : 10;
}

static void *send_big(void *arg)
{
    struct kx_xport *x = arg;
    unsigned char *bufs[3];
    struct kx_xout out[3];
    for (size_t i = 0; i < 3; i++) {
        bufs[i] = payload(i, big_len(i));
        out[i] = (struct kx_xout){{7, 0, 0, i, 0, 0, 0}, bufs[i], big_len(i), NULL, 0};
    }
    kx_status st = kx_xport_send(x, out, 3);
    for (size_t i = 0; i < 3; i++)
        free(bufs[i]);
    return (void *)(intptr_t)st;
}

static void test_a_large_record_goes_in_pieces(void **state)
{
    (void)state;
    struct pair p;
    make_pair(&p, 16u << 10, 64u << 10); /* 16 KiB pieces: 3 MiB is 192 of them */
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, send_big, p.a), 0);
    expect_records(p.b, 3, big_len);
    void *st;
    pthread_join(t, &st);
    assert_int_equal((kx_status)(intptr_t)st, STATUS_SUCCESS);
    free_pair(&p);
}

static void test_a_bad_record_is_corruption(void **state)
{
    (void)state;
    struct pair p;
    make_pair(&p, 64u << 10, 0);
    unsigned char *buf = payload(0, 10);
    struct kx_xout good = {{7, 0, 0, 0, 0, 0, 0}, buf, 10, NULL, 0};
    assert_int_equal(kx_xport_send(p.a, &good, 1), STATUS_SUCCESS);
    /* what a host scribbling over the ring might publish */
    assert_int_equal(kx_ring_send(p.ra, 0x7777, 0, "junk", 4, KX_RING_NOWAIT), STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(p.ra), STATUS_SUCCESS);
    struct kx_xbatch b = {0};
    const struct kx_xrec *h;
    const unsigned char *pl;
    assert_int_equal(kx_xport_recv(p.b, &b), STATUS_SUCCESS); /* the good one first */
    assert_int_equal(kx_xport_next(&b, &h, &pl), 1);
    assert_int_equal(h->len, 10);
    assert_int_equal(kx_xport_next(&b, &h, &pl), 0);
    assert_int_equal(kx_xport_recv(p.b, &b), STATUS_RING_CORRUPT);
    assert_string_equal(kx_xport_error(p.b), "record type 30583 of 4 bytes where a record was due");
    assert_int_equal(kx_xport_recv(p.b, &b), STATUS_RING_CORRUPT); /* for good */
    kx_xbatch_free(&b);
    free(buf);
    free_pair(&p);
}

static void test_a_peer_that_goes_is_connection_lost(void **state)
{
    (void)state;
    struct pair p;
    make_pair(&p, 64u << 10, 0);
    p.a->ops->free(p.a);
    struct kx_xbatch b = {0};
    assert_int_equal(kx_xport_recv(p.b, &b), STATUS_CONNECTION_LOST);
    assert_string_equal(kx_xport_error(p.b), "");
    struct kx_xout o = {{7, 0, 0, 0, 0, 0, 0}, NULL, 0, NULL, 0};
    assert_int_equal(kx_xport_send(p.b, &o, 1), STATUS_CONNECTION_LOST);
    kx_xbatch_free(&b);
    p.b->ops->free(p.b);
}

#define TURN_RECORDS 3000

/* The ids handled, by whichever consumer had the turn (so log needs no lock). */
struct turns {
    struct kx_xport *x;
    uint64_t log[TURN_RECORDS + 1];
    size_t n;
    _Atomic size_t handled; /* n, for the sending thread to watch */
    _Atomic int polling, received_last;
};

static void log_batch(struct turns *t, struct kx_xbatch *b)
{
    const struct kx_xrec *h;
    const unsigned char *p;
    while (kx_xport_next(b, &h, &p)) {
        assert_true(t->n <= TURN_RECORDS);
        t->log[t->n++] = h->id;
        if (h->id == TURN_RECORDS)
            atomic_store(&t->received_last, 1);
    }
    atomic_store(&t->handled, t->n);
}

static void *turn_receiver(void *arg)
{
    struct turns *t = arg;
    struct kx_xbatch b = {0};
    while (!atomic_load(&t->received_last)) {
        kx_status st = kx_xport_recv(t->x, &b);
        assert_int_equal(st, STATUS_SUCCESS);
        log_batch(t, &b);
    }
    kx_xbatch_free(&b);
    return NULL;
}

static void *turn_poller(void *arg)
{
    struct turns *t = arg;
    struct kx_xbatch b = {0};
    t->x->ops->poll_begin(t->x);
    while (atomic_load(&t->polling)) {
        if (t->x->ops->poll(t->x, &b) == STATUS_SUCCESS) {
            log_batch(t, &b);
            t->x->ops->poll_done(t->x);
        }
    }
    t->x->ops->poll_end(t->x);
    kx_xbatch_free(&b);
    return NULL;
}

/* A sender of side b that collects what side a sent, as a submitter does
 * after each post, until told to stop. */
static void *turn_collector(void *arg)
{
    struct turns *t = arg;
    struct kx_xbatch b = {0};
    while (atomic_load(&t->polling)) {
        if (t->x->ops->collect(t->x, &b) == STATUS_SUCCESS) {
            log_batch(t, &b);
            t->x->ops->poll_done(t->x);
        }
        sched_yield();
    }
    kx_xbatch_free(&b);
    return NULL;
}

/* Sends TURN_RECORDS records while taker (a poller or a collector) and the
 * receiving thread share them, then stops the taker and sends one more, which
 * the receiving thread must get by itself (woken, or looking while unarmed).
 * Every record is handled once, in order. */
static void run_turns(void *(*taker)(void *))
{
    struct pair p;
    make_pair(&p, 64u << 10, 0);
    struct turns *t = calloc(1, sizeof *t);
    t->x = p.b;
    atomic_store(&t->polling, 1);
    pthread_t rt, tt;
    assert_int_equal(pthread_create(&rt, NULL, turn_receiver, t), 0);
    assert_int_equal(pthread_create(&tt, NULL, taker, t), 0);
    for (uint64_t i = 0; i < TURN_RECORDS; i++) {
        struct kx_xout o = {{7, 0, 0, i, 0, 0, 0}, NULL, 0, NULL, 0};
        assert_int_equal(kx_xport_send(p.a, &o, 1), STATUS_SUCCESS);
        if (i % 64 == 0)
            sched_yield();
    }
    /* Wait until every record was handled, so the taker had its share. */
    T_WAIT_FOR(atomic_load(&t->handled) == TURN_RECORDS);
    atomic_store(&t->polling, 0);
    pthread_join(tt, NULL);
    struct kx_xout last = {{7, 0, 0, TURN_RECORDS, 0, 0, 0}, NULL, 0, NULL, 0};
    assert_int_equal(kx_xport_send(p.a, &last, 1), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&t->received_last));
    assert_true(atomic_load(&t->received_last));
    pthread_join(rt, NULL);
    assert_int_equal(t->n, TURN_RECORDS + 1);
    for (size_t i = 0; i < t->n; i++)
        assert_int_equal(t->log[i], i);
    free(t);
    free_pair(&p);
}

static void test_pollers_and_the_receiver_take_turns(void **state)
{
    (void)state;
    run_turns(turn_poller);
}

static void test_collects_and_the_receiver_take_turns(void **state)
{
    (void)state;
    run_turns(turn_collector);
}

static void test_a_poller_that_keeps_its_turn_leaves_records_to_the_receiver(void **state)
{
    (void)state;
    struct pair p;
    make_pair(&p, 64u << 10, 0);
    struct turns *t = calloc(1, sizeof *t);
    t->x = p.b;
    pthread_t rt;
    assert_int_equal(pthread_create(&rt, NULL, turn_receiver, t), 0);
    /* A poller that never polls: the ring stays disarmed throughout. */
    p.b->ops->poll_begin(p.b);
    for (uint64_t i = 0; i <= TURN_RECORDS; i += TURN_RECORDS / 4) {
        struct kx_xout o = {{7, 0, 0, i, 0, 0, 0}, NULL, 0, NULL, 0};
        assert_int_equal(kx_xport_send(p.a, &o, 1), STATUS_SUCCESS);
        size_t want = i / (TURN_RECORDS / 4) + 1;
        T_WAIT_FOR(atomic_load(&t->handled) == want);
        assert_int_equal(atomic_load(&t->handled), want);
        assert_int_equal(t->log[want - 1], i);
    }
    assert_true(atomic_load(&t->received_last));
    pthread_join(rt, NULL);
    p.b->ops->poll_end(p.b);
    free(t);
    free_pair(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_batch_arrives_in_order),
        cmocka_unit_test(test_a_large_record_goes_in_pieces),
        cmocka_unit_test(test_a_bad_record_is_corruption),
        cmocka_unit_test(test_a_peer_that_goes_is_connection_lost),
        cmocka_unit_test(test_pollers_and_the_receiver_take_turns),
        cmocka_unit_test(test_collects_and_the_receiver_take_turns),
        cmocka_unit_test(test_a_poller_that_keeps_its_turn_leaves_records_to_the_receiver),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
