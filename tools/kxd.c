/* kxd.c — the kernel daemon: boots a kx kernel from extensions folders and
 * serves clients on an AF_UNIX socket (and, with --mount, its devices as
 * files) until SIGTERM or SIGINT, then unmounts, unloads every kext in
 * reverse load order and exits 0.
 *
 * As a service it behaves as one: detached, it logs to syslog (or
 * --log-file), claims --pidfile, and tells a service manager it is ready
 * (sd_notify READY=1) only once the socket listens and the boot kexts are
 * loaded, so units ordered after kxd.service find their drivers there.
 */
#include "server/devpolicy.h"
#include "core/plat.h"
#include "core/plat_daemon.h"
#include "core/plat_proc.h"
#include "core/plat_user.h"
#include "server/server.h"

#include <kx/client.h>
#include <kx/kernel.h>

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Without --foreground kxd detaches before it starts any thread (a fork
 * keeps only the calling thread). The parent waits on a pipe until the child
 * is serving or has failed, prints the child's message and exits with its
 * status, so `kxd` still reports "can't listen" on the terminal. */
static int detach(int *ready_fd)
{
    int fds[2];
    if (pipe(fds) != 0) {
        perror("kxd: pipe");
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("kxd: fork");
        return -1;
    }
    if (pid > 0) {
        char buf[512];
        close(fds[1]);
        ssize_t n = read(fds[0], buf, sizeof buf - 1);
        if (n <= 0) {
            fprintf(stderr, "kxd: the daemon exited during start-up\n");
            exit(1);
        }
        buf[n] = '\0';
        fputs(buf + 1, buf[0] ? stderr : stdout);
        exit((unsigned char)buf[0]);
    }
    close(fds[0]);
    setsid();
    *ready_fd = fds[1];
    return 0;
}

/* Tells the waiting parent how start-up went: the exit status it should
 * exit with (0: serving), then the text to print. */
