/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel collateral from a PCS (https://api.trustedservices.intel.com) or a PCCS,
 * API v4: TCB Info (/{sgx,tdx}/certification/v4/tcb?fmspc=HEX), QE Identity
 * (/{sgx,tdx}/certification/v4/qe/identity) and the PCK CRL
 * (/sgx/certification/v4/pckcrl?ca=processor|platform&encoding=der). Each reply
 * carries the chain that signs it in a response header (TCB-Info-Issuer-Chain,
 * SGX-Enclave-Identity-Issuer-Chain, SGX-PCK-CRL-Issuer-Chain) as
 * percent-encoded PEM. The pieces are assembled into one cached blob, keyed by
 * TEE, FMSPC and PCK CA, that fills a request's separate collateral fields.
 */
#ifndef KEEP_STEWARD_PCS_H
#define KEEP_STEWARD_PCS_H

#include <stdbool.h>

#include "steward/request.h"

#define STEWARD_PCS_HEADER_MAX (64 * 1024) /* an issuer chain is ~2 KiB */

/*
 * Percent-decode an issuer-chain header value (RFC 3986 section 2.1: "%" HEXDIG HEXDIG; every
 * other byte must be a printable ASCII character) into PEM, and check that it is a sequence of
 * one or more certificates that parse. header names the header in errors.
 */
int steward_pcs_issuer_chain(const char *header, const char *value, size_t len,
                             struct steward_bytes *pem, struct keep_error *err);

/* What to ask the PCS for, read from a quote's PCK certificate. */
struct steward_pcs_target {
    bool tdx;
    char fmspc[13];     /* 12 hex digits */
    const char *pck_ca; /* "processor" or "platform" */
};

/* -1 when the evidence is not an SGX/TDX quote with a PCK chain (nothing to fetch). */
int steward_pcs_target_of(const uint8_t *quote, size_t size, struct steward_pcs_target *t);

/* The cache key (a URL-like name, unique per base, TEE, FMSPC and CA). */
int steward_pcs_cache_key(const char *base, const struct steward_pcs_target *t, char *key,
                          size_t size);

/*
 * GET the three items from base and assemble them (JSON: "tcb_info", "qe_identity" as served,
 * "tcb_signing_chain", "qe_identity_issuer_chain", "pck_crl_issuer_chain" PEM, "pck_crl" base64).
 * *not_after: the earliest nextUpdate of TCB Info, QE Identity and the CRL.
 */
int steward_pcs_fetch(const char *base, const struct steward_pcs_target *t, int timeout_seconds,
                      struct steward_bytes *blob, int64_t *not_after, struct keep_error *err);

/* Fill req's tcb_info, qe_identity, tcb_signing_chain, pck_crl, pck_crl_issuer_chain (each
 * malloc'd, owned by the caller: steward_pcs_release) from an assembled blob. */
int steward_pcs_apply(const struct steward_bytes *blob, struct steward_cert_request *req,
                      struct keep_error *err);
void steward_pcs_release(struct steward_cert_request *req);

#endif
