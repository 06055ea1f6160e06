/* test_cli_messages.c — what the kx device verbs say when something is
 * wrong: a failed open said once, by the verb; usage mistakes named before
 * the usage; a RamDisk refusing unaligned I/O names its sector size in the
 * kernel log; device owners as user:group. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs `<build>/kx args 2>&1`; returns its exit status and output in *out. */
static int run(char **out, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd %s && ./kx %s 2>&1", getenv("KX_BUILD_DIR"), args);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, mem);
    fclose(mem);
    int status = pclose(f);
    *out = buf;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static size_t count(const char *text, const char *what)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

static void failed_open_is_said_once_by_its_verb(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run(&out, "cat /dev/no-such-device"), 1);
    assert_non_null(strstr(out, "kx cat: /dev/no-such-device: STATUS_"));
    assert_int_equal(count(out, "no such file"), 1);
    free(out);
}

static void usage_mistakes_say_what_is_wrong(void **state)
{
    (void)state;
    char *out;
    assert_int_not_equal(run(&out, "ioctl /dev/null zzz"), 0);
    assert_non_null(strstr(out, "bad control code 'zzz'"));
    free(out);
    assert_int_not_equal(run(&out, "ioctl /dev/null"), 0);
    assert_non_null(strstr(out, "missing operand: expects DEVICE CODE [HEX]"));
    free(out);
    assert_int_not_equal(run(&out, "cat /dev/zero --count 3"), 0);
    assert_non_null(strstr(out, "unexpected argument '--count' (options go before"));
    free(out);
    assert_int_not_equal(run(&out, "ioctl /dev/null 1 abc"), 0);
    assert_non_null(strstr(out, "bad input 'abc'"));
    free(out);
}

static void ramdisk_names_its_sector_size(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run(&out, "write --offset 3 /dev/ram0 abc"), 1);
    assert_non_null(strstr(out, "STATUS_INVALID_PARAMETER"));
    assert_non_null(strstr(out, "kx log"));
    free(out);
    assert_int_equal(run(&out, "log"), 0);
    assert_non_null(strstr(out, "write of 3 bytes at offset 3 refused"));
    assert_non_null(strstr(out, "512-byte sector"));
    free(out);
}

static void device_owners_read_user_and_group(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(run(&out, "ls"), 0);
    assert_non_null(strstr(out, "root:wheel"));
    assert_null(strstr(out, " 0:0 "));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KXD_TEST(failed_open_is_said_once_by_its_verb),
        KXD_TEST(usage_mistakes_say_what_is_wrong),
        KXD_TEST(ramdisk_names_its_sector_size),
        KXD_TEST(device_owners_read_user_and_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
