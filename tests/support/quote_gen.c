/* SPDX-License-Identifier: Apache-2.0 */
/* Synthetic Intel DCAP quotes and PCK hierarchy for tests (see quote_gen.h). */
#include "quote_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/conf.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#define T_2020 1577836800 /* 2020-01-01T00:00:00Z */
#define T_2040 2208988800 /* 2040-01-01T00:00:00Z */

static const uint8_t intel_vendor[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                         0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

static int fail(const char *what)
{
    fprintf(stderr, "quote_gen: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    return -1;
}

static EVP_PKEY *new_key(bool rsa)
{
    return rsa ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
               : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static X509_NAME *name_of(const char *cn)
{
    X509_NAME *n = X509_NAME_new();
    if (!n)
        return NULL;
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Intel Corporation", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0);
    return n;
}

static int add_conf_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : fail(value);
}

static X509 *new_cert(const char *cn, EVP_PKEY *key, X509 *issuer, long serial, bool ca,
                      int64_t not_before, int64_t not_after)
{
    X509 *c = X509_new();
    X509_NAME *subject = name_of(cn);
    if (!c || !subject || !X509_set_version(c, X509_VERSION_3) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(c), serial) || !X509_set_subject_name(c, subject) ||
        !X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : subject) ||
        !ASN1_TIME_set(X509_getm_notBefore(c), (time_t)not_before) ||
        !ASN1_TIME_set(X509_getm_notAfter(c), (time_t)not_after) || !X509_set_pubkey(c, key))
        goto bad;
    X509 *iss = issuer ? issuer : c;
    if (add_conf_ext(c, iss, NID_basic_constraints,
                     ca ? "critical,CA:TRUE" : "critical,CA:FALSE") ||
        add_conf_ext(c, iss, NID_key_usage,
                     ca ? "critical,keyCertSign,cRLSign"
                        : "critical,digitalSignature,nonRepudiation") ||
        add_conf_ext(c, iss, NID_subject_key_identifier, "hash"))
        goto bad;
    if (issuer && add_conf_ext(c, iss, NID_authority_key_identifier, "keyid:always"))
        goto bad;
    X509_NAME_free(subject);
    return c;
bad:
    fail(cn);
    X509_NAME_free(subject);
    X509_free(c);
    return NULL;
}

static int sign_cert(X509 *c, EVP_PKEY *issuer_key)
{
    return X509_sign(c, issuer_key, EVP_sha256()) > 0 ? 0 : fail("X509_sign");
}

static void hex(char *out, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02X", p[i]);
}

/*
 * The SGX extension as ASN1_generate_nconf text ([PCK] 1.6). Entries are
 * SEQUENCE { OID, value }; `omit` leaves one out.
 */
