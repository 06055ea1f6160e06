/* kx/client.h — libkxclient: how ordinary programs reach kxd.
 *
 * A kx_client is one connection to kxd over its AF_UNIX socket; its device
 * I/O goes through a shared-memory ring kxd sets up at the first read,
 * write, ioctl or batch (not with KX_CLIENT_RING=0 in the environment; see
 * docs/client.md); reads of 64 KiB to 1 MiB land in shared read slots that
 * the driver fills in place (not with KX_CLIENT_READ_SLOTS=0). Calls are synchronous and return the real kx_status the driver or the kernel produced:
 * a read at end of file returns STATUS_END_OF_FILE with *got = 0, which is
 * distinguishable from every error. kxd knows who you are from the socket
 * (SO_PEERCRED); nothing the client sends can change that.
 *
 * Thread safety: a kx_client is used by one thread at a time; open one
 * connection per thread for parallel I/O. Handles belong to their connection
 * and are closed by kxd when the connection goes away, even if the program
 * dies.
 */
#ifndef KX_CLIENT_H
#define KX_CLIENT_H

#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kx_client kx_client;

/* Default socket path when neither an explicit path nor $KX_SOCKET is given. */
#define KX_DEFAULT_SOCKET "/run/kx/kxd.sock"

/* The largest read, write or ioctl buffer one call carries; kx_client_read
 * returns a short read for bigger requests, the others refuse them. */
#define KX_CLIENT_IO_MAX ((uint32_t)1 << 20)

/* Access bits for kx_client_open (the CREATE IRP's access mode). */
#define KX_ACCESS_READ  0x1u
#define KX_ACCESS_WRITE 0x2u

/* Connects to socket_path, else $KX_SOCKET, else KX_DEFAULT_SOCKET.
 * STATUS_CONNECTION_REFUSED when kxd is not running there. */
KX_API kx_status kx_client_connect(const char *socket_path, kx_client **out);
/* Closes the connection (kxd closes every handle still open on it). */
KX_API void kx_client_disconnect(kx_client *c);

/* The message kxd sent with the last reply ("" if none): for failures the
 * explanation, for load/unload the report. Valid until the next call. */
KX_API const char *kx_client_message(const kx_client *c);

/* ---- device I/O ---------------------------------------------------------- */

/* Opens a device by user-visible path ("/dev/null") or canonical name
 * ("\\Device\\Null0"). STATUS_ACCESS_DENIED when the device's owner, group
 * and mode do not allow the requested access. */
KX_API kx_status kx_client_open(kx_client *c, const char *path, uint32_t access, uint32_t *handle);
KX_API kx_status kx_client_close(kx_client *c, uint32_t handle);

/* timeout_ms: 0 means kxd's default deadline; UINT32_MAX means none. */
KX_API kx_status kx_client_read(kx_client *c, uint32_t handle, uint64_t offset, void *buf,
                                size_t len, uint32_t timeout_ms, size_t *got);
/* kx_client_read without a buffer of the caller's: up to len bytes (at
 * most KX_CLIENT_IO_MAX) are read into one of the connection's read slots,
 * which the driver fills in place, and *data points at them there: no copy
 * on the way when the driver runs in kxd, nor in this call. When no slot is
 * free (every one lent out, KX_CLIENT_READ_SLOTS=0, no ring) the bytes are
 * read into a buffer of the library's instead. *data is non-NULL exactly
 * when this returns STATUS_SUCCESS; it stays valid until
 * kx_client_read_release(c, *data) or kx_client_disconnect, and each one
 * lent out leaves the connection's other large reads one slot fewer. */
KX_API kx_status kx_client_read_view(kx_client *c, uint32_t handle, uint64_t offset, size_t len,
                                     uint32_t timeout_ms, const void **data, size_t *got);
/* Gives back what kx_client_read_view lent (NULL is ignored). */
KX_API void kx_client_read_release(kx_client *c, const void *data);
/* *information is what the driver reported (bytes written for WRITE). */
KX_API kx_status kx_client_write(kx_client *c, uint32_t handle, uint64_t offset, const void *buf,
                                 size_t len, uint32_t timeout_ms, uint64_t *information);
