/* lx_test.h — a registry with the fake machine of sysfs_fixture.h published, and asserts on
 * entries and their properties. Every helper fails the test on a mismatch. */
#ifndef KX_TESTS_LX_TEST_H
#define KX_TESTS_LX_TEST_H

#include <kx/platform.h>
#include <kx/registry.h>

#include <stddef.h>
#include <stdint.h>

struct lxt {
    struct kx_classes *classes;
    struct kx_reg *reg;
    char *root; /* the fake sysfs tree */
    struct kx_platform_report rep;
    char platform[64]; /* the platform expert's name, for paths */
};

/* cmocka setups: the machine built and published (reported in rep); the machine built but
 * not published; an empty tree (devices/ only). */
int lxt_setup(void **state);
int lxt_setup_unpublished(void **state);
int lxt_setup_empty(void **state);
int lxt_teardown(void **state);

/* Publishes t->root into t->reg (into t->rep), asserting success. */
void lxt_publish(struct lxt *t);

/* The entry at plane:/<platform>/rest ("IOService", "AppleACPIPlatformExpert/PCI0@0"), or
 * KX_REG_ID_NONE. */
kx_reg_id lxt_find(struct lxt *t, const char *plane, const char *rest);
/* The same, failing the test when absent, and checking its class. */
kx_reg_id lxt_at(struct lxt *t, const char *rest, const char *class_name);
/* Entries of exactly this class. */
size_t lxt_count(struct lxt *t, const char *class_name);

void lxt_data(struct lxt *t, kx_reg_id id, const char *key, const void *bytes, size_t len);
void lxt_uint(struct lxt *t, kx_reg_id id, const char *key, uint64_t v);
void lxt_str(struct lxt *t, kx_reg_id id, const char *key, const char *s);
void lxt_absent(struct lxt *t, kx_reg_id id, const char *key);
void lxt_location(struct lxt *t, kx_reg_id id, const char *location);

/* The first skipped line containing text, or NULL. */
const char *lxt_skipped(const struct lxt *t, const char *text);

/* The ACPI machine's prefix for PCI functions. */
#define LXT_PCI "AppleACPIPlatformExpert/PCI0@0/AppleACPIPCI/"

#endif
