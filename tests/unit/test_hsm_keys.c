/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key management in the key service (src/hsm/service.c, crypto.c): ECDH
 * derive (CKM_ECDH1_DERIVE) and AES key wrap (CKM_AES_KEY_WRAP, RFC 3394;
 * KWP, RFC 5649), each compared with plain OpenSSL computing the same thing,
 * and the PKCS#11 rules around them (CKA_DERIVE/WRAP/UNWRAP, CKA_EXTRACTABLE,
 * CKA_WRAP_WITH_TRUSTED and CKA_TRUSTED, sensitivity of the keys made).
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "hsm/cryptoki.h"
#include "hsm/mechs.h"
#include "hsm/service.h"
#include "tap.h"

static struct hsm_service *svc;
static uint64_t conn;
static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* Send op with req's fields; the reply's fields (after CK_RV) land in *reply. */
static CK_RV rpc(uint8_t op, const struct hsm_buf *req, struct hsm_buf *reply)
{
    struct hsm_buf frame = {0}, out = {0};
    size_t start = hsm_frame_begin(&frame, op, 9);
    if (req)
        hsm_put(&frame, req->data, req->size);
    hsm_frame_end(&frame, start);
    struct keep_error err;
    CK_RV rv = (CK_RV)-1;
    struct hsm_header h;
    struct keep_cursor c;
    uint64_t v;
    if (hsm_service_handle(svc, conn, frame.data, frame.size, &out, &err) == KEEP_OK &&
        hsm_frame_open(out.data, out.size, &h, &c, &err) == KEEP_OK && h.op == op &&
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

static uint64_t u64_at(const struct hsm_buf *b, size_t off)
{
    uint64_t v = 0;
    if (b->size >= off + 8)
        memcpy(&v, b->data + off, 8);
    return v;
}

static uint64_t open_session(void)
{
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    rpc(HSM_OP_OPEN_SESSION, &req, &reply);
    uint64_t h = u64_at(&reply, 0);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return h;
}

static CK_RV pin_op(uint8_t op, uint64_t s, CK_USER_TYPE *who, const char *pin)
{
    struct hsm_buf req = {0};
    hsm_put_u64(&req, s);
    if (who)
        hsm_put_u64(&req, *who);
    hsm_put_bytes(&req, pin, strlen(pin));
    CK_RV rv = rpc(op, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

static CK_RV login(uint64_t s, CK_USER_TYPE who, const char *pin)
{
    return pin_op(HSM_OP_LOGIN, s, &who, pin);
}

static CK_RV logout(uint64_t s)
{
    struct hsm_buf req = {0};
    hsm_put_u64(&req, s);
    CK_RV rv = rpc(HSM_OP_LOGOUT, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

/* A value attribute (up to 4 KiB) into *val; the CK_RV of the read. */
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
    *val = (struct hsm_buf){0};
    if (reply.size > 12)
        hsm_put(val, reply.data + 12, reply.size - 12);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

static bool get_bool(uint64_t s, uint64_t obj, uint64_t type)
{
    uint64_t len;
    struct hsm_buf v;
    bool r = get_attr(s, obj, type, &len, &v) == CKR_OK && v.size == 1 && v.data[0];
    hsm_buf_free(&v);
    return r;
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

static const uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

/* An EC pair in the token; derive says whether the private half may derive. */
static uint64_t gen_ec(uint64_t s, const uint8_t *curve, size_t curve_n, bool derive, uint64_t *pub)
{
    struct hsm_attr pt[] = {{CKA_EC_PARAMS, curve, (uint32_t)curve_n}};
    struct hsm_attr vt[] = {{CKA_DERIVE, derive ? &yes : &no, 1}};
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, s);
    hsm_put_mech(&req, &(struct hsm_mech){CKM_EC_KEY_PAIR_GEN, NULL, 0});
    hsm_put_template(&req, pt, 1);
    hsm_put_template(&req, vt, 1);
    CK_RV rv = rpc(HSM_OP_GENERATE_KEY_PAIR, &req, &reply);
    *pub = u64_at(&reply, 0);
    uint64_t priv = rv == CKR_OK ? u64_at(&reply, 8) : 0;
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return priv;
}

/* An AES key generated in the token, with extra attributes. */
static uint64_t gen_aes(uint64_t s, CK_ULONG len, const struct hsm_attr *extra, uint32_t n)
{
    struct hsm_attr t[8] = {{CKA_VALUE_LEN, (const uint8_t *)&len, sizeof(len)}};
    for (uint32_t i = 0; i < n && i < 7; i++)
        t[1 + i] = extra[i];
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, s);
    hsm_put_mech(&req, &(struct hsm_mech){CKM_AES_KEY_GEN, NULL, 0});
    hsm_put_template(&req, t, 1 + n);
    CK_RV rv = rpc(HSM_OP_GENERATE_KEY, &req, &reply);
    uint64_t h = rv == CKR_OK ? u64_at(&reply, 0) : 0;
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return h;
}

/* The ECDH1 parameter on the wire: kdf, shared data, the peer's point. */
static CK_RV derive(uint64_t s, uint64_t base, uint64_t kdf, const uint8_t *pt, size_t pt_n,
                    const struct hsm_attr *t, uint32_t tn, uint64_t *out)
{
    struct hsm_buf param = {0}, req = {0}, reply = {0};
    hsm_put_u64(&param, kdf);
    hsm_put_bytes(&param, NULL, 0);
    hsm_put_bytes(&param, pt, pt_n);
    hsm_put_u64(&req, s);
    hsm_put_mech(&req, &(struct hsm_mech){CKM_ECDH1_DERIVE, param.data, (uint32_t)param.size});
    hsm_put_u64(&req, base);
    hsm_put_template(&req, t, tn);
    CK_RV rv = rpc(HSM_OP_DERIVE_KEY, &req, &reply);
    *out = rv == CKR_OK ? u64_at(&reply, 0) : 0;
    hsm_buf_free(&param);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

static CK_RV wrap(uint64_t s, CK_MECHANISM_TYPE m, uint64_t wk, uint64_t key, struct hsm_buf *out)
{
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, s);
    hsm_put_mech(&req, &(struct hsm_mech){m, NULL, 0});
    hsm_put_u64(&req, wk);
    hsm_put_u64(&req, key);
    CK_RV rv = rpc(HSM_OP_WRAP_KEY, &req, &reply);
    *out = (struct hsm_buf){0};
    if (rv == CKR_OK && reply.size >= 4)
        hsm_put(out, reply.data + 4, reply.size - 4);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

static CK_RV unwrap(uint64_t s, CK_MECHANISM_TYPE m, uint64_t uk, const uint8_t *w, size_t wn,
                    const struct hsm_attr *t, uint32_t tn, uint64_t *out)
{
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, s);
    hsm_put_mech(&req, &(struct hsm_mech){m, NULL, 0});
    hsm_put_u64(&req, uk);
    hsm_put_bytes(&req, w, wn);
    hsm_put_template(&req, t, tn);
    CK_RV rv = rpc(HSM_OP_UNWRAP_KEY, &req, &reply);
    *out = rv == CKR_OK ? u64_at(&reply, 0) : 0;
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

/* The token public key's CKA_EC_POINT (DER OCTET STRING) as an OpenSSL key on group. */
static EVP_PKEY *token_pub(uint64_t s, uint64_t pub, char *group)
{
    uint64_t len;
    struct hsm_buf v;
    EVP_PKEY *k = NULL;
    if (get_attr(s, pub, CKA_EC_POINT, &len, &v) == CKR_OK && v.size > 2) {
        OSSL_PARAM p[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, v.data + 2, v.size - 2),
            OSSL_PARAM_construct_end()};
        EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        if (!c || EVP_PKEY_fromdata_init(c) != 1 ||
            EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p) != 1)
            k = NULL;
        EVP_PKEY_CTX_free(c);
    }
    hsm_buf_free(&v);
    return k;
}

/* OpenSSL's ECDH of priv with peer into out (n bytes); the length. */
static size_t openssl_ecdh(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t *out, size_t n)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(priv, NULL);
    if (!c || EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, peer) != 1 ||
        EVP_PKEY_derive(c, out, &n) != 1)
        n = 0;
    EVP_PKEY_CTX_free(c);
    return n;
}

static void test_ecdh_curve(uint64_t s, const uint8_t *curve, size_t cn, char *group,
                            size_t secret_n)
{
    uint64_t pub, other_pub, key, len;
    uint64_t priv = gen_ec(s, curve, cn, true, &pub);
    ok(priv != 0, "%s key pair with CKA_DERIVE", group);
    EVP_PKEY *peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", group);
    EVP_PKEY *mine = token_pub(s, pub, group);
    uint8_t pt[133], expect[66];
    size_t pt_n = 0;
    EVP_PKEY_get_octet_string_param(peer, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &pt_n);
    size_t want = mine ? openssl_ecdh(peer, mine, expect, sizeof(expect)) : 0;
    is_int(want, secret_n, "OpenSSL derives a %zu-byte secret from the token's public key",
           secret_n);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE gen = CKK_GENERIC_SECRET;
    struct hsm_attr t[] = {{CKA_CLASS, (const uint8_t *)&cls, sizeof(cls)},
                           {CKA_KEY_TYPE, (const uint8_t *)&gen, sizeof(gen)},
                           {CKA_SENSITIVE, &no, 1},
                           {CKA_EXTRACTABLE, &yes, 1}};
    is_int(derive(s, priv, CKD_NULL, pt, pt_n, t, 4, &key), CKR_OK, "%s ECDH1_DERIVE", group);
    struct hsm_buf v;
    is_int(get_attr(s, key, CKA_VALUE, &len, &v), CKR_OK, "a non-sensitive derived value reads");
    ok(v.size == want && memcmp(v.data, expect, want) == 0,
       "%s: the token's secret equals OpenSSL's", group);
    hsm_buf_free(&v);
    ok(!get_bool(s, key, CKA_LOCAL), "a derived key is not CKA_LOCAL");
    ok(!get_bool(s, key, CKA_ALWAYS_SENSITIVE) && !get_bool(s, key, CKA_NEVER_EXTRACTABLE),
       "made non-sensitive and extractable: never ALWAYS_SENSITIVE nor NEVER_EXTRACTABLE");
    /* The DER OCTET STRING form of the point (pkcs11-tool --derive-pass-der) is the same. */
    uint8_t der[135] = {0x04, (uint8_t)pt_n};
    memcpy(der + 2, pt, pt_n);
    is_int(derive(s, priv, CKD_NULL, der, pt_n + 2, t, 4, &key), CKR_OK,
           "the peer point as a DER OCTET STRING");
    get_attr(s, key, CKA_VALUE, &len, &v);
    ok(v.size == want && memcmp(v.data, expect, want) == 0, "gives the same secret");
    hsm_buf_free(&v);
    /* A sensitive AES key from the same agreement, 16 bytes: the leading bytes of the secret. */
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG sixteen = 16;
    struct hsm_attr ta[] = {{CKA_CLASS, (const uint8_t *)&cls, sizeof(cls)},
                            {CKA_KEY_TYPE, (const uint8_t *)&aes, sizeof(aes)},
                            {CKA_VALUE_LEN, (const uint8_t *)&sixteen, sizeof(sixteen)}};
    is_int(derive(s, priv, CKD_NULL, pt, pt_n, ta, 3, &key), CKR_OK, "derive an AES-128 key");
    is_int(get_attr(s, key, CKA_VALUE, &len, &v), CKR_ATTRIBUTE_SENSITIVE,
           "its value is sensitive by default");
    is_int(len, CK_UNAVAILABLE_INFORMATION, "ulValueLen is CK_UNAVAILABLE_INFORMATION");
    hsm_buf_free(&v);
    ok(get_bool(s, key, CKA_ALWAYS_SENSITIVE) && get_bool(s, key, CKA_NEVER_EXTRACTABLE),
       "from an always-sensitive base: ALWAYS_SENSITIVE and NEVER_EXTRACTABLE");
    /* Encrypt with it in the token and decrypt with OpenSSL under the leading 16 bytes. */
    struct hsm_buf param = {0}, req = {0}, reply = {0};
    hsm_put_bytes(&param, "0123456789abcdef", 16);
    hsm_put_u64(&req, s);
    hsm_put_mech(&req, &(struct hsm_mech){CKM_AES_CBC_PAD, param.data, (uint32_t)param.size});
    hsm_put_u64(&req, key);
    hsm_put_bytes(&req, "agreed", 6);
    is_int(rpc(HSM_OP_ENCRYPT, &req, &reply), CKR_OK, "encrypt under the derived AES key");
    uint8_t plain[32];
    int pn = 0, fn = 0;
    EVP_CIPHER_CTX *cc = EVP_CIPHER_CTX_new();
    bool dec = reply.size == 4 + 16 &&
               EVP_DecryptInit_ex(cc, EVP_aes_128_cbc(), NULL, expect,
                                  (const uint8_t *)"0123456789abcdef") == 1 &&
               EVP_DecryptUpdate(cc, plain, &pn, reply.data + 4, 16) == 1 &&
               EVP_DecryptFinal_ex(cc, plain + pn, &fn) == 1;
    ok(dec && pn + fn == 6 && memcmp(plain, "agreed", 6) == 0,
       "OpenSSL decrypts it with the first 16 bytes of the shared secret");
    EVP_CIPHER_CTX_free(cc);
    hsm_buf_free(&param);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    /* Refusals. */
    is_int(derive(s, priv, CKD_SHA256_KDF, pt, pt_n, t, 4, &key), CKR_MECHANISM_PARAM_INVALID,
           "a KDF other than CKD_NULL is refused");
    pt[pt_n - 1] ^= 1;
    is_int(derive(s, priv, CKD_NULL, pt, pt_n, t, 4, &key), CKR_MECHANISM_PARAM_INVALID,
           "a point off the curve is refused");
    pt[pt_n - 1] ^= 1;
    is_int(derive(s, priv, CKD_NULL, pt, pt_n - 1, t, 4, &key), CKR_MECHANISM_PARAM_INVALID,
           "a truncated point is refused");
    uint64_t nod = gen_ec(s, curve, cn, false, &other_pub);
    is_int(derive(s, nod, CKD_NULL, pt, pt_n, t, 4, &key), CKR_KEY_FUNCTION_NOT_PERMITTED,
           "a key without CKA_DERIVE does not derive");
    CK_ULONG big = secret_n + 1;
    struct hsm_attr tl[] = {{CKA_CLASS, (const uint8_t *)&cls, sizeof(cls)},
                            {CKA_KEY_TYPE, (const uint8_t *)&gen, sizeof(gen)},
                            {CKA_VALUE_LEN, (const uint8_t *)&big, sizeof(big)}};
    is_int(derive(s, priv, CKD_NULL, pt, pt_n, tl, 3, &key), CKR_TEMPLATE_INCONSISTENT,
           "CKA_VALUE_LEN longer than the shared secret is refused");
    is_int(derive(s, priv, CKD_NULL, pt, pt_n, t, 1, &key), CKR_TEMPLATE_INCOMPLETE,
           "a template without CKA_KEY_TYPE is incomplete");
    EVP_PKEY_free(peer);
    EVP_PKEY_free(mine);
}

/* OpenSSL's RFC 3394 / 5649 wrap of in under kek. */
static size_t openssl_wrap(const EVP_CIPHER *c, const uint8_t *kek, const uint8_t *in, size_t n,
                           uint8_t *out, bool unwrap)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int a = 0, b = 0;
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    bool okk = EVP_CipherInit_ex(ctx, c, NULL, kek, NULL, unwrap ? 0 : 1) == 1 &&
               EVP_CipherUpdate(ctx, out, &a, in, (int)n) == 1 &&
               EVP_CipherFinal_ex(ctx, out + a, &b) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return okk ? (size_t)(a + b) : 0;
}

static void test_wrap(uint64_t s)
{
    uint64_t len, key;
    struct hsm_buf v, w;
    /* A KEK both sides know: made in the token, readable (non-sensitive, extractable). */
    struct hsm_attr kek_t[] = {{CKA_SENSITIVE, &no, 1},
                               {CKA_EXTRACTABLE, &yes, 1},
                               {CKA_WRAP, &yes, 1},
                               {CKA_UNWRAP, &yes, 1}};
    uint64_t kek = gen_aes(s, 32, kek_t, 4);
    is_int(get_attr(s, kek, CKA_VALUE, &len, &v), CKR_OK, "the test KEK's value reads");
    uint8_t kv[32];
    memcpy(kv, v.data, v.size == 32 ? 32 : 0);
    hsm_buf_free(&v);
    /* Unwrap a key OpenSSL wrapped with EVP_aes_256_wrap (RFC 3394). */
    uint8_t secret[32], wrapped[64], back[64];
    for (int i = 0; i < 32; i++)
        secret[i] = (uint8_t)(0xa0 + i);
    size_t wn = openssl_wrap(EVP_aes_256_wrap(), kv, secret, 32, wrapped, false);
    is_int(wn, 40, "OpenSSL wraps 32 bytes into 40");
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES, gen = CKK_GENERIC_SECRET;
    struct hsm_attr ut[] = {{CKA_CLASS, (const uint8_t *)&cls, sizeof(cls)},
                            {CKA_KEY_TYPE, (const uint8_t *)&aes, sizeof(aes)},
                            {CKA_SENSITIVE, &no, 1},
                            {CKA_EXTRACTABLE, &yes, 1}};
    uint64_t ukey;
    is_int(unwrap(s, CKM_AES_KEY_WRAP, kek, wrapped, wn, ut, 4, &ukey), CKR_OK,
           "C_UnwrapKey of OpenSSL's RFC 3394 wrap");
    get_attr(s, ukey, CKA_VALUE, &len, &v);
    ok(v.size == 32 && memcmp(v.data, secret, 32) == 0, "the unwrapped key is OpenSSL's key");
    hsm_buf_free(&v);
    ok(!get_bool(s, ukey, CKA_LOCAL) && !get_bool(s, ukey, CKA_NEVER_EXTRACTABLE) &&
           !get_bool(s, ukey, CKA_ALWAYS_SENSITIVE),
       "an unwrapped key: not LOCAL, never ALWAYS_SENSITIVE or NEVER_EXTRACTABLE");
    wrapped[5] ^= 1;
    is_int(unwrap(s, CKM_AES_KEY_WRAP, kek, wrapped, wn, ut, 4, &key), CKR_WRAPPED_KEY_INVALID,
           "a changed wrapped byte fails RFC 3394's integrity check");
    wrapped[5] ^= 1;
    is_int(unwrap(s, CKM_AES_KEY_WRAP, kek, wrapped, 20, ut, 4, &key), CKR_WRAPPED_KEY_LEN_RANGE,
           "a wrapped key that is not whole blocks is refused");
    /* KWP (RFC 5649): a 20-byte generic secret, both directions. */
    size_t kn = openssl_wrap(EVP_aes_256_wrap_pad(), kv, secret, 20, wrapped, false);
    is_int(kn, 32, "OpenSSL's KWP of 20 bytes is 32");
    struct hsm_attr gt[] = {{CKA_CLASS, (const uint8_t *)&cls, sizeof(cls)},
                            {CKA_KEY_TYPE, (const uint8_t *)&gen, sizeof(gen)},
                            {CKA_SENSITIVE, &yes, 1},
                            {CKA_EXTRACTABLE, &yes, 1}};
    uint64_t g;
    is_int(unwrap(s, CKM_AES_KEY_WRAP_KWP, kek, wrapped, kn, gt, 4, &g), CKR_OK,
           "C_UnwrapKey with KWP");
    is_int(get_attr(s, g, CKA_VALUE, &len, &v), CKR_ATTRIBUTE_SENSITIVE,
           "unwrapped as sensitive: the value does not read");
    hsm_buf_free(&v);
    is_int(wrap(s, CKM_AES_KEY_WRAP_KWP, kek, g, &w), CKR_OK,
           "a sensitive but extractable key wraps");
    size_t bn = openssl_wrap(EVP_aes_256_wrap_pad(), kv, w.data, w.size, back, true);
    ok(bn == 20 && memcmp(back, secret, 20) == 0, "OpenSSL unwraps the token's KWP output");
    hsm_buf_free(&w);
    is_int(wrap(s, CKM_AES_KEY_WRAP, kek, g, &w), CKR_KEY_SIZE_RANGE,
           "KW refuses a 20-byte key (not whole 64-bit blocks)");
    hsm_buf_free(&w);
    /* Attribute rules. */
    uint64_t fixed = gen_aes(s, 16, NULL, 0);
    is_int(wrap(s, CKM_AES_KEY_WRAP, kek, fixed, &w), CKR_KEY_UNEXTRACTABLE,
           "an unextractable key does not wrap");
    hsm_buf_free(&w);
    uint64_t nowrap = gen_aes(s, 32, (struct hsm_attr[]){{CKA_EXTRACTABLE, &yes, 1}}, 1);
    is_int(wrap(s, CKM_AES_KEY_WRAP, nowrap, ukey, &w), CKR_KEY_FUNCTION_NOT_PERMITTED,
           "a key without CKA_WRAP does not wrap");
    hsm_buf_free(&w);
    is_int(unwrap(s, CKM_AES_KEY_WRAP, nowrap, wrapped, wn, ut, 4, &key),
           CKR_KEY_FUNCTION_NOT_PERMITTED, "a key without CKA_UNWRAP does not unwrap");
    is_int(wrap(s, CKM_AES_KEY_WRAP, kek, ukey, &w), CKR_OK, "KW of the unwrapped AES key");
    bn = openssl_wrap(EVP_aes_256_wrap(), kv, w.data, w.size, back, true);
    ok(bn == 32 && memcmp(back, secret, 32) == 0, "OpenSSL unwraps the token's KW output");
    hsm_buf_free(&w);
    uint64_t pub, priv = gen_ec(s, p256, sizeof(p256), false, &pub);
    is_int(wrap(s, CKM_AES_KEY_WRAP, kek, priv, &w), CKR_KEY_NOT_WRAPPABLE,
           "private keys are not wrapped");
    hsm_buf_free(&w);
    is_int(wrap(s, CKM_AES_KEY_WRAP, priv, ukey, &w), CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
           "an EC key is not a wrapping key");
    hsm_buf_free(&w);
    struct hsm_attr bad[] = {{CKA_CLASS, (const uint8_t *)&cls, sizeof(cls)},
                             {CKA_KEY_TYPE, (const uint8_t *)&aes, sizeof(aes)},
                             {CKA_UNWRAP_TEMPLATE, (const uint8_t *)"x", 1}};
    wn = openssl_wrap(EVP_aes_256_wrap(), kv, secret, 32, wrapped, false);
    is_int(unwrap(s, CKM_AES_KEY_WRAP, kek, wrapped, wn, bad, 3, &key), CKR_ATTRIBUTE_TYPE_INVALID,
           "CKA_UNWRAP_TEMPLATE (not enforced) is refused");
    uint8_t kwp24[40];
    size_t k24 = openssl_wrap(EVP_aes_256_wrap_pad(), kv, secret, 20, kwp24, false);
    is_int(unwrap(s, CKM_AES_KEY_WRAP_KWP, kek, kwp24, k24, ut, 4, &key), CKR_WRAPPED_KEY_INVALID,
           "a 20-byte key is no AES key");
    /* CKA_WRAP_WITH_TRUSTED: only a CKA_TRUSTED key wraps it; only the SO makes one trusted. */
    is_int(set_bool_attr(s, ukey, CKA_WRAP_WITH_TRUSTED, true), CKR_OK, "set WRAP_WITH_TRUSTED");
    is_int(set_bool_attr(s, ukey, CKA_WRAP_WITH_TRUSTED, false), CKR_ATTRIBUTE_READ_ONLY,
           "WRAP_WITH_TRUSTED cannot be cleared");
    is_int(wrap(s, CKM_AES_KEY_WRAP, kek, ukey, &w), CKR_KEY_NOT_WRAPPABLE,
           "a WRAP_WITH_TRUSTED key does not wrap under an untrusted key");
    hsm_buf_free(&w);
    struct hsm_attr tt[] = {{CKA_TRUSTED, &yes, 1}, {CKA_WRAP, &yes, 1}};
    is_int(gen_aes(s, 32, tt, 2), 0, "the user cannot make a CKA_TRUSTED key");
    ok(set_bool_attr(s, kek, CKA_TRUSTED, true) != CKR_OK, "nor set CKA_TRUSTED later");
    is_int(logout(s), CKR_OK, "user logout");
    is_int(login(s, CKU_SO, "so-secret"), CKR_OK, "SO login");
    struct hsm_attr st[] = {{CKA_TRUSTED, &yes, 1},  {CKA_WRAP, &yes, 1},
                            {CKA_UNWRAP, &yes, 1},   {CKA_PRIVATE, &no, 1},
                            {CKA_SENSITIVE, &no, 1}, {CKA_EXTRACTABLE, &yes, 1}};
    uint64_t trusted = gen_aes(s, 32, st, 6);
    ok(trusted != 0, "the SO makes a public CKA_TRUSTED wrapping key");
    is_int(get_attr(s, trusted, CKA_VALUE, &len, &v), CKR_OK, "(its value, for the check)");
    uint8_t tv[32];
    memcpy(tv, v.data, v.size == 32 ? 32 : 0);
    hsm_buf_free(&v);
    logout(s);
    is_int(login(s, CKU_USER, "1234"), CKR_OK, "user login again");
    /* The user's private session keys died at logout: unwrap one again under the trusted key. */
    wn = openssl_wrap(EVP_aes_256_wrap(), tv, secret, 32, wrapped, false);
    struct hsm_attr wt[] = {{CKA_CLASS, (const uint8_t *)&cls, sizeof(cls)},
                            {CKA_KEY_TYPE, (const uint8_t *)&aes, sizeof(aes)},
                            {CKA_EXTRACTABLE, &yes, 1},
                            {CKA_WRAP_WITH_TRUSTED, &yes, 1}};
    is_int(unwrap(s, CKM_AES_KEY_WRAP, trusted, wrapped, wn, wt, 4, &key), CKR_OK,
           "unwrap a WRAP_WITH_TRUSTED key under the trusted key");
    is_int(wrap(s, CKM_AES_KEY_WRAP, trusted, key, &w), CKR_OK,
           "the trusted key wraps the WRAP_WITH_TRUSTED key");
    bn = openssl_wrap(EVP_aes_256_wrap(), tv, w.data, w.size, back, true);
    ok(bn == 32 && memcmp(back, secret, 32) == 0, "and OpenSSL unwraps it");
    hsm_buf_free(&w);
}

int main(void)
{
    char dir[] = "/tmp/keep-test-hsm-keys-XXXXXX", path[64];
    struct keep_error err;
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof(path), "%s/token.khsm", dir);
    if (hsm_service_open(path, 1000, &svc, &err) != KEEP_OK) {
        diag("open: %s", err.message);
        return 1;
    }
    conn = hsm_service_connect(svc);
    struct hsm_buf req = {0};
    hsm_put_bytes(&req, "so-secret", 9);
    hsm_put_bytes(&req, "keys", 4);
    is_int(rpc(HSM_OP_INIT_TOKEN, &req, NULL), CKR_OK, "C_InitToken");
    hsm_buf_free(&req);
    uint64_t s = open_session();
    is_int(login(s, CKU_SO, "so-secret"), CKR_OK, "SO login");
    is_int(pin_op(HSM_OP_INIT_PIN, s, NULL, "1234"), CKR_OK, "C_InitPIN");
    logout(s);
    is_int(login(s, CKU_USER, "1234"), CKR_OK, "user login");
    char g256[] = "P-256", g384[] = "P-384";
    test_ecdh_curve(s, p256, sizeof(p256), g256, 32);
    test_ecdh_curve(s, p384, sizeof(p384), g384, 48);
    test_wrap(s);
    hsm_service_free(svc);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        diag("could not remove %s", dir);
    return done_testing();
}
