/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Address-space reservations far larger than --memory, as Go, the JVM and
 * V8 make them (run at --memory 64M):
 *   wl_reserve reserve [overcommit]  reserve 4 GiB PROT_NONE, make 16 MiB of
 *       it read-write, touch, check zeroing and contents, free, eight times
 *       (128 MiB touched in all); PROT_NONE on touched pages keeps them;
 *       MADV_DONTNEED zeroes. "overcommit" adds a 1 GiB MAP_NORESERVE
 *       read-write mapping (Linux overcommit; not on nil, whose
 *       RLIMIT_DATA counts it).
 *   wl_reserve oom       touch 256 MiB: the Keep must stop the workload.
 *   wl_reserve rowrite   write to a touched page made read-only: SIGSEGV.
 *   wl_reserve move      mremap a touched 40 MiB mapping that cannot grow in
 *       place to 41 MiB: Linux moves its pages, so it never needs twice the
 *       memory; the Keep copies, and must free as it copies to fit 64M.
 */
#define _GNU_SOURCE /* mremap */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wl.h"

#define MIB     (1ull << 20)
#define RESERVE (4096 * MIB)
#define WINDOW  (16 * MIB)

static size_t count_nonzero(const unsigned char *p, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < size; i += 512) /* a few bytes of every page */
        n += p[i] != 0;
    return n;
}

/* Touch depth * 1 MiB of stack from the top down, a byte per page; check it on the way back. */
static int deep(int depth)
{
    volatile unsigned char frame[1 << 20];
    for (size_t i = sizeof(frame); i > 0;) {
        i -= 4096;
        frame[i] = (unsigned char)(depth + i / 4096);
    }
    int ok = depth > 1 ? deep(depth - 1) : 1;
    for (size_t i = 0; i < sizeof(frame); i += 4096)
        ok &= frame[i] == (unsigned char)(depth + i / 4096);
    return ok;
}

