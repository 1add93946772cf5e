/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The appraisal policy: parsed from JSON (strict), applied to the plain
 * values of evidence that verify.c has already proven genuine. This file
 * knows nothing of report formats: verify.c fills struct keep_policy_evidence
 * from the parsed SNP report or quote, so the policy can be tested (and
 * fuzzed) on its own.
 */
#ifndef KEEP_ATTEST_POLICY_H
#define KEEP_ATTEST_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keep/attest.h"
#include "keep/error.h"

/* A list of errors; every policy failure is recorded, not only the first. */
struct keep_error_list {
    struct keep_error *items;
    size_t count;
    size_t cap;
    size_t lost; /* errors that could not be stored (allocation failure): never ignore */
};

/*
 * Append an error. On allocation failure the error is dropped, list->lost
 * counts it and KEEP_E_NOMEM is returned: a failure must never vanish, so
 * callers deciding a verdict look at lost as well as count.
 */
int keep_error_list_add(struct keep_error_list *list, int code, const char *fmt, ...)
    KEEP_PRINTF(3, 4);
int keep_error_list_push(struct keep_error_list *list, const struct keep_error *err);
void keep_error_list_free(struct keep_error_list *list);

#define KEEP_POLICY_HEX_MAX 64

/* One allow- or deny-list of fixed-size byte strings. */
struct keep_policy_hexlist {
    bool set; /* the key was present (an empty allow-list allows nothing) */
    size_t count;
    uint8_t (*items)[KEEP_POLICY_HEX_MAX];
};

/* An allow-list and a deny-list for one field. */
struct keep_policy_digest_rule {
    const char *name;  /* JSON key, "mrenclave" */
    size_t value_size; /* bytes of the field */
    struct keep_policy_hexlist allow;
    struct keep_policy_hexlist deny;
};

enum keep_policy_report_data_mode {
    KEEP_POLICY_REPORT_DATA_ANY = 0,
    KEEP_POLICY_REPORT_DATA_EXACT,  /* value, zero-padded to 64 bytes */
    KEEP_POLICY_REPORT_DATA_SHA256, /* first 32 bytes = SHA-256(bound) */
    KEEP_POLICY_REPORT_DATA_SHA384, /* first 48 bytes = SHA-384(bound) */
};

/* Indices of the digest rules in struct keep_attest_policy.digests. */
enum keep_policy_digest {
    KEEP_POLICY_MEASUREMENT, /* SNP MEASUREMENT, 48 bytes */
    KEEP_POLICY_MRENCLAVE,   /* SGX MRENCLAVE, 32 */
    KEEP_POLICY_MRSIGNER,    /* SGX MRSIGNER, 32 */
    KEEP_POLICY_MRTD,        /* TDX MRTD, 48 */
    KEEP_POLICY_RTMR0,       /* TDX RTMR0..3, 48 */
    KEEP_POLICY_RTMR1,
    KEEP_POLICY_RTMR2,
    KEEP_POLICY_RTMR3,
    KEEP_POLICY_ID_KEY_DIGEST,     /* SNP ID_KEY_DIGEST, 48; allow-list only */
    KEEP_POLICY_AUTHOR_KEY_DIGEST, /* SNP AUTHOR_KEY_DIGEST, 48; allow-list only */
    KEEP_POLICY_DIGEST_COUNT,
};

/* SNP TCB components (ABI 56860 section 2.2 TCB_VERSION). */
enum keep_policy_tcb_component {
    KEEP_POLICY_TCB_BOOTLOADER,
    KEEP_POLICY_TCB_TEE,
    KEEP_POLICY_TCB_SNP,
    KEEP_POLICY_TCB_MICROCODE,
    KEEP_POLICY_TCB_FMC,
    KEEP_POLICY_TCB_COUNT,
};

struct keep_attest_policy {
    bool allow_debug;
    bool allow_insecure;
    bool allow_missing_collateral;
    unsigned tee_mask; /* bit per enum keep_attest_tee; 0 = any */

    struct keep_policy_digest_rule digests[KEEP_POLICY_DIGEST_COUNT];

    enum keep_policy_report_data_mode report_data_mode;
    uint8_t report_data[64]; /* EXACT: padded value; SHA*: the digest */

    bool has_min_tcb[KEEP_POLICY_TCB_COUNT];
    uint8_t min_tcb[KEEP_POLICY_TCB_COUNT];

    bool tcb_statuses_set;
    size_t tcb_status_count;
    char **tcb_statuses; /* Intel spelling; default {"UpToDate"} */
    bool advisories_set;
    size_t advisory_count;
    char **advisories;

    bool has_min_guest_svn;
    uint32_t min_guest_svn;
    bool has_min_isvsvn;
    uint16_t min_isvsvn;
    unsigned vmpl_mask; /* bit per allowed VMPL; 0 = any */
};

/* The plain values of genuine evidence that the policy looks at. */
struct keep_policy_evidence {
    enum keep_attest_tee tee;
    bool debug;
    const uint8_t *report_data; /* 64 bytes */

    /* SNP */
    const uint8_t *measurement; /* 48 */
    const uint8_t *id_key_digest;
    const uint8_t *author_key_digest;
    uint32_t guest_svn;
    uint32_t vmpl;
    uint8_t tcb[KEEP_POLICY_TCB_COUNT]; /* reported_tcb, by component */
    bool has_fmc;

    /* SGX */
    const uint8_t *mrenclave; /* 32 */
    const uint8_t *mrsigner;
    uint16_t isvsvn;

    /* TDX */
    const uint8_t *mrtd; /* 48 */
    const uint8_t *rtmr[4];

    /* Intel collateral results */
    const char *tcb_status; /* NULL when no TCB status could be established */
    const char *const *advisories;
    size_t advisory_count;
    /* Names of the collateral items that were not given, "," separated; "" for none. */
    const char *missing_collateral;
};

/* Parse a policy (strict); "{}" is the default policy. */
KEEP_WARN_UNUSED int keep_policy_parse(const char *json, size_t size,
                                       struct keep_attest_policy **out, struct keep_error *err);
/* The default policy, as "{}" gives. */
KEEP_WARN_UNUSED int keep_policy_default(struct keep_attest_policy **out, struct keep_error *err);
void keep_policy_free(struct keep_attest_policy *policy);

/*
 * Apply every rule to ev, appending one error per failing rule to errors.
 * Returns the number of failures found, stored or lost (0: accepted).
 */
size_t keep_policy_apply(const struct keep_attest_policy *policy,
                         const struct keep_policy_evidence *ev, struct keep_error_list *errors);

#endif /* KEEP_ATTEST_POLICY_H */
