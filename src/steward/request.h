/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsers of what a client sends keep-steward (docs/STEWARD.md): the JSON
 * body of POST /v1/certificates, a PKCS#10 certification request, and the
 * Enarx Steward form (POST / with a DER CSR carrying evidence in extensions).
 * They check format only; policy (nonce, binding, appraisal) is applied by
 * issue.c afterwards.
 */
#ifndef KEEP_STEWARD_REQUEST_H
#define KEEP_STEWARD_REQUEST_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keep/attest.h"

#define STEWARD_NONCE_SIZE   32
#define STEWARD_WORKLOAD_MAX 64
#define STEWARD_BIND_LABEL   "keep-attest/v1"

/* How report_data binds the CSR key. */
enum steward_binding {
    /* SHA-384("keep-attest/v1" || nonce || SHA-384(SPKI DER)), zero-padded to 64. */
    STEWARD_BIND_NONCE = 0,
    /* Enarx Steward: report_data starts with SHA-384(SPKI DER) (SNP) or SHA-256 (SGX); no nonce. */
    STEWARD_BIND_ENARX_SHA384,
    STEWARD_BIND_ENARX_SHA256,
};

/* A malloc'd byte string; NULL/0 when absent. */
struct steward_bytes {
    uint8_t *data;
    size_t size;
};

/* A parsed PKCS#10 request whose self-signature verified. */
struct steward_csr {
    X509_REQ *req;
    uint8_t *spki_der; /* DER SubjectPublicKeyInfo of the requested key */
    size_t spki_size;
    uint8_t spki_sha384[48];
    int curve_nid; /* NID_X9_62_prime256v1 or NID_secp384r1 */
};

struct steward_cert_request {
    struct steward_csr csr;
    enum steward_binding binding;
    bool has_nonce;
    uint8_t nonce[STEWARD_NONCE_SIZE];
    char workload[STEWARD_WORKLOAD_MAX + 1]; /* "" when not named */
    enum keep_attest_format format;
    struct steward_bytes evidence;
    /* Collateral the client supplied (docs/STEWARD.md names the JSON keys). */
    struct steward_bytes vcek, cert_chain, amd_crl, collateral_json, tcb_info, qe_identity,
        tcb_signing_chain, pck_crl, pck_crl_issuer_chain, root_ca_crl;
};

/* PEM ("-----BEGIN CERTIFICATE REQUEST-----") or DER. */
int steward_csr_parse(const uint8_t *data, size_t size, struct steward_csr *out,
                      struct keep_error *err);
void steward_csr_free(struct steward_csr *csr);

/*
 * The JSON body of POST /v1/certificates:
 *   {"nonce": hex(32 bytes), "csr": PEM, "evidence": base64, "format": "auto"|...,
 *    "workload": name, "collateral": {"vcek": base64, ...}}
 */
int steward_request_parse_json(const char *body, size_t size, struct steward_cert_request *out,
                               struct keep_error *err);
/* POST / with Content-Type application/pkcs10: a DER CSR, evidence in its extensions. */
int steward_request_parse_enarx(const uint8_t *der, size_t size, struct steward_cert_request *out,
                                struct keep_error *err);
void steward_request_free(struct steward_cert_request *r);

/* The report_data a Keep binds into its evidence for this nonce and key. */
void steward_binding_report_data(const uint8_t nonce[STEWARD_NONCE_SIZE],
                                 const uint8_t spki_sha384[48], uint8_t out[64]);

/* Strict base64 (RFC 4648 section 4, padding required, no whitespace). */
int steward_base64_decode(const char *text, size_t len, const char *field,
                          struct steward_bytes *out, struct keep_error *err);
/* NUL-terminated base64 of data, malloc'd; NULL on allocation failure. */
char *steward_base64_encode(const uint8_t *data, size_t size);

/* A workload or secret name: 1-64 of [A-Za-z0-9._-], not starting with '.'. */
bool steward_name_ok(const char *name);

/*
 * The JSON body of POST /v1/counters/{name}: exactly {"expect": N, "set": M}, integers with
 * 0 <= N < M <= INT64_MAX (a counter only moves forward; SQLite keeps it as a signed 64-bit
 * integer). STEWARD_COUNTER_REQUEST names the field and the value otherwise.
 */
struct steward_counter_update {
    uint64_t expect, set;
};
int steward_counter_request_parse(const char *body, size_t size, struct steward_counter_update *out,
                                  struct keep_error *err);

#endif
