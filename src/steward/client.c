/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep_steward_enroll(): the Keep side of keep-steward. Runs inside a Keep
 * (static glibc + libssl.a/libcrypto.a); talks HTTP/1.1 over TLS 1.3 to the
 * service and verifies it with the CA given. One connection per request,
 * "Connection: close", bodies read to EOF and checked against Content-Length
 * (the host carries the TCP stream and could cut it short): the simplest
 * correct client.
 */
#include "keep/steward_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keep/keep.h"

#define REPLY_MAX (1 << 20)

struct enroll {
    const struct keep_steward_enroll_opts *o;
    char *msg;
    size_t msg_size;
    EVP_PKEY *key;
    X509 *cert;       /* once issued: the client certificate for mTLS */
    size_t body_size; /* bytes of the last reply's body (a secret may hold NUL bytes) */
};

static int fail(struct enroll *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct enroll *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, e->msg_size, fmt, ap);
    va_end(ap);
    return -1;
}

static int dial(struct enroll *e)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)e->o->port)};
    if (inet_pton(AF_INET, e->o->host, &sa.sin_addr) != 1)
        return fail(e, "host %s is not an IPv4 address", e->o->host);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return fail(e, "connect %s:%d: %s", e->o->host, e->o->port, strerror(err));
    }
    return fd;
}

/* The trust anchor: only the CA given, never the system's store. 1 on success. */
static int load_ca(SSL_CTX *ctx, const struct keep_steward_enroll_opts *o)
{
    if (!o->ca_pem)
        return SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL);
    BIO *bio = BIO_new_mem_buf(o->ca_pem, -1);
    X509 *ca = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    int ok = ca && X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca) == 1;
    X509_free(ca);
    BIO_free(bio);
    return ok ? 1 : 0;
}

/*
 * The Content-Length of the reply head [head, end) (RFC 9112 6.3: with
 * "Connection: close" a body without it ends at EOF, which the host can
 * forge by cutting the TCP stream: we require it), or -1.
 */
static long long content_length(const char *head, const char *end)
{
    static const char name[] = "\r\nContent-Length:";
    for (const char *p = head; p < end; p++) {
        if (strncasecmp(p, name, sizeof(name) - 1) != 0)
            continue;
        p += sizeof(name) - 1;
        while (*p == ' ' || *p == '\t')
            p++;
        char *stop;
        errno = 0;
        long long n = strtoll(p, &stop, 10);
        return (stop == p || errno || n < 0 || (*stop != '\r' && *stop != ' ')) ? -1 : n;
    }
    return -1;
}

/*
 * One request; *body (malloc'd, NUL-terminated) gets the reply body, e->body_size its
 * length; returns the status.
 */
static int https(struct enroll *e, const char *method, const char *path, const char *type,
                 const char *payload, char **body)
{
    *body = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) || load_ca(ctx, e->o) != 1) {
        SSL_CTX_free(ctx);
        return fail(e, "TLS setup: cannot load CA %s",
                    e->o->ca_pem ? "(pinned PEM)" : e->o->ca_file);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (e->cert &&
        (SSL_CTX_use_certificate(ctx, e->cert) != 1 || SSL_CTX_use_PrivateKey(ctx, e->key) != 1)) {
        SSL_CTX_free(ctx);
        return fail(e, "TLS setup: client certificate");
    }
    int fd = dial(e), status = -1;
    SSL *ssl = fd >= 0 ? SSL_new(ctx) : NULL;
    if (ssl) {
        SSL_set_fd(ssl, fd);
        /* The service's certificate names 127.0.0.1 (and its DNS names): check the IP. */
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), e->o->host);
        if (SSL_connect(ssl) != 1) {
            char why[256];
            ERR_error_string_n(ERR_get_error(), why, sizeof(why));
            fail(e, "TLS handshake with %s:%d: %s", e->o->host, e->o->port, why);
        } else {
            size_t n = payload ? strlen(payload) : 0;
            char head[512];
            int h = snprintf(head, sizeof(head),
                             "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
                             "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                             method, path, e->o->host, type, n);
            char *buf = malloc(REPLY_MAX + 1);
            size_t got = 0;
            int r;
            if (buf && SSL_write(ssl, head, h) == h &&
                (n == 0 || SSL_write(ssl, payload, (int)n) == (int)n)) {
                while (got < REPLY_MAX &&
                       (r = SSL_read(ssl, buf + got, (int)(REPLY_MAX - got))) > 0)
                    got += (size_t)r;
                buf[got] = '\0';
                char *split = strstr(buf, "\r\n\r\n");
                size_t size = split ? got - (size_t)(split + 4 - buf) : 0;
                long long declared = split ? content_length(buf, split) : -1;
                if (sscanf(buf, "HTTP/1.1 %d", &status) != 1 || !split) {
                    status = fail(e, "%s %s: malformed reply", method, path);
                } else if (declared < 0 || (unsigned long long)declared != size) {
                    status = fail(e,
                                  "%s %s: reply body of %zu bytes, Content-Length %lld: cut "
                                  "short, too long or undeclared",
                                  method, path, size, declared);
                } else if ((*body = malloc(size + 1))) {
                    memcpy(*body, split + 4, size);
                    (*body)[size] = '\0';
                    e->body_size = size;
                } else {
                    status =
                        fail(e, "%s %s: no memory for a reply of %zu bytes", method, path, size);
                }
                OPENSSL_cleanse(buf, got); /* it held the secret */
            } else {
                fail(e, "%s %s: write failed", method, path);
            }
            free(buf);
            SSL_shutdown(ssl);
        }
        SSL_free(ssl);
    }
    if (fd >= 0)
        close(fd);
    SSL_CTX_free(ctx);
    return status;
}

