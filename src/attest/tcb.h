/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel TCB Info (SGX v2 and v3, TDX v3) and the TCB level matching
 * algorithm.
 *
 * References:
 *   [PCS]  Intel SGX and TDX Provisioning Certification Service API,
 *          "TCB Info" (Get TCB Info V3/V4 responses, the tcbInfo schema)
 *   [QVL]  Intel SGX-TDX DCAP Quote Verification Library,
 *          Verifiers/Checks/TcbLevelCheck.cpp and TdxModuleCheck.cpp
 *          (algorithm read, not copied)
 *
 * What this file checks, BearSSL style:
 *   keep_tcb_info_parse*   the JSON is well formed and every field of the
 *                          tcbInfo schema has its type, range and hex length.
 *                          Nothing is trusted yet: the signature is checked
 *                          by keep_tcb_info_verify. Members the schema does
 *                          not list are ignored (Intel adds fields), but
 *                          they are covered by the signature.
 *   keep_tcb_info_verify   the TCB Signing certificate chains to one of the
 *                          given roots at the given time (with the root CA
 *                          CRL when given), the ECDSA P-256 signature covers
 *                          the exact signed bytes, and issueDate <= time <=
 *                          nextUpdate.
 *   keep_tcb_info_check_platform  id, FMSPC and pceId against the platform.
 *   keep_tcb_match         Intel's TCB level matching for SGX and TDX.
 */
#ifndef KEEP_ATTEST_TCB_H
#define KEEP_ATTEST_TCB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "attest/intel_doc.h"
#include "keep/error.h"

/* tcbStatus values, [PCS] "TCB Info", tcbLevels[].tcbStatus. */
enum keep_tcb_status {
    KEEP_TCB_UP_TO_DATE,
    KEEP_TCB_SW_HARDENING_NEEDED,
    KEEP_TCB_CONFIGURATION_NEEDED,
    KEEP_TCB_CONFIGURATION_AND_SW_HARDENING_NEEDED,
    KEEP_TCB_OUT_OF_DATE,
    KEEP_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED,
    KEEP_TCB_REVOKED,
};

/* Intel's spelling: "UpToDate", "SWHardeningNeeded", ... */
const char *keep_tcb_status_name(enum keep_tcb_status status);
/* The status Intel spells `text`; KEEP_E_COLLATERAL_TCB_STATUS_UNKNOWN otherwise. */
KEEP_WARN_UNUSED int keep_tcb_status_parse(const char *text, enum keep_tcb_status *out,
                                           struct keep_error *err);

enum keep_tee_type { KEEP_TEE_SGX, KEEP_TEE_TDX };

#define KEEP_TCB_COMPONENTS 16

struct keep_tcb_level {
    uint8_t sgx_svn[KEEP_TCB_COMPONENTS]; /* tcb.sgxtcbcomponents[i].svn (v2: sgxtcbcompNNsvn) */
    uint16_t pcesvn;                      /* tcb.pcesvn */
    bool has_tdx;                         /* tcb.tdxtcbcomponents present (TDX only) */
    uint8_t tdx_svn[KEEP_TCB_COMPONENTS]; /* tcb.tdxtcbcomponents[i].svn */
    int64_t tcb_date;                     /* tcbDate, seconds since the epoch */
    enum keep_tcb_status status;          /* tcbStatus */
    const char **advisory_ids;            /* advisoryIDs (strings owned by the tcb_info) */
    size_t advisory_count;
};

struct keep_tdx_module_level {
    uint8_t isvsvn; /* tcb.isvsvn */
    int64_t tcb_date;
    enum keep_tcb_status status;
    const char **advisory_ids;
    size_t advisory_count;
};

struct keep_tdx_module_identity {
    const char *id; /* "TDX_01", ...; owned by the tcb_info */
    uint8_t mrsigner[48];
    uint8_t attributes[8];
    uint8_t attributes_mask[8];
    struct keep_tdx_module_level *levels;
    size_t level_count;
};

struct keep_tcb_info {
    enum keep_tee_type id; /* "SGX" or "TDX" (v2 has no id: SGX) */
    unsigned version;      /* 2 or 3 */
    int64_t issue_date;
    int64_t next_update;
    uint8_t fmspc[6];
    uint8_t pce_id[2];
    unsigned tcb_type;
    uint32_t tcb_evaluation_data_number;

    bool has_tdx_module; /* tdxModule (TDX) */
    uint8_t tdx_module_mrsigner[48];
    uint8_t tdx_module_attributes[8];
    uint8_t tdx_module_attributes_mask[8];
    struct keep_tdx_module_identity *module_identities; /* tdxModuleIdentities */
    size_t module_identity_count;

    struct keep_tcb_level *levels; /* tcbLevels, in the signed order */
    size_t level_count;

    /* The signed document: the parsed tcbInfo (owns the strings), its exact bytes, r||s, chain. */
    struct keep_intel_doc doc;
};

/*
 * Parse the Intel PCS file form {"tcbInfo":{...},"signature":"<hex r||s>"}.
 * The signed bytes are the text of the "tcbInfo" value exactly as it appears
 * in `text` (see keep_json_member_text in collateral.h).
 */
KEEP_WARN_UNUSED int keep_tcb_info_parse(const char *text, size_t size, struct keep_tcb_info **out,
                                         struct keep_error *err);
/*
 * Parse the signed tcbInfo object text on its own (the collateral.json
 * form, where that text is a string member), with its signature given
 * separately as hex (NULL when there is none: verification then reports
 * the signature missing).
 */
