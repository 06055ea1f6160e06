/* soak_faults.c — fault injection soak against a real kxd (drivers in kx-host
 * processes): 16 client threads open, read, write and close /dev/null,
 * /dev/zero and /dev/ram0 while `kx fault` rules fail, delay or never
 * complete their IRPs, until 10,000 faults have fired (and at least a
 * minute has passed).
 *
 * It checks that kxd stays up throughout, that its descriptors, threads and
 * RSS stay bounded (sampled every second), and that every IRP is answered
 * exactly once: each client call returns once, and the requests kxd saw per
 * device (the fault rules' `seen` counters, CREATE included) equal the
 * requests the clients sent there. Not part of `make test`: see README.md. */
#include "server/harness.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_THREADS    16
#define FAULT_TARGET 10000
#define MIN_SECONDS  60 /* long enough for RSS to show a trend */
#define GIVE_UP_S    1800
#define IRP_TIMEOUT  200 /* ms: a never-completed request is answered STATUS_TIMEOUT */
/* What one client connection holds in kxd: its socket, and its rings'
 * shared memory and eventfds (five with rings, as the soak counts them). */
#define FDS_PER_CONNECTION 5

struct target {
    const char *path, *rule;
    uint32_t access;
    int rule_sees_create;  /* a rule limited to --major READ does not count opens */
    _Atomic uint64_t sent; /* IRPs the clients sent it (CREATE, READ, WRITE) */
};

static struct target targets[] = {
    {"/dev/null", "--probability 0.3 --action fail:STATUS_DEVICE_BUSY --seed 1", KX_ACCESS_WRITE, 1,
     0},
    /* rare: a close waits (up to 5 s) for a request its driver still holds */
    {"/dev/zero", "--probability 0.002 --major READ --action never-complete --seed 2",
     KX_ACCESS_READ, 0, 0},
    {"/dev/ram0", "--probability 0.2 --action delay:1 --seed 3", KX_ACCESS_READ | KX_ACCESS_WRITE,
     1, 0},
};
#define N_TARGETS (sizeof targets / sizeof targets[0])

static _Atomic int stop;
static _Atomic uint64_t calls, answers, n_ok, n_injected, n_timeout, n_other, reconnects;
static const struct kxd_proc *kxd;

static void tally(kx_status st)
{
    atomic_fetch_add(&answers, 1);
    if (st == STATUS_SUCCESS)
        atomic_fetch_add(&n_ok, 1);
    else if (st == STATUS_DEVICE_BUSY)
        atomic_fetch_add(&n_injected, 1);
    else if (st == STATUS_TIMEOUT)
        atomic_fetch_add(&n_timeout, 1);
    else if (atomic_fetch_add(&n_other, 1) < 5) /* a status no rule injects: say which */
        fprintf(stderr, "soak: a call answered %s\n", kx_status_name(st));
}

/* One request to t (counted as sent to it when it is an IRP it sees). */
#define CALL(t, expr)                                                                              \
    ({                                                                                             \
        atomic_fetch_add(&calls, 1);                                                               \
        if (t)                                                                                     \
            atomic_fetch_add(&((struct target *)(t))->sent, 1);                                    \
        kx_status st_ = (expr);                                                                    \
        tally(st_);                                                                                \
        st_;                                                                                       \
    })

static void *client(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    kx_client *c = NULL;
    char buf[512];
    memset(buf, 0x5a, sizeof buf);
    while (!atomic_load(&stop)) {
        if (!c && kx_client_connect(kxd->socket, &c) != STATUS_SUCCESS) {
            c = NULL;
            atomic_fetch_add(&reconnects, 1);
            usleep(1000);
            continue;
        }
        struct target *t = &targets[rand_r(&seed) % N_TARGETS];
        uint32_t h;
        kx_status st =
            CALL(t->rule_sees_create ? t : NULL, kx_client_open(c, t->path, t->access, &h));
        if (st == STATUS_CONNECTION_LOST) {
            kx_client_disconnect(c);
            c = NULL;
            continue;
        }
        if (st != STATUS_SUCCESS)
            continue;
        for (int i = 0; i < 8; i++) {
            size_t got = 0;
            uint64_t info = 0;
            uint64_t off = (uint64_t)(rand_r(&seed) % 64) * sizeof buf;
            if (t->access & KX_ACCESS_WRITE)
                CALL(t, kx_client_write(c, h, off, buf, sizeof buf, IRP_TIMEOUT, &info));
            if (t->access & KX_ACCESS_READ)
                CALL(t, kx_client_read(c, h, off, buf, sizeof buf, IRP_TIMEOUT, &got));
        }
        CALL(NULL, kx_client_close(c, h)); /* CLEANUP and CLOSE: the manager's, not counted */
    }
    kx_client_disconnect(c);
    return NULL;
}

/* Sum of the rules' fired counters; seen[i] per target. */
static uint64_t fired(uint64_t seen[N_TARGETS])
{
    char *out = NULL;
    uint64_t total = 0;
    kxd_run(&out, "KX_SOCKET=%s ./kx fault --list --json", kxd->socket);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    json_t *rules = json_is_array(j) ? j : json_object_get(j, "faults");
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r)
    {
        total += (uint64_t)json_integer_value(json_object_get(r, "fired"));
        const char *tgt = json_string_value(json_object_get(r, "target"));
        for (size_t k = 0; seen && tgt && k < N_TARGETS; k++)
            if (strcmp(tgt, targets[k].path) == 0)
                seen[k] = (uint64_t)json_integer_value(json_object_get(r, "seen"));
    }
    json_decref(j);
    free(out);
    return total;
}

