/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kvm backend: one VM, one vCPU, started directly in 64-bit mode at the
 * workload's entry point (CPL3), with the shim as its kernel. The host built
 * the page tables and descriptor tables (kvm_layout.c) and loaded the program
 * (kvm_loader.c); from then on the guest reaches the host only by an OUT to
 * KEEP_PORT, and everything it reports is copied and checked here.
 *
 * Each failing ioctl says which, the errno, and what the user can do
 * (kvmtool's style).
 */
#include "host/kvm.h"

#include "host/enroll.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/cursor.h"
#include "common/util.h"
#include "host/kvm_layout.h"
#include "host/kvm_loader.h"
#include "host/shim_image.h"

#define MSR_STAR           0xc0000081u
#define MSR_LSTAR          0xc0000082u
#define MSR_CSTAR          0xc0000083u
#define MSR_SFMASK         0xc0000084u
#define MSR_FS_BASE        0xc0000100u
#define MSR_GS_BASE        0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u

#define CR0_PE         (1ull << 0)
#define CR0_MP         (1ull << 1)
#define CR0_ET         (1ull << 4)
#define CR0_NE         (1ull << 5)
#define CR0_WP         (1ull << 16)
#define CR0_PG         (1ull << 31)
#define CR3_PWT        (1ull << 3)
#define CR4_PAE        (1ull << 5)
#define CR4_OSFXSR     (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_FSGSBASE   (1ull << 16)
#define CR4_OSXSAVE    (1ull << 18)
#define EFER_SCE       (1ull << 0)
#define EFER_LME       (1ull << 8)
#define EFER_LMA       (1ull << 10)
#define EFER_NXE       (1ull << 11)

/* Prepared once per process: KVM_GET_SUPPORTED_CPUID costs about half a VM start here. */
static int kvm_fd = -1;
static struct kvm_cpuid2 *supported_cpuid;
static int vcpu_mmap_size;

static volatile sig_atomic_t stop_requested;
static struct kvm_run *volatile current_run;

void keep_kvm_request_stop(void)
{
    struct kvm_run *run = current_run;
    stop_requested = 1;
    if (run)
        run->immediate_exit = 1;
}

/* ---- signals for the guest (docs/KEEP.md, "Signals") ---- */

static volatile struct keep_shim_signals *volatile current_signals;
static volatile sig_atomic_t interrupt_forwarded;

/* Signal-handler context: queue sig for the guest and get the vCPU out of KVM_RUN. */
static void kick_guest(int sig)
{
    struct kvm_run *run = current_run;
    keep_exec_signal_raise(sig);
    if (run)
        run->immediate_exit = 1;
}

bool keep_kvm_forward_interrupt(void)
{
    volatile struct keep_shim_signals *s = current_signals;
    if (!s || interrupt_forwarded || !(s->caught & (1ull << (SIGINT - 1))))
        return false;
    interrupt_forwarded = 1; /* the next Ctrl-C stops the Keep whatever the workload does */
    kick_guest(SIGINT);
    return true;
}

/* SIGALRM is the guest's: from its ITIMER_REAL, or a guest POSIX timer's expiry (slot in si_value).
 */
static void on_sigalrm(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (si && si->si_code == SI_TIMER) {
        int guest_sig = keep_exec_timer_expired(si->si_value.sival_int);
        if (guest_sig)
            kick_guest(guest_sig);
        return;
    }
    kick_guest(sig);
}

/* The guest's alarm/setitimer arm the keep process's ITIMER_REAL; its SIGALRM is the guest's. */
static void alarm_handler(bool install, struct sigaction *old)
{
    if (!install) {
        const struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        keep_exec_timers_delete_all(); /* their SIGALRM would reach the old handler */
        sigaction(SIGALRM, old, NULL);
        return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigalrm; /* no SA_RESTART: a blocking host call returns EINTR */
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, old);
}

static int open_fail(int e, struct keep_error *err)
{
    if (e == ENOENT || e == ENXIO || e == ENODEV)
        return keep_fail(err, KEEP_E_KVM_OPEN,
                         "/dev/kvm is missing (%s): enable virtualization (VT-x/AMD-V) in the "
                         "firmware and load kvm_intel or kvm_amd (modprobe), or run with "
                         "--backend nil",
                         strerror(e));
    if (e == EACCES || e == EPERM)
        return keep_fail(err, KEEP_E_KVM_OPEN,
                         "cannot open /dev/kvm (%s): add your user to the group that owns it "
                         "(usually 'kvm': sudo usermod -aG kvm $USER, then log in again)",
                         strerror(e));
    return keep_fail(err, KEEP_E_KVM_OPEN, "cannot open /dev/kvm: %s", strerror(e));
}

static int ioctl_fail(const char *what, int e, const char *hint, struct keep_error *err)
{
    return keep_fail(err, KEEP_E_KVM_IOCTL, "ioctl %s failed: %s%s%s", what, strerror(e),
                     hint ? "; " : "", hint ? hint : "");
}

static int check_capabilities(int fd, struct keep_error *err)
{
    static const struct {
        int cap;
        const char *name;
    } needed[] = {
        {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
        {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
        {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    };
    for (size_t i = 0; i < KEEP_ARRAY_LEN(needed); i++) {
        if (ioctl(fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0)
            return keep_fail(err, KEEP_E_KVM_CAPABILITY,
                             "KVM lacks %s, which the kvm backend needs: use a newer kernel "
                             "(Linux 4.11 or later) or --backend nil",
                             needed[i].name);
    }
    return KEEP_OK;
}

static int load_supported_cpuid(int fd, struct keep_error *err)
{
    for (int nent = 128; nent <= 4096; nent *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)nent * sizeof(c->entries[0]));
        if (!c)
            return keep_fail(err, KEEP_E_NOMEM, "no memory for %d CPUID entries", nent);
        c->nent = (uint32_t)nent;
        if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
            supported_cpuid = c;
            return KEEP_OK;
        }
        int e = errno;
        free(c);
        if (e != E2BIG)
            return ioctl_fail("KVM_GET_SUPPORTED_CPUID", e, NULL, err);
    }
    return ioctl_fail("KVM_GET_SUPPORTED_CPUID", E2BIG, "more than 4096 CPUID entries", err);
}

/* Open /dev/kvm and prepare what every VM shares; once per process. */
static int kvm_prepare(struct keep_error *err)
{
    if (kvm_fd >= 0)
        return KEEP_OK;
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return open_fail(errno, err);
    int version = ioctl(fd, KVM_GET_API_VERSION, 0);
    int rc = KEEP_OK;
    if (version != KVM_API_VERSION)
        rc = keep_fail(err, KEEP_E_KVM_API_VERSION,
                       "/dev/kvm reports API version %d; keep needs %d (the stable KVM API)",
                       version, KVM_API_VERSION);
    if (!rc)
        rc = check_capabilities(fd, err);
    if (!rc &&
        (vcpu_mmap_size = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0)) < (int)sizeof(struct kvm_run))
        rc = ioctl_fail("KVM_GET_VCPU_MMAP_SIZE", errno, NULL, err);
    if (!rc)
        rc = load_supported_cpuid(fd, err);
    if (rc) {
        close(fd);
        return rc;
    }
    kvm_fd = fd;
    return KEEP_OK;
}

int keep_kvm_probe(struct keep_error *err)
{
    return kvm_prepare(err);
}

static const struct kvm_cpuid_entry2 *cpuid_leaf(uint32_t function, uint32_t index)
{
    for (uint32_t i = 0; i < supported_cpuid->nent; i++) {
        const struct kvm_cpuid_entry2 *e = &supported_cpuid->entries[i];
        if (e->function == function && e->index == index)
            return e;
    }
    return NULL;
}

/* CPU features the guest setup depends on, from what KVM offers the guest. */
struct guest_features {
    bool fsgsbase, xsave;
    uint64_t xcr0;
    uint64_t hwcap, minsigstksz;
};

static void guest_features(struct guest_features *g)
{
    const struct kvm_cpuid_entry2 *l1 = cpuid_leaf(1, 0), *l7 = cpuid_leaf(7, 0),
                                  *ld = cpuid_leaf(0xd, 0);
    memset(g, 0, sizeof(*g));
    g->hwcap = l1 ? l1->edx : 0;
    g->fsgsbase = l7 && (l7->ebx & 1);
    g->xsave = l1 && (l1->ecx & (1u << 26)) && ld;
    g->minsigstksz = 2048;
    if (g->xsave) {
        g->xcr0 = ((uint64_t)ld->edx << 32 | ld->eax) & 0xe7; /* x87, SSE, AVX, AVX-512 */
        /* Linux: the signal frame holds the XSAVE area (CPUID.0xD.0:ECX bytes at most). */
        g->minsigstksz = ld->ecx + 1024;
    }
}

struct vm;

/* One vCPU: one workload thread, run by one host thread (the first by keep's own). */
struct vcpu {
    struct vm *vm;
    int index;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool started, thread_running;
    bool starting;   /* a clone request claimed it (vm->lock): a second one gets EAGAIN */
    int in_run;      /* atomic: between the TLB check before KVM_RUN and its return */
    int tlb_pending; /* atomic: another vCPU changed page tables; inject an NMI before running */
    bool left;       /* its run loop returned (atomic) */
};

struct vm {
    int vm_fd;
    uint8_t *mem;
    struct keep_kvm_layout layout;
    uint64_t slots[160];           /* bit i: KVM memory slot i is registered */
    uint64_t signal_entry;         /* the shim's shim_signal_entry */
    uint64_t cpu_blocks;           /* the shim's struct keep_shim_cpu array */
    uint64_t start_rip, start_rsp; /* where vCPU 0 starts: the workload's, or the enroller's */
    bool enrolling;                /* keep run --steward: the enroller has not finished */
    const char *steward_url;       /* its service, for the failure line */
    uint64_t lstar;
    struct guest_features features;
    struct keep_executor *exec;
    struct vcpu vcpus[KEEP_MAX_VCPUS];
    /*
     * The executor's state (fd table, cwd): held around each batch, released
     * by the executor around every host call that may block (docs/HACKING.md,
     * "The executor lock"); futex waits do not take it.
     */
    pthread_mutex_t exec_lock;
    pthread_mutex_t lock; /* the fields below */
    pthread_cond_t changed;
    bool ended;      /* exit_group, a fault, a stop or an error: every vCPU stops */
    int exit_status; /* when ended */
    int rc;          /* KEEP_OK or the first error */
    struct keep_error err;
    int threads;     /* vCPUs running a workload thread */
    int last_status; /* status of the last thread's exit() */
};

/* The executor's host calls that may block run without the batch lock. */
static void exec_unlock_while_waiting(void *ctx, bool begin)
{
    struct vm *vm = ctx;
    if (begin)
        pthread_mutex_unlock(&vm->exec_lock);
    else
        pthread_mutex_lock(&vm->exec_lock);
}

/* A signal that only interrupts: it gets other vCPUs' host threads out of KVM_RUN or a call. */
#define KICK_SIGNAL SIGRTMIN

static void on_kick(int sig)
{
    (void)sig;
}

static long host_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > KEEP_MAX_VCPUS ? KEEP_MAX_VCPUS : n;
}

