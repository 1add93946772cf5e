/* SPDX-License-Identifier: Apache-2.0 */
#include "hsm/client.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/util.h"
#include "keep/attest.h"

/* A reply frame, handed to the thread that waits for it. */
struct parked {
    uint32_t id;
    uint8_t *frame;
    size_t size;
};

/* A thread waiting for the reply to its request: woken alone, when that reply came, or to take
 * over the read side (one wake-up per reply rather than every waiter per record). */
struct waiter {
    uint32_t id;
    pthread_cond_t wake;
    struct parked *reply;
    struct waiter *next;
};

/* TLS reads whatever the socket holds into a buffer this big: replies to many threads' requests
 * come in one read(2), not a 5-byte header and a record each. */
#define READ_AHEAD_BYTES (256 * 1024)

struct hsm_client {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *wbio;            /* after the handshake TLS writes into memory; the writer sends it */
    pthread_mutex_t lock; /* guards ssl, wbio, in, outq, next_id, waiters, reading, writing, dead */
    bool reading, writing, dead;
    uint32_t next_id;
    struct hsm_buf in;
    struct hsm_buf outq; /* request frames not yet given to TLS */
    struct hsm_buf wire; /* the writer's encrypted bytes (only the thread with writing set) */
    struct waiter *waiters;
};

/* The connection failed: every waiter wakes to see it. */
static void set_dead(struct hsm_client *c)
{
    c->dead = true;
    for (struct waiter *w = c->waiters; w; w = w->next)
        pthread_cond_signal(&w->wake);
}

static int connect_unix(const char *path, struct keep_error *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path))
        return -keep_fail(err, KEEP_E_HSM_CONFIG, "KEEP_PKCS11_SOCKET '%s' is too long", path);
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return -keep_fail(err, KEEP_E_HSM_CONFIG,
                          "KEEP_PKCS11_SOCKET %s: cannot connect: %s (is keep-hsm running?)", path,
                          strerror(e));
    }
    return fd;
}

/* Wait until fd is ready for what SSL asked, with the lock released. */
static bool wait_io(struct hsm_client *c, int ssl_error)
{
    struct pollfd p = {.fd = c->fd, .events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN};
    pthread_mutex_unlock(&c->lock);
    int n = poll(&p, 1, -1);
    pthread_mutex_lock(&c->lock);
    return n >= 0 || errno == EINTR;
}

/* write(2) all of c->wire with the lock released (only the writer touches c->wire). */
static bool write_wire(struct hsm_client *c)
{
    size_t done = 0;
    bool ok = true;
    pthread_mutex_unlock(&c->lock);
    while (ok && done < c->wire.size) {
        ssize_t n = write(c->fd, c->wire.data + done, c->wire.size - done);
        if (n >= 0) {
            done += (size_t)n;
            continue;
        }
        struct pollfd p = {.fd = c->fd, .events = POLLOUT};
        ok = (errno == EAGAIN || errno == EINTR) && (poll(&p, 1, -1) >= 0 || errno == EINTR);
    }
    pthread_mutex_lock(&c->lock);
    c->wire.size = 0;
    return ok;
}

/*
 * Send every queued request. One thread at a time is the writer; requests other threads queue
 * while it is in write(2) go out together in its next round: one TLS write and one write(2)
 * for all of them (called and returns locked).
 */
static void send_queued(struct hsm_client *c)
{
    c->writing = true;
    while (c->outq.size && !c->dead) {
        /* SSL_get_error reads the thread's error queue: it must hold only our errors. */
        ERR_clear_error();
        /* Into the memory BIO: never short. */
        bool ok = SSL_write(c->ssl, c->outq.data, (int)c->outq.size) == (int)c->outq.size;
        c->outq.size = 0;
        char *p;
        long n = ok ? BIO_get_mem_data(c->wbio, &p) : 0;
        if (n > 0) {
            hsm_put(&c->wire, p, (size_t)n);
            (void)BIO_reset(c->wbio);
        }
        if (!ok || c->wire.failed || !write_wire(c))
            set_dead(c);
    }
    c->writing = false;
}

