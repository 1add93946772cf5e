/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#11 rules, as the service applies them (PKCS#11 Base Specification
 * 2.40, section numbers below). One token, one slot. Login state belongs to
 * a connection (one application, 5.6 "C_Login": "logged in to the token" for
 * all of the application's sessions); session objects belong to the session
 * that made them and die with it.
 */
#include "hsm/service.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include "hsm/cryptoki.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hsm/crypto.h"
#include "hsm/mechs.h"
#include "hsm/store.h"

struct owned_attr {
    uint64_t type;
    uint8_t *value;
    uint32_t size;
};

struct object {
    uint64_t handle;
    struct owned_attr *attrs;
    uint32_t count;
    bool token, priv;
    uint64_t session; /* session objects: the session that made it; token objects: 0 */
    EVP_PKEY *key;    /* parsed once from HSM_ATTR_KEY_DER or HSM_ATTR_SPKI_DER */
};

struct session {
    uint64_t handle, conn;
    bool rw;
};

struct conn {
    uint64_t id;
    CK_USER_TYPE login; /* CKU_SO, CKU_USER, or NOT_LOGGED_IN */
};
#define NOT_LOGGED_IN ((CK_USER_TYPE)~0ul)

/*
 * An index of the objects (rebuilt by reindex after every request that may change them, so
 * that C_FindObjects and handle lookups do not scan every object): one hash chain table per
 * key. Chains hold positions in objs[], built so that a chain lists them in objs[] order, and
 * a search by index returns exactly what a scan would, in the same order. A reader never
 * trusts the index alone: it checks the object it points at, and a handle lookup that misses
 * falls back to a scan (the index may lag within one request, between an add and reindex).
 */
enum { IDX_HANDLE, IDX_CLASS, IDX_ID, IDX_LABEL, IDX_KEYS };
#define IDX_END UINT32_MAX

struct obj_index {
    uint32_t *heads; /* IDX_KEYS x buckets */
    uint32_t *next;  /* IDX_KEYS x count */
    size_t buckets, count, cap;
};

struct hsm_service {
    char *path;
    uint32_t kdf_iterations;
    struct hsm_store st; /* the header and, until the master key is known, sealed records */
    bool mk_loaded;
    uint8_t mk[HSM_KEY_SIZE];
    struct object *objs;
    size_t obj_count, obj_cap;
    struct session *sessions;
    size_t session_count, session_cap;
    struct conn *conns;
    size_t conn_count, conn_cap;
    uint64_t next_handle, next_conn;
    uint8_t *evidence;
    size_t evidence_size;
    hsm_evidence_fn evidence_fn;
    bool counted;               /* hsm_service_set_counter was called */
    struct hsm_counter counter; /* where the store's generation is also held */
    uint64_t counter_value;     /* its value, as last read or set */
    bool counter_lost;          /* a move failed: no more writes until a restart repairs it */
    struct obj_index index;     /* objs by handle, CKA_CLASS, CKA_ID, CKA_LABEL */
    bool service_key_set;       /* hsm_service_set_master_secret gave a secret */
    uint8_t service_key[HSM_KEY_SIZE];
};

/* ---- small helpers ----------------------------------------------------- */

static bool grow(void **arr, size_t *cap, size_t count, size_t elem)
{
    if (count < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

static void free_object(struct object *o)
{
    for (uint32_t i = 0; i < o->count; i++) {
        OPENSSL_cleanse(o->attrs[i].value, o->attrs[i].size);
        free(o->attrs[i].value);
    }
    free(o->attrs);
    EVP_PKEY_free(o->key);
    memset(o, 0, sizeof(*o));
}

static struct owned_attr *obj_attr(const struct object *o, uint64_t type)
{
    for (uint32_t i = 0; i < o->count; i++)
        if (o->attrs[i].type == type)
            return &o->attrs[i];
    return NULL;
}

static bool attr_bool(const struct object *o, uint64_t type, bool dflt)
{
    const struct owned_attr *a = obj_attr(o, type);
    return a && a->size == 1 ? a->value[0] != 0 : dflt;
}

static CK_ULONG attr_ulong(const struct object *o, uint64_t type, CK_ULONG dflt)
{
    const struct owned_attr *a = obj_attr(o, type);
    CK_ULONG v = dflt;
    if (a && a->size == sizeof(CK_ULONG))
        memcpy(&v, a->value, sizeof(v));
    return v;
}

/* Set (replace or add) an attribute value. */
static bool set_attr(struct object *o, uint64_t type, const void *value, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return false;
    if (size)
        memcpy(copy, value, size);
    struct owned_attr *a = obj_attr(o, type);
    if (a) {
        OPENSSL_cleanse(a->value, a->size);
        free(a->value);
    } else {
        struct owned_attr *na = realloc(o->attrs, (o->count + 1) * sizeof(*na));
        if (!na) {
            free(copy);
            return false;
        }
        o->attrs = na;
        a = &o->attrs[o->count++];
        a->type = type;
    }
    a->value = copy;
    a->size = (uint32_t)size;
    return true;
}

static bool set_bool(struct object *o, uint64_t type, bool v)
{
    CK_BBOOL b = v ? CK_TRUE : CK_FALSE;
    return set_attr(o, type, &b, 1);
}

static bool set_ulong(struct object *o, uint64_t type, CK_ULONG v)
{
    return set_attr(o, type, &v, sizeof(v));
}

static bool set_default_bool(struct object *o, uint64_t type, bool v)
{
    return obj_attr(o, type) ? true : set_bool(o, type, v);
}

static struct conn *find_conn(struct hsm_service *s, uint64_t id)
{
    for (size_t i = 0; i < s->conn_count; i++)
        if (s->conns[i].id == id)
            return &s->conns[i];
    return NULL;
}

static struct session *find_session(struct hsm_service *s, uint64_t conn, uint64_t h)
{
    for (size_t i = 0; i < s->session_count; i++)
        if (s->sessions[i].handle == h && s->sessions[i].conn == conn)
            return &s->sessions[i];
    return NULL;
}

static uint64_t session_conn(const struct hsm_service *s, uint64_t h)
{
    for (size_t i = 0; i < s->session_count; i++)
        if (s->sessions[i].handle == h)
            return s->sessions[i].conn;
    return 0;
}

/* Whether c may see o (2.40 4.4: private objects only when the user is logged in; session
 * objects only from the application that made them). */
static bool can_see(const struct hsm_service *s, const struct conn *c, const struct object *o)
{
    if (o->priv && c->login != CKU_USER)
        return false;
    return o->token || session_conn(s, o->session) == c->id;
}

/* ---- the object index (struct obj_index) -------------------------------- */

static const uint64_t index_types[IDX_KEYS] = {0, CKA_CLASS, CKA_ID, CKA_LABEL};

/* FNV-1a over the key's bytes, seeded with the key kind (a hash for buckets, not a MAC). */
static uint64_t index_hash(int kind, const uint8_t *p, size_t n)
{
    uint64_t h = 14695981039346656037ull ^ (uint64_t)kind;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* The bytes o is filed under for kind; false when o has no such attribute. */
static bool index_key(const struct object *o, int kind, const uint8_t **p, size_t *n)
{
    if (kind == IDX_HANDLE) {
        *p = (const uint8_t *)&o->handle;
        *n = sizeof(o->handle);
        return true;
    }
    const struct owned_attr *a = obj_attr(o, index_types[kind]);
    if (!a)
        return false;
    *p = a->value;
    *n = a->size;
    return true;
}

static size_t index_bucket(const struct obj_index *x, int kind, const uint8_t *p, size_t n)
{
    return (size_t)(index_hash(kind, p, n) & (x->buckets - 1));
}

/* Rebuild the index over s->objs; on no memory the index is left empty (searches then scan). */
static void reindex(struct hsm_service *s)
{
    struct obj_index *x = &s->index;
    size_t buckets = 64;
    while (buckets < 2 * s->obj_count)
        buckets *= 2;
    if (buckets != x->buckets || s->obj_count > x->cap) {
        size_t cap = s->obj_count > x->cap ? s->obj_count : x->cap;
        uint32_t *heads = realloc(x->heads, IDX_KEYS * buckets * sizeof(*heads));
        if (heads)
            x->heads = heads;
        uint32_t *next =
            heads ? realloc(x->next, IDX_KEYS * (cap ? cap : 1) * sizeof(*next)) : NULL;
        if (next)
            x->next = next;
        if (!heads || !next) {
            x->count = 0;
            x->buckets = 0;
            return;
        }
        x->buckets = buckets;
        x->cap = cap;
    }
    memset(x->heads, 0xff, IDX_KEYS * x->buckets * sizeof(*x->heads));
    for (size_t i = s->obj_count; i-- > 0;) /* prepend from the end: chains in objs[] order */
        for (int k = 0; k < IDX_KEYS; k++) {
            const uint8_t *p;
            size_t n;
            x->next[k * x->cap + i] = IDX_END;
            if (!index_key(&s->objs[i], k, &p, &n))
                continue;
            uint32_t *head = &x->heads[k * x->buckets + index_bucket(x, k, p, n)];
            x->next[k * x->cap + i] = *head;
            *head = (uint32_t)i;
        }
    x->count = s->obj_count;
}

/* The first position in the chain of kind for key p[0..n), or IDX_END; index_next goes on. */
static uint32_t index_first(const struct hsm_service *s, int kind, const void *p, size_t n)
{
    const struct obj_index *x = &s->index;
    if (!x->buckets || x->count != s->obj_count)
        return IDX_END;
    return x->heads[kind * x->buckets + index_bucket(x, kind, p, n)];
}

static uint32_t index_next(const struct hsm_service *s, int kind, uint32_t at)
{
    return s->index.next[kind * s->index.cap + at];
}

static struct object *object_by_handle(struct hsm_service *s, uint64_t h)
{
    for (uint32_t i = index_first(s, IDX_HANDLE, &h, sizeof(h)); i != IDX_END;
         i = index_next(s, IDX_HANDLE, i))
        if (i < s->obj_count && s->objs[i].handle == h)
            return &s->objs[i];
    for (size_t i = 0; i < s->obj_count; i++) /* not indexed yet (or no such handle) */
        if (s->objs[i].handle == h)
            return &s->objs[i];
    return NULL;
}

/* An object the session may see, by handle. */
static struct object *visible_object(struct hsm_service *s, const struct conn *c, uint64_t h)
{
    struct object *o = object_by_handle(s, h);
    return o && can_see(s, c, o) ? o : NULL;
}

/* ---- key material ------------------------------------------------------ */

static EVP_PKEY *parse_key(const struct object *o)
{
    const struct owned_attr *a = obj_attr(o, HSM_ATTR_KEY_DER);
    const unsigned char *p;
    if (a) {
        p = a->value;
        return d2i_AutoPrivateKey(NULL, &p, (long)a->size);
    }
    a = obj_attr(o, HSM_ATTR_SPKI_DER);
    if (!a)
        return NULL;
    p = a->value;
    return d2i_PUBKEY(NULL, &p, (long)a->size);
}

/* ---- the sealed store -------------------------------------------------- */

static void put_object(struct hsm_buf *b, const struct object *o)
{
    hsm_put_u8(b, o->priv);
    hsm_put_u32(b, o->count);
    for (uint32_t i = 0; i < o->count; i++) {
        hsm_put_u64(b, o->attrs[i].type);
        hsm_put_bytes(b, o->attrs[i].value, o->attrs[i].size);
    }
}

static int parse_object(const uint8_t *p, size_t n, struct object *o, struct keep_error *err)
{
    struct keep_cursor c;
    uint8_t priv;
    uint32_t count;
    keep_cursor_init(&c, p, n);
    if (keep_cursor_u8(&c, "object.private", &priv, err) ||
        keep_cursor_u32(&c, "object.count", &count, err))
        return KEEP_E_HSM_STORE_FORMAT;
    if (count > 4 * HSM_ATTRS_MAX)
        return keep_fail(err, KEEP_E_HSM_STORE_FORMAT, "object has %u attributes", count);
    o->priv = priv != 0;
    o->token = true;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t type;
        const uint8_t *v;
        uint32_t size;
        if (keep_cursor_u64(&c, "attribute.type", &type, err) ||
            hsm_get_bytes(&c, "attribute.value", HSM_FRAME_MAX, &v, &size, err))
            return KEEP_E_HSM_STORE_FORMAT;
        if (obj_attr(o, type))
            return keep_fail(err, KEEP_E_HSM_STORE_FORMAT, "object names 0x%llx twice",
                             (unsigned long long)type);
        if (!set_attr(o, type, v, size))
            return keep_fail(err, KEEP_E_NOMEM, "no memory for an object");
    }
    if (!keep_cursor_at_end(&c))
        return keep_fail(err, KEEP_E_HSM_TRAILING, "object record has trailing bytes");
    return KEEP_OK;
}

static CK_RV save_store(struct hsm_service *s, const struct hsm_store *st)
{
    struct keep_error err;
    if (hsm_store_save(s->path, st, &err) != KEEP_OK) {
        fprintf(stderr, "keep-hsm: %s\n", err.message);
        return CKR_DEVICE_ERROR;
    }
    return CKR_OK;
}

static CK_RV save_objects(struct hsm_service *s);

/*
 * Header-only save (fail counters, flags). With the master key loaded every
 * save reseals under a new generation, so that a counted token (rollback
 * detection) protects PIN changes too; before any login only the header can
 * be written, under the same generation.
 */
static CK_RV save_header(struct hsm_service *s)
{
    if (s->mk_loaded)
        return save_objects(s);
    if (s->counter_lost)
        return CKR_DEVICE_ERROR;
    return save_store(s, &s->st);
}

/*
 * After generation gen reached the store: move the counter to it, and only
 * then may the write be acknowledged. A failed move stops further writes:
 * the store is one generation ahead, which the next start repairs.
 */
static CK_RV count_write(struct hsm_service *s, uint64_t gen)
{
    if (!s->counted)
        return CKR_OK;
    char msg[256] = "";
    uint64_t now = s->counter_value;
    int rc = s->counter.cas(s->counter.ctx, s->counter_value, gen, &now, msg, sizeof(msg));
    if (rc == 0) {
        s->counter_value = gen;
        return CKR_OK;
    }
    s->counter_lost = true;
    if (rc == 1)
        fprintf(stderr,
                "keep-hsm: the version counter moved under us: expected %llu, it holds %llu; "
                "refusing writes\n",
                (unsigned long long)s->counter_value, (unsigned long long)now);
    else
        fprintf(stderr, "keep-hsm: cannot move the version counter to %llu: %s; refusing writes\n",
                (unsigned long long)gen, msg);
    return CKR_DEVICE_ERROR;
}

/* Reseal every token object under a new generation and replace the file. */
static CK_RV save_objects(struct hsm_service *s)
{
    uint32_t count = 0;
    for (size_t i = 0; i < s->obj_count; i++)
        count += s->objs[i].token;
    struct hsm_record *recs = calloc(count ? count : 1, sizeof(*recs));
    if (!recs)
        return CKR_HOST_MEMORY;
    uint64_t gen = s->st.generation + 1;
    CK_RV rv = s->counter_lost ? CKR_DEVICE_ERROR : CKR_OK;
    uint32_t idx = 0;
    for (size_t i = 0; i < s->obj_count && rv == CKR_OK; i++) {
        if (!s->objs[i].token)
            continue;
        struct hsm_buf b = {0};
        put_object(&b, &s->objs[i]);
        recs[idx].handle = s->objs[i].handle;
        if (b.failed || hsm_store_seal_record(s->mk, gen, idx, count, &recs[idx], b.data, b.size))
            rv = CKR_HOST_MEMORY;
        OPENSSL_cleanse(b.data, b.size);
        hsm_buf_free(&b);
        idx++;
    }
    struct hsm_store next = s->st;
    next.records = recs;
    next.record_count = count;
    next.generation = gen;
    if (rv == CKR_OK)
        rv = save_store(s, &next);
    if (rv == CKR_OK) {
        hsm_store_free(&s->st);
        s->st = next;
        rv = count_write(s, gen); /* the file is the new one whatever the counter says */
    } else {
        hsm_store_free(&next);
    }
    return rv;
}

static bool add_object(struct hsm_service *s, struct object *o)
{
    if (!grow((void **)&s->objs, &s->obj_cap, s->obj_count, sizeof(*s->objs)))
        return false;
    s->objs[s->obj_count++] = *o;
    return true;
}

/* Unseal every record with the master key just unwrapped (first login). */
static CK_RV open_records(struct hsm_service *s)
{
    struct keep_error err;
    for (uint32_t i = 0; i < s->st.record_count; i++) {
        uint8_t *plain;
        size_t n;
        struct object o = {.handle = s->st.records[i].handle};
        int rc = hsm_store_open_record(s->mk, s->st.generation, i, s->st.record_count,
                                       &s->st.records[i], &plain, &n, &err);
        if (rc == KEEP_OK) {
            rc = parse_object(plain, n, &o, &err);
            OPENSSL_cleanse(plain, n);
            free(plain);
        }
        if (rc == KEEP_OK && (obj_attr(&o, HSM_ATTR_KEY_DER) || obj_attr(&o, HSM_ATTR_SPKI_DER)) &&
            !(o.key = parse_key(&o)))
            rc = keep_fail(&err, KEEP_E_HSM_STORE_FORMAT, "object %llu: key material unparsable",
                           (unsigned long long)o.handle);
        if (rc == KEEP_OK && !add_object(s, &o))
            rc = keep_fail(&err, KEEP_E_NOMEM, "no memory for objects");
        if (rc != KEEP_OK) {
            free_object(&o);
            fprintf(stderr, "keep-hsm: the token store is damaged or tampered with: %s\n",
                    err.message);
            return CKR_DEVICE_ERROR;
        }
        if (o.handle >= s->next_handle)
            s->next_handle = o.handle + 1;
    }
    return CKR_OK;
}

/* ---- lifecycle --------------------------------------------------------- */

int hsm_service_open(const char *store_path, uint32_t kdf_iterations, struct hsm_service **out,
                     struct keep_error *err)
{
    struct hsm_service *s = calloc(1, sizeof(*s));
    bool exists;
    if (!s || !(s->path = strdup(store_path))) {
        free(s);
        return keep_fail(err, KEEP_E_NOMEM, "no memory for the service");
    }
    s->kdf_iterations =
        kdf_iterations < HSM_KDF_ITERATIONS_MIN ? HSM_KDF_ITERATIONS_MIN : kdf_iterations;
    s->next_handle = 1;
    s->next_conn = 1;
    int rc = hsm_store_load(store_path, &s->st, &exists, err);
    if (rc) {
        hsm_service_free(s);
        return rc;
    }
    for (uint32_t i = 0; i < s->st.record_count; i++)
        if (s->st.records[i].handle >= s->next_handle)
            s->next_handle = s->st.records[i].handle + 1;
    if (!exists)
        memset(s->st.label, ' ', HSM_LABEL_SIZE);
    *out = s;
    return KEEP_OK;
}

int hsm_service_set_master_secret(struct hsm_service *s, const uint8_t *secret, size_t size,
                                  struct keep_error *err)
{
    bool sealed_by_service = s->st.flags & HSM_STORE_SERVICE_KEY;
    if (!secret && sealed_by_service)
        return keep_fail(err, KEEP_E_HSM_CONFIG,
                         "the token store is sealed under a master key secret from the "
                         "attestation service: start keep-hsm with --master-key-secret");
    if (!secret)
        return KEEP_OK;
    if (size < HSM_KEY_SIZE)
        return keep_fail(err, KEEP_E_HSM_CONFIG, "master key secret: %zu bytes, at least %d needed",
                         size, HSM_KEY_SIZE);
    if ((s->st.flags & HSM_STORE_INITIALIZED) && !sealed_by_service)
        return keep_fail(err, KEEP_E_HSM_CONFIG,
                         "the token store was sealed under the PINs alone; --master-key-secret "
                         "applies to a token initialised with it (C_InitToken)");
    unsigned int out_size = 0;
    static const char info[] = "keep-hsm service sealing key v1";
    if (!HMAC(EVP_sha256(), secret, (int)size, (const uint8_t *)info, sizeof(info) - 1,
              s->service_key, &out_size) ||
        out_size != HSM_KEY_SIZE)
        return keep_fail(err, KEEP_E_HSM_CONFIG, "master key secret: HMAC-SHA256 failed");
    s->service_key_set = true;
    return KEEP_OK;
}

int hsm_service_set_counter(struct hsm_service *s, const struct hsm_counter *counter,
                            struct keep_error *err)
{
    char msg[256] = "";
    uint64_t c = 0, g = s->st.generation;
    if (counter->get(counter->ctx, &c, msg, sizeof(msg)) != 0)
        return keep_fail(err, KEEP_E_HSM_COUNTER, "cannot read the token's version counter: %s",
                         msg);
    if (g < c)
        return keep_fail(err, KEEP_E_HSM_ROLLBACK,
                         "token rolled back: store generation %llu, service counter %llu",
                         (unsigned long long)g, (unsigned long long)c);
    if (g > c + 1 || g == UINT64_MAX)
        return keep_fail(err, KEEP_E_HSM_COUNTER,
                         "store generation %llu is ahead of service counter %llu by more than "
                         "the one write a kill can leave",
                         (unsigned long long)g, (unsigned long long)c);
    if (g == c + 1) { /* written, killed before the counter moved: finish the write */
        uint64_t now = c;
        int rc = counter->cas(counter->ctx, c, g, &now, msg, sizeof(msg));
        if (rc == 1)
            return keep_fail(err, KEEP_E_HSM_COUNTER,
                             "repairing the version counter: expected %llu, it holds %llu",
                             (unsigned long long)c, (unsigned long long)now);
        if (rc != 0)
            return keep_fail(err, KEEP_E_HSM_COUNTER,
                             "cannot move the version counter from %llu to %llu: %s",
                             (unsigned long long)c, (unsigned long long)g, msg);
        fprintf(stderr,
                "keep-hsm: store generation %llu was written but not counted (a stop between "
                "the two); the counter now holds it\n",
                (unsigned long long)g);
        c = g;
    }
    s->counter = *counter;
    s->counter_value = c;
    s->counted = true;
    s->counter_lost = false;
    return KEEP_OK;
}

static void drop_objects(struct hsm_service *s)
{
    for (size_t i = 0; i < s->obj_count; i++)
        free_object(&s->objs[i]);
    s->obj_count = 0;
}

void hsm_service_free(struct hsm_service *s)
{
    if (!s)
        return;
    drop_objects(s);
    free(s->objs);
    free(s->index.heads);
    free(s->index.next);
    free(s->sessions);
    free(s->conns);
    hsm_store_free(&s->st);
    OPENSSL_cleanse(s->mk, sizeof(s->mk));
    OPENSSL_cleanse(s->service_key, sizeof(s->service_key));
    free(s->evidence);
    free(s->path);
    free(s);
}

int hsm_service_set_evidence(struct hsm_service *s, const uint8_t *evidence, size_t size)
{
    free(s->evidence);
    s->evidence = NULL;
    s->evidence_size = 0;
    if (!size)
        return KEEP_OK;
    s->evidence = malloc(size);
    if (!s->evidence)
        return KEEP_E_NOMEM;
    memcpy(s->evidence, evidence, size);
    s->evidence_size = size;
    return KEEP_OK;
}

void hsm_service_set_evidence_fn(struct hsm_service *s, hsm_evidence_fn fn)
{
    s->evidence_fn = fn;
}

uint64_t hsm_service_connect(struct hsm_service *s)
{
    if (!grow((void **)&s->conns, &s->conn_cap, s->conn_count, sizeof(*s->conns)))
        return 0;
    uint64_t id = s->next_conn++;
    s->conns[s->conn_count++] = (struct conn){.id = id, .login = NOT_LOGGED_IN};
    return id;
}

static void destroy_session_objects(struct hsm_service *s, uint64_t session)
{
    for (size_t i = 0; i < s->obj_count;) {
        if (!s->objs[i].token && s->objs[i].session == session) {
            free_object(&s->objs[i]);
            s->objs[i] = s->objs[--s->obj_count];
        } else {
            i++;
        }
    }
}

static void close_session_at(struct hsm_service *s, size_t i)
{
    destroy_session_objects(s, s->sessions[i].handle);
    s->sessions[i] = s->sessions[--s->session_count];
}

/* Private session objects vanish on logout (2.40 5.6 C_Logout). */
static void logout(struct hsm_service *s, struct conn *c)
{
    for (size_t i = 0; i < s->obj_count;) {
        struct object *o = &s->objs[i];
        if (!o->token && o->priv && session_conn(s, o->session) == c->id) {
            free_object(o);
            s->objs[i] = s->objs[--s->obj_count];
        } else {
            i++;
        }
    }
    c->login = NOT_LOGGED_IN;
}

void hsm_service_disconnect(struct hsm_service *s, uint64_t id)
{
    for (size_t i = 0; i < s->session_count;)
        if (s->sessions[i].conn == id)
            close_session_at(s, i);
        else
            i++;
    for (size_t i = 0; i < s->conn_count; i++)
        if (s->conns[i].id == id) {
            s->conns[i] = s->conns[--s->conn_count];
            break;
        }
    reindex(s); /* its session objects are gone */
}

/* ---- request context --------------------------------------------------- */

struct req {
    struct hsm_service *s;
    struct conn *c;
    struct keep_cursor *cur;
    struct hsm_buf *out;
    struct session *sess; /* after get_session */
};

static CK_RV get_u64(struct req *r, const char *field, uint64_t *v)
{
    return keep_cursor_u64(r->cur, field, v, NULL) ? CKR_ARGUMENTS_BAD : CKR_OK;
}

static CK_RV get_session(struct req *r)
{
    uint64_t h;
    if (get_u64(r, "session", &h))
        return CKR_ARGUMENTS_BAD;
    r->sess = find_session(r->s, r->c->id, h);
    return r->sess ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
}

static CK_RV get_pin(struct req *r, const char *field, const uint8_t **pin, uint32_t *n)
{
    if (hsm_get_bytes(r->cur, field, 1024, pin, n, NULL))
        return CKR_ARGUMENTS_BAD;
    return *n < HSM_MIN_PIN || *n > HSM_MAX_PIN ? CKR_PIN_LEN_RANGE : CKR_OK;
}

static CK_RV at_end(struct req *r)
{
    return keep_cursor_at_end(r->cur) ? CKR_OK : CKR_ARGUMENTS_BAD;
}

/* ---- token and sessions ------------------------------------------------ */

static CK_RV op_hello(struct req *r)
{
    if (at_end(r))
        return CKR_ARGUMENTS_BAD;
    hsm_put_u32(r->out, HSM_WIRE_VERSION);
    hsm_put_bytes(r->out, r->s->evidence, r->s->evidence_size);
    return CKR_OK;
}

static CK_FLAGS pin_flags(uint32_t fails, CK_FLAGS low, CK_FLAGS final, CK_FLAGS locked)
{
    if (fails >= HSM_MAX_PIN_FAILS)
        return locked;
    if (fails == HSM_MAX_PIN_FAILS - 1)
        return low | final;
    return fails ? low : 0;
}

static CK_RV op_token_info(struct req *r)
{
    const struct hsm_store *st = &r->s->st;
    CK_FLAGS f = CKF_RNG | CKF_LOGIN_REQUIRED;
    if (at_end(r))
        return CKR_ARGUMENTS_BAD;
    if (st->flags & HSM_STORE_INITIALIZED)
        f |= CKF_TOKEN_INITIALIZED;
    if (st->flags & HSM_STORE_USER_PIN)
        f |= CKF_USER_PIN_INITIALIZED;
    f |= pin_flags(st->user_fails, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
                   CKF_USER_PIN_LOCKED);
    f |= pin_flags(st->so_fails, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
    uint64_t rw = 0;
    for (size_t i = 0; i < r->s->session_count; i++)
        rw += r->s->sessions[i].rw;
    hsm_put_bytes(r->out, st->label, HSM_LABEL_SIZE);
    hsm_put_u64(r->out, f);
    hsm_put_u64(r->out, r->s->session_count);
    hsm_put_u64(r->out, rw);
    return CKR_OK;
}

/*
 * The key that wraps the master key in the slot of who: PBKDF2 of the PIN and, for a token
 * sealed under the service's secret, HMAC-SHA256(service key, PBKDF2 key || who) of it, so
 * unwrapping needs both the PIN and the secret only a Keep with the right measurement gets.
 */
static bool slot_key(const struct hsm_service *s, const char *who, const uint8_t *pin, uint32_t n,
                     const uint8_t *salt, uint8_t kek[HSM_KEY_SIZE])
{
    if (hsm_store_kek(pin, n, salt, s->st.kdf_iterations, kek) != 0)
        return false;
    if (!(s->st.flags & HSM_STORE_SERVICE_KEY))
        return true;
    uint8_t in[HSM_KEY_SIZE + 8];
    size_t who_size = strlen(who);
    unsigned int out_size = 0;
    if (!s->service_key_set || who_size > sizeof(in) - HSM_KEY_SIZE)
        return false;
    memcpy(in, kek, HSM_KEY_SIZE);
    memcpy(in + HSM_KEY_SIZE, who, who_size);
    bool ok = HMAC(EVP_sha256(), s->service_key, HSM_KEY_SIZE, in, HSM_KEY_SIZE + who_size, kek,
                   &out_size) != NULL &&
              out_size == HSM_KEY_SIZE;
    OPENSSL_cleanse(in, sizeof(in));
    return ok;
}

/* Check a PIN against a wrapped master key; counts failures and locks (2.40 5.6). */
static CK_RV check_pin(struct hsm_service *s, const char *who, const uint8_t *pin, uint32_t n,
                       const uint8_t *salt, const uint8_t *wrapped, uint32_t *fails)
{
    uint8_t kek[HSM_KEY_SIZE], mk[HSM_KEY_SIZE];
    if (*fails >= HSM_MAX_PIN_FAILS)
        return CKR_PIN_LOCKED;
    bool ok = slot_key(s, who, pin, n, salt, kek) && hsm_store_unwrap(kek, who, wrapped, mk);
    OPENSSL_cleanse(kek, sizeof(kek));
    if (!ok) {
        (*fails)++;
        CK_RV rv = save_header(s);
        return rv ? rv : CKR_PIN_INCORRECT;
    }
    if (*fails) {
        *fails = 0;
        CK_RV rv = save_header(s);
        if (rv)
            return rv;
    }
    if (!s->mk_loaded) {
        memcpy(s->mk, mk, HSM_KEY_SIZE);
        s->mk_loaded = true;
        CK_RV rv = open_records(s);
        if (rv) {
            drop_objects(s);
            s->mk_loaded = false;
            OPENSSL_cleanse(s->mk, sizeof(s->mk));
            OPENSSL_cleanse(mk, sizeof(mk));
            return rv;
        }
    }
    OPENSSL_cleanse(mk, sizeof(mk));
    return CKR_OK;
}

static CK_RV wrap_for(struct hsm_service *s, const char *who, const uint8_t *pin, uint32_t n,
                      uint8_t *salt, uint8_t *wrapped)
{
    uint8_t kek[HSM_KEY_SIZE];
    bool ok = RAND_bytes(salt, HSM_SALT_SIZE) == 1 && slot_key(s, who, pin, n, salt, kek) &&
              hsm_store_wrap(kek, who, s->mk, wrapped) == 0;
    OPENSSL_cleanse(kek, sizeof(kek));
    return ok ? CKR_OK : CKR_FUNCTION_FAILED;
}

static CK_RV op_init_token(struct req *r)
{
    struct hsm_service *s = r->s;
    const uint8_t *pin, *label;
    uint32_t n, label_size;
    CK_RV rv = get_pin(r, "so_pin", &pin, &n);
    if (rv)
        return rv;
    if (hsm_get_bytes(r->cur, "label", HSM_LABEL_SIZE, &label, &label_size, NULL) || at_end(r))
        return CKR_ARGUMENTS_BAD;
    if (s->session_count)
        return CKR_SESSION_EXISTS;
    if (s->st.flags & HSM_STORE_INITIALIZED) {
        /* Re-initialising needs the current SO PIN (2.40 5.5 C_InitToken). */
        rv = check_pin(s, "so", pin, n, s->st.so_salt, s->st.so_wrapped, &s->st.so_fails);
        if (rv)
            return rv;
    }
    drop_objects(s);
    hsm_store_free(&s->st);
    uint64_t gen = s->st.generation + 1;
    memset(&s->st, 0, sizeof(s->st));
    s->st.generation = gen;
    s->st.kdf_iterations = s->kdf_iterations;
    memset(s->st.label, ' ', HSM_LABEL_SIZE);
    memcpy(s->st.label, label, label_size);
    if (RAND_bytes(s->mk, HSM_KEY_SIZE) != 1)
        return CKR_FUNCTION_FAILED;
    s->mk_loaded = true;
    s->st.flags = s->service_key_set ? HSM_STORE_SERVICE_KEY : 0; /* slot_key reads it */
    if ((rv = wrap_for(s, "so", pin, n, s->st.so_salt, s->st.so_wrapped)) != CKR_OK)
        return rv;
    s->st.flags |= HSM_STORE_INITIALIZED;
    if (s->service_key_set)
        fprintf(stderr, "keep-hsm: the token store is sealed under keys derived from the PINs "
                        "and the master key secret the attestation service released\n");
    else
        fprintf(stderr, "keep-hsm: WARNING: the token store is sealed under keys derived from the "
                        "PINs (PBKDF2); a weak PIN makes the stored keys guessable offline\n");
    return save_objects(s);
}

static CK_RV op_open_session(struct req *r)
{
    uint64_t flags;
    if (get_u64(r, "flags", &flags) || at_end(r))
        return CKR_ARGUMENTS_BAD;
    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    if (!(r->s->st.flags & HSM_STORE_INITIALIZED))
        return CKR_TOKEN_NOT_RECOGNIZED;
    if (!(flags & CKF_RW_SESSION) && r->c->login == CKU_SO)
        return CKR_SESSION_READ_WRITE_SO_EXISTS;
    struct hsm_service *s = r->s;
    if (s->session_count >= 65536 ||
        !grow((void **)&s->sessions, &s->session_cap, s->session_count, sizeof(*s->sessions)))
        return CKR_SESSION_COUNT;
    uint64_t h = s->next_handle++;
    s->sessions[s->session_count++] =
        (struct session){.handle = h, .conn = r->c->id, .rw = (flags & CKF_RW_SESSION) != 0};
    hsm_put_u64(r->out, h);
    return CKR_OK;
}

static CK_RV op_close_session(struct req *r)
{
    CK_RV rv = get_session(r);
    if (rv || (rv = at_end(r)) != CKR_OK)
        return rv;
    close_session_at(r->s, (size_t)(r->sess - r->s->sessions));
    bool any = false;
    for (size_t i = 0; i < r->s->session_count; i++)
        any |= r->s->sessions[i].conn == r->c->id;
    if (!any) /* closing an application's last session logs it out (2.40 5.6) */
        logout(r->s, r->c);
    return CKR_OK;
}

static CK_RV op_login(struct req *r)
{
    uint64_t user;
    const uint8_t *pin;
    uint32_t n;
    struct hsm_service *s = r->s;
    CK_RV rv = get_session(r);
    if (rv || get_u64(r, "user_type", &user) || (rv = get_pin(r, "pin", &pin, &n)) != CKR_OK ||
        (rv = at_end(r)) != CKR_OK)
        return rv ? rv : CKR_ARGUMENTS_BAD;
    if (user != CKU_SO && user != CKU_USER)
        return user == CKU_CONTEXT_SPECIFIC ? CKR_OPERATION_NOT_INITIALIZED : CKR_USER_TYPE_INVALID;
    if (r->c->login == user)
        return CKR_USER_ALREADY_LOGGED_IN;
    if (r->c->login != NOT_LOGGED_IN)
        return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    if (user == CKU_SO) {
        for (size_t i = 0; i < s->session_count; i++)
            if (s->sessions[i].conn == r->c->id && !s->sessions[i].rw)
                return CKR_SESSION_READ_ONLY_EXISTS;
        rv = check_pin(s, "so", pin, n, s->st.so_salt, s->st.so_wrapped, &s->st.so_fails);
    } else {
        if (!(s->st.flags & HSM_STORE_USER_PIN))
            return CKR_USER_PIN_NOT_INITIALIZED;
        rv = check_pin(s, "user", pin, n, s->st.user_salt, s->st.user_wrapped, &s->st.user_fails);
    }
    if (rv == CKR_OK)
        r->c->login = user;
    return rv;
}

static CK_RV op_logout(struct req *r)
{
    CK_RV rv = get_session(r);
    if (rv || (rv = at_end(r)) != CKR_OK)
        return rv;
    if (r->c->login == NOT_LOGGED_IN)
        return CKR_USER_NOT_LOGGED_IN;
    logout(r->s, r->c);
    return CKR_OK;
}

static CK_RV op_init_pin(struct req *r)
{
    const uint8_t *pin;
    uint32_t n;
    CK_RV rv = get_session(r);
    if (rv || (rv = get_pin(r, "pin", &pin, &n)) != CKR_OK || (rv = at_end(r)) != CKR_OK)
        return rv;
    if (r->c->login != CKU_SO)
        return CKR_USER_NOT_LOGGED_IN;
    if (!r->sess->rw)
        return CKR_SESSION_READ_ONLY;
    struct hsm_service *s = r->s;
    if ((rv = wrap_for(s, "user", pin, n, s->st.user_salt, s->st.user_wrapped)) != CKR_OK)
        return rv;
    s->st.flags |= HSM_STORE_USER_PIN;
    s->st.user_fails = 0;
    return save_header(s);
}

static CK_RV op_set_pin(struct req *r)
{
    const uint8_t *old, *pin;
    uint32_t on, n;
    struct hsm_service *s = r->s;
    CK_RV rv = get_session(r);
    if (rv || (rv = get_pin(r, "old_pin", &old, &on)) != CKR_OK ||
        (rv = get_pin(r, "new_pin", &pin, &n)) != CKR_OK || (rv = at_end(r)) != CKR_OK)
        return rv;
    if (!r->sess->rw)
        return CKR_SESSION_READ_ONLY;
    bool so = r->c->login == CKU_SO;
    if (!so && !(s->st.flags & HSM_STORE_USER_PIN))
        return CKR_USER_PIN_NOT_INITIALIZED;
    rv = so ? check_pin(s, "so", old, on, s->st.so_salt, s->st.so_wrapped, &s->st.so_fails)
            : check_pin(s, "user", old, on, s->st.user_salt, s->st.user_wrapped, &s->st.user_fails);
    if (rv)
        return rv;
    rv = so ? wrap_for(s, "so", pin, n, s->st.so_salt, s->st.so_wrapped)
            : wrap_for(s, "user", pin, n, s->st.user_salt, s->st.user_wrapped);
    return rv ? rv : save_header(s);
}

/* ---- objects and attributes (2.40 section 4) ---------------------------- */

static bool internal_attr(uint64_t type)
{
    return type == HSM_ATTR_KEY_DER || type == HSM_ATTR_SPKI_DER;
}

static bool computed_attr(uint64_t type)
{
    return type == HSM_ATTR_KEY_STATEMENT || type == HSM_ATTR_KEY_EVIDENCE;
}

/* Set only by the token (2.40 4.9-4.10: "MUST NOT be specified"). */
static bool token_set_attr(uint64_t type)
{
    return computed_attr(type) || type == CKA_LOCAL || type == CKA_ALWAYS_SENSITIVE ||
           type == CKA_NEVER_EXTRACTABLE || type == CKA_KEY_GEN_MECHANISM || internal_attr(type);
}

/* Key components that sensitivity protects (2.40 4.9 table 36 footnote 8, 4.10). */
static bool sensitive_attr(uint64_t type)
{
    return type == CKA_VALUE || type == CKA_PRIVATE_EXPONENT || type == CKA_PRIME_1 ||
           type == CKA_PRIME_2 || type == CKA_EXPONENT_1 || type == CKA_EXPONENT_2 ||
           type == CKA_COEFFICIENT;
}

static bool is_secret_class(CK_OBJECT_CLASS cls)
{
    return cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
}

/* A boolean attribute in a template must be one CK_BBOOL byte. */
static CK_RV check_template_values(const struct hsm_template *t)
{
    for (uint32_t i = 0; i < t->count; i++) {
        uint64_t type = t->a[i].type;
        bool is_bool = type == CKA_TOKEN || type == CKA_PRIVATE || type == CKA_MODIFIABLE ||
                       type == CKA_SENSITIVE || type == CKA_EXTRACTABLE || type == CKA_SIGN ||
                       type == CKA_VERIFY || type == CKA_DECRYPT || type == CKA_ENCRYPT ||
                       type == CKA_DERIVE || type == CKA_WRAP || type == CKA_UNWRAP ||
                       type == CKA_TRUSTED || type == CKA_WRAP_WITH_TRUSTED;
        bool is_ulong = type == CKA_CLASS || type == CKA_KEY_TYPE || type == CKA_MODULUS_BITS ||
                        type == CKA_CERTIFICATE_TYPE;
        if ((is_bool && t->a[i].size != 1) || (is_ulong && t->a[i].size != sizeof(CK_ULONG)))
            return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    return CKR_OK;
}

/*
 * Attributes whose rules keep-hsm does not enforce (2.40 4.8-4.10 templates
 * for wrap, unwrap and derive, allowed mechanisms): refused rather than stored,
 * so no client believes it is protected by them.
 */
static bool unenforced_attr(uint64_t type)
{
    return type == CKA_WRAP_TEMPLATE || type == CKA_UNWRAP_TEMPLATE ||
           type == CKA_DERIVE_TEMPLATE || type == CKA_ALLOWED_MECHANISMS;
}

/* Copy a client template into o; refuses attributes only the token sets. */
static CK_RV copy_template(struct object *o, const struct hsm_template *t)
{
    CK_RV rv = check_template_values(t);
    for (uint32_t i = 0; i < t->count && rv == CKR_OK; i++) {
        if (internal_attr(t->a[i].type) || unenforced_attr(t->a[i].type))
            return CKR_ATTRIBUTE_TYPE_INVALID;
        if (token_set_attr(t->a[i].type))
            return CKR_ATTRIBUTE_READ_ONLY;
        if (!set_attr(o, t->a[i].type, t->a[i].value, t->a[i].size))
            return CKR_HOST_MEMORY;
    }
    return rv;
}

/* Where a new object may go: token objects need a R/W session and the master key. */
static CK_RV place_object(struct req *r, struct object *o)
{
    o->token = attr_bool(o, CKA_TOKEN, false);
    o->priv = attr_bool(o, CKA_PRIVATE, is_secret_class(attr_ulong(o, CKA_CLASS, CKO_DATA)));
    if (!set_bool(o, CKA_TOKEN, o->token) || !set_bool(o, CKA_PRIVATE, o->priv) ||
        !set_default_bool(o, CKA_MODIFIABLE, true))
        return CKR_HOST_MEMORY;
    if (o->token && !r->sess->rw)
        return CKR_SESSION_READ_ONLY;
    if (o->priv && r->c->login != CKU_USER)
        return CKR_USER_NOT_LOGGED_IN;
    if (o->token && !r->s->mk_loaded)
        return CKR_USER_NOT_LOGGED_IN; /* nothing can be sealed before a login unwraps the key */
    /* 2.40 4.8: "CKA_TRUSTED ... can only be set to CK_TRUE by the SO user". */
    if (attr_bool(o, CKA_TRUSTED, false) && r->c->login != CKU_SO)
        return CKR_ATTRIBUTE_READ_ONLY;
    o->session = o->token ? 0 : r->sess->handle;
    o->handle = r->s->next_handle++;
    return CKR_OK;
}

/* Add o (placed) and persist it when it is a token object. */
static CK_RV commit_objects(struct req *r, struct object *objs, size_t n)
{
    bool token = false;
    for (size_t i = 0; i < n; i++) {
        if (!add_object(r->s, &objs[i])) {
            for (size_t j = 0; j < i; j++)
                r->s->obj_count--;
            return CKR_HOST_MEMORY;
        }
        token |= objs[i].token;
    }
    if (!token)
        return CKR_OK;
    CK_RV rv = save_objects(r->s);
    if (rv) /* not stored: take them back out, the caller frees them */
        r->s->obj_count -= n;
    return rv;
}

static CK_RV op_create_object(struct req *r)
{
    struct hsm_template t;
    struct object o = {0};
    CK_RV rv = get_session(r);
    if (rv || hsm_get_template(r->cur, "template", &t, NULL) || at_end(r))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    const struct hsm_attr *cls = hsm_template_find(&t, CKA_CLASS);
    if (!cls)
        return CKR_TEMPLATE_INCOMPLETE;
    if ((rv = copy_template(&o, &t)) == CKR_OK) {
        CK_OBJECT_CLASS c = attr_ulong(&o, CKA_CLASS, CKO_DATA);
        /* Key import is not offered: keys are born in the Keep (docs/HSM.md). */
        if (c != CKO_DATA && c != CKO_CERTIFICATE && c != CKO_PUBLIC_KEY)
            rv = CKR_ATTRIBUTE_VALUE_INVALID;
    }
    if (rv == CKR_OK)
        rv = place_object(r, &o);
    if (rv == CKR_OK)
        rv = commit_objects(r, &o, 1);
    if (rv) {
        free_object(&o);
        return rv;
    }
    hsm_put_u64(r->out, o.handle);
    return CKR_OK;
}

static CK_RV op_destroy_object(struct req *r)
{
    uint64_t h;
    CK_RV rv = get_session(r);
    if (rv || get_u64(r, "handle", &h) || at_end(r))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    struct object *o = visible_object(r->s, r->c, h);
    if (!o)
        return CKR_OBJECT_HANDLE_INVALID;
    if (o->token && !r->sess->rw)
        return CKR_SESSION_READ_ONLY;
    bool token = o->token;
    struct object gone = *o;
    *o = r->s->objs[--r->s->obj_count];
    if (token && (rv = save_objects(r->s)) != CKR_OK) {
        add_object(r->s, &gone); /* still stored: keep it */
        return rv;
    }
    free_object(&gone);
    return CKR_OK;
}

/* The key attestation statement for a private key made here (HSM_ATTR_KEY_STATEMENT). */
static bool key_statement(const struct object *o, struct hsm_buf *st)
{
    uint8_t *spki = NULL;
    int n = o->key ? i2d_PUBKEY(o->key, &spki) : -1;
    if (n <= 0 || attr_ulong(o, CKA_CLASS, CKO_DATA) != CKO_PRIVATE_KEY ||
        !attr_bool(o, CKA_LOCAL, false)) {
        OPENSSL_free(spki);
        return false;
    }
    uint8_t flags = (uint8_t)(1u | (attr_bool(o, CKA_ALWAYS_SENSITIVE, false) ? 2u : 0u) |
                              (attr_bool(o, CKA_NEVER_EXTRACTABLE, false) ? 4u : 0u));
    hsm_put(st, HSM_KEY_STATEMENT_LABEL, strlen(HSM_KEY_STATEMENT_LABEL));
    hsm_put_u8(st, flags);
    hsm_put(st, spki, (size_t)n);
    OPENSSL_free(spki);
    return !st->failed;
}

/* Compute a key attestation attribute into *out (a value to free()); false: none. */
static bool attest_key(struct hsm_service *s, const struct object *o, uint64_t type,
                       struct owned_attr *out)
{
    struct hsm_buf st = {0};
    if (!key_statement(o, &st)) {
        hsm_buf_free(&st);
        return false;
    }
    if (type == HSM_ATTR_KEY_STATEMENT) {
        out->value = st.data;
        out->size = (uint32_t)st.size;
        return true;
    }
    uint8_t rd[64] = {0};
    unsigned int n = 0;
    bool ok = s->evidence_fn && EVP_Digest(st.data, st.size, rd, &n, EVP_sha256(), NULL) == 1;
    hsm_buf_free(&st);
    uint8_t *buf = ok ? malloc(16384) : NULL;
    long got = buf ? s->evidence_fn(rd, buf, 16384) : -1;
    if (got <= 0) {
        free(buf);
        return false;
    }
    out->value = buf;
    out->size = (uint32_t)got;
    return true;
}

static CK_RV op_get_attrs(struct req *r)
{
    uint64_t h;
    uint32_t n;
    CK_RV rv = get_session(r);
    if (rv || get_u64(r, "handle", &h) || keep_cursor_u32(r->cur, "count", &n, NULL))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    if (n > HSM_ATTRS_MAX || keep_cursor_remaining(r->cur) != (size_t)n * 16)
        return CKR_ARGUMENTS_BAD;
    struct object *o = visible_object(r->s, r->c, h);
    if (!o)
        return CKR_OBJECT_HANDLE_INVALID;
    CK_OBJECT_CLASS cls = attr_ulong(o, CKA_CLASS, CKO_DATA);
    bool hidden = is_secret_class(cls) &&
                  (attr_bool(o, CKA_SENSITIVE, true) || !attr_bool(o, CKA_EXTRACTABLE, false));
    for (uint32_t i = 0; i < n; i++) {
        uint64_t type, cap;
        get_u64(r, "type", &type);
        get_u64(r, "cap", &cap);
        struct owned_attr computed = {0};
        const struct owned_attr *a = internal_attr(type) ? NULL : obj_attr(o, type);
        if (computed_attr(type))
            a = attest_key(r->s, o, type, &computed) ? &computed : NULL;
        if (hidden && sensitive_attr(type)) { /* the key material is in HSM_ATTR_KEY_DER */
            rv = CKR_ATTRIBUTE_SENSITIVE;     /* 2.40 5.7: sensitive or unextractable */
            a = NULL;
        } else if (!a && rv == CKR_OK) {
            rv = CKR_ATTRIBUTE_TYPE_INVALID;
        }
        if (!a) {
            hsm_put_u64(r->out, CK_UNAVAILABLE_INFORMATION);
            hsm_put_bytes(r->out, NULL, 0);
        } else if (cap == UINT64_MAX) { /* pValue NULL: the length only */
            hsm_put_u64(r->out, a->size);
            hsm_put_bytes(r->out, NULL, 0);
        } else if (cap < a->size) {
            if (rv == CKR_OK)
                rv = CKR_BUFFER_TOO_SMALL;
            hsm_put_u64(r->out, CK_UNAVAILABLE_INFORMATION);
            hsm_put_bytes(r->out, NULL, 0);
        } else {
            hsm_put_u64(r->out, a->size);
            hsm_put_bytes(r->out, a->value, a->size);
        }
        free(computed.value);
    }
    return rv;
}

/* What C_SetAttributeValue may change (2.40 4.4 table 15 footnotes; 4.9 SENSITIVE/EXTRACTABLE). */
static CK_RV check_change(const struct object *o, const struct hsm_attr *a)
{
    switch (a->type) {
    case CKA_LABEL:
    case CKA_ID:
    case CKA_SUBJECT:
    case CKA_START_DATE:
    case CKA_END_DATE:
    case CKA_APPLICATION:
        return CKR_OK;
    case CKA_SIGN:
    case CKA_VERIFY:
    case CKA_ENCRYPT:
    case CKA_DECRYPT:
    case CKA_DERIVE:
    case CKA_WRAP:
    case CKA_UNWRAP:
        return a->size == 1 ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
    case CKA_SENSITIVE: /* may only become true */
        if (a->size != 1)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        return a->value[0] || !attr_bool(o, CKA_SENSITIVE, false) ? CKR_OK
                                                                  : CKR_ATTRIBUTE_READ_ONLY;
    case CKA_WRAP_WITH_TRUSTED: /* 2.40 4.9 table 36 footnote 11: may only become true */
        if (a->size != 1)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        return a->value[0] || !attr_bool(o, CKA_WRAP_WITH_TRUSTED, false) ? CKR_OK
                                                                          : CKR_ATTRIBUTE_READ_ONLY;
    case CKA_EXTRACTABLE: /* may only become false */
        if (a->size != 1)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        return !a->value[0] || attr_bool(o, CKA_EXTRACTABLE, false) ? CKR_OK
                                                                    : CKR_ATTRIBUTE_READ_ONLY;
    default:
        return internal_attr(a->type) ? CKR_ATTRIBUTE_TYPE_INVALID : CKR_ATTRIBUTE_READ_ONLY;
    }
}

static CK_RV op_set_attrs(struct req *r)
{
    uint64_t h;
    struct hsm_template t;
    CK_RV rv = get_session(r);
    if (rv || get_u64(r, "handle", &h) || hsm_get_template(r->cur, "template", &t, NULL) ||
        at_end(r))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    struct object *o = visible_object(r->s, r->c, h);
    if (!o)
        return CKR_OBJECT_HANDLE_INVALID;
    if (o->token && !r->sess->rw)
        return CKR_SESSION_READ_ONLY;
    if (!attr_bool(o, CKA_MODIFIABLE, true))
        return CKR_ACTION_PROHIBITED;
    for (uint32_t i = 0; i < t.count; i++)
        if ((rv = check_change(o, &t.a[i])) != CKR_OK)
            return rv;
    for (uint32_t i = 0; i < t.count; i++)
        if (!set_attr(o, t.a[i].type, t.a[i].value, t.a[i].size))
            return CKR_HOST_MEMORY;
    return o->token ? save_objects(r->s) : CKR_OK;
}

static bool matches(const struct object *o, const struct hsm_template *t)
{
    for (uint32_t i = 0; i < t->count; i++) {
        const struct owned_attr *a = obj_attr(o, t->a[i].type);
        if (internal_attr(t->a[i].type) || !a || a->size != t->a[i].size ||
            (a->size && memcmp(a->value, t->a[i].value, a->size) != 0))
            return false;
    }
    return true;
}

/* Append o's handle to a FIND reply when c may see it and it matches t. */
static void find_one(struct req *r, const struct object *o, const struct hsm_template *t,
                     uint32_t *n)
{
    if (*n < HSM_HANDLES_MAX && can_see(r->s, r->c, o) && matches(o, t)) {
        hsm_put_u64(r->out, o->handle);
        (*n)++;
    }
}

/*
 * The most selective indexed attribute the template names (CKA_ID, then CKA_LABEL, then
 * CKA_CLASS), or -1: a template without any of them is answered by a scan.
 */
static int find_key(const struct hsm_template *t, const struct hsm_attr **a)
{
    static const int order[] = {IDX_ID, IDX_LABEL, IDX_CLASS};
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
        if ((*a = hsm_template_find(t, index_types[order[k]])) != NULL)
            return order[k];
    return -1;
}

static CK_RV op_find(struct req *r)
{
    struct hsm_template t;
    const struct hsm_attr *key;
    CK_RV rv = get_session(r);
    if (rv || hsm_get_template(r->cur, "template", &t, NULL) || at_end(r))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    size_t count_at = r->out->size;
    uint32_t n = 0;
    hsm_put_u32(r->out, 0);
    int kind = find_key(&t, &key);
    uint32_t i = kind < 0 ? IDX_END : index_first(r->s, kind, key->value, key->size);
    if (kind >= 0 && r->s->index.count == r->s->obj_count && r->s->index.buckets) {
        for (; i != IDX_END; i = index_next(r->s, kind, i)) /* the chain, in objs[] order */
            find_one(r, &r->s->objs[i], &t, &n);
    } else {
        for (size_t j = 0; j < r->s->obj_count; j++)
            find_one(r, &r->s->objs[j], &t, &n);
    }
    if (r->out->failed)
        return CKR_HOST_MEMORY;
    uint8_t le[4] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24)};
    memcpy(r->out->data + count_at, le, 4);
    return CKR_OK;
}

/* ---- key generation (2.40 5.14; curves and RSA in "PKCS#11 Mechanisms") -- */

static bool put_der_attr(struct object *o, uint64_t type, EVP_PKEY *key, bool priv)
{
    uint8_t *der = NULL;
    int n = priv ? i2d_PrivateKey(key, &der) : i2d_PUBKEY(key, &der);
    bool ok = n > 0 && set_attr(o, type, der, (size_t)n);
    if (der)
        OPENSSL_clear_free(der, n > 0 ? (size_t)n : 0);
    return ok;
}

static bool put_bn_attr(struct object *o, uint64_t type, EVP_PKEY *key, const char *name)
{
    BIGNUM *bn = NULL;
    uint8_t buf[1024];
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
        return false;
    int n = BN_bn2bin(bn, buf);
    BN_free(bn);
    return n > 0 && set_attr(o, type, buf, (size_t)n);
}

/* CKA_EC_POINT: the DER OCTET STRING of the uncompressed point (2.40 Mechanisms 2.3.3). */
static bool put_ec_point(struct object *o, EVP_PKEY *key)
{
    uint8_t pt[133], der[136];
    size_t n;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &n) != 1 ||
        n > 127)
        return false;
    der[0] = 0x04;
    der[1] = (uint8_t)n;
    memcpy(der + 2, pt, n);
    return set_attr(o, CKA_EC_POINT, der, n + 2);
}

static bool common_key_attrs(struct object *o, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt,
                             CK_MECHANISM_TYPE gen)
{
    return set_ulong(o, CKA_CLASS, cls) && set_ulong(o, CKA_KEY_TYPE, kt) &&
           set_bool(o, CKA_LOCAL, true) && set_ulong(o, CKA_KEY_GEN_MECHANISM, gen) &&
           set_default_bool(o, CKA_DERIVE, false);
}

/* Sensitivity defaults: sensitive and unextractable unless the template says otherwise. */
static bool private_key_attrs(struct object *o, CK_KEY_TYPE kt)
{
    bool sensitive = attr_bool(o, CKA_SENSITIVE, true);
    bool extractable = attr_bool(o, CKA_EXTRACTABLE, false);
    return set_bool(o, CKA_SENSITIVE, sensitive) && set_bool(o, CKA_EXTRACTABLE, extractable) &&
           set_bool(o, CKA_ALWAYS_SENSITIVE, sensitive) &&
           set_bool(o, CKA_NEVER_EXTRACTABLE, !extractable) &&
           set_default_bool(o, CKA_SIGN, true) && set_default_bool(o, CKA_DECRYPT, kt == CKK_RSA) &&
           set_default_bool(o, CKA_UNWRAP, false) && set_default_bool(o, CKA_WRAP, false) &&
           set_default_bool(o, CKA_ALWAYS_AUTHENTICATE, false);
}

static bool public_key_attrs(struct object *o, CK_KEY_TYPE kt)
{
    return set_default_bool(o, CKA_VERIFY, true) &&
           set_default_bool(o, CKA_ENCRYPT, kt == CKK_RSA) && set_default_bool(o, CKA_WRAP, false);
}

static CK_RV generate(const struct hsm_mech *m, const struct object *pub, EVP_PKEY **key)
{
    if (m->param_size)
        return CKR_MECHANISM_PARAM_INVALID;
    if (m->type == CKM_EC_KEY_PAIR_GEN) {
        const struct owned_attr *p = obj_attr(pub, CKA_EC_PARAMS);
        return p ? hsm_crypto_gen_ec(p->value, p->size, key) : CKR_TEMPLATE_INCOMPLETE;
    }
    if (m->type == CKM_RSA_PKCS_KEY_PAIR_GEN) {
        const struct owned_attr *e = obj_attr(pub, CKA_PUBLIC_EXPONENT);
        if (!obj_attr(pub, CKA_MODULUS_BITS))
            return CKR_TEMPLATE_INCOMPLETE;
        return hsm_crypto_gen_rsa(attr_ulong(pub, CKA_MODULUS_BITS, 0), e ? e->value : NULL,
                                  e ? e->size : 0, key);
    }
    return CKR_MECHANISM_INVALID;
}

static CK_RV fill_pair(struct object *pub, struct object *priv, EVP_PKEY *key,
                       CK_MECHANISM_TYPE gen)
{
    bool ec = gen == CKM_EC_KEY_PAIR_GEN;
    CK_KEY_TYPE kt = ec ? CKK_EC : CKK_RSA;
    bool ok = common_key_attrs(pub, CKO_PUBLIC_KEY, kt, gen) && public_key_attrs(pub, kt) &&
              common_key_attrs(priv, CKO_PRIVATE_KEY, kt, gen) && private_key_attrs(priv, kt) &&
              put_der_attr(pub, HSM_ATTR_SPKI_DER, key, false) &&
              put_der_attr(priv, HSM_ATTR_KEY_DER, key, true);
    if (ok && ec) {
        ok = put_ec_point(pub, key); /* may move pub's attributes: look up after it */
        const struct owned_attr *p = obj_attr(pub, CKA_EC_PARAMS);
        ok = ok && p && set_attr(priv, CKA_EC_PARAMS, p->value, p->size);
    } else if (ok) {
        ok = put_bn_attr(pub, CKA_MODULUS, key, OSSL_PKEY_PARAM_RSA_N) &&
             put_bn_attr(pub, CKA_PUBLIC_EXPONENT, key, OSSL_PKEY_PARAM_RSA_E) &&
             put_bn_attr(priv, CKA_MODULUS, key, OSSL_PKEY_PARAM_RSA_N) &&
             put_bn_attr(priv, CKA_PUBLIC_EXPONENT, key, OSSL_PKEY_PARAM_RSA_E);
    }
    /* Same CKA_ID on both halves unless the templates chose one (clients find pairs by it). */
    const struct owned_attr *id = obj_attr(pub, CKA_ID);
    if (ok && id && !obj_attr(priv, CKA_ID))
        ok = set_attr(priv, CKA_ID, id->value, id->size);
    if (!ok)
        return CKR_HOST_MEMORY;
    EVP_PKEY_up_ref(key);
    pub->key = parse_key(pub);
    priv->key = key;
    return pub->key ? CKR_OK : CKR_FUNCTION_FAILED;
}

static CK_RV op_generate_key_pair(struct req *r)
{
    struct hsm_mech m;
    struct hsm_template tpub, tpriv;
    struct object pair[2] = {0};
    EVP_PKEY *key = NULL;
    CK_RV rv = get_session(r);
    if (rv || hsm_get_mech(r->cur, &m, NULL) || hsm_get_template(r->cur, "public", &tpub, NULL) ||
        hsm_get_template(r->cur, "private", &tpriv, NULL) || at_end(r))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    if ((rv = copy_template(&pair[0], &tpub)) == CKR_OK &&
        (rv = copy_template(&pair[1], &tpriv)) == CKR_OK &&
        attr_ulong(&pair[0], CKA_CLASS, CKO_PUBLIC_KEY) == CKO_PUBLIC_KEY &&
        attr_ulong(&pair[1], CKA_CLASS, CKO_PRIVATE_KEY) == CKO_PRIVATE_KEY &&
        (rv = generate(&m, &pair[0], &key)) == CKR_OK &&
        (rv = fill_pair(&pair[0], &pair[1], key, m.type)) == CKR_OK &&
        (rv = place_object(r, &pair[0])) == CKR_OK && (rv = place_object(r, &pair[1])) == CKR_OK)
        rv = commit_objects(r, pair, 2);
    else if (rv == CKR_OK && !key)
        rv = CKR_TEMPLATE_INCONSISTENT;
    EVP_PKEY_free(key);
    if (rv) {
        free_object(&pair[0]);
        free_object(&pair[1]);
        return rv;
    }
    hsm_put_u64(r->out, pair[0].handle);
    hsm_put_u64(r->out, pair[1].handle);
    return CKR_OK;
}

/* C_GenerateKey: AES (16, 24, 32 bytes) and generic secrets for HMAC (16..64 bytes). */
static CK_RV secret_attrs(struct object *o, const struct hsm_mech *m)
{
    bool aes = m->type == CKM_AES_KEY_GEN;
    CK_ULONG len = attr_ulong(o, CKA_VALUE_LEN, 0);
    if (m->type != CKM_AES_KEY_GEN && m->type != CKM_GENERIC_SECRET_KEY_GEN)
        return CKR_MECHANISM_INVALID;
    if (m->param_size)
        return CKR_MECHANISM_PARAM_INVALID;
    if (!obj_attr(o, CKA_VALUE_LEN))
        return CKR_TEMPLATE_INCOMPLETE;
    if (aes ? (len != 16 && len != 24 && len != 32) : (len < 16 || len > 64))
        return CKR_KEY_SIZE_RANGE;
    if (obj_attr(o, CKA_VALUE))
        return CKR_ATTRIBUTE_READ_ONLY; /* the value is made here */
    uint8_t value[64];
    if (RAND_bytes(value, (int)len) != 1)
        return CKR_FUNCTION_FAILED;
    bool sensitive = attr_bool(o, CKA_SENSITIVE, true);
    bool extractable = attr_bool(o, CKA_EXTRACTABLE, false);
    bool ok = set_attr(o, CKA_VALUE, value, len) && set_ulong(o, CKA_CLASS, CKO_SECRET_KEY) &&
              set_ulong(o, CKA_KEY_TYPE, aes ? CKK_AES : CKK_GENERIC_SECRET) &&
              set_bool(o, CKA_LOCAL, true) && set_ulong(o, CKA_KEY_GEN_MECHANISM, m->type) &&
              set_bool(o, CKA_SENSITIVE, sensitive) && set_bool(o, CKA_EXTRACTABLE, extractable) &&
              set_bool(o, CKA_ALWAYS_SENSITIVE, sensitive) &&
              set_bool(o, CKA_NEVER_EXTRACTABLE, !extractable) &&
              set_default_bool(o, CKA_ENCRYPT, aes) && set_default_bool(o, CKA_DECRYPT, aes) &&
              set_default_bool(o, CKA_SIGN, !aes) && set_default_bool(o, CKA_VERIFY, !aes) &&
              set_default_bool(o, CKA_WRAP, false) && set_default_bool(o, CKA_UNWRAP, false) &&
              set_default_bool(o, CKA_DERIVE, false) &&
              set_default_bool(o, CKA_ALWAYS_AUTHENTICATE, false);
    OPENSSL_cleanse(value, sizeof(value));
    return ok ? CKR_OK : CKR_HOST_MEMORY;
}

static CK_RV op_generate_key(struct req *r)
{
    struct hsm_mech m;
    struct hsm_template t;
    struct object o = {0};
    CK_RV rv = get_session(r);
    if (rv || hsm_get_mech(r->cur, &m, NULL) || hsm_get_template(r->cur, "template", &t, NULL) ||
        at_end(r))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    if ((rv = copy_template(&o, &t)) == CKR_OK &&
        attr_ulong(&o, CKA_CLASS, CKO_SECRET_KEY) != CKO_SECRET_KEY)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK && (rv = secret_attrs(&o, &m)) == CKR_OK &&
        (rv = place_object(r, &o)) == CKR_OK)
        rv = commit_objects(r, &o, 1);
    if (rv) {
        free_object(&o);
        return rv;
    }
    hsm_put_u64(r->out, o.handle);
    return CKR_OK;
}

