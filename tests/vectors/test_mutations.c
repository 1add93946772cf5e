/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mutation sweep over every shared vector, through the public API with one
 * cached verifier:
 *
 *   - each vector is first verified as it is, with a policy that accepts it
 *     (the baseline: ACCEPT, so any mutation that is not caught would show
 *     as ACCEPT too);
 *   - every byte of the SEV-SNP report, and every byte of each quote up to
 *     its end (trailing padding excluded: it is covered by no signature and
 *     ignored, see docs/ATTESTATION.md), is changed in two ways (XOR 0x01
 *     and XOR 0x80); none may give ACCEPT;
 *   - every byte of the tbsCertificate of the VCEK/VLEK and of each quote's
 *     PCK certificate is changed (XOR 0x01); none may give ACCEPT;
 *   - truncated (every length), extended, empty and random inputs give a
 *     clean INVALID (the test runs under ASan in `make check`).
 * The counts are printed. Quote certification data is PEM text: a change
 * there that decodes to the very same certificates is not a change of the
 * evidence, and is counted separately (it may be accepted).
 */
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest/quote.h"
#include "attest/verify.h"
#include "attest_vectors.h"

struct vector {
    const char *name;
    const char *evidence;
    const char *cert; /* VCEK/VLEK, SNP only */
    const char *collateral;
    const char *time; /* NULL: now */
    const char *policy;
};

static const char snp_policy[] = "{\"allow_debug\": true}";
static const char quote_policy[] = "{\"allow_debug\": true, \"allow_missing_collateral\": true}";
static const char sgx_full_policy[] =
    "{\"tcb_statuses\": [\"ConfigurationAndSWHardeningNeeded\"],"
    " \"allowed_advisories\": [\"INTEL-SA-00289\", \"INTEL-SA-00615\"]}";

static const struct vector vectors[] = {
    {"snp/milan-release", "snp/milan-release/report.bin", "snp/milan-release/vcek.der", NULL, NULL,
     snp_policy},
    {"snp/milan-debug", "snp/milan-debug/report.bin", "snp/milan-debug/vcek.der", NULL, NULL,
     snp_policy},
    {"snp/milan-idblock", "snp/milan-idblock/report.bin", "snp/milan-idblock/vcek.der", NULL, NULL,
     snp_policy},
    {"snp/milan-vlek-expired", "snp/milan-vlek-expired/report.bin",
     "snp/milan-vlek-expired/vlek.der", NULL, "2025-06-01T00:00:00Z", snp_policy},
    {"sgx/full-collateral", "sgx/full-collateral/quote.bin", NULL,
     "sgx/full-collateral/collateral.json", "2025-07-19T10:01:17Z", sgx_full_policy},
    {"sgx/debug-quote-only", "sgx/debug-quote-only/quote.bin", NULL, NULL, NULL, quote_policy},
    {"tdx/full-collateral", "tdx/full-collateral/quote.bin", NULL,
     "tdx/full-collateral/collateral.json", "2025-07-19T10:00:34Z", NULL},
    {"tdx/spr-2023", "tdx/spr-2023/quote.bin", NULL, NULL, "2023-07-01T01:00:00Z", quote_policy},
    {"tdx/v5-2026", "tdx/v5-2026/quote.bin", NULL, NULL, "2026-02-03T01:00:00Z", quote_policy},
    {"tdx/debug-quote-only", "tdx/debug-quote-only/quote.bin", NULL, NULL, NULL, quote_policy},
};

static struct keep_attest_verifier *verifier;
static unsigned long total_mutations;

static enum keep_attest_verdict verdict_of(const struct keep_attest_input *in,
                                           const struct keep_attest_policy *policy)
{
    struct keep_attest_result *r = NULL;
    struct keep_error err = {0};
    if (keep_attest_verify(verifier, in, policy, &r, &err)) {
        printf("Bail out! keep_attest_verify: %s\n", err.message);
        exit(1);
    }
    enum keep_attest_verdict v = keep_attest_result_verdict(r);
    keep_attest_result_free(r);
    return v;
}

/* [start, end) of the tbsCertificate inside a DER certificate (OpenSSL's ASN.1 reader). */
static bool tbs_range(const uint8_t *der, size_t size, size_t *start, size_t *end)
{
    const unsigned char *p = der;
    long len;
    int tag, cls;
    if (ASN1_get_object(&p, &len, &tag, &cls, (long)size) & 0x80)
        return false;
    const unsigned char *tbs = p;
    if (ASN1_get_object(&p, &len, &tag, &cls, (long)(size - (size_t)(p - der))) & 0x80)
        return false;
    *start = (size_t)(tbs - der);
    *end = (size_t)(p - der) + (size_t)len;
    return *end <= size;
}

