/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libkeep-pkcs11.so: a PKCS#11 2.40 module whose one slot is keep-hsm's
 * token. Keys, PINs and every cryptographic operation live in the Keep;
 * this module marshals calls (src/hsm/wire.h) over the attested TLS
 * connection (src/hsm/client.c) and keeps only per-session operation state:
 * the mechanism and key of an active operation, data buffered by the
 * *Update calls, the result of a call that asked only for its size, and
 * the handles a search found.
 *
 * The header is p11-kit's pkcs11.h (Debian's libp11-kit-dev), which is
 * PKCS#11 2.40: it has no 3.0 C_GetInterface to implement (docs/HSM.md).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/cryptoki.h"
#include "hsm/client.h"
#include "hsm/mechs.h"
#include "hsm/wire.h"

#define SLOT_ID 1
#define API     __attribute__((visibility("default")))

enum op_kind { OP_NONE, OP_SIGN, OP_VERIFY, OP_ENCRYPT, OP_DECRYPT, OP_DIGEST, OP_FIND };

struct op_state {
    enum op_kind kind;
    struct hsm_mech mech;
    uint8_t param[256];
    uint8_t *big_param; /* GCM AAD beyond param[] */
    CK_OBJECT_HANDLE key;
    struct hsm_buf data;   /* what *Update calls gave */
    struct hsm_buf result; /* a result already computed for a size query */
    bool have_result;
    CK_RV result_rv;
};

struct session {
    CK_SESSION_HANDLE handle;
    CK_FLAGS flags;
    struct op_state ops[OP_FIND]; /* indexed by kind - 1: sign and digest may both be active */
    CK_OBJECT_HANDLE *found;
    size_t found_count, found_pos;
    bool finding;
    struct session *next;
};

static pthread_mutex_t module_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hsm_client *client;
static struct session *sessions;
static CK_USER_TYPE logged_in = (CK_USER_TYPE)~0ul;

static CK_FUNCTION_LIST function_list;
static CK_FUNCTION_LIST_3_0 function_list_3_0;

/* ---- helpers ------------------------------------------------------------ */

static void pad_copy(CK_UTF8CHAR *dst, size_t n, const char *src)
{
    memset(dst, ' ', n);
    memcpy(dst, src, strlen(src) < n ? strlen(src) : n);
}

static struct session *find_session(CK_SESSION_HANDLE h)
{
    for (struct session *s = sessions; s; s = s->next)
        if (s->handle == h)
            return s;
    return NULL;
}

/* The session, under the module lock; CKR_* when the module or the handle is not usable. */
static CK_RV session_of(CK_SESSION_HANDLE h, struct session **out)
{
    pthread_mutex_lock(&module_lock);
    CK_RV rv = !client                    ? CKR_CRYPTOKI_NOT_INITIALIZED
               : (*out = find_session(h)) ? CKR_OK
                                          : CKR_SESSION_HANDLE_INVALID;
    pthread_mutex_unlock(&module_lock);
    return rv;
}

static void op_reset(struct op_state *op)
{
    free(op->big_param);
    hsm_buf_free(&op->data);
    hsm_buf_free(&op->result);
    memset(op, 0, sizeof(*op));
}

static void free_session(struct session *s)
{
    for (int i = 0; i < OP_FIND; i++)
        op_reset(&s->ops[i]);
    free(s->found);
    free(s);
}

static CK_RV call(uint8_t op, const struct hsm_buf *req, struct hsm_buf *reply)
{
    if (req && req->failed)
        return CKR_HOST_MEMORY;
    return hsm_client_call(client, op, req, reply);
}

static void put_template(struct hsm_buf *b, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    hsm_put_u32(b, (uint32_t)n);
    for (CK_ULONG i = 0; i < n; i++) {
        hsm_put_u64(b, t[i].type);
        hsm_put_bytes(b, t[i].pValue, t[i].pValue ? t[i].ulValueLen : 0);
    }
}

/* Copy out a byte-string result with the PKCS#11 size-query convention (2.40 5.2). */
static CK_RV give_bytes(const uint8_t *p, size_t n, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    if (!out_len)
        return CKR_ARGUMENTS_BAD;
    if (!out) {
        *out_len = n;
        return CKR_OK;
    }
    if (*out_len < n) {
        *out_len = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(out, p, n);
    *out_len = n;
    return CKR_OK;
}

/* Read the u32-length bytes field a reply starts with. */
static CK_RV reply_bytes(const struct hsm_buf *reply, const uint8_t **p, uint32_t *n)
{
    struct keep_cursor c;
    keep_cursor_init(&c, reply->data, reply->size);
    if (hsm_get_bytes(&c, "reply.bytes", HSM_FRAME_MAX, p, n, NULL) || !keep_cursor_at_end(&c))
        return CKR_DEVICE_ERROR;
    return CKR_OK;
}

/* ---- general ------------------------------------------------------------ */

API CK_RV C_Initialize(CK_VOID_PTR init_args)
{
    /*
     * PKCS#11 3.0 CK_C_INITIALIZE_ARGS ends with pReserved, which must be
     * NULL. NSS's header names that same slot LibraryParameters and appends
     * a pReserved of its own that a caller built on the OASIS header does
     * not have: reading it reads past the caller's struct (p11-kit's
     * arguments failed so). So the spec's pReserved is read here.
     */
    CK_C_INITIALIZE_ARGS *a = init_args;
    if (a && a->LibraryParameters)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&module_lock);
    CK_RV rv = CKR_OK;
    struct keep_error err;
    if (client)
        rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
    else if (hsm_client_open(&client, &err) != KEEP_OK) {
        fprintf(stderr, "libkeep-pkcs11: %s\n", err.message);
        client = NULL;
        rv = CKR_DEVICE_ERROR;
    }
    pthread_mutex_unlock(&module_lock);
    return rv;
}

API CK_RV C_Finalize(CK_VOID_PTR reserved)
{
    if (reserved)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&module_lock);
    if (!client) {
        pthread_mutex_unlock(&module_lock);
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    while (sessions) {
        struct session *s = sessions;
        sessions = s->next;
        free_session(s);
    }
    hsm_client_close(client);
    client = NULL;
    logged_in = (CK_USER_TYPE)~0ul;
    pthread_mutex_unlock(&module_lock);
    return CKR_OK;
}

API CK_RV C_GetInfo(CK_INFO_PTR info)
{
    if (!client)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    memset(info, 0, sizeof(*info));
    info->cryptokiVersion = (CK_VERSION){2, 40};
    pad_copy(info->manufacturerID, sizeof(info->manufacturerID), "keep");
    pad_copy(info->libraryDescription, sizeof(info->libraryDescription), "keep-hsm PKCS#11 module");
    info->libraryVersion = (CK_VERSION){0, 1};
    return CKR_OK;
}

API CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    if (!list)
        return CKR_ARGUMENTS_BAD;
    *list = &function_list;
    return CKR_OK;
}

/* ---- slot and token ----------------------------------------------------- */

