/* fuzz_proto.c — libFuzzer target for kxd's side of the socket protocol:
 * framing, header checks, every request's payload decoding, the pending
 * table, back-pressure and hang-up, as kxd runs them.
 *
 * One server and kernel serve every input (starting them is the slow part).
 * The kernel has no kexts; two drivers are started in-process: a null device
 * (/dev/null, everything succeeds) and a pipe-like one (/dev/wait, reads and
 * controls pend until cancelled), so opens, I/O, cancellation and close run
 * for real. Each input is one client: the bytes go in through one end of a
 * socket pair that the server adopts, then the loop turns until kxd closes
 * the connection or nothing moves; then the client hangs up. The client is
 * never root, so kxd refuses any path it would read (LOAD by path) before
 * touching a file.
 */
#include "server/server.h"

#include <kx/kernel.h>
#include <kx/kmdf.h>

#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static kx_status complete_ok(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    size_t n = irp->MajorFunction == IRP_MJ_READ ? irp->Parameters.Read.Length
               : irp->MajorFunction == IRP_MJ_WRITE ? irp->Parameters.Write.Length
                                                     : 0;
    if (irp->MajorFunction == IRP_MJ_READ && n)
        memset(irp->SystemBuffer, 0, n);
    return DkCompleteRequest(irp, STATUS_SUCCESS, n);
}

static void cancel_wait(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    DkCompleteRequest(irp, STATUS_CANCELLED, 0);
}

static kx_status pend(PDEVICE_OBJECT dev, PIRP irp)
{
    (void)dev;
    DkSetCancelRoutine(irp, cancel_wait);
    DkMarkIrpPending(irp);
    return STATUS_PENDING;
}

static kx_status make_device(PDRIVER_OBJECT d, const char *name, const char *link)
{
    PDEVICE_OBJECT dev;
    kx_status st = DkCreateDevice(d, name, 0, &dev);
    if (st == STATUS_SUCCESS) {
        DkSetDeviceSecurity(dev, 0, 0, 0666);
        st = DkCreateSymbolicLink(link, name);
    }
    return st;
}

static kx_status null_entry(PDRIVER_OBJECT d)
{
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        d->MajorFunction[i] = complete_ok;
    return make_device(d, "\\Device\\Null0", "/dev/null");
}

static kx_status wait_entry(PDRIVER_OBJECT d)
{
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        d->MajorFunction[i] = complete_ok;
    d->MajorFunction[IRP_MJ_READ] = pend;
    d->MajorFunction[IRP_MJ_DEVICE_CONTROL] = pend;
    return make_device(d, "\\Device\\Wait0", "/dev/wait");
}

static struct kx_kernel *kernel;
static struct kx_srv *srv;

static void start_driver(const char *name, kx_io_entry_fn entry)
{
    struct kx_driver_info info = {KX_DRIVER_INFO_MAGIC, KX_DRIVER_INFO_ABI,
                                  sizeof(struct kx_driver_info), DRIVER_TYPE_KMD, 500, 0, "", ""};
    snprintf(info.name, sizeof info.name, "%s", name);
    snprintf(info.version, sizeof info.version, "1.0.0");
    struct kx_io_driver_params p = {sizeof p, &info, entry, NULL, 0, NULL, NULL, 0, 0};
    kx_io_driver_id id;
    if (kx_io_driver_start(kx_kernel_io(kernel), &p, &id) != STATUS_SUCCESS)
        abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static char dir[] = "/tmp/kx-fuzz-proto-XXXXXX";
    static char sock[64];
    if (!mkdtemp(dir))
        abort();
    snprintf(sock, sizeof sock, "%s/kxd.sock", dir);
    struct kx_io_config io = {sizeof io, NULL, 200, 1000, 1000, 1000, 64, NULL, NULL, 0, 0};
    struct kx_kernel_config kc = {sizeof kc, NULL, NULL, 0, 1, &io, KX_BOOT_LOCAL, NULL, 0, 0};
    struct kx_srv_config sc = {sock, 0600, NULL, NULL, 2, {0}, 0, 0, 0, 0, 0, {0}};
    if (kx_kernel_new(&kc, &kernel) != STATUS_SUCCESS)
        abort();
    start_driver("Null", null_entry);
    start_driver("Wait", wait_entry);
    sc.kernel = kernel;
    if (kx_srv_new(&sc, &srv) != STATUS_SUCCESS)
        abort();
    /* Process state stays up for the whole run; the socket file goes with
     * the folder when the run ends normally. */
    unlink(sock);
    rmdir(dir);
    return 0;
}

/* Reads and drops what kxd sent; 1 when it closed the connection. */
static int drain(int fd)
{
    char buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0)
            return 1;
        if (n < 0)
            return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return 0;
    int big = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    if (kx_srv_adopt(srv, sv[0], getpid(), 65534, 65534) != STATUS_SUCCESS) {
        close(sv[1]);
        return 0;
    }
    size_t off = 0;
    int closed = 0;
    for (int idle = 0, turn = 0; !closed && idle < 8 && turn < 2000; turn++) {
        if (off < size) {
            ssize_t n = send(sv[1], data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
        } else if (off == size) {
            shutdown(sv[1], SHUT_WR); /* all sent: kxd reads to the end */
            off++;
        }
        kx_srv_poll_once(srv, 1);
        struct pollfd p = {sv[1], POLLIN, 0};
        int moved = poll(&p, 1, 0) > 0;
        closed = moved && drain(sv[1]);
        idle = moved || off < size ? 0 : idle + 1;
    }
    /* Whatever is still pending (reads of /dev/wait) ends with the hang-up. */
    close(sv[1]);
    for (int i = 0; i < 5; i++)
        kx_srv_poll_once(srv, 1);
    return 0;
}