/* ---- cryptographic operations ------------------------------------------ */

/* The key for an operation: visible, of the right class, allowed to do it (2.40 5.x *Init). */
static CK_RV op_key(struct req *r, uint64_t h, CK_OBJECT_CLASS cls, uint64_t usage,
                    struct object **out)
{
    struct object *o = visible_object(r->s, r->c, h);
    if (!o)
        return CKR_KEY_HANDLE_INVALID;
    CK_OBJECT_CLASS have = attr_ulong(o, CKA_CLASS, CKO_DATA);
    /* A secret key serves both sides (HMAC sign and verify, AES encrypt and decrypt). */
    bool secret = have == CKO_SECRET_KEY && obj_attr(o, CKA_VALUE);
    if (!secret && (have != cls || !o->key))
        return CKR_KEY_TYPE_INCONSISTENT;
    if (!attr_bool(o, usage, false))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    *out = o;
    return CKR_OK;
}

/* A secret key's value (AES, generic secret), or NULL for an asymmetric key. */
static const struct owned_attr *secret_value(const struct object *o)
{
    return attr_ulong(o, CKA_CLASS, CKO_DATA) == CKO_SECRET_KEY ? obj_attr(o, CKA_VALUE) : NULL;
}

/* session, mech, key, data: the common head of sign, verify, encrypt and decrypt. */
static CK_RV crypt_args(struct req *r, struct hsm_mech *m, uint64_t *key, const uint8_t **data,
                        uint32_t *size)
{
    CK_RV rv = get_session(r);
    if (rv || hsm_get_mech(r->cur, m, NULL) || get_u64(r, "key", key) ||
        hsm_get_bytes(r->cur, "data", HSM_FRAME_MAX, data, size, NULL))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    return CKR_OK;
}

