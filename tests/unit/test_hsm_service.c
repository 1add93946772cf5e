/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key service without transport (src/hsm/service.c): PINs and lockout,
 * sensitivity rules, sign/verify/decrypt, the sealed store across restarts,
 * tampered and half-written store files, malformed requests.
 */
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <unistd.h>

#include "hsm/cryptoki.h"
#include "hsm/mechs.h"
#include "hsm/service.h"
#include "hsm/store.h"
#include "tap.h"

static struct hsm_service *svc;
static uint64_t conn;
static char dir[] = "/tmp/keep-test-hsm-XXXXXX";
static char path[64];

/* Send op with req's fields; the reply's fields (after CK_RV) land in *reply. */
static CK_RV rpc(uint8_t op, const struct hsm_buf *req, struct hsm_buf *reply)
{
    struct hsm_buf frame = {0}, out = {0};
    size_t start = hsm_frame_begin(&frame, op, 77);
    if (req)
        hsm_put(&frame, req->data, req->size);
    hsm_frame_end(&frame, start);
    struct keep_error err;
    CK_RV rv = (CK_RV)-1;
    if (hsm_service_handle(svc, conn, frame.data, frame.size, &out, &err) == KEEP_OK) {
        struct hsm_header h;
        struct keep_cursor c;
        uint64_t v;
        if (hsm_frame_open(out.data, out.size, &h, &c, &err) == KEEP_OK && h.id == 77 &&
            h.op == op && keep_cursor_u64(&c, "rv", &v, NULL) == KEEP_OK) {
            rv = (CK_RV)v;
            if (reply) {
                *reply = (struct hsm_buf){0};
                hsm_put(reply, out.data + keep_cursor_offset(&c), keep_cursor_remaining(&c));
            }
        }
    } else {
        diag("handle: %s", err.message);
    }
    hsm_buf_free(&frame);
    hsm_buf_free(&out);
    return rv;
}

static uint64_t u64_at(const struct hsm_buf *b, size_t off)
{
    uint64_t v = 0;
    if (b->size >= off + 8)
        memcpy(&v, b->data + off, 8);
    return v;
}

static CK_RV open_session(bool rw, uint64_t *h)
{
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0));
    CK_RV rv = rpc(HSM_OP_OPEN_SESSION, &req, &reply);
    *h = u64_at(&reply, 0);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