API CK_RV C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    (void)token_present;
    if (!client)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (!count)
        return CKR_ARGUMENTS_BAD;
    if (list && *count < 1) {
        *count = 1;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (list)
        list[0] = SLOT_ID;
    *count = 1;
    return CKR_OK;
}

API CK_RV C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    if (!client)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot != SLOT_ID)
        return CKR_SLOT_ID_INVALID;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    memset(info, 0, sizeof(*info));
    pad_copy(info->slotDescription, sizeof(info->slotDescription), "keep-hsm in a Keep");
    pad_copy(info->manufacturerID, sizeof(info->manufacturerID), "keep");
    info->flags = CKF_TOKEN_PRESENT | CKF_REMOVABLE_DEVICE;
    info->hardwareVersion = (CK_VERSION){0, 1};
    info->firmwareVersion = (CK_VERSION){0, 1};
    return CKR_OK;
}

API CK_RV C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    if (!client)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot != SLOT_ID)
        return CKR_SLOT_ID_INVALID;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    struct hsm_buf reply = {0};
    CK_RV rv = call(HSM_OP_TOKEN_INFO, NULL, &reply);
    struct keep_cursor c;
    const uint8_t *label;
    uint32_t label_size;
    uint64_t flags, sessions_n, rw_n;
    keep_cursor_init(&c, reply.data, reply.size);
    if (rv == CKR_OK && (hsm_get_bytes(&c, "label", 32, &label, &label_size, NULL) ||
                         keep_cursor_u64(&c, "flags", &flags, NULL) ||
                         keep_cursor_u64(&c, "sessions", &sessions_n, NULL) ||
                         keep_cursor_u64(&c, "rw_sessions", &rw_n, NULL) || label_size != 32))
        rv = CKR_DEVICE_ERROR;
    if (rv == CKR_OK) {
        memset(info, 0, sizeof(*info));
        memcpy(info->label, label, 32);
        pad_copy(info->manufacturerID, sizeof(info->manufacturerID), "keep");
        pad_copy(info->model, sizeof(info->model), "keep-hsm");
        pad_copy(info->serialNumber, sizeof(info->serialNumber), "1");
        info->flags = (CK_FLAGS)flags;
        info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
        info->ulSessionCount = (CK_ULONG)sessions_n;
        info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
        info->ulRwSessionCount = (CK_ULONG)rw_n;
        info->ulMaxPinLen = HSM_MAX_PIN;
        info->ulMinPinLen = HSM_MIN_PIN;
        info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
        info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
        info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
        info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
        info->hardwareVersion = (CK_VERSION){0, 1};
        info->firmwareVersion = (CK_VERSION){0, 1};
        memcpy(info->utcTime, "0000000000000000", 16);
    }
    hsm_buf_free(&reply);
    return rv;
}

API CK_RV C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
    if (!client)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot != SLOT_ID)
        return CKR_SLOT_ID_INVALID;
    if (!count)
        return CKR_ARGUMENTS_BAD;
    if (list && *count < HSM_MECH_COUNT) {
        *count = HSM_MECH_COUNT;
        return CKR_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; list && i < HSM_MECH_COUNT; i++)
        list[i] = hsm_mechs[i].type;
    *count = HSM_MECH_COUNT;
    return CKR_OK;
}

API CK_RV C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
    if (!client)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot != SLOT_ID)
        return CKR_SLOT_ID_INVALID;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    for (size_t i = 0; i < HSM_MECH_COUNT; i++) {
        if (hsm_mechs[i].type == type) {
            info->ulMinKeySize = hsm_mechs[i].min_bits;
            info->ulMaxKeySize = hsm_mechs[i].max_bits;
            info->flags = hsm_mechs[i].flags;
            return CKR_OK;
        }
    }
    return CKR_MECHANISM_INVALID;
}

API CK_RV C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label)
{
    if (!client)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot != SLOT_ID)
        return CKR_SLOT_ID_INVALID;
    if (!pin || !label)
        return CKR_ARGUMENTS_BAD;
    struct hsm_buf req = {0};
    hsm_put_bytes(&req, pin, pin_len);
    hsm_put_bytes(&req, label, 32);
    CK_RV rv = call(HSM_OP_INIT_TOKEN, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

static CK_RV session_call(CK_SESSION_HANDLE h, uint8_t op, struct hsm_buf *req,
                          struct hsm_buf *reply)
{
    struct session *s;
    CK_RV rv = session_of(h, &s);
    if (rv == CKR_OK)
        rv = call(op, req, reply);
    return rv;
}

static CK_RV pin_call(CK_SESSION_HANDLE h, uint8_t op, const CK_UTF8CHAR *a, CK_ULONG an,
                      const CK_UTF8CHAR *b, CK_ULONG bn, bool two)
{
    if (!a || (two && !b))
        return CKR_ARGUMENTS_BAD;
    struct hsm_buf req = {0};
    hsm_put_u64(&req, h);
    hsm_put_bytes(&req, a, an);
    if (two)
        hsm_put_bytes(&req, b, bn);
    CK_RV rv = session_call(h, op, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

API CK_RV C_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG n)
{
    return pin_call(h, HSM_OP_INIT_PIN, pin, n, NULL, 0, false);
}

API CK_RV C_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old, CK_ULONG on, CK_UTF8CHAR_PTR pin,
                   CK_ULONG n)
{
    return pin_call(h, HSM_OP_SET_PIN, old, on, pin, n, true);
}

/* ---- sessions ----------------------------------------------------------- */

API CK_RV C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                        CK_SESSION_HANDLE_PTR out)
{
    (void)app;
    (void)notify;
    if (!client)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot != SLOT_ID)
        return CKR_SLOT_ID_INVALID;
    if (!out)
        return CKR_ARGUMENTS_BAD;
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, flags);
    CK_RV rv = call(HSM_OP_OPEN_SESSION, &req, &reply);
    struct keep_cursor c;
    uint64_t handle;
    keep_cursor_init(&c, reply.data, reply.size);
    if (rv == CKR_OK && (keep_cursor_u64(&c, "session", &handle, NULL) || !keep_cursor_at_end(&c)))
        rv = CKR_DEVICE_ERROR;
    struct session *s = rv == CKR_OK ? calloc(1, sizeof(*s)) : NULL;
    if (rv == CKR_OK && !s)
        rv = CKR_HOST_MEMORY;
    if (s) {
        s->handle = (CK_SESSION_HANDLE)handle;
        s->flags = flags;
        pthread_mutex_lock(&module_lock);
        s->next = sessions;
        sessions = s;
        pthread_mutex_unlock(&module_lock);
        *out = s->handle;
    }
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

