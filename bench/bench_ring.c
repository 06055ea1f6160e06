/* bench_ring.c — a 64-byte record's round trip between two processes over
 * the shared-memory ring (src/core/ring.h), unbatched (p50/p99) and in
 * batches of 32 (per record: a batch's p50 / 32, and the mean), beside peers
 * measured in the same run: an AF_UNIX SOCK_SEQPACKET and SOCK_STREAM echo,
 * an eventfd ping-pong, and a stream echo moving 32 records per write.
 *
 * Each peer runs twice, left to the scheduler and with both processes on one
 * CPU (on a VM, waking a process on an idle vCPU costs tens of microseconds,
 * which one CPU avoids); the faster is the floor a ring must beat. Two
 * processes spinning on a shared page without ever sleeping show what the
 * machine gives any cross-process round trip at the moment. The ring runs
 * left to the scheduler with its default spin (up to 20 µs) and with spins
 * of up to 1 ms, and on one CPU, where it never spins: there it sleeps on
 * eventfd + pidfd (the mode that notices a dead peer) and on the futex.
 *
 * Goals (issue 12, for the IRP round trip built on this): unbatched p50
 * <= 2 µs and <= 0.25x the faster AF_UNIX echo; batched <= 100 ns a record.
 */
#include "core/plat.h"
#include "core/plat_sync.h"
#include "core/ring.h"

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_OPS   50000
#define N_BATCH 20000 /* batches of 32 */
#define WARMUP  2000
#define REC     64
#define BATCH   32

struct result {
    const char *name;
    double p50_ns, p99_ns;
    double per_rec_ns, mean_rec_ns; /* batched runs: a batch's p50, and the mean, per record */
};

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static struct result summarise(const char *name, uint64_t *lat, size_t n)
{
    qsort(lat, n, sizeof *lat, compare_u64);
    struct result r = {name, (double)lat[n / 2], (double)lat[n * 99 / 100], 0, 0};
    return r;
}

/* Puts this process (and the child it forks next) on the CPU it runs on;
 * *saved gets the affinity to restore with unpin. */
static void pin(int one_cpu, cpu_set_t *saved)
{
    sched_getaffinity(0, sizeof *saved, saved);
    if (!one_cpu)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(sched_getcpu(), &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void unpin(const cpu_set_t *saved)
{
    sched_setaffinity(0, sizeof *saved, saved);
}

static void reap(pid_t pid)
{
    int ws;
    waitpid(pid, &ws, 0);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        fprintf(stderr, "bench_ring: the echo process failed\n");
        exit(1);
    }
}

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "bench_ring: %s failed\n", what);
        exit(1);
    }
}

/* ---- the ring ---------------------------------------------------------- */

static void ring_echo(struct kx_ring *r)
{
    for (;;) {
        struct kx_ring_rec rec[BATCH];
        size_t n;
        kx_status st = kx_ring_recv(r, rec, BATCH, &n, KX_RING_FOREVER);
        if (st == STATUS_RING_PEER_GONE)
            _exit(0);
        if (st != STATUS_SUCCESS)
            _exit(1);
        for (size_t i = 0; i < n; i++)
            if (kx_ring_send(r, rec[i].type, rec[i].id, rec[i].data, rec[i].len, KX_RING_FOREVER) !=
                STATUS_SUCCESS)
                _exit(2);
        kx_ring_release(r);
        kx_ring_commit(r);
    }
}

/* How a ring run is set up. */
struct ring_mode {
    const char *name;
    int one_cpu;
    uint32_t spin_ns; /* the longest spin on both sides; DEFAULT_SPIN: the ring's own */
    int watch;        /* sleep on eventfd + pidfd (1) or on the futex (0) */
};
#define DEFAULT_SPIN UINT32_MAX

static void ring_setup(struct kx_ring *r, const struct ring_mode *m, pid_t peer)
{
    if (m->spin_ns != DEFAULT_SPIN)
        kx_ring_set_spin(r, m->spin_ns);
    if (m->watch)
        kx_ring_watch_pid(r, peer);
}

