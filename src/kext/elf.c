/* elf.c — reading kext executables with libelf, bounded against hostile files.
 *
 * libelf does the parsing; this file decides what to trust. Opening checks
 * the ELF header, then that the section header table and every section's
 * bytes lie inside the file, so later lookups only have to check what
 * libelf cannot know: which section links to which, and that counts and
 * offsets taken from the file stay inside the section they index. Strings
 * come from elf_strptr, which refuses offsets outside a string table and
 * strings that run off its end. The object owns a private copy of the bytes
 * because libelf wants a writable image and callers' buffers may be const
 * or short-lived.
 */
#include "elf.h"
#include "core/why.h"

#include "core/plat.h"

#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======== The machine this build produces code for ======== */

/* Decided by the compiler's target, so a cross build of kx accepts the
 * cross target's kexts. */
#if defined(__x86_64__)
#define HOST_MACHINE EM_X86_64
#define HOST_CLASS   ELFCLASS64
#elif defined(__aarch64__)
#define HOST_MACHINE EM_AARCH64
#define HOST_CLASS   ELFCLASS64
#elif defined(__i386__)
#define HOST_MACHINE EM_386
#define HOST_CLASS   ELFCLASS32
#elif defined(__arm__)
#define HOST_MACHINE EM_ARM
#define HOST_CLASS   ELFCLASS32
#elif defined(__riscv) && __riscv_xlen == 64
#define HOST_MACHINE EM_RISCV
#define HOST_CLASS   ELFCLASS64
#elif defined(__powerpc64__)
#define HOST_MACHINE EM_PPC64
#define HOST_CLASS   ELFCLASS64
#else
/* An unknown target still builds, but then no executable is native: kexts
 * are refused, never misread. Add the target's EM_* value above. */
#define HOST_MACHINE EM_NONE
#define HOST_CLASS   ELFCLASSNONE
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA ELFDATA2LSB
#else
#define HOST_DATA ELFDATA2MSB
#endif

/* The v1 record: every later layout starts with these bytes. */
#define DRIVER_INFO_V1_SIZE (offsetof(struct kx_driver_info, version) + KX_DRIVER_INFO_TEXT_MAX)

struct kx_elf {
    Elf *elf;
    char *image; /* owned copy that libelf reads */
    size_t image_len;
    size_t n_sections;
    size_t shstrndx;
};


static const char *machine_name(unsigned m)
{
    static const struct {
        unsigned em;
        const char *name;
    } names[] = {{EM_X86_64, "x86_64"}, {EM_AARCH64, "arm64"}, {EM_386, "i386"},
                 {EM_ARM, "arm"},       {EM_RISCV, "riscv"},   {EM_PPC64, "ppc64"},
                 {EM_PPC, "ppc"},       {EM_S390, "s390"},     {EM_MIPS, "mips"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].em == m)
            return names[i].name;
    return "unknown";
}

/* ======== Classification ======== */

struct header {
    enum kx_elf_kind kind;
    unsigned char cls, data;
    unsigned type, machine;
};

/* libelf reads the header from a private copy of its first bytes: enough
 * for either class, and nothing beyond it can be touched. */
static struct header read_header(const void *data, size_t len)
{
    struct header h = {KX_ELF_KIND_NOT_ELF, 0, 0, 0, 0};
    char buf[sizeof(Elf64_Ehdr)];
    size_t n = len < sizeof buf ? len : sizeof buf;
    if (n < EI_NIDENT)
        return h;
    memcpy(buf, data, n);
    if (elf_version(EV_CURRENT) == EV_NONE)
        return h;
    Elf *elf = elf_memory(buf, n);
    GElf_Ehdr eh;
    if (elf && elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &eh)) {
        h.cls = eh.e_ident[EI_CLASS];
        h.data = eh.e_ident[EI_DATA];
        h.type = eh.e_type;
        h.machine = eh.e_machine;
        if (h.cls != HOST_CLASS || h.data != HOST_DATA || h.machine != HOST_MACHINE)
            h.kind = KX_ELF_KIND_FOREIGN;
        else if (h.type != ET_DYN)
            h.kind = KX_ELF_KIND_NATIVE_OTHER;
        else
            h.kind = KX_ELF_KIND_NATIVE_SHARED;
    }
    elf_end(elf);
    return h;
}

