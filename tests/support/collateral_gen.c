/* SPDX-License-Identifier: Apache-2.0 */
/* Synthetic Intel DCAP collateral for tests; see collateral_gen.h. */
#include "support/collateral_gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static bool add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    bool ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
                       int64_t not_before, int64_t not_after, long serial)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    bool ok =
        x && name && X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), serial) &&
        ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before) &&
        ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                   0) &&
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"keep tests", -1,
                                   -1, 0) &&
        X509_set_subject_name(x, name) &&
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) &&
        X509_set_pubkey(x, key) && add_ext(x, issuer, NID_subject_key_identifier, "hash") &&
        add_ext(x, issuer, NID_authority_key_identifier, "keyid:always") &&
        add_ext(x, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
        add_ext(x, issuer, NID_key_usage,
                ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,nonRepudiation") &&
        X509_sign(x, issuer_key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        ERR_print_errors_fp(stderr);
        X509_free(x);
        return NULL;
    }
    return x;
}

static bool add_revoked(X509_CRL *crl, X509 *cert, int64_t when)
{
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)when);
    bool ok = rev && t && X509_REVOKED_set_serialNumber(rev, X509_get_serialNumber(cert)) &&
              X509_REVOKED_set_revocationDate(rev, t) && X509_CRL_add0_revoked(crl, rev);
    ASN1_TIME_free(t);
    if (!ok)
        X509_REVOKED_free(rev);
    return ok;
}

static X509_CRL *make_crl(X509 *issuer, EVP_PKEY *key, int64_t this_update, int64_t next_update,
                          X509 *revoked)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t1 = ASN1_TIME_set(NULL, (time_t)this_update);
    ASN1_TIME *t2 = ASN1_TIME_set(NULL, (time_t)next_update);
    bool ok = crl && t1 && t2 && X509_CRL_set_version(crl, 1) &&
              X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) &&
              X509_CRL_set1_lastUpdate(crl, t1) && X509_CRL_set1_nextUpdate(crl, t2) &&
              (!revoked || add_revoked(crl, revoked, this_update)) && X509_CRL_sort(crl) &&
              X509_CRL_sign(crl, key, EVP_sha256()) > 0;
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    if (!ok) {
        ERR_print_errors_fp(stderr);
        X509_CRL_free(crl);
        return NULL;
    }
    return crl;
}

struct keep_test_pki *keep_test_pki_new(int64_t not_before, int64_t not_after,
                                        int64_t crl_next_update)
{
    struct keep_test_pki *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->root_key = EVP_EC_gen("P-256");
    p->tcb_key = EVP_EC_gen("P-256");
    p->pck_ca_key = EVP_EC_gen("P-256");
    if (!p->root_key || !p->tcb_key || !p->pck_ca_key)
        goto fail;
    p->root = make_cert("keep test SGX Root CA", p->root_key, NULL, p->root_key, true, not_before,
                        not_after, 1);
    if (!p->root)
        goto fail;
    p->tcb_signer = make_cert("keep test TCB Signing", p->tcb_key, p->root, p->root_key, false,
                              not_before, not_after, 2);
    p->pck_ca = make_cert("keep test PCK Platform CA", p->pck_ca_key, p->root, p->root_key, true,
                          not_before, not_after, 3);
    p->root_crl = make_crl(p->root, p->root_key, not_before, crl_next_update, NULL);
    if (!p->tcb_signer || !p->pck_ca || !p->root_crl)
        goto fail;
    p->pck_crl = make_crl(p->pck_ca, p->pck_ca_key, not_before, crl_next_update, NULL);
    if (!p->pck_crl)
        goto fail;
    return p;
fail:
    fprintf(stderr, "keep_test_pki_new: OpenSSL failed\n");
    keep_test_pki_free(p);
    return NULL;
}

bool keep_test_pki_revoke_tcb_signer(struct keep_test_pki *p)
{
    const ASN1_TIME *this_update = X509_CRL_get0_lastUpdate(p->root_crl);
    const ASN1_TIME *next_update = X509_CRL_get0_nextUpdate(p->root_crl);
    struct tm a, b;
    if (!ASN1_TIME_to_tm(this_update, &a) || !ASN1_TIME_to_tm(next_update, &b))
        return false;
    X509_CRL *crl =
        make_crl(p->root, p->root_key, (int64_t)timegm(&a), (int64_t)timegm(&b), p->tcb_signer);
    if (!crl)
        return false;
    X509_CRL_free(p->root_crl);
    p->root_crl = crl;
    return true;
}

