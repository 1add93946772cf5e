/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An unbound UDP socket talks to its --connect peer: wl_udp_peer ADDR PORT.
 * The Keep has --connect ADDR:PORT and no --listen. The workload sends
 * "hello" with sendto (or sendmsg, "msg" as a third argument); the host-side
 * peer then has a third socket send "intruder" to the workload's address
 * before the peer itself answers "reply:hello". Linux would have bound the
 * socket to 0.0.0.0:ephemeral on the first send, open to datagrams from any
 * source; in a Keep only the peer's reply may arrive. The socket still looks
 * unconnected to the guest, as on Linux: getpeername is ENOTCONN and send
 * without an address is EDESTADDRREQ (udp(7), send(2)).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "wl.h"

static ssize_t send_hello(int s, const struct sockaddr_in *peer, int use_msg)
{
    char hello[] = "hello";
    if (!use_msg)
        return sendto(s, hello, 5, 0, (const struct sockaddr *)peer, sizeof(*peer));
    struct iovec iov = {hello, 5};
    struct msghdr m = {
        .msg_name = (void *)peer, .msg_namelen = sizeof(*peer), .msg_iov = &iov, .msg_iovlen = 1};
    return sendmsg(s, &m, 0);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: wl_udp_peer ADDR PORT [msg]\n");
        return 2;
    }
    int use_msg = argc > 3 && strcmp(argv[3], "msg") == 0;
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &peer.sin_addr);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (!wl_check(s >= 0, "UDP socket"))
        return wl_done();
    struct timeval tv = {.tv_sec = 120}; /* only bounds a broken run */
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    wl_check(send_hello(s, &peer, use_msg) == 5, "%s \"hello\" to the --connect peer %s:%s",
             use_msg ? "sendmsg" : "sendto", argv[1], argv[2]);

    struct sockaddr_in from;
    socklen_t fl = sizeof(from);
    char buf[64] = {0};
    ssize_t n = recvfrom(s, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
    wl_check(n == 11 && memcmp(buf, "reply:hello", 11) == 0,
             "the first datagram is the peer's reply (got %zd bytes \"%s\")", n, n > 0 ? buf : "");
    wl_check(n > 0 && from.sin_port == peer.sin_port &&
                 from.sin_addr.s_addr == peer.sin_addr.s_addr,
             "... from the peer's address (port %u)", (unsigned)ntohs(from.sin_port));
    errno = 0;
    n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
    wl_check(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK),
             "the intruder's datagram never arrives (recv is EAGAIN, got %zd)", n);

    struct sockaddr_in name;
    socklen_t nl = sizeof(name);
    errno = 0;
    wl_check(wl_failed_with(getpeername(s, (struct sockaddr *)&name, &nl), ENOTCONN, ENOTCONN),
             "getpeername is ENOTCONN: the guest never connected");
    errno = 0;
    wl_check(wl_failed_with(send(s, "x", 1, 0), EDESTADDRREQ, EDESTADDRREQ),
             "send without an address is EDESTADDRREQ");
    errno = 0;
    wl_check(wl_failed_with(write(s, "x", 1), EDESTADDRREQ, EDESTADDRREQ), "write is EDESTADDRREQ");
    /* A second send reuses the socket's association. */
    wl_check(send_hello(s, &peer, use_msg) == 5, "a second \"hello\" to the peer");
    close(s);
    return wl_done();
}
