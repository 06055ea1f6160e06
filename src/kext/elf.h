/* elf.h — static inspection of a kext's ELF executable (design rule 2).
 *
 * A kext's executable is read with libelf and never mapped for execution:
 * its class (is it a shared object for this machine at all?), the
 * driver-info record in ".kx_driver_info", the dynamic symbols it exports
 * and imports (imports carry the library .gnu.version_r names, so a link
 * check can tell C-runtime symbols from kernel and library-kext ones),
 * DT_NEEDED / DT_SONAME, and the GNU build-id that kextstat shows as the
 * kext's UUID.
 *
 * Executables come from untrusted bundles and mkext archives, so every
 * function bounds what it reads and reports a status plus a one-line reason
 * in the caller's `why` buffer (may be NULL); none of them crashes on a
 * hostile file. The object keeps its own copy of the bytes.
 */
#ifndef KX_KEXT_ELF_H
#define KX_KEXT_ELF_H

#include <kx/driver_info.h>
#include <kx/status.h>
#include <stddef.h>
#include <stdint.h>

/* Executables larger than this are refused before they are read. */
#define KX_ELF_MAX_BYTES ((size_t)256 << 20)

/* Room for a formatted UUID ("8-4-4-4-12" hex) or "no UUID", with the NUL. */
#define KX_ELF_UUID_LEN 37

enum kx_elf_kind {
    KX_ELF_KIND_NOT_ELF,       /* no ELF header (or too short to hold one) */
    KX_ELF_KIND_FOREIGN,       /* ELF for another machine, class or byte order */
    KX_ELF_KIND_NATIVE_OTHER,  /* ELF for this machine, but not a shared object (ET_DYN) */
    KX_ELF_KIND_NATIVE_SHARED, /* a shared object for this machine: what a kext needs */
};

/* Classifies data by its ELF header alone (the machine this build targets,
 * decided at compile time, is "native"). Never fails. */
enum kx_elf_kind kx_elf_classify(const void *data, size_t len);

/* One dynamic symbol. Strings are borrowed from the kx_elf it came from and
 * stay valid until kx_elf_close. */
struct kx_elf_symbol {
    const char *name;
    const char *version; /* "GLIBC_2.14" from .gnu.version_r/_d, or NULL when unversioned */
    const char *file;    /* imports only: the library the version requirement names
                            ("libc.so.6"), or NULL when .gnu.version_r says nothing */
    uint64_t value, size;
    unsigned char bind;       /* STB_GLOBAL or STB_WEAK */
    unsigned char type;       /* STT_FUNC, STT_OBJECT, ... */
    unsigned char visibility; /* STV_DEFAULT or STV_PROTECTED for exports */
};

/* The executable's dynamic symbols, split the way the linker sees them.
 * Arrays are malloc'ed; free with kx_elf_dynsyms_free. */
struct kx_elf_dynsyms {
    struct kx_elf_symbol *exports; /* defined, GLOBAL/WEAK, default/protected visibility */
    size_t n_exports;
    struct kx_elf_symbol *imports; /* undefined (SHN_UNDEF), GLOBAL/WEAK, named */
    size_t n_imports;
};

struct kx_elf;

/* Opens an executable held in memory (copied; the caller keeps data).
 * Succeeds only for a shared object for this machine whose section header
 * table lies inside the file. Returns:
 *   STATUS_SUCCESS                *out set; close with kx_elf_close
 *   STATUS_NOT_SUPPORTED          ELF, but foreign or not a shared object
 *   STATUS_DATA_ERROR             not ELF, truncated, or a corrupt header/section table
 *   STATUS_INSUFFICIENT_RESOURCES out of memory
 * `why` (why_len bytes, may be NULL) receives the reason on failure. */
kx_status kx_elf_open_mem(const void *data, size_t len, struct kx_elf **out, char *why,
                          size_t why_len);

/* Same for a file (read whole, at most KX_ELF_MAX_BYTES); read errors are
 * returned as the platform layer reports them. */
kx_status kx_elf_open(const char *path, struct kx_elf **out, char *why, size_t why_len);

/* Frees the object and everything borrowed from it. NULL is fine. */
void kx_elf_close(struct kx_elf *e);

/* 1 when a section with this exact name exists. */
int kx_elf_has_section(const struct kx_elf *e, const char *name);

/* Copies the driver-info record into *out after checking it: magic, ABI,
 * size (not smaller than the v1 layout, not larger than the section; larger
 * records from newer builds are accepted and their extra bytes ignored),
 * non-empty NUL-terminated name and version, and a known driver type.
 * Returns STATUS_INVALID_DRIVER_INFO (missing or malformed record),
 * STATUS_INVALID_DRIVER_TYPE (unknown type) or STATUS_DATA_ERROR (the
 * section's bytes cannot be read). */
kx_status kx_elf_driver_info(const struct kx_elf *e, struct kx_driver_info *out, char *why,
                             size_t why_len);

/* Fills *out (zeroed first) from .dynsym, .gnu.version, .gnu.version_r and
 * .gnu.version_d. An object without .dynsym has no symbols and succeeds.
 * Returns STATUS_DATA_ERROR for malformed tables, or
 * STATUS_INSUFFICIENT_RESOURCES. */
kx_status kx_elf_dynsyms(const struct kx_elf *e, struct kx_elf_dynsyms *out, char *why,
                         size_t why_len);
void kx_elf_dynsyms_free(struct kx_elf_dynsyms *s);

/* DT_NEEDED entries in file order (*needed is a malloc'ed array of borrowed
 * strings, NULL when there are none; free the array only) and DT_SONAME
 * (borrowed, NULL when absent). Either output pointer may be NULL. An object
 * without a dynamic section succeeds with nothing. Returns STATUS_DATA_ERROR
 * for a malformed dynamic section. */
kx_status kx_elf_dynamic(const struct kx_elf *e, const char ***needed, size_t *n_needed,
                         const char **soname, char *why, size_t why_len);

/* The NT_GNU_BUILD_ID note's bytes (borrowed), from the first SHT_NOTE
 * section that has one. No note: STATUS_SUCCESS with *id NULL, *id_len 0.
 * Returns STATUS_DATA_ERROR when a note section is malformed. */
kx_status kx_elf_build_id(const struct kx_elf *e, const uint8_t **id, size_t *id_len, char *why,
                          size_t why_len);

/* Formats a build-id as a kextstat-style UUID: its first 16 bytes as
 * uppercase "8-4-4-4-12" hex. Shorter ids (--build-id=fast gives 8 bytes)
 * are zero-padded on the right to 16 bytes, so they still print as a UUID
 * and stay distinct from each other. id_len 0 writes "no UUID" (kextstat's
 * text) and returns STATUS_INVALID_PARAMETER. Returns out's status; out
 * needs KX_ELF_UUID_LEN bytes. */
kx_status kx_elf_uuid_format(const uint8_t *id, size_t id_len, char out[KX_ELF_UUID_LEN]);

#endif /* KX_KEXT_ELF_H */