static void unlink_session(struct session *s)
{
    for (struct session **pp = &sessions; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
}

API CK_RV C_CloseSession(CK_SESSION_HANDLE h)
{
    struct hsm_buf req = {0};
    hsm_put_u64(&req, h);
    CK_RV rv = session_call(h, HSM_OP_CLOSE_SESSION, &req, NULL);
    hsm_buf_free(&req);
    if (rv == CKR_OK) {
        pthread_mutex_lock(&module_lock);
        struct session *s = find_session(h);
        if (s) {
            unlink_session(s);
            free_session(s);
        }
        if (!sessions)
            logged_in = (CK_USER_TYPE)~0ul;
        pthread_mutex_unlock(&module_lock);
    }
    return rv;
}

API CK_RV C_CloseAllSessions(CK_SLOT_ID slot)
{
    if (!client)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (slot != SLOT_ID)
        return CKR_SLOT_ID_INVALID;
    for (;;) {
        pthread_mutex_lock(&module_lock);
        CK_SESSION_HANDLE h = sessions ? sessions->handle : 0;
        pthread_mutex_unlock(&module_lock);
        if (!h)
            return CKR_OK;
        CK_RV rv = C_CloseSession(h);
        if (rv != CKR_OK && rv != CKR_SESSION_HANDLE_INVALID)
            return rv;
    }
}

API CK_RV C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
    struct session *s;
    CK_RV rv = session_of(h, &s);
    if (rv)
        return rv;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    bool rw = s->flags & CKF_RW_SESSION;
    info->slotID = SLOT_ID;
    info->flags = s->flags;
    info->ulDeviceError = 0;
    if (logged_in == CKU_SO)
        info->state = CKS_RW_SO_FUNCTIONS;
    else if (logged_in == CKU_USER)
        info->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    else
        info->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    return CKR_OK;
}

API CK_RV C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG n)
{
    if (!pin)
        return CKR_ARGUMENTS_BAD;
    struct hsm_buf req = {0};
    hsm_put_u64(&req, h);
    hsm_put_u64(&req, user);
    hsm_put_bytes(&req, pin, n);
    CK_RV rv = session_call(h, HSM_OP_LOGIN, &req, NULL);
    hsm_buf_free(&req);
    if (rv == CKR_OK)
        logged_in = user;
    return rv;
}

API CK_RV C_Logout(CK_SESSION_HANDLE h)
{
    struct hsm_buf req = {0};
    hsm_put_u64(&req, h);
    CK_RV rv = session_call(h, HSM_OP_LOGOUT, &req, NULL);
    hsm_buf_free(&req);
    if (rv == CKR_OK)
        logged_in = (CK_USER_TYPE)~0ul;
    return rv;
}

/* ---- objects ------------------------------------------------------------ */

static CK_RV reply_handle(const struct hsm_buf *reply, CK_OBJECT_HANDLE_PTR out, size_t n)
{
    struct keep_cursor c;
    keep_cursor_init(&c, reply->data, reply->size);
    for (size_t i = 0; i < n; i++) {
        uint64_t h;
        if (keep_cursor_u64(&c, "handle", &h, NULL))
            return CKR_DEVICE_ERROR;
        out[i] = (CK_OBJECT_HANDLE)h;
    }
    return keep_cursor_at_end(&c) ? CKR_OK : CKR_DEVICE_ERROR;
}

API CK_RV C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                         CK_OBJECT_HANDLE_PTR out)
{
    if ((!t && n) || !out)
        return CKR_ARGUMENTS_BAD;
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, h);
    put_template(&req, t, n);
    CK_RV rv = session_call(h, HSM_OP_CREATE_OBJECT, &req, &reply);
    if (rv == CKR_OK)
        rv = reply_handle(&reply, out, 1);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

API CK_RV C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
    struct hsm_buf req = {0};
    hsm_put_u64(&req, h);
    hsm_put_u64(&req, o);
    CK_RV rv = session_call(h, HSM_OP_DESTROY_OBJECT, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

/* Fill the caller's template from the GET_ATTRS reply (2.40 5.7 C_GetAttributeValue). */
static CK_RV fill_attrs(const struct hsm_buf *reply, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    struct keep_cursor c;
    keep_cursor_init(&c, reply->data, reply->size);
    for (CK_ULONG i = 0; i < n; i++) {
        uint64_t len;
        const uint8_t *v;
        uint32_t vn;
        if (keep_cursor_u64(&c, "attribute.length", &len, NULL) ||
            hsm_get_bytes(&c, "attribute.value", HSM_ATTR_MAX, &v, &vn, NULL))
            return CKR_DEVICE_ERROR;
        if (vn && (!t[i].pValue || vn != len || vn > t[i].ulValueLen)) {
            /* the Keep may not write past what was asked */
            fprintf(stderr,
                    "libkeep-pkcs11: keep-hsm returned %u bytes for attribute 0x%lx, "
                    "asked for %lu\n",
                    vn, t[i].type, t[i].pValue ? t[i].ulValueLen : 0);
            return CKR_DEVICE_ERROR;
        }
        if (vn)
            memcpy(t[i].pValue, v, vn);
        t[i].ulValueLen = (CK_ULONG)len;
    }
    return keep_cursor_at_end(&c) ? CKR_OK : CKR_DEVICE_ERROR;
}

API CK_RV C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t,
                              CK_ULONG n)
{
    if (!t && n)
        return CKR_ARGUMENTS_BAD;
    if (n > HSM_ATTRS_MAX)
        return CKR_ARGUMENTS_BAD;
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, h);
    hsm_put_u64(&req, o);
    hsm_put_u32(&req, (uint32_t)n);
    for (CK_ULONG i = 0; i < n; i++) {
        hsm_put_u64(&req, t[i].type);
        hsm_put_u64(&req, t[i].pValue ? t[i].ulValueLen : UINT64_MAX);
    }
    CK_RV rv = session_call(h, HSM_OP_GET_ATTRS, &req, &reply);
    if (rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
        rv == CKR_BUFFER_TOO_SMALL) {
        CK_RV frv = fill_attrs(&reply, t, n);
        if (frv)
            rv = frv;
    }
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

API CK_RV C_SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t,
                              CK_ULONG n)
{
    if (!t && n)
        return CKR_ARGUMENTS_BAD;
    struct hsm_buf req = {0};
    hsm_put_u64(&req, h);
    hsm_put_u64(&req, o);
    put_template(&req, t, n);
    CK_RV rv = session_call(h, HSM_OP_SET_ATTRS, &req, NULL);
    hsm_buf_free(&req);
    return rv;
}

API CK_RV C_GetObjectSize(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ULONG_PTR size)
{
    (void)h;
    (void)o;
    if (!size)
        return CKR_ARGUMENTS_BAD;
    *size = CK_UNAVAILABLE_INFORMATION;
    return CKR_OK;
}

/* The whole search runs in the Keep at once; C_FindObjects pages through the result. */
API CK_RV C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    struct session *s;
    CK_RV rv = session_of(h, &s);
    if (rv)
        return rv;
    if (!t && n)
        return CKR_ARGUMENTS_BAD;
    if (s->finding)
        return CKR_OPERATION_ACTIVE;
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, h);
    put_template(&req, t, n);
    rv = call(HSM_OP_FIND, &req, &reply);
    struct keep_cursor c;
    uint32_t count = 0;
    keep_cursor_init(&c, reply.data, reply.size);
    if (rv == CKR_OK && (keep_cursor_u32(&c, "count", &count, NULL) || count > HSM_HANDLES_MAX ||
                         keep_cursor_remaining(&c) != (size_t)count * 8))
        rv = CKR_DEVICE_ERROR;
    CK_OBJECT_HANDLE *found = rv == CKR_OK ? calloc(count + 1, sizeof(*found)) : NULL;
    if (rv == CKR_OK && !found)
        rv = CKR_HOST_MEMORY;
    for (uint32_t i = 0; rv == CKR_OK && i < count; i++) {
        uint64_t v = 0;
        if (keep_cursor_u64(&c, "handle", &v, NULL) != KEEP_OK)
            rv = CKR_DEVICE_ERROR; /* cannot happen: the size was checked above */
        found[i] = (CK_OBJECT_HANDLE)v;
    }
    if (rv != CKR_OK) {
        free(found);
    } else {
        free(s->found);
        s->found = found;
        s->found_count = count;
        s->found_pos = 0;
        s->finding = true;
    }
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

