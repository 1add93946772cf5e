/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shim's checks of host replies (src/shim/reply_check.c), built for the
 * host: one good and one bad case for every rule of docs/KEEP.md "Result
 * rules". A broken rule jumps back here with the rule's text, so a test
 * asserts both that a bad reply is caught and that a good one is not.
 */
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include "shim/reply_check.h"
#include "tap.h"

static jmp_buf back;
static const char *caught_rule;
static int64_t caught_got;
static uint64_t caught_bound;

void shim_reply_violation(const struct keep_chan_call *c, int64_t got, uint64_t bound,
                          const char *rule)
{
    (void)c;
    caught_rule = rule;
    caught_got = got;
    caught_bound = bound;
    longjmp(back, 1);
}

enum check { RESULT, WRITTEN, BOTH };

static void run_checks(uint64_t nr, const uint64_t *args, int64_t r, enum check which)
{
    const struct keep_chan_call *c = keep_chan_find_call(nr);
    if (which != WRITTEN)
        shim_check_result(c, args, r);
    if (which != RESULT)
        shim_check_written(c, args, r);
}

/* 1 when the checks reject result r of call nr with args (a violation), 0 when they accept it. */
static int rejects(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                   uint64_t a5, int64_t r, enum check which)
{
    const uint64_t args[6] = {a0, a1, a2, a3, a4, a5};
    caught_rule = NULL;
    if (setjmp(back))
        return 1;
    run_checks(nr, args, r, which);
    return 0;
}

static const char *name_of(uint64_t nr)
{
    const struct keep_chan_call *c = keep_chan_find_call(nr);
    return c ? c->name : "?";
}

#define R(nr, a0, a1, a2, a3, a4, a5, r) rejects(KEEP_NR_##nr, a0, a1, a2, a3, a4, a5, r, BOTH)
#define P(x)                             ((uint64_t)(uintptr_t)(x))

static uint8_t buf[4096];

static void test_errno(void)
{
    ok(!R(read, 0, P(buf), 10, 0, 0, 0, -SHIM_MAX_ERRNO), "errno 4095 is an errno");
    ok(R(read, 0, P(buf), 10, 0, 0, 0, -SHIM_MAX_ERRNO - 1), "errno 4096 is rejected");
    is_str(caught_rule, "errno beyond", "the rule names the errno bound");
    ok(R(close, 3, 0, 0, 0, 0, 0, INT64_MIN), "INT64_MIN from close is rejected");
    const struct keep_chan_call *c = keep_chan_find_call(KEEP_NR_sendmsg);
    int r = setjmp(back) ? 1 : (shim_checked_errno(c, -4096), 0);
    ok(r, "shim_checked_errno rejects -4096");
}

static void test_read_like(void)
{
    ok(!R(read, 0, P(buf), 10, 0, 0, 0, 10), "read may return the bytes asked");
    ok(R(read, 0, P(buf), 10, 0, 0, 0, 11), "read beyond the bytes asked is rejected");
    is_str(caught_rule, "more than asked:", "rule: more than asked");
    ok(caught_got == 11 && caught_bound == 10, "the violation names 11 and the bound 10");
    ok(!R(pread64, 0, P(buf), 8, 0, 0, 0, 8), "pread64 of 8 returns 8");
    ok(R(pread64, 0, P(buf), 8, 0, 0, 0, 9), "pread64 of 8 returning 9 is rejected");
    ok(!R(recvfrom, 3, P(buf), 10, 0, 0, 0, 10), "recvfrom of 10 returns 10");
    ok(R(recvfrom, 3, P(buf), 10, 0, 0, 0, 11), "recvfrom of 10 returning 11 is rejected");
    /* recv(2) MSG_TRUNC: the datagram's real length, at most 65,527. */
    ok(!R(recvfrom, 3, P(buf), 10, LNX_MSG_TRUNC, 0, 0, SHIM_DGRAM_MAX),
       "recvfrom MSG_TRUNC may report a 65527-byte datagram in a 10-byte buffer");
    ok(R(recvfrom, 3, P(buf), 10, LNX_MSG_TRUNC, 0, 0, SHIM_DGRAM_MAX + 1),
       "recvfrom MSG_TRUNC beyond 65527 is rejected");
    ok(!R(readlink, P("/x"), P(buf), 5, 0, 0, 0, 5), "readlink of 5 returns 5");
    ok(R(readlink, P("/x"), P(buf), 5, 0, 0, 0, 6), "readlink of 5 returning 6 is rejected");
    ok(!R(epoll_wait, 3, P(buf), 4, 0, 0, 0, 4), "epoll_wait of 4 events returns 4");
    ok(R(epoll_wait, 3, P(buf), 4, 0, 0, 0, 5), "epoll_wait of 4 events returning 5 is rejected");
    ok(!rejects(KEEP_HC_GET_EVIDENCE, P(buf), 0, 0, 0, 0, 0, 5000, BOTH),
       "keep_get_evidence size query (NULL, 0) may report any size");
    ok(rejects(KEEP_HC_GET_EVIDENCE, P(buf), P(buf), 100, 0, 0, 0, 101, BOTH),
       "keep_get_evidence beyond its buffer is rejected");
}

