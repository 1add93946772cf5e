/* SPDX-License-Identifier: Apache-2.0 */
/* The appraisal policy: strict parsing, and each rule on synthetic evidence values. */
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest/policy.h"
#include "common/util.h"
#include "tap.h"

static struct keep_attest_policy *parse_ok(const char *json, const char *what)
{
    struct keep_attest_policy *p = NULL;
    struct keep_error err = {0};
    int rc = keep_policy_parse(json, strlen(json), &p, &err);
    ok(rc == KEEP_OK && p, "parse %s", what);
    if (rc)
        diag("%s", err.message);
    return p;
}

static void parse_fails(const char *json, int code, const char *needle, const char *what)
{
    struct keep_attest_policy *p = NULL;
    struct keep_error err = {0};
    int rc = keep_policy_parse(json, strlen(json), &p, &err);
    is_int(rc, code, "%s fails with %s", what, keep_err_name(code));
    ok(!p, "%s: no policy returned", what);
    if (needle)
        ok(strstr(err.message, needle) != NULL, "%s: message names '%s' (%s)", what, needle,
           err.message);
}

/* Evidence values of a genuine, non-debug SNP guest. */
static uint8_t measurement[48], report_data[64], zero48[48], mrenclave[32], mrsigner[32], mrtd[48];

static struct keep_policy_evidence snp_evidence(void)
{
    struct keep_policy_evidence ev = {0};
    ev.tee = KEEP_ATTEST_TEE_SNP;
    ev.report_data = report_data;
    ev.measurement = measurement;
    ev.id_key_digest = zero48;
    ev.author_key_digest = zero48;
    ev.guest_svn = 4;
    ev.vmpl = 0;
    ev.tcb[KEEP_POLICY_TCB_BOOTLOADER] = 3;
    ev.tcb[KEEP_POLICY_TCB_SNP] = 8;
    ev.tcb[KEEP_POLICY_TCB_MICROCODE] = 115;
    return ev;
}

static struct keep_policy_evidence sgx_evidence(const char *status)
{
    struct keep_policy_evidence ev = {0};
    ev.tee = KEEP_ATTEST_TEE_SGX;
    ev.report_data = report_data;
    ev.mrenclave = mrenclave;
    ev.mrsigner = mrsigner;
    ev.isvsvn = 2;
    ev.tcb_status = status;
    ev.missing_collateral = "";
    return ev;
}

/* Apply and return the failures; checks the count and, when code != 0, the first code. */
static void expect(const struct keep_attest_policy *p, const struct keep_policy_evidence *ev,
                   size_t n, int code, const char *what)
{
    struct keep_error_list errors = {0};
    size_t got = keep_policy_apply(p, ev, &errors);
    is_int(got, n, "%s: %zu failure(s)", what, n);
    if (code)
        ok(got >= 1 && errors.items[0].code == code, "%s: code %s", what, keep_err_name(code));
    for (size_t i = 0; i < errors.count; i++)
        diag("  %s: %s", keep_err_name(errors.items[i].code), errors.items[i].message);
    keep_error_list_free(&errors);
}

