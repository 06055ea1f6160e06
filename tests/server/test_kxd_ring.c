/* test_kxd_ring.c — a client's shared-memory ring to kxd (proto/ring_proto.h):
 * opens, closes, reads, writes, ioctls and batches go through it (the client
 * maps kxd's region), opens with the socket's access check; 1 MiB reads
 * arrive whole; KX_CLIENT_RING=0 keeps I/O on the
 * socket; a ring with garbage in it, or a client leaving mid-batch, costs
 * that client its connection (logged with its pid and uid) and leaves kxd's
 * ring threads asleep and serving everyone else. Reads of 64 KiB to 1 MiB go
 * through read slots the driver fills in place (with drivers in a kx-host
 * process and in kxd), or are lent where they lie (kx_client_read_view);
 * large writes, alone and batched past a host's bulk slots, arrive whole;
 * hostile slot use costs the client its connection, and a client leaving
 * with slots held leaves nothing behind. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "patience.h"

#include "../../drivers/RamDisk/ramdisk.h"
#include "core/plat.h"
#include "core/plat_shm.h"
#include "core/plat_sock.h"
#include "core/ring.h"
#include "proto/msg.h"
#include "proto/ring_proto.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Whether this process maps a client ring's region now. */
static int ring_mapped(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, "kx-ring:") != NULL;
    fclose(f);
    return found;
}

static void test_reads_writes_and_ioctls_go_through_the_ring(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    assert_false(ring_mapped()); /* set up at the first open or I/O, not at connect */
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/ram0", KX_ACCESS_READ | KX_ACCESS_WRITE, &h),
                     STATUS_SUCCESS);
    static unsigned char out[2 * RAMDISK_SECTOR_SIZE], in[2 * RAMDISK_SECTOR_SIZE];
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (unsigned char)(i * 7 + 3);
    uint64_t info = 0;
    assert_int_equal(kx_client_write(c, h, RAMDISK_SECTOR_SIZE, out, sizeof out, 0, &info),
                     STATUS_SUCCESS);
    assert_int_equal(info, sizeof out);
    assert_true(ring_mapped());
    size_t got = 0;
    assert_int_equal(kx_client_read(c, h, RAMDISK_SECTOR_SIZE, in, sizeof in, 0, &got),
                     STATUS_SUCCESS);
    assert_int_equal(got, sizeof in);
    assert_memory_equal(in, out, sizeof in);
    struct ramdisk_geometry g = {0};
    assert_int_equal(kx_client_ioctl(c, h, IOCTL_RAMDISK_GET_GEOMETRY, NULL, 0, &g, sizeof g, 0,
                                     &got),
                     STATUS_SUCCESS);
    assert_int_equal(got, sizeof g);
    assert_int_equal(g.bytes_per_sector, RAMDISK_SECTOR_SIZE);
    /* A driver's error is the request's own, and the ring goes on. */
    assert_int_equal(kx_client_read(c, h + 1000, 0, in, 16, 0, &got), STATUS_INVALID_HANDLE);
    assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    kx_client_disconnect(c);
    assert_false(ring_mapped());
}

/* Each round's read follows a write of other bytes, which may have left
 * them in the buffer (the host's bulk slot) the read gets next. */
static void test_a_1mib_read_of_zero_arrives_whole(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ | KX_ACCESS_WRITE, &h),
                     STATUS_SUCCESS);
    size_t len = KX_CLIENT_IO_MAX;
    unsigned char *buf = malloc(len), *zeros = calloc(1, len);
    assert_non_null(buf);
    assert_non_null(zeros);
    for (int round = 0; round < 3; round++) {
        /* All other bytes; zeros but for the last; zeros but for one inside */
        memset(buf, round ? 0 : 0xa5, len);
        if (round)
            buf[round == 1 ? len - 1 : len / 2 + 7] = 0xa5;
        size_t got = 0;
        assert_int_equal(kx_client_write(c, h, 0, buf, len, 0, &got), STATUS_SUCCESS);
        assert_int_equal(got, len);
        got = 0;
        assert_int_equal(kx_client_read(c, h, 0, buf, len, 0, &got), STATUS_SUCCESS);
        assert_int_equal(got, len);
        assert_memory_equal(buf, zeros, len);
    }
    assert_true(ring_mapped());
    free(buf);
    free(zeros);
    kx_client_disconnect(c);
}

/* More than the credit allows at once (32 reads of 96 KiB): the client
 * keeps the rest back and sends it as answers come, all in one call. */
static void test_a_batch_past_the_credit_is_answered_whole(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t z, n;
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &z), STATUS_SUCCESS);
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &n), STATUS_SUCCESS);
    enum { N = KX_CLIENT_BATCH_MAX, LEN = 96 << 10 };
    unsigned char *bufs = malloc((size_t)N * LEN);
    assert_non_null(bufs);
    memset(bufs, 0xa5, (size_t)N * LEN);
    struct kx_client_io ios[N];
    for (int i = 0; i < N; i++)
        ios[i] = i % 2 ? (struct kx_client_io){.op = KX_CLIENT_OP_WRITE, .handle = n,
                                               .in = "ring", .in_len = 4}
                       : (struct kx_client_io){.op = KX_CLIENT_OP_READ, .handle = z,
                                               .out = bufs + (size_t)i * LEN, .out_len = LEN};
    assert_true((uint64_t)N / 2 * kxr_done_bytes(LEN) > KXR_CREDIT_BYTES);
    assert_int_equal(kx_client_submit(c, ios, N), STATUS_SUCCESS);
    for (int i = 0; i < N; i++) {
        assert_int_equal(ios[i].status, STATUS_SUCCESS);
        if (i % 2) {
            assert_int_equal(ios[i].information, 4);
        } else {
            assert_int_equal(ios[i].got, LEN);
            for (size_t k = 0; k < LEN; k += 4096)
                assert_int_equal(bufs[(size_t)i * LEN + k], 0);
        }
    }
    free(bufs);
    kx_client_disconnect(c);
}

