/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Synthetic AMD SEV-SNP evidence for tests: a private "AMD" PKI made with
 * OpenSSL at test time, so the verifier is tested for real without AMD
 * hardware or the shared vectors.
 *
 *   ARK "ARK-<P>" (self-signed) -> ASK "SEV-<P>"      -> VCEK "SEV-VCEK"
 *                               -> ASVK "SEV-VLEK-<P>" -> VLEK "SEV-VLEK"
 *
 * CA signatures are RSASSA-PSS with SHA-384 (salt 48) as AMD's; the CA keys
 * are RSA-2048 rather than AMD's 4096 to keep tests fast (the code path is
 * the same). VCEK/VLEK keys are ECDSA P-384 and carry the AMD TCB, hwID and
 * productName extensions. Reports are signed over bytes 0x000..0x29F with
 * R and S stored little-endian, zero-extended to 72 bytes.
 *
 * snp_gen_roots_dir() is a temporary directory laid out like data/roots/amd
 * (ask_ark_<p>.pem, asvk_ark_<p>.pem); pass it as keep_amd_chain_opts.roots_dir.
 * Functions abort() on OpenSSL failures: they are test fixtures.
 */
#ifndef KEEP_TESTS_SNP_GEN_H
#define KEEP_TESTS_SNP_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/amd.h"
#include "attest/snp.h"

/* 2026-01-01T00:00:00Z: inside every default validity window. */
#define SNP_GEN_TIME INT64_C(1767225600)

struct snp_gen;

/* What goes into a VCEK or VLEK; start from snp_gen_cert_defaults(). */
struct snp_gen_cert {
    enum keep_amd_key_kind kind;
    struct keep_amd_tcb tcb;  /* bootloader, tee, snp, microcode, fmc (Turin) */
    uint8_t hwid[64];         /* VCEK hwID */
    size_t hwid_size;         /* 64, 8 on Turin; 0 omits the extension */
    const char *product_name; /* productName extension; NULL omits it */
    int64_t not_before;
    int64_t not_after;
    bool wrong_issuer_key; /* signed by a stranger key under the ASK/ASVK's name */
};

/* A fresh PKI for product (Milan, Genoa or Turin). */
struct snp_gen *snp_gen_new(enum keep_amd_product product);
/* Frees everything and removes the roots directory. */
void snp_gen_free(struct snp_gen *g);

enum keep_amd_product snp_gen_product(const struct snp_gen *g);
const char *snp_gen_roots_dir(const struct snp_gen *g);
/* The 64-byte chip ID the default VCEK and reports use (only 8 bytes nonzero on Turin). */
const uint8_t *snp_gen_chip_id(const struct snp_gen *g);
/* The default TCB (bl 3, tee 0, snp 8, ucode 115; fmc 1 on Turin). */
struct keep_amd_tcb snp_gen_default_tcb(const struct snp_gen *g);

/* Defaults: the default TCB, the chip ID as hwID (VCEK), valid 2024-01-01 .. 2031-01-01. */
void snp_gen_cert_defaults(const struct snp_gen *g, enum keep_amd_key_kind kind,
                           struct snp_gen_cert *c);
/* A certificate as DER, malloc'd. Signed by the ASK (VCEK) or ASVK (VLEK). */
void snp_gen_cert_der(struct snp_gen *g, const struct snp_gen_cert *c, uint8_t **der, size_t *size);
/* The default VCEK or VLEK as DER (same key as every report of that kind). */
void snp_gen_default_cert_der(struct snp_gen *g, enum keep_amd_key_kind kind, uint8_t **der,
                              size_t *size);

/*
 * A valid report of version 2, 3 or 5 for the default certificate of kind:
 * policy 0x30000 (SMT, no debug), vmpl 0, report_data 00 01 02 .., measurement
 * 0x4d repeated, every TCB the default, chip_id (VCEK) or zero (VLEK), CPUID of
 * the product (v3+), signed.
 */
void snp_gen_report(struct snp_gen *g, enum keep_amd_key_kind kind, uint32_t version,
                    uint8_t report[KEEP_SNP_REPORT_SIZE]);
/* (Re-)sign bytes 0x000..0x29F with the VCEK or VLEK key, after a mutation. */
void snp_gen_sign(struct snp_gen *g, enum keep_amd_key_kind kind,
                  uint8_t report[KEEP_SNP_REPORT_SIZE]);
/* Write a little-endian field into a report (test mutations). */
void snp_gen_put_u32(uint8_t *report, size_t offset, uint32_t v);
void snp_gen_put_u64(uint8_t *report, size_t offset, uint64_t v);

/* PEM bundle: the ASK (VCEK) or ASVK (VLEK), then the ARK when with_ark. malloc'd. */
void snp_gen_chain_pem(struct snp_gen *g, enum keep_amd_key_kind kind, bool with_ark, uint8_t **pem,
                       size_t *size);
/* An ARK-signed CRL (DER, malloc'd) valid this_update .. next_update, listing the ASK if asked. */
void snp_gen_crl_der(struct snp_gen *g, bool revoke_ask, int64_t this_update, int64_t next_update,
                     uint8_t **der, size_t *size);

#endif /* KEEP_TESTS_SNP_GEN_H */
