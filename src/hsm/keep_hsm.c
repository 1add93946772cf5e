/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep-hsm: the key service, a static program meant to run in a Keep.
 *
 *   keep run --listen unix:/run/keep-hsm/sock --volume DIR:/tokens -- \
 *       keep-hsm --listen /run/keep-hsm/sock --store /tokens/token.khsm
 *
 * It makes a fresh P-256 TLS key at start, asks the Keep for evidence
 * whose report_data is SHA-256 of that key's SubjectPublicKeyInfo (then 32
 * zero bytes), and serves TLS 1.3 on the unix socket. Every connection is
 * one PKCS#11 application; all of them share one poll(2) loop, and every
 * read drains all the frames a client has pipelined, so one exit to the
 * host carries many requests (docs/HSM.md, "Transport").
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#include "hsm/pool.h"
#include "hsm/service.h"
#include "hsm/store.h"
#include "keep/keep.h"
#include "keep/steward_client.h"

#define MAX_CONNS 64

/* TLS reads whatever the socket holds into a buffer this big (SSL_set_read_ahead), so one read(2)
 * (one exit from a Keep) brings in every record a client has pipelined, not a 5-byte header and
 * then one record. */
#define READ_AHEAD_BYTES (256 * 1024)
/* Encrypted bytes waiting for a slow client beyond this: stop reading its requests until it
 * reads its replies. */
#define WIRE_BACKLOG_MAX (4u << 20)

struct client {
    int fd;
    SSL *ssl;
    BIO *wbio; /* TLS writes here (memory); flush_wire moves it to fd in one write(2) */
    uint64_t id;
    struct hsm_buf in, out;
    struct hsm_buf wire; /* encrypted bytes for fd; wire_done of them are written */
    size_t wire_done;
};

static void usage(void)
{
    fprintf(stderr, "usage: keep-hsm --listen SOCKET_PATH --store TOKEN_FILE "
                    "[--kdf-iterations N] [--threads N]\n"
                    "       [--counter-steward https://IPV4:PORT [--steward-dir DIR] "
                    "[--counter-name NAME]]\n"
                    "       [--master-key-secret PATH]\n");
    exit(64);
}

/* A self-signed certificate for a fresh key: its only job is to carry the key into TLS. */
static X509 *self_signed(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    bool ok = x && name && X509_set_version(x, 2) &&
              ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                         (const unsigned char *)"keep-hsm", -1, -1, 0) &&
              X509_set_subject_name(x, name) && X509_set_issuer_name(x, name) &&
              X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
              X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400) &&
              X509_set_pubkey(x, key) && X509_sign(x, key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Evidence bound to the TLS key; none outside a Keep or under nil (the module then needs insecure
 * mode). */
static int bind_evidence(struct hsm_service *svc, EVP_PKEY *key)
{
    uint8_t *spki = NULL, rd[KEEP_REPORT_DATA_SIZE] = {0};
    unsigned int n = 0;
    int spki_size = i2d_PUBKEY(key, &spki);
    if (spki_size <= 0 || EVP_Digest(spki, (size_t)spki_size, rd, &n, EVP_sha256(), NULL) != 1) {
        OPENSSL_free(spki);
        return -1;
    }
    OPENSSL_free(spki);
    size_t cap = 16384;
    uint8_t *buf = malloc(cap);
    long got = buf ? keep_get_evidence(rd, buf, cap) : -ENOMEM;
    if (got == -ENOSYS) {
        fprintf(stderr, "keep-hsm: WARNING: not running in a Keep that gives evidence; clients "
                        "must set KEEP_PKCS11_INSECURE=1 to talk to this service\n");
        got = 0;
    }
    int rc = got < 0 ? -1 : hsm_service_set_evidence(svc, buf, (size_t)got);
    if (got < 0)
        fprintf(stderr, "keep-hsm: keep_get_evidence: %s\n", strerror((int)-got));
    free(buf);
    return rc;
}

/* Key attestation's evidence source (service.h): the Keep itself. */
static long keep_evidence(const uint8_t report_data[64], void *buf, size_t cap)
{
    return keep_get_evidence(report_data, buf, cap);
}

static SSL_CTX *tls_context(EVP_PKEY **key_out)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *cert = key ? self_signed(key) : NULL;
    SSL_CTX *ctx = cert ? SSL_CTX_new(TLS_server_method()) : NULL;
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        SSL_CTX_free(ctx);
        EVP_PKEY_free(key);
        X509_free(cert);
        return NULL;
    }
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, READ_AHEAD_BYTES);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    X509_free(cert);
    *key_out = key;
    return ctx;
}

