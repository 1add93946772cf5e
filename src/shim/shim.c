/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim's system call dispatcher. Calls about the process itself (memory,
 * identity, signals bookkeeping, randomness, exit) are answered here; the
 * rest go to the host through the channel (forward.c), which checks every
 * result before the workload sees it. docs/KEEP.md, "The shim".
 */
#include "shim.h"

/* Page-aligned so no block straddles pages the host touches separately. */
struct keep_shim_cpu shim_cpus[KEEP_MAX_VCPUS] __attribute__((aligned(4096)));
_Static_assert(sizeof(struct keep_shim_cpu) == 1024, "entry.S and the host use 1024-byte blocks");

#define KEEP_PID 1
#define KEEP_UID 1000 /* matches AT_UID in src/host/kvm_loader.c */

void *memcpy(void *dst, const void *src, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

size_t shim_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

bool shim_user_ok(uint64_t addr, uint64_t size)
{
    uint64_t base = BOOT->in.workload_base, limit = base + BOOT->in.workload_size;
    uint16_t cs;
    __asm__("mov %%cs, %0" : "=r"(cs));
    if ((cs & 3) == 0) {
        /*
         * At CPL0 (every call on hardware KVM) the boot page, a user page the
         * workload can forge, bounds nothing: a pointer it checked would let
         * the shim's stores reach the page tables. The workload's memory ends
         * where the tables begin, at CR3 (src/host/kvm_layout.c). At CPL3 a
         * forged bound reaches only user pages, which the workload owns anyway.
         */
        uint64_t cr3;
        __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
        base = KEEP_GUEST_WORKLOAD;
        limit = cr3 & KEEP_PTE_ADDR;
    }
    return addr >= base && addr <= limit && size <= limit - addr;
}

void shim_port(uint32_t request)
{
    __asm__ volatile("outl %0, %w1" : : "a"(request), "Nd"(KEEP_PORT) : "memory");
}

__attribute__((noreturn)) void shim_exit(int status)
{
    REPORT->status = (uint64_t)status & 0xff;
    for (;;)
        shim_port(KEEP_REQ_EXIT);
}

static void set_message(const char *what, uint64_t value)
{
    volatile char *m = REPORT->message;
    size_t n = 0, cap = sizeof(REPORT->message) - 1;
    while (what[n] && n < cap) {
        m[n] = what[n];
        n++;
    }
    m[n] = 0;
    REPORT->addr = value;
}

__attribute__((noreturn)) void shim_panic(const char *what, uint64_t value)
{
    set_message(what, value);
    for (;;)
        shim_port(KEEP_REQ_PANIC);
}

void shim_log(const char *what, uint64_t value)
{
    if (!BOOT->in.log_debug)
        return;
    set_message(what, value);
    shim_port(KEEP_REQ_LOG);
}

/* Privileged work, at CPL0: directly on hardware KVM, through the #UD gate under PVM. */
static long privileged_at_cpl0(uint64_t op, uint64_t addr, uint64_t size, uint64_t flags)
{
    if (op == KEEP_PRIV_SET_FS) {
        if (addr >= (1ull << 47))
            return -SHIM_EINVAL;
        __asm__ volatile("wrmsr"
                         :
                         : "c"(0xc0000100u), "a"((uint32_t)addr), "d"((uint32_t)(addr >> 32)));
        return 0;
    }
    /*
     * The workload can reach the gate too, and it can write the boot page
     * (a user page), so BOOT->in bounds nothing here. The trusted bounds come
     * from CR3, which only CPL0 sets: the tables start at the PML4, above all
     * workload memory, and every table is found from it (KEEP_PT_* in
     * shim_abi.h, src/host/kvm_layout.c). Only pages from KEEP_GUEST_WORKLOAD
     * up to the tables, and only pages already in use: the gate never gives
     * the workload a page the frame pool did not count (src/shim/mm.c).
     */
    uint64_t pml4;
    __asm__ volatile("mov %%cr3, %0" : "=r"(pml4));
    pml4 &= KEEP_PTE_ADDR;
    if ((op != KEEP_PRIV_PROTECT && op != KEEP_PRIV_UNMAP) || (addr | size) & 4095 ||
        !shim_user_ok(addr, size) || addr < KEEP_GUEST_WORKLOAD || addr > pml4 ||
        size > pml4 - addr)
        return -SHIM_EINVAL;
    if (op == KEEP_PRIV_UNMAP)
        return shim_mm_unmap_at_cpl0(addr, size);
    return shim_mm_protect_at_cpl0(addr, size, flags);
}

long shim_cpl0_gate(uint64_t op, uint64_t addr, uint64_t size, uint64_t flags);
extern const char shim_cpl0_gate_ud2[];

/*
 * The FS base goes through the host at CPL3 (KVM_SET_SREGS, one exit, once
 * per process); page-table changes must be made by the guest itself, or a
 * shadow MMU keeps translating the old entries (measured under PVM: a page
 * the host made read-only stayed writable), so they take the #UD gate.
 */
long shim_privileged(uint64_t op, uint64_t addr, uint64_t size, uint64_t flags)
{
    if (shim_entry_cpl == 0)
        return privileged_at_cpl0(op, addr, size, flags);
    if (op == KEEP_PRIV_SET_FS) {
        REPORT->vector = op;
        REPORT->addr = addr;
        shim_port(KEEP_REQ_PRIVILEGED);
        return (long)REPORT->status;
    }
    return shim_cpl0_gate(op, addr, size, flags);
}

__attribute__((noreturn)) void shim_report_fault(uint64_t vector, uint64_t error_code, uint64_t rip,
                                                 uint64_t cs, uint64_t rsp, uint64_t addr)
{
    REPORT->vector = vector;
    REPORT->error_code = error_code;
    REPORT->rip = rip;
    REPORT->cs = cs;
    REPORT->rsp = rsp;
    REPORT->addr = addr;
    for (;;)
        shim_port(KEEP_REQ_FAULT);
}

void shim_exception(struct exception_frame *f);
void shim_exception(struct exception_frame *f)
{
    if (f->vector == 6 && f->rip == (uint64_t)shim_cpl0_gate_ud2) {
        f->rax = (uint64_t)privileged_at_cpl0(f->rdi, f->rsi, f->rdx, f->rcx);
        f->rip += 2; /* past the ud2 */
        return;
    }
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    if (f->vector == 14) {
        int rc = shim_mm_fault(cr2, f->error_code);
        if (rc == SHIM_FAULT_MAPPED)
            return; /* demand paging: the access runs again */
        if (rc == SHIM_FAULT_OUT_OF_MEMORY) {
            REPORT->addr = cr2;
            for (;;)
                shim_port(KEEP_REQ_OUT_OF_MEMORY);
        }
    }
    if (shim_signal_fault_redirect(f, cr2))
        return; /* IRETQ to the signal trampoline at CPL3 */
    shim_report_fault(f->vector, f->error_code, f->rip, f->cs, f->rsp, cr2);
}

static long do_uname(uint64_t buf)
{
    static const char fields[6][65] = {"Linux",       "keep",   "6.1.0-keep",
                                       "#1 SMP keep", "x86_64", "(none)"};
    if (!shim_user_ok(buf, sizeof(fields)))
        return -SHIM_EFAULT;
    memcpy((void *)buf, fields, sizeof(fields));
    return 0;
}

static long do_arch_prctl(uint64_t code, uint64_t addr)
{
    enum { ARCH_SET_FS = 0x1002, ARCH_GET_FS = 0x1003 };
    if (code == ARCH_SET_FS) {
        if (addr >= (1ull << 47))
            return -SHIM_EPERM;
        if (BOOT->in.have_fsgsbase)
            __asm__ volatile("wrfsbase %0" : : "r"(addr));
        else
            shim_privileged(KEEP_PRIV_SET_FS, addr, 0, 0);
        return 0;
    }
    if (code == ARCH_GET_FS && BOOT->in.have_fsgsbase) {
        if (!shim_user_ok(addr, 8))
            return -SHIM_EFAULT;
        uint64_t fs;
        __asm__ volatile("rdfsbase %0" : "=r"(fs));
        *(uint64_t *)addr = fs;
        return 0;
    }
    return -SHIM_EINVAL;
}

static long do_getrandom(uint64_t buf, uint64_t len)
{
    if (!shim_user_ok(buf, len))
        return -SHIM_EFAULT;
    uint8_t *p = (uint8_t *)buf;
    for (uint64_t done = 0; done < len; done += 8) {
        uint64_t r;
        unsigned char ok = 0;
        /* RDRAND may transiently fail; Intel's DRNG guide suggests 10 retries. */
        for (int tries = 0; tries < 10 && !ok; tries++)
            __asm__ volatile("rdrand %0; setc %1" : "=r"(r), "=qm"(ok));
        if (!ok)
            shim_panic("RDRAND failed 10 times in a row", 0);
        uint64_t n = len - done < 8 ? len - done : 8;
        memcpy(p + done, &r, n);
    }
    return (long)len;
}

static long do_rlimit(uint64_t resource, uint64_t old)
{
    enum { RLIMIT_STACK = 3, RLIMIT_NOFILE = 7 };
    if (!old)
        return 0;
    if (!shim_user_ok(old, 16))
        return -SHIM_EFAULT;
    uint64_t *r = (uint64_t *)old;
    if (resource == RLIMIT_STACK)
        r[0] = r[1] = BOOT->in.workload_base + BOOT->in.workload_size - BOOT->in.stack_low;
    else if (resource == RLIMIT_NOFILE)
        r[0] = r[1] = 1024;
    else
        r[0] = r[1] = ~0ull;
    return 0;
}

static bool other_threads(void)
{
    for (int i = 0; i < KEEP_MAX_VCPUS; i++)
        if (&shim_cpus[i] != shim_cpu() && __atomic_load_n(&shim_cpus[i].in_use, __ATOMIC_SEQ_CST))
            return true;
    return false;
}

static long do_futex(const struct shim_frame *f)
{
    enum { FUTEX_WAIT = 0, FUTEX_WAIT_BITSET = 9 };
    uint64_t uaddr = f->rdi, cmd = f->rsi & 127;
    if (!shim_user_ok(uaddr, 4) || shim_futex_memory(f->rsi, uaddr, f->r10, f->r8))
        return -SHIM_EFAULT; /* before the word is read below: an unmapped one faulted the shim */
    /*
     * The only thread waiting, for ever, on a word nobody else can change:
     * Linux would hang; a Keep ends instead (no timer may wake it either:
     * a signal handler would, which this does not foresee).
     */
    if ((cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) && uaddr % 4 == 0 && !f->r10 &&
        !other_threads() && *(volatile uint32_t *)uaddr == (uint32_t)f->rdx)
        shim_panic("futex wait with no other thread to wake it (deadlock) at", uaddr);
    return shim_futex(uaddr, f->rsi, f->rdx, f->r10, f->r8, f->r9);
}

static long do_sched_getaffinity(uint64_t len, uint64_t mask)
{
    uint64_t n = BOOT->in.host_cpus ? BOOT->in.host_cpus : 1;
    if (len < 8)
        return -SHIM_EINVAL;
    if (!shim_user_ok(mask, 8))
        return -SHIM_EFAULT;
    /* The CPUs a Keep's threads can run on at once: one vCPU per thread, host CPUs in all. */
    *(uint64_t *)mask = n >= 64 ? ~0ull : (1ull << n) - 1;
    return 8;
}

/*
 * time(2) is clock_gettime(CLOCK_REALTIME) in seconds. The timespec goes
 * below the workload's red zone, as a signal frame would, so the same
 * forwarded call works on both data paths.
 */
static long do_time(const struct shim_frame *f)
{
    uint64_t ts = (f->rsp - 128 - 16) & ~15ull;
    struct shim_frame g = {.nr = KEEP_NR_clock_gettime, .rdi = 0 /* CLOCK_REALTIME */, .rsi = ts};
    long r = shim_forward(&g);
    if (r < 0)
        return r;
    int64_t seconds = *(volatile int64_t *)ts;
    if (f->rdi) {
        if (!shim_user_ok(f->rdi, 8))
            return -SHIM_EFAULT;
        *(int64_t *)f->rdi = seconds;
    }
    return seconds;
}

static long dispatch(struct shim_frame *f)
{
    bool handled = false;
    long r = shim_signal_call(f, &handled);
    if (handled)
        return r;
    long small;
    if (shim_keepfs_call(f, &small))
        return small;
    if (shim_small_call(f, &small))
        return small;
    switch (f->nr) {
    case KEEP_NR_brk:
        return (shim_brk(f->rdi));
    case KEEP_NR_mmap:
        return (shim_mmap(f->rdi, f->rsi, f->rdx, f->r10, f->r8, f->r9));
    case KEEP_NR_munmap:
        return (shim_munmap(f->rdi, f->rsi));
    case KEEP_NR_mprotect:
        return (shim_mprotect(f->rdi, f->rsi, f->rdx));
    case KEEP_NR_mremap:
        return (shim_mremap(f->rdi, f->rsi, f->rdx, f->r10, f->r8));
    case KEEP_NR_madvise:
        return (shim_madvise(f->rdi, f->rsi, f->rdx));
    case KEEP_NR_arch_prctl:
        return do_arch_prctl(f->rdi, f->rsi);
    case KEEP_NR_set_tid_address:
        shim_cpu()->clear_child_tid = f->rdi;
        return (long)shim_cpu()->tid;
    case KEEP_NR_gettid:
        return (long)shim_cpu()->tid;
    case KEEP_NR_clone:
        return shim_clone(f);
    case KEEP_NR_getpid:
        return KEEP_PID;
    case KEEP_NR_getppid:
        return 0;
    case KEEP_NR_getuid:
    case KEEP_NR_geteuid:
    case KEEP_NR_getgid:
    case KEEP_NR_getegid:
        return KEEP_UID;
    case KEEP_NR_set_robust_list:
        return 0;
    case KEEP_NR_rseq:
        return -SHIM_ENOSYS;
    case KEEP_NR_uname:
        return do_uname(f->rdi);
    case KEEP_NR_getrandom:
        return do_getrandom(f->rdi, f->rsi);
    case KEEP_NR_sched_yield:
        return 0;
    case KEEP_NR_getrlimit:
        return do_rlimit(f->rdi, f->rsi);
    case KEEP_NR_prlimit64:
        return (f->rdi != 0 && f->rdi != KEEP_PID) ? -SHIM_EPERM : do_rlimit(f->rsi, f->r10);
    case KEEP_NR_sched_getaffinity:
        return do_sched_getaffinity(f->rsi, f->rdx);
    case KEEP_NR_time:
        return do_time(f);
    case KEEP_NR_futex:
        return do_futex(f);
    case KEEP_SHIM_SYS_NOP:
        shim_port(KEEP_REQ_NOP);
        return 0;
    case KEEP_NR_exit:
        shim_thread_exit((int)f->rdi);
    case KEEP_NR_exit_group:
        if (shim_enroll_active()) {
            shim_enroll_exit((int)f->rdi); /* the workload starts next */
            return 0;
        }
        shim_exit((int)f->rdi);
    default:
        return shim_forward(f);
    }
}

long shim_redo(struct shim_frame *f)
{
    return dispatch(f);
}

long shim_syscall(struct shim_frame *f);
long shim_syscall(struct shim_frame *f)
{
    static bool started;
    if (!started) {
        shim_mm_init();
        shim_enroll_init();
        started = true;
    }
    return shim_signal_after(f, dispatch(f));
}
