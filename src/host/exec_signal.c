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
#include <time.h>
#include <unistd.h>

#include "common/cursor.h"
#include "common/shim_abi.h"
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

/*
 * POSIX timers (timer_create(2), timer_settime(2), timer_getoverrun(2)).
 * Each guest timer is a host POSIX timer on the same clock: its SIGALRM
 * carries the slot in si_value (the backend's handler passes it to
 * keep_exec_timer_expired()), which writes the note for the guest's siginfo
 * and names the guest signal to raise. The slot is the guest's timer id.
 * SIGEV_NONE guest timers are SIGEV_NONE host timers: read, never signalled.
 */
#define GUEST_TIMERS      32
#define SI_TIMER_CODE     (-2) /* include/uapi/asm-generic/siginfo.h */
#define SIGEV_SIGNAL_K    0
#define SIGEV_NONE_K      1
#define SIGEV_THREAD_ID_K 4

struct guest_timer {
    volatile int used; /* set last on create, cleared first on delete */
    int signo;         /* 0: SIGEV_NONE */
    uint64_t value;    /* sigev_value */
    uint32_t delivered_overrun;
    timer_t host;
};

static struct guest_timer timers[GUEST_TIMERS];
static volatile struct keep_shim_signals *volatile timer_page;

void keep_exec_timer_page(volatile struct keep_shim_signals *page)
{
    timer_page = page;
}

/* The Keep ended: no host timer of the guest's may outlive the backend's SIGALRM handler. */
void keep_exec_timers_delete_all(void)
{
    for (int i = 0; i < GUEST_TIMERS; i++)
        if (timers[i].used) {
            timers[i].used = 0;
            timer_delete(timers[i].host);
        }
}

/* From the backend's SIGALRM handler (async-signal-safe): the guest signal to raise, or 0. */
int keep_exec_timer_expired(int slot)
{
    if (slot < 0 || slot >= GUEST_TIMERS || !timers[slot].used || !timers[slot].signo)
        return 0;
    struct guest_timer *t = &timers[slot];
    volatile struct keep_shim_signals *s = timer_page;
    if (!s)
        return t->signo;
    uint64_t bit = 1ull << (t->signo - 1);
    volatile struct keep_shim_timer_note *n = &s->timer[t->signo - 1];
    if (__atomic_load_n(&s->from_timer, __ATOMIC_SEQ_CST) & bit) {
        /* Still pending: Linux counts an overrun instead of queueing it again (up to INT_MAX). */
        if (n->timerid == (uint32_t)slot && n->overrun < INT32_MAX)
            n->overrun++;
        return t->signo;
    }
    if (n->timerid == (uint32_t)slot)
        t->delivered_overrun = n->overrun;
    n->timerid = (uint32_t)slot;
    n->overrun = 0;
    n->value = t->value;
    __atomic_fetch_or(&s->from_timer, bit, __ATOMIC_SEQ_CST);
    return t->signo;
}

static struct guest_timer *timer_of(uint64_t id)
{
    /* timer_t is an int: the kernel looks only at the low 32 bits of the register. */
    int32_t slot = (int32_t)(uint32_t)id;
    if (slot < 0 || slot >= GUEST_TIMERS || !timers[slot].used)
        return NULL;
    return &timers[slot];
}

/* timer_create(2): the clocks whose time is the workload's as well as the host's. */
static bool timer_clock_allowed(uint64_t clock)
{
    return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC || clock == CLOCK_BOOTTIME;
}

/* struct sigevent {sigval value; int signo; int notify; int tid; ...}, as good_sigevent() checks.
 */
static int read_sigevent(const uint8_t *p, int slot, int *signo, uint64_t *value)
{
    if (!p) { /* NULL: SIGEV_SIGNAL, SIGALRM, sigev_value = the timer id */
        *signo = SIGALRM;
        *value = (uint64_t)slot;
        return 0;
    }
    struct keep_cursor cur;
    uint32_t sig, notify;
    keep_cursor_init(&cur, p, KEEP_SIZEOF_SIGEVENT);
    if (keep_cursor_u64(&cur, "sigev_value", value, NULL) ||
        keep_cursor_u32(&cur, "sigev_signo", &sig, NULL) ||
        keep_cursor_u32(&cur, "sigev_notify", &notify, NULL))
        return -EFAULT;
    if (notify == SIGEV_NONE_K) {
        *signo = 0;
        return 0;
    }
    if (notify == SIGEV_THREAD_ID_K) {
        keep_log(KEEP_LOG_INFO, "timer_create: SIGEV_THREAD_ID is not supported in a Keep yet");
        return -EINVAL;
    }
    if (notify != SIGEV_SIGNAL_K || sig < 1 || sig > 64)
        return -EINVAL;
    *signo = (int)sig;
    return 0;
}

