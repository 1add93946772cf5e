/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signals, delivered as Linux delivers them on x86-64 (signal(7),
 * sigaction(2), arch/x86/kernel/signal.c): dispositions, the mask, the
 * alternate stack, an rt_sigframe (return address, ucontext with the
 * registers and the FPU state, siginfo) built on the workload's stack, and
 * rt_sigreturn. docs/KEEP.md, "Signals".
 *
 * Signals reach the shim three ways: raised by a call (kill, tgkill, EPIPE),
 * from the host through the pending word in the boot page (alarm, Ctrl-C),
 * or from a CPU exception in workload code. They are delivered when a
 * system call returns, or, for a vCPU running workload code, through
 * shim_signal_entry (entry.S), where the exception handler or the host
 * redirected it with the interrupted registers in the boot page.
 *
 * All of this runs at the shim's CPL (CPL3 under PVM, native speed); the
 * CPL0 part of a fault is only the copy into the boot page.
 */
#include "shim.h"

/* Linux values: include/uapi/asm-generic/signal.h, siginfo.h, arch/x86/include/uapi/asm. */
enum {
    SIGILL = 4,
    SIGTRAP = 5,
    SIGBUS = 7,
    SIGFPE = 8,
    SIGKILL = 9,
    SIGSEGV = 11,
    SIGPIPE = 13,
    SIGCHLD = 17,
    SIGCONT = 18,
    SIGSTOP = 19,
    SIGTTOU = 22,
    SIGURG = 23,
    SIGWINCH = 28,
    SI_USER = 0,
    SI_KERNEL = 0x80,
    SI_TKILL = -6,
    SI_TIMER = -2,
    ILL_ILLOPN = 2,
    FPE_INTDIV = 1,
    FPE_FLTINV = 7,
    SEGV_MAPERR = 1,
    SEGV_ACCERR = 2,
    BUS_ADRALN = 1,
    TRAP_TRACE = 2,
    SHIM_EPIPE = 32,
};
#define SIG_DFL       0ull
#define SIG_IGN       1ull
#define SA_RESTORER   0x04000000ull
#define SA_ONSTACK    0x08000000ull
#define SA_RESTART    0x10000000ull
#define SA_NODEFER    0x40000000ull
#define SA_RESETHAND  0x80000000ull
#define SS_ONSTACK    1u
#define SS_DISABLE    2u
#define SS_AUTODISARM (1u << 31)
#define MINSIGSTKSZ   2048u
#define MSG_NOSIGNAL  0x4000u
#define BIT(sig)      (1ull << ((sig)-1))
#define UNBLOCKABLE   (BIT(SIGKILL) | BIT(SIGSTOP))
/* RFLAGS bits sigreturn takes from the frame (arch/x86/kernel/signal.c FIX_EFLAGS). */
#define FIX_EFLAGS 0x50dd5ull
#define RF_TF_DF   0x10500ull

struct sigaction_k { /* the kernel's struct sigaction on x86-64 */
    uint64_t handler, flags, restorer, mask;
};

static struct sigaction_k actions[64];
/*
 * Per thread, in this vCPU's block: the mask, the alternate stack (size 0:
 * disabled; alt_flags holds SS_AUTODISARM), rt_sigsuspend's saved mask and
 * the signals sent to this thread. The pending set in the boot page is the
 * process's, shared by every vCPU and the host: changed atomically only.
 */
#define blocked     (shim_cpu()->blocked)
#define suspended   (shim_cpu()->suspended)
#define suspend_old (shim_cpu()->suspend_old)
/* Where each pending signal came from (no queueing: one instance per number). */
static struct {
    int32_t code, pid;
    uint32_t timerid, overrun; /* SI_TIMER: from the host's note */
    uint64_t value;
} origin[64];

/* ---- FPU state: fxsave, or xsave with the sw_reserved bytes glibc and Linux use ---- */

#define FP_XSTATE_MAGIC1 0x46505853u
#define FP_XSTATE_MAGIC2 0x46505845u

static struct {
    bool known, xsave;
    uint64_t xcr0;
    uint32_t size; /* bytes of the save area (512 for fxsave) */
} fpu;

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

static void fpu_probe(void)
{
    uint32_t r[4];
    if (fpu.known)
        return;
    fpu.known = true;
    fpu.size = 512;
    cpuid(1, 0, r);
    if (!(r[2] & (1u << 27))) /* CPUID.1:ECX.OSXSAVE: CR4.OSXSAVE is set */
        return;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    fpu.xcr0 = (uint64_t)hi << 32 | lo;
    cpuid(0xd, 0, r); /* EBX: XSAVE area size for the features XCR0 enables (SDM vol 1, 13.2) */
    fpu.xsave = true;
    fpu.size = r[1];
}

/* Bytes the frame reserves for FPU state: the save area and, with xsave, MAGIC2 after it. */
static uint64_t fpu_frame_size(void)
{
    fpu_probe();
    return fpu.size + (fpu.xsave ? 4 : 0);
}

