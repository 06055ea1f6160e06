/* test_io_event.c — named events for in-process drivers (issue 14):
 * DkRegisterInterrupt and kx_io_event_raise, ordering per source, the bounded
 * queue and its drop count, no routine beside an IRP routine, unregistering,
 * timers, and nothing left of a driver's events after its unload. */
#include "io_test.h"

#include <kx/io_event.h>
#include <stdatomic.h>
#include <stdlib.h>

/* What the driver saw; one test at a time per process. */
static struct {
    pthread_mutex_t lock;
    PDRIVER_OBJECT drv;
    char log[16384];
    int n_events, n_fail;
    atomic_int block; /* the routine waits while this is set */
    atomic_int in_event, in_irp;
    atomic_int n_ticks, n_once;
    pthread_t dispatch_thread;
    int has_thread;
} g;

static void reset(void)
{
    memset(&g, 0, sizeof g);
    pthread_mutex_init(&g.lock, NULL);
}

static void fail_note(const char *what)
{
    pthread_mutex_lock(&g.lock);
    g.n_fail++;
    size_t n = strlen(g.log);
    snprintf(g.log + n, sizeof g.log - n, "FAIL:%s;", what);
    pthread_mutex_unlock(&g.lock);
}

static void same_thread(void)
{
    pthread_mutex_lock(&g.lock);
    if (!g.has_thread) {
        g.dispatch_thread = pthread_self();
        g.has_thread = 1;
    } else if (!pthread_equal(g.dispatch_thread, pthread_self())) {
        pthread_mutex_unlock(&g.lock);
        fail_note("routine off the dispatch thread");
        return;
    }
    pthread_mutex_unlock(&g.lock);
}

static void on_ping(PDRIVER_OBJECT d, const KX_EVENT *e, void *ctx)
{
    (void)d;
    if (ctx != &g)
        fail_note("context");
    same_thread();
    if (atomic_exchange(&g.in_event, 1) || atomic_load(&g.in_irp))
        fail_note("event routine beside another routine");
    while (atomic_load(&g.block))
        t_sleep_ms(1);
    uint32_t v = 0;
    if (e->DataLength == sizeof v)
        memcpy(&v, e->Data, sizeof v);
    pthread_mutex_lock(&g.lock);
    g.n_events++;
    size_t n = strlen(g.log);
    if (n + 64 < sizeof g.log)
        snprintf(g.log + n, sizeof g.log - n, "%s/%s/%u/%llu;", e->Name, e->Source, v,
                 (unsigned long long)e->Sequence);
    pthread_mutex_unlock(&g.lock);
    atomic_store(&g.in_event, 0);
}

static void on_tick(PDRIVER_OBJECT d, const KX_EVENT *e, void *ctx)
{
    (void)d;
    (void)ctx;
    same_thread();
    if (strcmp(e->Source, "timer") != 0)
        fail_note("timer source");
    atomic_fetch_add(strcmp(e->Name, "tick") == 0 ? &g.n_ticks : &g.n_once, 1);
}

