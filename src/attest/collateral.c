/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Intel DCAP collateral: the two transport forms and the CRLs. The signed
 * documents themselves (TCB Info, QE Identity) are attest/intel_doc.c's.
 * See collateral.h for what is checked.
 */
#include "attest/collateral.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509v3.h>

#include "attest/intel_doc.h"
#include "attest/x509.h"
#include "common/cursor.h"
#include "common/util.h"

/* ---- The collateral set ---- */

int keep_collateral_new(struct keep_collateral **out, struct keep_error *err)
{
    *out = calloc(1, sizeof(**out));
    if (!*out)
        return keep_fail(err, KEEP_E_NOMEM, "collateral: out of memory");
    return KEEP_OK;
}

void keep_collateral_free(struct keep_collateral *coll)
{
    if (!coll)
        return;
    keep_tcb_info_free(coll->tcb_info);
    keep_qe_identity_free(coll->qe_identity);
    X509_CRL_free(coll->root_ca_crl);
    X509_CRL_free(coll->pck_crl);
    sk_X509_pop_free(coll->pck_crl_issuer_chain, X509_free);
    free(coll);
}

int keep_collateral_set_tcb_info(struct keep_collateral *coll, const char *text, size_t size,
                                 struct keep_error *err)
{
    struct keep_tcb_info *info = NULL;
    int rc = keep_tcb_info_parse(text, size, &info, err);
    if (rc)
        return rc;
    keep_tcb_info_free(coll->tcb_info);
    coll->tcb_info = info;
    return KEEP_OK;
}

int keep_collateral_set_qe_identity(struct keep_collateral *coll, const char *text, size_t size,
                                    struct keep_error *err)
{
    struct keep_qe_identity *qe = NULL;
    int rc = keep_qe_identity_parse(text, size, &qe, err);
    if (rc)
        return rc;
    keep_qe_identity_free(coll->qe_identity);
    coll->qe_identity = qe;
    return KEEP_OK;
}

int keep_collateral_set_tcb_info_issuer_chain(struct keep_collateral *coll, const uint8_t *data,
                                              size_t size, struct keep_error *err)
{
    if (!coll->tcb_info)
        return keep_fail(err, KEEP_E_USAGE, "tcb_info_issuer_chain given before tcb_info");
    return keep_tcb_info_set_issuer_chain(coll->tcb_info, data, size, err);
}

int keep_collateral_set_qe_identity_issuer_chain(struct keep_collateral *coll, const uint8_t *data,
                                                 size_t size, struct keep_error *err)
{
    if (!coll->qe_identity)
        return keep_fail(err, KEEP_E_USAGE, "qe_identity_issuer_chain given before qe_identity");
    return keep_qe_identity_set_issuer_chain(coll->qe_identity, data, size, err);
}

int keep_collateral_set_pck_crl_issuer_chain(struct keep_collateral *coll, const uint8_t *data,
                                             size_t size, struct keep_error *err)
{
    return keep_coll_replace_chain(&coll->pck_crl_issuer_chain, "pck_crl_issuer_chain", data, size,
                                   err);
}

static bool all_hex(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (!isxdigit(data[i]) && !isspace(data[i]))
            return false;
    }
    return size > 0;
}

/* A CRL as DER, PEM, or hex text of DER (collateral.json). */
static int parse_crl_any(const uint8_t *data, size_t size, const char *what, X509_CRL **out,
                         struct keep_error *err)
{
    size_t text_len = size;
    if (!data || size == 0)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "%s is empty", what);
    /* A DER CRL starts with a SEQUENCE tag (0x30), which is also the digit '0'. */
    bool hex = all_hex(data, size);
    if (!hex)
        return keep_x509_parse_crl(data, size, what, out, err);
    while (text_len > 0 && isspace(data[text_len - 1]))
        text_len--;
    uint8_t *der;
    size_t der_size;
    int rc = keep_hex_decode_alloc((const char *)data, text_len, &der, &der_size, what, err);
    if (rc)
        return rc;
    rc = keep_x509_parse_crl(der, der_size, what, out, err);
    free(der);
    return rc;
}

/* Parse a CRL (as parse_crl_any) and put it in *slot, freeing the one there. */
static int replace_crl(X509_CRL **slot, const uint8_t *data, size_t size, const char *what,
                       struct keep_error *err)
{
    X509_CRL *crl = NULL;
    int rc = parse_crl_any(data, size, what, &crl, err);
    if (rc)
        return rc;
    X509_CRL_free(*slot);
    *slot = crl;
    return KEEP_OK;
}

int keep_collateral_set_root_ca_crl(struct keep_collateral *coll, const uint8_t *data, size_t size,
                                    struct keep_error *err)
{
    return replace_crl(&coll->root_ca_crl, data, size, "root_ca_crl", err);
}

