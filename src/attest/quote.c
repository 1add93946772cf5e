/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel DCAP quote v3 (SGX), v4 and v5 (TDX, or SGX) parser and signature
 * checks. See quote.h for what each function checks; [SGX] and [TDX] name
 * the two specifications cited there.
 */
#include "attest/quote.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/cursor.h"
#include "common/util.h"

const uint8_t keep_quote_intel_qe_vendor_id[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                                   0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

/* ---- Parsing ------------------------------------------------------------ */

/* [SGX] "Quote Header"; [TDX] "Quote Header" (v4 and v5) use the same 48 bytes. */
static int parse_header(struct keep_cursor *c, struct keep_quote_header *h, struct keep_error *err)
{
    int rc;
    if ((rc = keep_cursor_u16(c, "header.version", &h->version, err)) ||
        (rc = keep_cursor_u16(c, "header.att_key_type", &h->att_key_type, err)) ||
        (rc = keep_cursor_u32(c, "header.tee_type", &h->tee_type, err)) ||
        (rc = keep_cursor_u16(c, "header.qe_svn", &h->qe_svn, err)) ||
        (rc = keep_cursor_u16(c, "header.pce_svn", &h->pce_svn, err)) ||
        (rc = keep_cursor_copy(c, "header.qe_vendor_id", h->qe_vendor_id, 16, err)) ||
        (rc = keep_cursor_copy(c, "header.user_data", h->user_data, 20, err)))
        return rc;
    if (h->version < 3 || h->version > 5)
        return keep_fail(err, KEEP_E_QUOTE_VERSION,
                         "header.version is %u; quote versions 3 (SGX), 4 and 5 are supported",
                         h->version);
    /* [SGX] and [TDX] "Quote Header": 2 = ECDSA-256-with-P-256 (3, P-384, is never issued). */
    if (h->att_key_type != KEEP_QUOTE_KEY_ECDSA_P256)
        return keep_fail(err, KEEP_E_QUOTE_KEY_TYPE,
                         "header.att_key_type is %u; only 2 (ECDSA-256-with-P-256) is supported",
                         h->att_key_type);
    /* [SGX] "Quote Header": the v3 field is reserved (zero), which is the SGX TEE type of v4/v5. */
    if (h->tee_type != KEEP_QUOTE_TEE_SGX && h->tee_type != KEEP_QUOTE_TEE_TDX)
        return keep_fail(err, KEEP_E_QUOTE_TEE_TYPE,
                         "header.tee_type is 0x%08x; must be 0x00000000 (SGX) or 0x00000081 (TDX)",
                         h->tee_type);
    /* [TDX] "Quote Header": TDX quotes start at version 4; version 3 is SGX only ([SGX] "Quote
     * Header"). */
    if (h->version == 3 && h->tee_type != KEEP_QUOTE_TEE_SGX)
        return keep_fail(err, KEEP_E_QUOTE_VERSION,
                         "header.version is 3 with header.tee_type 0x%08x (TDX); TDX quotes "
                         "are versions 4 and 5",
                         h->tee_type);
    return KEEP_OK;
}

/* Read `size` reserved bytes that the report body layout defines as zero. */
static int reserved(struct keep_cursor *c, const char *field, size_t size, struct keep_error *err)
{
    return keep_cursor_reserved_zero(c, field, size, err);
}

/*
 * [SGX] "Enclave Report Body" (Intel SDM Vol. 3D, 38.15 REPORT), 384 bytes.
 * The same structure is the quote body and the QE report; `qe` picks the
 * name messages use for it.
 */
static int parse_sgx_body(struct keep_cursor *c, bool qe, struct keep_sgx_report_body *b,
                          struct keep_error *err)
{
#define FIELD(name) (qe ? "qe_report." name : "body." name)
    int rc;
    if ((rc = keep_cursor_copy(c, FIELD("cpu_svn"), b->cpu_svn, 16, err)) ||
        (rc = keep_cursor_u32(c, FIELD("misc_select"), &b->misc_select, err)) ||
        (rc = reserved(c, FIELD("reserved1"), 12, err)) ||
        (rc = keep_cursor_copy(c, FIELD("isv_ext_prod_id"), b->isv_ext_prod_id, 16, err)) ||
        (rc = keep_cursor_copy(c, FIELD("attributes"), b->attributes, 16, err)) ||
        (rc = keep_cursor_copy(c, FIELD("mr_enclave"), b->mr_enclave, 32, err)) ||
        (rc = reserved(c, FIELD("reserved2"), 32, err)) ||
        (rc = keep_cursor_copy(c, FIELD("mr_signer"), b->mr_signer, 32, err)) ||
        (rc = reserved(c, FIELD("reserved3"), 32, err)) ||
        (rc = keep_cursor_copy(c, FIELD("config_id"), b->config_id, 64, err)) ||
        (rc = keep_cursor_u16(c, FIELD("isv_prod_id"), &b->isv_prod_id, err)) ||
        (rc = keep_cursor_u16(c, FIELD("isv_svn"), &b->isv_svn, err)) ||
        (rc = keep_cursor_u16(c, FIELD("config_svn"), &b->config_svn, err)) ||
        (rc = reserved(c, FIELD("reserved4"), 42, err)) ||
        (rc = keep_cursor_copy(c, FIELD("isv_family_id"), b->isv_family_id, 16, err)) ||
        (rc = keep_cursor_copy(c, FIELD("report_data"), b->report_data, 64, err)))
        return rc;
#undef FIELD
    /* ATTRIBUTES is FLAGS then XFRM, each a little-endian u64 (SDM 38.7.1). */
    struct keep_cursor a;
    keep_cursor_init(&a, b->attributes, sizeof(b->attributes));
    if ((rc = keep_cursor_u64(&a, "attributes.flags", &b->attributes_flags, err)) ||
        (rc = keep_cursor_u64(&a, "attributes.xfrm", &b->attributes_xfrm, err)))
        return rc;
    return KEEP_OK;
}

/* [TDX] "TD Quote Body" (584 bytes); "TD Quote Body v1.5" appends two fields. */
static int parse_td_body(struct keep_cursor *c, bool v15, struct keep_td_report_body *b,
                         struct keep_error *err)
{
    int rc;
    memset(b, 0, sizeof(*b));
    if ((rc = keep_cursor_copy(c, "body.tee_tcb_svn", b->tee_tcb_svn, 16, err)) ||
        (rc = keep_cursor_copy(c, "body.mr_seam", b->mr_seam, 48, err)) ||
        (rc = keep_cursor_copy(c, "body.mr_signer_seam", b->mr_signer_seam, 48, err)) ||
        (rc = keep_cursor_u64(c, "body.seam_attributes", &b->seam_attributes, err)) ||
        (rc = keep_cursor_u64(c, "body.td_attributes", &b->td_attributes, err)) ||
        (rc = keep_cursor_u64(c, "body.xfam", &b->xfam, err)) ||
        (rc = keep_cursor_copy(c, "body.mr_td", b->mr_td, 48, err)) ||
        (rc = keep_cursor_copy(c, "body.mr_config_id", b->mr_config_id, 48, err)) ||
        (rc = keep_cursor_copy(c, "body.mr_owner", b->mr_owner, 48, err)) ||
        (rc = keep_cursor_copy(c, "body.mr_owner_config", b->mr_owner_config, 48, err)) ||
        (rc = keep_cursor_copy(c, "body.rtmr0", b->rtmr[0], 48, err)) ||
        (rc = keep_cursor_copy(c, "body.rtmr1", b->rtmr[1], 48, err)) ||
        (rc = keep_cursor_copy(c, "body.rtmr2", b->rtmr[2], 48, err)) ||
        (rc = keep_cursor_copy(c, "body.rtmr3", b->rtmr[3], 48, err)) ||
        (rc = keep_cursor_copy(c, "body.report_data", b->report_data, 64, err)))
        return rc;
    if (!v15)
        return KEEP_OK;
    if ((rc = keep_cursor_copy(c, "body.tee_tcb_svn2", b->tee_tcb_svn2, 16, err)) ||
        (rc = keep_cursor_copy(c, "body.mr_servicetd", b->mr_servicetd, 48, err)))
        return rc;
    return KEEP_OK;
}

/*
 * Split off a sub-structure whose size was read from the quote. A size that
 * does not fit in what is left is a size-field error (not a plain
 * truncation): the message names the field, its value, where it points in
 * the quote (base is the quote's first byte) and the room left.
 */
static int sized_sub(struct keep_cursor *c, const uint8_t *base, const char *field, uint64_t size,
                     struct keep_cursor *sub, struct keep_error *err)
{
    if (!keep_range_ok(keep_cursor_offset(c), size, c->size))
        return keep_fail(err, KEEP_E_QUOTE_SIZE,
                         "%s is %llu for the bytes at quote offset %zu; only %zu bytes of the "
                         "enclosing structure follow",
                         field, (unsigned long long)size,
                         (size_t)(c->data - base) + keep_cursor_offset(c),
                         keep_cursor_remaining(c));
    return keep_cursor_sub(c, field, sub, (size_t)size, err);
}

/* A sized structure must be filled exactly by its fields. */
static int sized_end(const struct keep_cursor *sub, const uint8_t *base, const char *field,
                     struct keep_error *err)
{
    if (keep_cursor_at_end(sub))
        return KEEP_OK;
    return keep_fail(err, KEEP_E_QUOTE_SIZE,
                     "%s is %zu but the fields it holds end after %zu bytes, at quote offset %zu "
                     "(%zu bytes unaccounted for)",
                     field, sub->size, keep_cursor_offset(sub),
                     (size_t)(sub->data - base) + keep_cursor_offset(sub),
                     keep_cursor_remaining(sub));
}

/* Certification Data: u16 type, u32 size, data ([SGX] "QE Certification Data", [TDX] "Certification
 * Data"). */
static int parse_cert_header(struct keep_cursor *c, const uint8_t *base, const char *what,
                             uint16_t want, uint16_t *type, struct keep_cursor *data,
                             struct keep_error *err)
{
    char ftype[64], fsize[64];
    uint32_t size;
    int rc;
    snprintf(ftype, sizeof(ftype), "%s.type", what);
    snprintf(fsize, sizeof(fsize), "%s.size", what);
    if ((rc = keep_cursor_u16(c, ftype, type, err)) || (rc = keep_cursor_u32(c, fsize, &size, err)))
        return rc;
    if (*type != want)
        return keep_fail(err, KEEP_E_QUOTE_CERT_DATA_TYPE, "%s is %u; must be %u (%s) here", ftype,
                         *type, want,
                         want == KEEP_QUOTE_CERT_PCK_CHAIN ? "PCK certificate chain"
                                                           : "QE report certification data");
    /* The caller checks that the data ends its enclosing structure. */
    return sized_sub(c, base, fsize, size, data, err);
}

/*
 * QE Report, its signature and the QE authentication data, then the PCK
 * chain: [SGX] "ECDSA Quote Signature Data" (after the two keys) and
 * [TDX] "QE Report Certification Data" use the same sequence.
 */
static int parse_qe_part(struct keep_cursor *c, const char *what, struct keep_quote *q,
                         struct keep_error *err)
{
    struct keep_cursor qe, auth, chain;
    uint16_t inner_type;
    char f[64];
    int rc;
    snprintf(f, sizeof(f), "%s.qe_report", what);
    if ((rc = keep_cursor_sub(c, f, &qe, KEEP_QUOTE_SGX_BODY_SIZE, err)))
        return rc;
    q->qe_report_raw = qe.data;
    if ((rc = parse_sgx_body(&qe, true, &q->qe_report, err)))
        return rc;
    snprintf(f, sizeof(f), "%s.qe_report_signature", what);
    if ((rc = keep_cursor_view(c, f, &q->qe_report_sig, KEEP_QUOTE_ECDSA_SIG_SIZE, err)))
        return rc;
    snprintf(f, sizeof(f), "%s.qe_auth_data.size", what);
    if ((rc = keep_cursor_u16(c, f, &q->qe_auth_size, err)) ||
        (rc = sized_sub(c, q->signed_data, f, q->qe_auth_size, &auth, err)))
        return rc;
    q->qe_auth_data = auth.data;
    snprintf(f, sizeof(f), "%s.certification_data", what);
    if ((rc = parse_cert_header(c, q->signed_data, f, KEEP_QUOTE_CERT_PCK_CHAIN, &inner_type,
                                &chain, err)))
        return rc;
    q->pck_chain_pem = chain.data;
    q->pck_chain_size = (uint32_t)chain.size;
    return KEEP_OK;
}

/*
 * Quote Signature Data: [SGX] "ECDSA Quote Signature Data" (v3: signature, key, QE report part,
 * type 5) or [TDX] "Quote Signature Data" (v4/v5: signature, key, type 6 holding the QE
 * report part). The whole of `sig` must be used.
 */
static int parse_sig_data(struct keep_cursor *sig, struct keep_quote *q, struct keep_error *err)
{
    int rc;
    if ((rc = keep_cursor_view(sig, "signature_data.signature", &q->signature,
                               KEEP_QUOTE_ECDSA_SIG_SIZE, err)) ||
        (rc = keep_cursor_view(sig, "signature_data.attest_key", &q->attest_key,
                               KEEP_QUOTE_ECDSA_KEY_SIZE, err)))
        return rc;
    if (q->header.version == 3) {
        q->outer_cert_type = KEEP_QUOTE_CERT_PCK_CHAIN;
        if ((rc = parse_qe_part(sig, "signature_data", q, err)))
            return rc;
        return sized_end(sig, q->signed_data, "signature_data_len", err);
    }
    struct keep_cursor qe_cert;
    if ((rc = parse_cert_header(sig, q->signed_data, "signature_data.certification_data",
                                KEEP_QUOTE_CERT_QE_REPORT, &q->outer_cert_type, &qe_cert, err)) ||
        (rc = parse_qe_part(&qe_cert, "qe_report_certification_data", q, err)))
        return rc;
    if ((rc = sized_end(&qe_cert, q->signed_data, "signature_data.certification_data.size", err)))
        return rc;
    return sized_end(sig, q->signed_data, "signature_data_len", err);
}

/* The body kind of a v3/v4 quote follows from the TEE type ([TDX] "Quote Header", TEE type). */
static enum keep_quote_body_kind body_kind_from_tee(const struct keep_quote_header *h)
{
    return h->tee_type == KEEP_QUOTE_TEE_TDX ? KEEP_QUOTE_BODY_KIND_TD10 : KEEP_QUOTE_BODY_KIND_SGX;
}

static size_t body_size_of(enum keep_quote_body_kind kind)
{
    switch (kind) {
    case KEEP_QUOTE_BODY_KIND_SGX:
        return KEEP_QUOTE_SGX_BODY_SIZE;
    case KEEP_QUOTE_BODY_KIND_TD10:
        return KEEP_QUOTE_TD10_BODY_SIZE;
    case KEEP_QUOTE_BODY_KIND_TD15:
        return KEEP_QUOTE_TD15_BODY_SIZE;
    }
    return 0;
}

/* [TDX] "Quote Body Descriptor" (v5): u16 type, u32 size. */
static int parse_body_descriptor(struct keep_cursor *c, const struct keep_quote_header *h,
                                 enum keep_quote_body_kind *kind, struct keep_error *err)
{
    uint16_t type;
    uint32_t size;
    int rc;
    if ((rc = keep_cursor_u16(c, "body_descriptor.type", &type, err)) ||
        (rc = keep_cursor_u32(c, "body_descriptor.size", &size, err)))
        return rc;
    if (type < KEEP_QUOTE_BODY_SGX || type > KEEP_QUOTE_BODY_TD15)
        return keep_fail(err, KEEP_E_QUOTE_BODY_TYPE,
                         "body_descriptor.type is %u; must be 1 (SGX enclave report), 2 (TD "
                         "report 1.0) or 3 (TD report 1.5)",
                         type);
    bool sgx_body = type == KEEP_QUOTE_BODY_SGX;
    if (sgx_body != (h->tee_type == KEEP_QUOTE_TEE_SGX))
        return keep_fail(err, KEEP_E_QUOTE_BODY_TYPE,
                         "body_descriptor.type is %u but header.tee_type is 0x%08x; type 1 goes "
                         "with SGX (0x00), types 2 and 3 with TDX (0x81)",
                         type, h->tee_type);
    *kind = (enum keep_quote_body_kind)type;
    if (size != body_size_of(*kind))
        return keep_fail(err, KEEP_E_QUOTE_BODY_SIZE,
                         "body_descriptor.size is %u; body type %u is %zu bytes", size, type,
                         body_size_of(*kind));
    return KEEP_OK;
}

static int parse_body(struct keep_cursor *c, struct keep_quote *q, struct keep_error *err)
{
    if (q->body_kind == KEEP_QUOTE_BODY_KIND_SGX)
        return parse_sgx_body(c, false, &q->body.sgx, err);
    return parse_td_body(c, q->body_kind == KEEP_QUOTE_BODY_KIND_TD15, &q->body.td, err);
}

int keep_quote_parse_ex(const uint8_t *buf, size_t size, unsigned flags, struct keep_quote *q,
                        struct keep_error *err)
{
    struct keep_cursor c, sig;
    int rc;
    if (!q || (!buf && size))
        return keep_fail(err, KEEP_E_USAGE, "keep_quote_parse: quote and buffer are required");
    memset(q, 0, sizeof(*q));
    if (size > KEEP_QUOTE_MAX_SIZE)
        return keep_fail(err, KEEP_E_QUOTE_SIZE, "quote is %zu bytes; at most %u are accepted",
                         size, KEEP_QUOTE_MAX_SIZE);
    keep_cursor_init(&c, buf, size);
    q->signed_data = buf; /* also the base for offsets in messages */
    if ((rc = parse_header(&c, &q->header, err)))
        return rc;
    if (q->header.version == 5)
        rc = parse_body_descriptor(&c, &q->header, &q->body_kind, err);
    else
        q->body_kind = body_kind_from_tee(&q->header);
    if (rc || (rc = parse_body(&c, q, err)))
        return rc;
    /* The quote signature covers everything read so far ([SGX] and [TDX] "Quote Signature Data").
     */
    q->signed_size = keep_cursor_offset(&c);
    if ((rc = keep_cursor_u32(&c, "signature_data_len", &q->sig_data_size, err)) ||
        (rc = sized_sub(&c, buf, "signature_data_len", q->sig_data_size, &sig, err)) ||
        (rc = parse_sig_data(&sig, q, err)))
        return rc;
    q->size = keep_cursor_offset(&c);
    q->trailing_size = keep_cursor_remaining(&c);
    if (!(flags & KEEP_QUOTE_PARSE_ALLOW_TRAILING))
        return keep_cursor_expect_end(&c, "quote", err);
    return KEEP_OK;
}

int keep_quote_parse(const uint8_t *buf, size_t size, struct keep_quote *q, struct keep_error *err)
{
    return keep_quote_parse_ex(buf, size, 0, q, err);
}

/* ---- Signatures --------------------------------------------------------- */

/*
 * ECDSA P-256 through OpenSSL, not nettle: bench/bench_quote measured
 * OpenSSL (x86-64 assembly P-256) at about 12,000 verifications/s and nettle
 * at about 7,000/s on this machine (unlike P-384, where nettle wins).
 */

/*
 * An EVP_PKEY for the P-256 public point x || y (uncompressed SEC1 0x04 || x || y), or NULL when
 * it is not a point on the curve.
 */
static EVP_PKEY *p256_key(const uint8_t key_xy[64])
{
    uint8_t point[1 + KEEP_QUOTE_ECDSA_KEY_SIZE] = {0x04};
    memcpy(point + 1, key_xy, KEEP_QUOTE_ECDSA_KEY_SIZE);
    char group[] = "prime256v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return pkey;
}

static int p256_key_invalid(const uint8_t key_xy[64], const char *what, struct keep_error *err)
{
    char x_hex[17];
    keep_hex_encode(key_xy, 8, x_hex);
    return keep_fail(err, KEEP_E_QUOTE_KEY_INVALID,
                     "%s: public key (x = %s...) is not a point on P-256", what, x_hex);
}

/* r || s (big-endian, 32 bytes each) to the DER ECDSA-Sig-Value OpenSSL verifies. */
static int p256_sig_der(const uint8_t sig_rs[64], unsigned char **der, int *der_size)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig_rs, 32, NULL);
    BIGNUM *s = BN_bin2bn(sig_rs + 32, 32, NULL);
    if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return -1;
    }
    *der = NULL;
    *der_size = i2d_ECDSA_SIG(sig, der);
    ECDSA_SIG_free(sig);
    return *der_size > 0 ? 0 : -1;
}

