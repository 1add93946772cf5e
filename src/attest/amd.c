/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AMD VCEK/VLEK certificates and their chains (see amd.h). All X.509 work is
 * done by OpenSSL through x509.c; this file knows AMD's names, products and
 * extension OIDs.
 */
#include "attest/amd.h"

#include <string.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attest/x509.h"
#include "common/util.h"

/* VCEK/VLEK extension OIDs, AMD 57230 section 3 ("VCEK certificate extensions"). */
#define OID_PRODUCT_NAME "1.3.6.1.4.1.3704.1.2"
#define OID_TCB_BL       "1.3.6.1.4.1.3704.1.3.1"
#define OID_TCB_TEE      "1.3.6.1.4.1.3704.1.3.2"
#define OID_TCB_SNP      "1.3.6.1.4.1.3704.1.3.3"
#define OID_TCB_UCODE    "1.3.6.1.4.1.3704.1.3.8"
#define OID_TCB_FMC      "1.3.6.1.4.1.3704.1.3.9"
#define OID_HWID         "1.3.6.1.4.1.3704.1.4"

/* The hwID is the chip ID: 64 bytes on Milan and Genoa, 8 on Turin (AMD 57230, VCEK extensions). */
#define HWID_SIZE_TURIN 8
#define HWID_SIZE       64

/* A bound on the size of a root bundle file, far above the ~5 KB they are. */
#define ROOTS_FILE_MAX (1u << 20)

static const char *const product_names[] = {
    [KEEP_AMD_PRODUCT_UNKNOWN] = "unknown",
    [KEEP_AMD_MILAN] = "Milan",
    [KEEP_AMD_GENOA] = "Genoa",
    [KEEP_AMD_TURIN] = "Turin",
};

const char *keep_amd_product_name(enum keep_amd_product product)
{
    if ((size_t)product >= KEEP_ARRAY_LEN(product_names))
        return "unknown";
    return product_names[product];
}

const char *keep_amd_key_kind_name(unsigned kind)
{
    switch (kind) {
    case KEEP_AMD_VCEK:
        return "VCEK";
    case KEEP_AMD_VLEK:
        return "VLEK";
    case KEEP_AMD_NO_KEY:
        return "none";
    default:
        return "reserved";
    }
}

static enum keep_amd_product product_from_name(const char *name, size_t len)
{
    for (size_t p = KEEP_AMD_MILAN; p < KEEP_ARRAY_LEN(product_names); p++) {
        if (strlen(product_names[p]) == len && memcmp(product_names[p], name, len) == 0)
            return (enum keep_amd_product)p;
    }
    return KEEP_AMD_PRODUCT_UNKNOWN;
}

/*
 * CPUID_FAM_ID and CPUID_MOD_ID hold the combined family (base + extended)
 * and model (extended << 4 | base) of CPUID Fn0000_0001_EAX (ABI 56860
 * Table 23). AMD's processor programming references give:
 *   Milan  (EPYC 7003): family 19h, models 00h-0Fh
 *   Genoa  (EPYC 9004): family 19h, models 10h-1Fh; Bergamo and Siena
 *          (EPYC 97x4/8004), models A0h-AFh, use the Genoa VCEK chain
 *   Turin  (EPYC 9005): family 1Ah, models 00h-1Fh (Turin dense is 1xh)
 */
enum keep_amd_product keep_amd_product_of_cpuid(uint8_t family, uint8_t model)
{
    if (family == 0x19 && model <= 0x0f)
        return KEEP_AMD_MILAN;
    if (family == 0x19 && ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf)))
        return KEEP_AMD_GENOA;
    if (family == 0x1a && model <= 0x1f)
        return KEEP_AMD_TURIN;
    return KEEP_AMD_PRODUCT_UNKNOWN;
}

/*
 * The stepping is not compared with the certificate: KDS issues Milan VCEKs
 * whose productName says "Milan-B0" to B1 parts too (the stepping in the
 * name is that of the first silicon, not of the chip), and the report's
 * CPUID_STEP of a B1 chip is 1. Family and model identify the product line,
 * which is what selects the ARK, so they are the check that matters.
 */
