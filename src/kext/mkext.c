/* mkext.c — reading mkext1 and mkext2 archives, bounded against hostile files.
 *
 * The archive header is checked in the kernel's order (size, magic and
 * signature, recorded length, checksum, version, CPU type) so the first
 * problem reported is the one Apple would report, in Apple's words. After
 * that, every offset and size read from the file is compared with the file
 * in 64-bit arithmetic before it is used, and recorded uncompressed sizes
 * are capped by what the codec can physically produce, so a few hostile
 * bytes can never ask for gigabytes. A problem inside one kext's data marks
 * that entry (status + message naming it) and reading goes on: a cache with
 * one damaged kext still boots the others, as the kernel's reader does.
 * Executables are decompressed and digest-checked eagerly, so a returned
 * entry whose status is STATUS_SUCCESS is ready to use.
 */
#include "mkext.h"
#include "core/why.h"

#include "core/plat.h"
#include "core/plist.h"
#include "lzss.h"
#include "mkext_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ======== CPU types (Mach-O <mach/machine.h> values) ======== */

#if defined(__x86_64__)
#define HOST_CPU_TYPE    0x01000007u /* CPU_TYPE_X86_64 */
#define HOST_CPU_SUBTYPE 3u          /* CPU_SUBTYPE_X86_64_ALL */
#elif defined(__aarch64__)
#define HOST_CPU_TYPE    0x0100000Cu /* CPU_TYPE_ARM64 */
#define HOST_CPU_SUBTYPE 0u
#elif defined(__i386__)
#define HOST_CPU_TYPE    7u /* CPU_TYPE_I386 */
#define HOST_CPU_SUBTYPE 3u
#elif defined(__arm__)
#define HOST_CPU_TYPE    12u /* CPU_TYPE_ARM */
#define HOST_CPU_SUBTYPE 0u
#elif defined(__powerpc64__)
#define HOST_CPU_TYPE    0x01000012u /* CPU_TYPE_POWERPC64 */
#define HOST_CPU_SUBTYPE 0u
#else
/* Mach-O has no CPU type for this target; 0 still identifies kx's own archives. */
#define HOST_CPU_TYPE    0u
#define HOST_CPU_SUBTYPE 0u
#endif

uint32_t kx_mkext_host_cpu_type(void)
{
    return HOST_CPU_TYPE;
}
uint32_t kx_mkext_host_cpu_subtype(void)
{
    return HOST_CPU_SUBTYPE;
}

const char *kx_mkext_cpu_name(uint32_t cpu_type)
{
    switch (cpu_type) {
    case 0x01000007u: return "x86_64";
    case 7u: return "i386";
    case 0x0100000Cu: return "arm64";
    case 12u: return "arm";
    case 18u: return "ppc";
    case 0x01000012u: return "ppc64";
    case KX_MKEXT_CPU_ANY: return "any";
    default: return "unknown";
    }
}

/* ======== Errors ======== */

/* Marks one entry bad; reading continues with the next. The message leads
 * with the best name the entry has. Returns STATUS_SUCCESS, or
 * STATUS_INSUFFICIENT_RESOURCES when even the message cannot be stored. */
