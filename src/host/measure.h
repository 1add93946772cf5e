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
int keep_measure_launch(const struct keep_config *cfg, const uint8_t *shim, size_t shim_size,
                        const uint8_t *program, size_t program_size,
                        uint8_t out[KEEP_MEASUREMENT_SIZE], struct keep_error *err);

#endif /* KEEP_HOST_MEASURE_H */
