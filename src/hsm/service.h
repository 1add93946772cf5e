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
