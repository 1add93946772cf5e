/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C_FindObjects through keep-hsm's object index (src/hsm/service.c, struct obj_index): with
 * many objects, searches by CKA_ID, CKA_LABEL and CKA_CLASS (the indexed keys), by other
 * attributes (a scan) and by combinations return exactly the objects that match, and still do
 * after objects are destroyed (positions move), relabelled, or belong to another application.
 * Results only, never time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "hsm/cryptoki.h"
#include "hsm/service.h"
#include "tap.h"

#define N 1200 /* objects: well past one bucket table's first size */

static struct hsm_service *svc;
static char dir[] = "/tmp/keep-test-hsm-find-XXXXXX";
static char path[80];

static CK_RV rpc(uint64_t conn, uint8_t op, const struct hsm_buf *req, struct hsm_buf *reply)
{
    struct hsm_buf frame = {0}, out = {0};
    size_t start = hsm_frame_begin(&frame, op, 5);
    if (req)
        hsm_put(&frame, req->data, req->size);
    hsm_frame_end(&frame, start);
    struct keep_error err;
    struct hsm_header h;
    struct keep_cursor c;
    uint64_t v;
    CK_RV rv = (CK_RV)-1;
    if (hsm_service_handle(svc, conn, frame.data, frame.size, &out, &err) == KEEP_OK &&
        hsm_frame_open(out.data, out.size, &h, &c, &err) == KEEP_OK &&
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

static uint64_t session(uint64_t conn)
{
    struct hsm_buf req = {0}, reply = {0};
    uint64_t h = 0;
    hsm_put_u64(&req, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    if (rpc(conn, HSM_OP_OPEN_SESSION, &req, &reply) == CKR_OK && reply.size == 8)
        memcpy(&h, reply.data, 8);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return h;
}

static const CK_OBJECT_CLASS data_class = CKO_DATA, cert_class = CKO_CERTIFICATE;

/* Object i: label "obj-i", CKA_ID one byte i % 10, a certificate when i % 3 == 0 (else data),
 * CKA_APPLICATION "app-(i % 7)" (not indexed). */
static uint64_t create(uint64_t conn, uint64_t s, int i)
{
    char label[16], app[16];
    uint8_t id = (uint8_t)(i % 10);
    int ln = snprintf(label, sizeof(label), "obj-%d", i);
    int an = snprintf(app, sizeof(app), "app-%d", i % 7);
    struct hsm_attr a[] = {
        {CKA_CLASS, (const uint8_t *)(i % 3 ? &data_class : &cert_class), sizeof(CK_ULONG)},
        {CKA_LABEL, (const uint8_t *)label, (uint32_t)ln},
        {CKA_ID, &id, 1},
        {CKA_APPLICATION, (const uint8_t *)app, (uint32_t)an},
    };
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, s);
    hsm_put_template(&req, a, 4);
    uint64_t h = 0;
    if (rpc(conn, HSM_OP_CREATE_OBJECT, &req, &reply) == CKR_OK && reply.size == 8)
        memcpy(&h, reply.data, 8);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return h;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* FIND with template t; the sorted handles in found[], their count returned (-1: failed). */
static int find(uint64_t conn, uint64_t s, const struct hsm_attr *t, uint32_t n, uint64_t *found)
{
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, s);
    hsm_put_template(&req, t, n);
    int count = -1;
    uint32_t got;
    if (rpc(conn, HSM_OP_FIND, &req, &reply) == CKR_OK && reply.size >= 4) {
        memcpy(&got, reply.data, 4);
        if (reply.size == 4 + (size_t)got * 8) {
            memcpy(found, reply.data + 4, (size_t)got * 8);
            qsort(found, got, 8, cmp_u64);
            count = (int)got;
        }
    }
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return count;
}

static uint64_t handles[N];
static bool alive[N];

/* Whether found[0..count) is exactly the live objects i with want(i), sorted. */
static bool exactly(const uint64_t *found, int count, bool (*want)(int, const void *),
                    const void *arg)
{
    uint64_t expect[N];
    int n = 0;
    for (int i = 0; i < N; i++)
        if (alive[i] && want(i, arg))
            expect[n++] = handles[i];
    qsort(expect, (size_t)n, 8, cmp_u64);
    if (n != count) {
        diag("found %d objects, expected %d", count, n);
        return false;
    }
    return memcmp(expect, found, (size_t)n * 8) == 0;
}

static bool with_id(int i, const void *arg)
{
    return i % 10 == *(const int *)arg;
}

static bool is_cert(int i, const void *arg)
{
    (void)arg;
    return i % 3 == 0;
}

static bool cert_with_id(int i, const void *arg)
{
    return is_cert(i, arg) && with_id(i, arg);
}

static bool with_app(int i, const void *arg)
{
    return i % 7 == *(const int *)arg;
}

static bool any(int i, const void *arg)
{
    (void)i;
    (void)arg;
    return true;
}

static uint64_t found[N];

static void test_find(uint64_t conn, uint64_t s)
{
    bool made = true;
    for (int i = 0; i < N; i++) {
        handles[i] = create(conn, s, i);
        alive[i] = handles[i] != 0;
        made &= alive[i];
    }
    ok(made, "%d session objects created", N);

    struct hsm_attr by_label = {CKA_LABEL, (const uint8_t *)"obj-777", 7};
    ok(find(conn, s, &by_label, 1, found) == 1 && found[0] == handles[777], "by CKA_LABEL: one");
    uint8_t id = 7;
    int seven = 7;
    struct hsm_attr by_id = {CKA_ID, &id, 1};
    int n = find(conn, s, &by_id, 1, found);
    ok(exactly(found, n, with_id, &seven), "by CKA_ID: the %d objects with ID 07", n);
    struct hsm_attr by_class = {CKA_CLASS, (const uint8_t *)&cert_class, sizeof(CK_ULONG)};
    n = find(conn, s, &by_class, 1, found);
    ok(exactly(found, n, is_cert, NULL), "by CKA_CLASS: the %d certificates", n);
    struct hsm_attr both[] = {by_class, by_id};
    n = find(conn, s, both, 2, found);
    ok(exactly(found, n, cert_with_id, &seven), "CKA_CLASS and CKA_ID: %d", n);
    int three = 3;
    struct hsm_attr by_app = {CKA_APPLICATION, (const uint8_t *)"app-3", 5};
    n = find(conn, s, &by_app, 1, found);
    ok(exactly(found, n, with_app, &three), "by CKA_APPLICATION (a scan): %d", n);
    n = find(conn, s, NULL, 0, found);
    ok(exactly(found, n, any, NULL), "empty template: all %d", n);
    struct hsm_attr mismatch[] = {{CKA_LABEL, (const uint8_t *)"obj-777", 7}, {CKA_ID, &id, 1}};
    uint8_t other = 3;
    mismatch[1].value = &other;
    is_int(find(conn, s, mismatch, 2, found), 0, "a label with another object's ID: none");
    struct hsm_attr prefix = {CKA_LABEL, (const uint8_t *)"obj-77", 6};
    ok(find(conn, s, &prefix, 1, found) == 1 && found[0] == handles[77],
       "a label is matched whole (obj-77 is not obj-777)");

    /* Destroy every fifth object: positions in the service's array move. */
    bool gone = true;
    for (int i = 0; i < N; i += 5) {
        struct hsm_buf req = {0};
        hsm_put_u64(&req, s);
        hsm_put_u64(&req, handles[i]);
        gone &= rpc(conn, HSM_OP_DESTROY_OBJECT, &req, NULL) == CKR_OK;
        alive[i] = false;
        hsm_buf_free(&req);
    }
    ok(gone, "every fifth object destroyed");
    n = find(conn, s, &by_id, 1, found);
    ok(exactly(found, n, with_id, &seven), "by CKA_ID after destroying: %d", n);
    n = find(conn, s, &by_class, 1, found);
    ok(exactly(found, n, is_cert, NULL), "by CKA_CLASS after destroying: %d", n);
    struct hsm_attr dead = {CKA_LABEL, (const uint8_t *)"obj-10", 6};
    is_int(find(conn, s, &dead, 1, found), 0, "a destroyed object is not found by its label");

    /* Relabel one: found by the new label, not the old. */
    struct hsm_attr relabel = {CKA_LABEL, (const uint8_t *)"renamed", 7};
    struct hsm_buf req = {0};
    hsm_put_u64(&req, s);
    hsm_put_u64(&req, handles[778]);
    hsm_put_template(&req, &relabel, 1);
    is_int(rpc(conn, HSM_OP_SET_ATTRS, &req, NULL), CKR_OK, "relabel obj-778");
    hsm_buf_free(&req);
    ok(find(conn, s, &relabel, 1, found) == 1 && found[0] == handles[778], "found by new label");
    struct hsm_attr old = {CKA_LABEL, (const uint8_t *)"obj-778", 7};
    is_int(find(conn, s, &old, 1, found), 0, "not by the old label");

    /* Another application sees none of this one's session objects. */
    uint64_t conn2 = hsm_service_connect(svc), s2 = session(conn2);
    ok(s2 != 0, "a second application's session");
    is_int(find(conn2, s2, &by_id, 1, found), 0, "it finds none of the first one's objects");
    ok(create(conn2, s2, 7) != 0, "it makes its own obj-7");
    struct hsm_attr seven_label = {CKA_LABEL, (const uint8_t *)"obj-7", 5};
    is_int(find(conn2, s2, &seven_label, 1, found), 1, "and finds only that one");
    ok(find(conn, s, &seven_label, 1, found) == 1 && found[0] == handles[7],
       "the first application finds only its own obj-7");
    hsm_service_disconnect(svc, conn2);
    ok(find(conn, s, &seven_label, 1, found) == 1 && found[0] == handles[7],
       "after the second application left, still exactly one");
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
    uint64_t conn = hsm_service_connect(svc);
    struct hsm_buf req = {0};
    hsm_put_bytes(&req, "so-secret", 9);
    hsm_put_bytes(&req, "find", 4);
    is_int(rpc(conn, HSM_OP_INIT_TOKEN, &req, NULL), CKR_OK, "C_InitToken");
    hsm_buf_free(&req);
    uint64_t s = session(conn);
    ok(s != 0, "R/W session");
    test_find(conn, s);
    hsm_service_free(svc);
    unlink(path);
    rmdir(dir);
    return done_testing();
}
