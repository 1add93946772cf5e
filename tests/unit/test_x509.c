/* SPDX-License-Identifier: Apache-2.0 */
/*
 * X.509 helpers (src/attest/x509.c) on a small ECDSA P-256 PKI made here
 * (the Intel shape: root -> intermediate -> leaf, with CRLs). The AMD shape
 * (RSASSA-PSS) is covered by test_amd through the same functions.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attest/x509.h"
#include "common/util.h"
#include "tap.h"

#define T0  INT64_C(1767225600) /* 2026-01-01 */
#define DAY INT64_C(86400)

#define CHECK(x)                                       \
    do {                                               \
        if (!(x)) {                                    \
            fprintf(stderr, "setup failed: %s\n", #x); \
            abort();                                   \
        }                                              \
    } while (0)

static EVP_PKEY *p256(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    CHECK(k);
    return k;
}

static void ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    CHECK(e && X509_add_ext(x, e, -1));
    X509_EXTENSION_free(e);
}

static X509 *cert(const char *cn, X509 *issuer, EVP_PKEY *key, EVP_PKEY *issuer_key, long serial,
                  int64_t nb, int64_t na, bool ca)
{
    X509 *x = X509_new();
    CHECK(x && X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
    X509_NAME *n = X509_get_subject_name(x);
    CHECK(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
    CHECK(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n));
    CHECK(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)nb));
    CHECK(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na));
    CHECK(X509_set_pubkey(x, key));
    if (ca) {
        ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
        ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    CHECK(X509_sign(x, issuer_key, EVP_sha256()) > 0);
    return x;
}

static X509_CRL *crl(X509 *issuer, EVP_PKEY *key, X509 *revoked, int64_t this_update,
                     int64_t next_update)
{
    X509_CRL *c = X509_CRL_new();
    ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)this_update);
    ASN1_TIME *t2 = ASN1_TIME_set(NULL, (time_t)next_update);
    CHECK(c && t1 && t2 && X509_CRL_set_version(c, 1));
    CHECK(X509_CRL_set_issuer_name(c, X509_get_subject_name(issuer)));
    CHECK(X509_CRL_set1_lastUpdate(c, t1) && X509_CRL_set1_nextUpdate(c, t2));
    if (revoked) {
        X509_REVOKED *r = X509_REVOKED_new();
        CHECK(r && X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked)));
        CHECK(X509_REVOKED_set_revocationDate(r, t1) && X509_CRL_add0_revoked(c, r));
    }
    CHECK(X509_CRL_sign(c, key, EVP_sha256()) > 0);
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    return c;
}

static size_t der_of(X509 *x, uint8_t *out, size_t size)
{
    int n = i2d_X509(x, NULL);
    CHECK(n > 0 && (size_t)n <= size);
    unsigned char *p = out;
    i2d_X509(x, &p);
    return (size_t)n;
}

static size_t pem_of(X509 *const *xs, size_t count, char *out, size_t size)
{
    BIO *b = BIO_new(BIO_s_mem());
    for (size_t i = 0; i < count; i++)
        CHECK(PEM_write_bio_X509(b, xs[i]));
    char *data;
    long n = BIO_get_mem_data(b, &data);
    CHECK(n > 0 && (size_t)n < size);
    memcpy(out, data, (size_t)n);
    out[n] = 0;
    BIO_free(b);
    return (size_t)n;
}

struct pki {
    EVP_PKEY *root_key, *mid_key, *leaf_key, *other_key;
    X509 *root, *mid, *leaf, *other_root;
};

static void pki_make(struct pki *p)
{
    p->root_key = p256();
    p->mid_key = p256();
    p->leaf_key = p256();
    p->other_key = p256();
    p->root = cert("Test Root CA", NULL, p->root_key, p->root_key, 1, T0 - 900 * DAY,
                   T0 + 9000 * DAY, true);
    p->other_root = cert("Test Root CA", NULL, p->other_key, p->other_key, 1, T0 - 900 * DAY,
                         T0 + 9000 * DAY, true);
    p->mid = cert("Test Intermediate", p->root, p->mid_key, p->root_key, 2, T0 - 800 * DAY,
                  T0 + 8000 * DAY, true);
    p->leaf = cert("Test Leaf", p->mid, p->leaf_key, p->mid_key, 3, T0 - 100 * DAY, T0 + 100 * DAY,
                   false);
}

static void pki_free(struct pki *p)
{
    EVP_PKEY_free(p->root_key);
    EVP_PKEY_free(p->mid_key);
    EVP_PKEY_free(p->leaf_key);
    EVP_PKEY_free(p->other_key);
    X509_free(p->root);
    X509_free(p->mid);
    X509_free(p->leaf);
    X509_free(p->other_root);
}