/* The quote's own size (its trailing padding excluded), from the parser. */
static size_t quote_size(const struct keep_attest_blob *b)
{
    struct keep_quote q;
    struct keep_error err;
    if (keep_quote_parse_ex(b->data, b->size, KEEP_QUOTE_PARSE_ALLOW_TRAILING, &q, &err))
        return 0;
    return q.size;
}

/* Where the PEM certification data lies in a quote: [start, end). */
static bool pem_range(const uint8_t *q, size_t size, size_t *start, size_t *end)
{
    static const char begin[] = "-----BEGIN CERTIFICATE-----";
    static const char last[] = "-----END CERTIFICATE-----";
    const uint8_t *b = memmem(q, size, begin, strlen(begin));
    if (!b)
        return false;
    const uint8_t *e = b, *next;
    while ((next = memmem(e, size - (size_t)(e - q), last, strlen(last))) != NULL)
        e = next + strlen(last);
    *start = (size_t)(b - q);
    *end = (size_t)(e - q);
    return *end > *start;
}

/* DER of every certificate in the quote's PEM, concatenated: the chain the PEM means. */
static bool pem_chain_der(const uint8_t *pem, size_t size, uint8_t *out, size_t cap, size_t *n,
                          int *count)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)size);
    X509 *x;
    *n = 0;
    *count = 0;
    while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        unsigned char *der = NULL;
        int len = i2d_X509(x, &der);
        X509_free(x);
        if (len > 0 && *n + (size_t)len <= cap)
            memcpy(out + *n, der, (size_t)len);
        *n += len > 0 ? (size_t)len : 0;
        *count += 1;
        OPENSSL_free(der);
    }
    ERR_clear_error();
    BIO_free(bio);
    return *n > 0 && *n <= cap;
}

/*
 * Every byte in [from, to) XOR each mask; no ACCEPT. A byte in [pem_from,
 * pem_to) may be accepted only when the PEM still decodes to the very same
 * PCK and CA certificates, byte for byte, possibly without the root after
 * them: the root in a quote is optional ([TDX] A.3.6) and the verifier
 * anchors at its shipped root whatever the quote holds.
 */
static void sweep(const struct vector *vec, struct keep_attest_input *in,
                  const struct keep_attest_policy *policy, struct keep_attest_blob *target,
                  size_t from, size_t to, size_t pem_from, size_t pem_to, const char *what)
{
    static const uint8_t masks[] = {0x01, 0x80};
    uint8_t *copy = malloc(target->size);
    static uint8_t chain[32768], chain2[32768];
    size_t chain_size = 0, chain2_size;
    int count = 0, count2;
    memcpy(copy, target->data, target->size);
    if (pem_to > pem_from)
        pem_chain_der(copy + pem_from, pem_to - pem_from, chain, sizeof(chain), &chain_size,
                      &count);
    struct keep_attest_blob saved = *target;
    *target = (struct keep_attest_blob){.data = copy, .size = saved.size};
    unsigned long tried = 0, accepted = 0, benign = 0;
    for (size_t off = from; off < to; off++) {
        for (size_t m = 0; m < KEEP_ARRAY_LEN(masks); m++) {
            copy[off] ^= masks[m];
            tried++;
            if (verdict_of(in, policy) == KEEP_ATTEST_ACCEPT) {
                bool same = off >= pem_from && off < pem_to &&
                            pem_chain_der(copy + pem_from, pem_to - pem_from, chain2,
                                          sizeof(chain2), &chain2_size, &count2) &&
                            count2 >= 2 && chain2_size <= chain_size &&
                            memcmp(chain, chain2, chain2_size) == 0;
                if (same) {
                    benign++;
                } else {
                    accepted++;
                    if (accepted <= 5)
                        diag("%s: %s byte 0x%zx ^ 0x%02x was ACCEPTED", vec->name, what, off,
                             masks[m]);
                }
            }
            copy[off] ^= masks[m];
        }
    }
    *target = saved;
    free(copy);
    total_mutations += tried;
    ok(accepted == 0, "%s: %lu one-byte mutations of the %s (bytes 0x%zx..0x%zx), none accepted",
       vec->name, tried, what, from, to);
    if (benign)
        diag("%s: %lu PEM text mutations decode to the same PCK and CA certificates (accepted: "
             "not a change of what is verified)",
             vec->name, benign);
}