enum kx_elf_kind kx_elf_classify(const void *data, size_t len)
{
    return read_header(data, len).kind;
}

static const char *type_name(unsigned t)
{
    switch (t) {
    case ET_EXEC: return "an executable";
    case ET_REL: return "a relocatable object";
    case ET_CORE: return "a core file";
    default: return "not a shared object";
    }
}

/* ======== Opening ======== */

static kx_status check_sections(struct kx_elf *e, char *why, size_t why_len)
{
    GElf_Ehdr eh;
    if (!gelf_getehdr(e->elf, &eh))
        return kx_why(why, why_len, STATUS_DATA_ERROR, "unreadable ELF header: %s", elf_errmsg(-1));
    if (elf_getshdrnum(e->elf, &e->n_sections) != 0)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "bad section header table: %s",
                    elf_errmsg(-1));
    if (eh.e_shoff == 0 && eh.e_shnum == 0)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    "no section headers (kx reads sections; was it stripped with sstrip?)");
    size_t entsize = gelf_fsize(e->elf, ELF_T_SHDR, 1, EV_CURRENT);
    if (eh.e_shentsize != entsize)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "section header size %u (expected %zu)",
                    (unsigned)eh.e_shentsize, entsize);
    /* libelf counts 0 sections when the table it was promised is not there. */
    size_t n_claimed = e->n_sections > eh.e_shnum ? e->n_sections : eh.e_shnum;
    if (e->n_sections == 0 || eh.e_shoff > e->image_len ||
        n_claimed > (e->image_len - eh.e_shoff) / entsize)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    "section header table (offset %llu, %zu entries) lies outside the file "
                    "(%zu bytes)",
                    (unsigned long long)eh.e_shoff, n_claimed, e->image_len);
    if (elf_getshdrstrndx(e->elf, &e->shstrndx) != 0 || e->shstrndx == SHN_UNDEF ||
        e->shstrndx >= e->n_sections)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "bad section name table index");
    for (size_t i = 0; i < e->n_sections; i++) {
        GElf_Shdr sh;
        Elf_Scn *scn = elf_getscn(e->elf, i);
        if (!scn || !gelf_getshdr(scn, &sh))
            return kx_why(why, why_len, STATUS_DATA_ERROR, "section %zu: unreadable header: %s", i,
                        elf_errmsg(-1));
        if (sh.sh_type != SHT_NOBITS &&
            (sh.sh_offset > e->image_len || sh.sh_size > e->image_len - sh.sh_offset))
            return kx_why(why, why_len, STATUS_DATA_ERROR,
                        "section %zu (offset %llu, size %llu) extends past the end of the file "
                        "(%zu bytes)",
                        i, (unsigned long long)sh.sh_offset, (unsigned long long)sh.sh_size,
                        e->image_len);
        if (i == e->shstrndx && sh.sh_type != SHT_STRTAB)
            return kx_why(why, why_len, STATUS_DATA_ERROR,
                        "section name table %zu is not a string table", i);
    }
    return STATUS_SUCCESS;
}