static void report_start(int *ready_fd, int status, const char *text)
{
    if (*ready_fd < 0) {
        if (status)
            fputs(text, stderr);
        return;
    }
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%c%s", (char)status, text);
    ssize_t w = write(*ready_fd, buf, n > 0 && (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    (void)w;
    close(*ready_fd);
    *ready_fd = -1;
    if (!status) { /* detached for good: no terminal from here on */
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            close(null);
        }
    }
}

/* A positive decimal number; with_suffix also takes K, M or G (binary). */
static int parse_amount(const char *text, int with_suffix, uint64_t *out)
{
    char *end;
    if (*text < '0' || *text > '9')
        return -1;
    unsigned long long v = strtoull(text, &end, 10);
    unsigned shift = 0;
    if (with_suffix && *end && !end[1]) {
        const char *units = "KMG", *u = strchr(units, *end);
        if (!u)
            return -1;
        shift = 10u * (unsigned)(u - units + 1);
        end++;
    }
    if (*end || v == 0 || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* A number from 0 to max (microseconds: 0 means never poll). */
static int parse_micros(const char *text, uint32_t max, uint32_t *out)
{
    char *end;
    if (*text < '0' || *text > '9')
        return -1;
    unsigned long long v = strtoull(text, &end, 10);
    if (*end || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* kx-host sits beside kxd (malloc'ed path; NULL when it doesn't). */
static char *host_program_path(void)
{
    char *self = kx_plat_self_exe();
    char *slash = self ? strrchr(self, '/') : NULL;
    char *path = NULL;
    if (slash) {
        *slash = 0;
        path = kx_plat_path_join(self, "kx-host");
    }
    free(self);
    struct kx_plat_stat st;
    if (path && (kx_plat_stat(path, &st) != STATUS_SUCCESS || !st.is_reg || !(st.mode & 0111))) {
        free(path);
        path = NULL;
    }
    return path;
}

/* Mistakes in the setup found before kxd detaches, so they reach the
 * terminal and the exit status (sysexits, as Apple's tools): a missing
 * extensions folder (EX_NOINPUT) or socket group (EX_NOUSER). Root's
 * default socket group is kx when the system has one (another user can't
 * give its socket a group it isn't in). 0 when all is well. */
static int check_setup(const char *const *dirs, size_t n_dirs, const char **socket_group)
{
    for (size_t i = 0; i < n_dirs; i++) {
        struct kx_plat_stat sb;
        kx_status st = kx_plat_stat(dirs[i], &sb);
        if (st != STATUS_SUCCESS || !sb.is_dir) {
            fprintf(stderr, "kxd: --extensions %s: %s\n", dirs[i],
                    st != STATUS_SUCCESS ? kx_status_string(st) : "not a folder");
            return EX_NOINPUT;
        }
    }
    uint32_t gid;
    if (!*socket_group && kx_plat_self_uid() == 0)
        *socket_group = kx_plat_group_id("kx", &gid) == STATUS_SUCCESS ? "kx" : NULL;
    else if (*socket_group && kx_plat_group_id(*socket_group, &gid) != STATUS_SUCCESS) {
        fprintf(stderr, "kxd: --socket-group: no such group '%s'\n", *socket_group);
        return EX_NOUSER;
    }
    return 0;
}

/* Claims the pid file for the running (maybe detached) kxd; a live kxd's
 * file refuses the start, naming its pid. 0 or an exit status. */
static int claim_pidfile(const char *path, int *fd, int *ready_fd)
{
    pid_t holder = 0;
    kx_status st = kx_plat_pidfile_claim(path, fd, &holder);
    if (st == STATUS_SUCCESS)
        return 0;
    char msg[512];
    if (st == STATUS_DEVICE_BUSY)
        snprintf(msg, sizeof msg, "kxd: --pidfile %s: kxd is already running as pid %ld\n", path,
                 (long)holder);
    else
        snprintf(msg, sizeof msg, "kxd: --pidfile %s: %s\n", path, kx_status_string(st));
    int rc = st == STATUS_DEVICE_BUSY ? EX_TEMPFAIL : EX_CANTCREAT;
    report_start(ready_fd, rc, msg);
    return rc;
}

static const char usage_text[] =
    "usage: kxd [--foreground] [--extensions DIR]... [--socket PATH] [--no-auth]\n"
    "           [--boot local|network|single-user|safe] [--cache FILE] [--no-cache]\n"
    "           [--device-policy FILE] [--verbose] [--check] [--max-client-bytes N]\n"
    "           [--max-total-bytes N] [--max-connections N] [--max-connections-per-user N]\n"
    "           [--log-group GROUP] [--log-public] [--platform P] [--version]\n"
    "           [--idle-unload SECONDS] [--host-mode inproc|process] [--hang-ms MS]\n"
    "           [--mount DIR]\n"
    "           [--socket-group GROUP] [--pidfile PATH] [--log-file PATH]\n"
    "           [--host-user USER] [--allow-host-root] [--host-sandbox seccomp|none]\n"
    "           [--host-transport ring|socket] [--allow-hardware-write]\n"
    "           [--host-poll-us US] [--ring-poll-us US] [--ring-inline on|off]\n"
    "  --extensions DIR  load every kext in DIR that has an executable (repeatable)\n"
    "  --socket PATH     listen here (default: $KX_SOCKET, else " KX_DEFAULT_SOCKET ")\n"
    "  --socket-group GROUP  the socket is mode 0660: root and GROUP's members connect\n"
    "                    (default: the group kx if it exists, else kxd's own group);\n"
    "                    what each request may do is still decided per request\n"
    "  --pidfile PATH    write kxd's pid here (refused while another kxd holds it)\n"
    "  --log-file PATH   append the log here instead of syslog (or stderr)\n"
    "  --boot MODE       phase 1 loads what MODE needs (OSBundleRequired); phase 2 the rest\n"
    "                    (single-user: phase 1 only; safe: no cache, OSBundleRequired kexts "
    "only)\n"
    "  --cache FILE      the kext cache (default: <first folder>.mkext); rebuilt when stale\n"
    "  --no-cache        always scan the extensions folders\n"
    "  --foreground      stay attached to the terminal and log to stderr (as under\n"
    "                    systemd: contrib/kxd.service); otherwise detach and log to syslog\n"
    "  --no-auth         skip ownership/permission checks (development trees)\n"
    "  --device-policy FILE  owner, group and mode of devices, above what drivers set\n"
    "                    (lines: PATTERN OWNER GROUP MODE, e.g. /dev/ram* root disk 0660)\n"
    "  --verbose         log debug lines too\n"
    "  --check           validate the configuration, print what would load, exit\n"
    "  --version, -V     print the version (kx's own: kxd (kx) VERSION) and exit\n"
    "  --max-client-bytes N   bytes one connection's requests and unsent replies may hold\n"
    "                    before kxd stops reading it (default 16M; K, M, G suffixes)\n"
    "  --max-total-bytes N    the same for all connections together (default 256M)\n"
    "  --max-connections N    connections at once (default 1024)\n"
    "  --max-connections-per-user N  per user other than root (default 64)\n"
    "  --log-group GROUP the kernel log (kx log) is for root, kxd's own user and this\n"
    "                    group's members (drivers may log what others must not see)\n"
    "  --log-public      anyone who can connect reads the kernel log\n"
    "  --platform P      the machine matched against: linux (the default: the host's PCI,\n"
    "                    USB and ACPI devices, and udev's hot-plug), none (only IOResources)\n"
    "                    or a described platform (an ioreg -a file)\n"
    "  --idle-unload S   unload kexts loaded by matching once they drive no nub for S seconds\n"
    "  --host-mode M     where drivers run: process (the default: each in a kx-host process\n"
    "                    of its own, beside kxd; a kext whose Info.plist says\n"
    "                    KXHostProcess = false stays in kxd) or inproc (in kxd's threads)\n"
    "  --host-user USER  when kxd is root, kx-host processes run as USER (default: nobody,\n"
    "                    if the system has it); a kext's Info.plist may ask to keep root\n"
    "                    (KXHostKeepRoot = true) only with --allow-host-root\n"
    "  --allow-host-root let kexts whose Info.plist says KXHostKeepRoot = true keep root\n"
    "  --allow-hardware-write  when kxd is root, let kexts whose Info.plist says\n"
    "                    KXAllowHardwareWrite = true write PCI configuration space and map\n"
    "                    BARs writable (default: real hardware is read-only)\n"
    "  --host-sandbox S  seccomp (the default: a filter per host, tightest for UMD drivers)\n"
    "                    or none (for debugging)\n"
    "  --host-transport T  how kxd and kx-host processes talk: ring (the default: shared-\n"
    "                    memory rings, the socket kept to see the host die) or socket\n"
    "  --host-poll-us US a caller waiting for a kx-host's answer, and an idle host, poll the\n"
    "                    rings this long before sleeping (default 20; 0: never)\n"
    "  --ring-poll-us US a thread serving clients' rings polls them this long after its\n"
    "                    last request (default 50, at most 10000; 0: never; never on one CPU)\n"
    "  --ring-inline on|off  whether those threads run an idle in-kxd driver's routines\n"
    "                    themselves (default on) or hand every request to its thread\n"
    "  --hang-ms MS      a driver routine running longer is hung (default 5000): reported,\n"
    "                    and a kx-host process is killed (its requests answered\n"
    "                    STATUS_DRIVER_NOT_RESPONDING) and restarted by its kext's policy\n"
    "  --mount DIR       serve the /dev links as files in DIR (FUSE): DIR/null, DIR/ram0, "
    "...;\n"
    "                    a stale mount of a crashed kxd there is replaced (docs/fuse.md)\n";

struct kxd_opts {
    const char **dirs;
    size_t n_dirs;
    const char *socket_path, *policy_path, *cache_path;
    enum kx_boot_mode mode;
    unsigned boot_flags;
    int no_auth, check;
    struct kx_srv_limits limits;
    int log_public, has_log_group;
    uint32_t log_gid;
    const char *platform;
    uint32_t idle_unload_s;
    uint32_t hang_ms;         /* --hang-ms; 0: the I/O manager's default */
    const char *host_program; /* --host-mode process: kx-host beside kxd */
    const char *host_user;    /* hosts drop to it (NULL: kxd's own user) */
    uint32_t host_flags;      /* KX_IO_HOST_* */
    uint32_t host_poll_us;    /* --host-poll-us (0 with KX_IO_HOST_NO_POLL) */
    struct kx_srv_ring_opts rings;
    const char *mount_dir;
    int has_socket_gid;
    uint32_t socket_gid;
    int allow_hardware_write; /* --allow-hardware-write */
};

/* Everything after the options: the kernel, the device policy, the server,
 * boot, serving, shutdown. Returns kxd's exit status. */
static int boot_and_serve(const struct kxd_opts *o, const struct kx_logger *log, int *ready_fd)
{
    char msg[512];
    struct kx_io_config io_cfg = {.size = sizeof io_cfg,
                                  .hang_ms = o->hang_ms,
                                  .host_program = o->host_program,
                                  .host_user = o->host_user,
                                  .host_flags = o->host_flags,
                                  .host_poll_us = o->host_poll_us};
    struct kx_kernel_config kcfg = {
        sizeof kcfg, log,     o->dirs,       o->n_dirs,     o->no_auth,
        &io_cfg,     o->mode, o->cache_path, o->boot_flags, o->idle_unload_s};
    struct kx_kernel *k = NULL;
    kx_status st = kx_kernel_new(&kcfg, &k);
    if (st != STATUS_SUCCESS) {
        snprintf(msg, sizeof msg, "kxd: can't create the kernel: %s\n", kx_status_string(st));
        report_start(ready_fd, 1, msg);
        return 1;
    }
    kx_kernel_set_hardware_write(k, o->allow_hardware_write);

    if (o->policy_path) {
        struct kx_io_device_rule *rules = NULL;
        size_t n_rules = 0;
        char *why = NULL;
        st = kx_srv_device_policy_read(o->policy_path, &rules, &n_rules, &why);
        if (st == STATUS_SUCCESS)
            st = kx_io_set_device_policy(kx_kernel_io(k), rules, n_rules);
        free(rules);
        if (st != STATUS_SUCCESS) {
            snprintf(msg, sizeof msg, "kxd: device policy: %s\n", why ? why : kx_status_string(st));
            free(why);
            report_start(ready_fd, 1, msg);
            kx_kernel_free(k);
            return 1;
        }
    }

    char *report = NULL;
    if (o->check) {
        /* Resolve and link-check every kext boot would load; run nothing. */
        st = kx_kernel_boot(k, KX_KERNEL_LOAD_DRY_RUN, &report);
        if (report && *report)
            fputs(report, stdout);
        printf("kxd: configuration %s\n", st == STATUS_SUCCESS ? "OK" : "has problems");
        free(report);
        kx_kernel_free(k);
        return st == STATUS_SUCCESS ? 0 : 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct kx_srv_config scfg = {o->socket_path,
                                 0660,
                                 k,
                                 log,
                                 0,
                                 o->limits,
                                 o->log_public,
                                 o->has_log_group,
                                 o->log_gid,
                                 o->has_socket_gid,
                                 o->socket_gid,
                                 o->rings};
    struct kx_srv *srv = NULL;
    st = kx_srv_new(&scfg, &srv);
    if (st != STATUS_SUCCESS) {
        snprintf(msg, sizeof msg, "kxd: can't listen on %s: %s%s\n", o->socket_path,
                 kx_status_string(st),
                 st == STATUS_DEVICE_BUSY ? " (another kxd is running there)" : "");
        report_start(ready_fd, 1, msg);
        kx_kernel_free(k);
        return 1;
    }

    /* The mount comes before boot: files appear as drivers create links. */
    if (o->mount_dir) {
        char why[512] = "";
        st = kx_srv_mount(srv, o->mount_dir, why, sizeof why);
        if (st != STATUS_SUCCESS) {
            snprintf(msg, sizeof msg, "kxd: --mount %s\n", *why ? why : kx_status_string(st));
            report_start(ready_fd, 1, msg);
            kx_srv_free(srv);
            kx_kernel_free(k);
            return 1;
        }
    }

    /* Phase 1, the booter; then, once "root is mounted", phase 2, the daemon.
     * A kext that fails to load is reported; the others still load. The kernel
     * has logged each failure as one warning with its reason (and each kext
     * the plan left out); the loader's whole report, diagnostics by category,
     * would say it again, so it is for --verbose. */
    kx_kernel_boot_phase(k, 1, 0, &report);
    if (report && *report)
        kx_log_debug(log, "%s", report);
    free(report);
    report = NULL;
    /* The machine, once phase 1's drivers are there; phase 2 matches it. */
    char why[512] = "";
    st = kx_kernel_publish_platform(k, o->platform, why, sizeof why);
    if (st != STATUS_SUCCESS) {
        snprintf(msg, sizeof msg, "kxd: --platform %s: %s\n", o->platform,
                 *why ? why : kx_status_string(st));
        report_start(ready_fd, 1, msg);
        kx_srv_free(srv);
        kx_kernel_free(k);
        return 1;
    }
    if (o->mode != KX_BOOT_SINGLE_USER) {
        kx_kernel_boot_phase(k, 2, 0, &report);
        if (report && *report)
            kx_log_debug(log, "%s", report);
        free(report);
        report = NULL;
        int rebuilt = 0;
        st = kx_kernel_update_cache(k, &rebuilt, &report);
        if (st != STATUS_SUCCESS)
            kx_log_warnx(log, "kext cache not rebuilt: %s", report ? report : kx_status_string(st));
        else if (rebuilt)
            kx_log_info(log, "kext cache rebuilt: %s", report ? report : "");
        free(report);
    }
    snprintf(msg, sizeof msg, "kxd: serving on %s\n", o->socket_path);
    report_start(ready_fd, 0, msg);
    kx_log_info(log, "serving on %s", o->socket_path);
    kx_plat_notify("READY=1");

    st = kx_srv_run(srv, &stop_requested);
    kx_plat_notify("STOPPING=1");
    kx_log_info(log, "shutting down: unloading every kext in reverse load order");
    kx_srv_free(srv);
    kx_kernel_free(k);
    return st == STATUS_SUCCESS ? 0 : 1;
}

int main(int argc, char **argv)
{
    enum {
        OPT_FG = 1000,
        OPT_EXT,
        OPT_SOCKET,
        OPT_NO_AUTH,
        OPT_VERBOSE,
        OPT_CHECK,
        OPT_POLICY,
        OPT_BOOT,
        OPT_CACHE,
        OPT_NO_CACHE,
        OPT_HELP,
        OPT_CONN_BYTES,
        OPT_TOTAL_BYTES,
        OPT_MAX_CONNS,
        OPT_MAX_USER_CONNS,
        OPT_LOG_GROUP,
        OPT_LOG_PUBLIC,
        OPT_PLATFORM,
        OPT_IDLE_UNLOAD,
        OPT_HANG_MS,
        OPT_HOST_MODE,
        OPT_MOUNT,
        OPT_SOCKET_GROUP,
        OPT_PIDFILE,
        OPT_LOG_FILE,
        OPT_HOST_USER,
        OPT_ALLOW_HOST_ROOT,
        OPT_ALLOW_HARDWARE_WRITE,
        OPT_HOST_SANDBOX,
        OPT_HOST_TRANSPORT,
        OPT_HOST_POLL_US,
        OPT_RING_POLL_US,
        OPT_RING_INLINE
    };
    static const struct option opts[] = {
        {"foreground", no_argument, NULL, OPT_FG},
        {"extensions", required_argument, NULL, OPT_EXT},
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"no-auth", no_argument, NULL, OPT_NO_AUTH},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"check", no_argument, NULL, OPT_CHECK},
        {"device-policy", required_argument, NULL, OPT_POLICY},
        {"boot", required_argument, NULL, OPT_BOOT},
        {"cache", required_argument, NULL, OPT_CACHE},
        {"no-cache", no_argument, NULL, OPT_NO_CACHE},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, 'V'},
        {"max-client-bytes", required_argument, NULL, OPT_CONN_BYTES},
        {"max-total-bytes", required_argument, NULL, OPT_TOTAL_BYTES},
        {"max-connections", required_argument, NULL, OPT_MAX_CONNS},
        {"max-connections-per-user", required_argument, NULL, OPT_MAX_USER_CONNS},
        {"log-group", required_argument, NULL, OPT_LOG_GROUP},
        {"log-public", no_argument, NULL, OPT_LOG_PUBLIC},
        {"platform", required_argument, NULL, OPT_PLATFORM},
        {"idle-unload", required_argument, NULL, OPT_IDLE_UNLOAD},
        {"hang-ms", required_argument, NULL, OPT_HANG_MS},
        {"host-mode", required_argument, NULL, OPT_HOST_MODE},
        {"mount", required_argument, NULL, OPT_MOUNT},
        {"socket-group", required_argument, NULL, OPT_SOCKET_GROUP},
        {"pidfile", required_argument, NULL, OPT_PIDFILE},
        {"log-file", required_argument, NULL, OPT_LOG_FILE},
        {"host-user", required_argument, NULL, OPT_HOST_USER},
        {"allow-host-root", no_argument, NULL, OPT_ALLOW_HOST_ROOT},
        {"allow-hardware-write", no_argument, NULL, OPT_ALLOW_HARDWARE_WRITE},
        {"host-sandbox", required_argument, NULL, OPT_HOST_SANDBOX},
        {"host-transport", required_argument, NULL, OPT_HOST_TRANSPORT},
        {"host-poll-us", required_argument, NULL, OPT_HOST_POLL_US},
        {"ring-poll-us", required_argument, NULL, OPT_RING_POLL_US},
        {"ring-inline", required_argument, NULL, OPT_RING_INLINE},
        {NULL, 0, NULL, 0}};
    const char **dirs = calloc((size_t)argc, sizeof *dirs);
    size_t n_dirs = 0;
    const char *socket_path = getenv("KX_SOCKET"), *policy_path = NULL, *cache_path = NULL;
    enum kx_boot_mode mode = KX_BOOT_LOCAL;
    unsigned boot_flags = 0;
    struct kx_srv_limits limits = {0};
    int log_public = 0, has_log_group = 0;
    uint32_t log_gid = 0, idle_unload_s = 0, hang_ms = 0;
    const char *platform = "linux", *mount_dir = NULL;
    const char *socket_group = NULL, *pidfile = NULL, *log_file = NULL;
    char *host_program = NULL;
    int host_mode_given = 0;
    const char *host_user = NULL;
    uint32_t host_flags = 0, host_ids[2], host_poll_us = 0;
    struct kx_srv_ring_opts rings = {0};
    int allow_hardware_write = 0;
    uint64_t n;
    int foreground = 0, no_auth = 0, verbose = 0, check = 0, c;
    while ((c = getopt_long(argc, argv, "fhV", opts, NULL)) != -1) {
        switch (c) {
        case 'V':
            printf("kxd (kx) %s\n", KX_VERSION_STRING);
            free(dirs);
            return 0;
        case 'f':
        case OPT_FG: foreground = 1; break;
        case OPT_EXT: dirs[n_dirs++] = optarg; break;
        case OPT_SOCKET: socket_path = optarg; break;
        case OPT_NO_AUTH: no_auth = 1; break;
        case OPT_VERBOSE: verbose = 1; break;
        case OPT_CHECK: check = 1; break;
        case OPT_POLICY: policy_path = optarg; break;
        case OPT_CACHE: cache_path = optarg; break;
        case OPT_NO_CACHE: boot_flags |= KX_BOOT_NO_CACHE; break;
        case OPT_LOG_PUBLIC: log_public = 1; break;
        case OPT_PLATFORM: platform = optarg; break;
        case OPT_HOST_MODE:
            free(host_program);
            host_program = NULL;
            host_mode_given = 1;
            if (strcmp(optarg, "inproc") == 0)
                break;
            if (strcmp(optarg, "process") != 0 || !(host_program = host_program_path())) {
                fprintf(stderr, "kxd: --host-mode: %s\n",
                        strcmp(optarg, "process") != 0 ? "inproc or process"
                                                       : "can't find kx-host beside kxd");
                free(dirs);
                return 2;
            }
            break;
        case OPT_MOUNT: mount_dir = optarg; break;
        case OPT_SOCKET_GROUP: socket_group = optarg; break;
        case OPT_PIDFILE: pidfile = optarg; break;
        case OPT_LOG_FILE: log_file = optarg; break;
        case OPT_HOST_USER: host_user = optarg; break;
        case OPT_ALLOW_HOST_ROOT: host_flags |= KX_IO_HOST_ALLOW_ROOT; break;
        case OPT_ALLOW_HARDWARE_WRITE: allow_hardware_write = 1; break;
        case OPT_HOST_TRANSPORT:
            if (strcmp(optarg, "socket") == 0)
                host_flags |= KX_IO_HOST_SOCKET;
            else if (strcmp(optarg, "ring") == 0)
                host_flags &= ~KX_IO_HOST_SOCKET;
            else {
                fprintf(stderr, "kxd: --host-transport: ring or socket\n");
                free(dirs);
                return 2;
            }
            break;
        case OPT_HOST_POLL_US:
        case OPT_RING_POLL_US: {
            uint32_t max = c == OPT_HOST_POLL_US ? KX_IO_HOST_POLL_MAX_US : KX_SRV_RING_POLL_MAX_US;
            uint32_t us;
            if (parse_micros(optarg, max, &us) != 0) {
                fprintf(stderr, "kxd: --%s: not a number of microseconds up to %u: '%s'\n",
                        c == OPT_HOST_POLL_US ? "host-poll-us" : "ring-poll-us", (unsigned)max,
                        optarg);
                free(dirs);
                return 2;
            }
            if (c == OPT_HOST_POLL_US) {
                host_poll_us = us;
                host_flags = us ? host_flags & ~KX_IO_HOST_NO_POLL : host_flags | KX_IO_HOST_NO_POLL;
            } else {
                rings.poll_us = us;
                rings.no_poll = us == 0;
            }
            break;
        }
        case OPT_RING_INLINE:
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0) {
                fprintf(stderr, "kxd: --ring-inline: on or off\n");
                free(dirs);
                return 2;
            }
            rings.no_inline = strcmp(optarg, "off") == 0;
            break;
        case OPT_HOST_SANDBOX:
            if (strcmp(optarg, "none") == 0)
                host_flags |= KX_IO_HOST_NO_SANDBOX;
            else if (strcmp(optarg, "seccomp") == 0)
                host_flags &= ~KX_IO_HOST_NO_SANDBOX;
            else {
                fprintf(stderr, "kxd: --host-sandbox: seccomp or none\n");
                free(dirs);
                return 2;
            }
            break;
        case OPT_IDLE_UNLOAD:
            if (parse_amount(optarg, 0, &n) != 0 || n > UINT32_MAX) {
                fprintf(stderr, "kxd: --idle-unload: not a positive number of seconds: '%s'\n",
                        optarg);
                free(dirs);
                return 2;
            }
            idle_unload_s = (uint32_t)n;
            break;
        case OPT_HANG_MS:
            if (parse_amount(optarg, 0, &n) != 0 || !n || n > UINT32_MAX) {
                fprintf(stderr, "kxd: --hang-ms: not a positive number of milliseconds: '%s'\n",
                        optarg);
                free(dirs);
                return 2;
            }
            hang_ms = (uint32_t)n;
            break;
        case OPT_LOG_GROUP:
            if (kx_plat_group_id(optarg, &log_gid) != STATUS_SUCCESS) {
                fprintf(stderr, "kxd: --log-group: no such group '%s'\n", optarg);
                free(dirs);
                return 2;
            }
            has_log_group = 1;
            break;
        case OPT_CONN_BYTES:
        case OPT_TOTAL_BYTES:
        case OPT_MAX_CONNS:
        case OPT_MAX_USER_CONNS:
            if (parse_amount(optarg, c == OPT_CONN_BYTES || c == OPT_TOTAL_BYTES, &n) != 0 ||
                (c != OPT_CONN_BYTES && c != OPT_TOTAL_BYTES && n > UINT32_MAX)) {
                fprintf(stderr, "kxd: %s: not a positive amount: '%s'\n", argv[optind - 1], optarg);
                free(dirs);
                return 2;
            }
            if (c == OPT_CONN_BYTES)
                limits.conn_bytes = n;
            else if (c == OPT_TOTAL_BYTES)
                limits.total_bytes = n;
            else if (c == OPT_MAX_CONNS)
                limits.max_conns = (uint32_t)n;
            else
                limits.max_conns_per_user = (uint32_t)n;
            break;
        case 'h':
        case OPT_HELP:
            printf("%s", usage_text);
            free(dirs);
            return 0;
        case OPT_BOOT:
            if (kx_boot_mode_parse(optarg, &mode) == STATUS_SUCCESS)
                break;
            fprintf(stderr, "kxd: unknown boot mode '%s'\n", optarg);
            /* fall through: a usage error */
        default:
            fprintf(stderr, "%s", usage_text);
            free(dirs);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "%s", usage_text);
        free(dirs);
        return 2;
    }
    /* Only root can give its hosts another user; root's default is nobody. */
    if (host_user && kx_plat_user_ids(host_user, &host_ids[0], &host_ids[1]) != STATUS_SUCCESS) {
        fprintf(stderr, "kxd: --host-user: no such user '%s'\n", host_user);
        free(dirs);
        return EX_NOUSER;
    }
    if (kx_plat_self_uid() != 0) {
        if (host_user)
            fprintf(stderr,
                    "kxd: warning: --host-user %s: kxd is not root, so its hosts run "
                    "as its own user\n",
                    host_user);
        host_user = NULL;
    } else if (!host_user &&
               kx_plat_user_ids("nobody", &host_ids[0], &host_ids[1]) == STATUS_SUCCESS) {
        host_user = "nobody";
    }
    int rc = check_setup(dirs, n_dirs, &socket_group);
    if (rc != 0) {
        free(dirs);
        return rc;
    }
    uint32_t socket_gid = 0;
    int has_socket_gid =
        socket_group && kx_plat_group_id(socket_group, &socket_gid) == STATUS_SUCCESS;
    if (!socket_path || !*socket_path) {
        socket_path = KX_DEFAULT_SOCKET;
        mkdir("/run/kx", 0755); /* the default lives in a folder of its own */
    }
    int log_fd = -1;
    if (log_file && kx_plat_log_file_open(log_file, &log_fd) != STATUS_SUCCESS) {
        fprintf(stderr, "kxd: --log-file %s: can't open it for appending\n", log_file);
        free(dirs);
        return EX_CANTCREAT;
    }
    if (!check && !foreground && log_fd < 0 && !kx_plat_syslog_available())
        fprintf(stderr, "kxd: warning: no syslog listens on /dev/log, so the log is lost; "
                        "use --log-file PATH or --foreground\n");

    int ready_fd = -1, pid_fd = -1;
    if (!check && !foreground && detach(&ready_fd) != 0) {
        free(dirs);
        return 1;
    }
    if (!check && pidfile && (rc = claim_pidfile(pidfile, &pid_fd, &ready_fd)) != 0) {
        free(dirs);
        return rc;
    }
    struct kx_logger sink = {kx_log_to_stderr, "kxd", verbose ? KX_LOG_DEBUG : KX_LOG_INFO};
    if (log_fd >= 0) {
        sink.fn = kx_plat_log_to_fd;
        sink.arg = &log_fd;
    } else if (ready_fd >= 0) {
        kx_plat_syslog_open("kxd");
        sink.fn = kx_plat_log_to_syslog;
    }
    /* A failure that repeats in a loop (an accept at the descriptor limit)
     * costs a line every ten seconds, not one per turn. */
    struct kx_log_fold *fold = kx_log_fold_new(&sink, 10000);
    struct kx_logger log = fold ? (struct kx_logger){kx_log_fold_fn, fold, sink.max_level} : sink;
    /* Drivers run in kx-host processes unless told otherwise; a kxd without
     * kx-host beside it (a partial install) runs them itself and says so. */
    if (!host_mode_given && !(host_program = host_program_path()))
        fprintf(stderr, "kxd: warning: no kx-host beside kxd: drivers run inside kxd, where a "
                        "driver that crashes takes kxd down\n");
    struct kxd_opts o = {dirs,           n_dirs,        socket_path, policy_path, cache_path,
                         mode,           boot_flags,    no_auth,     check,       limits,
                         log_public,     has_log_group, log_gid,     platform,    idle_unload_s,
                         hang_ms,        host_program,  host_user,   host_flags,  host_poll_us,
                         rings,          mount_dir,     has_socket_gid, socket_gid,
                         allow_hardware_write};
    rc = boot_and_serve(&o, &log, &ready_fd);
    free(host_program);
    kx_log_fold_free(fold);
    kx_plat_pidfile_release(pidfile, pid_fd);
    if (log_fd >= 0)
        kx_plat_close(log_fd);
    free(dirs);
    return rc;
}
