/* test_io_pool.c — the IRP pool after a burst: its slabs' memory goes back
 * once the IRPs are answered, ids from before stay stale (also once a slab is
 * used again), and closing one handle touches only that handle's IRPs. */
#include "tdrv.h"

#include "io/io_int.h"

#define BURST 100000

static struct {
    pthread_mutex_t lock;
    PIRP irps[BURST];
    int n;
} pend = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int setup(void **state)
{
    (void)state;
    tdrv_reset();
    pend.n = 0;
    return 0;
}

static int n_pending(void)
{
    pthread_mutex_lock(&pend.lock);
    int n = pend.n;
    pthread_mutex_unlock(&pend.lock);
    return n;
}

/* Removes irp from the pending list; 0 if it was not there. */
static int unpend(PIRP irp)
{
    pthread_mutex_lock(&pend.lock);
    for (int i = 0; i < pend.n; i++)
        if (pend.irps[i] == irp) {
            pend.irps[i] = pend.irps[--pend.n];
            pthread_mutex_unlock(&pend.lock);
            return 1;
        }
    pthread_mutex_unlock(&pend.lock);
    return 0;
}

static kx_status pend_plain(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    DkMarkIrpPending(irp);
    pthread_mutex_lock(&pend.lock);
    pend.irps[pend.n++] = irp;
    pthread_mutex_unlock(&pend.lock);
    return STATUS_PENDING;
}

static void on_cancel(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    if (unpend(irp))
        DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

static kx_status pend_cancellable(PDEVICE_OBJECT dev, PIRP irp)
{
    pend_plain(dev, irp);
    if (DkSetCancelRoutine(irp, on_cancel) == STATUS_CANCELLED && unpend(irp))
        return DkCompleteRequest(irp, STATUS_CANCELLED, 0);
    return STATUS_PENDING;
}

struct done_count {
    atomic_int n;
    atomic_int n_cancelled;
};

static void count_done(void *arg, kx_status st, size_t info)
{
    struct done_count *c = arg;
    (void)info;
    if (st == STATUS_CANCELLED)
        atomic_fetch_add(&c->n_cancelled, 1);
    atomic_fetch_add(&c->n, 1);
}

static void submit_reads(struct kx_io *io, kx_io_handle h, struct done_count *c, int n)
{
    static char buf[1];
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out = buf, .out_len = 1,
                           .timeout_ms = KX_IO_TIMEOUT_NONE, .done = count_done, .arg = c};
    for (int i = 0; i < n; i++)
        assert_int_equal(kx_io_submit(io, h, &rd, 1), STATUS_SUCCESS);
}

/* The id of an IRP in flight in the pool's last slab. */
static uint64_t id_in_last_slab(struct kx_io *io)
{
    struct kx_io_pool_stats ps;
    kx_io_pool_stats(io, &ps);
    uint32_t first = (ps.slabs_made - 1) * IO_SLAB_SIZE;
    for (uint32_t i = first; i < first + IO_SLAB_SIZE; i++) {
        struct io_irp *r = kx__irp_at(io, i);
        uint64_t w = atomic_load(&r->state);
        if ((w & IRP_REF_MASK) && r->kind == K_IRP && r->major == IRP_MJ_READ)
            return io_irp_id(r, w);
    }
    fail_msg("no READ in flight in the last slab");
    return 0;
}

/* Whether the pool holds no more live slabs than it keeps, after trims
 * (records whose answer just ran may be on their way back). */
static int trimmed(struct kx_io *io)
{
    struct kx_io_pool_stats ps;
    kx_io_pool_trim(io);
    kx_io_pool_stats(io, &ps);
    return ps.slabs_live <= IO_POOL_KEEP_SLABS;
}

/* While BURST reads are in flight on h, old (an id from before, or 0) must
 * name nothing and a new IRP in its slot must be of a later generation; then
 * the driver answers them all. Returns an id from the burst. */