int keep_collateral_set_pck_crl(struct keep_collateral *coll, const uint8_t *data, size_t size,
                                struct keep_error *err)
{
    return replace_crl(&coll->pck_crl, data, size, "pck_crl", err);
}

/* collateral.json: a string member, or absent/null. */
static int optional_string(json_t *root, const char *key, const char **out, size_t *len,
                           struct keep_error *err)
{
    json_t *v = json_object_get(root, key);
    *out = NULL;
    *len = 0;
    if (!v || json_is_null(v))
        return KEEP_OK;
    if (!json_is_string(v))
        return keep_fail(err, KEEP_E_COLLATERAL_JSON_TYPE, "collateral.%s is %s; must be a string",
                         key, keep_coll_type_name(v));
    *out = json_string_value(v);
    *len = json_string_length(v);
    return KEEP_OK;
}

typedef int (*bytes_setter)(struct keep_collateral *, const uint8_t *, size_t, struct keep_error *);

static int set_optional(struct keep_collateral *coll, json_t *root, const char *key,
                        bytes_setter set, struct keep_error *err)
{
    const char *s;
    size_t len;
    int rc = optional_string(root, key, &s, &len, err);
    if (rc || !s)
        return rc;
    return set(coll, (const uint8_t *)s, len, err);
}

static int parse_json_items(struct keep_collateral *coll, json_t *root, struct keep_error *err)
{
    const char *text, *sig;
    size_t len, sig_len;
    int rc;

    if ((rc = optional_string(root, "tcb_info", &text, &len, err)) ||
        (rc = optional_string(root, "tcb_info_signature", &sig, &sig_len, err)))
        return rc;
    if (text && (rc = keep_tcb_info_parse_body(text, len, sig, &coll->tcb_info, err)))
        return rc;
    if ((rc = optional_string(root, "qe_identity", &text, &len, err)) ||
        (rc = optional_string(root, "qe_identity_signature", &sig, &sig_len, err)))
        return rc;
    if (text && (rc = keep_qe_identity_parse_body(text, len, sig, &coll->qe_identity, err)))
        return rc;
    if (coll->tcb_info && (rc = set_optional(coll, root, "tcb_info_issuer_chain",
                                             keep_collateral_set_tcb_info_issuer_chain, err)))
        return rc;
    if (coll->qe_identity && (rc = set_optional(coll, root, "qe_identity_issuer_chain",
                                                keep_collateral_set_qe_identity_issuer_chain, err)))
        return rc;
    if ((rc = set_optional(coll, root, "pck_crl_issuer_chain",
                           keep_collateral_set_pck_crl_issuer_chain, err)) ||
        (rc = set_optional(coll, root, "root_ca_crl", keep_collateral_set_root_ca_crl, err)) ||
        (rc = set_optional(coll, root, "pck_crl", keep_collateral_set_pck_crl, err)))
        return rc;
    return KEEP_OK;
}

int keep_collateral_parse_json(const char *text, size_t size, struct keep_collateral **out,
                               struct keep_error *err)
{
    json_t *root;
    struct keep_collateral *coll = NULL;
    int rc = keep_coll_json_load(text, size, "collateral", &root, err);
    if (rc)
        return rc;
    rc = keep_collateral_new(&coll, err);
    if (!rc)
        rc = parse_json_items(coll, root, err);
    json_decref(root);
    if (rc) {
        keep_collateral_free(coll);
        return rc;
    }
    *out = coll;
    return KEEP_OK;
}

static int set_from_file(struct keep_collateral *coll, const char *path, bytes_setter set,
                         struct keep_error *err)
{
    uint8_t *data;
    size_t size;
    if (!path)
        return KEEP_OK;
    int rc = keep_read_file(path, KEEP_COLLATERAL_MAX_SIZE, &data, &size, err);
    if (rc)
        return rc;
    rc = set(coll, data, size, err);
    free(data);
    return rc;
}

static int set_tcb_info_bytes(struct keep_collateral *coll, const uint8_t *data, size_t size,
                              struct keep_error *err)
{
    return keep_collateral_set_tcb_info(coll, (const char *)data, size, err);
}

static int set_qe_identity_bytes(struct keep_collateral *coll, const uint8_t *data, size_t size,
                                 struct keep_error *err)
{
    return keep_collateral_set_qe_identity(coll, (const char *)data, size, err);
}