/* Returns the side-0 ring; the child attached over a socketpair echoes. */
static struct kx_ring *ring_start(pid_t *pid, const struct ring_mode *m, cpu_set_t *saved)
{
    int sv[2];
    struct kx_ring *r;
    pin(m->one_cpu, saved); /* first: the ring decides whether to spin from the CPUs it may use */
    must(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    must(kx_ring_create("bench", NULL, &r) == STATUS_SUCCESS, "kx_ring_create");
    must(kx_ring_send_fds(r, sv[0]) == STATUS_SUCCESS, "kx_ring_send_fds");
    *pid = fork();
    if (*pid == 0) {
        struct kx_ring *c;
        if (kx_ring_attach_socket("bench-echo", sv[1], &c, NULL) != STATUS_SUCCESS)
            _exit(3);
        ring_setup(c, m, getppid());
        ring_echo(c);
    }
    close(sv[0]);
    close(sv[1]);
    ring_setup(r, m, *pid);
    return r;
}

static void ring_round(struct kx_ring *r, const uint8_t *rec, int k)
{
    for (int i = 0; i < k; i++)
        must(kx_ring_send(r, 1, (uint64_t)i, rec, REC, KX_RING_FOREVER) == STATUS_SUCCESS, "send");
    must(kx_ring_commit(r) == STATUS_SUCCESS, "commit");
    for (int got = 0; got < k;) {
        struct kx_ring_rec out[BATCH];
        size_t n;
        must(kx_ring_recv(r, out, BATCH, &n, KX_RING_FOREVER) == STATUS_SUCCESS, "recv");
        got += (int)n;
        kx_ring_release(r);
    }
}

static struct result bench_ring(uint64_t *lat, const struct ring_mode *m, int batched)
{
    pid_t pid;
    cpu_set_t saved;
    struct kx_ring *r = ring_start(&pid, m, &saved);
    uint8_t rec[REC] = {0};
    for (int i = 0; i < WARMUP; i++)
        ring_round(r, rec, batched ? BATCH : 1);
    int k = batched ? BATCH : 1, n = batched ? N_BATCH : N_OPS;
    uint64_t start = kx_plat_monotonic_ns();
    for (int i = 0; i < n; i++) {
        uint64_t t = kx_plat_monotonic_ns();
        ring_round(r, rec, k);
        lat[i] = kx_plat_monotonic_ns() - t;
    }
    uint64_t total = kx_plat_monotonic_ns() - start;
    struct result res = summarise(m->name, lat, (size_t)n);
    res.per_rec_ns = res.p50_ns / k;
    res.mean_rec_ns = (double)total / ((double)n * k);
    kx_ring_close(r);
    reap(pid);
    unpin(&saved);
    return res;
}

/* Both sides in one thread, a batch sent and taken back at once: what the
 * ring itself costs per record, with no wake-up and no cache line crossing
 * CPUs (the batched figures above less this are the machine's share). */
static struct result bench_ring_local(uint64_t *lat)
{
    int sv[2];
    struct kx_ring *a, *b;
    must(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    must(kx_ring_create("bench", NULL, &a) == STATUS_SUCCESS, "kx_ring_create");
    must(kx_ring_send_fds(a, sv[0]) == STATUS_SUCCESS, "kx_ring_send_fds");
    must(kx_ring_attach_socket("bench-b", sv[1], &b, NULL) == STATUS_SUCCESS, "attach");
    close(sv[0]);
    close(sv[1]);
    uint8_t rec[REC] = {0};
    uint64_t start = kx_plat_monotonic_ns();
    for (int i = 0; i < N_BATCH; i++) {
        uint64_t t = kx_plat_monotonic_ns();
        for (int j = 0; j < BATCH; j++)
            must(kx_ring_send(a, 1, (uint64_t)j, rec, REC, KX_RING_NOWAIT) == STATUS_SUCCESS,
                 "send");
        must(kx_ring_commit(a) == STATUS_SUCCESS, "commit");
        struct kx_ring_rec out[BATCH];
        size_t n;
        must(kx_ring_recv(b, out, BATCH, &n, KX_RING_NOWAIT) == STATUS_SUCCESS && n == BATCH,
             "recv");
        uint8_t sink = 0;
        for (size_t j = 0; j < n; j++)
            sink ^= ((const uint8_t *)out[j].data)[REC - 1];
        must(sink == 0, "payload");
        kx_ring_release(b);
        lat[i] = kx_plat_monotonic_ns() - t;
    }
    uint64_t total = kx_plat_monotonic_ns() - start;
    kx_ring_close(a);
    kx_ring_close(b);
    struct result res = summarise("ring x32, one thread (no wake-ups)", lat, N_BATCH);
    res.per_rec_ns = res.p50_ns / BATCH;
    res.mean_rec_ns = (double)total / ((double)N_BATCH * BATCH);
    return res;
}

/* ---- the peers ---------------------------------------------------------- */

static int full_io(int fd, void *buf, size_t len, int writing)
{
    size_t done = 0;
    while (done < len) {
        ssize_t k = writing ? write(fd, (char *)buf + done, len - done)
                            : read(fd, (char *)buf + done, len - done);
        if (k <= 0)
            return -1;
        done += (size_t)k;
    }
    return 0;
}

/* An echo over a socketpair of type, moving k records per message. */
static struct result bench_socket(uint64_t *lat, int type, int one_cpu, int k, const char *name)
{
    int sv[2];
    must(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0, "socketpair");
    size_t len = (size_t)REC * (size_t)k;
    uint8_t buf[REC * BATCH] = {0};
    cpu_set_t saved;
    pin(one_cpu, &saved);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        while (full_io(sv[1], buf, len, 0) == 0)
            if (full_io(sv[1], buf, len, 1) != 0)
                _exit(1);
        _exit(0);
    }
    close(sv[1]);
    for (int i = 0; i < WARMUP; i++)
        must(full_io(sv[0], buf, len, 1) == 0 && full_io(sv[0], buf, len, 0) == 0, "echo");
    int n = k > 1 ? N_BATCH : N_OPS;
    uint64_t start = kx_plat_monotonic_ns();
    for (int i = 0; i < n; i++) {
        uint64_t t = kx_plat_monotonic_ns();
        must(full_io(sv[0], buf, len, 1) == 0 && full_io(sv[0], buf, len, 0) == 0, "echo");
        lat[i] = kx_plat_monotonic_ns() - t;
    }
    uint64_t total = kx_plat_monotonic_ns() - start;
    close(sv[0]);
    reap(pid);
    unpin(&saved);
    struct result res = summarise(name, lat, (size_t)n);
    res.per_rec_ns = res.p50_ns / k;
    res.mean_rec_ns = (double)total / ((double)n * k);
    return res;
}

static struct result bench_eventfd(uint64_t *lat, int one_cpu)
{
    int ping = eventfd(0, EFD_CLOEXEC), pong = eventfd(0, EFD_CLOEXEC);
    must(ping >= 0 && pong >= 0, "eventfd");
    uint64_t v = 1;
    cpu_set_t saved;
    pin(one_cpu, &saved);
    pid_t pid = fork();
    if (pid == 0) {
        for (int i = 0; i < WARMUP + N_OPS; i++)
            if (read(ping, &v, sizeof v) != sizeof v || write(pong, &v, sizeof v) != sizeof v)
                _exit(1);
        _exit(0);
    }
    for (int i = 0; i < WARMUP + N_OPS; i++) {
        uint64_t t = kx_plat_monotonic_ns();
        v = 1;
        must(write(ping, &v, sizeof v) == sizeof v && read(pong, &v, sizeof v) == sizeof v,
             "eventfd ping-pong");
        if (i >= WARMUP)
            lat[i - WARMUP] = kx_plat_monotonic_ns() - t;
    }
    close(ping);
    close(pong);
    reap(pid);
    unpin(&saved);
    return summarise(one_cpu ? "eventfd ping-pong, one CPU" : "eventfd ping-pong", lat, N_OPS);
}

/* Two processes spinning on two words of a shared page: what the machine
 * gives a cross-process round trip right now, with nothing else involved
 * (on a loaded machine, far more than the cache line's travel time). */
static struct result bench_spin(uint64_t *lat)
{
    _Atomic uint64_t *w =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    must(w != MAP_FAILED, "mmap");
    const uint64_t n = WARMUP + N_OPS;
    pid_t pid = fork();
    if (pid == 0) {
        for (uint64_t i = 1; i <= n; i++) {
            while (atomic_load_explicit(&w[0], memory_order_acquire) != i)
                ;
            atomic_store_explicit(&w[8], i, memory_order_release);
        }
        _exit(0);
    }
    for (uint64_t i = 1; i <= n; i++) {
        uint64_t t = kx_plat_monotonic_ns();
        atomic_store_explicit(&w[0], i, memory_order_release);
        while (atomic_load_explicit(&w[8], memory_order_acquire) != i)
            ;
        if (i > WARMUP)
            lat[i - WARMUP - 1] = kx_plat_monotonic_ns() - t;
    }
    reap(pid);
    munmap((void *)w, 4096);
    return summarise("shared-memory spin (the floor)", lat, N_OPS);
}

static double min2(double a, double b)
{
    return a < b ? a : b;
}

static void goal(const char *what, double v, double limit, const char *unit)
{
    printf("  %-44s %9.3f%s (goal <= %g%s: %s)\n", what, v, unit, limit, unit,
           v <= limit ? "met" : "missed");
}

int main(void)
{
    static const struct ring_mode ring_default = {"ring (spin <= 20 us)", 0, DEFAULT_SPIN, 1},
                                  ring_long = {"ring (spin <= 1 ms)", 0, 1000000, 1},
                                  ring_one = {"ring, one CPU (eventfd+pidfd sleep)", 1, 0, 1},
                                  ring_one_futex = {"ring, one CPU (futex sleep)", 1, 0, 0},
                                  ring32_default = {"ring x32 (spin <= 20 us)", 0, DEFAULT_SPIN, 1},
                                  ring32_long = {"ring x32 (spin <= 1 ms)", 0, 1000000, 1},
                                  ring32_one = {"ring x32, one CPU", 1, 0, 1};
    uint64_t *lat = malloc(sizeof *lat * N_OPS);
    must(lat != NULL, "malloc");
    enum { R_DEF, R_LONG, R_ONE, R_ONE_FUTEX, SEQ, SEQ1, STR, STR1, EFD, EFD1, SPIN, N_UNBATCHED };
    enum { B_DEF, B_LONG, B_ONE, B_LOCAL, B_STR, B_STR1, N_BATCHED };
    struct result u[N_UNBATCHED], b[N_BATCHED];
    u[R_DEF] = bench_ring(lat, &ring_default, 0);
    u[R_LONG] = bench_ring(lat, &ring_long, 0);
    u[R_ONE] = bench_ring(lat, &ring_one, 0);
    u[R_ONE_FUTEX] = bench_ring(lat, &ring_one_futex, 0);
    u[SEQ] = bench_socket(lat, SOCK_SEQPACKET, 0, 1, "AF_UNIX seqpacket echo");
    u[SEQ1] = bench_socket(lat, SOCK_SEQPACKET, 1, 1, "AF_UNIX seqpacket echo, one CPU");
    u[STR] = bench_socket(lat, SOCK_STREAM, 0, 1, "AF_UNIX stream echo");
    u[STR1] = bench_socket(lat, SOCK_STREAM, 1, 1, "AF_UNIX stream echo, one CPU");
    u[EFD] = bench_eventfd(lat, 0);
    u[EFD1] = bench_eventfd(lat, 1);
    u[SPIN] = bench_spin(lat);
    b[B_DEF] = bench_ring(lat, &ring32_default, 1);
    b[B_LONG] = bench_ring(lat, &ring32_long, 1);
    b[B_ONE] = bench_ring(lat, &ring32_one, 1);
    b[B_LOCAL] = bench_ring_local(lat);
    b[B_STR] = bench_socket(lat, SOCK_STREAM, 0, BATCH, "AF_UNIX stream echo x32");
    b[B_STR1] = bench_socket(lat, SOCK_STREAM, 1, BATCH, "AF_UNIX stream echo x32, one CPU");
    free(lat);

    printf("bench_ring: %d-byte records between two processes, %d CPUs\n", REC, kx_plat_ncpus());
    printf("  %-44s %10s %10s\n", "unbatched round trip", "p50 ns", "p99 ns");
    for (int i = 0; i < N_UNBATCHED; i++)
        printf("  %-44s %10.0f %10.0f\n", u[i].name, u[i].p50_ns, u[i].p99_ns);
    printf("  %-44s %10s %10s\n", "batched x32, per record", "p50 ns", "mean ns");
    for (int i = 0; i < N_BATCHED; i++)
        printf("  %-44s %10.1f %10.1f\n", b[i].name, b[i].per_rec_ns, b[i].mean_rec_ns);
    double unix_echo =
        min2(min2(u[SEQ].p50_ns, u[SEQ1].p50_ns), min2(u[STR].p50_ns, u[STR1].p50_ns));
    double efd = min2(u[EFD].p50_ns, u[EFD1].p50_ns);
    double stream32 = min2(b[B_STR].per_rec_ns, b[B_STR1].per_rec_ns);
    for (int i = R_DEF; i <= R_LONG; i++) {
        printf("  %s:\n", u[i].name);
        goal("p50 / faster AF_UNIX echo", u[i].p50_ns / unix_echo, 0.25, "x");
        goal("p50", u[i].p50_ns / 1000, 2, " us");
        printf("  %-44s %9.3fx\n", "p50 / faster eventfd ping-pong", u[i].p50_ns / efd);
        printf("  %-44s %9.3fx\n", "p50 / shared-memory spin", u[i].p50_ns / u[SPIN].p50_ns);
    }
    for (int i = B_DEF; i <= B_LONG; i++) {
        printf("  %s:\n", b[i].name);
        goal("per record (a batch's p50 / 32)", b[i].per_rec_ns, 100, " ns");
        printf("  %-44s %9.3fx\n", "per record / faster stream echo x32",
               b[i].per_rec_ns / stream32);
    }
    printf("  %-44s %9.3fx\n", "one CPU: ring futex sleep / eventfd ping-pong",
           u[R_ONE_FUTEX].p50_ns / efd);
    printf("  %-44s %9.3fx\n", "one CPU: ring eventfd+pidfd sleep / futex",
           u[R_ONE].p50_ns / u[R_ONE_FUTEX].p50_ns);
    return 0;
}
