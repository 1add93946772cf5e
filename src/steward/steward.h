/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep-steward's core, independent of HTTP: nonces, certificate issuance
 * against per-workload policies, secret release, revocation and the audit
 * log (docs/STEWARD.md). server.c puts HTTP/TLS in front of it.
 */
#ifndef KEEP_STEWARD_STEWARD_H
#define KEEP_STEWARD_STEWARD_H

#include <jansson.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

#include "keep/attest.h"
#include "steward/ca.h"
#include "steward/request.h"
#include "steward/store.h"

#define STEWARD_NONCE_LIFETIME 300         /* seconds: 5 minutes */
#define STEWARD_MAX_LIFETIME   (24 * 3600) /* a leaf lives at most 24 h */
/* Nonces outstanding at once (unused, unexpired): POST /v1/nonce is unauthenticated. */
#define STEWARD_MAX_NONCES 100000

struct steward_config {
    bool insecure_kvm;         /* accept unsigned kvm evidence (the certificate says so) */
    int64_t lifetime;          /* leaf lifetime, seconds (<= STEWARD_MAX_LIFETIME) */
    const char *roots_dir;     /* vendor roots; NULL: the shipped ones */
    const char *public_url;    /* https://host:port, for the CRL distribution point */
    const char *kds_url;       /* AMD KDS base (https://kdsintf.amd.com): VCEKs not supplied */
    const char *kds_product;   /* KDS product name in the VCEK URL (Milan, Genoa, Turin) */
    const char *intel_pcs_url; /* Intel PCS or PCCS base: SGX/TDX collateral not supplied */
    int64_t max_nonces;        /* outstanding nonces at most; 0: STEWARD_MAX_NONCES */
};

struct steward {
    struct steward_config cfg;
    struct steward_store *store;
    struct steward_ca ca;
    struct keep_attest_verifier *verifier;
    char state_dir[4096];
    /* counters for /metrics */
    uint64_t issued, refused, secrets_released, secrets_refused, nonces, fetched, fetch_cached;
};

int steward_open(const char *state_dir, const struct steward_config *cfg, struct steward **out,
                 struct keep_error *err);
void steward_close(struct steward *s);

/* A fresh single-use nonce (hex) valid until *expires. */
int steward_nonce_new(struct steward *s, int64_t now, char hex[2 * STEWARD_NONCE_SIZE + 1],
                      int64_t *expires, struct keep_error *err);

struct steward_issued {
    X509 *cert;
    char serial[41];
    char workload[STEWARD_WORKLOAD_MAX + 1];
    char *claims_json; /* the EAR claim set put in the certificate */
};
void steward_issued_free(struct steward_issued *i);

/*
 * Check the nonce (single use, unexpired), verify the evidence with
 * libkeep-attest against the named workload's policy (or each policy in
 * name order when none is named) with report_data bound to the nonce and the
 * CSR key, and issue a leaf. *errors (may be NULL) receives, on a refusal by
 * policy, the failed checks as [{code, message}]. Every outcome is audited.
 */
int steward_issue(struct steward *s, const struct steward_cert_request *req, int64_t now,
                  struct steward_issued *out, json_t **errors, struct keep_error *err);

/*
 * Collateral fetched without blocking (server.c): before a request is queued, the server asks
 * whether its VCEK must come from the KDS. NONE: nothing to fetch (no --kds, not SNP, or the
 * request carries its VCEK or chain); CACHED: *cached (malloc'd) holds it, put it in the
 * request's vcek; FETCH: GET url off the event loop, then steward_vcek_fetched() caches and
 * audits the reply (its own transaction) before the request, with that VCEK, is queued.
 */
enum steward_vcek_plan { STEWARD_VCEK_NONE, STEWARD_VCEK_CACHED, STEWARD_VCEK_FETCH };
#define STEWARD_FETCH_TIMEOUT 10 /* seconds */
enum steward_vcek_plan steward_vcek_plan(struct steward *s, const struct steward_cert_request *req,
                                         int64_t now, char *url, size_t url_size,
                                         struct steward_bytes *cached);
/*
 * The same for Intel collateral (src/steward/pcs.h): an SGX/TDX request carrying no collateral,
 * with --intel-pcs set. CACHED: *cached is the assembled blob (steward_pcs_apply fills the
 * request); FETCH: steward_pcs_fetch(cfg.intel_pcs_url, target) off the event loop, then
 * steward_intel_fetched() caches it under key until its earliest nextUpdate.
 */
