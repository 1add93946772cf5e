/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wl_steward HOST PORT CA_FILE OUT_DIR [WORKLOAD [SECRET...]]: enroll with keep-steward
 * from inside a Keep (keep_steward_enroll), writing key.pem, cert.pem, ca.pem and
 * secrets/SECRET into OUT_DIR. Prints "enrolled" on success, the failing step otherwise.
 *
 * With WL_SERVE=PORT in the environment it then serves ONE HTTPS request on
 * 127.0.0.1:PORT with the identity it just obtained (TLS terminated in the Keep),
 * answering "hello from a Keep", so a host client can verify that identity with
 * curl --cacert ca.pem.
 *
 * With WL_COUNTER=NAME it then drives the steward counter NAME with the new identity
 * (keep_steward_counter_get / keep_steward_counter): read, compare-and-swap from the value
 * read to value+1, then a stale swap from the value read again, printing one line each:
 *   counter NAME = V / counter NAME V -> W / counter NAME stale: holds W
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keep/steward_client.h"

static int serve_once(const char *dir, int port)
{
    char cert[1024], key[1024];
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "wl_steward: cannot load %s / %s\n", cert, key);
        return 1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(ls, 1) != 0) {
        perror("wl_steward: listen");
        return 1;
    }
    printf("serving on 127.0.0.1:%d\n", port);
    fflush(stdout);
    int fd = accept(ls, NULL, NULL);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    int rc = 1;
    if (SSL_accept(ssl) == 1) {
        char buf[4096];
        SSL_read(ssl, buf, sizeof(buf));
        static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                     "Content-Length: 18\r\nConnection: close\r\n\r\n"
                                     "hello from a Keep\n";
        rc = SSL_write(ssl, answer, (int)sizeof(answer) - 1) > 0 ? 0 : 1;
        SSL_shutdown(ssl);
    }
    SSL_free(ssl);
    close(fd);
    close(ls);
    SSL_CTX_free(ctx);
    return rc;
}

static int drive_counter(const char *host, int port, const char *dir, const char *name)
{
    char ca[1024], cert[1024], key[1024], msg[512];
    snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    struct keep_steward_session s = {
        .host = host, .port = port, .ca_file = ca, .cert_file = cert, .key_file = key};
    uint64_t v, now;
    if (keep_steward_counter_get(&s, name, &v, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "wl_steward: %s\n", msg);
        return 1;
    }
    printf("counter %s = %llu\n", name, (unsigned long long)v);
    if (keep_steward_counter(&s, name, v, v + 1, &now, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "wl_steward: swap: %s\n", msg);
        return 1;
    }
    printf("counter %s %llu -> %llu\n", name, (unsigned long long)v, (unsigned long long)now);
    int rc = keep_steward_counter(&s, name, v, v + 1, &now, msg, sizeof(msg));
    if (rc != 1) {
        fprintf(stderr, "wl_steward: stale swap returned %d: %s\n", rc, rc < 0 ? msg : "");
        return 1;
    }
    printf("counter %s stale: holds %llu\n", name, (unsigned long long)now);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: wl_steward HOST PORT CA_FILE OUT_DIR [WORKLOAD [SECRET...]]\n");
        return 2;
    }
    struct keep_steward_enroll_opts o = {
        .host = argv[1],
        .port = atoi(argv[2]),
        .ca_file = argv[3],
        .out_dir = argv[4],
        .workload = argc > 5 && argv[5][0] ? argv[5] : NULL,
        .secrets = (const char *const *)(argv + 6),
        .secret_count = argc > 6 ? (size_t)(argc - 6) : 0,
    };
    char msg[512];
    if (keep_steward_enroll(&o, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "wl_steward: %s\n", msg);
        return 1;
    }
    printf("enrolled\n");
    fflush(stdout);
    const char *counter = getenv("WL_COUNTER");
    if (counter && drive_counter(o.host, o.port, o.out_dir, counter) != 0)
        return 1;
    const char *serve = getenv("WL_SERVE");
    return serve ? serve_once(o.out_dir, atoi(serve)) : 0;
}
