/* SPDX-License-Identifier: Apache-2.0 */
#include "steward/steward.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "steward/fetch.h"
#include "steward/pcs.h"

#ifndef KEEP_VERSION
#define KEEP_VERSION "0"
#endif

/* ---- workload policies ---------------------------------------------------- */

void steward_workload_free(struct steward_workload *w)
{
    free(w->attest_json);
    steward_names_free(w->secrets, w->secret_count);
    steward_names_free(w->dns, w->dns_count);
    memset(w, 0, sizeof(*w));
}

static int string_list(json_t *v, const char *key, bool names, char ***out, size_t *count,
                       struct keep_error *err)
{
    *out = NULL;
    *count = 0;
    if (!v)
        return KEEP_OK;
    if (!json_is_array(v) || json_array_size(v) > 64)
        return keep_fail(err, KEEP_E_STEWARD_POLICY,
                         "policy.%s is not an array of at most 64 "
                         "strings",
                         key);
    *out = calloc(json_array_size(v) + 1, sizeof(char *));
    if (!*out)
        return keep_fail(err, KEEP_E_NOMEM, "out of memory");
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        const char *text = json_string_value(item);
        bool ok = text && (names ? steward_name_ok(text)
                                 : strlen(text) > 0 && strlen(text) < 254 &&
                                       strspn(text, "abcdefghijklmnopqrstuvwxyz"
                                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                    "0123456789.-*") == strlen(text));
        if (!ok)
            return keep_fail(err, KEEP_E_STEWARD_POLICY, "policy.%s[%zu] is not a valid %s", key, i,
                             names ? "name ([A-Za-z0-9._-], 1-64)" : "DNS name");
        (*out)[(*count)++] = strdup(text);
    }
    return KEEP_OK;
}

int steward_workload_parse(const char *doc, struct steward_workload *out, struct keep_error *err)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root = json_loads(doc, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        return keep_fail(err, KEEP_E_STEWARD_POLICY, "policy is not a JSON object: %s",
                         root ? "not an object" : jerr.text);
    }
    int rc = KEEP_OK;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "attest") && strcmp(key, "secrets") && strcmp(key, "dns") &&
            strcmp(key, "lifetime")) {
            rc = keep_fail(err, KEEP_E_STEWARD_POLICY, "policy.%.64s is not a known key", key);
            goto out;
        }
    }
    json_t *attest = json_object_get(root, "attest");
    if (attest && !json_is_object(attest)) {
        rc = keep_fail(err, KEEP_E_STEWARD_POLICY, "policy.attest is not an object");
        goto out;
    }
    /* The service binds report_data and decides allow_insecure itself. */
    if (attest &&
        (json_object_get(attest, "report_data") || json_object_get(attest, "allow_insecure"))) {
        rc = keep_fail(err, KEEP_E_STEWARD_POLICY,
                       "policy.attest.%s is set by the service (nonce binding, --insecure-kvm)",
                       json_object_get(attest, "report_data") ? "report_data" : "allow_insecure");
        goto out;
    }
    out->attest_json = attest ? json_dumps(attest, JSON_COMPACT) : strdup("{}");
    json_t *lifetime = json_object_get(root, "lifetime");
    if (lifetime && (!json_is_integer(lifetime) || json_integer_value(lifetime) < 60 ||
                     json_integer_value(lifetime) > STEWARD_MAX_LIFETIME)) {
        rc = keep_fail(err, KEEP_E_STEWARD_POLICY, "policy.lifetime is not 60..%d seconds",
                       STEWARD_MAX_LIFETIME);
        goto out;
    }
    out->lifetime = lifetime ? json_integer_value(lifetime) : 0;
    if ((rc = string_list(json_object_get(root, "secrets"), "secrets", true, &out->secrets,
                          &out->secret_count, err)) ||
        (rc = string_list(json_object_get(root, "dns"), "dns", false, &out->dns, &out->dns_count,
                          err)))
        goto out;
    /* The attest part must be a policy libkeep-attest accepts. */
    struct keep_attest_policy *p = NULL;
    if (keep_attest_policy_parse(out->attest_json, strlen(out->attest_json), &p, err) != KEEP_OK) {
        rc = keep_fail(err, KEEP_E_STEWARD_POLICY, "policy.attest: %s", err ? err->message : "");
        goto out;
    }
    keep_attest_policy_free(p);
out:
    json_decref(root);
    if (rc)
        steward_workload_free(out);
    return rc;
}

/* ---- life cycle ------------------------------------------------------------ */

int steward_open(const char *state_dir, const struct steward_config *cfg, struct steward **out,
                 struct keep_error *err)
{
    struct steward *s = calloc(1, sizeof(*s));
    if (!s)
        return keep_fail(err, KEEP_E_NOMEM, "out of memory");
    s->cfg = *cfg;
    if (s->cfg.lifetime <= 0 || s->cfg.lifetime > STEWARD_MAX_LIFETIME)
        s->cfg.lifetime = STEWARD_MAX_LIFETIME;
    snprintf(s->state_dir, sizeof(s->state_dir), "%s", state_dir);
    char db[4200];
    snprintf(db, sizeof(db), "%s/steward.db", state_dir);
    int rc = steward_ca_open(state_dir, &s->ca, err);
    if (rc == KEEP_OK)
        rc = steward_store_open(db, &s->store, err);
    if (rc == KEEP_OK)
        rc = keep_attest_verifier_new(cfg->roots_dir, &s->verifier, err);
    if (rc) {
        steward_close(s);
        return rc;
    }
    *out = s;
    return KEEP_OK;
}

void steward_close(struct steward *s)
{
    if (!s)
        return;
    keep_attest_verifier_free(s->verifier);
    steward_store_close(s->store);
    steward_ca_close(&s->ca);
    free(s);
}