static void test_parse_errors(void)
{
    parse_fails("", KEEP_E_POLICY_JSON, NULL, "empty text");
    parse_fails("[]", KEEP_E_POLICY_JSON, "object", "an array");
    parse_fails("{\"allow_debug\": true, \"allow_debug\": false}", KEEP_E_POLICY_JSON, NULL,
                "a duplicate key");
    parse_fails("{\"allow_debgu\": true}", KEEP_E_POLICY_UNKNOWN_KEY, "allow_debgu",
                "a misspelt key");
    parse_fails("{\"allow_debug\": 1}", KEEP_E_POLICY_TYPE, "allow_debug", "a number for a bool");
    parse_fails("{\"mrenclave\": [\"00\"]}", KEEP_E_POLICY_VALUE, "mrenclave[0]",
                "a short mrenclave");
    parse_fails("{\"mrtd\": {\"allow\": [], \"deni\": []}}", KEEP_E_POLICY_UNKNOWN_KEY, "deni",
                "an unknown key inside a digest rule");
    parse_fails("{\"id_key_digest\": {\"deny\": []}}", KEEP_E_POLICY_TYPE, "id_key_digest",
                "a deny-list for a required digest");
    parse_fails("{\"min_tcb\": {\"microcode\": 256}}", KEEP_E_POLICY_VALUE, "min_tcb.microcode",
                "a TCB component above 255");
    parse_fails("{\"min_tcb\": {\"ucode\": 1}}", KEEP_E_POLICY_UNKNOWN_KEY, "ucode",
                "an unknown TCB component");
    parse_fails("{\"tcb_statuses\": [\"UptoDate\"]}", KEEP_E_POLICY_VALUE, "UptoDate",
                "a misspelt TCB status");
    /* An object with neither list would constrain nothing and escape policy.not_applicable. */
    parse_fails("{\"mrenclave\": {}}", KEEP_E_POLICY_VALUE, "mrenclave",
                "an allow/deny object with neither list");
    parse_fails("{\"vmpl\": [4]}", KEEP_E_POLICY_VALUE, "vmpl[0]", "VMPL 4");
    parse_fails("{\"vmpl\": []}", KEEP_E_POLICY_TYPE, "vmpl", "an empty VMPL list");
    parse_fails("{\"report_data\": \"abc\"}", KEEP_E_POLICY_VALUE, "report_data",
                "odd-length report_data");
    parse_fails("{\"report_data\": {\"sha512_of\": \"00\"}}", KEEP_E_POLICY_UNKNOWN_KEY,
                "sha512_of", "an unknown binding");
    parse_fails("{\"report_data\": {\"sha256_of\": \"-----BEGIN PUBLIC KEY-----\\nAAAA\\n"
                "-----END PUBLIC KEY-----\\n\"}}",
                KEEP_E_POLICY_VALUE, "PEM", "a bad PEM key");
    parse_fails("{\"tee\": [\"sev\"]}", KEEP_E_POLICY_VALUE, "tee[0]", "an unknown TEE");
    parse_fails("{\"min_isvsvn\": 65536}", KEEP_E_POLICY_VALUE, "min_isvsvn",
                "min_isvsvn above 65535");
    parse_fails("{\"min_guest_svn\": -1}", KEEP_E_POLICY_VALUE, "min_guest_svn",
                "a negative min_guest_svn");
}

static void test_debug_and_tee(void)
{
    struct keep_attest_policy *def = parse_ok("{}", "the empty policy");
    struct keep_attest_policy *dbg = parse_ok("{\"allow_debug\": true}", "allow_debug");
    struct keep_attest_policy *tee = parse_ok("{\"tee\": [\"sgx\", \"tdx\"]}", "tee list");
    struct keep_attest_policy *insecure = parse_ok("{\"allow_insecure\": true}", "allow_insecure");
    struct keep_policy_evidence ev = snp_evidence();
    expect(def, &ev, 0, 0, "release SNP guest, default policy");
    ev.debug = true;
    expect(def, &ev, 1, KEEP_E_POLICY_DEBUG, "debug SNP guest, default policy");
    expect(dbg, &ev, 0, 0, "debug SNP guest, allow_debug");
    ev.debug = false;
    expect(tee, &ev, 1, KEEP_E_POLICY_TEE, "SNP evidence, tee list sgx/tdx");
    struct keep_policy_evidence kvm = {.tee = KEEP_ATTEST_TEE_KVM};
    expect(def, &kvm, 1, KEEP_E_POLICY_INSECURE_EVIDENCE, "kvm evidence, default policy");
    expect(insecure, &kvm, 0, 0, "kvm evidence, allow_insecure");
    keep_policy_free(def);
    keep_policy_free(dbg);
    keep_policy_free(tee);
    keep_policy_free(insecure);
}

