/* test_io_irp.c — IRP semantics in the spirit of ReactOS kmtests IoIrp and
 * IoReadWrite: dispatch through the table, missing routines, pending and
 * completion from another thread, exactly one completion (double completion,
 * deadlines), buffers and lengths, what a driver learns about its requester,
 * and many requests in flight without one device stalling another. */
#include "tdrv.h"

static int setup(void **state)
{
    (void)state;
    tdrv_reset();
    return 0;
}

/* Counts completions of async requests. */
struct done_count {
    atomic_int n;
    atomic_int status;
    atomic_size_t info;
};

static void count_done(void *arg, kx_status st, size_t info)
{
    struct done_count *c = arg;
    atomic_store(&c->status, st);
    atomic_store(&c->info, info);
    atomic_fetch_add(&c->n, 1);
}

static int wait_count(struct done_count *c, int n)
{
    T_WAIT_FOR(atomic_load(&c->n) >= n);
    return atomic_load(&c->n) >= n;
}

static void test_missing_routine_is_not_implemented(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Bare");
    t->no_defaults = 1; /* no CREATE, CLEANUP or CLOSE either: those default to success */
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(
        kx_io_open(io, "/dev/Bare", &t_user, KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE, 0, &h),
        STATUS_SUCCESS);
    char buf[4];
    size_t n = 99;
    assert_int_equal(kx_io_read(io, h, buf, sizeof buf, 0, 0, &n), STATUS_NOT_IMPLEMENTED);
    assert_int_equal(n, 0);
    assert_int_equal(kx_io_write(io, h, "x", 1, 0, 0, &n), STATUS_NOT_IMPLEMENTED);
    struct kx_io_req flush = {.op = KX_IO_OP_FLUSH};
    assert_int_equal(kx_io_call(io, h, &flush, NULL), STATUS_NOT_IMPLEMENTED);
    struct kx_io_req other = {.op = 0x06}; /* IRP_MJ_SET_INFORMATION: passed through */
    assert_int_equal(kx_io_call(io, h, &other, NULL), STATUS_NOT_IMPLEMENTED);
    assert_int_equal(kx_io_close(io, h), STATUS_SUCCESS);
    kx_io_free(io);
}

static void test_bad_requests_are_refused_before_dispatch(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Strict");
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(
        kx_io_open(io, "/dev/Strict", &t_user, KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE, 0, &h),
        STATUS_SUCCESS);
    struct done_count c = {0};
    struct kx_io_req bad[] = {
        {.op = 0x40, .done = count_done, .arg = &c},             /* no such major */
        {.op = 0x00, .done = count_done, .arg = &c},             /* CREATE is kx_io_open's */
        {.op = 0x12, .done = count_done, .arg = &c},             /* CLEANUP is kx_io_close's */
        {.op = KX_IO_OP_READ, .in = "x", .in_len = 1, .done = count_done, .arg = &c},
        {.op = KX_IO_OP_WRITE, .in_len = 4, .done = count_done, .arg = &c}, /* NULL buffer */
        {.op = KX_IO_OP_WRITE, .in = "x", .in_len = 1},                     /* no done */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kx_io_submit(io, h, &bad[i], 1), STATUS_INVALID_PARAMETER);
    /* One bad request refuses the whole batch: nothing runs. */
    struct kx_io_req mixed[2] = {{.op = KX_IO_OP_WRITE, .in = "x", .in_len = 1,
                                  .done = count_done, .arg = &c},
                                 bad[0]};
    assert_int_equal(kx_io_submit(io, h, mixed, 2), STATUS_INVALID_PARAMETER);
    assert_int_equal(kx_io_submit(io, h + 1, mixed, 1), STATUS_INVALID_HANDLE);
    t_sleep_ms(20);
    assert_int_equal(atomic_load(&c.n), 0);
    kx_io_close(io, h);
    kx_io_free(io);
}