static kx_status read_routine(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    same_thread();
    if (atomic_exchange(&g.in_irp, 1) || atomic_load(&g.in_event))
        fail_note("IRP routine beside an event routine");
    t_sleep_ms(1);
    atomic_store(&g.in_irp, 0);
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static kx_status open_close(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static kx_status entry(PDRIVER_OBJECT d)
{
    g.drv = d;
    d->MajorFunction[IRP_MJ_CREATE] = open_close;
    d->MajorFunction[IRP_MJ_CLEANUP] = open_close;
    d->MajorFunction[IRP_MJ_CLOSE] = open_close;
    d->MajorFunction[IRP_MJ_READ] = read_routine;
    PDEVICE_OBJECT dev;
    kx_status st = DkCreateDevice(d, "\\Device\\Ev0", 0, &dev);
    if (st == STATUS_SUCCESS)
        DkSetDeviceSecurity(dev, 0, 0, 0666);
    if (st == STATUS_SUCCESS)
        st = DkRegisterInterrupt(d, "ping", on_ping, &g);
    return st;
}

static void raise_n(struct kx_io *io, const char *name, const char *source, uint32_t from,
                    uint32_t n, uint32_t *queued)
{
    for (uint32_t i = from; i < from + n; i++) {
        uint32_t q = 0;
        assert_int_equal(kx_io_event_raise(io, name, source, &i, sizeof i, &q), STATUS_SUCCESS);
        if (queued)
            *queued += q;
    }
}

/* The driver's single record in kx_io_event_list (zeroed if none). */
static struct kx_io_event_stat stat_of(struct kx_io *io)
{
    struct kx_io_event_stat *v = NULL, s = {0};
    size_t n = 0;
    assert_int_equal(kx_io_event_list(io, &v, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].driver, "\\Driver\\Ev") == 0)
            s = v[i];
    free(v);
    return s;
}

static int delivered_is(struct kx_io *io, uint64_t n)
{
    return stat_of(io).delivered == n;
}

static void test_events_of_each_source_arrive_in_order_with_their_numbers(void **state)
{
    (void)state;
    reset();
    struct kx_io *io = t_io_new(NULL);
    assert_int_equal(t_start(io, "Ev", entry, NULL), STATUS_SUCCESS);
    /* Two sources interleaved, 100 each: each source's values and numbers
     * arrive in raise order, numbered 1..100 per source. */
    for (uint32_t i = 0; i < 100; i++) {
        uint32_t q = 0;
        assert_int_equal(kx_io_event_raise(io, "ping", "a", &i, sizeof i, &q), STATUS_SUCCESS);
        assert_int_equal(q, 1);
        assert_int_equal(kx_io_event_raise(io, "ping", "b", &i, sizeof i, &q), STATUS_SUCCESS);
        assert_int_equal(q, 1);
    }
    T_WAIT_FOR(delivered_is(io, 200));
    struct kx_io_event_stat s = stat_of(io);
    assert_int_equal(s.delivered, 200);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.n_registrations, 1);
    assert_string_equal(s.names, "ping");
    char expect[16384] = "";
    for (uint32_t i = 0; i < 100; i++) {
        size_t n = strlen(expect);
        snprintf(expect + n, sizeof expect - n, "ping/a/%u/%u;ping/b/%u/%u;", i, i + 1, i, i + 1);
    }
    assert_string_equal(g.log, expect);
    /* Nobody registered for it: nobody gets it, and that is no error. */
    uint32_t q = 9;
    assert_int_equal(kx_io_event_raise(io, "pong", NULL, NULL, 0, &q), STATUS_SUCCESS);
    assert_int_equal(q, 0);
    assert_int_equal(kx_io_event_raise(io, "", NULL, NULL, 0, &q), STATUS_INVALID_PARAMETER);
    kx_io_free(io);
    assert_int_equal(g.n_fail, 0);
}

static void test_a_full_queue_drops_and_counts_without_blocking_the_raiser(void **state)
{
    (void)state;
    reset();
    struct kx_io *io = t_io_new(NULL);
    assert_int_equal(t_start(io, "Ev", entry, NULL), STATUS_SUCCESS);
    atomic_store(&g.block, 1);
    uint32_t queued = 0;
    raise_n(io, "ping", "a", 0, 1, &queued);
    T_WAIT_FOR(atomic_load(&g.in_event));
    assert_true(atomic_load(&g.in_event)); /* the routine holds the first one */
    /* The first one is still unanswered: 255 more fit, the rest are dropped,
     * and the raiser never waits for the stuck routine. */
    raise_n(io, "ping", "a", 1, 300, &queued);
    assert_int_equal(queued, KX_IO_EVENT_QUEUE);
    struct kx_io_event_stat s = stat_of(io);
    assert_int_equal(s.queued, KX_IO_EVENT_QUEUE);
    assert_int_equal(s.dropped, 301 - KX_IO_EVENT_QUEUE);
    atomic_store(&g.block, 0);
    T_WAIT_FOR(delivered_is(io, KX_IO_EVENT_QUEUE));
    /* The next one shows the gap in its number. */
    raise_n(io, "ping", "a", 301, 1, NULL);
    T_WAIT_FOR(delivered_is(io, KX_IO_EVENT_QUEUE + 1));
    s = stat_of(io);
    assert_int_equal(s.delivered, KX_IO_EVENT_QUEUE + 1);
    assert_int_equal(s.dropped, 301 - KX_IO_EVENT_QUEUE);
    assert_int_equal(s.queued, 0);
    assert_non_null(strstr(g.log, "ping/a/255/256;ping/a/301/302;"));
    kx_io_free(io);
    assert_int_equal(g.n_fail, 0);
}