static void test_write_like(void)
{
    ok(!R(write, 1, P(buf), 8192, 0, 0, 0, 8192), "write of 8192 returns 8192");
    ok(R(write, 1, P(buf), 8192, 0, 0, 0, 8193), "write of 8192 returning 8193 is rejected");
    is_str(caught_rule, "more than given:", "rule: more than given");
    ok(!R(pwrite64, 3, P(buf), 7, 0, 0, 0, 7), "pwrite64 of 7 returns 7");
    ok(R(pwrite64, 3, P(buf), 7, 0, 0, 0, 8), "pwrite64 of 7 returning 8 is rejected");
    /* send(2) is sendto(fd, buf, n, flags, NULL, 0): the address bounds nothing (issue 7). */
    ok(!R(sendto, 3, P(buf), 15, 0, 0, 0, 15), "send() of 15 bytes (NULL address) returns 15");
    ok(R(sendto, 3, P(buf), 15, 0, 0, 0, 16), "send() of 15 returning 16 is rejected");
    is_int(caught_bound, 15, "the bound is the buffer length, not the address length");
    ok(!R(sendto, 3, P(buf), 100, 0, P(buf + 200), 16, 100),
       "sendto of 100 bytes to a 16-byte address returns 100");
    ok(R(sendto, 3, P(buf), 100, 0, P(buf + 200), 16, 101),
       "sendto of 100 to an address returning 101 is rejected");
    const struct keep_chan_call *c = keep_chan_find_call(KEEP_NR_sendmsg);
    int r = setjmp(back) ? 1 : (shim_check_sendmsg(c, 30, 30), 0);
    ok(!r, "sendmsg of 30 returns 30");
    r = setjmp(back) ? 1 : (shim_check_sendmsg(c, 30, 31), 0);
    ok(r, "sendmsg of 30 returning 31 is rejected");
}

static void test_vectored(void)
{
    uint64_t iov[4] = {P(buf), 10, P(buf + 100), 20};
    ok(!R(writev, 1, P(iov), 2, 0, 0, 0, 30), "writev of 10 + 20 returns 30");
    ok(R(writev, 1, P(iov), 2, 0, 0, 0, 31), "writev of 10 + 20 returning 31 is rejected");
    is_str(caught_rule, "more than the iovecs hold:", "rule: the iovec total");
    ok(!R(readv, 0, P(iov), 2, 0, 0, 0, 30), "readv of 10 + 20 returns 30");
    ok(R(readv, 0, P(iov), 2, 0, 0, 0, 31), "readv of 10 + 20 returning 31 is rejected");
    uint64_t huge[4] = {P(buf), UINT64_MAX, P(buf), 2};
    ok(R(readv, 0, P(huge), 2, 0, 0, 0, INT64_MAX) == 0,
       "iovec lengths that would wrap saturate instead of shrinking the bound");
}