/* Mutations of a DER certificate's tbsCertificate bytes. */
static void sweep_cert_tbs(const struct vector *vec, struct keep_attest_input *in,
                           const struct keep_attest_policy *policy)
{
    size_t start, end;
    if (!tbs_range(in->vcek.data, in->vcek.size, &start, &end)) {
        ok(0, "%s: tbsCertificate of %s found", vec->name, vec->cert);
        return;
    }
    uint8_t *copy = malloc(in->vcek.size);
    memcpy(copy, in->vcek.data, in->vcek.size);
    struct keep_attest_blob saved = in->vcek;
    in->vcek = (struct keep_attest_blob){.data = copy, .size = saved.size};
    unsigned long tried = 0, accepted = 0;
    for (size_t off = start; off < end; off++) {
        copy[off] ^= 0x01;
        tried++;
        if (verdict_of(in, policy) == KEEP_ATTEST_ACCEPT && ++accepted <= 5)
            diag("%s: certificate byte 0x%zx accepted", vec->name, off);
        copy[off] ^= 0x01;
    }
    in->vcek = saved;
    free(copy);
    total_mutations += tried;
    ok(accepted == 0, "%s: %lu mutations of the certificate's tbsCertificate, none accepted",
       vec->name, tried);
}

/*
 * Mutations of the PCK certificate's tbsCertificate inside a quote: decode
 * the first PEM certificate, change one DER byte, encode it again (same
 * length) and put it back. Skipped, with the reason, when the quote's PEM is
 * not in OpenSSL's own layout (so that re-encoding would change other bytes).
 */
static void sweep_pck_tbs(const struct vector *vec, struct keep_attest_input *in,
                          const struct keep_attest_policy *policy)
{
    size_t pem_start, pem_end, start, end;
    const uint8_t *q = in->evidence.data;
    if (!pem_range(q, in->evidence.size, &pem_start, &pem_end)) {
        ok(0, "%s: PCK PEM found in the quote", vec->name);
        return;
    }
    BIO *bio = BIO_new_mem_buf(q + pem_start, (int)(pem_end - pem_start));
    X509 *pck = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    BIO_free(bio);
    unsigned char *der = NULL;
    int der_size = pck ? i2d_X509(pck, &der) : -1;
    X509_free(pck);
    BIO *out = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long pem_size = 0;
    if (der_size > 0 && PEM_write_bio(out, "CERTIFICATE", "", der, der_size))
        pem_size = BIO_get_mem_data(out, &pem);
    bool layout = pem_size > 0 && (size_t)pem_size <= pem_end - pem_start &&
                  memcmp(q + pem_start, pem, (size_t)pem_size - 1) == 0;
    if (!layout || !tbs_range(der, (size_t)der_size, &start, &end)) {
        diag("%s: the PCK PEM is not in OpenSSL's layout; PCK tbsCertificate sweep not run",
             vec->name);
        BIO_free(out);
        OPENSSL_free(der);
        return;
    }
    uint8_t *copy = malloc(in->evidence.size);
    memcpy(copy, q, in->evidence.size);
    struct keep_attest_blob saved = in->evidence;
    in->evidence = (struct keep_attest_blob){.data = copy, .size = saved.size};
    unsigned long tried = 0, accepted = 0;
    for (size_t off = start; off < end; off++) {
        der[off] ^= 0x01;
        BIO *m = BIO_new(BIO_s_mem());
        char *mpem = NULL;
        PEM_write_bio(m, "CERTIFICATE", "", der, der_size);
        long mpem_size = BIO_get_mem_data(m, &mpem);
        memcpy(copy + pem_start, mpem, (size_t)mpem_size - 1);
        tried++;
        if (verdict_of(in, policy) == KEEP_ATTEST_ACCEPT && ++accepted <= 5)
            diag("%s: PCK byte 0x%zx accepted", vec->name, off);
        BIO_free(m);
        der[off] ^= 0x01;
    }
    memcpy(copy + pem_start, pem, (size_t)pem_size - 1);
    ok(verdict_of(in, policy) == KEEP_ATTEST_ACCEPT, "%s: the PCK re-encoded unchanged is accepted",
       vec->name);
    in->evidence = saved;
    free(copy);
    BIO_free(out);
    OPENSSL_free(der);
    total_mutations += tried;
    ok(accepted == 0, "%s: %lu mutations of the PCK tbsCertificate, none accepted", vec->name,
       tried);
}

