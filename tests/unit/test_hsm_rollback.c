/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rollback detection of the token store (src/hsm/service.c,
 * hsm_service_set_counter) against a fake version counter standing in for
 * keep-steward's /v1/counters: every acknowledged write moves the counter;
 * a replayed older store is refused at start; a stop between the store
 * write and the counter move is repaired, not reported as a rollback.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "hsm/cryptoki.h"
#include "hsm/service.h"
#include "hsm/store.h"
#include "tap.h"

struct fake_counter {
    uint64_t value;
    int fail_get, fail_cas, conflict; /* make the next get / cas fail, or another writer win */
    int moves;
};

static int fake_get(void *ctx, uint64_t *value, char *msg, size_t n)
{
    struct fake_counter *f = ctx;
    if (f->fail_get) {
        snprintf(msg, n, "fake: service unreachable");
        return -1;
    }
    *value = f->value;
    return 0;
}

static int fake_cas(void *ctx, uint64_t expect, uint64_t set, uint64_t *value, char *msg, size_t n)
{
    struct fake_counter *f = ctx;
    if (f->fail_cas) { /* the Keep stopped (or the network failed) before the move */
        f->fail_cas = 0;
        snprintf(msg, n, "fake: connection reset");
        return -1;
    }
    if (f->conflict) {
        f->conflict = 0;
        f->value += 5;
    }
    if (f->value != expect || set <= expect) {
        *value = f->value;
        return 1;
    }
    f->value = set;
    *value = set;
    f->moves++;
    return 0;
}

static struct fake_counter fake;
static const struct hsm_counter counter = {&fake, fake_get, fake_cas};
static struct hsm_service *svc;
static uint64_t conn, sess = 1;
static char dir[] = "/tmp/keep-test-hsm-rb-XXXXXX", path[80];

static CK_RV rpc(uint8_t op, const struct hsm_buf *req, struct hsm_buf *reply)
{
    struct hsm_buf frame = {0}, out = {0};
    size_t start = hsm_frame_begin(&frame, op, 3);
    if (req)
        hsm_put(&frame, req->data, req->size);
    hsm_frame_end(&frame, start);
    CK_RV rv = (CK_RV)-1;
    struct hsm_header h;
    struct keep_cursor c;
    uint64_t v;
    if (hsm_service_handle(svc, conn, frame.data, frame.size, &out, NULL) == KEEP_OK &&
        hsm_frame_open(out.data, out.size, &h, &c, NULL) == KEEP_OK &&
        keep_cursor_u64(&c, "rv", &v, NULL) == KEEP_OK) {
        rv = (CK_RV)v;
        if (reply) {
            *reply = (struct hsm_buf){0};
            hsm_put(reply, out.data + keep_cursor_offset(&c), keep_cursor_remaining(&c));
        }
    }
    hsm_buf_free(&frame);
    hsm_buf_free(&out);
    return rv;
}

