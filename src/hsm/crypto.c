/* SPDX-License-Identifier: Apache-2.0 */
#include "hsm/crypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

const EVP_MD *hsm_crypto_md(CK_MECHANISM_TYPE type)
{
    switch (type) {
    case CKM_SHA_1:
    case CKM_ECDSA_SHA1: /* legacy; pkcs11-tool --test-ec signs with it */
        return EVP_sha1();
    case CKM_SHA256:
    case CKM_ECDSA_SHA256:
    case CKM_SHA256_RSA_PKCS:
    case CKM_SHA256_RSA_PKCS_PSS:
        return EVP_sha256();
    case CKM_SHA384:
    case CKM_ECDSA_SHA384:
    case CKM_SHA384_RSA_PKCS:
    case CKM_SHA384_RSA_PKCS_PSS:
        return EVP_sha384();
    case CKM_SHA512:
    case CKM_ECDSA_SHA512:
    case CKM_SHA512_RSA_PKCS:
    case CKM_SHA512_RSA_PKCS_PSS:
        return EVP_sha512();
    default:
        return NULL;
    }
}

static const EVP_MD *mgf_md(CK_ULONG mgf)
{
    switch (mgf) {
    case CKG_MGF1_SHA1:
        return EVP_sha1();
    case CKG_MGF1_SHA256:
        return EVP_sha256();
    case CKG_MGF1_SHA384:
        return EVP_sha384();
    case CKG_MGF1_SHA512:
        return EVP_sha512();
    default:
        return NULL;
    }
}

static bool is_ecdsa(CK_MECHANISM_TYPE t)
{
    return t == CKM_ECDSA || t == CKM_ECDSA_SHA1 || t == CKM_ECDSA_SHA256 ||
           t == CKM_ECDSA_SHA384 || t == CKM_ECDSA_SHA512;
}

static bool is_rsa_pkcs(CK_MECHANISM_TYPE t)
{
    return t == CKM_SHA256_RSA_PKCS || t == CKM_SHA384_RSA_PKCS || t == CKM_SHA512_RSA_PKCS;
}

static bool is_rsa_pss(CK_MECHANISM_TYPE t)
{
    return t == CKM_RSA_PKCS_PSS || t == CKM_SHA256_RSA_PKCS_PSS || t == CKM_SHA384_RSA_PKCS_PSS ||
           t == CKM_SHA512_RSA_PKCS_PSS;
}

/* CK_RSA_PKCS_PSS_PARAMS on the wire: u64 hashAlg, u64 mgf, u64 sLen (PKCS#11 2.40 2.1.14). */
struct pss_params {
    const EVP_MD *md, *mgf;
    int salt;
};

static CK_RV parse_pss(const struct hsm_mech *m, struct pss_params *p)
{
    struct keep_cursor c;
    uint64_t hash, mgf, salt;
    keep_cursor_init(&c, m->param, m->param_size);
    if (keep_cursor_u64(&c, "pss.hashAlg", &hash, NULL) ||
        keep_cursor_u64(&c, "pss.mgf", &mgf, NULL) ||
        keep_cursor_u64(&c, "pss.sLen", &salt, NULL) || !keep_cursor_at_end(&c))
        return CKR_MECHANISM_PARAM_INVALID;
    p->md = hsm_crypto_md(hash);
    p->mgf = mgf_md(mgf);
    if (!p->md || !p->mgf || salt > 1024)
        return CKR_MECHANISM_PARAM_INVALID;
    /* The hash-and-sign mechanisms name their hash twice; the two must agree. */
    if (m->type != CKM_RSA_PKCS_PSS && hsm_crypto_md(m->type) != p->md)
        return CKR_MECHANISM_PARAM_INVALID;
    p->salt = (int)salt;
    return CKR_OK;
}

/* CK_RSA_PKCS_OAEP_PARAMS on the wire: u64 hashAlg, u64 mgf, u64 source, bytes label. */
struct oaep_params {
    const EVP_MD *md, *mgf;
    const uint8_t *label;
    uint32_t label_size;
};

