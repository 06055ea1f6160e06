/* test_cache_corrupt.c — a damaged cache is never used, and the boot still succeeds.
 *
 * Every single-bit flip and every truncation of a small cache is detected:
 * each one in memory through the boot index reader (the same code a boot
 * runs), and a sample of them through a real boot, which must fall back to
 * the scan, say why, and plan exactly what the scan plans. Damage that keeps
 * the Adler-32 right (a forged checksum) is caught further in: a bad boot
 * index is refused without crashing, and a damaged executable fails its
 * SHA-256 when the loader asks for it (or up front with KX_BOOT_VERIFY_CACHE).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "boot_fixture.h"

#include "core/plat.h"
#include "kext/boot_int.h"

#include <stdlib.h>
#include <string.h>

#define SAMPLE_EVERY 97 /* bits and lengths also tried through a real boot */

struct fx {
    char *tmp, *ext, *cache;
    uint8_t *good; /* the cache as built */
    size_t len;
    char *scan; /* bx_phases of the scan */
};

static void make(struct fx *f, int with_exec)
{
    f->tmp = fx_tmpdir();
    f->ext = fx_join(f->tmp, "Extensions");
    f->cache = fx_join(f->tmp, "Extensions.mkext");
    fx_mkdirs(f->ext);
    int32_t prio = with_exec ? 100 : BX_NO_FILE;
    BX_KEXT(f->ext, "Lib", "com.t.lib", "1.0", "Root", with_exec ? BX_CODELESS : BX_NO_FILE, NULL);
    BX_KEXT(f->ext, "Drv", "com.t.drv", NULL, "Root", prio, "com.t.lib", "1.0", NULL);
    unsigned kflags = with_exec ? 0 : KX_KEXT_NO_EXEC;
    bx_build(f->cache, f->ext, KX_CACHE_ALL, kflags);
    void *data = NULL;
    assert_int_equal(kx_plat_read_file(f->cache, 1 << 24, &data, &f->len), STATUS_SUCCESS);
    f->good = data;
    struct bx_boot b;
    bx_plan(&b, f->ext, KX_BOOT_LOCAL, f->cache, KX_BOOT_NO_CACHE, kflags);
    f->scan = bx_phases(b.p);
    bx_free(&b);
}

static int setup_small(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    make(f, 0);
    *state = f;
    return 0;
}

