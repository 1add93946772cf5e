/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The token sealed under the PINs and the master key secret the attestation
 * service releases (hsm_service_set_master_secret, docs/HSM.md "Sealing key"):
 * the right PIN with the wrong secret does not open it, a sealed-by-service
 * token does not start without a secret, a PIN-only token refuses one, and
 * the PIN still gates login.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "hsm/cryptoki.h"
#include "hsm/service.h"
#include "hsm/store.h"
#include "tap.h"

static struct hsm_service *svc;
static uint64_t conn;
static char dir[] = "/tmp/keep-test-hsm-seal-XXXXXX", path[80];
static const char secret[] = "0123456789abcdef0123456789abcdef-released";
static const char other[] = "0123456789abcdef0123456789abcdef-something-else";

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

/* Restart the service on the file with secret s (NULL: none); the result of setting it. */
static int restart(const char *s, struct keep_error *err)
{
    hsm_service_free(svc);
    svc = NULL;
    if (hsm_service_open(path, 1000, &svc, err) != KEEP_OK)
        return -1;
    conn = hsm_service_connect(svc);
    return hsm_service_set_master_secret(svc, (const uint8_t *)s, s ? strlen(s) : 0, err);
}

static CK_RV init_token(void)
{
    struct hsm_buf req = {0};
    hsm_put_bytes(&req, "so-secret", 9);
    hsm_put_bytes(&req, "seal", 4);
    CK_RV rv = rpc(HSM_OP_INIT_TOKEN, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

/* Open a session and log the SO in with pin; the login's result. */
static CK_RV so_login(const char *pin)
{
    uint64_t flags = CKF_SERIAL_SESSION | CKF_RW_SESSION, so = CKU_SO, sess = 0;
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, flags);
    if (rpc(HSM_OP_OPEN_SESSION, &req, &reply) == CKR_OK && reply.size == 8)
        memcpy(&sess, reply.data, 8);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    req = (struct hsm_buf){0};
    hsm_put_u64(&req, sess);
    hsm_put_u64(&req, so);
    hsm_put_bytes(&req, pin, strlen(pin));
    CK_RV rv = rpc(HSM_OP_LOGIN, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

static uint32_t store_flags(void)
{
    struct hsm_store st;
    bool exists;
    uint32_t f = 0;
    if (hsm_store_load(path, &st, &exists, NULL) == KEEP_OK) {
        f = st.flags;
        hsm_store_free(&st);
    }
    return f;
}

int main(void)
{
    struct keep_error err;
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/token.khsm", dir);
    is_int(restart("too short", &err), KEEP_E_HSM_CONFIG, "a secret under 32 bytes is refused");
    ok(strstr(err.message, "9 bytes, at least 32") != NULL, "naming its size: %s", err.message);
    is_int(restart(secret, &err), KEEP_OK, "a new token takes the service's secret");
    is_int(init_token(), CKR_OK, "C_InitToken");
    ok(store_flags() & HSM_STORE_SERVICE_KEY, "the store says it is sealed under the service key");
    is_int(restart(secret, &err), KEEP_OK, "restart with the same secret");
    is_int(so_login("wrong-pin"), CKR_PIN_INCORRECT, "the PIN still gates login");
    is_int(so_login("so-secret"), CKR_OK, "the right PIN and the right secret open the token");
    is_int(restart(other, &err), KEEP_OK, "restart with another secret");
    is_int(so_login("so-secret"), CKR_PIN_INCORRECT,
           "the right PIN with the wrong secret does not unwrap the master key");
    is_int(restart(NULL, &err), KEEP_E_HSM_CONFIG, "without a secret keep-hsm does not start");
    ok(strstr(err.message, "--master-key-secret") != NULL, "saying what it needs: %s", err.message);
    /* A token sealed under the PINs alone. */
    unlink(path);
    is_int(restart(NULL, &err), KEEP_OK, "a new token without a secret");
    is_int(init_token(), CKR_OK, "C_InitToken (PINs only)");
    ok(!(store_flags() & HSM_STORE_SERVICE_KEY), "the store is not marked");
    is_int(restart(secret, &err), KEEP_E_HSM_CONFIG, "a PIN-only token refuses a secret");
    ok(strstr(err.message, "PINs alone") != NULL, "saying so: %s", err.message);
    is_int(restart(NULL, &err), KEEP_OK, "and opens without one");
    is_int(so_login("so-secret"), CKR_OK, "SO login on the PIN-only token");
    hsm_service_free(svc);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        diag("could not remove %s", dir);
    return done_testing();
}
