/* test_io_fault_inject.c — fault rules attached to devices and drivers of an
 * in-process host: which IRP each hits (CREATE counted), what fail, delay and
 * never-complete do in place of the driver, the same run for the same seed,
 * and the actions refused for drivers that run in this process. */
#include "tdrv.h"

static int setup(void **state)
{
    (void)state;
    tdrv_reset();
    return 0;
}

/* WRITE: counts itself in the events and succeeds. */
static kx_status count_write(PDEVICE_OBJECT dev, PIRP irp)
{
    tdrv_event(tdrv_of(dev), "WRITE");
    return DkCompleteRequest(irp, STATUS_SUCCESS, irp->Parameters.Write.Length);
}

static int n_events(struct tdrv *t, const char *what)
{
    char ev[2048];
    tdrv_events(t, ev, sizeof ev);
    int n = 0;
    for (const char *p = ev; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

static struct tdrv *start(struct kx_io *io, const char *name, kx_io_driver_id *id)
{
    struct tdrv *t = tdrv_new(name);
    t->mj[IRP_MJ_WRITE] = count_write;
    assert_int_equal(tdrv_start(io, t, id), STATUS_SUCCESS);
    return t;
}

static void set_rule(struct kx_io *io, const char *target, const char *words, kx_io_driver_id drv)
{
    struct kx_fault_rule r;
    char why[256] = "";
    assert_int_equal(kx_fault_parse(target, words, &r, why, sizeof why), STATUS_SUCCESS);
    kx_status st = kx_io_fault_set(io, &r, drv, why, sizeof why);
    if (st != STATUS_SUCCESS)
        fail_msg("%s %s: %s (%s)", target, words, kx_status_name(st), why);
}

static kx_io_handle open_rw(struct kx_io *io, const char *path)
{
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, path, &t_user, KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE, 0, &h),
                     STATUS_SUCCESS);
    return h;
}

static void test_fail_hits_exactly_the_nth_irp_create_counted(void **state)
{
    (void)state;
    struct t_logcap cap = {PTHREAD_MUTEX_INITIALIZER, ""};
    struct kx_io *io = t_io_new(&cap);
    struct tdrv *t = start(io, "Flt", NULL);
    set_rule(io, "/dev/Flt", "irp=3 action=fail:STATUS_DEVICE_BUSY", 0);
    kx_io_handle h = open_rw(io, "/dev/Flt"); /* IRP 1 */
    size_t n = 0;
    assert_int_equal(kx_io_write(io, h, "ab", 2, 0, 0, &n), STATUS_SUCCESS); /* 2 */
    assert_int_equal(n, 2);
    assert_int_equal(kx_io_write(io, h, "ab", 2, 0, 0, &n), STATUS_DEVICE_BUSY); /* 3 */
    assert_int_equal(n, 0);
    for (int i = 0; i < 3; i++) /* spent: the rule hits once */
        assert_int_equal(kx_io_write(io, h, "ab", 2, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n_events(t, "WRITE"), 4); /* the failed one never reached the driver */
    assert_true(t_logcap_has(&cap, "fault injected: action=fail:STATUS_DEVICE_BUSY for "
                                   "IRP_MJ_WRITE IRP 3 to \\Device\\Flt0 (the rule for /dev/Flt)"));
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);

    /* The first IRP is the CREATE: the open fails and the driver never sees it. */
    set_rule(io, "\\Device\\Flt0", "irp=1 action=fail:STATUS_ACCESS_DENIED", 0);
    int creates = n_events(t, "CREATE");
    assert_int_equal(
        kx_io_open(io, "/dev/Flt", &t_user, KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE, 0, &h),
        STATUS_ACCESS_DENIED);
    assert_int_equal(n_events(t, "CREATE"), creates);
    kx_io_free(io);
    tdrv_no_failures(t);
}

