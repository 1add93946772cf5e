/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared channel description (common/channel.h) agrees with the
 * kernel headers and with itself: syscall numbers, structure sizes, table
 * order and every length rule naming a real argument.
 */
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
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
    static const struct nr_name nrs[] = {
        {SYS_read, KEEP_NR_read, "read"},
        {SYS_write, KEEP_NR_write, "write"},
        {SYS_openat, KEEP_NR_openat, "openat"},
        {SYS_newfstatat, KEEP_NR_newfstatat, "newfstatat"},
        {SYS_statx, KEEP_NR_statx, "statx"},
        {SYS_renameat2, KEEP_NR_renameat2, "renameat2"},
        {SYS_accept4, KEEP_NR_accept4, "accept4"},
        {SYS_epoll_pwait, KEEP_NR_epoll_pwait, "epoll_pwait"},
        {SYS_ppoll, KEEP_NR_ppoll, "ppoll"},
        {SYS_pipe2, KEEP_NR_pipe2, "pipe2"},
        {SYS_clock_nanosleep, KEEP_NR_clock_nanosleep, "clock_nanosleep"},
        {SYS_getdents64, KEEP_NR_getdents64, "getdents64"},
        {SYS_readlinkat, KEEP_NR_readlinkat, "readlinkat"},
        {SYS_recvmsg, KEEP_NR_recvmsg, "recvmsg"},
        {SYS_getsockopt, KEEP_NR_getsockopt, "getsockopt"},
        {SYS_dup3, KEEP_NR_dup3, "dup3"},
        {SYS_epoll_create1, KEEP_NR_epoll_create1, "epoll_create1"},
        {SYS_gettimeofday, KEEP_NR_gettimeofday, "gettimeofday"},
        {SYS_fcntl, KEEP_NR_fcntl, "fcntl"},
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
    ok(keep_chan_find_call(39) == NULL, "getpid is not forwarded");
    ok(keep_chan_find_call(UINT64_MAX) == NULL, "UINT64_MAX is not a call");
    ok(keep_chan_find_ioctl(0x5401) && keep_chan_find_ioctl(0x5401)->size == 36,
       "TCGETS is forwarded with a 36-byte kernel termios");
    ok(keep_chan_find_ioctl(0x5412) == NULL, "TIOCSTI is not forwarded");
    return done_testing();
}
