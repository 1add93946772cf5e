/* SPDX-License-Identifier: Apache-2.0 */
/*
 * X.509 helpers on OpenSSL 3, shared by the AMD and Intel verifiers. All
 * ASN.1 and X.509 work is OpenSSL's; this file only adapts its results to
 * keep's error codes and messages (which certificate, which time, which
 * reason).
 */
#ifndef KEEP_ATTEST_X509_H
#define KEEP_ATTEST_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "keep/error.h"

/* Parse one certificate, DER or PEM. `what` names it in messages ("VCEK"). */
KEEP_WARN_UNUSED int keep_x509_parse_cert(const uint8_t *data, size_t size, const char *what,
                                          X509 **out, struct keep_error *err);
/*
 * Parse a bundle: PEM with one or more certificates, or one or more DER
 * certificates back to back. Order is kept. Fails when it holds none.
 */
KEEP_WARN_UNUSED int keep_x509_parse_chain(const uint8_t *data, size_t size, const char *what,
                                           STACK_OF(X509) * *out, struct keep_error *err);
/* Parse a CRL, DER or PEM. */
KEEP_WARN_UNUSED int keep_x509_parse_crl(const uint8_t *data, size_t size, const char *what,
                                         X509_CRL **out, struct keep_error *err);

struct keep_x509_verify_opts {
    int64_t time;              /* verification time, seconds since the epoch */
    STACK_OF(X509_CRL) * crls; /* CRLs to apply, or NULL */
    bool require_crls;         /* every CA in the chain must have a CRL in crls */
};

/*
 * Verify leaf <- intermediates... <- one of roots at opts->time, with
 * signatures of any algorithm OpenSSL supports (RSASSA-PSS for AMD, ECDSA
 * for Intel). On failure names the certificate (subject CN) and the reason,
 * with codes KEEP_E_X509_EXPIRED, _NOT_YET_VALID, _SIGNATURE, _UNTRUSTED,
 * _REVOKED, _CRL_EXPIRED, _CRL_MISSING or _CHAIN. `what` names the chain.
 */
KEEP_WARN_UNUSED int keep_x509_verify_chain(X509 *leaf, STACK_OF(X509) * intermediates,
                                            STACK_OF(X509) * roots,
                                            const struct keep_x509_verify_opts *opts,
                                            const char *what, struct keep_error *err);

/*
 * Check a CRL on its own: signed by issuer, thisUpdate <= time <= nextUpdate.
 */
KEEP_WARN_UNUSED int keep_x509_check_crl(X509_CRL *crl, X509 *issuer, int64_t time,
                                         const char *what, struct keep_error *err);

/*
 * The DER contents (inside the OCTET STRING) of the extension with this
 * dotted OID, or KEEP_E_X509_EXTENSION when absent. *value points into cert.
 */
KEEP_WARN_UNUSED int keep_x509_extension(X509 *cert, const char *oid, const uint8_t **value,
                                         size_t *size, struct keep_error *err);

/*
 * The extension with this dotted OID read as one DER INTEGER (OpenSSL
 * d2i_ASN1_INTEGER; the whole value must be that INTEGER and it must fit in
 * uint64_t and be non-negative). `name` names it in messages ("bl").
 */
KEEP_WARN_UNUSED int keep_x509_extension_uint(X509 *cert, const char *oid, const char *name,
                                              uint64_t *out, struct keep_error *err);
/*
 * The extension with this dotted OID read as one DER IA5String (OpenSSL
 * d2i_ASN1_IA5STRING) copied NUL-terminated into out; fails when it does not
 * fit in out_size - 1 characters or holds a NUL.
 */
KEEP_WARN_UNUSED int keep_x509_extension_ia5(X509 *cert, const char *oid, const char *name,
                                             char *out, size_t out_size, struct keep_error *err);

/* Subject common name into buf, "(no CN)" when there is none. */
const char *keep_x509_subject_cn(X509 *cert, char *buf, size_t size);

/* notBefore/notAfter as seconds since the epoch. */
KEEP_WARN_UNUSED int keep_x509_validity(X509 *cert, int64_t *not_before, int64_t *not_after,
                                        struct keep_error *err);

#endif /* KEEP_ATTEST_X509_H */
