/* msg.h — kx's wire protocol between kxd and its clients.
 *
 * Every message is a fixed 20-byte header followed by `len` payload bytes:
 *
 *     magic u32 'KXMS' | version u16 | type u16 | len u32 | req_id u32 | flags u32
 *
 * all little-endian (AF_UNIX only, but the encoding is explicit so the format
 * never depends on a struct layout). A peer rejects a message whose magic or
 * version is wrong, whose type is unknown, or whose len exceeds KX_MSG_MAX
 * before reading the payload; each type then decodes its payload with a
 * bounded reader and must consume it exactly (OpenBSD imsg's rule). Replies
 * echo the request's req_id so a client may keep several requests in flight.
 * Listings stream one *_ENTRY message per record and end with a *_END
 * message carrying the count. Documents (the registry, the catalogue, a
 * match report: one tree or one JSON text) stream as CHUNK messages and end
 * with END carrying the total length, so a registry of any size crosses in
 * messages no longer than KX_MSG_CHUNK_MAX; a client refuses a document
 * longer than KX_MSG_DOC_MAX, and kxd never sends one.
 *
 * The payload is a sequence of fields: u32, u64, i32 and byte strings
 * (u32 length + bytes). Text strings are byte strings without NUL bytes.
 * Field order per type is documented next to each type below.
 */
#ifndef KX_PROTO_MSG_H
#define KX_PROTO_MSG_H

#include <kx/client.h>
#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>

#define KX_MSG_MAGIC     0x534D584Bu /* "KXMS" */
#define KX_MSG_VERSION   1
#define KX_MSG_HDR_LEN   20
#define KX_MSG_MAX       ((uint32_t)4 << 20) /* payload bytes; bigger I/O is split by the client */
#define KX_MSG_CHUNK_MAX ((uint32_t)1 << 20) /* data bytes in one CHUNK */
#define KX_MSG_DOC_MAX   ((uint64_t)256 << 20) /* bytes in one chunked document */

/* XX(name, value). Requests from clients, replies from kxd. */
#define KX_MSG_TYPES(XX)                                                          \
    XX(KX_MSG_ERROR, 1)       /* reply: status i32, message str */                \
    XX(KX_MSG_OK, 2)          /* reply: status i32, u64 value, message str */     \
    XX(KX_MSG_OPEN, 10)       /* path str, access u32 -> OK(value = handle) */    \
    XX(KX_MSG_CLOSE, 11)      /* handle u32 -> OK */                              \
    XX(KX_MSG_READ, 12)       /* handle u32, offset u64, length u32, timeout_ms u32 -> DATA */ \
    XX(KX_MSG_WRITE, 13)      /* handle u32, offset u64, timeout_ms u32, data bytes -> OK(value = information) */ \
    XX(KX_MSG_IOCTL, 14)      /* handle u32, code u32, out_len u32, timeout_ms u32, in bytes -> DATA */ \
    XX(KX_MSG_DATA, 15)       /* reply: status i32, information u64, data bytes */ \
    XX(KX_MSG_LOAD, 20)       /* flags u32, kext str (path or bundle ID) -> OK(message = report) */ \
    XX(KX_MSG_UNLOAD, 21)     /* flags u32, bundle ID or path str -> OK(message = report) */ \
    XX(KX_MSG_STAT, 22)       /* (empty) -> STAT_ENTRY* STAT_END */               \
    XX(KX_MSG_STAT_ENTRY, 23) /* tag u32, refs i32, address u64, size u64, wired u64, id str, version str, uuid str, path str, n u32, tag u32 * n, host_pid i32, host_state u32, restarts u32, host_note str */ \
    XX(KX_MSG_LS, 24)         /* (empty) -> LS_ENTRY* LS_END */                   \
    XX(KX_MSG_LS_ENTRY, 25)   /* kind u32 (0 link, 1 device), name str, target str, driver str, uid u32, gid u32, mode u32, handles u32, host_pid i32 */ \
    XX(KX_MSG_LOG, 26)        /* since u64 -> LOG_ENTRY* LOG_END */               \
    XX(KX_MSG_LOG_ENTRY, 27)  /* seq u64, time_ns u64, source str, text str */       \
    XX(KX_MSG_END, 28)        /* reply: status i32, count u64 — ends a listing */ \
    XX(KX_MSG_SERVER, 29)     /* (empty) -> SERVER_INFO SERVER_CONN* END(count of SERVER_CONN) */ \
    XX(KX_MSG_SERVER_INFO, 30) /* conn_bytes u64, total_bytes u64, max_conns u32, max_conns_per_user u32, conns u32, throttled u32, bytes_held u64, refused u64 */ \
    XX(KX_MSG_SERVER_CONN, 31) /* id u64, pid i32, uid u32, pending u32, handles u32, bytes_held u64, throttled u32 */ \
    XX(KX_MSG_REGISTRY, 32)   /* plane u32 (0 IOService, 1 IODeviceTree) -> CHUNK* END: the plane's tree from Root as a binary plist, ioreg -a's form with kxd's ids and states */ \
    XX(KX_MSG_CATALOG, 33)    /* (empty) -> CHUNK* END: kxd's IOCatalogue as kx catalog --json writes it */ \
    XX(KX_MSG_MATCH_REPORT, 34) /* (empty) -> CHUNK* END: a matching dry run on kxd's registry and catalogue, kx match --json's document */ \
    XX(KX_MSG_CHUNK, 35)      /* data bytes (at most KX_MSG_CHUNK_MAX): the next piece of a document */ \
    XX(KX_MSG_DEVICE_ADD, 36) /* parent path str, file name str, tree bytes (plist, ioreg -a form) -> NUB* END; root only */ \
    XX(KX_MSG_NUB, 37)        /* id u64, IOService path str: an entry device add published */ \
    XX(KX_MSG_DEVICE_REMOVE, 38) /* path str -> OK: the entry and everything above it terminated; root only */ \
    XX(KX_MSG_MOUNT, 39)      /* absolute folder str -> OK: kxd serves its /dev links as files there (FUSE); root or kxd's user */ \
    XX(KX_MSG_FAULT_SET, 40)  /* target str (device path or bundle ID), rule words str (kx/fault.h) -> OK(message = the rule as kept); root or kxd's user */ \
    XX(KX_MSG_FAULT_CLEAR, 41) /* target str ("" every rule) -> OK(value = rules removed); root or kxd's user */ \
    XX(KX_MSG_FAULT_LIST, 42) /* (empty) -> FAULT_ENTRY* END; root or kxd's user */ \
    XX(KX_MSG_FAULT_ENTRY, 43) /* target str, rule words str, seen u64, fired u64 */ \
    XX(KX_MSG_EVENT_RAISE, 50) /* name str, source str, data bytes -> OK(value = drivers it was queued for); root or kxd's user */ \
    XX(KX_MSG_EVENT_LIST, 51) /* (empty) -> EVENT_ENTRY* END */ \
    XX(KX_MSG_EVENT_ENTRY, 52) /* driver str, names str, registrations u32, timers u32, queued u32, delivered u64, dropped u64 */ \
    XX(KX_MSG_DEVICE_PEEK, 55) /* component address str, offset u32, length u32 -> DATA; root or kxd's user */ \
    XX(KX_MSG_DEVICE_POKE, 56) /* component address str, offset u32, data bytes -> OK(value = bytes written); root or kxd's user */ \
    XX(KX_MSG_RING, 60)       /* (empty) -> OK then the ring's descriptors: proto/ring_proto.h */

