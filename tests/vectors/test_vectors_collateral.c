/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real Intel collateral from ../shared/vectors (see its README for the
 * expected outcomes): signatures over the exact signed bytes, issuer chains
 * to the Intel SGX Root CA and CRLs at the README's times, staleness today,
 * and the TCB level matching with the values of each quote's PCK
 * certificate (read by keep_quote_verify / keep_pck_parse_extension).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/collateral.h"
#include "attest/pck.h"
#include "attest/quote.h"
#include "common/util.h"
#include "tap.h"

static const char *vectors;
static STACK_OF(X509) * roots;
static X509 *intel_root;

static char *load(const char *set, const char *file, size_t *size)
{
    char path[1024];
    uint8_t *data = NULL;
    struct keep_error err = {0};
    snprintf(path, sizeof(path), "%s/%s/%s", vectors, set, file);
    if (keep_read_file(path, 1 << 20, &data, size, &err) != KEEP_OK) {
        ok(0, "read %s: %s", path, err.message);
        return NULL;
    }
    return (char *)data;
}

static int64_t at(const char *text)
{
    int64_t t = 0;
    must_ok(keep_parse_time(text, &t, NULL));
    return t;
}

static bool has_advisory(const struct keep_tcb_result *r, const char *id)
{
    for (size_t i = 0; i < r->advisory_count; i++) {
        if (strcmp(r->advisory_ids[i], id) == 0)
            return true;
    }
    return false;
}

/* The quote, verified with the collateral's CRLs at t; its PCK values. */
static bool verify_quote(const char *set, struct keep_collateral *coll, X509_CRL *root_crl,
                         X509_CRL *pck_crl, int64_t t, struct keep_quote *q, uint8_t **buf,
                         struct keep_pck_info *pck)
{
    size_t size = 0;
    struct keep_error err = {0};
    *buf = (uint8_t *)load(set, "quote.bin", &size);
    if (!*buf)
        return false;
    if (coll) {
        root_crl = coll->root_ca_crl;
        pck_crl = coll->pck_crl;
    }
    int rc = keep_quote_parse_ex(*buf, size, KEEP_QUOTE_PARSE_ALLOW_TRAILING, q, &err);
    if (!ok(rc == KEEP_OK, "%s: quote parses (%s)", set, err.message))
        return false;
    struct keep_quote_verify_opts opts = {
        .time = t, .intel_root = intel_root, .root_ca_crl = root_crl, .pck_crl = pck_crl};
    rc = keep_quote_verify(q, &opts, pck, &err);
    return ok(rc == KEEP_OK, "%s: quote and PCK chain verify with the collateral's CRLs (%s)", set,
              err.message);
}

static struct keep_tcb_input input_of(const struct keep_quote *q, const struct keep_pck_info *pck)
{
    struct keep_tcb_input in = {.pcesvn = pck->pcesvn};
    memcpy(in.cpusvn_components, pck->cpusvn_components, 16);
    memcpy(in.fmspc, pck->fmspc, 6);
    memcpy(in.pceid, pck->pceid, 2);
    in.tee = q->body_kind == KEEP_QUOTE_BODY_KIND_SGX ? KEEP_TEE_SGX : KEEP_TEE_TDX;
    if (in.tee == KEEP_TEE_TDX) {
        memcpy(in.tee_tcb_svn, q->body.td.tee_tcb_svn, 16);
        memcpy(in.mrsignerseam, q->body.td.mr_signer_seam, 48);
        for (int i = 0; i < 8; i++) /* the report's bytes: little-endian */
            in.seam_attributes[i] = (uint8_t)(q->body.td.seam_attributes >> (8 * i));
    }
    return in;
}

static struct keep_qe_report_input qe_input_of(const struct keep_quote *q)
{
    struct keep_qe_report_input r = {.isvprodid = q->qe_report.isv_prod_id,
                                     .isvsvn = q->qe_report.isv_svn,
                                     .miscselect = q->qe_report.misc_select};
    memcpy(r.mrsigner, q->qe_report.mr_signer, 32);
    memcpy(r.attributes, q->qe_report.attributes, 16);
    return r;
}

static struct keep_collateral *load_collateral_json(const char *set)
{
    size_t size = 0;
    struct keep_error err = {0};
    struct keep_collateral *coll = NULL;
    char *text = load(set, "collateral.json", &size);
    if (!text)
        return NULL;
    int rc = keep_collateral_parse_json(text, size, &coll, &err);
    ok(rc == KEEP_OK, "%s: collateral.json parses (%s)", set, err.message);
    free(text);
    return coll;
}

