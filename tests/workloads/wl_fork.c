/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fork and execve: a kvm Keep is one process and answers ENOSYS (its log
 * names the call once at --log info); natively (nil) the child runs. Prints
 * what it saw; exits 0 either way unless the result is neither.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"

int main(void)
{
    for (int round = 0; round < 2; round++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(7);
        if (pid < 0) {
            wl_check(errno == ENOSYS, "fork: ENOSYS");
            continue;
        }
        int st = 0;
        wl_check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7,
                 "fork: the child exited 7");
    }
    char *argv[] = {"/bin/true", NULL};
    execve("/bin/true", argv, argv + 1);
    wl_check(errno == ENOSYS || errno == ENOENT, "execve of a program the Keep lacks: %s",
             errno == ENOSYS ? "ENOSYS" : "ENOENT");
    return wl_done();
}
