/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's checks of host replies (reply_check.h). Every rule here is one
 * line of docs/KEEP.md "Result rules"; tests/unit/test_reply_check.c has a
 * good and a bad case for each.
 */
#include "shim/reply_check.h"

int64_t shim_checked_errno(const struct keep_chan_call *c, int64_t r)
{
    if (r < -SHIM_MAX_ERRNO)
        shim_reply_violation(c, r, SHIM_MAX_ERRNO, "errno beyond");
    return r;
}

static bool returns_fd(uint64_t nr)
{
    return nr == KEEP_NR_open || nr == KEEP_NR_openat || nr == KEEP_NR_dup || nr == KEEP_NR_dup2 ||
           nr == KEEP_NR_dup3 || nr == KEEP_NR_socket || nr == KEEP_NR_accept ||
           nr == KEEP_NR_accept4 || nr == KEEP_NR_epoll_create1 || nr == KEEP_HC_PLACEHOLDER;
}

static bool returns_zero(uint64_t nr)
{
    return nr == KEEP_NR_stat || nr == KEEP_NR_fstat || nr == KEEP_NR_lstat ||
           nr == KEEP_NR_newfstatat || nr == KEEP_NR_statx || nr == KEEP_NR_close ||
           nr == KEEP_NR_pipe || nr == KEEP_NR_pipe2 || nr == KEEP_NR_clock_gettime ||
           nr == KEEP_NR_gettimeofday || nr == KEEP_NR_getrusage || nr == KEEP_NR_statfs ||
           nr == KEEP_NR_fstatfs || nr == KEEP_NR_link || nr == KEEP_NR_linkat ||
           nr == KEEP_NR_symlink || nr == KEEP_NR_symlinkat || nr == KEEP_NR_chown ||
           nr == KEEP_NR_fchown || nr == KEEP_NR_lchown || nr == KEEP_NR_fchownat;
}

/*
 * Most a call may report for a buffer of count elements: recv with
 * MSG_TRUNC on a datagram socket returns the real length, even beyond the
 * buffer (recv(2), "MSG_TRUNC").
 */
static uint64_t result_bound(const struct keep_chan_call *c, const uint64_t *args, uint64_t count)
{
    if (c->nr == KEEP_NR_recvfrom && (args[3] & LNX_MSG_TRUNC) && count < SHIM_DGRAM_MAX)
        return SHIM_DGRAM_MAX;
    return count;
}

/* fd-returning calls, dup2/dup3 and fcntl's F_DUPFD: the fd rules. */
static void check_fd_result(const struct keep_chan_call *c, const uint64_t *args, int64_t r)
{
    if (returns_fd(c->nr) && (uint64_t)r >= KEEP_CHAN_MAX_FDS)
        shim_reply_violation(c, r, KEEP_CHAN_MAX_FDS, "fd not below");
    /* dup2(2), dup3(2): the new fd is newfd itself (an int). */
    if ((c->nr == KEEP_NR_dup2 || c->nr == KEEP_NR_dup3) && r != (int64_t)(int32_t)args[1])
        shim_reply_violation(c, r, (uint64_t)(int64_t)(int32_t)args[1], "must return newfd");
    /* fcntl(2) F_DUPFD, F_DUPFD_CLOEXEC: the lowest free fd >= arg, so in [arg, table size). */
    if (c->nr == KEEP_NR_fcntl && (args[1] == LNX_F_DUPFD || args[1] == LNX_F_DUPFD_CLOEXEC)) {
        if ((uint64_t)r >= KEEP_CHAN_MAX_FDS)
            shim_reply_violation(c, r, KEEP_CHAN_MAX_FDS, "fd not below");
        if (r < (int64_t)(int32_t)args[2])
            shim_reply_violation(c, r, (uint64_t)(int64_t)(int32_t)args[2],
                                 "fd below its argument");
    }
}

/*
 * A buffer the result counts (KEEP_ARGF_RESULT_LEN): a read-like call
 * reports at most the elements asked, a write-like one at most the bytes
 * given. Only that buffer bounds the result: sendto's address (send() passes
 * NULL, 0) says nothing about how many bytes went out.
 */