/* One byte of the signed tcb_info text changed in collateral.json must fail. */
static void mutated_tcb_info_fails(const char *set, int64_t t)
{
    size_t size = 0;
    struct keep_error err = {0};
    struct keep_collateral *coll = NULL;
    char *text = load(set, "collateral.json", &size);
    char *p = text ? strstr(text, "tcbEvaluationDataNumber") : NULL;
    if (!ok(p != NULL, "%s: tcbEvaluationDataNumber in collateral.json", set)) {
        free(text);
        return;
    }
    p += strlen("tcbEvaluationDataNumber\\\":"); /* inside a JSON string: \" */
    *p = *p == '1' ? '2' : '1';
    int rc = keep_collateral_parse_json(text, size, &coll, &err);
    if (ok(rc == KEEP_OK, "%s: mutated collateral still parses (%s)", set, err.message))
        is_int(keep_tcb_info_verify(coll->tcb_info, roots, coll->root_ca_crl, t, &err),
               KEEP_E_COLLATERAL_SIGNATURE, "%s: one changed byte breaks the TCB Info signature",
               set);
    keep_collateral_free(coll);
    free(text);
}

static void stale_today(const char *set, struct keep_collateral *coll)
{
    struct keep_error err = {0};
    int64_t now = (int64_t)time(NULL);
    is_int(keep_tcb_info_verify(coll->tcb_info, roots, NULL, now, &err), KEEP_E_COLLATERAL_STALE,
           "%s: TCB Info is stale today", set);
    diag("%s", err.message);
    is_int(keep_qe_identity_verify(coll->qe_identity, roots, NULL, now, &err),
           KEEP_E_COLLATERAL_STALE, "%s: QE Identity is stale today", set);
    ok(keep_collateral_verify(coll, roots, now, &err) != KEEP_OK,
       "%s: the collateral set does not verify today (%s: %s)", set, keep_err_name(err.code),
       err.message);
}

static void test_sgx_full(void)
{
    const char *set = "sgx/full-collateral";
    int64_t t = 1752919277; /* 2025-07-19T10:01:17Z */
    struct keep_error err = {0};
    struct keep_collateral *coll = load_collateral_json(set);
    if (!coll)
        return;
    is_int(keep_collateral_verify(coll, roots, t, &err), KEEP_OK,
           "%s: TCB Info, QE Identity, chains and CRLs valid at 10:01:17Z (%s)", set, err.message);
    is_int(keep_collateral_verify(coll, roots, t + 2, &err), KEEP_E_COLLATERAL_STALE,
           "%s: QE Identity stale at 10:01:19Z (%s)", set, err.message);
    is_int(coll->tcb_info->id, KEEP_TEE_SGX, "%s: TCB Info id SGX", set);
    is_int(coll->tcb_info->version, 3, "%s: TCB Info version 3", set);
    stale_today(set, coll);
    mutated_tcb_info_fails(set, t);

    struct keep_quote q;
    struct keep_pck_info pck;
    uint8_t *buf = NULL;
    if (verify_quote(set, coll, NULL, NULL, t, &q, &buf, &pck)) {
        struct keep_tcb_input in = input_of(&q, &pck);
        struct keep_tcb_result r;
        is_int(in.pcesvn, 13, "%s: PCK PCESVN 13", set);
        is_int(keep_tcb_info_check_platform(coll->tcb_info, &in, &err), KEEP_OK,
               "%s: FMSPC 00a067110000 and PCE-ID match (%s)", set, err.message);
        if (ok(keep_tcb_match(coll->tcb_info, &in, &r, &err) == KEEP_OK, "%s: a level matches",
               set)) {
            is_str(keep_tcb_status_name(r.status), "ConfigurationAndSWHardeningNeeded",
                   "%s: TCB status", set);
            ok(r.advisory_count == 2 && has_advisory(&r, "INTEL-SA-00289") &&
                   has_advisory(&r, "INTEL-SA-00615"),
               "%s: advisories INTEL-SA-00289 and INTEL-SA-00615", set);
            struct keep_qe_report_input qr = qe_input_of(&q);
            struct keep_qe_identity_result qres;
            is_int(keep_qe_identity_check(coll->qe_identity, KEEP_TEE_SGX, &qr, &qres, &err),
                   KEEP_OK, "%s: QE report matches the QE Identity (%s)", set, err.message);
            diag("QE ISVSVN %u: %s", qr.isvsvn, keep_tcb_status_name(qres.status));
            is_str(keep_tcb_status_name(keep_tcb_converge_with_qe(r.status, qres.status)),
                   "ConfigurationAndSWHardeningNeeded", "%s: converged with the QE status", set);
            keep_tcb_result_free(&r);
        }
    }
    free(buf);
    keep_collateral_free(coll);
}

