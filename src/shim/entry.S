/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shim entry points: the image header, the SYSCALL entry (LSTAR), the CPU
 * exception stubs. docs/KEEP.md, "Entering the shim".
 *
 * SYSCALL lands here at CPL0 on hardware KVM, but at CPL3 under a software
 * hypervisor that cannot switch rings on SYSCALL (PVM). The stub reads the
 * CPL from %cs and returns with SYSRETQ (CPL0) or POPFQ + JMP (CPL3). Both
 * run the same C dispatcher on the shim's own stack: the workload's stack,
 * including the 128-byte red zone below its %rsp, is never written.
 */
#include "common/shim_abi.h"

    .section .text.head, "ax"
    .globl keep_shim_header
keep_shim_header:
    .quad KEEP_SHIM_MAGIC
    .quad syscall_entry
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad exception_\n
    .endr
    .quad __text_end
    .quad __bss_end
    .quad shim_signal_entry
    .quad shim_cpus
    .quad 1024 /* sizeof(struct keep_shim_cpu) */

    .text
    .globl syscall_entry
syscall_entry:
    /* This vCPU's block is at the GS base (struct keep_shim_cpu, src/common/shim_abi.h). */
    movq %rsp, %gs:KEEP_CPU_USER_RSP
    movq %gs:KEEP_CPU_STACK_TOP, %rsp
    /* Callee-saved registers too: a signal frame or sigreturn needs all of them. */
    pushq %r15
    pushq %r14
    pushq %r13
    pushq %r12
    pushq %rbp
    pushq %rbx
    pushq %gs:KEEP_CPU_USER_RSP /* frame.rsp */
    pushq %r11                  /* frame.rflags */
    pushq %rcx                  /* frame.rip */
    pushq %r9
    pushq %r8
    pushq %r10
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rax                  /* frame.nr */
    movl %cs, %eax
    andl $3, %eax
    movl %eax, %gs:KEEP_CPU_ENTRY_CPL
    movq %rsp, %rdi
    cld
    call shim_syscall
    /* A signal to deliver or a sigreturn: every register comes from the boot page. */
    cmpl $0, %gs:KEEP_CPU_RESUME_FULL
    jne resume_full
    /*
     * SYSRETQ with a non-canonical RCX raises #GP on Intel CPUs at CPL0 but
     * with the workload's %rsp already loaded (the classic SYSRET privilege
     * escalation, CVE-2012-0217). Workload memory lies far below 2^47, so a
     * return address at or above it means the frame is broken: stop the Keep.
     */
    testl $3, %gs:KEEP_CPU_ENTRY_CPL
    jnz 2f
    movq 56(%rsp), %rcx         /* frame.rip */
    shrq $47, %rcx
    jz 2f
    leaq sysret_noncanonical(%rip), %rdi
    movq 56(%rsp), %rsi
    call shim_panic
2:  addq $8, %rsp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %r10
    popq %r8
    popq %r9
    popq %rcx
    popq %r11
    testl $3, %gs:KEEP_CPU_ENTRY_CPL
    jnz 1f
    popq %rsp
    sysretq
1:  /* CPL3: SYSRET would #GP. Restore RFLAGS on our stack, then the workload's %rsp. */
    pushq %r11
    popfq
    movq (%rsp), %rsp
    jmpq *%rcx

/*
 * Resume the workload with every register from this vCPU's block's
 * struct keep_shim_regs (signal delivery, sigreturn): 15 pops, then IRETQ
 * at CPL0; at CPL3 (PVM) POPFQ and the workload's %rsp and %rip, read
 * through absolute addresses so no register is needed.
 */
resume_full:
    movl $0, %gs:KEEP_CPU_RESUME_FULL
    movq %gs:0, %rsp
    leaq KEEP_CPU_REGS(%rsp), %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    testl $3, %gs:KEEP_CPU_ENTRY_CPL
    jnz 1f
    iretq
1:  leaq 16(%rsp), %rsp         /* past rip and cs, to rflags; lea leaves the flags alone */
    popfq
    movq %gs:KEEP_CPU_REGS_RSP, %rsp
    jmpq *%gs:KEEP_CPU_REGS_RIP

/*
 * Where a signal interrupting workload code enters the shim: the CPL0
 * exception handler (a fault with a handler to run) or the host (an
 * asynchronous signal reaching a vCPU that makes no system calls, or a new
 * thread's first start) saved the registers in this vCPU's block and set
 * %rsp to its shim stack.
 */
    .globl shim_signal_entry
shim_signal_entry:
    movl %cs, %eax
    andl $3, %eax
    movl %eax, %gs:KEEP_CPU_ENTRY_CPL
    cld
    call shim_signal_interrupted
    jmp resume_full

/* CPU exceptions: always CPL0, on IST1 (the CPL0 stack). Frame: vector, error code, iret frame. */
    .macro exc n, has_error
exception_\n:
    .if \has_error == 0
    pushq $0
    .endif
    pushq $\n
    jmp exception_common
    .endm
    exc 0,0
    exc 1,0
    exc 3,0
    exc 4,0
    exc 5,0
    exc 6,0
    exc 7,0
    exc 8,1
    exc 9,0
    exc 10,1
    exc 11,1
    exc 12,1
    exc 13,1
    exc 14,1
    exc 15,0
    exc 16,0
    exc 17,1
    exc 18,0
    exc 19,0
    exc 20,0
    exc 21,1
    exc 22,0
    exc 23,0
    exc 24,0
    exc 25,0
    exc 26,0
    exc 27,0
    exc 28,0
    exc 29,1
    exc 30,1
    exc 31,0

/*
 * NMI: another vCPU changed page tables (KEEP_REQ_TLB_SHOOTDOWN) and the
 * host injected this before the vCPU runs on: drop every translation it
 * cached. On IST2, so it may land inside another handler; five CPL0
 * instructions, no C (each costs ~0.6 us under PVM).
 */
exception_2:
    pushq %rax
    movq %cr3, %rax
    movq %rax, %cr3
    popq %rax
    iretq

exception_common:
    /* Save every register: the #UD gate answers through them, a signal frame records them. */
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    movq %rsp, %rdi
    cld
    call shim_exception /* returns only for the gate; every real fault ends the Keep */
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    addq $16, %rsp /* vector, error code */
    iretq

/*
 * long shim_cpl0_gate(op, addr, size, flags): the CPL3 shim's way into CPL0.
 * PVM answers `int n` from CPL3 with #UD, but exceptions do reach the IDT, so
 * the gate is a #UD at this one known address: shim_exception() recognises
 * it, does the operation at CPL0 and resumes after the ud2 with the result
 * in %rax. A #UD anywhere else is a fault as usual.
 */
    .globl shim_cpl0_gate, shim_cpl0_gate_ud2
shim_cpl0_gate:
shim_cpl0_gate_ud2:
    ud2
    ret

    .section .rodata
sysret_noncanonical:
    .asciz "SYSRET to a non-canonical return address refused:"

    .section .note.GNU-stack, "", @progbits