int steward_nonce_new(struct steward *s, int64_t now, char hex[2 * STEWARD_NONCE_SIZE + 1],
                      int64_t *expires, struct keep_error *err)
{
    uint8_t nonce[STEWARD_NONCE_SIZE];
    if (RAND_bytes(nonce, sizeof(nonce)) != 1)
        return keep_fail(err, KEEP_E_STEWARD_CRYPTO, "RAND_bytes failed");
    *expires = now + STEWARD_NONCE_LIFETIME;
    /* Expired nonces older than an hour are forgotten: they would be refused anyway. */
    int rc = steward_nonce_purge(s->store, now - 3600, err);
    int64_t outstanding = 0, limit = s->cfg.max_nonces > 0 ? s->cfg.max_nonces : STEWARD_MAX_NONCES;
    if (rc == KEEP_OK &&
        (rc = steward_nonce_outstanding(s->store, now, &outstanding, err)) == KEEP_OK &&
        outstanding >= limit)
        rc = keep_fail(err, KEEP_E_STEWARD_NONCE_LIMIT,
                       "%lld nonces are outstanding (limit %lld): each expires %d s after issue",
                       (long long)outstanding, (long long)limit, STEWARD_NONCE_LIFETIME);
    if (rc == KEEP_OK)
        rc = steward_nonce_add(s->store, nonce, sizeof(nonce), *expires, err);
    if (rc == KEEP_OK) {
        keep_hex_encode(nonce, sizeof(nonce), hex);
        s->nonces++;
    }
    return rc;
}

void steward_issued_free(struct steward_issued *i)
{
    X509_free(i->cert);
    free(i->claims_json);
    memset(i, 0, sizeof(*i));
}

/* ---- issuance -------------------------------------------------------------- */

/* An audit entry that must be written for the operation to count: its failure is the
 * operation's failure (within the caller's transaction, which then rolls back). */
static int audit(struct steward *s, int64_t now, const char *event, json_t *detail,
                 struct keep_error *err)
{
    char *text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(detail);
    int rc = text ? steward_audit_append(s->store, now, event, text, err)
                  : keep_fail(err, KEEP_E_STEWARD_STORE, "audit %s: out of memory", event);
    free(text);
    return rc;
}

/* The attest policy with the service's report_data binding and insecure switch. */
static int bound_policy(const struct steward *s, const struct steward_cert_request *req,
                        const char *attest_json, struct keep_attest_policy **out,
                        struct keep_error *err)
{
    json_t *p = json_loads(attest_json, 0, NULL);
    if (!p)
        return keep_fail(err, KEEP_E_STEWARD_POLICY, "stored attest policy does not parse");
    char *hex = malloc(2 * (req->csr.spki_size > 64 ? req->csr.spki_size : 64) + 1);
    if (!hex) {
        json_decref(p);
        return keep_fail(err, KEEP_E_NOMEM, "out of memory");
    }
    if (req->binding == STEWARD_BIND_NONCE) {
        uint8_t rd[64];
        steward_binding_report_data(req->nonce, req->csr.spki_sha384, rd);
        keep_hex_encode(rd, sizeof(rd), hex);
        json_object_set_new(p, "report_data", json_string(hex));
    } else {
        /* Enarx: report_data starts with the hash of the CSR's SPKI DER. */
        keep_hex_encode(req->csr.spki_der, req->csr.spki_size, hex);
        json_object_set_new(
            p, "report_data",
            json_pack("{s:s}",
                      req->binding == STEWARD_BIND_ENARX_SHA384 ? "sha384_of" : "sha256_of", hex));
    }
    free(hex);
    json_object_set_new(p, "allow_insecure", json_boolean(s->cfg.insecure_kvm));
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    int rc = text ? keep_attest_policy_parse(text, strlen(text), out, err)
                  : keep_fail(err, KEEP_E_NOMEM, "out of memory");
    free(text);
    return rc;
}

static json_t *result_errors(const struct keep_attest_result *r)
{
    json_t *list = json_array();
    for (size_t i = 0; i < keep_attest_result_error_count(r); i++) {
        const struct keep_error *e = keep_attest_result_error(r, i);
        json_array_append_new(
            list, json_pack("{s:s,s:s}", "code", keep_err_name(e->code), "message", e->message));
    }
    return list;
}

static int verify_input(const struct steward *s, struct keep_attest_verifier *verifier,
                        const struct steward_cert_request *req, int64_t now,
                        const struct keep_attest_policy *policy, struct keep_attest_result **r,
                        struct keep_error *err)
{
    (void)s;
#define BLOB(f)                  \
    {                            \
        req->f.data, req->f.size \
    }
    struct keep_attest_input in = {
        .format = req->format,
        .evidence = BLOB(evidence),
        .vcek = BLOB(vcek),
        .cert_chain = BLOB(cert_chain),
        .amd_crl = BLOB(amd_crl),
        .collateral_json = BLOB(collateral_json),
        .tcb_info = BLOB(tcb_info),
        .qe_identity = BLOB(qe_identity),
        .tcb_signing_chain = BLOB(tcb_signing_chain),
        .pck_crl = BLOB(pck_crl),
        .pck_crl_issuer_chain = BLOB(pck_crl_issuer_chain),
        .root_ca_crl = BLOB(root_ca_crl),
        .has_time = true,
        .time = now,
    };
#undef BLOB
    return keep_attest_verify(verifier, &in, policy, r, err);
}

struct appraisal {
    struct keep_attest_result *result; /* of the accepting policy */
    char workload[STEWARD_WORKLOAD_MAX + 1];
    struct steward_workload policy;
    struct steward_prechecks *pre; /* verdicts computed before, off the event loop (or NULL) */
};

/* A verdict computed in advance for this workload under exactly this policy document: taken
 * (the caller owns it) so the evidence is not verified twice. */
static struct keep_attest_result *precheck_take(struct steward_prechecks *pre, const char *name,
                                                const char *doc)
{
    for (size_t i = 0; pre && i < pre->count; i++) {
        struct steward_precheck *c = &pre->items[i];
        if (c->result && strcmp(c->name, name) == 0 && strcmp(c->doc, doc) == 0) {
            struct keep_attest_result *r = c->result;
            c->result = NULL;
            return r;
        }
    }
    return NULL;
}