static uint64_t cpu_block(const struct vm *vm, int index)
{
    return vm->cpu_blocks + (uint64_t)index * sizeof(struct keep_shim_cpu);
}

static struct keep_shim_cpu *cpu_of(const struct vcpu *c)
{
    return (struct keep_shim_cpu *)(void *)(c->vm->mem + cpu_block(c->vm, c->index));
}

static uint64_t vcpu_channel(int index)
{
    return index == 0 ? KEEP_GUEST_CHANNEL
                      : KEEP_GUEST_CHANNELS + (uint64_t)(index - 1) * KEEP_GUEST_CHANNEL_SIZE;
}

static void vm_close(struct vm *vm)
{
    /*
     * keep_kvm_request_stop() runs in a signal handler: with signals blocked
     * on this thread while kvm_run goes away, a handler here sees either the
     * live mapping or NULL. The other vCPU threads block SIGINT and SIGTERM.
     */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    current_run = NULL;
    current_signals = NULL;
    keep_exec_timer_page(NULL);
    for (int i = 0; i < KEEP_MAX_VCPUS; i++) {
        struct vcpu *c = &vm->vcpus[i];
        if (c->run && c->run != MAP_FAILED)
            munmap(c->run, (size_t)vcpu_mmap_size);
        if (c->fd >= 0)
            close(c->fd);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->mem && vm->mem != MAP_FAILED)
        munmap(vm->mem, vm->layout.guest_size);
}

/*
 * Guest memory is one host mapping, registered with KVM a slot at a time as
 * the guest uses it: a slot costs KVM's shadow MMU memory by its size, not
 * by what is touched (KEEP_GUEST_SLOT in src/common/shim_abi.h).
 */
static int add_slot(struct vm *vm, uint64_t slot, struct keep_error *err)
{
    if (vm->slots[slot / 64] & (1ull << (slot % 64)))
        return KEEP_OK;
    uint64_t gpa = slot * KEEP_GUEST_SLOT, size = KEEP_GUEST_SLOT;
    if (gpa + size > vm->layout.guest_size)
        size = vm->layout.guest_size - gpa;
    struct kvm_userspace_memory_region region = {
        .slot = (uint32_t)slot,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)(vm->mem + gpa),
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return ioctl_fail("KVM_SET_USER_MEMORY_REGION", errno, "try a smaller --memory", err);
    vm->slots[slot / 64] |= 1ull << (slot % 64);
    return KEEP_OK;
}

