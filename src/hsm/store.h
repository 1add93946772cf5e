/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sealed token store (docs/HSM.md, "Token store"): one file per token
 * in a host volume. The header is clear but every secret in it is sealed:
 * the token master key is wrapped (AES-256-GCM) under a key derived from
 * the SO PIN and, once set, under one derived from the user PIN
 * (PBKDF2-HMAC-SHA256). Each object is its own AES-256-GCM record under the
 * master key with a fresh random nonce, and its additional data binds the
 * file generation, the record's index, the record count and the object
 * handle, so a host that edits, drops, reorders or mixes records from two
 * files is caught. A host replaying a whole older file is caught only by
 * comparing generation with a counter held outside the host
 * (hsm_service_set_counter in hsm/service.h; docs/HSM.md "Rollback").
 *
 * The file is replaced atomically: written to PATH.tmp, fsync, rename over
 * PATH, fsync of the directory; a kill at any point leaves the old or the
 * new file, never a mix.
 */
#ifndef KEEP_HSM_STORE_H
#define KEEP_HSM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keep/error.h"

#define HSM_LABEL_SIZE         32
#define HSM_SALT_SIZE          16
#define HSM_KEY_SIZE           32
#define HSM_NONCE_SIZE         12
#define HSM_TAG_SIZE           16
#define HSM_WRAPPED_SIZE       (HSM_NONCE_SIZE + HSM_KEY_SIZE + HSM_TAG_SIZE)
#define HSM_RECORDS_MAX        4096
#define HSM_STORE_MAX          (64u << 20)
#define HSM_KDF_ITERATIONS_MIN 1000

#define HSM_STORE_INITIALIZED 1u /* C_InitToken was called */
#define HSM_STORE_USER_PIN    2u /* C_InitPIN was called */
/* The slot keys also need the master key secret released by the attestation service
 * (keep-hsm --master-key-secret; docs/HSM.md "Sealing key"). */
#define HSM_STORE_SERVICE_KEY 4u

/* One sealed object record as stored (nonce || ciphertext || tag). */
struct hsm_record {
    uint64_t handle;
    uint8_t *sealed;
    uint32_t sealed_size;
};

/* The parsed file: header fields and the still-sealed records. */
struct hsm_store {
    uint32_t flags;
    uint64_t generation;
    uint8_t label[HSM_LABEL_SIZE];
    uint32_t so_fails, user_fails;
    uint32_t kdf_iterations;
    uint8_t so_salt[HSM_SALT_SIZE], so_wrapped[HSM_WRAPPED_SIZE];
    uint8_t user_salt[HSM_SALT_SIZE], user_wrapped[HSM_WRAPPED_SIZE];
    struct hsm_record *records;
    uint32_t record_count;
};

/* Parse a store file's bytes (format only; nothing is unsealed). */
int hsm_store_parse(const uint8_t *data, size_t size, struct hsm_store *out,
                    struct keep_error *err);
/* Encode st (records already sealed by hsm_store_seal_record) into out (free()). */
int hsm_store_encode(const struct hsm_store *st, uint8_t **out, size_t *out_size,
                     struct keep_error *err);
void hsm_store_free(struct hsm_store *st);

/* Read PATH (ENOENT: *exists false, st zeroed). */
int hsm_store_load(const char *path, struct hsm_store *st, bool *exists, struct keep_error *err);
/* Atomically replace PATH with st. */
int hsm_store_save(const char *path, const struct hsm_store *st, struct keep_error *err);

/* KEK = PBKDF2-HMAC-SHA256(pin, salt, iterations). */
int hsm_store_kek(const uint8_t *pin, size_t pin_size, const uint8_t salt[HSM_SALT_SIZE],
                  uint32_t iterations, uint8_t kek[HSM_KEY_SIZE]);
/* Wrap / unwrap the master key under kek; who ("so"/"user") is bound as AAD. */
int hsm_store_wrap(const uint8_t kek[HSM_KEY_SIZE], const char *who, const uint8_t mk[HSM_KEY_SIZE],
                   uint8_t wrapped[HSM_WRAPPED_SIZE]);
bool hsm_store_unwrap(const uint8_t kek[HSM_KEY_SIZE], const char *who,
                      const uint8_t wrapped[HSM_WRAPPED_SIZE], uint8_t mk[HSM_KEY_SIZE]);

/* Seal / open record index of count in a file of generation. */
int hsm_store_seal_record(const uint8_t mk[HSM_KEY_SIZE], uint64_t generation, uint32_t index,
                          uint32_t count, struct hsm_record *rec, const uint8_t *plain,
                          size_t plain_size);
int hsm_store_open_record(const uint8_t mk[HSM_KEY_SIZE], uint64_t generation, uint32_t index,
                          uint32_t count, const struct hsm_record *rec, uint8_t **plain,
                          size_t *plain_size, struct keep_error *err);

#endif /* KEEP_HSM_STORE_H */
