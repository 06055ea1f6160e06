/* test_io_churn.c — the I/O manager under churn: many threads open, write,
 * read, control and close two devices while their drivers are unloaded and
 * started again in a loop, and another thread lists handles, devices and
 * drivers all the while. Every call must return a status from its documented
 * set, every listing must describe real handles, and at the end nothing is
 * left open. Runs KX_STRESS_SECONDS (default 3) seconds; set it higher to
 * soak (`KX_STRESS_SECONDS=600 ctest -R churn`). */
#include "io_test.h"

#include <stdatomic.h>
#include <stdlib.h>

#define N_CLIENTS 16

static kx_status churn_create(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static kx_status churn_read(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    size_t n = irp->Parameters.Read.Length;
    memset(irp->SystemBuffer, 0, n);
    return DkCompleteRequest(irp, STATUS_SUCCESS, n);
}

static kx_status churn_write(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    return DkCompleteRequest(irp, STATUS_SUCCESS, irp->Parameters.Write.Length);
}

/* Controls pend: close and unload must cancel or remove them. */
static void churn_cancel(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

static kx_status churn_control(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    DkSetCancelRoutine(irp, churn_cancel);
    DkMarkIrpPending(irp);
    return STATUS_PENDING;
}

static void churn_unload(PDRIVER_OBJECT d)
{
    char link[64];
    snprintf(link, sizeof link, "/dev/%s", d->DriverName + strlen("\\Driver\\"));
    DkDeleteSymbolicLink(link);
    while (d->DeviceObject)
        if (DkDeleteDevice(d->DeviceObject) != STATUS_SUCCESS)
            break;
}

static kx_status churn_entry(PDRIVER_OBJECT d)
{
    const char *name = d->DriverName + strlen("\\Driver\\");
    d->MajorFunction[IRP_MJ_CREATE] = churn_create;
    d->MajorFunction[IRP_MJ_CLEANUP] = churn_create;
    d->MajorFunction[IRP_MJ_CLOSE] = churn_create;
    d->MajorFunction[IRP_MJ_READ] = churn_read;
    d->MajorFunction[IRP_MJ_WRITE] = churn_write;
    d->MajorFunction[IRP_MJ_DEVICE_CONTROL] = churn_control;
    d->DriverUnload = churn_unload;
    char dev_name[64], link[64];
    snprintf(dev_name, sizeof dev_name, "\\Device\\%s0", name);
    snprintf(link, sizeof link, "/dev/%s", name);
    PDEVICE_OBJECT dev;
    kx_status st = DkCreateDevice(d, dev_name, 0, &dev);
    if (st != STATUS_SUCCESS)
        return st;
    DkSetDeviceSecurity(dev, 0, 0, 0666);
    if ((st = DkCreateSymbolicLink(link, dev_name)) != STATUS_SUCCESS)
        DkDeleteDevice(dev);
    return st;
}

static const char *const churn_names[2] = {"ChurnA", "ChurnB"};

struct churn {
    struct kx_io *io;
    atomic_int stop;
    atomic_int failures;
    atomic_ulong opens, ios, unloads, refusals, listings;
    char first_failure[256];
    pthread_mutex_t lock;
};

static void churn_fail(struct churn *c, const char *what, kx_status st)
{
    pthread_mutex_lock(&c->lock);
    if (!atomic_fetch_add(&c->failures, 1))
        snprintf(c->first_failure, sizeof c->first_failure, "%s: %s", what, kx_status_name(st));
    pthread_mutex_unlock(&c->lock);
}

/* What a device can answer while its driver comes and goes (a forced unload
 * closes handles, which cancels their requests; a machine loaded enough can
 * stall a dispatch thread past the hang limit). */
static int gone(kx_status st)
{
    return st == STATUS_NO_SUCH_FILE || st == STATUS_DEVICE_REMOVED ||
           st == STATUS_DEVICE_NOT_READY || st == STATUS_INVALID_HANDLE ||
           st == STATUS_CANCELLED || st == STATUS_DRIVER_NOT_RESPONDING;
}

static void *client_main(void *arg)
{
    struct churn *c = arg;
    unsigned seed = (unsigned)(uintptr_t)pthread_self();
    char buf[256];
    while (!atomic_load(&c->stop)) {
        char path[32];
        snprintf(path, sizeof path, "/dev/%s", churn_names[rand_r(&seed) & 1]);
        kx_io_handle h;
        kx_status st = kx_io_open(c->io, path, &t_user, KX_IO_ACCESS_READ | KX_IO_ACCESS_WRITE,
                                  KX_IO_TIMEOUT_DEFAULT, &h);
        if (st != STATUS_SUCCESS) {
            if (!gone(st))
                churn_fail(c, "open", st);
            continue;
        }
        atomic_fetch_add(&c->opens, 1);
        for (int i = 0; i < 4; i++) {
            size_t n = 0;
            st = kx_io_write(c->io, h, buf, sizeof buf, 0, KX_IO_TIMEOUT_DEFAULT, &n);
            if (st == STATUS_SUCCESS)
                st = kx_io_read(c->io, h, buf, sizeof buf, 0, KX_IO_TIMEOUT_DEFAULT, &n);
            if (st != STATUS_SUCCESS && !gone(st))
                churn_fail(c, "read/write", st);
            atomic_fetch_add(&c->ios, 1);
        }
        /* A pending control the close (or an unload) has to end. */
        struct kx_io_req r = {.op = KX_IO_OP_DEVICE_CONTROL, .done = NULL};
        r.code = 0x220000; /* FILE_DEVICE_UNKNOWN, METHOD_BUFFERED, FILE_ANY_ACCESS */
        r.timeout_ms = 2;
        st = kx_io_call(c->io, h, &r, NULL);
        if (st != STATUS_TIMEOUT && st != STATUS_CANCELLED && !gone(st))
            churn_fail(c, "control", st);
        st = kx_io_close(c->io, h);
        if (st != STATUS_SUCCESS && st != STATUS_INVALID_HANDLE)
            churn_fail(c, "close", st);
    }
    return NULL;
}

static void *loader_main(void *arg)
{
    struct churn *c = arg;
    unsigned round = 0;
    while (!atomic_load(&c->stop)) {
        const char *name = churn_names[round & 1];
        unsigned flags = (round++ % 3 == 0) ? KX_IO_UNLOAD_FORCE : 0;
        kx_io_driver_id id;
        if (kx_io_driver_find(c->io, name, &id) != STATUS_SUCCESS) {
            kx_status st = t_start(c->io, name, churn_entry, NULL);
            if (st != STATUS_SUCCESS && st != STATUS_OBJECT_NAME_COLLISION)
                churn_fail(c, "start", st);
            continue;
        }
        kx_status st = kx_io_driver_unload(c->io, id, flags);
        if (st == STATUS_SUCCESS) {
            atomic_fetch_add(&c->unloads, 1);
        } else if (st == STATUS_DEVICE_BUSY) {
            /* What kextunload does when refused: name the holders. */
            struct kx_io_handle_stat *hs;
            size_t n;
            st = kx_io_list_handles(c->io, id, &hs, &n);
            if (st != STATUS_SUCCESS)
                churn_fail(c, "list_handles", st);
            for (size_t i = 0; st == STATUS_SUCCESS && i < n; i++)
                if (!hs[i].handle || strncmp(hs[i].device, "\\Device\\Churn", 13) != 0)
                    churn_fail(c, "holder list names no handle", STATUS_SUCCESS);
            free(hs);
            atomic_fetch_add(&c->refusals, 1);
        } else if (st != STATUS_INVALID_HANDLE) {
            churn_fail(c, "unload", st);
        }
    }
    return NULL;
}

static void *lister_main(void *arg)
{
    struct churn *c = arg;
    while (!atomic_load(&c->stop)) {
        struct kx_io_handle_stat *hs;
        struct kx_io_device_stat *ds;
        struct kx_io_driver_stat *drs;
        struct kx_io_link_stat *ls;
        size_t n;
        if (kx_io_list_handles(c->io, 0, &hs, &n) == STATUS_SUCCESS) {
            for (size_t i = 0; i < n; i++)
                if (!hs[i].handle || !hs[i].device[0] || hs[i].cred.uid != t_user.uid)
                    churn_fail(c, "handle listing has an empty entry", STATUS_SUCCESS);
            free(hs);
        }
        if (kx_io_list_devices(c->io, &ds, &n) == STATUS_SUCCESS) {
            for (size_t i = 0; i < n; i++)
                if (!ds[i].name[0])
                    churn_fail(c, "device listing has an empty entry", STATUS_SUCCESS);
            free(ds);
        }
        if (kx_io_list_drivers(c->io, &drs, &n) == STATUS_SUCCESS)
            free(drs);
        if (kx_io_list_links(c->io, &ls, &n) == STATUS_SUCCESS)
            free(ls);
        atomic_fetch_add(&c->listings, 1);
    }
    return NULL;
}

static unsigned stress_seconds(void)
{
    const char *s = getenv("KX_STRESS_SECONDS");
    long v = s ? strtol(s, NULL, 10) : 0;
    return v > 0 ? (unsigned)v : 3;
}

static void test_open_io_close_while_drivers_come_and_go(void **state)
{
    (void)state;
    static struct churn c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.lock, NULL);
    static struct t_logcap cap;
    memset(&cap, 0, sizeof cap);
    pthread_mutex_init(&cap.lock, NULL);
    /* Deadlines far above what the work takes: a loaded machine must slow
     * the churn down, not fail it. */
    struct kx_logger lg = {t_logcap_fn, &cap, KX_LOG_WARN};
    struct kx_io_config cfg = {sizeof cfg, &lg, 30000, 30000, 30000, 10000, 64, NULL, NULL, 0, 0};
    assert_int_equal(kx_io_new(&cfg, &c.io), STATUS_SUCCESS);
    for (int i = 0; i < 2; i++)
        assert_int_equal(t_start(c.io, churn_names[i], churn_entry, NULL), STATUS_SUCCESS);

    pthread_t clients[N_CLIENTS], loader, lister;
    for (int i = 0; i < N_CLIENTS; i++)
        assert_int_equal(pthread_create(&clients[i], NULL, client_main, &c), 0);
    assert_int_equal(pthread_create(&loader, NULL, loader_main, &c), 0);
    assert_int_equal(pthread_create(&lister, NULL, lister_main, &c), 0);
    t_sleep_ms(stress_seconds() * 1000u);
    atomic_store(&c.stop, 1);
    for (int i = 0; i < N_CLIENTS; i++)
        pthread_join(clients[i], NULL);
    pthread_join(loader, NULL);
    pthread_join(lister, NULL);

    print_message("opens %lu, I/O %lu, unloads %lu (refused %lu), listings %lu\n",
                  atomic_load(&c.opens), atomic_load(&c.ios), atomic_load(&c.unloads),
                  atomic_load(&c.refusals), atomic_load(&c.listings));
    if (atomic_load(&c.failures))
        fail_msg("log:\n%s\n%d failure(s), the first: %s", cap.text, atomic_load(&c.failures),
                 c.first_failure);
    /* Each side made progress: the churn really overlapped. */
    assert_true(atomic_load(&c.opens) > 0);
    assert_true(atomic_load(&c.unloads) > 0);

    /* Nothing is left open, and every driver unloads without force. */
    struct kx_io_handle_stat *hs;
    size_t n;
    assert_int_equal(kx_io_list_handles(c.io, 0, &hs, &n), STATUS_SUCCESS);
    assert_int_equal(n, 0);
    free(hs);
    for (int i = 0; i < 2; i++) {
        kx_io_driver_id id;
        if (kx_io_driver_find(c.io, churn_names[i], &id) == STATUS_SUCCESS)
            assert_int_equal(kx_io_driver_unload(c.io, id, 0), STATUS_SUCCESS);
    }
    kx_io_free(c.io);
    pthread_mutex_destroy(&c.lock);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_io_close_while_drivers_come_and_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
