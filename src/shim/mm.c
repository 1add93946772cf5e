/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workload memory: mappings are bookkeeping, pages are materialised on first
 * touch. docs/KEEP.md, "Memory layout" and "Demand paging".
 *
 * The workload's address space (BOOT->in.workload_size bytes, tens of GiB)
 * is far larger than --memory. mmap, brk and mprotect of untouched memory
 * only edit the area list below, at the caller's CPL (native speed at CPL3
 * under PVM). A page gets its PTE in the #PF handler (shim_mm_fault, CPL0),
 * with the protection of its area, while fewer than --memory pages are in
 * use; the count lives in supervisor memory (struct keep_mm_state), so the
 * workload cannot raise its own limit. Guest virtual = guest physical: a
 * page's frame is its own address, backed lazily by the host.
 *
 * Freeing (munmap, MADV_DONTNEED, brk shrinking, MAP_FIXED over old pages)
 * clears the PTEs of the pages in use, at CPL0 but only in the 2 MiB chunks
 * that have a table (mm.chunk_hint), and asks the host to discard them
 * (KEEP_REQ_DISCARD, sent at CPL0 by the unmap itself): a page not in use always reads zero, so no
 * page is ever cleared at CPL0 (a CPL0 copy loop moves 1-8 MB/s under PVM).
 *
 * One lock (mm_lock) serialises the public functions; the fault hook takes
 * it too unless this CPU holds it already (a fault inside mremap's copy).
 */
#include "shim.h"

#define PAGE                4096ull
#define CHUNK               (2ull << 20)
#define MAX_AREAS           1024
#define RUN_MIN             16  /* pages mapped per fault; doubled while touches are sequential */
#define RUN_MAX             512 /* ... up to a chunk (docs/PERFORMANCE.md, "Memory") */
#define PROT_READ           1
#define PROT_WRITE          2
#define PROT_EXEC           4
#define PROT_SEM            8
#define PROT_GROWSDOWN      0x01000000
#define PROT_GROWSUP        0x02000000
#define MAP_SHARED          0x01
#define MAP_PRIVATE         0x02
#define MAP_TYPE            0x0f
#define MAP_FIXED           0x10
#define MAP_ANONYMOUS       0x20
#define MAP_NORESERVE       0x4000
#define MAP_POPULATE        0x8000
#define MAP_FIXED_NOREPLACE 0x100000
#define MREMAP_MAYMOVE      1
#define MREMAP_FIXED        2
#define MREMAP_DONTUNMAP    4
#define MADV_DONTNEED       4
#define MADV_HUGEPAGE       14
#define MADV_NOHUGEPAGE     15
#define AREA_HUGE           0x100 /* in area.prot: MADV_HUGEPAGE, map whole chunks as 2 MiB pages */
#define AREA_IMAGE          0x200 /* the program's image: mapped by the host at boot, never on touch */
#define PROT_MASK           (PROT_READ | PROT_WRITE | PROT_EXEC)
#define PF_PRESENT          1u /* #PF error code bits, Intel SDM vol 3, 4.7 */
#define PF_WRITE            2u
#define PF_FETCH            16u
#define HINT_WORDS          ((128ull << 30) / CHUNK / 64) /* the largest KEEP_GUEST_SPAN */

struct area {
    uint64_t start, end;
    uint64_t prot; /* PROT_*, and AREA_HUGE */
};

static struct {
    struct area areas[MAX_AREAS]; /* sorted by start, not overlapping */
    size_t area_count, last;      /* last: the area the previous fault found */
    uint64_t brk_start, brk_cur, heap_start, mmap_top;
    uint64_t pool_pages;    /* --memory in pages */
    uint64_t seq_next, run; /* where a sequential toucher faults next, and its run length */
    bool ready;             /* shim_mm_init ran: at the first syscall or the first fault */
    /*
     * Bit c: chunk c (2 MiB) may have pages in use (its directory entry is
     * present). Set by CPL0 when it gives a chunk a table and by the host's
     * mappings at boot (shim_mm_init), cleared by CPL0 when the chunk empties.
     * A user page: a workload that corrupts it only keeps its own pages mapped.
     */
    uint64_t chunk_hint[HINT_WORDS];
    /* Pages in use, as CPL0 last wrote it: for ENOMEM decisions only, never for the bound. */
    volatile uint64_t pages_in_use_hint;
    volatile uint32_t lock_word; /* the CPU holding the lock, 0 when free */
    uint32_t lock_depth;
} mm;

/* ---- lock ---------------------------------------------------------------- */

/* The vCPU running this code (its block's index, from the GS base), never 0. */
static uint32_t this_cpu(void)
{
    return (uint32_t)shim_cpu()->index + 1;
}

static void mm_lock(void)
{
    uint32_t me = this_cpu();
    if (mm.lock_word == me) {
        mm.lock_depth++;
        return;
    }
    while (!__atomic_compare_exchange_n(&mm.lock_word, &(uint32_t){0}, me, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
        __asm__ volatile("pause");
    mm.lock_depth = 1;
    /*
     * mm is a user page. On hardware KVM every call runs at CPL0, where a
     * forged count would let insert_area's shift store past the list into
     * any page, the tables included: every index stays inside the array.
     */
    if (mm.area_count > MAX_AREAS)
        mm.area_count = MAX_AREAS;
}

static void mm_unlock(void)
{
    if (--mm.lock_depth == 0)
        __atomic_store_n(&mm.lock_word, 0, __ATOMIC_RELEASE);
}

/* ---- CPL0: page tables and the frame pool -------------------------------- */

struct tables {
    uint64_t pml4; /* from CR3: everything below is found from it alone */
    volatile uint64_t *pd, *ptes;
    volatile uint16_t *counts;
    volatile struct keep_mm_state *st;
};

static struct tables tables(void)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    cr3 &= KEEP_PTE_ADDR;
    return (struct tables){
        .pml4 = cr3,
        .pd = (volatile uint64_t *)(cr3 + KEEP_PT_PD),
        .ptes = (volatile uint64_t *)(cr3 + KEEP_PT_TABLES),
        .counts = (volatile uint16_t *)(cr3 + KEEP_PT_COUNTS),
        .st = (volatile struct keep_mm_state *)(cr3 + KEEP_PT_STATE),
    };
}

/*
 * After a page-table change: this vCPU's TLB, then, when other threads run,
 * every other vCPU's (the host injects an NMI into each, entry.S, and
 * returns once none of them can run on without it). Without that another
 * thread could go on using a page this one unmapped or protected (SDM vol 3,
 * 4.10.5, "Propagation of paging-structure changes to multiple processors").
 */
static void flush_tlb(const struct tables *t)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
    if (t->st->vcpus_running > 1)
        shim_port(KEEP_REQ_TLB_SHOOTDOWN);
}

/* Before the guest first uses a slot of its physical memory, the host registers it. */
static void ensure_backed(const struct tables *t, uint64_t gpa)
{
    uint64_t slot = gpa / KEEP_GUEST_SLOT, bit = 1ull << (slot % 64);
    if (t->st->backed[slot / 64] & bit)
        return;
    REPORT->addr = gpa;
    shim_port(KEEP_REQ_BACK);
    if (REPORT->status != 0)
        shim_panic("the host did not back guest memory at", gpa);
    t->st->backed[slot / 64] |= bit;
}

static uint64_t pte_bits(uint64_t prot)
{
    uint64_t bits = KEEP_PTE_P | KEEP_PTE_U | KEEP_PTE_A;
    if (prot & PROT_WRITE)
        bits |= KEEP_PTE_W | KEEP_PTE_D;
    if (!(prot & PROT_EXEC))
        bits |= KEEP_PTE_NX;
    return bits;
}

/* Map n pages from va (one chunk, none in use) with bits: n more pages in use. */
/*
 * Map up to max pages from va (one chunk), stopping before the first page in
 * use: returns how many are now in use more. One loop reads and writes each
 * entry, since every CPL0 instruction counts under PVM.
 */
static uint64_t map_run(const struct tables *t, uint64_t va, uint64_t max, uint64_t bits)
{
    uint64_t c = va / CHUNK, n = 0;
    bool fresh = !(t->pd[c] & KEEP_PTE_P);
    uint64_t table = t->pml4 + KEEP_PT_TABLES + c * PAGE; /* all zero when fresh: unmap_at_cpl0 */
    if (fresh)
        ensure_backed(t, table);
    ensure_backed(t, va); /* a slot holds whole chunks */
    /*
     * The entries first, the directory entry last: a table no directory
     * points to is not shadowed yet, so its stores need not be tracked by
     * the hypervisor (under PVM a store to a shadowed table may trap).
     */
    uint64_t *pte = (uint64_t *)(uintptr_t)(t->ptes + va / PAGE), entry = va | bits;
    if (fresh) {
        for (; n < max; n++, entry += PAGE)
            pte[n] = entry;
    } else {
        for (; n < max && pte[n] == 0; n++, entry += PAGE)
            pte[n] = entry;
    }
    __asm__ volatile("" : : : "memory"); /* the CPU reads them: every store happens */
    if (fresh) {
        t->pd[c] = table | KEEP_PTE_P | KEEP_PTE_W | KEEP_PTE_U | KEEP_PTE_A;
        mm.chunk_hint[c / 64] |= 1ull << (c % 64);
    }
    t->counts[c] = (uint16_t)(t->counts[c] + n);
    mm.pages_in_use_hint = t->st->pages_in_use += n;
    return n;
}

/*
 * A whole chunk as one 2 MiB page (MADV_HUGEPAGE areas): one store at CPL0
 * instead of 512 (a CPL0 store costs microseconds under PVM). Identity
 * mapping makes it the same frames a 4 KiB mapping would use.
 */
static void map_large(const struct tables *t, uint64_t base, uint64_t bits)
{
    uint64_t c = base / CHUNK;
    ensure_backed(t, base);
    t->pd[c] = base | bits | KEEP_PTE_PS;
    t->counts[c] = 512;
    mm.chunk_hint[c / 64] |= 1ull << (c % 64);
    mm.pages_in_use_hint = t->st->pages_in_use += 512;
}

/* Turn the 2 MiB page of chunk c into 512 entries of its table, same frames and rights. */
static void split_large(const struct tables *t, uint64_t c)
{
    uint64_t pde = t->pd[c], table = t->pml4 + KEEP_PT_TABLES + c * PAGE;
    uint64_t bits =
        pde & (KEEP_PTE_P | KEEP_PTE_W | KEEP_PTE_U | KEEP_PTE_A | KEEP_PTE_D | KEEP_PTE_NX);
    ensure_backed(t, table);
    volatile uint64_t *pte = t->ptes + c * 512;
    for (uint64_t i = 0; i < 512; i++)
        pte[i] = (c * CHUNK + i * PAGE) | bits;
    t->pd[c] = table | KEEP_PTE_P | KEEP_PTE_W | KEEP_PTE_U | KEEP_PTE_A;
}

static struct area *area_at(uint64_t va)
{
    /*
     * mm is a user page: with a corrupted count the CPL0 fault handler would
     * read past the list, fault there and re-enter itself forever. Bounded by
     * the array, the worst a workload gets is a wrong answer about its own pages.
     */
    size_t count = mm.area_count < MAX_AREAS ? mm.area_count : MAX_AREAS, last = mm.last;
    if (last < count && mm.areas[last].start <= va && va < mm.areas[last].end)
        return &mm.areas[last];
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (mm.areas[mid].end <= va)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < count && mm.areas[lo].start <= va) {
        mm.last = lo;
        return &mm.areas[lo];
    }
    return 0;
}

