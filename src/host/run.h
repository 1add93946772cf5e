/* SPDX-License-Identifier: Apache-2.0 */
/*
 * keep_run(): run a launch configuration in a Keep, whichever the backend.
 *
 * It reads PROGRAM, checks it is a static x86-64 executable that fits in
 * --memory (before any backend starts, so bad input gets one precise line),
 * computes the launch measurement, picks the backend and runs the Keep to
 * its end. SIGINT and SIGTERM stop the Keep cleanly: backends poll
 * keep_run_stop_requested() and return 128 + the signal.
 */
#ifndef KEEP_HOST_RUN_H
#define KEEP_HOST_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/config.h"
#include "host/elf.h"
#include "host/measure.h"
#include "keep/error.h"

/* Upper bound on PROGRAM's file size, whatever --memory says. */
#define KEEP_MAX_PROGRAM_SIZE (1ull << 30)

/* PROGRAM's bytes, checked and ready to measure and load. */
struct keep_program {
    uint8_t *data;
    size_t size;
    struct keep_elf elf; /* parsed and checked; points into data */
};

/*
 * Read cfg->program and check it with keep_elf_parse(): a static or
 * static-pie x86-64 ELF64 executable whose segments span less than
 * cfg->memory_size. Fails with run.program_missing or an elf.* code, the
 * message starting with the program's path.
 */
KEEP_WARN_UNUSED int keep_program_load(const struct keep_config *cfg, struct keep_program *prog,
                                       struct keep_error *err);
void keep_program_free(struct keep_program *prog);

/* Launch measurement of cfg with prog, as keep run would compute it. */
KEEP_WARN_UNUSED int keep_run_measure(const struct keep_config *cfg,
                                      const struct keep_program *prog,
                                      uint8_t out[KEEP_MEASUREMENT_SIZE], struct keep_error *err);

/*
 * Run the Keep. On KEEP_OK, *exit_status is the workload's exit status
 * (0..255; 128+N when it died of fault or signal N). On failure nothing ran
 * (or the backend failed) and err says why.
 */
KEEP_WARN_UNUSED int keep_run(const struct keep_config *cfg, int *exit_status,
                              struct keep_error *err);

/*
 * keep's own failures use the statuses env(1) and container runtimes use,
 * so they stay apart from the workload's statuses.
 */
#define KEEP_RUN_EXIT_USAGE      64  /* bad command line (EX_USAGE) */
#define KEEP_RUN_EXIT_FAILED     125 /* keep itself or the backend failed */
#define KEEP_RUN_EXIT_CANNOT_RUN 126 /* PROGRAM is not a static x86-64 executable that fits */
#define KEEP_RUN_EXIT_NOT_FOUND  127 /* PROGRAM does not exist or cannot be read */

/* The exit status for a keep_run()/parse failure with this code. */
int keep_run_exit_status(int code);

/* True once SIGINT or SIGTERM arrived during keep_run(); the signal number. */
bool keep_run_stop_requested(void);
int keep_run_stop_signal(void);

#endif /* KEEP_HOST_RUN_H */