kx_status kx_elf_open_mem(const void *data, size_t len, struct kx_elf **out, char *why,
                          size_t why_len)
{
    *out = NULL;
    if (len > KX_ELF_MAX_BYTES)
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    "file is too large for a kext executable (%zu bytes)", len);
    struct header h = read_header(data, len);
    switch (h.kind) {
    case KX_ELF_KIND_NOT_ELF:
        if (len >= SELFMAG && memcmp(data, ELFMAG, SELFMAG) == 0)
            return kx_why(why, why_len, STATUS_DATA_ERROR, "truncated or malformed ELF header");
        return kx_why(why, why_len, STATUS_DATA_ERROR, "not an ELF file");
    case KX_ELF_KIND_FOREIGN:
        return kx_why(why, why_len, STATUS_NOT_SUPPORTED,
                    "ELF for another machine: %s (%u), %s-bit, %s-endian; this kx runs %s "
                    "(%u), %d-bit, %s-endian",
                    machine_name(h.machine), h.machine, h.cls == ELFCLASS32 ? "32" : "64",
                    h.data == ELFDATA2MSB ? "big" : "little", machine_name(HOST_MACHINE),
                    HOST_MACHINE, HOST_CLASS == ELFCLASS32 ? 32 : 64,
                    HOST_DATA == ELFDATA2MSB ? "big" : "little");
    case KX_ELF_KIND_NATIVE_OTHER:
        return kx_why(why, why_len, STATUS_NOT_SUPPORTED,
                    "ELF file is %s (type %u), not a shared object", type_name(h.type), h.type);
    case KX_ELF_KIND_NATIVE_SHARED: break;
    }

    struct kx_elf *e = calloc(1, sizeof *e);
    if (!e)
        return STATUS_INSUFFICIENT_RESOURCES;
    kx_status st = STATUS_INSUFFICIENT_RESOURCES;
    e->image = malloc(len);
    if (!e->image)
        goto fail_close;
    memcpy(e->image, data, len);
    e->image_len = len;
    e->elf = elf_memory(e->image, len);
    if (!e->elf || elf_kind(e->elf) != ELF_K_ELF) {
        st = kx_why(why, why_len, STATUS_DATA_ERROR, "libelf cannot read the file: %s",
                  elf_errmsg(-1));
        goto fail_close;
    }
    st = check_sections(e, why, why_len);
    if (st != STATUS_SUCCESS)
        goto fail_close;
    *out = e;
    return STATUS_SUCCESS;

fail_close:
    kx_elf_close(e);
    return st;
}

kx_status kx_elf_open(const char *path, struct kx_elf **out, char *why, size_t why_len)
{
    void *data;
    size_t len;
    *out = NULL;
    kx_status st = kx_plat_read_file(path, KX_ELF_MAX_BYTES, &data, &len);
    if (st == STATUS_BUFFER_TOO_SMALL)
        return kx_why(why, why_len, STATUS_DATA_ERROR, "file is too large for a kext executable");
    if (st != STATUS_SUCCESS)
        return kx_why(why, why_len, st, "%s", kx_status_string(st));
    st = kx_elf_open_mem(data, len, out, why, why_len);
    free(data);
    return st;
}

void kx_elf_close(struct kx_elf *e)
{
    if (!e)
        return;
    elf_end(e->elf);
    free(e->image);
    free(e);
}

/* ======== Sections ======== */

static Elf_Scn *find_section(const struct kx_elf *e, const char *name, GElf_Word type,
                             GElf_Shdr *sh)
{
    for (size_t i = 1; i < e->n_sections; i++) {
        Elf_Scn *scn = elf_getscn(e->elf, i);
        if (!scn || !gelf_getshdr(scn, sh))
            continue;
        if (name) {
            const char *n = elf_strptr(e->elf, e->shstrndx, sh->sh_name);
            if (n && strcmp(n, name) == 0)
                return scn;
        } else if (sh->sh_type == type) {
            return scn;
        }
    }
    return NULL;
}

int kx_elf_has_section(const struct kx_elf *e, const char *name)
{
    GElf_Shdr sh;
    return find_section(e, name, 0, &sh) != NULL;
}

/* The section's data, which must cover exactly the bytes its header claims. */
static Elf_Data *section_data(Elf_Scn *scn, const GElf_Shdr *sh, const char *what, char *why,
                              size_t why_len)
{
    Elf_Data *d = elf_getdata(scn, NULL);
    if (!d || d->d_size != sh->sh_size || (d->d_size && !d->d_buf)) {
        kx_why(why, why_len, STATUS_DATA_ERROR, "%s: unreadable section data: %s", what,
             elf_errmsg(-1));
        return NULL;
    }
    return d;
}

