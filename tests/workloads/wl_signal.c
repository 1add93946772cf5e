/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signal delivery, as Linux does it (signal(7), sigaction(2)): handlers with
 * siginfo and ucontext, masks, SA_NODEFER, SA_RESETHAND, SA_ONSTACK on an
 * alternate stack, sigreturn restoring every register, synchronous faults
 * (SIGSEGV recovered by siglongjmp, SIGILL, SIGFPE, SIGTRAP), kill/tgkill
 * to itself, SIGPIPE, SIGALRM interrupting a loop that makes no system
 * call and a blocking read (EINTR).
 *
 * With an argument it dies the way Linux would kill it instead:
 *   pipe-default  write to a closed pipe with SIGPIPE at its default (141)
 *   kill-self     kill(getpid(), SIGKILL) (137)
 *   abort         abort() (134)
 *   term          kill(getpid(), SIGTERM) (143)
 *   forge         rt_sigreturn with a forged frame asking for IOPL 3: it lands where the
 *                 frame says, but IOPL stays 0 and cli faults (as on Linux); exit 0
 *   forge-fp      rt_sigreturn with a frame whose FPU state is at 0x1000: SIGSEGV (139)
 *   bad-killed    (kvm only) report death by signal 99 to the host itself, as a hostile
 *                 workload could: the host refuses it (keep fails, 125)
 *   sigint        catch SIGINT in a loop without system calls, print "caught SIGINT",
 *                 then wait in pause() for the next one (which stops a Keep: 130)
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <ucontext.h>
#include <unistd.h>

#include "wl.h"

static volatile sig_atomic_t hits, last_sig, last_code, blocked_inside;
static volatile uintptr_t last_addr, handler_sp;
static volatile pid_t last_pid;
static sigjmp_buf recover;

static int install(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
    struct sigaction sa = {.sa_sigaction = fn, .sa_flags = SA_SIGINFO | flags};
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

static int is_blocked(int sig)
{
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, sig);
}

static void note(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int here;
    hits++;
    last_sig = sig;
    last_code = si->si_code;
    last_pid = si->si_pid;
    last_addr = (uintptr_t)si->si_addr;
    handler_sp = (uintptr_t)&here;
    blocked_inside = is_blocked(sig);
}

static void reset(void)
{
    hits = last_sig = last_code = blocked_inside = 0;
    last_addr = handler_sp = 0;
    last_pid = 0;
}

static void test_kill_self(void)
{
    reset();
    install(SIGUSR1, note, 0);
    int rc = kill(getpid(), SIGUSR1);
    wl_check(rc == 0 && hits == 1 && last_sig == SIGUSR1,
             "kill(getpid(), SIGUSR1) runs the handler once (%d hits)", (int)hits);
    wl_check(last_code == SI_USER && last_pid == getpid(),
             "  siginfo: si_code SI_USER, si_pid the sender (%d, %d)", (int)last_code,
             (int)last_pid);
    wl_check(blocked_inside, "  the signal is blocked while its handler runs");
    wl_check(!is_blocked(SIGUSR1), "  and unblocked again after sigreturn");
    reset();
    install(SIGUSR2, note, 0);
    rc = (int)syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2);
    wl_check(rc == 0 && hits == 1 && last_sig == SIGUSR2 && last_code == SI_TKILL,
             "tgkill(pid, tid, SIGUSR2): handler, si_code SI_TKILL (%d)", (int)last_code);
    reset();
    wl_check(raise(SIGUSR2) == 0 && hits == 1, "raise(SIGUSR2)");
    wl_check(kill(getpid(), 0) == 0, "kill(getpid(), 0) checks the process exists");
    wl_check(kill(getpid() + 1000, SIGUSR1) == -1 && errno == ESRCH, "kill of another pid: ESRCH");
    wl_check(kill(getpid(), 65) == -1 && errno == EINVAL, "kill with signal 65: EINVAL");
}

