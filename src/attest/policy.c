/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Appraisal policy: strict JSON parsing (jansson) and application to the
 * values of evidence already proven genuine. The format is documented in
 * docs/ATTESTATION.md, "Policy".
 */
#include "attest/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/util.h"

/* ---- error lists ------------------------------------------------------- */

int keep_error_list_push(struct keep_error_list *list, const struct keep_error *err)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 8;
        struct keep_error *items = realloc(list->items, cap * sizeof(*items));
        if (!items) {
            list->lost++;
            return KEEP_E_NOMEM;
        }
        list->items = items;
        list->cap = cap;
    }
    list->items[list->count++] = *err;
    return KEEP_OK;
}

int keep_error_list_add(struct keep_error_list *list, int code, const char *fmt, ...)
{
    struct keep_error e;
    va_list ap;
    va_start(ap, fmt);
    keep_vfail(&e, code, fmt, ap);
    va_end(ap);
    return keep_error_list_push(list, &e);
}

void keep_error_list_free(struct keep_error_list *list)
{
    free(list->items);
    list->items = NULL;
    list->count = list->cap = list->lost = 0;
}

/* ---- the rules' names -------------------------------------------------- */

struct digest_desc {
    const char *key;
    size_t size;
    enum keep_attest_tee tee;
    bool deny_allowed; /* key digests are "required": allow-list only */
    int not_allowed_code;
    int denied_code;
};

static const struct digest_desc digest_descs[KEEP_POLICY_DIGEST_COUNT] = {
    [KEEP_POLICY_MEASUREMENT] = {"measurement", 48, KEEP_ATTEST_TEE_SNP, true,
                                 KEEP_E_POLICY_MEASUREMENT_NOT_ALLOWED,
                                 KEEP_E_POLICY_MEASUREMENT_DENIED},
    [KEEP_POLICY_MRENCLAVE] = {"mrenclave", 32, KEEP_ATTEST_TEE_SGX, true,
                               KEEP_E_POLICY_MRENCLAVE_NOT_ALLOWED, KEEP_E_POLICY_MRENCLAVE_DENIED},
    [KEEP_POLICY_MRSIGNER] = {"mrsigner", 32, KEEP_ATTEST_TEE_SGX, true,
                              KEEP_E_POLICY_MRSIGNER_NOT_ALLOWED, KEEP_E_POLICY_MRSIGNER_DENIED},
    [KEEP_POLICY_MRTD] = {"mrtd", 48, KEEP_ATTEST_TEE_TDX, true, KEEP_E_POLICY_MRTD_NOT_ALLOWED,
                          KEEP_E_POLICY_MRTD_DENIED},
    [KEEP_POLICY_RTMR0] = {"rtmr0", 48, KEEP_ATTEST_TEE_TDX, true, KEEP_E_POLICY_RTMR_NOT_ALLOWED,
                           KEEP_E_POLICY_RTMR_DENIED},
    [KEEP_POLICY_RTMR1] = {"rtmr1", 48, KEEP_ATTEST_TEE_TDX, true, KEEP_E_POLICY_RTMR_NOT_ALLOWED,
                           KEEP_E_POLICY_RTMR_DENIED},
    [KEEP_POLICY_RTMR2] = {"rtmr2", 48, KEEP_ATTEST_TEE_TDX, true, KEEP_E_POLICY_RTMR_NOT_ALLOWED,
                           KEEP_E_POLICY_RTMR_DENIED},
    [KEEP_POLICY_RTMR3] = {"rtmr3", 48, KEEP_ATTEST_TEE_TDX, true, KEEP_E_POLICY_RTMR_NOT_ALLOWED,
                           KEEP_E_POLICY_RTMR_DENIED},
    [KEEP_POLICY_ID_KEY_DIGEST] = {"id_key_digest", 48, KEEP_ATTEST_TEE_SNP, false,
                                   KEEP_E_POLICY_ID_KEY_DIGEST, 0},
    [KEEP_POLICY_AUTHOR_KEY_DIGEST] = {"author_key_digest", 48, KEEP_ATTEST_TEE_SNP, false,
                                       KEEP_E_POLICY_AUTHOR_KEY_DIGEST, 0},
};