static CK_RV op_sign(struct req *r)
{
    struct hsm_mech m;
    uint64_t h;
    const uint8_t *data;
    uint32_t n;
    struct object *k;
    CK_RV rv = crypt_args(r, &m, &h, &data, &n);
    if (rv || (rv = at_end(r)) != CKR_OK || (rv = op_key(r, h, CKO_PRIVATE_KEY, CKA_SIGN, &k)))
        return rv;
    size_t at = r->out->size;
    hsm_put_u32(r->out, 0);
    const struct owned_attr *v = secret_value(k);
    rv = v ? hsm_crypto_hmac(&m, v->value, v->size, data, n, r->out)
           : hsm_crypto_sign(k->key, &m, data, n, r->out);
    if (rv == CKR_OK && !r->out->failed) {
        uint32_t len = (uint32_t)(r->out->size - at - 4);
        uint8_t le[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                         (uint8_t)(len >> 24)};
        memcpy(r->out->data + at, le, 4);
    }
    return rv;
}

static CK_RV op_verify(struct req *r)
{
    struct hsm_mech m;
    uint64_t h;
    const uint8_t *data, *sig;
    uint32_t n, sn;
    struct object *k;
    CK_RV rv = crypt_args(r, &m, &h, &data, &n);
    if (rv)
        return rv;
    if (hsm_get_bytes(r->cur, "signature", 1024, &sig, &sn, NULL) || at_end(r))
        return CKR_ARGUMENTS_BAD;
    if ((rv = op_key(r, h, CKO_PUBLIC_KEY, CKA_VERIFY, &k)) != CKR_OK)
        return rv;
    const struct owned_attr *v = secret_value(k);
    if (!v)
        return hsm_crypto_verify(k->key, &m, data, n, sig, sn);
    struct hsm_buf mac = {0};
    rv = hsm_crypto_hmac(&m, v->value, v->size, data, n, &mac);
    if (rv == CKR_OK && mac.size != sn)
        rv = CKR_SIGNATURE_LEN_RANGE;
    else if (rv == CKR_OK && CRYPTO_memcmp(mac.data, sig, sn) != 0)
        rv = CKR_SIGNATURE_INVALID;
    hsm_buf_free(&mac);
    return rv;
}