API CK_RV C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                        CK_ULONG_PTR count)
{
    struct session *s;
    CK_RV rv = session_of(h, &s);
    if (rv)
        return rv;
    if (!out || !count)
        return CKR_ARGUMENTS_BAD;
    if (!s->finding)
        return CKR_OPERATION_NOT_INITIALIZED;
    CK_ULONG n = 0;
    while (n < max && s->found_pos < s->found_count)
        out[n++] = s->found[s->found_pos++];
    *count = n;
    return CKR_OK;
}

API CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE h)
{
    struct session *s;
    CK_RV rv = session_of(h, &s);
    if (rv)
        return rv;
    if (!s->finding)
        return CKR_OPERATION_NOT_INITIALIZED;
    s->finding = false;
    return CKR_OK;
}

/* ---- mechanisms on the wire (src/hsm/crypto.c reads them) --------------- */

static CK_RV encode_mech(const CK_MECHANISM *m, struct op_state *op)
{
    struct hsm_buf p = {0};
    if (!m)
        return CKR_ARGUMENTS_BAD;
    op->mech.type = m->mechanism;
    if (m->mechanism == CKM_RSA_PKCS_PSS || m->mechanism == CKM_SHA256_RSA_PKCS_PSS ||
        m->mechanism == CKM_SHA384_RSA_PKCS_PSS || m->mechanism == CKM_SHA512_RSA_PKCS_PSS) {
        const CK_RSA_PKCS_PSS_PARAMS *pp = m->pParameter;
        if (!pp || m->ulParameterLen != sizeof(*pp))
            return CKR_MECHANISM_PARAM_INVALID;
        hsm_put_u64(&p, pp->hashAlg);
        hsm_put_u64(&p, pp->mgf);
        hsm_put_u64(&p, pp->sLen);
    } else if (m->mechanism == CKM_RSA_PKCS_OAEP) {
        const CK_RSA_PKCS_OAEP_PARAMS *op_ = m->pParameter;
        if (!op_ || m->ulParameterLen != sizeof(*op_) ||
            (op_->ulSourceDataLen && !op_->pSourceData) || op_->ulSourceDataLen > 128)
            return CKR_MECHANISM_PARAM_INVALID;
        hsm_put_u64(&p, op_->hashAlg);
        hsm_put_u64(&p, op_->mgf);
        hsm_put_u64(&p, op_->source);
        hsm_put_bytes(&p, op_->pSourceData, op_->ulSourceDataLen);
    } else if (m->mechanism == CKM_AES_GCM) {
        const CK_GCM_PARAMS *g = m->pParameter;
        if (!g || m->ulParameterLen != sizeof(*g) || (g->ulIvLen && !g->pIv) ||
            (g->ulAADLen && !g->pAAD) || g->ulIvLen > 128 || g->ulAADLen > 65536)
            return CKR_MECHANISM_PARAM_INVALID;
        hsm_put_bytes(&p, g->pIv, g->ulIvLen);
        hsm_put_bytes(&p, g->pAAD, g->ulAADLen);
        hsm_put_u64(&p, g->ulTagBits);
    } else if (m->mechanism == CKM_AES_CBC_PAD) {
        if (!m->pParameter || m->ulParameterLen != 16) /* the IV (2.40 Mechanisms 2.10) */
            return CKR_MECHANISM_PARAM_INVALID;
        hsm_put_bytes(&p, m->pParameter, 16);
    } else if (m->mechanism == CKM_AES_CTR) {
        const CK_AES_CTR_PARAMS *c = m->pParameter;
        if (!c || m->ulParameterLen != sizeof(*c))
            return CKR_MECHANISM_PARAM_INVALID;
        hsm_put_u64(&p, c->ulCounterBits);
        hsm_put_bytes(&p, c->cb, 16);
    } else if (m->mechanism == CKM_ECDH1_DERIVE) {
        const CK_ECDH1_DERIVE_PARAMS *e = m->pParameter;
        if (!e || m->ulParameterLen != sizeof(*e) || (e->ulSharedDataLen && !e->pSharedData) ||
            (e->ulPublicDataLen && !e->pPublicData) || e->ulSharedDataLen > 1024 ||
            e->ulPublicDataLen > 256)
            return CKR_MECHANISM_PARAM_INVALID;
        hsm_put_u64(&p, e->kdf);
        hsm_put_bytes(&p, e->pSharedData, e->ulSharedDataLen);
        hsm_put_bytes(&p, e->pPublicData, e->ulPublicDataLen);
    } else if (m->mechanism == CKM_AES_KEY_WRAP || m->mechanism == CKM_AES_KEY_WRAP_KWP) {
        /* The optional initial value (2.40 Mechanisms 2.14.3): none or 8 (KW) / 4 (KWP) bytes. */
        if (m->ulParameterLen > 8 || (m->ulParameterLen && !m->pParameter))
            return CKR_MECHANISM_PARAM_INVALID;
        if (m->ulParameterLen)
            hsm_put_bytes(&p, m->pParameter, m->ulParameterLen);
    } else if (m->ulParameterLen) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (p.failed) {
        hsm_buf_free(&p);
        return CKR_HOST_MEMORY;
    }
    free(op->big_param);
    op->big_param = NULL;
    op->mech.param_size = (uint32_t)p.size;
    if (p.size > sizeof(op->param)) {
        op->big_param = p.data; /* keep the buffer: a long AAD */
        op->mech.param = op->big_param;
    } else {
        if (p.size)
            memcpy(op->param, p.data, p.size);
        op->mech.param = op->param;
        hsm_buf_free(&p);
    }
    return CKR_OK;
}

static CK_RV op_init(CK_SESSION_HANDLE h, enum op_kind kind, const CK_MECHANISM *m,
                     CK_OBJECT_HANDLE key)
{
    struct session *s;
    CK_RV rv = session_of(h, &s);
    if (rv)
        return rv;
    struct op_state *op = &s->ops[kind - 1];
    if (op->kind != OP_NONE)
        return CKR_OPERATION_ACTIVE;
    bool known = false;
    for (size_t i = 0; m && i < HSM_MECH_COUNT; i++)
        known |= hsm_mechs[i].type == m->mechanism;
    if (!known)
        return m ? CKR_MECHANISM_INVALID : CKR_ARGUMENTS_BAD;
    if ((rv = encode_mech(m, op)) != CKR_OK)
        return rv;
    op->kind = kind;
    op->key = key;
    return CKR_OK;
}

