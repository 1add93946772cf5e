/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Subcommands of the keep CLI. Each returns the process exit status.
 * Exit status 64 (EX_USAGE) means the command line was wrong.
 */
#ifndef KEEP_CLI_COMMANDS_H
#define KEEP_CLI_COMMANDS_H

#include <stdbool.h>
#include <string.h>

#define KEEP_EXIT_USAGE 64

/* "--help", "-h" or "help" in the place of a command: a request for its usage. */
static inline bool cli_asks_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 || strcmp(arg, "help") == 0;
}

int cmd_attest(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_platform(int argc, char **argv);
int cmd_measure(int argc, char **argv);

#endif