/* Every shorter length, one longer, and empty: INVALID (SNP) or unchanged (quote padding). */
static void truncate_extend(const struct vector *vec, struct keep_attest_input *in,
                            const struct keep_attest_policy *policy, bool quote)
{
    struct keep_attest_blob saved = in->evidence;
    unsigned long not_invalid = 0;
    size_t limit = quote ? quote_size(&saved) : saved.size;
    for (size_t len = 0; len < limit; len++) {
        in->evidence.size = len;
        if (verdict_of(in, policy) != KEEP_ATTEST_INVALID && ++not_invalid <= 3)
            diag("%s: truncated to %zu bytes is not invalid", vec->name, len);
    }
    total_mutations += limit;
    ok(not_invalid == 0, "%s: all %zu truncations are invalid", vec->name, limit);
    uint8_t *longer = malloc(saved.size + 16);
    memcpy(longer, saved.data, saved.size);
    memset(longer + saved.size, 0xa5, 16);
    in->evidence = (struct keep_attest_blob){.data = longer, .size = saved.size + 16};
    enum keep_attest_verdict v = verdict_of(in, policy);
    if (quote)
        is_int(v, KEEP_ATTEST_ACCEPT,
               "%s: 16 bytes appended after the quote are ignored (covered by no signature)",
               vec->name);
    else
        is_int(v, KEEP_ATTEST_INVALID, "%s: 16 bytes appended make it invalid", vec->name);
    free(longer);
    in->evidence = saved;
}

static void run_vector(const char *dir, const struct vector *vec)
{
    struct keep_attest_input in = {0};
    struct keep_attest_policy *policy = vec_policy(vec->policy);
    in.evidence = vec_load(dir, vec->evidence);
    if (vec->cert)
        in.vcek = vec_load(dir, vec->cert);
    if (vec->collateral)
        in.collateral_json = vec_load(dir, vec->collateral);
    if (vec->time) {
        in.has_time = true;
        in.time = vec_time(vec->time);
    }
    bool quote = vec->cert == NULL;
    if (!ok(verdict_of(&in, policy) == KEEP_ATTEST_ACCEPT, "%s: baseline accepted", vec->name)) {
        struct keep_attest_result *r = vec_verify(verifier, &in, vec->policy);
        vec_diag_result(r);
        keep_attest_result_free(r);
    } else if (quote) {
        size_t end = quote_size(&in.evidence), pem_from = 0, pem_to = 0;
        /* The certification data ends the quote: the bytes after the last PEM block
         * (a newline, a NUL) are part of it. */
        if (pem_range(in.evidence.data, end, &pem_from, &pem_to))
            pem_to = end;
        sweep(vec, &in, policy, &in.evidence, 0, end, pem_from, pem_to, "quote");
        sweep_pck_tbs(vec, &in, policy);
        truncate_extend(vec, &in, policy, true);
    } else {
        sweep(vec, &in, policy, &in.evidence, 0, in.evidence.size, 0, 0, "report");
        sweep_cert_tbs(vec, &in, policy);
        truncate_extend(vec, &in, policy, false);
    }
    vec_free(&in.evidence);
    vec_free(&in.vcek);
    vec_free(&in.collateral_json);
    keep_attest_policy_free(policy);
}

