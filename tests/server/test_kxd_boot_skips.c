/* test_kxd_boot_skips.c — every kext a boot leaves out, and every kext that
 * fails to load during boot, is named once with its reason in kxd's log and
 * in the kernel log (`kx log`).
 *
 * The folder holds one kext of each kind a boot drops — a malformed
 * Info.plist, an executable that is not ELF, a bundle that is a symbolic link
 * leaving the folder, a symbolic-link loop, a missing dependency — two that
 * fail while loading (DriverEntry, the link check) and a good one. The
 * reasons are not spelled out here: the test plans the same boot in-process,
 * as `kx boot --plan` does, and expects each skipped kext's line to carry the
 * plan's reason, so the log and the plan can't tell different stories.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <kx/boot.h>
#include <kx/io.h>
#include <kx/kext.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The bundles of the folder a boot leaves out, with what their reason must say. */
static const struct {
    const char *name, *reason;
} skipped[] = {
    {"BadPlist.kext", "KX1002 Can't parse info dictionary XML"},
    {"Garbage.kext", "KX1010 Executable file doesn't contain kernel extension code"},
    {"Escape.kext", "KX2004 Symbolic link points outside of the extensions folder"},
    {"a.kext", "too many levels of symbolic links"},
    {"b.kext", "too many levels of symbolic links"},
    {"Orphan.kext", "KX3001 No kexts found for these libraries: org.kx.library.Missing"},
};

/* The bundles that are planned but fail to load, with their libkern status. */
static const struct {
    const char *name, *status, *reason;
} failed[] = {
    {"FailEntry.kext", "start/stop routine failed", "DriverEntry failed"},
    {"Undeclared.kext", "link error",
     "KX3016 The following symbols are unresolved for this kext: ringbuf_"},
};

/* A copy of Zero.kext (Root, no libraries) under another identifier. */
static int zero_as(const char *build, const char *dest, const char *id)
{
    return kxd_sh("cp -a %s/extensions/Zero.kext %s && sed -i 's/org\\.kx\\.driver\\.Zero/%s/' "
                  "%s/Contents/Info.plist",
                  build, dest, id, dest);
}

static int setup(void **state)
{
    struct kxd_proc *p = calloc(1, sizeof *p);
    const char *build = getenv("KX_BUILD_DIR");
    char out[300], dest[600];
    if (!p || !build)
        return -1;
    *state = p;
    snprintf(p->dir, sizeof p->dir, "/tmp/kxd-skips-XXXXXX");
    if (!mkdtemp(p->dir) || chmod(p->dir, 0755) != 0)
        return -1;
    snprintf(p->ext, sizeof p->ext, "%s/ext", p->dir);
    snprintf(out, sizeof out, "%s/outside", p->dir);
    const char *e = p->ext;
    if (kxd_sh(
            "mkdir %s %s && cp -a %s/extensions/Zero.kext %s/extensions/RingBuffer.kext "
            "%s/tests/test-extensions/FailEntry.kext %s/tests/test-extensions/Undeclared.kext %s/",
            e, out, build, build, build, build, e) != 0)
        return -1;
    /* (a) an Info.plist that isn't XML */
    snprintf(dest, sizeof dest, "%s/BadPlist.kext", e);
    if (zero_as(build, dest, "org.kx.test.BadPlist") != 0 ||
        kxd_sh("printf '<plist><dict><key>oops' > %s/Contents/Info.plist", dest) != 0)
        return -1;
    /* (b) an executable that is neither ELF nor Mach-O */
    snprintf(dest, sizeof dest, "%s/Garbage.kext", e);
    if (zero_as(build, dest, "org.kx.test.Garbage") != 0 ||
        kxd_sh("printf 'these bytes are not an executable' > %s/Contents/Linux/Zero", dest) != 0)
        return -1;
    /* (c) a bundle that is a symbolic link to a folder outside the extensions folder */
    snprintf(dest, sizeof dest, "%s/Escape.kext", out);
    if (zero_as(build, dest, "org.kx.test.Escape") != 0 ||
        kxd_sh("ln -s ../outside/Escape.kext %s/Escape.kext", e) != 0)
        return -1;
    /* (d) a symbolic-link loop */
    if (kxd_sh("ln -s b.kext %s/a.kext && ln -s a.kext %s/b.kext", e, e) != 0)
        return -1;
    /* (e) a library nobody has */
    snprintf(dest, sizeof dest, "%s/Orphan.kext", e);
    if (zero_as(build, dest, "org.kx.test.Orphan") != 0 ||
        kxd_sh("sed -i 's|<key>org.kx.kpi.kmdf</key>|<key>org.kx.library.Missing</key>"
               "<string>1.0</string>&|' %s/Contents/Info.plist",
               dest) != 0)
        return -1;
    return kxd_start_args(p, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    struct kxd_proc *p = *state;
    int rc = p && p->pid > 0 ? kxd_stop(p) : 0;
    if (p && p->dir[0])
        kxd_sh("rm -rf %s", p->dir);
    free(p);
    return rc == 0 ? 0 : -1;
}

/* The kernel log's texts, one per line (malloc'ed). */
static char *kernel_log(const struct kxd_proc *p)
{
    kx_client *c = kxd_connect(p);
    struct kx_client_log_line *lines = NULL;
    size_t n = 0, len = 0;
    char *out = NULL;
    assert_non_null(c);
    assert_int_equal(kx_client_log(c, 0, &lines, &n), STATUS_SUCCESS);
    FILE *f = open_memstream(&out, &len);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i].text);
    fclose(f);
    kx_client_log_free(lines, n);
    kx_client_disconnect(c);
    return out;
}