static int write_path(struct enroll *e, const char *path, const void *data, size_t size,
                      mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd) != 0)
        return fail(e, "write %s: %s", path, strerror(errno));
    return 0;
}

static int write_file(struct enroll *e, const char *name, const void *data, size_t size,
                      mode_t mode)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", e->o->out_dir, name);
    return write_path(e, path, data, size, mode);
}

/* secret_paths[i]: make its directory if missing (one level, as /run/keep/DIR/FILE). */
static int write_secret_path(struct enroll *e, const char *path, const void *data, size_t size)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return fail(e, "mkdir %s: %s", dir, strerror(errno));
    }
    return write_path(e, path, data, size, 0600);
}

static char *csr_pem(struct enroll *e, uint8_t spki_sha384[48])
{
    X509_REQ *req = X509_REQ_new();
    BIO *bio = BIO_new(BIO_s_mem());
    unsigned char *spki = NULL;
    int n = i2d_PUBKEY(e->key, &spki);
    char *out = NULL, *p;
    if (req && bio && n > 0 && X509_REQ_set_pubkey(req, e->key) &&
        X509_REQ_sign(req, e->key, EVP_sha256()) > 0 && PEM_write_bio_X509_REQ(bio, req) &&
        EVP_Digest(spki, (size_t)n, spki_sha384, NULL, EVP_sha384(), NULL)) {
        long len = BIO_get_mem_data(bio, &p);
        out = strndup(p, (size_t)len);
    }
    OPENSSL_free(spki);
    BIO_free(bio);
    X509_REQ_free(req);
    return out;
}

static int hex_nonce(const char *hex, uint8_t out[32])
{
    if (!hex || strlen(hex) != 64)
        return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return 0;
}

/* report_data = SHA-384("keep-attest/v1" || nonce || SHA-384(SPKI DER)) || 16 zero bytes. */
static void binding(const uint8_t nonce[32], const uint8_t spki_sha384[48], uint8_t rd[64])
{
    uint8_t msg[14 + 32 + 48];
    memcpy(msg, "keep-attest/v1", 14);
    memcpy(msg + 14, nonce, 32);
    memcpy(msg + 46, spki_sha384, 48);
    memset(rd, 0, 64);
    EVP_Digest(msg, sizeof(msg), rd, NULL, EVP_sha384(), NULL);
}