static void test_fds(void)
{
    static const uint64_t fd_calls[] = {KEEP_NR_open,         KEEP_NR_openat, KEEP_NR_dup,
                                        KEEP_NR_socket,       KEEP_NR_accept, KEEP_NR_accept4,
                                        KEEP_NR_epoll_create1};
    for (size_t i = 0; i < sizeof(fd_calls) / sizeof(fd_calls[0]); i++) {
        const char *name = name_of(fd_calls[i]);
        ok(!rejects(fd_calls[i], P("/f"), P("/f"), 0, 0, 0, 0, 1023, RESULT),
           "%s may return fd 1023", name);
        ok(rejects(fd_calls[i], P("/f"), P("/f"), 0, 0, 0, 0, 1024, RESULT),
           "%s returning fd 1024 is rejected", name);
    }
    ok(!R(dup2, 3, 7, 0, 0, 0, 0, 7), "dup2(3, 7) returns 7");
    ok(R(dup2, 3, 7, 0, 0, 0, 0, 8), "dup2(3, 7) returning 8 is rejected");
    is_str(caught_rule, "must return newfd", "rule: dup2 returns newfd");
    ok(!R(dup3, 3, 9, 0, 0, 0, 0, 9), "dup3(3, 9) returns 9");
    ok(R(dup3, 3, 9, 0, 0, 0, 0, 4), "dup3(3, 9) returning 4 is rejected");
    ok(!R(fcntl, 3, LNX_F_DUPFD, 5, 0, 0, 0, 5), "fcntl F_DUPFD 5 returns 5");
    ok(R(fcntl, 3, LNX_F_DUPFD, 5, 0, 0, 0, 4), "fcntl F_DUPFD 5 returning 4 is rejected");
    is_str(caught_rule, "fd below its argument", "rule: F_DUPFD at least its argument");
    ok(R(fcntl, 3, LNX_F_DUPFD_CLOEXEC, 5, 0, 0, 0, 1024),
       "fcntl F_DUPFD_CLOEXEC returning 1024 is rejected");
    ok(!R(fcntl, 3, 3 /* F_GETFL */, 0, 0, 0, 0, 0x8002), "fcntl F_GETFL returns any flags");
}

static void test_zero(void)
{
    static const uint64_t zero_calls[] = {KEEP_NR_stat,          KEEP_NR_fstat,       KEEP_NR_lstat,
                                          KEEP_NR_newfstatat,    KEEP_NR_statx,       KEEP_NR_close,
                                          KEEP_NR_clock_gettime, KEEP_NR_gettimeofday};
    for (size_t i = 0; i < sizeof(zero_calls) / sizeof(zero_calls[0]); i++) {
        const char *name = name_of(zero_calls[i]);
        ok(!rejects(zero_calls[i], P("/f"), P(buf), P(buf), 0, P(buf), 0, 0, RESULT),
           "%s returns 0", name);
        ok(rejects(zero_calls[i], P("/f"), P(buf), P(buf), 0, P(buf), 0, 200, RESULT),
           "%s returning 200 is rejected", name);
    }
    int32_t pair[2] = {3, 4};
    ok(!R(pipe2, P(pair), 0, 0, 0, 0, 0, 0), "pipe2 returning 0 with fds 3, 4");
    ok(R(pipe2, P(pair), 0, 0, 0, 0, 0, 1), "pipe2 returning 1 is rejected");
}

