/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Collateral with generated keys: the signature covers exactly the bytes
 * of the "tcbInfo" value (one changed byte fails; whitespace outside it
 * does not matter; a nested or quoted "tcbInfo" is not taken), the issuer
 * chain and CRL checks at an explicit time, and both transport forms
 * (collateral.json and separate files, CRLs as DER, PEM and hex).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "attest/collateral.h"
#include "common/util.h"
#include "support/collateral_gen.h"
#include "tap.h"

#define ISSUE "2025-06-19T10:56:11Z"
#define NEXT  "2025-07-19T10:56:11Z"

static const struct keep_test_tcb_level levels[] = {
    {{11, 11, 2, 2, 255, 1, 12}, 13, {0}, "UpToDate", NULL},
    {{11, 11, 2, 2, 255, 1, 0},
     13,
     {0},
     "ConfigurationAndSWHardeningNeeded",
     "INTEL-SA-00289,INTEL-SA-00615"},
};

static struct keep_test_pki *pki, *other_pki;
static STACK_OF(X509) * roots, *other_roots;
static char *tcb_body, *qe_body, *tcb_chain;
static int64_t t_issue, t_next, t_mid;

static void setup(void)
{
    int64_t t0 = 0;
    must_ok(keep_parse_time("2025-01-01T00:00:00Z", &t0, NULL));
    must_ok(keep_parse_time(ISSUE, &t_issue, NULL));
    must_ok(keep_parse_time(NEXT, &t_next, NULL));
    t_mid = t_issue + 86400;
    pki = keep_test_pki_new(t0, t0 + 5 * 365 * 86400LL, t_next + 86400);
    other_pki = keep_test_pki_new(t0, t0 + 5 * 365 * 86400LL, t_next + 86400);
    if (!pki || !other_pki)
        skip_all("OpenSSL could not generate test keys");
    roots = keep_test_pki_roots(pki);
    other_roots = keep_test_pki_roots(other_pki);
    struct keep_test_tcb_spec spec = {.id = "SGX",
                                      .version = 3,
                                      .issue_date = ISSUE,
                                      .next_update = NEXT,
                                      .fmspc = "00A067110000",
                                      .pce_id = "0000",
                                      .levels = levels,
                                      .level_count = KEEP_ARRAY_LEN(levels)};
    tcb_body = keep_test_tcb_info_body(&spec);
    qe_body = keep_test_qe_identity_body("QE", ISSUE, NEXT);
    tcb_chain = keep_test_chain_pem(pki, pki->tcb_signer);
}

/* Parse a tcb_info.json text, attach the chain, verify at t_mid. */
static int verify_file_crl(const char *file, STACK_OF(X509) * with_roots, X509_CRL *crl, int64_t at,
                           struct keep_error *err)
{
    struct keep_tcb_info *info = NULL;
    int rc = keep_tcb_info_parse(file, strlen(file), &info, err);
    if (!rc)
        rc = keep_tcb_info_set_issuer_chain(info, (const uint8_t *)tcb_chain, strlen(tcb_chain),
                                            err);
    if (!rc)
        rc = keep_tcb_info_verify(info, with_roots, crl, at, err);
    keep_tcb_info_free(info);
    return rc;
}

static int verify_file(const char *file, STACK_OF(X509) * with_roots, int64_t at,
                       struct keep_error *err)
{
    return verify_file_crl(file, with_roots, pki->root_crl, at, err);
}

/* The result of one check in a keep_collateral_report array. */
static const char *check_result(json_t *report, const char *check)
{
    size_t i;
    json_t *c;
    json_array_foreach(report, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "check")), check) == 0)
            return json_string_value(json_object_get(c, "result"));
    }
    return "(absent)";
}

