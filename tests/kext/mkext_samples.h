/* mkext_samples.h — kexts and archives shared by the test_mkext_* tests:
 * three entries (a compressible executable, an incompressible one, a
 * codeless kext), and helpers to patch an archive and fix its checksum. */
#ifndef KX_TESTS_MKEXT_SAMPLES_H
#define KX_TESTS_MKEXT_SAMPLES_H

#include "kext/mkext.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SAMPLE_INFO(id, vers)                                                                      \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\"><dict>"                    \
    "<key>CFBundleIdentifier</key><string>" id "</string>"                                         \
    "<key>CFBundleVersion</key><string>" vers "</string>"                                          \
    "<key>CFBundleExecutable</key><string>Exec</string></dict></plist>\n"

struct samples {
    uint8_t *text;  /* compresses well */
    uint8_t *noise; /* does not compress */
    size_t text_len, noise_len;
    struct kx_mkext_input in[3];
};

static inline void samples_init(struct samples *s, size_t text_len, size_t noise_len)
{
    static const char info_a[] = SAMPLE_INFO("com.example.text", "1.0.0");
    static const char info_b[] = SAMPLE_INFO("com.example.noise", "2.1b3");
    static const char info_c[] = SAMPLE_INFO("com.example.codeless", "3.0");
    memset(s, 0, sizeof *s);
    s->text_len = text_len;
    s->noise_len = noise_len;
    s->text = malloc(text_len + 1);
    s->noise = malloc(noise_len + 1);
    for (size_t i = 0; i < text_len; i++)
        s->text[i] = (uint8_t) "kx driver text "[i % 15];
    uint32_t r = 99;
    for (size_t i = 0; i < noise_len; i++) {
        r = r * 1664525u + 1013904223u;
        s->noise[i] = (uint8_t)(r >> 24);
    }
    s->in[0] = (struct kx_mkext_input){
        info_a,  sizeof info_a - 1, NULL, "/Library/Extensions/Text.kext", "Contents/MacOS/Text",
        s->text, text_len};
    s->in[1] = (struct kx_mkext_input){
        info_b,   sizeof info_b - 1, NULL, "/Library/Extensions/Noise.kext", "Contents/MacOS/Noise",
        s->noise, noise_len};
    s->in[2] = (struct kx_mkext_input){
        info_c, sizeof info_c - 1, NULL, "/Library/Extensions/Codeless.kext", NULL, NULL, 0};
}

static inline void samples_free(struct samples *s)
{
    free(s->text);
    free(s->noise);
}

static inline uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put_be32_at(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* After patching: make length and Adler-32 right again, so only the
 * reader's deeper checks can notice. */
static inline void reseal(uint8_t *a, size_t len)
{
    put_be32_at(a + 8, (uint32_t)len);
    put_be32_at(a + 12, (uint32_t)adler32(adler32(0, NULL, 0), a + 16, (uInt)(len - 16)));
}

static inline const struct kx_mkext_entry *entry_by_id(const struct kx_mkext *m, const char *id)
{
    for (size_t i = 0; i < m->n_entries; i++)
        if (m->entries[i].bundle_id && strcmp(m->entries[i].bundle_id, id) == 0)
            return &m->entries[i];
    return NULL;
}

#endif
