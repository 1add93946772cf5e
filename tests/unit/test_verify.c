/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libkeep-attest end to end through the public API (include/keep/attest.h)
 * on synthetic evidence: SEV-SNP reports under a generated AMD PKI
 * (tests/support/snp_gen.h) and SGX/TDX quotes under a generated Intel PCK
 * hierarchy (tests/support/quote_gen.h). Genuineness failures must give
 * INVALID, policy failures REJECT, and the verifier's cache must neither be
 * bypassed nor trusted beyond a certificate's validity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <jansson.h>

#include "attest/kvm_evidence.h"
#include "attest/quote.h"
#include "attest/verify.h"
#include "keep/attest.h"
#include "common/util.h"
#include "support/collateral_gen.h"
#include "support/quote_gen.h"
#include "support/snp_gen.h"
#include "tap.h"

static struct keep_attest_verifier *verifier;

static struct keep_attest_result *verify(const struct keep_attest_input *in, const char *policy)
{
    struct keep_attest_policy *p = NULL;
    struct keep_attest_result *r = NULL;
    struct keep_error err = {0};
    if (policy && keep_attest_policy_parse(policy, strlen(policy), &p, &err)) {
        printf("Bail out! policy %s: %s\n", policy, err.message);
        exit(1);
    }
    if (keep_attest_verify(verifier, in, p, &r, &err)) {
        printf("Bail out! keep_attest_verify: %s\n", err.message);
        exit(1);
    }
    keep_attest_policy_free(p);
    return r;
}

/* The verdict is `want` and, when code != 0, an error has that code. */
static void expect(const struct keep_attest_input *in, const char *policy,
                   enum keep_attest_verdict want, int code, const char *what)
{
    struct keep_attest_result *r = verify(in, policy);
    bool good = keep_attest_result_verdict(r) == want &&
                (code ? keep_attest_result_has_error(r, code)
                      : (want == KEEP_ATTEST_ACCEPT) == (keep_attest_result_error_count(r) == 0));
    ok(good, "%s: %s%s%s", what, keep_attest_verdict_name(want), code ? " with " : "",
       code ? keep_err_name(code) : "");
    if (!good) {
        diag("got %s", keep_attest_verdict_name(keep_attest_result_verdict(r)));
        for (size_t i = 0; i < keep_attest_result_error_count(r); i++)
            diag("  %s: %s", keep_err_name(keep_attest_result_error(r, i)->code),
                 keep_attest_result_error(r, i)->message);
    }
    keep_attest_result_free(r);
}

static const struct keep_attest_check *find_check(const struct keep_attest_result *r,
                                                  const char *name)
{
    for (size_t i = 0; i < keep_attest_result_check_count(r); i++)
        if (strcmp(keep_attest_result_check(r, i)->name, name) == 0)
            return keep_attest_result_check(r, i);
    return NULL;
}

/* ---- SEV-SNP ------------------------------------------------------------ */

/* A roots folder for the verifier: amd/ -> the generated AMD PKI, intel/ -> the shipped root. */
static char roots_dir[256];

static void make_roots_dir(struct snp_gen *g)
{
    char link[512], target[512];
    const char *src = getenv("KEEP_SOURCE_ROOT");
    snprintf(roots_dir, sizeof(roots_dir), "/tmp/keep-test-verify-XXXXXX");
    if (!mkdtemp(roots_dir) || !src) {
        printf("Bail out! cannot make the roots folder (KEEP_SOURCE_ROOT %s)\n",
               src ? src : "unset");
        exit(1);
    }
    snprintf(link, sizeof(link), "%s/amd", roots_dir);
    if (symlink(snp_gen_roots_dir(g), link) != 0)
        exit(1);
    snprintf(link, sizeof(link), "%s/intel", roots_dir);
    snprintf(target, sizeof(target), "%s/data/roots/intel", src);
    if (symlink(target, link) != 0)
        exit(1);
}

static void remove_roots_dir(void)
{
    char link[512];
    snprintf(link, sizeof(link), "%s/amd", roots_dir);
    unlink(link);
    snprintf(link, sizeof(link), "%s/intel", roots_dir);
    unlink(link);
    rmdir(roots_dir);
}

static char *der_to_pem(const uint8_t *der, size_t size)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)size);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(bio);
    X509_free(x);
    return out;
}