int hsm_client_parse_reply(const uint8_t *frame, size_t size, uint8_t op, uint32_t id, CK_RV *rv,
                           const uint8_t **fields, size_t *fields_size, struct keep_error *err)
{
    struct hsm_header h;
    struct keep_cursor cur;
    uint64_t v;
    int rc = hsm_frame_open(frame, size, &h, &cur, err);
    if (rc)
        return rc;
    if (h.op != op || h.id != id)
        return keep_fail(err, KEEP_E_HSM_OP, "reply answers op %u id %u; asked op %u id %u", h.op,
                         h.id, op, id);
    if (keep_cursor_u64(&cur, "reply.rv", &v, err))
        return KEEP_E_HSM_FIELD;
    *rv = (CK_RV)v;
    *fields = frame + keep_cursor_offset(&cur);
    *fields_size = keep_cursor_remaining(&cur);
    return KEEP_OK;
}

/* The waiter of reply id, taken off the list; NULL when no request awaits it. */
static struct waiter *take_waiter(struct hsm_client *c, uint32_t id)
{
    for (struct waiter **pp = &c->waiters; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct waiter *w = *pp;
            *pp = w->next;
            return w;
        }
    }
    return NULL;
}

/* Hand every whole frame in c->in to the thread that waits for it. */
static void deliver_frames(struct hsm_client *c)
{
    size_t off = 0, frame;
    struct keep_error err;
    while (!c->dead && off < c->in.size) {
        if (hsm_frame_split(c->in.data + off, c->in.size - off, &frame, &err) != KEEP_OK) {
            fprintf(stderr, "libkeep-pkcs11: %s\n", err.message);
            set_dead(c);
            return;
        }
        if (!frame)
            break;
        uint32_t id = 0;
        if (frame >= 12)
            memcpy(&id, c->in.data + off + 8, 4); /* frame.id, little-endian (x86-64) */
        struct waiter *w = frame >= 12 ? take_waiter(c, id) : NULL;
        struct parked *p = w ? malloc(sizeof(*p)) : NULL;
        uint8_t *copy = p ? malloc(frame) : NULL;
        if (!copy) {
            if (!w)
                fprintf(stderr,
                        "libkeep-pkcs11: keep-hsm answered request %u, which nobody "
                        "asked (or a %zu-byte frame)\n",
                        id, frame);
            free(p);
            set_dead(c);
            if (w)
                pthread_cond_signal(&w->wake);
            return;
        }
        memcpy(copy, c->in.data + off, frame);
        *p = (struct parked){.id = id, .frame = copy, .size = frame};
        w->reply = p;
        pthread_cond_signal(&w->wake);
        off += frame;
    }
    memmove(c->in.data, c->in.data + off, c->in.size - off);
    c->in.size -= off;
}

/* Read what the Keep has sent (waiting for the first record, not for more), then deliver it
 * (the caller holds the read side). */
static void read_some(struct hsm_client *c)
{
    uint8_t buf[65536];
    bool got = false;
    for (;;) {
        /* SSL_get_error reads the thread's error queue: it must hold only our errors. */
        ERR_clear_error();
        int n = SSL_read(c->ssl, buf, sizeof(buf));
        if (n > 0) {
            hsm_put(&c->in, buf, (size_t)n);
            got = true;
            if (!SSL_has_pending(c->ssl))
                break;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            set_dead(c);
            return;
        }
        if (got)
            break;
        if (!wait_io(c, e)) {
            set_dead(c);
            return;
        }
    }
    if (c->in.failed)
        set_dead(c);
    else
        deliver_frames(c);
}

/* Wait for w's reply: read when nobody else is reading, else sleep until woken. */
static struct parked *await(struct hsm_client *c, struct waiter *w)
{
    while (!w->reply && !c->dead) {
        if (c->reading) {
            pthread_cond_wait(&w->wake, &c->lock);
            continue;
        }
        c->reading = true;
        read_some(c);
        c->reading = false;
    }
    if (!w->reply)
        take_waiter(c, w->id); /* dead: off the list if still on it */
    /* Whoever still waits may be asleep: wake one to take over the read side. */
    if (!c->reading && c->waiters)
        pthread_cond_signal(&c->waiters->wake);
    return w->reply;
}