static int create_vm(struct vm *vm, struct keep_error *err)
{
    vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0)
        return ioctl_fail("KVM_CREATE_VM", errno,
                          errno == EBUSY ? "another hypervisor owns VT-x/AMD-V" : NULL, err);
    /* The slots the layout and the loader used; the shim asks for the others (KEEP_REQ_BACK). */
    const struct keep_mm_state *st = keep_kvm_layout_state(&vm->layout, vm->mem);
    for (uint64_t slot = 0; slot * KEEP_GUEST_SLOT < vm->layout.guest_size; slot++) {
        if (!(st->backed[slot / 64] & (1ull << (slot % 64))))
            continue;
        int rc = add_slot(vm, slot, err);
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

static int create_vcpu(struct vcpu *c, struct keep_error *err)
{
    if (c->fd >= 0)
        return KEEP_OK; /* a vCPU whose thread ended is reused */
    c->fd = ioctl(c->vm->vm_fd, KVM_CREATE_VCPU, c->index);
    if (c->fd < 0)
        return ioctl_fail("KVM_CREATE_VCPU", errno, NULL, err);
    c->run = mmap(NULL, (size_t)vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
    if (c->run == MAP_FAILED)
        return keep_fail(err, KEEP_E_KVM_IOCTL, "mmap of the vCPU's kvm_run failed: %s",
                         strerror(errno));
    if (ioctl(c->fd, KVM_SET_CPUID2, supported_cpuid) < 0)
        return ioctl_fail("KVM_SET_CPUID2", errno, NULL, err);
    return KEEP_OK;
}

static struct kvm_segment user_segment(uint16_t selector, bool code)
{
    return (struct kvm_segment){
        .base = 0,
        .limit = 0xffffffff,
        .selector = selector,
        .type = code ? 11 : 3,
        .present = 1,
        .dpl = 3,
        .db = code ? 0 : 1,
        .s = 1,
        .l = code ? 1 : 0,
        .g = 1,
    };
}

static int set_sregs(struct vcpu *c, uint64_t fs_base, struct keep_error *err)
{
    const struct guest_features *f = &c->vm->features;
    struct kvm_sregs s;
    if (ioctl(c->fd, KVM_GET_SREGS, &s) < 0)
        return ioctl_fail("KVM_GET_SREGS", errno, NULL, err);
    s.cs = user_segment(KEEP_SEL_UCODE, true);
    s.ds = s.es = s.fs = s.gs = s.ss = user_segment(KEEP_SEL_UDATA, false);
    s.fs.base = fs_base;
    s.gs.base = cpu_block(c->vm, c->index);
    /* Each vCPU has its own TSS (its own IST1 stack), all sharing one I/O bitmap. */
    s.tr = (struct kvm_segment){.base = keep_kvm_tss_base(c->index),
                                .limit = keep_kvm_tss_limit(c->index),
                                .selector = (uint16_t)(KEEP_SEL_TSS + 16 * c->index),
                                .type = 11,
                                .present = 1};
    s.ldt = (struct kvm_segment){.unusable = 1, .type = 2, .present = 0};
    s.gdt.base = KEEP_GUEST_GDT;
    s.gdt.limit = KEEP_SEL_TSS + 16 * KEEP_MAX_VCPUS - 1;
    s.idt.base = KEEP_GUEST_IDT;
    s.idt.limit = 256 * 16 - 1;
    s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    s.cr3 = c->vm->layout.pml4;
    s.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (f->fsgsbase ? CR4_FSGSBASE : 0) |
            (f->xsave ? CR4_OSXSAVE : 0);
    s.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
    if (ioctl(c->fd, KVM_SET_SREGS, &s) < 0)
        return ioctl_fail("KVM_SET_SREGS", errno, "the CPU rejected the 64-bit start state", err);
    return KEEP_OK;
}

static int set_msrs(struct vcpu *c, uint64_t fs_base, struct keep_error *err)
{
    uint64_t gs = cpu_block(c->vm, c->index);
    const struct kvm_msr_entry e[] = {
        /* SYSCALL: CS=0x08, SS=0x10; SYSRET: CS=0x10+16, SS=0x10+8 (APM vol 2, 6.1.1). */
        {.index = MSR_STAR, .data = (0x10ull << 48) | ((uint64_t)KEEP_SEL_KCODE << 32)},
        {.index = MSR_LSTAR, .data = c->vm->lstar},
        {.index = MSR_CSTAR, .data = c->vm->lstar},
        /* SYSCALL clears TF, DF, IF, AC and NT like Linux does. */
        {.index = MSR_SFMASK, .data = 0x47700},
        {.index = MSR_FS_BASE, .data = fs_base}, /* after KVM_SET_SREGS, which set it too */
        /*
         * The shim finds this vCPU's block through GS. Both: under PVM CPL3
         * code sees MSR_KERNEL_GS_BASE (measured), on hardware MSR_GS_BASE.
         */
        {.index = MSR_GS_BASE, .data = gs},
        {.index = MSR_KERNEL_GS_BASE, .data = gs},
    };
    enum { count = sizeof(e) / sizeof(e[0]) };
    /* struct kvm_msrs ends in a flexible array: give it room for count entries. */
    union {
        struct kvm_msrs head;
        uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(e)];
    } m;
    memset(&m, 0, sizeof(m));
    m.head.nmsrs = count;
    memcpy(m.head.entries, e, sizeof(e));
    int n = ioctl(c->fd, KVM_SET_MSRS, &m);
    if (n != count)
        return keep_fail(err, KEEP_E_KVM_IOCTL,
                         "ioctl KVM_SET_MSRS set %d of %d MSRs (stopped at %#x): %s", n, count,
                         n >= 0 && n < count ? e[n].index : 0, n < 0 ? strerror(errno) : "refused");
    return KEEP_OK;
}

static int set_xcr0(struct vcpu *c, struct keep_error *err)
{
    const struct guest_features *f = &c->vm->features;
    if (!f->xsave)
        return KEEP_OK;
    struct kvm_xcrs x = {.nr_xcrs = 1, .xcrs = {{.xcr = 0, .value = f->xcr0}}};
    if (ioctl(c->fd, KVM_SET_XCRS, &x) < 0)
        return ioctl_fail("KVM_SET_XCRS", errno, NULL, err);
    return KEEP_OK;
}

static int set_regs(struct vcpu *c, uint64_t rip, uint64_t rsp, struct keep_error *err)
{
    /* psABI 3.4.1: %rsp at argc, %rdx = 0 (no function for atexit), RFLAGS with IOPL 0. */
    struct kvm_regs r = {.rip = rip, .rsp = rsp, .rflags = 0x2};
    if (ioctl(c->fd, KVM_SET_REGS, &r) < 0)
        return ioctl_fail("KVM_SET_REGS", errno, NULL, err);
    return KEEP_OK;
}

/* This vCPU's block as the host starts it; the shim fills the rest of a new thread's. */
static void init_cpu_block(struct vcpu *c, uint64_t tid)
{
    struct keep_shim_cpu *b = cpu_of(c);
    b->self = cpu_block(c->vm, c->index);
    b->stack_top = KEEP_GUEST_SHIM_STACK + (uint64_t)(c->index + 1) * KEEP_VCPU_SHIM_STACK_SIZE;
    b->channel = vcpu_channel(c->index);
    b->index = (uint64_t)c->index;
    if (tid)
        b->tid = tid;
    __atomic_store_n(&b->in_use, 1, __ATOMIC_SEQ_CST);
}

static int start_vcpu(struct vcpu *c, uint64_t rip, uint64_t rsp, uint64_t fs_base,
                      struct keep_error *err)
{
    int rc = create_vcpu(c, err);
    if (!rc)
        rc = set_sregs(c, fs_base, err);
    if (!rc)
        rc = set_msrs(c, fs_base, err);
    if (!rc)
        rc = set_xcr0(c, err);
    if (!rc)
        rc = set_regs(c, rip, rsp, err);
    return rc;
}

static const char *vector_name(uint64_t v)
{
    static const char *names[] = {
        "#DE divide error",
        "#DB debug",
        "NMI",
        "#BP breakpoint",
        "#OF overflow",
        "#BR bound range",
        "#UD invalid opcode",
        "#NM device not available",
        "#DF double fault",
        "coprocessor segment overrun",
        "#TS invalid TSS",
        "#NP segment not present",
        "#SS stack fault",
        "#GP general protection",
        "#PF page fault",
        "reserved",
        "#MF x87 floating point",
        "#AC alignment check",
        "#MC machine check",
        "#XM SIMD floating point",
        "#VE virtualization",
        "#CP control protection",
    };
    return v < KEEP_ARRAY_LEN(names) ? names[v] : "reserved exception";
}

/* The signal Linux would deliver for the exception (arch/x86/kernel/traps.c). */
static int vector_signal(uint64_t v)
{
    switch (v) {
    case 0:  /* #DE */
    case 16: /* #MF */
    case 19: /* #XM */
        return SIGFPE;
    case 1: /* #DB */
    case 3: /* #BP */
        return SIGTRAP;
    case 6: /* #UD */
        return SIGILL;
    case 11: /* #NP */
    case 12: /* #SS */
    case 17: /* #AC */
        return SIGBUS;
    default: /* #PF, #GP, #OF, #BR, #TS, ... */
        return SIGSEGV;
    }
}

static int report_fault(const struct vm *vm, const struct keep_shim_report *r, int *exit_status)
{
    bool in_shim = (r->cs & 3) == 0 ||
                   (r->rip >= KEEP_GUEST_SHIM && r->rip < KEEP_GUEST_SHIM + KEEP_GUEST_SHIM_MAX);
    int sig = vector_signal(r->vector);
    fprintf(stderr, "keep: %s fault: %s (vector %llu) at rip %#llx", in_shim ? "shim" : "workload",
            vector_name(r->vector), (unsigned long long)r->vector, (unsigned long long)r->rip);
    if (r->vector == 14)
        fprintf(stderr, ", address %#llx (%s, %s)", (unsigned long long)r->addr,
                (r->error_code & 1) ? "protection violation" : "not mapped",
                (r->error_code & 16)  ? "instruction fetch"
                : (r->error_code & 2) ? "write"
                                      : "read");
    if (r->vector == 14 && r->addr < vm->layout.workload_end &&
        r->addr >= vm->layout.workload_end - keep_kvm_stack_size(vm->layout.memory_size) - 4096 &&
        r->addr < vm->layout.workload_end - keep_kvm_stack_size(vm->layout.memory_size))
        fprintf(stderr, " - stack overflow (the guard page below the stack)");
    fprintf(stderr, "; exit status %d (%s)\n", 128 + sig, strsignal(sig));
    *exit_status = 128 + sig;
    return KEEP_OK;
}

/* Copy this vCPU's report out of shared memory, with its message NUL-terminated and printable. */
static void copy_report(const struct vcpu *c, struct keep_shim_report *r)
{
    memcpy(r, &cpu_of(c)->report, sizeof(*r));
    r->message[sizeof(r->message) - 1] = 0;
    for (char *p = r->message; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            *p = '?';
}

enum step { STEP_CONTINUE, STEP_DONE, STEP_THREAD_DONE };

static void set_status(struct vcpu *c, int64_t status)
{
    uint64_t v = (uint64_t)status;
    memcpy(&cpu_of(c)->report.status, &v, 8);
}

/*
 * The FS base for the CPL3 shim (PVM, whose CPUID has no FSGSBASE). The
 * address is guest data: only canonical user addresses, else -EINVAL.
 * (Page-table changes are not done here: the guest makes them itself, see
 * src/shim/shim.c, shim_privileged.)
 */
static int handle_privileged(struct vcpu *c, const struct keep_shim_report *r,
                             struct keep_error *err)
{
    struct kvm_sregs s;
    if (r->vector != KEEP_PRIV_SET_FS || r->addr >= (1ull << 47)) {
        set_status(c, -22 /* EINVAL */);
        return KEEP_OK;
    }
    if (ioctl(c->fd, KVM_GET_SREGS, &s) < 0)
        return ioctl_fail("KVM_GET_SREGS", errno, NULL, err);
    s.fs.base = r->addr;
    if (ioctl(c->fd, KVM_SET_SREGS, &s) < 0)
        return ioctl_fail("KVM_SET_SREGS", errno, NULL, err);
    set_status(c, 0);
    return KEEP_OK;
}

/* [addr, addr + size) page aligned inside the workload address space, else -EINVAL. */
static bool workload_range(const struct vm *vm, uint64_t addr, uint64_t size)
{
    const struct keep_kvm_layout *l = &vm->layout;
    return addr % 4096 == 0 && size % 4096 == 0 && addr >= l->workload_base &&
           keep_range_ok(addr - l->workload_base, size, l->workload_end - l->workload_base);
}

/*
 * KEEP_REQ_BACK: the shim is about to use a slot of guest memory (a workload
 * page or a chunk's table). Any address below guest_size outside the fixed
 * low region: a workload that sends this itself costs the host at most the
 * slots of its own address space.
 */
static int handle_back(struct vcpu *c, const struct keep_shim_report *r, struct keep_error *err)
{
    struct vm *vm = c->vm;
    if (r->addr < vm->layout.workload_base || r->addr >= vm->layout.guest_size) {
        set_status(c, -22 /* EINVAL */);
        return KEEP_OK;
    }
    pthread_mutex_lock(&vm->lock); /* vCPUs back slots concurrently */
    int rc = add_slot(vm, r->addr / KEEP_GUEST_SLOT, err);
    pthread_mutex_unlock(&vm->lock);
    if (!rc)
        set_status(c, 0);
    return rc;
}

/*
 * KEEP_REQ_DISCARD: pages the workload freed go back to the host and read
 * as zero when the shim maps them again (madvise(2), MADV_DONTNEED on a
 * private anonymous mapping). KVM's MMU notifier drops its translations.
 */
static void handle_discard(struct vcpu *c, const struct keep_shim_report *r)
{
    struct vm *vm = c->vm;
    if (!workload_range(vm, r->addr, r->status)) {
        set_status(c, -22 /* EINVAL */);
        return;
    }
    int rc = madvise(vm->mem + r->addr, r->status, MADV_DONTNEED);
    set_status(c, rc ? -errno : 0);
}

/*
 * A direct-path buffer: only pages the guest has in use (present in its
 * page tables, so counted by the shim's frame pool). The shim maps a buffer
 * before forwarding it; a batch the workload forged itself must not make
 * the host fill pages the pool never counted (past --memory).
 */
static bool guest_pages_in_use(const void *ctx, uint64_t addr, uint64_t len)
{
    const struct vm *vm = ctx;
    return keep_kvm_layout_in_use(&vm->layout, vm->mem, addr, len);
}

/* The workload touched a page with every --memory page in use: it ends as SIGBUS would. */
static void report_out_of_memory(const struct vm *vm, const struct keep_shim_report *r,
                                 int *exit_status)
{
    fprintf(stderr,
            "keep: out of memory: the workload touched %#llx with all %llu pages of --memory "
            "(%llu MiB) in use; exit status %d (%s)\n",
            (unsigned long long)r->addr, (unsigned long long)(vm->layout.memory_size / 4096),
            (unsigned long long)(vm->layout.memory_size >> 20), 128 + SIGBUS, strsignal(SIGBUS));
    *exit_status = 128 + SIGBUS;
}

static void *vcpu_thread(void *arg);

/* End the Keep: every vCPU stops (first caller's status and error win). */
static void end_keep(struct vm *vm, int exit_status, int rc, const struct keep_error *err)
{
    pthread_mutex_lock(&vm->lock);
    if (!vm->ended) {
        vm->ended = true;
        vm->exit_status = exit_status;
        vm->rc = rc;
        if (rc && err)
            vm->err = *err;
    }
    for (int i = 0; i < KEEP_MAX_VCPUS; i++) {
        struct vcpu *o = &vm->vcpus[i];
        if (o->run && o->run != MAP_FAILED)
            o->run->immediate_exit = 1;
        if (o->thread_running)
            pthread_kill(o->thread, KICK_SIGNAL);
    }
    pthread_cond_broadcast(&vm->changed);
    pthread_mutex_unlock(&vm->lock);
}

static bool keep_ended(struct vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    bool ended = vm->ended;
    pthread_mutex_unlock(&vm->lock);
    return ended;
}

/* ---- cross-vCPU TLB shootdown (docs/KEEP.md, "Threads and processes") ---- */

/* The shim asks for a shootdown only while more than one thread runs (vm->lock held). */
static void publish_threads(struct vm *vm)
{
    keep_kvm_layout_state(&vm->layout, vm->mem)->vcpus_running = (uint64_t)vm->threads;
}

/*
 * KEEP_REQ_TLB_SHOOTDOWN: every other vCPU takes an NMI (its handler reloads
 * CR3, src/shim/entry.S) before it runs guest code again. A vCPU outside
 * KVM_RUN (in a host call, or stopped) gets it at its next entry and is not
 * waited for; one inside is kicked out, and the call returns once it is out.
 */
static void tlb_shootdown(struct vcpu *self)
{
    struct vm *vm = self->vm;
    pthread_mutex_lock(&vm->lock);
    for (int i = 0; i < KEEP_MAX_VCPUS; i++) {
        struct vcpu *o = &vm->vcpus[i];
        if (o == self || o->fd < 0 || !o->run || o->run == MAP_FAILED)
            continue;
        __atomic_store_n(&o->tlb_pending, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&o->in_run, __ATOMIC_SEQ_CST)) {
            o->run->immediate_exit = 1;
            pthread_kill(o->thread, KICK_SIGNAL);
        }
    }
    for (;;) {
        bool waiting = false;
        for (int i = 0; i < KEEP_MAX_VCPUS; i++) {
            struct vcpu *o = &vm->vcpus[i];
            waiting |= o != self && __atomic_load_n(&o->tlb_pending, __ATOMIC_SEQ_CST) &&
                       __atomic_load_n(&o->in_run, __ATOMIC_SEQ_CST);
        }
        if (!waiting || vm->ended)
            break;
        pthread_cond_wait(&vm->changed, &vm->lock);
    }
    pthread_mutex_unlock(&vm->lock);
}

/* Before KVM_RUN: a shootdown asked for while this vCPU was out is an NMI now. */
static int tlb_enter(struct vcpu *c, struct keep_error *err)
{
    __atomic_store_n(&c->in_run, 1, __ATOMIC_SEQ_CST);
    if (!__atomic_exchange_n(&c->tlb_pending, 0, __ATOMIC_SEQ_CST))
        return KEEP_OK;
    if (ioctl(c->fd, KVM_NMI) < 0)
        return ioctl_fail("KVM_NMI", errno, "the TLB shootdown needs NMI injection", err);
    keep_log(KEEP_LOG_DEBUG, "vCPU %d: NMI injected: a TLB shootdown", c->index);
    return KEEP_OK;
}

/* After KVM_RUN: out of the guest; a shooter waiting for this vCPU goes on. */
static void tlb_leave(struct vcpu *c)
{
    __atomic_store_n(&c->in_run, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&c->tlb_pending, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&c->vm->lock);
        pthread_cond_broadcast(&c->vm->changed);
        pthread_mutex_unlock(&c->vm->lock);
    }
}

