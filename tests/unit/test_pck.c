/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PCK certificates: the SGX extension decoder (every field, each missing or
 * malformed field) and the chain checks (shape, CA name, key type, root,
 * CRLs), on certificates generated with OpenSSL by tests/support/quote_gen,
 * plus loading the shipped Intel SGX Root CA.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "attest/pck.h"
#include "common/util.h"
#include "support/quote_gen.h"
#include "tap.h"

#define T_2025 1735689600 /* 2025-01-01T00:00:00Z */
#define DAY    86400
#define OID(s) "1.2.840.113741.1.13.1" s

static struct qgen_pck_opts base_opts(void)
{
    struct qgen_pck_opts o = {.pcesvn = 13, .sgx_type = 1};
    static const uint8_t fmspc[6] = {0x00, 0xa0, 0x67, 0x11, 0x00, 0x00};
    memcpy(o.fmspc, fmspc, 6);
    o.pceid[1] = 0x00;
    o.pceid[0] = 0x00;
    for (int i = 0; i < 16; i++) {
        o.cpusvn[i] = (uint8_t)(i * 3);
        o.ppid[i] = (uint8_t)(0xf0 + i);
    }
    return o;
}

/* Build a PKI with these options and decode its PCK's extension. */
static int decode(const struct qgen_pck_opts *o, struct keep_pck_info *info, struct keep_error *err)
{
    struct qgen_pki pki;
    if (qgen_pki_new(&pki, o) != 0) {
        qgen_pki_free(&pki);
        return -1;
    }
    keep_error_clear(err);
    int rc = keep_pck_parse_extension(pki.pck, info, err);
    qgen_pki_free(&pki);
    return rc;
}

static void extension_values(void)
{
    struct qgen_pck_opts o = base_opts();
    struct keep_pck_info info;
    struct keep_error err;
    is_int(decode(&o, &info, &err), KEEP_OK, "the SGX extension decodes (%s)", err.message);
    ok(memcmp(info.fmspc, o.fmspc, 6) == 0, "FMSPC");
    ok(memcmp(info.pceid, o.pceid, 2) == 0, "PCE-ID");
    is_int(info.pcesvn, 13, "PCESVN");
    ok(memcmp(info.cpusvn, o.cpusvn, 16) == 0, "CPUSVN");
    ok(memcmp(info.cpusvn_components, o.cpusvn, 16) == 0, "the 16 TCB component SVNs");
    ok(memcmp(info.ppid, o.ppid, 16) == 0, "PPID");
    is_int(info.sgx_type, KEEP_PCK_SGX_SCALABLE, "SGX type Scalable");
    ok(!info.has_platform_instance_id && !info.has_configuration,
       "no Platform Instance ID or Configuration in a Processor-style PCK");

    o.with_platform_fields = true;
    o.pcesvn = 65535;
    o.cpusvn[15] = 255;
    is_int(decode(&o, &info, &err), KEEP_OK, "with Platform Instance ID and Configuration (%s)",
           err.message);
    ok(info.has_platform_instance_id && info.platform_instance_id[15] == 0x0f,
       "Platform Instance ID");
    ok(info.has_configuration && info.dynamic_platform && !info.cached_keys && info.smt_enabled,
       "Configuration: dynamic platform, no cached keys, SMT");
    is_int(info.pcesvn, 65535, "PCESVN 65535");
    is_int(info.cpusvn_components[15], 255, "component 16 SVN 255");

    json_t *j = keep_pck_info_json(&info);
    is_str(json_string_value(json_object_get(j, "fmspc")), "00a067110000", "JSON fmspc");
    is_int(json_integer_value(json_object_get(j, "pcesvn")), 65535, "JSON pcesvn");
    is_int(json_integer_value(json_array_get(json_object_get(j, "sgx_tcb_comp_svn"), 15)), 255,
           "JSON sgx_tcb_comp_svn[15]");
    is_str(json_string_value(json_object_get(j, "sgx_type")), "Scalable", "JSON sgx_type");
    ok(json_is_true(json_object_get(json_object_get(j, "configuration"), "smt_enabled")),
       "JSON configuration.smt_enabled");
    ok(json_object_get(j, "ppid") == NULL, "JSON leaves the PPID out");
    json_decref(j);
}