static void test_ring_0_keeps_io_on_the_socket(void **state)
{
    struct kxd_proc *p = *state;
    setenv("KX_CLIENT_RING", "0", 1);
    kx_client *c = kxd_connect(p);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    char buf[64];
    memset(buf, 1, sizeof buf);
    size_t got = 0;
    assert_int_equal(kx_client_read(c, h, 0, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, sizeof buf);
    assert_int_equal(buf[0] | buf[63], 0);
    assert_false(ring_mapped());
    kx_client_disconnect(c);
    unsetenv("KX_CLIENT_RING");
}

/* ---- hostile clients ------------------------------------------------------- */

/* The read slots' message that follows a ring's descriptors: the region
 * mapped into *slots, or closed when slots is NULL. */
static void raw_slots(int sock, uint8_t **slots)
{
    char msg[sizeof KXR_SLOTS_HELLO];
    size_t got = 0;
    int fd = -1, n = 0;
    assert_int_equal(kx_plat_sock_recv_fds(sock, msg, sizeof msg, &got, &fd, 1, &n),
                     STATUS_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(got, sizeof msg);
    assert_memory_equal(msg, KXR_SLOTS_HELLO, sizeof msg);
    size_t size = 0;
    assert_int_equal(kx_plat_shm_check(fd, &size), STATUS_SUCCESS); /* sealed */
    assert_int_equal(size, (size_t)KXR_SLOTS * KXR_SLOT_BYTES);
    if (slots) {
        void *at = NULL;
        assert_int_equal(kx_plat_shm_map(fd, size, &at), STATUS_SUCCESS);
        *slots = at;
    }
    kx_plat_close(fd);
}

/* A ring set up by hand on a raw connection: what a client that does not
 * use libkxclient holds. Its read slots are mapped into *slots (unless NULL). */
static struct kx_ring *raw_ring_slots(const struct kxd_proc *p, int *sock, uint8_t **slots)
{
    assert_int_equal(kx_plat_sock_connect(p->socket, sock), STATUS_SUCCESS);
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_RING, 1);
    assert_int_equal(kx_msg_finish(&b), STATUS_SUCCESS);
    assert_int_equal(kx_plat_send_all(*sock, b.buf, b.len), STATUS_SUCCESS);
    kx_msg_builder_free(&b);
    uint8_t reply[KXR_SETUP_REPLY_LEN];
    assert_int_equal(kx_plat_recv_all(*sock, reply, sizeof reply), STATUS_SUCCESS);
    struct kx_ring *r = NULL;
    assert_int_equal(kx_ring_attach_socket("test", *sock, &r, NULL), STATUS_SUCCESS);
    raw_slots(*sock, slots);
    return r;
}

static struct kx_ring *raw_ring(const struct kxd_proc *p, int *sock)
{
    return raw_ring_slots(p, sock, NULL);
}

/* The CPU time (clock ticks) kxd's kx-ring threads and its event loop
 * (kx-srv) have used so far; *seen: how many such threads there are. */
static uint64_t ring_threads_ticks(pid_t kxd, int *seen)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)kxd);
    DIR *d = opendir(path);
    assert_non_null(d);
    uint64_t ticks = 0;
    *seen = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char file[320], stat[512] = "";
        snprintf(file, sizeof file, "%s/%s/stat", path, e->d_name);
        FILE *f = fopen(file, "r");
        if (!f)
            continue;
        size_t n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = 0;
        const char *close_paren = strrchr(stat, ')');
        if (!close_paren || (!strstr(stat, "(kx-ring)") && !strstr(stat, "(kx-srv)")))
            continue;
        unsigned long long utime = 0, stime = 0;
        /* after ") ": state, then fields 4-13, then utime and stime (proc(5)) */
        if (sscanf(close_paren + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                   &utime, &stime) == 2)
            ticks += utime + stime;
        (*seen)++;
    }
    closedir(d);
    return ticks;
}

/* Those threads are idle: over 200 ms they used at most a tenth of one CPU
 * between them (a thread left spinning on a dead ring uses all of one).
 * Measured over a span, since any of them may wake for a moment. */
static int ring_threads_idle(pid_t kxd)
{
    int seen;
    uint64_t before = ring_threads_ticks(kxd, &seen);
    t_sleep_ms(200);
    uint64_t used = ring_threads_ticks(kxd, &seen) - before;
    long hz = sysconf(_SC_CLK_TCK);
    return seen >= 3 && used * 1000 <= (uint64_t)(hz > 0 ? hz : 100) * 20;
}

/* kxd's log names this process, its uid and why, and the socket ends. */
static void assert_dropped_for(const struct kxd_proc *p, int sock, const char *why)
{
    char buf[64];
    size_t got = 1;
    kx_status st;
    do /* kxd sent nothing on it: only the end of the stream can come */
        st = kx_plat_recv_some(sock, buf, sizeof buf, &got);
    while (st == STATUS_PENDING);
    assert_true(st != STATUS_SUCCESS || got == 0);
    char pattern[256];
    snprintf(pattern, sizeof pattern, "client pid %d uid %u: ring: .*%s.*closing its connection",
             (int)getpid(), (unsigned)getuid(), why);
    char *log = NULL;
    T_WAIT_FOR((free(log), log = kxd_read_log(p), kxd_count_matches(log, pattern) > 0));
    KXD_ASSERT_MATCHES(log, pattern);
    free(log);
}

static void assert_kxd_still_serves(const struct kxd_proc *p)
{
    int idle = 0;
    T_WAIT_FOR((idle = ring_threads_idle(p->pid)));
    assert_true(idle);
    kx_client *c = kxd_connect(p);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    uint64_t info = 0;
    assert_int_equal(kx_client_write(c, h, 0, "ok", 2, 0, &info), STATUS_SUCCESS);
    assert_int_equal(info, 2);
    kx_client_disconnect(c);
}

