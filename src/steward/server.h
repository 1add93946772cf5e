/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep-steward's HTTP front: HTTP/1.1 over TLS 1.3 (libevent evhttp +
 * bufferevent_openssl) for the public API, and plain HTTP on a 0600 Unix
 * socket for the admin API (docs/STEWARD.md).
 */
#ifndef KEEP_STEWARD_SERVER_H
#define KEEP_STEWARD_SERVER_H

#include "steward/steward.h"

struct steward_server_config {
    const char *listen_host; /* "127.0.0.1" */
    int listen_port;         /* 0: any free port (printed when ready) */
    const char *admin_socket;
    const char *const *dns; /* names for the service's own TLS certificate */
    size_t dns_count;
    int max_conns_per_client; /* concurrent TLS connections per client address */
    int max_conns;            /* in all */
    size_t max_body;          /* bytes */
    int workers;              /* threads verifying evidence; 0: on the event loop */
};

#define STEWARD_MAX_WORKERS 16

/* Serve until SIGTERM/SIGINT. Prints "keep-steward: listening on https://HOST:PORT" when ready. */
int steward_serve(struct steward *s, const struct steward_server_config *cfg,
                  struct keep_error *err);

#endif
