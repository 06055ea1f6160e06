/* ops_fault.c — kxd's fault injection requests (kx fault): set a rule on a
 * device or kext, clear rules, list them with their counters.
 *
 * Each answers at once on kx-srv: setting and listing take only the
 * kernel's state lock and the I/O manager's namespace and fault locks, none
 * of which is held while driver code runs. Rules change how drivers behave
 * for every client, so all three are root's or kxd's own user's; the rule
 * travels as kx/fault.h's words and is parsed here, so kxd names the word it
 * refuses.
 */
#include "ops_fault.h"

#include <kx/kernel.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_TARGET_TEXT KX_FAULT_TARGET_MAX
#define MAX_WORDS_TEXT  1024

static int refused(struct kx_srv_req *req)
{
    if (kx_srv_is_privileged(req->srv, req->cred.uid))
        return 0;
    kx_srv_reply_error(req->srv, req->conn_id, req->req_id, STATUS_ACCESS_DENIED,
                       "kx fault changes how drivers behave for everyone: only root (or kxd's "
                       "own user) may");
    return 1;
}

kx_status kx_srv_op_fault_set(struct kx_srv_req *req)
{
    char *target = kx_msg_get_str(&req->in, MAX_TARGET_TEXT);
    char *words = kx_msg_get_str(&req->in, MAX_WORDS_TEXT);
    kx_status st = kx_msg_reader_done(&req->in);
    if (st != STATUS_SUCCESS) {
        free(target);
        free(words);
        return STATUS_PROTOCOL_ERROR;
    }
    if (!refused(req)) {
        struct kx_fault_rule r;
        char why[600] = "", text[400];
        st = kx_fault_parse(target, words, &r, why, sizeof why);
        if (st == STATUS_SUCCESS)
            st = kx_kernel_fault_set(kx_srv_kernel(req->srv), &r, why, sizeof why);
        else {
            char parse_why[600];
            snprintf(parse_why, sizeof parse_why, "%s: kx fault: %s", target, why);
            snprintf(why, sizeof why, "%s", parse_why);
        }
        if (st == STATUS_SUCCESS) {
            kx_fault_format(&r, 0, text, sizeof text);
            kx_srv_reply_ok(req->srv, req->conn_id, req->req_id, st, 0, text);
        } else
            kx_srv_reply_error(req->srv, req->conn_id, req->req_id, st, why);
    }
    free(target);
    free(words);
    return STATUS_SUCCESS;
}

kx_status kx_srv_op_fault_clear(struct kx_srv_req *req)
{
    char *target = kx_msg_get_str(&req->in, MAX_TARGET_TEXT);
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS) {
        free(target);
        return STATUS_PROTOCOL_ERROR;
    }
    if (!refused(req)) {
        size_t n = 0;
        kx_status st = kx_io_fault_clear(kx_srv_io(req->srv), target[0] ? target : NULL, &n);
        if (st == STATUS_SUCCESS)
            kx_srv_reply_ok(req->srv, req->conn_id, req->req_id, st, n, NULL);
        else {
            char why[400];
            snprintf(why, sizeof why, "%s: kx fault --clear: no fault rule for it", target);
            kx_srv_reply_error(req->srv, req->conn_id, req->req_id, st, why);
        }
    }
    free(target);
    return STATUS_SUCCESS;
}

kx_status kx_srv_op_fault_list(struct kx_srv_req *req)
{
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS)
        return STATUS_PROTOCOL_ERROR;
    if (refused(req))
        return STATUS_SUCCESS;
    struct kx_fault_rule *rules = NULL;
    size_t n = 0;
    kx_status st = kx_io_fault_list(kx_srv_io(req->srv), &rules, &n);
    if (st != STATUS_SUCCESS) {
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, st, NULL);
        return STATUS_SUCCESS;
    }
    for (size_t i = 0; i < n; i++) {
        char text[400];
        kx_fault_format(&rules[i], 0, text, sizeof text);
        struct kx_msg_builder b = {0};
        kx_msg_begin(&b, KX_MSG_FAULT_ENTRY, req->req_id);
        kx_msg_put_str(&b, rules[i].target);
        kx_msg_put_str(&b, text);
        kx_msg_put_u64(&b, rules[i].seen);
        kx_msg_put_u64(&b, rules[i].fired);
        kx_srv_post(req->srv, req->conn_id, &b);
    }
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_END, req->req_id);
    kx_msg_put_i32(&b, STATUS_SUCCESS);
    kx_msg_put_u64(&b, n);
    kx_srv_post(req->srv, req->conn_id, &b);
    free(rules);
    return STATUS_SUCCESS;
}