/* Empty input in every format, and random bytes (some behind a real quote header). */
static void random_inputs(const char *dir)
{
    static const enum keep_attest_format formats[] = {
        KEEP_ATTEST_FORMAT_AUTO, KEEP_ATTEST_FORMAT_SNP, KEEP_ATTEST_FORMAT_SGX,
        KEEP_ATTEST_FORMAT_TDX, KEEP_ATTEST_FORMAT_KVM};
    struct keep_attest_policy *policy = vec_policy(quote_policy);
    struct keep_attest_input in = {0};
    unsigned long not_invalid = 0, tried = 0;
    for (size_t f = 0; f < KEEP_ARRAY_LEN(formats); f++) {
        in.format = formats[f];
        in.evidence = (struct keep_attest_blob){.data = "", .size = 0};
        tried++;
        not_invalid += verdict_of(&in, policy) != KEEP_ATTEST_INVALID;
        in.evidence = (struct keep_attest_blob){0};
        tried++;
        not_invalid += verdict_of(&in, policy) != KEEP_ATTEST_INVALID;
    }
    ok(not_invalid == 0, "empty and NULL evidence is invalid in every format");

    struct keep_attest_blob header = vec_load(dir, "tdx/full-collateral/quote.bin");
    struct keep_attest_blob vcek = vec_load(dir, "snp/milan-release/vcek.der");
    uint8_t *buf = malloc(8192);
    srandom(20261125);
    not_invalid = 0;
    for (int i = 0; i < 2000; i++) {
        size_t size = (size_t)random() % 8192;
        for (size_t k = 0; k < size; k++)
            buf[k] = (uint8_t)random();
        if (i % 4 == 1 && size >= 48)
            memcpy(buf, header.data, 48); /* a real TDX v4 header */
        if (i % 4 == 2) {
            size = 1184;
            buf[0] = 2, buf[1] = buf[2] = buf[3] = 0; /* an SNP version 2 report */
        }
        in.format = KEEP_ATTEST_FORMAT_AUTO;
        in.evidence = (struct keep_attest_blob){.data = buf, .size = size};
        in.vcek = i % 4 == 2 ? vcek : (struct keep_attest_blob){0};
        tried++;
        if (verdict_of(&in, policy) != KEEP_ATTEST_INVALID)
            not_invalid++;
    }
    total_mutations += tried;
    ok(not_invalid == 0, "2000 random inputs (some with real TDX / SNP headers) are invalid");
    free(buf);
    vec_free(&header);
    vec_free(&vcek);
    keep_attest_policy_free(policy);
}

/*
 * The README's SNP verdicts with the default policy (the sweep above uses
 * permissive ones): test_vectors_snp covers the SNP layer, this the API.
 */
static void snp_default_verdicts(const char *dir)
{
    struct keep_attest_input in = {0};
    in.evidence = vec_load(dir, "snp/milan-debug/report.bin");
    in.vcek = vec_load(dir, "snp/milan-debug/vcek.der");
    vec_expect(verifier, &in, NULL, KEEP_ATTEST_REJECT, KEEP_E_POLICY_DEBUG,
               "snp/milan-debug, default policy");
    vec_expect(verifier, &in, "{\"allow_debug\": true}", KEEP_ATTEST_ACCEPT, KEEP_OK,
               "snp/milan-debug, debug allowed");
    vec_expect(
        verifier, &in,
        "{\"allow_debug\": true, \"report_data\": \"0102030405\","
        " \"measurement\": [\"b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b"
        "6bdf8a9ece31a5a608eb0cf2e4872b01\"], \"vmpl\": [0],"
        " \"min_tcb\": {\"bootloader\": 2, \"snp\": 5, \"microcode\": 68}}",
        KEEP_ATTEST_ACCEPT, KEEP_OK, "snp/milan-debug, every README value pinned");
    vec_expect(verifier, &in, "{\"allow_debug\": true, \"min_tcb\": {\"microcode\": 69}}",
               KEEP_ATTEST_REJECT, KEEP_E_POLICY_MIN_TCB, "snp/milan-debug, microcode 68 < 69");
    vec_free(&in.evidence);
    vec_free(&in.vcek);
    in.evidence = vec_load(dir, "snp/milan-vlek-expired/report.bin");
    in.vcek = vec_load(dir, "snp/milan-vlek-expired/vlek.der");
    vec_expect(verifier, &in, NULL, KEEP_ATTEST_INVALID, KEEP_E_X509_EXPIRED,
               "snp/milan-vlek-expired today");
    in.has_time = true;
    in.time = vec_time("2025-06-01T00:00:00Z");
    vec_expect(verifier, &in, NULL, KEEP_ATTEST_ACCEPT, KEEP_OK,
               "snp/milan-vlek-expired at 2025-06-01, default policy");
    vec_expect(verifier, &in, "{\"vmpl\": [0]}", KEEP_ATTEST_REJECT, KEEP_E_POLICY_VMPL,
               "snp/milan-vlek-expired at 2025-06-01, vmpl 1 not in [0]");
    vec_free(&in.evidence);
    vec_free(&in.vcek);
}

int main(void)
{
    const char *dir = tap_vectors_dir();
    verifier = vec_verifier();
    for (size_t i = 0; i < KEEP_ARRAY_LEN(vectors); i++)
        run_vector(dir, &vectors[i]);
    random_inputs(dir);
    snp_default_verdicts(dir);
    ok(keep_attest_verifier_cached_signers(verifier) >= 4,
       "the verifier cached the SNP signers (%zu)", keep_attest_verifier_cached_signers(verifier));
    diag("%lu mutated, truncated or random inputs verified in total", total_mutations);
    keep_attest_verifier_free(verifier);
    return done_testing();
}
