/* SPDX-License-Identifier: Apache-2.0 */
/* Synthetic AMD SEV-SNP PKI and reports for tests (see snp_gen.h). */
#include "support/snp_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

struct snp_gen {
    enum keep_amd_product product;
    char roots_dir[256];
    EVP_PKEY *ark_key, *ask_key, *asvk_key, *stranger_key;
    EVP_PKEY *vcek_key, *vlek_key;
    X509 *ark, *ask, *asvk;
    uint8_t chip_id[64];
};

#define CA_NOT_BEFORE INT64_C(1577836800) /* 2020-01-01 */
#define CA_NOT_AFTER  INT64_C(2524608000) /* 2050-01-01 */
#define EK_NOT_BEFORE INT64_C(1704067200) /* 2024-01-01 */
#define EK_NOT_AFTER  INT64_C(1924992000) /* 2031-01-01 */

static void die(const char *what)
{
    fprintf(stderr, "snp_gen: %s failed\n", what);
    abort();
}

#define CHECK(x)     \
    do {             \
        if (!(x))    \
            die(#x); \
    } while (0)

static EVP_PKEY *rsa_key(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    CHECK(k);
    return k;
}

static EVP_PKEY *p384_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-384");
    CHECK(k);
    return k;
}

static void set_name(X509_NAME *n, const char *cn)
{
    static const char *const fields[][2] = {{"OU", "Engineering"},
                                            {"C", "US"},
                                            {"L", "Santa Clara"},
                                            {"ST", "CA"},
                                            {"O", "Advanced Micro Devices"}};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        CHECK(X509_NAME_add_entry_by_txt(n, fields[i][0], MBSTRING_ASC,
                                         (const unsigned char *)fields[i][1], -1, -1, 0));
    CHECK(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
}

/* RSASSA-PSS, SHA-384, MGF1-SHA-384, salt 48: AMD's CA signature. */
static EVP_MD_CTX *pss_ctx(EVP_PKEY *key)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    CHECK(md && EVP_DigestSignInit(md, &pctx, EVP_sha384(), NULL, key) == 1);
    CHECK(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1);
    CHECK(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) == 1);
    CHECK(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) == 1);
    return md;
}

static void add_v3(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    CHECK(ext && X509_add_ext(cert, ext, -1));
    X509_EXTENSION_free(ext);
}

static void add_raw_ext(X509 *cert, const char *oid, const uint8_t *value, size_t size)
{
    ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    CHECK(obj && os && ASN1_OCTET_STRING_set(os, value, (int)size));
    X509_EXTENSION *ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
    CHECK(ext && X509_add_ext(cert, ext, -1));
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
}

static void add_int_ext(X509 *cert, const char *oid, long v)
{
    ASN1_INTEGER *i = ASN1_INTEGER_new();
    unsigned char *der = NULL;
    CHECK(i && ASN1_INTEGER_set(i, v));
    int n = i2d_ASN1_INTEGER(i, &der);
    CHECK(n > 0);
    add_raw_ext(cert, oid, der, (size_t)n);
    OPENSSL_free(der);
    ASN1_INTEGER_free(i);
}

static void add_ia5_ext(X509 *cert, const char *oid, const char *text)
{
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    unsigned char *der = NULL;
    CHECK(s && ASN1_STRING_set(s, text, -1));
    int n = i2d_ASN1_IA5STRING(s, &der);
    CHECK(n > 0);
    add_raw_ext(cert, oid, der, (size_t)n);
    OPENSSL_free(der);
    ASN1_IA5STRING_free(s);
}

static X509 *new_cert(const char *cn, X509 *issuer, EVP_PKEY *subject_key, long serial,
                      int64_t not_before, int64_t not_after)
{
    X509 *x = X509_new();
    CHECK(x && X509_set_version(x, 2));
    CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
    set_name(X509_get_subject_name(x), cn);
    CHECK(
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x)));
    CHECK(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before));
    CHECK(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after));
    CHECK(X509_set_pubkey(x, subject_key));
    return x;
}

static void sign_cert(X509 *x, EVP_PKEY *issuer_key)
{
    EVP_MD_CTX *md = pss_ctx(issuer_key);
    CHECK(X509_sign_ctx(x, md) > 0);
    EVP_MD_CTX_free(md);
}