static void extension_missing(void)
{
    static const char *const oids[] = {OID(".1"),    OID(".2"),    OID(".3"),
                                       OID(".4"),    OID(".5"),    OID(".2.1"),
                                       OID(".2.16"), OID(".2.17"), OID(".2.18")};
    struct keep_pck_info info;
    struct keep_error err;
    for (size_t i = 0; i < KEEP_ARRAY_LEN(oids); i++) {
        struct qgen_pck_opts o = base_opts();
        o.omit_oid = oids[i];
        int rc = decode(&o, &info, &err);
        is_int(rc, KEEP_E_QUOTE_PCK_EXTENSION_MISSING, "without %s: missing (%s)", oids[i],
               err.message);
        ok(strstr(err.message, oids[i]) != NULL, "... and the message names %s", oids[i]);
    }
    struct qgen_pck_opts o = base_opts();
    o.no_sgx_ext = true;
    is_int(decode(&o, &info, &err), KEEP_E_QUOTE_PCK_EXTENSION_MISSING,
           "no SGX extension at all (%s)", err.message);
}

/* An extension whose [sgx] section has the entries given, FMSPC first. */
static int decode_conf(const char *conf, struct keep_error *err)
{
    struct qgen_pck_opts o = base_opts();
    struct keep_pck_info info;
    o.ext_conf = conf;
    return decode(&o, &info, err);
}

static void extension_malformed(void)
{
    static const struct {
        const char *conf, *what;
    } cases[] = {
        {"[sgx]\nf = SEQUENCE:f\n[f]\noid = OID:" OID(".4") "\nval = FORMAT:HEX,OCTETSTRING:"
                                                            "0011223344\n",
         "FMSPC of 5 bytes"},
        {"[sgx]\nf = SEQUENCE:f\n[f]\noid = OID:" OID(".4") "\nval = INTEGER:5\n",
         "FMSPC as an INTEGER"},
        {"[sgx]\nf = SEQUENCE:f\n[f]\noid = OID:" OID(".3") "\nval = FORMAT:HEX,OCTETSTRING:"
                                                            "001122\n",
         "PCE-ID of 3 bytes"},
        {"[sgx]\nf = SEQUENCE:f\n[f]\noid = OID:" OID(".5") "\nval = INTEGER:0\n",
         "SGX type as an INTEGER, not ENUMERATED"},
        {"[sgx]\nf = SEQUENCE:f\n[f]\noid = OID:" OID(".5") "\nval = ENUMERATED:7\n", "SGX type 7"},
        {"[sgx]\nf = SEQUENCE:f\ng = SEQUENCE:f\n[f]\noid = OID:" OID(
             ".4") "\nval = FORMAT:HEX,OCTETSTRING:001122334455\n",
         "FMSPC twice"},
        {"[sgx]\nf = INTEGER:1\n", "an entry that is not a SEQUENCE"},
        {"[sgx]\nf = SEQUENCE:f\n[f]\noid = OID:" OID(".4") "\n", "an entry without a value"},
        {"[sgx]\nf = SEQUENCE:f\n[f]\noid = OID:" OID(".2") "\nval = INTEGER:1\n",
         "TCB as an INTEGER"},
        {"[sgx]\nt = SEQUENCE:t\n[t]\noid = OID:" OID(".2") "\nval = SEQUENCE:c\n[c]\n"
                                                            "a = SEQUENCE:a\n[a]\noid = OID:" OID(
                                                                ".2.1") "\nval = INTEGER:256\n",
         "TCB component SVN 256"},
        {"[sgx]\nt = SEQUENCE:t\n[t]\noid = OID:" OID(".2") "\nval = SEQUENCE:c\n[c]\n"
                                                            "a = SEQUENCE:a\n[a]\noid = OID:" OID(
                                                                ".2.17") "\nval = INTEGER:-1\n",
         "PCESVN -1"},
        {"[sgx]\nt = SEQUENCE:t\n[t]\noid = OID:" OID(".2") "\nval = SEQUENCE:c\n[c]\n"
                                                            "a = SEQUENCE:a\n[a]\noid = OID:" OID(
                                                                ".2.19") "\nval = INTEGER:1\n",
         "unknown TCB entry .2.19"},
        {"[sgx]\nt = SEQUENCE:t\n[t]\noid = OID:" OID(
             ".2") "\nval = SEQUENCE:c\n[c]\n"
                   "a = SEQUENCE:a\n[a]\noid = OID:" OID(
                       ".2.18") "\nval = FORMAT:HEX,OCTETSTRING:00\n",
         "CPUSVN of 1 byte"},
        {"[sgx]\nf = SEQUENCE:f\n[f]\noid = OID:" OID(".7") "\nval = SEQUENCE:c\n[c]\n"
                                                            "a = SEQUENCE:a\n[a]\noid = OID:" OID(
                                                                ".7.1") "\nval = INTEGER:1\n",
         "Configuration dynamic platform as an INTEGER"},
    };
    struct keep_error err;
    for (size_t i = 0; i < KEEP_ARRAY_LEN(cases); i++)
        is_int(decode_conf(cases[i].conf, &err), KEEP_E_QUOTE_PCK_EXTENSION_MALFORMED,
               "%s is malformed (%s)", cases[i].what, err.message);
}

