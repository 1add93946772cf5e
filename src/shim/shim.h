/* SPDX-License-Identifier: Apache-2.0 */
/* Internal interfaces of the shim (freestanding; no libc). */
#ifndef KEEP_SHIM_SHIM_H
#define KEEP_SHIM_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/channel.h" /* KEEP_NR_*: one list of call numbers */
#include "common/shim_abi.h"

/* The registers the SYSCALL entry saved (entry.S pushes them in this order). */
struct shim_frame {
    uint64_t nr, rdi, rsi, rdx, r10, r8, r9, rip, rflags, rsp;
    uint64_t rbx, rbp, r12, r13, r14, r15; /* callee-saved: for signal frames and sigreturn */
};

#define BOOT ((volatile struct keep_shim_boot *)KEEP_GUEST_BOOT)

/* This vCPU's block (struct keep_shim_cpu), at the GS base. */
static inline struct keep_shim_cpu *shim_cpu(void)
{
    struct keep_shim_cpu *c;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(c));
    return c;
}
extern struct keep_shim_cpu shim_cpus[KEEP_MAX_VCPUS];
/* What this vCPU reports with a port request. */
#define REPORT ((volatile struct keep_shim_report *)&shim_cpu()->report)
/* CPL the current entry came in at: 0 hardware KVM, 3 PVM. */
#define shim_entry_cpl (shim_cpu()->entry_cpl)

/* Linux errno values the shim returns (negated), include/uapi/asm-generic/errno-base.h. */
enum {
    SHIM_EPERM = 1,
    SHIM_ENOENT = 2,
    SHIM_ESRCH = 3,
    SHIM_EINTR = 4,
    SHIM_EIO = 5,
    SHIM_EBADF = 9,
    SHIM_EAGAIN = 11,
    SHIM_ENOMEM = 12,
    SHIM_EACCES = 13,
    SHIM_EFAULT = 14,
    SHIM_ENODEV = 19,
    SHIM_EISDIR = 21,
    SHIM_EINVAL = 22,
    SHIM_ESPIPE = 29,
    SHIM_ERANGE = 34,
    SHIM_ENAMETOOLONG = 36,
    SHIM_ENOSYS = 38,
    SHIM_EOVERFLOW = 75, /* asm-generic/errno.h */
    SHIM_EMSGSIZE = 90,
    SHIM_ETIMEDOUT = 110,
};

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
size_t shim_strlen(const char *s);

/* True when [addr, addr + size) lies inside workload memory. */
bool shim_user_ok(uint64_t addr, uint64_t size);

/* Report to the host and stop; never returns. */
__attribute__((noreturn)) void shim_exit(int status);
__attribute__((noreturn)) void shim_panic(const char *what, uint64_t value);
void shim_log(const char *what, uint64_t value);
void shim_port(uint32_t request);

/* Memory management (mm.c). */
void shim_mm_init(void);
long shim_brk(uint64_t addr);
long shim_mmap(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd,
               uint64_t off);
long shim_munmap(uint64_t addr, uint64_t len);
long shim_mprotect(uint64_t addr, uint64_t len, uint64_t prot);
long shim_mremap(uint64_t old, uint64_t old_len, uint64_t new_len, uint64_t flags,
                 uint64_t new_addr);
long shim_madvise(uint64_t addr, uint64_t len, uint64_t advice);
/*
 * Before the host reads or writes [addr, addr + size) in place (direct
 * path): map its pages, so every page the host touches is counted against
 * --memory. -EFAULT when a page is not mapped or lies in a PROT_NONE
 * mapping (the program's own image counts as mapped).
 */
long shim_mm_populate(uint64_t addr, uint64_t size);
/* The same for a buffer the kernel writes into: also -EFAULT when the mapping lacks PROT_WRITE,
 * before anything is written (Linux's copy_to_user). */