/* Most pages from va that may be mapped with it: inside its area and chunk, run pages. */
static uint64_t run_length(uint64_t va, uint64_t area_end, uint64_t run)
{
    uint64_t end = (va / CHUNK + 1) * CHUNK;
    if (end > area_end)
        end = area_end;
    if (run > RUN_MAX || run == 0) /* mm is a user page: never trust it for a bound */
        run = RUN_MIN;
    if (end > va + run * PAGE)
        end = va + run * PAGE;
    return (end - va) / PAGE;
}

/*
 * A stack growing down: the page above va is the area's end or in use (same
 * chunk), the one below is not. Its run then goes down from va, so a deep
 * call chain faults once per run instead of once per page.
 */
static bool grows_down(const struct tables *t, uint64_t va, const struct area *a)
{
    if (va == a->start || va % CHUNK == 0)
        return false;
    if (va + PAGE == a->end)
        return true;
    return (va + PAGE) % CHUNK != 0 && (t->pd[va / CHUNK] & KEEP_PTE_P) &&
           t->ptes[va / PAGE + 1] != 0 && t->ptes[va / PAGE - 1] == 0;
}

/* Lowest page of a downward run ending at va: within the area and the chunk, not in use. */
static uint64_t down_run_start(const struct tables *t, uint64_t va, uint64_t area_start,
                               uint64_t room)
{
    uint64_t limit = va & ~(CHUNK - 1), lo = va;
    if (limit < area_start)
        limit = area_start;
    if (va - limit > (RUN_MIN - 1) * PAGE)
        limit = va - (RUN_MIN - 1) * PAGE;
    if (room < RUN_MIN && va - limit > (room - 1) * PAGE)
        limit = va - (room - 1) * PAGE;
    bool table = (t->pd[va / CHUNK] & KEEP_PTE_P) != 0;
    while (lo > limit && (!table || t->ptes[lo / PAGE - 1] == 0))
        lo -= PAGE;
    return lo;
}

