/* test_kxd_hostile.c — kxd against clients that misbehave on purpose: a peer
 * that leaves with every request slot in flight, clients that never read
 * their replies, a flood of connections at the descriptor limit, and a
 * shutdown with reads pending. Each test reproduces a failure kxd once had
 * (a spin, unbounded memory, a log flood, a bare EOF) and asserts its cause
 * is gone: handles closed, bytes held within the limit, answers given. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "patience.h"

#include "proto/msg.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB ((uint32_t)1 << 20)

static void sleep_ms(unsigned ms)
{
    t_sleep_ms(ms);
}

/* ---- a raw protocol peer ------------------------------------------------- */

static int raw_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void raw_send(int fd, struct kx_msg_builder *b)
{
    assert_int_equal(kx_msg_finish(b), STATUS_SUCCESS);
    for (size_t off = 0; off < b->len;) {
        ssize_t n = send(fd, b->buf + off, b->len - off, MSG_NOSIGNAL);
        assert_true(n > 0);
        off += (size_t)n;
    }
    kx_msg_builder_free(b);
}

static int recv_full(int fd, void *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = recv(fd, (char *)buf + off, len - off, 0);
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

/* The next message: header in *h, payload malloc'ed (free it). NULL at EOF. */
static uint8_t *raw_recv(int fd, struct kx_msg_hdr *h)
{
    uint8_t raw[KX_MSG_HDR_LEN];
    const char *why;
    if (recv_full(fd, raw, sizeof raw) != 0)
        return NULL;
    assert_int_equal(kx_msg_hdr_decode(raw, h, &why), STATUS_SUCCESS);
    uint8_t *p = malloc(h->len ? h->len : 1);
    assert_non_null(p);
    assert_int_equal(recv_full(fd, p, h->len), 0);
    return p;
}

static uint32_t raw_open(int fd, const char *path, uint32_t access)
{
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_OPEN, 1);
    kx_msg_put_str(&b, path);
    kx_msg_put_u32(&b, access);
    raw_send(fd, &b);
    struct kx_msg_hdr h;
    uint8_t *p = raw_recv(fd, &h);
    assert_non_null(p);
    assert_int_equal(h.type, KX_MSG_OK);
    struct kx_msg_reader r;
    kx_msg_reader_init(&r, p, h.len);
    assert_int_equal(kx_msg_get_i32(&r), STATUS_SUCCESS);
    uint32_t handle = (uint32_t)kx_msg_get_u64(&r);
    free(p);
    return handle;
}

static void raw_read_request(int fd, uint32_t req_id, uint32_t handle, uint32_t len,
                             uint32_t timeout_ms)
{
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_READ, req_id);
    kx_msg_put_u32(&b, handle);
    kx_msg_put_u64(&b, 0);
    kx_msg_put_u32(&b, len);
    kx_msg_put_u32(&b, timeout_ms);
    raw_send(fd, &b);
}

/* ---- observing kxd ------------------------------------------------------- */

/* kxd's view of the test's raw peer (told from the observing connection by
 * the device it has open); 0 when there is none. *whole, if given, gets the
 * totals. */
/* The connection of process `pid` that holds handles, as kxd reports it. */
static int conn_of(const struct kxd_proc *p, pid_t pid, struct kx_client_conn *out,
                   struct kx_client_server *whole)
{
    kx_client *c = kxd_connect(p);
    struct kx_client_server s;
    assert_int_equal(kx_client_server(c, &s), STATUS_SUCCESS);
    int found = 0;
    for (size_t i = 0; i < s.n_listed && !found; i++)
        if (s.conns[i].pid == pid && s.conns[i].handles) {
            *out = s.conns[i];
            found = 1;
        }
    if (whole) {
        *whole = s;
        whole->conns = NULL;
        whole->n_listed = 0;
    }
    kx_client_server_free(&s);
    kx_client_disconnect(c);
    return found;
}

static int server_conn(const struct kxd_proc *p, struct kx_client_conn *out,
                       struct kx_client_server *whole)
{
    return conn_of(p, getpid(), out, whole);
}