/* Try one workload: KEEP_OK when it accepts; *rejected gets the errors when it rejects. */
static int try_workload(struct steward *s, const struct steward_cert_request *req, int64_t now,
                        const char *name, struct appraisal *a, json_t **rejected,
                        struct keep_error *err)
{
    char *doc = NULL;
    struct steward_workload w;
    struct keep_attest_policy *policy = NULL;
    struct keep_attest_result *r = NULL;
    int rc = steward_policy_get(s->store, name, &doc, err);
    if (rc == KEEP_OK)
        rc = steward_workload_parse(doc, &w, err);
    if (rc == KEEP_OK)
        r = precheck_take(a->pre, name, doc);
    free(doc);
    if (rc)
        return rc;
    if (!r && ((rc = bound_policy(s, req, w.attest_json, &policy, err)) ||
               (rc = verify_input(s, s->verifier, req, now, policy, &r, err))))
        goto out;
    enum keep_attest_verdict v = keep_attest_result_verdict(r);
    if (v == KEEP_ATTEST_INVALID) {
        const struct keep_error *first = keep_attest_result_error(r, 0);
        json_decref(*rejected); /* an earlier policy's rejection, when trying each in turn */
        *rejected = result_errors(r);
        rc = keep_fail(err, KEEP_E_STEWARD_EVIDENCE_INVALID, "evidence is not genuine: %s: %s",
                       first ? keep_err_name(first->code) : "?", first ? first->message : "");
    } else if (keep_attest_result_tee(r) == KEEP_ATTEST_TEE_KVM && !s->cfg.insecure_kvm) {
        rc = keep_fail(err, KEEP_E_STEWARD_INSECURE_KVM,
                       "evidence is unsigned kvm evidence and the service runs without "
                       "--insecure-kvm");
    } else if (v == KEEP_ATTEST_REJECT) {
        json_decref(*rejected);
        *rejected = result_errors(r);
        const struct keep_error *first = keep_attest_result_error(r, 0);
        rc = keep_fail(err, KEEP_E_STEWARD_EVIDENCE_REJECTED, "workload %s rejects: %s: %s", name,
                       first ? keep_err_name(first->code) : "?", first ? first->message : "");
    } else {
        a->result = r;
        r = NULL;
        a->policy = w;
        memset(&w, 0, sizeof(w));
        snprintf(a->workload, sizeof(a->workload), "%s", name);
    }
out:
    keep_attest_result_free(r);
    keep_attest_policy_free(policy);
    steward_workload_free(&w);
    return rc;
}

static int appraise(struct steward *s, const struct steward_cert_request *req, int64_t now,
                    struct appraisal *a, json_t **rejected, struct keep_error *err)
{
    if (req->workload[0])
        return try_workload(s, req, now, req->workload, a, rejected, err);
    char **names;
    size_t count;
    int rc = steward_policy_names(s->store, &names, &count, err);
    if (rc)
        return rc;
    rc = keep_fail(err, KEEP_E_STEWARD_EVIDENCE_REJECTED, "no workload policy is configured");
    for (size_t i = 0; i < count; i++) {
        struct keep_error one;
        rc = try_workload(s, req, now, names[i], a, rejected, &one);
        if (rc == KEEP_OK || rc == KEEP_E_STEWARD_EVIDENCE_INVALID ||
            rc == KEEP_E_STEWARD_INSECURE_KVM)
            break; /* accepted, or no policy can accept this evidence */
    }
    if (rc && rc != KEEP_E_STEWARD_EVIDENCE_INVALID && rc != KEEP_E_STEWARD_INSECURE_KVM && count)
        rc = keep_fail(err, KEEP_E_STEWARD_EVIDENCE_REJECTED,
                       "none of the %zu workload policies accepts the evidence", count);
    else if (rc && count)
        rc = keep_fail(err, rc, "%s",
                       rc == KEEP_E_STEWARD_INSECURE_KVM
                           ? "evidence is unsigned kvm evidence and the service runs without "
                             "--insecure-kvm"
                           : "evidence is not genuine (see errors)");
    steward_names_free(names, count);
    return rc;
}

/* The Keep's measurement as named by its TEE: SNP/kvm measurement, SGX MRENCLAVE, TDX MRTD. */
static const char *claims_measurement(json_t *claims, enum keep_attest_tee tee)
{
    json_t *body = json_object_get(claims, "body");
    if (tee == KEEP_ATTEST_TEE_SGX)
        return json_string_value(json_object_get(body, "mr_enclave"));
    if (tee == KEEP_ATTEST_TEE_TDX)
        return json_string_value(json_object_get(body, "mr_td"));
    return json_string_value(json_object_get(claims, "measurement"));
}