static void test_parse(const struct pki *p)
{
    struct keep_error err;
    uint8_t der[4096];
    char pem[8192];
    X509 *x = NULL;
    size_t n = der_of(p->leaf, der, sizeof(der));
    is_int(keep_x509_parse_cert(der, n, "leaf", &x, &err), KEEP_OK, "DER certificate parses");
    ok(x && X509_cmp(x, p->leaf) == 0, "... and is the same certificate");
    X509_free(x);
    is_int(keep_x509_parse_cert(der, n - 1, "leaf", &x, &err), KEEP_E_X509_PARSE,
           "truncated DER -> x509.parse (%s)", err.message);
    der[n] = 0;
    is_int(keep_x509_parse_cert(der, n + 1, "leaf", &x, &err), KEEP_E_X509_PARSE,
           "DER with a trailing byte -> x509.parse (%s)", err.message);
    is_int(keep_x509_parse_cert(der, 0, "leaf", &x, &err), KEEP_E_X509_PARSE, "empty -> parse");
    is_int(keep_x509_parse_cert(NULL, 10, "leaf", &x, &err), KEEP_E_X509_PARSE, "NULL -> parse");
    ok(strstr(err.message, "leaf") != NULL, "messages name the input ('%s')", err.message);

    X509 *const one[] = {p->leaf};
    pem[0] = '\n';
    size_t m = pem_of(one, 1, pem + 1, sizeof(pem) - 1) + 1;
    is_int(keep_x509_parse_cert((uint8_t *)pem, m, "leaf", &x, &err), KEEP_OK,
           "PEM certificate (after a newline) parses");
    X509_free(x);
    static const char preamble[] = "subject=CN = Test Leaf\n";
    char with_text[8192];
    memcpy(with_text, preamble, sizeof(preamble) - 1);
    memcpy(with_text + sizeof(preamble) - 1, pem, m);
    is_int(keep_x509_parse_cert((uint8_t *)with_text, m + sizeof(preamble) - 1, "leaf", &x, &err),
           KEEP_OK, "PEM after a text line parses");
    X509_free(x);
    pem[20] ^= 0x01;
    is_int(keep_x509_parse_cert((uint8_t *)pem, m, "leaf", &x, &err), KEEP_E_X509_PARSE,
           "damaged PEM -> parse");

    X509 *const three[] = {p->leaf, p->mid, p->root};
    m = pem_of(three, 3, pem, sizeof(pem));
    STACK_OF(X509) *sk = NULL;
    is_int(keep_x509_parse_chain((uint8_t *)pem, m, "bundle", &sk, &err), KEEP_OK,
           "PEM bundle parses");
    ok(sk && sk_X509_num(sk) == 3 && X509_cmp(sk_X509_value(sk, 1), p->mid) == 0,
       "... three certificates, order kept");
    sk_X509_pop_free(sk, X509_free);
    n = der_of(p->leaf, der, sizeof(der));
    n += der_of(p->mid, der + n, sizeof(der) - n);
    is_int(keep_x509_parse_chain(der, n, "bundle", &sk, &err), KEEP_OK, "DER back to back");
    ok(sk && sk_X509_num(sk) == 2, "... two certificates");
    sk_X509_pop_free(sk, X509_free);
    is_int(keep_x509_parse_chain(der, n - 5, "bundle", &sk, &err), KEEP_E_X509_PARSE,
           "DER bundle cut short -> parse (%s)", err.message);
    ok(strstr(err.message, "certificate 2") != NULL, "... naming the second certificate");
    static const char nothing[] = "-----BEGIN NOTHING-----\n-----END NOTHING-----\n";
    is_int(
        keep_x509_parse_chain((const uint8_t *)nothing, sizeof(nothing) - 1, "bundle", &sk, &err),
        KEEP_E_X509_PARSE, "PEM without certificates -> parse (%s)", err.message);

    X509_CRL *c = crl(p->mid, p->mid_key, NULL, T0 - DAY, T0 + DAY);
    unsigned char *cd = NULL;
    int cn = i2d_X509_CRL(c, &cd);
    X509_CRL *back = NULL;
    is_int(keep_x509_parse_crl(cd, (size_t)cn, "crl", &back, &err), KEEP_OK, "DER CRL parses");
    X509_CRL_free(back);
    is_int(keep_x509_parse_crl(cd, (size_t)cn - 1, "crl", &back, &err), KEEP_E_X509_CRL_PARSE,
           "truncated CRL -> crl_parse");
    OPENSSL_free(cd);
    BIO *b = BIO_new(BIO_s_mem());
    CHECK(PEM_write_bio_X509_CRL(b, c));
    char *data;
    long bn = BIO_get_mem_data(b, &data);
    is_int(keep_x509_parse_crl((uint8_t *)data, (size_t)bn, "crl", &back, &err), KEEP_OK,
           "PEM CRL parses");
    X509_CRL_free(back);
    BIO_free(b);
    X509_CRL_free(c);
}

