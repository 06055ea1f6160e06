/* klog.c — the kernel log: a bounded ring of lines (DkPrint's "[DK] ..." and
 * the manager's "[IO] ..."), read by `kx log`.
 *
 * Fixed-size entries, allocated on the first line: writing never allocates
 * and a flood from one driver only overwrites the oldest lines (their
 * sequence numbers then show the gap to a reader).
 */
#include "io_int.h"

#include "core/plat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct io_klog_entry {
    uint64_t seq;
    int64_t wall_ns;
    uint64_t uptime_ns;
    char source[64];
    char text[KX_IO_LOG_TEXT_MAX];
};

kx_status kx__klog_init(struct kx_io *io, uint32_t lines)
{
    io->klog = NULL;
    io->klog_cap = lines;
    io->klog_n = io->klog_head = 0;
    io->klog_seq = 0;
    return pthread_mutex_init(&io->klog_lock, NULL) ? STATUS_INSUFFICIENT_RESOURCES
                                                    : STATUS_SUCCESS;
}

void kx__klog_destroy(struct kx_io *io)
{
    free(io->klog);
    pthread_mutex_destroy(&io->klog_lock);
}

void kx__klog_add(struct kx_io *io, const char *source, const char *prefix, const char *text)
{
    int64_t wall = kx_plat_wall_ns();
    uint64_t up = kx_plat_monotonic_ns() - io->start_ns;
    pthread_mutex_lock(&io->klog_lock);
    if (!io->klog && !(io->klog = calloc(io->klog_cap, sizeof *io->klog))) {
        pthread_mutex_unlock(&io->klog_lock);
        return;
    }
    uint32_t slot = (io->klog_head + io->klog_n) % io->klog_cap;
    if (io->klog_n == io->klog_cap)
        io->klog_head = (io->klog_head + 1) % io->klog_cap;
    else
        io->klog_n++;
    struct io_klog_entry *e = &io->klog[slot];
    e->seq = ++io->klog_seq;
    e->wall_ns = wall;
    e->uptime_ns = up;
    snprintf(e->source, sizeof e->source, "%s", source ? source : "kx");
    snprintf(e->text, sizeof e->text, "%s%s", prefix ? prefix : "", text);
    pthread_mutex_unlock(&io->klog_lock);
}

size_t kx_io_log_read(struct kx_io *io, uint64_t after_seq, struct kx_io_log_line *out,
                      size_t max)
{
    if (!io || !out)
        return 0;
    size_t got = 0;
    pthread_mutex_lock(&io->klog_lock);
    for (uint32_t i = 0; i < io->klog_n && got < max; i++) {
        const struct io_klog_entry *e = &io->klog[(io->klog_head + i) % io->klog_cap];
        if (e->seq <= after_seq)
            continue;
        struct kx_io_log_line *l = &out[got++];
        l->seq = e->seq;
        l->wall_ns = e->wall_ns;
        l->uptime_ns = e->uptime_ns;
        memcpy(l->source, e->source, sizeof l->source);
        memcpy(l->text, e->text, sizeof l->text);
    }
    pthread_mutex_unlock(&io->klog_lock);
    return got;
}

void kx_io_log_format(const struct kx_io_log_line *line, char *buf, size_t size)
{
    if (!buf || !size)
        return;
    if (!line) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, size, "[%5llu.%06llu] %s: %s",
             (unsigned long long)(line->uptime_ns / 1000000000u),
             (unsigned long long)(line->uptime_ns % 1000000000u / 1000u), line->source,
             line->text);
}

void kx_io_log_write(struct kx_io *io, const char *source, const char *text)
{
    kx__klog_add(io, source, "", text);
}