static void test_digests(void)
{
    char json[1024], m_hex[97], other_hex[97];
    uint8_t other[48];
    memset(other, 0xee, sizeof(other));
    keep_hex_encode(measurement, 48, m_hex);
    keep_hex_encode(other, 48, other_hex);
    struct keep_policy_evidence ev = snp_evidence();

    snprintf(json, sizeof(json), "{\"measurement\": [\"%s\", \"%s\"]}", other_hex, m_hex);
    struct keep_attest_policy *p = parse_ok(json, "measurement allow-list (array form)");
    expect(p, &ev, 0, 0, "measurement in the allow-list");
    keep_policy_free(p);

    snprintf(json, sizeof(json), "{\"measurement\": {\"allow\": [\"%s\"]}}", other_hex);
    p = parse_ok(json, "measurement allow-list (object form)");
    expect(p, &ev, 1, KEEP_E_POLICY_MEASUREMENT_NOT_ALLOWED, "measurement not allowed");
    keep_policy_free(p);

    snprintf(json, sizeof(json), "{\"measurement\": {\"deny\": [\"%s\"]}}", m_hex);
    p = parse_ok(json, "measurement deny-list");
    expect(p, &ev, 1, KEEP_E_POLICY_MEASUREMENT_DENIED, "measurement denied");
    keep_policy_free(p);

    p = parse_ok("{\"measurement\": []}", "an empty allow-list");
    expect(p, &ev, 1, KEEP_E_POLICY_MEASUREMENT_NOT_ALLOWED, "an empty allow-list allows nothing");
    keep_policy_free(p);

    snprintf(json, sizeof(json), "{\"id_key_digest\": [\"%s\"]}", other_hex);
    p = parse_ok(json, "id_key_digest");
    expect(p, &ev, 1, KEEP_E_POLICY_ID_KEY_DIGEST, "id_key_digest not the required one");
    keep_policy_free(p);

    snprintf(json, sizeof(json), "{\"author_key_digest\": [\"%s\"]}", other_hex);
    p = parse_ok(json, "author_key_digest");
    expect(p, &ev, 1, KEEP_E_POLICY_AUTHOR_KEY_DIGEST, "author_key_digest not the required one");
    keep_policy_free(p);

    /* An SGX rule on SNP evidence must not pass silently. */
    p = parse_ok("{\"mrenclave\": [\"" /* 32 bytes */
                 "0000000000000000000000000000000000000000000000000000000000000000\"]}",
                 "mrenclave allow-list");
    expect(p, &ev, 1, KEEP_E_POLICY_NOT_APPLICABLE, "mrenclave rule on SNP evidence");
    struct keep_policy_evidence sgx = sgx_evidence("UpToDate");
    expect(p, &sgx, 0, 0, "mrenclave rule on SGX evidence with that mrenclave");
    mrenclave[0] = 1;
    expect(p, &sgx, 1, KEEP_E_POLICY_MRENCLAVE_NOT_ALLOWED, "another mrenclave");
    mrenclave[0] = 0;
    keep_policy_free(p);

    struct keep_policy_evidence tdx = {.tee = KEEP_ATTEST_TEE_TDX,
                                       .mrtd = mrtd,
                                       .report_data = report_data,
                                       .tcb_status = "UpToDate",
                                       .missing_collateral = ""};
    uint8_t rtmr2[48] = {2};
    tdx.rtmr[0] = tdx.rtmr[1] = tdx.rtmr[3] = zero48;
    tdx.rtmr[2] = rtmr2;
    char rtmr2_hex[97];
    keep_hex_encode(rtmr2, sizeof(rtmr2), rtmr2_hex);
    snprintf(json, sizeof(json),
             "{\"rtmr2\": {\"deny\": [\"%s\"]}, \"mrtd\": {\"deny\": [\"%s\"]}}", rtmr2_hex,
             other_hex);
    p = parse_ok(json, "rtmr2 and mrtd deny-lists");
    expect(p, &tdx, 1, KEEP_E_POLICY_RTMR_DENIED, "rtmr2 denied, mrtd not");
    keep_policy_free(p);
}

