/* test_kxd_host.c — drivers in kx-host processes (kxd --host-mode process):
 * the samples work through their hosts (requests larger than a packet of
 * the transport included), and a host that crashes, aborts or
 * exits in a dispatch routine is contained: kxd keeps serving, every
 * request of the driver (the one that killed it and one pending) is answered
 * STATUS_DRIVER_PROCESS_TERMINATED, its device and link go, the kernel log
 * says how it died, and kxd is left with no more descriptors, threads or
 * child processes than before the driver was loaded. A routine that hangs
 * gets its host killed by the watchdog (STATUS_DRIVER_NOT_RESPONDING). By its
 * kext's restart policy a driver whose host died is started again and its
 * device comes back; past the policy's limit it stays stopped, and kextstat
 * and kx ls say so. Batches from many clients at once through one host are
 * each answered once with their own result, also the answers that arrive
 * after kxd stopped submitting (nobody collects them then: kxd's reader
 * thread must). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "../patience.h"
#include "harness.h"
#include "kexts/crash_ioctl.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int host_setup(void **state)
{
    const char *args[] = {"--host-mode", "process", NULL};
    return kxd_setup_args(state, args);
}

/* A short hang deadline: the watchdog tests. */
static int hang_setup(void **state)
{
    const char *args[] = {"--host-mode", "process", "--hang-ms", "1000", NULL};
    return kxd_setup_args(state, args);
}

static size_t count_dir(const char *fmt, int pid)
{
    char path[64];
    snprintf(path, sizeof path, fmt, pid);
    DIR *d = opendir(path);
    size_t n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

/* kxd's children: how many, how many named kx-host (comm and argv[0]), how
 * many zombies. */
struct kids {
    size_t n, hosts, zombies;
};

static struct kids children_of(int pid)
{
    struct kids k = {0};
    DIR *d = opendir("/proc");
    for (struct dirent *e; d && (e = readdir(d));) {
        char path[300], buf[512], comm[64] = "", st = 0;
        int ppid = 0;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(buf, sizeof buf, f)) {
            char *rp = strrchr(buf, ')');
            char *lp = strchr(buf, '(');
            if (lp && rp && rp > lp) {
                snprintf(comm, sizeof comm, "%.*s", (int)(rp - lp - 1), lp + 1);
                sscanf(rp + 2, "%c %d", &st, &ppid);
            }
        }
        fclose(f);
        if (ppid != pid)
            continue;
        k.n++;
        k.zombies += st == 'Z';
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        f = fopen(path, "r");
        size_t got = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        buf[got] = 0;
        if (f)
            fclose(f);
        k.hosts += strcmp(comm, "kx-host") == 0 && strcmp(buf, "kx-host") == 0;
    }
    if (d)
        closedir(d);
    return k;
}

static char *kernel_log(const struct kxd_proc *p)
{
    char *out = NULL;
    kxd_run(&out, "KX_SOCKET=%s ./kx log", p->socket);
    return out;
}

static int log_has(const struct kxd_proc *p, const char *pattern)
{
    char *log = kernel_log(p);
    int n = log ? kxd_count_matches(log, pattern) : 0;
    free(log);
    return n > 0;
}

static void test_samples_run_in_hosts(void **state)
{
    struct kxd_proc *p = *state;
    /* Null, Zero, RamDisk, RingLog, Pipe: one kx-host each */
    struct kids k = children_of(p->pid);
    assert_int_equal(k.hosts, 5);
    kx_client *c = kxd_connect(p);
    uint32_t h;
    uint64_t info = 0;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 0, "hello", 5, 0, &info), STATUS_SUCCESS);
    assert_int_equal(info, 5);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    /* output bytes come back from the host; a sector goes there and back */
    char sector[512], back[512];
    for (size_t i = 0; i < sizeof sector; i++)
        sector[i] = (char)(i * 7);
    size_t got = 0;
    assert_int_equal(kx_client_open(c, "/dev/ram0", KX_ACCESS_READ | KX_ACCESS_WRITE, &h),
                     STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 4096, sector, sizeof sector, 0, &info), STATUS_SUCCESS);
    assert_int_equal(kx_client_read(c, h, 4096, back, sizeof back, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, sizeof back);
    assert_memory_equal(sector, back, sizeof back);
    /* larger than one packet of the transport, both ways */
    size_t big_len = 256 * 1024;
    char *big = malloc(big_len), *big_back = malloc(big_len);
    assert_non_null(big);
    assert_non_null(big_back);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 13 + (i >> 12));
    assert_int_equal(kx_client_write(c, h, 0, big, big_len, 0, &info), STATUS_SUCCESS);
    assert_int_equal(info, big_len);
    assert_int_equal(kx_client_read(c, h, 0, big_back, big_len, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, big_len);
    assert_memory_equal(big, big_back, big_len);
    free(big);
    free(big_back);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    /* DkPrint lines travel too */
    assert_true(log_has(p, "Null +\\[DK\\] NULL: IRP_MJ_WRITE"));
    kx_client_disconnect(c);
}