CK_RV hsm_client_call(struct hsm_client *c, uint8_t op, const struct hsm_buf *req,
                      struct hsm_buf *reply)
{
    struct waiter w = {0};
    pthread_cond_init(&w.wake, NULL);
    pthread_mutex_lock(&c->lock);
    uint32_t id = w.id = c->next_id++;
    size_t start = hsm_frame_begin(&c->outq, op, id);
    if (req)
        hsm_put(&c->outq, req->data, req->size);
    hsm_frame_end(&c->outq, start);
    struct parked *p = NULL;
    if (c->outq.failed) {
        set_dead(c);
    } else if (!c->dead) {
        w.next = c->waiters;
        c->waiters = &w;
        if (!c->writing)
            send_queued(c);
        p = await(c, &w);
    }
    pthread_mutex_unlock(&c->lock);
    pthread_cond_destroy(&w.wake);
    if (!p) {
        fprintf(stderr, "libkeep-pkcs11: the connection to keep-hsm failed\n");
        return CKR_DEVICE_ERROR;
    }
    CK_RV rv;
    const uint8_t *fields;
    size_t n;
    struct keep_error err;
    if (hsm_client_parse_reply(p->frame, p->size, op, id, &rv, &fields, &n, &err) != KEEP_OK) {
        fprintf(stderr, "libkeep-pkcs11: %s\n", err.message);
        rv = CKR_DEVICE_ERROR;
    } else if (reply) {
        *reply = (struct hsm_buf){0};
        hsm_put(reply, fields, n);
        if (reply->failed)
            rv = CKR_HOST_MEMORY;
    }
    free(p->frame);
    free(p);
    return rv;
}

/* ---- trust: the Keep's evidence, bound to the TLS key ------------------- */

static char *policy_json(const char *spki_hex, const char *measurement, bool insecure)
{
    size_t n = strlen(spki_hex) + (measurement ? strlen(measurement) : 0) + 128;
    char *json = malloc(n);
    if (!json)
        return NULL;
    int w = snprintf(json, n, "{\"allow_insecure\": %s, \"report_data\": {\"sha256_of\": \"%s\"}",
                     insecure ? "true" : "false", spki_hex);
    if (measurement)
        w += snprintf(json + w, n - (size_t)w, ", \"measurement\": [\"%s\"]", measurement);
    snprintf(json + w, n - (size_t)w, "}");
    return json;
}

static int check_evidence(const uint8_t *ev, size_t ev_size, const char *spki_hex,
                          struct keep_error *err)
{
    const char *measurement = getenv("KEEP_PKCS11_MEASUREMENT");
    const char *ins = getenv("KEEP_PKCS11_INSECURE");
    bool insecure = ins && strcmp(ins, "1") == 0;
    if (insecure)
        fprintf(stderr, "libkeep-pkcs11: WARNING: KEEP_PKCS11_INSECURE=1: accepting a Keep "
                        "whose evidence is unsigned or absent; the host can impersonate it and "
                        "read PINs and data. Development only.\n");
    if (ev_size == 0)
        return insecure ? KEEP_OK
                        : keep_fail(err, KEEP_E_HSM_ATTESTATION,
                                    "keep-hsm sent no evidence (not in a Keep, or the nil "
                                    "backend); set KEEP_PKCS11_INSECURE=1 to accept that");
    if (!measurement && !insecure)
        return keep_fail(err, KEEP_E_HSM_ATTESTATION,
                         "KEEP_PKCS11_MEASUREMENT is not set: the module cannot tell this Keep "
                         "from any other (print it with keep measure)");
    struct keep_attest_verifier *v = NULL;
    struct keep_attest_policy *pol = NULL;
    struct keep_attest_result *res = NULL;
    char *json = policy_json(spki_hex, measurement, insecure);
    struct keep_attest_input in = {.format = KEEP_ATTEST_FORMAT_AUTO, .evidence = {ev, ev_size}};
    int rc = json ? KEEP_OK : keep_fail(err, KEEP_E_NOMEM, "no memory for the policy");
    if (rc == KEEP_OK &&
        (rc = keep_attest_policy_parse(json, strlen(json), &pol, err)) == KEEP_OK &&
        (rc = keep_attest_verifier_new(NULL, &v, err)) == KEEP_OK &&
        (rc = keep_attest_verify(v, &in, pol, &res, err)) == KEEP_OK &&
        keep_attest_result_verdict(res) != KEEP_ATTEST_ACCEPT) {
        const struct keep_error *first =
            keep_attest_result_error_count(res) ? keep_attest_result_error(res, 0) : NULL;
        rc = keep_fail(err, KEEP_E_HSM_ATTESTATION, "the Keep's evidence is %s: %s",
                       keep_attest_verdict_name(keep_attest_result_verdict(res)),
                       first ? first->message : "no reason given");
    }
    keep_attest_result_free(res);
    keep_attest_verifier_free(v);
    keep_attest_policy_free(pol);
    free(json);
    return rc;
}

