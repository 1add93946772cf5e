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
 * wl_gate channel: a batch the workload writes into the channel itself
 * (direct path), asking the host to read(0) into a page of a MAP_NORESERVE
 * reservation it never touched. The host must refuse it (-EFAULT): filling
 * the page would use host memory the frame pool never counted, so a
 * workload could grow past --memory up to its whole address space.
 * stdin must be non-empty.
 * wl_gate unmap: the workload frees a touched page through the gate
 * (KEEP_PRIV_UNMAP) without the KEEP_REQ_DISCARD the shim sends after it.
 * The page leaves the pool's count, so its frame must leave the host too:
 * touched again it reads zero. Otherwise the workload could keep touching
 * and freeing pages and hold host memory far past --memory.
 * wl_gate areas: the area list is shim data, a user page; the workload sets
 * its count to 2^20 and touches an untouched page. The CPL0 fault handler
 * must not search past the list (reads there fault at CPL0 and re-enter it
 * forever): the touch ends the Keep with SIGSEGV at that address.
 * wl_gate init: the shim sets up its memory state at the first syscall or,
 * if the first fault comes sooner, in the CPL0 fault handler, from the
 * boot page (a user page) and a "ready" flag in shim data (a user page).
 * The workload clears the flag and forges the boot page so that marking
 * the program's chunks would set the U bit of the directory entry that
 * maps the page tables, then touches a page. The tables must stay
 * supervisor-only: reading the PML4 afterwards is SIGSEGV at its address.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "../../src/common/channel.h"
#include "../../src/common/shim_abi.h"

#include "wl.h"

/* src/common/shim_abi.h: guest addresses and the image header layout. */
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

/* One forged direct-path item in the channel: returns its result. */
static int64_t forged_item(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2)
{
    volatile struct keep_chan_header *h = (volatile struct keep_chan_header *)KEEP_GUEST_CHANNEL;
    volatile struct keep_chan_item *it =
        (volatile struct keep_chan_item *)(KEEP_GUEST_CHANNEL + KEEP_CHAN_ITEMS_OFFSET);
    h->magic = KEEP_CHAN_MAGIC;
    h->version = KEEP_CHAN_VERSION;
    h->item_count = 1;
    h->path = KEEP_CHAN_PATH_DIRECT;
    h->flags = 0;
    h->data_offset = h->data_size = 0;
    h->reserved[0] = h->reserved[1] = 0;
    it->nr = nr;
    it->args[0] = a0;
    it->args[1] = a1;
    it->args[2] = a2;
    it->result = 0;
    __asm__ volatile("outl %0, %w1" : : "a"(KEEP_REQ_CHANNEL), "Nd"(KEEP_PORT) : "memory");
    return h->status ? h->status : it->result;
}

static int channel(void)
{
    volatile struct keep_shim_boot *boot = (volatile struct keep_shim_boot *)KEEP_GUEST_BOOT;
    if (boot->in.channel_path != KEEP_CHAN_PATH_DIRECT) {
        printf("1..0 # SKIP the bounce path copies through the channel, never into memory\n");
        return 0;
    }
    uint8_t *r = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    wl_check(r != MAP_FAILED, "reserve 1 MiB");
    uint8_t *page = r + (512 << 10); /* never touched: not in use */
    int64_t rc = forged_item(0 /* read */, 0, (uint64_t)page, 4096);
    wl_check(rc == -14, "the host refuses read() into a page not in use (got %lld, want -14)",
             (long long)rc);
    wl_check(page[0] == 0, "the page reads zero afterwards (got %u)", page[0]);
    page[0] = 1; /* now it is in use: the host may fill it */
    rc = forged_item(0 /* read */, 0, (uint64_t)page, 1);
    wl_check(rc == 1, "and accepts read() into a page in use (got %lld)", (long long)rc);
    wl_check(puts("still running") >= 0, "the Keep runs on");
    return wl_done();
}

static int unmap(uint64_t gate)
{
    volatile uint8_t *p =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    wl_check(p != MAP_FAILED, "map a page");
    p[0] = 42;
    long rc = call_gate(gate, KEEP_PRIV_UNMAP, (uint64_t)p, 4096, 0);
    wl_check(rc == 1, "the gate frees the page in use (%ld)", rc);
    wl_check(p[0] == 0, "touched again, it reads zero (got %u): the host dropped its frame", p[0]);
    return wl_done();
}

/*
 * The shim's area list: its first entry is (the start of) the program's image,
 * {base, end <= first heap page, PROT_READ | PROT_WRITE | PROT_EXEC | AREA_IMAGE} (src/shim/mm.c).
 */