static CK_RV login(uint64_t s, CK_USER_TYPE who, const char *pin)
{
    struct hsm_buf req = {0};
    hsm_put_u64(&req, s);
    hsm_put_u64(&req, who);
    hsm_put_bytes(&req, pin, strlen(pin));
    CK_RV rv = rpc(HSM_OP_LOGIN, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

static CK_RV simple(uint8_t op, uint64_t s)
{
    struct hsm_buf req = {0};
    hsm_put_u64(&req, s);
    CK_RV rv = rpc(op, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

static uint64_t token_flags(void)
{
    struct hsm_buf reply = {0};
    rpc(HSM_OP_TOKEN_INFO, NULL, &reply);
    uint64_t f = u64_at(&reply, 4 + HSM_LABEL_SIZE);
    hsm_buf_free(&reply);
    return f;
}

static void restart(void)
{
    struct keep_error err;
    hsm_service_free(svc);
    svc = NULL;
    if (hsm_service_open(path, 1000, &svc, &err) != KEEP_OK) {
        diag("reopen: %s", err.message);
        svc = NULL;
        return;
    }
    conn = hsm_service_connect(svc);
}

static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static const uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

static CK_RV gen_ec(uint64_t s, bool token, const struct hsm_attr *extra, uint32_t extra_n,
                    uint64_t *pub, uint64_t *priv)
{
    struct hsm_attr pt[] = {{CKA_EC_PARAMS, p256, sizeof(p256)},
                            {CKA_TOKEN, token ? &yes : &no, 1},
                            {CKA_ID, (const uint8_t *)"k1", 2}};
    struct hsm_attr vt[4] = {{CKA_TOKEN, token ? &yes : &no, 1},
                             {CKA_ID, (const uint8_t *)"k1", 2}};
    for (uint32_t i = 0; i < extra_n; i++)
        vt[2 + i] = extra[i];
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, s);
    hsm_put_mech(&req, &(struct hsm_mech){CKM_EC_KEY_PAIR_GEN, NULL, 0});
    hsm_put_template(&req, pt, 3);
    hsm_put_template(&req, vt, 2 + extra_n);
    CK_RV rv = rpc(HSM_OP_GENERATE_KEY_PAIR, &req, &reply);
    *pub = u64_at(&reply, 0);
    *priv = u64_at(&reply, 8);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

/* One attribute: CK_RV, and its reported length. */
static CK_RV get_attr(uint64_t s, uint64_t obj, uint64_t type, uint64_t *len, struct hsm_buf *val)
{
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, s);
    hsm_put_u64(&req, obj);
    hsm_put_u32(&req, 1);
    hsm_put_u64(&req, type);
    hsm_put_u64(&req, 4096);
    CK_RV rv = rpc(HSM_OP_GET_ATTRS, &req, &reply);
    *len = u64_at(&reply, 0);
    if (val) {
        *val = (struct hsm_buf){0};
        if (reply.size > 12)
            hsm_put(val, reply.data + 12, reply.size - 12);
    }
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

static CK_RV set_bool_attr(uint64_t s, uint64_t obj, uint64_t type, bool v)
{
    struct hsm_buf req = {0};
    struct hsm_attr a = {type, v ? &yes : &no, 1};
    hsm_put_u64(&req, s);
    hsm_put_u64(&req, obj);
    hsm_put_template(&req, &a, 1);
    CK_RV rv = rpc(HSM_OP_SET_ATTRS, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

static CK_RV sign(uint64_t s, uint64_t key, CK_MECHANISM_TYPE m, const struct hsm_buf *param,
                  const char *data, struct hsm_buf *sig)
{
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, s);
    hsm_put_mech(
        &req, &(struct hsm_mech){m, param ? param->data : NULL, param ? (uint32_t)param->size : 0});
    hsm_put_u64(&req, key);
    hsm_put_bytes(&req, data, strlen(data));
    CK_RV rv = rpc(HSM_OP_SIGN, &req, &reply);
    *sig = (struct hsm_buf){0};
    if (rv == CKR_OK && reply.size >= 4)
        hsm_put(sig, reply.data + 4, reply.size - 4);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

static CK_RV verify(uint64_t s, uint64_t key, CK_MECHANISM_TYPE m, const struct hsm_buf *param,
                    const char *data, const struct hsm_buf *sig)
{
    struct hsm_buf req = {0};
    hsm_put_u64(&req, s);
    hsm_put_mech(
        &req, &(struct hsm_mech){m, param ? param->data : NULL, param ? (uint32_t)param->size : 0});
    hsm_put_u64(&req, key);
    hsm_put_bytes(&req, data, strlen(data));
    hsm_put_bytes(&req, sig->data, sig->size);
    CK_RV rv = rpc(HSM_OP_VERIFY, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

static uint32_t find_by_class(uint64_t s, CK_OBJECT_CLASS cls)
{
    struct hsm_buf req = {0}, reply = {0};
    struct hsm_attr a = {CKA_CLASS, (const uint8_t *)&cls, sizeof(cls)};
    hsm_put_u64(&req, s);
    hsm_put_template(&req, &a, 1);
    uint32_t n = 0;
    if (rpc(HSM_OP_FIND, &req, &reply) == CKR_OK && reply.size >= 4)
        memcpy(&n, reply.data, 4);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return n;
}

static void test_pins(void)
{
    uint64_t s;
    is_int(open_session(true, &s), CKR_TOKEN_NOT_RECOGNIZED, "no session before C_InitToken");
    struct hsm_buf req = {0};
    hsm_put_bytes(&req, "123", 3);
    hsm_put_bytes(&req, "label", 5);
    is_int(rpc(HSM_OP_INIT_TOKEN, &req, NULL), CKR_PIN_LEN_RANGE, "a 3-byte SO PIN is too short");
    req.size = 0;
    hsm_put_bytes(&req, "so-secret", 9);
    hsm_put_bytes(&req, "label", 5);
    is_int(rpc(HSM_OP_INIT_TOKEN, &req, NULL), CKR_OK, "C_InitToken");
    hsm_buf_free(&req);
    ok(token_flags() & CKF_TOKEN_INITIALIZED, "token initialized flag");
    is_int(open_session(true, &s), CKR_OK, "R/W session");
    is_int(login(s, CKU_USER, "1234"), CKR_USER_PIN_NOT_INITIALIZED, "no user PIN yet");
    is_int(login(s, CKU_SO, "wrong-so"), CKR_PIN_INCORRECT, "wrong SO PIN");
    is_int(login(s, CKU_SO, "so-secret"), CKR_OK, "SO login");
    ok(token_flags() & CKF_SO_PIN_COUNT_LOW ? false : true, "a good SO login clears the count");
    req = (struct hsm_buf){0};
    hsm_put_u64(&req, s);
    hsm_put_bytes(&req, "1234", 4);
    is_int(rpc(HSM_OP_INIT_PIN, &req, NULL), CKR_OK, "C_InitPIN by the SO");
    is_int(simple(HSM_OP_LOGOUT, s), CKR_OK, "SO logout");
    for (int i = 0; i < HSM_MAX_PIN_FAILS; i++)
        is_int(login(s, CKU_USER, "9999"), CKR_PIN_INCORRECT, "wrong user PIN %d", i + 1);
    ok(token_flags() & CKF_USER_PIN_LOCKED, "after %d wrong PINs the user PIN is locked",
       HSM_MAX_PIN_FAILS);
    is_int(login(s, CKU_USER, "1234"), CKR_PIN_LOCKED, "locked: even the right PIN is refused");
    restart();
    is_int(open_session(true, &s), CKR_OK, "session after restart");
    is_int(login(s, CKU_USER, "1234"), CKR_PIN_LOCKED, "the lock survives a restart");
    is_int(login(s, CKU_SO, "so-secret"), CKR_OK, "SO login to reset the PIN");
    *(uint64_t *)req.data = s;
    is_int(rpc(HSM_OP_INIT_PIN, &req, NULL), CKR_OK, "C_InitPIN unlocks");
    hsm_buf_free(&req);
    is_int(simple(HSM_OP_LOGOUT, s), CKR_OK, "logout");
    is_int(login(s, CKU_USER, "1234"), CKR_OK, "user login with the new PIN");
    ok(!(token_flags() & CKF_USER_PIN_LOCKED), "no longer locked");
    is_int(login(s, CKU_SO, "so-secret"), CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
           "SO cannot log in over the user");
    simple(HSM_OP_CLOSE_SESSION, s);
}

static void test_sensitivity(uint64_t s, uint64_t *priv_out)
{
    uint64_t pub, priv, len;
    struct hsm_attr local = {CKA_LOCAL, &yes, 1};
    is_int(gen_ec(s, true, &local, 1, &pub, &priv), CKR_ATTRIBUTE_READ_ONLY,
           "a template may not set CKA_LOCAL");
    struct hsm_attr internal = {HSM_ATTR_KEY_DER, (const uint8_t *)"x", 1};
    is_int(gen_ec(s, true, &internal, 1, &pub, &priv), CKR_ATTRIBUTE_TYPE_INVALID,
           "a template may not name the key material attribute");
    is_int(gen_ec(s, true, NULL, 0, &pub, &priv), CKR_OK, "EC P-256 token key pair");
    is_int(get_attr(s, priv, CKA_VALUE, &len, NULL), CKR_ATTRIBUTE_SENSITIVE,
           "CKA_VALUE of a sensitive private key: CKR_ATTRIBUTE_SENSITIVE");
    ok(len == CK_UNAVAILABLE_INFORMATION, "and its length is CK_UNAVAILABLE_INFORMATION");
    is_int(get_attr(s, priv, HSM_ATTR_KEY_DER, &len, NULL), CKR_ATTRIBUTE_TYPE_INVALID,
           "the key material attribute does not exist for clients");
    struct hsm_buf v;
    is_int(get_attr(s, priv, CKA_ALWAYS_SENSITIVE, &len, &v), CKR_OK, "CKA_ALWAYS_SENSITIVE");
    ok(len == 1 && v.size == 1 && v.data[0] == CK_TRUE, "is true");
    hsm_buf_free(&v);
    is_int(get_attr(s, priv, CKA_NEVER_EXTRACTABLE, &len, &v), CKR_OK, "CKA_NEVER_EXTRACTABLE");
    ok(len == 1 && v.size == 1 && v.data[0] == CK_TRUE, "is true");
    hsm_buf_free(&v);
    is_int(get_attr(s, pub, CKA_EC_POINT, &len, &v), CKR_OK, "CKA_EC_POINT of the public key");
    ok(len == 67 && v.size == 67 && v.data[0] == 0x04 && v.data[1] == 65 && v.data[2] == 0x04,
       "a DER OCTET STRING of an uncompressed P-256 point");
    hsm_buf_free(&v);
    is_int(set_bool_attr(s, priv, CKA_SENSITIVE, false), CKR_ATTRIBUTE_READ_ONLY,
           "CKA_SENSITIVE cannot go back to false");
    is_int(set_bool_attr(s, priv, CKA_EXTRACTABLE, true), CKR_ATTRIBUTE_READ_ONLY,
           "CKA_EXTRACTABLE cannot become true");
    is_int(set_bool_attr(s, priv, CKA_ALWAYS_SENSITIVE, false), CKR_ATTRIBUTE_READ_ONLY,
           "CKA_ALWAYS_SENSITIVE is read-only");
    is_int(set_bool_attr(s, priv, CKA_SENSITIVE, true), CKR_OK, "CKA_SENSITIVE true again is fine");

    struct hsm_buf sig;
    is_int(sign(s, priv, CKM_ECDSA_SHA256, NULL, "hello", &sig), CKR_OK, "ECDSA-SHA256 sign");
    is_int(sig.size, 64, "r || s of 32 bytes each");
    is_int(verify(s, pub, CKM_ECDSA_SHA256, NULL, "hello", &sig), CKR_OK, "verify");
    is_int(verify(s, pub, CKM_ECDSA_SHA256, NULL, "hellO", &sig), CKR_SIGNATURE_INVALID,
           "other data: CKR_SIGNATURE_INVALID");
    hsm_buf_free(&sig);
    is_int(sign(s, pub, CKM_ECDSA_SHA256, NULL, "hello", &sig), CKR_KEY_TYPE_INCONSISTENT,
           "signing with a public key refused");
    is_int(sign(s, priv, CKM_SHA256_RSA_PKCS, NULL, "hello", &sig), CKR_KEY_TYPE_INCONSISTENT,
           "an RSA mechanism on an EC key refused");
    is_int(set_bool_attr(s, priv, CKA_SIGN, false), CKR_OK, "CKA_SIGN may be cleared");
    is_int(sign(s, priv, CKM_ECDSA_SHA256, NULL, "hello", &sig), CKR_KEY_FUNCTION_NOT_PERMITTED,
           "CKA_SIGN false: CKR_KEY_FUNCTION_NOT_PERMITTED");
    is_int(set_bool_attr(s, priv, CKA_SIGN, true), CKR_OK, "CKA_SIGN back on");
    *priv_out = priv;
}

/* A stand-in for keep_get_evidence: the "evidence" is the report_data it was asked to bind. */
static long fake_evidence(const uint8_t report_data[64], void *buf, size_t cap)
{
    if (cap < 64)
        return -34;
    memcpy(buf, report_data, 64);
    return 64;
}

static void test_key_attestation(uint64_t s, uint64_t priv)
{
    uint64_t len, pub2, priv2;
    struct hsm_buf st, ev;
    is_int(get_attr(s, priv, HSM_ATTR_KEY_EVIDENCE, &len, NULL), CKR_ATTRIBUTE_TYPE_INVALID,
           "no evidence source: no key evidence");
    hsm_service_set_evidence_fn(svc, fake_evidence);
    is_int(get_attr(s, priv, HSM_ATTR_KEY_STATEMENT, &len, &st), CKR_OK, "key statement");
    size_t ll = strlen(HSM_KEY_STATEMENT_LABEL);
    ok(st.size > ll + 1 && memcmp(st.data, HSM_KEY_STATEMENT_LABEL, ll) == 0,
       "it starts with its label");
    is_int(st.size > ll ? st.data[ll] : 0, 7, "flags: local, always sensitive, never extractable");
    const unsigned char *p = st.data + ll + 1;
    EVP_PKEY *k = st.size > ll + 1 ? d2i_PUBKEY(NULL, &p, (long)(st.size - ll - 1)) : NULL;
    ok(k && EVP_PKEY_get_bits(k) == 256, "then the key's SubjectPublicKeyInfo (P-256)");
    EVP_PKEY_free(k);
    is_int(get_attr(s, priv, HSM_ATTR_KEY_EVIDENCE, &len, &ev), CKR_OK, "key evidence");
    uint8_t want[64] = {0};
    unsigned int n;
    EVP_Digest(st.data, st.size, want, &n, EVP_sha256(), NULL);
    ok(ev.size == 64 && memcmp(ev.data, want, 64) == 0,
       "evidence binds SHA-256(statement) || 32 zero bytes as report_data");
    hsm_buf_free(&st);
    hsm_buf_free(&ev);
    struct hsm_attr forged = {HSM_ATTR_KEY_STATEMENT, (const uint8_t *)"fake", 4};
    is_int(gen_ec(s, false, &forged, 1, &pub2, &priv2), CKR_ATTRIBUTE_READ_ONLY,
           "a template cannot supply a statement");
    is_int(get_attr(s, pub2 ? pub2 : 1, HSM_ATTR_KEY_STATEMENT, &len, NULL) != CKR_OK, 1,
           "public keys have no statement");
    hsm_service_set_evidence_fn(svc, NULL);
}

static CK_RV cipher_call(uint8_t op, uint64_t s, uint64_t key, CK_MECHANISM_TYPE m,
                         const struct hsm_buf *param, const uint8_t *in, size_t n,
                         struct hsm_buf *out)
{
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, s);
    hsm_put_mech(&req, &(struct hsm_mech){m, param->data, (uint32_t)param->size});
    hsm_put_u64(&req, key);
    hsm_put_bytes(&req, in, n);
    CK_RV rv = rpc(op, &req, &reply);
    *out = (struct hsm_buf){0};
    if (rv == CKR_OK && reply.size >= 4)
        hsm_put(out, reply.data + 4, reply.size - 4);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

static uint64_t gen_secret(uint64_t s, CK_MECHANISM_TYPE m, CK_ULONG len)
{
    struct hsm_attr t[] = {{CKA_VALUE_LEN, (const uint8_t *)&len, sizeof(len)}};
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, s);
    hsm_put_mech(&req, &(struct hsm_mech){m, NULL, 0});
    hsm_put_template(&req, t, 1);
    CK_RV rv = rpc(HSM_OP_GENERATE_KEY, &req, &reply);
    uint64_t h = rv == CKR_OK ? u64_at(&reply, 0) : 0;
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return h;
}

static void test_secret_keys(uint64_t s)
{
    uint64_t aes = gen_secret(s, CKM_AES_KEY_GEN, 32), len;
    ok(aes != 0, "AES-256 key generated");
    is_int(gen_secret(s, CKM_AES_KEY_GEN, 20), 0, "a 20-byte AES key is refused");
    is_int(get_attr(s, aes, CKA_VALUE, &len, NULL), CKR_ATTRIBUTE_SENSITIVE,
           "the AES key value is sensitive");
    uint8_t msg[100];
    for (int i = 0; i < 100; i++)
        msg[i] = (uint8_t)i;
    struct hsm_buf gcm = {0}, ct, pt;
    hsm_put_bytes(&gcm, "0123456789ab", 12);
    hsm_put_bytes(&gcm, "aad", 3);
    hsm_put_u64(&gcm, 128);
    is_int(cipher_call(HSM_OP_ENCRYPT, s, aes, CKM_AES_GCM, &gcm, msg, 100, &ct), CKR_OK,
           "AES-GCM seal");
    is_int(ct.size, 116, "ciphertext and a 16-byte tag");
    is_int(cipher_call(HSM_OP_DECRYPT, s, aes, CKM_AES_GCM, &gcm, ct.data, ct.size, &pt), CKR_OK,
           "AES-GCM open");
    ok(pt.size == 100 && memcmp(pt.data, msg, 100) == 0, "GCM round trip");
    hsm_buf_free(&pt);
    ct.data[3] ^= 1;
    is_int(cipher_call(HSM_OP_DECRYPT, s, aes, CKM_AES_GCM, &gcm, ct.data, ct.size, &pt),
           CKR_ENCRYPTED_DATA_INVALID, "a flipped ciphertext bit fails the tag");
    hsm_buf_free(&ct);
    struct hsm_buf cbc = {0};
    hsm_put_bytes(&cbc, "0123456789abcdef", 16);
    is_int(cipher_call(HSM_OP_ENCRYPT, s, aes, CKM_AES_CBC_PAD, &cbc, msg, 100, &ct), CKR_OK,
           "AES-CBC-PAD encrypt");
    is_int(ct.size, 112, "padded to 7 blocks");
    is_int(cipher_call(HSM_OP_DECRYPT, s, aes, CKM_AES_CBC_PAD, &cbc, ct.data, ct.size, &pt),
           CKR_OK, "AES-CBC-PAD decrypt");
    ok(pt.size == 100 && memcmp(pt.data, msg, 100) == 0, "CBC-PAD round trip");
    hsm_buf_free(&ct);
    hsm_buf_free(&pt);
    struct hsm_buf ctr = {0};
    hsm_put_u64(&ctr, 128);
    hsm_put_bytes(&ctr, "0123456789abcdef", 16);
    is_int(cipher_call(HSM_OP_ENCRYPT, s, aes, CKM_AES_CTR, &ctr, msg, 100, &ct), CKR_OK,
           "AES-CTR");
    is_int(cipher_call(HSM_OP_DECRYPT, s, aes, CKM_AES_CTR, &ctr, ct.data, ct.size, &pt), CKR_OK,
           "AES-CTR back");
    ok(ct.size == 100 && pt.size == 100 && memcmp(pt.data, msg, 100) == 0, "CTR round trip");
    hsm_buf_free(&ct);
    hsm_buf_free(&pt);
    uint64_t mac_key = gen_secret(s, CKM_GENERIC_SECRET_KEY_GEN, 32);
    struct hsm_buf none = {0}, mac;
    is_int(sign(s, mac_key, CKM_SHA256_HMAC, NULL, "hello", &mac), CKR_OK, "HMAC-SHA256");
    is_int(mac.size, 32, "a 32-byte MAC");
    is_int(verify(s, mac_key, CKM_SHA256_HMAC, NULL, "hello", &mac), CKR_OK, "HMAC verify");
    mac.data[0] ^= 1;
    is_int(verify(s, mac_key, CKM_SHA256_HMAC, NULL, "hello", &mac), CKR_SIGNATURE_INVALID,
           "a changed MAC does not verify");
    is_int(cipher_call(HSM_OP_ENCRYPT, s, mac_key, CKM_AES_GCM, &gcm, msg, 10, &ct),
           CKR_KEY_FUNCTION_NOT_PERMITTED, "an HMAC key does not encrypt");
    hsm_buf_free(&mac);
    hsm_buf_free(&none);
    hsm_buf_free(&gcm);
    hsm_buf_free(&cbc);
    hsm_buf_free(&ctr);
}

static void test_rsa(uint64_t s)
{
    CK_ULONG bits = 2048;
    struct hsm_attr pt[] = {{CKA_MODULUS_BITS, (const uint8_t *)&bits, sizeof(bits)}};
    struct hsm_buf req = {0}, reply = {0}, pss = {0}, oaep = {0}, sig, ct = {0};
    hsm_put_u64(&req, s);
    hsm_put_mech(&req, &(struct hsm_mech){CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0});
    hsm_put_template(&req, pt, 1);
    hsm_put_template(&req, NULL, 0);
    is_int(rpc(HSM_OP_GENERATE_KEY_PAIR, &req, &reply), CKR_OK, "RSA-2048 session key pair");
    uint64_t pub = u64_at(&reply, 0), priv = u64_at(&reply, 8);
    hsm_put_u64(&pss, CKM_SHA256);
    hsm_put_u64(&pss, CKG_MGF1_SHA256);
    hsm_put_u64(&pss, 32);
    is_int(sign(s, priv, CKM_SHA256_RSA_PKCS_PSS, &pss, "msg", &sig), CKR_OK, "RSA-PSS sign");
    is_int(sig.size, 256, "a 256-byte signature");
    is_int(verify(s, pub, CKM_SHA256_RSA_PKCS_PSS, &pss, "msg", &sig), CKR_OK, "PSS verify");
    hsm_buf_free(&sig);
    is_int(sign(s, priv, CKM_SHA256_RSA_PKCS, NULL, "msg", &sig), CKR_OK, "PKCS#1 v1.5 sign");
    is_int(verify(s, pub, CKM_SHA256_RSA_PKCS, NULL, "msg", &sig), CKR_OK, "v1.5 verify");
    hsm_buf_free(&sig);
    hsm_put_u64(&oaep, CKM_SHA256);
    hsm_put_u64(&oaep, CKG_MGF1_SHA256);
    hsm_put_u64(&oaep, CKZ_DATA_SPECIFIED);
    hsm_put_bytes(&oaep, "lbl", 3);
    for (int dec = 0; dec < 2; dec++) {
        struct hsm_buf r2 = {0};
        req.size = 0;
        hsm_put_u64(&req, s);
        hsm_put_mech(&req, &(struct hsm_mech){CKM_RSA_PKCS_OAEP, oaep.data, (uint32_t)oaep.size});
        hsm_put_u64(&req, dec ? priv : pub);
        if (dec)
            hsm_put_bytes(&req, ct.data + 4, ct.size - 4);
        else
            hsm_put_bytes(&req, "secret", 6);
        is_int(rpc(dec ? HSM_OP_DECRYPT : HSM_OP_ENCRYPT, &req, dec ? &r2 : &ct), CKR_OK,
               dec ? "OAEP decrypt" : "OAEP encrypt");
        if (dec)
            ok(r2.size == 10 && memcmp(r2.data + 4, "secret", 6) == 0, "OAEP round trip");
        hsm_buf_free(&r2);
    }
    hsm_buf_free(&ct);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    hsm_buf_free(&pss);
    hsm_buf_free(&oaep);
}

static void corrupt(long off_from_end, bool truncate_record)
{
    int fd = open(path, O_RDWR);
    off_t size = lseek(fd, 0, SEEK_END);
    if (truncate_record) {
        /* Drop the last record and decrement the count: the AAD of the others binds the count. */
        (void)ftruncate(fd, size - off_from_end);
    } else {
        uint8_t b;
        pread(fd, &b, 1, size - off_from_end);
        b ^= 1;
        pwrite(fd, &b, 1, size - off_from_end);
    }
    close(fd);
}

static void copy_file(const char *from, const char *to)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
    if (system(cmd) != 0)
        diag("cp failed");
}

static void test_store(void)
{
    uint64_t s, pub, priv;
    restart();
    open_session(true, &s);
    is_int(find_by_class(s, CKO_PRIVATE_KEY), 0, "before login no private object is visible");
    is_int(login(s, CKU_USER, "1234"), CKR_OK, "login after restart");
    is_int(find_by_class(s, CKO_PRIVATE_KEY), 1, "the token private key is back, unsealed");
    is_int(gen_ec(s, false, NULL, 0, &pub, &priv), CKR_OK, "a session key pair");
    is_int(find_by_class(s, CKO_PRIVATE_KEY), 2, "two private keys now");
    simple(HSM_OP_LOGOUT, s);
    struct hsm_buf sig;
    is_int(sign(s, priv, CKM_ECDSA, NULL, "0123456789abcdef0123456789abcdef", &sig),
           CKR_KEY_HANDLE_INVALID, "after logout the private session key is gone");
    restart();
    open_session(true, &s);
    login(s, CKU_USER, "1234");
    is_int(find_by_class(s, CKO_PRIVATE_KEY), 1, "session objects are not stored");

    /* A kill between writing PATH.tmp and rename leaves PATH as it was. */
    char tmp[80];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ok(fd >= 0 && write(fd, "KHSMTOK1half", 12) == 12,
       "a half-written PATH.tmp (killed mid-write)");
    close(fd);
    restart();
    open_session(true, &s);
    is_int(login(s, CKU_USER, "1234"), CKR_OK, "the committed token still opens");
    is_int(find_by_class(s, CKO_PRIVATE_KEY), 1, "with its key");

    char saved[80];
    snprintf(saved, sizeof(saved), "%s.good", path);
    copy_file(path, saved);
    corrupt(5, false);
    restart();
    open_session(true, &s);
    is_int(login(s, CKU_USER, "1234"), CKR_DEVICE_ERROR,
           "a flipped bit in a sealed record: the token refuses to open");
    is_int(find_by_class(s, CKO_PRIVATE_KEY), 0, "and shows nothing of it");

    copy_file(saved, path);
    restart();
    struct keep_error err;
    struct hsm_store st;
    bool exists;
    is_int(hsm_store_load(path, &st, &exists, &err), KEEP_OK, "the good copy parses");
    is_int(st.record_count, 2, "two stored objects (one key pair)");
    uint32_t last = st.record_count - 1;
    long drop = 8 + 4 + (long)st.records[last].sealed_size;
    hsm_store_free(&st);
    /* record_count sits just before the records; patch it down and cut the last record. */
    corrupt(drop, true);
    fd = open(path, O_RDWR);
    uint32_t count = last;
    off_t count_at =
        8 + 4 + 4 + 8 + HSM_LABEL_SIZE + 4 + 4 + 4 + 2 * (HSM_SALT_SIZE + HSM_WRAPPED_SIZE);
    pwrite(fd, &count, 4, count_at);
    close(fd);
    restart();
    open_session(true, &s);
    is_int(login(s, CKU_USER, "1234"), CKR_DEVICE_ERROR,
           "a record dropped by the host (count patched) is detected");

    fd = open(path, O_RDWR);
    pwrite(fd, "X", 1, 0);
    close(fd);
    hsm_service_free(svc);
    svc = NULL;
    is_int(hsm_service_open(path, 1000, &svc, &err), KEEP_E_HSM_STORE_FORMAT,
           "a bad magic: hsm.store_format");
    ok(strstr(err.message, "magic") != NULL, "the message names the field: %s", err.message);
    copy_file(saved, path);
    restart();
}

static void test_malformed(void)
{
    uint64_t s;
    struct hsm_buf req = {0};
    open_session(true, &s);
    hsm_put_u64(&req, s);
    hsm_put_u32(&req, 1000); /* a template claiming 1000 attributes */
    is_int(rpc(HSM_OP_FIND, &req, NULL), CKR_ARGUMENTS_BAD, "a template of 1000: ARGUMENTS_BAD");
    req.size = 0;
    hsm_put_u64(&req, s);
    hsm_put_u64(&req, CKU_USER);
    hsm_put_u32(&req, 500); /* a PIN length past the frame */
    is_int(rpc(HSM_OP_LOGIN, &req, NULL), CKR_ARGUMENTS_BAD, "a truncated PIN: ARGUMENTS_BAD");
    req.size = 0;
    hsm_put_u64(&req, s);
    hsm_put_u8(&req, 0);
    is_int(rpc(HSM_OP_LOGOUT, &req, NULL), CKR_ARGUMENTS_BAD, "a trailing byte: ARGUMENTS_BAD");
    is_int(rpc(HSM_OP_CERTIFY_KEY, NULL, NULL), CKR_FUNCTION_NOT_SUPPORTED,
           "an op not implemented yet says so");
    hsm_buf_free(&req);

    struct keep_error err;
    struct hsm_buf out = {0};
    uint8_t bad_version[12] = {8, 0, 0, 0, 9, HSM_OP_HELLO, 0, 0, 1, 0, 0, 0};
    is_int(hsm_service_handle(svc, conn, bad_version, 12, &out, &err), KEEP_E_HSM_VERSION,
           "a frame of version 9: hsm.version");
    uint8_t bad_op[12] = {8, 0, 0, 0, 1, 200, 0, 0, 1, 0, 0, 0};
    is_int(hsm_service_handle(svc, conn, bad_op, 12, &out, &err), KEEP_E_HSM_OP, "op 200: hsm.op");
    uint8_t reserved[12] = {8, 0, 0, 0, 1, HSM_OP_HELLO, 1, 0, 1, 0, 0, 0};
    is_int(hsm_service_handle(svc, conn, reserved, 12, &out, &err), KEEP_E_HSM_RESERVED,
           "reserved not zero: hsm.reserved");
    size_t frame;
    uint8_t huge[4] = {0xff, 0xff, 0xff, 0x7f};
    is_int(hsm_frame_split(huge, 4, &frame, &err), KEEP_E_HSM_FRAME_LENGTH,
           "a 2 GiB frame length: hsm.frame_length");
    is_int(hsm_frame_split(bad_op, 11, &frame, &err), KEEP_OK, "a partial frame is not an error");
    is_int(frame, 0, "but not whole yet");
    hsm_buf_free(&out);
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
    test_pins();
    uint64_t s, priv;
    open_session(true, &s);
    login(s, CKU_USER, "1234");
    test_sensitivity(s, &priv);
    test_key_attestation(s, priv);
    test_secret_keys(s);
    test_rsa(s);
    test_store();
    test_malformed();
    hsm_service_free(svc);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        diag("could not remove %s", dir);
    return done_testing();
}