static CK_RV parse_oaep(const struct hsm_mech *m, struct oaep_params *p)
{
    struct keep_cursor c;
    uint64_t hash, mgf, source;
    keep_cursor_init(&c, m->param, m->param_size);
    if (keep_cursor_u64(&c, "oaep.hashAlg", &hash, NULL) ||
        keep_cursor_u64(&c, "oaep.mgf", &mgf, NULL) ||
        keep_cursor_u64(&c, "oaep.source", &source, NULL) ||
        hsm_get_bytes(&c, "oaep.pSourceData", 1024, &p->label, &p->label_size, NULL) ||
        !keep_cursor_at_end(&c))
        return CKR_MECHANISM_PARAM_INVALID;
    p->md = hash == CKM_SHA_1 ? EVP_sha1() : hsm_crypto_md(hash);
    p->mgf = mgf_md(mgf);
    if (!p->md || !p->mgf || (source != 0 && source != CKZ_DATA_SPECIFIED))
        return CKR_MECHANISM_PARAM_INVALID;
    return CKR_OK;
}

static CK_RV hash_input(CK_MECHANISM_TYPE t, const uint8_t *data, size_t size, uint8_t *md_out,
                        size_t *md_size)
{
    const EVP_MD *md = hsm_crypto_md(t);
    unsigned int n = 0;
    if (!md || EVP_Digest(data, size, md_out, &n, md, NULL) != 1)
        return CKR_FUNCTION_FAILED;
    *md_size = n;
    return CKR_OK;
}

static size_t ec_field_bytes(EVP_PKEY *key)
{
    return (size_t)(EVP_PKEY_get_bits(key) + 7) / 8;
}

/* ECDSA: the DER signature OpenSSL gives becomes r || s, each the field size (PKCS#11 2.3.1). */
static CK_RV ecdsa_sign(EVP_PKEY_CTX *ctx, EVP_PKEY *key, const uint8_t *h, size_t hn,
                        struct hsm_buf *out)
{
    uint8_t der[160];
    size_t der_size = sizeof(der), fb = ec_field_bytes(key);
    if (EVP_PKEY_sign(ctx, der, &der_size, h, hn) != 1)
        return CKR_FUNCTION_FAILED;
    const uint8_t *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_size);
    uint8_t rs[2 * 66];
    CK_RV rv = CKR_FUNCTION_FAILED;
    if (sig && fb <= 66 && BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, (int)fb) == (int)fb &&
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + fb, (int)fb) == (int)fb) {
        hsm_put(out, rs, 2 * fb);
        rv = CKR_OK;
    }
    ECDSA_SIG_free(sig);
    return rv;
}

static CK_RV set_rsa_sign_params(EVP_PKEY_CTX *ctx, const struct hsm_mech *m)
{
    if (m->type == CKM_RSA_PKCS)
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 ? CKR_OK
                                                                         : CKR_FUNCTION_FAILED;
    if (is_rsa_pkcs(m->type))
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
                       EVP_PKEY_CTX_set_signature_md(ctx, hsm_crypto_md(m->type)) == 1
                   ? CKR_OK
                   : CKR_FUNCTION_FAILED;
    struct pss_params pp;
    CK_RV rv = parse_pss(m, &pp);
    if (rv)
        return rv;
    return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                   EVP_PKEY_CTX_set_signature_md(ctx, pp.md) == 1 &&
                   EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, pp.mgf) == 1 &&
                   EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, pp.salt) == 1
               ? CKR_OK
               : CKR_MECHANISM_PARAM_INVALID;
}

/* The bytes the key signs: the data itself (raw mechanisms) or its digest. */
static CK_RV sign_input(const struct hsm_mech *m, const uint8_t *data, size_t size, uint8_t *md,
                        const uint8_t **in, size_t *in_size)
{
    if (m->type == CKM_ECDSA || m->type == CKM_RSA_PKCS || m->type == CKM_RSA_PKCS_PSS) {
        *in = data;
        *in_size = size;
        return CKR_OK;
    }
    *in = md;
    return hash_input(m->type, data, size, md, in_size);
}

