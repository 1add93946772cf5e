/* SPDX-License-Identifier: Apache-2.0 */
#include "steward/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "steward/fetch.h"
#include "steward/pcs.h"

#define CLIENT_SLOTS 1024

struct server;

/* Concurrent connections per client address, counted from the TLS ClientHello to SSL_free. */
struct client_slot {
    char addr[INET6_ADDRSTRLEN];
    int count;
};

/*
 * Group commit: a request that writes (nonce, certificate, secret release, counter set) is
 * queued as a job; once the loop has read what arrived (the flush event has the lowest
 * priority), one transaction runs the queued jobs, each in its own savepoint, and commits
 * once; only then, durable, are their replies sent. One fdatasync serves the whole batch.
 */
#define GROUP_MAX 64

#define FETCH_MAX 16 /* collateral fetches in flight (each on its own thread) */

struct job;
typedef void (*handler_fn)(struct server *sv, struct job *j);

struct job {
    struct evhttp_request *req;
    handler_fn handle;
    int status; /* 0 until the handler replied */
    char type[64];
    struct evbuffer *body;
    struct job *next;
    /* a certificate request, parsed on arrival */
    bool has_creq, enarx;
    struct steward_cert_request creq;
    /* its VCEK fetch, run on a thread outside any transaction */
    struct server *sv;
    char url[1024];
    int fetch_rc;
    struct steward_bytes fetched;
    struct keep_error fetch_err;
    /* or its Intel collateral (url is then the cache key) */
    bool intel;
    struct steward_pcs_target target;
    int64_t not_after;
    /* the evidence verified in advance by a worker, against the policies of the moment */
    int64_t now;
    struct steward_prechecks pre;
};

/*
 * Workers: verifying evidence is the CPU-heavy step (a P-384 signature and its chain), so it
 * runs on --workers threads (default 2), each with a libkeep-attest verifier of its own, while the
 * loop goes on with TLS, parsing and the group commit. A job goes loop -> work queue -> worker ->
 * done pipe -> loop -> group commit.
 */
struct workers {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct job *queue, **tail;
    bool stop;
    int done_pipe[2];
    pthread_t threads[STEWARD_MAX_WORKERS];
    struct keep_attest_verifier *verifiers[STEWARD_MAX_WORKERS];
    int started;
    const struct steward *s;
};

struct server {
    struct steward *s;
    const struct steward_server_config *cfg;
    struct event_base *base;
    SSL_CTX *tls;
    struct client_slot clients[CLIENT_SLOTS];
    int total;
    uint64_t requests, limited;
    struct event *flush;
    struct job *queue, **queue_tail;
    uint64_t batches, batched, batch_max;
    int fetch_pipe[2]; /* fetch threads hand finished jobs back to the loop here */
    struct event *fetch_event;
    int fetching;
    struct workers workers;
    struct event *verified_event;
    int verifying;
};

/* The job whose reply the running handler makes: held until its batch has committed. */
static struct job *held_job;

static int conn_ex_index = -1;
static struct server *the_server; /* for the ex_data free callback */

/* ---- replies ---------------------------------------------------------------- */

static int status_of(int code)
{
    switch (code) {
    case KEEP_E_STEWARD_REQUEST:
    case KEEP_E_STEWARD_REQUEST_FIELD:
    case KEEP_E_STEWARD_CSR:
    case KEEP_E_STEWARD_CSR_SIGNATURE:
    case KEEP_E_STEWARD_CSR_KEY:
    case KEEP_E_STEWARD_CSR_EXTENSION:
    case KEEP_E_STEWARD_NONCE_UNKNOWN:
    case KEEP_E_STEWARD_NONCE_REUSED:
    case KEEP_E_STEWARD_NONCE_EXPIRED:
    case KEEP_E_STEWARD_POLICY:
    case KEEP_E_STEWARD_ADMIN:
    case KEEP_E_STEWARD_COUNTER_NAME:
    case KEEP_E_STEWARD_COUNTER_REQUEST:
        return 400;
    case KEEP_E_STEWARD_COUNTER_CONFLICT:
        return 409;
    case KEEP_E_STEWARD_CLIENT_CERT:
        return 401;
    case KEEP_E_STEWARD_EVIDENCE_INVALID:
    case KEEP_E_STEWARD_EVIDENCE_REJECTED:
    case KEEP_E_STEWARD_INSECURE_KVM:
    case KEEP_E_STEWARD_SECRET_DENIED:
    case KEEP_E_STEWARD_REVOKED:
        return 403;
    case KEEP_E_STEWARD_WORKLOAD_UNKNOWN:
    case KEEP_E_STEWARD_SECRET_UNKNOWN:
    case KEEP_E_STEWARD_NOT_FOUND:
        return 404;
    case KEEP_E_STEWARD_TOO_LARGE:
        return 413;
    case KEEP_E_STEWARD_NONCE_LIMIT:
    case KEEP_E_STEWARD_COUNTER_LIMIT:
        return 429;
    case KEEP_E_STEWARD_PCS_HEADER: /* the upstream PCS/PCCS sent what does not parse */
    case KEEP_E_STEWARD_PCS_REPLY:
        return 502;
    default:
        return 500;
    }
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 502:
        return "Bad Gateway";
    default:
        return "Internal Server Error";
    }
}