static const uint8_t hsm_ops[] = {
    0, HSM_OP_SIGN, HSM_OP_VERIFY, HSM_OP_ENCRYPT, HSM_OP_DECRYPT, HSM_OP_DIGEST};

/* Run the operation on data in the Keep (once), then hand out its result. */
static CK_RV op_finish(CK_SESSION_HANDLE h, enum op_kind kind, const uint8_t *data, size_t n,
                       bool use_buffer, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    struct session *s;
    CK_RV rv = session_of(h, &s);
    if (rv)
        return rv;
    struct op_state *op = &s->ops[kind - 1];
    if (op->kind != kind)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (!out_len || (!data && n)) {
        op_reset(op);
        return CKR_ARGUMENTS_BAD;
    }
    if (!op->have_result) {
        struct hsm_buf req = {0}, reply = {0};
        hsm_put_u64(&req, h);
        hsm_put_mech(&req, &op->mech);
        if (kind != OP_DIGEST)
            hsm_put_u64(&req, op->key);
        hsm_put_bytes(&req, use_buffer ? op->data.data : data, use_buffer ? op->data.size : n);
        op->result_rv = call(hsm_ops[kind], &req, &reply);
        const uint8_t *p;
        uint32_t pn;
        if (op->result_rv == CKR_OK && (op->result_rv = reply_bytes(&reply, &p, &pn)) == CKR_OK)
            hsm_put(&op->result, p, pn);
        op->have_result = true;
        hsm_buf_free(&req);
        hsm_buf_free(&reply);
    }
    rv = op->result_rv;
    if (rv == CKR_OK)
        rv = give_bytes(op->result.data, op->result.size, out, out_len);
    /* A size query or a short buffer keeps the operation (2.40 5.2); anything else ends it. */
    if (!(rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && !out)))
        op_reset(op);
    return rv;
}

static CK_RV op_update(CK_SESSION_HANDLE h, enum op_kind kind, const uint8_t *data, size_t n)
{
    struct session *s;
    CK_RV rv = session_of(h, &s);
    if (rv)
        return rv;
    struct op_state *op = &s->ops[kind - 1];
    if (op->kind != kind)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (!data && n) {
        op_reset(op);
        return CKR_ARGUMENTS_BAD;
    }
    hsm_put(&op->data, data, n);
    if (op->data.failed || op->data.size > HSM_FRAME_MAX - 4096) {
        op_reset(op);
        return CKR_DATA_LEN_RANGE;
    }
    return CKR_OK;
}

API CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
    return op_init(h, OP_SIGN, m, key);
}

API CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR sig,
                 CK_ULONG_PTR sig_len)
{
    return op_finish(h, OP_SIGN, data, n, false, sig, sig_len);
}

API CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n)
{
    return op_update(h, OP_SIGN, data, n);
}

API CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    return op_finish(h, OP_SIGN, NULL, 0, true, sig, sig_len);
}

API CK_RV C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
    return op_init(h, OP_ENCRYPT, m, key);
}

API CK_RV C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR out,
                    CK_ULONG_PTR out_len)
{
    return op_finish(h, OP_ENCRYPT, data, n, false, out, out_len);
}

/*
 * Multi-part encryption and decryption collect the input and give all the
 * output at Final (an Update may output nothing, PKCS#11 2.40 5.8-5.9): one
 * round trip to the Keep per operation.
 */
static CK_RV crypt_update(CK_SESSION_HANDLE h, enum op_kind kind, CK_BYTE_PTR in, CK_ULONG n,
                          CK_ULONG_PTR out_len)
{
    if (!out_len)
        return CKR_ARGUMENTS_BAD;
    CK_RV rv = op_update(h, kind, in, n);
    if (rv == CKR_OK)
        *out_len = 0;
    return rv;
}

API CK_RV C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out,
                          CK_ULONG_PTR out_len)
{
    (void)out;
    return crypt_update(h, OP_ENCRYPT, in, n, out_len);
}

API CK_RV C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    return op_finish(h, OP_ENCRYPT, NULL, 0, true, out, out_len);
}

API CK_RV C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR out,
                          CK_ULONG_PTR out_len)
{
    (void)out;
    return crypt_update(h, OP_DECRYPT, in, n, out_len);
}

API CK_RV C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    return op_finish(h, OP_DECRYPT, NULL, 0, true, out, out_len);
}

API CK_RV C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
    return op_init(h, OP_DECRYPT, m, key);
}

API CK_RV C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR out,
                    CK_ULONG_PTR out_len)
{
    return op_finish(h, OP_DECRYPT, data, n, false, out, out_len);
}

API CK_RV C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m)
{
    return op_init(h, OP_DIGEST, m, 0);
}

API CK_RV C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR out,
                   CK_ULONG_PTR out_len)
{
    return op_finish(h, OP_DIGEST, data, n, false, out, out_len);
}

API CK_RV C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n)
{
    return op_update(h, OP_DIGEST, data, n);
}

API CK_RV C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    return op_finish(h, OP_DIGEST, NULL, 0, true, out, out_len);
}

/* Verification has no output; its result is the CK_RV. */
static CK_RV verify_finish(CK_SESSION_HANDLE h, const uint8_t *data, size_t n, bool use_buffer,
                           const uint8_t *sig, size_t sig_len)
{
    struct session *s;
    CK_RV rv = session_of(h, &s);
    if (rv)
        return rv;
    struct op_state *op = &s->ops[OP_VERIFY - 1];
    if (op->kind != OP_VERIFY)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (!sig || (!data && n)) {
        op_reset(op);
        return CKR_ARGUMENTS_BAD;
    }
    struct hsm_buf req = {0};
    hsm_put_u64(&req, h);
    hsm_put_mech(&req, &op->mech);
    hsm_put_u64(&req, op->key);
    hsm_put_bytes(&req, use_buffer ? op->data.data : data, use_buffer ? op->data.size : n);
    hsm_put_bytes(&req, sig, sig_len);
    rv = call(HSM_OP_VERIFY, &req, NULL);
    hsm_buf_free(&req);
    op_reset(op);
    return rv;
}

API CK_RV C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
    return op_init(h, OP_VERIFY, m, key);
}

API CK_RV C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n, CK_BYTE_PTR sig,
                   CK_ULONG sig_len)
{
    return verify_finish(h, data, n, false, sig, sig_len);
}

API CK_RV C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG n)
{
    return op_update(h, OP_VERIFY, data, n);
}

API CK_RV C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    return verify_finish(h, NULL, 0, true, sig, sig_len);
}

/* ---- keys and random ---------------------------------------------------- */

API CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub,
                            CK_ULONG pub_n, CK_ATTRIBUTE_PTR priv, CK_ULONG priv_n,
                            CK_OBJECT_HANDLE_PTR pub_out, CK_OBJECT_HANDLE_PTR priv_out)
{
    if (!m || (!pub && pub_n) || (!priv && priv_n) || !pub_out || !priv_out)
        return CKR_ARGUMENTS_BAD;
    if (m->mechanism != CKM_EC_KEY_PAIR_GEN && m->mechanism != CKM_RSA_PKCS_KEY_PAIR_GEN)
        return CKR_MECHANISM_INVALID;
    struct op_state tmp = {0};
    CK_RV rv = encode_mech(m, &tmp);
    if (rv)
        return rv;
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, h);
    hsm_put_mech(&req, &tmp.mech);
    put_template(&req, pub, pub_n);
    put_template(&req, priv, priv_n);
    rv = session_call(h, HSM_OP_GENERATE_KEY_PAIR, &req, &reply);
    CK_OBJECT_HANDLE hs[2];
    if (rv == CKR_OK && (rv = reply_handle(&reply, hs, 2)) == CKR_OK) {
        *pub_out = hs[0];
        *priv_out = hs[1];
    }
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

API CK_RV C_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                        CK_OBJECT_HANDLE_PTR out)
{
    if (!m || (!t && n) || !out)
        return CKR_ARGUMENTS_BAD;
    if (m->mechanism != CKM_AES_KEY_GEN && m->mechanism != CKM_GENERIC_SECRET_KEY_GEN)
        return CKR_MECHANISM_INVALID;
    if (m->ulParameterLen)
        return CKR_MECHANISM_PARAM_INVALID;
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, h);
    hsm_put_mech(&req, &(struct hsm_mech){m->mechanism, NULL, 0});
    put_template(&req, t, n);
    CK_RV rv = session_call(h, HSM_OP_GENERATE_KEY, &req, &reply);
    if (rv == CKR_OK)
        rv = reply_handle(&reply, out, 1);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

API CK_RV C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG n)
{
    if (!out && n)
        return CKR_ARGUMENTS_BAD;
    for (CK_ULONG done = 0; done < n;) {
        uint32_t chunk = n - done > 65536 ? 65536 : (uint32_t)(n - done);
        struct hsm_buf req = {0}, reply = {0};
        hsm_put_u64(&req, h);
        hsm_put_u32(&req, chunk);
        CK_RV rv = session_call(h, HSM_OP_RANDOM, &req, &reply);
        const uint8_t *p;
        uint32_t pn;
        if (rv == CKR_OK && ((rv = reply_bytes(&reply, &p, &pn)) != CKR_OK || pn != chunk))
            rv = CKR_DEVICE_ERROR;
        if (rv == CKR_OK)
            memcpy(out + done, p, chunk);
        hsm_buf_free(&req);
        hsm_buf_free(&reply);
        if (rv)
            return rv;
        done += chunk;
    }
    return CKR_OK;
}

API CK_RV C_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG n)
{
    (void)seed;
    (void)n;
    struct session *s;
    CK_RV rv = session_of(h, &s);
    return rv ? rv : CKR_RANDOM_SEED_NOT_SUPPORTED;
}

/* ---- derive, wrap, unwrap (2.40 5.16) ----------------------------------- */

/* Encode m for a key management op; false with *rv set when it is not one of ours. */
static bool key_mech(const CK_MECHANISM *m, struct op_state *tmp, CK_RV *rv)
{
    bool known = false;
    for (size_t i = 0; m && i < HSM_MECH_COUNT; i++)
        known |= hsm_mechs[i].type == m->mechanism;
    *rv = !m ? CKR_ARGUMENTS_BAD : !known ? CKR_MECHANISM_INVALID : encode_mech(m, tmp);
    return *rv == CKR_OK;
}

API CK_RV C_DeriveKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE base,
                      CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
    struct op_state tmp = {0};
    CK_RV rv;
    if ((!t && n) || !out)
        return CKR_ARGUMENTS_BAD;
    if (!key_mech(m, &tmp, &rv))
        return rv;
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, h);
    hsm_put_mech(&req, &tmp.mech);
    hsm_put_u64(&req, base);
    put_template(&req, t, n);
    rv = session_call(h, HSM_OP_DERIVE_KEY, &req, &reply);
    if (rv == CKR_OK)
        rv = reply_handle(&reply, out, 1);
    op_reset(&tmp);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

API CK_RV C_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE wrapping,
                    CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    struct op_state tmp = {0};
    CK_RV rv;
    if (!out_len)
        return CKR_ARGUMENTS_BAD;
    if (!key_mech(m, &tmp, &rv))
        return rv;
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, h);
    hsm_put_mech(&req, &tmp.mech);
    hsm_put_u64(&req, wrapping);
    hsm_put_u64(&req, key);
    rv = session_call(h, HSM_OP_WRAP_KEY, &req, &reply);
    const uint8_t *p;
    uint32_t pn;
    if (rv == CKR_OK && (rv = reply_bytes(&reply, &p, &pn)) == CKR_OK)
        rv = give_bytes(p, pn, out, out_len); /* KW and KWP are deterministic: a size query */
    op_reset(&tmp);                           /* then the call give the same bytes */
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

API CK_RV C_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE unwrapping,
                      CK_BYTE_PTR wrapped, CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                      CK_OBJECT_HANDLE_PTR out)
{
    struct op_state tmp = {0};
    CK_RV rv;
    if ((!t && n) || !out || (!wrapped && wrapped_len))
        return CKR_ARGUMENTS_BAD;
    if (wrapped_len > HSM_ATTR_MAX)
        return CKR_WRAPPED_KEY_LEN_RANGE;
    if (!key_mech(m, &tmp, &rv))
        return rv;
    struct hsm_buf req = {0}, reply = {0};
    hsm_put_u64(&req, h);
    hsm_put_mech(&req, &tmp.mech);
    hsm_put_u64(&req, unwrapping);
    hsm_put_bytes(&req, wrapped, wrapped_len);
    put_template(&req, t, n);
    rv = session_call(h, HSM_OP_UNWRAP_KEY, &req, &reply);
    if (rv == CKR_OK)
        rv = reply_handle(&reply, out, 1);
    op_reset(&tmp);
    hsm_buf_free(&req);
    hsm_buf_free(&reply);
    return rv;
}

/* ---- not offered (docs/HSM.md lists what is missing) -------------------- */

#define NOT_SUPPORTED(name, ...)           \
    API CK_RV name(__VA_ARGS__)            \
    {                                      \
        return CKR_FUNCTION_NOT_SUPPORTED; \
    }

