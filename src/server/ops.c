/* ops.c — kxd's request table: one handler per request type.
 *
 * Every handler runs on kx-srv, decodes its whole payload first (a malformed
 * one returns STATUS_PROTOCOL_ERROR and the loop drops the client), then
 * either answers at once (ls, log), submits device I/O whose completion posts
 * the reply (read, write, ioctl), or defers work that may wait for a driver
 * to a worker (open, close, load, unload, stat, and the registry's requests,
 * which walk the registry, match or wait for drivers). Credentials always
 * come from the socket (SO_PEERCRED), never from the message.
 */
#include "ops_component.h"
#include "ops_event.h"
#include "ops_fault.h"
#include "server_int.h"

#include "core/plist.h"

#include <kx/kernel.h>
#include <kx/platform.h>
#include <kx/registry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATH_TEXT 4096

static struct kx_io_cred cred_of(const struct kx_srv_req *req)
{
    struct kx_io_cred c = {req->cred.pid, req->cred.uid, req->cred.gid};
    return c;
}

/* Work carried from a handler to a worker and back. */
struct job {
    struct kx_srv *srv;
    uint64_t conn_id;
    uint32_t req_id;
    struct kx_io_cred cred;
    char *text;   /* path or kext */
    uint32_t arg; /* access or flags */
    kx_io_handle handle;
    kx_status status;
};

static struct job *new_job(struct kx_srv_req *req, char *text, uint32_t arg)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        free(text);
        return NULL;
    }
    j->srv = req->srv;
    j->conn_id = req->conn_id;
    j->req_id = req->req_id;
    j->cred = cred_of(req);
    j->text = text;
    j->arg = arg;
    return j;
}

static void free_job(struct job *j)
{
    free(j->text);
    free(j);
}

static kx_status defer_or_fail(struct kx_srv_req *req, struct job *j,
                               void (*fn)(struct kx_srv *, void *))
{
    if (!j || kx_srv_defer(req->srv, fn, j) != STATUS_SUCCESS) {
        if (j)
            free_job(j);
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, STATUS_INSUFFICIENT_RESOURCES,
                           NULL);
    }
    return STATUS_SUCCESS;
}

/* ---- open / close --------------------------------------------------------- */

static void close_handle_job(struct kx_srv *srv, void *arg)
{
    struct job *j = arg;
    kx_status st = kx_io_close(kx_srv_io(srv), j->handle);
    if (j->req_id)
        kx_srv_reply_ok(srv, j->conn_id, j->req_id, st, 0, NULL);
    free_job(j);
}

/* On kx-srv: the open finished; give the client its handle. */
static void open_done(struct kx_srv *srv, uint64_t conn_id, int conn_alive, void *arg)
{
    struct job *j = arg;
    uint32_t handle = 0;
    if (j->status != STATUS_SUCCESS) {
        kx_srv_reply_error(srv, conn_id, j->req_id, j->status, NULL);
    } else if (!conn_alive || kx_srv_file_add(srv, conn_id, j->handle, &handle) != STATUS_SUCCESS) {
        /* The client left (or we can't track the handle): close it again. */
        if (conn_alive)
            kx_srv_reply_error(srv, conn_id, j->req_id, STATUS_HANDLE_TABLE_FULL, NULL);
        j->req_id = 0;
        if (kx_srv_defer(srv, close_handle_job, j) == STATUS_SUCCESS)
            return;
        kx_io_close(kx_srv_io(srv), j->handle);
    } else {
        kx_srv_reply_ok(srv, conn_id, j->req_id, STATUS_SUCCESS, handle, NULL);
    }
    free_job(j);
}

static void open_job(struct kx_srv *srv, void *arg)
{
    struct job *j = arg;
    j->status =
        kx_io_open(kx_srv_io(srv), j->text, &j->cred, j->arg, KX_IO_TIMEOUT_DEFAULT, &j->handle);
    if (kx_srv_post_fn(srv, j->conn_id, open_done, j) != STATUS_SUCCESS) {
        if (j->status == STATUS_SUCCESS)
            kx_io_close(kx_srv_io(srv), j->handle);
        free_job(j);
    }
}

static kx_status op_open(struct kx_srv_req *req)
{
    char *path = kx_msg_get_str(&req->in, MAX_PATH_TEXT);
    uint32_t access = kx_msg_get_u32(&req->in);
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS) {
        free(path);
        return STATUS_PROTOCOL_ERROR;
    }
    return defer_or_fail(req, new_job(req, path, access), open_job);
}

