/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep-steward's core without HTTP: request and CSR parsing, the nonce
 * binding, issuance against workload policies with synthetic kvm and SEV-SNP
 * evidence, one refusal per check, secret release, revocation, the CRL, and
 * the state surviving a restart with its audit chain (and a tampered chain
 * refused).
 */
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>
#include <unistd.h>

#include "attest/kvm_evidence.h"
#include "common/util.h"
#include "steward/steward.h"
#include "support/snp_gen.h"
#include "tap.h"

#define NOW INT64_C(1767225600) /* SNP_GEN_TIME: inside the synthetic PKI's validity */

static const char *measurement_kvm =
    "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b"
    "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";
static const char *measurement_snp =
    "4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d"
    "4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d";

static char *csr_pem(EVP_PKEY *key)
{
    X509_REQ *req = X509_REQ_new();
    X509_REQ_set_pubkey(req, key);
    X509_REQ_sign(req, key, EVP_sha256());
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_REQ(bio, req);
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(bio);
    X509_REQ_free(req);
    return out;
}

/* A client's request: CSR for key, evidence made by make(report_data). */
struct client {
    EVP_PKEY *key;
    char *csr;
    struct steward_csr parsed;
};

static void client_new(struct client *c, const char *curve)
{
    c->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    c->csr = csr_pem(c->key);
    struct keep_error err;
    if (steward_csr_parse((const uint8_t *)c->csr, strlen(c->csr), &c->parsed, &err) != KEEP_OK) {
        printf("Bail out! csr: %s\n", err.message);
        exit(1);
    }
}

static void client_free(struct client *c)
{
    steward_csr_free(&c->parsed);
    free(c->csr);
    EVP_PKEY_free(c->key);
}

/* A request body as JSON, parsed the way the server does. */
static int request(const struct client *c, const char *nonce, const uint8_t *evidence, size_t size,
                   const char *workload, const char *extra, struct steward_cert_request *out,
                   struct keep_error *err)
{
    char *b64 = steward_base64_encode(evidence, size);
    json_t *o = json_pack("{s:s,s:s,s:s}", "nonce", nonce, "csr", c->csr, "evidence", b64);
    if (workload)
        json_object_set_new(o, "workload", json_string(workload));
    if (extra) {
        json_t *more = json_loads(extra, 0, NULL);
        json_object_update(o, more);
        json_decref(more);
    }
    char *body = json_dumps(o, 0);
    int rc = steward_request_parse_json(body, strlen(body), out, err);
    free(body);
    free(b64);
    json_decref(o);
    return rc;
}

static void kvm_evidence(const struct client *c, const char *nonce_hex, const char *measurement,
                         uint8_t ev[KEEP_KVM_EVIDENCE_SIZE])
{
    uint8_t nonce[32], rd[64], m[48];
    if (keep_hex_decode(nonce_hex, 64, nonce, 32, "nonce", NULL))
        abort();
    if (keep_hex_decode(measurement, 96, m, 48, "m", NULL))
        abort();
    steward_binding_report_data(nonce, c->parsed.spki_sha384, rd);
    keep_kvm_evidence_build(m, rd, ev);
}

/* Issue with kvm evidence; returns the code and the first policy error code in *why. */
static int issue_kvm(struct steward *s, const struct client *c, const char *measurement,
                     const char *workload, int64_t now, struct steward_issued *out, char *why,
                     size_t why_size)
{
    char nonce[65];
    int64_t expires;
    struct keep_error err;
    steward_nonce_new(s, NOW, nonce, &expires, &err);
    uint8_t ev[KEEP_KVM_EVIDENCE_SIZE];
    kvm_evidence(c, nonce, measurement, ev);
    struct steward_cert_request req;
    int rc = request(c, nonce, ev, sizeof(ev), workload, NULL, &req, &err);
    if (rc)
        return rc;
    json_t *errors = NULL;
    rc = steward_issue(s, &req, now, out, &errors, &err);
    if (why) {
        const char *code = json_string_value(json_object_get(json_array_get(errors, 0), "code"));
        snprintf(why, why_size, "%s", code ? code : "");
    }
    if (rc)
        diag("refused: %s: %s", keep_err_name(rc), err.message);
    json_decref(errors);
    steward_request_free(&req);
    return rc;
}

static void test_base64_and_names(void)
{
    struct steward_bytes b;
    struct keep_error err;
    ok(steward_base64_decode("aGk=", 4, "f", &b, &err) == KEEP_OK && b.size == 2 &&
           memcmp(b.data, "hi", 2) == 0,
       "base64 'aGk=' is 'hi'");
    free(b.data);
    is_int(steward_base64_decode("aGk", 3, "f", &b, &err), KEEP_E_STEWARD_REQUEST_FIELD,
           "base64 of length 3 is refused");
    is_int(steward_base64_decode("a=Gk", 4, "f", &b, &err), KEEP_E_STEWARD_REQUEST_FIELD,
           "'=' inside base64 is refused");
    is_int(steward_base64_decode("aG\nk", 4, "f", &b, &err), KEEP_E_STEWARD_REQUEST_FIELD,
           "a newline inside base64 is refused");
    ok(steward_name_ok("db-password.v2") && !steward_name_ok("../x") && !steward_name_ok("") &&
           !steward_name_ok(".hidden"),
       "secret/workload names: [A-Za-z0-9._-], no leading '.'");
}

