/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark: wl_bench_write N [nop]. N one-byte writes to stdout (the
 * benchmark points it at /dev/null), each a forwarded syscall round trip;
 * with "nop", N calls of KEEP_SYS_NOP, which the shim answers with one bare
 * OUT exit and no channel work: the floor a forwarded call is compared with.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KEEP_SYS_NOP 0x4b4502

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 0;
    if (argc > 2 && strcmp(argv[2], "nop") == 0) {
        for (long i = 0; i < n; i++) {
            if (syscall(KEEP_SYS_NOP) != 0)
                return 1;
        }
        return 0;
    }
    for (long i = 0; i < n; i++) {
        if (write(1, "x", 1) != 1)
            return 1;
    }
    return 0;
}