/*
 * OpenSSL's DRBGs read the clock on every generate to reseed after an hour (time(2); NIST SP
 * 800-90A asks only for the count-based limit, reseed_requests, which stays). In a Keep time(2)
 * is a call to the host, one exit per signature: turn the time-based reseed off for the calling
 * thread's DRBGs (public and private are per thread) and the primary.
 */
static void rand_without_clock(void)
{
    time_t never = 0;
    OSSL_PARAM p[] = {OSSL_PARAM_construct_time_t(OSSL_DRBG_PARAM_RESEED_TIME_INTERVAL, &never),
                      OSSL_PARAM_construct_end()};
    EVP_RAND_CTX *drbg[] = {RAND_get0_primary(NULL), RAND_get0_public(NULL),
                            RAND_get0_private(NULL)};
    for (size_t i = 0; i < sizeof(drbg) / sizeof(drbg[0]); i++)
        if (!drbg[i] || !EVP_RAND_CTX_set_params(drbg[i], p))
            fprintf(stderr, "keep-hsm: WARNING: cannot turn off the DRBG's clock reseed; every "
                            "random draw reads the clock\n");
}

/* A socket file nobody listens on, left by an earlier run. */
static bool stale(const struct sockaddr_un *sun)
{
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool refused = probe >= 0 && connect(probe, (const struct sockaddr *)sun, sizeof(*sun)) < 0 &&
                   errno == ECONNREFUSED;
    if (probe >= 0)
        close(probe);
    return refused;
}

