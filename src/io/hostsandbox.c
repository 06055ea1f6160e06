/* hostsandbox.c — what the manager tells a kx-host about its confinement:
 * the user it drops to and its seccomp profile, as kx-host's arguments, and
 * the kernel log's line saying so once the host has applied them.
 *
 * The policy lives here, the mechanism in the host (src/core/plat_sandbox.c
 * called from host_main.c): hosts run as the manager's host_user (kxd:
 * --host-user, default nobody when kxd is root) unless the driver keeps root,
 * which only KX_IO_HOST_ALLOW_ROOT permits; UMD drivers get the tightest
 * profile; KX_IO_HOST_NO_SANDBOX turns the filter off.
 */
#include "io_int.h"

#include <stddef.h>
#include <stdio.h>

kx_status kx__hostsandbox_args(const struct kx_io *io, const struct io_driver *d,
                               const struct kx_io_driver_params *p, struct io_hostsandbox *sb)
{
    int keep_root = p->size >= offsetof(struct kx_io_driver_params, host_keep_root) + sizeof(int) &&
                    p->host_keep_root;
    if (keep_root && !(io->host_flags & KX_IO_HOST_ALLOW_ROOT))
        return STATUS_ACCESS_DENIED;
    const char *profile = (io->host_flags & KX_IO_HOST_NO_SANDBOX) ? "none"
                          : d->info.type == DRIVER_TYPE_UMD        ? "umd"
                                                                   : "driver";
    size_t n = 0;
    sb->args[n++] = "--profile";
    sb->args[n++] = profile;
    if (io->host_user && !keep_root) {
        snprintf(sb->uid, sizeof sb->uid, "%u", (unsigned)io->host_uid);
        snprintf(sb->gid, sizeof sb->gid, "%u", (unsigned)io->host_gid);
        sb->args[n++] = "--uid";
        sb->args[n++] = sb->uid;
        sb->args[n++] = "--gid";
        sb->args[n++] = sb->gid;
        snprintf(sb->desc, sizeof sb->desc, "runs as %s (uid %u, gid %u), seccomp profile %s",
                 io->host_user, (unsigned)io->host_uid, (unsigned)io->host_gid, profile);
    } else {
        snprintf(sb->desc, sizeof sb->desc, "runs as kxd's user%s, seccomp profile %s",
                 keep_root ? " (the kext keeps root: KXHostKeepRoot)" : "", profile);
    }
    sb->args[n] = NULL;
    return STATUS_SUCCESS;
}
