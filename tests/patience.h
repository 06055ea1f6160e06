/* patience.h — how tests wait for what must happen. A test asserts that
 * something happens and in which order, never how soon: on a loaded machine
 * anything may take a thousand times its usual time. A wait ends as soon as
 * its condition holds and gives up only after T_PATIENCE_MS, so that a hang
 * fails the test instead of running into CTest's timeout.
 */
#ifndef KX_TESTS_PATIENCE_H
#define KX_TESTS_PATIENCE_H

#include <stdint.h>
#include <time.h>

/* Thousands of times what any wait in the tests takes on an idle machine
 * (milliseconds; a kxd start-up, the longest, well under a second). */
#define T_PATIENCE_MS 60000u

static inline void t_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline uint64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A statement: re-evaluates cond every millisecond until it holds or
 * T_PATIENCE_MS have passed. The test then asserts cond itself. */
#define T_WAIT_FOR(cond)                                                                           \
    for (uint64_t t_wait_start_ = t_now_ms();                                                      \
         !(cond) && t_now_ms() - t_wait_start_ < T_PATIENCE_MS;)                                   \
    t_sleep_ms(1)

#endif