/* A second ring on one connection is refused, and the first goes on. */
static void test_one_ring_per_connection(void **state)
{
    struct kxd_proc *p = *state;
    int sock;
    struct kx_ring *r = raw_ring(p, &sock);
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_RING, 2);
    assert_int_equal(kx_msg_finish(&b), STATUS_SUCCESS);
    assert_int_equal(kx_plat_send_all(sock, b.buf, b.len), STATUS_SUCCESS);
    kx_msg_builder_free(&b);
    uint8_t reply[KXR_SETUP_REPLY_LEN];
    assert_int_equal(kx_plat_recv_all(sock, reply, sizeof reply), STATUS_SUCCESS);
    struct kx_msg_hdr h;
    const char *why;
    assert_int_equal(kx_msg_hdr_decode(reply, &h, &why), STATUS_SUCCESS);
    assert_int_equal(h.type, KX_MSG_OK);
    assert_int_equal(h.req_id, 2);
    struct kx_msg_reader rd;
    kx_msg_reader_init(&rd, reply + KX_MSG_HDR_LEN, h.len);
    assert_int_equal(kx_msg_get_i32(&rd), STATUS_RING_NOT_IDLE);
    /* The first ring still answers: a read on a handle this connection
     * doesn't have is the request's own failure. */
    struct kxr_req q = {7, 0, 0, 16, 0};
    assert_int_equal(kx_ring_send(r, KXR_READ, 5, &q, sizeof q, KX_RING_FOREVER), STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(r), STATUS_SUCCESS);
    struct kx_ring_rec rec;
    size_t n = 0;
    assert_int_equal(kx_ring_recv(r, &rec, 1, &n, KX_RING_FOREVER), STATUS_SUCCESS);
    assert_int_equal(n, 1);
    assert_int_equal(rec.type, KXR_DONE);
    assert_int_equal(rec.id, 5);
    struct kxr_done d;
    assert_int_equal(rec.len, sizeof d);
    memcpy(&d, rec.data, sizeof d);
    assert_int_equal(d.status, STATUS_INVALID_HANDLE);
    kx_ring_release(r);
    kx_ring_close(r);
    kx_plat_close(sock);
}

static void test_a_record_that_is_no_request_drops_the_client(void **state)
{
    struct kxd_proc *p = *state;
    int sock;
    struct kx_ring *r = raw_ring(p, &sock);
    assert_int_equal(kx_ring_send(r, 77, 1, "garbage", 7, KX_RING_FOREVER), STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(r), STATUS_SUCCESS);
    assert_dropped_for(p, sock, "not a request");
    kx_ring_close(r);
    kx_plat_close(sock);
    assert_kxd_still_serves(p);
}

static void test_a_corrupt_ring_drops_the_client(void **state)
{
    struct kxd_proc *p = *state;
    int sock;
    struct kx_ring *r = raw_ring(p, &sock);
    /* A record whose header claims more than the ring holds. */
    void *payload;
    assert_int_equal(kx_ring_reserve(r, KXR_READ, 1, 8, KX_RING_FOREVER, &payload),
                     STATUS_SUCCESS);
    ((struct kx_ring_rec_hdr *)payload - 1)->len = 0x7fffffffu;
    assert_int_equal(kx_ring_commit(r), STATUS_SUCCESS);
    assert_dropped_for(p, sock, "ring 'client pid");
    kx_ring_close(r);
    kx_plat_close(sock);
    assert_kxd_still_serves(p);
}

static void test_past_the_credit_drops_the_client(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/pipe0", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    (void)h;
    int sock;
    struct kx_ring *r = raw_ring(p, &sock);
    /* Reads that pend (an empty pipe's; handle 1 is this raw connection's
     * none, so they fail at once instead: either way, more than allowed). */
    struct kxr_req q = {1, 0, 0, KX_CLIENT_IO_MAX, UINT32_MAX};
    for (int i = 0; i < 3; i++)
        assert_int_equal(kx_ring_send(r, KXR_READ, (uint64_t)i, &q, sizeof q, KX_RING_FOREVER),
                         STATUS_SUCCESS);
    struct kxr_req big = {1, 0, 0, KX_CLIENT_IO_MAX + 1, 0};
    assert_int_equal(kx_ring_send(r, KXR_READ, 9, &big, sizeof big, KX_RING_FOREVER),
                     STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(r), STATUS_SUCCESS);
    assert_dropped_for(p, sock, "(credit|impossible lengths)");
    kx_ring_close(r);
    kx_plat_close(sock);
    kx_client_disconnect(c);
    assert_kxd_still_serves(p);
}

/* One request on a raw ring and its answer. */
static struct kxr_done raw_call(struct kx_ring *r, uint32_t type, const struct kxr_req *q,
                                const void *in, size_t in_len)
{
    void *payload;
    assert_int_equal(kx_ring_reserve(r, type, 3, sizeof *q + in_len, KX_RING_FOREVER, &payload),
                     STATUS_SUCCESS);
    memcpy(payload, q, sizeof *q);
    if (in_len)
        memcpy((uint8_t *)payload + sizeof *q, in, in_len);
    assert_int_equal(kx_ring_commit(r), STATUS_SUCCESS);
    struct kx_ring_rec rec;
    size_t n = 0;
    assert_int_equal(kx_ring_recv(r, &rec, 1, &n, KX_RING_FOREVER), STATUS_SUCCESS);
    assert_int_equal(rec.type, KXR_DONE);
    assert_int_equal(rec.id, 3);
    struct kxr_done d;
    assert_int_equal(rec.len, sizeof d);
    memcpy(&d, rec.data, sizeof d);
    kx_ring_release(r);
    return d;
}

