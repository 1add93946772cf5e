/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Threads: clone(CLONE_VM | CLONE_THREAD | ...) starts a vCPU, futex goes
 * to the host (a real futex(2) on its mapping of the guest word), exit ends
 * one thread. docs/KEEP.md, "Threads and processes".
 *
 * Each thread's state is its vCPU's block (struct keep_shim_cpu, found
 * through GS). clone fills the child's block (registers as the parent's
 * with rax 0 and the new stack, tid, mask) and the host starts the vCPU at
 * shim_signal_entry, which resumes those registers.
 */
#include "shim.h"

enum {
    CLONE_VM = 0x100,
    CLONE_FS = 0x200,
    CLONE_FILES = 0x400,
    CLONE_SIGHAND = 0x800,
    CLONE_THREAD = 0x10000,
    CLONE_SETTLS = 0x80000,
    CLONE_PARENT_SETTID = 0x100000,
    CLONE_CHILD_CLEARTID = 0x200000,
    CLONE_CHILD_SETTID = 0x1000000,
    FUTEX_WAKE = 1,
    SHIM_EAGAIN_ = 11,
};

static uint64_t next_tid = 2;

/*
 * The memory a futex call reads or writes must be mapped, or it is EFAULT
 * (futex(2), ERRORS): the word a wait or CMP_REQUEUE compares, the word
 * WAKE_OP changes (writable), the timeout a wait reads. Each is paged in
 * here, so the host touches only pages the frame pool counted. A private
 * WAKE or REQUEUE reads nothing (kernel/futex/core.c, get_futex_key), as
 * on Linux. Unaligned words are the host's EINVAL, checked before this.
 */
long shim_futex_memory(uint64_t op, uint64_t uaddr, uint64_t timeout, uint64_t uaddr2)
{
    enum { WAIT = 0, CMP_REQUEUE = 4, WAKE_OP = 5, WAIT_BITSET = 9, PRIVATE = 128 };
    uint64_t cmd = op & 127;
    bool waits = cmd == WAIT || cmd == WAIT_BITSET;
    if (uaddr % 4)
        return 0;
    if ((waits || cmd == CMP_REQUEUE || cmd == WAKE_OP || !(op & PRIVATE)) &&
        shim_mm_populate(uaddr, 4))
        return -SHIM_EFAULT;
    if (cmd == WAKE_OP && (uaddr2 % 4 == 0) && shim_mm_populate_writable(uaddr2, 4))
        return -SHIM_EFAULT;
    if (waits && timeout && shim_mm_populate(timeout, 16))
        return -SHIM_EFAULT;
    return 0;
}

long shim_futex(uint64_t uaddr, uint64_t op, uint64_t val, uint64_t timeout, uint64_t uaddr2,
                uint64_t val3)
{
    volatile struct keep_shim_report *r = REPORT;
    if (!shim_user_ok(uaddr, 4))
        return -SHIM_EFAULT;
    r->vector = op;
    r->addr = uaddr;
    r->status = val;
    r->error_code = timeout; /* a timespec pointer, or val2 for the requeue operations */
    r->rip = uaddr2;
    r->rsp = val3;
    shim_port(KEEP_REQ_FUTEX);
    return (long)r->status;
}

long shim_clone(const struct shim_frame *f)
{
    uint64_t flags = f->rdi, stack = f->rsi, ptid = f->rdx, ctid = f->r10, tls = f->r8;
    const uint64_t thread = CLONE_VM | CLONE_SIGHAND | CLONE_THREAD;
    if ((flags & thread) != thread || !stack)
        return shim_forward(f); /* a new process (fork): ENOSYS, named once by the host */
    if (((flags & CLONE_PARENT_SETTID) && !shim_user_ok(ptid, 4)) ||
        ((flags & (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)) && !shim_user_ok(ctid, 4)))
        return -SHIM_EFAULT;
    struct keep_shim_cpu *child = 0;
    for (int i = 1; i < KEEP_MAX_VCPUS && !child; i++) {
        uint64_t free_slot = 0;
        if (__atomic_compare_exchange_n(&shim_cpus[i].in_use, &free_slot, 1, false,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            child = &shim_cpus[i];
    }
    if (!child)
        return -SHIM_EAGAIN_; /* clone(2): too many threads */
    struct keep_shim_cpu *self = shim_cpu();
    uint64_t tid = __atomic_fetch_add(&next_tid, 1, __ATOMIC_SEQ_CST);
    child->tid = tid;
    child->from = KEEP_SIG_FROM_NONE;
    child->resume_full = 0;
    child->blocked = self->blocked; /* clone(2): the mask is inherited, pending ones are not */
    child->pending = 0;
    child->alt_sp = child->alt_size = 0;
    child->alt_flags = child->suspended = 0;
    child->clear_child_tid = (flags & CLONE_CHILD_CLEARTID) ? ctid : 0;
    /*
     * The floating-point environment (rounding, exception masks) is the
     * parent's, as clone(2) copies the FPU state and pthread_create(3p)
     * requires; a vCPU starts with the reset state or a dead thread's.
     */
    __asm__ volatile("stmxcsr %0; fnstcw %1" : "=m"(child->start_mxcsr), "=m"(child->start_fcw));
    child->start_fp = 1;
    /* The child returns from the same syscall with 0, on its own stack. */
    shim_frame_to_regs(f, 0, &child->regs);
    child->regs.rsp = stack;
    if (flags & CLONE_CHILD_SETTID)
        *(volatile uint32_t *)ctid = (uint32_t)tid;
    if (flags & CLONE_PARENT_SETTID)
        *(volatile uint32_t *)ptid = (uint32_t)tid;
    volatile struct keep_shim_report *r = REPORT;
    r->vector = child->index = (uint64_t)(child - shim_cpus);
    r->status = (flags & CLONE_SETTLS) ? 1 : 0;
    r->addr = tls;
    shim_port(KEEP_REQ_CLONE);
    long rc = (long)r->status;
    if (rc < 0) {
        __atomic_store_n(&child->in_use, 0, __ATOMIC_SEQ_CST);
        return rc;
    }
    return (long)tid;
}

void shim_thread_start(void)
{
    struct keep_shim_cpu *self = shim_cpu();
    if (!self->start_fp)
        return;
    self->start_fp = 0;
    /* Bits above 15 are reserved (#GP in LDMXCSR); the block is a user page. */
    uint32_t mxcsr = self->start_mxcsr & 0xffff;
    uint16_t fcw = self->start_fcw;
    __asm__ volatile("ldmxcsr %0; fldcw %1" : : "m"(mxcsr), "m"(fcw));
}

/* exit(2) of one thread: clear_child_tid is cleared and woken (set_tid_address(2)). */
__attribute__((noreturn)) void shim_thread_exit(int status)
{
    struct keep_shim_cpu *self = shim_cpu();
    uint64_t ctid = self->clear_child_tid;
    /* Linux ignores a failed store here (kernel/fork.c, mm_release): a freed word is skipped. */
    if (ctid && shim_user_ok(ctid, 4) && !shim_mm_populate_writable(ctid, 4)) {
        *(volatile uint32_t *)ctid = 0;
        shim_futex(ctid, FUTEX_WAKE, 1, 0, 0, 0);
    }
    REPORT->status = (uint64_t)status & 0xff;
    for (;;)
        shim_port(KEEP_REQ_THREAD_EXIT);
}