bool keep_amd_cpuid_matches(enum keep_amd_product product, uint8_t family, uint8_t model)
{
    return product != KEEP_AMD_PRODUCT_UNKNOWN &&
           keep_amd_product_of_cpuid(family, model) == product;
}

/* TCB_VERSION, ABI 56860 section 2.2; the Turin layout adds FMC and moves SNP. */
void keep_amd_tcb_decode(uint64_t raw, enum keep_amd_product product, struct keep_amd_tcb *out)
{
    memset(out, 0, sizeof(*out));
    out->raw = raw;
    if (product == KEEP_AMD_TURIN) {
        out->has_fmc = true;
        out->fmc = (uint8_t)raw;
        out->bootloader = (uint8_t)(raw >> 8);
        out->tee = (uint8_t)(raw >> 16);
        out->snp = (uint8_t)(raw >> 24);
    } else {
        out->bootloader = (uint8_t)raw;
        out->tee = (uint8_t)(raw >> 8);
        out->snp = (uint8_t)(raw >> 48);
    }
    out->microcode = (uint8_t)(raw >> 56);
}

uint64_t keep_amd_tcb_encode(const struct keep_amd_tcb *tcb, enum keep_amd_product product)
{
    uint64_t raw = (uint64_t)tcb->microcode << 56;
    if (product == KEEP_AMD_TURIN)
        return raw | tcb->fmc | (uint64_t)tcb->bootloader << 8 | (uint64_t)tcb->tee << 16 |
               (uint64_t)tcb->snp << 24;
    return raw | tcb->bootloader | (uint64_t)tcb->tee << 8 | (uint64_t)tcb->snp << 48;
}

static bool dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *keep_amd_default_roots_dir(void)
{
    static const char installed[] = KEEP_DATA_DIR "/roots/amd";
    if (dir_exists(installed))
        return installed;
    return KEEP_SOURCE_DATA_DIR "/roots/amd";
}

/*
 * The leaf names its product in the issuer CN: "SEV-Milan" for a VCEK
 * (issued by the ASK), "SEV-VLEK-Milan" for a VLEK (issued by the ASVK).
 */
static int classify_leaf(X509 *leaf, enum keep_amd_key_kind *kind, enum keep_amd_product *product,
                         struct keep_error *err)
{
    char issuer[128], subject[128];
    X509_NAME *name = X509_get_issuer_name(leaf);
    if (X509_NAME_get_text_by_NID(name, NID_commonName, issuer, sizeof(issuer)) < 0)
        issuer[0] = '\0';
    keep_x509_subject_cn(leaf, subject, sizeof(subject));
    const char *rest;
    if (strncmp(issuer, "SEV-VLEK-", 9) == 0) {
        *kind = KEEP_AMD_VLEK;
        rest = issuer + 9;
    } else if (strncmp(issuer, "SEV-", 4) == 0) {
        *kind = KEEP_AMD_VCEK;
        rest = issuer + 4;
    } else {
        return keep_fail(
            err, KEEP_E_SNP_CERT_KIND,
            "endorsement certificate '%s' has issuer CN '%s'; expected 'SEV-<product>' "
            "(VCEK) or 'SEV-VLEK-<product>' (VLEK)",
            subject, issuer);
    }
    *product = product_from_name(rest, strlen(rest));
    if (*product == KEEP_AMD_PRODUCT_UNKNOWN)
        return keep_fail(err, KEEP_E_SNP_UNKNOWN_PRODUCT,
                         "endorsement certificate issuer CN '%s' names product '%s'; keep has "
                         "roots for Milan, Genoa and Turin",
                         issuer, rest);
    const char *want = *kind == KEEP_AMD_VLEK ? "SEV-VLEK" : "SEV-VCEK";
    if (strcmp(subject, want) != 0)
        return keep_fail(err, KEEP_E_SNP_CERT_KIND,
                         "endorsement certificate issued by '%s' has subject CN '%s'; expected "
                         "'%s'",
                         issuer, subject, want);
    return KEEP_OK;
}

