/* SPDX-License-Identifier: Apache-2.0 */
#include "steward/ca.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

#define CA_LIFETIME     (10LL * 365 * 24 * 3600)
#define SERVER_LIFETIME (90LL * 24 * 3600)
#define GCM_IV_SIZE     12
#define GCM_TAG_SIZE    16

static int crypto_fail(struct keep_error *err, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return keep_fail(err, KEEP_E_STEWARD_CRYPTO, "%s: %s", what, e ? buf : "failed");
}

/* Write a file readable only by its owner, atomically (temporary file, fsync, rename). */
static int write_private(const char *dir, const char *name, const void *data, size_t size,
                         struct keep_error *err)
{
    char path[4096], tmp[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return keep_fail(err, KEEP_E_STEWARD_STATE, "%s: %s", tmp, strerror(errno));
    bool ok = write(fd, data, size) == (ssize_t)size && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return keep_fail(err, KEEP_E_STEWARD_STATE, "%s: %s", path, strerror(errno));
    }
    return KEEP_OK;
}

/* A secret file must be the owner's alone: a readable KEK or CA key is refused. */
static int read_private(const char *dir, const char *name, uint8_t **data, size_t *size,
                        struct keep_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) != 0)
        return keep_fail(err, KEEP_E_STEWARD_STATE, "%s: %s", path, strerror(errno));
    if (st.st_mode & 077)
        return keep_fail(err, KEEP_E_STEWARD_STATE,
                         "%s has mode %03o; it holds a key and must be 0600", path,
                         (unsigned)(st.st_mode & 0777));
    return keep_read_file(path, 1 << 20, data, size, err);
}

static bool exists(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

char *steward_x509_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *out = NULL, *p;
    if (bio && PEM_write_bio_X509(bio, cert)) {
        long n = BIO_get_mem_data(bio, &p);
        out = malloc((size_t)n + 1);
        if (out) {
            memcpy(out, p, (size_t)n);
            out[n] = '\0';
        }
    }
    BIO_free(bio);
    return out;
}

static EVP_PKEY *p256_new(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static int save_key(const char *dir, const char *name, EVP_PKEY *key, struct keep_error *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *p;
    if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(bio);
        return crypto_fail(err, name);
    }
    long n = BIO_get_mem_data(bio, &p);
    int rc = write_private(dir, name, p, (size_t)n, err);
    BIO_free(bio);
    return rc;
}

static int load_key(const char *dir, const char *name, EVP_PKEY **key, struct keep_error *err)
{
    uint8_t *data;
    size_t size;
    int rc = read_private(dir, name, &data, &size, err);
    if (rc)
        return rc;
    BIO *bio = BIO_new_mem_buf(data, (int)size);
    *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    OPENSSL_cleanse(data, size);
    free(data);
    return *key ? KEEP_OK : crypto_fail(err, name);
}

static int load_cert(const char *dir, const char *name, X509 **cert, struct keep_error *err)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    uint8_t *data;
    size_t size;
    int rc = keep_read_file(path, 1 << 20, &data, &size, err);
    if (rc)
        return rc;
    BIO *bio = BIO_new_mem_buf(data, (int)size);
    *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    free(data);
    return *cert ? KEEP_OK : crypto_fail(err, path);
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    int ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

void steward_serial_normalize(const char *hex, char out[41])
{
    while (hex[0] == '0' && hex[1])
        hex++; /* BN_bn2hex pads to whole bytes; a serial is a number */
    size_t i = 0;
    for (; hex[i] && i < 40; i++)
        out[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] + 32 : hex[i]);
    out[i] = '\0';
}

static int random_serial(X509 *cert, char serial[41])
{
    uint8_t bytes[16];
    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        return -1;
    /* RFC 5280 section 4.1.2.2: a positive integer of at most 20 octets; BN_bin2bn reads
     * the 128 random bits as unsigned, so DER may add a leading zero octet (17 <= 20). */
    BIGNUM *bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
    int ok = bn && !BN_is_zero(bn) && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    if (ok) {
        char *hex = BN_bn2hex(bn);
        ok = hex != NULL;
        if (hex) {
            steward_serial_normalize(hex, serial);
            OPENSSL_free(hex);
        }
    }
    BN_free(bn);
    return ok ? 0 : -1;
}

static int set_validity(X509 *cert, int64_t not_before, int64_t not_after)
{
    return ASN1_TIME_set(X509_getm_notBefore(cert), (time_t)not_before) &&
                   ASN1_TIME_set(X509_getm_notAfter(cert), (time_t)not_after)
               ? 0
               : -1;
}