static kx_status complete_twice(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    TDRV_CHECK(t, DkCompleteRequest(irp, STATUS_SUCCESS, 3) == STATUS_SUCCESS);
    TDRV_CHECK(t, DkCompleteRequest(irp, STATUS_IO_ERROR, 0) == STATUS_REQUEST_ALREADY_COMPLETED);
    TDRV_CHECK(t, DkCompleteRequest(irp, STATUS_PENDING, 0) == STATUS_INVALID_PARAMETER);
    return STATUS_SUCCESS;
}

static void test_double_completion_is_caught_not_obeyed(void **state)
{
    (void)state;
    struct t_logcap cap = {PTHREAD_MUTEX_INITIALIZER, ""};
    struct kx_io *io = t_io_new(&cap);
    struct tdrv *t = tdrv_new("Twice");
    t->mj[IRP_MJ_WRITE] = complete_twice;
    t->mj[IRP_MJ_READ] = tdrv_pend;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(
        kx_io_open(io, "/dev/Twice", &t_user, KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE, 0, &h),
        STATUS_SUCCESS);
    struct done_count c = {0};
    struct kx_io_req w = {.op = KX_IO_OP_WRITE, .in = "abc", .in_len = 3, .done = count_done,
                          .arg = &c};
    assert_int_equal(kx_io_submit(io, h, &w, 1), STATUS_SUCCESS);
    assert_true(wait_count(&c, 1));
    t_sleep_ms(20);
    assert_int_equal(atomic_load(&c.n), 1);
    assert_int_equal(atomic_load(&c.status), STATUS_SUCCESS);
    assert_int_equal(atomic_load(&c.info), 3);
    assert_true(t_logcap_has(&cap, "completed twice"));
    tdrv_no_failures(t);

    /* A pended IRP completed twice from another thread. */
    struct done_count r = {0};
    char buf[4];
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out = buf, .out_len = 4, .done = count_done,
                           .arg = &r};
    assert_int_equal(kx_io_submit(io, h, &rd, 1), STATUS_SUCCESS);
    assert_true(tdrv_wait(t, tdrv_n_held));
    PIRP irp = tdrv_take(t);
    assert_int_equal(DkCompleteRequest(irp, STATUS_SUCCESS, 0), STATUS_SUCCESS);
    assert_int_equal(DkCompleteRequest(irp, STATUS_SUCCESS, 0), STATUS_REQUEST_ALREADY_COMPLETED);
    assert_true(wait_count(&r, 1));
    t_sleep_ms(10);
    assert_int_equal(atomic_load(&r.n), 1);
    kx_io_close(io, h);
    kx_io_free(io);
}

static kx_status forget_to_complete(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    (void)irp;
    return STATUS_SUCCESS;
}

static void test_routine_that_neither_completes_nor_pends_is_reported(void **state)
{
    (void)state;
    struct t_logcap cap = {PTHREAD_MUTEX_INITIALIZER, ""};
    struct kx_io *io = t_io_new(&cap);
    struct tdrv *t = tdrv_new("Lazy");
    t->mj[IRP_MJ_WRITE] = forget_to_complete;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Lazy", &t_user, KX_IO_ACCESS_WRITE, 0, &h),
                     STATUS_SUCCESS);
    assert_int_equal(kx_io_write(io, h, "x", 1, 0, 0, NULL), STATUS_INTERNAL_ERROR);
    assert_true(t_logcap_has(&cap, "without completing or pending"));
    kx_io_close(io, h);
    kx_io_free(io);
}

struct completer {
    struct tdrv *t;
    pthread_t thread;
};

static void *complete_later(void *arg)
{
    struct completer *c = arg;
    tdrv_wait(c->t, tdrv_n_held);
    t_sleep_ms(20); /* the requester is asleep by now */
    PIRP irp = tdrv_take(c->t);
    memcpy(irp->SystemBuffer, "late!", 5);
    DkCompleteRequest(irp, STATUS_SUCCESS, 5);
    return NULL;
}

