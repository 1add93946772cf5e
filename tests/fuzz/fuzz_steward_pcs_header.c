/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An Intel PCS issuer-chain header value (steward_pcs_issuer_chain) and a would-be quote
 * (steward_pcs_target_of) on arbitrary bytes: the decoder either refuses with
 * KEEP_E_STEWARD_PCS_HEADER (or NOMEM) and a message naming the header, or returns a
 * NUL-terminated PEM no longer than its input that starts with a certificate.
 */
#include <stdlib.h>
#include <string.h>

#include "steward/pcs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct steward_bytes pem;
    struct keep_error err = {0};
    int rc =
        steward_pcs_issuer_chain("SGX-PCK-CRL-Issuer-Chain", (const char *)data, size, &pem, &err);
    if (rc != KEEP_OK) {
        if (err.code != rc || !strstr(err.message, "SGX-PCK-CRL-Issuer-Chain") || pem.data)
            abort();
    } else {
        if (!pem.data || pem.size > size || pem.data[pem.size] != '\0' ||
            !memmem(pem.data, pem.size, "-----BEGIN CERTIFICATE-----", 27))
            abort();
        free(pem.data);
    }
    struct steward_pcs_target t;
    if (steward_pcs_target_of(data, size, &t) == 0 &&
        (strlen(t.fmspc) != 12 || (strcmp(t.pck_ca, "processor") && strcmp(t.pck_ca, "platform"))))
        abort();
    return 0;
}