static int ca_create(const char *dir, struct steward_ca *ca, struct keep_error *err)
{
    ca->key = p256_new();
    ca->cert = X509_new();
    char serial[41];
    int64_t now = time(NULL);
    X509_NAME *name = X509_NAME_new();
    bool ok =
        ca->key && ca->cert && name && X509_set_version(ca->cert, 2) &&
        random_serial(ca->cert, serial) == 0 &&
        set_validity(ca->cert, now - 60, now + CA_LIFETIME) == 0 &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)"keep steward CA", -1, -1, 0) &&
        X509_set_subject_name(ca->cert, name) && X509_set_issuer_name(ca->cert, name) &&
        X509_set_pubkey(ca->cert, ca->key) &&
        add_ext(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") == 0 &&
        add_ext(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign,cRLSign") == 0 &&
        add_ext(ca->cert, ca->cert, NID_subject_key_identifier, "hash") == 0 &&
        X509_sign(ca->cert, ca->key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok)
        return crypto_fail(err, "creating the CA");
    char *pem = steward_x509_pem(ca->cert);
    int rc = pem ? save_key(dir, "ca.key", ca->key, err) : keep_fail(err, KEEP_E_NOMEM, "ca.pem");
    if (rc == KEEP_OK)
        rc = write_private(dir, "ca.pem", pem, strlen(pem), err);
    free(pem);
    if (rc == KEEP_OK)
        chmod(dir, 0700);
    return rc;
}

static int kek_open(const char *dir, uint8_t kek[STEWARD_KEK_SIZE], struct keep_error *err)
{
    if (!exists(dir, "kek")) {
        if (RAND_priv_bytes(kek, STEWARD_KEK_SIZE) != 1)
            return crypto_fail(err, "kek");
        return write_private(dir, "kek", kek, STEWARD_KEK_SIZE, err);
    }
    uint8_t *data;
    size_t size;
    int rc = read_private(dir, "kek", &data, &size, err);
    if (rc)
        return rc;
    if (size != STEWARD_KEK_SIZE) {
        free(data);
        return keep_fail(err, KEEP_E_STEWARD_KEK, "%s/kek is %zu bytes; %d are required", dir, size,
                         STEWARD_KEK_SIZE);
    }
    memcpy(kek, data, STEWARD_KEK_SIZE);
    OPENSSL_cleanse(data, size);
    free(data);
    return KEEP_OK;
}

int steward_ca_open(const char *dir, struct steward_ca *ca, struct keep_error *err)
{
    memset(ca, 0, sizeof(*ca));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return keep_fail(err, KEEP_E_STEWARD_STATE, "%s: %s", dir, strerror(errno));
    int rc =
        exists(dir, "ca.key") ? load_key(dir, "ca.key", &ca->key, err) : ca_create(dir, ca, err);
    if (rc == KEEP_OK && !ca->cert)
        rc = load_cert(dir, "ca.pem", &ca->cert, err);
    if (rc == KEEP_OK && X509_check_private_key(ca->cert, ca->key) != 1)
        rc =
            keep_fail(err, KEEP_E_STEWARD_STATE, "%s/ca.pem is not the certificate of ca.key", dir);
    if (rc == KEEP_OK && !(ca->cert_pem = steward_x509_pem(ca->cert)))
        rc = keep_fail(err, KEEP_E_NOMEM, "ca.pem");
    if (rc == KEEP_OK)
        rc = kek_open(dir, ca->kek, err);
    if (rc)
        steward_ca_close(ca);
    return rc;
}

void steward_ca_close(struct steward_ca *ca)
{
    EVP_PKEY_free(ca->key);
    X509_free(ca->cert);
    free(ca->cert_pem);
    OPENSSL_cleanse(ca->kek, sizeof(ca->kek));
    memset(ca, 0, sizeof(*ca));
}

/* "DNS:a,DNS:b,IP:127.0.0.1,IP:::1" */
static char *server_san(const char *const *dns, size_t dns_count)
{
    size_t size = 64;
    for (size_t i = 0; i < dns_count; i++)
        size += strlen(dns[i]) + 5;
    char *san = malloc(size);
    if (!san)
        return NULL;
    san[0] = '\0';
    for (size_t i = 0; i < dns_count; i++) {
        strcat(san, "DNS:");
        strcat(san, dns[i]);
        strcat(san, ",");
    }
    strcat(san, "IP:127.0.0.1,IP:::1");
    return san;
}

static bool server_cert_current(struct steward_ca *ca, X509 *cert, EVP_PKEY *key, const char *san)
{
    int64_t now = time(NULL);
    if (X509_check_private_key(cert, key) != 1 ||
        X509_cmp_time(X509_get0_notAfter(cert), &(time_t){now + 86400}) <= 0)
        return false;
    EVP_PKEY *ca_pub = X509_get0_pubkey(ca->cert);
    if (X509_verify(cert, ca_pub) != 1)
        return false;
    /* Reissue when the DNS names changed: compare the SAN text we would write. */
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    BIO *bio = BIO_new(BIO_s_mem());
    bool same = false;
    if (names && bio) {
        for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
            GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
            if (g->type == GEN_DNS)
                BIO_printf(bio, "DNS:%s,", ASN1_STRING_get0_data(g->d.dNSName));
        }
        BIO_printf(bio, "IP:127.0.0.1,IP:::1");
        char *p;
        long n = BIO_get_mem_data(bio, &p);
        same = (size_t)n == strlen(san) && memcmp(p, san, (size_t)n) == 0;
    }
    BIO_free(bio);
    GENERAL_NAMES_free(names);
    return same;
}

