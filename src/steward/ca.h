/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep-steward's certificate authority, its TLS identity and its
 * key-encryption key, all kept in the state directory:
 *   ca.key      the CA's ECDSA P-256 key (PKCS#8 PEM, 0600)
 *   ca.pem      its self-signed certificate (10 years)
 *   server.key  the service's TLS key (P-256, 0600), server.pem issued by the CA
 *   kek         32 random bytes (0600): the AES-256-GCM key that wraps secrets
 */
#ifndef KEEP_STEWARD_CA_H
#define KEEP_STEWARD_CA_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "keep/error.h"
#include "steward/request.h"
#include "steward/store.h"

/* keep's OID arc: a UUID-derived OID (ITU-T X.667, 2.25.<UUID as an integer>), which
 * needs no registration; the UUID is 581b72be-af69-471f-b57a-9c6c1236c407. */
#define STEWARD_OID_ARC "2.25.117114582946585880964899027041543177223"
/* Non-critical certificate extension: UTF8String holding the EAR claim set (JSON). */
#define STEWARD_OID_EAR STEWARD_OID_ARC ".1.1"

#define STEWARD_KEK_SIZE 32

struct steward_ca {
    EVP_PKEY *key;
    X509 *cert;
    char *cert_pem;
    uint8_t kek[STEWARD_KEK_SIZE];
};

/* Load the CA and KEK from dir, creating them on first start. */
int steward_ca_open(const char *dir, struct steward_ca *ca, struct keep_error *err);
void steward_ca_close(struct steward_ca *ca);

/* The service's TLS key and certificate (SAN: the DNS names and 127.0.0.1, ::1);
 * reissued when missing, expired within a day, or naming other DNS names. */
int steward_ca_server_identity(struct steward_ca *ca, const char *dir, const char *const *dns,
                               size_t dns_count, EVP_PKEY **key, X509 **cert,
                               struct keep_error *err);

struct steward_leaf {
    const struct steward_csr *csr;
    const char *measurement_hex; /* SAN URI urn:keep:<this> */
    char *const *dns;            /* extra SAN DNS names */
    size_t dns_count;
    int64_t not_before, not_after;
    const char *crl_url;     /* CRL distribution point; NULL: none */
    const char *claims_json; /* EAR claim set for STEWARD_OID_EAR */
};

/* Issue a leaf for csr's key: random 128-bit serial (hex into serial). */
int steward_ca_issue(struct steward_ca *ca, const struct steward_leaf *leaf, X509 **out,
                     char serial[41], struct keep_error *err);

/* The CRL (DER) of every unexpired revoked certificate, valid for next_update seconds. */
int steward_ca_crl(struct steward_ca *ca, struct steward_store *store, int64_t now,
                   int64_t next_update, uint8_t **der, size_t *size, struct keep_error *err);

/* AES-256-GCM: wrapped = iv(12) || ciphertext || tag(16), AAD = "keep-steward/secret/v1:" name. */
int steward_kek_wrap(const uint8_t kek[STEWARD_KEK_SIZE], const char *name, const uint8_t *plain,
                     size_t size, uint8_t **wrapped, size_t *wrapped_size, struct keep_error *err);
int steward_kek_unwrap(const uint8_t kek[STEWARD_KEK_SIZE], const char *name,
                       const uint8_t *wrapped, size_t wrapped_size, uint8_t **plain, size_t *size,
                       struct keep_error *err);

/* A serial as stored and compared: lower-case hex without leading zeros (at most 40 digits). */
void steward_serial_normalize(const char *hex, char out[41]);

/* PEM text of a certificate, malloc'd. */
char *steward_x509_pem(X509 *cert);

#endif
