/* ops_event.h — kxd's event requests (ops_event.c), entries of the request
 * table in ops.c. */
#ifndef KX_SERVER_OPS_EVENT_H
#define KX_SERVER_OPS_EVENT_H

#include "server_int.h"

kx_status kx_srv_op_event_raise(struct kx_srv_req *req); /* KX_MSG_EVENT_RAISE */
kx_status kx_srv_op_event_list(struct kx_srv_req *req);  /* KX_MSG_EVENT_LIST */

#endif /* KX_SERVER_OPS_EVENT_H */
