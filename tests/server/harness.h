/* harness.h — start a real kxd on a private socket for integration tests. */
#ifndef KX_TESTS_SERVER_HARNESS_H
#define KX_TESTS_SERVER_HARNESS_H

#include <kx/client.h>
#include <sys/types.h>

struct kxd_proc {
    pid_t pid;
    char dir[256]; /* private temp folder (0755, so other users reach the socket) */
    char socket[300];
    char log[300];      /* kxd's stderr */
    char ext[512];      /* the extensions folder: build/extensions unless set before start */
    char test_ext[512]; /* build/tests/test-extensions */
};

/* Starts kxd --foreground on build/extensions; waits until it serves. 0 on success. */
int kxd_start(struct kxd_proc *p);
/* The same with more kxd arguments (NULL-terminated; may be NULL). -1 also
 * when kxd exits during start-up: its stderr is in p->log. */
int kxd_start_args(struct kxd_proc *p, const char *const *extra);
/* SIGTERM, wait; returns kxd's exit status (-1 if it didn't exit normally). */
int kxd_stop(struct kxd_proc *p);
/* Removes the temp folder. */
void kxd_cleanup(struct kxd_proc *p);
/* Connects a client or fails the test. */
kx_client *kxd_connect(const struct kxd_proc *p);
/* kxd's stderr so far (malloc'ed). */
char *kxd_read_log(const struct kxd_proc *p);
/* cmocka fixtures: a fresh kxd per test in *state; the teardown fails the
 * test unless kxd exits 0 on SIGTERM (under ASan/LSan: no leak, no error). */
int kxd_setup(void **state);
int kxd_teardown(void **state);
/* The same with kxd's extra arguments (NULL-terminated), and without setting
 * KX_SOCKET. */
int kxd_setup_args(void **state, const char *const *extra);
/* kxd_teardown for a setup that put files of its own in kxd's folder: removes it all. */
int kxd_teardown_tree(void **state);
#define KXD_TEST(fn) cmocka_unit_test_setup_teardown(fn, kxd_setup, kxd_teardown)

/* Tag of a loaded kext, 0 if not loaded. */
unsigned kxd_tag_of(kx_client *c, const char *id);

/* Runs `cd <build> && CMD` through the shell (CMD from fmt); returns its exit
 * status (-1 if it didn't exit) and its stdout, malloc'ed, in *out unless out
 * is NULL. Stderr is included when CMD says 2>&1. */
int kxd_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* system() on a formatted command line. */
int kxd_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* How many times the extended regex matches in text (-1: a bad pattern). */
int kxd_count_matches(const char *text, const char *pattern);
#define KXD_ASSERT_MATCHES(text, pattern)                                                          \
    do {                                                                                           \
        if (kxd_count_matches((text), (pattern)) <= 0)                                             \
            fail_msg("no line matches /%s/ in:\n%s", (pattern), (text));                           \
    } while (0)

#endif
