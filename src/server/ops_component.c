/* ops_component.c — kx device peek/poke: a component's register file (or a PCI function's
 * configuration space) read and written from the shell, as tests and simulations drive
 * hardware that drivers see through their proxies.
 *
 * Both answer at once on kx-srv: an access takes only the registry's and the components'
 * locks, never one held while driver code runs. Hardware is everyone's, so both are root's
 * or kxd's own user's; a poke of a PCI function's configuration space also needs kxd
 * --allow-hardware-write and kxd running as root (src/kernel/component.c).
 */
#include "ops_component.h"

#include <kx/kernel.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_ADDRESS_TEXT 64
#define MAX_ACCESS       4096u

static int refused(struct kx_srv_req *req, const char *what)
{
    if (kx_srv_is_privileged(req->srv, req->cred.uid))
        return 0;
    char text[160];
    snprintf(text, sizeof text, "kx device %s reaches hardware: only root (or kxd's own user) may",
             what);
    kx_srv_reply_error(req->srv, req->conn_id, req->req_id, STATUS_ACCESS_DENIED, text);
    return 1;
}

static void reply_failure(struct kx_srv_req *req, kx_status st, const char *address,
                          uint32_t offset)
{
    char why[240];
    snprintf(why, sizeof why, "component %s, offset 0x%x: %s", address, offset,
             st == STATUS_NO_SUCH_DEVICE ? "no component has that address"
             : st == STATUS_ACCESS_DENIED
                 ? "writing real hardware needs kxd --allow-hardware-write and kxd running as "
                   "root (kxd's log says which is missing)"
                 : kx_status_string(st));
    kx_srv_reply_error(req->srv, req->conn_id, req->req_id, st, why);
}

kx_status kx_srv_op_device_peek(struct kx_srv_req *req)
{
    char *address = kx_msg_get_str(&req->in, MAX_ADDRESS_TEXT);
    uint32_t offset = kx_msg_get_u32(&req->in), len = kx_msg_get_u32(&req->in);
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS) {
        free(address);
        return STATUS_PROTOCOL_ERROR;
    }
    unsigned char buf[MAX_ACCESS];
    kx_status st = STATUS_INVALID_PARAMETER;
    if (refused(req, "peek")) {
        free(address);
        return STATUS_SUCCESS;
    }
    if (len <= sizeof buf)
        st = kx_kernel_component_access(kx_srv_kernel(req->srv), address, offset, buf, len, 0);
    if (st != STATUS_SUCCESS) {
        reply_failure(req, st, address, offset);
    } else {
        struct kx_msg_builder b = {0};
        kx_msg_begin(&b, KX_MSG_DATA, req->req_id);
        kx_msg_put_i32(&b, st);
        kx_msg_put_u64(&b, len);
        kx_msg_put_bytes(&b, buf, len);
        kx_srv_post(req->srv, req->conn_id, &b);
    }
    free(address);
    return STATUS_SUCCESS;
}

kx_status kx_srv_op_device_poke(struct kx_srv_req *req)
{
    char *address = kx_msg_get_str(&req->in, MAX_ADDRESS_TEXT);
    uint32_t offset = kx_msg_get_u32(&req->in);
    size_t len = 0;
    const void *data = kx_msg_get_bytes(&req->in, &len);
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS) {
        free(address);
        return STATUS_PROTOCOL_ERROR;
    }
    if (!refused(req, "poke")) {
        /* A write only reads the buffer: its const goes for the call. */
        void *bytes = (void *)(uintptr_t)data; /* NOLINT(performance-no-int-to-ptr) */
        kx_status st = len > MAX_ACCESS ? STATUS_INVALID_PARAMETER
                                        : kx_kernel_component_access(kx_srv_kernel(req->srv),
                                                                     address, offset, bytes, len,
                                                                     1);
        if (st == STATUS_SUCCESS)
            kx_srv_reply_ok(req->srv, req->conn_id, req->req_id, st, len, NULL);
        else
            reply_failure(req, st, address, offset);
    }
    free(address);
    return STATUS_SUCCESS;
}