/* Verify with an EVP_PKEY that is known to be P-256. */
static int p256_verify_pkey(EVP_PKEY *pkey, const uint8_t sig_rs[64], const uint8_t *data,
                            size_t size, int code, const char *what, struct keep_error *err)
{
    unsigned char *der = NULL;
    int der_size = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = KEEP_OK;
    if (!md || p256_sig_der(sig_rs, &der, &der_size) != 0 ||
        EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, pkey, NULL) != 1) {
        rc = keep_fail(err, KEEP_E_CRYPTO, "%s: cannot set up ECDSA P-256 verification", what);
        goto out;
    }
    /* 1 = valid; 0 = invalid; <0 = malformed (e.g. r or s out of range): both are "invalid". */
    if (EVP_DigestVerify(md, der, (size_t)der_size, data, size) != 1) {
        char r_hex[17];
        keep_hex_encode(sig_rs, 8, r_hex);
        rc = keep_fail(err, code,
                       "%s: ECDSA P-256 signature (r = %s...) does not verify over %zu bytes", what,
                       r_hex, size);
    }
out:
    ERR_clear_error();
    OPENSSL_free(der);
    EVP_MD_CTX_free(md);
    return rc;
}

int keep_quote_p256_verify(const uint8_t key_xy[64], const uint8_t sig_rs[64], const uint8_t *data,
                           size_t size, int code, const char *what, struct keep_error *err)
{
    EVP_PKEY *pkey = p256_key(key_xy);
    if (!pkey)
        return p256_key_invalid(key_xy, what, err);
    int rc = p256_verify_pkey(pkey, sig_rs, data, size, code, what, err);
    EVP_PKEY_free(pkey);
    return rc;
}

