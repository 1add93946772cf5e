/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel DCAP collateral: the two transport forms, the exact signed bytes,
 * the signature and chain checks TCB Info and QE Identity share, and the
 * CRLs. See collateral.h for what is checked.
 */
#include "attest/collateral.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509v3.h>

#include "attest/x509.h"
#include "common/cursor.h"
#include "common/util.h"

/* ---- JSON: strict loading and typed members ---- */

int keep_coll_json_load(const char *text, size_t size, const char *what, json_t **out,
                        struct keep_error *err)
{
    json_error_t jerr;
    if (!text || size == 0)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "%s is empty", what);
    if (size > KEEP_COLLATERAL_MAX_SIZE)
        return keep_fail(err, KEEP_E_BAD_JSON, "%s is %zu bytes; at most %u are accepted", what,
                         size, KEEP_COLLATERAL_MAX_SIZE);
    /* Duplicate keys would let the signed text and the parsed value disagree. */
    json_t *root = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return keep_fail(err, KEEP_E_BAD_JSON, "%s is not JSON: %s at line %d column %d", what,
                         jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE, "%s is not a JSON object", what);
    }
    *out = root;
    return KEEP_OK;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static const char *wanted_type_name(json_type type)
{
    switch (type) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    default:
        return "another type";
    }
}

int keep_coll_member(json_t *obj, const char *path, const char *key, json_type type, json_t **out,
                     struct keep_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_MISSING, "%s.%s is missing", path, key);
    if (json_typeof(v) != type)
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE, "%s.%s is %s; must be %s", path, key,
                         json_type_name(v), wanted_type_name(type));
    *out = v;
    return KEEP_OK;
}

int keep_coll_uint(json_t *obj, const char *path, const char *key, uint64_t max, uint64_t *out,
                   struct keep_error *err)
{
    json_t *v;
    int rc = keep_coll_member(obj, path, key, JSON_INTEGER, &v, err);
    if (rc)
        return rc;
    json_int_t n = json_integer_value(v);
    if (n < 0 || (uint64_t)n > max)
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE, "%s.%s is %lld; must be 0..%llu", path,
                         key, (long long)n, (unsigned long long)max);
    *out = (uint64_t)n;
    return KEEP_OK;
}

int keep_coll_string(json_t *obj, const char *path, const char *key, const char **out,
                     struct keep_error *err)
{
    json_t *v;
    int rc = keep_coll_member(obj, path, key, JSON_STRING, &v, err);
    if (rc)
        return rc;
    *out = json_string_value(v);
    return KEEP_OK;
}

int keep_coll_hex(json_t *obj, const char *path, const char *key, uint8_t *out, size_t size,
                  struct keep_error *err)
{
    json_t *v;
    char field[160];
    int rc = keep_coll_member(obj, path, key, JSON_STRING, &v, err);
    if (rc)
        return rc;
    size_t len = json_string_length(v);
    if (len != 2 * size)
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE,
                         "%s.%s has %zu hex digits; must have %zu (%zu bytes)", path, key, len,
                         2 * size, size);
    snprintf(field, sizeof(field), "%s.%s", path, key);
    return keep_hex_decode(json_string_value(v), len, out, size, field, err);
}

int keep_coll_time(json_t *obj, const char *path, const char *key, int64_t *out,
                   struct keep_error *err)
{
    const char *text;
    struct keep_error terr;
    int rc = keep_coll_string(obj, path, key, &text, err);
    if (rc)
        return rc;
    if (keep_parse_time(text, out, &terr) != KEEP_OK)
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE,
                         "%s.%s is '%.40s'; must be an RFC 3339 UTC time", path, key, text);
    return KEEP_OK;
}

int keep_coll_status(json_t *obj, const char *path, const char *key, enum keep_tcb_status *out,
                     struct keep_error *err)
{
    const char *text;
    int rc = keep_coll_string(obj, path, key, &text, err);
    if (rc)
        return rc;
    if (keep_tcb_status_parse(text, out, NULL) != KEEP_OK)
        return keep_fail(err, KEEP_E_COLLATERAL_TCB_STATUS_UNKNOWN,
                         "%s.%s is '%.40s'; not a status Intel defines", path, key, text);
    return KEEP_OK;
}

int keep_coll_advisories(json_t *obj, const char *path, const char ***ids, size_t *count,
                         struct keep_error *err)
{
    json_t *arr, *v;
    size_t i;
    *ids = NULL;
    *count = 0;
    /* advisoryIDs is optional: [PCS] lists it only for levels with advisories. */
    if (!json_object_get(obj, "advisoryIDs"))
        return KEEP_OK;
    int rc = keep_coll_member(obj, path, "advisoryIDs", JSON_ARRAY, &arr, err);
    if (rc)
        return rc;
    size_t n = json_array_size(arr);
    if (n == 0)
        return KEEP_OK;
    const char **out = calloc(n, sizeof(*out));
    if (!out)
        return keep_fail(err, KEEP_E_NOMEM, "%s.advisoryIDs: out of memory", path);
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v)) {
            free(out);
            return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE,
                             "%s.advisoryIDs[%zu] is %s; must be a string", path, i,
                             json_type_name(v));
        }
        out[i] = json_string_value(v);
    }
    *ids = out;
    *count = n;
    return KEEP_OK;
}