static void test_snp(struct snp_gen *g)
{
    uint8_t report[KEEP_SNP_REPORT_SIZE], vlek_report[KEEP_SNP_REPORT_SIZE];
    uint8_t *vcek = NULL, *vlek = NULL;
    size_t vcek_size, vlek_size;
    snp_gen_default_cert_der(g, KEEP_AMD_VCEK, &vcek, &vcek_size);
    snp_gen_default_cert_der(g, KEEP_AMD_VLEK, &vlek, &vlek_size);
    snp_gen_report(g, KEEP_AMD_VCEK, 2, report);
    snp_gen_report(g, KEEP_AMD_VLEK, 3, vlek_report);

    struct keep_attest_input in = {.has_time = true, .time = SNP_GEN_TIME};
    in.evidence = (struct keep_attest_blob){report, sizeof(report)};
    in.vcek = (struct keep_attest_blob){vcek, vcek_size};

    struct keep_attest_result *r = verify(&in, NULL);
    is_int(keep_attest_result_verdict(r), KEEP_ATTEST_ACCEPT, "SNP v2 report, default policy");
    is_int(keep_attest_result_tee(r), KEEP_ATTEST_TEE_SNP, "tee is snp");
    ok(strstr(keep_attest_result_claims(r), "4d4d4d4d") != NULL, "claims carry the measurement");
    ok(strstr(keep_attest_result_claims(r), "\"endorsement\"") != NULL,
       "claims carry what the VCEK endorses");
    static const char *const ran[] = {"snp.report_format", "snp.endorsement_chain",
                                      "snp.report_signature", "policy"};
    for (size_t i = 0; i < sizeof(ran) / sizeof(ran[0]); i++) {
        const struct keep_attest_check *c = find_check(r, ran[i]);
        ok(c && c->state == KEEP_ATTEST_CHECK_PASSED, "check %s passed", ran[i]);
    }
    const struct keep_attest_check *crl_check = find_check(r, "amd.crl");
    ok(crl_check && crl_check->state == KEEP_ATTEST_CHECK_SKIPPED &&
           strstr(crl_check->detail, "CRL"),
       "check amd.crl skipped, saying why");
    ok(keep_attest_result_tcb_status(r) == NULL, "no Intel TCB status for SNP");
    ok(strstr(keep_attest_result_json(r), "\"verdict\": \"accept\"") != NULL,
       "the JSON result says accept");
    keep_attest_result_free(r);

    /* The cache: one signer for many reports, re-checked against each time. */
    for (int i = 0; i < 3; i++)
        expect(&in, NULL, KEEP_ATTEST_ACCEPT, 0, "SNP report again (cached signer)");
    is_int(keep_attest_verifier_cached_signers(verifier), 1, "one cached signer");
    in.time = SNP_GEN_TIME + 6 * 365 * 86400LL; /* 2031-12: after the VCEK's notAfter */
    expect(&in, NULL, KEEP_ATTEST_INVALID, KEEP_E_X509_EXPIRED,
           "cached signer used after the VCEK expired");
    in.time = SNP_GEN_TIME;

    /* Genuineness failures are INVALID. */
    report[0x90] ^= 1;
    expect(&in, NULL, KEEP_ATTEST_INVALID, KEEP_E_SNP_SIGNATURE_INVALID, "measurement changed");
    report[0x90] ^= 1;
    in.vcek = (struct keep_attest_blob){vlek, vlek_size};
    expect(&in, NULL, KEEP_ATTEST_INVALID, KEEP_E_SNP_KEY_SELECTION, "VCEK report with the VLEK");
    in.vcek = (struct keep_attest_blob){0};
    expect(&in, NULL, KEEP_ATTEST_INVALID, KEEP_E_ATTEST_ENDORSEMENT_MISSING, "no certificate");
    in.vcek = (struct keep_attest_blob){vcek, vcek_size};
    struct keep_amd_tcb tcb = snp_gen_default_tcb(g);
    uint8_t bumped[KEEP_SNP_REPORT_SIZE];
    memcpy(bumped, report, sizeof(bumped));
    bumped[0x180] = (uint8_t)(tcb.bootloader + 1); /* reported_tcb.bootloader */
    snp_gen_sign(g, KEEP_AMD_VCEK, bumped);
    in.evidence = (struct keep_attest_blob){bumped, sizeof(bumped)};
    expect(&in, NULL, KEEP_ATTEST_INVALID, KEEP_E_SNP_TCB_MISMATCH,
           "signed report claiming a TCB its VCEK does not endorse");

    /* Policy failures are REJECT, only after the signature verified. */
    memcpy(bumped, report, sizeof(bumped));
    snp_gen_put_u64(bumped, 0x008, 0x30000 | (1u << 19)); /* POLICY.DEBUG */
    snp_gen_sign(g, KEEP_AMD_VCEK, bumped);
    expect(&in, NULL, KEEP_ATTEST_REJECT, KEEP_E_POLICY_DEBUG, "debug guest, default policy");
    expect(&in, "{\"allow_debug\": true}", KEEP_ATTEST_ACCEPT, 0, "debug guest, debug allowed");
    bumped[0x90] ^= 1;
    expect(&in, "{\"allow_debug\": true}", KEEP_ATTEST_INVALID, KEEP_E_SNP_SIGNATURE_INVALID,
           "forged debug guest with debug allowed");
    in.evidence = (struct keep_attest_blob){report, sizeof(report)};
    char policy[512];
    snprintf(policy, sizeof(policy),
             "{\"min_tcb\": {\"bootloader\": %u, \"microcode\": %u}, \"vmpl\": [0],"
             " \"report_data\": {\"sha256_of\": \"00\"}}",
             tcb.bootloader, tcb.microcode + 1);
    r = verify(&in, policy);
    ok(keep_attest_result_verdict(r) == KEEP_ATTEST_REJECT &&
           keep_attest_result_has_error(r, KEEP_E_POLICY_MIN_TCB) &&
           keep_attest_result_has_error(r, KEEP_E_POLICY_REPORT_DATA) &&
           keep_attest_result_error_count(r) == 2,
       "microcode below the minimum and report_data unbound: both reported");
    keep_attest_result_free(r);

    /* The VLEK, and the --cert-chain form (leaf first, then ASVK and ARK). */
    in.evidence = (struct keep_attest_blob){vlek_report, sizeof(vlek_report)};
    in.vcek = (struct keep_attest_blob){vlek, vlek_size};
    expect(&in, NULL, KEEP_ATTEST_ACCEPT, 0, "SNP v3 report signed by the VLEK");
    uint8_t *chain = NULL;
    size_t chain_size = 0;
    snp_gen_chain_pem(g, KEEP_AMD_VLEK, true, &chain, &chain_size);
    char *leaf = der_to_pem(vlek, vlek_size);
    size_t bundle_size = strlen(leaf) + chain_size;
    char *bundle = malloc(bundle_size);
    memcpy(bundle, leaf, strlen(leaf));
    memcpy(bundle + strlen(leaf), chain, chain_size);
    in.vcek = (struct keep_attest_blob){0};
    in.cert_chain = (struct keep_attest_blob){bundle, bundle_size};
    expect(&in, NULL, KEEP_ATTEST_ACCEPT, 0, "VLEK, ASVK and ARK as one --cert-chain bundle");
    in.cert_chain = (struct keep_attest_blob){chain, chain_size};
    expect(&in, NULL, KEEP_ATTEST_INVALID, 0, "a bundle without the VLEK");

    /* An ARK CRL revoking the ASK: not cached, checked every time. */
    uint8_t *crl = NULL;
    size_t crl_size = 0;
    snp_gen_crl_der(g, true, SNP_GEN_TIME - 86400, SNP_GEN_TIME + 86400, &crl, &crl_size);
    in.evidence = (struct keep_attest_blob){report, sizeof(report)};
    in.cert_chain = (struct keep_attest_blob){0};
    in.vcek = (struct keep_attest_blob){vcek, vcek_size};
    in.amd_crl = (struct keep_attest_blob){crl, crl_size};
    expect(&in, NULL, KEEP_ATTEST_INVALID, KEEP_E_X509_REVOKED, "ASK revoked by the ARK CRL");
    free(crl);
    snp_gen_crl_der(g, false, SNP_GEN_TIME - 86400, SNP_GEN_TIME + 86400, &crl, &crl_size);
    in.amd_crl = (struct keep_attest_blob){crl, crl_size};
    r = verify(&in, NULL);
    const struct keep_attest_check *c = find_check(r, "amd.crl");
    ok(keep_attest_result_verdict(r) == KEEP_ATTEST_ACCEPT && c &&
           c->state == KEEP_ATTEST_CHECK_PASSED,
       "an ARK CRL revoking nothing: accepted, amd.crl passed");
    keep_attest_result_free(r);

    free(crl);
    free(bundle);
    free(leaf);
    free(chain);
    free(vcek);
    free(vlek);
}