static void test_csr(void)
{
    struct client c;
    client_new(&c, "P-384");
    ok(c.parsed.curve_nid == NID_secp384r1 && c.parsed.spki_size > 0, "P-384 CSR parses");
    struct steward_csr csr;
    struct keep_error err;
    /* A CSR for an RSA key is refused by key type. */
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    char *pem = csr_pem(rsa);
    is_int(steward_csr_parse((const uint8_t *)pem, strlen(pem), &csr, &err), KEEP_E_STEWARD_CSR_KEY,
           "RSA CSR refused: %s", err.message);
    free(pem);
    EVP_PKEY_free(rsa);
    /* A CSR whose signature is by another key. */
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509_REQ *req = X509_REQ_new();
    X509_REQ_set_pubkey(req, c.key);
    X509_REQ_sign(req, other, EVP_sha256());
    unsigned char *der = NULL;
    int n = i2d_X509_REQ(req, &der);
    is_int(steward_csr_parse(der, (size_t)n, &csr, &err), KEEP_E_STEWARD_CSR_SIGNATURE,
           "CSR signed by another key refused: %s", err.message);
    /* Trailing bytes after the DER. */
    uint8_t *longer = malloc((size_t)n + 1);
    memcpy(longer, der, (size_t)n);
    longer[n] = 0;
    is_int(steward_csr_parse(longer, (size_t)n + 1, &csr, &err), KEEP_E_STEWARD_CSR,
           "CSR DER with a trailing byte refused");
    free(longer);
    OPENSSL_free(der);
    X509_REQ_free(req);
    EVP_PKEY_free(other);
    is_int(steward_csr_parse((const uint8_t *)"junk", 4, &csr, &err), KEEP_E_STEWARD_CSR,
           "junk is not a CSR");
    client_free(&c);
}

static void test_binding(void)
{
    uint8_t nonce[32], spki_hash[48], got[64], want[64] = {0};
    for (int i = 0; i < 32; i++)
        nonce[i] = (uint8_t)i;
    memset(spki_hash, 0xab, sizeof(spki_hash));
    steward_binding_report_data(nonce, spki_hash, got);
    uint8_t msg[14 + 32 + 48];
    memcpy(msg, "keep-attest/v1", 14);
    memcpy(msg + 14, nonce, 32);
    memcpy(msg + 46, spki_hash, 48);
    EVP_Digest(msg, sizeof(msg), want, NULL, EVP_sha384(), NULL);
    ok(memcmp(got, want, 64) == 0,
       "report_data = SHA-384(label || nonce || SHA-384(SPKI)) || 0^16");
}

static void test_request_json(void)
{
    struct steward_cert_request r;
    struct keep_error err;
    const char *bad[][2] = {
        {"[]", "not an object"},
        {"{\"nonce\": 1}", "nonce not a string"},
        {"{\"nonce\": \"00\", \"csr\": \"x\", \"evidence\": \"\"}", "nonce of 1 byte"},
        {"{\"extra\": 1}", "unknown key"},
        {"{", "not JSON"},
    };
    for (size_t i = 0; i < KEEP_ARRAY_LEN(bad); i++) {
        int rc = steward_request_parse_json(bad[i][0], strlen(bad[i][0]), &r, &err);
        ok(rc == KEEP_E_STEWARD_REQUEST || rc == KEEP_E_STEWARD_REQUEST_FIELD,
           "request refused (%s): %s", bad[i][1], err.message);
    }
}

static const char *kvm_policy =
    "{\"attest\": {\"measurement\": [\"6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b"
    "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b\"]}, \"secrets\": [\"db\", \"missing\"],"
    " \"dns\": [\"web.example\"], \"lifetime\": 3600}";

static bool has_ext(X509 *cert, const char *oid_text, int *critical)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(oid_text, 1);
    int i = X509_get_ext_by_OBJ(cert, oid, -1);
    ASN1_OBJECT_free(oid);
    if (i < 0)
        return false;
    *critical = X509_EXTENSION_get_critical(X509_get_ext(cert, i));
    return true;
}

static void check_profile(X509 *cert, struct steward *s)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    char want[160];
    snprintf(want, sizeof(want), "urn:keep:%s", measurement_kvm);
    bool uri = false, dns = false;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type == GEN_URI)
            uri |= strcmp((const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier),
                          want) == 0;
        if (g->type == GEN_DNS)
            dns |= strcmp((const char *)ASN1_STRING_get0_data(g->d.dNSName), "web.example") == 0;
    }
    GENERAL_NAMES_free(names);
    ok(uri && dns, "SAN has urn:keep:<measurement> and the policy's DNS name");
    uint32_t xku = X509_get_extended_key_usage(cert);
    ok((xku & XKU_SSL_SERVER) && (xku & XKU_SSL_CLIENT), "EKU serverAuth and clientAuth");
    int crit = 1;
    ok(has_ext(cert, STEWARD_OID_EAR, &crit) && crit == 0,
       "EAR claims in a non-critical extension");
    ok(X509_verify(cert, X509_get0_pubkey(s->ca.cert)) == 1, "signed by the steward CA");
    int days = 0, secs = 0;
    ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert));
    ok(days * 86400 + secs <= 3600 + 60, "lifetime from the policy (1 h + 60 s skew), got %d s",
       days * 86400 + secs);
    const ASN1_INTEGER *sn = X509_get0_serialNumber(cert);
    ok(ASN1_STRING_length(sn) >= 15 && ASN1_STRING_length(sn) <= 17,
       "serial is 128 random bits (%d octets)", ASN1_STRING_length(sn));
}

