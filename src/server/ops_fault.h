/* ops_fault.h — kxd's fault injection requests (ops_fault.c), entries of the
 * request table in ops.c. */
#ifndef KX_SERVER_OPS_FAULT_H
#define KX_SERVER_OPS_FAULT_H

#include "server_int.h"

kx_status kx_srv_op_fault_set(struct kx_srv_req *req);   /* KX_MSG_FAULT_SET */
kx_status kx_srv_op_fault_clear(struct kx_srv_req *req); /* KX_MSG_FAULT_CLEAR */
kx_status kx_srv_op_fault_list(struct kx_srv_req *req);  /* KX_MSG_FAULT_LIST */

#endif /* KX_SERVER_OPS_FAULT_H */
