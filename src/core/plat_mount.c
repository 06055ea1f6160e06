/* plat_mount.c — mount points for kx's FUSE mount: probing
 * /proc/self/mountinfo, lazy unmount, /etc/fuse.conf.
 *
 * A FUSE server that dies leaves its mount behind, and every access to it
 * then fails with ENOTCONN until someone unmounts it; that errno is the whole
 * test for "stale". mountinfo escapes blanks in paths as octal (\040), so
 * mount points are unescaped before they are compared.
 */
#include "plat_mount.h"

#include "plat.h"

#include <errno.h>
#include <libgen.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* mountinfo's octal escapes (\040 blank, \011 tab, \012 newline, \134 backslash), in place. */
static void unescape(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* dir's canonical path without touching dir itself (a stale mount point
 * fails every stat): the parent's realpath plus the last component. */
static char *canonical(const char *dir)
{
    char *a = strdup(dir), *b = strdup(dir), *out = NULL;
    if (a && b) {
        char *parent = realpath(dirname(a), NULL), *base = basename(b);
        if (parent) {
            out = strcmp(base, "/") == 0 ? strdup("/")
                  : strcmp(parent, "/") == 0 ? kx_plat_path_join("", base)
                                             : kx_plat_path_join(parent, base);
            free(parent);
        }
    }
    free(a);
    free(b);
    return out;
}

/* 1 when mountinfo lists a mount of fstype at path. */
static int listed(const char *path, const char *fstype)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    while (!found && getline(&line, &cap, f) > 0) {
        /* id parent major:minor root mount-point options [optional...] - fstype source super */
        char *save = NULL, *tok = strtok_r(line, " \n", &save), *point = NULL;
        for (int field = 0; tok && field < 4; field++)
            tok = strtok_r(NULL, " \n", &save);
        point = tok;
        while (tok && strcmp(tok, "-") != 0)
            tok = strtok_r(NULL, " \n", &save);
        char *type = tok ? strtok_r(NULL, " \n", &save) : NULL;
        if (point && type && strcmp(type, fstype) == 0) {
            unescape(point);
            found = strcmp(point, path) == 0;
        }
    }
    free(line);
    fclose(f);
    return found;
}

kx_status kx_plat_mount_probe(const char *dir, const char *fstype, enum kx_plat_mount_state *state)
{
    *state = KX_PLAT_MOUNT_NONE;
    char *path = canonical(dir);
    if (!path)
        return errno == ENOMEM ? STATUS_INSUFFICIENT_RESOURCES : kx_status_from_errno(errno);
    struct stat s;
    int rc = stat(path, &s), err = rc ? errno : 0;
    kx_status st = STATUS_SUCCESS;
    if (listed(path, fstype))
        *state = err == ENOTCONN ? KX_PLAT_MOUNT_STALE : KX_PLAT_MOUNT_LIVE;
    else if (err)
        st = kx_status_from_errno(err);
    else if (!S_ISDIR(s.st_mode))
        st = STATUS_NOT_A_DIRECTORY;
    free(path);
    return st;
}

kx_status kx_plat_mount_detach(const char *dir)
{
    if (geteuid() == 0)
        return umount2(dir, MNT_DETACH) == 0 ? STATUS_SUCCESS : kx_status_from_errno(errno);
    char *argv[] = {"fusermount3", "-u", "-z", (char *)dir, NULL};
    pid_t pid;
    int err = posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ);
    if (err)
        return kx_status_from_errno(err);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? STATUS_SUCCESS : STATUS_ACCESS_DENIED;
}

int kx_plat_fuse_allow_other(void)
{
    if (geteuid() == 0)
        return 1;
    FILE *f = fopen("/etc/fuse.conf", "re");
    if (!f)
        return 0;
    char line[256];
    int yes = 0;
    while (!yes && fgets(line, sizeof line, f)) {
        char *p = line + strspn(line, " \t");
        yes = strncmp(p, "user_allow_other", 16) == 0 && (!p[16] || strchr(" \t\r\n", p[16]));
    }
    fclose(f);
    return yes;
}
