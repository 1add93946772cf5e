/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libkeep-attest's public API: the verifier (roots and caches), the
 * orchestration of the per-TEE checks in the order include/keep/attest.h
 * states, and the result. The checks themselves live in snp.c/amd.c
 * (SEV-SNP), quote.c/pck.c (SGX/TDX quotes) and collateral.c/tcb.c/
 * qe_identity.c (Intel collateral); the policy in policy.c.
 *
 * Genuineness first, policy second: policy.c only ever sees values of
 * evidence whose signature and chain verified.
 */
#include "attest/verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "attest/amd.h"
#include "attest/collateral.h"
#include "attest/kvm_evidence.h"
#include "attest/pck.h"
#include "attest/policy.h"
#include "attest/qe_identity.h"
#include "attest/quote.h"
#include "attest/snp.h"
#include "attest/tcb.h"
#include "attest/x509.h"
#include "common/cursor.h"
#include "common/util.h"

/* ---- the verifier and its caches --------------------------------------- */

/*
 * A verified VCEK/VLEK, keyed by SHA-256 of the certificate and chain bytes.
 * The signer re-checks its chain's validity window at each use
 * (keep_snp_signer_check_time), so a cached signer is never trusted at a
 * time its chain was not valid.
 */
struct signer_entry {
    uint8_t key[SHA256_DIGEST_LENGTH];
    struct keep_snp_signer *signer;
};

/*
 * Verified Intel collateral, keyed by SHA-256 of every item's bytes. The
 * signatures do not depend on time; the window [valid_from, valid_until]
 * (intersection of every item's issueDate/thisUpdate .. nextUpdate and of
 * every issuer certificate's validity) does. Outside it the set is
 * verified again, which fails with the item and dates named.
 */
struct collateral_entry {
    uint8_t key[SHA256_DIGEST_LENGTH];
    struct keep_collateral *coll;
    bool tcb_info_ok;    /* tcb_info given with its issuer chain, verified */
    bool qe_identity_ok; /* likewise */
    int64_t valid_from;
    int64_t valid_until;
};

/*
 * A verified PCK chain ([PCK] 1.3: PCK <- Platform/Processor CA <- root),
 * keyed by SHA-256 of the chain's bytes and of the collateral set whose
 * CRLs were applied. Valid while the time is inside every certificate's and
 * CRL's window.
 */
struct pck_entry {
    uint8_t key[SHA256_DIGEST_LENGTH];
    struct keep_pck_info info;
    EVP_PKEY *pck_key;             /* the PCK's P-256 public key */
    struct keep_quote_ak_cache ak; /* the attestation key of the last quote under it */
    int64_t valid_from;
    int64_t valid_until;
};

#define CACHE_MAX 64 /* entries per cache; the oldest is evicted */

struct keep_attest_verifier {
    char *amd_roots_dir; /* NULL: keep_amd_default_roots_dir() */
    X509 *intel_root;
    STACK_OF(X509) * intel_roots; /* intel_root alone, for the collateral chains */
    struct signer_entry signers[CACHE_MAX];
    size_t signer_count, signer_next;
    struct collateral_entry colls[CACHE_MAX];
    size_t coll_count, coll_next;
    struct pck_entry pcks[CACHE_MAX];
    size_t pck_count, pck_next;
    struct keep_attest_policy *default_policy; /* used when the caller passes none */
};

static void signer_entry_clear(struct signer_entry *e)
{
    keep_snp_signer_free(e->signer);
    memset(e, 0, sizeof(*e));
}

static void collateral_entry_clear(struct collateral_entry *e)
{
    keep_collateral_free(e->coll);
    memset(e, 0, sizeof(*e));
}

static void pck_entry_clear(struct pck_entry *e)
{
    EVP_PKEY_free(e->pck_key);
    keep_quote_ak_cache_clear(&e->ak);
    memset(e, 0, sizeof(*e));
}

void keep_attest_verifier_clear_cache(struct keep_attest_verifier *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->signer_count; i++)
        signer_entry_clear(&v->signers[i]);
    for (size_t i = 0; i < v->coll_count; i++)
        collateral_entry_clear(&v->colls[i]);
    for (size_t i = 0; i < v->pck_count; i++)
        pck_entry_clear(&v->pcks[i]);
    v->signer_count = v->signer_next = v->coll_count = v->coll_next = 0;
    v->pck_count = v->pck_next = 0;
}

void keep_attest_verifier_free(struct keep_attest_verifier *v)
{
    if (!v)
        return;
    keep_attest_verifier_clear_cache(v);
    sk_X509_pop_free(v->intel_roots, X509_free);
    X509_free(v->intel_root);
    keep_policy_free(v->default_policy);
    free(v->amd_roots_dir);
    free(v);
}

int keep_attest_verifier_set_intel_root(struct keep_attest_verifier *v, X509 *root,
                                        struct keep_error *err)
{
    STACK_OF(X509) *roots = sk_X509_new_null();
    if (!roots || !X509_up_ref(root) || !sk_X509_push(roots, root)) {
        sk_X509_free(roots);
        return keep_fail(err, KEEP_E_NOMEM, "verifier: out of memory for the Intel root");
    }
    keep_attest_verifier_clear_cache(v);
    X509_free(v->intel_root);
    sk_X509_pop_free(v->intel_roots, X509_free);
    if (!X509_up_ref(root)) {
        v->intel_root = NULL;
        v->intel_roots = roots;
        return keep_fail(err, KEEP_E_CRYPTO, "verifier: cannot reference the Intel root");
    }
    v->intel_root = root;
    v->intel_roots = roots;
    return KEEP_OK;
}

int keep_attest_verifier_new(const char *roots_dir, struct keep_attest_verifier **out,
                             struct keep_error *err)
{
    if (!out)
        return keep_fail(err, KEEP_E_USAGE, "keep_attest_verifier_new: out is NULL");
    *out = NULL;
    struct keep_attest_verifier *v = calloc(1, sizeof(*v));
    if (!v)
        return keep_fail(err, KEEP_E_NOMEM, "verifier: out of memory");
    const char *dir = roots_dir ? roots_dir : getenv("KEEP_ROOTS_DIR");
    if (dir && *dir && asprintf(&v->amd_roots_dir, "%s/amd", dir) < 0) {
        v->amd_roots_dir = NULL;
        free(v);
        return keep_fail(err, KEEP_E_NOMEM, "verifier: out of memory");
    }
    X509 *root = NULL;
    int rc = keep_policy_default(&v->default_policy, err);
    if (rc) {
        keep_attest_verifier_free(v);
        return rc;
    }
    rc = keep_pck_load_intel_root(dir && *dir ? dir : NULL, &root, err);
    if (rc == KEEP_OK) {
        rc = keep_attest_verifier_set_intel_root(v, root, err);
        X509_free(root);
    }
    if (rc) {
        keep_attest_verifier_free(v);
        return rc;
    }
    *out = v;
    return KEEP_OK;
}

size_t keep_attest_verifier_cached_signers(const struct keep_attest_verifier *v)
{
    return v->signer_count;
}

