/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep-steward's state: one SQLite database in WAL mode (synchronous=FULL,
 * so a reply is sent only after its records reached the disk). Tables:
 * nonces, certificates, revoked_measurements, policies, secrets (wrapped by
 * the caller, see kek.h) and a hash-chained audit log.
 */
#ifndef KEEP_STEWARD_STORE_H
#define KEEP_STEWARD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keep/error.h"

struct steward_store;

int steward_store_open(const char *path, struct steward_store **out, struct keep_error *err);
void steward_store_close(struct steward_store *s);

/*
 * Transactions nest: the outermost begin is BEGIN IMMEDIATE and its commit the durable COMMIT
 * (synchronous=FULL); a begin inside it is a SAVEPOINT whose commit releases it into the outer
 * transaction and whose rollback undoes only its own records (and restores the audit head).
 * A failed commit leaves its level open for steward_store_rollback.
 */
#define STEWARD_STORE_MAX_DEPTH 8
int steward_store_begin(struct steward_store *s, struct keep_error *err);
int steward_store_commit(struct steward_store *s, struct keep_error *err);
void steward_store_rollback(struct steward_store *s);
bool steward_store_in_transaction(const struct steward_store *s);

/* Nonces: issued with an expiry; used once. */
int steward_nonce_add(struct steward_store *s, const uint8_t *nonce, size_t size, int64_t expires,
                      struct keep_error *err);
/* KEEP_OK and marks it used, or STEWARD_NONCE_UNKNOWN / _REUSED / _EXPIRED. */
int steward_nonce_use(struct steward_store *s, const uint8_t *nonce, size_t size, int64_t now,
                      struct keep_error *err);
/* Forget nonces that expired before `before` (a used or expired one is refused either way). */
int steward_nonce_purge(struct steward_store *s, int64_t before, struct keep_error *err);
/* Nonces issued and neither used nor expired at `now`. */
int steward_nonce_outstanding(struct steward_store *s, int64_t now, int64_t *count,
                              struct keep_error *err);

struct steward_cert_record {
    char serial[41]; /* lower-case hex */
    char workload[65];
    char tee[8];
    char measurement[129]; /* hex; "" when the TEE has none */
    int64_t not_before, not_after;
    bool insecure;
    const uint8_t *der; /* only on add */
    size_t der_size;
    int64_t revoked_at; /* 0: not revoked (by serial) */
};

int steward_cert_add(struct steward_store *s, const struct steward_cert_record *rec,
                     struct keep_error *err);
/* STEWARD_NOT_FOUND when no certificate has this serial. */
int steward_cert_get(struct steward_store *s, const char *serial, struct steward_cert_record *rec,
                     struct keep_error *err);
int steward_cert_revoke(struct steward_store *s, const char *serial, int64_t now,
                        struct keep_error *err);
int steward_measurement_revoke(struct steward_store *s, const char *measurement, int64_t now,
                               struct keep_error *err);
bool steward_measurement_revoked(struct steward_store *s, const char *measurement);

/* Each unexpired certificate revoked by serial or by measurement. */
typedef int (*steward_revoked_fn)(void *ctx, const char *serial, int64_t revoked_at);
int steward_revoked_each(struct steward_store *s, int64_t now, steward_revoked_fn fn, void *ctx,
                         struct keep_error *err);

/* Policies: name -> JSON document (docs/STEWARD.md, "Workload policies"). */
int steward_policy_put(struct steward_store *s, const char *name, const char *doc,
                       struct keep_error *err);
/* *doc malloc'd; STEWARD_WORKLOAD_UNKNOWN when absent. */
int steward_policy_get(struct steward_store *s, const char *name, char **doc,
                       struct keep_error *err);
int steward_policy_delete(struct steward_store *s, const char *name, struct keep_error *err);
/* Names in order, as a malloc'd array of malloc'd strings. */
int steward_policy_names(struct steward_store *s, char ***names, size_t *count,
                         struct keep_error *err);
void steward_names_free(char **names, size_t count);

/* Secrets, stored as the caller wrapped them. */
int steward_secret_put(struct steward_store *s, const char *name, const uint8_t *wrapped,
                       size_t size, struct keep_error *err);
/* *wrapped malloc'd; STEWARD_SECRET_UNKNOWN when absent. */
int steward_secret_get(struct steward_store *s, const char *name, uint8_t **wrapped, size_t *size,
                       struct keep_error *err);

/*
 * The audit log: entry n holds hash_n = SHA-256(hash_{n-1} || be64(n) || be64(time) ||
 * event || 0x00 || detail), hash_0 = 32 zero bytes, so no entry can be changed or
 * removed (except from the end) without breaking every later hash.
 */
int steward_audit_append(struct steward_store *s, int64_t time, const char *event,
                         const char *detail, struct keep_error *err);
/* Recompute the chain; *count entries checked. STEWARD_AUDIT_CHAIN names the first bad entry. */
int steward_audit_verify(struct steward_store *s, int64_t *count, struct keep_error *err);

/* Fetched collateral (a VCEK), cached by URL until not_after; STEWARD_NOT_FOUND when absent
 * or expired. */
int steward_collateral_get(struct steward_store *s, const char *url, int64_t now, uint8_t **body,
                           size_t *size, struct keep_error *err);
int steward_collateral_put(struct steward_store *s, const char *url, const uint8_t *body,
                           size_t size, int64_t now, int64_t not_after, struct keep_error *err);

/* Monotonic counters, one namespace per workload identity: the TEE and the measurement of the
 * client certificate (an insecure kvm Keep never shares an SNP Keep's counters). */
struct steward_counter_key {
    const char *tee;         /* "snp", "sgx", "tdx", "kvm" */
    const char *measurement; /* hex */
    const char *name;
};
/* *value is 0 for a counter never set. */
int steward_counter_get(struct steward_store *s, const struct steward_counter_key *key,
                        uint64_t *value, struct keep_error *err);
int steward_counter_put(struct steward_store *s, const struct steward_counter_key *key,
                        uint64_t value, int64_t now, struct keep_error *err);
/* Counters this workload identity has (key->name is ignored). */
int steward_counter_count(struct steward_store *s, const struct steward_counter_key *key,
                          int64_t *count, struct keep_error *err);

/* Rows of a table (metrics); -1 on error. */
int64_t steward_store_count(struct steward_store *s, const char *table);

#endif