static char *sgx_ext_conf(const struct qgen_pck_opts *o)
{
    size_t cap = 16384, len = 0;
    char *s = malloc(cap);
    char h[64];
    const char *omit = o->omit_oid ? o->omit_oid : "";
#define OID_BASE "1.2.840.113741.1.13.1"
#define ADD(...) len += (size_t)snprintf(s + len, cap - len, __VA_ARGS__)
    ADD("[sgx]\n");
    if (strcmp(omit, OID_BASE ".1"))
        ADD("ppid = SEQUENCE:ppid\n");
    if (strcmp(omit, OID_BASE ".2"))
        ADD("tcb = SEQUENCE:tcb\n");
    if (strcmp(omit, OID_BASE ".3"))
        ADD("pceid = SEQUENCE:pceid\n");
    if (strcmp(omit, OID_BASE ".4"))
        ADD("fmspc = SEQUENCE:fmspc\n");
    if (strcmp(omit, OID_BASE ".5"))
        ADD("sgxtype = SEQUENCE:sgxtype\n");
    if (o->with_platform_fields)
        ADD("piid = SEQUENCE:piid\nconfig = SEQUENCE:config\n");
    hex(h, o->ppid, 16);
    ADD("[ppid]\noid = OID:" OID_BASE ".1\nval = FORMAT:HEX,OCTETSTRING:%s\n", h);
    ADD("[tcb]\noid = OID:" OID_BASE ".2\nval = SEQUENCE:tcbcomps\n[tcbcomps]\n");
    for (int k = 1; k <= 18; k++)
        if (strcmp(omit, "") == 0 || strncmp(omit, OID_BASE ".2.", strlen(OID_BASE ".2.")) ||
            atoi(omit + strlen(OID_BASE ".2.")) != k)
            ADD("c%d = SEQUENCE:comp%d\n", k, k);
    for (int k = 1; k <= 16; k++)
        ADD("[comp%d]\noid = OID:" OID_BASE ".2.%d\nval = INTEGER:%u\n", k, k, o->cpusvn[k - 1]);
    ADD("[comp17]\noid = OID:" OID_BASE ".2.17\nval = INTEGER:%u\n", o->pcesvn);
    hex(h, o->cpusvn, 16);
    ADD("[comp18]\noid = OID:" OID_BASE ".2.18\nval = FORMAT:HEX,OCTETSTRING:%s\n", h);
    hex(h, o->pceid, 2);
    ADD("[pceid]\noid = OID:" OID_BASE ".3\nval = FORMAT:HEX,OCTETSTRING:%s\n", h);
    hex(h, o->fmspc, 6);
    ADD("[fmspc]\noid = OID:" OID_BASE ".4\nval = FORMAT:HEX,OCTETSTRING:%s\n", h);
    ADD("[sgxtype]\noid = OID:" OID_BASE ".5\nval = ENUMERATED:%u\n", o->sgx_type);
    ADD("[piid]\noid = OID:" OID_BASE ".6\nval = FORMAT:HEX,OCTETSTRING:"
        "000102030405060708090A0B0C0D0E0F\n");
    ADD("[config]\noid = OID:" OID_BASE ".7\nval = SEQUENCE:configvals\n[configvals]\n"
        "a = SEQUENCE:dyn\nb = SEQUENCE:cached\nc = SEQUENCE:smt\n");
    ADD("[dyn]\noid = OID:" OID_BASE ".7.1\nval = BOOLEAN:TRUE\n");
    ADD("[cached]\noid = OID:" OID_BASE ".7.2\nval = BOOLEAN:FALSE\n");
    ADD("[smt]\noid = OID:" OID_BASE ".7.3\nval = BOOLEAN:TRUE\n");
#undef ADD
    return s;
}

static int add_sgx_ext(X509 *pck, const struct qgen_pck_opts *o)
{
    char *text = o->ext_conf ? strdup(o->ext_conf) : sgx_ext_conf(o);
    BIO *bio = text ? BIO_new_mem_buf(text, -1) : NULL;
    CONF *conf = NCONF_new(NULL);
    long line = 0;
    ASN1_TYPE *t = NULL;
    unsigned char *der = NULL;
    int der_size = 0, rc = -1;
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *obj = OBJ_txt2obj(OID_BASE, 1);
    X509_EXTENSION *ext = NULL;
    if (!bio || !conf || NCONF_load_bio(conf, bio, &line) <= 0 ||
        !(t = ASN1_generate_nconf("SEQUENCE:sgx", conf)) ||
        (der_size = i2d_ASN1_TYPE(t, &der)) <= 0 || !os || !obj ||
        !ASN1_OCTET_STRING_set(os, der, der_size) ||
        !(ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) || !X509_add_ext(pck, ext, -1))
        fail("SGX extension");
    else
        rc = 0;
    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(obj);
    ASN1_OCTET_STRING_free(os);
    OPENSSL_free(der);
    ASN1_TYPE_free(t);
    NCONF_free(conf);
    BIO_free(bio);
    free(text);
    return rc;
}

