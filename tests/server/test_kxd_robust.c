/* test_kxd_robust.c — nothing a client does can hurt kxd or other clients:
 * a client killed mid-read has its files closed (the driver sees CLEANUP and
 * CLOSE), garbage and truncated messages close only that connection, and a
 * blocked read never blocks anyone else. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"
#include "patience.h"

#include "../../drivers/Pipe/pipe.h"
#include "proto/msg.h"

#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static uint32_t handles_on(kx_client *c, const char *device)
{
    struct kx_client_object *objs;
    size_t n;
    uint32_t handles = UINT32_MAX;
    assert_int_equal(kx_client_ls(c, &objs, &n), STATUS_SUCCESS);
    for (size_t i = 0; i < n; i++)
        if (objs[i].is_device && strcmp(objs[i].name, device) == 0)
            handles = objs[i].handles;
    kx_client_objects_free(objs, n);
    return handles;
}

/* Reads waiting in the Pipe driver for data, asked through c's handle h to /dev/pipe0. */
static uint32_t pending_reads(kx_client *c, uint32_t h)
{
    struct pipe_info pi;
    size_t got = 0;
    assert_int_equal(kx_client_ioctl(c, h, IOCTL_PIPE_GET_INFO, NULL, 0, &pi, sizeof pi, 0, &got),
                     STATUS_SUCCESS);
    assert_int_equal(got, sizeof pi);
    return pi.pending_reads;
}

static void test_client_killed_mid_read_has_its_files_closed(void **state)
{
    struct kxd_proc *p = *state;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        kx_client *c = kxd_connect(p);
        uint32_t h;
        char buf[16];
        size_t got;
        if (!c || kx_client_open(c, "/dev/pipe0", KX_ACCESS_READ, &h) != STATUS_SUCCESS)
            _exit(1);
        if (write(ready[1], "r", 1) != 1)
            _exit(1);
        kx_client_read(c, h, 0, buf, sizeof buf, UINT32_MAX, &got); /* pends forever */
        _exit(2);
    }
    close(ready[1]);
    char r;
    assert_int_equal(read(ready[0], &r, 1), 1);
    close(ready[0]);
    kx_client *c = kxd_connect(p);
    assert_int_equal(handles_on(c, "\\Device\\Pipe0"), 1);
    /* Killed mid-read: only once the read has reached the driver and pends. */
    uint32_t probe;
    assert_int_equal(kx_client_open(c, "/dev/pipe0", KX_ACCESS_READ, &probe), STATUS_SUCCESS);
    T_WAIT_FOR(pending_reads(c, probe) == 1);
    assert_int_equal(pending_reads(c, probe), 1);
    assert_int_equal(kx_client_close(c, probe), STATUS_SUCCESS);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);

    /* kxd notices the dead connection and closes the handle: pending read
     * cancelled, CLEANUP and CLOSE sent. */
    T_WAIT_FOR(handles_on(c, "\\Device\\Pipe0") == 0);
    assert_int_equal(handles_on(c, "\\Device\\Pipe0"), 0);
    /* nothing holds the driver any more */
    assert_int_equal(kx_client_unload(c, "org.kx.driver.Pipe", 0), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

static int raw_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -1;
    return fd;
}

/* Reads until kxd closes the connection; returns the bytes seen. */
static size_t drain_until_closed(int fd, uint8_t *buf, size_t cap)
{
    size_t total = 0;
    struct timeval tv = {T_PATIENCE_MS / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        ssize_t n = recv(fd, buf + total, cap - total, 0);
        if (n <= 0)
            return total;
        total += (size_t)n;
        if (total == cap)
            return total;
    }
}

static void assert_still_serving(const struct kxd_proc *p)
{
    kx_client *c = kxd_connect(p);
    assert_non_null(c);
    uint32_t h;
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &h), STATUS_SUCCESS);
    kx_client_disconnect(c);
}