void keep_test_pki_free(struct keep_test_pki *p)
{
    if (!p)
        return;
    EVP_PKEY_free(p->root_key);
    EVP_PKEY_free(p->tcb_key);
    EVP_PKEY_free(p->pck_ca_key);
    X509_free(p->root);
    X509_free(p->tcb_signer);
    X509_free(p->pck_ca);
    X509_CRL_free(p->root_crl);
    X509_CRL_free(p->pck_crl);
    free(p);
}

STACK_OF(X509) * keep_test_pki_roots(const struct keep_test_pki *pki)
{
    STACK_OF(X509) *roots = sk_X509_new_null();
    if (!roots || !X509_up_ref(pki->root) || !sk_X509_push(roots, pki->root)) {
        sk_X509_free(roots);
        return NULL;
    }
    return roots;
}

bool keep_test_sign_hex(EVP_PKEY *key, const void *data, size_t size, char out[129])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char der[128];
    size_t der_size = sizeof(der);
    ECDSA_SIG *sig = NULL;
    uint8_t raw[64];
    bool ok = ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
              EVP_DigestSign(ctx, der, &der_size, data, size) == 1;
    EVP_MD_CTX_free(ctx);
    const unsigned char *p = der;
    if (ok)
        sig = d2i_ECDSA_SIG(NULL, &p, (long)der_size);
    ok = sig && BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) == 32 &&
         BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    for (int i = 0; ok && i < 64; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return ok;
}

static char *bio_to_string(BIO *bio)
{
    char *mem;
    long n = BIO_get_mem_data(bio, &mem);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (s) {
        memcpy(s, mem, (size_t)n);
        s[n] = '\0';
    }
    BIO_free(bio);
    return s;
}

char *keep_test_chain_pem(const struct keep_test_pki *pki, X509 *first)
{
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || !PEM_write_bio_X509(bio, first) || !PEM_write_bio_X509(bio, pki->root)) {
        BIO_free(bio);
        return NULL;
    }
    return bio_to_string(bio);
}

char *keep_test_crl_hex(X509_CRL *crl)
{
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(crl, &der);
    char *hex = n > 0 ? malloc(2 * (size_t)n + 1) : NULL;
    for (int i = 0; hex && i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", der[i]);
    OPENSSL_free(der);
    return hex;
}

char *keep_test_pcs_file(const struct keep_test_pki *pki, const char *key, const char *body,
                         const char *before, const char *middle, const char *after)
{
    char sig[129];
    if (!keep_test_sign_hex(pki->tcb_key, body, strlen(body), sig))
        return NULL;
    before = before ? before : "";
    middle = middle ? middle : "";
    after = after ? after : "";
    size_t size =
        strlen(key) + strlen(body) + 3 * strlen(before) + strlen(middle) + strlen(after) + 200;
    char *out = malloc(size);
    if (out)
        snprintf(out, size, "%s{%s\"%s\"%s:%s%s,%s\"signature\":\"%s\"%s}%s", before, before, key,
                 middle, middle, body, before, sig, after, after);
    return out;
}

char *keep_test_collateral_json(const struct keep_test_pki *pki, const char *tcb_body,
                                const char *qe_body)
{
    char tcb_sig[129], qe_sig[129];
    if (!keep_test_sign_hex(pki->tcb_key, tcb_body, strlen(tcb_body), tcb_sig) ||
        !keep_test_sign_hex(pki->tcb_key, qe_body, strlen(qe_body), qe_sig))
        return NULL;
    char *tcb_chain = keep_test_chain_pem(pki, pki->tcb_signer);
    char *pck_chain = keep_test_chain_pem(pki, pki->pck_ca);
    char *root_crl = keep_test_crl_hex(pki->root_crl);
    char *pck_crl = keep_test_crl_hex(pki->pck_crl);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "pck_crl_issuer_chain",
                          pck_chain, "root_ca_crl", root_crl, "pck_crl", pck_crl,
                          "tcb_info_issuer_chain", tcb_chain, "tcb_info", tcb_body,
                          "tcb_info_signature", tcb_sig, "qe_identity_issuer_chain", tcb_chain,
                          "qe_identity", qe_body, "qe_identity_signature", qe_sig);
    char *text = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    free(tcb_chain);
    free(pck_chain);
    free(root_crl);
    free(pck_crl);
    return text;
}

