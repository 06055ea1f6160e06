/* xport_sock.c — the transport on a SOCK_SEQPACKET socketpair.
 *
 * A packet holds whole records back to back (header, payload, padding to 8
 * bytes), so a batch of small records costs one sendmsg and one recvmsg. A
 * record larger than a packet travels alone: its first packet carries the
 * header (marked XF_BIG) and the start of the payload, the next packets the
 * rest, raw; the receiver reassembles it into a buffer of its own. Senders
 * share one lock so the pieces of a large record are never interleaved with
 * another thread's records.
 */
#include "xport.h"

#include "plat.h"
#include "plat_proc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PACKET_MAX (64u << 10)
#define XF_BIG     0x8000u /* transport flag: the record continues in raw packets */
#define MAX_IOV    64

struct xsock {
    struct kx_xport x; /* first */
    int fd;
    pthread_mutex_t send_lock; /* guards the socket's send side */
};

static const unsigned char pad_bytes[8];

static size_t padded(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* An iovec over bytes the kernel only reads (struct iovec has no const). */
static struct iovec out_iov(const void *p, size_t len)
{
    struct iovec v = {NULL, len};
    memcpy(&v.iov_base, &p, sizeof v.iov_base);
    return v;
}

static size_t rec_size(const struct kx_xout *r)
{
    return sizeof(struct kx_xrec) + padded(r->payload_len + r->payload2_len);
}

/* Sends the pieces of one large record: header and as much payload as fits,
 * then raw packets. */
static kx_status send_big(struct xsock *s, const struct kx_xout *r, struct kx_xrec *hdr)
{
    hdr->flags |= XF_BIG;
    const unsigned char *parts[2] = {r->payload, r->payload2};
    size_t lens[2] = {r->payload_len, r->payload2_len};
    size_t room = PACKET_MAX - sizeof *hdr;
    struct iovec iov[3] = {{hdr, sizeof *hdr}};
    int n = 1;
    int pi = 0;
    size_t po = 0;
    for (;;) {
        while (room && pi < 2) {
            size_t take = lens[pi] - po < room ? lens[pi] - po : room;
            if (take)
                iov[n++] = out_iov(parts[pi] + po, take);
            room -= take;
            po += take;
            if (po == lens[pi]) {
                pi++;
                po = 0;
            }
        }
        kx_status st = kx_plat_packet_send(s->fd, iov, n);
        if (st != STATUS_SUCCESS || pi == 2)
            return st;
        n = 0;
        room = PACKET_MAX;
    }
}

static kx_status xs_send(struct kx_xport *x, const struct kx_xout *recs, size_t n)
{
    struct xsock *s = (struct xsock *)x;
    struct kx_xrec hdrs[MAX_IOV / 3];
    struct iovec iov[MAX_IOV];
    kx_status st = STATUS_SUCCESS;
    pthread_mutex_lock(&s->send_lock);
    size_t i = 0;
    while (i < n && st == STATUS_SUCCESS) {
        size_t bytes = 0;
        int ni = 0, nh = 0;
        for (; i < n && nh < MAX_IOV / 3; i++) {
            const struct kx_xout *r = &recs[i];
            size_t sz = rec_size(r);
            if (sz > PACKET_MAX) {
                if (ni) /* what came before goes first */
                    break;
                if (r->payload_len + r->payload2_len > KX_XPORT_MAX_RECORD) {
                    st = STATUS_INVALID_PARAMETER;
                    i++;
                    break;
                }
                hdrs[0] = r->hdr;
                hdrs[0].len = (uint32_t)(r->payload_len + r->payload2_len);
                hdrs[0].flags &= (uint16_t)~XF_BIG;
                st = send_big(s, r, &hdrs[0]);
                i++;
                break;
            }
            if (bytes + sz > PACKET_MAX)
                break;
            struct kx_xrec *h = &hdrs[nh++];
            *h = r->hdr;
            h->len = (uint32_t)(r->payload_len + r->payload2_len);
            h->flags &= (uint16_t)~XF_BIG;
            iov[ni++] = (struct iovec){h, sizeof *h};
            if (r->payload_len)
                iov[ni++] = out_iov(r->payload, r->payload_len);
            if (r->payload2_len)
                iov[ni++] = out_iov(r->payload2, r->payload2_len);
            size_t pad = padded(h->len) - h->len;
            if (pad) {
                if (ni == MAX_IOV) { /* no room for the padding: this one goes next time */
                    ni -= 1 + (r->payload_len != 0) + (r->payload2_len != 0);
                    nh--;
                    break;
                }
                iov[ni++] = out_iov(pad_bytes, pad);
            }
            bytes += sz;
            if (ni + 4 > MAX_IOV) {
                i++;
                break;
            }
        }
        if (ni && st == STATUS_SUCCESS)
            st = kx_plat_packet_send(s->fd, iov, ni);
    }
    pthread_mutex_unlock(&s->send_lock);
    return st;
}

static kx_status xs_recv(struct kx_xport *x, struct kx_xbatch *b)
{
    struct xsock *s = (struct xsock *)x;
    free(b->big);
    b->big = NULL;
    b->len = b->off = 0;
    if (!b->cap) {
        b->buf = malloc(PACKET_MAX);
        if (!b->buf)
            return STATUS_INSUFFICIENT_RESOURCES;
        b->cap = PACKET_MAX;
    }
    size_t got;
    kx_status st = kx_plat_packet_recv(s->fd, b->buf, b->cap, &got);
    if (st != STATUS_SUCCESS)
        return st;
    const struct kx_xrec *h = (const struct kx_xrec *)(void *)b->buf;
    if (got < sizeof *h)
        return STATUS_DATA_ERROR;
    if (!(h->flags & XF_BIG)) {
        b->len = got;
        return STATUS_SUCCESS;
    }
    size_t total = sizeof *h + h->len;
    if (h->len > KX_XPORT_MAX_RECORD || got > total)
        return STATUS_DATA_ERROR;
    unsigned char *big = malloc(padded(total));
    if (!big)
        return STATUS_INSUFFICIENT_RESOURCES;
    memcpy(big, b->buf, got);
    ((struct kx_xrec *)(void *)big)->flags &= (uint16_t)~XF_BIG;
    size_t have = got;
    while (have < total) {
        size_t cap = total - have < PACKET_MAX ? total - have : PACKET_MAX;
        st = kx_plat_packet_recv(s->fd, big + have, cap, &got);
        if (st != STATUS_SUCCESS) {
            free(big);
            return st;
        }
        have += got;
    }
    memset(big + total, 0, padded(total) - total);
    b->big = big;
    b->len = padded(total);
    return STATUS_SUCCESS;
}

static void xs_wake(struct kx_xport *x)
{
    kx_plat_packet_shutdown(((struct xsock *)x)->fd);
}

static void xs_free(struct kx_xport *x)
{
    struct xsock *s = (struct xsock *)x;
    if (!s)
        return;
    kx_plat_close(s->fd);
    pthread_mutex_destroy(&s->send_lock);
    free(s);
}

static const struct kx_xport_ops xsock_ops = {
    .send = xs_send, .recv = xs_recv, .wake = xs_wake, .free = xs_free}; /* no polling: recv only */

kx_status kx_xport_sock_new(int fd, struct kx_xport **out)
{
    *out = NULL;
    struct xsock *s = calloc(1, sizeof *s);
    if (!s || pthread_mutex_init(&s->send_lock, NULL)) {
        free(s);
        kx_plat_close(fd);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    s->x.ops = &xsock_ops;
    s->fd = fd;
    *out = &s->x;
    return STATUS_SUCCESS;
}

int kx_xport_next(struct kx_xbatch *b, const struct kx_xrec **hdr, const unsigned char **payload)
{
    unsigned char *base = b->big ? b->big : b->buf;
    if (b->off + sizeof(struct kx_xrec) > b->len)
        return 0;
    const struct kx_xrec *h = (const struct kx_xrec *)(void *)(base + b->off);
    size_t next = b->off + sizeof *h + padded(h->len);
    if (next > b->len || next < b->off) { /* a malformed batch ends here */
        b->off = b->len;
        return 0;
    }
    *hdr = h;
    *payload = base + b->off + sizeof *h;
    b->off = next;
    return 1;
}

void kx_xbatch_free(struct kx_xbatch *b)
{
    free(b->buf);
    free(b->big);
    memset(b, 0, sizeof *b);
}
