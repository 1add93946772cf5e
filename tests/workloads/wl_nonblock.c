/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sets O_NONBLOCK on its stdin with fcntl(F_SETFL) and on its stdout with
 * ioctl(FIONBIO), as event-loop programs do, checks it sees them, and
 * exits (with an argument, first sleeps 60 s, for the test to stop it with
 * a signal). The test then checks that keep's caller still has its own flags
 * (issue 7: they outlived the Keep and the next program got EAGAIN).
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "wl.h"

int main(int argc, char **argv)
{
    (void)argv;
    int on = 1;
    int in = fcntl(0, F_GETFL);
    wl_check(in >= 0 && fcntl(0, F_SETFL, in | O_NONBLOCK) == 0, "fcntl(0, F_SETFL, O_NONBLOCK)");
    wl_check((fcntl(0, F_GETFL) & O_NONBLOCK) != 0, "stdin is non-blocking for the workload");
    wl_check(ioctl(1, FIONBIO, &on) == 0, "ioctl(1, FIONBIO, 1)");
    wl_check((fcntl(1, F_GETFL) & O_NONBLOCK) != 0, "stdout is non-blocking for the workload");
    if (argc > 1) {
        struct timespec t = {60, 0};
        nanosleep(&t, NULL);
    }
    return wl_done();
}