int keep_coll_signature(const char *hex, const char *what, uint8_t out[64], struct keep_error *err)
{
    size_t len = strlen(hex);
    if (len != 128)
        return keep_fail(err, KEEP_E_COLLATERAL_SIGNATURE_FORMAT,
                         "%s has %zu hex digits; must have 128 (ECDSA P-256 r||s)", what, len);
    if (keep_hex_decode(hex, len, out, 64, what, NULL) != KEEP_OK)
        return keep_fail(err, KEEP_E_COLLATERAL_SIGNATURE_FORMAT, "%s is not hexadecimal", what);
    return KEEP_OK;
}

/* ---- The exact signed bytes ---- */

/*
 * Intel signs the bytes of the "tcbInfo" (resp. "enclaveIdentity") value as
 * they appear in the served file, not a canonical re-serialisation, so the
 * verifier must hash precisely that substring. Care taken here:
 *
 *  1. jansson has already parsed the whole text (with duplicate keys
 *     rejected), so it is valid JSON: the scanner below only has to tell
 *     strings from structure. In valid JSON a '"' opens or closes a string
 *     unless a backslash precedes it inside a string, and a backslash in a
 *     string always escapes exactly the next byte ("\uXXXX" continues with
 *     hex digits, which are neither quote nor backslash).
 *  2. Only a key at depth 1 (directly in the top-level object, in key
 *     position: after '{' or a depth-1 ',') is compared, byte for byte, with
 *     the wanted key, so a nested member of the same name is never taken.
 *  3. The value's extent is found by counting '{' '[' against '}' ']'
 *     outside strings, from its opening '{' to the matching close.
 *  4. Finally the cut text is parsed again by jansson and must be equal to
 *     the member of the first parse. Whatever the scanner did, the bytes
 *     whose signature is checked mean exactly what the policy code reads.
 *
 * Every byte is read through the bounds-checked cursor.
 */
static bool next_byte(struct keep_cursor *c, uint8_t *b)
{
    return keep_cursor_u8(c, "json", b, NULL) == KEEP_OK;
}

/* The cursor is just past an opening quote; move it just past the closing one. */
static bool skip_string(struct keep_cursor *c)
{
    uint8_t b;
    while (next_byte(c, &b)) {
        if (b == '\\') {
            if (!next_byte(c, &b))
                return false;
        } else if (b == '"') {
            return true;
        }
    }
    return false;
}

static bool peek_byte(const struct keep_cursor *c, uint8_t *b)
{
    struct keep_cursor probe = *c;
    return next_byte(&probe, b);
}

static void skip_space(struct keep_cursor *c)
{
    uint8_t b;
    while (peek_byte(c, &b) && (b == ' ' || b == '\t' || b == '\n' || b == '\r'))
        (void)next_byte(c, &b);
}

/* The cursor is just past the value's opening '{'; move it past the matching '}'. */
static bool skip_balanced(struct keep_cursor *c)
{
    size_t depth = 1;
    uint8_t b;
    while (depth > 0) {
        if (!next_byte(c, &b))
            return false;
        if (b == '"') {
            if (!skip_string(c))
                return false;
        } else if (b == '{' || b == '[') {
            depth++;
        } else if (b == '}' || b == ']') {
            depth--;
        }
    }
    return true;
}

static int range_fail(struct keep_error *err, const char *key, const char *why)
{
    return keep_fail(err, KEEP_E_COLLATERAL_SIGNED_RANGE,
                     "the text of \"%s\" cannot be cut out: %s", key, why);
}

/* At a depth-1 key that equals `key`: record its object value's range. */
static int take_member_value(struct keep_cursor *c, const char *key, size_t *off, size_t *len,
                             struct keep_error *err)
{
    uint8_t b;
    skip_space(c);
    if (!next_byte(c, &b) || b != ':')
        return range_fail(err, key, "no ':' after the key");
    skip_space(c);
    size_t start = keep_cursor_offset(c);
    if (!next_byte(c, &b) || b != '{')
        return range_fail(err, key, "its value is not an object");
    if (!skip_balanced(c))
        return range_fail(err, key, "its object is not closed");
    *off = start;
    *len = keep_cursor_offset(c) - start;
    return KEEP_OK;
}