static void test_snp_turin(void)
{
    struct snp_gen *g = snp_gen_new(KEEP_AMD_TURIN);
    uint8_t report[KEEP_SNP_REPORT_SIZE];
    uint8_t *vcek = NULL;
    size_t vcek_size;
    snp_gen_default_cert_der(g, KEEP_AMD_VCEK, &vcek, &vcek_size);
    snp_gen_report(g, KEEP_AMD_VCEK, 3, report);
    /* Its own roots folder: the Turin PKI is another generated one. */
    char saved[256];
    memcpy(saved, roots_dir, sizeof(saved));
    struct keep_attest_verifier *main_verifier = verifier;
    make_roots_dir(g);
    struct keep_error err = {0};
    ok(keep_attest_verifier_new(roots_dir, &verifier, &err) == KEEP_OK, "Turin verifier (%s)",
       err.message);
    struct keep_attest_input in = {.has_time = true, .time = SNP_GEN_TIME};
    in.evidence = (struct keep_attest_blob){report, sizeof(report)};
    in.vcek = (struct keep_attest_blob){vcek, vcek_size};
    struct keep_amd_tcb tcb = snp_gen_default_tcb(g);
    char policy[128];
    snprintf(policy, sizeof(policy), "{\"min_tcb\": {\"fmc\": %u}}", tcb.fmc);
    expect(&in, policy, KEEP_ATTEST_ACCEPT, 0, "Turin report at the fmc minimum");
    snprintf(policy, sizeof(policy), "{\"min_tcb\": {\"fmc\": %u}}", tcb.fmc + 1);
    expect(&in, policy, KEEP_ATTEST_REJECT, KEEP_E_POLICY_MIN_TCB, "Turin report below fmc");

    /*
     * A version 2 report does not say which CPU made it (CPUID_* from version 3, ABI 56860
     * Table 23); the Turin VCEK that verified it decides the TCB layout that policy and claims
     * see, not the Milan/Genoa layout the parser had to assume.
     */
    snp_gen_report(g, KEEP_AMD_VCEK, 2, report);
    snprintf(policy, sizeof(policy), "{\"min_tcb\": {\"fmc\": %u, \"snp\": %u, \"tee\": %u}}",
             tcb.fmc, tcb.snp, tcb.tee);
    expect(&in, policy, KEEP_ATTEST_ACCEPT, 0, "Turin v2 report: policy sees the Turin TCB");
    snprintf(policy, sizeof(policy), "{\"min_tcb\": {\"snp\": %u}}", tcb.snp + 1);
    expect(&in, policy, KEEP_ATTEST_REJECT, KEEP_E_POLICY_MIN_TCB, "Turin v2 report below snp");
    struct keep_attest_result *r = verify(&in, NULL);
    json_t *claims = json_loads(keep_attest_result_claims(r), 0, NULL);
    json_t *reported = json_object_get(claims, "reported_tcb");
    ok(json_integer_value(json_object_get(reported, "fmc")) == tcb.fmc &&
           json_integer_value(json_object_get(reported, "snp")) == tcb.snp,
       "Turin v2 report: claims.reported_tcb is split in the Turin layout (fmc %u, snp %u)",
       tcb.fmc, tcb.snp);
    json_decref(claims);
    keep_attest_result_free(r);
    keep_attest_verifier_free(verifier);
    remove_roots_dir();
    verifier = main_verifier;
    memcpy(roots_dir, saved, sizeof(saved));
    free(vcek);
    snp_gen_free(g);
}

