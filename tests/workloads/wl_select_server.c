/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A select()-based TCP echo server: wl_select_server ADDR PORT CLIENTS.
 * Serves all clients at once from one thread, echoing what each sends,
 * and exits 0 once CLIENTS connections have come and gone.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wl.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: wl_select_server ADDR PORT CLIENTS\n");
        return 2;
    }
    int want = atoi(argv[3]), done = 0, one = 1;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    inet_pton(AF_INET, argv[1], &sin.sin_addr);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(ls, (struct sockaddr *)&sin, sizeof(sin)) || listen(ls, 8)) {
        perror("bind/listen");
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    int clients[FD_SETSIZE];
    int count = 0;
    while (done < want) {
        fd_set r;
        FD_ZERO(&r);
        FD_SET(ls, &r);
        int maxfd = ls;
        for (int i = 0; i < count; i++) {
            FD_SET(clients[i], &r);
            maxfd = clients[i] > maxfd ? clients[i] : maxfd;
        }
        struct timeval tv = {30, 0};
        int n = select(maxfd + 1, &r, NULL, NULL, &tv);
        if (n <= 0) {
            printf("not ok - select returned %d (errno %d)\n", n, errno);
            return 1;
        }
        if (FD_ISSET(ls, &r)) {
            int c = accept(ls, NULL, NULL);
            if (c >= 0)
                clients[count++] = c;
        }
        for (int i = 0; i < count; i++) {
            if (!FD_ISSET(clients[i], &r))
                continue;
            char buf[4096];
            ssize_t got = read(clients[i], buf, sizeof(buf));
            if (got > 0 && write(clients[i], buf, (size_t)got) == got)
                continue;
            close(clients[i]);
            clients[i--] = clients[--count];
            done++;
        }
    }
    printf("served %d clients\n", done);
    return 0;
}
