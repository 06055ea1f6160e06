/* devpolicy.h — kxd's device policy file (kxd --device-policy FILE).
 *
 * One rule per line, first match wins, '#' starts a comment:
 *
 *     PATTERN   OWNER  GROUP  MODE
 *     /dev/ram*  root  disk   0660
 *
 * PATTERN is a glob over a device's canonical name or any link to it;
 * OWNER and GROUP are names or numbers; MODE is octal, at most 0777.
 */
#ifndef KX_SERVER_DEVPOLICY_H
#define KX_SERVER_DEVPOLICY_H

#include <kx/io.h>

/* Parses path into a malloc'ed rule array. On a bad line returns
 * STATUS_DATA_ERROR and a malloc'ed "FILE:LINE: reason" in *why. */
kx_status kx_srv_device_policy_read(const char *path, struct kx_io_device_rule **rules, size_t *n,
                                    char **why);

#endif /* KX_SERVER_DEVPOLICY_H */
