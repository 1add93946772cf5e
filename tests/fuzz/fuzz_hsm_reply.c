/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The module's view of keep-hsm's replies (src/hsm/client.c, wire.c): a
 * hostile Keep, or a host that broke TLS, must not crash the client
 * application. The input is a reply stream: frames are split, their
 * headers checked against the expected op and id, and the fields read the
 * ways the module reads them (a byte string, a template, handles).
 */
#include <stdlib.h>

#include "hsm/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0, frame;
    while (off < size && hsm_frame_split(data + off, size - off, &frame, NULL) == KEEP_OK &&
           frame) {
        CK_RV rv;
        const uint8_t *fields;
        size_t n;
        uint8_t op = frame > 5 ? data[off + 5] : 1;
        if (hsm_client_parse_reply(data + off, frame, op, 1, &rv, &fields, &n, NULL) == KEEP_OK) {
            if (fields < data + off || fields + n > data + off + frame)
                abort();
            struct keep_cursor c;
            const uint8_t *p;
            uint32_t pn;
            struct hsm_template t;
            keep_cursor_init(&c, fields, n);
            if (hsm_get_bytes(&c, "bytes", HSM_FRAME_MAX, &p, &pn, NULL) == KEEP_OK &&
                (p < fields || p + pn > fields + n))
                abort();
            keep_cursor_init(&c, fields, n);
            if (hsm_get_template(&c, "template", &t, NULL) == KEEP_OK && t.count > HSM_ATTRS_MAX)
                abort();
        }
        off += frame;
    }
    return 0;
}
