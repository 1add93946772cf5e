/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The contract between the kvm backend (host) and the shim (guest kernel):
 * the fixed guest memory layout, the one I/O port, and the boot page the
 * host fills before the vCPU first runs. Freestanding: included by both the
 * host (src/host/kvm*.c) and the shim (src/shim/).
 *
 * Guest virtual addresses equal guest physical addresses (identity map), so
 * one number names a place for both sides. docs/KEEP.md, "Memory layout".
 *
 *   0x0000_0000  not mapped (null pointer guard)
 *   0x0000_1000  GDT                     supervisor, read-only
 *   0x0000_2000  IDT                     supervisor, read-only
 *   0x0000_3000  TSS + I/O bitmap        supervisor (3 pages)
 *   0x0000_6000  boot page               user read-write (host -> shim, shim -> host reports)
 *   0x0000_7000  NMI stacks (4 KiB)      supervisor: IST2, the TLB shootdown's NMI
 *   0x0000_8000  CPL0 stack (32 KiB)     supervisor: exceptions
 *   0x0001_0000  channel (64 KiB)        user read-write, shared with the host
 *   0x0002_0000  shim syscall stack      user read-write (128 KiB)
 *   0x0010_0000  shim image (<= 2 MiB)   text user read-exec, data user read-write
 *   0x0040_0000  workload address space  user, demand paged (tens of GiB; --memory bounds
 *                                        the pages in use, not the addresses)
 *   above        page tables             supervisor: PML4, PDPT, mm state, directories, and
 *                                        one 4 KiB table per 2 MiB at a fixed place
 */
#ifndef KEEP_SHIM_ABI_H
#define KEEP_SHIM_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#define KEEP_U64(x) x##ull
#else
#define KEEP_U64(x) x /* the assembler takes no C integer suffixes */
#endif

#define KEEP_GUEST_GDT             KEEP_U64(0x1000)
#define KEEP_GUEST_IDT             KEEP_U64(0x2000)
#define KEEP_GUEST_TSS             KEEP_U64(0x3000)
#define KEEP_GUEST_TSS_SIZE        KEEP_U64(0x3000)
#define KEEP_GUEST_BOOT            KEEP_U64(0x6000)
#define KEEP_GUEST_NMI_STACK       KEEP_U64(0x7000) /* 256 bytes per vCPU (IST2), supervisor */
#define KEEP_GUEST_STACK0          KEEP_U64(0x8000)
#define KEEP_GUEST_STACK0_SIZE     KEEP_U64(0x8000)
#define KEEP_GUEST_CHANNEL         KEEP_U64(0x10000)
#define KEEP_GUEST_CHANNEL_SIZE    KEEP_U64(0x10000)
#define KEEP_GUEST_SHIM_STACK      KEEP_U64(0x20000)
#define KEEP_GUEST_SHIM_STACK_SIZE KEEP_U64(0x20000)
#define KEEP_GUEST_SHIM            KEEP_U64(0x100000)
#define KEEP_GUEST_SHIM_MAX        KEEP_U64(0x200000)
#define KEEP_GUEST_WORKLOAD        KEEP_U64(0x400000)

/* GDT selectors. STAR puts SYSRET's CS/SS at USER_DATA-8+16 / +8 (AMD64 APM vol 2, 6.1.1). */
#define KEEP_SEL_KCODE 0x08
#define KEEP_SEL_KDATA 0x10
#define KEEP_SEL_UDATA 0x1b /* 0x18 | RPL 3 */
#define KEEP_SEL_UCODE 0x23 /* 0x20 | RPL 3 */
#define KEEP_SEL_TSS   0x28

/*
 * The one port the guest writes (OUT) to reach the host. The 32-bit value
 * written says why; everything else is in the boot page or the channel.
 */
