/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Time: CLOCK_REALTIME close to the host's (argv[1], seconds since the
 * epoch), CLOCK_MONOTONIC never going back, nanosleep sleeping.
 */
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include "wl.h"

static int64_t ns(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

int main(int argc, char **argv)
{
    struct timespec rt, m0, m1, m2;
    long long host = argc > 1 ? atoll(argv[1]) : 0;
    wl_check(clock_gettime(CLOCK_REALTIME, &rt) == 0, "clock_gettime(CLOCK_REALTIME)");
    long long skew = (long long)rt.tv_sec - host;
    wl_check(host == 0 || (skew > -60 && skew < 60), "realtime within 60 s of the host (%lld s)",
             skew);
    wl_check(clock_gettime(CLOCK_MONOTONIC, &m0) == 0, "clock_gettime(CLOCK_MONOTONIC)");
    int64_t prev = ns(&m0), backwards = 0;
    for (int i = 0; i < 1000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &m1);
        if (ns(&m1) < prev)
            backwards++;
        prev = ns(&m1);
    }
    wl_check(backwards == 0, "monotonic clock never goes back (%lld times)", (long long)backwards);
    struct timespec req = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &m1);
    wl_check(nanosleep(&req, NULL) == 0, "nanosleep 20 ms");
    clock_gettime(CLOCK_MONOTONIC, &m2);
    wl_check(ns(&m2) - ns(&m1) >= 20 * 1000 * 1000, "slept at least 20 ms (%lld ns)",
             (long long)(ns(&m2) - ns(&m1)));
    struct timeval tv;
    wl_check(gettimeofday(&tv, NULL) == 0 && tv.tv_sec >= rt.tv_sec, "gettimeofday");
    wl_check(time(NULL) >= rt.tv_sec, "time()");
    return wl_done();
}
