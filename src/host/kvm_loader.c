/* SPDX-License-Identifier: Apache-2.0 */
#include "host/kvm_loader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/cursor.h"
#include "common/util.h"

#define PAGE 4096ull

/* Auxiliary vector tags (Linux include/uapi/linux/auxvec.h, psABI 3.4.3). */
enum {
    AT_NULL = 0,
    AT_PHDR = 3,
    AT_PHENT = 4,
    AT_PHNUM = 5,
    AT_PAGESZ = 6,
    AT_BASE = 7,
    AT_FLAGS = 8,
    AT_ENTRY = 9,
    AT_UID = 11,
    AT_EUID = 12,
    AT_GID = 13,
    AT_EGID = 14,
    AT_PLATFORM = 15,
    AT_HWCAP = 16,
    AT_CLKTCK = 17,
    AT_SECURE = 23,
    AT_RANDOM = 25,
    AT_HWCAP2 = 26,
    AT_EXECFN = 31,
    AT_MINSIGSTKSZ = 51,
};

#define KEEP_UID 1000 /* the workload's fixed identity; the shim answers getuid() alike */

uint64_t keep_kvm_stack_size(uint64_t memory_size)
{
    uint64_t quarter = (memory_size / 4) & ~(PAGE - 1);
    return quarter < KEEP_KVM_STACK_MAX ? quarter : KEEP_KVM_STACK_MAX;
}

static uint64_t page_flags(uint32_t pf)
{
    return ((pf & KEEP_ELF_PF_W) ? KEEP_PTE_W : 0) | ((pf & KEEP_ELF_PF_X) ? 0 : KEEP_PTE_NX);
}

/* Copy the segments and give each page the union of the permissions of the segments on it. */
static int load_segments(const struct keep_kvm_layout *l, uint8_t *mem, const struct keep_elf *elf,
                         uint64_t bias, struct keep_error *err)
{
    uint64_t prev_page = 0, prev_flags = 0;
    for (size_t i = 0; i < elf->segment_count; i++) {
        const struct keep_elf_segment *s = &elf->segments[i];
        uint64_t va = s->vaddr + bias;
        memcpy(mem + va, elf->image + s->file_offset, s->file_size);
        /* The tail of the last file page may hold other sections' bytes: .bss must read zero. */
        memset(mem + va + s->file_size, 0, s->mem_size - s->file_size);
        uint64_t first = va & ~(PAGE - 1), end = (va + s->mem_size + PAGE - 1) & ~(PAGE - 1);
        uint64_t flags = page_flags(s->flags);
        if (first == prev_page && i > 0) {
            uint64_t merged = (flags | prev_flags) & KEEP_PTE_W;
            merged |= (flags & prev_flags) & KEEP_PTE_NX;
            int rc = keep_kvm_layout_protect(l, mem, first, PAGE, true, merged, err);
            if (rc)
                return rc;
            first += PAGE;
        }
        if (first < end) {
            int rc = keep_kvm_layout_protect(l, mem, first, end - first, true, flags, err);
            if (rc)
                return rc;
        }
        prev_page = end - PAGE;
        prev_flags = flags;
    }
    return KEEP_OK;
}

struct stack_builder {
    uint8_t *mem;
    uint64_t low, top; /* guest addresses; top moves down */
    bool overflow;
};

static uint64_t push_bytes(struct stack_builder *b, const void *data, size_t size)
{
    if (b->overflow || size > b->top - b->low) {
        b->overflow = true;
        return 0;
    }
    b->top -= size;
    memcpy(b->mem + b->top, data, size);
    return b->top;
}

static uint64_t push_string(struct stack_builder *b, const char *s)
{
    return push_bytes(b, s, strlen(s) + 1);
}