static void test_exact_bytes(void)
{
    struct keep_error err = {0};
    char *file = keep_test_pcs_file(pki, "tcbInfo", tcb_body, NULL, NULL, NULL);
    is_int(verify_file(file, roots, t_mid, &err), KEEP_OK, "compact PCS file verifies (%s)",
           err.message);

    /* One byte inside the signed value: tcbEvaluationDataNumber 17 -> 18. */
    char *at = strstr(file, "\"tcbEvaluationDataNumber\":17");
    if (ok(at != NULL, "tcbEvaluationDataNumber in the file")) {
        at[26] = '8';
        is_int(verify_file(file, roots, t_mid, &err), KEEP_E_COLLATERAL_SIGNATURE,
               "one changed byte in the value breaks the signature");
        at[26] = '7';
    }
    /* Changing the signature itself. */
    at = strstr(file, "\"signature\":\"");
    if (ok(at != NULL, "signature in the file")) {
        char *hex = at + 13;
        hex[0] = hex[0] == 'a' ? 'b' : 'a';
        is_int(verify_file(file, roots, t_mid, &err), KEEP_E_COLLATERAL_SIGNATURE,
               "changed signature fails");
    }
    free(file);

    file = keep_test_pcs_file(pki, "tcbInfo", tcb_body, "\n  ", " \t", "\r\n");
    is_int(verify_file(file, roots, t_mid, &err), KEEP_OK,
           "whitespace outside the value does not matter (%s)", err.message);
    free(file);

    /* Whitespace inside the value is part of the signed bytes. */
    char *spaced = malloc(strlen(tcb_body) + 2);
    spaced[0] = '{';
    spaced[1] = ' ';
    strcpy(spaced + 2, tcb_body + 1);
    char sig[129];
    keep_test_sign_hex(pki->tcb_key, tcb_body, strlen(tcb_body), sig);
    size_t size = strlen(spaced) + 256;
    file = malloc(size);
    snprintf(file, size, "{\"tcbInfo\":%s,\"signature\":\"%s\"}", spaced, sig);
    is_int(verify_file(file, roots, t_mid, &err), KEEP_E_COLLATERAL_SIGNATURE,
           "whitespace added inside the value breaks the signature");
    free(file);
    free(spaced);

    /* A nested "tcbInfo" and a string holding braces and quotes come first. */
    keep_test_sign_hex(pki->tcb_key, tcb_body, strlen(tcb_body), sig);
    size = strlen(tcb_body) + 512;
    file = malloc(size);
    snprintf(file, size,
             "{\"note\":\"a \\\"}{\\\" \\\\\",\"x\":{\"tcbInfo\":{\"id\":\"decoy\"}},"
             "\"list\":[{\"tcbInfo\":1}],\"tcbInfo\":%s,\"signature\":\"%s\"}",
             tcb_body, sig);
    is_int(verify_file(file, roots, t_mid, &err), KEEP_OK,
           "top-level tcbInfo is cut past nested ones and escaped quotes (%s)", err.message);
    free(file);

    /* Key spelled with an escape: jansson sees tcbInfo, the raw bytes do not match. */
    size = strlen(tcb_body) + 256;
    file = malloc(size);
    snprintf(file, size, "{\"tcb\\u0049nfo\":%s,\"signature\":\"%s\"}", tcb_body, sig);
    struct keep_tcb_info *info = NULL;
    is_int(keep_tcb_info_parse(file, strlen(file), &info, &err), KEEP_E_COLLATERAL_SIGNED_RANGE,
           "an escaped key cannot be cut out exactly: refused");
    free(file);

    size = strlen(tcb_body) * 2 + 256;
    file = malloc(size);
    snprintf(file, size, "{\"tcbInfo\":%s,\"tcbInfo\":%s,\"signature\":\"%s\"}", tcb_body, tcb_body,
             sig);
    is_int(keep_tcb_info_parse(file, strlen(file), &info, &err), KEEP_E_BAD_JSON,
           "duplicate tcbInfo is refused");
    snprintf(file, size, "{\"tcbInfo\":%s}", tcb_body);
    is_int(keep_tcb_info_parse(file, strlen(file), &info, &err), KEEP_E_COLLATERAL_JSON_MISSING,
           "file without signature");
    snprintf(file, size, "{\"tcbInfo\":[1],\"signature\":\"%s\"}", sig);
    is_int(keep_tcb_info_parse(file, strlen(file), &info, &err), KEEP_E_COLLATERAL_JSON_TYPE,
           "tcbInfo that is not an object");
    free(file);
}

