/* SPDX-License-Identifier: Apache-2.0 */
/*
 * QE Identity parsing and the QE report check. See qe_identity.h for what
 * each function checks; [PCS] "Enclave Identity" is the schema, [QVL]
 * Verifiers/EnclaveIdentityV2 and QuoteVerifier the algorithm (read, not
 * copied).
 */
#include "attest/qe_identity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/x509.h"
#include "common/util.h"

static const char *qe_id_name(enum keep_tee_type tee)
{
    return tee == KEEP_TEE_TDX ? "TD_QE" : "QE";
}

static int parse_level(json_t *lv, const char *path, struct keep_qe_identity_level *out,
                       struct keep_error *err)
{
    json_t *tcb;
    char tpath[96];
    uint64_t isvsvn;
    int rc;
    if ((rc = keep_coll_level_tcb(lv, path, &tcb, tpath, sizeof(tpath), err)) ||
        (rc = keep_coll_uint(tcb, tpath, "isvsvn", UINT16_MAX, &isvsvn, err)) ||
        (rc = keep_coll_level_status(lv, path, &out->tcb_date, &out->status, &out->advisory_ids,
                                     &out->advisory_count, err)))
        return rc;
    out->isvsvn = (uint16_t)isvsvn;
    return KEEP_OK;
}

static int parse_levels(struct keep_qe_identity *qe, json_t *body, struct keep_error *err)
{
    json_t *arr, *lv;
    char path[64];
    size_t i;
    int rc = keep_coll_levels_array(body, "enclaveIdentity", &arr, err);
    if (rc)
        return rc;
    qe->levels = calloc(json_array_size(arr), sizeof(*qe->levels));
    if (!qe->levels)
        return keep_fail(err, KEEP_E_NOMEM, "enclaveIdentity.tcbLevels: out of memory");
    json_array_foreach(arr, i, lv)
    {
        snprintf(path, sizeof(path), "enclaveIdentity.tcbLevels[%zu]", i);
        qe->level_count = i + 1;
        if ((rc = parse_level(lv, path, &qe->levels[i], err)))
            return rc;
    }
    return KEEP_OK;
}

static int parse_id_version(struct keep_qe_identity *qe, json_t *body, struct keep_error *err)
{
    const char *id;
    uint64_t version;
    int rc;
    if ((rc = keep_coll_uint(body, "enclaveIdentity", "version", UINT32_MAX, &version, err)))
        return rc;
    /* [PCS] Enclave Identity V2 is the only version with tcbLevels. */
    if (version != 2)
        return keep_fail(err, KEEP_E_COLLATERAL_VERSION_UNSUPPORTED,
                         "enclaveIdentity.version is %llu; version 2 is supported",
                         (unsigned long long)version);
    qe->version = 2;
    if ((rc = keep_coll_string(body, "enclaveIdentity", "id", &id, err)))
        return rc;
    if (strcmp(id, "QE") == 0)
        qe->id = KEEP_TEE_SGX;
    else if (strcmp(id, "TD_QE") == 0)
        qe->id = KEEP_TEE_TDX;
    else
        return keep_fail(err, KEEP_E_COLLATERAL_ID_UNSUPPORTED,
                         "enclaveIdentity.id is '%.32s'; must be \"QE\" or \"TD_QE\"", id);
    return KEEP_OK;
}

static int parse_u32_hex(json_t *body, const char *key, uint32_t *out, struct keep_error *err)
{
    uint8_t b[4];
    int rc = keep_coll_hex(body, "enclaveIdentity", key, b, sizeof(b), err);
    if (rc)
        return rc;
    /* Intel writes miscselect as the hex text of the 32-bit number. */
    *out = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return KEEP_OK;
}

static int parse_body(struct keep_qe_identity *qe, json_t *body, struct keep_error *err)
{
    const char *p = "enclaveIdentity";
    uint64_t n;
    int rc;
    if ((rc = parse_id_version(qe, body, err)) ||
        (rc = keep_coll_time(body, p, "issueDate", &qe->issue_date, err)) ||
        (rc = keep_coll_time(body, p, "nextUpdate", &qe->next_update, err)) ||
        (rc = keep_coll_uint(body, p, "tcbEvaluationDataNumber", UINT32_MAX, &n, err)))
        return rc;
    qe->tcb_evaluation_data_number = (uint32_t)n;
    if ((rc = parse_u32_hex(body, "miscselect", &qe->miscselect, err)) ||
        (rc = parse_u32_hex(body, "miscselectMask", &qe->miscselect_mask, err)) ||
        (rc = keep_coll_hex(body, p, "attributes", qe->attributes, 16, err)) ||
        (rc = keep_coll_hex(body, p, "attributesMask", qe->attributes_mask, 16, err)) ||
        (rc = keep_coll_hex(body, p, "mrsigner", qe->mrsigner, 32, err)) ||
        (rc = keep_coll_uint(body, p, "isvprodid", UINT16_MAX, &n, err)))
        return rc;
    qe->isvprodid = (uint16_t)n;
    return parse_levels(qe, body, err);
}

int keep_qe_identity_parse_body(const char *body, size_t body_size, const char *signature_hex,
                                struct keep_qe_identity **out, struct keep_error *err)
{
    struct keep_qe_identity *qe = calloc(1, sizeof(*qe));
    if (!qe)
        return keep_fail(err, KEEP_E_NOMEM, "enclaveIdentity: out of memory");
    int rc = keep_intel_doc_parse_body(&qe->doc, "enclaveIdentity", "qe_identity_signature", body,
                                       body_size, signature_hex, err);
    if (!rc)
        rc = parse_body(qe, qe->doc.json, err);
    if (rc) {
        keep_qe_identity_free(qe);
        return rc;
    }
    *out = qe;
    return KEEP_OK;
}