static kx_status op_close(struct kx_srv_req *req)
{
    uint32_t handle = kx_msg_get_u32(&req->in);
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS)
        return STATUS_PROTOCOL_ERROR;
    kx_io_handle h = kx_srv_file_remove(req->srv, req->conn_id, handle);
    if (!h) {
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, STATUS_INVALID_HANDLE, NULL);
        return STATUS_SUCCESS;
    }
    struct job *j = new_job(req, NULL, 0);
    if (j)
        j->handle = h;
    return defer_or_fail(req, j, close_handle_job);
}

/* ---- read / write / ioctl ------------------------------------------------- */

struct io_ctx {
    struct kx_srv *srv;
    uint64_t conn_id;
    uint32_t req_id;
    uint16_t type;
    size_t out_len;
    uint8_t out[]; /* READ and DEVICE_CONTROL results land here */
};

/* Any thread: the driver (or a deadline, or a cancel) finished the request. */
static void io_done(void *arg, kx_status status, size_t information)
{
    struct io_ctx *ctx = arg;
    struct kx_msg_builder b = {0};
    if (ctx->type == KX_MSG_WRITE) {
        kx_msg_begin(&b, KX_MSG_OK, ctx->req_id);
        kx_msg_put_i32(&b, status);
        kx_msg_put_u64(&b, information);
        kx_msg_put_str(&b, NULL);
    } else {
        size_t n = information < ctx->out_len ? information : ctx->out_len;
        int has_data = status == STATUS_SUCCESS || status == STATUS_END_OF_FILE;
        kx_msg_begin(&b, KX_MSG_DATA, ctx->req_id);
        kx_msg_put_i32(&b, status);
        kx_msg_put_u64(&b, information);
        kx_msg_put_bytes(&b, ctx->out, has_data ? n : 0);
    }
    kx_srv_post(ctx->srv, ctx->conn_id, &b);
    free(ctx);
}

static kx_status submit(struct kx_srv_req *req, uint32_t handle, struct kx_io_req *r,
                        size_t out_len)
{
    kx_io_handle h = kx_srv_file_get(req->srv, req->conn_id, handle);
    if (!h) {
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, STATUS_INVALID_HANDLE, NULL);
        return STATUS_SUCCESS;
    }
    struct io_ctx *ctx = malloc(sizeof *ctx + out_len);
    if (!ctx) {
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, STATUS_INSUFFICIENT_RESOURCES,
                           NULL);
        return STATUS_SUCCESS;
    }
    *ctx = (struct io_ctx){req->srv, req->conn_id, req->req_id, req->type, out_len};
    r->out = out_len ? ctx->out : NULL;
    r->out_len = out_len;
    r->done = io_done;
    r->arg = ctx;
    kx_status st = kx_io_submit(kx_srv_io(req->srv), h, r, 1);
    if (st != STATUS_SUCCESS) { /* not queued: the completion will never run */
        free(ctx);
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, st, NULL);
    }
    return STATUS_SUCCESS;
}

static kx_status op_read(struct kx_srv_req *req)
{
    struct kx_io_req r = {0};
    uint32_t handle = kx_msg_get_u32(&req->in);
    r.op = KX_IO_OP_READ;
    r.offset = kx_msg_get_u64(&req->in);
    uint32_t len = kx_msg_get_u32(&req->in);
    r.timeout_ms = kx_msg_get_u32(&req->in);
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS || len > KX_CLIENT_IO_MAX)
        return STATUS_PROTOCOL_ERROR;
    req->reply_bytes = len;
    return submit(req, handle, &r, len);
}

static kx_status op_write(struct kx_srv_req *req)
{
    struct kx_io_req r = {0};
    uint32_t handle = kx_msg_get_u32(&req->in);
    r.op = KX_IO_OP_WRITE;
    r.offset = kx_msg_get_u64(&req->in);
    r.timeout_ms = kx_msg_get_u32(&req->in);
    r.in = kx_msg_get_bytes(&req->in, &r.in_len); /* copied by kx_io_submit */
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS || r.in_len > KX_CLIENT_IO_MAX)
        return STATUS_PROTOCOL_ERROR;
    return submit(req, handle, &r, 0);
}