static void check_counted_buffer(const struct keep_chan_call *c, const uint64_t *args, int i,
                                 int64_t r)
{
    const struct keep_chan_arg *a = &c->args[i];
    if (a->kind != KEEP_ARG_BUF || !(a->flags & KEEP_ARGF_RESULT_LEN) || a->len_arg >= 6)
        return;
    /* A NULL nullable buffer is a size query (keep_get_evidence): nothing was written. */
    if (args[i] == 0 && (a->flags & KEEP_ARGF_NULLABLE))
        return;
    uint64_t bound =
        a->dir == KEEP_DIR_IN ? args[a->len_arg] : result_bound(c, args, args[a->len_arg]);
    if ((uint64_t)r > bound)
        shim_reply_violation(c, r, bound,
                             a->dir == KEEP_DIR_IN ? "more than given:" : "more than asked:");
}

/* readv/writev on the direct path: at most the bytes the iovecs hold. */
static void check_iovec_total(const struct keep_chan_call *c, const uint64_t *args, int i,
                              int64_t r)
{
    const struct keep_chan_arg *a = &c->args[i];
    uint64_t total = 0,
             n = args[a->len_arg] > KEEP_CHAN_IOV_MAX ? KEEP_CHAN_IOV_MAX : args[a->len_arg];
    for (uint64_t k = 0; k < n; k++) {
        uint64_t len = ((const volatile uint64_t *)args[i])[2 * k + 1];
        total = len > UINT64_MAX - total ? UINT64_MAX : total + len; /* saturate: no wrap */
    }
    if ((uint64_t)r > total)
        shim_reply_violation(c, r, total, "more than the iovecs hold:");
}

void shim_check_result(const struct keep_chan_call *c, const uint64_t *args, int64_t r)
{
    if (r < 0) {
        shim_checked_errno(c, r);
        return;
    }
    check_fd_result(c, args, r);
    if (returns_zero(c->nr) && r != 0)
        shim_reply_violation(c, r, 0, "must return");
    /* sendfile(2): at most count bytes are moved. */
    if (c->nr == KEEP_NR_sendfile && (uint64_t)r > args[3])
        shim_reply_violation(c, r, args[3], "more than asked:");
    /* fcntl(2) record locks return 0. */
    if (c->nr == KEEP_NR_fcntl && keep_chan_fcntl_size(args[1]) && r != 0)
        shim_reply_violation(c, r, 0, "a lock command must return");
    for (int i = 0; i < 6; i++) {
        check_counted_buffer(c, args, i, r);
        if (c->args[i].kind == KEEP_ARG_IOVEC)
            check_iovec_total(c, args, i, r);
    }
}

/* struct linux_dirent64 (include/linux/dirent.h): d_ino@0 d_off@8 d_reclen@16 d_type@18 d_name@19.
 */
#define DIRENT64_RECLEN_OFF 16u
#define DIRENT64_NAME_OFF   19u

/*
 * getdents64 records as libc walks them (musl readdir: pos += d_reclen,
 * d_name as a C string): each record at least a header and a NUL, inside
 * the r bytes returned, its name ending inside the record.
 */
void shim_check_dirents(const struct keep_chan_call *c, uint64_t buf, uint64_t size)
{
    uint64_t off = 0;
    while (off < size) {
        uint64_t left = size - off;
        if (left < DIRENT64_NAME_OFF + 1)
            shim_reply_violation(c, (int64_t)left, DIRENT64_NAME_OFF + 1,
                                 "dirent cut short: bytes left below");
        uint16_t reclen = *(const volatile uint16_t *)(buf + off + DIRENT64_RECLEN_OFF);
        if (reclen < DIRENT64_NAME_OFF + 1 || reclen > left)
            shim_reply_violation(c, reclen, left, "d_reclen outside the bytes left:");
        const volatile char *name = (const volatile char *)(buf + off + DIRENT64_NAME_OFF);
        uint64_t k = 0;
        while (k < reclen - DIRENT64_NAME_OFF && name[k] != 0)
            k++;
        if (k == reclen - DIRENT64_NAME_OFF)
            shim_reply_violation(c, reclen, k, "d_name has no NUL within d_reclen; name bytes");
        off += reclen;
    }
}

