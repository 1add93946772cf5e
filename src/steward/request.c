/* SPDX-License-Identifier: Apache-2.0 */
#include "steward/request.h"

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Enarx Steward's evidence extensions (enarx/steward crates/server/src/kvm.rs,
 * crates/attestation/src/{sgx,snp}/mod.rs), under Profian's arc 1.3.6.1.4.1.58270. */
#define ENARX_OID_KVM "1.3.6.1.4.1.58270.1.1"
#define ENARX_OID_SGX "1.3.6.1.4.1.58270.1.2"
#define ENARX_OID_SNP "1.3.6.1.4.1.58270.1.3"

#define CSR_MAX_SIZE (64 * 1024)

bool steward_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > STEWARD_WORKLOAD_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int steward_base64_decode(const char *text, size_t len, const char *field,
                          struct steward_bytes *out, struct keep_error *err)
{
    out->data = NULL;
    out->size = 0;
    if (len % 4 != 0)
        return keep_fail(err, KEEP_E_STEWARD_REQUEST_FIELD,
                         "%s: base64 length %zu is not a multiple of 4", field, len);
    uint8_t *buf = malloc(len / 4 * 3 + 1);
    if (!buf)
        return keep_fail(err, KEEP_E_NOMEM, "%s: out of memory", field);
    size_t n = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        size_t pad = 0;
        for (size_t j = 0; j < 4; j++) {
            char c = text[i + j];
            /* '=' only as the last one or two characters (RFC 4648 section 4). */
            if (c == '=' && i + 4 == len && (j == 3 || (j == 2 && text[i + 3] == '='))) {
                v[j] = 0;
                pad++;
                continue;
            }
            v[j] = b64_value(c);
            if (v[j] < 0 || pad) {
                free(buf);
                return keep_fail(err, KEEP_E_STEWARD_REQUEST_FIELD,
                                 "%s: byte %zu (0x%02x) is not base64", field, i + j,
                                 (unsigned char)c);
            }
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        buf[n++] = (uint8_t)(w >> 16);
        if (pad < 2)
            buf[n++] = (uint8_t)(w >> 8);
        if (pad < 1)
            buf[n++] = (uint8_t)w;
    }
    out->data = buf;
    out->size = n;
    return KEEP_OK;
}

char *steward_base64_encode(const uint8_t *data, size_t size)
{
    size_t len = 4 * ((size + 2) / 3);
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    if (EVP_EncodeBlock((unsigned char *)out, data, (int)size) != (int)len) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

void steward_binding_report_data(const uint8_t nonce[STEWARD_NONCE_SIZE],
                                 const uint8_t spki_sha384[48], uint8_t out[64])
{
    /* SHA-384("keep-attest/v1" || nonce || SHA-384(SPKI DER)), then 16 zero bytes. */
    uint8_t msg[sizeof(STEWARD_BIND_LABEL) - 1 + STEWARD_NONCE_SIZE + 48];
    memcpy(msg, STEWARD_BIND_LABEL, sizeof(STEWARD_BIND_LABEL) - 1);
    memcpy(msg + sizeof(STEWARD_BIND_LABEL) - 1, nonce, STEWARD_NONCE_SIZE);
    memcpy(msg + sizeof(STEWARD_BIND_LABEL) - 1 + STEWARD_NONCE_SIZE, spki_sha384, 48);
    memset(out, 0, 64);
    unsigned int md_size = 0;
    EVP_Digest(msg, sizeof(msg), out, &md_size, EVP_sha384(), NULL);
}

/* ---- CSR ---------------------------------------------------------------- */

void steward_csr_free(struct steward_csr *csr)
{
    X509_REQ_free(csr->req);
    free(csr->spki_der);
    memset(csr, 0, sizeof(*csr));
}

static X509_REQ *csr_decode(const uint8_t *data, size_t size)
{
    static const char pem_tag[] = "-----BEGIN CERTIFICATE REQUEST-----";
    if (size >= sizeof(pem_tag) - 1 && memcmp(data, pem_tag, sizeof(pem_tag) - 1) == 0) {
        BIO *bio = BIO_new_mem_buf(data, (int)size);
        X509_REQ *req = bio ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        return req;
    }
    const unsigned char *p = data;
    X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)size);
    if (req && p != data + size) { /* trailing bytes: not one DER object */
        X509_REQ_free(req);
        return NULL;
    }
    return req;
}