/* draft-ietf-rats-ear: one submodule "keep" with our appraisal. */
static char *ear_claims(const struct appraisal *a, const char *measurement, bool insecure,
                        int64_t now)
{
    const struct keep_attest_result *r = a->result;
    json_t *passed = json_array(), *skipped = json_array(), *advisories = json_array();
    for (size_t i = 0; i < keep_attest_result_check_count(r); i++) {
        const struct keep_attest_check *c = keep_attest_result_check(r, i);
        if (c->state == KEEP_ATTEST_CHECK_PASSED)
            json_array_append_new(passed, json_string(c->name));
        else if (c->state == KEEP_ATTEST_CHECK_SKIPPED)
            json_array_append_new(skipped, json_string(c->name));
    }
    for (size_t i = 0; i < keep_attest_result_advisory_count(r); i++)
        json_array_append_new(advisories, json_string(keep_attest_result_advisory(r, i)));
    const char *tcb = keep_attest_result_tcb_status(r);
    json_t *sub = json_pack(
        "{s:s,s:s,s:s,s:s,s:b,s:o,s:o,s:o,s:o}", "ear.status", insecure ? "warning" : "affirming",
        "keep.tee", keep_attest_tee_name(keep_attest_result_tee(r)), "keep.workload", a->workload,
        "keep.measurement", measurement, "keep.insecure", insecure, "keep.tcb_status",
        tcb ? json_string(tcb) : json_null(), "keep.advisories", advisories, "keep.checks_passed",
        passed, "keep.checks_skipped", skipped);
    json_t *ear = json_pack("{s:s,s:I,s:{s:s,s:s},s:{s:o}}", "eat_profile",
                            "tag:github.com,2023:veraison/ear", "iat", (json_int_t)now,
                            "ear.verifier-id", "developer", "keep", "build",
                            "keep-steward " KEEP_VERSION, "submods", "keep", sub);
    char *text = json_dumps(ear, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(ear);
    return text;
}

static int issue_accepted(struct steward *s, const struct steward_cert_request *req, int64_t now,
                          struct appraisal *a, struct steward_issued *out, struct keep_error *err)
{
    json_t *claims = json_loads(keep_attest_result_claims(a->result), 0, NULL);
    enum keep_attest_tee tee = keep_attest_result_tee(a->result);
    const char *m = claims_measurement(claims, tee);
    char measurement[129];
    snprintf(measurement, sizeof(measurement), "%s", m ? m : "");
    json_decref(claims);
    if (!measurement[0])
        return keep_fail(err, KEEP_E_STEWARD_EVIDENCE_INVALID, "claims carry no measurement");
    if (steward_measurement_revoked(s->store, measurement))
        return keep_fail(err, KEEP_E_STEWARD_REVOKED, "measurement %s is revoked", measurement);
    bool insecure = tee == KEEP_ATTEST_TEE_KVM;
    out->claims_json = ear_claims(a, measurement, insecure, now);
    int64_t lifetime = a->policy.lifetime && a->policy.lifetime < s->cfg.lifetime
                           ? a->policy.lifetime
                           : s->cfg.lifetime;
    char crl_url[512];
    if (s->cfg.public_url)
        snprintf(crl_url, sizeof(crl_url), "%s/crl.der", s->cfg.public_url);
    struct steward_leaf leaf = {
        .csr = &req->csr,
        .measurement_hex = measurement,
        .dns = a->policy.dns,
        .dns_count = a->policy.dns_count,
        .not_before = now - 60, /* clock skew between the Keep and us */
        .not_after = now + lifetime,
        .crl_url = s->cfg.public_url ? crl_url : NULL,
        .claims_json = out->claims_json,
    };
    if (!out->claims_json)
        return keep_fail(err, KEEP_E_NOMEM, "out of memory");
    int rc = steward_ca_issue(&s->ca, &leaf, &out->cert, out->serial, err);
    if (rc)
        return rc;
    unsigned char *der = NULL;
    int n = i2d_X509(out->cert, &der);
    struct steward_cert_record rec = {.not_before = leaf.not_before,
                                      .not_after = leaf.not_after,
                                      .insecure = insecure,
                                      .der = der,
                                      .der_size = (size_t)n};
    snprintf(rec.serial, sizeof(rec.serial), "%s", out->serial);
    snprintf(rec.workload, sizeof(rec.workload), "%s", a->workload);
    snprintf(rec.tee, sizeof(rec.tee), "%s", keep_attest_tee_name(tee));
    snprintf(rec.measurement, sizeof(rec.measurement), "%s", measurement);
    rc = n > 0 ? steward_cert_add(s->store, &rec, err)
               : keep_fail(err, KEEP_E_STEWARD_CRYPTO, "certificate does not encode");
    OPENSSL_free(der);
    snprintf(out->workload, sizeof(out->workload), "%s", a->workload);
    if (rc == KEEP_OK)
        rc = audit(s, now, "certificate.issued",
                   json_pack("{s:s,s:s,s:s,s:s,s:b,s:I}", "serial", out->serial, "workload",
                             a->workload, "tee", rec.tee, "measurement", measurement, "insecure",
                             insecure, "not_after", (json_int_t)leaf.not_after),
                   err);
    return rc;
}

/* The KDS URL of the VCEK that signs an SNP report (AMD KDS spec: /vcek/v1/{product}/{hwid}
 * ?blSPL=&teeSPL=&snpSPL=&ucodeSPL=, hwid = chip_id in hex, SPLs of reported_tcb). */
static int vcek_url(struct steward *s, const struct steward_cert_request *req, char *url,
                    size_t size)
{
    enum keep_attest_tee tee;
    char *text = NULL;
    if (keep_attest_show(req->format, req->evidence.data, req->evidence.size, &tee, &text, NULL) !=
            KEEP_OK ||
        tee != KEEP_ATTEST_TEE_SNP) {
        free(text);
        return -1;
    }
    json_t *claims = json_loads(text, 0, NULL);
    free(text);
    json_t *tcb = json_object_get(claims, "reported_tcb");
    const char *chip = json_string_value(json_object_get(claims, "chip_id"));
    int n = -1;
    if (chip && json_is_object(tcb))
        n = snprintf(url, size, "%s/vcek/v1/%s/%s?blSPL=%02d&teeSPL=%02d&snpSPL=%02d&ucodeSPL=%02d",
                     s->cfg.kds_url, s->cfg.kds_product ? s->cfg.kds_product : "Milan", chip,
                     (int)json_integer_value(json_object_get(tcb, "bootloader")),
                     (int)json_integer_value(json_object_get(tcb, "tee")),
                     (int)json_integer_value(json_object_get(tcb, "snp")),
                     (int)json_integer_value(json_object_get(tcb, "microcode")));
    json_decref(claims);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

enum steward_vcek_plan steward_vcek_plan(struct steward *s, const struct steward_cert_request *req,
                                         int64_t now, char *url, size_t url_size,
                                         struct steward_bytes *cached)
{
    memset(cached, 0, sizeof(*cached));
    if (!s->cfg.kds_url || req->vcek.data || req->cert_chain.data ||
        vcek_url(s, req, url, url_size))
        return STEWARD_VCEK_NONE;
    struct keep_error miss;
    if (steward_collateral_get(s->store, url, now, &cached->data, &cached->size, &miss) ==
        KEEP_OK) {
        s->fetch_cached++;
        return STEWARD_VCEK_CACHED;
    }
    return STEWARD_VCEK_FETCH;
}

/* A fetched VCEK: cached (only what parses as a certificate, for as long as it is valid) and
 * audited, in the caller's transaction. */
static int vcek_record(struct steward *s, const char *url, const struct steward_bytes *vcek,
                       int64_t now, struct keep_error *err)
{
    const unsigned char *p = vcek->data;
    X509 *cert = d2i_X509(NULL, &p, (long)vcek->size);
    int days = 0, secs = 0;
    ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)now);
    int64_t not_after = cert && t && ASN1_TIME_diff(&days, &secs, t, X509_get0_notAfter(cert))
                            ? now + (int64_t)days * 86400 + secs
                            : 0;
    ASN1_TIME_free(t);
    X509_free(cert);
    s->fetched++;
    int rc = not_after > now ? steward_collateral_put(s->store, url, vcek->data, vcek->size, now,
                                                      not_after, err)
                             : KEEP_OK;
    if (rc == KEEP_OK)
        rc = audit(s, now, "collateral.fetched",
                   json_pack("{s:s,s:I,s:b}", "url", url, "size", (json_int_t)vcek->size, "cached",
                             not_after > now),
                   err);
    return rc;
}

