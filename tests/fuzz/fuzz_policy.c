/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The appraisal policy parser on arbitrary text, and each policy that parses
 * applied to two fixed sets of evidence values (SNP and TDX), so that the
 * application code runs on every shape of policy the fuzzer finds. A policy
 * either parses or fails with a policy error code and a message; nothing
 * else may happen.
 */
#include <stdlib.h>
#include <string.h>

#include "attest/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t bytes48[48] = {0x4d, 0x4d, 0x4d};
static const uint8_t bytes64[64] = {1, 2, 3, 4, 5};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keep_attest_policy *p = NULL;
    struct keep_error err = {0};
    int rc = keep_policy_parse((const char *)data, size, &p, &err);
    if (rc != KEEP_OK) {
        /* Failures are the parser's own codes (or allocation/crypto), with a message. */
        if (p || err.code != rc || !err.message[0])
            abort();
        return 0;
    }
    struct keep_policy_evidence snp = {.tee = KEEP_ATTEST_TEE_SNP,
                                       .debug = true,
                                       .report_data = bytes64,
                                       .measurement = bytes48,
                                       .id_key_digest = bytes48,
                                       .author_key_digest = bytes48,
                                       .guest_svn = 3,
                                       .vmpl = 1,
                                       .tcb = {3, 0, 8, 115, 1},
                                       .has_fmc = true};
    const char *advisories[] = {"INTEL-SA-00289"};
    struct keep_policy_evidence tdx = {.tee = KEEP_ATTEST_TEE_TDX,
                                       .report_data = bytes64,
                                       .mrtd = bytes48,
                                       .rtmr = {bytes48, bytes48, bytes48, bytes48},
                                       .tcb_status = "SWHardeningNeeded",
                                       .advisories = advisories,
                                       .advisory_count = 1,
                                       .missing_collateral = "pck_crl"};
    struct keep_error_list errors = {0};
    size_t n = keep_policy_apply(p, &snp, &errors);
    n += keep_policy_apply(p, &tdx, &errors);
    if (n != errors.count)
        abort();
    for (size_t i = 0; i < errors.count; i++)
        if (errors.items[i].code < KEEP_E_POLICY_BASE || !errors.items[i].message[0])
            abort();
    keep_error_list_free(&errors);
    keep_policy_free(p);
    return 0;
}