static CK_RV crypt_op(struct req *r, bool decrypt)
{
    struct hsm_mech m;
    uint64_t h;
    const uint8_t *data;
    uint32_t n;
    struct object *k;
    CK_RV rv = crypt_args(r, &m, &h, &data, &n);
    if (rv || (rv = at_end(r)) != CKR_OK)
        return rv;
    rv = decrypt ? op_key(r, h, CKO_PRIVATE_KEY, CKA_DECRYPT, &k)
                 : op_key(r, h, CKO_PUBLIC_KEY, CKA_ENCRYPT, &k);
    if (rv)
        return rv;
    struct hsm_buf tmp = {0};
    const struct owned_attr *v = secret_value(k);
    if (v)
        rv = hsm_crypto_aes(&m, v->value, v->size, data, n, decrypt, &tmp);
    else
        rv = decrypt ? hsm_crypto_decrypt(k->key, &m, data, n, &tmp)
                     : hsm_crypto_encrypt(k->key, &m, data, n, &tmp);
    if (rv == CKR_OK)
        hsm_put_bytes(r->out, tmp.data, tmp.size);
    OPENSSL_cleanse(tmp.data, tmp.size);
    hsm_buf_free(&tmp);
    return rv;
}

static CK_RV op_encrypt(struct req *r)
{
    return crypt_op(r, false);
}

