/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The quote parser and verifier on synthetic quotes (tests/support/quote_gen):
 * v3 SGX, v4 and v5 TDX (and the SGX forms of v4/v5) parse and verify, and
 * each format rule and each signature check fails on its own with its own
 * code.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest/quote.h"
#include "common/util.h"
#include "support/quote_gen.h"
#include "tap.h"

#define T_2025 1735689600 /* 2025-01-01T00:00:00Z */

static struct qgen_pki pki;

struct gen {
    uint8_t *buf;
    size_t size;
    struct qgen_layout l;
};

static struct gen make(const struct qgen_quote_opts *o)
{
    struct gen g = {0};
    if (qgen_quote(&pki, o, &g.buf, &g.size, &g.l) != 0)
        ok(0, "generate a quote");
    return g;
}

static int parse(const struct gen *g, struct keep_quote *q, struct keep_error *err)
{
    keep_error_clear(err);
    return keep_quote_parse(g->buf, g->size, q, err);
}

/* Parse, then verify at 2025 against the test root; the first failure's code. */
static int check(const struct gen *g, X509 *root, struct keep_error *err)
{
    struct keep_quote q;
    int rc = parse(g, &q, err);
    if (rc)
        return rc;
    struct keep_quote_verify_opts opts = {.time = T_2025, .intel_root = root};
    return keep_quote_verify(&q, &opts, NULL, err);
}

static void good_quotes(void)
{
    static const struct {
        int version, v5_body;
        bool sgx;
        enum keep_quote_body_kind kind;
        const char *name;
    } cases[] = {
        {3, 0, true, KEEP_QUOTE_BODY_KIND_SGX, "v3 SGX"},
        {4, 0, false, KEEP_QUOTE_BODY_KIND_TD10, "v4 TDX"},
        {5, 2, false, KEEP_QUOTE_BODY_KIND_TD10, "v5 TDX, TD report 1.0"},
        {5, 3, false, KEEP_QUOTE_BODY_KIND_TD15, "v5 TDX, TD report 1.5"},
        {4, 0, true, KEEP_QUOTE_BODY_KIND_SGX, "v4 SGX"},
        {5, 0, true, KEEP_QUOTE_BODY_KIND_SGX, "v5 SGX"},
    };
    for (size_t i = 0; i < KEEP_ARRAY_LEN(cases); i++) {
        struct qgen_quote_opts o = {.version = cases[i].version,
                                    .v5_body_type = cases[i].v5_body,
                                    .sgx_in_v4v5 = cases[i].sgx && cases[i].version > 3,
                                    .qe_auth_size = (uint16_t)(32 + i)};
        memcpy(o.report_data, "nonce", 5);
        memset(o.measurement, 0xa0 + (int)i, sizeof(o.measurement));
        struct gen g = make(&o);
        struct keep_quote q;
        struct keep_pck_info pck;
        struct keep_error err;
        is_int(parse(&g, &q, &err), KEEP_OK, "%s parses (%s)", cases[i].name, err.message);
        is_int(q.body_kind, cases[i].kind, "%s: body kind", cases[i].name);
        is_int(q.size, g.size, "%s: quote size is the whole buffer", cases[i].name);
        is_int(q.qe_auth_size, 32 + i, "%s: QE auth data size", cases[i].name);
        const uint8_t *rd = cases[i].sgx ? q.body.sgx.report_data : q.body.td.report_data;
        const uint8_t *mr = cases[i].sgx ? q.body.sgx.mr_enclave : q.body.td.mr_td;
        ok(memcmp(rd, o.report_data, 64) == 0, "%s: report_data", cases[i].name);
        ok(memcmp(mr, o.measurement, cases[i].sgx ? 32 : 48) == 0, "%s: measurement",
           cases[i].name);
        struct keep_quote_verify_opts vo = {.time = T_2025, .intel_root = pki.root};
        keep_error_clear(&err);
        is_int(keep_quote_verify(&q, &vo, &pck, &err), KEEP_OK, "%s verifies (%s)", cases[i].name,
               err.message);
        is_int(pck.ca, KEEP_PCK_CA_PLATFORM, "%s: PCK from the Platform CA", cases[i].name);
        free(g.buf);
    }
}

