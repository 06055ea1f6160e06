/* lx_test.c — see lx_test.h. */
#include "lx_test.h"

#include "sysfs_fixture.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int setup_with(void **state, int machine, int publish)
{
    struct lxt *t = calloc(1, sizeof *t);
    assert_non_null(t);
    assert_int_equal(kx_classes_new(&t->classes), STATUS_SUCCESS);
    assert_int_equal(kx_reg_new(t->classes, &t->reg), STATUS_SUCCESS);
    struct kx_reg_info info;
    assert_int_equal(kx_reg_info(t->reg, kx_reg_platform(t->reg), &info), STATUS_SUCCESS);
    snprintf(t->platform, sizeof t->platform, "%s", info.name);
    t->root = sfx_new();
    if (machine)
        sfx_machine(t->root);
    if (publish)
        lxt_publish(t);
    *state = t;
    return 0;
}

int lxt_setup(void **state)
{
    return setup_with(state, 1, 1);
}

int lxt_setup_unpublished(void **state)
{
    return setup_with(state, 1, 0);
}

int lxt_setup_empty(void **state)
{
    return setup_with(state, 0, 0);
}

int lxt_teardown(void **state)
{
    struct lxt *t = *state;
    kx_platform_report_clear(&t->rep);
    kx_reg_free(t->reg);
    kx_classes_free(t->classes);
    sfx_free(t->root);
    free(t);
    return 0;
}

void lxt_publish(struct lxt *t)
{
    assert_int_equal(kx_platform_linux_publish(t->reg, t->root, &t->rep), STATUS_SUCCESS);
}

kx_reg_id lxt_find(struct lxt *t, const char *plane, const char *rest)
{
    char path[1024];
    kx_reg_id id = KX_REG_ID_NONE;
    snprintf(path, sizeof path, "%s:/%s%s%s", plane, t->platform, *rest ? "/" : "", rest);
    if (kx_reg_lookup_path(t->reg, path, &id) != STATUS_SUCCESS)
        return KX_REG_ID_NONE;
    return id;
}

kx_reg_id lxt_at(struct lxt *t, const char *rest, const char *class_name)
{
    kx_reg_id id = lxt_find(t, "IOService", rest);
    struct kx_reg_info info;
    if (id == KX_REG_ID_NONE)
        fail_msg("nothing at IOService:/%s/%s", t->platform, rest);
    assert_int_equal(kx_reg_info(t->reg, id, &info), STATUS_SUCCESS);
    assert_string_equal(info.class_name, class_name);
    return id;
}

size_t lxt_count(struct lxt *t, const char *class_name)
{
    kx_reg_id *ids = NULL;
    size_t n = 0, exact = 0;
    assert_int_equal(kx_reg_find_class(t->reg, class_name, &ids, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++) {
        struct kx_reg_info info;
        assert_int_equal(kx_reg_info(t->reg, ids[i], &info), STATUS_SUCCESS);
        exact += strcmp(info.class_name, class_name) == 0;
    }
    free(ids);
    return exact;
}

static plist_t prop(struct lxt *t, kx_reg_id id, const char *key, plist_type type)
{
    plist_t v = NULL;
    assert_int_equal(kx_reg_prop_copy(t->reg, id, key, &v), STATUS_SUCCESS);
    if (!v)
        fail_msg("no property %s", key);
    if (plist_get_node_type(v) != type)
        fail_msg("property %s has the wrong type", key);
    return v;
}

void lxt_data(struct lxt *t, kx_reg_id id, const char *key, const void *bytes, size_t len)
{
    plist_t v = prop(t, id, key, PLIST_DATA);
    uint64_t n = 0;
    const char *p = plist_get_data_ptr(v, &n);
    if (n != len || memcmp(p, bytes, len) != 0)
        fail_msg("property %s: %llu bytes, not the %zu expected, or other bytes", key,
                 (unsigned long long)n, len);
    plist_free(v);
}

void lxt_uint(struct lxt *t, kx_reg_id id, const char *key, uint64_t v)
{
    plist_t p = prop(t, id, key, PLIST_UINT);
    uint64_t got = 0;
    plist_get_uint_val(p, &got);
    if (got != v)
        fail_msg("property %s: %llu, not %llu", key, (unsigned long long)got,
                 (unsigned long long)v);
    plist_free(p);
}

void lxt_str(struct lxt *t, kx_reg_id id, const char *key, const char *s)
{
    plist_t p = prop(t, id, key, PLIST_STRING);
    assert_string_equal(plist_get_string_ptr(p, NULL), s);
    plist_free(p);
}

void lxt_absent(struct lxt *t, kx_reg_id id, const char *key)
{
    plist_t v = NULL;
    assert_int_equal(kx_reg_prop_copy(t->reg, id, key, &v), STATUS_SUCCESS);
    if (v)
        fail_msg("property %s should be absent", key);
}

void lxt_location(struct lxt *t, kx_reg_id id, const char *location)
{
    struct kx_reg_info info;
    assert_int_equal(kx_reg_info(t->reg, id, &info), STATUS_SUCCESS);
    assert_string_equal(info.location, location);
}

const char *lxt_skipped(const struct lxt *t, const char *text)
{
    for (size_t i = 0; i < t->rep.n_skipped; i++)
        if (strstr(t->rep.skipped[i], text))
            return t->rep.skipped[i];
    return NULL;
}
