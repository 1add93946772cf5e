/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Keep side of keep-steward (docs/STEWARD.md): a program inside a Keep
 * calls keep_steward_enroll() to generate a P-256 key pair, get a nonce,
 * bind nonce and key into its evidence (keep_get_evidence), obtain a
 * certificate, then fetch its secrets over mutual TLS with that certificate,
 * and write key.pem, cert.pem, ca.pem and secrets/NAME into a directory.
 * TLS is terminated inside the Keep: the host relays only ciphertext.
 *
 * Link: src/steward/client.c with libssl, libcrypto and jansson (statically,
 * for a Keep workload; tests/workloads/meson.build shows how).
 */
#ifndef KEEP_STEWARD_CLIENT_H
#define KEEP_STEWARD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct keep_steward_enroll_opts {
    const char *host; /* IPv4 address of the service, e.g. "127.0.0.1" */
    int port;
    const char *ca_file;        /* PEM file of the service's CA: the trust anchor (or ca_pem) */
    const char *ca_pem;         /* the same PEM in memory; when set, ca_file is not read */
    const char *workload;       /* policy name; NULL: the service finds the accepting one */
    const char *out_dir;        /* where key.pem, cert.pem, ca.pem, secrets/ go */
    const char *const *secrets; /* names to fetch into out_dir/secrets/NAME */
    size_t secret_count;
    /* NULL, or per secret the absolute path to write it to instead of out_dir/secrets/NAME
     * (its directory is made if missing) */
    const char *const *secret_paths;
};

/* 0 on success; otherwise -1 with a message naming the step in msg. */
int keep_steward_enroll(const struct keep_steward_enroll_opts *opts, char *msg, size_t msg_size);

/*
 * After enrolment: a session with the service over mutual TLS, from the files enrolment wrote
 * (cert.pem, key.pem, ca.pem in out_dir). Plain data: nothing to open or close.
 */
struct keep_steward_session {
    const char *host; /* IPv4 address of the service */
    int port;
    const char *ca_file;   /* PEM of the service's CA */
    const char *cert_file; /* the issued certificate (cert.pem: leaf first) */
    const char *key_file;  /* its private key (key.pem) */
};

/*
 * Monotonic counters (GET/POST /v1/counters/NAME): one namespace per workload identity (the TEE
 * and measurement in the certificate), so a workload reads and moves only its own. A counter is
 * durable on the service before it answers.
 *
 * keep_steward_counter_get: *value = the counter (0 if never set). 0 on success, -1 with msg.
 * keep_steward_counter: compare-and-swap; set must be greater than expect and at most 2^63-1.
 *   0: the counter held expect and now holds set (*value = set);
 *   1: it held another value, now in *value, and nothing changed (a rollback or a race);
 *  -1: failure (msg names the step and the service's problem code), *value untouched.
 */
int keep_steward_counter_get(const struct keep_steward_session *session, const char *name,
                             uint64_t *value, char *msg, size_t msg_size);
int keep_steward_counter(const struct keep_steward_session *session, const char *name,
                         uint64_t expect, uint64_t set, uint64_t *value, char *msg,
                         size_t msg_size);

#endif