static uint64_t burst(struct kx_io *io, kx_io_handle h, uint64_t old)
{
    struct done_count c = {0};
    submit_reads(io, h, &c, BURST);
    T_WAIT_FOR(n_pending() == BURST);
    assert_int_equal(n_pending(), BURST);
    uint64_t id = id_in_last_slab(io);
    uint64_t w;
    assert_non_null(kx__irp_lookup(io, id, &w));
    if (old) {
        assert_null(kx__irp_lookup(io, old, &w));
        w = atomic_load(&kx__irp_at(io, (uint32_t)old)->state);
        if (w & IRP_REF_MASK)
            assert_true((w >> IRP_GEN_SHIFT) > (old >> IRP_GEN_SHIFT));
    }
    for (int i = 0; i < BURST; i++)
        assert_int_equal(DkCompleteRequest(pend.irps[i], STATUS_SUCCESS, 0), STATUS_SUCCESS);
    pend.n = 0;
    T_WAIT_FOR(atomic_load(&c.n) == BURST);
    assert_int_equal(atomic_load(&c.n), BURST);
    assert_int_equal(atomic_load(&c.n_cancelled), 0);
    return id;
}

static void test_pool_gives_slabs_back_after_a_burst_and_ids_stay_stale(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Burst");
    t->mj[IRP_MJ_READ] = pend_plain;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Burst", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    struct kx_io_pool_stats before, peak, after;
    kx_io_pool_stats(io, &before);

    uint64_t id = burst(io, h, 0);
    kx_io_pool_stats(io, &peak);
    assert_true(peak.slabs_live * peak.records_per_slab >= BURST);
    T_WAIT_FOR(trimmed(io));
    kx_io_pool_stats(io, &after);
    assert_true(after.slabs_live <= IO_POOL_KEEP_SLABS);
    assert_true(after.slabs_live <= before.slabs_live + IO_POOL_KEEP_SLABS);
    assert_int_equal(after.slabs_made, peak.slabs_made); /* kept mapped, memory given back */
    uint64_t w;
    assert_null(kx__irp_lookup(io, id, &w)); /* its slab is gone */

    /* A second burst revives the slabs; the old id names no new IRP. */
    burst(io, h, id);
    kx_io_pool_stats(io, &peak);
    assert_true(peak.slabs_made <= after.slabs_made + 1); /* revived rather than made */
    assert_null(kx__irp_lookup(io, id, &w));

    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    T_WAIT_FOR(trimmed(io));
    assert_true(trimmed(io));
    kx_io_free(io);
    tdrv_no_failures(t);
}

static void test_close_cancels_only_its_own_irps(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Pair");
    t->mj[IRP_MJ_READ] = pend_cancellable;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h1, h2;
    assert_int_equal(kx_io_open(io, "/dev/Pair", &t_user, KX_IO_ACCESS_READ, 0, &h1),
                     STATUS_SUCCESS);
    assert_int_equal(kx_io_open(io, "/dev/Pair", &t_user, KX_IO_ACCESS_READ, 0, &h2),
                     STATUS_SUCCESS);
    struct done_count c1 = {0}, c2 = {0};
    submit_reads(io, h1, &c1, 3);
    submit_reads(io, h2, &c2, 4);
    T_WAIT_FOR(n_pending() == 7);
    assert_int_equal(n_pending(), 7);

    assert_int_equal(kx_io_close(io, h1), STATUS_SUCCESS);
    assert_int_equal(atomic_load(&c1.n), 3);
    assert_int_equal(atomic_load(&c1.n_cancelled), 3);
    assert_int_equal(atomic_load(&c2.n), 0); /* the other handle's stay pending */
    assert_int_equal(n_pending(), 4);

    assert_int_equal(kx_io_close(io, h2), STATUS_SUCCESS);
    assert_int_equal(atomic_load(&c2.n), 4);
    assert_int_equal(atomic_load(&c2.n_cancelled), 4);
    assert_int_equal(n_pending(), 0);
    kx_io_free(io);
    tdrv_no_failures(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_pool_gives_slabs_back_after_a_burst_and_ids_stay_stale,
                               setup),
        cmocka_unit_test_setup(test_close_cancels_only_its_own_irps, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