static void test_report_data(void)
{
    struct keep_policy_evidence ev = snp_evidence();
    memset(report_data, 0, sizeof(report_data));
    memcpy(report_data, "\x01\x02\x03\x04\x05", 5);
    struct keep_attest_policy *p =
        parse_ok("{\"report_data\": \"0102030405\"}", "exact report_data");
    expect(p, &ev, 0, 0, "report_data equals the zero-padded value");
    report_data[63] = 1;
    expect(p, &ev, 1, KEEP_E_POLICY_REPORT_DATA, "a nonzero byte after the value");
    report_data[63] = 0;
    keep_policy_free(p);

    /* sha256_of hex bytes: the first 32 bytes of report_data are the hash, the rest free. */
    const uint8_t nonce[] = {0xde, 0xad, 0xbe, 0xef};
    unsigned size = 0;
    EVP_Digest(nonce, sizeof(nonce), report_data, &size, EVP_sha256(), NULL);
    report_data[40] = 0x77;
    p = parse_ok("{\"report_data\": {\"sha256_of\": \"deadbeef\"}}", "sha256_of hex");
    expect(p, &ev, 0, 0, "report_data starts with SHA-256(deadbeef)");
    report_data[0] ^= 1;
    expect(p, &ev, 1, KEEP_E_POLICY_REPORT_DATA, "one hash bit flipped");
    keep_policy_free(p);

    /* sha384_of a PEM public key hashes its DER SubjectPublicKeyInfo. */
    EVP_PKEY *key = EVP_EC_gen("P-256");
    unsigned char *der = NULL;
    int der_size = i2d_PUBKEY(key, &der);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, key);
    char *pem = NULL;
    long pem_size = BIO_get_mem_data(bio, &pem);
    json_t *doc = json_pack("{s:{s:s%}}", "report_data", "sha384_of", pem, (size_t)pem_size);
    char *text = json_dumps(doc, 0);
    EVP_Digest(der, (size_t)der_size, report_data, &size, EVP_sha384(), NULL);
    p = parse_ok(text, "sha384_of PEM public key");
    expect(p, &ev, 0, 0, "report_data starts with SHA-384(SPKI)");
    report_data[47] ^= 0x80;
    expect(p, &ev, 1, KEEP_E_POLICY_REPORT_DATA, "last hash byte changed");
    keep_policy_free(p);
    free(text);
    json_decref(doc);
    BIO_free(bio);
    OPENSSL_free(der);
    EVP_PKEY_free(key);
    memset(report_data, 0, sizeof(report_data));
}

static void test_snp_rules(void)
{
    struct keep_policy_evidence ev = snp_evidence();
    struct keep_attest_policy *p = parse_ok(
        "{\"min_tcb\": {\"bootloader\": 3, \"snp\": 8, \"microcode\": 115}, \"min_guest_svn\": 4, "
        "\"vmpl\": [0, 1]}",
        "SNP minimums");
    expect(p, &ev, 0, 0, "TCB, guest_svn and VMPL at the minimum");
    ev.tcb[KEEP_POLICY_TCB_MICROCODE] = 114;
    expect(p, &ev, 1, KEEP_E_POLICY_MIN_TCB, "microcode one below");
    ev.tcb[KEEP_POLICY_TCB_MICROCODE] = 115;
    ev.guest_svn = 3;
    expect(p, &ev, 1, KEEP_E_POLICY_GUEST_SVN, "guest_svn one below");
    ev.guest_svn = 4;
    ev.vmpl = 2;
    expect(p, &ev, 1, KEEP_E_POLICY_VMPL, "VMPL 2 not listed");
    ev.tcb[KEEP_POLICY_TCB_BOOTLOADER] = 0;
    ev.debug = true;
    expect(p, &ev, 3, KEEP_E_POLICY_DEBUG, "three failures are all reported");
    keep_policy_free(p);

    p = parse_ok("{\"min_tcb\": {\"fmc\": 1}}", "min_tcb.fmc");
    ev = snp_evidence();
    expect(p, &ev, 1, KEEP_E_POLICY_NOT_APPLICABLE, "fmc minimum on a Milan report");
    ev.has_fmc = true;
    ev.tcb[KEEP_POLICY_TCB_FMC] = 1;
    expect(p, &ev, 0, 0, "fmc at the minimum on a Turin report");
    keep_policy_free(p);
}

