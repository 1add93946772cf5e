/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCK certificate chain and SGX extension (see pck.h). [PCK] is the "Intel
 * SGX PCK Certificate and Certificate Revocation List Profile
 * Specification". ASN.1 is decoded only by OpenSSL.
 */
#include "attest/pck.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "attest/x509.h"
#include "common/util.h"

#define SGX_OID(suffix) KEEP_PCK_SGX_EXT_OID suffix

/* Fields of the SGX extension, [PCK] 1.6 table "Intel SGX Extensions". */
enum sgx_field {
    F_PPID,
    F_TCB,
    F_PCEID,
    F_FMSPC,
    F_SGX_TYPE,
    F_PLATFORM_INSTANCE_ID,
    F_CONFIGURATION,
    F_COUNT,
};

static const char *const field_oid[F_COUNT] = {
    SGX_OID(".1"), SGX_OID(".2"), SGX_OID(".3"), SGX_OID(".4"),
    SGX_OID(".5"), SGX_OID(".6"), SGX_OID(".7"),
};
static const char *const field_name[F_COUNT] = {
    "PPID", "TCB", "PCE-ID", "FMSPC", "SGX Type", "Platform Instance ID", "Configuration",
};

/* Decode DER that must be exactly one SEQUENCE into its elements. */
static STACK_OF(ASN1_TYPE) * seq_of(const uint8_t *der, size_t size)
{
    if (size > LONG_MAX)
        return NULL;
    const unsigned char *p = der;
    STACK_OF(ASN1_TYPE) *sk = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)size);
    if (sk && p != der + size) {
        sk_ASN1_TYPE_pop_free(sk, ASN1_TYPE_free);
        sk = NULL;
    }
    ERR_clear_error();
    return sk;
}

/* An element that is itself a SEQUENCE: OpenSSL keeps its full DER encoding. */
static STACK_OF(ASN1_TYPE) * seq_elem(const ASN1_TYPE *t)
{
    if (!t || t->type != V_ASN1_SEQUENCE)
        return NULL;
    return seq_of(ASN1_STRING_get0_data(t->value.sequence),
                  (size_t)ASN1_STRING_length(t->value.sequence));
}

/*
 * Each entry of the extension (and of TCB and Configuration) is
 * SEQUENCE { OBJECT IDENTIFIER, value }. Returns the value and the dotted OID.
 */
static const ASN1_TYPE *entry(STACK_OF(ASN1_TYPE) * pair, char *oid, size_t oid_size)
{
    if (!pair || sk_ASN1_TYPE_num(pair) != 2)
        return NULL;
    const ASN1_TYPE *o = sk_ASN1_TYPE_value(pair, 0);
    if (o->type != V_ASN1_OBJECT || OBJ_obj2txt(oid, (int)oid_size, o->value.object, 1) <= 0)
        return NULL;
    return sk_ASN1_TYPE_value(pair, 1);
}

static int malformed(struct keep_error *err, const char *oid, const char *name, const char *want)
{
    return keep_fail(err, KEEP_E_QUOTE_PCK_EXTENSION_MALFORMED,
                     "PCK SGX extension %s (%s) is malformed: must be %s", oid, name, want);
}

static int octets(const ASN1_TYPE *v, uint8_t *out, size_t size, const char *oid, const char *name,
                  struct keep_error *err)
{
    if (!v || v->type != V_ASN1_OCTET_STRING ||
        (size_t)ASN1_STRING_length(v->value.octet_string) != size) {
        char want[48];
        snprintf(want, sizeof(want), "an OCTET STRING of %zu bytes", size);
        return malformed(err, oid, name, want);
    }
    memcpy(out, ASN1_STRING_get0_data(v->value.octet_string), size);
    return KEEP_OK;
}

static int integer(const ASN1_TYPE *v, int asn1_type, uint64_t max, uint64_t *out, const char *oid,
                   const char *name, struct keep_error *err)
{
    int64_t n = -1;
    int ok =
        v && v->type == asn1_type &&
        (asn1_type == V_ASN1_INTEGER ? ASN1_INTEGER_get_int64(&n, v->value.integer)
                                     : ASN1_ENUMERATED_get_int64(&n, v->value.enumerated)) == 1;
    ERR_clear_error();
    if (!ok || n < 0 || (uint64_t)n > max) {
        char want[64];
        snprintf(want, sizeof(want), "an %s in 0..%llu",
                 asn1_type == V_ASN1_INTEGER ? "INTEGER" : "ENUMERATED", (unsigned long long)max);
        return malformed(err, oid, name, want);
    }
    *out = (uint64_t)n;
    return KEEP_OK;
}

