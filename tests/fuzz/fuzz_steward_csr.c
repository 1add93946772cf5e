/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#10 requests in the Enarx Steward form (steward_request_parse_enarx:
 * DER CSR, evidence in extension 1.3.6.1.4.1.58270.1.{2,3}) on arbitrary
 * bytes: either evidence comes out with its binding and format, or a steward
 * error code with a message.
 */
#include <stdlib.h>

#include "steward/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct steward_cert_request r;
    struct keep_error err = {0};
    int rc = steward_request_parse_enarx(data, size, &r, &err);
    if (rc != KEEP_OK) {
        if (err.code != rc || !err.message[0])
            abort();
        return 0;
    }
    if (!r.evidence.data || r.binding == STEWARD_BIND_NONCE ||
        (r.format != KEEP_ATTEST_FORMAT_SNP && r.format != KEEP_ATTEST_FORMAT_SGX))
        abort();
    steward_request_free(&r);
    return 0;
}
