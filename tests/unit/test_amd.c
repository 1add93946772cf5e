/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AMD VCEK/VLEK chains and extensions against a synthetic AMD PKI
 * (tests/support/snp_gen), plus the product and TCB helpers.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest/amd.h"
#include "common/util.h"
#include "support/snp_gen.h"
#include "tap.h"

static int endorse(struct snp_gen *g, const struct snp_gen_cert *c,
                   const struct keep_amd_chain_opts *extra, struct keep_amd_endorsement *e,
                   struct keep_error *err)
{
    uint8_t *der;
    size_t size;
    snp_gen_cert_der(g, c, &der, &size);
    struct keep_amd_chain_opts opts = {.time = SNP_GEN_TIME};
    if (extra)
        opts = *extra;
    if (!opts.roots_dir)
        opts.roots_dir = snp_gen_roots_dir(g);
    keep_error_clear(err);
    int rc = keep_amd_verify_endorsement(der, size, &opts, e, err);
    free(der);
    return rc;
}

static void test_products(void)
{
    is_int(keep_amd_product_of_cpuid(0x19, 0x01), KEEP_AMD_MILAN, "19h/01h is Milan");
    is_int(keep_amd_product_of_cpuid(0x19, 0x11), KEEP_AMD_GENOA, "19h/11h is Genoa");
    is_int(keep_amd_product_of_cpuid(0x19, 0xa0), KEEP_AMD_GENOA, "19h/A0h (Bergamo) is Genoa");
    is_int(keep_amd_product_of_cpuid(0x1a, 0x02), KEEP_AMD_TURIN, "1Ah/02h is Turin");
    is_int(keep_amd_product_of_cpuid(0x1a, 0x11), KEEP_AMD_TURIN, "1Ah/11h (Turin dense)");
    is_int(keep_amd_product_of_cpuid(0x19, 0x21), KEEP_AMD_PRODUCT_UNKNOWN, "19h/21h unknown");
    is_int(keep_amd_product_of_cpuid(0x17, 0x31), KEEP_AMD_PRODUCT_UNKNOWN, "17h (Rome) unknown");
    is_int(keep_amd_product_of_cpuid(0, 0), KEEP_AMD_PRODUCT_UNKNOWN, "zero CPUID unknown");
    ok(keep_amd_cpuid_matches(KEEP_AMD_MILAN, 0x19, 0x01), "Milan matches 19h/01h");
    ok(!keep_amd_cpuid_matches(KEEP_AMD_MILAN, 0x19, 0x11), "Milan does not match Genoa");
    ok(!keep_amd_cpuid_matches(KEEP_AMD_PRODUCT_UNKNOWN, 0x19, 0x01), "unknown matches nothing");
    is_str(keep_amd_product_name(KEEP_AMD_TURIN), "Turin", "product name");
    is_str(keep_amd_key_kind_name(KEEP_AMD_VLEK), "VLEK", "key kind name");
    is_str(keep_amd_key_kind_name(3), "reserved", "reserved key kind name");
}

static void test_tcb_layouts(void)
{
    struct keep_amd_tcb t;
    keep_amd_tcb_decode(0x4405000000000002ull, KEEP_AMD_MILAN, &t);
    ok(t.bootloader == 2 && t.tee == 0 && t.snp == 5 && t.microcode == 0x44 && !t.has_fmc,
       "Milan layout: bl byte 0, tee 1, snp 6, ucode 7");
    is_int(keep_amd_tcb_encode(&t, KEEP_AMD_MILAN), 0x4405000000000002ll, "Milan round trip");
    keep_amd_tcb_decode(0x4800000004030201ull, KEEP_AMD_TURIN, &t);
    ok(t.fmc == 1 && t.bootloader == 2 && t.tee == 3 && t.snp == 4 && t.microcode == 0x48 &&
           t.has_fmc,
       "Turin layout: fmc byte 0, bl 1, tee 2, snp 3, ucode 7");
    is_int(keep_amd_tcb_encode(&t, KEEP_AMD_TURIN), 0x4800000004030201ll, "Turin round trip");
}

