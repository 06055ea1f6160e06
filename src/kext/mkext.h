/* mkext.h — the kext cache: Apple's mkext archive formats, read and written.
 *
 * kx writes mkext2 (Mac OS X 10.6+): a 44-byte big-endian header, the
 * executables as file entries {compressed size (0 = stored), full size,
 * bytes} compressed with zlib when that makes them smaller, then one XML
 * plist whose `_MKEXTInfoDictionaries` array holds each kext's Info.plist
 * dictionary plus `_MKEXTBundlePath`, `_MKEXTExecutableRelativePath` and
 * `_MKEXTExecutable` (the offset of its file entry). Apple's kernel can read
 * what kx writes; kx's additions are plist keys Apple ignores:
 *
 *   per kext   _KXExecutableSHA256  string, lowercase hex SHA-256 of the
 *                                   uncompressed executable; the reader checks it
 *              _KXInfoPlistSHA256   string, SHA-256 of the Info.plist bytes the
 *                                   writer was given (of their XML form when it
 *                                   was given a parsed dictionary), so a cache
 *                                   check can compare it with the file on disk
 *   archive    _KXCacheInfo         dictionary for cache-validity metadata; the
 *                                   writer sets BuilderVersion and copies
 *                                   whatever else its caller provides
 *                                   (SourceFolders, ContentDigest, ...)
 *
 * kx reads mkext2 and mkext1 (10.2–10.5: a table of {offset, compressed
 * size, size, mtime} pairs per kext, LZSS-compressed files). Every offset
 * and size is checked against the file before use. Archive-level damage
 * (size, magic, length, checksum, version, CPU type, plist) fails the whole
 * read with Apple's message; damage to one kext (its info dictionary, its
 * executable's bytes or digest) marks only that entry, and the others stay
 * usable.
 */
#ifndef KX_KEXT_MKEXT_H
#define KX_KEXT_MKEXT_H

#include <kx/status.h>
#include <plist/plist.h>
#include <stddef.h>
#include <stdint.h>

#define KX_MKEXT_MAGIC       0x4D4B5854u /* 'MKXT' */
#define KX_MKEXT_SIGNATURE   0x4D4F5358u /* 'MOSX' */
#define KX_MKEXT_VERSION_1   0x01008000u /* 'vers' 1.0 */
#define KX_MKEXT_VERSION_2   0x02002001u /* 'vers' 2.0d1, what Apple shipped */
#define KX_MKEXT_HEADER_LEN  32          /* every version */
#define KX_MKEXT2_HEADER_LEN 44          /* plus plist offset, compressed and full size */
#define KX_MKEXT_CPU_ANY     0xFFFFFFFFu /* CPU_TYPE_ANY: mkext1 only */

#define KX_MKEXT_KEY_INFO_DICTIONARIES "_MKEXTInfoDictionaries"
#define KX_MKEXT_KEY_BUNDLE_PATH       "_MKEXTBundlePath"
#define KX_MKEXT_KEY_EXECUTABLE_PATH   "_MKEXTExecutableRelativePath"
#define KX_MKEXT_KEY_EXECUTABLE        "_MKEXTExecutable"
#define KX_MKEXT_KEY_EXECUTABLE_SHA256 "_KXExecutableSHA256"
#define KX_MKEXT_KEY_INFO_PLIST_SHA256 "_KXInfoPlistSHA256"
#define KX_MKEXT_KEY_CACHE_INFO        "_KXCacheInfo"
#define KX_MKEXT_CACHE_BUILDER_VERSION "BuilderVersion" /* key inside _KXCacheInfo */
#define KX_MKEXT_BUILDER_VERSION       "kx-mkext 1"

/* The largest file (executable or plist) a reader accepts in one entry. */
#define KX_MKEXT_MAX_FILE_BYTES ((uint32_t)512 << 20)

/* ======== Writing ======== */

/* One kext to archive. Everything is borrowed for the duration of the call. */
struct kx_mkext_input {
    const void *info_plist; /* Info.plist bytes (XML or binary)... */
    size_t info_plist_len;
    plist_t info_dict;           /* ...or, when info_plist is NULL, a parsed dictionary */
    const char *bundle_path;     /* required: "/Library/Extensions/Foo.kext" */
    const char *executable_path; /* relative to the bundle ("Contents/MacOS/Foo"); may be NULL */
    const void *executable;      /* NULL for a codeless kext */
    size_t executable_len;
};

struct kx_mkext_write_options {
    plist_t cache_info;   /* dictionary copied into _KXCacheInfo; may be NULL */
    uint32_t cpu_type;    /* Mach-O CPU type; 0 means this machine's */
    uint32_t cpu_subtype; /* used only when cpu_type is not 0 */
};

/* Builds an mkext2 archive into a malloc'ed buffer (*out, *out_len; the
 * caller frees it). opts may be NULL. Returns STATUS_INVALID_PARAMETER for a
 * bad input (no bundle path, an Info.plist that does not parse or is not a
 * dictionary, an archive past 2 GiB) with the entry named in `why`, or
 * STATUS_INSUFFICIENT_RESOURCES. */