/* sh_link of a table must name a string table inside the file. */
static int linked_strtab_ok(const struct kx_elf *e, const GElf_Shdr *sh)
{
    GElf_Shdr ls;
    Elf_Scn *scn;
    return sh->sh_link != SHN_UNDEF && sh->sh_link < e->n_sections &&
           (scn = elf_getscn(e->elf, sh->sh_link)) && gelf_getshdr(scn, &ls) &&
           ls.sh_type == SHT_STRTAB;
}

/* ======== Driver-info record ======== */

static kx_status check_text(const char *field, const char *s, char *why, size_t why_len)
{
    if (!memchr(s, '\0', KX_DRIVER_INFO_TEXT_MAX))
        return kx_why(why, why_len, STATUS_INVALID_DRIVER_INFO,
                    KX_DRIVER_INFO_SECTION ": %s is not NUL-terminated within %d bytes", field,
                    KX_DRIVER_INFO_TEXT_MAX);
    if (!s[0])
        return kx_why(why, why_len, STATUS_INVALID_DRIVER_INFO,
                    KX_DRIVER_INFO_SECTION ": %s is empty", field);
    return STATUS_SUCCESS;
}

kx_status kx_elf_driver_info(const struct kx_elf *e, struct kx_driver_info *out, char *why,
                             size_t why_len)
{
    GElf_Shdr sh;
    memset(out, 0, sizeof *out);
    Elf_Scn *scn = find_section(e, KX_DRIVER_INFO_SECTION, 0, &sh);
    if (!scn)
        return kx_why(why, why_len, STATUS_INVALID_DRIVER_INFO,
                    "no " KX_DRIVER_INFO_SECTION " section (the driver does not use "
                    "KX_DRIVER_INFO)");
    if (sh.sh_type == SHT_NOBITS)
        return kx_why(why, why_len, STATUS_INVALID_DRIVER_INFO,
                    KX_DRIVER_INFO_SECTION " holds no bytes in the file");
    Elf_Data *d = section_data(scn, &sh, KX_DRIVER_INFO_SECTION, why, why_len);
    if (!d)
        return STATUS_DATA_ERROR;
    if (d->d_size < DRIVER_INFO_V1_SIZE)
        return kx_why(why, why_len, STATUS_INVALID_DRIVER_INFO,
                    KX_DRIVER_INFO_SECTION ": section is %zu bytes; the record needs %zu",
                    d->d_size, DRIVER_INFO_V1_SIZE);

    struct kx_driver_info rec;
    memset(&rec, 0, sizeof rec);
    memcpy(&rec, d->d_buf, DRIVER_INFO_V1_SIZE);
    if (rec.magic != KX_DRIVER_INFO_MAGIC)
        return kx_why(why, why_len, STATUS_INVALID_DRIVER_INFO,
                    KX_DRIVER_INFO_SECTION ": bad magic 0x%08x (expected 0x%08x)", rec.magic,
                    KX_DRIVER_INFO_MAGIC);
    if (rec.abi != KX_DRIVER_INFO_ABI)
        return kx_why(why, why_len, STATUS_INVALID_DRIVER_INFO,
                    KX_DRIVER_INFO_SECTION ": record ABI %u; this kx reads ABI %u", rec.abi,
                    KX_DRIVER_INFO_ABI);
    if (rec.size < DRIVER_INFO_V1_SIZE)
        return kx_why(why, why_len, STATUS_INVALID_DRIVER_INFO,
                    KX_DRIVER_INFO_SECTION ": record size %u is smaller than the v1 layout (%zu)",
                    rec.size, DRIVER_INFO_V1_SIZE);
    if (rec.size > d->d_size)
        return kx_why(why, why_len, STATUS_INVALID_DRIVER_INFO,
                    KX_DRIVER_INFO_SECTION ": record size %u exceeds its section (%zu bytes)",
                    rec.size, d->d_size);
    /* A newer build's record is longer; read the fields this kx knows. */
    if (sizeof rec > DRIVER_INFO_V1_SIZE)
        memcpy(&rec, d->d_buf, rec.size < sizeof rec ? rec.size : sizeof rec);
    kx_status st = check_text("name", rec.name, why, why_len);
    if (st == STATUS_SUCCESS)
        st = check_text("version", rec.version, why, why_len);
    if (st != STATUS_SUCCESS)
        return st;
    if (rec.type != DRIVER_TYPE_KMD && rec.type != DRIVER_TYPE_UMD && rec.type != DRIVER_TYPE_CMD)
        return kx_why(why, why_len, STATUS_INVALID_DRIVER_TYPE,
                    KX_DRIVER_INFO_SECTION ": unknown driver type %u", rec.type);
    *out = rec;
    return STATUS_SUCCESS;
}