/* The #PF hook (CPL0): SHIM_FAULT_MAPPED, or the fault is the workload's (or out of memory). */
int shim_mm_fault(uint64_t addr, uint64_t error_code)
{
    struct tables t = tables();
    uint64_t va = addr & ~(PAGE - 1);
    if ((error_code & PF_PRESENT) || va < KEEP_GUEST_WORKLOAD || va >= t.pml4)
        return SHIM_FAULT_SIGSEGV;
    shim_mm_init(); /* the stack may grow before the first syscall */
    mm_lock();
    const struct area *a = area_at(va);
    int rc = SHIM_FAULT_SIGSEGV;
    if (!a || (a->prot & AREA_IMAGE) || !(a->prot & PROT_MASK) ||
        ((error_code & PF_WRITE) && !(a->prot & PROT_WRITE)) ||
        ((error_code & PF_FETCH) && !(a->prot & PROT_EXEC)))
        goto out;
    uint64_t bits = pte_bits(a->prot);
    volatile uint64_t *pte = t.ptes + va / PAGE;
    if ((t.pd[va / CHUNK] & KEEP_PTE_P) && (*pte & KEEP_PTE_KEPT)) {
        *pte = va | bits; /* in use already (mprotect'ed PROT_NONE before): contents kept */
        rc = SHIM_FAULT_MAPPED;
        goto out;
    }
    if (t.st->pages_in_use >= t.st->page_limit) {
        rc = SHIM_FAULT_OUT_OF_MEMORY;
        goto out;
    }
    uint64_t room = t.st->page_limit - t.st->pages_in_use, base = va & ~(CHUNK - 1);
    rc = SHIM_FAULT_MAPPED;
    if ((a->prot & AREA_HUGE) && a->start <= base && base + CHUNK <= a->end && room >= 512 &&
        !(t.pd[va / CHUNK] & KEEP_PTE_P)) {
        map_large(&t, base, bits);
        goto out;
    }
    if (grows_down(&t, va, a)) {
        uint64_t lo = down_run_start(&t, va, a->start, room);
        map_run(&t, lo, (va - lo) / PAGE + 1, bits);
        goto out;
    }
    /* Like readahead: a toucher that keeps faulting where the last run ended gets longer runs. */
    mm.run = va == mm.seq_next ? (mm.run * 2 > RUN_MAX ? RUN_MAX : mm.run * 2) : RUN_MIN;
    uint64_t n = run_length(va, a->end, mm.run);
    n = map_run(&t, va, n < room ? n : room, bits);
    mm.seq_next = va + n * PAGE;
out:
    mm_unlock();
    return rc;
}

/*
 * KEEP_PRIV_PROTECT and KEEP_PRIV_UNMAP at CPL0, [addr, addr + size) already
 * checked against the tables (shim.c). Only pages in use are touched, and
 * only in chunks with a table: the cost follows what is present, not size.
 */
