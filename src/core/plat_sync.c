/* plat_sync.c — futex wait/wake and scheduler hints on Linux. */
#include "plat_sync.h"
#include "plat.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

kx_status kx_plat_futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns)
{
    struct timespec ts, *tp = NULL;
    if (deadline_ns) {
        ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
        ts.tv_nsec = (long)(deadline_ns % 1000000000u);
        tp = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
     * spurious wake-up and a retry never stretch the total wait. */
    long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, expected,
                     tp, NULL, FUTEX_BITSET_MATCH_ANY);
    if (r == 0)
        return STATUS_SUCCESS;
    switch (errno) {
    case ETIMEDOUT: return STATUS_TIMEOUT;
    case EAGAIN: /* the word changed before we slept */
    case EINTR: return STATUS_SUCCESS;
    default: return kx_status_from_errno(errno);
    }
}

void kx_plat_futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

int kx_plat_ncpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        return n > 0 ? n : 1;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < INT_MAX ? (int)n : 1;
}

void kx_plat_yield(void) { sched_yield(); }

void kx_plat_sleep_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    nanosleep(&ts, NULL);
}

int kx_plat_cpu(void) { return sched_getcpu(); }
