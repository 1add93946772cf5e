/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark: wl_bench_signal N [fault]. N signal round trips: kill(getpid(),
 * SIGUSR1), the handler, rt_sigreturn; with "fault", N writes to a
 * PROT_NONE page, each a SIGSEGV whose handler steps over the instruction.
 * Per delivery = (time for N - time for 0) / N (bench/bench_run.sh).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

static volatile long hits;

static void on_usr1(int sig)
{
    (void)sig;
    hits++;
}

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ucv;
    uc->uc_mcontext.gregs[REG_RIP] += 6; /* movl $1, (%rax): c7 00 01 00 00 00 */
    hits++;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 0;
    struct sigaction sa = {.sa_handler = on_usr1};
    sigemptyset(&sa.sa_mask);
    if (argc > 2 && strcmp(argv[2], "fault") == 0) {
        void *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSEGV, &sa, NULL);
        for (long i = 0; i < n; i++)
            __asm__ volatile(".byte 0xc7, 0x00, 0x01, 0x00, 0x00, 0x00" : : "a"(page) : "memory");
        return hits == n ? 0 : 1;
    }
    sigaction(SIGUSR1, &sa, NULL);
    pid_t self = getpid();
    for (long i = 0; i < n; i++)
        kill(self, SIGUSR1);
    return hits == n ? 0 : 1;
}
