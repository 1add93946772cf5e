/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Intel PCS issuer-chain headers (steward_pcs_issuer_chain, src/steward/pcs.c):
 * percent-encoded PEM (RFC 3986 section 2.1) decodes to exactly the certificates sent;
 * each malformation is refused with KEEP_E_STEWARD_PCS_HEADER and a message naming the
 * header. And the PCS target (FMSPC, CA) is not taken from evidence that is not a quote.
 */
#include <ctype.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "steward/pcs.h"
#include "tap.h"

#define HDR "TCB-Info-Issuer-Chain"

/* A self-signed P-256 certificate, PEM (malloc'd). */
static char *cert_pem(const char *cn)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_sign(x, key, EVP_sha256());
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    char *out = strndup(p, (size_t)n);
    BIO_free(bio);
    X509_free(x);
    EVP_PKEY_free(key);
    return out;
}

/* Percent-encode every byte that is not unreserved (RFC 3986 section 2.3), as Intel does. */
static char *encode(const char *text)
{
    char *out = malloc(strlen(text) * 3 + 1), *o = out;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~')
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = '\0';
    return out;
}

static int decode(const char *value, struct steward_bytes *pem, struct keep_error *err)
{
    return steward_pcs_issuer_chain(HDR, value, strlen(value), pem, err);
}

static void refused(const char *value, const char *what)
{
    struct steward_bytes pem;
    struct keep_error err = {0};
    int rc = decode(value, &pem, &err);
    ok(rc == KEEP_E_STEWARD_PCS_HEADER && strstr(err.message, HDR) && !pem.data, "%s: refused (%s)",
       what, err.message);
}

static void test_good_chain(void)
{
    char *a = cert_pem("Intel SGX TCB Signing"), *b = cert_pem("Intel SGX Root CA");
    char both[8192];
    snprintf(both, sizeof(both), "%s%s", a, b);
    char *value = encode(both);
    struct steward_bytes pem;
    struct keep_error err;
    ok(decode(value, &pem, &err) == KEEP_OK && pem.size == strlen(both) &&
           memcmp(pem.data, both, pem.size) == 0,
       "two encoded certificates decode to the exact PEM sent");
    free(pem.data);
    /* lowercase hex digits are hex digits too (RFC 3986 section 2.1: equivalent) */
    char *lower = strdup(value);
    for (char *p = lower; (p = strchr(p, '%')); p += 3)
        p[1] = (char)tolower(p[1]), p[2] = (char)tolower(p[2]);
    ok(decode(lower, &pem, &err) == KEEP_OK && pem.size == strlen(both),
       "lowercase percent-escapes decode the same");
    free(pem.data);

    char cut[8192];
    snprintf(cut, sizeof(cut), "%s", value);
    cut[strlen(cut) - 1] = '\0'; /* "%0A" -> "%0" */
    refused(cut, "an escape cut short at the end");
    snprintf(cut, sizeof(cut), "%.*s", (int)(strlen(value) / 2 + 40), value);
    refused(cut, "a chain cut inside the second certificate");
    char junk[8192];
    snprintf(junk, sizeof(junk), "%sgarbage", value);
    refused(junk, "bytes after the last certificate");
    snprintf(junk, sizeof(junk), "junk%s", value);
    refused(junk, "bytes before the first certificate");
    free(lower);
    free(value);
    free(a);
    free(b);
}

static void test_malformed(void)
{
    struct steward_bytes pem;
    struct keep_error err = {0};
    ok(steward_pcs_issuer_chain(HDR, NULL, 0, &pem, &err) == KEEP_E_STEWARD_PCS_HEADER &&
           strstr(err.message, HDR),
       "a missing header is refused naming it (%s)", err.message);
    refused("", "an empty header");
    refused("%G0", "'%' followed by a non-hex digit");
    refused("%", "a lone '%'");
    refused("-----BEGIN\nAAAA", "a raw newline (not percent-encoded)");
    refused("-----BEGIN%20CERTIFICATE-----%0A-----END%20CERTIFICATE-----%0A", "an empty PEM block");
    refused("%00", "an encoded NUL decodes to no certificate");
    char *big = malloc(STEWARD_PCS_HEADER_MAX + 2);
    memset(big, 'A', STEWARD_PCS_HEADER_MAX + 1);
    big[STEWARD_PCS_HEADER_MAX + 1] = '\0';
    refused(big, "a header over STEWARD_PCS_HEADER_MAX");
    free(big);
}

static void test_target(void)
{
    struct steward_pcs_target t;
    static const uint8_t not_a_quote[64] = {3, 0, 2, 0};
    ok(steward_pcs_target_of(not_a_quote, sizeof(not_a_quote), &t) == -1,
       "64 bytes that are not a quote give no PCS target");
    ok(steward_pcs_target_of(NULL, 0, &t) == -1, "no evidence gives no PCS target");
    t = (struct steward_pcs_target){.tdx = true, .fmspc = "00806F050000", .pck_ca = "platform"};
    char key[256];
    ok(steward_pcs_cache_key("https://pccs:8081", &t, key, sizeof(key)) == 0 &&
           strcmp(key, "https://pccs:8081/tdx/certification/v4/tcb?fmspc=00806F050000#pck-ca="
                       "platform") == 0,
       "the cache key names base, TEE, FMSPC and PCK CA: %s", key);
    ok(steward_pcs_cache_key("https://pccs:8081", &t, key, 20) == -1,
       "a cache key that does not fit is refused");
}

int main(void)
{
    test_good_chain();
    test_malformed();
    test_target();
    return done_testing();
}