static void test_pending_irp_completed_from_another_thread(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Later");
    t->mj[IRP_MJ_READ] = tdrv_pend;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Later", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    struct completer c = {t, 0};
    pthread_create(&c.thread, NULL, complete_later, &c);
    char buf[16] = {0};
    size_t n = 0;
    assert_int_equal(kx_io_read(io, h, buf, sizeof buf, 0, KX_IO_TIMEOUT_NONE, &n), STATUS_SUCCESS);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "late!", 5);
    pthread_join(c.thread, NULL);
    kx_io_close(io, h);
    kx_io_free(io);
}

static void test_deadline_answers_timeout_and_absorbs_late_completion(void **state)
{
    (void)state;
    struct t_logcap cap = {PTHREAD_MUTEX_INITIALIZER, ""};
    struct kx_io *io = t_io_new(&cap);
    struct tdrv *t = tdrv_new("Slow");
    t->mj[IRP_MJ_READ] = tdrv_pend;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Slow", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    /* Synchronous: the waiter enforces its own deadline. Not before it; and
     * before the manager's default (T_PATIENCE_MS), so it was this one. */
    char buf[8] = "xxxxxxx";
    size_t n = 7;
    uint64_t t0 = t_now_ms();
    assert_int_equal(kx_io_read(io, h, buf, sizeof buf, 0, 60, &n), STATUS_TIMEOUT);
    uint64_t took = t_now_ms() - t0;
    assert_true(took >= 55 && took < T_PATIENCE_MS);
    assert_int_equal(n, 0);
    PIRP irp = tdrv_take(t);
    assert_non_null(irp);
    assert_true(DkIsIrpCancelled(irp)); /* the driver is asked to let go */
    memcpy(irp->SystemBuffer, "LATE", 4);
    assert_int_equal(DkCompleteRequest(irp, STATUS_SUCCESS, 4), STATUS_SUCCESS); /* absorbed */
    assert_string_equal(buf, "xxxxxxx");

    /* Asynchronous: the watchdog answers; exactly one completion runs. */
    struct done_count c = {0};
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out = buf, .out_len = 4, .timeout_ms = 60,
                           .done = count_done, .arg = &c};
    t0 = t_now_ms();
    assert_int_equal(kx_io_submit(io, h, &rd, 1), STATUS_SUCCESS);
    assert_true(wait_count(&c, 1));
    took = t_now_ms() - t0;
    assert_true(took >= 55 && took < T_PATIENCE_MS);
    assert_int_equal(atomic_load(&c.status), STATUS_TIMEOUT);
    irp = tdrv_take(t);
    assert_non_null(irp);
    assert_int_equal(DkCompleteRequest(irp, STATUS_SUCCESS, 4), STATUS_SUCCESS);
    t_sleep_ms(20);
    assert_int_equal(atomic_load(&c.n), 1);
    assert_string_equal(buf, "xxxxxxx");
    assert_false(t_logcap_has(&cap, "completed twice")); /* absorbed quietly */
    kx_io_close(io, h);
    kx_io_free(io);
}