/* The parameters of functions that only refuse are unused by design. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
NOT_SUPPORTED(C_GetOperationState, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG_PTR c)
NOT_SUPPORTED(C_SetOperationState, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c,
              CK_OBJECT_HANDLE d, CK_OBJECT_HANDLE e)
NOT_SUPPORTED(C_CopyObject, CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b, CK_ATTRIBUTE_PTR c, CK_ULONG d,
              CK_OBJECT_HANDLE_PTR e)
NOT_SUPPORTED(C_DigestKey, CK_SESSION_HANDLE a, CK_OBJECT_HANDLE b)
NOT_SUPPORTED(C_SignRecoverInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NOT_SUPPORTED(C_SignRecover, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG_PTR e)
NOT_SUPPORTED(C_VerifyRecoverInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NOT_SUPPORTED(C_VerifyRecover, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG_PTR e)
NOT_SUPPORTED(C_DigestEncryptUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG_PTR e)
NOT_SUPPORTED(C_DecryptDigestUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG_PTR e)
NOT_SUPPORTED(C_SignEncryptUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG_PTR e)
NOT_SUPPORTED(C_DecryptVerifyUpdate, CK_SESSION_HANDLE a, CK_BYTE_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG_PTR e)
NOT_SUPPORTED(C_GetFunctionStatus, CK_SESSION_HANDLE a)
NOT_SUPPORTED(C_CancelFunction, CK_SESSION_HANDLE a)
NOT_SUPPORTED(C_WaitForSlotEvent, CK_FLAGS a, CK_SLOT_ID_PTR b, CK_VOID_PTR c)
#pragma GCC diagnostic pop

static CK_FUNCTION_LIST function_list = {
    .version = {2, 40},
#define F(name) .name = name,
    F(C_Initialize) F(C_Finalize) F(C_GetInfo) F(C_GetFunctionList) F(C_GetSlotList) F(
        C_GetSlotInfo) F(C_GetTokenInfo) F(C_GetMechanismList) F(C_GetMechanismInfo) F(C_InitToken)
        F(C_InitPIN) F(C_SetPIN) F(C_OpenSession) F(C_CloseSession) F(C_CloseAllSessions) F(
            C_GetSessionInfo) F(C_GetOperationState) F(C_SetOperationState) F(C_Login) F(C_Logout)
            F(C_CreateObject) F(C_CopyObject) F(C_DestroyObject) F(C_GetObjectSize) F(
                C_GetAttributeValue) F(C_SetAttributeValue) F(C_FindObjectsInit) F(C_FindObjects)
                F(C_FindObjectsFinal) F(C_EncryptInit) F(C_Encrypt) F(C_EncryptUpdate)
                    F(C_EncryptFinal) F(C_DecryptInit) F(C_Decrypt) F(C_DecryptUpdate) F(
                        C_DecryptFinal) F(C_DigestInit) F(C_Digest) F(C_DigestUpdate) F(C_DigestKey)
                        F(C_DigestFinal) F(C_SignInit) F(C_Sign) F(C_SignUpdate) F(C_SignFinal)
                            F(C_SignRecoverInit) F(C_SignRecover) F(C_VerifyInit) F(C_Verify) F(
                                C_VerifyUpdate) F(C_VerifyFinal) F(C_VerifyRecoverInit)
                                F(C_VerifyRecover) F(C_DigestEncryptUpdate) F(C_DecryptDigestUpdate)
                                    F(C_SignEncryptUpdate) F(C_DecryptVerifyUpdate) F(C_GenerateKey)
                                        F(C_GenerateKeyPair) F(C_WrapKey) F(C_UnwrapKey)
                                            F(C_DeriveKey) F(C_SeedRandom) F(C_GenerateRandom)
                                                F(C_GetFunctionStatus) F(C_CancelFunction)
                                                    F(C_WaitForSlotEvent)
#undef F
};

/* ---- PKCS#11 3.0 (docs/HSM.md "PKCS#11 3.0") ------------------------------ */

/* C_GetInfo through the 3.0 list: the same library, the version that list speaks. */
static CK_RV get_info_3_0(CK_INFO_PTR info)
{
    CK_RV rv = C_GetInfo(info);
    if (rv == CKR_OK)
        info->cryptokiVersion = function_list_3_0.version;
    return rv;
}

/*
 * PKCS#11 3.0 base specification, C_LoginUser: C_Login plus a user name. The token has one
 * unnamed user and one unnamed SO, so no name is given: a name is refused
 * (CKR_ARGUMENTS_BAD) rather than ignored, so a client never believes it
 * logged in as someone the token does not know.
 */
API CK_RV C_LoginUser(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_CHAR_PTR pin, CK_ULONG n,
                      CK_UTF8CHAR_PTR name, CK_ULONG name_len)
{
    if (name && name_len)
        return CKR_ARGUMENTS_BAD;
    return C_Login(h, user, pin, n);
}

/*
 * PKCS#11 3.0 base specification, C_SessionCancel: ends the session's active operations
 * named by flags (CKF_SIGN, CKF_FIND_OBJECTS, ...). Each operation's state
 * lives here in the module until its final call, so cancelling is local.
 * Message-based operations are never active (not offered), so their flags
 * have nothing to cancel.
 */
API CK_RV C_SessionCancel(CK_SESSION_HANDLE h, CK_FLAGS flags)
{
    static const struct {
        CK_FLAGS flag;
        enum op_kind kind;
    } by_flag[] = {{CKF_SIGN, OP_SIGN},
                   {CKF_VERIFY, OP_VERIFY},
                   {CKF_ENCRYPT, OP_ENCRYPT},
                   {CKF_DECRYPT, OP_DECRYPT},
                   {CKF_DIGEST, OP_DIGEST}};
    struct session *s;
    CK_RV rv = session_of(h, &s);
    if (rv)
        return rv;
    for (size_t i = 0; i < sizeof(by_flag) / sizeof(by_flag[0]); i++)
        if (flags & by_flag[i].flag)
            op_reset(&s->ops[by_flag[i].kind - 1]);
    if (flags & CKF_FIND_OBJECTS)
        s->finding = false;
    return CKR_OK;
}

