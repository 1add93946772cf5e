/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest layout, page tables and descriptor tables (Intel SDM vol 3:
 * 3.4.5 segment descriptors, 4.5 4-level paging, 6.14 64-bit IDT gates,
 * 7.7 64-bit TSS, 19.5.2 I/O permission bit map).
 */
#include "host/kvm_layout.h"

#include <string.h>

#include "common/cursor.h"

#define PAGE          4096ull
#define MIB2          (2ull << 20)
#define GIB1          (1ull << 30)
#define ROUNDUP(x, a) (((x) + (a)-1) & ~((a)-1))

static inline uint64_t *u64_at(uint8_t *mem, uint64_t gpa)
{
    return (uint64_t *)(void *)(mem + gpa);
}

int keep_kvm_layout_plan(uint64_t memory_size, struct keep_kvm_layout *out, struct keep_error *err)
{
    memset(out, 0, sizeof(*out));
    if (memory_size < KEEP_KVM_MIN_MEMORY || memory_size > KEEP_KVM_MAX_MEMORY ||
        memory_size % PAGE)
        return keep_fail(err, KEEP_E_KVM_MEMORY_SIZE,
                         "--memory is %llu bytes; the kvm backend takes %llu MiB to %llu GiB in "
                         "whole 4 KiB pages",
                         (unsigned long long)memory_size, KEEP_KVM_MIN_MEMORY >> 20,
                         KEEP_KVM_MAX_MEMORY >> 30);
    out->memory_size = memory_size;
    out->workload_base = KEEP_GUEST_WORKLOAD;
    out->workload_end = KEEP_GUEST_SPAN(memory_size);
    out->pte_span = out->workload_end;
    out->pt_base = out->workload_end;
    /* One 4 KiB table per 2 MiB of the span, at a fixed place: no allocator at CPL0. */
    out->pt_size = KEEP_PT_TABLES + out->pte_span / MIB2 * PAGE;
    out->guest_size = out->pt_base + out->pt_size;
    out->pml4 = out->pt_base;
    out->pdpt = out->pml4 + KEEP_PT_PDPT;
    out->state = out->pml4 + KEEP_PT_STATE;
    out->pd = out->pml4 + KEEP_PT_PD;
    out->pd_count = ROUNDUP(out->guest_size, GIB1) / GIB1;
    out->counts = out->pml4 + KEEP_PT_COUNTS;
    out->ptes = out->pml4 + KEEP_PT_TABLES;
    return KEEP_OK;
}

struct keep_mm_state *keep_kvm_layout_state(const struct keep_kvm_layout *l, uint8_t *mem)
{
    return (struct keep_mm_state *)(void *)(mem + l->state);
}

bool keep_kvm_layout_in_use(const struct keep_kvm_layout *l, const uint8_t *mem, uint64_t addr,
                            uint64_t len)
{
    if (len == 0 || addr < l->workload_base ||
        !keep_range_ok(addr - l->workload_base, len, l->workload_end - l->workload_base))
        return false;
    const volatile uint64_t *pd = (const volatile uint64_t *)(const void *)(mem + l->pd);
    const volatile uint64_t *pte = (const volatile uint64_t *)(const void *)(mem + l->ptes);
    for (uint64_t va = addr & ~(PAGE - 1); va < addr + len; va += PAGE) {
        uint64_t pde = pd[va / MIB2];
        if (!(pde & KEEP_PTE_P))
            return false;
        if (pde & KEEP_PTE_PS) { /* a 2 MiB page (MADV_HUGEPAGE): all of its chunk */
            va = (va / MIB2 + 1) * MIB2 - PAGE;
            continue;
        }
        if (!(pte[va / PAGE] & KEEP_PTE_P))
            return false; /* not in use, or PROT_NONE (KEEP_PTE_KEPT) */
    }
    return true;
}