int steward_vcek_fetched(struct steward *s, const char *url, const struct steward_bytes *vcek,
                         int64_t now, struct keep_error *err)
{
    int rc = steward_store_begin(s->store, err);
    if (rc)
        return rc;
    if ((rc = vcek_record(s, url, vcek, now, err)) == KEEP_OK &&
        (rc = steward_store_commit(s->store, err)) == KEEP_OK)
        return KEEP_OK;
    steward_store_rollback(s->store);
    return rc;
}

/* An SNP request without VCEK or chain gets the VCEK from the KDS, cached until it expires.
 * This fetch blocks; the server fetches before it queues the request (steward_vcek_plan), so
 * only library callers get here with a VCEK to fetch. */
static int supply_vcek(struct steward *s, const struct steward_cert_request *req, int64_t now,
                       struct steward_bytes *vcek, struct keep_error *err)
{
    char url[1024];
    if (steward_vcek_plan(s, req, now, url, sizeof(url), vcek) != STEWARD_VCEK_FETCH)
        return KEEP_OK;
    int rc = steward_fetch(url, STEWARD_FETCH_TIMEOUT, vcek, err);
    return rc ? rc : vcek_record(s, url, vcek, now, err);
}

/* The client sent no Intel collateral in any of its forms. */
static bool no_intel_collateral(const struct steward_cert_request *req)
{
    return !req->collateral_json.data && !req->tcb_info.data && !req->qe_identity.data &&
           !req->tcb_signing_chain.data && !req->pck_crl.data && !req->pck_crl_issuer_chain.data &&
           !req->root_ca_crl.data;
}

enum steward_vcek_plan steward_intel_plan(struct steward *s, const struct steward_cert_request *req,
                                          int64_t now, char *key, size_t key_size,
                                          struct steward_pcs_target *target,
                                          struct steward_bytes *cached)
{
    memset(cached, 0, sizeof(*cached));
    if (!s->cfg.intel_pcs_url || !no_intel_collateral(req) ||
        steward_pcs_target_of(req->evidence.data, req->evidence.size, target) ||
        steward_pcs_cache_key(s->cfg.intel_pcs_url, target, key, key_size))
        return STEWARD_VCEK_NONE;
    struct keep_error miss;
    if (steward_collateral_get(s->store, key, now, &cached->data, &cached->size, &miss) ==
        KEEP_OK) {
        s->fetch_cached++;
        return STEWARD_VCEK_CACHED;
    }
    return STEWARD_VCEK_FETCH;
}

/* Assembled Intel collateral: cached until its earliest nextUpdate, and audited. */
static int intel_record(struct steward *s, const char *key, const struct steward_bytes *blob,
                        int64_t not_after, int64_t now, struct keep_error *err)
{
    s->fetched++;
    int rc = not_after > now ? steward_collateral_put(s->store, key, blob->data, blob->size, now,
                                                      not_after, err)
                             : KEEP_OK;
    if (rc == KEEP_OK)
        rc = audit(s, now, "collateral.fetched",
                   json_pack("{s:s,s:I,s:b}", "url", key, "size", (json_int_t)blob->size, "cached",
                             not_after > now),
                   err);
    return rc;
}

int steward_intel_fetched(struct steward *s, const char *key, const struct steward_bytes *blob,
                          int64_t not_after, int64_t now, struct keep_error *err)
{
    int rc = steward_store_begin(s->store, err);
    if (rc)
        return rc;
    if ((rc = intel_record(s, key, blob, not_after, now, err)) == KEEP_OK &&
        (rc = steward_store_commit(s->store, err)) == KEEP_OK)
        return KEEP_OK;
    steward_store_rollback(s->store);
    return rc;
}

/* An SGX/TDX request without collateral gets it from the PCS (library callers: blocking, as
 * supply_vcek; the server fetched before queueing, so its requests carry it already). */
static int supply_intel(struct steward *s, struct steward_cert_request *with, int64_t now,
                        struct keep_error *err)
{
    char key[1024];
    struct steward_pcs_target target;
    struct steward_bytes blob;
    enum steward_vcek_plan plan =
        steward_intel_plan(s, with, now, key, sizeof(key), &target, &blob);
    if (plan == STEWARD_VCEK_NONE)
        return KEEP_OK;
    int rc = KEEP_OK;
    if (plan == STEWARD_VCEK_FETCH) {
        int64_t not_after = 0;
        rc = steward_pcs_fetch(s->cfg.intel_pcs_url, &target, STEWARD_FETCH_TIMEOUT, &blob,
                               &not_after, err);
        if (rc == KEEP_OK)
            rc = intel_record(s, key, &blob, not_after, now, err);
    }
    if (rc == KEEP_OK)
        rc = steward_pcs_apply(&blob, with, err);
    free(blob.data);
    return rc;
}

int steward_issue(struct steward *s, const struct steward_cert_request *req, int64_t now,
                  struct steward_issued *out, json_t **errors, struct keep_error *err)
{
    return steward_issue_prechecked(s, req, now, NULL, out, errors, err);
}

/* ---- verification in advance (worker threads) ------------------------------ */

void steward_prechecks_free(struct steward_prechecks *p)
{
    for (size_t i = 0; i < p->count; i++) {
        free(p->items[i].doc);
        keep_attest_result_free(p->items[i].result);
    }
    free(p->items);
    memset(p, 0, sizeof(*p));
}