static char *b64(const uint8_t *data, size_t size)
{
    char *out = malloc(4 * ((size + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, data, (int)size);
    return out;
}

/* POST /v1/certificates with evidence bound to nonce and key. */
static int certify(struct enroll *e, const char *nonce_hex, const char *csr,
                   const uint8_t spki_sha384[48], json_t **reply)
{
    uint8_t nonce[32], rd[64];
    if (hex_nonce(nonce_hex, nonce))
        return fail(e, "POST /v1/nonce: reply has no 32-byte hex nonce");
    binding(nonce, spki_sha384, rd);
    long size = keep_get_evidence(rd, NULL, 0);
    if (size <= 0 || size > 65536)
        return fail(e, "keep_get_evidence: %ld (not in a Keep?)", size);
    uint8_t *ev = malloc((size_t)size);
    long got = ev ? keep_get_evidence(rd, ev, (size_t)size) : -1;
    char *ev64 = got == size ? b64(ev, (size_t)size) : NULL;
    free(ev);
    if (!ev64)
        return fail(e, "keep_get_evidence: %ld", got);
    json_t *req = json_pack("{s:s,s:s,s:s}", "nonce", nonce_hex, "csr", csr, "evidence", ev64);
    if (e->o->workload)
        json_object_set_new(req, "workload", json_string(e->o->workload));
    char *payload = json_dumps(req, JSON_COMPACT), *body;
    json_decref(req);
    free(ev64);
    int status = https(e, "POST", "/v1/certificates", "application/json", payload, &body);
    free(payload);
    if (status < 0)
        return -1;
    *reply = json_loads(body, 0, NULL);
    if (status != 201 || !*reply) {
        fail(e, "POST /v1/certificates: HTTP %d: %.300s", status, body);
        json_decref(*reply);
        free(body);
        return -1;
    }
    free(body);
    return 0;
}

static int save_identity(struct enroll *e, json_t *reply)
{
    const char *cert = json_string_value(json_object_get(reply, "chain"));
    const char *ca = json_string_value(json_object_get(reply, "ca"));
    BIO *bio = BIO_new(BIO_s_mem());
    char *p;
    if (!cert || !ca || !bio || !PEM_write_bio_PrivateKey(bio, e->key, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(bio);
        return fail(e, "POST /v1/certificates: reply lacks chain/ca");
    }
    long n = BIO_get_mem_data(bio, &p);
    int rc = write_file(e, "key.pem", p, (size_t)n, 0600);
    BIO_free(bio);
    if (rc || write_file(e, "cert.pem", cert, strlen(cert), 0644) ||
        write_file(e, "ca.pem", ca, strlen(ca), 0644))
        return -1;
    BIO *cb = BIO_new_mem_buf(cert, -1);
    e->cert = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    BIO_free(cb);
    return e->cert ? 0 : fail(e, "issued certificate does not parse");
}

static int fetch_secrets(struct enroll *e)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/secrets", e->o->out_dir);
    if (e->o->secret_count && !e->o->secret_paths && mkdir(dir, 0700) != 0 && errno != EEXIST)
        return fail(e, "mkdir %s: %s", dir, strerror(errno));
    for (size_t i = 0; i < e->o->secret_count; i++) {
        char path[256], name[300], *body;
        snprintf(path, sizeof(path), "/v1/secrets/%s", e->o->secrets[i]);
        int status = https(e, "GET", path, "application/octet-stream", NULL, &body);
        if (status < 0)
            return -1;
        if (status != 200) {
            fail(e, "GET %s: HTTP %d: %.300s", path, status, body);
            free(body);
            return -1;
        }
        snprintf(name, sizeof(name), "secrets/%s", e->o->secrets[i]);
        /* e->body_size, not strlen: a binary secret holds NUL bytes (Content-Length says). */
        size_t size = e->body_size;
        int rc = e->o->secret_paths ? write_secret_path(e, e->o->secret_paths[i], body, size)
                                    : write_file(e, name, body, size, 0600);
        OPENSSL_cleanse(body, size);
        free(body);
        if (rc)
            return -1;
    }
    return 0;
}

int keep_steward_enroll(const struct keep_steward_enroll_opts *o, char *msg, size_t msg_size)
{
    struct enroll e = {.o = o, .msg = msg, .msg_size = msg_size};
    uint8_t spki_sha384[48];
    json_t *nonce = NULL, *reply = NULL;
    char *csr = NULL, *body = NULL;
    int rc = -1;
    if (!(e.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"))) {
        fail(&e, "key generation failed");
        goto out;
    }
    if (!(csr = csr_pem(&e, spki_sha384))) {
        fail(&e, "CSR creation failed");
        goto out;
    }
    int status = https(&e, "POST", "/v1/nonce", "application/json", "", &body);
    if (status < 0)
        goto out;
    nonce = json_loads(body, 0, NULL);
    if (status != 201 || !nonce) {
        fail(&e, "POST /v1/nonce: HTTP %d: %.200s", status, body);
        goto out;
    }
    if (certify(&e, json_string_value(json_object_get(nonce, "nonce")), csr, spki_sha384, &reply) ||
        save_identity(&e, reply) || fetch_secrets(&e))
        goto out;
    rc = 0;
out:
    json_decref(nonce);
    json_decref(reply);
    free(body);
    free(csr);
    X509_free(e.cert);
    EVP_PKEY_free(e.key);
    return rc;
}

/* ---- counters (after enrolment) ----------------------------------------------- */

/* An enroll context for a session: the same https() with the enrolled identity. */
static int session_open(const struct keep_steward_session *s, struct keep_steward_enroll_opts *o,
                        struct enroll *e, char *msg, size_t msg_size)
{
    *o = (struct keep_steward_enroll_opts){.host = s->host, .port = s->port, .ca_file = s->ca_file};
    *e = (struct enroll){.o = o, .msg = msg, .msg_size = msg_size};
    FILE *f = fopen(s->cert_file, "re");
    e->cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    f = e->cert ? fopen(s->key_file, "re") : NULL;
    e->key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!e->cert || !e->key) {
        X509_free(e->cert);
        return fail(e, "session: cannot read %s %s", e->cert ? "key" : "certificate",
                    e->cert ? s->key_file : s->cert_file);
    }
    return 0;
}

static void session_close(struct enroll *e)
{
    X509_free(e->cert);
    EVP_PKEY_free(e->key);
}

/* {"value": N} with 0 <= N (both the 200 reply and the 409 problem carry it). */
static int reply_value(json_t *reply, uint64_t *value)
{
    json_t *v = json_object_get(reply, "value");
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *value = (uint64_t)json_integer_value(v);
    return 0;
}

/* One counter request; 0 (200), 1 (409 conflict) or -1. */
static int counter_call(const struct keep_steward_session *s, const char *method, const char *name,
                        const char *payload, uint64_t *value, char *msg, size_t msg_size)
{
    struct keep_steward_enroll_opts o;
    struct enroll e;
    if (session_open(s, &o, &e, msg, msg_size))
        return -1;
    char path[128], *body = NULL;
    int rc = -1;
    if (!name[0] || strlen(name) > 64 ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-") != strlen(name)) {
        fail(&e, "counter name %.70s is not [A-Za-z0-9._-]{1,64}", name);
        goto out;
    }
    snprintf(path, sizeof(path), "/v1/counters/%s", name);
    int status = https(&e, method, path, "application/json", payload, &body);
    if (status < 0)
        goto out;
    json_t *reply = json_loads(body, 0, NULL);
    uint64_t got = 0;
    if ((status == 200 || status == 409) && reply_value(reply, &got) == 0) {
        *value = got;
        rc = status == 200 ? 0 : 1;
    } else {
        const char *check = json_string_value(json_object_get(reply, "check"));
        fail(&e, "%s %s: HTTP %d%s%s: %.300s", method, path, status, check ? " " : "",
             check ? check : "", body);
    }
    json_decref(reply);
out:
    free(body);
    session_close(&e);
    return rc;
}

int keep_steward_counter_get(const struct keep_steward_session *session, const char *name,
                             uint64_t *value, char *msg, size_t msg_size)
{
    return counter_call(session, "GET", name, NULL, value, msg, msg_size) == 0 ? 0 : -1;
}

int keep_steward_counter(const struct keep_steward_session *session, const char *name,
                         uint64_t expect, uint64_t set, uint64_t *value, char *msg, size_t msg_size)
{
    if (set <= expect || set > INT64_MAX) {
        snprintf(msg, msg_size,
                 "counter %.64s: set %llu must be greater than expect %llu and "
                 "at most 2^63-1",
                 name, (unsigned long long)set, (unsigned long long)expect);
        return -1;
    }
    char payload[96];
    snprintf(payload, sizeof(payload), "{\"expect\":%llu,\"set\":%llu}", (unsigned long long)expect,
             (unsigned long long)set);
    return counter_call(session, "POST", name, payload, value, msg, msg_size);
}
