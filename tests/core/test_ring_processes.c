/* test_ring_processes.c — the shared-memory ring between two processes: a forked
 * child attaches over a socket (SCM_RIGHTS) and echoes millions of records
 * checked byte by byte and by checksum; a child that dies or closes while the
 * parent waits (the wait ends with STATUS_RING_PEER_GONE, never hangs); and a
 * lost-wake-up stress with spinning off, so that every wait goes to sleep,
 * in both sleep modes (futex, and eventfd + pidfd). Every wait has a
 * deadline T_PATIENCE_MS away: a lost wake-up fails the test instead of
 * hanging it. The stress runs KX_STRESS_SECONDS seconds (3 by default). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ring_fixture.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

enum { T_DATA = 1, T_END = 2, T_SUM = 3, T_MARK = 4, T_ACK = 5 };

#define ECHO_RECORDS 2000000u
#define ECHO_WINDOW  256u /* records in flight: their bytes fit either ring */
#define INLINE_LEN   200u /* payloads below this go inline */
#define BULK_EVERY   64u  /* every 64th record is a bulk one */
#define BULK_LEN     9000u
#define SEED         0x6b78u

typedef int (*child_fn)(struct kx_ring *r, void *arg);

/* A child attached to side 1 over sv[1] runs fn; its exit status is fn's
 * result (100 if it couldn't attach). */
static pid_t spawn(int sv[2], child_fn fn, void *arg)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        struct kx_ring *r;
        int rc = 100;
        if (kx_ring_attach_socket("child", sv[1], &r, NULL) == STATUS_SUCCESS) {
            rc = fn(r, arg);
            kx_ring_close(r);
        }
        _exit(rc);
    }
    close(sv[1]);
    return pid;
}

