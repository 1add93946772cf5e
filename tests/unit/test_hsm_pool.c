/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One batch of key-service requests over several threads (src/hsm/pool.c):
 * a batch of signatures is spread over the threads and every reply is the
 * right one; verification side by side; a batch with an op that changes
 * the token, or a bad frame, runs in order on the caller; --threads bounds.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include "hsm/cryptoki.h"
#include "hsm/pool.h"
#include "hsm/service.h"
#include "tap.h"

#define BATCH 64

static struct hsm_service *svc;
static uint64_t conn;
static char dir[] = "/tmp/keep-test-hsm-pool-XXXXXX";
static char path[80];
static atomic_int helpers_started;

static void count_helper(void)
{
    atomic_fetch_add(&helpers_started, 1);
}

static void frame(struct hsm_buf *f, uint8_t op, uint32_t id, const struct hsm_buf *fields)
{
    *f = (struct hsm_buf){0};
    size_t start = hsm_frame_begin(f, op, id);
    if (fields)
        hsm_put(f, fields->data, fields->size);
    hsm_frame_end(f, start);
}

/* A reply's CK_RV after checking it answers op/id; fields (after the CK_RV) in *rest. */
static CK_RV reply_rv(const struct hsm_buf *out, uint8_t op, uint32_t id, struct keep_cursor *rest)
{
    struct hsm_header h;
    struct keep_error err;
    uint64_t rv;
    if (hsm_frame_open(out->data, out->size, &h, rest, &err) != KEEP_OK || h.op != op ||
        h.id != id || keep_cursor_u64(rest, "rv", &rv, NULL) != KEEP_OK)
        return (CK_RV)-1;
    return (CK_RV)rv;
}

/* One request through the service directly (setup). */
static CK_RV call(uint8_t op, const struct hsm_buf *fields, uint64_t *first_u64)
{
    struct hsm_buf f, out = {0};
    struct keep_error err;
    struct keep_cursor rest;
    frame(&f, op, 1, fields);
    CK_RV rv = hsm_service_handle(svc, conn, f.data, f.size, &out, &err) == KEEP_OK
                   ? reply_rv(&out, op, 1, &rest)
                   : (CK_RV)-1;
    if (first_u64 && keep_cursor_u64(&rest, "u64", first_u64, NULL) != KEEP_OK)
        *first_u64 = 0;
    hsm_buf_free(&f);
    hsm_buf_free(&out);
    return rv;
}

/* A token with a user PIN, a logged-in session and an ECDSA P-256 session key pair. */
static bool setup(uint64_t *session, uint64_t *pub, uint64_t *priv)
{
    struct hsm_buf b = {0};
    hsm_put_bytes(&b, "so-secret", 9);
    hsm_put_bytes(&b, "pool", 4);
    bool ok = call(HSM_OP_INIT_TOKEN, &b, NULL) == CKR_OK;
    b.size = 0;
    hsm_put_u64(&b, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    ok = ok && call(HSM_OP_OPEN_SESSION, &b, session) == CKR_OK;
    b.size = 0;
    hsm_put_u64(&b, *session);
    hsm_put_u64(&b, CKU_SO);
    hsm_put_bytes(&b, "so-secret", 9);
    ok = ok && call(HSM_OP_LOGIN, &b, NULL) == CKR_OK;
    b.size = 0;
    hsm_put_u64(&b, *session);
    hsm_put_bytes(&b, "1234", 4);
    ok = ok && call(HSM_OP_INIT_PIN, &b, NULL) == CKR_OK;
    b.size = 0;
    hsm_put_u64(&b, *session);
    ok = ok && call(HSM_OP_LOGOUT, &b, NULL) == CKR_OK;
    b.size = 0;
    hsm_put_u64(&b, *session);
    hsm_put_u64(&b, CKU_USER);
    hsm_put_bytes(&b, "1234", 4);
    ok = ok && call(HSM_OP_LOGIN, &b, NULL) == CKR_OK;

    static const uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    static const CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    struct hsm_attr pt[] = {{CKA_EC_PARAMS, p256, sizeof(p256)}, {CKA_TOKEN, &no, 1}};
    struct hsm_attr vt[] = {{CKA_TOKEN, &no, 1}, {CKA_SIGN, &yes, 1}};
    b.size = 0;
    hsm_put_u64(&b, *session);
    hsm_put_mech(&b, &(struct hsm_mech){CKM_EC_KEY_PAIR_GEN, NULL, 0});
    hsm_put_template(&b, pt, 2);
    hsm_put_template(&b, vt, 2);
    struct hsm_buf f, out = {0};
    struct keep_error err;
    struct keep_cursor rest;
    frame(&f, HSM_OP_GENERATE_KEY_PAIR, 2, &b);
    ok = ok && hsm_service_handle(svc, conn, f.data, f.size, &out, &err) == KEEP_OK &&
         reply_rv(&out, HSM_OP_GENERATE_KEY_PAIR, 2, &rest) == CKR_OK &&
         keep_cursor_u64(&rest, "pub", pub, NULL) == KEEP_OK &&
         keep_cursor_u64(&rest, "priv", priv, NULL) == KEEP_OK;
    hsm_buf_free(&f);
    hsm_buf_free(&out);
    hsm_buf_free(&b);
    return ok;
}

struct batch {
    struct hsm_buf frames[BATCH], replies[BATCH];
    struct hsm_job jobs[BATCH];
};

static void add_job(struct batch *b, size_t i, uint8_t op, const struct hsm_buf *fields)
{
    frame(&b->frames[i], op, (uint32_t)(1000 + i), fields);
    b->replies[i] = (struct hsm_buf){0};
    b->jobs[i] = (struct hsm_job){
        .conn = conn, .frame = b->frames[i].data, .size = b->frames[i].size, .out = &b->replies[i]};
}

static void free_batch(struct batch *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        hsm_buf_free(&b->frames[i]);
        hsm_buf_free(&b->replies[i]);
    }
}

