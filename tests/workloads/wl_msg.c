/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sendmsg/recvmsg round trips to itself: wl_msg ADDR PORT CHANNEL [unconfined].
 * The Keep needs --listen ADDR:PORT and --connect ADDR:PORT. Over UDP and
 * TCP it sends gathered iovecs and receives them scattered over differently
 * cut iovecs, with and without an address, a truncated datagram, a short
 * address buffer, and messages larger than the bounce data area (a TCP
 * stream may be split, a UDP datagram of that size is EMSGSIZE on bounce).
 * CHANNEL is the Keep's --channel; "unconfined" (nil) skips the checks of
 * what only a Keep refuses.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "wl.h"

#define BIG_DGRAM  64000u  /* above the 60 KiB bounce data area, below the UDP maximum */
#define BIG_STREAM 150000u /* several data areas */

static struct sockaddr_in target;
static int confined, bounce;

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 31u + seed);
}

/* Cut buf into count iovecs of the given sizes (the last takes the rest). */
static void cut(struct iovec *iov, size_t count, uint8_t *buf, size_t total, const size_t *sizes)
{
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = i + 1 == count ? total - at : sizes[i];
        iov[i] = (struct iovec){.iov_base = buf + at, .iov_len = n};
        at += n;
    }
}

static void udp_checks(void)
{
    int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
    if (!wl_check(rx >= 0 && tx >= 0, "two UDP sockets"))
        return;
    if (!wl_check(bind(rx, (struct sockaddr *)&target, sizeof(target)) == 0,
                  "UDP bind to the --listen address"))
        return;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    /* Gathered from three iovecs, scattered over two with the sender's address. */
    char a[] = "scatter", b[] = "/gather", c[] = " over UDP";
    struct iovec out[3] = {{a, 7}, {b, 7}, {c, 9}};
    struct msghdr sm = {
        .msg_name = &target, .msg_namelen = sizeof(target), .msg_iov = out, .msg_iovlen = 3};
    wl_check(sendmsg(tx, &sm, 0) == 23, "UDP sendmsg of 3 iovecs with an address: 23 bytes");
    char r1[5], r2[64];
    struct sockaddr_in from;
    memset(&from, 0xee, sizeof(from));
    struct iovec in[2] = {{r1, 5}, {r2, sizeof(r2)}};
    struct msghdr rm = {.msg_name = &from,
                        .msg_namelen = sizeof(from),
                        .msg_iov = in,
                        .msg_iovlen = 2,
                        .msg_flags = 0x7777};
    ssize_t n = recvmsg(rx, &rm, 0);
    wl_check(n == 23 && memcmp(r1, "scatt", 5) == 0 && memcmp(r2, "er/gather over UDP", 18) == 0,
             "UDP recvmsg scatters one datagram over 2 iovecs (%zd bytes)", n);
    struct sockaddr_in me;
    socklen_t ml = sizeof(me);
    getsockname(tx, (struct sockaddr *)&me, &ml);
    wl_check(rm.msg_namelen == sizeof(from) && from.sin_family == AF_INET &&
                 from.sin_port == me.sin_port,
             "UDP recvmsg names the sender (namelen %u, port %u)", rm.msg_namelen,
             ntohs(from.sin_port));
    wl_check(rm.msg_flags == 0 && rm.msg_controllen == 0, "UDP recvmsg msg_flags 0 (0x%x)",
             rm.msg_flags);

    /* A datagram larger than the buffer: truncated, MSG_TRUNC; a short address buffer. */
    uint8_t big[100], small[10];
    fill(big, sizeof(big), 1);
    struct iovec one = {big, sizeof(big)};
    sm = (struct msghdr){
        .msg_name = &target, .msg_namelen = sizeof(target), .msg_iov = &one, .msg_iovlen = 1};
    wl_check(sendmsg(tx, &sm, 0) == 100, "UDP sendmsg of 100 bytes");
    uint8_t name8[8];
    struct iovec sv = {small, sizeof(small)};
    rm = (struct msghdr){
        .msg_name = name8, .msg_namelen = sizeof(name8), .msg_iov = &sv, .msg_iovlen = 1};
    n = recvmsg(rx, &rm, 0);
    wl_check(n == 10 && memcmp(small, big, 10) == 0 && (rm.msg_flags & MSG_TRUNC),
             "UDP recvmsg into 10 bytes: 10 bytes and MSG_TRUNC (%zd, flags 0x%x)", n,
             rm.msg_flags);
    wl_check(rm.msg_namelen == sizeof(struct sockaddr_in),
             "an 8-byte address buffer gets the real length 16 (%u)", rm.msg_namelen);

    /* recv with MSG_TRUNC reports the datagram's real length (recv(2)). */
    wl_check(sendmsg(tx, &sm, 0) == 100, "UDP sendmsg of 100 bytes again");
    n = recvfrom(rx, small, sizeof(small), MSG_TRUNC, NULL, NULL);
    wl_check(n == 100 && memcmp(small, big, 10) == 0,
             "UDP recvfrom MSG_TRUNC into 10 bytes reports the real length 100 (%zd)", n);

    /* writev/readv: one datagram however many iovecs (a connected UDP socket). */
    wl_check(connect(tx, (struct sockaddr *)&target, sizeof(target)) == 0,
             "UDP connect to the --connect address");
    wl_check(writev(tx, out, 3) == 23, "UDP writev of 3 iovecs: 23 bytes");
    wl_check(writev(tx, out + 2, 1) == 9, "UDP writev of 1 iovec: 9 bytes");
    memset(r2, 0, sizeof(r2));
    n = readv(rx, in, 2);
    wl_check(n == 23 && memcmp(r1, "scatt", 5) == 0 && memcmp(r2, "er/gather over UDP", 18) == 0,
             "UDP readv gets the first datagram whole over 2 iovecs (%zd)", n);
    n = readv(rx, in, 2);
    wl_check(n == 9 && memcmp(r1, " over", 5) == 0, "... and the second one apart (%zd)", n);

    /* A datagram larger than the bounce data area: never split. */
    static uint8_t huge[BIG_DGRAM], back[BIG_DGRAM];
    fill(huge, sizeof(huge), 7);
    struct iovec hv[2];
    cut(hv, 2, huge, sizeof(huge), (const size_t[]){1000});
    sm = (struct msghdr){
        .msg_name = &target, .msg_namelen = sizeof(target), .msg_iov = hv, .msg_iovlen = 2};
    n = sendmsg(tx, &sm, 0);
    if (bounce && confined) {
        wl_check(n == -1 && errno == EMSGSIZE,
                 "bounce: a %u-byte datagram does not fit the data area: EMSGSIZE (%zd)", BIG_DGRAM,
                 n);
    } else {
        wl_check(n == BIG_DGRAM, "UDP sendmsg of a %u-byte datagram (%zd)", BIG_DGRAM, n);
        struct iovec bv = {back, sizeof(back)};
        rm = (struct msghdr){.msg_iov = &bv, .msg_iovlen = 1};
        n = recvmsg(rx, &rm, 0);
        wl_check(n == BIG_DGRAM && memcmp(back, huge, sizeof(huge)) == 0,
                 "... which arrives whole (%zd)", n);
    }

    /* recvfrom with an address and a buffer larger than the bounce data area. */
    wl_check(sendto(tx, "sendto", 6, 0, (struct sockaddr *)&target, sizeof(target)) == 6,
             "UDP sendto of 6 bytes");
    socklen_t fl = sizeof(from);
    n = recvfrom(rx, back, sizeof(back), 0, (struct sockaddr *)&from, &fl);
    wl_check(n == 6 && memcmp(back, "sendto", 6) == 0 && fl == sizeof(from) &&
                 from.sin_port == me.sin_port,
             "UDP recvfrom into %zu bytes with an address (%zd, addrlen %u)", sizeof(back), n, fl);

    /* What the Keep refuses on both paths (direct: the executor; bounce: the shim). */
    struct sockaddr_storage ss = {0};
    memcpy(&ss, &target, sizeof(target));
    sm = (struct msghdr){.msg_name = &ss, .msg_namelen = 200, .msg_iov = out, .msg_iovlen = 3};
    wl_check(sendmsg(tx, &sm, 0) == 23,
             "msg_namelen 200 is cut to a sockaddr_storage, as Linux does");
    n = recvmsg(rx, &(struct msghdr){.msg_iov = in, .msg_iovlen = 2}, 0);
    wl_check(n == 23, "... and that datagram arrives (%zd)", n);
    sm.msg_namelen = 0x80000000u;
    wl_check(sendmsg(tx, &sm, 0) == -1 && errno == EINVAL, "msg_namelen 2^31 (negative): EINVAL");
    if (confined) {
        uint64_t control[8] = {0};
        sm = (struct msghdr){.msg_name = &target,
                             .msg_namelen = sizeof(target),
                             .msg_iov = out,
                             .msg_iovlen = 3,
                             .msg_control = control,
                             .msg_controllen = sizeof(control)};
        wl_check(sendmsg(tx, &sm, 0) == -1 && errno == EINVAL,
                 "ancillary data (msg_controllen 64): EINVAL");
        static struct iovec many[1025];
        for (size_t i = 0; i < 1025; i++)
            many[i] = (struct iovec){a, 1};
        sm = (struct msghdr){.msg_name = &target,
                             .msg_namelen = sizeof(target),
                             .msg_iov = many,
                             .msg_iovlen = 1025};
        wl_check(sendmsg(tx, &sm, 0) == -1 && errno == EINVAL, "1025 iovecs: EINVAL");
        sm = (struct msghdr){.msg_name = &target,
                             .msg_namelen = sizeof(target),
                             .msg_iov = (struct iovec *)8,
                             .msg_iovlen = 1};
        wl_check(sendmsg(tx, &sm, 0) == -1 && errno == EFAULT, "iovec array at address 8: EFAULT");
        struct iovec wild = {(void *)16, 4};
        sm.msg_iov = &wild;
        wl_check(sendmsg(tx, &sm, 0) == -1 && errno == EFAULT, "iov_base at address 16: EFAULT");
        wl_check(sendmsg(tx, (struct msghdr *)24, 0) == -1 && errno == EFAULT,
                 "msghdr at address 24: EFAULT");
    }
    close(rx);
    close(tx);
}