static long proc_count(const char *what, int pid)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ls /proc/%d/%s | wc -l", pid, what);
    FILE *f = popen(cmd, "r");
    long n = -1;
    if (f && fscanf(f, "%ld", &n) != 1)
        n = -1;
    if (f)
        pclose(f);
    return n;
}

static long rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* What kxd's log says of hosts that died or hung: where a failed count or
 * an unexpected status came from. */
static void print_deaths(const struct kxd_proc *p)
{
    static const char *const words[] = {"died", "hung", "not responding", "SUMMARY", "killed"};
    char *log = kxd_read_log(p);
    int shown = 0;
    for (char *line = log ? strtok(log, "\n") : NULL; line && shown < 20;
         line = strtok(NULL, "\n"))
        for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
            if (strstr(line, words[i])) {
                printf("soak: kxd log: %s\n", line);
                shown++;
                break;
            }
    free(log);
}

int main(void)
{
    static struct kxd_proc p;
    const char *args[] = {"--host-mode", "process", "--hang-ms", "1000", NULL};
    if (kxd_start_args(&p, args) != 0) {
        fprintf(stderr, "soak: kxd did not start (log %s)\n", p.log);
        return 1;
    }
    kxd = &p;
    for (size_t i = 0; i < N_TARGETS; i++)
        if (kxd_sh("cd %s && KX_SOCKET=%s ./kx fault %s %s >/dev/null", getenv("KX_BUILD_DIR"),
                   p.socket, targets[i].path, targets[i].rule) != 0) {
            fprintf(stderr, "soak: kx fault %s %s failed\n", targets[i].path, targets[i].rule);
            return 1;
        }
    long fd0 = proc_count("fd", p.pid), th0 = proc_count("task", p.pid), rss0 = rss_kb(p.pid);
    long fd_max = fd0, th_max = th0, rss_max = rss0, rss_warm = 0;
    pthread_t t[N_THREADS];
    for (uintptr_t i = 0; i < N_THREADS; i++)
        pthread_create(&t[i], NULL, client, (void *)(i + 1));
    int up = 1;
    uint64_t total = 0;
    for (int s = 1; s <= GIVE_UP_S && ((total = fired(NULL)) < FAULT_TARGET || s <= MIN_SECONDS);
         s++) {
        sleep(1);
        up = kill(p.pid, 0) == 0;
        if (!up)
            break;
        long fd = proc_count("fd", p.pid), th = proc_count("task", p.pid), rss = rss_kb(p.pid);
        fd_max = fd > fd_max ? fd : fd_max;
        th_max = th > th_max ? th : th_max;
        rss_max = rss > rss_max ? rss : rss_max;
        if (s == 5)
            rss_warm = rss;
        printf("soak: %3d s  faults %6llu  calls %8llu  fds %ld  threads %ld  rss %ld kB\n", s,
               (unsigned long long)total, (unsigned long long)atomic_load(&calls), fd, th, rss);
        fflush(stdout);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    uint64_t seen[N_TARGETS] = {0};
    total = fired(seen);
    int exactly_once = atomic_load(&calls) == atomic_load(&answers);
    printf("soak: faults fired %llu (target %d); kxd %s\n", (unsigned long long)total, FAULT_TARGET,
           up ? "up throughout" : "DIED");
    printf("soak: client calls %llu, answered %llu (ok %llu, injected failures %llu, timeouts "
           "%llu, other %llu), reconnects %llu\n",
           (unsigned long long)calls, (unsigned long long)answers, (unsigned long long)n_ok,
           (unsigned long long)n_injected, (unsigned long long)n_timeout,
           (unsigned long long)n_other, (unsigned long long)reconnects);
    for (size_t i = 0; i < N_TARGETS; i++) {
        printf("soak: %-10s IRPs sent %llu, seen by kxd %llu\n", targets[i].path,
               (unsigned long long)targets[i].sent, (unsigned long long)seen[i]);
        exactly_once &= targets[i].sent == seen[i];
    }
    sleep(1); /* kxd closes what the clients left behind */
    long fd_end = proc_count("fd", p.pid);
    printf("soak: kxd fds %ld -> max %ld -> %ld; threads %ld -> max %ld -> %ld; rss %ld kB -> "
           "max %ld kB (after warm-up %ld kB) -> %ld kB\n",
           fd0, fd_max, fd_end, th0, th_max, proc_count("task", p.pid), rss0, rss_max, rss_warm,
           rss_kb(p.pid));
    /* Bounded: clients hold at most a connection each, and kxd gives its
     * descriptors back when they go; threads don't grow with requests; RSS
     * stays within twice its warmed-up size. */
    int bounded = fd_max <= fd0 + FDS_PER_CONNECTION * N_THREADS + 8 && fd_end <= fd0 + 8 &&
                  th_max <= th0 + 8 && (!rss_warm || rss_max <= 2 * rss_warm);
    int rc = up && exactly_once && bounded && total >= FAULT_TARGET ? 0 : 1;
    printf("soak: %s (exactly once: %s, bounded: %s)\n", rc ? "FAILED" : "passed",
           exactly_once ? "yes" : "NO", bounded ? "yes" : "NO");
    if (rc)
        print_deaths(&p);
    int st = kxd_stop(&p);
    if (st != 0)
        printf("soak: kxd exited %d on SIGTERM (log %s)\n", st, p.log);
    else
        kxd_cleanup(&p);
    return rc;
}
