/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep-hsm's request handling (src/hsm/service.c) against arbitrary frames
 * from a client. The input is split into frames as keep-hsm splits a TLS
 * stream; each whole frame is handled on an initialised token with a
 * logged-in R/W session (handle 2), so requests reach the object and
 * mechanism code. A malformed frame must fail cleanly; a reply must always
 * be a well-formed frame.
 */
#include <p11-kit/pkcs11.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsm/service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void rpc(struct hsm_service *s, uint64_t conn, uint8_t op, const struct hsm_buf *req)
{
    struct hsm_buf f = {0}, out = {0};
    size_t start = hsm_frame_begin(&f, op, 1);
    hsm_put(&f, req->data, req->size);
    hsm_frame_end(&f, start);
    if (hsm_service_handle(s, conn, f.data, f.size, &out, NULL) != KEEP_OK)
        abort();
    hsm_buf_free(&f);
    hsm_buf_free(&out);
}

/* A token with an SO and a user PIN, made once; each input starts from a copy of it. */
static void make_token(void)
{
    static char dir[] = "/tmp/keep-fuzz-hsm-XXXXXX";
    if (path[0] || !mkdtemp(dir))
        return;
    snprintf(path, sizeof(path), "%s/token.khsm", dir);
    struct hsm_service *s;
    if (hsm_service_open(path, 1000, &s, NULL) != KEEP_OK)
        abort();
    uint64_t c = hsm_service_connect(s);
    struct hsm_buf b = {0};
    hsm_put_bytes(&b, "so-pin-1", 8);
    hsm_put_bytes(&b, "fuzz", 4);
    rpc(s, c, HSM_OP_INIT_TOKEN, &b);
    b.size = 0;
    hsm_put_u64(&b, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    rpc(s, c, HSM_OP_OPEN_SESSION, &b); /* handle 1 */
    b.size = 0;
    hsm_put_u64(&b, 1);
    hsm_put_u64(&b, CKU_SO);
    hsm_put_bytes(&b, "so-pin-1", 8);
    rpc(s, c, HSM_OP_LOGIN, &b);
    b.size = 0;
    hsm_put_u64(&b, 1);
    hsm_put_bytes(&b, "1234", 4);
    rpc(s, c, HSM_OP_INIT_PIN, &b);
    hsm_buf_free(&b);
    hsm_service_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    make_token();
    struct hsm_service *s;
    if (hsm_service_open(path, 1000, &s, NULL) != KEEP_OK)
        abort();
    uint64_t c = hsm_service_connect(s);
    struct hsm_buf b = {0};
    hsm_put_u64(&b, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    rpc(s, c, HSM_OP_OPEN_SESSION, &b); /* handle 1 again: a fresh service */
    b.size = 0;
    hsm_put_u64(&b, 1);
    hsm_put_u64(&b, CKU_USER);
    hsm_put_bytes(&b, "1234", 4);
    rpc(s, c, HSM_OP_LOGIN, &b);
    hsm_buf_free(&b);

    size_t off = 0, frame;
    while (off < size && hsm_frame_split(data + off, size - off, &frame, NULL) == KEEP_OK &&
           frame) {
        struct hsm_buf out = {0};
        struct hsm_header h;
        struct keep_cursor cur;
        if (hsm_service_handle(s, c, data + off, frame, &out, NULL) == KEEP_OK &&
            hsm_frame_open(out.data, out.size, &h, &cur, NULL) != KEEP_OK)
            abort(); /* every reply is a frame this side could parse */
        hsm_buf_free(&out);
        off += frame;
    }
    hsm_service_free(s);
    return 0;
}