static CK_RV check_key_for(EVP_PKEY *key, CK_MECHANISM_TYPE t)
{
    bool ec = EVP_PKEY_get_base_id(key) == EVP_PKEY_EC;
    bool rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
    if (is_ecdsa(t))
        return ec ? CKR_OK : CKR_KEY_TYPE_INCONSISTENT;
    if (t == CKM_RSA_PKCS || is_rsa_pkcs(t) || is_rsa_pss(t) || t == CKM_RSA_PKCS_OAEP)
        return rsa ? CKR_OK : CKR_KEY_TYPE_INCONSISTENT;
    return CKR_MECHANISM_INVALID;
}

CK_RV hsm_crypto_sign(EVP_PKEY *key, const struct hsm_mech *m, const uint8_t *data, size_t size,
                      struct hsm_buf *out)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    const uint8_t *in;
    size_t in_size;
    CK_RV rv = check_key_for(key, m->type);
    if (rv == CKR_OK && m->type == CKM_RSA_PKCS_OAEP)
        rv = CKR_MECHANISM_INVALID;
    if (rv || (rv = sign_input(m, data, size, md, &in, &in_size)) != CKR_OK)
        return rv;
    if (m->type == CKM_RSA_PKCS_PSS && in_size != 0) {
        struct pss_params pp;
        if ((rv = parse_pss(m, &pp)) != CKR_OK)
            return rv;
        if (in_size != (size_t)EVP_MD_get_size(pp.md))
            return CKR_DATA_LEN_RANGE; /* CKM_RSA_PKCS_PSS signs a digest of hashAlg's size */
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    if (!ctx || EVP_PKEY_sign_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return CKR_FUNCTION_FAILED;
    }
    if (is_ecdsa(m->type)) {
        rv = ecdsa_sign(ctx, key, in, in_size, out);
    } else if ((rv = set_rsa_sign_params(ctx, m)) == CKR_OK) {
        uint8_t sig[512];
        size_t sig_size = sizeof(sig);
        rv = EVP_PKEY_sign(ctx, sig, &sig_size, in, in_size) == 1 ? CKR_OK : CKR_DATA_LEN_RANGE;
        if (rv == CKR_OK)
            hsm_put(out, sig, sig_size);
    }
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

static CK_RV ecdsa_verify(EVP_PKEY_CTX *ctx, EVP_PKEY *key, const uint8_t *h, size_t hn,
                          const uint8_t *sig, size_t sig_size)
{
    size_t fb = ec_field_bytes(key);
    if (sig_size != 2 * fb)
        return CKR_SIGNATURE_LEN_RANGE;
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)fb, NULL), *ss = BN_bin2bn(sig + fb, (int)fb, NULL);
    if (!s || !r || !ss || ECDSA_SIG_set0(s, r, ss) != 1) {
        ECDSA_SIG_free(s);
        BN_free(r);
        BN_free(ss);
        return CKR_HOST_MEMORY;
    }
    uint8_t *der = NULL;
    int der_size = i2d_ECDSA_SIG(s, &der);
    ECDSA_SIG_free(s);
    CK_RV rv = der_size > 0 && EVP_PKEY_verify(ctx, der, (size_t)der_size, h, hn) == 1
                   ? CKR_OK
                   : CKR_SIGNATURE_INVALID;
    OPENSSL_free(der);
    return rv;
}

CK_RV hsm_crypto_verify(EVP_PKEY *key, const struct hsm_mech *m, const uint8_t *data, size_t size,
                        const uint8_t *sig, size_t sig_size)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    const uint8_t *in;
    size_t in_size;
    CK_RV rv = check_key_for(key, m->type);
    if (rv || (rv = sign_input(m, data, size, md, &in, &in_size)) != CKR_OK)
        return rv;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    if (!ctx || EVP_PKEY_verify_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return CKR_FUNCTION_FAILED;
    }
    if (is_ecdsa(m->type)) {
        rv = ecdsa_verify(ctx, key, in, in_size, sig, sig_size);
    } else if ((rv = set_rsa_sign_params(ctx, m)) == CKR_OK) {
        if (sig_size != (size_t)EVP_PKEY_get_size(key))
            rv = CKR_SIGNATURE_LEN_RANGE;
        else
            rv = EVP_PKEY_verify(ctx, sig, sig_size, in, in_size) == 1 ? CKR_OK
                                                                       : CKR_SIGNATURE_INVALID;
    }
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