static CK_RV op_decrypt(struct req *r)
{
    return crypt_op(r, true);
}

static CK_RV op_digest(struct req *r)
{
    struct hsm_mech m;
    const uint8_t *data;
    uint32_t n;
    CK_RV rv = get_session(r);
    if (rv || hsm_get_mech(r->cur, &m, NULL) ||
        hsm_get_bytes(r->cur, "data", HSM_FRAME_MAX, &data, &n, NULL) || at_end(r))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    struct hsm_buf tmp = {0};
    rv = hsm_crypto_digest(&m, data, n, &tmp);
    if (rv == CKR_OK)
        hsm_put_bytes(r->out, tmp.data, tmp.size);
    hsm_buf_free(&tmp);
    return rv;
}

static CK_RV op_random(struct req *r)
{
    uint32_t n;
    CK_RV rv = get_session(r);
    if (rv || keep_cursor_u32(r->cur, "size", &n, NULL) || at_end(r))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    if (n > HSM_FRAME_MAX / 2)
        return CKR_ARGUMENTS_BAD;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return CKR_HOST_MEMORY;
    rv = RAND_bytes(buf, (int)n) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
    if (rv == CKR_OK)
        hsm_put_bytes(r->out, buf, n);
    free(buf);
    return rv;
}

/* ---- key management: derive, wrap, unwrap (2.40 5.16) -------------------- */