static void chain_variants(void)
{
    struct keep_error err;
    struct gen g = make(&(struct qgen_quote_opts){.no_root_in_chain = true});
    is_int(check(&g, pki.root, &err), KEEP_OK, "chain without the root verifies (%s)", err.message);
    free(g.buf);
    g = make(&(struct qgen_quote_opts){.version = 4, .chain_nul = true});
    is_int(check(&g, pki.root, &err), KEEP_OK, "chain PEM ending in a NUL verifies (%s)",
           err.message);
    free(g.buf);

    struct qgen_pki other;
    qgen_pki_new(&other, NULL);
    g = make(NULL);
    is_int(check(&g, other.root, &err), KEEP_E_QUOTE_ROOT_NOT_INTEL,
           "a chain ending at another root is refused (%s)", err.message);
    free(g.buf);
    g = make(&(struct qgen_quote_opts){.no_root_in_chain = true});
    is_int(check(&g, other.root, &err), KEEP_E_X509_UNTRUSTED,
           "a chain without root that does not reach the trusted root is untrusted (%s)",
           err.message);
    free(g.buf);
    qgen_pki_free(&other);

    g = make(NULL);
    struct keep_quote q;
    parse(&g, &q, &err);
    struct keep_quote_verify_opts vo = {.time = 1500000000, .intel_root = pki.root};
    is_int(keep_quote_verify(&q, &vo, NULL, &err), KEEP_E_X509_NOT_YET_VALID,
           "verification in 2017 is before the chain's validity (%s)", err.message);
    vo.time = 4102444800; /* 2100 */
    is_int(keep_quote_verify(&q, &vo, NULL, &err), KEEP_E_X509_EXPIRED,
           "verification in 2100 is after it (%s)", err.message);
    free(g.buf);
}

/* Flip one byte at off and return the first failure's code. */
static int flip(const struct qgen_quote_opts *o, size_t off, uint8_t mask, struct keep_error *err)
{
    struct gen g = make(o);
    g.buf[off] ^= mask;
    int rc = check(&g, pki.root, err);
    free(g.buf);
    return rc;
}

static void signature_failures(void)
{
    struct keep_error err;
    for (int v = 3; v <= 5; v++) {
        struct qgen_quote_opts o = {.version = v};
        struct gen g = make(&o);
        struct qgen_layout l = g.l;
        free(g.buf);
        is_int(flip(&o, l.signature_off + 5, 0x01, &err), KEEP_E_QUOTE_SIGNATURE,
               "v%d: a flipped signature bit fails the quote signature (%s)", v, err.message);
        is_int(flip(&o, l.body_off + l.body_size - 1, 0x80, &err), KEEP_E_QUOTE_SIGNATURE,
               "v%d: a flipped report_data bit fails the quote signature", v);
        is_int(flip(&o, 40, 0x01, &err), KEEP_E_QUOTE_SIGNATURE,
               "v%d: a flipped header.user_data bit fails the quote signature", v);
        is_int(flip(&o, l.qe_report_sig_off + 40, 0x01, &err), KEEP_E_QUOTE_QE_REPORT_SIGNATURE,
               "v%d: a flipped QE report signature bit fails it (%s)", v, err.message);
        is_int(flip(&o, l.qe_report_off + 1, 0x01, &err), KEEP_E_QUOTE_QE_REPORT_SIGNATURE,
               "v%d: a changed QE report cpu_svn fails the QE report signature", v);
        is_int(flip(&o, l.qe_auth_off, 0x01, &err), KEEP_E_QUOTE_AK_BINDING,
               "v%d: changed QE auth data breaks the key binding (%s)", v, err.message);
        is_int(flip(&o, l.attest_key_off + 3, 0x01, &err), KEEP_E_QUOTE_AK_BINDING,
               "v%d: a changed attestation key breaks the key binding", v);
        o.binding_tail_nonzero = true;
        is_int(flip(&o, l.body_off, 0x00, &err), KEEP_E_QUOTE_AK_BINDING,
               "v%d: QE report_data[32..64) not zero breaks the binding (%s)", v, err.message);
        o.binding_tail_nonzero = false;
        is_int(flip(&o, 12, 0x01, &err), KEEP_E_QUOTE_QE_VENDOR,
               "v%d: a QE vendor ID other than Intel's is refused (%s)", v, err.message);
    }
    /* A struct whose parse failed is not verified. */
    struct gen g = make(NULL);
    struct keep_quote q;
    g.buf[0] = 9;
    parse(&g, &q, &err);
    struct keep_quote_verify_opts vo = {.time = T_2025, .intel_root = pki.root};
    is_int(keep_quote_verify(&q, &vo, NULL, &err), KEEP_E_USAGE,
           "a quote whose parse failed is refused by verify (%s)", err.message);
    free(g.buf);
    /* The key check on its own: (1, 1) is not on P-256. */
    uint8_t key[64] = {0}, sig[64] = {0};
    key[31] = 1;
    key[63] = 1;
    sig[31] = sig[63] = 1;
    is_int(keep_quote_p256_verify(key, sig, key, 64, KEEP_E_QUOTE_SIGNATURE, "test", &err),
           KEEP_E_QUOTE_KEY_INVALID, "a public key off the curve is refused (%s)", err.message);
}

