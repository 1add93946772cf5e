/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared SGX vectors through the public API, with full verdicts:
 * genuineness, collateral freshness, TCB status and advisories, policy.
 * Expected outcomes are those of /work/shared/vectors/README.md.
 */
#include "attest/verify.h"
#include "attest_vectors.h"

#define FULL_TIME "2025-07-19T10:01:17Z" /* the collateral window ends 10:01:18Z */

/* A policy accepting this platform's status and advisories and pinning the enclave. */
static const char accept_full[] =
    "{\"tcb_statuses\": [\"UpToDate\", \"ConfigurationAndSWHardeningNeeded\"],"
    " \"allowed_advisories\": [\"INTEL-SA-00289\", \"INTEL-SA-00615\"],"
    " \"mrenclave\": [\"33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb\"],"
    " \"mrsigner\": [\"815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6\"],"
    " \"min_isvsvn\": 0,"
    " \"report_data\": \"48656c6c6f2c20776f726c6421\"}"; /* "Hello, world!" zero padded */

static void full_collateral(struct keep_attest_verifier *v, const char *dir)
{
    struct keep_attest_input in = {.format = KEEP_ATTEST_FORMAT_AUTO, .has_time = true};
    in.evidence = vec_load(dir, "sgx/full-collateral/quote.bin");
    in.collateral_json = vec_load(dir, "sgx/full-collateral/collateral.json");
    in.time = vec_time(FULL_TIME);

    struct keep_attest_result *r = vec_verify(v, &in, NULL);
    is_int(keep_attest_result_verdict(r), KEEP_ATTEST_REJECT,
           "full-collateral: the default policy rejects it");
    is_int(keep_attest_result_tee(r), KEEP_ATTEST_TEE_SGX, "full-collateral: tee is sgx");
    is_str(keep_attest_result_tcb_status(r), "ConfigurationAndSWHardeningNeeded",
           "full-collateral: TCB status");
    is_int(keep_attest_result_advisory_count(r), 2, "full-collateral: two advisories");
    is_str(keep_attest_result_advisory(r, 0), "INTEL-SA-00289", "full-collateral: first advisory");
    is_str(keep_attest_result_advisory(r, 1), "INTEL-SA-00615", "full-collateral: second advisory");
    ok(keep_attest_result_has_error(r, KEEP_E_POLICY_TCB_STATUS) &&
           keep_attest_result_has_error(r, KEEP_E_POLICY_ADVISORY),
       "full-collateral: rejected for the status and the advisories");
    ok(!keep_attest_result_has_error(r, KEEP_E_POLICY_DEBUG),
       "full-collateral: not a debug enclave");
    ok(vec_claims_have(r, "mr_enclave",
                       "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"),
       "full-collateral: claims carry mr_enclave");
    ok(vec_claims_have(r, "fmspc", "00a067110000"), "full-collateral: claims carry the FMSPC");
    ok(strstr(keep_attest_result_json(r), "\"pcesvn\": 13") != NULL,
       "full-collateral: claims carry PCESVN 13");
    vec_diag_result(r);
    keep_attest_result_free(r);

    vec_expect(v, &in, accept_full, KEEP_ATTEST_ACCEPT, KEEP_OK,
               "full-collateral, status, advisories, mrenclave, mrsigner and report_data allowed");
    vec_expect(v, &in,
               "{\"tcb_statuses\": [\"ConfigurationAndSWHardeningNeeded\"],"
               " \"allowed_advisories\": [\"INTEL-SA-00289\"]}",
               KEEP_ATTEST_REJECT, KEEP_E_POLICY_ADVISORY,
               "full-collateral, INTEL-SA-00615 not allowed");
    vec_expect(v, &in,
               "{\"tcb_statuses\": [\"ConfigurationAndSWHardeningNeeded\"],"
               " \"allowed_advisories\": [\"INTEL-SA-00289\", \"INTEL-SA-00615\"],"
               " \"report_data\": \"48656c6c6f2c20776f726c643f\"}",
               KEEP_ATTEST_REJECT, KEEP_E_POLICY_REPORT_DATA, "full-collateral, other report_data");
    is_int(keep_attest_verifier_cached_collateral(v), 1,
           "full-collateral: four verifications share one cached collateral set");

    /* Freshness: one second after the window, and today. */
    in.time = vec_time("2025-07-19T10:01:19Z");
    vec_expect(v, &in, accept_full, KEEP_ATTEST_INVALID, 0, "full-collateral one second late");
    r = vec_verify(v, &in, accept_full);
    const struct keep_error *e = keep_attest_result_error(r, 0);
    ok(e && (strstr(e->message, "2025-07-19T10:01:18Z") != NULL),
       "full-collateral one second late: the message names the end of the window (%s)",
       e ? e->message : "");
    keep_attest_result_free(r);
    in.has_time = false;
    vec_expect(v, &in, accept_full, KEEP_ATTEST_INVALID, 0, "full-collateral today: stale");

    /* The collateral of another platform must not grade this quote. */
    in.has_time = true;
    in.time = vec_time("2025-07-19T10:00:34Z");
    struct keep_attest_blob tdx_coll = vec_load(dir, "tdx/full-collateral/collateral.json");
    struct keep_attest_blob own = in.collateral_json;
    in.collateral_json = tdx_coll;
    r = vec_verify(v, &in, accept_full);
    is_int(keep_attest_result_verdict(r), KEEP_ATTEST_INVALID,
           "SGX quote with the TDX collateral is invalid");
    vec_diag_result(r);
    keep_attest_result_free(r);
    in.collateral_json = own;
    vec_free(&tdx_coll);
    vec_free(&in.evidence);
    vec_free(&in.collateral_json);
}