static int child_status(pid_t pid)
{
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static uint64_t fold(uint64_t h, uint64_t id, const void *p, size_t len)
{
    const uint8_t *b = p;
    h = (h ^ id) * 0x100000001b3ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static size_t stream_payload(uint64_t i, uint8_t *buf)
{
    if (i % BULK_EVERY != BULK_EVERY - 1)
        return t_payload(SEED, i, INLINE_LEN, buf);
    uint64_t h = t_mix(SEED + i);
    size_t len = KX_RING_INLINE_MAX + 1 + (size_t)(h % (BULK_LEN - KX_RING_INLINE_MAX - 1));
    for (size_t k = 0; k < len; k++)
        buf[k] = (uint8_t)(h >> (8 * (k & 7))) ^ (uint8_t)(k >> 3);
    return len;
}

/* ---- echo with checksum ------------------------------------------------- */

/* Echoes every record until T_END, then answers T_SUM with the checksum of
 * everything it received. */
static int echo_child(struct kx_ring *r, void *arg)
{
    (void)arg;
    uint64_t h = 0xcbf29ce484222325ull, count = 0;
    for (;;) {
        struct kx_ring_rec rec[64];
        size_t n;
        if (kx_ring_recv(r, rec, 64, &n, t_deadline()) != STATUS_SUCCESS)
            return 1;
        for (size_t i = 0; i < n; i++) {
            if (rec[i].type == T_END) {
                kx_ring_release(r);
                if (kx_ring_send(r, T_SUM, count, &h, sizeof h, t_deadline()) != STATUS_SUCCESS)
                    return 2;
                return kx_ring_commit(r) == STATUS_SUCCESS ? 0 : 3;
            }
            h = fold(h, rec[i].id, rec[i].data, rec[i].len);
            count++;
            void *p;
            if (kx_ring_reserve(r, rec[i].type, rec[i].id, rec[i].len, t_deadline(), &p) !=
                STATUS_SUCCESS)
                return 4;
            memcpy(p, rec[i].data, rec[i].len);
        }
        kx_ring_release(r);
        if (kx_ring_commit(r) != STATUS_SUCCESS)
            return 5;
    }
}

static void test_ring_echoes_millions_across_processes(void **state)
{
    (void)state;
    struct kx_ring *a;
    int sv[2];
    assert_int_equal(t_ring_make("test", 64 << 10, 256 << 10, &a, sv), 0);
    pid_t pid = spawn(sv, echo_child, NULL);
    assert_int_equal(kx_ring_watch_pid(a, pid), STATUS_SUCCESS);
    static uint8_t buf[BULK_LEN];
    uint64_t h = 0xcbf29ce484222325ull, sent = 0, got = 0;
    while (got < ECHO_RECORDS) {
        for (int k = 0; k < 32 && sent < ECHO_RECORDS && sent - got < ECHO_WINDOW; k++, sent++) {
            size_t len = stream_payload(sent, buf);
            h = fold(h, sent, buf, len);
            void *p;
            assert_int_equal(kx_ring_reserve(a, T_DATA, sent, len, t_deadline(), &p),
                             STATUS_SUCCESS);
            memcpy(p, buf, len);
        }
        assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
        int must_wait = sent == ECHO_RECORDS || sent - got >= ECHO_WINDOW;
        struct kx_ring_rec rec[64];
        size_t n;
        kx_status st = kx_ring_recv(a, rec, 64, &n, must_wait ? t_deadline() : KX_RING_NOWAIT);
        if (st == STATUS_TIMEOUT && !must_wait)
            continue;
        assert_int_equal(st, STATUS_SUCCESS);
        for (size_t i = 0; i < n; i++, got++) {
            size_t len = stream_payload(got, buf);
            if (rec[i].id != got || rec[i].len != len || memcmp(rec[i].data, buf, len) != 0)
                fail_msg("record %llu came back as id %llu, %u bytes", (unsigned long long)got,
                         (unsigned long long)rec[i].id, rec[i].len);
        }
        kx_ring_release(a);
    }
    assert_int_equal(kx_ring_send(a, T_END, 0, NULL, 0, t_deadline()), STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
    struct kx_ring_rec rec[1];
    size_t n;
    assert_int_equal(kx_ring_recv(a, rec, 1, &n, t_deadline()), STATUS_SUCCESS);
    assert_int_equal(rec[0].type, T_SUM);
    assert_int_equal(rec[0].id, ECHO_RECORDS);
    uint64_t theirs;
    assert_int_equal(rec[0].len, sizeof theirs);
    memcpy(&theirs, rec[0].data, sizeof theirs);
    assert_true(theirs == h);
    kx_ring_release(a);
    assert_int_equal(child_status(pid), 0);
    kx_ring_close(a);
    close(sv[0]);
}

/* ---- a peer that goes while we wait ------------------------------------- */

enum { DIE_KILLED, DIE_CLOSED };

/* Says it is ready, then goes: killed (no chance to clean up) or closing. */
static int going_child(struct kx_ring *r, void *arg)
{
    int how = *(int *)arg;
    if (kx_ring_send(r, T_MARK, 0, NULL, 0, t_deadline()) != STATUS_SUCCESS ||
        kx_ring_commit(r) != STATUS_SUCCESS)
        return 1;
    t_sleep_ms(50); /* the parent is asleep by now, most likely; either way it must see it */
    if (how == DIE_KILLED)
        raise(SIGKILL);
    return 0; /* spawn closes the ring */
}

enum { WATCH_PID, WATCH_SOCKET, WATCH_NONE };

static void peer_goes_while_waiting(int how, int watch, int producing)
{
    struct kx_ring *a;
    int sv[2];
    assert_int_equal(t_ring_make("test", 4096, 0, &a, sv), 0);
    pid_t pid = spawn(sv, going_child, &how);
    if (watch == WATCH_PID)
        assert_int_equal(kx_ring_watch_pid(a, pid), STATUS_SUCCESS);
    else if (watch == WATCH_SOCKET)
        kx_ring_watch_socket(a, sv[0]);
    struct kx_ring_rec rec[1];
    size_t n;
    assert_int_equal(kx_ring_recv(a, rec, 1, &n, t_deadline()), STATUS_SUCCESS);
    assert_int_equal(rec[0].type, T_MARK);
    kx_ring_release(a);
    kx_status st;
    if (producing) { /* fill the ring the child never reads: then wait for room */
        uint8_t buf[100] = {0};
        while ((st = kx_ring_send(a, T_DATA, 0, buf, sizeof buf, KX_RING_FOREVER)) ==
               STATUS_SUCCESS)
            ;
    } else
        st = kx_ring_recv(a, rec, 1, &n, KX_RING_FOREVER);
    assert_int_equal(st, STATUS_RING_PEER_GONE);
    assert_int_equal(child_status(pid), how == DIE_KILLED ? 128 + SIGKILL : 0);
    kx_ring_close(a);
    close(sv[0]);
}

static void test_ring_killed_peer_ends_wait_by_pidfd(void **state)
{
    (void)state;
    peer_goes_while_waiting(DIE_KILLED, WATCH_PID, 0);
    peer_goes_while_waiting(DIE_KILLED, WATCH_PID, 1);
}

static void test_ring_killed_peer_ends_wait_by_socket(void **state)
{
    (void)state;
    peer_goes_while_waiting(DIE_KILLED, WATCH_SOCKET, 0);
    peer_goes_while_waiting(DIE_KILLED, WATCH_SOCKET, 1);
}

static void test_ring_closing_peer_ends_futex_wait(void **state)
{
    (void)state;
    peer_goes_while_waiting(DIE_CLOSED, WATCH_NONE, 0);
    peer_goes_while_waiting(DIE_CLOSED, WATCH_NONE, 1);
}

/* ---- lost wake-ups ------------------------------------------------------- */

/* Takes bursts ended by T_MARK and acknowledges each with T_ACK carrying the
 * number of records; ends at T_END. Never spins: every wait sleeps. */
static int ack_child(struct kx_ring *r, void *arg)
{
    (void)arg;
    kx_ring_set_spin(r, 0);
    uint64_t count = 0, expect = 0;
    for (;;) {
        struct kx_ring_rec rec[16];
        size_t n;
        if (kx_ring_recv(r, rec, 16, &n, t_deadline()) != STATUS_SUCCESS)
            return 1; /* a lost wake-up ends here, 60 s later */
        for (size_t i = 0; i < n; i++) {
            if (rec[i].type == T_END)
                return 0;
            if (rec[i].type == T_DATA && rec[i].id != expect++)
                return 2;
            if (rec[i].type == T_MARK) {
                kx_ring_release(r);
                if (kx_ring_send(r, T_ACK, count, NULL, 0, t_deadline()) != STATUS_SUCCESS ||
                    kx_ring_commit(r) != STATUS_SUCCESS)
                    return 3;
                count = 0;
            } else
                count++;
        }
        kx_ring_release(r);
    }
}

static unsigned stress_seconds(void)
{
    const char *s = getenv("KX_STRESS_SECONDS");
    long v = s ? strtol(s, NULL, 10) : 3;
    return v > 0 ? (unsigned)v : 3;
}

/* Bursts of 1..80 records of 128 bytes into a ring that holds 32: the
 * parent sleeps for room in the middle of long bursts, the child sleeps for
 * records between them, the parent sleeps for each acknowledgement. */
static void wake_stress(int watch)
{
    struct kx_ring *a;
    int sv[2];
    assert_int_equal(t_ring_make("test", 4096, 0, &a, sv), 0);
    pid_t pid = spawn(sv, ack_child, NULL);
    if (watch)
        assert_int_equal(kx_ring_watch_pid(a, pid), STATUS_SUCCESS);
    kx_ring_set_spin(a, 0);
    uint64_t end = kx_plat_monotonic_ns() + stress_seconds() * 1000000000ull, id = 0, rounds = 0;
    uint8_t buf[112] = {0};
    while (kx_plat_monotonic_ns() < end) {
        uint64_t burst = 1 + t_mix(rounds) % 80;
        for (uint64_t k = 0; k < burst; k++)
            assert_int_equal(kx_ring_send(a, T_DATA, id++, buf, sizeof buf, t_deadline()),
                             STATUS_SUCCESS);
        assert_int_equal(kx_ring_send(a, T_MARK, 0, NULL, 0, t_deadline()), STATUS_SUCCESS);
        assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
        struct kx_ring_rec rec[1];
        size_t n;
        kx_status st = kx_ring_recv(a, rec, 1, &n, t_deadline());
        if (st != STATUS_SUCCESS)
            fail_msg("round %llu: no acknowledgement (%s): a lost wake-up",
                     (unsigned long long)rounds, kx_status_name(st));
        assert_int_equal(rec[0].type, T_ACK);
        assert_int_equal(rec[0].id, burst);
        kx_ring_release(a);
        rounds++;
    }
    assert_int_equal(kx_ring_send(a, T_END, 0, NULL, 0, t_deadline()), STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(a), STATUS_SUCCESS);
    assert_int_equal(child_status(pid), 0);
    print_message("%llu rounds, %llu records\n", (unsigned long long)rounds,
                  (unsigned long long)id);
    kx_ring_close(a);
    close(sv[0]);
}

static void test_ring_no_lost_wakeups_futex(void **state)
{
    (void)state;
    wake_stress(0);
}

static void test_ring_no_lost_wakeups_eventfd(void **state)
{
    (void)state;
    wake_stress(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_echoes_millions_across_processes),
        cmocka_unit_test(test_ring_killed_peer_ends_wait_by_pidfd),
        cmocka_unit_test(test_ring_killed_peer_ends_wait_by_socket),
        cmocka_unit_test(test_ring_closing_peer_ends_futex_wait),
        cmocka_unit_test(test_ring_no_lost_wakeups_futex),
        cmocka_unit_test(test_ring_no_lost_wakeups_eventfd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
