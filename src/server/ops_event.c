/* ops_event.c — kxd's event requests (issue 14): `kx event raise` and
 * `kx events`.
 *
 * Both answer at once on kx-srv: a raise only queues records on drivers'
 * dispatch queues (it never waits for a routine), and the listing reads
 * counters. Raising makes drivers act for every client, so it is root's or
 * kxd's own user's, as fault injection is; the listing is anyone's.
 */
#include "ops_event.h"

#include <kx/io_event.h>
#include <kx/kernel.h>
#include <stdio.h>
#include <stdlib.h>

kx_status kx_srv_op_event_raise(struct kx_srv_req *req)
{
    char *name = kx_msg_get_str(&req->in, KX_IO_EVENT_NAME_MAX);
    char *source = kx_msg_get_str(&req->in, KX_IO_EVENT_SOURCE_MAX);
    size_t len = 0;
    const void *data = kx_msg_get_bytes(&req->in, &len);
    kx_status st = kx_msg_reader_done(&req->in);
    if (st != STATUS_SUCCESS) {
        free(name);
        free(source);
        return STATUS_PROTOCOL_ERROR;
    }
    char why[300];
    uint32_t n = 0;
    if (!kx_srv_is_privileged(req->srv, req->cred.uid)) {
        snprintf(why, sizeof why,
                 "%s: kx event raise makes drivers act for everyone: only root (or kxd's own "
                 "user) may",
                 name);
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, STATUS_ACCESS_DENIED, why);
    } else if ((st = kx_kernel_event_raise(kx_srv_kernel(req->srv), name, source, data, len, &n)) !=
               STATUS_SUCCESS) {
        snprintf(why, sizeof why,
                 "%s: kx event raise: names are 1 to %d bytes, sources below %d, data at most %d "
                 "bytes",
                 name, KX_IO_EVENT_NAME_MAX - 1, KX_IO_EVENT_SOURCE_MAX, KX_IO_EVENT_DATA_MAX);
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, st, why);
    } else {
        kx_srv_reply_ok(req->srv, req->conn_id, req->req_id, st, n, NULL);
    }
    free(name);
    free(source);
    return STATUS_SUCCESS;
}

kx_status kx_srv_op_event_list(struct kx_srv_req *req)
{
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS)
        return STATUS_PROTOCOL_ERROR;
    struct kx_io_event_stat *v = NULL;
    size_t n = 0;
    kx_status st = kx_io_event_list(kx_srv_io(req->srv), &v, &n);
    if (st != STATUS_SUCCESS) {
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, st, NULL);
        return STATUS_SUCCESS;
    }
    for (size_t i = 0; i < n; i++) {
        struct kx_msg_builder b = {0};
        kx_msg_begin(&b, KX_MSG_EVENT_ENTRY, req->req_id);
        kx_msg_put_str(&b, v[i].driver);
        kx_msg_put_str(&b, v[i].names);
        kx_msg_put_u32(&b, v[i].n_registrations);
        kx_msg_put_u32(&b, v[i].n_timers);
        kx_msg_put_u32(&b, v[i].queued);
        kx_msg_put_u64(&b, v[i].delivered);
        kx_msg_put_u64(&b, v[i].dropped);
        kx_srv_post(req->srv, req->conn_id, &b);
    }
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_END, req->req_id);
    kx_msg_put_i32(&b, STATUS_SUCCESS);
    kx_msg_put_u64(&b, n);
    kx_srv_post(req->srv, req->conn_id, &b);
    free(v);
    return STATUS_SUCCESS;
}