static void reply(struct evhttp_request *req, int status, const char *type, const void *data,
                  size_t size)
{
    if (held_job && held_job->req == req) {
        held_job->status = status;
        snprintf(held_job->type, sizeof(held_job->type), "%s", type);
        evbuffer_drain(held_job->body, evbuffer_get_length(held_job->body));
        evbuffer_add(held_job->body, data, size);
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    evbuffer_add(buf, data, size);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, status, reason_of(status), buf);
    evbuffer_free(buf);
}

static void reply_json(struct evhttp_request *req, int status, json_t *body, const char *type)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    reply(req, status, type, text ? text : "{}", text ? strlen(text) : 2);
    free(text);
}

/* RFC 9457 problem details; "check" names the failed check (the error code). extra (stolen,
 * may be NULL) adds extension members (RFC 9457 section 3.2), such as a counter's value. */
static void problem_with(struct evhttp_request *req, int code, const char *detail, json_t *errors,
                         json_t *extra)
{
    int status = status_of(code);
    char type[128];
    snprintf(type, sizeof(type), "urn:keep:steward:problem:%s", keep_err_name(code));
    json_t *body =
        json_pack("{s:s,s:s,s:i,s:s,s:s}", "type", type, "title", keep_err_description(code),
                  "status", status, "detail", detail, "check", keep_err_name(code));
    if (errors)
        json_object_set(body, "errors", errors);
    if (extra)
        json_object_update(body, extra);
    json_decref(extra);
    reply_json(req, status, body, "application/problem+json");
}

static void problem(struct evhttp_request *req, int code, const char *detail, json_t *errors)
{
    problem_with(req, code, detail, errors, NULL);
}

static int body_of(struct evhttp_request *req, size_t max, uint8_t **data, size_t *size)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n > max)
        return KEEP_E_STEWARD_TOO_LARGE;
    *data = malloc(n + 1);
    if (!*data)
        return KEEP_E_NOMEM;
    evbuffer_remove(in, *data, n);
    (*data)[n] = 0;
    *size = n;
    return KEEP_OK;
}

static bool content_type_is(struct evhttp_request *req, const char *want)
{
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    size_t n = strlen(want);
    return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';');
}

/* ---- public handlers ---------------------------------------------------------- */

static void handle_nonce(struct server *sv, struct evhttp_request *req)
{
    char hex[65], when[40];
    int64_t expires;
    struct keep_error err;
    if (steward_nonce_new(sv->s, time(NULL), hex, &expires, &err) != KEEP_OK) {
        problem(req, err.code, err.message, NULL);
        return;
    }
    keep_format_time(expires, when, sizeof(when));
    reply_json(req, 201, json_pack("{s:s,s:s}", "nonce", hex, "expires", when), "application/json");
}

static char *chain_pem(struct steward *s, X509 *leaf)
{
    char *pem = steward_x509_pem(leaf);
    size_t n = pem ? strlen(pem) : 0, m = strlen(s->ca.cert_pem);
    char *out = pem ? realloc(pem, n + m + 1) : NULL;
    if (!out) {
        free(pem);
        return NULL;
    }
    memcpy(out + n, s->ca.cert_pem, m + 1);
    return out;
}

static void reply_issued(struct server *sv, struct evhttp_request *req,
                         const struct steward_issued *issued)
{
    char *leaf = steward_x509_pem(issued->cert), *chain = chain_pem(sv->s, issued->cert);
    json_t *claims = json_loads(issued->claims_json, 0, NULL);
    reply_json(req, 201,
               json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "certificate", leaf ? leaf : "", "chain",
                         chain ? chain : "", "ca", sv->s->ca.cert_pem, "serial", issued->serial,
                         "workload", issued->workload, "claims", claims ? claims : json_null()),
               "application/json");
    free(leaf);
    free(chain);
}

