/* SPDX-License-Identifier: Apache-2.0 */
/* keep run: run a static x86-64 Linux program inside a Keep. */
#include <stdio.h>

#include "cli/commands.h"
#include "host/config.h"
#include "host/run.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: keep run [options] [--] PROGRAM [ARGS...]\n\n"
            "Run PROGRAM, a static x86-64 Linux executable, inside a Keep. Its stdin, stdout\n"
            "and stderr are the Keep's; keep exits with its exit status (128+N when it died\n"
            "of fault or signal N). Ctrl-C stops the Keep.\n\noptions:\n%s"
            "  -h, --help                   show this help\n",
            keep_launch_options_help);
}

int cmd_run(int argc, char **argv)
{
    struct keep_config cfg;
    struct keep_launch_extras extras;
    struct keep_error err = {0};
    keep_config_init(&cfg);
    int rc = keep_config_parse_args(&cfg, argc, argv, &extras, &err);
    if (rc == KEEP_OK && extras.help) {
        usage(stdout);
        keep_config_free(&cfg);
        return 0;
    }
    int status = 0;
    if (rc == KEEP_OK) {
        keep_log_set_level(extras.log_level);
        rc = keep_run(&cfg, &status, &err);
    }
    keep_config_free(&cfg);
    if (rc != KEEP_OK) {
        fprintf(stderr, "keep run: %s\n", err.message);
        if (keep_run_exit_status(rc) == KEEP_EXIT_USAGE)
            fprintf(stderr, "Try 'keep run --help'.\n");
        return keep_run_exit_status(rc);
    }
    return status;
}