static void test_mask(void)
{
    sigset_t set, pending;
    reset();
    install(SIGUSR1, note, 0);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR1);
    wl_check(hits == 0, "a blocked signal is not delivered");
    wl_check(sigpending(&pending) == 0 && sigismember(&pending, SIGUSR1), "  sigpending shows it");
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    wl_check(hits == 1, "  unblocking delivers it once, at once (%d hits)", (int)hits);
    /* rt_sigprocmask(2) reads how only with a new set: a query with any how succeeds. */
    uint64_t old = 0;
    wl_check(syscall(SYS_rt_sigprocmask, 99, NULL, &old, 8) == 0,
             "  rt_sigprocmask(99, NULL, &old) only reads the mask");
    wl_check(syscall(SYS_rt_sigprocmask, 99, &set, NULL, 8) == -1 && errno == EINVAL,
             "  rt_sigprocmask(99, set, NULL): EINVAL");
    sigpending(&pending);
    wl_check(!sigismember(&pending, SIGUSR1), "  and it is no longer pending");
    signal(SIGUSR1, SIG_IGN);
    reset();
    kill(getpid(), SIGUSR1);
    wl_check(hits == 0, "SIG_IGN discards the signal");
    /* SIGKILL and SIGSTOP cannot be caught (sigaction(2), EINVAL). */
    struct sigaction sa = {.sa_handler = SIG_IGN};
    wl_check(sigaction(SIGKILL, &sa, NULL) == -1 && errno == EINVAL, "sigaction(SIGKILL): EINVAL");
}

static void test_flags(void)
{
    struct sigaction old;
    reset();
    install(SIGUSR1, note, SA_NODEFER);
    raise(SIGUSR1);
    wl_check(hits == 1 && !blocked_inside, "SA_NODEFER: not blocked inside its handler");
    reset();
    install(SIGUSR1, note, SA_RESETHAND);
    raise(SIGUSR1);
    sigaction(SIGUSR1, NULL, &old);
    wl_check(hits == 1 && old.sa_handler == SIG_DFL,
             "SA_RESETHAND: the handler ran and the disposition is SIG_DFL again");
    /* sa_mask is blocked while the handler runs. */
    reset();
    struct sigaction sa = {.sa_sigaction = note, .sa_flags = SA_SIGINFO};
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    install(SIGUSR2, note, 0);
    raise(SIGUSR1);
    wl_check(hits == 1 && last_sig == SIGUSR1, "sa_mask: one handler ran");
}

static void on_alt(int sig, siginfo_t *si, void *ucv)
{
    note(sig, si, ucv);
    stack_t now;
    sigaltstack(NULL, &now);
    blocked_inside = now.ss_flags == SS_ONSTACK;
}

static void on_alt_disarmed(int sig, siginfo_t *si, void *ucv)
{
    note(sig, si, ucv);
    stack_t now;
    sigaltstack(NULL, &now);
    blocked_inside = now.ss_flags == SS_DISABLE && now.ss_size == 0;
}

static void test_altstack(void)
{
    static char alt[64 * 1024] __attribute__((aligned(16)));
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof(alt)}, got;
    wl_check(sigaltstack(&ss, NULL) == 0, "sigaltstack of 64 KiB");
    stack_t small = {.ss_sp = alt, .ss_size = 512};
    wl_check(sigaltstack(&small, NULL) == -1 && errno == ENOMEM,
             "sigaltstack below MINSIGSTKSZ: ENOMEM");
    reset();
    install(SIGUSR1, on_alt, SA_ONSTACK);
    raise(SIGUSR1);
    wl_check(hits == 1 && handler_sp > (uintptr_t)alt && handler_sp < (uintptr_t)alt + sizeof(alt),
             "SA_ONSTACK: the handler runs on the alternate stack");
    wl_check(blocked_inside, "  and sigaltstack says SS_ONSTACK there");
    sigaltstack(NULL, &got);
    wl_check(got.ss_sp == alt && got.ss_flags == 0, "  back on the normal stack afterwards");
    reset();
    install(SIGUSR1, on_alt, 0);
    raise(SIGUSR1);
    wl_check(hits == 1 &&
                 !(handler_sp > (uintptr_t)alt && handler_sp < (uintptr_t)alt + sizeof(alt)),
             "without SA_ONSTACK the handler runs on the normal stack");
    /* SS_AUTODISARM disarms for every handler, on that stack or not (kernel/signal.c). */
    ss.ss_flags = (int)(1u << 31); /* SS_AUTODISARM; musl's headers lack it */
    wl_check(sigaltstack(&ss, NULL) == 0, "sigaltstack with SS_AUTODISARM");
    reset();
    install(SIGUSR1, on_alt_disarmed, 0);
    raise(SIGUSR1);
    wl_check(hits == 1 && blocked_inside, "  a handler without SA_ONSTACK sees it disabled");
    sigaltstack(NULL, &got);
    wl_check(got.ss_sp == alt && got.ss_size == sizeof(alt) && got.ss_flags == (int)(1u << 31),
             "  and sigreturn re-arms it");
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
}

static void on_fault_jump(int sig, siginfo_t *si, void *uc)
{
    note(sig, si, uc);
    siglongjmp(recover, 1);
}

