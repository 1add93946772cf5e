/* SPDX-License-Identifier: Apache-2.0 */
#include "steward/pcs.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/pck.h"
#include "attest/qe_identity.h"
#include "attest/quote.h"
#include "attest/tcb.h"
#include "common/cursor.h"
#include "common/util.h"
#include "steward/fetch.h"

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* RFC 3986 section 2.1: pct-encoded = "%" HEXDIG HEXDIG; the rest is printable ASCII. */
static int percent_decode(const char *header, const char *value, size_t len, uint8_t *out,
                          size_t *out_len, struct keep_error *err)
{
    struct keep_cursor c;
    keep_cursor_init(&c, value, len);
    size_t n = 0;
    uint8_t b, hi, lo;
    while (!keep_cursor_at_end(&c)) {
        size_t at = keep_cursor_offset(&c);
        if (keep_cursor_u8(&c, header, &b, err))
            return KEEP_E_STEWARD_PCS_HEADER;
        if (b == '%') {
            if (keep_cursor_u8(&c, header, &hi, NULL) || keep_cursor_u8(&c, header, &lo, NULL) ||
                hex_value(hi) < 0 || hex_value(lo) < 0)
                return keep_fail(err, KEEP_E_STEWARD_PCS_HEADER,
                                 "%s: '%%' at byte %zu is not followed by two hex digits", header,
                                 at);
            b = (uint8_t)(hex_value(hi) << 4 | hex_value(lo));
        } else if (b < 0x21 || b > 0x7e) {
            return keep_fail(err, KEEP_E_STEWARD_PCS_HEADER,
                             "%s: byte %zu is 0x%02x, not printable ASCII (percent-encoded PEM)",
                             header, at, b);
        }
        out[n++] = b;
    }
    *out_len = n;
    return KEEP_OK;
}

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END   "-----END CERTIFICATE-----"

static bool is_space(uint8_t c)
{
    return c == '\n' || c == '\r' || c == ' ' || c == '\t';
}

/* Occurrences of marker in the decoded text. */
static int count_of(const uint8_t *text, size_t len, const char *marker)
{
    int n = 0;
    size_t m = strlen(marker);
    for (const uint8_t *p = text; (p = memmem(p, len - (size_t)(p - text), marker, m)); p += m)
        n++;
    return n;
}

/*
 * The decoded text must be PEM certificates only (RFC 7468 section 5): it starts with a BEGIN
 * line and ends with an END line (whitespace aside), and every BEGIN opens a certificate that
 * parses, so no bytes before, between or after them are skipped unseen.
 */
static int check_chain(const char *header, const uint8_t *pem, size_t len, struct keep_error *err)
{
    size_t lo = 0, hi = len;
    while (lo < hi && is_space(pem[lo]))
        lo++;
    while (hi > lo && is_space(pem[hi - 1]))
        hi--;
    size_t nb = strlen(PEM_BEGIN), ne = strlen(PEM_END);
    if (hi - lo < nb + ne || memcmp(pem + lo, PEM_BEGIN, nb) != 0 ||
        memcmp(pem + hi - ne, PEM_END, ne) != 0)
        return keep_fail(err, KEEP_E_STEWARD_PCS_HEADER,
                         "%s: the decoded value does not start with \"" PEM_BEGIN
                         "\" and end with \"" PEM_END "\"",
                         header);
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    int count = 0;
    X509 *cert;
    while (bio && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        X509_free(cert);
        count++;
    }
    ERR_clear_error();
    BIO_free(bio);
    int blocks = count_of(pem, len, PEM_BEGIN);
    if (count == 0 || count != blocks)
        return keep_fail(err, KEEP_E_STEWARD_PCS_HEADER,
                         "%s: %d of the %d PEM certificates in the decoded value parse", header,
                         count, blocks);
    return KEEP_OK;
}

int steward_pcs_issuer_chain(const char *header, const char *value, size_t len,
                             struct steward_bytes *pem, struct keep_error *err)
{
    memset(pem, 0, sizeof(*pem));
    if (!value || len == 0)
        return keep_fail(err, KEEP_E_STEWARD_PCS_HEADER, "%s: header missing or empty", header);
    if (len > STEWARD_PCS_HEADER_MAX)
        return keep_fail(err, KEEP_E_STEWARD_PCS_HEADER, "%s: %zu bytes, more than %d", header, len,
                         STEWARD_PCS_HEADER_MAX);
    uint8_t *out = malloc(len + 1); /* decoding never grows */
    if (!out)
        return keep_fail(err, KEEP_E_NOMEM, "%s: out of memory", header);
    size_t n = 0;
    int rc = percent_decode(header, value, len, out, &n, err);
    if (rc == KEEP_OK)
        rc = check_chain(header, out, n, err);
    if (rc) {
        free(out);
        return rc;
    }
    out[n] = '\0';
    pem->data = out;
    pem->size = n;
    return KEEP_OK;
}

