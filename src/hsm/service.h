/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key service's state and request handling, without transport: the
 * token (PINs, sealed store, objects) and the PKCS#11 rules applied to each
 * request frame. keep-hsm (src/hsm/keep_hsm.c) feeds it frames read from
 * TLS connections; the unit tests and the fuzzer feed it frames directly.
 */
#ifndef KEEP_HSM_SERVICE_H
#define KEEP_HSM_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hsm/wire.h"
#include "keep/error.h"

struct hsm_service;

/* Open (or create, on first C_InitToken) the token stored at store_path. */
int hsm_service_open(const char *store_path, uint32_t kdf_iterations, struct hsm_service **out,
                     struct keep_error *err);
void hsm_service_free(struct hsm_service *s);
/* What HELLO returns: the Keep's evidence, bound to the TLS key (may be empty under nil). */
int hsm_service_set_evidence(struct hsm_service *s, const uint8_t *evidence, size_t size);

/*
 * Where key attestation gets evidence: fn(report_data, buf, cap) returns the
 * evidence size or a negative errno (keep_get_evidence, include/keep/keep.h).
 * Without one, HSM_ATTR_KEY_EVIDENCE is CKR_ATTRIBUTE_TYPE_INVALID.
 */
typedef long (*hsm_evidence_fn)(const uint8_t report_data[64], void *buf, size_t cap);
void hsm_service_set_evidence_fn(struct hsm_service *s, hsm_evidence_fn fn);

/*
 * Rollback detection (docs/HSM.md "Rollback"): a version counter held
 * outside the host (keep-steward's /v1/counters/NAME, keep_steward_counter).
 * get reads it; cas moves it from expect to set: 0 done, 1 it held another
 * value (now in *value), -1 failure (msg). Each returns as
 * include/keep/steward_client.h's functions do.
 */
struct hsm_counter {
    void *ctx;
    int (*get)(void *ctx, uint64_t *value, char *msg, size_t msg_size);
    int (*cas)(void *ctx, uint64_t expect, uint64_t set, uint64_t *value, char *msg,
               size_t msg_size);
};

/*
 * Bind the token to counter (copied) and check the store against it, before
 * any client is served. Store generation G, counter C: G == C is current;
 * G == C + 1 is a write that reached the store but not the counter (a kill
 * between the two): the counter is moved to G and the store accepted; G < C
 * is a rollback (KEEP_E_HSM_ROLLBACK); G > C + 1 cannot come from this
 * service (KEEP_E_HSM_COUNTER). From then on every write of the store moves
 * the counter to the store's new generation before it is acknowledged.
 */
int hsm_service_set_counter(struct hsm_service *s, const struct hsm_counter *counter,
                            struct keep_error *err);

/*
 * The token's master key secret released by the attestation service (docs/HSM.md "Sealing
 * key"), or NULL for none. With a secret, a token initialised from now on is sealed under the
 * PINs and the secret together; a token already sealed one way must be opened the same way
 * (KEEP_E_HSM_CONFIG otherwise). Call before any client is served.
 */
int hsm_service_set_master_secret(struct hsm_service *s, const uint8_t *secret, size_t size,
                                  struct keep_error *err);

/* A client connection (one PKCS#11 application): login state and its sessions. */
uint64_t hsm_service_connect(struct hsm_service *s);
void hsm_service_disconnect(struct hsm_service *s, uint64_t conn);

/*
 * Handle one whole request frame (hsm_frame_split) from conn and append its
 * reply frame to out. Fails only when the frame itself is unusable (bad
 * length, version, op): the caller then closes the connection. A bad field
 * inside a good frame is answered CKR_ARGUMENTS_BAD.
 */
int hsm_service_handle(struct hsm_service *s, uint64_t conn, const uint8_t *frame, size_t size,
                       struct hsm_buf *out, struct keep_error *err);

/* True for an op that may run beside other such ops, on other threads (hsm/pool.h). */
bool hsm_service_concurrent(uint8_t op);

#endif /* KEEP_HSM_SERVICE_H */
