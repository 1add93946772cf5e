/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The module's side of the transport: one TLS 1.3 connection per process to
 * keep-hsm over its unix socket, the Keep's evidence checked before any PIN
 * is sent (docs/HSM.md, "Trust"), and pipelined calls: any number of threads
 * may call at once; each writes its request and waits for the reply with
 * its id, and whichever thread holds the read side hands out the replies.
 *
 * Configuration (environment): KEEP_PKCS11_SOCKET (the socket path),
 * KEEP_PKCS11_MEASUREMENT (96 hex digits: the launch measurement the Keep
 * must have, `keep measure`), KEEP_PKCS11_INSECURE=1 (accept unsigned kvm
 * evidence, or none at all under the nil backend: development only).
 */
#ifndef KEEP_HSM_CLIENT_H
#define KEEP_HSM_CLIENT_H

#include "hsm/cryptoki.h"
#include "hsm/wire.h"
#include "keep/error.h"

struct hsm_client;

int hsm_client_open(struct hsm_client **out, struct keep_error *err);
void hsm_client_close(struct hsm_client *c);

/*
 * Send op with the fields in req (may be NULL) and wait for its reply.
 * Returns the reply's CK_RV (CKR_DEVICE_ERROR when the connection failed or
 * the reply is malformed); *reply (when not NULL) receives the fields after
 * the CK_RV, to be read with the cursor and freed by the caller.
 */
CK_RV hsm_client_call(struct hsm_client *c, uint8_t op, const struct hsm_buf *req,
                      struct hsm_buf *reply);

/* Parse a reply frame's head: header (must answer op/id) and CK_RV. For the fuzzer too. */
int hsm_client_parse_reply(const uint8_t *frame, size_t size, uint8_t op, uint32_t id, CK_RV *rv,
                           const uint8_t **fields, size_t *fields_size, struct keep_error *err);

#endif /* KEEP_HSM_CLIENT_H */
