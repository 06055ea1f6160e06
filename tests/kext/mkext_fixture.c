/* mkext_fixture.c — writes the archives test_mkext_cli.sh runs `kx cache` on:
 * good.mkext, v1.mkext, bad-entry.mkext (one executable damaged, checksum
 * fixed), bad-checksum.mkext and foreign.mkext (arm64). */
#include "mkext_samples.h"

static int put(const char *dir, const char *name, const void *p, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkext_fixture DIR\n");
        return 2;
    }
    struct samples s;
    samples_init(&s, 4000, 300);
    void *p = NULL;
    size_t len = 0;
    char why[512];
    int bad = 0;
    struct kx_mkext_write_options arm = {NULL, 0x0100000Cu, 0};

    if (kx_mkext_write(s.in, 3, NULL, &p, &len, why, sizeof why) != STATUS_SUCCESS)
        return fprintf(stderr, "%s\n", why), 1;
    bad |= put(argv[1], "good.mkext", p, len);
    uint8_t *a = p;
    a[len - 5] ^= 1;
    bad |= put(argv[1], "bad-checksum.mkext", a, len);
    a[len - 5] ^= 1;
    struct kx_mkext *m = NULL;
    if (kx_mkext_read(a, len, 0, &m, why, sizeof why) != STATUS_SUCCESS)
        return fprintf(stderr, "%s\n", why), 1;
    a[entry_by_id(m, "com.example.noise")->executable_offset + 8 + 10] ^= 0x80;
    kx_mkext_free(m);
    reseal(a, len);
    bad |= put(argv[1], "bad-entry.mkext", a, len);
    free(p);

    if (kx_mkext_write(s.in, 3, &arm, &p, &len, why, sizeof why) != STATUS_SUCCESS)
        return fprintf(stderr, "%s\n", why), 1;
    bad |= put(argv[1], "foreign.mkext", p, len);
    free(p);

    if (kx_mkext1_write(s.in, 3, NULL, &p, &len, why, sizeof why) != STATUS_SUCCESS)
        return fprintf(stderr, "%s\n", why), 1;
    bad |= put(argv[1], "v1.mkext", p, len);
    free(p);
    samples_free(&s);
    return bad;
}
