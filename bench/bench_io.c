/* bench_io.c — what a null WRITE IRP costs, beside what it is compared with,
 * measured in the same run:
 *   floor     an indirect call to a null handler (what dispatch costs at best)
 *   write(2)  one byte to the kernel's /dev/null (what a real kernel charges)
 *   ping-pong two threads on two CPUs passing a counter through two cache
 *             lines: the hardware's price of a handoff, which moves between
 *             runs on a VM and explains the sync line
 *   kx sync   kx_io_write on a null driver: submit, hand to the dispatch
 *             thread, dispatch, complete, answer the caller — one round trip
 *   kx async  kx_io_submit in batches with a window of requests in flight,
 *             completions counted by callback: pipelined throughput, on one
 *             and on two submitting threads, and with 64-byte writes
 * Each line is run several times; best and median are printed, because on a
 * shared machine other jobs take CPUs away. "same CPU" and "two CPUs" pin the
 * submitter and the driver's dispatch thread (the driver pins itself on a
 * control code) so the two cases are measured, not left to the scheduler.
 * Run by `make bench` (Release, no sanitizers); `bench_io 0.1` is a quick look.
 */
#include <kx/io.h>
#include <kx/kmdf.h>

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin_self(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu < 0) {
        for (int i = 0; i < CPU_SETSIZE; i++)
            CPU_SET(i, &set);
    } else {
        CPU_SET(cpu, &set);
    }
    sched_setaffinity(0, sizeof set, &set);
}

/* ---- the null driver ------------------------------------------------------ */

#define IOCTL_BENCH_PIN CTL_CODE(FILE_DEVICE_NULL, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

static kx_status null_write(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    return DkCompleteRequest(irp, STATUS_SUCCESS, irp->Parameters.Write.Length);
}

static kx_status null_control(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    int cpu = -1;
    if (irp->Parameters.DeviceIoControl.InputBufferLength == sizeof cpu)
        memcpy(&cpu, irp->SystemBuffer, sizeof cpu);
    pin_self(cpu); /* runs on the dispatch thread: pins it */
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static kx_status null_entry(PDRIVER_OBJECT drv)
{
    drv->MajorFunction[IRP_MJ_WRITE] = null_write;
    drv->MajorFunction[IRP_MJ_DEVICE_CONTROL] = null_control;
    PDEVICE_OBJECT dev;
    kx_status st = DkCreateDevice(drv, "\\Device\\BenchNull0", 0, &dev);
    if (st == STATUS_SUCCESS)
        st = DkSetDeviceSecurity(dev, 0, 0, 0666);
    return st;
}

/* ---- what is measured ------------------------------------------------------ */

struct fake_irp {
    size_t len;
    size_t info;
};

static __attribute__((noinline)) int floor_handler(void *dev, struct fake_irp *irp)
{
    (void)dev;
    irp->info = irp->len;
    return 0;
}

static double run_floor(uint64_t n)
{
    int (*volatile fn)(void *, struct fake_irp *) = floor_handler;
    struct fake_irp irp = {1, 0};
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++)
        fn(NULL, &irp);
    return (double)(now_ns() - t0) / (double)n;
}

static double run_syscall(uint64_t n)
{
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0)
        return 0;
    char c = 'x';
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++)
        if (write(fd, &c, 1) != 1)
            break;
    double r = (double)(now_ns() - t0) / (double)n;
    close(fd);
    return r;
}

/* Two threads on CPUs 0 and 1 pass a counter back and forth through two
 * cache lines: what the hardware charges for a handoff, the floor under a
 * synchronous round trip (kx's needs at least two, plus the record's lines).
 * It varies between runs on a VM as its vCPUs move between cores. */
struct pingpong {
    _Alignas(64) _Atomic uint64_t ping;
    _Alignas(64) _Atomic uint64_t pong;
    uint64_t n;
};

static void *pong_main(void *arg)
{
    struct pingpong *p = arg;
    pin_self(1);
    for (uint64_t i = 1; i <= p->n; i++) {
        while (atomic_load_explicit(&p->ping, memory_order_acquire) != i)
            ;
        atomic_store_explicit(&p->pong, i, memory_order_release);
    }
    return NULL;
}

static double run_pingpong(uint64_t n)
{
    struct pingpong p = {.n = n};
    pthread_t t;
    pin_self(0);
    if (pthread_create(&t, NULL, pong_main, &p))
        return 0;
    uint64_t t0 = now_ns();
    for (uint64_t i = 1; i <= n; i++) {
        atomic_store_explicit(&p.ping, i, memory_order_release);
        while (atomic_load_explicit(&p.pong, memory_order_acquire) != i)
            ;
    }
    double r = (double)(now_ns() - t0) / (double)n;
    pthread_join(t, NULL);
    pin_self(-1);
    return r;
}

