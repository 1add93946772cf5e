/* SPDX-License-Identifier: Apache-2.0 */
/*
 * collateral.json parser (and the QE Identity PCS file form on the same
 * bytes). When it parses, the signed TCB Info / QE Identity text kept for
 * signature checking must be the exact JSON it was parsed from: it is
 * parsed again and compared with the kept object (abort() when not).
 */
#include <stdlib.h>
#include <string.h>

#include "attest/collateral.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_json(const char *text, size_t size, json_t *kept)
{
    json_t *again = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
    if (!again || !json_equal(again, kept))
        abort();
    json_decref(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keep_collateral *coll = NULL;
    struct keep_qe_identity *qe = NULL;
    struct keep_error err;
    if (keep_collateral_parse_json((const char *)data, size, &coll, &err) == KEEP_OK) {
        STACK_OF(X509_CRL) *crls = NULL;
        if (coll->tcb_info)
            same_json(coll->tcb_info->doc.signed_text, coll->tcb_info->doc.signed_size,
                      coll->tcb_info->doc.json);
        if (coll->qe_identity)
            same_json(coll->qe_identity->doc.signed_text, coll->qe_identity->doc.signed_size,
                      coll->qe_identity->doc.json);
        if (keep_collateral_crls(coll, &crls, &err) == KEEP_OK)
            sk_X509_CRL_pop_free(crls, X509_CRL_free);
        json_decref(keep_collateral_summary(coll));
        keep_collateral_free(coll);
    }
    if (keep_qe_identity_parse((const char *)data, size, &qe, &err) == KEEP_OK) {
        same_json(qe->doc.signed_text, qe->doc.signed_size, qe->doc.json);
        struct keep_qe_report_input r = {.isvsvn = 0xffff};
        struct keep_qe_identity_result res;
        memcpy(r.mrsigner, qe->mrsigner, sizeof(r.mrsigner));
        r.isvprodid = qe->isvprodid;
        (void)keep_qe_identity_check(qe, qe->id, &r, &res, &err);
        keep_qe_identity_free(qe);
    }
    return 0;
}
