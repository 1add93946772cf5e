/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The quote parser on arbitrary bytes: strict and lenient parse, the claims
 * of whatever parses, and full verification (PCK chain PEM through OpenSSL,
 * QE report and quote signatures) at a fixed time against the shipped Intel
 * root. Nothing may crash, leak or read out of bounds; a parse that
 * succeeds must account for every byte.
 */
#include <stdlib.h>

#include <jansson.h>

#include "attest/pck.h"
#include "attest/quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *intel_root;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keep_quote q;
    struct keep_error err;
    if (!intel_root && keep_pck_load_intel_root(NULL, &intel_root, &err) != KEEP_OK)
        abort(); /* the fuzzer runs from the source tree; the root must load */
    int strict = keep_quote_parse(data, size, &q, &err);
    int lenient = keep_quote_parse_ex(data, size, KEEP_QUOTE_PARSE_ALLOW_TRAILING, &q, &err);
    /* Strict success implies lenient success with nothing trailing. */
    if (strict == KEEP_OK && (lenient != KEEP_OK || q.trailing_size != 0))
        abort();
    if (lenient != KEEP_OK)
        return 0;
    if (q.size + q.trailing_size != size || q.signed_size > q.size)
        abort();
    json_t *claims = keep_quote_claims_json(&q);
    char *text = claims ? json_dumps(claims, 0) : NULL;
    free(text);
    json_decref(claims);
    struct keep_quote_verify_opts opts = {.time = 1720000000 /* 2024-07-03 */,
                                          .intel_root = intel_root};
    struct keep_pck_info pck;
    (void)keep_quote_verify(&q, &opts, &pck, &err);
    return 0;
}