/* keep_quote_verify_with_pck_key: the checks after the chain, with a kept PCK key and AK cache. */
static void with_pck_key(void)
{
    struct keep_error err;
    struct keep_quote_ak_cache ak = {0};
    struct gen g = make(&(struct qgen_quote_opts){.version = 4});
    struct gen h = make(&(struct qgen_quote_opts){.version = 3});
    struct keep_quote q, r;
    parse(&g, &q, &err);
    parse(&h, &r, &err);
    is_int(keep_quote_verify_with_pck_key(&q, pki.pck_key, &ak, &err), KEEP_OK,
           "a quote verifies under its PCK key (%s)", err.message);
    ok(ak.key != NULL && memcmp(ak.xy, q.attest_key, 64) == 0,
       "the cache holds the quote's attestation key");
    EVP_PKEY *kept = ak.key;
    is_int(keep_quote_verify_with_pck_key(&q, pki.pck_key, &ak, &err), KEEP_OK,
           "it verifies again from the cache (%s)", err.message);
    ok(ak.key == kept, "the cached key object is reused");
    is_int(keep_quote_verify_with_pck_key(&r, pki.pck_key, &ak, &err), KEEP_OK,
           "a quote with another attestation key verifies (%s)", err.message);
    ok(memcmp(ak.xy, r.attest_key, 64) == 0, "the cache now holds that quote's key");
    is_int(keep_quote_verify_with_pck_key(&q, pki.pck_key, NULL, &err), KEEP_OK,
           "without a cache it verifies too (%s)", err.message);
    is_int(keep_quote_verify_with_pck_key(&q, pki.ca_key, &ak, &err),
           KEEP_E_QUOTE_QE_REPORT_SIGNATURE, "under another key the QE report fails (%s)",
           err.message);
    g.buf[g.l.signature_off + 5] ^= 0x01;
    is_int(keep_quote_verify_with_pck_key(&q, pki.pck_key, &ak, &err), KEEP_E_QUOTE_SIGNATURE,
           "a flipped quote signature bit fails with a cached key (%s)", err.message);
    g.buf[g.l.signature_off + 5] ^= 0x01;
    q.header.qe_vendor_id[0] ^= 0x01;
    is_int(keep_quote_verify_with_pck_key(&q, pki.pck_key, &ak, &err), KEEP_E_QUOTE_QE_VENDOR,
           "a QE vendor ID other than Intel's is refused (%s)", err.message);
    is_int(keep_quote_verify_with_pck_key(&q, NULL, &ak, &err), KEEP_E_USAGE,
           "no PCK key is a usage error (%s)", err.message);
    keep_quote_ak_cache_clear(&ak);
    ok(ak.key == NULL, "clear frees and zeroes the cache");
    free(g.buf);
    free(h.buf);
}