static void test_faults(void)
{
    install(SIGSEGV, on_fault_jump, 0);
    for (int round = 0; round < 2; round++) {
        reset();
        if (sigsetjmp(recover, 1) == 0) {
            static volatile uintptr_t bad = 0x18;
            *(volatile int *)bad = 1;
            wl_check(0, "the write to 0x18 faulted");
        }
        wl_check(hits == 1 && last_sig == SIGSEGV && last_addr == 0x18 && last_code == SEGV_MAPERR,
                 "SIGSEGV at 0x18, recovered by siglongjmp (round %d, si_addr %#lx, code %d)",
                 round + 1, (unsigned long)last_addr, (int)last_code);
        wl_check(!is_blocked(SIGSEGV), "  siglongjmp restored the mask");
    }
    install(SIGILL, on_fault_jump, 0);
    reset();
    static volatile uintptr_t where;
    if (sigsetjmp(recover, 1) == 0)
        __asm__ volatile("lea 1f(%%rip), %%rax\n\tmov %%rax, %0\n\t1: ud2" : "=m"(where) : : "rax");
    wl_check(hits == 1 && last_sig == SIGILL && last_code == ILL_ILLOPN && last_addr == where,
             "ud2: SIGILL, ILL_ILLOPN at the instruction (code %d)", (int)last_code);
    install(SIGFPE, on_fault_jump, 0);
    reset();
    if (sigsetjmp(recover, 1) == 0)
        __asm__ volatile("xor %%ecx, %%ecx\n\tmov $1, %%eax\n\tcltd\n\tidivl %%ecx" ::
                             : "eax", "ecx", "edx");
    wl_check(hits == 1 && last_sig == SIGFPE && last_code == FPE_INTDIV,
             "divide by zero: SIGFPE, FPE_INTDIV (code %d)", (int)last_code);
    install(SIGTRAP, note, 0);
    reset();
    __asm__ volatile("int3");
    wl_check(hits == 1 && last_sig == SIGTRAP && last_code == SI_KERNEL,
             "int3: SIGTRAP, SI_KERNEL, and execution continues after it (code %d)",
             (int)last_code);
}

/* A handler that returns: sigreturn resumes with the registers ucontext holds. */
static void on_ill_skip(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    note(sig, si, ucv);
    uc->uc_mcontext.gregs[REG_RIP] += 2; /* past the ud2 */
    uc->uc_mcontext.gregs[REG_RBX] = 0x1234;
}

static void test_sigreturn(void)
{
    install(SIGILL, on_ill_skip, 0);
    reset();
    uint64_t rbx = 0, r12 = 0x5555, r12_after = 0;
    __asm__ volatile("mov %2, %%r12\n\tmov $7, %%rbx\n\tud2\n\tmov %%rbx, %0\n\tmov %%r12, %1"
                     : "=r"(rbx), "=r"(r12_after)
                     : "r"(r12)
                     : "rbx", "r12");
    wl_check(hits == 1 && rbx == 0x1234 && r12_after == 0x5555,
             "a handler's ucontext changes reach the registers after sigreturn (rbx %#lx, r12 "
             "%#lx)",
             (unsigned long)rbx, (unsigned long)r12_after);
    /* SSE state survives a handler that uses SSE itself. */
    install(SIGUSR1, note, 0);
    volatile double x = 1.25, y;
    double before = x * 3;
    raise(SIGUSR1);
    char buf[32];
    snprintf(buf, sizeof(buf), "%.3f", before / 7);
    y = x * 3;
    wl_check(y == before && strcmp(buf, "0.536") == 0, "floating point survives a handler");
}

static void test_sigpipe(void)
{
    int fds[2];
    pipe(fds);
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    wl_check(write(fds[1], "x", 1) == -1 && errno == EPIPE, "SIGPIPE ignored: write gives EPIPE");
    reset();
    install(SIGPIPE, note, 0);
    long r = write(fds[1], "x", 1);
    wl_check(r == -1 && errno == EPIPE && hits == 1 && last_sig == SIGPIPE,
             "SIGPIPE caught: the handler ran and write gives EPIPE");
    close(fds[1]);
}

