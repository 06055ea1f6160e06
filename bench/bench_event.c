/* bench_event.c — what a named event costs (issue 14), beside an eventfd
 * measured in the same run:
 *   kx event   kx_io_event_raise -> the driver's routine on its dispatch
 *              thread: one-way latency (p50, p99), one event at a time, and
 *              throughput with up to 128 events in flight (the queue holds 256)
 *   eventfd    write(2) on one eventfd -> a thread blocked in read(2) wakes:
 *              the same one-way latency, and throughput of round trips with
 *              a second eventfd back
 * Run by `make bench` (Release, no sanitizers); `bench_event 0.1` is a quick
 * look (the argument scales the counts).
 */
#include <kx/io.h>
#include <kx/io_event.h>
#include <kx/kmdf.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "bench_event: %s failed\n", what);
        exit(1);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct pct {
    uint64_t p50, p99;
};

static struct pct percentiles(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    return (struct pct){v[n / 2], v[n * 99 / 100]};
}

/* ---- kx events ---------------------------------------------------------- */

static _Atomic uint64_t routine_runs;
static uint64_t *lat; /* written by the routine, one slot per event */
static size_t n_lat;

static void on_ping(PDRIVER_OBJECT d, const KX_EVENT *e, void *ctx)
{
    (void)d;
    (void)ctx;
    uint64_t t0;
    memcpy(&t0, e->Data, sizeof t0);
    uint64_t i = atomic_load_explicit(&routine_runs, memory_order_relaxed);
    if (i < n_lat)
        lat[i] = now_ns() - t0;
    atomic_store_explicit(&routine_runs, i + 1, memory_order_release);
}

static kx_status entry(PDRIVER_OBJECT d)
{
    return DkRegisterInterrupt(d, "ping", on_ping, NULL);
}

static void wait_runs(uint64_t n)
{
    while (atomic_load_explicit(&routine_runs, memory_order_acquire) < n)
        sched_yield(); /* the dispatch thread may need this CPU (2 shared cores) */
}

static struct pct kx_latency(struct kx_io *io, size_t n)
{
    atomic_store(&routine_runs, 0);
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = now_ns();
        uint32_t q = 0;
        must(kx_io_event_raise(io, "ping", "bench", &t0, sizeof t0, &q) == STATUS_SUCCESS && q == 1,
             "kx_io_event_raise");
        wait_runs(i + 1);
    }
    return percentiles(lat, n);
}

static double kx_rate(struct kx_io *io, size_t n)
{
    atomic_store(&routine_runs, 0);
    uint64_t t0 = now_ns(), sent = 0;
    while (sent < n) {
        /* Keep the queue below its bound: a dropped event is not a delivered one. */
        if (sent - atomic_load_explicit(&routine_runs, memory_order_acquire) >= 128) {
            sched_yield();
            continue;
        }
        uint64_t t = now_ns();
        must(kx_io_event_raise(io, "ping", "bench", &t, sizeof t, NULL) == STATUS_SUCCESS,
             "kx_io_event_raise");
        sent++;
    }
    wait_runs(n);
    return (double)n * 1e9 / (double)(now_ns() - t0);
}

/* ---- eventfd -------------------------------------------------------------- */

struct efd {
    int ping, pong;
    size_t n;
    uint64_t t0; /* written before each ping */
};

static void *efd_reader(void *arg)
{
    struct efd *e = arg;
    for (size_t i = 0; i < e->n; i++) {
        uint64_t v;
        must(read(e->ping, &v, sizeof v) == sizeof v, "read(eventfd)");
        lat[i] = now_ns() - __atomic_load_n(&e->t0, __ATOMIC_ACQUIRE);
        v = 1;
        must(write(e->pong, &v, sizeof v) == sizeof v, "write(eventfd)");
    }
    return NULL;
}

/* One-way latencies in lat, and round trips per second. */
static struct pct efd_run(size_t n, double *rate)
{
    struct efd e = {eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC), n, 0};
    must(e.ping >= 0 && e.pong >= 0, "eventfd");
    pthread_t t;
    must(pthread_create(&t, NULL, efd_reader, &e) == 0, "pthread_create");
    uint64_t start = now_ns();
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 1;
        __atomic_store_n(&e.t0, now_ns(), __ATOMIC_RELEASE);
        must(write(e.ping, &v, sizeof v) == sizeof v, "write(eventfd)");
        must(read(e.pong, &v, sizeof v) == sizeof v, "read(eventfd)");
    }
    *rate = (double)n * 1e9 / (double)(now_ns() - start);
    pthread_join(t, NULL);
    close(e.ping);
    close(e.pong);
    return percentiles(lat, n);
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    size_t n = (size_t)(100000 * (scale > 0 ? scale : 1.0));
    if (n < 100)
        n = 100;
    lat = calloc(n, sizeof *lat);
    n_lat = n;
    must(lat != NULL, "calloc");

    struct kx_io *io = NULL;
    must(kx_io_new(NULL, &io) == STATUS_SUCCESS, "kx_io_new");
    struct kx_driver_info info = {KX_DRIVER_INFO_MAGIC,
                                  KX_DRIVER_INFO_ABI,
                                  sizeof(struct kx_driver_info),
                                  DRIVER_TYPE_KMD,
                                  500,
                                  0,
                                  "Bench",
                                  "1.0.0"};
    struct kx_io_driver_params p = {sizeof p, &info, entry, NULL, 0, NULL, NULL, 0, 0};
    kx_io_driver_id id;
    must(kx_io_driver_start(io, &p, &id) == STATUS_SUCCESS, "kx_io_driver_start");

    kx_latency(io, n / 10); /* warm-up */
    struct pct kx_lat = kx_latency(io, n);
    double kx_eps = kx_rate(io, n);
    double efd_rps = 0;
    struct pct efd_lat = efd_run(n, &efd_rps);

    printf("bench_event: %zu events each, one-way latency and throughput\n", n);
    printf("  %-34s p50 %7.2f us  p99 %7.2f us\n", "kx event raise -> routine", kx_lat.p50 / 1e3,
           kx_lat.p99 / 1e3);
    printf("  %-34s p50 %7.2f us  p99 %7.2f us\n", "eventfd write -> blocked reader",
           efd_lat.p50 / 1e3, efd_lat.p99 / 1e3);
    printf("  %-34s %10.0f events/s\n", "kx events, 128 in flight", kx_eps);
    printf("  %-34s %10.0f round trips/s\n", "eventfd ping-pong", efd_rps);
    printf("  ratio kx/eventfd: latency p50 %.2fx, p99 %.2fx; rate %.2fx\n",
           (double)kx_lat.p50 / (double)(efd_lat.p50 ? efd_lat.p50 : 1),
           (double)kx_lat.p99 / (double)(efd_lat.p99 ? efd_lat.p99 : 1), kx_eps / efd_rps);
    kx_io_free(io);
    free(lat);
    return 0;
}