static CK_RV set_rsa_crypt_params(EVP_PKEY_CTX *ctx, const struct hsm_mech *m)
{
    if (m->type == CKM_RSA_PKCS)
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 ? CKR_OK
                                                                         : CKR_FUNCTION_FAILED;
    if (m->type != CKM_RSA_PKCS_OAEP)
        return CKR_MECHANISM_INVALID;
    struct oaep_params op;
    CK_RV rv = parse_oaep(m, &op);
    if (rv)
        return rv;
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, op.md) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, op.mgf) != 1)
        return CKR_MECHANISM_PARAM_INVALID;
    if (op.label_size) {
        void *label = OPENSSL_memdup(op.label, op.label_size);
        if (!label || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, (int)op.label_size) != 1) {
            OPENSSL_free(label);
            return CKR_HOST_MEMORY;
        }
    }
    return CKR_OK;
}

static CK_RV rsa_crypt(EVP_PKEY *key, const struct hsm_mech *m, const uint8_t *in, size_t size,
                       struct hsm_buf *out, bool decrypt)
{
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
        return CKR_KEY_TYPE_INCONSISTENT;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    int init = !ctx ? 0 : decrypt ? EVP_PKEY_decrypt_init(ctx) : EVP_PKEY_encrypt_init(ctx);
    CK_RV rv = init == 1 ? set_rsa_crypt_params(ctx, m) : CKR_FUNCTION_FAILED;
    uint8_t buf[512];
    size_t n = sizeof(buf);
    if (rv == CKR_OK) {
        int ok = decrypt ? EVP_PKEY_decrypt(ctx, buf, &n, in, size)
                         : EVP_PKEY_encrypt(ctx, buf, &n, in, size);
        rv = ok == 1 ? CKR_OK : decrypt ? CKR_ENCRYPTED_DATA_INVALID : CKR_DATA_LEN_RANGE;
    }
    if (rv == CKR_OK)
        hsm_put(out, buf, n);
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

CK_RV hsm_crypto_decrypt(EVP_PKEY *key, const struct hsm_mech *m, const uint8_t *in, size_t size,
                         struct hsm_buf *out)
{
    return rsa_crypt(key, m, in, size, out, true);
}

CK_RV hsm_crypto_encrypt(EVP_PKEY *key, const struct hsm_mech *m, const uint8_t *in, size_t size,
                         struct hsm_buf *out)
{
    return rsa_crypt(key, m, in, size, out, false);
}

CK_RV hsm_crypto_digest(const struct hsm_mech *m, const uint8_t *data, size_t size,
                        struct hsm_buf *out)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    size_t n;
    if (m->type != CKM_SHA256 && m->type != CKM_SHA384 && m->type != CKM_SHA512)
        return CKR_MECHANISM_INVALID;
    CK_RV rv = hash_input(m->type, data, size, md, &n);
    if (rv == CKR_OK)
        hsm_put(out, md, n);
    return rv;
}

/* DER OBJECT IDENTIFIERs of the named curves (SEC 2, RFC 5480 2.1.1.1). */
static const uint8_t oid_p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const uint8_t oid_p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

CK_RV hsm_crypto_gen_ec(const uint8_t *params, size_t size, EVP_PKEY **out)
{
    const char *curve = NULL;
    if (size == sizeof(oid_p256) && memcmp(params, oid_p256, size) == 0)
        curve = "P-256";
    else if (size == sizeof(oid_p384) && memcmp(params, oid_p384, size) == 0)
        curve = "P-384";
    if (!curve)
        return CKR_CURVE_NOT_SUPPORTED;
    *out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    return *out ? CKR_OK : CKR_FUNCTION_FAILED;
}