size_t keep_attest_verifier_cached_collateral(const struct keep_attest_verifier *v)
{
    return v->coll_count;
}

/* ---- results ------------------------------------------------------------ */

struct keep_attest_result {
    enum keep_attest_verdict verdict;
    enum keep_attest_tee tee;
    struct keep_error_list errors;
    char *tcb_status;
    char **advisories;
    size_t advisory_count;
    json_t *claims;
    char *claims_text;
    struct keep_attest_check *checks;
    size_t check_count, check_cap;
    char *json_text;
    bool nomem; /* an allocation failed while recording; the verdict is INVALID */
};

static char *result_to_json(const struct keep_attest_result *r);
static void add_check(struct keep_attest_result *r, const char *name,
                      enum keep_attest_check_state state, const char *fmt, ...) KEEP_PRINTF(4, 5);

static void add_check(struct keep_attest_result *r, const char *name,
                      enum keep_attest_check_state state, const char *fmt, ...)
{
    if (r->check_count == r->check_cap) {
        size_t cap = r->check_cap ? 2 * r->check_cap : 16;
        struct keep_attest_check *c = realloc(r->checks, cap * sizeof(*c));
        if (!c) {
            r->nomem = true;
            return;
        }
        r->checks = c;
        r->check_cap = cap;
    }
    char *detail = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&detail, fmt, ap);
    va_end(ap);
    if (n < 0) {
        r->nomem = true;
        return;
    }
    r->checks[r->check_count++] =
        (struct keep_attest_check){.name = name, .state = state, .detail = detail};
}

static void check_passed(struct keep_attest_result *r, const char *name)
{
    add_check(r, name, KEEP_ATTEST_CHECK_PASSED, "%s", "");
}

static void check_skipped(struct keep_attest_result *r, const char *name, const char *why)
{
    add_check(r, name, KEEP_ATTEST_CHECK_SKIPPED, "%s", why);
}

/* A genuineness check failed: record the check, the error, and make the result INVALID. */
static int check_failed(struct keep_attest_result *r, const char *name,
                        const struct keep_error *err)
{
    add_check(r, name, KEEP_ATTEST_CHECK_FAILED, "%s", err->message);
    if (keep_error_list_push(&r->errors, err))
        r->nomem = true;
    r->verdict = KEEP_ATTEST_INVALID;
    return err->code;
}

/* Run-or-fail helper: rc from a check named name. */
static int record(struct keep_attest_result *r, const char *name, int rc,
                  const struct keep_error *err)
{
    if (rc)
        return check_failed(r, name, err);
    check_passed(r, name);
    return KEEP_OK;
}

void keep_attest_result_free(struct keep_attest_result *r)
{
    if (!r)
        return;
    keep_error_list_free(&r->errors);
    free(r->tcb_status);
    for (size_t i = 0; i < r->advisory_count; i++)
        free(r->advisories[i]);
    free(r->advisories);
    json_decref(r->claims);
    free(r->claims_text);
    for (size_t i = 0; i < r->check_count; i++)
        free((char *)(uintptr_t)r->checks[i].detail);
    free(r->checks);
    free(r->json_text);
    free(r);
}

enum keep_attest_verdict keep_attest_result_verdict(const struct keep_attest_result *r)
{
    return r->verdict;
}

enum keep_attest_tee keep_attest_result_tee(const struct keep_attest_result *r)
{
    return r->tee;
}

size_t keep_attest_result_error_count(const struct keep_attest_result *r)
{
    return r->errors.count;
}

const struct keep_error *keep_attest_result_error(const struct keep_attest_result *r, size_t i)
{
    return i < r->errors.count ? &r->errors.items[i] : NULL;
}

bool keep_attest_result_has_error(const struct keep_attest_result *r, int code)
{
    for (size_t i = 0; i < r->errors.count; i++)
        if (r->errors.items[i].code == code)
            return true;
    return false;
}

const char *keep_attest_result_tcb_status(const struct keep_attest_result *r)
{
    return r->tcb_status;
}

size_t keep_attest_result_advisory_count(const struct keep_attest_result *r)
{
    return r->advisory_count;
}

const char *keep_attest_result_advisory(const struct keep_attest_result *r, size_t i)
{
    return i < r->advisory_count ? r->advisories[i] : NULL;
}

/* The texts are made on first use: the result's only mutable state (see attest.h). */
const char *keep_attest_result_claims(const struct keep_attest_result *r)
{
    struct keep_attest_result *m = (struct keep_attest_result *)(uintptr_t)r;
    if (!m->claims_text && m->claims)
        m->claims_text = json_dumps(m->claims, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    return m->claims_text;
}

size_t keep_attest_result_check_count(const struct keep_attest_result *r)
{
    return r->check_count;
}

const struct keep_attest_check *keep_attest_result_check(const struct keep_attest_result *r,
                                                         size_t i)
{
    return i < r->check_count ? &r->checks[i] : NULL;
}

const char *keep_attest_result_json(const struct keep_attest_result *r)
{
    struct keep_attest_result *m = (struct keep_attest_result *)(uintptr_t)r;
    if (!m->json_text)
        m->json_text = result_to_json(m);
    return m->json_text;
}

static const char *check_state_name(enum keep_attest_check_state s)
{
    return s == KEEP_ATTEST_CHECK_PASSED   ? "passed"
           : s == KEEP_ATTEST_CHECK_FAILED ? "failed"
                                           : "skipped";
}

/* An allocation failure while recording makes the result INVALID, and says so. */
static void result_finish(struct keep_attest_result *r)
{
    if (r->nomem) {
        r->verdict = KEEP_ATTEST_INVALID;
        struct keep_error e;
        keep_fail(&e, KEEP_E_NOMEM, "out of memory while verifying");
        keep_error_list_push(&r->errors, &e);
    }
}

/* The --json object, built on first use (a service that only reads the verdict never pays). */
static char *result_to_json(const struct keep_attest_result *r)
{
    json_t *o = json_object();
    json_t *errors = json_array();
    json_t *advisories = json_array();
    json_t *checks = json_array();
    if (!o || !errors || !advisories || !checks) {
        json_decref(o), json_decref(errors), json_decref(advisories), json_decref(checks);
        return NULL;
    }
    json_object_set_new(o, "verdict", json_string(keep_attest_verdict_name(r->verdict)));
    json_object_set_new(o, "tee", json_string(keep_attest_tee_name(r->tee)));
    for (size_t i = 0; i < r->errors.count; i++)
        json_array_append_new(errors,
                              json_pack("{s:s,s:s}", "code", keep_err_name(r->errors.items[i].code),
                                        "message", r->errors.items[i].message));
    json_object_set_new(o, "errors", errors);
    json_object_set_new(o, "tcb_status", r->tcb_status ? json_string(r->tcb_status) : json_null());
    for (size_t i = 0; i < r->advisory_count; i++)
        json_array_append_new(advisories, json_string(r->advisories[i]));
    json_object_set_new(o, "advisories", advisories);
    json_object_set(o, "claims", r->claims ? r->claims : json_null());
    for (size_t i = 0; i < r->check_count; i++)
        json_array_append_new(checks, json_pack("{s:s,s:s,s:s}", "name", r->checks[i].name, "state",
                                                check_state_name(r->checks[i].state), "detail",
                                                r->checks[i].detail));
    json_object_set_new(o, "checks", checks);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    return text;
}

/* ---- helpers ------------------------------------------------------------ */

static void sha256_parts(const struct keep_attest_blob *parts, size_t count,
                         uint8_t out[SHA256_DIGEST_LENGTH])
{
    /* Each part is prefixed with its size, so that no two inputs hash alike. */
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t i = 0; i < count; i++) {
        uint64_t size = parts[i].data ? parts[i].size : UINT64_MAX;
        EVP_DigestUpdate(md, &size, sizeof(size));
        if (parts[i].data)
            EVP_DigestUpdate(md, parts[i].data, parts[i].size);
    }
    EVP_DigestFinal_ex(md, out, NULL);
    EVP_MD_CTX_free(md);
}

