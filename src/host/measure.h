/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launch measurement of a Keep: SHA-384 over the shim image, the
 * workload's ELF file and the launch configuration, in the length-prefixed
 * encoding documented in docs/KEEP.md, "Launch measurement". Equal inputs
 * give equal measurements on any machine; the value is what attestation
 * evidence carries and what `keep measure` prints.
 */
#ifndef KEEP_HOST_MEASURE_H
#define KEEP_HOST_MEASURE_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/config.h"
#include "keep/error.h"

#define KEEP_MEASUREMENT_SIZE 48

/* The domain separator that starts the encoding (no terminating NUL is hashed). */
#define KEEP_MEASUREMENT_DOMAIN "keep launch measurement v1"

/*
 * Measure a launch. shim/program are the exact bytes that will be loaded
 * (shim_size may be 0 when this keep is built without a shim).
 */
KEEP_WARN_UNUSED int keep_measure_launch(const struct keep_config *cfg, const uint8_t *shim,
                                         size_t shim_size, const uint8_t *program,
                                         size_t program_size, uint8_t out[KEEP_MEASUREMENT_SIZE],
                                         struct keep_error *err);

/*
 * A measurement computed on a second thread. keep run starts it as soon as
 * the program is read and creates the VM meanwhile: hashing the ~760 KB
 * hello-world and the shim takes about 1.3 ms here, about as long as
 * opening /dev/kvm, building guest memory and creating the VM and vCPU
 * (docs/PERFORMANCE.md, "Start-up of keep run"). Whoever needs the value calls
 * keep_measure_job_wait() first; it joins the thread once.
 *
 * The inputs are only read, by both threads, and must stay unchanged until
 * the wait returns. The thread starts with every signal blocked, so SIGINT
 * and SIGTERM still reach the thread that runs the vCPU.
 */
struct keep_measure_job {
    const struct keep_config *cfg;
    const uint8_t *shim, *program;
    size_t shim_size, program_size;
    pthread_t thread;
    bool running; /* a thread was started and not yet joined */
    bool placed;  /* the thread started away from this CPU; allowed holds its real mask */
    cpu_set_t allowed;
    int rc;
    struct keep_error err;
    uint8_t digest[KEEP_MEASUREMENT_SIZE];
};

/* Start measuring; if no thread can be started, measure here and now. */
void keep_measure_job_start(struct keep_measure_job *job, const struct keep_config *cfg,
                            const uint8_t *shim, size_t shim_size, const uint8_t *program,
                            size_t program_size);

/* Wait for the result (at once after the first call) and copy it to out. */
KEEP_WARN_UNUSED int keep_measure_job_wait(struct keep_measure_job *job,
                                           uint8_t out[KEEP_MEASUREMENT_SIZE],
                                           struct keep_error *err);

#endif /* KEEP_HOST_MEASURE_H */
