/* client_admin.c — libkxclient's requests other than device I/O: listings
 * (ENTRY* then END), documents (CHUNK* then END), devices, faults and
 * kxd's own report. */
#include "client_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- listings: ENTRY* then END ------------------------------------------ */

typedef int (*entry_fn)(struct kx_msg_reader *r, void *item);

/* Reads ENTRY* END for a request already sent. */
static kx_status read_list(kx_client *c, uint32_t req_id, uint16_t entry_type, size_t item_size,
                           entry_fn decode, void (*free_items)(void *, size_t), void **items,
                           size_t *n_items)
{
    struct kx_msg_hdr h;
    struct kx_msg_reader r;
    char *v = NULL;
    size_t n = 0, cap = 0;
    *items = NULL;
    *n_items = 0;
    kx_status st = STATUS_SUCCESS;
    while (st == STATUS_SUCCESS) {
        st = kxc_recv_reply(c, req_id, &h, &r);
        if (st != STATUS_SUCCESS)
            break;
        if (h.type == KX_MSG_ERROR) {
            st = kxc_read_status_reply(c, &h, &r, NULL);
            break;
        }
        if (h.type == KX_MSG_END) {
            st = (kx_status)kx_msg_get_i32(&r);
            uint64_t count = kx_msg_get_u64(&r);
            if (kx_msg_reader_done(&r) != STATUS_SUCCESS || count != n)
                st = kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
            break;
        }
        if (h.type != entry_type) {
            st = kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char *nv = realloc(v, cap * item_size);
            if (!nv) {
                st = kxc_fail_dead(c, STATUS_INSUFFICIENT_RESOURCES);
                break;
            }
            v = nv;
        }
        memset(v + n * item_size, 0, item_size);
        n++; /* counted before decoding so a half-decoded item is freed too */
        if (!decode(&r, v + (n - 1) * item_size) || kx_msg_reader_done(&r) != STATUS_SUCCESS)
            st = kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
    }
    if (st != STATUS_SUCCESS) {
        free_items(v, n);
        return st;
    }
    *items = v;
    *n_items = n;
    return STATUS_SUCCESS;
}

static kx_status list_call(kx_client *c, uint32_t req_id, uint16_t entry_type, size_t item_size,
                           entry_fn decode, void (*free_items)(void *, size_t), void **items,
                           size_t *n_items)
{
    *items = NULL;
    *n_items = 0;
    kx_status st = kxc_send_request(c);
    if (st != STATUS_SUCCESS)
        return st;
    return read_list(c, req_id, entry_type, item_size, decode, free_items, items, n_items);
}

static int decode_kext(struct kx_msg_reader *r, void *item)
{
    struct kx_client_kext *k = item;
    k->tag = kx_msg_get_u32(r);
    k->refs = kx_msg_get_i32(r);
    k->address = kx_msg_get_u64(r);
    k->size = kx_msg_get_u64(r);
    k->wired = kx_msg_get_u64(r);
    k->id = kx_msg_get_str(r, MAX_TEXT);
    k->version = kx_msg_get_str(r, MAX_TEXT);
    k->uuid = kx_msg_get_str(r, MAX_TEXT);
    k->path = kx_msg_get_str(r, MAX_TEXT);
    uint32_t n = kx_msg_get_u32(r);
    if (r->failed || n > r->left / 4)
        return 0;
    k->linked_against = calloc(n ? n : 1, sizeof *k->linked_against);
    if (!k->linked_against)
        return 0;
    k->n_linked_against = n;
    for (uint32_t i = 0; i < n; i++)
        k->linked_against[i] = kx_msg_get_u32(r);
    k->host_pid = r->left >= 4 ? kx_msg_get_i32(r) : 0; /* older kxds don't say */
    if (r->left >= 8) {
        k->host_state = kx_msg_get_u32(r);
        k->restarts = kx_msg_get_u32(r);
        k->host_note = kx_msg_get_str(r, MAX_TEXT);
    }
    return !r->failed;
}

static void free_kexts(void *items, size_t n)
{
    kx_client_kexts_free(items, n);
}

void kx_client_kexts_free(struct kx_client_kext *kexts, size_t n)
{
    for (size_t i = 0; kexts && i < n; i++) {
        free(kexts[i].id);
        free(kexts[i].version);
        free(kexts[i].uuid);
        free(kexts[i].path);
        free(kexts[i].linked_against);
        free(kexts[i].host_note);
    }
    free(kexts);
}

kx_status kx_client_stat(kx_client *c, struct kx_client_kext **kexts, size_t *n)
{
    uint32_t id = kxc_begin(c, KX_MSG_STAT);
    return list_call(c, id, KX_MSG_STAT_ENTRY, sizeof **kexts, decode_kext, free_kexts,
                     (void **)kexts, n);
}

