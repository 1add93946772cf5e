/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host-call executor: the host's half of the channel (src/common/channel.h).
 *
 * It treats the guest as hostile. Every offset and length in a request is
 * checked against the channel or the workload's memory before use, syscall
 * numbers are allow-listed, paths resolve only inside volumes and sockets
 * reach only the --listen/--connect addresses. A bad request is answered with
 * -errno in its item; it never crashes or confuses the host.
 *
 * Backends call keep_executor_run_batch() once per channel exit (one OUT).
 */
#ifndef KEEP_HOST_EXECUTOR_H
#define KEEP_HOST_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/config.h"
#include "keep/error.h"

/* The workload's memory as the host sees it (direct path only). */
struct keep_guest_mem {
    uint8_t *host; /* host address of guest-physical address `base` */
    uint64_t base; /* guest-physical address where workload memory starts */
    uint64_t size; /* bytes */
    /*
     * When set (kvm): true only when every page of [addr, addr + len) is in
     * use in the guest's own page tables. The host then fills only pages the
     * shim's frame pool counted, even for a batch the workload forged itself
     * (docs/KEEP.md, "Demand paging"); any other buffer is -EFAULT.
     */
    bool (*in_use)(const void *ctx, uint64_t addr, uint64_t len);
    const void *ctx;
};

/* What a batch did to the Keep as a whole. */
struct keep_exec_outcome {
    bool ended;       /* the Keep must stop: exit, fault or a host-result violation */
    int exit_status;  /* process exit status for keep run: 0..255, 128+signal on a fault */
    char reason[256]; /* one line for stderr when the Keep ended abnormally, else "" */
};

struct keep_executor;

/*
 * measurement: the Keep's launch measurement (SHA-384), bound into the
 * evidence that keep_get_evidence() returns, or NULL when it follows through
 * keep_executor_defer_measurement(). cfg must outlive the executor
 * (its --listen/--connect rules are consulted on every bind and connect).
 * Guest fds 0, 1 and 2 become duplicates of the host's stdio; SIGPIPE is
 * ignored from here on, so a write to a closed pipe is -EPIPE for the guest.
 * Several threads may run batches on one executor when they hold one lock
 * around each batch and give the executor its release function
 * (keep_executor_set_blocking): it runs the host calls that may block unlocked.
 */
KEEP_WARN_UNUSED int keep_executor_new(const struct keep_config *cfg, const uint8_t measurement[48],
                                       struct keep_executor **out, struct keep_error *err);
void keep_executor_free(struct keep_executor *exec);

/*
 * A copy of keep's stdio fd (0, 1 or 2) for a workload, with an open file
 * description of its own where the kernel gives one (terminals, pipes:
 * reopened through /proc/self/fd), so the workload's O_NONBLOCK never
 * reaches keep's caller. For a regular file, a socket, a pty master or
 * another character device (where an open may make a new object) the
 * description stays shared and *restore gets the status flags
 * to put back on keep's fd when the workload is done (else -1). Returns an
 * O_CLOEXEC fd >= 3, or -1 with errno (EBADF: keep's fd is closed).
 */
KEEP_WARN_UNUSED int keep_exec_stdio_fd(int fd, int *restore);

/*
 * For an executor made before its measurement was known (measurement given
 * as NULL to keep_executor_new): the first keep_get_evidence() waits for job
 * and keeps its value. job must stay valid while the executor runs batches.
 * Without a measurement from either, keep_get_evidence() fails with -EIO.
 */
/*
 * keep run --steward (docs/KEEP.md, "Enrolment"): the enroller runs first and
 * may also connect to steward (logged); keep_executor_end_enrolment() ends
 * that grant and closes every guest fd but 0, 1 and 2, so the workload
 * starts with the fds it would have had without enrolment.
 */
struct keep_net_rule;
void keep_executor_begin_enrolment(struct keep_executor *exec, const struct keep_net_rule *steward);
void keep_executor_end_enrolment(struct keep_executor *exec);

struct keep_measure_job;
void keep_executor_defer_measurement(struct keep_executor *exec, struct keep_measure_job *job);

/*
 * Run the batch of requests in the channel pages at chan (the host's mapping,
 * chan_size bytes, shared with a guest that may change them at any time: the
 * executor copies what it reads before checking it). mem is the workload's
 * memory for direct-path buffers. Returns KEEP_OK after answering every item
 * (bad requests get -errno), or an error only for a host-side failure that
 * must end the Keep.
 */
KEEP_WARN_UNUSED int keep_executor_run_batch(struct keep_executor *exec, volatile void *chan,
                                             size_t chan_size, const struct keep_guest_mem *mem,
                                             struct keep_exec_outcome *outcome,
                                             struct keep_error *err);

/*
 * Stopping (SIGINT/SIGTERM to keep, src/host/run.c). keep_executor_request_stop()
 * is async-signal-safe and process-wide: the item running when it is called
 * ends as its host call does (a blocking call returns -EINTR: keep's stop
 * handlers have no SA_RESTART), and every later item of the batch is answered
 * -ECANCELED without running, as after an exit. One signal thus stops a batch
 * of 63 blocking items; the backend then ends the Keep. A stop that lands
 * between the check before an item and its blocking host call is seen at
 * the next signal. keep_executor_clear_stop() forgets a request (keep_run
 * calls it before it installs its handlers).
 */
void keep_executor_request_stop(void);
void keep_executor_clear_stop(void);

/*
 * How a Keep ends, formatted the same way whether the shim reports it in a
 * channel item (KEEP_HC_EXIT / _FAULT / _VIOLATION) or by another route:
 * exit: status & 0xff, no reason;
 * fault: 128 + the signal Linux would send for the vector, and a reason
 *   "keep: workload killed by page fault (SIGSEGV) at rip 0x401234 address 0x0, error code 0x4";
 * violation (the shim caught the host returning an impossible result):
 *   128 + SIGKILL, and a reason naming the call, the value and the bound.
 */
void keep_exec_outcome_exit(struct keep_exec_outcome *o, uint64_t status);
void keep_exec_outcome_fault(struct keep_exec_outcome *o, uint64_t vector, uint64_t error_code,
                             uint64_t rip, uint64_t addr);
void keep_exec_outcome_violation(struct keep_exec_outcome *o, uint64_t nr, uint64_t value,
                                 uint64_t bound, uint64_t kind);

/*
 * A backend that runs batches from several threads under one lock gives
 * the executor the function that releases (begin) and retakes (end) it
 * around a host call that may block (read, write, accept, connect, poll,
 * a sleep, a lock wait...; docs/HACKING.md, "The executor lock").
 */
void keep_executor_set_blocking(struct keep_executor *exec, void (*fn)(void *ctx, bool begin),
                                void *ctx);

/*
 * Signals the host holds for the guest (src/host/exec_signal.c): a host
 * signal handler (SIGALRM from the guest's alarm/setitimer, a forwarded
 * Ctrl-C) adds one; the backend moves them into the guest before it runs
 * the vCPU again. Both are async-signal-safe.
 */
void keep_exec_signal_raise(int sig);
uint64_t keep_exec_signal_take(void); /* bit n-1: signal n; clears them */
/* Bumped by each take that moved signals; the guest's pause passes the one it last saw. */
uint64_t keep_exec_signal_seq(void);

#endif /* KEEP_HOST_EXECUTOR_H */