static void fpu_save(uint64_t p)
{
    if (!fpu.xsave) {
        __asm__ volatile("fxsave64 (%0)" : : "r"(p) : "memory");
        return;
    }
    /* XSAVE writes only XSTATE_BV of the header; the rest must be zero for XRSTOR (SDM 13.7). */
    memset((void *)(p + 512), 0, 64);
    __asm__ volatile("xsave64 (%0)"
                     :
                     : "r"(p), "a"((uint32_t)fpu.xcr0), "d"((uint32_t)(fpu.xcr0 >> 32))
                     : "memory");
    volatile uint32_t *sw = (volatile uint32_t *)(p + 464); /* struct _fpx_sw_bytes */
    sw[0] = FP_XSTATE_MAGIC1;
    sw[1] = fpu.size + 4; /* extended_size */
    *(volatile uint64_t *)(p + 472) = fpu.xcr0;
    sw[4] = fpu.size; /* xstate_size */
    for (int i = 5; i < 12; i++)
        sw[i] = 0;
    *(volatile uint32_t *)(p + fpu.size) = FP_XSTATE_MAGIC2;
}

/* Make a workload-written save area safe to load: bits XRSTOR/FXRSTOR would #GP on go. */
static void fpu_sanitize(uint64_t p, bool extended)
{
    volatile uint32_t *mxcsr = (volatile uint32_t *)(p + 24);
    uint32_t mask = *(volatile uint32_t *)(p + 28);
    *mxcsr &= mask ? mask : 0xffbf;
    if (!extended)
        return;
    volatile uint64_t *hdr = (volatile uint64_t *)(p + 512);
    hdr[0] &= fpu.xcr0; /* XSTATE_BV */
    for (int i = 1; i < 8; i++)
        hdr[i] = 0; /* XCOMP_BV 0 (standard format) and the reserved bytes */
}

static void fpu_restore(uint64_t p)
{
    bool extended = fpu.xsave && *(volatile uint32_t *)(p + 464) == FP_XSTATE_MAGIC1 &&
                    *(volatile uint32_t *)(p + 480) == fpu.size &&
                    *(volatile uint32_t *)(p + fpu.size) == FP_XSTATE_MAGIC2;
    fpu_sanitize(p, extended);
    if (extended)
        __asm__ volatile("xrstor64 (%0)"
                         :
                         : "r"(p), "a"((uint32_t)fpu.xcr0), "d"((uint32_t)(fpu.xcr0 >> 32))
                         : "memory");
    else
        __asm__ volatile("fxrstor64 (%0)" : : "r"(p) : "memory");
}

/* sigreturn with no FPU state: the initial state (XSTATE_BV 0 initialises every component). */
static void fpu_reset(void)
{
    static uint8_t init[576] __attribute__((aligned(64)));
    *(uint32_t *)(init + 24) = 0x1f80; /* MXCSR at reset */
    *(uint16_t *)init = 0x37f;         /* FCW at reset */
    if (fpu.xsave)
        __asm__ volatile("xrstor64 (%0)"
                         :
                         : "r"(init), "a"((uint32_t)fpu.xcr0), "d"((uint32_t)(fpu.xcr0 >> 32))
                         : "memory");
    else
        __asm__ volatile("fxrstor64 (%0)" : : "r"(init) : "memory");
}

/* ---- dispositions ----------------------------------------------------------- */

static bool default_ignores(int sig)
{
    /* Ign: SIGCHLD, SIGCONT, SIGURG, SIGWINCH. Stop signals: a Keep has no job control. */
    return sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH ||
           (sig >= SIGSTOP && sig <= SIGTTOU);
}

static bool ignored(int sig)
{
    uint64_t h = actions[sig - 1].handler;
    return sig != SIGKILL && (h == SIG_IGN || (h == SIG_DFL && default_ignores(sig)));
}

static void publish_caught(void)
{
    uint64_t caught = 0;
    for (int s = 1; s <= 64; s++)
        if (actions[s - 1].handler > SIG_IGN)
            caught |= BIT(s);
    SIGNALS->caught = caught;
}

/* The default action ends the Keep the way Linux ends the process: status 128 + sig. */
__attribute__((noreturn)) static void killed_by(int sig)
{
    REPORT->status = (uint64_t)sig;
    for (;;)
        shim_port(KEEP_REQ_KILLED);
}

static volatile uint64_t *process_pending(void)
{
    return &SIGNALS->pending;
}

/* Raise sig for the process, or for one thread when to is that thread's block. */
static void raise_sig(int sig, int32_t code, int32_t pid, struct keep_shim_cpu *to)
{
    if (ignored(sig))
        return; /* Linux discards a signal ignored when it is sent */
    origin[sig - 1].code = code;
    origin[sig - 1].pid = pid;
    __atomic_fetch_or(to ? &to->pending : process_pending(), BIT(sig), __ATOMIC_SEQ_CST);
}

static uint64_t pending_here(void)
{
    return shim_cpu()->pending | *process_pending();
}