static void debug_quote_only(struct keep_attest_verifier *v, const char *dir)
{
    struct keep_attest_input in = {.format = KEEP_ATTEST_FORMAT_SGX};
    in.evidence = vec_load(dir, "sgx/debug-quote-only/quote.bin");
    struct keep_attest_result *r = vec_verify(v, &in, NULL);
    is_int(keep_attest_result_verdict(r), KEEP_ATTEST_REJECT,
           "debug-quote-only: the default policy rejects it");
    ok(keep_attest_result_has_error(r, KEEP_E_POLICY_DEBUG), "debug-quote-only: for debug");
    ok(keep_attest_result_has_error(r, KEEP_E_POLICY_COLLATERAL_MISSING),
       "debug-quote-only: and for the missing collateral");
    ok(keep_attest_result_tcb_status(r) == NULL,
       "debug-quote-only: no TCB status without TCB Info");
    keep_attest_result_free(r);
    vec_expect(v, &in, "{\"allow_missing_collateral\": true}", KEEP_ATTEST_REJECT,
               KEEP_E_POLICY_DEBUG, "debug-quote-only, collateral not required");
    vec_expect(v, &in,
               "{\"allow_missing_collateral\": true, \"allow_debug\": true,"
               " \"report_data\": \"74657374\"}",
               KEEP_ATTEST_ACCEPT, KEEP_OK,
               "debug-quote-only, debug allowed, report_data \"test\"");
    in.format = KEEP_ATTEST_FORMAT_TDX;
    vec_expect(v, &in, NULL, KEEP_ATTEST_INVALID, KEEP_E_ATTEST_FORMAT_MISMATCH,
               "debug-quote-only verified as TDX");
    in.format = KEEP_ATTEST_FORMAT_SNP;
    vec_expect(v, &in, NULL, KEEP_ATTEST_INVALID, KEEP_E_SNP_REPORT_SIZE,
               "debug-quote-only verified as SNP");
    vec_free(&in.evidence);
}

int main(void)
{
    const char *dir = tap_vectors_dir();
    struct keep_attest_verifier *v = vec_verifier();
    full_collateral(v, dir);
    debug_quote_only(v, dir);
    keep_attest_verifier_free(v);
    return done_testing();
}
