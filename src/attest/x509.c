/* SPDX-License-Identifier: Apache-2.0 */
/*
 * X.509 helpers on OpenSSL 3 (see x509.h). Every ASN.1 and X.509 decision is
 * OpenSSL's; this file chooses the verification flags, applies the caller's
 * explicit time, and turns OpenSSL's verdict into a keep error that names the
 * certificate, the time and the reason.
 */
#include "attest/x509.h"

#include <limits.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/util.h"

/*
 * DER always starts with a SEQUENCE tag (0x30); anything else that holds PEM
 * armour is PEM, which may follow text such as "subject=..." lines.
 */
static bool looks_like_pem(const uint8_t *data, size_t size)
{
    static const char armour[] = "-----BEGIN ";
    if (size == 0 || data[0] == 0x30)
        return false;
    return memmem(data, size, armour, sizeof(armour) - 1) != NULL;
}

/* The first OpenSSL error as text, for messages; clears the queue. */
static const char *openssl_reason(char *buf, size_t size)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0)
        snprintf(buf, size, "no further detail");
    else
        ERR_error_string_n(e, buf, size);
    ERR_clear_error();
    return buf;
}

static int check_input(const uint8_t *data, size_t size, const char *what, int code,
                       struct keep_error *err)
{
    if (!data || size == 0)
        return keep_fail(err, code, "%s: empty input (0 bytes)", what);
    if (size > INT_MAX)
        return keep_fail(err, code, "%s: %zu bytes is too large for a certificate or CRL", what,
                         size);
    return KEEP_OK;
}

/*
 * Read DER objects back to back. d2i advances the pointer by what it
 * consumed, so the loop stops exactly at the end or fails on garbage.
 */
typedef void *(*d2i_fn)(const unsigned char **in, long len);

static void *d2i_cert(const unsigned char **in, long len)
{
    return d2i_X509(NULL, in, len);
}

static void *d2i_crl(const unsigned char **in, long len)
{
    return d2i_X509_CRL(NULL, in, len);
}

static void *pem_cert(BIO *bio)
{
    return PEM_read_bio_X509(bio, NULL, NULL, NULL);
}

static void *pem_crl(BIO *bio)
{
    return PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
}

/* Parse exactly one object, DER (all bytes consumed) or PEM (first block). */
static int parse_one(const uint8_t *data, size_t size, const char *what, int code, d2i_fn d2i,
                     void *(*pem)(BIO *), void **out, struct keep_error *err)
{
    char reason[256];
    int rc = check_input(data, size, what, code, err);
    if (rc)
        return rc;
    *out = NULL;
    if (looks_like_pem(data, size)) {
        BIO *bio = BIO_new_mem_buf(data, (int)size);
        if (!bio)
            return keep_fail(err, KEEP_E_NOMEM, "%s: cannot allocate a memory BIO", what);
        *out = pem(bio);
        BIO_free(bio);
        if (!*out)
            return keep_fail(err, code, "%s: PEM does not parse (%s)", what,
                             openssl_reason(reason, sizeof(reason)));
        return KEEP_OK;
    }
    const unsigned char *p = data;
    *out = d2i(&p, (long)size);
    if (!*out)
        return keep_fail(err, code, "%s: %zu bytes of DER do not parse (%s)", what, size,
                         openssl_reason(reason, sizeof(reason)));
    size_t used = (size_t)(p - data);
    if (used != size) {
        /* A single object must be the whole input: trailing bytes mean a wrong file. */
        if (code == KEEP_E_X509_PARSE)
            X509_free(*out);
        else
            X509_CRL_free(*out);
        *out = NULL;
        return keep_fail(err, code, "%s: %zu trailing byte(s) after a %zu-byte DER object", what,
                         size - used, used);
    }
    return KEEP_OK;
}

int keep_x509_parse_cert(const uint8_t *data, size_t size, const char *what, X509 **out,
                         struct keep_error *err)
{
    void *obj = NULL;
    int rc = parse_one(data, size, what, KEEP_E_X509_PARSE, d2i_cert, pem_cert, &obj, err);
    *out = obj;
    return rc;
}

int keep_x509_parse_crl(const uint8_t *data, size_t size, const char *what, X509_CRL **out,
                        struct keep_error *err)
{
    void *obj = NULL;
    int rc = parse_one(data, size, what, KEEP_E_X509_CRL_PARSE, d2i_crl, pem_crl, &obj, err);
    *out = obj;
    return rc;
}

static int push_cert(STACK_OF(X509) * sk, X509 *cert, const char *what, struct keep_error *err)
{
    if (!sk_X509_push(sk, cert)) {
        X509_free(cert);
        return keep_fail(err, KEEP_E_NOMEM, "%s: cannot grow the certificate list", what);
    }
    return KEEP_OK;
}