static int boolean(const ASN1_TYPE *v, bool *out, const char *oid, const char *name,
                   struct keep_error *err)
{
    if (!v || v->type != V_ASN1_BOOLEAN)
        return malformed(err, oid, name, "a BOOLEAN");
    *out = v->value.boolean != 0;
    return KEEP_OK;
}

/*
 * [PCK] 1.6 TCB: SEQUENCE of 18 entries: SGX TCB Comp01..16 SVN (.2.1..16,
 * INTEGER 0..255), PCESVN (.2.17, INTEGER 0..65535), CPUSVN (.2.18, OCTET
 * STRING 16). Every one is required, each at most once.
 */
static int parse_tcb(const ASN1_TYPE *v, struct keep_pck_info *info, struct keep_error *err)
{
    STACK_OF(ASN1_TYPE) *seq = seq_elem(v);
    uint32_t seen = 0;
    int rc = KEEP_OK;
    if (!seq)
        return malformed(err, SGX_OID(".2"), "TCB", "a SEQUENCE of {OID, value} entries");
    for (int i = 0; rc == KEEP_OK && i < sk_ASN1_TYPE_num(seq); i++) {
        char oid[96];
        STACK_OF(ASN1_TYPE) *pair = seq_elem(sk_ASN1_TYPE_value(seq, i));
        const ASN1_TYPE *val = entry(pair, oid, sizeof(oid));
        const char *prefix = SGX_OID(".2.");
        char *end = NULL;
        unsigned long k = 0;
        if (val && strncmp(oid, prefix, strlen(prefix)) == 0)
            k = strtoul(oid + strlen(prefix), &end, 10);
        if (!val || !end || *end != '\0' || k < 1 || k > 18) {
            /* Unknown TCB entries would change the TCB's meaning: refuse them. */
            rc = malformed(err, SGX_OID(".2"), "TCB",
                           "a SEQUENCE of {OID .2.1 .. .2.18, value} entries");
        } else if (seen & (1u << k)) {
            rc = malformed(err, oid, "TCB entry", "present once");
        } else {
            uint64_t n = 0;
            seen |= 1u << k;
            if (k <= 16) {
                rc = integer(val, V_ASN1_INTEGER, 255, &n, oid, "SGX TCB Comp SVN", err);
                info->cpusvn_components[k - 1] = (uint8_t)n;
            } else if (k == 17) {
                rc = integer(val, V_ASN1_INTEGER, 65535, &n, oid, "PCESVN", err);
                info->pcesvn = (uint16_t)n;
            } else {
                rc = octets(val, info->cpusvn, 16, oid, "CPUSVN", err);
            }
        }
        sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
    }
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    if (rc == KEEP_OK && seen != 0x7fffeu) {
        unsigned k = 1;
        while (seen & (1u << k))
            k++;
        return keep_fail(err, KEEP_E_QUOTE_PCK_EXTENSION_MISSING,
                         "PCK SGX extension TCB lacks entry %s.2.%u (%s)", KEEP_PCK_SGX_EXT_OID, k,
                         k <= 16   ? "SGX TCB Comp SVN"
                         : k == 17 ? "PCESVN"
                                   : "CPUSVN");
    }
    return rc;
}

/* [PCK] 1.6 Configuration (.7): optional BOOLEANs .7.1 .. .7.3. */
static int parse_configuration(const ASN1_TYPE *v, struct keep_pck_info *info,
                               struct keep_error *err)
{
    STACK_OF(ASN1_TYPE) *seq = seq_elem(v);
    int rc = KEEP_OK;
    if (!seq)
        return malformed(err, SGX_OID(".7"), "Configuration", "a SEQUENCE of {OID, BOOLEAN}");
    for (int i = 0; rc == KEEP_OK && i < sk_ASN1_TYPE_num(seq); i++) {
        char oid[96];
        STACK_OF(ASN1_TYPE) *pair = seq_elem(sk_ASN1_TYPE_value(seq, i));
        const ASN1_TYPE *val = entry(pair, oid, sizeof(oid));
        if (!val)
            rc = malformed(err, SGX_OID(".7"), "Configuration", "a SEQUENCE of {OID, BOOLEAN}");
        else if (strcmp(oid, SGX_OID(".7.1")) == 0)
            rc = boolean(val, &info->dynamic_platform, oid, "Dynamic Platform", err);
        else if (strcmp(oid, SGX_OID(".7.2")) == 0)
            rc = boolean(val, &info->cached_keys, oid, "Cached Keys", err);
        else if (strcmp(oid, SGX_OID(".7.3")) == 0)
            rc = boolean(val, &info->smt_enabled, oid, "SMT Enabled", err);
        sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
    }
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    info->has_configuration = rc == KEEP_OK;
    return rc;
}