static void test_good_chains(void)
{
    for (int p = KEEP_AMD_MILAN; p <= KEEP_AMD_TURIN; p++) {
        struct snp_gen *g = snp_gen_new(p);
        for (int kind = KEEP_AMD_VCEK; kind <= KEEP_AMD_VLEK; kind++) {
            struct snp_gen_cert c;
            struct keep_amd_endorsement e;
            struct keep_error err;
            snp_gen_cert_defaults(g, kind, &c);
            int rc = endorse(g, &c, NULL, &e, &err);
            is_int(rc, KEEP_OK, "%s %s chain verifies (%s)", keep_amd_product_name(p),
                   keep_amd_key_kind_name(kind), err.message);
            ok(e.kind == (enum keep_amd_key_kind)kind && e.product == (enum keep_amd_product)p,
               "... kind and product read from the issuer");
            ok(e.tcb.bootloader == 3 && e.tcb.snp == 8 && e.tcb.microcode == 115 &&
                   e.tcb.has_fmc == (p == KEEP_AMD_TURIN),
               "... TCB extensions read");
            size_t want_hwid = kind == KEEP_AMD_VLEK ? 0 : p == KEEP_AMD_TURIN ? 8 : 64;
            ok(e.hwid_size == want_hwid && memcmp(e.hwid, snp_gen_chip_id(g), e.hwid_size) == 0,
               "... hwID of %zu bytes", want_hwid);
            ok(e.not_before == INT64_C(1704067200) && e.not_after == INT64_C(1924992000),
               "... validity window is the leaf's (inside the CAs')");
        }
        snp_gen_free(g);
    }
}

/* A VCEK given as PEM verifies like its DER. */
static void test_pem_leaf(struct snp_gen *g)
{
    uint8_t *der;
    size_t size;
    snp_gen_default_cert_der(g, KEEP_AMD_VCEK, &der, &size);
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)size);
    BIO *b = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long pem_size = 0;
    if (x && b && PEM_write_bio_X509(b, x))
        pem_size = BIO_get_mem_data(b, &pem);
    struct keep_amd_chain_opts opts = {.time = SNP_GEN_TIME, .roots_dir = snp_gen_roots_dir(g)};
    struct keep_amd_endorsement e;
    struct keep_error err = {0};
    int rc = pem_size > 0 ? keep_amd_verify_endorsement((const uint8_t *)pem, (size_t)pem_size,
                                                        &opts, &e, &err)
                          : -1;
    is_int(rc, KEEP_OK, "VCEK as PEM verifies (%s)", err.message);
    BIO_free(b);
    X509_free(x);
    free(der);
}