static kx_status ctx_create(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    t->last_requestor = irp->Requestor;
    t->last_access = irp->Parameters.Create.DesiredAccess;
    irp->FileContext = (void *)(uintptr_t)(0x1000 + irp->Requestor.Pid);
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static kx_status ctx_write(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    TDRV_CHECK(t, (uintptr_t)irp->FileContext == 0x1000u + (uintptr_t)irp->Requestor.Pid);
    TDRV_CHECK(t, irp->Parameters.Write.ByteOffset == 77);
    TDRV_CHECK(t, irp->SystemBuffer && memcmp(irp->SystemBuffer, "data", 4) == 0);
    TDRV_CHECK(t, irp->DeviceObject == t->devobj);
    return DkCompleteRequest(irp, STATUS_SUCCESS, irp->Parameters.Write.Length);
}

static kx_status ctx_close(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    t->last_ctx = irp->FileContext;
    tdrv_event(t, irp->MajorFunction == IRP_MJ_CLOSE ? "CLOSE" : "CLEANUP");
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static void test_driver_sees_requester_and_per_open_context(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Ctx");
    t->mj[IRP_MJ_CREATE] = ctx_create;
    t->mj[IRP_MJ_WRITE] = ctx_write;
    t->mj[IRP_MJ_CLEANUP] = ctx_close;
    t->mj[IRP_MJ_CLOSE] = ctx_close;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    struct kx_io_cred a = {4242, 1000, 100}, b = {4343, 1001, 100};
    kx_io_handle ha, hb;
    assert_int_equal(kx_io_open(io, "/dev/Ctx", &a, KX_IO_ACCESS_WRITE, 0, &ha), STATUS_SUCCESS);
    assert_int_equal(t->last_requestor.Pid, 4242);
    assert_int_equal(t->last_requestor.Uid, 1000);
    assert_int_equal(t->last_requestor.Gid, 100);
    assert_int_equal(t->last_access, KX_IO_ACCESS_WRITE);
    assert_int_equal(kx_io_open(io, "/dev/Ctx", &b, KX_IO_ACCESS_WRITE, 0, &hb), STATUS_SUCCESS);
    size_t n;
    assert_int_equal(kx_io_write(io, ha, "data", 4, 77, 0, &n), STATUS_SUCCESS);
    assert_int_equal(kx_io_write(io, hb, "data", 4, 77, 0, &n), STATUS_SUCCESS);
    assert_int_equal(kx_io_close(io, ha), STATUS_SUCCESS);
    assert_true(t->last_ctx == (void *)(uintptr_t)(0x1000 + 4242)); /* CLOSE saw it too */
    assert_int_equal(kx_io_close(io, hb), STATUS_SUCCESS);
    assert_true(t->last_ctx == (void *)(uintptr_t)(0x1000 + 4343));
    kx_io_free(io);
    tdrv_no_failures(t);
}

static kx_status record_order(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    char ev[16];
    snprintf(ev, sizeof ev, "%u", ((unsigned char *)irp->SystemBuffer)[0]);
    tdrv_event(t, ev);
    return DkCompleteRequest(irp, STATUS_SUCCESS, irp->Parameters.Write.Length);
}

static void test_batch_reaches_driver_in_order_once_each(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Order");
    t->mj[IRP_MJ_WRITE] = record_order;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Order", &t_user, KX_IO_ACCESS_WRITE, 0, &h),
                     STATUS_SUCCESS);
    unsigned char bytes[50];
    struct kx_io_req reqs[50];
    struct done_count c = {0};
    for (int i = 0; i < 50; i++) {
        bytes[i] = (unsigned char)i;
        reqs[i] = (struct kx_io_req){.op = KX_IO_OP_WRITE, .in = &bytes[i], .in_len = 1,
                                     .done = count_done, .arg = &c};
    }
    assert_int_equal(kx_io_submit(io, h, reqs, 25), STATUS_SUCCESS);
    assert_int_equal(kx_io_submit(io, h, reqs + 25, 25), STATUS_SUCCESS);
    assert_true(wait_count(&c, 50));
    char want[512] = "ENTRY,CREATE";
    for (int i = 0; i < 50; i++)
        snprintf(want + strlen(want), sizeof want - strlen(want), ",%d", i);
    char ev[2048];
    tdrv_events(t, ev, sizeof ev);
    assert_string_equal(ev, want);
    t_sleep_ms(10);
    assert_int_equal(atomic_load(&c.n), 50);
    kx_io_close(io, h);
    kx_io_free(io);
}

static kx_status overreport(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    memset(irp->SystemBuffer, 'r', irp->Parameters.Read.Length);
    return DkCompleteRequest(irp, STATUS_SUCCESS, 1000); /* more than asked for */
}

static void test_output_is_copied_and_clamped(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Over");
    t->mj[IRP_MJ_READ] = overreport;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Over", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    char buf[300];
    memset(buf, 0, sizeof buf);
    size_t n;
    assert_int_equal(kx_io_read(io, h, buf, 200, 0, 0, &n), STATUS_SUCCESS); /* > inline buffer */
    assert_int_equal(n, 200);
    assert_int_equal(buf[199], 'r');
    assert_int_equal(buf[200], 0);
    kx_io_close(io, h);
    kx_io_free(io);
}

/* A view completion: what it was shown, copied while the call lasts. */
struct view_seen {
    atomic_int n;
    kx_status status;
    size_t info;
    char first, last;
};

static void see_view(void *arg, kx_status st, size_t info, const void *out)
{
    struct view_seen *v = arg;
    v->status = st;
    v->info = info;
    if (out && info) {
        v->first = ((const char *)out)[0];
        v->last = ((const char *)out)[info - 1];
    }
    atomic_fetch_add(&v->n, 1);
}

static void test_view_completion_sees_the_drivers_bytes_clamped(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("OverView");
    t->mj[IRP_MJ_READ] = overreport;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/OverView", &t_user, KX_IO_ACCESS_READ, 0, &h),
                     STATUS_SUCCESS);
    struct view_seen v = {0};
    char buf[8];
    struct kx_io_req bad[] = {
        {.op = KX_IO_OP_READ, .out_len = 200, .done_view = see_view, .done = count_done,
         .arg = &v},                                                              /* both */
        {.op = KX_IO_OP_READ, .out = buf, .out_len = 8, .done_view = see_view, .arg = &v},
        {.op = KX_IO_OP_READ, .done_view = see_view, .arg = &v}, /* nothing to view */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kx_io_submit(io, h, &bad[i], 1), STATUS_INVALID_PARAMETER);
    struct kx_io_req rd = {.op = KX_IO_OP_READ, .out_len = 200, .done_view = see_view, .arg = &v};
    assert_int_equal(kx_io_submit(io, h, &rd, 1), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&v.n) == 1);
    assert_int_equal(atomic_load(&v.n), 1);
    assert_int_equal(v.status, STATUS_SUCCESS);
    assert_int_equal(v.info, 200); /* the driver's 1000, clamped to out_len */
    assert_int_equal(v.first, 'r');
    assert_int_equal(v.last, 'r');
    kx_io_close(io, h);
    kx_io_free(io);
}