static int parse_field(enum sgx_field f, const ASN1_TYPE *v, struct keep_pck_info *info,
                       struct keep_error *err)
{
    uint64_t n = 0;
    int rc;
    switch (f) {
    case F_PPID:
        return octets(v, info->ppid, 16, field_oid[f], field_name[f], err);
    case F_TCB:
        return parse_tcb(v, info, err);
    case F_PCEID:
        return octets(v, info->pceid, 2, field_oid[f], field_name[f], err);
    case F_FMSPC:
        return octets(v, info->fmspc, 6, field_oid[f], field_name[f], err);
    case F_SGX_TYPE:
        rc = integer(v, V_ASN1_ENUMERATED, KEEP_PCK_SGX_SCALABLE_WITH_INTEGRITY, &n, field_oid[f],
                     field_name[f], err);
        info->sgx_type = (uint32_t)n;
        return rc;
    case F_PLATFORM_INSTANCE_ID:
        info->has_platform_instance_id = true;
        return octets(v, info->platform_instance_id, 16, field_oid[f], field_name[f], err);
    case F_CONFIGURATION:
        return parse_configuration(v, info, err);
    case F_COUNT:
        break;
    }
    return KEEP_OK;
}

static int field_of(const char *oid)
{
    for (int f = 0; f < F_COUNT; f++)
        if (strcmp(oid, field_oid[f]) == 0)
            return f;
    return -1;
}

int keep_pck_parse_extension(X509 *pck, struct keep_pck_info *info, struct keep_error *err)
{
    const uint8_t *der;
    size_t size;
    unsigned seen = 0;
    int rc;
    memset(info, 0, sizeof(*info));
    if (keep_x509_extension(pck, KEEP_PCK_SGX_EXT_OID, &der, &size, NULL) != KEEP_OK)
        return keep_fail(err, KEEP_E_QUOTE_PCK_EXTENSION_MISSING,
                         "PCK certificate has no SGX extension %s", KEEP_PCK_SGX_EXT_OID);
    STACK_OF(ASN1_TYPE) *top = seq_of(der, size);
    if (!top)
        return malformed(err, KEEP_PCK_SGX_EXT_OID, "SGX Extensions",
                         "a DER SEQUENCE of {OID, value} entries");
    rc = KEEP_OK;
    for (int i = 0; rc == KEEP_OK && i < sk_ASN1_TYPE_num(top); i++) {
        char oid[96];
        STACK_OF(ASN1_TYPE) *pair = seq_elem(sk_ASN1_TYPE_value(top, i));
        const ASN1_TYPE *val = entry(pair, oid, sizeof(oid));
        int f = val ? field_of(oid) : -1;
        if (!val)
            rc = malformed(err, KEEP_PCK_SGX_EXT_OID, "SGX Extensions",
                           "a SEQUENCE of {OID, value} entries");
        else if (f >= 0 && (seen & (1u << f)))
            rc = malformed(err, oid, field_name[f], "present once");
        else if (f >= 0) {
            seen |= 1u << f;
            rc = parse_field((enum sgx_field)f, val, info, err);
        }
        /* Other OIDs are fields this version does not use ([PCK] allows additions). */
        sk_ASN1_TYPE_pop_free(pair, ASN1_TYPE_free);
    }
    sk_ASN1_TYPE_pop_free(top, ASN1_TYPE_free);
    if (rc)
        return rc;
    for (int f = F_PPID; f <= F_SGX_TYPE; f++)
        if (!(seen & (1u << f)))
            return keep_fail(err, KEEP_E_QUOTE_PCK_EXTENSION_MISSING,
                             "PCK SGX extension lacks %s (%s)", field_oid[f], field_name[f]);
    return KEEP_OK;
}

