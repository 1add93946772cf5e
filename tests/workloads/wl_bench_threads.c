/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Thread benchmarks (issue 8), timed inside the process so start-up is left
 * out; bench/bench_threads.sh runs each in a Keep and natively in one run.
 *
 *   wl_bench_threads sha N MIB PASSES
 *     N threads, each hashing its own MIB MiB buffer PASSES times with
 *     SHA-256. Buffers are filled (and so faulted in) before a barrier; the
 *     clock runs from the barrier to the last join. Prints
 *     "sha N SECONDS MIB_PER_S DIGEST" (the digest of thread 0's last pass,
 *     the same in every run). A fifth argument "huge" asks for 2 MiB pages
 *     (MADV_HUGEPAGE) for the buffers, which Linux gives natively without
 *     asking when transparent_hugepage is "always".
 *   wl_bench_threads futex ROUNDS
 *     Two threads pass a turn word back and forth ROUNDS times with
 *     FUTEX_WAIT/FUTEX_WAKE (futex(2), private). Prints
 *     "futex ROUNDS SECONDS ROUND_TRIPS_PER_S".
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "wl_sha256.h"

#define MAX_THREADS 16

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct sha_job {
    size_t size;
    int passes;
    int index;
    int huge;
    pthread_barrier_t *start;
    uint32_t digest[8];
};

static void sha256(const uint8_t *data, size_t size, uint32_t h[8])
{
    uint32_t init[8] = WL_SHA256_INIT;
    memcpy(h, init, sizeof(init));
    for (size_t off = 0; off < size; off += 64)
        wl_sha256_block(h, data + off);
    uint8_t last[64] = {0x80};
    uint64_t bits = (uint64_t)size * 8;
    for (int i = 0; i < 8; i++)
        last[63 - i] = (uint8_t)(bits >> (8 * i));
    wl_sha256_block(h, last);
}

static void *sha_thread(void *arg)
{
    struct sha_job *job = arg;
    uint8_t *data = aligned_alloc(2u << 20, job->size);
    if (data && job->huge)
        madvise(data, job->size, MADV_HUGEPAGE);
    if (!data) {
        fprintf(stderr, "thread %d: malloc of %zu bytes failed\n", job->index, job->size);
        exit(1);
    }
    for (size_t i = 0; i < job->size; i++) /* every thread the same bytes */
        data[i] = (uint8_t)(i * 131 + (i >> 12));
    pthread_barrier_wait(job->start);
    for (int pass = 0; pass < job->passes; pass++)
        sha256(data, job->size, job->digest);
    free(data);
    return NULL;
}

static int bench_sha(int threads, size_t mib, int passes, int huge)
{
    if (threads < 1 || threads > MAX_THREADS || mib < 1 || passes < 1) {
        fprintf(stderr, "sha: N is 1..%d, MIB and PASSES at least 1\n", MAX_THREADS);
        return 2;
    }
    pthread_t tid[MAX_THREADS];
    struct sha_job jobs[MAX_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct sha_job){
            .size = mib << 20, .passes = passes, .index = i, .huge = huge, .start = &start};
        if (pthread_create(&tid[i], NULL, sha_thread, &jobs[i]) != 0) {
            fprintf(stderr, "pthread_create %d failed\n", i);
            return 1;
        }
    }
    pthread_barrier_wait(&start);
    double t0 = now();
    for (int i = 0; i < threads; i++)
        pthread_join(tid[i], NULL);
    double seconds = now() - t0;
    printf("sha %d %.6f %.1f ", threads, seconds,
           (double)(threads * passes) * (double)mib / seconds);
    for (int i = 0; i < 8; i++)
        printf("%08x", jobs[0].digest[i]);
    printf("\n");
    return 0;
}

/* The turn word: 0 = the main thread's turn, 1 = the partner's. */
static _Atomic int turn;
static long rounds;

static void futex_wait_while(int value)
{
    while (atomic_load(&turn) == value)
        syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void pass_turn(int to)
{
    atomic_store(&turn, to);
    syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *partner(void *arg)
{
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        futex_wait_while(0);
        pass_turn(0);
    }
    return NULL;
}

static int bench_futex(long n)
{
    if (n < 1) {
        fprintf(stderr, "futex: ROUNDS is at least 1\n");
        return 2;
    }
    rounds = n;
    pthread_t tid;
    if (pthread_create(&tid, NULL, partner, NULL) != 0)
        return 1;
    double t0 = now();
    for (long i = 0; i < rounds; i++) {
        pass_turn(1);
        futex_wait_while(1);
    }
    double seconds = now() - t0;
    pthread_join(tid, NULL);
    printf("futex %ld %.6f %.1f\n", rounds, seconds, (double)rounds / seconds);
    return 0;
}

int main(int argc, char **argv)
{
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "sha") == 0)
        return bench_sha(atoi(argv[2]), (size_t)atol(argv[3]), atoi(argv[4]),
                         argc == 6 && strcmp(argv[5], "huge") == 0);
    if (argc == 3 && strcmp(argv[1], "futex") == 0)
        return bench_futex(atol(argv[2]));
    fprintf(stderr, "usage: wl_bench_threads sha N MIB PASSES [huge] | futex ROUNDS\n");
    return 2;
}