KX_API kx_status kx_client_ioctl(kx_client *c, uint32_t handle, uint32_t code, const void *in,
                                 size_t in_len, void *out, size_t out_len, uint32_t timeout_ms,
                                 size_t *got);

/* ---- batches -------------------------------------------------------------- */

/* Many reads, writes and ioctls in one go: kx_client_submit sends them at
 * once (one commit to the connection's ring, or one write on the socket
 * with KX_CLIENT_RING=0) and reaps every answer, whatever order kxd
 * completes them in. */
enum kx_client_op { KX_CLIENT_OP_READ = 1, KX_CLIENT_OP_WRITE, KX_CLIENT_OP_IOCTL };

struct kx_client_io {
    uint32_t op; /* enum kx_client_op */
    uint32_t handle;
    uint64_t offset;     /* READ, WRITE */
    uint32_t code;       /* IOCTL */
    uint32_t timeout_ms; /* as kx_client_read's */
    const void *in;      /* WRITE's data, IOCTL's input */
    size_t in_len;
    void *out; /* READ's buffer, IOCTL's output */
    size_t out_len;
    /* Filled in by kx_client_submit: */
    kx_status status;
    size_t got;           /* bytes placed in out */
    uint64_t information; /* what the driver reported (bytes written for WRITE) */
};

/* At most this many requests, and this many bytes in and out together, per
 * batch: kxd holds a connection to its share (kxd --max-client-bytes), and
 * a batch stays well inside the default one. */
#define KX_CLIENT_BATCH_MAX   64
#define KX_CLIENT_BATCH_BYTES ((size_t)4 << 20)

/* Sends n requests and waits for all their answers; each io's status is its
 * own. STATUS_SUCCESS when every request was answered; a connection error
 * otherwise (the unanswered have STATUS_CONNECTION_LOST);
 * STATUS_INVALID_PARAMETER (nothing sent) for an unknown op or a batch over
 * the limits above. */
KX_API kx_status kx_client_submit(kx_client *c, struct kx_client_io *ios, size_t n);

/* ---- kexts --------------------------------------------------------------- */

#define KX_LOAD_DRY_RUN     0x1u /* resolve and link-check only; load nothing */
#define KX_UNLOAD_RECURSIVE 0x1u /* unload dependents first, in reverse order */
#define KX_UNLOAD_PERSONALITIES_ONLY                                                               \
    0x2u /* kextunload -p: terminate its instances and remove                                      \
          * its personalities; keep its code loaded */
#define KX_UNLOAD_CLASS                                                                            \
    0x4u /* kextunload -c: kext names an IOClass whose                                             \
          * instances are terminated; nothing else */

/* kext: a bundle path or a bundle identifier known to kxd's extensions
 * folders. The report (or diagnostics) is in kx_client_message(). */
KX_API kx_status kx_client_load(kx_client *c, const char *kext, uint32_t flags);
KX_API kx_status kx_client_unload(kx_client *c, const char *kext, uint32_t flags);

/* One loaded kext as kextstat shows it. */
struct kx_client_kext {
    uint32_t tag; /* load tag (Index) */
    int32_t refs;
    uint64_t address, size, wired;
    char *id, *version, *uuid, *path;
    uint32_t *linked_against; /* load tags of its dependencies */
    size_t n_linked_against;
    int32_t host_pid;    /* its driver's kx-host process; 0: in kxd; negative: that host died */
    uint32_t host_state; /* enum kx_kernel_host_state (0 from older kxds) */
    uint32_t restarts;   /* times its driver was restarted */
    char *host_note;     /* stopped: why; NULL from older kxds */
};

/* Every loaded kext, sorted by load tag. Free with kx_client_kexts_free. */
KX_API kx_status kx_client_stat(kx_client *c, struct kx_client_kext **kexts, size_t *n);
KX_API void kx_client_kexts_free(struct kx_client_kext *kexts, size_t n);

