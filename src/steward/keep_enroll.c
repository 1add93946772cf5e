/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep-enroll ADDR PORT CA_PEM [NAME=GUEST_PATH...]: the in-Keep enrolment
 * stage of `keep run --steward` (docs/KEEP.md, "Enrolment"). keep loads it
 * beside the workload and runs it first, inside the same Keep; it enrols with
 * keep-steward (keep_steward_enroll, src/steward/client.c: key generated here,
 * TLS terminated here) and writes key.pem, cert.pem, ca.pem and the secrets
 * into /run/keep, the Keep-private directory the shim keeps in its own memory
 * (src/shim/keepfs.c). On failure it prints one line naming the step and
 * exits 1: the Keep then stops before the workload runs.
 *
 * Its arguments come from the launch options and are measured with them;
 * CA_PEM is the pinned CA (--steward-ca), the only trust anchor it uses.
 */
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keep/steward_client.h"

#define MAX_SECRETS 64

int main(int argc, char **argv)
{
    if (argc < 4 || argc - 4 > MAX_SECRETS) {
        fprintf(stderr, "keep-enroll: usage: keep-enroll ADDR PORT CA_PEM [NAME=PATH...] "
                        "(keep run --steward starts it)\n");
        return 2;
    }
    /* No openssl.cnf: the host serves the files outside /run/keep, and must not configure TLS. */
    if (!OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL)) {
        fprintf(stderr, "keep-enroll: OpenSSL initialisation failed\n");
        return 1;
    }
    static const char *names[MAX_SECRETS], *paths[MAX_SECRETS];
    size_t count = 0;
    for (int i = 4; i < argc; i++, count++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i] || eq[1] != '/') {
            fprintf(stderr, "keep-enroll: secret '%s' is not NAME=/PATH\n", argv[i]);
            return 2;
        }
        *eq = 0;
        names[count] = argv[i];
        paths[count] = eq + 1;
    }
    struct keep_steward_enroll_opts o = {
        .host = argv[1],
        .port = atoi(argv[2]),
        .ca_pem = argv[3],
        .out_dir = "/run/keep",
        .secrets = names,
        .secret_count = count,
        .secret_paths = paths,
    };
    char msg[512];
    if (keep_steward_enroll(&o, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "keep-enroll: enrolment failed: %s\n", msg);
        return 1;
    }
    return 0;
}