void keep_quote_ak_cache_clear(struct keep_quote_ak_cache *ak)
{
    EVP_PKEY_free(ak->key);
    memset(ak, 0, sizeof(*ak));
}

/* [SGX] "Quote Header": only Intel's QE is vouched for by the Intel PCK hierarchy. */
static int check_qe_vendor(const struct keep_quote *q, struct keep_error *err)
{
    if (memcmp(q->header.qe_vendor_id, keep_quote_intel_qe_vendor_id, 16) == 0)
        return KEEP_OK;
    char hex[33];
    keep_hex_encode(q->header.qe_vendor_id, 16, hex);
    return keep_fail(err, KEEP_E_QUOTE_QE_VENDOR,
                     "header.qe_vendor_id is %s; Intel's is 939a7233f79c4ca9940a0db3957f0607", hex);
}

/*
 * [SGX] "ECDSA Quote Signature Data" / [TDX] "QE Report Certification Data": QE report_data[0..32)
 * = SHA-256(attestation key
 * || QE authentication data), report_data[32..64) = 0. This binds the key
 * that signs the quote to the QE that the PCK vouches for.
 */
static int check_ak_binding(const struct keep_quote *q, struct keep_error *err)
{
    uint8_t digest[SHA256_DIGEST_LENGTH];
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    int ok = sha && EVP_DigestInit_ex(sha, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(sha, q->attest_key, KEEP_QUOTE_ECDSA_KEY_SIZE) == 1 &&
             EVP_DigestUpdate(sha, q->qe_auth_data, q->qe_auth_size) == 1 &&
             EVP_DigestFinal_ex(sha, digest, NULL) == 1;
    EVP_MD_CTX_free(sha);
    if (!ok)
        return keep_fail(err, KEEP_E_CRYPTO, "SHA-256 of the attestation key failed");
    const uint8_t *rd = q->qe_report.report_data;
    if (!keep_mem_equal(rd, digest, sizeof(digest))) {
        char want[65], got[65];
        keep_hex_encode(digest, 32, want);
        keep_hex_encode(rd, 32, got);
        return keep_fail(err, KEEP_E_QUOTE_AK_BINDING,
                         "qe_report.report_data[0..32) is %s; SHA-256(attest_key || "
                         "qe_auth_data (%u bytes)) is %s",
                         got, q->qe_auth_size, want);
    }
    if (!keep_mem_is_zero(rd + 32, 32)) {
        char got[65];
        keep_hex_encode(rd + 32, 32, got);
        return keep_fail(err, KEEP_E_QUOTE_AK_BINDING,
                         "qe_report.report_data[32..64) is %s; must be zero", got);
    }
    return KEEP_OK;
}

/* The attestation key of q as an EVP_PKEY in *ak, built only when ak holds another key. */
static int attest_key_of(const struct keep_quote *q, struct keep_quote_ak_cache *ak,
                         const char *what, struct keep_error *err)
{
    if (ak->key && memcmp(ak->xy, q->attest_key, sizeof(ak->xy)) == 0)
        return KEEP_OK;
    EVP_PKEY *key = p256_key(q->attest_key);
    if (!key)
        return p256_key_invalid(q->attest_key, what, err);
    EVP_PKEY_free(ak->key);
    ak->key = key;
    memcpy(ak->xy, q->attest_key, sizeof(ak->xy));
    return KEEP_OK;
}

/* Steps 3, 4 and 5 of keep_quote_verify() (quote.h), under the PCK public key pck_key. */
static int verify_under_pck_key(const struct keep_quote *q, EVP_PKEY *pck_key,
                                struct keep_quote_ak_cache *ak, struct keep_error *err)
{
    static const char quote_sig[] = "quote signature (by the attestation key over header and body)";
    struct keep_quote_ak_cache once = {0};
    if (!ak)
        ak = &once;
    int rc = p256_verify_pkey(pck_key, q->qe_report_sig, q->qe_report_raw, KEEP_QUOTE_SGX_BODY_SIZE,
                              KEEP_E_QUOTE_QE_REPORT_SIGNATURE,
                              "qe_report_signature (by the PCK key)", err);
    if (rc == KEEP_OK && (rc = check_ak_binding(q, err)) == KEEP_OK &&
        (rc = attest_key_of(q, ak, quote_sig, err)) == KEEP_OK)
        rc = p256_verify_pkey(ak->key, q->signature, q->signed_data, q->signed_size,
                              KEEP_E_QUOTE_SIGNATURE, quote_sig, err);
    keep_quote_ak_cache_clear(&once);
    return rc;
}

/* q->size is set only when a parse succeeded. */
static bool parsed(const struct keep_quote *q)
{
    return q && q->signed_data && q->size != 0;
}

int keep_quote_verify(const struct keep_quote *q, const struct keep_quote_verify_opts *opts,
                      struct keep_pck_info *pck, struct keep_error *err)
{
    struct keep_pck_info info;
    X509 *leaf = NULL;
    int rc;
    if (!parsed(q) || !opts || !opts->intel_root)
        return keep_fail(err, KEEP_E_USAGE,
                         "keep_quote_verify: a successfully parsed quote and the Intel root are "
                         "required");
    if ((rc = check_qe_vendor(q, err)))
        return rc;
    rc = keep_pck_verify_chain(q->pck_chain_pem, q->pck_chain_size, opts->intel_root,
                               opts->root_ca_crl, opts->pck_crl, opts->time, &info, &leaf, err);
    if (rc)
        return rc;
    rc = verify_under_pck_key(q, X509_get0_pubkey(leaf), NULL, err);
    X509_free(leaf);
    if (rc)
        return rc;
    if (pck)
        *pck = info;
    return KEEP_OK;
}

int keep_quote_verify_with_pck_key(const struct keep_quote *q, EVP_PKEY *pck_key,
                                   struct keep_quote_ak_cache *ak, struct keep_error *err)
{
    int rc;
    if (!parsed(q) || !pck_key)
        return keep_fail(err, KEEP_E_USAGE,
                         "keep_quote_verify_with_pck_key: a successfully parsed quote and the "
                         "PCK key are required");
    if ((rc = check_qe_vendor(q, err)))
        return rc;
    return verify_under_pck_key(q, pck_key, ak, err);
}

/* ---- Claims ------------------------------------------------------------- */

static int set_hex(json_t *obj, const char *key, const uint8_t *data, size_t size)
{
    /* size is at most 65535 (a u16 field) or a fixed field size: no overflow. */
    char *buf = malloc(2 * size + 1);
    if (!buf)
        return -1;
    keep_hex_encode(data, size, buf);
    int rc = json_object_set_new(obj, key, json_string(buf));
    free(buf);
    return rc;
}

static int set_int(json_t *obj, const char *key, uint64_t v)
{
    /* JSON integers are signed 64-bit in jansson; larger values go as hex. */
    if (v > (uint64_t)INT64_MAX) {
        char buf[19];
        snprintf(buf, sizeof(buf), "0x%016llx", (unsigned long long)v);
        return json_object_set_new(obj, key, json_string(buf));
    }
    return json_object_set_new(obj, key, json_integer((json_int_t)v));
}

struct bit_name {
    uint64_t bit;
    const char *name;
};

static json_t *bit_names(uint64_t v, const struct bit_name *names, size_t count)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < count; i++)
        if (v & names[i].bit)
            json_array_append_new(arr, json_string(names[i].name));
    return arr;
}