/* A symbolic link or a device of kxd's namespace. */
struct kx_client_object {
    int is_device; /* 0: link (name -> target), 1: device */
    char *name, *target, *driver;
    uint32_t uid, gid, mode, handles;
    int32_t host_pid; /* devices: the driver's kx-host process (0: in kxd) */
};
KX_API kx_status kx_client_ls(kx_client *c, struct kx_client_object **objs, size_t *n);
KX_API void kx_client_objects_free(struct kx_client_object *objs, size_t n);

/* Kernel log lines with sequence number > since. */
struct kx_client_log_line {
    uint64_t seq, time_ns;
    char *source, *text;
};
KX_API kx_status kx_client_log(kx_client *c, uint64_t since, struct kx_client_log_line **lines,
                               size_t *n);
KX_API void kx_client_log_free(struct kx_client_log_line *lines, size_t n);

/* ---- the I/O Registry ------------------------------------------------------ */

/* kxd's registry, one plane (0 IOService, 1 IODeviceTree) from Root, as a
 * binary property list in `ioreg -a`'s form with kxd's ids and states
 * (IORegistryEntryID, IOServiceState, IOServiceBusyState,
 * IOObjectRetainCount): parse it with libplist, or give it to
 * kx_platform_tree_mirror. *data is malloc'ed (free()). Open to everyone. */
KX_API kx_status kx_client_registry(kx_client *c, uint32_t plane, void **data, size_t *len);
/* kxd's IOCatalogue as `kx catalog --json` writes it (NUL-terminated JSON
 * text, malloc'ed). */
KX_API kx_status kx_client_catalog(kx_client *c, char **json);
/* A matching dry run kxd makes on its own registry and catalogue, as
 * `kx match --json` writes it (loadability from kxd's extensions). */
KX_API kx_status kx_client_match_report(kx_client *c, char **json);

/* An entry kx_client_device_add published. */
struct kx_client_nub {
    uint64_t id;
    char *path; /* IOService plane */
};

/* Publishes the entries of a property list (data: XML or binary, a
 * dictionary or an array of them in `ioreg -a`'s form; name: the file, for
 * messages) under the entry at parent_path in kxd's registry, then matches
 * them; returns once matching is done. *nubs: every new entry, providers
 * first; free with kx_client_nubs_free. A malformed tree publishes nothing
 * (STATUS_DATA_ERROR; kx_client_message names the file, entry and key).
 * Root only (STATUS_ACCESS_DENIED). */
KX_API kx_status kx_client_device_add(kx_client *c, const char *parent_path, const char *name,
                                      const void *data, size_t len, struct kx_client_nub **nubs,
                                      size_t *n);
KX_API void kx_client_nubs_free(struct kx_client_nub *nubs, size_t n);
/* Terminates the entry at path and, clients first, every driver instance and
 * nub above it (their drivers' RemoveDevice runs, pending requests complete
 * STATUS_DEVICE_REMOVED); returns once done. Root only. */
KX_API kx_status kx_client_device_remove(kx_client *c, const char *path);
/* kx device peek/poke: len bytes at offset of the component whose address is address (a
 * simulated component's register file; a PCI function's configuration space, written only
 * when kxd runs as root with --allow-hardware-write).
 * Root or kxd's own user. STATUS_NO_SUCH_DEVICE (no such component); STATUS_INVALID_PARAMETER
 * (outside it, or more than 4096 bytes); STATUS_ACCESS_DENIED. */
KX_API kx_status kx_client_device_peek(kx_client *c, const char *address, uint32_t offset,
                                       void *buf, size_t len);
KX_API kx_status kx_client_device_poke(kx_client *c, const char *address, uint32_t offset,
                                       const void *data, size_t len);