CK_RV hsm_crypto_gen_rsa(CK_ULONG bits, const uint8_t *exponent, size_t exponent_size,
                         EVP_PKEY **out)
{
    if (bits < 2048 || bits > 4096 || bits % 8)
        return CKR_KEY_SIZE_RANGE;
    BIGNUM *e = exponent_size ? BN_bin2bn(exponent, (int)exponent_size, NULL) : BN_new();
    if (e && !exponent_size)
        BN_set_word(e, RSA_F4);
    /* Small or even exponents are weak or invalid (FIPS 186-5 A.1.1: 2^16 < e < 2^256, odd). */
    if (!e || !BN_is_odd(e) || BN_num_bits(e) < 17 || BN_num_bits(e) > 256) {
        BN_free(e);
        return CKR_TEMPLATE_INCONSISTENT;
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    *out = NULL;
    bool ok = ctx && EVP_PKEY_keygen_init(ctx) == 1 &&
              EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) == 1 &&
              EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) == 1 && EVP_PKEY_keygen(ctx, out) == 1;
    EVP_PKEY_CTX_free(ctx);
    BN_free(e);
    return ok ? CKR_OK : CKR_FUNCTION_FAILED;
}

/* ---- secret keys ------------------------------------------------------- */

static const EVP_CIPHER *aes_cipher(CK_MECHANISM_TYPE t, size_t key_size)
{
    int bits = (int)key_size * 8;
    if (t == CKM_AES_GCM)
        return bits == 128   ? EVP_aes_128_gcm()
               : bits == 192 ? EVP_aes_192_gcm()
               : bits == 256 ? EVP_aes_256_gcm()
                             : NULL;
    if (t == CKM_AES_CBC_PAD)
        return bits == 128   ? EVP_aes_128_cbc()
               : bits == 192 ? EVP_aes_192_cbc()
               : bits == 256 ? EVP_aes_256_cbc()
                             : NULL;
    if (t == CKM_AES_CTR)
        return bits == 128   ? EVP_aes_128_ctr()
               : bits == 192 ? EVP_aes_192_ctr()
               : bits == 256 ? EVP_aes_256_ctr()
                             : NULL;
    return NULL;
}

struct aes_params {
    const uint8_t *iv, *aad;
    uint32_t iv_size, aad_size;
    uint64_t tag_bits;
};

/* PKCS#11 2.40 Mechanisms 2.12 (CK_GCM_PARAMS), 2.10 (CBC_PAD), 2.11 (CK_AES_CTR_PARAMS). */
static CK_RV parse_aes(const struct hsm_mech *m, struct aes_params *p)
{
    struct keep_cursor c;
    uint64_t counter_bits = 0;
    memset(p, 0, sizeof(*p));
    keep_cursor_init(&c, m->param, m->param_size);
    bool bad = false;
    if (m->type == CKM_AES_GCM)
        bad = hsm_get_bytes(&c, "gcm.iv", 128, &p->iv, &p->iv_size, NULL) ||
              hsm_get_bytes(&c, "gcm.aad", 65536, &p->aad, &p->aad_size, NULL) ||
              keep_cursor_u64(&c, "gcm.tag_bits", &p->tag_bits, NULL) || p->iv_size == 0 ||
              p->tag_bits < 96 || p->tag_bits > 128 || p->tag_bits % 8;
    else if (m->type == CKM_AES_CBC_PAD)
        bad = hsm_get_bytes(&c, "cbc.iv", 16, &p->iv, &p->iv_size, NULL) || p->iv_size != 16;
    else
        bad = keep_cursor_u64(&c, "ctr.counter_bits", &counter_bits, NULL) ||
              hsm_get_bytes(&c, "ctr.cb", 16, &p->iv, &p->iv_size, NULL) || p->iv_size != 16 ||
              counter_bits == 0 || counter_bits > 128;
    /* OpenSSL's CTR counts with all 128 bits; a narrower counter would wrap differently. */
    if (m->type == CKM_AES_CTR && counter_bits != 128 && !bad)
        return CKR_MECHANISM_PARAM_INVALID;
    return bad || !keep_cursor_at_end(&c) ? CKR_MECHANISM_PARAM_INVALID : CKR_OK;
}