static void mark_backed(const struct keep_kvm_layout *l, uint8_t *mem, uint64_t gpa)
{
    uint64_t slot = gpa / KEEP_GUEST_SLOT;
    keep_kvm_layout_state(l, mem)->backed[slot / 64] |= 1ull << (slot % 64);
}

static uint16_t *chunk_count(const struct keep_kvm_layout *l, uint8_t *mem, uint64_t va)
{
    return (uint16_t *)(void *)(mem + l->counts + (va / MIB2) * 2);
}

/* The PTE of va, giving its 2 MiB chunk its table first (as the shim does on first touch). */
static uint64_t *pte_of(const struct keep_kvm_layout *l, uint8_t *mem, uint64_t va)
{
    const uint64_t table = KEEP_PTE_P | KEEP_PTE_W | KEEP_PTE_U | KEEP_PTE_A;
    uint64_t *pde = u64_at(mem, l->pd + (va / MIB2) * 8);
    uint64_t pt = l->ptes + (va / MIB2) * PAGE;
    if (!(*pde & KEEP_PTE_P)) {
        *pde = pt | table;
        mark_backed(l, mem, pt);
    }
    return u64_at(mem, pt + ((va / PAGE) % 512) * 8);
}

int keep_kvm_layout_place_shim(uint8_t *mem, const uint8_t *image, size_t image_size,
                               struct keep_shim_header *hdr, struct keep_error *err)
{
    struct keep_cursor c;
    uint64_t *words = (uint64_t *)hdr;
    keep_cursor_init(&c, image, image_size);
    for (size_t i = 0; i < sizeof(*hdr) / 8; i++) {
        if (keep_cursor_u64(&c, "shim header", &words[i], err))
            return KEEP_E_KVM_SHIM_IMAGE;
    }
    if (hdr->magic != KEEP_SHIM_MAGIC || image_size > KEEP_GUEST_SHIM_MAX)
        return keep_fail(err, KEEP_E_KVM_SHIM_IMAGE,
                         "the embedded shim image (%zu bytes, magic %#llx) is not a shim of at "
                         "most %llu bytes: the build is broken",
                         image_size, (unsigned long long)hdr->magic, KEEP_GUEST_SHIM_MAX);
    uint64_t lo = KEEP_GUEST_SHIM, hi = KEEP_GUEST_SHIM + image_size;
    bool ok = hdr->text_end > lo && hdr->text_end <= hdr->bss_end &&
              hdr->bss_end <= KEEP_GUEST_SHIM + KEEP_GUEST_SHIM_MAX && hdr->text_end % PAGE == 0 &&
              hdr->bss_end % PAGE == 0 && hdr->syscall_entry >= lo &&
              hdr->syscall_entry < hdr->text_end && hdr->signal_entry >= lo &&
              hdr->signal_entry < hdr->text_end &&
              hdr->cpu_block_size == sizeof(struct keep_shim_cpu) &&
              hdr->cpu_blocks >= hdr->text_end && hdr->cpu_blocks % PAGE == 0 &&
              hdr->cpu_blocks <= hdr->bss_end &&
              KEEP_MAX_VCPUS * sizeof(struct keep_shim_cpu) <= hdr->bss_end - hdr->cpu_blocks;
    for (int v = 0; v < 32; v++)
        ok = ok && hdr->exception_entry[v] >= lo && hdr->exception_entry[v] < hdr->text_end;
    if (!ok || hi > hdr->bss_end)
        return keep_fail(err, KEEP_E_KVM_SHIM_IMAGE,
                         "the embedded shim image's entry points or sections lie outside "
                         "%#llx..%#llx: the build is broken",
                         (unsigned long long)lo, (unsigned long long)hi);
    memcpy(mem + KEEP_GUEST_SHIM, image, image_size);
    return KEEP_OK;
}

static bool in_workload(const struct keep_kvm_layout *l, uint64_t va)
{
    return va >= l->workload_base && va < l->workload_end;
}