/* ---- SGX and TDX -------------------------------------------------------- */

static uint8_t *crl_der(X509_CRL *crl, size_t *size)
{
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(crl, &der);
    *size = n > 0 ? (size_t)n : 0;
    return der;
}

static void test_quotes(void)
{
    struct qgen_pki pki;
    struct keep_error err = {0};
    if (qgen_pki_new(&pki, NULL) != 0) {
        ok(0, "generate the Intel test PKI");
        return;
    }
    ok(keep_attest_verifier_set_intel_root(verifier, pki.root, &err) == KEEP_OK,
       "trust the test Intel root");
    static const char no_coll[] = "{\"allow_missing_collateral\": true}";
    struct qgen_quote_opts o = {.version = 3};
    memset(o.measurement, 0x5e, sizeof(o.measurement));
    const uint8_t nonce[] = "nonce-1234";
    unsigned md_size;
    EVP_Digest(nonce, sizeof(nonce) - 1, o.report_data, &md_size, EVP_sha256(), NULL);
    uint8_t *q = NULL;
    size_t size = 0;
    struct qgen_layout layout;
    if (qgen_quote(&pki, &o, &q, &size, &layout) != 0) {
        ok(0, "generate an SGX quote");
        return;
    }
    struct keep_attest_input in = {0};
    in.evidence = (struct keep_attest_blob){q, size};
    struct keep_attest_result *r = verify(&in, NULL);
    ok(keep_attest_result_verdict(r) == KEEP_ATTEST_REJECT &&
           keep_attest_result_error_count(r) == 1 &&
           keep_attest_result_has_error(r, KEEP_E_POLICY_COLLATERAL_MISSING),
       "SGX quote without collateral: rejected for that alone by the default policy");
    const struct keep_attest_check *c = find_check(r, "tcb.level");
    ok(c && c->state == KEEP_ATTEST_CHECK_SKIPPED, "tcb.level skipped: %s", c ? c->detail : "");
    keep_attest_result_free(r);
    expect(&in, no_coll, KEEP_ATTEST_ACCEPT, 0, "SGX quote, collateral not required");
    expect(&in,
           "{\"allow_missing_collateral\": true, \"mrenclave\": "
           "[\"5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e\"],"
           " \"report_data\": {\"sha256_of\": \"6e6f6e63652d31323334\"}}",
           KEEP_ATTEST_ACCEPT, 0, "SGX quote, mrenclave and nonce binding");
    expect(&in, "{\"allow_missing_collateral\": true, \"report_data\": {\"sha256_of\": \"00\"}}",
           KEEP_ATTEST_REJECT, KEEP_E_POLICY_REPORT_DATA, "SGX quote, another nonce");
    expect(&in, "{\"allow_missing_collateral\": true, \"measurement\": []}", KEEP_ATTEST_REJECT,
           KEEP_E_POLICY_NOT_APPLICABLE, "SGX quote, an SNP measurement rule");
    q[layout.body_off + 64] ^= 1; /* mr_enclave */
    expect(&in, no_coll, KEEP_ATTEST_INVALID, KEEP_E_QUOTE_SIGNATURE, "SGX body changed");
    q[layout.body_off + 64] ^= 1;
    q[layout.qe_report_sig_off] ^= 1;
    expect(&in, no_coll, KEEP_ATTEST_INVALID, KEEP_E_QUOTE_QE_REPORT_SIGNATURE,
           "QE report signature changed");
    q[layout.qe_report_sig_off] ^= 1;

    /* CRLs: the PCK revoked by its CA's CRL; a CRL that is fine. */
    X509_CRL *revoking = qgen_crl(pki.ca, pki.ca_key, pki.pck, 1577836800, 2208988800);
    X509_CRL *clean = qgen_crl(pki.root, pki.root_key, NULL, 1577836800, 2208988800);
    size_t rev_size, clean_size;
    uint8_t *rev_der = crl_der(revoking, &rev_size), *clean_der = crl_der(clean, &clean_size);
    in.pck_crl = (struct keep_attest_blob){rev_der, rev_size};
    in.root_ca_crl = (struct keep_attest_blob){clean_der, clean_size};
    expect(&in, no_coll, KEEP_ATTEST_INVALID, KEEP_E_X509_REVOKED, "PCK revoked by the PCK CRL");
    in.pck_crl = (struct keep_attest_blob){0};
    r = verify(&in, NULL);
    const struct keep_error *e = keep_attest_result_error(r, 0);
    ok(e && e->code == KEEP_E_POLICY_COLLATERAL_MISSING && strstr(e->message, "pck_crl") &&
           !strstr(e->message, "root_ca_crl"),
       "root CA CRL given: only the others are missing (%s)", e ? e->message : "");
    keep_attest_result_free(r);
    in.root_ca_crl = (struct keep_attest_blob){0};
    OPENSSL_free(rev_der);
    OPENSSL_free(clean_der);
    X509_CRL_free(revoking);
    X509_CRL_free(clean);

    /* Debug enclave. */
    free(q);
    o.attributes_flags = KEEP_SGX_ATTR_INIT | KEEP_SGX_ATTR_MODE64BIT | KEEP_SGX_ATTR_DEBUG;
    qgen_quote(&pki, &o, &q, &size, &layout);
    in.evidence = (struct keep_attest_blob){q, size};
    expect(&in, no_coll, KEEP_ATTEST_REJECT, KEEP_E_POLICY_DEBUG, "SGX debug enclave");
    expect(&in, "{\"allow_missing_collateral\": true, \"allow_debug\": true}", KEEP_ATTEST_ACCEPT,
           0, "SGX debug enclave, debug allowed");
    free(q);

    /* TDX v4 and v5. */
    struct qgen_quote_opts t = {.version = 4};
    memset(t.measurement, 0x7d, sizeof(t.measurement));
    qgen_quote(&pki, &t, &q, &size, &layout);
    in.evidence = (struct keep_attest_blob){q, size};
    in.format = KEEP_ATTEST_FORMAT_TDX;
    expect(&in, no_coll, KEEP_ATTEST_ACCEPT, 0, "TDX v4 quote");
    expect(&in,
           "{\"allow_missing_collateral\": true, \"mrtd\": {\"deny\": "
           "[\"7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d7d"
           "7d7d7d7d7d7d7d7d\"]}}",
           KEEP_ATTEST_REJECT, KEEP_E_POLICY_MRTD_DENIED, "TDX v4 quote, mrtd denied");
    in.format = KEEP_ATTEST_FORMAT_SGX;
    expect(&in, no_coll, KEEP_ATTEST_INVALID, KEEP_E_ATTEST_FORMAT_MISMATCH, "TDX quote as SGX");
    in.format = KEEP_ATTEST_FORMAT_AUTO;
    free(q);
    t.td_attributes = KEEP_TD_ATTR_DEBUG;
    t.version = 5;
    qgen_quote(&pki, &t, &q, &size, &layout);
    in.evidence = (struct keep_attest_blob){q, size};
    r = verify(&in, no_coll);
    ok(keep_attest_result_verdict(r) == KEEP_ATTEST_REJECT &&
           keep_attest_result_has_error(r, KEEP_E_POLICY_DEBUG) &&
           keep_attest_result_tee(r) == KEEP_ATTEST_TEE_TDX,
       "TDX v5 debug TD: rejected for debug");
    keep_attest_result_free(r);

    /* keep_attest_show parses without verifying. */
    enum keep_attest_tee tee;
    char *claims = NULL;
    ok(keep_attest_show(KEEP_ATTEST_FORMAT_AUTO, q, size, &tee, &claims, &err) == KEEP_OK &&
           tee == KEEP_ATTEST_TEE_TDX && strstr(claims, "\"mr_td\""),
       "show: a TDX v5 quote's claims");
    free(claims);
    ok(keep_attest_show(KEEP_ATTEST_FORMAT_AUTO, q, 10, &tee, &claims, &err) != KEEP_OK && !claims,
       "show: a truncated quote fails (%s)", err.message);
    free(q);
    qgen_pki_free(&pki);
}