struct reader {
    struct kx_io *io;
    kx_io_handle h;
    int n;
};

static void *read_loop(void *arg)
{
    struct reader *r = arg;
    char buf[8];
    size_t got;
    for (int i = 0; i < r->n; i++)
        if (kx_io_read(r->io, r->h, buf, sizeof buf, 0, KX_IO_TIMEOUT_DEFAULT, &got) !=
            STATUS_SUCCESS)
            fail_note("read");
    return NULL;
}

static void test_event_routines_never_run_beside_irp_routines(void **state)
{
    (void)state;
    reset();
    struct kx_io *io = t_io_new(NULL);
    assert_int_equal(t_start(io, "Ev", entry, NULL), STATUS_SUCCESS);
    struct reader r = {io, 0, 200};
    assert_int_equal(kx_io_open(io, "\\Device\\Ev0", &t_user, KX_IO_ACCESS_READ, 0, &r.h),
                     STATUS_SUCCESS);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, read_loop, &r), 0);
    /* Events raised while reads run: both kinds of routine run on the one
     * dispatch thread, one at a time (the routines check it). */
    for (uint32_t i = 0; i < 200; i++) {
        raise_n(io, "ping", "a", i, 1, NULL);
        if (i % 16 == 0)
            t_sleep_ms(1);
    }
    pthread_join(th, NULL);
    T_WAIT_FOR(stat_of(io).delivered + stat_of(io).dropped == 200);
    struct kx_io_event_stat s = stat_of(io);
    assert_int_equal(s.delivered + s.dropped, 200);
    assert_true(s.delivered > 0);
    assert_int_equal(kx_io_close(io, r.h), STATUS_SUCCESS);
    kx_io_free(io);
    if (g.n_fail)
        fail_msg("%s", g.log);
}

static void test_unregistering_drops_queued_events_and_stops_new_ones(void **state)
{
    (void)state;
    reset();
    struct kx_io *io = t_io_new(NULL);
    assert_int_equal(t_start(io, "Ev", entry, NULL), STATUS_SUCCESS);
    atomic_store(&g.block, 1);
    raise_n(io, "ping", "a", 0, 1, NULL);
    T_WAIT_FOR(atomic_load(&g.in_event));
    raise_n(io, "ping", "a", 1, 5, NULL);
    assert_int_equal(DkUnregisterInterrupt(g.drv, "ping"), STATUS_SUCCESS);
    assert_int_equal(DkUnregisterInterrupt(g.drv, "ping"), STATUS_EVENT_NOT_REGISTERED);
    uint32_t q = 9;
    assert_int_equal(kx_io_event_raise(io, "ping", "a", NULL, 0, &q), STATUS_SUCCESS);
    assert_int_equal(q, 0);
    atomic_store(&g.block, 0);
    T_WAIT_FOR(stat_of(io).queued == 0);
    struct kx_io_event_stat s = stat_of(io);
    assert_int_equal(s.delivered, 1); /* the one already running */
    assert_int_equal(s.dropped, 5);   /* queued before the unregistration */
    assert_int_equal(s.n_registrations, 0);
    /* Registering again works; arguments are checked. */
    assert_int_equal(DkRegisterInterrupt(g.drv, "ping", on_ping, &g), STATUS_SUCCESS);
    assert_int_equal(kx_io_event_raise(io, "ping", "a", NULL, 0, &q), STATUS_SUCCESS);
    assert_int_equal(q, 1);
    assert_int_equal(DkRegisterInterrupt(g.drv, "", on_ping, &g), STATUS_INVALID_PARAMETER);
    assert_int_equal(DkRegisterInterrupt(g.drv, "x", NULL, &g), STATUS_INVALID_PARAMETER);
    assert_int_equal(DkRegisterInterrupt(NULL, "x", on_ping, &g), STATUS_INVALID_PARAMETER);
    char name[16];
    kx_status last = STATUS_SUCCESS;
    for (int i = 0; i < KX_IO_EVENT_PER_DRIVER + 1 && last == STATUS_SUCCESS; i++) {
        snprintf(name, sizeof name, "e%d", i);
        last = DkRegisterInterrupt(g.drv, name, on_ping, &g);
    }
    assert_int_equal(last, STATUS_EVENT_LIMIT);
    kx_io_free(io);
    assert_int_equal(g.n_fail, 0);
}

