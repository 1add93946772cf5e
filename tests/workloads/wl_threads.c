/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Threads (pthreads over clone, futex, set_tid_address): 8 threads that
 * each add to a mutex-protected counter and wait on a condition variable
 * until all have started, distinct tids, join, and a thread-local variable
 * per thread (FS base per vCPU).
 *
 * wl_threads hostile (kvm only): the thread requests the shim sends the
 * host (KEEP_REQ_CLONE, KEEP_REQ_FUTEX, KEEP_REQ_KICK), sent by the workload itself with
 * impossible values: the host refuses each and the Keep runs on.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../../src/common/shim_abi.h"

#include "wl.h"

enum { THREADS = 8, ADDS = 20000 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_started = PTHREAD_COND_INITIALIZER;
static int started;
static long counter;
static pid_t tids[THREADS];
static __thread uint64_t mine;

static void *worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    mine = (uint64_t)i * 1000 + 7;
    tids[i] = (pid_t)syscall(SYS_gettid);
    pthread_mutex_lock(&lock);
    started++;
    pthread_cond_broadcast(&all_started);
    while (started < THREADS)
        pthread_cond_wait(&all_started, &lock);
    pthread_mutex_unlock(&lock);
    for (int k = 0; k < ADDS; k++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    return (void *)(uintptr_t)(mine == (uint64_t)i * 1000 + 7);
}

static uint64_t uaddr2_next;

/* This vCPU's report (struct keep_shim_cpu at the GS base), then one port request. */
static int64_t request(uint32_t req, uint64_t vector, uint64_t addr, uint64_t status,
                       uint64_t error_code)
{
    uint64_t block;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(block));
    volatile struct keep_shim_report *r = &((volatile struct keep_shim_cpu *)block)->report;
    r->vector = vector;
    r->addr = addr;
    r->status = status;
    r->error_code = error_code;
    r->rip = uaddr2_next; /* uaddr2 of a futex request */
    r->rsp = 0;
    uaddr2_next = 0;
    __asm__ volatile("outl %0, %w1" : : "a"(req), "Nd"(KEEP_PORT) : "memory");
    return (int64_t)r->status;
}

/*
 * Two threads ask the host at the same moment to start the same free vCPU
 * (KEEP_REQ_CLONE, slot RACE_SLOT): exactly one may get it. The thread it
 * starts spins until released, then exits.
 */
enum { RACE_SLOT = KEEP_MAX_VCPUS - 1, RACE_ROUNDS = 20 };
volatile int race_release;
static volatile int race_go;
static int64_t race_result[2];
static uint8_t race_stack[4096] __attribute__((aligned(16)));
void race_child(void);
__asm__(".text\n"
        "race_child:\n"
        "1: pause\n"
        "   cmpl $0, race_release(%rip)\n"
        "   je 1b\n"
        "   movl $60, %eax\n" /* exit(0) */
        "   xorl %edi, %edi\n"
        "   syscall\n"
        "   ud2\n");

static void *race_clone(void *arg)
{
    int i = (int)(intptr_t)arg;
    while (!race_go)
        ;
    race_result[i] = request(KEEP_REQ_CLONE, RACE_SLOT, 0, 0, 0);
    return NULL;
}

static void clone_race(void)
{
    uint64_t self;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(self));
    volatile struct keep_shim_cpu *b = (volatile struct keep_shim_cpu *)(uintptr_t)self;
    volatile struct keep_shim_cpu *slot = b - b->index + RACE_SLOT;
    int twice = 0, never = 0;
    for (int round = 0; round < RACE_ROUNDS; round++) {
        while (__atomic_load_n(&slot->in_use, __ATOMIC_SEQ_CST))
            sched_yield(); /* the last round's thread has not ended yet */
        memset((void *)&slot->regs, 0, sizeof(slot->regs));
        slot->regs.rip = (uint64_t)(uintptr_t)race_child;
        slot->regs.rsp = (uint64_t)(uintptr_t)(race_stack + sizeof(race_stack));
        slot->regs.cs = KEEP_SEL_UCODE;
        slot->regs.ss = KEEP_SEL_UDATA;
        slot->regs.rflags = 0x202;
        slot->from = KEEP_SIG_FROM_NONE;
        slot->clear_child_tid = slot->blocked = slot->pending = 0;
        slot->start_fp = 0;
        race_release = race_go = 0;
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, race_clone, (void *)(intptr_t)i);
        race_go = 1;
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        int won = (race_result[0] == 0) + (race_result[1] == 0);
        twice += won == 2;
        never += won == 0;
        race_release = 1;
    }
    wl_check(
        !twice && !never,
        "two clone requests for one vCPU at once: one wins (%d of %d rounds both won, %d none)",
        twice, RACE_ROUNDS, never);
}

