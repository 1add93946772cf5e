/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workload memory management: brk grows up from the end of the image, mmap
 * hands out pages top-down from just below the stack guard, both inside the
 * --memory bytes the host gave (ENOMEM beyond). The host mapped all of it
 * user read-write no-execute, so allocation touches no page table: only
 * mprotect and munmap of re-protected pages are privileged operations.
 *
 * Anonymous memory must read as zero. Pages never handed out are zero
 * already (fresh host memory), so only reused pages are cleared, at the
 * caller's CPL (native speed at CPL3 under PVM).
 */
#include "shim.h"

#define PAGE                4096ull
#define MAX_AREAS           1024
#define PROT_READ           1
#define PROT_WRITE          2
#define PROT_EXEC           4
#define MAP_SHARED          0x01
#define MAP_PRIVATE         0x02
#define MAP_FIXED           0x10
#define MAP_ANONYMOUS       0x20
#define MAP_FIXED_NOREPLACE 0x100000
#define MREMAP_MAYMOVE      1
#define MADV_DONTNEED       4

struct area {
    uint64_t start, end;
    bool reprotected; /* PTEs differ from the default user read-write no-execute */
};

static struct area areas[MAX_AREAS]; /* sorted by start, not overlapping */
static size_t area_count;
static uint64_t brk_start, brk_cur, brk_max, mmap_floor, mmap_top, dirty_low;
/*
 * [odd_lo, odd_hi) bounds the pages outside any area whose PTEs may differ
 * from user read-write no-execute: the program's segments, and what mprotect
 * changed outside the areas. A new mapping or break there is reset first.
 */
static uint64_t odd_lo, odd_hi;

void shim_mm_init(void)
{
    brk_start = brk_cur = brk_max = BOOT->in.brk_start;
    mmap_top = dirty_low = BOOT->in.mmap_top;
    mmap_floor = brk_start;
    odd_lo = BOOT->in.workload_base;
    odd_hi = brk_start;
}

static uint64_t page_up(uint64_t x)
{
    return (x + PAGE - 1) & ~(PAGE - 1);
}

/* Clear the parts of [start, end) that were handed out before. */
static void zero_reused(uint64_t start, uint64_t end)
{
    uint64_t lo = start > dirty_low ? start : dirty_low;
    if (lo < end)
        memset((void *)lo, 0, end - lo);
    uint64_t hi = end < brk_max ? end : brk_max;
    if (start < hi && start >= brk_start)
        memset((void *)start, 0, hi - start);
}

static bool overlaps_areas(uint64_t start, uint64_t end)
{
    for (size_t i = 0; i < area_count; i++)
        if (areas[i].start < end && start < areas[i].end)
            return true;
    return false;
}

static void reset_protection(uint64_t start, uint64_t end)
{
    shim_privileged(KEEP_PRIV_PROTECT, start, end - start, KEEP_PTE_P | KEEP_PTE_W | KEEP_PTE_NX);
}

/* A range about to be handed out (no live area in it) becomes read-write where it was not. */
static void reset_odd(uint64_t start, uint64_t end)
{
    uint64_t lo = start > odd_lo ? start : odd_lo, hi = end < odd_hi ? end : odd_hi;
    if (lo < hi)
        reset_protection(lo, hi);
}

static bool covered_by_areas(uint64_t start, uint64_t end)
{
    for (size_t i = 0; i < area_count && start < end; i++)
        if (areas[i].start <= start && start < areas[i].end)
            start = areas[i].end;
    return start >= end;
}

long shim_brk(uint64_t addr)
{
    /* Like Linux, only the pages the break grows over must be free (a MAP_FIXED area may lie
     * below). */
    if (addr < brk_start || addr > mmap_top) /* also keeps page_up() from wrapping */
        return (long)brk_cur;
    uint64_t old_top = page_up(brk_cur), new_top = page_up(addr);
    if (new_top > old_top && overlaps_areas(old_top, new_top))
        return (long)brk_cur;
    /* Both kinds of reuse: an old break, and mmap areas (unmapped, or brk would fail) above it. */
    if (new_top > old_top) {
        reset_odd(old_top, new_top);
        zero_reused(old_top, new_top);
    }
    if (new_top > brk_max)
        brk_max = new_top;
    brk_cur = addr;
    return (long)brk_cur;
}

/* Remove [start, end) from the area list, splitting areas it cuts. */
static long unmap_range(uint64_t start, uint64_t end)
{
    for (size_t i = 0; i < area_count; i++) {
        struct area *a = &areas[i];
        if (a->end <= start || a->start >= end)
            continue;
        if (a->reprotected)
            reset_protection(a->start > start ? a->start : start, a->end < end ? a->end : end);
        if (a->start < start && a->end > end) {
            if (area_count == MAX_AREAS)
                return -SHIM_ENOMEM;
            for (size_t j = area_count; j > i + 1; j--)
                areas[j] = areas[j - 1];
            area_count++;
            areas[i + 1] = (struct area){end, a->end, a->reprotected};
            a->end = start;
            return 0;
        }
        if (a->start < start) {
            a->end = start;
        } else if (a->end > end) {
            a->start = end;
        } else {
            for (size_t j = i; j + 1 < area_count; j++)
                areas[j] = areas[j + 1];
            area_count--;
            i--;
        }
    }
    return 0;
}

