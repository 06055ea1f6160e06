/* test_elf_corrupt.c — hostile executables: truncations, foreign headers,
 * garbage section tables, malformed driver-info records and random damage,
 * made at run time from the driver fixture. Each gives a status and a reason;
 * none crashes (ASan and UBSan watch every read). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "kext/elf.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct blob {
    unsigned char *data;
    size_t len;
};

static struct blob load(const char *path)
{
    struct blob b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    b.len = (size_t)ftell(f);
    rewind(f);
    b.data = malloc(b.len);
    assert_non_null(b.data);
    assert_int_equal(fread(b.data, 1, b.len, f), b.len);
    fclose(f);
    return b;
}

static struct blob copy(struct blob b)
{
    struct blob c = {malloc(b.len), b.len};
    assert_non_null(c.data);
    memcpy(c.data, b.data, b.len);
    return c;
}

/* Every query on an object that opened; the results do not matter, only
 * that each returns. */
static void exercise(struct kx_elf *e)
{
    char why[256];
    struct kx_driver_info di;
    struct kx_elf_dynsyms s;
    const char **needed = NULL, *soname = NULL;
    size_t n = 0, id_len = 0;
    const uint8_t *id = NULL;
    char uuid[KX_ELF_UUID_LEN];
    (void)kx_elf_driver_info(e, &di, why, sizeof why);
    if (kx_elf_dynsyms(e, &s, why, sizeof why) == STATUS_SUCCESS)
        kx_elf_dynsyms_free(&s);
    if (kx_elf_dynamic(e, &needed, &n, &soname, why, sizeof why) == STATUS_SUCCESS)
        free(needed);
    if (kx_elf_build_id(e, &id, &id_len, why, sizeof why) == STATUS_SUCCESS)
        (void)kx_elf_uuid_format(id, id_len, uuid);
}

static kx_status open_blob(struct blob b, char *why, size_t why_len)
{
    struct kx_elf *e = NULL;
    kx_status st = kx_elf_open_mem(b.data, b.len, &e, why, why_len);
    if (st == STATUS_SUCCESS) {
        exercise(e);
        kx_elf_close(e);
    } else {
        assert_null(e);
        assert_true(why[0] != '\0');
    }
    return st;
}

static void test_elf_every_truncation_fails_cleanly(void **state)
{
    (void)state;
    struct blob b = load(KXFIX_DRIVER);
    char why[256];
    for (size_t len = 0; len < b.len; len++) {
        why[0] = '\0';
        struct blob t = {b.data, len};
        kx_status st = open_blob(t, why, sizeof why);
        if (st == STATUS_SUCCESS)
            fail_msg("truncated to %zu of %zu bytes, but opened", len, b.len);
        assert_int_equal(st, STATUS_DATA_ERROR);
    }
    /* and from a file on disk, as the kext reader opens them */
    char path[] = "/tmp/kx-elf-truncXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, b.data, b.len / 2), (ssize_t)(b.len / 2));
    close(fd);
    struct kx_elf *e = NULL;
    assert_int_equal(kx_elf_open(path, &e, why, sizeof why), STATUS_DATA_ERROR);
    if (!strstr(why, "section header table"))
        fail_msg("unexpected reason: %s", why);
    unlink(path);
    free(b.data);
}