static int csr_key(struct steward_csr *out, struct keep_error *err)
{
    EVP_PKEY *key = X509_REQ_get0_pubkey(out->req);
    char curve[64] = "";
    size_t curve_len = 0;
    if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
        !EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof(curve), &curve_len))
        return keep_fail(err, KEEP_E_STEWARD_CSR_KEY,
                         "csr.subject_public_key_info: the key is %s; an EC key (P-256 or P-384) "
                         "is required",
                         key ? OBJ_nid2sn(EVP_PKEY_get_base_id(key)) : "missing");
    out->curve_nid = OBJ_sn2nid(curve);
    if (out->curve_nid != NID_X9_62_prime256v1 && out->curve_nid != NID_secp384r1)
        return keep_fail(err, KEEP_E_STEWARD_CSR_KEY,
                         "csr.subject_public_key_info: curve is %s; P-256 or P-384 is required",
                         curve);
    int n = i2d_PUBKEY(key, &out->spki_der);
    if (n <= 0)
        return keep_fail(err, KEEP_E_STEWARD_CSR, "csr.subject_public_key_info does not encode");
    out->spki_size = (size_t)n;
    unsigned int md_size = 0;
    EVP_Digest(out->spki_der, out->spki_size, out->spki_sha384, &md_size, EVP_sha384(), NULL);
    return KEEP_OK;
}

int steward_csr_parse(const uint8_t *data, size_t size, struct steward_csr *out,
                      struct keep_error *err)
{
    memset(out, 0, sizeof(*out));
    if (size == 0 || size > CSR_MAX_SIZE)
        return keep_fail(err, KEEP_E_STEWARD_CSR, "csr is %zu bytes; 1..%d are accepted", size,
                         CSR_MAX_SIZE);
    out->req = csr_decode(data, size);
    if (!out->req)
        return keep_fail(err, KEEP_E_STEWARD_CSR,
                         "csr: not one PKCS#10 CertificationRequest (RFC 2986 section 4) in PEM "
                         "or DER");
    int rc = csr_key(out, err);
    if (rc) {
        steward_csr_free(out);
        return rc;
    }
    /* RFC 2986 section 3: the request is signed with the private key of the subject. */
    if (X509_REQ_verify(out->req, X509_REQ_get0_pubkey(out->req)) != 1) {
        steward_csr_free(out);
        return keep_fail(err, KEEP_E_STEWARD_CSR_SIGNATURE,
                         "csr.signature does not verify with the request's own key");
    }
    return KEEP_OK;
}

/* ---- JSON request ------------------------------------------------------- */

void steward_request_free(struct steward_cert_request *r)
{
    steward_csr_free(&r->csr);
    struct steward_bytes *all[] = {&r->evidence,        &r->vcek,
                                   &r->cert_chain,      &r->amd_crl,
                                   &r->collateral_json, &r->tcb_info,
                                   &r->qe_identity,     &r->tcb_signing_chain,
                                   &r->pck_crl,         &r->pck_crl_issuer_chain,
                                   &r->root_ca_crl};
    for (size_t i = 0; i < KEEP_ARRAY_LEN(all); i++)
        free(all[i]->data);
    memset(r, 0, sizeof(*r));
}

