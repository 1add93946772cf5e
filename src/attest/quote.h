/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel DCAP quotes: SGX ECDSA quote v3, TDX quote v4 and v5 (and the SGX
 * body forms of v4/v5).
 *
 * Specifications, cited at each field check in quote.c by the title of the
 * table that defines the field (table titles are stable across revisions of
 * these documents; section numbers are not):
 *   [SGX]  "Intel SGX ECDSA Quote Library API" (DCAP), Appendix A "ECDSA
 *          Quote Format": "Quote Header", "Enclave Report Body", "ECDSA
 *          Quote Signature Data", "QE Certification Data".
 *   [TDX]  "Intel TDX DCAP Quoting Library API", Appendix A, quote v4:
 *          "Quote Header", "TD Quote Body", "Quote Signature Data",
 *          "Certification Data", "QE Report Certification Data" (type 6);
 *          quote v5: "Quote Body Descriptor", "TD Quote Body v1.5".
 *
 * Three separate steps, so that policy and collateral stay out of parsing:
 *
 *   keep_quote_parse()   checks FORMAT only: versions, key type, TEE type,
 *                        body type/size, every size field against the bytes
 *                        that hold it, certification data types, reserved
 *                        fields of SGX report bodies. No cryptography.
 *   keep_quote_verify()  checks SIGNATURES and the chain: PCK chain to the
 *                        given Intel root at an explicit time (with CRLs),
 *                        QE report signature by the PCK key, the attestation
 *                        key binding in the QE report, the quote signature by
 *                        the attestation key; returns the PCK's SGX extension
 *                        values (pck.h).
 *   (others)             TCB Info / QE Identity matching (tcb.c,
 *                        qe_identity.c) take the plain values exposed here
 *                        and in struct keep_pck_info; policy (debug, mrenclave
 *                        allow-lists, report_data) is applied by policy.c.
 */
#ifndef KEEP_ATTEST_QUOTE_H
#define KEEP_ATTEST_QUOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "attest/pck.h"
#include "keep/error.h"

#define KEEP_QUOTE_HEADER_SIZE    48
#define KEEP_QUOTE_SGX_BODY_SIZE  384 /* [SGX] "Enclave Report Body" */
#define KEEP_QUOTE_TD10_BODY_SIZE 584 /* [TDX] "TD Quote Body" (TDX 1.0) */
#define KEEP_QUOTE_TD15_BODY_SIZE 648 /* [TDX] "TD Quote Body v1.5" */
#define KEEP_QUOTE_ECDSA_SIG_SIZE 64  /* r || s, big-endian, 32 bytes each */
#define KEEP_QUOTE_ECDSA_KEY_SIZE 64  /* x || y, big-endian, 32 bytes each */
#define KEEP_QUOTE_TEE_SGX        0x00000000u
#define KEEP_QUOTE_TEE_TDX        0x00000081u
#define KEEP_QUOTE_KEY_ECDSA_P256 2
#define KEEP_QUOTE_CERT_PCK_CHAIN 5 /* PCK leaf || CA || root, PEM */
#define KEEP_QUOTE_CERT_QE_REPORT 6 /* QE report, its signature, auth data, type 5 */
#define KEEP_QUOTE_BODY_SGX       1 /* v5 body descriptor types, [TDX] "Quote Body Descriptor" */
#define KEEP_QUOTE_BODY_TD10      2
#define KEEP_QUOTE_BODY_TD15      3
#define KEEP_QUOTE_MAX_SIZE       (1u << 20) /* far above any real quote (~5 KiB) */

/* Intel's QE vendor ID, [SGX] "Quote Header": 939A7233-F79C-4CA9-940A-0DB3957F0607. */
extern const uint8_t keep_quote_intel_qe_vendor_id[16];

/* SGX ATTRIBUTES.FLAGS bits (Intel SDM Vol. 3D, 38.7.1 ATTRIBUTES). */
#define KEEP_SGX_ATTR_INIT          (1ull << 0)
#define KEEP_SGX_ATTR_DEBUG         (1ull << 1)
#define KEEP_SGX_ATTR_MODE64BIT     (1ull << 2)
#define KEEP_SGX_ATTR_PROVISIONKEY  (1ull << 4)
#define KEEP_SGX_ATTR_EINITTOKENKEY (1ull << 5)
#define KEEP_SGX_ATTR_KSS           (1ull << 7)
#define KEEP_SGX_ATTR_AEXNOTIFY     (1ull << 10)