static uint32_t handles_on(const struct kxd_proc *p, const char *device)
{
    kx_client *c = kxd_connect(p);
    struct kx_client_object *objs;
    size_t n;
    uint32_t handles = UINT32_MAX;
    assert_int_equal(kx_client_ls(c, &objs, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++)
        if (objs[i].is_device && strcmp(objs[i].name, device) == 0)
            handles = objs[i].handles;
    kx_client_objects_free(objs, n);
    kx_client_disconnect(c);
    return handles;
}

/* What /proc says of a process: threads, descriptors, resident KiB, CPU ticks. */
struct usage {
    long threads, fds, rss_kib;
    unsigned long long ticks;
};

static int count_fds(pid_t pid);
static uint64_t cpu_ticks(pid_t pid);

static struct usage usage_of(pid_t pid)
{
    struct usage u = {0, 0, 0, 0};
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "Threads: %ld", &u.threads);
        sscanf(line, "VmRSS: %ld", &u.rss_kib);
    }
    fclose(f);
    u.fds = count_fds(pid);
    u.ticks = cpu_ticks(pid);
    return u;
}

static void print_usage(const char *when, struct usage u)
{
    print_message("kxd %-28s threads %3ld  fds %4ld  RSS %7ld KiB  CPU %6.2f s\n", when, u.threads,
                  u.fds, u.rss_kib, (double)u.ticks / (double)sysconf(_SC_CLK_TCK));
}

static unsigned stress_seconds(void)
{
    const char *s = getenv("KX_STRESS_SECONDS");
    long v = s ? strtol(s, NULL, 10) : 0;
    return v > 0 ? (unsigned)v : 3;
}

static uint32_t n_conns(kx_client *c)
{
    struct kx_client_server s;
    assert_int_equal(kx_client_server(c, &s), STATUS_SUCCESS);
    kx_client_server_free(&s);
    return s.n_conns;
}

/* How many of fds have something to read (an answer, or the close). */
static int n_readable(const int *fds, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        struct pollfd pf = {fds[i], POLLIN, 0};
        k += poll(&pf, 1, 0) > 0;
    }
    return k;
}

/* ---- churn: clients doing I/O while their drivers' kexts come and go ----- */

struct churn {
    const struct kxd_proc *p;
    atomic_int stop, failures;
    atomic_ulong ios, unloads, loads;
    char first[256];
    pthread_mutex_t lock;
};

static void churn_fail(struct churn *c, const char *what, kx_status st)
{
    pthread_mutex_lock(&c->lock);
    if (!atomic_fetch_add(&c->failures, 1))
        snprintf(c->first, sizeof c->first, "%s: %s", what, kx_status_name(st));
    pthread_mutex_unlock(&c->lock);
}

/* What a device may answer while its kext is unloaded under it. */
static int gone(kx_status st)
{
    return st == STATUS_NO_SUCH_FILE || st == STATUS_DEVICE_REMOVED ||
           st == STATUS_DEVICE_NOT_READY || st == STATUS_INVALID_HANDLE || st == STATUS_CANCELLED ||
           st == STATUS_DRIVER_NOT_RESPONDING;
}

static void *churn_client(void *arg)
{
    struct churn *c = arg;
    kx_client *cl = NULL;
    if (kx_client_connect(c->p->socket, &cl) != STATUS_SUCCESS) {
        churn_fail(c, "connect", STATUS_CONNECTION_REFUSED);
        return NULL;
    }
    unsigned seed = (unsigned)(uintptr_t)pthread_self();
    char buf[512];
    while (!atomic_load(&c->stop)) {
        const char *dev = rand_r(&seed) & 1 ? "/dev/null" : "/dev/zero";
        uint32_t h;
        kx_status st = kx_client_open(cl, dev, KX_ACCESS_READ | KX_ACCESS_WRITE, &h);
        if (st != STATUS_SUCCESS) {
            if (!gone(st))
                churn_fail(c, "open", st);
            continue;
        }
        uint64_t info;
        size_t got;
        st = kx_client_write(cl, h, 0, buf, sizeof buf, 0, &info);
        if (st == STATUS_SUCCESS)
            st = kx_client_read(cl, h, 0, buf, sizeof buf, 0, &got);
        if (st != STATUS_SUCCESS && st != STATUS_END_OF_FILE && !gone(st))
            churn_fail(c, "read/write", st);
        st = kx_client_close(cl, h);
        if (st != STATUS_SUCCESS && !gone(st))
            churn_fail(c, "close", st);
        atomic_fetch_add(&c->ios, 1);
    }
    kx_client_disconnect(cl);
    return NULL;
}