static void test_tdx_full(void)
{
    const char *set = "tdx/full-collateral";
    int64_t t = 1752919234; /* 2025-07-19T10:00:34Z */
    struct keep_error err = {0};
    struct keep_collateral *coll = load_collateral_json(set);
    if (!coll)
        return;
    is_int(keep_collateral_verify(coll, roots, t, &err), KEEP_OK, "%s: valid at 10:00:34Z (%s)",
           set, err.message);
    is_int(coll->tcb_info->id, KEEP_TEE_TDX, "%s: TCB Info id TDX", set);
    is_int(coll->qe_identity->id, KEEP_TEE_TDX, "%s: QE Identity id TD_QE", set);
    is_int(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(coll->pck_crl)), 44,
           "%s: the PCK CRL has 44 entries", set);
    stale_today(set, coll);
    mutated_tcb_info_fails(set, t);

    struct keep_quote q;
    struct keep_pck_info pck;
    uint8_t *buf = NULL;
    if (verify_quote(set, coll, NULL, NULL, t, &q, &buf, &pck)) {
        struct keep_tcb_input in = input_of(&q, &pck);
        struct keep_tcb_result r;
        is_int(keep_tcb_info_check_platform(coll->tcb_info, &in, &err), KEEP_OK,
               "%s: FMSPC b0c06f000000 matches (%s)", set, err.message);
        if (ok(keep_tcb_match(coll->tcb_info, &in, &r, &err) == KEEP_OK, "%s: a level matches (%s)",
               set, err.message)) {
            is_str(keep_tcb_status_name(r.status), "UpToDate", "%s: TCB UpToDate", set);
            is_int(r.advisory_count, 0, "%s: no advisories", set);
            ok(r.has_module_status && strcmp(r.module_identity_id, "TDX_01") == 0,
               "%s: graded by module identity TDX_01", set);
            keep_tcb_result_free(&r);
        }
        struct keep_qe_report_input qr = qe_input_of(&q);
        struct keep_qe_identity_result qres;
        is_int(keep_qe_identity_check(coll->qe_identity, KEEP_TEE_TDX, &qr, &qres, &err), KEEP_OK,
               "%s: TD QE report matches TD_QE identity (%s)", set, err.message);
        is_int(qres.status, KEEP_TCB_UP_TO_DATE, "%s: QE UpToDate", set);
    }
    free(buf);
    keep_collateral_free(coll);
}

/* The TCB Signing chain that came with tdx/full-collateral, for files that lack one. */
static char *tcb_signing_chain(size_t *size)
{
    size_t text_size = 0;
    char *text = load("tdx/full-collateral", "collateral.json", &text_size);
    json_t *doc = text ? json_loadb(text, text_size, 0, NULL) : NULL;
    const char *pem = json_string_value(json_object_get(doc, "tcb_info_issuer_chain"));
    char *copy = pem ? strdup(pem) : NULL;
    *size = pem ? strlen(pem) : 0;
    json_decref(doc);
    free(text);
    return copy;
}

static void test_spr_2023(void)
{
    const char *set = "tdx/spr-2023";
    char path[5][1024];
    const char *names[] = {"tcb_info.json", "qe_identity.json", "root_crl.der", "pck_crl.der"};
    for (int i = 0; i < 4; i++)
        snprintf(path[i], sizeof(path[i]), "%s/%s/%s", vectors, set, names[i]);
    struct keep_collateral_files files = {
        .tcb_info = path[0], .qe_identity = path[1], .root_ca_crl = path[2], .pck_crl = path[3]};
    struct keep_collateral *coll = NULL;
    struct keep_error err = {0};
    int64_t t = at("2023-07-01T01:00:00Z");
    if (!ok(keep_collateral_from_files(&files, &coll, &err) == KEEP_OK,
            "%s: separate files parse (DER CRLs, PCS JSON) (%s)", set, err.message))
        return;
    /* No issuer chains came with these files: what needs them is reported missing. */
    is_int(keep_tcb_info_verify(coll->tcb_info, roots, coll->root_ca_crl, t, &err),
           KEEP_E_COLLATERAL_MISSING, "%s: TCB Info signature cannot be checked: %s", set,
           err.message);
    is_int(keep_collateral_verify(coll, roots, t, &err), KEEP_E_COLLATERAL_MISSING,
           "%s: collateral set reports the missing chain", set);
    is_int(keep_tcb_info_check_fresh(coll->tcb_info, t, &err), KEEP_OK,
           "%s: TCB Info fresh at 2023-07-01", set);
    json_t *report = keep_collateral_report(coll, roots, t);
    char *report_text = json_dumps(report, JSON_COMPACT);
    diag("%s", report_text);
    const char *want[][2] = {{"tcb_info.signature", "skipped"},
                             {"tcb_info.freshness", "ok"},
                             {"qe_identity.signature", "skipped"},
                             {"qe_identity.freshness", "ok"},
                             {"root_ca_crl", "ok"},
                             {"pck_crl", "skipped"}};
    for (size_t i = 0; i < 6; i++) {
        json_t *c = json_array_get(report, i);
        is_str(json_string_value(json_object_get(c, "result")), want[i][1], "%s: report %s", set,
               want[i][0]);
    }
    free(report_text);
    json_decref(report);
    is_int(keep_qe_identity_check_fresh(coll->qe_identity, t, &err), KEEP_OK,
           "%s: QE Identity fresh at 2023-07-01", set);

    struct keep_quote q;
    struct keep_pck_info pck;
    uint8_t *buf = NULL;
    if (verify_quote(set, NULL, coll->root_ca_crl, coll->pck_crl, t, &q, &buf, &pck)) {
        struct keep_tcb_input in = input_of(&q, &pck);
        struct keep_tcb_result r;
        is_int(keep_tcb_info_check_platform(coll->tcb_info, &in, &err), KEEP_OK,
               "%s: FMSPC 50806f000000 matches (%s)", set, err.message);
        is_int(keep_tcb_match(coll->tcb_info, &in, &r, &err),
               KEEP_E_COLLATERAL_NO_MATCHING_TCB_LEVEL, "%s: no matching TCB level", set);
        diag("%s", err.message);
        struct keep_qe_report_input qr = qe_input_of(&q);
        struct keep_qe_identity_result qres;
        is_int(keep_qe_identity_check(coll->qe_identity, KEEP_TEE_TDX, &qr, &qres, &err), KEEP_OK,
               "%s: TD QE report matches the 2023 TD_QE identity (%s)", set, err.message);
    }
    free(buf);
    keep_collateral_free(coll);
}

