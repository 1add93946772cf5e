/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading a static or static-pie program into workload memory: the PT_LOAD
 * segments (with their page permissions) and the initial process stack of
 * the System V AMD64 ABI (psABI 3.4.1, figure 3.9): argc, argv, envp, the
 * auxiliary vector, then the strings, AT_RANDOM's 16 bytes and the platform
 * name at the top.
 */
#ifndef KEEP_HOST_KVM_LOADER_H
#define KEEP_HOST_KVM_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "host/elf.h"
#include "host/kvm_layout.h"
#include "keep/error.h"

#define KEEP_KVM_STACK_MAX (8ull << 20) /* like the usual RLIMIT_STACK */

struct keep_kvm_process {
    const char *const *argv; /* argc strings; argv[0] is also AT_EXECFN */
    size_t argc;
    const char *const *env; /* NAME=VALUE */
    size_t env_count;
    uint64_t hwcap, hwcap2; /* AT_HWCAP / AT_HWCAP2 */
    uint64_t minsigstksz;   /* AT_MINSIGSTKSZ */
};

struct keep_kvm_image {
    uint64_t bias;      /* static-pie load bias, 0 for ET_EXEC */
    uint64_t entry;     /* where the workload starts */
    uint64_t rsp;       /* initial %rsp: points at argc */
    uint64_t brk_start; /* first page after the image */
    uint64_t stack_low; /* lowest stack page; the page below it is an unmapped guard */
    uint64_t mmap_top;  /* mmap allocates below this (the guard page) */
};

/* Stack bytes kept for a workload of memory_size (the rest is image, heap and mmap). */
uint64_t keep_kvm_stack_size(uint64_t memory_size);

/* Stack bytes below the initial stack pointer the loader maps before the first run. */
#define KEEP_KVM_STACK_PREMAP (64ull << 10)

KEEP_WARN_UNUSED int keep_kvm_load(const struct keep_kvm_layout *l, uint8_t *mem,
                                   const struct keep_elf *elf, const struct keep_kvm_process *proc,
                                   struct keep_kvm_image *out, struct keep_error *err);

/* keep run --steward: the enroller, placed clear of workload (its image from keep_kvm_load). */
KEEP_WARN_UNUSED int keep_kvm_load_enroller(const struct keep_kvm_layout *l, uint8_t *mem,
                                            const struct keep_elf *elf,
                                            const struct keep_kvm_process *proc,
                                            const struct keep_kvm_image *workload,
                                            struct keep_kvm_image *out, struct keep_error *err);

#endif /* KEEP_HOST_KVM_LOADER_H */