static int json_b64(json_t *obj, const char *key, const char *field, bool required,
                    struct steward_bytes *out, struct keep_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return keep_fail(err, KEEP_E_STEWARD_REQUEST_FIELD, "%s is missing", field);
        return KEEP_OK;
    }
    if (!json_is_string(v))
        return keep_fail(err, KEEP_E_STEWARD_REQUEST, "%s is a %s; a base64 string is required",
                         field, json_is_object(v) ? "object" : "non-string");
    return steward_base64_decode(json_string_value(v), json_string_length(v), field, out, err);
}

static const struct {
    const char *key;
    size_t offset;
} collateral_keys[] = {
#define COLL(k)                                      \
    {                                                \
#k, offsetof(struct steward_cert_request, k) \
    }
    COLL(vcek),
    COLL(cert_chain),
    COLL(amd_crl),
    COLL(collateral_json),
    COLL(tcb_info),
    COLL(qe_identity),
    COLL(tcb_signing_chain),
    COLL(pck_crl),
    COLL(pck_crl_issuer_chain),
    COLL(root_ca_crl),
#undef COLL
};

static int parse_collateral(json_t *coll, struct steward_cert_request *out, struct keep_error *err)
{
    if (!json_is_object(coll))
        return keep_fail(err, KEEP_E_STEWARD_REQUEST, "collateral is not an object");
    const char *key;
    json_t *value;
    json_object_foreach(coll, key, value)
    {
        size_t i = 0;
        while (i < KEEP_ARRAY_LEN(collateral_keys) && strcmp(collateral_keys[i].key, key) != 0)
            i++;
        if (i == KEEP_ARRAY_LEN(collateral_keys))
            return keep_fail(err, KEEP_E_STEWARD_REQUEST, "collateral.%.64s is not a known key",
                             key);
        char field[96];
        snprintf(field, sizeof(field), "collateral.%s", key);
        struct steward_bytes *b = (struct steward_bytes *)((char *)out + collateral_keys[i].offset);
        int rc = json_b64(coll, key, field, true, b, err);
        if (rc)
            return rc;
    }
    return KEEP_OK;
}

static int check_keys(json_t *root, struct keep_error *err)
{
    static const char *known[] = {"nonce", "csr", "evidence", "format", "workload", "collateral"};
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        size_t i = 0;
        while (i < KEEP_ARRAY_LEN(known) && strcmp(known[i], key) != 0)
            i++;
        if (i == KEEP_ARRAY_LEN(known))
            return keep_fail(err, KEEP_E_STEWARD_REQUEST, "request.%.64s is not a known key", key);
    }
    return KEEP_OK;
}

static int parse_fields(json_t *root, struct steward_cert_request *out, struct keep_error *err)
{
    int rc = check_keys(root, err);
    if (rc)
        return rc;
    json_t *nonce = json_object_get(root, "nonce");
    if (!json_is_string(nonce))
        return keep_fail(err, KEEP_E_STEWARD_REQUEST_FIELD,
                         "request.nonce is missing or not a string (POST /v1/nonce gives one)");
    if ((rc = keep_hex_decode(json_string_value(nonce), json_string_length(nonce), out->nonce,
                              STEWARD_NONCE_SIZE, "request.nonce", err))) {
        if (err) /* keep the decoder's message, which names the bad digit */
            err->code = KEEP_E_STEWARD_REQUEST_FIELD;
        return KEEP_E_STEWARD_REQUEST_FIELD;
    }
    out->has_nonce = true;
    json_t *csr = json_object_get(root, "csr");
    if (!json_is_string(csr))
        return keep_fail(err, KEEP_E_STEWARD_REQUEST_FIELD,
                         "request.csr is missing or not a PEM string");
    if ((rc = steward_csr_parse((const uint8_t *)json_string_value(csr), json_string_length(csr),
                                &out->csr, err)))
        return rc;
    if ((rc = json_b64(root, "evidence", "request.evidence", true, &out->evidence, err)))
        return rc;
    json_t *format = json_object_get(root, "format");
    if (format && (!json_is_string(format) ||
                   keep_attest_format_parse(json_string_value(format), &out->format, NULL)))
        return keep_fail(err, KEEP_E_STEWARD_REQUEST_FIELD,
                         "request.format is not one of auto, snp, sgx, tdx, kvm");
    json_t *workload = json_object_get(root, "workload");
    if (workload) {
        if (!json_is_string(workload) || !steward_name_ok(json_string_value(workload)))
            return keep_fail(err, KEEP_E_STEWARD_REQUEST_FIELD,
                             "request.workload is not a name of 1-%d characters [A-Za-z0-9._-]",
                             STEWARD_WORKLOAD_MAX);
        snprintf(out->workload, sizeof(out->workload), "%s", json_string_value(workload));
    }
    json_t *coll = json_object_get(root, "collateral");
    return coll ? parse_collateral(coll, out, err) : KEEP_OK;
}

