/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AMD SEV-SNP endorsement keys: the VCEK (chip-unique, "Versioned Chip
 * Endorsement Key") and the VLEK (per cloud provider, "Versioned Loaded
 * Endorsement Key"), their certificate chains to the AMD Root Key, and the
 * values AMD puts in their X.509 extensions.
 *
 * References:
 *  - AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
 *    Specification" (57230), section 3 (certificate extensions).
 *  - AMD "SEV-SNP Firmware ABI Specification" (56860) rev 1.57, section 2.2
 *    (TCB_VERSION).
 *
 * Chains (RSASSA-PSS with SHA-384 at every CA):
 *     VCEK <- ASK  "SEV-<Product>"      <- ARK "ARK-<Product>"
 *     VLEK <- ASVK "SEV-VLEK-<Product>" <- ARK "ARK-<Product>"
 * The ARK of each product is the trust anchor; keep ships ASK+ARK and
 * ASVK+ARK for Milan, Genoa and Turin in data/roots/amd/ (see
 * data/roots/README.md).
 */
#ifndef KEEP_ATTEST_AMD_H
#define KEEP_ATTEST_AMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keep/error.h"

enum keep_amd_product {
    KEEP_AMD_PRODUCT_UNKNOWN = 0,
    KEEP_AMD_MILAN, /* EPYC 7003, CPUID family 19h models 00h-0Fh */
    KEEP_AMD_GENOA, /* EPYC 9004/8004 (incl. Bergamo, Siena), family 19h models 10h-1Fh, A0h-AFh */
    KEEP_AMD_TURIN, /* EPYC 9005, family 1Ah models 00h-1Fh */
};

/* Values of the report's SIGNER_INFO.SIGNING_KEY field (ABI 56860 Table 23). */
enum keep_amd_key_kind {
    KEEP_AMD_VCEK = 0,
    KEEP_AMD_VLEK = 1,
    KEEP_AMD_NO_KEY = 7, /* the report is not signed */
};

/* "Milan", "Genoa", "Turin" or "unknown". */
const char *keep_amd_product_name(enum keep_amd_product product);
/* "VCEK", "VLEK", "none" or "reserved". */
const char *keep_amd_key_kind_name(unsigned kind);

/*
 * Whether CPUID family/model (as reported in a v3+ report's CPUID_FAM_ID and
 * CPUID_MOD_ID, i.e. the combined family and model) belong to product. The
 * stepping is deliberately not compared: see amd.c.
 */
bool keep_amd_cpuid_matches(enum keep_amd_product product, uint8_t family, uint8_t model);
/* The product of a CPUID family/model, or KEEP_AMD_PRODUCT_UNKNOWN. */
enum keep_amd_product keep_amd_product_of_cpuid(uint8_t family, uint8_t model);

/*
 * A TCB_VERSION (ABI 56860 section 2.2) split into its components. The byte
 * layout differs by product:
 *   Milan, Genoa: [0] BOOT_LOADER [1] TEE [2..5] reserved [6] SNP [7] MICROCODE
 *   Turin:        [0] FMC [1] BOOT_LOADER [2] TEE [3] SNP [4..6] reserved [7] MICROCODE
 */
struct keep_amd_tcb {
    uint64_t raw; /* as in the report, little-endian */
    uint8_t bootloader;
    uint8_t tee;
    uint8_t snp;
    uint8_t microcode;
    uint8_t fmc;  /* Turin only */
    bool has_fmc; /* true for the Turin layout */
};

/* Split raw with the layout of product (Turin layout for Turin, else Milan/Genoa). */
void keep_amd_tcb_decode(uint64_t raw, enum keep_amd_product product, struct keep_amd_tcb *out);
/* The inverse: the raw TCB_VERSION of the components of tcb (reserved bytes zero). */
uint64_t keep_amd_tcb_encode(const struct keep_amd_tcb *tcb, enum keep_amd_product product);

#define KEEP_AMD_HWID_MAX 64

/* What a verified VCEK or VLEK certificate endorses. */
struct keep_amd_endorsement {
    enum keep_amd_key_kind kind;
    enum keep_amd_product product; /* from the issuer, "SEV-<P>" or "SEV-VLEK-<P>" */
    char product_name[32];   /* productName extension (1.3.6.1.4.1.3704.1.2), e.g. "Milan-B0" */
    struct keep_amd_tcb tcb; /* TCB extensions 1.3.6.1.4.1.3704.1.3.{1,2,3,8,9} (raw = 0) */
    uint8_t hwid[KEEP_AMD_HWID_MAX]; /* VCEK hwID (1.3.6.1.4.1.3704.1.4): 64 bytes, 8 on Turin */
    size_t hwid_size;                /* 0 for a VLEK */
    uint8_t pub_x[48];               /* P-384 public key, big-endian coordinates */
    uint8_t pub_y[48];
    int64_t not_before; /* latest notBefore over the leaf and the CA certificates used */
    int64_t not_after;  /* earliest notAfter over the same */
};

struct keep_amd_chain_opts {
    int64_t time;         /* verification time, seconds since the epoch */
    const uint8_t *chain; /* optional bundle (PEM or DER) with the ASK/ASVK and/or ARK */
    size_t chain_size;
    const uint8_t *const *crls; /* optional AMD CRLs, each DER or PEM */
    const size_t *crl_sizes;
    size_t crl_count;
    const char *roots_dir; /* directory of the root bundles; NULL for the shipped ones */
};

/*
 * Verify a VCEK or VLEK certificate (DER or PEM) and read what it endorses.
 *
 * Checks, in order:
 *  - the certificate parses; its issuer CN is "SEV-<P>" (VCEK) or
 *    "SEV-VLEK-<P>" (VLEK) for P in Milan, Genoa, Turin, and its subject CN is
 *    "SEV-VCEK" or "SEV-VLEK" to match;
 *  - the shipped bundle <roots_dir>/ask_ark_<p>.pem or asvk_ark_<p>.pem holds
 *    the ASK/ASVK and a self-signed ARK "ARK-<P>";
 *  - every self-signed certificate in opts->chain equals that shipped ARK
 *    (KEEP_E_SNP_ARK_MISMATCH); other certificates there are offered as
 *    intermediates;
 *  - the chain leaf <- ASK/ASVK <- ARK verifies at opts->time with OpenSSL
 *    (RSASSA-PSS signatures, validity of every certificate, the ARK's
 *    self-signature, and opts->crls where given; see keep_x509_verify_chain);
 *  - the public key is ECDSA P-384; the TCB extensions bl, tee, snp, ucode
 *    (and fmc on Turin) are single INTEGERs of 0..255; a VCEK has a hwID of
 *    64 bytes (8 on Turin); the productName extension, when present, names
 *    the same product as the issuer.
 * It does not look at any report: keep_snp_verify_report() compares these
 * values with one.
 */
KEEP_WARN_UNUSED int keep_amd_verify_endorsement(const uint8_t *cert, size_t cert_size,
                                                 const struct keep_amd_chain_opts *opts,
                                                 struct keep_amd_endorsement *out,
                                                 struct keep_error *err);

/* Directory of the shipped AMD roots: the installed one when present, else the source tree's. */
const char *keep_amd_default_roots_dir(void);

#endif /* KEEP_ATTEST_AMD_H */