static int build_stack(const struct keep_kvm_layout *l, uint8_t *mem, const struct keep_elf *elf,
                       const struct keep_kvm_process *proc, uint64_t top,
                       struct keep_kvm_image *out, struct keep_error *err)
{
    struct stack_builder b = {.mem = mem, .low = out->stack_low, .top = top};
    uint8_t random[16];
    if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random))
        return keep_fail(err, KEEP_E_IO, "getrandom for AT_RANDOM failed: %s", strerror(errno));
    uint64_t random_at = push_bytes(&b, random, sizeof(random));
    uint64_t platform_at = push_string(&b, "x86_64");
    uint64_t execfn_at = push_string(&b, proc->argc ? proc->argv[0] : "");
    uint64_t *argv_at = calloc(proc->argc + proc->env_count + 1, sizeof(uint64_t));
    if (!argv_at)
        return keep_fail(err, KEEP_E_NOMEM, "no memory for %zu argument addresses",
                         proc->argc + proc->env_count);
    uint64_t *env_at = argv_at + proc->argc;
    for (size_t i = proc->env_count; i-- > 0;)
        env_at[i] = push_string(&b, proc->env[i]);
    for (size_t i = proc->argc; i-- > 0;)
        argv_at[i] = push_string(&b, proc->argv[i]);
    uint64_t phdr_at = elf->phdr_vaddr + out->bias;
    if (elf->phdr_vaddr == 0) {
        b.top &= ~7ull;
        phdr_at = push_bytes(&b, elf->image + elf->phdr_offset,
                             (size_t)elf->phdr_count * elf->phdr_entry_size);
    }
    const uint64_t auxv[][2] = {
        {AT_PHDR, phdr_at},
        {AT_PHENT, elf->phdr_entry_size},
        {AT_PHNUM, elf->phdr_count},
        {AT_PAGESZ, PAGE},
        {AT_BASE, 0},
        {AT_FLAGS, 0},
        {AT_ENTRY, out->entry},
        {AT_UID, KEEP_UID},
        {AT_EUID, KEEP_UID},
        {AT_GID, KEEP_UID},
        {AT_EGID, KEEP_UID},
        {AT_PLATFORM, platform_at},
        {AT_HWCAP, proc->hwcap},
        {AT_HWCAP2, proc->hwcap2},
        {AT_CLKTCK, 100},
        {AT_SECURE, 0},
        {AT_RANDOM, random_at},
        {AT_EXECFN, execfn_at},
        {AT_MINSIGSTKSZ, proc->minsigstksz},
        {AT_NULL, 0},
    };
    /* argc + argv + NULL + envp + NULL + auxv, ending 16-byte aligned at argc (psABI 3.4.1). */
    size_t words = 1 + proc->argc + 1 + proc->env_count + 1 + 2 * KEEP_ARRAY_LEN(auxv);
    /* Compare before subtracting: more pointers than the stack's address would wrap around. */
    bool fits = !b.overflow && words <= (b.top - b.low) / 8;
    if (fits)
        b.top = (b.top - words * 8) & ~15ull;
    if (!fits || b.top < b.low) {
        free(argv_at);
        return keep_fail(err, KEEP_E_KVM_STACK,
                         "%zu arguments and %zu environment strings need more than the %llu KiB "
                         "stack",
                         proc->argc, proc->env_count,
                         (unsigned long long)((l->workload_end - out->stack_low) >> 10));
    }
    out->rsp = b.top;
    uint64_t *w = (uint64_t *)(void *)(mem + b.top);
    *w++ = proc->argc;
    for (size_t i = 0; i < proc->argc; i++)
        *w++ = argv_at[i];
    *w++ = 0;
    for (size_t i = 0; i < proc->env_count; i++)
        *w++ = env_at[i];
    *w++ = 0;
    memcpy(w, auxv, sizeof(auxv));
    free(argv_at);
    return KEEP_OK;
}