/*
 * Claim vCPU c for a new thread: false when a thread runs on it or another
 * clone request has it (two vCPUs of a hostile guest may ask for the same
 * slot at once: both would start it, and one host thread would be lost,
 * never joined, running on after vm_close). A slot whose last thread said
 * exit is joined here, by the one claimer, before the vCPU runs again.
 */
static bool claim_vcpu(struct vcpu *c)
{
    struct vm *vm = c->vm;
    pthread_mutex_lock(&vm->lock);
    bool free_slot = !c->thread_running && !c->starting && !vm->ended;
    bool joinable = free_slot && c->started;
    if (free_slot) {
        c->starting = true;
        c->started = false;
    }
    pthread_mutex_unlock(&vm->lock);
    if (joinable)
        pthread_join(c->thread, NULL);
    return free_slot;
}

/*
 * clone(CLONE_VM | CLONE_THREAD | ...): the shim filled the child's block
 * (registers, tid, stack); the host starts its vCPU at shim_signal_entry,
 * which resumes those registers, with the FS base the shim asks for.
 */
static int handle_clone(struct vcpu *parent, const struct keep_shim_report *r,
                        struct keep_error *err)
{
    struct vm *vm = parent->vm;
    uint64_t index = r->vector, fs = r->addr;
    if (index == 0 || index >= KEEP_MAX_VCPUS || (int)index == parent->index ||
        (r->status && fs >= (1ull << 47))) {
        set_status(parent, -22 /* EINVAL */);
        return KEEP_OK;
    }
    struct vcpu *c = &vm->vcpus[index];
    if (!claim_vcpu(c)) {
        set_status(parent, -11 /* EAGAIN */);
        return KEEP_OK;
    }
    int rc = KEEP_OK, e = EAGAIN;
    if (!r->status) { /* no CLONE_SETTLS: the parent's FS base */
        struct kvm_sregs s;
        if (ioctl(parent->fd, KVM_GET_SREGS, &s) < 0)
            rc = ioctl_fail("KVM_GET_SREGS", errno, NULL, err);
        fs = s.fs.base;
    }
    if (!rc)
        rc = start_vcpu(c, vm->signal_entry,
                        KEEP_GUEST_SHIM_STACK + (index + 1) * KEEP_VCPU_SHIM_STACK_SIZE, fs, err);
    if (!rc)
        init_cpu_block(c, 0);
    pthread_mutex_lock(&vm->lock);
    /* Never after end_keep: run_keep joins only the threads started before it ended. */
    if (!rc && !vm->ended) {
        c->thread_running = true;
        vm->threads++;
        publish_threads(vm);
        e = pthread_create(&c->thread, NULL, vcpu_thread, c);
        if (e) {
            c->thread_running = false;
            vm->threads--;
            publish_threads(vm);
        } else {
            c->started = true;
        }
    }
    c->starting = false;
    pthread_mutex_unlock(&vm->lock);
    if (!rc)
        set_status(parent, e ? -11 /* EAGAIN */ : 0);
    return rc;
}

