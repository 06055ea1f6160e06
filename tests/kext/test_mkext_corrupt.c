/* test_mkext_corrupt.c — damaged and hostile archives: every bit flip and
 * every truncation is caught, a damaged kext is named and the others stay
 * usable, and malformed headers, counts, offsets and compressed sizes are
 * refused with Apple's messages and without large allocations or crashes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mkext_samples.h"

struct archive {
    uint8_t *data;
    size_t len;
};

static struct archive small_archive(int v1)
{
    struct samples s;
    samples_init(&s, 300, 64);
    struct archive a = {NULL, 0};
    char why[512] = "";
    void *p = NULL;
    kx_status st = v1 ? kx_mkext1_write(s.in, 3, NULL, &p, &a.len, why, sizeof why)
                      : kx_mkext_write(s.in, 3, NULL, &p, &a.len, why, sizeof why);
    if (st != STATUS_SUCCESS)
        fail_msg("%s", why);
    a.data = p;
    samples_free(&s);
    return a;
}

/* Reads; returns the status, and via *n_bad how many entries were marked. */
static kx_status try_read(const uint8_t *p, size_t len, size_t *n_bad, char *why, size_t why_len)
{
    struct kx_mkext *m = NULL;
    why[0] = '\0';
    kx_status st = kx_mkext_read(p, len, 0, &m, why, why_len);
    *n_bad = 0;
    if (st == STATUS_SUCCESS) {
        *n_bad = m->n_bad;
        for (size_t i = 0; i < m->n_entries; i++) {
            const struct kx_mkext_entry *e = &m->entries[i];
            assert_true((e->status == STATUS_SUCCESS) == (e->message == NULL));
            if (e->status == STATUS_SUCCESS && e->has_executable)
                assert_non_null(e->executable);
        }
        kx_mkext_free(m);
    } else {
        assert_null(m);
        assert_true(why[0] != '\0');
    }
    return st;
}

static void flip_every_bit(int v1)
{
    struct archive a = small_archive(v1);
    uint8_t *c = malloc(a.len);
    assert_non_null(c);
    char why[512];
    size_t n_bad;
    for (size_t bit = 0; bit < a.len * 8; bit++) {
        memcpy(c, a.data, a.len);
        c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        kx_status st = try_read(c, a.len, &n_bad, why, sizeof why);
        if (st == STATUS_SUCCESS && n_bad == 0)
            fail_msg("flip of bit %zu (byte %zu) went unnoticed", bit % 8, bit / 8);
        /* with a good checksum, the deeper checks run: they may or may not
         * notice (a changed letter in a version string is still a valid
         * plist), but they never crash */
        if (bit / 8 >= 16) {
            reseal(c, a.len);
            (void)try_read(c, a.len, &n_bad, why, sizeof why);
        }
    }
    free(c);
    free(a.data);
}

static void test_mkext2_every_bit_flip_is_detected(void **state)
{
    (void)state;
    flip_every_bit(0);
}

static void test_mkext1_every_bit_flip_is_detected(void **state)
{
    (void)state;
    flip_every_bit(1);
}

static void test_mkext_every_truncation_is_detected(void **state)
{
    (void)state;
    for (int v1 = 0; v1 <= 1; v1++) {
        struct archive a = small_archive(v1);
        char why[512];
        size_t n_bad;
        uint8_t *c = malloc(a.len);
        assert_non_null(c);
        for (size_t len = 0; len < a.len; len++) {
            memcpy(c, a.data, len);
            kx_status st = try_read(c, len, &n_bad, why, sizeof why);
            assert_int_equal(st, STATUS_DATA_ERROR);
            if (len < 32)
                assert_string_equal(why, "Mkext archive too small to be valid.");
            else
                assert_string_equal(
                    why, "Mkext archive recorded length doesn't match actual file length.");
            /* a truncation someone resealed is still caught deeper down */
            if (len >= KX_MKEXT2_HEADER_LEN) {
                reseal(c, len);
                st = try_read(c, len, &n_bad, why, sizeof why);
                if (st == STATUS_SUCCESS && n_bad == 0)
                    fail_msg("v%d truncated to %zu of %zu and resealed went unnoticed", 2 - v1, len,
                             a.len);
            }
        }
        free(c);
        free(a.data);
    }
}