/* OPEN gives a handle the socket's requests know too; CLOSE ends it. */
static void test_open_and_close_through_the_ring(void **state)
{
    struct kxd_proc *p = *state;
    int sock;
    struct kx_ring *r = raw_ring(p, &sock);
    struct kxr_req open_q = {0, KX_ACCESS_WRITE, 0, 0, 0};
    struct kxr_done d = raw_call(r, KXR_OPEN, &open_q, "/dev/null", 9);
    assert_int_equal(d.status, STATUS_SUCCESS);
    assert_int_not_equal(d.information, 0);
    uint32_t h = (uint32_t)d.information;
    struct kxr_req wq = {h, 0, 0, 0, 0};
    d = raw_call(r, KXR_WRITE, &wq, "abc", 3);
    assert_int_equal(d.status, STATUS_SUCCESS);
    assert_int_equal(d.information, 3);
    d = raw_call(r, KXR_CLOSE, &wq, NULL, 0);
    assert_int_equal(d.status, STATUS_SUCCESS);
    d = raw_call(r, KXR_CLOSE, &wq, NULL, 0); /* closed already */
    assert_int_equal(d.status, STATUS_INVALID_HANDLE);
    d = raw_call(r, KXR_WRITE, &wq, "abc", 3);
    assert_int_equal(d.status, STATUS_INVALID_HANDLE);
    /* A path with a NUL in it is no name, and the ring goes on. */
    d = raw_call(r, KXR_OPEN, &open_q, "/dev/null\0x", 11);
    assert_int_equal(d.status, STATUS_OBJECT_NAME_INVALID);
    d = raw_call(r, KXR_OPEN, &open_q, "/dev/null", 9);
    assert_int_equal(d.status, STATUS_SUCCESS);
    kx_ring_close(r);
    kx_plat_close(sock);
    assert_kxd_still_serves(p);
}

/* The status of opening path with access over the ring, or the socket. */
static kx_status open_status(const struct kxd_proc *p, const char *ring, const char *path,
                             uint32_t access)
{
    setenv("KX_CLIENT_RING", ring, 1);
    kx_client *c = kxd_connect(p);
    uint32_t h = 0;
    kx_status st = kx_client_open(c, path, access, &h);
    assert_int_equal(ring_mapped(), strcmp(ring, "1") == 0);
    if (st == STATUS_SUCCESS)
        assert_int_equal(kx_client_close(c, h), STATUS_SUCCESS);
    kx_client_disconnect(c);
    unsetenv("KX_CLIENT_RING");
    return st;
}

/* Opens over the ring are checked as over the socket: the same answer for
 * every case, and a denial where the caller may not have the access. */
static void test_ring_opens_are_checked_as_the_sockets(void **state)
{
    struct kxd_proc *p = *state;
    static const struct {
        const char *path;
        uint32_t access;
    } cases[] = {{"/dev/null", KX_ACCESS_WRITE},
                 {"/dev/ram0", KX_ACCESS_READ | KX_ACCESS_WRITE}, /* root:disk 0660 */
                 {"/dev/no-such-device", KX_ACCESS_READ},
                 {"/dev/null", 0x80}}; /* no such access bit */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kx_status ring = open_status(p, "1", cases[i].path, cases[i].access);
        kx_status sock = open_status(p, "0", cases[i].path, cases[i].access);
        assert_int_equal(ring, sock);
    }
    if (getuid() != 0 && getgid() != 6 /* disk */)
        assert_int_equal(open_status(p, "1", "/dev/ram0", KX_ACCESS_WRITE), STATUS_ACCESS_DENIED);
    assert_int_not_equal(open_status(p, "1", "/dev/no-such-device", KX_ACCESS_READ),
                         STATUS_SUCCESS);
}

/* An OPEN longer than a path may be, or asking for output, or a CLOSE
 * with input: not requests kxd decodes. */
static void test_a_bad_open_or_close_drops_the_client(void **state)
{
    struct kxd_proc *p = *state;
    static char long_path[KXR_PATH_MAX + 2];
    memset(long_path, 'a', sizeof long_path);
    struct {
        uint32_t type;
        struct kxr_req q;
        size_t in_len;
    } bad[] = {{KXR_OPEN, {0, KX_ACCESS_READ, 0, 0, 0}, KXR_PATH_MAX + 1},
               {KXR_OPEN, {0, KX_ACCESS_READ, 0, 16, 0}, 9},
               {KXR_CLOSE, {1, 0, 0, 0, 0}, 4}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int sock;
        struct kx_ring *r = raw_ring(p, &sock);
        void *payload;
        size_t len = sizeof bad[i].q + bad[i].in_len;
        assert_int_equal(kx_ring_reserve(r, bad[i].type, 1, len, KX_RING_FOREVER, &payload),
                         STATUS_SUCCESS);
        memcpy(payload, &bad[i].q, sizeof bad[i].q);
        memcpy((uint8_t *)payload + sizeof bad[i].q, long_path, bad[i].in_len);
        assert_int_equal(kx_ring_commit(r), STATUS_SUCCESS);
        assert_dropped_for(p, sock, "impossible lengths");
        kx_ring_close(r);
        kx_plat_close(sock);
    }
    assert_kxd_still_serves(p);
}

/* A client that dies with a batch pending on a pipe: its connection and
 * ring go, its reads are cancelled, and nothing keeps a thread busy. The
 * same on the socket (ring 0). */
static void leave_mid_batch(const struct kxd_proc *p, const char *ring)
{
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        setenv("KX_CLIENT_RING", ring, 1);
        kx_client *c = kxd_connect(p);
        uint32_t h;
        if (!c || kx_client_open(c, "/dev/pipe0", KX_ACCESS_READ, &h) != STATUS_SUCCESS)
            _exit(1);
        char buf[4][16];
        struct kx_client_io ios[4];
        for (int i = 0; i < 4; i++)
            ios[i] = (struct kx_client_io){.op = KX_CLIENT_OP_READ, .handle = h, .out = buf[i],
                                           .out_len = sizeof buf[i], .timeout_ms = UINT32_MAX};
        alarm(1); /* ends the child with its reads pending */
        kx_client_submit(c, ios, 4);
        _exit(2);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    assert_kxd_still_serves(p);
}