/* ======== Dynamic section ======== */

kx_status kx_elf_dynamic(const struct kx_elf *e, const char ***needed, size_t *n_needed,
                         const char **soname, char *why, size_t why_len)
{
    const char **list = NULL;
    size_t n = 0, cap = 0;
    if (needed)
        *needed = NULL;
    if (n_needed)
        *n_needed = 0;
    if (soname)
        *soname = NULL;
    GElf_Shdr sh;
    Elf_Scn *scn = find_section(e, NULL, SHT_DYNAMIC, &sh);
    if (!scn)
        return STATUS_SUCCESS;
    if (!linked_strtab_ok(e, &sh))
        return kx_why(why, why_len, STATUS_DATA_ERROR, ".dynamic: sh_link %u is not a string table",
                    (unsigned)sh.sh_link);
    Elf_Data *d = section_data(scn, &sh, ".dynamic", why, why_len);
    if (!d)
        return STATUS_DATA_ERROR;
    size_t n_dyn = d->d_size / gelf_fsize(e->elf, ELF_T_DYN, 1, EV_CURRENT);
    for (size_t i = 0; i < n_dyn; i++) {
        GElf_Dyn dyn;
        if (!gelf_getdyn(d, (int)i, &dyn))
            break;
        if (dyn.d_tag == DT_NULL)
            break;
        if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_SONAME)
            continue;
        const char *s = elf_strptr(e->elf, sh.sh_link, dyn.d_un.d_val);
        if (!s) {
            free(list);
            return kx_why(why, why_len, STATUS_DATA_ERROR,
                        ".dynamic: entry %zu names a string outside the string table", i);
        }
        if (dyn.d_tag == DT_SONAME) {
            if (soname)
                *soname = s;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            const char **nl = realloc(list, cap * sizeof *nl);
            if (!nl) {
                free(list);
                return STATUS_INSUFFICIENT_RESOURCES;
            }
            list = nl;
        }
        list[n++] = s;
    }
    if (needed)
        *needed = list;
    else
        free(list);
    if (n_needed)
        *n_needed = n;
    return STATUS_SUCCESS;
}

/* ======== Dynamic symbols and their versions ======== */

struct version {
    unsigned idx; /* the index .gnu.version entries refer to */
    const char *name;
    const char *file; /* verneed: the library; verdef: NULL */
};

struct versions {
    struct version *items;
    size_t n_items, cap;
    size_t budget; /* records a well-formed section can hold; hostile chains revisit records */
};

static kx_status add_version(struct versions *vs, unsigned idx, const char *name, const char *file)
{
    if (vs->n_items == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 16;
        struct version *nv = realloc(vs->items, cap * sizeof *nv);
        if (!nv)
            return STATUS_INSUFFICIENT_RESOURCES;
        vs->items = nv;
        vs->cap = cap;
    }
    vs->items[vs->n_items++] = (struct version){idx, name, file};
    return STATUS_SUCCESS;
}

/* Offsets handed to gelf_get* are ints; anything past the data is rejected
 * by libelf, anything past INT_MAX by us. */
static int off_ok(size_t off)
{
    return off <= (size_t)0x7fffffff;
}