long shim_mm_protect_at_cpl0(uint64_t addr, uint64_t size, uint64_t flags)
{
    struct tables t = tables();
    uint64_t bits = (flags & (KEEP_PTE_W | KEEP_PTE_NX)) | KEEP_PTE_P | KEEP_PTE_U | KEEP_PTE_A;
    bool changed = false;
    for (uint64_t va = addr; va < addr + size; va = (va / CHUNK + 1) * CHUNK) {
        uint64_t end = (va / CHUNK + 1) * CHUNK;
        if (end > addr + size)
            end = addr + size;
        if (!(t.pd[va / CHUNK] & KEEP_PTE_P))
            continue;
        if (t.pd[va / CHUNK] & KEEP_PTE_PS) {
            if (va % CHUNK == 0 && end - va == CHUNK && (flags & KEEP_PTE_P)) {
                t.pd[va / CHUNK] = (va & ~(CHUNK - 1)) | bits | KEEP_PTE_PS;
                changed = true;
                continue;
            }
            split_large(&t, va / CHUNK); /* part of it, or PROT_NONE (KEEP_PTE_KEPT entries) */
            changed = true;
        }
        for (volatile uint64_t *pte = t.ptes + va / PAGE; pte < t.ptes + end / PAGE; pte++) {
            uint64_t e = *pte;
            if (!(e & (KEEP_PTE_P | KEEP_PTE_KEPT)))
                continue;
            *pte = (e & KEEP_PTE_ADDR) | ((flags & KEEP_PTE_P) ? bits : KEEP_PTE_KEPT);
            changed = true;
        }
    }
    if (changed)
        flush_tlb(&t);
    return 0;
}

long shim_mm_unmap_at_cpl0(uint64_t addr, uint64_t size)
{
    struct tables t = tables();
    uint64_t freed = 0;
    for (uint64_t va = addr; va < addr + size; va = (va / CHUNK + 1) * CHUNK) {
        uint64_t c = va / CHUNK, end = (c + 1) * CHUNK, n = 0;
        if (end > addr + size)
            end = addr + size;
        if (!(t.pd[c] & KEEP_PTE_P))
            continue;
        if (t.pd[c] & KEEP_PTE_PS) {
            if (va % CHUNK == 0 &&
                end - va == CHUNK) { /* the whole 2 MiB page: its table is zero */
                t.pd[c] = 0;
                t.counts[c] = 0;
                mm.chunk_hint[c / 64] &= ~(1ull << (c % 64));
                freed += 512;
                continue;
            }
            split_large(&t, c);
        }
        for (volatile uint64_t *pte = t.ptes + va / PAGE; pte < t.ptes + end / PAGE; pte++) {
            if (*pte & (KEEP_PTE_P | KEEP_PTE_KEPT)) {
                *pte = 0;
                n++;
            }
        }
        /* Below the workload the counts are 0: the fixed low region is never unmapped here. */
        t.counts[c] = (uint16_t)(t.counts[c] - n);
        if (t.counts[c] == 0) { /* every entry is zero now: the table is ready for reuse */
            t.pd[c] = 0;
            mm.chunk_hint[c / 64] &= ~(1ull << (c % 64));
        }
        freed += n;
    }
    if (freed) {
        mm.pages_in_use_hint = t.st->pages_in_use -= freed;
        flush_tlb(&t);
        /*
         * The host drops the frames here, at CPL0, not after the gate returns:
         * a workload calling the gate itself would skip that and hold host
         * memory past --memory (pages left the count, their frames stayed).
         * Nothing runs between these stores and the OUT (one vCPU).
         */
        REPORT->addr = addr;
        REPORT->status = size;
        shim_port(KEEP_REQ_DISCARD);
    }
    return (long)freed;
}

/* ---- CPL3 (or CPL0 on hardware KVM): bookkeeping ------------------------ */

static uint64_t page_up(uint64_t x)
{
    return (x + PAGE - 1) & ~(PAGE - 1);
}

static bool hinted(uint64_t c)
{
    return (mm.chunk_hint[c / 64] >> (c % 64)) & 1;
}

/*
 * Call op (KEEP_PRIV_UNMAP or KEEP_PRIV_PROTECT) once per run of chunks in
 * [start, end) that may hold pages in use; untouched ranges cost no CPL0
 * entry. Returns the pages the calls freed.
 */
static uint64_t for_present_runs(uint64_t start, uint64_t end, uint64_t op, uint64_t flags)
{
    uint64_t freed = 0;
    for (uint64_t c = start / CHUNK; c * CHUNK < end;) {
        if (!hinted(c)) {
            c++;
            continue;
        }
        uint64_t first = c;
        while (c * CHUNK < end && hinted(c))
            c++;
        uint64_t lo = first * CHUNK > start ? first * CHUNK : start;
        uint64_t hi = c * CHUNK < end ? c * CHUNK : end;
        long n = shim_privileged(op, lo, hi - lo, flags); /* UNMAP: the host discards too */
        if (op == KEEP_PRIV_UNMAP && n > 0)
            freed += (uint64_t)n;
    }
    return freed;
}

/* Free the pages in use in [start, end): they read zero when touched again. */
static void release(uint64_t start, uint64_t end)
{
    for_present_runs(start, end, KEEP_PRIV_UNMAP, 0);
}

static bool overlaps_areas(uint64_t start, uint64_t end)
{
    for (size_t i = 0; i < mm.area_count; i++)
        if (mm.areas[i].start < end && start < mm.areas[i].end)
            return true;
    return false;
}