int keep_collateral_from_files(const struct keep_collateral_files *files,
                               struct keep_collateral **out, struct keep_error *err)
{
    struct keep_collateral *coll = NULL;
    int rc = keep_collateral_new(&coll, err);
    if (rc)
        return rc;
    if ((rc = set_from_file(coll, files->tcb_info, set_tcb_info_bytes, err)) ||
        (rc = set_from_file(coll, files->qe_identity, set_qe_identity_bytes, err)) ||
        (rc = set_from_file(coll, files->tcb_info_issuer_chain,
                            keep_collateral_set_tcb_info_issuer_chain, err)) ||
        (rc = set_from_file(coll, files->qe_identity_issuer_chain,
                            keep_collateral_set_qe_identity_issuer_chain, err)) ||
        (rc = set_from_file(coll, files->pck_crl_issuer_chain,
                            keep_collateral_set_pck_crl_issuer_chain, err)) ||
        (rc = set_from_file(coll, files->root_ca_crl, keep_collateral_set_root_ca_crl, err)) ||
        (rc = set_from_file(coll, files->pck_crl, keep_collateral_set_pck_crl, err))) {
        keep_collateral_free(coll);
        return rc;
    }
    *out = coll;
    return KEEP_OK;
}

/* The root in `roots` whose subject is the CRL's issuer and whose key signed it. */
static X509 *crl_signer_in(STACK_OF(X509) * certs, X509_CRL *crl)
{
    for (int i = 0; certs && i < sk_X509_num(certs); i++) {
        X509 *c = sk_X509_value(certs, i);
        if (X509_NAME_cmp(X509_get_subject_name(c), X509_CRL_get_issuer(crl)) == 0)
            return c;
    }
    return NULL;
}

static int verify_root_ca_crl(const struct keep_collateral *coll, STACK_OF(X509) * roots,
                              int64_t time, struct keep_error *err)
{
    if (!coll->root_ca_crl)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "root_ca_crl was not given");
    X509 *root = crl_signer_in(roots, coll->root_ca_crl);
    if (!root)
        return keep_fail(err, KEEP_E_COLLATERAL_CRL_ISSUER,
                         "root_ca_crl is not issued by any of the trusted roots");
    return keep_x509_check_crl(coll->root_ca_crl, root, time, "root_ca_crl", err);
}

/* [PCS] "PCK CRL": issued by the PCK Platform or Processor CA, itself issued by the root. */
static int verify_pck_crl(const struct keep_collateral *coll, STACK_OF(X509) * roots, int64_t time,
                          struct keep_error *err)
{
    if (!coll->pck_crl)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "pck_crl was not given");
    if (!coll->pck_crl_issuer_chain || sk_X509_num(coll->pck_crl_issuer_chain) < 1)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING,
                         "pck_crl_issuer_chain was not given: the PCK CRL cannot be checked");
    STACK_OF(X509) *chain = coll->pck_crl_issuer_chain;
    X509 *ca = sk_X509_value(chain, 0);
    if (X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(coll->pck_crl)) != 0)
        return keep_fail(err, KEEP_E_COLLATERAL_CRL_ISSUER,
                         "pck_crl is not issued by the first certificate of pck_crl_issuer_chain");
    STACK_OF(X509) *rest = sk_X509_new_null();
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    int rc = KEEP_OK;
    if (!rest || !crls) {
        rc = keep_fail(err, KEEP_E_NOMEM, "pck_crl: out of memory");
        goto out;
    }
    for (int i = 1; i < sk_X509_num(chain); i++) {
        if (!sk_X509_push(rest, sk_X509_value(chain, i))) {
            rc = keep_fail(err, KEEP_E_NOMEM, "pck_crl: out of memory");
            goto out;
        }
    }
    if (coll->root_ca_crl && !sk_X509_CRL_push(crls, coll->root_ca_crl)) {
        rc = keep_fail(err, KEEP_E_NOMEM, "pck_crl: out of memory");
        goto out;
    }
    struct keep_x509_verify_opts opts = {.time = time, .crls = crls, .require_crls = false};
    rc = keep_x509_verify_chain(ca, rest, roots, &opts, "pck_crl_issuer_chain", err);
    if (!rc)
        rc = keep_x509_check_crl(coll->pck_crl, ca, time, "pck_crl", err);
out:
    sk_X509_free(rest);
    sk_X509_CRL_free(crls);
    return rc;
}

int keep_collateral_verify(const struct keep_collateral *coll, STACK_OF(X509) * roots, int64_t time,
                           struct keep_error *err)
{
    int rc;
    if (!coll->tcb_info)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "tcb_info was not given");
    if (!coll->qe_identity)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "qe_identity was not given");
    if ((rc = verify_root_ca_crl(coll, roots, time, err)) ||
        (rc = keep_tcb_info_verify(coll->tcb_info, roots, coll->root_ca_crl, time, err)) ||
        (rc = keep_qe_identity_verify(coll->qe_identity, roots, coll->root_ca_crl, time, err)) ||
        (rc = verify_pck_crl(coll, roots, time, err)))
        return rc;
    return KEEP_OK;
}