static kx_status read_verneed(const struct kx_elf *e, struct versions *vs, char *why,
                              size_t why_len)
{
    GElf_Shdr sh;
    Elf_Scn *scn = find_section(e, NULL, SHT_GNU_verneed, &sh);
    if (!scn)
        return STATUS_SUCCESS;
    if (!linked_strtab_ok(e, &sh))
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    ".gnu.version_r: sh_link is not a string table");
    Elf_Data *d = section_data(scn, &sh, ".gnu.version_r", why, why_len);
    if (!d)
        return STATUS_DATA_ERROR;
    vs->budget = d->d_size / sizeof(Elf32_Vernaux);
    size_t off = 0;
    for (size_t i = 0; i < sh.sh_info; i++) {
        GElf_Verneed vn;
        if (!off_ok(off) || !gelf_getverneed(d, (int)off, &vn))
            return kx_why(why, why_len, STATUS_DATA_ERROR,
                        ".gnu.version_r: entry %zu at offset %zu is outside the section", i, off);
        const char *file = elf_strptr(e->elf, sh.sh_link, vn.vn_file);
        if (!file)
            return kx_why(why, why_len, STATUS_DATA_ERROR,
                        ".gnu.version_r: entry %zu names a string outside the string table", i);
        size_t aux = off + vn.vn_aux;
        for (size_t j = 0; j < vn.vn_cnt; j++) {
            GElf_Vernaux va;
            if (!off_ok(aux) || !gelf_getvernaux(d, (int)aux, &va))
                return kx_why(why, why_len, STATUS_DATA_ERROR,
                            ".gnu.version_r: %s: requirement %zu is outside the section", file, j);
            const char *name = elf_strptr(e->elf, sh.sh_link, va.vna_name);
            if (!name)
                return kx_why(why, why_len, STATUS_DATA_ERROR,
                            ".gnu.version_r: %s: requirement %zu names a string outside the "
                            "string table",
                            file, j);
            if (vs->budget-- == 0)
                return kx_why(why, why_len, STATUS_DATA_ERROR,
                            ".gnu.version_r: more requirements than the section can hold");
            kx_status st = add_version(vs, va.vna_other, name, file);
            if (st != STATUS_SUCCESS)
                return st;
            if (va.vna_next == 0)
                break;
            aux += va.vna_next;
        }
        if (vn.vn_next == 0)
            break;
        off += vn.vn_next;
    }
    return STATUS_SUCCESS;
}

static kx_status read_verdef(const struct kx_elf *e, struct versions *vs, char *why, size_t why_len)
{
    GElf_Shdr sh;
    Elf_Scn *scn = find_section(e, NULL, SHT_GNU_verdef, &sh);
    if (!scn)
        return STATUS_SUCCESS;
    if (!linked_strtab_ok(e, &sh))
        return kx_why(why, why_len, STATUS_DATA_ERROR,
                    ".gnu.version_d: sh_link is not a string table");
    Elf_Data *d = section_data(scn, &sh, ".gnu.version_d", why, why_len);
    if (!d)
        return STATUS_DATA_ERROR;
    size_t off = 0;
    for (size_t i = 0; i < sh.sh_info && i <= d->d_size / sizeof(Elf32_Verdef); i++) {
        GElf_Verdef vd;
        GElf_Verdaux vda;
        if (!off_ok(off) || !gelf_getverdef(d, (int)off, &vd) || !off_ok(off + vd.vd_aux) ||
            !gelf_getverdaux(d, (int)(off + vd.vd_aux), &vda))
            return kx_why(why, why_len, STATUS_DATA_ERROR,
                        ".gnu.version_d: entry %zu at offset %zu is outside the section", i, off);
        /* The base definition names the file itself, not a symbol version. */
        if (!(vd.vd_flags & VER_FLG_BASE)) {
            const char *name = elf_strptr(e->elf, sh.sh_link, vda.vda_name);
            if (!name)
                return kx_why(why, why_len, STATUS_DATA_ERROR,
                            ".gnu.version_d: entry %zu names a string outside the string table", i);
            kx_status st = add_version(vs, vd.vd_ndx, name, NULL);
            if (st != STATUS_SUCCESS)
                return st;
        }
        if (vd.vd_next == 0)
            break;
        off += vd.vd_next;
    }
    return STATUS_SUCCESS;
}

static int compare_versions(const void *a, const void *b)
{
    unsigned x = ((const struct version *)a)->idx, y = ((const struct version *)b)->idx;
    return (x > y) - (x < y);
}