static CK_RV call(uint8_t op, uint64_t a, const uint64_t *b, const char *bytes)
{
    struct hsm_buf req = {0};
    hsm_put_u64(&req, a);
    if (b)
        hsm_put_u64(&req, *b);
    if (bytes)
        hsm_put_bytes(&req, bytes, strlen(bytes));
    CK_RV rv = rpc(op, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

static const CK_BBOOL yes = CK_TRUE;
static const CK_OBJECT_CLASS data_class = CKO_DATA;

static CK_RV store_data_object(const char *label)
{
    struct hsm_attr t[] = {{CKA_CLASS, (const uint8_t *)&data_class, sizeof(data_class)},
                           {CKA_TOKEN, &yes, 1},
                           {CKA_LABEL, (const uint8_t *)label, (uint32_t)strlen(label)}};
    struct hsm_buf req = {0};
    hsm_put_u64(&req, sess);
    hsm_put_template(&req, t, 3);
    CK_RV rv = rpc(HSM_OP_CREATE_OBJECT, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

static uint32_t count_data_objects(void)
{
    struct hsm_attr t[] = {{CKA_CLASS, (const uint8_t *)&data_class, sizeof(data_class)}};
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, sess);
    hsm_put_template(&req, t, 1);
    uint32_t n = 0;
    if (rpc(HSM_OP_FIND, &req, &reply) == CKR_OK && reply.size >= 4)
        memcpy(&n, reply.data, 4);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return n;
}

static uint64_t store_generation(void)
{
    struct hsm_store st;
    bool exists;
    uint64_t g = 0;
    if (hsm_store_load(path, &st, &exists, NULL) == KEEP_OK) {
        g = st.generation;
        hsm_store_free(&st);
    }
    return g;
}

/* Restart keep-hsm on the file as it is; the result of binding the counter, its message. */
static int restart(struct keep_error *err)
{
    hsm_service_free(svc);
    svc = NULL;
    if (hsm_service_open(path, 1000, &svc, err) != KEEP_OK)
        return -1;
    int rc = hsm_service_set_counter(svc, &counter, err);
    conn = hsm_service_connect(svc);
    return rc;
}

/* A new R/W session (in sess) logged in as the user. */
static void user_session(void)
{
    uint64_t flags = CKF_SERIAL_SESSION | CKF_RW_SESSION, user = CKU_USER;
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, flags);
    if (rpc(HSM_OP_OPEN_SESSION, &req, &reply) == CKR_OK && reply.size == 8)
        memcpy(&sess, reply.data, 8);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    if (call(HSM_OP_LOGIN, sess, &user, "1234") != CKR_OK)
        diag("user login failed");
}

static void copy_file(const char *from, const char *to)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
    if (system(cmd) != 0)
        diag("cp %s %s failed", from, to);
}

int main(void)
{
    struct keep_error err;
    char old[96], cur[96], want[160];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/token.khsm", dir);
    snprintf(old, sizeof(old), "%s/old.khsm", dir);
    snprintf(cur, sizeof(cur), "%s/cur.khsm", dir);
    is_int(restart(&err), KEEP_OK, "a new token binds to a new counter (0 and 0)");
    struct hsm_buf req = {0};
    hsm_put_bytes(&req, "so-secret", 9);
    hsm_put_bytes(&req, "rb", 2);
    is_int(rpc(HSM_OP_INIT_TOKEN, &req, NULL), CKR_OK, "C_InitToken");
    hsm_buf_free(&req);
    ok(fake.value > 0 && fake.value == store_generation(),
       "the counter holds the store's generation after C_InitToken");
    uint64_t flags = CKF_SERIAL_SESSION | CKF_RW_SESSION, so = CKU_SO;
    req = (struct hsm_buf){0};
    hsm_put_u64(&req, flags);
    rpc(HSM_OP_OPEN_SESSION, &req, NULL);
    hsm_buf_free(&req);
    is_int(call(HSM_OP_LOGIN, 1, &so, "so-secret"), CKR_OK, "SO login");
    uint64_t before = fake.value;
    is_int(call(HSM_OP_INIT_PIN, 1, NULL, "1234"), CKR_OK, "C_InitPIN");
    ok(fake.value > before && fake.value == store_generation(),
       "a PIN change is a new generation, counted");
    call(HSM_OP_LOGOUT, 1, NULL, NULL);
    uint64_t user = CKU_USER;
    is_int(call(HSM_OP_LOGIN, 1, &user, "1234"), CKR_OK, "user login");
    is_int(store_data_object("one"), CKR_OK, "a token object");
    copy_file(path, old);
    uint64_t old_gen = store_generation();
    is_int(store_data_object("two"), CKR_OK, "a second token object");
    ok(fake.value == store_generation() && fake.value == old_gen + 1,
       "each write moves the counter by one");
    copy_file(path, cur);

    /* The host replays the older, validly sealed file. */
    copy_file(old, path);
    is_int(restart(&err), KEEP_E_HSM_ROLLBACK, "a replayed older store is refused at start");
    snprintf(want, sizeof(want), "token rolled back: store generation %llu, service counter %llu",
             (unsigned long long)old_gen, (unsigned long long)fake.value);
    is_str(err.message, want, "the message names both numbers");
    unlink(path);
    is_int(restart(&err), KEEP_E_HSM_ROLLBACK, "a deleted store is a rollback too");
    copy_file(cur, path);
    is_int(restart(&err), KEEP_OK, "the current store starts");
    user_session();
    is_int(count_data_objects(), 2, "with both objects");

    /* Stopped after the store write, before the counter move (kill -9 there). */
    uint64_t counted = fake.value;
    fake.fail_cas = 1;
    is_int(store_data_object("three"), CKR_DEVICE_ERROR, "a write whose count fails is not acked");
    is_int(store_generation(), counted + 1, "(the store has it: one generation ahead)");
    is_int(fake.value, counted, "(the counter does not)");
    is_int(store_data_object("four"), CKR_DEVICE_ERROR, "no more writes until a restart");
    is_int(store_generation(), counted + 1, "and the store did not move again");
    is_int(restart(&err), KEEP_OK, "generation == counter + 1 starts: no false rollback alarm");
    is_int(fake.value, counted + 1, "and the counter is repaired to the store's generation");
    user_session();
    is_int(count_data_objects(), 3, "no data lost: the acknowledged objects and the unacked one");
    is_int(store_data_object("five"), CKR_OK, "writes work again");
    ok(fake.value == store_generation(), "counted");

    /* A counter far behind or unreachable. */
    fake.value -= 2;
    is_int(restart(&err), KEEP_E_HSM_COUNTER, "a store two writes ahead of the counter is refused");
    fake.value += 2;
    fake.fail_get = 1;
    is_int(restart(&err), KEEP_E_HSM_COUNTER, "an unreadable counter stops the start");
    ok(strstr(err.message, "unreachable") != NULL, "with the service's reason");
    fake.fail_get = 0;
    is_int(restart(&err), KEEP_OK, "restart");
    user_session();
    fake.conflict = 1;
    is_int(store_data_object("six"), CKR_DEVICE_ERROR,
           "a counter moved by someone else fails the write's acknowledgement");
    hsm_service_free(svc);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        diag("could not remove %s", dir);
    return done_testing();
}