/*
 * Intel collateral under the same generated root as the quote's PCK chain:
 * a TCB Signing certificate issued by the qgen root, CRLs by the root and
 * the PCK CA, TCB Info and QE Identity signed as Intel PCS signs them
 * (tests/support/collateral_gen.h), in the collateral.json form.
 */
static X509 *issue_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    X509_EXTENSION *bc =
        X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:FALSE");
    X509_EXTENSION *ku =
        X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage, "critical,digitalSignature,nonRepudiation");
    bool good = x && name && bc && ku && X509_set_version(x, 2) &&
                ASN1_INTEGER_set(X509_get_serialNumber(x), 77) &&
                ASN1_TIME_set(X509_getm_notBefore(x), (time_t)1577836800) && /* 2020-01-01 */
                ASN1_TIME_set(X509_getm_notAfter(x), (time_t)2208988800) &&  /* 2040-01-01 */
                X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1,
                                           -1, 0) &&
                X509_set_subject_name(x, name) &&
                X509_set_issuer_name(x, X509_get_subject_name(issuer)) && X509_set_pubkey(x, key) &&
                X509_add_ext(x, bc, -1) && X509_add_ext(x, ku, -1) &&
                X509_sign(x, issuer_key, EVP_sha256()) > 0;
    X509_EXTENSION_free(bc);
    X509_EXTENSION_free(ku);
    X509_NAME_free(name);
    if (!good) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static char *qe_identity_body(const struct keep_sgx_report_body *qe, bool other_mrsigner)
{
    char misc[9], attrs[33], mrsigner[65];
    snprintf(misc, sizeof(misc), "%08X", qe->misc_select);
    keep_hex_encode(qe->attributes, 16, attrs);
    keep_hex_encode(qe->mr_signer, 32, mrsigner);
    if (other_mrsigner)
        mrsigner[0] = mrsigner[0] == '0' ? '1' : '0';
    json_t *o = json_pack(
        "{s:s, s:i, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:i, s:[{s:{s:i}, s:s, s:s}]}", "id",
        "QE", "version", 2, "issueDate", "2025-01-01T00:00:00Z", "nextUpdate",
        "2027-01-01T00:00:00Z", "tcbEvaluationDataNumber", 17, "miscselect", misc, "miscselectMask",
        "FFFFFFFF", "attributes", attrs, "attributesMask", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        "mrsigner", mrsigner, "isvprodid", qe->isv_prod_id, "tcbLevels", "tcb", "isvsvn",
        qe->isv_svn, "tcbDate", "2024-03-13T00:00:00Z", "tcbStatus", "UpToDate");
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

struct coll_variant {
    const char *fmspc;
    bool other_qe_mrsigner;
    bool revoke_pck;
};

static char *make_collateral(struct qgen_pki *pki, EVP_PKEY *tcb_key, X509 *tcb_signer,
                             const struct keep_sgx_report_body *qe, const struct coll_variant *v)
{
    /* Platform components are all 3, PCESVN 11: the second level matches. */
    static const struct keep_test_tcb_level levels[] = {
        {.sgx = {4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4},
         .pcesvn = 11,
         .status = "UpToDate"},
        {.sgx = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3},
         .pcesvn = 11,
         .status = "SWHardeningNeeded",
         .advisories = "INTEL-SA-00334,INTEL-SA-00615"},
        {.pcesvn = 0, .status = "OutOfDate", .advisories = "INTEL-SA-00001"},
    };
    struct keep_test_tcb_spec spec = {.id = "SGX",
                                      .version = 3,
                                      .issue_date = "2025-01-01T00:00:00Z",
                                      .next_update = "2027-01-01T00:00:00Z",
                                      .fmspc = v->fmspc ? v->fmspc : "00906ea10000",
                                      .pce_id = "0000",
                                      .levels = levels,
                                      .level_count = 3};
    struct keep_test_pki cp = {
        .root_key = pki->root_key,
        .root = pki->root,
        .tcb_key = tcb_key,
        .tcb_signer = tcb_signer,
        .pck_ca_key = pki->ca_key,
        .pck_ca = pki->ca,
        /* CRLs current until 2027-06-01, after the TCB Info's nextUpdate. */
        .root_crl = qgen_crl(pki->root, pki->root_key, NULL, 1735689600, 1811808000),
        .pck_crl =
            qgen_crl(pki->ca, pki->ca_key, v->revoke_pck ? pki->pck : NULL, 1735689600, 1811808000),
    };
    char *tcb_body = keep_test_tcb_info_body(&spec);
    char *qe_body = qe_identity_body(qe, v->other_qe_mrsigner);
    char *text = keep_test_collateral_json(&cp, tcb_body, qe_body);
    free(tcb_body);
    free(qe_body);
    X509_CRL_free(cp.root_crl);
    X509_CRL_free(cp.pck_crl);
    return text;
}