int qgen_pki_new(struct qgen_pki *pki, const struct qgen_pck_opts *o)
{
    static const struct qgen_pck_opts defaults;
    if (!o)
        o = &defaults;
    memset(pki, 0, sizeof(*pki));
    int64_t nb = o->not_before ? o->not_before : T_2020;
    int64_t na = o->not_after ? o->not_after : T_2040;
    pki->root_key = new_key(false);
    pki->ca_key = new_key(false);
    pki->pck_key = new_key(o->rsa_pck);
    if (!pki->root_key || !pki->ca_key || !pki->pck_key)
        return fail("key generation");
    pki->root =
        new_cert("Intel SGX Root CA", pki->root_key, NULL, 1, true, T_2020, T_2040 + 86400 * 3650);
    if (!pki->root || sign_cert(pki->root, pki->root_key))
        return -1;
    pki->ca = new_cert(o->ca_cn ? o->ca_cn : "Intel SGX PCK Platform CA", pki->ca_key, pki->root, 2,
                       true, T_2020, T_2040 + 86400 * 365);
    if (!pki->ca || sign_cert(pki->ca, pki->root_key))
        return -1;
    pki->pck = new_cert("Intel SGX PCK Certificate", pki->pck_key, pki->ca, 3, false, nb, na);
    if (!pki->pck || (!o->no_sgx_ext && add_sgx_ext(pki->pck, o)) ||
        sign_cert(pki->pck, pki->ca_key))
        return -1;
    return 0;
}

void qgen_pki_free(struct qgen_pki *pki)
{
    X509_free(pki->root);
    X509_free(pki->ca);
    X509_free(pki->pck);
    EVP_PKEY_free(pki->root_key);
    EVP_PKEY_free(pki->ca_key);
    EVP_PKEY_free(pki->pck_key);
    memset(pki, 0, sizeof(*pki));
}

char *qgen_chain_pem(const struct qgen_pki *pki, bool include_root, size_t *size)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL;
    if (bio && PEM_write_bio_X509(bio, pki->pck) && PEM_write_bio_X509(bio, pki->ca) &&
        (!include_root || PEM_write_bio_X509(bio, pki->root))) {
        char *p;
        long n = BIO_get_mem_data(bio, &p);
        out = malloc((size_t)n + 1);
        if (out) {
            memcpy(out, p, (size_t)n);
            out[n] = '\0';
            *size = (size_t)n;
        }
    }
    BIO_free(bio);
    return out;
}

X509_CRL *qgen_crl(X509 *issuer, EVP_PKEY *issuer_key, X509 *revoked, int64_t this_update,
                   int64_t next_update)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *tu = ASN1_TIME_new(), *nu = ASN1_TIME_new();
    int ok = crl && tu && nu && X509_CRL_set_version(crl, 1) &&
             X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) &&
             ASN1_TIME_set(tu, (time_t)this_update) && ASN1_TIME_set(nu, (time_t)next_update) &&
             X509_CRL_set1_lastUpdate(crl, tu) && X509_CRL_set1_nextUpdate(crl, nu);
    if (ok && revoked) {
        X509_REVOKED *r = X509_REVOKED_new();
        ok = r && X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked)) &&
             X509_REVOKED_set_revocationDate(r, tu) && X509_CRL_add0_revoked(crl, r);
        if (!ok)
            X509_REVOKED_free(r);
    }
    ok = ok && X509_CRL_sort(crl) && X509_CRL_sign(crl, issuer_key, EVP_sha256()) > 0;
    ASN1_TIME_free(tu);
    ASN1_TIME_free(nu);
    if (!ok) {
        fail("CRL");
        X509_CRL_free(crl);
        return NULL;
    }
    return crl;
}

/* ---- Quote bytes ----------------------------------------------------------- */

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static size_t put(struct buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 256;
        uint8_t *p = realloc(b->p, cap);
        if (!p)
            abort();
        b->p = p;
        b->cap = cap;
    }
    size_t at = b->len;
    if (data)
        memcpy(b->p + at, data, n);
    else
        memset(b->p + at, 0, n);
    b->len += n;
    return at;
}

void qgen_put_le(uint8_t *p, uint64_t v, size_t size)
{
    for (size_t i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static size_t put_le(struct buf *b, uint64_t v, size_t size)
{
    uint8_t tmp[8];
    qgen_put_le(tmp, v, size);
    return put(b, tmp, size);
}

/* ECDSA P-256 over data, as r || s (32 bytes each, big-endian). */
static int sign_rs(EVP_PKEY *key, const uint8_t *data, size_t size, uint8_t rs[64])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[80];
    size_t der_size = sizeof(der);
    int rc = -1;
    if (md && EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key, NULL) == 1 &&
        EVP_DigestSign(md, der, &der_size, data, size) == 1) {
        const unsigned char *p = der;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_size);
        if (sig && BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) == 32)
            rc = 0;
        ECDSA_SIG_free(sig);
    }
    EVP_MD_CTX_free(md);
    return rc ? fail("ECDSA sign") : 0;
}