#define BATCH_CLIENTS 4
#define BATCH_ROUNDS  60
#define BATCH_SIZE    KX_CLIENT_BATCH_MAX

struct batcher {
    const struct kxd_proc *p;
    int id;
    kx_status st;
    size_t wrong; /* requests whose answer was not their own */
};

/* Batches of writes to /dev/zero, whose driver answers each with its length;
 * now and then a pause, so the last answers arrive while nothing is sent. */
static void *write_batches(void *arg)
{
    struct batcher *b = arg;
    static const char bytes[BATCH_SIZE];
    kx_client *c = NULL;
    uint32_t h;
    b->st = kx_client_connect(b->p->socket, &c);
    if (b->st == STATUS_SUCCESS)
        b->st = kx_client_open(c, "/dev/zero", KX_ACCESS_WRITE, &h);
    for (int round = 0; round < BATCH_ROUNDS && b->st == STATUS_SUCCESS; round++) {
        struct kx_client_io ios[BATCH_SIZE];
        memset(ios, 0, sizeof ios);
        for (size_t i = 0; i < BATCH_SIZE; i++) {
            ios[i].op = KX_CLIENT_OP_WRITE;
            ios[i].handle = h;
            ios[i].in = bytes;
            ios[i].in_len = (i + (size_t)b->id + (size_t)round) % BATCH_SIZE;
            ios[i].status = STATUS_PENDING;
        }
        b->st = kx_client_submit(c, ios, BATCH_SIZE);
        for (size_t i = 0; i < BATCH_SIZE; i++)
            b->wrong += ios[i].status != STATUS_SUCCESS || ios[i].information != ios[i].in_len;
        if (round % 8 == 7)
            t_sleep_ms(2);
    }
    kx_client_disconnect(c);
    return NULL;
}

static void test_batches_through_a_host_are_answered_once_each(void **state)
{
    struct kxd_proc *p = *state;
    pthread_t t[BATCH_CLIENTS];
    struct batcher b[BATCH_CLIENTS];
    for (int i = 0; i < BATCH_CLIENTS; i++) {
        b[i] = (struct batcher){p, i, STATUS_SUCCESS, 0};
        assert_int_equal(pthread_create(&t[i], NULL, write_batches, &b[i]), 0);
    }
    for (int i = 0; i < BATCH_CLIENTS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(b[i].st, STATUS_SUCCESS);
        assert_int_equal(b[i].wrong, 0);
    }
    /* kxd and the host are still well: a plain request goes through. */
    kx_client *c = kxd_connect(p);
    uint32_t h;
    uint64_t info = 0;
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_write(c, h, 0, "abc", 3, 0, &info), STATUS_SUCCESS);
    assert_int_equal(info, 3);
    kx_client_disconnect(c);
}

struct pender {
    const struct kxd_proc *p;
    kx_status st;
};

static void *pend(void *arg)
{
    struct pender *pe = arg;
    kx_client *c = NULL;
    uint32_t h;
    pe->st = kx_client_connect(pe->p->socket, &c);
    if (pe->st == STATUS_SUCCESS)
        pe->st = kx_client_open(c, "/dev/Crash", KX_ACCESS_READ, &h);
    size_t got;
    if (pe->st == STATUS_SUCCESS)
        pe->st = kx_client_ioctl(c, h, IOCTL_CRASH_PEND, NULL, 0, NULL, 0, UINT32_MAX, &got);
    kx_client_disconnect(c);
    return NULL;
}

/* Loads Crash, leaves one request pending in it, tells it to die by `code`
 * and checks everything the containment promises; `how` matches the kernel
 * log's line about the death. */