static void *churn_loader(void *arg)
{
    struct churn *c = arg;
    kx_client *cl = kxd_connect(c->p);
    static const char *const ids[] = {"org.kx.driver.Null", "org.kx.driver.Zero"};
    for (unsigned round = 0; !atomic_load(&c->stop); round++) {
        const char *id = ids[round & 1];
        /* Refused while a client holds a device (the report names it);
         * unloaded otherwise. Either way, load it again. */
        kx_status st = kx_client_unload(cl, id, 0);
        if (st == STATUS_SUCCESS)
            atomic_fetch_add(&c->unloads, 1);
        else if (st != STATUS_KEXT_IN_USE)
            churn_fail(c, "unload", st);
        st = kx_client_load(cl, id, 0);
        if (st == STATUS_SUCCESS)
            atomic_fetch_add(&c->loads, 1);
        else
            churn_fail(c, "load", st);
        struct kx_client_kext *ks;
        size_t n;
        if (kx_client_stat(cl, &ks, &n) == STATUS_SUCCESS)
            kx_client_kexts_free(ks, n);
        struct kx_client_object *objs;
        if (kx_client_ls(cl, &objs, &n) == STATUS_SUCCESS)
            kx_client_objects_free(objs, n);
    }
    kx_client_disconnect(cl);
    return NULL;
}

/* 16 clients open, write, read and close /dev/null and /dev/zero while Null
 * and Zero are unloaded and loaded again in a loop (kxd once died here, in
 * the holder list of a refused unload). KX_STRESS_SECONDS sets how long. */
static void run_churn(const struct kxd_proc *p, unsigned seconds)
{
    static struct churn c;
    memset(&c, 0, sizeof c);
    c.p = p;
    pthread_mutex_init(&c.lock, NULL);
    pthread_t clients[16], loader;
    for (int i = 0; i < 16; i++)
        assert_int_equal(pthread_create(&clients[i], NULL, churn_client, &c), 0);
    assert_int_equal(pthread_create(&loader, NULL, churn_loader, &c), 0);
    sleep_ms(seconds * 1000u);
    atomic_store(&c.stop, 1);
    for (int i = 0; i < 16; i++)
        pthread_join(clients[i], NULL);
    pthread_join(loader, NULL);
    print_message("churn: %lu open/write/read/close, %lu unloads, %lu loads\n", atomic_load(&c.ios),
                  atomic_load(&c.unloads), atomic_load(&c.loads));
    if (atomic_load(&c.failures))
        fail_msg("%d failure(s), the first: %s", atomic_load(&c.failures), c.first);
    assert_true(atomic_load(&c.ios) > 0);
    assert_true(atomic_load(&c.loads) > 0);
    pthread_mutex_destroy(&c.lock);
}

static void test_clients_and_kexts_churn_together(void **state)
{
    run_churn(*state, stress_seconds());
    kx_client *c = kxd_connect(*state); /* still serving, every kext back */
    assert_true(kxd_tag_of(c, "org.kx.driver.Null") != 0);
    assert_true(kxd_tag_of(c, "org.kx.driver.Zero") != 0);
    kx_client_disconnect(c);
}

/* Hostile traffic, churn and a crowd leave kxd as they found it: no
 * descriptor or thread kept. The figures go to the test's output. */
