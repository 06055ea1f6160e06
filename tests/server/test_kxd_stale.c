/* test_kxd_stale.c — kxd keeps every bundle it was given by path, and
 * `kextload -b` reads the copies again before it picks one: the newest
 * valid copy wins over a newer broken one (and the report says which copy
 * was chosen and why the other was passed over), a copy whose bundle was
 * deleted is forgotten, and a bundle fixed on disk is seen fixed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ID "org.kx.test.UserLoad"

static void sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_int_equal(system(cmd), 0);
}

static char *loaded_path(kx_client *c, const char *id)
{
    struct kx_client_kext *ks = NULL;
    size_t n = 0;
    char *path = NULL;
    assert_int_equal(kx_client_stat(c, &ks, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++)
        if (strcmp(ks[i].id, id) == 0)
            path = strdup(ks[i].path);
    kx_client_kexts_free(ks, n);
    return path;
}

static void load_by_id_rereads_and_prefers_the_newest_valid_copy(void **state)
{
    struct kxd_proc *p = *state;
    char good[600], broken[600];
    snprintf(good, sizeof good, "%s/a/UserLoad.kext", p->dir);
    snprintf(broken, sizeof broken, "%s/b/UserLoad.kext", p->dir);
    /* a: the real bundle, 1.0.0; b: version 9.0.0 with its executable gone */
    sh("mkdir -p %s/a %s/b && cp -a %s/UserLoad.kext %s/a/ && cp -a %s/UserLoad.kext %s/b/",
       p->dir, p->dir, p->test_ext, p->dir, p->test_ext, p->dir);
    sh("sed -i 's|<string>1.0.0</string>|<string>9.0.0</string>|' %s/Contents/Info.plist && "
       "mv %s/Contents/Linux/UserLoad %s/../UserLoad.so",
       broken, broken, broken);

    kx_client *c = kxd_connect(p);
    assert_non_null(c);
    /* kxd reads both (by path, as root); the broken one fails. */
    assert_int_equal(kx_client_load(c, good, KX_LOAD_DRY_RUN), STATUS_SUCCESS);
    assert_int_not_equal(kx_client_load(c, broken, KX_LOAD_DRY_RUN), STATUS_SUCCESS);

    /* By identifier: the valid 1.0.0 copy, not the newer broken one. */
    assert_int_equal(kx_client_load(c, ID, KX_LOAD_DRY_RUN), STATUS_SUCCESS);
    const char *msg = kx_client_message(c);
    char want[700];
    snprintf(want, sizeof want, "chose %s (1.0.0), the newest valid one", good);
    if (!strstr(msg, want))
        fail_msg("expected \"%s\" in:\n%s", want, msg);
    snprintf(want, sizeof want, "passed over %s (9.0.0): ", broken);
    assert_non_null(strstr(msg, want));

    /* The good copy is deleted: forgotten; only the broken one is left. */
    sh("rm -rf %s/a", p->dir);
    assert_int_not_equal(kx_client_load(c, ID, KX_LOAD_DRY_RUN), STATUS_SUCCESS);
    msg = kx_client_message(c);
    snprintf(want, sizeof want, "forgot %s: the bundle is gone", good);
    if (!strstr(msg, want))
        fail_msg("expected \"%s\" in:\n%s", want, msg);

    /* The broken copy is fixed on disk: read again, it loads. */
    sh("cp %s/UserLoad.kext/Contents/Info.plist %s/Contents/Info.plist && "
       "mv %s/../UserLoad.so %s/Contents/Linux/UserLoad",
       p->test_ext, broken, broken, broken);
    assert_int_equal(kx_client_load(c, ID, 0), STATUS_SUCCESS);
    char *path = loaded_path(c, ID);
    assert_non_null(path);
    assert_string_equal(path, broken);
    free(path);
    assert_int_equal(kx_client_unload(c, ID, 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
    sh("rm -rf %s/b", p->dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KXD_TEST(load_by_id_rereads_and_prefers_the_newest_valid_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
