/* test_kxd_ring.c — a client's shared-memory ring to kxd (proto/ring_proto.h):
 * opens, closes, reads, writes, ioctls and batches go through it (the client
 * maps kxd's region), opens with the socket's access check; 1 MiB reads
 * arrive whole; KX_CLIENT_RING=0 keeps I/O on the
 * socket; a ring with garbage in it, or a client leaving mid-batch, costs
 * that client its connection (logged with its pid and uid) and leaves kxd's
 * ring threads asleep and serving everyone else. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "patience.h"

#include "../../drivers/RamDisk/ramdisk.h"
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

static void test_a_1mib_read_of_zero_arrives_whole(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/zero", KX_ACCESS_READ, &h), STATUS_SUCCESS);
    size_t len = KX_CLIENT_IO_MAX;
    unsigned char *buf = malloc(len), *zeros = calloc(1, len);
    assert_non_null(buf);
    assert_non_null(zeros);
    for (int round = 0; round < 3; round++) {
        memset(buf, 0xa5, len);
        size_t got = 0;
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

/* A ring set up by hand on a raw connection: what a client that does not
 * use libkxclient holds. */
static struct kx_ring *raw_ring(const struct kxd_proc *p, int *sock)
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
    return r;
}

/* Every kx-ring thread of kxd, and its event loop (kx-srv), is asleep (not
 * running) right now. */
static int ring_threads_asleep(pid_t kxd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)kxd);
    DIR *d = opendir(path);
    assert_non_null(d);
    int seen = 0, running = 0;
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
        seen++;
        running += close_paren[2] == 'R';
    }
    closedir(d);
    return seen >= 3 && running == 0;
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
    T_WAIT_FOR(ring_threads_asleep(p->pid) && ring_threads_asleep(p->pid));
    assert_true(ring_threads_asleep(p->pid));
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