static void test_kvm_flow(const char *dir)
{
    struct steward_config cfg = {.insecure_kvm = true, .public_url = "https://steward.test"};
    struct steward *s;
    struct keep_error err;
    if (steward_open(dir, &cfg, &s, &err) != KEEP_OK) {
        printf("Bail out! steward_open: %s\n", err.message);
        exit(1);
    }
    ok(steward_admin_policy_put(s, "web", kvm_policy, NOW, &err) == KEEP_OK, "policy web stored");
    ok(steward_admin_policy_put(s, "other",
                                "{\"attest\": {\"measurement\": [\""
                                "aa"
                                "\"]}}",
                                NOW, &err) == KEEP_E_STEWARD_POLICY,
       "a policy with bad attest hex is refused: %s", err.message);
    ok(steward_admin_policy_put(s, "bad", "{\"attest\": {\"report_data\": \"00\"}}", NOW, &err) ==
           KEEP_E_STEWARD_POLICY,
       "a policy setting report_data is refused");
    char other_policy[512];
    snprintf(other_policy, sizeof(other_policy),
             "{\"attest\": {\"measurement\": [\"%s\"]}, \"secrets\": [\"theirs\"]}",
             measurement_snp);
    ok(steward_admin_policy_put(s, "other", other_policy, NOW, &err) == KEEP_OK,
       "policy other stored");
    ok(steward_admin_secret_put(s, "db", (const uint8_t *)"hunter2", 7, NOW, &err) == KEEP_OK &&
           steward_admin_secret_put(s, "theirs", (const uint8_t *)"x", 1, NOW, &err) == KEEP_OK,
       "secrets stored");

    struct client c;
    client_new(&c, "P-256");
    struct steward_issued issued;
    char why[64];
    is_int(issue_kvm(s, &c, measurement_kvm, "web", NOW, &issued, why, sizeof(why)), KEEP_OK,
           "kvm evidence bound to nonce and key: certificate issued");
    check_profile(issued.cert, s);
    ok(strstr(issued.claims_json, "\"keep.insecure\":true") &&
           strstr(issued.claims_json, "\"ear.status\":\"warning\""),
       "EAR claims say insecure (warning)");

    /* Secrets over the issued identity. */
    uint8_t *value;
    size_t size;
    ok(steward_secret_release(s, issued.cert, "db", NOW, &value, &size, &err) == KEEP_OK &&
           size == 7 && memcmp(value, "hunter2", 7) == 0,
       "secret db released to workload web");
    free(value);
    is_int(steward_secret_release(s, issued.cert, "theirs", NOW, &value, &size, &err),
           KEEP_E_STEWARD_SECRET_DENIED, "secret of another workload denied: %s", err.message);
    is_int(steward_secret_release(s, issued.cert, "missing", NOW, &value, &size, &err),
           KEEP_E_STEWARD_SECRET_UNKNOWN, "listed but never stored: unknown secret");
    is_int(steward_secret_release(s, NULL, "db", NOW, &value, &size, &err),
           KEEP_E_STEWARD_CLIENT_CERT, "no client certificate: refused");
    /* A serial is public (CRL, every TLS handshake): a certificate that copies it, signed by
     * someone else's key, must not pass as the issued one. */
    X509 *forged = X509_dup(issued.cert);
    EVP_PKEY *mallory = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509_sign(forged, mallory, EVP_sha256());
    is_int(steward_secret_release(s, forged, "db", NOW, &value, &size, &err),
           KEEP_E_STEWARD_CLIENT_CERT,
           "certificate with an issued serial, not signed by the CA: %s", err.message);
    X509_free(forged);
    EVP_PKEY_free(mallory);

    /* One refusal per check. */
    struct steward_issued none;
    char nonce[65];
    int64_t expires;
    uint8_t ev[KEEP_KVM_EVIDENCE_SIZE];
    struct steward_cert_request req;
    steward_nonce_new(s, NOW, nonce, &expires, &err);
    kvm_evidence(&c, nonce, measurement_kvm, ev);
    request(&c, nonce, ev, sizeof(ev), "web", NULL, &req, &err);
    is_int(steward_issue(s, &req, NOW, &none, NULL, &err), KEEP_OK, "first use of a nonce");
    steward_issued_free(&none);
    is_int(steward_issue(s, &req, NOW, &none, NULL, &err), KEEP_E_STEWARD_NONCE_REUSED,
           "reused nonce refused: %s", err.message);
    steward_request_free(&req);

    steward_nonce_new(s, NOW, nonce, &expires, &err);
    kvm_evidence(&c, nonce, measurement_kvm, ev);
    request(&c, nonce, ev, sizeof(ev), "web", NULL, &req, &err);
    is_int(steward_issue(s, &req, NOW + STEWARD_NONCE_LIFETIME + 1, &none, NULL, &err),
           KEEP_E_STEWARD_NONCE_EXPIRED, "expired nonce refused: %s", err.message);
    steward_request_free(&req);

    memset(nonce, 'e', 64);
    kvm_evidence(&c, nonce, measurement_kvm, ev);
    request(&c, nonce, ev, sizeof(ev), "web", NULL, &req, &err);
    is_int(steward_issue(s, &req, NOW, &none, NULL, &err), KEEP_E_STEWARD_NONCE_UNKNOWN,
           "unknown nonce refused");
    steward_request_free(&req);

    /* Evidence bound to another key, sent with this CSR. */
    struct client other;
    client_new(&other, "P-256");
    steward_nonce_new(s, NOW, nonce, &expires, &err);
    kvm_evidence(&other, nonce, measurement_kvm, ev);
    request(&c, nonce, ev, sizeof(ev), "web", NULL, &req, &err);
    json_t *errors = NULL;
    is_int(steward_issue(s, &req, NOW, &none, &errors, &err), KEEP_E_STEWARD_EVIDENCE_REJECTED,
           "report_data not binding the CSR key refused");
    is_str(json_string_value(json_object_get(json_array_get(errors, 0), "code")),
           "policy.report_data", "the failed check is policy.report_data");
    json_decref(errors);
    steward_request_free(&req);
    client_free(&other);

    is_int(issue_kvm(s, &c, measurement_snp, "web", NOW, &none, why, sizeof(why)),
           KEEP_E_STEWARD_EVIDENCE_REJECTED, "wrong measurement refused");
    is_str(why, "policy.measurement_not_allowed", "the failed check names the measurement");
    is_int(issue_kvm(s, &c, measurement_kvm, "nobody", NOW, &none, NULL, 0),
           KEEP_E_STEWARD_WORKLOAD_UNKNOWN, "unknown workload refused");
    is_int(issue_kvm(s, &c, measurement_kvm, NULL, NOW, &none, NULL, 0), KEEP_OK,
           "no workload named: the policy that accepts is found");
    is_str(none.workload, "web", "... and it is web");
    steward_issued_free(&none);

    /* Revocation by serial and by measurement. */
    ok(steward_admin_revoke_serial(s, issued.serial, NOW, &err) == KEEP_OK, "revoke by serial");
    is_int(steward_secret_release(s, issued.cert, "db", NOW, &value, &size, &err),
           KEEP_E_STEWARD_REVOKED, "revoked certificate gets no secret");
    uint8_t *crl_der;
    size_t crl_size;
    ok(steward_ca_crl(&s->ca, s->store, NOW, 3600, &crl_der, &crl_size, &err) == KEEP_OK,
       "CRL built");
    const unsigned char *p = crl_der;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)crl_size);
    X509_REVOKED *rev = NULL;
    ok(crl && X509_CRL_get0_by_serial(crl, &rev, X509_get0_serialNumber(issued.cert)) == 1 &&
           X509_CRL_verify(crl, X509_get0_pubkey(s->ca.cert)) == 1,
       "CRL lists the revoked serial and is signed by the CA");
    X509_CRL_free(crl);
    free(crl_der);
    ok(steward_admin_revoke_measurement(s, measurement_kvm, NOW, &err) == KEEP_OK,
       "revoke by measurement");
    is_int(issue_kvm(s, &c, measurement_kvm, "web", NOW, &none, NULL, 0), KEEP_E_STEWARD_REVOKED,
           "revoked measurement gets no certificate");
    struct steward_issued theirs;
    is_int(issue_kvm(s, &c, measurement_snp, "other", NOW, &theirs, NULL, 0), KEEP_OK,
           "kvm certificate for workload other (insecure mode)");
    ok(steward_secret_release(s, theirs.cert, "theirs", NOW, &value, &size, &err) == KEEP_OK,
       "insecure certificate gets its secret while --insecure-kvm is on");
    free(value);
    steward_issued_free(&issued);
    steward_close(s);

    /* Without --insecure-kvm kvm evidence is refused, and state survived the restart. */
    cfg.insecure_kvm = false;
    ok(steward_open(dir, &cfg, &s, &err) == KEEP_OK,
       "restart: state reopens, audit chain verifies");
    int64_t count = 0;
    ok(steward_audit_verify(s->store, &count, &err) == KEEP_OK && count >= 15,
       "audit chain has %lld entries", (long long)count);
    ok(steward_store_count(s->store, "certificates") == 4, "issued records kept across restart");
    /* Unsigned kvm evidence could have been forged by anyone: once the service runs without
     * --insecure-kvm, certificates issued on it no longer fetch secrets. */
    is_int(steward_secret_release(s, theirs.cert, "theirs", NOW, &value, &size, &err),
           KEEP_E_STEWARD_INSECURE_KVM,
           "insecure certificate gets no secret without --insecure-kvm");
    steward_issued_free(&theirs);
    ok(steward_admin_policy_put(s, "kvm2", "{}", NOW, &err) == KEEP_OK, "policy kvm2 (any)");
    is_int(issue_kvm(s, &c, measurement_snp, "kvm2", NOW, &none, NULL, 0),
           KEEP_E_STEWARD_INSECURE_KVM, "kvm evidence without --insecure-kvm refused");
    steward_close(s);
    client_free(&c);

    /* Tamper with one audit entry: the service refuses to start. */
    char db[700];
    snprintf(db, sizeof(db), "%s/steward.db", dir);
    sqlite3 *h;
    sqlite3_open(db, &h);
    sqlite3_exec(h, "UPDATE audit SET detail = '{}' WHERE seq = 2", NULL, NULL, NULL);
    sqlite3_close(h);
    is_int(steward_open(dir, &cfg, &s, &err), KEEP_E_STEWARD_AUDIT_CHAIN,
           "tampered audit log refused: %s", err.message);
}

