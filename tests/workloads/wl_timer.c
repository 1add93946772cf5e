/* SPDX-License-Identifier: Apache-2.0 */
/*
 * POSIX timers as Linux gives them (timer_create(2), timer_settime(2),
 * timer_getoverrun(2)): SIGEV_SIGNAL with si_code SI_TIMER, si_timerid and
 * si_value; a NULL sigevent (SIGALRM, si_value = the id); SIGEV_NONE;
 * CLOCK_MONOTONIC and CLOCK_REALTIME with TIMER_ABSTIME; the overrun count
 * of a periodic timer whose signal stayed blocked; and the errors.
 * Raw system calls, so the ids are the kernel's (glibc wraps timer_t).
 * It exits with a periodic timer armed. Prints only what is the same natively and in a Keep.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wl.h"

static volatile sig_atomic_t hits, got_sig, got_code, got_timerid, got_overrun, overrun_inside;
static volatile uintptr_t got_value;
static int current_id;

static void on_timer(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    hits++;
    got_sig = sig;
    got_code = si->si_code;
    got_timerid = si->si_timerid;
    got_overrun = si->si_overrun;
    got_value = (uintptr_t)si->si_value.sival_ptr;
    overrun_inside = (int)syscall(SYS_timer_getoverrun, current_id);
}

static long k_create(clockid_t clock, struct sigevent *ev, int *id)
{
    return syscall(SYS_timer_create, clock, ev, id);
}

static long k_settime(int id, int flags, long value_ns, long interval_ns, struct itimerspec *old)
{
    struct itimerspec it = {{interval_ns / 1000000000, interval_ns % 1000000000},
                            {value_ns / 1000000000, value_ns % 1000000000}};
    return syscall(SYS_timer_settime, id, flags, &it, old);
}

/* Wait for the next handler run with only sig unblocked (sigsuspend: no lost wake-up). */
static void wait_for(int sig, sigset_t *all)
{
    sigset_t during;
    sigfillset(&during);
    sigdelset(&during, sig);
    int before = hits;
    while (hits == before)
        sigsuspend(&during);
    (void)all;
}

static void install(int sig)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = on_timer;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void one_shot(sigset_t *all)
{
    struct sigevent ev = {0};
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_ptr = (void *)0x1234abcdUL;
    int id = -1;
    wl_check(k_create(CLOCK_MONOTONIC, &ev, &id) == 0 && id >= 0, "timer_create MONOTONIC SIGUSR1");
    current_id = id;
    struct itimerspec cur;
    wl_check(k_settime(id, 0, 1000000000000L, 0, NULL) == 0, "timer_settime 1000 s");
    wl_check(syscall(SYS_timer_gettime, id, &cur) == 0 && cur.it_value.tv_sec >= 990 &&
                 cur.it_value.tv_sec < 1000 && cur.it_interval.tv_sec == 0,
             "timer_gettime: about 1000 s left, no interval");
    struct itimerspec old;
    wl_check(k_settime(id, 0, 20000000L, 0, &old) == 0 && old.it_value.tv_sec >= 990,
             "timer_settime 20 ms returns the old value");
    wait_for(SIGUSR1, all);
    wl_check(got_sig == SIGUSR1 && got_code == SI_TIMER, "SIGUSR1 with si_code SI_TIMER");
    wl_check(got_timerid == id, "si_timerid is the timer's id");
    wl_check(got_value == 0x1234abcdUL, "si_value is sigev_value");
    wl_check(got_overrun == 0 && overrun_inside == 0, "no overrun for a one-shot timer");
    wl_check(syscall(SYS_timer_gettime, id, &cur) == 0 && cur.it_value.tv_sec == 0 &&
                 cur.it_value.tv_nsec == 0,
             "timer_gettime after expiry: disarmed");
    wl_check(syscall(SYS_timer_delete, id) == 0, "timer_delete");
    wl_check(wl_failed_with(syscall(SYS_timer_delete, id), EINVAL, EINVAL),
             "timer_delete again: EINVAL");
}

static void null_sigevent(sigset_t *all)
{
    int id = -1;
    install(SIGALRM);
    wl_check(k_create(CLOCK_REALTIME, NULL, &id) == 0, "timer_create REALTIME, NULL sigevent");
    current_id = id;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long at = now.tv_sec * 1000000000L + now.tv_nsec + 20000000L;
    wl_check(k_settime(id, TIMER_ABSTIME, at, 0, NULL) == 0, "timer_settime TIMER_ABSTIME +20 ms");
    wait_for(SIGALRM, all);
    wl_check(got_sig == SIGALRM && got_code == SI_TIMER, "SIGALRM with SI_TIMER");
    wl_check(got_value == (uintptr_t)id, "si_value is the timer id");
    syscall(SYS_timer_delete, id);
}