/* futex(2) on the host's own mapping of the guest word: a wait blocks only this vCPU's thread. */
static void handle_futex(struct vcpu *c, const struct keep_shim_report *r)
{
    struct vm *vm = c->vm;
    enum {
        WAIT = 0,
        WAKE = 1,
        REQUEUE = 3,
        CMP_REQUEUE = 4,
        WAKE_OP = 5,
        WAIT_BITSET = 9,
        WAKE_BITSET = 10,
        PRIVATE = 128,
        REALTIME = 256
    };
    uint64_t op = r->vector, cmd = op & ~(uint64_t)(PRIVATE | REALTIME);
    uint64_t uaddr = r->addr, val = r->status, arg4 = r->error_code, uaddr2 = r->rip, val3 = r->rsp;
    uint64_t lo = vm->layout.workload_base, size = vm->layout.workload_end - lo;
    bool two = cmd == REQUEUE || cmd == CMP_REQUEUE || cmd == WAKE_OP;
    bool timed = (cmd == WAIT || cmd == WAIT_BITSET) && arg4;
    int64_t result;
    if (cmd != WAIT && cmd != WAKE && !two && cmd != WAIT_BITSET && cmd != WAKE_BITSET) {
        result = -38; /* ENOSYS: PI futexes and the rest */
    } else if (uaddr % 4 || uaddr < lo || !keep_range_ok(uaddr - lo, 4, size) ||
               (two && (uaddr2 % 4 || uaddr2 < lo || !keep_range_ok(uaddr2 - lo, 4, size))) ||
               (timed && (arg4 < lo || !keep_range_ok(arg4 - lo, 16, size)))) {
        result = -14; /* EFAULT */
    } else if (cmd == WAKE_OP && !keep_kvm_layout_in_use(&vm->layout, vm->mem, uaddr2, 4)) {
        /*
         * WAKE_OP stores to uaddr2: a page the guest has not in use would be
         * filled by the host kernel, past the --memory count (the shim pages
         * it in first, so only a forged request gets here).
         */
        result = -14; /* EFAULT */
    } else {
        void *p4 = timed ? (void *)(vm->mem + arg4) : (void *)(uintptr_t)arg4;
        long n = syscall(SYS_futex, vm->mem + uaddr, (int)op, (uint32_t)val, p4,
                         two ? vm->mem + uaddr2 : NULL, (uint32_t)val3);
        result = n < 0 ? -errno : n;
    }
    set_status(c, result);
}

/*
 * KEEP_REQ_KICK: a thread sent a signal to the thread of vCPU index. Its
 * host thread leaves KVM_RUN (then redirect_to_signal sends workload code
 * to the shim's signal entry) or the host call it waits in (EINTR; the
 * shim delivers, or runs the call again where Linux would not have
 * interrupted it). A kick that lands just before the target enters
 * KVM_RUN or its host call is seen at its next exit. Any index: a guest
 * that names a vCPU with no thread kicks nothing.
 */
static void kick_vcpu(struct vcpu *from, uint64_t index)
{
    struct vm *vm = from->vm;
    if (index >= KEEP_MAX_VCPUS || (int)index == from->index) {
        set_status(from, -22 /* EINVAL */);
        return;
    }
    struct vcpu *o = &vm->vcpus[index];
    pthread_mutex_lock(&vm->lock);
    bool running = index == 0 ? !__atomic_load_n(&o->left, __ATOMIC_SEQ_CST) : o->thread_running;
    if (running) {
        if (o->run && o->run != MAP_FAILED)
            o->run->immediate_exit = 1;
        pthread_kill(o->thread, KICK_SIGNAL);
    }
    pthread_mutex_unlock(&vm->lock);
    set_status(from, running ? 0 : -3 /* ESRCH */);
}

/* This vCPU's thread called exit(2): its vCPU stops; the last thread's exit ends the Keep. */
static void thread_exit(struct vcpu *c, int status)
{
    struct vm *vm = c->vm;
    pthread_mutex_lock(&vm->lock);
    vm->threads--;
    publish_threads(vm);
    vm->last_status = status & 0xff;
    c->thread_running = false;
    __atomic_store_n(&cpu_of(c)->in_use, 0, __ATOMIC_SEQ_CST); /* the shim may reuse the slot */
    bool last = vm->threads == 0;
    pthread_cond_broadcast(&vm->changed);
    pthread_mutex_unlock(&vm->lock);
    if (last)
        end_keep(vm, status & 0xff, KEEP_OK, NULL);
}