static int setup_exec(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    make(f, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fx_rmrf(f->tmp);
    free(f->tmp);
    free(f->ext);
    free(f->cache);
    free(f->good);
    free(f->scan);
    free(f);
    return 0;
}

/* The reader a boot uses; 1 when it accepts the bytes. */
static int index_accepts(const uint8_t *data, size_t len)
{
    struct kx_cache_index ix;
    char why[256];
    kx_status st = kx__cache_index_parse(data, len, &ix, why, sizeof why);
    if (st == STATUS_SUCCESS)
        kx__cache_index_free(&ix);
    else
        assert_int_not_equal(st, STATUS_INSUFFICIENT_RESOURCES);
    return st == STATUS_SUCCESS;
}

/* Writes bytes as the cache (with the mtime Apple's rule wants, so only the
 * content can be blamed), boots, and checks the boot fell back and planned
 * what the scan plans. */
static void boot_falls_back(struct fx *f, const uint8_t *data, size_t len, unsigned kflags,
                            const char *what)
{
    int64_t mtime = bx_mtime(f->ext) + 1000000000LL;
    assert_int_equal(kx_plat_write_file_atomic(f->cache, data, len, 0644), STATUS_SUCCESS);
    bx_set_mtime(f->cache, mtime);
    struct bx_boot b;
    bx_plan(&b, f->ext, KX_BOOT_LOCAL, f->cache, 0, kflags);
    if (kx_boot_plan_source(b.p) != KX_BOOT_FROM_SCAN)
        fail_msg("%s: the damaged cache was used", what);
    enum kx_cache_verdict v = kx_boot_plan_cache_verdict(b.p);
    assert_true(v == KX_CACHE_CORRUPT || v == KX_CACHE_FOREIGN);
    assert_non_null(kx_boot_plan_fallback_reason(b.p));
    char *got = bx_phases(b.p);
    assert_string_equal(got, f->scan);
    free(got);
    bx_free(&b);
}

static void test_every_single_bit_flip_is_detected(void **state)
{
    struct fx *f = *state;
    uint8_t *copy = malloc(f->len);
    assert_non_null(copy);
    assert_true(index_accepts(f->good, f->len));
    for (size_t bit = 0; bit < f->len * 8; bit++) {
        memcpy(copy, f->good, f->len);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (index_accepts(copy, f->len))
            fail_msg("flipping bit %zu of %zu bytes went unnoticed", bit, f->len);
        if (bit % SAMPLE_EVERY == 0) {
            char what[64];
            snprintf(what, sizeof what, "bit %zu", bit);
            boot_falls_back(f, copy, f->len, KX_KEXT_NO_EXEC, what);
        }
    }
    free(copy);
}

static void test_every_truncation_is_detected(void **state)
{
    struct fx *f = *state;
    for (size_t len = 0; len < f->len; len++) {
        if (index_accepts(f->good, len))
            fail_msg("the cache cut to %zu of %zu bytes went unnoticed", len, f->len);
        if (len % SAMPLE_EVERY == 0) {
            char what[64];
            snprintf(what, sizeof what, "cut to %zu bytes", len);
            boot_falls_back(f, f->good, len, KX_KEXT_NO_EXEC, what);
        }
    }
}

/* A forged checksum: flip a bit, then fix the header's Adler-32. */
static void reseal(uint8_t *data, size_t len)
{
    kx_be32_put(data + 12, kx_mkext_checksum(data, len));
}

/* Every bit of the boot index, with the checksum forged: the reader refuses
 * it or hands back records that restore (or are refused) without crashing. */
static void test_a_forged_checksum_cannot_crash_the_index_reader(void **state)
{
    struct fx *f = *state;
    uint8_t *copy = malloc(f->len);
    assert_non_null(copy);
    size_t start = kx_be32_get(f->good + f->len - 8);
    for (size_t bit = start * 8; bit < f->len * 8; bit++) {
        struct kx_cache_index ix;
        memcpy(copy, f->good, f->len);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        reseal(copy, f->len);
        if (kx__cache_index_parse(copy, f->len, &ix, NULL, 0) != STATUS_SUCCESS)
            continue;
        for (size_t i = 0; i < ix.n_kexts; i++) {
            struct kx_kext *k = NULL;
            if (kx__kext_restore(ix.kexts[i].path, ix.kexts[i].fields, ix.kexts[i].fields_len,
                                 ix.kexts[i].info, ix.kexts[i].info_len, &k) == STATUS_SUCCESS) {
                kx_kext_info(k); /* the dictionary too */
                kx_kext_free(k);
            }
        }
        kx__cache_index_free(&ix);
    }
    free(copy);
}

/* A damaged executable behind a forged checksum: the boot may plan from the
 * cache, but the executable fails its SHA-256 when asked for; verifying up
 * front makes the boot scan instead. */
static void test_a_damaged_executable_fails_its_digest(void **state)
{
    struct fx *f = *state;
    struct kx_cache_index ix;
    assert_int_equal(kx__cache_index_parse(f->good, f->len, &ix, NULL, 0), STATUS_SUCCESS);
    uint32_t at = 0;
    for (size_t i = 0; i < ix.n_kexts; i++)
        if (ix.kexts[i].exec_offset)
            at = ix.kexts[i].exec_offset;
    kx__cache_index_free(&ix);
    assert_true(at > 0);
    uint8_t *copy = malloc(f->len);
    assert_non_null(copy);
    memcpy(copy, f->good, f->len);
    copy[at + 8 + 40] ^= 0x10; /* inside the stored bytes */
    reseal(copy, f->len);
    assert_int_equal(kx_plat_write_file_atomic(f->cache, copy, f->len, 0644), STATUS_SUCCESS);
    bx_set_mtime(f->cache, bx_mtime(f->ext) + 1000000000LL);

    struct bx_boot b;
    bx_plan(&b, f->ext, KX_BOOT_LOCAL, f->cache, 0, 0);
    assert_int_equal(kx_boot_plan_source(b.p), KX_BOOT_FROM_CACHE);
    const void *data = NULL;
    size_t len = 0;
    char why[256] = "";
    assert_int_equal(
        kx_boot_plan_executable(b.p, bx_item(b.p, "com.t.drv")->kext, &data, &len, why, sizeof why),
        STATUS_DATA_ERROR);
    assert_null(data);
    assert_true(strlen(why) > 0);
    bx_free(&b);

    bx_plan(&b, f->ext, KX_BOOT_LOCAL, f->cache, KX_BOOT_VERIFY_CACHE, 0);
    assert_int_equal(kx_boot_plan_source(b.p), KX_BOOT_FROM_SCAN);
    assert_int_equal(kx_boot_plan_cache_verdict(b.p), KX_CACHE_CORRUPT);
    assert_non_null(strstr(kx_boot_plan_fallback_reason(b.p), "Drv.kext: executable"));
    char *got = bx_phases(b.p);
    assert_string_equal(got, f->scan);
    free(got);
    bx_free(&b);
    free(copy);
}

/* kx cache verify's check: the index agrees with the archive's own plist. */
static void test_verify_index_catches_an_index_from_another_archive(void **state)
{
    struct fx *f = *state;
    char why[512] = "";
    size_t n = 0;
    assert_int_equal(kx_cache_verify_index(f->cache, &n, why, sizeof why), STATUS_SUCCESS);
    assert_int_equal(n, 2);

    /* another cache, one kext more: its mkext part, then the first cache's index */
    char *other = fx_join(f->tmp, "other.mkext");
    BX_KEXT(f->ext, "More", "com.t.more", NULL, NULL, BX_NO_FILE, NULL);
    bx_build(other, f->ext, KX_CACHE_ALL, KX_KEXT_NO_EXEC);
    void *o = NULL;
    size_t olen = 0;
    assert_int_equal(kx_plat_read_file(other, 1 << 24, &o, &olen), STATUS_SUCCESS);
    size_t o_ix = kx_be32_get((uint8_t *)o + olen - 8);
    size_t g_ix = kx_be32_get(f->good + f->len - 8), g_ix_len = kx_be32_get(f->good + f->len - 4);
    size_t len = o_ix + g_ix_len + 16;
    uint8_t *mix = malloc(len);
    assert_non_null(mix);
    memcpy(mix, o, o_ix);
    memcpy(mix + o_ix, f->good + g_ix, g_ix_len + 16);
    kx_be32_put(mix + len - 8, (uint32_t)o_ix);
    kx_be32_put(mix + 8, (uint32_t)len);
    reseal(mix, len);
    assert_int_equal(kx_plat_write_file_atomic(other, mix, len, 0644), STATUS_SUCCESS);
    assert_int_equal(kx_cache_verify_index(other, &n, why, sizeof why), STATUS_DATA_ERROR);
    assert_non_null(strstr(why, "boot index: 2 kexts, the archive's plist 3"));

    /* no index at all: an archive kx's builder didn't write */
    free(mix);
    mix = malloc(o_ix);
    assert_non_null(mix);
    memcpy(mix, o, o_ix);
    kx_be32_put(mix + 8, (uint32_t)o_ix);
    reseal(mix, o_ix);
    assert_int_equal(kx_plat_write_file_atomic(other, mix, o_ix, 0644), STATUS_SUCCESS);
    assert_int_equal(kx_cache_verify_index(other, &n, why, sizeof why), STATUS_NOT_SUPPORTED);
    free(mix);
    free(o);
    free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_single_bit_flip_is_detected, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation_is_detected, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_a_forged_checksum_cannot_crash_the_index_reader,
                                        setup_exec, teardown),
        cmocka_unit_test_setup_teardown(test_a_damaged_executable_fails_its_digest, setup_exec,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_verify_index_catches_an_index_from_another_archive,
                                        setup_small, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