static int server_issue(struct steward_ca *ca, const char *dir, const char *san, EVP_PKEY **key,
                        X509 **cert, struct keep_error *err)
{
    *key = p256_new();
    *cert = X509_new();
    char serial[41];
    int64_t now = time(NULL);
    X509_NAME *name = X509_NAME_new();
    bool ok = *key && *cert && name && X509_set_version(*cert, 2) &&
              random_serial(*cert, serial) == 0 &&
              set_validity(*cert, now - 60, now + SERVER_LIFETIME) == 0 &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                         (const unsigned char *)"keep steward", -1, -1, 0) &&
              X509_set_subject_name(*cert, name) &&
              X509_set_issuer_name(*cert, X509_get_subject_name(ca->cert)) &&
              X509_set_pubkey(*cert, *key) &&
              add_ext(*cert, ca->cert, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
              add_ext(*cert, ca->cert, NID_key_usage, "critical,digitalSignature") == 0 &&
              add_ext(*cert, ca->cert, NID_ext_key_usage, "serverAuth") == 0 &&
              add_ext(*cert, ca->cert, NID_subject_alt_name, san) == 0 &&
              add_ext(*cert, ca->cert, NID_authority_key_identifier, "keyid") == 0 &&
              X509_sign(*cert, ca->key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok)
        return crypto_fail(err, "issuing the server certificate");
    char *pem = steward_x509_pem(*cert);
    int rc =
        pem ? save_key(dir, "server.key", *key, err) : keep_fail(err, KEEP_E_NOMEM, "server.pem");
    if (rc == KEEP_OK)
        rc = write_private(dir, "server.pem", pem, strlen(pem), err);
    free(pem);
    return rc;
}

int steward_ca_server_identity(struct steward_ca *ca, const char *dir, const char *const *dns,
                               size_t dns_count, EVP_PKEY **key, X509 **cert,
                               struct keep_error *err)
{
    *key = NULL;
    *cert = NULL;
    char *san = server_san(dns, dns_count);
    if (!san)
        return keep_fail(err, KEEP_E_NOMEM, "out of memory");
    struct keep_error ignored;
    if (exists(dir, "server.key") && load_key(dir, "server.key", key, &ignored) == KEEP_OK &&
        load_cert(dir, "server.pem", cert, &ignored) == KEEP_OK &&
        server_cert_current(ca, *cert, *key, san)) {
        free(san);
        return KEEP_OK;
    }
    EVP_PKEY_free(*key);
    X509_free(*cert);
    int rc = server_issue(ca, dir, san, key, cert, err);
    free(san);
    if (rc) {
        EVP_PKEY_free(*key);
        X509_free(*cert);
        *key = NULL;
        *cert = NULL;
    }
    return rc;
}

/* ---- leaf certificates ---------------------------------------------------- */