static void die_by(struct kxd_proc *p, uint32_t code, const char *how, kx_status answer)
{
    size_t fds = count_dir("/proc/%d/fd", p->pid), threads = count_dir("/proc/%d/task", p->pid);
    struct kids before = children_of(p->pid);
    kx_client *c = kxd_connect(p);
    char path[600];
    snprintf(path, sizeof path, "%s/Crash.kext", p->test_ext);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
    assert_int_equal(children_of(p->pid).hosts, before.hosts + 1);
    uint32_t h;
    char out[8] = "";
    size_t got = 0;
    assert_int_equal(kx_client_open(c, "/dev/Crash", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    assert_int_equal(kx_client_ioctl(c, h, IOCTL_CRASH_PING, NULL, 0, out, sizeof out, 0, &got),
                     STATUS_SUCCESS);
    assert_int_equal(got, 4);
    assert_memory_equal(out, "pong", 4);

    struct pender pe = {p, STATUS_PENDING};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, pend, &pe), 0);
    T_WAIT_FOR(log_has(p, "Crash: request pending"));
    assert_true(log_has(p, "Crash: request pending"));

    /* No deadline of its own beyond the default: a hang is answered by the
     * watchdog, never by the requester giving up. */
    assert_int_equal(kx_client_ioctl(c, h, code, NULL, 0, NULL, 0, 0, &got), answer);
    pthread_join(t, NULL);
    assert_int_equal(pe.st, answer);

    /* The handle fails from now on: the driver is gone or its device removed
     * (while its teardown runs), then the handle is revoked. Its device and link go; the
     * kernel log says who died and how. */
    kx_status st = kx_client_ioctl(c, h, IOCTL_CRASH_PING, NULL, 0, out, sizeof out, 0, &got);
    assert_true(st == answer || st == STATUS_DEVICE_REMOVED || st == STATUS_INVALID_HANDLE);
    T_WAIT_FOR(kx_client_open(c, "/dev/Crash", KX_ACCESS_READ, &h) == STATUS_NO_SUCH_FILE);
    assert_int_equal(kx_client_open(c, "/dev/Crash", KX_ACCESS_READ, &h), STATUS_NO_SUCH_FILE);
    assert_int_equal(kx_client_ioctl(c, h, IOCTL_CRASH_PING, NULL, 0, out, sizeof out, 0, &got),
                     STATUS_INVALID_HANDLE);
    char *log = kernel_log(p);
    KXD_ASSERT_MATCHES(log, how);
    KXD_ASSERT_MATCHES(log, "Crash +\\[IO\\] device \\\\Device\\\\Crash0 deleted by the manager "
                            "\\(its host process died\\)");
    KXD_ASSERT_MATCHES(log, "link /dev/Crash pointed at");
    free(log);

    /* kxd serves everything else throughout */
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    uint64_t info = 0;
    assert_int_equal(kx_client_write(c, h, 0, "x", 1, 0, &info), STATUS_SUCCESS);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    /* the kext stays loaded without its driver, and unloads */
    assert_true(kxd_tag_of(c, "org.kx.test.Crash") != 0);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Crash", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);

    /* nothing leaked: descriptors, threads, processes (the baseline may
     * still hold the start-up probe's connection, so never more than it) */
    T_WAIT_FOR(count_dir("/proc/%d/fd", p->pid) <= fds &&
               count_dir("/proc/%d/task", p->pid) <= threads);
    assert_true(count_dir("/proc/%d/fd", p->pid) <= fds);
    assert_true(count_dir("/proc/%d/task", p->pid) <= threads);
    struct kids after = children_of(p->pid);
    assert_int_equal(after.n, before.n);
    assert_int_equal(after.zombies, 0);
}

static void test_host_crash_is_contained(void **state)
{
    die_by(*state, IOCTL_CRASH_SEGV,
           "Crash +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) (killed by signal SIGSEGV|exited "
           "with status [0-9]+: AddressSanitizer: SEGV .*in crash_control); 2 request\\(s\\) "
           "answered STATUS_DRIVER_PROCESS_TERMINATED",
           STATUS_DRIVER_PROCESS_TERMINATED);
}

static void test_host_abort_is_contained(void **state)
{
    die_by(*state, IOCTL_CRASH_ABORT,
           "Crash +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) killed by signal SIGABRT",
           STATUS_DRIVER_PROCESS_TERMINATED);
}

static void test_host_exit_is_contained(void **state)
{
    die_by(*state, IOCTL_CRASH_EXIT,
           "Crash +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) exited with status 3",
           STATUS_DRIVER_PROCESS_TERMINATED);
}

/* A routine that never returns: the watchdog kills its host after hang_ms,
 * names the driver, the routine and the IRP major, and every request of the
 * driver is answered STATUS_DRIVER_NOT_RESPONDING. */
