/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AMD SEV-SNP attestation reports: parsing, genuineness, claims.
 *
 * Reference: AMD "SEV-SNP Firmware ABI Specification" (56860) rev 1.57:
 * Table 23 (ATTESTATION_REPORT), section 4.3 Table 9 (guest policy),
 * section 2.2 (TCB_VERSION), and its ECDSA P-384 with SHA-384 signature
 * format (R and S little-endian, zero-extended to 72 bytes each).
 *
 * Three steps, each its own function, so that a relying party can cache the
 * expensive one:
 *
 *   1. keep_snp_report_parse()  format only: size, version, reserved fields,
 *                               algorithm, encodings. No crypto, no policy.
 *   2. keep_snp_signer_new()    once per VCEK/VLEK: the certificate chain to
 *                               the shipped AMD root at an explicit time.
 *   3. keep_snp_verify_report() per report: one ECDSA P-384 verification
 *                               and the comparisons that bind the report to
 *                               the certificate.
 *
 * None of these decide whether a guest is acceptable (debug policy,
 * measurement, minimum TCB, report_data): that is policy, applied by the
 * caller to the parsed struct.
 */
#ifndef KEEP_ATTEST_SNP_H
#define KEEP_ATTEST_SNP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "attest/amd.h"
#include "keep/error.h"

#define KEEP_SNP_REPORT_SIZE 0x4a0 /* 1184 bytes */
#define KEEP_SNP_SIGNED_SIZE 0x2a0 /* the signature covers bytes 0x000..0x29F */

/* GUEST_POLICY, ABI 56860 section 4.3, Table 9. Bit 17 is reserved and must be one. */
struct keep_snp_policy {
    uint8_t abi_minor;           /* bits 7:0 */
    uint8_t abi_major;           /* bits 15:8 */
    bool smt;                    /* bit 16 */
    bool migrate_ma;             /* bit 18 */
    bool debug;                  /* bit 19 */
    bool single_socket;          /* bit 20 */
    bool cxl_allow;              /* bit 21 */
    bool mem_aes_256_xts;        /* bit 22 */
    bool rapl_dis;               /* bit 23 */
    bool ciphertext_hiding_dram; /* bit 24 */
    bool page_swap_disable;      /* bit 25 */
};

/* PLATFORM_INFO, ABI 56860 Table 23 (offset 0x40). Other bits are kept in the raw value. */
struct keep_snp_platform_info {
    bool smt_en;                    /* bit 0 */
    bool tsme_en;                   /* bit 1 */
    bool ecc_en;                    /* bit 2 */
    bool rapl_dis;                  /* bit 3 */
    bool ciphertext_hiding_dram_en; /* bit 4 */
    bool alias_check_complete;      /* bit 5 */
    bool tio_en;                    /* bit 7 */
};

/* The signer info word at offset 0x48, ABI 56860 Table 23. */
struct keep_snp_signer_info {
    bool author_key_en;  /* bit 0 */
    bool mask_chip_key;  /* bit 1: MASK_CHIP_KEY, reports are not signed */
    uint8_t signing_key; /* bits 4:2, enum keep_amd_key_kind: 0 VCEK, 1 VLEK, 7 none */
};

/* Every field of an ATTESTATION_REPORT, ABI 56860 Table 23; offsets in comments. */
struct keep_snp_report {
    uint32_t version;   /* 0x000: 2, 3 or 5 */
    uint32_t guest_svn; /* 0x004 */
    uint64_t policy;    /* 0x008 */
    struct keep_snp_policy policy_bits;
    uint8_t family_id[16];           /* 0x010 */
    uint8_t image_id[16];            /* 0x020 */
    uint32_t vmpl;                   /* 0x030: 0..3 */
    uint32_t signature_algo;         /* 0x034: 1 */
    struct keep_amd_tcb current_tcb; /* 0x038 */
    uint64_t platform_info;          /* 0x040 */
    struct keep_snp_platform_info platform_info_bits;
    uint32_t signer_info_raw; /* 0x048 */
    struct keep_snp_signer_info signer_info;
    uint8_t report_data[64];           /* 0x050 */
    uint8_t measurement[48];           /* 0x090 */
    uint8_t host_data[32];             /* 0x0C0 */
    uint8_t id_key_digest[48];         /* 0x0E0 */
    uint8_t author_key_digest[48];     /* 0x110 */
    uint8_t report_id[32];             /* 0x140 */
    uint8_t report_id_ma[32];          /* 0x160 */
    struct keep_amd_tcb reported_tcb;  /* 0x180 */
    bool has_cpuid;                    /* version >= 3 */
    uint8_t cpuid_fam_id;              /* 0x188 (v3+) */
    uint8_t cpuid_mod_id;              /* 0x189 (v3+) */
    uint8_t cpuid_step;                /* 0x18A (v3+) */
    uint8_t chip_id[64];               /* 0x1A0 */
    struct keep_amd_tcb committed_tcb; /* 0x1E0 */
    uint8_t current_build;             /* 0x1E8 */
    uint8_t current_minor;             /* 0x1E9 */
    uint8_t current_major;             /* 0x1EA */
    uint8_t committed_build;           /* 0x1EC */
    uint8_t committed_minor;           /* 0x1ED */
    uint8_t committed_major;           /* 0x1EE */
    struct keep_amd_tcb launch_tcb;    /* 0x1F0 */
    bool has_mit_vector;               /* version >= 5 */
    uint64_t launch_mit_vector;        /* 0x1F8 (v5) */
    uint64_t current_mit_vector;       /* 0x200 (v5) */
    uint8_t signature_r[72];           /* 0x2A0, little-endian */
    uint8_t signature_s[72];           /* 0x2E8, little-endian */
    uint8_t signed_sha384[48];         /* SHA-384 of bytes 0x000..0x29F, computed by the parser */
};