static const char *const tcb_component_names[KEEP_POLICY_TCB_COUNT] = {
    [KEEP_POLICY_TCB_BOOTLOADER] = "bootloader",
    [KEEP_POLICY_TCB_TEE] = "tee",
    [KEEP_POLICY_TCB_SNP] = "snp",
    [KEEP_POLICY_TCB_MICROCODE] = "microcode",
    [KEEP_POLICY_TCB_FMC] = "fmc",
};

/* tcbStatus values Intel defines (PCS API, "TCB Info" tcbLevels[].tcbStatus). */
static const char *const intel_tcb_statuses[] = {
    "UpToDate",
    "SWHardeningNeeded",
    "ConfigurationNeeded",
    "ConfigurationAndSWHardeningNeeded",
    "OutOfDate",
    "OutOfDateConfigurationNeeded",
    "Revoked",
};

static const char *const tee_names[] = {
    [KEEP_ATTEST_TEE_SNP] = "snp",
    [KEEP_ATTEST_TEE_SGX] = "sgx",
    [KEEP_ATTEST_TEE_TDX] = "tdx",
    [KEEP_ATTEST_TEE_KVM] = "kvm",
};

/* ---- parsing ----------------------------------------------------------- */

static int type_error(struct keep_error *err, const char *key, const char *want)
{
    return keep_fail(err, KEEP_E_POLICY_TYPE, "policy.%s must be %s", key, want);
}

static int parse_bool(json_t *v, const char *key, bool *out, struct keep_error *err)
{
    if (!json_is_boolean(v))
        return type_error(err, key, "true or false");
    *out = json_is_true(v);
    return KEEP_OK;
}

static int parse_uint(json_t *v, const char *key, uint64_t max, uint64_t *out,
                      struct keep_error *err)
{
    if (!json_is_integer(v))
        return type_error(err, key, "an integer");
    json_int_t n = json_integer_value(v);
    if (n < 0 || (uint64_t)n > max)
        return keep_fail(err, KEEP_E_POLICY_VALUE, "policy.%s is %lld; must be 0..%llu", key,
                         (long long)n, (unsigned long long)max);
    *out = (uint64_t)n;
    return KEEP_OK;
}

static int parse_hexlist(json_t *arr, const char *key, const char *list_name, size_t size,
                         struct keep_policy_hexlist *out, struct keep_error *err)
{
    char field[64];
    snprintf(field, sizeof(field), "policy.%s%s%s", key, list_name[0] ? "." : "", list_name);
    if (!json_is_array(arr))
        return keep_fail(err, KEEP_E_POLICY_TYPE, "%s must be an array of hex strings", field);
    size_t n = json_array_size(arr);
    out->set = true;
    out->count = 0;
    if (n == 0)
        return KEEP_OK;
    out->items = calloc(n, sizeof(*out->items));
    if (!out->items)
        return keep_fail(err, KEEP_E_NOMEM, "%s: out of memory for %zu values", field, n);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(arr, i);
        char item[112];
        snprintf(item, sizeof(item), "%s[%zu]", field, i);
        if (!json_is_string(s))
            return keep_fail(err, KEEP_E_POLICY_TYPE, "%s must be a hex string", item);
        struct keep_error herr;
        if (keep_hex_decode(json_string_value(s), json_string_length(s), out->items[i], size, item,
                            &herr))
            return keep_fail(err, KEEP_E_POLICY_VALUE, "%s", herr.message);
        out->count++;
    }
    return KEEP_OK;
}

/* "key": [hex...]  (an allow-list)  or  {"allow": [...], "deny": [...]}. */
static int parse_digest_rule(json_t *v, enum keep_policy_digest which, struct keep_attest_policy *p,
                             struct keep_error *err)
{
    const struct digest_desc *d = &digest_descs[which];
    struct keep_policy_digest_rule *rule = &p->digests[which];
    if (json_is_array(v))
        return parse_hexlist(v, d->key, "", d->size, &rule->allow, err);
    if (!json_is_object(v) || !d->deny_allowed)
        return type_error(err, d->key,
                          d->deny_allowed ? "an array of hex strings or {\"allow\": [...], "
                                            "\"deny\": [...]}"
                                          : "an array of hex strings");
    const char *k;
    json_t *item;
    json_object_foreach(v, k, item)
    {
        int rc;
        if (strcmp(k, "allow") == 0)
            rc = parse_hexlist(item, d->key, "allow", d->size, &rule->allow, err);
        else if (strcmp(k, "deny") == 0)
            rc = parse_hexlist(item, d->key, "deny", d->size, &rule->deny, err);
        else
            rc = keep_fail(err, KEEP_E_POLICY_UNKNOWN_KEY,
                           "policy.%s has unknown key '%s'; known: allow, deny", d->key, k);
        if (rc)
            return rc;
    }
    /* {} would be a rule that checks nothing, not even that the TEE has the field. */
    if (!rule->allow.set && !rule->deny.set)
        return keep_fail(err, KEEP_E_POLICY_VALUE,
                         "policy.%s is an empty object; give \"allow\", \"deny\" or both", d->key);
    return KEEP_OK;
}