static void test_host_hang_is_killed(void **state)
{
    struct kxd_proc *p = *state;
    die_by(p, IOCTL_CRASH_HANG,
           "Crash +\\[IO\\] driver host kx-host \\(pid [0-9]+\\) killed by signal SIGKILL.* by the "
           "watchdog: not responding, IRP_MJ_DEVICE_CONTROL \\(control code 0x[0-9a-f]+\\) did not "
           "return; 2 request\\(s\\) answered STATUS_DRIVER_NOT_RESPONDING",
           STATUS_DRIVER_NOT_RESPONDING);
    char *log = kernel_log(p);
    KXD_ASSERT_MATCHES(log, "Crash +\\[IO\\] IRP_MJ_DEVICE_CONTROL \\(control code 0x[0-9a-f]+\\) "
                            "has not returned after [0-9]+ ms: driver not responding");
    free(log);
}

/* The kextstat row of id: its host's state, pid and restarts. */
static struct kx_client_kext row_of(kx_client *c, const char *id)
{
    struct kx_client_kext row = {0}, *kexts = NULL;
    size_t n = 0;
    if (kx_client_stat(c, &kexts, &n) == STATUS_SUCCESS)
        for (size_t i = 0; i < n; i++)
            if (strcmp(kexts[i].id, id) == 0) {
                row.tag = kexts[i].tag;
                row.host_pid = kexts[i].host_pid;
                row.host_state = kexts[i].host_state;
                row.restarts = kexts[i].restarts;
            }
    kx_client_kexts_free(kexts, n);
    return row;
}

static kx_status ping(kx_client *c, const char *path)
{
    uint32_t h;
    char out[8] = "";
    size_t got = 0;
    kx_status st = kx_client_open(c, path, KX_ACCESS_READ, &h);
    if (st != STATUS_SUCCESS)
        return st;
    st = kx_client_ioctl(c, h, IOCTL_CRASH_PING, NULL, 0, out, sizeof out, 0, &got);
    if (st == STATUS_SUCCESS && (got != 4 || memcmp(out, "pong", 4) != 0))
        st = STATUS_DATA_ERROR;
    kx_client_close(c, h);
    return st;
}

/* Opens path and has its driver die by code; returns the answer. */
static kx_status kill_through(kx_client *c, const char *path, uint32_t code)
{
    uint32_t h;
    size_t got = 0;
    kx_status st = kx_client_open(c, path, KX_ACCESS_READ, &h);
    if (st != STATUS_SUCCESS)
        return st;
    st = kx_client_ioctl(c, h, code, NULL, 0, NULL, 0, 0, &got);
    kx_client_close(c, h);
    return st;
}

#define PHOENIX_MATCHED "IOResources matched IOResources: org.kx.test.Phoenix \\(KXPhoenix"

static int matches_of(const struct kxd_proc *p, const char *pattern)
{
    char *log = kernel_log(p);
    int n = log ? kxd_count_matches(log, pattern) : 0;
    free(log);
    return n;
}

/* Phoenix (the default policy) crashes, hangs, and comes back each time in a
 * new host: its device is back and answers, its nub is matched again,
 * kextstat counts the restarts. */
