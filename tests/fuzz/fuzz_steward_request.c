/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The body of POST /v1/certificates (steward_request_parse_json) and of a
 * workload policy (steward_workload_parse) and of POST /v1/counters/{name}
 * (steward_counter_request_parse) on arbitrary bytes: each either
 * parses or fails with a steward/common error code and a message; a parsed
 * request always carries a verified CSR, a nonce and evidence.
 */
#include <stdlib.h>
#include <string.h>

#include "steward/steward.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct steward_cert_request r;
    struct keep_error err = {0};
    int rc = steward_request_parse_json((const char *)data, size, &r, &err);
    if (rc != KEEP_OK) {
        if (err.code != rc || !err.message[0])
            abort();
    } else {
        if (!r.csr.req || !r.csr.spki_der || !r.has_nonce || !r.evidence.data)
            abort();
        steward_request_free(&r);
    }
    struct steward_counter_update u;
    rc = steward_counter_request_parse((const char *)data, size, &u, &err);
    if (rc == KEEP_OK ? u.set <= u.expect || u.set > INT64_MAX : err.code != rc || !err.message[0])
        abort();
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct steward_workload w;
    rc = steward_workload_parse(text, &w, &err);
    if (rc == KEEP_OK) {
        if (!w.attest_json)
            abort();
        steward_workload_free(&w);
    } else if (err.code != rc || !err.message[0]) {
        abort();
    }
    free(text);
    return 0;
}