int steward_precheck_plan(struct steward *s, const struct steward_cert_request *req,
                          struct steward_prechecks *out, struct keep_error *err)
{
    memset(out, 0, sizeof(*out));
    char **names = NULL;
    size_t count = 1;
    int rc = KEEP_OK;
    if (!req->workload[0] && (rc = steward_policy_names(s->store, &names, &count, err)))
        return rc;
    out->items = calloc(count ? count : 1, sizeof(*out->items));
    for (size_t i = 0; out->items && i < count; i++) {
        const char *name = names ? names[i] : req->workload;
        char *doc = NULL;
        if (steward_policy_get(s->store, name, &doc, err) != KEEP_OK)
            continue; /* unknown or gone: steward_issue says so */
        snprintf(out->items[out->count].name, sizeof(out->items[0].name), "%s", name);
        out->items[out->count++].doc = doc;
    }
    if (names)
        steward_names_free(names, count);
    return out->items ? KEEP_OK : keep_fail(err, KEEP_E_NOMEM, "out of memory");
}

void steward_precheck_run(const struct steward *s, struct keep_attest_verifier *verifier,
                          const struct steward_cert_request *req, int64_t now,
                          struct steward_prechecks *p)
{
    for (size_t i = 0; i < p->count; i++) {
        struct steward_workload w;
        struct keep_attest_policy *policy = NULL;
        struct keep_error e;
        if (steward_workload_parse(p->items[i].doc, &w, &e) != KEEP_OK)
            continue;
        if (bound_policy(s, req, w.attest_json, &policy, &e) == KEEP_OK &&
            verify_input(s, verifier, req, now, policy, &p->items[i].result, &e) != KEEP_OK)
            p->items[i].result = NULL;
        keep_attest_policy_free(policy);
        steward_workload_free(&w);
        /* appraise() stops at the first accepting policy or at invalid evidence. */
        enum keep_attest_verdict v = p->items[i].result
                                         ? keep_attest_result_verdict(p->items[i].result)
                                         : KEEP_ATTEST_REJECT;
        if (v != KEEP_ATTEST_REJECT)
            break;
    }
}

int steward_issue_prechecked(struct steward *s, const struct steward_cert_request *req, int64_t now,
                             struct steward_prechecks *pre, struct steward_issued *out,
                             json_t **errors, struct keep_error *err)
{
    memset(out, 0, sizeof(*out));
    json_t *rejected = NULL;
    struct appraisal a = {.pre = pre};
    int rc = steward_store_begin(s->store, err);
    if (rc)
        return rc;
    /* The nonce is spent whatever the outcome: one request per nonce. */
    if (req->binding == STEWARD_BIND_NONCE)
        rc = steward_nonce_use(s->store, req->nonce, sizeof(req->nonce), now, err);
    struct steward_cert_request with_vcek = *req; /* shallow: .vcek and Intel fields may differ */
    struct steward_bytes fetched = {0};
    if (rc == KEEP_OK && (rc = supply_vcek(s, req, now, &fetched, err)) == KEEP_OK && fetched.data)
        with_vcek.vcek = fetched;
    bool intel_supplied = rc == KEEP_OK && no_intel_collateral(req);
    if (intel_supplied)
        rc = supply_intel(s, &with_vcek, now, err);
    if (rc == KEEP_OK)
        rc = appraise(s, &with_vcek, now, &a, &rejected, err);
    if (rc == KEEP_OK)
        rc = issue_accepted(s, &with_vcek, now, &a, out, err);
    free(fetched.data);
    if (intel_supplied) /* only what supply_intel allocated: the request had none of these */
        steward_pcs_release(&with_vcek);
    /* The database failing (an audit entry not written among them) undoes the whole request:
     * nothing is issued or refused unaudited. A refusal is committed with its audit entry and
     * the spent nonce. */
    bool commit = rc != KEEP_E_STEWARD_STORE;
    if (rc && commit) {
        struct keep_error aerr;
        int arc = audit(s, now, "certificate.refused",
                        json_pack("{s:s,s:s,s:s,s:O?}", "code", keep_err_name(err ? err->code : rc),
                                  "message", err ? err->message : "", "workload", req->workload,
                                  "errors", rejected),
                        &aerr);
        if (arc) {
            rc = keep_fail(err, arc, "refusing the request: %s", aerr.message);
            commit = false;
        }
    }
    struct keep_error cerr;
    if (commit && steward_store_commit(s->store, &cerr) != KEEP_OK) {
        rc = keep_fail(err, cerr.code, "%s", cerr.message);
        commit = false;
    }
    if (!commit)
        steward_store_rollback(s->store);
    if (rc) {
        steward_issued_free(out);
        s->refused++;
    } else {
        s->issued++;
    }
    keep_attest_result_free(a.result);
    steward_workload_free(&a.policy);
    if (errors)
        *errors = rejected;
    else
        json_decref(rejected);
    return rc;
}

/* ---- secrets --------------------------------------------------------------- */

static int peer_serial(X509 *peer, char serial[41])
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    BN_free(bn);
    if (!hex || strlen(hex) > 40) {
        OPENSSL_free(hex);
        return -1;
    }
    steward_serial_normalize(hex, serial);
    OPENSSL_free(hex);
    return 0;
}

/* The record of a client certificate this service issued and still honours: signed by our CA,
 * stored, unrevoked, unexpired, and not from unsigned kvm evidence unless --insecure-kvm. */