/* Split the area holding at (if any) so that an area boundary lies there. */
static long split_at(uint64_t at)
{
    struct area *a = area_at(at);
    if (!a || a->start == at)
        return 0;
    if (mm.area_count == MAX_AREAS)
        return -SHIM_ENOMEM;
    size_t i = (size_t)(a - mm.areas);
    for (size_t j = mm.area_count; j > i + 1; j--)
        mm.areas[j] = mm.areas[j - 1];
    mm.area_count++;
    mm.areas[i + 1] = (struct area){at, mm.areas[i].end, mm.areas[i].prot};
    mm.areas[i].end = at;
    return 0;
}

/* Remove the areas in [start, end) (splitting those it cuts) and free their pages. */
static long unmap_range(uint64_t start, uint64_t end)
{
    long rc = split_at(start);
    if (!rc)
        rc = split_at(end);
    if (rc)
        return rc;
    size_t kept = 0;
    for (size_t i = 0; i < mm.area_count; i++)
        if (mm.areas[i].end <= start || mm.areas[i].start >= end)
            mm.areas[kept++] = mm.areas[i];
    mm.area_count = kept;
    mm.last = 0;
    release(start, end);
    return 0;
}

/* Insert [start, end) (free of areas), merged with equal neighbours. */
static long insert_area(uint64_t start, uint64_t end, uint64_t prot)
{
    size_t i = 0;
    while (i < mm.area_count && mm.areas[i].start < start)
        i++;
    bool join_prev = i > 0 && mm.areas[i - 1].end == start && mm.areas[i - 1].prot == prot;
    bool join_next = i < mm.area_count && mm.areas[i].start == end && mm.areas[i].prot == prot;
    if (join_prev && join_next) {
        mm.areas[i - 1].end = mm.areas[i].end;
        for (size_t j = i; j + 1 < mm.area_count; j++)
            mm.areas[j] = mm.areas[j + 1];
        mm.area_count--;
    } else if (join_prev) {
        mm.areas[i - 1].end = end;
    } else if (join_next) {
        mm.areas[i].start = start;
    } else {
        if (mm.area_count == MAX_AREAS)
            return -SHIM_ENOMEM;
        for (size_t j = mm.area_count; j > i; j--)
            mm.areas[j] = mm.areas[j - 1];
        mm.areas[i] = (struct area){start, end, prot};
        mm.area_count++;
    }
    mm.last = 0;
    return 0;
}

/* Merge neighbours with equal protection (after mprotect), so the list stays short. */
static void merge_areas(void)
{
    size_t kept = 0;
    for (size_t i = 0; i < mm.area_count; i++) {
        if (kept > 0 && mm.areas[kept - 1].end == mm.areas[i].start &&
            mm.areas[kept - 1].prot == mm.areas[i].prot)
            mm.areas[kept - 1].end = mm.areas[i].end;
        else
            mm.areas[kept++] = mm.areas[i];
    }
    mm.area_count = kept;
    mm.last = 0;
}

/*
 * Within the array whatever the range: shim_mm_init may run at CPL0 (the
 * first fault) with a boot page the workload forged, and a bit set past
 * chunk_hint could land in a page table (a U bit: the tables at CPL3).
 */
static void mark_hint(uint64_t start, uint64_t end)
{
    for (uint64_t c = start / CHUNK; c * CHUNK < end && c < HINT_WORDS * 64; c++)
        mm.chunk_hint[c / 64] |= 1ull << (c % 64);
}

void shim_mm_init(void)
{
    if (mm.ready)
        return;
    mm.ready = true;
    /* The workload can clear ready and forge the boot page: every write below stays in mm. */
    if (mm.area_count > MAX_AREAS)
        mm.area_count = MAX_AREAS;
    uint64_t end = BOOT->in.workload_base + BOOT->in.workload_size;
    mm.brk_start = mm.brk_cur = BOOT->in.brk_start;
    mm.heap_start = page_up(mm.brk_start);
    mm.mmap_top = BOOT->in.mmap_top;
    mm.pool_pages = BOOT->in.memory_size / PAGE;
    /* The chunks the host mapped at boot: the program and the top of the stack. */
    mark_hint(BOOT->in.workload_base, mm.heap_start);
    mark_hint(BOOT->in.stack_low, end);
    /*
     * The program's image is an area too, so that it counts as mapped (mprotect,
     * MAP_FIXED_NOREPLACE, mremap) until the workload unmaps it; its pages are the host's (segment
     * permissions in their entries), so a fault there is never demand paging. Its gaps count as
     * mapped.
     */
    insert_area(BOOT->in.workload_base, mm.heap_start,
                PROT_READ | PROT_WRITE | PROT_EXEC | AREA_IMAGE);
    /* The stack is an area like any other: its pages below the host's are mapped on touch. */
    insert_area(BOOT->in.stack_low, end,
                PROT_READ | PROT_WRITE | (BOOT->in.stack_exec ? PROT_EXEC : 0));
    /* keep run --steward: the enroller's image (enroll.c), mapped by the host like the program's.
     */
    uint64_t lo = BOOT->in.enroll_low & ~(PAGE - 1), hi = page_up(BOOT->in.enroll_high);
    if (BOOT->in.enroll_entry && lo >= mm.heap_start && hi > lo && hi <= BOOT->in.mmap_top) {
        mark_hint(lo, hi);
        insert_area(lo, hi, PROT_READ | PROT_WRITE | PROT_EXEC | AREA_IMAGE);
    }
}