static char *chain_of(X509 *const *certs, int count, size_t *size)
{
    BIO *bio = BIO_new(BIO_s_mem());
    for (int i = 0; i < count; i++)
        PEM_write_bio_X509(bio, certs[i]);
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    char *out = malloc((size_t)n + 1);
    memcpy(out, p, (size_t)n);
    out[n] = 0;
    *size = (size_t)n;
    BIO_free(bio);
    return out;
}

static int verify(const struct qgen_pki *pki, X509 *const *certs, int count, X509_CRL *root_crl,
                  X509_CRL *pck_crl, int64_t t, struct keep_pck_info *info, struct keep_error *err)
{
    size_t size;
    char *pem = chain_of(certs, count, &size);
    keep_error_clear(err);
    int rc = keep_pck_verify_chain((const uint8_t *)pem, size, pki->root, root_crl, pck_crl, t,
                                   info, NULL, err);
    free(pem);
    return rc;
}

static void chains(void)
{
    struct qgen_pck_opts o = base_opts();
    struct qgen_pki pki, proc, rsa, odd;
    struct keep_pck_info info;
    struct keep_error err;
    qgen_pki_new(&pki, &o);
    X509 *full[4] = {pki.pck, pki.ca, pki.root, pki.root};
    is_int(verify(&pki, full, 3, NULL, NULL, T_2025, &info, &err), KEEP_OK,
           "PCK, CA, root verifies (%s)", err.message);
    is_int(info.ca, KEEP_PCK_CA_PLATFORM, "issued by the Platform CA");
    ok(memcmp(info.fmspc, o.fmspc, 6) == 0, "and the FMSPC comes out");
    is_int(verify(&pki, full, 2, NULL, NULL, T_2025, &info, &err), KEEP_OK, "PCK, CA verifies (%s)",
           err.message);
    is_int(verify(&pki, full, 1, NULL, NULL, T_2025, &info, &err), KEEP_E_QUOTE_PCK_CHAIN_SHAPE,
           "PCK alone is refused (%s)", err.message);
    is_int(verify(&pki, full, 4, NULL, NULL, T_2025, &info, &err), KEEP_E_QUOTE_PCK_CHAIN_SHAPE,
           "four certificates are refused (%s)", err.message);
    X509 *swapped[3] = {pki.ca, pki.pck, pki.root};
    is_int(verify(&pki, swapped, 3, NULL, NULL, T_2025, &info, &err), KEEP_E_QUOTE_PCK_ISSUER,
           "CA first is refused (%s)", err.message);
    X509 *pck_pck_root[3] = {pki.pck, pki.pck, pki.root};
    is_int(verify(&pki, pck_pck_root, 3, NULL, NULL, T_2025, &info, &err), KEEP_E_QUOTE_PCK_ISSUER,
           "a PCK in the CA's place is refused");

    struct qgen_pck_opts po = base_opts();
    po.ca_cn = "Intel SGX PCK Processor CA";
    qgen_pki_new(&proc, &po);
    X509 *pc[3] = {proc.pck, proc.ca, proc.root};
    is_int(verify(&proc, pc, 3, NULL, NULL, T_2025, &info, &err), KEEP_OK,
           "Processor CA chain verifies (%s)", err.message);
    is_int(info.ca, KEEP_PCK_CA_PROCESSOR, "issued by the Processor CA");
    is_int(verify(&pki, pc, 3, NULL, NULL, T_2025, &info, &err), KEEP_E_QUOTE_ROOT_NOT_INTEL,
           "another hierarchy's root is not the trusted one (%s)", err.message);

    po.ca_cn = "Intel SGX PCK Something CA";
    qgen_pki_new(&odd, &po);
    X509 *oc[3] = {odd.pck, odd.ca, odd.root};
    is_int(verify(&odd, oc, 3, NULL, NULL, T_2025, &info, &err), KEEP_E_QUOTE_PCK_ISSUER,
           "an unknown CA name is refused (%s)", err.message);

    po = base_opts();
    po.rsa_pck = true;
    qgen_pki_new(&rsa, &po);
    X509 *rc3[3] = {rsa.pck, rsa.ca, rsa.root};
    is_int(verify(&rsa, rc3, 3, NULL, NULL, T_2025, &info, &err), KEEP_E_QUOTE_PCK_KEY,
           "an RSA PCK key is refused (%s)", err.message);

    /* CRLs: good ones pass, a revoked PCK or CA fails, a misissued or stale CRL fails. */
    int64_t tu = T_2025 - DAY, nu = T_2025 + 30 * DAY;
    X509_CRL *root_crl = qgen_crl(pki.root, pki.root_key, NULL, tu, nu);
    X509_CRL *pck_crl = qgen_crl(pki.ca, pki.ca_key, NULL, tu, nu);
    X509_CRL *revoke_pck = qgen_crl(pki.ca, pki.ca_key, pki.pck, tu, nu);
    X509_CRL *revoke_ca = qgen_crl(pki.root, pki.root_key, pki.ca, tu, nu);
    X509_CRL *by_root = qgen_crl(pki.root, pki.root_key, NULL, tu, nu);
    X509_CRL *by_other = qgen_crl(proc.ca, proc.ca_key, NULL, tu, nu);
    is_int(verify(&pki, full, 3, root_crl, pck_crl, T_2025, &info, &err), KEEP_OK,
           "both CRLs, nothing revoked (%s)", err.message);
    is_int(verify(&pki, full, 3, root_crl, revoke_pck, T_2025, &info, &err), KEEP_E_X509_REVOKED,
           "a PCK on the PCK CRL is revoked (%s)", err.message);
    is_int(verify(&pki, full, 3, revoke_ca, pck_crl, T_2025, &info, &err), KEEP_E_X509_REVOKED,
           "a CA on the root CA CRL is revoked (%s)", err.message);
    is_int(verify(&pki, full, 3, NULL, by_root, T_2025, &info, &err), KEEP_E_X509_CRL_SIGNATURE,
           "a PCK CRL issued by the root is refused (%s)", err.message);
    is_int(verify(&pki, full, 3, NULL, by_other, T_2025, &info, &err), KEEP_E_X509_CRL_SIGNATURE,
           "a PCK CRL from another CA is refused (%s)", err.message);
    is_int(verify(&pki, full, 3, root_crl, pck_crl, T_2025 + 60 * DAY, &info, &err),
           KEEP_E_X509_CRL_EXPIRED, "CRLs past their nextUpdate (%s)", err.message);
    is_int(verify(&pki, full, 3, root_crl, pck_crl, T_2025 - 2 * DAY, &info, &err),
           KEEP_E_X509_CRL_NOT_YET_VALID, "CRLs before their thisUpdate (%s)", err.message);
    X509_CRL *crls[] = {root_crl, pck_crl, revoke_pck, revoke_ca, by_root, by_other};
    for (size_t i = 0; i < KEEP_ARRAY_LEN(crls); i++)
        X509_CRL_free(crls[i]);

    X509 *leaf = NULL;
    size_t size;
    char *pem = chain_of(full, 3, &size);
    is_int(keep_pck_verify_chain((const uint8_t *)pem, size, pki.root, NULL, NULL, T_2025, NULL,
                                 &leaf, &err),
           KEEP_OK, "the PCK certificate is handed back");
    ok(leaf && X509_cmp(leaf, pki.pck) == 0, "... and it is the PCK");
    X509_free(leaf);
    is_int(keep_pck_verify_chain((const uint8_t *)"junk", 4, pki.root, NULL, NULL, T_2025, NULL,
                                 NULL, &err),
           KEEP_E_X509_PARSE, "a chain that is not PEM or DER (%s)", err.message);
    free(pem);
    qgen_pki_free(&pki);
    qgen_pki_free(&proc);
    qgen_pki_free(&odd);
    qgen_pki_free(&rsa);
}

