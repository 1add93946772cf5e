/* SPDX-License-Identifier: Apache-2.0 */
/* keep measure: print the launch measurement `keep run` would give a Keep. */
#include <stdio.h>

#include "cli/commands.h"
#include "common/util.h"
#include "host/config.h"
#include "host/measure.h"
#include "host/run.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: keep measure [options] [--] PROGRAM [ARGS...]\n\n"
            "Print the launch measurement (SHA-384, hex) of the Keep that 'keep run' with\n"
            "the same options and PROGRAM would start. It covers the shim, PROGRAM's bytes\n"
            "and the launch configuration (docs/KEEP.md, \"Launch measurement\"); host\n"
            "directories and the backend are not part of it.\n\noptions:\n%s"
            "  -h, --help                   show this help\n",
            keep_launch_options_help);
}

int cmd_measure(int argc, char **argv)
{
    struct keep_config cfg;
    struct keep_launch_extras extras;
    struct keep_error err = {0};
    struct keep_program prog = {0};
    uint8_t digest[KEEP_MEASUREMENT_SIZE];
    keep_config_init(&cfg);
    int rc = keep_config_parse_args(&cfg, argc, argv, &extras, &err);
    if (rc == KEEP_OK && extras.help) {
        usage(stdout);
        keep_config_free(&cfg);
        return 0;
    }
    if (rc == KEEP_OK)
        rc = keep_program_load(&cfg, &prog, &err);
    if (rc == KEEP_OK)
        rc = keep_run_measure(&cfg, &prog, digest, &err);
    keep_program_free(&prog);
    keep_config_free(&cfg);
    if (rc != KEEP_OK) {
        fprintf(stderr, "keep measure: %s\n", err.message);
        if (keep_run_exit_status(rc) == KEEP_EXIT_USAGE)
            fprintf(stderr, "Try 'keep measure --help'.\n");
        return keep_run_exit_status(rc);
    }
    char hex[2 * KEEP_MEASUREMENT_SIZE + 1];
    keep_hex_encode(digest, sizeof(digest), hex);
    printf("%s\n", hex);
    return 0;
}