int steward_pcs_target_of(const uint8_t *quote, size_t size, struct steward_pcs_target *t)
{
    struct keep_quote q;
    struct keep_error err;
    if (!quote || keep_quote_parse_ex(quote, size, KEEP_QUOTE_PARSE_ALLOW_TRAILING, &q, &err) ||
        !q.pck_chain_pem || q.pck_chain_size == 0)
        return -1;
    BIO *bio = BIO_new_mem_buf(q.pck_chain_pem, (int)q.pck_chain_size);
    X509 *pck = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    struct keep_pck_info info;
    int rc = pck ? keep_pck_parse_extension(pck, &info, &err) : -1;
    X509_free(pck);
    ERR_clear_error();
    if (rc)
        return -1;
    t->tdx = q.body_kind == KEEP_QUOTE_BODY_KIND_TD10 || q.body_kind == KEEP_QUOTE_BODY_KIND_TD15;
    keep_hex_encode(info.fmspc, sizeof(info.fmspc), t->fmspc);
    for (char *p = t->fmspc; *p; p++) /* as Intel writes FMSPCs (the API takes either case) */
        *p = (char)toupper((unsigned char)*p);
    t->pck_ca = info.ca == KEEP_PCK_CA_PLATFORM ? "platform" : "processor";
    return 0;
}

int steward_pcs_cache_key(const char *base, const struct steward_pcs_target *t, char *key,
                          size_t size)
{
    int n = snprintf(key, size, "%s/%s/certification/v4/tcb?fmspc=%s#pck-ca=%s", base,
                     t->tdx ? "tdx" : "sgx", t->fmspc, t->pck_ca);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* One GET whose issuer chain header is decoded and checked. */
static int get_with_chain(const char *url, const char *header, int timeout,
                          struct steward_bytes *body, struct steward_bytes *chain,
                          struct keep_error *err)
{
    char *value = NULL;
    int rc = steward_fetch_header(url, timeout, header, body, &value, err);
    if (rc)
        return rc;
    rc = steward_pcs_issuer_chain(header, value, value ? strlen(value) : 0, chain, err);
    free(value);
    if (rc) {
        free(body->data);
        body->data = NULL;
    }
    return rc;
}

static int64_t earliest(int64_t a, int64_t b)
{
    return a == 0 || (b != 0 && b < a) ? b : a;
}

static int64_t crl_next_update(const struct steward_bytes *der)
{
    const unsigned char *p = der->data;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)der->size);
    const ASN1_TIME *next = crl ? X509_CRL_get0_nextUpdate(crl) : NULL;
    struct tm tm;
    int64_t t = next && ASN1_TIME_to_tm(next, &tm) ? (int64_t)timegm(&tm) : -1;
    X509_CRL_free(crl);
    return t;
}

/* The served documents must parse and name the evidence's TEE (and FMSPC); their
 * nextUpdate bounds how long the assembly is cached. */
static int check_documents(const struct steward_pcs_target *t, const struct steward_bytes *tcb,
                           const struct steward_bytes *qe, const struct steward_bytes *crl,
                           const struct steward_bytes *root_crl, int64_t *not_after,
                           struct keep_error *err)
{
    struct keep_tcb_info *info = NULL;
    struct keep_qe_identity *qeid = NULL;
    struct keep_error why = {0};
    const char *what = "TCB Info";
    int rc = keep_tcb_info_parse((const char *)tcb->data, tcb->size, &info, &why);
    if (rc == KEEP_OK) {
        what = "QE Identity";
        rc = keep_qe_identity_parse((const char *)qe->data, qe->size, &qeid, &why);
    }
    if (rc) {
        keep_tcb_info_free(info);
        return keep_fail(err, KEEP_E_STEWARD_PCS_REPLY, "the PCS's %s does not parse: %s: %s", what,
                         keep_err_name(rc), why.message);
    }
    char fmspc[13];
    keep_hex_encode(info->fmspc, sizeof(info->fmspc), fmspc);
    int64_t crl_next = crl_next_update(crl), root_next = crl_next_update(root_crl);
    if (strcasecmp(fmspc, t->fmspc) != 0)
        rc = keep_fail(err, KEEP_E_STEWARD_PCS_REPLY, "TCB Info fmspc is %s, the PCK's is %s",
                       fmspc, t->fmspc);
    else if (crl_next < 0 || root_next < 0)
        rc = keep_fail(err, KEEP_E_STEWARD_PCS_REPLY,
                       "the %s does not parse as a DER CRL with nextUpdate",
                       crl_next < 0 ? "PCK CRL (encoding=der)" : "Root CA CRL");
    else
        *not_after =
            earliest(earliest(info->next_update, qeid->next_update), earliest(crl_next, root_next));
    keep_tcb_info_free(info);
    keep_qe_identity_free(qeid);
    return rc;
}