static int decode_object(struct kx_msg_reader *r, void *item)
{
    struct kx_client_object *o = item;
    o->is_device = kx_msg_get_u32(r) == 1;
    o->name = kx_msg_get_str(r, MAX_TEXT);
    o->target = kx_msg_get_str(r, MAX_TEXT);
    o->driver = kx_msg_get_str(r, MAX_TEXT);
    o->uid = kx_msg_get_u32(r);
    o->gid = kx_msg_get_u32(r);
    o->mode = kx_msg_get_u32(r);
    o->handles = kx_msg_get_u32(r);
    o->host_pid = r->left >= 4 ? kx_msg_get_i32(r) : 0; /* older kxds don't say */
    return !r->failed;
}

static void free_objects(void *items, size_t n)
{
    kx_client_objects_free(items, n);
}

void kx_client_objects_free(struct kx_client_object *objs, size_t n)
{
    for (size_t i = 0; objs && i < n; i++) {
        free(objs[i].name);
        free(objs[i].target);
        free(objs[i].driver);
    }
    free(objs);
}

kx_status kx_client_ls(kx_client *c, struct kx_client_object **objs, size_t *n)
{
    uint32_t id = kxc_begin(c, KX_MSG_LS);
    return list_call(c, id, KX_MSG_LS_ENTRY, sizeof **objs, decode_object, free_objects,
                     (void **)objs, n);
}

static int decode_log(struct kx_msg_reader *r, void *item)
{
    struct kx_client_log_line *l = item;
    l->seq = kx_msg_get_u64(r);
    l->time_ns = kx_msg_get_u64(r);
    l->source = kx_msg_get_str(r, MAX_TEXT);
    l->text = kx_msg_get_str(r, MAX_TEXT);
    return !r->failed;
}

static void free_log(void *items, size_t n)
{
    kx_client_log_free(items, n);
}

void kx_client_log_free(struct kx_client_log_line *lines, size_t n)
{
    for (size_t i = 0; lines && i < n; i++) {
        free(lines[i].source);
        free(lines[i].text);
    }
    free(lines);
}

kx_status kx_client_log(kx_client *c, uint64_t since, struct kx_client_log_line **lines, size_t *n)
{
    uint32_t id = kxc_begin(c, KX_MSG_LOG);
    kx_msg_put_u64(&c->out, since);
    return list_call(c, id, KX_MSG_LOG_ENTRY, sizeof **lines, decode_log, free_log, (void **)lines,
                     n);
}

/* ---- documents: CHUNK* END(total length) --------------------------------- */

/* Sends the built request and gathers the document; *out gets a NUL after
 * the bytes (text documents are used as strings). */
static kx_status document_call(kx_client *c, uint32_t req_id, char **out, size_t *out_len)
{
    struct kx_msg_hdr h;
    struct kx_msg_reader r;
    char *doc = NULL;
    size_t len = 0;
    *out = NULL;
    if (out_len)
        *out_len = 0;
    kx_status st = kxc_send_request(c);
    while (st == STATUS_SUCCESS) {
        if ((st = kxc_recv_reply(c, req_id, &h, &r)) != STATUS_SUCCESS)
            break;
        if (h.type == KX_MSG_ERROR) {
            st = kxc_read_status_reply(c, &h, &r, NULL);
            st = st == STATUS_SUCCESS ? kxc_fail_dead(c, STATUS_PROTOCOL_ERROR) : st;
            break;
        }
        if (h.type == KX_MSG_END) {
            st = (kx_status)kx_msg_get_i32(&r);
            uint64_t total = kx_msg_get_u64(&r);
            if (kx_msg_reader_done(&r) != STATUS_SUCCESS || total != len)
                st = kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
            if (st == STATUS_SUCCESS && !doc && !(doc = malloc(1)))
                st = STATUS_INSUFFICIENT_RESOURCES;
            break;
        }
        size_t n = 0;
        const void *p = h.type == KX_MSG_CHUNK ? kx_msg_get_bytes(&r, &n) : NULL;
        if (!p || kx_msg_reader_done(&r) != STATUS_SUCCESS || n > KX_MSG_CHUNK_MAX ||
            len + n > KX_MSG_DOC_MAX) {
            st = kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
            break;
        }
        char *nd = realloc(doc, len + n + 1);
        if (!nd) {
            st = kxc_fail_dead(c, STATUS_INSUFFICIENT_RESOURCES);
            break;
        }
        doc = nd;
        memcpy(doc + len, p, n);
        len += n;
    }
    if (st != STATUS_SUCCESS || !doc) { /* the end always leaves a document */
        free(doc);
        return st != STATUS_SUCCESS ? st : STATUS_INSUFFICIENT_RESOURCES;
    }
    doc[len] = '\0';
    kxc_set_message(c, strdup(""));
    *out = doc;
    if (out_len)
        *out_len = len;
    return STATUS_SUCCESS;
}