KEEP_WARN_UNUSED int keep_tcb_info_parse_body(const char *body, size_t body_size,
                                              const char *signature_hex, struct keep_tcb_info **out,
                                              struct keep_error *err);
/* Attach the TCB Info issuer chain (PEM or DER bundle, TCB Signing cert first). */
KEEP_WARN_UNUSED int keep_tcb_info_set_issuer_chain(struct keep_tcb_info *info, const uint8_t *data,
                                                    size_t size, struct keep_error *err);
void keep_tcb_info_free(struct keep_tcb_info *info);

/*
 * Verify at `time` (seconds since the epoch): the issuer chain to one of
 * `roots` (root_ca_crl, when not NULL, is applied to it), the signature
 * over the exact signed bytes, and issueDate <= time <= nextUpdate.
 * A missing chain or signature fails with KEEP_E_COLLATERAL_MISSING.
 */
KEEP_WARN_UNUSED int keep_tcb_info_verify(const struct keep_tcb_info *info, STACK_OF(X509) * roots,
                                          X509_CRL *root_ca_crl, int64_t time,
                                          struct keep_error *err);

/* issueDate <= time <= nextUpdate only (part of keep_tcb_info_verify). */
KEEP_WARN_UNUSED int keep_tcb_info_check_fresh(const struct keep_tcb_info *info, int64_t time,
                                               struct keep_error *err);

/* The platform values the matching needs, read from the PCK certificate and the quote. */
struct keep_tcb_input {
    enum keep_tee_type tee;
    uint8_t cpusvn_components[KEEP_TCB_COMPONENTS]; /* PCK SGX TCB extension, comp01..16 */
    uint16_t pcesvn;                                /* PCK PCESVN */
    uint8_t fmspc[6];                               /* PCK FMSPC */
    uint8_t pceid[2];                               /* PCK PCE-ID */
    /* TDX only (TD report in the quote body): */
    uint8_t tee_tcb_svn[KEEP_TCB_COMPONENTS];
    uint8_t mrsignerseam[48];
    uint8_t seam_attributes[8]; /* bytes as in the TD report (LE u64) */
};

/*
 * id matches input->tee (an SGX quote may be checked against SGX TCB Info
 * only, a TDX quote against TDX TCB Info v3), FMSPC and pceId equal.
 */
KEEP_WARN_UNUSED int keep_tcb_info_check_platform(const struct keep_tcb_info *info,
                                                  const struct keep_tcb_input *input,
                                                  struct keep_error *err);

struct keep_tcb_result {
    enum keep_tcb_status status;     /* converged status of the matched level(s) */
    enum keep_tcb_status sgx_status; /* the first level matching the SGX TCB */
    size_t sgx_level_index;
    bool tdx;                        /* the TDX parts below are filled */
    enum keep_tcb_status tdx_status; /* the first level matching SGX and TDX TCB */
    size_t tdx_level_index;
    bool has_module_status; /* a tdxModuleIdentities level was matched */
    enum keep_tcb_status module_status;
    const char *module_identity_id; /* "TDX_01" (owned by the tcb_info) */
    int64_t tcb_date;               /* tcbDate of the level that gave the status */
    char **advisory_ids;            /* union over the matched levels, first seen first */
    size_t advisory_count;
};

/*
 * Intel's TCB level matching ([QVL] TcbLevelCheck, [PCS] "TCB Info"):
 * the first level in tcbLevels whose 16 SGX components are all <= the
 * PCK's CPUSVN components and whose pcesvn <= the PCK's PCESVN gives the
 * SGX status. For TDX, the first level that also has every tdxtcbcomponent
 * <= TEE_TCB_SVN (bytes 0 and 1 excluded when TEE_TCB_SVN[1], the module
 * major version, is not 0: the module identity grades them) gives the TDX
 * status, which is converged with the TDX module's status. Does not call
 * keep_tcb_info_check_platform; call it first. On success fills *result
 * (free with keep_tcb_result_free). KEEP_E_COLLATERAL_NO_MATCHING_TCB_LEVEL
 * when no level matches.
 */
KEEP_WARN_UNUSED int keep_tcb_match(const struct keep_tcb_info *info,
                                    const struct keep_tcb_input *input,
                                    struct keep_tcb_result *result, struct keep_error *err);
void keep_tcb_result_free(struct keep_tcb_result *result);

/*
 * The platform status converged with the QE's TCB status, as the QVL does:
 * a QE OutOfDate turns UpToDate/SWHardeningNeeded into OutOfDate and the
 * configuration statuses into OutOfDateConfigurationNeeded; a QE Revoked
 * gives Revoked.
 */
enum keep_tcb_status keep_tcb_converge_with_qe(enum keep_tcb_status platform,
                                               enum keep_tcb_status qe);

/* A JSON summary: id, version, fmspc, dates, tcbEvaluationDataNumber, level count. */
json_t *keep_tcb_info_summary(const struct keep_tcb_info *info);

/* tcbStatus members and the status parts of a tcbLevels[] entry (TCB Info and QE Identity). */
KEEP_WARN_UNUSED int keep_coll_status(json_t *obj, const char *path, const char *key,
                                      enum keep_tcb_status *out, struct keep_error *err);
KEEP_WARN_UNUSED int keep_coll_level_status(json_t *lv, const char *path, int64_t *tcb_date,
                                            enum keep_tcb_status *status,
                                            const char ***advisory_ids, size_t *advisory_count,
                                            struct keep_error *err);

#endif /* KEEP_ATTEST_TCB_H */
