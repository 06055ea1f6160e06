/* ops_component.h — kx device peek/poke (ops_component.c), entries of the request table in
 * ops.c. */
#ifndef KX_SERVER_OPS_COMPONENT_H
#define KX_SERVER_OPS_COMPONENT_H

#include "server_int.h"

kx_status kx_srv_op_device_peek(struct kx_srv_req *req); /* KX_MSG_DEVICE_PEEK */
kx_status kx_srv_op_device_poke(struct kx_srv_req *req); /* KX_MSG_DEVICE_POKE */

#endif /* KX_SERVER_OPS_COMPONENT_H */