/* Inverts every input byte into the output: the system buffer is shared by
 * both (METHOD_BUFFERED). */
static kx_status invert(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    unsigned char *b = irp->SystemBuffer;
    size_t n = irp->Parameters.DeviceIoControl.InputBufferLength;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)~b[i];
    return DkCompleteRequest(irp, STATUS_SUCCESS, n);
}

static void test_every_payload_size_arrives_intact(void **state)
{
    (void)state;
    /* Small payloads travel beside the dispatch message, larger ones in the
     * record, the largest in a separate buffer: sizes on both sides of each
     * boundary must arrive whole, and only the reported bytes come back. */
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Inv");
    t->mj[IRP_MJ_DEVICE_CONTROL] = invert;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Inv", &t_user, KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE, 0,
                                &h),
                     STATUS_SUCCESS);
    const uint32_t code = CTL_CODE(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS);
    unsigned char in[300], out[300];
    for (size_t len = 1; len <= sizeof in; len++) {
        for (size_t i = 0; i < len; i++)
            in[i] = (unsigned char)(i * 7 + len);
        memset(out, 0xEE, sizeof out);
        size_t n = 0, room = len + 8 < sizeof out ? len + 8 : len;
        assert_int_equal(kx_io_ioctl(io, h, code, in, len, out, room, 0, &n), STATUS_SUCCESS);
        assert_int_equal(n, len);
        for (size_t i = 0; i < len; i++)
            assert_int_equal(out[i], (unsigned char)~in[i]);
        if (len < sizeof out)
            assert_int_equal(out[len], 0xEE); /* only the bytes the driver reported */
    }
    kx_io_close(io, h);
    kx_io_free(io);
}