/*
 * The bytes a {"sha256_of": ...} binding hashes: a PEM public key is hashed
 * as its DER SubjectPublicKeyInfo (what a TLS or SSH peer presents); any
 * other string is hex of the bytes themselves.
 */
static int binding_bytes(const char *text, size_t len, const char *field, uint8_t **out,
                         size_t *out_size, struct keep_error *err)
{
    if (len >= 10 && strncmp(text, "-----BEGIN", 10) == 0) {
        BIO *bio = BIO_new_mem_buf(text, (int)len);
        EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (!key)
            return keep_fail(err, KEEP_E_POLICY_VALUE,
                             "%s: PEM text is not a public key (\"-----BEGIN PUBLIC KEY-----\")",
                             field);
        unsigned char *der = NULL;
        int der_size = i2d_PUBKEY(key, &der);
        EVP_PKEY_free(key);
        if (der_size <= 0)
            return keep_fail(err, KEEP_E_CRYPTO, "%s: cannot encode the public key", field);
        *out = malloc((size_t)der_size);
        if (!*out) {
            OPENSSL_free(der);
            return keep_fail(err, KEEP_E_NOMEM, "%s: out of memory", field);
        }
        memcpy(*out, der, (size_t)der_size);
        *out_size = (size_t)der_size;
        OPENSSL_free(der);
        return KEEP_OK;
    }
    struct keep_error herr;
    if (keep_hex_decode_alloc(text, len, out, out_size, field, &herr))
        return keep_fail(err, KEEP_E_POLICY_VALUE, "%s", herr.message);
    return KEEP_OK;
}

static int parse_report_data(json_t *v, struct keep_attest_policy *p, struct keep_error *err)
{
    if (json_is_string(v)) {
        /* An exact value: up to 64 bytes, compared zero-padded to 64. */
        size_t len = json_string_length(v);
        if (len == 0 || len > 128 || len % 2)
            return keep_fail(err, KEEP_E_POLICY_VALUE,
                             "policy.report_data has %zu hex digits; must be 2..128 and even", len);
        struct keep_error herr;
        if (keep_hex_decode(json_string_value(v), len, p->report_data, len / 2,
                            "policy.report_data", &herr))
            return keep_fail(err, KEEP_E_POLICY_VALUE, "%s", herr.message);
        p->report_data_mode = KEEP_POLICY_REPORT_DATA_EXACT;
        return KEEP_OK;
    }
    if (!json_is_object(v) || json_object_size(v) != 1)
        return type_error(err, "report_data",
                          "a hex string, {\"sha256_of\": \"...\"} or {\"sha384_of\": \"...\"}");
    const char *k = json_object_iter_key(json_object_iter(v));
    json_t *bound = json_object_get(v, k);
    const char *md_name;
    if (strcmp(k, "sha256_of") == 0) {
        p->report_data_mode = KEEP_POLICY_REPORT_DATA_SHA256;
        md_name = "SHA256";
    } else if (strcmp(k, "sha384_of") == 0) {
        p->report_data_mode = KEEP_POLICY_REPORT_DATA_SHA384;
        md_name = "SHA384";
    } else {
        return keep_fail(err, KEEP_E_POLICY_UNKNOWN_KEY,
                         "policy.report_data has unknown key '%s'; known: sha256_of, sha384_of", k);
    }
    char field[48];
    snprintf(field, sizeof(field), "policy.report_data.%s", k);
    if (!json_is_string(bound))
        return keep_fail(err, KEEP_E_POLICY_TYPE, "%s must be hex or a PEM public key", field);
    uint8_t *bytes = NULL;
    size_t size = 0;
    int rc = binding_bytes(json_string_value(bound), json_string_length(bound), field, &bytes,
                           &size, err);
    if (rc)
        return rc;
    unsigned md_size = 0;
    if (!EVP_Digest(bytes, size, p->report_data, &md_size, EVP_get_digestbyname(md_name), NULL))
        rc = keep_fail(err, KEEP_E_CRYPTO, "%s: %s failed", field, md_name);
    free(bytes);
    return rc;
}