static void test_intel_rules(void)
{
    struct keep_attest_policy *def = parse_ok("{}", "default");
    struct keep_policy_evidence ev = sgx_evidence("UpToDate");
    expect(def, &ev, 0, 0, "UpToDate, default policy");
    ev = sgx_evidence("ConfigurationAndSWHardeningNeeded");
    const char *advisories[] = {"INTEL-SA-00289", "INTEL-SA-00615"};
    ev.advisories = advisories;
    ev.advisory_count = 2;
    expect(def, &ev, 3, KEEP_E_POLICY_TCB_STATUS, "status and two advisories, default policy");

    struct keep_attest_policy *p =
        parse_ok("{\"tcb_statuses\": [\"UpToDate\", \"ConfigurationAndSWHardeningNeeded\"], "
                 "\"allowed_advisories\": [\"INTEL-SA-00289\"]}",
                 "status and one advisory allowed");
    expect(p, &ev, 1, KEEP_E_POLICY_ADVISORY, "INTEL-SA-00615 not allowed");
    keep_policy_free(p);

    ev = sgx_evidence(NULL);
    ev.missing_collateral = "tcb_info, qe_identity";
    expect(def, &ev, 1, KEEP_E_POLICY_COLLATERAL_MISSING, "no collateral, default policy");
    p = parse_ok("{\"allow_missing_collateral\": true, \"min_isvsvn\": 3}",
                 "allow_missing_collateral");
    expect(p, &ev, 1, KEEP_E_POLICY_ISVSVN, "no collateral allowed; isvsvn 2 below 3");
    keep_policy_free(p);

    p = parse_ok("{\"tcb_statuses\": [\"UpToDate\"]}", "explicit tcb_statuses");
    struct keep_policy_evidence snp = snp_evidence();
    expect(p, &snp, 1, KEEP_E_POLICY_NOT_APPLICABLE, "tcb_statuses on SNP evidence");
    expect(def, &snp, 0, 0, "the default tcb_statuses does not apply to SNP");
    keep_policy_free(p);
    keep_policy_free(def);
}

static void test_names(void)
{
    is_str(keep_attest_verdict_name(KEEP_ATTEST_REJECT), "reject", "verdict name");
    is_str(keep_attest_tee_name(KEEP_ATTEST_TEE_TDX), "tdx", "tee name");
    is_str(keep_attest_tee_name((enum keep_attest_tee)99), "unknown", "out-of-range tee name");
    enum keep_attest_format f;
    struct keep_error err;
    ok(keep_attest_format_parse("sgx", &f, &err) == KEEP_OK && f == KEEP_ATTEST_FORMAT_SGX,
       "format sgx");
    is_int(keep_attest_format_parse("sev", &f, &err), KEEP_E_USAGE, "format sev is refused");
    is_str(keep_err_name(KEEP_E_POLICY_DEBUG), "policy.debug", "dotted name of a policy code");
}

int main(void)
{
    memset(measurement, 0x7a, sizeof(measurement));
    test_parse_errors();
    test_debug_and_tee();
    test_digests();
    test_report_data();
    test_snp_rules();
    test_intel_rules();
    test_names();
    return done_testing();
}