/* Take sig from this thread's set, else from the process's; false if another thread took it. */
static bool take(int sig)
{
    struct keep_shim_cpu *c = shim_cpu();
    if (c->pending & BIT(sig)) {
        __atomic_fetch_and(&c->pending, ~BIT(sig), __ATOMIC_SEQ_CST);
        return true;
    }
    return __atomic_fetch_and(process_pending(), ~BIT(sig), __ATOMIC_SEQ_CST) & BIT(sig);
}

/*
 * A POSIX timer's signal (timer_create(2)): the host wrote its note before
 * marking it; taking the mark ends the overrun count (the host's next expiry
 * starts a new note) and gives the handler SI_TIMER, the id and sigev_value.
 */
static void from_timer(int sig)
{
    if (!(__atomic_fetch_and(&SIGNALS->from_timer, ~BIT(sig), __ATOMIC_SEQ_CST) & BIT(sig)))
        return;
    volatile struct keep_shim_timer_note *n = &SIGNALS->timer[sig - 1];
    origin[sig - 1].code = SI_TIMER;
    origin[sig - 1].pid = 0;
    origin[sig - 1].timerid = n->timerid;
    origin[sig - 1].overrun = n->overrun;
    origin[sig - 1].value = n->value;
}

/*
 * The lowest pending, unblocked signal that runs a handler, after taking
 * the default action of the others (ignore, or end the Keep); 0 if none.
 */
static int next_signal(uint64_t mask)
{
    for (;;) {
        uint64_t ready = pending_here() & (~mask | UNBLOCKABLE);
        if (!ready)
            return 0;
        int sig = __builtin_ctzll(ready) + 1;
        if (!take(sig))
            continue;
        from_timer(sig);
        if (ignored(sig))
            continue;
        if (sig == SIGKILL || actions[sig - 1].handler == SIG_DFL)
            killed_by(sig);
        /* A host-sent signal (alarm, Ctrl-C) came from the kernel, as far as the workload knows. */
        if (origin[sig - 1].code == 0 && origin[sig - 1].pid == 0)
            origin[sig - 1].code = SI_KERNEL;
        return sig;
    }
}

/* ---- the frame -------------------------------------------------------------- */

/* struct rt_sigframe (arch/x86/include/asm/sigframe.h) and its parts, as byte offsets. */
enum {
    FRAME_PRETCODE = 0,
    FRAME_UC = 8,
    UC_FLAGS = 0,
    UC_LINK = 8,
    UC_STACK = 16, /* ss_sp, ss_flags (int), ss_size */
    UC_MCONTEXT = 40,
    UC_SIGMASK = 296,
    FRAME_INFO = 312,
    FRAME_SIZE = 440,
    UC_FP_XSTATE = 1,
    UC_SIGCONTEXT_SS = 2,
    UC_STRICT_RESTORE_SS = 4,
};
/* struct sigcontext_64 word indices (glibc's REG_R8 .. REG_CR2, then fpstate). */
enum {
    MC_R8,
    MC_R9,
    MC_R10,
    MC_R11,
    MC_R12,
    MC_R13,
    MC_R14,
    MC_R15,
    MC_RDI,
    MC_RSI,
    MC_RBP,
    MC_RBX,
    MC_RDX,
    MC_RAX,
    MC_RCX,
    MC_RSP,
    MC_RIP,
    MC_EFLAGS,
    MC_CSGSFS,
    MC_ERR,
    MC_TRAPNO,
    MC_OLDMASK,
    MC_CR2,
    MC_FPSTATE,
    MC_WORDS = 32,
};

struct sig_info {
    int32_t code, pid;
    uint32_t timerid, overrun;
    uint64_t value;
    uint64_t addr, trapno, err, cr2;
    bool fault;
};

static void set_alt(uint64_t sp, uint32_t flags, uint64_t size)
{
    struct keep_shim_cpu *c = shim_cpu();
    c->alt_sp = sp;
    c->alt_flags = flags;
    c->alt_size = size;
}

static bool alt_enabled(void)
{
    return shim_cpu()->alt_size != 0;
}

static bool on_altstack(uint64_t sp)
{
    struct keep_shim_cpu *c = shim_cpu();
    return alt_enabled() && sp > c->alt_sp && sp - c->alt_sp <= c->alt_size;
}

static uint32_t altstack_flags(uint64_t sp)
{
    if (!alt_enabled())
        return SS_DISABLE;
    return (on_altstack(sp) ? SS_ONSTACK : 0) | (shim_cpu()->alt_flags & SS_AUTODISARM);
}

