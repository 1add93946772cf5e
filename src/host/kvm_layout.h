/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's memory layout and the structures the host builds in it before
 * the vCPU runs: identity-mapped 4-level page tables, the GDT, the IDT and
 * the TSS with its I/O permission bitmap. The fixed addresses are in
 * src/common/shim_abi.h; docs/KEEP.md, "Memory layout", explains the choices.
 *
 * Everything here writes into a plain host buffer that stands for guest
 * physical memory from address 0, so the unit test can build a layout and
 * walk the page tables the same way the CPU will (tests/unit/test_kvm_layout.c).
 */
#ifndef KEEP_HOST_KVM_LAYOUT_H
#define KEEP_HOST_KVM_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keep/error.h"
#include "common/shim_abi.h"

#define KEEP_KVM_MIN_MEMORY (4ull << 20)  /* smallest --memory the layout accepts */
#define KEEP_KVM_MAX_MEMORY (64ull << 30) /* largest --memory (the span is twice that) */

struct keep_kvm_layout {
    uint64_t memory_size;   /* --memory: the most bytes of workload pages in use, page aligned */
    uint64_t workload_base; /* KEEP_GUEST_WORKLOAD */
    uint64_t workload_end;  /* KEEP_GUEST_SPAN(memory_size): end of the workload address space */
    uint64_t pt_base;       /* page-table region: right after the workload address space */
    uint64_t pt_size;       /* bytes, a multiple of 2 MiB */
    uint64_t pml4, pdpt;    /* guest addresses of the top two levels */
    uint64_t state;         /* struct keep_mm_state */
    uint64_t pd;            /* first of pd_count page directories (1 GiB each), contiguous */
    uint64_t pd_count;
    uint64_t counts;     /* u16 per 2 MiB chunk of [0, pte_span): workload pages in use */
    uint64_t ptes;       /* 4 KiB PTEs for [0, pte_span): entry i maps address i << 12 */
    uint64_t pte_span;   /* bytes of address space covered by PTEs: workload_end */
    uint64_t guest_size; /* bytes of guest physical address space: pt_base + pt_size */
};

/*
 * True when every page of [addr, addr + len) (len > 0) lies in the workload
 * address space and is present in the guest's page tables, read from the
 * tables themselves (supervisor pages: only the shim's CPL0 code and the
 * host write them), never from anything the workload can write.
 */
bool keep_kvm_layout_in_use(const struct keep_kvm_layout *l, const uint8_t *mem, uint64_t addr,
                            uint64_t len);

/* Plan the layout for memory_size bytes of workload memory. */
KEEP_WARN_UNUSED int keep_kvm_layout_plan(uint64_t memory_size, struct keep_kvm_layout *out,
                                          struct keep_error *err);

/*
 * Check the shim image (untrusted only in the sense that a build bug must
 * not become a guest crash) and copy it to KEEP_GUEST_SHIM.
 */
KEEP_WARN_UNUSED int keep_kvm_layout_place_shim(uint8_t *mem, const uint8_t *image,
                                                size_t image_size, struct keep_shim_header *hdr,
                                                struct keep_error *err);

/*
 * Build page tables, GDT, IDT and TSS into mem (the host mapping of guest
 * physical address 0, guest_size bytes, zero-filled, populated lazily). Only
 * the fixed low region and the tables' own head are mapped; workload pages
 * are mapped by the loader (keep_kvm_layout_protect: its segments and the
 * stack it wrote) and, after boot, by the shim on first touch.
 */
void keep_kvm_layout_build(const struct keep_kvm_layout *l, uint8_t *mem,
                           const struct keep_shim_header *hdr);

/*
 * Set the PTEs of [start, start + size) (page aligned, inside the workload)
 * to present user pages with the given KEEP_PTE_W / KEEP_PTE_NX bits, or
 * not present when present is false, keeping the mm state's page counts
 * (pages_in_use, per-chunk counts) and the directory entries true.
 */
KEEP_WARN_UNUSED int keep_kvm_layout_protect(const struct keep_kvm_layout *l, uint8_t *mem,
                                             uint64_t start, uint64_t size, bool present,
                                             uint64_t flags, struct keep_error *err);

/*
 * Walk the page tables as the CPU does (Intel SDM vol 3, 4.5): translate a
 * virtual address and return the effective permissions (P, W and U ANDed
 * over the levels, NX ORed). false when not mapped.
 */
bool keep_kvm_layout_walk(const struct keep_kvm_layout *l, const uint8_t *mem, uint64_t va,
                          uint64_t *pa, uint64_t *flags);

/* The frame-pool state in mem (inside the table region). */
struct keep_mm_state *keep_kvm_layout_state(const struct keep_kvm_layout *l, uint8_t *mem);

/* Guest physical / virtual address of the TSS I/O bitmap and the TSS limit. */
#define KEEP_TSS_IOPB_OFFSET 104u
#define KEEP_TSS_LIMIT       (KEEP_TSS_IOPB_OFFSET + 8192u) /* bitmap + the final 0xff byte */
/*
 * vCPU 0's TSS is at KEEP_GUEST_TSS with the I/O bitmap after it; the TSSs
 * of vCPUs 1.. sit in the GDT page's upper half and point (iomap base) at
 * the same bitmap, so each vCPU has its own IST1 stack and one bitmap serves all.
 */
#define KEEP_TSS_EXTRA 0x1800u /* guest address of vCPU 1's TSS; 128 bytes apart */
uint64_t keep_kvm_tss_base(int vcpu);
uint32_t keep_kvm_tss_limit(int vcpu);

#endif /* KEEP_HOST_KVM_LAYOUT_H */
