/* tdrv.h — a configurable driver compiled into the tests. Each test fills a
 * struct tdrv (device and link names, security, DriverEntry's verdict, dispatch
 * routines) and starts it with tdrv_start(); the driver records what it sees
 * ("CREATE", "CLEANUP", ...) in an event string the test then checks.
 *
 * DriverEntry gets only its DRIVER_OBJECT, so configurations are found by
 * driver name in a small table; tests run one at a time in a process. */
#ifndef KX_TESTS_IO_TDRV_H
#define KX_TESTS_IO_TDRV_H

#include "io_test.h"

#include <stdatomic.h>
#include <stdlib.h>

#define TDRV_MAX 8

struct tdrv {
    char name[32];
    char dev[64];          /* "" for none */
    char link[64];         /* "" for none */
    uint32_t uid, gid, mode;
    kx_status entry_status;   /* returned after the device and link exist */
    unsigned entry_sleep_ms;  /* a slow (or hung) DriverEntry */
    int no_unload;
    int unload_keeps_objects; /* DriverUnload leaves its device and link behind */
    unsigned unload_sleep_ms;
    PDRIVER_DISPATCH mj[IRP_MJ_MAXIMUM_FUNCTION + 1];
    int no_defaults;          /* leave CREATE/CLEANUP/CLOSE slots empty */

    /* observations */
    pthread_mutex_t lock;
    char events[2048];
    PIRP held[64];            /* IRPs a routine pended */
    int n_held;
    PDEVICE_OBJECT devobj;
    KX_REQUESTOR last_requestor;
    void *last_ctx;
    uint32_t last_access;
    atomic_int release;       /* lets a blocking routine return */
    atomic_int in_routine;
};

static struct tdrv tdrv_table[TDRV_MAX]; /* test code: one test at a time per process */
static int tdrv_n;

static inline void tdrv_reset(void)
{
    for (int i = 0; i < tdrv_n; i++)
        pthread_mutex_destroy(&tdrv_table[i].lock);
    memset(tdrv_table, 0, sizeof tdrv_table);
    tdrv_n = 0;
}

/* A new configuration with defaults: device \Device\<name>0, link
 * /dev/<name>, mode 0666, DriverEntry succeeds. */
static inline struct tdrv *tdrv_new(const char *name)
{
    assert_true(tdrv_n < TDRV_MAX);
    struct tdrv *t = &tdrv_table[tdrv_n++];
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    snprintf(t->name, sizeof t->name, "%s", name);
    snprintf(t->dev, sizeof t->dev, "\\Device\\%s0", name);
    snprintf(t->link, sizeof t->link, "/dev/%s", name);
    t->mode = 0666;
    return t;
}

static inline struct tdrv *tdrv_find(PDRIVER_OBJECT d)
{
    const char *n = d->DriverName + strlen("\\Driver\\");
    for (int i = 0; i < tdrv_n; i++)
        if (strcmp(tdrv_table[i].name, n) == 0)
            return &tdrv_table[i];
    return NULL;
}

static inline struct tdrv *tdrv_of(PDEVICE_OBJECT dev) { return tdrv_find(dev->DriverObject); }

static inline void tdrv_event(struct tdrv *t, const char *ev)
{
    pthread_mutex_lock(&t->lock);
    size_t n = strlen(t->events);
    snprintf(t->events + n, sizeof t->events - n, "%s%s", n ? "," : "", ev);
    pthread_mutex_unlock(&t->lock);
}

static inline void tdrv_events(struct tdrv *t, char *out, size_t size)
{
    pthread_mutex_lock(&t->lock);
    snprintf(out, size, "%s", t->events);
    pthread_mutex_unlock(&t->lock);
}

static inline void tdrv_hold(struct tdrv *t, PIRP irp)
{
    pthread_mutex_lock(&t->lock);
    t->held[t->n_held++] = irp;
    pthread_mutex_unlock(&t->lock);
}

static inline PIRP tdrv_take(struct tdrv *t)
{
    PIRP irp = NULL;
    pthread_mutex_lock(&t->lock);
    if (t->n_held) {
        irp = t->held[0];
        memmove(t->held, t->held + 1, (size_t)--t->n_held * sizeof t->held[0]);
    }
    pthread_mutex_unlock(&t->lock);
    return irp;
}

static inline int tdrv_n_held(struct tdrv *t)
{
    pthread_mutex_lock(&t->lock);
    int n = t->n_held;
    pthread_mutex_unlock(&t->lock);
    return n;
}

