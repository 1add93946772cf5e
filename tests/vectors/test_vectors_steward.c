/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real SEV-SNP, SGX and TDX evidence (../shared/vectors) through keep-steward's
 * issuance at each set's stated time, with its collateral sent as a client would
 * (base64 in the JSON request). Recorded evidence cannot carry the binding of a
 * fresh nonce and CSR key, so a genuine set must be refused with exactly one
 * failed check, policy.report_data: every other check (chains, signatures,
 * collateral, TCB, the workload policy) passed. A debug set adds policy.debug.
 */
#include <openssl/pem.h>
#include <unistd.h>

#include "attest_vectors.h"
#include "steward/steward.h"

static char *csr_pem(void)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509_REQ *req = X509_REQ_new();
    X509_REQ_set_pubkey(req, key);
    X509_REQ_sign(req, key, EVP_sha256());
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(bio, req);
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(bio);
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    return out;
}

/* Issue for one set; returns the codes of the failed checks, comma-separated. */
static void run_set(struct steward *s, const char *dir, const char *evidence, const char *coll_key,
                    const char *coll_file, const char *time_text, const char *policy,
                    const char *want, const char *what)
{
    struct keep_error err;
    int64_t t = vec_time(time_text);
    char name[32];
    snprintf(name, sizeof(name), "w%d", tap_count);
    if (steward_admin_policy_put(s, name, policy, t, &err) != KEEP_OK) {
        printf("Bail out! policy: %s\n", err.message);
        exit(1);
    }
    char nonce[65];
    int64_t expires;
    steward_nonce_new(s, t, nonce, &expires, &err);
    struct keep_attest_blob ev = vec_load(dir, evidence), coll = vec_load(dir, coll_file);
    char *ev64 = steward_base64_encode(ev.data, ev.size),
         *coll64 = steward_base64_encode(coll.data, coll.size);
    char *csr = csr_pem();
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:{s:s}}", "nonce", nonce, "csr", csr, "evidence",
                             ev64, "workload", name, "collateral", coll_key, coll64);
    char *text = json_dumps(body, 0);
    struct steward_cert_request req;
    struct steward_issued issued;
    json_t *errors = NULL;
    int rc = steward_request_parse_json(text, strlen(text), &req, &err);
    if (rc == KEEP_OK)
        rc = steward_issue(s, &req, t, &issued, &errors, &err);
    char got[512] = "";
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        if (got[0])
            strncat(got, ",", sizeof(got) - strlen(got) - 1);
        strncat(got, json_string_value(json_object_get(e, "code")), sizeof(got) - strlen(got) - 1);
    }
    ok(rc == KEEP_E_STEWARD_EVIDENCE_REJECTED && strcmp(got, want) == 0, "%s: refused by %s", what,
       got[0] ? got : keep_err_name(rc));
    if (rc != KEEP_E_STEWARD_EVIDENCE_REJECTED)
        diag("%s: %s", keep_err_name(rc), err.message);
    json_decref(errors);
    if (rc == KEEP_OK)
        steward_issued_free(&issued);
    steward_request_free(&req);
    json_decref(body);
    free(text);
    free(csr);
    free(ev64);
    free(coll64);
    vec_free(&ev);
    vec_free(&coll);
}

int main(void)
{
    const char *dir = tap_vectors_dir();
    char state[] = "/tmp/keep-test-steward-vectors-XXXXXX";
    if (!mkdtemp(state))
        return 1;
    struct steward_config cfg = {0};
    struct steward *s;
    struct keep_error err;
    if (steward_open(state, &cfg, &s, &err) != KEEP_OK) {
        printf("Bail out! steward_open: %s\n", err.message);
        return 1;
    }
    run_set(s, dir, "snp/milan-release/report.bin", "vcek", "snp/milan-release/vcek.der",
            "2026-01-01T00:00:00Z", "{}", "policy.report_data", "snp milan-release");
    run_set(
        s, dir, "sgx/full-collateral/quote.bin", "collateral_json",
        "sgx/full-collateral/collateral.json", "2025-07-19T10:01:17Z",
        "{\"attest\": {\"tcb_statuses\": [\"UpToDate\", \"ConfigurationAndSWHardeningNeeded\"],"
        " \"allowed_advisories\": [\"INTEL-SA-00289\", \"INTEL-SA-00615\"],"
        " \"mrenclave\": [\"33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb\"]}}",
        "policy.report_data", "sgx full-collateral");
    run_set(s, dir, "tdx/full-collateral/quote.bin", "collateral_json",
            "tdx/full-collateral/collateral.json", "2025-07-19T10:00:34Z", "{}",
            "policy.report_data", "tdx full-collateral");
    run_set(s, dir, "snp/milan-debug/report.bin", "vcek", "snp/milan-debug/vcek.der",
            "2026-01-01T00:00:00Z", "{}", "policy.debug,policy.report_data", "snp milan-debug");
    steward_close(s);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", state);
    if (system(cmd) != 0)
        diag("could not remove %s", state);
    return done_testing();
}