static int64_t do_timer_create(struct exec_call *c)
{
    int slot = 0;
    while (slot < GUEST_TIMERS && timers[slot].used)
        slot++;
    if (!timer_clock_allowed(c->a[0]))
        return -EINVAL;
    if (slot == GUEST_TIMERS)
        return -EAGAIN; /* timer_create(2): the kernel's limit on timers */
    struct guest_timer *t = &timers[slot];
    int rc = read_sigevent(c->p[1], slot, &t->signo, &t->value);
    if (rc)
        return rc;
    struct sigevent ev;
    memset(&ev, 0, sizeof(ev));
    ev.sigev_notify = t->signo ? SIGEV_SIGNAL : SIGEV_NONE;
    ev.sigev_signo = SIGALRM;
    ev.sigev_value.sival_int = slot;
    if (timer_create((clockid_t)c->a[0], &ev, &t->host) < 0)
        return -errno;
    t->delivered_overrun = 0;
    t->used = 1;
    store_u32(c->p[2], (uint32_t)slot);
    return 0;
}

/* struct itimerspec: it_interval then it_value, each {i64 tv_sec; i64 tv_nsec} (timespec64_valid).
 */
static int read_itimerspec(const uint8_t *p, struct itimerspec *it)
{
    struct keep_cursor cur;
    uint64_t v[4];
    static const char *const names[4] = {"it_interval.tv_sec", "it_interval.tv_nsec",
                                         "it_value.tv_sec", "it_value.tv_nsec"};
    keep_cursor_init(&cur, p, KEEP_SIZEOF_ITIMERSPEC);
    for (int i = 0; i < 4; i++)
        if (keep_cursor_u64(&cur, names[i], &v[i], NULL))
            return -EFAULT;
    for (int i = 0; i < 4; i += 2)
        if ((int64_t)v[i] < 0 || v[i + 1] >= 1000000000u)
            return -EINVAL;
    it->it_interval = (struct timespec){(time_t)v[0], (long)v[1]};
    it->it_value = (struct timespec){(time_t)v[2], (long)v[3]};
    return 0;
}

static void write_itimerspec(uint8_t *p, const struct itimerspec *it)
{
    store_u64(p, (uint64_t)it->it_interval.tv_sec);
    store_u64(p + 8, (uint64_t)it->it_interval.tv_nsec);
    store_u64(p + 16, (uint64_t)it->it_value.tv_sec);
    store_u64(p + 24, (uint64_t)it->it_value.tv_nsec);
}

static int64_t do_timer_settime(struct exec_call *c)
{
    struct guest_timer *t = timer_of(c->a[0]);
    struct itimerspec next, old;
    if (!t)
        return -EINVAL;
    int rc = read_itimerspec(c->p[2], &next);
    if (rc)
        return rc;
    /* Only TIMER_ABSTIME means anything; the kernel ignores the other bits. */
    if (timer_settime(t->host, (int)(c->a[1] & TIMER_ABSTIME), &next, &old) < 0)
        return -errno;
    if (c->p[3])
        write_itimerspec(c->p[3], &old);
    return 0;
}

static int64_t do_timer_gettime(struct exec_call *c)
{
    struct guest_timer *t = timer_of(c->a[0]);
    struct itimerspec cur;
    if (!t)
        return -EINVAL;
    if (timer_gettime(t->host, &cur) < 0)
        return -errno;
    write_itimerspec(c->p[1], &cur);
    return 0;
}

/* The overrun count of the timer's last delivered signal (the shim keeps the note). */
static int64_t do_timer_getoverrun(struct exec_call *c)
{
    struct guest_timer *t = timer_of(c->a[0]);
    if (!t)
        return -EINVAL;
    volatile struct keep_shim_signals *s = timer_page;
    int slot = (int)(t - timers);
    if (s && t->signo) {
        uint64_t bit = 1ull << (t->signo - 1);
        volatile struct keep_shim_timer_note *n = &s->timer[t->signo - 1];
        if (n->timerid == (uint32_t)slot && !(s->from_timer & bit))
            return n->overrun > INT32_MAX ? INT32_MAX : n->overrun;
    }
    return t->delivered_overrun;
}

static int64_t do_timer_delete(struct exec_call *c)
{
    struct guest_timer *t = timer_of(c->a[0]);
    if (!t)
        return -EINVAL;
    t->used = 0;
    timer_delete(t->host);
    return 0;
}

exec_handler keep_exec_signal_handler(uint64_t nr)
{
    switch (nr) {
    case KEEP_NR_timer_create:
        return do_timer_create;
    case KEEP_NR_timer_settime:
        return do_timer_settime;
    case KEEP_NR_timer_gettime:
        return do_timer_gettime;
    case KEEP_NR_timer_getoverrun:
        return do_timer_getoverrun;
    case KEEP_NR_timer_delete:
        return do_timer_delete;
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