static kx_status op_ioctl(struct kx_srv_req *req)
{
    struct kx_io_req r = {0};
    uint32_t handle = kx_msg_get_u32(&req->in);
    r.op = KX_IO_OP_DEVICE_CONTROL;
    r.code = kx_msg_get_u32(&req->in);
    uint32_t out_len = kx_msg_get_u32(&req->in);
    r.timeout_ms = kx_msg_get_u32(&req->in);
    r.in = kx_msg_get_bytes(&req->in, &r.in_len);
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS || r.in_len > KX_CLIENT_IO_MAX ||
        out_len > KX_CLIENT_IO_MAX)
        return STATUS_PROTOCOL_ERROR;
    req->reply_bytes = out_len;
    return submit(req, handle, &r, out_len);
}

/* ---- listings ------------------------------------------------------------- */

static void reply_end(struct kx_srv *srv, uint64_t conn_id, uint32_t req_id, kx_status st,
                      uint64_t count)
{
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_END, req_id);
    kx_msg_put_i32(&b, st);
    kx_msg_put_u64(&b, count);
    kx_srv_post(srv, conn_id, &b);
}

static void post_object(struct kx_srv_req *req, uint32_t kind, const char *name, const char *target,
                        const char *driver, uint32_t uid, uint32_t gid, uint32_t mode,
                        uint32_t handles, int32_t host_pid)
{
    struct kx_msg_builder b = {0};
    kx_msg_begin(&b, KX_MSG_LS_ENTRY, req->req_id);
    kx_msg_put_u32(&b, kind);
    kx_msg_put_str(&b, name);
    kx_msg_put_str(&b, target);
    kx_msg_put_str(&b, driver);
    kx_msg_put_u32(&b, uid);
    kx_msg_put_u32(&b, gid);
    kx_msg_put_u32(&b, mode);
    kx_msg_put_u32(&b, handles);
    kx_msg_put_i32(&b, host_pid);
    kx_srv_post(req->srv, req->conn_id, &b);
}

static kx_status op_ls(struct kx_srv_req *req)
{
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS)
        return STATUS_PROTOCOL_ERROR;
    struct kx_io_link_stat *links = NULL;
    struct kx_io_device_stat *devs = NULL;
    size_t n_links = 0, n_devs = 0;
    kx_status st = kx_io_list_links(kx_srv_io(req->srv), &links, &n_links);
    if (st == STATUS_SUCCESS)
        st = kx_io_list_devices(kx_srv_io(req->srv), &devs, &n_devs);
    if (st != STATUS_SUCCESS) {
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, st, NULL);
    } else {
        for (size_t i = 0; i < n_links; i++)
            post_object(req, 0, links[i].link, links[i].target, links[i].driver, 0, 0, 0, 0, 0);
        for (size_t i = 0; i < n_devs; i++)
            post_object(req, 1, devs[i].name, "", devs[i].driver, devs[i].uid, devs[i].gid,
                        devs[i].mode, devs[i].n_handles, devs[i].host_pid);
        reply_end(req->srv, req->conn_id, req->req_id, STATUS_SUCCESS, n_links + n_devs);
    }
    free(links);
    free(devs);
    return STATUS_SUCCESS;
}

static kx_status op_log(struct kx_srv_req *req)
{
    uint64_t since = kx_msg_get_u64(&req->in);
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS)
        return STATUS_PROTOCOL_ERROR;
    if (!kx_srv_may_read_log(req->srv, &req->cred)) {
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, STATUS_ACCESS_DENIED,
                           "the kernel log is for root and kxd's log group (kxd --log-group "
                           "GROUP, or --log-public)");
        return STATUS_SUCCESS;
    }
    enum { BATCH = 64 };
    struct kx_io_log_line *lines = malloc(BATCH * sizeof *lines);
    if (!lines) {
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, STATUS_INSUFFICIENT_RESOURCES,
                           NULL);
        return STATUS_SUCCESS;
    }
    uint64_t count = 0;
    size_t n;
    while ((n = kx_io_log_read(kx_srv_io(req->srv), since, lines, BATCH)) > 0) {
        for (size_t i = 0; i < n; i++) {
            struct kx_msg_builder b = {0};
            kx_msg_begin(&b, KX_MSG_LOG_ENTRY, req->req_id);
            kx_msg_put_u64(&b, lines[i].seq);
            kx_msg_put_u64(&b, (uint64_t)lines[i].wall_ns);
            kx_msg_put_str(&b, lines[i].source);
            kx_msg_put_str(&b, lines[i].text);
            kx_srv_post(req->srv, req->conn_id, &b);
            since = lines[i].seq;
        }
        count += n;
    }
    free(lines);
    reply_end(req->srv, req->conn_id, req->req_id, STATUS_SUCCESS, count);
    return STATUS_SUCCESS;
}