static void test_written(void)
{
    int32_t pair[2] = {3, 1023};
    ok(!R(pipe, P(pair), 0, 0, 0, 0, 0, 0), "pipe fds 3 and 1023 are accepted");
    pair[1] = 1024;
    ok(R(pipe, P(pair), 0, 0, 0, 0, 0, 0), "a pipe fd of 1024 is rejected");
    is_str(caught_rule, "pipe fd not below", "rule: pipe fds below 1024");
    pair[0] = -1, pair[1] = 4;
    ok(R(pipe2, P(pair), 0, 0, 0, 0, 0, 0), "a pipe fd of -1 is rejected");

    uint32_t len = 128;
    ok(!R(accept, 3, P(buf), P(&len), 0, 0, 0, 4), "accept with an address length of 128");
    len = 129;
    ok(R(accept, 3, P(buf), P(&len), 0, 0, 0, 4),
       "accept with an address length of 129 is rejected");
    is_str(caught_rule, "address or option length beyond", "rule: address length");
    ok(!R(accept, 3, 0, 0, 0, 0, 0, 4), "accept with no address buffer writes no length");
    ok(R(accept4, 3, P(buf), P(&len), 0, 0, 0, 4), "accept4 with 129 is rejected");
    ok(R(getsockname, 3, P(buf), P(&len), 0, 0, 0, 0), "getsockname with 129 is rejected");
    ok(R(getpeername, 3, P(buf), P(&len), 0, 0, 0, 0), "getpeername with 129 is rejected");
    ok(R(recvfrom, 3, P(buf), 10, 0, P(buf + 100), P(&len), 5), "recvfrom with 129 is rejected");
    len = 128;
    ok(!R(recvfrom, 3, P(buf), 10, 0, P(buf + 100), P(&len), 5), "recvfrom with 128");
    len = 256;
    ok(!R(getsockopt, 3, 1, 3, P(buf), P(&len), 0, 0), "getsockopt with an option length of 256");
    len = 257;
    ok(R(getsockopt, 3, 1, 3, P(buf), P(&len), 0, 0), "getsockopt with 257 is rejected");

    memcpy(buf, "/data\0", 6);
    ok(!R(getcwd, P(buf), 100, 0, 0, 0, 0, 6), "getcwd of \"/data\" returns 6 with its NUL");
    ok(R(getcwd, P(buf), 100, 0, 0, 0, 0, 5), "getcwd whose last byte is not NUL is rejected");
    is_str(caught_rule, "the path has no NUL ending it; bytes", "rule: getcwd NUL");
    ok(R(getcwd, P(buf), 100, 0, 0, 0, 0, 0), "getcwd returning 0 is rejected");
}

/* Append one linux_dirent64 with name and record length reclen at buf + off. */
static size_t put_dirent(uint8_t *b, size_t off, const char *name, uint16_t reclen)
{
    memset(b + off, 0, reclen);
    memcpy(b + off + 16, &reclen, 2);
    memcpy(b + off + 19, name, strlen(name));
    return off + reclen;
}

static void test_dirents(void)
{
    uint8_t d[256];
    size_t n = put_dirent(d, 0, ".", 24);
    n = put_dirent(d, n, "file", 24);
    ok(!R(getdents64, 3, P(d), sizeof(d), 0, 0, 0, (int64_t)n), "two good records");
    ok(R(getdents64, 3, P(d), sizeof(d), 0, 0, 0, (int64_t)n + 10),
       "10 bytes after the records (less than a header) are rejected");
    is_str(caught_rule, "dirent cut short: bytes left below", "rule: a header fits");
    put_dirent(d, 24, "file", 40);
    ok(R(getdents64, 3, P(d), sizeof(d), 0, 0, 0, 48), "a d_reclen past the bytes returned");
    is_str(caught_rule, "d_reclen outside the bytes left:", "rule: d_reclen inside");
    put_dirent(d, 24, "file", 19);
    ok(R(getdents64, 3, P(d), sizeof(d), 0, 0, 0, 48), "a d_reclen of 19 (no room for a NUL)");
    n = put_dirent(d, 0, "abcde", 24);
    memset(d + 19, 'x', 5);
    ok(R(getdents64, 3, P(d), sizeof(d), 0, 0, 0, (int64_t)n),
       "a d_name with no NUL in its record");
    is_str(caught_rule, "d_name has no NUL within d_reclen; name bytes", "rule: d_name NUL");
    ok(!R(getdents64, 3, P(d), sizeof(d), 0, 0, 0, 0), "an empty directory (0 bytes)");
}

