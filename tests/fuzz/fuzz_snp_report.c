/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the SEV-SNP report parser: parse any bytes and, when
 * they parse, build the claims JSON from the result (both must be safe for
 * every input). Seeds in corpus/snp_report/ are synthetic reports made by
 * tests/support/snp_gen (v2, v3, v5; Milan, Genoa, Turin; VCEK and VLEK).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "attest/snp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keep_snp_report report;
    struct keep_error err;
    if (keep_snp_report_parse(data, size, &report, &err) != KEEP_OK)
        return 0;
    json_t *claims = keep_snp_claims_json(&report);
    if (!claims)
        abort(); /* parsed reports always have claims, short of memory */
    char *text = json_dumps(claims, JSON_COMPACT);
    free(text);
    json_decref(claims);
    return 0;
}