static kx_status entry_fail(struct kx_mkext *m, size_t idx, kx_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static kx_status entry_fail(struct kx_mkext *m, size_t idx, kx_status st, const char *fmt, ...)
{
    struct kx_mkext_entry *e = &m->entries[idx];
    char problem[256], num[32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    snprintf(num, sizeof num, "entry %zu", idx);
    const char *name = e->bundle_path ? e->bundle_path : e->bundle_id ? e->bundle_id : num;
    free(e->executable); /* bytes that failed a check are not handed out */
    e->executable = NULL;
    e->executable_len = 0;
    e->status = st;
    m->n_bad++;
    if (asprintf(&e->message, "%s: %s", name, problem) < 0) {
        e->message = NULL;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    return STATUS_SUCCESS;
}

/* ======== Files inside the archive ======== */

enum codec { CODEC_ZLIB, CODEC_LZSS };

/* The file stored at [off, off + stored) as a malloc'ed buffer of exactly
 * full bytes, where stored is comp, or full when comp is 0 (not
 * compressed). On failure *problem says what is wrong. */
static kx_status extract(const uint8_t *base, size_t len, uint64_t off, uint32_t comp,
                         uint32_t full, enum codec codec, uint8_t **out, const char **problem)
{
    *out = NULL;
    uint64_t stored = comp ? comp : full;
    uint64_t max_ratio = codec == CODEC_ZLIB ? KX_ZLIB_MAX_RATIO : KX_LZSS_MAX_RATIO;
    if (off > len || stored > len - off) {
        *problem = "file runs past the end of the archive";
        return STATUS_DATA_ERROR;
    }
    if (full > KX_MKEXT_MAX_FILE_BYTES) {
        *problem = "file is larger than kx accepts";
        return STATUS_DATA_ERROR;
    }
    if (comp && full > (uint64_t)comp * max_ratio) {
        *problem = "Uncompressed file is not the length recorded.";
        return STATUS_DATA_ERROR;
    }
    uint8_t *buf = malloc(full ? full : 1);
    if (!buf)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (!comp) {
        memcpy(buf, base + off, full);
        *out = buf;
        return STATUS_SUCCESS;
    }
    size_t got = 0;
    kx_status st = STATUS_SUCCESS;
    if (codec == CODEC_ZLIB) {
        uLongf dst_len = full;
        uLong src_len = comp;
        int rc = uncompress2(buf, &dst_len, base + off, &src_len);
        if (rc == Z_BUF_ERROR) { /* more data than recorded */
            st = STATUS_DATA_ERROR;
        } else if (rc != Z_OK) {
            *problem = rc == Z_MEM_ERROR ? "out of memory" : "zlib data is corrupt";
            st = rc == Z_MEM_ERROR ? STATUS_INSUFFICIENT_RESOURCES : STATUS_DATA_ERROR;
            free(buf);
            return st;
        }
        got = dst_len;
    } else {
        st = kx_lzss_decompress(buf, full, base + off, comp, &got);
        if (st == STATUS_DATA_ERROR) {
            *problem = "LZSS data ends inside a reference";
            free(buf);
            return st;
        }
    }
    if (st != STATUS_SUCCESS || got != full) {
        *problem = "Uncompressed file is not the length recorded.";
        free(buf);
        return STATUS_DATA_ERROR;
    }
    *out = buf;
    return STATUS_SUCCESS;
}

/* Checks the executable against _KXExecutableSHA256 when the entry has one. */
static kx_status check_digest(struct kx_mkext *m, size_t idx, plist_t digest)
{
    struct kx_mkext_entry *e = &m->entries[idx];
    uint64_t hex_len = 0;
    const char *hex =
        kx_plist_is(digest, PLIST_STRING) ? plist_get_string_ptr(digest, &hex_len) : NULL;
    if (!hex || hex_len != KX_SHA256_HEX_LEN - 1)
        return entry_fail(m, idx, STATUS_DATA_ERROR,
                          KX_MKEXT_KEY_EXECUTABLE_SHA256 " is not a SHA-256 hex string");
    char actual[KX_SHA256_HEX_LEN];
    kx_status st = kx_sha256_hex(e->executable, e->executable_len, actual);
    if (st != STATUS_SUCCESS)
        return st;
    if (strcasecmp(hex, actual) != 0)
        return entry_fail(m, idx, STATUS_DATA_ERROR,
                          "executable SHA-256 mismatch (recorded %s, data hashes to %s)", hex,
                          actual);
    e->executable_sha256_checked = 1;
    return STATUS_SUCCESS;
}

/* Fills the names an entry is known by; a bad info dictionary marks it. */
static kx_status take_info(struct kx_mkext *m, size_t idx, plist_t info)
{
    struct kx_mkext_entry *e = &m->entries[idx];
    if (!kx_plist_is(info, PLIST_DICT))
        return entry_fail(m, idx, STATUS_KEXT_VALIDATION_FAILED,
                          "info dictionary is a %s, not a dictionary", kx_plist_type_name(info));
    e->info = info;
    e->bundle_id = kx_plist_string(info, "CFBundleIdentifier", NULL);
    e->bundle_version = kx_plist_string(info, "CFBundleVersion", NULL);
    e->bundle_path = kx_plist_string(info, KX_MKEXT_KEY_BUNDLE_PATH, NULL);
    e->executable_path = kx_plist_string(info, KX_MKEXT_KEY_EXECUTABLE_PATH, NULL);
    e->info_plist_sha256 = kx_plist_string(info, KX_MKEXT_KEY_INFO_PLIST_SHA256, NULL);
    if (kx_plist_get(info, KX_MKEXT_KEY_BUNDLE_PATH) && !e->bundle_path)
        return entry_fail(m, idx, STATUS_KEXT_VALIDATION_FAILED,
                          KX_MKEXT_KEY_BUNDLE_PATH " is a %s, not a string",
                          kx_plist_type_name(kx_plist_get(info, KX_MKEXT_KEY_BUNDLE_PATH)));
    if (!e->bundle_id)
        return entry_fail(m, idx, STATUS_KEXT_VALIDATION_FAILED,
                          "Info dictionary missing required property/value: CFBundleIdentifier");
    return STATUS_SUCCESS;
}

/* ======== mkext2 ======== */

static kx_status read_entry2(struct kx_mkext *m, const uint8_t *base, size_t len, size_t idx,
                             plist_t info)
{
    struct kx_mkext_entry *e = &m->entries[idx];
    kx_status st = take_info(m, idx, info);
    if (st != STATUS_SUCCESS || e->status != STATUS_SUCCESS)
        return st;
    plist_t where = kx_plist_get(info, KX_MKEXT_KEY_EXECUTABLE);
    plist_t digest = kx_plist_get(info, KX_MKEXT_KEY_EXECUTABLE_SHA256);
    if (!where) {
        if (digest)
            return entry_fail(m, idx, STATUS_DATA_ERROR,
                              "has " KX_MKEXT_KEY_EXECUTABLE_SHA256 " but no executable");
        return STATUS_SUCCESS;
    }
    e->has_executable = 1;
    if (!kx_plist_is(where, PLIST_UINT))
        return entry_fail(m, idx, STATUS_DATA_ERROR,
                          KX_MKEXT_KEY_EXECUTABLE " is a %s, not an integer",
                          kx_plist_type_name(where));
    uint64_t off = 0;
    plist_get_uint_val(where, &off);
    if (off < KX_MKEXT2_HEADER_LEN || off > len || len - off < 8)
        return entry_fail(m, idx, STATUS_DATA_ERROR,
                          "executable file entry at offset %llu is outside the archive",
                          (unsigned long long)off);
    uint32_t comp = kx_be32_get(base + off), full = kx_be32_get(base + off + 4);
    e->executable_offset = (uint32_t)off;
    e->executable_stored_len = comp ? comp : full;
    e->executable_compressed = comp != 0;
    const char *problem = NULL;
    st = extract(base, len, off + 8, comp, full, CODEC_ZLIB, &e->executable, &problem);
    if (st == STATUS_INSUFFICIENT_RESOURCES)
        return st;
    if (st != STATUS_SUCCESS)
        return entry_fail(m, idx, st, "executable: %s", problem);
    e->executable_len = full;
    return digest ? check_digest(m, idx, digest) : STATUS_SUCCESS;
}

static kx_status read_v2(struct kx_mkext *m, const uint8_t *base, size_t len, char *why,
                         size_t why_len)
{
    struct kx_mkext_header *h = &m->header;
    if (len < KX_MKEXT2_HEADER_LEN)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "Mkext archive too small to be valid.");
    h->plist_offset = kx_be32_get(base + 32);
    h->plist_compressed_size = kx_be32_get(base + 36);
    h->plist_full_size = kx_be32_get(base + 40);
    uint64_t stored = h->plist_compressed_size ? h->plist_compressed_size : h->plist_full_size;
    if (h->plist_offset < KX_MKEXT2_HEADER_LEN || h->plist_offset > len ||
        stored > len - h->plist_offset)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "Mkext archive file overrun.");
    if (h->plist_full_size == 0 || h->plist_full_size > KX_PLIST_MAX_BYTES)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    "Mkext archive plist has an impossible size (%u bytes).", h->plist_full_size);

    uint8_t *xml = NULL;
    const char *problem = NULL;
    kx_status st = extract(base, len, h->plist_offset, h->plist_compressed_size, h->plist_full_size,
                           CODEC_ZLIB, &xml, &problem);
    if (st == STATUS_INSUFFICIENT_RESOURCES)
        return st;
    if (st != STATUS_SUCCESS)
        return kx_why(why, why_len, st, "Mkext archive plist: %s", problem);
    size_t xml_len = h->plist_full_size;
    while (xml_len && xml[xml_len - 1] == '\0') /* the writer's terminator */
        xml_len--;
    plist_t root = NULL;
    const char *reason = NULL;
    st = kx_plist_parse(xml, xml_len, &root, &reason);
    free(xml);
    if (st != STATUS_SUCCESS)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "Error unserializing mkext plist: %s.",
                    reason);
    m->plist = root;
    if (!kx_plist_is(root, PLIST_DICT))
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    "Error unserializing mkext plist: the root is not a dictionary.");
    plist_t infos = kx_plist_get(root, KX_MKEXT_KEY_INFO_DICTIONARIES);
    if (!kx_plist_is(infos, PLIST_ARRAY))
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    "Mkext archive contains no kext info dictionaries.");
    plist_t ci = kx_plist_get(root, KX_MKEXT_KEY_CACHE_INFO);
    m->cache_info = kx_plist_is(ci, PLIST_DICT) ? ci : NULL;

    size_t n = plist_array_get_size(infos);
    m->entries = calloc(n ? n : 1, sizeof *m->entries);
    if (!m->entries)
        return STATUS_INSUFFICIENT_RESOURCES;
    m->n_entries = n;
    for (size_t i = 0; i < n; i++) {
        st = read_entry2(m, base, len, i, plist_array_get_item(infos, (uint32_t)i));
        if (st != STATUS_SUCCESS)
            return st;
    }
    return STATUS_SUCCESS;
}

