/* fuzz_elf.c — libFuzzer target: arbitrary bytes through every ELF query.
 * Seeds are the fixture shared objects the test build produces plus the
 * small hand-made files in seeds/elf. */
#include "kext/elf.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256];
    struct kx_elf *e = NULL;
    (void)kx_elf_classify(data, size);
    if (kx_elf_open_mem(data, size, &e, why, sizeof why) != STATUS_SUCCESS)
        return 0;

    struct kx_driver_info di;
    (void)kx_elf_driver_info(e, &di, why, sizeof why);
    (void)kx_elf_has_section(e, ".text");

    struct kx_elf_dynsyms syms;
    if (kx_elf_dynsyms(e, &syms, why, sizeof why) == STATUS_SUCCESS)
        kx_elf_dynsyms_free(&syms);

    const char **needed = NULL, *soname = NULL;
    size_t n_needed = 0;
    if (kx_elf_dynamic(e, &needed, &n_needed, &soname, why, sizeof why) == STATUS_SUCCESS)
        free(needed);

    const uint8_t *id = NULL;
    size_t id_len = 0;
    char uuid[KX_ELF_UUID_LEN];
    if (kx_elf_build_id(e, &id, &id_len, why, sizeof why) == STATUS_SUCCESS)
        (void)kx_elf_uuid_format(id, id_len, uuid);
    kx_elf_close(e);
    return 0;
}