/* DER of SEQUENCE OF Certificate: what Enarx Steward answers a PKCS#10 request with. */
static int der_sequence(X509 *const *certs, size_t count, uint8_t **out, size_t *size)
{
    size_t total = 0;
    int lens[4];
    for (size_t i = 0; i < count; i++) {
        lens[i] = i2d_X509(certs[i], NULL);
        if (lens[i] <= 0)
            return -1;
        total += (size_t)lens[i];
    }
    int hdr = ASN1_object_size(1, (int)total, V_ASN1_SEQUENCE);
    uint8_t *buf = malloc((size_t)hdr);
    if (!buf || hdr <= 0)
        return -1;
    unsigned char *p = buf;
    ASN1_put_object(&p, 1, (int)total, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
    for (size_t i = 0; i < count; i++)
        i2d_X509(certs[i], &p);
    *out = buf;
    *size = (size_t)(p - buf);
    return 0;
}

static void reply_enarx(struct server *sv, struct evhttp_request *req,
                        const struct steward_issued *issued)
{
    X509 *certs[2] = {sv->s->ca.cert, issued->cert};
    uint8_t *der;
    size_t size;
    if (der_sequence(certs, 2, &der, &size) == 0) {
        /* As Enarx Steward's axum handler answers a Vec<u8>: 200, application/octet-stream. */
        reply(req, 200, "application/octet-stream", der, size);
        free(der);
    } else {
        problem(req, KEEP_E_STEWARD_CRYPTO, "encoding the reply failed", NULL);
    }
}

/* In the group commit: nonce, appraisal, leaf, records, audit (steward_issue). */
static void issue_job(struct server *sv, struct job *j)
{
    struct steward_issued issued;
    json_t *errors = NULL;
    struct keep_error err;
    int rc = steward_issue_prechecked(sv->s, &j->creq, j->now, &j->pre, &issued, &errors, &err);
    if (rc) {
        problem(j->req, rc, err.message, errors);
        json_decref(errors);
        return;
    }
    if (j->enarx)
        reply_enarx(sv, j->req, &issued);
    else
        reply_issued(sv, j->req, &issued);
    steward_issued_free(&issued);
}

static X509 *verified_peer(struct evhttp_request *req)
{
    struct evhttp_connection *c = evhttp_request_get_connection(req);
    struct bufferevent *bev = c ? evhttp_connection_get_bufferevent(c) : NULL;
    SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
    if (!ssl || SSL_get_verify_result(ssl) != X509_V_OK)
        return NULL;
    return SSL_get0_peer_certificate(ssl);
}

static void handle_secret(struct server *sv, struct evhttp_request *req, const char *name)
{
    uint8_t *value;
    size_t size;
    struct keep_error err;
    int rc =
        steward_secret_release(sv->s, verified_peer(req), name, time(NULL), &value, &size, &err);
    if (rc) {
        problem(req, rc, err.message, NULL);
        return;
    }
    reply(req, 200, "application/octet-stream", value, size);
    OPENSSL_cleanse(value, size);
    free(value);
}

/* GET /v1/counters/{name} and POST /v1/counters/{name} {"expect": N, "set": M}, over mutual
 * TLS: the counter namespace is the client certificate's workload (docs/STEWARD.md). */
static void handle_counter(struct server *sv, struct evhttp_request *req, const char *name,
                           bool post)
{
    struct keep_error err;
    uint64_t value = 0;
    int rc;
    if (!post) {
        rc = steward_counter_read(sv->s, verified_peer(req), name, time(NULL), &value, &err);
    } else if (!content_type_is(req, "application/json")) {
        rc = keep_fail(&err, KEEP_E_STEWARD_COUNTER_REQUEST,
                       "POST /v1/counters takes Content-Type application/json");
    } else {
        uint8_t *body;
        size_t size;
        struct steward_counter_update u;
        if ((rc = body_of(req, 4096, &body, &size))) {
            keep_fail(&err, rc, "counter request body over 4096 bytes");
        } else {
            rc = steward_counter_request_parse((const char *)body, size, &u, &err);
            free(body);
        }
        if (rc == KEEP_OK)
            rc =
                steward_counter_swap(sv->s, verified_peer(req), name, &u, time(NULL), &value, &err);
    }
    if (rc == KEEP_E_STEWARD_COUNTER_CONFLICT)
        problem_with(req, rc, err.message, NULL, json_pack("{s:I}", "value", (json_int_t)value));
    else if (rc)
        problem(req, rc, err.message, NULL);
    else
        reply_json(req, 200, json_pack("{s:I}", "value", (json_int_t)value), "application/json");
}

static void handle_crl(struct server *sv, struct evhttp_request *req)
{
    uint8_t *der;
    size_t size;
    struct keep_error err;
    if (steward_ca_crl(&sv->s->ca, sv->s->store, time(NULL), 3600, &der, &size, &err) != KEEP_OK) {
        problem(req, err.code, err.message, NULL);
        return;
    }
    reply(req, 200, "application/pkix-crl", der, size);
    free(der);
}

static void handle_metrics(struct server *sv, struct evhttp_request *req)
{
    char text[2048];
    struct steward *s = sv->s;
    int n =
        snprintf(text, sizeof(text),
                 "# TYPE keep_steward_requests_total counter\n"
                 "keep_steward_requests_total %llu\n"
                 "keep_steward_certificates_issued_total %llu\n"
                 "keep_steward_certificates_refused_total %llu\n"
                 "keep_steward_secrets_released_total %llu\n"
                 "keep_steward_secrets_refused_total %llu\n"
                 "keep_steward_nonces_issued_total %llu\n"
                 "keep_steward_connections_limited_total %llu\n"
                 "keep_steward_connections %d\n"
                 "keep_steward_certificates_stored %lld\n"
                 "keep_steward_audit_entries %lld\n"
                 "keep_steward_commit_batches_total %llu\n"
                 "keep_steward_batched_requests_total %llu\n"
                 "keep_steward_commit_batch_max %llu\n",
                 (unsigned long long)sv->requests, (unsigned long long)s->issued,
                 (unsigned long long)s->refused, (unsigned long long)s->secrets_released,
                 (unsigned long long)s->secrets_refused, (unsigned long long)s->nonces,
                 (unsigned long long)sv->limited, sv->total,
                 (long long)steward_store_count(s->store, "certificates"),
                 (long long)steward_store_count(s->store, "audit"), (unsigned long long)sv->batches,
                 (unsigned long long)sv->batched, (unsigned long long)sv->batch_max);
    reply(req, 200, "text/plain; version=0.0.4", text, (size_t)n);
}

/* ---- group commit ---------------------------------------------------------------- */

static const char *request_path(struct evhttp_request *req)
{
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    return path ? path : "/";
}

static void secret_job(struct server *sv, struct job *j)
{
    handle_secret(sv, j->req, request_path(j->req) + 12);
}

static void counter_set_job(struct server *sv, struct job *j)
{
    handle_counter(sv, j->req, request_path(j->req) + 13, true);
}

static struct job *job_new(struct evhttp_request *req, handler_fn handle)
{
    struct job *j = calloc(1, sizeof(*j));
    struct evbuffer *body = j ? evbuffer_new() : NULL;
    if (!body) {
        free(j);
        problem(req, KEEP_E_NOMEM, "out of memory queueing the request", NULL);
        return NULL;
    }
    j->req = req;
    j->handle = handle;
    j->body = body;
    return j;
}

static void job_free(struct job *j)
{
    steward_prechecks_free(&j->pre);
    if (j->has_creq)
        steward_request_free(&j->creq);
    free(j->fetched.data);
    evbuffer_free(j->body);
    free(j);
}

static void job_queue(struct server *sv, struct job *j)
{
    *sv->queue_tail = j;
    sv->queue_tail = &j->next;
    event_active(sv->flush, EV_TIMEOUT, 1); /* no-op while already active */
}

static void enqueue(struct server *sv, struct evhttp_request *req, handler_fn handle)
{
    struct job *j = job_new(req, handle);
    if (j)
        job_queue(sv, j);
}

static void nonce_job(struct server *sv, struct job *j)
{
    handle_nonce(sv, j->req);
}

static void hand_back(int fd, struct job *j)
{
    ssize_t n;
    do /* a pointer is far below PIPE_BUF: the write is atomic (pipe(7)) */
        n = write(fd, &j, sizeof(j));
    while (n < 0 && errno == EINTR);
}

struct worker_arg {
    struct workers *w;
    int index;
};

static void *worker_main(void *arg)
{
    struct workers *w = ((struct worker_arg *)arg)->w;
    struct keep_attest_verifier *verifier = w->verifiers[((struct worker_arg *)arg)->index];
    free(arg);
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (!w->queue && !w->stop)
            pthread_cond_wait(&w->wake, &w->lock);
        struct job *j = w->queue;
        if (j && !(w->queue = j->next))
            w->tail = &w->queue;
        pthread_mutex_unlock(&w->lock);
        if (!j)
            return NULL; /* stopping, queue empty */
        j->next = NULL;
        steward_precheck_run(w->s, verifier, &j->creq, j->now, &j->pre);
        hand_back(w->done_pipe[1], j);
    }
}