static int find_member_range(const char *text, size_t size, const char *key, size_t *off,
                             size_t *len, struct keep_error *err)
{
    struct keep_cursor c;
    size_t key_size = strlen(key), depth = 1;
    bool expecting_key = true, found = false;
    uint8_t b;

    keep_cursor_init(&c, text, size);
    skip_space(&c);
    if (!next_byte(&c, &b) || b != '{')
        return range_fail(err, key, "the text does not start with an object");
    while (depth > 0) {
        if (!next_byte(&c, &b))
            return range_fail(err, key, "the top-level object is not closed");
        if (b == '"') {
            size_t start = keep_cursor_offset(&c);
            if (!skip_string(&c))
                return range_fail(err, key, "a string is not closed");
            size_t raw = keep_cursor_offset(&c) - start - 1; /* without the quotes */
            bool is_key = depth == 1 && expecting_key;
            expecting_key = false;
            if (is_key && raw == key_size && memcmp(text + start, key, key_size) == 0) {
                if (found)
                    return range_fail(err, key, "the key appears twice");
                int rc = take_member_value(&c, key, off, len, err);
                if (rc)
                    return rc;
                found = true;
            }
        } else if (b == '{' || b == '[') {
            depth++;
        } else if (b == '}' || b == ']') {
            depth--;
        } else if (b == ',' && depth == 1) {
            expecting_key = true;
        }
    }
    skip_space(&c);
    if (!keep_cursor_at_end(&c))
        return range_fail(err, key, "bytes follow the top-level object");
    if (!found)
        return range_fail(err, key, "the key is not written plainly at the top level");
    return KEEP_OK;
}

int keep_json_member_text(const char *text, size_t size, json_t *root, const char *key, size_t *off,
                          size_t *len, struct keep_error *err)
{
    json_error_t jerr;
    json_t *member = json_object_get(root, key);
    if (!member)
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_MISSING, "%s is missing", key);
    if (!json_is_object(member))
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE, "%s is %s; must be an object", key,
                         json_type_name(member));
    int rc = find_member_range(text, size, key, off, len, err);
    if (rc)
        return rc;
    json_t *cut = json_loadb(text + *off, *len, JSON_REJECT_DUPLICATES, &jerr);
    bool same = cut && json_equal(cut, member);
    json_decref(cut);
    if (!same)
        return range_fail(err, key, "the cut text does not parse to the same value");
    return KEEP_OK;
}

/* ---- Signature, chain and dates ---- */

static int check_signing_key(EVP_PKEY *key, const char *what, struct keep_error *err)
{
    char group[64];
    size_t group_len = 0;
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
        !EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof(group), &group_len) ||
        strcmp(group, SN_X9_62_prime256v1) != 0)
        return keep_fail(err, KEEP_E_COLLATERAL_SIGNING_KEY,
                         "%s signing certificate's key is not ECDSA P-256", what);
    return KEEP_OK;
}

/* ECDSA P-256 / SHA-256 over data, signature given as raw r||s. */
static int verify_raw_ecdsa(EVP_PKEY *key, const uint8_t *data, size_t size, const uint8_t sig[64],
                            const char *what, struct keep_error *err)
{
    int rc = KEEP_E_CRYPTO;
    unsigned char *der = NULL;
    EVP_MD_CTX *ctx = NULL;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        rc = keep_fail(err, KEEP_E_CRYPTO, "%s: OpenSSL failed to set up ECDSA", what);
        goto out;
    }
    int der_size = i2d_ECDSA_SIG(es, &der);
    ctx = EVP_MD_CTX_new();
    if (der_size <= 0 || !ctx || EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) != 1) {
        rc = keep_fail(err, KEEP_E_CRYPTO, "%s: OpenSSL failed to set up ECDSA", what);
        goto out;
    }
    if (EVP_DigestVerify(ctx, der, (size_t)der_size, data, size) == 1)
        rc = KEEP_OK;
    else
        rc = keep_fail(err, KEEP_E_COLLATERAL_SIGNATURE,
                       "%s signature does not verify over its %zu signed bytes", what, size);
out:
    ECDSA_SIG_free(es);
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/*
 * [PCS] TCB Info and Enclave Identity are signed by the "Intel SGX TCB Signing" certificate,
 * which the Intel SGX Root CA issues itself and which is no CA. A chain to the root is not
 * enough: the root also issues the PCK Platform and Processor CAs, and under them every
 * platform's PCK, whose keys live in platforms an attacker may own. Any of them could otherwise
 * sign a TCB Info that calls every TCB UpToDate.
 */
static int check_collateral_signer(X509 *signer, STACK_OF(X509) * roots, const char *what,
                                   struct keep_error *err)
{
    char cn[128];
    bool by_root = false;
    for (int i = 0; i < sk_X509_num(roots) && !by_root; i++)
        by_root = X509_check_issued(sk_X509_value(roots, i), signer) == X509_V_OK;
    if (by_root && X509_check_ca(signer) == 0)
        return KEEP_OK;
    return keep_fail(err, KEEP_E_X509_UNTRUSTED,
                     "%s signing certificate '%s' is %s; only the TCB Signing certificate, "
                     "issued by the root itself and not a CA, may sign collateral",
                     what, keep_x509_subject_cn(signer, cn, sizeof(cn)),
                     by_root ? "a CA" : "not issued by the root itself");
}