int steward_request_parse_json(const char *body, size_t size, struct steward_cert_request *out,
                               struct keep_error *err)
{
    memset(out, 0, sizeof(*out));
    out->binding = STEWARD_BIND_NONCE;
    json_error_t jerr;
    json_t *root = json_loadb(body, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return keep_fail(err, KEEP_E_STEWARD_REQUEST, "request body is not JSON: %s at byte %d",
                         jerr.text, jerr.position);
    int rc = json_is_object(root)
                 ? parse_fields(root, out, err)
                 : keep_fail(err, KEEP_E_STEWARD_REQUEST, "request body is not a JSON object");
    json_decref(root);
    if (rc)
        steward_request_free(out);
    return rc;
}

/* ---- Enarx Steward form ------------------------------------------------- */

/* The DER of one element of a SEQUENCE parsed as ASN1_TYPEs. */
static int element_der(STACK_OF(ASN1_TYPE) * seq, int i, int type, const uint8_t **der,
                       size_t *size)
{
    if (i >= sk_ASN1_TYPE_num(seq))
        return -1;
    ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);
    if (ASN1_TYPE_get(t) != type)
        return -1;
    /* A SEQUENCE element holds its whole encoding; an OCTET STRING its contents. */
    ASN1_STRING *s = type == V_ASN1_SEQUENCE ? t->value.sequence : t->value.octet_string;
    *der = ASN1_STRING_get0_data(s);
    *size = (size_t)ASN1_STRING_length(s);
    return 0;
}

static STACK_OF(ASN1_TYPE) * sequence_parse(const uint8_t *der, size_t size)
{
    const unsigned char *p = der;
    STACK_OF(ASN1_TYPE) *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)size);
    if (seq && p != der + size) {
        sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
        return NULL;
    }
    return seq;
}

static int copy_bytes(const uint8_t *data, size_t size, struct steward_bytes *out)
{
    out->data = malloc(size ? size : 1);
    if (!out->data)
        return -1;
    memcpy(out->data, data, size);
    out->size = size;
    return 0;
}

/* The first CRL of a CrlList ::= SEQUENCE { crls SEQUENCE OF SEQUENCE { url, crl } }. */
static int enarx_first_crl(const uint8_t *der, size_t size, struct steward_bytes *out)
{
    STACK_OF(ASN1_TYPE) *list = sequence_parse(der, size), *crls = NULL, *entry = NULL;
    const uint8_t *p;
    size_t n;
    int rc = -1;
    if (!list || element_der(list, 0, V_ASN1_SEQUENCE, &p, &n) || !(crls = sequence_parse(p, n)))
        goto out;
    if (sk_ASN1_TYPE_num(crls) == 0) {
        rc = 0; /* no CRL supplied */
        goto out;
    }
    if (element_der(crls, 0, V_ASN1_SEQUENCE, &p, &n) || !(entry = sequence_parse(p, n)) ||
        element_der(entry, 1, V_ASN1_SEQUENCE, &p, &n))
        goto out;
    rc = copy_bytes(p, n, out);
out:
    sk_ASN1_TYPE_pop_free(entry, ASN1_TYPE_free);
    sk_ASN1_TYPE_pop_free(crls, ASN1_TYPE_free);
    sk_ASN1_TYPE_pop_free(list, ASN1_TYPE_free);
    return rc;
}

