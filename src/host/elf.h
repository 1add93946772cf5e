/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ELF64 checks for the programs `keep run` executes and `keep measure`
 * hashes. The image is untrusted input: it is read only through the cursor,
 * and every offset and size is range-checked against the file.
 *
 * keep_elf_parse() accepts exactly what the kvm backend can load: a
 * little-endian ELF64 x86-64 executable that is static (ET_EXEC) or
 * static-pie (ET_DYN without PT_INTERP and without DT_NEEDED), with PT_LOAD
 * segments that lie inside the file, are sorted, do not overlap and keep
 * p_offset and p_vaddr congruent modulo the page size (System V ABI, AMD64
 * supplement, section 5.1). Each violation has its own error code
 * (include/keep/errors/kvm.def, "elf.*").
 *
 * keep_elf_check_fits() is the policy half: does the loaded image fit the
 * workload memory the Keep was given (--memory)?
 */
#ifndef KEEP_HOST_ELF_H
#define KEEP_HOST_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keep/error.h"

#define KEEP_ELF_MAX_SEGMENTS 16 /* PT_LOAD segments; static binaries have 2..5 */
#define KEEP_ELF_PAGE_SIZE    4096u

/* Segment permission bits (ELF p_flags). */
#define KEEP_ELF_PF_X 1u
#define KEEP_ELF_PF_W 2u
#define KEEP_ELF_PF_R 4u

struct keep_elf_segment {
    uint64_t file_offset; /* p_offset */
    uint64_t file_size;   /* p_filesz: bytes copied from the file */
    uint64_t vaddr;       /* p_vaddr, before the static-pie load bias */
    uint64_t mem_size;    /* p_memsz >= file_size; the rest is zero (.bss) */
    uint32_t flags;       /* KEEP_ELF_PF_* */
};

struct keep_elf {
    const uint8_t *image; /* the whole file (not owned) */
    size_t image_size;
    bool pie;             /* ET_DYN static-pie: loaded at a bias chosen by the loader */
    uint64_t entry;       /* e_entry, before the bias */
    uint64_t phdr_offset; /* e_phoff */
    uint16_t phdr_count;  /* e_phnum */
    uint16_t phdr_entry_size;
    /*
     * Where the program headers are in the loaded image (before the bias), for
     * AT_PHDR: PT_PHDR's p_vaddr, else the PT_LOAD segment that covers
     * e_phoff. 0 when no segment maps them (then AT_PHDR points at a copy the
     * loader places on the stack).
     */
    uint64_t phdr_vaddr;
    uint64_t min_vaddr; /* first PT_LOAD p_vaddr, rounded down to a page */
    uint64_t max_vaddr; /* end of the last PT_LOAD (vaddr + memsz), rounded up to a page */
    uint64_t tls_align; /* PT_TLS p_align, 0 without PT_TLS */
    bool exec_stack;    /* PT_GNU_STACK asks for an executable stack */
    struct keep_elf_segment segments[KEEP_ELF_MAX_SEGMENTS];
    size_t segment_count;
};

/*
 * Parse and check image (size bytes). out->image points into image, which
 * must outlive out.
 */
KEEP_WARN_UNUSED int keep_elf_parse(const uint8_t *image, size_t size, struct keep_elf *out,
                                    struct keep_error *err);

/* Bytes of address space the PT_LOAD segments span, page aligned. */
static inline uint64_t keep_elf_span(const struct keep_elf *elf)
{
    return elf->max_vaddr - elf->min_vaddr;
}

/*
 * Policy: the image must fit in memory_size bytes of workload memory that
 * start at guest address base, with at least reserve_size bytes left over
 * for the stack and heap. For ET_EXEC the segments must lie inside
 * [base, base + memory_size); static-pie is placed at base.
 */
KEEP_WARN_UNUSED int keep_elf_check_fits(const struct keep_elf *elf, uint64_t base,
                                         uint64_t memory_size, uint64_t reserve_size,
                                         struct keep_error *err);

#endif /* KEEP_HOST_ELF_H */