/* ======== mkext1 ======== */

struct v1_file {
    uint32_t offset, comp, full, mtime;
};

static struct v1_file v1_file_at(const uint8_t *p)
{
    return (struct v1_file){kx_be32_get(p), kx_be32_get(p + 4), kx_be32_get(p + 8),
                            kx_be32_get(p + 12)};
}

static int v1_file_empty(struct v1_file f)
{
    return !f.offset && !f.comp && !f.full && !f.mtime;
}

static kx_status read_entry1(struct kx_mkext *m, const uint8_t *base, size_t len, size_t idx)
{
    struct kx_mkext_entry *e = &m->entries[idx];
    const uint8_t *slot = base + KX_MKEXT_HEADER_LEN + idx * 32;
    struct v1_file pf = v1_file_at(slot), xf = v1_file_at(slot + 16);
    if (v1_file_empty(pf))
        return entry_fail(m, idx, STATUS_KEXT_VALIDATION_FAILED, "no info dictionary");

    uint8_t *xml = NULL;
    const char *problem = NULL;
    kx_status st = extract(base, len, pf.offset, pf.comp, pf.full, CODEC_LZSS, &xml, &problem);
    if (st == STATUS_INSUFFICIENT_RESOURCES)
        return st;
    if (st != STATUS_SUCCESS)
        return entry_fail(m, idx, st, "info dictionary: %s", problem);
    plist_t info = NULL;
    const char *reason = NULL;
    st = kx_plist_parse(xml, pf.full, &info, &reason);
    free(xml);
    if (st != STATUS_SUCCESS)
        return entry_fail(m, idx, STATUS_KEXT_VALIDATION_FAILED,
                          "Can't parse info dictionary XML: %s", reason);
    plist_array_append_item(m->plist, info); /* m->plist owns it from here */
    st = take_info(m, idx, info);
    if (st != STATUS_SUCCESS || e->status != STATUS_SUCCESS || v1_file_empty(xf))
        return st;

    e->has_executable = 1;
    e->executable_offset = xf.offset;
    e->executable_stored_len = xf.comp ? xf.comp : xf.full;
    e->executable_compressed = xf.comp != 0;
    st = extract(base, len, xf.offset, xf.comp, xf.full, CODEC_LZSS, &e->executable, &problem);
    if (st == STATUS_INSUFFICIENT_RESOURCES)
        return st;
    if (st != STATUS_SUCCESS)
        return entry_fail(m, idx, st, "executable: %s", problem);
    e->executable_len = xf.full;
    return STATUS_SUCCESS;
}