static X509 *new_ca(const char *cn, X509 *issuer, EVP_PKEY *key, EVP_PKEY *issuer_key, long serial)
{
    X509 *x = new_cert(cn, issuer, key, serial, CA_NOT_BEFORE, CA_NOT_AFTER);
    add_v3(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
    add_v3(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    sign_cert(x, issuer_key);
    return x;
}

static void lower(char *out, const char *in, size_t size)
{
    size_t i = 0;
    for (; in[i] && i + 1 < size; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = 0;
}

static void write_bundle(const struct snp_gen *g, const char *prefix, X509 *ca)
{
    char path[512], p[16];
    lower(p, keep_amd_product_name(g->product), sizeof(p));
    snprintf(path, sizeof(path), "%s/%s_ark_%s.pem", g->roots_dir, prefix, p);
    FILE *f = fopen(path, "w");
    CHECK(f && PEM_write_X509(f, ca) && PEM_write_X509(f, g->ark));
    fclose(f);
}

struct snp_gen *snp_gen_new(enum keep_amd_product product)
{
    struct snp_gen *g = calloc(1, sizeof(*g));
    CHECK(g);
    g->product = product;
    const char *name = keep_amd_product_name(product);
    char cn[64];
    g->ark_key = rsa_key();
    g->ask_key = rsa_key();
    g->asvk_key = rsa_key();
    g->vcek_key = p384_key();
    g->vlek_key = p384_key();
    snprintf(cn, sizeof(cn), "ARK-%s", name);
    g->ark = new_ca(cn, NULL, g->ark_key, g->ark_key, 1);
    snprintf(cn, sizeof(cn), "SEV-%s", name);
    g->ask = new_ca(cn, g->ark, g->ask_key, g->ark_key, 2);
    snprintf(cn, sizeof(cn), "SEV-VLEK-%s", name);
    g->asvk = new_ca(cn, g->ark, g->asvk_key, g->ark_key, 3);
    snprintf(g->roots_dir, sizeof(g->roots_dir), "/tmp/keep-snp-gen-XXXXXX");
    CHECK(mkdtemp(g->roots_dir));
    write_bundle(g, "ask", g->ask);
    write_bundle(g, "asvk", g->asvk);
    /* Turin's hwID is 8 bytes; its chip_id is those 8 bytes, zero-extended. */
    size_t id_size = product == KEEP_AMD_TURIN ? 8 : 64;
    for (size_t i = 0; i < id_size; i++)
        g->chip_id[i] = (uint8_t)(0xa0 + i);
    return g;
}

void snp_gen_free(struct snp_gen *g)
{
    if (!g)
        return;
    char path[512], p[16];
    lower(p, keep_amd_product_name(g->product), sizeof(p));
    snprintf(path, sizeof(path), "%s/ask_ark_%s.pem", g->roots_dir, p);
    unlink(path);
    snprintf(path, sizeof(path), "%s/asvk_ark_%s.pem", g->roots_dir, p);
    unlink(path);
    rmdir(g->roots_dir);
    EVP_PKEY *keys[] = {g->ark_key,  g->ask_key,  g->asvk_key,
                        g->vcek_key, g->vlek_key, g->stranger_key};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        EVP_PKEY_free(keys[i]);
    X509_free(g->ark);
    X509_free(g->ask);
    X509_free(g->asvk);
    free(g);
}

enum keep_amd_product snp_gen_product(const struct snp_gen *g)
{
    return g->product;
}

const char *snp_gen_roots_dir(const struct snp_gen *g)
{
    return g->roots_dir;
}

const uint8_t *snp_gen_chip_id(const struct snp_gen *g)
{
    return g->chip_id;
}

struct keep_amd_tcb snp_gen_default_tcb(const struct snp_gen *g)
{
    struct keep_amd_tcb t = {.bootloader = 3, .tee = 0, .snp = 8, .microcode = 115};
    if (g->product == KEEP_AMD_TURIN) {
        t.has_fmc = true;
        t.fmc = 1;
    }
    t.raw = keep_amd_tcb_encode(&t, g->product);
    return t;
}

void snp_gen_cert_defaults(const struct snp_gen *g, enum keep_amd_key_kind kind,
                           struct snp_gen_cert *c)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->tcb = snp_gen_default_tcb(g);
    if (kind == KEEP_AMD_VCEK) {
        c->hwid_size = g->product == KEEP_AMD_TURIN ? 8 : 64;
        memcpy(c->hwid, g->chip_id, c->hwid_size);
    }
    c->product_name = g->product == KEEP_AMD_MILAN ? "Milan-B0" : keep_amd_product_name(g->product);
    c->not_before = EK_NOT_BEFORE;
    c->not_after = EK_NOT_AFTER;
}

static void to_der(X509 *x, uint8_t **der, size_t *size)
{
    unsigned char *buf = NULL;
    int n = i2d_X509(x, &buf);
    CHECK(n > 0);
    *der = malloc((size_t)n);
    CHECK(*der);
    memcpy(*der, buf, (size_t)n);
    *size = (size_t)n;
    OPENSSL_free(buf);
}

void snp_gen_cert_der(struct snp_gen *g, const struct snp_gen_cert *c, uint8_t **der, size_t *size)
{
    bool vlek = c->kind == KEEP_AMD_VLEK;
    X509 *issuer = vlek ? g->asvk : g->ask;
    EVP_PKEY *issuer_key = vlek ? g->asvk_key : g->ask_key;
    if (c->wrong_issuer_key) {
        if (!g->stranger_key)
            g->stranger_key = rsa_key();
        issuer_key = g->stranger_key;
    }
    /* AMD issues VCEKs and VLEKs with serial number 0. */
    X509 *x = new_cert(vlek ? "SEV-VLEK" : "SEV-VCEK", issuer, vlek ? g->vlek_key : g->vcek_key, 0,
                       c->not_before, c->not_after);
    add_int_ext(x, "1.3.6.1.4.1.3704.1.1", 1); /* structVersion */
    if (c->product_name)
        add_ia5_ext(x, "1.3.6.1.4.1.3704.1.2", c->product_name);
    if (c->tcb.has_fmc)
        add_int_ext(x, "1.3.6.1.4.1.3704.1.3.9", c->tcb.fmc);
    add_int_ext(x, "1.3.6.1.4.1.3704.1.3.1", c->tcb.bootloader);
    add_int_ext(x, "1.3.6.1.4.1.3704.1.3.2", c->tcb.tee);
    add_int_ext(x, "1.3.6.1.4.1.3704.1.3.3", c->tcb.snp);
    add_int_ext(x, "1.3.6.1.4.1.3704.1.3.8", c->tcb.microcode);
    if (c->hwid_size)
        add_raw_ext(x, "1.3.6.1.4.1.3704.1.4", c->hwid, c->hwid_size);
    sign_cert(x, issuer_key);
    to_der(x, der, size);
    X509_free(x);
}

void snp_gen_default_cert_der(struct snp_gen *g, enum keep_amd_key_kind kind, uint8_t **der,
                              size_t *size)
{
    struct snp_gen_cert c;
    snp_gen_cert_defaults(g, kind, &c);
    snp_gen_cert_der(g, &c, der, size);
}

void snp_gen_put_u32(uint8_t *report, size_t offset, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        report[offset + (size_t)i] = (uint8_t)(v >> (8 * i));
}

void snp_gen_put_u64(uint8_t *report, size_t offset, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        report[offset + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static void cpuid_of(enum keep_amd_product p, uint8_t out[3])
{
    static const uint8_t milan[3] = {0x19, 0x01, 0x01}, genoa[3] = {0x19, 0x11, 0x01},
                         turin[3] = {0x1a, 0x02, 0x00};
    memcpy(out, p == KEEP_AMD_TURIN ? turin : p == KEEP_AMD_GENOA ? genoa : milan, 3);
}

void snp_gen_report(struct snp_gen *g, enum keep_amd_key_kind kind, uint32_t version,
                    uint8_t report[KEEP_SNP_REPORT_SIZE])
{
    memset(report, 0, KEEP_SNP_REPORT_SIZE);
    uint64_t tcb = snp_gen_default_tcb(g).raw;
    snp_gen_put_u32(report, 0x000, version);
    snp_gen_put_u32(report, 0x004, 1);       /* guest_svn */
    snp_gen_put_u64(report, 0x008, 0x30000); /* policy: SMT, reserved bit 17 */
    snp_gen_put_u32(report, 0x030, 0);       /* vmpl */
    snp_gen_put_u32(report, 0x034, 1);       /* ECDSA P-384 with SHA-384 */
    snp_gen_put_u64(report, 0x038, tcb);     /* current_tcb */
    snp_gen_put_u64(report, 0x040, 0x3);     /* platform_info: SMT_EN, TSME_EN */
    snp_gen_put_u32(report, 0x048, (uint32_t)kind << 2);
    for (int i = 0; i < 64; i++)
        report[0x050 + i] = (uint8_t)i;  /* report_data */
    memset(report + 0x090, 0x4d, 48);    /* measurement */
    snp_gen_put_u64(report, 0x180, tcb); /* reported_tcb */
    if (version >= 3)
        cpuid_of(g->product, report + 0x188);
    if (kind == KEEP_AMD_VCEK)
        memcpy(report + 0x1a0, g->chip_id, 64);
    snp_gen_put_u64(report, 0x1e0, tcb); /* committed_tcb */
    report[0x1e8] = 10;                  /* current build, minor, major */
    report[0x1e9] = 55;
    report[0x1ea] = 1;
    report[0x1ec] = 10; /* committed build, minor, major */
    report[0x1ed] = 55;
    report[0x1ee] = 1;
    snp_gen_put_u64(report, 0x1f0, tcb); /* launch_tcb */
    if (version >= 5) {
        snp_gen_put_u64(report, 0x1f8, 0x5); /* launch_mit_vector */
        snp_gen_put_u64(report, 0x200, 0x7); /* current_mit_vector */
    }
    snp_gen_sign(g, kind, report);
}

void snp_gen_sign(struct snp_gen *g, enum keep_amd_key_kind kind,
                  uint8_t report[KEEP_SNP_REPORT_SIZE])
{
    EVP_PKEY *key = kind == KEEP_AMD_VLEK ? g->vlek_key : g->vcek_key;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char der[160];
    size_t der_size = sizeof(der);
    CHECK(md && EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) == 1);
    CHECK(EVP_DigestSign(md, der, &der_size, report, KEEP_SNP_SIGNED_SIZE) == 1);
    EVP_MD_CTX_free(md);
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_size);
    CHECK(sig);
    memset(report + KEEP_SNP_SIGNED_SIZE, 0, 144);
    CHECK(BN_bn2lebinpad(ECDSA_SIG_get0_r(sig), report + 0x2a0, 72) == 72);
    CHECK(BN_bn2lebinpad(ECDSA_SIG_get0_s(sig), report + 0x2e8, 72) == 72);
    ECDSA_SIG_free(sig);
}

void snp_gen_chain_pem(struct snp_gen *g, enum keep_amd_key_kind kind, bool with_ark, uint8_t **pem,
                       size_t *size)
{
    BIO *bio = BIO_new(BIO_s_mem());
    CHECK(bio && PEM_write_bio_X509(bio, kind == KEEP_AMD_VLEK ? g->asvk : g->ask));
    if (with_ark)
        CHECK(PEM_write_bio_X509(bio, g->ark));
    char *data;
    long n = BIO_get_mem_data(bio, &data);
    CHECK(n > 0);
    *pem = malloc((size_t)n);
    CHECK(*pem);
    memcpy(*pem, data, (size_t)n);
    *size = (size_t)n;
    BIO_free(bio);
}

void snp_gen_crl_der(struct snp_gen *g, bool revoke_ask, int64_t this_update, int64_t next_update,
                     uint8_t **der, size_t *size)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)this_update);
    ASN1_TIME *t2 = ASN1_TIME_set(NULL, (time_t)next_update);
    CHECK(crl && t1 && t2 && X509_CRL_set_version(crl, 1));
    CHECK(X509_CRL_set_issuer_name(crl, X509_get_subject_name(g->ark)));
    CHECK(X509_CRL_set1_lastUpdate(crl, t1) && X509_CRL_set1_nextUpdate(crl, t2));
    if (revoke_ask) {
        X509_REVOKED *rv = X509_REVOKED_new();
        CHECK(rv && X509_REVOKED_set_serialNumber(rv, X509_get_serialNumber(g->ask)));
        CHECK(X509_REVOKED_set_revocationDate(rv, t1));
        CHECK(X509_CRL_add0_revoked(crl, rv));
        X509_CRL_sort(crl);
    }
    EVP_MD_CTX *md = pss_ctx(g->ark_key);
    CHECK(X509_CRL_sign_ctx(crl, md) > 0);
    EVP_MD_CTX_free(md);
    unsigned char *buf = NULL;
    int n = i2d_X509_CRL(crl, &buf);
    CHECK(n > 0);
    *der = malloc((size_t)n);
    CHECK(*der);
    memcpy(*der, buf, (size_t)n);
    *size = (size_t)n;
    OPENSSL_free(buf);
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    X509_CRL_free(crl);
}