/* DER TLV of content (length in short or long form), appended to out at *n. */
static void der_put(uint8_t *out, size_t *n, uint8_t tag, const uint8_t *content, size_t size)
{
    out[(*n)++] = tag;
    if (size < 0x80) {
        out[(*n)++] = (uint8_t)size;
    } else {
        out[(*n)++] = 0x82;
        out[(*n)++] = (uint8_t)(size >> 8);
        out[(*n)++] = (uint8_t)size;
    }
    memcpy(out + *n, content, size);
    *n += size;
}

/* An Enarx-style request: P-384 CSR whose extensionRequest carries the SNP extension
 * SEQUENCE { SEQUENCE { vcek, CrlList SEQUENCE { SEQUENCE OF {} } }, OCTET STRING report }. */
static uint8_t *enarx_csr(EVP_PKEY *key, const uint8_t *vcek, size_t vcek_size,
                          const uint8_t *report, size_t report_size, size_t *der_size)
{
    static uint8_t crts[4096], ev[8192];
    size_t n = 0, m = 0;
    uint8_t inner[4096];
    size_t k = 0;
    memcpy(inner, vcek, vcek_size); /* the certificate is already a DER SEQUENCE */
    k = vcek_size;
    static const uint8_t empty_crl_list[] = {0x30, 0x02, 0x30, 0x00};
    memcpy(inner + k, empty_crl_list, sizeof(empty_crl_list));
    k += sizeof(empty_crl_list);
    der_put(crts, &n, 0x30, inner, k);
    uint8_t body[8192];
    memcpy(body, crts, n);
    size_t b = n;
    der_put(body, &b, 0x04, report, report_size);
    der_put(ev, &m, 0x30, body, b);
    X509_REQ *req = X509_REQ_new();
    X509_REQ_set_pubkey(req, key);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.58270.1.3", 1);
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(value, ev, (int)m);
    sk_X509_EXTENSION_push(exts, X509_EXTENSION_create_by_OBJ(NULL, oid, 0, value));
    X509_REQ_add_extensions(req, exts);
    X509_REQ_sign(req, key, EVP_sha384());
    unsigned char *der = NULL;
    int len = i2d_X509_REQ(req, &der);
    uint8_t *out = malloc((size_t)len);
    memcpy(out, der, (size_t)len);
    *der_size = (size_t)len;
    OPENSSL_free(der);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    ASN1_OCTET_STRING_free(value);
    ASN1_OBJECT_free(oid);
    X509_REQ_free(req);
    return out;
}

/* SEV-SNP with the synthetic AMD PKI: accepted, and debug refused. */
static char roots_dir[256];