static int parse_pem_chain(const uint8_t *data, size_t size, const char *what, STACK_OF(X509) * sk,
                           struct keep_error *err)
{
    char reason[256];
    BIO *bio = BIO_new_mem_buf(data, (int)size);
    if (!bio)
        return keep_fail(err, KEEP_E_NOMEM, "%s: cannot allocate a memory BIO", what);
    int rc = KEEP_OK;
    X509 *cert;
    while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        rc = push_cert(sk, cert, what, err);
        if (rc)
            break;
    }
    if (rc == KEEP_OK) {
        /* The loop ends at end of input (PEM_R_NO_START_LINE) or at a bad block. */
        unsigned long e = ERR_peek_last_error();
        if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
            rc = keep_fail(err, KEEP_E_X509_PARSE,
                           "%s: certificate %d of the PEM bundle does not parse (%s)", what,
                           sk_X509_num(sk) + 1, openssl_reason(reason, sizeof(reason)));
    }
    ERR_clear_error();
    BIO_free(bio);
    return rc;
}

static int parse_der_chain(const uint8_t *data, size_t size, const char *what, STACK_OF(X509) * sk,
                           struct keep_error *err)
{
    char reason[256];
    const unsigned char *p = data;
    const unsigned char *end = data + size;
    while (p < end) {
        size_t offset = (size_t)(p - data);
        X509 *cert = d2i_X509(NULL, &p, (long)(end - p));
        if (!cert)
            return keep_fail(err, KEEP_E_X509_PARSE,
                             "%s: certificate %d (at offset %zu of %zu bytes of DER) does not "
                             "parse (%s)",
                             what, sk_X509_num(sk) + 1, offset, size,
                             openssl_reason(reason, sizeof(reason)));
        int rc = push_cert(sk, cert, what, err);
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

int keep_x509_parse_chain(const uint8_t *data, size_t size, const char *what, STACK_OF(X509) * *out,
                          struct keep_error *err)
{
    *out = NULL;
    int rc = check_input(data, size, what, KEEP_E_X509_PARSE, err);
    if (rc)
        return rc;
    STACK_OF(X509) *sk = sk_X509_new_null();
    if (!sk)
        return keep_fail(err, KEEP_E_NOMEM, "%s: cannot allocate a certificate list", what);
    if (looks_like_pem(data, size))
        rc = parse_pem_chain(data, size, what, sk, err);
    else
        rc = parse_der_chain(data, size, what, sk, err);
    if (rc == KEEP_OK && sk_X509_num(sk) == 0)
        rc = keep_fail(err, KEEP_E_X509_PARSE, "%s: the bundle holds no certificate", what);
    if (rc) {
        sk_X509_pop_free(sk, X509_free);
        return rc;
    }
    *out = sk;
    return KEEP_OK;
}

const char *keep_x509_subject_cn(X509 *cert, char *buf, size_t size)
{
    X509_NAME *name = cert ? X509_get_subject_name(cert) : NULL;
    if (!name || X509_NAME_get_text_by_NID(name, NID_commonName, buf, (int)size) < 0)
        snprintf(buf, size, "(no CN)");
    return buf;
}

static int asn1_time_to_epoch(const ASN1_TIME *t, int64_t *out)
{
    struct tm tm;
    if (!t || !ASN1_TIME_to_tm(t, &tm))
        return -1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

int keep_x509_validity(X509 *cert, int64_t *not_before, int64_t *not_after, struct keep_error *err)
{
    char cn[128];
    if (asn1_time_to_epoch(X509_get0_notBefore(cert), not_before) != 0 ||
        asn1_time_to_epoch(X509_get0_notAfter(cert), not_after) != 0)
        return keep_fail(err, KEEP_E_X509_PARSE,
                         "certificate '%s': notBefore or notAfter is not a valid time",
                         keep_x509_subject_cn(cert, cn, sizeof(cn)));
    return KEEP_OK;
}

/* Verification context passed to the callback through the store context. */
struct verify_state {
    const struct keep_x509_verify_opts *opts;
};

static int verify_callback(int ok, X509_STORE_CTX *ctx)
{
    if (ok)
        return 1;
    const struct verify_state *st = X509_STORE_CTX_get_app_data(ctx);
    /*
     * With CRL checking on, OpenSSL wants a CRL for every certificate it
     * checks. CRLs are applied where given; a missing one is an error only
     * when the caller requires CRLs.
     */
    if (X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL && st &&
        !st->opts->require_crls)
        return 1;
    return 0;
}

static int map_verify_error(int v)
{
    switch (v) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return KEEP_E_X509_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return KEEP_E_X509_NOT_YET_VALID;
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
        return KEEP_E_X509_SIGNATURE;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
        return KEEP_E_X509_UNTRUSTED;
    case X509_V_ERR_CERT_REVOKED:
        return KEEP_E_X509_REVOKED;
    case X509_V_ERR_CRL_HAS_EXPIRED:
        return KEEP_E_X509_CRL_EXPIRED;
    case X509_V_ERR_CRL_NOT_YET_VALID:
        return KEEP_E_X509_CRL_NOT_YET_VALID;
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
        return KEEP_E_X509_CRL_SIGNATURE;
    case X509_V_ERR_UNABLE_TO_GET_CRL:
        return KEEP_E_X509_CRL_MISSING;
    default:
        return KEEP_E_X509_CHAIN;
    }
}

static int report_verify_failure(X509_STORE_CTX *ctx, X509 *leaf, int64_t when, const char *what,
                                 struct keep_error *err)
{
    int v = X509_STORE_CTX_get_error(ctx);
    X509 *cert = X509_STORE_CTX_get_current_cert(ctx);
    char cn[128], at[32], bound[32];
    keep_x509_subject_cn(cert ? cert : leaf, cn, sizeof(cn));
    keep_format_time(when, at, sizeof(at));
    int code = map_verify_error(v);
    int64_t nb = 0, na = 0;
    if ((code == KEEP_E_X509_EXPIRED || code == KEEP_E_X509_NOT_YET_VALID) && cert &&
        keep_x509_validity(cert, &nb, &na, NULL) == KEEP_OK) {
        keep_format_time(code == KEEP_E_X509_EXPIRED ? na : nb, bound, sizeof(bound));
        return keep_fail(
            err, code, "%s: certificate '%s' (depth %d) %s %s; verification time is %s", what, cn,
            X509_STORE_CTX_get_error_depth(ctx),
            code == KEEP_E_X509_EXPIRED ? "expired at" : "is not valid before", bound, at);
    }
    return keep_fail(err, code, "%s: certificate '%s' (depth %d): %s (at %s)", what, cn,
                     X509_STORE_CTX_get_error_depth(ctx), X509_verify_cert_error_string(v), at);
}

static X509_STORE *store_of(STACK_OF(X509) * roots)
{
    X509_STORE *store = X509_STORE_new();
    if (!store)
        return NULL;
    for (int i = 0; i < sk_X509_num(roots); i++) {
        if (!X509_STORE_add_cert(store, sk_X509_value(roots, i))) {
            X509_STORE_free(store);
            return NULL;
        }
    }
    return store;
}

int keep_x509_verify_chain(X509 *leaf, STACK_OF(X509) * intermediates, STACK_OF(X509) * roots,
                           const struct keep_x509_verify_opts *opts, const char *what,
                           struct keep_error *err)
{
    if (!leaf || !roots || sk_X509_num(roots) == 0 || !opts)
        return keep_fail(err, KEEP_E_USAGE,
                         "%s: a leaf certificate and at least one root are "
                         "required",
                         what);
    if ((time_t)opts->time != opts->time)
        return keep_fail(err, KEEP_E_BAD_TIME, "%s: verification time %lld is out of range", what,
                         (long long)opts->time);
    X509_STORE *store = store_of(roots);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    struct verify_state st = {.opts = opts};
    int rc = KEEP_OK;
    if (!store || !ctx || !X509_STORE_CTX_init(ctx, store, leaf, intermediates)) {
        rc = keep_fail(err, KEEP_E_NOMEM, "%s: cannot set up the OpenSSL verifier", what);
        goto out;
    }
    X509_STORE_CTX_set_app_data(ctx, &st);
    X509_STORE_CTX_set_verify_cb(ctx, verify_callback);
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, (time_t)opts->time);
    /*
     * The roots are the only trust anchors; check their self-signatures too,
     * so a shipped root that was altered is caught rather than trusted.
     */
    unsigned long flags = X509_V_FLAG_CHECK_SS_SIGNATURE;
    if ((opts->crls && sk_X509_CRL_num(opts->crls) > 0) || opts->require_crls) {
        flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
        X509_STORE_CTX_set0_crls(ctx, opts->crls);
    }
    X509_VERIFY_PARAM_set_flags(param, flags);
    ERR_clear_error();
    if (X509_verify_cert(ctx) != 1)
        rc = report_verify_failure(ctx, leaf, opts->time, what, err);
    ERR_clear_error();
out:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}

int keep_x509_check_crl(X509_CRL *crl, X509 *issuer, int64_t time, const char *what,
                        struct keep_error *err)
{
    char cn[128], at[32], bound[32];
    keep_x509_subject_cn(issuer, cn, sizeof(cn));
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0)
        return keep_fail(err, KEEP_E_X509_CRL_SIGNATURE,
                         "%s: the CRL's issuer name is not the subject of '%s'", what, cn);
    EVP_PKEY *key = X509_get0_pubkey(issuer);
    if (!key || X509_CRL_verify(crl, key) != 1) {
        ERR_clear_error();
        return keep_fail(err, KEEP_E_X509_CRL_SIGNATURE,
                         "%s: the CRL's signature does not verify with the key of '%s'", what, cn);
    }
    keep_format_time(time, at, sizeof(at));
    int64_t this_update, next_update;
    if (asn1_time_to_epoch(X509_CRL_get0_lastUpdate(crl), &this_update) != 0)
        return keep_fail(err, KEEP_E_X509_CRL_PARSE, "%s: the CRL's thisUpdate is not a time",
                         what);
    if (this_update > time) {
        keep_format_time(this_update, bound, sizeof(bound));
        return keep_fail(err, KEEP_E_X509_CRL_NOT_YET_VALID,
                         "%s: CRL issued by '%s' has thisUpdate %s, after the verification time "
                         "%s",
                         what, cn, bound, at);
    }
    /* A CRL without nextUpdate never expires (RFC 5280 section 5.1.2.5). */
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    if (next) {
        if (asn1_time_to_epoch(next, &next_update) != 0)
            return keep_fail(err, KEEP_E_X509_CRL_PARSE, "%s: the CRL's nextUpdate is not a time",
                             what);
        if (next_update < time) {
            keep_format_time(next_update, bound, sizeof(bound));
            return keep_fail(err, KEEP_E_X509_CRL_EXPIRED,
                             "%s: CRL issued by '%s' expired at %s (nextUpdate); verification "
                             "time is %s",
                             what, cn, bound, at);
        }
    }
    return KEEP_OK;
}