static void lower_copy(char *out, const char *in, size_t out_size)
{
    size_t i = 0;
    for (; in[i] && i + 1 < out_size; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] - 'A' + 'a' : in[i]);
    out[i] = '\0';
}

/* Shipped bundle: [0] ASK or ASVK, [1] the product's self-signed ARK. */
struct amd_roots {
    X509 *ca;  /* ASK or ASVK */
    X509 *ark; /* trust anchor */
};

static void amd_roots_free(struct amd_roots *r)
{
    X509_free(r->ca);
    X509_free(r->ark);
    r->ca = r->ark = NULL;
}

static int load_roots(const char *dir, enum keep_amd_key_kind kind, enum keep_amd_product product,
                      struct amd_roots *out, struct keep_error *err)
{
    char lower[16], path[4096], want_cn[64], cn[128];
    lower_copy(lower, keep_amd_product_name(product), sizeof(lower));
    snprintf(path, sizeof(path), "%s/%s_ark_%s.pem", dir, kind == KEEP_AMD_VLEK ? "asvk" : "ask",
             lower);
    uint8_t *data = NULL;
    size_t size = 0;
    struct keep_error io;
    if (keep_read_file(path, ROOTS_FILE_MAX, &data, &size, &io) != KEEP_OK)
        return keep_fail(err, KEEP_E_SNP_ROOTS, "AMD roots: %s", io.message);
    STACK_OF(X509) *sk = NULL;
    struct keep_error parse;
    int rc = keep_x509_parse_chain(data, size, path, &sk, &parse);
    free(data);
    if (rc)
        return keep_fail(err, KEEP_E_SNP_ROOTS, "AMD roots: %s", parse.message);
    if (sk_X509_num(sk) != 2) {
        rc = keep_fail(err, KEEP_E_SNP_ROOTS,
                       "AMD roots: %s holds %d certificates; expected the %s then the ARK", path,
                       sk_X509_num(sk), kind == KEEP_AMD_VLEK ? "ASVK" : "ASK");
        goto out;
    }
    X509 *ca = sk_X509_value(sk, 0);
    snprintf(want_cn, sizeof(want_cn), "SEV-%s%s", kind == KEEP_AMD_VLEK ? "VLEK-" : "",
             keep_amd_product_name(product));
    keep_x509_subject_cn(ca, cn, sizeof(cn));
    if (strcmp(cn, want_cn) != 0) {
        rc = keep_fail(err, KEEP_E_SNP_ROOTS,
                       "AMD roots: the first certificate of %s is '%s'; expected '%s'", path, cn,
                       want_cn);
        goto out;
    }
    X509 *ark = sk_X509_value(sk, 1);
    snprintf(want_cn, sizeof(want_cn), "ARK-%s", keep_amd_product_name(product));
    keep_x509_subject_cn(ark, cn, sizeof(cn));
    if (strcmp(cn, want_cn) != 0 || X509_check_issued(ark, ark) != X509_V_OK) {
        rc = keep_fail(err, KEEP_E_SNP_ROOTS,
                       "AMD roots: the second certificate of %s is '%s'; expected the "
                       "self-issued '%s'",
                       path, cn, want_cn);
        goto out;
    }
    out->ca = sk_X509_shift(sk);
    out->ark = sk_X509_shift(sk);
out:
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

static bool self_issued(X509 *cert)
{
    return X509_check_issued(cert, cert) == X509_V_OK;
}

/*
 * Split the caller's bundle: any self-issued certificate must be the
 * shipped ARK (a bundle cannot bring its own trust anchor); the rest are
 * offered to OpenSSL as intermediates beside the shipped ASK/ASVK.
 */
static int add_bundle(const struct keep_amd_chain_opts *opts, const struct amd_roots *roots,
                      STACK_OF(X509) * intermediates, struct keep_error *err)
{
    if (!opts->chain || opts->chain_size == 0)
        return KEEP_OK;
    STACK_OF(X509) *sk = NULL;
    int rc =
        keep_x509_parse_chain(opts->chain, opts->chain_size, "AMD certificate chain", &sk, err);
    if (rc)
        return rc;
    while (rc == KEEP_OK && sk_X509_num(sk) > 0) {
        X509 *cert = sk_X509_shift(sk);
        if (self_issued(cert)) {
            if (X509_cmp(cert, roots->ark) != 0) {
                char cn[128], ark_cn[128];
                rc = keep_fail(err, KEEP_E_SNP_ARK_MISMATCH,
                               "the certificate chain holds a root '%s' that is not the shipped "
                               "'%s'; only the shipped ARK is trusted",
                               keep_x509_subject_cn(cert, cn, sizeof(cn)),
                               keep_x509_subject_cn(roots->ark, ark_cn, sizeof(ark_cn)));
            }
            X509_free(cert);
            continue;
        }
        if (!sk_X509_push(intermediates, cert)) {
            X509_free(cert);
            rc = keep_fail(err, KEEP_E_NOMEM, "cannot grow the intermediate list");
        }
    }
    sk_X509_pop_free(sk, X509_free);
    return rc;
}

/*
 * AMD's CRL (KDS /vcek/v1/<product>/crl, AMD 57230) is issued by the ARK and
 * lists revoked ASKs/ASVKs. Each one given is checked against the ARK first:
 * a CRL from another issuer would match no certificate of the chain, OpenSSL
 * would not apply it, and revocation would go unchecked without a word.
 */
static int parse_crls(const struct keep_amd_chain_opts *opts, X509 *ark, STACK_OF(X509_CRL) * *out,
                      struct keep_error *err)
{
    *out = NULL;
    if (opts->crl_count == 0)
        return KEEP_OK;
    STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();
    if (!sk)
        return keep_fail(err, KEEP_E_NOMEM, "cannot allocate the CRL list");
    for (size_t i = 0; i < opts->crl_count; i++) {
        char what[32];
        X509_CRL *crl;
        snprintf(what, sizeof(what), "AMD CRL %zu", i + 1);
        int rc = keep_x509_parse_crl(opts->crls[i], opts->crl_sizes[i], what, &crl, err);
        if (rc == KEEP_OK && (rc = keep_x509_check_crl(crl, ark, opts->time, what, err)) != KEEP_OK)
            X509_CRL_free(crl);
        if (rc == KEEP_OK && !sk_X509_CRL_push(sk, crl)) {
            X509_CRL_free(crl);
            rc = keep_fail(err, KEEP_E_NOMEM, "cannot grow the CRL list");
        }
        if (rc) {
            sk_X509_CRL_pop_free(sk, X509_CRL_free);
            return rc;
        }
    }
    *out = sk;
    return KEEP_OK;
}

static int verify_chain(X509 *leaf, enum keep_amd_key_kind kind, enum keep_amd_product product,
                        const struct keep_amd_chain_opts *opts, const struct amd_roots *roots,
                        struct keep_amd_endorsement *out, struct keep_error *err)
{
    STACK_OF(X509) *intermediates = sk_X509_new_null();
    STACK_OF(X509) *anchors = sk_X509_new_null();
    STACK_OF(X509_CRL) *crls = NULL;
    int rc = KEEP_OK;
    if (!intermediates || !anchors || !sk_X509_push(anchors, roots->ark)) {
        rc = keep_fail(err, KEEP_E_NOMEM, "cannot allocate certificate lists");
        goto out;
    }
    rc = add_bundle(opts, roots, intermediates, err);
    if (rc == KEEP_OK && !sk_X509_push(intermediates, X509_dup(roots->ca)))
        rc = keep_fail(err, KEEP_E_NOMEM, "cannot grow the intermediate list");
    if (rc == KEEP_OK)
        rc = parse_crls(opts, roots->ark, &crls, err);
    if (rc)
        goto out;
    char what[64];
    snprintf(what, sizeof(what), "AMD %s chain (%s)", keep_amd_key_kind_name(kind),
             keep_amd_product_name(product));
    struct keep_x509_verify_opts vo = {.time = opts->time, .crls = crls};
    rc = keep_x509_verify_chain(leaf, intermediates, anchors, &vo, what, err);
    if (rc)
        goto out;
    /* The window in which every certificate that may have been used is valid. */
    X509 *all[] = {leaf, roots->ca, roots->ark};
    out->not_before = INT64_MIN;
    out->not_after = INT64_MAX;
    for (size_t i = 0; i < KEEP_ARRAY_LEN(all) && rc == KEEP_OK; i++) {
        int64_t nb, na;
        rc = keep_x509_validity(all[i], &nb, &na, err);
        if (rc == KEEP_OK) {
            out->not_before = nb > out->not_before ? nb : out->not_before;
            out->not_after = na < out->not_after ? na : out->not_after;
        }
    }
out:
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    sk_X509_pop_free(intermediates, X509_free);
    sk_X509_free(anchors); /* roots->ark stays owned by roots */
    return rc;
}

/* The VCEK/VLEK key must be ECDSA on P-384 (AMD 57230 section 3). */
static int read_public_key(X509 *leaf, struct keep_amd_endorsement *out, struct keep_error *err)
{
    EVP_PKEY *key = X509_get0_pubkey(leaf);
    char group[64] = "";
    size_t group_len = 0;
    if (!key || !EVP_PKEY_is_a(key, "EC") ||
        !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        &group_len) ||
        strcmp(group, "secp384r1") != 0)
        return keep_fail(err, KEEP_E_SNP_CERT_KEY,
                         "the %s public key is %s%s; it must be ECDSA on P-384 (secp384r1)",
                         keep_amd_key_kind_name(out->kind),
                         key ? EVP_PKEY_get0_type_name(key) : "absent", group[0] ? group : "");
    uint8_t point[1 + 2 * 48];
    size_t point_size = 0;
    if (!EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                         sizeof(point), &point_size) ||
        point_size != sizeof(point) || point[0] != 0x04)
        return keep_fail(err, KEEP_E_SNP_CERT_KEY,
                         "the %s public key is not an uncompressed P-384 point (%zu bytes)",
                         keep_amd_key_kind_name(out->kind), point_size);
    memcpy(out->pub_x, point + 1, 48);
    memcpy(out->pub_y, point + 1 + 48, 48);
    return KEEP_OK;
}

