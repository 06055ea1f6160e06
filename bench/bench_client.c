/* bench_client.c — issue 13's figures in one run: kx's own client path
 * (libkxclient over kxd's socket, and over its shared-memory ring), with the
 * zero driver in a kx-host process (kxd's default) and in kxd itself (also
 * with the ring threads' polling and inline dispatch turned off), and
 * kx's FUSE mount, against peers this
 * benchmark sets up itself: an AF_UNIX echo between two processes, a
 * do-nothing libfuse3 null/zero server (fuse_peer.c) and the kernel's
 * /dev/null and /dev/zero.
 *
 * Six figures per path: unbatched 1-byte write p50; writes/s with 16
 * clients (one connection or descriptor each, on threads); the per-op cost
 * of writes batched x32 (kx_client_submit; the kernel's yardstick is 32 write(2)s);
 * 1 MiB reads of zero and 1 MiB writes (GB/s); open+close p50. Then the goals as
 * ratios, each marked met or not. A path without a figure (a file can't
 * batch) prints n/a. BENCH_CLIENT_ONLY=TEXT measures only the kx paths whose
 * name contains TEXT (and the peers), for a profiler.
 */
#include "fuse_peer.h"

#include <kx/client.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_WRITES     20000
#define N_BATCHED    160000 /* writes in x32 batches, in BATCH_RUNS runs */
#define BATCH_RUNS   5      /* the median run is the figure */
#define N_OPENS      3000
#define N_CLIENTS    16
#define N_PER_CLIENT 3000
#define BATCH        32
#define READ_SIZE    ((size_t)1 << 20)
#define READ_TOTAL   ((size_t)256 << 20)
#define BULK_WARMUP  16 /* 1 MiB transfers before the timed ones */

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

static uint64_t lat[N_WRITES];

static double p50(size_t n)
{
    qsort(lat, n, sizeof *lat, compare_u64);
    return (double)lat[n / 2];
}

/* ---- a path: how one client opens, writes, reads and closes ------------- */

/* Either a file (fd paths: the kernel, the FUSE peer, kx's mount) or a kx
 * device through libkxclient (socket set). */
struct path {
    const char *name;
    const char *file;   /* fd paths: the zero file */
    const char *socket; /* kx client: kxd's socket; the device is /dev/zero */
    int batch;          /* measure x32 batches */
    int ring;           /* kx client: through the ring (else KX_CLIENT_RING=0) */
};

struct conn {
    const struct path *p;
    kx_client *c;
    uint32_t h;
    int fd;
};

static int conn_open(const struct path *p, struct conn *k, int flags)
{
    k->p = p;
    k->c = NULL;
    k->fd = -1;
    if (!p->socket)
        return (k->fd = open(p->file, flags)) >= 0 ? 0 : -1;
    uint32_t access = flags == O_RDONLY ? KX_ACCESS_READ : KX_ACCESS_WRITE;
    if (kx_client_connect(p->socket, &k->c) != STATUS_SUCCESS)
        return -1;
    return kx_client_open(k->c, "/dev/zero", access, &k->h) == STATUS_SUCCESS ? 0 : -1;
}

static void conn_close(struct conn *k)
{
    if (k->fd >= 0)
        close(k->fd);
    if (k->c)
        kx_client_disconnect(k->c);
}

static int conn_write1(struct conn *k)
{
    if (k->fd >= 0)
        return write(k->fd, "x", 1) == 1 ? 0 : -1;
    uint64_t info;
    return kx_client_write(k->c, k->h, 0, "x", 1, 0, &info) == STATUS_SUCCESS ? 0 : -1;
}

static ssize_t conn_read(struct conn *k, void *buf, size_t n)
{
    if (k->fd >= 0)
        return read(k->fd, buf, n);
    size_t got = 0;
    return kx_client_read(k->c, k->h, 0, buf, n, 0, &got) == STATUS_SUCCESS ? (ssize_t)got : -1;
}

