/* SPDX-License-Identifier: Apache-2.0 */
#include "steward/fetch.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fetch {
    struct event_base *base;
    int status;
    struct steward_bytes body;
    bool too_large;
    const char *header; /* a response header to keep (NULL: none) */
    char *header_value;
};

static void done(struct evhttp_request *req, void *arg)
{
    struct fetch *f = arg;
    if (req) {
        f->status = evhttp_request_get_response_code(req);
        const char *h =
            f->header ? evhttp_find_header(evhttp_request_get_input_headers(req), f->header) : NULL;
        if (h)
            f->header_value = strdup(h);
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        if (n > STEWARD_FETCH_MAX) {
            f->too_large = true;
        } else if ((f->body.data = malloc(n ? n : 1))) {
            evbuffer_remove(in, f->body.data, n);
            f->body.size = n;
        }
    }
    event_base_loopexit(f->base, NULL);
}

int steward_fetch(const char *url, int timeout_seconds, struct steward_bytes *out,
                  struct keep_error *err)
{
    return steward_fetch_header(url, timeout_seconds, NULL, out, NULL, err);
}

int steward_fetch_header(const char *url, int timeout_seconds, const char *header,
                         struct steward_bytes *out, char **header_value, struct keep_error *err)
{
    memset(out, 0, sizeof(*out));
    if (header_value)
        *header_value = NULL;
    struct evhttp_uri *uri = evhttp_uri_parse(url);
    const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
    const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
    bool tls = scheme && strcmp(scheme, "https") == 0;
    if (!host || !scheme || (!tls && strcmp(scheme, "http") != 0)) {
        evhttp_uri_free(uri);
        return keep_fail(err, KEEP_E_STEWARD_COLLATERAL_FETCH, "%.200s is not an http(s) URL", url);
    }
    int port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : tls ? 443 : 80;
    char path[2048];
    const char *query = evhttp_uri_get_query(uri);
    snprintf(path, sizeof(path), "%s%s%s",
             *evhttp_uri_get_path(uri) ? evhttp_uri_get_path(uri) : "/", query ? "?" : "",
             query ? query : "");
    struct fetch f = {.base = event_base_new(), .header = header};
    SSL_CTX *ctx = NULL;
    struct bufferevent *bev = NULL;
    if (tls) {
        ctx = SSL_CTX_new(TLS_client_method());
        SSL *ssl = ctx && SSL_CTX_set_default_verify_paths(ctx) ? SSL_new(ctx) : NULL;
        if (ssl) {
            SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
            char sni[256]; /* a mutable copy: the macro casts to void * */
            snprintf(sni, sizeof(sni), "%s", host);
            SSL_set_tlsext_host_name(ssl, sni);
            X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl), host, 0);
            bev = bufferevent_openssl_socket_new(f.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                 BEV_OPT_CLOSE_ON_FREE);
        }
    } else {
        bev = bufferevent_socket_new(f.base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    struct evhttp_connection *conn =
        bev ? evhttp_connection_base_bufferevent_new(f.base, NULL, bev, host, (ev_uint16_t)port)
            : NULL;
    struct evhttp_request *req = conn ? evhttp_request_new(done, &f) : NULL;
    int rc = KEEP_OK;
    if (!req) {
        rc = keep_fail(err, KEEP_E_STEWARD_COLLATERAL_FETCH, "%.200s: cannot set up the request",
                       url);
    } else {
        evhttp_connection_set_timeout(conn, timeout_seconds);
        evhttp_connection_set_max_body_size(conn, STEWARD_FETCH_MAX);
        evhttp_connection_set_max_headers_size(conn, STEWARD_FETCH_HEADERS_MAX);
        evhttp_connection_set_retries(conn, 0);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
        if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, path) == 0)
            event_base_dispatch(f.base);
        if (f.status != 200 || !f.body.data || f.too_large) {
            rc = keep_fail(err, KEEP_E_STEWARD_COLLATERAL_FETCH, "GET %.200s: %s %d", url,
                           f.too_large ? "reply over 1 MiB,"
                           : f.status  ? "HTTP"
                                       : "no reply",
                           f.status);
            free(f.body.data);
        } else {
            *out = f.body;
            if (header_value) {
                *header_value = f.header_value;
                f.header_value = NULL;
            }
        }
    }
    if (conn)
        evhttp_connection_free(conn);
    else if (bev)
        bufferevent_free(bev);
    free(f.header_value);
    event_base_free(f.base);
    SSL_CTX_free(ctx);
    evhttp_uri_free(uri);
    return rc;
}
