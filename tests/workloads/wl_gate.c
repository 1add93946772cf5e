/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim's #UD gate from the workload's side (kvm only): the workload can
 * read the shim's text and jump to the gate's ud2 itself, and it can write
 * the boot page, which is a user page. The gate must still refuse to make
 * any page outside workload memory user-accessible, whatever the boot page
 * says (docs/KEEP.md, "Entering the shim"). Prints one line per check,
 * then reads the IDT, which must end the Keep with SIGSEGV.
 *
 * wl_gate pool: the frame pool from the workload's side (issue 12). The
 * gate only changes pages already in use, so asking it to map an untouched
 * PROT_NONE page must not hand out an uncounted page: reading it afterwards
 * must fault (SIGSEGV) at that address.
 * wl_gate host: the memory requests the shim sends the host (KEEP_REQ_BACK,
 * KEEP_REQ_DISCARD) sent by the workload itself with addresses outside its
 * memory: the host refuses each (-EINVAL) and the Keep runs on.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "../../src/shim/shim_abi.h"

#include "wl.h"

/* src/shim/shim_abi.h: guest addresses and the image header layout. */
#define GUEST_BOOT      0x6000ull
#define GUEST_IDT       0x2000ull
#define GUEST_STACK0    0x8000ull
#define GUEST_SHIM      0x100000ull
#define HEADER_TEXT_END (8 * 34) /* magic, syscall_entry, 32 exception entries */
#define PRIV_PROTECT    1
#define PTE_P_W         3
#define BOOT_IN_BASE    0 /* keep_shim_boot_in.workload_base */
#define BOOT_IN_SIZE    8 /* keep_shim_boot_in.workload_size */
#define BOOT_IN_PTES    56

static uint64_t find_gate(void)
{
    uint64_t text_end = *(volatile uint64_t *)(GUEST_SHIM + HEADER_TEXT_END);
    for (uint64_t a = GUEST_SHIM; a + 3 <= text_end; a++) {
        const volatile uint8_t *p = (const volatile uint8_t *)a;
        if (p[0] == 0x0f && p[1] == 0x0b && p[2] == 0xc3) /* ud2; ret */
            return a;
    }
    return 0;
}

static long call_gate(uint64_t gate, uint64_t op, uint64_t addr, uint64_t size, uint64_t flags)
{
    long rc;
    register uint64_t r10 __asm__("r10") = gate;
    __asm__ volatile("call *%%r10"
                     : "=a"(rc), "+D"(op), "+S"(addr), "+d"(size), "+c"(flags), "+r"(r10)
                     :
                     : "r8", "r9", "r11", "memory", "cc");
    return rc;
}

/* Lie in the boot page, try the gate, put the boot page back before any syscall. */
static long forged_protect(uint64_t gate, uint64_t addr, uint64_t base, uint64_t size,
                           uint64_t ptes)
{
    volatile uint64_t *in = (volatile uint64_t *)GUEST_BOOT;
    uint64_t saved_base = in[BOOT_IN_BASE / 8], saved_size = in[BOOT_IN_SIZE / 8];
    uint64_t saved_ptes = in[BOOT_IN_PTES / 8];
    in[BOOT_IN_BASE / 8] = base;
    in[BOOT_IN_SIZE / 8] = size;
    in[BOOT_IN_PTES / 8] = ptes;
    long rc = call_gate(gate, PRIV_PROTECT, addr, 4096, PTE_P_W);
    in[BOOT_IN_BASE / 8] = saved_base;
    in[BOOT_IN_SIZE / 8] = saved_size;
    in[BOOT_IN_PTES / 8] = saved_ptes;
    return rc;
}