/* ---- the figures --------------------------------------------------------- */

struct figures {
    double write_p50_ns, ops_16, batch_ns_per_op, read_gb_s, write_gb_s, open_p50_ns;
};

static int measure_writes(const struct path *p, struct figures *f)
{
    struct conn k;
    if (conn_open(p, &k, O_WRONLY) != 0)
        return -1;
    for (int i = -1000; i < N_WRITES; i++) {
        uint64_t t = now_ns();
        if (conn_write1(&k) != 0) {
            conn_close(&k);
            return -1;
        }
        if (i >= 0)
            lat[i] = now_ns() - t;
    }
    conn_close(&k);
    f->write_p50_ns = p50(N_WRITES);
    return 0;
}

struct worker {
    const struct path *p;
    pthread_barrier_t *go;
    int failed;
};

static void *write_worker(void *arg)
{
    struct worker *w = arg;
    struct conn k;
    w->failed = conn_open(w->p, &k, O_WRONLY) != 0;
    pthread_barrier_wait(w->go);
    for (int i = 0; i < N_PER_CLIENT && !w->failed; i++)
        w->failed = conn_write1(&k) != 0;
    pthread_barrier_wait(w->go);
    conn_close(&k);
    return NULL;
}

/* Writes/s of N_CLIENTS clients at once, from the start barrier to the end. */
static int measure_clients(const struct path *p, struct figures *f)
{
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N_CLIENTS + 1);
    pthread_t t[N_CLIENTS];
    struct worker w[N_CLIENTS];
    for (int i = 0; i < N_CLIENTS; i++) {
        w[i] = (struct worker){p, &go, 0};
        pthread_create(&t[i], NULL, write_worker, &w[i]);
    }
    pthread_barrier_wait(&go);
    uint64_t start = now_ns();
    pthread_barrier_wait(&go);
    uint64_t total = now_ns() - start;
    int failed = 0;
    for (int i = 0; i < N_CLIENTS; i++) {
        pthread_join(t[i], NULL);
        failed |= w[i].failed;
    }
    pthread_barrier_destroy(&go);
    f->ops_16 = (double)N_CLIENTS * N_PER_CLIENT / (total / 1e9);
    return failed ? -1 : 0;
}

/* Writes 32 to a batch: kx_client_submit for kx's client; the kernel's
 * 32 write(2)s are the goal's yardstick. A FUSE file can't batch. */