static void test_snp(const char *dir)
{
    struct snp_gen *g = snp_gen_new(KEEP_AMD_MILAN);
    char link[512], target[512];
    snprintf(roots_dir, sizeof(roots_dir), "/tmp/keep-test-steward-roots-XXXXXX");
    if (!mkdtemp(roots_dir))
        exit(1);
    snprintf(link, sizeof(link), "%s/amd", roots_dir);
    if (symlink(snp_gen_roots_dir(g), link))
        exit(1);
    snprintf(link, sizeof(link), "%s/intel", roots_dir);
    snprintf(target, sizeof(target), "%s/data/roots/intel", getenv("KEEP_SOURCE_ROOT"));
    if (symlink(target, link))
        exit(1);
    struct steward_config cfg = {.roots_dir = roots_dir};
    struct steward *s;
    struct keep_error err;
    if (steward_open(dir, &cfg, &s, &err) != KEEP_OK) {
        printf("Bail out! steward_open snp: %s\n", err.message);
        exit(1);
    }
    char policy[512];
    snprintf(policy, sizeof(policy), "{\"attest\": {\"measurement\": [\"%s\"]}}", measurement_snp);
    ok(steward_admin_policy_put(s, "snp", policy, NOW, &err) == KEEP_OK, "snp policy stored");
    uint8_t *vcek;
    size_t vcek_size;
    snp_gen_default_cert_der(g, KEEP_AMD_VCEK, &vcek, &vcek_size);
    char *vcek_b64 = steward_base64_encode(vcek, vcek_size);
    char extra[4096];
    snprintf(extra, sizeof(extra), "{\"collateral\": {\"vcek\": \"%s\"}}", vcek_b64);

    struct client c;
    client_new(&c, "P-384");
    for (int debug = 0; debug < 2; debug++) {
        char nonce_hex[65];
        int64_t expires;
        uint8_t nonce[32], report[KEEP_SNP_REPORT_SIZE];
        steward_nonce_new(s, NOW, nonce_hex, &expires, &err);
        if (keep_hex_decode(nonce_hex, 64, nonce, 32, "n", NULL))
            abort();
        snp_gen_report(g, KEEP_AMD_VCEK, 2, report);
        steward_binding_report_data(nonce, c.parsed.spki_sha384, report + 0x50);
        if (debug)
            snp_gen_put_u32(report, 0x08, 0x30000 | (1u << 19)); /* POLICY.DEBUG */
        snp_gen_sign(g, KEEP_AMD_VCEK, report);
        struct steward_cert_request req;
        struct steward_issued issued;
        json_t *errors = NULL;
        request(&c, nonce_hex, report, sizeof(report), "snp", extra, &req, &err);
        int rc = steward_issue(s, &req, NOW, &issued, &errors, &err);
        if (!debug) {
            is_int(rc, KEEP_OK, "signed SNP report bound to nonce and key: issued (%s)",
                   rc ? err.message : "ok");
            ok(rc == 0 && strstr(issued.claims_json, "\"ear.status\":\"affirming\"") &&
                   strstr(issued.claims_json, "\"keep.insecure\":false"),
               "EAR claims: affirming, not insecure");
        } else {
            is_int(rc, KEEP_E_STEWARD_EVIDENCE_REJECTED, "debug SNP guest refused");
            is_str(json_string_value(json_object_get(json_array_get(errors, 0), "code")),
                   "policy.debug", "the failed check is policy.debug");
        }
        json_decref(errors);
        steward_issued_free(&issued);
        steward_request_free(&req);
    }
    /* A report whose signature no longer verifies is invalid, whatever the policy. */
    {
        char nonce_hex[65];
        int64_t expires;
        uint8_t report[KEEP_SNP_REPORT_SIZE];
        steward_nonce_new(s, NOW, nonce_hex, &expires, &err);
        snp_gen_report(g, KEEP_AMD_VCEK, 2, report);
        report[0x90] ^= 1;
        struct steward_cert_request req;
        struct steward_issued issued;
        request(&c, nonce_hex, report, sizeof(report), "snp", extra, &req, &err);
        is_int(steward_issue(s, &req, NOW, &issued, NULL, &err), KEEP_E_STEWARD_EVIDENCE_INVALID,
               "tampered SNP report: evidence invalid (%s)", err.message);
        steward_request_free(&req);
    }
    /* Enarx Steward form: report_data starts with SHA-384(SPKI DER); no nonce. */
    {
        uint8_t report[KEEP_SNP_REPORT_SIZE];
        snp_gen_report(g, KEEP_AMD_VCEK, 2, report);
        memset(report + 0x50, 0, 64);
        memcpy(report + 0x50, c.parsed.spki_sha384, 48);
        snp_gen_sign(g, KEEP_AMD_VCEK, report);
        size_t der_size;
        uint8_t *der = enarx_csr(c.key, vcek, vcek_size, report, sizeof(report), &der_size);
        struct steward_cert_request req;
        struct steward_issued issued;
        is_int(steward_request_parse_enarx(der, der_size, &req, &err), KEEP_OK,
               "Enarx-style CSR with SNP evidence parses");
        ok(req.format == KEEP_ATTEST_FORMAT_SNP && req.binding == STEWARD_BIND_ENARX_SHA384 &&
               req.vcek.size == vcek_size && req.evidence.size == KEEP_SNP_REPORT_SIZE,
           "... the VCEK and report come out of the extension");
        is_int(steward_issue(s, &req, NOW, &issued, NULL, &err), KEEP_OK,
               "... and is issued (report_data binds the CSR key)");
        steward_issued_free(&issued);
        steward_request_free(&req);
        /* The same evidence in a request for another key is refused by the binding. */
        struct client other;
        client_new(&other, "P-384");
        free(der);
        der = enarx_csr(other.key, vcek, vcek_size, report, sizeof(report), &der_size);
        steward_request_parse_enarx(der, der_size, &req, &err);
        is_int(steward_issue(s, &req, NOW, &issued, NULL, &err), KEEP_E_STEWARD_EVIDENCE_REJECTED,
               "Enarx form: evidence bound to another key refused");
        steward_request_free(&req);
        client_free(&other);
        free(der);
        is_int(steward_request_parse_enarx((const uint8_t *)"\x30\x00", 2, &req, &err),
               KEEP_E_STEWARD_CSR, "Enarx form: junk DER refused");
    }
    client_free(&c);
    free(vcek_b64);
    free(vcek);
    steward_close(s);
    snprintf(link, sizeof(link), "%s/amd", roots_dir);
    unlink(link);
    snprintf(link, sizeof(link), "%s/intel", roots_dir);
    unlink(link);
    rmdir(roots_dir);
    snp_gen_free(g);
}

/* POST /v1/nonce needs no credentials: the nonces outstanding at once are capped, so a client
 * asking in a loop cannot grow the database without bound. */