/* ---- Chain ---------------------------------------------------------------- */

static bool same_der(X509 *a, X509 *b)
{
    unsigned char *da = NULL, *db = NULL;
    int na = i2d_X509(a, &da), nb = i2d_X509(b, &db);
    bool same = na > 0 && na == nb && memcmp(da, db, (size_t)na) == 0;
    OPENSSL_free(da);
    OPENSSL_free(db);
    return same;
}

/* A root that the quote carries must be the trusted one ([PCK] 1.4). */
static int check_quote_root(X509 *root_in_quote, X509 *intel_root, struct keep_error *err)
{
    char cn[128];
    if (same_der(root_in_quote, intel_root))
        return KEEP_OK;
    keep_x509_subject_cn(root_in_quote, cn, sizeof(cn));
    /* Say why it differs: an altered Intel root fails its own signature. */
    EVP_PKEY *key = X509_get0_pubkey(root_in_quote);
    int self_ok = key && X509_verify(root_in_quote, key) == 1;
    ERR_clear_error();
    if (!self_ok)
        return keep_fail(err, KEEP_E_X509_SIGNATURE,
                         "PCK chain: root certificate '%s' in the quote: its self-signature does "
                         "not verify",
                         cn);
    uint8_t got[32], want[32];
    char got_hex[65], want_hex[65];
    unsigned int n = 0;
    if (X509_digest(root_in_quote, EVP_sha256(), got, &n) != 1 ||
        X509_digest(intel_root, EVP_sha256(), want, &n) != 1)
        return keep_fail(err, KEEP_E_CRYPTO, "PCK chain: SHA-256 of a root certificate failed");
    keep_hex_encode(got, 32, got_hex);
    keep_hex_encode(want, 32, want_hex);
    return keep_fail(err, KEEP_E_QUOTE_ROOT_NOT_INTEL,
                     "PCK chain: root certificate '%s' in the quote (SHA-256 %s) is not the "
                     "trusted Intel SGX Root CA (SHA-256 %s)",
                     cn, got_hex, want_hex);
}

static int ca_kind(X509 *ca, enum keep_pck_ca *kind, struct keep_error *err)
{
    char cn[128];
    keep_x509_subject_cn(ca, cn, sizeof(cn));
    /* [PCK] 1.5: the two intermediate CAs, by subject CN. */
    if (strcmp(cn, "Intel SGX PCK Platform CA") == 0)
        *kind = KEEP_PCK_CA_PLATFORM;
    else if (strcmp(cn, "Intel SGX PCK Processor CA") == 0)
        *kind = KEEP_PCK_CA_PROCESSOR;
    else
        return keep_fail(err, KEEP_E_QUOTE_PCK_ISSUER,
                         "PCK chain: CA certificate CN is '%s'; must be 'Intel SGX PCK Platform "
                         "CA' or 'Intel SGX PCK Processor CA'",
                         cn);
    return KEEP_OK;
}

/* [PCK] 1.6: the PCK key is ECDSA on P-256; the QE report signature needs it. */
static int check_pck_key(X509 *pck, struct keep_error *err)
{
    EVP_PKEY *key = X509_get0_pubkey(pck);
    char group[64] = "";
    size_t len = 0;
    int ok = key && EVP_PKEY_is_a(key, "EC") &&
             EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                            &len) == 1 &&
             strcmp(group, "prime256v1") == 0;
    ERR_clear_error();
    if (!ok)
        return keep_fail(err, KEEP_E_QUOTE_PCK_KEY,
                         "PCK certificate key is %s (group '%s'); must be EC on prime256v1",
                         key ? EVP_PKEY_get0_type_name(key) : "absent", group);
    return KEEP_OK;
}