static int listen_on(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "keep-hsm: --listen %s: longer than a unix socket path\n", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    if (rc < 0 && fd >= 0 && errno == EADDRINUSE && stale(&sun)) {
        unlink(path); /* nil backend; on kvm the host removes it before bind (docs/HSM.md) */
        rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    }
    if (rc < 0 || listen(fd, 64) < 0) {
        fprintf(stderr, "keep-hsm: listening on %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void drop(struct hsm_service *svc, struct client *c)
{
    hsm_service_disconnect(svc, c->id);
    SSL_free(c->ssl);
    close(c->fd);
    hsm_buf_free(&c->in);
    hsm_buf_free(&c->out);
    hsm_buf_free(&c->wire);
    c->fd = -1;
}

/* Encrypt the replies of this batch into the memory BIO (never short: it grows), then move
 * everything TLS wrote (records, handshake messages) to c->wire; false when out of memory. */
static bool seal_replies(struct client *c)
{
    if (c->out.size) {
        /* SSL_get_error reads the thread's error queue: it must hold only our errors. */
        ERR_clear_error();
        if (SSL_write(c->ssl, c->out.data, (int)c->out.size) != (int)c->out.size)
            return false;
        c->out.size = 0;
    }
    char *p;
    long n = BIO_get_mem_data(c->wbio, &p);
    if (n > 0) {
        hsm_put(&c->wire, p, (size_t)n);
        (void)BIO_reset(c->wbio);
    }
    return !c->wire.failed;
}

/* One write(2) for everything a batch produced; false on a dead connection. */
static bool flush_wire(struct client *c)
{
    while (c->wire_done < c->wire.size) {
        ssize_t n = write(c->fd, c->wire.data + c->wire_done, c->wire.size - c->wire_done);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR; /* poll says when to go on */
        c->wire_done += (size_t)n;
    }
    c->wire.size = 0;
    c->wire_done = 0;
    return true;
}

/* Read everything available into c->in (the TLS handshake happens here too); false when the
 * connection is closed or failed. */
static bool read_tls(struct client *c)
{
    uint8_t buf[65536];
    for (;;) {
        /* SSL_get_error reads the thread's error queue: it must hold only our errors. */
        ERR_clear_error();
        int n = SSL_read(c->ssl, buf, sizeof(buf));
        if (n > 0) {
            hsm_put(&c->in, buf, (size_t)n);
            if (c->in.failed || c->in.size > 2 * (HSM_FRAME_MAX + 4))
                return false;
            /* Nothing left in TLS's read-ahead buffer: skip the read that would only say
             * EAGAIN (in a Keep every read is an exit to the host); poll tells when more came. */
            if (!SSL_has_pending(c->ssl))
                return true;
            continue;
        }
        int e = SSL_get_error(c->ssl, n);
        return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
    }
}

/*
 * One batch: every whole frame every ready client sent, run by the pool (side by side when all
 * only read the token, else in order), the replies then appended to each client's c->out in its
 * requests' order. Jobs and their reply buffers are kept from batch to batch.
 */
struct batch {
    struct hsm_job *jobs;
    struct client **owner;
    struct hsm_buf *replies;
    size_t count, cap;
};

static bool batch_add(struct batch *b, struct client *c, const uint8_t *frame, size_t size)
{
    if (b->count == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        struct hsm_job *jobs = realloc(b->jobs, cap * sizeof(*jobs));
        if (jobs)
            b->jobs = jobs;
        struct client **owner = jobs ? realloc(b->owner, cap * sizeof(*owner)) : NULL;
        if (owner)
            b->owner = owner;
        struct hsm_buf *replies = owner ? realloc(b->replies, cap * sizeof(*replies)) : NULL;
        if (!replies)
            return false;
        memset(replies + b->cap, 0, (cap - b->cap) * sizeof(*replies));
        b->replies = replies;
        b->cap = cap;
    }
    size_t i = b->count++;
    b->replies[i].size = 0;
    b->replies[i].failed = false;
    b->jobs[i] =
        (struct hsm_job){.conn = c->id, .frame = frame, .size = size, .out = &b->replies[i]};
    b->owner[i] = c;
    return true;
}

/* Queue c's whole frames; false when c sent a bad frame (those before it still run). */
static bool collect_frames(struct batch *b, struct client *c, size_t *used)
{
    size_t off = 0, frame;
    struct keep_error err;
    struct hsm_header h;
    struct keep_cursor cur;
    bool ok = true;
    while (ok && off < c->in.size) {
        ok = hsm_frame_split(c->in.data + off, c->in.size - off, &frame, &err) == KEEP_OK &&
             (!frame || hsm_frame_open(c->in.data + off, frame, &h, &cur, &err) == KEEP_OK);
        if (!ok)
            fprintf(stderr, "keep-hsm: client %llu: %s\n", (unsigned long long)c->id, err.message);
        else if (!frame)
            break;
        else if (!(ok = batch_add(b, c, c->in.data + off, frame)))
            fprintf(stderr, "keep-hsm: client %llu: no memory for its requests\n",
                    (unsigned long long)c->id);
        else
            off += frame;
    }
    *used = off;
    return ok;
}

static void accept_clients(int lfd, SSL_CTX *ctx, struct hsm_service *svc, struct client *cl)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        struct client *slot = NULL;
        for (int i = 0; i < MAX_CONNS && !slot; i++)
            if (cl[i].fd < 0)
                slot = &cl[i];
        SSL *ssl = slot ? SSL_new(ctx) : NULL;
        uint64_t id = ssl ? hsm_service_connect(svc) : 0;
        if (!id) {
            SSL_free(ssl);
            close(fd);
            continue;
        }
        BIO *rbio = BIO_new_socket(fd, BIO_NOCLOSE), *wbio = BIO_new(BIO_s_mem());
        if (!rbio || !wbio) {
            BIO_free(rbio);
            BIO_free(wbio);
            SSL_free(ssl);
            hsm_service_disconnect(svc, id);
            close(fd);
            continue;
        }
        *slot = (struct client){.fd = fd, .ssl = ssl, .wbio = wbio, .id = id};
        SSL_set_bio(ssl, rbio, wbio); /* the SSL owns both */
        SSL_set_accept_state(ssl);
    }
}

/* Run the batch and hand each reply to its client; false for a client whose request failed. */
static void run_batch(struct hsm_pool *pool, struct batch *b, bool *dead, struct client *cl)
{
    hsm_pool_run(pool, b->jobs, b->count);
    for (size_t i = 0; i < b->count; i++) {
        struct client *c = b->owner[i];
        struct hsm_job *j = &b->jobs[i];
        if (dead[c - cl])
            continue;
        if (j->rc != KEEP_OK || j->out->failed) {
            fprintf(stderr, "keep-hsm: client %llu: %s\n", (unsigned long long)c->id,
                    j->rc != KEEP_OK ? j->err.message : "no memory for a reply");
            dead[c - cl] = true;
            continue;
        }
        hsm_put(&c->out, j->out->data, j->out->size);
    }
    b->count = 0;
}

/* Read from every ready client, run all their requests as one batch, then answer each. */
static void serve_ready(struct hsm_pool *pool, struct batch *b, struct client *cl,
                        const struct pollfd *pfd, const int *map, int n, struct hsm_service *svc)
{
    bool dead[MAX_CONNS] = {0}, touched[MAX_CONNS] = {0};
    size_t used[MAX_CONNS] = {0};
    for (int k = 1; k < n; k++) {
        struct client *c = &cl[map[k]];
        bool ok = true;
        if (pfd[k].revents & POLLOUT)
            ok = flush_wire(c);
        if (ok && (pfd[k].revents & ~POLLOUT))
            ok = read_tls(c);
        touched[map[k]] = ok;
        if (ok)
            ok = collect_frames(b, c, &used[map[k]]);
        dead[map[k]] = !ok;
    }
    run_batch(pool, b, dead, cl);
    for (int i = 0; i < MAX_CONNS; i++) {
        struct client *c = &cl[i];
        if (c->fd < 0 || !(touched[i] || dead[i]))
            continue;
        memmove(c->in.data, c->in.data + used[i], c->in.size - used[i]);
        c->in.size -= used[i];
        if (dead[i] || !seal_replies(c) || !flush_wire(c))
            drop(svc, c);
    }
}

static int event_loop(int lfd, SSL_CTX *ctx, struct hsm_service *svc, struct hsm_pool *pool)
{
    static struct client cl[MAX_CONNS];
    static struct batch batch;
    struct pollfd pfd[MAX_CONNS + 1];
    for (int i = 0; i < MAX_CONNS; i++)
        cl[i].fd = -1;
    for (;;) {
        int n = 0;
        pfd[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
        int map[MAX_CONNS + 1];
        for (int i = 0; i < MAX_CONNS; i++) {
            if (cl[i].fd < 0)
                continue;
            size_t backlog = cl[i].wire.size - cl[i].wire_done;
            short ev = (short)((backlog < WIRE_BACKLOG_MAX ? POLLIN : 0) | (backlog ? POLLOUT : 0));
            map[n] = i;
            pfd[n++] = (struct pollfd){.fd = cl[i].fd, .events = ev};
        }
        if (poll(pfd, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("keep-hsm: poll");
            return 1;
        }
        serve_ready(pool, &batch, cl, pfd, map, n, svc);
        if (pfd[0].revents & POLLIN)
            accept_clients(lfd, ctx, svc, cl);
    }
}

/* ---- rollback detection: the store's generation held by keep-steward (docs/HSM.md) ---- */

struct steward_counter {
    char host[16]; /* dotted IPv4, as keep_steward_counter wants it */
    char ca[4096], cert[4096], key[4096];
    struct keep_steward_session session;
    const char *name;
};

static int steward_get(void *ctx, uint64_t *value, char *msg, size_t msg_size)
{
    struct steward_counter *sc = ctx;
    return keep_steward_counter_get(&sc->session, sc->name, value, msg, msg_size);
}

static int steward_cas(void *ctx, uint64_t expect, uint64_t set, uint64_t *value, char *msg,
                       size_t msg_size)
{
    struct steward_counter *sc = ctx;
    return keep_steward_counter(&sc->session, sc->name, expect, set, value, msg, msg_size);
}

/* "https://IPV4:PORT" (the form keep run --steward takes) into sc; 0 or -1 with a message. */
static int parse_steward_url(const char *url, struct steward_counter *sc)
{
    const char *prefix = "https://";
    const char *hp = strncmp(url, prefix, strlen(prefix)) ? NULL : url + strlen(prefix);
    const char *colon = hp ? strrchr(hp, ':') : NULL;
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || (size_t)(colon - hp) >= sizeof(sc->host) || colon == hp || *end ||
        end == colon + 1 || port < 1 || port > 65535) {
        fprintf(stderr, "keep-hsm: --counter-steward %s: not https://IPV4:PORT\n", url);
        return -1;
    }
    memcpy(sc->host, hp, (size_t)(colon - hp));
    sc->host[colon - hp] = 0;
    sc->session.host = sc->host;
    sc->session.port = (int)port;
    return 0;
}

/* Bind the store to the service's counter: refuses a rolled-back store before serving. */
static int bind_steward_counter(struct hsm_service *svc, const char *url, const char *dir,
                                const char *name)
{
    static struct steward_counter sc; /* lives as long as the service */
    if (parse_steward_url(url, &sc) != 0)
        return -1;
    snprintf(sc.ca, sizeof(sc.ca), "%s/ca.pem", dir);
    snprintf(sc.cert, sizeof(sc.cert), "%s/cert.pem", dir);
    snprintf(sc.key, sizeof(sc.key), "%s/key.pem", dir);
    sc.session.ca_file = sc.ca;
    sc.session.cert_file = sc.cert;
    sc.session.key_file = sc.key;
    sc.name = name;
    struct hsm_counter counter = {.ctx = &sc, .get = steward_get, .cas = steward_cas};
    struct keep_error err;
    if (hsm_service_set_counter(svc, &counter, &err) != KEEP_OK) {
        fprintf(stderr, "keep-hsm: %s (counter %s at %s)\n", err.message, name, url);
        return -1;
    }
    fprintf(stderr, "keep-hsm: token bound to version counter %s at %s\n", name, url);
    return 0;
}

/*
 * --master-key-secret PATH (e.g. /run/keep/secrets/hsm-master, written by keep run --secret):
 * the secret the service releases only to this measurement; NULL path: none.
 */
static int use_master_secret(struct hsm_service *svc, const char *path)
{
    static uint8_t secret[4096];
    size_t n = 0;
    struct keep_error err;
    if (path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "keep-hsm: --master-key-secret %s: %s\n", path, strerror(errno));
            return -1;
        }
        n = fread(secret, 1, sizeof(secret), f);
        bool bad = ferror(f) || !feof(f);
        fclose(f);
        if (bad) {
            fprintf(stderr, "keep-hsm: --master-key-secret %s: unreadable or over %zu bytes\n",
                    path, sizeof(secret));
            OPENSSL_cleanse(secret, sizeof(secret));
            return -1;
        }
    }
    int rc = hsm_service_set_master_secret(svc, path ? secret : NULL, n, &err);
    OPENSSL_cleanse(secret, sizeof(secret));
    if (rc != KEEP_OK) {
        fprintf(stderr, "keep-hsm: %s\n", err.message);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *sock = NULL, *store = NULL;
    const char *master_secret = NULL;
    const char *counter_url = NULL, *steward_dir = "/run/keep", *counter_name = "keep-hsm-token";
    unsigned long iterations = 200000, threads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--listen") && i + 1 < argc)
            sock = argv[++i];
        else if (!strcmp(argv[i], "--store") && i + 1 < argc)
            store = argv[++i];
        else if (!strcmp(argv[i], "--kdf-iterations") && i + 1 < argc)
            iterations = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--counter-steward") && i + 1 < argc)
            counter_url = argv[++i];
        else if (!strcmp(argv[i], "--steward-dir") && i + 1 < argc)
            steward_dir = argv[++i];
        else if (!strcmp(argv[i], "--counter-name") && i + 1 < argc)
            counter_name = argv[++i];
        else if (!strcmp(argv[i], "--master-key-secret") && i + 1 < argc)
            master_secret = argv[++i];
        else
            usage();
    }
    if (!sock || !store || iterations < HSM_KDF_ITERATIONS_MIN || iterations > 100000000 ||
        threads < 1 || threads > 64)
        usage();
    signal(SIGPIPE, SIG_IGN); /* a client that goes away is a closed connection, not a death */
    /* Keep freed buffers in the heap: in a Keep every fresh page is a fault and every
     * mmap/munmap a call to the host, and requests allocate the same sizes again and again. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    rand_without_clock();
    struct keep_error err;
    struct hsm_service *svc;
    if (hsm_service_open(store, (uint32_t)iterations, &svc, &err) != KEEP_OK) {
        fprintf(stderr, "keep-hsm: %s\n", err.message);
        return 1;
    }
    if (use_master_secret(svc, master_secret) != 0)
        return 1;
    if (counter_url && bind_steward_counter(svc, counter_url, steward_dir, counter_name) != 0)
        return 1;
    hsm_service_set_evidence_fn(svc, keep_evidence);
    EVP_PKEY *key = NULL;
    SSL_CTX *ctx = tls_context(&key);
    if (!ctx || bind_evidence(svc, key) != 0) {
        fprintf(stderr, "keep-hsm: cannot set up TLS and evidence\n");
        return 1;
    }
    struct hsm_pool *pool;
    if (hsm_pool_new(svc, (unsigned)threads, rand_without_clock, &pool, &err) != KEEP_OK) {
        fprintf(stderr, "keep-hsm: %s\n", err.message);
        return 1;
    }
    int lfd = listen_on(sock);
    if (lfd < 0)
        return 1;
    fprintf(stderr, "keep-hsm: serving %s on %s (%lu threads)\n", store, sock, threads);
    return event_loop(lfd, ctx, svc, pool);
}
