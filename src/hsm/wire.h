/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The keep-hsm wire protocol (docs/HSM.md, "Wire protocol"), shared by the
 * PKCS#11 module (libkeep-pkcs11.so) and the key service (keep-hsm). It
 * runs inside TLS 1.3, so the host sees only record sizes.
 *
 * A frame is u32 LE length L of what follows (HSM_FRAME_MIN..HSM_FRAME_MAX),
 * then u8 version (HSM_WIRE_VERSION), u8 op, u16 reserved (0), u32 request
 * id, and the op's fields. A reply has the same header (the request's op
 * and id) and starts with u64 CK_RV. Fields are u32/u64 LE and byte
 * strings (u32 length + bytes). Both sides read frames only through the
 * cursor: the module does not trust the Keep's replies more than the Keep
 * trusts the module's requests.
 */
#ifndef KEEP_HSM_WIRE_H
#define KEEP_HSM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cursor.h"
#include "keep/error.h"

#define HSM_WIRE_VERSION 1
#define HSM_HEADER_SIZE  8 /* version, op, reserved, id */
#define HSM_FRAME_MIN    HSM_HEADER_SIZE
#define HSM_FRAME_MAX    (1u << 20) /* 1 MiB: a request, a reply or a token object */
#define HSM_ATTRS_MAX    64         /* attributes in one template */
#define HSM_ATTR_MAX     (64u << 10)
#define HSM_HANDLES_MAX  4096 /* handles one find reply carries */

enum hsm_op {
    HSM_OP_HELLO = 1,    /* -> u32 version, bytes evidence, bytes measurement hint */
    HSM_OP_TOKEN_INFO,   /* -> bytes label, u64 flags, u32 user fails, u32 so fails, u64 sessions */
    HSM_OP_INIT_TOKEN,   /* bytes so_pin, bytes label */
    HSM_OP_OPEN_SESSION, /* u64 flags -> u64 session */
    HSM_OP_CLOSE_SESSION,  /* u64 session */
    HSM_OP_LOGIN,          /* u64 session, u64 user_type, bytes pin */
    HSM_OP_LOGOUT,         /* u64 session */
    HSM_OP_INIT_PIN,       /* u64 session, bytes pin */
    HSM_OP_SET_PIN,        /* u64 session, bytes old, bytes new */
    HSM_OP_CREATE_OBJECT,  /* u64 session, attrs -> u64 handle */
    HSM_OP_DESTROY_OBJECT, /* u64 session, u64 handle */
    HSM_OP_GET_ATTRS,    /* u64 session, u64 handle, u32 n, n x (u64 type, u64 cap) -> n x (u64 len,
                            bytes) */
    HSM_OP_SET_ATTRS,    /* u64 session, u64 handle, attrs */
    HSM_OP_FIND,         /* u64 session, attrs -> u32 n, n x u64 handle */
    HSM_OP_GENERATE_KEY, /* u64 session, mech, attrs -> u64 handle */
    HSM_OP_GENERATE_KEY_PAIR, /* u64 session, mech, attrs pub, attrs priv -> u64 pub, u64 priv */
    HSM_OP_SIGN,              /* u64 session, mech, u64 key, bytes data -> bytes signature */
    HSM_OP_VERIFY,            /* u64 session, mech, u64 key, bytes data, bytes signature */
    HSM_OP_ENCRYPT,           /* u64 session, mech, u64 key, bytes data -> bytes out */
    HSM_OP_DECRYPT,           /* u64 session, mech, u64 key, bytes data -> bytes out */
    HSM_OP_DIGEST,            /* u64 session, mech, bytes data -> bytes digest */
    HSM_OP_RANDOM,            /* u64 session, u32 size -> bytes */
    HSM_OP_CERTIFY_KEY, /* u64 session, u64 key, bytes nonce -> bytes statement, bytes sig, bytes
                           evidence */
    /* Key management (docs/HSM.md "PKCS#11 coverage"): */
    HSM_OP_DERIVE_KEY, /* u64 session, mech, u64 base key, attrs -> u64 handle */
    HSM_OP_WRAP_KEY,   /* u64 session, mech, u64 wrapping key, u64 key -> bytes wrapped */
    HSM_OP_UNWRAP_KEY, /* u64 session, mech, u64 unwrapping key, bytes wrapped, attrs -> u64 handle
                        */
    HSM_OP_COUNT_
};

/* A growing output buffer; a failed allocation is remembered, not fatal. */
struct hsm_buf {
    uint8_t *data;
    size_t size, cap;
    bool failed;
};

void hsm_buf_free(struct hsm_buf *b);
void hsm_put(struct hsm_buf *b, const void *p, size_t n);
void hsm_put_u8(struct hsm_buf *b, uint8_t v);
void hsm_put_u32(struct hsm_buf *b, uint32_t v);
void hsm_put_u64(struct hsm_buf *b, uint64_t v);
void hsm_put_bytes(struct hsm_buf *b, const void *p, size_t n);
/* Start a frame: length placeholder and header; hsm_frame_end fills the length. */
size_t hsm_frame_begin(struct hsm_buf *b, uint8_t op, uint32_t id);
void hsm_frame_end(struct hsm_buf *b, size_t start);

/* A frame header as read from the wire. */
struct hsm_header {
    uint8_t version, op;
    uint32_t id;
};

/*
 * From data[0..size): the length of the first whole frame (4 + L) in
 * *frame_size, 0 when more bytes are needed. Fails when L is out of bounds.
 */
int hsm_frame_split(const uint8_t *data, size_t size, size_t *frame_size, struct keep_error *err);
/* Parse a whole frame's header; cur is left at the op's fields. */
int hsm_frame_open(const uint8_t *frame, size_t size, struct hsm_header *h, struct keep_cursor *cur,
                   struct keep_error *err);

/* One attribute of a template: a view into the frame. */
struct hsm_attr {
    uint64_t type;
    const uint8_t *value;
    uint32_t size;
};

struct hsm_template {
    struct hsm_attr a[HSM_ATTRS_MAX];
    uint32_t count;
};

/* A mechanism: type and its parameter bytes (the op defines their layout). */
struct hsm_mech {
    uint64_t type;
    const uint8_t *param;
    uint32_t param_size;
};

int hsm_get_bytes(struct keep_cursor *c, const char *field, uint32_t max, const uint8_t **p,
                  uint32_t *n, struct keep_error *err);
int hsm_get_template(struct keep_cursor *c, const char *field, struct hsm_template *t,
                     struct keep_error *err);
int hsm_get_mech(struct keep_cursor *c, struct hsm_mech *m, struct keep_error *err);
void hsm_put_template(struct hsm_buf *b, const struct hsm_attr *a, uint32_t count);
void hsm_put_mech(struct hsm_buf *b, const struct hsm_mech *m);

/* The value of attribute type in t, or NULL. */
const struct hsm_attr *hsm_template_find(const struct hsm_template *t, uint64_t type);

#endif /* KEEP_HSM_WIRE_H */
