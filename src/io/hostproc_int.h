/* hostproc_int.h — the manager's record of a kx-host process, shared by
 * hostproc.c (start, transport threads, death) and hostwatch.c (the
 * watchdog's look at it: stalls, heartbeats, lifecycle deadlines). */
#ifndef KX_IO_HOSTPROC_INT_H
#define KX_IO_HOSTPROC_INT_H

#include "io_int.h"

#include "core/xport.h"

#define SENT_RING 4096 /* what the last sends were, for naming a hung routine */

struct io_hostproc {
    struct kx_io *io;
    struct io_driver *d;
    struct kx_xport *x;
    struct io_bulk *bulk; /* the bulk slots shared with it (hostbulk.c); NULL on a socket */
    int32_t pid;
    int err_fd;
    struct io_queue q; /* posts: many producers, the sender consumes */
    pthread_t sender, reader, errthr;
    int has_sender, has_reader, has_errthr;
    pthread_mutex_t lock;         /* guards dead against the sender's marking, summary */
    int dead;                     /* lock: the process is gone */
    int reaped;                   /* lock: its exit status was collected */
    _Atomic int stopped;          /* K_STOP answered: the coming hang-up is expected */
    _Atomic int reader_detached;  /* the reader tore the driver down and let itself go */
    _Atomic int tearing;          /* the reader is deciding that (died): wait, then look */
    _Atomic uint32_t reader_done; /* futex word: the reader has returned */
    char summary[256];            /* lock: the host's last sanitizer SUMMARY line */
    char how[128];                /* how the process ended */
    uint64_t address, size;       /* where the driver is mapped in the host */
    /* Progress: sends (under lock) and ended dispatches (the consumer);
     * sent[seq % SENT_RING] says what the seq-th send was (kind, major,
     * control code) so the watchdog can name the routine stuck. */
    _Atomic uint64_t n_sent, n_ended;
    _Atomic uint64_t sent[SENT_RING];
    uint64_t wd_ended, wd_since_ns; /* the watchdog's, under ns_lock */
    /* The heartbeat: HX_PING n (watchdog, under lock), HX_PONG n (the
     * host's transport thread, seen by the reader). */
    uint64_t pings, ping_ns; /* lock */
    _Atomic uint64_t pongs;  /* the last ping answered */
    _Atomic int hung;        /* killed by the watchdog: answers say NOT_RESPONDING */
    char hung_what[160];     /* why, for the report of its death; written before hung */
    /* When the host's stderr began a sanitizer's fault report (0: never): it
     * is crashing, slowly, not hung; the watchdog lets it finish. */
    _Atomic uint64_t report_ns;
    char broke[200];         /* the reader's: how the host broke the transport */
    /* The fast path (ring transport): a submitter sends its IRPs itself while
     * nothing waits in q (queued counts what does, under lock for the
     * sender's part), and a synchronous caller receives in place of the
     * reader for up to poll_ns while it waits (pbatch is the turn holder's:
     * xport.h). poll_users are inside that; no_poll, set at death, keeps new
     * ones out so the transport can go once they have left. */
    _Atomic size_t queued;
    uint64_t poll_ns;
    _Atomic uint32_t poll_users;
    _Atomic int no_poll;
    struct kx_xbatch pbatch;
};

/* The routine the host was running (dispatches end in the order they were
 * sent, so it is the one after the last ended): 1 and its name in out, or
 * 0 when nothing was outstanding. */
int kx__hostproc_running(struct io_hostproc *hp, char *out, size_t len);

/* Kills a live host as not responding (caller holds hp->lock); why goes
 * into the report of its death. 1 if it did. */
int kx__hostproc_kill_locked(struct io_hostproc *hp, const char *why);

#endif /* KX_IO_HOSTPROC_INT_H */