static int p256_xy(EVP_PKEY *key, uint8_t xy[64])
{
    uint8_t point[65];
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len) !=
            1 ||
        len != 65 || point[0] != 0x04)
        return fail("P-256 public key");
    memcpy(xy, point + 1, 64);
    return 0;
}

/* [SGX] A.4 Enclave Report Body with recognisable field values. */
static void sgx_body(uint8_t out[384], uint64_t flags, const uint8_t *mr_enclave,
                     const uint8_t report_data[64], uint8_t seed)
{
    memset(out, 0, 384);
    for (int i = 0; i < 16; i++)
        out[i] = (uint8_t)(seed + i); /* cpu_svn */
    qgen_put_le(out + 16, 0x5, 4);    /* misc_select */
    qgen_put_le(out + 48, flags, 8);  /* attributes.flags */
    qgen_put_le(out + 56, 0xe7, 8);   /* attributes.xfrm */
    memcpy(out + 64, mr_enclave, 32);
    memset(out + 128, seed ^ 0x5a, 32); /* mr_signer */
    qgen_put_le(out + 256, 7, 2);       /* isv_prod_id */
    qgen_put_le(out + 258, 9, 2);       /* isv_svn */
    memcpy(out + 320, report_data, 64);
}

/* [TDX] A.3.2 TD Quote Body (v1.5 adds 64 bytes). */
static void td_body(uint8_t *out, size_t size, const struct qgen_quote_opts *o)
{
    memset(out, 0, size);
    for (int i = 0; i < 16; i++)
        out[i] = (uint8_t)(i + 1);               /* tee_tcb_svn */
    memset(out + 16, 0x11, 48);                  /* mr_seam */
    qgen_put_le(out + 120, o->td_attributes, 8); /* td_attributes */
    qgen_put_le(out + 128, 0xe7, 8);             /* xfam */
    memcpy(out + 136, o->measurement, 48);       /* mr_td */
    memcpy(out + 520, o->report_data, 64);       /* report_data */
    if (size == 648)
        memset(out + 584, 0x22, 16 + 48); /* tee_tcb_svn2, mr_servicetd */
}

static int quote_body(struct buf *q, const struct qgen_quote_opts *o, int version, bool tdx,
                      struct qgen_layout *l)
{
    /* Header, [SGX] A.3 / [TDX] A.3.1. */
    put_le(q, (uint64_t)version, 2);
    put_le(q, 2, 2);
    put_le(q, tdx ? 0x81 : 0, 4);
    put_le(q, version == 3 ? 8 : 0, 2);
    put_le(q, version == 3 ? 13 : 0, 2);
    put(q, intel_vendor, 16);
    uint8_t user[20];
    memset(user, 0xab, sizeof(user));
    put(q, user, 20);
    size_t body_size = tdx ? 584 : 384;
    if (version == 5) {
        int type = tdx ? (o->v5_body_type ? o->v5_body_type : 3) : 1;
        body_size = type == 3 ? 648 : type == 2 ? 584 : 384;
        put_le(q, (uint64_t)type, 2);
        put_le(q, body_size, 4);
    }
    uint8_t body[648];
    if (tdx)
        td_body(body, body_size, o);
    else
        sgx_body(body, o->attributes_flags ? o->attributes_flags : 0x5, o->measurement,
                 o->report_data, 0x10);
    l->body_off = put(q, body, body_size);
    l->body_size = body_size;
    return 0;
}

