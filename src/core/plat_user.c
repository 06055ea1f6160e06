/* plat_user.c — getpwnam_r and getgrnam_r behind kx's status convention. */
#include "plat_user.h"
#include "plat.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int parse_number(const char *s, uint32_t *out)
{
    char *end;
    if (!*s || *s == '-')
        return 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > UINT32_MAX)
        return 0;
    *out = (uint32_t)v;
    return 1;
}

kx_status kx_plat_user_id(const char *name, uint32_t *uid)
{
    if (parse_number(name, uid))
        return STATUS_SUCCESS;
    struct passwd pw, *found = NULL;
    char buf[4096];
    int err = getpwnam_r(name, &pw, buf, sizeof buf, &found);
    if (err)
        return kx_status_from_errno(err);
    if (!found)
        return STATUS_NO_SUCH_FILE;
    *uid = (uint32_t)pw.pw_uid;
    return STATUS_SUCCESS;
}

kx_status kx_plat_user_ids(const char *name, uint32_t *uid, uint32_t *gid)
{
    struct passwd pw, *found = NULL;
    char buf[4096];
    uint32_t n;
    int err = parse_number(name, &n) ? getpwuid_r((uid_t)n, &pw, buf, sizeof buf, &found)
                                     : getpwnam_r(name, &pw, buf, sizeof buf, &found);
    if (err)
        return kx_status_from_errno(err);
    if (!found)
        return STATUS_NO_SUCH_FILE;
    *uid = (uint32_t)pw.pw_uid;
    *gid = (uint32_t)pw.pw_gid;
    return STATUS_SUCCESS;
}

kx_status kx_plat_group_id(const char *name, uint32_t *gid)
{
    if (parse_number(name, gid))
        return STATUS_SUCCESS;
    struct group gr, *found = NULL;
    char buf[4096];
    int err = getgrnam_r(name, &gr, buf, sizeof buf, &found);
    if (err)
        return kx_status_from_errno(err);
    if (!found)
        return STATUS_NO_SUCH_FILE;
    *gid = (uint32_t)gr.gr_gid;
    return STATUS_SUCCESS;
}

void kx_plat_owner_string(uint32_t uid, uint32_t gid, char *buf, size_t len)
{
    char ubuf[4096], gbuf[4096], unum[16], gnum[16];
    struct passwd pw, *pwf = NULL;
    struct group gr, *grf = NULL;
    const char *user = unum, *group = gnum;
    snprintf(unum, sizeof unum, "%u", (unsigned)uid);
    snprintf(gnum, sizeof gnum, "%u", (unsigned)gid);
    if (getpwuid_r((uid_t)uid, &pw, ubuf, sizeof ubuf, &pwf) == 0 && pwf)
        user = pw.pw_name;
    if (gid == 0)
        group = "wheel";
    else if (getgrgid_r((gid_t)gid, &gr, gbuf, sizeof gbuf, &grf) == 0 && grf)
        group = gr.gr_name;
    snprintf(buf, len, "%s:%s", user, group);
}

uint32_t kx_plat_self_uid(void) { return (uint32_t)geteuid(); }

uint32_t kx_plat_self_gid(void) { return (uint32_t)getegid(); }

int kx_plat_user_in_group(uint32_t uid, uint32_t primary_gid, uint32_t gid)
{
    if (primary_gid == gid)
        return 1;
    struct passwd pw, *found = NULL;
    char buf[4096];
    if (getpwuid_r((uid_t)uid, &pw, buf, sizeof buf, &found) != 0 || !found)
        return 0;
    gid_t groups[256];
    int n = 256;
    if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
        return 0; /* more than 256 groups: not worth a second lookup */
    for (int i = 0; i < n; i++)
        if ((uint32_t)groups[i] == gid)
            return 1;
    return 0;
}