static int workers_start(struct workers *w, const struct steward *s, int count,
                         struct keep_error *err)
{
    *w = (struct workers){.s = s};
    w->tail = &w->queue;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pipe2(w->done_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return keep_fail(err, KEEP_E_STEWARD_LISTEN, "pipe2: %s", strerror(errno));
    for (int i = 0; i < count; i++) {
        int rc = keep_attest_verifier_new(s->cfg.roots_dir, &w->verifiers[i], err);
        struct worker_arg *a = rc == KEEP_OK ? malloc(sizeof(*a)) : NULL;
        if (a)
            *a = (struct worker_arg){.w = w, .index = i};
        if (!a || pthread_create(&w->threads[i], NULL, worker_main, a) != 0) {
            free(a);
            keep_attest_verifier_free(w->verifiers[i]);
            w->verifiers[i] = NULL;
            return rc ? rc : keep_fail(err, KEEP_E_STEWARD_LISTEN, "cannot start worker %d", i);
        }
        w->started++;
    }
    return KEEP_OK;
}

/* Workers finish the job in hand; jobs still queued or handed back are dropped unanswered. */
static void workers_stop(struct workers *w)
{
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    struct job *j = w->queue;
    w->queue = NULL;
    w->tail = &w->queue;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->started; i++)
        pthread_join(w->threads[i], NULL);
    while (j) {
        struct job *next = j->next;
        job_free(j);
        j = next;
    }
    for (struct job *done; read(w->done_pipe[0], &done, sizeof(done)) == sizeof(done);)
        job_free(done);
    for (int i = 0; i < STEWARD_MAX_WORKERS; i++)
        keep_attest_verifier_free(w->verifiers[i]);
    if (w->done_pipe[0] > 0) {
        close(w->done_pipe[0]);
        close(w->done_pipe[1]);
    }
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
}

/* On the loop: copy the policies to try, then hand the job to a worker. */
static void verify_start(struct server *sv, struct job *j)
{
    struct keep_error err;
    j->now = time(NULL);
    if (sv->workers.started == 0 ||
        steward_precheck_plan(sv->s, &j->creq, &j->pre, &err) != KEEP_OK) {
        job_queue(sv, j); /* steward_issue verifies inline and reports what failed */
        return;
    }
    struct workers *w = &sv->workers;
    pthread_mutex_lock(&w->lock);
    *w->tail = j;
    w->tail = &j->next;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    sv->verifying++;
}

static void verified_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct server *sv = arg;
    struct job *j;
    while (read(fd, &j, sizeof(j)) == (ssize_t)sizeof(j)) {
        sv->verifying--;
        job_queue(sv, j);
    }
}