#define KEEP_PORT 0x4b50u
#ifndef __ASSEMBLER__
enum keep_port_request {
    KEEP_REQ_CHANNEL = 1,    /* run the batch in the channel pages */
    KEEP_REQ_EXIT = 2,       /* workload exited: boot.report.status */
    KEEP_REQ_FAULT = 3,      /* CPU exception: boot.report.{vector,error_code,rip,addr,cs} */
    KEEP_REQ_PANIC = 4,      /* shim refused a host result or hit a bug: boot.report.message */
    KEEP_REQ_LOG = 5,        /* debug log line (with --log debug): boot.report.message */
    KEEP_REQ_PRIVILEGED = 6, /* CPL3 shim asks for a privileged operation (enum keep_priv_op) */
    KEEP_REQ_NOP = 7,        /* nothing: one bare exit (the benchmark floor of a forwarded call) */
    /* Memory (src/shim/mm.c, docs/KEEP.md "Memory layout"): */
    KEEP_REQ_BACK = 8, /* back the KEEP_GUEST_SLOT bytes at boot.report.addr with a memory slot */
    KEEP_REQ_DISCARD = 9, /* freed pages [report.addr, +report.status): give back, read zero */
    KEEP_REQ_OUT_OF_MEMORY = 10, /* a touch at report.addr found all --memory pages in use */
    /* Signals (src/shim/signal.c, docs/KEEP.md "Signals"): */
    KEEP_REQ_KILLED = 11, /* a signal's default action ended the workload: boot.report.status */
    /* Threads (src/shim/thread.c): */
    KEEP_REQ_CLONE = 12, /* start vCPU report.vector with its block's regs; FS base report.addr */
    KEEP_REQ_THREAD_EXIT = 13, /* this vCPU's thread ended (exit, not exit_group) */
    KEEP_REQ_FUTEX = 14,       /* futex(2) on workload memory: report.{vector=op,addr,...} */
    /* Enrolment (keep run --steward, src/shim/enroll.c): the enroller exited with report.status;
     * 0: the host closes its fds and ends its network grant, then the workload starts. */
    KEEP_REQ_ENROLLED = 15,
    /* A signal was raised for the thread of vCPU report.vector (tgkill): the host gets that
     * vCPU out of KVM_RUN or the host call it waits in, so it sees the signal (issue 8). */
    KEEP_REQ_KICK = 16,
    /* Threads: this vCPU changed page tables; every other vCPU flushes its TLB (NMI) first. */
    KEEP_REQ_TLB_SHOOTDOWN = 17,
};

/*
 * Guest physical memory is registered with KVM in slots of this size, when
 * the guest first uses them: KVM's shadow MMU (PVM) allocates 2 MiB of
 * host kernel memory and ~6 ms per GiB of slot, so a slot over the whole
 * address space would cost every Keep ~0.4 s to start (measured, 64 GiB).
 */
#define KEEP_GUEST_SLOT (16ull << 20)
/* Bytes of address space the kvm backend gives a workload of memory_size bytes. */
#define KEEP_GUEST_SPAN(memory_size) \
    ((memory_size) <= (32ull << 30) ? (64ull << 30) : (128ull << 30))

/*
 * The page-table region (guest physical = virtual), from the PML4 (CR3):
 * CPL0 code finds everything from CR3 alone, never from the boot page.
 */
#define KEEP_PT_PDPT   0x1000ull   /* + from the PML4 */
#define KEEP_PT_STATE  0x2000ull   /* struct keep_mm_state */
#define KEEP_PT_PD     0x3000ull   /* page directories, one page per GiB, contiguous */
#define KEEP_PT_COUNTS 0x100000ull /* u16 per 2 MiB chunk: pages in use there */
#define KEEP_PT_TABLES 0x200000ull /* the 4 KiB table of chunk c is at + c * 4096 */

/* Supervisor state of the frame pool (written by the host at boot, then only at CPL0). */
struct keep_mm_state {
    uint64_t pages_in_use; /* PTEs present or KEEP_PTE_KEPT */
    uint64_t page_limit;   /* --memory / 4096 */
    uint64_t guest_size;   /* bytes of guest physical memory: the slots' bound */
    uint64_t backed[160];  /* bit i: slot i (KEEP_GUEST_SLOT bytes at i * KEEP_GUEST_SLOT) exists */
    uint64_t vcpus_running; /* host: vCPUs running threads; above 1, changes need a shootdown */
};

#endif

/*
 * The workload-visible syscall number the shim answers with one bare
 * KEEP_REQ_NOP exit and no channel work (KEEP_SYS_BASE + 2 in keep/keep.h's
 * numbering): what a forwarded call costs at least (bench/bench_run.sh).
 */
#define KEEP_SHIM_SYS_NOP 0x4b4502

/* The shim image begins with this header (src/shim/entry.S); offsets are from the image start. */
#define KEEP_SHIM_MAGIC KEEP_U64(0x4d4948535045454b) /* "KEEPSHIM" */
#ifndef __ASSEMBLER__
struct keep_shim_header {
    uint64_t magic;
    uint64_t syscall_entry; /* LSTAR */
    uint64_t exception_entry[32];
    uint64_t text_end; /* [0, text_end) read-exec; [text_end, bss_end) read-write */
    uint64_t bss_end;
    uint64_t signal_entry; /* where the host redirects a running vCPU to take a signal */
    uint64_t cpu_blocks;   /* struct keep_shim_cpu[KEEP_MAX_VCPUS] in the shim's bss */
    uint64_t cpu_block_size;
};

