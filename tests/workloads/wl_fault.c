/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dies of the CPU exception named by argv[1]: null (#PF), ud2 (#UD),
 * div0 (#DE) or gp (#GP, a non-canonical address).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *kind = argc > 1 ? argv[1] : "";
    fflush(stdout);
    if (strcmp(kind, "null") == 0) {
        volatile int *p = (volatile int *)(uintptr_t)(argc - argc);
        *p = 1;
    } else if (strcmp(kind, "ud2") == 0) {
        __asm__ volatile("ud2");
    } else if (strcmp(kind, "div0") == 0) {
        /* In assembly: compilers turn 1 / x into a compare, which never traps. */
        __asm__ volatile("xor %%ecx, %%ecx\n\tmov $1, %%eax\n\tcltd\n\tidivl %%ecx" ::
                             : "eax", "ecx", "edx");
    } else if (strcmp(kind, "gp") == 0) {
        /* Bit 63 set, bits 62..47 clear: non-canonical, so #GP rather than #PF. */
        volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)0x8000000000000000ull;
        *p = 1;
    } else {
        fprintf(stderr, "usage: wl_fault null|ud2|div0|gp\n");
        return 2;
    }
    return 0;
}
