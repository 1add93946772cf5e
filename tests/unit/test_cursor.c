/* SPDX-License-Identifier: Apache-2.0 */
#include "common/cursor.h"
#include "tap.h"

static void test_integers(void)
{
    const uint8_t buf[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                           0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
    struct keep_cursor c;
    struct keep_error err;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    keep_cursor_init(&c, buf, sizeof(buf));
    is_int(keep_cursor_u8(&c, "a", &u8, &err), KEEP_OK, "u8 reads");
    is_int(u8, 0x01, "u8 value");
    is_int(keep_cursor_u16(&c, "b", &u16, &err), KEEP_OK, "u16 reads");
    is_int(u16, 0x0302, "u16 is little-endian");
    is_int(keep_cursor_u32(&c, "c", &u32, &err), KEEP_OK, "u32 reads");
    is_int(u32, 0x07060504, "u32 is little-endian");
    is_int(keep_cursor_u64(&c, "d", &u64, &err), KEEP_OK, "u64 reads");
    ok(u64 == 0x0f0e0d0c0b0a0908ull, "u64 is little-endian");
    ok(keep_cursor_at_end(&c), "all 15 bytes consumed");
    is_int(keep_cursor_u8(&c, "e", &u8, &err), KEEP_E_TRUNCATED, "read past end fails");
    ok(strstr(err.message, "'e'") != NULL, "message names the field: %s", err.message);

    keep_cursor_init(&c, buf, sizeof(buf));
    is_int(keep_cursor_u32_be(&c, "be", &u32, &err), KEEP_OK, "u32_be reads");
    is_int(u32, 0x01020304, "u32_be is big-endian");
}

static void test_failed_read_keeps_position(void)
{
    const uint8_t buf[6] = {0};
    struct keep_cursor c;
    struct keep_error err;
    uint64_t u64;
    keep_cursor_init(&c, buf, sizeof(buf));
    is_int(keep_cursor_skip(&c, "pad", 2, &err), KEEP_OK, "skip 2");
    is_int(keep_cursor_u64(&c, "field", &u64, &err), KEEP_E_TRUNCATED, "u64 with 4 left fails");
    is_int(keep_cursor_offset(&c), 2, "position unchanged after a failed read");
    ok(strstr(err.message, "needs 8 bytes at offset 2, 4 remain") != NULL, "message: %s",
       err.message);
    is_int(keep_cursor_expect_end(&c, "thing", &err), KEEP_E_TRAILING_BYTES,
           "expect_end reports trailing bytes");
}

static void test_sub_and_view(void)
{
    const uint8_t buf[] = {1, 2, 3, 4, 5};
    struct keep_cursor c, sub;
    struct keep_error err;
    const uint8_t *p;
    keep_cursor_init(&c, buf, sizeof(buf));
    is_int(keep_cursor_sub(&c, "sub", &sub, 3, &err), KEEP_OK, "sub of 3");
    is_int(keep_cursor_remaining(&sub), 3, "sub has 3 bytes");
    is_int(keep_cursor_remaining(&c), 2, "parent advanced by 3");
    is_int(keep_cursor_view(&sub, "v", &p, 3, &err), KEEP_OK, "view all of sub");
    ok(p == buf, "view points into the buffer");
    is_int(keep_cursor_sub(&c, "big", &sub, 3, &err), KEEP_E_TRUNCATED, "sub too big fails");
    is_int(keep_cursor_skip(&c, "huge", SIZE_MAX, &err), KEEP_E_TRUNCATED,
           "SIZE_MAX skip fails without wrapping");
}

static void test_reserved(void)
{
    const uint8_t buf[] = {0, 0, 0, 7, 0};
    struct keep_cursor c;
    struct keep_error err;
    keep_cursor_init(&c, buf, sizeof(buf));
    is_int(keep_cursor_reserved_zero(&c, "r1", 3, &err), KEEP_OK, "zero reserved ok");
    is_int(keep_cursor_reserved_zero(&c, "r2", 2, &err), KEEP_E_RESERVED_NONZERO,
           "nonzero reserved fails");
    ok(strstr(err.message, "0x07 at offset 3") != NULL, "names value and offset: %s", err.message);
    is_int(keep_cursor_offset(&c), 3, "position unchanged");
}

static void test_range(void)
{
    ok(keep_range_ok(0, 10, 10), "[0,10) in 10");
    ok(!keep_range_ok(1, 10, 10), "[1,11) not in 10");
    ok(!keep_range_ok(UINT64_MAX, 2, UINT64_MAX), "wrapping range refused");
    ok(keep_range_ok(10, 0, 10), "empty range at end ok");
    ok(!keep_range_ok(11, 0, 10), "empty range past end refused");
    size_t s;
    ok(keep_add_overflows(SIZE_MAX, (size_t)1, &s), "add overflow detected");
    ok(keep_mul_overflows(SIZE_MAX / 2, (size_t)3, &s), "mul overflow detected");
}

int main(void)
{
    test_integers();
    test_failed_read_keeps_position();
    test_sub_and_view();
    test_reserved();
    test_range();
    return done_testing();
}