static void test_timers_fire_once_or_periodically_until_cancelled(void **state)
{
    (void)state;
    reset();
    struct kx_io *io = t_io_new(NULL);
    assert_int_equal(t_start(io, "Ev", entry, NULL), STATUS_SUCCESS);
    assert_int_equal(DkRegisterInterrupt(g.drv, "tick", on_tick, NULL), STATUS_SUCCESS);
    assert_int_equal(DkRegisterInterrupt(g.drv, "once", on_tick, NULL), STATUS_SUCCESS);
    assert_int_equal(DkSetTimer(g.drv, "once", 1, 0), STATUS_SUCCESS);
    assert_int_equal(DkSetTimer(g.drv, "tick", 1, 1), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&g.n_ticks) >= 5 && atomic_load(&g.n_once) == 1);
    assert_true(atomic_load(&g.n_ticks) >= 5);
    assert_int_equal(atomic_load(&g.n_once), 1);
    assert_int_equal(stat_of(io).n_timers, 1); /* the one-shot is gone */
    assert_int_equal(DkCancelTimer(g.drv, "once"), STATUS_EVENT_NOT_REGISTERED);
    assert_int_equal(DkCancelTimer(g.drv, "tick"), STATUS_SUCCESS);
    assert_int_equal(DkCancelTimer(g.drv, "tick"), STATUS_EVENT_NOT_REGISTERED);
    assert_int_equal(stat_of(io).n_timers, 0);
    kx_io_free(io);
    assert_int_equal(g.n_fail, 0);
}

static void test_unload_drops_registrations_and_timers(void **state)
{
    (void)state;
    reset();
    struct kx_io *io = t_io_new(NULL);
    kx_io_driver_id id;
    assert_int_equal(t_start(io, "Ev", entry, &id), STATUS_SUCCESS);
    assert_int_equal(DkRegisterInterrupt(g.drv, "tick", on_tick, NULL), STATUS_SUCCESS);
    assert_int_equal(DkSetTimer(g.drv, "tick", 1, 1), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&g.n_ticks) >= 2);
    struct kx_io_event_stat s = stat_of(io);
    assert_int_equal(s.n_registrations, 2);
    assert_int_equal(s.n_timers, 1);
    assert_int_equal(kx_io_driver_unload(io, id, KX_IO_UNLOAD_FORCE), STATUS_SUCCESS);
    s = stat_of(io);
    assert_int_equal(s.id, 0); /* no record: the driver and its events are gone */
    uint32_t q = 9;
    assert_int_equal(kx_io_event_raise(io, "ping", "a", NULL, 0, &q), STATUS_SUCCESS);
    assert_int_equal(q, 0);
    /* A new driver of the same name starts with nothing. */
    reset();
    assert_int_equal(t_start(io, "Ev", entry, NULL), STATUS_SUCCESS);
    s = stat_of(io);
    assert_int_equal(s.n_registrations, 1);
    assert_int_equal(s.n_timers, 0);
    assert_int_equal(s.delivered, 0);
    kx_io_free(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_of_each_source_arrive_in_order_with_their_numbers),
        cmocka_unit_test(test_a_full_queue_drops_and_counts_without_blocking_the_raiser),
        cmocka_unit_test(test_event_routines_never_run_beside_irp_routines),
        cmocka_unit_test(test_unregistering_drops_queued_events_and_stops_new_ones),
        cmocka_unit_test(test_timers_fire_once_or_periodically_until_cancelled),
        cmocka_unit_test(test_unload_drops_registrations_and_timers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