long shim_mm_populate_writable(uint64_t addr, uint64_t size);
/* Bytes of --memory not yet in use (sysinfo's freeram; the CPL0 count as last written). */
uint64_t shim_mm_free_bytes(void);
/* The #PF hook, CPL0 (error_code: Intel SDM vol 3, 4.7). */
enum { SHIM_FAULT_MAPPED, SHIM_FAULT_SIGSEGV, SHIM_FAULT_OUT_OF_MEMORY };
int shim_mm_fault(uint64_t addr, uint64_t error_code);
/* KEEP_PRIV_PROTECT / KEEP_PRIV_UNMAP at CPL0, on a range shim.c checked against CR3. */
long shim_mm_protect_at_cpl0(uint64_t addr, uint64_t size, uint64_t flags);
long shim_mm_unmap_at_cpl0(uint64_t addr, uint64_t size);

/* Privileged operations (enum keep_priv_op): done directly at CPL0, by the host at CPL3. */
long shim_privileged(uint64_t op, uint64_t addr, uint64_t size, uint64_t flags);

/* Signals (signal.c). */
#define SIGNALS          ((volatile struct keep_shim_signals *)KEEP_GUEST_SIGNALS)
#define SIGREGS          (&shim_cpu()->regs)
#define shim_resume_full (shim_cpu()->resume_full) /* set: entry.S resumes with SIGREGS */
/* Answers nr when it is a signal call (*handled set); every other call returns 0. */
long shim_signal_call(struct shim_frame *f, bool *handled);
/* After a call's result is known: deliver what is pending, send SIGPIPE for EPIPE. */
long shim_signal_after(struct shim_frame *f, long result);
/* The registers SYSCALL left, returning result: a signal frame's or a new thread's start. */
void shim_frame_to_regs(const struct shim_frame *f, long result, struct keep_shim_regs *r);
/* A CPU exception in workload code at CPL0: hand it to the CPL3 trampoline if caught. */
struct exception_frame {
    uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax, r15, r14, r13, r12, rbp, rbx;
    uint64_t vector, error_code, rip, cs, rflags, rsp, ss;
};
bool shim_signal_fault_redirect(struct exception_frame *f, uint64_t cr2);
__attribute__((noreturn)) void shim_report_fault(uint64_t vector, uint64_t error_code, uint64_t rip,
                                                 uint64_t cs, uint64_t rsp, uint64_t addr);

/* Run f's call again (a restart after a host EINTR that no handler answered). */
long shim_redo(struct shim_frame *f);

/* Threads (thread.c). */
long shim_clone(const struct shim_frame *f);
long shim_futex(uint64_t uaddr, uint64_t op, uint64_t val, uint64_t timeout, uint64_t uaddr2,
                uint64_t val3);
__attribute__((noreturn)) void shim_thread_exit(int status);
/* 0, or -EFAULT when memory futex op reads or writes is not mapped (it is paged in). */
/* At a new thread's first entry: take the floating-point environment its parent had. */
void shim_thread_start(void);
long shim_futex_memory(uint64_t op, uint64_t uaddr, uint64_t timeout, uint64_t uaddr2);

/* Forwarding to the host through the channel (forward.c); returns the checked result. */
long shim_forward(const struct shim_frame *f);

/* Calls answered or translated by calls.c; true when f->nr was one (result in *r). */
bool shim_small_call(const struct shim_frame *f, long *r);

/* mmap of a file (mmap_file.c): private memory filled with forwarded preads. */
long shim_mmap_file(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd,
                    uint64_t off);

/* Enrolment (enroll.c) and the Keep-private /run/keep (keepfs.c), for keep run --steward. */
void shim_enroll_init(void);
bool shim_enroll_active(void);
void shim_enroll_exit(int status); /* returns only to start the workload (status 0) */
bool shim_keepfs_call(const struct shim_frame *f, long *r);
void shim_keepfs_init(bool writable);
void shim_keepfs_seal(void);
void shim_signal_reset(void);
void shim_fpu_reset(void);
/* Free what the enroller mapped: everything but the workload's image and its stack page(s) at
 * and above stack_keep; the break back at its start. */
void shim_mm_reset_for_workload(uint64_t stack_low, uint64_t stack_keep);

#endif /* KEEP_SHIM_SHIM_H */