static void regs_to_mcontext(const struct keep_shim_regs *r, volatile uint64_t *mc)
{
    mc[MC_R8] = r->r8, mc[MC_R9] = r->r9, mc[MC_R10] = r->r10, mc[MC_R11] = r->r11;
    mc[MC_R12] = r->r12, mc[MC_R13] = r->r13, mc[MC_R14] = r->r14, mc[MC_R15] = r->r15;
    mc[MC_RDI] = r->rdi, mc[MC_RSI] = r->rsi, mc[MC_RBP] = r->rbp, mc[MC_RBX] = r->rbx;
    mc[MC_RDX] = r->rdx, mc[MC_RAX] = r->rax, mc[MC_RCX] = r->rcx, mc[MC_RSP] = r->rsp;
    mc[MC_RIP] = r->rip, mc[MC_EFLAGS] = r->rflags;
    mc[MC_CSGSFS] = (uint64_t)KEEP_SEL_UCODE | (uint64_t)KEEP_SEL_UDATA << 48;
}

static void mcontext_to_regs(const volatile uint64_t *mc, struct keep_shim_regs *r)
{
    r->r8 = mc[MC_R8], r->r9 = mc[MC_R9], r->r10 = mc[MC_R10], r->r11 = mc[MC_R11];
    r->r12 = mc[MC_R12], r->r13 = mc[MC_R13], r->r14 = mc[MC_R14], r->r15 = mc[MC_R15];
    r->rdi = mc[MC_RDI], r->rsi = mc[MC_RSI], r->rbp = mc[MC_RBP], r->rbx = mc[MC_RBX];
    r->rdx = mc[MC_RDX], r->rax = mc[MC_RAX], r->rcx = mc[MC_RCX], r->rsp = mc[MC_RSP];
    r->rip = mc[MC_RIP];
    r->rflags = (mc[MC_EFLAGS] & FIX_EFLAGS) | (r->rflags & ~FIX_EFLAGS);
    r->cs = KEEP_SEL_UCODE; /* never the workload's choice */
    r->ss = KEEP_SEL_UDATA;
}

/* Build the frame for sig and point r at its handler (setup_rt_frame, x64_setup_rt_frame). */
static void setup_frame(struct keep_shim_regs *r, int sig, const struct sig_info *si)
{
    struct sigaction_k *act = &actions[sig - 1];
    uint64_t sp = r->rsp, saved_mask = suspended ? suspend_old : blocked;
    uint32_t stack_flags = altstack_flags(sp);
    if ((act->flags & SA_ONSTACK) && alt_enabled() && !on_altstack(sp))
        sp = shim_cpu()->alt_sp + shim_cpu()->alt_size;
    else
        sp -= 128; /* the red zone (psABI 3.2.2) */
    uint64_t fp_size = fpu_frame_size();
    uint64_t fp = (sp - fp_size) & ~63ull;
    uint64_t frame = ((fp - FRAME_SIZE) & ~15ull) - 8; /* as if called: (rsp + 8) % 16 == 0 */
    /* Linux force_sigsegv()s when it cannot write the frame; x86-64 needs SA_RESTORER. */
    if (!(act->flags & SA_RESTORER) || frame > sp || !shim_user_ok(frame, sp - frame))
        killed_by(SIGSEGV);
    memset((void *)frame, 0, FRAME_SIZE);
    volatile uint64_t *w = (volatile uint64_t *)frame;
    w[FRAME_PRETCODE / 8] = act->restorer;
    uint64_t uc = frame + FRAME_UC;
    *(volatile uint64_t *)(uc + UC_FLAGS) =
        (fpu.xsave ? UC_FP_XSTATE : 0) | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
    *(volatile uint64_t *)(uc + UC_STACK) = shim_cpu()->alt_sp;
    *(volatile uint32_t *)(uc + UC_STACK + 8) = stack_flags;
    *(volatile uint64_t *)(uc + UC_STACK + 16) = shim_cpu()->alt_size;
    volatile uint64_t *mc = (volatile uint64_t *)(uc + UC_MCONTEXT);
    regs_to_mcontext(r, mc);
    mc[MC_ERR] = si->err;
    mc[MC_TRAPNO] = si->trapno;
    mc[MC_OLDMASK] = saved_mask;
    mc[MC_CR2] = si->cr2;
    mc[MC_FPSTATE] = fp;
    *(volatile uint64_t *)(uc + UC_SIGMASK) = saved_mask;
    volatile int32_t *info = (volatile int32_t *)(frame + FRAME_INFO);
    info[0] = sig;
    info[2] = si->code;
    if (si->fault) {
        *(volatile uint64_t *)(frame + FRAME_INFO + 16) = si->addr; /* si_addr */
    } else if (si->code == SI_TIMER) {
        info[4] = (int32_t)si->timerid;                              /* si_timerid */
        info[5] = (int32_t)si->overrun;                              /* si_overrun */
        *(volatile uint64_t *)(frame + FRAME_INFO + 24) = si->value; /* si_value */
    } else {
        info[4] = si->pid;            /* si_pid */
        info[5] = si->pid ? 1000 : 0; /* si_uid: the Keep's uid (AT_UID) */
    }
    fpu_save(fp);
    /* Every delivery disarms it, SA_ONSTACK or not (kernel/signal.c, signal_delivered). */
    if (stack_flags & SS_AUTODISARM)
        set_alt(0, 0, 0);
    blocked |= act->mask | ((act->flags & SA_NODEFER) ? 0 : BIT(sig));
    blocked &= ~UNBLOCKABLE;
    suspended = false;
    r->rip = act->handler;
    r->rsp = frame;
    r->rdi = (uint64_t)sig;
    r->rsi = frame + FRAME_INFO;
    r->rdx = uc;
    r->rax = 0; /* no vector registers used by a variadic-style call */
    r->rflags &= ~RF_TF_DF;
    if (act->flags & SA_RESETHAND)
        *act = (struct sigaction_k){0};
    publish_caught();
}

