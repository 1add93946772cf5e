/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Drives the cursor with a little program taken from the input itself: each
 * opcode byte picks a read of some width from the rest of the input. Any
 * out-of-bounds access is caught by ASan; the invariants below by abort().
 */
#include <stdlib.h>

#include "common/cursor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keep_cursor prog, in;
    struct keep_error err;
    size_t split = size ? data[0] % (size + 1) : 0;
    keep_cursor_init(&prog, data, split);
    keep_cursor_init(&in, data + split, size - split);
    uint8_t op;
    while (keep_cursor_u8(&prog, "op", &op, &err) == KEEP_OK) {
        size_t before = keep_cursor_offset(&in);
        uint8_t u8, buf[64];
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        const uint8_t *view;
        struct keep_cursor sub;
        int rc;
        switch (op % 9) {
        case 0:
            rc = keep_cursor_u8(&in, "u8", &u8, &err);
            break;
        case 1:
            rc = keep_cursor_u16(&in, "u16", &u16, &err);
            break;
        case 2:
            rc = keep_cursor_u32(&in, "u32", &u32, &err);
            break;
        case 3:
            rc = keep_cursor_u64(&in, "u64", &u64, &err);
            break;
        case 4:
            rc = keep_cursor_copy(&in, "copy", buf, op % sizeof(buf), &err);
            break;
        case 5:
            rc = keep_cursor_view(&in, "view", &view, (size_t)op * 7, &err);
            break;
        case 6:
            rc = keep_cursor_sub(&in, "sub", &sub, op / 3, &err);
            break;
        case 7:
            rc = keep_cursor_reserved_zero(&in, "rsv", op % 5, &err);
            break;
        default:
            rc = keep_cursor_skip(&in, "skip", op % 2 ? SIZE_MAX : op, &err);
            break;
        }
        if (rc != KEEP_OK && keep_cursor_offset(&in) != before)
            abort(); /* a failed read must not move the cursor */
        if (keep_cursor_offset(&in) > size - split)
            abort();
    }
    return 0;
}