/* Lines of text that contain every one of the NULL-terminated needles. */
static size_t lines_with(const char *text, ...)
{
    size_t count = 0;
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *one = strndup(line, len);
        int all = 1;
        va_list ap;
        va_start(ap, text);
        for (const char *needle; (needle = va_arg(ap, const char *)) != NULL;)
            all &= strstr(one, needle) != NULL;
        va_end(ap);
        count += (size_t)all;
        free(one);
        line = end ? end + 1 : NULL;
    }
    return count;
}

/* "<ext>/<name>" with a separator that can't be a prefix of a longer name. */
static void bundle_line_start(const struct kxd_proc *p, const char *name, const char *what,
                              char *out, size_t size)
{
    snprintf(out, size, "%s/%s%s", p->ext, name, what);
}

/* The boot kxd made, planned again in-process as `kx boot --plan --no-auth --no-cache`. */
static struct kx_boot_plan *plan_again(const struct kxd_proc *p, struct kx_kext_repo **repo)
{
    struct kx_kext_options opts = KX_KEXT_OPTIONS_INIT;
    struct kx_boot_config cfg = KX_BOOT_CONFIG_INIT;
    const char *folders[] = {p->ext};
    struct kx_boot_plan *plan = NULL;
    opts.flags |= KX_KEXT_NO_AUTH;
    cfg.folders = folders;
    cfg.n_folders = 1;
    cfg.flags = KX_BOOT_NO_CACHE;
    assert_int_equal(kx_kext_repo_new(&opts, repo), STATUS_SUCCESS);
    assert_int_equal(kx_boot_plan_make(&cfg, *repo, &plan), STATUS_SUCCESS);
    return plan;
}

static void test_every_skipped_kext_is_named_once_with_the_plans_reason(void **state)
{
    struct kxd_proc *p = *state;
    struct kx_kext_repo *repo = NULL;
    struct kx_boot_plan *plan = plan_again(p, &repo);
    char *log = kxd_read_log(p), *klog = kernel_log(p);

    /* each case is left out for its own reason, not a generic one */
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++) {
        const struct kx_boot_item *found = NULL;
        for (size_t j = 0; j < kx_boot_plan_count(plan, KX_BOOT_NOT_LOADED); j++) {
            const struct kx_boot_item *b = kx_boot_plan_item(plan, KX_BOOT_NOT_LOADED, j);
            const char *slash = strrchr(b->path, '/');
            if (slash && strcmp(slash + 1, skipped[i].name) == 0)
                found = b;
        }
        assert_non_null(found);
        assert_non_null(strstr(found->reason, skipped[i].reason));
    }
    /* unreadable entries are among them, not among the plan's warnings too */
    const struct kx_diags *w = kx_boot_plan_diags(plan);
    for (size_t j = 0; j < w->n_items; j++)
        assert_false(w->items[j].code == KX_D_BUNDLE_OPEN && w->items[j].subject);
    /* and every kext the plan leaves out is one line in each log, with the plan's reason */
    assert_int_equal(kx_boot_plan_count(plan, KX_BOOT_NOT_LOADED),
                     sizeof skipped / sizeof skipped[0]);
    for (size_t j = 0; j < kx_boot_plan_count(plan, KX_BOOT_NOT_LOADED); j++) {
        const struct kx_boot_item *b = kx_boot_plan_item(plan, KX_BOOT_NOT_LOADED, j);
        char line[2048], head[1024];
        snprintf(head, sizeof head, "%s: not loaded: ", b->path);
        snprintf(line, sizeof line, "%s%s", head, b->reason);
        assert_int_equal(lines_with(log, "warning: ", line, NULL), 1);
        assert_int_equal(lines_with(log, head, NULL), 1);
        /* the kernel log keeps KX_IO_LOG_TEXT_MAX - 1 bytes of a line; the start is the reason */
        line[KX_IO_LOG_TEXT_MAX - 4] = '\0';
        assert_int_equal(lines_with(klog, line, NULL), 1);
        assert_int_equal(lines_with(klog, head, NULL), 1);
    }
    /* the good kext loaded and isn't named as skipped */
    kx_client *c = kxd_connect(p);
    assert_true(kxd_tag_of(c, "org.kx.driver.Zero") != 0);
    kx_client_disconnect(c);
    assert_int_equal(lines_with(log, "Zero.kext: not loaded", NULL), 0);
    free(log);
    free(klog);
    kx_boot_plan_free(plan);
    kx_kext_repo_free(repo);
}

