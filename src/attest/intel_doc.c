/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Intel signed document (attest/intel_doc.h): strict JSON loading,
 * typed members, the exact signed bytes of a member, and the chain and
 * signature checks TCB Info and QE Identity share.
 */
#include "attest/intel_doc.h"

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

const char *keep_coll_type_name(const json_t *v)
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
                         keep_coll_type_name(v), wanted_type_name(type));
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
                             keep_coll_type_name(v));
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
                         keep_coll_type_name(member));
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
 * [PCS] TCB Info and Enclave Identity are signed by the Intel SGX TCB
 * Signing certificate, an end-entity certificate the root issues directly
 * (the issuer chain Intel serves is exactly TCB Signing <- root; [QVL]
 * likewise refuses any other signer). A chain that verifies is not enough:
 * a PCK Platform CA, or a PCK certificate whose key sits on some platform,
 * also chains to the root and must not be able to vouch for a TCB status.
 */
static int check_signer_role(X509 *signer, STACK_OF(X509) * roots, const char *what,
                             struct keep_error *err)
{
    char cn[128] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(signer), NID_commonName, cn, sizeof(cn));
    if (X509_check_ca(signer) != 0)
        return keep_fail(err, KEEP_E_COLLATERAL_SIGNER_ROLE,
                         "%s signing certificate '%s' is a CA certificate; the TCB Signing "
                         "certificate is an end-entity certificate",
                         what, cn);
    for (int i = 0; i < sk_X509_num(roots); i++) {
        X509 *root = sk_X509_value(roots, i);
        if (X509_check_issued(root, signer) == X509_V_OK &&
            X509_verify(signer, X509_get0_pubkey(root)) == 1)
            return KEEP_OK;
    }
    return keep_fail(err, KEEP_E_COLLATERAL_SIGNER_ROLE,
                     "%s signing certificate '%s' is not issued directly by the trusted root; the "
                     "TCB Signing certificate is",
                     what, cn);
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
    if (rc)
        goto out;
    if ((rc = check_signer_role(signer, roots, what, err)))
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

/* ---- The document ---- */

int keep_intel_doc_parse_body(struct keep_intel_doc *doc, const char *member,
                              const char *signature_what, const char *body, size_t body_size,
                              const char *signature_hex, struct keep_error *err)
{
    memset(doc, 0, sizeof(*doc));
    doc->member = member;
    int rc = keep_coll_json_load(body, body_size, member, &doc->json, err);
    if (!rc)
        rc = keep_coll_copy_signed_text(member, body, body_size, &doc->signed_text,
                                        &doc->signed_size, err);
    if (!rc && signature_hex) {
        rc = keep_coll_signature(signature_hex, signature_what, doc->signature, err);
        doc->has_signature = rc == KEEP_OK;
    }
    return rc;
}

int keep_intel_doc_set_issuer_chain(struct keep_intel_doc *doc, const char *what,
                                    const uint8_t *data, size_t size, struct keep_error *err)
{
    return keep_coll_replace_chain(&doc->issuer_chain, what, data, size, err);
}

int keep_intel_doc_verify(const struct keep_intel_doc *doc, STACK_OF(X509) * roots,
                          X509_CRL *root_ca_crl, int64_t time, struct keep_error *err)
{
    return keep_coll_verify_signed(doc->member, doc->signed_text, doc->signed_size,
                                   doc->has_signature, doc->signature, doc->issuer_chain, roots,
                                   root_ca_crl, time, err);
}

void keep_intel_doc_clear(struct keep_intel_doc *doc)
{
    free(doc->signed_text);
    sk_X509_pop_free(doc->issuer_chain, X509_free);
    json_decref(doc->json);
    memset(doc, 0, sizeof(*doc));
}