static void test_chain_and_time(void)
{
    struct keep_error err = {0};
    char *file = keep_test_pcs_file(pki, "tcbInfo", tcb_body, NULL, NULL, NULL);
    is_int(verify_file(file, other_roots, t_mid, &err), KEEP_E_X509_UNTRUSTED,
           "chain to another root is untrusted (%s)", err.message);
    is_int(verify_file(file, roots, t_next + 1, &err), KEEP_E_COLLATERAL_STALE,
           "stale after nextUpdate");
    is_int(verify_file(file, roots, t_issue - 1, &err), KEEP_E_COLLATERAL_NOT_YET_VALID,
           "not yet valid before issueDate");
    int64_t late = 0;
    must_ok(keep_parse_time("2031-01-01T00:00:00Z", &late, NULL));
    is_int(verify_file(file, roots, late, &err), KEEP_E_X509_CRL_EXPIRED,
           "root CA CRL expired (%s)", err.message);
    is_int(verify_file_crl(file, roots, NULL, late, &err), KEEP_E_X509_EXPIRED,
           "signing certificate expired (%s)", err.message);
    free(file);

    /* The root CA CRL lists the TCB Signing certificate. */
    struct keep_test_pki *revoked =
        keep_test_pki_new(t_issue - 86400, t_next + 365 * 86400LL, t_next + 86400);
    if (ok(revoked && keep_test_pki_revoke_tcb_signer(revoked), "root CRL revoking TCB Signing")) {
        STACK_OF(X509) *rroots = keep_test_pki_roots(revoked);
        char *rfile = keep_test_pcs_file(revoked, "tcbInfo", tcb_body, NULL, NULL, NULL);
        char *rchain = keep_test_chain_pem(revoked, revoked->tcb_signer);
        struct keep_tcb_info *rinfo = NULL;
        must_ok(keep_tcb_info_parse(rfile, strlen(rfile), &rinfo, &err));
        if (rinfo && keep_tcb_info_set_issuer_chain(rinfo, (const uint8_t *)rchain, strlen(rchain),
                                                    &err) == KEEP_OK) {
            is_int(keep_tcb_info_verify(rinfo, rroots, revoked->root_crl, t_mid, &err),
                   KEEP_E_X509_REVOKED, "revoked TCB Signing certificate (%s)", err.message);
            is_int(keep_tcb_info_verify(rinfo, rroots, NULL, t_mid, &err), KEEP_OK,
                   "the same without the CRL verifies");
        }
        keep_tcb_info_free(rinfo);
        free(rfile);
        free(rchain);
        sk_X509_pop_free(rroots, X509_free);
    }
    keep_test_pki_free(revoked);

    /*
     * Signed by the PCK Platform CA, which the root also issues: a valid chain to the root is
     * not enough, only the TCB Signing certificate (issued by the root, not a CA) may sign
     * collateral, or any key under the root could forge a TCB Info.
     */
    struct keep_test_pki as_pck_ca = *pki;
    as_pck_ca.tcb_key = pki->pck_ca_key;
    file = keep_test_pcs_file(&as_pck_ca, "tcbInfo", tcb_body, NULL, NULL, NULL);
    char *ca_chain = keep_test_chain_pem(pki, pki->pck_ca);
    struct keep_tcb_info *forged = NULL;
    int rc = keep_tcb_info_parse(file, strlen(file), &forged, &err);
    if (!rc)
        rc = keep_tcb_info_set_issuer_chain(forged, (const uint8_t *)ca_chain, strlen(ca_chain),
                                            &err);
    if (!rc)
        rc = keep_tcb_info_verify(forged, roots, pki->root_crl, t_mid, &err);
    is_int(rc, KEEP_E_COLLATERAL_SIGNER_ROLE,
           "TCB Info signed by the PCK Platform CA is refused (%s)", err.message);
    keep_tcb_info_free(forged);
    free(ca_chain);
    free(file);

    /* Signed by another TCB Signing key than the chain's. */
    file = keep_test_pcs_file(other_pki, "tcbInfo", tcb_body, NULL, NULL, NULL);
    is_int(verify_file(file, roots, t_mid, &err), KEEP_E_COLLATERAL_SIGNATURE,
           "signature by another key fails");
    free(file);

    struct keep_tcb_info *info = NULL;
    must_ok(keep_tcb_info_parse_body(tcb_body, strlen(tcb_body), NULL, &info, &err));
    if (info) {
        must_ok(keep_tcb_info_set_issuer_chain(info, (const uint8_t *)tcb_chain, strlen(tcb_chain),
                                               &err));
        is_int(keep_tcb_info_verify(info, roots, NULL, t_mid, &err), KEEP_E_COLLATERAL_MISSING,
               "no signature: reported missing");
    }
    keep_tcb_info_free(info);
}