static void test_slow_device_does_not_stall_another(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL); /* slow, not hung: no hang report answers it */
    struct tdrv *slow = tdrv_new("Sloth");
    slow->mj[IRP_MJ_WRITE] = tdrv_block;
    struct tdrv *fast = tdrv_new("Hare");
    fast->mj[IRP_MJ_WRITE] = tdrv_echo_len;
    assert_int_equal(tdrv_start(io, slow, NULL), STATUS_SUCCESS);
    assert_int_equal(tdrv_start(io, fast, NULL), STATUS_SUCCESS);
    kx_io_handle hs, hf;
    assert_int_equal(kx_io_open(io, "/dev/Sloth", &t_user, KX_IO_ACCESS_WRITE, 0, &hs),
                     STATUS_SUCCESS);
    assert_int_equal(kx_io_open(io, "/dev/Hare", &t_user, KX_IO_ACCESS_WRITE, 0, &hf),
                     STATUS_SUCCESS);
    struct done_count c = {0};
    struct kx_io_req w = {.op = KX_IO_OP_WRITE, .in = "s", .in_len = 1, .done = count_done,
                          .arg = &c};
    assert_int_equal(kx_io_submit(io, hs, &w, 1), STATUS_SUCCESS);
    T_WAIT_FOR(atomic_load(&slow->in_routine));
    assert_true(atomic_load(&slow->in_routine));
    for (int i = 0; i < 1000; i++) /* AxisOS would have queued these behind the slow one */
        assert_int_equal(kx_io_write(io, hf, "f", 1, 0, 0, NULL), STATUS_SUCCESS);
    /* All answered while the slow write was still in its routine, however long they took. */
    assert_true(atomic_load(&slow->in_routine));
    assert_int_equal(atomic_load(&c.n), 0);
    atomic_store(&slow->release, 1);
    assert_true(wait_count(&c, 1));
    kx_io_close(io, hs);
    kx_io_close(io, hf);
    kx_io_free(io);
}

struct flood {
    struct kx_io *io;
    kx_io_handle h;
    struct done_count c;
    pthread_t thread;
};

static void *flood_main(void *arg)
{
    struct flood *f = arg;
    struct kx_io_req reqs[16];
    for (int i = 0; i < 16; i++)
        reqs[i] = (struct kx_io_req){.op = KX_IO_OP_WRITE, .in = "z", .in_len = 1,
                                     .done = count_done, .arg = &f->c};
    for (int i = 0; i < 500; i++)
        if (kx_io_submit(f->io, f->h, reqs, 1 + i % 16) != STATUS_SUCCESS)
            atomic_fetch_add(&f->c.n, 1000000);
    return NULL;
}