static bool given(const struct keep_attest_blob *b)
{
    return b->data != NULL;
}

enum keep_attest_format keep_attest_detect_format(const uint8_t *data, size_t size)
{
    struct keep_cursor c;
    uint32_t u32;
    uint16_t version, key_type;
    keep_cursor_init(&c, data, size);
    /* ABI 56860 Table 23: exactly 1184 bytes, VERSION (u32) 2, 3 or 5 first. */
    if (size == KEEP_SNP_REPORT_SIZE && keep_cursor_u32(&c, "version", &u32, NULL) == KEEP_OK &&
        (u32 == 2 || u32 == 3 || u32 == 5))
        return KEEP_ATTEST_FORMAT_SNP;
    /* src/attest/kvm_evidence.h: 136 bytes starting with "KEEPEVID". */
    if (size == KEEP_KVM_EVIDENCE_SIZE && memcmp(data, KEEP_KVM_EVIDENCE_MAGIC, 8) == 0)
        return KEEP_ATTEST_FORMAT_KVM;
    /* [SGX] A.3 / [TDX] A.3.1 header: version u16, att_key_type u16, tee_type u32. */
    keep_cursor_init(&c, data, size);
    if (keep_cursor_u16(&c, "version", &version, NULL) ||
        keep_cursor_u16(&c, "att_key_type", &key_type, NULL) ||
        keep_cursor_u32(&c, "tee_type", &u32, NULL) || version < 3 || version > 5)
        return KEEP_ATTEST_FORMAT_AUTO;
    if (u32 == KEEP_QUOTE_TEE_TDX)
        return KEEP_ATTEST_FORMAT_TDX;
    return KEEP_ATTEST_FORMAT_SGX;
}

/* ---- SEV-SNP ------------------------------------------------------------ */

/*
 * The VCEK/VLEK as DER, and the rest of a --cert-chain bundle as the
 * intermediates: a bundle's first certificate is the leaf.
 */
static int split_cert_chain(const struct keep_attest_blob *bundle, uint8_t **leaf_der,
                            size_t *leaf_size, uint8_t **rest_der, size_t *rest_size,
                            struct keep_error *err)
{
    STACK_OF(X509) *chain = NULL;
    int rc = keep_x509_parse_chain(bundle->data, bundle->size, "certificate chain", &chain, err);
    if (rc)
        return rc;
    *leaf_der = *rest_der = NULL;
    *leaf_size = *rest_size = 0;
    for (int i = 0; i < sk_X509_num(chain) && rc == KEEP_OK; i++) {
        unsigned char *der = NULL;
        int n = i2d_X509(sk_X509_value(chain, i), &der);
        if (n <= 0) {
            rc =
                keep_fail(err, KEEP_E_CRYPTO, "certificate chain: cannot encode certificate %d", i);
            break;
        }
        uint8_t **dst = i == 0 ? leaf_der : rest_der;
        size_t *dst_size = i == 0 ? leaf_size : rest_size;
        uint8_t *grown = realloc(*dst, *dst_size + (size_t)n);
        if (!grown) {
            OPENSSL_free(der);
            rc = keep_fail(err, KEEP_E_NOMEM, "certificate chain: out of memory");
            break;
        }
        memcpy(grown + *dst_size, der, (size_t)n);
        *dst = grown;
        *dst_size += (size_t)n;
        OPENSSL_free(der);
    }
    sk_X509_pop_free(chain, X509_free);
    if (rc) {
        free(*leaf_der), free(*rest_der);
        *leaf_der = *rest_der = NULL;
    }
    return rc;
}

static struct keep_snp_signer *signer_lookup(struct keep_attest_verifier *v, const uint8_t *key)
{
    for (size_t i = 0; i < v->signer_count; i++)
        if (memcmp(v->signers[i].key, key, SHA256_DIGEST_LENGTH) == 0)
            return v->signers[i].signer;
    return NULL;
}

static void signer_store(struct keep_attest_verifier *v, const uint8_t *key,
                         struct keep_snp_signer *signer)
{
    struct signer_entry *e;
    if (v->signer_count < CACHE_MAX) {
        e = &v->signers[v->signer_count++];
    } else {
        e = &v->signers[v->signer_next];
        v->signer_next = (v->signer_next + 1) % CACHE_MAX;
        signer_entry_clear(e);
    }
    memcpy(e->key, key, SHA256_DIGEST_LENGTH);
    e->signer = signer;
}

/*
 * The signer for this input: from the cache when its key bytes were seen
 * (and its chain is valid at `time`), else verified now (AMD 57230 section 3
 * chains, see amd.h) and cached. Inputs with an AMD CRL are not cached: the
 * CRL's own window would need re-checking, and such callers are rare.
 */
static int snp_signer(struct keep_attest_verifier *v, const struct keep_attest_input *in,
                      int64_t time, struct keep_snp_signer **out, bool *owned,
                      struct keep_error *err)
{
    struct keep_attest_blob parts[] = {in->vcek, in->cert_chain};
    uint8_t key[SHA256_DIGEST_LENGTH];
    bool cacheable = !given(&in->amd_crl);
    *owned = false;
    sha256_parts(parts, KEEP_ARRAY_LEN(parts), key);
    struct keep_snp_signer *s = cacheable ? signer_lookup(v, key) : NULL;
    if (s) {
        int rc = keep_snp_signer_check_time(s, time, err);
        if (rc)
            return rc;
        *out = s;
        return KEEP_OK;
    }
    uint8_t *leaf = NULL, *rest = NULL;
    size_t leaf_size = 0, rest_size = 0;
    int rc = KEEP_OK;
    if (given(&in->vcek)) {
        leaf = (uint8_t *)(uintptr_t)in->vcek.data;
        leaf_size = in->vcek.size;
        if (given(&in->cert_chain)) {
            rest = (uint8_t *)(uintptr_t)in->cert_chain.data;
            rest_size = in->cert_chain.size;
        }
    } else {
        rc = split_cert_chain(&in->cert_chain, &leaf, &leaf_size, &rest, &rest_size, err);
    }
    if (rc)
        return rc;
    const uint8_t *crl = in->amd_crl.data;
    size_t crl_size = in->amd_crl.size;
    struct keep_amd_chain_opts opts = {
        .time = time,
        .chain = rest,
        .chain_size = rest_size,
        .crls = given(&in->amd_crl) ? &crl : NULL,
        .crl_sizes = given(&in->amd_crl) ? &crl_size : NULL,
        .crl_count = given(&in->amd_crl) ? 1 : 0,
        .roots_dir = v->amd_roots_dir,
    };
    rc = keep_snp_signer_new(leaf, leaf_size, &opts, &s, err);
    if (!given(&in->vcek)) {
        free(leaf);
        free(rest);
    }
    if (rc)
        return rc;
    if (cacheable) {
        signer_store(v, key, s);
    } else {
        *owned = true;
    }
    *out = s;
    return KEEP_OK;
}

