/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wl_linger ADDR PORT: connects, sets SO_LINGER {1, 3600}, fills the socket
 * until the send queue is full (the peer does not read yet), prints
 * "sent N" and exits without closing. On Linux the exit does not wait on
 * the linger time: the kernel sends the rest and a FIN in the background
 * (inet_release, PF_EXITING), so the peer later reads all N bytes and EOF.
 * The test checks a Keep gives the peer the same and keep itself exits.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: wl_linger ADDR PORT\n");
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &sa.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (!wl_check(s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s:%s",
                  argv[1], argv[2]))
        return wl_done();
    struct linger l = {.l_onoff = 1, .l_linger = 3600};
    wl_check(setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == 0, "SO_LINGER {1, 3600}");
    int flags = fcntl(s, F_GETFL);
    wl_check(flags >= 0 && fcntl(s, F_SETFL, flags | O_NONBLOCK) == 0, "O_NONBLOCK");
    static char chunk[65536];
    memset(chunk, 'L', sizeof(chunk));
    unsigned long long sent = 0;
    for (;;) {
        ssize_t n = write(s, chunk, sizeof(chunk));
        if (n > 0) {
            sent += (unsigned long long)n;
            continue;
        }
        wl_check(n < 0 && errno == EAGAIN, "writes stop with EAGAIN: the send queue is full");
        break;
    }
    printf("sent %llu\n", sent);
    return wl_done(); /* exit with the socket open, its queue full */
}
