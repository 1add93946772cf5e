/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Synthetic Intel DCAP quotes for tests, built with OpenSSL at test time:
 * a test "Intel SGX Root CA", an "Intel SGX PCK Platform CA" (or Processor
 * CA) and a PCK certificate carrying the SGX extension
 * (1.2.840.113741.1.13.1, encoded by OpenSSL's ASN1_generate_nconf), all
 * ECDSA P-256; an ECDSA P-256 attestation key; and SGX v3, TDX v4 and TDX v5
 * quotes whose QE report is signed by the PCK key and binds the attestation
 * key (SHA-256(attest_key || qe_auth_data) in the QE report_data).
 *
 * The keys are fresh for each qgen_pki_new(): nothing here is a real Intel
 * key. Tests verify these quotes with qgen_pki.root as the trust anchor.
 */
#ifndef KEEP_TESTS_SUPPORT_QUOTE_GEN_H
#define KEEP_TESTS_SUPPORT_QUOTE_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* What the PCK certificate says; zero-initialise and set what matters. */
struct qgen_pck_opts {
    const char *ca_cn; /* default "Intel SGX PCK Platform CA" */
    uint8_t fmspc[6];
    uint8_t pceid[2];
    uint16_t pcesvn;
    uint8_t cpusvn[16]; /* also the 16 TCB component SVNs */
    uint8_t ppid[16];
    uint32_t sgx_type;         /* 0 Standard, 1 Scalable, 2 Scalable with integrity */
    bool with_platform_fields; /* add Platform Instance ID (.6) and Configuration (.7) */
    const char *omit_oid;      /* leave this SGX extension entry out ("...13.1.4") */
    const char *ext_conf;      /* replace the whole extension: ASN1_generate_nconf
                                  text whose section [sgx] is the SEQUENCE */
    bool no_sgx_ext;           /* no SGX extension at all */
    bool rsa_pck;              /* PCK key RSA-2048 instead of P-256 */
    int64_t not_before;        /* PCK validity; default 2020-01-01 .. 2040-01-01 */
    int64_t not_after;
};

struct qgen_pki {
    EVP_PKEY *root_key, *ca_key, *pck_key;
    X509 *root, *ca, *pck;
};

/* Build the hierarchy. Returns 0, or -1 (with a diagnostic on stderr). */
int qgen_pki_new(struct qgen_pki *pki, const struct qgen_pck_opts *opts);
void qgen_pki_free(struct qgen_pki *pki);

/* PCK, CA and (if include_root) root as PEM; malloc'd, *size excludes the NUL. */
char *qgen_chain_pem(const struct qgen_pki *pki, bool include_root, size_t *size);

/*
 * A CRL by issuer/issuer_key, valid this_update .. next_update, revoking
 * `revoked` (or nothing when NULL).
 */
X509_CRL *qgen_crl(X509 *issuer, EVP_PKEY *issuer_key, X509 *revoked, int64_t this_update,
                   int64_t next_update);

struct qgen_quote_opts {
    int version;      /* 3, 4 or 5 (default 3) */
    int v5_body_type; /* 2 (TD 1.0) or 3 (TD 1.5); default 3 */
    bool sgx_in_v4v5; /* v4/v5 with TEE type SGX and an SGX body */
    uint8_t report_data[64];
    uint64_t attributes_flags; /* SGX ATTRIBUTES.FLAGS (default INIT|MODE64BIT) */
    uint64_t td_attributes;
    uint8_t measurement[48];   /* mrenclave (first 32 bytes) or mrtd */
    uint16_t qe_auth_size;     /* default 32 */
    bool no_root_in_chain;     /* PCK chain without the root */
    bool chain_nul;            /* end the PEM with a NUL, as some real quotes do */
    bool binding_tail_nonzero; /* QE report_data[32..64) not zero (signed anyway) */
};

/* Where the fields of a generated quote are, for targeted mutations. */
struct qgen_layout {
    size_t body_off, body_size;
    size_t sig_data_len_off;
    size_t signature_off, attest_key_off;
    size_t outer_cert_type_off, outer_cert_size_off; /* v4/v5; equal to inner in v3 */
    size_t qe_report_off, qe_report_sig_off;
    size_t qe_auth_size_off, qe_auth_off;
    size_t cert_type_off, cert_size_off, chain_off, chain_size;
};

/* A quote signed by a fresh attestation key; malloc'd into *out. 0 or -1. */
int qgen_quote(const struct qgen_pki *pki, const struct qgen_quote_opts *opts, uint8_t **out,
               size_t *size, struct qgen_layout *layout);

/* Store a little-endian integer into a generated quote (for mutations). */
void qgen_put_le(uint8_t *p, uint64_t v, size_t size);

#endif /* KEEP_TESTS_SUPPORT_QUOTE_GEN_H */
