/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The shared TDX vectors through the public API, with full verdicts.
 * Expected outcomes are those of /work/shared/vectors/README.md.
 */
#include "attest/verify.h"
#include "attest_vectors.h"

static const char no_collateral[] = "{\"allow_missing_collateral\": true}";

static void full_collateral(struct keep_attest_verifier *v, const char *dir)
{
    struct keep_attest_input in = {.has_time = true};
    in.evidence = vec_load(dir, "tdx/full-collateral/quote.bin");
    in.collateral_json = vec_load(dir, "tdx/full-collateral/collateral.json");
    in.time = vec_time("2025-07-19T10:00:34Z");
    struct keep_attest_result *r = vec_verify(v, &in, NULL);
    is_int(keep_attest_result_verdict(r), KEEP_ATTEST_ACCEPT,
           "full-collateral: the default policy accepts it");
    is_int(keep_attest_result_tee(r), KEEP_ATTEST_TEE_TDX, "full-collateral: tee is tdx");
    is_str(keep_attest_result_tcb_status(r), "UpToDate", "full-collateral: TCB UpToDate");
    is_int(keep_attest_result_advisory_count(r), 0, "full-collateral: no advisories");
    ok(vec_claims_have(
           r, "mr_td",
           "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f"
           "27428b2538873118b7"),
       "full-collateral: claims carry mr_td");
    ok(vec_claims_have(r, "fmspc", "b0c06f000000"), "full-collateral: FMSPC b0c06f000000");
    size_t skipped = 0;
    for (size_t i = 0; i < keep_attest_result_check_count(r); i++)
        skipped += keep_attest_result_check(r, i)->state == KEEP_ATTEST_CHECK_SKIPPED;
    is_int(skipped, 0, "full-collateral: no check was skipped");
    vec_diag_result(r);
    keep_attest_result_free(r);

    vec_expect(v, &in,
               "{\"mrtd\": {\"deny\": [\"91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a6"
               "04a407de03ae6dc5f87f27428b2538873118b7\"]}}",
               KEEP_ATTEST_REJECT, KEEP_E_POLICY_MRTD_DENIED, "full-collateral, mrtd denied");
    vec_expect(v, &in, "{\"min_tcb\": {\"snp\": 1}}", KEEP_ATTEST_REJECT,
               KEEP_E_POLICY_NOT_APPLICABLE, "full-collateral, an SNP rule");
    in.time = vec_time("2025-07-19T10:00:36Z");
    vec_expect(v, &in, NULL, KEEP_ATTEST_INVALID, 0, "full-collateral after its window");
    in.has_time = false;
    vec_expect(v, &in, NULL, KEEP_ATTEST_INVALID, 0, "full-collateral today: stale");
    vec_free(&in.evidence);
    vec_free(&in.collateral_json);
}

struct mutation {
    size_t offset;
    uint8_t value;
    int code;
    const char *why;
};

