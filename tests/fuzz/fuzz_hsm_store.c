/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sealed token store file (src/hsm/store.c): the host controls its
 * bytes. Parse them, re-encode what parsed (it must parse again to the same
 * bytes), and try to open every record under a fixed master key (tampered
 * records must fail authentication, never crash).
 */
#include <stdlib.h>
#include <string.h>

#include "hsm/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hsm_store st;
    if (hsm_store_parse(data, size, &st, NULL) != KEEP_OK)
        return 0;
    uint8_t *enc;
    size_t enc_size;
    if (hsm_store_encode(&st, &enc, &enc_size, NULL) != KEEP_OK)
        abort();
    if (enc_size != size || memcmp(enc, data, size) != 0)
        abort(); /* encode(parse(x)) == x: no field is dropped or invented */
    free(enc);
    static const uint8_t mk[HSM_KEY_SIZE] = {1, 2, 3};
    for (uint32_t i = 0; i < st.record_count; i++) {
        uint8_t *plain = NULL;
        size_t n;
        if (hsm_store_open_record(mk, st.generation, i, st.record_count, &st.records[i], &plain, &n,
                                  NULL) == KEEP_OK)
            free(plain);
    }
    hsm_store_free(&st);
    return 0;
}
