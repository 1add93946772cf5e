/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libkeep-attest: verify AMD SEV-SNP, Intel SGX and Intel TDX attestation
 * evidence, then appraise it against a relying party's policy.
 *
 * A verification answers two separate questions, in this order:
 *
 *   1. Is the evidence GENUINE?  It parses, its signature verifies with a
 *      key that chains to a vendor root shipped with keep (data/roots) at
 *      the verification time, the key endorses the TCB the evidence claims,
 *      and the collateral given (Intel TCB Info, QE Identity, CRLs) is
 *      itself signed, fresh and consistent with the evidence. Any failure
 *      here gives KEEP_ATTEST_INVALID.
 *   2. Is it ACCEPTABLE?  Only for genuine evidence: the policy (debug,
 *      measurements, report_data binding, minimum TCB, TCB status and
 *      advisories, SVNs, VMPL, key digests, missing collateral) is applied.
 *      Any failure gives KEEP_ATTEST_REJECT; every failing rule is listed,
 *      not only the first.
 *
 * What is checked, per TEE, in order (docs/ATTESTATION.md cites the spec
 * section of each):
 *
 *   SEV-SNP  report format (size, version 2/3/5, reserved fields, signature
 *            algorithm); VCEK/VLEK chain to the shipped ARK at the time
 *            (RSASSA-PSS, validity, the AMD CRL when given); ECDSA P-384
 *            signature over bytes 0x000..0x29F; reported_tcb equal to the
 *            certificate's TCB extensions; chip_id equal to the VCEK hwID.
 *   SGX/TDX  quote format (header, body, every size field; bytes after the
 *            quote, covered by no signature, are ignored and counted); QE
 *            vendor ID;
 *            PCK chain to the shipped Intel SGX Root CA at the time with the
 *            CRLs given; QE report signature by the PCK key; attestation key
 *            bound in the QE report; quote signature by the attestation key;
 *            then, with collateral: TCB Info and QE Identity chains,
 *            signatures and freshness, CRL freshness, FMSPC/PCE-ID match,
 *            QE identity match, TCB level matching -> status and advisories.
 *   kvm      only the format: plain-KVM Keeps produce unsigned evidence
 *            (src/attest/kvm_evidence.h). It is REJECTED
 *            (policy.insecure_evidence) unless the policy sets
 *            "allow_insecure": true; a malformed one is INVALID.
 *
 * What is NOT checked: freshness of the evidence itself (bind a nonce with
 * the policy's report_data rule), the meaning of host_data / mr_config_id /
 * mr_owner (compare them in your own code from the claims), AMD TCB
 * "currency" (AMD publishes no TCB status: use the policy's min_tcb), and
 * anything the caller does not supply (a missing CRL cannot be applied; the
 * result lists such checks as skipped and the policy decides).
 *
 * Thread safety: a verifier may be used by one thread at a time (its caches
 * are not locked); a policy is immutable and may be shared; a result may be
 * read by one thread at a time (its JSON texts are made on first use).
 */
#ifndef KEEP_ATTEST_H
#define KEEP_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keep/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum keep_attest_verdict {
    KEEP_ATTEST_ACCEPT = 0,  /* genuine, and the policy accepts it */
    KEEP_ATTEST_REJECT = 1,  /* genuine, but the policy rejects it */
    KEEP_ATTEST_INVALID = 2, /* not genuine, or genuineness could not be established */
};

enum keep_attest_tee {
    KEEP_ATTEST_TEE_UNKNOWN = 0,
    KEEP_ATTEST_TEE_SNP,
    KEEP_ATTEST_TEE_SGX,
    KEEP_ATTEST_TEE_TDX,
    KEEP_ATTEST_TEE_KVM,
};

/* Evidence formats. AUTO recognises each by its size and header. */
enum keep_attest_format {
    KEEP_ATTEST_FORMAT_AUTO = 0,
    KEEP_ATTEST_FORMAT_SNP,
    KEEP_ATTEST_FORMAT_SGX,
    KEEP_ATTEST_FORMAT_TDX,
    KEEP_ATTEST_FORMAT_KVM,
};

/* "accept", "reject", "invalid". */
KEEP_API const char *keep_attest_verdict_name(enum keep_attest_verdict verdict);
/* "snp", "sgx", "tdx", "kvm", "unknown". */
KEEP_API const char *keep_attest_tee_name(enum keep_attest_tee tee);
/* Parse "auto", "snp", "sgx", "tdx", "kvm"; KEEP_E_USAGE otherwise. */
KEEP_API KEEP_WARN_UNUSED int
keep_attest_format_parse(const char *text, enum keep_attest_format *out, struct keep_error *err);

/* ---- Verifier ---------------------------------------------------------- */

/*
 * A verifier holds the trust anchors and caches. Create it once: it loads
 * the vendor roots from roots_dir (NULL: $KEEP_ROOTS_DIR, else the installed
 * <datadir>/keep/roots, else the source tree's data/roots), and it caches
 * every VCEK/VLEK signer, Intel collateral set and PCK chain it has
 * verified (64 of each, oldest evicted), keyed by the SHA-256 of their
 * bytes, so that verifying many reports from the same machines costs about
 * one signature check per SNP report and two per quote. A cached item is
 * re-checked against each new verification time (the validity windows of
 * every certificate, CRL and collateral item), never trusted beyond them.
 */
struct keep_attest_verifier;

KEEP_API KEEP_WARN_UNUSED int keep_attest_verifier_new(const char *roots_dir,
                                                       struct keep_attest_verifier **out,
                                                       struct keep_error *err);
KEEP_API void keep_attest_verifier_free(struct keep_attest_verifier *verifier);
/* Drop every cached signer, collateral set and PCK chain (the roots stay). */
KEEP_API void keep_attest_verifier_clear_cache(struct keep_attest_verifier *verifier);

/* ---- Policy ------------------------------------------------------------ */

/*
 * An appraisal policy, parsed from JSON (docs/ATTESTATION.md, "Policy").
 * Parsing is strict: an unknown key, a value of the wrong type, hex of the
 * wrong length or an unknown TCB status name is an error naming the key.
 * The default policy (NULL wherever a policy is taken, or "{}") forbids
 * debug, accepts only TCB status UpToDate with no advisories, requires the
 * Intel collateral, and rejects kvm evidence.
 */
struct keep_attest_policy;

KEEP_API KEEP_WARN_UNUSED int keep_attest_policy_parse(const char *json, size_t size,
                                                       struct keep_attest_policy **out,
                                                       struct keep_error *err);
KEEP_API void keep_attest_policy_free(struct keep_attest_policy *policy);

/* ---- Input ------------------------------------------------------------- */

/* Bytes supplied by the caller; NULL/0 when not given. */
struct keep_attest_blob {
    const void *data;
    size_t size;
};

struct keep_attest_input {
    enum keep_attest_format format;
    struct keep_attest_blob evidence; /* SNP report, SGX/TDX quote, kvm evidence */

    /* SEV-SNP: the VCEK or VLEK (DER or PEM) ... */
    struct keep_attest_blob vcek;
    /* ... or a bundle whose first certificate is the VCEK/VLEK, followed by
     * the ASK/ASVK and ARK (PEM, or DER back to back). A supplied ARK must
     * equal the shipped one. */
    struct keep_attest_blob cert_chain;
    struct keep_attest_blob amd_crl; /* the ARK's CRL (DER or PEM), optional */

    /* Intel: collateral.json (sgx_ql_qve_collateral_t fields as JSON) ... */
    struct keep_attest_blob collateral_json;
    /* ... or the separate Intel PCS files. */
    struct keep_attest_blob tcb_info;          /* {"tcbInfo":{...},"signature":...} */
    struct keep_attest_blob qe_identity;       /* {"enclaveIdentity":{...},...} */
    struct keep_attest_blob tcb_signing_chain; /* issuer chain of both (PEM) */
    struct keep_attest_blob pck_crl;           /* DER, PEM or hex of DER */
    struct keep_attest_blob pck_crl_issuer_chain;
    struct keep_attest_blob root_ca_crl;

    /* Verification time, seconds since the epoch; when has_time is false,
     * the current time. */
    bool has_time;
    int64_t time;
};

/* ---- Verification ------------------------------------------------------ */

struct keep_attest_result;

/*
 * Verify in->evidence and appraise it with policy (NULL: the default).
 * Returns KEEP_OK when *out holds a result (whatever its verdict); an error
 * only for a caller mistake (KEEP_E_USAGE) or memory exhaustion. Bad
 * evidence never fails the call: it gives a result with verdict INVALID.
 */
KEEP_API KEEP_WARN_UNUSED int keep_attest_verify(struct keep_attest_verifier *verifier,
                                                 const struct keep_attest_input *in,
                                                 const struct keep_attest_policy *policy,
                                                 struct keep_attest_result **out,
                                                 struct keep_error *err);

/*
 * Parse evidence without verifying anything: *claims_json receives the
 * claims as JSON text (free()), *tee the TEE. Fails with the parser's error
 * when the evidence does not parse.
 */
KEEP_API KEEP_WARN_UNUSED int keep_attest_show(enum keep_attest_format format, const void *evidence,
                                               size_t size, enum keep_attest_tee *tee,
                                               char **claims_json, struct keep_error *err);

/* ---- Results ----------------------------------------------------------- */

KEEP_API void keep_attest_result_free(struct keep_attest_result *result);
KEEP_API enum keep_attest_verdict keep_attest_result_verdict(const struct keep_attest_result *r);
KEEP_API enum keep_attest_tee keep_attest_result_tee(const struct keep_attest_result *r);

/* Every failure, in the order found: genuineness errors, then policy ones. */
KEEP_API size_t keep_attest_result_error_count(const struct keep_attest_result *r);
KEEP_API const struct keep_error *keep_attest_result_error(const struct keep_attest_result *r,
                                                           size_t i);
/* True when some error has this code. */
KEEP_API bool keep_attest_result_has_error(const struct keep_attest_result *r, int code);

/* SGX/TDX with collateral: Intel's status name ("UpToDate", ...), else NULL. */
KEEP_API const char *keep_attest_result_tcb_status(const struct keep_attest_result *r);
KEEP_API size_t keep_attest_result_advisory_count(const struct keep_attest_result *r);
KEEP_API const char *keep_attest_result_advisory(const struct keep_attest_result *r, size_t i);

/* Every parsed field as a JSON object text, named as in the vendor specs;
 * NULL when the evidence did not parse. */
KEEP_API const char *keep_attest_result_claims(const struct keep_attest_result *r);

enum keep_attest_check_state {
    KEEP_ATTEST_CHECK_PASSED,
    KEEP_ATTEST_CHECK_FAILED,
    KEEP_ATTEST_CHECK_SKIPPED, /* not run: its input was not given, or an earlier check failed */
};

struct keep_attest_check {
    const char *name; /* "snp.signature", "quote.pck_chain", "collateral.tcb_info", ... */
    enum keep_attest_check_state state;
    const char *detail; /* why it was skipped or failed; "" when passed */
};

KEEP_API size_t keep_attest_result_check_count(const struct keep_attest_result *r);
KEEP_API const struct keep_attest_check *
keep_attest_result_check(const struct keep_attest_result *r, size_t i);

/*
 * The whole result as one JSON object text (what `keep attest verify
 * --json` prints): verdict, tee, errors [{code, message}], tcb_status,
 * advisories, claims, checks [{name, state, detail}]. Owned by the result.
 */
KEEP_API const char *keep_attest_result_json(const struct keep_attest_result *r);

#ifdef __cplusplus
}
#endif

#endif /* KEEP_ATTEST_H */
