/* bench_kxd.c — a client writing 1 byte to kx's /dev/null through kxd,
 * unbatched, beside two baselines measured in the same run: write(2) to the
 * kernel's /dev/null (what a real kernel charges) and an AF_UNIX echo round
 * trip between two processes, on two CPUs and on one (the faster is the
 * floor for any daemon on a socket).
 * Prints round trips per second, p50/p99 latency and the ratios. This is
 * the baseline the shared-memory transport of later work is judged by.
 */
#include <kx/client.h>

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_OPS 20000
#define WARMUP 1000

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

struct result {
    const char *name;
    double ops_per_s, p50_ns, p99_ns;
};

static struct result summarise(const char *name, uint64_t *lat, size_t n, uint64_t total_ns)
{
    qsort(lat, n, sizeof *lat, compare_u64);
    struct result r = {name, n / (total_ns / 1e9), (double)lat[n / 2], (double)lat[n * 99 / 100]};
    return r;
}

static struct result bench_write_devnull(uint64_t *lat)
{
    int fd = open("/dev/null", O_WRONLY);
    char b = 'x';
    for (int i = 0; i < WARMUP; i++)
        if (write(fd, &b, 1) != 1)
            exit(1);
    uint64_t start = now_ns();
    for (int i = 0; i < N_OPS; i++) {
        uint64_t t = now_ns();
        if (write(fd, &b, 1) != 1)
            exit(1);
        lat[i] = now_ns() - t;
    }
    uint64_t total = now_ns() - start;
    close(fd);
    return summarise("write(2) to the kernel's /dev/null", lat, N_OPS, total);
}

/* Request and reply sizes close to a kx WRITE (21+17 bytes) and its OK (37).
 * Measured twice: left to the scheduler, and with both processes on one CPU.
 * On a VM, waking a process on an idle vCPU costs tens of microseconds,
 * which one CPU avoids; the floor is the faster of the two. */
static struct result bench_unix_echo(uint64_t *lat, int one_cpu)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        exit(1);
    cpu_set_t all, one;
    sched_getaffinity(0, sizeof all, &all);
    if (one_cpu) {
        CPU_ZERO(&one);
        CPU_SET(sched_getcpu(), &one);
        sched_setaffinity(0, sizeof one, &one); /* the child inherits it */
    }
    pid_t pid = fork();
    if (pid == 0) {
        char buf[64];
        close(sv[0]);
        for (;;) {
            ssize_t n = read(sv[1], buf, 40);
            if (n <= 0 || write(sv[1], buf, (size_t)n) != n)
                _exit(0);
        }
    }
    close(sv[1]);
    char msg[40] = {0}, reply[40];
    uint64_t start = 0;
    for (int i = -WARMUP; i < N_OPS; i++) {
        if (i == 0)
            start = now_ns();
        uint64_t t = now_ns();
        if (write(sv[0], msg, sizeof msg) != (ssize_t)sizeof msg)
            exit(1);
        size_t got = 0;
        while (got < sizeof reply) {
            ssize_t n = read(sv[0], reply + got, sizeof reply - got);
            if (n <= 0)
                exit(1);
            got += (size_t)n;
        }
        if (i >= 0)
            lat[i] = now_ns() - t;
    }
    uint64_t total = now_ns() - start;
    close(sv[0]);
    waitpid(pid, NULL, 0);
    sched_setaffinity(0, sizeof all, &all);
    return summarise(one_cpu ? "AF_UNIX echo round trip, one CPU"
                             : "AF_UNIX echo round trip, 2 processes",
                     lat, N_OPS, total);
}

static struct result bench_kxd(uint64_t *lat, const char *socket_path)
{
    kx_client *c = NULL;
    uint32_t h;
    if (kx_client_connect(socket_path, &c) != STATUS_SUCCESS ||
        kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h) != STATUS_SUCCESS) {
        fprintf(stderr, "bench_kxd: can't reach kxd's /dev/null\n");
        exit(1);
    }
    uint64_t info, start = 0;
    for (int i = -WARMUP; i < N_OPS; i++) {
        if (i == 0)
            start = now_ns();
        uint64_t t = now_ns();
        if (kx_client_write(c, h, 0, "x", 1, 0, &info) != STATUS_SUCCESS || info != 1)
            exit(1);
        if (i >= 0)
            lat[i] = now_ns() - t;
    }
    uint64_t total = now_ns() - start;
    kx_client_disconnect(c);
    return summarise("kx /dev/null through kxd (1 byte)", lat, N_OPS, total);
}

static pid_t start_kxd(const char *dir, const char *socket_path)
{
    char kxd[1024], ext[1024];
    snprintf(kxd, sizeof kxd, "%s/kxd", KX_BENCH_BUILD_DIR);
    snprintf(ext, sizeof ext, "%s/extensions", KX_BENCH_BUILD_DIR);
    pid_t pid = fork();
    if (pid == 0) {
        char log[1100];
        snprintf(log, sizeof log, "%s/kxd.log", dir);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0)
            dup2(fd, 2);
        execl(kxd, "kxd", "--foreground", "--no-auth", "--extensions", ext, "--socket",
              socket_path, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000; i++) {
        kx_client *c;
        if (kx_client_connect(socket_path, &c) == STATUS_SUCCESS) {
            kx_client_disconnect(c);
            return pid;
        }
        usleep(10000);
    }
    fprintf(stderr, "bench_kxd: kxd didn't start (see %s/kxd.log)\n", dir);
    exit(1);
}

int main(void)
{
    char dir[] = "/tmp/kx-bench-XXXXXX", socket_path[64];
    if (!mkdtemp(dir))
        return 1;
    snprintf(socket_path, sizeof socket_path, "%s/kxd.sock", dir);
    uint64_t *lat = calloc(N_OPS, sizeof *lat);
    pid_t kxd = start_kxd(dir, socket_path);

    struct result r[4];
    r[0] = bench_write_devnull(lat);
    r[1] = bench_unix_echo(lat, 0);
    r[2] = bench_unix_echo(lat, 1);
    r[3] = bench_kxd(lat, socket_path);

    kill(kxd, SIGTERM);
    waitpid(kxd, NULL, 0);
    char cleanup[128];
    snprintf(cleanup, sizeof cleanup, "rm -rf %s", dir);
    if (system(cleanup) != 0)
        fprintf(stderr, "bench_kxd: couldn't remove %s\n", dir);
    free(lat);

    printf("bench_kxd: %d unbatched 1-byte writes each\n", N_OPS);
    printf("  %-40s %12s %10s %10s\n", "", "ops/s", "p50 ns", "p99 ns");
    for (int i = 0; i < 4; i++)
        printf("  %-40s %12.0f %10.0f %10.0f\n", r[i].name, r[i].ops_per_s, r[i].p50_ns,
               r[i].p99_ns);
    double echo = r[1].p50_ns < r[2].p50_ns ? r[1].p50_ns : r[2].p50_ns;
    printf("  kxd round trip / faster AF_UNIX echo: %.2fx (p50)\n", r[3].p50_ns / echo);
    printf("  kxd round trip / write(2):            %.1fx (p50)\n", r[3].p50_ns / r[0].p50_ns);
    return 0;
}