/* ---- kexts ---------------------------------------------------------------- */

static void load_job(struct kx_srv *srv, void *arg)
{
    struct job *j = arg;
    char *report = NULL;
    kx_status st = kx_kernel_load(kx_srv_kernel(srv), j->text, &j->cred,
                                  j->arg & KX_LOAD_DRY_RUN ? KX_KERNEL_LOAD_DRY_RUN : 0, &report);
    kx_srv_reply_ok(srv, j->conn_id, j->req_id, st, 0, report);
    free(report);
    free_job(j);
}

static void unload_job(struct kx_srv *srv, void *arg)
{
    struct job *j = arg;
    char *report = NULL;
    kx_status st = kx_kernel_unload(
        kx_srv_kernel(srv), j->text, &j->cred,
        (j->arg & KX_UNLOAD_RECURSIVE ? KX_KERNEL_UNLOAD_RECURSIVE : 0) |
            (j->arg & KX_UNLOAD_PERSONALITIES_ONLY ? KX_KERNEL_UNLOAD_PERSONALITIES : 0) |
            (j->arg & KX_UNLOAD_CLASS ? KX_KERNEL_UNLOAD_CLASS : 0),
        &report);
    kx_srv_reply_ok(srv, j->conn_id, j->req_id, st, 0, report);
    free(report);
    free_job(j);
}

static kx_status decode_kext_request(struct kx_srv_req *req, void (*fn)(struct kx_srv *, void *))
{
    uint32_t flags = kx_msg_get_u32(&req->in);
    char *kext = kx_msg_get_str(&req->in, MAX_PATH_TEXT);
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS) {
        free(kext);
        return STATUS_PROTOCOL_ERROR;
    }
    return defer_or_fail(req, new_job(req, kext, flags), fn);
}

static kx_status op_load(struct kx_srv_req *req)
{
    return decode_kext_request(req, load_job);
}
static kx_status op_unload(struct kx_srv_req *req)
{
    return decode_kext_request(req, unload_job);
}

static void stat_job(struct kx_srv *srv, void *arg)
{
    struct job *j = arg;
    struct kx_kernel_kext_stat *stats = NULL;
    size_t n = 0;
    kx_status st = kx_kernel_stat(kx_srv_kernel(srv), &stats, &n);
    if (st != STATUS_SUCCESS) {
        kx_srv_reply_error(srv, j->conn_id, j->req_id, st, NULL);
    } else {
        for (size_t i = 0; i < n; i++) {
            const struct kx_kernel_kext_stat *k = &stats[i];
            struct kx_msg_builder b = {0};
            kx_msg_begin(&b, KX_MSG_STAT_ENTRY, j->req_id);
            kx_msg_put_u32(&b, k->tag);
            kx_msg_put_i32(&b, k->refs);
            kx_msg_put_u64(&b, k->address);
            kx_msg_put_u64(&b, k->size);
            kx_msg_put_u64(&b, k->wired);
            kx_msg_put_str(&b, k->id);
            kx_msg_put_str(&b, k->version);
            kx_msg_put_str(&b, k->uuid);
            kx_msg_put_str(&b, k->path);
            kx_msg_put_u32(&b, (uint32_t)k->n_linked_against);
            for (size_t d = 0; d < k->n_linked_against; d++)
                kx_msg_put_u32(&b, k->linked_against[d]);
            kx_msg_put_i32(&b, k->host_pid);
            kx_msg_put_u32(&b, k->host_state);
            kx_msg_put_u32(&b, k->restarts);
            kx_msg_put_str(&b, k->host_note);
            kx_srv_post(srv, j->conn_id, &b);
        }
        reply_end(srv, j->conn_id, j->req_id, STATUS_SUCCESS, n);
    }
    kx_kernel_stat_free(stats, n);
    free_job(j);
}