static int parse_min_tcb(json_t *v, struct keep_attest_policy *p, struct keep_error *err)
{
    if (!json_is_object(v))
        return type_error(err, "min_tcb", "an object of TCB components");
    const char *k;
    json_t *item;
    json_object_foreach(v, k, item)
    {
        size_t i;
        for (i = 0; i < KEEP_POLICY_TCB_COUNT; i++)
            if (strcmp(k, tcb_component_names[i]) == 0)
                break;
        if (i == KEEP_POLICY_TCB_COUNT)
            return keep_fail(err, KEEP_E_POLICY_UNKNOWN_KEY,
                             "policy.min_tcb has unknown key '%s'; known: bootloader, tee, snp, "
                             "microcode, fmc",
                             k);
        char key[40];
        uint64_t n;
        snprintf(key, sizeof(key), "min_tcb.%s", k);
        int rc = parse_uint(item, key, 255, &n, err);
        if (rc)
            return rc;
        p->has_min_tcb[i] = true;
        p->min_tcb[i] = (uint8_t)n;
    }
    return KEEP_OK;
}

static int parse_strings(json_t *v, const char *key, char ***out, size_t *count,
                         struct keep_error *err)
{
    if (!json_is_array(v))
        return type_error(err, key, "an array of strings");
    size_t n = json_array_size(v);
    *out = calloc(n ? n : 1, sizeof(char *));
    if (!*out)
        return keep_fail(err, KEEP_E_NOMEM, "policy.%s: out of memory", key);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(v, i);
        if (!json_is_string(s))
            return keep_fail(err, KEEP_E_POLICY_TYPE, "policy.%s[%zu] must be a string", key, i);
        (*out)[i] = strdup(json_string_value(s));
        if (!(*out)[i])
            return keep_fail(err, KEEP_E_NOMEM, "policy.%s: out of memory", key);
        *count = i + 1;
    }
    return KEEP_OK;
}

static int parse_tcb_statuses(json_t *v, struct keep_attest_policy *p, struct keep_error *err)
{
    for (size_t i = 0; i < p->tcb_status_count; i++)
        free(p->tcb_statuses[i]);
    free(p->tcb_statuses);
    p->tcb_statuses = NULL;
    p->tcb_status_count = 0;
    int rc = parse_strings(v, "tcb_statuses", &p->tcb_statuses, &p->tcb_status_count, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < p->tcb_status_count; i++) {
        size_t j;
        for (j = 0; j < KEEP_ARRAY_LEN(intel_tcb_statuses); j++)
            if (strcmp(p->tcb_statuses[i], intel_tcb_statuses[j]) == 0)
                break;
        if (j == KEEP_ARRAY_LEN(intel_tcb_statuses))
            return keep_fail(err, KEEP_E_POLICY_VALUE,
                             "policy.tcb_statuses[%zu] is '%s'; not an Intel TCB status "
                             "(UpToDate, SWHardeningNeeded, ConfigurationNeeded, "
                             "ConfigurationAndSWHardeningNeeded, OutOfDate, "
                             "OutOfDateConfigurationNeeded, Revoked)",
                             i, p->tcb_statuses[i]);
    }
    p->tcb_statuses_set = true;
    return KEEP_OK;
}

static int parse_vmpl(json_t *v, struct keep_attest_policy *p, struct keep_error *err)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return type_error(err, "vmpl", "a non-empty array of VMPLs 0..3");
    for (size_t i = 0; i < json_array_size(v); i++) {
        char key[32];
        uint64_t n;
        snprintf(key, sizeof(key), "vmpl[%zu]", i);
        int rc = parse_uint(json_array_get(v, i), key, 3, &n, err);
        if (rc)
            return rc;
        p->vmpl_mask |= 1u << n;
    }
    return KEEP_OK;
}