static int check_crls(X509_CRL *root_ca_crl, X509_CRL *pck_crl, X509 *intel_root, X509 *ca,
                      int64_t time, STACK_OF(X509_CRL) * crls, struct keep_error *err)
{
    int rc;
    /*
     * Checked one by one first: a CRL from the wrong issuer would otherwise
     * simply not apply, and revocation would go unchecked without a word.
     */
    if (root_ca_crl) {
        if ((rc = keep_x509_check_crl(root_ca_crl, intel_root, time, "Intel SGX Root CA CRL", err)))
            return rc;
        if (!sk_X509_CRL_push(crls, root_ca_crl))
            return keep_fail(err, KEEP_E_NOMEM, "PCK chain: cannot list the CRLs");
    }
    if (pck_crl) {
        if ((rc = keep_x509_check_crl(pck_crl, ca, time, "PCK CRL", err)))
            return rc;
        if (!sk_X509_CRL_push(crls, pck_crl))
            return keep_fail(err, KEEP_E_NOMEM, "PCK chain: cannot list the CRLs");
    }
    return KEEP_OK;
}

static int verify_parsed_chain(STACK_OF(X509) * chain, X509 *intel_root, X509_CRL *root_ca_crl,
                               X509_CRL *pck_crl, int64_t time, struct keep_pck_info *info,
                               struct keep_error *err)
{
    int n = sk_X509_num(chain);
    enum keep_pck_ca kind = KEEP_PCK_CA_PLATFORM;
    int rc;
    /* [SGX] "QE Certification Data" / [TDX] "Certification Data": type 5 holds PCK ||
     * Platform/Processor CA || Root CA. */
    if (n < 2 || n > 3)
        return keep_fail(err, KEEP_E_QUOTE_PCK_CHAIN_SHAPE,
                         "PCK chain holds %d certificates; must be PCK, CA and optionally the "
                         "root (2 or 3)",
                         n);
    X509 *pck = sk_X509_value(chain, 0), *ca = sk_X509_value(chain, 1);
    if (n == 3 && (rc = check_quote_root(sk_X509_value(chain, 2), intel_root, err)))
        return rc;
    if ((rc = ca_kind(ca, &kind, err)))
        return rc;
    STACK_OF(X509) *mid = sk_X509_new_null();
    STACK_OF(X509) *roots = sk_X509_new_null();
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    if (!mid || !roots || !crls || !sk_X509_push(mid, ca) || !sk_X509_push(roots, intel_root)) {
        rc = keep_fail(err, KEEP_E_NOMEM, "PCK chain: cannot list the certificates");
        goto out;
    }
    if ((rc = check_crls(root_ca_crl, pck_crl, intel_root, ca, time, crls, err)))
        goto out;
    struct keep_x509_verify_opts opts = {.time = time, .crls = crls, .require_crls = false};
    if ((rc = keep_x509_verify_chain(pck, mid, roots, &opts, "PCK chain", err)) ||
        (rc = check_pck_key(pck, err)) || (rc = keep_pck_parse_extension(pck, info, err)))
        goto out;
    info->ca = kind;
out:
    /* The stacks borrow their elements. */
    sk_X509_free(mid);
    sk_X509_free(roots);
    sk_X509_CRL_free(crls);
    return rc;
}

int keep_pck_verify_chain(const uint8_t *pem, size_t pem_size, X509 *intel_root,
                          X509_CRL *root_ca_crl, X509_CRL *pck_crl, int64_t time,
                          struct keep_pck_info *info, X509 **pck_out, struct keep_error *err)
{
    STACK_OF(X509) *chain = NULL;
    struct keep_pck_info tmp;
    if (pck_out)
        *pck_out = NULL;
    if (!intel_root)
        return keep_fail(err, KEEP_E_USAGE, "PCK chain: the Intel root certificate is required");
    int rc = keep_x509_parse_chain(pem, pem_size, "PCK chain", &chain, err);
    if (rc)
        return rc;
    rc =
        verify_parsed_chain(chain, intel_root, root_ca_crl, pck_crl, time, info ? info : &tmp, err);
    if (rc == KEEP_OK && pck_out) {
        *pck_out = sk_X509_value(chain, 0);
        X509_up_ref(*pck_out);
    }
    sk_X509_pop_free(chain, X509_free);
    return rc;
}

/* ---- Claims ---------------------------------------------------------------- */

static void set_hex(json_t *o, const char *key, const uint8_t *data, size_t size)
{
    char buf[2 * 16 + 1];
    keep_hex_encode(data, size, buf);
    json_object_set_new(o, key, json_string(buf));
}

