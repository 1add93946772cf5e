/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Synthetic Intel DCAP collateral for tests: a test root CA, a TCB Signing
 * certificate and a PCK Platform CA under it, CRLs, and TCB Info / QE
 * Identity JSON signed the way Intel PCS signs them (ECDSA P-256 over the
 * exact bytes of the "tcbInfo" / "enclaveIdentity" value, hex r||s), in
 * both the separate-file form and the collateral.json form.
 */
#ifndef KEEP_TESTS_COLLATERAL_GEN_H
#define KEEP_TESTS_COLLATERAL_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

struct keep_test_pki {
    EVP_PKEY *root_key;
    X509 *root; /* "keep test SGX Root CA", self-signed */
    EVP_PKEY *tcb_key;
    X509 *tcb_signer; /* "keep test TCB Signing", issued by root */
    EVP_PKEY *pck_ca_key;
    X509 *pck_ca;       /* "keep test PCK Platform CA", issued by root */
    X509_CRL *root_crl; /* by root, thisUpdate/nextUpdate as given */
    X509_CRL *pck_crl;  /* by pck_ca */
};

/*
 * Certificates valid [not_before, not_after], CRLs valid [not_before,
 * crl_next_update]. NULL on failure (prints why to stderr).
 */
struct keep_test_pki *keep_test_pki_new(int64_t not_before, int64_t not_after,
                                        int64_t crl_next_update);
void keep_test_pki_free(struct keep_test_pki *pki);
/* Re-issue root_crl (same dates) listing the TCB Signing certificate. */
bool keep_test_pki_revoke_tcb_signer(struct keep_test_pki *pki);

/* A stack holding one new reference to pki->root (free with sk_X509_pop_free). */
STACK_OF(X509) * keep_test_pki_roots(const struct keep_test_pki *pki);

/* ECDSA P-256 / SHA-256 over data as 128 hex digits of r||s into out[129]. */
bool keep_test_sign_hex(EVP_PKEY *key, const void *data, size_t size, char out[129]);

/* PEM of "first then root" (malloc'd, NUL-terminated). */
char *keep_test_chain_pem(const struct keep_test_pki *pki, X509 *first);
/* Hex of a CRL's DER (malloc'd). */
char *keep_test_crl_hex(X509_CRL *crl);

/*
 * The PCS file form: {"<key>":<body>,"signature":"<hex>"} with body copied
 * verbatim, signed by the TCB Signing key. `before`, `middle` and `after`
 * are whitespace put around the pieces (NULL for none), to test that only
 * the value's own bytes are signed.
 */
char *keep_test_pcs_file(const struct keep_test_pki *pki, const char *key, const char *body,
                         const char *before, const char *middle, const char *after);

/* The collateral.json form, every item present, signed by the pki. */
char *keep_test_collateral_json(const struct keep_test_pki *pki, const char *tcb_body,
                                const char *qe_body);

/* One TCB level of a hand-written table. */
struct keep_test_tcb_level {
    uint8_t sgx[16];
    uint16_t pcesvn;
    uint8_t tdx[16];
    const char *status;
    const char *advisories; /* comma separated, NULL for none */
};

struct keep_test_tcb_spec {
    const char *id; /* "SGX" or "TDX" */
    int version;    /* 2 or 3 */
    const char *issue_date, *next_update;
    const char *fmspc, *pce_id;
    const struct keep_test_tcb_level *levels;
    size_t level_count;
    json_t *tdx_module_identities; /* borrowed; NULL for none (TDX only) */
};

/* The tcbInfo body as compact JSON (malloc'd); tdxModule all zero for TDX. */
char *keep_test_tcb_info_body(const struct keep_test_tcb_spec *spec);

/* A QE Identity body with Intel's real SGX QE values and dates as given. */
char *keep_test_qe_identity_body(const char *id, const char *issue_date, const char *next_update);

#endif /* KEEP_TESTS_COLLATERAL_GEN_H */
