/* test_io_fault.c — fault injection rules: the words kx fault sends, their errors, and
 * which IRPs each trigger hits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <kx/fault.h>
#include <stdio.h>
#include <string.h>

static struct kx_fault_rule parse_ok(const char *words)
{
    struct kx_fault_rule r;
    char err[256] = "";
    kx_status st = kx_fault_parse("/dev/null", words, &r, err, sizeof err);
    if (st != STATUS_SUCCESS)
        fail_msg("'%s' refused: %s", words, err);
    return r;
}

static void assert_refused(const char *words, const char *needle)
{
    struct kx_fault_rule r;
    char err[256] = "";
    assert_int_equal(kx_fault_parse("/dev/null", words, &r, err, sizeof err),
                     STATUS_INVALID_PARAMETER);
    if (!strstr(err, needle))
        fail_msg("'%s': expected '%s' in the reason, got: %s", words, needle, err);
}

static void test_fault_rule_words_round_trip(void **state)
{
    (void)state;
    const char *rules[] = {
        "irp=3 action=crash",
        "every=10 action=fail:STATUS_DEVICE_BUSY major=READ",
        "probability=0.25 action=delay:40 seed=99",
        "irp=1 action=never-complete major=CREATE",
        "every=2 action=hang major=14",
    };
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        struct kx_fault_rule a = parse_ok(rules[i]), b;
        char text[256], again[256];
        kx_fault_format(&a, 0, text, sizeof text);
        b = parse_ok(text);
        kx_fault_format(&b, 0, again, sizeof again);
        assert_string_equal(text, again);
        assert_int_equal(a.action, b.action);
        assert_int_equal(a.major, b.major);
    }
}

static void test_fault_fail_takes_names_and_numbers(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("irp=1 action=fail:STATUS_ACCESS_DENIED").status,
                     STATUS_ACCESS_DENIED);
    assert_int_equal(parse_ok("irp=1 action=fail:ACCESS_DENIED").status, STATUS_ACCESS_DENIED);
    assert_int_equal(parse_ok("irp=1 action=fail:500").status, STATUS_ACCESS_DENIED);
    assert_int_equal(parse_ok("irp=1 action=fail:STATUS_IO_ERROR major=IRP_MJ_READ").major, 0x03);
}

static void test_fault_bad_words_say_which(void **state)
{
    (void)state;
    assert_refused("action=crash", "no trigger");
    assert_refused("irp=2", "no action");
    assert_refused("irp=0 action=crash", "'irp=0'");
    assert_refused("irp=2 every=3 action=crash", "second trigger");
    assert_refused("irp=2 action=crash action=abort", "twice");
    assert_refused("irp=2 action=explode", "'action=explode'");
    assert_refused("irp=2 action=fail:STATUS_SUCCESS", "failure status");
    assert_refused("irp=2 action=fail:STATUS_NOPE", "fail:STATUS");
    assert_refused("probability=1.5 action=crash", "(0, 1]");
    assert_refused("irp=2 action=crash major=OPEN", "IRP major");
    assert_refused("irp=99999999999999999999 action=crash", "whole number");
    assert_refused("irp=2 action=crash color=red", "not a fault rule key");
    assert_refused("irp=2 action=crash junk", "key=value");
    struct kx_fault_rule r;
    assert_int_equal(kx_fault_parse("", "irp=1 action=crash", &r, NULL, 0),
                     STATUS_INVALID_PARAMETER);
}

static void test_fault_nth_hits_once(void **state)
{
    (void)state;
    struct kx_fault_rule r = parse_ok("irp=3 action=abort");
    enum kx_fault_action seen[6];
    for (int i = 0; i < 6; i++)
        seen[i] = kx_fault_hit(&r, 0x03);
    for (int i = 0; i < 6; i++)
        assert_int_equal(seen[i], i == 2 ? KX_FAULT_ABORT : KX_FAULT_NONE);
    assert_true(kx_fault_spent(&r));
    assert_int_equal(r.fired, 1);
}

static void test_fault_every_counts_only_its_major(void **state)
{
    (void)state;
    struct kx_fault_rule r = parse_ok("every=2 action=fail:STATUS_IO_ERROR major=WRITE");
    int fired = 0;
    for (int i = 0; i < 20; i++) {
        if (kx_fault_hit(&r, 0x03) != KX_FAULT_NONE) /* reads pass untouched */
            fail_msg("a READ was hit");
        if (kx_fault_hit(&r, 0x04) == KX_FAULT_FAIL)
            fired++;
    }
    assert_int_equal(fired, 10);
    assert_int_equal(r.seen, 20);
    assert_false(kx_fault_spent(&r));
}

/* The same seed hits the same IRPs; another seed other ones; the rate is about P. */
static void test_fault_probability_repeats_by_seed(void **state)
{
    (void)state;
    struct kx_fault_rule a = parse_ok("probability=0.3 action=crash seed=7");
    struct kx_fault_rule b = parse_ok("probability=0.3 action=crash seed=7");
    struct kx_fault_rule c = parse_ok("probability=0.3 action=crash seed=8");
    int differ = 0;
    for (int i = 0; i < 10000; i++) {
        enum kx_fault_action x = kx_fault_hit(&a, 0), y = kx_fault_hit(&b, 0);
        assert_int_equal(x, y);
        differ += x != kx_fault_hit(&c, 0);
    }
    assert_true(differ > 0);
    assert_in_range(a.fired, 2500, 3500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_rule_words_round_trip),
        cmocka_unit_test(test_fault_fail_takes_names_and_numbers),
        cmocka_unit_test(test_fault_bad_words_say_which),
        cmocka_unit_test(test_fault_nth_hits_once),
        cmocka_unit_test(test_fault_every_counts_only_its_major),
        cmocka_unit_test(test_fault_probability_repeats_by_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