static void spr_2023(struct keep_attest_verifier *v, const char *dir)
{
    struct keep_attest_input in = {.has_time = true};
    struct keep_attest_blob quote = vec_load(dir, "tdx/spr-2023/quote.bin");
    in.evidence = quote;
    in.time = vec_time("2023-07-01T01:00:00Z");
    vec_expect(v, &in, no_collateral, KEEP_ATTEST_ACCEPT, KEEP_OK,
               "spr-2023 at 2023-07-01, collateral not required");
    vec_expect(v, &in, NULL, KEEP_ATTEST_REJECT, KEEP_E_POLICY_COLLATERAL_MISSING,
               "spr-2023 at 2023-07-01, default policy");
    in.time = vec_time("2053-07-01T00:00:00Z");
    vec_expect(v, &in, no_collateral, KEEP_ATTEST_INVALID, KEEP_E_X509_EXPIRED,
               "spr-2023 at 2053-07-01 (PCK expired)");

    /* The separate files, without the TCB Signing chain Intel serves in a header. */
    in.time = vec_time("2023-07-01T01:00:00Z");
    in.tcb_info = vec_load(dir, "tdx/spr-2023/tcb_info.json");
    in.qe_identity = vec_load(dir, "tdx/spr-2023/qe_identity.json");
    in.pck_crl = vec_load(dir, "tdx/spr-2023/pck_crl.der");
    in.root_ca_crl = vec_load(dir, "tdx/spr-2023/root_crl.der");
    struct keep_attest_result *r = vec_verify(v, &in, NULL);
    is_int(keep_attest_result_verdict(r), KEEP_ATTEST_REJECT,
           "spr-2023 with its files: rejected, the TCB Info cannot be authenticated");
    const struct keep_error *e = keep_attest_result_error(r, 0);
    ok(e && e->code == KEEP_E_POLICY_COLLATERAL_MISSING &&
           strstr(e->message, "tcb_info issuer chain") && !strstr(e->message, "pck_crl"),
       "spr-2023 with its files: only the issuer chains are missing (%s)", e ? e->message : "");
    keep_attest_result_free(r);
    vec_expect(v, &in, no_collateral, KEEP_ATTEST_ACCEPT, KEEP_OK,
               "spr-2023 with both CRLs applied, issuer chains not required");
    in.time = vec_time("2023-08-01T00:00:00Z");
    vec_expect(v, &in, no_collateral, KEEP_ATTEST_INVALID, 0,
               "spr-2023 with CRLs past their nextUpdate");
    in.time = vec_time("2023-07-01T01:00:00Z");
    vec_free(&in.tcb_info);
    vec_free(&in.qe_identity);
    vec_free(&in.pck_crl);
    vec_free(&in.root_ca_crl);

    /* README: one-byte mutations that must fail, each for its own reason. */
    static const struct mutation muts[] = {
        {0x00, 0x03, KEEP_E_QUOTE_VERSION, "unsupported version"},
        {0x1e, 0x32, KEEP_E_QUOTE_SIGNATURE, "quote signature (header)"},
        {0x3c, 0x32, KEEP_E_QUOTE_SIGNATURE, "quote signature (body)"},
        {0xb77, 0x32, KEEP_E_X509_SIGNATURE, "PCK signature"},
        {0xf5f, 0x32, KEEP_E_X509_SIGNATURE, "intermediate signature"},
        {0x1329, 0x32, KEEP_E_X509_SIGNATURE, "root signature"},
        {0x1343, 0x32, KEEP_E_X509_PARSE, "chain"},
        {0x278, 0x10, KEEP_E_QUOTE_SIZE, "certification data size"},
    };
    uint8_t *copy = malloc(quote.size);
    for (size_t i = 0; i < KEEP_ARRAY_LEN(muts); i++) {
        memcpy(copy, quote.data, quote.size);
        copy[muts[i].offset] = muts[i].value;
        in.evidence = (struct keep_attest_blob){.data = copy, .size = quote.size};
        char what[96];
        snprintf(what, sizeof(what), "spr-2023, byte 0x%zx = 0x%02x (%s)", muts[i].offset,
                 muts[i].value, muts[i].why);
        vec_expect(v, &in, no_collateral, KEEP_ATTEST_INVALID, muts[i].code, what);
    }
    free(copy);
    vec_free(&quote);
}

static void v5_2026(struct keep_attest_verifier *v, const char *dir)
{
    struct keep_attest_input in = {.has_time = true};
    in.evidence = vec_load(dir, "tdx/v5-2026/quote.bin");
    in.time = vec_time("2026-02-03T01:00:00Z");
    struct keep_attest_result *r = vec_verify(v, &in, no_collateral);
    is_int(keep_attest_result_verdict(r), KEEP_ATTEST_ACCEPT, "v5-2026 at 2026-02-03");
    ok(strstr(keep_attest_result_claims(r), "\"version\": 5") != NULL, "v5-2026: a v5 quote");
    keep_attest_result_free(r);
    vec_free(&in.evidence);
}

static void debug_quote_only(struct keep_attest_verifier *v, const char *dir)
{
    struct keep_attest_input in = {.format = KEEP_ATTEST_FORMAT_TDX};
    in.evidence = vec_load(dir, "tdx/debug-quote-only/quote.bin");
    vec_expect(v, &in, NULL, KEEP_ATTEST_REJECT, KEEP_E_POLICY_DEBUG,
               "debug-quote-only, default policy");
    vec_expect(v, &in, no_collateral, KEEP_ATTEST_REJECT, KEEP_E_POLICY_DEBUG,
               "debug-quote-only, collateral not required");
    vec_expect(v, &in, "{\"allow_missing_collateral\": true, \"allow_debug\": true}",
               KEEP_ATTEST_ACCEPT, KEEP_OK, "debug-quote-only, debug allowed");
    vec_free(&in.evidence);
}

int main(void)
{
    const char *dir = tap_vectors_dir();
    struct keep_attest_verifier *v = vec_verifier();
    full_collateral(v, dir);
    spr_2023(v, dir);
    v5_2026(v, dir);
    debug_quote_only(v, dir);
    keep_attest_verifier_free(v);
    return done_testing();
}