struct bench {
    struct kx_io *io;
    kx_io_handle h[2];
};

static void must(kx_status st, const char *what)
{
    if (st != STATUS_SUCCESS) {
        fprintf(stderr, "bench_io: %s: %s\n", what, kx_status_name(st));
        exit(1);
    }
}

static void place(struct bench *b, int submitter_cpu, int driver_cpu)
{
    pin_self(submitter_cpu);
    must(kx_io_ioctl(b->io, b->h[0], IOCTL_BENCH_PIN, &driver_cpu, sizeof driver_cpu, NULL, 0,
                     0, NULL),
         "pin");
}

static double run_sync(struct bench *b, uint64_t n, uint32_t timeout_ms)
{
    size_t got;
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++)
        must(kx_io_write(b->io, b->h[0], "x", 1, 0, timeout_ms, &got), "sync write");
    return (double)(now_ns() - t0) / (double)n;
}

struct submitter {
    struct kx_io *io;
    kx_io_handle h;
    uint64_t n;
    unsigned batch, window;
    size_t len; /* bytes per write */
    /* Completions are counted on a line only the dispatch thread writes and
     * published once per batch, as a completion ring publishes its tail:
     * a store per completion to a line the submitter polls would charge kx
     * for the benchmark's own cross-CPU traffic. */
    _Alignas(64) uint64_t counted;
    _Alignas(64) _Atomic uint64_t done; /* published: the dispatch thread stores it */
    pthread_barrier_t *start;
    uint64_t t0, t1;
    pthread_t thread;
};

static void on_done(void *arg, kx_status st, size_t info)
{
    struct submitter *s = arg;
    (void)st;
    (void)info;
    if (++s->counted % s->batch == 0)
        atomic_store_explicit(&s->done, s->counted, memory_order_release);
}

static void *submit_main(void *arg)
{
    struct submitter *s = arg;
    static const char payload[4096];
    struct kx_io_req reqs[KX_IO_MAX_BATCH];
    for (unsigned i = 0; i < s->batch; i++)
        reqs[i] = (struct kx_io_req){.op = KX_IO_OP_WRITE, .in = payload, .in_len = s->len,
                                     .timeout_ms = KX_IO_TIMEOUT_NONE, .done = on_done, .arg = s};
    if (s->start)
        pthread_barrier_wait(s->start);
    s->t0 = now_ns();
    uint64_t sent = 0;
    unsigned idle = 0;
    while (sent < s->n) {
        uint64_t inflight = sent - atomic_load_explicit(&s->done, memory_order_acquire);
        if (inflight + s->batch <= s->window) {
            must(kx_io_submit(s->io, s->h, reqs, s->batch), "submit");
            sent += s->batch;
            idle = 0;
        } else if (++idle > 64) { /* the dispatch thread may need this CPU */
            sched_yield();
            idle = 0;
        }
    }
    while (atomic_load_explicit(&s->done, memory_order_acquire) < sent)
        sched_yield(); /* every request sent (a multiple of batch) has completed */
    s->t1 = now_ns();
    return NULL;
}

/* Aggregate ns per IRP; n_threads submitters on the current placement
 * (with one thread the caller's pinning applies). */
static double run_async(struct bench *b, int n_threads, uint64_t n_each, unsigned batch,
                        unsigned window, size_t len)
{
    struct submitter s[2];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n_threads);
    for (int i = 0; i < n_threads; i++)
        s[i] = (struct submitter){.io = b->io, .h = b->h[i], .n = n_each, .batch = batch,
                                 .window = window, .len = len, .start = &start};
    if (n_threads == 1) {
        submit_main(&s[0]);
    } else {
        for (int i = 0; i < n_threads; i++)
            pthread_create(&s[i].thread, NULL, submit_main, &s[i]);
        for (int i = 0; i < n_threads; i++)
            pthread_join(s[i].thread, NULL);
    }
    uint64_t t0 = UINT64_MAX, t1 = 0;
    for (int i = 0; i < n_threads; i++) {
        t0 = s[i].t0 < t0 ? s[i].t0 : t0;
        t1 = s[i].t1 > t1 ? s[i].t1 : t1;
    }
    pthread_barrier_destroy(&start);
    uint64_t total = 0;
    for (int i = 0; i < n_threads; i++)
        total += (s[i].n + batch - 1) / batch * batch;
    return (double)(t1 - t0) / (double)total;
}

/* ---- reporting ------------------------------------------------------------------ */