static bool never_restarted(uint64_t nr)
{
    /* signal(7), "Interruption of system calls": never restarted after a handler. */
    switch (nr) {
    case KEEP_NR_poll:
    case KEEP_NR_select:
    case KEEP_NR_pselect6:
    case KEEP_NR_ppoll:
    case KEEP_NR_epoll_wait:
    case KEEP_NR_epoll_pwait:
    case KEEP_NR_epoll_pwait2:
    case KEEP_NR_nanosleep:
    case KEEP_NR_clock_nanosleep:
    case KEEP_NR_pause:
    case KEEP_NR_rt_sigsuspend:
    case KEEP_NR_rt_sigtimedwait:
        return true;
    default:
        return false;
    }
}

/*
 * Deliver one signal onto r if one is ready; true when a handler frame was
 * built. interrupted_nr >= 0: r is returning -EINTR from that call, which
 * SA_RESTART makes run again (rip back over the 2-byte SYSCALL, rax = nr).
 */
static bool deliver(struct keep_shim_regs *r, int64_t interrupted_nr)
{
    int sig = next_signal(blocked);
    if (!sig)
        return false;
    if (interrupted_nr >= 0 && (actions[sig - 1].flags & SA_RESTART) &&
        !never_restarted((uint64_t)interrupted_nr)) {
        r->rax = (uint64_t)interrupted_nr;
        r->rip -= 2;
    }
    struct sig_info si = {.code = origin[sig - 1].code,
                          .pid = origin[sig - 1].pid,
                          .timerid = origin[sig - 1].timerid,
                          .overrun = origin[sig - 1].overrun,
                          .value = origin[sig - 1].value};
    origin[sig - 1].code = origin[sig - 1].pid = 0;
    setup_frame(r, sig, &si);
    return true;
}

/* ---- the calls ---------------------------------------------------------------- */

static long do_rt_sigaction(uint64_t sig, uint64_t act, uint64_t old, uint64_t size)
{
    /* SIGKILL (9) and SIGSTOP (19) can be queried but not changed, as on Linux. */
    if (sig < 1 || sig > 64 || size != 8 || (act && (sig == SIGKILL || sig == SIGSTOP)))
        return -SHIM_EINVAL;
    if ((old && !shim_user_ok(old, 32)) || (act && !shim_user_ok(act, 32)))
        return -SHIM_EFAULT;
    struct sigaction_k next;
    if (act)
        memcpy(&next, (const void *)act, sizeof(next));
    if (old)
        memcpy((void *)old, &actions[sig - 1], sizeof(next));
    if (act) {
        next.mask &= ~UNBLOCKABLE;
        actions[sig - 1] = next;
        if (ignored((int)sig)) { /* POSIX: setting SIG_IGN discards a pending instance */
            __atomic_fetch_and(process_pending(), ~BIT(sig), __ATOMIC_SEQ_CST);
            __atomic_fetch_and(&SIGNALS->from_timer, ~BIT(sig), __ATOMIC_SEQ_CST);
        }
        publish_caught();
    }
    return 0;
}

static long do_rt_sigprocmask(uint64_t how, uint64_t set, uint64_t old, uint64_t size)
{
    if (size != 8 || (set && how > 2)) /* kernel/signal.c: how is read only with a new set */
        return -SHIM_EINVAL;
    if ((old && !shim_user_ok(old, 8)) || (set && !shim_user_ok(set, 8)))
        return -SHIM_EFAULT;
    uint64_t s = set ? *(const volatile uint64_t *)set : 0;
    if (old)
        *(volatile uint64_t *)old = blocked;
    if (set)
        blocked = (how == 0 ? blocked | s : how == 1 ? blocked & ~s : s) & ~UNBLOCKABLE;
    return 0;
}

static long set_altstack(uint64_t sp, uint32_t flags, uint64_t size, uint64_t cur_sp)
{
    if (on_altstack(cur_sp))
        return -SHIM_EPERM;
    uint32_t mode = flags & ~SS_AUTODISARM;
    if (mode != 0 && mode != SS_ONSTACK && mode != SS_DISABLE)
        return -SHIM_EINVAL;
    if (mode == SS_DISABLE) {
        set_alt(0, 0, 0);
        return 0;
    }
    if (size < MINSIGSTKSZ)
        return -SHIM_ENOMEM;
    set_alt(sp, flags & SS_AUTODISARM, size);
    return 0;
}