static void test_v5_2026(void)
{
    const char *set = "tdx/v5-2026";
    size_t size = 0, chain_size = 0;
    struct keep_error err = {0};
    struct keep_tcb_info *info = NULL;
    int64_t t = at("2026-02-03T01:00:00Z");
    char *text = load(set, "tcb_info.json", &size);
    if (!text || !ok(keep_tcb_info_parse(text, size, &info, &err) == KEEP_OK,
                     "%s: tcb_info.json parses (%s)", set, err.message)) {
        free(text);
        return;
    }
    is_int(info->tcb_evaluation_data_number, 18, "%s: tcbEvaluationDataNumber 18", set);
    is_int(info->module_identity_count, 2, "%s: two TDX module identities", set);
    is_int(keep_tcb_info_verify(info, roots, NULL, t, &err), KEEP_E_COLLATERAL_MISSING,
           "%s: without an issuer chain the signature is reported unchecked", set);
    is_int(keep_tcb_info_check_fresh(info, t, &err), KEEP_OK, "%s: fresh at 2026-02-03", set);
    /* Intel's TCB Signing certificate of 2025 (from tdx/full-collateral) signs it. */
    char *chain = tcb_signing_chain(&chain_size);
    if (chain &&
        keep_tcb_info_set_issuer_chain(info, (const uint8_t *)chain, chain_size, &err) == KEEP_OK)
        is_int(keep_tcb_info_verify(info, roots, NULL, t, &err), KEEP_OK,
               "%s: signature verifies with the Intel TCB Signing chain (%s)", set, err.message);

    struct keep_quote q;
    struct keep_pck_info pck;
    uint8_t *buf = NULL;
    if (verify_quote(set, NULL, NULL, NULL, t, &q, &buf, &pck)) {
        struct keep_tcb_input in = input_of(&q, &pck);
        struct keep_tcb_result r;
        is_int(keep_tcb_info_check_platform(info, &in, &err), KEEP_OK,
               "%s: FMSPC 90c06f000000 matches (%s)", set, err.message);
        if (ok(keep_tcb_match(info, &in, &r, &err) == KEEP_OK, "%s: a level matches (%s)", set,
               err.message)) {
            is_str(keep_tcb_status_name(r.status), "UpToDate", "%s: TCB UpToDate", set);
            keep_tcb_result_free(&r);
        }
    }
    free(buf);
    free(chain);
    free(text);
    keep_tcb_info_free(info);
}

int main(void)
{
    struct keep_error err = {0};
    vectors = tap_vectors_dir();
    if (keep_pck_load_intel_root(NULL, &intel_root, &err) != KEEP_OK) {
        ok(0, "Intel SGX Root CA loads: %s", err.message);
        return done_testing();
    }
    roots = sk_X509_new_null();
    X509_up_ref(intel_root);
    sk_X509_push(roots, intel_root);
    test_sgx_full();
    test_tdx_full();
    test_spr_2023();
    test_v5_2026();
    sk_X509_pop_free(roots, X509_free);
    X509_free(intel_root);
    return done_testing();
}