/* SNP: Evidence ::= SEQUENCE { crts SEQUENCE { vcek Certificate, crl CrlList }, report OCTET STRING
 * } */
static int enarx_snp(const uint8_t *der, size_t size, struct steward_cert_request *out,
                     struct keep_error *err)
{
    STACK_OF(ASN1_TYPE) *ev = sequence_parse(der, size), *crts = NULL;
    const uint8_t *p, *q;
    size_t n, m;
    int rc = keep_fail(err, KEEP_E_STEWARD_CSR_EXTENSION,
                       "csr extension " ENARX_OID_SNP " (SNP evidence) is not DER SEQUENCE "
                       "{crts SEQUENCE {vcek Certificate, crl CrlList}, report OCTET STRING}");
    if (!ev || sk_ASN1_TYPE_num(ev) != 2 || element_der(ev, 0, V_ASN1_SEQUENCE, &p, &n) ||
        element_der(ev, 1, V_ASN1_OCTET_STRING, &q, &m) || !(crts = sequence_parse(p, n)) ||
        sk_ASN1_TYPE_num(crts) != 2 || element_der(crts, 0, V_ASN1_SEQUENCE, &p, &n))
        goto out;
    const uint8_t *crl;
    size_t crl_size;
    if (copy_bytes(p, n, &out->vcek) || copy_bytes(q, m, &out->evidence) ||
        element_der(crts, 1, V_ASN1_SEQUENCE, &crl, &crl_size) ||
        enarx_first_crl(crl, crl_size, &out->amd_crl))
        goto out;
    out->format = KEEP_ATTEST_FORMAT_SNP;
    out->binding = STEWARD_BIND_ENARX_SHA384;
    rc = KEEP_OK;
out:
    sk_ASN1_TYPE_pop_free(crts, ASN1_TYPE_free);
    sk_ASN1_TYPE_pop_free(ev, ASN1_TYPE_free);
    return rc;
}

static int enarx_extension(X509_EXTENSION *ext, struct steward_cert_request *out,
                           struct keep_error *err)
{
    char oid[80];
    OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(ext), 1);
    ASN1_OCTET_STRING *value = X509_EXTENSION_get_data(ext);
    const uint8_t *data = ASN1_STRING_get0_data(value);
    size_t size = (size_t)ASN1_STRING_length(value);
    bool evidence = strcmp(oid, ENARX_OID_SNP) == 0 || strcmp(oid, ENARX_OID_SGX) == 0 ||
                    strcmp(oid, ENARX_OID_KVM) == 0;
    if (!evidence)
        return keep_fail(err, KEEP_E_STEWARD_CSR_EXTENSION,
                         "csr extension %s is not an evidence extension (" ENARX_OID_KVM
                         ", " ENARX_OID_SGX ", " ENARX_OID_SNP ")",
                         oid);
    if (X509_EXTENSION_get_critical(ext))
        return keep_fail(err, KEEP_E_STEWARD_CSR_EXTENSION,
                         "csr extension %s is critical; evidence extensions must not be", oid);
    if (out->evidence.data)
        return keep_fail(err, KEEP_E_STEWARD_CSR_EXTENSION,
                         "csr extension %s: the request already carries evidence", oid);
    if (strcmp(oid, ENARX_OID_KVM) == 0)
        /* Enarx's kvm extension is empty: there is nothing to verify or to measure. */
        return keep_fail(err, KEEP_E_STEWARD_CSR_EXTENSION,
                         "csr extension " ENARX_OID_KVM " (Enarx kvm) carries no evidence; "
                         "send keep kvm evidence to POST /v1/certificates instead");
    if (strcmp(oid, ENARX_OID_SGX) == 0) {
        /* The quote; Enarx appends its own TCB data, which our parser ignores as trailing. */
        if (copy_bytes(data, size, &out->evidence))
            return keep_fail(err, KEEP_E_NOMEM, "out of memory");
        out->format = KEEP_ATTEST_FORMAT_SGX;
        out->binding = STEWARD_BIND_ENARX_SHA256;
        return KEEP_OK;
    }
    return enarx_snp(data, size, out, err);
}