static const struct bit_name sgx_attr_names[] = {
    {KEEP_SGX_ATTR_INIT, "INIT"},
    {KEEP_SGX_ATTR_DEBUG, "DEBUG"},
    {KEEP_SGX_ATTR_MODE64BIT, "MODE64BIT"},
    {KEEP_SGX_ATTR_PROVISIONKEY, "PROVISIONKEY"},
    {KEEP_SGX_ATTR_EINITTOKENKEY, "EINITTOKEN_KEY"},
    {KEEP_SGX_ATTR_KSS, "KSS"},
    {KEEP_SGX_ATTR_AEXNOTIFY, "AEXNOTIFY"},
};

static const struct bit_name td_attr_names[] = {
    {KEEP_TD_ATTR_DEBUG, "DEBUG"},     {KEEP_TD_ATTR_SEPT_VE_DISABLE, "SEPT_VE_DISABLE"},
    {KEEP_TD_ATTR_PKS, "PKS"},         {KEEP_TD_ATTR_KL, "KL"},
    {KEEP_TD_ATTR_PERFMON, "PERFMON"},
};

static json_t *sgx_body_json(const struct keep_sgx_report_body *b)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    set_hex(o, "cpu_svn", b->cpu_svn, 16);
    set_int(o, "misc_select", b->misc_select);
    set_hex(o, "isv_ext_prod_id", b->isv_ext_prod_id, 16);
    set_hex(o, "attributes", b->attributes, 16);
    set_int(o, "attributes_flags", b->attributes_flags);
    set_int(o, "attributes_xfrm", b->attributes_xfrm);
    json_object_set_new(
        o, "attributes_bits",
        bit_names(b->attributes_flags, sgx_attr_names, KEEP_ARRAY_LEN(sgx_attr_names)));
    json_object_set_new(o, "debug", json_boolean(b->attributes_flags & KEEP_SGX_ATTR_DEBUG));
    set_hex(o, "mr_enclave", b->mr_enclave, 32);
    set_hex(o, "mr_signer", b->mr_signer, 32);
    set_hex(o, "config_id", b->config_id, 64);
    set_int(o, "isv_prod_id", b->isv_prod_id);
    set_int(o, "isv_svn", b->isv_svn);
    set_int(o, "config_svn", b->config_svn);
    set_hex(o, "isv_family_id", b->isv_family_id, 16);
    set_hex(o, "report_data", b->report_data, 64);
    return o;
}