struct result {
    double best, median;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static struct result summarize(double *v)
{
    qsort(v, ROUNDS, sizeof *v, cmp_double);
    return (struct result){v[0], v[ROUNDS / 2]};
}

static void line(const char *what, struct result r)
{
    printf("  %-46s %8.1f %9.1f %9.2f\n", what, r.best, r.median, 1e3 / r.best);
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    if (scale <= 0)
        scale = 1.0;
    uint64_t n_fast = (uint64_t)(4e6 * scale), n_sys = (uint64_t)(4e5 * scale);
    uint64_t n_sync = (uint64_t)(2e5 * scale), n_async = (uint64_t)(2e6 * scale);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    struct bench b;
    must(kx_io_new(NULL, &b.io), "kx_io_new");
    struct kx_driver_info info = {KX_DRIVER_INFO_MAGIC, KX_DRIVER_INFO_ABI,
                                  sizeof(struct kx_driver_info), DRIVER_TYPE_KMD, 0, 0,
                                  "BenchNull", "1.0.0"};
    struct kx_io_driver_params p = {sizeof p, &info, null_entry, NULL, 0, NULL, NULL, 0, 0};
    kx_io_driver_id id;
    const struct kx_io_cred cred = {(int32_t)getpid(), 1000, 1000};
    must(kx_io_driver_start(b.io, &p, &id), "start");
    for (int i = 0; i < 2; i++)
        must(kx_io_open(b.io, "\\Device\\BenchNull0", &cred, KX_IO_ACCESS_WRITE, 0, &b.h[i]),
             "open");
    run_sync(&b, n_sync / 4, KX_IO_TIMEOUT_NONE); /* warm the pool and the caches */

    double v[11][ROUNDS] = {{0}};
    for (int r = 0; r < ROUNDS; r++) {
        place(&b, -1, -1);
        v[0][r] = run_floor(n_fast);
        v[1][r] = run_syscall(n_sys);
        v[2][r] = run_sync(&b, n_sync, KX_IO_TIMEOUT_NONE);
        v[3][r] = run_sync(&b, n_sync, KX_IO_TIMEOUT_DEFAULT);
        v[4][r] = run_async(&b, 1, n_async, 32, 512, 1);
        v[5][r] = run_async(&b, 2, n_async / 2, 32, 512, 1);
        v[9][r] = run_async(&b, 1, n_async, 32, 512, 64);
        place(&b, 0, 0);
        v[6][r] = run_sync(&b, n_sync, KX_IO_TIMEOUT_NONE);
        if (ncpu > 1) {
            place(&b, 0, 1);
            v[7][r] = run_sync(&b, n_sync, KX_IO_TIMEOUT_NONE);
            v[8][r] = run_async(&b, 1, n_async, 32, 512, 1);
            v[10][r] = run_pingpong(n_sync);
        }
    }
    place(&b, -1, -1);

    double load[3] = {0, 0, 0};
    if (getloadavg(load, 3) < 0)
        load[0] = -1;
    printf("bench_io: a null WRITE IRP (1 byte), %ld CPUs, load %.2f; best and median of %d runs\n",
           ncpu, load[0], ROUNDS);
    printf("  %-46s %8s %9s %9s\n", "", "best ns", "median ns", "Mops/s");
    struct result floor = summarize(v[0]), sys = summarize(v[1]);
    struct result sync = summarize(v[2]), a1 = summarize(v[4]), a2 = summarize(v[5]);
    struct result a64 = summarize(v[9]), pp = summarize(v[10]);
    line("floor: indirect call to a null handler", floor);
    line("write(2) to the kernel's /dev/null", sys);
    if (ncpu > 1)
        line("cache-line ping-pong between two CPUs", pp);
    line("kx sync round trip, scheduler's placement", sync);
    line("kx sync round trip, default deadline", summarize(v[3]));
    line("kx sync round trip, same CPU (pinned)", summarize(v[6]));
    if (ncpu > 1)
        line("kx sync round trip, two CPUs (pinned)", summarize(v[7]));
    line("kx async batch 32 window 512, 1 submitter", a1);
    if (ncpu > 1)
        line("kx async batch 32 window 512, two CPUs pinned", summarize(v[8]));
    line("kx async batch 32 window 512, 2 submitters", a2);
    line("kx async as 1 submitter, 64-byte writes", a64);
    printf("  best ratios: sync/floor %.0fx, sync/write(2) %.2fx, async 1 submitter/write(2) "
           "%.2fx, async 2 submitters/write(2) %.2fx\n",
           sync.best / floor.best, sync.best / sys.best, a1.best / sys.best, a2.best / sys.best);
    printf("  best ratios: async 64-byte/write(2) %.2fx", a64.best / sys.best);
    if (ncpu > 1)
        printf(", sync/ping-pong %.1fx, async 1 submitter/ping-pong %.2fx", sync.best / pp.best,
               a1.best / pp.best);
    printf("\n");

    kx_io_close(b.io, b.h[0]);
    kx_io_close(b.io, b.h[1]);
    kx_io_free(b.io);
    return 0;
}