static long do_sigaltstack(uint64_t ss, uint64_t old, uint64_t cur_sp)
{
    if ((old && !shim_user_ok(old, 24)) || (ss && !shim_user_ok(ss, 24)))
        return -SHIM_EFAULT;
    uint64_t sp = 0, size = 0;
    uint32_t flags = 0;
    if (ss) {
        sp = *(const volatile uint64_t *)ss;
        flags = *(const volatile uint32_t *)(ss + 8);
        size = *(const volatile uint64_t *)(ss + 16);
    }
    if (old) {
        *(volatile uint64_t *)old = shim_cpu()->alt_sp;
        *(volatile uint64_t *)(old + 8) = altstack_flags(cur_sp); /* ss_flags, then padding */
        *(volatile uint64_t *)(old + 16) = shim_cpu()->alt_size;
    }
    return ss ? set_altstack(sp, flags, size, cur_sp) : 0;
}

static long do_kill(int64_t pid, uint64_t sig)
{
    if (sig > 64)
        return -SHIM_EINVAL;
    /* The Keep is one process, pid 1: itself, its group (0) or everyone (-1). */
    if (pid != 1 && pid != 0 && pid != -1)
        return -SHIM_ESRCH;
    if (sig)
        raise_sig((int)sig, SI_USER, 1, NULL);
    return 0;
}

/* tkill/tgkill: to one thread of the Keep (process 1), found by its tid. */
static long do_tkill(uint64_t tgid, uint64_t tid, uint64_t sig)
{
    if (sig > 64 || (int64_t)tid <= 0)
        return -SHIM_EINVAL;
    if (tgid != 1)
        return -SHIM_ESRCH;
    for (int i = 0; i < KEEP_MAX_VCPUS; i++) {
        struct keep_shim_cpu *c = &shim_cpus[i];
        if (__atomic_load_n(&c->in_use, __ATOMIC_SEQ_CST) && c->tid == tid) {
            if (sig)
                raise_sig((int)sig, SI_TKILL, 1, c);
            if (sig && c != shim_cpu()) {
                /* It may be blocked in a host call or spinning in its own code. */
                REPORT->vector = (uint64_t)(c - shim_cpus);
                shim_port(KEEP_REQ_KICK);
            }
            return 0;
        }
    }
    return -SHIM_ESRCH;
}

static long do_rt_sigpending(uint64_t set, uint64_t size)
{
    if (size != 8)
        return -SHIM_EINVAL;
    if (!shim_user_ok(set, 8))
        return -SHIM_EFAULT;
    *(volatile uint64_t *)set = pending_here() & blocked;
    return 0;
}

/* Wait in the host (pause) until a signal that runs a handler is ready under mask. */
static void wait_for_handler(uint64_t mask)
{
    for (;;) {
        uint64_t seen = SIGNALS->host_seq; /* before looking: a later addition ends pause */
        int sig = next_signal(mask);
        if (sig) {
            __atomic_fetch_or(&shim_cpu()->pending, BIT(sig), __ATOMIC_SEQ_CST); /* deliver() */
            return;
        }
        struct shim_frame p = {.nr = KEEP_NR_pause, .rdi = seen};
        shim_forward(&p);
    }
}

static long do_rt_sigsuspend(uint64_t set, uint64_t size)
{
    if (size != 8)
        return -SHIM_EINVAL;
    if (!shim_user_ok(set, 8))
        return -SHIM_EFAULT;
    suspend_old = blocked;
    suspended = true;
    blocked = *(const volatile uint64_t *)set & ~UNBLOCKABLE;
    wait_for_handler(blocked);
    return -SHIM_EINTR;
}

/* rt_sigreturn: the registers, mask, alternate stack and FPU state the frame holds. */
static long do_rt_sigreturn(const struct shim_frame *f)
{
    uint64_t frame = f->rsp - 8; /* the handler's ret popped pretcode */
    if (!shim_user_ok(frame, FRAME_SIZE))
        killed_by(SIGSEGV);
    uint64_t uc = frame + FRAME_UC;
    const volatile uint64_t *mc = (const volatile uint64_t *)(uc + UC_MCONTEXT);
    struct keep_shim_regs *r = SIGREGS;
    r->rflags = f->rflags;
    mcontext_to_regs(mc, r);
    blocked = *(const volatile uint64_t *)(uc + UC_SIGMASK) & ~UNBLOCKABLE;
    (void)set_altstack(*(const volatile uint64_t *)(uc + UC_STACK),
                       *(const volatile uint32_t *)(uc + UC_STACK + 8),
                       *(const volatile uint64_t *)(uc + UC_STACK + 16), r->rsp);
    uint64_t fp = mc[MC_FPSTATE];
    fpu_probe();
    if (!fp)
        fpu_reset();
    else if ((fp & (fpu.xsave ? 63 : 15)) || !shim_user_ok(fp, fpu_frame_size()))
        killed_by(SIGSEGV); /* Linux: a bad frame is SIGSEGV */
    else
        fpu_restore(fp);
    shim_resume_full = 1;
    return (long)r->rax;
}