static void test_every_counts_only_its_major(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = start(io, "Evry", NULL);
    set_rule(io, "/dev/Evry", "every=2 major=WRITE action=fail:STATUS_DEVICE_NOT_READY", 0);
    kx_io_handle h = open_rw(io, "/dev/Evry");
    char buf[4];
    size_t n;
    kx_status want[] = {STATUS_SUCCESS, STATUS_DEVICE_NOT_READY, STATUS_SUCCESS,
                        STATUS_DEVICE_NOT_READY};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        /* READs in between are not counted (the driver has none: not implemented) */
        assert_int_equal(kx_io_read(io, h, buf, sizeof buf, 0, 0, &n), STATUS_NOT_IMPLEMENTED);
        assert_int_equal(kx_io_write(io, h, "x", 1, 0, 0, &n), want[i]);
    }
    assert_int_equal(n_events(t, "WRITE"), 2);
    struct kx_fault_rule *rules = NULL;
    size_t nr = 0;
    assert_int_equal(kx_io_fault_list(io, &rules, &nr), STATUS_SUCCESS);
    assert_int_equal(nr, 1);
    assert_int_equal(rules[0].seen, 4);
    assert_int_equal(rules[0].fired, 2);
    free(rules);
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    kx_io_free(io);
}

static void test_delay_sleeps_then_calls_the_driver(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = start(io, "Slow", NULL);
    set_rule(io, "/dev/Slow", "irp=2 action=delay:60", 0);
    kx_io_handle h = open_rw(io, "/dev/Slow");
    size_t n = 0;
    uint64_t t0 = t_now_ms();
    assert_int_equal(kx_io_write(io, h, "abc", 3, 0, 0, &n), STATUS_SUCCESS);
    assert_true(t_now_ms() - t0 >= 60); /* a lower bound only: the delay happened */
    assert_int_equal(n, 3);
    assert_int_equal(n_events(t, "WRITE"), 1);
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    kx_io_free(io);
}