#define KEEP_MAX_ARGV_ENVP 0 /* the argument strings are on the workload stack, not here */

/* What the host tells the shim (written before the first run, read-only in spirit). */
struct keep_shim_boot_in {
    uint64_t workload_base; /* KEEP_GUEST_WORKLOAD */
    uint64_t workload_size; /* bytes of workload address space (KEEP_GUEST_SPAN - base) */
    uint64_t brk_start;     /* first page after the loaded image */
    uint64_t mmap_top;      /* mmap grows down from here (below the stack guard) */
    uint64_t stack_low;     /* lowest stack address (the guard page is just below) */
    uint64_t page_tables;   /* guest address of the PML4 */
    uint64_t page_tables_size;
    uint64_t ptes;          /* 4 KiB PTEs for [0, workload end), indexed by address >> 12 */
    uint64_t channel_path;  /* 0 direct, 1 bounce (enum keep_channel_path) */
    uint64_t log_debug;     /* 1 when --log debug: shim debug lines (KEEP_REQ_LOG) */
    uint64_t have_fsgsbase; /* CR4.FSGSBASE is set: wrfsbase works at CPL3 */
    uint64_t memory_size;   /* --memory: the most bytes of pages in use */
    uint64_t stack_exec;    /* PT_GNU_STACK asked for an executable stack */
    uint64_t log_info;      /* 1 when --log info or debug: name each unsupported call once */
    uint64_t host_cpus;     /* CPUs the host has (at most KEEP_MAX_VCPUS): sched_getaffinity */
    /* keep run --steward (src/shim/enroll.c): the enroller runs first from enroll_entry with
     * enroll_rsp; its image is [enroll_low, enroll_high). 0: no enrolment. Then the workload
     * starts at workload_entry with workload_rsp, the registers the host would have set. */
    uint64_t enroll_entry, enroll_rsp, enroll_low, enroll_high;
    uint64_t workload_entry, workload_rsp;
};

/* What the shim reports to the host with KEEP_REQ_EXIT/FAULT/PANIC/LOG/PRIVILEGED. */
struct keep_shim_report {
    uint64_t status; /* exit status; operation flags and result for KEEP_REQ_PRIVILEGED */
    uint64_t vector;
    uint64_t error_code;
    uint64_t rip;
    uint64_t addr; /* CR2 for #PF */
    uint64_t cs;
    uint64_t rsp;
    char message[200];
};

struct keep_shim_boot {
    struct keep_shim_boot_in in;
    struct keep_shim_report report;
};

/*
 * Privileged operations. At CPL0 the shim does them itself. At CPL3 (PVM)
 * page-table changes go through a #UD at one known shim address, which the
 * CPL0 exception handler turns into a gate (PVM answers every `int n` from
 * CPL3 with #UD, measured; exceptions do reach the IDT). The FS base goes to
 * the host with KEEP_REQ_PRIVILEGED: boot.report.{vector = op, addr}, result
 * in boot.report.status. The host never edits page tables after boot: a
 * shadow MMU would keep the old translations (measured under PVM).
 */
enum keep_priv_op {
    /* start, size (page aligned), flags KEEP_PTE_P/W/NX: pages in use there only (mm.c) */
    KEEP_PRIV_PROTECT = 1,
    KEEP_PRIV_SET_FS = 2, /* addr: new FS base (CPUID has no FSGSBASE under PVM) */
    KEEP_PRIV_UNMAP = 3,  /* start, size: pages in use there are freed; returns how many */
};

#endif /* __ASSEMBLER__ */

/*
 * Signals (src/shim/signal.c, docs/KEEP.md "Signals"). A block at a fixed
 * place in the boot page: the pending set both sides add to, the set the
 * workload catches (the host forwards Ctrl-C only when SIGINT is caught),
 * and the registers of the code a signal interrupts. The host writes
 * pending and, when it redirects a vCPU that runs workload code, regs;
 * only while that vCPU is stopped.
 */
#define KEEP_GUEST_SIGNALS KEEP_U64(0x6400)
#ifndef __ASSEMBLER__
/* Ordered for the restore path (entry.S): 15 pops, then an IRETQ frame (rip, cs, rflags, rsp, ss).
 */
struct keep_shim_regs {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t rip, cs, rflags, rsp, ss;
};

enum keep_sig_from {
    KEEP_SIG_FROM_NONE = 0,
    KEEP_SIG_FROM_HOST = 1,  /* the host stopped the vCPU in workload code and redirected it */
    KEEP_SIG_FROM_FAULT = 2, /* a CPU exception in workload code: vector, error_code, addr */
};

