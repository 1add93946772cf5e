/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which Keep backends this machine can run, and precisely why not.
 *
 * Each backend is probed by a list of checks in the order a user would fix
 * them (CPU, kernel module, firmware, device node, permission, ioctl); the
 * first failed check is the reason. Probes only read: they open device nodes
 * and create (then close) a throw-away VM, nothing else.
 */
#ifndef KEEP_HOST_PLATFORM_H
#define KEEP_HOST_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>

enum keep_platform_id {
    KEEP_PLATFORM_KVM,
    KEEP_PLATFORM_NIL,
    KEEP_PLATFORM_SEV_SNP,
    KEEP_PLATFORM_TDX,
    KEEP_PLATFORM_SGX,
    KEEP_PLATFORM_COUNT,
};

#define KEEP_PLATFORM_MAX_CHECKS 8

struct keep_platform_check {
    const char *name; /* short and stable: "/dev/kvm", "KVM_CREATE_VM", "cpuid.sev_snp" */
    bool ok;
    char detail[160]; /* what was found ("API version 12", "No such file or directory") */
};

struct keep_platform {
    const char *name; /* "kvm", "nil", "sev-snp", "tdx", "sgx" */
    bool available;   /* keep run --backend NAME can run here */
    bool supported;   /* this keep has a backend for it (sev-snp, tdx, sgx: not yet) */
    char reason[256]; /* why not; for nil, what it does not protect */
    struct keep_platform_check checks[KEEP_PLATFORM_MAX_CHECKS];
    size_t check_count;
};

/* Probe one backend. */
void keep_platform_probe(enum keep_platform_id id, struct keep_platform *out);

#endif /* KEEP_HOST_PLATFORM_H */