/*
 * Parse a report. Checks (ABI 56860 Table 23):
 *  - size is exactly 1184 bytes (KEEP_E_SNP_REPORT_SIZE);
 *  - version is 2, 3 or 5 (KEEP_E_SNP_VERSION);
 *  - signature_algo is 1, ECDSA P-384 with SHA-384 (KEEP_E_SNP_SIGNATURE_ALGO);
 *  - vmpl is 0..3 (KEEP_E_SNP_VMPL);
 *  - policy bit 17 is one and bits 63:26 are zero (KEEP_E_SNP_POLICY_RESERVED);
 *  - signer info bits 31:5 are zero and SIGNING_KEY is 0, 1 or 7
 *    (KEEP_E_SNP_SIGNER_INFO); with MASK_CHIP_KEY set, chip_id is zero
 *    (KEEP_E_SNP_CHIP_ID_MASKED);
 *  - every reserved field of this version is zero, including the unused
 *    368 bytes of the signature (KEEP_E_SNP_RESERVED_NONZERO, naming the
 *    field and offset);
 *  - R and S are zero above their 48 low bytes (KEEP_E_SNP_SIGNATURE_ENCODING).
 * TCB values are split with the Turin layout when cpuid_fam_id is 1Ah, else
 * the Milan/Genoa layout (v2 reports carry no CPUID; Turin firmware emits v3+).
 * It does not verify the signature nor judge any value (debug, TCB, ...).
 */
KEEP_WARN_UNUSED int keep_snp_report_parse(const uint8_t *buf, size_t size,
                                           struct keep_snp_report *report, struct keep_error *err);

/*
 * A verified VCEK or VLEK, ready to check many reports. Immutable once made,
 * so one signer may be shared by threads. Holds the public key as a nettle
 * P-384 point and what the certificate endorses (TCB, hwID, product).
 */
struct keep_snp_signer;

/*
 * Build a signer from a VCEK/VLEK certificate (DER or PEM): everything
 * keep_amd_verify_endorsement() checks (chain to the shipped ARK at
 * opts->time, CRLs, key type, extensions). The signer remembers the window
 * in which every certificate of the chain is valid; a cache must rebuild or
 * re-check (keep_snp_signer_check_time) when its time moves.
 */
KEEP_WARN_UNUSED int keep_snp_signer_new(const uint8_t *cert, size_t cert_size,
                                         const struct keep_amd_chain_opts *opts,
                                         struct keep_snp_signer **out, struct keep_error *err);
void keep_snp_signer_free(struct keep_snp_signer *signer);
const struct keep_amd_endorsement *keep_snp_signer_endorsement(const struct keep_snp_signer *s);
/* KEEP_E_X509_EXPIRED / _NOT_YET_VALID unless time is inside the chain's validity window. */
KEEP_WARN_UNUSED int keep_snp_signer_check_time(const struct keep_snp_signer *signer, int64_t time,
                                                struct keep_error *err);

/*
 * Prove that report (parsed from raw) was made by the key of signer. Checks:
 *  - report was parsed from these raw bytes (KEEP_E_SNP_REPORT_MISMATCH);
 *  - signer_info.signing_key names the signer's kind, VCEK or VLEK
 *    (KEEP_E_SNP_KEY_SELECTION);
 *  - for v3+ reports, CPUID family/model belong to the signer's product
 *    (KEEP_E_SNP_PRODUCT_MISMATCH; stepping not compared, see amd.c);
 *  - the ECDSA P-384 signature over SHA-384 of bytes 0x000..0x29F verifies
 *    with the signer's key (KEEP_E_SNP_SIGNATURE_INVALID);
 *  - reported_tcb, split with the signer's product layout, equals the
 *    certificate's TCB extensions component by component
 *    (KEEP_E_SNP_TCB_MISMATCH, naming the component and both values);
 *  - for a VCEK and a nonzero chip_id, chip_id equals the hwID (first 8
 *    bytes on Turin) (KEEP_E_SNP_HWID_MISMATCH). A zero chip_id (the host
 *    set MASK_CHIP_ID) is accepted: the VCEK key is itself chip-unique.
 * It does not check the time (the signer did, at its creation), nor
 * current/committed/launch TCB, nor any policy.
 */
KEEP_WARN_UNUSED int keep_snp_verify_report(const struct keep_snp_signer *signer,
                                            const struct keep_snp_report *report,
                                            const uint8_t *raw, size_t raw_size,
                                            struct keep_error *err);

/*
 * Every field as JSON, named as in ABI 56860 Table 23 in lower case: byte
 * arrays as lower-case hex, integers as numbers, policy / platform_info /
 * signer_info as objects of named booleans (plus "raw"), each TCB as
 * {"raw", "bootloader", "tee", "snp", "microcode"[, "fmc"]}. 64-bit words
 * (the "raw" values, *_mit_vector) are "0x" + 16 hex digits. v3+ fields
 * (cpuid_*) and v5 fields (*_mit_vector) appear only in those versions. The
 * signature is not included. Returns a new reference, or NULL on allocation
 * failure.
 */
json_t *keep_snp_claims_json(const struct keep_snp_report *report);

#endif /* KEEP_ATTEST_SNP_H */