static void overrun(sigset_t *all)
{
    struct sigevent ev = {0};
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR2;
    ev.sigev_value.sival_int = 7;
    int id = -1;
    install(SIGUSR2);
    wl_check(k_create(CLOCK_MONOTONIC, &ev, &id) == 0, "timer_create SIGUSR2");
    current_id = id;
    hits = 0;
    wl_check(k_settime(id, 0, 2000000L, 2000000L, NULL) == 0, "periodic 2 ms, signal blocked");
    /*
     * 60 ms of clock reads, not nanosleep: in a Keep each host SIGALRM ends
     * the host's nanosleep and the shim restarts it with the full time
     * again (no restart block yet), so a 2 ms timer starves a 60 ms sleep.
     */
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 60000000L);
    wait_for(SIGUSR2, all);
    wl_check(hits == 1, "one signal for many expiries");
    wl_check(got_overrun >= 1, "si_overrun counts the expiries while blocked");
    wl_check(overrun_inside == got_overrun, "timer_getoverrun matches si_overrun");
    k_settime(id, 0, 0, 0, NULL);
    syscall(SYS_timer_delete, id);
}

static void sigev_none(void)
{
    struct sigevent ev = {0};
    ev.sigev_notify = SIGEV_NONE;
    int id = -1;
    wl_check(k_create(CLOCK_MONOTONIC, &ev, &id) == 0, "timer_create SIGEV_NONE");
    struct itimerspec cur;
    wl_check(k_settime(id, 0, 500000000000L, 3000000000L, NULL) == 0 &&
                 syscall(SYS_timer_gettime, id, &cur) == 0 && cur.it_value.tv_sec >= 490 &&
                 cur.it_interval.tv_sec == 3,
             "SIGEV_NONE: armed, timer_gettime reads it");
    syscall(SYS_timer_delete, id);
}

static void errors(void)
{
    struct sigevent ev = {0};
    int id;
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    wl_check(wl_failed_with(k_create(99, &ev, &id), EINVAL, EINVAL), "clock 99: EINVAL");
    ev.sigev_notify = 77;
    wl_check(wl_failed_with(k_create(CLOCK_MONOTONIC, &ev, &id), EINVAL, EINVAL),
             "sigev_notify 77: EINVAL");
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = 0;
    wl_check(wl_failed_with(k_create(CLOCK_MONOTONIC, &ev, &id), EINVAL, EINVAL),
             "sigev_signo 0: EINVAL");
    ev.sigev_signo = 65;
    wl_check(wl_failed_with(k_create(CLOCK_MONOTONIC, &ev, &id), EINVAL, EINVAL),
             "sigev_signo 65: EINVAL");
    wl_check(wl_failed_with(k_settime(12345, 0, 1000, 0, NULL), EINVAL, EINVAL),
             "timer_settime unknown id: EINVAL");
    wl_check(wl_failed_with(syscall(SYS_timer_getoverrun, -1), EINVAL, EINVAL),
             "timer_getoverrun -1: EINVAL");
    ev.sigev_signo = SIGUSR1;
    wl_check(k_create(CLOCK_MONOTONIC, &ev, &id) == 0, "timer_create");
    struct itimerspec bad = {{0, 0}, {0, 1000000000L}};
    wl_check(wl_failed_with(syscall(SYS_timer_settime, id, 0, &bad, NULL), EINVAL, EINVAL),
             "tv_nsec 1000000000: EINVAL");
    syscall(SYS_timer_delete, id);
}

int main(void)
{
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old); /* signals arrive only inside sigsuspend */
    install(SIGUSR1);
    one_shot(&all);
    null_sigevent(&all);
    overrun(&all);
    sigev_none();
    errors();
    /* Exit with a periodic timer armed: the Keep ends with status 0, no stray host signal. */
    struct sigevent ev = {0};
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    int id;
    wl_check(k_create(CLOCK_MONOTONIC, &ev, &id) == 0 &&
                 k_settime(id, 0, 1000000L, 1000000L, NULL) == 0,
             "a 1 ms periodic timer left armed at exit");
    return wl_done();
}