static int peer_record(struct steward *s, X509 *peer, int64_t now, const char *endpoint,
                       struct steward_cert_record *rec, struct keep_error *err)
{
    char serial[41];
    if (!peer || peer_serial(peer, serial))
        return keep_fail(err, KEEP_E_STEWARD_CLIENT_CERT,
                         "%s needs a client certificate issued by this service", endpoint);
    /* The serial alone is public (CRL, the Keep's own TLS handshakes): the certificate must also
     * carry this CA's signature (RFC 5280 section 6.1.3 (a)(1)), whoever the caller is. */
    if (X509_NAME_cmp(X509_get_issuer_name(peer), X509_get_subject_name(s->ca.cert)) != 0 ||
        X509_verify(peer, X509_get0_pubkey(s->ca.cert)) != 1)
        return keep_fail(err, KEEP_E_STEWARD_CLIENT_CERT,
                         "client certificate serial %s is not signed by this service's CA", serial);
    int rc = steward_cert_get(s->store, serial, rec, err);
    if (rc)
        return keep_fail(err, KEEP_E_STEWARD_CLIENT_CERT,
                         "client certificate serial %s was not issued by this service", serial);
    if (rec->revoked_at || steward_measurement_revoked(s->store, rec->measurement))
        return keep_fail(err, KEEP_E_STEWARD_REVOKED, "client certificate %s is revoked (%s)",
                         serial, rec->revoked_at ? "by serial" : "by measurement");
    if (now > rec->not_after)
        return keep_fail(err, KEEP_E_STEWARD_CLIENT_CERT, "client certificate %s expired", serial);
    /* The certificate is only as good as the evidence: unsigned kvm evidence is trusted while the
     * operator says so, and a restart without --insecure-kvm withdraws that trust. */
    if (rec->insecure && !s->cfg.insecure_kvm)
        return keep_fail(
            err, KEEP_E_STEWARD_INSECURE_KVM,
            "client certificate %s was issued on unsigned kvm evidence and the service "
            "runs without --insecure-kvm",
            serial);
    return KEEP_OK;
}

static int release_check(struct steward *s, X509 *peer, const char *name, int64_t now,
                         struct steward_cert_record *rec, struct keep_error *err)
{
    int rc = peer_record(s, peer, now, "GET /v1/secrets", rec, err);
    if (rc)
        return rc;
    char *doc = NULL;
    struct steward_workload w;
    if ((rc = steward_policy_get(s->store, rec->workload, &doc, err)) == KEEP_OK)
        rc = steward_workload_parse(doc, &w, err);
    free(doc);
    if (rc)
        return rc;
    bool listed = false;
    for (size_t i = 0; i < w.secret_count; i++)
        listed |= strcmp(w.secrets[i], name) == 0;
    steward_workload_free(&w);
    if (!listed)
        return keep_fail(err, KEEP_E_STEWARD_SECRET_DENIED,
                         "workload %s's policy does not list secret %.64s", rec->workload, name);
    return KEEP_OK;
}

int steward_secret_release(struct steward *s, X509 *peer, const char *name, int64_t now,
                           uint8_t **value, size_t *size, struct keep_error *err)
{
    struct steward_cert_record rec = {0};
    uint8_t *wrapped = NULL;
    size_t wrapped_size = 0;
    int rc = steward_name_ok(name) ? KEEP_OK
                                   : keep_fail(err, KEEP_E_STEWARD_SECRET_UNKNOWN,
                                               "secret name is not [A-Za-z0-9._-]{1,64}");
    if (rc == KEEP_OK)
        rc = release_check(s, peer, name, now, &rec, err);
    if (rc == KEEP_OK)
        rc = steward_secret_get(s->store, name, &wrapped, &wrapped_size, err);
    if (rc == KEEP_OK)
        rc = steward_kek_unwrap(s->ca.kek, name, wrapped, wrapped_size, value, size, err);
    free(wrapped);
    /* No secret leaves unaudited: a failed audit write withholds it. */
    struct keep_error aerr;
    int arc =
        audit(s, now, rc ? "secret.refused" : "secret.released",
              json_pack("{s:s,s:s,s:s,s:s}", "secret", steward_name_ok(name) ? name : "(bad name)",
                        "serial", rec.serial, "workload", rec.workload, "code", keep_err_name(rc)),
              &aerr);
    if (arc) {
        if (rc == KEEP_OK) {
            OPENSSL_cleanse(*value, *size);
            free(*value);
            *value = NULL;
        }
        rc = keep_fail(err, arc, "auditing the secret release: %s", aerr.message);
    }
    if (rc == KEEP_OK)
        s->secrets_released++;
    else
        s->secrets_refused++;
    return rc;
}

/* ---- counters -------------------------------------------------------------- */

/* The counter namespace of the verified peer: its TEE and measurement. */
static int counter_key(struct steward *s, X509 *peer, const char *name, int64_t now,
                       const char *endpoint, struct steward_cert_record *rec,
                       struct steward_counter_key *key, struct keep_error *err)
{
    if (!steward_name_ok(name))
        return keep_fail(err, KEEP_E_STEWARD_COUNTER_NAME,
                         "counter name %.64s is not [A-Za-z0-9._-]{1,64} (no leading '.')", name);
    int rc = peer_record(s, peer, now, endpoint, rec, err);
    if (rc)
        return rc;
    if (!rec->measurement[0])
        return keep_fail(err, KEEP_E_STEWARD_CLIENT_CERT,
                         "client certificate %s names no measurement: no counter namespace",
                         rec->serial);
    *key = (struct steward_counter_key){
        .tee = rec->tee, .measurement = rec->measurement, .name = name};
    return KEEP_OK;
}

int steward_counter_read(struct steward *s, X509 *peer, const char *name, int64_t now,
                         uint64_t *value, struct keep_error *err)
{
    struct steward_cert_record rec;
    struct steward_counter_key key;
    int rc = counter_key(s, peer, name, now, "GET /v1/counters", &rec, &key, err);
    return rc ? rc : steward_counter_get(s->store, &key, value, err);
}

static int counter_swap_locked(struct steward *s, const struct steward_counter_key *key,
                               const struct steward_counter_update *u, int64_t now, uint64_t *value,
                               struct keep_error *err)
{
    int64_t count = 0;
    int rc = steward_counter_get(s->store, key, value, err);
    if (rc)
        return rc;
    if (*value != u->expect)
        return keep_fail(err, KEEP_E_STEWARD_COUNTER_CONFLICT,
                         "counter %s holds %llu, not the expected %llu: nothing changed", key->name,
                         (unsigned long long)*value, (unsigned long long)u->expect);
    /* A new counter row: bounded per workload, as the attested client is not the operator. */
    if (*value == 0 && (rc = steward_counter_count(s->store, key, &count, err)) == KEEP_OK &&
        count >= STEWARD_MAX_COUNTERS)
        rc = keep_fail(err, KEEP_E_STEWARD_COUNTER_LIMIT,
                       "workload %.16s... has %lld counters (limit %d): counter %s not created",
                       key->measurement, (long long)count, STEWARD_MAX_COUNTERS, key->name);
    if (rc == KEEP_OK)
        rc = steward_counter_put(s->store, key, u->set, now, err);
    if (rc == KEEP_OK)
        rc = audit(s, now, "counter.set",
                   json_pack("{s:s,s:s,s:s,s:I,s:I}", "tee", key->tee, "measurement",
                             key->measurement, "counter", key->name, "from", (json_int_t)u->expect,
                             "to", (json_int_t)u->set),
                   err);
    if (rc == KEEP_OK)
        *value = u->set;
    return rc;
}

