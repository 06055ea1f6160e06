/* fault.c — kx fault's targets as the kernel knows them: a device path goes
 * to the I/O manager as it is; a bundle identifier names a loaded kext, whose
 * driver the rule then covers (every device it has or will create).
 */
#include "kernel_int.h"

#include <stdio.h>
#include <string.h>

kx_status kx_kernel_fault_set(struct kx_kernel *k, const struct kx_fault_rule *rule, char *why,
                              size_t why_len)
{
    if (!k || !rule)
        return STATUS_INVALID_PARAMETER;
    if (rule->target[0] == '/' || rule->target[0] == '\\')
        return kx_io_fault_set(k->io, rule, 0, why, why_len);
    pthread_mutex_lock(&k->state_lock);
    struct kx_loaded *l = kx__kernel_find_loaded(k, rule->target);
    kx_io_driver_id drv = l ? l->driver : 0;
    int died = l && l->host_pid < 0;
    pthread_mutex_unlock(&k->state_lock);
    if (!l || !drv) {
        if (why && why_len)
            snprintf(why, why_len,
                     "%s: kx fault: %s (give a device's link, its \\Device\\ name or a loaded "
                     "kext's bundle identifier)",
                     rule->target,
                     !l     ? "no such device, and no kext by that identifier is loaded"
                     : died ? "its driver host died; the kext has no driver until reloaded"
                            : "the kext has no driver (no DriverEntry)");
        return l ? STATUS_INVALID_HANDLE : STATUS_KEXT_NOT_FOUND;
    }
    return kx_io_fault_set(k->io, rule, drv, why, why_len);
}