static json_t *components(const uint8_t svn[16])
{
    json_t *arr = json_array();
    for (int i = 0; i < 16; i++)
        json_array_append_new(arr, json_pack("{s:i, s:s}", "svn", svn[i], "category", "BIOS"));
    return arr;
}

static json_t *advisory_array(const char *list)
{
    json_t *arr = json_array();
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        json_array_append_new(arr, json_string(tok));
    return arr;
}

static json_t *tcb_level(const struct keep_test_tcb_spec *spec,
                         const struct keep_test_tcb_level *lv)
{
    json_t *tcb = json_object();
    if (spec->version == 2) {
        char key[32];
        for (int i = 0; i < 16; i++) {
            snprintf(key, sizeof(key), "sgxtcbcomp%02dsvn", i + 1);
            json_object_set_new(tcb, key, json_integer(lv->sgx[i]));
        }
    } else {
        json_object_set_new(tcb, "sgxtcbcomponents", components(lv->sgx));
    }
    json_object_set_new(tcb, "pcesvn", json_integer(lv->pcesvn));
    if (strcmp(spec->id, "TDX") == 0)
        json_object_set_new(tcb, "tdxtcbcomponents", components(lv->tdx));
    json_t *o = json_pack("{s:o, s:s, s:s}", "tcb", tcb, "tcbDate", "2024-03-13T00:00:00Z",
                          "tcbStatus", lv->status);
    if (lv->advisories)
        json_object_set_new(o, "advisoryIDs", advisory_array(lv->advisories));
    return o;
}

char *keep_test_tcb_info_body(const struct keep_test_tcb_spec *spec)
{
    json_t *o = json_object();
    if (spec->version == 3)
        json_object_set_new(o, "id", json_string(spec->id));
    json_object_set_new(o, "version", json_integer(spec->version));
    json_object_set_new(o, "issueDate", json_string(spec->issue_date));
    json_object_set_new(o, "nextUpdate", json_string(spec->next_update));
    json_object_set_new(o, "fmspc", json_string(spec->fmspc));
    json_object_set_new(o, "pceId", json_string(spec->pce_id));
    json_object_set_new(o, "tcbType", json_integer(0));
    json_object_set_new(o, "tcbEvaluationDataNumber", json_integer(17));
    if (strcmp(spec->id, "TDX") == 0) {
        json_object_set_new(o, "tdxModule",
                            json_pack("{s:s, s:s, s:s}", "mrsigner",
                                      "000000000000000000000000000000000000000000000000"
                                      "000000000000000000000000000000000000000000000000",
                                      "attributes", "0000000000000000", "attributesMask",
                                      "FFFFFFFFFFFFFFFF"));
        if (spec->tdx_module_identities)
            json_object_set(o, "tdxModuleIdentities", spec->tdx_module_identities);
    }
    json_t *levels = json_array();
    for (size_t i = 0; i < spec->level_count; i++)
        json_array_append_new(levels, tcb_level(spec, &spec->levels[i]));
    json_object_set_new(o, "tcbLevels", levels);
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

char *keep_test_qe_identity_body(const char *id, const char *issue_date, const char *next_update)
{
    json_t *o =
        json_pack("{s:s, s:i, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:["
                  "{s:{s:i}, s:s, s:s}, {s:{s:i}, s:s, s:s, s:[s]}, {s:{s:i}, s:s, s:s}]}",
                  "id", id, "version", 2, "issueDate", issue_date, "nextUpdate", next_update,
                  "tcbEvaluationDataNumber", 17, "miscselect", "00000000", "miscselectMask",
                  "FFFFFFFF", "attributes", "11000000000000000000000000000000", "attributesMask",
                  "FBFFFFFFFFFFFFFF0000000000000000", "mrsigner",
                  "8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF", "isvprodid",
                  1, "tcbLevels", "tcb", "isvsvn", 8, "tcbDate", "2024-03-13T00:00:00Z",
                  "tcbStatus", "UpToDate", "tcb", "isvsvn", 6, "tcbDate", "2021-11-10T00:00:00Z",
                  "tcbStatus", "OutOfDate", "advisoryIDs", "INTEL-SA-00615", "tcb", "isvsvn", 2,
                  "tcbDate", "2019-05-15T00:00:00Z", "tcbStatus", "Revoked");
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    return text;
}