static json_t *endorsement_json(const struct keep_amd_endorsement *e)
{
    char hwid[2 * KEEP_AMD_HWID_MAX + 1], nb[32], na[32];
    keep_hex_encode(e->hwid, e->hwid_size, hwid);
    keep_format_time(e->not_before, nb, sizeof(nb));
    keep_format_time(e->not_after, na, sizeof(na));
    json_t *tcb = json_pack("{s:i,s:i,s:i,s:i}", "bootloader", e->tcb.bootloader, "tee", e->tcb.tee,
                            "snp", e->tcb.snp, "microcode", e->tcb.microcode);
    if (tcb && e->tcb.has_fmc)
        json_object_set_new(tcb, "fmc", json_integer(e->tcb.fmc));
    return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s}", "key", keep_amd_key_kind_name(e->kind),
                     "product", keep_amd_product_name(e->product), "product_name", e->product_name,
                     "tcb", tcb ? tcb : json_null(), "hwid", hwid, "chain_valid_from", nb,
                     "chain_valid_until", na);
}

static void snp_policy_evidence(const struct keep_snp_report *rep, struct keep_policy_evidence *ev)
{
    ev->tee = KEEP_ATTEST_TEE_SNP;
    ev->debug = rep->policy_bits.debug; /* ABI 56860 Table 9, bit 19 */
    ev->report_data = rep->report_data;
    ev->measurement = rep->measurement;
    ev->id_key_digest = rep->id_key_digest;
    ev->author_key_digest = rep->author_key_digest;
    ev->guest_svn = rep->guest_svn;
    ev->vmpl = rep->vmpl;
    ev->tcb[KEEP_POLICY_TCB_BOOTLOADER] = rep->reported_tcb.bootloader;
    ev->tcb[KEEP_POLICY_TCB_TEE] = rep->reported_tcb.tee;
    ev->tcb[KEEP_POLICY_TCB_SNP] = rep->reported_tcb.snp;
    ev->tcb[KEEP_POLICY_TCB_MICROCODE] = rep->reported_tcb.microcode;
    ev->tcb[KEEP_POLICY_TCB_FMC] = rep->reported_tcb.fmc;
    ev->has_fmc = rep->reported_tcb.has_fmc;
}

/*
 * A version 2 report does not name its CPU (CPUID_* exist from version 3, ABI 56860 Table 23),
 * so the parser split its TCB_VERSIONs in the Milan/Genoa layout. The verified VCEK/VLEK names
 * the product, and Turin's layout differs (FMC first, SNP in byte 3): policy and claims must
 * see the TCB as that product defines it, as keep_snp_verify_report compares it.
 */
static void snp_tcbs_of_product(struct keep_snp_report *rep, enum keep_amd_product product,
                                struct keep_attest_result *r)
{
    if (rep->has_cpuid)
        return; /* v3+: the parser used the report's own CPUID, which must match the signer */
    struct keep_amd_tcb *tcbs[] = {&rep->current_tcb, &rep->reported_tcb, &rep->committed_tcb,
                                   &rep->launch_tcb};
    for (size_t i = 0; i < KEEP_ARRAY_LEN(tcbs); i++)
        keep_amd_tcb_decode(tcbs[i]->raw, product, tcbs[i]);
    json_decref(r->claims);
    r->claims = keep_snp_claims_json(rep);
    if (!r->claims)
        r->nomem = true;
}

static void verify_snp(struct keep_attest_verifier *v, const struct keep_attest_input *in,
                       const struct keep_attest_policy *policy, int64_t time,
                       struct keep_attest_result *r)
{
    struct keep_snp_report rep;
    struct keep_error err = {0};
    const uint8_t *raw = in->evidence.data;
    r->tee = KEEP_ATTEST_TEE_SNP;
    if (record(r, "snp.report_format", keep_snp_report_parse(raw, in->evidence.size, &rep, &err),
               &err))
        return;
    r->claims = keep_snp_claims_json(&rep);
    if (!r->claims)
        r->nomem = true;
    if (!given(&in->vcek) && !given(&in->cert_chain)) {
        keep_fail(&err, KEEP_E_ATTEST_ENDORSEMENT_MISSING,
                  "the report is signed by a %s; give its certificate (--vcek or --cert-chain)",
                  keep_amd_key_kind_name(rep.signer_info.signing_key));
        check_failed(r, "snp.endorsement_chain", &err);
        return;
    }
    struct keep_snp_signer *signer = NULL;
    bool owned = false;
    if (record(r, "snp.endorsement_chain", snp_signer(v, in, time, &signer, &owned, &err), &err))
        return;
    snp_tcbs_of_product(&rep, keep_snp_signer_endorsement(signer)->product, r);
    if (given(&in->amd_crl))
        check_passed(r, "amd.crl");
    else
        check_skipped(r, "amd.crl", "no AMD CRL given: revocation of the ASK/ASVK was not checked");
    int rc = keep_snp_verify_report(signer, &rep, raw, in->evidence.size, &err);
    if (r->claims)
        json_object_set_new(r->claims, "endorsement",
                            endorsement_json(keep_snp_signer_endorsement(signer)));
    if (owned)
        keep_snp_signer_free(signer);
    if (record(r, "snp.report_signature", rc, &err))
        return;
    struct keep_policy_evidence ev = {0};
    snp_policy_evidence(&rep, &ev);
    keep_policy_apply(policy, &ev, &r->errors);
}

/* ---- Intel collateral --------------------------------------------------- */

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/*
 * The cache windows end one second before notAfter / nextUpdate: OpenSSL's
 * chain verification (X509_cmp_time) already calls a certificate or CRL
 * expired at that very second, and a cached result must never hold where a
 * fresh verification fails. Ending early only costs a re-verification.
 */
static int64_t last_valid_second(int64_t end)
{
    return end == INT64_MIN ? end : end - 1;
}

static void narrow_to_chain(STACK_OF(X509) * chain, int64_t *from, int64_t *until)
{
    for (int i = 0; chain && i < sk_X509_num(chain); i++) {
        int64_t nb, na;
        if (keep_x509_validity(sk_X509_value(chain, i), &nb, &na, NULL) == KEEP_OK) {
            *from = max64(*from, nb);
            *until = min64(*until, last_valid_second(na));
        }
    }
}