kx_status kx_client_registry(kx_client *c, uint32_t plane, void **data, size_t *len)
{
    uint32_t id = kxc_begin(c, KX_MSG_REGISTRY);
    kx_msg_put_u32(&c->out, plane);
    char *doc = NULL;
    kx_status st = document_call(c, id, &doc, len);
    *data = doc;
    return st;
}

/* A JSON document: text, so no NUL inside. */
static kx_status json_call(kx_client *c, uint32_t req_id, char **json)
{
    size_t len = 0;
    kx_status st = document_call(c, req_id, json, &len);
    if (st == STATUS_SUCCESS && strlen(*json) != len) {
        free(*json);
        *json = NULL;
        st = kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
    }
    return st;
}

kx_status kx_client_catalog(kx_client *c, char **json)
{
    return json_call(c, kxc_begin(c, KX_MSG_CATALOG), json);
}

kx_status kx_client_match_report(kx_client *c, char **json)
{
    return json_call(c, kxc_begin(c, KX_MSG_MATCH_REPORT), json);
}

static int decode_nub(struct kx_msg_reader *r, void *item)
{
    struct kx_client_nub *n = item;
    n->id = kx_msg_get_u64(r);
    n->path = kx_msg_get_str(r, MAX_TEXT);
    return !r->failed;
}

static void free_nubs(void *items, size_t n)
{
    kx_client_nubs_free(items, n);
}

void kx_client_nubs_free(struct kx_client_nub *nubs, size_t n)
{
    for (size_t i = 0; nubs && i < n; i++)
        free(nubs[i].path);
    free(nubs);
}

kx_status kx_client_device_add(kx_client *c, const char *parent_path, const char *name,
                               const void *data, size_t len, struct kx_client_nub **nubs, size_t *n)
{
    *nubs = NULL;
    *n = 0;
    if (len > KX_MSG_MAX - 2 * MAX_TEXT_REQUEST)
        return STATUS_BUFFER_TOO_SMALL;
    uint32_t id = kxc_begin(c, KX_MSG_DEVICE_ADD);
    kx_msg_put_str(&c->out, parent_path);
    kx_msg_put_str(&c->out, name);
    kx_msg_put_bytes(&c->out, data, len);
    return list_call(c, id, KX_MSG_NUB, sizeof **nubs, decode_nub, free_nubs, (void **)nubs, n);
}

kx_status kx_client_device_remove(kx_client *c, const char *path)
{
    uint32_t id = kxc_begin(c, KX_MSG_DEVICE_REMOVE);
    kx_msg_put_str(&c->out, path);
    return kxc_simple_call(c, id, NULL);
}

kx_status kx_client_mount(kx_client *c, const char *dir)
{
    uint32_t id = kxc_begin(c, KX_MSG_MOUNT);
    kx_msg_put_str(&c->out, dir);
    return kxc_simple_call(c, id, NULL);
}

/* ---- fault injection: OK, OK(value = removed), FAULT_ENTRY* END ----------- */

kx_status kx_client_fault_set(kx_client *c, const char *target, const char *words)
{
    uint32_t id = kxc_begin(c, KX_MSG_FAULT_SET);
    kx_msg_put_str(&c->out, target);
    kx_msg_put_str(&c->out, words);
    return kxc_simple_call(c, id, NULL);
}

kx_status kx_client_fault_clear(kx_client *c, const char *target, uint64_t *n)
{
    uint32_t id = kxc_begin(c, KX_MSG_FAULT_CLEAR);
    kx_msg_put_str(&c->out, target ? target : "");
    uint64_t v = 0;
    kx_status st = kxc_simple_call(c, id, &v);
    if (n)
        *n = st == STATUS_SUCCESS ? v : 0;
    return st;
}

static int decode_fault(struct kx_msg_reader *r, void *item)
{
    struct kx_client_fault *f = item;
    f->target = kx_msg_get_str(r, MAX_TEXT);
    f->rule = kx_msg_get_str(r, MAX_TEXT);
    f->seen = kx_msg_get_u64(r);
    f->fired = kx_msg_get_u64(r);
    return !r->failed;
}

static void free_faults(void *items, size_t n) { kx_client_faults_free(items, n); }

void kx_client_faults_free(struct kx_client_fault *faults, size_t n)
{
    for (size_t i = 0; faults && i < n; i++) {
        free(faults[i].target);
        free(faults[i].rule);
    }
    free(faults);
}