static void *fetch_thread(void *arg)
{
    struct job *j = arg;
    j->fetch_rc =
        j->intel ? steward_pcs_fetch(j->sv->s->cfg.intel_pcs_url, &j->target, STEWARD_FETCH_TIMEOUT,
                                     &j->fetched, &j->not_after, &j->fetch_err)
                 : steward_fetch(j->url, STEWARD_FETCH_TIMEOUT, &j->fetched, &j->fetch_err);
    hand_back(j->sv->fetch_pipe[1], j);
    return NULL;
}

/* The VCEK is fetched on a thread, never on the loop nor inside a transaction; the request
 * joins the group commit once it is there. */
static void fetch_start(struct server *sv, struct job *j, const char *url)
{
    pthread_t t;
    pthread_attr_t attr;
    if (url != j->url) /* an Intel job's key is already there */
        snprintf(j->url, sizeof(j->url), "%s", url);
    j->sv = sv;
    if (sv->fetching >= FETCH_MAX) {
        problem(j->req, KEEP_E_STEWARD_COLLATERAL_FETCH,
                "collateral fetch not started: FETCH_MAX fetches are in flight", NULL);
        job_free(j);
        return;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, fetch_thread, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        problem(j->req, KEEP_E_STEWARD_COLLATERAL_FETCH, "cannot start a fetch thread", NULL);
        job_free(j);
        return;
    }
    sv->fetching++;
}

static void fetch_finished(struct server *sv, struct job *j)
{
    struct keep_error err;
    sv->fetching--;
    int rc = j->fetch_rc;
    if (rc)
        err = j->fetch_err;
    else if (j->intel)
        rc = steward_intel_fetched(sv->s, j->url, &j->fetched, j->not_after, time(NULL), &err);
    else
        rc = steward_vcek_fetched(sv->s, j->url, &j->fetched, time(NULL), &err);
    if (rc == KEEP_OK && j->intel)
        rc = steward_pcs_apply(&j->fetched, &j->creq, &err);
    if (rc) {
        /* Nothing was verified and the nonce is unspent: the Keep may retry with it. */
        problem(j->req, rc, err.message, NULL);
        job_free(j);
        return;
    }
    if (j->intel) {
        free(j->fetched.data);
    } else {
        free(j->creq.vcek.data);
        j->creq.vcek = j->fetched;
    }
    j->fetched = (struct steward_bytes){0};
    verify_start(sv, j);
}

/* No VCEK to fetch: an SGX/TDX request without collateral may need Intel's (--intel-pcs). */
static void intel_or_verify(struct server *sv, struct job *j)
{
    struct keep_error err;
    struct steward_bytes cached;
    switch (steward_intel_plan(sv->s, &j->creq, time(NULL), j->url, sizeof(j->url), &j->target,
                               &cached)) {
    case STEWARD_VCEK_CACHED: {
        int rc = steward_pcs_apply(&cached, &j->creq, &err);
        free(cached.data);
        if (rc) {
            problem(j->req, rc, err.message, NULL);
            job_free(j);
            return;
        }
        verify_start(sv, j);
        break;
    }
    case STEWARD_VCEK_FETCH:
        j->intel = true;
        fetch_start(sv, j, j->url);
        break;
    default:
        verify_start(sv, j);
    }
}

static void fetch_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct job *j;
    while (read(fd, &j, sizeof(j)) == (ssize_t)sizeof(j))
        fetch_finished(arg, j);
}

/* POST /v1/certificates and POST /: parsed on arrival, then queued (after a VCEK fetch when
 * the request needs one). */
static void certificates_arrive(struct server *sv, struct evhttp_request *req, bool enarx)
{
    uint8_t *body;
    size_t size;
    struct keep_error err;
    if (!content_type_is(req, enarx ? "application/pkcs10" : "application/json")) {
        problem(req, KEEP_E_STEWARD_REQUEST,
                enarx ? "POST / takes Content-Type application/pkcs10 (Enarx Steward)"
                      : "Content-Type must be application/json",
                NULL);
        return;
    }
    int rc = body_of(req, sv->cfg->max_body, &body, &size);
    if (rc) {
        problem(req, rc, "request body too large", NULL);
        return;
    }
    struct job *j = job_new(req, issue_job);
    if (!j) {
        free(body);
        return;
    }
    j->enarx = enarx;
    rc = enarx ? steward_request_parse_enarx(body, size, &j->creq, &err)
               : steward_request_parse_json((const char *)body, size, &j->creq, &err);
    free(body);
    if (rc) {
        problem(req, rc, err.message, NULL);
        job_free(j);
        return;
    }
    j->has_creq = true;
    char url[1024];
    struct steward_bytes cached;
    switch (steward_vcek_plan(sv->s, &j->creq, time(NULL), url, sizeof(url), &cached)) {
    case STEWARD_VCEK_CACHED:
        j->creq.vcek = cached;
        verify_start(sv, j);
        break;
    case STEWARD_VCEK_FETCH:
        fetch_start(sv, j, url);
        break;
    default:
        intel_or_verify(sv, j);
    }
}

static void job_send(struct job *j)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(j->req);
    evhttp_add_header(h, "Content-Type", j->type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(j->req, j->status, reason_of(j->status), j->body);
}

