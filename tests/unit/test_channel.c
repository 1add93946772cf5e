/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared channel description (common/channel.h) agrees with the
 * kernel headers and with itself: syscall numbers, structure sizes, table
 * order and every length rule naming a real argument.
 */
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "common/channel.h"
#include "keep/keep.h"
#include "tap.h"

struct nr_name {
    long sys;
    uint32_t keep;
    const char *name;
};

int main(void)
{
    /* Every KEEP_NR_* against the C library's SYS_* (asm/unistd_64.h). */
    static const struct nr_name nrs[] = {
        {SYS_read, KEEP_NR_read, "read"},
        {SYS_write, KEEP_NR_write, "write"},
        {SYS_open, KEEP_NR_open, "open"},
        {SYS_close, KEEP_NR_close, "close"},
        {SYS_stat, KEEP_NR_stat, "stat"},
        {SYS_fstat, KEEP_NR_fstat, "fstat"},
        {SYS_lstat, KEEP_NR_lstat, "lstat"},
        {SYS_poll, KEEP_NR_poll, "poll"},
        {SYS_lseek, KEEP_NR_lseek, "lseek"},
        {SYS_ioctl, KEEP_NR_ioctl, "ioctl"},
        {SYS_pread64, KEEP_NR_pread64, "pread64"},
        {SYS_pwrite64, KEEP_NR_pwrite64, "pwrite64"},
        {SYS_readv, KEEP_NR_readv, "readv"},
        {SYS_writev, KEEP_NR_writev, "writev"},
        {SYS_access, KEEP_NR_access, "access"},
        {SYS_pipe, KEEP_NR_pipe, "pipe"},
        {SYS_dup, KEEP_NR_dup, "dup"},
        {SYS_dup2, KEEP_NR_dup2, "dup2"},
        {SYS_nanosleep, KEEP_NR_nanosleep, "nanosleep"},
        {SYS_socket, KEEP_NR_socket, "socket"},
        {SYS_connect, KEEP_NR_connect, "connect"},
        {SYS_accept, KEEP_NR_accept, "accept"},
        {SYS_sendto, KEEP_NR_sendto, "sendto"},
        {SYS_recvfrom, KEEP_NR_recvfrom, "recvfrom"},
        {SYS_sendmsg, KEEP_NR_sendmsg, "sendmsg"},
        {SYS_recvmsg, KEEP_NR_recvmsg, "recvmsg"},
        {SYS_shutdown, KEEP_NR_shutdown, "shutdown"},
        {SYS_bind, KEEP_NR_bind, "bind"},
        {SYS_listen, KEEP_NR_listen, "listen"},
        {SYS_getsockname, KEEP_NR_getsockname, "getsockname"},
        {SYS_getpeername, KEEP_NR_getpeername, "getpeername"},
        {SYS_setsockopt, KEEP_NR_setsockopt, "setsockopt"},
        {SYS_getsockopt, KEEP_NR_getsockopt, "getsockopt"},
        {SYS_fcntl, KEEP_NR_fcntl, "fcntl"},
        {SYS_fsync, KEEP_NR_fsync, "fsync"},
        {SYS_fdatasync, KEEP_NR_fdatasync, "fdatasync"},
        {SYS_ftruncate, KEEP_NR_ftruncate, "ftruncate"},
        {SYS_getcwd, KEEP_NR_getcwd, "getcwd"},
        {SYS_chdir, KEEP_NR_chdir, "chdir"},
        {SYS_fchdir, KEEP_NR_fchdir, "fchdir"},
        {SYS_rename, KEEP_NR_rename, "rename"},
        {SYS_mkdir, KEEP_NR_mkdir, "mkdir"},
        {SYS_rmdir, KEEP_NR_rmdir, "rmdir"},
        {SYS_unlink, KEEP_NR_unlink, "unlink"},
        {SYS_readlink, KEEP_NR_readlink, "readlink"},
        {SYS_chmod, KEEP_NR_chmod, "chmod"},
        {SYS_fchmod, KEEP_NR_fchmod, "fchmod"},
        {SYS_umask, KEEP_NR_umask, "umask"},
        {SYS_gettimeofday, KEEP_NR_gettimeofday, "gettimeofday"},
        {SYS_time, KEEP_NR_time, "time"},
        {SYS_getdents64, KEEP_NR_getdents64, "getdents64"},
        {SYS_clock_gettime, KEEP_NR_clock_gettime, "clock_gettime"},
        {SYS_clock_nanosleep, KEEP_NR_clock_nanosleep, "clock_nanosleep"},
        {SYS_epoll_wait, KEEP_NR_epoll_wait, "epoll_wait"},
        {SYS_epoll_ctl, KEEP_NR_epoll_ctl, "epoll_ctl"},
        {SYS_openat, KEEP_NR_openat, "openat"},
        {SYS_mkdirat, KEEP_NR_mkdirat, "mkdirat"},
        {SYS_newfstatat, KEEP_NR_newfstatat, "newfstatat"},
        {SYS_unlinkat, KEEP_NR_unlinkat, "unlinkat"},
        {SYS_renameat, KEEP_NR_renameat, "renameat"},
        {SYS_readlinkat, KEEP_NR_readlinkat, "readlinkat"},
        {SYS_fchmodat, KEEP_NR_fchmodat, "fchmodat"},
        {SYS_faccessat, KEEP_NR_faccessat, "faccessat"},
        {SYS_ppoll, KEEP_NR_ppoll, "ppoll"},
        {SYS_utimensat, KEEP_NR_utimensat, "utimensat"},
        {SYS_epoll_pwait, KEEP_NR_epoll_pwait, "epoll_pwait"},
        {SYS_accept4, KEEP_NR_accept4, "accept4"},
        {SYS_epoll_create1, KEEP_NR_epoll_create1, "epoll_create1"},
        {SYS_dup3, KEEP_NR_dup3, "dup3"},
        {SYS_pipe2, KEEP_NR_pipe2, "pipe2"},
        {SYS_renameat2, KEEP_NR_renameat2, "renameat2"},
        {SYS_statx, KEEP_NR_statx, "statx"},
        {SYS_faccessat2, KEEP_NR_faccessat2, "faccessat2"},
    };
    for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++)
        is_int(nrs[i].keep, nrs[i].sys, "KEEP_NR_%s equals SYS_%s", nrs[i].name, nrs[i].name);

    is_int(KEEP_SIZEOF_STAT, sizeof(struct stat), "struct stat size");
    is_int(KEEP_SIZEOF_STATX, sizeof(struct statx), "struct statx size");
    is_int(KEEP_SIZEOF_IOVEC, sizeof(struct iovec), "struct iovec size");
    is_int(KEEP_SIZEOF_POLLFD, sizeof(struct pollfd), "struct pollfd size");
    is_int(KEEP_SIZEOF_EPOLL_EVENT, sizeof(struct epoll_event), "struct epoll_event size (packed)");
    is_int(KEEP_SIZEOF_MSGHDR, sizeof(struct msghdr), "struct msghdr size");
    is_int(offsetof(struct msghdr, msg_flags), 48, "msghdr.msg_flags at 48");
    is_int(KEEP_CHAN_SOCKLEN_MAX, sizeof(struct sockaddr_storage), "sockaddr_storage size");
    is_int(KEEP_HC_GET_EVIDENCE, KEEP_SYS_GET_EVIDENCE, "the evidence call has one number");
    is_int(KEEP_CHAN_PORT, 0x4b50, "the channel port");

    bool sorted = true, rules_ok = true, names_ok = true;
    for (size_t i = 0; i < KEEP_CHAN_CALL_COUNT; i++) {
        const struct keep_chan_call *c = &keep_chan_calls[i];
        if (i && keep_chan_calls[i - 1].nr >= c->nr)
            sorted = false;
        if (!c->name || !c->name[0])
            names_ok = false;
        if (keep_chan_find_call(c->nr) != c)
            sorted = false;
        for (int a = 0; a < 6; a++) {
            const struct keep_chan_arg *d = &c->args[a];
            if (d->kind == KEEP_ARG_BUF && d->len_arg != KEEP_LEN_FIXED) {
                int src = d->len_arg & 7;
                /* The length comes from another argument that exists. */
                if (src == a || src > 5 || c->args[src].kind == KEEP_ARG_NONE)
                    rules_ok = false;
                /* A pointer length points at a fixed 4-byte in/out socklen. */
                if ((d->len_arg & KEEP_LEN_PTR) &&
                    (c->args[src].kind != KEEP_ARG_BUF || c->args[src].len_arg != KEEP_LEN_FIXED ||
                     c->args[src].elem_size != 4))
                    rules_ok = false;
            }
            if ((d->kind == KEEP_ARG_BUF || d->kind == KEEP_ARG_IOVEC ||
                 d->kind == KEEP_ARG_MSGHDR) &&
                d->dir == 0)
                rules_ok = false;
        }
    }
    bool below_limit = true;
    for (size_t i = 0; i < KEEP_CHAN_CALL_COUNT; i++)
        if (keep_chan_calls[i].nr >= KEEP_CHAN_NR_LIMIT && keep_chan_calls[i].nr < KEEP_HC_BASE)
            below_limit = false;
    ok(below_limit, "every Linux call number is below KEEP_CHAN_NR_LIMIT");
    ok(sorted, "the call table is sorted by number and keep_chan_find_call finds each");
    ok(names_ok, "every call has a name");
    ok(rules_ok, "every length rule names a real argument, every buffer a direction");
    bool all_listed = true;
    for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
        const struct keep_chan_call *c = keep_chan_find_call(nrs[i].keep);
        if (!c || strcmp(c->name, nrs[i].name) != 0) {
            diag("KEEP_NR_%s is not in keep_chan_calls[] under its name", nrs[i].name);
            all_listed = false;
        }
    }
    ok(all_listed, "every KEEP_NR_* is in the call table, named as the kernel names it");
    ok(keep_chan_find_call(39) == NULL, "getpid is not forwarded");
    ok(keep_chan_find_call(UINT64_MAX) == NULL, "UINT64_MAX is not a call");
    ok(keep_chan_find_ioctl(0x5401) && keep_chan_find_ioctl(0x5401)->size == 36,
       "TCGETS is forwarded with a 36-byte kernel termios");
    ok(keep_chan_find_ioctl(0x5412) == NULL, "TIOCSTI is not forwarded");
    /* The one max_count rule the shim and the executor share. */
    const struct keep_chan_call *readv_call = keep_chan_find_call(KEEP_NR_readv);
    const struct keep_chan_call *gso = keep_chan_find_call(KEEP_NR_getsockopt);
    ok(readv_call && gso, "readv and getsockopt are described");
    if (readv_call && gso) {
        const struct keep_chan_arg *iov = &readv_call->args[1];
        const struct keep_chan_arg *optval = &gso->args[3];
        is_int(iov->max_count, KEEP_CHAN_IOV_MAX, "readv's iovec count is capped at UIO_MAXIOV");
        ok(!keep_chan_count_refused(iov, KEEP_CHAN_IOV_MAX), "iovcnt 1024 is accepted");
        ok(keep_chan_count_refused(iov, KEEP_CHAN_IOV_MAX + 1), "iovcnt 1025 is refused (EINVAL)");
        is_int(keep_chan_count(iov, 5000), KEEP_CHAN_IOV_MAX, "a refused count sizes at most 1024");
        ok(optval->len_arg & KEEP_LEN_PTR, "getsockopt's optval length is read through optlen");
        if (optval->max_count) {
            ok(!keep_chan_count_refused(optval, optval->max_count + 1u),
               "an optlen above max_count is not refused...");
            is_int(keep_chan_count(optval, optval->max_count + 1u), optval->max_count,
                   "... but cut to max_count (%u), as Linux cuts it", optval->max_count);
        }
        is_int(keep_chan_count(iov, 3), 3, "a count below the cap is unchanged");
    }
    return done_testing();
}
