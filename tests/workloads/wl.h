/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers for the workloads the integration tests run inside Keeps. Each
 * workload prints one "ok - what" or "not ok - what (errno)" line per check
 * and exits 0 only when every check passed, so a test reads both.
 */
#ifndef KEEP_TESTS_WL_H
#define KEEP_TESTS_WL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int wl_failures;

__attribute__((format(printf, 2, 3), unused)) static int wl_check(int cond, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    printf("%s - ", cond ? "ok" : "not ok");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (!cond) {
        wl_failures++;
        printf(" (errno %d %s)", saved, strerror(saved));
    }
    printf("\n");
    fflush(stdout);
    errno = saved;
    return cond;
}

/* True when a call failed with -1 and one of the listed errno values. */
__attribute__((unused)) static int wl_failed_with(long rc, int e1, int e2)
{
    return rc == -1 && (errno == e1 || errno == e2);
}

__attribute__((unused)) static int wl_done(void)
{
    printf("%s: %d failed\n", wl_failures ? "FAIL" : "PASS", wl_failures);
    fflush(stdout);
    return wl_failures ? 1 : 0;
}

#endif
