/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wl_fpstate: the x87/SSE state a program starts with, read at its entry
 * before any code can change it (no libc: -nostdlib). Linux's execve(2)
 * leaves every XMM register zero, MXCSR 0x1f80 and the x87 control word
 * 0x37f; a Keep must too, also after the enroller ran in it first
 * (src/shim/enroll.c). Prints "xmm=0|1 mxcsr=HEX fcw=HEX".
 */
#include <stdint.h>

static long sys3(long nr, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
    return r;
}

static char *hex(char *p, uint32_t v)
{
    char d[8];
    int n = 0;
    do {
        d[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (n)
        *p++ = d[--n];
    return p;
}

__attribute__((used, noreturn)) static void report(uint64_t xmm_or, uint32_t mxcsr, uint32_t fcw)
{
    char line[64], *p = line;
    const char *a = "xmm=";
    while (*a)
        *p++ = *a++;
    *p++ = xmm_or ? '1' : '0';
    a = " mxcsr=";
    while (*a)
        *p++ = *a++;
    p = hex(p, mxcsr);
    a = " fcw=";
    while (*a)
        *p++ = *a++;
    p = hex(p, fcw & 0xffff);
    *p++ = '\n';
    sys3(1 /* write */, 1, (long)line, p - line);
    sys3(231 /* exit_group */, 0, 0, 0);
    __builtin_unreachable();
}

/* The entry: OR the sixteen XMM registers together, store MXCSR and FCW, then report. */
__asm__(".globl _start\n"
        "_start:\n"
        "  por %xmm1, %xmm0\n  por %xmm2, %xmm0\n  por %xmm3, %xmm0\n  por %xmm4, %xmm0\n"
        "  por %xmm5, %xmm0\n  por %xmm6, %xmm0\n  por %xmm7, %xmm0\n  por %xmm8, %xmm0\n"
        "  por %xmm9, %xmm0\n  por %xmm10, %xmm0\n  por %xmm11, %xmm0\n  por %xmm12, %xmm0\n"
        "  por %xmm13, %xmm0\n  por %xmm14, %xmm0\n  por %xmm15, %xmm0\n"
        "  movhlps %xmm0, %xmm1\n  por %xmm1, %xmm0\n  movq %xmm0, %rdi\n"
        "  and $-16, %rsp\n  sub $16, %rsp\n"
        "  stmxcsr (%rsp)\n  mov (%rsp), %esi\n"
        "  fnstcw 4(%rsp)\n  movzwl 4(%rsp), %edx\n"
        "  call report\n");
