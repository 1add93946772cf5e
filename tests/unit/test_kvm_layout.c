/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest layout the host builds: walk the page tables as the CPU would
 * and check every region's mapping and permissions, the GDT/IDT/TSS
 * contents, and the loader's segment permissions, guard page and stack.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "host/kvm_layout.h"
#include "host/kvm_loader.h"
#include "host/shim_image.h"
#include "tap.h"

#define RW_NX (KEEP_PTE_P | KEEP_PTE_W | KEEP_PTE_NX)

static uint64_t perms(const struct keep_kvm_layout *l, const uint8_t *mem, uint64_t va,
                      bool *mapped)
{
    uint64_t pa = 0, flags = 0;
    *mapped = keep_kvm_layout_walk(l, mem, va, &pa, &flags);
    if (*mapped && pa != va)
        return ~0ull; /* identity map broken */
    return flags;
}

#define EXPECT(va, want, what)                                                            \
    do {                                                                                  \
        bool m_;                                                                          \
        uint64_t f_ = perms(&l, mem, (va), &m_);                                          \
        ok(m_ &&f_ == (want), "%s (%#llx): flags %#llx, want %#llx", what,                \
           (unsigned long long)(va), (unsigned long long)f_, (unsigned long long)(want)); \
    } while (0)
#define UNMAPPED(va, what)                                                   \
    do {                                                                     \
        bool m_;                                                             \
        perms(&l, mem, (va), &m_);                                           \
        ok(!m_, "%s (%#llx) is not mapped", what, (unsigned long long)(va)); \
    } while (0)

static void test_plan(void)
{
    struct keep_kvm_layout l;
    struct keep_error err;
    is_int(keep_kvm_layout_plan(1 << 20, &l, &err), KEEP_E_KVM_MEMORY_SIZE, "1 MiB is too small");
    is_int(keep_kvm_layout_plan((64ull << 20) + 1, &l, &err), KEEP_E_KVM_MEMORY_SIZE,
           "unaligned size rejected");
    is_int(keep_kvm_layout_plan(128ull << 30, &l, &err), KEEP_E_KVM_MEMORY_SIZE,
           "128 GiB rejected");
    is_int(keep_kvm_layout_plan(60ull << 30, &l, &err), KEEP_OK, "60 GiB planned");
    ok(l.pt_base >= l.workload_end && l.pd_count * (1ull << 30) >= l.guest_size,
       "directories cover the tables themselves (%llu GiB)", (unsigned long long)l.pd_count);
    ok((l.ptes - l.pt_base) + (l.pte_span / 4096) * 8 <= l.pt_size, "PTEs fit the table region");
    ok(l.pd - l.pml4 + l.pd_count * 4096 <= KEEP_PT_COUNTS &&
           KEEP_PT_COUNTS + l.pte_span / (2ull << 20) * 2 <= KEEP_PT_TABLES,
       "directories and chunk counts fit before the tables");
    ok(l.workload_end >= 2 * l.memory_size, "the address space is at least twice --memory");
    ok(l.guest_size / KEEP_GUEST_SLOT < sizeof(((struct keep_mm_state *)0)->backed) * 8,
       "every slot has a bit in keep_mm_state.backed");
}