/* DER, or the hex of DER (PCCS serves the Root CA CRL as hex) -> DER in place. */
static void der_of_hex(struct steward_bytes *b)
{
    uint8_t *der = NULL;
    size_t n = 0;
    if (b->size && b->data[0] != 0x30 &&
        keep_hex_decode_alloc((const char *)b->data, b->size, &der, &n, "root_ca_crl", NULL) ==
            KEEP_OK) {
        free(b->data);
        b->data = der;
        b->size = n;
    }
}

/* The URI of a certificate's first CRL distribution point (RFC 5280 section 4.2.1.13). */
static char *crl_point_of(X509 *cert)
{
    STACK_OF(DIST_POINT) *points = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
    char *uri = NULL;
    DIST_POINT *dp =
        points && sk_DIST_POINT_num(points) > 0 ? sk_DIST_POINT_value(points, 0) : NULL;
    if (dp && dp->distpoint && dp->distpoint->type == 0) {
        GENERAL_NAMES *names = dp->distpoint->name.fullname;
        for (int i = 0; !uri && i < sk_GENERAL_NAME_num(names); i++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
            if (gn->type == GEN_URI)
                uri = strndup((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
                              (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier));
        }
    }
    sk_DIST_POINT_pop_free(points, DIST_POINT_free);
    return uri;
}

/*
 * The Intel SGX Root CA CRL: a PCCS serves it at /sgx/certification/v4/rootcacrl; Intel's PCS
 * does not, and the root certificate (last in the PCK CRL issuer chain) names where it is
 * (its CRL distribution point, https://certificates.trustedservices.intel.com/...).
 */
static int get_root_ca_crl(const char *base, const struct steward_bytes *crl_chain, int timeout,
                           struct steward_bytes *out, struct keep_error *err)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s/sgx/certification/v4/rootcacrl", base);
    if (steward_fetch(url, timeout, out, NULL) == KEEP_OK) {
        der_of_hex(out);
        return KEEP_OK;
    }
    BIO *bio = BIO_new_mem_buf(crl_chain->data, (int)crl_chain->size);
    X509 *cert, *root = NULL;
    while (bio && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL))) {
        X509_free(root);
        root = cert;
    }
    ERR_clear_error();
    BIO_free(bio);
    char *point = root ? crl_point_of(root) : NULL;
    X509_free(root);
    if (!point)
        return keep_fail(err, KEEP_E_STEWARD_COLLATERAL_FETCH,
                         "GET %.200s failed and the SGX-PCK-CRL-Issuer-Chain root names no CRL "
                         "distribution point",
                         url);
    int rc = steward_fetch(point, timeout, out, err);
    free(point);
    if (rc == KEEP_OK)
        der_of_hex(out);
    return rc;
}

static json_t *text_of(const struct steward_bytes *b)
{
    return json_stringn((const char *)b->data, b->size);
}