static kx_status read_v1(struct kx_mkext *m, const uint8_t *base, size_t len, char *why,
                         size_t why_len)
{
    uint64_t n = m->header.n_kexts;
    if (n * 32 > len - KX_MKEXT_HEADER_LEN)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "Mkext archive file overrun.");
    m->plist = plist_new_array();
    m->entries = calloc(n ? n : 1, sizeof *m->entries);
    if (!m->plist || !m->entries)
        return STATUS_INSUFFICIENT_RESOURCES;
    m->n_entries = n;
    for (size_t i = 0; i < n; i++) {
        kx_status st = read_entry1(m, base, len, i);
        if (st != STATUS_SUCCESS)
            return st;
    }
    return STATUS_SUCCESS;
}

/* ======== Archive ======== */

kx_status kx_mkext_read(const void *data, size_t len, unsigned flags, struct kx_mkext **out,
                        char *why, size_t why_len)
{
    const uint8_t *base = data;
    *out = NULL;
    if (len < KX_MKEXT_HEADER_LEN)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "Mkext archive too small to be valid.");
    struct kx_mkext_header h = {0};
    h.magic = kx_be32_get(base);
    h.signature = kx_be32_get(base + 4);
    h.length = kx_be32_get(base + 8);
    h.adler32 = kx_be32_get(base + 12);
    h.version = kx_be32_get(base + 16);
    h.n_kexts = kx_be32_get(base + 20);
    h.cpu_type = kx_be32_get(base + 24);
    h.cpu_subtype = kx_be32_get(base + 28);
    if (h.magic != KX_MKEXT_MAGIC || h.signature != KX_MKEXT_SIGNATURE)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    "Mkext archive has invalid magic or signature.");
    if (h.length != len)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    "Mkext archive recorded length doesn't match actual file length.");
    if (len > INT32_MAX) /* the kernel's checksum span limit */
        return kx_why(why, why_len, STATUS_DATA_ERROR, "Mkext archive too large.");
    if (kx_mkext_checksum(base, len) != h.adler32)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "Mkext archive has bad checksum.");
    if (h.version != KX_MKEXT_VERSION_1 && h.version != KX_MKEXT_VERSION_2)
        return kx_why(why, why_len, STATUS_NOT_SUPPORTED,
                    "Mkext archive has unsupported mkext version 0x%08x.", h.version);
    if (h.version == KX_MKEXT_VERSION_2 && h.cpu_type == KX_MKEXT_CPU_ANY)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    "Mkext archive must have a specific CPU type.");
    if (!(flags & KX_MKEXT_READ_ANY_CPU) && h.cpu_type != KX_MKEXT_CPU_ANY &&
        h.cpu_type != HOST_CPU_TYPE)
        return kx_why(why, why_len, STATUS_NOT_SUPPORTED,
                    "Mkext archive is for CPU type %s (0x%08x), not this machine's %s.",
                    kx_mkext_cpu_name(h.cpu_type), h.cpu_type, kx_mkext_cpu_name(HOST_CPU_TYPE));

    struct kx_mkext *m = calloc(1, sizeof *m);
    if (!m)
        return STATUS_INSUFFICIENT_RESOURCES;
    m->header = h;
    m->format = h.version == KX_MKEXT_VERSION_1 ? 1 : 2;
    kx_status st =
        m->format == 1 ? read_v1(m, base, len, why, why_len) : read_v2(m, base, len, why, why_len);
    if (st != STATUS_SUCCESS) {
        if (st == STATUS_INSUFFICIENT_RESOURCES)
            kx_why(why, why_len, st, "out of memory reading the mkext archive");
        kx_mkext_free(m);
        return st;
    }
    *out = m;
    return STATUS_SUCCESS;
}