static void flush_jobs(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct server *sv = arg;
    struct job *batch = sv->queue, **tail = &batch;
    size_t n = 0;
    while (*tail && n < GROUP_MAX) {
        tail = &(*tail)->next;
        n++;
    }
    sv->queue = *tail;
    *tail = NULL;
    if (!sv->queue)
        sv->queue_tail = &sv->queue;
    struct keep_error err = {0};
    struct steward_store *store = sv->s->store;
    int rc = steward_store_begin(store, &err);
    for (struct job *j = batch; j && rc == KEEP_OK; j = j->next) {
        held_job = j;
        j->handle(sv, j);
        held_job = NULL;
    }
    /* The one durable commit (synchronous=FULL) for the batch; nothing is answered before. */
    if (rc == KEEP_OK && (rc = steward_store_commit(store, &err)) != KEEP_OK)
        steward_store_rollback(store);
    while (batch) {
        struct job *j = batch;
        batch = j->next;
        if (rc)
            problem(j->req, rc, err.message, NULL);
        else if (j->status)
            job_send(j);
        else
            problem(j->req, KEEP_E_STEWARD_STORE, "the request was not answered", NULL);
        job_free(j);
    }
    sv->batches++;
    sv->batched += n;
    sv->batch_max = n > sv->batch_max ? n : sv->batch_max;
    if (sv->queue)
        event_active(sv->flush, EV_TIMEOUT, 1);
}

static void route(struct evhttp_request *req, void *arg)
{
    struct server *sv = arg;
    sv->requests++;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    path = path ? path : "/";
    /* Requests that write go through the group commit; reads are answered at once. */
    if (m == EVHTTP_REQ_POST && strcmp(path, "/v1/nonce") == 0)
        enqueue(sv, req, nonce_job);
    else if (m == EVHTTP_REQ_POST && strcmp(path, "/v1/certificates") == 0)
        certificates_arrive(sv, req, false);
    else if (m == EVHTTP_REQ_POST && strcmp(path, "/") == 0)
        certificates_arrive(sv, req, true);
    else if (m == EVHTTP_REQ_GET && strncmp(path, "/v1/secrets/", 12) == 0)
        enqueue(sv, req, secret_job); /* its audit entry is a write */
    else if (m == EVHTTP_REQ_POST && strncmp(path, "/v1/counters/", 13) == 0)
        enqueue(sv, req, counter_set_job);
    else if (m == EVHTTP_REQ_GET && strncmp(path, "/v1/counters/", 13) == 0)
        handle_counter(sv, req, path + 13, false);
    else if (m == EVHTTP_REQ_GET && strcmp(path, "/ca.pem") == 0)
        reply(req, 200, "application/x-pem-file", sv->s->ca.cert_pem, strlen(sv->s->ca.cert_pem));
    else if (m == EVHTTP_REQ_GET && strcmp(path, "/crl.der") == 0)
        handle_crl(sv, req);
    else if (m == EVHTTP_REQ_GET && (strcmp(path, "/healthz") == 0 || strcmp(path, "/") == 0))
        reply(req, 200, "text/plain", "ok\n", 3); /* GET / is Enarx Steward's health check */
    else if (m == EVHTTP_REQ_GET && strcmp(path, "/metrics") == 0)
        handle_metrics(sv, req);
    else
        problem(req, KEEP_E_STEWARD_NOT_FOUND, "no such endpoint or method", NULL);
}

/* ---- connection limits ---------------------------------------------------------- */

static void slot_release(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                         void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    struct client_slot *slot = ptr;
    if (slot && the_server) {
        slot->count--;
        the_server->total--;
    }
}

static struct client_slot *slot_for(struct server *sv, const char *addr)
{
    struct client_slot *free_slot = NULL;
    for (int i = 0; i < CLIENT_SLOTS; i++) {
        if (sv->clients[i].count > 0 && strcmp(sv->clients[i].addr, addr) == 0)
            return &sv->clients[i];
        if (!free_slot && sv->clients[i].count == 0)
            free_slot = &sv->clients[i];
    }
    if (free_slot)
        snprintf(free_slot->addr, sizeof(free_slot->addr), "%s", addr);
    return free_slot;
}