/* Narrow [*from, *until] to a signed item's issueDate..nextUpdate and its issuer chain. */
static void narrow_to_item(int64_t issue_date, int64_t next_update, STACK_OF(X509) * chain,
                           int64_t *from, int64_t *until)
{
    *from = max64(*from, issue_date);
    *until = min64(*until, next_update);
    narrow_to_chain(chain, from, until);
}

static int crl_window(X509_CRL *crl, int64_t *from, int64_t *until)
{
    struct tm tm;
    const ASN1_TIME *last = X509_CRL_get0_lastUpdate(crl), *next = X509_CRL_get0_nextUpdate(crl);
    if (!last || !ASN1_TIME_to_tm(last, &tm))
        return -1;
    *from = max64(*from, (int64_t)timegm(&tm));
    if (next) {
        if (!ASN1_TIME_to_tm(next, &tm))
            return -1;
        *until = min64(*until, last_valid_second((int64_t)timegm(&tm)));
    }
    return 0;
}

static int collateral_parse(const struct keep_attest_input *in, struct keep_collateral **out,
                            struct keep_error *err)
{
    if (given(&in->collateral_json))
        return keep_collateral_parse_json(in->collateral_json.data, in->collateral_json.size, out,
                                          err);
    struct keep_collateral *c = NULL;
    int rc = keep_collateral_new(&c, err);
    if (rc == KEEP_OK && given(&in->tcb_info))
        rc = keep_collateral_set_tcb_info(c, in->tcb_info.data, in->tcb_info.size, err);
    if (rc == KEEP_OK && given(&in->qe_identity))
        rc = keep_collateral_set_qe_identity(c, in->qe_identity.data, in->qe_identity.size, err);
    if (rc == KEEP_OK && given(&in->tcb_signing_chain) && given(&in->tcb_info))
        rc = keep_collateral_set_tcb_info_issuer_chain(c, in->tcb_signing_chain.data,
                                                       in->tcb_signing_chain.size, err);
    if (rc == KEEP_OK && given(&in->tcb_signing_chain) && given(&in->qe_identity))
        rc = keep_collateral_set_qe_identity_issuer_chain(c, in->tcb_signing_chain.data,
                                                          in->tcb_signing_chain.size, err);
    if (rc == KEEP_OK && given(&in->pck_crl_issuer_chain))
        rc = keep_collateral_set_pck_crl_issuer_chain(c, in->pck_crl_issuer_chain.data,
                                                      in->pck_crl_issuer_chain.size, err);
    if (rc == KEEP_OK && given(&in->root_ca_crl))
        rc = keep_collateral_set_root_ca_crl(c, in->root_ca_crl.data, in->root_ca_crl.size, err);
    if (rc == KEEP_OK && given(&in->pck_crl))
        rc = keep_collateral_set_pck_crl(c, in->pck_crl.data, in->pck_crl.size, err);
    if (rc) {
        keep_collateral_free(c);
        return rc;
    }
    *out = c;
    return KEEP_OK;
}

static bool collateral_given(const struct keep_attest_input *in)
{
    return given(&in->collateral_json) || given(&in->tcb_info) || given(&in->qe_identity) ||
           given(&in->pck_crl) || given(&in->root_ca_crl) || given(&in->tcb_signing_chain) ||
           given(&in->pck_crl_issuer_chain);
}

/*
 * Verify each collateral item that was given, at `time`, and compute the
 * window in which these results hold. A TCB Info or QE Identity without its
 * issuer chain cannot be authenticated: it is left unused (e->*_ok false)
 * and reported as missing, never trusted. The PCK CRL is checked against
 * the quote's own PCK CA by keep_pck_verify_chain.
 */
static int collateral_verify(struct keep_attest_verifier *v, struct collateral_entry *e,
                             int64_t time, struct keep_attest_result *r)
{
    struct keep_collateral *c = e->coll;
    struct keep_error err = {0};
    int64_t from = INT64_MIN, until = INT64_MAX;
    int rc;
    /* Until every item verifies, the entry is valid at no time: a failed re-check must not
     * leave a half-verified set in the cache. */
    e->tcb_info_ok = e->qe_identity_ok = false;
    e->valid_from = INT64_MAX;
    e->valid_until = INT64_MIN;
    if (c->root_ca_crl) {
        /* PCK CRL profile 1.4 / 1.7: the root CA CRL is signed by the Intel SGX Root CA. */
        rc =
            keep_x509_check_crl(c->root_ca_crl, v->intel_root, time, "Intel SGX Root CA CRL", &err);
        if (record(r, "collateral.root_ca_crl", rc, &err))
            return rc;
        crl_window(c->root_ca_crl, &from, &until);
    }
    if (c->tcb_info && c->tcb_info->doc.issuer_chain) {
        rc = keep_tcb_info_verify(c->tcb_info, v->intel_roots, c->root_ca_crl, time, &err);
        if (record(r, "collateral.tcb_info", rc, &err))
            return rc;
        narrow_to_item(c->tcb_info->issue_date, c->tcb_info->next_update,
                       c->tcb_info->doc.issuer_chain, &from, &until);
        e->tcb_info_ok = true;
    }
    if (c->qe_identity && c->qe_identity->doc.issuer_chain) {
        rc = keep_qe_identity_verify(c->qe_identity, v->intel_roots, c->root_ca_crl, time, &err);
        if (record(r, "collateral.qe_identity", rc, &err))
            return rc;
        narrow_to_item(c->qe_identity->issue_date, c->qe_identity->next_update,
                       c->qe_identity->doc.issuer_chain, &from, &until);
        e->qe_identity_ok = true;
    }
    if (c->pck_crl)
        crl_window(c->pck_crl, &from, &until);
    e->valid_from = from;
    e->valid_until = until;
    return KEEP_OK;
}

static struct collateral_entry *collateral_slot(struct keep_attest_verifier *v)
{
    if (v->coll_count < CACHE_MAX)
        return &v->colls[v->coll_count++];
    struct collateral_entry *e = &v->colls[v->coll_next];
    v->coll_next = (v->coll_next + 1) % CACHE_MAX;
    collateral_entry_clear(e);
    return e;
}

/*
 * The verified collateral for this input: cached by content hash and reused
 * while `time` is inside its window; otherwise parsed and verified now.
 * Returns NULL (with the failure recorded in r) when the collateral given
 * does not parse or verify.
 */
static const struct collateral_entry *intel_collateral(struct keep_attest_verifier *v,
                                                       const struct keep_attest_input *in,
                                                       int64_t time, struct keep_attest_result *r)
{
    struct keep_attest_blob parts[] = {in->collateral_json, in->tcb_info,
                                       in->qe_identity,     in->tcb_signing_chain,
                                       in->pck_crl,         in->pck_crl_issuer_chain,
                                       in->root_ca_crl};
    uint8_t key[SHA256_DIGEST_LENGTH];
    sha256_parts(parts, KEEP_ARRAY_LEN(parts), key);
    for (size_t i = 0; i < v->coll_count; i++) {
        struct collateral_entry *e = &v->colls[i];
        if (memcmp(e->key, key, sizeof(key)) != 0)
            continue;
        if (time >= e->valid_from && time <= e->valid_until) {
            check_passed(r, "collateral.cached");
            return e;
        }
        /* Outside the window: verify again, which names the stale item. */
        if (collateral_verify(v, e, time, r))
            return NULL;
        return e;
    }
    struct keep_collateral *coll = NULL;
    struct keep_error err = {0};
    if (record(r, "collateral.parse", collateral_parse(in, &coll, &err), &err))
        return NULL;
    struct collateral_entry fresh = {.coll = coll};
    memcpy(fresh.key, key, sizeof(key));
    if (collateral_verify(v, &fresh, time, r)) {
        keep_collateral_free(coll);
        return NULL;
    }
    struct collateral_entry *e = collateral_slot(v);
    *e = fresh;
    return e;
}