static void test_a_symlink_loop_is_named_as_such(void **state)
{
    struct kxd_proc *p = *state;
    char *log = kxd_read_log(p), *klog = kernel_log(p);
    const char *loop[] = {"a.kext", "b.kext"};
    for (size_t i = 0; i < 2; i++) {
        char head[600];
        bundle_line_start(p, loop[i], ": not loaded: ", head, sizeof head);
        assert_int_equal(lines_with(log, head, "too many levels of symbolic links", NULL), 1);
        assert_int_equal(lines_with(klog, head, "too many levels of symbolic links", NULL), 1);
        assert_int_equal(lines_with(log, loop[i], "input/output error", NULL), 0);
    }
    free(log);
    free(klog);
}

static void test_failed_loads_are_named_once_with_their_reason(void **state)
{
    struct kxd_proc *p = *state;
    char *log = kxd_read_log(p), *klog = kernel_log(p);
    for (size_t i = 0; i < sizeof failed / sizeof failed[0]; i++) {
        char head[600];
        bundle_line_start(p, failed[i].name, " failed to load - ", head, sizeof head);
        assert_int_equal(
            lines_with(log, "warning: ", head, failed[i].status, failed[i].reason, NULL), 1);
        assert_int_equal(lines_with(log, head, NULL), 1);
        assert_int_equal(lines_with(klog, head, failed[i].status, failed[i].reason, NULL), 1);
        assert_int_equal(lines_with(klog, head, NULL), 1);
    }
    free(log);
    free(klog);
}

static void test_a_boot_from_the_cache_names_the_same_kexts(void **state)
{
    struct kxd_proc *p = *state;
    char *log = kxd_read_log(p);
    assert_int_equal(lines_with(log, "kext cache rebuilt", NULL), 1); /* the first boot's */
    free(log);
    assert_int_equal(kxd_stop(p), 0);
    assert_int_equal(kxd_start_args(p, NULL), 0);
    log = kxd_read_log(p);
    char *klog = kernel_log(p);
    assert_int_equal(lines_with(log, "boot from the kext cache", NULL), 1);
    for (size_t i = 0; i < sizeof skipped / sizeof skipped[0]; i++) {
        char head[600];
        bundle_line_start(p, skipped[i].name, ": not loaded: ", head, sizeof head);
        assert_int_equal(lines_with(log, head, skipped[i].reason, NULL), 1);
        assert_int_equal(lines_with(log, head, NULL), 1);
        assert_int_equal(lines_with(klog, head, skipped[i].reason, NULL), 1);
    }
    for (size_t i = 0; i < sizeof failed / sizeof failed[0]; i++) {
        char head[600];
        bundle_line_start(p, failed[i].name, " failed to load - ", head, sizeof head);
        assert_int_equal(lines_with(log, head, failed[i].status, failed[i].reason, NULL), 1);
        assert_int_equal(lines_with(klog, head, failed[i].status, failed[i].reason, NULL), 1);
    }
    free(log);
    free(klog);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_skipped_kext_is_named_once_with_the_plans_reason,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_symlink_loop_is_named_as_such, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_loads_are_named_once_with_their_reason, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_boot_from_the_cache_names_the_same_kexts, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
