/* SPDX-License-Identifier: Apache-2.0 */
/*
 * wl_steward HOST PORT CA_FILE OUT_DIR [WORKLOAD [SECRET...]]: enroll with keep-steward
 * from inside a Keep (keep_steward_enroll), writing key.pem, cert.pem, ca.pem and
 * secrets/SECRET into OUT_DIR (a test volume, so the test can check them). Prints
 * "enrolled" on success, the failing step otherwise.
 */
#include <stdio.h>
#include <stdlib.h>

#include "keep/steward_client.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: wl_steward HOST PORT CA_FILE OUT_DIR [WORKLOAD [SECRET...]]\n");
        return 2;
    }
    struct keep_steward_enroll_opts o = {
        .host = argv[1],
        .port = atoi(argv[2]),
        .ca_file = argv[3],
        .out_dir = argv[4],
        .workload = argc > 5 && argv[5][0] ? argv[5] : NULL,
        .secrets = (const char *const *)(argv + 6),
        .secret_count = argc > 6 ? (size_t)(argc - 6) : 0,
    };
    char msg[512];
    if (keep_steward_enroll(&o, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "wl_steward: %s\n", msg);
        return 1;
    }
    printf("enrolled\n");
    return 0;
}