static void test_garbage_closes_only_that_connection(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *bystander = kxd_connect(p);
    uint32_t h;
    assert_int_equal(kx_client_open(bystander, "/dev/zero", KX_ACCESS_READ, &h), STATUS_SUCCESS);

    /* 1. random bytes: an ERROR reply naming the problem, then the close */
    int fd = raw_connect(p->socket);
    assert_true(fd >= 0);
    uint8_t junk[64];
    srand(42);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)rand();
    assert_int_equal(send(fd, junk, sizeof junk, MSG_NOSIGNAL), (ssize_t)sizeof junk);
    uint8_t reply[512];
    size_t n = drain_until_closed(fd, reply, sizeof reply);
    assert_true(n >= KX_MSG_HDR_LEN);
    struct kx_msg_hdr hdr;
    const char *why;
    assert_int_equal(kx_msg_hdr_decode(reply, &hdr, &why), STATUS_SUCCESS);
    assert_int_equal(hdr.type, KX_MSG_ERROR);
    close(fd);

    /* 2. a header announcing more than the protocol allows */
    fd = raw_connect(p->socket);
    struct kx_msg_hdr big = {KX_MSG_MAGIC, KX_MSG_VERSION, KX_MSG_WRITE, KX_MSG_MAX + 1, 7, 0};
    uint8_t raw[KX_MSG_HDR_LEN];
    kx_msg_hdr_encode(&big, raw);
    assert_int_equal(send(fd, raw, sizeof raw, MSG_NOSIGNAL), (ssize_t)sizeof raw);
    n = drain_until_closed(fd, reply, sizeof reply);
    assert_true(n >= KX_MSG_HDR_LEN);
    close(fd);

    /* 3. a valid header, a malformed payload (a string longer than the payload) */
    fd = raw_connect(p->socket);
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_OPEN, 9);
    kx_msg_put_u32(&b, 1000); /* claims a 1000-byte path */
    kx_msg_put_u32(&b, 0);
    assert_int_equal(kx_msg_finish(&b), STATUS_SUCCESS);
    assert_int_equal(send(fd, b.buf, b.len, MSG_NOSIGNAL), (ssize_t)b.len);
    kx_msg_builder_free(&b);
    n = drain_until_closed(fd, reply, sizeof reply);
    assert_true(n >= KX_MSG_HDR_LEN);
    close(fd);

    /* 4. half a message, then the client disappears */
    fd = raw_connect(p->socket);
    kx_msg_hdr_encode(&(struct kx_msg_hdr){KX_MSG_MAGIC, KX_MSG_VERSION, KX_MSG_WRITE, 100, 1, 0},
                      raw);
    assert_int_equal(send(fd, raw, sizeof raw, MSG_NOSIGNAL), (ssize_t)sizeof raw);
    assert_int_equal(send(fd, junk, 10, MSG_NOSIGNAL), 10);
    close(fd);

    /* The bystander's handle still works, and new clients are served. */
    char buf[8];
    size_t got;
    assert_int_equal(kx_client_read(bystander, h, 0, buf, sizeof buf, 0, &got), STATUS_SUCCESS);
    assert_int_equal(got, sizeof buf);
    kx_client_disconnect(bystander);
    assert_still_serving(p);
}

struct reader_arg {
    const struct kxd_proc *p;
    kx_status st;
    size_t got;
    atomic_int done;
};

/* Reads /dev/pipe0 on a connection of its own: nothing is written there
 * until the test says, so the read pends in the driver until then. */
static void *blocked_reader(void *arg)
{
    struct reader_arg *a = arg;
    kx_client *c = kxd_connect(a->p);
    uint32_t h;
    char buf[16];
    a->st = kx_client_open(c, "/dev/pipe0", KX_ACCESS_READ, &h);
    if (a->st == STATUS_SUCCESS) /* the deadline only ends the test if kxd is stuck */
        a->st = kx_client_read(c, h, 0, buf, sizeof buf, T_PATIENCE_MS, &a->got);
    kx_client_disconnect(c);
    atomic_store(&a->done, 1);
    return NULL;
}

static void test_a_blocked_read_never_blocks_another_client(void **state)
{
    struct kxd_proc *p = *state;
    kx_client *c = kxd_connect(p);
    uint32_t pipe_h, null_h;
    assert_int_equal(kx_client_open(c, "/dev/pipe0", KX_ACCESS_WRITE, &pipe_h), STATUS_SUCCESS);
    struct reader_arg a = {p, STATUS_PENDING, 0, 0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, blocked_reader, &a), 0);
    T_WAIT_FOR(pending_reads(c, pipe_h) == 1 || atomic_load(&a.done));
    assert_int_equal(pending_reads(c, pipe_h), 1);

    /* Another client is served in full while that read stays blocked... */
    assert_int_equal(kx_client_open(c, "/dev/null", KX_ACCESS_WRITE, &null_h), STATUS_SUCCESS);
    for (int i = 0; i < 200; i++) {
        uint64_t info;
        assert_int_equal(kx_client_write(c, null_h, 0, "x", 1, 0, &info), STATUS_SUCCESS);
    }
    assert_false(atomic_load(&a.done));
    assert_int_equal(pending_reads(c, pipe_h), 1);

    /* ...and the read completes when its data comes. */
    uint64_t info;
    assert_int_equal(kx_client_write(c, pipe_h, 0, "x", 1, 0, &info), STATUS_SUCCESS);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(a.st, STATUS_SUCCESS);
    assert_int_equal(a.got, 1);
    kx_client_disconnect(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KXD_TEST(test_client_killed_mid_read_has_its_files_closed),
        KXD_TEST(test_garbage_closes_only_that_connection),
        KXD_TEST(test_a_blocked_read_never_blocks_another_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