void shim_mm_reset_for_workload(uint64_t stack_low, uint64_t stack_keep)
{
    mm_lock();
    uint64_t prot = PROT_READ | PROT_WRITE | (BOOT->in.stack_exec ? PROT_EXEC : 0);
    /* The enroller's heap, mappings and image; then its stack, below the workload's frame. */
    if (unmap_range(mm.heap_start, stack_low) || unmap_range(stack_low, stack_keep) ||
        insert_area(stack_low, stack_keep, prot))
        shim_panic("enrolment: cannot free the enroller's memory", mm.area_count);
    merge_areas();
    mm.brk_cur = mm.brk_start;
    mm.seq_next = mm.run = 0;
    mm_unlock();
}

/*
 * Linux's heuristic overcommit (overcommit_memory 0, mm/util.c
 * __vm_enough_memory): one private writable mapping larger than all memory
 * is refused; MAP_NORESERVE and PROT_NONE mappings are not counted.
 */
static bool obvious_overcommit(uint64_t size)
{
    return size / PAGE > mm.pool_pages;
}

long shim_brk(uint64_t addr)
{
    mm_lock();
    long rc = (long)mm.brk_cur;
    /* Like Linux, only the pages the break grows over must be free (a MAP_FIXED area may lie
     * below). */
    if (addr < mm.brk_start || addr > mm.mmap_top) /* also keeps page_up() from wrapping */
        goto out;
    uint64_t old_top = page_up(mm.brk_cur), new_top = page_up(addr);
    if (new_top > old_top) {
        if (overlaps_areas(old_top, new_top) || obvious_overcommit(new_top - old_top) ||
            insert_area(old_top, new_top, PROT_READ | PROT_WRITE))
            goto out;
    } else if (new_top < old_top && unmap_range(new_top, old_top)) {
        goto out;
    }
    mm.brk_cur = addr;
    rc = (long)addr;
out:
    mm_unlock();
    return rc;
}

/* Highest gap of size bytes between the areas, above the brk. */
static uint64_t find_gap(uint64_t size)
{
    uint64_t top = mm.mmap_top, floor = page_up(mm.brk_cur);
    for (size_t i = mm.area_count; i-- > 0;) {
        if (mm.areas[i].end <= top && top - mm.areas[i].end >= size && top - size >= floor)
            return top - size;
        if (mm.areas[i].start < top)
            top = mm.areas[i].start;
    }
    return (top >= floor && top - floor >= size) ? top - size : 0;
}

/* Fault in [start, end) by reading a byte of each page (the #PF hook maps it). */
static void touch_pages(uint64_t start, uint64_t end)
{
    for (uint64_t p = start; p < end; p += PAGE)
        (void)*(volatile const uint8_t *)p;
}

static long mmap_locked(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags)
{
    if (!(flags & MAP_ANONYMOUS) || (flags & MAP_SHARED))
        return -19; /* ENODEV: only anonymous private mappings exist in a Keep */
    if (len == 0 || ((flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) && (addr & (PAGE - 1))))
        return -SHIM_EINVAL;
    if ((flags & MAP_TYPE) != MAP_PRIVATE)
        return -SHIM_EINVAL; /* mmap(2): exactly one of MAP_SHARED, MAP_PRIVATE (do_mmap) */
    addr &= ~(PAGE - 1);     /* a hint only: x86's arch_get_unmapped_area_topdown rounds it down */
    if (len > BOOT->in.workload_size)
        return -SHIM_ENOMEM;
    uint64_t size = page_up(len), start;
    if ((prot & PROT_WRITE) && !(flags & MAP_NORESERVE) && obvious_overcommit(size))
        return -SHIM_ENOMEM;
    if ((flags & MAP_POPULATE) && size / PAGE > mm.pool_pages - mm.pages_in_use_hint)
        return -SHIM_ENOMEM; /* the call can know: populating would exhaust --memory */
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        if (!shim_user_ok(addr, size) || addr + size > mm.mmap_top)
            return -SHIM_ENOMEM;
        if ((flags & MAP_FIXED_NOREPLACE) && overlaps_areas(addr, addr + size))
            return -17;                           /* EEXIST */
        long rc = unmap_range(addr, addr + size); /* also the program's own pages there */
        if (rc)
            return rc;
        start = addr;
    } else if (addr && shim_user_ok(addr, size) && addr >= page_up(mm.brk_cur) &&
               addr + size <= mm.mmap_top && !overlaps_areas(addr, addr + size)) {
        start = addr; /* the hint is free: take it, as Linux does */
    } else {
        start = find_gap(size);
        if (!start)
            return -SHIM_ENOMEM;
    }
    long rc = insert_area(start, start + size, prot & (PROT_READ | PROT_WRITE | PROT_EXEC));
    if (rc)
        return rc;
    if ((flags & MAP_POPULATE) && (prot & (PROT_READ | PROT_WRITE | PROT_EXEC)))
        touch_pages(start, start + size);
    return (long)start;
}

long shim_mmap(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, uint64_t fd,
               uint64_t off)
{
    (void)fd;
    (void)off;
    mm_lock();
    long rc = mmap_locked(addr, len, prot, flags);
    mm_unlock();
    return rc;
}

long shim_munmap(uint64_t addr, uint64_t len)
{
    /* munmap(2): EINVAL for an unaligned address or a length 0 once rounded up (or wrapping). */
    if ((addr & (PAGE - 1)) || page_up(len) == 0 || !shim_user_ok(addr, page_up(len)))
        return -SHIM_EINVAL;
    mm_lock();
    long rc = unmap_range(addr, addr + page_up(len));
    mm_unlock();
    return rc;
}