static int hostile(void)
{
    static uint32_t word = 5;
    wl_check(request(KEEP_REQ_FUTEX, 0, 0x100000, 5, 0) == -EFAULT,
             "futex on the shim's text: EFAULT");
    wl_check(request(KEEP_REQ_FUTEX, 0, (uint64_t)(uintptr_t)&word + 1, 5, 0) == -EFAULT,
             "futex on an unaligned word: EFAULT");
    wl_check(request(KEEP_REQ_FUTEX, 0, (uint64_t)(uintptr_t)&word, 5, 0x2000) == -EFAULT,
             "futex wait with its timeout outside workload memory: EFAULT");
    wl_check(request(KEEP_REQ_FUTEX, 6 /* FUTEX_LOCK_PI */, (uint64_t)(uintptr_t)&word, 0, 0) ==
                 -ENOSYS,
             "PI futex: ENOSYS");
    wl_check(request(KEEP_REQ_FUTEX, 0, (uint64_t)(uintptr_t)&word, 4, 0) == -EAGAIN,
             "futex wait on a word that changed: EAGAIN");
    /* A reserved page never touched: not in use, so the host must not store to it. */
    uint8_t *fresh =
        mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uaddr2_next = (uint64_t)(uintptr_t)(fresh + 4096);
    wl_check(fresh != MAP_FAILED && request(KEEP_REQ_FUTEX, 5 /* FUTEX_WAKE_OP */,
                                            (uint64_t)(uintptr_t)&word, 1, 0) == -EFAULT,
             "futex WAKE_OP storing to a page not in use: EFAULT");
    wl_check(request(KEEP_REQ_CLONE, 0, 0, 0, 0) == -EINVAL, "clone onto vCPU 0: EINVAL");
    wl_check(request(KEEP_REQ_CLONE, KEEP_MAX_VCPUS, 0, 0, 0) == -EINVAL,
             "clone onto vCPU %d (past the last): EINVAL", KEEP_MAX_VCPUS);
    wl_check(request(KEEP_REQ_CLONE, 1, 1ull << 63, 1, 0) == -EINVAL,
             "clone with a non-canonical FS base: EINVAL");
    /* KEEP_REQ_KICK (issue 8): only another vCPU that runs a thread is kicked. */
    wl_check(request(KEEP_REQ_KICK, 0, 0, 0, 0) == -EINVAL, "kick of its own vCPU: EINVAL");
    wl_check(request(KEEP_REQ_KICK, KEEP_MAX_VCPUS, 0, 0, 0) == -EINVAL,
             "kick of vCPU %d (past the last): EINVAL", KEEP_MAX_VCPUS);
    wl_check(request(KEEP_REQ_KICK, ~0ull, 0, 0, 0) == -EINVAL, "kick of vCPU 2^64-1: EINVAL");
    wl_check(request(KEEP_REQ_KICK, 5, 0, 0, 0) == -ESRCH, "kick of a vCPU with no thread: ESRCH");
    clone_race();
    printf("still running\n");
    return wl_done();
}

static void *report_fp_env(void *arg)
{
    uint32_t *out = arg;
    uint16_t fcw;
    __asm__ volatile("stmxcsr %0; fnstcw %1" : "=m"(out[0]), "=m"(fcw));
    out[1] = fcw;
    return NULL;
}

/* pthread_create(3p): "The floating-point environment shall be inherited from the calling thread."
 */