/* SIGN (or VERIFY with sigs[i]) of a digest that differs per job. */
static void crypto_fields(struct hsm_buf *f, uint64_t s, uint64_t key, size_t i,
                          const struct hsm_buf *sig)
{
    uint8_t digest[32] = {(uint8_t)i, (uint8_t)(i >> 8), 0x5a};
    *f = (struct hsm_buf){0};
    hsm_put_u64(f, s);
    hsm_put_mech(f, &(struct hsm_mech){CKM_ECDSA, NULL, 0});
    hsm_put_u64(f, key);
    hsm_put_bytes(f, digest, sizeof(digest));
    if (sig)
        hsm_put_bytes(f, sig->data, sig->size);
}

static void test_signatures(struct hsm_pool *pool, uint64_t s, uint64_t pub, uint64_t priv)
{
    static struct batch b, v;
    struct hsm_buf sigs[BATCH] = {{0}};
    for (size_t i = 0; i < BATCH; i++) {
        struct hsm_buf f;
        crypto_fields(&f, s, priv, i, NULL);
        add_job(&b, i, HSM_OP_SIGN, &f);
        hsm_buf_free(&f);
    }
    ok(hsm_pool_run(pool, b.jobs, BATCH), "a batch of %d signatures is spread over the threads",
       BATCH);
    int good = 0;
    for (size_t i = 0; i < BATCH; i++) {
        struct keep_cursor rest;
        const uint8_t *sig;
        uint32_t n;
        if (b.jobs[i].rc == KEEP_OK &&
            reply_rv(&b.replies[i], HSM_OP_SIGN, (uint32_t)(1000 + i), &rest) == CKR_OK &&
            hsm_get_bytes(&rest, "sig", 1024, &sig, &n, NULL) == KEEP_OK && n == 64) {
            hsm_put(&sigs[i], sig, n);
            good++;
        }
    }
    is_int(good, BATCH, "every reply answers its own request with a 64-byte signature");

    /* Each signature verifies for its own digest; the last job checks job 0's signature
     * against its own digest, which must fail. */
    for (size_t i = 0; i < BATCH; i++) {
        struct hsm_buf f;
        crypto_fields(&f, s, pub, i, i == BATCH - 1 ? &sigs[0] : &sigs[i]);
        add_job(&v, i, HSM_OP_VERIFY, &f);
        hsm_buf_free(&f);
    }
    ok(hsm_pool_run(pool, v.jobs, BATCH), "verifications run side by side too");
    int verified = 0;
    struct keep_cursor rest;
    for (size_t i = 0; i + 1 < BATCH; i++)
        verified += reply_rv(&v.replies[i], HSM_OP_VERIFY, (uint32_t)(1000 + i), &rest) == CKR_OK;
    is_int(verified, BATCH - 1, "each signature verifies for the digest its job signed");
    is_int(reply_rv(&v.replies[BATCH - 1], HSM_OP_VERIFY, 1000 + BATCH - 1, &rest),
           CKR_SIGNATURE_INVALID, "and not for another job's digest");
    for (size_t i = 0; i < BATCH; i++)
        hsm_buf_free(&sigs[i]);
    free_batch(&b, BATCH);
    free_batch(&v, BATCH);
}