int keep_x509_extension(X509 *cert, const char *oid, const uint8_t **value, size_t *size,
                        struct keep_error *err)
{
    char cn[128];
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    if (!obj) {
        ERR_clear_error();
        return keep_fail(err, KEEP_E_USAGE, "'%s' is not a dotted OID", oid);
    }
    int idx = X509_get_ext_by_OBJ(cert, obj, -1);
    ASN1_OBJECT_free(obj);
    if (idx < 0)
        return keep_fail(err, KEEP_E_X509_EXTENSION, "certificate '%s' has no extension %s",
                         keep_x509_subject_cn(cert, cn, sizeof(cn)), oid);
    const ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
    *value = ASN1_STRING_get0_data(data);
    *size = (size_t)ASN1_STRING_length(data);
    return KEEP_OK;
}

int keep_x509_extension_uint(X509 *cert, const char *oid, const char *name, uint64_t *out,
                             struct keep_error *err)
{
    char cn[128];
    const uint8_t *value;
    size_t size;
    int rc = keep_x509_extension(cert, oid, &value, &size, err);
    if (rc)
        return rc;
    const unsigned char *p = value;
    ASN1_INTEGER *n = d2i_ASN1_INTEGER(NULL, &p, (long)size);
    int ok = n && p == value + size && ASN1_INTEGER_get_uint64(out, n) == 1;
    ASN1_INTEGER_free(n);
    ERR_clear_error();
    if (!ok)
        return keep_fail(err, KEEP_E_X509_EXTENSION,
                         "certificate '%s': extension %s (%s) is not a single non-negative "
                         "INTEGER",
                         keep_x509_subject_cn(cert, cn, sizeof(cn)), oid, name);
    return KEEP_OK;
}

int keep_x509_extension_ia5(X509 *cert, const char *oid, const char *name, char *out,
                            size_t out_size, struct keep_error *err)
{
    char cn[128];
    const uint8_t *value;
    size_t size;
    int rc = keep_x509_extension(cert, oid, &value, &size, err);
    if (rc)
        return rc;
    const unsigned char *p = value;
    ASN1_IA5STRING *s = d2i_ASN1_IA5STRING(NULL, &p, (long)size);
    size_t len = s ? (size_t)ASN1_STRING_length(s) : 0;
    int ok = s && p == value + size && len < out_size &&
             memchr(ASN1_STRING_get0_data(s), 0, len) == NULL;
    if (ok) {
        memcpy(out, ASN1_STRING_get0_data(s), len);
        out[len] = '\0';
    }
    ASN1_IA5STRING_free(s);
    ERR_clear_error();
    if (!ok)
        return keep_fail(err, KEEP_E_X509_EXTENSION,
                         "certificate '%s': extension %s (%s) is not a single IA5String of at "
                         "most %zu characters",
                         keep_x509_subject_cn(cert, cn, sizeof(cn)), oid, name, out_size - 1);
    return KEEP_OK;
}