/*
 * keep run --steward: the enroller exited (src/shim/enroll.c). Once, and only
 * while it runs: afterwards the workload could send the request itself.
 */
static int handle_enrolled(struct vm *vm, const struct keep_shim_report *r, enum step *step,
                           struct keep_error *err)
{
    if (!vm->enrolling)
        return keep_fail(err, KEEP_E_KVM_EXIT_UNEXPECTED,
                         "the guest reported the end of enrolment, but no enroller runs");
    vm->enrolling = false;
    if (r->status != 0)
        return keep_fail(err, KEEP_E_RUN_ENROLMENT_FAILED,
                         "enrolment with %s failed (keep-enroll exit status %llu; its line above "
                         "names the step); the workload did not run",
                         vm->steward_url, (unsigned long long)r->status);
    pthread_mutex_lock(&vm->exec_lock);
    keep_executor_end_enrolment(vm->exec);
    pthread_mutex_unlock(&vm->exec_lock);
    *step = STEP_CONTINUE;
    return KEEP_OK;
}

static int handle_port(struct vcpu *c, uint32_t request, int *exit_status, enum step *step,
                       struct keep_error *err)
{
    struct vm *vm = c->vm;
    struct keep_shim_report r;
    copy_report(c, &r);
    *step = STEP_DONE;
    switch (request) {
    case KEEP_REQ_CHANNEL: {
        struct keep_guest_mem gm = {.host = vm->mem + vm->layout.workload_base,
                                    .base = vm->layout.workload_base,
                                    .size = vm->layout.workload_end - vm->layout.workload_base,
                                    .in_use = guest_pages_in_use,
                                    .ctx = vm};
        struct keep_exec_outcome outcome = {0};
        pthread_mutex_lock(&vm->exec_lock);
        int rc = keep_executor_run_batch(vm->exec, vm->mem + vcpu_channel(c->index),
                                         KEEP_GUEST_CHANNEL_SIZE, &gm, &outcome, err);
        pthread_mutex_unlock(&vm->exec_lock);
        if (rc)
            return rc;
        if (outcome.ended) {
            if (outcome.reason[0])
                fprintf(stderr, "keep: %s\n", outcome.reason);
            *exit_status = outcome.exit_status;
            return KEEP_OK;
        }
        *step = STEP_CONTINUE;
        return KEEP_OK;
    }
    case KEEP_REQ_EXIT:
        *exit_status = (int)(r.status & 0xff);
        return KEEP_OK;
    case KEEP_REQ_FAULT:
        return report_fault(vm, &r, exit_status);
    case KEEP_REQ_KILLED:
        if (r.status < 1 || r.status > 64)
            return keep_fail(err, KEEP_E_KVM_EXIT_UNEXPECTED,
                             "the shim reported death by signal %llu; signals are 1..64",
                             (unsigned long long)r.status);
        /* The same line as the nil backend's: a signal's default action ended the workload. */
        fprintf(stderr, "keep: workload killed by signal %d (%s)\n", (int)r.status,
                strsignal((int)r.status));
        *exit_status = 128 + (int)r.status;
        return KEEP_OK;
    case KEEP_REQ_PANIC:
        return keep_fail(err, KEEP_E_KVM_SHIM_PANIC, "the shim stopped the Keep: %s %#llx",
                         r.message, (unsigned long long)r.addr);
    case KEEP_REQ_PRIVILEGED:
        *step = STEP_CONTINUE;
        return handle_privileged(c, &r, err);
    case KEEP_REQ_CLONE:
        *step = STEP_CONTINUE;
        return handle_clone(c, &r, err);
    case KEEP_REQ_TLB_SHOOTDOWN:
        *step = STEP_CONTINUE;
        tlb_shootdown(c);
        return KEEP_OK;
    case KEEP_REQ_FUTEX:
        *step = STEP_CONTINUE;
        handle_futex(c, &r);
        return KEEP_OK;
    case KEEP_REQ_BACK:
        *step = STEP_CONTINUE;
        return handle_back(c, &r, err);
    case KEEP_REQ_DISCARD:
        *step = STEP_CONTINUE;
        handle_discard(c, &r);
        return KEEP_OK;
    case KEEP_REQ_OUT_OF_MEMORY:
        report_out_of_memory(vm, &r, exit_status);
        return KEEP_OK;
    case KEEP_REQ_THREAD_EXIT:
        *step = STEP_THREAD_DONE;
        *exit_status = (int)(r.status & 0xff);
        return KEEP_OK;
    case KEEP_REQ_ENROLLED:
        return handle_enrolled(vm, &r, step, err);
    case KEEP_REQ_NOP:
        *step = STEP_CONTINUE;
        return KEEP_OK;
    case KEEP_REQ_KICK:
        *step = STEP_CONTINUE;
        kick_vcpu(c, r.vector);
        return KEEP_OK;
    case KEEP_REQ_LOG:
        keep_log(KEEP_LOG_DEBUG, "shim: %s %llu", r.message, (unsigned long long)r.addr);
        *step = STEP_CONTINUE;
        return KEEP_OK;
    default:
        return keep_fail(err, KEEP_E_KVM_EXIT_UNEXPECTED,
                         "the guest wrote %#x to port %#x; requests are 1..%d", request, KEEP_PORT,
                         KEEP_REQ_TLB_SHOOTDOWN);
    }
}

