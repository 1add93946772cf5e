/* SPDX-License-Identifier: Apache-2.0 */
#include "common/cursor.h"

#include <string.h>

/* The single bounds check that every read goes through. */
static int need(const struct keep_cursor *c, const char *field, size_t size, struct keep_error *err)
{
    if (size > keep_cursor_remaining(c))
        return keep_fail(err, KEEP_E_TRUNCATED,
                         "truncated: field '%s' needs %zu bytes at offset %zu, %zu remain", field,
                         size, c->pos, keep_cursor_remaining(c));
    return KEEP_OK;
}

int keep_cursor_view(struct keep_cursor *c, const char *field, const uint8_t **out, size_t size,
                     struct keep_error *err)
{
    int rc = need(c, field, size, err);
    if (rc)
        return rc;
    *out = c->data + c->pos;
    c->pos += size;
    return KEEP_OK;
}

int keep_cursor_copy(struct keep_cursor *c, const char *field, void *out, size_t size,
                     struct keep_error *err)
{
    const uint8_t *p;
    int rc = keep_cursor_view(c, field, &p, size, err);
    if (rc)
        return rc;
    if (size)
        memcpy(out, p, size);
    return KEEP_OK;
}

int keep_cursor_skip(struct keep_cursor *c, const char *field, size_t size, struct keep_error *err)
{
    const uint8_t *p;
    return keep_cursor_view(c, field, &p, size, err);
}

int keep_cursor_sub(struct keep_cursor *c, const char *field, struct keep_cursor *sub, size_t size,
                    struct keep_error *err)
{
    const uint8_t *p;
    int rc = keep_cursor_view(c, field, &p, size, err);
    if (rc)
        return rc;
    keep_cursor_init(sub, p, size);
    return KEEP_OK;
}

static uint64_t load_le(const uint8_t *p, size_t size)
{
    uint64_t v = 0;
    for (size_t i = size; i > 0; i--)
        v = (v << 8) | p[i - 1];
    return v;
}

static uint64_t load_be(const uint8_t *p, size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v = (v << 8) | p[i];
    return v;
}

static int read_int(struct keep_cursor *c, const char *field, size_t size, bool big_endian,
                    uint64_t *out, struct keep_error *err)
{
    const uint8_t *p;
    int rc = keep_cursor_view(c, field, &p, size, err);
    if (rc)
        return rc;
    *out = big_endian ? load_be(p, size) : load_le(p, size);
    return KEEP_OK;
}

int keep_cursor_u8(struct keep_cursor *c, const char *field, uint8_t *out, struct keep_error *err)
{
    uint64_t v;
    int rc = read_int(c, field, 1, false, &v, err);
    if (!rc)
        *out = (uint8_t)v;
    return rc;
}

int keep_cursor_u16(struct keep_cursor *c, const char *field, uint16_t *out, struct keep_error *err)
{
    uint64_t v;
    int rc = read_int(c, field, 2, false, &v, err);
    if (!rc)
        *out = (uint16_t)v;
    return rc;
}

int keep_cursor_u32(struct keep_cursor *c, const char *field, uint32_t *out, struct keep_error *err)
{
    uint64_t v;
    int rc = read_int(c, field, 4, false, &v, err);
    if (!rc)
        *out = (uint32_t)v;
    return rc;
}

int keep_cursor_u64(struct keep_cursor *c, const char *field, uint64_t *out, struct keep_error *err)
{
    return read_int(c, field, 8, false, out, err);
}

int keep_cursor_u16_be(struct keep_cursor *c, const char *field, uint16_t *out,
                       struct keep_error *err)
{
    uint64_t v;
    int rc = read_int(c, field, 2, true, &v, err);
    if (!rc)
        *out = (uint16_t)v;
    return rc;
}

int keep_cursor_u32_be(struct keep_cursor *c, const char *field, uint32_t *out,
                       struct keep_error *err)
{
    uint64_t v;
    int rc = read_int(c, field, 4, true, &v, err);
    if (!rc)
        *out = (uint32_t)v;
    return rc;
}

int keep_cursor_reserved_zero(struct keep_cursor *c, const char *field, size_t size,
                              struct keep_error *err)
{
    size_t start = c->pos;
    const uint8_t *p;
    int rc = keep_cursor_view(c, field, &p, size, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < size; i++) {
        if (p[i] != 0) {
            c->pos = start;
            return keep_fail(err, KEEP_E_RESERVED_NONZERO,
                             "reserved field '%s' (%zu bytes at offset %zu) has 0x%02x at offset "
                             "%zu; the specification requires zero",
                             field, size, start, p[i], start + i);
        }
    }
    return KEEP_OK;
}

int keep_cursor_expect_end(const struct keep_cursor *c, const char *what, struct keep_error *err)
{
    if (!keep_cursor_at_end(c))
        return keep_fail(err, KEEP_E_TRAILING_BYTES,
                         "%s: %zu trailing bytes after offset %zu (expected exactly %zu bytes)",
                         what, keep_cursor_remaining(c), c->pos, c->pos);
    return KEEP_OK;
}