struct steward_pcs_target;
enum steward_vcek_plan steward_intel_plan(struct steward *s, const struct steward_cert_request *req,
                                          int64_t now, char *key, size_t key_size,
                                          struct steward_pcs_target *target,
                                          struct steward_bytes *cached);
int steward_intel_fetched(struct steward *s, const char *key, const struct steward_bytes *blob,
                          int64_t not_after, int64_t now, struct keep_error *err);
int steward_vcek_fetched(struct steward *s, const char *url, const struct steward_bytes *vcek,
                         int64_t now, struct keep_error *err);

/*
 * Verification off the event loop (server.c's workers). On the loop, steward_precheck_plan
 * copies the policy documents the request will be tried against (the named one, or all in
 * name order); on any thread, steward_precheck_run verifies the evidence against each with a
 * verifier of that thread's own (a verifier's caches are not shared between threads); then, on
 * the loop, steward_issue_prechecked is steward_issue using those verdicts for each policy
 * whose document is still the same (and verifying again for any other).
 */
struct steward_precheck {
    char name[STEWARD_WORKLOAD_MAX + 1];
    char *doc;
    struct keep_attest_result *result; /* NULL: not verified */
};
struct steward_prechecks {
    struct steward_precheck *items;
    size_t count;
};
int steward_precheck_plan(struct steward *s, const struct steward_cert_request *req,
                          struct steward_prechecks *out, struct keep_error *err);
void steward_precheck_run(const struct steward *s, struct keep_attest_verifier *verifier,
                          const struct steward_cert_request *req, int64_t now,
                          struct steward_prechecks *p);
void steward_prechecks_free(struct steward_prechecks *p);
int steward_issue_prechecked(struct steward *s, const struct steward_cert_request *req, int64_t now,
                             struct steward_prechecks *pre, struct steward_issued *out,
                             json_t **errors, struct keep_error *err);

/* The secret `name` for the holder of peer (verified by TLS against our CA). */
int steward_secret_release(struct steward *s, X509 *peer, const char *name, int64_t now,
                           uint8_t **value, size_t *size, struct keep_error *err);

/*
 * Monotonic counters for a workload's rollback detection (docs/STEWARD.md, "Counters"). The
 * namespace is the TEE and measurement of peer, a client certificate this service issued, so a
 * workload reads and moves only its own. A counter never set reads 0. steward_counter_swap sets
 * it to u->set iff it holds u->expect (u->set > u->expect), durably (committed) before it
 * returns; STEWARD_COUNTER_CONFLICT leaves it unchanged with *value = the value it holds.
 */
#define STEWARD_MAX_COUNTERS 1024 /* per workload identity */
int steward_counter_read(struct steward *s, X509 *peer, const char *name, int64_t now,
                         uint64_t *value, struct keep_error *err);
int steward_counter_swap(struct steward *s, X509 *peer, const char *name,
                         const struct steward_counter_update *u, int64_t now, uint64_t *value,
                         struct keep_error *err);

/* Admin operations; each is audited. */
int steward_admin_policy_put(struct steward *s, const char *name, const char *doc, int64_t now,
                             struct keep_error *err);
int steward_admin_policy_delete(struct steward *s, const char *name, int64_t now,
                                struct keep_error *err);
int steward_admin_secret_put(struct steward *s, const char *name, const uint8_t *value, size_t size,
                             int64_t now, struct keep_error *err);
int steward_admin_revoke_serial(struct steward *s, const char *serial, int64_t now,
                                struct keep_error *err);
int steward_admin_revoke_measurement(struct steward *s, const char *measurement, int64_t now,
                                     struct keep_error *err);

/* A workload policy document: {"attest": {...}, "secrets": [..], "dns": [..], "lifetime": s}. */
struct steward_workload {
    char *attest_json; /* the libkeep-attest policy, "{}" when absent */
    char **secrets;
    size_t secret_count;
    char **dns;
    size_t dns_count;
    int64_t lifetime; /* 0: the service's */
};
int steward_workload_parse(const char *doc, struct steward_workload *out, struct keep_error *err);
void steward_workload_free(struct steward_workload *w);

#endif
