/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Real SGX (v3) and TDX (v4, v5) quotes from shared/vectors: parse, verify
 * the quote signature, the QE report signature, the attestation key binding
 * and the PCK chain to the shipped Intel SGX Root CA at the times the
 * vectors' README states, check the values it states, and check that the
 * README's one-byte mutations of tdx/spr-2023 fail for the stated reasons.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest/pck.h"
#include "attest/quote.h"
#include "attest/x509.h"
#include "common/util.h"
#include "tap.h"

/* Parse with the error cleared first, so a passing check prints no stale message. */
static int parse(const uint8_t *buf, size_t size, unsigned flags, struct keep_quote *q,
                 struct keep_error *err)
{
    keep_error_clear(err);
    return keep_quote_parse_ex(buf, size, flags, q, err);
}

static const char *vectors;
static X509 *intel_root;

static uint8_t *load(const char *set, const char *file, size_t *size)
{
    char path[1024];
    uint8_t *data = NULL;
    struct keep_error err;
    snprintf(path, sizeof(path), "%s/%s/%s", vectors, set, file);
    if (keep_read_file(path, 1 << 20, &data, size, &err) != KEEP_OK) {
        ok(0, "read %s: %s", path, err.message);
        return NULL;
    }
    return data;
}

static int64_t at(const char *text)
{
    int64_t t = 0;
    struct keep_error err;
    if (keep_parse_time(text, &t, &err) != KEEP_OK)
        diag("bad time %s: %s", text, err.message);
    return t;
}

static bool hex_is(const uint8_t *data, size_t size, const char *want)
{
    char *hex = malloc(2 * size + 1);
    keep_hex_encode(data, size, hex);
    bool same = strcmp(hex, want) == 0;
    if (!same)
        diag("got %s, want %s", hex, want);
    free(hex);
    return same;
}

/* Two CRLs given as hex DER in a collateral.json. */
static void load_collateral_crls(const char *set, X509_CRL **root_crl, X509_CRL **pck_crl)
{
    size_t size;
    uint8_t *text = load(set, "collateral.json", &size);
    json_t *doc = text ? json_loadb((const char *)text, size, 0, NULL) : NULL;
    const char *names[2] = {"root_ca_crl", "pck_crl"};
    X509_CRL **outs[2] = {root_crl, pck_crl};
    for (int i = 0; i < 2; i++) {
        const char *hex = json_string_value(json_object_get(doc, names[i]));
        uint8_t *der = NULL;
        size_t der_size = 0;
        struct keep_error err;
        *outs[i] = NULL;
        int rc = hex ? keep_hex_decode_alloc(hex, strlen(hex), &der, &der_size, names[i], &err)
                     : KEEP_E_BAD_JSON;
        if (rc == KEEP_OK)
            rc = keep_x509_parse_crl(der, der_size, names[i], outs[i], &err);
        ok(rc == KEEP_OK, "%s: %s parses", set, names[i]);
        free(der);
    }
    json_decref(doc);
    free(text);
}

static X509_CRL *load_crl(const char *set, const char *file)
{
    size_t size;
    uint8_t *der = load(set, file, &size);
    X509_CRL *crl = NULL;
    struct keep_error err;
    if (der && keep_x509_parse_crl(der, size, file, &crl, &err) != KEEP_OK)
        diag("%s: %s", file, err.message);
    free(der);
    return crl;
}

static int verify_at(const struct keep_quote *q, int64_t t, X509_CRL *root_crl, X509_CRL *pck_crl,
                     struct keep_pck_info *pck, struct keep_error *err)
{
    keep_error_clear(err);
    struct keep_quote_verify_opts opts = {
        .time = t, .intel_root = intel_root, .root_ca_crl = root_crl, .pck_crl = pck_crl};
    return keep_quote_verify(q, &opts, pck, err);
}