static int read_tcb_component(X509 *leaf, const char *oid, const char *name, uint8_t *out,
                              struct keep_error *err)
{
    uint64_t v;
    int rc = keep_x509_extension_uint(leaf, oid, name, &v, err);
    if (rc)
        return rc;
    if (v > 0xff)
        return keep_fail(err, KEEP_E_X509_EXTENSION,
                         "TCB extension %s (%s) is %llu; a TCB component is one byte", oid, name,
                         (unsigned long long)v);
    *out = (uint8_t)v;
    return KEEP_OK;
}

/* TCB extensions, AMD 57230 section 3: each component is an INTEGER. */
static int read_tcb(X509 *leaf, struct keep_amd_endorsement *out, struct keep_error *err)
{
    struct keep_amd_tcb *t = &out->tcb;
    memset(t, 0, sizeof(*t));
    int rc = read_tcb_component(leaf, OID_TCB_BL, "bl", &t->bootloader, err);
    if (rc == KEEP_OK)
        rc = read_tcb_component(leaf, OID_TCB_TEE, "tee", &t->tee, err);
    if (rc == KEEP_OK)
        rc = read_tcb_component(leaf, OID_TCB_SNP, "snp", &t->snp, err);
    if (rc == KEEP_OK)
        rc = read_tcb_component(leaf, OID_TCB_UCODE, "ucode", &t->microcode, err);
    if (rc == KEEP_OK && out->product == KEEP_AMD_TURIN) {
        t->has_fmc = true;
        rc = read_tcb_component(leaf, OID_TCB_FMC, "fmc", &t->fmc, err);
    }
    return rc;
}