int keep_coll_verify_signed(const char *what, const char *signed_text, size_t signed_size,
                            bool has_signature, const uint8_t signature[64], STACK_OF(X509) * chain,
                            STACK_OF(X509) * roots, X509_CRL *root_ca_crl, int64_t time,
                            struct keep_error *err)
{
    if (!chain || sk_X509_num(chain) < 1)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING,
                         "%s issuer chain was not given: its signature cannot be checked", what);
    if (!has_signature)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "%s signature was not given", what);
    if (!roots || sk_X509_num(roots) < 1)
        return keep_fail(err, KEEP_E_USAGE, "%s: no trusted roots given", what);

    X509 *signer = sk_X509_value(chain, 0);
    STACK_OF(X509) *intermediates = sk_X509_new_null();
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    int rc = KEEP_OK;
    if (!intermediates || !crls) {
        rc = keep_fail(err, KEEP_E_NOMEM, "%s: out of memory", what);
        goto out;
    }
    for (int i = 1; i < sk_X509_num(chain); i++) {
        if (!sk_X509_push(intermediates, sk_X509_value(chain, i))) {
            rc = keep_fail(err, KEEP_E_NOMEM, "%s: out of memory", what);
            goto out;
        }
    }
    if (root_ca_crl && !sk_X509_CRL_push(crls, root_ca_crl)) {
        rc = keep_fail(err, KEEP_E_NOMEM, "%s: out of memory", what);
        goto out;
    }
    /* [PCS] the TCB Signing certificate is issued by the Intel SGX Root CA. */
    struct keep_x509_verify_opts opts = {.time = time, .crls = crls, .require_crls = false};
    char chain_name[96];
    snprintf(chain_name, sizeof(chain_name), "%s issuer chain", what);
    rc = keep_x509_verify_chain(signer, intermediates, roots, &opts, chain_name, err);
    if (rc == KEEP_OK)
        rc = check_collateral_signer(signer, roots, what, err);
    if (rc)
        goto out;
    EVP_PKEY *key = X509_get0_pubkey(signer);
    rc = check_signing_key(key, what, err);
    if (rc)
        goto out;
    rc = verify_raw_ecdsa(key, (const uint8_t *)signed_text, signed_size, signature, what, err);
out:
    sk_X509_free(intermediates); /* shallow: the certificates belong to chain */
    sk_X509_CRL_free(crls);
    return rc;
}

int keep_coll_levels_array(json_t *obj, const char *path, json_t **arr, struct keep_error *err)
{
    int rc = keep_coll_member(obj, path, "tcbLevels", JSON_ARRAY, arr, err);
    if (rc)
        return rc;
    /* Without levels there is nothing to match a platform or a QE against. */
    if (json_array_size(*arr) == 0)
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE, "%s.tcbLevels is empty", path);
    return KEEP_OK;
}

int keep_coll_level_tcb(json_t *lv, const char *path, json_t **tcb, char *tpath, size_t tpath_size,
                        struct keep_error *err)
{
    if (!json_is_object(lv))
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE, "%s is not an object", path);
    int rc = keep_coll_member(lv, path, "tcb", JSON_OBJECT, tcb, err);
    if (rc)
        return rc;
    snprintf(tpath, tpath_size, "%s.tcb", path);
    return KEEP_OK;
}

int keep_coll_level_status(json_t *lv, const char *path, int64_t *tcb_date,
                           enum keep_tcb_status *status, const char ***advisory_ids,
                           size_t *advisory_count, struct keep_error *err)
{
    int rc;
    if ((rc = keep_coll_time(lv, path, "tcbDate", tcb_date, err)) ||
        (rc = keep_coll_status(lv, path, "tcbStatus", status, err)) ||
        (rc = keep_coll_advisories(lv, path, advisory_ids, advisory_count, err)))
        return rc;
    return KEEP_OK;
}

int keep_coll_copy_signed_text(const char *what, const char *body, size_t body_size, char **text,
                               size_t *size, struct keep_error *err)
{
    *text = malloc(body_size);
    if (!*text)
        return keep_fail(err, KEEP_E_NOMEM, "%s: out of memory", what);
    memcpy(*text, body, body_size);
    *size = body_size;
    return KEEP_OK;
}

int keep_coll_replace_chain(STACK_OF(X509) * *chain, const char *what, const uint8_t *data,
                            size_t size, struct keep_error *err)
{
    STACK_OF(X509) *parsed = NULL;
    int rc = keep_x509_parse_chain(data, size, what, &parsed, err);
    if (rc)
        return rc;
    sk_X509_pop_free(*chain, X509_free);
    *chain = parsed;
    return KEEP_OK;
}