static long insert_area(uint64_t start, uint64_t end)
{
    size_t i = 0;
    if (area_count == MAX_AREAS)
        return -SHIM_ENOMEM;
    while (i < area_count && areas[i].start < start)
        i++;
    for (size_t j = area_count; j > i; j--)
        areas[j] = areas[j - 1];
    areas[i] = (struct area){start, end, false};
    area_count++;
    return 0;
}

/* Highest gap of size bytes between the areas, above the brk. */
static uint64_t find_gap(uint64_t size)
{
    uint64_t top = mmap_top, floor = page_up(brk_max > brk_cur ? brk_max : brk_cur);
    if (floor < mmap_floor)
        floor = mmap_floor;
    for (size_t i = area_count; i-- > 0;) {
        if (areas[i].end <= top && top - areas[i].end >= size && top - size >= floor)
            return top - size;
        if (areas[i].start < top)
            top = areas[i].start;
    }
    return (top >= floor && top - floor >= size) ? top - size : 0;
}

long shim_mmap(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd,
               uint64_t off)
{
    (void)fd;
    (void)off;
    if (!(flags & MAP_ANONYMOUS) || (flags & MAP_SHARED))
        return -19; /* ENODEV: only anonymous private mappings exist in a Keep */
    if (len == 0 || (addr & (PAGE - 1)) || len > BOOT->in.workload_size)
        return -SHIM_EINVAL;
    uint64_t size = page_up(len), start;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        if (!shim_user_ok(addr, size) || addr + size > mmap_top)
            return -SHIM_ENOMEM;
        if ((flags & MAP_FIXED_NOREPLACE) && overlaps_areas(addr, addr + size))
            return -17; /* EEXIST */
        long rc = unmap_range(addr, addr + size);
        if (rc)
            return rc;
        start = addr;
        reset_odd(start, start + size);
        memset((void *)start, 0, size);
    } else {
        start = find_gap(size);
        if (!start)
            return -SHIM_ENOMEM;
        reset_odd(start, start + size);
        zero_reused(start, start + size);
    }
    long rc = insert_area(start, start + size);
    if (rc)
        return rc;
    if (start < dirty_low)
        dirty_low = start;
    if ((prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) != (PROT_READ | PROT_WRITE)) {
        rc = shim_mprotect(start, size, prot);
        if (rc)
            return rc;
    }
    return (long)start;
}

long shim_munmap(uint64_t addr, uint64_t len)
{
    if ((addr & (PAGE - 1)) || len == 0 || !shim_user_ok(addr, page_up(len)))
        return -SHIM_EINVAL;
    return unmap_range(addr, addr + page_up(len));
}

long shim_mprotect(uint64_t addr, uint64_t len, uint64_t prot)
{
    if (addr & (PAGE - 1))
        return -SHIM_EINVAL;
    uint64_t size = page_up(len);
    if (!shim_user_ok(addr, size))
        return -SHIM_ENOMEM;
    if (size == 0)
        return 0;
    uint64_t pte = (prot & (PROT_READ | PROT_WRITE | PROT_EXEC)) ? KEEP_PTE_P : 0;
    pte |= (prot & PROT_WRITE) ? KEEP_PTE_W : 0;
    pte |= (prot & PROT_EXEC) ? 0 : KEEP_PTE_NX;
    long rc = shim_privileged(KEEP_PRIV_PROTECT, addr, size, pte);
    if (!covered_by_areas(addr, addr + size)) {
        odd_lo = addr < odd_lo ? addr : odd_lo;
        odd_hi = addr + size > odd_hi ? addr + size : odd_hi;
    }
    for (size_t i = 0; i < area_count; i++)
        if (areas[i].start < addr + size && addr < areas[i].end)
            areas[i].reprotected = true;
    return rc;
}

long shim_mremap(uint64_t old, uint64_t old_len, uint64_t new_len, uint64_t flags,
                 uint64_t new_addr)
{
    (void)new_addr;
    uint64_t old_size = page_up(old_len), new_size = page_up(new_len);
    if ((old & (PAGE - 1)) || new_size == 0 || !shim_user_ok(old, old_size))
        return -SHIM_EINVAL;
    if (new_size <= old_size) {
        long rc = new_size < old_size ? unmap_range(old + new_size, old + old_size) : 0;
        return rc ? rc : (long)old;
    }
    if (!(flags & MREMAP_MAYMOVE))
        return -SHIM_ENOMEM;
    long fresh = shim_mmap(0, new_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, 0, 0);
    if (fresh < 0)
        return fresh;
    memcpy((void *)fresh, (const void *)old, old_size);
    unmap_range(old, old + old_size);
    return fresh;
}

long shim_madvise(uint64_t addr, uint64_t len, uint64_t advice)
{
    if ((addr & (PAGE - 1)) || !shim_user_ok(addr, page_up(len)))
        return -SHIM_EINVAL;
    /* MADV_DONTNEED on private anonymous memory: the pages read as zero afterwards. */
    if (advice == MADV_DONTNEED)
        memset((void *)addr, 0, page_up(len));
    return 0;
}