long shim_signal_call(struct shim_frame *f, bool *handled)
{
    *handled = true;
    switch (f->nr) {
    case KEEP_NR_rt_sigaction:
        return do_rt_sigaction(f->rdi, f->rsi, f->rdx, f->r10);
    case KEEP_NR_rt_sigprocmask:
        return do_rt_sigprocmask(f->rdi, f->rsi, f->rdx, f->r10);
    case KEEP_NR_rt_sigreturn:
        return do_rt_sigreturn(f);
    case KEEP_NR_sigaltstack:
        return do_sigaltstack(f->rdi, f->rsi, f->rsp);
    case KEEP_NR_kill:
        return do_kill((int64_t)f->rdi, f->rsi);
    case KEEP_NR_tkill:
        return do_tkill(1, f->rdi, f->rsi);
    case KEEP_NR_tgkill:
        return do_tkill(f->rdi, f->rsi, f->rdx);
    case KEEP_NR_rt_sigpending:
        return do_rt_sigpending(f->rdi, f->rsi);
    case KEEP_NR_rt_sigsuspend:
        return do_rt_sigsuspend(f->rdi, f->rsi);
    case KEEP_NR_pause:
        wait_for_handler(blocked);
        return -SHIM_EINTR;
    default:
        *handled = false;
        return 0;
    }
}

static bool raises_sigpipe(const struct shim_frame *f)
{
    switch (f->nr) {
    case KEEP_NR_write:
    case KEEP_NR_writev:
    case KEEP_NR_pwrite64:
    case KEEP_NR_pwritev:
    case KEEP_NR_sendfile:
        return true;
    case KEEP_NR_sendto:
        return !(f->r10 & MSG_NOSIGNAL);
    case KEEP_NR_sendmsg:
        return !(f->rdx & MSG_NOSIGNAL);
    default:
        return false;
    }
}

void shim_frame_to_regs(const struct shim_frame *f, long result, struct keep_shim_regs *r)
{
    /* What SYSCALL left: rcx the return address, r11 the flags (Intel SDM vol 2, SYSCALL). */
    *r = (struct keep_shim_regs){
        .r15 = f->r15,
        .r14 = f->r14,
        .r13 = f->r13,
        .r12 = f->r12,
        .r11 = f->rflags,
        .r10 = f->r10,
        .r9 = f->r9,
        .r8 = f->r8,
        .rbp = f->rbp,
        .rdi = f->rdi,
        .rsi = f->rsi,
        .rdx = f->rdx,
        .rcx = f->rip,
        .rbx = f->rbx,
        .rax = (uint64_t)result,
        .rip = f->rip,
        .cs = KEEP_SEL_UCODE,
        .rflags = f->rflags,
        .rsp = f->rsp,
        .ss = KEEP_SEL_UDATA,
    };
}

long shim_signal_after(struct shim_frame *f, long result)
{
    if (result == -SHIM_EPIPE && raises_sigpipe(f))
        raise_sig(SIGPIPE, SI_USER, 1, shim_cpu()); /* to the thread that wrote */
    if (shim_resume_full) { /* sigreturn: SIGREGS holds the registers to resume */
        deliver(SIGREGS, -1);
        return result;
    }
    for (;;) {
        if (!(pending_here() & (~blocked | UNBLOCKABLE))) {
            /*
             * -EINTR from the host with no handler to run: a host signal for a
             * blocked or ignored guest signal interrupted the call. Linux would
             * not have interrupted it, so it runs again.
             */
            if (result == -SHIM_EINTR && f->nr != KEEP_NR_pause && f->nr != KEEP_NR_rt_sigsuspend) {
                result = shim_redo(f);
                continue;
            }
            return result;
        }
        shim_frame_to_regs(f, result, SIGREGS);
        int64_t interrupted = result == -SHIM_EINTR ? (int64_t)f->nr : -1;
        if (deliver(SIGREGS, interrupted)) {
            shim_resume_full = 1;
            return result;
        }
        /* Everything ready was ignored: carry on as if nothing came. */
    }
}

/* ---- faults and the trampoline ------------------------------------------------- */

static bool in_shim(uint64_t rip)
{
    return rip >= KEEP_GUEST_SHIM && rip < KEEP_GUEST_SHIM + KEEP_GUEST_SHIM_MAX;
}

/*
 * At CPL0, in the exception handler: a fault in workload code goes to the
 * CPL3 trampoline, which decides (handler or death) at native speed. Only
 * this copy runs at CPL0 (each instruction costs ~0.6 us under PVM).
 */