static kx_status op_stat(struct kx_srv_req *req)
{
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS)
        return STATUS_PROTOCOL_ERROR;
    return defer_or_fail(req, new_job(req, NULL, 0), stat_job);
}

/* ---- the registry ---------------------------------------------------------- */

/* A document as CHUNK* END(total length); takes data (malloc'ed, may be NULL on failure). */
static void post_document(struct kx_srv *srv, uint64_t conn_id, uint32_t req_id, kx_status st,
                          char *data, size_t len)
{
    if (st == STATUS_SUCCESS && (uint64_t)len > KX_MSG_DOC_MAX)
        st = STATUS_BUFFER_TOO_SMALL;
    if (st != STATUS_SUCCESS) {
        kx_srv_reply_error(srv, conn_id, req_id, st,
                           st == STATUS_BUFFER_TOO_SMALL ? "the answer is longer than the "
                                                           "protocol's largest document"
                                                         : NULL);
        free(data);
        return;
    }
    for (size_t off = 0; off < len; off += KX_MSG_CHUNK_MAX) {
        struct kx_msg_builder b = {0};
        kx_msg_begin(&b, KX_MSG_CHUNK, req_id);
        kx_msg_put_bytes(&b, data + off,
                         len - off < KX_MSG_CHUNK_MAX ? len - off : KX_MSG_CHUNK_MAX);
        kx_srv_post(srv, conn_id, &b);
    }
    free(data);
    reply_end(srv, conn_id, req_id, STATUS_SUCCESS, len);
}

static void registry_job(struct kx_srv *srv, void *arg)
{
    struct job *j = arg;
    struct kx_reg *reg = kx_kernel_registry(kx_srv_kernel(srv));
    plist_t tree = NULL;
    char *bin = NULL;
    uint32_t len = 0;
    kx_status st = kx_platform_tree_build(reg, kx_reg_root(reg), (enum kx_reg_plane)j->arg, &tree);
    if (st == STATUS_SUCCESS) {
        plist_to_bin(tree, &bin, &len);
        if (!bin)
            st = STATUS_INSUFFICIENT_RESOURCES;
    }
    plist_free(tree);
    post_document(srv, j->conn_id, j->req_id, st, bin, len);
    free_job(j);
}

static void catalog_job(struct kx_srv *srv, void *arg)
{
    struct job *j = arg;
    char *json = NULL;
    kx_status st = kx_catalog_report_json(kx_kernel_catalog(kx_srv_kernel(srv)), &json);
    post_document(srv, j->conn_id, j->req_id, st, json, json ? strlen(json) : 0);
    free_job(j);
}

static int kernel_loadable(void *ctx, const char *bundle_id, char **reason)
{
    return kx_kernel_kext_loadable(ctx, bundle_id, reason);
}

static void match_report_job(struct kx_srv *srv, void *arg)
{
    struct job *j = arg;
    struct kx_kernel *k = kx_srv_kernel(srv);
    char *json = NULL;
    kx_status st = kx_match_report_json(kx_kernel_catalog(k), kx_kernel_registry(k),
                                        kernel_loadable, k, &json);
    post_document(srv, j->conn_id, j->req_id, st, json, json ? strlen(json) : 0);
    free_job(j);
}

/* Registry, catalogue and match report: open to every client, as ioreg is on macOS. Each
 * chunk is queued as output as it is made, where back-pressure counts it; the request
 * itself is charged the largest one. */
static kx_status decode_document_request(struct kx_srv_req *req, uint32_t arg,
                                         void (*fn)(struct kx_srv *, void *))
{
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS)
        return STATUS_PROTOCOL_ERROR;
    req->reply_bytes = KX_MSG_CHUNK_MAX;
    return defer_or_fail(req, new_job(req, NULL, arg), fn);
}

static kx_status op_registry(struct kx_srv_req *req)
{
    uint32_t plane = kx_msg_get_u32(&req->in);
    if (plane >= KX_REG_N_PLANES)
        return STATUS_PROTOCOL_ERROR;
    return decode_document_request(req, plane, registry_job);
}

static kx_status op_catalog(struct kx_srv_req *req)
{
    return decode_document_request(req, 0, catalog_job);
}

static kx_status op_match_report(struct kx_srv_req *req)
{
    return decode_document_request(req, 0, match_report_job);
}