static void sgx_full_collateral(void)
{
    const char *set = "sgx/full-collateral";
    size_t size;
    uint8_t *buf = load(set, "quote.bin", &size);
    struct keep_quote q;
    struct keep_pck_info pck;
    struct keep_error err;
    X509_CRL *root_crl, *pck_crl;
    if (!buf)
        return;
    int rc = parse(buf, size, 0, &q, &err);
    is_int(rc, KEEP_OK, "%s: parses (%s)", set, err.message);
    is_int(q.header.version, 3, "%s: version 3", set);
    is_int(q.body_kind, KEEP_QUOTE_BODY_KIND_SGX, "%s: SGX body", set);
    load_collateral_crls(set, &root_crl, &pck_crl);
    rc = verify_at(&q, at("2025-07-19T10:01:17Z"), root_crl, pck_crl, &pck, &err);
    is_int(rc, KEEP_OK, "%s: verifies at 2025-07-19T10:01:17Z with both CRLs (%s)", set,
           err.message);
    ok(hex_is(pck.fmspc, 6, "00a067110000"), "%s: FMSPC 00a067110000", set);
    is_int(pck.pcesvn, 13, "%s: PCESVN 13", set);
    ok(hex_is(q.body.sgx.mr_enclave, 32,
              "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"),
       "%s: mrenclave", set);
    ok(hex_is(q.body.sgx.mr_signer, 32,
              "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"),
       "%s: mrsigner", set);
    is_int(q.body.sgx.isv_prod_id, 0, "%s: isvprodid 0", set);
    is_int(q.body.sgx.isv_svn, 0, "%s: isvsvn 0", set);
    ok(!(q.body.sgx.attributes_flags & KEEP_SGX_ATTR_DEBUG), "%s: DEBUG=0", set);
    uint8_t want_rd[64] = "Hello, world!";
    ok(memcmp(q.body.sgx.report_data, want_rd, 64) == 0, "%s: report_data 'Hello, world!'", set);
    /* The PCK CRL's nextUpdate is in the collateral window; a year later it has expired. */
    rc = verify_at(&q, at("2026-07-19T10:01:17Z"), root_crl, pck_crl, &pck, &err);
    ok(rc == KEEP_E_X509_CRL_EXPIRED, "%s: a year later the CRLs have expired (%s)", set,
       err.message);
    X509_CRL_free(root_crl);
    X509_CRL_free(pck_crl);
    free(buf);
}

static void sgx_debug(void)
{
    const char *set = "sgx/debug-quote-only";
    size_t size;
    uint8_t *buf = load(set, "quote.bin", &size);
    struct keep_quote q;
    struct keep_pck_info pck;
    struct keep_error err;
    if (!buf)
        return;
    is_int(parse(buf, size, 0, &q, &err), KEEP_OK, "%s: parses (%s)", set, err.message);
    is_int(verify_at(&q, at("2024-06-01T00:00:00Z"), NULL, NULL, &pck, &err), KEEP_OK,
           "%s: verifies in 2024 (%s)", set, err.message);
    ok(q.body.sgx.attributes_flags & KEEP_SGX_ATTR_DEBUG, "%s: ATTRIBUTES.DEBUG set", set);
    uint8_t want_rd[64] = "test";
    ok(memcmp(q.body.sgx.report_data, want_rd, 64) == 0, "%s: report_data 'test'", set);
    is_int(verify_at(&q, at("2031-01-01T00:00:00Z"), NULL, NULL, &pck, &err), KEEP_E_X509_EXPIRED,
           "%s: PCK expired in 2031 (%s)", set, err.message);
    json_t *claims = keep_quote_claims_json(&q);
    json_t *bits = json_object_get(json_object_get(claims, "body"), "attributes_bits");
    bool named = false;
    for (size_t i = 0; i < json_array_size(bits); i++)
        named |= strcmp(json_string_value(json_array_get(bits, i)), "DEBUG") == 0;
    ok(named, "%s: claims name the DEBUG attribute", set);
    ok(json_is_true(json_object_get(json_object_get(claims, "body"), "debug")),
       "%s: claims say debug: true", set);
    json_decref(claims);
    free(buf);
}