int steward_counter_swap(struct steward *s, X509 *peer, const char *name,
                         const struct steward_counter_update *u, int64_t now, uint64_t *value,
                         struct keep_error *err)
{
    struct steward_cert_record rec;
    struct steward_counter_key key;
    *value = 0;
    int rc = counter_key(s, peer, name, now, "POST /v1/counters", &rec, &key, err);
    if (rc)
        return rc;
    if (u->set <= u->expect || u->set > INT64_MAX)
        return keep_fail(err, KEEP_E_STEWARD_COUNTER_REQUEST,
                         "counter %s: set %llu must be greater than expect %llu and at most 2^63-1",
                         name, (unsigned long long)u->set, (unsigned long long)u->expect);
    if ((rc = steward_store_begin(s->store, err)))
        return rc;
    rc = counter_swap_locked(s, &key, u, now, value, err);
    /* Committed (synchronous=FULL) before the caller replies: an acknowledged value survives a
     * crash. A conflict changed nothing, so it is rolled back like any failure. */
    struct keep_error cerr;
    if (rc == KEEP_OK && steward_store_commit(s->store, &cerr) != KEEP_OK) {
        rc = keep_fail(err, cerr.code, "%s", cerr.message);
        *value = u->expect;
    }
    if (rc)
        steward_store_rollback(s->store);
    return rc;
}

/* ---- admin ------------------------------------------------------------------ */

static int admin_done(struct steward *s, int rc, int64_t now, const char *event, json_t *detail,
                      struct keep_error *err)
{
    if (rc == KEEP_OK)
        rc = audit(s, now, event, detail, err); /* no change stays unaudited */
    else
        json_decref(detail);
    struct keep_error cerr;
    if (rc == KEEP_OK && steward_store_commit(s->store, &cerr) != KEEP_OK)
        rc = keep_fail(err, cerr.code, "%s", cerr.message);
    if (rc)
        steward_store_rollback(s->store);
    return rc;
}

int steward_admin_policy_put(struct steward *s, const char *name, const char *doc, int64_t now,
                             struct keep_error *err)
{
    struct steward_workload w;
    if (!steward_name_ok(name))
        return keep_fail(err, KEEP_E_STEWARD_ADMIN, "workload name is not [A-Za-z0-9._-]{1,64}");
    int rc = steward_workload_parse(doc, &w, err);
    if (rc)
        return rc;
    steward_workload_free(&w);
    if ((rc = steward_store_begin(s->store, err)))
        return rc;
    rc = steward_policy_put(s->store, name, doc, err);
    return admin_done(s, rc, now, "policy.put",
                      json_pack("{s:s,s:s}", "workload", name, "document", doc), err);
}

int steward_admin_policy_delete(struct steward *s, const char *name, int64_t now,
                                struct keep_error *err)
{
    int rc = steward_store_begin(s->store, err);
    if (rc)
        return rc;
    rc = steward_policy_delete(s->store, name, err);
    return admin_done(s, rc, now, "policy.delete", json_pack("{s:s}", "workload", name), err);
}

int steward_admin_secret_put(struct steward *s, const char *name, const uint8_t *value, size_t size,
                             int64_t now, struct keep_error *err)
{
    if (!steward_name_ok(name))
        return keep_fail(err, KEEP_E_STEWARD_ADMIN, "secret name is not [A-Za-z0-9._-]{1,64}");
    uint8_t *wrapped;
    size_t wrapped_size;
    int rc = steward_kek_wrap(s->ca.kek, name, value, size, &wrapped, &wrapped_size, err);
    if (rc)
        return rc;
    if ((rc = steward_store_begin(s->store, err)) == KEEP_OK) {
        rc = steward_secret_put(s->store, name, wrapped, wrapped_size, err);
        /* The audit log records that a secret changed, never its value. */
        rc = admin_done(s, rc, now, "secret.put",
                        json_pack("{s:s,s:I}", "secret", name, "size", (json_int_t)size), err);
    }
    free(wrapped);
    return rc;
}

int steward_admin_revoke_serial(struct steward *s, const char *serial, int64_t now,
                                struct keep_error *err)
{
    char normal[41];
    if (strlen(serial) == 0 || strlen(serial) > 40 ||
        strspn(serial, "0123456789abcdefABCDEF") != strlen(serial))
        return keep_fail(err, KEEP_E_STEWARD_ADMIN, "serial is not 1-40 hex digits");
    steward_serial_normalize(serial, normal);
    int rc = steward_store_begin(s->store, err);
    if (rc)
        return rc;
    rc = steward_cert_revoke(s->store, normal, now, err);
    return admin_done(s, rc, now, "revoke.serial", json_pack("{s:s}", "serial", normal), err);
}

int steward_admin_revoke_measurement(struct steward *s, const char *measurement, int64_t now,
                                     struct keep_error *err)
{
    uint8_t buf[64];
    size_t len = strlen(measurement);
    struct keep_error ignored;
    if ((len != 64 && len != 96) ||
        keep_hex_decode(measurement, len, buf, len / 2, "measurement", &ignored))
        return keep_fail(err, KEEP_E_STEWARD_ADMIN,
                         "measurement is not 32 or 48 bytes of lower-case hex");
    for (size_t i = 0; i < len; i++)
        if (measurement[i] >= 'A' && measurement[i] <= 'F')
            return keep_fail(err, KEEP_E_STEWARD_ADMIN, "measurement must be lower-case hex");
    int rc = steward_store_begin(s->store, err);
    if (rc)
        return rc;
    rc = steward_measurement_revoke(s->store, measurement, now, err);
    return admin_done(s, rc, now, "revoke.measurement",
                      json_pack("{s:s}", "measurement", measurement), err);
}