static void report_add(json_t *checks, const char *check, int rc, const struct keep_error *err)
{
    const char *result = rc == KEEP_OK                     ? "ok"
                         : rc == KEEP_E_COLLATERAL_MISSING ? "skipped"
                                                           : "failed";
    json_t *o = json_pack("{s:s, s:s}", "check", check, "result", result);
    if (o && rc != KEEP_OK) {
        json_object_set_new(o, "error", json_string(keep_err_name(rc)));
        json_object_set_new(o, "message", json_string(err->message));
    }
    json_array_append_new(checks, o);
}

static int tcb_info_signature(const struct keep_collateral *coll, STACK_OF(X509) * roots,
                              int64_t time, struct keep_error *err)
{
    const struct keep_tcb_info *i = coll->tcb_info;
    if (!i)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "tcb_info was not given");
    return keep_intel_doc_verify(&i->doc, roots, coll->root_ca_crl, time, err);
}

static int qe_identity_signature(const struct keep_collateral *coll, STACK_OF(X509) * roots,
                                 int64_t time, struct keep_error *err)
{
    const struct keep_qe_identity *q = coll->qe_identity;
    if (!q)
        return keep_fail(err, KEEP_E_COLLATERAL_MISSING, "qe_identity was not given");
    return keep_intel_doc_verify(&q->doc, roots, coll->root_ca_crl, time, err);
}

json_t *keep_collateral_report(const struct keep_collateral *coll, STACK_OF(X509) * roots,
                               int64_t time)
{
    struct keep_error err = {0};
    json_t *checks = json_array();
    int rc;
    if (!checks)
        return NULL;
    report_add(checks, "tcb_info.signature", tcb_info_signature(coll, roots, time, &err), &err);
    rc = coll->tcb_info ? keep_tcb_info_check_fresh(coll->tcb_info, time, &err)
                        : keep_fail(&err, KEEP_E_COLLATERAL_MISSING, "tcb_info was not given");
    report_add(checks, "tcb_info.freshness", rc, &err);
    report_add(checks, "qe_identity.signature", qe_identity_signature(coll, roots, time, &err),
               &err);
    rc = coll->qe_identity
             ? keep_qe_identity_check_fresh(coll->qe_identity, time, &err)
             : keep_fail(&err, KEEP_E_COLLATERAL_MISSING, "qe_identity was not given");
    report_add(checks, "qe_identity.freshness", rc, &err);
    report_add(checks, "root_ca_crl", verify_root_ca_crl(coll, roots, time, &err), &err);
    report_add(checks, "pck_crl", verify_pck_crl(coll, roots, time, &err), &err);
    return checks;
}

int keep_collateral_crls(const struct keep_collateral *coll, STACK_OF(X509_CRL) * *out,
                         struct keep_error *err)
{
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    X509_CRL *items[] = {coll->root_ca_crl, coll->pck_crl};
    if (!crls)
        return keep_fail(err, KEEP_E_NOMEM, "collateral CRLs: out of memory");
    for (size_t i = 0; i < KEEP_ARRAY_LEN(items); i++) {
        if (!items[i])
            continue;
        if (!X509_CRL_up_ref(items[i]) || !sk_X509_CRL_push(crls, items[i])) {
            sk_X509_CRL_pop_free(crls, X509_CRL_free);
            return keep_fail(err, KEEP_E_NOMEM, "collateral CRLs: out of memory");
        }
    }
    *out = crls;
    return KEEP_OK;
}

static json_t *crl_summary(X509_CRL *crl)
{
    json_t *o = json_object();
    json_object_set_new(o, "present", json_boolean(crl != NULL));
    if (crl) {
        const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
        struct tm tm;
        if (next && ASN1_TIME_to_tm(next, &tm)) {
            char buf[32];
            strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
            json_object_set_new(o, "next_update", json_string(buf));
        }
        json_object_set_new(o, "entries",
                            json_integer(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl))));
    }
    return o;
}

json_t *keep_collateral_summary(const struct keep_collateral *coll)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "tcb_info",
                        coll->tcb_info ? keep_tcb_info_summary(coll->tcb_info) : json_null());
    json_object_set_new(o, "qe_identity",
                        coll->qe_identity ? keep_qe_identity_summary(coll->qe_identity)
                                          : json_null());
    json_object_set_new(o, "root_ca_crl", crl_summary(coll->root_ca_crl));
    json_object_set_new(o, "pck_crl", crl_summary(coll->pck_crl));
    json_object_set_new(o, "pck_crl_issuer_chain",
                        json_boolean(coll->pck_crl_issuer_chain != NULL));
    return o;
}
