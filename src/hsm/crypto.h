/* SPDX-License-Identifier: Apache-2.0 */
/* The mechanisms of src/hsm/mechs.h on OpenSSL 3 EVP keys. Each returns a CK_RV. */
#ifndef KEEP_HSM_CRYPTO_H
#define KEEP_HSM_CRYPTO_H

#include <openssl/evp.h>

#include "hsm/cryptoki.h"
#include "hsm/mechs.h"
#include "hsm/wire.h"

CK_RV hsm_crypto_sign(EVP_PKEY *key, const struct hsm_mech *m, const uint8_t *data, size_t size,
                      struct hsm_buf *out);
CK_RV hsm_crypto_verify(EVP_PKEY *key, const struct hsm_mech *m, const uint8_t *data, size_t size,
                        const uint8_t *sig, size_t sig_size);
CK_RV hsm_crypto_decrypt(EVP_PKEY *key, const struct hsm_mech *m, const uint8_t *in, size_t size,
                         struct hsm_buf *out);
CK_RV hsm_crypto_encrypt(EVP_PKEY *key, const struct hsm_mech *m, const uint8_t *in, size_t size,
                         struct hsm_buf *out);
CK_RV hsm_crypto_digest(const struct hsm_mech *m, const uint8_t *data, size_t size,
                        struct hsm_buf *out);
/* CKA_EC_PARAMS as DER OID: P-256 or P-384 (else CKR_CURVE_NOT_SUPPORTED). */
CK_RV hsm_crypto_gen_ec(const uint8_t *params, size_t size, EVP_PKEY **out);
CK_RV hsm_crypto_gen_rsa(CK_ULONG bits, const uint8_t *exponent, size_t exponent_size,
                         EVP_PKEY **out);
/* The mechanism's digest (CKM_SHA256, CKM_ECDSA_SHA256, ...), or NULL. */
const EVP_MD *hsm_crypto_md(CK_MECHANISM_TYPE type);

/* ---- secret keys (AES, HMAC) -------------------------------------------- */

/*
 * AES with key (16, 24 or 32 bytes). Parameters on the wire:
 *   CKM_AES_GCM      bytes iv (1..128), bytes aad (..64 KiB), u64 tag bits (96..128, multiple of 8)
 *   CKM_AES_CBC_PAD  bytes iv (16)
 *   CKM_AES_CTR      u64 counter bits (1..128), bytes counter block (16)
 * Decrypting GCM checks the tag (CKR_ENCRYPTED_DATA_INVALID when it fails).
 */
CK_RV hsm_crypto_aes(const struct hsm_mech *m, const uint8_t *key, size_t key_size,
                     const uint8_t *in, size_t size, bool decrypt, struct hsm_buf *out);
/* CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA512_HMAC (full-length MACs). */
CK_RV hsm_crypto_hmac(const struct hsm_mech *m, const uint8_t *key, size_t key_size,
                      const uint8_t *data, size_t size, struct hsm_buf *out);

/*
 * CKM_AES_KEY_WRAP (RFC 3394) and CKM_AES_KEY_WRAP_KWP (RFC 5649) with an
 * AES key. Parameter on the wire: none, or bytes iv (empty, 8 bytes for KW, 4
 * for KWP). A failed integrity check on unwrap is CKR_WRAPPED_KEY_INVALID.
 */
CK_RV hsm_crypto_key_wrap(const struct hsm_mech *m, const uint8_t *key, size_t key_size,
                          const uint8_t *in, size_t size, bool unwrap, struct hsm_buf *out);
/*
 * CKM_ECDH1_DERIVE with an EC private key: the raw shared secret (the x
 * coordinate, SEC 1 3.3.1). Parameter on the wire: u64 kdf (CKD_NULL only),
 * bytes shared data (empty), bytes the peer's point (raw uncompressed or its
 * DER OCTET STRING), checked to be on the key's curve.
 */
CK_RV hsm_crypto_ecdh(EVP_PKEY *priv, const struct hsm_mech *m, struct hsm_buf *out);
#endif /* KEEP_HSM_CRYPTO_H */