/* ---- SGX and TDX quotes ------------------------------------------------- */

static void put_le64(uint8_t out[8], uint64_t v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static void tcb_input_of(const struct keep_quote *q, const struct keep_pck_info *pck, bool tdx,
                         struct keep_tcb_input *in)
{
    memset(in, 0, sizeof(*in));
    in->tee = tdx ? KEEP_TEE_TDX : KEEP_TEE_SGX;
    memcpy(in->cpusvn_components, pck->cpusvn_components, KEEP_TCB_COMPONENTS);
    in->pcesvn = pck->pcesvn;
    memcpy(in->fmspc, pck->fmspc, sizeof(in->fmspc));
    memcpy(in->pceid, pck->pceid, sizeof(in->pceid));
    if (tdx) {
        memcpy(in->tee_tcb_svn, q->body.td.tee_tcb_svn, KEEP_TCB_COMPONENTS);
        memcpy(in->mrsignerseam, q->body.td.mr_signer_seam, sizeof(in->mrsignerseam));
        put_le64(in->seam_attributes, q->body.td.seam_attributes);
    }
}

static void qe_input_of(const struct keep_quote *q, struct keep_qe_report_input *in)
{
    memcpy(in->mrsigner, q->qe_report.mr_signer, sizeof(in->mrsigner));
    in->isvprodid = q->qe_report.isv_prod_id;
    in->isvsvn = q->qe_report.isv_svn;
    memcpy(in->attributes, q->qe_report.attributes, sizeof(in->attributes));
    in->miscselect = q->qe_report.misc_select;
}

static void add_advisory(struct keep_attest_result *r, const char *id)
{
    for (size_t i = 0; i < r->advisory_count; i++)
        if (strcmp(r->advisories[i], id) == 0)
            return;
    char **grown = realloc(r->advisories, (r->advisory_count + 1) * sizeof(char *));
    char *copy = strdup(id);
    if (!grown || !copy) {
        free(copy);
        if (grown)
            r->advisories = grown;
        r->nomem = true;
        return;
    }
    r->advisories = grown;
    r->advisories[r->advisory_count++] = copy;
}

/* Append item to the comma-separated list buf. */
static void list_add(char *buf, size_t size, const char *item)
{
    size_t used = strlen(buf);
    snprintf(buf + used, size - used, "%s%s", used ? ", " : "", item);
}

/*
 * TCB status from the authenticated collateral ([QVL] order: platform
 * (FMSPC, PCE-ID), TCB level, QE identity, then the statuses converged).
 * Fills r->tcb_status and r->advisories. Returns nonzero when a check
 * failed (recorded as INVALID).
 */
static int intel_tcb(const struct collateral_entry *e, const struct keep_quote *q,
                     const struct keep_pck_info *pck, bool tdx, struct keep_attest_result *r)
{
    struct keep_error err = {0};
    struct keep_tcb_input tin;
    struct keep_qe_report_input qin;
    struct keep_tcb_result tres = {0};
    struct keep_qe_identity_result qres = {0};
    const struct keep_collateral *c = e->coll;
    int rc;
    tcb_input_of(q, pck, tdx, &tin);
    qe_input_of(q, &qin);
    rc = keep_tcb_info_check_platform(c->tcb_info, &tin, &err);
    if (record(r, "tcb.platform", rc, &err))
        return rc;
    rc = keep_tcb_match(c->tcb_info, &tin, &tres, &err);
    if (record(r, "tcb.level", rc, &err))
        return rc;
    enum keep_tcb_status status = tres.status;
    for (size_t i = 0; i < tres.advisory_count; i++)
        add_advisory(r, tres.advisory_ids[i]);
    keep_tcb_result_free(&tres);
    if (e->qe_identity_ok) {
        rc = keep_qe_identity_check(c->qe_identity, tin.tee, &qin, &qres, &err);
        if (record(r, "qe_identity.match", rc, &err))
            return rc;
        status = keep_tcb_converge_with_qe(status, qres.status);
        for (size_t i = 0; i < qres.advisory_count; i++)
            add_advisory(r, qres.advisory_ids[i]);
    } else {
        check_skipped(r, "qe_identity.match",
                      c->qe_identity ? "QE Identity given without its issuer chain"
                                     : "no QE Identity given");
    }
    r->tcb_status = strdup(keep_tcb_status_name(status));
    if (!r->tcb_status)
        r->nomem = true;
    return KEEP_OK;
}

/*
 * An authenticated QE Identity without a usable TCB Info: there is no
 * platform status to converge with, but the QE must still be the one the
 * QE Identity names ([PCS] Enclave Identity): a present item that
 * contradicts the quote makes it invalid, whatever the policy tolerates
 * about missing ones. Returns nonzero when the check failed.
 */
static int intel_qe_only(const struct collateral_entry *e, const struct keep_quote *q, bool tdx,
                         struct keep_attest_result *r)
{
    struct keep_error err = {0};
    struct keep_qe_report_input qin;
    struct keep_qe_identity_result qres = {0};
    qe_input_of(q, &qin);
    return record(r, "qe_identity.match",
                  keep_qe_identity_check(e->coll->qe_identity, tdx ? KEEP_TEE_TDX : KEEP_TEE_SGX,
                                         &qin, &qres, &err),
                  &err);
}

static void quote_policy_evidence(const struct keep_quote *q, bool tdx,
                                  struct keep_policy_evidence *ev)
{
    if (tdx) {
        const struct keep_td_report_body *b = &q->body.td;
        ev->tee = KEEP_ATTEST_TEE_TDX;
        ev->debug = (b->td_attributes & KEEP_TD_ATTR_DEBUG) != 0; /* TDX ABI, TD_ATTRIBUTES */
        ev->report_data = b->report_data;
        ev->mrtd = b->mr_td;
        for (int i = 0; i < 4; i++)
            ev->rtmr[i] = b->rtmr[i];
    } else {
        const struct keep_sgx_report_body *b = &q->body.sgx;
        ev->tee = KEEP_ATTEST_TEE_SGX;
        ev->debug = (b->attributes_flags & KEEP_SGX_ATTR_DEBUG) != 0; /* SDM 3D 38.7.1 */
        ev->report_data = b->report_data;
        ev->mrenclave = b->mr_enclave;
        ev->mrsigner = b->mr_signer;
        ev->isvsvn = b->isv_svn;
    }
}

/*
 * Parse a quote, tolerating bytes after its signature data: TDX quotes are
 * produced into fixed-size buffers and often saved with that padding, and
 * published test quotes carry appended text. Those bytes are covered by no
 * signature and never read; the result's checks say how many there were.
 */
static int quote_parse(const uint8_t *buf, size_t size, struct keep_quote *q,
                       struct keep_error *err)
{
    return keep_quote_parse_ex(buf, size, KEEP_QUOTE_PARSE_ALLOW_TRAILING, q, err);
}

/* After a full keep_quote_verify: remember the PCK key and the chain's window. */
static void pck_store(struct keep_attest_verifier *v, const uint8_t *key,
                      const struct keep_quote *q, const struct keep_quote_verify_opts *opts,
                      const struct keep_pck_info *info)
{
    STACK_OF(X509) *chain = NULL;
    if (keep_x509_parse_chain(q->pck_chain_pem, q->pck_chain_size, "PCK chain", &chain, NULL))
        return;
    struct pck_entry e = {.info = *info, .valid_from = INT64_MIN, .valid_until = INT64_MAX};
    memcpy(e.key, key, sizeof(e.key));
    e.pck_key = X509_get_pubkey(sk_X509_value(chain, 0));
    narrow_to_chain(chain, &e.valid_from, &e.valid_until);
    sk_X509_pop_free(chain, X509_free);
    int64_t nb, na;
    if (keep_x509_validity(opts->intel_root, &nb, &na, NULL) == KEEP_OK) {
        e.valid_from = max64(e.valid_from, nb);
        e.valid_until = min64(e.valid_until, last_valid_second(na));
    }
    if (!e.pck_key ||
        (opts->root_ca_crl && crl_window(opts->root_ca_crl, &e.valid_from, &e.valid_until)) ||
        (opts->pck_crl && crl_window(opts->pck_crl, &e.valid_from, &e.valid_until))) {
        EVP_PKEY_free(e.pck_key);
        return;
    }
    struct pck_entry *slot;
    if (v->pck_count < CACHE_MAX) {
        slot = &v->pcks[v->pck_count++];
    } else {
        slot = &v->pcks[v->pck_next];
        v->pck_next = (v->pck_next + 1) % CACHE_MAX;
        pck_entry_clear(slot);
    }
    *slot = e;
}

/*
 * keep_quote_verify, with the PCK chain (and the CRLs applied to it) cached:
 * a quote whose chain bytes and collateral were seen, at a time inside the
 * chain's window, costs the two signatures that are its own.
 */
static int quote_genuine(struct keep_attest_verifier *v, const struct keep_quote *q,
                         const struct keep_quote_verify_opts *opts,
                         const struct collateral_entry *coll, struct keep_pck_info *pck,
                         bool *cached, struct keep_error *err)
{
    static const uint8_t no_collateral[SHA256_DIGEST_LENGTH];
    struct keep_attest_blob parts[] = {
        {q->pck_chain_pem, q->pck_chain_size},
        {coll ? coll->key : no_collateral, SHA256_DIGEST_LENGTH},
    };
    uint8_t key[SHA256_DIGEST_LENGTH];
    sha256_parts(parts, KEEP_ARRAY_LEN(parts), key);
    *cached = false;
    for (size_t i = 0; i < v->pck_count; i++) {
        struct pck_entry *e = &v->pcks[i];
        if (memcmp(e->key, key, sizeof(key)) != 0 || opts->time < e->valid_from ||
            opts->time > e->valid_until)
            continue;
        *cached = true;
        *pck = e->info;
        return keep_quote_verify_with_pck_key(q, e->pck_key, &e->ak, err);
    }
    int rc = keep_quote_verify(q, opts, pck, err);
    if (rc == KEEP_OK)
        pck_store(v, key, q, opts, pck);
    return rc;
}

static void verify_quote(struct keep_attest_verifier *v, const struct keep_attest_input *in,
                         const struct keep_attest_policy *policy, int64_t time, bool want_tdx,
                         struct keep_attest_result *r)
{
    struct keep_quote q;
    struct keep_error err = {0};
    r->tee = want_tdx ? KEEP_ATTEST_TEE_TDX : KEEP_ATTEST_TEE_SGX;
    if (record(r, "quote.format", quote_parse(in->evidence.data, in->evidence.size, &q, &err),
               &err))
        return;
    bool tdx = q.body_kind != KEEP_QUOTE_BODY_KIND_SGX;
    if (tdx != want_tdx) {
        keep_fail(&err, KEEP_E_ATTEST_FORMAT_MISMATCH,
                  "the quote is a %s quote (version %u); --format %s was asked for",
                  tdx ? "TDX" : "SGX", q.header.version, want_tdx ? "tdx" : "sgx");
        check_failed(r, "quote.format", &err);
        return;
    }
    r->claims = keep_quote_claims_json(&q);
    if (!r->claims)
        r->nomem = true;
    if (q.trailing_size)
        add_check(r, "quote.trailing_bytes", KEEP_ATTEST_CHECK_PASSED,
                  "%zu bytes after the quote are covered by no signature and were ignored",
                  q.trailing_size);

    const struct collateral_entry *coll = NULL;
    if (collateral_given(in)) {
        coll = intel_collateral(v, in, time, r);
        if (!coll)
            return;
    }
    struct keep_quote_verify_opts opts = {
        .time = time,
        .intel_root = v->intel_root,
        .root_ca_crl = coll ? coll->coll->root_ca_crl : NULL,
        .pck_crl = coll ? coll->coll->pck_crl : NULL,
    };
    struct keep_pck_info pck;
    bool cached = false;
    int rc = quote_genuine(v, &q, &opts, coll, &pck, &cached, &err);
    if (record(r, "quote.pck_chain_and_signatures", rc, &err))
        return;
    if (cached)
        check_passed(r, "quote.pck_chain_cached");
    if (r->claims)
        json_object_set_new(r->claims, "pck", keep_pck_info_json(&pck));

    /* What is missing decides the policy's allow_missing_collateral rule. */
    char missing[160] = "";
    if (!opts.root_ca_crl)
        list_add(missing, sizeof(missing), "root_ca_crl");
    if (!opts.pck_crl)
        list_add(missing, sizeof(missing), "pck_crl");
    if (!coll || !coll->tcb_info_ok)
        list_add(missing, sizeof(missing),
                 coll && coll->coll->tcb_info ? "tcb_info issuer chain" : "tcb_info");
    if (!coll || !coll->qe_identity_ok)
        list_add(missing, sizeof(missing),
                 coll && coll->coll->qe_identity ? "qe_identity issuer chain" : "qe_identity");
    if (!opts.root_ca_crl || !opts.pck_crl)
        check_skipped(r, "quote.revocation", "a CRL was not given: revocation not fully checked");
    if (coll && coll->tcb_info_ok) {
        if (intel_tcb(coll, &q, &pck, tdx, r))
            return;
    } else {
        check_skipped(r, "tcb.level",
                      "no authenticated TCB Info: the TCB status cannot be established");
        if (coll && coll->qe_identity_ok && intel_qe_only(coll, &q, tdx, r))
            return;
    }
    struct keep_policy_evidence ev = {0};
    quote_policy_evidence(&q, tdx, &ev);
    ev.tcb_status = r->tcb_status;
    ev.advisories = (const char *const *)r->advisories;
    ev.advisory_count = r->advisory_count;
    ev.missing_collateral = missing;
    keep_policy_apply(policy, &ev, &r->errors);
}

/* ---- kvm ---------------------------------------------------------------- */

static json_t *kvm_claims_json(const struct keep_kvm_evidence *e)
{
    char measurement[97], report_data[129];
    keep_hex_encode(e->measurement, sizeof(e->measurement), measurement);
    keep_hex_encode(e->report_data, sizeof(e->report_data), report_data);
    return json_pack("{s:s,s:i,s:s,s:s,s:b}", "tee", "kvm", "version", e->version, "measurement",
                     measurement, "report_data", report_data, "signed", 0);
}

/*
 * Unsigned evidence of a plain-KVM Keep (kvm_evidence.h): its format is
 * checked, nothing else can be. The policy rejects it unless it sets
 * allow_insecure; its measurement and report_data rules apply as to SNP.
 */
static void verify_kvm(const struct keep_attest_input *in, const struct keep_attest_policy *policy,
                       struct keep_attest_result *r)
{
    struct keep_kvm_evidence e;
    struct keep_error err = {0};
    r->tee = KEEP_ATTEST_TEE_KVM;
    if (record(r, "kvm.format",
               keep_kvm_evidence_parse(in->evidence.data, in->evidence.size, &e, &err), &err))
        return;
    r->claims = kvm_claims_json(&e);
    if (!r->claims)
        r->nomem = true;
    check_skipped(r, "kvm.signature", "kvm evidence is unsigned: nothing vouches for it");
    struct keep_policy_evidence ev = {
        .tee = KEEP_ATTEST_TEE_KVM,
        .report_data = e.report_data,
        .measurement = e.measurement,
    };
    keep_policy_apply(policy, &ev, &r->errors);
}

/* ---- the entry points --------------------------------------------------- */

int keep_attest_verify(struct keep_attest_verifier *v, const struct keep_attest_input *in,
                       const struct keep_attest_policy *policy, struct keep_attest_result **out,
                       struct keep_error *err)
{
    if (!v || !in || !out)
        return keep_fail(err, KEEP_E_USAGE,
                         "keep_attest_verify: verifier, in and out are required");
    *out = NULL;
    if (!policy)
        policy = v->default_policy;
    struct keep_attest_result *r = calloc(1, sizeof(*r));
    if (!r)
        return keep_fail(err, KEEP_E_NOMEM, "keep_attest_verify: out of memory");
    int64_t time_now = in->has_time ? in->time : (int64_t)time(NULL);
    enum keep_attest_format format = in->format;
    struct keep_error e = {0};
    if (format == KEEP_ATTEST_FORMAT_AUTO)
        format = keep_attest_detect_format(in->evidence.data, in->evidence.size);
    switch (format) {
    case KEEP_ATTEST_FORMAT_SNP:
        verify_snp(v, in, policy, time_now, r);
        break;
    case KEEP_ATTEST_FORMAT_SGX:
    case KEEP_ATTEST_FORMAT_TDX:
        verify_quote(v, in, policy, time_now, format == KEEP_ATTEST_FORMAT_TDX, r);
        break;
    case KEEP_ATTEST_FORMAT_KVM:
        verify_kvm(in, policy, r);
        break;
    default:
        keep_fail(&e, KEEP_E_ATTEST_FORMAT_UNKNOWN,
                  "evidence of %zu bytes is not an SEV-SNP report (1184 bytes, version 2, 3 or 5), "
                  "a DCAP quote (version 3, 4 or 5) nor kvm evidence (136 bytes, KEEPEVID)",
                  in->evidence.size);
        check_failed(r, "format", &e);
        break;
    }
    if (r->errors.lost)
        r->nomem = true; /* a failure that could not be recorded must not turn into accept */
    /* Genuine (no INVALID recorded) and no policy failure: accept. */
    if (r->verdict != KEEP_ATTEST_INVALID)
        r->verdict = r->errors.count ? KEEP_ATTEST_REJECT : KEEP_ATTEST_ACCEPT;
    if (r->verdict != KEEP_ATTEST_INVALID)
        add_check(r, "policy",
                  r->verdict == KEEP_ATTEST_ACCEPT ? KEEP_ATTEST_CHECK_PASSED
                                                   : KEEP_ATTEST_CHECK_FAILED,
                  "%s", r->verdict == KEEP_ATTEST_ACCEPT ? "" : "see errors");
    else
        check_skipped(r, "policy", "the evidence is not proven genuine");
    result_finish(r);
    *out = r;
    return KEEP_OK;
}

int keep_attest_show(enum keep_attest_format format, const void *evidence, size_t size,
                     enum keep_attest_tee *tee, char **claims_json, struct keep_error *err)
{
    if (!claims_json || !tee)
        return keep_fail(err, KEEP_E_USAGE, "keep_attest_show: tee and claims_json are required");
    *claims_json = NULL;
    *tee = KEEP_ATTEST_TEE_UNKNOWN;
    if (format == KEEP_ATTEST_FORMAT_AUTO)
        format = keep_attest_detect_format(evidence, size);
    json_t *claims = NULL;
    int rc;
    if (format == KEEP_ATTEST_FORMAT_SNP) {
        struct keep_snp_report rep;
        if ((rc = keep_snp_report_parse(evidence, size, &rep, err)))
            return rc;
        *tee = KEEP_ATTEST_TEE_SNP;
        claims = keep_snp_claims_json(&rep);
    } else if (format == KEEP_ATTEST_FORMAT_SGX || format == KEEP_ATTEST_FORMAT_TDX) {
        struct keep_quote q;
        if ((rc = quote_parse(evidence, size, &q, err)))
            return rc;
        *tee = q.body_kind == KEEP_QUOTE_BODY_KIND_SGX ? KEEP_ATTEST_TEE_SGX : KEEP_ATTEST_TEE_TDX;
        if ((*tee == KEEP_ATTEST_TEE_TDX) != (format == KEEP_ATTEST_FORMAT_TDX))
            return keep_fail(err, KEEP_E_ATTEST_FORMAT_MISMATCH, "the quote is a %s quote",
                             keep_attest_tee_name(*tee));
        claims = keep_quote_claims_json(&q);
    } else if (format == KEEP_ATTEST_FORMAT_KVM) {
        struct keep_kvm_evidence e;
        if ((rc = keep_kvm_evidence_parse(evidence, size, &e, err)))
            return rc;
        *tee = KEEP_ATTEST_TEE_KVM;
        claims = kvm_claims_json(&e);
    } else {
        return keep_fail(err, KEEP_E_ATTEST_FORMAT_UNKNOWN,
                         "evidence of %zu bytes is not an SEV-SNP report nor a DCAP quote", size);
    }
    if (claims)
        *claims_json = json_dumps(claims, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(claims);
    if (!*claims_json)
        return keep_fail(err, KEEP_E_NOMEM, "keep_attest_show: out of memory for the claims");
    return KEEP_OK;
}
