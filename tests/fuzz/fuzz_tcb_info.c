/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCB Info parser and matcher. The input is a tcb_info.json in the Intel PCS
 * form (else the bare signed tcbInfo object). When it parses, every level
 * is matched with the platform values that level itself lists, and the
 * matcher must then succeed with that level or an earlier one (the first
 * match wins and a level always covers its own values): abort() otherwise.
 */
#include <stdlib.h>
#include <string.h>

#include "attest/tcb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void match_each_level(const struct keep_tcb_info *info)
{
    struct keep_error err;
    for (size_t i = 0; i < info->level_count; i++) {
        const struct keep_tcb_level *lv = &info->levels[i];
        struct keep_tcb_input in = {.tee = info->id, .pcesvn = lv->pcesvn};
        struct keep_tcb_result r;
        memcpy(in.cpusvn_components, lv->sgx_svn, sizeof(in.cpusvn_components));
        memcpy(in.tee_tcb_svn, lv->tdx_svn, sizeof(in.tee_tcb_svn));
        memcpy(in.fmspc, info->fmspc, sizeof(in.fmspc));
        memcpy(in.pceid, info->pce_id, sizeof(in.pceid));
        if (keep_tcb_info_check_platform(info, &in, &err) != KEEP_OK)
            abort();
        int rc = keep_tcb_match(info, &in, &r, &err);
        if (info->id == KEEP_TEE_SGX && (rc != KEEP_OK || r.sgx_level_index > i))
            abort();
        /* TDX adds module checks that may fail, but never a level after i. */
        if (rc == KEEP_OK && info->id == KEEP_TEE_TDX && r.tdx_level_index > i)
            abort();
        if (rc == KEEP_OK)
            (void)keep_tcb_status_name(r.status);
        keep_tcb_result_free(&r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keep_tcb_info *info = NULL;
    struct keep_error err;
    if (keep_tcb_info_parse((const char *)data, size, &info, &err) != KEEP_OK &&
        keep_tcb_info_parse_body((const char *)data, size, NULL, &info, &err) != KEEP_OK)
        return 0;
    match_each_level(info);
    json_decref(keep_tcb_info_summary(info));
    (void)keep_tcb_info_check_fresh(info, 1752919277, &err);
    keep_tcb_info_free(info);
    return 0;
}