static void test_stress_leaves_no_descriptor_or_thread_behind(void **state)
{
    struct kxd_proc *p = *state;
    struct usage fresh = usage_of(p->pid);
    print_usage("fresh", fresh);

    /* 10,000 hostile messages: garbage headers, unknown types, truncated
     * payloads, each on a connection kxd closes. The observer connects first
     * (kxd may turn new clients away while a thousand hang-ups wait to be
     * seen), and the flood pauses every 500 until kxd has seen them. */
    kx_client *c = kxd_connect(p);
    unsigned seed = 1;
    for (int i = 0; i < 10000; i++) {
        int fd = raw_connect(p->socket);
        assert_true(fd >= 0);
        uint8_t junk[64];
        for (size_t k = 0; k < sizeof junk; k++)
            junk[k] = (uint8_t)rand_r(&seed);
        if (i % 2) { /* a valid header on a malformed payload */
            struct kx_msg_hdr h = {KX_MSG_MAGIC, KX_MSG_VERSION, (uint16_t)(KX_MSG_OPEN + i % 8),
                                   40,           (uint32_t)i,    0};
            kx_msg_hdr_encode(&h, junk);
        }
        ssize_t n = send(fd, junk, sizeof junk, MSG_NOSIGNAL);
        (void)n;
        close(fd);
        if (i % 500 == 499)
            T_WAIT_FOR(n_conns(c) == 1);
    }
    T_WAIT_FOR(n_conns(c) == 1); /* kxd has seen every hang-up */
    kx_client_disconnect(c);
    struct usage hostile; /* the observer's own hang-up may not be seen yet */
    T_WAIT_FOR((hostile = usage_of(p->pid)).fds == fresh.fds);
    print_usage("after 10k hostile messages", hostile);
    assert_int_equal(hostile.fds, fresh.fds);

    run_churn(p, 2);
    struct usage churned; /* closes of departed clients run on workers */
    T_WAIT_FOR((churned = usage_of(p->pid)).fds == fresh.fds);
    print_usage("after the churn", churned);
    assert_int_equal(churned.fds, fresh.fds);
    assert_int_equal(churned.threads, fresh.threads);

    static int fds[1000];
    for (int i = 0; i < 1000; i++) {
        fds[i] = raw_connect(p->socket);
        assert_true(fds[i] >= 0);
    }
    c = kxd_connect(p);
    T_WAIT_FOR(n_conns(c) == 1001);
    assert_int_equal(n_conns(c), 1001);
    struct usage crowd = usage_of(p->pid);
    print_usage("with 1,000 connections", crowd);
    for (int i = 0; i < 1000; i++)
        close(fds[i]);
    T_WAIT_FOR(n_conns(c) == 1);
    kx_client_disconnect(c);
    struct usage after;
    T_WAIT_FOR((after = usage_of(p->pid)).fds == fresh.fds);
    print_usage("after they left", after);
    assert_int_equal(after.fds, fresh.fds);
    assert_int_equal(after.threads, fresh.threads);
}

/* ---- the tests ----------------------------------------------------------- */

static void test_peer_leaving_with_every_slot_in_flight_is_noticed(void **state)
{
    struct kxd_proc *p = *state;
    int fd = raw_connect(p->socket);
    assert_true(fd >= 0);
    uint32_t h = raw_open(fd, "/dev/pipe0", KX_ACCESS_READ);
    /* Reads of an empty pipe pend for ever (no deadline): 256 of them fill
     * every request slot the connection has. */
    for (uint32_t i = 0; i < 256; i++)
        raw_read_request(fd, 100 + i, h, 16, UINT32_MAX);
    struct kx_client_conn conn = {0};
    T_WAIT_FOR(server_conn(p, &conn, NULL) && conn.pending == 256);
    assert_int_equal(conn.pending, 256);
    assert_int_equal(conn.handles, 1);

    close(fd);
    /* The hang-up is seen at once: the handle closes, the reads are
     * cancelled, and the driver can be unloaded. */
    uint32_t left = UINT32_MAX;
    T_WAIT_FOR((left = handles_on(p, "\\Device\\Pipe0")) == 0);
    assert_int_equal(left, 0);
    kx_client *c = kxd_connect(p);
    assert_int_equal(kx_client_unload(c, "org.kx.driver.Pipe", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

/* One connection asks for 256 MiB of /dev/zero and reads nothing. */
static void test_client_that_never_reads_is_held_to_its_share(void **state)
{
    struct kxd_proc *p = *state;
    int fd = raw_connect(p->socket);
    assert_true(fd >= 0);
    uint32_t h = raw_open(fd, "/dev/zero", KX_ACCESS_READ);
    for (uint32_t i = 0; i < 256; i++)
        raw_read_request(fd, 100 + i, h, MIB, 0);

    struct kx_client_conn conn = {0};
    struct kx_client_server whole;
    T_WAIT_FOR(server_conn(p, &conn, &whole) && conn.throttled);
    assert_true(conn.throttled);
    /* Within its share, give or take the one request read last. */
    assert_true(conn.bytes_held <= whole.conn_bytes_limit + MIB + 4096);
    assert_true(conn.pending < 256);
    assert_true(whole.bytes_held <= whole.total_bytes_limit);

    /* Back-pressure, not loss: every read is answered, in full. */
    unsigned answered = 0;
    for (; answered < 256; answered++) {
        struct kx_msg_hdr hd;
        uint8_t *pl = raw_recv(fd, &hd);
        assert_non_null(pl);
        assert_int_equal(hd.type, KX_MSG_DATA);
        struct kx_msg_reader r;
        kx_msg_reader_init(&r, pl, hd.len);
        assert_int_equal(kx_msg_get_i32(&r), STATUS_SUCCESS);
        kx_msg_get_u64(&r);
        size_t n;
        kx_msg_get_bytes(&r, &n);
        assert_int_equal(n, MIB);
        free(pl);
    }
    assert_int_equal(answered, 256);
    close(fd);
}

static int setup_small_share(void **state)
{
    static const char *const args[] = {"--max-client-bytes", "4M", "--max-total-bytes", "6M", NULL};
    struct kxd_proc *p = calloc(1, sizeof *p);
    if (!p || kxd_start_args(p, args) != 0) {
        if (p)
            kxd_cleanup(p);
        free(p);
        return -1;
    }
    *state = p;
    return 0;
}

/* Two such clients together are held to the total. */
static void test_clients_that_never_read_are_held_to_the_total(void **state)
{
    struct kxd_proc *p = *state;
    int fds[2];
    for (int k = 0; k < 2; k++) {
        fds[k] = raw_connect(p->socket);
        assert_true(fds[k] >= 0);
        uint32_t h = raw_open(fds[k], "/dev/zero", KX_ACCESS_READ);
        for (uint32_t i = 0; i < 64; i++)
            raw_read_request(fds[k], 100 + i, h, MIB, 0);
    }
    struct kx_client_conn conn;
    struct kx_client_server whole = {0};
    T_WAIT_FOR((server_conn(p, &conn, &whole), whole.n_throttled == 2));
    assert_int_equal(whole.n_throttled, 2);
    assert_true(whole.bytes_held <= whole.total_bytes_limit + 2 * (MIB + 4096));
    for (int k = 0; k < 2; k++) {
        for (unsigned i = 0; i < 64; i++) {
            struct kx_msg_hdr hd;
            uint8_t *pl = raw_recv(fds[k], &hd);
            assert_non_null(pl);
            assert_int_equal(hd.type, KX_MSG_DATA);
            free(pl);
        }
        close(fds[k]);
    }
}

static uint64_t cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *s = strrchr(buf, ')');
    assert_non_null(s);
    unsigned long long utime = 0, stime = 0;
    /* After the name: state and 10 more fields, then utime and stime. */
    assert_int_equal(
        sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime), 2);
    return utime + stime;
}

static int count_fds(pid_t pid)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "ls /proc/%d/fd | wc -l", (int)pid);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (f && fscanf(f, "%d", &n) != 1)
        n = -1;
    if (f)
        pclose(f);
    return n;
}

