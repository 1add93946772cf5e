/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Intel signed document: what TCB Info and QE Identity share. Intel PCS
 * serves each as {"<member>": {...}, "signature": "<hex r||s>"} with an
 * issuer chain beside it ([PCS] "TCB Info", "Enclave Identity"); the
 * signature covers the exact text of the member's value. One
 * struct keep_intel_doc holds the parsed body, those exact bytes, the
 * signature and the chain, and keep_intel_doc_verify checks chain and
 * signature once for both. tcb.c and qe_identity.c build on this file;
 * collateral.c builds on them (no cycle).
 */
#ifndef KEEP_ATTEST_INTEL_DOC_H
#define KEEP_ATTEST_INTEL_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "keep/error.h"

struct keep_intel_doc {
    const char *member; /* "tcbInfo" or "enclaveIdentity": names it in messages */
    json_t *json;       /* the parsed member value; owns its strings */
    char *signed_text;  /* the exact signed bytes (a copy) */
    size_t signed_size;
    bool has_signature;            /* false: no signature given (verify then fails) */
    uint8_t signature[64];         /* ECDSA P-256 r||s */
    STACK_OF(X509) * issuer_chain; /* TCB Signing cert first; NULL when not given */
};

/*
 * Fill doc from body[0..body_size), the exact text of the member's value:
 * strict JSON parse, a copy of the signed bytes, and signature_hex (NULL
 * when absent; signature_what names it in errors, "tcb_info_signature").
 * On failure doc holds what was filled: keep_intel_doc_clear() it.
 */
KEEP_WARN_UNUSED int keep_intel_doc_parse_body(struct keep_intel_doc *doc, const char *member,
                                               const char *signature_what, const char *body,
                                               size_t body_size, const char *signature_hex,
                                               struct keep_error *err);
/* Parse an issuer chain bundle (PEM or DER) named what, replacing the old one. */
KEEP_WARN_UNUSED int keep_intel_doc_set_issuer_chain(struct keep_intel_doc *doc, const char *what,
                                                     const uint8_t *data, size_t size,
                                                     struct keep_error *err);
/* Chain to roots at time (root CA CRL applied when given) and the signature. */
KEEP_WARN_UNUSED int keep_intel_doc_verify(const struct keep_intel_doc *doc, STACK_OF(X509) * roots,
                                           X509_CRL *root_ca_crl, int64_t time,
                                           struct keep_error *err);
void keep_intel_doc_clear(struct keep_intel_doc *doc);

/* ---- JSON and signature helpers (TCB Info, QE Identity, collateral.json) ---- */

/* "an object", "a string", ...: the JSON type of v for messages. */
const char *keep_coll_type_name(const json_t *v);

/* Size limit for any one collateral document (Intel's are a few KiB). */
#define KEEP_COLLATERAL_MAX_SIZE (1u << 20)

/*
 * Locate the exact text of the top-level member `key` of the JSON object
 * in text[0..size): *off and *len give the byte range of its value, which
 * must be an object. `root` is jansson's parse of the same text; the cut
 * text is parsed again and must equal root[key] (see collateral.c for why
 * this is enough).
 */
KEEP_WARN_UNUSED int keep_json_member_text(const char *text, size_t size, json_t *root,
                                           const char *key, size_t *off, size_t *len,
                                           struct keep_error *err);

/* Parse JSON text strictly: no duplicate keys, the whole input is one value. */
KEEP_WARN_UNUSED int keep_coll_json_load(const char *text, size_t size, const char *what,
                                         json_t **out, struct keep_error *err);

/* Typed member readers. path names the object ("tcbInfo.tcbLevels[3].tcb"). */
KEEP_WARN_UNUSED int keep_coll_member(json_t *obj, const char *path, const char *key,
                                      json_type type, json_t **out, struct keep_error *err);
KEEP_WARN_UNUSED int keep_coll_uint(json_t *obj, const char *path, const char *key, uint64_t max,
                                    uint64_t *out, struct keep_error *err);
KEEP_WARN_UNUSED int keep_coll_string(json_t *obj, const char *path, const char *key,
                                      const char **out, struct keep_error *err);
KEEP_WARN_UNUSED int keep_coll_hex(json_t *obj, const char *path, const char *key, uint8_t *out,
                                   size_t size, struct keep_error *err);
KEEP_WARN_UNUSED int keep_coll_time(json_t *obj, const char *path, const char *key, int64_t *out,
                                    struct keep_error *err);
/* advisoryIDs: optional array of strings. *ids is malloc'd (NULL when none). */
KEEP_WARN_UNUSED int keep_coll_advisories(json_t *obj, const char *path, const char ***ids,
                                          size_t *count, struct keep_error *err);
/*
 * The parts every tcbLevels[] entry shares ([PCS] TCB Info, QE Identity,
 * tdxModuleIdentities): obj.tcbLevels is a non-empty array; an entry is an
 * object with an object "tcb" (*tcb, its path written to tpath), a tcbDate,
 * a tcbStatus and optional advisoryIDs.
 */
KEEP_WARN_UNUSED int keep_coll_levels_array(json_t *obj, const char *path, json_t **arr,
                                            struct keep_error *err);
KEEP_WARN_UNUSED int keep_coll_level_tcb(json_t *lv, const char *path, json_t **tcb, char *tpath,
                                         size_t tpath_size, struct keep_error *err);
/* Hex r||s into 64 bytes. */
KEEP_WARN_UNUSED int keep_coll_signature(const char *hex, const char *what, uint8_t out[64],
                                         struct keep_error *err);

/*
 * The checks TCB Info and QE Identity share: chain (first cert signs) to
 * roots at time, root CA CRL applied when given, ECDSA P-256 signature
 * (r||s) over the exact bytes. `what` names the item ("tcbInfo").
 */
KEEP_WARN_UNUSED int keep_coll_verify_signed(const char *what, const char *signed_text,
                                             size_t signed_size, bool has_signature,
                                             const uint8_t signature[64], STACK_OF(X509) * chain,
                                             STACK_OF(X509) * roots, X509_CRL *root_ca_crl,
                                             int64_t time, struct keep_error *err);
/*
 * The Intel PCS file form {"<member>": {...}, "signature": "<hex r||s>"}
 * (file names the document: "tcb_info.json"): *root is the parse of text
 * (NULL or a reference the caller decrefs, also on failure),
 * text[*off, *off + *len) the exact text of member's value, *signature_hex
 * the signature string (owned by *root).
 */
KEEP_WARN_UNUSED int keep_coll_split_file(const char *text, size_t size, const char *file,
                                          const char *member, json_t **root, size_t *off,
                                          size_t *len, const char **signature_hex,
                                          struct keep_error *err);
/* A malloc'd copy of the signed bytes body[0..body_size) in *text, *size. */
KEEP_WARN_UNUSED int keep_coll_copy_signed_text(const char *what, const char *body,
                                                size_t body_size, char **text, size_t *size,
                                                struct keep_error *err);
/* Parse an issuer chain bundle (PEM or DER) named what and put it in *chain, freeing the old. */
KEEP_WARN_UNUSED int keep_coll_replace_chain(STACK_OF(X509) * *chain, const char *what,
                                             const uint8_t *data, size_t size,
                                             struct keep_error *err);
/* issueDate <= time <= nextUpdate, naming the item and the dates. */
KEEP_WARN_UNUSED int keep_coll_check_dates(const char *what, int64_t issue_date,
                                           int64_t next_update, int64_t time,
                                           struct keep_error *err);

#endif /* KEEP_ATTEST_INTEL_DOC_H */