static void test_leaving_mid_batch_leaves_kxd_idle(void **state)
{
    struct kxd_proc *p = *state;
    leave_mid_batch(p, "1");
    leave_mid_batch(p, "0");
    /* The pipe works for the next reader and writer. */
    kx_client *c = kxd_connect(p);
    uint32_t rd, wr;
    assert_int_equal(kx_client_open(c, "/dev/pipe0", KX_ACCESS_READ, &rd), STATUS_SUCCESS);
    assert_int_equal(kx_client_open(c, "/dev/pipe0", KX_ACCESS_WRITE, &wr), STATUS_SUCCESS);
    uint64_t info = 0;
    assert_int_equal(kx_client_write(c, wr, 0, "after", 5, 0, &info), STATUS_SUCCESS);
    char got[8] = "";
    size_t n = 0;
    assert_int_equal(kx_client_read(c, rd, 0, got, sizeof got, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n, 5);
    assert_memory_equal(got, "after", 5);
    kx_client_disconnect(c);
}

/* ---- read slots ------------------------------------------------------------ */

/* How many mappings of a read slots' region process pid has now; with rss,
 * how many resident kilobytes they hold in it. */
static int slot_maps(pid_t pid, long *rss)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    int n = 0, in_slots = 0;
    if (rss)
        *rss = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long from, to;
        long kb;
        if (sscanf(line, "%lx-%lx ", &from, &to) == 2) { /* a mapping's first line */
            in_slots = strstr(line, "kx-slots:") != NULL;
            n += in_slots;
        } else if (in_slots && rss && sscanf(line, "Rss: %ld kB", &kb) == 1) {
            *rss += kb;
        }
    }
    fclose(f);
    return n;
}

/* Reads of 64 KiB to 1 MiB go to read slots that the driver fills in place:
 * the client's pages of the slots are touched (it copies out of them), and
 * what arrives is the device's, for the zero device and a RAM disk, one at
 * a time and in batches with more reads than slots. */
static void test_large_reads_arrive_through_read_slots(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t z, ram;
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &z), STATUS_SUCCESS);
    assert_int_equal(kx_client_open(c, "/dev/ram0", KX_ACCESS_READ | KX_ACCESS_WRITE, &ram),
                     STATUS_SUCCESS);
    long rss = 0;
    assert_int_equal(slot_maps(getpid(), &rss), 1);
    assert_int_equal(rss, 0); /* nothing read yet */
    size_t len = KXR_SLOT_BYTES;
    unsigned char *pattern = malloc(len), *buf = malloc(len);
    assert_non_null(pattern);
    assert_non_null(buf);
    for (size_t i = 0; i < len; i++)
        pattern[i] = (unsigned char)(i * 131 + (i >> 12));
    uint64_t info = 0;
    assert_int_equal(kx_client_write(c, ram, 0, pattern, len, 0, &info), STATUS_SUCCESS);
    assert_int_equal(info, len);
    static const size_t sizes[] = {64 << 10, 100 << 10, 1 << 20};
    for (int round = 0; round < 6; round++) { /* more rounds than slots */
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s], got = 0;
            memset(buf, 0xa5, len);
            assert_int_equal(kx_client_read(c, z, 0, buf, n, 0, &got), STATUS_SUCCESS);
            assert_int_equal(got, n);
            for (size_t i = 0; i < n; i += 4093)
                assert_int_equal(buf[i], 0);
            assert_int_equal(buf[n - 1], 0);
            if (n < len)
                assert_int_equal(buf[n], 0xa5);
            size_t off = (size_t)round * 512;
            if (off + n > len)
                off = 0;
            assert_int_equal(kx_client_read(c, ram, off, buf, n, 0, &got), STATUS_SUCCESS);
            assert_int_equal(got, n);
            assert_memory_equal(buf, pattern + off, n);
        }
    }
    assert_int_equal(slot_maps(getpid(), &rss), 1);
    assert_true(rss > 0); /* the bytes came through the slots */
    /* A batch of 12 reads of 80 KiB: 4 slots, the rest the ordinary way. */
    enum { N = 12, LEN = 80 << 10 };
    unsigned char *bufs = malloc((size_t)N * LEN);
    assert_non_null(bufs);
    memset(bufs, 0xa5, (size_t)N * LEN);
    struct kx_client_io ios[N];
    for (int i = 0; i < N; i++)
        ios[i] = (struct kx_client_io){.op = KX_CLIENT_OP_READ, .handle = ram,
                                       .offset = (uint64_t)i * 4096,
                                       .out = bufs + (size_t)i * LEN, .out_len = LEN};
    assert_int_equal(kx_client_submit(c, ios, N), STATUS_SUCCESS);
    for (int i = 0; i < N; i++) {
        assert_int_equal(ios[i].status, STATUS_SUCCESS);
        assert_int_equal(ios[i].got, LEN);
        assert_memory_equal(bufs + (size_t)i * LEN, pattern + (size_t)i * 4096, LEN);
    }
    free(bufs);
    free(pattern);
    free(buf);
    kx_client_disconnect(c);
    assert_int_equal(slot_maps(getpid(), NULL), 0);
}

/* Writes of 4.5 KiB to 1 MiB, alone and in a batch of more than a host has
 * bulk slots (8), reach the driver byte for byte: read back, they match. */