static void test_nonce_limit(const char *dir)
{
    struct steward_config cfg = {.insecure_kvm = true, .max_nonces = 2};
    struct steward *s;
    struct keep_error err;
    if (steward_open(dir, &cfg, &s, &err) != KEEP_OK) {
        printf("Bail out! steward_open: %s\n", err.message);
        exit(1);
    }
    char a[65], b[65], c[65];
    int64_t expires;
    ok(steward_nonce_new(s, NOW, a, &expires, &err) == KEEP_OK &&
           steward_nonce_new(s, NOW, b, &expires, &err) == KEEP_OK,
       "nonces up to the limit are issued");
    is_int(steward_nonce_new(s, NOW, c, &expires, &err), KEEP_E_STEWARD_NONCE_LIMIT,
           "one more is refused: %s", err.message);
    uint8_t raw[STEWARD_NONCE_SIZE];
    if (keep_hex_decode(a, 64, raw, sizeof(raw), "nonce", NULL) ||
        steward_nonce_use(s->store, raw, sizeof(raw), NOW, &err) != KEEP_OK)
        abort();
    is_int(steward_nonce_new(s, NOW, c, &expires, &err), KEEP_OK, "a used nonce no longer counts");
    is_int(steward_nonce_new(s, NOW + STEWARD_NONCE_LIFETIME + 1, c, &expires, &err), KEEP_OK,
           "expired nonces no longer count");
    steward_close(s);
}