/* One page: present with flags, or not in use; counts workload pages in use. */
static void set_page(const struct keep_kvm_layout *l, uint8_t *mem, uint64_t va, bool present,
                     uint64_t flags)
{
    /* A chunk gets a table only for a page in it: the shim knows no other tables (mm.c). */
    if (!present && !(*u64_at(mem, l->pd + (va / MIB2) * 8) & KEEP_PTE_P))
        return;
    uint64_t *pte = pte_of(l, mem, va);
    bool was = (*pte & (KEEP_PTE_P | KEEP_PTE_KEPT)) != 0;
    *pte = present ? va | flags | KEEP_PTE_P | KEEP_PTE_A : 0;
    if (present)
        mark_backed(l, mem, va);
    if (!in_workload(l, va) || was == present)
        return;
    struct keep_mm_state *st = keep_kvm_layout_state(l, mem);
    st->pages_in_use += present ? 1 : (uint64_t)-1;
    *chunk_count(l, mem, va) += present ? 1 : (uint16_t)-1;
}

static void map_4k(const struct keep_kvm_layout *l, uint8_t *mem, uint64_t start, uint64_t size,
                   uint64_t flags)
{
    for (uint64_t a = start; a < start + size; a += PAGE)
        set_page(l, mem, a, true, flags);
}

static void build_page_tables(const struct keep_kvm_layout *l, uint8_t *mem,
                              const struct keep_shim_header *hdr)
{
    const uint64_t table = KEEP_PTE_P | KEEP_PTE_W | KEEP_PTE_U | KEEP_PTE_A;
    const uint64_t sup_rw = KEEP_PTE_W | KEEP_PTE_NX | KEEP_PTE_D;
    const uint64_t user_rw = sup_rw | KEEP_PTE_U;
    struct keep_mm_state *st = keep_kvm_layout_state(l, mem);
    st->page_limit = l->memory_size / PAGE;
    st->guest_size = l->guest_size;
    /* The tables' head (PML4 .. the first chunk tables) and the low region exist from the start. */
    mark_backed(l, mem, l->pt_base);
    mark_backed(l, mem, 0);
    *u64_at(mem, l->pml4) = l->pdpt | table;
    for (uint64_t i = 0; i < l->pd_count; i++)
        *u64_at(mem, l->pdpt + i * 8) = (l->pd + i * PAGE) | table;
    /* The table region itself: 2 MiB supervisor pages (only its touched parts cost memory). */
    for (uint64_t a = l->pt_base; a < l->pt_base + l->pt_size; a += MIB2)
        *u64_at(mem, l->pd + (a / MIB2) * 8) = a | KEEP_PTE_P | KEEP_PTE_PS | KEEP_PTE_A | sup_rw;
    /*
     * The GDT is writable: the CPU sets accessed and busy bits in it. The
     * shim's pages are user pages because under PVM its SYSCALL entry runs
     * at CPL3 (docs/KEEP.md, "Entering the shim").
     */
    map_4k(l, mem, KEEP_GUEST_GDT, PAGE, sup_rw);
    map_4k(l, mem, KEEP_GUEST_IDT, PAGE, KEEP_PTE_NX);
    map_4k(l, mem, KEEP_GUEST_TSS, KEEP_GUEST_TSS_SIZE, sup_rw);
    map_4k(l, mem, KEEP_GUEST_BOOT, PAGE, user_rw);
    map_4k(l, mem, KEEP_GUEST_STACK0, KEEP_GUEST_STACK0_SIZE, sup_rw);
    map_4k(l, mem, KEEP_GUEST_NMI_STACK, PAGE, sup_rw);
    map_4k(l, mem, KEEP_GUEST_CHANNEL, KEEP_GUEST_CHANNEL_SIZE, user_rw);
    map_4k(l, mem, KEEP_GUEST_SHIM_STACK, KEEP_GUEST_SHIM_STACK_SIZE, user_rw);
    /* The channels of vCPUs 1.. (vCPU 0's is KEEP_GUEST_CHANNEL). */
    map_4k(l, mem, KEEP_GUEST_CHANNELS, (KEEP_MAX_VCPUS - 1) * KEEP_GUEST_CHANNEL_SIZE, user_rw);
    map_4k(l, mem, KEEP_GUEST_SHIM, hdr->text_end - KEEP_GUEST_SHIM, KEEP_PTE_U);
    map_4k(l, mem, hdr->text_end, hdr->bss_end - hdr->text_end, user_rw);
}