static int client_hello(SSL *ssl, int *alert, void *arg)
{
    struct server *sv = arg;
    if (SSL_get_ex_data(ssl, conn_ex_index))
        return SSL_CLIENT_HELLO_SUCCESS; /* a second ClientHello (HelloRetryRequest) */
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char addr[INET6_ADDRSTRLEN] = "?";
    if (getpeername(SSL_get_fd(ssl), (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
    }
    struct client_slot *slot = slot_for(sv, addr);
    if (!slot || slot->count >= sv->cfg->max_conns_per_client || sv->total >= sv->cfg->max_conns) {
        sv->limited++;
        keep_log(KEEP_LOG_WARN,
                 "steward: connection from %s refused: %d open (limit %d per client)", addr,
                 slot ? slot->count : -1, sv->cfg->max_conns_per_client);
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    slot->count++;
    sv->total++;
    SSL_set_ex_data(ssl, conn_ex_index, slot);
    return SSL_CLIENT_HELLO_SUCCESS;
}

static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
    struct server *sv = arg;
    SSL *ssl = SSL_new(sv->tls);
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static int tls_context(struct server *sv, struct keep_error *err)
{
    EVP_PKEY *key;
    X509 *cert;
    int rc = steward_ca_server_identity(&sv->s->ca, sv->s->state_dir, sv->cfg->dns,
                                        sv->cfg->dns_count, &key, &cert, err);
    if (rc)
        return rc;
    sv->tls = SSL_CTX_new(TLS_server_method());
    X509_STORE *store = sv->tls ? SSL_CTX_get_cert_store(sv->tls) : NULL;
    bool ok = sv->tls && SSL_CTX_set_min_proto_version(sv->tls, TLS1_3_VERSION) &&
              SSL_CTX_use_certificate(sv->tls, cert) == 1 &&
              SSL_CTX_use_PrivateKey(sv->tls, key) == 1 &&
              SSL_CTX_add_extra_chain_cert(sv->tls, X509_dup(sv->s->ca.cert)) == 1 && store &&
              X509_STORE_add_cert(store, sv->s->ca.cert) == 1 &&
              SSL_CTX_add_client_CA(sv->tls, sv->s->ca.cert) == 1 &&
              SSL_CTX_set_session_id_context(sv->tls, (const unsigned char *)"keep-steward", 12);
    X509_free(cert);
    EVP_PKEY_free(key);
    if (!ok)
        return keep_fail(err, KEEP_E_STEWARD_CRYPTO, "TLS context setup failed");
    /* A client certificate is asked for, not required: only /v1/secrets needs one. */
    SSL_CTX_set_verify(sv->tls, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_client_hello_cb(sv->tls, client_hello, sv);
    if (conn_ex_index < 0)
        conn_ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, slot_release);
    return KEEP_OK;
}

/* ---- admin ---------------------------------------------------------------------- */

static void admin_ok(struct evhttp_request *req, json_t *extra)
{
    json_t *body = extra ? extra : json_object();
    json_object_set_new(body, "ok", json_true());
    reply_json(req, 200, body, "application/json");
}

static void admin_result(struct evhttp_request *req, int rc, const struct keep_error *err)
{
    if (rc)
        problem(req, rc, err->message, NULL);
    else
        admin_ok(req, NULL);
}

static void admin_route(struct evhttp_request *req, void *arg)
{
    struct server *sv = arg;
    struct steward *s = sv->s;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    struct keep_error err = {0};
    int64_t now = time(NULL);
    uint8_t *body = NULL;
    size_t size = 0;
    path = path ? path : "/";
    if (body_of(req, 1 << 20, &body, &size)) {
        problem(req, KEEP_E_STEWARD_TOO_LARGE, "admin request body over 1 MiB", NULL);
        return;
    }
    if (m == EVHTTP_REQ_PUT && strncmp(path, "/policies/", 10) == 0) {
        admin_result(req, steward_admin_policy_put(s, path + 10, (const char *)body, now, &err),
                     &err);
    } else if (m == EVHTTP_REQ_DELETE && strncmp(path, "/policies/", 10) == 0) {
        admin_result(req, steward_admin_policy_delete(s, path + 10, now, &err), &err);
    } else if (m == EVHTTP_REQ_GET && strcmp(path, "/policies") == 0) {
        char **names;
        size_t count;
        int rc = steward_policy_names(s->store, &names, &count, &err);
        if (rc) {
            problem(req, rc, err.message, NULL);
        } else {
            json_t *list = json_object();
            for (size_t i = 0; i < count; i++) {
                char *doc = NULL;
                if (steward_policy_get(s->store, names[i], &doc, &err) == KEEP_OK)
                    json_object_set_new(list, names[i], json_loads(doc, 0, NULL));
                free(doc);
            }
            steward_names_free(names, count);
            admin_ok(req, json_pack("{s:o}", "policies", list));
        }
    } else if (m == EVHTTP_REQ_PUT && strncmp(path, "/secrets/", 9) == 0) {
        admin_result(req, steward_admin_secret_put(s, path + 9, body, size, now, &err), &err);
    } else if (m == EVHTTP_REQ_POST && strncmp(path, "/revoke/serial/", 15) == 0) {
        admin_result(req, steward_admin_revoke_serial(s, path + 15, now, &err), &err);
    } else if (m == EVHTTP_REQ_POST && strncmp(path, "/revoke/measurement/", 20) == 0) {
        admin_result(req, steward_admin_revoke_measurement(s, path + 20, now, &err), &err);
    } else if (m == EVHTTP_REQ_GET && strcmp(path, "/audit/verify") == 0) {
        int64_t count = 0;
        int rc = steward_audit_verify(s->store, &count, &err);
        if (rc)
            problem(req, rc, err.message, NULL);
        else
            admin_ok(req, json_pack("{s:I}", "entries", (json_int_t)count));
    } else {
        problem(req, KEEP_E_STEWARD_NOT_FOUND, "no such admin endpoint", NULL);
    }
    OPENSSL_cleanse(body, size);
    free(body);
}

static struct evconnlistener *admin_listener(struct server *sv, struct keep_error *err)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(sv->cfg->admin_socket) >= sizeof(sun.sun_path)) {
        keep_fail(err, KEEP_E_STEWARD_ADMIN, "admin socket path %s is too long",
                  sv->cfg->admin_socket);
        return NULL;
    }
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sv->cfg->admin_socket);
    unlink(sun.sun_path);
    /* 0600 from the start: the umask applies to bind(2)'s socket file (unix(7)). */
    mode_t old = umask(0177);
    struct evconnlistener *l =
        evconnlistener_new_bind(sv->base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                16, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (!l)
        keep_fail(err, KEEP_E_STEWARD_ADMIN, "admin socket %s: %s", sun.sun_path, strerror(errno));
    return l;
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    event_base_loopexit(arg, NULL);
}

static void limits(struct evhttp *http, const struct steward_server_config *cfg)
{
    evhttp_set_max_body_size(http, (ev_ssize_t)cfg->max_body);
    evhttp_set_max_headers_size(http, 16 * 1024);
    evhttp_set_timeout(http, 30);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                         EVHTTP_REQ_DELETE);
}