int keep_coll_split_file(const char *text, size_t size, const char *file, const char *member,
                         json_t **root, size_t *off, size_t *len, const char **signature_hex,
                         struct keep_error *err)
{
    *root = NULL;
    int rc = keep_coll_json_load(text, size, file, root, err);
    if (rc)
        return rc;
    if ((rc = keep_coll_string(*root, file, "signature", signature_hex, err)))
        return rc;
    return keep_json_member_text(text, size, *root, member, off, len, err);
}

int keep_coll_check_dates(const char *what, int64_t issue_date, int64_t next_update, int64_t time,
                          struct keep_error *err)
{
    char t[32], d[32];
    keep_format_time(time, t, sizeof(t));
    if (time < issue_date) {
        keep_format_time(issue_date, d, sizeof(d));
        return keep_fail(err, KEEP_E_COLLATERAL_NOT_YET_VALID,
                         "%s is not yet valid at %s: issueDate is %s", what, t, d);
    }
    if (time > next_update) {
        keep_format_time(next_update, d, sizeof(d));
        return keep_fail(err, KEEP_E_COLLATERAL_STALE, "%s is stale at %s: nextUpdate was %s", what,
                         t, d);
    }
    return KEEP_OK;
}

/* ---- The collateral set ---- */

int keep_collateral_new(struct keep_collateral **out, struct keep_error *err)
{
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return keep_fail(err, KEEP_E_NOMEM, "collateral: out of memory");
    return KEEP_OK;
}

void keep_collateral_free(struct keep_collateral *coll)
{
    if (!coll)
        return;
    keep_tcb_info_free(coll->tcb_info);
    keep_qe_identity_free(coll->qe_identity);
    X509_CRL_free(coll->root_ca_crl);
    X509_CRL_free(coll->pck_crl);
    sk_X509_pop_free(coll->pck_crl_issuer_chain, X509_free);
    free(coll);
}

int keep_collateral_set_tcb_info(struct keep_collateral *coll, const char *text, size_t size,
                                 struct keep_error *err)
{
    struct keep_tcb_info *info = NULL;
    int rc = keep_tcb_info_parse(text, size, &info, err);
    if (rc)
        return rc;
    keep_tcb_info_free(coll->tcb_info);
    coll->tcb_info = info;
    return KEEP_OK;
}

int keep_collateral_set_qe_identity(struct keep_collateral *coll, const char *text, size_t size,
                                    struct keep_error *err)
{
    struct keep_qe_identity *qe = NULL;
    int rc = keep_qe_identity_parse(text, size, &qe, err);
    if (rc)
        return rc;
    keep_qe_identity_free(coll->qe_identity);
    coll->qe_identity = qe;
    return KEEP_OK;
}

int keep_collateral_set_tcb_info_issuer_chain(struct keep_collateral *coll, const uint8_t *data,
                                              size_t size, struct keep_error *err)
{
    if (!coll->tcb_info)
        return keep_fail(err, KEEP_E_USAGE, "tcb_info_issuer_chain given before tcb_info");
    return keep_tcb_info_set_issuer_chain(coll->tcb_info, data, size, err);
}

int keep_collateral_set_qe_identity_issuer_chain(struct keep_collateral *coll, const uint8_t *data,
                                                 size_t size, struct keep_error *err)
{
    if (!coll->qe_identity)
        return keep_fail(err, KEEP_E_USAGE, "qe_identity_issuer_chain given before qe_identity");
    return keep_qe_identity_set_issuer_chain(coll->qe_identity, data, size, err);
}

int keep_collateral_set_pck_crl_issuer_chain(struct keep_collateral *coll, const uint8_t *data,
                                             size_t size, struct keep_error *err)
{
    return keep_coll_replace_chain(&coll->pck_crl_issuer_chain, "pck_crl_issuer_chain", data, size,
                                   err);
}

static bool all_hex(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (!isxdigit(data[i]) && !isspace(data[i]))
            return false;
    }
    return size > 0;
}

/* A CRL as DER, PEM, or hex text of DER (collateral.json). */
static int parse_crl_any(const uint8_t *data, size_t size, const char *what, X509_CRL **out,
                         struct keep_error *err)
{
    size_t text_len = size;
    if (!data || size == 0)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "%s is empty", what);
    /* A DER CRL starts with a SEQUENCE tag (0x30), which is also the digit '0'. */
    bool hex = all_hex(data, size);
    if (!hex)
        return keep_x509_parse_crl(data, size, what, out, err);
    while (text_len > 0 && isspace(data[text_len - 1]))
        text_len--;
    uint8_t *der;
    size_t der_size;
    int rc = keep_hex_decode_alloc((const char *)data, text_len, &der, &der_size, what, err);
    if (rc)
        return rc;
    rc = keep_x509_parse_crl(der, der_size, what, out, err);
    free(der);
    return rc;
}