kx_status kx_mkext_write(const struct kx_mkext_input *in, size_t n_in,
                         const struct kx_mkext_write_options *opts, void **out, size_t *out_len,
                         char *why, size_t why_len);

/* kx_mkext_write, then writes the archive to path atomically with mode 0644
 * (the mode Apple's cache check expects). */
kx_status kx_mkext_write_file(const char *path, const struct kx_mkext_input *in, size_t n_in,
                              const struct kx_mkext_write_options *opts, char *why, size_t why_len);

/* Builds an mkext1 archive the way 10.5's kextcache did (LZSS-compressed
 * XML plists and executables, stored when compression does not help, no kx
 * keys, no bundle paths). For tests and for booters that only know v1. */
kx_status kx_mkext1_write(const struct kx_mkext_input *in, size_t n_in,
                          const struct kx_mkext_write_options *opts, void **out, size_t *out_len,
                          char *why, size_t why_len);

/* ======== Reading ======== */

struct kx_mkext_header {
    uint32_t magic, signature, length, adler32, version, n_kexts, cpu_type, cpu_subtype;
    uint32_t plist_offset, plist_compressed_size, plist_full_size; /* mkext2; 0 for mkext1 */
};

/* One kext in an archive. Pointers are owned by the archive and live until
 * kx_mkext_free. */
struct kx_mkext_entry {
    plist_t info;          /* its info dictionary (with the _MKEXT/_KX keys); NULL if unreadable */
    const char *bundle_id; /* CFBundleIdentifier, or NULL */
    const char *bundle_version;  /* CFBundleVersion, or NULL */
    const char *bundle_path;     /* _MKEXTBundlePath, or NULL (always NULL in mkext1) */
    const char *executable_path; /* _MKEXTExecutableRelativePath, or NULL */
    int has_executable;
    uint8_t *executable; /* decompressed bytes; NULL when codeless or unreadable */
    size_t executable_len;
    uint32_t executable_offset;     /* where its file entry (mkext2) or data (mkext1) starts */
    uint32_t executable_stored_len; /* bytes in the archive, compressed or not */
    int executable_compressed;
    int executable_sha256_checked; /* _KXExecutableSHA256 was present and matched */
    const char *info_plist_sha256; /* _KXInfoPlistSHA256, or NULL */
    kx_status status;              /* STATUS_SUCCESS, or what is wrong with this entry */
    char *message;                 /* "<bundle path or ID or entry N>: <problem>"; NULL when fine */
};

struct kx_mkext {
    struct kx_mkext_header header;
    int format;         /* 1 or 2 */
    plist_t plist;      /* owns every info dict: the mkext2 root, or an array for mkext1 */
    plist_t cache_info; /* _KXCacheInfo (borrowed from plist), or NULL */
    struct kx_mkext_entry *entries;
    size_t n_entries;
    size_t n_bad; /* entries whose status is not STATUS_SUCCESS */
};

/* Flags for kx_mkext_read. */
#define KX_MKEXT_READ_ANY_CPU 1u /* accept an archive for another CPU (listing, not loading) */

/* Parses and checks an archive held in memory (copied where needed; data
 * may be freed afterwards). Returns STATUS_SUCCESS with *out set even when
 * some entries are bad (see n_bad); otherwise nothing is returned and `why`
 * holds Apple's message for the archive-level problem:
 *   STATUS_DATA_ERROR       too small, bad magic/signature, length, checksum,
 *                           overrun, plist that does not decompress or parse,
 *                           no _MKEXTInfoDictionaries
 *   STATUS_NOT_SUPPORTED    unknown version, or a CPU type other than this
 *                           machine's (unless KX_MKEXT_READ_ANY_CPU)
 *   STATUS_INSUFFICIENT_RESOURCES */
kx_status kx_mkext_read(const void *data, size_t len, unsigned flags, struct kx_mkext **out,
                        char *why, size_t why_len);

/* Reads the file (read errors as the platform layer reports them), then
 * kx_mkext_read. */
kx_status kx_mkext_read_file(const char *path, unsigned flags, struct kx_mkext **out, char *why,
                             size_t why_len);

void kx_mkext_free(struct kx_mkext *m);

/* Decompresses the mkext2 file entry {compressed size, full size, bytes}
 * at `offset` of an archive held in memory, with the reader's bounds: the
 * entry lies inside the archive, its size is one zlib can produce, and it
 * inflates to exactly the recorded size. For callers that locate entries
 * without parsing the plist (the boot index, boot_int.h). *out is malloc'ed
 * (the caller frees it). STATUS_DATA_ERROR with the problem in `why`, or
 * STATUS_INSUFFICIENT_RESOURCES. */
kx_status kx_mkext2_file_at(const void *archive, size_t len, uint64_t offset, uint8_t **out,
                            size_t *out_len, char *why, size_t why_len);

/* This machine's Mach-O CPU type and subtype, as archives record them. */
uint32_t kx_mkext_host_cpu_type(void);
uint32_t kx_mkext_host_cpu_subtype(void);

/* "x86_64", "arm64", "any", ... or "unknown". */
const char *kx_mkext_cpu_name(uint32_t cpu_type);

#endif /* KX_KEXT_MKEXT_H */
