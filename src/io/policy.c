/* policy.c — the device policy: an administrator's owner, group and mode
 * for devices, matched by canonical name or by any link to the device.
 *
 * The policy is consulted where security matters (open) and where it is
 * shown (listings), never copied into devices, so a rule also covers devices
 * that a driver creates after the policy was set.
 */
#include "io_int.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

kx_status kx_io_set_device_policy(struct kx_io *io, const struct kx_io_device_rule *rules,
                                  size_t n)
{
    if (!io || (n && !rules))
        return STATUS_INVALID_PARAMETER;
    for (size_t i = 0; i < n; i++)
        if (rules[i].mode > 0777 || !memchr(rules[i].pattern, '\0', sizeof rules[i].pattern))
            return STATUS_INVALID_PARAMETER;
    struct kx_io_device_rule *copy = NULL;
    if (n && !(copy = malloc(n * sizeof *copy)))
        return STATUS_INSUFFICIENT_RESOURCES;
    if (n)
        memcpy(copy, rules, n * sizeof *copy);
    pthread_mutex_lock(&io->ns_lock);
    struct kx_io_device_rule *old = io->policy;
    io->policy = copy;
    io->n_policy = n;
    pthread_mutex_unlock(&io->ns_lock);
    free(old);
    return STATUS_SUCCESS;
}

static int names_device(const struct kx_io *io, const char *pattern, const struct io_device *dv)
{
    if (fnmatch(pattern, dv->name, FNM_NOESCAPE) == 0)
        return 1;
    for (size_t i = 0; i < io->n_links; i++)
        if (strcmp(io->links[i].target, dv->name) == 0 &&
            fnmatch(pattern, io->links[i].link, FNM_NOESCAPE) == 0)
            return 1;
    return 0;
}

void kx__policy_security(const struct kx_io *io, const struct io_device *dv, uint32_t *uid,
                         uint32_t *gid, uint32_t *mode)
{
    for (size_t i = 0; i < io->n_policy; i++) {
        if (names_device(io, io->policy[i].pattern, dv)) {
            *uid = io->policy[i].uid;
            *gid = io->policy[i].gid;
            *mode = io->policy[i].mode;
            return;
        }
    }
    *uid = dv->uid;
    *gid = dv->gid;
    *mode = dv->mode;
}
