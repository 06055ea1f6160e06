/* plat_sync.h — waiting and waking threads on a 32-bit word (Linux futex), and
 * the CPU hints the I/O manager's spin-then-block handoffs use.
 *
 * The I/O manager never needs a syscall on its fast path: a thread that waits
 * spins briefly on the word, and only when that fails does it announce itself
 * and sleep here. Wakers check the announcement first, so a completion that
 * finds nobody asleep costs no syscall at all.
 */
#ifndef KX_CORE_PLAT_SYNC_H
#define KX_CORE_PLAT_SYNC_H

#include <kx/status.h>
#include <stdatomic.h>
#include <stdint.h>

/* Sleeps while *word == expected, until woken or until deadline_ns on the
 * monotonic clock (kx_plat_monotonic_ns; 0 = no deadline). Returns
 * STATUS_SUCCESS when woken, when the word already differed or on a signal
 * (callers re-check their condition), STATUS_TIMEOUT at the deadline. */
kx_status kx_plat_futex_wait(_Atomic uint32_t *word, uint32_t expected, uint64_t deadline_ns);

/* Wakes up to n threads sleeping on word (INT32_MAX for all). */
void kx_plat_futex_wake(_Atomic uint32_t *word, int n);

/* Number of CPUs this process may run on (at least 1); spinning is pointless on one. */
int kx_plat_ncpus(void);

/* Sleeps for ns nanoseconds (nanosleep; a signal ends it early). */
void kx_plat_sleep_ns(uint64_t ns);

/* Gives the CPU to another runnable thread (sched_yield). */
void kx_plat_yield(void);

/* The CPU the calling thread runs on (sched_getcpu; cheap via rseq), or -1. */
int kx_plat_cpu(void);

/* A spin-loop hint to the CPU. */
static inline void kx_plat_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Asks for a cache line with the intent to write it: it arrives owned, so the
 * stores that follow need no second transfer. PREFETCHW decodes as a NOP on
 * x86 CPUs without it; the compiler emits it only with -mprfchw, hence asm. */
static inline void kx_plat_prefetch_write(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ __volatile__("prefetchw %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p, 1, 3);
#endif
}

#endif /* KX_CORE_PLAT_SYNC_H */