static void test_large_writes_arrive_whole(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t ram;
    assert_int_equal(kx_client_open(c, "/dev/ram0", KX_ACCESS_READ | KX_ACCESS_WRITE, &ram),
                     STATUS_SUCCESS);
    size_t len = KXR_SLOT_BYTES;
    unsigned char *pattern = malloc(len), *buf = malloc(len);
    assert_non_null(pattern);
    assert_non_null(buf);
    static const size_t sizes[] = {9 << 9, 64 << 10, 333 << 9, 1 << 20};
    for (int round = 0; round < 3; round++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s], off = sizes[s] == len ? 0 : (size_t)(round * 7 + 1) * 512;
            for (size_t i = 0; i < n; i++)
                pattern[i] = (unsigned char)(i * 131 + (i >> 12) + s * 17 + (size_t)round);
            uint64_t info = 0;
            assert_int_equal(kx_client_write(c, ram, off, pattern, n, 0, &info), STATUS_SUCCESS);
            assert_int_equal(info, n);
            size_t got = 0;
            assert_int_equal(kx_client_read(c, ram, off, buf, n, 0, &got), STATUS_SUCCESS);
            assert_int_equal(got, n);
            assert_memory_equal(buf, pattern, n);
        }
    enum { N = 12, LEN = 80 << 10 };
    for (size_t i = 0; i < len; i++)
        pattern[i] = (unsigned char)(i * 7 + (i >> 9));
    struct kx_client_io ios[N];
    for (int i = 0; i < N; i++)
        ios[i] = (struct kx_client_io){.op = KX_CLIENT_OP_WRITE, .handle = ram,
                                       .offset = (uint64_t)i * LEN,
                                       .in = pattern + (size_t)i * LEN, .in_len = LEN};
    assert_int_equal(kx_client_submit(c, ios, N), STATUS_SUCCESS);
    for (int i = 0; i < N; i++)
        assert_int_equal(ios[i].status, STATUS_SUCCESS);
    size_t got = 0;
    assert_int_equal(kx_client_read(c, ram, 0, buf, (size_t)N * LEN, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, (size_t)N * LEN);
    assert_memory_equal(buf, pattern, (size_t)N * LEN);
    free(pattern);
    free(buf);
    kx_client_disconnect(c);
}

static void test_read_slots_0_leaves_them_unmapped(void **state)
{
    struct kxd_proc *p = *state;
    setenv("KX_CLIENT_READ_SLOTS", "0", 1);
    kx_client *c = kxd_connect(p);
    uint32_t z;
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &z), STATUS_SUCCESS);
    assert_true(ring_mapped());
    assert_int_equal(slot_maps(getpid(), NULL), 0);
    size_t len = KXR_SLOT_BYTES, got = 0;
    unsigned char *buf = malloc(len);
    assert_non_null(buf);
    memset(buf, 0xa5, len);
    assert_int_equal(kx_client_read(c, z, 0, buf, len, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, len);
    assert_int_equal(buf[0] | buf[len / 2] | buf[len - 1], 0);
    free(buf);
    kx_client_disconnect(c);
    unsetenv("KX_CLIENT_READ_SLOTS");
}

/* Whether address p lies in a mapping of a read slots' region. */
static int in_read_slots(const void *p)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        unsigned long from, to;
        if (sscanf(line, "%lx-%lx ", &from, &to) == 2 && (uintptr_t)p >= from &&
            (uintptr_t)p < to)
            found = strstr(line, "kx-slots:") != NULL;
    }
    fclose(f);
    return found;
}

/* kx_client_read_view lends the bytes where the driver put them, in a read
 * slot; with every slot lent out (or slots off) it still answers, from a
 * buffer of the library's; given back, the slots serve again. */
static void test_a_read_view_lends_the_slot_itself(void **state)
{
    struct kxd_proc *p = *state;
    for (int slots_on = 1; slots_on >= 0; slots_on--) {
        if (!slots_on)
            setenv("KX_CLIENT_READ_SLOTS", "0", 1);
        kx_client *c = kxd_connect(p);
        uint32_t ram;
        assert_int_equal(kx_client_open(c, "/dev/ram0", KX_ACCESS_READ | KX_ACCESS_WRITE, &ram),
                         STATUS_SUCCESS);
        static unsigned char pattern[256 << 10];
        for (size_t i = 0; i < sizeof pattern; i++)
            pattern[i] = (unsigned char)(i * 7 + slots_on);
        uint64_t info = 0;
        assert_int_equal(kx_client_write(c, ram, 0, pattern, sizeof pattern, 0, &info),
                         STATUS_SUCCESS);
        const void *views[KXR_SLOTS + 1];
        for (uint32_t i = 0; i < KXR_SLOTS + 1; i++) {
            size_t got = 0, len = 4096 + i * RAMDISK_SECTOR_SIZE; /* whole sectors */
            assert_int_equal(kx_client_read_view(c, ram, i * 512, len, 0, &views[i], &got),
                             STATUS_SUCCESS);
            assert_non_null(views[i]);
            assert_int_equal(got, len);
            assert_memory_equal(views[i], pattern + i * 512, len);
            /* in place while a slot is free; the fifth from the library's buffer */
            assert_int_equal(in_read_slots(views[i]), slots_on && i < KXR_SLOTS);
        }
        for (uint32_t i = 0; i < KXR_SLOTS + 1; i++)
            kx_client_read_release(c, views[i]);
        const void *again = NULL;
        size_t got = 0;
        assert_int_equal(kx_client_read_view(c, ram, 0, sizeof pattern, 0, &again, &got),
                         STATUS_SUCCESS);
        assert_int_equal(got, sizeof pattern);
        assert_memory_equal(again, pattern, sizeof pattern);
        assert_int_equal(in_read_slots(again), slots_on);
        kx_client_read_release(c, again);
        /* A failed read lends nothing. */
        assert_int_equal(kx_client_read_view(c, ram + 1000, 0, 4096, 0, &again, &got),
                         STATUS_INVALID_HANDLE);
        assert_null(again);
        kx_client_disconnect(c);
        unsetenv("KX_CLIENT_READ_SLOTS");
    }
    assert_kxd_still_serves(p);
}