static void test_elf_foreign_headers_are_not_supported(void **state)
{
    (void)state;
    struct blob b = load(KXFIX_DRIVER);
    char why[256];

    struct blob t = copy(b);
    Elf64_Ehdr *eh = (Elf64_Ehdr *)t.data;
    eh->e_machine = EM_AARCH64;
    assert_int_equal(kx_elf_classify(t.data, t.len), KX_ELF_KIND_FOREIGN);
    assert_int_equal(open_blob(t, why, sizeof why), STATUS_NOT_SUPPORTED);
    assert_non_null(strstr(why, "arm64"));
    free(t.data);

    t = copy(b);
    t.data[EI_CLASS] = ELFCLASS32;
    assert_int_equal(kx_elf_classify(t.data, t.len), KX_ELF_KIND_FOREIGN);
    assert_int_equal(open_blob(t, why, sizeof why), STATUS_NOT_SUPPORTED);
    free(t.data);

    t = copy(b);
    t.data[EI_DATA] = ELFDATA2MSB;
    assert_int_equal(kx_elf_classify(t.data, t.len), KX_ELF_KIND_FOREIGN);
    assert_int_equal(open_blob(t, why, sizeof why), STATUS_NOT_SUPPORTED);
    assert_non_null(strstr(why, "big-endian"));
    free(t.data);

    t = copy(b);
    ((Elf64_Ehdr *)t.data)->e_type = ET_REL;
    assert_int_equal(kx_elf_classify(t.data, t.len), KX_ELF_KIND_NATIVE_OTHER);
    assert_int_equal(open_blob(t, why, sizeof why), STATUS_NOT_SUPPORTED);
    assert_non_null(strstr(why, "relocatable"));
    free(t.data);

    t = copy(b);
    t.data[1] = 'X'; /* \x7fXLF */
    assert_int_equal(kx_elf_classify(t.data, t.len), KX_ELF_KIND_NOT_ELF);
    assert_int_equal(open_blob(t, why, sizeof why), STATUS_DATA_ERROR);
    assert_string_equal(why, "not an ELF file");
    free(t.data);
    free(b.data);
}

static void test_elf_bad_section_table_is_rejected(void **state)
{
    (void)state;
    struct blob b = load(KXFIX_DRIVER);
    char why[256];
    const Elf64_Ehdr *orig = (const Elf64_Ehdr *)b.data;
    assert_true(orig->e_shoff + (size_t)orig->e_shnum * sizeof(Elf64_Shdr) <= b.len);

    struct blob t = copy(b);
    ((Elf64_Ehdr *)t.data)->e_shoff = (Elf64_Off)1 << 40;
    assert_int_equal(open_blob(t, why, sizeof why), STATUS_DATA_ERROR);
    free(t.data);

    t = copy(b);
    ((Elf64_Ehdr *)t.data)->e_shstrndx = (Elf64_Half)(orig->e_shnum + 3);
    assert_int_equal(open_blob(t, why, sizeof why), STATUS_DATA_ERROR);
    free(t.data);

    t = copy(b);
    ((Elf64_Ehdr *)t.data)->e_shentsize = 12;
    assert_int_equal(open_blob(t, why, sizeof why), STATUS_DATA_ERROR);
    free(t.data);

    /* one section that claims bytes past the end of the file */
    t = copy(b);
    Elf64_Shdr *sh = (Elf64_Shdr *)(t.data + orig->e_shoff);
    sh[1].sh_offset = t.len - 4;
    sh[1].sh_size = 4096;
    assert_int_equal(open_blob(t, why, sizeof why), STATUS_DATA_ERROR);
    assert_non_null(strstr(why, "section 1"));
    free(t.data);

    /* every section link and name pointing elsewhere: opens, then queries fail or cope */
    t = copy(b);
    sh = (Elf64_Shdr *)(t.data + orig->e_shoff);
    for (size_t i = 1; i < orig->e_shnum; i++) {
        sh[i].sh_link = (Elf64_Word)(i * 7919u);
        sh[i].sh_name = 0xfffffff0u;
        sh[i].sh_info = 0xffffffffu;
    }
    (void)open_blob(t, why, sizeof why);
    free(t.data);

    /* garbage section tables: 300 different random fillings */
    srand(4242);
    for (int round = 0; round < 300; round++) {
        t = copy(b);
        unsigned char *p = t.data + orig->e_shoff;
        size_t n = (size_t)orig->e_shnum * sizeof(Elf64_Shdr);
        size_t from = (size_t)rand() % n, to = from + (size_t)rand() % (n - from);
        for (size_t i = from; i < to; i++)
            p[i] = (unsigned char)rand();
        (void)open_blob(t, why, sizeof why);
        free(t.data);
    }
    free(b.data);
}