/* Parse a CRL (as parse_crl_any) and put it in *slot, freeing the one there. */
static int replace_crl(X509_CRL **slot, const uint8_t *data, size_t size, const char *what,
                       struct keep_error *err)
{
    X509_CRL *crl = NULL;
    int rc = parse_crl_any(data, size, what, &crl, err);
    if (rc)
        return rc;
    X509_CRL_free(*slot);
    *slot = crl;
    return KEEP_OK;
}

int keep_collateral_set_root_ca_crl(struct keep_collateral *coll, const uint8_t *data, size_t size,
                                    struct keep_error *err)
{
    return replace_crl(&coll->root_ca_crl, data, size, "root_ca_crl", err);
}

int keep_collateral_set_pck_crl(struct keep_collateral *coll, const uint8_t *data, size_t size,
                                struct keep_error *err)
{
    return replace_crl(&coll->pck_crl, data, size, "pck_crl", err);
}

/* collateral.json: a string member, or absent/null. */
static int optional_string(json_t *root, const char *key, const char **out, size_t *len,
                           struct keep_error *err)
{
    json_t *v = json_object_get(root, key);
    *out = NULL;
    *len = 0;
    if (!v || json_is_null(v))
        return KEEP_OK;
    if (!json_is_string(v))
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE, "collateral.%s is %s; must be a string",
                         key, json_type_name(v));
    *out = json_string_value(v);
    *len = json_string_length(v);
    return KEEP_OK;
}

typedef int (*bytes_setter)(struct keep_collateral *, const uint8_t *, size_t, struct keep_error *);

static int set_optional(struct keep_collateral *coll, json_t *root, const char *key,
                        bytes_setter set, struct keep_error *err)
{
    const char *s;
    size_t len;
    int rc = optional_string(root, key, &s, &len, err);
    if (rc || !s)
        return rc;
    return set(coll, (const uint8_t *)s, len, err);
}

static int parse_json_items(struct keep_collateral *coll, json_t *root, struct keep_error *err)
{
    const char *text, *sig;
    size_t len, sig_len;
    int rc;

    if ((rc = optional_string(root, "tcb_info", &text, &len, err)) ||
        (rc = optional_string(root, "tcb_info_signature", &sig, &sig_len, err)))
        return rc;
    if (text && (rc = keep_tcb_info_parse_body(text, len, sig, &coll->tcb_info, err)))
        return rc;
    if ((rc = optional_string(root, "qe_identity", &text, &len, err)) ||
        (rc = optional_string(root, "qe_identity_signature", &sig, &sig_len, err)))
        return rc;
    if (text && (rc = keep_qe_identity_parse_body(text, len, sig, &coll->qe_identity, err)))
        return rc;
    if (coll->tcb_info && (rc = set_optional(coll, root, "tcb_info_issuer_chain",
                                             keep_collateral_set_tcb_info_issuer_chain, err)))
        return rc;
    if (coll->qe_identity && (rc = set_optional(coll, root, "qe_identity_issuer_chain",
                                                keep_collateral_set_qe_identity_issuer_chain, err)))
        return rc;
    if ((rc = set_optional(coll, root, "pck_crl_issuer_chain",
                           keep_collateral_set_pck_crl_issuer_chain, err)) ||
        (rc = set_optional(coll, root, "root_ca_crl", keep_collateral_set_root_ca_crl, err)) ||
        (rc = set_optional(coll, root, "pck_crl", keep_collateral_set_pck_crl, err)))
        return rc;
    return KEEP_OK;
}

int keep_collateral_parse_json(const char *text, size_t size, struct keep_collateral **out,
                               struct keep_error *err)
{
    json_t *root;
    struct keep_collateral *coll = NULL;
    int rc = keep_coll_json_load(text, size, "collateral", &root, err);
    if (rc)
        return rc;
    rc = keep_collateral_new(&coll, err);
    if (!rc)
        rc = parse_json_items(coll, root, err);
    json_decref(root);
    if (rc) {
        keep_collateral_free(coll);
        return rc;
    }
    *out = coll;
    return KEEP_OK;
}

static int set_from_file(struct keep_collateral *coll, const char *path, bytes_setter set,
                         struct keep_error *err)
{
    uint8_t *data;
    size_t size;
    if (!path)
        return KEEP_OK;
    int rc = keep_read_file(path, KEEP_COLLATERAL_MAX_SIZE, &data, &size, err);
    if (rc)
        return rc;
    rc = set(coll, data, size, err);
    free(data);
    return rc;
}

static int set_tcb_info_bytes(struct keep_collateral *coll, const uint8_t *data, size_t size,
                              struct keep_error *err)
{
    return keep_collateral_set_tcb_info(coll, (const char *)data, size, err);
}

static int set_qe_identity_bytes(struct keep_collateral *coll, const uint8_t *data, size_t size,
                                 struct keep_error *err)
{
    return keep_collateral_set_qe_identity(coll, (const char *)data, size, err);
}