int qgen_quote(const struct qgen_pki *pki, const struct qgen_quote_opts *o, uint8_t **out,
               size_t *size, struct qgen_layout *layout)
{
    static const struct qgen_quote_opts defaults;
    struct qgen_layout l;
    struct buf q = {0}, sig = {0};
    uint8_t ak_xy[64], rs[64], qe[384], rd[64], qe_rs[64];
    if (!o)
        o = &defaults;
    int version = o->version ? o->version : 3;
    bool tdx = version >= 4 && !o->sgx_in_v4v5;
    EVP_PKEY *ak = new_key(false);
    size_t chain_size = 0;
    char *chain = qgen_chain_pem(pki, !o->no_root_in_chain, &chain_size);
    uint16_t auth_size = o->qe_auth_size ? o->qe_auth_size : 32;
    uint8_t *auth = calloc(1, auth_size);
    int rc = -1;
    memset(&l, 0, sizeof(l));
    if (!ak || !chain || !auth || p256_xy(ak, ak_xy))
        goto out;
    if (o->chain_nul)
        chain_size++; /* include the NUL qgen_chain_pem wrote */
    for (size_t i = 0; i < auth_size; i++)
        auth[i] = (uint8_t)i;
    quote_body(&q, o, version, tdx, &l);
    if (sign_rs(ak, q.p, q.len, rs))
        goto out;

    /* QE report: report_data binds the attestation key ([SGX] A.4). */
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    unsigned int dlen = 0;
    memset(rd, 0, sizeof(rd));
    if (!sha || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(sha, ak_xy, 64) != 1 || EVP_DigestUpdate(sha, auth, auth_size) != 1 ||
        EVP_DigestFinal_ex(sha, rd, &dlen) != 1) {
        EVP_MD_CTX_free(sha);
        goto out;
    }
    EVP_MD_CTX_free(sha);
    if (o->binding_tail_nonzero)
        rd[63] = 1;
    uint8_t qe_mr[32];
    memset(qe_mr, 0x3e, sizeof(qe_mr));
    sgx_body(qe, 0x15, qe_mr, rd, 0x40);
    if (sign_rs(pki->pck_key, qe, sizeof(qe), qe_rs))
        goto out;

    /* Signature data, relative offsets first, then shifted into the quote. */
    size_t sig_len_off = put_le(&q, 0, 4);
    size_t base = q.len;
    l.signature_off = put(&sig, rs, 64);
    l.attest_key_off = put(&sig, ak_xy, 64);
    size_t qe_size_off = 0;
    if (version >= 4) {
        l.outer_cert_type_off = put_le(&sig, 6, 2);
        l.outer_cert_size_off = qe_size_off = put_le(&sig, 0, 4);
    }
    size_t qe_start = sig.len;
    l.qe_report_off = put(&sig, qe, 384);
    l.qe_report_sig_off = put(&sig, qe_rs, 64);
    l.qe_auth_size_off = put_le(&sig, auth_size, 2);
    l.qe_auth_off = put(&sig, auth, auth_size);
    l.cert_type_off = put_le(&sig, 5, 2);
    l.cert_size_off = put_le(&sig, chain_size, 4);
    l.chain_off = put(&sig, chain, chain_size);
    l.chain_size = chain_size;
    if (version == 3) {
        l.outer_cert_type_off = l.cert_type_off;
        l.outer_cert_size_off = l.cert_size_off;
    } else {
        qgen_put_le(sig.p + qe_size_off, sig.len - qe_start, 4);
    }
    qgen_put_le(q.p + sig_len_off, sig.len, 4);
    put(&q, sig.p, sig.len);
    l.sig_data_len_off = sig_len_off;
    size_t *rel[] = {&l.signature_off,       &l.attest_key_off, &l.outer_cert_type_off,
                     &l.outer_cert_size_off, &l.qe_report_off,  &l.qe_report_sig_off,
                     &l.qe_auth_size_off,    &l.qe_auth_off,    &l.cert_type_off,
                     &l.cert_size_off,       &l.chain_off};
    for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++)
        *rel[i] += base;
    *out = q.p;
    *size = q.len;
    q.p = NULL;
    if (layout)
        *layout = l;
    rc = 0;
out:
    free(q.p);
    free(sig.p);
    free(auth);
    free(chain);
    EVP_PKEY_free(ak);
    return rc;
}