static int recvmsg_rejects(uint64_t flags, bool has_name, uint64_t given, int64_t r,
                           uint32_t namelen, uint32_t msg_flags)
{
    const struct keep_chan_call *c = keep_chan_find_call(KEEP_NR_recvmsg);
    if (setjmp(back))
        return 1;
    shim_check_recvmsg(c, flags, has_name, given, r, namelen, msg_flags);
    return 0;
}

static void test_recvmsg(void)
{
    ok(!recvmsg_rejects(0, true, 30, 30, 16, LNX_MSG_EOR), "recvmsg of 30 with a 16-byte address");
    ok(recvmsg_rejects(0, true, 30, 31, 16, 0), "recvmsg of 30 returning 31 is rejected");
    ok(!recvmsg_rejects(LNX_MSG_TRUNC, false, 30, SHIM_DGRAM_MAX, 0, LNX_MSG_TRUNC),
       "recvmsg MSG_TRUNC may report 65527");
    ok(recvmsg_rejects(LNX_MSG_TRUNC, false, 30, SHIM_DGRAM_MAX + 1, 0, 0),
       "recvmsg MSG_TRUNC beyond 65527 is rejected");
    ok(!recvmsg_rejects(0, true, 30, 1, 128, SHIM_RECV_FLAGS_OUT), "msg_namelen 128, every flag");
    ok(recvmsg_rejects(0, true, 30, 1, 129, 0), "msg_namelen 129 is rejected");
    is_str(caught_rule, "msg_namelen beyond", "rule: msg_namelen");
    ok(!recvmsg_rejects(0, false, 30, 1, 500, 0), "msg_namelen is not checked without a name");
    ok(recvmsg_rejects(0, false, 30, 1, 0, LNX_MSG_PEEK), "msg_flags MSG_PEEK is rejected");
    is_str(caught_rule, "msg_flags has bits outside", "rule: msg_flags");
}

/* Issue 11/12 calls: link, chown, statfs, getrusage return 0; sendfile, fcntl locks. */
static void test_fs_calls(void)
{
    ok(!R(link, P("a"), P("b"), 0, 0, 0, 0, 0), "link may return 0");
    ok(R(symlinkat, P("a"), 3, P("b"), 0, 0, 0, 1), "symlinkat returning 1 is rejected");
    ok(R(fchown, 3, 0, 0, 0, 0, 0, 5), "fchown returning 5 is rejected");
    ok(R(getrusage, 0, P(buf), 0, 0, 0, 0, 144), "getrusage returning 144 is rejected");
    ok(!R(sendfile, 4, 3, 0, 100, 0, 0, 100), "sendfile may move the bytes asked");
    ok(R(sendfile, 4, 3, 0, 100, 0, 0, 101), "sendfile beyond its count is rejected");
    is_str(caught_rule, "more than asked:", "rule: more than asked");
    memset(buf, 0, 32);
    ok(!R(fcntl, 3, KEEP_F_SETLK, P(buf), 0, 0, 0, 0), "F_SETLK may return 0");
    ok(R(fcntl, 3, KEEP_F_SETLKW, P(buf), 0, 0, 0, 1), "F_SETLKW returning 1 is rejected");
    is_str(caught_rule, "a lock command must return", "rule: a lock command returns 0");
    ok(!R(fcntl, 3, 3 /* F_GETFL */, 2, 0, 0, 0, 2), "F_GETFL may return flags (a value arg)");
    buf[0] = 2; /* F_UNLCK */
    ok(!R(fcntl, 3, KEEP_F_GETLK, P(buf), 0, 0, 0, 0), "F_GETLK may report F_UNLCK");
    buf[0] = 3;
    ok(R(fcntl, 3, KEEP_F_OFD_GETLK, P(buf), 0, 0, 0, 0), "F_OFD_GETLK l_type 3 is rejected");
    is_str(caught_rule, "F_GETLK l_type beyond", "rule: l_type 0, 1 or 2");
}

int main(void)
{
    test_errno();
    test_read_like();
    test_write_like();
    test_vectored();
    test_fds();
    test_zero();
    test_written();
    test_dirents();
    test_recvmsg();
    test_fs_calls();
    return done_testing();
}
