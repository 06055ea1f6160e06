/* cli.c — helpers shared by the kx verbs. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int kx_cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

kx_client *kx_cli_connect(const char *prog, const char *socket_path)
{
    kx_client *c = NULL;
    kx_status st = kx_client_connect(socket_path, &c);
    if (st != STATUS_SUCCESS) {
        const char *path = socket_path ? socket_path : getenv("KX_SOCKET");
        fprintf(stderr, "%s: can't reach kxd at %s: %s (%s)%s\n", prog,
                path && *path ? path : KX_DEFAULT_SOCKET, kx_status_name(st),
                kx_status_string(st),
                st == STATUS_ACCESS_DENIED
                    ? "; its socket admits root and the members of its group (kxd --socket-group)"
                    : "");
        return NULL;
    }
    return c;
}

void kx_cli_report(const char *prog, const char *subject, kx_status st, kx_client *c)
{
    const char *msg = c ? kx_client_message(c) : "";
    if (strcmp(msg, kx_status_string(st)) == 0)
        msg = ""; /* kxd's message only repeats the status */
    fprintf(stderr, "%s: %s: %s (%s)%s%s\n", prog, subject, kx_status_name(st),
            kx_status_string(st), *msg ? "\n" : "", msg);
}

char *kx_cli_kext_arg(const char *arg)
{
    size_t n = strlen(arg);
    int is_path = strchr(arg, '/') || (n >= 5 && strcmp(arg + n - 5, ".kext") == 0);
    if (!is_path || arg[0] == '/')
        return strdup(arg);
    char *cwd = getcwd(NULL, 0);
    char *abs = cwd ? malloc(strlen(cwd) + 1 + n + 1) : NULL;
    if (abs)
        sprintf(abs, "%s/%s", cwd, arg);
    free(cwd);
    return abs;
}