int keep_collateral_from_files(const struct keep_collateral_files *files,
                               struct keep_collateral **out, struct keep_error *err)
{
    struct keep_collateral *coll = NULL;
    int rc = keep_collateral_new(&coll, err);
    if (rc)
        return rc;
    if ((rc = set_from_file(coll, files->tcb_info, set_tcb_info_bytes, err)) ||
        (rc = set_from_file(coll, files->qe_identity, set_qe_identity_bytes, err)) ||
        (rc = set_from_file(coll, files->tcb_info_issuer_chain,
                            keep_collateral_set_tcb_info_issuer_chain, err)) ||
        (rc = set_from_file(coll, files->qe_identity_issuer_chain,
                            keep_collateral_set_qe_identity_issuer_chain, err)) ||
        (rc = set_from_file(coll, files->pck_crl_issuer_chain,
                            keep_collateral_set_pck_crl_issuer_chain, err)) ||
        (rc = set_from_file(coll, files->root_ca_crl, keep_collateral_set_root_ca_crl, err)) ||
        (rc = set_from_file(coll, files->pck_crl, keep_collateral_set_pck_crl, err))) {
        keep_collateral_free(coll);
        return rc;
    }
    *out = coll;
    return KEEP_OK;
}

/* The root in `roots` whose subject is the CRL's issuer and whose key signed it. */
static X509 *crl_signer_in(STACK_OF(X509) * certs, X509_CRL *crl)
{
    for (int i = 0; certs && i < sk_X509_num(certs); i++) {
        X509 *c = sk_X509_value(certs, i);
        if (X509_NAME_cmp(X509_get_subject_name(c), X509_CRL_get_issuer(crl)) == 0)
            return c;
    }
    return NULL;
}

static int verify_root_ca_crl(const struct keep_collateral *coll, STACK_OF(X509) * roots,
                              int64_t time, struct keep_error *err)
{
    if (!coll->root_ca_crl)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "root_ca_crl was not given");
    X509 *root = crl_signer_in(roots, coll->root_ca_crl);
    if (!root)
        return keep_fail(err, KEEP_E_COLLATERAL_CRL_ISSUER,
                         "root_ca_crl is not issued by any of the trusted roots");
    return keep_x509_check_crl(coll->root_ca_crl, root, time, "root_ca_crl", err);
}

/* [PCS] "PCK CRL": issued by the PCK Platform or Processor CA, itself issued by the root. */
static int verify_pck_crl(const struct keep_collateral *coll, STACK_OF(X509) * roots, int64_t time,
                          struct keep_error *err)
{
    if (!coll->pck_crl)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "pck_crl was not given");
    if (!coll->pck_crl_issuer_chain || sk_X509_num(coll->pck_crl_issuer_chain) < 1)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING,
                         "pck_crl_issuer_chain was not given: the PCK CRL cannot be checked");
    STACK_OF(X509) *chain = coll->pck_crl_issuer_chain;
    X509 *ca = sk_X509_value(chain, 0);
    if (X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(coll->pck_crl)) != 0)
        return keep_fail(err, KEEP_E_COLLATERAL_CRL_ISSUER,
                         "pck_crl is not issued by the first certificate of pck_crl_issuer_chain");
    STACK_OF(X509) *rest = sk_X509_new_null();
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    int rc = KEEP_OK;
    if (!rest || !crls) {
        rc = keep_fail(err, KEEP_E_NOMEM, "pck_crl: out of memory");
        goto out;
    }
    for (int i = 1; i < sk_X509_num(chain); i++) {
        if (!sk_X509_push(rest, sk_X509_value(chain, i))) {
            rc = keep_fail(err, KEEP_E_NOMEM, "pck_crl: out of memory");
            goto out;
        }
    }
    if (coll->root_ca_crl && !sk_X509_CRL_push(crls, coll->root_ca_crl)) {
        rc = keep_fail(err, KEEP_E_NOMEM, "pck_crl: out of memory");
        goto out;
    }
    struct keep_x509_verify_opts opts = {.time = time, .crls = crls, .require_crls = false};
    rc = keep_x509_verify_chain(ca, rest, roots, &opts, "pck_crl_issuer_chain", err);
    if (!rc)
        rc = keep_x509_check_crl(coll->pck_crl, ca, time, "pck_crl", err);
out:
    sk_X509_free(rest);
    sk_X509_CRL_free(crls);
    return rc;
}

int keep_collateral_verify(const struct keep_collateral *coll, STACK_OF(X509) * roots, int64_t time,
                           struct keep_error *err)
{
    int rc;
    if (!coll->tcb_info)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "tcb_info was not given");
    if (!coll->qe_identity)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "qe_identity was not given");
    if ((rc = verify_root_ca_crl(coll, roots, time, err)) ||
        (rc = keep_tcb_info_verify(coll->tcb_info, roots, coll->root_ca_crl, time, err)) ||
        (rc = keep_qe_identity_verify(coll->qe_identity, roots, coll->root_ca_crl, time, err)) ||
        (rc = verify_pck_crl(coll, roots, time, err)))
        return rc;
    return KEEP_OK;
}