static void tdx_full_collateral(void)
{
    const char *set = "tdx/full-collateral";
    size_t size;
    uint8_t *buf = load(set, "quote.bin", &size);
    struct keep_quote q;
    struct keep_pck_info pck;
    struct keep_error err;
    X509_CRL *root_crl, *pck_crl;
    if (!buf)
        return;
    /* This file carries 70 zero bytes of buffer padding after the quote. */
    is_int(parse(buf, size, 0, &q, &err), KEEP_E_TRAILING_BYTES,
           "%s: strict parse refuses the padding after the quote (%s)", set, err.message);
    is_int(parse(buf, size, KEEP_QUOTE_PARSE_ALLOW_TRAILING, &q, &err), KEEP_OK,
           "%s: parses with ALLOW_TRAILING (%s)", set, err.message);
    is_int(q.trailing_size, 70, "%s: 70 trailing bytes counted", set);
    is_int(q.header.version, 4, "%s: version 4", set);
    is_int(q.body_kind, KEEP_QUOTE_BODY_KIND_TD10, "%s: TD 1.0 body", set);
    load_collateral_crls(set, &root_crl, &pck_crl);
    is_int(verify_at(&q, at("2025-07-19T10:00:34Z"), root_crl, pck_crl, &pck, &err), KEEP_OK,
           "%s: verifies at 2025-07-19T10:00:34Z with both CRLs (%s)", set, err.message);
    ok(hex_is(pck.fmspc, 6, "b0c06f000000"), "%s: FMSPC b0c06f000000", set);
    is_int(q.body.td.td_attributes, 0x10000000ull,
           "%s: td_attributes bytes 0000001000000000 (SEPT_VE_DISABLE only)", set);
    ok(!(q.body.td.td_attributes & KEEP_TD_ATTR_DEBUG), "%s: TD DEBUG=0", set);
    ok(hex_is(q.body.td.mr_td, 48,
              "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f2742"
              "8b2538873118b7"),
       "%s: mrtd", set);
    X509_CRL_free(root_crl);
    X509_CRL_free(pck_crl);
    free(buf);
}

static void tdx_debug(void)
{
    const char *set = "tdx/debug-quote-only";
    size_t size;
    uint8_t *buf = load(set, "quote.bin", &size);
    struct keep_quote q;
    struct keep_error err;
    if (!buf)
        return;
    is_int(parse(buf, size, 0, &q, &err), KEEP_OK, "%s: parses (%s)", set, err.message);
    is_int(verify_at(&q, at("2024-06-01T00:00:00Z"), NULL, NULL, NULL, &err), KEEP_OK,
           "%s: verifies in 2024 (%s)", set, err.message);
    /* README: td_attributes bytes 01 00 00 10 00 00 00 00 (little-endian u64). */
    is_int(q.body.td.td_attributes, 0x10000001ull, "%s: td_attributes 0100001000000000", set);
    ok(q.body.td.td_attributes & KEEP_TD_ATTR_DEBUG, "%s: TD DEBUG=1", set);
    free(buf);
}

static void tdx_v5(void)
{
    const char *set = "tdx/v5-2026";
    size_t size;
    uint8_t *buf = load(set, "quote.bin", &size);
    struct keep_quote q;
    struct keep_pck_info pck;
    struct keep_error err;
    if (!buf)
        return;
    is_int(parse(buf, size, 0, &q, &err), KEEP_OK, "%s: parses (%s)", set, err.message);
    is_int(q.header.version, 5, "%s: version 5", set);
    is_int(q.body_kind, KEEP_QUOTE_BODY_KIND_TD15, "%s: TD 1.5 body (type 3, 648 bytes)", set);
    is_int(q.signed_size, 48 + 6 + 648, "%s: signature covers header, descriptor and body", set);
    is_int(verify_at(&q, at("2026-02-03T01:00:00Z"), NULL, NULL, &pck, &err), KEEP_OK,
           "%s: verifies at 2026-02-03T01:00Z (%s)", set, err.message);
    ok(hex_is(pck.fmspc, 6, "90c06f000000"), "%s: FMSPC 90c06f000000", set);
    json_t *claims = keep_quote_claims_json(&q);
    ok(json_is_string(json_object_get(json_object_get(claims, "body"), "mr_servicetd")),
       "%s: claims include mr_servicetd", set);
    json_decref(claims);
    free(buf);
}