static bool is_aes_secret(const struct object *o)
{
    return attr_ulong(o, CKA_CLASS, CKO_DATA) == CKO_SECRET_KEY &&
           attr_ulong(o, CKA_KEY_TYPE, CKK_VENDOR_DEFINED) == CKK_AES && obj_attr(o, CKA_VALUE);
}

/*
 * The length of a key made from n bytes (derived or unwrapped): CKA_VALUE_LEN
 * when the template has it, else n. Unwrapping needs it to equal n; deriving
 * keeps the leading len bytes of the shared secret (PKCS#11 2.40 does not fix
 * which bytes; docs/HSM.md states ours). AES: 16, 24 or 32 bytes.
 */
static CK_RV made_length(const struct object *o, CK_KEY_TYPE kt, size_t n, bool unwrap, size_t *len)
{
    bool given = obj_attr(o, CKA_VALUE_LEN) != NULL;
    CK_ULONG want = given ? attr_ulong(o, CKA_VALUE_LEN, 0) : n;
    if (given && (unwrap ? want != n : want == 0 || want > n))
        return CKR_TEMPLATE_INCONSISTENT;
    if (kt == CKK_AES && want != 16 && want != 24 && want != 32)
        return unwrap ? CKR_WRAPPED_KEY_INVALID
                      : (given ? CKR_TEMPLATE_INCONSISTENT : CKR_TEMPLATE_INCOMPLETE);
    if (want > 64)
        return CKR_KEY_SIZE_RANGE;
    *len = want;
    return CKR_OK;
}