static const struct version *find_version(const struct versions *vs, unsigned idx)
{
    struct version key = {idx, NULL, NULL};
    return vs->n_items ? bsearch(&key, vs->items, vs->n_items, sizeof key, compare_versions) : NULL;
}

static kx_status push_symbol(struct kx_elf_symbol **arr, size_t *n, const struct kx_elf_symbol *s)
{
    /* Grow at powers of two: *n is the count, so capacity is implied. */
    if ((*n & (*n - 1)) == 0 && *n >= 8) {
        struct kx_elf_symbol *na = realloc(*arr, *n * 2 * sizeof *na);
        if (!na)
            return STATUS_INSUFFICIENT_RESOURCES;
        *arr = na;
    } else if (*n == 0) {
        *arr = malloc(8 * sizeof **arr);
        if (!*arr)
            return STATUS_INSUFFICIENT_RESOURCES;
    }
    (*arr)[(*n)++] = *s;
    return STATUS_SUCCESS;
}

/* .gnu.version for the symbol table at index dynsym_ndx: NULL when absent. */
static kx_status versym_data(const struct kx_elf *e, size_t dynsym_ndx, size_t n_syms,
                             Elf_Data **out, char *why, size_t why_len)
{
    GElf_Shdr sh;
    *out = NULL;
    Elf_Scn *scn = find_section(e, NULL, SHT_GNU_versym, &sh);
    if (!scn)
        return STATUS_SUCCESS;
    if (sh.sh_link != dynsym_ndx)
        return kx_why(why, why_len, STATUS_DATA_ERROR, ".gnu.version: sh_link %u is not .dynsym",
                    (unsigned)sh.sh_link);
    Elf_Data *d = section_data(scn, &sh, ".gnu.version", why, why_len);
    if (!d)
        return STATUS_DATA_ERROR;
    if (d->d_size / sizeof(GElf_Versym) < n_syms)
        return kx_why(why, why_len, STATUS_DATA_ERROR, ".gnu.version: %zu entries for %zu symbols",
                    d->d_size / sizeof(GElf_Versym), n_syms);
    *out = d;
    return STATUS_SUCCESS;
}

kx_status kx_elf_dynsyms(const struct kx_elf *e, struct kx_elf_dynsyms *out, char *why,
                         size_t why_len)
{
    memset(out, 0, sizeof *out);
    GElf_Shdr sh;
    Elf_Scn *scn = find_section(e, NULL, SHT_DYNSYM, &sh);
    if (!scn)
        return STATUS_SUCCESS;
    if (!linked_strtab_ok(e, &sh))
        return kx_why(why, why_len, STATUS_DATA_ERROR, ".dynsym: sh_link %u is not a string table",
                    (unsigned)sh.sh_link);
    Elf_Data *d = section_data(scn, &sh, ".dynsym", why, why_len);
    if (!d)
        return STATUS_DATA_ERROR;
    size_t n_syms = d->d_size / gelf_fsize(e->elf, ELF_T_SYM, 1, EV_CURRENT);
    if (n_syms > (size_t)0x7fffffff)
        return kx_why(why, why_len, STATUS_DATA_ERROR, ".dynsym: too many symbols");

    struct versions vs = {NULL, 0, 0, 0};
    Elf_Data *vsym = NULL;
    kx_status st = versym_data(e, elf_ndxscn(scn), n_syms, &vsym, why, why_len);
    if (st == STATUS_SUCCESS && vsym)
        st = read_verneed(e, &vs, why, why_len);
    if (st == STATUS_SUCCESS && vsym)
        st = read_verdef(e, &vs, why, why_len);
    if (st != STATUS_SUCCESS)
        goto fail_free;
    if (vs.n_items)
        qsort(vs.items, vs.n_items, sizeof *vs.items, compare_versions);

    for (size_t i = 1; i < n_syms; i++) {
        GElf_Sym s;
        if (!gelf_getsym(d, (int)i, &s)) {
            st = kx_why(why, why_len, STATUS_DATA_ERROR, ".dynsym: symbol %zu unreadable", i);
            goto fail_free;
        }
        unsigned bind = GELF_ST_BIND(s.st_info), vis = GELF_ST_VISIBILITY(s.st_other);
        if (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE)
            continue;
        struct kx_elf_symbol sym = {NULL,
                                    NULL,
                                    NULL,
                                    s.st_value,
                                    s.st_size,
                                    (unsigned char)bind,
                                    (unsigned char)GELF_ST_TYPE(s.st_info),
                                    (unsigned char)vis};
        sym.name = elf_strptr(e->elf, sh.sh_link, s.st_name);
        if (!sym.name) {
            st = kx_why(why, why_len, STATUS_DATA_ERROR,
                      ".dynsym: symbol %zu names a string outside the string table", i);
            goto fail_free;
        }
        if (!sym.name[0])
            continue;
        GElf_Versym v;
        const struct version *ver = NULL;
        if (vsym && gelf_getversym(vsym, (int)i, &v) && (v & 0x7fff) > VER_NDX_GLOBAL)
            ver = find_version(&vs, v & 0x7fff);
        if (s.st_shndx == SHN_UNDEF) {
            sym.version = ver ? ver->name : NULL;
            sym.file = ver ? ver->file : NULL;
            st = push_symbol(&out->imports, &out->n_imports, &sym);
        } else if (vis == STV_DEFAULT || vis == STV_PROTECTED) {
            sym.version = ver && !ver->file ? ver->name : NULL;
            /* ld defines each version node as an absolute symbol of that name */
            if (s.st_shndx == SHN_ABS && sym.version && strcmp(sym.name, sym.version) == 0)
                continue;
            st = push_symbol(&out->exports, &out->n_exports, &sym);
        }
        if (st != STATUS_SUCCESS)
            goto fail_free;
    }
    free(vs.items);
    return STATUS_SUCCESS;

fail_free:
    free(vs.items);
    kx_elf_dynsyms_free(out);
    return st;
}