static int add_san(X509 *cert, const struct steward_leaf *leaf)
{
    GENERAL_NAMES *names = GENERAL_NAMES_new();
    char uri[160];
    snprintf(uri, sizeof(uri), "urn:keep:%s", leaf->measurement_hex);
    bool ok = names != NULL;
    for (size_t i = 0; ok && i <= leaf->dns_count; i++) {
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        const char *text = i == 0 ? uri : leaf->dns[i - 1];
        ok = g && s && ASN1_STRING_set(s, text, (int)strlen(text));
        if (ok) {
            GENERAL_NAME_set0_value(g, i == 0 ? GEN_URI : GEN_DNS, s);
            ok = sk_GENERAL_NAME_push(names, g) > 0;
            if (!ok)
                GENERAL_NAME_free(g);
        } else {
            GENERAL_NAME_free(g);
            ASN1_IA5STRING_free(s);
        }
    }
    ok = ok && X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
    GENERAL_NAMES_free(names);
    return ok ? 0 : -1;
}

/* The EAR claim set as a UTF8String in a non-critical extension (STEWARD_OID_EAR). */
static int add_claims(X509 *cert, const char *claims)
{
    ASN1_OBJECT *oid = OBJ_txt2obj(STEWARD_OID_EAR, 1);
    ASN1_UTF8STRING *text = ASN1_UTF8STRING_new();
    unsigned char *der = NULL;
    int n = -1;
    if (oid && text && ASN1_STRING_set(text, claims, (int)strlen(claims)))
        n = i2d_ASN1_UTF8STRING(text, &der);
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    bool ok = n > 0 && value && ASN1_OCTET_STRING_set(value, der, n);
    X509_EXTENSION *ext = ok ? X509_EXTENSION_create_by_OBJ(NULL, oid, 0, value) : NULL;
    ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(value);
    OPENSSL_free(der);
    ASN1_UTF8STRING_free(text);
    ASN1_OBJECT_free(oid);
    return ok ? 0 : -1;
}

static int add_crl_dp(X509 *cert, X509 *issuer, const char *url)
{
    char value[600];
    snprintf(value, sizeof(value), "URI:%s", url);
    return add_ext(cert, issuer, NID_crl_distribution_points, value);
}

int steward_ca_issue(struct steward_ca *ca, const struct steward_leaf *leaf, X509 **out,
                     char serial[41], struct keep_error *err)
{
    X509 *cert = X509_new();
    X509_NAME *subject = X509_NAME_new();
    char cn[64];
    snprintf(cn, sizeof(cn), "keep %.16s", leaf->measurement_hex);
    bool ok = cert && subject && X509_set_version(cert, 2) && random_serial(cert, serial) == 0 &&
              set_validity(cert, leaf->not_before, leaf->not_after) == 0 &&
              X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                                         -1, -1, 0) &&
              X509_set_subject_name(cert, subject) &&
              X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) &&
              X509_set_pubkey(cert, X509_REQ_get0_pubkey(leaf->csr->req)) &&
              add_ext(cert, ca->cert, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
              add_ext(cert, ca->cert, NID_key_usage, "critical,digitalSignature") == 0 &&
              add_ext(cert, ca->cert, NID_ext_key_usage, "serverAuth,clientAuth") == 0 &&
              add_ext(cert, ca->cert, NID_authority_key_identifier, "keyid") == 0 &&
              add_san(cert, leaf) == 0 &&
              (!leaf->crl_url || add_crl_dp(cert, ca->cert, leaf->crl_url) == 0) &&
              add_claims(cert, leaf->claims_json) == 0 &&
              X509_sign(cert, ca->key, EVP_sha256()) > 0;
    X509_NAME_free(subject);
    if (!ok) {
        X509_free(cert);
        return crypto_fail(err, "issuing the certificate");
    }
    *out = cert;
    return KEEP_OK;
}

/* ---- CRL ---------------------------------------------------------------- */

static int crl_add(void *ctx, const char *serial, int64_t revoked_at)
{
    X509_CRL *crl = ctx;
    BIGNUM *bn = NULL;
    X509_REVOKED *r = X509_REVOKED_new();
    ASN1_INTEGER *sn = NULL;
    ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)revoked_at);
    bool ok = r && t && BN_hex2bn(&bn, serial) > 0 && (sn = BN_to_ASN1_INTEGER(bn, NULL)) &&
              X509_REVOKED_set_serialNumber(r, sn) && X509_REVOKED_set_revocationDate(r, t) &&
              X509_CRL_add0_revoked(crl, r);
    if (!ok)
        X509_REVOKED_free(r);
    ASN1_INTEGER_free(sn);
    ASN1_TIME_free(t);
    BN_free(bn);
    return ok ? 0 : KEEP_E_STEWARD_CRYPTO;
}

