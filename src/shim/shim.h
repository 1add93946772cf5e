/* SPDX-License-Identifier: Apache-2.0 */
/* Internal interfaces of the shim (freestanding; no libc). */
#ifndef KEEP_SHIM_SHIM_H
#define KEEP_SHIM_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shim_abi.h"

/* The registers the SYSCALL entry saved (entry.S pushes them in this order). */
struct shim_frame {
    uint64_t nr, rdi, rsi, rdx, r10, r8, r9, rip, rflags, rsp;
};

#define BOOT ((volatile struct keep_shim_boot *)KEEP_GUEST_BOOT)

extern uint32_t shim_entry_cpl; /* CPL the current syscall entered at: 0 hardware KVM, 3 PVM */

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

/* Forwarding to the host through the channel (forward.c); returns the checked result. */
long shim_forward(const struct shim_frame *f);

/* Calls answered or translated by calls.c; true when f->nr was one (result in *r). */
bool shim_small_call(const struct shim_frame *f, long *r);

/* mmap of a file (mmap_file.c): private memory filled with forwarded preads. */
long shim_mmap_file(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd,
                    uint64_t off);

#endif /* KEEP_SHIM_SHIM_H */
