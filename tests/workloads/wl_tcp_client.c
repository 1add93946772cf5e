/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP client: wl_tcp_client ADDR PORT REFUSED_ADDR REFUSED_PORT [unconfined].
 * Sends "ping\n" to the allowed server with send() (sendto with a NULL
 * address, as libc's send is) and expects "pong\n" through recv(). The test
 * listens on REFUSED_ADDR:REFUSED_PORT too, so connecting there would
 * succeed on the host: inside the Keep it must fail because --connect did
 * not allow it. "unconfined" skips that check (nil cannot enforce it).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

static int dial(const char *addr, const char *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port))};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        return -1;
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: wl_tcp_client ADDR PORT REFUSED_ADDR REFUSED_PORT\n");
        return 2;
    }
    int s = dial(argv[1], argv[2]);
    if (wl_check(s >= 0, "connect %s:%s", argv[1], argv[2])) {
        char buf[16] = {0};
        wl_check(send(s, "ping\n", 5, 0) == 5, "send() ping");
        size_t got = 0;
        for (ssize_t n; got < 5 && (n = recv(s, buf + got, 5 - got, 0)) > 0;)
            got += (size_t)n;
        wl_check(got == 5 && memcmp(buf, "pong\n", 5) == 0, "receive pong");
        close(s);
    }
    if (!(argc > 5 && strcmp(argv[5], "unconfined") == 0)) {
        int r = dial(argv[3], argv[4]);
        wl_check(r < 0 && errno != ECONNREFUSED,
                 "connect %s:%s (listening, but not allowed) is refused by the Keep", argv[3],
                 argv[4]);
        if (r >= 0)
            close(r);
    }
    return wl_done();
}