/* Offset of the driver-info record in the fixture's bytes. */
static size_t find_record(struct blob b)
{
    for (size_t i = 0; i + sizeof(struct kx_driver_info) <= b.len; i += 4) {
        struct kx_driver_info di;
        memcpy(&di, b.data + i, sizeof di);
        if (di.magic == KX_DRIVER_INFO_MAGIC && di.abi == KX_DRIVER_INFO_ABI &&
            strcmp(di.name, "KxFixDriver") == 0)
            return i;
    }
    fail_msg("no driver-info record in the fixture");
    return 0;
}

static kx_status driver_info_of(struct blob b, char *why, size_t why_len)
{
    struct kx_elf *e = NULL;
    struct kx_driver_info di;
    assert_int_equal(kx_elf_open_mem(b.data, b.len, &e, why, why_len), STATUS_SUCCESS);
    kx_status st = kx_elf_driver_info(e, &di, why, why_len);
    kx_elf_close(e);
    return st;
}

static void test_elf_malformed_driver_info_is_named(void **state)
{
    (void)state;
    struct blob b = load(KXFIX_DRIVER);
    size_t at = find_record(b);
    char why[256];
    static const struct {
        size_t field_off;
        uint32_t value;
        kx_status want;
        const char *msg;
    } cases[] = {
        {offsetof(struct kx_driver_info, magic), 0x12345678u, STATUS_INVALID_DRIVER_INFO, "magic"},
        {offsetof(struct kx_driver_info, abi), 2, STATUS_INVALID_DRIVER_INFO, "ABI 2"},
        {offsetof(struct kx_driver_info, size), 100, STATUS_INVALID_DRIVER_INFO, "smaller"},
        {offsetof(struct kx_driver_info, size), 100000, STATUS_INVALID_DRIVER_INFO, "exceeds"},
        {offsetof(struct kx_driver_info, type), 9, STATUS_INVALID_DRIVER_TYPE, "type 9"},
        {offsetof(struct kx_driver_info, type), 0, STATUS_INVALID_DRIVER_TYPE, "type 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct blob t = copy(b);
        memcpy(t.data + at + cases[i].field_off, &cases[i].value, 4);
        assert_int_equal(driver_info_of(t, why, sizeof why), cases[i].want);
        if (!strstr(why, cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, why, cases[i].msg);
        free(t.data);
    }

    struct blob t = copy(b);
    memset(t.data + at + offsetof(struct kx_driver_info, name), 'A', KX_DRIVER_INFO_TEXT_MAX);
    assert_int_equal(driver_info_of(t, why, sizeof why), STATUS_INVALID_DRIVER_INFO);
    assert_non_null(strstr(why, "name is not NUL-terminated"));
    free(t.data);

    t = copy(b);
    t.data[at + offsetof(struct kx_driver_info, version)] = '\0';
    assert_int_equal(driver_info_of(t, why, sizeof why), STATUS_INVALID_DRIVER_INFO);
    assert_non_null(strstr(why, "version is empty"));
    free(t.data);
    free(b.data);
}

static void test_elf_random_damage_never_crashes(void **state)
{
    (void)state;
    struct blob b = load(KXFIX_DRIVER);
    char why[256];
    srand(1234);
    for (int round = 0; round < 1500; round++) {
        struct blob t = copy(b);
        int n = 1 + rand() % 16;
        for (int k = 0; k < n; k++)
            t.data[(size_t)rand() % t.len] ^= (unsigned char)(1 + rand() % 255);
        (void)open_blob(t, why, sizeof why);
        free(t.data);
    }
    free(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf_every_truncation_fails_cleanly),
        cmocka_unit_test(test_elf_foreign_headers_are_not_supported),
        cmocka_unit_test(test_elf_bad_section_table_is_rejected),
        cmocka_unit_test(test_elf_malformed_driver_info_is_named),
        cmocka_unit_test(test_elf_random_damage_never_crashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