int steward_serve(struct steward *s, const struct steward_server_config *cfg,
                  struct keep_error *err)
{
    struct server sv = {.s = s, .cfg = cfg};
    the_server = &sv;
    signal(SIGPIPE, SIG_IGN);
    int rc = tls_context(&sv, err);
    if (rc)
        return rc;
    sv.base = event_base_new();
    sv.queue_tail = &sv.queue;
    /* Three priorities: signals and I/O at the default (1), the group commit last (2), so a
     * batch takes every request the loop has read before it runs. */
    event_base_priority_init(sv.base, 3);
    sv.flush = event_new(sv.base, -1, 0, flush_jobs, &sv);
    event_priority_set(sv.flush, 2);
    if (pipe2(sv.fetch_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        event_free(sv.flush);
        event_base_free(sv.base);
        SSL_CTX_free(sv.tls);
        return keep_fail(err, KEEP_E_STEWARD_LISTEN, "pipe2: %s", strerror(errno));
    }
    sv.fetch_event = event_new(sv.base, sv.fetch_pipe[0], EV_READ | EV_PERSIST, fetch_ready, &sv);
    event_add(sv.fetch_event, NULL);
    if ((rc = workers_start(&sv.workers, s, cfg->workers, err)) == KEEP_OK) {
        sv.verified_event =
            event_new(sv.base, sv.workers.done_pipe[0], EV_READ | EV_PERSIST, verified_ready, &sv);
        event_add(sv.verified_event, NULL);
    }
    struct evhttp *http = evhttp_new(sv.base), *admin = evhttp_new(sv.base);
    limits(http, cfg);
    limits(admin, cfg);
    evhttp_set_bevcb(http, tls_bev, &sv);
    evhttp_set_gencb(http, route, &sv);
    evhttp_set_gencb(admin, admin_route, &sv);
    struct evhttp_bound_socket *bound =
        evhttp_bind_socket_with_handle(http, cfg->listen_host, (ev_uint16_t)cfg->listen_port);
    struct evconnlistener *al = NULL;
    if (rc) {
        /* the workers did not start: err says why */
    } else if (!bound) {
        rc = keep_fail(err, KEEP_E_STEWARD_LISTEN, "cannot listen on %s:%d: %s", cfg->listen_host,
                       cfg->listen_port, strerror(errno));
    } else if (!(al = admin_listener(&sv, err))) {
        rc = err->code;
    } else {
        evhttp_bind_listener(admin, al);
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &len);
        int port = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                            : ntohs(((struct sockaddr_in *)&ss)->sin_port);
        /* Without --public-url the CRL distribution point names the first DNS name and the
         * port actually bound (which --listen HOST:0 leaves to the kernel). */
        static char url[512];
        if (!s->cfg.public_url) {
            snprintf(url, sizeof(url), "https://%s:%d", cfg->dns[0], port);
            s->cfg.public_url = url;
        }
        struct event *term = evsignal_new(sv.base, SIGTERM, on_signal, sv.base);
        struct event *intr = evsignal_new(sv.base, SIGINT, on_signal, sv.base);
        event_add(term, NULL);
        event_add(intr, NULL);
        printf("keep-steward: listening on https://%s:%d (admin %s)%s\n", cfg->listen_host, port,
               cfg->admin_socket, s->cfg.insecure_kvm ? "; INSECURE: kvm evidence accepted" : "");
        fflush(stdout);
        event_base_dispatch(sv.base);
        event_free(term);
        event_free(intr);
        unlink(cfg->admin_socket);
    }
    workers_stop(&sv.workers);
    if (sv.verified_event)
        event_free(sv.verified_event);
    /* Fetches in flight end within their timeout; their jobs, like those still queued, were
     * never committed and get no answer. */
    fcntl(sv.fetch_pipe[0], F_SETFL, 0);
    for (struct job *j; sv.fetching > 0 && read(sv.fetch_pipe[0], &j, sizeof(j)) == sizeof(j);) {
        sv.fetching--;
        job_free(j);
    }
    while (sv.queue) {
        struct job *j = sv.queue;
        sv.queue = j->next;
        job_free(j);
    }
    event_free(sv.fetch_event);
    close(sv.fetch_pipe[0]);
    close(sv.fetch_pipe[1]);
    event_free(sv.flush);
    evhttp_free(admin);
    evhttp_free(http);
    event_base_free(sv.base);
    SSL_CTX_free(sv.tls);
    the_server = NULL;
    return rc;
}