/* At its descriptor limit kxd turns clients away, says why, rests instead of
 * spinning, logs the failure once, and serves again when descriptors free. */
static void test_descriptor_limit_neither_spins_nor_floods_the_log(void **state)
{
    struct kxd_proc *p = *state;
    int used = count_fds(p->pid);
    assert_true(used > 0);
    struct rlimit old, rl;
    assert_int_equal(prlimit(p->pid, RLIMIT_NOFILE, NULL, &old), 0);
    rl = (struct rlimit){(rlim_t)used + 8, old.rlim_max};
    assert_int_equal(prlimit(p->pid, RLIMIT_NOFILE, &rl, NULL), 0);

    int fds[64], n_fds = 0, refused = 0;
    for (int i = 0; i < 64; i++) {
        int fd = raw_connect(p->socket);
        if (fd < 0)
            break;
        fds[n_fds++] = fd;
    }
    /* Those over the limit are answered TOO_MANY_CONNECTIONS and closed. */
    T_WAIT_FOR(n_readable(fds, n_fds) > 0);
    for (int i = 0; i < n_fds; i++) {
        struct pollfd pf = {fds[i], POLLIN, 0};
        if (poll(&pf, 1, 0) <= 0)
            continue; /* accepted */
        struct kx_msg_hdr h;
        uint8_t *pl = raw_recv(fds[i], &h);
        if (pl && h.type == KX_MSG_ERROR) {
            struct kx_msg_reader r;
            kx_msg_reader_init(&r, pl, h.len);
            refused += kx_msg_get_i32(&r) == STATUS_TOO_MANY_CONNECTIONS;
        }
        free(pl);
    }
    assert_true(refused > 0);

    /* While clients keep knocking at the limit, kxd mostly sleeps. */
    uint64_t t0 = cpu_ticks(p->pid);
    for (int i = 0; i < 20; i++) {
        int fd = raw_connect(p->socket);
        if (fd >= 0)
            close(fd);
        sleep_ms(50);
    }
    uint64_t busy = cpu_ticks(p->pid) - t0;
    long hz = sysconf(_SC_CLK_TCK);
    print_message("kxd used %llu ticks of %ld in 1 s at the descriptor limit\n",
                  (unsigned long long)busy, hz);
    assert_true(busy < (uint64_t)hz / 2);

    char *log = kxd_read_log(p);
    unsigned lines = 0;
    for (const char *s = log; (s = strstr(s, "accept: ")); s++)
        lines++;
    free(log);
    assert_true(lines >= 1);
    assert_true(lines <= 3); /* folded: "last message repeated N times" */

    for (int i = 0; i < n_fds; i++)
        close(fds[i]);
    assert_int_equal(prlimit(p->pid, RLIMIT_NOFILE, &old, NULL), 0);
    kx_client *c = NULL;
    T_WAIT_FOR(kx_client_connect(p->socket, &c) == STATUS_SUCCESS);
    assert_non_null(c);
    struct kx_client_object *objs;
    size_t n;
    assert_int_equal(kx_client_ls(c, &objs, &n), STATUS_SUCCESS);
    kx_client_objects_free(objs, n);
    kx_client_disconnect(c);
}