/* TDX TD_ATTRIBUTES bits (TDX Module ABI spec, TDCS TD_ATTRIBUTES). */
#define KEEP_TD_ATTR_DEBUG           (1ull << 0)
#define KEEP_TD_ATTR_SEPT_VE_DISABLE (1ull << 28)
#define KEEP_TD_ATTR_PKS             (1ull << 30)
#define KEEP_TD_ATTR_KL              (1ull << 31)
#define KEEP_TD_ATTR_PERFMON         (1ull << 63)

/* [SGX] "Quote Header" (48 bytes), same layout in [TDX] "Quote Header". */
struct keep_quote_header {
    uint16_t version;      /* 3, 4 or 5 */
    uint16_t att_key_type; /* 2 = ECDSA-256-with-P-256 */
    uint32_t tee_type;     /* 0x00 SGX, 0x81 TDX ("reserved", zero, in v3) */
    uint16_t qe_svn;       /* v3: QE SVN; v4/v5: reserved */
    uint16_t pce_svn;      /* v3: PCE SVN; v4/v5: reserved */
    uint8_t qe_vendor_id[16];
    uint8_t user_data[20]; /* first 16 bytes: QE platform identifier */
};

/* [SGX] "Enclave Report Body" (384 bytes); also the QE report. */
struct keep_sgx_report_body {
    uint8_t cpu_svn[16];
    uint32_t misc_select;
    uint8_t isv_ext_prod_id[16];
    uint8_t attributes[16]; /* FLAGS (u64 LE) || XFRM (u64 LE) */
    uint64_t attributes_flags;
    uint64_t attributes_xfrm;
    uint8_t mr_enclave[32];
    uint8_t mr_signer[32];
    uint8_t config_id[64];
    uint16_t isv_prod_id;
    uint16_t isv_svn;
    uint16_t config_svn;
    uint8_t isv_family_id[16];
    uint8_t report_data[64];
};

/* [TDX] "TD Quote Body"; the last two fields only in "TD Quote Body v1.5". */
struct keep_td_report_body {
    uint8_t tee_tcb_svn[16];
    uint8_t mr_seam[48];
    uint8_t mr_signer_seam[48];
    uint64_t seam_attributes;
    uint64_t td_attributes;
    uint64_t xfam;
    uint8_t mr_td[48];
    uint8_t mr_config_id[48];
    uint8_t mr_owner[48];
    uint8_t mr_owner_config[48];
    uint8_t rtmr[4][48];
    uint8_t report_data[64];
    uint8_t tee_tcb_svn2[16]; /* v1.5 only, zero otherwise */
    uint8_t mr_servicetd[48]; /* v1.5 only, zero otherwise */
};

enum keep_quote_body_kind {
    KEEP_QUOTE_BODY_KIND_SGX = 1,  /* Enclave Report Body */
    KEEP_QUOTE_BODY_KIND_TD10 = 2, /* TD Quote Body, TDX 1.0 (584 bytes) */
    KEEP_QUOTE_BODY_KIND_TD15 = 3, /* TD Quote Body v1.5 (648 bytes) */
};

/*
 * A parsed quote. Every pointer points into the buffer given to
 * keep_quote_parse(): the struct is valid only while that buffer is alive
 * and unchanged. It owns no memory; nothing needs freeing.
 */
struct keep_quote {
    struct keep_quote_header header;
    enum keep_quote_body_kind body_kind;
    union {
        struct keep_sgx_report_body sgx;
        struct keep_td_report_body td;
    } body;

    /* Bytes the quote signature covers: header, (v5 descriptor,) body. */
    const uint8_t *signed_data;
    size_t signed_size;
    size_t size;          /* bytes of the quote itself, through the signature data */
    size_t trailing_size; /* bytes after it (only with KEEP_QUOTE_PARSE_ALLOW_TRAILING) */

    uint32_t sig_data_size;    /* Quote Signature Data Len */
    const uint8_t *signature;  /* 64 bytes, r || s, by the attestation key */
    const uint8_t *attest_key; /* 64 bytes, x || y, P-256 */
    uint16_t outer_cert_type;  /* 5 (v3) or 6 (v4/v5) */

    struct keep_sgx_report_body qe_report;
    const uint8_t *qe_report_raw; /* 384 bytes the QE report signature covers */
    const uint8_t *qe_report_sig; /* 64 bytes, r || s, by the PCK key */
    const uint8_t *qe_auth_data;  /* qe_auth_size bytes */
    uint16_t qe_auth_size;
    const uint8_t *pck_chain_pem; /* certification data type 5, as in the quote */
    uint32_t pck_chain_size;
};

/* Options for keep_quote_parse_ex(). */
#define KEEP_QUOTE_PARSE_ALLOW_TRAILING 0x1u

