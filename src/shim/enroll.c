/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enrolment (`keep run --steward`, docs/KEEP.md "Enrolment"): the host loads
 * the enroller (keep-enroll) beside the workload and starts the Keep at the
 * enroller's entry. It fills /run/keep (keepfs.c) and calls exit_group.
 * Then, instead of ending the Keep, the shim frees everything the enroller
 * mapped, resets the signal state and the FS base, has the host close every
 * fd the enroller opened (KEEP_REQ_ENROLLED), and starts the workload at its
 * entry with the initial stack the host built for it, as if it were the
 * first program. An enroller that fails ends the Keep before the workload
 * ever runs.
 */
#include "shim.h"

static struct {
    bool active; /* the enroller is running */
    uint64_t workload_entry, workload_rsp, stack_low;
} en;

void shim_enroll_init(void)
{
    /* Read once, at the enroller's first call: later the workload could forge the boot page. */
    if (!BOOT->in.enroll_entry)
        return;
    en.active = true;
    en.workload_entry = BOOT->in.workload_entry;
    en.workload_rsp = BOOT->in.workload_rsp;
    en.stack_low = BOOT->in.stack_low;
    shim_keepfs_init(true);
}

bool shim_enroll_active(void)
{
    return en.active;
}

static bool other_threads(void)
{
    for (int i = 0; i < KEEP_MAX_VCPUS; i++)
        if (&shim_cpus[i] != shim_cpu() && __atomic_load_n(&shim_cpus[i].in_use, __ATOMIC_SEQ_CST))
            return true;
    return false;
}

/* exit_group of the enroller: start the workload (status 0) or end the Keep. */
void shim_enroll_exit(int status)
{
    REPORT->status = (uint64_t)status & 0xff;
    if (status != 0) {
        for (;;)
            shim_port(KEEP_REQ_ENROLLED); /* the host ends the Keep, naming the failure */
    }
    if (other_threads())
        shim_panic("the enroller exited with threads still running", 0);
    en.active = false;
    shim_keepfs_seal();
    /* The workload's own frame (argc, argv, envp, auxv) is on the page at its %rsp and above. */
    shim_mm_reset_for_workload(en.stack_low, en.workload_rsp & ~4095ull);
    shim_signal_reset();
    shim_fpu_reset();
    struct keep_shim_cpu *c = shim_cpu();
    c->clear_child_tid = 0;
    if (BOOT->in.have_fsgsbase)
        __asm__ volatile("wrfsbase %0" : : "r"(0ull));
    else
        shim_privileged(KEEP_PRIV_SET_FS, 0, 0, 0);
    shim_port(KEEP_REQ_ENROLLED); /* status 0: the host closes the enroller's fds */
    /* psABI 3.4.1: %rsp at argc, %rdx 0 (no atexit function), every other register 0. */
    c->regs = (struct keep_shim_regs){
        .rip = en.workload_entry,
        .rsp = en.workload_rsp,
        .cs = KEEP_SEL_UCODE,
        .ss = KEEP_SEL_UDATA,
        .rflags = 0x2,
    };
    shim_resume_full = 1;
}