/* Read exactly n bytes with recvmsg over 3 iovecs, MSG_WAITALL (short reads retried). */
static size_t recv_all(int s, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct iovec iov[3];
        cut(iov, 3, buf + got, n - got, (const size_t[]){(n - got) / 3, (n - got) / 3});
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = 3};
        ssize_t r = recvmsg(s, &m, MSG_WAITALL);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static void tcp_checks(void)
{
    int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);
    if (!wl_check(l >= 0 && c >= 0, "two TCP sockets"))
        return;
    int one = 1, buf = 1 << 20;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(l, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    setsockopt(c, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* never hang the suite */
    if (!wl_check(bind(l, (struct sockaddr *)&target, sizeof(target)) == 0 && listen(l, 1) == 0,
                  "TCP listen on the --listen address") ||
        !wl_check(connect(c, (struct sockaddr *)&target, sizeof(target)) == 0,
                  "TCP connect to the --connect address"))
        return;
    int s = accept(l, NULL, NULL);
    if (!wl_check(s >= 0, "accept"))
        return;
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    char a[] = "stream ", b[] = "of ", d[] = "iovecs";
    struct iovec out[3] = {{a, 7}, {b, 3}, {d, 6}};
    struct msghdr sm = {.msg_iov = out, .msg_iovlen = 3};
    wl_check(sendmsg(c, &sm, 0) == 16, "TCP sendmsg of 3 iovecs: 16 bytes");
    char r1[10], r2[6];
    struct iovec in[2] = {{r1, 10}, {r2, 6}};
    struct msghdr rm = {.msg_iov = in, .msg_iovlen = 2};
    ssize_t n = recvmsg(s, &rm, MSG_WAITALL);
    wl_check(n == 16 && memcmp(r1, "stream of ", 10) == 0 && memcmp(r2, "iovecs", 6) == 0,
             "TCP recvmsg MSG_WAITALL scatters them over 2 iovecs (%zd)", n);

    /* Larger than the bounce data area: a stream may travel in several calls. */
    static uint8_t src[BIG_STREAM], dst[BIG_STREAM];
    fill(src, sizeof(src), 3);
    struct iovec bv[4];
    cut(bv, 4, src, sizeof(src), (const size_t[]){1, 70000, 5});
    sm = (struct msghdr){.msg_iov = bv, .msg_iovlen = 4};
    n = sendmsg(c, &sm, 0);
    wl_check(n == BIG_STREAM, "TCP sendmsg of %u bytes in 4 iovecs (%zd)", BIG_STREAM, n);
    size_t got = recv_all(s, dst, n > 0 ? (size_t)n : 0);
    wl_check(n > 0 && got == (size_t)n && memcmp(src, dst, got) == 0,
             "TCP recvmsg MSG_WAITALL gets them back in order (%zu)", got);
    close(s);
    close(c);
    close(l);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: wl_msg ADDR PORT CHANNEL [unconfined]\n");
        return 2;
    }
    target =
        (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &target.sin_addr);
    bounce = strcmp(argv[3], "bounce") == 0;
    confined = !(argc > 4 && strcmp(argv[4], "unconfined") == 0);
    udp_checks();
    tcp_checks();
    return wl_done();
}
