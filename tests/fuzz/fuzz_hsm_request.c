/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep-hsm's request handling (src/hsm/service.c) against arbitrary frames
 * from a client. The input is split into frames as keep-hsm splits a TLS
 * stream; each whole frame is handled on an initialised token with a
 * logged-in R/W session (handle 1), so requests reach the object and
 * mechanism code. A malformed frame must fail cleanly; a reply must always
 * be a well-formed frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hsm/cryptoki.h"
#include "hsm/service.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64], work[80];
static uint8_t *master;
static size_t master_size;

static CK_RV rpc(struct hsm_service *s, uint64_t conn, uint8_t op, const struct hsm_buf *req)
{
    struct hsm_buf f = {0}, out = {0};
    size_t start = hsm_frame_begin(&f, op, 1);
    hsm_put(&f, req->data, req->size);
    hsm_frame_end(&f, start);
    if (hsm_service_handle(s, conn, f.data, f.size, &out, NULL) != KEEP_OK || out.size < 20)
        abort();
    uint64_t rv;
    memcpy(&rv, out.data + 12, 8); /* after length and header: the reply's CK_RV */
    hsm_buf_free(&f);
    hsm_buf_free(&out);
    return (CK_RV)rv;
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
    FILE *f = fopen(path, "rb");
    master = malloc(1 << 16);
    if (!f || !master || (master_size = fread(master, 1, 1 << 16, f)) == 0)
        abort();
    fclose(f);
    snprintf(work, sizeof(work), "%s.work", path);
}

/* Each input starts from the same token: inputs may write (and rename over) the work file. */
static void reset_work(void)
{
    FILE *f = fopen(work, "wb");
    if (!f || fwrite(master, 1, master_size, f) != master_size)
        abort();
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    make_token();
    reset_work();
    struct hsm_service *s;
    if (hsm_service_open(work, 1000, &s, NULL) != KEEP_OK)
        abort();
    uint64_t c = hsm_service_connect(s);
    struct hsm_buf b = {0};
    hsm_put_u64(&b, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    rpc(s, c, HSM_OP_OPEN_SESSION, &b); /* handle 1 again: a fresh service */
    b.size = 0;
    hsm_put_u64(&b, 1);
    hsm_put_u64(&b, CKU_USER);
    hsm_put_bytes(&b, "1234", 4);
    if (rpc(s, c, HSM_OP_LOGIN, &b) != CKR_OK)
        abort(); /* the input must start logged in, or it explores little */
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