int keep_kvm_load(const struct keep_kvm_layout *l, uint8_t *mem, const struct keep_elf *elf,
                  const struct keep_kvm_process *proc, struct keep_kvm_image *out,
                  struct keep_error *err)
{
    uint64_t stack_size = keep_kvm_stack_size(l->memory_size);
    /* Room for the stack, its guard page and at least 1 MiB of heap. */
    int rc = keep_elf_check_fits(elf, l->workload_base, l->memory_size,
                                 stack_size + PAGE + (1ull << 20), err);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    out->bias = elf->pie ? l->workload_base - elf->min_vaddr : 0;
    out->entry = elf->entry + out->bias;
    out->brk_start = elf->max_vaddr + out->bias;
    out->stack_low = l->workload_end - stack_size;
    out->mmap_top = out->stack_low - PAGE;
    if ((rc = load_segments(l, mem, elf, out->bias, err)))
        return rc;
    /* The guard page: a stack overflow faults instead of running into mmap'd memory. */
    if ((rc = keep_kvm_layout_protect(l, mem, out->mmap_top, PAGE, false, 0, err)))
        return rc;
    if ((rc = build_stack(l, mem, elf, proc, l->workload_end, out, err)))
        return rc;
    /*
     * The pages written here and the 64 KiB below them are mapped (a first touch costs a CPL0
     * fault, hundreds of µs under PVM, and every program uses that much stack); the shim maps
     * the rest of the stack on first touch.
     */
    uint64_t used = (out->rsp & ~(PAGE - 1)) - KEEP_KVM_STACK_PREMAP;
    if (used < out->stack_low)
        used = out->stack_low;
    return keep_kvm_layout_protect(l, mem, used, l->workload_end - used, true,
                                   KEEP_PTE_W | (elf->exec_stack ? 0 : KEEP_PTE_NX), err);
}

/*
 * keep run --steward: the enroller (a static-pie) goes halfway between the
 * workload's break and its mmap area, 2 MiB aligned, where neither reaches
 * while the enroller runs (its own break and mmaps are the workload's areas,
 * which the shim empties before the workload starts: src/shim/enroll.c).
 * Its stack frame goes one page below the workload's, in the same stack.
 */
int keep_kvm_load_enroller(const struct keep_kvm_layout *l, uint8_t *mem,
                           const struct keep_elf *elf, const struct keep_kvm_process *proc,
                           const struct keep_kvm_image *workload, struct keep_kvm_image *out,
                           struct keep_error *err)
{
    if (!elf->pie)
        return keep_fail(err, KEEP_E_RUN_NO_ENROLLER,
                         "keep-enroll must be a static-pie (ET_DYN) to be placed beside the "
                         "workload");
    uint64_t lo = (workload->brk_start + workload->mmap_top) / 2 & ~((2ull << 20) - 1);
    uint64_t span = keep_elf_span(elf);
    if (lo <= workload->brk_start || span > (workload->mmap_top - lo) / 2)
        return keep_fail(err, KEEP_E_RUN_NO_ENROLLER,
                         "keep-enroll (%llu KiB) does not fit between the workload's heap and "
                         "its mmap area",
                         (unsigned long long)(span >> 10));
    memset(out, 0, sizeof(*out));
    out->bias = lo - elf->min_vaddr;
    out->entry = elf->entry + out->bias;
    out->brk_start = elf->max_vaddr + out->bias; /* the image's end */
    out->stack_low = workload->stack_low;
    out->mmap_top = workload->mmap_top;
    int rc = load_segments(l, mem, elf, out->bias, err);
    uint64_t top = (workload->rsp & ~(PAGE - 1)) - PAGE;
    if (rc || (rc = build_stack(l, mem, elf, proc, top, out, err)))
        return rc;
    uint64_t used = (out->rsp & ~(PAGE - 1)) - KEEP_KVM_STACK_PREMAP;
    if (used < out->stack_low)
        used = out->stack_low;
    return keep_kvm_layout_protect(l, mem, used, top + PAGE - used, true, KEEP_PTE_W | KEEP_PTE_NX,
                                   err);
}