static void test_host_restarts_after_death(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    char path[600];
    snprintf(path, sizeof path, "%s/Phoenix.kext", p->test_ext);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
    assert_int_equal(ping(c, "/dev/Phoenix"), STATUS_SUCCESS);
    T_WAIT_FOR(matches_of(p, PHOENIX_MATCHED) >= 1);
    assert_int_equal(matches_of(p, PHOENIX_MATCHED), 1);
    struct kx_client_kext r = row_of(c, "org.kx.test.Phoenix");
    assert_int_equal(r.host_state, 1); /* running */
    int32_t first = r.host_pid;
    assert_true(first > 0);

    assert_int_equal(kill_through(c, "/dev/Phoenix", IOCTL_CRASH_SEGV),
                     STATUS_DRIVER_PROCESS_TERMINATED);
    T_WAIT_FOR(ping(c, "/dev/Phoenix") == STATUS_SUCCESS);
    assert_int_equal(ping(c, "/dev/Phoenix"), STATUS_SUCCESS);
    r = row_of(c, "org.kx.test.Phoenix");
    assert_int_equal(r.host_state, 1);
    assert_int_equal(r.restarts, 1);
    assert_true(r.host_pid > 0 && r.host_pid != first);
    /* its instance went with the host; the restarted driver matched again */
    T_WAIT_FOR(matches_of(p, PHOENIX_MATCHED) >= 2);
    assert_int_equal(matches_of(p, PHOENIX_MATCHED), 2);

    /* a hang is a death too: killed, answered, restarted */
    assert_int_equal(kill_through(c, "/dev/Phoenix", IOCTL_CRASH_HANG),
                     STATUS_DRIVER_NOT_RESPONDING);
    T_WAIT_FOR(ping(c, "/dev/Phoenix") == STATUS_SUCCESS);
    assert_int_equal(ping(c, "/dev/Phoenix"), STATUS_SUCCESS);
    assert_int_equal(row_of(c, "org.kx.test.Phoenix").restarts, 2);
    char *log = kernel_log(p);
    KXD_ASSERT_MATCHES(log, "org.kx.test.Phoenix: its driver host died; restarting it in [0-9]+ ms "
                            "\\(restart 1 of 3 in 60 s\\)");
    KXD_ASSERT_MATCHES(log, "org.kx.test.Phoenix: restarted \\(kx-host pid [0-9]+; restart 2 of 3");
    free(log);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Phoenix", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

/* Four deaths within a minute: three restarts, then Phoenix stays stopped
 * and says so; nothing leaks on the way. */
static void test_host_stays_stopped_past_the_limit(void **state)
{
    struct kxd_proc *p = *state;
    size_t fds = count_dir("/proc/%d/fd", p->pid), threads = count_dir("/proc/%d/task", p->pid);
    struct kids before = children_of(p->pid);
    kx_client *c = kxd_connect(p);
    char path[600];
    snprintf(path, sizeof path, "%s/Phoenix.kext", p->test_ext);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
    for (int i = 0; i < 4; i++) {
        T_WAIT_FOR(ping(c, "/dev/Phoenix") == STATUS_SUCCESS);
        assert_int_equal(ping(c, "/dev/Phoenix"), STATUS_SUCCESS);
        assert_int_equal(kill_through(c, "/dev/Phoenix", IOCTL_CRASH_EXIT),
                         STATUS_DRIVER_PROCESS_TERMINATED);
    }
    T_WAIT_FOR(row_of(c, "org.kx.test.Phoenix").host_state == 3);
    struct kx_client_kext r = row_of(c, "org.kx.test.Phoenix");
    assert_int_equal(r.host_state, 3); /* stopped */
    assert_int_equal(r.restarts, 3);
    assert_true(r.tag != 0); /* still loaded, without a driver */
    assert_int_equal(ping(c, "/dev/Phoenix"), STATUS_NO_SUCH_FILE);

    char *out = NULL;
    kxd_run(&out, "KX_SOCKET=%s ./kx stat", p->socket);
    KXD_ASSERT_MATCHES(out, "org.kx.test.Phoenix .* stopped \\(died 4 times in 60 s "
                            "\\(KXRestartLimit 3, KXRestartInterval 60\\)\\)");
    free(out);
    out = NULL;
    kxd_run(&out, "KX_SOCKET=%s ./kx ls", p->socket);
    KXD_ASSERT_MATCHES(out, "org.kx.test.Phoenix +driver stopped: died 4 times in 60 s");
    free(out);
    out = NULL;
    kxd_run(&out, "KX_SOCKET=%s ./kx stat --json", p->socket);
    KXD_ASSERT_MATCHES(out, "\"host_state\": \"stopped\"");
    free(out);
    char *log = kernel_log(p);
    KXD_ASSERT_MATCHES(log, "org.kx.test.Phoenix: its driver host died 4 times in 60 s .*; left "
                            "stopped without a driver");
    free(log);

    /* it unloads, and loads again with a clean record */
    assert_int_equal(kx_client_unload(c, "org.kx.test.Phoenix", 0), STATUS_SUCCESS);
    assert_int_equal(kx_client_load(c, path, 0), STATUS_SUCCESS);
    assert_int_equal(ping(c, "/dev/Phoenix"), STATUS_SUCCESS);
    assert_int_equal(row_of(c, "org.kx.test.Phoenix").restarts, 0);
    assert_int_equal(kx_client_unload(c, "org.kx.test.Phoenix", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);

    T_WAIT_FOR(count_dir("/proc/%d/fd", p->pid) <= fds &&
               count_dir("/proc/%d/task", p->pid) <= threads);
    assert_true(count_dir("/proc/%d/fd", p->pid) <= fds);
    assert_true(count_dir("/proc/%d/task", p->pid) <= threads);
    struct kids after = children_of(p->pid);
    assert_int_equal(after.n, before.n);
    assert_int_equal(after.zombies, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_samples_run_in_hosts, host_setup, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_batches_through_a_host_are_answered_once_each,
                                        host_setup, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_host_crash_is_contained, host_setup, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_host_abort_is_contained, host_setup, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_host_exit_is_contained, host_setup, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_host_hang_is_killed, hang_setup, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_host_restarts_after_death, hang_setup, kxd_teardown),
        cmocka_unit_test_setup_teardown(test_host_stays_stopped_past_the_limit, host_setup,
                                        kxd_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