static void test_build(void)
{
    struct keep_kvm_layout l;
    struct keep_error err;
    struct keep_shim_header hdr;
    const uint8_t *shim;
    size_t shim_size;
    is_int(keep_kvm_layout_plan(64ull << 20, &l, &err), KEEP_OK, "64 MiB planned");
    uint8_t *mem = mmap(NULL, l.guest_size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ok(mem != MAP_FAILED, "guest memory");
    keep_shim_image(&shim, &shim_size);
    is_int(keep_kvm_layout_place_shim(mem, shim, shim_size, &hdr, &err), KEEP_OK,
           "the embedded shim's header checks out");
    uint8_t bad[64] = {0};
    struct keep_shim_header bad_hdr;
    is_int(keep_kvm_layout_place_shim(mem, bad, sizeof(bad), &bad_hdr, &err), KEEP_E_KVM_SHIM_IMAGE,
           "a blob without the magic is refused");
    keep_kvm_layout_build(&l, mem, &hdr);

    UNMAPPED(0, "the null page");
    EXPECT(KEEP_GUEST_GDT, RW_NX, "GDT: supervisor");
    EXPECT(KEEP_GUEST_IDT, KEEP_PTE_P | KEEP_PTE_NX, "IDT: supervisor read-only");
    EXPECT(KEEP_GUEST_TSS + 0x2000, RW_NX, "TSS I/O bitmap: supervisor");
    EXPECT(KEEP_GUEST_BOOT, RW_NX | KEEP_PTE_U, "boot page: user");
    EXPECT(KEEP_GUEST_STACK0, RW_NX, "CPL0 stack: supervisor");
    EXPECT(KEEP_GUEST_CHANNEL + 0xf000, RW_NX | KEEP_PTE_U, "channel: user");
    EXPECT(hdr.syscall_entry, KEEP_PTE_P | KEEP_PTE_U, "shim text: user read-exec");
    EXPECT(hdr.text_end, RW_NX | KEEP_PTE_U, "shim data: user no-exec");
    UNMAPPED(hdr.bss_end, "past the shim");
    /* Workload pages are mapped on demand: the host maps only what it loads (below). */
    UNMAPPED(l.workload_base, "workload start before loading");
    UNMAPPED(l.workload_end - 1, "workload end before loading");
    ok(l.workload_end - l.workload_base >= 16 * l.memory_size,
       "the address space (%llu GiB) is far larger than --memory (%llu MiB)",
       (unsigned long long)(l.workload_end >> 30), (unsigned long long)(l.memory_size >> 20));
    const struct keep_mm_state *st = keep_kvm_layout_state(&l, mem);
    is_int(st->pages_in_use, 0, "no workload page in use after build");
    is_int(st->page_limit, l.memory_size / 4096, "the page limit is --memory");
    ok((st->backed[0] & 1) &&
           (st->backed[l.pt_base / KEEP_GUEST_SLOT / 64] >> (l.pt_base / KEEP_GUEST_SLOT % 64)) & 1,
       "the low region's and the tables' slots are backed");
    EXPECT(l.workload_end, RW_NX, "right after the workload: the page tables, supervisor");
    UNMAPPED(l.guest_size, "past the page tables");
    EXPECT(l.pml4, RW_NX, "page tables: supervisor (2 MiB pages)");

    /* GDT: the selectors the vCPU uses and STAR implies. */
    uint64_t ucode, udata, kcode;
    memcpy(&ucode, mem + KEEP_GUEST_GDT + (KEEP_SEL_UCODE & ~3), 8);
    memcpy(&udata, mem + KEEP_GUEST_GDT + (KEEP_SEL_UDATA & ~3), 8);
    memcpy(&kcode, mem + KEEP_GUEST_GDT + KEEP_SEL_KCODE, 8);
    is_int((ucode >> 45) & 3, 3, "user code DPL 3");
    ok((ucode >> 53) & 1, "user code is 64-bit (L)");
    is_int((udata >> 45) & 3, 3, "user data DPL 3");
    is_int((kcode >> 45) & 3, 0, "kernel code DPL 0");
    is_int(KEEP_SEL_UDATA & ~3, (0x10 + 8), "SYSRET SS = STAR[63:48] + 8");
    is_int(KEEP_SEL_UCODE & ~3, (0x10 + 16), "SYSRET CS = STAR[63:48] + 16");

    /* IDT: #PF goes to the shim's handler on IST1, #BP is reachable from CPL3. */
    uint64_t gate[2];
    memcpy(gate, mem + KEEP_GUEST_IDT + 14 * 16, 16);
    uint64_t target = (gate[0] & 0xffff) | ((gate[0] >> 32) & 0xffff0000) | (gate[1] << 32);
    is_int(target, hdr.exception_entry[14], "#PF gate target");
    is_int((gate[0] >> 32) & 7, 1, "#PF uses IST1");
    is_int((gate[0] >> 45) & 3, 0, "#PF gate DPL 0");
    memcpy(gate, mem + KEEP_GUEST_IDT + 3 * 16, 16);
    is_int((gate[0] >> 45) & 3, 3, "#BP gate DPL 3");

    /* TSS I/O bitmap: only the four bytes of KEEP_PORT are open. */
    const uint8_t *iopb = mem + KEEP_GUEST_TSS + KEEP_TSS_IOPB_OFFSET;
    int open_ports = 0;
    for (unsigned p = 0; p < 65536; p++)
        open_ports += !(iopb[p / 8] & (1u << (p % 8)));
    is_int(open_ports, 4, "four ports open");
    ok(!(iopb[KEEP_PORT / 8] & (1u << (KEEP_PORT % 8))), "KEEP_PORT open");
    is_int(iopb[8192], 0xff, "bitmap terminator byte");

    /* protect() stays inside workload memory. */
    is_int(keep_kvm_layout_protect(&l, mem, KEEP_GUEST_SHIM, 4096, true, KEEP_PTE_W, &err),
           KEEP_E_USAGE, "protect refuses shim pages");
    is_int(keep_kvm_layout_protect(&l, mem, l.workload_end - 4096, 8192, true, 0, &err),
           KEEP_E_USAGE, "protect refuses a range past the workload");
    uint64_t far = l.workload_base + (8ull << 30); /* a chunk with no table yet */
    is_int(keep_kvm_layout_protect(&l, mem, far, 8192, true, KEEP_PTE_W | KEEP_PTE_NX, &err),
           KEEP_OK, "protect maps two pages 8 GiB up");
    EXPECT(far + 4096, RW_NX | KEEP_PTE_U, "the mapped page, read-write no-execute");
    is_int(st->pages_in_use, 2, "two pages in use");
    ok((st->backed[far / KEEP_GUEST_SLOT / 64] >> (far / KEEP_GUEST_SLOT % 64)) & 1,
       "their slot is marked backed");
    is_int(keep_kvm_layout_protect(&l, mem, far + 4096, 4096, false, 0, &err), KEEP_OK,
           "protect unmaps a workload page");
    UNMAPPED(far + 4096, "the unmapped page");
    is_int(st->pages_in_use, 1, "one page in use");
    is_int(keep_kvm_layout_protect(&l, mem, far + 4096, 4096, false, 0, &err), KEEP_OK,
           "unmapping it again");
    is_int(st->pages_in_use, 1, "counts nothing twice");
    munmap(mem, l.guest_size);
}

/*
 * A million empty arguments at --memory 4M: the strings fit the 1 MiB stack,
 * but their 8 MiB of pointers are more than the stack's whole address, so
 * subtracting them must not wrap around into a "fitting" stack pointer.
 */
static void test_loader_argv_too_big(const struct keep_elf *elf)
{
    struct keep_kvm_layout l;
    struct keep_error err;
    struct keep_shim_header hdr;
    struct keep_kvm_image im;
    const uint8_t *shim;
    size_t shim_size, argc = 1000000;
    const char **argv = malloc(argc * sizeof(*argv));
    for (size_t i = 0; i < argc; i++)
        argv[i] = "";
    must_ok(keep_kvm_layout_plan(4ull << 20, &l, &err));
    uint8_t *mem = mmap(NULL, l.guest_size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    keep_shim_image(&shim, &shim_size);
    must_ok(keep_kvm_layout_place_shim(mem, shim, shim_size, &hdr, &err));
    keep_kvm_layout_build(&l, mem, &hdr);
    struct keep_kvm_process proc = {.argv = argv, .argc = argc};
    is_int(keep_kvm_load(&l, mem, elf, &proc, &im, &err), KEEP_E_KVM_STACK,
           "a million arguments at --memory 4M: %s", err.message);
    munmap(mem, l.guest_size);
    free(argv);
}

/* A minimal static program: text RX at 0x400000, data RW + .bss, through the real loader. */
static void test_loader(void)
{
    static uint8_t img[0x3000];
    struct keep_kvm_layout l;
    struct keep_error err;
    struct keep_elf elf;
    struct keep_shim_header hdr;
    const uint8_t *shim;
    size_t shim_size;
    memset(img, 0, sizeof(img));
    memcpy(img,
           "\x7f"
           "ELF\x02\x01\x01",
           7);
    uint16_t h16[] = {2, 62};
    memcpy(img + 16, h16, 4);
    uint32_t one = 1;
    memcpy(img + 20, &one, 4);
    uint64_t entry = 0x401000, phoff = 64;
    memcpy(img + 24, &entry, 8);
    memcpy(img + 32, &phoff, 8);
    uint16_t sizes[] = {64, 56, 2};
    memcpy(img + 52, sizes, 6);
    uint64_t text[] = {1 | (5ull << 32), 0, 0x400000, 0x400000, 0x2000, 0x2000, 0x1000};
    uint64_t data[] = {1 | (6ull << 32), 0x2000, 0x402000, 0x402000, 0x10, 0x3000, 0x1000};
    memcpy(img + 64, text, sizeof(text));
    memcpy(img + 120, data, sizeof(data));
    memset(img + 0x2000, 0xaa, 0x1000); /* bytes past p_filesz that must not show in .bss */
    is_int(keep_elf_parse(img, sizeof(img), &elf, &err), KEEP_OK, "crafted program parses");

    must_ok(keep_kvm_layout_plan(32ull << 20, &l, &err));
    uint8_t *mem = mmap(NULL, l.guest_size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    keep_shim_image(&shim, &shim_size);
    must_ok(keep_kvm_layout_place_shim(mem, shim, shim_size, &hdr, &err));
    keep_kvm_layout_build(&l, mem, &hdr);
    const char *argv[] = {"/prog", "arg1"};
    const char *env[] = {"A=1"};
    struct keep_kvm_process proc = {.argv = argv, .argc = 2, .env = env, .env_count = 1};
    struct keep_kvm_image im;
    is_int(keep_kvm_load(&l, mem, &elf, &proc, &im, &err), KEEP_OK, "loads: %s", err.message);
    EXPECT(0x400000, KEEP_PTE_P | KEEP_PTE_U, "text page: read-exec");
    EXPECT(0x402000, RW_NX | KEEP_PTE_U, "data page: read-write no-exec");
    EXPECT(0x404000, RW_NX | KEEP_PTE_U, ".bss page");
    ok(mem[0x402010] == 0 && mem[0x402fff] == 0, ".bss reads zero past p_filesz");
    is_int(im.brk_start, 0x405000, "brk starts after .bss");
    UNMAPPED(im.mmap_top, "stack guard page");
    is_int(im.stack_low, im.mmap_top + 4096, "stack begins above the guard");
    is_int(im.rsp % 16, 0, "rsp 16-byte aligned at argc");
    uint64_t w[6];
    memcpy(w, mem + im.rsp, sizeof(w));
    is_int(w[0], 2, "argc");
    is_str((const char *)mem + w[1], "/prog", "argv[0]");
    is_str((const char *)mem + w[2], "arg1", "argv[1]");
    is_int(w[3], 0, "argv NULL");
    is_str((const char *)mem + w[4], "A=1", "envp[0]");
    is_int(w[5], 0, "envp NULL");
    uint64_t *aux = (uint64_t *)(void *)(mem + im.rsp + 6 * 8);
    int seen = 0;
    for (; aux[0] != 0; aux += 2) {
        if (aux[0] == 3)
            seen += aux[1] == 0x400040; /* AT_PHDR */
        if (aux[0] == 9)
            seen += aux[1] == entry; /* AT_ENTRY */
        if (aux[0] == 6)
            seen += aux[1] == 4096; /* AT_PAGESZ */
        if (aux[0] == 25)
            seen += aux[1] > im.rsp && aux[1] + 16 <= l.workload_end; /* AT_RANDOM */
    }
    is_int(seen, 4, "auxv has AT_PHDR, AT_ENTRY, AT_PAGESZ, AT_RANDOM with the right values");
    EXPECT(im.rsp & ~4095ull, RW_NX | KEEP_PTE_U, "the stack page the loader wrote is mapped");
    EXPECT((im.rsp & ~4095ull) - KEEP_KVM_STACK_PREMAP, RW_NX | KEEP_PTE_U,
           "and the 64 KiB below it");
    UNMAPPED((im.rsp & ~4095ull) - KEEP_KVM_STACK_PREMAP - 4096, "but not more");
    UNMAPPED(im.stack_low, "the rest of the stack waits for the first touch");
    uint64_t want = 5 + (l.workload_end - (im.rsp & ~4095ull) + KEEP_KVM_STACK_PREMAP) / 4096;
    is_int(keep_kvm_layout_state(&l, mem)->pages_in_use, want,
           "pages in use: the image and the written stack pages");
    /* What the host lets a direct-path buffer cover: pages in use only. */
    ok(keep_kvm_layout_in_use(&l, mem, 0x400000, 0x5000), "the loaded image is in use");
    ok(keep_kvm_layout_in_use(&l, mem, 0x404ff0, 0x10), "a buffer ending on its last byte");
    ok(!keep_kvm_layout_in_use(&l, mem, 0x404ff0, 0x11), "but not one byte past it");
    ok(!keep_kvm_layout_in_use(&l, mem, im.brk_start, 1), "the untouched heap is not");
    ok(!keep_kvm_layout_in_use(&l, mem, im.stack_low, 4096), "nor the untouched stack");
    ok(!keep_kvm_layout_in_use(&l, mem, KEEP_GUEST_SHIM, 4096), "nor the shim (not workload)");
    ok(!keep_kvm_layout_in_use(&l, mem, l.pml4, 8), "nor the page tables");
    ok(!keep_kvm_layout_in_use(&l, mem, 0x400000, 0), "nor an empty range");
    ok(!keep_kvm_layout_in_use(&l, mem, l.workload_end - 4096, ~0ull), "nor a wrapping one");
    munmap(mem, l.guest_size);
    test_loader_argv_too_big(&elf);
}

int main(void)
{
    test_plan();
    test_build();
    test_loader();
    return done_testing();
}