/*
 * A secret key object from a value the token computed (2.40 4.9 and 5.16):
 * the template names the class (CKO_SECRET_KEY) and type (AES or generic
 * secret) and may not give CKA_VALUE. CKA_LOCAL is false; CKA_ALWAYS_SENSITIVE
 * and CKA_NEVER_EXTRACTABLE hold only if they held for the base key
 * (always_sensitive, never_extractable; both false for an unwrapped key) and
 * hold for the new one.
 */
static CK_RV made_secret(struct object *o, const struct hsm_template *t, const uint8_t *value,
                         size_t n, bool unwrap, bool always_sensitive, bool never_extractable)
{
    CK_RV rv = copy_template(o, t);
    if (rv)
        return rv;
    if (obj_attr(o, CKA_VALUE))
        return CKR_TEMPLATE_INCONSISTENT;
    if (!obj_attr(o, CKA_KEY_TYPE))
        return CKR_TEMPLATE_INCOMPLETE;
    CK_KEY_TYPE kt = attr_ulong(o, CKA_KEY_TYPE, 0);
    if (attr_ulong(o, CKA_CLASS, CKO_SECRET_KEY) != CKO_SECRET_KEY ||
        (kt != CKK_AES && kt != CKK_GENERIC_SECRET))
        return CKR_TEMPLATE_INCONSISTENT;
    size_t len;
    if ((rv = made_length(o, kt, n, unwrap, &len)) != CKR_OK)
        return rv;
    bool aes = kt == CKK_AES;
    bool sensitive = attr_bool(o, CKA_SENSITIVE, true);
    bool extractable = attr_bool(o, CKA_EXTRACTABLE, false);
    bool ok = set_attr(o, CKA_VALUE, value, len) && set_ulong(o, CKA_CLASS, CKO_SECRET_KEY) &&
              set_ulong(o, CKA_VALUE_LEN, len) && set_bool(o, CKA_LOCAL, false) &&
              set_ulong(o, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION) &&
              set_bool(o, CKA_SENSITIVE, sensitive) && set_bool(o, CKA_EXTRACTABLE, extractable) &&
              set_bool(o, CKA_ALWAYS_SENSITIVE, always_sensitive && sensitive) &&
              set_bool(o, CKA_NEVER_EXTRACTABLE, never_extractable && !extractable) &&
              set_default_bool(o, CKA_ENCRYPT, aes) && set_default_bool(o, CKA_DECRYPT, aes) &&
              set_default_bool(o, CKA_SIGN, !aes) && set_default_bool(o, CKA_VERIFY, !aes) &&
              set_default_bool(o, CKA_WRAP, false) && set_default_bool(o, CKA_UNWRAP, false) &&
              set_default_bool(o, CKA_DERIVE, false) && set_default_bool(o, CKA_TRUSTED, false) &&
              set_default_bool(o, CKA_WRAP_WITH_TRUSTED, false) &&
              set_default_bool(o, CKA_ALWAYS_AUTHENTICATE, false);
    return ok ? CKR_OK : CKR_HOST_MEMORY;
}