int keep_qe_identity_parse(const char *text, size_t size, struct keep_qe_identity **out,
                           struct keep_error *err)
{
    json_t *root;
    const char *sig;
    size_t off, len;
    int rc = keep_coll_split_file(text, size, "qe_identity.json", "enclaveIdentity", &root, &off,
                                  &len, &sig, err);
    if (!rc)
        rc = keep_qe_identity_parse_body(text + off, len, sig, out, err);
    json_decref(root);
    return rc;
}

int keep_qe_identity_set_issuer_chain(struct keep_qe_identity *qe, const uint8_t *data, size_t size,
                                      struct keep_error *err)
{
    return keep_intel_doc_set_issuer_chain(&qe->doc, "qe_identity_issuer_chain", data, size, err);
}

void keep_qe_identity_free(struct keep_qe_identity *qe)
{
    if (!qe)
        return;
    for (size_t i = 0; i < qe->level_count; i++)
        free(qe->levels[i].advisory_ids);
    free(qe->levels);
    keep_intel_doc_clear(&qe->doc);
    free(qe);
}

int keep_qe_identity_check_fresh(const struct keep_qe_identity *qe, int64_t time,
                                 struct keep_error *err)
{
    return keep_coll_check_dates("enclaveIdentity", qe->issue_date, qe->next_update, time, err);
}

int keep_qe_identity_verify(const struct keep_qe_identity *qe, STACK_OF(X509) * roots,
                            X509_CRL *root_ca_crl, int64_t time, struct keep_error *err)
{
    int rc = keep_intel_doc_verify(&qe->doc, roots, root_ca_crl, time, err);
    if (rc)
        return rc;
    return keep_qe_identity_check_fresh(qe, time, err);
}

static int check_identity_fields(const struct keep_qe_identity *qe,
                                 const struct keep_qe_report_input *r, struct keep_error *err)
{
    char a[65], b[65];
    if (memcmp(r->mrsigner, qe->mrsigner, 32) != 0) {
        keep_hex_encode(r->mrsigner, 32, a);
        keep_hex_encode(qe->mrsigner, 32, b);
        return keep_fail(err, KEEP_E_COLLATERAL_QE_MRSIGNER,
                         "QE report MRSIGNER is %s but enclaveIdentity.mrsigner is %s", a, b);
    }
    if (r->isvprodid != qe->isvprodid)
        return keep_fail(err, KEEP_E_COLLATERAL_QE_ISVPRODID,
                         "QE report ISVPRODID is %u but enclaveIdentity.isvprodid is %u",
                         r->isvprodid, qe->isvprodid);
    if ((r->miscselect & qe->miscselect_mask) != qe->miscselect)
        return keep_fail(err, KEEP_E_COLLATERAL_QE_MISCSELECT,
                         "QE report MISCSELECT 0x%08x under enclaveIdentity.miscselectMask "
                         "0x%08x is not enclaveIdentity.miscselect 0x%08x",
                         r->miscselect, qe->miscselect_mask, qe->miscselect);
    for (int i = 0; i < 16; i++) {
        if ((r->attributes[i] & qe->attributes_mask[i]) != qe->attributes[i]) {
            keep_hex_encode(r->attributes, 16, a);
            keep_hex_encode(qe->attributes, 16, b);
            return keep_fail(err, KEEP_E_COLLATERAL_QE_ATTRIBUTES,
                             "QE report ATTRIBUTES %s under enclaveIdentity.attributesMask differ "
                             "from enclaveIdentity.attributes %s (byte %d)",
                             a, b, i);
        }
    }
    return KEEP_OK;
}

int keep_qe_identity_check(const struct keep_qe_identity *qe, enum keep_tee_type tee,
                           const struct keep_qe_report_input *report,
                           struct keep_qe_identity_result *result, struct keep_error *err)
{
    memset(result, 0, sizeof(*result));
    if (qe->id != tee)
        return keep_fail(err, KEEP_E_COLLATERAL_ID_MISMATCH,
                         "enclaveIdentity.id is \"%s\" but the quote needs \"%s\"",
                         qe_id_name(qe->id), qe_id_name(tee));
    int rc = check_identity_fields(qe, report, err);
    if (rc)
        return rc;
    /* [QVL] the first level (highest first) whose isvsvn the QE's reaches. */
    for (size_t i = 0; i < qe->level_count; i++) {
        if (report->isvsvn >= qe->levels[i].isvsvn) {
            result->status = qe->levels[i].status;
            result->level_index = i;
            result->tcb_date = qe->levels[i].tcb_date;
            result->advisory_ids = qe->levels[i].advisory_ids;
            result->advisory_count = qe->levels[i].advisory_count;
            return KEEP_OK;
        }
    }
    return keep_fail(err, KEEP_E_COLLATERAL_NO_MATCHING_QE_LEVEL,
                     "QE report ISVSVN %u is below every enclaveIdentity.tcbLevels entry "
                     "(lowest isvsvn %u)",
                     report->isvsvn, qe->levels[qe->level_count - 1].isvsvn);
}

json_t *keep_qe_identity_summary(const struct keep_qe_identity *qe)
{
    char issue[32], next[32];
    keep_format_time(qe->issue_date, issue, sizeof(issue));
    keep_format_time(qe->next_update, next, sizeof(next));
    return json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:b, s:b}", "id", qe_id_name(qe->id),
                     "version", (json_int_t)qe->version, "issue_date", issue, "next_update", next,
                     "tcb_evaluation_data_number", (json_int_t)qe->tcb_evaluation_data_number,
                     "tcb_levels", (json_int_t)qe->level_count, "signed", qe->doc.has_signature,
                     "issuer_chain", qe->doc.issuer_chain != NULL);
}