static uint64_t segment(uint64_t type_flags)
{
    /* base 0, limit 0xfffff; type_flags holds bits 40..55 (type, S, DPL, P, AVL, L, D/B, G). */
    return 0xffffull | (0xfull << 48) | type_flags;
}

static void build_gdt(uint8_t *mem)
{
    uint64_t *gdt = u64_at(mem, KEEP_GUEST_GDT);
    gdt[KEEP_SEL_KCODE / 8] = segment(0x00a09b0000000000ull); /* P, DPL0, code RX accessed, L, G */
    gdt[KEEP_SEL_KDATA / 8] = segment(0x00c0930000000000ull); /* P, DPL0, data RW accessed */
    gdt[KEEP_SEL_UDATA / 8] = segment(0x00c0f30000000000ull); /* P, DPL3, data RW accessed */
    gdt[KEEP_SEL_UCODE / 8] = segment(0x00a0fb0000000000ull); /* P, DPL3, code RX accessed, L */
    for (int v = 0; v < KEEP_MAX_VCPUS; v++) {
        uint64_t base = keep_kvm_tss_base(v), limit = keep_kvm_tss_limit(v);
        uint64_t *d = gdt + KEEP_SEL_TSS / 8 + 2 * v;
        /* 64-bit TSS descriptor, type 0xb (busy: KVM_SET_SREGS loads TR directly), P. */
        d[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x8bull << 40) |
               (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
        d[1] = base >> 32;
    }
}

uint64_t keep_kvm_tss_base(int vcpu)
{
    return vcpu == 0 ? KEEP_GUEST_TSS : KEEP_TSS_EXTRA + (uint64_t)(vcpu - 1) * 128;
}

uint32_t keep_kvm_tss_limit(int vcpu)
{
    return (uint32_t)(KEEP_GUEST_TSS + KEEP_TSS_LIMIT - keep_kvm_tss_base(vcpu));
}

static void idt_gate(uint8_t *mem, int vector, uint64_t handler, int dpl, int ist)
{
    uint64_t *g = u64_at(mem, KEEP_GUEST_IDT + (uint64_t)vector * 16);
    /* 64-bit interrupt gate, type 0xe: IF cleared on entry. */
    g[0] = (handler & 0xffff) | ((uint64_t)KEEP_SEL_KCODE << 16) | ((uint64_t)ist << 32) |
           ((uint64_t)(0x8e | (dpl << 5)) << 40) | (((handler >> 16) & 0xffff) << 48);
    g[1] = handler >> 32;
}

static void build_idt(uint8_t *mem, const struct keep_shim_header *hdr)
{
    for (int v = 0; v < 32; v++) {
        /* #BP and #OF are raised by int3/into at CPL3, so their gates allow DPL3. */
        int dpl = (v == 3 || v == 4) ? 3 : 0;
        /* The NMI (a TLB shootdown) may arrive inside another handler: its own stack, IST2. */
        idt_gate(mem, v, hdr->exception_entry[v], dpl, v == 2 ? 2 : 1);
    }
}

static void build_tss(uint8_t *mem)
{
    uint8_t *tss = mem + KEEP_GUEST_TSS;
    for (int v = 0; v < KEEP_MAX_VCPUS; v++) {
        uint8_t *t = mem + keep_kvm_tss_base(v);
        /* vCPU v's CPL0 stack: the v-th slice from the top of KEEP_GUEST_STACK0. */
        uint64_t stack0_top =
            KEEP_GUEST_STACK0 + KEEP_GUEST_STACK0_SIZE - (uint64_t)v * KEEP_VCPU_STACK0_SIZE;
        memcpy(t + 4, &stack0_top, 8);  /* RSP0: stack for CPL3 -> CPL0 */
        memcpy(t + 36, &stack0_top, 8); /* IST1: exceptions, whatever the stack was */
        uint64_t nmi_top = KEEP_GUEST_NMI_STACK + (uint64_t)(v + 1) * (PAGE / KEEP_MAX_VCPUS);
        memcpy(t + 44, &nmi_top, 8); /* IST2: the NMI (SDM vol 3, 8.7 64-bit TSS) */
        uint16_t iopb = (uint16_t)(KEEP_GUEST_TSS + KEEP_TSS_IOPB_OFFSET - keep_kvm_tss_base(v));
        memcpy(t + 102, &iopb, 2);
    }
    /*
     * I/O bitmap: every port denied except the four bytes a 32-bit OUT to
     * KEEP_PORT touches (SDM vol 1, 19.5.2), so the CPL3 shim can reach the
     * host without IOPL=3, which would also hand the workload cli/sti.
     */
    memset(tss + KEEP_TSS_IOPB_OFFSET, 0xff, 8192 + 1);
    for (unsigned p = KEEP_PORT; p < KEEP_PORT + 4; p++)
        tss[KEEP_TSS_IOPB_OFFSET + p / 8] &= (uint8_t) ~(1u << (p % 8));
}

void keep_kvm_layout_build(const struct keep_kvm_layout *l, uint8_t *mem,
                           const struct keep_shim_header *hdr)
{
    build_page_tables(l, mem, hdr);
    build_gdt(mem);
    build_idt(mem, hdr);
    build_tss(mem);
}

int keep_kvm_layout_protect(const struct keep_kvm_layout *l, uint8_t *mem, uint64_t start,
                            uint64_t size, bool present, uint64_t flags, struct keep_error *err)
{
    if (start % PAGE || size % PAGE || start < l->workload_base ||
        !keep_range_ok(start - l->workload_base, size, l->workload_end - l->workload_base))
        return keep_fail(err, KEEP_E_USAGE,
                         "protect %#llx+%#llx: not page aligned inside workload memory "
                         "%#llx..%#llx",
                         (unsigned long long)start, (unsigned long long)size,
                         (unsigned long long)l->workload_base, (unsigned long long)l->workload_end);
    for (uint64_t a = start; a < start + size; a += PAGE)
        set_page(l, mem, a, present, KEEP_PTE_U | (flags & (KEEP_PTE_W | KEEP_PTE_NX)));
    return KEEP_OK;
}

bool keep_kvm_layout_walk(const struct keep_kvm_layout *l, const uint8_t *mem, uint64_t va,
                          uint64_t *pa, uint64_t *flags)
{
    uint64_t table = l->pml4, eff = KEEP_PTE_P | KEEP_PTE_W | KEEP_PTE_U, nx = 0;
    for (int level = 3; level >= 0; level--) {
        uint64_t index = (va >> (12 + 9 * level)) & 511, entry;
        if (!keep_range_ok(table, PAGE, l->guest_size))
            return false;
        memcpy(&entry, mem + table + index * 8, 8);
        if (!(entry & KEEP_PTE_P))
            return false;
        eff &= entry & (KEEP_PTE_P | KEEP_PTE_W | KEEP_PTE_U);
        nx |= entry & KEEP_PTE_NX;
        if (level == 1 && (entry & KEEP_PTE_PS)) {
            *pa = (entry & KEEP_PTE_ADDR & ~(MIB2 - 1)) | (va & (MIB2 - 1));
            *flags = eff | nx;
            return true;
        }
        table = entry & KEEP_PTE_ADDR;
    }
    *pa = table | (va & (PAGE - 1));
    *flags = eff | nx;
    return true;
}