/* Changing the registry is root's, as adding hardware is. */
static int refuse_unprivileged(struct kx_srv_req *req, const char *what)
{
    if (kx_srv_is_privileged(req->srv, req->cred.uid))
        return 0;
    char text[160];
    snprintf(text, sizeof text, "%s changes the I/O Registry: only root may", what);
    kx_srv_reply_error(req->srv, req->conn_id, req->req_id, STATUS_ACCESS_DENIED, text);
    return 1;
}

struct add_job {
    struct job base; /* text: the parent's path */
    char *name;      /* the file, for messages */
    void *data;
    size_t len;
};

static void device_add_job(struct kx_srv *srv, void *arg)
{
    struct add_job *a = arg;
    struct job *j = &a->base;
    struct kx_kernel *k = kx_srv_kernel(srv);
    struct kx_reg *reg = kx_kernel_registry(k);
    char why[1024] = "";
    const char *reason = NULL;
    plist_t tree = NULL;
    kx_reg_id parent = KX_REG_ID_NONE, *ids = NULL;
    size_t n = 0;
    kx_status st = kx_plist_parse(a->data, a->len, &tree, &reason);
    if (st != STATUS_SUCCESS)
        snprintf(why, sizeof why, "%s: not a property list (%s)", a->name,
                 reason ? reason : "malformed");
    else if ((st = kx_reg_lookup_path(reg, j->text, &parent)) != STATUS_SUCCESS)
        snprintf(why, sizeof why, "%s: no entry at that path", j->text);
    else
        st = kx_kernel_publish_nubs(k, parent, tree, a->name, &ids, &n, why, sizeof why);
    plist_free(tree);
    if (st != STATUS_SUCCESS) {
        kx_srv_reply_error(srv, j->conn_id, j->req_id, st, why);
    } else {
        for (size_t i = 0; i < n; i++) {
            char path[1024] = "";
            kx_reg_path(reg, ids[i], KX_REG_SERVICE, path, sizeof path);
            struct kx_msg_builder b = {0};
            kx_msg_begin(&b, KX_MSG_NUB, j->req_id);
            kx_msg_put_u64(&b, ids[i]);
            kx_msg_put_str(&b, path);
            kx_srv_post(srv, j->conn_id, &b);
        }
        reply_end(srv, j->conn_id, j->req_id, STATUS_SUCCESS, n);
    }
    free(ids);
    free(a->name);
    free(a->data);
    free_job(j); /* base is first: frees a */
}

static kx_status op_device_add(struct kx_srv_req *req)
{
    char *parent = kx_msg_get_str(&req->in, MAX_PATH_TEXT);
    char *name = kx_msg_get_str(&req->in, MAX_PATH_TEXT);
    size_t len = 0;
    const void *data = kx_msg_get_bytes(&req->in, &len); /* lives until we return */
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS) {
        free(parent);
        free(name);
        return STATUS_PROTOCOL_ERROR;
    }
    struct add_job *a = NULL;
    int refused = refuse_unprivileged(req, "kx device add");
    if (refused || !(a = calloc(1, sizeof *a)) || !(a->data = malloc(len ? len : 1))) {
        if (!refused)
            kx_srv_reply_error(req->srv, req->conn_id, req->req_id, STATUS_INSUFFICIENT_RESOURCES,
                               NULL);
        free(a);
        free(parent);
        free(name);
        return STATUS_SUCCESS;
    }
    memcpy(a->data, data, len);
    a->len = len;
    a->name = name;
    a->base = (struct job){req->srv, req->conn_id, req->req_id, cred_of(req), parent, 0, 0, 0};
    if (kx_srv_defer(req->srv, device_add_job, a) != STATUS_SUCCESS) {
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, STATUS_INSUFFICIENT_RESOURCES,
                           NULL);
        free(a->data);
        free(a->name);
        free_job(&a->base);
    }
    return STATUS_SUCCESS;
}

static void device_remove_job(struct kx_srv *srv, void *arg)
{
    struct job *j = arg;
    struct kx_kernel *k = kx_srv_kernel(srv);
    kx_reg_id id = KX_REG_ID_NONE;
    char why[600] = "";
    kx_status st = kx_reg_lookup_path(kx_kernel_registry(k), j->text, &id);
    if (st != STATUS_SUCCESS)
        snprintf(why, sizeof why, "%s: no entry at that path", j->text);
    else if ((st = kx_kernel_terminate_nub(k, id)) == STATUS_ACCESS_DENIED)
        snprintf(why, sizeof why, "%s: Root, the platform expert and IOResources stay", j->text);
    if (st == STATUS_SUCCESS)
        kx_srv_reply_ok(srv, j->conn_id, j->req_id, st, id, NULL);
    else
        kx_srv_reply_error(srv, j->conn_id, j->req_id, st, why);
    free_job(j);
}