static void test_collateral_json(void)
{
    struct keep_error err = {0};
    struct keep_collateral *coll = NULL;
    char *text = keep_test_collateral_json(pki, tcb_body, qe_body);
    if (!ok(text != NULL, "collateral.json generated"))
        return;
    is_int(keep_collateral_parse_json(text, strlen(text), &coll, &err), KEEP_OK,
           "collateral.json parses (%s)", err.message);
    if (!coll)
        goto out;
    ok(coll->tcb_info && coll->qe_identity && coll->root_ca_crl && coll->pck_crl &&
           coll->pck_crl_issuer_chain,
       "every item present");
    ok(coll->tcb_info->doc.signed_size == strlen(tcb_body), "tcb_info string is the signed text");
    is_int(keep_collateral_verify(coll, roots, t_mid, &err), KEEP_OK, "verifies (%s)", err.message);
    /* other_pki's root has the same name but another key. */
    is_int(keep_collateral_verify(coll, other_roots, t_mid, &err), KEEP_E_X509_CRL_SIGNATURE,
           "root CRL not signed by the given root (%s)", err.message);
    is_int(keep_collateral_verify(coll, roots, t_next + 2 * 86400, &err), KEEP_E_X509_CRL_EXPIRED,
           "root CRL expired later (%s)", err.message);
    json_t *report = keep_collateral_report(coll, roots, t_mid);
    is_int(json_array_size(report), 6, "report has six checks");
    size_t n_ok = 0;
    for (size_t i = 0; i < json_array_size(report); i++) {
        const char *res = json_string_value(json_object_get(json_array_get(report, i), "result"));
        n_ok += res && strcmp(res, "ok") == 0;
    }
    is_int(n_ok, 6, "every check ok at a valid time");
    json_decref(report);
    report = keep_collateral_report(coll, roots, t_next + 1);
    is_str(check_result(report, "tcb_info.freshness"), "failed", "report: stale TCB Info");
    is_str(check_result(report, "tcb_info.signature"), "ok", "report: its signature still ok");
    json_decref(report);
    STACK_OF(X509_CRL) *crls = NULL;
    is_int(keep_collateral_crls(coll, &crls, &err), KEEP_OK, "CRLs for the PCK chain");
    is_int(sk_X509_CRL_num(crls), 2, "root CA CRL and PCK CRL");
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    json_t *sum = keep_collateral_summary(coll);
    json_t *ti = json_object_get(sum, "tcb_info");
    is_str(json_string_value(json_object_get(ti, "next_update")), NEXT, "summary nextUpdate");
    is_int(json_integer_value(json_object_get(ti, "tcb_evaluation_data_number")), 17,
           "summary tcbEvaluationDataNumber");
    ok(json_is_true(json_object_get(json_object_get(sum, "pck_crl"), "present")),
       "summary pck_crl present");
    json_decref(sum);
    keep_collateral_free(coll);
    coll = NULL;

    /* Items removed or of the wrong type. */
    json_t *o = json_loads(text, 0, NULL);
    json_object_del(o, "pck_crl");
    char *less = json_dumps(o, 0);
    is_int(keep_collateral_parse_json(less, strlen(less), &coll, &err), KEEP_OK,
           "collateral without pck_crl parses");
    if (coll)
        is_int(keep_collateral_verify(coll, roots, t_mid, &err), KEEP_E_COLLATERAL_MISSING,
               "verify names the missing pck_crl: %s", err.message);
    keep_collateral_free(coll);
    coll = NULL;
    free(less);
    json_object_set_new(o, "tcb_info", json_integer(3));
    less = json_dumps(o, 0);
    is_int(keep_collateral_parse_json(less, strlen(less), &coll, &err), KEEP_E_COLLATERAL_JSON_TYPE,
           "tcb_info as a number");
    ok(strstr(err.message, "collateral.tcb_info") != NULL, "message names the member");
    free(less);
    json_object_set_new(o, "tcb_info", json_string(tcb_body));
    json_object_set_new(o, "root_ca_crl", json_string("30zz"));
    less = json_dumps(o, 0);
    ok(keep_collateral_parse_json(less, strlen(less), &coll, &err) != KEEP_OK,
       "bad root_ca_crl text fails (%s)", err.message);
    free(less);
    json_decref(o);
out:
    keep_collateral_free(coll);
    free(text);
}

static char *write_temp(const char *dir, const char *name, const void *data, size_t size)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, size, f);
        fclose(f);
    }
    return path;
}

