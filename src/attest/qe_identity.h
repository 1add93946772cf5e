/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel QE Identity (enclaveIdentity v2, "id":"QE" for the SGX quoting
 * enclave, "TD_QE" for the TDX one), [PCS] "Enclave Identity" (Get Quoting
 * Enclave Identity V2/V4 responses).
 *
 * What this file checks, BearSSL style:
 *   keep_qe_identity_parse*   types, ranges and hex lengths of every field
 *                             (members the schema does not list are ignored).
 *   keep_qe_identity_verify   issuer chain to the roots at time, the ECDSA
 *                             P-256 signature over the exact signed bytes,
 *                             issueDate <= time <= nextUpdate.
 *   keep_qe_identity_check    a QE report against the identity: MRSIGNER
 *                             equal, ISVPRODID equal, MISCSELECT and
 *                             ATTRIBUTES equal under their masks, then the
 *                             ISVSVN graded against tcbLevels.
 */
#ifndef KEEP_ATTEST_QE_IDENTITY_H
#define KEEP_ATTEST_QE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "keep/error.h"
#include "attest/tcb.h"

struct keep_qe_identity_level {
    uint16_t isvsvn; /* tcb.isvsvn */
    int64_t tcb_date;
    enum keep_tcb_status status; /* UpToDate, OutOfDate or Revoked */
    const char **advisory_ids;   /* owned by the identity */
    size_t advisory_count;
};

struct keep_qe_identity {
    enum keep_tee_type id; /* "QE" -> SGX, "TD_QE" -> TDX */
    unsigned version;      /* 2 */
    int64_t issue_date;
    int64_t next_update;
    uint32_t tcb_evaluation_data_number;
    uint32_t miscselect; /* hex text of the number, as Intel writes it */
    uint32_t miscselect_mask;
    uint8_t attributes[16]; /* bytes in report order */
    uint8_t attributes_mask[16];
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    struct keep_qe_identity_level *levels;
    size_t level_count;

    /* The signed document: the parsed enclaveIdentity (owns the strings), bytes, r||s, chain. */
    struct keep_intel_doc doc;
};

/* The Intel PCS file form {"enclaveIdentity":{...},"signature":"..."}. */
KEEP_WARN_UNUSED int keep_qe_identity_parse(const char *text, size_t size,
                                            struct keep_qe_identity **out, struct keep_error *err);
/* The signed object text alone, signature as hex or NULL (collateral.json form). */
KEEP_WARN_UNUSED int keep_qe_identity_parse_body(const char *body, size_t body_size,
                                                 const char *signature_hex,
                                                 struct keep_qe_identity **out,
                                                 struct keep_error *err);
KEEP_WARN_UNUSED int keep_qe_identity_set_issuer_chain(struct keep_qe_identity *qe,
                                                       const uint8_t *data, size_t size,
                                                       struct keep_error *err);
void keep_qe_identity_free(struct keep_qe_identity *qe);

/* Chain, signature and freshness at time; see keep_tcb_info_verify. */
KEEP_WARN_UNUSED int keep_qe_identity_verify(const struct keep_qe_identity *qe,
                                             STACK_OF(X509) * roots, X509_CRL *root_ca_crl,
                                             int64_t time, struct keep_error *err);
KEEP_WARN_UNUSED int keep_qe_identity_check_fresh(const struct keep_qe_identity *qe, int64_t time,
                                                  struct keep_error *err);

/* The QE's report body fields, read from the quote's QE report. */
struct keep_qe_report_input {
    uint8_t mrsigner[32];
    uint16_t isvprodid;
    uint16_t isvsvn;
    uint8_t attributes[16]; /* bytes as in the report */
    uint32_t miscselect;    /* the report's little-endian MISCSELECT as a number */
};

struct keep_qe_identity_result {
    enum keep_tcb_status status; /* of the first level with isvsvn <= the QE's */
    size_t level_index;
    int64_t tcb_date;
    const char **advisory_ids; /* the matched level's (owned by the identity) */
    size_t advisory_count;
};

/*
 * [QVL] EnclaveIdentity checks, in order: mrsigner, isvprodid, miscselect
 * under miscselectMask, attributes under attributesMask (each has its own
 * error code), then the first tcbLevels entry with isvsvn <= report.isvsvn
 * gives the QE TCB status (KEEP_E_COLLATERAL_NO_MATCHING_QE_LEVEL when
 * none). `tee`, when the caller knows it, must match the identity's id.
 */
KEEP_WARN_UNUSED int keep_qe_identity_check(const struct keep_qe_identity *qe,
                                            enum keep_tee_type tee,
                                            const struct keep_qe_report_input *report,
                                            struct keep_qe_identity_result *result,
                                            struct keep_error *err);

json_t *keep_qe_identity_summary(const struct keep_qe_identity *qe);

#endif /* KEEP_ATTEST_QE_IDENTITY_H */
