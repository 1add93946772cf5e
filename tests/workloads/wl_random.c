/* SPDX-License-Identifier: Apache-2.0 */
/* getrandom: full reads, different each time, with and without GRND_NONBLOCK. */
#include <sys/random.h>

#include "wl.h"

int main(void)
{
    unsigned char a[32], b[32], zero[32] = {0};
    wl_check(getrandom(a, sizeof(a), 0) == (ssize_t)sizeof(a), "getrandom 32 bytes");
    wl_check(getrandom(b, sizeof(b), GRND_NONBLOCK) == (ssize_t)sizeof(b),
             "getrandom GRND_NONBLOCK 32 bytes");
    wl_check(memcmp(a, b, sizeof(a)) != 0, "two reads differ");
    wl_check(memcmp(a, zero, sizeof(a)) != 0, "not all zero");
    static unsigned char big[4096];
    wl_check(getrandom(big, sizeof(big), 0) > 0, "getrandom 4096 bytes");
    return wl_done();
}