/* mremap: grow in place, move (a mapping right after blocks the growth), shrink. */
static void remap(void)
{
    unsigned char *a =
        mmap(NULL, 8 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(a + 4 * MIB, 4 * MIB); /* [a, a + 4 MiB) mapped, 4 MiB free above it */
    a[0] = 1;
    a[3 * MIB] = 2;
    wl_check(mremap(a, 4 * MIB, 6 * MIB, 0) == a, "mremap grows in place into free space");
    wl_check(a[0] == 1 && a[3 * MIB] == 2 && a[5 * MIB] == 0, "contents kept, the new part zero");
    unsigned char *block = mmap(a + 6 * MIB, 4096, PROT_READ,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    wl_check(block == a + 6 * MIB, "a mapping right after it");
    wl_check(mremap(a, 6 * MIB, 8 * MIB, 0) == MAP_FAILED && errno == ENOMEM,
             "growing without MREMAP_MAYMOVE is ENOMEM");
    mprotect(a, 6 * MIB, PROT_NONE);
    unsigned char *b = mremap(a, 6 * MIB, 16 * MIB, MREMAP_MAYMOVE);
    wl_check(b != MAP_FAILED && b != a, "mremap MREMAP_MAYMOVE of PROT_NONE memory moves it");
    if (b != MAP_FAILED) {
        wl_check(mprotect(b, 16 * MIB, PROT_READ | PROT_WRITE) == 0, "made read-write");
        wl_check(b[0] == 1 && b[3 * MIB] == 2 && b[5 * MIB] == 0 && b[15 * MIB] == 0,
                 "the moved memory kept its contents, the rest reads zero");
        wl_check(mremap(b, 16 * MIB, 4096, 0) == b && b[0] == 1, "and shrinks in place");
        munmap(b, 4096);
    }
    munmap(block, 4096);
}

static int reserve(int overcommit)
{
    remap();
    wl_check(deep(4), "4 MiB of stack touched from the top down, contents kept");
    unsigned char *r = mmap(NULL, RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!wl_check(r != MAP_FAILED, "reserve 4 GiB PROT_NONE"))
        return wl_done();
    int zero = 1, intact = 1, ok_map = 1;
    for (int round = 0; round < 8; round++) {
        /* Different windows each round, so old and new frames meet. */
        unsigned char *w = r + (uint64_t)(round % 3) * 1024 * MIB + (round % 2) * WINDOW / 2;
        if (round % 2 == 0)
            ok_map &= mprotect(w, WINDOW, PROT_READ | PROT_WRITE) == 0;
        else
            ok_map &= mmap(w, WINDOW, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == w;
        zero &= count_nonzero(w, WINDOW) == 0;
        for (size_t i = 0; i < WINDOW; i += 4096)
            w[i] = (unsigned char)(i / 4096 + round + 1);
        for (size_t i = 0; i < WINDOW; i += 4096)
            intact &= w[i] == (unsigned char)(i / 4096 + round + 1);
        /* Free the frames but keep the reservation, as Go's scavenger does. */
        ok_map &= mmap(w, WINDOW, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == w;
    }
    wl_check(ok_map, "16 MiB of it made read-write (mprotect, MAP_FIXED) 8 times, 128 MiB in all");
    wl_check(zero, "each time it reads as zero, also where earlier rounds wrote");
    wl_check(intact, "and keeps what was written");

    unsigned char *p = r + 2048 * MIB;
    mprotect(p, 8192, PROT_READ | PROT_WRITE);
    p[0] = 7;
    p[4096] = 8;
    wl_check(mprotect(p, 8192, PROT_NONE) == 0 && mprotect(p, 8192, PROT_READ) == 0,
             "touched pages: PROT_NONE, then read-only");
    wl_check(p[0] == 7 && p[4096] == 8, "they kept their contents");
    mprotect(p, 8192, PROT_READ | PROT_WRITE);
    wl_check(madvise(p, 8192, MADV_DONTNEED) == 0, "madvise MADV_DONTNEED");
    wl_check(p[0] == 0 && p[4096] == 0, "the pages read zero afterwards");

    /* MADV_HUGEPAGE: whole 2 MiB chunks at once; parts of them still change alone. */
    unsigned char *h =
        (unsigned char *)(((uintptr_t)r + 3072 * MIB + 2 * MIB - 1) & ~(2 * MIB - 1));
    mprotect(h, 8 * MIB, PROT_READ | PROT_WRITE);
    wl_check(madvise(h, 8 * MIB, MADV_HUGEPAGE) == 0, "madvise MADV_HUGEPAGE on 8 MiB");
    for (size_t i = 0; i < 8 * MIB; i += 4096)
        h[i] = (unsigned char)(i / 4096 + 1);
    wl_check(mprotect(h + 4096, 4096, PROT_NONE) == 0 && mprotect(h + 4096, 4096, PROT_READ) == 0,
             "one page in a 2 MiB page: PROT_NONE, then read-only");
    wl_check(munmap(h + 2 * MIB, 4096) == 0, "one page of the next 2 MiB page unmapped");
    wl_check(mmap(h + 2 * MIB, 4096, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == h + 2 * MIB,
             "and mapped again");
    int huge_ok = h[2 * MIB] == 0;
    for (size_t i = 0; i < 8 * MIB; i += 4096)
        huge_ok &= i == 2 * MIB || h[i] == (unsigned char)(i / 4096 + 1);
    wl_check(huge_ok, "the new page reads zero, every other page kept its contents");
    wl_check(madvise(h + 4 * MIB, 2 * MIB, MADV_DONTNEED) == 0 && h[4 * MIB] == 0 &&
                 h[6 * MIB] == (unsigned char)(6 * MIB / 4096 + 1),
             "MADV_DONTNEED of a whole 2 MiB page zeroes it alone");
    /* A buffer in a PROT_NONE or unmapped range is EFAULT for a forwarded call, as on Linux. */
    int fds[2];
    wl_check(pipe(fds) == 0 && write(fds[1], "abcd", 4) == 4, "a pipe with 4 bytes in it");
    wl_check(wl_failed_with(write(fds[1], r, 4), EFAULT, EFAULT),
             "write from a PROT_NONE reservation is EFAULT");
    wl_check(wl_failed_with(read(fds[0], r + 4096, 4), EFAULT, EFAULT),
             "read into a PROT_NONE reservation is EFAULT");
    wl_check(wl_failed_with(open((const char *)r, O_RDONLY), EFAULT, EFAULT),
             "a path in a PROT_NONE reservation is EFAULT");
    wl_check(munmap(r, RESERVE) == 0, "munmap the 4 GiB");
    wl_check(wl_failed_with(write(fds[1], r, 4), EFAULT, EFAULT),
             "write from the unmapped range is EFAULT");
    char got[4];
    wl_check(read(fds[0], got, 4) == 4 && memcmp(got, "abcd", 4) == 0,
             "the pipe still holds exactly its 4 bytes");
    close(fds[0]);
    close(fds[1]);

    /* Where the call can know, it says ENOMEM (run at --memory 64M). */
    unsigned char *pop = mmap(NULL, 40 * MIB, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    wl_check(pop != MAP_FAILED && pop[40 * MIB - 1] == 0, "40 MiB MAP_POPULATE");
    errno = 0;
    wl_check(mmap(NULL, 40 * MIB, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0) == MAP_FAILED &&
                 errno == ENOMEM,
             "another 40 MiB MAP_POPULATE is ENOMEM");
    munmap(pop, 40 * MIB);
    errno = 0;
    wl_check(sbrk(65 * MIB) == (void *)-1 && errno == ENOMEM,
             "a brk step beyond --memory is ENOMEM");

    if (overcommit) {
        unsigned char *big = mmap(NULL, 1024 * MIB, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (wl_check(big != MAP_FAILED, "1 GiB read-write MAP_NORESERVE at --memory 64M")) {
            memset(big + 512 * MIB, 1, MIB);
            wl_check(big[512 * MIB + MIB - 1] == 1, "1 MiB of it touched");
            wl_check(munmap(big, 1024 * MIB) == 0, "and unmapped");
        }
    }
    return wl_done();
}

static int move(void)
{
    size_t size = 40 * MIB;
    /* A page, then the 40 MiB right below it: it cannot grow in place. */
    unsigned char *block = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *p = mmap(block - size, size, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (!wl_check(block != MAP_FAILED && p == block - size, "mmap 40 MiB right below a page"))
        return wl_done();
    for (size_t i = 0; i < size; i += 4096)
        p[i] = (unsigned char)(i / 4096 + 1);
    unsigned char *q = mremap(p, size, size + MIB, MREMAP_MAYMOVE);
    if (!wl_check(q != MAP_FAILED && q != p, "mremap to 41 MiB moves it"))
        return wl_done();
    size_t wrong = 0;
    for (size_t i = 0; i < size; i += 4096)
        wrong += q[i] != (unsigned char)(i / 4096 + 1);
    wl_check(wrong == 0, "every page moved with its contents (%zu wrong)", wrong);
    wl_check(count_nonzero(q + size, MIB) == 0, "the new megabyte reads zero");
    return wl_done();
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "reserve";
    if (strcmp(mode, "oom") == 0) {
        size_t size = 256 * MIB;
        unsigned char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (!wl_check(p != MAP_FAILED, "mmap 256 MiB MAP_NORESERVE"))
            return wl_done();
        for (size_t i = 0; i < size; i += 4096)
            p[i] = 1;
        wl_check(0, "touched 256 MiB at --memory 64M and was not stopped");
        return wl_done();
    }
    if (strcmp(mode, "rowrite") == 0) {
        unsigned char *p =
            mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        p[0] = 1;
        wl_check(mprotect(p, 4096, PROT_READ) == 0, "a touched page made read-only");
        printf("writing to it\n");
        fflush(stdout);
        p[0] = 2;
        wl_check(0, "the write to a read-only page went through");
        return wl_done();
    }
    if (strcmp(mode, "move") == 0)
        return move();
    return reserve(argc > 2 && strcmp(argv[2], "overcommit") == 0);
}