kx_status kx_client_fault_list(kx_client *c, struct kx_client_fault **faults, size_t *n)
{
    uint32_t id = kxc_begin(c, KX_MSG_FAULT_LIST);
    return list_call(c, id, KX_MSG_FAULT_ENTRY, sizeof **faults, decode_fault, free_faults,
                     (void **)faults, n);
}

/* ---- events: OK(value = queued), EVENT_ENTRY* END ------------------------- */

kx_status kx_client_event_raise(kx_client *c, const char *name, const char *source,
                                const void *data, size_t len, uint32_t *n_queued)
{
    uint32_t id = kxc_begin(c, KX_MSG_EVENT_RAISE);
    kx_msg_put_str(&c->out, name);
    kx_msg_put_str(&c->out, source);
    kx_msg_put_bytes(&c->out, data, len);
    uint64_t v = 0;
    kx_status st = kxc_simple_call(c, id, &v);
    if (n_queued)
        *n_queued = st == STATUS_SUCCESS ? (uint32_t)v : 0;
    return st;
}

static int decode_event_stat(struct kx_msg_reader *r, void *item)
{
    struct kx_client_event_stat *e = item;
    e->driver = kx_msg_get_str(r, MAX_TEXT);
    e->names = kx_msg_get_str(r, MAX_TEXT);
    e->n_registrations = kx_msg_get_u32(r);
    e->n_timers = kx_msg_get_u32(r);
    e->queued = kx_msg_get_u32(r);
    e->delivered = kx_msg_get_u64(r);
    e->dropped = kx_msg_get_u64(r);
    return !r->failed;
}

void kx_client_event_stats_free(struct kx_client_event_stat *stats, size_t n)
{
    for (size_t i = 0; stats && i < n; i++) {
        free(stats[i].driver);
        free(stats[i].names);
    }
    free(stats);
}

static void free_event_stats(void *items, size_t n) { kx_client_event_stats_free(items, n); }

kx_status kx_client_event_list(kx_client *c, struct kx_client_event_stat **stats, size_t *n)
{
    uint32_t id = kxc_begin(c, KX_MSG_EVENT_LIST);
    return list_call(c, id, KX_MSG_EVENT_ENTRY, sizeof **stats, decode_event_stat,
                     free_event_stats, (void **)stats, n);
}

/* ---- kxd itself: SERVER_INFO, then SERVER_CONN* END ---------------------- */

static int decode_conn(struct kx_msg_reader *r, void *item)
{
    struct kx_client_conn *k = item;
    k->id = kx_msg_get_u64(r);
    k->pid = kx_msg_get_i32(r);
    k->uid = kx_msg_get_u32(r);
    k->pending = kx_msg_get_u32(r);
    k->handles = kx_msg_get_u32(r);
    k->bytes_held = kx_msg_get_u64(r);
    k->throttled = kx_msg_get_u32(r) != 0;
    return !r->failed;
}

static void free_conns(void *items, size_t n)
{
    (void)n;
    free(items);
}

kx_status kx_client_server(kx_client *c, struct kx_client_server *out)
{
    memset(out, 0, sizeof *out);
    uint32_t id = kxc_begin(c, KX_MSG_SERVER);
    struct kx_msg_hdr h;
    struct kx_msg_reader r;
    kx_status st = kxc_send_request(c);
    if (st == STATUS_SUCCESS)
        st = kxc_recv_reply(c, id, &h, &r);
    if (st != STATUS_SUCCESS)
        return st;
    if (h.type == KX_MSG_ERROR)
        return kxc_read_status_reply(c, &h, &r, NULL);
    if (h.type != KX_MSG_SERVER_INFO)
        return kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
    out->conn_bytes_limit = kx_msg_get_u64(&r);
    out->total_bytes_limit = kx_msg_get_u64(&r);
    out->max_conns = kx_msg_get_u32(&r);
    out->max_conns_per_user = kx_msg_get_u32(&r);
    out->n_conns = kx_msg_get_u32(&r);
    out->n_throttled = kx_msg_get_u32(&r);
    out->bytes_held = kx_msg_get_u64(&r);
    out->refused = kx_msg_get_u64(&r);
    if (kx_msg_reader_done(&r) != STATUS_SUCCESS)
        return kxc_fail_dead(c, STATUS_PROTOCOL_ERROR);
    return read_list(c, id, KX_MSG_SERVER_CONN, sizeof *out->conns, decode_conn, free_conns,
                     (void **)&out->conns, &out->n_listed);
}

void kx_client_server_free(struct kx_client_server *s)
{
    if (!s)
        return;
    free(s->conns);
    s->conns = NULL;
    s->n_listed = 0;
}
