/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel DCAP collateral: TCB Info, QE Identity, the root CA and PCK CRLs
 * and their issuer chains, in the two forms they travel in:
 *
 *   1. the separate files Intel PCS serves: tcb_info.json
 *      ({"tcbInfo":{...},"signature":"<hex r||s>"}), qe_identity.json
 *      ({"enclaveIdentity":{...},"signature":"..."}), the CRLs (DER, PEM
 *      or hex of DER) and the issuer chains (PEM, from the
 *      TCB-Info-Issuer-Chain / SGX-Enclave-Identity-Issuer-Chain /
 *      SGX-PCK-CRL-Issuer-Chain response headers);
 *   2. one collateral.json object (the sgx_ql_qve_collateral_t fields as
 *      JSON): pck_crl_issuer_chain, root_ca_crl, pck_crl, tcb_info,
 *      tcb_info_signature, tcb_info_issuer_chain, qe_identity,
 *      qe_identity_signature, qe_identity_issuer_chain. There tcb_info and
 *      qe_identity are strings holding the exact signed JSON text.
 *
 * What keep_collateral_verify checks, BearSSL style, at the caller's time:
 *   - TCB Info: issuer chain (TCB Signing <- root, root CA CRL applied),
 *     signature over the exact signed bytes, issueDate <= time <= nextUpdate;
 *   - QE Identity: the same;
 *   - root CA CRL: signed by the root that anchors the TCB Signing chain,
 *     thisUpdate <= time <= nextUpdate;
 *   - PCK CRL: its issuer chain (PCK Platform/Processor CA <- root) valid,
 *     the CRL signed by that CA and fresh.
 * An item that was not given fails with KEEP_E_COLLATERAL_MISSING naming it;
 * keep_collateral_summary says which items are present.
 * It does not check anything about a quote: that is keep_tcb_match,
 * keep_tcb_info_check_platform and keep_qe_identity_check, and the PCK
 * chain verification, which takes keep_collateral_crls().
 */
#ifndef KEEP_ATTEST_COLLATERAL_H
#define KEEP_ATTEST_COLLATERAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "keep/error.h"
#include "attest/qe_identity.h"
#include "attest/tcb.h"

struct keep_collateral {
    struct keep_tcb_info *tcb_info;        /* NULL when not given */
    struct keep_qe_identity *qe_identity;  /* NULL when not given */
    X509_CRL *root_ca_crl;                 /* issued by the Intel SGX Root CA */
    X509_CRL *pck_crl;                     /* issued by the PCK Platform or Processor CA */
    STACK_OF(X509) * pck_crl_issuer_chain; /* PCK Platform/Processor CA first */
};

/* An empty collateral set, to be filled with the setters below. */
KEEP_WARN_UNUSED int keep_collateral_new(struct keep_collateral **out, struct keep_error *err);
void keep_collateral_free(struct keep_collateral *coll);

/* Parse the single collateral.json form (see the top of this file). */
KEEP_WARN_UNUSED int keep_collateral_parse_json(const char *text, size_t size,
                                                struct keep_collateral **out,
                                                struct keep_error *err);

/* Setters for the separate-file form. Each replaces what was set before. */
KEEP_WARN_UNUSED int keep_collateral_set_tcb_info(struct keep_collateral *coll, const char *text,
                                                  size_t size, struct keep_error *err);
KEEP_WARN_UNUSED int keep_collateral_set_qe_identity(struct keep_collateral *coll, const char *text,
                                                     size_t size, struct keep_error *err);
/* Needs the TCB Info (resp. QE Identity) to be set first. */
KEEP_WARN_UNUSED int keep_collateral_set_tcb_info_issuer_chain(struct keep_collateral *coll,
                                                               const uint8_t *data, size_t size,
                                                               struct keep_error *err);
KEEP_WARN_UNUSED int keep_collateral_set_qe_identity_issuer_chain(struct keep_collateral *coll,
                                                                  const uint8_t *data, size_t size,
                                                                  struct keep_error *err);
KEEP_WARN_UNUSED int keep_collateral_set_pck_crl_issuer_chain(struct keep_collateral *coll,
                                                              const uint8_t *data, size_t size,
                                                              struct keep_error *err);
/* CRLs as DER, PEM, or hex text of DER (the collateral.json encoding). */
KEEP_WARN_UNUSED int keep_collateral_set_root_ca_crl(struct keep_collateral *coll,
                                                     const uint8_t *data, size_t size,
                                                     struct keep_error *err);
KEEP_WARN_UNUSED int keep_collateral_set_pck_crl(struct keep_collateral *coll, const uint8_t *data,
                                                 size_t size, struct keep_error *err);

/* Paths of the separate files; NULL for an item not given. */
struct keep_collateral_files {
    const char *tcb_info; /* tcb_info.json */
    const char *tcb_info_issuer_chain;
    const char *qe_identity; /* qe_identity.json */
    const char *qe_identity_issuer_chain;
    const char *root_ca_crl;
    const char *pck_crl;
    const char *pck_crl_issuer_chain;
};
KEEP_WARN_UNUSED int keep_collateral_from_files(const struct keep_collateral_files *files,
                                                struct keep_collateral **out,
                                                struct keep_error *err);

/* Every check listed at the top of this file, at `time`, anchored at `roots`. */
KEEP_WARN_UNUSED int keep_collateral_verify(const struct keep_collateral *coll,
                                            STACK_OF(X509) * roots, int64_t time,
                                            struct keep_error *err);

/*
 * Every check of keep_collateral_verify run on its own, so that a missing
 * or failing item does not hide the others: a new JSON array of
 *   {"check": "tcb_info.signature", "result": "ok" | "failed" | "skipped",
 *    "error": "<dotted code>", "message": "..."}   (error and message unless ok)
 * in the order tcb_info.signature (issuer chain and signature),
 * tcb_info.freshness, qe_identity.signature, qe_identity.freshness,
 * root_ca_crl, pck_crl. "skipped" means an item the check needs was not
 * given. NULL when out of memory.
 */
json_t *keep_collateral_report(const struct keep_collateral *coll, STACK_OF(X509) * roots,
                               int64_t time);

/*
 * The CRLs for the PCK chain verification (root CA CRL and PCK CRL, those
 * given), as a new stack of new references: free with
 * sk_X509_CRL_pop_free(crls, X509_CRL_free).
 */
KEEP_WARN_UNUSED int keep_collateral_crls(const struct keep_collateral *coll,
                                          STACK_OF(X509_CRL) * *out, struct keep_error *err);

/*
 * {"tcb_info": {...summary...} | null, "qe_identity": ... | null,
 *  "root_ca_crl": {"present": bool, "next_update": "..."}, "pck_crl": ...,
 *  "pck_crl_issuer_chain": bool}. New reference; NULL on allocation failure.
 */
json_t *keep_collateral_summary(const struct keep_collateral *coll);

#endif /* KEEP_ATTEST_COLLATERAL_H */