static void test_mkext_damaged_executable_isolates_its_entry(void **state)
{
    (void)state;
    for (int v1 = 0; v1 <= 1; v1++) {
        struct samples s;
        samples_init(&s, 5000, 700);
        void *p = NULL;
        size_t len = 0;
        char why[512];
        assert_int_equal(v1 ? kx_mkext1_write(s.in, 3, NULL, &p, &len, why, sizeof why)
                            : kx_mkext_write(s.in, 3, NULL, &p, &len, why, sizeof why),
                         STATUS_SUCCESS);
        uint8_t *a = p;
        struct kx_mkext *m = NULL;
        assert_int_equal(kx_mkext_read(a, len, 0, &m, why, sizeof why), STATUS_SUCCESS);
        uint32_t noise_at = entry_by_id(m, "com.example.noise")->executable_offset;
        uint32_t text_at = entry_by_id(m, "com.example.text")->executable_offset;
        kx_mkext_free(m);

        /* stored noise: one byte changed, checksum fixed; only mkext2 has a digest */
        a[noise_at + (v1 ? 0 : 8) + 100] ^= 0x40;
        reseal(a, len);
        assert_int_equal(kx_mkext_read(a, len, 0, &m, why, sizeof why), STATUS_SUCCESS);
        const struct kx_mkext_entry *e = entry_by_id(m, "com.example.noise");
        if (!v1) {
            assert_int_equal(m->n_bad, 1);
            assert_int_equal(e->status, STATUS_DATA_ERROR);
            assert_null(e->executable);
            assert_non_null(strstr(e->message, "/Library/Extensions/Noise.kext: "));
            assert_non_null(strstr(e->message, "SHA-256 mismatch"));
        }
        kx_mkext_free(m);

        /* compressed text: its compressed size says one byte less than it is
         * (mkext2: in its file entry; mkext1: in kext 0's module slot) */
        uint8_t *comp = v1 ? a + KX_MKEXT_HEADER_LEN + 16 + 4 : a + text_at;
        put_be32_at(comp, be32_at(comp) - 1);
        reseal(a, len);
        assert_int_equal(kx_mkext_read(a, len, 0, &m, why, sizeof why), STATUS_SUCCESS);
        e = entry_by_id(m, "com.example.text");
        assert_int_equal(e->status, STATUS_DATA_ERROR);
        assert_non_null(strstr(e->message, "executable: "));
        /* the codeless kext is untouched in both formats */
        e = entry_by_id(m, "com.example.codeless");
        assert_int_equal(e->status, STATUS_SUCCESS);
        kx_mkext_free(m);
        free(a);
        samples_free(&s);
    }
}

/* ---- hand-built archives ---- */

/* An mkext2 archive: header, the given file-entry bytes at offset 44, then
 * the XML (stored, NUL-terminated). */
static struct archive build_v2(const void *files, size_t files_len, const char *xml)
{
    size_t xml_len = strlen(xml) + 1;
    struct archive a = {calloc(1, 44 + files_len + xml_len), 44 + files_len + xml_len};
    assert_non_null(a.data);
    put_be32_at(a.data, KX_MKEXT_MAGIC);
    put_be32_at(a.data + 4, KX_MKEXT_SIGNATURE);
    put_be32_at(a.data + 16, KX_MKEXT_VERSION_2);
    put_be32_at(a.data + 20, 1);
    put_be32_at(a.data + 24, kx_mkext_host_cpu_type());
    put_be32_at(a.data + 32, (uint32_t)(44 + files_len));
    put_be32_at(a.data + 40, (uint32_t)xml_len);
    if (files_len)
        memcpy(a.data + 44, files, files_len);
    memcpy(a.data + 44 + files_len, xml, xml_len);
    reseal(a.data, a.len);
    return a;
}

#define ONE_KEXT(extra)                                                                            \
    "<plist><dict><key>_MKEXTInfoDictionaries</key><array><dict>"                                  \
    "<key>CFBundleIdentifier</key><string>com.example.h</string>"                                  \
    "<key>_MKEXTBundlePath</key><string>/L/E/H.kext</string>" extra                                \
    "</dict></array></dict></plist>"

static void expect_archive_error(struct archive a, kx_status want, const char *msg)
{
    char why[512];
    size_t n_bad;
    kx_status st = try_read(a.data, a.len, &n_bad, why, sizeof why);
    if (st != want || !strstr(why, msg))
        fail_msg("got %s '%s', want %s '%s'", kx_status_name(st), why, kx_status_name(want), msg);
    free(a.data);
}

