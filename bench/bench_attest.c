/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attestation verification throughput, each figure beside its reference
 * measured in the same run on the same machine:
 *
 *   snp-cached  keep_attest_verify() of snp/milan-release with the VCEK
 *               chain cached in the verifier, against the raw ECDSA P-384
 *               verification rate of the same signature over the same bytes
 *               (SHA-384 of 0x2A0 bytes + verify), with OpenSSL and nettle.
 *               Target: >= 90% of the faster raw rate.
 *   snp-cold    the same with the cache cleared before each verification
 *               (VCEK <- ASK <- ARK RSA-PSS chain verified every time).
 *   sgx, tdx    keep_attest_verify() of the full-collateral quotes with
 *               their collateral and PCK chain cached, against the floor:
 *               the raw ECDSA P-256 rate (OpenSSL, which keep uses for
 *               P-256) divided by the signatures such a quote still needs
 *               (QE report by the PCK key, quote by the attestation key: 2).
 *
 * Each keep figure and its raw reference are measured in alternating
 * quarter-second slices, so that load from other processes on a shared
 * machine weighs on both alike.
 *
 * Vectors come from $KEEP_VECTORS (default ../shared/vectors). Prints one
 * line per figure; scripts/bench runs it, docs/PERFORMANCE.md records it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gmp.h>
#include <nettle/dsa.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/util.h"
#include "keep/attest.h"

/* A call the benchmark cannot go on without (the result is never ignored). */
#define bench_must(call)                                         \
    do {                                                         \
        if ((call) != KEEP_OK) {                                 \
            fprintf(stderr, "%s: %s failed\n", __FILE__, #call); \
            exit(1);                                             \
        }                                                        \
    } while (0)

#define BENCH_SECONDS 2.0

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct keep_attest_blob load(const char *dir, const char *rel)
{
    char path[1024];
    uint8_t *data = NULL;
    size_t size = 0;
    struct keep_error err;
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    if (keep_read_file(path, 1u << 24, &data, &size, &err)) {
        fprintf(stderr, "bench_attest: %s\n", err.message);
        exit(1);
    }
    return (struct keep_attest_blob){data, size};
}

static void warm_up(bool (*op)(void *), void *ctx)
{
    for (int i = 0; i < 20; i++)
        if (!op(ctx)) {
            fprintf(stderr, "bench_attest: the operation failed during warm-up\n");
            exit(1);
        }
}

/* Run op for about `seconds`; adds the operations and the time spent to *n and *t. */
static void run_for(bool (*op)(void *), void *ctx, double seconds, unsigned long *n, double *t)
{
    double start = now(), spent;
    do {
        for (int i = 0; i < 16; i++)
            op(ctx);
        *n += 16;
        spent = now() - start;
    } while (spent < seconds);
    *t += spent;
}

/* Operations per second of op(ctx), run for BENCH_SECONDS after a short warm-up. */
static double rate(bool (*op)(void *), void *ctx)
{
    unsigned long n = 0;
    double t = 0;
    warm_up(op, ctx);
    run_for(op, ctx, BENCH_SECONDS, &n, &t);
    return (double)n / t;
}

/*
 * Two rates measured in alternating slices of a quarter second, so that
 * load from other processes on a shared machine weighs on both alike.
 */
static void rate_pair(bool (*a)(void *), void *a_ctx, double *a_rate, bool (*b)(void *),
                      void *b_ctx, double *b_rate)
{
    unsigned long na = 0, nb = 0;
    double ta = 0, tb = 0;
    warm_up(a, a_ctx);
    warm_up(b, b_ctx);
    for (double slice = 0.25; ta < BENCH_SECONDS;) {
        run_for(a, a_ctx, slice, &na, &ta);
        run_for(b, b_ctx, slice, &nb, &tb);
    }
    *a_rate = (double)na / ta;
    *b_rate = (double)nb / tb;
}

/* ---- keep_attest_verify ------------------------------------------------ */

struct verify_ctx {
    struct keep_attest_verifier *verifier;
    struct keep_attest_input in;
    const struct keep_attest_policy *policy;
    enum keep_attest_verdict want;
    bool cold;
};

static bool op_verify(void *p)
{
    struct verify_ctx *c = p;
    struct keep_attest_result *r = NULL;
    struct keep_error err;
    if (c->cold)
        keep_attest_verifier_clear_cache(c->verifier);
    if (keep_attest_verify(c->verifier, &c->in, c->policy, &r, &err))
        return false;
    bool good = keep_attest_result_verdict(r) == c->want;
    keep_attest_result_free(r);
    return good;
}

/* ---- raw ECDSA --------------------------------------------------------- */

struct raw_ctx {
    const uint8_t *msg;
    size_t msg_size;
    const EVP_MD *md;
    EVP_PKEY *key;    /* OpenSSL */
    uint8_t *der_sig; /* DER ECDSA-Sig-Value */
    size_t der_sig_size;
    struct ecc_point pub; /* nettle */
    struct dsa_signature sig;
};

static bool op_openssl(void *p)
{
    struct raw_ctx *c = p;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool good = EVP_DigestVerifyInit(md, NULL, c->md, NULL, c->key) == 1 &&
                EVP_DigestVerify(md, c->der_sig, c->der_sig_size, c->msg, c->msg_size) == 1;
    EVP_MD_CTX_free(md);
    return good;
}

static bool op_nettle(void *p)
{
    struct raw_ctx *c = p;
    uint8_t digest[64];
    unsigned size = 0;
    EVP_Digest(c->msg, c->msg_size, digest, &size, c->md, NULL);
    return ecdsa_verify(&c->pub, size, digest, &c->sig) == 1;
}

/* r, s big-endian of n bytes each. */
static void raw_init(struct raw_ctx *c, EVP_PKEY *key, const struct ecc_curve *curve,
                     const uint8_t *r, const uint8_t *s, size_t n)
{
    c->key = key;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(r, (int)n, NULL), BN_bin2bn(s, (int)n, NULL));
    unsigned char *der = NULL;
    c->der_sig_size = (size_t)i2d_ECDSA_SIG(sig, &der);
    c->der_sig = der;
    ECDSA_SIG_free(sig);

    uint8_t point[133];
    size_t point_size = 0;
    EVP_PKEY_get_octet_string_param(key, "encoded-pub-key", point, sizeof(point), &point_size);
    size_t coord = (point_size - 1) / 2;
    mpz_t x, y;
    mpz_init(x), mpz_init(y);
    mpz_import(x, coord, 1, 1, 0, 0, point + 1);
    mpz_import(y, coord, 1, 1, 0, 0, point + 1 + coord);
    ecc_point_init(&c->pub, curve);
    ecc_point_set(&c->pub, x, y);
    mpz_clear(x), mpz_clear(y);
    dsa_signature_init(&c->sig);
    mpz_import(c->sig.r, n, 1, 1, 0, 0, r);
    mpz_import(c->sig.s, n, 1, 1, 0, 0, s);
}

