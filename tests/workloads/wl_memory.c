/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Memory: brk, mmap and touch of 1.5x the Keep's --memory (argv[1], MiB) in
 * rounds with munmap between, ENOMEM for one mapping larger than --memory,
 * munmap giving memory back, mprotect. Touching more than --memory at once
 * is wl_reserve's "oom" case.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "wl.h"

#define CHUNK (1u << 20)

/* Two pages of read-only program data: one of them is a whole page. */
static const char read_only[8192] = {1};

int main(int argc, char **argv)
{
    size_t limit_mib = argc > 1 ? (size_t)atol(argv[1]) : 64;

    char *start = sbrk(0);
    wl_check(start != (char *)-1, "sbrk(0)");
    wl_check(sbrk(CHUNK) == start, "sbrk grows by 1 MiB");
    memset(start, 0x5a, CHUNK);
    wl_check(start[CHUNK - 1] == 0x5a, "brk memory is writable");
    wl_check(sbrk(-(intptr_t)CHUNK) != (char *)-1 && sbrk(0) == start, "sbrk shrinks back");

    /*
     * Half of --memory mapped and touched, three times over with munmap in
     * between: 1.5x --memory in all, so freed pages must return to the pool.
     * One read-write mapping larger than --memory is refused (Linux's
     * heuristic overcommit, or the address-space limit on nil).
     */
    errno = 0;
    void *huge = mmap(NULL, (limit_mib + 1) * CHUNK, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    wl_check(huge == MAP_FAILED && errno == ENOMEM,
             "one read-write mmap larger than --memory is ENOMEM");
    size_t got = limit_mib / 2;
    void **chunks = calloc(got, sizeof(void *));
    int intact = 1, mapped = 1;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < got; i++) {
            chunks[i] =
                mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (chunks[i] == MAP_FAILED) {
                mapped = 0;
                got = i;
                break;
            }
            memset(chunks[i], (int)i + round, CHUNK); /* touch: memory must really be there */
        }
        for (size_t i = 0; i < got; i++)
            intact &= ((unsigned char *)chunks[i])[CHUNK / 2] == (unsigned char)(i + round);
        for (size_t i = 0; i < got; i++)
            munmap(chunks[i], CHUNK);
    }
    wl_check(mapped, "half of --memory mapped and touched three times, munmapped between");
    wl_check(intact, "every mapped chunk kept its contents");
    void *again = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    wl_check(again != MAP_FAILED, "munmap gives memory back");

    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    page[0] = 1;
    wl_check(mprotect(page, 4096, PROT_READ) == 0, "mprotect read-only");
    wl_check(page[0] == 1, "still readable");
    wl_check(mprotect(page, 4096, PROT_READ | PROT_WRITE) == 0, "mprotect read-write again");
    page[1] = 2;
    wl_check(page[1] == 2, "writable again");
    wl_check(wl_failed_with(mprotect(page + 1, 4096, PROT_READ), EINVAL, EINVAL),
             "mprotect of an unaligned address is EINVAL");

    /*
     * brk memory reads as zero (glibc's calloc relies on it for fresh sbrk
     * memory), also where the break grows over pages an unmapped mmap area
     * had written above it (4 MiB up: beyond the 1 MiB the break reached before).
     */
    char *cur = sbrk(0);
    char *above = (char *)(((uintptr_t)cur + 4095) & ~(uintptr_t)4095) + (4u << 20);
    char *m = mmap(above, 16 * 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    wl_check(m == above, "mmap MAP_FIXED_NOREPLACE above the break");
    if (m == above) {
        memset(m, 0xa5, 16 * 4096);
        munmap(m, 16 * 4096);
        wl_check(sbrk((above - cur) + 16 * 4096) == cur, "sbrk grows over the unmapped area");
        size_t nonzero = 0;
        for (size_t i = 0; i < 16 * 4096; i++)
            nonzero += above[i] != 0;
        wl_check(nonzero == 0, "brk memory over an old mmap area reads as zero (%zu bytes not)",
                 nonzero);
        sbrk(-((above - cur) + 16 * 4096));
    }

    /*
     * A new mapping is read-write whatever the pages held before: MAP_FIXED
     * over the program's own read-only data, and the break regrown over a
     * page that was mprotect'ed PROT_NONE before the break shrank.
     */
    char *ro_page = (char *)(((uintptr_t)read_only + 4095) & ~(uintptr_t)4095);
    char *fixed =
        mmap(ro_page, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    wl_check(fixed == ro_page, "mmap MAP_FIXED over read-only program data");
    if (fixed == ro_page) {
        wl_check(fixed[0] == 0 && fixed[4095] == 0, "it reads as zero");
        fixed[0] = 3;
        wl_check(fixed[0] == 3, "and is writable");
    }
    cur = sbrk(0);
    char *page_above = (char *)(((uintptr_t)cur + 4095) & ~(uintptr_t)4095);
    wl_check(sbrk((page_above - cur) + 4096) == cur, "sbrk grows by a page");
    wl_check(mprotect(page_above, 4096, PROT_NONE) == 0, "mprotect that brk page PROT_NONE");
    wl_check(sbrk(-((page_above - cur) + 4096)) != (char *)-1, "sbrk shrinks below it");
    wl_check(sbrk((page_above - cur) + 4096) == cur, "sbrk grows over it again");
    page_above[0] = 4;
    wl_check(page_above[0] == 4, "the regrown brk page is writable");
    sbrk(-((page_above - cur) + 4096));

    /* A break near the top of the address space (page rounding would wrap) is refused. */
    cur = sbrk(0);
    wl_check(syscall(SYS_brk, (long)-100) == (long)cur, "brk(2^64 - 100) leaves the break");
    wl_check(sbrk(4096) == cur, "and the break still grows");
    cur[4095] = 5;
    wl_check(cur[4095] == 5, "writable");
    sbrk(-4096);
    free(chunks);
    return wl_done();
}
