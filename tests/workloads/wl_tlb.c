/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cross-thread TLB shootdown: a thread keeps touching a page while another
 * thread unmaps it, protects it or discards it. Once the change has
 * returned (munmap(2), mprotect(2), madvise(2) MADV_DONTNEED), no thread may
 * still reach the old page: a touch begun after that must fault (SIGSEGV)
 * or, after MADV_DONTNEED, read zero. Each case runs as Linux runs it; in a
 * Keep the other thread's vCPU must have dropped its cached translation
 * before the call returned (docs/KEEP.md, "Threads and processes").
 *
 * The check is by order, not by time: the toucher reads the "changed" flag,
 * then touches the page; a touch that succeeds with the flag already set
 * touched a page that was gone, and the toucher stops there; a fault counts
 * once the call has begun. The test
 * script's timeout is the only bound (no timing is asserted).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "wl.h"

enum { TOUCH_READ, TOUCH_WRITE };

static volatile uint64_t *page;
static int touch_kind;
static volatile int spinning, calling, changed, faulted, stale, zero_read;
static sigjmp_buf back;

static void on_segv(int sig)
{
    (void)sig;
    siglongjmp(back, 1);
}

static void *toucher(void *arg)
{
    (void)arg;
    struct sigaction sa = {.sa_handler = on_segv};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    if (sigsetjmp(back, 1)) {
        /* The fault may come as soon as the call began: before that it would be wrong. */
        faulted = __atomic_load_n(&calling, __ATOMIC_SEQ_CST) ? 1 : -1;
        return NULL;
    }
    for (uint64_t n = 0;; n++) {
        int after = __atomic_load_n(&changed, __ATOMIC_SEQ_CST);
        uint64_t v = 1;
        if (touch_kind == TOUCH_WRITE)
            *page = n | 1; /* never zero */
        else
            v = *page;
        if (after && v == 0) {
            zero_read = 1; /* MADV_DONTNEED: the page reads zero, as it must */
            return NULL;
        }
        if (after) {
            stale = 1;
            return NULL;
        }
        if (n == 1000)
            __atomic_store_n(&spinning, 1, __ATOMIC_SEQ_CST);
    }
}

static void wait_for(volatile int *flag)
{
    while (!__atomic_load_n(flag, __ATOMIC_SEQ_CST)) {
        struct timespec ms = {0, 1000 * 1000};
        nanosleep(&ms, NULL);
    }
}

/* Run one case: change() is applied while the toucher spins on the page. */
static void one_case(const char *what, int kind, int (*change)(void *), int want_zero)
{
    page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!wl_check(page != MAP_FAILED, "%s: mmap", what))
        return;
    *page = 0x5a5a;
    touch_kind = kind;
    spinning = calling = changed = faulted = stale = zero_read = 0;
    pthread_t t;
    if (!wl_check(pthread_create(&t, NULL, toucher, NULL) == 0, "%s: pthread_create", what))
        return;
    wait_for(&spinning);
    wl_check(spinning, "%s: the other thread touches the page", what);
    __atomic_store_n(&calling, 1, __ATOMIC_SEQ_CST);
    int rc = change((void *)page);
    __atomic_store_n(&changed, 1, __ATOMIC_SEQ_CST);
    wl_check(rc == 0, "%s: the call succeeds", what);
    /* The toucher ends by itself: a fault, a zero read or a stale touch (the hang guard aside). */
    pthread_join(t, NULL);
    wl_check(!stale, "%s: no touch of the old page after the call returned", what);
    if (want_zero)
        wl_check(zero_read, "%s: the other thread reads zero", what);
    else
        wl_check(faulted == 1, "%s: the other thread gets SIGSEGV", what);
    munmap((void *)page, 4096);
}

static int do_munmap(void *p)
{
    return munmap(p, 4096);
}
static int do_prot_none(void *p)
{
    return mprotect(p, 4096, PROT_NONE);
}
static int do_prot_read(void *p)
{
    return mprotect(p, 4096, PROT_READ);
}
static int do_dontneed(void *p)
{
    return madvise(p, 4096, MADV_DONTNEED);
}

int main(void)
{
    one_case("munmap, reader", TOUCH_READ, do_munmap, 0);
    one_case("munmap, writer", TOUCH_WRITE, do_munmap, 0);
    one_case("mprotect PROT_NONE, reader", TOUCH_READ, do_prot_none, 0);
    one_case("mprotect PROT_READ, writer", TOUCH_WRITE, do_prot_read, 0);
    one_case("madvise MADV_DONTNEED, reader", TOUCH_READ, do_dontneed, 1);
    return wl_done();
}