static int parse_mutated(const struct qgen_quote_opts *o, size_t off, uint64_t value, size_t width,
                         struct keep_error *err)
{
    struct gen g = make(o);
    struct keep_quote q;
    qgen_put_le(g.buf + off, value, width);
    int rc = parse(&g, &q, err);
    free(g.buf);
    return rc;
}

static void header_failures(void)
{
    struct keep_error err;
    struct qgen_quote_opts v3 = {.version = 3}, v4 = {.version = 4}, v5 = {.version = 5};
    is_int(parse_mutated(&v3, 0, 2, 2, &err), KEEP_E_QUOTE_VERSION, "version 2 (%s)", err.message);
    is_int(parse_mutated(&v4, 0, 6, 2, &err), KEEP_E_QUOTE_VERSION, "version 6 (%s)", err.message);
    is_int(parse_mutated(&v4, 0, 3, 2, &err), KEEP_E_QUOTE_VERSION,
           "version 3 with TEE type TDX (%s)", err.message);
    is_int(parse_mutated(&v3, 2, 3, 2, &err), KEEP_E_QUOTE_KEY_TYPE,
           "attestation key type 3 (P-384) (%s)", err.message);
    is_int(parse_mutated(&v4, 4, 0x42, 4, &err), KEEP_E_QUOTE_TEE_TYPE, "TEE type 0x42 (%s)",
           err.message);
    is_int(parse_mutated(&v5, 48, 4, 2, &err), KEEP_E_QUOTE_BODY_TYPE, "v5 body type 4 (%s)",
           err.message);
    is_int(parse_mutated(&v5, 48, 1, 2, &err), KEEP_E_QUOTE_BODY_TYPE,
           "v5 body type 1 (SGX) with TEE type TDX (%s)", err.message);
    is_int(parse_mutated(&v5, 50, 584, 4, &err), KEEP_E_QUOTE_BODY_SIZE,
           "v5 body type 3 with size 584 (%s)", err.message);
    is_int(parse_mutated(&v5, 50, 0xffffffff, 4, &err), KEEP_E_QUOTE_BODY_SIZE,
           "v5 body size 0xFFFFFFFF (%s)", err.message);
    /* SGX report body reserved1 at offset 20 of the body. */
    is_int(parse_mutated(&v3, 48 + 20, 1, 1, &err), KEEP_E_RESERVED_NONZERO,
           "a nonzero reserved byte of the SGX report body (%s)", err.message);
}