/* One READ_SLOT on a raw ring and its answer (a KXR_DONE without bytes). */
static struct kxr_done raw_read_slot(struct kx_ring *r, uint32_t handle, uint32_t k, uint32_t len)
{
    struct kxr_req q = {handle, k, 0, len, 0};
    assert_int_equal(kx_ring_send(r, KXR_READ_SLOT, 4, &q, sizeof q, KX_RING_FOREVER),
                     STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(r), STATUS_SUCCESS);
    struct kx_ring_rec rec;
    size_t n = 0;
    assert_int_equal(kx_ring_recv(r, &rec, 1, &n, KX_RING_FOREVER), STATUS_SUCCESS);
    assert_int_equal(rec.type, KXR_DONE);
    assert_int_equal(rec.id, 4);
    struct kxr_done d;
    assert_int_equal(rec.len, sizeof d); /* the bytes are in the slot */
    memcpy(&d, rec.data, sizeof d);
    kx_ring_release(r);
    return d;
}

static void raw_slot_free(struct kx_ring *r, uint32_t k)
{
    struct kxr_req q = {0, k, 0, 0, 0};
    assert_int_equal(kx_ring_send(r, KXR_SLOT_FREE, 0, &q, sizeof q, KX_RING_FOREVER),
                     STATUS_SUCCESS);
    assert_int_equal(kx_ring_commit(r), STATUS_SUCCESS);
}

/* The handle of path opened through a raw ring. */
static uint32_t raw_open(struct kx_ring *r, const char *path, uint32_t access)
{
    struct kxr_req q = {0, access, 0, 0, 0};
    struct kxr_done d = raw_call(r, KXR_OPEN, &q, path, strlen(path));
    assert_int_equal(d.status, STATUS_SUCCESS);
    return (uint32_t)d.information;
}

/* The protocol itself: the driver's bytes are in slot k when the answer
 * comes, and a slot given back can be filled again. */
static void test_a_read_slot_holds_the_drivers_bytes(void **state)
{
    struct kxd_proc *p = *state;
    int sock;
    uint8_t *slots = NULL;
    struct kx_ring *r = raw_ring_slots(p, &sock, &slots);
    uint32_t h = raw_open(r, "/dev/zero", KX_ACCESS_READ);
    for (int round = 0; round < 3; round++) {
        for (uint32_t k = 0; k < KXR_SLOTS; k++) {
            uint8_t *slot = slots + (size_t)k * KXR_SLOT_BYTES;
            memset(slot, 0xa5, KXR_SLOT_BYTES);
            struct kxr_done d = raw_read_slot(r, h, k, 300000);
            assert_int_equal(d.status, STATUS_SUCCESS);
            assert_int_equal(d.got, 300000);
            assert_int_equal(slot[0] | slot[150000] | slot[299999], 0);
            assert_int_equal(slot[300000], 0xa5); /* nothing past what was asked */
            raw_slot_free(r, k);
        }
    }
    kx_plat_shm_unmap(slots, (size_t)KXR_SLOTS * KXR_SLOT_BYTES);
    kx_ring_close(r);
    kx_plat_close(sock);
    assert_kxd_still_serves(p);
}

/* Bad slot numbers, a slot read into twice, a slot given back that the
 * client does not hold (never read, still being read, given back twice),
 * a slot read past a slot's size: each costs the client its connection,
 * with the reason in kxd's log. */
static void test_hostile_slot_use_drops_the_client(void **state)
{
    struct kxd_proc *p = *state;
    enum { READ_BAD_NUMBER, FREE_BAD_NUMBER, FREE_UNREAD, READ_TWICE, FREE_TWICE, FREE_PENDING,
           READ_TOO_LONG, N_CASES };
    static const char *const why[N_CASES] = {
        "read slot 4: no such slot",
        "read slot 9: no such slot",
        "read slot 0: gave back a slot it does not hold",
        "read slot 1: a read into a slot it holds already",
        "read slot 2: gave back a slot it does not hold",
        "read slot 3: gave back a slot it does not hold",
        "impossible lengths",
    };
    for (int c = 0; c < N_CASES; c++) {
        int sock;
        struct kx_ring *r = raw_ring(p, &sock);
        uint32_t z = raw_open(r, "/dev/zero", KX_ACCESS_READ);
        uint32_t pipe_h = raw_open(r, "/dev/pipe0", KX_ACCESS_READ);
        struct kxr_req q = {z, 0, 0, 65536, 0};
        switch (c) {
        case READ_BAD_NUMBER:
            q.code = KXR_SLOTS;
            assert_int_equal(kx_ring_send(r, KXR_READ_SLOT, 1, &q, sizeof q, KX_RING_FOREVER),
                             STATUS_SUCCESS);
            break;
        case FREE_BAD_NUMBER:
            raw_slot_free(r, 9);
            break;
        case FREE_UNREAD:
            raw_slot_free(r, 0);
            break;
        case READ_TWICE:
            assert_int_equal(raw_read_slot(r, z, 1, 65536).status, STATUS_SUCCESS);
            q.code = 1;
            assert_int_equal(kx_ring_send(r, KXR_READ_SLOT, 1, &q, sizeof q, KX_RING_FOREVER),
                             STATUS_SUCCESS);
            break;
        case FREE_TWICE:
            assert_int_equal(raw_read_slot(r, z, 2, 65536).status, STATUS_SUCCESS);
            raw_slot_free(r, 2);
            raw_slot_free(r, 2);
            break;
        case FREE_PENDING: /* a read of an empty pipe: the slot is still being read into */
            q = (struct kxr_req){pipe_h, 3, 0, 65536, UINT32_MAX};
            assert_int_equal(kx_ring_send(r, KXR_READ_SLOT, 1, &q, sizeof q, KX_RING_FOREVER),
                             STATUS_SUCCESS);
            raw_slot_free(r, 3);
            break;
        case READ_TOO_LONG:
            q.out_len = KXR_SLOT_BYTES + 1;
            assert_int_equal(kx_ring_send(r, KXR_READ_SLOT, 1, &q, sizeof q, KX_RING_FOREVER),
                             STATUS_SUCCESS);
            break;
        }
        assert_int_equal(kx_ring_commit(r), STATUS_SUCCESS);
        assert_dropped_for(p, sock, why[c]);
        kx_ring_close(r);
        kx_plat_close(sock);
    }
    T_WAIT_FOR(slot_maps(p->pid, NULL) == 0); /* every ring's slots freed */
    assert_int_equal(slot_maps(p->pid, NULL), 0);
    assert_kxd_still_serves(p);
}