static int64_t host_request(uint32_t request, uint64_t addr, uint64_t size)
{
    /* The report of this vCPU: in its struct keep_shim_cpu, at the GS base (a user page). */
    uint64_t block;
    __asm__ volatile("movq %%gs:0, %0" : "=r"(block));
    volatile struct keep_shim_report *report = &((volatile struct keep_shim_cpu *)block)->report;
    report->addr = addr;
    report->status = size;
    __asm__ volatile("outl %0, %w1" : : "a"(request), "Nd"(KEEP_PORT) : "memory");
    return (int64_t)report->status;
}

static int pool(uint64_t gate)
{
    uint8_t *r = mmap(NULL, 1 << 20, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    wl_check(r != MAP_FAILED, "reserve 1 MiB PROT_NONE");
    long rc = call_gate(gate, KEEP_PRIV_PROTECT, (uint64_t)r, 4096,
                        KEEP_PTE_P | KEEP_PTE_W | KEEP_PTE_NX);
    wl_check(rc >= 0, "the gate accepts a protect of a workload page (%ld)", rc);
    printf("reading the untouched page at %p\n", (void *)r);
    fflush(stdout);
    uint8_t got = *(volatile uint8_t *)r;
    wl_check(0, "read an untouched PROT_NONE page (%u) after the forged protect", got);
    return wl_done();
}

static int host(void)
{
    wl_check(host_request(KEEP_REQ_DISCARD, KEEP_GUEST_SHIM, 4096) == -22,
             "the host refuses to discard the shim's text");
    wl_check(host_request(KEEP_REQ_DISCARD, KEEP_GUEST_WORKLOAD - 4096, 8192) == -22,
             "and a range that starts below workload memory");
    wl_check(host_request(KEEP_REQ_DISCARD, KEEP_GUEST_WORKLOAD + 1, 4096) == -22,
             "and an unaligned one");
    wl_check(host_request(KEEP_REQ_BACK, 1ull << 50, 0) == -22,
             "the host refuses to back memory beyond the guest");
    wl_check(host_request(KEEP_REQ_BACK, 0, 0) == -22, "and the fixed low region");
    wl_check(puts("still running") >= 0, "the Keep runs on");
    return wl_done();
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "host") == 0)
        return host();
    uint64_t gate = find_gate();
    if (!wl_check(gate != 0, "found the gate's ud2; ret in the shim's text"))
        return wl_done();
    if (argc > 1 && strcmp(argv[1], "pool") == 0)
        return pool(gate);
    uint64_t ptes = ((volatile uint64_t *)GUEST_BOOT)[BOOT_IN_PTES / 8];
    wl_check(forged_protect(gate, GUEST_STACK0, 0, 1ull << 30, ptes) < 0,
             "the gate refuses the CPL0 stack with workload_base forged to 0");
    wl_check(forged_protect(gate, GUEST_IDT, 0, 1ull << 30, ptes) < 0,
             "the gate refuses the IDT with workload_base forged to 0");
    wl_check(forged_protect(gate, GUEST_SHIM, 0, 1ull << 30, ptes) < 0,
             "the gate refuses the shim's text with workload_base forged to 0");
    /* A PTE array moved down so that this page's entry lands on the IDT's entry. */
    static uint8_t page[4096] __attribute__((aligned(4096)));
    uint64_t moved = ptes - (((uint64_t)page >> 12) - (GUEST_IDT >> 12)) * 8;
    forged_protect(gate, (uint64_t)page, (uint64_t)page, 4096, moved);
    /*
     * The pages must still be supervisor-only: reading them faults (the test
     * expects SIGSEGV). Before the fix, the forged calls made them user pages.
     */
    printf("reading the IDT and the CPL0 stack\n");
    fflush(stdout);
    uint64_t idt = *(volatile uint64_t *)GUEST_IDT;
    uint64_t stack0 = *(volatile uint64_t *)GUEST_STACK0;
    wl_check(0, "read the IDT (%#llx) and the CPL0 stack (%#llx) from CPL3",
             (unsigned long long)idt, (unsigned long long)stack0);
    return wl_done();
}
