/* msg.c — encoding and bounded decoding of kx wire messages (see msg.h). */
#include "msg.h"

#include <stdlib.h>
#include <string.h>

const char *kx_msg_type_name(uint16_t type)
{
    switch (type) {
#define KX_MSG_CASE(name, value)                                                                   \
    case value: return #name;
        KX_MSG_TYPES(KX_MSG_CASE)
#undef KX_MSG_CASE
    }
    return NULL;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void kx_msg_hdr_encode(const struct kx_msg_hdr *h, uint8_t out[KX_MSG_HDR_LEN])
{
    put_le32(out, h->magic);
    put_le32(out + 4, (uint32_t)h->version | (uint32_t)h->type << 16);
    put_le32(out + 8, h->len);
    put_le32(out + 12, h->req_id);
    put_le32(out + 16, h->flags);
}

kx_status kx_msg_hdr_decode(const uint8_t in[KX_MSG_HDR_LEN], struct kx_msg_hdr *h,
                            const char **why)
{
    uint32_t vt = get_le32(in + 4);
    h->magic = get_le32(in);
    h->version = (uint16_t)(vt & 0xFFFF);
    h->type = (uint16_t)(vt >> 16);
    h->len = get_le32(in + 8);
    h->req_id = get_le32(in + 12);
    h->flags = get_le32(in + 16);
    *why = NULL;
    if (h->magic != KX_MSG_MAGIC)
        *why = "bad magic (not a kx message)";
    else if (h->version != KX_MSG_VERSION)
        *why = "unsupported protocol version";
    else if (!kx_msg_type_name(h->type))
        *why = "unknown message type";
    else if (h->len > KX_MSG_MAX)
        *why = "message longer than the protocol allows";
    return *why ? STATUS_PROTOCOL_ERROR : STATUS_SUCCESS;
}

static uint8_t *reserve(struct kx_msg_builder *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *nb = realloc(b->buf, cap);
        if (!nb) {
            b->failed = 1;
            return NULL;
        }
        b->buf = nb;
        b->cap = cap;
    }
    uint8_t *p = b->buf + b->len;
    b->len += n;
    return p;
}

void kx_msg_begin(struct kx_msg_builder *b, uint16_t type, uint32_t req_id)
{
    b->len = 0;
    b->failed = 0;
    kx_msg_begin_next(b, type, req_id);
}

void kx_msg_begin_next(struct kx_msg_builder *b, uint16_t type, uint32_t req_id)
{
    b->start = b->len;
    uint8_t *p = reserve(b, KX_MSG_HDR_LEN);
    if (p) {
        struct kx_msg_hdr h = {KX_MSG_MAGIC, KX_MSG_VERSION, type, 0, req_id, 0};
        kx_msg_hdr_encode(&h, p);
    }
}

void kx_msg_put_u32(struct kx_msg_builder *b, uint32_t v)
{
    uint8_t *p = reserve(b, 4);
    if (p)
        put_le32(p, v);
}

void kx_msg_put_u64(struct kx_msg_builder *b, uint64_t v)
{
    kx_msg_put_u32(b, (uint32_t)v);
    kx_msg_put_u32(b, (uint32_t)(v >> 32));
}

void kx_msg_put_i32(struct kx_msg_builder *b, int32_t v)
{
    kx_msg_put_u32(b, (uint32_t)v);
}

void kx_msg_put_bytes(struct kx_msg_builder *b, const void *data, size_t len)
{
    if (len > KX_MSG_MAX) {
        b->failed = 1;
        return;
    }
    kx_msg_put_u32(b, (uint32_t)len);
    uint8_t *p = reserve(b, len);
    if (p && len)
        memcpy(p, data, len);
}

void kx_msg_put_str(struct kx_msg_builder *b, const char *s)
{
    kx_msg_put_bytes(b, s ? s : "", s ? strlen(s) : 0);
}

kx_status kx_msg_finish(struct kx_msg_builder *b)
{
    if (b->failed || !b->buf)
        return STATUS_INSUFFICIENT_RESOURCES;
    size_t payload = b->len - b->start - KX_MSG_HDR_LEN;
    if (payload > KX_MSG_MAX)
        return STATUS_BUFFER_TOO_SMALL;
    put_le32(b->buf + b->start + 8, (uint32_t)payload);
    return STATUS_SUCCESS;
}

void kx_msg_builder_free(struct kx_msg_builder *b)
{
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
}

void kx_msg_reader_init(struct kx_msg_reader *r, const void *payload, size_t len)
{
    r->p = payload;
    r->left = len;
    r->failed = 0;
}

static const uint8_t *take(struct kx_msg_reader *r, size_t n)
{
    if (r->failed || r->left < n) {
        r->failed = 1;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint32_t kx_msg_get_u32(struct kx_msg_reader *r)
{
    const uint8_t *p = take(r, 4);
    return p ? get_le32(p) : 0;
}

uint64_t kx_msg_get_u64(struct kx_msg_reader *r)
{
    uint64_t lo = kx_msg_get_u32(r);
    uint64_t hi = kx_msg_get_u32(r);
    return lo | hi << 32;
}

int32_t kx_msg_get_i32(struct kx_msg_reader *r)
{
    return (int32_t)kx_msg_get_u32(r);
}

const void *kx_msg_get_bytes(struct kx_msg_reader *r, size_t *len)
{
    uint32_t n = kx_msg_get_u32(r);
    const uint8_t *p = take(r, n);
    *len = p ? n : 0;
    return p ? p : (const void *)"";
}

char *kx_msg_get_str(struct kx_msg_reader *r, size_t max_len)
{
    size_t n;
    const char *p = kx_msg_get_bytes(r, &n);
    if (r->failed || n > max_len || memchr(p, '\0', n)) {
        r->failed = 1;
        return NULL;
    }
    char *s = malloc(n + 1);
    if (!s) {
        r->failed = 1;
        return NULL;
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

kx_status kx_msg_reader_done(const struct kx_msg_reader *r)
{
    return r->failed || r->left ? STATUS_PROTOCOL_ERROR : STATUS_SUCCESS;
}