/* A client that goes with read slots held — one answered and never given
 * back, reads of an empty pipe pending in the others — leaves nothing behind:
 * its reads are cancelled (answered once: kxd, built with ASan, would die
 * of a second release), the slots and their memfd are freed, and the pipe
 * serves the next reader. Once by closing its socket, once by dying. */
static void test_a_client_leaving_with_slots_held_frees_them(void **state)
{
    struct kxd_proc *p = *state;
    int sock;
    struct kx_ring *r = raw_ring(p, &sock);
    uint32_t z = raw_open(r, "/dev/zero", KX_ACCESS_READ);
    uint32_t pipe_h = raw_open(r, "/dev/pipe0", KX_ACCESS_READ);
    assert_int_equal(raw_read_slot(r, z, 0, 1 << 20).status, STATUS_SUCCESS); /* kept */
    for (uint32_t k = 1; k < KXR_SLOTS; k++) {
        struct kxr_req q = {pipe_h, k, 0, 65536, UINT32_MAX};
        assert_int_equal(kx_ring_send(r, KXR_READ_SLOT, k, &q, sizeof q, KX_RING_FOREVER),
                         STATUS_SUCCESS);
    }
    assert_int_equal(kx_ring_commit(r), STATUS_SUCCESS);
    assert_int_equal(slot_maps(p->pid, NULL), 1);
    kx_ring_close(r);
    kx_plat_close(sock);
    T_WAIT_FOR(slot_maps(p->pid, NULL) == 0);
    assert_int_equal(slot_maps(p->pid, NULL), 0);

    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        kx_client *c = kxd_connect(p);
        uint32_t h;
        if (!c || kx_client_open(c, "/dev/pipe0", KX_ACCESS_READ, &h) != STATUS_SUCCESS)
            _exit(1);
        static char bufs[6][65536];
        struct kx_client_io ios[6];
        for (int i = 0; i < 6; i++)
            ios[i] = (struct kx_client_io){.op = KX_CLIENT_OP_READ, .handle = h, .out = bufs[i],
                                           .out_len = sizeof bufs[i], .timeout_ms = UINT32_MAX};
        alarm(1); /* ends the child with its reads pending, four in slots */
        kx_client_submit(c, ios, 6);
        _exit(2);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    T_WAIT_FOR(slot_maps(p->pid, NULL) == 0);
    assert_int_equal(slot_maps(p->pid, NULL), 0);
    assert_kxd_still_serves(p);
    kx_client *c = kxd_connect(p);
    uint32_t rd, wr;
    assert_int_equal(kx_client_open(c, "/dev/pipe0", KX_ACCESS_READ, &rd), STATUS_SUCCESS);
    assert_int_equal(kx_client_open(c, "/dev/pipe0", KX_ACCESS_WRITE, &wr), STATUS_SUCCESS);
    uint64_t info = 0;
    assert_int_equal(kx_client_write(c, wr, 0, "after", 5, 0, &info), STATUS_SUCCESS);
    static char got[65536];
    size_t n = 0;
    assert_int_equal(kx_client_read(c, rd, 0, got, sizeof got, 0, &n), STATUS_SUCCESS);
    assert_int_equal(n, 5);
    assert_memory_equal(got, "after", 5);
    kx_client_disconnect(c);
}

/* kxd with the drivers inside it: a read slot is the IRP's buffer the
 * driver itself writes (no host transport between). */
static int kxd_setup_inproc(void **state)
{
    static const char *const inproc[] = {"--host-mode", "inproc", NULL};
    return kxd_setup_args(state, inproc);
}
#define KXD_TEST_INPROC(fn) cmocka_unit_test_setup_teardown(fn, kxd_setup_inproc, kxd_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        KXD_TEST(test_reads_writes_and_ioctls_go_through_the_ring),
        KXD_TEST(test_a_1mib_read_of_zero_arrives_whole),
        KXD_TEST(test_a_batch_past_the_credit_is_answered_whole),
        KXD_TEST(test_ring_0_keeps_io_on_the_socket),
        KXD_TEST(test_one_ring_per_connection),
        KXD_TEST(test_a_record_that_is_no_request_drops_the_client),
        KXD_TEST(test_a_corrupt_ring_drops_the_client),
        KXD_TEST(test_past_the_credit_drops_the_client),
        KXD_TEST(test_leaving_mid_batch_leaves_kxd_idle),
        KXD_TEST(test_open_and_close_through_the_ring),
        KXD_TEST(test_ring_opens_are_checked_as_the_sockets),
        KXD_TEST(test_a_bad_open_or_close_drops_the_client),
        KXD_TEST(test_large_reads_arrive_through_read_slots),
        KXD_TEST(test_large_writes_arrive_whole),
        KXD_TEST(test_read_slots_0_leaves_them_unmapped),
        KXD_TEST(test_a_read_slot_holds_the_drivers_bytes),
        KXD_TEST(test_a_read_view_lends_the_slot_itself),
        KXD_TEST(test_hostile_slot_use_drops_the_client),
        KXD_TEST(test_a_client_leaving_with_slots_held_frees_them),
        KXD_TEST_INPROC(test_large_reads_arrive_through_read_slots),
        KXD_TEST_INPROC(test_large_writes_arrive_whole),
        KXD_TEST_INPROC(test_a_read_slot_holds_the_drivers_bytes),
        KXD_TEST_INPROC(test_a_read_view_lends_the_slot_itself),
        KXD_TEST_INPROC(test_a_client_leaving_with_slots_held_frees_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
