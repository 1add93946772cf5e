/* SPDX-License-Identifier: Apache-2.0 */
/*
 * QE Identity: parsing (types, lengths, JSON paths), the PCS file form
 * signed by a generated TCB Signing key, freshness, and the QE report check
 * with each mismatch its own error and the ISVSVN graded by tcbLevels.
 */
#include <stdlib.h>
#include <string.h>

#include "attest/collateral.h"
#include "attest/qe_identity.h"
#include "common/util.h"
#include "support/collateral_gen.h"
#include "tap.h"

#define ISSUE "2025-06-19T10:01:18Z"
#define NEXT  "2025-07-19T10:01:18Z"

static struct keep_qe_identity *parse_default(const char *id)
{
    struct keep_qe_identity *qe = NULL;
    struct keep_error err = {0};
    char *body = keep_test_qe_identity_body(id, ISSUE, NEXT);
    if (!body || keep_qe_identity_parse_body(body, strlen(body), NULL, &qe, &err) != KEEP_OK)
        diag("parse failed: %s", err.message);
    free(body);
    return qe;
}

/* The report of Intel's SGX QE at ISVSVN 8, as the default identity expects. */
static struct keep_qe_report_input good_report(void)
{
    struct keep_qe_report_input r = {.isvprodid = 1, .isvsvn = 8, .miscselect = 0};
    must_ok(keep_hex_decode("8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF", 64,
                            r.mrsigner, 32, "mrsigner", NULL));
    r.attributes[0] = 0x11;
    r.attributes[8] = 0xe7; /* XFRM: outside attributesMask, ignored */
    return r;
}

static void test_fields(void)
{
    struct keep_qe_identity *qe = parse_default("QE");
    if (!ok(qe != NULL, "QE identity parses"))
        return;
    is_int(qe->id, KEEP_TEE_SGX, "id QE is SGX");
    is_int(qe->version, 2, "version 2");
    is_int(qe->isvprodid, 1, "isvprodid");
    is_int(qe->miscselect_mask, 0xffffffff, "miscselectMask");
    is_int(qe->attributes_mask[0], 0xfb, "attributesMask byte 0");
    is_int(qe->level_count, 3, "three levels");
    is_int(qe->tcb_evaluation_data_number, 17, "tcbEvaluationDataNumber");
    keep_qe_identity_free(qe);
    qe = parse_default("TD_QE");
    ok(qe && qe->id == KEEP_TEE_TDX, "id TD_QE is TDX");
    keep_qe_identity_free(qe);
}

