/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fd duplication numbered as Linux numbers it: wl_dup [fcntl|dup2], the
 * argument naming the call made first (a lying host stops the Keep at the
 * first lie; the hostile-host test picks which one it sees).
 */
#define _GNU_SOURCE /* dup3 */
#include <fcntl.h>
#include <unistd.h>

#include "wl.h"

static void check_dup2(int fd)
{
    int r = dup2(fd, 30);
    wl_check(r == 30, "dup2(fd, 30) returns 30 (%d)", r);
    r = dup3(fd, 40, O_CLOEXEC);
    wl_check(r == 40, "dup3(fd, 40, O_CLOEXEC) returns 40 (%d)", r);
}

static void check_dupfd(int fd)
{
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    wl_check(d >= 10, "fcntl F_DUPFD_CLOEXEC 10 gives an fd >= 10 (%d)", d);
    wl_check(fcntl(d, F_GETFD) == FD_CLOEXEC, "... with FD_CLOEXEC set");
    int e = fcntl(fd, F_DUPFD, 10);
    wl_check(e >= 10 && e != d, "fcntl F_DUPFD 10 again gives another fd >= 10 (%d)", e);
    wl_check(fcntl(e, F_GETFD) == 0, "... without FD_CLOEXEC");
}

int main(int argc, char **argv)
{
    int p[2];
    char c = 0;
    int dup2_first = argc > 1 && strcmp(argv[1], "dup2") == 0;
    if (!wl_check(pipe(p) == 0, "pipe"))
        return wl_done();
    if (dup2_first)
        check_dup2(p[1]);
    check_dupfd(p[1]);
    if (!dup2_first)
        check_dup2(p[1]);
    wl_check(write(30, "x", 1) == 1 && read(p[0], &c, 1) == 1 && c == 'x',
             "a byte written to the dup2 copy arrives through the pipe");
    wl_check(close(30) == 0 && fcntl(30, F_GETFD) == -1 && errno == EBADF,
             "a closed copy is EBADF");
    return wl_done();
}
