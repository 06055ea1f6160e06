/* test_lua_null.c — the seed's null.sys.lua, extracted from the seed
 * document unmodified, packaged as a kext and run by kxd, in a kx-host
 * process and in-process: while kx's C Null holds \Device\Null0 the load
 * fails cleanly naming the holder; after C Null is unloaded it loads, a
 * write returns its length, a read returns end of file, the seed's [DK]
 * lines reach the kernel log in order, and unload deletes link and device.
 * Where FUSE is usable, the same through kx's mount (DIR/null): a write
 * returns its length, a read end of file; otherwise that part is skipped,
 * saying why. Skipped (exit 77) without the seed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lua_kext.h"
#include "server/harness.h"

#include "patience.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *seed;

/* Why kx's FUSE mount can't be used here, or NULL (as tests/fuse does). */
static const char *fuse_unusable(void)
{
    struct stat st;
    if (stat("/dev/fuse", &st) != 0 || !S_ISCHR(st.st_mode))
        return "no /dev/fuse";
    if (getuid() != 0 && kxd_sh("command -v fusermount3 >/dev/null") != 0)
        return "not root and no fusermount3";
    return NULL;
}

/* The seed's null through kx's mount: DIR/null takes a write whole and reads
 * as end of file. The mount is taken down again before kxd stops. */
static void check_null_through_fuse(struct kxd_proc *p, kx_client *c)
{
    const char *why = fuse_unusable();
    if (why) {
        fprintf(stderr, "skipped the FUSE part: %s\n", why);
        return;
    }
    char mnt[300], file[320];
    snprintf(mnt, sizeof mnt, "%s/mnt", p->dir);
    snprintf(file, sizeof file, "%s/null", mnt);
    assert_int_equal(mkdir(mnt, 0755), 0);
    kx_status st = kx_client_mount(c, mnt);
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "skipped the FUSE part: kx mount %s: %s: %s\n", mnt, kx_status_name(st),
                kx_client_message(c));
        return;
    }
    T_WAIT_FOR(access(file, F_OK) == 0);
    int fd = open(file, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello", 5), 5);
    char buf[16];
    assert_int_equal(read(fd, buf, sizeof buf), 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(kxd_sh("umount -l %s 2>/dev/null || fusermount3 -u -z %s", mnt, mnt), 0);
}

static void run_seed_null(struct kxd_proc *p)
{
    kx_client *c = kxd_connect(p);
    char *kext = lua_kext_make(p->dir, "AxisNull", "null.sys.lua", "1.0.0", seed);
    assert_non_null(kext);

    /* C Null holds \Device\Null0 and /dev/null: the load fails, naming it */
    assert_true(kxd_tag_of(c, "org.kx.driver.Null") != 0);
    assert_int_equal(lua_kext_load(c, kext), STATUS_KEXT_START_FAILED);
    assert_int_equal(kxd_tag_of(c, "org.kx.test.AxisNull"), 0);
    char *log = lua_kernel_log(p);
    KXD_ASSERT_MATCHES(log, "AxisNull can't create \\\\Device\\\\Null0: "
                            "STATUS_DEVICE_ALREADY_EXISTS, held by \\\\Driver\\\\Null");
    free(log);
    uint32_t h;
    uint64_t info = 0;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 0, "x", 1, 0, &info), STATUS_SUCCESS);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);

    /* the test unloads C Null first, then the seed's driver serves /dev/null */
    assert_int_equal(kx_client_unload(c, "org.kx.driver.Null", 0), STATUS_SUCCESS);
    assert_int_equal(lua_kext_load(c, kext), STATUS_SUCCESS);
    assert_true(kxd_tag_of(c, "org.kx.test.AxisNull") != 0);
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_READ | KX_ACCESS_WRITE, &h),
                     STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 0, "hello", 5, 0, &info), STATUS_SUCCESS);
    assert_int_equal(info, 5);
    char buf[16];
    size_t got = 99;
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf, 0, &got), STATUS_END_OF_FILE);
    assert_int_equal(got, 0);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    check_null_through_fuse(p, c);

    assert_int_equal(kx_client_unload(c, "org.kx.test.AxisNull", 0), STATUS_SUCCESS);
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_NO_SUCH_FILE);
    char *ls = NULL;
    kxd_run(&ls, "KX_SOCKET=%s ./kx ls 2>&1", p->socket);
    assert_non_null(ls);
    assert_null(strstr(ls, "Null0"));
    free(ls);

    log = lua_kernel_log(p);
    const char *order[] = {
        "[DK] AxisNull DriverEntry starting.",
        "[DK] AxisNull DriverEntry completed successfully.",
        "[DK] NULL: IRP_MJ_CREATE received.",
        "[DK] NULL: IRP_MJ_WRITE received, discarding 5 bytes.",
        "[DK] NULL: IRP_MJ_READ received, returning EOF.",
        "[DK] NULL: IRP_MJ_CLOSE received.",
        "[DK] AxisNull DriverUnload starting.",
        "[DK] AxisNull DriverUnload completed.",
    };
    /* the failed first load printed DriverEntry starting too: look after its failure */
    const char *after = strstr(log, "STATUS_DEVICE_ALREADY_EXISTS");
    assert_non_null(after);
    assert_true(lua_in_order(after, order, sizeof order / sizeof order[0]));
    free(log);
    free(kext);
    kx_client_disconnect(c);
}

static void test_seed_null_in_host_process(void **state)
{
    run_seed_null(*state);
}
static void test_seed_null_in_process(void **state)
{
    run_seed_null(*state);
}

int main(void)
{
    seed = lua_seed_null();
    if (!seed) {
        fprintf(stderr, "skipped: the seed (KX_SHARED_DIR/seeds/"
                        "axisos-kmdf-api-and-null-driver.md) is not there\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_seed_null_in_host_process, lua_setup_host, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_seed_null_in_process, lua_setup_inproc, kxd_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(seed);
    return rc;
}