/* Asks kxd to serve its /dev links as files at dir, an absolute path to an
 * existing folder (kxd --mount's FUSE mount; a stale mount of a crashed kxd
 * there is replaced); it stays until kxd stops. Root or kxd's own user
 * (STATUS_ACCESS_DENIED); STATUS_OBJECT_NAME_INVALID (not absolute);
 * STATUS_DEVICE_BUSY (a running kxd serves dir); the mount's own failures,
 * explained by kx_client_message. */
KX_API kx_status kx_client_mount(kx_client *c, const char *dir);

/* ---- Fault injection (kx fault) --------------------------------------------
 * Root's or kxd's own user's (STATUS_ACCESS_DENIED). */

/* Attaches a rule, kx/fault.h's words ("irp=2 action=crash"), to target: a
 * device's link or \Device\ name, or a loaded kext's bundle identifier
 * (every device of its driver). Replaces target's earlier rule. On success
 * kx_client_message gives the rule as kxd keeps it; on failure why, naming
 * target (an unknown word, no such device or kext, an action that would take
 * kxd down for a driver running in kxd: STATUS_NOT_SUPPORTED). */
KX_API kx_status kx_client_fault_set(kx_client *c, const char *target, const char *words);
/* Removes target's rule (NULL: every rule); *n (may be NULL) how many went.
 * STATUS_OBJECT_NAME_NOT_FOUND when target had none. */
KX_API kx_status kx_client_fault_clear(kx_client *c, const char *target, uint64_t *n);

struct kx_client_fault {
    char *target;
    char *rule;        /* the words, as kx_fault_parse reads them */
    uint64_t seen;     /* IRPs that reached the target and matched the rule's major */
    uint64_t fired;    /* of those, how many the rule hit */
};

/* Every rule in the order set. Free with kx_client_faults_free. */
KX_API kx_status kx_client_fault_list(kx_client *c, struct kx_client_fault **faults, size_t *n);
KX_API void kx_client_faults_free(struct kx_client_fault *faults, size_t n);

/* ---- Events (kx event raise, kx events) ------------------------------------ */

/* Raises name from source (NULL: none) with data[0..len) for the drivers
 * registered for it; *n_queued (may be NULL) gets how many it was queued
 * for. Root (or kxd's own user) only. */
KX_API kx_status kx_client_event_raise(kx_client *c, const char *name, const char *source,
                                       const void *data, size_t len, uint32_t *n_queued);

struct kx_client_event_stat {
    char *driver;                    /* "\Driver\Keys" */
    char *names;                     /* its registrations, comma-separated */
    uint32_t n_registrations, n_timers, queued;
    uint64_t delivered, dropped;
};

/* One record per driver with registrations, timers or events, in start
 * order. Free with kx_client_event_stats_free. */
KX_API kx_status kx_client_event_list(kx_client *c, struct kx_client_event_stat **stats,
                                      size_t *n);
KX_API void kx_client_event_stats_free(struct kx_client_event_stat *stats, size_t n);

/* ---- kxd itself ---------------------------------------------------------- */

/* One connection to kxd, as kxd accounts for it. */
struct kx_client_conn {
    uint64_t id;
    int32_t pid;
    uint32_t uid;
    uint32_t pending;    /* requests read and not yet answered */
    uint32_t handles;    /* open device handles */
    uint64_t bytes_held; /* charged to its pending requests plus replies not yet sent */
    int throttled;       /* kxd is not reading it until it drains */
};

/* kxd's limits (kxd --max-*) and what clients hold now. */
struct kx_client_server {
    uint64_t conn_bytes_limit, total_bytes_limit;
    uint32_t max_conns, max_conns_per_user;
    uint32_t n_conns, n_throttled;
    uint64_t bytes_held, refused;
    struct kx_client_conn *conns; /* every connection for root, else the caller's own */
    size_t n_listed;
};

/* Fills *out; free with kx_client_server_free. */
KX_API kx_status kx_client_server(kx_client *c, struct kx_client_server *out);
KX_API void kx_client_server_free(struct kx_client_server *s);

#endif /* KX_CLIENT_H */