int steward_ca_crl(struct steward_ca *ca, struct steward_store *store, int64_t now,
                   int64_t next_update, uint8_t **der, size_t *size, struct keep_error *err)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *last = ASN1_TIME_set(NULL, (time_t)now),
              *next = ASN1_TIME_set(NULL, (time_t)(now + next_update));
    bool ok = crl && last && next && X509_CRL_set_version(crl, 1) &&
              X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) &&
              X509_CRL_set1_lastUpdate(crl, last) && X509_CRL_set1_nextUpdate(crl, next);
    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    int rc = ok ? steward_revoked_each(store, now, crl_add, crl, err)
                : crypto_fail(err, "creating the CRL");
    if (rc == KEEP_OK) {
        X509_CRL_sort(crl);
        unsigned char *p = NULL;
        int n = X509_CRL_sign(crl, ca->key, EVP_sha256()) > 0 ? i2d_X509_CRL(crl, &p) : -1;
        if (n <= 0) {
            rc = crypto_fail(err, "signing the CRL");
        } else {
            *der = malloc((size_t)n);
            if (*der) {
                memcpy(*der, p, (size_t)n);
                *size = (size_t)n;
            } else {
                rc = keep_fail(err, KEEP_E_NOMEM, "out of memory");
            }
            OPENSSL_free(p);
        }
    }
    X509_CRL_free(crl);
    return rc;
}

/* ---- key-encryption key ------------------------------------------------- */

static int gcm(const uint8_t kek[STEWARD_KEK_SIZE], const char *name, bool enc,
               const uint8_t iv[GCM_IV_SIZE], const uint8_t *in, size_t size, uint8_t *out,
               uint8_t tag[GCM_TAG_SIZE])
{
    char aad[128];
    int aad_len = snprintf(aad, sizeof(aad), "keep-steward/secret/v1:%s", name);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, kek, iv, enc ? 1 : 0) &&
                    EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)aad, aad_len) &&
                    (size == 0 || EVP_CipherUpdate(c, out, &n, in, (int)size)) &&
                    (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG_SIZE, tag)) &&
                    EVP_CipherFinal_ex(c, out + (size ? n : 0), &n) &&
                    (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG_SIZE, tag));
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

int steward_kek_wrap(const uint8_t kek[STEWARD_KEK_SIZE], const char *name, const uint8_t *plain,
                     size_t size, uint8_t **wrapped, size_t *wrapped_size, struct keep_error *err)
{
    if (size > (1 << 20))
        return keep_fail(err, KEEP_E_STEWARD_TOO_LARGE, "secret %s is %zu bytes; at most 1 MiB",
                         name, size);
    uint8_t *buf = malloc(GCM_IV_SIZE + size + GCM_TAG_SIZE);
    if (!buf)
        return keep_fail(err, KEEP_E_NOMEM, "out of memory");
    if (RAND_bytes(buf, GCM_IV_SIZE) != 1 ||
        gcm(kek, name, true, buf, plain, size, buf + GCM_IV_SIZE, buf + GCM_IV_SIZE + size)) {
        free(buf);
        return crypto_fail(err, "wrapping the secret");
    }
    *wrapped = buf;
    *wrapped_size = GCM_IV_SIZE + size + GCM_TAG_SIZE;
    return KEEP_OK;
}

int steward_kek_unwrap(const uint8_t kek[STEWARD_KEK_SIZE], const char *name,
                       const uint8_t *wrapped, size_t wrapped_size, uint8_t **plain, size_t *size,
                       struct keep_error *err)
{
    if (wrapped_size < GCM_IV_SIZE + GCM_TAG_SIZE)
        return keep_fail(err, KEEP_E_STEWARD_KEK, "secret %s: wrapped value is %zu bytes", name,
                         wrapped_size);
    size_t n = wrapped_size - GCM_IV_SIZE - GCM_TAG_SIZE;
    uint8_t *buf = malloc(n ? n : 1);
    uint8_t tag[GCM_TAG_SIZE];
    if (!buf)
        return keep_fail(err, KEEP_E_NOMEM, "out of memory");
    memcpy(tag, wrapped + GCM_IV_SIZE + n, GCM_TAG_SIZE);
    if (gcm(kek, name, false, wrapped, wrapped + GCM_IV_SIZE, n, buf, tag)) {
        free(buf);
        ERR_clear_error();
        return keep_fail(err, KEEP_E_STEWARD_KEK,
                         "secret %s does not unwrap under this KEK (GCM tag mismatch)", name);
    }
    *plain = buf;
    *size = n;
    return KEEP_OK;
}