static void report_add(json_t *checks, const char *check, int rc, const struct keep_error *err)
{
    const char *result = rc == KEEP_OK                     ? "ok"
                         : rc == KEEP_E_COLLATERAL_MISSING ? "skipped"
                                                           : "failed";
    json_t *o = json_pack("{s:s, s:s}", "check", check, "result", result);
    if (o && rc != KEEP_OK) {
        json_object_set_new(o, "error", json_string(keep_err_name(rc)));
        json_object_set_new(o, "message", json_string(err->message));
    }
    json_array_append_new(checks, o);
}

static int tcb_info_signature(const struct keep_collateral *coll, STACK_OF(X509) * roots,
                              int64_t time, struct keep_error *err)
{
    const struct keep_tcb_info *i = coll->tcb_info;
    if (!i)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "tcb_info was not given");
    return keep_coll_verify_signed("tcbInfo", i->signed_text, i->signed_size, i->has_signature,
                                   i->signature, i->issuer_chain, roots, coll->root_ca_crl, time,
                                   err);
}

static int qe_identity_signature(const struct keep_collateral *coll, STACK_OF(X509) * roots,
                                 int64_t time, struct keep_error *err)
{
    const struct keep_qe_identity *q = coll->qe_identity;
    if (!q)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "qe_identity was not given");
    return keep_coll_verify_signed("enclaveIdentity", q->signed_text, q->signed_size,
                                   q->has_signature, q->signature, q->issuer_chain, roots,
                                   coll->root_ca_crl, time, err);
}

json_t *keep_collateral_report(const struct keep_collateral *coll, STACK_OF(X509) * roots,
                               int64_t time)
{
    struct keep_error err = {0};
    json_t *checks = json_array();
    int rc;
    if (!checks)
        return NULL;
    report_add(checks, "tcb_info.signature", tcb_info_signature(coll, roots, time, &err), &err);
    rc = coll->tcb_info ? keep_tcb_info_check_fresh(coll->tcb_info, time, &err)
                        : keep_fail(&err, KEEP_E_COLLATERAL_MISSING, "tcb_info was not given");
    report_add(checks, "tcb_info.freshness", rc, &err);
    report_add(checks, "qe_identity.signature", qe_identity_signature(coll, roots, time, &err),
               &err);
    rc = coll->qe_identity
             ? keep_qe_identity_check_fresh(coll->qe_identity, time, &err)
             : keep_fail(&err, KEEP_E_COLLATERAL_MISSING, "qe_identity was not given");
    report_add(checks, "qe_identity.freshness", rc, &err);
    report_add(checks, "root_ca_crl", verify_root_ca_crl(coll, roots, time, &err), &err);
    report_add(checks, "pck_crl", verify_pck_crl(coll, roots, time, &err), &err);
    return checks;
}

int keep_collateral_crls(const struct keep_collateral *coll, STACK_OF(X509_CRL) * *out,
                         struct keep_error *err)
{
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    X509_CRL *items[] = {coll->root_ca_crl, coll->pck_crl};
    if (!crls)
        return keep_fail(err, KEEP_E_NOMEM, "collateral CRLs: out of memory");
    for (size_t i = 0; i < KEEP_ARRAY_LEN(items); i++) {
        if (!items[i])
            continue;
        if (!X509_CRL_up_ref(items[i]) || !sk_X509_CRL_push(crls, items[i])) {
            sk_X509_CRL_pop_free(crls, X509_CRL_free);
            return keep_fail(err, KEEP_E_NOMEM, "collateral CRLs: out of memory");
        }
    }
    *out = crls;
    return KEEP_OK;
}

static json_t *crl_summary(X509_CRL *crl)
{
    json_t *o = json_object();
    json_object_set_new(o, "present", json_boolean(crl != NULL));
    if (crl) {
        const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
        struct tm tm;
        if (next && ASN1_TIME_to_tm(next, &tm)) {
            char buf[32];
            strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
            json_object_set_new(o, "next_update", json_string(buf));
        }
        json_object_set_new(o, "entries",
                            json_integer(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl))));
    }
    return o;
}

json_t *keep_collateral_summary(const struct keep_collateral *coll)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "tcb_info",
                        coll->tcb_info ? keep_tcb_info_summary(coll->tcb_info) : json_null());
    json_object_set_new(o, "qe_identity",
                        coll->qe_identity ? keep_qe_identity_summary(coll->qe_identity)
                                          : json_null());
    json_object_set_new(o, "root_ca_crl", crl_summary(coll->root_ca_crl));
    json_object_set_new(o, "pck_crl", crl_summary(coll->pck_crl));
    json_object_set_new(o, "pck_crl_issuer_chain",
                        json_boolean(coll->pck_crl_issuer_chain != NULL));
    return o;
}