static json_t *td_body_json(const struct keep_td_report_body *b, bool v15)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    set_hex(o, "tee_tcb_svn", b->tee_tcb_svn, 16);
    set_hex(o, "mr_seam", b->mr_seam, 48);
    set_hex(o, "mr_signer_seam", b->mr_signer_seam, 48);
    set_int(o, "seam_attributes", b->seam_attributes);
    set_int(o, "td_attributes", b->td_attributes);
    json_object_set_new(o, "td_attributes_bits",
                        bit_names(b->td_attributes, td_attr_names, KEEP_ARRAY_LEN(td_attr_names)));
    json_object_set_new(o, "debug", json_boolean(b->td_attributes & KEEP_TD_ATTR_DEBUG));
    set_int(o, "xfam", b->xfam);
    set_hex(o, "mr_td", b->mr_td, 48);
    set_hex(o, "mr_config_id", b->mr_config_id, 48);
    set_hex(o, "mr_owner", b->mr_owner, 48);
    set_hex(o, "mr_owner_config", b->mr_owner_config, 48);
    set_hex(o, "rtmr0", b->rtmr[0], 48);
    set_hex(o, "rtmr1", b->rtmr[1], 48);
    set_hex(o, "rtmr2", b->rtmr[2], 48);
    set_hex(o, "rtmr3", b->rtmr[3], 48);
    set_hex(o, "report_data", b->report_data, 64);
    if (v15) {
        set_hex(o, "tee_tcb_svn2", b->tee_tcb_svn2, 16);
        set_hex(o, "mr_servicetd", b->mr_servicetd, 48);
    }
    return o;
}