static int enarx_fields(struct steward_cert_request *out, struct keep_error *err)
{
    X509_REQ *req = out->csr.req;
    /* Enarx accepts only the extensionRequest attribute (PKCS#9, RFC 2985 section 5.4.2). */
    for (int i = 0; i < X509_REQ_get_attr_count(req); i++) {
        X509_ATTRIBUTE *a = X509_REQ_get_attr(req, i);
        if (OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a)) != NID_ext_req)
            return keep_fail(err, KEEP_E_STEWARD_CSR_EXTENSION,
                             "csr attribute %d is not extensionRequest", i);
    }
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    int rc = KEEP_OK;
    for (int i = 0; rc == KEEP_OK && i < sk_X509_EXTENSION_num(exts); i++)
        rc = enarx_extension(sk_X509_EXTENSION_value(exts, i), out, err);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    if (rc == KEEP_OK && !out->evidence.data)
        rc =
            keep_fail(err, KEEP_E_STEWARD_CSR_EXTENSION,
                      "csr carries no evidence extension (" ENARX_OID_SGX " or " ENARX_OID_SNP ")");
    return rc;
}

int steward_request_parse_enarx(const uint8_t *der, size_t size, struct steward_cert_request *out,
                                struct keep_error *err)
{
    memset(out, 0, sizeof(*out));
    int rc = steward_csr_parse(der, size, &out->csr, err);
    if (rc == KEEP_OK)
        rc = enarx_fields(out, err);
    if (rc)
        steward_request_free(out);
    return rc;
}

/* ---- counters ------------------------------------------------------------ */

static int counter_field(json_t *root, const char *key, uint64_t *out, struct keep_error *err)
{
    json_t *v = json_object_get(root, key);
    if (!v)
        return keep_fail(err, KEEP_E_STEWARD_COUNTER_REQUEST, "counter request.%s is missing", key);
    /* jansson refuses integers beyond json_int_t (int64) while parsing; a real (1e3, 1.0)
     * is not an integer here. */
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return keep_fail(err, KEEP_E_STEWARD_COUNTER_REQUEST,
                         "counter request.%s is not an integer 0..2^63-1", key);
    *out = (uint64_t)json_integer_value(v);
    return KEEP_OK;
}

int steward_counter_request_parse(const char *body, size_t size, struct steward_counter_update *out,
                                  struct keep_error *err)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root = json_loadb(body, size, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return root ? keep_fail(err, KEEP_E_STEWARD_COUNTER_REQUEST,
                                "counter request is not a JSON object")
                    : keep_fail(err, KEEP_E_STEWARD_COUNTER_REQUEST,
                                "counter request is not JSON: %s at byte %d", jerr.text,
                                jerr.position);
    }
    int rc = KEEP_OK;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "expect") != 0 && strcmp(key, "set") != 0) {
            rc = keep_fail(err, KEEP_E_STEWARD_COUNTER_REQUEST,
                           "counter request.%.64s is not a known key (expect, set)", key);
            break;
        }
    }
    if (rc == KEEP_OK && (rc = counter_field(root, "expect", &out->expect, err)) == KEEP_OK &&
        (rc = counter_field(root, "set", &out->set, err)) == KEEP_OK && out->set <= out->expect)
        rc = keep_fail(err, KEEP_E_STEWARD_COUNTER_REQUEST,
                       "counter request.set %llu is not greater than expect %llu: a counter only "
                       "moves forward",
                       (unsigned long long)out->set, (unsigned long long)out->expect);
    json_decref(root);
    return rc;
}