static void expect_entry_error(struct archive a, kx_status want, const char *msg)
{
    char why[512];
    struct kx_mkext *m = NULL;
    assert_int_equal(kx_mkext_read(a.data, a.len, 0, &m, why, sizeof why), STATUS_SUCCESS);
    assert_int_equal(m->n_bad, 1);
    if (m->entries[0].status != want || !strstr(m->entries[0].message, msg))
        fail_msg("got %s '%s', want %s '%s'", kx_status_name(m->entries[0].status),
                 m->entries[0].message, kx_status_name(want), msg);
    kx_mkext_free(m);
    free(a.data);
}

static void test_mkext_header_problems_use_apples_messages(void **state)
{
    (void)state;
    struct archive a = build_v2(NULL, 0, ONE_KEXT(""));
    char why[512];
    size_t n_bad;
    assert_int_equal(try_read(a.data, a.len, &n_bad, why, sizeof why), STATUS_SUCCESS);
    free(a.data);

    a = build_v2(NULL, 0, ONE_KEXT(""));
    a.data[0] = 'X';
    expect_archive_error(a, STATUS_DATA_ERROR, "Mkext archive has invalid magic or signature.");

    a = build_v2(NULL, 0, ONE_KEXT(""));
    a.data[a.len - 3] ^= 1;
    expect_archive_error(a, STATUS_DATA_ERROR, "Mkext archive has bad checksum.");

    a = build_v2(NULL, 0, ONE_KEXT(""));
    put_be32_at(a.data + 16, 0x03000000);
    reseal(a.data, a.len);
    expect_archive_error(a, STATUS_NOT_SUPPORTED, "unsupported mkext version 0x03000000");

    a = build_v2(NULL, 0, ONE_KEXT(""));
    put_be32_at(a.data + 24, KX_MKEXT_CPU_ANY);
    reseal(a.data, a.len);
    expect_archive_error(a, STATUS_DATA_ERROR, "Mkext archive must have a specific CPU type.");

    a = build_v2(NULL, 0, ONE_KEXT(""));
    put_be32_at(a.data + 24, 18); /* ppc */
    reseal(a.data, a.len);
    expect_archive_error(a, STATUS_NOT_SUPPORTED, "CPU type ppc");

    a = build_v2(NULL, 0, ONE_KEXT(""));
    put_be32_at(a.data + 32, (uint32_t)a.len + 100);
    reseal(a.data, a.len);
    expect_archive_error(a, STATUS_DATA_ERROR, "Mkext archive file overrun.");

    a = build_v2(NULL, 0, ONE_KEXT(""));
    put_be32_at(a.data + 40, 0xfffffff0u);
    reseal(a.data, a.len);
    expect_archive_error(a, STATUS_DATA_ERROR, "Mkext archive file overrun.");

    a = build_v2(NULL, 0, "<plist><dict><key>Other</key><true/></dict></plist>");
    expect_archive_error(a, STATUS_DATA_ERROR, "Mkext archive contains no kext info dictionaries.");

    a = build_v2(NULL, 0, "<plist><dict><key>unclosed");
    expect_archive_error(a, STATUS_DATA_ERROR, "Error unserializing mkext plist: ");

    a = build_v2(NULL, 0, "no markup at all");
    expect_archive_error(a, STATUS_DATA_ERROR, "Error unserializing mkext plist: ");

    /* plist recorded as compressed but holding plain text */
    a = build_v2(NULL, 0, ONE_KEXT(""));
    put_be32_at(a.data + 36, be32_at(a.data + 40));
    put_be32_at(a.data + 40, be32_at(a.data + 40) * 2);
    reseal(a.data, a.len);
    expect_archive_error(a, STATUS_DATA_ERROR, "Mkext archive plist: zlib data is corrupt");
}

