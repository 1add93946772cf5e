/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark (bench/bench_run.sh, docs/PERFORMANCE.md): the cost of memory
 * calls, timed inside the process so that start-up does not count.
 *   wl_bench_mem reserve N   N times mmap of 1 GiB PROT_NONE + munmap:
 *                            prints "reserve_ns <ns per mmap+munmap pair>"
 *   wl_bench_mem touch MIB   mmap MIB MiB read-write, write one byte per
 *                            4 KiB page: prints "touch_ns <ns per page>"
 *   wl_bench_mem touch-huge MIB   the same after madvise(MADV_HUGEPAGE)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "reserve";
    long n = argc > 2 ? atol(argv[2]) : 1000;
    if (strncmp(mode, "touch", 5) == 0) {
        size_t size = (size_t)n << 20;
        unsigned char *p =
            mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 1;
        if (strcmp(mode, "touch-huge") == 0 && madvise(p, size, MADV_HUGEPAGE) != 0)
            return 1;
        double t0 = now_ns();
        for (size_t i = 0; i < size; i += 4096)
            p[i] = 1;
        double t1 = now_ns();
        printf("touch_ns %.1f\n", (t1 - t0) / (double)(size / 4096));
        return munmap(p, size) != 0;
    }
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        void *p = mmap(NULL, 1ul << 30, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED || munmap(p, 1ul << 30) != 0)
            return 1;
    }
    double t1 = now_ns();
    printf("reserve_ns %.1f\n", (t1 - t0) / (double)n);
    return 0;
}