static CK_RV aes_run(EVP_CIPHER_CTX *ctx, const struct hsm_mech *m, const struct aes_params *p,
                     const uint8_t *in, size_t size, bool decrypt, struct hsm_buf *out)
{
    size_t tag = m->type == CKM_AES_GCM ? p->tag_bits / 8 : 0;
    if (decrypt && size < tag)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    size_t body = decrypt ? size - tag : size;
    uint8_t *buf = malloc(body + 32);
    int n = 0, fin = 0;
    if (!buf)
        return CKR_HOST_MEMORY;
    bool ok = (!p->aad_size || EVP_CipherUpdate(ctx, NULL, &n, p->aad, (int)p->aad_size) == 1) &&
              EVP_CipherUpdate(ctx, buf, &n, in, (int)body) == 1;
    uint8_t want[16];
    if (ok && decrypt && tag) {
        memcpy(want, in + body, tag);
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)tag, want) == 1;
    }
    ok = ok && EVP_CipherFinal_ex(ctx, buf + n, &fin) == 1;
    if (ok) {
        hsm_put(out, buf, (size_t)(n + fin));
        if (!decrypt && tag) {
            uint8_t t[16];
            ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, (int)tag, t) == 1;
            hsm_put(out, t, tag);
        }
    }
    OPENSSL_clear_free(buf, body + 32);
    if (!ok)
        return decrypt ? CKR_ENCRYPTED_DATA_INVALID : CKR_FUNCTION_FAILED;
    return CKR_OK;
}

CK_RV hsm_crypto_aes(const struct hsm_mech *m, const uint8_t *key, size_t key_size,
                     const uint8_t *in, size_t size, bool decrypt, struct hsm_buf *out)
{
    const EVP_CIPHER *cipher = aes_cipher(m->type, key_size);
    struct aes_params p;
    if (!cipher)
        return m->type == CKM_AES_GCM || m->type == CKM_AES_CBC_PAD || m->type == CKM_AES_CTR
                   ? CKR_KEY_SIZE_RANGE
                   : CKR_MECHANISM_INVALID;
    CK_RV rv = parse_aes(m, &p);
    if (rv)
        return rv;
    if (m->type == CKM_AES_CBC_PAD && decrypt && (size == 0 || size % 16))
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    bool ok = ctx && EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, decrypt ? 0 : 1) == 1 &&
              (m->type != CKM_AES_GCM ||
               EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)p.iv_size, NULL) == 1) &&
              EVP_CipherInit_ex(ctx, NULL, NULL, key, p.iv, -1) == 1;
    rv = ok ? aes_run(ctx, m, &p, in, size, decrypt, out) : CKR_FUNCTION_FAILED;
    EVP_CIPHER_CTX_free(ctx);
    return rv;
}

CK_RV hsm_crypto_hmac(const struct hsm_mech *m, const uint8_t *key, size_t key_size,
                      const uint8_t *data, size_t size, struct hsm_buf *out)
{
    const EVP_MD *md = m->type == CKM_SHA256_HMAC   ? EVP_sha256()
                       : m->type == CKM_SHA384_HMAC ? EVP_sha384()
                       : m->type == CKM_SHA512_HMAC ? EVP_sha512()
                                                    : NULL;
    if (!md)
        return CKR_MECHANISM_INVALID;
    if (m->param_size)
        return CKR_MECHANISM_PARAM_INVALID;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC(md, key, (int)key_size, data, size, mac, &n))
        return CKR_FUNCTION_FAILED;
    hsm_put(out, mac, n);
    return CKR_OK;
}

/* ---- key wrap and key agreement ------------------------------------------ */

