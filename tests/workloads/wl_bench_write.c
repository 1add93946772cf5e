/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Benchmark: wl_bench_write N [nop]. N one-byte writes to stdout (the
 * benchmark points it at /dev/null), each a forwarded syscall round trip.
 */
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 0;
    for (long i = 0; i < n; i++) {
        if (write(1, "x", 1) != 1)
            return 1;
    }
    return 0;
}