static long mprotect_locked(uint64_t addr, uint64_t size, uint64_t prot)
{
    long rc = split_at(addr);
    if (!rc)
        rc = split_at(addr + size);
    if (rc)
        return rc;
    prot &= PROT_MASK;
    for (size_t i = 0; i < mm.area_count; i++)
        if (mm.areas[i].start >= addr && mm.areas[i].end <= addr + size)
            mm.areas[i].prot = prot | (mm.areas[i].prot & (AREA_HUGE | AREA_IMAGE));
    merge_areas();
    /* Pages in use get the new protection now (PROT_NONE keeps them, KEEP_PTE_KEPT). */
    uint64_t pte = prot ? KEEP_PTE_P : 0;
    pte |= (prot & PROT_WRITE) ? KEEP_PTE_W : 0;
    pte |= (prot & PROT_EXEC) ? 0 : KEEP_PTE_NX;
    for_present_runs(addr, addr + size, KEEP_PRIV_PROTECT, pte);
    return 0;
}

/* End of the mapped run in [addr, end): areas that follow without a hole (addr if none). */
static uint64_t mapped_end(uint64_t addr, uint64_t end)
{
    const struct area *a;
    while (addr < end && (a = area_at(addr)) != 0 && a->end > addr)
        addr = a->end;
    return addr < end ? addr : end;
}

long shim_mprotect(uint64_t addr, uint64_t len, uint64_t prot)
{
    if (addr & (PAGE - 1))
        return -SHIM_EINVAL;
    uint64_t size = page_up(len);
    if (len == 0)
        return 0;
    /* do_mprotect_pkey: a length that wraps is ENOMEM; x86 knows PROT_READ/WRITE/EXEC/SEM. */
    if (size == 0 || !shim_user_ok(addr, size))
        return -SHIM_ENOMEM;
    if (prot & ~(uint64_t)(PROT_MASK | PROT_SEM | PROT_GROWSDOWN | PROT_GROWSUP))
        return -SHIM_EINVAL;
    mm_lock();
    /*
     * mprotect(2): ENOMEM when the range has unmapped pages. Linux changes the
     * mappings before the first hole and then fails (mm/mprotect.c), so does this.
     */
    uint64_t end = mapped_end(addr, addr + size);
    long rc = end > addr ? mprotect_locked(addr, end - addr, prot) : 0;
    if (!rc && end < addr + size)
        rc = -SHIM_ENOMEM;
    mm_unlock();
    return rc;
}

/*
 * Copy [src, src + size) to fresh memory and free each source chunk once
 * copied, so a move needs one chunk more than the mapping, not twice it
 * (Linux moves the pages themselves; here frames cannot move: guest
 * virtual = physical). Chunks without pages in use are skipped: they read
 * zero, as the fresh memory does, and copying them would use frames for nothing.
 */
static void move_present(uint64_t dst, uint64_t src, uint64_t size)
{
    for (uint64_t off = 0; off < size;) {
        uint64_t c = (src + off) / CHUNK, end = (c + 1) * CHUNK - src;
        if (end > size)
            end = size;
        if (hinted(c)) {
            memcpy((void *)(dst + off), (const void *)(src + off), end - off);
            release(src + off, src + end);
        }
        off = end;
    }
}

/*
 * Move [old, old + old_size) to dst (free of areas, mapped fresh by the
 * caller), new_size bytes there; the old range is unmapped, or with
 * MREMAP_DONTUNMAP kept and reading zero (its pages freed).
 */
static long move_area(uint64_t old, uint64_t old_size, uint64_t dst, uint64_t new_size,
                      uint64_t prot, uint64_t flags)
{
    if (!(prot & PROT_READ))
        mprotect_locked(old, old_size, (prot & PROT_MASK) | PROT_READ); /* to copy it */
    move_present(dst, old, old_size < new_size ? old_size : new_size);
    if (flags & MREMAP_DONTUNMAP) {
        release(old, old + old_size);
        if (!(prot & PROT_READ))
            mprotect_locked(old, old_size, prot & PROT_MASK);
    } else {
        unmap_range(old, old + old_size);
    }
    if (!(prot & PROT_WRITE) || !(prot & PROT_READ))
        mprotect_locked(dst, new_size, prot & PROT_MASK);
    return (long)dst;
}

/* MREMAP_FIXED: to exactly [new_addr, new_addr + new_size), replacing what is there. */
static long mremap_fixed(uint64_t old, uint64_t old_size, uint64_t new_size, uint64_t flags,
                         uint64_t new_addr, uint64_t prot)
{
    /* mremap(2): EINVAL when new_address is unaligned or the two ranges overlap. */
    if ((new_addr & (PAGE - 1)) || !shim_user_ok(new_addr, new_size) ||
        (new_addr < old + old_size && old < new_addr + new_size))
        return -SHIM_EINVAL;
    long dst = mmap_locked(new_addr, new_size, PROT_READ | PROT_WRITE, 0x22 | MAP_FIXED);
    if (dst < 0)
        return dst;
    return move_area(old, old_size, (uint64_t)dst, new_size, prot, flags);
}