static void fp_env_inherited(void)
{
    uint32_t mxcsr, got[2] = {0, 0};
    uint16_t fcw;
    __asm__ volatile("stmxcsr %0; fnstcw %1" : "=m"(mxcsr), "=m"(fcw));
    /* Round up in both units: MXCSR.RC bits 13-14, FCW.RC bits 10-11 (SDM vol 1, 4.8.4). */
    uint32_t up_mxcsr = (mxcsr & ~0x6000u) | 0x4000u;
    uint16_t up_fcw = (uint16_t)((fcw & ~0xc00u) | 0x800u);
    __asm__ volatile("ldmxcsr %0; fldcw %1" : : "m"(up_mxcsr), "m"(up_fcw));
    pthread_t t;
    int rc = pthread_create(&t, NULL, report_fp_env, got);
    if (rc == 0)
        pthread_join(t, NULL);
    __asm__ volatile("ldmxcsr %0; fldcw %1" : : "m"(mxcsr), "m"(fcw));
    wl_check(rc == 0 && got[0] == up_mxcsr && got[1] == up_fcw,
             "a new thread has its creator's MXCSR %#x and x87 control word %#x (got %#x, %#x)",
             up_mxcsr, up_fcw, got[0], got[1]);
}

/* futex(2) on memory that is not mapped: EFAULT, as Linux answers (the Keep once faulted). */
static void futex_bad_addresses(void)
{
    /* linux/futex.h values (musl has no kernel headers). FUTEX_OP(SET, 1, CMP_EQ, 0) is 0x1000. */
    enum { FUTEX_WAIT_PRIVATE = 128, FUTEX_WAKE_OP_PRIVATE = 133, SET_1_IF_EQ_0 = 0x1000 };
    uint32_t *gone = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(gone, 8192);
    static uint32_t word;
    errno = 0;
    long rc = syscall(SYS_futex, gone, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    wl_check(wl_failed_with(rc, EFAULT, EFAULT), "futex wait on an unmapped word: EFAULT");
    errno = 0;
    rc = syscall(SYS_futex, &word, FUTEX_WAKE_OP_PRIVATE, 1, 1, gone + 1024, SET_1_IF_EQ_0);
    wl_check(wl_failed_with(rc, EFAULT, EFAULT), "futex WAKE_OP onto an unmapped word: EFAULT");
    struct timespec *ts = (struct timespec *)(void *)(gone + 512);
    errno = 0;
    rc = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, ts, NULL, 0);
    wl_check(wl_failed_with(rc, EFAULT, EFAULT), "futex wait with an unmapped timeout: EFAULT");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "hostile") == 0)
        return hostile();
    pthread_t t[THREADS];
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    int rc = sched_getaffinity(0, sizeof(cpus), &cpus);
    wl_check(rc == 0 && CPU_COUNT(&cpus) >= 1, "sched_getaffinity: %d CPUs", CPU_COUNT(&cpus));
    int created = 0;
    for (int i = 0; i < THREADS; i++)
        created += pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i) == 0;
    wl_check(created == THREADS, "pthread_create x %d (%d made)", THREADS, created);
    int tls_ok = 0;
    for (int i = 0; i < created; i++) {
        void *r = NULL;
        pthread_join(t[i], &r);
        tls_ok += r != NULL;
    }
    wl_check(tls_ok == THREADS, "each thread kept its own thread-local value (%d)", tls_ok);
    wl_check(counter == (long)THREADS * ADDS, "the mutex kept every add: %ld of %ld", counter,
             (long)THREADS * ADDS);
    int distinct = 1;
    for (int i = 0; i < THREADS; i++)
        for (int j = 0; j < i; j++)
            distinct &= tids[i] != tids[j] && tids[i] != getpid();
    wl_check(distinct, "every thread has its own tid, none the pid");
    futex_bad_addresses();
    fp_env_inherited();
    /* A second round reuses the finished threads' slots. */
    counter = 0;
    started = 0;
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    wl_check(counter == (long)THREADS * ADDS, "a second round of %d threads: %ld adds", THREADS,
             counter);
    return wl_done();
}