static int unexpected_exit(struct vcpu *c, struct keep_error *err)
{
    struct kvm_regs regs = {0};
    ioctl(c->fd, KVM_GET_REGS, &regs);
    const struct kvm_run *run = c->run;
    switch (run->exit_reason) {
    case KVM_EXIT_SHUTDOWN:
        return keep_fail(err, KEEP_E_KVM_SHUTDOWN,
                         "the guest triple-faulted (KVM_EXIT_SHUTDOWN) near rip %#llx: a fault "
                         "the shim could not handle",
                         (unsigned long long)regs.rip);
    case KVM_EXIT_IO:
        return keep_fail(err, KEEP_E_KVM_EXIT_UNEXPECTED,
                         "the guest used port %#x (%s, %u bytes) at rip %#llx; only OUT to %#x is "
                         "allowed",
                         run->io.port, run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
                         run->io.size, (unsigned long long)regs.rip, KEEP_PORT);
    case KVM_EXIT_FAIL_ENTRY:
        return keep_fail(err, KEEP_E_KVM_EXIT_UNEXPECTED,
                         "KVM could not enter the guest (KVM_EXIT_FAIL_ENTRY, reason %#llx)",
                         (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
    case KVM_EXIT_INTERNAL_ERROR:
        return keep_fail(err, KEEP_E_KVM_EXIT_UNEXPECTED,
                         "KVM internal error (suberror %u) at rip %#llx", run->internal.suberror,
                         (unsigned long long)regs.rip);
    default:
        return keep_fail(err, KEEP_E_KVM_EXIT_UNEXPECTED,
                         "the vCPU stopped with exit reason %u at rip %#llx", run->exit_reason,
                         (unsigned long long)regs.rip);
    }
}

/* The signal block and its timer notes stay inside the boot page. */
_Static_assert(KEEP_GUEST_SIGNALS + sizeof(struct keep_shim_signals) <= KEEP_GUEST_BOOT + 0x1000,
               "struct keep_shim_signals overflows the boot page");
_Static_assert(sizeof(struct keep_shim_boot) <= KEEP_GUEST_SIGNALS - KEEP_GUEST_BOOT,
               "struct keep_shim_boot overlaps the signal block");

static volatile struct keep_shim_signals *guest_signals(const struct vm *vm)
{
    return (volatile struct keep_shim_signals *)(vm->mem + KEEP_GUEST_SIGNALS);
}

/*
 * Signals that arrived for the guest go into its pending word (atomically:
 * other vCPUs may be taking bits). immediate_exit is cleared first: a
 * signal between here and KVM_RUN sets it again and is moved next round.
 */
static void kick_vcpu(struct vcpu *from, uint64_t index);

/*
 * POSIX: a process-directed signal goes to a thread that does not block it.
 * When the first thread blocks some of got, the first other thread that
 * does not is kicked; its vCPU takes the signal from the process's set
 * (redirect_to_signal, or the shim when its host call returns). The masks
 * are the guest's own words: a lie only moves the kick to another vCPU.
 */
static void kick_unblocked_thread(struct vcpu *first, uint64_t got)
{
    uint64_t blocked_here = got & __atomic_load_n(&cpu_of(first)->blocked, __ATOMIC_SEQ_CST);
    if (!blocked_here)
        return;
    for (int i = 1; i < KEEP_MAX_VCPUS; i++) {
        struct vcpu *o = &first->vm->vcpus[i];
        const struct keep_shim_cpu *b = cpu_of(o);
        if (__atomic_load_n(&b->in_use, __ATOMIC_SEQ_CST) &&
            (blocked_here & ~__atomic_load_n(&b->blocked, __ATOMIC_SEQ_CST))) {
            uint64_t saved = cpu_of(first)->report.status; /* kick_vcpu answers in it */
            kick_vcpu(first, (uint64_t)i);
            cpu_of(first)->report.status = saved;
            return;
        }
    }
}

static void move_signals_in(struct vcpu *c)
{
    c->run->immediate_exit = stop_requested || keep_ended(c->vm);
    if (c->index != 0)
        return; /* host signals go to the first vCPU */
    uint64_t got = keep_exec_signal_take();
    if (got) {
        volatile struct keep_shim_signals *s = guest_signals(c->vm);
        __atomic_fetch_or(&s->pending, got, __ATOMIC_SEQ_CST);
        s->host_seq = keep_exec_signal_seq();
        kick_unblocked_thread(c, got);
    }
}

/*
 * A signal is pending and the vCPU stopped in workload code, which may never
 * make a system call (a CPU-bound loop): save its registers in its block
 * and send it to the shim's signal entry, on its shim stack. In the shim it
 * needs nothing: the shim delivers when its current call returns. (SEV-SNP
 * and TDX keep the registers from the host; there the guest would need an
 * interrupt of its own, e.g. a restricted-injection #HV whose handler looks
 * at the pending word.)
 */
static int redirect_to_signal(struct vcpu *c, struct keep_error *err)
{
    struct vm *vm = c->vm;
    struct keep_shim_cpu *b = cpu_of(c);
    struct kvm_regs r;
    /* vCPU 0 takes the process's signals, the others those they do not block; each its own. */
    uint64_t mine = __atomic_load_n(&b->pending, __ATOMIC_SEQ_CST) & ~b->blocked;
    uint64_t process = guest_signals(vm)->pending & (c->index == 0 ? ~0ull : ~b->blocked);
    if (!(mine | process) || b->from != KEEP_SIG_FROM_NONE)
        return KEEP_OK;
    if (ioctl(c->fd, KVM_GET_REGS, &r) < 0)
        return ioctl_fail("KVM_GET_REGS", errno, NULL, err);
    if (r.rip < vm->layout.workload_base || r.rip >= vm->layout.workload_end)
        return KEEP_OK;
    struct keep_shim_regs saved = {
        .r15 = r.r15,
        .r14 = r.r14,
        .r13 = r.r13,
        .r12 = r.r12,
        .r11 = r.r11,
        .r10 = r.r10,
        .r9 = r.r9,
        .r8 = r.r8,
        .rbp = r.rbp,
        .rdi = r.rdi,
        .rsi = r.rsi,
        .rdx = r.rdx,
        .rcx = r.rcx,
        .rbx = r.rbx,
        .rax = r.rax,
        .rip = r.rip,
        .cs = KEEP_SEL_UCODE,
        .rflags = r.rflags,
        .rsp = r.rsp,
        .ss = KEEP_SEL_UDATA,
    };
    memcpy(&b->regs, &saved, sizeof(saved));
    b->from = KEEP_SIG_FROM_HOST;
    r.rip = vm->signal_entry;
    r.rsp = b->stack_top;
    r.rflags &= ~0x10500ull; /* TF, DF, RF */
    if (ioctl(c->fd, KVM_SET_REGS, &r) < 0)
        return ioctl_fail("KVM_SET_REGS", errno, NULL, err);
    return KEEP_OK;
}

/* Run one vCPU until its thread exits (STEP_THREAD_DONE) or the Keep ends (STEP_DONE). */
static int run_loop(struct vcpu *c, int *exit_status, enum step *how, struct keep_error *err)
{
    struct kvm_run *run = c->run;
    for (;;) {
        move_signals_in(c);
        int rc_tlb = tlb_enter(c, err);
        if (rc_tlb) {
            tlb_leave(c);
            *how = STEP_DONE;
            return rc_tlb;
        }
        int run_rc = ioctl(c->fd, KVM_RUN, 0), run_errno = errno;
        tlb_leave(c);
        errno = run_errno;
        if (run_rc < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                if (stop_requested) {
                    *exit_status = 128 + SIGINT;
                    *how = STEP_DONE;
                    return keep_fail(err, KEEP_E_KVM_INTERRUPTED,
                                     "the Keep was stopped by a signal");
                }
                if (keep_ended(c->vm)) {
                    *how = STEP_DONE;
                    return KEEP_OK;
                }
                move_signals_in(c);
                int rc = redirect_to_signal(c, err);
                if (rc)
                    return rc;
                continue;
            }
            return ioctl_fail("KVM_RUN", errno, NULL, err);
        }
        if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
            run->io.port == KEEP_PORT && run->io.size == 4 && run->io.count == 1) {
            uint32_t request;
            memcpy(&request, (uint8_t *)run + run->io.data_offset, 4);
            int rc = handle_port(c, request, exit_status, how, err);
            if (rc || *how != STEP_CONTINUE)
                return rc;
            continue;
        }
        *how = STEP_DONE;
        return unexpected_exit(c, err);
    }
}

/* A workload thread's vCPU: SIGINT, SIGTERM and SIGALRM are left to keep's first thread. */
static void *vcpu_thread(void *arg)
{
    struct vcpu *c = arg;
    struct keep_error err = {0};
    int status = 0;
    enum step how = STEP_DONE;
    sigset_t host_signals;
    sigemptyset(&host_signals);
    sigaddset(&host_signals, SIGINT);
    sigaddset(&host_signals, SIGTERM);
    sigaddset(&host_signals, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &host_signals, NULL);
    int rc = run_loop(c, &status, &how, &err);
    if (how == STEP_THREAD_DONE && !rc) {
        thread_exit(c, status);
        return NULL;
    }
    end_keep(c->vm, status, rc, &err);
    /*
     * keep's own thread (vCPU 0) may have been kicked just before it entered
     * a host call that waits (a futex): kick until its run loop has left.
     */
    struct vcpu *first = &c->vm->vcpus[0];
    while (!__atomic_load_n(&first->left, __ATOMIC_SEQ_CST)) {
        pthread_kill(first->thread, KICK_SIGNAL);
        struct timespec pause_20ms = {0, 20 * 1000 * 1000};
        nanosleep(&pause_20ms, NULL);
    }
    return NULL;
}

/*
 * Join a vCPU thread of an ended Keep. The kick may reach it just before it
 * enters a host call that waits (epoll_wait, a futex): kick again until it
 * has left.
 */
static void join_vcpu(struct vcpu *c)
{
    for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += 20 * 1000 * 1000;
        if (t.tv_nsec >= 1000000000) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000;
        }
        if (pthread_timedjoin_np(c->thread, NULL, &t) != ETIMEDOUT)
            return;
        pthread_kill(c->thread, KICK_SIGNAL);
    }
}