static int write_batch(struct conn *k)
{
    if (k->fd >= 0) {
        for (int j = 0; j < BATCH; j++)
            if (conn_write1(k) != 0)
                return -1;
        return 0;
    }
    struct kx_client_io ios[BATCH];
    for (int j = 0; j < BATCH; j++)
        ios[j] =
            (struct kx_client_io){.op = KX_CLIENT_OP_WRITE, .handle = k->h, .in = "x", .in_len = 1};
    if (kx_client_submit(k->c, ios, BATCH) != STATUS_SUCCESS)
        return -1;
    for (int j = 0; j < BATCH; j++)
        if (ios[j].status != STATUS_SUCCESS)
            return -1;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of BATCH_RUNS runs, as bench_host's: a hiccup of the
 * scheduler doubles one run, not the figure. */
static int measure_batch(const struct path *p, struct figures *f)
{
    struct conn k;
    if (conn_open(p, &k, O_WRONLY) != 0)
        return -1;
    enum { PER_RUN = N_BATCHED / BATCH_RUNS / BATCH };
    double runs[BATCH_RUNS];
    for (int r = 0; r < BATCH_RUNS; r++) {
        uint64_t start = now_ns();
        for (int i = 0; i < PER_RUN; i++)
            if (write_batch(&k) != 0) {
                conn_close(&k);
                return -1;
            }
        runs[r] = (double)(now_ns() - start) / (PER_RUN * BATCH);
    }
    qsort(runs, BATCH_RUNS, sizeof *runs, cmp_double);
    f->batch_ns_per_op = runs[BATCH_RUNS / 2];
    conn_close(&k);
    return 0;
}

static ssize_t conn_write(struct conn *k, const void *buf, size_t n)
{
    if (k->fd >= 0)
        return write(k->fd, buf, n);
    uint64_t info = 0;
    return kx_client_write(k->c, k->h, 0, buf, n, 0, &info) == STATUS_SUCCESS ? (ssize_t)info : -1;
}

static ssize_t conn_move(struct conn *k, int writing, char *buf)
{
    return writing ? conn_write(k, buf, READ_SIZE) : conn_read(k, buf, READ_SIZE);
}

/* READ_TOTAL bytes in 1 MiB reads, or writes (the zero devices discard
 * them); GB/s into *gb_s. */
static int measure_bulk(const struct path *p, int writing, double *gb_s)
{
    char *buf = malloc(READ_SIZE);
    struct conn k;
    if (!buf || conn_open(p, &k, writing ? O_WRONLY : O_RDONLY) != 0) {
        free(buf);
        return -1;
    }
    memset(buf, 0x5a, READ_SIZE);
    for (int i = 0; i < BULK_WARMUP; i++) /* first touches of buffers and slots, untimed */
        if (conn_move(&k, writing, buf) <= 0)
            break;
    size_t moved = 0;
    uint64_t start = now_ns();
    while (moved < READ_TOTAL) {
        ssize_t n = conn_move(&k, writing, buf);
        if (n <= 0)
            break;
        moved += (size_t)n;
    }
    *gb_s = moved / ((now_ns() - start) / 1e9) / 1e9;
    conn_close(&k);
    free(buf);
    return moved == READ_TOTAL ? 0 : -1;
}

/* open+close of the device; kx's client keeps one connection, as a
 * program would, and opens and closes a handle on it. */
static int measure_opens(const struct path *p, struct figures *f)
{
    kx_client *c = NULL;
    if (p->socket && kx_client_connect(p->socket, &c) != STATUS_SUCCESS)
        return -1;
    int rc = 0;
    for (int i = -100; i < N_OPENS && rc == 0; i++) {
        uint64_t t = now_ns();
        if (c) {
            uint32_t h;
            rc = kx_client_open(c, "/dev/zero", KX_ACCESS_WRITE, &h) == STATUS_SUCCESS &&
                         kx_client_close(c, h) == STATUS_SUCCESS
                     ? 0
                     : -1;
        } else {
            int fd = open(p->file, O_WRONLY);
            rc = fd >= 0 ? close(fd) : -1;
        }
        if (i >= 0)
            lat[i] = now_ns() - t;
    }
    if (c)
        kx_client_disconnect(c);
    f->open_p50_ns = p50(N_OPENS);
    return rc;
}

static int measure(const struct path *p, struct figures *f)
{
    setenv("KX_CLIENT_RING", p->ring ? "1" : "0", 1); /* read at a client's first I/O */
    return measure_writes(p, f) || measure_clients(p, f) || (p->batch && measure_batch(p, f)) ||
           measure_bulk(p, 0, &f->read_gb_s) || measure_bulk(p, 1, &f->write_gb_s) ||
           measure_opens(p, f);
}

/* The faster of an AF_UNIX echo on two CPUs and on one: the floor for any
 * daemon on a socket (request and reply near a kx WRITE's sizes). */
static double echo_p50_ns(void)
{
    double best = 0;
    for (int one_cpu = 0; one_cpu < 2; one_cpu++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
            return 0;
        cpu_set_t all, one;
        sched_getaffinity(0, sizeof all, &all);
        if (one_cpu) {
            CPU_ZERO(&one);
            CPU_SET(sched_getcpu(), &one);
            sched_setaffinity(0, sizeof one, &one);
        }
        pid_t pid = fork();
        if (pid == 0) {
            char buf[64];
            close(sv[0]);
            for (ssize_t n; (n = read(sv[1], buf, 40)) > 0;)
                if (write(sv[1], buf, (size_t)n) != n)
                    break;
            _exit(0);
        }
        close(sv[1]);
        char msg[40] = {0};
        for (int i = -1000; i < N_WRITES; i++) {
            uint64_t t = now_ns();
            if (write(sv[0], msg, sizeof msg) != (ssize_t)sizeof msg ||
                read(sv[0], msg, sizeof msg) <= 0)
                break;
            if (i >= 0)
                lat[i] = now_ns() - t;
        }
        close(sv[0]);
        waitpid(pid, NULL, 0);
        sched_setaffinity(0, sizeof all, &all);
        double v = p50(N_WRITES);
        best = best == 0 || v < best ? v : best;
    }
    return best;
}

/* Another kxd with its drivers in-process (no mount), on its own socket
 * (name.sock) in m's folder; its pid, or -1. no_polling: its ring threads
 * sleep between records and queue every request to the driver's thread
 * (--ring-poll-us 0 --ring-inline off), to show what polling buys. */
static pid_t start_inproc_kxd(const struct bench_mounts *m, const char *name, int no_polling,
                              char *sock, size_t size)
{
    char kxd[1024], ext[1024], log[192];
    snprintf(kxd, sizeof kxd, "%s/kxd", KX_BENCH_BUILD_DIR);
    snprintf(ext, sizeof ext, "%s/extensions", KX_BENCH_BUILD_DIR);
    snprintf(sock, size, "%s/%s.sock", m->dir, name);
    snprintf(log, sizeof log, "%s/%s.log", m->dir, name);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(kxd, kxd, "--foreground", "--no-auth", "--no-cache", "--platform", "none",
              "--extensions", ext, "--socket", sock, "--host-mode", "inproc", "--ring-poll-us",
              no_polling ? "0" : "50", "--ring-inline", no_polling ? "off" : "on", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 6000 && pid > 0; i++, usleep(10000)) {
        kx_client *c = NULL;
        uint32_t h;
        int up = kx_client_connect(sock, &c) == STATUS_SUCCESS &&
                 kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &h) == STATUS_SUCCESS;
        kx_client_disconnect(c);
        if (up)
            return pid;
    }
    return -1;
}