static const EVP_CIPHER *wrap_cipher(CK_MECHANISM_TYPE type, size_t key_size)
{
    bool kwp = type == CKM_AES_KEY_WRAP_KWP;
    if (type != CKM_AES_KEY_WRAP && !kwp)
        return NULL;
    switch (key_size) {
    case 16:
        return kwp ? EVP_aes_128_wrap_pad() : EVP_aes_128_wrap();
    case 24:
        return kwp ? EVP_aes_192_wrap_pad() : EVP_aes_192_wrap();
    case 32:
        return kwp ? EVP_aes_256_wrap_pad() : EVP_aes_256_wrap();
    default:
        return NULL;
    }
}

/*
 * RFC 3394 (KW) input is whole 64-bit blocks, at least two; RFC 5649 (KWP)
 * takes any non-empty input. Unwrapping: KW output is 8 bytes longer than
 * its input, KWP a multiple of 8 at least 16 long.
 */
static CK_RV wrap_size_check(CK_MECHANISM_TYPE type, size_t size, bool unwrap)
{
    bool kwp = type == CKM_AES_KEY_WRAP_KWP;
    if (size > HSM_ATTR_MAX)
        return unwrap ? CKR_WRAPPED_KEY_LEN_RANGE : CKR_KEY_SIZE_RANGE;
    if (unwrap)
        return size % 8 || size < (kwp ? 16u : 24u) ? CKR_WRAPPED_KEY_LEN_RANGE : CKR_OK;
    return size == 0 || (!kwp && (size % 8 || size < 16)) ? CKR_KEY_SIZE_RANGE : CKR_OK;
}

CK_RV hsm_crypto_key_wrap(const struct hsm_mech *m, const uint8_t *key, size_t key_size,
                          const uint8_t *in, size_t size, bool unwrap, struct hsm_buf *out)
{
    const EVP_CIPHER *cipher = wrap_cipher(m->type, key_size);
    if (!cipher)
        return m->type == CKM_AES_KEY_WRAP || m->type == CKM_AES_KEY_WRAP_KWP
                   ? (unwrap ? CKR_UNWRAPPING_KEY_SIZE_RANGE : CKR_WRAPPING_KEY_SIZE_RANGE)
                   : CKR_MECHANISM_INVALID;
    /* The optional initial value: 8 bytes for KW (RFC 3394 2.2.3), 4 for KWP (RFC 5649 3). */
    struct keep_cursor c;
    const uint8_t *iv = NULL;
    uint32_t iv_size = 0;
    size_t want_iv = m->type == CKM_AES_KEY_WRAP ? 8 : 4;
    keep_cursor_init(&c, m->param, m->param_size);
    if (m->param_size && (hsm_get_bytes(&c, "wrap.iv", 8, &iv, &iv_size, NULL) ||
                          !keep_cursor_at_end(&c) || (iv_size && iv_size != want_iv)))
        return CKR_MECHANISM_PARAM_INVALID;
    CK_RV rv = wrap_size_check(m->type, size, unwrap);
    if (rv)
        return rv;
    uint8_t *buf = malloc(size + 16);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    bool ok = buf && ctx;
    if (ok) {
        EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
        ok = EVP_CipherInit_ex(ctx, cipher, NULL, key, iv_size ? iv : NULL, unwrap ? 0 : 1) == 1;
    }
    if (ok) /* a failed integrity check (the IV or the length) fails here */
        rv = EVP_CipherUpdate(ctx, buf, &n, in, (int)size) == 1 &&
                     EVP_CipherFinal_ex(ctx, buf + n, &fin) == 1
                 ? CKR_OK
                 : (unwrap ? CKR_WRAPPED_KEY_INVALID : CKR_FUNCTION_FAILED);
    else
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK)
        hsm_put(out, buf, (size_t)n + (size_t)fin);
    if (buf)
        OPENSSL_clear_free(buf, size + 16);
    EVP_CIPHER_CTX_free(ctx);
    return rv;
}