static int verify(const struct pki *p, X509 *leaf, X509 *root, int64_t t, STACK_OF(X509_CRL) * crls,
                  bool require, struct keep_error *err)
{
    STACK_OF(X509) *mids = sk_X509_new_null();
    STACK_OF(X509) *roots = sk_X509_new_null();
    CHECK(mids && roots && sk_X509_push(mids, p->mid) && sk_X509_push(roots, root));
    struct keep_x509_verify_opts o = {.time = t, .crls = crls, .require_crls = require};
    keep_error_clear(err);
    int rc = keep_x509_verify_chain(leaf, mids, roots, &o, "test chain", err);
    sk_X509_free(mids);
    sk_X509_free(roots);
    return rc;
}

static void test_verify(struct pki *p)
{
    struct keep_error err;
    is_int(verify(p, p->leaf, p->root, T0, NULL, false, &err), KEEP_OK, "chain verifies at T0");
    is_int(verify(p, p->leaf, p->root, T0 + 101 * DAY, NULL, false, &err), KEEP_E_X509_EXPIRED,
           "leaf expired at T0+101d (%s)", err.message);
    ok(strstr(err.message, "Test Leaf") && strstr(err.message, "test chain"),
       "... names the certificate and the chain");
    is_int(verify(p, p->leaf, p->root, T0 - 101 * DAY, NULL, false, &err),
           KEEP_E_X509_NOT_YET_VALID, "leaf not yet valid at T0-101d");
    is_int(verify(p, p->leaf, p->root, T0 + 8500 * DAY, NULL, false, &err), KEEP_E_X509_EXPIRED,
           "intermediate expired first (%s)", err.message);
    is_int(verify(p, p->leaf, p->other_root, T0, NULL, false, &err), KEEP_E_X509_SIGNATURE,
           "root of the same name, other key -> signature (%s)", err.message);
    EVP_PKEY *k = p256();
    X509 *lonely = cert("Lonely", NULL, k, k, 9, T0 - DAY, T0 + DAY, false);
    X509 *forged = cert("Test Leaf", p->mid, p->leaf_key, k, 3, T0 - DAY, T0 + DAY, false);
    is_int(verify(p, lonely, p->root, T0, NULL, false, &err), KEEP_E_X509_UNTRUSTED,
           "self-signed leaf -> untrusted (%s)", err.message);
    is_int(verify(p, forged, p->root, T0, NULL, false, &err), KEEP_E_X509_SIGNATURE,
           "leaf signed by a stranger -> signature");

    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    X509_CRL *good = crl(p->mid, p->mid_key, NULL, T0 - DAY, T0 + DAY);
    sk_X509_CRL_push(crls, good);
    is_int(verify(p, p->leaf, p->root, T0, crls, false, &err), KEEP_OK,
           "CRL not listing the leaf (%s)", err.message);
    is_int(verify(p, p->leaf, p->root, T0, crls, true, &err), KEEP_E_X509_CRL_MISSING,
           "required CRLs, root CRL absent -> crl_missing (%s)", err.message);
    X509_CRL *root_crl = crl(p->root, p->root_key, NULL, T0 - DAY, T0 + DAY);
    sk_X509_CRL_push(crls, root_crl);
    is_int(verify(p, p->leaf, p->root, T0, crls, true, &err), KEEP_OK,
           "required CRLs, both given (%s)", err.message);
    is_int(verify(p, p->leaf, p->root, T0 + 2 * DAY, crls, false, &err), KEEP_E_X509_CRL_EXPIRED,
           "CRLs past nextUpdate -> crl_expired (%s)", err.message);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);

    crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, crl(p->mid, p->mid_key, p->leaf, T0 - DAY, T0 + DAY));
    is_int(verify(p, p->leaf, p->root, T0, crls, false, &err), KEEP_E_X509_REVOKED,
           "leaf revoked (%s)", err.message);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    crls = sk_X509_CRL_new_null();
    sk_X509_CRL_push(crls, crl(p->mid, k, NULL, T0 - DAY, T0 + DAY));
    is_int(verify(p, p->leaf, p->root, T0, crls, false, &err), KEEP_E_X509_CRL_SIGNATURE,
           "CRL signed by a stranger -> crl_signature (%s)", err.message);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);

    X509_CRL *c = crl(p->mid, p->mid_key, NULL, T0 - DAY, T0 + DAY);
    is_int(keep_x509_check_crl(c, p->mid, T0, "crl", &err), KEEP_OK, "check_crl: good");
    is_int(keep_x509_check_crl(c, p->mid, T0 + 2 * DAY, "crl", &err), KEEP_E_X509_CRL_EXPIRED,
           "check_crl: expired (%s)", err.message);
    is_int(keep_x509_check_crl(c, p->mid, T0 - 2 * DAY, "crl", &err), KEEP_E_X509_CRL_NOT_YET_VALID,
           "check_crl: not yet valid");
    is_int(keep_x509_check_crl(c, p->root, T0, "crl", &err), KEEP_E_X509_CRL_SIGNATURE,
           "check_crl: other issuer (%s)", err.message);
    X509_CRL_free(c);
    c = crl(p->mid, k, NULL, T0 - DAY, T0 + DAY);
    is_int(keep_x509_check_crl(c, p->mid, T0, "crl", &err), KEEP_E_X509_CRL_SIGNATURE,
           "check_crl: bad signature");
    X509_CRL_free(c);
    X509_free(lonely);
    X509_free(forged);
    EVP_PKEY_free(k);
}