static void test_alarm(void)
{
    reset();
    install(SIGALRM, note, 0);
    wl_check(alarm(1) == 0, "alarm(1)");
    struct itimerval it;
    wl_check(getitimer(ITIMER_REAL, &it) == 0 && it.it_value.tv_sec <= 1 &&
                 (it.it_value.tv_sec || it.it_value.tv_usec),
             "  getitimer sees it armed");
    /* No system call in this loop: the signal must interrupt running code. */
    for (volatile uint64_t spins = 0; hits == 0; spins++)
        ;
    wl_check(hits == 1 && last_sig == SIGALRM && last_code == SI_KERNEL,
             "SIGALRM interrupts a loop that makes no system call");
    /* A blocking read without SA_RESTART ends with EINTR. */
    int fds[2];
    pipe(fds);
    reset();
    struct itimerval t = {.it_value = {.tv_usec = 200 * 1000}};
    setitimer(ITIMER_REAL, &t, NULL);
    char c;
    long r = read(fds[0], &c, 1);
    wl_check(r == -1 && errno == EINTR && hits == 1, "SIGALRM interrupts a blocking read: EINTR");
    close(fds[0]);
    close(fds[1]);
    wl_check(alarm(0) == 0, "alarm(0): nothing was left armed");
}

__attribute__((noreturn)) static void wait_for_sigint(void)
{
    reset();
    install(SIGINT, note, 0);
    printf("ready\n");
    fflush(stdout);
    for (volatile uint64_t spins = 0; hits == 0; spins++)
        ;
    printf("caught SIGINT\n");
    fflush(stdout);
    for (;;)
        pause();
}

/* A hand-made struct rt_sigframe: offsets as in the kernel (arch/x86/include/asm/sigframe.h). */
static uint64_t forged[128] __attribute__((aligned(64)));
static uint64_t landing_stack[2048] __attribute__((aligned(16)));

static void on_gp(int sig, siginfo_t *si, void *uc)
{
    note(sig, si, uc);
    siglongjmp(recover, 1);
}

__attribute__((noreturn)) static void landed(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0" : "=r"(flags));
    wl_check(1, "a forged sigreturn lands where its frame says");
    wl_check((flags & 0x3000) == 0, "  with IOPL 0 although the frame asked for 3 (rflags %#lx)",
             (unsigned long)flags);
    install(SIGSEGV, on_gp, 0);
    reset();
    if (sigsetjmp(recover, 1) == 0)
        __asm__ volatile("cli");
    wl_check(hits == 1 && last_sig == SIGSEGV, "  so cli is still #GP: SIGSEGV");
    exit(wl_done());
}

__attribute__((noreturn)) static void forge(uint64_t fpstate)
{
    memset(forged, 0, sizeof(forged));
    uint64_t *mc = forged + 6;                              /* frame + 48: uc_mcontext */
    mc[16] = (uint64_t)(uintptr_t)landed;                   /* rip */
    mc[15] = (uint64_t)(uintptr_t)&landing_stack[2048 - 1]; /* rsp: as after a call */
    mc[17] = 0x3202;                                        /* IOPL 3, IF */
    mc[18] = 0x33;    /* Linux's __USER_CS (a Keep ignores the selectors a frame names) */
    mc[23] = fpstate; /* fpstate */
    __asm__ volatile("mov %0, %%rsp\n\tmov $15, %%eax\n\tsyscall" : : "r"(forged + 1) : "memory");
    __builtin_unreachable();
}

static int die(const char *how)
{
    if (strcmp(how, "sigint") == 0)
        wait_for_sigint();
    if (strcmp(how, "forge") == 0)
        forge(0);
    if (strcmp(how, "bad-killed") == 0) {
        /* This vCPU's report: struct keep_shim_cpu (src/common/shim_abi.h) at the GS base,
         * a user page; report.status is at offset 256. */
        uint64_t block;
        __asm__ volatile("movq %%gs:0, %0" : "=r"(block));
        *(volatile uint64_t *)(uintptr_t)(block + 256) = 99;
        __asm__ volatile("outl %0, %w1" : : "a"(11 /* KEEP_REQ_KILLED */), "Nd"(0x4b50));
    }
    if (strcmp(how, "forge-fp") == 0)
        forge(0x1000);
    if (strcmp(how, "pipe-default") == 0) {
        int fds[2];
        pipe(fds);
        close(fds[0]);
        write(fds[1], "x", 1);
    } else if (strcmp(how, "kill-self") == 0) {
        kill(getpid(), SIGKILL);
    } else if (strcmp(how, "abort") == 0) {
        abort();
    } else if (strcmp(how, "term") == 0) {
        kill(getpid(), SIGTERM);
    } else {
        fprintf(stderr, "usage: wl_signal [pipe-default|kill-self|abort|term]\n");
        return 2;
    }
    printf("still alive after %s\n", how);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return die(argv[1]);
    test_kill_self();
    test_mask();
    test_flags();
    test_altstack();
    test_faults();
    test_sigreturn();
    test_sigpipe();
    test_alarm();
    return wl_done();
}
