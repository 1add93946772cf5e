/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kvm backend: runs a static x86-64 program in a KVM micro-VM with the
 * shim (src/shim/) as its kernel. docs/KEEP.md, "Memory layout", "The shim",
 * "Entering the shim".
 */
#ifndef KEEP_HOST_KVM_H
#define KEEP_HOST_KVM_H

#include <stdbool.h>
#include <stdint.h>

#include "host/config.h"
#include "host/elf.h"
#include "host/executor.h"
#include "keep/error.h"

/* Guest address where workload memory (and an ET_EXEC program's image) starts. */
#define KEEP_KVM_WORKLOAD_BASE 0x400000ull

/*
 * Can this process run Keeps on /dev/kvm? KEEP_OK, or an error that says
 * precisely why not and what to do (missing device, permission, API version,
 * capability).
 */
KEEP_WARN_UNUSED int keep_kvm_probe(struct keep_error *err);

/*
 * Run elf (parsed from cfg->program) in a new VM with cfg's memory, argv,
 * environment and channel path; forwarded calls go to exec. On KEEP_OK,
 * *exit_status is the workload's exit status (0..255, 128+signal after a
 * CPU fault, which is also described on stderr). Errors are host-side
 * failures (ioctl, memory) or a shim that refused a host result
 * (KEEP_E_KVM_SHIM_PANIC); err says which.
 */
KEEP_WARN_UNUSED int keep_kvm_run(const struct keep_config *cfg, const struct keep_elf *elf,
                                  struct keep_executor *exec, int *exit_status,
                                  struct keep_error *err);

/*
 * Ask a running keep_kvm_run() to stop: async-signal-safe, for a SIGINT or
 * SIGTERM handler. The run returns KEEP_E_KVM_INTERRUPTED soon after.
 */
void keep_kvm_request_stop(void);
/*
 * Async-signal-safe, for SIGINT: when the running workload catches SIGINT
 * and no SIGINT was forwarded before, queue it for the workload and return
 * true (the Keep goes on); otherwise false, and the caller stops the Keep.
 */
bool keep_kvm_forward_interrupt(void);

#endif /* KEEP_HOST_KVM_H */