/* HELLO, then the evidence check against the certificate TLS saw. */
static int attest(struct hsm_client *c, struct keep_error *err)
{
    X509 *cert = SSL_get1_peer_certificate(c->ssl);
    uint8_t *spki = NULL;
    int spki_size = cert ? i2d_PUBKEY(X509_get0_pubkey(cert), &spki) : -1;
    X509_free(cert);
    if (spki_size <= 0)
        return keep_fail(err, KEEP_E_HSM_TLS, "keep-hsm presented no usable certificate");
    char *hex = malloc((size_t)spki_size * 2 + 1);
    if (hex)
        keep_hex_encode(spki, (size_t)spki_size, hex);
    OPENSSL_free(spki);
    struct hsm_buf reply = {0};
    CK_RV rv = hex ? hsm_client_call(c, HSM_OP_HELLO, NULL, &reply) : CKR_HOST_MEMORY;
    struct keep_cursor cur;
    uint32_t version, ev_size = 0;
    const uint8_t *ev = NULL;
    keep_cursor_init(&cur, reply.data, reply.size);
    int rc = KEEP_OK;
    if (rv != CKR_OK || keep_cursor_u32(&cur, "hello.version", &version, err) ||
        hsm_get_bytes(&cur, "hello.evidence", 65536, &ev, &ev_size, err))
        rc = keep_fail(err, KEEP_E_HSM_TLS, "keep-hsm did not answer HELLO (rv 0x%lx)", rv);
    if (rc == KEEP_OK)
        rc = check_evidence(ev, ev_size, hex, err);
    hsm_buf_free(&reply);
    free(hex);
    return rc;
}

static int tls_connect(struct hsm_client *c, struct keep_error *err)
{
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx || !SSL_CTX_set_min_proto_version(c->ctx, TLS1_3_VERSION) ||
        !(c->ssl = SSL_new(c->ctx)) || SSL_set_fd(c->ssl, c->fd) != 1)
        return keep_fail(err, KEEP_E_HSM_TLS, "cannot set up TLS 1.3");
    /* The certificate is self-signed; it is trusted through the evidence that binds its key. */
    SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
    SSL_set_default_read_buffer_len(c->ssl, READ_AHEAD_BYTES);
    SSL_set_read_ahead(c->ssl, 1);
    if (SSL_connect(c->ssl) != 1) {
        char why[256];
        ERR_error_string_n(ERR_get_error(), why, sizeof(why));
        return keep_fail(err, KEEP_E_HSM_TLS, "TLS 1.3 handshake with keep-hsm failed: %s", why);
    }
    /* From here on TLS writes into memory and send_queued writes it out, outside the lock. */
    if (!(c->wbio = BIO_new(BIO_s_mem())))
        return keep_fail(err, KEEP_E_HSM_TLS, "no memory for the TLS write buffer");
    SSL_set0_wbio(c->ssl, c->wbio); /* the SSL owns it now */
    /* From here on the socket is non-blocking: threads poll with the lock released. */
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return keep_fail(err, KEEP_E_HSM_TLS, "fcntl O_NONBLOCK: %s", strerror(errno));
    return KEEP_OK;
}

int hsm_client_open(struct hsm_client **out, struct keep_error *err)
{
    const char *path = getenv("KEEP_PKCS11_SOCKET");
    if (!path || !*path)
        return keep_fail(err, KEEP_E_HSM_CONFIG,
                         "KEEP_PKCS11_SOCKET is not set: name keep-hsm's unix socket");
    struct hsm_client *c = calloc(1, sizeof(*c));
    if (!c)
        return keep_fail(err, KEEP_E_NOMEM, "no memory for the client");
    pthread_mutex_init(&c->lock, NULL);
    c->next_id = 1;
    c->fd = connect_unix(path, err);
    int rc = c->fd < 0 ? -c->fd : tls_connect(c, err);
    if (rc == KEEP_OK)
        rc = attest(c, err);
    if (rc) {
        hsm_client_close(c);
        return rc;
    }
    *out = c;
    return KEEP_OK;
}

void hsm_client_close(struct hsm_client *c)
{
    if (!c)
        return;
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    hsm_buf_free(&c->in);
    hsm_buf_free(&c->outq);
    hsm_buf_free(&c->wire);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
