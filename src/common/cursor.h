/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounds-checked reader over untrusted bytes (evidence, collateral, guest
 * requests, host replies, network input). This is the only way keep reads
 * such bytes: every read checks the remaining size first, and a failed read
 * leaves the cursor where it was and reports which field did not fit.
 *
 * Multi-byte integers are little-endian unless the name says _be.
 * Each reader takes the field's name for the error message:
 *   "truncated: field 'report.measurement' needs 48 bytes at offset 144, 16 remain"
 */
#ifndef KEEP_COMMON_CURSOR_H
#define KEEP_COMMON_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keep/error.h"

struct keep_cursor {
    const uint8_t *data;
    size_t size; /* bytes in data */
    size_t pos;  /* next byte to read, always <= size */
};

static inline void keep_cursor_init(struct keep_cursor *c, const void *data, size_t size)
{
    c->data = (const uint8_t *)data;
    c->size = data ? size : 0;
    c->pos = 0;
}

static inline size_t keep_cursor_remaining(const struct keep_cursor *c)
{
    return c->size - c->pos;
}

static inline bool keep_cursor_at_end(const struct keep_cursor *c)
{
    return c->pos == c->size;
}

/* Offset of the next read from the start of the buffer. */
static inline size_t keep_cursor_offset(const struct keep_cursor *c)
{
    return c->pos;
}

KEEP_WARN_UNUSED int keep_cursor_u8(struct keep_cursor *c, const char *field, uint8_t *out,
                                    struct keep_error *err);
KEEP_WARN_UNUSED int keep_cursor_u16(struct keep_cursor *c, const char *field, uint16_t *out,
                                     struct keep_error *err);
KEEP_WARN_UNUSED int keep_cursor_u32(struct keep_cursor *c, const char *field, uint32_t *out,
                                     struct keep_error *err);
KEEP_WARN_UNUSED int keep_cursor_u64(struct keep_cursor *c, const char *field, uint64_t *out,
                                     struct keep_error *err);
KEEP_WARN_UNUSED int keep_cursor_u16_be(struct keep_cursor *c, const char *field, uint16_t *out,
                                        struct keep_error *err);
KEEP_WARN_UNUSED int keep_cursor_u32_be(struct keep_cursor *c, const char *field, uint32_t *out,
                                        struct keep_error *err);

/* Copy size bytes into out. */
KEEP_WARN_UNUSED int keep_cursor_copy(struct keep_cursor *c, const char *field, void *out,
                                      size_t size, struct keep_error *err);
/* Point *out at the next size bytes inside the buffer (no copy) and advance. */
KEEP_WARN_UNUSED int keep_cursor_view(struct keep_cursor *c, const char *field, const uint8_t **out,
                                      size_t size, struct keep_error *err);
/* Split off the next size bytes as a cursor of their own and advance past them. */
KEEP_WARN_UNUSED int keep_cursor_sub(struct keep_cursor *c, const char *field,
                                     struct keep_cursor *sub, size_t size, struct keep_error *err);
KEEP_WARN_UNUSED int keep_cursor_skip(struct keep_cursor *c, const char *field, size_t size,
                                      struct keep_error *err);
/*
 * Skip size bytes that the specification reserves and requires to be zero;
 * fails with KEEP_E_RESERVED_NONZERO naming the first nonzero offset.
 */
KEEP_WARN_UNUSED int keep_cursor_reserved_zero(struct keep_cursor *c, const char *field,
                                               size_t size, struct keep_error *err);
/* Fail with KEEP_E_TRAILING_BYTES unless every byte was read. */
KEEP_WARN_UNUSED int keep_cursor_expect_end(const struct keep_cursor *c, const char *what,
                                            struct keep_error *err);

/*
 * Checked arithmetic for lengths and offsets taken from untrusted input.
 * Return true when the result does not fit (and then *out is unspecified).
 */
#define keep_add_overflows(a, b, out) __builtin_add_overflow((a), (b), (out))
#define keep_mul_overflows(a, b, out) __builtin_mul_overflow((a), (b), (out))

/*
 * True when [off, off + len) lies inside [0, size) without wrapping.
 * The one range check every channel and buffer test uses.
 */
static inline bool keep_range_ok(uint64_t off, uint64_t len, uint64_t size)
{
    uint64_t end;
    if (__builtin_add_overflow(off, len, &end))
        return false;
    return end <= size;
}

#endif /* KEEP_COMMON_CURSOR_H */