static kx_status op_device_remove(struct kx_srv_req *req)
{
    char *path = kx_msg_get_str(&req->in, MAX_PATH_TEXT);
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS) {
        free(path);
        return STATUS_PROTOCOL_ERROR;
    }
    if (refuse_unprivileged(req, "kx device remove")) {
        free(path);
        return STATUS_SUCCESS;
    }
    return defer_or_fail(req, new_job(req, path, 0), device_remove_job);
}

static void mount_job(struct kx_srv *srv, void *arg)
{
    struct job *j = arg;
    char why[600] = "";
    kx_status st = kx_srv_mount(srv, j->text, why, sizeof why);
    if (st == STATUS_SUCCESS)
        kx_srv_reply_ok(srv, j->conn_id, j->req_id, st, 0, NULL);
    else
        kx_srv_reply_error(srv, j->conn_id, j->req_id, st, why);
    free_job(j);
}

/* Mounting changes the machine's file system: root's, or kxd's own user's
 * (whose mount it becomes). */
static kx_status op_mount(struct kx_srv_req *req)
{
    char *dir = kx_msg_get_str(&req->in, MAX_PATH_TEXT);
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS) {
        free(dir);
        return STATUS_PROTOCOL_ERROR;
    }
    char text[700];
    kx_status st = STATUS_SUCCESS;
    if (!kx_srv_is_privileged(req->srv, req->cred.uid)) {
        snprintf(text, sizeof text, "%s: kx mount: only root (or kxd's own user) may mount", dir);
        st = STATUS_ACCESS_DENIED;
    } else if (dir[0] != '/') {
        snprintf(text, sizeof text, "%s: kx mount: not an absolute path", dir);
        st = STATUS_OBJECT_NAME_INVALID;
    }
    if (st != STATUS_SUCCESS) {
        kx_srv_reply_error(req->srv, req->conn_id, req->req_id, st, text);
        free(dir);
        return STATUS_SUCCESS;
    }
    return defer_or_fail(req, new_job(req, dir, 0), mount_job);
}

static kx_status op_server(struct kx_srv_req *req)
{
    if (kx_msg_reader_done(&req->in) != STATUS_SUCCESS)
        return STATUS_PROTOCOL_ERROR;
    kx_srv_report(req);
    return STATUS_SUCCESS;
}

const struct kx_srv_op kx_srv_ops[] = {
    {KX_MSG_OPEN, op_open},
    {KX_MSG_CLOSE, op_close},
    {KX_MSG_READ, op_read},
    {KX_MSG_WRITE, op_write},
    {KX_MSG_IOCTL, op_ioctl},
    {KX_MSG_LOAD, op_load},
    {KX_MSG_UNLOAD, op_unload},
    {KX_MSG_STAT, op_stat},
    {KX_MSG_LS, op_ls},
    {KX_MSG_LOG, op_log},
    {KX_MSG_SERVER, op_server},
    {KX_MSG_REGISTRY, op_registry},
    {KX_MSG_CATALOG, op_catalog},
    {KX_MSG_MATCH_REPORT, op_match_report},
    {KX_MSG_DEVICE_ADD, op_device_add},
    {KX_MSG_DEVICE_REMOVE, op_device_remove},
    {KX_MSG_MOUNT, op_mount},
    {KX_MSG_FAULT_SET, kx_srv_op_fault_set},
    {KX_MSG_FAULT_CLEAR, kx_srv_op_fault_clear},
    {KX_MSG_FAULT_LIST, kx_srv_op_fault_list},
    {KX_MSG_EVENT_RAISE, kx_srv_op_event_raise},
    {KX_MSG_EVENT_LIST, kx_srv_op_event_list},
    {KX_MSG_DEVICE_PEEK, kx_srv_op_device_peek},
    {KX_MSG_DEVICE_POKE, kx_srv_op_device_poke},
    {0, NULL},
};
