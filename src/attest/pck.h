/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel SGX PCK certificates: the chain PCK <- Intel SGX PCK Platform CA or
 * Processor CA <- Intel SGX Root CA, and the SGX extension of the PCK.
 *
 * Specification: "Intel SGX PCK Certificate and Certificate Revocation List
 * Profile Specification" (cited as [PCK]): section 1.3 (hierarchy), 1.4
 * (Root CA), 1.5 (Platform/Processor CA), 1.6 (PCK certificate) and
 * 1.5/1.6 table "Intel SGX Extensions" (OID 1.2.840.113741.1.13.1).
 *
 * Every ASN.1 decision is OpenSSL's (d2i_ASN1_SEQUENCE_ANY, ASN1_TYPE,
 * OBJ_obj2txt); chain validation is keep_x509_verify_chain().
 */
#ifndef KEEP_ATTEST_PCK_H
#define KEEP_ATTEST_PCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "keep/error.h"

#define KEEP_PCK_SGX_EXT_OID "1.2.840.113741.1.13.1"

enum keep_pck_ca {
    KEEP_PCK_CA_PROCESSOR = 1, /* "Intel SGX PCK Processor CA" */
    KEEP_PCK_CA_PLATFORM = 2,  /* "Intel SGX PCK Platform CA" */
};

/* [PCK] SGX Type (OID .5): Standard, Scalable, Scalable with integrity. */
enum keep_pck_sgx_type {
    KEEP_PCK_SGX_STANDARD = 0,
    KEEP_PCK_SGX_SCALABLE = 1,
    KEEP_PCK_SGX_SCALABLE_WITH_INTEGRITY = 2,
};

/* The values of the PCK certificate's SGX extension ([PCK] 1.6). */
struct keep_pck_info {
    enum keep_pck_ca ca;           /* which CA issued the PCK */
    uint8_t ppid[16];              /* .1 */
    uint8_t cpusvn_components[16]; /* .2.1 .. .2.16, each 0..255 */
    uint16_t pcesvn;               /* .2.17 */
    uint8_t cpusvn[16];            /* .2.18 */
    uint8_t pceid[2];              /* .3 */
    uint8_t fmspc[6];              /* .4 */
    uint32_t sgx_type;             /* .5, enum keep_pck_sgx_type */
    bool has_platform_instance_id; /* .6, Platform CA PCKs only */
    uint8_t platform_instance_id[16];
    bool has_configuration; /* .7, Platform CA PCKs only */
    bool dynamic_platform;  /* .7.1 */
    bool cached_keys;       /* .7.2 */
    bool smt_enabled;       /* .7.3 */
};

/*
 * Decode the SGX extension of a PCK certificate. Requires PPID, TCB (all 16
 * components, PCESVN, CPUSVN), PCE-ID, FMSPC and SGX type, each with its
 * [PCK] ASN.1 type and size; reads Platform Instance ID and Configuration
 * when present. Unknown extra OIDs are ignored (Intel adds fields).
 * KEEP_E_QUOTE_PCK_EXTENSION_MISSING or _MALFORMED name the OID.
 */
KEEP_WARN_UNUSED int keep_pck_parse_extension(X509 *pck, struct keep_pck_info *info,
                                              struct keep_error *err);

/*
 * Verify a PCK chain taken from a quote (PEM: PCK, CA and optionally the
 * root, in that order) at opts->time:
 *   - shape: 2 or 3 certificates; a root in the chain must be byte-equal to
 *     intel_root (a root that is not, with a bad self-signature, fails with
 *     KEEP_E_X509_SIGNATURE; otherwise KEEP_E_QUOTE_ROOT_NOT_INTEL);
 *   - the CA's subject CN is "Intel SGX PCK Platform CA" or "... Processor
 *     CA" ([PCK] 1.5);
 *   - each CRL given is checked on its own (issuer = its CA, signature,
 *     thisUpdate/nextUpdate at time) and then applied;
 *   - keep_x509_verify_chain(PCK, CA, intel_root) at time;
 *   - the PCK key is ECDSA P-256; its SGX extension -> *info.
 * On success *pck_out (if not NULL) holds a new reference to the PCK
 * certificate (X509_free it).
 */
KEEP_WARN_UNUSED int keep_pck_verify_chain(const uint8_t *pem, size_t pem_size, X509 *intel_root,
                                           X509_CRL *root_ca_crl, X509_CRL *pck_crl, int64_t time,
                                           struct keep_pck_info *info, X509 **pck_out,
                                           struct keep_error *err);

/*
 * The PCK values as a new JSON object: "ca" ("platform" | "processor"),
 * "fmspc", "pceid", "cpusvn" (hex), "pcesvn" (number), "sgx_tcb_comp_svn"
 * (16 numbers), "sgx_type" ("Standard" | "Scalable" |
 * "ScalableWithIntegrity"), and "platform_instance_id" / "configuration"
 * when present. The PPID is left out: it identifies the platform and no
 * appraisal needs it. NULL when out of memory.
 */
json_t *keep_pck_info_json(const struct keep_pck_info *info);

/*
 * Load the Intel SGX Root CA shipped with keep: dir/intel/intel_sgx_root_ca.der
 * where dir is roots_dir, else $KEEP_ROOTS_DIR, else the installed
 * <datadir>/keep/roots, else the source tree's data/roots. Checks the
 * SHA-256 fingerprint of the DER against the one compiled in.
 */
KEEP_WARN_UNUSED int keep_pck_load_intel_root(const char *roots_dir, X509 **out,
                                              struct keep_error *err);

/* SHA-256 of the Intel SGX Root CA DER ([PCK] 1.4), lower-case hex. */
#define KEEP_PCK_INTEL_ROOT_SHA256 \
    "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"

#endif /* KEEP_ATTEST_PCK_H */