static void test_quote_collateral(void)
{
    struct qgen_pck_opts po = {.pcesvn = 11};
    memcpy(po.fmspc, "\x00\x90\x6e\xa1\x00\x00", 6);
    memset(po.cpusvn, 3, sizeof(po.cpusvn));
    struct qgen_pki pki;
    struct keep_error err = {0};
    if (qgen_pki_new(&pki, &po) != 0) {
        ok(0, "generate the Intel test PKI with a known TCB");
        return;
    }
    must_ok(keep_attest_verifier_set_intel_root(verifier, pki.root, &err));
    struct qgen_quote_opts o = {.version = 3};
    uint8_t *q = NULL;
    size_t size = 0;
    struct qgen_layout layout;
    struct keep_quote parsed;
    if (qgen_quote(&pki, &o, &q, &size, &layout) != 0 ||
        keep_quote_parse(q, size, &parsed, &err) != KEEP_OK) {
        ok(0, "generate an SGX quote (%s)", err.message);
        return;
    }
    EVP_PKEY *tcb_key = EVP_EC_gen("P-256");
    X509 *tcb_signer = issue_cert("Intel SGX TCB Signing", tcb_key, pki.root, pki.root_key);
    struct coll_variant plain = {0};
    char *coll = make_collateral(&pki, tcb_key, tcb_signer, &parsed.qe_report, &plain);
    ok(coll != NULL, "synthetic collateral.json under the quote's root");

    struct keep_attest_input in = {.has_time = true, .time = SNP_GEN_TIME};
    in.evidence = (struct keep_attest_blob){q, size};
    in.collateral_json = (struct keep_attest_blob){coll, coll ? strlen(coll) : 0};
    struct keep_attest_result *r = verify(&in, NULL);
    is_int(keep_attest_result_verdict(r), KEEP_ATTEST_REJECT,
           "synthetic collateral: default policy rejects SWHardeningNeeded");
    is_str(keep_attest_result_tcb_status(r), "SWHardeningNeeded", "synthetic collateral: status");
    ok(keep_attest_result_advisory_count(r) == 2 &&
           strcmp(keep_attest_result_advisory(r, 0), "INTEL-SA-00334") == 0,
       "synthetic collateral: the matched level's advisories");
    size_t skipped = 0;
    for (size_t i = 0; i < keep_attest_result_check_count(r); i++)
        skipped += keep_attest_result_check(r, i)->state == KEEP_ATTEST_CHECK_SKIPPED;
    is_int(skipped, 0, "synthetic collateral: every check ran");
    for (size_t i = 0; i < keep_attest_result_error_count(r); i++)
        diag("%s", keep_attest_result_error(r, i)->message);
    keep_attest_result_free(r);
    static const char accept[] =
        "{\"tcb_statuses\": [\"SWHardeningNeeded\"],"
        " \"allowed_advisories\": [\"INTEL-SA-00334\", \"INTEL-SA-00615\"]}";
    expect(&in, accept, KEEP_ATTEST_ACCEPT, 0,
           "synthetic collateral, status and advisories allowed");
    expect(&in, accept, KEEP_ATTEST_ACCEPT, 0, "again, from the caches");
    is_int(keep_attest_verifier_cached_collateral(verifier), 1, "one cached collateral set");
    in.time = 1800000000; /* 2027-01-15: after nextUpdate, before the CRLs' */
    expect(&in, accept, KEEP_ATTEST_INVALID, KEEP_E_COLLATERAL_STALE,
           "synthetic collateral after its nextUpdate (cached set re-checked)");
    in.time = SNP_GEN_TIME;
    expect(&in, accept, KEEP_ATTEST_ACCEPT, 0,
           "synthetic collateral back inside its window: the failed re-check left nothing stale");

    /* The signed TCB Info text changed after signing. */
    char *tampered = strdup(coll);
    char *at = strstr(tampered, "SWHardeningNeeded");
    memcpy(at, "ConfigurationNeeded", 2); /* "CoHardeningNeeded..." stays valid JSON text */
    in.collateral_json = (struct keep_attest_blob){tampered, strlen(tampered)};
    expect(&in, accept, KEEP_ATTEST_INVALID, 0, "TCB Info text changed after signing");
    free(tampered);

    const struct {
        struct coll_variant v;
        int code;
        const char *what;
    } bad[] = {
        {{.fmspc = "00906ea10001"}, KEEP_E_COLLATERAL_FMSPC_MISMATCH, "TCB Info of another FMSPC"},
        {{.other_qe_mrsigner = true}, KEEP_E_COLLATERAL_QE_MRSIGNER, "QE Identity of another QE"},
        {{.revoke_pck = true}, KEEP_E_X509_REVOKED, "PCK listed in the PCK CRL"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *c = make_collateral(&pki, tcb_key, tcb_signer, &parsed.qe_report, &bad[i].v);
        in.collateral_json = (struct keep_attest_blob){c, c ? strlen(c) : 0};
        expect(&in, accept, KEEP_ATTEST_INVALID, bad[i].code, bad[i].what);
        free(c);
    }
    /*
     * A QE Identity that is given and authenticated is checked even when the
     * TCB Info cannot be used: allow_missing_collateral tolerates missing
     * items, never a present one that says the quote's QE is another QE.
     */
    struct coll_variant other_qe = {.other_qe_mrsigner = true};
    char *c = make_collateral(&pki, tcb_key, tcb_signer, &parsed.qe_report, &other_qe);
    json_t *root = c ? json_loads(c, 0, NULL) : NULL;
    json_object_del(root, "tcb_info_issuer_chain");
    char *no_tcb_chain = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    free(c);
    in.collateral_json =
        (struct keep_attest_blob){no_tcb_chain, no_tcb_chain ? strlen(no_tcb_chain) : 0};
    expect(&in, "{\"allow_missing_collateral\": true}", KEEP_ATTEST_INVALID,
           KEEP_E_COLLATERAL_QE_MRSIGNER,
           "QE Identity of another QE, TCB Info without its chain, missing collateral allowed");
    free(no_tcb_chain);
    free(coll);
    free(q);
    X509_free(tcb_signer);
    EVP_PKEY_free(tcb_key);
    qgen_pki_free(&pki);
}

/*
 * The cached PCK chain holds exactly where a fresh verification holds: at
 * the PCK's notAfter second OpenSSL already calls the certificate expired,
 * so the cache must not accept it there either.
 */
static void test_pck_cache_boundary(void)
{
    const int64_t not_after = SNP_GEN_TIME + 1000;
    struct qgen_pck_opts po = {.not_after = not_after};
    struct qgen_pki pki;
    struct keep_error err = {0};
    uint8_t *q = NULL;
    size_t size = 0;
    struct qgen_layout layout;
    struct qgen_quote_opts o = {.version = 3};
    if (qgen_pki_new(&pki, &po) != 0 || qgen_quote(&pki, &o, &q, &size, &layout) != 0) {
        ok(0, "generate a quote whose PCK expires soon");
        return;
    }
    must_ok(keep_attest_verifier_set_intel_root(verifier, pki.root, &err));
    static const char no_coll[] = "{\"allow_missing_collateral\": true}";
    struct keep_attest_input in = {.has_time = true, .time = SNP_GEN_TIME};
    in.evidence = (struct keep_attest_blob){q, size};
    expect(&in, no_coll, KEEP_ATTEST_ACCEPT, 0, "PCK inside its validity (chain now cached)");
    in.time = not_after;
    keep_attest_verifier_clear_cache(verifier);
    struct keep_attest_result *fresh = verify(&in, no_coll);
    enum keep_attest_verdict want = keep_attest_result_verdict(fresh);
    keep_attest_result_free(fresh);
    in.time = SNP_GEN_TIME;
    expect(&in, no_coll, KEEP_ATTEST_ACCEPT, 0, "PCK chain cached again");
    in.time = not_after;
    expect(&in, no_coll, want, 0, "at the PCK's notAfter the cache gives the fresh verdict");
    free(q);
    qgen_pki_free(&pki);
}

/* Unsigned evidence of plain-KVM Keeps: rejected unless the policy allows insecure Keeps. */
static void test_kvm(void)
{
    uint8_t measurement[48], report_data[64] = {9, 8, 7}, ev[KEEP_KVM_EVIDENCE_SIZE];
    memset(measurement, 0x6b, sizeof(measurement));
    keep_kvm_evidence_build(measurement, report_data, ev);
    struct keep_attest_input in = {0};
    in.evidence = (struct keep_attest_blob){ev, sizeof(ev)};
    struct keep_attest_result *r = verify(&in, NULL);
    ok(keep_attest_result_verdict(r) == KEEP_ATTEST_REJECT &&
           keep_attest_result_tee(r) == KEEP_ATTEST_TEE_KVM &&
           keep_attest_result_error_count(r) == 1 &&
           keep_attest_result_has_error(r, KEEP_E_POLICY_INSECURE_EVIDENCE),
       "kvm evidence (recognised by AUTO): rejected by the default policy as insecure");
    const struct keep_attest_check *c = find_check(r, "kvm.signature");
    ok(c && c->state == KEEP_ATTEST_CHECK_SKIPPED, "kvm: the signature check is skipped: %s",
       c ? c->detail : "");
    keep_attest_result_free(r);
    expect(&in, "{\"allow_insecure\": true}", KEEP_ATTEST_ACCEPT, 0, "kvm, insecure allowed");
    expect(&in,
           "{\"allow_insecure\": true, \"measurement\": [\"6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b"
           "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b\"], \"report_data\": "
           "\"090807\"}",
           KEEP_ATTEST_ACCEPT, 0, "kvm, insecure allowed, measurement and report_data pinned");
    expect(&in,
           "{\"allow_insecure\": true, \"measurement\": {\"deny\": [\"6b6b6b6b6b6b6b6b6b6b6b6b"
           "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b\"]}}",
           KEEP_ATTEST_REJECT, KEEP_E_POLICY_MEASUREMENT_DENIED, "kvm, measurement denied");
    expect(&in, "{\"allow_insecure\": true, \"mrtd\": []}", KEEP_ATTEST_REJECT,
           KEEP_E_POLICY_NOT_APPLICABLE, "kvm, a TDX rule");
    ev[0] ^= 1;
    in.format = KEEP_ATTEST_FORMAT_KVM;
    expect(&in, "{\"allow_insecure\": true}", KEEP_ATTEST_INVALID, KEEP_E_KVM_EVIDENCE_MAGIC,
           "kvm evidence with a bad magic");
    ev[0] ^= 1;
    enum keep_attest_tee tee;
    char *claims = NULL;
    struct keep_error err = {0};
    ok(keep_attest_show(KEEP_ATTEST_FORMAT_AUTO, ev, sizeof(ev), &tee, &claims, &err) == KEEP_OK &&
           tee == KEEP_ATTEST_TEE_KVM && strstr(claims, "\"signed\": false"),
       "show: kvm evidence says it is unsigned");
    free(claims);
}

static void test_api_misuse(void)
{
    struct keep_attest_result *r = NULL;
    struct keep_error err = {0};
    struct keep_attest_input in = {0};
    is_int(keep_attest_verify(NULL, &in, NULL, &r, &err), KEEP_E_USAGE, "verify without verifier");
    is_int(keep_attest_verify(verifier, NULL, NULL, &r, &err), KEEP_E_USAGE,
           "verify without input");
    in.format = KEEP_ATTEST_FORMAT_KVM;
    in.evidence = (struct keep_attest_blob){"kvm", 3};
    expect(&in, "{\"allow_insecure\": true}", KEEP_ATTEST_INVALID, KEEP_E_TRUNCATED,
           "3 bytes as kvm evidence");
    struct keep_attest_verifier *none = NULL;
    is_int(keep_attest_verifier_new("/nonexistent", &none, &err) != KEEP_OK && !none, 1,
           "a roots folder without the Intel root is refused (%s)", err.message);
    struct keep_attest_result *res = verify(&in, NULL);
    ok(keep_attest_result_error(res, keep_attest_result_error_count(res)) == NULL &&
           keep_attest_result_check(res, keep_attest_result_check_count(res)) == NULL &&
           keep_attest_result_advisory(res, 0) == NULL,
       "accessors return NULL past the end");
    keep_attest_result_free(res);
}

int main(void)
{
    struct snp_gen *g = snp_gen_new(KEEP_AMD_MILAN);
    struct keep_error err = {0};
    make_roots_dir(g);
    if (keep_attest_verifier_new(roots_dir, &verifier, &err) != KEEP_OK) {
        printf("Bail out! keep_attest_verifier_new(%s): %s\n", roots_dir, err.message);
        return 1;
    }
    test_snp(g);
    test_snp_turin();
    test_quotes();
    test_quote_collateral();
    test_pck_cache_boundary();
    test_kvm();
    test_api_misuse();
    keep_attest_verifier_free(verifier);
    remove_roots_dir();
    snp_gen_free(g);
    return done_testing();
}