static void test_chain_failures(struct snp_gen *g, struct snp_gen *other)
{
    struct snp_gen_cert c;
    struct keep_amd_endorsement e;
    struct keep_error err;

    snp_gen_cert_defaults(g, KEEP_AMD_VCEK, &c);
    c.not_after = SNP_GEN_TIME - 1;
    is_int(endorse(g, &c, NULL, &e, &err), KEEP_E_X509_EXPIRED, "VCEK expired at T (%s)",
           err.message);
    ok(strstr(err.message, "SEV-VCEK") && strstr(err.message, "2025-12-31T23:59:59Z"),
       "... the message names the VCEK and its notAfter");
    snp_gen_cert_defaults(g, KEEP_AMD_VCEK, &c);
    c.not_before = SNP_GEN_TIME + 1;
    is_int(endorse(g, &c, NULL, &e, &err), KEEP_E_X509_NOT_YET_VALID, "VCEK not yet valid at T");

    snp_gen_cert_defaults(g, KEEP_AMD_VCEK, &c);
    c.wrong_issuer_key = true;
    is_int(endorse(g, &c, NULL, &e, &err), KEEP_E_X509_SIGNATURE,
           "VCEK RSA-PSS signature by a key other than the ASK's (%s)", err.message);

    /*
     * Another PKI with the same names stands for a wrong ARK: OpenSSL finds
     * the issuer by name and the signature under it fails.
     */
    snp_gen_cert_defaults(g, KEEP_AMD_VCEK, &c);
    struct keep_amd_chain_opts opts = {.time = SNP_GEN_TIME, .roots_dir = snp_gen_roots_dir(other)};
    is_int(endorse(g, &c, &opts, &e, &err), KEEP_E_X509_SIGNATURE,
           "VCEK against another ASK/ARK with the same names (%s)", err.message);
    uint8_t *ask_only;
    size_t ask_only_size;
    snp_gen_chain_pem(g, KEEP_AMD_VCEK, false, &ask_only, &ask_only_size);
    opts.chain = ask_only;
    opts.chain_size = ask_only_size;
    is_int(endorse(g, &c, &opts, &e, &err), KEEP_E_X509_SIGNATURE,
           "VCEK and its ASK against another ARK (%s)", err.message);
    ok(strstr(err.message, "'SEV-Milan' (depth 1)") != NULL, "... the failure names the ASK");
    free(ask_only);

    uint8_t *bundle;
    size_t bundle_size;
    snp_gen_chain_pem(other, KEEP_AMD_VCEK, true, &bundle, &bundle_size);
    opts = (struct keep_amd_chain_opts){
        .time = SNP_GEN_TIME, .chain = bundle, .chain_size = bundle_size};
    is_int(endorse(g, &c, &opts, &e, &err), KEEP_E_SNP_ARK_MISMATCH,
           "a bundle bringing its own ARK -> ark_mismatch (%s)", err.message);
    free(bundle);
    snp_gen_chain_pem(g, KEEP_AMD_VCEK, true, &bundle, &bundle_size);
    opts.chain = bundle;
    opts.chain_size = bundle_size;
    is_int(endorse(g, &c, &opts, &e, &err), KEEP_OK, "a bundle with the shipped ASK and ARK");
    free(bundle);

    snp_gen_cert_defaults(g, KEEP_AMD_VCEK, &c);
    c.hwid_size = 0;
    is_int(endorse(g, &c, NULL, &e, &err), KEEP_E_SNP_CERT_HWID, "VCEK without hwID");
    c.hwid_size = 32;
    is_int(endorse(g, &c, NULL, &e, &err), KEEP_E_SNP_CERT_HWID, "VCEK with a 32-byte hwID");
    snp_gen_cert_defaults(g, KEEP_AMD_VCEK, &c);
    c.product_name = "Genoa";
    is_int(endorse(g, &c, NULL, &e, &err), KEEP_E_SNP_PRODUCT_MISMATCH,
           "productName Genoa under SEV-Milan (%s)", err.message);
    c.product_name = NULL;
    is_int(endorse(g, &c, NULL, &e, &err), KEEP_OK, "productName is optional");

    opts = (struct keep_amd_chain_opts){.time = SNP_GEN_TIME, .roots_dir = "/nonexistent"};
    is_int(endorse(g, &c, &opts, &e, &err), KEEP_E_SNP_ROOTS, "missing roots dir (%s)",
           err.message);
    static const uint8_t junk[] = "not a certificate";
    opts.roots_dir = snp_gen_roots_dir(g);
    is_int(keep_amd_verify_endorsement(junk, sizeof(junk), &opts, &e, &err), KEEP_E_X509_PARSE,
           "garbage certificate -> x509.parse");
}

