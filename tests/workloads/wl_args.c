/* SPDX-License-Identifier: Apache-2.0 */
/* Prints argv, the environment and the auxiliary vector the Keep gave us. */
#include <elf.h>
#include <stdint.h>
#include <sys/auxv.h>

#include "wl.h"

extern char **environ;

int main(int argc, char **argv)
{
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    int n = 0;
    for (char **e = environ; *e; e++, n++)
        printf("env[%d]=%s\n", n, *e);
    printf("env_count=%d\n", n);
    wl_check(argv[argc] == NULL, "argv[argc] is NULL");
    wl_check(getauxval(AT_PAGESZ) == 4096, "AT_PAGESZ is 4096");
    const uint8_t *rnd = (const uint8_t *)getauxval(AT_RANDOM);
    int nonzero = 0;
    for (int i = 0; rnd && i < 16; i++)
        nonzero |= rnd[i];
    wl_check(rnd != NULL && nonzero, "AT_RANDOM points at 16 random bytes");
    wl_check(getauxval(AT_PHDR) != 0, "AT_PHDR is set");
    wl_check(getauxval(AT_PHENT) == sizeof(Elf64_Phdr), "AT_PHENT is sizeof(Elf64_Phdr)");
    wl_check(getauxval(AT_PHNUM) > 0, "AT_PHNUM is set");
    wl_check(getauxval(AT_ENTRY) != 0, "AT_ENTRY is set");
    return wl_done();
}
