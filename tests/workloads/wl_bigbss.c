/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small file whose image is large: 512 MiB of .bss. keep must refuse it
 * before starting a Keep with the default 256M of memory (cli_basics.sh).
 */
/* volatile: otherwise the compiler sees an array never written and drops it. */
static volatile char big[512u << 20];

int main(int argc, char **argv)
{
    (void)argv;
    big[(unsigned)argc << 20] = 1; /* touch one page in the middle of .bss */
    return big[(unsigned)argc << 20] - 1;
}