kx_status kx_mkext_read_file(const char *path, unsigned flags, struct kx_mkext **out, char *why,
                             size_t why_len)
{
    void *data;
    size_t len;
    *out = NULL;
    kx_status st = kx_plat_read_file(path, (size_t)INT32_MAX, &data, &len);
    if (st == STATUS_BUFFER_TOO_SMALL)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "Mkext archive too large.");
    if (st != STATUS_SUCCESS)
        return kx_why(why, why_len, st, "%s", kx_status_string(st));
    st = kx_mkext_read(data, len, flags, out, why, why_len);
    free(data);
    return st;
}

void kx_mkext_free(struct kx_mkext *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_entries; i++) {
        free(m->entries[i].executable);
        free(m->entries[i].message);
    }
    free(m->entries);
    if (m->plist)
        plist_free(m->plist);
    free(m);
}

kx_status kx_mkext2_file_at(const void *archive, size_t len, uint64_t offset, uint8_t **out,
                            size_t *out_len, char *why, size_t why_len)
{
    const uint8_t *base = archive;
    const char *problem = NULL;
    *out = NULL;
    *out_len = 0;
    if (offset < KX_MKEXT2_HEADER_LEN || offset > len || len - offset < 8)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    "file entry at offset %llu is outside the archive",
                    (unsigned long long)offset);
    uint32_t comp = kx_be32_get(base + offset), full = kx_be32_get(base + offset + 4);
    kx_status st = extract(base, len, offset + 8, comp, full, CODEC_ZLIB, out, &problem);
    if (st == STATUS_INSUFFICIENT_RESOURCES)
        return kx_why(why, why_len, st, "out of memory reading a file entry");
    if (st != STATUS_SUCCESS)
        return kx_why(why, why_len, st, "file entry at offset %llu: %s", (unsigned long long)offset,
                    problem);
    *out_len = full;
    return STATUS_SUCCESS;
}