void kx_elf_dynsyms_free(struct kx_elf_dynsyms *s)
{
    if (!s)
        return;
    free(s->exports);
    free(s->imports);
    memset(s, 0, sizeof *s);
}

/* ======== Build-id ======== */

kx_status kx_elf_build_id(const struct kx_elf *e, const uint8_t **id, size_t *id_len, char *why,
                          size_t why_len)
{
    *id = NULL;
    *id_len = 0;
    for (size_t i = 1; i < e->n_sections; i++) {
        GElf_Shdr sh;
        Elf_Scn *scn = elf_getscn(e->elf, i);
        if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE)
            continue;
        Elf_Data *d = section_data(scn, &sh, "note section", why, why_len);
        if (!d)
            return STATUS_DATA_ERROR;
        size_t off = 0, next, name_off, desc_off;
        GElf_Nhdr nh;
        while (off < d->d_size && (next = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0) {
            const uint8_t *base = d->d_buf;
            if (name_off > d->d_size || nh.n_namesz > d->d_size - name_off ||
                desc_off > d->d_size || nh.n_descsz > d->d_size - desc_off)
                break;
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == sizeof ELF_NOTE_GNU &&
                memcmp(base + name_off, ELF_NOTE_GNU, sizeof ELF_NOTE_GNU) == 0) {
                *id = base + desc_off;
                *id_len = nh.n_descsz;
                return STATUS_SUCCESS;
            }
            off = next;
        }
        if (off < d->d_size)
            return kx_why(why, why_len, STATUS_DATA_ERROR,
                        "note section %zu: malformed note at offset %zu", i, off);
    }
    return STATUS_SUCCESS;
}

kx_status kx_elf_uuid_format(const uint8_t *id, size_t id_len, char out[KX_ELF_UUID_LEN])
{
    if (!id || id_len == 0) {
        snprintf(out, KX_ELF_UUID_LEN, "no UUID");
        return STATUS_INVALID_PARAMETER;
    }
    uint8_t u[16] = {0};
    memcpy(u, id, id_len < sizeof u ? id_len : sizeof u);
    snprintf(out, KX_ELF_UUID_LEN,
             "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
    return STATUS_SUCCESS;
}