static int parse_tee(json_t *v, struct keep_attest_policy *p, struct keep_error *err)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return type_error(err, "tee", "a non-empty array of \"snp\", \"sgx\", \"tdx\", \"kvm\"");
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *s = json_array_get(v, i);
        size_t t;
        for (t = KEEP_ATTEST_TEE_SNP; t < KEEP_ARRAY_LEN(tee_names); t++)
            if (json_is_string(s) && strcmp(json_string_value(s), tee_names[t]) == 0)
                break;
        if (t == KEEP_ARRAY_LEN(tee_names))
            return keep_fail(err, KEEP_E_POLICY_VALUE,
                             "policy.tee[%zu] must be \"snp\", \"sgx\", \"tdx\" or \"kvm\"", i);
        p->tee_mask |= 1u << t;
    }
    return KEEP_OK;
}

static int parse_member(const char *key, json_t *v, struct keep_attest_policy *p,
                        struct keep_error *err)
{
    uint64_t n;
    int rc;
    if (strcmp(key, "allow_debug") == 0)
        return parse_bool(v, key, &p->allow_debug, err);
    if (strcmp(key, "allow_insecure") == 0)
        return parse_bool(v, key, &p->allow_insecure, err);
    if (strcmp(key, "allow_missing_collateral") == 0)
        return parse_bool(v, key, &p->allow_missing_collateral, err);
    if (strcmp(key, "tee") == 0)
        return parse_tee(v, p, err);
    for (size_t i = 0; i < KEEP_POLICY_DIGEST_COUNT; i++)
        if (strcmp(key, digest_descs[i].key) == 0)
            return parse_digest_rule(v, (enum keep_policy_digest)i, p, err);
    if (strcmp(key, "report_data") == 0)
        return parse_report_data(v, p, err);
    if (strcmp(key, "min_tcb") == 0)
        return parse_min_tcb(v, p, err);
    if (strcmp(key, "tcb_statuses") == 0)
        return parse_tcb_statuses(v, p, err);
    if (strcmp(key, "allowed_advisories") == 0) {
        p->advisories_set = true;
        return parse_strings(v, key, &p->advisories, &p->advisory_count, err);
    }
    if (strcmp(key, "min_guest_svn") == 0) {
        rc = parse_uint(v, key, UINT32_MAX, &n, err);
        p->has_min_guest_svn = rc == KEEP_OK;
        p->min_guest_svn = (uint32_t)n;
        return rc;
    }
    if (strcmp(key, "min_isvsvn") == 0) {
        rc = parse_uint(v, key, UINT16_MAX, &n, err);
        p->has_min_isvsvn = rc == KEEP_OK;
        p->min_isvsvn = (uint16_t)n;
        return rc;
    }
    if (strcmp(key, "vmpl") == 0)
        return parse_vmpl(v, p, err);
    return keep_fail(err, KEEP_E_POLICY_UNKNOWN_KEY,
                     "policy has unknown key '%s' (docs/ATTESTATION.md lists the keys)", key);
}

int keep_policy_default(struct keep_attest_policy **out, struct keep_error *err)
{
    struct keep_attest_policy *p = calloc(1, sizeof(*p));
    if (!p)
        return keep_fail(err, KEEP_E_NOMEM, "policy: out of memory");
    for (size_t i = 0; i < KEEP_POLICY_DIGEST_COUNT; i++) {
        p->digests[i].name = digest_descs[i].key;
        p->digests[i].value_size = digest_descs[i].size;
    }
    /* Intel's QVL calls only UpToDate fully trustworthy: the default. */
    p->tcb_statuses = calloc(1, sizeof(char *));
    if (p->tcb_statuses)
        p->tcb_statuses[0] = strdup("UpToDate");
    if (!p->tcb_statuses || !p->tcb_statuses[0]) {
        keep_policy_free(p);
        return keep_fail(err, KEEP_E_NOMEM, "policy: out of memory");
    }
    p->tcb_status_count = 1;
    *out = p;
    return KEEP_OK;
}

int keep_policy_parse(const char *json, size_t size, struct keep_attest_policy **out,
                      struct keep_error *err)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(json, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return keep_fail(err, KEEP_E_POLICY_JSON, "policy: %s at line %d column %d", jerr.text,
                         jerr.line, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return keep_fail(err, KEEP_E_POLICY_JSON, "policy must be a JSON object");
    }
    struct keep_attest_policy *p;
    int rc = keep_policy_default(&p, err);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (rc)
            break;
        rc = parse_member(key, v, p, err);
    }
    json_decref(root);
    if (rc) {
        keep_policy_free(p);
        return rc;
    }
    *out = p;
    return KEEP_OK;
}