static void row(const char *name, const struct figures *f)
{
    char batch[32] = "n/a";
    if (f->batch_ns_per_op > 0)
        snprintf(batch, sizeof batch, "%.0f", f->batch_ns_per_op);
    printf("  %-24s %9.1f %10.0f %9s %8.2f %8.2f %10.1f\n", name, f->write_p50_ns / 1e3, f->ops_16,
           batch, f->read_gb_s, f->write_gb_s, f->open_p50_ns / 1e3);
}

static void goal(const char *what, double ratio, double target, int at_most)
{
    int met = at_most ? ratio <= target : ratio >= target;
    printf("  %-52s %7.2fx  goal %s %.2fx: %s\n", what, ratio, at_most ? "<=" : ">=", target,
           met ? "met" : "not met");
}

int main(void)
{
    struct bench_mounts m;
    int mounted = bench_mounts_start(&m, "client", KX_BENCH_BUILD_DIR);
    const char *peer_zero = m.peer_zero, *kx_zero = m.kx_zero, *sock = m.sock;
    char inproc_sock[192] = "", sleepy_sock[192] = "";
    pid_t inproc =
        mounted ? start_inproc_kxd(&m, "inproc", 0, inproc_sock, sizeof inproc_sock) : -1;
    pid_t sleepy =
        inproc > 0 ? start_inproc_kxd(&m, "sleepy", 1, sleepy_sock, sizeof sleepy_sock) : -1;
    enum { N_PATHS = 8 };
    const struct path paths[N_PATHS] = {
        {"kernel /dev/zero", "/dev/zero", NULL, 1, 0},
        {"libfuse3 null/zero peer", peer_zero, NULL, 0, 0},
        {"kx socket, host process", NULL, sock, 1, 0},
        {"kx ring, host process", NULL, sock, 1, 1},
        {"kx socket, in kxd", NULL, inproc_sock, 1, 0},
        {"kx ring, in kxd", NULL, inproc_sock, 1, 1},
        {"kx ring, in kxd, no poll", NULL, sleepy_sock, 1, 1},
        {"kx FUSE mount", kx_zero, NULL, 0, 0},
    };
    struct figures f[N_PATHS] = {0};
    int ok = mounted && inproc > 0 && sleepy > 0;
    if (mounted && (inproc <= 0 || sleepy <= 0))
        fprintf(stderr, "bench_client: the in-process kxd did not come up (see %s)\n", m.dir);
    const char *only = getenv("BENCH_CLIENT_ONLY");
    int skip[N_PATHS] = {0};
    for (int i = 2; i < N_PATHS && only; i++)
        skip[i] = !strstr(paths[i].name, only);
    for (int i = 0; i < N_PATHS && ok; i++)
        if (!skip[i] && measure(&paths[i], &f[i]) != 0) {
            fprintf(stderr, "bench_client: %s: a measurement failed (logs in %s)\n", paths[i].name,
                    m.dir);
            ok = 0;
        }
    double echo = ok ? echo_p50_ns() : 0;
    const pid_t extra[] = {inproc, sleepy};
    const char *const extra_name[] = {"inproc", "sleepy"};
    for (int i = 0; i < 2; i++) {
        if (extra[i] <= 0)
            continue;
        kill(extra[i], SIGTERM);
        waitpid(extra[i], NULL, 0);
        if (ok) {
            char log[192];
            snprintf(log, sizeof log, "%s/%s.log", m.dir, extra_name[i]);
            unlink(log);
        }
    }
    bench_mounts_stop(&m, ok);
    if (!ok)
        return 0;

    printf("bench_client: %d unbatched 1-byte writes, %d clients x %d writes, %d writes in x%d "
           "batches (median of %d runs), %zu MiB in 1 MiB reads and in 1 MiB writes, %d "
           "open+close; zero devices\n",
           N_WRITES, N_CLIENTS, N_PER_CLIENT, N_BATCHED, BATCH, BATCH_RUNS, READ_TOTAL >> 20,
           N_OPENS);
    printf("  %-24s %9s %10s %9s %8s %8s %10s\n", "", "p50 us", "ops/s x16", "ns/op x32", "rd GB/s",
           "wr GB/s", "open us");
    for (int i = 0; i < N_PATHS; i++)
        if (!skip[i])
            row(paths[i].name, &f[i]);
    printf("  AF_UNIX echo round trip p50: %.1f us\n", echo / 1e3);
    const struct figures *kernel = &f[0], *fuse = &f[1];
    for (int i = 2; i < N_PATHS; i++) {
        if (skip[i])
            continue;
        printf(" %s:\n", paths[i].name);
        goal("unbatched round trip p50 / AF_UNIX echo", f[i].write_p50_ns / echo, 0.25, 1);
        goal("ops/s at 16 clients / FUSE peer", f[i].ops_16 / fuse->ops_16, 2.0, 0);
        if (f[i].batch_ns_per_op > 0)
            goal("batched x32 per op / kernel write(2)",
                 f[i].batch_ns_per_op / kernel->batch_ns_per_op, 1.0, 1);
        else
            printf("  %-52s     n/a  (files can't batch)\n",
                   "batched x32 per op / kernel write(2)");
        goal("1 MiB reads of zero / FUSE peer", f[i].read_gb_s / fuse->read_gb_s, 1.0, 0);
        goal("1 MiB writes / FUSE peer", f[i].write_gb_s / fuse->write_gb_s, 1.0, 0);
        goal("open+close p50 / FUSE peer", f[i].open_p50_ns / fuse->open_p50_ns, 1.0, 1);
    }
    return 0;
}
