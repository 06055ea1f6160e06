/* client_int.h — what client.c (the connection, device I/O) shares with
 * client_admin.c (listings, documents, devices, faults, kxd's own report).
 * Not exported: libkxclient.so shows KX_API names only. */
#ifndef KX_CLIENT_INT_H
#define KX_CLIENT_INT_H

#include <kx/client.h>

#include "proto/msg.h"

struct kx_client_ring;

struct kx_client {
    int fd;
    int dead;
    uint32_t next_req_id;
    char *message; /* last reply's text, never NULL after connect */
    struct kx_msg_builder out;
    uint8_t *in; /* last reply's payload */
    size_t in_cap;
    uint8_t rbuf[16384]; /* received, not yet consumed: rbuf[rhead..rtail) */
    size_t rhead, rtail;
    struct kx_client_ring *ring; /* NULL: the socket carries I/O too */
    int ring_tried;
};

/* The largest text field kxd sends (reports of big dependency trees). */
#define MAX_TEXT ((size_t)1 << 20)
/* The longest path or name kxd reads in a request (its MAX_PATH_TEXT), with its length. */
#define MAX_TEXT_REQUEST ((size_t)4096 + 4)

/* Replaces the last reply's text (owned; NULL keeps the old one). */
void kxc_set_message(kx_client *c, char *text);
/* Starts building a request of type; its id. */
uint32_t kxc_begin(kx_client *c, uint16_t type);
/* Marks the connection dead with st's text; returns st. */
kx_status kxc_fail_dead(kx_client *c, kx_status st);
kx_status kxc_send_request(kx_client *c);
/* The next reply to req_id into c->in; *r reads its payload. */
kx_status kxc_recv_reply(kx_client *c, uint32_t req_id, struct kx_msg_hdr *h,
                         struct kx_msg_reader *r);
/* An OK or ERROR reply's status, value and text (into c's message). */
kx_status kxc_read_status_reply(kx_client *c, const struct kx_msg_hdr *h,
                                struct kx_msg_reader *r, uint64_t *value);
/* Sends the built request; the status of its OK/ERROR reply. */
kx_status kxc_simple_call(kx_client *c, uint32_t req_id, uint64_t *value);

#endif /* KX_CLIENT_INT_H */
