/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Copies stdin to stdout byte for byte (with odd-sized reads and writes, to
 * exercise partial transfers), then writes one line to stderr.
 */
#include <unistd.h>

int main(void)
{
    static char buf[65537];
    size_t chunk = 1;
    for (;;) {
        ssize_t n = read(0, buf, chunk);
        if (n < 0)
            return 2;
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(1, buf + off, (size_t)(n - off));
            if (w <= 0)
                return 3;
            off += w;
        }
        chunk = chunk * 7 % sizeof(buf) + 1;
    }
    static const char line[] = "wl_stdio: stderr works\n";
    return write(2, line, sizeof(line) - 1) == sizeof(line) - 1 ? 0 : 4;
}