enum kx_msg_type {
#define KX_MSG_ENUM(name, value) name = value,
    KX_MSG_TYPES(KX_MSG_ENUM)
#undef KX_MSG_ENUM
};

struct kx_msg_hdr {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t len;
    uint32_t req_id;
    uint32_t flags;
};

/* Name of a type for logs ("KX_MSG_OPEN"), or NULL when the type is unknown. */
const char *kx_msg_type_name(uint16_t type);

void kx_msg_hdr_encode(const struct kx_msg_hdr *h, uint8_t out[KX_MSG_HDR_LEN]);
/* Decodes and validates magic, version, type and length. STATUS_PROTOCOL_ERROR
 * with *why set (static text) when any is wrong. */
kx_status kx_msg_hdr_decode(const uint8_t in[KX_MSG_HDR_LEN], struct kx_msg_hdr *h,
                            const char **why);

/* ---- building a message ------------------------------------------------- */

/* A growable buffer holding header + payload. Zero-initialise, then
 * kx_msg_begin. On allocation failure the builder is marked failed and every
 * later call is a no-op; kx_msg_finish reports it. */
struct kx_msg_builder {
    uint8_t *buf;
    size_t len, cap;
    size_t start; /* where the message being built begins */
    int failed;
};

void kx_msg_begin(struct kx_msg_builder *b, uint16_t type, uint32_t req_id);
/* Another message after the finished ones already in b: a batch sent with
 * one write. */
void kx_msg_begin_next(struct kx_msg_builder *b, uint16_t type, uint32_t req_id);
void kx_msg_put_u32(struct kx_msg_builder *b, uint32_t v);
void kx_msg_put_u64(struct kx_msg_builder *b, uint64_t v);
void kx_msg_put_i32(struct kx_msg_builder *b, int32_t v);
void kx_msg_put_bytes(struct kx_msg_builder *b, const void *data, size_t len);
void kx_msg_put_str(struct kx_msg_builder *b, const char *s); /* NULL is sent as "" */
/* Fills in the (last begun) header's length. STATUS_INSUFFICIENT_RESOURCES after an
 * allocation failure, STATUS_BUFFER_TOO_SMALL when the payload exceeds KX_MSG_MAX. */
kx_status kx_msg_finish(struct kx_msg_builder *b);
void kx_msg_builder_free(struct kx_msg_builder *b);

/* ---- reading a payload -------------------------------------------------- */

/* A bounded cursor over one payload. Reads past the end or malformed fields
 * set `failed`; values read after a failure are zero/empty. */
struct kx_msg_reader {
    const uint8_t *p;
    size_t left;
    int failed;
};

void kx_msg_reader_init(struct kx_msg_reader *r, const void *payload, size_t len);
uint32_t kx_msg_get_u32(struct kx_msg_reader *r);
uint64_t kx_msg_get_u64(struct kx_msg_reader *r);
int32_t kx_msg_get_i32(struct kx_msg_reader *r);
/* Borrowed pointer into the payload; *len set. */
const void *kx_msg_get_bytes(struct kx_msg_reader *r, size_t *len);
/* A malloc'ed NUL-terminated copy; fails on embedded NUL bytes or strings
 * longer than max_len. NULL when failed. */
char *kx_msg_get_str(struct kx_msg_reader *r, size_t max_len);
/* STATUS_SUCCESS when nothing failed and every byte was consumed. */
kx_status kx_msg_reader_done(const struct kx_msg_reader *r);

#endif /* KX_PROTO_MSG_H */