/* Monotonic counters: compare-and-swap, one namespace per workload identity, durable. */
static void test_counters(const char *dir)
{
    struct steward_config cfg = {.insecure_kvm = true};
    struct steward *s;
    struct keep_error err;
    if (steward_open(dir, &cfg, &s, &err) != KEEP_OK) {
        printf("Bail out! steward_open: %s\n", err.message);
        exit(1);
    }
    ok(steward_admin_policy_put(s, "any", "{}", NOW, &err) == KEEP_OK, "policy any");
    struct client c;
    client_new(&c, "P-256");
    struct steward_issued mine, theirs, mine2;
    if (issue_kvm(s, &c, measurement_kvm, "any", NOW, &mine, NULL, 0) ||
        issue_kvm(s, &c, measurement_snp, "any", NOW, &theirs, NULL, 0) ||
        issue_kvm(s, &c, measurement_kvm, "any", NOW, &mine2, NULL, 0)) {
        printf("Bail out! issuing the counter test's certificates failed\n");
        exit(1);
    }
    uint64_t v = 99;
    ok(steward_counter_read(s, mine.cert, "gen", NOW, &v, &err) == KEEP_OK && v == 0,
       "a counter never set reads 0");
    struct steward_counter_update u = {.expect = 0, .set = 5};
    ok(steward_counter_swap(s, mine.cert, "gen", &u, NOW, &v, &err) == KEEP_OK && v == 5,
       "CAS 0 -> 5 succeeds, value 5");
    ok(steward_counter_read(s, mine.cert, "gen", NOW, &v, &err) == KEEP_OK && v == 5, "it reads 5");
    v = 0;
    is_int(steward_counter_swap(s, mine.cert, "gen", &u, NOW, &v, &err),
           KEEP_E_STEWARD_COUNTER_CONFLICT, "a stale expect (0) is a conflict: %s", err.message);
    ok(v == 5, "... reporting the current value 5 (got %llu)", (unsigned long long)v);
    u = (struct steward_counter_update){.expect = 5, .set = 5};
    is_int(steward_counter_swap(s, mine.cert, "gen", &u, NOW, &v, &err),
           KEEP_E_STEWARD_COUNTER_REQUEST, "set == expect refused (only forward)");
    u = (struct steward_counter_update){.expect = 5, .set = (uint64_t)INT64_MAX + 1};
    is_int(steward_counter_swap(s, mine.cert, "gen", &u, NOW, &v, &err),
           KEEP_E_STEWARD_COUNTER_REQUEST, "set beyond 2^63-1 refused");
    u = (struct steward_counter_update){.expect = 5, .set = 6};
    ok(steward_counter_swap(s, mine2.cert, "gen", &u, NOW, &v, &err) == KEEP_OK && v == 6,
       "another certificate of the same measurement moves the same counter (5 -> 6)");
    ok(steward_counter_read(s, theirs.cert, "gen", NOW, &v, &err) == KEEP_OK && v == 0,
       "another workload's counter of the same name is separate (reads 0)");
    u = (struct steward_counter_update){.expect = 0, .set = 1};
    ok(steward_counter_swap(s, theirs.cert, "gen", &u, NOW, &v, &err) == KEEP_OK && v == 1,
       "... and moves on its own (0 -> 1)");
    ok(steward_counter_read(s, mine.cert, "gen", NOW, &v, &err) == KEEP_OK && v == 6,
       "... leaving the first workload's at 6");
    is_int(steward_counter_read(s, NULL, "gen", NOW, &v, &err), KEEP_E_STEWARD_CLIENT_CERT,
           "no client certificate: refused");
    X509 *forged = X509_dup(mine.cert);
    EVP_PKEY *mallory = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509_sign(forged, mallory, EVP_sha256());
    u = (struct steward_counter_update){.expect = 6, .set = 7};
    is_int(steward_counter_swap(s, forged, "gen", &u, NOW, &v, &err), KEEP_E_STEWARD_CLIENT_CERT,
           "a certificate copying an issued serial, not signed by the CA: refused");
    X509_free(forged);
    EVP_PKEY_free(mallory);
    is_int(steward_counter_read(s, mine.cert, "../x", NOW, &v, &err), KEEP_E_STEWARD_COUNTER_NAME,
           "a bad counter name is refused: %s", err.message);
    int64_t audited = 0;
    char db[700];
    snprintf(db, sizeof(db), "%s/steward.db", dir);
    ok(steward_audit_verify(s->store, &audited, &err) == KEEP_OK, "audit chain verifies");
    steward_close(s);

    ok(steward_open(dir, &cfg, &s, &err) == KEEP_OK, "restart");
    ok(steward_counter_read(s, mine.cert, "gen", NOW, &v, &err) == KEEP_OK && v == 6,
       "the value survives the restart (6)");
    ok(steward_counter_read(s, theirs.cert, "gen", NOW, &v, &err) == KEEP_OK && v == 1,
       "... and the other workload's (1)");
    sqlite3 *h;
    sqlite3_stmt *st;
    int64_t sets = -1;
    if (sqlite3_open(db, &h) == SQLITE_OK &&
        sqlite3_prepare_v2(h, "SELECT count(*) FROM audit WHERE event = 'counter.set'", -1, &st,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            sets = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    is_int((int)sets, 3, "each successful set is audited (3), conflicts and refusals are not");
    steward_admin_revoke_serial(s, mine.serial, NOW, &err);
    is_int(steward_counter_read(s, mine.cert, "gen", NOW, &v, &err), KEEP_E_STEWARD_REVOKED,
           "a revoked certificate reads no counter");
    steward_close(s);
    cfg.insecure_kvm = false;
    ok(steward_open(dir, &cfg, &s, &err) == KEEP_OK, "restart without --insecure-kvm");
    is_int(steward_counter_read(s, theirs.cert, "gen", NOW, &v, &err), KEEP_E_STEWARD_INSECURE_KVM,
           "an insecure certificate reads no counter once insecure mode is off");
    steward_close(s);
    steward_issued_free(&mine);
    steward_issued_free(&mine2);
    steward_issued_free(&theirs);
    client_free(&c);
}

static void db_exec(const char *dir, const char *sql)
{
    char db[700];
    snprintf(db, sizeof(db), "%s/steward.db", dir);
    sqlite3 *h;
    char *msg = NULL;
    if (sqlite3_open(db, &h) != SQLITE_OK || sqlite3_exec(h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        printf("Bail out! %s: %s\n", sql, msg ? msg : sqlite3_errmsg(h));
        exit(1);
    }
    sqlite3_close(h);
}

/* An audit entry that cannot be written fails the operation it records: nothing is issued,
 * released, set or changed unaudited. A trigger makes every audit insert fail. */
static void test_audit_failure(const char *dir)
{
    struct steward_config cfg = {.insecure_kvm = true};
    struct steward *s;
    struct keep_error err;
    if (steward_open(dir, &cfg, &s, &err) != KEEP_OK) {
        printf("Bail out! steward_open: %s\n", err.message);
        exit(1);
    }
    struct client c;
    client_new(&c, "P-256");
    struct steward_issued issued, none;
    if (steward_admin_policy_put(s, "web", kvm_policy, NOW, &err) ||
        steward_admin_secret_put(s, "db", (const uint8_t *)"hunter2", 7, NOW, &err) ||
        issue_kvm(s, &c, measurement_kvm, "web", NOW, &issued, NULL, 0)) {
        printf("Bail out! audit failure setup: %s\n", err.message);
        exit(1);
    }
    int64_t certs = steward_store_count(s->store, "certificates");
    int64_t entries = steward_store_count(s->store, "audit");
    db_exec(dir, "CREATE TRIGGER audit_full BEFORE INSERT ON audit"
                 " BEGIN SELECT RAISE(FAIL, 'audit disk full'); END;");
    is_int(issue_kvm(s, &c, measurement_kvm, "web", NOW, &none, NULL, 0), KEEP_E_STEWARD_STORE,
           "issuance whose audit entry fails is refused as the service's failure");
    ok(steward_store_count(s->store, "certificates") == certs, "... and no certificate is stored");
    is_int(issue_kvm(s, &c, measurement_snp, "web", NOW, &none, NULL, 0), KEEP_E_STEWARD_STORE,
           "a refusal whose audit entry fails: the service's failure too");
    uint8_t *value = NULL;
    size_t size = 0;
    is_int(steward_secret_release(s, issued.cert, "db", NOW, &value, &size, &err),
           KEEP_E_STEWARD_STORE, "a secret release whose audit fails is withheld: %s", err.message);
    ok(value == NULL, "... no secret bytes returned");
    is_int(steward_admin_policy_put(s, "web2", "{}", NOW, &err), KEEP_E_STEWARD_STORE,
           "an admin change whose audit fails is refused");
    char *doc = NULL;
    is_int(steward_policy_get(s->store, "web2", &doc, &err), KEEP_E_STEWARD_WORKLOAD_UNKNOWN,
           "... and not stored");
    free(doc);
    struct steward_counter_update u = {.expect = 0, .set = 1};
    uint64_t v = 0;
    is_int(steward_counter_swap(s, issued.cert, "gen", &u, NOW, &v, &err), KEEP_E_STEWARD_STORE,
           "a counter set whose audit fails is refused");
    ok(steward_counter_read(s, issued.cert, "gen", NOW, &v, &err) == KEEP_OK && v == 0,
       "... and the counter did not move");
    db_exec(dir, "DROP TRIGGER audit_full");
    ok(steward_store_count(s->store, "audit") == entries, "no audit entry was written meanwhile");
    ok(steward_counter_swap(s, issued.cert, "gen", &u, NOW, &v, &err) == KEEP_OK && v == 1,
       "with the audit log writable again, the same set succeeds");
    int64_t count = 0;
    ok(steward_audit_verify(s->store, &count, &err) == KEEP_OK && count == entries + 1,
       "the chain verifies with the one new entry");
    steward_issued_free(&issued);
    client_free(&c);
    steward_close(s);
}

/* The group commit's nesting (server.c): requests run in savepoints of one transaction; one
 * failing undoes only its own records, and the batch is durable only at the outer commit. */
static void test_group_commit(const char *dir)
{
    struct steward_config cfg = {.insecure_kvm = true};
    struct steward *s;
    struct keep_error err;
    if (steward_open(dir, &cfg, &s, &err) != KEEP_OK) {
        printf("Bail out! steward_open: %s\n", err.message);
        exit(1);
    }
    struct client c;
    client_new(&c, "P-256");
    struct steward_issued a, b, none;
    if (steward_admin_policy_put(s, "web", kvm_policy, NOW, &err)) {
        printf("Bail out! policy: %s\n", err.message);
        exit(1);
    }
    int64_t entries = steward_store_count(s->store, "audit");
    ok(steward_store_begin(s->store, &err) == KEEP_OK, "a batch transaction begins");
    is_int(issue_kvm(s, &c, measurement_kvm, "web", NOW, &a, NULL, 0), KEEP_OK,
           "request 1 of the batch issues");
    struct steward_counter_update u = {.expect = 7, .set = 8};
    uint64_t v;
    is_int(steward_counter_swap(s, a.cert, "gen", &u, NOW, &v, &err),
           KEEP_E_STEWARD_COUNTER_CONFLICT, "request 2 (a conflicting counter set) fails alone");
    is_int(issue_kvm(s, &c, measurement_kvm, "web", NOW, &b, NULL, 0), KEEP_OK,
           "request 3 issues after it");
    ok(steward_store_commit(s->store, &err) == KEEP_OK, "the batch commits once");
    ok(steward_store_count(s->store, "certificates") == 2, "both certificates are stored");
    int64_t count = 0;
    ok(steward_audit_verify(s->store, &count, &err) == KEEP_OK && count == entries + 2,
       "the audit chain verifies with the two certificate.issued entries");
    /* A batch whose outer transaction rolls back (its commit failed) leaves nothing behind, and
     * the audit head in memory follows the database again. */
    ok(steward_store_begin(s->store, &err) == KEEP_OK, "a second batch begins");
    is_int(issue_kvm(s, &c, measurement_kvm, "web", NOW, &none, NULL, 0), KEEP_OK,
           "a request in it issues");
    steward_store_rollback(s->store);
    ok(steward_store_count(s->store, "certificates") == 2, "rolled back: still 2 certificates");
    ok(steward_admin_policy_put(s, "web2", "{}", NOW, &err) == KEEP_OK &&
           steward_audit_verify(s->store, &count, &err) == KEEP_OK,
       "the next audited change chains onto the committed head");
    steward_issued_free(&a);
    steward_issued_free(&b);
    steward_issued_free(&none);
    client_free(&c);
    steward_close(s);
}

/* Verification in advance (the server's workers): a verdict is used only for the policy
 * document it was computed under; a policy changed meanwhile is verified again. */
static void test_precheck(const char *dir)
{
    struct steward_config cfg = {.insecure_kvm = true};
    struct steward *s;
    struct keep_error err;
    struct keep_attest_verifier *worker = NULL;
    if (steward_open(dir, &cfg, &s, &err) != KEEP_OK ||
        keep_attest_verifier_new(NULL, &worker, &err) != KEEP_OK ||
        steward_admin_policy_put(s, "web", kvm_policy, NOW, &err) != KEEP_OK) {
        printf("Bail out! precheck setup: %s\n", err.message);
        exit(1);
    }
    struct client c;
    client_new(&c, "P-256");
    for (int changed = 0; changed <= 1; changed++) {
        char nonce[65];
        int64_t expires;
        uint8_t ev[KEEP_KVM_EVIDENCE_SIZE];
        struct steward_cert_request req;
        struct steward_prechecks pre;
        struct steward_issued out;
        steward_nonce_new(s, NOW, nonce, &expires, &err);
        kvm_evidence(&c, nonce, measurement_kvm, ev);
        request(&c, nonce, ev, sizeof(ev), "web", NULL, &req, &err);
        ok(steward_precheck_plan(s, &req, &pre, &err) == KEEP_OK && pre.count == 1,
           "plan: the named policy's document is copied");
        steward_precheck_run(s, worker, &req, NOW, &pre);
        ok(pre.items[0].result &&
               keep_attest_result_verdict(pre.items[0].result) == KEEP_ATTEST_ACCEPT,
           "run (another verifier, as a worker has): the evidence is accepted");
        if (changed) {
            char other[512];
            snprintf(other, sizeof(other), "{\"attest\": {\"measurement\": [\"%s\"]}}",
                     measurement_snp);
            steward_admin_policy_put(s, "web", other, NOW, &err);
        }
        int rc = steward_issue_prechecked(s, &req, NOW, &pre, &out, NULL, &err);
        if (!changed) {
            is_int(rc, KEEP_OK, "issued on the verdict computed in advance");
            ok(pre.items[0].result == NULL, "... which was taken, not verified again");
        } else {
            is_int(rc, KEEP_E_STEWARD_EVIDENCE_REJECTED,
                   "policy changed after the verdict: verified again under the new one: %s",
                   err.message);
        }
        steward_issued_free(&out);
        steward_prechecks_free(&pre);
        steward_request_free(&req);
    }
    client_free(&c);
    keep_attest_verifier_free(worker);
    steward_close(s);
}

static void test_counter_request(void)
{
    struct steward_counter_update u;
    struct keep_error err;
    const char *good = "{\"expect\": 3, \"set\": 9223372036854775807}";
    ok(steward_counter_request_parse(good, strlen(good), &u, &err) == KEEP_OK && u.expect == 3 &&
           u.set == (uint64_t)INT64_MAX,
       "counter request {expect 3, set 2^63-1} parses");
    const char *bad[] = {
        "{\"expect\": 3}",
        "{\"expect\": 3, \"set\": 3}",
        "{\"expect\": -1, \"set\": 3}",
        "{\"expect\": 1, \"set\": 9223372036854775808}",
        "{\"expect\": 1, \"set\": 2.0}",
        "{\"expect\": 1, \"set\": \"2\"}",
        "{\"expect\": 1, \"set\": 2, \"x\": 0}",
        "{\"expect\": 1, \"expect\": 0, \"set\": 2}",
        "[1, 2]",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        is_int(steward_counter_request_parse(bad[i], strlen(bad[i]), &u, &err),
               KEEP_E_STEWARD_COUNTER_REQUEST, "counter request '%s' refused: %s", bad[i],
               err.message);
}

static void remove_state(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        diag("could not remove %s", dir);
}

int main(void)
{
    test_base64_and_names();
    test_csr();
    test_binding();
    test_request_json();
    char dir[] = "/tmp/keep-test-steward-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char state[600];
    snprintf(state, sizeof(state), "%s/kvm", dir);
    test_kvm_flow(state);
    snprintf(state, sizeof(state), "%s/snp", dir);
    test_snp(state);
    snprintf(state, sizeof(state), "%s/nonces", dir);
    test_nonce_limit(state);
    test_counter_request();
    snprintf(state, sizeof(state), "%s/counters", dir);
    test_counters(state);
    snprintf(state, sizeof(state), "%s/audit", dir);
    test_audit_failure(state);
    snprintf(state, sizeof(state), "%s/group", dir);
    test_group_commit(state);
    snprintf(state, sizeof(state), "%s/precheck", dir);
    test_precheck(state);
    remove_state(dir);
    return done_testing();
}