/* The first vCPU runs on keep's own thread; afterwards every other vCPU is joined. */
static int run_keep(struct vm *vm, int *exit_status, struct keep_error *err)
{
    struct vcpu *c = &vm->vcpus[0];
    enum step how = STEP_DONE;
    int status = 0;
    vm->threads = 1;
    c->thread = pthread_self();
    current_signals = guest_signals(vm);
    keep_exec_timer_page(guest_signals(vm));
    current_run = c->run;
    int rc = run_loop(c, &status, &how, err);
    __atomic_store_n(&c->left, true, __ATOMIC_SEQ_CST);
    if (how == STEP_THREAD_DONE && !rc) {
        thread_exit(c, status); /* the first thread left; the Keep lives while others run */
        pthread_mutex_lock(&vm->lock);
        while (!vm->ended)
            pthread_cond_wait(&vm->changed, &vm->lock);
        pthread_mutex_unlock(&vm->lock);
    } else {
        end_keep(vm, status, rc, err);
    }
    for (int i = 1; i < KEEP_MAX_VCPUS; i++)
        if (vm->vcpus[i].started)
            join_vcpu(&vm->vcpus[i]);
    *exit_status = vm->exit_status;
    if (vm->rc && vm->rc != rc) {
        *err = vm->err;
        return vm->rc;
    }
    return rc ? rc : vm->rc;
}

/* keep run --steward: keep-enroll beside the workload, started first (src/shim/enroll.c). */
static int load_enroller(struct vm *vm, const struct keep_config *cfg,
                         const struct keep_kvm_process *workload_proc,
                         const struct keep_kvm_image *img, struct keep_kvm_image *out,
                         struct keep_error *err)
{
    static struct keep_elf elf; /* large; points into cfg->enroller, which outlives the Keep */
    int rc = keep_elf_parse(cfg->enroller, cfg->enroller_size, &elf, err);
    if (rc)
        return keep_fail(err, KEEP_E_RUN_NO_ENROLLER, "keep-enroll: %s", err->message);
    size_t argc = 0;
    char **argv = keep_enroll_argv(cfg, &argc);
    if (!argv)
        return keep_fail(err, KEEP_E_NOMEM, "no memory for the enroller's arguments");
    struct keep_kvm_process proc = *workload_proc;
    proc.argv = (const char *const *)argv;
    proc.argc = argc;
    proc.env = NULL;
    proc.env_count = 0;
    rc = keep_kvm_load_enroller(&vm->layout, vm->mem, &elf, &proc, img, out, err);
    keep_enroll_argv_free(argv, argc);
    if (rc)
        return rc;
    out->bias += elf.min_vaddr; /* the image's first byte, for the boot page */
    vm->start_rip = out->entry;
    vm->start_rsp = out->rsp;
    vm->enrolling = true;
    vm->steward_url = cfg->steward_url;
    return KEEP_OK;
}

static int prepare_guest(struct vm *vm, const struct keep_config *cfg, const struct keep_elf *elf,
                         const struct guest_features *f, uint64_t *lstar,
                         struct keep_kvm_image *img, struct keep_error *err)
{
    const uint8_t *shim;
    size_t shim_size;
    struct keep_shim_header hdr;
    int rc = keep_kvm_layout_plan(cfg->memory_size, &vm->layout, err);
    if (rc)
        return rc;
    vm->mem = mmap(NULL, vm->layout.guest_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm->mem == MAP_FAILED)
        return keep_fail(err, KEEP_E_KVM_GUEST_MEMORY, "mmap of %llu MiB guest memory failed: %s",
                         (unsigned long long)(vm->layout.guest_size >> 20), strerror(errno));
    /*
     * Transparent huge pages for guest memory: a guest that touches memory
     * page by page otherwise pays one host fault per 4 KiB. Measured here: a
     * workload filling 54 MiB ran in 17 ms instead of 74 ms; hello world is
     * unchanged. Advice only: without THP the Keep runs the same.
     */
    (void)madvise(vm->mem, vm->layout.guest_size, MADV_HUGEPAGE);
    keep_shim_image(&shim, &shim_size);
    if ((rc = keep_kvm_layout_place_shim(vm->mem, shim, shim_size, &hdr, err)))
        return rc;
    keep_kvm_layout_build(&vm->layout, vm->mem, &hdr);
    *lstar = hdr.syscall_entry;
    vm->signal_entry = hdr.signal_entry;
    vm->cpu_blocks = hdr.cpu_blocks;
    struct keep_kvm_process proc = {
        .argv = (const char *const *)cfg->argv,
        .argc = cfg->argc,
        .env = (const char *const *)cfg->env,
        .env_count = cfg->env_count,
        .hwcap = f->hwcap,
        .hwcap2 = f->fsgsbase ? 2 : 0, /* HWCAP2_FSGSBASE */
        .minsigstksz = f->minsigstksz,
    };
    if ((rc = keep_kvm_load(&vm->layout, vm->mem, elf, &proc, img, err)))
        return rc;
    vm->start_rip = img->entry;
    vm->start_rsp = img->rsp;
    struct keep_kvm_image enroller = {0};
    if (cfg->steward_url && (rc = load_enroller(vm, cfg, &proc, img, &enroller, err)))
        return rc;
    struct keep_shim_boot_in in = {
        .workload_base = vm->layout.workload_base,
        .workload_size = vm->layout.workload_end - vm->layout.workload_base,
        .brk_start = img->brk_start,
        .mmap_top = img->mmap_top,
        .stack_low = img->stack_low,
        .page_tables = vm->layout.pml4,
        .page_tables_size = vm->layout.pt_size,
        .ptes = vm->layout.ptes,
        .channel_path = cfg->channel,
        .log_debug = keep_log_get_level() >= KEEP_LOG_DEBUG,
        .log_info = keep_log_get_level() >= KEEP_LOG_INFO,
        .have_fsgsbase = f->fsgsbase,
        .memory_size = vm->layout.memory_size,
        .stack_exec = elf->exec_stack,
        .host_cpus = host_cpus(),
        .enroll_entry = enroller.entry,
        .enroll_rsp = enroller.rsp,
        .enroll_low = enroller.bias,
        .enroll_high = enroller.brk_start,
        .workload_entry = img->entry,
        .workload_rsp = img->rsp,
    };
    memcpy(vm->mem + KEEP_GUEST_BOOT, &in, sizeof(in));
    return KEEP_OK;
}

int keep_kvm_run(const struct keep_config *cfg, const struct keep_elf *elf,
                 struct keep_executor *exec, int *exit_status, struct keep_error *err)
{
    static struct vm vm; /* large (one vCPU table); one Keep per process at a time */
    memset(&vm, 0, sizeof(vm));
    vm.vm_fd = -1;
    vm.exec = exec;
    keep_executor_set_blocking(exec, exec_unlock_while_waiting, &vm);
    for (int i = 0; i < KEEP_MAX_VCPUS; i++)
        vm.vcpus[i] = (struct vcpu){.vm = &vm, .index = i, .fd = -1};
    pthread_mutex_init(&vm.exec_lock, NULL);
    pthread_mutex_init(&vm.lock, NULL);
    pthread_cond_init(&vm.changed, NULL);
    struct keep_kvm_image img;
    *exit_status = 0;
    int rc = kvm_prepare(err);
    if (rc)
        return rc;
    guest_features(&vm.features);
    if (!(rc = prepare_guest(&vm, cfg, elf, &vm.features, &vm.lstar, &img, err)) &&
        !(rc = create_vm(&vm, err)) &&
        !(rc = start_vcpu(&vm.vcpus[0], vm.start_rip, vm.start_rsp, 0, err))) {
        if (vm.enrolling)
            keep_executor_begin_enrolment(exec, &cfg->steward);
        init_cpu_block(&vm.vcpus[0], 1);
        struct sigaction old_alarm, kick = {.sa_handler = on_kick}, old_kick;
        sigemptyset(&kick.sa_mask);
        sigaction(KICK_SIGNAL, &kick, &old_kick); /* no SA_RESTART: a blocked call returns */
        alarm_handler(true, &old_alarm);
        rc = run_keep(&vm, exit_status, err);
        alarm_handler(false, &old_alarm);
        sigaction(KICK_SIGNAL, &old_kick, NULL);
    }
    vm_close(&vm);
    keep_executor_set_blocking(exec, NULL, NULL);
    pthread_mutex_destroy(&vm.exec_lock);
    pthread_mutex_destroy(&vm.lock);
    pthread_cond_destroy(&vm.changed);
    return rc;
}