void keep_policy_free(struct keep_attest_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < KEEP_POLICY_DIGEST_COUNT; i++) {
        free(p->digests[i].allow.items);
        free(p->digests[i].deny.items);
    }
    for (size_t i = 0; i < p->tcb_status_count; i++)
        free(p->tcb_statuses[i]);
    free(p->tcb_statuses);
    for (size_t i = 0; i < p->advisory_count; i++)
        free(p->advisories[i]);
    free(p->advisories);
    free(p);
}

int keep_attest_policy_parse(const char *json, size_t size, struct keep_attest_policy **out,
                             struct keep_error *err)
{
    if (!json || !out)
        return keep_fail(err, KEEP_E_USAGE, "keep_attest_policy_parse: json and out are required");
    return keep_policy_parse(json, size, out, err);
}

void keep_attest_policy_free(struct keep_attest_policy *policy)
{
    keep_policy_free(policy);
}

/* ---- application ------------------------------------------------------- */

static const uint8_t *digest_value(const struct keep_policy_evidence *ev,
                                   enum keep_policy_digest which)
{
    switch (which) {
    case KEEP_POLICY_MEASUREMENT:
        return ev->measurement;
    case KEEP_POLICY_MRENCLAVE:
        return ev->mrenclave;
    case KEEP_POLICY_MRSIGNER:
        return ev->mrsigner;
    case KEEP_POLICY_MRTD:
        return ev->mrtd;
    case KEEP_POLICY_RTMR0:
    case KEEP_POLICY_RTMR1:
    case KEEP_POLICY_RTMR2:
    case KEEP_POLICY_RTMR3:
        return ev->rtmr[which - KEEP_POLICY_RTMR0];
    case KEEP_POLICY_ID_KEY_DIGEST:
        return ev->id_key_digest;
    case KEEP_POLICY_AUTHOR_KEY_DIGEST:
        return ev->author_key_digest;
    default:
        return NULL;
    }
}

static bool hexlist_has(const struct keep_policy_hexlist *list, const uint8_t *value, size_t size)
{
    for (size_t i = 0; i < list->count; i++)
        if (memcmp(list->items[i], value, size) == 0)
            return true;
    return false;
}

static void add_not_applicable(struct keep_error_list *errors, const char *key,
                               enum keep_attest_tee tee)
{
    keep_error_list_add(
        errors, KEEP_E_POLICY_NOT_APPLICABLE,
        "policy.%s is set but %s evidence has no such field; use one policy per TEE", key,
        keep_attest_tee_name(tee));
}

static void apply_digest(const struct keep_attest_policy *p, enum keep_policy_digest which,
                         const struct keep_policy_evidence *ev, struct keep_error_list *errors)
{
    const struct digest_desc *d = &digest_descs[which];
    const struct keep_policy_digest_rule *rule = &p->digests[which];
    if (!rule->allow.set && !rule->deny.set)
        return;
    const uint8_t *value = digest_value(ev, which);
    /* kvm evidence carries the Keep's launch measurement, compared like SNP's. */
    bool applies =
        ev->tee == d->tee || (which == KEEP_POLICY_MEASUREMENT && ev->tee == KEEP_ATTEST_TEE_KVM);
    if (!value || !applies) {
        add_not_applicable(errors, d->key, ev->tee);
        return;
    }
    char hex[2 * KEEP_POLICY_HEX_MAX + 1];
    keep_hex_encode(value, d->size, hex);
    if (rule->deny.set && hexlist_has(&rule->deny, value, d->size))
        keep_error_list_add(errors, d->denied_code, "%s is %s; the policy's %s.deny lists it",
                            d->key, hex, d->key);
    if (rule->allow.set && !hexlist_has(&rule->allow, value, d->size))
        keep_error_list_add(errors, d->not_allowed_code,
                            "%s is %s; not among the %zu value(s) the policy's %s allows", d->key,
                            hex, rule->allow.count, d->key);
}

