/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host's part of guest signals: the timers behind alarm, setitimer and
 * getitimer (ITIMER_REAL of the keep process itself, so the kernel keeps
 * the time and a SIGALRM arrives exactly when Linux would send it), pause,
 * and the set of signals waiting for the guest. docs/KEEP.md, "Signals".
 *
 * The backend's SIGALRM handler calls keep_exec_signal_raise(); before it
 * runs the vCPU again it moves keep_exec_signal_take() into the guest's
 * pending word. pause() must not sleep through a signal the guest has not
 * seen yet, so the guest passes the sequence number it last saw
 * (keep_exec_signal_seq(), bumped by every take that moved signals): a
 * different number, or a signal waiting here, ends pause at once.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/cursor.h"
#include "host/exec_internal.h"

static volatile uint64_t waiting; /* bit n-1: signal n, for the guest */
static volatile uint64_t seq;

void keep_exec_signal_raise(int sig)
{
    if (sig >= 1 && sig <= 64)
        __atomic_fetch_or(&waiting, 1ull << (sig - 1), __ATOMIC_SEQ_CST);
}

uint64_t keep_exec_signal_take(void)
{
    uint64_t got = __atomic_exchange_n(&waiting, 0, __ATOMIC_SEQ_CST);
    if (got)
        __atomic_fetch_add(&seq, 1, __ATOMIC_SEQ_CST);
    return got;
}

uint64_t keep_exec_signal_seq(void)
{
    return __atomic_load_n(&seq, __ATOMIC_SEQ_CST);
}

/* struct itimerval: two struct timeval {i64 tv_sec; i64 tv_usec}, checked as setitimer(2) does. */
static int read_itimerval(const uint8_t *p, struct itimerval *it)
{
    struct keep_cursor cur;
    uint64_t v[4];
    static const char *const names[4] = {"it_interval.tv_sec", "it_interval.tv_usec",
                                         "it_value.tv_sec", "it_value.tv_usec"};
    keep_cursor_init(&cur, p, KEEP_SIZEOF_ITIMERVAL);
    for (int i = 0; i < 4; i++)
        if (keep_cursor_u64(&cur, names[i], &v[i], NULL))
            return -EFAULT;
    for (int i = 0; i < 4; i += 2)
        if ((int64_t)v[i] < 0 || v[i + 1] >= 1000000u)
            return -EINVAL;
    it->it_interval = (struct timeval){(time_t)v[0], (suseconds_t)v[1]};
    it->it_value = (struct timeval){(time_t)v[2], (suseconds_t)v[3]};
    return 0;
}

static void write_itimerval(uint8_t *p, const struct itimerval *it)
{
    store_u64(p, (uint64_t)it->it_interval.tv_sec);
    store_u64(p + 8, (uint64_t)it->it_interval.tv_usec);
    store_u64(p + 16, (uint64_t)it->it_value.tv_sec);
    store_u64(p + 24, (uint64_t)it->it_value.tv_usec);
}

/*
 * Only ITIMER_REAL: ITIMER_VIRTUAL and ITIMER_PROF count the CPU time of the
 * whole keep process, which is not the workload's; they are EINVAL.
 */
static int64_t do_setitimer(struct exec_call *c)
{
    struct itimerval next = {0}, old;
    if (c->a[0] != ITIMER_REAL)
        return -EINVAL;
    if (c->p[1]) {
        int rc = read_itimerval(c->p[1], &next);
        if (rc)
            return rc;
    }
    /* setitimer(2): a NULL new value disarms (Linux treats it as zero, with a warning). */
    if (setitimer(ITIMER_REAL, &next, &old) < 0)
        return -errno;
    if (c->p[2])
        write_itimerval(c->p[2], &old);
    return 0;
}

static int64_t do_getitimer(struct exec_call *c)
{
    struct itimerval cur;
    if (c->a[0] != ITIMER_REAL)
        return -EINVAL;
    if (getitimer(ITIMER_REAL, &cur) < 0)
        return -errno;
    write_itimerval(c->p[1], &cur);
    return 0;
}

static int64_t do_alarm(struct exec_call *c)
{
    /* alarm(2) takes an unsigned int; the kernel truncates the register the same way. */
    return (int64_t)alarm((unsigned int)c->a[0]);
}

/* pause: until a signal for the guest arrives, or at once if one came since a[0]. */
static int64_t do_pause(struct exec_call *c)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGALRM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    if (!__atomic_load_n(&waiting, __ATOMIC_SEQ_CST) && c->a[0] == keep_exec_signal_seq()) {
        keep_exec_unlock(c, NULL, 0);
        sigsuspend(&old); /* returns once a handler ran: EINTR */
        keep_exec_relock(c);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -EINTR;
}

exec_handler keep_exec_signal_handler(uint64_t nr)
{
    switch (nr) {
    case KEEP_NR_pause:
        return do_pause;
    case KEEP_NR_getitimer:
        return do_getitimer;
    case KEEP_NR_alarm:
        return do_alarm;
    case KEEP_NR_setitimer:
        return do_setitimer;
    default:
        return NULL;
    }
}