/* hwID, AMD 57230 section 3: the raw chip ID bytes (64; 8 on Turin), VCEK only. */
static int read_hwid(X509 *leaf, struct keep_amd_endorsement *out, struct keep_error *err)
{
    out->hwid_size = 0;
    if (out->kind != KEEP_AMD_VCEK)
        return KEEP_OK;
    const uint8_t *value;
    size_t size;
    if (keep_x509_extension(leaf, OID_HWID, &value, &size, NULL) != KEEP_OK)
        return keep_fail(err, KEEP_E_SNP_CERT_HWID, "the %s VCEK has no hwID extension (%s)",
                         keep_amd_product_name(out->product), OID_HWID);
    size_t want = out->product == KEEP_AMD_TURIN ? HWID_SIZE_TURIN : HWID_SIZE;
    if (size != want)
        return keep_fail(err, KEEP_E_SNP_CERT_HWID,
                         "the %s VCEK hwID extension is %zu bytes; expected %zu",
                         keep_amd_product_name(out->product), size, want);
    memcpy(out->hwid, value, size);
    out->hwid_size = size;
    return KEEP_OK;
}

/* productName, AMD 57230 section 3: "<Product>" or "<Product>-<stepping>", an IA5String. */
static int read_product_name(X509 *leaf, struct keep_amd_endorsement *out, struct keep_error *err)
{
    out->product_name[0] = '\0';
    const uint8_t *value;
    size_t size;
    if (keep_x509_extension(leaf, OID_PRODUCT_NAME, &value, &size, NULL) != KEEP_OK)
        return KEEP_OK; /* optional: the issuer already names the product */
    int rc = keep_x509_extension_ia5(leaf, OID_PRODUCT_NAME, "productName", out->product_name,
                                     sizeof(out->product_name), err);
    if (rc)
        return rc;
    const char *dash = strchr(out->product_name, '-');
    size_t len = dash ? (size_t)(dash - out->product_name) : strlen(out->product_name);
    if (product_from_name(out->product_name, len) != out->product)
        return keep_fail(err, KEEP_E_SNP_PRODUCT_MISMATCH,
                         "the %s productName extension is '%s' but its issuer names %s",
                         keep_amd_key_kind_name(out->kind), out->product_name,
                         keep_amd_product_name(out->product));
    return KEEP_OK;
}