static void test_check(void)
{
    struct keep_qe_identity *qe = parse_default("QE");
    struct keep_qe_identity_result res;
    struct keep_error err = {0};
    struct keep_qe_report_input r = good_report();
    if (!ok(qe != NULL, "parses"))
        return;
    is_int(keep_qe_identity_check(qe, KEEP_TEE_SGX, &r, &res, &err), KEEP_OK, "good report (%s)",
           err.message);
    is_int(res.status, KEEP_TCB_UP_TO_DATE, "isvsvn 8: UpToDate");
    r.isvsvn = 9;
    must_ok(keep_qe_identity_check(qe, KEEP_TEE_SGX, &r, &res, &err));
    is_int(res.status, KEEP_TCB_UP_TO_DATE, "isvsvn 9: UpToDate");
    r.isvsvn = 7;
    is_int(keep_qe_identity_check(qe, KEEP_TEE_SGX, &r, &res, &err), KEEP_OK, "isvsvn 7");
    is_int(res.status, KEEP_TCB_OUT_OF_DATE, "isvsvn 7: OutOfDate");
    ok(res.advisory_count == 1 && strcmp(res.advisory_ids[0], "INTEL-SA-00615") == 0,
       "OutOfDate level advisory");
    is_int(res.level_index, 1, "level 1");
    r.isvsvn = 2;
    must_ok(keep_qe_identity_check(qe, KEEP_TEE_SGX, &r, &res, &err));
    is_int(res.status, KEEP_TCB_REVOKED, "isvsvn 2: Revoked");
    r.isvsvn = 1;
    is_int(keep_qe_identity_check(qe, KEEP_TEE_SGX, &r, &res, &err),
           KEEP_E_COLLATERAL_NO_MATCHING_QE_LEVEL, "isvsvn 1: below every level");

    r = good_report();
    r.mrsigner[31] ^= 1;
    is_int(keep_qe_identity_check(qe, KEEP_TEE_SGX, &r, &res, &err), KEEP_E_COLLATERAL_QE_MRSIGNER,
           "mrsigner mismatch");
    ok(strstr(err.message, "8c4f5775") != NULL, "message shows mrsigner: %s", err.message);
    r = good_report();
    r.isvprodid = 2;
    is_int(keep_qe_identity_check(qe, KEEP_TEE_SGX, &r, &res, &err), KEEP_E_COLLATERAL_QE_ISVPRODID,
           "isvprodid mismatch");
    r = good_report();
    r.miscselect = 1;
    is_int(keep_qe_identity_check(qe, KEEP_TEE_SGX, &r, &res, &err),
           KEEP_E_COLLATERAL_QE_MISCSELECT, "miscselect mismatch");
    r = good_report();
    r.attributes[0] = 0x13; /* DEBUG set: inside the mask */
    is_int(keep_qe_identity_check(qe, KEEP_TEE_SGX, &r, &res, &err),
           KEEP_E_COLLATERAL_QE_ATTRIBUTES, "attributes mismatch (DEBUG QE)");
    r = good_report();
    r.attributes[0] = 0x15; /* MODE64BIT: masked out by FB */
    is_int(keep_qe_identity_check(qe, KEEP_TEE_SGX, &r, &res, &err), KEEP_OK,
           "masked attribute bit is ignored");
    r = good_report();
    is_int(keep_qe_identity_check(qe, KEEP_TEE_TDX, &r, &res, &err), KEEP_E_COLLATERAL_ID_MISMATCH,
           "SGX QE identity for a TDX quote");
    keep_qe_identity_free(qe);
}

static void expect_bad_body(const char *from, const char *to, int code, const char *path)
{
    char *body = keep_test_qe_identity_body("QE", ISSUE, NEXT);
    char *at = strstr(body, from);
    if (!ok(at != NULL, "'%s' in the body", from)) {
        free(body);
        return;
    }
    size_t size = strlen(body) - strlen(from) + strlen(to) + 1;
    char *edited = malloc(size);
    snprintf(edited, size, "%.*s%s%s", (int)(at - body), body, to, at + strlen(from));
    struct keep_qe_identity *qe = NULL;
    struct keep_error err = {0};
    is_int(keep_qe_identity_parse_body(edited, strlen(edited), NULL, &qe, &err), code,
           "'%s' -> '%s' fails", from, to);
    ok(strstr(err.message, path) != NULL, "message names %s: %s", path, err.message);
    free(edited);
    free(body);
}

static void test_parse_errors(void)
{
    expect_bad_body("\"isvprodid\":1", "\"isvprodid\":\"1\"", KEEP_E_COLLATERAL_JSON_TYPE,
                    "enclaveIdentity.isvprodid");
    expect_bad_body("\"version\":2", "\"version\":3", KEEP_E_COLLATERAL_VERSION_UNSUPPORTED,
                    "enclaveIdentity.version is 3");
    expect_bad_body("\"id\":\"QE\"", "\"id\":\"QVE\"", KEEP_E_COLLATERAL_ID_UNSUPPORTED, "QVE");
    expect_bad_body("\"mrsigner\":\"8C4F", "\"mrsigner\":\"", KEEP_E_COLLATERAL_JSON_TYPE,
                    "enclaveIdentity.mrsigner has 60 hex digits");
    expect_bad_body("\"miscselectMask\":\"FFFFFFFF\"", "\"miscselectMask\":7",
                    KEEP_E_COLLATERAL_JSON_TYPE, "enclaveIdentity.miscselectMask");
    expect_bad_body("{\"isvsvn\":6}", "{\"isvsvn\":-6}", KEEP_E_COLLATERAL_JSON_TYPE,
                    "enclaveIdentity.tcbLevels[1].tcb.isvsvn");
    expect_bad_body("\"Revoked\"", "\"Gone\"", KEEP_E_COLLATERAL_TCB_STATUS_UNKNOWN,
                    "enclaveIdentity.tcbLevels[2].tcbStatus");
    expect_bad_body(",\"isvprodid\":1", "", KEEP_E_COLLATERAL_JSON_MISSING,
                    "enclaveIdentity.isvprodid is missing");
}