/* The message-based API (PKCS#11 3.0 C_Message*, C_*Message*) is not offered. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
NOT_SUPPORTED(C_MessageEncryptInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NOT_SUPPORTED(C_EncryptMessage, CK_SESSION_HANDLE a, CK_VOID_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG e, CK_BYTE_PTR f, CK_ULONG g, CK_BYTE_PTR i, CK_ULONG_PTR j)
NOT_SUPPORTED(C_EncryptMessageBegin, CK_SESSION_HANDLE a, CK_VOID_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG e)
NOT_SUPPORTED(C_EncryptMessageNext, CK_SESSION_HANDLE a, CK_VOID_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG e, CK_BYTE_PTR f, CK_ULONG_PTR g, CK_FLAGS i)
NOT_SUPPORTED(C_MessageEncryptFinal, CK_SESSION_HANDLE a)
NOT_SUPPORTED(C_MessageDecryptInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NOT_SUPPORTED(C_DecryptMessage, CK_SESSION_HANDLE a, CK_VOID_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG e, CK_BYTE_PTR f, CK_ULONG g, CK_BYTE_PTR i, CK_ULONG_PTR j)
NOT_SUPPORTED(C_DecryptMessageBegin, CK_SESSION_HANDLE a, CK_VOID_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG e)
NOT_SUPPORTED(C_DecryptMessageNext, CK_SESSION_HANDLE a, CK_VOID_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG e, CK_BYTE_PTR f, CK_ULONG_PTR g, CK_FLAGS i)
NOT_SUPPORTED(C_MessageDecryptFinal, CK_SESSION_HANDLE a)
NOT_SUPPORTED(C_MessageSignInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NOT_SUPPORTED(C_SignMessage, CK_SESSION_HANDLE a, CK_VOID_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG e, CK_BYTE_PTR f, CK_ULONG_PTR g)
NOT_SUPPORTED(C_SignMessageBegin, CK_SESSION_HANDLE a, CK_VOID_PTR b, CK_ULONG c)
NOT_SUPPORTED(C_SignMessageNext, CK_SESSION_HANDLE a, CK_VOID_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG e, CK_BYTE_PTR f, CK_ULONG_PTR g)
NOT_SUPPORTED(C_MessageSignFinal, CK_SESSION_HANDLE a)
NOT_SUPPORTED(C_MessageVerifyInit, CK_SESSION_HANDLE a, CK_MECHANISM_PTR b, CK_OBJECT_HANDLE c)
NOT_SUPPORTED(C_VerifyMessage, CK_SESSION_HANDLE a, CK_VOID_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG e, CK_BYTE_PTR f, CK_ULONG g)
NOT_SUPPORTED(C_VerifyMessageBegin, CK_SESSION_HANDLE a, CK_VOID_PTR b, CK_ULONG c)
NOT_SUPPORTED(C_VerifyMessageNext, CK_SESSION_HANDLE a, CK_VOID_PTR b, CK_ULONG c, CK_BYTE_PTR d,
              CK_ULONG e, CK_BYTE_PTR f, CK_ULONG g)
NOT_SUPPORTED(C_MessageVerifyFinal, CK_SESSION_HANDLE a)
#pragma GCC diagnostic pop

/* The 2.40 list's functions, then 3.0's (the order of CK_FUNCTION_LIST_3_0). */
static CK_FUNCTION_LIST_3_0 function_list_3_0 = {
    .version = {3, 0},
#define F(name) .name = name,
    F(C_Initialize) F(C_Finalize) F(C_GetFunctionList) F(C_GetSlotList) F(C_GetSlotInfo) F(
        C_GetTokenInfo) F(C_GetMechanismList) F(C_GetMechanismInfo) F(C_InitToken) F(C_InitPIN)
        F(C_SetPIN) F(C_OpenSession) F(C_CloseSession) F(C_CloseAllSessions) F(C_GetSessionInfo) F(
            C_GetOperationState) F(C_SetOperationState) F(C_Login) F(C_Logout) F(C_CreateObject)
            F(C_CopyObject) F(C_DestroyObject) F(C_GetObjectSize) F(C_GetAttributeValue) F(
                C_SetAttributeValue) F(C_FindObjectsInit) F(C_FindObjects) F(C_FindObjectsFinal)
                F(C_EncryptInit) F(C_Encrypt) F(C_EncryptUpdate) F(C_EncryptFinal) F(
                    C_DecryptInit) F(C_Decrypt) F(C_DecryptUpdate) F(C_DecryptFinal) F(C_DigestInit)
                    F(C_Digest) F(C_DigestUpdate) F(C_DigestKey) F(C_DigestFinal) F(C_SignInit) F(
                        C_Sign) F(C_SignUpdate) F(C_SignFinal) F(C_SignRecoverInit) F(C_SignRecover)
                        F(C_VerifyInit) F(C_Verify) F(C_VerifyUpdate) F(C_VerifyFinal) F(
                            C_VerifyRecoverInit) F(C_VerifyRecover) F(C_DigestEncryptUpdate)
                            F(C_DecryptDigestUpdate) F(
                                C_SignEncryptUpdate) F(C_DecryptVerifyUpdate) F(C_GenerateKey)
                                F(C_GenerateKeyPair) F(C_WrapKey) F(C_UnwrapKey) F(C_DeriveKey) F(
                                    C_SeedRandom) F(C_GenerateRandom)
                                    F(C_GetFunctionStatus) F(C_CancelFunction) F(C_WaitForSlotEvent)
                                        F(C_GetInterfaceList) F(C_GetInterface) F(C_LoginUser)
                                            F(C_SessionCancel) F(C_MessageEncryptInit) F(
                                                C_EncryptMessage)
                                                F(C_EncryptMessageBegin) F(C_EncryptMessageNext) F(
                                                    C_MessageEncryptFinal) F(C_MessageDecryptInit)
                                                    F(C_DecryptMessage) F(C_DecryptMessageBegin)
                                                        F(C_DecryptMessageNext) F(
                                                            C_MessageDecryptFinal)
                                                            F(C_MessageSignInit) F(C_SignMessage) F(
                                                                C_SignMessageBegin)
                                                                F(C_SignMessageNext) F(
                                                                    C_MessageSignFinal)
                                                                    F(C_MessageVerifyInit) F(
                                                                        C_VerifyMessage)
                                                                        F(C_VerifyMessageBegin) F(
                                                                            C_VerifyMessageNext)
                                                                            F(C_MessageVerifyFinal)
#undef F
                                                                                .C_GetInfo =
        get_info_3_0,
};

/*
 * PKCS#11 3.0 CK_INTERFACE: the "PKCS 11" interface at 3.0 (the default,
 * first) and at 2.40. flags stay 0: CKF_INTERFACE_FORK_SAFE is not claimed,
 * because a forked child shares the parent's connection to keep-hsm.
 */
static CK_UTF8CHAR interface_name[] = "PKCS 11";
static CK_INTERFACE interfaces[] = {
    {interface_name, &function_list_3_0, 0},
    {interface_name, &function_list, 0},
};
#define INTERFACE_COUNT (sizeof(interfaces) / sizeof(interfaces[0]))

/* PKCS#11 3.0 C_GetInterfaceList: callable before C_Initialize, like C_GetFunctionList. */
API CK_RV C_GetInterfaceList(CK_INTERFACE_PTR list, CK_ULONG_PTR count)
{
    if (!count)
        return CKR_ARGUMENTS_BAD;
    if (!list) {
        *count = INTERFACE_COUNT;
        return CKR_OK;
    }
    CK_ULONG room = *count;
    *count = INTERFACE_COUNT;
    if (room < INTERFACE_COUNT)
        return CKR_BUFFER_TOO_SMALL;
    memcpy(list, interfaces, sizeof(interfaces));
    return CKR_OK;
}

static bool interface_matches(const CK_INTERFACE *i, const CK_UTF8CHAR *name,
                              const CK_VERSION *version, CK_FLAGS flags)
{
    const CK_VERSION *has = i->pFunctionList; /* every function list starts with its version */
    if (name && strcmp((const char *)name, (const char *)i->pInterfaceName) != 0)
        return false;
    if (version && (version->major != has->major || version->minor != has->minor))
        return false;
    return (i->flags & flags) == flags;
}

/*
 * PKCS#11 3.0 C_GetInterface: the first interface matching the name
 * (NULL: any), the version (NULL: any) and all of flags; none matching is
 * CKR_ARGUMENTS_BAD.
 */
API CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, CK_INTERFACE_PTR_PTR out,
                         CK_FLAGS flags)
{
    if (!out)
        return CKR_ARGUMENTS_BAD;
    for (size_t i = 0; i < INTERFACE_COUNT; i++)
        if (interface_matches(&interfaces[i], name, version, flags)) {
            *out = &interfaces[i];
            return CKR_OK;
        }
    *out = NULL;
    return CKR_ARGUMENTS_BAD;
}