static void shipped_root(void)
{
    X509 *root = NULL;
    struct keep_error err;
    keep_error_clear(&err);
    unsetenv("KEEP_ROOTS_DIR");
    is_int(keep_pck_load_intel_root(NULL, &root, &err), KEEP_OK,
           "the shipped Intel SGX Root CA loads (%s)", err.message);
    char cn[128];
    is_str(root ? (X509_NAME_get_text_by_NID(X509_get_subject_name(root), NID_commonName, cn,
                                             sizeof(cn)) > 0
                       ? cn
                       : "")
                : "",
           "Intel SGX Root CA", "its subject CN");
    X509_free(root);

    /* A folder whose intel/intel_sgx_root_ca.der is another certificate. */
    char dir[] = "/tmp/keep-test-pck-XXXXXX";
    ok(mkdtemp(dir) != NULL, "temporary roots folder");
    char sub[256], path[300];
    snprintf(sub, sizeof(sub), "%s/intel", dir);
    snprintf(path, sizeof(path), "%s/intel_sgx_root_ca.der", sub);
    mkdir(sub, 0700);
    struct qgen_pki pki;
    qgen_pki_new(&pki, NULL);
    FILE *f = fopen(path, "wb");
    if (f) {
        i2d_X509_fp(f, pki.root);
        fclose(f);
    }
    is_int(keep_pck_load_intel_root(dir, &root, &err), KEEP_E_QUOTE_ROOT_MISSING,
           "a root with another fingerprint is refused (%s)", err.message);
    setenv("KEEP_ROOTS_DIR", "/nonexistent", 1);
    is_int(keep_pck_load_intel_root(NULL, &root, &err), KEEP_E_IO,
           "KEEP_ROOTS_DIR that lacks the file (%s)", err.message);
    unsetenv("KEEP_ROOTS_DIR");
    unlink(path);
    rmdir(sub);
    rmdir(dir);
    qgen_pki_free(&pki);
}

int main(void)
{
    extension_values();
    extension_missing();
    extension_malformed();
    chains();
    shipped_root();
    return done_testing();
}