static void test_signed_file(void)
{
    int64_t t0 = 0, issue = 0, next = 0;
    must_ok(keep_parse_time("2025-01-01T00:00:00Z", &t0, NULL));
    must_ok(keep_parse_time(ISSUE, &issue, NULL));
    must_ok(keep_parse_time(NEXT, &next, NULL));
    struct keep_test_pki *pki = keep_test_pki_new(t0, t0 + 5 * 365 * 86400LL, next + 86400);
    STACK_OF(X509) *roots = pki ? keep_test_pki_roots(pki) : NULL;
    char *body = keep_test_qe_identity_body("TD_QE", ISSUE, NEXT);
    char *file = pki ? keep_test_pcs_file(pki, "enclaveIdentity", body, NULL, NULL, NULL) : NULL;
    char *chain = pki ? keep_test_chain_pem(pki, pki->tcb_signer) : NULL;
    struct keep_qe_identity *qe = NULL;
    struct keep_error err = {0};
    if (!ok(roots && file && chain, "generated a signed qe_identity.json"))
        goto out;
    is_int(keep_qe_identity_parse(file, strlen(file), &qe, &err), KEEP_OK, "PCS form parses (%s)",
           err.message);
    if (!qe)
        goto out;
    ok(qe->doc.signed_size == strlen(body) &&
           memcmp(qe->doc.signed_text, body, qe->doc.signed_size) == 0,
       "signed bytes are the enclaveIdentity value exactly");
    is_int(keep_qe_identity_verify(qe, roots, pki->root_crl, issue, &err),
           KEEP_E_COLLATERAL_MISSING, "no issuer chain: reported missing");
    is_int(keep_qe_identity_set_issuer_chain(qe, (const uint8_t *)chain, strlen(chain), &err),
           KEEP_OK, "issuer chain parses");
    is_int(keep_qe_identity_verify(qe, roots, pki->root_crl, issue + 60, &err), KEEP_OK,
           "signature and chain verify (%s)", err.message);
    is_int(keep_qe_identity_verify(qe, roots, pki->root_crl, next + 1, &err),
           KEEP_E_COLLATERAL_STALE, "stale after nextUpdate");
    ok(strstr(err.message, "enclaveIdentity") && strstr(err.message, NEXT),
       "stale names the item and nextUpdate: %s", err.message);
    is_int(keep_qe_identity_check_fresh(qe, issue - 1, &err), KEEP_E_COLLATERAL_NOT_YET_VALID,
           "not yet valid before issueDate");
    json_t *sum = keep_qe_identity_summary(qe);
    is_str(json_string_value(json_object_get(sum, "id")), "TD_QE", "summary id");
    json_decref(sum);
    keep_qe_identity_free(qe);
    qe = NULL;

    /* One byte of the signed text changed: "isvprodid":1 -> 3. */
    char *at = strstr(file, "\"isvprodid\":1");
    if (ok(at != NULL, "isvprodid in the file")) {
        at[12] = '3';
        is_int(keep_qe_identity_parse(file, strlen(file), &qe, &err), KEEP_OK,
               "changed file still parses");
        if (qe) {
            must_ok(
                keep_qe_identity_set_issuer_chain(qe, (const uint8_t *)chain, strlen(chain), &err));
            is_int(keep_qe_identity_verify(qe, roots, pki->root_crl, issue, &err),
                   KEEP_E_COLLATERAL_SIGNATURE, "one changed byte breaks the signature");
        }
    }
out:
    keep_qe_identity_free(qe);
    free(body);
    free(file);
    free(chain);
    sk_X509_pop_free(roots, X509_free);
    keep_test_pki_free(pki);
}

int main(void)
{
    test_fields();
    test_check();
    test_parse_errors();
    test_signed_file();
    return done_testing();
}