static void test_crls(struct snp_gen *g)
{
    struct snp_gen_cert c;
    struct keep_amd_endorsement e;
    struct keep_error err;
    uint8_t *crl;
    size_t crl_size;
    snp_gen_cert_defaults(g, KEEP_AMD_VCEK, &c);
    struct keep_amd_chain_opts opts = {.time = SNP_GEN_TIME, .crl_count = 1};
    const uint8_t *crls[1];
    size_t sizes[1];
    opts.crls = crls;
    opts.crl_sizes = sizes;

    snp_gen_crl_der(g, false, SNP_GEN_TIME - 86400, SNP_GEN_TIME + 86400, &crl, &crl_size);
    crls[0] = crl;
    sizes[0] = crl_size;
    is_int(endorse(g, &c, &opts, &e, &err), KEEP_OK, "ARK CRL not listing the ASK (%s)",
           err.message);
    free(crl);

    snp_gen_crl_der(g, true, SNP_GEN_TIME - 86400, SNP_GEN_TIME + 86400, &crl, &crl_size);
    crls[0] = crl;
    sizes[0] = crl_size;
    is_int(endorse(g, &c, &opts, &e, &err), KEEP_E_X509_REVOKED, "ARK CRL revoking the ASK (%s)",
           err.message);
    ok(strstr(err.message, "SEV-Milan") != NULL, "... the message names the ASK");
    free(crl);

    snp_gen_crl_der(g, false, SNP_GEN_TIME - 2 * 86400, SNP_GEN_TIME - 86400, &crl, &crl_size);
    crls[0] = crl;
    sizes[0] = crl_size;
    is_int(endorse(g, &c, &opts, &e, &err), KEEP_E_X509_CRL_EXPIRED, "expired CRL (%s)",
           err.message);
    free(crl);

    /*
     * A CRL from another ARK (here Genoa's) names an issuer that is in no
     * certificate of this chain: OpenSSL would simply not apply it, and the
     * caller would be told revocation was checked when it was not.
     */
    struct snp_gen *genoa = snp_gen_new(KEEP_AMD_GENOA);
    snp_gen_crl_der(genoa, true, SNP_GEN_TIME - 86400, SNP_GEN_TIME + 86400, &crl, &crl_size);
    crls[0] = crl;
    sizes[0] = crl_size;
    is_int(endorse(g, &c, &opts, &e, &err), KEEP_E_X509_CRL_SIGNATURE,
           "a CRL issued by another product's ARK is refused, not ignored (%s)", err.message);
    ok(strstr(err.message, "ARK-Milan") != NULL, "... the message names the ARK it must come from");
    free(crl);
    snp_gen_free(genoa);

    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    crls[0] = junk;
    sizes[0] = sizeof(junk);
    is_int(endorse(g, &c, &opts, &e, &err), KEEP_E_X509_CRL_PARSE, "garbage CRL");
}

/*
 * The shipped bundles (data/roots/amd) load for every product and kind: a
 * synthetic certificate under the shipped roots gets as far as OpenSSL's
 * signature check, which a missing or malformed bundle never reaches.
 */
static void test_shipped_roots(void)
{
    for (int p = KEEP_AMD_MILAN; p <= KEEP_AMD_TURIN; p++) {
        struct snp_gen *g = snp_gen_new(p);
        for (int kind = KEEP_AMD_VCEK; kind <= KEEP_AMD_VLEK; kind++) {
            struct snp_gen_cert c;
            struct keep_amd_endorsement e;
            struct keep_error err;
            snp_gen_cert_defaults(g, kind, &c);
            struct keep_amd_chain_opts opts = {.time = SNP_GEN_TIME,
                                               .roots_dir = keep_amd_default_roots_dir()};
            is_int(endorse(g, &c, &opts, &e, &err), KEEP_E_X509_SIGNATURE,
                   "shipped %s %s roots load; a synthetic leaf fails its signature (%s)",
                   keep_amd_product_name(p), keep_amd_key_kind_name(kind), err.message);
        }
        snp_gen_free(g);
    }
}

int main(void)
{
    test_shipped_roots();
    test_products();
    test_tcb_layouts();
    test_good_chains();
    struct snp_gen *g = snp_gen_new(KEEP_AMD_MILAN);
    struct snp_gen *other = snp_gen_new(KEEP_AMD_MILAN);
    test_pem_leaf(g);
    test_chain_failures(g, other);
    test_crls(g);
    snp_gen_free(other);
    snp_gen_free(g);
    return done_testing();
}
