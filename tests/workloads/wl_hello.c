/* SPDX-License-Identifier: Apache-2.0 */
/* The smallest useful workload: one line to stdout. */
#include <unistd.h>

int main(void)
{
    static const char msg[] = "hello from a Keep\n";
    return write(1, msg, sizeof(msg) - 1) == sizeof(msg) - 1 ? 0 : 1;
}