static long mremap_locked(uint64_t old, uint64_t old_size, uint64_t new_size, uint64_t flags,
                          uint64_t new_addr)
{
    /* Like Linux (mm/mremap.c), shrinking in place needs no mapping lookup. */
    if (new_size <= old_size && !(flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))) {
        long rc = new_size < old_size ? unmap_range(old + new_size, old + old_size) : 0;
        return rc ? rc : (long)old;
    }
    /* The old range must lie in one mapping: EFAULT otherwise (vma_to_resize). */
    const struct area *a = area_at(old);
    if (!a || a->end - old < old_size)
        return -SHIM_EFAULT;
    uint64_t prot = a->prot & ~AREA_IMAGE; /* new pages: mapped on touch */
    if (flags & MREMAP_FIXED)
        return mremap_fixed(old, old_size, new_size, flags, new_addr, prot);
    uint64_t grow_end = old + new_size;
    if (!(flags & MREMAP_DONTUNMAP) && a->end == old + old_size && grow_end <= mm.mmap_top &&
        grow_end > old && !overlaps_areas(old + old_size, grow_end)) {
        long rc = insert_area(old + old_size, grow_end, prot); /* grows in place */
        return rc ? rc : (long)old;
    }
    if (!(flags & MREMAP_MAYMOVE))
        return -SHIM_ENOMEM;
    long fresh = mmap_locked(0, new_size, PROT_READ | PROT_WRITE, 0x22);
    if (fresh < 0)
        return fresh;
    return move_area(old, old_size, (uint64_t)fresh, new_size, prot, flags);
}

long shim_mremap(uint64_t old, uint64_t old_len, uint64_t new_len, uint64_t flags,
                 uint64_t new_addr)
{
    uint64_t old_size = page_up(old_len), new_size = page_up(new_len);
    /*
     * mremap(2): EINVAL for unknown flags, MREMAP_FIXED or MREMAP_DONTUNMAP
     * without MREMAP_MAYMOVE, DONTUNMAP with a size change, an unaligned old
     * address, a zero new size, or a zero old size (it duplicates only
     * shared mappings, and a Keep has none).
     */
    if ((flags & ~(uint64_t)(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP)) ||
        ((flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) && !(flags & MREMAP_MAYMOVE)) ||
        ((flags & MREMAP_DONTUNMAP) && old_size != new_size))
        return -SHIM_EINVAL;
    if ((old & (PAGE - 1)) || old_size == 0 || new_size == 0 || !shim_user_ok(old, old_size) ||
        new_size > BOOT->in.workload_size)
        return -SHIM_EINVAL;
    mm_lock();
    long rc = mremap_locked(old, old_size, new_size, flags, new_addr);
    mm_unlock();
    return rc;
}

/* madvise(2) advice Linux 6.1 knows for private anonymous memory (mm/madvise.c). */
static bool known_advice(uint64_t advice)
{
    enum { MADV_FREE = 8, MADV_REMOVE = 9, MADV_COLLAPSE = 25 };
    return advice <= MADV_DONTNEED || (advice >= MADV_FREE && advice <= MADV_COLLAPSE &&
                                       advice != MADV_REMOVE /* shared memory only */);
}

/* Transparent huge pages as Debian's default (enabled=madvise): only where asked. */
static long set_huge(uint64_t addr, uint64_t end, bool huge)
{
    long rc = split_at(addr);
    if (!rc)
        rc = split_at(end);
    for (size_t i = 0; !rc && i < mm.area_count; i++)
        if (mm.areas[i].start >= addr && mm.areas[i].end <= end)
            mm.areas[i].prot = huge ? mm.areas[i].prot | AREA_HUGE : mm.areas[i].prot & ~AREA_HUGE;
    merge_areas();
    return rc;
}

long shim_madvise(uint64_t addr, uint64_t len, uint64_t advice)
{
    uint64_t size = page_up(len);
    if ((addr & (PAGE - 1)) || (len && !size) || !shim_user_ok(addr, size) || !known_advice(advice))
        return -SHIM_EINVAL;
    if (size == 0)
        return 0;
    uint64_t end = addr + size;
    mm_lock();
    /* Linux applies the advice to the mapped parts, then reports a hole as ENOMEM. */
    bool hole = mapped_end(addr, end) < end;
    long rc = 0;
    /* MADV_DONTNEED on private anonymous memory: the pages read as zero afterwards. */
    if (advice == MADV_DONTNEED)
        release(addr, end);
    if (advice == MADV_HUGEPAGE || advice == MADV_NOHUGEPAGE)
        rc = set_huge(addr, end, advice == MADV_HUGEPAGE);
    mm_unlock();
    return rc ? rc : hole ? -SHIM_ENOMEM : 0;
}

static long populate(uint64_t addr, uint64_t size, bool for_write)
{
    if (size == 0)
        return 0;
    mm_lock();
    long rc = 0;
    for (uint64_t p = addr & ~(PAGE - 1); p < addr + size; p += PAGE) {
        const struct area *a = area_at(p);
        if (!a && p < mm.heap_start)
            continue; /* the program's own pages: mapped by the host at boot */
        if (!a) {
            rc = -SHIM_EFAULT; /* not mapped: EFAULT, as Linux's copy_from_user gives */
            break;
        }
        if (!(a->prot & (PROT_READ | PROT_WRITE | PROT_EXEC))) {
            rc = -SHIM_EFAULT;
            break;
        }
        /* copy_to_user into a mapping without PROT_WRITE: EFAULT (mm/memory.c, access_error). */
        if (for_write && !(a->prot & PROT_WRITE)) {
            rc = -SHIM_EFAULT;
            break;
        }
        if (a->prot & AREA_IMAGE)
            continue; /* mapped by the host, or a gap the host refuses (EFAULT), never a fault here
                       */
        touch_pages(p, p + PAGE);
    }
    mm_unlock();
    return rc;
}

long shim_mm_populate(uint64_t addr, uint64_t size)
{
    return populate(addr, size, false);
}

long shim_mm_populate_writable(uint64_t addr, uint64_t size)
{
    return populate(addr, size, true);
}

uint64_t shim_mm_free_bytes(void)
{
    uint64_t used = mm.pages_in_use_hint;
    return used < mm.pool_pages ? (mm.pool_pages - used) * PAGE : 0;
}
