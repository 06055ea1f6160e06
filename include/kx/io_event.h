/* kx/io_event.h — raising named events to the drivers that registered for
 * them (DkRegisterInterrupt, <kx/kmdf.h>), and their per-driver accounting.
 *
 * An event is queued on each subscribed driver's own dispatch queue and its
 * routine runs there, between IRP routines, never beside them. A raise never
 * waits for a driver: a driver with KX_IO_EVENT_QUEUE events still unanswered
 * loses the event, and the loss is counted (kx_io_event_list). Events of one
 * source reach a driver in the order they were raised, numbered from 1.
 */
#ifndef KX_IO_EVENT_H
#define KX_IO_EVENT_H

#include <kx/io.h>

#define KX_IO_EVENT_NAME_MAX   64   /* event names, with the NUL */
#define KX_IO_EVENT_DATA_MAX   4096 /* payload bytes */
#define KX_IO_EVENT_SOURCE_MAX KX_IO_NAME_MAX
#define KX_IO_EVENT_QUEUE      256 /* events a driver may have unanswered */
#define KX_IO_EVENT_PER_DRIVER 64  /* registrations, and timers, per driver */

/* Raises name from source (NULL: "") with data[0..len) to every driver
 * registered for it. *n_queued (may be NULL) gets how many drivers it was
 * queued for; the others were full and counted it as dropped.
 * STATUS_SUCCESS; STATUS_INVALID_PARAMETER (name empty or too long, source or
 * data too long); STATUS_INSUFFICIENT_RESOURCES. Any thread, but not from a
 * routine holding a lock that a driver's call may need. */
KX_API kx_status kx_io_event_raise(struct kx_io *io, const char *name, const char *source,
                                   const void *data, size_t len, uint32_t *n_queued);

struct kx_io_event_stat {
    kx_io_driver_id id;
    char driver[KX_IO_NAME_MAX]; /* "\Driver\Keys" */
    char names[512];             /* its registrations, comma-separated (cut at 511 bytes) */
    uint32_t n_registrations, n_timers;
    uint32_t queued;    /* raised for it, not yet answered */
    uint64_t delivered; /* its routine ran */
    uint64_t dropped;   /* its queue was full, or it had unregistered meanwhile */
};

/* One record per running driver that registered an event or set a timer, or
 * ever received or lost one; in start order. *out is malloc'ed (NULL when
 * n is 0); free it. STATUS_SUCCESS; STATUS_INSUFFICIENT_RESOURCES. */
KX_API kx_status kx_io_event_list(struct kx_io *io, struct kx_io_event_stat **out, size_t *n);

#endif /* KX_IO_EVENT_H */