static void test_many_requests_in_flight_from_many_threads(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Flood");
    t->mj[IRP_MJ_WRITE] = tdrv_echo_len;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    struct flood f[3];
    int expect = 0;
    for (int i = 0; i < 500; i++)
        expect += 1 + i % 16;
    for (int i = 0; i < 3; i++) {
        memset(&f[i], 0, sizeof f[i]);
        f[i].io = io;
        assert_int_equal(kx_io_open(io, "/dev/Flood", &t_user, KX_IO_ACCESS_WRITE, 0, &f[i].h),
                         STATUS_SUCCESS);
        pthread_create(&f[i].thread, NULL, flood_main, &f[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(f[i].thread, NULL);
        assert_true(wait_count(&f[i].c, expect));
        assert_int_equal(atomic_load(&f[i].c.n), expect);
        assert_int_equal(kx_io_close(io, f[i].h), STATUS_SUCCESS);
    }
    kx_io_free(io);
}

/* The first write blocks until released; every write checks it comes in
 * submission order. */
static atomic_uint order_next;

static kx_status ordered_write(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    uint32_t seq;
    memcpy(&seq, irp->SystemBuffer, sizeof seq);
    if (seq == 0)
        T_WAIT_FOR(atomic_load(&t->release));
    TDRV_CHECK(t, seq == atomic_load(&order_next));
    atomic_store(&order_next, seq + 1);
    return DkCompleteRequest(irp, STATUS_SUCCESS, irp->Parameters.Write.Length);
}

static void test_overflowing_the_queue_keeps_order(void **state)
{
    (void)state;
    /* More requests than the dispatch ring holds, queued behind a blocked
     * routine: the rest go to the overflow list and still arrive in order. */
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Flooded");
    t->mj[IRP_MJ_WRITE] = ordered_write;
    atomic_store(&order_next, 0);
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    kx_io_handle h;
    assert_int_equal(kx_io_open(io, "/dev/Flooded", &t_user, KX_IO_ACCESS_WRITE, 0, &h),
                     STATUS_SUCCESS);
    enum { N = 6000 };
    static uint32_t seqs[N];
    struct done_count c = {0};
    struct kx_io_req reqs[100];
    for (uint32_t i = 0; i < N; i += 100) {
        for (uint32_t k = 0; k < 100; k++) {
            seqs[i + k] = i + k;
            reqs[k] = (struct kx_io_req){.op = KX_IO_OP_WRITE, .in = &seqs[i + k], .in_len = 4,
                                         .timeout_ms = KX_IO_TIMEOUT_NONE, .done = count_done,
                                         .arg = &c};
        }
        assert_int_equal(kx_io_submit(io, h, reqs, 100), STATUS_SUCCESS);
    }
    atomic_store(&t->release, 1);
    assert_true(wait_count(&c, N));
    assert_int_equal(atomic_load(&order_next), N);
    kx_io_close(io, h);
    kx_io_free(io);
    tdrv_no_failures(t);
}

/* kx_io_submit_here, kx_io_open_here and kx_io_close_here: the routines may
 * run on the calling thread, but never beside another routine of the same
 * driver — whether that one runs on the driver's own thread (the CREATEs,
 * CLEANUPs and CLOSEs of a thread opening and closing, kx_io_submit's
 * writes) or on another caller's. */
static atomic_int here_inside, here_ran_on_submitter, here_ran_on_opener;
static _Thread_local int here_is_submitter; /* 1: submits here; 2: opens and closes here */

static kx_status exclusive(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    TDRV_CHECK(t, atomic_fetch_add(&here_inside, 1) == 0);
    for (volatile int i = 0; i < 200; i++)
        ; /* long enough for an overlap to show */
    if (here_is_submitter)
        atomic_fetch_add(here_is_submitter == 1 ? &here_ran_on_submitter : &here_ran_on_opener, 1);
    atomic_fetch_sub(&here_inside, 1);
    size_t len = irp->MajorFunction == IRP_MJ_WRITE ? irp->Parameters.Write.Length : 0;
    return DkCompleteRequest(irp, STATUS_SUCCESS, len);
}

struct here_client {
    struct kx_io *io;
    kx_io_handle h;
    int here; /* 1: kx_io_submit_here; 0: kx_io_submit; -1: opens and closes; -2: the same, here */
    struct done_count c;
    pthread_t thread;
};

static void *here_main(void *arg)
{
    struct here_client *k = arg;
    here_is_submitter = k->here == 1 ? 1 : k->here == -2 ? 2 : 0;
    struct kx_io_req q = {.op = KX_IO_OP_WRITE, .in = "z", .in_len = 1, .done = count_done,
                          .arg = &k->c};
    for (int i = 0; i < 300; i++) {
        if (k->here == -1) {
            kx_io_handle h;
            if (kx_io_open(k->io, "/dev/Here", &t_user, KX_IO_ACCESS_WRITE, 0, &h) ==
                STATUS_SUCCESS)
                kx_io_close(k->io, h);
            continue;
        }
        if (k->here == -2) {
            kx_io_handle h;
            kx_status st = kx_io_open_here(k->io, "/dev/Here", &t_user, KX_IO_ACCESS_WRITE, 0, &h);
            if (st != STATUS_SUCCESS || kx_io_close_here(k->io, h) != STATUS_SUCCESS)
                atomic_fetch_add(&k->c.n, 1000000);
            continue;
        }
        kx_status st = k->here ? kx_io_submit_here(k->io, k->h, &q, 1)
                               : kx_io_submit(k->io, k->h, &q, 1);
        if (st != STATUS_SUCCESS)
            atomic_fetch_add(&k->c.n, 1000000);
        /* One at a time, as a ring client's round trip: the driver's thread
         * is often idle when the next one comes. */
        T_WAIT_FOR(atomic_load(&k->c.n) > i);
    }
    return NULL;
}

/* One open and close with the _here calls: 1 once a routine ran on this thread. */
static int open_close_here(struct kx_io *io)
{
    kx_io_handle h;
    if (kx_io_open_here(io, "/dev/Here", &t_user, KX_IO_ACCESS_WRITE, 0, &h) == STATUS_SUCCESS)
        kx_io_close_here(io, h);
    return atomic_load(&here_ran_on_opener) > 0;
}

static void test_routines_run_here_never_overlap(void **state)
{
    (void)state;
    struct kx_io *io = t_io_new(NULL);
    struct tdrv *t = tdrv_new("Here");
    t->mj[IRP_MJ_WRITE] = t->mj[IRP_MJ_CREATE] = t->mj[IRP_MJ_CLEANUP] = t->mj[IRP_MJ_CLOSE] =
        exclusive;
    assert_int_equal(tdrv_start(io, t, NULL), STATUS_SUCCESS);
    atomic_store(&here_inside, 0);
    atomic_store(&here_ran_on_submitter, 0);
    atomic_store(&here_ran_on_opener, 0);
    struct here_client k[5] = {{.here = 1}, {.here = 1}, {.here = 0}, {.here = -1}, {.here = -2}};
    for (int i = 0; i < 5; i++) {
        k[i].io = io;
        if (k[i].here >= 0)
            assert_int_equal(kx_io_open(io, "/dev/Here", &t_user, KX_IO_ACCESS_WRITE, 0, &k[i].h),
                             STATUS_SUCCESS);
        pthread_create(&k[i].thread, NULL, here_main, &k[i]);
    }
    for (int i = 0; i < 5; i++) {
        pthread_join(k[i].thread, NULL);
        if (k[i].here == -2)
            assert_int_equal(atomic_load(&k[i].c.n), 0); /* every open and close succeeded */
        if (k[i].here < 0)
            continue;
        assert_int_equal(atomic_load(&k[i].c.n), 300);
        assert_int_equal(atomic_load(&k[i].c.status), STATUS_SUCCESS);
        assert_int_equal(kx_io_close(io, k[i].h), STATUS_SUCCESS);
    }
    assert_true(atomic_load(&here_ran_on_submitter) > 0); /* it did run here */
    /* Alone, an open and a close run here as soon as the driver's thread
     * has gone idle (under load the opener may never have found it so). */
    here_is_submitter = 2;
    T_WAIT_FOR(open_close_here(io));
    here_is_submitter = 0;
    assert_true(atomic_load(&here_ran_on_opener) > 0);
    kx_io_free(io);
    tdrv_no_failures(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_missing_routine_is_not_implemented, setup),
        cmocka_unit_test_setup(test_bad_requests_are_refused_before_dispatch, setup),
        cmocka_unit_test_setup(test_double_completion_is_caught_not_obeyed, setup),
        cmocka_unit_test_setup(test_routine_that_neither_completes_nor_pends_is_reported, setup),
        cmocka_unit_test_setup(test_pending_irp_completed_from_another_thread, setup),
        cmocka_unit_test_setup(test_deadline_answers_timeout_and_absorbs_late_completion, setup),
        cmocka_unit_test_setup(test_driver_sees_requester_and_per_open_context, setup),
        cmocka_unit_test_setup(test_batch_reaches_driver_in_order_once_each, setup),
        cmocka_unit_test_setup(test_output_is_copied_and_clamped, setup),
        cmocka_unit_test_setup(test_view_completion_sees_the_drivers_bytes_clamped, setup),
        cmocka_unit_test_setup(test_every_payload_size_arrives_intact, setup),
        cmocka_unit_test_setup(test_slow_device_does_not_stall_another, setup),
        cmocka_unit_test_setup(test_many_requests_in_flight_from_many_threads, setup),
        cmocka_unit_test_setup(test_overflowing_the_queue_keeps_order, setup),
        cmocka_unit_test_setup(test_routines_run_here_never_overlap, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