/* Place and store a made key and answer its handle; on failure free it. */
static CK_RV finish_made_key(struct req *r, struct object *o, CK_RV rv)
{
    if (rv == CKR_OK && (rv = place_object(r, o)) == CKR_OK)
        rv = commit_objects(r, o, 1);
    if (rv) {
        free_object(o);
        return rv;
    }
    hsm_put_u64(r->out, o->handle);
    return CKR_OK;
}

static CK_RV op_derive_key(struct req *r)
{
    struct hsm_mech m;
    struct hsm_template t;
    struct object o = {0}, *base;
    uint64_t h;
    CK_RV rv = get_session(r);
    if (rv || hsm_get_mech(r->cur, &m, NULL) || get_u64(r, "base", &h) ||
        hsm_get_template(r->cur, "template", &t, NULL) || at_end(r))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    if (m.type != CKM_ECDH1_DERIVE)
        return CKR_MECHANISM_INVALID;
    if ((rv = op_key(r, h, CKO_PRIVATE_KEY, CKA_DERIVE, &base)) != CKR_OK)
        return rv;
    if (attr_ulong(base, CKA_KEY_TYPE, CKK_VENDOR_DEFINED) != CKK_EC || !base->key)
        return CKR_KEY_TYPE_INCONSISTENT;
    struct hsm_buf secret = {0};
    rv = hsm_crypto_ecdh(base->key, &m, &secret);
    if (rv == CKR_OK)
        rv = secret.failed ? CKR_HOST_MEMORY
                           : made_secret(&o, &t, secret.data, secret.size, false,
                                         attr_bool(base, CKA_ALWAYS_SENSITIVE, false),
                                         attr_bool(base, CKA_NEVER_EXTRACTABLE, false));
    OPENSSL_cleanse(secret.data, secret.size);
    hsm_buf_free(&secret);
    return finish_made_key(r, &o, rv);
}

static bool is_wrap_mech(uint64_t type)
{
    return type == CKM_AES_KEY_WRAP || type == CKM_AES_KEY_WRAP_KWP;
}

/* The AES key that wraps or unwraps: visible, AES, with CKA_WRAP or CKA_UNWRAP. */
static CK_RV wrapping_key(struct req *r, uint64_t h, bool unwrap, const struct object **out)
{
    const struct object *w = visible_object(r->s, r->c, h);
    if (!w)
        return unwrap ? CKR_UNWRAPPING_KEY_HANDLE_INVALID : CKR_WRAPPING_KEY_HANDLE_INVALID;
    if (!is_aes_secret(w))
        return unwrap ? CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT : CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
    if (!attr_bool(w, unwrap ? CKA_UNWRAP : CKA_WRAP, false))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    *out = w;
    return CKR_OK;
}

static CK_RV op_wrap_key(struct req *r)
{
    struct hsm_mech m;
    uint64_t wh, kh;
    const struct object *w;
    CK_RV rv = get_session(r);
    if (rv || hsm_get_mech(r->cur, &m, NULL) || get_u64(r, "wrapping", &wh) ||
        get_u64(r, "key", &kh) || at_end(r))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    if (!is_wrap_mech(m.type))
        return CKR_MECHANISM_INVALID;
    if ((rv = wrapping_key(r, wh, false, &w)) != CKR_OK)
        return rv;
    const struct object *k = visible_object(r->s, r->c, kh);
    if (!k)
        return CKR_KEY_HANDLE_INVALID;
    const struct owned_attr *v = secret_value(k);
    if (!v) /* private keys are not wrapped (docs/HSM.md) */
        return CKR_KEY_NOT_WRAPPABLE;
    /* 2.40 4.9 table 36 footnote: CKA_EXTRACTABLE false forbids wrapping. */
    if (!attr_bool(k, CKA_EXTRACTABLE, false))
        return CKR_KEY_UNEXTRACTABLE;
    /* 2.40 4.9: CKA_WRAP_WITH_TRUSTED keys are wrapped only by CKA_TRUSTED keys. */
    if (attr_bool(k, CKA_WRAP_WITH_TRUSTED, false) && !attr_bool(w, CKA_TRUSTED, false))
        return CKR_KEY_NOT_WRAPPABLE;
    const struct owned_attr *wv = secret_value(w);
    struct hsm_buf tmp = {0};
    rv = hsm_crypto_key_wrap(&m, wv->value, wv->size, v->value, v->size, false, &tmp);
    if (rv == CKR_OK)
        hsm_put_bytes(r->out, tmp.data, tmp.size);
    hsm_buf_free(&tmp);
    return rv;
}

static CK_RV op_unwrap_key(struct req *r)
{
    struct hsm_mech m;
    struct hsm_template t;
    struct object o = {0};
    uint64_t uh;
    const uint8_t *wrapped;
    uint32_t wn;
    const struct object *u;
    CK_RV rv = get_session(r);
    if (rv || hsm_get_mech(r->cur, &m, NULL) || get_u64(r, "unwrapping", &uh) ||
        hsm_get_bytes(r->cur, "wrapped", HSM_ATTR_MAX, &wrapped, &wn, NULL) ||
        hsm_get_template(r->cur, "template", &t, NULL) || at_end(r))
        return rv ? rv : CKR_ARGUMENTS_BAD;
    if (!is_wrap_mech(m.type))
        return CKR_MECHANISM_INVALID;
    if ((rv = wrapping_key(r, uh, true, &u)) != CKR_OK)
        return rv;
    const struct owned_attr *uv = secret_value(u);
    struct hsm_buf plain = {0};
    rv = hsm_crypto_key_wrap(&m, uv->value, uv->size, wrapped, wn, true, &plain);
    if (rv == CKR_OK)
        rv = plain.failed ? CKR_HOST_MEMORY
                          : made_secret(&o, &t, plain.data, plain.size, true, false, false);
    OPENSSL_cleanse(plain.data, plain.size);
    hsm_buf_free(&plain);
    return finish_made_key(r, &o, rv);
}

/* ---- dispatch ---------------------------------------------------------- */

typedef CK_RV (*op_fn)(struct req *);

static op_fn op_handler(uint8_t op)
{
    switch (op) {
    case HSM_OP_HELLO:
        return op_hello;
    case HSM_OP_TOKEN_INFO:
        return op_token_info;
    case HSM_OP_INIT_TOKEN:
        return op_init_token;
    case HSM_OP_OPEN_SESSION:
        return op_open_session;
    case HSM_OP_CLOSE_SESSION:
        return op_close_session;
    case HSM_OP_LOGIN:
        return op_login;
    case HSM_OP_LOGOUT:
        return op_logout;
    case HSM_OP_INIT_PIN:
        return op_init_pin;
    case HSM_OP_SET_PIN:
        return op_set_pin;
    case HSM_OP_CREATE_OBJECT:
        return op_create_object;
    case HSM_OP_DESTROY_OBJECT:
        return op_destroy_object;
    case HSM_OP_GET_ATTRS:
        return op_get_attrs;
    case HSM_OP_SET_ATTRS:
        return op_set_attrs;
    case HSM_OP_FIND:
        return op_find;
    case HSM_OP_GENERATE_KEY:
        return op_generate_key;
    case HSM_OP_GENERATE_KEY_PAIR:
        return op_generate_key_pair;
    case HSM_OP_SIGN:
        return op_sign;
    case HSM_OP_VERIFY:
        return op_verify;
    case HSM_OP_ENCRYPT:
        return op_encrypt;
    case HSM_OP_DECRYPT:
        return op_decrypt;
    case HSM_OP_DIGEST:
        return op_digest;
    case HSM_OP_RANDOM:
        return op_random;
    default:
        return NULL; /* HSM_OP_CERTIFY_KEY: reserved; key attestation is an attribute */
    }
}

/* The key management ops (their own block: wire.h). */
static op_fn key_op_handler(uint8_t op)
{
    switch (op) {
    case HSM_OP_DERIVE_KEY:
        return op_derive_key;
    case HSM_OP_WRAP_KEY:
        return op_wrap_key;
    case HSM_OP_UNWRAP_KEY:
        return op_unwrap_key;
    default:
        return NULL;
    }
}

/*
 * Ops whose handlers only read the service's state (connections, sessions, objects) and write
 * only their reply: hsm_pool runs these side by side. Key use reads shared EVP_PKEYs, which
 * OpenSSL allows from several threads at once; RAND is per thread. An op not listed here
 * (anything that logs in, creates, changes or destroys) runs alone.
 */
bool hsm_service_concurrent(uint8_t op)
{
    switch (op) {
    case HSM_OP_SIGN:
    case HSM_OP_VERIFY:
    case HSM_OP_ENCRYPT:
    case HSM_OP_DECRYPT:
    case HSM_OP_DIGEST:
    case HSM_OP_RANDOM:
        return true;
    default:
        return false;
    }
}

/* GET_ATTRS answers per attribute even when one of them fails (2.40 5.7). */
static bool keeps_output(uint8_t op, CK_RV rv)
{
    return op == HSM_OP_GET_ATTRS &&
           (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
            rv == CKR_BUFFER_TOO_SMALL);
}

/*
 * Ops that never add, remove or change an object: the rest are followed by reindex. (The
 * concurrent ops must be here: they run side by side and only read the index.)
 */
static bool may_change_objects(uint8_t op)
{
    switch (op) {
    case HSM_OP_HELLO:
    case HSM_OP_TOKEN_INFO:
    case HSM_OP_OPEN_SESSION:
    case HSM_OP_GET_ATTRS:
    case HSM_OP_FIND:
    case HSM_OP_WRAP_KEY:
        return false;
    default:
        return !hsm_service_concurrent(op);
    }
}

int hsm_service_handle(struct hsm_service *s, uint64_t conn, const uint8_t *frame, size_t size,
                       struct hsm_buf *out, struct keep_error *err)
{
    struct hsm_header h;
    struct keep_cursor cur;
    int rc = hsm_frame_open(frame, size, &h, &cur, err);
    if (rc)
        return rc;
    struct conn *c = find_conn(s, conn);
    if (!c)
        return keep_fail(err, KEEP_E_HSM_OP, "connection %llu is unknown",
                         (unsigned long long)conn);
    size_t start = hsm_frame_begin(out, h.op, h.id);
    size_t rv_at = out->size;
    hsm_put_u64(out, 0);
    struct req r = {.s = s, .c = c, .cur = &cur, .out = out};
    op_fn fn = op_handler(h.op);
    if (!fn)
        fn = key_op_handler(h.op);
    CK_RV rv = fn ? fn(&r) : CKR_FUNCTION_NOT_SUPPORTED;
    if (may_change_objects(h.op))
        reindex(s);
    if (out->failed)
        return keep_fail(err, KEEP_E_NOMEM, "no memory for a reply");
    if (rv != CKR_OK && !keeps_output(h.op, rv))
        out->size = rv_at + 8;
    for (int i = 0; i < 8; i++)
        out->data[rv_at + (size_t)i] = (uint8_t)(rv >> (8 * i));
    hsm_frame_end(out, start);
    return out->failed
               ? keep_fail(err, KEEP_E_HSM_FRAME_LENGTH, "reply above %u bytes", HSM_FRAME_MAX)
               : KEEP_OK;
}
