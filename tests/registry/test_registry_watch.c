/* test_registry_watch.c — kx_reg_watch_class (issue 14): the watcher hears of
 * every entry of its class (subclasses included) that is published or
 * terminated, with the component's address as source, after the registry
 * lock is let go (it reads the registry from inside the call), and of no
 * other entry. */
#include "reg_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

struct heard {
    struct kx_reg *reg;
    char log[1024];
};

static void on_entry(void *ctx, int is_added, kx_reg_id id, const char *source)
{
    struct heard *h = ctx;
    struct kx_reg_info i;
    /* Taking the lock here would deadlock if the registry still held it. */
    kx_status st = kx_reg_info(h->reg, id, &i);
    size_t n = strlen(h->log);
    snprintf(h->log + n, sizeof h->log - n, "%s %s %s;", is_added ? "added" : "removed", source,
             st == STATUS_SUCCESS ? i.class_name : "gone");
}

static void test_watcher_hears_its_class_come_and_go_outside_the_lock(void **state)
{
    struct rfx *f = *state;
    struct heard h = {f->reg, ""};
    assert_int_equal(kx_classes_declare(f->classes, "KXComponent", "IOService", "test"),
                     STATUS_SUCCESS);
    assert_int_equal(kx_classes_declare(f->classes, "KXSensor", "KXComponent", "test"),
                     STATUS_SUCCESS);
    assert_int_equal(kx_reg_watch_class(f->reg, "KXComponent", on_entry, &h), STATUS_SUCCESS);
    plist_t props = plist_new_dict();
    plist_dict_set_item(props, "address", plist_new_string("6F1C2A40-0000-4000-8000-000000000001"));
    kx_reg_id a = rfx_nub(f, 0, "KXComponent", "comp", NULL, props);
    kx_reg_id s = rfx_nub(f, a, "KXSensor", "sensor", NULL, NULL);
    rfx_nub(f, 0, "IOService", "other", NULL, NULL); /* not watched */
    char expect[512];
    snprintf(expect, sizeof expect,
             "added 6F1C2A40-0000-4000-8000-000000000001 KXComponent;"
             "added KXSensor@0x%llx KXSensor;",
             (unsigned long long)s);
    assert_string_equal(h.log, expect);
    /* Terminating the component takes its client first; both are gone by the call. */
    h.log[0] = 0;
    assert_int_equal(kx_reg_terminate(f->reg, a, NULL, NULL), STATUS_SUCCESS);
    snprintf(expect, sizeof expect,
             "removed KXSensor@0x%llx gone;removed 6F1C2A40-0000-4000-8000-000000000001 gone;",
             (unsigned long long)s);
    assert_string_equal(h.log, expect);
    assert_int_equal(kx_reg_watch_class(f->reg, NULL, NULL, NULL), STATUS_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watcher_hears_its_class_come_and_go_outside_the_lock,
                                        rfx_setup, rfx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