static void add_ext(X509 *x, const char *oid, const unsigned char *der, int size)
{
    ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
    CHECK(o && s && ASN1_OCTET_STRING_set(s, der, size));
    X509_EXTENSION *e = X509_EXTENSION_create_by_OBJ(NULL, o, 0, s);
    CHECK(e && X509_add_ext(x, e, -1));
    X509_EXTENSION_free(e);
    ASN1_OCTET_STRING_free(s);
    ASN1_OBJECT_free(o);
}

static void test_extensions(void)
{
    struct keep_error err;
    EVP_PKEY *k = p256();
    X509 *x = cert("Ext", NULL, k, k, 0, T0 - DAY, T0 + DAY, false);
    static const unsigned char int_200[] = {0x02, 0x02, 0x00, 0xc8};
    static const unsigned char neg[] = {0x02, 0x01, 0xff};
    static const unsigned char ia5[] = {0x16, 0x05, 'M', 'i', 'l', 'a', 'n'};
    static const unsigned char raw[] = {0xde, 0xad, 0xbe, 0xef};
    static const unsigned char int_junk[] = {0x02, 0x01, 0x05, 0x00};
    add_ext(x, "1.2.3.4.1", int_200, sizeof(int_200));
    add_ext(x, "1.2.3.4.2", neg, sizeof(neg));
    add_ext(x, "1.2.3.4.3", ia5, sizeof(ia5));
    add_ext(x, "1.2.3.4.4", raw, sizeof(raw));
    add_ext(x, "1.2.3.4.5", int_junk, sizeof(int_junk));
    CHECK(X509_sign(x, k, EVP_sha256()) > 0);
    uint64_t v = 0;
    is_int(keep_x509_extension_uint(x, "1.2.3.4.1", "n", &v, &err), KEEP_OK, "INTEGER extension");
    is_int(v, 200, "... is 200");
    is_int(keep_x509_extension_uint(x, "1.2.3.4.2", "n", &v, &err), KEEP_E_X509_EXTENSION,
           "negative INTEGER -> extension");
    is_int(keep_x509_extension_uint(x, "1.2.3.4.3", "n", &v, &err), KEEP_E_X509_EXTENSION,
           "IA5String read as INTEGER -> extension");
    is_int(keep_x509_extension_uint(x, "1.2.3.4.5", "n", &v, &err), KEEP_E_X509_EXTENSION,
           "INTEGER with a trailing byte -> extension (%s)", err.message);
    is_int(keep_x509_extension_uint(x, "1.2.3.4.9", "n", &v, &err), KEEP_E_X509_EXTENSION,
           "absent extension (%s)", err.message);
    char s[16];
    is_int(keep_x509_extension_ia5(x, "1.2.3.4.3", "name", s, sizeof(s), &err), KEEP_OK,
           "IA5String extension");
    is_str(s, "Milan", "... is 'Milan'");
    is_int(keep_x509_extension_ia5(x, "1.2.3.4.3", "name", s, 5, &err), KEEP_E_X509_EXTENSION,
           "IA5String longer than the buffer -> extension");
    const uint8_t *val;
    size_t size;
    is_int(keep_x509_extension(x, "1.2.3.4.4", &val, &size, &err), KEEP_OK, "raw extension");
    ok(size == 4 && memcmp(val, raw, 4) == 0, "... its 4 bytes");
    is_int(keep_x509_extension(x, "not an oid", &val, &size, &err), KEEP_E_USAGE,
           "bad OID text -> usage");
    char cn[32];
    is_str(keep_x509_subject_cn(x, cn, sizeof(cn)), "Ext", "subject CN");
    int64_t nb, na;
    is_int(keep_x509_validity(x, &nb, &na, &err), KEEP_OK, "validity");
    ok(nb == T0 - DAY && na == T0 + DAY, "... notBefore and notAfter as epoch seconds");
    X509_free(x);
    EVP_PKEY_free(k);
}

int main(void)
{
    struct pki p;
    pki_make(&p);
    test_parse(&p);
    test_verify(&p);
    test_extensions();
    pki_free(&p);
    return done_testing();
}
