/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP echo server: wl_echo_server ADDR PORT [CONNECTIONS [unconfined]].
 * Prints "listening" once it accepts, then echoes each connection until
 * EOF with recv() and send() (sendto and recvfrom with NULL addresses, as
 * libc makes them). First it checks that binding PORT+1, which the Keep was not given,
 * fails; "unconfined" skips that check for the nil backend, which cannot
 * enforce single addresses (docs/KEEP.md, "The nil backend").
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: wl_echo_server ADDR PORT [CONNECTIONS]\n");
        return 2;
    }
    int conns = argc > 3 ? atoi(argv[3]) : 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &sa.sin_addr);

    if (!(argc > 4 && strcmp(argv[4], "unconfined") == 0)) {
        int other = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in bad = sa;
        bad.sin_port = htons((uint16_t)(atoi(argv[2]) + 1));
        wl_check(other >= 0 && bind(other, (struct sockaddr *)&bad, sizeof(bad)) != 0,
                 "bind to a port not given with --listen is refused");
        close(other);
    }

    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (!wl_check(s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0, "bind %s:%s", argv[1],
                  argv[2]) ||
        !wl_check(listen(s, 4) == 0, "listen"))
        return wl_done();
    printf("listening\n");
    fflush(stdout);
    for (int i = 0; i < conns; i++) {
        int c = accept(s, NULL, NULL);
        if (!wl_check(c >= 0, "accept"))
            break;
        char buf[4096];
        ssize_t n;
        size_t total = 0;
        while ((n = recv(c, buf, sizeof(buf), 0)) > 0) {
            if (send(c, buf, (size_t)n, 0) != n)
                break;
            total += (size_t)n;
        }
        wl_check(n == 0, "echoed %zu bytes until EOF", total);
        close(c);
    }
    close(s);
    return wl_done();
}