/*
 * Parse a quote that fills the whole buffer: any byte after the signature
 * data is an error (KEEP_E_TRAILING_BYTES). Checks every format rule listed
 * at the top of this file; checks no signature and no certificate (the PCK
 * chain PEM is only located). Fills *quote on success.
 */
KEEP_WARN_UNUSED int keep_quote_parse(const uint8_t *buf, size_t size, struct keep_quote *quote,
                                      struct keep_error *err);
/*
 * As keep_quote_parse(); with KEEP_QUOTE_PARSE_ALLOW_TRAILING, bytes after
 * the signature data are accepted and counted in quote->trailing_size
 * (quotes saved from fixed-size TDX quote buffers carry such padding). They
 * are covered by no signature and never read.
 */
KEEP_WARN_UNUSED int keep_quote_parse_ex(const uint8_t *buf, size_t size, unsigned flags,
                                         struct keep_quote *quote, struct keep_error *err);

struct keep_quote_verify_opts {
    int64_t time;          /* verification time, seconds since the epoch */
    X509 *intel_root;      /* the trust anchor (keep_pck_load_intel_root()) */
    X509_CRL *root_ca_crl; /* Intel SGX Root CA CRL, or NULL */
    X509_CRL *pck_crl;     /* CRL of the PCK's CA (Platform or Processor), or NULL */
};

/*
 * Verify a parsed quote, in Intel's order:
 *   1. QE vendor ID is Intel's;
 *   2. the PCK chain in the certification data (keep_pck_verify_chain():
 *      shape, root equal to opts->intel_root, signatures and validity at
 *      opts->time, the CRLs given) and the PCK's SGX extension -> *pck;
 *   3. the QE report signature by the PCK key over the 384-byte QE report;
 *   4. QE report_data == SHA-256(attest_key || qe_auth_data) || 32 zeros;
 *   5. the quote signature by the attestation key over header || body.
 * It does not judge TCB levels, QE identity, debug bits, measurements or
 * freshness: those belong to tcb.c, qe_identity.c and the policy.
 */
KEEP_WARN_UNUSED int keep_quote_verify(const struct keep_quote *quote,
                                       const struct keep_quote_verify_opts *opts,
                                       struct keep_pck_info *pck, struct keep_error *err);

/*
 * The attestation key of the last quote verified with it, as an OpenSSL key
 * object: a platform's QE keeps its key, and building the object from x || y
 * costs about two thirds of a verification. Zero-initialise it; free it with
 * keep_quote_ak_cache_clear().
 */
struct keep_quote_ak_cache {
    uint8_t xy[KEEP_QUOTE_ECDSA_KEY_SIZE];
    EVP_PKEY *key; /* NULL until a key is built */
};

/* Free the key an ak cache holds and zero it (ready for reuse). */
void keep_quote_ak_cache_clear(struct keep_quote_ak_cache *ak);

/*
 * keep_quote_verify() for a quote whose PCK chain the caller verified
 * before (with keep_quote_verify(), at a time inside the chain's and its
 * CRLs' validity) and whose PCK public key it kept: steps 1, 3, 4 and 5,
 * with the same codes and messages; step 2 (the chain and the PCK
 * extension) is NOT checked. pck_key must be that PCK's P-256 key. ak, if
 * not NULL, keeps the attestation key between calls (rebuilt when the quote
 * carries another); NULL builds it for this call only.
 */
KEEP_WARN_UNUSED int keep_quote_verify_with_pck_key(const struct keep_quote *quote,
                                                    EVP_PKEY *pck_key,
                                                    struct keep_quote_ak_cache *ak,
                                                    struct keep_error *err);

/*
 * Verify an ECDSA P-256 signature given as r || s (64 bytes, big-endian)
 * over data by the public key x || y (64 bytes). Returns KEEP_OK or `code`
 * with a message naming `what`; KEEP_E_QUOTE_KEY_INVALID when the key is
 * not a point on the curve.
 */
KEEP_WARN_UNUSED int keep_quote_p256_verify(const uint8_t key_xy[64], const uint8_t sig_rs[64],
                                            const uint8_t *data, size_t size, int code,
                                            const char *what, struct keep_error *err);

/*
 * The quote's fields as a new JSON object, named as in Intel's
 * specifications in snake case: byte arrays as lower-case hex strings,
 * integers as numbers, attribute bits also by name ("attributes_bits":
 * ["INIT", "DEBUG", ...], "debug": true|false). NULL when out of memory.
 */
json_t *keep_quote_claims_json(const struct keep_quote *quote);

#endif /* KEEP_ATTEST_QUOTE_H */
