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

#endif
