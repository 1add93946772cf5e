/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The keep workload API: what a program running inside a Keep can ask of
 * it beyond Linux. Header-only and freestanding (a raw syscall; no library
 * to link), so any static program, glibc, musl or none, can include it.
 *
 * Outside a Keep the reserved syscall numbers are unknown to Linux and the
 * calls fail with -ENOSYS, so a program can tell where it runs.
 */
#ifndef KEEP_KEEP_H
#define KEEP_KEEP_H

#include <stddef.h>
#include <stdint.h>

/* Reserved syscall numbers, far above Linux's own (equal to KEEP_HC_* in src/common/channel.h). */
#define KEEP_SYS_BASE         0x4b4500
#define KEEP_SYS_GET_EVIDENCE (KEEP_SYS_BASE + 1)
/* Does nothing and returns 0; the shim answers it with one bare exit (benchmarks). */
#define KEEP_SYS_NOP (KEEP_SYS_BASE + 2)

/* Bytes of caller data bound into evidence (SEV-SNP REPORT_DATA, TDX REPORTDATA). */
#define KEEP_REPORT_DATA_SIZE 64

static inline long keep_syscall3(long nr, long a0, long a1, long a2)
{
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a0), "S"(a1), "d"(a2)
                     : "rcx", "r11", "memory");
    return ret;
#else
#error "keep workloads are x86-64"
#endif
}

/*
 * Get the Keep's attestation evidence with report_data bound into it.
 * Returns the evidence size in bytes (written to buf), or a negative errno:
 *   -ERANGE  size is smaller than the evidence (call with buf NULL and size 0
 *            to learn the size)
 *   -EFAULT  a buffer is not in the workload's memory
 *   -ENOSYS  not running in a Keep
 * On the kvm backend the evidence is the unsigned "kvm" format
 * (docs/KEEP.md): verifiers reject it unless told to accept insecure Keeps.
 */
static inline long keep_get_evidence(const uint8_t report_data[KEEP_REPORT_DATA_SIZE], void *buf,
                                     size_t size)
{
    return keep_syscall3(KEEP_SYS_GET_EVIDENCE, (long)report_data, (long)buf, (long)size);
}

/* One round trip to the host and back, carrying nothing: 0 in a Keep, -ENOSYS outside. */
static inline long keep_nop(void)
{
    return keep_syscall3(KEEP_SYS_NOP, 0, 0, 0);
}

#endif /* KEEP_KEEP_H */
