/* exec.c — is a kext's executable an ELF shared object for this machine?
 *
 * Only the identity of the file is decided here, from its first bytes and its
 * ELF header (read lazily through libelf): a foreign format (Mach-O, PE, an
 * ELF for another machine) is a warning and the executable is skipped, so a
 * folder of real macOS kexts can be checked on Linux; an ELF for this machine
 * that isn't a shared object, or a file no format claims, is a validation
 * failure. It answers for the architecture being checked (`kx check --arch`),
 * which may not be this machine's; elf.c does the full inspection the loader
 * needs (driver-info record, symbols, build-id), for this machine only.
 */
#include "kext_int.h"

#include "core/plat_fd.h"
#include "core/plist.h"

#include "lua/lua_drv.h"

#include <gelf.h>
#include <libelf.h>
#include <string.h>

struct arch_elf {
    const char *arch;
    unsigned machine;
    int elf_class;
    int data; /* byte order */
};

static const struct arch_elf arch_table[] = {
    {"x86_64", EM_X86_64, ELFCLASS64, ELFDATA2LSB}, {"x86_64h", EM_X86_64, ELFCLASS64, ELFDATA2LSB},
    {"i386", EM_386, ELFCLASS32, ELFDATA2LSB},      {"arm64", EM_AARCH64, ELFCLASS64, ELFDATA2LSB},
    {"arm64e", EM_AARCH64, ELFCLASS64, ELFDATA2LSB}, {"arm", EM_ARM, ELFCLASS32, ELFDATA2LSB},
    {"ppc", EM_PPC, ELFCLASS32, ELFDATA2MSB},       {"ppc64", EM_PPC64, ELFCLASS64, ELFDATA2MSB},
};

static const struct arch_elf *arch_lookup(const char *arch)
{
    for (size_t i = 0; i < sizeof arch_table / sizeof arch_table[0]; i++)
        if (strcmp(arch_table[i].arch, arch) == 0)
            return &arch_table[i];
    return NULL;
}

static const char *elf_type_name(unsigned t)
{
    switch (t) {
    case ET_REL: return "a relocatable object (ET_REL)";
    case ET_EXEC: return "an executable (ET_EXEC)";
    case ET_CORE: return "a core file (ET_CORE)";
    default: return "of an unknown ELF type";
    }
}

/* What the first four bytes say when they are not ELF. */
static const char *foreign_format(const unsigned char *m, size_t n)
{
    static const unsigned char macho[][4] = {{0xfe, 0xed, 0xfa, 0xce}, {0xce, 0xfa, 0xed, 0xfe},
                                             {0xfe, 0xed, 0xfa, 0xcf}, {0xcf, 0xfa, 0xed, 0xfe},
                                             {0xca, 0xfe, 0xba, 0xbe}, {0xbe, 0xba, 0xfe, 0xca}};
    if (n >= 4)
        for (size_t i = 0; i < sizeof macho / sizeof macho[0]; i++)
            if (memcmp(m, macho[i], 4) == 0)
                return "a Mach-O (macOS) executable";
    if (n >= 2 && m[0] == 'M' && m[1] == 'Z')
        return "a PE (Windows) executable";
    return NULL;
}

/* Subject: the executable's path inside the bundle. */
static const char *relative(const struct kx_kext *k, const char *path)
{
    size_t n = strlen(k->path);
    return strncmp(path, k->path, n) == 0 && path[n] == '/' ? path + n + 1 : path;
}

int kx__kext_is_lua(const struct kx_kext *k)
{
    return kx_lua_script_path(kx_plist_string(kx__kext_info(k), "CFBundleExecutable", NULL));
}

int kx__kext_exec_check(struct kx_kext *k, const char *path, const char *arch)
{
    if (kx_lua_script_path(path))
        return 1; /* a Lua driver runs on any machine; verdict.c inspects it */
    const struct arch_elf *want = arch_lookup(arch);
    const char *subject = relative(k, path);
    unsigned char magic[4] = {0};
    size_t got = 0;
    int fd = -1, usable = 0;

    if (kx_plat_open_read(path, &fd) != STATUS_SUCCESS ||
        kx_plat_pread(fd, magic, sizeof magic, 0, &got) != STATUS_SUCCESS) {
        kx_diags_add(&k->diags, KX_D_EXECUTABLE_BAD, k->path, subject, "can't be read");
        goto out;
    }
    if (got < 4 || memcmp(magic, ELFMAG, SELFMAG) != 0) {
        const char *foreign = foreign_format(magic, got);
        if (foreign)
            kx_diags_add(&k->diags, KX_D_FOREIGN_EXECUTABLE, k->path, subject, "%s", foreign);
        else
            kx_diags_add(&k->diags, KX_D_EXECUTABLE_BAD, k->path, subject,
                         "not an executable format kx knows (neither ELF nor Mach-O)");
        goto out;
    }

    elf_version(EV_CURRENT);
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    GElf_Ehdr eh;
    if (!e || elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh)) {
        kx_diags_add(&k->diags, KX_D_EXECUTABLE_BAD, k->path, subject,
                     "truncated or malformed ELF header");
    } else if (!want || eh.e_machine != want->machine || gelf_getclass(e) != want->elf_class ||
               eh.e_ident[EI_DATA] != want->data) {
        kx_diags_add(&k->diags, KX_D_FOREIGN_EXECUTABLE, k->path, subject,
                     "an ELF object for machine %u, %d-bit, not for %s", (unsigned)eh.e_machine,
                     gelf_getclass(e) == ELFCLASS64 ? 64 : 32, arch);
    } else if (eh.e_type != ET_DYN) {
        kx_diags_add(&k->diags, KX_D_EXECUTABLE_BAD, k->path, subject,
                     "%s; a kx driver is a shared object (ET_DYN)", elf_type_name(eh.e_type));
    } else {
        usable = 1;
    }
    if (e)
        elf_end(e);
out:
    kx_plat_close(fd);
    return usable;
}