static void raw_free(struct raw_ctx *c)
{
    OPENSSL_free(c->der_sig);
    ecc_point_clear(&c->pub);
    dsa_signature_clear(&c->sig);
}

static EVP_PKEY *cert_key(const struct keep_attest_blob *cert)
{
    const unsigned char *p = cert->data;
    X509 *x = d2i_X509(NULL, &p, (long)cert->size);
    EVP_PKEY *key = x ? X509_get_pubkey(x) : NULL;
    X509_free(x);
    return key;
}

/* ---- the figures ------------------------------------------------------- */

/* The report's own signature: same key, same 0x2A0 signed bytes. */
static void snp_raw_init(struct raw_ctx *c, const struct keep_attest_blob *report,
                         const struct keep_attest_blob *vcek)
{
    /* ABI 56860 Table 23 / chapter 10: R at 0x2A0, S at 0x2E8, 72 bytes little-endian. */
    const uint8_t *rep = report->data;
    uint8_t r[48], s[48];
    for (int i = 0; i < 48; i++) {
        r[i] = rep[0x2a0 + 47 - i];
        s[i] = rep[0x2e8 + 47 - i];
    }
    *c = (struct raw_ctx){.msg = rep, .msg_size = 0x2a0, .md = EVP_sha384()};
    raw_init(c, cert_key(vcek), nettle_get_secp_384r1(), r, s, 48);
}

/* A fresh P-256 key and signature over a quote-sized message: the cost does not depend on
 * the key. */
static void p256_raw_init(struct raw_ctx *c)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    static const uint8_t msg[432] = {1}; /* header + SGX body size */
    uint8_t der[80];
    size_t der_size = sizeof(der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key);
    EVP_DigestSign(md, der, &der_size, msg, sizeof(msg));
    EVP_MD_CTX_free(md);
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_size);
    uint8_t r[32], s[32];
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), r, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), s, 32);
    ECDSA_SIG_free(sig);
    *c = (struct raw_ctx){.msg = msg, .msg_size = sizeof(msg), .md = EVP_sha256()};
    raw_init(c, key, nettle_get_secp_256r1(), r, s, 32);
}

