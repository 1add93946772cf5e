/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ECDSA P-256 verification, the two signatures of every Intel quote (QE
 * report by the PCK key, quote by the attestation key): keep's OpenSSL path
 * (keep_quote_p256_verify: key from x || y, r || s to DER, EVP_DigestVerify)
 * beside nettle's ecdsa_verify on secp256r1 doing the same work (point from
 * x || y, SHA-256, verify). Decides which one the quote verifier uses.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gmp.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <nettle/sha2.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "attest/quote.h"

#define ROUNDS 20000

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int nettle_verify(const uint8_t xy[64], const uint8_t rs[64], const uint8_t *msg,
                         size_t size)
{
    struct ecc_point pub;
    struct dsa_signature sig;
    struct sha256_ctx h;
    uint8_t digest[SHA256_DIGEST_SIZE];
    mpz_t x, y;
    mpz_inits(x, y, NULL);
    mpz_import(x, 32, 1, 1, 0, 0, xy);
    mpz_import(y, 32, 1, 1, 0, 0, xy + 32);
    ecc_point_init(&pub, nettle_get_secp_256r1());
    dsa_signature_init(&sig);
    int ok = ecc_point_set(&pub, x, y);
    mpz_import(sig.r, 32, 1, 1, 0, 0, rs);
    mpz_import(sig.s, 32, 1, 1, 0, 0, rs + 32);
    sha256_init(&h);
    sha256_update(&h, size, msg);
    sha256_digest(&h, sizeof(digest), digest);
    ok = ok && ecdsa_verify(&pub, sizeof(digest), digest, &sig);
    dsa_signature_clear(&sig);
    ecc_point_clear(&pub);
    mpz_clears(x, y, NULL);
    return ok;
}

int main(void)
{
    uint8_t point[65], rs[64], msg[632], der[80];
    size_t point_size = 0, der_size = sizeof(der);
    memset(msg, 7, sizeof(msg)); /* header + TD 1.0 body, the size a v4 quote signs */
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!key || !md ||
        EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                        &point_size) != 1 ||
        EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key, NULL) != 1 ||
        EVP_DigestSign(md, der, &der_size, msg, sizeof(msg)) != 1)
        return 1;
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_size);
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32);

    struct keep_error err;
    double t0 = now();
    for (int i = 0; i < ROUNDS; i++)
        if (keep_quote_p256_verify(point + 1, rs, msg, sizeof(msg), KEEP_E_QUOTE_SIGNATURE, "bench",
                                   &err) != KEEP_OK)
            return 2;
    double t_openssl = now() - t0;
    t0 = now();
    for (int i = 0; i < ROUNDS; i++)
        if (!nettle_verify(point + 1, rs, msg, sizeof(msg)))
            return 3;
    double t_nettle = now() - t0;
    printf("ECDSA P-256 verify (632 bytes): keep/OpenSSL %.0f/s, nettle %.0f/s\n",
           ROUNDS / t_openssl, ROUNDS / t_nettle);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    return 0;
}