static void test_files(void)
{
    char dir[] = "/tmp/keep-collateral-XXXXXX";
    struct keep_error err = {0};
    if (!ok(mkdtemp(dir) != NULL, "temporary directory"))
        return;
    char *tcb = keep_test_pcs_file(pki, "tcbInfo", tcb_body, NULL, NULL, "\n");
    char *qe = keep_test_pcs_file(pki, "enclaveIdentity", qe_body, NULL, NULL, "\n");
    char *pck_chain = keep_test_chain_pem(pki, pki->pck_ca);
    unsigned char *der = NULL;
    int der_size = i2d_X509_CRL(pki->root_crl, &der);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_CRL(bio, pki->pck_crl);
    char *pem;
    long pem_size = BIO_get_mem_data(bio, &pem);
    char *owned[] = {
        write_temp(dir, "tcb_info.json", tcb, strlen(tcb)),
        write_temp(dir, "tcb_chain.pem", tcb_chain, strlen(tcb_chain)),
        write_temp(dir, "qe_identity.json", qe, strlen(qe)),
        write_temp(dir, "qe_chain.pem", tcb_chain, strlen(tcb_chain)),
        write_temp(dir, "root.crl", der, (size_t)der_size),
        write_temp(dir, "pck.crl.pem", pem, (size_t)pem_size),
        write_temp(dir, "pck_chain.pem", pck_chain, strlen(pck_chain)),
    };
    struct keep_collateral_files files = {
        .tcb_info = owned[0],
        .tcb_info_issuer_chain = owned[1],
        .qe_identity = owned[2],
        .qe_identity_issuer_chain = owned[3],
        .root_ca_crl = owned[4],
        .pck_crl = owned[5],
        .pck_crl_issuer_chain = owned[6],
    };
    struct keep_collateral *coll = NULL;
    is_int(keep_collateral_from_files(&files, &coll, &err), KEEP_OK,
           "separate files parse, CRLs DER and PEM (%s)", err.message);
    if (coll)
        is_int(keep_collateral_verify(coll, roots, t_mid, &err), KEEP_OK, "and verify (%s)",
               err.message);
    keep_collateral_free(coll);
    coll = NULL;

    files.tcb_info_issuer_chain = NULL;
    is_int(keep_collateral_from_files(&files, &coll, &err), KEEP_OK, "without TCB Info chain");
    if (coll) {
        is_int(keep_collateral_verify(coll, roots, t_mid, &err), KEEP_E_COLLATERAL_MISSING,
               "TCB Info check reported missing its chain");
        ok(strstr(err.message, "tcbInfo issuer chain") != NULL, "message: %s", err.message);
        json_t *report = keep_collateral_report(coll, roots, t_mid);
        is_str(check_result(report, "tcb_info.signature"), "skipped",
               "report: TCB Info signature skipped");
        is_str(check_result(report, "qe_identity.signature"), "ok", "report: QE Identity ok");
        is_str(check_result(report, "pck_crl"), "ok", "report: PCK CRL ok");
        json_decref(report);
    }
    keep_collateral_free(coll);
    coll = NULL;

    struct keep_collateral_files missing = {.tcb_info = "/nonexistent/tcb_info.json"};
    is_int(keep_collateral_from_files(&missing, &coll, &err), KEEP_E_IO, "missing file: IO error");

    for (size_t i = 0; i < KEEP_ARRAY_LEN(owned); i++) {
        unlink(owned[i]);
        free(owned[i]);
    }
    rmdir(dir);
    free(tcb);
    free(qe);
    free(pck_chain);
    OPENSSL_free(der);
    BIO_free(bio);
}

static void test_member_text(void)
{
    struct keep_error err = {0};
    const char *cases[][2] = {
        {"{\"a\":1,\"k\":{\"x\":\"}\"}}", "{\"x\":\"}\"}"},
        {" { \"k\" :\n{ } , \"b\":[{\"k\":{}}]}", "{ }"},
        {"{\"s\":\"\\\\\",\"k\":{\"q\":\"\\\"{\"}}", "{\"q\":\"\\\"{\"}"},
    };
    for (size_t i = 0; i < KEEP_ARRAY_LEN(cases); i++) {
        const char *text = cases[i][0];
        json_t *root = json_loads(text, 0, NULL);
        size_t off = 0, len = 0;
        int rc = keep_json_member_text(text, strlen(text), root, "k", &off, &len, &err);
        ok(rc == KEEP_OK && len == strlen(cases[i][1]) && memcmp(text + off, cases[i][1], len) == 0,
           "member text case %zu: '%.*s' (%s)", i, (int)len, text + off, err.message);
        json_decref(root);
    }
}

