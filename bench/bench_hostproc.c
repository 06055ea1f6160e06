/* bench_hostproc.c — a null WRITE through a driver in a kx-host process
 * against the same driver in-process, and a SOCK_SEQPACKET echo between two
 * processes measured in the same run (the floor of a socket round trip).
 *
 * A quick measurement for issue 12's first increment: the transport is the
 * socketpair (core/xport_sock.c). Prints, per mode, the synchronous round
 * trip's p50 and p99 (one request in flight) and the cost per request when
 * 32 are submitted at a time with up to 512 in flight.
 */
#include <kx/io.h>
#include <kx/kmdf.h>

#include <dlfcn.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_SYNC  20000
#define N_ASYNC 200000
#define BATCH   32
#define WINDOW  512

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void must(kx_status st, const char *what)
{
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "bench_hostproc: %s: %s\n", what, kx_status_name(st));
        exit(1);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

struct pct {
    double p50, p99;
};

static struct pct percentiles(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    return (struct pct){(double)v[n / 2], (double)v[n * 99 / 100]};
}

static uint64_t lat[N_SYNC];

static struct pct run_sync(struct kx_io *io, kx_io_handle h)
{
    char byte = 0;
    size_t n;
    for (size_t i = 0; i < N_SYNC; i++) {
        uint64_t t0 = now_ns();
        must(kx_io_write(io, h, &byte, 1, 0, KX_IO_TIMEOUT_NONE, &n), "write");
        lat[i] = now_ns() - t0;
    }
    return percentiles(lat, N_SYNC);
}

static _Atomic uint64_t done_count;

static void on_done(void *arg, kx_status st, size_t info)
{
    (void)arg;
    (void)st;
    (void)info;
    atomic_fetch_add_explicit(&done_count, 1, memory_order_release);
}

static double run_batched(struct kx_io *io, kx_io_handle h)
{
    static const char byte;
    struct kx_io_req reqs[BATCH];
    for (size_t i = 0; i < BATCH; i++)
        reqs[i] = (struct kx_io_req){.op = KX_IO_OP_WRITE,
                                     .in = &byte,
                                     .in_len = 1,
                                     .timeout_ms = KX_IO_TIMEOUT_NONE,
                                     .done = on_done};
    atomic_store(&done_count, 0);
    uint64_t t0 = now_ns();
    for (uint64_t sent = 0; sent < N_ASYNC; sent += BATCH) {
        while (sent - atomic_load_explicit(&done_count, memory_order_acquire) > WINDOW)
            sched_yield();
        must(kx_io_submit(io, h, reqs, BATCH), "submit");
    }
    while (atomic_load_explicit(&done_count, memory_order_acquire) < N_ASYNC)
        sched_yield();
    return (double)(now_ns() - t0) / N_ASYNC;
}

/* A one-byte SOCK_SEQPACKET echo from another process. */
static struct pct run_echo(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        close(sv[0]);
        while (read(sv[1], &c, 1) == 1 && write(sv[1], &c, 1) == 1)
            ;
        _exit(0);
    }
    close(sv[1]);
    char c = 0;
    for (size_t i = 0; i < N_SYNC; i++) {
        uint64_t t0 = now_ns();
        if (write(sv[0], &c, 1) != 1 || read(sv[0], &c, 1) != 1)
            exit(1);
        lat[i] = now_ns() - t0;
    }
    close(sv[0]);
    waitpid(pid, NULL, 0);
    return percentiles(lat, N_SYNC);
}

static void measure(const char *what, int in_process)
{
    struct kx_io_config cfg = {.size = sizeof cfg, .host_program = BENCH_KX_HOST};
    struct kx_io *io;
    must(kx_io_new(&cfg, &io), "kx_io_new");
    void *dl = in_process ? dlopen(BENCH_NULL_DRIVER, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (in_process && !dl) {
        fprintf(stderr, "bench_hostproc: %s\n", dlerror());
        exit(1);
    }
    const struct kx_driver_info info = {KX_DRIVER_INFO_MAGIC,
                                        KX_DRIVER_INFO_ABI,
                                        sizeof(struct kx_driver_info),
                                        DRIVER_TYPE_KMD,
                                        0,
                                        0,
                                        "BenchNull",
                                        "1.0.0"};
    struct kx_io_driver_params p = {
        sizeof p, &info, dl ? (kx_io_entry_fn)dlsym(dl, "DriverEntry") : NULL,
        NULL,     0,     in_process ? NULL : BENCH_NULL_DRIVER,
        NULL,     0,     0};
    kx_io_driver_id id;
    must(kx_io_driver_start(io, &p, &id), "start");
    const struct kx_io_cred cred = {(int32_t)getpid(), 1000, 1000};
    kx_io_handle h;
    must(kx_io_open(io, "\\Device\\BenchNull0", &cred, KX_IO_ACCESS_WRITE, 0, &h), "open");
    run_sync(io, h); /* warm up */
    struct pct s = run_sync(io, h);
    double b = run_batched(io, h);
    printf("  %-34s p50 %8.0f ns  p99 %8.0f ns  batched x%d %7.0f ns/IRP\n", what, s.p50, s.p99,
           BATCH, b);
    kx_io_close(io, h);
    kx_io_free(io);
    if (dl)
        dlclose(dl);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    printf("null WRITE round trip (%d sync, %d batched), same run:\n", N_SYNC, N_ASYNC);
    struct pct e = run_echo();
    printf("  %-34s p50 %8.0f ns  p99 %8.0f ns\n", "SOCK_SEQPACKET echo (peer)", e.p50, e.p99);
    measure("in-process host", 1);
    measure("kx-host process (socketpair)", 0);
    return 0;
}
