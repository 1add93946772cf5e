/* SPDX-License-Identifier: Apache-2.0 */
/* keep: run programs in Keeps and verify attestation evidence. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"run", cmd_run, "run a static x86-64 Linux program inside a Keep"},
    {"platform", cmd_platform, "show which Keep backends this machine can run"},
    {"measure", cmd_measure, "print the launch measurement of a Keep"},
    {"attest", cmd_attest, "verify or show attestation evidence (attest verify|show)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: keep <command> [options]\n\ncommands:\n");
    for (const struct command *c = commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\n'keep <command> --help' describes each command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return KEEP_EXIT_USAGE;
    }
    if (cli_asks_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("keep %s\n", KEEP_VERSION);
        return 0;
    }
    for (const struct command *c = commands; c->name; c++) {
        if (strcmp(argv[1], c->name) == 0)
            return c->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "keep: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return KEEP_EXIT_USAGE;
}
