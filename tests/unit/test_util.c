/* SPDX-License-Identifier: Apache-2.0 */
#include "common/util.h"
#include "tap.h"

static void test_hex(void)
{
    uint8_t out[3];
    char text[7];
    struct keep_error err;
    const uint8_t data[] = {0x00, 0xab, 0xff};
    keep_hex_encode(data, 3, text);
    is_str(text, "00abff", "hex encode");
    is_int(keep_hex_decode("00ABff", 6, out, 3, "x", &err), KEEP_OK, "hex decode mixed case");
    ok(memcmp(out, data, 3) == 0, "round trip");
    is_int(keep_hex_decode("00ab", 4, out, 3, "x", &err), KEEP_E_BAD_HEX, "short hex refused");
    is_int(keep_hex_decode("00zbff", 6, out, 3, "field", &err), KEEP_E_BAD_HEX, "bad digit");
    ok(strstr(err.message, "field") != NULL, "message names field: %s", err.message);
}

static void test_time(void)
{
    int64_t t;
    struct keep_error err;
    char buf[32];
    is_int(keep_parse_time("1970-01-01T00:00:00Z", &t, &err), KEEP_OK, "epoch parses");
    is_int(t, 0, "epoch is 0");
    is_int(keep_parse_time("2025-07-19T10:01:17Z", &t, &err), KEEP_OK, "2025 parses");
    is_int(t, 1752919277, "2025-07-19T10:01:17Z is 1752919277");
    is_int(keep_parse_time("2024-02-29T12:00:00.123Z", &t, &err), KEEP_OK, "fraction, leap day");
    is_int(keep_parse_time("2025-06-01", &t, &err), KEEP_OK, "date only");
    is_int(t, 1748736000, "2025-06-01 is 1748736000");
    is_int(keep_parse_time("2023-02-29T00:00:00Z", &t, &err), KEEP_E_BAD_TIME, "no Feb 29 2023");
    is_int(keep_parse_time("2025-06-01T00:00:00+02:00", &t, &err), KEEP_E_BAD_TIME,
           "non-UTC offset refused");
    is_int(keep_parse_time("junk", &t, &err), KEEP_E_BAD_TIME, "junk refused");
    keep_format_time(1752919277, buf, sizeof(buf));
    is_str(buf, "2025-07-19T10:01:17Z", "format round trip");
}

static void test_mem(void)
{
    ok(keep_mem_equal("abc", "abc", 3), "equal");
    ok(!keep_mem_equal("abc", "abd", 3), "not equal");
    ok(keep_mem_is_zero("\0\0\0", 3), "zero");
    ok(!keep_mem_is_zero("\0\1\0", 3), "not zero");
}

static void test_error_names(void)
{
    struct keep_error err;
    is_int(keep_fail(&err, KEEP_E_TRUNCATED, "x=%d", 5), KEEP_E_TRUNCATED, "fail returns code");
    is_str(err.message, "x=5", "message formatted");
    is_str(keep_err_name(KEEP_E_TRUNCATED), "common.truncated", "dotted name");
    is_str(keep_err_name(-12345), "unknown", "unknown code");
}

int main(void)
{
    test_hex();
    test_time();
    test_mem();
    test_error_names();
    return done_testing();
}