/* One user can't take every connection: past --max-connections-per-user
 * kxd answers TOO_MANY_CONNECTIONS and closes; root is not counted. */
static void test_connections_per_user_are_limited(void **state)
{
    (void)state;
    if (getuid() != 0)
        skip(); /* needs root to become nobody */
    struct kxd_proc *p = calloc(1, sizeof *p);
    const char *args[] = {"--max-connections-per-user", "4", NULL};
    assert_int_equal(kxd_start_args(p, args), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(0xFF);
        int fds[5], refused = 0;
        for (int i = 0; i < 5; i++)
            fds[i] = raw_connect(p->socket);
        T_WAIT_FOR(n_readable(fds, 5) > 0);
        for (int i = 0; i < 5; i++) {
            struct pollfd pf = {fds[i], POLLIN, 0};
            if (poll(&pf, 1, 0) <= 0)
                continue; /* accepted */
            uint8_t raw[KX_MSG_HDR_LEN + 64];
            ssize_t n = recv(fds[i], raw, sizeof raw, 0);
            refused += n > KX_MSG_HDR_LEN && raw[6] == KX_MSG_ERROR;
        }
        _exit(refused == 1 ? 0 : 10 + refused);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    kx_client *cs[6]; /* root is not limited */
    for (int i = 0; i < 6; i++)
        cs[i] = kxd_connect(p);
    for (int i = 0; i < 6; i++) {
        struct kx_client_object *objs;
        size_t n;
        assert_int_equal(kx_client_ls(cs[i], &objs, &n), STATUS_SUCCESS);
        kx_client_objects_free(objs, n);
        kx_client_disconnect(cs[i]);
    }
    *state = p;
}

/* A read pending at SIGTERM is answered STATUS_SYSTEM_SHUTDOWN, not EOF. */
static void test_shutdown_answers_pending_reads(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/pipe0", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    pid_t kxd = p->pid, reader = getpid();
    pid_t killer = fork();
    assert_true(killer >= 0);
    if (killer == 0) { /* once the read is pending */
        struct kx_client_conn conn = {0};
        T_WAIT_FOR(conn_of(p, reader, &conn, NULL) && conn.pending == 1);
        kill(kxd, SIGTERM);
        _exit(0);
    }
    char buf[16];
    size_t got;
    kx_status st = kx_client_read(c, h, 0, buf, sizeof buf, UINT32_MAX, &got);
    waitpid(killer, NULL, 0);
    assert_int_equal(st, STATUS_SYSTEM_SHUTDOWN);
    kx_client_disconnect(c);
}

static int teardown_stopped(void **state)
{
    struct kxd_proc *p = *state;
    int status;
    int rc = waitpid(p->pid, &status, 0) == p->pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    kxd_cleanup(p);
    free(p);
    return rc == 0 ? 0 : -1;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        KXD_TEST(test_peer_leaving_with_every_slot_in_flight_is_noticed),
        KXD_TEST(test_client_that_never_reads_is_held_to_its_share),
        cmocka_unit_test_setup_teardown(test_clients_that_never_read_are_held_to_the_total,
                                        setup_small_share, kxd_teardown),
        KXD_TEST(test_descriptor_limit_neither_spins_nor_floods_the_log),
        cmocka_unit_test_setup_teardown(test_shutdown_answers_pending_reads, kxd_setup,
                                        teardown_stopped),
        cmocka_unit_test_teardown(test_connections_per_user_are_limited, kxd_teardown),
        KXD_TEST(test_clients_and_kexts_churn_together),
        KXD_TEST(test_stress_leaves_no_descriptor_or_thread_behind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