int keep_amd_verify_endorsement(const uint8_t *cert, size_t cert_size,
                                const struct keep_amd_chain_opts *opts,
                                struct keep_amd_endorsement *out, struct keep_error *err)
{
    if (!opts || !out)
        return keep_fail(err, KEEP_E_USAGE,
                         "keep_amd_verify_endorsement: opts and out are "
                         "required");
    memset(out, 0, sizeof(*out));
    X509 *leaf = NULL;
    struct amd_roots roots = {0};
    int rc = keep_x509_parse_cert(cert, cert_size, "VCEK/VLEK certificate", &leaf, err);
    if (rc == KEEP_OK)
        rc = classify_leaf(leaf, &out->kind, &out->product, err);
    if (rc == KEEP_OK)
        rc = load_roots(opts->roots_dir ? opts->roots_dir : keep_amd_default_roots_dir(), out->kind,
                        out->product, &roots, err);
    if (rc == KEEP_OK)
        rc = verify_chain(leaf, out->kind, out->product, opts, &roots, out, err);
    if (rc == KEEP_OK)
        rc = read_public_key(leaf, out, err);
    if (rc == KEEP_OK)
        rc = read_tcb(leaf, out, err);
    if (rc == KEEP_OK)
        rc = read_hwid(leaf, out, err);
    if (rc == KEEP_OK)
        rc = read_product_name(leaf, out, err);
    amd_roots_free(&roots);
    X509_free(leaf);
    return rc;
}