static struct keep_attest_policy *policy(const char *json)
{
    struct keep_attest_policy *p = NULL;
    struct keep_error err;
    if (keep_attest_policy_parse(json, strlen(json), &p, &err)) {
        fprintf(stderr, "bench_attest: policy: %s\n", err.message);
        exit(1);
    }
    return p;
}

int main(void)
{
    const char *dir = getenv("KEEP_VECTORS");
    if (!dir || !*dir)
        dir = "../shared/vectors";
    char probe[1024];
    snprintf(probe, sizeof(probe), "%s/README.md", dir);
    FILE *f = fopen(probe, "r");
    if (!f) {
        printf("bench_attest: vectors not found at %s (set KEEP_VECTORS); nothing measured\n", dir);
        return 0;
    }
    fclose(f);
    printf("bench_attest: vectors from %s, %.0f s per figure\n", dir, BENCH_SECONDS);

    struct keep_attest_verifier *v = NULL;
    struct keep_error err;
    if (keep_attest_verifier_new(NULL, &v, &err)) {
        fprintf(stderr, "bench_attest: %s\n", err.message);
        return 1;
    }
    struct verify_ctx c = {.verifier = v, .want = KEEP_ATTEST_ACCEPT};
    c.in.evidence = load(dir, "snp/milan-release/report.bin");
    c.in.vcek = load(dir, "snp/milan-release/vcek.der");

    /* keep uses nettle for P-384 (the faster here); OpenSSL's rate is shown beside it. */
    struct raw_ctx p384;
    snp_raw_init(&p384, &c.in.evidence, &c.in.vcek);
    printf("ecdsa-p384-raw-openssl  %9.0f /s\n", rate(op_openssl, &p384));
    double raw, cached, cold;
    rate_pair(op_nettle, &p384, &raw, op_verify, &c, &cached);
    printf("ecdsa-p384-raw-nettle   %9.0f /s\n", raw);
    printf("snp-cached              %9.0f /s  %5.1f%% of the raw nettle P-384 rate (target >= "
           "90%%)\n",
           cached, 100.0 * cached / raw);
    c.cold = true;
    rate_pair(op_nettle, &p384, &raw, op_verify, &c, &cold);
    printf("snp-cold                %9.0f /s  %5.1f%% of the raw rate (%.0f /s; chain verified "
           "each time)\n",
           cold, 100.0 * cold / raw, raw);
    c.cold = false;
    EVP_PKEY_free(p384.key);
    raw_free(&p384);

    /* keep uses OpenSSL for P-256 (bench_quote: faster than nettle here). */
    struct raw_ctx p256;
    p256_raw_init(&p256);
    const int quote_signatures = 2;
    struct {
        const char *name, *quote, *collateral, *time, *policy;
    } quotes[] = {
        {"sgx-collateral-cached", "sgx/full-collateral/quote.bin",
         "sgx/full-collateral/collateral.json", "2025-07-19T10:01:17Z",
         "{\"tcb_statuses\": [\"ConfigurationAndSWHardeningNeeded\"], \"allowed_advisories\": "
         "[\"INTEL-SA-00289\", \"INTEL-SA-00615\"]}"},
        {"tdx-collateral-cached", "tdx/full-collateral/quote.bin",
         "tdx/full-collateral/collateral.json", "2025-07-19T10:00:34Z", "{}"},
    };
    for (size_t i = 0; i < KEEP_ARRAY_LEN(quotes); i++) {
        struct keep_attest_policy *p = policy(quotes[i].policy);
        struct verify_ctx q = {.verifier = v, .want = KEEP_ATTEST_ACCEPT, .policy = p};
        q.in.evidence = load(dir, quotes[i].quote);
        q.in.collateral_json = load(dir, quotes[i].collateral);
        q.in.has_time = true;
        bench_must(keep_parse_time(quotes[i].time, &q.in.time, &err));
        double p256_rate, r;
        rate_pair(op_openssl, &p256, &p256_rate, op_verify, &q, &r);
        double floor = p256_rate / quote_signatures;
        printf("%-23s %9.0f /s  %5.1f%% of the floor %.0f /s (raw P-256 %.0f /s / %d)\n",
               quotes[i].name, r, 100.0 * r / floor, floor, p256_rate, quote_signatures);
        free((void *)(uintptr_t)q.in.evidence.data);
        free((void *)(uintptr_t)q.in.collateral_json.data);
        keep_attest_policy_free(p);
    }
    EVP_PKEY_free(p256.key);
    raw_free(&p256);
    free((void *)(uintptr_t)c.in.evidence.data);
    free((void *)(uintptr_t)c.in.vcek.data);
    keep_attest_verifier_free(v);
    return 0;
}