static void test_mkext_hostile_counts_and_sizes_are_refused(void **state)
{
    (void)state;
    /* mkext1 claiming four billion kexts */
    struct archive a = small_archive(1);
    put_be32_at(a.data + 20, 0xffffffffu);
    reseal(a.data, a.len);
    expect_archive_error(a, STATUS_DATA_ERROR, "Mkext archive file overrun.");

    /* executable offset past the end of the file */
    a = build_v2(NULL, 0, ONE_KEXT("<key>_MKEXTExecutable</key><integer>99999999</integer>"));
    expect_entry_error(a, STATUS_DATA_ERROR, "/L/E/H.kext: executable file entry at offset");

    /* executable entry claiming more stored bytes than there are */
    uint8_t files[8 + 16] = {0};
    put_be32_at(files + 4, 0x10000000u);
    a = build_v2(files, sizeof files, ONE_KEXT("<key>_MKEXTExecutable</key><integer>44</integer>"));
    expect_entry_error(a, STATUS_DATA_ERROR, "runs past the end of the archive");

    /* zlib bomb: 4 MiB of zeros in a few KiB, recorded sizes that lie */
    size_t big = 4u << 20;
    uint8_t *zeros = calloc(1, big);
    uLongf zlen = compressBound(big);
    uint8_t *entry = malloc(8 + zlen);
    assert_non_null(zeros);
    assert_non_null(entry);
    assert_int_equal(compress2(entry + 8, &zlen, zeros, big, 9), Z_OK);
    free(zeros);
    const char *xml = ONE_KEXT("<key>_MKEXTExecutable</key><integer>44</integer>");
    put_be32_at(entry, (uint32_t)zlen);
    put_be32_at(entry + 4, 1000); /* far less than it inflates to */
    a = build_v2(entry, 8 + zlen, xml);
    expect_entry_error(a, STATUS_DATA_ERROR, "Uncompressed file is not the length recorded.");
    put_be32_at(entry + 4, 64u << 20); /* more than deflate can produce from zlen bytes */
    a = build_v2(entry, 8 + zlen, xml);
    expect_entry_error(a, STATUS_DATA_ERROR, "Uncompressed file is not the length recorded.");
    put_be32_at(entry + 4, (uint32_t)big); /* the truth: accepted */
    a = build_v2(entry, 8 + zlen, xml);
    char why[512];
    struct kx_mkext *m = NULL;
    assert_int_equal(kx_mkext_read(a.data, a.len, 0, &m, why, sizeof why), STATUS_SUCCESS);
    assert_int_equal(m->n_bad, 0);
    assert_int_equal(m->entries[0].executable_len, big);
    kx_mkext_free(m);
    free(a.data);
    free(entry);
}

static void test_mkext_bad_info_dicts_are_per_entry(void **state)
{
    (void)state;
    struct archive a =
        build_v2(NULL, 0,
                 "<plist><dict><key>_MKEXTInfoDictionaries</key><array><string>x</string>"
                 "<dict><key>_MKEXTBundlePath</key><string>/L/E/NoId.kext</string></dict>"
                 "<dict><key>CFBundleIdentifier</key><string>com.ok</string></dict>"
                 "<dict><key>CFBundleIdentifier</key><string>com.d</string>"
                 "<key>_KXExecutableSHA256</key><string>00</string></dict>"
                 "<dict><key>CFBundleIdentifier</key><string>com.w</string>"
                 "<key>_MKEXTExecutable</key><string>44</string></dict>"
                 "</array></dict></plist>");
    char why[512];
    struct kx_mkext *m = NULL;
    assert_int_equal(kx_mkext_read(a.data, a.len, 0, &m, why, sizeof why), STATUS_SUCCESS);
    assert_int_equal(m->n_entries, 5);
    assert_int_equal(m->n_bad, 4);
    assert_int_equal(m->entries[0].status, STATUS_KEXT_VALIDATION_FAILED);
    assert_string_equal(m->entries[0].message,
                        "entry 0: info dictionary is a string, not a dictionary");
    assert_string_equal(m->entries[1].message, "/L/E/NoId.kext: Info dictionary missing required "
                                               "property/value: CFBundleIdentifier");
    assert_int_equal(m->entries[2].status, STATUS_SUCCESS);
    assert_non_null(strstr(m->entries[3].message, "com.d: has _KXExecutableSHA256"));
    assert_string_equal(m->entries[4].message,
                        "com.w: _MKEXTExecutable is a string, not an integer");
    kx_mkext_free(m);
    free(a.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mkext2_every_bit_flip_is_detected),
        cmocka_unit_test(test_mkext1_every_bit_flip_is_detected),
        cmocka_unit_test(test_mkext_every_truncation_is_detected),
        cmocka_unit_test(test_mkext_damaged_executable_isolates_its_entry),
        cmocka_unit_test(test_mkext_header_problems_use_apples_messages),
        cmocka_unit_test(test_mkext_hostile_counts_and_sizes_are_refused),
        cmocka_unit_test(test_mkext_bad_info_dicts_are_per_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