/* The peer's point as the raw uncompressed X9.62 octets, or NULL. */
static const uint8_t *raw_point(const uint8_t *p, size_t n, size_t want, size_t *out_n)
{
    *out_n = want;
    if (n == want && p[0] == 0x04)
        return p;
    /* Some clients send the DER OCTET STRING of CKA_EC_POINT (pkcs11-tool --derive-pass-der). */
    if (want < 128 && n == want + 2 && p[0] == 0x04 && p[1] == want && p[2] == 0x04)
        return p + 2;
    return NULL;
}

static EVP_PKEY *peer_key(char *group, const uint8_t *pt, size_t n)
{
    uint8_t point[133]; /* P-521's 133 is the largest uncompressed point */
    if (n > sizeof(point))
        return NULL;
    memcpy(point, pt, n); /* OSSL_PARAM takes a non-const pointer */
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
                           OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, n),
                           OSSL_PARAM_construct_end()};
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *fc = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!fc || EVP_PKEY_fromdata_init(fc) != 1 ||
        EVP_PKEY_fromdata(fc, &peer, EVP_PKEY_PUBLIC_KEY, params) != 1)
        peer = NULL;
    EVP_PKEY_CTX_free(fc);
    /* SP 800-56A 5.6.2.3.3: the point must be on the curve and not the identity. */
    EVP_PKEY_CTX *cc = peer ? EVP_PKEY_CTX_new(peer, NULL) : NULL;
    bool valid = cc && EVP_PKEY_public_check(cc) == 1;
    EVP_PKEY_CTX_free(cc);
    if (!valid) {
        EVP_PKEY_free(peer);
        return NULL;
    }
    return peer;
}

CK_RV hsm_crypto_ecdh(EVP_PKEY *priv, const struct hsm_mech *m, struct hsm_buf *out)
{
    struct keep_cursor c;
    uint64_t kdf;
    const uint8_t *shared, *pub;
    uint32_t shared_n, pub_n;
    if (m->type != CKM_ECDH1_DERIVE)
        return CKR_MECHANISM_INVALID;
    keep_cursor_init(&c, m->param, m->param_size);
    if (keep_cursor_u64(&c, "ecdh.kdf", &kdf, NULL) ||
        hsm_get_bytes(&c, "ecdh.shared_data", 1024, &shared, &shared_n, NULL) ||
        hsm_get_bytes(&c, "ecdh.public_data", 256, &pub, &pub_n, NULL) || !keep_cursor_at_end(&c))
        return CKR_MECHANISM_PARAM_INVALID;
    /* 2.40 Mechanisms 2.3.15: with CKD_NULL there is no shared data; other KDFs: not offered. */
    if (kdf != CKD_NULL || shared_n != 0 || pub_n == 0)
        return CKR_MECHANISM_PARAM_INVALID;
    char group[32];
    size_t gl = 0;
    if (EVP_PKEY_get_utf8_string_param(priv, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &gl) != 1)
        return CKR_KEY_TYPE_INCONSISTENT;
    size_t field = (size_t)(EVP_PKEY_get_bits(priv) + 7) / 8, raw_n;
    const uint8_t *raw = raw_point(pub, pub_n, 1 + 2 * field, &raw_n);
    EVP_PKEY *peer = raw ? peer_key(group, raw, raw_n) : NULL;
    if (!peer)
        return CKR_MECHANISM_PARAM_INVALID;
    uint8_t secret[66];
    size_t n = sizeof(secret);
    EVP_PKEY_CTX *dc = EVP_PKEY_CTX_new(priv, NULL);
    bool ok = dc && EVP_PKEY_derive_init(dc) == 1 && EVP_PKEY_derive_set_peer(dc, peer) == 1 &&
              EVP_PKEY_derive(dc, secret, &n) == 1;
    EVP_PKEY_CTX_free(dc);
    EVP_PKEY_free(peer);
    if (ok)
        hsm_put(out, secret, n);
    OPENSSL_cleanse(secret, sizeof(secret));
    return ok ? CKR_OK : CKR_FUNCTION_FAILED;
}
