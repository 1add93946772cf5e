/* SPDX-License-Identifier: Apache-2.0 */
/* Benchmark: wl_bench_read FILE. Reads FILE to the end in 1 MiB reads. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    static char buf[1 << 20];
    if (argc < 2)
        return 2;
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    unsigned long long total = 0;
    unsigned char sum = 0;
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) {
        total += (unsigned long long)n;
        sum ^= (unsigned char)buf[n - 1];
    }
    close(fd);
    printf("%llu bytes %02x\n", total, sum);
    return 0;
}