struct mutation {
    size_t offset;
    uint8_t value;
    int code;
    const char *reason;
};

static void tdx_spr_2023(void)
{
    const char *set = "tdx/spr-2023";
    size_t size;
    uint8_t *buf = load(set, "quote.bin", &size);
    struct keep_quote q;
    struct keep_pck_info pck;
    struct keep_error err;
    const unsigned allow = KEEP_QUOTE_PARSE_ALLOW_TRAILING;
    if (!buf)
        return;
    /* This file ends with the text "\nextra bytes(only for testing purpose)\n" after the quote. */
    is_int(parse(buf, size, allow, &q, &err), KEEP_OK, "%s: parses (%s)", set, err.message);
    is_int(q.trailing_size, 39, "%s: 39 trailing bytes counted", set);
    X509_CRL *root_crl = load_crl(set, "root_crl.der");
    X509_CRL *pck_crl = load_crl(set, "pck_crl.der");
    ok(root_crl && pck_crl, "%s: CRLs parse", set);
    int64_t good = at("2023-07-01T01:00:00Z");
    is_int(verify_at(&q, good, root_crl, pck_crl, &pck, &err), KEEP_OK,
           "%s: verifies at 2023-07-01T01:00Z with both CRLs (%s)", set, err.message);
    is_int(verify_at(&q, good, NULL, NULL, &pck, &err), KEEP_OK,
           "%s: verifies at 2023-07-01T01:00Z without CRLs (%s)", set, err.message);
    is_int(verify_at(&q, at("2053-07-01T00:00:00Z"), NULL, NULL, &pck, &err), KEEP_E_X509_EXPIRED,
           "%s: invalid at 2053-07-01 (%s)", set, err.message);

    static const struct mutation muts[] = {
        {0x00, 0x03, KEEP_E_QUOTE_VERSION, "unsupported version"},
        {0x1e, 0x32, KEEP_E_QUOTE_SIGNATURE, "quote signature (header.user_data)"},
        {0x3c, 0x32, KEEP_E_QUOTE_SIGNATURE, "quote signature (body.tee_tcb_svn)"},
        {0xb77, 0x32, KEEP_E_X509_SIGNATURE, "PCK signature"},
        {0xf5f, 0x32, KEEP_E_X509_SIGNATURE, "intermediate signature"},
        {0x1329, 0x32, KEEP_E_X509_SIGNATURE, "root signature"},
        {0x1343, 0x32, KEEP_E_X509_PARSE, "chain (PEM armour of the root)"},
        {0x278, 0x10, KEEP_E_QUOTE_SIZE, "certification data size"},
    };
    for (size_t i = 0; i < KEEP_ARRAY_LEN(muts); i++) {
        const struct mutation *m = &muts[i];
        uint8_t *copy = malloc(size);
        memcpy(copy, buf, size);
        copy[m->offset] = m->value;
        struct keep_quote mq;
        int rc = parse(copy, size, allow, &mq, &err);
        if (rc == KEEP_OK)
            rc = verify_at(&mq, good, NULL, NULL, NULL, &err);
        is_int(rc, m->code, "%s: byte 0x%zx set to 0x%02x fails: %s (%s: %s)", set, m->offset,
               m->value, m->reason, keep_err_name(rc), err.message);
        free(copy);
    }
    X509_CRL_free(root_crl);
    X509_CRL_free(pck_crl);
    free(buf);
}

int main(void)
{
    struct keep_error err = {0};
    vectors = tap_vectors_dir();
    int rc = keep_pck_load_intel_root(NULL, &intel_root, &err);
    is_int(rc, KEEP_OK, "the shipped Intel SGX Root CA loads (%s)", err.message);
    if (rc)
        return done_testing();
    sgx_full_collateral();
    sgx_debug();
    tdx_full_collateral();
    tdx_debug();
    tdx_v5();
    tdx_spr_2023();
    X509_free(intel_root);
    return done_testing();
}