json_t *keep_pck_info_json(const struct keep_pck_info *info)
{
    static const char *const sgx_types[] = {"Standard", "Scalable", "ScalableWithIntegrity"};
    json_t *o = json_object();
    json_t *comps = json_array();
    if (!o || !comps || !info) {
        json_decref(o);
        json_decref(comps);
        return NULL;
    }
    json_object_set_new(o, "ca",
                        json_string(info->ca == KEEP_PCK_CA_PROCESSOR ? "processor" : "platform"));
    set_hex(o, "fmspc", info->fmspc, sizeof(info->fmspc));
    set_hex(o, "pceid", info->pceid, sizeof(info->pceid));
    set_hex(o, "cpusvn", info->cpusvn, sizeof(info->cpusvn));
    json_object_set_new(o, "pcesvn", json_integer(info->pcesvn));
    for (size_t i = 0; i < KEEP_ARRAY_LEN(info->cpusvn_components); i++)
        json_array_append_new(comps, json_integer(info->cpusvn_components[i]));
    json_object_set_new(o, "sgx_tcb_comp_svn", comps);
    if (info->sgx_type < KEEP_ARRAY_LEN(sgx_types))
        json_object_set_new(o, "sgx_type", json_string(sgx_types[info->sgx_type]));
    if (info->has_platform_instance_id)
        set_hex(o, "platform_instance_id", info->platform_instance_id,
                sizeof(info->platform_instance_id));
    if (info->has_configuration)
        json_object_set_new(o, "configuration",
                            json_pack("{sbsbsb}", "dynamic_platform", info->dynamic_platform,
                                      "cached_keys", info->cached_keys, "smt_enabled",
                                      info->smt_enabled));
    return o;
}

/* ---- The shipped root ------------------------------------------------------ */

#define INTEL_ROOT_FILE "intel/intel_sgx_root_ca.der"

static int check_fingerprint(const uint8_t *der, size_t size, const char *path,
                             struct keep_error *err)
{
    uint8_t digest[32];
    char hex[65];
    unsigned int len = 0;
    if (EVP_Digest(der, size, digest, &len, EVP_sha256(), NULL) != 1 || len != 32)
        return keep_fail(err, KEEP_E_CRYPTO, "%s: SHA-256 failed", path);
    keep_hex_encode(digest, 32, hex);
    if (strcmp(hex, KEEP_PCK_INTEL_ROOT_SHA256) != 0)
        return keep_fail(err, KEEP_E_QUOTE_ROOT_MISSING,
                         "%s has SHA-256 %s; the Intel SGX Root CA's is %s", path, hex,
                         KEEP_PCK_INTEL_ROOT_SHA256);
    return KEEP_OK;
}

static int load_root_from(const char *dir, X509 **out, struct keep_error *err)
{
    char path[4096];
    uint8_t *der = NULL;
    size_t size = 0;
    int n = snprintf(path, sizeof(path), "%s/%s", dir, INTEL_ROOT_FILE);
    if (n < 0 || (size_t)n >= sizeof(path))
        return keep_fail(err, KEEP_E_QUOTE_ROOT_MISSING, "roots directory path is too long");
    int rc = keep_read_file(path, 64 * 1024, &der, &size, err);
    if (rc == KEEP_OK)
        rc = check_fingerprint(der, size, path, err);
    if (rc == KEEP_OK)
        rc = keep_x509_parse_cert(der, size, "Intel SGX Root CA", out, err);
    free(der);
    return rc;
}

int keep_pck_load_intel_root(const char *roots_dir, X509 **out, struct keep_error *err)
{
    *out = NULL;
    if (!roots_dir)
        roots_dir = getenv("KEEP_ROOTS_DIR");
    if (roots_dir && *roots_dir)
        return load_root_from(roots_dir, out, err);
    /* The installed copy first; the source tree's for tests and uninstalled runs. */
    if (load_root_from(KEEP_DATA_DIR "/roots", out, NULL) == KEEP_OK)
        return KEEP_OK;
    int rc = load_root_from(KEEP_SOURCE_DATA_DIR "/roots", out, err);
    if (rc)
        return keep_fail(err, KEEP_E_QUOTE_ROOT_MISSING,
                         "the Intel SGX Root CA is neither at %s/roots/%s nor at %s/roots/%s "
                         "(set KEEP_ROOTS_DIR to the folder holding intel/)",
                         KEEP_DATA_DIR, INTEL_ROOT_FILE, KEEP_SOURCE_DATA_DIR, INTEL_ROOT_FILE);
    return KEEP_OK;
}