/* A certificate for key issued by issuer (CA or not), valid 2020..2040. */
static X509 *issue(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
    X509 *x = X509_new();
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *bc = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints,
                                             ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    X509_NAME *name = X509_NAME_new();
    bool good = x && bc && name && X509_set_version(x, 2) &&
                ASN1_INTEGER_set(X509_get_serialNumber(x), 99) &&
                ASN1_TIME_set(X509_getm_notBefore(x), (time_t)1577836800) &&
                ASN1_TIME_set(X509_getm_notAfter(x), (time_t)2208988800) &&
                X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                                           -1, 0) &&
                X509_set_subject_name(x, name) &&
                X509_set_issuer_name(x, X509_get_subject_name(issuer)) && X509_set_pubkey(x, key) &&
                X509_add_ext(x, bc, -1) && X509_sign(x, issuer_key, EVP_sha256()) > 0;
    X509_EXTENSION_free(bc);
    X509_NAME_free(name);
    if (!good) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static char *pem_of(X509 *const *certs, size_t count)
{
    BIO *bio = BIO_new(BIO_s_mem());
    for (size_t i = 0; bio && i < count; i++)
        PEM_write_bio_X509(bio, certs[i]);
    char *data = NULL;
    long n = bio ? BIO_get_mem_data(bio, &data) : 0;
    char *out = n > 0 ? strndup(data, (size_t)n) : NULL;
    BIO_free(bio);
    return out;
}

/*
 * [PCS] TCB Info and Enclave Identity are signed by the Intel SGX TCB
 * Signing certificate, which the root issues directly. Any other key that
 * chains to the root (a PCK Platform CA, or a PCK certificate whose private
 * key lives on a platform and may have been extracted) must not be able to
 * vouch for a TCB status.
 */
static void test_signer_role(void)
{
    struct keep_error err = {0};
    EVP_PKEY *pck_key = EVP_EC_gen("P-256");
    X509 *pck =
        pck_key ? issue("keep test PCK", pck_key, pki->pck_ca, pki->pck_ca_key, false) : NULL;
    if (!ok(pck != NULL, "a PCK-like leaf under the PCK Platform CA")) {
        EVP_PKEY_free(pck_key);
        return;
    }
    const struct {
        EVP_PKEY *key;
        X509 *chain[3];
        size_t chain_len;
        const char *what;
    } signers[] = {
        {pck_key, {pck, pki->pck_ca, pki->root}, 3, "a PCK certificate (two below the root)"},
        {pki->pck_ca_key, {pki->pck_ca, pki->root}, 2, "the PCK Platform CA (a CA)"},
    };
    for (size_t i = 0; i < KEEP_ARRAY_LEN(signers); i++) {
        struct keep_test_pki as = *pki;
        as.tcb_key = signers[i].key;
        char *file = keep_test_pcs_file(&as, "tcbInfo", tcb_body, NULL, NULL, NULL);
        char *chain = pem_of(signers[i].chain, signers[i].chain_len);
        struct keep_tcb_info *info = NULL;
        int rc = keep_tcb_info_parse(file, strlen(file), &info, &err);
        if (!rc)
            rc = keep_tcb_info_set_issuer_chain(info, (const uint8_t *)chain, strlen(chain), &err);
        if (!rc)
            rc = keep_tcb_info_verify(info, roots, pki->root_crl, t_mid, &err);
        is_int(rc, KEEP_E_COLLATERAL_SIGNER_ROLE, "TCB Info signed by %s is refused (%s)",
               signers[i].what, rc ? err.message : "accepted");
        keep_tcb_info_free(info);
        free(file);
        free(chain);
    }
    X509_free(pck);
    EVP_PKEY_free(pck_key);
}

int main(void)
{
    setup();
    test_member_text();
    test_exact_bytes();
    test_chain_and_time();
    test_signer_role();
    test_collateral_json();
    test_files();
    free(tcb_body);
    free(qe_body);
    free(tcb_chain);
    sk_X509_pop_free(roots, X509_free);
    sk_X509_pop_free(other_roots, X509_free);
    keep_test_pki_free(pki);
    keep_test_pki_free(other_pki);
    return done_testing();
}
