/* harness.c — spawning and stopping kxd for integration tests. */
#include "harness.h"

#include "patience.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int kxd_start(struct kxd_proc *p)
{
    memset(p, 0, sizeof *p);
    return kxd_start_args(p, NULL);
}

int kxd_start_args(struct kxd_proc *p, const char *const *extra)
{
    const char *build = getenv("KX_BUILD_DIR");
    if (!build)
        return -1;
    if (!p->dir[0]) { /* a caller may have made the folder to put files in first */
        snprintf(p->dir, sizeof p->dir, "/tmp/kxd-test-XXXXXX");
        if (!mkdtemp(p->dir) || chmod(p->dir, 0755) != 0)
            return -1;
    }
    snprintf(p->socket, sizeof p->socket, "%s/kxd.sock", p->dir);
    snprintf(p->log, sizeof p->log, "%s/kxd.log", p->dir);
    /* A caller may boot a folder of its own; the shared build/extensions is
     * booted without a cache, so parallel tests never write one there. */
    int shared_folder = !p->ext[0];
    if (shared_folder)
        snprintf(p->ext, sizeof p->ext, "%s/extensions", build);
    snprintf(p->test_ext, sizeof p->test_ext, "%s/tests/test-extensions", build);
    char kxd[512];
    snprintf(kxd, sizeof kxd, "%s/kxd", build);

    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            close(fd);
        }
        /* The host's own devices never take part: a test names its platform.
         * As root the socket's group is nogroup (65534), so tests that become
         * nobody reach kxd and test what it decides per request (a later
         * --socket-group in extra wins); others can't give it that group. */
        const char *argv[32] = {"kxd",      "--foreground", "--no-auth",  "--extensions", p->ext,
                                "--socket", p->socket,      "--platform", "none"};
        size_t n = 9;
        if (geteuid() == 0) {
            argv[n++] = "--socket-group";
            argv[n++] = "65534";
        }
        if (shared_folder)
            argv[n++] = "--no-cache";
        /* CTest's *_socket entries run a test again over the other transport. */
        const char *transport = getenv("KX_TEST_HOST_TRANSPORT");
        if (transport && *transport) {
            argv[n++] = "--host-transport";
            argv[n++] = transport;
        }
        for (size_t i = 0; extra && extra[i] && n < 31; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        execv(kxd, (char *const *)argv);
        _exit(127);
    }
    for (uint64_t t0 = t_now_ms(); t_now_ms() - t0 < T_PATIENCE_MS;) {
        kx_client *c = NULL;
        if (kx_client_connect(p->socket, &c) == STATUS_SUCCESS) {
            /* kxd listens before it boots and answers once booted: one
             * round trip means the boot (and its log) is complete. */
            struct kx_client_object *objs = NULL;
            size_t n = 0;
            kx_status st = kx_client_ls(c, &objs, &n);
            kx_client_objects_free(objs, n);
            kx_client_disconnect(c);
            return st == STATUS_SUCCESS ? 0 : -1;
        }
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return -1;
        }
        t_sleep_ms(10);
    }
    return -1;
}

int kxd_stop(struct kxd_proc *p)
{
    int status = 0;
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
        ;
    p->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void kxd_cleanup(struct kxd_proc *p)
{
    if (p->pid > 0)
        kxd_stop(p);
    unlink(p->socket);
    unlink(p->log);
    rmdir(p->dir);
}

kx_client *kxd_connect(const struct kxd_proc *p)
{
    kx_client *c = NULL;
    if (kx_client_connect(p->socket, &c) != STATUS_SUCCESS)
        return NULL;
    return c;
}

char *kxd_read_log(const struct kxd_proc *p)
{
    FILE *f = fopen(p->log, "r");
    if (!f)
        return strdup("");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, out);
    fclose(f);
    fclose(out);
    return buf;
}

int kxd_setup_args(void **state, const char *const *extra)
{
    struct kxd_proc *p = calloc(1, sizeof *p);
    if (!p || kxd_start_args(p, extra) != 0) {
        if (p)
            kxd_cleanup(p);
        free(p);
        return -1;
    }
    *state = p;
    return 0;
}

int kxd_setup(void **state)
{
    if (kxd_setup_args(state, NULL) != 0)
        return -1;
    struct kxd_proc *p = *state;
    setenv("KX_SOCKET", p->socket, 1); /* for the kx tools a test runs */
    return 0;
}

int kxd_teardown(void **state)
{
    struct kxd_proc *p = *state;
    int rc = p->pid > 0 ? kxd_stop(p) : 0;
    kxd_cleanup(p);
    free(p);
    return rc == 0 ? 0 : -1;
}

int kxd_teardown_tree(void **state)
{
    struct kxd_proc *p = *state;
    int rc = p->pid > 0 ? kxd_stop(p) : 0;
    kxd_sh("rm -rf %s", p->dir);
    free(p);
    return rc == 0 ? 0 : -1;
}

unsigned kxd_tag_of(kx_client *c, const char *id)
{
    struct kx_client_kext *ks = NULL;
    size_t n = 0;
    unsigned tag = 0;
    if (kx_client_stat(c, &ks, &n) != STATUS_SUCCESS)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ks[i].id, id) == 0)
            tag = ks[i].tag;
    kx_client_kexts_free(ks, n);
    return tag;
}

int kxd_run(char **out, const char *fmt, ...)
{
    char cmd[4096], args[3800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "cd %s && %s", getenv("KX_BUILD_DIR"), args);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = popen(cmd, "r"), *mem = open_memstream(&buf, &len);
    if (!f || !mem) {
        if (f)
            pclose(f);
        if (mem)
            fclose(mem);
        free(buf);
        return -1;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, mem);
    fclose(mem);
    int status = pclose(f);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int kxd_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

int kxd_count_matches(const char *text, const char *pattern)
{
    regex_t re;
    regmatch_t m;
    int n = 0;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE) != 0)
        return -1;
    for (const char *s = text; regexec(&re, s, 1, &m, 0) == 0 && m.rm_eo > 0; s += m.rm_eo)
        n++;
    regfree(&re);
    return n;
}