/*
 * Where a timer's pending signal came from, for its siginfo (timer_create(2):
 * si_code SI_TIMER, si_timerid, si_overrun, si_value). The host writes it
 * before it sets the signal's bit in from_timer; the shim clears the bit as
 * it delivers the signal and leaves the note, which timer_getoverrun reads.
 */
struct keep_shim_timer_note {
    uint32_t timerid;
    uint32_t overrun; /* expiries while the signal was already pending */
    uint64_t value;   /* sigev_value */
};

struct keep_shim_signals {
    uint64_t pending;    /* bit n-1: signal n pending for the process */
    uint64_t caught;     /* bit n-1: the workload has a handler for signal n */
    uint64_t host_seq;   /* host: keep_exec_signal_seq() when it last added to pending */
    uint64_t from_timer; /* bit n-1: the pending signal n was raised by timer[n-1].timerid */
    uint64_t reserved[4];
    struct keep_shim_timer_note timer[64];
};

#endif /* __ASSEMBLER__ */

/*
 * Threads: one vCPU per workload thread, at most KEEP_MAX_VCPUS. Each has a
 * block in the shim's bss, found through the GS base (the host sets
 * MSR_GS_BASE and MSR_KERNEL_GS_BASE to it: under PVM, CPL3 code sees the
 * latter), its own syscall stack, CPL0 stack (its own TSS) and channel.
 */
#define KEEP_MAX_VCPUS            16
#define KEEP_GUEST_CHANNELS       KEEP_U64(0x300000) /* channels of vCPUs 1.., 64 KiB each */
#define KEEP_VCPU_SHIM_STACK_SIZE (KEEP_GUEST_SHIM_STACK_SIZE / KEEP_MAX_VCPUS)
#define KEEP_VCPU_STACK0_SIZE     (KEEP_GUEST_STACK0_SIZE / KEEP_MAX_VCPUS)
/* Offsets in struct keep_shim_cpu that entry.S uses. */
#define KEEP_CPU_USER_RSP    8
#define KEEP_CPU_STACK_TOP   16
#define KEEP_CPU_ENTRY_CPL   24
#define KEEP_CPU_RESUME_FULL 28
#define KEEP_CPU_REGS        64
#define KEEP_CPU_REGS_RIP    (KEEP_CPU_REGS + 120)
#define KEEP_CPU_REGS_RSP    (KEEP_CPU_REGS + 144)

#ifndef __ASSEMBLER__
struct keep_shim_cpu {
    uint64_t self;        /* its own address: %gs:0 */
    uint64_t user_rsp;    /* scratch: the workload's %rsp at SYSCALL */
    uint64_t stack_top;   /* this vCPU's shim syscall stack */
    uint32_t entry_cpl;   /* CPL the current entry came in at */
    uint32_t resume_full; /* set: resume the workload with regs */
    uint64_t channel;     /* this vCPU's channel */
    uint64_t index;       /* vCPU number */
    uint64_t tid;         /* the thread's id (1 for the first) */
    uint64_t in_use;      /* the slot runs a thread; the host clears it once the thread ended */
    struct keep_shim_regs regs; /* registers to resume with, or of the interrupted code */
    uint64_t from;              /* enum keep_sig_from: why regs holds interrupted registers */
    uint64_t vector, error_code, addr;
    struct keep_shim_report report; /* what this vCPU reports with a port request */
    /* The shim's own per-thread state; the host never reads it. */
    uint64_t blocked, pending; /* signal mask; signals sent to this thread (tgkill) */
    uint64_t alt_sp, alt_size;
    uint32_t alt_flags, suspended;
    uint64_t suspend_old, clear_child_tid;
    /* A new thread's floating-point environment, the parent's at clone (shim_thread_start). */
    uint32_t start_mxcsr;
    uint16_t start_fcw, start_fp;
    uint8_t pad[1024 - 576];
};
#endif /* __ASSEMBLER__ */

/* x86-64 page table entry bits (Intel SDM vol 3, 4.5 table 4-19). */
#define KEEP_PTE_P  (1ull << 0)
#define KEEP_PTE_W  (1ull << 1)
#define KEEP_PTE_U  (1ull << 2)
#define KEEP_PTE_A  (1ull << 5)
#define KEEP_PTE_D  (1ull << 6)
#define KEEP_PTE_PS (1ull << 7)
/* Software bit (ignored by the CPU when P is clear): a page in use whose protection is none. */
#define KEEP_PTE_KEPT (1ull << 9)
#define KEEP_PTE_NX   (1ull << 63)
#define KEEP_PTE_ADDR 0x000ffffffffff000ull

#endif /* KEEP_SHIM_ABI_H */