static volatile uint64_t *find_areas(void)
{
    volatile struct keep_shim_boot *boot = (volatile struct keep_shim_boot *)KEEP_GUEST_BOOT;
    uint64_t text_end = *(volatile uint64_t *)(GUEST_SHIM + HEADER_TEXT_END);
    uint64_t bss_end = *(volatile uint64_t *)(GUEST_SHIM + HEADER_TEXT_END + 8);
    uint64_t heap = (boot->in.brk_start + 4095) & ~4095ull;
    for (uint64_t a = text_end; a + 24 <= bss_end; a += 8) { /* addresses, as find_gate reads */
        volatile uint64_t *e = (volatile uint64_t *)a;
        if (e[0] == boot->in.workload_base && e[1] > e[0] && e[1] <= heap && e[2] == 0x207)
            return e;
    }
    return 0;
}

static int areas(int then_mmap)
{
    enum { MAX_AREAS = 1024 }; /* src/shim/mm.c: struct area[1024], then area_count, last */
    volatile uint8_t *p =
        mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    volatile uint64_t *list = find_areas();
    if (!wl_check(p != MAP_FAILED && list, "found the shim's area list"))
        return wl_done();
    if (then_mmap) {
        list[3 * MAX_AREAS] = 1u << 20; /* area_count */
        void *q = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        wl_check(q == MAP_FAILED || q != NULL, "mmap with the count set to 2^20 answered (%p)", q);
        wl_check(puts("still running") >= 0, "the Keep runs on");
        return wl_done();
    }
    printf("touching %p with the area count set to 2^20\n", (void *)(p + 4096 * 100));
    fflush(stdout);
    list[3 * MAX_AREAS] = 1u << 20; /* area_count */
    list[3 * MAX_AREAS + 1] = 0;    /* last */
    uint8_t got = p[4096 * 100];
    wl_check(0, "the touch returned (%u) with a corrupted area count", got);
    return wl_done();
}

/* src/shim/mm.c's struct: areas[1024] (24 bytes each), then these at byte offsets. */
enum { MM_BRK_START = 24592, MM_READY = 24648, MM_CHUNK_HINT = 24656 };

static int init(void)
{
    volatile struct keep_shim_boot *boot = (volatile struct keep_shim_boot *)KEEP_GUEST_BOOT;
    volatile uint8_t *p =
        mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    volatile uint8_t *mm = (volatile uint8_t *)find_areas();
    if (!wl_check(p != MAP_FAILED && mm && mm[MM_READY] == 1 &&
                      *(volatile uint64_t *)(mm + MM_BRK_START) == boot->in.brk_start,
                  "found the shim's memory state"))
        return wl_done();
    /* The directory entry of the 2 MiB page holding the PML4 (src/host/kvm_layout.c). */
    uint64_t pml4 = boot->in.page_tables, pde = pml4 + KEEP_PT_PD + (pml4 >> 21) * 8;
    uint64_t hint = (uint64_t)(mm + MM_CHUNK_HINT), chunk = ((pde - hint) / 8) * 64 + 2;
    printf("forging the boot page so that chunk %#llx (the U bit of %#llx) gets marked; reading "
           "the PML4 at %#llx\n",
           (unsigned long long)chunk, (unsigned long long)pde, (unsigned long long)pml4);
    fflush(stdout);
    static uint8_t saved_mm[MM_CHUNK_HINT];
    struct keep_shim_boot_in saved_in;
    for (size_t i = 0; i < sizeof(saved_mm); i++)
        saved_mm[i] = mm[i];
    memcpy(&saved_in, (const void *)&boot->in, sizeof(saved_in));
    uint64_t forged = chunk << 21; /* one chunk: [forged, forged + 1) */
    boot->in.workload_base = forged;
    boot->in.brk_start = forged + 1;
    boot->in.workload_size = saved_in.stack_low + 1 - forged; /* the stack range: one real chunk */
    mm[MM_READY] = 0;
    p[4096 * 100] = 1; /* the fault: the CPL0 handler sets the state up again */
    uint64_t got = *(volatile uint64_t *)pml4;
    memcpy((void *)&boot->in, &saved_in, sizeof(saved_in));
    for (size_t i = 0; i < sizeof(saved_mm); i++)
        mm[i] = saved_mm[i];
    wl_check(0, "read the PML4 (%#llx) from CPL3 after a forged boot page",
             (unsigned long long)got);
    return wl_done();
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "init") == 0)
        return init();
    if (argc > 1 && strcmp(argv[1], "areas") == 0)
        return areas(argc > 2 && strcmp(argv[2], "mmap") == 0);
    if (argc > 1 && strcmp(argv[1], "host") == 0)
        return host();
    if (argc > 1 && strcmp(argv[1], "channel") == 0)
        return channel();
    uint64_t gate = find_gate();
    if (!wl_check(gate != 0, "found the gate's ud2; ret in the shim's text"))
        return wl_done();
    if (argc > 1 && strcmp(argv[1], "pool") == 0)
        return pool(gate);
    if (argc > 1 && strcmp(argv[1], "unmap") == 0)
        return unmap(gate);
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