static void size_failures(void)
{
    struct keep_error err;
    for (int v = 3; v <= 5; v++) {
        struct qgen_quote_opts o = {.version = v};
        struct gen g = make(&o);
        struct qgen_layout l = g.l;
        free(g.buf);
        is_int(parse_mutated(&o, l.sig_data_len_off, 0xffffffff, 4, &err), KEEP_E_QUOTE_SIZE,
               "v%d: signature_data_len 0xFFFFFFFF (%s)", v, err.message);
        is_int(parse_mutated(&o, l.sig_data_len_off, 10, 4, &err), KEEP_E_TRUNCATED,
               "v%d: signature_data_len 10 cuts the signature data (%s)", v, err.message);
        is_int(parse_mutated(&o, l.cert_size_off, 0xffffffff, 4, &err), KEEP_E_QUOTE_SIZE,
               "v%d: PCK certification data size 0xFFFFFFFF (%s)", v, err.message);
        is_int(parse_mutated(&o, l.cert_size_off, l.chain_size - 1, 4, &err), KEEP_E_QUOTE_SIZE,
               "v%d: PCK certification data size one short (%s)", v, err.message);
        is_int(parse_mutated(&o, l.qe_auth_size_off, 0xffff, 2, &err), KEEP_E_QUOTE_SIZE,
               "v%d: QE auth data size 0xFFFF (%s)", v, err.message);
        if (v >= 4)
            is_int(parse_mutated(&o, l.outer_cert_size_off, 0xffffffff, 4, &err), KEEP_E_QUOTE_SIZE,
                   "v%d: QE report certification data size 0xFFFFFFFF (%s)", v, err.message);
        /* A signature data length one larger, with one more byte to cover it. */
        g = make(&o);
        uint8_t *bigger = malloc(g.size + 1);
        memcpy(bigger, g.buf, g.size);
        bigger[g.size] = 0;
        uint32_t len = (uint32_t)(g.size - l.sig_data_len_off - 4 + 1);
        qgen_put_le(bigger + l.sig_data_len_off, len, 4);
        struct keep_quote q;
        keep_error_clear(&err);
        is_int(keep_quote_parse(bigger, g.size + 1, &q, &err), KEEP_E_QUOTE_SIZE,
               "v%d: signature data longer than its fields (%s)", v, err.message);
        /* The quote extended by one byte. */
        memcpy(bigger, g.buf, g.size);
        is_int(keep_quote_parse(bigger, g.size + 1, &q, &err), KEEP_E_TRAILING_BYTES,
               "v%d: one byte appended is refused (%s)", v, err.message);
        is_int(keep_quote_parse_ex(bigger, g.size + 1, KEEP_QUOTE_PARSE_ALLOW_TRAILING, &q, &err),
               KEEP_OK, "v%d: ... and accepted with ALLOW_TRAILING", v);
        is_int(q.trailing_size, 1, "v%d: ... which counts it", v);
        free(bigger);
        free(g.buf);
    }
}

static void cert_type_failures(void)
{
    struct keep_error err;
    struct qgen_quote_opts v3 = {.version = 3}, v4 = {.version = 4};
    struct gen g3 = make(&v3), g4 = make(&v4);
    for (uint16_t t = 1; t <= 7; t++) {
        if (t != 5)
            is_int(parse_mutated(&v3, g3.l.cert_type_off, t, 2, &err), KEEP_E_QUOTE_CERT_DATA_TYPE,
                   "v3: certification data type %u (%s)", t, err.message);
        if (t != 6)
            is_int(parse_mutated(&v4, g4.l.outer_cert_type_off, t, 2, &err),
                   KEEP_E_QUOTE_CERT_DATA_TYPE, "v4: outer certification data type %u (%s)", t,
                   err.message);
        if (t != 5)
            is_int(parse_mutated(&v4, g4.l.cert_type_off, t, 2, &err), KEEP_E_QUOTE_CERT_DATA_TYPE,
                   "v4: inner certification data type %u", t);
    }
    is_int(parse_mutated(&v4, g4.l.cert_type_off, 0xffff, 2, &err), KEEP_E_QUOTE_CERT_DATA_TYPE,
           "v4: inner certification data type 0xFFFF");
    free(g3.buf);
    free(g4.buf);
}

/* Every proper prefix of a quote fails to parse with a truncation or size error. */
static void truncations(void)
{
    for (int v = 3; v <= 5; v++) {
        struct gen g = make(&(struct qgen_quote_opts){.version = v});
        size_t bad = 0, first_bad = 0;
        for (size_t n = 0; n < g.size; n++) {
            struct keep_quote q;
            struct keep_error err;
            uint8_t *copy = malloc(n ? n : 1);
            memcpy(copy, g.buf, n);
            int rc = keep_quote_parse(copy, n, &q, &err);
            if (rc != KEEP_E_TRUNCATED && rc != KEEP_E_QUOTE_SIZE) {
                if (!bad++)
                    first_bad = n;
            }
            free(copy);
        }
        ok(bad == 0, "v%d: each of the %zu truncations fails as truncated or size mismatch", v,
           g.size);
        if (bad)
            diag("%zu did not, first at length %zu", bad, first_bad);
        free(g.buf);
    }
}

