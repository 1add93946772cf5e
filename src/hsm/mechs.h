/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mechanisms keep-hsm implements, shared by the service (which
 * enforces them) and the module (which lists them in C_GetMechanismList).
 */
#ifndef KEEP_HSM_MECHS_H
#define KEEP_HSM_MECHS_H

#include "hsm/cryptoki.h"

struct hsm_mech_info {
    CK_MECHANISM_TYPE type;
    CK_ULONG min_bits, max_bits;
    CK_FLAGS flags;
};

/*
 * CKM_AES_KEY_WRAP_KWP (PKCS#11 3.0 Current Mechanisms, "AES Key Wrap") is RFC 5649
 * AES key wrap with padding, from the 3.0 header (cryptoki.h). 2.40's
 * CKM_AES_KEY_WRAP_PAD is KW over PKCS#7-padded input, a different
 * algorithm, not offered.
 */

#define HSM_EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

static const struct hsm_mech_info hsm_mechs[] = {
    {CKM_EC_KEY_PAIR_GEN, 256, 384, CKF_HW | CKF_GENERATE_KEY_PAIR | HSM_EC_FLAGS},
    {CKM_ECDSA, 256, 384, CKF_HW | CKF_SIGN | CKF_VERIFY | HSM_EC_FLAGS},
    {CKM_ECDSA_SHA1, 256, 384, CKF_HW | CKF_SIGN | CKF_VERIFY | HSM_EC_FLAGS},
    {CKM_ECDSA_SHA256, 256, 384, CKF_HW | CKF_SIGN | CKF_VERIFY | HSM_EC_FLAGS},
    {CKM_ECDSA_SHA384, 256, 384, CKF_HW | CKF_SIGN | CKF_VERIFY | HSM_EC_FLAGS},
    {CKM_ECDSA_SHA512, 256, 384, CKF_HW | CKF_SIGN | CKF_VERIFY | HSM_EC_FLAGS},
    {CKM_RSA_PKCS_KEY_PAIR_GEN, 2048, 4096, CKF_HW | CKF_GENERATE_KEY_PAIR},
    {CKM_RSA_PKCS, 2048, 4096, CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT},
    {CKM_SHA256_RSA_PKCS, 2048, 4096, CKF_HW | CKF_SIGN | CKF_VERIFY},
    {CKM_SHA384_RSA_PKCS, 2048, 4096, CKF_HW | CKF_SIGN | CKF_VERIFY},
    {CKM_SHA512_RSA_PKCS, 2048, 4096, CKF_HW | CKF_SIGN | CKF_VERIFY},
    {CKM_RSA_PKCS_PSS, 2048, 4096, CKF_HW | CKF_SIGN | CKF_VERIFY},
    {CKM_SHA256_RSA_PKCS_PSS, 2048, 4096, CKF_HW | CKF_SIGN | CKF_VERIFY},
    {CKM_SHA384_RSA_PKCS_PSS, 2048, 4096, CKF_HW | CKF_SIGN | CKF_VERIFY},
    {CKM_SHA512_RSA_PKCS_PSS, 2048, 4096, CKF_HW | CKF_SIGN | CKF_VERIFY},
    {CKM_RSA_PKCS_OAEP, 2048, 4096, CKF_HW | CKF_ENCRYPT | CKF_DECRYPT},
    {CKM_AES_KEY_GEN, 16, 32, CKF_HW | CKF_GENERATE},
    {CKM_AES_GCM, 16, 32, CKF_HW | CKF_ENCRYPT | CKF_DECRYPT},
    {CKM_AES_CBC_PAD, 16, 32, CKF_HW | CKF_ENCRYPT | CKF_DECRYPT},
    {CKM_AES_CTR, 16, 32, CKF_HW | CKF_ENCRYPT | CKF_DECRYPT},
    {CKM_ECDH1_DERIVE, 256, 384, CKF_HW | CKF_DERIVE | HSM_EC_FLAGS},
    {CKM_AES_KEY_WRAP, 16, 32, CKF_HW | CKF_WRAP | CKF_UNWRAP},
    {CKM_AES_KEY_WRAP_KWP, 16, 32, CKF_HW | CKF_WRAP | CKF_UNWRAP},
    {CKM_GENERIC_SECRET_KEY_GEN, 16, 64, CKF_HW | CKF_GENERATE},
    {CKM_SHA256_HMAC, 16, 64, CKF_HW | CKF_SIGN | CKF_VERIFY},
    {CKM_SHA384_HMAC, 16, 64, CKF_HW | CKF_SIGN | CKF_VERIFY},
    {CKM_SHA512_HMAC, 16, 64, CKF_HW | CKF_SIGN | CKF_VERIFY},
    {CKM_SHA256, 0, 0, CKF_HW | CKF_DIGEST},
    {CKM_SHA384, 0, 0, CKF_HW | CKF_DIGEST},
    {CKM_SHA512, 0, 0, CKF_HW | CKF_DIGEST},
};

#define HSM_MECH_COUNT (sizeof(hsm_mechs) / sizeof(hsm_mechs[0]))

/* Vendor attributes that never leave the Keep: the key material itself. */
#define HSM_ATTR_KEY_DER (CKA_VENDOR_DEFINED | 0x4b450001UL) /* private key, PKCS#8-ish DER */
#define HSM_ATTR_SPKI_DER                                                   \
    (CKA_VENDOR_DEFINED | 0x4b450002UL) /* public key, SubjectPublicKeyInfo \
                                         */

/*
 * Key attestation (docs/HSM.md "Key attestation"), read-only, computed on
 * each read of a private key made in the Keep:
 *   HSM_ATTR_KEY_STATEMENT  "keep-hsm key attestation v1" || u8 flags || SPKI DER
 *                           (flags: 1 CKA_LOCAL, 2 CKA_ALWAYS_SENSITIVE, 4 CKA_NEVER_EXTRACTABLE)
 *   HSM_ATTR_KEY_EVIDENCE   the Keep's evidence, report_data = SHA-256(statement) || 32 zeros
 */
#define HSM_ATTR_KEY_STATEMENT  (CKA_VENDOR_DEFINED | 0x4b450010UL)
#define HSM_ATTR_KEY_EVIDENCE   (CKA_VENDOR_DEFINED | 0x4b450011UL)
#define HSM_KEY_STATEMENT_LABEL "keep-hsm key attestation v1"

#define HSM_MAX_PIN_FAILS 5 /* wrong PINs in a row before CKF_*_PIN_LOCKED */
#define HSM_MIN_PIN       4
#define HSM_MAX_PIN       64

#endif /* KEEP_HSM_MECHS_H */