static void test_never_complete_leaves_the_irp_to_its_deadline(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = start(io, "Lost", NULL);
    set_rule(io, "/dev/Lost", "irp=2 action=never-complete", 0);
    kx_io_handle h = open_rw(io, "/dev/Lost");
    size_t n = 0;
    assert_int_equal(kx_io_write(io, h, "x", 1, 0, 100, &n), STATUS_TIMEOUT);
    assert_int_equal(n_events(t, "WRITE"), 0);
    assert_int_equal(kx_io_write(io, h, "x", 1, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n_events(t, "WRITE"), 1);
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    kx_io_free(io);
}

/* Which of 40 writes fail for probability=0.3 seed=S, as a string of 0/1. */
static void probability_run(uint64_t seed, char out[41])
{
    tdrv_reset();
    struct kx_io *io = t_io_new(NULL);
    start(io, "Dice", NULL);
    char words[96];
    snprintf(words, sizeof words,
             "probability=0.3 major=WRITE seed=%llu action=fail:STATUS_DEVICE_NOT_READY",
             (unsigned long long)seed);
    set_rule(io, "/dev/Dice", words, 0);
    kx_io_handle h = open_rw(io, "/dev/Dice");
    for (int i = 0; i < 40; i++) {
        size_t n;
        kx_status st = kx_io_write(io, h, "x", 1, 0, 0, &n);
        assert_true(st == STATUS_SUCCESS || st == STATUS_DEVICE_NOT_READY);
        out[i] = st == STATUS_SUCCESS ? '0' : '1';
    }
    out[40] = '\0';
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    kx_io_free(io);
}

static void test_probability_repeats_by_seed(void **state)
{
    (void)state;
    char a[41], b[41], c[41];
    probability_run(7, a);
    probability_run(7, b);
    probability_run(8, c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_non_null(strchr(a, '1'));
    assert_non_null(strchr(a, '0'));
}

static void test_driver_rule_covers_its_devices(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    kx_io_driver_id id = 0;
    struct tdrv *t = start(io, "Whole", &id);
    set_rule(io, "org.kx.test.Whole", "irp=2 action=fail:STATUS_DEVICE_BUSY", id);
    kx_io_handle h = open_rw(io, "/dev/Whole");
    size_t n;
    assert_int_equal(kx_io_write(io, h, "x", 1, 0, 0, &n), STATUS_DEVICE_BUSY);
    assert_int_equal(kx_io_write(io, h, "x", 1, 0, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n_events(t, "WRITE"), 1);
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    kx_io_free(io);
}

static void test_in_process_refuses_what_would_kill_kxd(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    start(io, "Home", NULL);
    const char *fatal[] = {"crash", "abort", "exit", "hang"};
    for (size_t i = 0; i < 4; i++) {
        char words[64], why[512] = "";
        snprintf(words, sizeof words, "irp=1 action=%s", fatal[i]);
        struct kx_fault_rule r;
        assert_int_equal(kx_fault_parse("/dev/Home", words, &r, why, sizeof why), STATUS_SUCCESS);
        assert_int_equal(kx_io_fault_set(io, &r, 0, why, sizeof why), STATUS_NOT_SUPPORTED);
        assert_non_null(strstr(why, "/dev/Home"));
        assert_non_null(strstr(why, "\\Driver\\Home runs in kxd"));
        assert_non_null(strstr(why, fatal[i]));
    }
    struct kx_fault_rule *rules = NULL;
    size_t n = 9;
    assert_int_equal(kx_io_fault_list(io, &rules, &n), STATUS_SUCCESS);
    assert_int_equal(n, 0);
    free(rules);
    kx_io_free(io);
}

static void test_list_and_clear(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    start(io, "Lst", NULL);
    char why[256] = "";
    struct kx_fault_rule r;
    assert_int_equal(
        kx_fault_parse("/dev/Nowhere", "irp=1 action=never-complete", &r, why, sizeof why),
        STATUS_SUCCESS);
    assert_int_equal(kx_io_fault_set(io, &r, 0, why, sizeof why), STATUS_NO_SUCH_FILE);
    assert_non_null(strstr(why, "/dev/Nowhere"));
    set_rule(io, "/dev/Lst", "irp=5 action=delay:1", 0);
    set_rule(io, "\\Device\\Lst0", "every=3 action=never-complete", 0);
    set_rule(io, "/dev/Lst", "irp=2 action=fail:STATUS_DEVICE_BUSY", 0); /* replaces */
    struct kx_fault_rule *rules = NULL;
    size_t n = 0;
    assert_int_equal(kx_io_fault_list(io, &rules, &n), STATUS_SUCCESS);
    assert_int_equal(n, 2);
    char text[200];
    kx_fault_format(&rules[0], 0, text, sizeof text);
    assert_string_equal(rules[0].target, "/dev/Lst");
    assert_string_equal(text, "irp=2 action=fail:STATUS_DEVICE_BUSY seed=1");
    assert_string_equal(rules[1].target, "\\Device\\Lst0");
    free(rules);
    size_t gone = 9;
    assert_int_equal(kx_io_fault_clear(io, "/dev/Lst", &gone), STATUS_SUCCESS);
    assert_int_equal(gone, 1);
    assert_int_equal(kx_io_fault_clear(io, "/dev/Lst", &gone), STATUS_OBJECT_NAME_NOT_FOUND);
    assert_int_equal(gone, 0);
    assert_int_equal(kx_io_fault_clear(io, NULL, &gone), STATUS_SUCCESS);
    assert_int_equal(gone, 1);
    /* No rule left: requests go straight through. */
    kx_io_handle h = open_rw(io, "/dev/Lst");
    size_t w;
    for (int i = 0; i < 4; i++)
        assert_int_equal(kx_io_write(io, h, "x", 1, 0, 0, &w), STATUS_SUCCESS);
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    kx_io_free(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_fail_hits_exactly_the_nth_irp_create_counted, setup),
        cmocka_unit_test_setup(test_every_counts_only_its_major, setup),
        cmocka_unit_test_setup(test_delay_sleeps_then_calls_the_driver, setup),
        cmocka_unit_test_setup(test_never_complete_leaves_the_irp_to_its_deadline, setup),
        cmocka_unit_test_setup(test_probability_repeats_by_seed, setup),
        cmocka_unit_test_setup(test_driver_rule_covers_its_devices, setup),
        cmocka_unit_test_setup(test_in_process_refuses_what_would_kill_kxd, setup),
        cmocka_unit_test_setup(test_list_and_clear, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