static bool has_keys(json_t *obj, const char *const *keys, size_t count, const char *where)
{
    bool all = true;
    for (size_t i = 0; i < count; i++)
        if (!json_object_get(obj, keys[i])) {
            diag("%s lacks %s", where, keys[i]);
            all = false;
        }
    return all;
}

static void claims(void)
{
    static const char *const header_keys[] = {"version", "att_key_type", "tee_type", "qe_svn",
                                              "pce_svn", "qe_vendor_id", "user_data"};
    static const char *const sgx_keys[] = {
        "cpu_svn", "misc_select", "isv_ext_prod_id", "attributes", "attributes_bits",
        "debug",   "mr_enclave",  "mr_signer",       "config_id",  "isv_prod_id",
        "isv_svn", "config_svn",  "isv_family_id",   "report_data"};
    static const char *const td_keys[] = {"tee_tcb_svn",     "mr_seam",       "mr_signer_seam",
                                          "seam_attributes", "td_attributes", "td_attributes_bits",
                                          "debug",           "xfam",          "mr_td",
                                          "mr_config_id",    "mr_owner",      "mr_owner_config",
                                          "rtmr0",           "rtmr1",         "rtmr2",
                                          "rtmr3",           "report_data",   "tee_tcb_svn2",
                                          "mr_servicetd"};
    struct keep_error err;
    struct keep_quote q;

    struct gen g = make(&(struct qgen_quote_opts){.version = 3, .attributes_flags = 0x7});
    parse(&g, &q, &err);
    json_t *c = keep_quote_claims_json(&q);
    json_t *body = json_object_get(c, "body");
    ok(has_keys(json_object_get(c, "header"), header_keys, KEEP_ARRAY_LEN(header_keys), "header"),
       "v3 claims: every header field");
    ok(has_keys(body, sgx_keys, KEEP_ARRAY_LEN(sgx_keys), "body"), "v3 claims: every body field");
    ok(has_keys(json_object_get(c, "qe_report"), sgx_keys, KEEP_ARRAY_LEN(sgx_keys), "qe_report"),
       "v3 claims: every QE report field");
    is_int(json_integer_value(json_object_get(json_object_get(c, "header"), "pce_svn")), 13,
           "v3 claims: pce_svn is a number");
    ok(json_is_true(json_object_get(body, "debug")), "v3 claims: DEBUG attribute -> debug: true");
    is_str(json_string_value(json_array_get(json_object_get(body, "attributes_bits"), 1)), "DEBUG",
           "v3 claims: attributes_bits names DEBUG");
    is_int(strlen(json_string_value(json_object_get(body, "mr_enclave"))), 64,
           "v3 claims: mr_enclave is 64 hex digits");
    json_decref(c);
    free(g.buf);

    g = make(&(struct qgen_quote_opts){.version = 5, .td_attributes = 0x10000001});
    parse(&g, &q, &err);
    c = keep_quote_claims_json(&q);
    body = json_object_get(c, "body");
    ok(has_keys(body, td_keys, KEEP_ARRAY_LEN(td_keys), "body"), "v5 claims: every TD 1.5 field");
    is_str(json_string_value(json_object_get(c, "body_type")), "td_report_1.5",
           "v5 claims: body_type");
    ok(json_is_true(json_object_get(body, "debug")), "v5 claims: TD DEBUG -> debug: true");
    json_t *bits = json_object_get(body, "td_attributes_bits");
    ok(json_array_size(bits) == 2 &&
           strcmp(json_string_value(json_array_get(bits, 1)), "SEPT_VE_DISABLE") == 0,
       "v5 claims: td_attributes_bits DEBUG, SEPT_VE_DISABLE");
    json_decref(c);
    free(g.buf);
}

int main(void)
{
    if (qgen_pki_new(&pki, NULL) != 0) {
        ok(0, "generate the test PKI");
        return done_testing();
    }
    good_quotes();
    chain_variants();
    signature_failures();
    with_pck_key();
    header_failures();
    size_failures();
    cert_type_failures();
    truncations();
    claims();
    qgen_pki_free(&pki);
    return done_testing();
}
