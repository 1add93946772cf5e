/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal entry points of the verifier (src/attest/verify.c) that are not
 * part of the public API (include/keep/attest.h).
 */
#ifndef KEEP_ATTEST_VERIFY_H
#define KEEP_ATTEST_VERIFY_H

#include <openssl/x509.h>

#include "keep/attest.h"

/*
 * Replace the Intel SGX Root CA the verifier trusts (a new reference is
 * taken). For tests with synthetic PCK hierarchies only: production code
 * loads the shipped root, whose fingerprint keep_pck_load_intel_root checks.
 * Clears the caches.
 */
KEEP_WARN_UNUSED int keep_attest_verifier_set_intel_root(struct keep_attest_verifier *verifier,
                                                         X509 *root, struct keep_error *err);

/* How many cached SNP signers and Intel collateral sets the verifier holds. */
size_t keep_attest_verifier_cached_signers(const struct keep_attest_verifier *verifier);
size_t keep_attest_verifier_cached_collateral(const struct keep_attest_verifier *verifier);

/* Recognise a format from the bytes (KEEP_ATTEST_FORMAT_AUTO when none fits). */
enum keep_attest_format keep_attest_detect_format(const uint8_t *data, size_t size);

#endif /* KEEP_ATTEST_VERIFY_H */