static void apply_report_data(const struct keep_attest_policy *p,
                              const struct keep_policy_evidence *ev, struct keep_error_list *errors)
{
    size_t compared;
    const char *how;
    switch (p->report_data_mode) {
    case KEEP_POLICY_REPORT_DATA_EXACT:
        compared = 64, how = "the policy's value, zero-padded";
        break;
    case KEEP_POLICY_REPORT_DATA_SHA256:
        compared = 32, how = "SHA-256 of the policy's sha256_of (first 32 bytes)";
        break;
    case KEEP_POLICY_REPORT_DATA_SHA384:
        compared = 48, how = "SHA-384 of the policy's sha384_of (first 48 bytes)";
        break;
    default:
        return;
    }
    if (!ev->report_data) {
        add_not_applicable(errors, "report_data", ev->tee);
        return;
    }
    if (keep_mem_equal(ev->report_data, p->report_data, compared))
        return;
    char got[129], want[129];
    keep_hex_encode(ev->report_data, compared, got);
    keep_hex_encode(p->report_data, compared, want);
    keep_error_list_add(errors, KEEP_E_POLICY_REPORT_DATA, "report_data is %s; must equal %s: %s",
                        got, how, want);
}

static void apply_snp(const struct keep_attest_policy *p, const struct keep_policy_evidence *ev,
                      struct keep_error_list *errors)
{
    bool snp = ev->tee == KEEP_ATTEST_TEE_SNP;
    for (size_t i = 0; i < KEEP_POLICY_TCB_COUNT; i++) {
        if (!p->has_min_tcb[i])
            continue;
        char key[32];
        snprintf(key, sizeof(key), "min_tcb.%s", tcb_component_names[i]);
        if (!snp || (i == KEEP_POLICY_TCB_FMC && !ev->has_fmc)) {
            add_not_applicable(errors, key, ev->tee);
            continue;
        }
        /* ABI 56860 section 2.2: each TCB_VERSION component is an SVN; higher is newer. */
        if (ev->tcb[i] < p->min_tcb[i])
            keep_error_list_add(errors, KEEP_E_POLICY_MIN_TCB,
                                "reported_tcb.%s is %u; the policy's min_tcb.%s is %u",
                                tcb_component_names[i], ev->tcb[i], tcb_component_names[i],
                                p->min_tcb[i]);
    }
    if (p->has_min_guest_svn) {
        if (!snp)
            add_not_applicable(errors, "min_guest_svn", ev->tee);
        else if (ev->guest_svn < p->min_guest_svn)
            keep_error_list_add(errors, KEEP_E_POLICY_GUEST_SVN,
                                "guest_svn is %u; the policy's min_guest_svn is %u", ev->guest_svn,
                                p->min_guest_svn);
    }
    if (p->vmpl_mask) {
        if (!snp)
            add_not_applicable(errors, "vmpl", ev->tee);
        else if (ev->vmpl > 3 || !(p->vmpl_mask & (1u << ev->vmpl)))
            keep_error_list_add(
                errors, KEEP_E_POLICY_VMPL,
                "vmpl is %u; the policy's vmpl list allows mask 0x%x (bit n = VMPL n)", ev->vmpl,
                p->vmpl_mask);
    }
}