/* Waits until cond(t) holds (patience.h); returns whether it does. */
static inline int tdrv_wait(struct tdrv *t, int (*cond)(struct tdrv *))
{
    T_WAIT_FOR(cond(t));
    return cond(t);
}

/* Driver code runs on dispatch threads, where cmocka's asserts must not
 * fire: failures become "FAIL:<what>" events that tdrv_no_failures checks. */
#define TDRV_CHECK(t, cond)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            tdrv_event((t), "FAIL:" #cond);                                                        \
    } while (0)

static inline void tdrv_no_failures(struct tdrv *t)
{
    char ev[2048];
    tdrv_events(t, ev, sizeof ev);
    if (strstr(ev, "FAIL:"))
        fail_msg("driver %s: %s", t->name, ev);
}

static inline kx_status tdrv_default(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    static const char *const names[] = {[IRP_MJ_CREATE] = "CREATE", [IRP_MJ_CLEANUP] = "CLEANUP",
                                        [IRP_MJ_CLOSE] = "CLOSE"};
    tdrv_event(t, names[irp->MajorFunction]);
    if (irp->MajorFunction == IRP_MJ_CREATE) {
        t->last_requestor = irp->Requestor;
        t->last_access = irp->Parameters.Create.DesiredAccess;
    }
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

static inline void tdrv_unload(PDRIVER_OBJECT d)
{
    struct tdrv *t = tdrv_find(d);
    tdrv_event(t, "UNLOAD");
    if (t->unload_sleep_ms)
        t_sleep_ms(t->unload_sleep_ms);
    if (t->unload_keeps_objects)
        return;
    if (t->link[0])
        TDRV_CHECK(t, DkDeleteSymbolicLink(t->link) == STATUS_SUCCESS);
    while (d->DeviceObject) {
        kx_status st = DkDeleteDevice(d->DeviceObject);
        TDRV_CHECK(t, st == STATUS_SUCCESS);
        if (st != STATUS_SUCCESS)
            break;
    }
}

static inline kx_status tdrv_entry(PDRIVER_OBJECT d)
{
    struct tdrv *t = tdrv_find(d);
    tdrv_event(t, "ENTRY");
    if (!t->no_defaults) {
        d->MajorFunction[IRP_MJ_CREATE] = tdrv_default;
        d->MajorFunction[IRP_MJ_CLEANUP] = tdrv_default;
        d->MajorFunction[IRP_MJ_CLOSE] = tdrv_default;
    }
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        if (t->mj[i])
            d->MajorFunction[i] = t->mj[i];
    if (!t->no_unload)
        d->DriverUnload = tdrv_unload;
    if (t->dev[0]) {
        kx_status st = DkCreateDevice(d, t->dev, 64, &t->devobj);
        if (st != STATUS_SUCCESS)
            return st;
        TDRV_CHECK(t, t->devobj->Flags & DO_DEVICE_INITIALIZING);
        TDRV_CHECK(t, DkSetDeviceSecurity(t->devobj, t->uid, t->gid, t->mode) == STATUS_SUCCESS);
    }
    if (t->link[0]) {
        kx_status st = DkCreateSymbolicLink(t->link, t->dev);
        if (st != STATUS_SUCCESS)
            return st;
    }
    if (t->entry_sleep_ms)
        t_sleep_ms(t->entry_sleep_ms);
    return t->entry_status;
}

static inline kx_status tdrv_start(struct kx_io *io, struct tdrv *t, kx_io_driver_id *id)
{
    return t_start(io, t->name, tdrv_entry, id);
}

/* A routine that blocks until the test sets t->release; in_routine says it is
 * inside. No short limit of its own: tests tell what answered a request by
 * whether the routine is still in. */
static inline kx_status tdrv_block(PDEVICE_OBJECT dev, PIRP irp)
{
    struct tdrv *t = tdrv_of(dev);
    atomic_store(&t->in_routine, 1);
    T_WAIT_FOR(atomic_load(&t->release));
    atomic_store(&t->in_routine, 0);
    return DkCompleteRequest(irp, STATUS_SUCCESS, 0);
}

/* A routine that pends every IRP into t->held. */
static inline kx_status tdrv_pend(PDEVICE_OBJECT dev, PIRP irp)
{
    DkMarkIrpPending(irp);
    tdrv_hold(tdrv_of(dev), irp);
    return STATUS_PENDING;
}

static inline kx_status tdrv_echo_len(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    return DkCompleteRequest(irp, STATUS_SUCCESS, irp->Parameters.Write.Length);
}

#endif