void shim_check_written(const struct keep_chan_call *c, const uint64_t *args, int64_t r)
{
    if (r < 0)
        return;
    if (c->nr == KEEP_NR_pipe || c->nr == KEEP_NR_pipe2) {
        const volatile int32_t *p = (const volatile int32_t *)args[0];
        uint64_t fd0 = (uint32_t)p[0], fd1 = (uint32_t)p[1];
        if (fd0 >= KEEP_CHAN_MAX_FDS || fd1 >= KEEP_CHAN_MAX_FDS)
            shim_reply_violation(c, (int64_t)(fd0 > fd1 ? fd0 : fd1), KEEP_CHAN_MAX_FDS,
                                 "pipe fd not below");
    }
    for (int i = 0; i < 6; i++) {
        const struct keep_chan_arg *a = &c->args[i];
        bool len_ptr =
            a->kind == KEEP_ARG_BUF && a->len_arg != KEEP_LEN_FIXED && (a->len_arg & KEEP_LEN_PTR);
        if (!len_ptr || args[i] == 0)
            continue;
        /* accept, recvfrom, getsockname, getpeername (the real address length, at most a
         * sockaddr_storage: accept(2)) and getsockopt (at most the option buffer). */
        uint32_t len = *(const volatile uint32_t *)args[a->len_arg & 7];
        if (len > a->max_count)
            shim_reply_violation(c, len, a->max_count, "address or option length beyond");
    }
    if (c->nr == KEEP_NR_getdents64)
        shim_check_dirents(c, args[1], (uint64_t)r);
    /* F_GETLK reports F_RDLCK (0), F_WRLCK (1) or F_UNLCK (2) in l_type (fcntl(2)). */
    if (c->nr == KEEP_NR_fcntl && (args[1] == KEEP_F_GETLK || args[1] == KEEP_F_OFD_GETLK)) {
        uint16_t type = *(const volatile uint16_t *)args[2];
        if (type > 2)
            shim_reply_violation(c, type, 2, "F_GETLK l_type beyond");
    }
    /* getcwd(2) returns the length of the path with its NUL; libc reads it as a C string. */
    if (c->nr == KEEP_NR_getcwd && (r == 0 || *(const volatile char *)(args[0] + r - 1) != 0))
        shim_reply_violation(c, r, (uint64_t)r, "the path has no NUL ending it; bytes");
}

void shim_check_recvmsg(const struct keep_chan_call *c, uint64_t call_flags, bool has_name,
                        uint64_t given, int64_t r, uint32_t namelen, uint32_t flags)
{
    /* recvmsg(2) MSG_TRUNC: a datagram socket returns the real length, even beyond the buffer. */
    uint64_t bound =
        (call_flags & LNX_MSG_TRUNC) && given < SHIM_DGRAM_MAX ? SHIM_DGRAM_MAX : given;
    if ((uint64_t)r > bound)
        shim_reply_violation(c, r, bound, "more than the iovecs hold:");
    if (flags & ~SHIM_RECV_FLAGS_OUT)
        shim_reply_violation(c, flags, SHIM_RECV_FLAGS_OUT, "msg_flags has bits outside");
    /* The real address length may exceed the buffer (recvmsg(2)), never a sockaddr_storage. */
    if (has_name && namelen > KEEP_CHAN_SOCKLEN_MAX)
        shim_reply_violation(c, namelen, KEEP_CHAN_SOCKLEN_MAX, "msg_namelen beyond");
}

void shim_check_sendmsg(const struct keep_chan_call *c, uint64_t given, int64_t r)
{
    if (r > 0 && (uint64_t)r > given)
        shim_reply_violation(c, r, given, "more than given:");
}
