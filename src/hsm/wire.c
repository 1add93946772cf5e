/* SPDX-License-Identifier: Apache-2.0 */
#include "hsm/wire.h"

#include <stdlib.h>
#include <string.h>

void hsm_buf_free(struct hsm_buf *b)
{
    free(b->data);
    *b = (struct hsm_buf){0};
}

void hsm_put(struct hsm_buf *b, const void *p, size_t n)
{
    if (b->failed)
        return;
    if (n > SIZE_MAX - b->size) {
        b->failed = true;
        return;
    }
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->size + n)
            cap *= 2;
        uint8_t *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->size, p, n);
    b->size += n;
}

void hsm_put_u8(struct hsm_buf *b, uint8_t v)
{
    hsm_put(b, &v, 1);
}

void hsm_put_u32(struct hsm_buf *b, uint32_t v)
{
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    hsm_put(b, le, 4);
}

void hsm_put_u64(struct hsm_buf *b, uint64_t v)
{
    hsm_put_u32(b, (uint32_t)v);
    hsm_put_u32(b, (uint32_t)(v >> 32));
}

void hsm_put_bytes(struct hsm_buf *b, const void *p, size_t n)
{
    if (n > UINT32_MAX) {
        b->failed = true;
        return;
    }
    hsm_put_u32(b, (uint32_t)n);
    hsm_put(b, p, n);
}

size_t hsm_frame_begin(struct hsm_buf *b, uint8_t op, uint32_t id)
{
    size_t start = b->size;
    hsm_put_u32(b, 0);
    hsm_put_u8(b, HSM_WIRE_VERSION);
    hsm_put_u8(b, op);
    hsm_put_u8(b, 0);
    hsm_put_u8(b, 0);
    hsm_put_u32(b, id);
    return start;
}

void hsm_frame_end(struct hsm_buf *b, size_t start)
{
    if (b->failed)
        return;
    size_t len = b->size - start - 4;
    if (len > HSM_FRAME_MAX) {
        b->failed = true;
        return;
    }
    uint8_t *p = b->data + start;
    p[0] = (uint8_t)len;
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 24);
}

int hsm_frame_split(const uint8_t *data, size_t size, size_t *frame_size, struct keep_error *err)
{
    struct keep_cursor c;
    uint32_t len;
    *frame_size = 0;
    if (size < 4)
        return KEEP_OK;
    keep_cursor_init(&c, data, size);
    if (keep_cursor_u32(&c, "frame.length", &len, err))
        return err ? err->code : KEEP_E_HSM_FRAME_LENGTH;
    if (len < HSM_FRAME_MIN || len > HSM_FRAME_MAX)
        return keep_fail(err, KEEP_E_HSM_FRAME_LENGTH,
                         "frame.length is %u; a frame holds %u to %u bytes", len, HSM_FRAME_MIN,
                         HSM_FRAME_MAX);
    if (size - 4 >= len)
        *frame_size = (size_t)len + 4;
    return KEEP_OK;
}

int hsm_frame_open(const uint8_t *frame, size_t size, struct hsm_header *h, struct keep_cursor *cur,
                   struct keep_error *err)
{
    uint32_t len;
    uint16_t reserved;
    keep_cursor_init(cur, frame, size);
    if (keep_cursor_u32(cur, "frame.length", &len, err) ||
        keep_cursor_u8(cur, "frame.version", &h->version, err) ||
        keep_cursor_u8(cur, "frame.op", &h->op, err) ||
        keep_cursor_u16(cur, "frame.reserved", &reserved, err) ||
        keep_cursor_u32(cur, "frame.id", &h->id, err))
        return err ? err->code : KEEP_E_HSM_FRAME_LENGTH;
    if ((uint64_t)len + 4 != size)
        return keep_fail(err, KEEP_E_HSM_FRAME_LENGTH, "frame.length is %u but the frame has %zu",
                         len, size - 4);
    if (h->version != HSM_WIRE_VERSION)
        return keep_fail(err, KEEP_E_HSM_VERSION, "frame.version is %u; this side speaks %u",
                         h->version, HSM_WIRE_VERSION);
    if (reserved != 0)
        return keep_fail(err, KEEP_E_HSM_RESERVED, "frame.reserved is %u, not 0", reserved);
    if (h->op == 0 || h->op >= HSM_OP_COUNT_)
        return keep_fail(err, KEEP_E_HSM_OP, "frame.op %u is unknown", h->op);
    return KEEP_OK;
}

int hsm_get_bytes(struct keep_cursor *c, const char *field, uint32_t max, const uint8_t **p,
                  uint32_t *n, struct keep_error *err)
{
    if (keep_cursor_u32(c, field, n, err))
        return err ? err->code : KEEP_E_HSM_FIELD;
    if (*n > max)
        return keep_fail(err, KEEP_E_HSM_FIELD, "%s is %u bytes; at most %u", field, *n, max);
    if (keep_cursor_view(c, field, p, *n, err))
        return err ? err->code : KEEP_E_HSM_FIELD;
    return KEEP_OK;
}

int hsm_get_template(struct keep_cursor *c, const char *field, struct hsm_template *t,
                     struct keep_error *err)
{
    if (keep_cursor_u32(c, field, &t->count, err))
        return err ? err->code : KEEP_E_HSM_FIELD;
    if (t->count > HSM_ATTRS_MAX)
        return keep_fail(err, KEEP_E_HSM_TEMPLATE, "%s has %u attributes; at most %u", field,
                         t->count, HSM_ATTRS_MAX);
    for (uint32_t i = 0; i < t->count; i++) {
        struct hsm_attr *a = &t->a[i];
        if (keep_cursor_u64(c, "attribute.type", &a->type, err))
            return err ? err->code : KEEP_E_HSM_FIELD;
        int rc = hsm_get_bytes(c, "attribute.value", HSM_ATTR_MAX, &a->value, &a->size, err);
        if (rc)
            return rc;
        for (uint32_t j = 0; j < i; j++)
            if (t->a[j].type == a->type)
                return keep_fail(err, KEEP_E_HSM_TEMPLATE,
                                 "%s names attribute 0x%llx twice (PKCS#11 3.0, 4.1.2)", field,
                                 (unsigned long long)a->type);
    }
    return KEEP_OK;
}

int hsm_get_mech(struct keep_cursor *c, struct hsm_mech *m, struct keep_error *err)
{
    if (keep_cursor_u64(c, "mechanism.type", &m->type, err))
        return err ? err->code : KEEP_E_HSM_FIELD;
    return hsm_get_bytes(c, "mechanism.parameter", 4096, &m->param, &m->param_size, err);
}

void hsm_put_template(struct hsm_buf *b, const struct hsm_attr *a, uint32_t count)
{
    hsm_put_u32(b, count);
    for (uint32_t i = 0; i < count; i++) {
        hsm_put_u64(b, a[i].type);
        hsm_put_bytes(b, a[i].value, a[i].size);
    }
}

void hsm_put_mech(struct hsm_buf *b, const struct hsm_mech *m)
{
    hsm_put_u64(b, m->type);
    hsm_put_bytes(b, m->param, m->param_size);
}

const struct hsm_attr *hsm_template_find(const struct hsm_template *t, uint64_t type)
{
    for (uint32_t i = 0; i < t->count; i++)
        if (t->a[i].type == type)
            return &t->a[i];
    return NULL;
}