static json_t *header_json(const struct keep_quote_header *h)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    set_int(o, "version", h->version);
    set_int(o, "att_key_type", h->att_key_type);
    set_int(o, "tee_type", h->tee_type);
    set_int(o, "qe_svn", h->qe_svn);
    set_int(o, "pce_svn", h->pce_svn);
    set_hex(o, "qe_vendor_id", h->qe_vendor_id, 16);
    set_hex(o, "user_data", h->user_data, 20);
    return o;
}

json_t *keep_quote_claims_json(const struct keep_quote *q)
{
    static const char *const body_names[] = {"", "sgx_enclave_report", "td_report_1.0",
                                             "td_report_1.5"};
    json_t *o = json_object();
    if (!o || !q)
        return o;
    json_object_set_new(o, "tee",
                        json_string(q->header.tee_type == KEEP_QUOTE_TEE_TDX ? "tdx" : "sgx"));
    json_object_set_new(o, "header", header_json(&q->header));
    json_object_set_new(o, "body_type", json_string(body_names[q->body_kind]));
    if (q->body_kind == KEEP_QUOTE_BODY_KIND_SGX)
        json_object_set_new(o, "body", sgx_body_json(&q->body.sgx));
    else
        json_object_set_new(o, "body",
                            td_body_json(&q->body.td, q->body_kind == KEEP_QUOTE_BODY_KIND_TD15));
    json_object_set_new(o, "qe_report", sgx_body_json(&q->qe_report));
    set_hex(o, "qe_auth_data", q->qe_auth_data, q->qe_auth_size);
    set_hex(o, "attest_key", q->attest_key, KEEP_QUOTE_ECDSA_KEY_SIZE);
    set_int(o, "certification_data_type", q->outer_cert_type);
    return o;
}