bool shim_signal_fault_redirect(struct exception_frame *f, uint64_t cr2)
{
    if ((f->cs & 3) != 3 || in_shim(f->rip) || shim_cpu()->from != KEEP_SIG_FROM_NONE)
        return false;
    *SIGREGS = (struct keep_shim_regs){
        .r15 = f->r15,
        .r14 = f->r14,
        .r13 = f->r13,
        .r12 = f->r12,
        .r11 = f->r11,
        .r10 = f->r10,
        .r9 = f->r9,
        .r8 = f->r8,
        .rbp = f->rbp,
        .rdi = f->rdi,
        .rsi = f->rsi,
        .rdx = f->rdx,
        .rcx = f->rcx,
        .rbx = f->rbx,
        .rax = f->rax,
        .rip = f->rip,
        .cs = f->cs,
        .rflags = f->rflags,
        .rsp = f->rsp,
        .ss = f->ss,
    };
    shim_cpu()->vector = f->vector;
    shim_cpu()->error_code = f->error_code;
    shim_cpu()->addr = cr2;
    shim_cpu()->from = KEEP_SIG_FROM_FAULT;
    extern const char shim_signal_entry[];
    f->rip = (uint64_t)shim_signal_entry;
    f->rsp = shim_cpu()->stack_top;
    f->rflags &= ~(RF_TF_DF | 0x40000ull); /* and AC */
    return true;
}

/* The signal and siginfo Linux gives for a vector (arch/x86/kernel/traps.c); 0: none. */
static int fault_signal(uint64_t vector, uint64_t error_code, uint64_t rip, uint64_t cr2,
                        struct sig_info *si)
{
    *si = (struct sig_info){.fault = true, .trapno = vector, .err = error_code, .code = SI_KERNEL};
    switch (vector) {
    case 0:
        si->code = FPE_INTDIV, si->addr = rip;
        return SIGFPE;
    case 16:
    case 19:
        si->code = FPE_FLTINV, si->addr = rip;
        return SIGFPE;
    case 1:
        si->code = TRAP_TRACE, si->addr = rip;
        return SIGTRAP;
    case 3:
        return SIGTRAP;
    case 6:
        si->code = ILL_ILLOPN, si->addr = rip;
        return SIGILL;
    case 14:
        si->code = (error_code & 1) ? SEGV_ACCERR : SEGV_MAPERR;
        si->addr = si->cr2 = cr2;
        return SIGSEGV;
    case 4:
    case 5:
    case 13:
        return SIGSEGV;
    case 11:
    case 12:
        return SIGBUS;
    case 17:
        si->code = BUS_ADRALN, si->addr = cr2;
        return SIGBUS;
    default:
        return 0;
    }
}

void shim_signal_interrupted(void);
void shim_signal_interrupted(void)
{
    struct keep_shim_regs *r = SIGREGS;
    uint64_t from = shim_cpu()->from;
    shim_cpu()->from = KEEP_SIG_FROM_NONE;
    shim_thread_start();
    if (from == KEEP_SIG_FROM_FAULT) {
        struct sig_info si;
        uint64_t vector = shim_cpu()->vector, err = shim_cpu()->error_code, addr = shim_cpu()->addr;
        int sig = fault_signal(vector, err, r->rip, addr, &si);
        /* force_sig_fault: a blocked or ignored fault signal kills, as does no handler. */
        if (!sig || actions[sig - 1].handler <= SIG_IGN || (blocked & BIT(sig)))
            shim_report_fault(vector, err, r->rip, r->cs, r->rsp, addr);
        setup_frame(r, sig, &si);
        return;
    }
    deliver(r, -1); /* from the host: nothing ready (all blocked) resumes as it was */
}

/*
 * After enrolment (enroll.c): the x87/SSE/AVX registers as execve(2) leaves
 * them (Linux fpu__clear_user_states: every component in its initial state),
 * not holding what the enroller computed last (its TLS keys, its key.pem).
 * XRSTOR initialises each component whose XSTATE_BV bit is 0 without reading
 * its area (SDM vol 1, 13.8.1); MXCSR comes from the legacy region.
 */
void shim_fpu_reset(void)
{
    static _Alignas(64) uint8_t init[576]; /* legacy region and header: zero but FCW, MXCSR */
    fpu_probe();
    *(uint16_t *)(init + 0) = 0x37f;   /* FCW after FNINIT */
    *(uint32_t *)(init + 24) = 0x1f80; /* MXCSR at power-up */
    if (fpu.xsave)
        __asm__ volatile("xrstor64 (%0)"
                         :
                         : "r"(init), "a"((uint32_t)fpu.xcr0), "d"((uint32_t)(fpu.xcr0 >> 32))
                         : "memory");
    else
        __asm__ volatile("fxrstor64 (%0)" : : "r"(init) : "memory");
}

/* After enrolment (enroll.c): the workload starts with Linux's defaults at execve(2). */
void shim_signal_reset(void)
{
    memset(actions, 0, sizeof(actions));
    struct keep_shim_cpu *c = shim_cpu();
    c->pending = 0;
    c->alt_sp = c->alt_size = 0;
    c->alt_flags = 0;
    blocked = 0;
    suspended = 0;
    publish_caught();
}