static bool string_in(const char *s, char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

static void apply_intel_tcb(const struct keep_attest_policy *p,
                            const struct keep_policy_evidence *ev, struct keep_error_list *errors)
{
    bool intel = ev->tee == KEEP_ATTEST_TEE_SGX || ev->tee == KEEP_ATTEST_TEE_TDX;
    if (p->has_min_isvsvn) {
        if (ev->tee != KEEP_ATTEST_TEE_SGX)
            add_not_applicable(errors, "min_isvsvn", ev->tee);
        else if (ev->isvsvn < p->min_isvsvn)
            keep_error_list_add(errors, KEEP_E_POLICY_ISVSVN,
                                "isv_svn is %u; the policy's min_isvsvn is %u", ev->isvsvn,
                                p->min_isvsvn);
    }
    if (!intel) {
        /* The default tcb_statuses applies to Intel evidence only; explicit ones are an error. */
        if (p->tcb_statuses_set)
            add_not_applicable(errors, "tcb_statuses", ev->tee);
        if (p->advisories_set)
            add_not_applicable(errors, "allowed_advisories", ev->tee);
        return;
    }
    if (ev->missing_collateral && ev->missing_collateral[0] && !p->allow_missing_collateral)
        keep_error_list_add(errors, KEEP_E_POLICY_COLLATERAL_MISSING,
                            "collateral not given: %s; the TCB status or revocation cannot be "
                            "established (policy allow_missing_collateral is false)",
                            ev->missing_collateral);
    if (!ev->tcb_status)
        return; /* no status to judge; the missing-collateral rule above decides */
    if (!string_in(ev->tcb_status, p->tcb_statuses, p->tcb_status_count)) {
        char accepted[256] = "";
        for (size_t i = 0; i < p->tcb_status_count; i++) {
            size_t used = strlen(accepted);
            snprintf(accepted + used, sizeof(accepted) - used, "%s%s", i ? ", " : "",
                     p->tcb_statuses[i]);
        }
        keep_error_list_add(errors, KEEP_E_POLICY_TCB_STATUS,
                            "tcb_status is %s; the policy accepts: %s", ev->tcb_status,
                            p->tcb_status_count ? accepted : "(none)");
    }
    for (size_t i = 0; i < ev->advisory_count; i++)
        if (!string_in(ev->advisories[i], p->advisories, p->advisory_count))
            keep_error_list_add(errors, KEEP_E_POLICY_ADVISORY,
                                "advisory %s applies to this TCB level; not in the policy's "
                                "allowed_advisories",
                                ev->advisories[i]);
}

size_t keep_policy_apply(const struct keep_attest_policy *p, const struct keep_policy_evidence *ev,
                         struct keep_error_list *errors)
{
    size_t before = errors->count + errors->lost;
    if (p->tee_mask && !(p->tee_mask & (1u << ev->tee)))
        keep_error_list_add(errors, KEEP_E_POLICY_TEE,
                            "tee is %s; not in the policy's tee list (mask 0x%x)",
                            keep_attest_tee_name(ev->tee), p->tee_mask);
    if (ev->tee == KEEP_ATTEST_TEE_KVM && !p->allow_insecure)
        keep_error_list_add(errors, KEEP_E_POLICY_INSECURE_EVIDENCE,
                            "tee is kvm: the evidence is unsigned and proves nothing; the policy "
                            "must set allow_insecure to accept it");
    if (ev->debug && !p->allow_debug)
        keep_error_list_add(errors, KEEP_E_POLICY_DEBUG,
                            "%s is set: the host can read and change the %s's memory; the policy "
                            "does not set allow_debug",
                            ev->tee == KEEP_ATTEST_TEE_SNP   ? "policy.DEBUG (bit 19)"
                            : ev->tee == KEEP_ATTEST_TEE_SGX ? "ATTRIBUTES.DEBUG (bit 1)"
                            : ev->tee == KEEP_ATTEST_TEE_TDX ? "TD_ATTRIBUTES.DEBUG (bit 0)"
                                                             : "debug",
                            ev->tee == KEEP_ATTEST_TEE_SGX   ? "enclave"
                            : ev->tee == KEEP_ATTEST_TEE_TDX ? "TD"
                                                             : "guest");
    for (size_t i = 0; i < KEEP_POLICY_DIGEST_COUNT; i++)
        apply_digest(p, (enum keep_policy_digest)i, ev, errors);
    apply_report_data(p, ev, errors);
    apply_snp(p, ev, errors);
    apply_intel_tcb(p, ev, errors);
    return errors->count + errors->lost - before;
}

/* ---- names (public) ---------------------------------------------------- */

const char *keep_attest_verdict_name(enum keep_attest_verdict verdict)
{
    switch (verdict) {
    case KEEP_ATTEST_ACCEPT:
        return "accept";
    case KEEP_ATTEST_REJECT:
        return "reject";
    case KEEP_ATTEST_INVALID:
        return "invalid";
    }
    return "invalid";
}

const char *keep_attest_tee_name(enum keep_attest_tee tee)
{
    if (tee > KEEP_ATTEST_TEE_UNKNOWN && (size_t)tee < KEEP_ARRAY_LEN(tee_names))
        return tee_names[tee];
    return "unknown";
}

int keep_attest_format_parse(const char *text, enum keep_attest_format *out, struct keep_error *err)
{
    static const char *const names[] = {"auto", "snp", "sgx", "tdx", "kvm"};
    for (size_t i = 0; text && i < KEEP_ARRAY_LEN(names); i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = (enum keep_attest_format)i;
            return KEEP_OK;
        }
    }
    return keep_fail(err, KEEP_E_USAGE, "format is '%s'; must be auto, snp, sgx, tdx or kvm",
                     text ? text : "(null)");
}