int steward_pcs_fetch(const char *base, const struct steward_pcs_target *t, int timeout_seconds,
                      struct steward_bytes *blob, int64_t *not_after, struct keep_error *err)
{
    const char *tee = t->tdx ? "tdx" : "sgx";
    char tcb_url[1024], qe_url[1024], crl_url[1024];
    snprintf(tcb_url, sizeof(tcb_url), "%s/%s/certification/v4/tcb?fmspc=%s", base, tee, t->fmspc);
    snprintf(qe_url, sizeof(qe_url), "%s/%s/certification/v4/qe/identity", base, tee);
    snprintf(crl_url, sizeof(crl_url), "%s/sgx/certification/v4/pckcrl?ca=%s&encoding=der", base,
             t->pck_ca);
    struct steward_bytes tcb = {0}, tcb_chain = {0}, qe = {0}, qe_chain = {0}, crl = {0},
                         crl_chain = {0}, root_crl = {0};
    int rc =
        get_with_chain(tcb_url, "TCB-Info-Issuer-Chain", timeout_seconds, &tcb, &tcb_chain, err);
    if (rc == KEEP_OK)
        rc = get_with_chain(qe_url, "SGX-Enclave-Identity-Issuer-Chain", timeout_seconds, &qe,
                            &qe_chain, err);
    if (rc == KEEP_OK)
        rc = get_with_chain(crl_url, "SGX-PCK-CRL-Issuer-Chain", timeout_seconds, &crl, &crl_chain,
                            err);
    if (rc == KEEP_OK)
        rc = get_root_ca_crl(base, &crl_chain, timeout_seconds, &root_crl, err);
    if (rc == KEEP_OK)
        rc = check_documents(t, &tcb, &qe, &crl, &root_crl, not_after, err);
    char *crl64 = rc == KEEP_OK ? steward_base64_encode(crl.data, crl.size) : NULL;
    char *root64 = rc == KEEP_OK ? steward_base64_encode(root_crl.data, root_crl.size) : NULL;
    json_t *o =
        crl64 && root64
            ? json_pack("{s:o,s:o,s:o,s:o,s:o,s:s,s:s}", "tcb_info", text_of(&tcb), "qe_identity",
                        text_of(&qe), "tcb_signing_chain", text_of(&tcb_chain),
                        "qe_identity_issuer_chain", text_of(&qe_chain), "pck_crl_issuer_chain",
                        text_of(&crl_chain), "pck_crl", crl64, "root_ca_crl", root64)
            : NULL;
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (rc == KEEP_OK && !text)
        rc = keep_fail(err, KEEP_E_NOMEM, "PCS collateral: out of memory");
    if (rc == KEEP_OK) {
        blob->data = (uint8_t *)text;
        blob->size = strlen(text);
    }
    json_decref(o);
    free(crl64);
    free(root64);
    free(root_crl.data);
    free(tcb.data), free(tcb_chain.data), free(qe.data), free(qe_chain.data), free(crl.data),
        free(crl_chain.data);
    return rc;
}

static int take_string(json_t *o, const char *key, struct steward_bytes *out,
                       struct keep_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return keep_fail(err, KEEP_E_STEWARD_STORE, "cached PCS collateral lacks %s", key);
    size_t n = json_string_length(v);
    if (!(out->data = malloc(n + 1)))
        return keep_fail(err, KEEP_E_NOMEM, "out of memory");
    memcpy(out->data, json_string_value(v), n + 1);
    out->size = n;
    return KEEP_OK;
}

static int take_base64(json_t *o, const char *key, struct steward_bytes *out,
                       struct keep_error *err)
{
    struct steward_bytes text = {0};
    int rc = take_string(o, key, &text, err);
    if (rc == KEEP_OK)
        rc = steward_base64_decode((const char *)text.data, text.size, key, out, err);
    free(text.data);
    return rc;
}

int steward_pcs_apply(const struct steward_bytes *blob, struct steward_cert_request *req,
                      struct keep_error *err)
{
    json_t *o = json_loadb((const char *)blob->data, blob->size, 0, NULL);
    int rc = KEEP_OK;
    if ((rc = take_string(o, "tcb_info", &req->tcb_info, err)) ||
        (rc = take_string(o, "qe_identity", &req->qe_identity, err)) ||
        (rc = take_string(o, "tcb_signing_chain", &req->tcb_signing_chain, err)) ||
        (rc = take_string(o, "pck_crl_issuer_chain", &req->pck_crl_issuer_chain, err)) ||
        (rc = take_base64(o, "pck_crl", &req->pck_crl, err)) ||
        (rc = take_base64(o, "root_ca_crl", &req->root_ca_crl, err)))
        steward_pcs_release(req);
    json_decref(o);
    return rc;
}

void steward_pcs_release(struct steward_cert_request *req)
{
    struct steward_bytes *items[] = {
        &req->tcb_info, &req->qe_identity,          &req->tcb_signing_chain,
        &req->pck_crl,  &req->pck_crl_issuer_chain, &req->root_ca_crl};
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
        free(items[i]->data);
        *items[i] = (struct steward_bytes){0};
    }
}
