/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fork, vfork, clone without CLONE_VM and execve: a kvm Keep is one process
 * and answers ENOSYS (its log names each call once at --log info); natively
 * (nil) the child runs. Prints
 * what it saw; exits 0 either way unless the result is neither.
 */
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wl.h"

/* The child of fork-like call NAME (pid from it) exits 7; or the call was ENOSYS. */
static void check_child(const char *name, pid_t pid)
{
    if (pid < 0) {
        wl_check(errno == ENOSYS, "%s: ENOSYS", name);
        return;
    }
    int st = 0;
    wl_check(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7,
             "%s: the child exited 7", name);
}

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
    pid_t pid = vfork();
    if (pid == 0)
        _exit(7);
    check_child("vfork", pid);
    /* clone(2) with only an exit signal: a new process, what fork() was before glibc 2.x. */
    pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
    if (pid == 0)
        _exit(7);
    check_child("clone(SIGCHLD)", pid);
    char *argv[] = {"/bin/true", NULL};
    execve("/bin/true", argv, argv + 1);
    wl_check(errno == ENOSYS || errno == ENOENT, "execve of a program the Keep lacks: %s",
             errno == ENOSYS ? "ENOSYS" : "ENOENT");
    return wl_done();
}