static void test_in_order(struct hsm_pool *pool, uint64_t s, uint64_t priv)
{
    static struct batch b;
    struct hsm_buf f, open = {0};
    crypto_fields(&f, s, priv, 1, NULL);
    hsm_put_u64(&open, CKF_SERIAL_SESSION);
    add_job(&b, 0, HSM_OP_SIGN, &f);
    add_job(&b, 1, HSM_OP_OPEN_SESSION, &open);
    add_job(&b, 2, HSM_OP_SIGN, &f);
    ok(!hsm_pool_run(pool, b.jobs, 3), "a batch that opens a session runs in order on the caller");
    struct keep_cursor rest;
    ok(reply_rv(&b.replies[0], HSM_OP_SIGN, 1000, &rest) == CKR_OK &&
           reply_rv(&b.replies[1], HSM_OP_OPEN_SESSION, 1001, &rest) == CKR_OK &&
           reply_rv(&b.replies[2], HSM_OP_SIGN, 1002, &rest) == CKR_OK,
       "and every request of it is answered");
    free_batch(&b, 3);

    /* A frame of another protocol version: the batch runs in order, that job alone fails. */
    add_job(&b, 0, HSM_OP_SIGN, &f);
    add_job(&b, 1, HSM_OP_SIGN, &f);
    b.frames[1].data[4] = 2; /* frame.version */
    ok(!hsm_pool_run(pool, b.jobs, 2), "a batch with a bad frame runs in order");
    ok(b.jobs[0].rc == KEEP_OK && b.jobs[1].rc == KEEP_E_HSM_VERSION,
       "the bad frame fails with hsm.version, the good one is answered: %s", b.jobs[1].err.message);
    free_batch(&b, 2);

    /* A session that does not exist is that request's answer, not the batch's. */
    struct hsm_buf g;
    crypto_fields(&g, s + 999, priv, 2, NULL);
    add_job(&b, 0, HSM_OP_SIGN, &f);
    add_job(&b, 1, HSM_OP_SIGN, &g);
    ok(hsm_pool_run(pool, b.jobs, 2), "two signatures run side by side");
    ok(reply_rv(&b.replies[0], HSM_OP_SIGN, 1000, &rest) == CKR_OK &&
           reply_rv(&b.replies[1], HSM_OP_SIGN, 1001, &rest) == CKR_SESSION_HANDLE_INVALID,
       "an unknown session is CKR_SESSION_HANDLE_INVALID for its request only");
    free_batch(&b, 2);
    hsm_buf_free(&f);
    hsm_buf_free(&g);
    hsm_buf_free(&open);
}

int main(void)
{
    struct keep_error err;
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/token.khsm", dir);
    if (hsm_service_open(path, 1000, &svc, &err) != KEEP_OK) {
        diag("open: %s", err.message);
        return 1;
    }
    conn = hsm_service_connect(svc);
    struct hsm_pool *pool = NULL;
    is_int(hsm_pool_new(svc, 0, NULL, &pool, &err), KEEP_E_HSM_THREADS, "--threads 0 is refused");
    is_int(hsm_pool_new(svc, 65, NULL, &pool, &err), KEEP_E_HSM_THREADS,
           "--threads 65 is refused: %s", err.message);
    uint64_t s = 0, pub = 0, priv = 0;
    ok(setup(&s, &pub, &priv), "token, user login and an ECDSA P-256 key pair");
    if (hsm_pool_new(svc, 3, count_helper, &pool, &err) != KEEP_OK) {
        diag("pool: %s", err.message);
        return 1;
    }
    test_signatures(pool, s, pub, priv);
    test_in_order(pool, s, priv);
    hsm_pool_free(pool);
    is_int(atomic_load(&helpers_started), 2, "a pool of 3 threads ran 2 helpers, each initialized");

    struct hsm_pool *alone;
    struct batch *b = calloc(1, sizeof(*b));
    struct hsm_buf f;
    crypto_fields(&f, s, priv, 3, NULL);
    add_job(b, 0, HSM_OP_SIGN, &f);
    add_job(b, 1, HSM_OP_SIGN, &f);
    ok(hsm_pool_new(svc, 1, NULL, &alone, &err) == KEEP_OK && !hsm_pool_run(alone, b->jobs, 2) &&
           b->jobs[0].rc == KEEP_OK && b->jobs[1].rc == KEEP_OK,
       "--threads 1: the caller runs every job itself");
    hsm_pool_free(alone);
    free_batch(b, 2);
    free(b);
    hsm_buf_free(&f);
    hsm_service_free(svc);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        diag("could not remove %s", dir);
    return done_testing();
}
