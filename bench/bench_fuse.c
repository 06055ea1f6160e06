/* bench_fuse.c — the cost of kxd's FUSE mount (docs/fuse.md), beside two
 * peers measured in the same run: a minimal libfuse3 null/zero server this
 * benchmark starts itself (same low-level API, same threads, direct I/O and
 * no caching, answering without any work: the floor for any FUSE server),
 * and the kernel's own /dev/null and /dev/zero.
 *
 * Three figures each, all on the zero device: unbatched 1-byte writes
 * (ops/s and p50; zero takes writes silently, where kx's Null logs each
 * one), open+close (p50), and 1 MiB reads (GB/s). Prints the
 * ratios kx/peer and kx/kernel. Skips with a note where /dev/fuse can't be
 * mounted.
 */
#include "fuse_peer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_WRITES   20000
#define N_OPENS    5000
#define READ_SIZE  ((size_t)1 << 20)
#define READ_TOTAL ((size_t)256 << 20)
#define READ_WARMUP 16 /* 1 MiB reads before the timed ones */

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

/* ---- measurements ------------------------------------------------------------- */

struct result {
    double write_ops_s, write_p50_ns, open_p50_ns, read_gb_s;
};

static uint64_t lat[N_WRITES];

static int measure(const char *zero_path, struct result *r)
{
    int fd = open(zero_path, O_WRONLY);
    if (fd < 0)
        return -1;
    char b = 'x';
    for (int i = 0; i < 1000; i++)
        if (write(fd, &b, 1) != 1)
            return -1;
    uint64_t start = now_ns();
    for (int i = 0; i < N_WRITES; i++) {
        uint64_t t = now_ns();
        if (write(fd, &b, 1) != 1)
            return -1;
        lat[i] = now_ns() - t;
    }
    uint64_t total = now_ns() - start;
    close(fd);
    qsort(lat, N_WRITES, sizeof *lat, compare_u64);
    r->write_ops_s = N_WRITES / (total / 1e9);
    r->write_p50_ns = (double)lat[N_WRITES / 2];

    for (int i = 0; i < N_OPENS; i++) {
        uint64_t t = now_ns();
        int f = open(zero_path, O_WRONLY);
        if (f < 0)
            return -1;
        close(f);
        lat[i] = now_ns() - t;
    }
    qsort(lat, N_OPENS, sizeof *lat, compare_u64);
    r->open_p50_ns = (double)lat[N_OPENS / 2];

    char *buf = malloc(READ_SIZE);
    fd = open(zero_path, O_RDONLY);
    if (!buf || fd < 0) {
        free(buf);
        return -1;
    }
    for (int i = 0; i < READ_WARMUP; i++) /* first touches of buffers, untimed */
        if (read(fd, buf, READ_SIZE) <= 0)
            break;
    size_t got = 0;
    start = now_ns();
    while (got < READ_TOTAL) {
        ssize_t n = read(fd, buf, READ_SIZE);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    total = now_ns() - start;
    close(fd);
    free(buf);
    r->read_gb_s = got / (total / 1e9) / 1e9;
    return got == READ_TOTAL ? 0 : -1;
}

static void row(const char *name, const struct result *r)
{
    printf("  %-26s %9.0f writes/s  write p50 %7.1f us  open+close p50 %7.1f us  "
           "1 MiB reads %6.2f GB/s\n",
           name, r->write_ops_s, r->write_p50_ns / 1e3, r->open_p50_ns / 1e3, r->read_gb_s);
}

int main(void)
{
    struct bench_mounts m;
    struct result r[3];
    int ok = bench_mounts_start(&m, "fuse", KX_BENCH_BUILD_DIR) &&
             measure("/dev/zero", &r[0]) == 0 && measure(m.peer_zero, &r[1]) == 0 &&
             measure(m.kx_zero, &r[2]) == 0;
    bench_mounts_stop(&m, ok);
    if (!ok) {
        fprintf(stderr, "bench_fuse: no figures (logs in %s)\n", m.dir);
        return 0;
    }
    printf("bench_fuse: zero devices: %d unbatched 1-byte writes, %d open+close, %zu MiB in 1 MiB "
           "reads\n",
           N_WRITES, N_OPENS, READ_TOTAL >> 20);
    row("kernel /dev/zero", &r[0]);
    row("libfuse3 null/zero peer", &r[1]);
    row("kxd --mount", &r[2]);
    printf("  kx mount / FUSE peer: writes/s %.2fx, write p50 %.2fx, open+close p50 %.2fx, "
           "read GB/s %.2fx\n",
           r[2].write_ops_s / r[1].write_ops_s, r[2].write_p50_ns / r[1].write_p50_ns,
           r[2].open_p50_ns / r[1].open_p50_ns, r[2].read_gb_s / r[1].read_gb_s);
    printf("  kx mount / kernel:    write p50 %.1fx, read GB/s %.2fx\n",
           r[2].write_p50_ns / r[0].write_p50_ns, r[2].read_gb_s / r[0].read_gb_s);
    return 0;
}
